"""The local stack's pure parts: the KRaft cluster id handed to `kafka-storage format -t`, the broker's heap."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator

from tests.integration.ports import FIXED_TEST_PORTS, free_port, free_port_pair
from tests.repository import stack


def test_cluster_ids_are_valid_and_never_start_with_a_dash() -> None:
    # One URL-safe base64 id in 64 starts with `-`, which kafka-storage's argument parser reads as an option.
    ids = [stack.kafka_cluster_id() for _ in range(5000)]
    assert [cluster_id for cluster_id in ids if cluster_id.startswith("-")] == []
    for cluster_id in ids:
        assert len(cluster_id) == 22
        raw = base64.urlsafe_b64decode(cluster_id + "==")
        assert len(raw) == 16
        assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == cluster_id
        assert uuid.UUID(bytes=raw) not in {uuid.UUID(int=0), uuid.UUID(int=1)}
    assert len(set(ids)) == len(ids)


def test_a_draw_that_would_start_with_a_dash_or_is_reserved_is_drawn_again() -> None:
    dash = bytes([0xF8]) + bytes(15)  # 0b111110 first: base64 index 62, `-` in the URL-safe alphabet
    assert base64.urlsafe_b64encode(dash).startswith(b"-")
    good = bytes(range(1, 17))
    draws: Iterator[bytes] = iter([dash, bytes(16), (1).to_bytes(16, "big"), good])
    cluster_id = stack.kafka_cluster_id(random_bytes=lambda size: next(draws))
    assert cluster_id == base64.urlsafe_b64encode(good).decode().rstrip("=")


def test_the_log_cleaners_offset_map_is_a_small_part_of_the_brokers_heap() -> None:
    # The cleaner allocates its offset map whole, on the heap, when the first log is created (Kafka's default:
    # 128 MiB). Half of a 256 MiB heap held that way keeps G1's old generation above the occupancy that starts a
    # concurrent cycle: under load one every few seconds, each with a remark pause of tens of ms that every
    # produce request waiting on the broker sits through.
    properties = dict(line.split("=", 1) for line in stack.Broker().properties().splitlines())
    offset_map = int(properties.get("log.cleaner.dedupe.buffer.size", 128 * 1_048_576))
    initial_heap = re.search(r"-Xms(\d+)([mg])", stack.KAFKA_HEAP)
    assert initial_heap is not None
    size, unit = initial_heap.groups()
    assert offset_map * 8 <= int(size) * 1_048_576 * (1024 if unit == "g" else 1)
    # Still room for the compacted topics of a local stack (the source registry): 24 bytes a key.
    assert offset_map >= 8 * 1_048_576


def test_the_fixed_ports_of_the_cluster_lie_below_the_ephemeral_range() -> None:
    # Linux hands outgoing connections local ports from 32768 up (net.ipv4.ip_local_port_range); a broker told
    # to listen on one that a client happens to hold exits with "Address already in use" at start-up.
    brokers = stack.cluster()
    ports = [port for broker in brokers for port in (broker.port, broker.controller_port)]
    assert len(set(ports)) == 6
    assert max(ports) < stack.EPHEMERAL_PORTS_START
    assert max(port for pair in stack.REDIS_CLUSTER_PORTS for port in pair) < stack.EPHEMERAL_PORTS_START


def test_the_ports_tests_draw_lie_below_the_ephemeral_range_and_clear_of_the_fixed_ones() -> None:
    local = stack.Broker()
    fixed = {local.port, local.controller_port, stack.RedisServer().port, *FIXED_TEST_PORTS}
    fixed |= {port for broker in stack.cluster() for port in (broker.port, broker.controller_port)}
    fixed |= {port for pair in stack.REDIS_CLUSTER_PORTS for port in pair}
    drawn = {free_port() for _ in range(200)} | {free_port_pair() + 1 for _ in range(50)}
    assert max(drawn | fixed) < stack.EPHEMERAL_PORTS_START
    assert drawn.isdisjoint(fixed)


def test_a_port_is_never_handed_out_twice_in_a_run() -> None:
    # A test may draw several ports (a Redis Cluster: twelve) before it starts a server on any of them.
    drawn = [free_port() for _ in range(400)]
    pairs = [free_port_pair() for _ in range(50)]
    everything = drawn + pairs + [port + 1 for port in pairs]
    assert len(set(everything)) == len(everything)
