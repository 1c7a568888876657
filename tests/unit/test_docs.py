"""The docs match the code: the configuration and metrics tables, the sources-file example, every link.

The README is the front door and stays short; the manual is in docs/, one page per subject.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from consumers.forward.settings import ForwardSettings
from consumers.metrics import ConsumerMetrics
from consumers.settings import Settings
from consumers.windows import WINDOWS
from receiver.metrics import ReceiverMetrics
from receiver.settings import ReceiverSettings
from receiver.sources import load_sources
from receiver.verify.providers import BUILT_IN_PROVIDERS
from tests.repository import ROOT

DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])
# A front door of arq, httpx or Starlette is 12 to 150 lines; ours has a diagram and a handler too.
README_MAX_LINES = 200


def page(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _aliases(model: type[ReceiverSettings] | type[Settings] | type[ForwardSettings]) -> set[str]:
    return {str(field.validation_alias) for field in model.model_fields.values()}


def test_every_setting_of_both_processes_is_in_the_configuration_table() -> None:
    table = page("configuration.md").split("\n## ", 1)[0]
    aliases = _aliases(ReceiverSettings) | _aliases(Settings) | _aliases(ForwardSettings)
    missing = sorted(alias for alias in aliases if f"`{alias}`" not in table)
    assert missing == []


def test_every_metric_of_both_processes_is_in_the_metrics_table() -> None:
    registry = CollectorRegistry()
    ReceiverMetrics(registry)
    ConsumerMetrics(registry)
    table = section(page("operating.md"), "Metrics")
    names = {metric.name for metric in registry.collect()}
    missing = sorted(name for name in names if f"| `{name}" not in table)
    assert missing == []


def test_the_sources_file_example_loads(tmp_path: Path) -> None:
    [example] = re.findall(r"```toml\n(.*?)```", page("configuration.md"), flags=re.DOTALL)
    path = tmp_path / "sources.toml"
    path.write_text(example)
    environ = {"STRIPE_EU_WEBHOOK_SECRET": "whsec_eu", "WEBHOOK_SECRET_SMS": "token", "WEBHOOK_SECRET_ACME": "k"}
    sources = load_sources(environ, sources_file=path, tolerance_s=300)
    assert {name: source.topic for name, source in sources.items()} == {
        "stripe-eu": "webhooks.stripe",
        "sms": "webhooks.twilio",
        "acme": "webhooks.acme",
    }


def test_the_readme_is_a_front_door_linking_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)", readme))
    assert sorted(f"docs/{path.name}" for path in DOCS.glob("*.md") if f"docs/{path.name}" not in linked) == []


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", linked.read_text(), flags=re.DOTALL), re.M)
            if anchor not in {slug(heading) for heading in headings}:
                broken.append(target)
    assert broken == []


def test_every_remember_window_is_a_row_of_the_windows_table() -> None:
    table = page("design.md").split("\n## Remember windows", 1)[1].split("\n## ", 1)[0]
    for name, window in WINDOWS.items():
        assert f"| `{name}` | {window.what} |" in table
        assert f"(`{window.remember_s}`) | {window.source} |" in table


def test_the_readme_counts_the_built_in_providers() -> None:
    # "Stripe, GitHub, ... and N more providers, or any HMAC signer": the named ones, N more and `hmac`.
    opening = " ".join((ROOT / "README.md").read_text().split("\n\n")[1].split())
    match = re.search(r"for AI-agent backends\. (.+?) and (\d+) more \[providers\]", opening)
    assert match is not None, "the README's opening no longer counts the providers"
    named = match.group(1).split(", ")
    assert len(named) + int(match.group(2)) + 1 == len(BUILT_IN_PROVIDERS)
