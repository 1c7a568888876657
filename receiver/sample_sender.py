"""`python -m receiver send <source>`: sign a realistic sample event with the source's secret and POST it.

For trying a deployment end to end (`make run`, the compose stack) without the provider: the request is
signed exactly as the provider signs it, by the source's own scheme (`Signing`: its sample and its signer,
the one the tests use too), with the first secret of `WEBHOOK_SECRET_<SOURCE>` (or the source's
`secrets_env`), so the receiver verifies and publishes it like a real delivery. Schemes verified with a
public key (Discord, SendGrid) can't be signed here: only the provider holds the private key.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import orjson

from receiver.errors import ConfigError, RequestError
from receiver.routes import PATH_PREFIX
from receiver.settings import ReceiverSettings, load_settings
from receiver.sources import Source, load_sources, secret_env_name
from receiver.verify import Signing

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


def _new_id() -> str:
    return f"evt_{uuid.uuid4().hex[:24]}"


def _body_id(body: bytes) -> str | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = payload.get("id") if isinstance(payload, dict) else None
    return str(value) if value is not None else None


def sign(source: Source, body: bytes | None, event_type: str | None, now_s: float) -> SignedRequest:
    """A delivery signed with the source's first secret by the source's own scheme (`Signing`).

    The body is the scheme's realistic sample unless one is given; `ConfigError` for a scheme that can't
    sign (a public key verifies, only the provider's private key signs) or a body it can't sign.
    """
    scheme = _signing(source)
    suggested = (_body_id(body) if body is not None else None) or _new_id()
    sample = scheme.sample(now_s, event_id=suggested, event_type=event_type)
    try:
        signed = scheme.sign(
            sample.body if body is None else body,
            source.secrets[0],
            now_s,
            event_id=sample.event_id,
            event_type=sample.event_type,
        )
    except RequestError as exc:
        raise ConfigError(f"send can't sign this body for {source.name}: {exc}") from None
    return SignedRequest(signed.body, {"content-type": sample.content_type, **signed.headers})


def _signing(source: Source) -> Signing:
    if not isinstance(source.scheme, Signing):
        raise ConfigError(f"send can't sign for {source.name}: its {source.provider} scheme has no signer")
    return source.scheme


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
        signed = _signing(source).sign(inbound.body, source.secrets[0], now_s, event_id=_new_id(), event_type="")
        headers |= signed.headers
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
