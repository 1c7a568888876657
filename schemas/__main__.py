"""`python -m schemas export DIR`: write the JSON Schema of the envelope and of each provider payload model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.export import export


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit code (2 for a usage error or a directory that can't be written)."""
    parser = argparse.ArgumentParser(prog="python -m schemas", description="The wire contract as JSON Schema.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("export", help="write <name>.schema.json files into DIR")
    command.add_argument("directory", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        written = export(args.directory)
    except OSError as exc:
        print(f"schemas: cannot write {args.directory}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} schemas to {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
