"""The conformance matrix: every built-in provider against the deliveries a provider's checker sends.

For each provider (`BUILT_IN_PROVIDERS`, none left out) and each case, at the scheme level (no app, no broker):
- valid: signed with the configured secret (or by the provider's key): accepted, by the first secret;
- tampered: the body changed after signing: refused, unless nothing signs the body (`BODY_UNSIGNED` says
  why, and the changed body is then accepted: the matrix asserts that too);
- other_secret: signed with another secret (or a key that isn't the provider's): refused;
- stale, future: signed past the provider's window, back or ahead: refused as stale or future; just inside
  it, both ways: accepted. A provider that signs no time has no window (`WINDOWS` says `None`, and a
  delivery signed hours ago is accepted: a replay is only a duplicate event id), as docs/providers.md says;
- rotated: two secrets configured, a delivery signed with either accepted and matched to its position (a
  provider verified with its published keys: a delivery signed by its rotated key accepted as well).

How each delivery is signed: `send`'s signer (the scheme's `Signing`) where the scheme has one, else the
test signers of cases.py (public-key schemes: only the provider holds the private key) and, for keys the
provider publishes at a URL, keyed_signing.py with the keys served by a local HTTPS server (tests/keyserver.py).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from receiver import sample_sender
from receiver.errors import FutureTimestamp, SignatureError, StaleTimestamp
from receiver.sources import Source, load_sources, public_url_env_name, secret_env_name
from receiver.verify import KeyedScheme, Signing
from receiver.verify.providers import BUILT_IN_PROVIDERS, SPECS, URL_SIGNING_PROVIDERS, scheme_for
from tests import keyed_signing as keyed
from tests.keyed_sources import keyed_sources, serve_keys
from tests.keyserver import KeyServer, running_key_server, signing_certificate
from tests.repository import ROOT
from tests.unit.receiver.verify.cases import CASES, Case

TOLERANCE_S = 300
Request = tuple[bytes, dict[bytes, bytes]]
Signer = Literal["ours", "other", "second"]

# The window each provider's signed time is checked in: (seconds back, seconds ahead), or None where the
# provider signs no time. The receiver's WEBHOOK_TOLERANCE_SECONDS (300 s here) applies both ways, or the
# provider's documented window where it is tighter: Paddle 5 s (its SDKs' default, which its docs tell
# manual checks to apply too), WorkOS 180 s (its SDK's default), Calendly 3 minutes (its docs' check),
# Linear one minute (its SDK). Pub/Sub's token is good until its `exp` (Google issues it for an hour) and
# from its `iat`, with 60 s of clock skew (receiver/verify/pubsub.py). Untimed, by the providers' own
# documentation: GitHub, GitLab, Twilio, Adyen, Graph's clientState, SNS (its `Timestamp` is kept on
# retries, so it can't bound them), and the specs whose provider signs the body alone.
DEFAULT_WINDOW = (TOLERANCE_S, TOLERANCE_S)
DOCUMENTED_WINDOWS = {"paddle": 5, "workos": 180, "calendly": 180, "linear": 60}
CODED_WINDOWS: dict[str, tuple[int, int] | None] = {
    "hmac": None,  # the generic scheme's default: no timestamp header configured
    "github": None,
    "gitlab": None,
    "twilio": None,
    "adyen": None,
    "msgraph": None,
    "sns": None,
    "pubsub": (3600 + 60, 60),
}
WINDOWS: dict[str, tuple[int, int] | None] = {
    provider: CODED_WINDOWS.get(provider, DEFAULT_WINDOW)
    if provider not in SPECS
    else (DEFAULT_WINDOW if SPECS[provider].signature.timed else None)
    for provider in BUILT_IN_PROVIDERS
}
WINDOWS |= {provider: (window, window) for provider, window in DOCUMENTED_WINDOWS.items()}
# Providers whose signature doesn't cover the body: a changed body is accepted (TLS is what protects it).
BODY_UNSIGNED = {
    "gitlab": "the header carries the secret token itself",
    "telegram": "the header carries the secret token itself",
    "okta": "the header carries the secret itself",
    "cloudevents": "a bearer token (the secret itself)",
    "postmark": "HTTP Basic credentials",
    "monday": "an HS256 JWT whose claims name no body hash",
    "msgraph": "each item's clientState equals the secret; nothing is signed",
    "pubsub": "Google's OIDC token names the sender and the audience, not the body",
}

# Secrets in the form the provider shows them: base64 keys (Teams, Airtable), 64 characters (Contentful).
SPEC_SECRETS = {
    "teams": ("dGVhbXMtc2VjdXJpdHktdG9rZW4=", "YW5vdGhlci1zZWNyZXQ="),
    "airtable": ("YWlydGFibGUtbWFjLXNlY3JldA==", "YW5vdGhlci1zZWNyZXQ="),
    "stripe": ("whsec_stripe-signing-secret-1", "whsec_another-stripe-secret"),
    "contentful": ("c0nt3ntfu1-s1gn1ng-s3cr3t-0f-64-charact3rs-ex4ctly-4s-r3qu1r3d0k", "x" * 64),
}
PUBLIC_URL = "https://hooks.example.com/webhooks/{provider}?tenant=7"


@dataclass(frozen=True)
class Party:
    """One provider as the matrix drives it.

    source(rotated): the provider's source, configured with its secret (rotated: another one first).
    sign(signer, now): a delivery signed by "ours" (the configured secret, or the provider's key), "other"
        (another secret, or a key that isn't the provider's) or "second" (the rotated-in secret or key).
    positions: the secret positions "ours" and "second" match under the rotated configuration.
    """

    provider: str
    source: Callable[[bool], Source]
    sign: Callable[[Signer, float], Request]
    tamper: Callable[[Request], Request]
    positions: tuple[int, int] = (1, 0)


def _wire(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}


def _flip_middle_byte(request: Request) -> Request:
    body, headers = request
    index = len(body) // 2
    return body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :], headers


def _append_space(request: Request) -> Request:
    """A changed body that is still the same JSON (what a token scheme can't notice)."""
    return request[0] + b" ", request[1]


def _env_source(provider: str, secrets: str) -> Source:
    environ = {secret_env_name(provider): secrets}
    if provider in URL_SIGNING_PROVIDERS:
        environ[public_url_env_name(provider)] = PUBLIC_URL.format(provider=provider)
    return load_sources(environ, sources_file=None, tolerance_s=TOLERANCE_S)[provider]


def _sent(provider: str) -> Party:
    """A provider whose scheme signs: deliveries are what `send` sends."""
    case = _CASES.get(provider)
    if case is not None:
        secret, other = case.env_value(case.key), case.env_value(case.other)
    else:
        secret, other = SPEC_SECRETS.get(
            provider, (f"{provider}-signing-secret-of-32-bytes-at-least", f"another-{provider}-secret-of-32-bytes")
        )

    def sign(signer: Signer, now: float) -> Request:
        source = _env_source(provider, secret if signer == "ours" else other)
        request = sample_sender.sign(source, None, None, now)
        return request.body, _wire(request.headers)

    return Party(
        provider,
        source=lambda rotated: _env_source(provider, f"{other},{secret}" if rotated else secret),
        sign=sign,
        tamper=_tamper(provider, case),
    )


def _tamper(provider: str, case: Case | None) -> Callable[[Request], Request]:
    """The provider's way to change a signed delivery (cases.py's where the signature is in the body)."""
    if provider in BODY_UNSIGNED:
        return _append_space
    if provider == "adyen":  # Adyen signs fields of each item, not the body: change a signed one
        return lambda request: (request[0].replace(b'"value":1130', b'"value":9130', 1), request[1])
    if case is None:
        return _flip_middle_byte

    def tamper(request: Request) -> Request:
        body, headers = case.tamper(request[0], {k.decode(): v.decode("latin-1") for k, v in request[1].items()})
        return body, _wire(headers)

    return tamper


def _case(case: Case) -> Party:
    """A provider only the test signers of cases.py can sign for (a public key verifies)."""

    def source(rotated: bool) -> Source:
        configured = case.env_value(case.key)
        if rotated:
            configured = f"{case.env_value(case.other)},{configured}"
        environ = {secret_env_name(case.source): configured, **case.extra_env}
        return load_sources(environ, sources_file=None, tolerance_s=TOLERANCE_S)[case.source]

    def sign(signer: Signer, now: float) -> Request:
        body, headers = case.make(case.key if signer == "ours" else case.other, int(now))
        return body, _wire(headers)

    return Party(case.source, source=source, sign=sign, tamper=_tamper(case.source, case))


# ------------------------------------------------------------------------------- keys at a provider's URL

SNS_SECOND_CERT_PATH = "/SimpleNotificationService-1111111111111111111111.pem"
PAYPAL_SECOND_CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-rotated0"
AWS_ROTATED, PAYPAL_ROTATED = keyed.OTHER_RSA, keyed.GOOGLE_ROTATED
PLAID_ROTATED, PLAID_FOREIGN = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())


def _serve_keys(server: KeyServer) -> None:
    serve_keys(server)
    server.serve(SNS_SECOND_CERT_PATH, signing_certificate(AWS_ROTATED, "sns.amazonaws.com"))
    server.serve(PAYPAL_SECOND_CERT_PATH, signing_certificate(PAYPAL_ROTATED, "messageverificationcerts.paypal.com"))
    certs = {"g1": signing_certificate(keyed.GOOGLE_KEY, "accounts.google.com")}
    certs["g2"] = signing_certificate(keyed.GOOGLE_ROTATED, "accounts.google.com")
    server.serve(keyed.GOOGLE_CERTS_PATH, keyed.google_certs(certs))


def _keyed(server: KeyServer, provider: str) -> Party:
    def source(rotated: bool) -> Source:
        return keyed_sources(server)[provider]

    def sign(signer: Signer, now: float) -> Request:
        if provider == "sns":
            key, path = {
                "ours": (keyed.AWS_KEY, keyed.SNS_CERT_PATH),
                "other": (keyed.OTHER_RSA, keyed.SNS_CERT_PATH),
            }.get(signer, (AWS_ROTATED, SNS_SECOND_CERT_PATH))
            body = keyed.sns_body(key, server.url(path))
            return body, _wire(keyed.sns_headers(body))
        if provider == "paypal":
            key, path = {
                "ours": (keyed.PAYPAL_KEY, keyed.PAYPAL_CERT_PATH),
                "other": (keyed.OTHER_RSA, keyed.PAYPAL_CERT_PATH),
            }.get(signer, (PAYPAL_ROTATED, PAYPAL_SECOND_CERT_PATH))
            return keyed.PAYPAL_EVENT, _wire(
                keyed.paypal_headers(keyed.PAYPAL_EVENT, key, server.url(path), keyed.WEBHOOK_ID, int(now))
            )
        if provider == "plaid":
            plaid_key, kid = {"ours": (keyed.PLAID_KEY, "k1"), "other": (PLAID_FOREIGN, "k1")}.get(
                signer, (PLAID_ROTATED, "k2")
            )
            if signer == "second":  # Plaid's key endpoint answers the rotated key for its new kid
                server.serve(
                    keyed.PLAID_KEY_PATH,
                    orjson.dumps({"key": keyed.plaid_jwk(PLAID_ROTATED, "k2"), "request_id": "r2"}),
                )
            return keyed.PLAID_EVENT, _wire(keyed.plaid_headers(keyed.PLAID_EVENT, plaid_key, kid, issued_at=int(now)))
        google_key, kid = {"ours": (keyed.GOOGLE_KEY, "g1"), "other": (keyed.OTHER_RSA, "g1")}.get(
            signer, (keyed.GOOGLE_ROTATED, "g2")
        )
        token = keyed.pubsub_token(google_key, kid, keyed.AUDIENCE, issued_at=int(now))
        return keyed.pubsub_body(), {b"content-type": b"application/json", b"authorization": f"Bearer {token}".encode()}

    def tamper(request: Request) -> Request:
        body, headers = request
        if provider == "sns":
            document = orjson.loads(body)
            document["Message"] = document["Message"].replace("4200", "9900")
            return orjson.dumps(document), headers
        if provider == "pubsub":
            return _append_space(request)
        return body.replace(b"COMPLETED", b"DECLINED").replace(b"SYNC_UPDATES", b"XYNC_UPDATES"), headers

    # One identity configured (topic, webhook id, credential, audience): both of the provider's keys match it.
    return Party(provider, source=source, sign=sign, tamper=tamper, positions=(0, 0))


KEYED = ("sns", "paypal", "plaid", "pubsub")
# The first case of each provider cases.py signs for, used where `send` can't sign.
_CASES = {case.source: case for case in reversed(CASES)}


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeyServer]:
    yield from running_key_server()


@pytest.fixture
def party(request: pytest.FixtureRequest, key_server: KeyServer) -> Party:
    provider: str = request.param
    if provider in KEYED:
        _serve_keys(key_server)
        return _keyed(key_server, provider)
    if isinstance(scheme_for(provider, tolerance_s=TOLERANCE_S), Signing):
        return _sent(provider)
    return _case(_CASES[provider])


def _verify(party: Party, request: Request, now: float, *, rotated: bool = False) -> int:
    source = party.source(rotated)
    body, headers = request
    return _run(source, headers, body, now)


def _run(source: Source, headers: dict[bytes, bytes], body: bytes, now: float) -> int:
    scheme = source.scheme
    if isinstance(scheme, KeyedScheme):
        asyncio.run(scheme.load_keys(headers, body, source.secrets))
    return scheme.verify(headers, body, source.secrets, now)


MATRIX = pytest.mark.parametrize("party", BUILT_IN_PROVIDERS, indirect=True)


@MATRIX
def test_valid(party: Party) -> None:
    now = time.time()
    assert _verify(party, party.sign("ours", now), now) == 0


@MATRIX
def test_tampered_body(party: Party) -> None:
    now = time.time()
    signed = party.sign("ours", now)
    tampered = party.tamper(signed)
    assert tampered[0] != signed[0]
    if party.provider in BODY_UNSIGNED:
        assert _verify(party, tampered, now) == 0, BODY_UNSIGNED[party.provider]
    else:
        with pytest.raises(SignatureError) as refused:
            _verify(party, tampered, now)
        assert not isinstance(refused.value, StaleTimestamp)


@MATRIX
def test_other_secret(party: Party) -> None:
    now = time.time()
    with pytest.raises(SignatureError) as refused:
        _verify(party, party.sign("other", now), now)
    assert not isinstance(refused.value, StaleTimestamp)


def _margin(window_s: int) -> int:
    """How far inside and beyond a window the matrix signs: 30 s, or less for a window of seconds."""
    return max(2, min(30, window_s // 2))


@MATRIX
def test_stale_timestamp(party: Party) -> None:
    now = time.time()
    window = WINDOWS[party.provider]
    if window is None:  # no signed time: hours later, the same delivery is still good (a duplicate id)
        assert _verify(party, party.sign("ours", now - 6 * 3600), now) == 0
        return
    back, _ = window
    assert _verify(party, party.sign("ours", now - back + _margin(back)), now) == 0
    with pytest.raises(StaleTimestamp) as refused:
        _verify(party, party.sign("ours", now - back - _margin(back)), now)
    assert not isinstance(refused.value, FutureTimestamp)


@MATRIX
def test_future_timestamp(party: Party) -> None:
    now = time.time()
    window = WINDOWS[party.provider]
    if window is None:
        assert _verify(party, party.sign("ours", now + 6 * 3600), now) == 0
        return
    _, ahead = window
    assert _verify(party, party.sign("ours", now + ahead - _margin(ahead)), now) == 0
    with pytest.raises(FutureTimestamp):
        _verify(party, party.sign("ours", now + ahead + _margin(ahead)), now)


@MATRIX
def test_rotated_secrets(party: Party) -> None:
    now = time.time()
    ours, second = party.positions
    assert _verify(party, party.sign("ours", now), now, rotated=True) == ours
    assert _verify(party, party.sign("second", now), now, rotated=True) == second


def test_the_windows_are_the_ones_the_providers_table_states() -> None:
    # docs/providers.md's "window" column (the 6th) says "none" exactly for the providers signing no time
    # (`hmac`: "with `timestamp_header` only", and none is configured by default).
    page = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    untimed: set[str] = set()
    for row in re.findall(r"^\| (`[a-z0-9_-]+`(?:, `[a-z0-9_-]+`)*) \|(.*)$", page, flags=re.MULTILINE):
        cells = [cell.strip() for cell in row[1].split(" | ")]
        if len(cells) >= 5 and cells[4].startswith(("none", "with `timestamp_header` only")):
            untimed.update(re.findall(r"`([a-z0-9_-]+)`", row[0]))
    assert sorted(untimed & set(BUILT_IN_PROVIDERS)) == sorted(p for p, w in WINDOWS.items() if w is None)


# Providers that put several signatures in one delivery while they rotate a secret (their docs say so): a
# delivery signed with the old and the new secret is good for a receiver holding either, by the one header
# layout each documents. (provider, how the other secret's headers join ours.)
def _joined(header: str, separator: str, keep: Callable[[str], str] = lambda value: value) -> Callable[..., None]:
    def join(ours: dict[str, str], theirs: dict[str, str]) -> None:
        ours[header] = ours[header] + separator + keep(theirs[header])

    return join


def _signature_items(prefix: str) -> Callable[[str], str]:
    """The signature entries of an items header (without its timestamp entry)."""
    return lambda value: ",".join(item for item in value.split(",") if item.startswith(prefix))


ROTATING: dict[str, Callable[[dict[str, str], dict[str, str]], None]] = {
    "stripe": _joined("stripe-signature", ",", _signature_items("v1=")),
    "paddle": _joined("paddle-signature", ";", lambda value: value.split(";", 1)[1]),
    "persona": _joined("persona-signature", " "),
    "pagerduty": _joined("x-pagerduty-signature", ","),
    "standardwebhooks": _joined("webhook-signature", " "),
    "openai": _joined("webhook-signature", " "),
    "svix": _joined("svix-signature", " "),
    "resend": _joined("svix-signature", " "),
    "docusign": lambda ours, theirs: ours.update(
        {
            "x-docusign-signature-1": theirs["x-docusign-signature-1"],
            "x-docusign-signature-2": ours.pop("x-docusign-signature-1"),
        }
    ),
}


@pytest.mark.parametrize("provider", sorted(ROTATING))
def test_a_provider_rotating_its_secret_signs_with_both_and_either_verifies(provider: str) -> None:
    party = _sent(provider)
    ours, other = party.source(False), _env_source(provider, party.source(True).secrets[0].decode())
    assert isinstance(ours.scheme, Signing)
    now = time.time()
    sample = ours.scheme.sample(now, event_id="evt_rotating_1", event_type=None)
    signed = [
        ours.scheme.sign(sample.body, source.secrets[0], now, event_id=sample.event_id, event_type=sample.event_type)
        for source in (ours, other)
    ]
    headers, theirs = ({k.lower(): v for k, v in delivery.headers.items()} for delivery in signed)
    ROTATING[provider](headers, theirs)
    for secrets in (ours.secrets, other.secrets):
        assert ours.scheme.verify(_wire(headers), sample.body, secrets, now) == 0
    stranger = b"a-third-secret-that-signed-nothing-here"
    if ours.secrets[0].startswith(b"whsec_"):
        stranger = b"whsec_" + base64.b64encode(stranger)
    with pytest.raises(SignatureError):
        ours.scheme.verify(_wire(headers), sample.body, (stranger,), now)


@pytest.mark.parametrize(
    ("provider", "prefix"), [("svix", "svix-"), ("clerk", "svix-"), ("resend", "svix-"), ("openai", "webhook-")]
)
def test_send_names_the_standard_webhooks_headers_as_the_provider_does(provider: str, prefix: str) -> None:
    # Svix, and the providers sending through it (Clerk, Resend), name them svix-id, svix-timestamp and
    # svix-signature; the specification's webhook-* names are the others'.
    party = _sent(provider)
    signed = sample_sender.sign(party.source(False), None, None, time.time())
    names = {name for name in signed.headers if name != "content-type"}
    assert names == {f"{prefix}id", f"{prefix}timestamp", f"{prefix}signature"}
