"""The run-time registry's pure parts: sealed secrets, definitions, the per-source rate, and the route serving
sources put in and taken out while it runs (through the real ASGI app, with a recording publisher)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from receiver.app import Receiver, create_app
from receiver.errors import ConfigError, SealError
from receiver.registry.definition import SealedSecret, SourceDefinition, build_source
from receiver.registry.keyring import Keyring, key_id, load_keyring, parse_keys
from receiver.settings import ReceiverSettings
from schemas import Envelope
from schemas.envelope import encode_envelope
from tests.fakes import RecordingPublisher
from tests.signing import hmac_headers

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY, NEW_KEY = os.urandom(32), os.urandom(32)
SECRET = b"tenant-secret-value"


def definition(keyring: Keyring, **changes: object) -> SourceDefinition:
    fields: dict[str, object] = {
        "id": "src_a",
        "tenant": "acme",
        "provider": "hmac",
        "secrets": [SealedSecret(sealed=keyring.seal(SECRET, "src_a"))],
        "created_at": NOW,
        "updated_at": NOW,
    }
    return SourceDefinition.model_validate({**fields, **changes})


# ------------------------------------------------------------------------------------------------ keyring


def test_a_sealed_secret_opens_only_for_its_source_and_unaltered() -> None:
    keyring = Keyring([KEY])
    sealed = keyring.seal(SECRET, "src_a")
    assert SECRET not in sealed.encode()
    assert base64.b64encode(SECRET).decode() not in sealed
    assert sealed.startswith(f"v1.{key_id(KEY)}.")
    assert keyring.open(sealed, "src_a") == SECRET
    assert keyring.seal(SECRET, "src_a") != sealed  # a fresh nonce each time
    with pytest.raises(SealError):
        keyring.open(sealed, "src_b")  # copied onto another source
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(SealError):
        keyring.open(flipped, "src_a")
    with pytest.raises(SealError, match=key_id(KEY)):
        Keyring([NEW_KEY]).open(sealed, "src_a")
    for garbage in ("", "v1", "v2.x.y", f"v1.{key_id(KEY)}.!!!", f"v1.{key_id(KEY)}.AAAA"):
        with pytest.raises(SealError):
            keyring.open(garbage, "src_a")


def test_after_a_master_key_rotation_old_secrets_open_and_new_ones_use_the_new_key() -> None:
    old = Keyring([KEY]).seal(SECRET, "src_a")
    rotated = Keyring([NEW_KEY, KEY])
    assert rotated.open(old, "src_a") == SECRET
    assert not rotated.sealed_with_current(old)
    new = rotated.seal(SECRET, "src_a")
    assert rotated.sealed_with_current(new)
    assert Keyring([NEW_KEY]).open(new, "src_a") == SECRET


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "holds no key"),
        ("not base64 at all!", "key 0 is not base64"),
        (base64.b64encode(b"short").decode(), "key 0 is 5 bytes, not 32"),
        (f"{base64.b64encode(KEY).decode()},{base64.b64encode(b'x' * 16).decode()}", "key 1 is 16 bytes"),
    ],
)
def test_a_bad_master_key_is_one_line_naming_its_position_never_the_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as raised:
        parse_keys(text, "WEBHOOK_MASTER_KEYS")
    assert text not in str(raised.value) or not text


def test_master_keys_come_from_the_variable_or_a_file(tmp_path: Path) -> None:
    urlsafe = base64.urlsafe_b64encode(KEY).decode()
    path = tmp_path / "keys"
    path.write_text(f"{base64.b64encode(NEW_KEY).decode()}\n{urlsafe}\n")
    from_file = load_keyring(ReceiverSettings(WEBHOOK_MASTER_KEYS_FILE=path))  # type: ignore[call-arg]
    assert from_file is not None
    assert from_file.sealing_key_id == key_id(NEW_KEY)
    assert from_file.open(Keyring([KEY]).seal(SECRET, "s"), "s") == SECRET
    assert load_keyring(ReceiverSettings()) is None
    with pytest.raises(ConfigError, match="cannot be read"):
        load_keyring(ReceiverSettings(WEBHOOK_MASTER_KEYS_FILE=tmp_path / "missing"))  # type: ignore[call-arg]


# ------------------------------------------------------------------------------------------------ definitions


def test_a_definition_round_trips_and_holds_no_secret_in_the_clear() -> None:
    keyring = Keyring([KEY])
    stored = definition(keyring).to_bytes()
    assert SECRET not in stored
    assert SourceDefinition.from_bytes(stored) == definition(keyring).model_copy(
        update={"secrets": SourceDefinition.from_bytes(stored).secrets}
    )


def test_built_sources_serve_live_secrets_only_and_a_bounded_metrics_label() -> None:
    keyring = Keyring([KEY])
    old = SealedSecret(sealed=keyring.seal(b"old", "src_a"), expires_at=NOW + timedelta(hours=1))
    gone = SealedSecret(sealed=keyring.seal(b"gone", "src_a"), expires_at=NOW - timedelta(seconds=1))
    rotated = definition(keyring, secrets=[SealedSecret(sealed=keyring.seal(b"new", "src_a")), old, gone])
    source = build_source(rotated, keyring, now=NOW, tolerance_s=300)
    assert source is not None
    assert source.secrets == (b"new", b"old")
    assert source.tenant == "acme"
    assert source.metrics_label == "registry"
    assert rotated.next_expiry(NOW) == NOW + timedelta(hours=1)
    later = build_source(rotated, keyring, now=NOW + timedelta(hours=2), tolerance_s=300)
    assert later is not None
    assert later.secrets == (b"new",)
    labelled = build_source(rotated, keyring, now=NOW, tolerance_s=300, labelled_tenants=frozenset({"acme"}))
    assert labelled is not None
    assert labelled.metrics_label == "acme"
    assert build_source(definition(keyring, enabled=False), keyring, now=NOW, tolerance_s=300) is None
    expired = definition(keyring, secrets=[gone])
    assert build_source(expired, keyring, now=NOW, tolerance_s=300) is None


def test_a_tenant_name_holds_no_slash() -> None:
    with pytest.raises(ValueError, match="tenant"):
        definition(Keyring([KEY]), tenant="acme/eu")


# ------------------------------------------------------------------------------------------------ the route


@dataclass(frozen=True)
class Served:
    """A receiver with no source of the file or the environment, what it published and its metrics."""

    app: Receiver
    publisher: RecordingPublisher
    metrics: CollectorRegistry


@pytest.fixture
def served() -> Served:
    publisher, metrics = RecordingPublisher(), CollectorRegistry()
    return Served(create_app(ReceiverSettings(), sources={}, publisher=publisher, registry=metrics), publisher, metrics)


async def post(app: Receiver, source: str, event_id: str, secret: str = SECRET.decode()) -> httpx.Response:
    body = orjson.dumps({"id": event_id, "type": "order.created"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.post(f"/webhooks/{source}", content=body, headers=hmac_headers(body, secret))


async def test_sources_put_and_removed_at_run_time_with_a_rate_and_a_tenant(served: Served) -> None:
    app, keyring = served.app, Keyring([KEY])
    route = app.webhooks
    assert (await post(app, "src_a", "evt_0")).status_code == 404
    route.complete = False  # the registry still being read: retry, not 404
    answer = await post(app, "src_a", "evt_0")
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    route.complete = True

    source = build_source(definition(keyring, rate_per_s=1), keyring, now=datetime.now(UTC), tolerance_s=300)
    assert source is not None
    route.put(source)
    assert (await post(app, "src_a", "evt_1")).status_code == 202
    assert (await post(app, "src_a", "evt_x", secret="wrong")).status_code == 401
    limited = await post(app, "src_a", "evt_2")
    assert limited.status_code == 429
    assert limited.json() == {"error": "rate_limited"}
    assert int(limited.headers["retry-after"]) >= 1
    # Put again (a rotation) with the same rate: the bucket stays empty, no second burst.
    route.put(source)
    assert (await post(app, "src_a", "evt_3")).status_code == 429
    route.remove("src_a")
    assert (await post(app, "src_a", "evt_4")).status_code == 404

    [(topic, key, value, headers)] = served.publisher.records
    assert (topic, key) == ("webhooks.hmac", b"evt_1")
    assert Envelope.from_bytes(value).tenant == "acme"
    assert Envelope.from_bytes(value).scoped_id == "acme/evt_1"
    assert ("webhook-tenant", b"acme") in headers
    assert ("ce_tenant", b"acme") in headers
    assert (
        served.metrics.get_sample_value(
            "webhooks_received_total", {"source": "registry", "provider": "hmac", "outcome": "rate_limited"}
        )
        == 2
    )


def test_an_envelope_without_a_tenant_is_written_as_before_and_one_with_it_round_trips() -> None:
    fields = {
        "id": "evt_1",
        "source": "s",
        "provider": "hmac",
        "type": "t",
        "received_at": NOW,
        "occurred_at": None,
        "payload_json": b"{}",
        "headers": {},
    }
    plain = encode_envelope(**fields)  # type: ignore[arg-type]
    assert b"tenant" not in plain
    assert Envelope.from_bytes(plain).to_bytes() == plain
    tenanted = encode_envelope(**fields, tenant="acme")  # type: ignore[arg-type]
    assert Envelope.from_bytes(tenanted).to_bytes() == tenanted
    assert Envelope.from_bytes(plain).scoped_id == "evt_1"
