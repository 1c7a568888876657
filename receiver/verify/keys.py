"""Keys a provider publishes at a URL (SNS and PayPal certificates, Plaid's JWKs, Google's OIDC keys).

Every fetch goes through `KeyFetcher`, which holds the rules that keep a request from turning the receiver
into a client of the sender's choosing:
- the URL is checked against the provider's `HostAllowlist` before anything is fetched: https only, the
  default port, no user info, a host the provider owns; a URL that fails is the sender's fault (401);
- a fetch is bounded in time and size and follows no redirect;
- a fetch that fails (network, timeout, 5xx, too large, unparseable) is `KeyUnavailable`, a 503: the
  provider retries later, and nothing is published. A 4xx from the provider's own host means the key
  doesn't exist there, which only a forged request asks for: `UnknownKey`, a 401.

`KeyCache` keeps what was fetched for a TTL, shares one fetch among concurrent requests for the same key,
serves a stale key for one more TTL while its refresh fails, and lets unknown keys be fetched only at a
bounded rate (a sender making up key ids or certificate URLs can't make us hammer the provider).

Production allowlists are constants of each provider's module; tests inject their own `KeyFetcher` (a
local HTTPS server, a CA made by the test) into the scheme, so no setting can widen what production trusts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from receiver.errors import KeyUnavailable, UnknownKey, UntrustedKeyUrl

logger = logging.getLogger(__name__)

# A certificate or a JWKS is a few KiB; anything much larger is not one.
MAX_KEY_BYTES = 65_536
# Seconds for the whole fetch (connect, TLS, response): under the providers' own delivery timeouts.
FETCH_TIMEOUT_S = 5.0
# How long a fetched key is used before it is fetched again (certificates behind an immutable URL change
# never; JWKS rotate over days).
KEY_TTL_S = 3600.0
# Fetches of keys not held yet: a burst, then one per this many seconds.
NEW_KEY_BURST = 10
NEW_KEY_INTERVAL_S = 6.0
# Keys held per cache: a few live certificates or key ids per provider; more is a sender making them up.
MAX_CACHED_KEYS = 64
# A key set that lacks the key id a request names is fetched again, but not more than once per this many
# seconds (the provider may have rotated its keys, or the sender made the id up).
REFETCH_MIN_AGE_S = 60.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class HostAllowlist:
    """The hosts a provider serves its keys from.

    Args:
        hosts: a regular expression the whole lower-case host name must match.
        port: the only port allowed (443 in production; a test server's port in tests).
    """

    hosts: re.Pattern[str]
    port: int = 443

    def check(self, url: str) -> str:
        """The URL, if it is https on an allowed host and port; `UntrustedKeyUrl` otherwise."""
        if len(url) > 2048 or not url.isascii() or any(c in url for c in "\\@ \t\r\n"):
            raise UntrustedKeyUrl("key URL is not a plain https URL")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UntrustedKeyUrl("key URL is not a URL") from None
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.username is not None or parts.fragment:
            raise UntrustedKeyUrl("key URL must be https without user info or fragment")
        if not self.hosts.fullmatch(host) or (port or 443) != self.port:
            raise UntrustedKeyUrl("key URL is not on the provider's hosts")
        # httpx parses the URL again to connect: it must land on the host checked here.
        if httpx.URL(url).host != host:
            raise UntrustedKeyUrl("key URL is ambiguous")
        return url


@dataclass(frozen=True, slots=True)
class KeyFetcher:
    """Fetches key material over https from allowlisted hosts, bounded in time and size.

    Args:
        allowlist: where keys may come from.
        ssl_context: the trust store (default: the system's); tests pass one trusting their own CA.
        timeout_s: for the whole fetch.
        max_bytes: larger responses are refused.
    """

    allowlist: HostAllowlist
    ssl_context: ssl.SSLContext | None = None
    timeout_s: float = FETCH_TIMEOUT_S
    max_bytes: int = MAX_KEY_BYTES

    async def get(self, url: str) -> bytes:
        return await self._fetch("GET", url, None)

    async def post_json(self, url: str, payload: bytes) -> bytes:
        return await self._fetch("POST", url, payload)

    async def _fetch(self, method: str, url: str, payload: bytes | None) -> bytes:
        self.allowlist.check(url)
        verify: ssl.SSLContext | bool = self.ssl_context if self.ssl_context is not None else True
        headers = {"content-type": "application/json"} if payload is not None else {}
        try:
            async with (
                asyncio.timeout(self.timeout_s),
                httpx.AsyncClient(verify=verify, follow_redirects=False, trust_env=False) as client,
                client.stream(method, url, content=payload, headers=headers) as response,
            ):
                if 400 <= response.status_code < 500:
                    raise UnknownKey(f"key URL answered {response.status_code}")
                if response.status_code != 200:
                    raise KeyUnavailable(f"key URL answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise KeyUnavailable(f"key over {self.max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise KeyUnavailable(f"key over {self.max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except TimeoutError:
            raise KeyUnavailable(f"key fetch took over {self.timeout_s} s") from None
        except httpx.HTTPError as exc:
            raise KeyUnavailable(f"key fetch failed: {type(exc).__name__}") from None


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    fetched_at: float


@dataclass(slots=True)
class KeyCache(Generic[K, V]):
    """Fetched keys by name (a certificate URL, a key id), each kept for `ttl_s`.

    Args:
        ttl_s: how long a key is used before it is fetched again.
        burst, interval_s: fetches of keys not held (or not fresh) are allowed `burst` at once, then one per
            `interval_s`; past that a request gets `KeyUnavailable` (503) and its provider retries.
        max_keys: the least recently fetched key goes past this many.
        clock: monotonic seconds (injected so tests can move time).
    """

    ttl_s: float = KEY_TTL_S
    burst: int = NEW_KEY_BURST
    interval_s: float = NEW_KEY_INTERVAL_S
    max_keys: int = MAX_CACHED_KEYS
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[K, _Entry[V]] = field(default_factory=OrderedDict)
    _inflight: dict[K, asyncio.Future[V]] = field(default_factory=dict)
    _tokens: float = -1.0
    _refilled_at: float = 0.0

    def peek(self, key: K) -> V | None:
        """The key if held (fresh or stale), without fetching."""
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """The key, fetched with `fetch` when not held or older than the TTL."""
        entry = self._entries.get(key)
        now = self.clock()
        if entry is not None and now - entry.fetched_at < self.ttl_s:
            return entry.value
        try:
            return await self._fetch_once(key, fetch)
        except KeyUnavailable:
            # The provider is down: a key fetched less than two TTLs ago is still better than a 503.
            if entry is not None and now - entry.fetched_at < 2 * self.ttl_s:
                logger.warning("key refresh failed: using the one fetched %.0f s ago", now - entry.fetched_at)
                return entry.value
            raise

    async def refresh(self, key: K, fetch: Callable[[], Awaitable[V]], *, min_age_s: float) -> V:
        """Fetch the key again, unless the one held is younger than `min_age_s` (a key set that lacks the key
        id a request names: the provider may have rotated, or the sender made the id up)."""
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry.fetched_at < min_age_s:
            return entry.value
        return await self._fetch_once(key, fetch)

    async def get_holding(self, key: K, fetch: Callable[[], Awaitable[V]], holds: Callable[[V], bool]) -> V:
        """The key set, fetched again when `holds` says it lacks what a request names (a key id), but not
        more than once per `REFETCH_MIN_AGE_S`."""
        value = await self.get(key, fetch)
        return value if holds(value) else await self.refresh(key, fetch, min_age_s=REFETCH_MIN_AGE_S)

    async def _fetch_once(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        inflight = self._inflight.get(key)
        if inflight is not None:
            return await asyncio.shield(inflight)
        self._take_token()
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            # Consumed here: the waiters (if any) get it too; none must not warn "never retrieved".
            future.exception()
            raise
        else:
            future.set_result(value)
            self._entries[key] = _Entry(value, self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
            return value
        finally:
            del self._inflight[key]

    def _take_token(self) -> None:
        now = self.clock()
        if self._tokens < 0:
            self._tokens, self._refilled_at = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled_at) / self.interval_s)
        self._refilled_at = now
        if self._tokens < 1:
            raise KeyUnavailable("too many key fetches: try again later")
        self._tokens -= 1


async def load_certificate_key(
    fetcher: KeyFetcher, keys: KeyCache[str, rsa.RSAPublicKey], url: str, *, named_in: str, provider: str
) -> None:
    """Hold in `keys` the RSA key of the certificate at `url` (SNS's and PayPal's), fetched unless held already.

    Args:
        named_in: where the request names the URL (`SigningCertURL`), for the errors.
        provider: the provider's name, for the errors.

    Raises:
        UntrustedKeyUrl: the URL is not one of the provider's.
        KeyUnavailable: the fetch failed, or did not serve a PEM certificate with an RSA key.
    """
    fetcher.allowlist.check(url)
    await keys.get(url, lambda: _certificate_key(fetcher, url, named_in, provider))


async def _certificate_key(fetcher: KeyFetcher, url: str, named_in: str, provider: str) -> rsa.RSAPublicKey:
    pem = await fetcher.get(url)
    try:
        # The URL may serve the chain: the signing certificate comes first.
        key = x509.load_pem_x509_certificates(pem)[0].public_key()
    except (ValueError, IndexError):
        raise KeyUnavailable(f"{named_in} did not serve a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyUnavailable(f"the {provider} certificate's key is not RSA")
    return key
