"""`python -m receiver send <source>`: sign a realistic sample event with the source's secret and POST it.

For trying a deployment end to end (`make run`, the compose stack) without the provider: the request is
signed exactly as the provider signs it, with the first secret of `WEBHOOK_SECRET_<SOURCE>` (or the
source's `secrets_env`), so the receiver verifies and publishes it like a real delivery.

    python -m receiver send hmac                        # one order.created event to the local receiver
    python -m receiver send stripe --type charge.refunded --count 10
    python -m receiver send github --type pull_request.opened --url https://hooks.example.com/webhooks/github
    python -m receiver send hmac --file event.json      # your own body; the same body each time with --count

Exit codes: 0 when every request got a 2xx, 1 when one did not (or could not be sent), 2 for a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from receiver.errors import ConfigError
from receiver.routes import PATH_PREFIX
from receiver.settings import ReceiverSettings, load_settings
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify import GitHubScheme, HmacScheme, StripeScheme

# A request that gets no answer in this many seconds counts as failed.
HTTP_TIMEOUT_S = 10.0
USER_AGENT = "webhook-ingest-send/1"
# The placeholders of a generic HMAC source's `signed_content` (receiver/verify/hmac.py).
_PLACEHOLDER = re.compile(r"(\{timestamp\}|\{id\}|\{body\})")


@dataclass(frozen=True)
class SignedRequest:
    """One ready-to-send delivery."""

    body: bytes
    headers: dict[str, str]


Signer = Callable[[Source, bytes | None, str | None, float], SignedRequest]


def _hmac_sample(event_type: str | None, now_s: float) -> bytes:
    return orjson.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "type": event_type or "order.created",
            "created_at": datetime.fromtimestamp(now_s, UTC).isoformat().replace("+00:00", "Z"),
            "data": {"order_id": f"ord_{uuid.uuid4().hex[:12]}", "amount": 4200, "currency": "eur"},
        }
    )


def sign_hmac(source: Source, body: bytes | None, event_type: str | None, now_s: float) -> SignedRequest:
    """The generic scheme, with the source's own header, prefix, hash, encoding and signed content."""
    scheme = source.scheme
    assert isinstance(scheme, HmacScheme)
    body = body if body is not None else _hmac_sample(event_type, now_s)
    headers = {"content-type": "application/json"}
    timestamp = b""
    if scheme.timestamp_header is not None:
        timestamp = str(int(now_s if scheme.timestamp_unit == "s" else now_s * 1000)).encode()
        headers[scheme.timestamp_header] = timestamp.decode()
    event_id = _body_id(body) or uuid.uuid4().hex
    if scheme.id_header is not None:
        headers[scheme.id_header] = event_id
    if scheme.type_header is not None:
        headers[scheme.type_header] = event_type or "order.created"
    parts = {"{timestamp}": timestamp, "{id}": event_id.encode(), "{body}": body}
    content = b"".join(parts.get(piece, piece.encode()) for piece in _PLACEHOLDER.split(scheme.signed_content))
    digest = hmac.new(source.secrets[0], content, getattr(hashlib, scheme.algorithm)).digest()
    encoded = digest.hex() if scheme.encoding == "hex" else base64.b64encode(digest).decode()
    headers[scheme.header] = scheme.prefix + encoded
    return SignedRequest(body, headers)


def _body_id(body: bytes) -> str | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = payload.get("id") if isinstance(payload, dict) else None
    return str(value) if value is not None else None


def _github_sample(action: str | None) -> bytes:
    number = int(time.time()) % 10_000
    account = {"login": "octocat", "id": 583231, "type": "User"}
    repository = {"id": 1296269, "name": "hello-world", "full_name": "octocat/hello-world", "owner": account}
    issue = {"number": number, "title": "Agent: summarize this issue", "state": "open", "user": account}
    payload: dict[str, Any] = {"action": action or "opened", "issue": issue, "repository": repository}
    payload["sender"] = account
    return orjson.dumps(payload)


def sign_github(source: Source, body: bytes | None, event_type: str | None, now_s: float) -> SignedRequest:
    """GitHub's scheme: `X-Hub-Signature-256: sha256=<hex>` over the body; `--type event[.action]`."""
    event, _, action = (event_type or "issues.opened").partition(".")
    body = body if body is not None else _github_sample(action or None)
    digest = hmac.new(source.secrets[0], body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": str(uuid.uuid4()),
        "x-github-hook-id": "1",
        "x-hub-signature-256": f"sha256={digest}",
    }
    return SignedRequest(body, headers)


def _stripe_sample(event_type: str | None, now_s: float) -> bytes:
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
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(now_s),
            "type": event_type or "payment_intent.succeeded",
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": intent},
        }
    )


def sign_stripe(source: Source, body: bytes | None, event_type: str | None, now_s: float) -> SignedRequest:
    """Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex>` over `<t>.<body>`, the whsec_ secret as is."""
    body = body if body is not None else _stripe_sample(event_type, now_s)
    timestamp = int(now_s)
    digest = hmac.new(source.secrets[0], f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json; charset=utf-8", "stripe-signature": f"t={timestamp},v1={digest}"}
    return SignedRequest(body, headers)


def signer_for(source: Source) -> Signer:
    """How to sign for the source's scheme; `ConfigError` for a scheme `send` can't sign yet."""
    if isinstance(source.scheme, HmacScheme):
        return sign_hmac
    if isinstance(source.scheme, GitHubScheme):
        return sign_github
    if isinstance(source.scheme, StripeScheme):
        return sign_stripe
    raise ConfigError(f"send signs hmac, github and stripe sources; {source.name} is a {source.provider} source")


def post(url: str, request: SignedRequest) -> tuple[int, bytes]:
    """POST one delivery; its status and body (status 0: no answer)."""
    headers = {"user-agent": USER_AGENT, **request.headers}
    outgoing = urllib.request.Request(url, data=request.body, headers=headers, method="POST")  # noqa: S310
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


def parser() -> argparse.ArgumentParser:
    send = argparse.ArgumentParser(
        prog="python -m receiver send",
        description="Sign a realistic sample event (or --file) with the source's configured secret "
        "(WEBHOOK_SECRET_<SOURCE>) the way its provider signs, and POST it to the receiver.",
    )
    send.add_argument("source", help="the source to send to (hmac, github, stripe, or a custom one of those)")
    send.add_argument("--type", dest="event_type", help="event type (github: event[.action], e.g. issues.opened)")
    send.add_argument("--file", type=Path, help="send this body instead of the sample")
    send.add_argument("--url", help="where to POST (default: http://RECEIVER_HOST:RECEIVER_PORT/webhooks/<source>)")
    send.add_argument("--count", type=_positive, default=1, help="how many events to send (default: 1)")
    return send


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is no positive whole number")
    return number


def main(argv: Sequence[str]) -> int:
    """Run `send`; the exit code."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        sources = load_sources(os.environ, sources_file=settings.sources_file, tolerance_s=settings.tolerance_s)
        source = sources.get(args.source)
        if source is None:
            raise ConfigError(f"source {args.source!r} is not enabled: set {secret_env_name(args.source)}")
        sign = signer_for(source)
        body = args.file.read_bytes() if args.file is not None else None
    except ConfigError as exc:
        print(f"receiver send: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"receiver send: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    url = args.url or default_url(settings, source.name)
    failed = 0
    for _ in range(args.count):
        status, answer = post(url, sign(source, body, args.event_type, time.time()))
        print(f"{status or 'no answer'} {answer.decode(errors='replace').strip()}")
        failed += not 200 <= status < 300
    return 1 if failed else 0
