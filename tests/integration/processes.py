"""The processes a test starts (`python -m receiver`, `python -m consumers`, `webhooks ...`) and their children."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.repository import ROOT

# The prefixes of every variable our processes (and the tests' handler modules) read: a process a test starts
# gets the test's values only, never what the shell running the suite happens to export.
OURS = ("WEBHOOK_", "CONSUMER_", "RECEIVER_", "KAFKA_", "REDIS_", "LOG_", "COUNT_", "FORWARD_")


def clean_environ() -> dict[str, str]:
    """This process's environment without any variable of ours."""
    return {key: value for key, value in os.environ.items() if not key.startswith(OURS)}


def run_to_end(
    command: Sequence[str], env: Mapping[str, str], *, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """`command` run from the repository root until it exits, its output captured as text; the caller judges
    its exit status."""
    return subprocess.run(
        list(command), cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout_s, check=False
    )


@contextmanager
def started(command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in the background from the repository root, stdout and stderr appended to `log`; killed on
    the way out if it still runs, and its children (a supervisor's workers) gone too before the test goes on:
    they stop by themselves once their parent is gone, and meanwhile would still act on what the test does
    next (read a registry change, take a connection)."""
    with log.open("ab") as out:
        process = subprocess.Popen(list(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        below: set[int] = set()
        if process.poll() is None:
            with suppress(OSError):  # it may exit while its children are listed
                below = descendants(process.pid)
            process.kill()
        process.wait(timeout=30)
        _gone(below, timeout_s=30)


def _gone(pids: set[int], timeout_s: float) -> None:
    # Until every one of `pids` has exited; any still running after `timeout_s` is killed.
    deadline = time.monotonic() + timeout_s
    while (running := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in running:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> set[int]:
    """The direct children of `pid`'s main thread."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, whichever of its threads started it."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        listed = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, listed):
            found |= {child, *descendants(child)}
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs: neither gone nor a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
