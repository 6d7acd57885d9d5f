"""tla/RaftTrace.tla with TLC on sample Raft simulator traces (only when TLA2TOOLS_JAR points
to tla2tools.jar; else these tests skip, saying why), and the generated RaftTraceData module.

A valid sample must be accepted; corrupted copies, and the commit-old-term variant's trace,
must be rejected by TLC at the same line as the Python validator rejects them.
"""

from __future__ import annotations

import io
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from harness.sim.runspec import RunOptions
from harness.tla.tracevalid.raft_tladata import check_raft_with_tlc, to_raft_tla_module
from harness.tla.tracevalid.record import run_traced
from harness.tla.tracevalid.tladata import JAR_ENV, TLA_DIR
from harness.tla.tracevalid.validate import validate_lines

_JAR = os.environ.get(JAR_ENV)
needs_jar = pytest.mark.skipif(
    not _JAR or not Path(_JAR).is_file(), reason=f"{JAR_ENV} does not point to tla2tools.jar"
)


@cache
def _sample(seed: int, variant: str | None = None, ops: int = 100,
            faults: tuple[str, ...] | None = None) -> tuple[str, ...]:
    logging.getLogger().setLevel(logging.CRITICAL)
    buf = io.StringIO()
    kw: dict[str, Any] = {} if faults is None else {"faults": faults}
    run_traced(RunOptions(seed=seed, protocol="raft", ops=ops, clients=3, variant=variant, **kw),
               buf)
    return tuple(buf.getvalue().splitlines())


def _corrupt(kind: str) -> tuple[list[str], int]:
    """A corrupted copy of the seed-0 sample and the (0-based) index of the bad line."""
    lines: list[dict[str, Any]] = [json.loads(x) for x in _sample(0)]
    first = lambda pred: next(k for k, x in enumerate(lines) if pred(x))  # noqa: E731
    if kind == "second-vote":
        i = first(lambda x: x["action"] == "Vote") + 1
        lines.insert(i, dict(lines[i - 1], cand=lines[i - 1]["node"]))
    elif kind == "no-quorum":
        i = first(lambda x: x["action"] == "BecomeLeader")
        lines[i]["votes"] = [lines[i]["node"]]
    elif kind == "commit-unreplicated":
        r = first(lambda x: x["action"] == "ClientRequest")
        c = next(k for k, x in enumerate(lines) if k > r and x["action"] == "Commit"
                 and x["node"] == lines[r]["node"])
        i = r + 1
        early = dict(lines[c], commit=lines[r]["entries"][-1][0])
        del early["state"]
        lines.insert(i, early)
    elif kind == "foreign-leader":
        i = first(lambda x: x["action"] == "AppendEntries")
        lines[i]["src"] = lines[i]["node"]
    elif kind == "log-change":
        i = first(lambda x: x["action"] == "AppendEntries") + 1
        lines.insert(i, {"action": "LogChange", "node": lines[i - 1]["node"],
                         "t": lines[i - 1]["t"], "trunc": 1, "new": []})
    else:  # the state a step reports is not the one its actions give
        i = first(lambda x: x["action"] == "AppendEntries" and x["entries"])
        lines[i]["state"]["last"][0] += 1
    return [json.dumps(x, sort_keys=True) for x in lines], i


def test_generated_module_has_every_line() -> None:
    lines = _sample(1)
    text = to_raft_tla_module(lines)
    assert text.startswith("---- MODULE RaftTraceData ----")
    assert text.count("[action |-> ") == len(lines) - 1
    with pytest.raises(ValueError, match="Init"):
        to_raft_tla_module(lines[1:])


def test_committed_sample_module_is_current_format() -> None:
    """tla/RaftTraceData.tla (a sample so RaftTrace.tla parses in place) has every field."""
    text = (TLA_DIR / "RaftTraceData.tla").read_text()
    fresh = to_raft_tla_module(_sample(1)[:3])
    names = [part.split(" |-> ")[0].strip() for part in fresh.split("[action")[1].split(", ")
             if " |-> " in part]
    assert len(names) > 20
    for name in names:
        assert f"{name} |-> " in text, name


@needs_jar
@pytest.mark.parametrize("seed", [0, 1])
def test_tlc_accepts_sample_traces(seed: int) -> None:
    ok, detail = check_raft_with_tlc(_sample(seed))
    assert ok, detail
    assert detail == f"{len(_sample(seed))} distinct states"


@needs_jar
@pytest.mark.parametrize(
    "kind",
    ["second-vote", "no-quorum", "commit-unreplicated", "foreign-leader", "log-change",
     "state"],
)
def test_tlc_rejects_corrupted_traces_where_python_does(kind: str) -> None:
    lines, i = _corrupt(kind)
    verdict = validate_lines(lines)
    assert verdict.line == i + 1, verdict
    ok, detail = check_raft_with_tlc(lines)
    assert not ok
    assert detail.startswith(f"line {i + 1}:"), detail


@needs_jar
def test_tlc_rejects_commit_old_term_where_python_does() -> None:
    """Figure 8: a leader of a later term commits an earlier term's entry by counting."""
    lines = list(_sample(17, "commit-old-term", 1000, ("churn", "partition", "loss", "pause")))
    verdict = validate_lines(lines)
    assert not verdict.ok and "(Figure 8)" in verdict.reason, verdict
    ok, detail = check_raft_with_tlc(lines)
    assert not ok
    assert detail.startswith(f"line {verdict.line}: no action of RaftTrace.tla allows this "
                             f"Commit step"), detail


@needs_jar
def test_cli_checks_a_raft_trace_with_tlc(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from harness.tla.tracevalid.cli import main

    path = tmp_path / "raft.ndjson"
    path.write_text("\n".join(_sample(1)) + "\n")
    assert main([str(path), "--tlc"]) == 0
    assert f"tlc: valid: {len(_sample(1))} distinct states" in capsys.readouterr().out
    lines, i = _corrupt("no-quorum")
    path.write_text("\n".join(lines) + "\n")
    assert main([str(path), "--tlc"]) == 1
    assert f"invalid: line {i + 1}: leader without a quorum" in capsys.readouterr().out
