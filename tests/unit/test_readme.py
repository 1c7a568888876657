"""The README is the front door: its configuration table and its sources-file example match the code."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from consumers.metrics import ConsumerMetrics
from consumers.settings import Settings
from receiver.metrics import ReceiverMetrics
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _aliases(model: type[ReceiverSettings] | type[Settings]) -> set[str]:
    return {str(field.validation_alias) for field in model.model_fields.values()}


def test_every_setting_of_both_processes_is_in_the_configuration_table() -> None:
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = sorted(alias for alias in _aliases(ReceiverSettings) | _aliases(Settings) if f"`{alias}`" not in table)
    assert missing == []


def test_every_metric_of_both_processes_is_in_the_metrics_table() -> None:
    registry = CollectorRegistry()
    ReceiverMetrics(registry)
    ConsumerMetrics(registry)
    table = README.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    names = {metric.name for metric in registry.collect()}
    missing = sorted(name for name in names if f"`{name}" not in table)
    assert missing == []


def test_the_sources_file_example_loads(tmp_path: Path) -> None:
    [example] = re.findall(r"```toml\n(.*?)```", README, flags=re.DOTALL)
    path = tmp_path / "sources.toml"
    path.write_text(example)
    environ = {"STRIPE_EU_WEBHOOK_SECRET": "whsec_eu", "WEBHOOK_SECRET_SMS": "token", "WEBHOOK_SECRET_ACME": "k"}
    sources = load_sources(environ, sources_file=path, tolerance_s=300)
    assert {name: source.topic for name, source in sources.items()} == {
        "stripe-eu": "webhooks.stripe",
        "sms": "webhooks.twilio",
        "acme": "webhooks.acme",
    }
