"""tla/Trace.tla with TLC on sample simulator traces (only when TLA2TOOLS_JAR points to
tla2tools.jar; else these tests skip, saying why), and the generated TraceData module.

A valid sample must be accepted; corrupted copies must be rejected by TLC at the same line
as the Python validator rejects them.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from harness.sim.runspec import RunOptions
from harness.tla.tracevalid.record import run_traced
from harness.tla.tracevalid.tladata import JAR_ENV, TLA_DIR, check_with_tlc, to_tla_module
from harness.tla.tracevalid.validate import validate_lines

_JAR = os.environ.get(JAR_ENV)
needs_jar = pytest.mark.skipif(
    not _JAR or not Path(_JAR).is_file(), reason=f"{JAR_ENV} does not point to tla2tools.jar"
)


@cache
def _sample(seed: int) -> tuple[str, ...]:
    logging.getLogger().setLevel(logging.CRITICAL)
    buf = io.StringIO()
    run_traced(RunOptions(seed=seed, ops=60, clients=3), buf)
    return tuple(buf.getvalue().splitlines())


def _recovered(seed: int) -> bool:
    return any(x["action"] == "Restart" and x["recovered"] and x["promised"] != [0, 0]
               for x in map(json.loads, _sample(seed)))


def _corrupt(kind: str) -> tuple[list[str], int]:
    """A corrupted copy of the seed-11 sample (for a lost promise, the first sample with a
    recovered promise) and the (0-based) index of the bad line."""
    seed = next(s for s in range(40) if _recovered(s)) if kind == "restart-forgets-promise" else 11
    lines: list[dict[str, Any]] = [json.loads(x) for x in _sample(seed)]
    lines = copy.deepcopy(lines)
    if kind == "commit-without-quorum":
        i = next(k for k, x in enumerate(lines) if x["action"] == "Commit")
        lines[i]["commit"] += 3
    elif kind == "promise-back":
        second = [x["bal"] for x in lines if x["action"] == "Prepare"][1]
        i = next(k for k, x in enumerate(lines) if x["action"] == "Accept" and x["bal"] == second)
        lines[i]["bal"], lines[i]["entries"] = [0, 0], []
    elif kind == "lease-not-echoed":
        i = next(k for k, x in enumerate(lines)
                 if x["action"] == "Heartbeat" and x["lease_end"] is not None)
        lines[i]["lease_end"] += 100_000
    elif kind == "restart-forgets-promise":
        i = next(k for k, x in enumerate(lines) if x["action"] == "Restart" and x["recovered"]
                 and x["promised"] != [0, 0])
        lines[i]["promised"] = [0, 0]
    else:  # entry changed under the same ballot
        a = next(k for k, x in enumerate(lines) if x["action"] == "Accept" and x["entries"])
        i = next(k for k, x in enumerate(lines) if k > a and x["action"] == "Accept"
                 and x["node"] == lines[a]["node"] and x["bal"] == lines[a]["bal"])
        entry = list(lines[a]["entries"][0])
        entry[2] = "cmd:000000000000"
        lines[i]["entries"] = [entry]
    return [json.dumps(x, sort_keys=True) for x in lines], i


def test_generated_module_has_every_line() -> None:
    lines = _sample(1)
    text = to_tla_module(lines)
    assert text.startswith("---- MODULE TraceData ----")
    assert text.count("[action |-> ") == len(lines) - 1
    with pytest.raises(ValueError, match="Init"):
        to_tla_module(lines[1:])


def test_committed_sample_module_is_current_format() -> None:
    """tla/TraceData.tla (a sample so Trace.tla parses in place) has every record field."""
    text = (TLA_DIR / "TraceData.tla").read_text()
    fresh = to_tla_module(_sample(1)[:2])
    field_names = [part.split(" |-> ")[0] for part in fresh.split("[action")[1].split(", ")
                   if " |-> " in part]
    for name in field_names:
        assert f"{name.strip()} |-> " in text, name


@needs_jar
@pytest.mark.parametrize("seed", [1, 11])
def test_tlc_accepts_sample_traces(seed: int) -> None:
    ok, detail = check_with_tlc(_sample(seed))
    assert ok, detail
    assert detail == f"{len(_sample(seed))} distinct states"


@needs_jar
@pytest.mark.parametrize(
    "kind",
    ["commit-without-quorum", "promise-back", "restart-forgets-promise", "changed",
     "lease-not-echoed"],
)
def test_tlc_rejects_corrupted_traces_where_python_does(kind: str) -> None:
    lines, i = _corrupt(kind)
    verdict = validate_lines(lines)
    assert verdict.line == i + 1, verdict
    ok, detail = check_with_tlc(lines)
    assert not ok
    assert detail.startswith(f"line {i + 1}:"), detail


@needs_jar
def test_tlc_rejects_a_leader_not_waiting_out_leases_where_python_does() -> None:
    """The no-lease-wait variant: its first early reply is rejected by both, at one line."""
    buf = io.StringIO()
    run_traced(RunOptions(seed=5, ops=200, clients=3, variant="no-lease-wait"), buf)
    lines = buf.getvalue().splitlines()
    verdict = validate_lines(lines)
    assert not verdict.ok and "leases are waited out" in verdict.reason, verdict
    ok, detail = check_with_tlc(lines)
    assert not ok
    assert detail.startswith(f"line {verdict.line}:"), detail
