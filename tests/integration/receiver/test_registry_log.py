"""The registry's topic read and written against the real broker (`receiver.registry.log`): a reader knows it
has read everything with the last record that was there when it started, not a fetch later; writes are read
back in their order, the latest record of each source winning."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from receiver.registry.log import Change, RegistryReader, ensure_topic, read_all, write
from receiver.settings import ReceiverSettings


@pytest.fixture
def settings(kafka_bootstrap: str, unique: str) -> ReceiverSettings:
    settings = ReceiverSettings(kafka_bootstrap_servers=kafka_bootstrap, registry_topic=f"it.{unique}.sources")
    ensure_topic(settings)
    return settings


def test_a_reader_of_an_empty_registry_is_at_the_end_before_it_polls(settings: ReceiverSettings) -> None:
    reader = RegistryReader(settings)
    try:
        assert reader.at_end
    finally:
        reader.close()


def test_a_reader_is_at_the_end_with_the_last_record_there_when_it_started_then_follows(
    settings: ReceiverSettings,
) -> None:
    write(settings, [("a", b"1"), ("b", b"1"), ("a", b"2")])
    reader = RegistryReader(settings)
    try:
        assert not reader.at_end
        changes: list[Change] = []
        while len(changes) < 3:
            polled = reader.poll(5.0)
            assert polled, "the registry's records never came"
            changes += polled
            # At the end with the poll that brought the last record, not with an empty fetch after it.
            assert reader.at_end == (len(changes) == 3)
        assert [(c.key, c.value, c.offset) for c in changes] == [("a", b"1", 0), ("b", b"1", 1), ("a", b"2", 2)]
        write(settings, [("b", None)])
        assert [(c.key, c.value, c.offset) for c in reader.poll(5.0)] == [("b", None, 3)]
    finally:
        reader.close()


def test_read_all_gives_each_sources_latest_record_and_leaves_out_the_deleted(settings: ReceiverSettings) -> None:
    assert read_all(settings) == {}
    write(settings, [("a", b"1"), ("b", b"1"), ("c", b"1")])
    write(settings, [("a", b"2")])
    write(settings, [("c", None)])
    latest = read_all(settings)
    assert {key: (change.value, change.offset) for key, change in latest.items()} == {"a": (b"2", 3), "b": (b"1", 1)}


def test_a_reader_is_at_the_end_where_the_last_offset_holds_no_record(settings: ReceiverSettings, unique: str) -> None:
    # A transaction's commit marker takes the partition's last offset and is never handed to a reader, as a record
    # compaction removed isn't: the end then shows as the empty fetch after the last record.
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "transactional.id": f"it-{unique}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(settings.registry_topic, b"1", b"a")
    producer.commit_transaction(30)
    # The commit returns before the marker is on the partition (the coordinator writes it next): until it is,
    # the record is not committed to a reader either.
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": f"it-{unique}"})
    deadline = time.monotonic() + 10
    while probe.get_watermark_offsets(TopicPartition(settings.registry_topic, 0), timeout=10)[1] < 2:
        assert time.monotonic() < deadline, "the transaction's marker never came"
        time.sleep(0.05)
    probe.close()
    reader = RegistryReader(settings)
    try:
        changes: list[Change] = []
        deadline = time.monotonic() + 10
        while not reader.at_end:
            assert time.monotonic() < deadline, "the reader never came to the end"
            changes += reader.poll(1.0)
        assert [(c.key, c.value, c.offset) for c in changes] == [("a", b"1", 0)]
    finally:
        reader.close()
