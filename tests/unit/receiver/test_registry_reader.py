"""How a registry reader starts (`receiver.registry.log.RegistryReader`), against a stand-in for librdkafka's
consumer: the reading itself is tested against the real broker (tests/integration/receiver/test_registry_log.py)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from receiver.errors import RegistryUnavailable
from receiver.registry import log
from receiver.settings import ReceiverSettings


class _Consumer:
    """Answers `get_watermark_offsets` with each of `answers` in turn (an exception is raised)."""

    answers: ClassVar[list[tuple[int, int] | KafkaException]] = []
    made: ClassVar[list[_Consumer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.assigned: list[TopicPartition] = []
        self.closed = False
        self.made.append(self)

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        answer = self.answers.pop(0)
        if isinstance(answer, KafkaException):
            raise answer
        return answer

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = partitions

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def consumer(monkeypatch: pytest.MonkeyPatch) -> type[_Consumer]:
    monkeypatch.setattr(log, "Consumer", _Consumer)
    _Consumer.made = []
    return _Consumer


def test_a_partition_its_broker_does_not_know_yet_is_asked_for_again(consumer: type[_Consumer]) -> None:
    # A topic just created is unknown to the broker for a moment (KRaft hands the metadata on afterwards): a
    # command's first read of a new registry must wait that out, not fail.
    consumer.answers = [
        KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION)),
        KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)),
        (3, 7),
    ]
    reader = log.RegistryReader(ReceiverSettings())
    assert not reader.at_end
    assigned = reader._consumer
    assert isinstance(assigned, _Consumer)
    assert [(p.partition, p.offset) for p in assigned.assigned] == [(0, 3)]


def test_any_other_failure_is_the_registry_unavailable(consumer: type[_Consumer]) -> None:
    consumer.answers = [KafkaException(KafkaError(KafkaError._TRANSPORT))]
    with pytest.raises(RegistryUnavailable, match="_TRANSPORT"):
        log.RegistryReader(ReceiverSettings())
    assert [made.closed for made in consumer.made] == [True]
