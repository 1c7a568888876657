"""compose/grafana/dashboards/webhooks.json: the panels an operator needs, on metrics that exist.

tests/integration/test_dashboard_metrics.py checks the same names against live scrapes of a running
receiver and worker; this one checks them against the metric definitions, in milliseconds.
"""

from __future__ import annotations

from typing import Any

from tests.unit.compose.promql import metric_names


def expressions(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Each panel's title and its PromQL expressions (rows have none)."""
    return {
        panel["title"]: [target["expr"] for target in panel["targets"]]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
    }


def test_promql_metric_names_are_found_and_nothing_else() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, source) (rate(webhooks_request_duration_seconds_bucket"
        '{source=~"$source"}[$__rate_interval]))) / on (source) group_left sum without (outcome) '
        '(webhooks_received_total offset 5m) > bool 0.1 and up{job="x"} == 0'
    )
    assert metric_names(expr) == {"webhooks_request_duration_seconds_bucket", "webhooks_received_total", "up"}


def test_every_panel_queries_metrics_we_export(dashboard: dict[str, Any], exported_names: set[str]) -> None:
    for title, exprs in expressions(dashboard).items():
        assert exprs, title
        for expr in exprs:
            names = metric_names(expr)
            assert names, f"{title}: no metric in {expr}"
            assert names <= exported_names, f"{title}: {sorted(names - exported_names)} is exported by nobody"


def test_the_dashboard_shows_what_the_issue_asks_for(dashboard: dict[str, Any]) -> None:
    queried = " ".join(expr for exprs in expressions(dashboard).values() for expr in exprs)
    for needed in (
        "sum by (source, outcome) (rate(webhooks_received_total",
        "sum by (source, reason) (rate(webhooks_signature_failures_total",
        "histogram_quantile(0.99, sum by (le) (rate(webhooks_publish_duration_seconds_bucket",
        "histogram_quantile(0.99, sum by (le, source) (rate(webhooks_request_duration_seconds_bucket",
        "sum by (group, handler, outcome) (rate(webhooks_processed_total",
        "rate(webhooks_duplicates_total",
        "histogram_quantile(0.99, sum by (le, group, handler) (rate(webhooks_handler_duration_seconds_bucket",
        "webhooks_consumer_lag",
        'webhooks_processed_total{outcome="dead_lettered"',
        "webhooks_handlers_in_flight",
        "webhooks_consumer_committed_lag",
        "webhooks_consumer_commit_stalled_seconds",
        "webhooks_claims_overdue",
    ):
        assert needed in queried


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
