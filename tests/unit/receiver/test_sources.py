from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from receiver.errors import ConfigError
from receiver.sources import load_sources, secret_env_name
from receiver.verify import HmacScheme, SlackScheme, StripeScheme, TwilioScheme
from receiver.verify.providers import BUILT_IN_PROVIDERS, SPECS, scheme_for
from tests.unit.receiver.verify.cases import ACME_HMAC


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
        ('[sources.x]\nprovider = "nosuch"\n', "provider 'nosuch' is not a built-in one"),
        ("[sources.x]\n", "set provider"),
        ('[sources.x]\nprovider = "zoom"\n[sources.x.signature]\nheader = "X"\n', "'zoom' is a built-in one"),
        ('[sources.x]\nprovider = "hmac"\n[sources.x.event]\nid = ["body:id"]\n', "own signature table only"),
        ('[sources.x]\n[sources.x.signature]\nheader = "X"\nsigned = "{timestamp}{body}"\n', "set timestamp_header"),
        ('[sources.x]\n[sources.x.signature]\nheader = "X"\nsigned = "{nonce}{body}"\n', "only use the placeholders"),
        ('[sources.x]\n[sources.x.signature]\nheader = "X"\n[[sources.x.handshakes]]\nkind = "nope"\n', "kind"),
        ('[sources.x]\nprovider = "hmac"\nalgorithm = "md5"\n', "sources.x.algorithm"),
        ('[sources.x]\nprovider = "hmac"\nsecret = "inline"\n', "sources.x.secret: Extra inputs"),
        ('[sources.x]\nprovider = "github"\nheader = "X-Sig"\n', "apply to provider 'hmac' only"),
        ('[sources.x]\nprovider = "hmac"\ntopic = "bad topic"\n', "sources.x.topic"),
        ('[sources.x]\nprovider = "hmac"\n', "source 'x' has no secret: set WEBHOOK_SECRET_X"),
        # The generic HMAC scheme's own options.
        ('[sources.x]\nprovider = "hmac"\nsigned_content = "{timestamp}.x"\n', "signed_content must contain {body}"),
        ('[sources.x]\nprovider = "hmac"\nsigned_content = "{timestamp}.{body}"\n', "set timestamp_header"),
        ('[sources.x]\nprovider = "hmac"\nsigned_content = "{id}.{body}"\n', "set id_header"),
        ('[sources.x]\nprovider = "hmac"\nsigned_content = "{when}.{body}"\n', "may only use the placeholders"),
        ('[sources.x]\nprovider = "hmac"\nid_field = "a..b"\n', "sources.x.id_field"),
        ('[sources.x]\nprovider = "hmac"\ntimestamp_unit = "ns"\n', "sources.x.timestamp_unit"),
        ('[sources.x]\nprovider = "slack"\ntimestamp_header = "X-T"\n', "apply to provider 'hmac' only"),
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


# ------------------------------------------------------------------------------ the other providers


def test_every_built_in_provider_has_a_default_source() -> None:
    environ = {f"WEBHOOK_SECRET_{name.upper()}": "k" for name in BUILT_IN_PROVIDERS}
    environ.update(
        {
            "WEBHOOK_SECRET_STANDARDWEBHOOKS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_SVIX": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_CLERK": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_OPENAI": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_ANTHROPIC": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_RESEND": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_REPLICATE": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_BREX": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "WEBHOOK_SECRET_DISCORD": "00" * 32,
            "WEBHOOK_SECRET_SENDGRID": (
                "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhd"
                "bcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
            ),
            "WEBHOOK_SECRET_TELNYX": "VV9GnCIYjpABW92FuIlnjUWfhr349700lxsQubOFhgk=",
            "WEBHOOK_SECRET_SNS": "arn:aws:sns:us-east-1:123456789012:agent-events",
            "WEBHOOK_SECRET_PLAID": "client-id:plaid-secret",
            "WEBHOOK_PUBLIC_URL_TWILIO": "https://hooks.example.com/webhooks/twilio",
            "WEBHOOK_PUBLIC_URL_SQUARE": "https://hooks.example.com/webhooks/square",
            "WEBHOOK_PUBLIC_URL_HUBSPOT": "https://hooks.example.com/webhooks/hubspot",
            "WEBHOOK_SECRET_ADYEN": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
            "WEBHOOK_PUBLIC_URL_TRELLO": "https://hooks.example.com/webhooks/trello",
            "WEBHOOK_PUBLIC_URL_MANDRILL": "https://hooks.example.com/webhooks/mandrill",
            "WEBHOOK_PUBLIC_URL_CONTENTFUL": "https://hooks.example.com/webhooks/contentful",
            "WEBHOOK_SECRET_CONTENTFUL": "c" * 64,
        }
    )
    # Specs whose key is encoded take the secret in that encoding (Teams, Airtable: base64).
    encoded = {"base64": "a2V5LWJ5dGVz", "hex": "6b65792d6279746573"}
    for name, spec in SPECS.items():
        if spec.signature.key in encoded:
            environ[secret_env_name(name)] = encoded[spec.signature.key]
    sources = load_sources(environ, sources_file=None, tolerance_s=300)
    assert sorted(sources) == sorted(BUILT_IN_PROVIDERS)
    for name, source in sources.items():
        assert (source.provider, source.topic) == (name, f"webhooks.{name}")
    assert sources["slack"].scheme == SlackScheme(tolerance_s=300)
    assert sources["twilio"].scheme == TwilioScheme(public_url="https://hooks.example.com/webhooks/twilio")


def test_public_url_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[sources.twilio-eu]\nprovider = "twilio"\npublic_url = "https://eu.example.com/webhooks/twilio-eu"\n'
        '[sources.square-2]\nprovider = "square"\npublic_url = "https://file.example.com/x"\n'
    )
    environ = {
        "WEBHOOK_SECRET_TWILIO_EU": "tok",
        "WEBHOOK_SECRET_SQUARE_2": "key",
        "WEBHOOK_PUBLIC_URL_SQUARE_2": "https://env.example.com/webhooks/square-2",
    }
    sources = load_sources(environ, sources_file=path, tolerance_s=300)
    assert sources["twilio-eu"].scheme == TwilioScheme(public_url="https://eu.example.com/webhooks/twilio-eu")
    # The environment wins: the URL follows the deployment, the file the provider's configuration.
    assert sources["square-2"].scheme == scheme_for(
        "square", tolerance_s=300, public_url="https://env.example.com/webhooks/square-2"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WEBHOOK_SECRET_TWILIO": "tok"}, "set WEBHOOK_PUBLIC_URL_TWILIO or public_url"),
        ({"WEBHOOK_SECRET_HUBSPOT": "s", "WEBHOOK_PUBLIC_URL_HUBSPOT": "ftp://x/y"}, "absolute http"),
        ({"WEBHOOK_SECRET_SQUARE": "s", "WEBHOOK_PUBLIC_URL_SQUARE": "https://x:99999/y"}, "absolute http"),
        ({"WEBHOOK_SECRET_SQUARE": "s", "WEBHOOK_PUBLIC_URL_SQUARE": "https:///y"}, "absolute http"),
        ({"WEBHOOK_SECRET_SLACK": "s", "WEBHOOK_PUBLIC_URL_SLACK": "https://x/y"}, "providers that sign it"),
        ({"WEBHOOK_PUBLIC_URL_NOPE": "https://x/y"}, "WEBHOOK_PUBLIC_URL_NOPE names no source"),
        ({"WEBHOOK_SECRET_STANDARDWEBHOOKS": "whsec_!!!"}, "WEBHOOK_SECRET_STANDARDWEBHOOKS: secret 0: .*base64"),
        ({"WEBHOOK_SECRET_SVIX": "whsec_"}, "WEBHOOK_SECRET_SVIX: secret 0: .*empty"),
        ({"WEBHOOK_SECRET_DISCORD": "00" * 32 + ",zz"}, "WEBHOOK_SECRET_DISCORD: secret 1: .*Ed25519"),
        ({"WEBHOOK_SECRET_SENDGRID": "c2VjcmV0"}, "WEBHOOK_SECRET_SENDGRID: secret 0: .*P-256"),
    ],
)
def test_bad_provider_configuration_names_itself_and_never_the_secret(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(environ)
    assert "c2VjcmV0" not in str(caught.value)


def test_generic_hmac_options_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(
        """
[sources.acme]
provider = "hmac"
header = "X-Acme-Signature"
prefix = ""
encoding = "base64"
timestamp_header = "X-Acme-Timestamp"
timestamp_unit = "ms"
signed_content = "{id}:{timestamp}:{body}"
id_header = "X-Acme-Id"
type_field = "event.kind"
"""
    )
    sources = load_sources({"WEBHOOK_SECRET_ACME": "k"}, sources_file=path, tolerance_s=60)
    assert sources["acme"].scheme == dataclasses.replace(ACME_HMAC, type_field="event.kind", tolerance_s=60)
