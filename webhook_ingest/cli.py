"""`webhooks serve | consume | replay | send | schema | sources`: the processes and tools of the package, one command.

Each subcommand runs what `python -m receiver`, `python -m consumers` or `python -m schemas` runs, with the
same environment, options and exit codes (0 ok, 1 a failure it reports, 2 a usage or configuration error).
This module sits above both processes: `receiver` and `consumers` never import each other, nor this. Each
command imports only what it runs, so a short one (`webhooks sources list`) starts in a fraction of the time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

PROG = "webhooks"
CONFIGURED = "Configured from the environment: docs/configuration.md lists every variable."


def _serve(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(
        prog=f"{PROG} serve",
        description="Run the receiver (uvicorn) on RECEIVER_HOST:RECEIVER_PORT (default 127.0.0.1:8000), "
        f"RECEIVER_WORKERS processes. {CONFIGURED}",
    ).parse_args(argv)
    from receiver import __main__ as receiver_main

    return receiver_main.main([])


def _consume(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} consume",
        description="Run one member of the consumer group CONSUMER_GROUP until SIGTERM or Ctrl-C: the topics of "
        "CONSUMER_PROVIDERS, the handlers of CONSUMER_HANDLERS, metrics on CONSUMER_METRICS_PORT (default "
        f"9400). {CONFIGURED}",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list which handlers each record waiting for the group would run, and exit: nothing is claimed, run "
        "or committed",
    )
    args = parser.parse_args(argv)
    from consumers import __main__ as consumers_main

    return consumers_main.main(["run", *(["--dry-run"] if args.dry_run else [])])


def _replay(argv: Sequence[str]) -> int:
    from consumers import __main__ as consumers_main

    return consumers_main.main(["replay", *argv], prog=PROG)


def _send(argv: Sequence[str]) -> int:
    from receiver import sample_sender

    return sample_sender.main(argv, prog=f"{PROG} send")


def _sources(argv: Sequence[str]) -> int:
    from receiver.registry import commands

    return commands.main(argv, prog=f"{PROG} sources")


def _schema(argv: Sequence[str]) -> int:
    from schemas import __main__ as schemas_main

    return schemas_main.main(argv, prog=f"{PROG} schema")


# name: (what it does, its runner)
COMMANDS: dict[str, tuple[str, Callable[[Sequence[str]], int]]] = {
    "serve": ("run the receiver (python -m receiver)", _serve),
    "consume": ("run one consumer-group member (python -m consumers)", _consume),
    "replay": ("run dead-lettered events through the group's handlers again", _replay),
    "send": ("sign a sample event as its provider does and POST it to the receiver", _send),
    "schema": ("write the JSON Schemas or the AsyncAPI document of the topics", _schema),
    "sources": ("add, list, rotate, disable or delete sources of the run-time registry", _sources),
}


def parser() -> argparse.ArgumentParser:
    """The top-level command line; each subcommand parses its own arguments."""
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Webhook ingestion for AI-agent backends: verify, publish to Kafka, process once.",
        epilog=f"`{PROG} COMMAND --help` describes a command. {CONFIGURED}",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (summary, _) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run `webhooks`; the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        parser().parse_args(args)  # prints the help or the usage error, and exits
        return 2
    _, run = COMMANDS[args[0]]
    return run(args[1:])
