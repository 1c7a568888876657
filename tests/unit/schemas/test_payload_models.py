"""Every real sample in tests/samples validates with its provider's payload model; unknown types too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from receiver.verify.providers import BUILT_IN_PROVIDERS
from schemas.github import GitHubEvent
from schemas.paddle import PaddleNotification
from schemas.payloads import PAYLOAD_MODELS, payload_model
from schemas.stripe import StripeEvent
from tests.repository import SAMPLES

GITHUB_BODIES = sorted((SAMPLES / "github").glob("*/*.json"))
PADDLE_ENTITIES = sorted((SAMPLES / "paddle").glob("*.json"))
STRIPE_RESOURCES: dict[str, Any] = orjson.loads((SAMPLES / "stripe" / "fixtures3.json").read_bytes())["resources"]


def test_the_samples_are_all_there() -> None:
    # tests/samples/README.md: 273 GitHub bodies, 176 Stripe resource kinds, 56 Paddle entities.
    assert (len(GITHUB_BODIES), len(STRIPE_RESOURCES), len(PADDLE_ENTITIES)) == (273, 176, 56)


@pytest.mark.parametrize("path", GITHUB_BODIES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_github_sample_validates(path: Path) -> None:
    GitHubEvent.model_validate_json(path.read_bytes())


@pytest.mark.parametrize("kind", sorted(STRIPE_RESOURCES))
def test_every_stripe_resource_validates_as_the_object_of_an_event(kind: str) -> None:
    event = copy.deepcopy(STRIPE_RESOURCES["event"])
    event["data"]["object"] = STRIPE_RESOURCES[kind]
    event["type"] = f"{kind}.updated"
    parsed = StripeEvent.model_validate(event)
    assert parsed.data.object == STRIPE_RESOURCES[kind]


@pytest.mark.parametrize("path", PADDLE_ENTITIES, ids=lambda path: path.stem)
def test_every_paddle_entity_validates_inside_its_notification(path: Path) -> None:
    body = {
        "event_id": "evt_01hv8x2acma2gz2y3ynd0tm2yx",
        "event_type": path.stem,
        "occurred_at": "2026-11-26T17:00:00.123456Z",
        "notification_id": "ntf_01hv8x2af7g0v9zhf4d5p8qd8m",
        "data": orjson.loads(path.read_bytes()),
    }
    assert PaddleNotification.model_validate(body).event_type == path.stem


@pytest.mark.parametrize(
    ("provider", "payload"),
    [
        ("stripe", {"id": "evt_1", "object": "event", "type": "brand_new.thing", "created": 1, "livemode": False,
                    "data": {"object": {"object": "brand_new", "new_field": [1, 2]}}}),
        ("paddle", {"event_id": "evt_1", "event_type": "future.event", "occurred_at": "2026-11-26T17:00:00Z",
                    "data": {"anything": True}}),
        ("slack", {"type": "event_callback", "event_id": "Ev1", "event": {"type": "new_event_type", "x": 1}}),
        ("standardwebhooks", {"type": "whatever.happened", "data": {"n": 1}, "extra": "kept"}),
        ("hubspot", [{"eventId": 1, "subscriptionType": "object.newThing", "newField": "x"}]),
        ("sendgrid", [{"event": "new_event", "sg_event_id": "sg-1", "new": 1}]),
        ("pagerduty", {"event": {"id": "1", "event_type": "service.new_type", "data": {}}}),
        ("twitch", {"subscription": {"type": "channel.brand_new", "version": "beta"}, "event": {}}),
    ],
)  # fmt: skip
def test_an_event_type_the_models_dont_know_is_still_accepted(provider: str, payload: Any) -> None:
    model = payload_model(provider)
    assert model is not None
    model.model_validate(payload)


def test_every_built_in_provider_has_a_model() -> None:
    assert set(PAYLOAD_MODELS) == set(BUILT_IN_PROVIDERS)
