"""`python -m receiver` killed with SIGKILL under load: every 2xx it gave is in Kafka.

Senders post distinct events continuously; the receiver is killed once a few hundred are acknowledged, with
requests in flight. What a 202 promised must hold without any shutdown step: the event is on the topic. The
requests cut off get no answer, and a provider would retry them: a second receiver takes them all.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import orjson
import pytest

from schemas import Envelope
from tests.integration.kafka_tools import read_topic
from tests.integration.receiver_process import ReceiverSource, receiver_process, wait_ready
from tests.signing import hmac_headers

pytestmark = pytest.mark.fault

SENDERS = 16
MAX_EVENTS = 3000  # bounded whatever happens
KILL_AFTER_ACKS = 400
LOAD_TIMEOUT_S = 30.0


async def test_a_receiver_killed_under_load_has_every_acknowledged_event_in_kafka(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    source = ReceiverSource(unique, "crash-secret")
    env = source.env(kafka_bootstrap, tmp_path)
    url = f"http://127.0.0.1:{env['RECEIVER_PORT']}"
    path = f"/webhooks/{source.name}"
    ids = [f"evt_{unique}_{n:05d}" for n in range(MAX_EVENTS)]
    next_index = 0
    acknowledged: list[str] = []
    cut_off: list[str] = []  # sent, no answer: the kill came first
    refused: list[tuple[str, int]] = []
    enough = asyncio.Event()

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal next_index
        while next_index < len(ids):
            event_id = ids[next_index]
            next_index += 1
            body = orjson.dumps({"id": event_id, "type": "crash.test", "n": next_index})
            try:
                response = await http.post(path, content=body, headers=hmac_headers(body, source.secret))
            except httpx.TransportError:
                cut_off.append(event_id)
                return
            if response.status_code == 202:
                acknowledged.append(event_id)
                if len(acknowledged) >= KILL_AFTER_ACKS:
                    enough.set()
            else:
                refused.append((event_id, response.status_code))

    log = tmp_path / "receiver.log"
    started = time.monotonic()
    with receiver_process(env, log) as process:
        await wait_ready(process, url, log)
        limits = httpx.Limits(max_connections=SENDERS)
        async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as http:
            senders = [asyncio.create_task(sender(http)) for _ in range(SENDERS)]
            async with asyncio.timeout(LOAD_TIMEOUT_S):
                await enough.wait()
                process.send_signal(signal.SIGKILL)
                await asyncio.to_thread(process.wait, 10)
                await asyncio.gather(*senders)
    load_s = time.monotonic() - started
    assert process.returncode == -signal.SIGKILL
    assert refused == []
    sent = next_index
    # Killed mid-load: answers were given, and some requests were still in flight.
    assert len(acknowledged) >= KILL_AFTER_ACKS
    assert len(cut_off) == SENDERS  # every sender's last request was cut off, none hung
    assert sent == len(acknowledged) + len(cut_off) < MAX_EVENTS

    records = await read_topic(kafka_bootstrap, source.topic, expect=len(acknowledged))
    in_kafka = [Envelope.from_bytes(record.value).id for record in records]
    assert set(acknowledged) <= set(in_kafka), f"{len(set(acknowledged) - set(in_kafka))} acknowledged ids missing"
    assert set(in_kafka) <= set(ids[:sent])
    assert len(in_kafka) == len(set(in_kafka))  # one record per accepted event: the producer never doubled one

    # The provider retries what got no answer; the next receiver (same address) takes every one of them.
    retried: list[int] = []
    with receiver_process(env, tmp_path / "second.log") as second:
        await wait_ready(second, url, tmp_path / "second.log")
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for event_id in cut_off:
                body = orjson.dumps({"id": event_id, "type": "crash.test", "retry": True})
                response = await http.post(path, content=body, headers=hmac_headers(body, source.secret))
                retried.append(response.status_code)
    assert retried == [202] * len(cut_off)
    records = await read_topic(kafka_bootstrap, source.topic, expect=len(in_kafka) + len(cut_off))
    final = {Envelope.from_bytes(record.value).id for record in records}
    assert final == set(ids[:sent])
    print(
        f"receiver crash: sent {sent}, acknowledged {len(acknowledged)}, cut off {len(cut_off)}, "
        f"in Kafka after the kill {len(in_kafka)}, after the retries {len(final)}, load {load_s:.1f}s"
    )
