"""The run-time source registry as an operator drives it in the integration tests: `webhooks sources` commands
(in this process, or as their own), and the receiver's metrics read to know every worker applied them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.processes import clean_environ
from tests.repository import ROOT
from webhook_ingest import cli

# The commands that write one record when they succeed.
WRITING = ("add", "rotate", "capture", "verify-token", "reveal", "disable", "enable", "delete")


@dataclass
class Registry:
    """A receiver with the registry on (two workers), and the commands run against its topic."""

    env: dict[str, str]
    url: str
    log: Path
    outputs: list[str] = field(default_factory=list)
    written: int = 0  # records written to the registry's topic so far: the position every worker must reach

    def command(self, *args: str, stdin: str = "", expect: int = 0, process: bool = False) -> str:
        """`webhooks sources ARGS`: in this process (the same code, without a second of start-up per command),
        or as its own process through the installed entry point."""
        code, out = self._process(args, stdin) if process else self._in_process(args, stdin)
        self.outputs.append(out)
        assert code == expect, out
        if expect == 0 and args[0] in WRITING and "already" not in out:
            self.written += 1
        return out

    def _process(self, args: tuple[str, ...], stdin: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "webhook_ingest", "sources", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout.decode() + done.stderr.decode()

    def _in_process(self, args: tuple[str, ...], stdin: str) -> tuple[int, str]:
        out = io.StringIO()
        with (
            mock.patch.dict(os.environ, self.env, clear=True),
            mock.patch.object(sys, "stdin", io.StringIO(stdin)),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(out),
        ):
            try:
                code = cli.main(["sources", *args])
            except SystemExit as exit:
                code = int(exit.code or 0)
        return code, out.getvalue()

    async def applied_everywhere(self) -> float:
        """Seconds until every worker has applied the registry's records written so far."""
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            while gauge((await http.get("/metrics")).text, "webhooks_registry_position") < self.written:
                assert time.monotonic() - started < 30, "the registry change never reached every worker"
                await asyncio.sleep(0.02)
        return time.monotonic() - started


def gauge(metrics: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == name
    )


def added_id(output: str) -> str:
    # "added <id> (tenant ..., provider ...): POST /webhooks/<id>"
    assert output.startswith("added "), output
    return output.split()[1]


def registry_env(kafka_bootstrap: str, unique: str) -> dict[str, str]:
    """The environment of the commands (and the receiver): a registry topic and a master key of its own."""
    env = clean_environ()
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        KAFKA_TOPIC_PARTITIONS="1",
        WEBHOOK_MASTER_KEYS=base64.b64encode(os.urandom(32)).decode(),
        WEBHOOK_REGISTRY_TOPIC=f"it.{unique}.sources",
    )
    return env
