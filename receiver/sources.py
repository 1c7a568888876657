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
    header = "X-Acme-Signature"         # generic HMAC only: header, prefix, algorithm, encoding
    prefix = ""
    algorithm = "sha512"
    encoding = "base64"

Secrets never live in the file, only in the environment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from receiver.errors import ConfigError
from receiver.settings import describe_validation_error
from receiver.verify import GitHubScheme, HmacScheme, Scheme, StripeScheme
from schemas.topics import event_topic

SECRET_ENV_PREFIX = "WEBHOOK_SECRET_"  # noqa: S105 (a variable name prefix)
BUILT_IN_PROVIDERS = ("hmac", "github", "stripe")

# A source name is one URL path segment; a topic name is what Kafka allows.
_SOURCE_NAME = r"[a-z0-9][a-z0-9_-]{0,63}"
_TOPIC_NAME = r"[A-Za-z0-9._-]{1,249}"


@dataclass(frozen=True, slots=True)
class Source:
    """One enabled endpoint."""

    name: str
    scheme: Scheme
    secrets: tuple[bytes, ...]
    topic: str

    @property
    def provider(self) -> str:
        return self.scheme.provider


class _SourceEntry(BaseModel):
    """One `[sources.<name>]` table of the sources file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["hmac", "github", "stripe"]
    topic: Annotated[str, Field(pattern=f"^{_TOPIC_NAME}$")] | None = None
    secrets_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    header: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,128}$")] | None = None
    prefix: Annotated[str, Field(max_length=64)] | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] | None = None
    encoding: Literal["hex", "base64"] | None = None


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[Annotated[str, Field(pattern=f"^{_SOURCE_NAME}$")], _SourceEntry] = Field(default_factory=dict)


def secret_env_name(source: str) -> str:
    """The variable that holds a source's secrets: `WEBHOOK_SECRET_<SOURCE>`."""
    return SECRET_ENV_PREFIX + source.upper().replace("-", "_")


def load_sources(environ: Mapping[str, str], *, sources_file: Path | None, tolerance_s: int) -> dict[str, Source]:
    """The enabled sources by name; anything misconfigured is a `ConfigError` that names it.

    Args:
        environ: where the secrets are (`os.environ` in production).
        sources_file: the TOML file of custom sources, if any.
        tolerance_s: the replay window of timestamped schemes.
    """
    entries = {name: _SourceEntry.model_validate({"provider": name}) for name in BUILT_IN_PROVIDERS}
    from_file = _read_sources_file(sources_file) if sources_file is not None else {}
    entries.update(from_file)

    known_envs = {entry.secrets_env or secret_env_name(name): name for name, entry in entries.items()}
    for key in environ:
        if key.startswith(SECRET_ENV_PREFIX) and key not in known_envs:
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
        sources[name] = Source(
            name=name,
            scheme=_scheme(entry, tolerance_s),
            secrets=secrets,
            topic=entry.topic or event_topic(entry.provider),
        )
    return sources


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
        hmac_options = (entry.header, entry.prefix, entry.algorithm, entry.encoding)
        if entry.provider != "hmac" and any(option is not None for option in hmac_options):
            raise ConfigError(
                f"WEBHOOK_SOURCES_FILE {path}: source {name!r}: header, prefix, algorithm and encoding "
                "apply to provider 'hmac' only"
            )
    return dict(parsed.sources)


def _scheme(entry: _SourceEntry, tolerance_s: int) -> Scheme:
    if entry.provider == "github":
        return GitHubScheme()
    if entry.provider == "stripe":
        return StripeScheme(tolerance_s=tolerance_s)
    default = HmacScheme()
    return HmacScheme(
        header=entry.header or default.header,
        prefix=default.prefix if entry.prefix is None else entry.prefix,
        algorithm=entry.algorithm or default.algorithm,
        encoding=entry.encoding or default.encoding,
    )
