"""Our verifiers against the providers' own code and published test vectors.

Where the SDK can sign, tests/signing.py signs with it (exercised by test_providers.py); here the SDKs
verify what our test signers produce where they can only verify (Square, SendGrid), the SDK verifiers
agree with ours on the same bytes, and the providers' published vectors verify (each names its source).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import razorpay  # type: ignore[import-untyped]
import standardwebhooks
import svix.webhooks
from Adyen import util as adyen_util  # type: ignore[import-untyped]
from anthropic import Anthropic
from box_sdk_gen.managers.webhooks import WebhooksManager
from coinbase_commerce.error import SignatureVerificationError  # type: ignore[import-untyped]
from coinbase_commerce.webhook import Webhook as CoinbaseWebhook  # type: ignore[import-untyped]
from elevenlabs import ElevenLabs
from elevenlabs.errors import BadRequestError as ElevenLabsBadRequest
from hubspot.utils.signature import Signature  # type: ignore[import-untyped]
from openai import InvalidWebhookSignatureError, OpenAI
from paddle_billing.Notifications.Secret import Secret  # type: ignore[import-untyped]
from paddle_billing.Notifications.Verifier import Verifier  # type: ignore[import-untyped]
from retell import Retell
from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped]
from slack_sdk.signature import SignatureVerifier
from square.utils.webhooks_helper import verify_signature as square_verify
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from workos import WorkOSClient

from receiver import sample_sender
from receiver.errors import SignatureError
from receiver.sources import Source, load_sources, public_url_env_name, secret_env_name
from receiver.verify import (
    HubSpotScheme,
    SendGridScheme,
    SlackScheme,
    StandardWebhooksScheme,
    TwilioScheme,
)
from receiver.verify.hubspot import signed_uri
from receiver.verify.providers import scheme_for
from tests.signing import (
    hubspot_headers,
    paddle_headers,
    sendgrid_headers,
    sendgrid_public_key,
    slack_headers,
    square_headers,
    standard_headers,
    twilio_headers,
)
from tests.unit.receiver.verify.cases import SENDGRID_KEY


def raw(headers: dict[str, str]) -> dict[bytes, bytes]:
    return {name.lower().encode(): value.encode("latin-1") for name, value in headers.items()}


# ---------------------------------------------------------------------------------------------- slack


def test_slack_documented_example() -> None:
    # Slack docs, "Verifying requests from Slack": the worked example's secret, timestamp, body and signature.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        b"x-slack-request-timestamp": b"1531420618",
        b"x-slack-signature": b"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    assert SlackScheme().verify(headers, body, [b"8f742231b10e8888abcd99yyyzzz85a5"], 1531420618 + 10) == 0
    with pytest.raises(SignatureError):
        SlackScheme().verify(headers, body + b"x", [b"8f742231b10e8888abcd99yyyzzz85a5"], 1531420618)


def test_slack_sdk_verifier_agrees() -> None:
    body = b'{"type":"event_callback","event_id":"Ev1"}'
    headers = slack_headers(body, "s3cret")
    assert SignatureVerifier("s3cret").is_valid_request(body, headers)
    SlackScheme().verify(raw(headers), body, [b"s3cret"], time.time())


# ---------------------------------------------------------------------------- standard webhooks / svix

# The Standard Webhooks reference libraries' test vector (standardwebhooks and svix test suites).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_HEADERS = {
    b"webhook-id": b"msg_p5jXN8AQM9LWM0D4loKWxJek",
    b"webhook-timestamp": b"1614265330",
    b"webhook-signature": b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
VECTOR_BODY = b'{"test": 2432232314}'


def test_standard_webhooks_published_vector() -> None:
    StandardWebhooksScheme().verify(VECTOR_HEADERS, VECTOR_BODY, [VECTOR_SECRET.encode()], 1614265330)
    svix_headers = {name.replace(b"webhook-", b"svix-"): value for name, value in VECTOR_HEADERS.items()}
    StandardWebhooksScheme(provider="svix").verify(svix_headers, VECTOR_BODY, [VECTOR_SECRET.encode()], 1614265330)
    # A secret without the whsec_ prefix is the same key, as in the reference libraries.
    StandardWebhooksScheme().verify(VECTOR_HEADERS, VECTOR_BODY, [VECTOR_SECRET[6:].encode()], 1614265330)


def test_standard_webhooks_any_of_several_signatures() -> None:
    headers = {**VECTOR_HEADERS, b"webhook-signature": b"v1a,AAAA v1,bm9wZQ== " + VECTOR_HEADERS[b"webhook-signature"]}
    StandardWebhooksScheme().verify(headers, VECTOR_BODY, [VECTOR_SECRET.encode()], 1614265330)


def test_standard_webhooks_and_svix_libraries_accept_what_they_signed_and_so_do_we() -> None:
    body = b'{"type":"invoice.paid"}'
    for svix_names in (False, True):
        headers = standard_headers(body, VECTOR_SECRET, "msg_1", svix_names=svix_names)
        if svix_names:
            svix.webhooks.Webhook(VECTOR_SECRET).verify(body, headers)
        else:
            standardwebhooks.Webhook(VECTOR_SECRET).verify(body, headers)
        StandardWebhooksScheme().verify(raw(headers), body, [VECTOR_SECRET.encode()], time.time())


# --------------------------------------------------------------------------------------------- twilio


def test_twilio_documented_example() -> None:
    # Twilio docs, "Webhooks security": auth token 12345, this URL and these parameters.
    scheme = TwilioScheme(public_url="https://mycompany.com/myapp.php?foo=1&bar=2")
    body = b"To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&From=%2B12349013030&Caller=%2B12349013030"
    headers = {
        b"content-type": b"application/x-www-form-urlencoded",
        b"x-twilio-signature": b"0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
    }
    assert scheme.verify(headers, body, [b"12345"], 0) == 0
    with pytest.raises(SignatureError):
        scheme.verify(headers, body.replace(b"1234&", b"9999&"), [b"12345"], 0)


@pytest.mark.parametrize("form", [True, False])
@pytest.mark.parametrize("sha256", [False, True])
def test_twilio_sdk_validator_agrees(form: bool, sha256: bool) -> None:
    url = "https://hooks.example.com/webhooks/twilio"
    body = b"MessageSid=SM1&Body=hi+there&Empty=" if form else b'{"type":"x"}'
    headers = twilio_headers(url, body, "tok", form=form, sha256=sha256)
    algorithm = "HMAC_SHA256" if sha256 else None
    if form:
        params = {"MessageSid": "SM1", "Body": "hi there", "Empty": ""}
        assert RequestValidator("tok").validate(url, params, headers["x-twilio-signature"], algorithm)
    else:
        signed_url = f"{url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
        assert RequestValidator("tok").validate(signed_url, body.decode(), headers["x-twilio-signature"], algorithm)
    TwilioScheme(public_url=url).verify(raw(headers), body, [b"tok"], 0)
    # Twilio's validator also accepts the URL with its default port written out; so do we.
    TwilioScheme(public_url="https://hooks.example.com:443/webhooks/twilio").verify(raw(headers), body, [b"tok"], 0)


# --------------------------------------------------------------------------------------------- paddle


@dataclass
class _PaddleRequest:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def test_paddle_sdk_verifier_accepts_what_we_accept() -> None:
    body = b'{"event_id":"evt_1","event_type":"transaction.completed","data":{}}'
    headers = paddle_headers(body, "pdl_ntfset_01_secret")
    assert Verifier().verify(
        _PaddleRequest(body, {"Paddle-Signature": headers["paddle-signature"]}), Secret("pdl_ntfset_01_secret")
    )
    scheme_for("paddle", tolerance_s=300).verify(raw(headers), body, [b"pdl_ntfset_01_secret"], time.time())


def test_paddle_sdk_verifier_accepts_what_send_signs() -> None:
    source, request = _sent("paddle", "pdl_ntfset_01_secret")
    signature = request.headers["Paddle-Signature"]
    assert Verifier().verify(
        _PaddleRequest(request.body, {"Paddle-Signature": signature}), Secret("pdl_ntfset_01_secret")
    )
    assert not Verifier().verify(_PaddleRequest(request.body, {"Paddle-Signature": signature}), Secret("pdl_other"))
    verified = source.scheme.describe("paddle", raw(request.headers), request.body)
    assert verified.type == "transaction.completed"


def test_paddle_rotation_sends_two_h1_signatures() -> None:
    body = b'{"event_id":"evt_1"}'
    old = paddle_headers(body, "old", 1_795_000_000)["paddle-signature"]
    new = paddle_headers(body, "new", 1_795_000_000)["paddle-signature"]
    header = f"{old};{new.split(';')[1]}"
    assert (
        scheme_for("paddle", tolerance_s=300).verify(
            {b"paddle-signature": header.encode()}, body, [b"new"], 1_795_000_000
        )
        == 0
    )


# -------------------------------------------------------------------------------------------- hubspot


def test_hubspot_sdk_verifier_agrees() -> None:
    url = "https://hooks.example.com/webhooks/hubspot?portal=62515"
    body = b'[{"eventId":1,"subscriptionType":"contact.creation"}]'
    headers = hubspot_headers(url, body, "client-secret")
    assert Signature.is_valid(
        headers["x-hubspot-signature-v3"],
        "client-secret",
        body.decode(),
        http_uri=url,
        signature_version="v3",
        timestamp=headers["x-hubspot-request-timestamp"],
    )
    HubSpotScheme(public_url=url).verify(raw(headers), body, [b"client-secret"], time.time())


def test_hubspot_decodes_the_characters_its_docs_list() -> None:
    assert signed_uri("https://h.example.com/a%3Ab%2Fc?x=%40%21%24%27%28%29%2A%2C%3B%20") == (
        "https://h.example.com/a:b/c?x=@!$'()*,;%20"
    )


# --------------------------------------------------------------------------------------------- square


def test_square_sdk_verifier_accepts_our_test_signer() -> None:
    url = "https://hooks.example.com/webhooks/square"
    body = b'{"event_id":"e1","type":"payment.updated"}'
    headers = square_headers(url, body, "sig-key")
    assert square_verify(
        request_body=body.decode(),
        signature_header=headers["x-square-hmacsha256-signature"],
        signature_key="sig-key",
        notification_url=url,
    )
    scheme_for("square", tolerance_s=300, public_url=url).verify(raw(headers), body, [b"sig-key"], 0)


def test_square_sdk_verifier_accepts_what_send_signs() -> None:
    url = "https://hooks.example.com/webhooks/square"
    sources = load_sources(
        {secret_env_name("square"): "sig-key", public_url_env_name("square"): url}, sources_file=None, tolerance_s=300
    )
    request = sample_sender.sign(sources["square"], None, None, time.time())
    signature = request.headers["X-Square-HmacSha256-Signature"]
    body = request.body.decode()
    assert square_verify(request_body=body, signature_header=signature, signature_key="sig-key", notification_url=url)
    assert not square_verify(
        request_body=body, signature_header=signature, signature_key="sig-key", notification_url=url + "/other"
    )


# ------------------------------------------------------------------------------------------- sendgrid

# sendgrid-python's test suite (test/unit/test_eventwebhook.py), the same vector in every SendGrid SDK.
SENDGRID_VECTOR_KEY = (
    b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhd"
    b"bcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
)
SENDGRID_VECTOR_HEADERS = {
    b"x-twilio-email-event-webhook-signature": (
        b"MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
    ),
    b"x-twilio-email-event-webhook-timestamp": b"1588788367",
}
SENDGRID_VECTOR_BODY = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'


def test_sendgrid_published_vector() -> None:
    scheme = SendGridScheme()
    assert scheme.verify(SENDGRID_VECTOR_HEADERS, SENDGRID_VECTOR_BODY, [SENDGRID_VECTOR_KEY], 1588788367) == 0
    with pytest.raises(SignatureError):
        scheme.verify(
            SENDGRID_VECTOR_HEADERS, SENDGRID_VECTOR_BODY.replace(b"test", b"tEst"), [SENDGRID_VECTOR_KEY], 1588788367
        )


def test_sendgrid_sdk_verifier_accepts_our_test_signer() -> None:
    body = b'[{"event":"delivered","sg_event_id":"sg-1"}]'
    headers = sendgrid_headers(body, SENDGRID_KEY)
    public_key = sendgrid_public_key(SENDGRID_KEY)
    assert EventWebhook(public_key).verify_signature(
        body.decode(),
        headers["x-twilio-email-event-webhook-signature"],
        headers["x-twilio-email-event-webhook-timestamp"],
    )
    SendGridScheme().verify(raw(headers), body, [public_key.encode()], time.time())


def test_sendgrid_public_key_is_checked_at_start() -> None:
    scheme = SendGridScheme()
    for bad in (b"not base64!", base64.b64encode(b"not a key"), b""):
        with pytest.raises(ValueError, match="P-256"):
            scheme.check_secret(bad)


def test_standard_webhooks_sign_helper_matches_vector() -> None:
    when = datetime.fromtimestamp(1614265330, UTC)
    assert standardwebhooks.Webhook(VECTOR_SECRET).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", when, VECTOR_BODY.decode()) == (
        VECTOR_HEADERS[b"webhook-signature"].decode()
    )


# ------------------------------------------------------------------------------------ openai, anthropic


def _sent(provider: str, secret: str) -> tuple[Source, sample_sender.SignedRequest]:
    sources = load_sources({secret_env_name(provider): secret}, sources_file=None, tolerance_s=300)
    return sources[provider], sample_sender.sign(sources[provider], None, None, time.time())


def test_openai_sdk_verifies_what_send_signs_and_ours_verifies_the_same() -> None:
    # The openai SDK's `webhooks.verify_signature` (Standard Webhooks) is OpenAI's own verifier.
    source, request = _sent("openai", VECTOR_SECRET)
    OpenAI(api_key="unused", webhook_secret=VECTOR_SECRET).webhooks.verify_signature(request.body, request.headers)
    verified = source.scheme.describe("openai", raw(request.headers), request.body)
    assert (verified.id, verified.type) == (request.headers["webhook-id"], "response.completed")


def test_openai_sdk_refuses_what_another_secret_signs() -> None:
    _, request = _sent("openai", "whsec_b3RoZXItc2VjcmV0LWtleS0xMjM0NQ==")
    with pytest.raises(InvalidWebhookSignatureError):
        OpenAI(api_key="unused", webhook_secret=VECTOR_SECRET).webhooks.verify_signature(request.body, request.headers)


def test_anthropic_sdk_unwraps_what_send_signs_and_the_type_is_data_type() -> None:
    # The anthropic SDK's `beta.webhooks.unwrap` verifies and parses into its own event model.
    source, request = _sent("anthropic", VECTOR_SECRET)
    event = Anthropic(api_key="unused").beta.webhooks.unwrap(
        request.body.decode(), headers=request.headers, key=VECTOR_SECRET
    )
    verified = source.scheme.describe("anthropic", raw(request.headers), request.body)
    assert (event.type, event.data.type) == ("event", verified.type)
    assert verified.type == "session.status_idled"


# ---------------------------------------------------------------- specs checked by the providers' SDKs


def test_razorpay_sdk_verifies_what_send_signs() -> None:
    _, request = _sent("razorpay", "razorpay-webhook-secret")
    utility = razorpay.Client(auth=("rzp_test_key", "rzp_test_secret")).utility
    assert utility.verify_webhook_signature(
        request.body.decode(), request.headers["X-Razorpay-Signature"], "razorpay-webhook-secret"
    )
    with pytest.raises(razorpay.errors.SignatureVerificationError):
        utility.verify_webhook_signature(request.body.decode(), request.headers["X-Razorpay-Signature"], "other")


def test_workos_sdk_verifies_what_send_signs() -> None:
    _, request = _sent("workos", "workos-endpoint-secret")
    webhooks = WorkOSClient(api_key="sk_test_unused", client_id="client_unused").webhooks
    webhooks.verify_header(
        event_body=request.body, event_signature=request.headers["WorkOS-Signature"], secret="workos-endpoint-secret"
    )
    with pytest.raises(ValueError, match="does not match"):
        webhooks.verify_header(
            event_body=request.body, event_signature=request.headers["WorkOS-Signature"], secret="other"
        )


def test_elevenlabs_sdk_verifies_what_send_signs() -> None:
    _, request = _sent("elevenlabs", "wsec_elevenlabs")
    webhooks = ElevenLabs(api_key="unused").webhooks
    event = webhooks.construct_event(request.body.decode(), request.headers["ElevenLabs-Signature"], "wsec_elevenlabs")
    assert event["type"] == "post_call_transcription"
    with pytest.raises(ElevenLabsBadRequest):
        webhooks.construct_event(request.body.decode(), request.headers["ElevenLabs-Signature"], "other")


def test_retell_sdk_verifies_what_send_signs() -> None:
    _, request = _sent("retell", "key_retell_webhook_badge")
    signature = request.headers["X-Retell-Signature"]
    client = Retell(api_key="key_retell_webhook_badge")
    assert client.verify(request.body.decode(), "key_retell_webhook_badge", signature)  # type: ignore[no-untyped-call]
    assert not client.verify(request.body.decode(), "other", signature)  # type: ignore[no-untyped-call]


def test_box_sdk_validates_what_send_signs() -> None:
    # box-sdk-gen's `WebhooksManager.validate_message` (package boxsdk) refuses any future timestamp: sign 1 s ago.
    sources = load_sources({secret_env_name("box"): "box-primary-key"}, sources_file=None, tolerance_s=300)
    request = sample_sender.sign(sources["box"], None, None, time.time() - 1)
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert WebhooksManager.validate_message(request.body.decode(), headers, "box-primary-key")
    assert not WebhooksManager.validate_message(request.body.decode(), headers, "other-key")


def test_adyen_library_and_our_scheme_agree_both_ways() -> None:
    # The Adyen Python library's `util.is_valid_hmac_notification` accepts what send signs, and our scheme
    # accepts what the library's `util.generate_notification_sig` signs.
    key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
    source, request = _sent("adyen", key)
    notification = json.loads(request.body)
    assert adyen_util.is_valid_hmac_notification(notification, key)
    assert not adyen_util.is_valid_hmac_notification(notification, "00" * 32)
    item = notification["notificationItems"][0]["NotificationRequestItem"]
    item["merchantReference"] = "changed-by-the-library"
    unsigned = {name: value for name, value in item.items() if name != "additionalData"}
    item["additionalData"]["hmacSignature"] = adyen_util.generate_notification_sig(unsigned, key).decode()
    body = json.dumps(notification).encode()
    assert source.scheme.verify(raw({"content-type": "application/json"}), body, source.secrets, time.time()) == 0


def test_coinbase_commerce_library_verifies_what_send_signs() -> None:
    # coinbase-commerce (Coinbase's own Python library): `Webhook.construct_event` checks
    # X-CC-Webhook-Signature with `WebhookSignature.verify_sig_header` and reads the event.
    _, request = _sent("coinbase", "coinbase-shared-secret")
    signature = request.headers["X-CC-Webhook-Signature"]
    event = CoinbaseWebhook.construct_event(request.body.decode(), signature, "coinbase-shared-secret")
    assert event.type == "charge:confirmed"
    with pytest.raises(SignatureVerificationError):
        CoinbaseWebhook.construct_event(request.body.decode(), signature, "another-secret")
