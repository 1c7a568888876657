"""Free loopback ports for the servers a test starts of its own.

Drawn below the ephemeral range (Linux hands outgoing connections local ports from 32768 up): a port the
kernel picked for us there can be taken by any client connection between the pick and the server's bind,
and the server then exits with "Address already in use". 20000-25999 holds none of the stack's fixed ports.
"""

from __future__ import annotations

import random
import socket

# The fixed ports of the tests' own servers, each named once here: below the ephemeral range and outside the
# range drawn from (tests/unit/compose/test_stack.py checks both, with the stack's own fixed ports).
OUTAGE_BROKER_PORTS = (29092, 29093)  # the broker the outage test stops and starts: client, controller
SASL_BROKER_PORTS = (29192, 29193, 29194)  # the SASL test's broker: SASL listener, controller, plaintext
RESTART_REDIS_PORT = 26379  # the Redis the consumer's restart test stops and starts
FIXED_TEST_PORTS = (*OUTAGE_BROKER_PORTS, *SASL_BROKER_PORTS, RESTART_REDIS_PORT)

_RANGE = range(20000, 26000)
# Ports already handed out in this run: a test may draw several before starting any server on them.
_HANDED: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on now, outside the range outgoing connections draw from."""
    for _ in range(200):
        port = random.choice(_RANGE)
        if port not in _HANDED and _bindable(port):
            _HANDED.add(port)
            return port
    raise AssertionError(f"no free port in {_RANGE.start}-{_RANGE.stop - 1}")


def free_port_pair() -> int:
    """A free port whose next one is free too (a broker's controller listens there)."""
    for _ in range(50):
        port = free_port()
        if port + 1 not in _HANDED and _bindable(port + 1):
            _HANDED.add(port + 1)
            return port
    raise AssertionError("no two free consecutive ports")
