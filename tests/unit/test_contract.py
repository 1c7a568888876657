"""The public names of docs/contract.md, read from the page itself, against the code: metric names and label
values, env vars, topics, record headers, the Redis key and the HTTP statuses. A name changed on one side fails
here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from consumers.forward.answers import answer_error
from consumers.forward.settings import ForwardSettings
from consumers.idempotency import DONE_PREFIX, HANDLED_PREFIX, claim_key, handled_key
from consumers.metrics import ConsumerMetrics, Outcome
from consumers.settings import Settings
from primitives.standardwebhooks import signed_headers
from receiver import errors
from receiver.metrics import OUTCOMES, REASONS, ReceiverMetrics
from receiver.settings import ReceiverSettings
from receiver.sources import PUBLIC_URL_ENV_PREFIX, SECRET_ENV_PREFIX
from schemas import topics
from tests.repository import ROOT

E = TypeVar("E", bound=errors.RequestError)
CONTRACT_PATH = ROOT / "docs" / "contract.md"


@pytest.fixture(scope="module")
def contract() -> str:
    return CONTRACT_PATH.read_text()


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def subclasses(root: type[E]) -> list[type[E]]:
    found: list[type[E]] = []
    for cls in root.__subclasses__():
        found += [cls, *subclasses(cls)]
    return found


def test_the_metrics_of_the_contract_are_the_exported_ones(contract: str) -> None:
    registry = CollectorRegistry()
    ReceiverMetrics(registry)
    ConsumerMetrics(registry)
    # prometheus_client names a counter family without its `_total`.
    exported = {metric.name + ("_total" if metric.type == "counter" else "") for metric in registry.collect()}
    named = set(re.findall(r"`(webhooks_[a-z_]+)", section(contract, "Metrics")))
    assert sorted(named - exported) == []
    assert sorted(exported - named) == []


def test_the_labels_of_the_contracts_consumer_metrics_are_the_exported_ones(contract: str) -> None:
    metrics = ConsumerMetrics(CollectorRegistry())
    exported = {
        metric._name + ("_total" if metric._type == "counter" else ""): sorted(metric._labelnames)
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
    }
    consumers = section(contract, "Metrics").split("Consumers:", 1)[1]
    named = {
        name: sorted(labels.split(",")) for name, labels in re.findall(r"`(webhooks_[a-z_]+)\{([a-z_,]+)\}`", consumers)
    }
    assert named == exported


def test_outcome_and_reason_label_values_are_the_contracts(contract: str) -> None:
    metrics = section(contract, "Metrics")
    received, processed = re.findall(r"\(outcome: ([a-z_,\s]+)\)", metrics)
    assert set(OUTCOMES) == {value.strip() for value in received.split(",")}
    assert {outcome.value for outcome in Outcome} == {value.strip() for value in processed.split(",")}
    [reasons] = re.findall(r"\(reason: ([a-z_,\s]+)\)", metrics)
    assert set(REASONS) == {value.strip() for value in reasons.split(",")}
    request_errors = subclasses(errors.RequestError)
    assert {cls.outcome for cls in request_errors} <= set(OUTCOMES)
    signature_errors: list[type[errors.SignatureError]] = [errors.SignatureError, *subclasses(errors.SignatureError)]
    assert {cls.reason for cls in signature_errors} == set(REASONS)


def test_every_env_var_of_the_contract_is_read(contract: str) -> None:
    models = (ReceiverSettings, Settings, ForwardSettings)
    aliases = {str(field.validation_alias) for model in models for field in model.model_fields.values()}
    named = set(re.findall(r"`((?:KAFKA|REDIS|WEBHOOK|CONSUMER|RECEIVER|FORWARD)_[A-Z0-9_]+)", contract))
    assert named
    prefixes = (SECRET_ENV_PREFIX, PUBLIC_URL_ENV_PREFIX)
    assert sorted(name for name in named if name not in aliases and not name.startswith(prefixes)) == []
    for prefix in prefixes:
        assert f"`{prefix}<SOURCE>`" in contract


def test_the_forwarded_request_is_the_contracts(contract: str) -> None:
    forwarding = section(contract, "Forwarding to agents (`consumers.forward`)")
    headers = signed_headers([b"k" * 24], "evt_1", 1_700_000_000, b"{}")
    assert sorted(name for name in headers if f"`{name}`" not in forwarding) == []
    assert headers["webhook-signature"].startswith("v1,")
    aliases = {str(field.validation_alias) for field in ForwardSettings.model_fields.values()}
    assert sorted(alias for alias in aliases if alias not in forwarding) == []
    assert str(answer_error(400, None, now=datetime.now(UTC))) == "agent service answered 400 Bad Request"
    assert "`agent service answered <status> <phrase>`" in forwarding


def test_topics_headers_and_redis_key_are_the_contracts(contract: str) -> None:
    kafka = section(contract, "Kafka")
    assert topics.event_topic("github") == "webhooks.github"
    assert "`webhooks.<provider>`" in kafka
    assert topics.retry_topic("stripe", "agents") == "webhooks.stripe.agents.retry"
    assert topics.dlq_topic("stripe", "agents") == "webhooks.stripe.agents.dlq"
    assert "`webhooks.<provider>.<group>.retry`" in kafka
    assert "`webhooks.<provider>.<group>.dlq`" in kafka
    headers = {value for name, value in vars(topics).items() if name.startswith("HEADER_")}
    assert len(headers) >= 12
    assert sorted(name for name in headers if f"`{name}`" not in kafka) == []
    assert claim_key("g", "p", "e") == "webhooks:idem:{g:p:11}:e"
    assert "`webhooks:idem:{<group>:<provider>:<shard>}:<event id>`" in contract
    assert f"`{DONE_PREFIX}{{<group>:<provider>:<shard>}}:<bucket>`" in contract
    assert handled_key(claim_key("g", "p", "e")) == "webhooks:handled:{g:p:11}:e"
    assert f"`{HANDLED_PREFIX}{{<group>:<provider>:<shard>}}:<event id>`" in contract
    # The layout before, honoured until its marks expire.
    assert "`webhooks:idem:<group>:<provider>:<event id>`" in contract


def test_every_refusal_is_a_row_of_the_status_table(contract: str) -> None:
    api = section(contract, "HTTP API of the receiver")
    rows = {(int(status), code) for status, code in re.findall(r"\| (\d{3})[^|]*\| `\{\"error\":\"([a-z_]+)\"\}`", api)}
    request_errors: list[type[errors.RequestError]] = [errors.RequestError, *subclasses(errors.RequestError)]
    refusals = {(cls.status_code, cls.code) for cls in request_errors}
    assert sorted(refusals - rows) == []


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.UnknownSource, 404, "unknown_source"),
        (errors.SignatureError, 401, "invalid_signature"),
        (errors.StaleTimestamp, 401, "stale_timestamp"),
        (errors.BodyTooLarge, 413, "too_large"),
        (errors.HeadersTooLarge, 431, "headers_too_large"),
        (errors.BodyTimeout, 408, "timeout"),
        (errors.UnsupportedMediaType, 415, "unsupported_media_type"),
        (errors.BadRequest, 400, "bad_request"),
        (errors.Unavailable, 503, "unavailable"),
    ],
)
def test_http_statuses_are_the_contracts(
    contract: str, error: type[errors.RequestError], status: int, code: str
) -> None:
    api = section(contract, "HTTP API of the receiver")
    assert error.status_code == status
    assert error.code == code
    assert f"| {status}" in api
    assert f'`{{"error":"{code}"}}`' in api
