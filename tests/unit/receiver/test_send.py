"""`python -m receiver send`: what it signs verifies with the receiver's schemes and the provider's own SDK."""

from __future__ import annotations

import dataclasses
import time

import orjson
import pytest
import stripe

from receiver import sample_sender
from receiver.errors import ConfigError, SignatureError
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify import DiscordScheme, GitHubScheme, HmacScheme, StripeScheme
from receiver.verify.base import Headers
from schemas.payloads import payload_model
from tests.unit.receiver.verify.cases import ACME_HMAC

NOW = time.time()


def as_headers(request: sample_sender.SignedRequest) -> Headers:
    return {name.lower().encode(): value.encode() for name, value in request.headers.items()}


def verified(source: Source, request: sample_sender.SignedRequest) -> tuple[str, str]:
    """The event id and type the receiver would publish; raises where the signature doesn't verify."""
    headers = as_headers(request)
    assert source.scheme.verify(headers, request.body, source.secrets, NOW) == 0
    description = source.scheme.describe(source.name, headers, request.body)
    return description.id, description.type


def test_a_generic_hmac_sample_verifies_with_a_fresh_id_each_time() -> None:
    source = Source("hmac", HmacScheme(), (b"dev-secret",), "webhooks.hmac")
    first, second = (sample_sender.sign(source, None, None, NOW) for _ in range(2))
    assert first.headers["X-Signature-256"].startswith("sha256=")
    (id1, type1), (id2, _) = verified(source, first), verified(source, second)
    assert type1 == "order.created"
    assert id1 != id2
    assert orjson.loads(first.body)["data"]["amount"] == 4200


def test_a_custom_hmac_source_is_signed_with_its_own_conventions() -> None:
    scheme = dataclasses.replace(
        ACME_HMAC,
        algorithm="sha512",
        signed_content="{timestamp}.{id}.{body}",
        id_header="X-Acme-Event",
        type_header="X-Acme-Kind",
    )
    source = Source("acme", scheme, (b"acme-key",), "webhooks.acme")
    request = sample_sender.sign(source, None, "invoice.paid", NOW)
    event_id, event_type = verified(source, request)
    assert (event_id, event_type) == (request.headers["X-Acme-Event"], "invoice.paid")


def test_a_github_sample_verifies_and_takes_event_and_action_from_type() -> None:
    source = Source("github", GitHubScheme(), (b"dev-github-secret",), "webhooks.github")
    request = sample_sender.sign(source, None, "pull_request.closed", NOW)
    event_id, event_type = verified(source, request)
    assert (event_id, event_type) == (request.headers["x-github-delivery"], "pull_request.closed")
    assert orjson.loads(request.body)["repository"]["full_name"] == "octocat/hello-world"


def test_a_stripe_sample_verifies_with_stripes_own_sdk() -> None:
    source = Source("stripe", StripeScheme(tolerance_s=300), (b"whsec_dev",), "webhooks.stripe")
    request = sample_sender.sign(source, None, "charge.refunded", NOW)
    stripe.WebhookSignature.verify_header(request.body.decode(), request.headers["stripe-signature"], "whsec_dev")
    event_id, event_type = verified(source, request)
    assert event_type == "charge.refunded"
    assert event_id == orjson.loads(request.body)["id"]


def test_a_given_body_is_sent_as_is() -> None:
    source = Source("hmac", HmacScheme(), (b"dev-secret",), "webhooks.hmac")
    body = b'{"id":"evt_mine","type":"custom.thing"}'
    request = sample_sender.sign(source, body, None, NOW)
    assert request.body == body
    assert verified(source, request) == ("evt_mine", "custom.thing")


# Secrets as each provider issues them (Adyen: a hex HMAC key), and the type of the sample.
SIGNED_IN_CODE = {
    "twitch": "twitch-secret",
    "linear": "lin_wh_secret",
    "gitlab": "gitlab-token",
    "mailgun": "key-mailgun",
    "msgraph": "client-state-7",
    "adyen": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
}
SAMPLE_TYPES = {
    "twitch": "channel.follow",
    "linear": "Issue.create",
    "gitlab": "merge_request.open",
    "mailgun": "delivered",
    "msgraph": "created",
    "adyen": "AUTHORISATION",
}


@pytest.mark.parametrize("provider", sorted(SIGNED_IN_CODE))
def test_send_signs_every_hmac_scheme_in_code_and_the_sample_matches_the_payload_model(provider: str) -> None:
    sources = load_sources({secret_env_name(provider): SIGNED_IN_CODE[provider]}, sources_file=None, tolerance_s=300)
    request = sample_sender.sign(sources[provider], None, None, NOW)
    event_id, event_type = verified(sources[provider], request)
    assert event_type == SAMPLE_TYPES[provider]
    assert event_id
    model = payload_model(provider)
    assert model is not None
    model.model_validate_json(request.body)
    other = Source(provider, sources[provider].scheme, (SIGNED_IN_CODE[provider][::-1].encode(),), "t")
    with pytest.raises(SignatureError):
        other.scheme.verify(as_headers(request), request.body, other.secrets, NOW)


@pytest.mark.parametrize("provider", ["adyen", "msgraph", "mailgun"])
def test_a_given_body_is_signed_inside_where_the_provider_signs_inside(provider: str) -> None:
    sources = load_sources({secret_env_name(provider): SIGNED_IN_CODE[provider]}, sources_file=None, tolerance_s=300)
    sample = sample_sender.sign(sources[provider], None, None, NOW)
    again = sample_sender.sign(sources[provider], sample.body, None, NOW)
    verified(sources[provider], again)
    with pytest.raises(ConfigError, match="can't sign this body"):
        sample_sender.sign(sources[provider], b"[1, 2]", None, NOW)


def test_a_source_whose_scheme_it_cannot_sign_is_refused() -> None:
    # Discord verifies with the application's public key: only Discord holds the private key that signs.
    source = Source("discord", DiscordScheme(tolerance_s=300), (b"ab" * 32,), "webhooks.discord")
    with pytest.raises(ConfigError, match="discord scheme has no signer"):
        sample_sender.sign(source, None, None, NOW)


def test_the_configured_secret_is_the_one_used() -> None:
    # The first of several (rotation): the one the receiver tries first.
    sources = load_sources({"WEBHOOK_SECRET_HMAC": "new-secret,old-secret"}, sources_file=None, tolerance_s=300)
    request = sample_sender.sign(sources["hmac"], None, None, NOW)
    only_new = Source("hmac", HmacScheme(), (b"new-secret",), "webhooks.hmac")
    verified(only_new, request)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["nosuch"], {}, "source 'nosuch' is not enabled: set WEBHOOK_SECRET_NOSUCH"),
        (["discord"], {"WEBHOOK_SECRET_DISCORD": "ab" * 32}, "discord scheme has no signer"),
        (["hmac", "--handshake"], {"WEBHOOK_SECRET_HMAC": "x"}, "hmac has no handshake (its handshakes: none)"),
        (["hmac", "--file", "/nonexistent.json"], {"WEBHOOK_SECRET_HMAC": "x"}, "cannot read /nonexistent.json"),
    ],
)
def test_usage_and_configuration_errors_are_one_line_and_exit_2(
    argv: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert sample_sender.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_count_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sample_sender.main(["hmac", "--count", "0"])
    assert exit_info.value.code == 2
    assert "no positive whole number" in capsys.readouterr().err


def test_nothing_listening_is_a_failure_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_HMAC", "dev-secret")
    # Port 9 (discard) on loopback: nothing listens there in a test environment, so the connection is refused.
    assert sample_sender.main(["hmac", "--url", "http://127.0.0.1:9/webhooks/hmac"]) == 1
    assert capsys.readouterr().out.startswith("no answer ")
