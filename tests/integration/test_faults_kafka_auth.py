"""Kafka with SASL/PLAIN authentication: receiver and consumers connect with KAFKA_SASL_*, wrong ones fail clearly.

A broker of its own (`SASL_BROKER_PORTS`, not the shared one nor the outage test's): a SASL_PLAINTEXT listener
for the clients, and a PLAINTEXT one that only the test uses, to read what landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio

from consumers.idempotency import IdempotencyStore
from schemas import Envelope
from schemas.topics import GroupTopics
from tests.integration.kafka_tools import read_topic
from tests.integration.polling import eventually
from tests.integration.ports import SASL_BROKER_PORTS
from tests.integration.receiver_process import ReceiverSource, receiver_process, wait_ready
from tests.integration.workers import make_settings, running_worker
from tests.repository import stack
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

SASL_PORT, CONTROLLER_PORT, PLAIN_PORT = SASL_BROKER_PORTS
USER, PASSWORD = "webhooks", "auth-test-password"
EVENTS = 20


@pytest.fixture
async def sasl_broker(local_stack: tuple[str, str]) -> AsyncIterator[object]:
    jaas = f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USER}="{PASSWORD}";'
    broker = stack.Broker(
        port=PLAIN_PORT,
        controller_port=CONTROLLER_PORT,
        name="kafka-sasl-test",
        extra_properties=(
            # Later keys win in a properties file: these replace the PLAINTEXT-only defaults.
            f"listeners=PLAINTEXT://localhost:{PLAIN_PORT},SASL_PLAINTEXT://localhost:{SASL_PORT},"
            f"CONTROLLER://localhost:{CONTROLLER_PORT}",
            f"advertised.listeners=PLAINTEXT://localhost:{PLAIN_PORT},SASL_PLAINTEXT://localhost:{SASL_PORT}",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms=PLAIN",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={jaas}",
        ),
    )
    broker.stop(kill=True)
    broker.wipe()
    await asyncio.to_thread(broker.start)
    yield broker
    await asyncio.to_thread(broker.stop)
    broker.wipe()


def sasl_env(password: str) -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_SASL_USERNAME": USER,
        "KAFKA_SASL_PASSWORD": password,
    }


async def test_receiver_and_consumer_deliver_over_sasl_and_wrong_credentials_fail_clearly(
    sasl_broker: stack.Broker,  # type: ignore[name-defined]
    redis_url: str,
    redis_client: redis.asyncio.Redis,
    unique: str,
    tmp_path: Path,
) -> None:
    sasl_bootstrap = f"localhost:{SASL_PORT}"
    source = ReceiverSource(unique, "auth-secret")
    env = source.env(sasl_bootstrap, tmp_path, **sasl_env(PASSWORD))
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    group = f"auth-{unique}"
    route = GroupTopics("hmac", source.topic, f"{source.topic}.{group}.retry", f"{source.topic}.{group}.dlq")
    consumer_settings = make_settings(
        sasl_bootstrap,
        redis_url,
        group,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
    )
    ids = [f"evt_auth_{unique}_{n}" for n in range(EVENTS)]
    log = tmp_path / "receiver.log"
    with receiver_process(env, log) as process:
        await wait_ready(process, url, log)
        async with running_worker(consumer_settings, route, IdempotencyStore(redis_client)) as (worker, _):
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                statuses = []
                for event_id in ids:
                    body = orjson.dumps({"id": event_id, "type": "auth.test"})
                    response = await http.post(
                        f"/webhooks/{source.name}", content=body, headers=hmac_headers(body, source.secret)
                    )
                    statuses.append(response.status_code)
            await eventually(lambda: worker.outcome("ok") == EVENTS, f"{EVENTS} events handled over SASL", 30)
    assert statuses == [202] * EVENTS
    assert sorted(event_id for event_id, _, _ in worker.calls) == sorted(ids)
    records = await read_topic(f"localhost:{PLAIN_PORT}", source.topic, expect=EVENTS)
    assert sorted(Envelope.from_bytes(record.value).id for record in records) == sorted(ids)

    # Wrong password: the receiver starts serving after its bounded start-up wait (STARTUP_WAIT_S, 10 s) but
    # never becomes ready, refuses webhooks with 503, and its log names the authentication failure.
    wrong = source.env(sasl_bootstrap, tmp_path, **sasl_env("not-the-password"))
    wrong_url = f"http://127.0.0.1:{wrong['RECEIVER_PORT']}"
    wrong_log = tmp_path / "wrong.log"
    readiness: list[int] = []
    with receiver_process(wrong, wrong_log) as process:
        deadline = time.monotonic() + 20
        async with httpx.AsyncClient(base_url=wrong_url, timeout=5) as http:
            while len(readiness) < 5 and time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.TransportError):
                    readiness.append((await http.get("/readyz")).status_code)
                await asyncio.sleep(0.2)
            body = orjson.dumps({"id": f"evt_wrong_{unique}", "type": "auth.test"})
            refused = await http.post(
                f"/webhooks/{source.name}", content=body, headers=hmac_headers(body, source.secret)
            )
    output = wrong_log.read_text()
    assert readiness == [503] * 5, output[-2000:]
    assert (refused.status_code, refused.json()) == (503, {"error": "unavailable"})
    assert "SASL authentication error" in output, output[-2000:]
    assert "not-the-password" not in output
