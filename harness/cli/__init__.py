"""The ``paxlab`` command line (also ``python -m harness``).

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int``. Add a new one to
``_COMMANDS``.

Exit codes everywhere: 0 ok, 1 a property was violated, 2 bad usage or bad input, 3 unknown
(a budget ran out, or a search that could not cover what it was asked to), 130 interrupted
(Ctrl-C; the work done so far is kept, and said so on one line). `main` is the one place
that turns the failures every command shares into those codes, so no command needs to:

- `CliError` raised anywhere under a command: its message on one line, exit 2;
- Ctrl-C (KeyboardInterrupt) that a command did not handle itself: one line, exit 130;
- stdout closed early by the reader (``paxlab run | head``): no traceback, exit 141, the
  shell's code for a writer ended by SIGPIPE (128 + 13).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Module names under harness.cli, in the order ``paxlab --help`` lists them.
_COMMANDS: tuple[str, ...] = (
    "run", "sweep", "replay", "shrink", "report", "check_history", "explore", "node",
    "cluster", "load",
)

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the shell's code for a writer ended by SIGPIPE (128 + 13)


class CliError(Exception):
    """Bad input found by a command: `main` prints ``paxlab CMD: error: MESSAGE`` and exits 2."""


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
    prog = "paxlab"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        prog = f"paxlab {args.command}"
        code: int = args.func(args)
        sys.stdout.flush()
        return code
    except CliError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseExceptionGroup as group:  # Ctrl-C inside a trio nursery, with what it broke
        if group.subgroup(KeyboardInterrupt) is None:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and the interpreter's final flush of
    the unwritten rest would raise BrokenPipeError again (and print it) at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced (tests) or closed
        pass


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Return ``path`` if a folder can be created or written there; else raise `CliError`.

    Commands check their output paths before doing any work, so a typo costs a second,
    not the whole sweep or search. Nothing is created here.
    """
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise CliError(f"{what} {p} exists and is not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise CliError(f"{what} {p} is not writable")
        return p
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CliError(f"{what} {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{what} {p}: cannot create it in {parent} (not writable)")
    return p


def _entry() -> None:
    sys.exit(main())
