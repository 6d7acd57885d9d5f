from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.failures import mutants as lib
from harness.failures.mutant_catalogue import CATALOGUE, Mutant
from harness.failures.mutants import (
    MutantError,
    ProcessResult,
    apply_mutant,
    check_catalogue,
    classify_explore,
    classify_sweep,
    parse_shrink,
    run_mutant,
    run_process,
)

# Properties DESIGN.md defines up to S14 (there is no S7 or S11).
PROPERTIES = ("S1", "S2", "S3", "S4", "S5", "S6", "S8", "S9", "S10", "S12", "S13", "S14", "S18",
              "S19")
MECHANISMS = (
    "phase-1 merge", "gap filling", "commit rule", "lease start", "lease wait",
    "drift", "read serving", "step-down", "restart and recovery", "catch-up", "snapshot",
    "membership", "log replica", "WAL record checksum", "fsync", "torn tail",
    "B-tree checkpoint", "deduplication", "recovered suffix",
)


# ---------------------------------------------------------------------- the catalogue
def test_catalogue_matches_the_current_tree() -> None:
    """Every snippet occurs exactly once and every mutated file compiles: a refactoring that
    moves code fails here instead of silently leaving a mutant that changes nothing."""
    assert check_catalogue(CATALOGUE) == []
    assert len(CATALOGUE) >= 30
    names = [m.name for m in CATALOGUE]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)
    for m in CATALOGUE:
        assert m.file.startswith(("consensus/", "storage/")) and m.why and m.target


def test_catalogue_covers_every_property_and_mechanism() -> None:
    targets = " ".join(m.target for m in CATALOGUE)
    for prop in PROPERTIES:
        assert re.search(rf"\b{prop}\b", targets), prop
    for mechanism in MECHANISMS:
        assert mechanism.lower() in targets.lower(), mechanism


def test_check_catalogue_reports_rot(tmp_path: Path) -> None:
    (tmp_path / "consensus").mkdir()
    (tmp_path / "consensus" / "m.py").write_text("x = 1\nx = 1\ny = 2\n")
    bad = [
        Mutant(name="twice", file="consensus/m.py", snippet="x = 1", replacement="x = 2",
               target="S1", why="."),
        Mutant(name="gone", file="consensus/m.py", snippet="z = 3", replacement="z = 4",
               target="S1", why="."),
        Mutant(name="gone", file="consensus/m.py", snippet="y = 2", replacement="y = (",
               target="S1", why="."),
        Mutant(name="outside", file="harness/x.py", snippet="a", replacement="b",
               target="S1", why="."),
    ]
    problems = check_catalogue(bad, root=tmp_path)
    assert any("twice: snippet found 2 times" in p for p in problems)
    assert any("gone: snippet found 0 times" in p for p in problems)
    assert any("duplicate mutant name gone" in p for p in problems)
    assert any("does not compile" in p for p in problems)
    assert any("not in consensus/ or storage/" in p for p in problems)


def test_apply_mutant_edits_only_the_copy(tmp_path: Path) -> None:
    (tmp_path / "storage").mkdir()
    target = tmp_path / "storage" / "m.py"
    target.write_text("a = 1\nb = 1\n")
    apply_mutant(tmp_path, Mutant(name="m", file="storage/m.py", snippet="b = 1",
                                  replacement="b = 2", target="S1", why="."))
    assert target.read_text() == "a = 1\nb = 2\n"
    with pytest.raises(MutantError, match="found 0 times"):
        apply_mutant(tmp_path, Mutant(name="m", file="storage/m.py", snippet="c = 1",
                                      replacement="c = 2", target="S1", why="."))
    with pytest.raises(MutantError, match="no file"):
        apply_mutant(tmp_path, Mutant(name="m", file="storage/x.py", snippet="c",
                                      replacement="d", target="S1", why="."))


# ---------------------------------------------------------------------- classification
def _sweep_json(failed: int, groups: list[dict[str, object]], run: int = 7) -> str:
    return "sweep seeds=...\n" + json.dumps(
        {"run": run, "passed": run - failed, "failed": failed, "groups": groups}
    ) + "\n"


def _proc(code: int | None, out: str = "", err: str = "") -> ProcessResult:
    return ProcessResult(returncode=code, stdout=out, stderr=err, wall_s=0.1)


def test_classify_sweep() -> None:
    killed = _sweep_json(1, [{"signature": "S6@node", "example": "S6: two serve",
                              "artifact": "/a/seed-3"}])
    assert classify_sweep(_proc(1, killed)) == ("killed", "S6", "S6: two serve", 7, "/a/seed-3")
    crash = _sweep_json(1, [{"signature": "error:KeyError", "example": "KeyError: 4",
                             "artifact": None}])
    assert classify_sweep(_proc(1, crash))[:2] == ("crash", "crash:KeyError")
    assert classify_sweep(_proc(0, _sweep_json(0, [])))[:2] == ("survived", None)
    # exit 1 without the summary: the mutated tree did not even run (a traceback)
    assert classify_sweep(_proc(1, "", "Traceback...\nSyntaxError: bad"))[:3] == (
        "broken", None, "SyntaxError: bad"
    )
    assert classify_sweep(_proc(None))[0] == "timeout"
    # the summary came, then the process hung on its way out: the summary is the verdict
    hung = classify_sweep(_proc(None, killed))
    assert hung[:2] == ("killed", "S6") and "hung after its summary" in hung[2]
    assert classify_sweep(_proc(2, "", "paxlab sweep: error: x"))[0] == "broken"


def test_classify_explore_and_shrink_output() -> None:
    found = json.dumps({"violation": {"property": "S1", "message": "two values"},
                        "states": 10, "complete": False})
    assert classify_explore(_proc(1, found)) == ("killed", "S1", "two values")
    clean = json.dumps({"violation": None, "states": 99, "complete": True})
    assert classify_explore(_proc(0, clean))[0] == "survived"
    assert classify_explore(_proc(None))[0] == "survived"
    out = ("shrink a: seed=1 property=S4\nbefore: choices=223 non-zero=31 steps=168\n"
           "after:  choices=90 non-zero=4 steps=60\nruns: 40\n")
    assert parse_shrink(out) == "decisions=31->4 steps=168->60"
    new = ("before: 223 choices, 31 decisions, 168 steps, 1000 ops\n"
           "after:  40 choices, 4 decisions, 60 steps, 12 ops\n")
    assert parse_shrink(new) == "decisions=31->4 steps=168->60"
    assert parse_shrink("nothing") is None


# ---------------------------------------------------------------------- run_mutant, faked
def _tiny_tree(root: Path) -> None:
    for name in lib.PACKAGES:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("")
    (root / "consensus" / "core.py").write_text("QUORUM = 2\n")


MUTANT = Mutant(name="tiny", file="consensus/core.py", snippet="QUORUM = 2",
                replacement="QUORUM = 1", target="S4", why="one vote commits")


def test_run_mutant_with_a_fake_subprocess(tmp_path: Path) -> None:
    _tiny_tree(tmp_path)
    calls: list[list[str]] = []

    def runner(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float
               ) -> ProcessResult:
        calls.append(list(argv))
        assert env["PYTHONPATH"] == str(cwd) and cwd != tmp_path
        if argv[3] == "run":  # the killing seed on the unmutated tree: it passes there
            assert (cwd / "consensus" / "core.py").read_text() == "QUORUM = 2\n"
            assert argv[argv.index("--seed") + 1] == "2"
            return _proc(0, "verdict: PASSED\n")
        assert (cwd / "consensus" / "core.py").read_text() == "QUORUM = 1\n"
        if argv[3] == "sweep":
            assert "--max-failures" in argv and timeout_s > 5
            return _proc(1, _sweep_json(1, [{"signature": "S4@slot", "example": "S4: x",
                                              "artifact": str(cwd / "artifacts/seed-2")}]))
        assert argv[3] == "shrink"
        return _proc(0, "before: 9 choices, 3 decisions, 50 steps, 1000 ops\n"
                        "after:  9 choices, 1 decisions, 20 steps, 30 ops\n")

    result = run_mutant(MUTANT, budget_s=10, runner=runner, source=tmp_path)
    assert result.status == "killed" and result.killed and result.property == "S4"
    assert result.stage == "sweep" and result.shrunk == "decisions=3->1 steps=50->20"
    assert result.time_to_kill_s is not None and result.time_to_kill_s < 10
    assert [c[3] for c in calls] == ["sweep", "run", "shrink"]
    assert (tmp_path / "consensus" / "core.py").read_text() == "QUORUM = 2\n"  # untouched
    assert not Path(calls[0][calls[0].index("--out") + 1]).parent.exists()  # removed


def test_a_seed_the_unmutated_tree_fails_too_is_no_kill(tmp_path: Path) -> None:
    _tiny_tree(tmp_path)

    def runner(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float
               ) -> ProcessResult:
        if argv[3] == "sweep":
            return _proc(1, _sweep_json(1, [{"signature": "S4@slot", "example": "S4: x",
                                              "artifact": str(cwd / "artifacts/seed-13")}]))
        if argv[3] == "run":
            return _proc(1, "violation: S4: node 2 applied slot 360, which is not chosen\n")
        return _proc(0, "")

    result = run_mutant(MUTANT, budget_s=10, runner=runner, source=tmp_path, shrink=False)
    assert result.status == "baseline-fails" and not result.killed
    assert "unmutated tree fails seed 13" in result.detail
    assert lib.mutation_score([result]) == 0.0


def test_run_mutant_survivor_tries_the_explorer_then_marks_equivalent(tmp_path: Path) -> None:
    _tiny_tree(tmp_path)
    seen: list[str] = []

    def runner(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float
               ) -> ProcessResult:
        seen.append(argv[3])
        if argv[3] == "sweep":
            half = "5" if "explore" not in seen and len(seen) == 1 else "10"
            assert argv[argv.index("--time") + 1] == half  # the explorer gets the rest
            return _proc(0, _sweep_json(0, [], run=40))
        return _proc(0, json.dumps({"violation": None, "states": 5, "complete": True}))

    mutant = Mutant(name="tiny", file="consensus/core.py", snippet="QUORUM = 2",
                    replacement="QUORUM = 1", target="S4", why=".", explore=("--writes", "1"))
    result = run_mutant(mutant, budget_s=10, runner=runner, source=tmp_path)
    assert seen == ["sweep", "explore"]
    assert result.status == "survived" and not result.killed and result.seeds_run == 40
    assert result.time_to_kill_s is None and result.property is None
    equivalent = Mutant(name="tiny", file="consensus/core.py", snippet="QUORUM = 2",
                        replacement="QUORUM = 1", target="S4", why=".", equivalent="because")
    again = run_mutant(equivalent, budget_s=10, runner=runner, source=tmp_path)
    assert again.status == "equivalent" and not again.killed and "because" in again.detail


def test_an_explorer_kill_counts_only_if_the_unmutated_tree_passes_its_schedule(
    tmp_path: Path,
) -> None:
    _tiny_tree(tmp_path)
    base_verdict = ["verdict: ok (no violation)"]
    replay_error = [""]

    def runner(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float
               ) -> ProcessResult:
        if argv[3] == "sweep":
            return _proc(0, _sweep_json(0, [], run=40))
        if argv[3] == "explore":
            (cwd / "explore-artifact").mkdir()
            found = {"property": "S6", "message": "two serve"}
            return _proc(1, json.dumps({"violation": found, "states": 9, "complete": False}))
        assert argv[3] == "replay" and argv[4].endswith("explore-artifact")
        assert (cwd / "consensus" / "core.py").read_text() == "QUORUM = 2\n"  # unmutated
        if replay_error[0]:
            return _proc(2, "", f"paxlab replay: error: {replay_error[0]}\n")
        return _proc(1, f"replay x: explore schedule of 9 steps\n{base_verdict[0]}\n")

    mutant = Mutant(name="tiny", file="consensus/core.py", snippet="QUORUM = 2",
                    replacement="QUORUM = 1", target="S6", why=".", explore=("--writes", "0"))
    killed = run_mutant(mutant, budget_s=10, runner=runner, source=tmp_path, shrink=False)
    assert killed.status == "killed" and killed.stage == "explore" and killed.property == "S6"
    base_verdict[0] = "verdict: violation S6: replicas [0, 1] all serve"
    false = run_mutant(mutant, budget_s=10, runner=runner, source=tmp_path, shrink=False)
    assert false.status == "baseline-fails" and not false.killed
    assert "does not pass the schedule" in false.detail
    # The unmutated replicas never send what step 7 delivers: the path is the mutant's doing.
    replay_error[0] = ("schedule action not enabled: step=7 action=('deliver', 0, 1, "
                       "'Accepted(ballot=Ballot(1, 0))')")
    diverged = run_mutant(mutant, budget_s=10, runner=runner, source=tmp_path, shrink=False)
    assert diverged.status == "killed" and diverged.property == "S6"
    assert "diverges from the schedule: step=7" in diverged.detail
    # Any other replay error is no evidence either way: not a kill.
    replay_error[0] = "explore-artifact/schedule.json: line 3: not JSON"
    broken = run_mutant(mutant, budget_s=10, runner=runner, source=tmp_path, shrink=False)
    assert broken.status == "baseline-fails" and not broken.killed


def test_run_mutant_in_a_real_subprocess_of_a_trivial_tree(tmp_path: Path) -> None:
    """The copy's packages are the ones imported: the fake ``harness`` sweep reads the
    mutated ``consensus.core`` and reports a violation only when it is mutated."""
    _tiny_tree(tmp_path)
    (tmp_path / "harness" / "__main__.py").write_text(textwrap.dedent('''
        import json, sys
        from consensus.core import QUORUM
        failed = 1 if QUORUM < 2 else 0
        groups = [{"signature": "S4@slot", "example": "quorum of one", "artifact": None}]
        print(json.dumps({"run": 3, "failed": failed, "groups": groups if failed else []}))
        sys.exit(failed)
    '''))
    killed = run_mutant(MUTANT, budget_s=20, source=tmp_path, python=sys.executable)
    assert (killed.status, killed.property) == ("killed", "S4")
    same = Mutant(name="same", file="consensus/core.py", snippet="QUORUM = 2",
                  replacement="QUORUM = 3", target="S4", why=".")
    survived = run_mutant(same, budget_s=20, source=tmp_path, python=sys.executable)
    assert survived.status == "survived" and survived.seeds_run == 3


def test_run_process_kills_at_the_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = run_process([sys.executable, "-c", "import time; print('hi', flush=True); "
                        "time.sleep(30)"], tmp_path, {}, 1.0)
    assert proc.returncode is None and time.monotonic() - start < 10
    assert proc.stdout.strip() == "hi"


def test_kill_rate_and_table() -> None:
    results = [
        lib.MutantResult(name="a", status="killed", time_to_kill_s=3.2, property="S6",
                         stage="sweep", shrunk="decisions=5->1 steps=90->40"),
        lib.MutantResult(name="b", status="crash", time_to_kill_s=1.0, property="crash:KeyError",
                         stage="sweep"),
        lib.MutantResult(name="c", status="survived"),
        lib.MutantResult(name="d", status="equivalent"),
    ]
    assert lib.kill_rate(results) == 0.5
    assert lib.mutation_score(results) == 2 / 3  # d is argued equivalent: no bug to find
    table = lib.format_table(results, list(CATALOGUE))
    assert "killed 2/4 (50%), of which 1 by a crash" in table
    assert "mutation score 2/3 (67%)" in table
    assert "decisions=5->1" in table and "shrinking did not finish" in table
    timed = lib.format_table(results, list(CATALOGUE), budget_s=3.0)
    assert "killed within the 3s budget: 1/4 (later: a)" in timed
    bare = lib.format_table(results[2:], list(CATALOGUE))
    assert "shrunk" not in bare.splitlines()[0] and "column left out" in bare


def test_select() -> None:
    assert lib.select(None) == list(CATALOGUE)
    first, second = CATALOGUE[0].name, CATALOGUE[1].name
    assert [m.name for m in lib.select(f"{second},{first}")] == [second, first]
    for bad in ("nope", ",", f"{first},{first}"):
        with pytest.raises(MutantError):
            lib.select(bad)


@pytest.mark.slow
def test_campaign_kills_at_least_90_percent() -> None:
    results = list(lib.campaign(CATALOGUE, budget_s=60, jobs=2, shrink=False))
    assert not [r.name for r in results if r.status == "broken"]
    # the target: 90% of the mutants that are bugs (argued equivalents are no bug to find)
    assert lib.mutation_score(results) >= 0.9, lib.format_table(results, CATALOGUE, 60)
