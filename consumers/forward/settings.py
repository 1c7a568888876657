"""The forwarder's settings, from `FORWARD_*` environment variables: where to POST, the signing secret, which
events, and how long to wait for an answer."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.errors import ConfigError
from consumers.forward.signing import signing_key
from consumers.settings import CommaList, describe_invalid


class ForwardSettings(BaseSettings):
    """Settings of `consumers.forward`; build them with `load_forward_settings()`."""

    model_config = SettingsConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, frozen=True)

    # The agent service's endpoint. It may carry a token in its path or query, so it is never logged whole.
    forward_url: SecretStr = Field(validation_alias="FORWARD_URL")
    # `whsec_<base64>`; several, comma-separated, while one is rotated: each delivery is signed with all of them.
    forward_secret: SecretStr = Field(validation_alias="FORWARD_SECRET")
    # Globs (`fnmatch`, case-sensitive) of the providers and event types to forward; others are done unsent.
    forward_providers: CommaList = Field(("*",), validation_alias="FORWARD_PROVIDERS")
    forward_types: CommaList = Field(("*",), validation_alias="FORWARD_TYPES")
    # The longest wait for one answer, in seconds; never past the handler's own deadline. The specification
    # recommends 15 to 30 s; CONSUMER_HANDLER_TIMEOUT_S is 30 s by default.
    forward_timeout_s: float = Field(15.0, gt=0, le=3600, validation_alias="FORWARD_TIMEOUT_S")

    @field_validator("forward_url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        try:
            url = httpx.URL(value.get_secret_value().strip())
        except (httpx.InvalidURL, TypeError):
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return SecretStr(str(url))

    @field_validator("forward_secret")
    @classmethod
    def _check_secrets(cls, value: SecretStr) -> SecretStr:
        secrets = [part for part in value.get_secret_value().split(",") if part.strip()]
        if not secrets:
            raise ValueError("must be set to a whsec_ secret")
        for secret in secrets:
            signing_key(secret)
        return value

    @field_validator("forward_providers", "forward_types", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("forward_providers", "forward_types")
    @classmethod
    def _check_globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must name at least one glob (`*` for all)")
        return value

    @property
    def url(self) -> str:
        """`FORWARD_URL`, normalized."""
        return self.forward_url.get_secret_value()

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The HMAC keys of `FORWARD_SECRET`, the current one first."""
        return tuple(signing_key(part) for part in self.forward_secret.get_secret_value().split(",") if part.strip())

    @property
    def endpoint(self) -> str:
        """Where the events go, fit for a log line: scheme, host and port, without path, query or credentials."""
        url = httpx.URL(self.url)
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")

    def wants(self, provider: str, type: str) -> bool:
        """Whether an event of this provider and type is forwarded."""
        return _matches(provider, self.forward_providers) and _matches(type, self.forward_types)


def _matches(name: str, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(name, glob) for glob in globs)


def load_forward_settings(**overrides: object) -> ForwardSettings:
    """Read the settings from the environment (and `overrides`, by field name).

    Raises:
        ConfigError: one line naming the variable and what is wrong with it, never its value.
    """
    try:
        return ForwardSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from None
