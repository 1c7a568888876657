"""OpenTelemetry traces on the real broker and Redis: one signed webhook is one trace, from the receiver's
`receive` span through the record's `traceparent` header to the group's `consume` and handler spans, retries
included. Spans are collected by the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from consumers import tracing as consumer_tracing
from consumers.handlers import Context, Event
from receiver import tracing as receiver_tracing
from receiver.sources import Source
from receiver.verify import HmacScheme
from tests.integration.kafka_tools import ReceiverFactory, read_topic
from tests.integration.polling import eventually
from tests.integration.workers import GroupFactory, Running, WorkerFactory
from tests.signing import hmac_headers

SENDER_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield spans, provider
    provider.shutdown()


def _handled_after_a_retry(worker: Running) -> bool:
    return worker.outcome("ok") == 1 and worker.outcome("retried") == 1


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    [span] = [span for span in spans if span.name == name]
    return span


async def test_one_signed_webhook_is_one_trace_across_receiver_worker_and_retry(
    consumer_group: GroupFactory,
    worker: WorkerFactory,
    receiver: ReceiverFactory,
    kafka_bootstrap: str,
    exporter: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    spans, provider = exporter
    consumers = await consumer_group(name="otel")
    topic = consumers.topics.topic
    http = await receiver(
        Source("hmac", HmacScheme(), (b"k",), topic), tracing=receiver_tracing.Tracing(provider.get_tracer("receiver"))
    )
    seen: list[str | None] = []

    async def fail_once(event: Event[Any], context: Context) -> None:
        seen.append(event.traceparent)
        if context.attempt == 1:
            raise RuntimeError("flaky agent")

    body = b'{"id":"evt-otel","type":"order.created"}'
    running, stop = await worker(
        consumers, fail_once, tracing=consumer_tracing.Tracing(provider.get_tracer("consumers"))
    )
    headers = {**hmac_headers(body, "k"), "traceparent": TRACEPARENT}
    assert (await http.post("/webhooks/hmac", content=body, headers=headers)).status_code == 202
    await eventually(partial(_handled_after_a_retry, running), "the retry handled")
    await stop()  # its last commit is a span too

    finished = list(spans.get_finished_spans())
    traced = [span for span in finished if span.name != "commit"]
    # Everything of this webhook is one trace: the sender's.
    assert {span.context.trace_id for span in traced} == {SENDER_TRACE_ID}
    names = sorted(span.name for span in traced)
    handler = "handler record"  # its registered name
    assert names == sorted(["receive", "verify", "publish", "ack"] + ["consume", "claim", handler] * 2 + ["complete"])

    receive, publish = one(traced, "receive"), one(traced, "publish")
    assert receive.kind is SpanKind.SERVER
    assert receive.parent is not None
    assert receive.parent.span_id == 0x00F067AA0BA902B7
    assert receive.attributes is not None
    assert receive.attributes["http.response.status_code"] == 202
    for step in ("verify", "publish", "ack"):
        assert one(traced, step).parent == receive.context
    # The record carries the publish span's context; both attempts' consume spans hang under it.
    [record] = await read_topic(kafka_bootstrap, topic, expect=1)
    published = f"00-{SENDER_TRACE_ID:032x}-{publish.context.span_id:016x}-01".encode()
    assert record.headers["traceparent"] == record.headers["ce_traceparent"] == published
    assert seen == [published.decode()] * 2
    consumes = sorted((s for s in traced if s.name == "consume"), key=lambda s: s.start_time or 0)
    assert [s.parent.span_id if s.parent else None for s in consumes] == [publish.context.span_id] * 2
    assert [s.kind for s in consumes] == [SpanKind.CONSUMER] * 2
    assert [(s.attributes or {}).get("webhook.outcome") for s in consumes] == ["retried", "ok"]
    handlers = sorted((s for s in traced if s.name == handler), key=lambda s: s.start_time or 0)
    assert [h.parent for h in handlers] == [c.context for c in consumes]
    assert [h.status.status_code for h in handlers] == [StatusCode.ERROR, StatusCode.UNSET]
    assert one(traced, "complete").parent == consumes[1].context
    # An offset commit covers many records: its own trace, linked to the records it passes.
    linked = {link.context.span_id for span in finished if span.name == "commit" for link in span.links}
    assert {c.context.span_id for c in consumes} <= linked
