"""The ``paxlab`` command line (also ``python -m harness``).

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to a callable ``(args) -> int``. Add a new one to
``_COMMANDS`` with the one-line help ``paxlab --help`` shows for it.

Start-up: `main` imports only the module of the subcommand it runs (``paxlab --help`` none):
the others get a placeholder parser carrying their help line, so ``check-history`` does not
pay for the simulator, trio and networkx it never uses. `build_parser` with no argument
registers every subcommand in full.

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

# Command -> (module under harness.cli, help line), in the order ``paxlab --help`` lists
# them; tests/harness/cli/test_startup.py checks each help line against its module's.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "one simulated run under seeded faults"),
    "sweep": ("sweep", "run a range of seeds and group the failures"),
    "replay": ("replay", "re-run a failure artifact exactly"),
    "shrink": ("shrink", "minimise a failure artifact's choice list"),
    "report": ("report", "write an HTML report about an artifact"),
    "check-history": ("check_history", "check a client history for linearizability"),
    "explore": ("explore", "model-check all interleavings within bounds"),
    "node": ("node", "run one node of a real cluster (TCP, real disk and clock)"),
    "cluster": ("cluster", "init, start, stop or show a local cluster of node processes"),
    "load": ("load", "drive a real cluster, check linearizability, report latency"),
    "mutants": ("mutants", "mutation campaign: planted bugs, kill rate"),
    "compare": ("compare", "protocols side by side under the same scripted faults"),
}

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the shell's code for a writer ended by SIGPIPE (128 + 13)


class CliError(Exception):
    """Bad input found by a command: `main` prints ``paxlab CMD: error: MESSAGE`` and exits 2."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (argparse turns the error into one usage line)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (NaN is refused: it is not > 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage on one line and exits 2 (no usage dump, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Return the ``paxlab`` parser: every subcommand in full, or with ``only``, that one in
    full and the others as placeholders with their help line (their modules not imported)."""
    parser = _Parser(prog="paxlab", description="Replication-protocol research harness.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command, (name, help_line) in _COMMANDS.items():
        if only is None or command == only:
            module = importlib.import_module(f"harness.cli.{name}")
            module.register(sub)
        else:
            sub.add_parser(command, help=help_line)
    return parser


def interrupted_by_ctrl_c(exc: BaseException) -> bool:
    """Whether a Ctrl-C is behind ``exc``: in its context or cause chain, or in a group."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return True
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend((e.__context__, e.__cause__))
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (the console script exits with it)."""
    prog = "paxlab"
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = argv[0] if argv and argv[0] in _COMMANDS else ""
    try:
        parser = build_parser(only=chosen)
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
