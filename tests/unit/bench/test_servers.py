"""What the benchmark charges a run with (the CPU of a server it did not start, found by its listening port), and how it
loads one."""

from __future__ import annotations

import os
import socket

from bench import load, servers
from bench.load import LoadResult


def test_the_process_listening_on_a_port_is_found_and_an_unused_port_finds_none() -> None:
    with socket.socket() as listening, socket.socket() as bound_only:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        bound_only.bind(("127.0.0.1", 0))  # bound, not listening: no server there
        assert servers.listening_pid(listening.getsockname()[1]) == os.getpid()
        assert servers.listening_pid(bound_only.getsockname()[1]) is None


def test_the_broker_and_the_client_are_charged_per_thousand_requests() -> None:
    result = LoadResult("receiver-1w", 64, 4000, 4000, 0, 0, 2.0, 2000.0, 1.0, 2.0, 3.0, 4.0, 10_000.0)
    result.charge(0.8)
    result.charge_others(0.2, 0.3)
    assert (result.cpu_s_per_1k, result.broker_cpu_s_per_1k, result.client_cpu_s_per_1k) == (0.2, 0.05, 0.075)
    result.charge_others(None, 0.3)  # a remote broker: not measured, not guessed
    assert result.broker_cpu_s_per_1k is None


def test_the_open_loop_generator_has_connections_enough_for_its_rate_at_50_ms_a_request() -> None:
    assert load.open_loop_connections(1_000) == 64  # 50 in flight at 50 ms: the floor
    assert load.open_loop_connections(4_957) == 248
    assert load.open_loop_connections(10_000) == 500
