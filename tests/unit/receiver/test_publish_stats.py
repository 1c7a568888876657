"""The produce requests the librdkafka publisher reads from its client's statistics."""

from __future__ import annotations

import orjson
import pytest

from receiver.publish.rdkafka import RdkafkaPublisher, produce_requests_sent
from receiver.settings import ReceiverSettings


def statistics(*produce: int) -> str:
    """librdkafka's statistics JSON, cut down to what is read: a bootstrap entry, then one broker per count."""
    brokers: dict[str, object] = {"localhost:9092/bootstrap": {"nodeid": -1, "req": {"Metadata": 1}}}
    for node, count in enumerate(produce, start=1):
        brokers[f"localhost:9092/{node}"] = {"nodeid": node, "req": {"Produce": count, "Metadata": 3}}
    return orjson.dumps({"name": "webhooks-receiver#producer-1", "type": "producer", "brokers": brokers}).decode()


def test_the_produce_requests_of_every_broker_are_added_up() -> None:
    assert produce_requests_sent(statistics(7, 5)) == 12
    assert produce_requests_sent(statistics()) == 0


@pytest.mark.parametrize(
    "stats", ["", "not json", "[]", '{"brokers": []}', '{"brokers": {"b": {"req": {"Produce": "x"}}}}']
)
def test_statistics_that_cannot_be_read_give_none(stats: str) -> None:
    assert produce_requests_sent(stats) is None


def test_each_report_tells_the_requests_sent_since_the_last() -> None:
    told: list[int] = []
    publisher = RdkafkaPublisher(
        ReceiverSettings(kafka_bootstrap_servers="127.0.0.1:1"), ["t"], produce_requests=told.append
    )
    for report in (statistics(3), statistics(3), statistics(4, 6), "not json", statistics(4, 9)):
        publisher._on_stats(report)
    assert told == [3, 7, 3]
