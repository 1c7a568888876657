"""DESIGN.md's public names, read from DESIGN.md itself, against the code: metric names and label values,
env vars, topics, record headers, the Redis key and the HTTP statuses. A name changed on one side fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry

from consumers.idempotency import idempotency_key
from consumers.metrics import ConsumerMetrics, Outcome
from consumers.settings import Settings
from receiver import errors
from receiver.metrics import OUTCOMES, REASONS, ReceiverMetrics
from receiver.settings import ReceiverSettings
from receiver.sources import SECRET_ENV_PREFIX
from schemas import topics

E = TypeVar("E", bound=errors.RequestError)
DESIGN_PATH = Path(__file__).resolve().parents[3] / "shared" / "DESIGN.md"


@pytest.fixture(scope="module")
def design() -> str:
    if not DESIGN_PATH.is_file():
        pytest.fail(f"the contract is missing: expected {DESIGN_PATH}")
    return DESIGN_PATH.read_text()


def section(text: str, heading: str) -> str:
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def subclasses(root: type[E]) -> list[type[E]]:
    found: list[type[E]] = []
    for cls in root.__subclasses__():
        found += [cls, *subclasses(cls)]
    return found


def test_every_metric_of_the_contract_is_exported(design: str) -> None:
    registry = CollectorRegistry()
    ReceiverMetrics(registry)
    ConsumerMetrics(registry)
    exported = {metric.name for metric in registry.collect()}
    named = set(re.findall(r"`(webhooks_[a-z_]+)", section(design, "Metrics")))
    assert named  # the section still names metrics
    assert sorted(name for name in named if name.removesuffix("_total") not in exported) == []


def test_outcome_and_reason_label_values_are_the_contracts(design: str) -> None:
    metrics = section(design, "Metrics")
    received, processed = re.findall(r"\(outcome: ([a-z_,\s]+)\)", metrics)
    assert set(OUTCOMES) == {value.strip() for value in received.split(",")}
    assert {outcome.value for outcome in Outcome} == {value.strip() for value in processed.split(",")}
    request_errors = subclasses(errors.RequestError)
    assert {cls.outcome for cls in request_errors} <= set(OUTCOMES)
    signature_errors: list[type[errors.SignatureError]] = [errors.SignatureError, *subclasses(errors.SignatureError)]
    assert {cls.reason for cls in signature_errors} == set(REASONS)


def test_every_env_var_of_the_contract_is_read(design: str) -> None:
    aliases = {
        str(field.validation_alias) for model in (ReceiverSettings, Settings) for field in model.model_fields.values()
    }
    named = set(re.findall(r"`((?:KAFKA|REDIS|WEBHOOK|CONSUMER|RECEIVER)_[A-Z0-9_]+)", design))
    assert named
    assert sorted(name for name in named if name not in aliases and not name.startswith(SECRET_ENV_PREFIX)) == []
    assert f"`{SECRET_ENV_PREFIX}<SOURCE>`" in design


def test_topics_headers_and_redis_key_are_the_contracts(design: str) -> None:
    kafka = section(design, "Kafka")
    assert topics.event_topic("github") == "webhooks.github"
    assert "`webhooks.<provider>`" in kafka
    assert topics.retry_topic("stripe", "agents") == "webhooks.stripe.agents.retry"
    assert topics.dlq_topic("stripe", "agents") == "webhooks.stripe.agents.dlq"
    assert "`webhooks.<provider>.<group>.retry`" in kafka
    assert "`webhooks.<provider>.<group>.dlq`" in kafka
    for name in (topics.HEADER_ID, topics.HEADER_PROVIDER, topics.HEADER_SOURCE, topics.HEADER_TYPE):
        assert f"`{name}`" in kafka
    assert idempotency_key("g", "p", "e") == "webhooks:idem:g:p:e"
    assert "`webhooks:idem:<group>:<provider>:<event id>`" in design


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.UnknownSource, 404, "unknown_source"),
        (errors.SignatureError, 401, "invalid_signature"),
        (errors.StaleTimestamp, 401, "stale_timestamp"),
        (errors.BodyTooLarge, 413, "too_large"),
        (errors.UnsupportedMediaType, 415, None),
        (errors.BadRequest, 400, None),
        (errors.Unavailable, 503, "unavailable"),
    ],
)
def test_http_statuses_are_the_contracts(
    design: str, error: type[errors.RequestError], status: int, code: str | None
) -> None:
    api = section(design, "HTTP API of the receiver")
    assert error.status_code == status
    assert str(status) in api
    if code is not None:
        assert error.code == code
        assert f'"{code}"' in api
