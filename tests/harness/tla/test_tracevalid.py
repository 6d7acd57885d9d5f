"""The NDJSON trace writer and the Python validator on sample simulator runs.

Sample runs are small (60 operations, all faults on); a test that needs an event (a crash, a
step-down with a lease release, a catch-up) takes the first seeds that have it. Corrupted copies
of a valid trace must be rejected at the corrupted line.
"""

from __future__ import annotations

import io
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from harness.sim import run
from harness.sim.runspec import RunOptions
from harness.tla.tracevalid.cli import main
from harness.tla.tracevalid.record import run_to_file, run_traced
from harness.tla.tracevalid.validate import TraceInputError, validate_lines
from harness.tla.tracevalid.writer import ACTION_ORDER

SEEDS = (11, 12, 16, 27)


def _options(seed: int, **kw: Any) -> RunOptions:
    return RunOptions(seed=seed, ops=60, clients=3, **kw)


@cache
def _trace(seed: int, variant: str | None = None, ops: int = 60) -> tuple[str, str]:
    """(the NDJSON text, the run's fingerprint) of one sample run."""
    logging.getLogger().setLevel(logging.CRITICAL)
    buf = io.StringIO()
    result = run_traced(RunOptions(seed=seed, ops=ops, clients=3, variant=variant), buf)
    return buf.getvalue(), result.fingerprint


def _lines(seed: int) -> list[dict[str, Any]]:
    return [json.loads(x) for x in _trace(seed)[0].splitlines()]


def _dump(lines: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(x, sort_keys=True) for x in lines]


@pytest.mark.parametrize("seed", SEEDS)
def test_sample_runs_validate(seed: int) -> None:
    text, _ = _trace(seed)
    verdict = validate_lines(text.splitlines())
    assert verdict.ok, verdict
    assert verdict.lines == len(text.splitlines()) > 100


@pytest.mark.parametrize("replicas", [1, 2, 5])
def test_other_group_sizes_validate(replicas: int) -> None:
    """A one-node group campaigns, wins and leases in single steps; even groups need all."""
    buf = io.StringIO()
    run_traced(RunOptions(seed=3, ops=60, clients=3, replicas=replicas), buf)
    lines = buf.getvalue().splitlines()
    verdict = validate_lines(lines)
    assert verdict.ok, verdict
    assert sum('"BecomeLeader"' in x for x in lines) >= 1


COVERED = ("Prepare", "Promise", "BecomeLeader", "Propose", "Accept", "Commit", "LearnCommit",
           "Heartbeat", "ReplyWrite", "ServeRead", "Crash", "Restart", "Demote", "StepDown",
           "Release", "CatchUp")


def test_samples_cover_leader_changes_and_crashes() -> None:
    """Every action the validator knows occurs in a few small runs (which runs is up to the
    seeds: the first ones that together cover them), and every such run validates."""
    missing, seen = set(COVERED), 0
    for seed in range(40):
        actions = [x["action"] for x in _lines(seed)]
        if missing & set(actions):
            assert validate_lines(_trace(seed)[0].splitlines()).ok, seed
        missing -= set(actions)
        seen += actions.count("BecomeLeader")
        if not missing:
            break
    assert not missing, f"no run of seeds 0..39 has {sorted(missing)}"
    assert seen >= 4


def _seed_where(pred: Any) -> int:
    """The first sample seed whose trace lines satisfy ``pred``."""
    for seed in range(40):
        if pred(_lines(seed)):
            return seed
    raise AssertionError("no sample run of seeds 0..39 has what the test needs")


def test_trace_is_deterministic_and_passive() -> None:
    text, fingerprint = _trace(7)
    buf = io.StringIO()
    traced = run_traced(_options(7), buf)
    assert buf.getvalue() == text
    plain = run(_options(7), keep_trace=False)
    assert plain.fingerprint == fingerprint
    assert (traced.verdict, traced.ops, traced.steps, traced.choices) == (
        plain.verdict, plain.ops, plain.steps, plain.choices
    )


def test_run_to_file(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    result = run_to_file(_options(1), path)
    assert path.read_text() == _trace(1)[0]
    assert result.fingerprint == _trace(1)[1]
    with pytest.raises(OSError):
        run_to_file(_options(1), tmp_path / "missing" / "t.ndjson")


def _first(lines: list[dict[str, Any]], pred: Any) -> int:
    return next(i for i, x in enumerate(lines) if pred(x))


def _rejected(lines: list[dict[str, Any]], at: int, words: str) -> None:
    verdict = validate_lines(_dump(lines))
    assert not verdict.ok
    assert verdict.line == at + 1, verdict
    assert words in verdict.reason, verdict


def test_promise_going_back_is_rejected() -> None:
    lines = _lines(11)
    second = [x["bal"] for x in lines if x["action"] == "Prepare"][1]
    i = _first(lines, lambda x: x["action"] == "Accept" and x["bal"] == second)
    lines[i]["bal"] = [0, 0]
    lines[i]["entries"] = []
    _rejected(lines, i, "accept below the promise (S3)")


def test_promise_lost_across_restart_is_rejected() -> None:
    recovered = lambda lines: any(  # noqa: E731
        x["action"] == "Restart" and x["recovered"] and x["promised"] != [0, 0] for x in lines
    )
    lines = _lines(_seed_where(recovered))
    i = _first(lines, lambda x: x["action"] == "Restart" and x["recovered"])
    lines[i]["promised"] = [0, 0]
    _rejected(lines, i, "promise went back across a restart (S3)")


def test_entry_changed_under_same_ballot_is_rejected() -> None:
    lines = _lines(7)
    i = _first(lines, lambda x: x["action"] == "Accept" and x["entries"])
    j = _first(lines[i + 1:], lambda x: x["action"] == "Accept" and x["node"] == lines[i]["node"]
               and x["bal"] == lines[i]["bal"]) + i + 1
    changed = list(lines[i]["entries"][0])
    changed[2] = "cmd:000000000000"
    lines[j]["entries"] = [changed]
    _rejected(lines, j, "entry changed under the same ballot")


def test_commit_without_quorum_is_rejected() -> None:
    lines = _lines(1)
    i = _first(lines, lambda x: x["action"] == "Commit")
    lines[i]["commit"] += 3  # slots nobody but the leader accepted yet
    _rejected(lines, i, "commit without a quorum")


def test_reply_without_lease_is_rejected() -> None:
    lines = _lines(1)
    i = _first(lines, lambda x: x["action"] == "ReplyWrite")
    del lines[i - 1 : i]  # drop the lease extension before it (a Commit line stays)
    verdict = validate_lines(_dump(lines))
    assert not verdict.ok


def test_lease_beyond_the_echoed_rounds_is_rejected() -> None:
    lines = _lines(7)
    i = _first(lines, lambda x: x["action"] == "Heartbeat" and x["lease_end"] is not None)
    lines[i]["lease_end"] += 100_000  # a round nobody echoed yet
    _rejected(lines, i, "lease not backed by a quorum")


def test_variants_are_rejected() -> None:
    """quorum-one commits without a quorum; no-persist-promise forgets promises; a leader
    that does not wait out leases (no-lease-wait) serves too early; stale-read serves strong
    reads from followers. The simulator finds no violation in these runs of no-lease-wait
    and stale-read: the trace shows the broken rule before it breaks a property."""
    for variant, seed, ops, words in (
        ("quorum-one", 0, 60, "commit without a quorum"),
        ("no-persist-promise", 0, 300, "(S3)"),
        ("no-lease-wait", 5, 200, "leases are waited out"),
        ("stale-read", 1, 60, "strong read served by a node that is not leader"),
    ):
        verdict = validate_lines(_trace(seed, variant, ops)[0].splitlines())
        assert not verdict.ok, variant
        assert words in verdict.reason, (variant, verdict)


def test_bad_input_raises() -> None:
    with pytest.raises(TraceInputError, match="line 1"):
        validate_lines(['{"action": "Prepare"}'])
    with pytest.raises(TraceInputError, match="not JSON"):
        validate_lines(["{"])
    with pytest.raises(TraceInputError, match="empty"):
        validate_lines([])


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.ndjson"
    good.write_text(_trace(1)[0])
    assert main([str(good)]) == 0
    lines = _lines(1)
    i = _first(lines, lambda x: x["action"] == "Commit")
    lines[i]["commit"] += 3
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join(_dump(lines)) + "\n")
    assert main([str(bad)]) == 1
    assert f"invalid: line {i + 1}:" in capsys.readouterr().out
    junk = tmp_path / "junk.ndjson"
    junk.write_text("not json\n")
    assert main([str(junk)]) == 2
    assert main([str(tmp_path / "missing.ndjson")]) == 2


@pytest.mark.slow
def test_long_runs_validate() -> None:
    """Ten default-size runs (1000 operations, all faults, compaction) validate, and
    between them take every action the writer names."""
    seen: set[str] = set()
    for seed in range(10):
        buf = io.StringIO()
        run_traced(RunOptions(seed=seed, ops=1000), buf)
        lines = buf.getvalue().splitlines()
        verdict = validate_lines(lines)
        assert verdict.ok, (seed, verdict)
        seen |= {json.loads(x)["action"] for x in lines}
    assert seen == {"Init", "Crash", "Restart", *ACTION_ORDER}


def test_paxlab_run_trace_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main as paxlab

    path = tmp_path / "run.ndjson"
    code = paxlab(["run", "--seed", "7", "--ops", "60", "--clients", "3",
                   "--trace-ndjson", str(path)])
    assert code == 0
    assert path.read_text() == _trace(7)[0]
    assert f"fingerprint: {_trace(7)[1]}" in capsys.readouterr().out
    assert paxlab(["run", "--ops", "5", "--trace-ndjson", str(tmp_path / "no" / "x")]) == 2
    assert "cannot write the trace" in capsys.readouterr().err
