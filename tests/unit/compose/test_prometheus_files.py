"""compose/prometheus: the scrape config and alert rules, checked by Prometheus's own `promtool`.

promtool comes with Debian's `prometheus` package (`.ci/run` installs it). Where it is missing these tests
fail and say so: the alert rules are never left unchecked.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.repository import COMPOSE
from tests.unit.compose.files import load_yaml
from tests.unit.compose.promql import metric_names

PROMETHEUS = COMPOSE / "prometheus"
ALERTS = {
    "WebhookSignatureFailureSpike",
    "WebhookReceiverUnavailable",
    "WebhookSourceSilent",
    "WebhookConsumerLagGrowing",
    "WebhookConsumerCommitStalled",
    "WebhookClaimsOverdue",
    "WebhookDeadLettersGrowing",
    "WebhookTargetDown",
}


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (apt-get install -y prometheus)")
    result = subprocess.run([binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_promtool_accepts_the_scrape_config() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_promtool_accepts_the_alert_rules() -> None:
    assert f"SUCCESS: {len(ALERTS)} rules found" in promtool("check", "rules", "alerts.yml")


def test_the_alert_rules_fire_when_they_should_and_only_then() -> None:
    # alerts_test.yml: 503s, a dead letter, a silent source and a signature spike, each with a case that
    # must not fire.
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_every_alert_reads_metrics_we_export(exported_names: set[str]) -> None:
    rules = {rule["alert"]: rule for group in load_yaml(PROMETHEUS / "alerts.yml")["groups"] for rule in group["rules"]}
    assert set(rules) == ALERTS
    for name, rule in rules.items():
        names = metric_names(rule["expr"])
        assert names, name
        assert names <= exported_names | {"up"}, f"{name} reads {sorted(names - exported_names)}"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


def test_the_alerts_watch_the_metrics_the_issue_names() -> None:
    rules = {
        rule["alert"]: rule["expr"]
        for group in load_yaml(PROMETHEUS / "alerts.yml")["groups"]
        for rule in group["rules"]
    }
    assert "webhooks_signature_failures_total" in rules["WebhookSignatureFailureSpike"]
    assert 'webhooks_received_total{outcome="unavailable"}' in rules["WebhookReceiverUnavailable"]
    assert "webhooks_consumer_lag" in rules["WebhookConsumerLagGrowing"]
    assert "webhooks_consumer_commit_stalled_seconds" in rules["WebhookConsumerCommitStalled"]
    assert "webhooks_claims_overdue" in rules["WebhookClaimsOverdue"]
    assert 'webhooks_processed_total{outcome="dead_lettered"}' in rules["WebhookDeadLettersGrowing"]
    assert "webhooks_received_total" in rules["WebhookSourceSilent"]
