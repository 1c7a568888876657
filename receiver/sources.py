"""Sources: which endpoints exist, how each one is verified, with which secrets, to which topic.

A source is one webhook endpoint, `POST /webhooks/<name>`. Every built-in provider has a default source
of its own name, enabled when `WEBHOOK_SECRET_<NAME>` is set (upper case, `-` as `_`; several secrets
separated by commas are all accepted, for rotation). `WEBHOOK_SOURCES_FILE` names a TOML file that adds
custom sources (a second Stripe account, a generic HMAC sender with its own header):

    [sources.stripe-eu]
    provider = "stripe"                 # the scheme; also the default topic, webhooks.stripe
    secrets_env = "STRIPE_EU_SECRET"    # optional: where the secrets are (default WEBHOOK_SECRET_STRIPE_EU)

    [sources.acme]
    provider = "hmac"
    topic = "webhooks.acme"
    header = "X-Acme-Signature"         # generic HMAC only: header, prefix, algorithm, encoding,
    prefix = ""                         # timestamp_header, timestamp_unit, signed_content,
    algorithm = "sha512"                # id_header / id_field, type_header / type_field
    encoding = "base64"

    [sources.twilio-eu]
    provider = "twilio"
    public_url = "https://hooks.example.com/webhooks/twilio-eu"   # what the provider signs

    [sources.stripe-knative]
    provider = "stripe"
    topic = "webhooks.stripe-knative"
    cloudevents = "structured"          # records as whole CloudEvents (default "binary": ce_ headers)

Schemes that sign the URL they call (Twilio, Square, HubSpot) need the source's public URL, exactly as
configured at the provider: `public_url` in the file or `WEBHOOK_PUBLIC_URL_<SOURCE>` (which wins), so
the receiver verifies correctly behind a proxy. Secrets never live in the file, only in the environment.

Beside these, the run-time registry (`receiver/registry/`) adds, changes and removes sources while the
receiver runs; `registry_source` builds them, and a name the file or the environment uses wins.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from receiver.errors import ConfigError, HandshakeRefused
from receiver.settings import describe_validation_error
from receiver.verify import Handshake, HandshakeScheme, Headers, HmacScheme, KeyedScheme, Scheme, Spec, SpecScheme
from receiver.verify.base import HandshakeRule
from receiver.verify.handshakes import HandshakeKind
from receiver.verify.hmac import PLACEHOLDERS
from receiver.verify.providers import BUILT_IN_PROVIDERS, URL_SIGNING_PROVIDERS, scheme_for
from receiver.verify.spec import AckSpec, EventSpec, SampleSpec, SignatureSpec
from schemas.records import Mode, RecordFormat
from schemas.topics import event_topic

logger = logging.getLogger(__name__)

SECRET_ENV_PREFIX = "WEBHOOK_SECRET_"  # noqa: S105 (a variable name prefix)
PUBLIC_URL_ENV_PREFIX = "WEBHOOK_PUBLIC_URL_"
# Meta's GET challenge names a verify token of your choosing, a second secret beside the app secret.
VERIFY_TOKEN_ENV_PREFIX = "WEBHOOK_VERIFY_TOKEN_"  # noqa: S105 (a variable name prefix)
_HMAC_OPTIONS = (
    "header",
    "prefix",
    "algorithm",
    "encoding",
    "timestamp_header",
    "timestamp_unit",
    "signed_content",
    "id_header",
    "id_field",
    "type_header",
    "type_field",
)

# A source name is one URL path segment; a topic name is what Kafka allows.
_SOURCE_NAME = r"[a-z0-9][a-z0-9_-]{0,63}"
_TOPIC_NAME = r"[A-Za-z0-9._-]{1,249}"
_HEADER_NAME = r"^[A-Za-z0-9-]{1,128}$"
_FIELD_PATH = r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$"
_PUBLIC_URL_FORM = re.compile(r"https?://[^\s]{1,2000}")


def _check_public_url(value: str) -> str:
    if _PUBLIC_URL_FORM.fullmatch(value) is None:
        raise ValueError("must be an http:// or https:// URL of at most 2000 characters more, without spaces")
    return value


# Matched by Python's re rather than as a pydantic pattern: the Rust regex engine expands `{1,2000}` of a
# Unicode class into a validator of ~8 MiB, held by every receiver process (docs/performance.md).
PublicUrl = Annotated[str, AfterValidator(_check_public_url)]


@dataclass(frozen=True, slots=True)
class Source:
    """One enabled endpoint."""

    name: str
    scheme: Scheme
    secrets: tuple[bytes, ...]
    topic: str
    cloudevents: Mode = "binary"
    # Meta's `hub.verify_token`, where the source's handshake checks one.
    verify_token: bytes | None = None
    # A registry source's tenant, carried in its envelopes and records.
    tenant: str | None = None
    # Verified events per second over every receiver process; above it a 429 (None: no limit).
    rate_per_s: float | None = None
    # Its `source` label on the metrics: its name, but a bounded one for registry sources (metrics.py).
    metrics_label: str = ""
    # Whether it is one of the run-time registry's (receiver/registry/), whose secrets a handshake may set.
    from_registry: bool = False
    # Set while a registry source waits for its provider's handshake to give it its secret (`capture`).
    keep_captured: Callable[[bytes], Awaitable[None]] | None = field(default=None, repr=False, compare=False)
    # The scheme's handshake, where it has one (checked once here, not per request).
    _handshake: HandshakeScheme | None = field(default=None, init=False, repr=False, compare=False)
    # How its records are written, computed once here rather than per request.
    record_format: RecordFormat = field(init=False, repr=False, compare=False)
    # The scheme's key loading, where its keys are fetched from the provider.
    _keyed: KeyedScheme | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.scheme, HandshakeScheme):
            object.__setattr__(self, "_handshake", self.scheme)
        object.__setattr__(
            self, "record_format", RecordFormat(self.name, self.scheme.provider, self.cloudevents, self.tenant)
        )
        if not self.metrics_label:
            object.__setattr__(self, "metrics_label", self.name)
        if isinstance(self.scheme, KeyedScheme):
            object.__setattr__(self, "_keyed", self.scheme)

    @property
    def fetches_keys(self) -> bool:
        return self._keyed is not None

    async def load_keys(self, headers: Headers, body: bytes) -> None:
        """Fetch (or find cached) the provider keys this request names, before `scheme.verify`."""
        if self._keyed is not None:
            await self._keyed.load_keys(headers, body, self.secrets)

    @property
    def provider(self) -> str:
        return self.scheme.provider

    @property
    def handshakes(self) -> tuple[HandshakeRule, ...]:
        """The scheme's declared handshakes (receiver/verify/handshakes.py), in the order they are asked."""
        rules: tuple[HandshakeRule, ...] = tuple(getattr(self.scheme, "handshakes", ()))
        return rules

    @property
    def ack(self) -> Handshake | None:
        """The answer to an accepted event where the provider wants its own, else None (the usual 202)."""
        ack: Handshake | None = getattr(self.scheme, "ack", None)
        return ack

    def handshake(self, headers: Headers, body: bytes) -> Handshake | None:
        """The answer to a verified handshake request of a code scheme, or None for an ordinary event."""
        return None if self._handshake is None else self._handshake.handshake(headers, body)

    async def capture(self, secret: bytes) -> None:
        """Keep the secret a provider chose in its handshake (Asana, Notion), before the handshake is answered.

        A registry source waiting for it seals it into the registry: every receiver verifies the events after
        with it. Any other source keeps what it has: a handshake never replaces an established secret. It is
        answered when it repeats a secret the source holds; a registry source refuses another one (403: the
        operator arms it again with `webhooks sources capture`). A source of the environment or the sources
        file can't be written: the handshake is answered and the secret not kept, with a warning (never the
        secret) naming the variable to set.
        """
        if self.keep_captured is not None:
            await self.keep_captured(secret)
            return
        held = False
        for own in self.secrets:
            held |= hmac.compare_digest(secret, own)
        if held:
            return
        if self.from_registry:
            raise HandshakeRefused(
                "the source has its secret already: `webhooks sources capture` lets the next handshake set it"
            )
        logger.warning(
            "%s handshake on source %s answered, its secret not kept: a source of the environment or the sources "
            "file can't be written (set %s, or add a registry source with --capture)",
            self.provider,
            self.name,
            secret_env_name(self.name),
        )


class _SourceEntry(BaseModel):
    """One `[sources.<name>]` table of the sources file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Annotated[str, Field(pattern=f"^{_SOURCE_NAME}$")] | None = None
    topic: Annotated[str, Field(pattern=f"^{_TOPIC_NAME}$")] | None = None
    secrets_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    public_url: PublicUrl | None = None
    cloudevents: Mode = "binary"
    header: Annotated[str, Field(pattern=_HEADER_NAME)] | None = None
    prefix: Annotated[str, Field(max_length=64)] | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] | None = None
    encoding: Literal["hex", "base64"] | None = None
    timestamp_header: Annotated[str, Field(pattern=_HEADER_NAME)] | None = None
    timestamp_unit: Literal["s", "ms"] | None = None
    signed_content: Annotated[str, Field(min_length=6, max_length=256)] | None = None
    id_header: Annotated[str, Field(pattern=_HEADER_NAME)] | None = None
    id_field: Annotated[str, Field(pattern=_FIELD_PATH)] | None = None
    type_header: Annotated[str, Field(pattern=_HEADER_NAME)] | None = None
    type_field: Annotated[str, Field(pattern=_FIELD_PATH)] | None = None
    # A declared provider (receiver/verify/spec.py): the source's own scheme as data.
    signature: SignatureSpec | None = None
    event: EventSpec | None = None
    handshakes: tuple[HandshakeKind, ...] | None = None
    ack: AckSpec | None = None
    sample: SampleSpec | None = None


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[Annotated[str, Field(pattern=f"^{_SOURCE_NAME}$")], _SourceEntry] = Field(default_factory=dict)


def secret_env_name(source: str) -> str:
    """The variable that holds a source's secrets: `WEBHOOK_SECRET_<SOURCE>`."""
    return SECRET_ENV_PREFIX + source.upper().replace("-", "_")


def verify_token_env_name(source: str) -> str:
    """The variable that holds a source's handshake verify token: `WEBHOOK_VERIFY_TOKEN_<SOURCE>`."""
    return VERIFY_TOKEN_ENV_PREFIX + source.upper().replace("-", "_")


def public_url_env_name(source: str) -> str:
    """The variable that holds a source's public URL: `WEBHOOK_PUBLIC_URL_<SOURCE>`."""
    return PUBLIC_URL_ENV_PREFIX + source.upper().replace("-", "_")


def load_sources(environ: Mapping[str, str], *, sources_file: Path | None, tolerance_s: int) -> dict[str, Source]:
    """The enabled sources by name; anything misconfigured is a `ConfigError` that names it.

    Args:
        environ: where the secrets are (`os.environ` in production).
        sources_file: the TOML file of custom sources, if any.
        tolerance_s: the replay window of timestamped schemes.
    """
    entries: dict[str, _SourceEntry] = {name: _SourceEntry(provider=name) for name in BUILT_IN_PROVIDERS}
    from_file = _read_sources_file(sources_file) if sources_file is not None else {}
    entries.update(from_file)

    known_envs = {entry.secrets_env or secret_env_name(name): name for name, entry in entries.items()}
    known_envs.update({public_url_env_name(name): name for name in entries})
    known_envs.update({verify_token_env_name(name): name for name in entries})
    for key in environ:
        if (
            key.startswith((SECRET_ENV_PREFIX, PUBLIC_URL_ENV_PREFIX, VERIFY_TOKEN_ENV_PREFIX))
            and key not in known_envs
        ):
            raise ConfigError(f"{key} names no source (sources: {', '.join(sorted(entries))})")

    sources: dict[str, Source] = {}
    for name, entry in entries.items():
        env = entry.secrets_env or secret_env_name(name)
        raw = environ.get(env)
        if raw is None:
            if name not in from_file:
                continue  # a built-in source stays disabled until it has a secret
            raise ConfigError(f"source {name!r} has no secret: set {env}")
        secrets = tuple(part.strip().encode() for part in raw.split(",") if part.strip())
        if not secrets:
            raise ConfigError(f"{env} is set but holds no secret")
        scheme = _scheme(name, entry, tolerance_s, _public_url(name, entry, environ))
        check_secrets(scheme, secrets, env)
        token = environ.get(verify_token_env_name(name))
        sources[name] = Source(
            name=name,
            scheme=scheme,
            secrets=secrets,
            topic=entry.topic or event_topic(scheme.provider),
            verify_token=token.encode() if token else None,
            cloudevents=entry.cloudevents,
        )
    return sources


def _public_url(name: str, entry: _SourceEntry, environ: Mapping[str, str]) -> str:
    env = public_url_env_name(name)
    url = environ.get(env) or entry.public_url
    signs_url = entry.provider in URL_SIGNING_PROVIDERS or (
        entry.signature is not None and "{url}" in entry.signature.signed
    )
    if not signs_url:
        if url is not None:
            raise ConfigError(
                f"source {name!r}: a public URL applies only to providers that sign it "
                f"({', '.join(sorted(URL_SIGNING_PROVIDERS))}, or a signature naming {{url}})"
            )
        return ""
    if url is None:
        raise ConfigError(f"source {name!r} ({entry.provider or name}) signs its URL: set {env} or public_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port raises on a bad one)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"{env}: the public URL must be an absolute http(s) URL without a fragment")
    return url


def registry_source(
    name: str,
    *,
    provider: str,
    secrets: tuple[bytes, ...],
    tolerance_s: int,
    tenant: str | None = None,
    topic: str | None = None,
    public_url: str | None = None,
    cloudevents: Mode = "binary",
    rate_per_s: float | None = None,
    metrics_label: str = "",
    verify_token: bytes | None = None,
    keep_captured: Callable[[bytes], Awaitable[None]] | None = None,
) -> Source:
    """A source of the run-time registry: a built-in provider's scheme; a `ConfigError` says what is wrong."""
    scheme = _shared_scheme(provider, public_url, tolerance_s)
    if isinstance(scheme, KeyedScheme):
        # Keys fetched with one tenant's credentials must never verify another tenant's requests.
        scheme = _registry_scheme(provider, public_url, tolerance_s)
    check_secrets(scheme, secrets, "the secret")
    return Source(
        name=name,
        scheme=scheme,
        secrets=secrets,
        topic=topic or event_topic(provider),
        cloudevents=cloudevents,
        verify_token=verify_token,
        tenant=tenant,
        rate_per_s=rate_per_s,
        metrics_label=metrics_label,
        from_registry=True,
        keep_captured=keep_captured,
    )


def captured_by(provider: str) -> str | None:
    """How a built-in provider's handshake gives a source its secret (`kept`, `shown`), or None where it doesn't."""
    rules = getattr(scheme_for_provider(provider), "handshakes", ())
    return next((rule.captures for rule in rules if rule.captures is not None), None)


def has_verify_token(provider: str) -> bool:
    """Whether a built-in provider's handshake checks a verify token (Meta's `hub.verify_token`)."""
    return any(rule.kind == "meta" for rule in getattr(scheme_for_provider(provider), "handshakes", ()))


def scheme_for_provider(provider: str) -> Scheme:
    """A built-in provider's scheme as a registry source has it (with no public URL: the handshakes only)."""
    return _shared_scheme(provider, "https://hooks.example.com/" if provider in URL_SIGNING_PROVIDERS else None, 300)


@functools.lru_cache(maxsize=4096)
def _shared_scheme(provider: str, public_url: str | None, tolerance_s: int) -> Scheme:
    # A scheme holds no per-source state (but a keyed one's key cache): thousands of sources of one provider
    # share one, which keeps the memory per source small.
    return _registry_scheme(provider, public_url, tolerance_s)


def _registry_scheme(provider: str, public_url: str | None, tolerance_s: int) -> Scheme:
    if provider not in BUILT_IN_PROVIDERS:
        raise ConfigError(f"provider {provider!r} is not a built-in one")
    entry = _SourceEntry(provider=provider, public_url=public_url)
    return _scheme(provider, entry, tolerance_s, _public_url(provider, entry, {}))


def check_secrets(scheme: Scheme, secrets: tuple[bytes, ...], env: str) -> None:
    """Secrets that are keys (Standard Webhooks' `whsec_`, public keys) must parse; never echo them."""
    check = getattr(scheme, "check_secret", None)
    if check is None:
        return
    for position, secret in enumerate(secrets):
        try:
            check(secret)
        except ValueError as exc:
            raise ConfigError(f"{env}: secret {position}: {exc}") from None


def _read_sources_file(path: Path) -> dict[str, _SourceEntry]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"WEBHOOK_SOURCES_FILE {path}: cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"WEBHOOK_SOURCES_FILE {path}: not valid TOML ({exc})") from None
    try:
        parsed = _SourcesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"WEBHOOK_SOURCES_FILE {path}: {describe_validation_error(exc)}") from None
    for name, entry in parsed.sources.items():
        problem = _entry_problem(entry)
        if problem:
            raise ConfigError(f"WEBHOOK_SOURCES_FILE {path}: source {name!r}: {problem}")
    return dict(parsed.sources)


def _entry_problem(entry: _SourceEntry) -> str | None:
    declared = [part for part in ("event", "handshakes", "ack", "sample") if getattr(entry, part) is not None]
    if entry.signature is not None:
        if entry.provider in BUILT_IN_PROVIDERS:
            return f"a source with its own signature declares a provider: {entry.provider!r} is a built-in one"
        if any(getattr(entry, option) is not None for option in _HMAC_OPTIONS):
            return f"{', '.join(_HMAC_OPTIONS)} apply to provider 'hmac' only, not with a signature table"
        return None
    if declared:
        return f"{', '.join(declared)} apply to a source with its own signature table only"
    if entry.provider is None:
        return "set provider (a built-in one) or declare the source's signature"
    if entry.provider not in BUILT_IN_PROVIDERS:
        return f"provider {entry.provider!r} is not a built-in one (declare its signature to add it)"
    return _hmac_options_problem(entry)


def _hmac_options_problem(entry: _SourceEntry) -> str | None:
    if entry.provider != "hmac":
        if any(getattr(entry, option) is not None for option in _HMAC_OPTIONS):
            return f"{', '.join(_HMAC_OPTIONS)} apply to provider 'hmac' only"
        return None
    content = entry.signed_content
    if content is None:
        return None
    if "{body}" not in content:
        return "signed_content must contain {body}"
    if "{timestamp}" in content and entry.timestamp_header is None:
        return "signed_content names {timestamp}: set timestamp_header"
    if "{id}" in content and entry.id_header is None:
        return "signed_content names {id}: set id_header"
    stripped = content
    for placeholder in PLACEHOLDERS:
        stripped = stripped.replace(placeholder, "")
    if "{" in stripped or "}" in stripped:
        return f"signed_content may only use the placeholders {', '.join(PLACEHOLDERS)}"
    return None


def _scheme(name: str, entry: _SourceEntry, tolerance_s: int, public_url: str) -> Scheme:
    if entry.signature is not None:
        spec = Spec(
            provider=entry.provider or name,
            signature=entry.signature,
            event=entry.event or EventSpec(),
            handshakes=entry.handshakes or (),
            ack=entry.ack,
            sample=entry.sample,
        )
        return SpecScheme(spec, tolerance_s=tolerance_s, public_url=public_url)
    provider = entry.provider or name
    if provider == "hmac":
        default = HmacScheme()
        return HmacScheme(
            header=entry.header or default.header,
            prefix=default.prefix if entry.prefix is None else entry.prefix,
            algorithm=entry.algorithm or default.algorithm,
            encoding=entry.encoding or default.encoding,
            timestamp_header=entry.timestamp_header,
            timestamp_unit=entry.timestamp_unit or default.timestamp_unit,
            signed_content=entry.signed_content or default.signed_content,
            id_header=entry.id_header,
            id_field=entry.id_field,
            type_header=entry.type_header,
            type_field=entry.type_field,
            tolerance_s=tolerance_s,
        )
    return scheme_for(provider, tolerance_s=tolerance_s, public_url=public_url)
