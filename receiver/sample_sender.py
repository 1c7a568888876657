"""`python -m receiver send <source>`: sign a realistic sample event with the source's secret and POST it.

For trying a deployment end to end (`make run`, the compose stack) without the provider: the request is
signed exactly as the provider signs it, by the source's own scheme (`Signing.sign`, the signer the tests
use too), with the first secret of `WEBHOOK_SECRET_<SOURCE>` (or the source's `secrets_env`), so the
receiver verifies and publishes it like a real delivery. Schemes verified with a public key (Discord,
SendGrid) can't be signed here: only the provider holds the private key.

    python -m receiver send hmac                        # one order.created event to the local receiver
    python -m receiver send stripe --type charge.refunded --count 10
    python -m receiver send github --type pull_request.opened --url https://hooks.example.com/webhooks/github
    python -m receiver send hmac --file event.json      # your own body; the same body each time with --count
    python -m receiver send zoom --handshake            # the source's handshake (zoom: endpoint.url_validation)
    python -m receiver send whatsapp --handshake meta   # Meta's GET challenge, with WEBHOOK_VERIFY_TOKEN_WHATSAPP

Exit codes: 0 when every request got a 2xx, 1 when one did not (or could not be sent), 2 for a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from receiver.errors import ConfigError
from receiver.routes import PATH_PREFIX
from receiver.settings import ReceiverSettings, load_settings
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify import (
    AdyenScheme,
    GitHubScheme,
    MsGraphScheme,
    Signing,
    SpecScheme,
    StandardWebhooksScheme,
    StripeScheme,
)
from receiver.verify.adyen import sign_body

# A request that gets no answer in this many seconds counts as failed.
HTTP_TIMEOUT_S = 10.0
USER_AGENT = "webhook-ingest-send/1"


@dataclass(frozen=True)
class SignedRequest:
    """One ready-to-send delivery (or handshake: `method` and `query`)."""

    body: bytes
    headers: dict[str, str]
    method: str = "POST"
    query: dict[str, str] = field(default_factory=dict)


Signer = Callable[[Source, bytes | None, str | None, float], SignedRequest]


def _new_id() -> str:
    return f"evt_{uuid.uuid4().hex[:24]}"


def _hmac_sample(event_id: str, event_type: str, now_s: float) -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "type": event_type,
            "created_at": datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),
            "data": {"order_id": f"ord_{uuid.uuid4().hex[:12]}", "amount": 4200, "currency": "eur"},
        }
    )


def _github_sample(action: str | None) -> bytes:
    number = int(time.time()) % 10_000
    account = {"login": "octocat", "id": 583231, "type": "User"}
    repository = {"id": 1296269, "name": "hello-world", "full_name": "octocat/hello-world", "owner": account}
    issue = {"number": number, "title": "Agent: summarize this issue", "state": "open", "user": account}
    payload: dict[str, Any] = {"action": action or "opened", "issue": issue, "repository": repository}
    payload["sender"] = account
    return orjson.dumps(payload)


def _stripe_sample(event_id: str, event_type: str, now_s: float) -> bytes:
    intent = {
        "id": f"pi_{uuid.uuid4().hex[:24]}",
        "object": "payment_intent",
        "amount": 4200,
        "currency": "eur",
        "status": "succeeded",
        "customer": "cus_" + uuid.uuid4().hex[:14],
    }
    return orjson.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(now_s),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": intent},
        }
    )


def _standard_sample(source: Source, event_id: str, event_type: str | None, now_s: float) -> tuple[bytes, str]:
    when = datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z")
    if source.provider == "anthropic":
        kind = event_type or "session.status_idled"
        data = {"type": kind, "id": "sesn_01", "organization_id": "org_01", "workspace_id": "wrkspc_01"}
        body = {"type": "event", "id": event_id, "created_at": when, "data": data}
        return orjson.dumps(body), kind
    kind = event_type or ("response.completed" if source.provider == "openai" else "invoice.paid")
    event = {"id": event_id, "object": "event", "created_at": int(now_s), "type": kind, "data": {"id": "resp_01"}}
    return orjson.dumps(event), kind


def _graph_change(client_state: str, change: str, now_s: float) -> dict[str, Any]:
    expires = datetime.fromtimestamp(now_s + 3600, UTC).isoformat().replace("+00:00", "Z")
    return {
        "subscriptionId": "5c8a1c4e-8a3c-4f1d-9b5e-7a2d1e0c9f41",
        "subscriptionExpirationDateTime": expires,
        "changeType": change,
        "resource": f"Users/1d2f/Messages/{uuid.uuid4().hex}",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": uuid.uuid4().hex},
        "clientState": client_state,
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
    }


def _adyen_sample(event_id: str, event_code: str, now_s: float) -> dict[str, Any]:
    when = datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z")
    item = {
        "additionalData": {},
        "amount": {"currency": "EUR", "value": 1130},
        "eventCode": event_code,
        "eventDate": when,
        "merchantAccountCode": "AgentShopECOM",
        "merchantReference": f"order-{event_id}",
        "pspReference": uuid.uuid4().hex[:16].upper(),
        "reason": "null",
        "success": "true",
    }
    return {"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}


def _body_id(body: bytes) -> str | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = payload.get("id") if isinstance(payload, dict) else None
    return str(value) if value is not None else None


def sign(source: Source, body: bytes | None, event_type: str | None, now_s: float) -> SignedRequest:
    """A delivery signed with the source's first secret by the source's own scheme (`Signing.sign`).

    The body is the scheme's realistic sample unless one is given; `ConfigError` for a scheme that can't
    sign (a public key verifies, only the provider's private key signs).
    """
    scheme = source.scheme
    if not isinstance(scheme, Signing):
        raise ConfigError(f"send can't sign for {source.name}: its {source.provider} scheme has no signer")
    event_id = (_body_id(body) if body is not None else None) or _new_id()
    content_type = "application/json"
    if isinstance(scheme, SpecScheme):
        sample, content_type, kind = scheme.sample(now_s, event_id=event_id, event_type=event_type)
    elif isinstance(scheme, GitHubScheme):
        kind = event_type or "issues.opened"
        sample = _github_sample(kind.partition(".")[2] or None)
        event_id = str(uuid.uuid4())
    elif isinstance(scheme, StripeScheme):
        kind = event_type or "payment_intent.succeeded"
        sample = _stripe_sample(event_id, kind, now_s)
        content_type = "application/json; charset=utf-8"
    elif isinstance(scheme, MsGraphScheme):
        # Graph carries the subscription's clientState (the secret) in each notification, not a signature.
        kind = event_type or "created"
        sample = orjson.dumps({"value": [_graph_change(source.secrets[0].decode(), kind, now_s)]})
    elif isinstance(scheme, AdyenScheme):
        kind = event_type or "AUTHORISATION"
        sample = sign_body(_adyen_sample(event_id, kind, now_s), source.secrets[0])
    elif isinstance(scheme, StandardWebhooksScheme):
        event_id = f"msg_{uuid.uuid4().hex[:24]}"
        sample, kind = _standard_sample(source, event_id, event_type, now_s)
    else:
        kind = event_type or "order.created"
        sample = _hmac_sample(event_id, kind, now_s)
    body = sample if body is None else body
    headers = scheme.sign(body, source.secrets[0], now_s, event_id=event_id, event_type=kind)
    return SignedRequest(body, {"content-type": content_type, **headers})


def handshake(source: Source, kind: str | None, now_s: float) -> SignedRequest:
    """The source's handshake request (the first, or the one of `kind`), as its provider sends it."""
    found = [h for h in source.handshakes if kind is None or h.kind == kind]
    if not found:
        kinds = ", ".join(h.kind for h in source.handshakes) or "none"
        which = f" of kind {kind!r}" if kind else ""
        raise ConfigError(f"{source.name} has no handshake{which} (its handshakes: {kinds})")
    inbound = found[0].sample(source.secrets[0], source.verify_token)
    headers = {name.decode(): value.decode() for name, value in inbound.headers.items()}
    if found[0].signed:
        scheme = source.scheme
        if not isinstance(scheme, Signing):
            raise ConfigError(f"send can't sign for {source.name}: its {source.provider} scheme has no signer")
        headers |= scheme.sign(inbound.body, source.secrets[0], now_s, event_id=_new_id(), event_type="")
    return SignedRequest(inbound.body, headers, inbound.method, dict(inbound.query))


def post(url: str, request: SignedRequest) -> tuple[int, bytes]:
    """Send one delivery (or handshake); its status and body (status 0: no answer)."""
    headers = {"user-agent": USER_AGENT, **request.headers}
    if request.query:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(request.query)}"
    data = request.body if request.method != "GET" or request.body else None
    outgoing = urllib.request.Request(url, data=data, headers=headers, method=request.method)  # noqa: S310
    try:
        with urllib.request.urlopen(outgoing, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 (http(s) only)
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        return 0, str(getattr(exc, "reason", exc)).encode()


def default_url(settings: ReceiverSettings, source: str) -> str:
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}{PATH_PREFIX}{source}"


def parser(prog: str = "python -m receiver send") -> argparse.ArgumentParser:
    send = argparse.ArgumentParser(
        prog=prog,
        description="Sign a realistic sample event (or --file) with the source's configured secret "
        "(WEBHOOK_SECRET_<SOURCE>) the way its provider signs, and POST it to the receiver.",
    )
    send.add_argument("source", help="the source to send to (any enabled source whose scheme can sign)")
    send.add_argument("--type", dest="event_type", help="event type (github: event[.action], e.g. issues.opened)")
    send.add_argument("--file", type=Path, help="send this body instead of the sample")
    send.add_argument("--url", help="where to POST (default: http://RECEIVER_HOST:RECEIVER_PORT/webhooks/<source>)")
    send.add_argument("--count", type=_positive, default=1, help="how many events to send (default: 1)")
    send.add_argument(
        "--handshake",
        nargs="?",
        const="",
        metavar="KIND",
        help="send the source's handshake instead of an event (its first, or the one of KIND: meta, crc, zoom, ...)",
    )
    return send


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is no positive whole number")
    return number


def main(argv: Sequence[str], *, prog: str = "python -m receiver send") -> int:
    """Run `send`; the exit code."""
    args = parser(prog).parse_args(argv)
    try:
        settings = load_settings()
        sources = load_sources(os.environ, sources_file=settings.sources_file, tolerance_s=settings.tolerance_s)
        source = sources.get(args.source)
        if source is None:
            raise ConfigError(f"source {args.source!r} is not enabled: set {secret_env_name(args.source)}")
        body = args.file.read_bytes() if args.file is not None else None
        now_s = time.time()
        # Checked once before sending, so a scheme that can't sign is a usage error (exit 2).
        if args.handshake is None:
            sign(source, body, args.event_type, now_s)
        else:
            handshake(source, args.handshake or None, now_s)
    except ConfigError as exc:
        print(f"receiver send: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"receiver send: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    url = args.url or default_url(settings, source.name)
    failed = 0
    for _ in range(args.count):
        now_s = time.time()
        request = (
            sign(source, body, args.event_type, now_s)
            if args.handshake is None
            else handshake(source, args.handshake or None, now_s)
        )
        status, answer = post(url, request)
        print(f"{status or 'no answer'} {answer.decode(errors='replace').strip()}")
        failed += not 200 <= status < 300
    return 1 if failed else 0
