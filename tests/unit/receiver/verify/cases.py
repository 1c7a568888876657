"""The providers' test cases: for each, how to sign a valid request, how to tamper with it, its id and type,
and `serving`, the real ASGI app with the recording publisher, configured for one case.

test_providers.py runs every case; the handshake, property and SDK tests reuse them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import nacl.signing
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from receiver.sources import load_sources
from receiver.verify import HmacScheme
from receiver.verify.adyen import sign_body
from receiver.verify.events import fallback_event_id
from tests.fakes import App, recording_app
from tests.keyed_signing import telnyx_headers, telnyx_public_key
from tests.signing import (
    calendly_headers,
    discord_headers,
    gitlab_headers,
    hubspot_headers,
    linear_headers,
    mailgun_body,
    paddle_headers,
    pagerduty_headers,
    sendgrid_headers,
    sendgrid_public_key,
    shopify_headers,
    slack_headers,
    square_headers,
    standard_headers,
    twilio_headers,
    twitch_headers,
    typeform_headers,
    websub_headers,
)

Request = tuple[bytes, dict[str, str]]

# The generic scheme as a made-up provider, Acme, configures it: a base64 digest without prefix of the
# delivery id, a millisecond timestamp and the body; tests change a convention with `dataclasses.replace`.
ACME_HMAC = HmacScheme(
    header="X-Acme-Signature",
    prefix="",
    encoding="base64",
    timestamp_header="X-Acme-Timestamp",
    timestamp_unit="ms",
    signed_content="{id}:{timestamp}:{body}",
    id_header="X-Acme-Id",
)
TWILIO_URL = "https://hooks.example.com/webhooks/twilio?tenant=7"
SQUARE_URL = "https://hooks.example.com/webhooks/square"
HUBSPOT_URL = "https://hooks.example.com/webhooks/hubspot"
DISCORD_KEY, DISCORD_OTHER = nacl.signing.SigningKey(b"d" * 32), nacl.signing.SigningKey(b"e" * 32)
SENDGRID_KEY, SENDGRID_OTHER = (
    ec.derive_private_key(20_261_126, ec.SECP256R1()),
    ec.derive_private_key(31_415_926, ec.SECP256R1()),
)


def hmac_env(key: Any) -> str:
    return str(key)


def discord_env(key: Any) -> str:
    assert isinstance(key, nacl.signing.SigningKey)
    return bytes(key.verify_key).hex()


def sendgrid_env(key: Any) -> str:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return sendgrid_public_key(key)


def telnyx_env(key: Any) -> str:
    assert isinstance(key, Ed25519PrivateKey)
    return telnyx_public_key(key)


def _flip_middle_byte(body: bytes, headers: dict[str, str]) -> Request:
    index = len(body) // 2
    return body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :], headers


@dataclass(frozen=True)
class Case:
    """One provider's valid request, and what it must be published as."""

    label: str
    source: str
    make: Callable[[Any, int], Request]  # (signing key, unix seconds) -> (body, headers)
    key: Any
    other: Any
    event_id: str | Callable[[bytes], str]
    event_type: str
    timed: bool
    env_value: Callable[[Any], str] = hmac_env
    extra_env: Mapping[str, str] = field(default_factory=dict)
    tamper: Callable[[bytes, dict[str, str]], Request] = _flip_middle_byte


def _standard(
    provider: str, body: bytes, message_id: str, event_type: str, *, svix_names: bool = False, prefix: str = "whsec_"
) -> Case:
    """A Standard Webhooks provider's case: `body` sent as message `message_id` (under Svix's header names where
    the provider sends those), its secret and the other one written with the provider's `prefix`."""
    return Case(
        provider,
        provider,
        lambda key, ts: (body, standard_headers(body, key, message_id, ts, svix_names=svix_names)),
        f"{prefix}MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        f"{prefix}b3RoZXItc2VjcmV0LWtleS0xMjM0NQ==",
        message_id,
        event_type,
        timed=True,
    )


def _twilio(label: str, body: bytes, event_type: str, *, form: bool = True) -> Case:
    """A Twilio request to TWILIO_URL: a form (its fields signed with the URL) or JSON (its body's digest)."""
    return Case(
        label,
        "twilio",
        lambda key, ts: (body, twilio_headers(TWILIO_URL, body, key, form=form)),
        "twilio-auth-token",
        "other-auth-token",
        "it-1",
        event_type,
        timed=False,
        extra_env={"WEBHOOK_PUBLIC_URL_TWILIO": TWILIO_URL},
    )


def _json(value: object) -> bytes:
    return orjson.dumps(value)


SLACK_EVENT = _json(
    {
        "type": "event_callback",
        "event_id": "Ev0PV52K25",
        "event_time": 1_795_000_000,
        "team_id": "T1",
        "event": {"type": "app_mention", "text": "<@U1> deploy", "user": "U2", "ts": "1795000000.000100"},
    }
)
SLACK_COMMAND = (
    b"token=xyz&team_id=T1&command=%2Fdeploy&text=prod+now&user_id=U2"
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=398738663015.47445629121.803a0bc887"
)
DISCORD_EVENT = _json(
    {
        "version": 1,
        "application_id": "1234",
        "type": 1,
        "event": {"type": "APPLICATION_AUTHORIZED", "timestamp": "2026-11-26T17:00:00.000000+00:00", "data": {}},
    }
)
# Resend docs, "Webhooks: event types" (email.delivered).
RESEND_EVENT = _json(
    {
        "type": "email.delivered",
        "created_at": "2026-11-30T17:00:00.000Z",
        "data": {"email_id": "56761188-7520-42d8-8898-ff6fc54ce618", "to": ["agent@example.com"], "subject": "Hi"},
    }
)
# Replicate docs, "Webhooks": the prediction object, here as a completed prediction.
REPLICATE_EVENT = _json(
    {
        "id": "ufawqhfynnddngldkgtslldrkq",
        "model": "replicate/hello-world",
        "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
        "input": {"text": "Alice"},
        "output": "hello Alice",
        "status": "succeeded",
        "created_at": "2026-11-30T17:00:00.000Z",
    }
)
# Brex developer docs, "Webhooks": an expense payment event.
BREX_EVENT = _json(
    {
        "event_type": "EXPENSE_PAYMENT_UPDATED",
        "expense_id": "expense_cl0g9ttvk00100i5cbmivp6lx",
        "payment_status": "CLEARED",
        "company_id": "cuacc_ckgtq5uds00040i5c8yu0pba8",
    }
)
# Telnyx docs, "Receiving webhooks": a call.initiated event in the API v2 envelope.
TELNYX_EVENT = _json(
    {
        "data": {
            "event_type": "call.initiated",
            "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
            "occurred_at": "2026-11-30T17:00:00.000000Z",
            "payload": {"call_control_id": "v3:abc", "direction": "incoming", "from": "+15551230000"},
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": "https://hooks.example.com/webhooks/telnyx"},
    }
)
CALENDLY = _json({"event": "invitee.created", "created_at": "2026-11-26T17:00:00.000000Z", "payload": {"uri": "u"}})


def _linear(key: Any, ts: int) -> Request:
    body = _json(
        {
            "action": "create",
            "type": "Issue",
            "createdAt": "2026-11-26T17:00:00.000Z",
            "data": {"id": "iss-1", "title": "Bug"},
            "webhookTimestamp": ts * 1000,
            "webhookId": "wh-1",
        }
    )
    return body, linear_headers(body, key, "lin-delivery-1")


def _mailgun(key: Any, ts: int) -> Request:
    body = mailgun_body({"id": "mg-evt-1", "event": "delivered", "timestamp": 1_795_000_000.25}, key, ts)
    return body, {"content-type": "application/json"}


def _mailgun_tamper(body: bytes, headers: dict[str, str]) -> Request:
    # Mailgun signs only the timestamp and token (see receiver/verify/mailgun.py): change the token.
    payload = orjson.loads(body)
    payload["signature"]["token"] = "x" + payload["signature"]["token"][1:]
    return orjson.dumps(payload), headers


CASES = [
    Case(
        "slack-event",
        "slack",
        lambda key, ts: (SLACK_EVENT, slack_headers(SLACK_EVENT, key, ts)),
        "8f742231b10e8888abcd99yyyzzz85a5",
        "other-slack-secret",
        "Ev0PV52K25",
        "app_mention",
        timed=True,
    ),
    Case(
        "slack-command",
        "slack",
        lambda key, ts: (
            SLACK_COMMAND,
            slack_headers(SLACK_COMMAND, key, ts, content_type="application/x-www-form-urlencoded"),
        ),
        "8f742231b10e8888abcd99yyyzzz85a5",
        "other-slack-secret",
        "398738663015.47445629121.803a0bc887",
        "slash_command",
        timed=True,
    ),
    _standard(
        "standardwebhooks",
        b'{"type":"invoice.paid","timestamp":"2026-11-26T17:00:00Z","data":{"id":"in_1"}}',
        "msg_2Kx",
        "invoice.paid",
    ),
    _standard("svix", b'{"type":"user.created","data":{"id":"u_1"}}', "msg_svix1", "user.created", svix_names=True),
    _standard(
        "clerk",
        b'{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"},"object":"event","type":"user.created",'
        b'"timestamp":1654012591835}',
        "msg_clerk1",
        "user.created",
        svix_names=True,
    ),
    Case(
        "shopify",
        "shopify",
        lambda key, ts: (
            b'{"id":820982911946154508,"email":"jon@example.com"}',
            shopify_headers(b'{"id":820982911946154508,"email":"jon@example.com"}', key, "orders/create", "wh-5e1"),
        ),
        "shopify-app-secret",
        "other-shopify-secret",
        "wh-5e1",
        "orders/create",
        timed=False,
    ),
    _twilio("twilio-form", b"MessageSid=SM1&MessageStatus=delivered&To=%2B15551230000&Body=", "message.delivered"),
    _twilio(
        "twilio-json",
        b'{"type":"com.twilio.messaging.inbound-message.received","data":{}}',
        "com.twilio.messaging.inbound-message.received",
        form=False,
    ),
    Case(
        "paddle",
        "paddle",
        lambda key, ts: (
            b'{"event_id":"evt_01hv8x","event_type":"transaction.completed","occurred_at":"2026-11-26T17:00:00.1Z",'
            b'"notification_id":"ntf_01","data":{"id":"txn_1"}}',
            paddle_headers(
                b'{"event_id":"evt_01hv8x","event_type":"transaction.completed","occurred_at":"2026-11-26T17:00:00.1Z",'
                b'"notification_id":"ntf_01","data":{"id":"txn_1"}}',
                key,
                ts,
            ),
        ),
        "pdl_ntfset_01hv8x_secretkey",
        "pdl_ntfset_01other_secret",
        "evt_01hv8x",
        "transaction.completed",
        timed=True,
    ),
    Case(
        "discord-interaction",
        "discord",
        lambda key, ts: (
            b'{"id":"1100","type":2,"token":"tok","application_id":"1234","data":{"name":"deploy"}}',
            discord_headers(
                b'{"id":"1100","type":2,"token":"tok","application_id":"1234","data":{"name":"deploy"}}', key, ts
            ),
        ),
        DISCORD_KEY,
        DISCORD_OTHER,
        "1100",
        "interaction.application_command",
        timed=True,
        env_value=discord_env,
    ),
    Case(
        "discord-event",
        "discord",
        lambda key, ts: (DISCORD_EVENT, discord_headers(DISCORD_EVENT, key, ts)),
        DISCORD_KEY,
        DISCORD_OTHER,
        lambda body: fallback_event_id("discord", body),
        "APPLICATION_AUTHORIZED",
        timed=True,
        env_value=discord_env,
    ),
    Case(
        "twitch",
        "twitch",
        lambda key, ts: (
            b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}',
            twitch_headers(b'{"subscription":{"type":"channel.follow"},"event":{"user_id":"1"}}', key, "tw-msg-1", ts),
        ),
        "twitch-subscription-secret",
        "other-twitch-secret",
        "tw-msg-1",
        "channel.follow",
        timed=True,
    ),
    Case(
        "gitlab",
        "gitlab",
        lambda key, ts: (
            b'{"object_kind":"merge_request","object_attributes":{"action":"open","iid":1}}',
            gitlab_headers(key, "Merge Request Hook", "gl-idem-1"),
        ),
        "gitlab-secret-token",
        "other-gitlab-token",
        "gl-idem-1",
        "merge_request.open",
        timed=False,
        # GitLab sends the token, not a signature of the body: a changed body can't be detected (TLS protects it).
        tamper=lambda body, headers: (body, {**headers, "x-gitlab-token": headers["x-gitlab-token"] + "x"}),
    ),
    Case(
        "hubspot",
        "hubspot",
        lambda key, ts: (
            b'[{"eventId":1001,"subscriptionId":7,"portalId":62515,"occurredAt":1795000000000,'
            b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123}]',
            hubspot_headers(
                HUBSPOT_URL,
                b'[{"eventId":1001,"subscriptionId":7,"portalId":62515,"occurredAt":1795000000000,'
                b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123}]',
                key,
                ts * 1000,
            ),
        ),
        "hubspot-client-secret",
        "other-client-secret",
        "1001",
        "contact.creation",
        timed=True,
        extra_env={"WEBHOOK_PUBLIC_URL_HUBSPOT": HUBSPOT_URL},
    ),
    Case(
        "square",
        "square",
        lambda key, ts: (
            b'{"merchant_id":"M1","type":"payment.updated","event_id":"sq-evt-1",'
            b'"created_at":"2026-11-26T17:00:00.123Z","data":{"type":"payment","id":"p1"}}',
            square_headers(
                SQUARE_URL,
                b'{"merchant_id":"M1","type":"payment.updated","event_id":"sq-evt-1",'
                b'"created_at":"2026-11-26T17:00:00.123Z","data":{"type":"payment","id":"p1"}}',
                key,
            ),
        ),
        "square-signature-key",
        "other-signature-key",
        "sq-evt-1",
        "payment.updated",
        timed=False,
        extra_env={"WEBHOOK_PUBLIC_URL_SQUARE": SQUARE_URL},
    ),
    Case(
        "linear",
        "linear",
        _linear,
        "lin_wh_secret",
        "other-linear-secret",
        "lin-delivery-1",
        "Issue.create",
        timed=True,
    ),
    Case(
        "pagerduty",
        "pagerduty",
        lambda key, ts: (
            b'{"event":{"id":"01DEN9","event_type":"incident.triggered","occurred_at":"2026-11-26T17:00:00Z"}}',
            pagerduty_headers(
                b'{"event":{"id":"01DEN9","event_type":"incident.triggered","occurred_at":"2026-11-26T17:00:00Z"}}', key
            ),
        ),
        "pd-subscription-secret",
        "other-pd-secret",
        "01DEN9",
        "incident.triggered",
        timed=False,
    ),
    Case(
        "sendgrid",
        "sendgrid",
        lambda key, ts: (
            b'[{"email":"a@example.com","timestamp":1795000000,"event":"delivered","sg_event_id":"sg-1"}]',
            sendgrid_headers(
                b'[{"email":"a@example.com","timestamp":1795000000,"event":"delivered","sg_event_id":"sg-1"}]', key, ts
            ),
        ),
        SENDGRID_KEY,
        SENDGRID_OTHER,
        "sg-1",
        "delivered",
        timed=True,
        env_value=sendgrid_env,
    ),
    Case(
        "mailgun",
        "mailgun",
        _mailgun,
        "mailgun-signing-key",
        "other-signing-key",
        "mg-evt-1",
        "delivered",
        timed=True,
        tamper=_mailgun_tamper,
    ),
    Case(
        "typeform",
        "typeform",
        lambda key, ts: (
            b'{"event_id":"01TF","event_type":"form_response","form_response":{"submitted_at":"2026-11-26T17:00:00Z"}}',
            typeform_headers(
                b'{"event_id":"01TF","event_type":"form_response","form_response":{"submitted_at":"2026-11-26T17:00:00Z"}}',
                key,
            ),
        ),
        "typeform-secret",
        "other-typeform-secret",
        "01TF",
        "form_response",
        timed=False,
    ),
    Case(
        "calendly",
        "calendly",
        lambda key, ts: (CALENDLY, calendly_headers(CALENDLY, key, ts)),
        "calendly-signing-key",
        "other-calendly-key",
        lambda body: fallback_event_id("calendly", body),
        "invitee.created",
        timed=True,
    ),
    Case(
        "intercom",
        "intercom",
        lambda key, ts: (
            b'{"type":"notification_event","id":"notif_1","topic":"conversation.user.created","created_at":1795000000}',
            websub_headers(
                b'{"type":"notification_event","id":"notif_1","topic":"conversation.user.created","created_at":1795000000}',
                key,
                "sha1",
            ),
        ),
        "intercom-client-secret",
        "other-client-secret",
        "notif_1",
        "conversation.user.created",
        timed=False,
    ),
    Case(
        "jira",
        "jira",
        lambda key, ts: (
            b'{"webhookEvent":"jira:issue_updated","timestamp":1795000000000,"issue":{"key":"ABC-1"}}',
            websub_headers(
                b'{"webhookEvent":"jira:issue_updated","timestamp":1795000000000,"issue":{"key":"ABC-1"}}',
                key,
                "sha256",
                **{"x-atlassian-webhook-identifier": "jira-delivery-1"},
            ),
        ),
        "jira-webhook-secret",
        "other-jira-secret",
        "jira-delivery-1",
        "jira:issue_updated",
        timed=False,
    ),
    _standard("resend", RESEND_EVENT, "msg_resend1", "email.delivered", svix_names=True),
    _standard("replicate", REPLICATE_EVENT, "msg_replicate1", "succeeded"),
    # Brex's API returns the secret as bare base64 (no whsec_ prefix).
    _standard("brex", BREX_EVENT, "msg_brex1", "EXPENSE_PAYMENT_UPDATED", prefix=""),
    Case(
        "telnyx",
        "telnyx",
        lambda key, ts: (TELNYX_EVENT, telnyx_headers(TELNYX_EVENT, key, ts)),
        Ed25519PrivateKey.from_private_bytes(b"t" * 32),
        Ed25519PrivateKey.from_private_bytes(b"u" * 32),
        "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
        "call.initiated",
        timed=True,
        env_value=telnyx_env,
    ),
]
OPENAI_EVENT = (
    b'{"id":"evt_685343a1381c819085d44c354e1b330e","object":"event","created_at":1750287018,'
    b'"type":"response.completed","data":{"id":"resp_abc"}}'
)
ANTHROPIC_EVENT = (
    b'{"type":"event","id":"wevt_01","created_at":"2026-11-26T17:00:00Z","data":{"type":"session.status_idled",'
    b'"id":"sesn_01","organization_id":"org_01","workspace_id":"wrkspc_01"}}'
)
CASES += [
    _standard("openai", OPENAI_EVENT, "wh_685343a1", "response.completed"),
    _standard("anthropic", ANTHROPIC_EVENT, "msg_anthropic1", "session.status_idled"),
]
ADYEN_KEY, ADYEN_OTHER = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", "00" * 32


def _adyen(key: Any, ts: int) -> Request:
    item = {
        "additionalData": {},
        "amount": {"currency": "EUR", "value": 1130},
        "eventCode": "AUTHORISATION",
        "eventDate": "2026-11-26T17:00:00+01:00",
        "merchantAccountCode": "TestMerchant",
        "merchantReference": "TestPayment-1407325143704",
        "pspReference": "7914073381342284",
        "success": "true",
    }
    body = sign_body({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}, str(key).encode())
    return body, {"content-type": "application/json"}


def _graph(key: Any, ts: int) -> Request:
    change = {
        "subscriptionId": "sub-1",
        "changeType": "created",
        "clientState": str(key),
        "resource": "Users/1/Messages/2",
    }
    return _json({"value": [change]}), {"content-type": "application/json"}


CASES += [
    Case(
        "adyen",
        "adyen",
        _adyen,
        ADYEN_KEY,
        ADYEN_OTHER,
        "7914073381342284:AUTHORISATION:true",
        "AUTHORISATION",
        timed=False,
        # Adyen signs fields, not the body: change a signed one.
        tamper=lambda body, headers: (body.replace(b"7914073381342284", b"7914073381342285"), headers),
    ),
    Case(
        "msgraph",
        "msgraph",
        _graph,
        "graph-client-state-7d1e",
        "other-client-state",
        lambda body: fallback_event_id("msgraph", body),
        "created",
        timed=False,
        # Graph sends no signature: the clientState is the check.
        tamper=lambda body, headers: (body.replace(b"graph-client-state-7d1e", b"graph-client-state-7d1f"), headers),
    ),
]


@contextlib.asynccontextmanager
async def serving(case: Case, secrets: str | None = None) -> AsyncIterator[App]:
    environ = {f"WEBHOOK_SECRET_{case.source.upper()}": secrets or case.env_value(case.key), **case.extra_env}
    sources = load_sources(environ, sources_file=None, tolerance_s=300)
    async with recording_app(sources) as app:
        yield app


async def post(app: App, case: Case, request: Request) -> httpx.Response:
    body, headers = request
    return await app.http.post(f"/webhooks/{case.source}", content=body, headers=headers)
