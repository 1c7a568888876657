from __future__ import annotations

from pathlib import Path

import pytest

from receiver.errors import ConfigError
from receiver.sources import load_sources
from receiver.verify import HmacScheme, StripeScheme


def load(environ: dict[str, str], sources_file: Path | None = None) -> dict[str, object]:
    return dict(load_sources(environ, sources_file=sources_file, tolerance_s=300))


def test_built_in_sources_are_enabled_by_their_secret() -> None:
    sources = load_sources({"WEBHOOK_SECRET_GITHUB": "a", "PATH": "/bin"}, sources_file=None, tolerance_s=300)
    assert list(sources) == ["github"]
    assert sources["github"].topic == "webhooks.github"
    assert sources["github"].secrets == (b"a",)


def test_comma_separated_secrets_are_all_accepted() -> None:
    sources = load_sources({"WEBHOOK_SECRET_STRIPE": "whsec_old, whsec_new"}, sources_file=None, tolerance_s=60)
    assert sources["stripe"].secrets == (b"whsec_old", b"whsec_new")
    assert sources["stripe"].scheme == StripeScheme(tolerance_s=60)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WEBHOOK_SECRET_GITHB": "x"}, "WEBHOOK_SECRET_GITHB names no source"),
        ({"WEBHOOK_SECRET_GITHUB": ""}, "WEBHOOK_SECRET_GITHUB is set but holds no secret"),
        ({"WEBHOOK_SECRET_GITHUB": " , "}, "WEBHOOK_SECRET_GITHUB is set but holds no secret"),
    ],
)
def test_bad_secret_variables_name_themselves(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(environ)


def test_sources_file_adds_custom_sources(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        """
[sources.stripe-eu]
provider = "stripe"
secrets_env = "EU_SECRET"

[sources.acme]
provider = "hmac"
topic = "webhooks.acme"
header = "X-Acme-Signature"
prefix = ""
algorithm = "sha512"
encoding = "base64"
"""
    )
    sources = load_sources(
        {"EU_SECRET": "whsec_eu", "WEBHOOK_SECRET_ACME": "k1,k2"}, sources_file=path, tolerance_s=300
    )
    assert sorted(sources) == ["acme", "stripe-eu"]
    assert sources["stripe-eu"].topic == "webhooks.stripe"
    assert sources["acme"].topic == "webhooks.acme"
    assert sources["acme"].scheme == HmacScheme(
        header="X-Acme-Signature", prefix="", algorithm="sha512", encoding="base64"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sources.x\n", "not valid TOML"),
        ('[sources.Bad_Name]\nprovider = "hmac"\n', "sources.Bad_Name"),
        ('[sources.x]\nprovider = "paypal"\n', "sources.x.provider"),
        ('[sources.x]\nprovider = "hmac"\nalgorithm = "md5"\n', "sources.x.algorithm"),
        ('[sources.x]\nprovider = "hmac"\nsecret = "inline"\n', "sources.x.secret: Extra inputs"),
        ('[sources.x]\nprovider = "github"\nheader = "X-Sig"\n', "apply to provider 'hmac' only"),
        ('[sources.x]\nprovider = "hmac"\ntopic = "bad topic"\n', "sources.x.topic"),
        ('[sources.x]\nprovider = "hmac"\n', "source 'x' has no secret: set WEBHOOK_SECRET_X"),
    ],
)
def test_malformed_sources_file_names_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load({}, path)


def test_unreadable_sources_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load({}, tmp_path / "missing.toml")


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[sources.x]\nprovider = "hmac"\nsecrets = ["hunter2-inline"]\n')
    with pytest.raises(ConfigError) as caught:
        load({}, path)
    assert "hunter2" not in str(caught.value)
