"""`make run`: the whole pipeline in the foreground, on this machine, without Docker.

Starts Kafka and Redis unless they already answer, then the receiver and one consumer group with the
example handlers. Ctrl-C stops the two services and whatever of Kafka and Redis this run started.
Development secrets are used for the built-in sources unless WEBHOOK_SECRET_* are set (README).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack

# Only for a local run: real deployments set their own in the environment.
DEV_SECRETS = {
    "WEBHOOK_SECRET_HMAC": "dev-secret",
    "WEBHOOK_SECRET_GITHUB": "dev-github-secret",
    "WEBHOOK_SECRET_STRIPE": "whsec_dev",
}
# The example agent, named here on purpose: a worker without CONSUMER_HANDLERS refuses to start.
HANDLERS = {"CONSUMER_HANDLERS": "consumers.examples.agent"}
SHUTDOWN_GRACE_S = 20.0


def main() -> int:
    try:
        started = stack.up()
    except stack.StackError as exc:
        stack.log(f"error: {exc}")
        return 1
    # Text logs for a person at a terminal; deployments keep the JSON default.
    env = {**DEV_SECRETS, **HANDLERS, "LOG_FORMAT": "text", **os.environ, "PYTHONUNBUFFERED": "1"}
    children = {
        name: subprocess.Popen([sys.executable, "-m", name], env=env, cwd=stack.ROOT)
        for name in ("receiver", "consumers")
    }
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    port = env.get("RECEIVER_PORT", "8000")
    stack.log(f"receiver on http://127.0.0.1:{port}, consumer metrics on :{env.get('CONSUMER_METRICS_PORT', '9400')}")
    stack.log("Ctrl-C stops everything this run started")
    exit_code = 0
    try:
        while not stop_requested:
            for name, child in children.items():
                if child.poll() is not None:
                    stack.log(f"{name} exited with code {child.returncode}; stopping")
                    exit_code = child.returncode or 1
                    stop_requested = True
            time.sleep(0.2)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if started:
            stack.down(tuple(started))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
