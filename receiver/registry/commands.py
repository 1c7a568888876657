"""`webhooks sources add | list | rotate | capture | verify-token | reveal | disable | enable | delete | reencrypt`:
the registry's commands.

Each reads the registry to its end, checks everything it was given, then writes one record per source it
changes and returns once Kafka holds them. Bad input is refused with one line and exit code 2, before
anything is written. A secret is given on standard input (`--secret-stdin`) or in a variable
(`--secret-env NAME`), never as an argument (the process list and shell history would show it), and no
command prints one but `reveal`, which shows a secret a provider's handshake chose once, for the operator
to paste back at the provider (Notion's `verification_token`): `list` shows how many secrets a source holds
and until when the old ones count.

A provider that chooses the secret in its handshake (Asana, Notion) gets a source that waits for it
(`add --capture`, or `capture` for one that has a secret): the next handshake sets it, and none after it.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets as random
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import orjson
from pydantic import ValidationError

from receiver.errors import ConfigError, RegistryError, RegistryUnavailable, SealError
from receiver.registry import log
from receiver.registry.definition import (
    MAX_RATE_PER_S,
    MAX_SECRETS,
    NAME_PATTERN,
    Capture,
    SealedSecret,
    SourceDefinition,
    build_source,
    verify_token_aad,
)
from receiver.registry.keyring import KEYS_ENV, KEYS_FILE_ENV, Keyring, load_keyring
from receiver.settings import ReceiverSettings, describe_validation_error, load_settings
from receiver.sources import captured_by, has_verify_token
from receiver.verify.providers import BUILT_IN_PROVIDERS, URL_SIGNING_PROVIDERS
from schemas.topics import event_topic

PROG = "webhooks sources"
# Resend keeps signing with the old secret for 24 hours after a rotation: the same default window here.
DEFAULT_KEEP_OLD = "24h"
_ID_PREFIX = "src_"
_DURATION = re.compile(r"^(\d{1,6})([smhd]?)$")
_UNITS_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as every other refusal: argparse's usage block would be a second.
        self.exit(2, f"{self.prog}: {message}\n")


def new_source_id() -> str:
    """An id nobody can guess (120 random bits), fit for a URL path: `src_` and 24 base32 letters."""
    return _ID_PREFIX + base64.b32encode(random.token_bytes(15)).decode().lower()


def main(argv: Sequence[str], *, prog: str = PROG) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace, ReceiverSettings, Keyring], str] = args.run
    try:
        settings = load_settings()
        keyring = load_keyring(settings)
        if keyring is None:
            raise ConfigError(f"the registry needs a master key: set {KEYS_ENV} or {KEYS_FILE_ENV}")
        print(command(args, settings, keyring))
    except (ConfigError, RegistryError, SealError) as exc:
        print(f"{prog} {args.command}: {exc}", file=sys.stderr)
        return 2
    except RegistryUnavailable as exc:
        print(f"{prog} {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Sources of the run-time registry: endpoints added, rotated, disabled and deleted while the "
        "receivers run (docs/sources.md).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    add = commands.add_parser("add", help="add a source; prints its id (its URL is /webhooks/<id>)")
    add.add_argument("--provider", required=True, help="a built-in provider (docs/providers.md)")
    add.add_argument("--tenant", help="the tenant it belongs to: in its envelopes, records and idempotency keys")
    add.add_argument("--id", dest="source_id", help="the id (default: a random one nobody can guess)")
    add.add_argument("--topic", help="where its events go (default webhooks.<provider>)")
    add.add_argument("--public-url", help="the URL the provider calls, for providers that sign it")
    add.add_argument("--rate", type=float, help="verified events a second over all receivers; above it a 429")
    add.add_argument("--cloudevents", choices=("binary", "structured"), default="binary", help="record mode")
    secret = _secret_options(add, required=False)
    secret.add_argument(
        "--capture", action="store_true", help="no secret: the provider's handshake sets it (Asana, Notion)"
    )
    _verify_token_options(add, "--verify-token", required=False)
    add.set_defaults(run=_add)

    listing = commands.add_parser("list", help="the sources, never their secrets")
    listing.add_argument("--tenant", help="only this tenant's")
    listing.add_argument("--json", action="store_true", help="one JSON document")
    listing.set_defaults(run=_list)

    rotate = commands.add_parser("rotate", help="give a source a new secret; the old ones stay valid a while")
    rotate.add_argument("source_id", metavar="ID")
    _secret_options(rotate)
    rotate.add_argument(
        "--keep-old-for",
        default=DEFAULT_KEEP_OLD,
        help=f"how long the old secrets stay valid: 90s, 30m, 24h, 7d or 0 (default {DEFAULT_KEEP_OLD})",
    )
    rotate.set_defaults(run=_rotate)

    capture = commands.add_parser(
        "capture", help="let the provider's next handshake set the secret (a webhook made again: Asana, Notion)"
    )
    capture.add_argument("source_id", metavar="ID")
    capture.add_argument(
        "--keep-old-for",
        default=DEFAULT_KEEP_OLD,
        help=f"how long the secrets held now stay valid after the handshake (default {DEFAULT_KEEP_OLD})",
    )
    capture.set_defaults(run=_capture)

    token = commands.add_parser("verify-token", help="set the verify token Meta's GET challenge names")
    token.add_argument("source_id", metavar="ID")
    _verify_token_options(token, "--token", required=True)
    token.set_defaults(run=_set_verify_token)

    reveal = commands.add_parser(
        "reveal", help="show, once, the secret a handshake chose, to paste back at the provider (Notion)"
    )
    reveal.add_argument("source_id", metavar="ID")
    reveal.set_defaults(run=_reveal)

    for name, summary, run in (
        ("disable", "stop serving a source (404) and keep it", _disable),
        ("enable", "serve a disabled source again", _enable),
        ("delete", "remove a source for good", _delete),
    ):
        sub = commands.add_parser(name, help=summary)
        sub.add_argument("source_id", metavar="ID")
        sub.set_defaults(run=run)

    reencrypt = commands.add_parser(
        "reencrypt", help="seal every secret with the first master key (after adding a new one first)"
    )
    reencrypt.set_defaults(run=_reencrypt)
    return parser


def _secret_options(parser: argparse.ArgumentParser, *, required: bool = True) -> argparse._MutuallyExclusiveGroup:
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--secret-stdin", action="store_true", help="read the secret from standard input")
    where.add_argument("--secret-env", metavar="NAME", help="read the secret from this environment variable")
    return where


def _verify_token_options(parser: argparse.ArgumentParser, option: str, *, required: bool) -> None:
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument(f"{option}-stdin", action="store_true", help="read the verify token from standard input")
    where.add_argument(f"{option}-env", metavar="NAME", help="read the verify token from this environment variable")


# ------------------------------------------------------------------------------------------------ commands


def _add(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    source_id = args.source_id or new_source_id()
    _check_name("--id", source_id)
    if args.tenant is not None:
        _check_name("--tenant", args.tenant)
    if args.provider not in BUILT_IN_PROVIDERS:
        raise RegistryError(f"--provider: {args.provider!r} is not a built-in provider (docs/providers.md)")
    signs_url = args.provider in URL_SIGNING_PROVIDERS
    if signs_url and args.public_url is None:
        raise RegistryError(
            f"--public-url: {args.provider} signs the URL it calls, give it exactly as configured there"
        )
    if not signs_url and args.public_url is not None:
        raise RegistryError(f"--public-url: {args.provider} does not sign its URL")
    if args.rate is not None and not 0 < args.rate <= MAX_RATE_PER_S:
        raise RegistryError(f"--rate: between 0 and {MAX_RATE_PER_S} events a second")
    if not (args.capture or args.secret_stdin or args.secret_env):
        raise RegistryError("the secret: give --secret-stdin or --secret-env (or --capture)")
    if args.capture and captured_by(args.provider) is None:
        raise RegistryError(f"--capture: {args.provider}'s handshake carries no secret; give the secret")
    if args.verify_token_stdin and args.secret_stdin:
        raise RegistryError("--verify-token-stdin: standard input holds the secret; give --verify-token-env")
    token = _read_verify_token(args, args.provider, stdin=args.verify_token_stdin, env=args.verify_token_env)
    now = _now()
    secrets = [] if args.capture else [SealedSecret(sealed=keyring.seal(_read_secret(args), source_id))]
    definition = _validated(
        id=source_id,
        tenant=args.tenant,
        provider=args.provider,
        topic=args.topic,
        public_url=args.public_url,
        cloudevents=args.cloudevents,
        rate_per_s=args.rate,
        secrets=secrets,
        capture=Capture(armed_at=now) if args.capture else None,
        verify_token=None if token is None else SealedSecret(sealed=keyring.seal(token, verify_token_aad(source_id))),
        created_at=now,
        updated_at=now,
    )
    _check_serves(definition, keyring, settings)
    if source_id in log.read_all(settings):
        raise RegistryError(f"--id: {source_id} exists already")
    log.write(settings, [(source_id, definition.to_bytes())])
    tenant = f"tenant {args.tenant}, " if args.tenant else ""
    waits = ", its secret set by its first handshake" if args.capture else ""
    return f"added {source_id} ({tenant}provider {args.provider}{waits}): POST /webhooks/{source_id}"


def _list(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    if args.tenant is not None:
        _check_name("--tenant", args.tenant)
    definitions = [d for d in _definitions(settings).values() if args.tenant is None or d.tenant == args.tenant]
    now = _now()
    rows = [_shown(definition, now) for definition in sorted(definitions, key=lambda d: (d.tenant or "", d.id))]
    if args.json:
        return orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode()
    header = ("ID", "TENANT", "PROVIDER", "STATE", "SECRETS", "RATE/S", "TOPIC")
    table = [header] + [
        (
            str(row["id"]),
            str(row["tenant"] or "-"),
            str(row["provider"]),
            str(row["state"]),
            str(row["secrets"]) + (f" (old until {row['old_secrets_until']})" if row["old_secrets_until"] else ""),
            str(row["rate_per_s"] or "-"),
            str(row["topic"]),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    return "\n".join([*lines, f"{len(rows)} sources"])


def _rotate(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    keep = _duration(args.keep_old_for)
    secret = _read_secret(args)
    definition = _existing(settings, args.source_id)
    now = _now()
    until = now + keep
    kept = [
        old.model_copy(update={"expires_at": min(old.expires_at or until, until)})
        for old in definition.secrets
        if old.live(now) and keep > timedelta(0)
    ]
    if len(kept) + 1 > MAX_SECRETS:
        raise RegistryError(
            f"{definition.id} holds {len(kept)} secrets still valid, the most is {MAX_SECRETS}: "
            "wait for one to expire or rotate with --keep-old-for 0"
        )
    new = SealedSecret(sealed=keyring.seal(secret, definition.id))
    # A secret given here ends a capture waiting for a handshake's.
    rotated = _validated(**{**definition.model_dump(), "secrets": [new, *kept], "capture": None, "updated_at": now})
    _check_serves(rotated, keyring, settings)
    log.write(settings, [(definition.id, rotated.to_bytes())])
    old = f"the old one valid until {_iso(until)}" if kept else "no old secret kept"
    ended = ", no longer waiting for its handshake" if definition.capture is not None else ""
    return f"rotated {definition.id}: {len(kept) + 1} secrets, {old}{ended}"


def _capture(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    keep = _duration(args.keep_old_for)
    definition = _existing(settings, args.source_id)
    if captured_by(definition.provider) is None:
        raise RegistryError(f"{definition.id}: {definition.provider}'s handshake carries no secret")
    now = _now()
    armed = definition.model_copy(
        update={"capture": Capture(armed_at=now, keep_old_for_s=int(keep.total_seconds())), "updated_at": now}
    )
    log.write(settings, [(definition.id, armed.to_bytes())])
    return f"{definition.id} waits for its {definition.provider} handshake to set its secret"


def _set_verify_token(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    definition = _existing(settings, args.source_id)
    token = _read_verify_token(args, definition.provider, stdin=args.token_stdin, env=args.token_env)
    assert token is not None
    sealed = SealedSecret(sealed=keyring.seal(token, verify_token_aad(definition.id)))
    changed = definition.model_copy(update={"verify_token": sealed, "updated_at": _now()})
    log.write(settings, [(definition.id, changed.to_bytes())])
    return f"{definition.id}: verify token set"


def _reveal(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    definition = _existing(settings, args.source_id)
    if captured_by(definition.provider) != "shown":
        raise RegistryError(f"{definition.id}: {definition.provider} takes no secret pasted back; nothing to show")
    newest = definition.secrets[0] if definition.secrets else None
    if newest is None or newest.captured_at is None:
        raise RegistryError(f"{definition.id}: no handshake has set its secret yet")
    if newest.shown:
        raise RegistryError(f"{definition.id}: its captured secret was shown once already")
    secret = keyring.open(newest.sealed, definition.id)
    secrets = (newest.model_copy(update={"shown": True}), *definition.secrets[1:])
    # Written before it is shown: a second `reveal` refuses even if this output is lost.
    log.write(settings, [(definition.id, definition.model_copy(update={"secrets": secrets}).to_bytes())])
    return secret.decode("utf-8", "replace")


def _disable(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    return _set_enabled(settings, args.source_id, enabled=False)


def _enable(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    return _set_enabled(settings, args.source_id, enabled=True)


def _delete(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    definition = _existing(settings, args.source_id)
    log.write(settings, [(definition.id, None)])
    return f"deleted {definition.id}"


def _reencrypt(args: argparse.Namespace, settings: ReceiverSettings, keyring: Keyring) -> str:
    changed: list[tuple[str, bytes | None]] = []
    count = 0
    now = _now()
    for definition in _definitions(settings).values():
        token = definition.verify_token
        stale = [
            s for s in (*definition.secrets, *([token] if token else [])) if not keyring.sealed_with_current(s.sealed)
        ]
        if not stale:
            continue
        secrets = [_resealed(keyring, s, definition.id) for s in definition.secrets]
        update: dict[str, object] = {"secrets": tuple(secrets), "updated_at": now}
        if token is not None:
            update["verify_token"] = _resealed(keyring, token, verify_token_aad(definition.id))
        count += len(stale)
        changed.append((definition.id, definition.model_copy(update=update).to_bytes()))
    if changed:
        log.write(settings, changed)
    return f"re-encrypted {count} secrets of {len(changed)} sources with master key {keyring.sealing_key_id}"


# ------------------------------------------------------------------------------------------------ helpers


def _resealed(keyring: Keyring, secret: SealedSecret, bound_to: str) -> SealedSecret:
    if keyring.sealed_with_current(secret.sealed):
        return secret
    return secret.model_copy(update={"sealed": keyring.seal(keyring.open(secret.sealed, bound_to), bound_to)})


def _read_verify_token(args: argparse.Namespace, provider: str, *, stdin: bool, env: str | None) -> bytes | None:
    if not stdin and env is None:
        return None
    if not has_verify_token(provider):
        raise RegistryError(f"the verify token: {provider}'s handshake checks none (Meta's do)")
    value = _read_value(stdin=stdin, env=env, what="the verify token")
    if len(value) > 1024 or not value.decode("utf-8", "replace").isprintable():
        raise RegistryError("the verify token: at most 1024 printable characters")
    return value


def _set_enabled(settings: ReceiverSettings, source_id: str, *, enabled: bool) -> str:
    definition = _existing(settings, source_id)
    state = "enabled" if enabled else "disabled"
    if definition.enabled == enabled:
        return f"{definition.id} is {state} already"
    changed = definition.model_copy(update={"enabled": enabled, "updated_at": _now()})
    log.write(settings, [(definition.id, changed.to_bytes())])
    return f"{state} {definition.id}"


def _definitions(settings: ReceiverSettings) -> dict[str, SourceDefinition]:
    definitions = {}
    for key, change in log.read_all(settings).items():
        assert change.value is not None
        try:
            definitions[key] = SourceDefinition.from_bytes(change.value)
        except ValidationError as exc:
            raise RegistryError(
                f"the record of {key} is not a source definition: {describe_validation_error(exc)}"
            ) from None
    return definitions


def _existing(settings: ReceiverSettings, source_id: str) -> SourceDefinition:
    _check_name("ID", source_id)
    definition = _definitions(settings).get(source_id)
    if definition is None:
        raise RegistryError(f"no source {source_id} in the registry")
    return definition


def _validated(**fields: object) -> SourceDefinition:
    try:
        return SourceDefinition.model_validate(fields)
    except ValidationError as exc:
        raise RegistryError(describe_validation_error(exc)) from None


def _check_serves(definition: SourceDefinition, keyring: Keyring, settings: ReceiverSettings) -> None:
    # What a receiver will build from the record, built here first: a secret the scheme can't use (a Standard
    # Webhooks secret without whsec_, a public key that doesn't parse) is refused before it is written.
    build_source(definition, keyring, now=_now(), tolerance_s=settings.tolerance_s)


def _check_name(option: str, value: str) -> None:
    if not re.fullmatch(NAME_PATTERN, value):
        raise RegistryError(f"{option}: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit")


def _read_secret(args: argparse.Namespace) -> bytes:
    return _read_value(stdin=args.secret_stdin, env=args.secret_env, what="the secret")


def _read_value(*, stdin: bool, env: str | None, what: str) -> bytes:
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise RegistryError(f"{what}: {env} is not set")
    else:
        value = sys.stdin.read()
    secret = value.strip("\r\n")
    if not secret:
        raise RegistryError(f"{what} is empty")
    return secret.encode()


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise RegistryError(f"--keep-old-for: {text!r} is no duration (90s, 30m, 24h, 7d or 0)")
    seconds = int(match[1]) * _UNITS_S[match[2]]
    if seconds > 90 * 86_400:
        raise RegistryError("--keep-old-for: at most 90 days")
    return timedelta(seconds=seconds)


def _shown(definition: SourceDefinition, now: datetime) -> dict[str, object]:
    live = [s for s in definition.secrets if s.live(now)]
    old_until = max((s.expires_at for s in live if s.expires_at is not None), default=None)
    return {
        "id": definition.id,
        "tenant": definition.tenant,
        "provider": definition.provider,
        "state": ("enabled" if definition.enabled else "disabled")
        + (", waiting for its handshake's secret" if definition.capture is not None else ""),
        "verify_token": definition.verify_token is not None,
        "secrets": len(live),
        "old_secrets_until": _iso(old_until) if old_until else None,
        "rate_per_s": definition.rate_per_s,
        "topic": definition.topic or event_topic(definition.provider),
        "created_at": _iso(definition.created_at),
        "updated_at": _iso(definition.updated_at),
    }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
