"""Consumer settings from the environment: defaults, comma lists, and one clear line per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from consumers.errors import ConfigError
from consumers.settings import load_settings
from tests.repository import ROOT


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("KAFKA_", "CONSUMER_", "REDIS_", "LOG_LEVEL")):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load_settings()

    assert settings.kafka_bootstrap_servers == "localhost:9092"
    assert settings.redis_url.get_secret_value() == "redis://localhost:6379/0"
    assert settings.consumer_group == "agents"
    assert settings.consumer_providers == ("hmac", "github", "stripe")
    assert settings.consumer_handlers == ()
    assert (settings.consumer_metrics_host, settings.consumer_metrics_port) == ("127.0.0.1", 9400)
    assert settings.consumer_lease_ms == 60_000
    assert settings.consumer_done_ttl_s == 7 * 24 * 3600
    assert settings.consumer_max_attempts == 5
    assert settings.kafka_topic_partitions == 6


def test_comma_lists_are_split_trimmed_and_deduplicated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUMER_PROVIDERS", " github, stripe,,github ")
    monkeypatch.setenv("CONSUMER_HANDLERS", "my_app.handlers")

    settings = load_settings()

    assert settings.consumer_providers == ("github", "stripe")
    assert settings.consumer_handlers == ("my_app.handlers",)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONSUMER_LEASE_MS", "soon", "CONSUMER_LEASE_MS: Input should be a valid integer"),
        ("CONSUMER_MAX_ATTEMPTS", "0", "CONSUMER_MAX_ATTEMPTS: Input should be greater than or equal to 1"),
        ("CONSUMER_GROUP", "a.b", "CONSUMER_GROUP: must be 1-100 characters"),
        ("CONSUMER_PROVIDERS", " , ", "CONSUMER_PROVIDERS: must name at least one provider"),
        ("CONSUMER_HANDLERS", "my-app/handlers", "CONSUMER_HANDLERS: 'my-app/handlers' is no importable module"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS", "KAFKA_SECURITY_PROTOCOL: Input should be 'PLAINTEXT'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: Input should be 'DEBUG'"),
        ("CONSUMER_METRICS_PORT", "70000", "CONSUMER_METRICS_PORT: Input should be less than or equal to 65535"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_sasl_needs_its_credentials_and_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")

    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required") as raised:
        load_settings()
    assert "hunter2" not in str(raised.value)

    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    settings = load_settings()
    assert "hunter2" not in repr(settings)


def _run_module(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumers", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_python_m_consumers_exits_2_with_one_line_on_bad_config() -> None:
    result = _run_module({"CONSUMER_CONCURRENCY": "many"})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "consumers: configuration error: CONSUMER_CONCURRENCY: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_python_m_consumers_names_a_handler_module_it_cannot_import() -> None:
    result = _run_module({"CONSUMER_HANDLERS": "no_such_handlers_module"})

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "CONSUMER_HANDLERS: cannot import 'no_such_handlers_module'" in result.stderr


@pytest.mark.parametrize("command", [(), ("replay",)])
def test_python_m_consumers_without_handlers_refuses_to_start_with_one_line(command: tuple[str, ...]) -> None:
    result = _run_module({}, *command)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "consumers: CONSUMER_HANDLERS is not set: name the handler modules to run (consumers.examples.agent)"
    ]


@pytest.mark.parametrize(
    ("source", "line"),
    [
        (
            "@registry.handler('stripe')\nasync def on_payment(event: Event[Any]) -> None: ...\n",
            "consumers: CONSUMER_HANDLERS: my_handlers: handler my_handlers.on_payment: takes (event), but a handler "
            "takes (event, context)",
        ),
        (
            "@registry.handler('stripe')\n"
            "async def on_push(event: Event[GitHubEvent], context: Context) -> None: ...\n",
            "consumers: handler my_handlers.on_push: takes Event[GitHubEvent], but stripe events carry "
            "schemas.stripe.StripeEvent",
        ),
        ("", "consumers: CONSUMER_HANDLERS: my_handlers register no handler"),
        (
            # The default lease (60 s) against an hour's run: the rule CONSUMER_HANDLER_TIMEOUT_S is held to.
            "@registry.handler('stripe', timeout_s=3600)\n"
            "async def agent(event: Event[Any], context: Context) -> None: ...\n",
            "consumers: handler my_handlers.agent: timeout_s=3600 needs CONSUMER_LEASE_MS of at least 360000 (a "
            "tenth of it), not 60000",
        ),
    ],
)
def test_python_m_consumers_refuses_a_handler_module_it_cannot_run_with_one_line(
    tmp_path: Path, source: str, line: str
) -> None:
    header = (
        "from typing import Any\nfrom consumers import Context, Event, Registry\n"
        "from schemas.github import GitHubEvent\nregistry = Registry()\n"
    )
    (tmp_path / "my_handlers.py").write_text(header + source)

    result = _run_module({"CONSUMER_HANDLERS": "my_handlers", "PYTHONPATH": f"{tmp_path}:{ROOT}"})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [line]


def test_remember_windows_follow_the_providers_docs_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = load_settings().remember_windows()
    assert (windows.of("stripe"), windows.of("shopify"), windows.of("hmac")) == (30 * 86_400, 86_400, 604_800)

    monkeypatch.setenv("CONSUMER_DONE_TTLS", "shopify=3600, acme=120")
    windows = load_settings().remember_windows()
    assert (windows.of("stripe"), windows.of("shopify"), windows.of("acme")) == (30 * 86_400, 3600, 120)

    # CONSUMER_DONE_TTL_S set on purpose applies to every provider CONSUMER_DONE_TTLS does not name.
    monkeypatch.setenv("CONSUMER_DONE_TTL_S", "86400")
    windows = load_settings().remember_windows()
    assert (windows.of("stripe"), windows.of("shopify"), windows.of("hmac")) == (86_400, 3600, 86_400)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("stripe", "CONSUMER_DONE_TTLS: 'stripe' is no <provider>=<seconds> pair"),
        ("stripe=soon", "CONSUMER_DONE_TTLS.STRIPE: Input should be a valid integer"),
        ("stripe=0", "CONSUMER_DONE_TTLS: the window of stripe must be at least 1 second"),
        ("a.b=60", "CONSUMER_DONE_TTLS: 'a.b' is no provider name"),
    ],
)
def test_a_bad_remember_window_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, value: str, message: str) -> None:
    monkeypatch.setenv("CONSUMER_DONE_TTLS", value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_redis_cluster_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().redis_cluster is False
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    assert load_settings().redis_cluster is True


def test_sentinels_are_host_port_pairs_and_no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26379")
    settings = load_settings()
    assert settings.redis_sentinels == ("10.0.0.1:26379", "sentinel-b:26379")
    assert settings.redis_sentinel_master == "mymaster"

    monkeypatch.setenv("REDIS_SENTINELS", "sentinel-b")
    with pytest.raises(ConfigError, match="REDIS_SENTINELS: 'sentinel-b' is no host:port"):
        load_settings()

    monkeypatch.setenv("REDIS_SENTINELS", "sentinel-b:26379")
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    with pytest.raises(ConfigError, match="REDIS_CLUSTER and REDIS_SENTINELS don't go together"):
        load_settings()
