"""The ``paxlab`` command line (also ``python -m harness``).

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int``. Add a new one to
``_COMMANDS``.

Exit codes everywhere: 0 ok, 1 a property was violated, 2 bad usage or bad input, 3 unknown
(no violation found, but a check could not decide: a budget ran out; never a pass).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Module names under harness.cli, in the order ``paxlab --help`` lists them.
_COMMANDS: tuple[str, ...] = (
    "run", "sweep", "replay", "shrink", "report", "check_history", "explore", "node",
    "cluster", "load",
)

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage on one line and exits 2 (no usage dump, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the full ``paxlab`` parser with every registered subcommand."""
    parser = _Parser(prog="paxlab", description="Replication-protocol research harness.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in _COMMANDS:
        module = importlib.import_module(f"harness.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def _entry() -> None:
    sys.exit(main())
