"""`python -m schemas export DIR`: write the JSON Schema of the envelope and of each provider payload model.

`python -m schemas asyncapi [FILE]`: write the AsyncAPI 3.0 document of the topics (to stdout without FILE).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from schemas.asyncapi import render
from schemas.export import export


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m schemas") -> int:
    """Run the command; the exit code (2 for a usage error or a directory that can't be written)."""
    parser = argparse.ArgumentParser(prog=prog, description="The wire contract as JSON Schema and AsyncAPI.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("export", help="write <name>.schema.json files into DIR")
    command.add_argument("directory", type=Path, metavar="DIR")
    command = commands.add_parser("asyncapi", help="write the AsyncAPI 3.0 document of the topics")
    command.add_argument("file", type=Path, metavar="FILE", nargs="?", help="where (default: stdout)")
    args = parser.parse_args(argv)
    if args.command == "asyncapi":
        return _asyncapi(args.file)
    try:
        written = export(args.directory)
    except OSError as exc:
        print(f"schemas: cannot write {args.directory}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} schemas to {args.directory}")
    return 0


def _asyncapi(file: Path | None) -> int:
    text = render()
    if file is None:
        sys.stdout.write(text)
        return 0
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"schemas: cannot write {file}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
