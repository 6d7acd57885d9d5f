"""Raft trace validation: the writer (`raft_writer`) and the validator (`raft_validate`) on
sample simulator runs of ``--protocol raft``.

Sample runs are small (100 operations, default faults); a test that needs an event takes the
first seeds that have it. Hand-corrupted copies of a valid trace must be rejected at the
corrupted line with the broken rule; the commit-old-term variant (the Raft paper's Figure 8)
must be rejected at the commit of an entry of an earlier term.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest

from harness.sim import run
from harness.sim.runspec import RunOptions
from harness.tla.tracevalid.cli import main
from harness.tla.tracevalid.raft_writer import RAFT_ACTION_ORDER
from harness.tla.tracevalid.record import run_to_file, run_traced
from harness.tla.tracevalid.validate import TraceInputError, validate_lines

ADVERSARIAL = ("churn", "partition", "loss", "pause")


def _options(seed: int, **kw: Any) -> RunOptions:
    kw.setdefault("ops", 100)
    return RunOptions(seed=seed, protocol="raft", clients=3, **kw)


@cache
def _trace(seed: int, variant: str | None = None, faults: tuple[str, ...] | None = None,
           ops: int = 100) -> tuple[str, str, str]:
    """(the NDJSON text, the run's fingerprint, its verdict) of one sample run."""
    logging.getLogger().setLevel(logging.CRITICAL)
    buf = io.StringIO()
    kw: dict[str, Any] = {"variant": variant, "ops": ops}
    if faults is not None:
        kw["faults"] = faults
    result = run_traced(_options(seed, **kw), buf)
    return buf.getvalue(), result.fingerprint, result.verdict


def _lines(seed: int) -> list[dict[str, Any]]:
    return [json.loads(x) for x in _trace(seed)[0].splitlines()]


def _dump(lines: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(x, sort_keys=True) for x in lines]


def _first(lines: list[dict[str, Any]], pred: Any, start: int = 0) -> int:
    return next(i for i, x in enumerate(lines) if i >= start and pred(x))


def _rejected(lines: list[dict[str, Any]], at: int, words: str) -> None:
    verdict = validate_lines(_dump(lines))
    assert not verdict.ok
    assert verdict.line == at + 1, verdict
    assert words in verdict.reason, verdict


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sample_runs_validate(seed: int) -> None:
    text, _, _ = _trace(seed)
    lines = text.splitlines()
    verdict = validate_lines(lines)
    assert verdict.ok, verdict
    assert verdict.lines == len(lines) > 100
    assert json.loads(lines[0])["protocol"] == "raft"


@pytest.mark.parametrize("seed", [0, 1])
def test_adversarial_runs_validate(seed: int) -> None:
    """Leader churn (crashes inside a leader's sends), partitions, loss and pauses."""
    text, _, verdict_sim = _trace(seed, faults=ADVERSARIAL, ops=200)
    assert verdict_sim == "ok"
    verdict = validate_lines(text.splitlines())
    assert verdict.ok, verdict


@pytest.mark.parametrize("replicas", [1, 5])
def test_other_group_sizes_validate(replicas: int) -> None:
    """A one-node group campaigns, wins and commits in single steps."""
    buf = io.StringIO()
    run_traced(_options(3, replicas=replicas), buf)
    lines = buf.getvalue().splitlines()
    verdict = validate_lines(lines)
    assert verdict.ok, verdict
    assert sum('"BecomeLeader"' in x for x in lines) >= 1


COVERED = ("Timeout", "Vote", "BecomeLeader", "UpdateTerm", "StepDown", "AppendEntries",
           "InstallSnapshot", "ClientRequest", "Commit", "Compact", "Crash", "Restart",
           "AppendEntries+trunc")


def test_samples_cover_the_actions() -> None:
    """Every action runs take occurs in a few small runs (the first seeds that together have
    them), a truncating AppendEntries included, and every such run validates. (ChangeConfig
    needs a membership change, which no simulator fault makes yet: see the ChangeConfig
    tests below.)"""
    missing: set[str] = set(COVERED)
    for seed in range(30):
        lines = _lines(seed)
        actions = {x["action"] for x in lines}
        if any(x["action"] == "AppendEntries" and x["trunc"] is not None for x in lines):
            actions.add("AppendEntries+trunc")
        if missing & actions:
            assert validate_lines(_trace(seed)[0].splitlines()).ok, seed
        missing -= actions
        if not missing:
            break
    assert not missing, f"no run of seeds 0..29 has {sorted(missing)}"
    assert set(COVERED) - {"AppendEntries+trunc", "Crash", "Restart"} < set(RAFT_ACTION_ORDER)


def test_trace_is_deterministic_and_passive() -> None:
    text, fingerprint, _ = _trace(5)
    buf = io.StringIO()
    traced = run_traced(_options(5), buf)
    assert buf.getvalue() == text
    plain = run(_options(5), keep_trace=False)
    assert plain.fingerprint == fingerprint == traced.fingerprint
    assert (traced.verdict, traced.ops, traced.steps) == (plain.verdict, plain.ops, plain.steps)


def test_commit_old_term_is_rejected_at_figure_8() -> None:
    """The simulator finds S17 (a committed entry missing from a later leader) in this run of
    commit-old-term; the trace is rejected earlier, where a leader commits an entry of an
    earlier term by counting replicas."""
    text, _, verdict_sim = _trace(17, "commit-old-term", ADVERSARIAL, 1000)
    assert verdict_sim == "violation"
    verdict = validate_lines(text.splitlines())
    assert not verdict.ok
    assert "of an earlier term" in verdict.reason and "(Figure 8)" in verdict.reason, verdict
    line = json.loads(text.splitlines()[verdict.line - 1])
    assert line["action"] == "Commit"
    for seed in range(3):  # and in runs the simulator finds nothing wrong with
        assert "(Figure 8)" in validate_lines(
            _trace(seed, "commit-old-term", ADVERSARIAL, 200)[0].splitlines()).reason


MEMBERSHIP = ("membership", "churn", "partition", "loss", "pause")


@pytest.mark.parametrize("seed", [0, 1])
def test_membership_runs_validate_and_the_2015_bug_is_rejected_at_its_first_change(
    seed: int,
) -> None:
    """With the membership fault a fifth node starts outside the configuration (the Init line
    names only the four voters), and the simulator asks leaders for one-server changes: the
    correct Raft's traces validate, and single-server-change-bug's are rejected at the first
    change a new leader makes before an entry of its own term is committed."""
    opts = RunOptions(seed=seed, protocol="raft", replicas=4, faults=MEMBERSHIP, ops=300)
    buf = io.StringIO()
    run_traced(opts, buf)
    lines = buf.getvalue().splitlines()
    init = json.loads(lines[0])
    assert init["cfg"] == [0, 1, 2, 3] and init["nodes"] == [0, 1, 2, 3, 4]
    assert validate_lines(lines).ok
    assert any('"ChangeConfig"' in x for x in lines)
    buf = io.StringIO()
    run_traced(attrs.evolve(opts, variant="single-server-change-bug"), buf)
    lines = buf.getvalue().splitlines()
    verdict = validate_lines(lines)
    assert not verdict.ok and "(the 2015 fix)" in verdict.reason, verdict
    assert json.loads(lines[verdict.line - 1])["action"] == "ChangeConfig"


# -- hand-corrupted traces ---------------------------------------------------------------------


def test_second_vote_in_a_term_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "Vote")
    other = dict(lines[i], cand=lines[i]["node"])
    lines.insert(i + 1, other)
    _rejected(lines, i + 1, "second vote in term")


def test_vote_lost_across_a_restart_is_rejected() -> None:
    def has(lines: list[dict[str, Any]]) -> bool:
        return any(x["action"] == "Restart" and x["vote"] not in (None, x["node"])
                   for x in lines)
    seed = next(s for s in range(30) if has(_lines(s)))
    lines = _lines(seed)
    i = _first(lines, lambda x: x["action"] == "Restart" and x["vote"] not in (None, x["node"]))
    lines[i]["vote"] = None
    _rejected(lines, i, "vote lost across a restart")


def test_leader_without_quorum_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "BecomeLeader")
    lines[i]["votes"] = [lines[i]["node"]]
    _rejected(lines, i, "leader without a quorum of votes")


def test_vote_never_granted_is_rejected() -> None:
    """A leader listing a voter that never answered it with a granted vote."""
    def lacking(lines: list[dict[str, Any]]) -> int | None:
        for i, x in enumerate(lines):
            if x["action"] == "BecomeLeader":
                got = {y["node"] for y in lines[:i] if y["action"] == "Vote"
                       and y["cand"] == x["node"] and y["term"] == x["term"]}
                if len(got) + 1 < 3:
                    return i
        return None
    seed = next(s for s in range(30) if lacking(_lines(s)) is not None)
    lines = _lines(seed)
    i = lacking(lines)
    assert i is not None
    lines[i]["votes"] = [0, 1, 2]
    _rejected(lines, i, "a vote never granted")


def test_commit_not_held_by_a_quorum_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "ClientRequest")
    node, index = lines[i]["node"], lines[i]["entries"][-1][0]
    j = _first(lines, lambda x: x["action"] == "Commit" and x["node"] == node, i)
    early = dict(lines[j], commit=index)
    del early["state"]
    lines.insert(i + 1, early)  # before any follower accepted it
    _rejected(lines, i + 1, "not held by a quorum")


def test_commit_index_going_back_is_rejected() -> None:
    lines = _lines(0)
    commits = [(k, x) for k, x in enumerate(lines)
               if x["action"] == "Commit" and x["state"]["role"] == "leader"]
    i, j = next((a, b) for (a, x), (b, y) in itertools.pairwise(commits)
                if x["commit"] >= 3 and (x["node"], x["term"]) == (y["node"], y["term"]))
    lines[j]["commit"] = lines[i]["commit"] - 1
    _rejected(lines, j, "commit index went back")


def test_append_from_a_non_leader_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "AppendEntries")
    lines[i]["src"] = lines[i]["node"]
    _rejected(lines, i, "does not lead term")


def test_follower_commit_beyond_the_leader_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "AppendEntries" and x["entries"])
    lines[i]["lcommit"] += 5
    _rejected(lines, i, "beyond its leader's")


def test_entry_the_leader_does_not_hold_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "AppendEntries" and x["entries"])
    lines[i]["entries"][0][2] = "cmd:000000000000"
    _rejected(lines, i, "the leader of term=")


def test_unexplained_log_change_is_rejected() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "AppendEntries")
    lines.insert(i + 1, {"action": "LogChange", "node": lines[i]["node"], "t": lines[i]["t"],
                         "trunc": 1, "new": []})
    _rejected(lines, i + 1, "outside any spec action")


def test_reported_state_must_match() -> None:
    lines = _lines(0)
    i = _first(lines, lambda x: x["action"] == "AppendEntries" and x["entries"])
    lines[i]["state"]["last"][0] += 1
    _rejected(lines, i, "reports last=")


# -- configuration changes (a command entry turned into a configuration) ------------------------


def _with_config(at: int) -> tuple[list[dict[str, Any]], int]:
    """Seed 0's trace with the value of the ``at``-th client command replaced, in every line,
    by a configuration with the same voters (so the rest of the run still holds)."""
    lines = _lines(0)
    reqs = [k for k, x in enumerate(lines) if x["action"] == "ClientRequest"]
    i = reqs[at]
    value = lines[i]["entries"][0][2]
    cfg = "cfg:" + ",".join(map(str, json.loads(_trace(0)[0].splitlines()[0])["cfg"])) + "|"
    text = "\n".join(_dump(lines)).replace(json.dumps(value), json.dumps(cfg))
    lines = [json.loads(x) for x in text.splitlines()]
    lines[i]["action"] = "ChangeConfig"
    return lines, i


def test_config_change_after_an_own_term_commit_is_valid() -> None:
    lines, _ = _with_config(3)
    verdict = validate_lines(_dump(lines))
    assert verdict.ok, verdict


def test_config_change_before_an_own_term_commit_is_rejected() -> None:
    lines = _lines(0)
    b = _first(lines, lambda x: x["action"] == "BecomeLeader")
    lines[b]["noop"][2] = "cfg:0,1,2|"  # the election entry as a configuration change
    lines.insert(b + 1, dict(lines[b], action="ChangeConfig", entries=[lines[b]["noop"]]))
    del lines[b + 1]["state"]
    lines[b]["noop"] = None
    del lines[b]["state"]
    _rejected(lines, b + 1, "(the 2015 fix)")


def test_second_config_change_before_the_first_commits_is_rejected() -> None:
    lines, i = _with_config(3)
    later = dict(lines[i], entries=[[lines[i]["entries"][0][0] + 1, lines[i]["entries"][0][1],
                                     "cfg:0,1|"]])
    del later["state"]
    lines.insert(i + 1, later)
    _rejected(lines, i + 1, "before the previous one is committed")


def test_two_voters_at_once_are_rejected() -> None:
    lines, i = _with_config(3)
    lines[i]["entries"][0][2] = "cfg:0|"
    _rejected(lines, i, "more than one voter changes at once")


# -- input and the command line ------------------------------------------------------------------


def test_bad_input_raises() -> None:
    with pytest.raises(TraceInputError, match="line 2: field t must be an int"):
        validate_lines(['{"action": "Init", "protocol": "raft", "nodes": [0]}',
                        '{"action": "Vote", "node": 0}'])
    with pytest.raises(TraceInputError, match="line 1: Init needs nodes"):
        validate_lines(['{"action": "Init", "protocol": "raft"}'])
    with pytest.raises(TraceInputError, match="unknown action"):
        validate_lines(['{"action": "Init", "protocol": "raft", "nodes": [0]}',
                        '{"action": "Prepare", "node": 0, "t": 1}'])


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "good.ndjson"
    good.write_text(_trace(1)[0])
    assert main([str(good)]) == 0
    assert "valid:" in capsys.readouterr().out
    lines = _lines(1)
    i = _first(lines, lambda x: x["action"] == "BecomeLeader")
    lines[i]["votes"] = [lines[i]["node"]]
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join(_dump(lines)) + "\n")
    assert main([str(bad)]) == 1
    assert f"invalid: line {i + 1}: leader without a quorum" in capsys.readouterr().out
    for text in ("not json\n", '{"action": "Vote", "node": 0}\n', ""):
        junk = tmp_path / "junk.ndjson"
        junk.write_text(text)
        assert main([str(junk)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tracevalid: error:") and err.count("\n") == 1
    monkeypatch.delenv("TLA2TOOLS_JAR", raising=False)
    assert main([str(good), "--tlc"]) == 2
    assert "TLC needs TLA2TOOLS_JAR" in capsys.readouterr().err


def test_run_to_file(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    result = run_to_file(_options(1), path)
    assert path.read_text() == _trace(1)[0]
    assert result.fingerprint == _trace(1)[1]


def test_paxlab_run_trace_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``paxlab run --protocol raft --trace-ndjson FILE`` then ``python -m harness.tracevalid
    FILE``: exit 0 both, and the same bytes as the library's trace of that run."""
    from harness.cli import main as paxlab

    path = tmp_path / "run.ndjson"
    code = paxlab(["run", "--protocol", "raft", "--seed", "7", "--ops", "100", "--clients", "3",
                   "--trace-ndjson", str(path)])
    assert code == 0
    assert f"fingerprint: {_trace(7)[1]}" in capsys.readouterr().out
    assert path.read_text() == _trace(7)[0]
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.startswith("valid: ")
