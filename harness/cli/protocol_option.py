"""``--protocol NAME``: the one flag every run-driving command shares.

The registry (`harness.runtime.protocols`) is imported only when a command checks the name,
so ``paxlab --help`` stays light. An unknown name, or one whose package is not in this tree
(``raft`` before `consensus.raft` exists), is one line and exit 2 (`harness.cli.CliError`).
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.cli import CliError

PROTOCOL_NAMES = ("multipaxos", "raft", "example")  # for help texts; the registry decides


def add_protocol_option(parser: argparse.ArgumentParser, *, from_artifact: bool = False) -> None:
    """Add ``--protocol``; with ``from_artifact`` it defaults to the artifact's protocol and,
    when given, must agree with it."""
    if from_artifact:
        parser.add_argument(
            "--protocol", default=None,
            help="the protocol the artifact must have been recorded with (default: the "
                 "artifact's own; an artifact without one is multipaxos)",
        )
    else:
        parser.add_argument(
            "--protocol", default="multipaxos",
            help=f"the protocol the group runs: {'|'.join(PROTOCOL_NAMES)} (default multipaxos)",
        )


def protocol_spec(name: str) -> Any:
    """The registered `harness.runtime.protocols.ProtocolSpec` of ``name``; raises `CliError`
    (one line, exit 2) if it is unknown or unavailable here."""
    from harness.runtime import protocols

    try:
        return protocols.get(name)
    except protocols.ProtocolUnavailable as exc:
        raise CliError(str(exc)) from None


def check_artifact_protocol(wanted: str | None, recorded: str) -> None:
    """``--protocol`` given to replay/shrink/report must name the artifact's protocol."""
    if wanted is not None and wanted != recorded:
        protocol_spec(wanted)  # an unknown name is reported as such first
        raise CliError(
            f"the artifact was recorded with protocol {recorded}, not --protocol {wanted}"
        )
    protocol_spec(recorded)
