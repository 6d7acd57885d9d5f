"""The mutation campaign: plant each bug of `harness.failures.mutant_catalogue` in a copy of the
source tree and measure whether paxlab's own checks find it, and how fast.

Per mutant, within one wall-time budget:

1. copy ``consensus/``, ``storage/`` and ``harness/`` into a fresh temporary folder and apply
   the mutant's edit there (the working tree is never touched);
2. run ``python -m harness sweep`` in a subprocess (``PYTHONPATH`` and cwd the copy, so the
   mutated packages are the ones imported), seeds from 0 up, ``--max-failures 1`` and
   ``--time`` the budget, so it stops at the first failure;
3. if the mutant names explorer bounds, the sweep gets half the budget, and if it found
   nothing, ``python -m harness explore`` runs with those bounds for the rest;
4. if a sweep artifact was written and budget is left, ``python -m harness shrink`` it, and
   report the shrunk size (decisions, i.e. non-zero choices, and steps, before and after)
   only if that finished in time.

Verdicts (`MutantResult.status`):

- ``killed``: a paxlab check reported a violated property (sweep or explorer, exit 1 with its
  JSON summary);
- ``crash``: the mutated code raised inside a simulated run and the sweep reported it as an
  ``error`` outcome with its seed (exit 1): paxlab detected the failure, so it counts as
  killed, but it is listed apart because no property check was needed;
- ``survived``: nothing found within the budget (``equivalent`` when the catalogue argues the
  mutant cannot be told apart from the correct code);
- ``timeout``: a subprocess overran the hard timeout (the budget plus a grace period) without
  reporting: not killed (a hang paxlab did not report is a gap);
- ``broken``: the mutated tree did not run at all (the command failed without its summary,
  e.g. an import error): not killed, and a defect of the catalogue entry;
- ``baseline-fails``: the sweep found a violation, but the unmutated tree fails the same seed
  with the same options: the failure is not the planted bug (a real bug of the tree, or a
  false alarm of the harness), so it is never a kill. Every property kill is confirmed so.

Every subprocess runs in its own process group and is killed with it (its workers too) on a
timeout, on Ctrl-C or on any other exception; the temporary folder is always removed.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from harness.failures.mutant_catalogue import CATALOGUE, Mutant

log = logging.getLogger(__name__)

PACKAGES: tuple[str, ...] = ("consensus", "storage", "harness")
"""The folders copied for a mutant run: everything ``python -m harness`` imports."""
REPO_ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 30.0
"""Hard timeout beyond the budget: seeds running when ``--time`` expires finish, and a failing
seed is replayed with its trace before its artifact is written."""
SEED_RANGE = "0:5000"
"""Seeds a mutant's sweep may run: far more than any budget reaches on 2 cores (the sweep
submits its seeds up front, so not unbounded)."""
MIN_STAGE_S = 3.0
"""Below this much budget left, the explorer and shrink stages are not started."""
EXPLORE_SHARE_SWEEP = 0.5
"""Share of the budget the sweep gets when the mutant also names explorer bounds."""
SHRINK_MAX_S = 20.0
"""Most wall seconds shrinking may take (within what is left of the budget), so a campaign
of killed mutants does not cost a whole budget each."""

KILLED_STATUSES = frozenset({"killed", "crash"})
BASELINE_TIMEOUT_S = 120.0
"""Most wall seconds the unmutated run of a killing seed may take."""


class MutantError(ValueError):
    """A catalogue entry that cannot be applied (snippet missing or not unique)."""


@attrs.frozen(kw_only=True)
class ProcessResult:
    """What a subprocess gave: ``returncode`` None when it was killed at the timeout."""

    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float


@attrs.frozen(kw_only=True)
class MutantResult:
    """The verdict on one mutant (see the module docstring for ``status``).

    Attributes:
        name: the mutant.
        status: killed, crash, survived, equivalent, timeout, broken, or baseline-fails (the
            unmutated tree fails the same seed: not a kill).
        time_to_kill_s: wall seconds from the start of the mutant's run to the report that
            killed it (None if not killed).
        property: the violated property (``S6``), ``crash:<ExceptionType>``, or None.
        stage: ``sweep`` or ``explore`` (which one killed it), or None.
        seeds_run: seeds the sweep ran.
        shrunk: ``decisions=A->B steps=C->D`` (non-zero choices and simulator steps) if
            shrinking finished within the budget.
        detail: the violation message, or why it was not killed.
        artifact: relative path of the artifact inside the (removed) copy, for the record.
    """

    name: str
    status: str
    time_to_kill_s: float | None = None
    property: str | None = None
    stage: str | None = None
    seeds_run: int = 0
    shrunk: str | None = None
    detail: str = ""

    @builtins.property  # the field named `property` shadows the builtin here
    def killed(self) -> bool:
        return self.status in KILLED_STATUSES

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["killed"] = self.killed
        return data


Runner = Callable[[Sequence[str], Path, dict[str, str], float], ProcessResult]
"""``runner(argv, cwd, env, timeout_s)``: how the campaign starts a subprocess (tests fake
it)."""


def run_process(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float
                ) -> ProcessResult:
    """Run ``argv`` in its own process group; kill the whole group at ``timeout_s``, and on
    any exception (Ctrl-C included, re-raised after the kill)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        code = None
    except BaseException:
        _kill_group(proc)
        proc.communicate()
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    return ProcessResult(returncode=code, stdout=out or "", stderr=err or "",
                         wall_s=time.monotonic() - start)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def copy_tree(dst: Path, src: Path = REPO_ROOT) -> None:
    """Copy the packages a run imports from ``src`` into ``dst`` (no caches)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")
    for name in PACKAGES:
        shutil.copytree(src / name, dst / name, ignore=ignore)


def apply_mutant(root: Path, mutant: Mutant) -> None:
    """Replace the mutant's snippet in ``root / mutant.file``.

    Raises MutantError if the file is missing or the snippet does not occur exactly once.
    """
    path = root / mutant.file
    if not path.is_file():
        raise MutantError(f"mutant {mutant.name}: no file {mutant.file}")
    text = path.read_text()
    count = text.count(mutant.snippet)
    if count != 1:
        raise MutantError(
            f"mutant {mutant.name}: snippet found {count} times in {mutant.file}, need exactly 1"
        )
    path.write_text(text.replace(mutant.snippet, mutant.replacement))


def check_catalogue(mutants: Sequence[Mutant], root: Path = REPO_ROOT) -> list[str]:
    """Return one problem per line (empty: fine): duplicate names, a file outside consensus/
    or storage/, a snippet not found exactly once, a replacement equal to its snippet, a
    mutated file that does not compile."""
    problems = []
    seen: set[str] = set()
    for m in mutants:
        if m.name in seen:
            problems.append(f"duplicate mutant name {m.name}")
        seen.add(m.name)
        if not m.file.startswith(("consensus/", "storage/")):
            problems.append(f"mutant {m.name}: file {m.file} is not in consensus/ or storage/")
            continue
        if m.snippet == m.replacement:
            problems.append(f"mutant {m.name}: replacement equals the snippet")
        path = root / m.file
        text = path.read_text() if path.is_file() else ""
        count = text.count(m.snippet)
        if count != 1:
            problems.append(f"mutant {m.name}: snippet found {count} times in {m.file}")
            continue
        try:
            compile(text.replace(m.snippet, m.replacement), m.file, "exec")
        except SyntaxError as exc:
            problems.append(f"mutant {m.name}: mutated {m.file} does not compile: {exc}")
    return problems


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


def _json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


_OLD_FIGURES = r"choices=(\d+) non-zero=(\d+) steps=(\d+)"
_FIGURES = r"(\d+) choices, (\d+) decisions, (\d+) steps"
_AFTER = re.compile(r"^after:\s+(?:" + _FIGURES + "|" + _OLD_FIGURES + ")", re.M)
_BEFORE = re.compile(r"^before:\s+(?:" + _FIGURES + "|" + _OLD_FIGURES + ")", re.M)
SHRINK_MAX_RUNS = 100


def parse_shrink(stdout: str) -> str | None:
    """Return ``decisions=A->B steps=C->D`` (non-zero choices and simulator steps, before
    and after) from ``paxlab shrink`` output, or None if it has no before/after lines.

    Reads ``before: N choices, D decisions, S steps, ...`` and the older
    ``before: choices=N non-zero=D steps=S``.
    """
    after, before = _AFTER.search(stdout), _BEFORE.search(stdout)
    if after is None or before is None:
        return None
    b = [g for g in before.groups() if g is not None]
    a = [g for g in after.groups() if g is not None]
    return f"decisions={b[1]}->{a[1]} steps={b[2]}->{a[2]}"


def classify_sweep(proc: ProcessResult) -> tuple[str, str | None, str, int, str | None]:
    """Judge a sweep subprocess: ``(status, property, detail, seeds_run, artifact)``.

    Status is killed, crash, survived, timeout or broken (see the module docstring).
    """
    data = _json_line(proc.stdout)
    if proc.returncode is None:
        if data is None or "groups" not in data:
            return "timeout", None, "sweep overran its hard timeout", 0, None
        # The summary was printed, then the process did not exit (a sweep that hangs on its
        # way out): judge the summary, as its exit code would have said the same.
        code = 1 if data.get("failed") else 0
        proc = attrs.evolve(proc, returncode=code)
        status, prop, detail, seeds_run, artifact = classify_sweep(proc)
        return status, prop, f"{detail} (the sweep hung after its summary)", seeds_run, artifact
    if data is None or "groups" not in data:
        detail = _last_line(proc.stderr) or f"exit {proc.returncode} without a summary"
        return "broken", None, detail, 0, None
    seeds_run = int(data.get("run", 0))
    if proc.returncode == 0 and not data.get("failed"):
        return "survived", None, f"{seeds_run} seeds passed", seeds_run, None
    if proc.returncode != 1 or not data.get("groups"):
        return "broken", None, f"exit {proc.returncode} with summary {data.get('failed')}", \
            seeds_run, None
    group = data["groups"][0]
    signature = str(group["signature"])
    example = str(group.get("example", ""))[:200]
    if signature.startswith("error:"):
        return "crash", "crash:" + signature[len("error:"):], example, seeds_run, None
    return "killed", signature.split("@", 1)[0], example, seeds_run, group.get("artifact")


def classify_explore(proc: ProcessResult) -> tuple[str, str | None, str]:
    """Judge an explorer subprocess: ``(status, property, detail)``."""
    if proc.returncode is None:
        return "survived", None, "explorer did not finish within the budget"
    data = _json_line(proc.stdout)
    if data is None:
        return "broken", None, _last_line(proc.stderr) or f"explore exit {proc.returncode}"
    violation = data.get("violation")
    if proc.returncode == 1 and violation:
        return "killed", str(violation["property"]), str(violation.get("message", ""))[:200]
    states = data.get("states")
    complete = "complete" if data.get("complete") else "incomplete"
    return "survived", None, f"explorer {states} states, {complete}, no violation"


def run_mutant(
    mutant: Mutant,
    *,
    budget_s: float = 60.0,
    jobs: int = 2,
    python: str = sys.executable,
    runner: Runner = run_process,
    source: Path = REPO_ROOT,
    shrink: bool = True,
) -> MutantResult:
    """Plant ``mutant`` in a temporary copy of ``source`` and hunt for it (module docstring).

    Raises MutantError if the mutant cannot be applied to ``source``.
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"paxlab-mutant-{mutant.name}-") as tmp:
        copy = Path(tmp)
        copy_tree(copy, source)
        apply_mutant(copy, mutant)
        env = _env(copy)
        art = copy / "artifacts"
        # With explorer bounds to try, the sweep leaves the explorer half the budget.
        sweep_s = budget_s * EXPLORE_SHARE_SWEEP if mutant.explore is not None else budget_s
        sweep_argv = [
            python, "-m", "harness", "sweep", "--seeds", SEED_RANGE, "-j", str(jobs),
            "--max-failures", "1", "--time", f"{sweep_s:g}", "--out", str(art), "--json",
            *mutant.sweep,
        ]
        proc = runner(sweep_argv, copy, env, sweep_s + GRACE_S)
        status, prop, detail, seeds_run, artifact = classify_sweep(proc)
        if status == "killed" and artifact is not None:
            status, detail = _confirm_against_baseline(
                mutant, artifact, status, detail, python=python, runner=runner, source=source
            )
        stage: str | None = "sweep" if status in KILLED_STATUSES else None
        elapsed = time.monotonic() - start
        left = budget_s - elapsed
        if status == "survived" and mutant.explore is not None and left >= MIN_STAGE_S:
            explore_argv = [python, "-m", "harness", "explore", *mutant.explore, "--json",
                            "--out", str(copy / "explore-artifact")]
            eproc = runner(explore_argv, copy, env, left)
            estatus, eprop, edetail = classify_explore(eproc)
            if estatus == "killed" and (copy / "explore-artifact").is_dir():
                estatus, edetail = _confirm_schedule_against_baseline(
                    copy / "explore-artifact", estatus, edetail, python=python, runner=runner,
                    source=source,
                )
            if estatus != "survived":
                status, prop, detail = estatus, eprop, edetail
                stage = "explore" if estatus == "killed" else None
            else:
                detail = f"{detail}; {edetail}"
            elapsed = time.monotonic() - start
        if proc.returncode is None and stage == "sweep":
            # killed at the hard timeout after its summary: the sweep's own wall time says
            # when it found the failure
            data = _json_line(proc.stdout) or {}
            elapsed = float(data.get("wall_time_s", elapsed))
        time_to_kill = round(elapsed, 1) if status in KILLED_STATUSES else None
        shrunk = None
        left = min(SHRINK_MAX_S, budget_s - (time.monotonic() - start))
        if shrink and artifact is not None and left >= MIN_STAGE_S:
            sproc = runner([python, "-m", "harness", "shrink", str(artifact), "-o",
                            str(art / "shrunk"), "--max-runs", str(SHRINK_MAX_RUNS)],
                           copy, env, left)
            if sproc.returncode is not None:
                shrunk = parse_shrink(sproc.stdout)
        if status == "survived" and mutant.equivalent is not None:
            status = "equivalent"
            detail = f"{detail}; equivalent: {mutant.equivalent}"
    return MutantResult(
        name=mutant.name, status=status, time_to_kill_s=time_to_kill, property=prop,
        stage=stage, seeds_run=seeds_run, shrunk=shrunk, detail=detail,
    )


def _confirm_against_baseline(
    mutant: Mutant, artifact: str, status: str, detail: str, *, python: str,
    runner: Runner, source: Path,
) -> tuple[str, str]:
    """A kill counts only if the unmutated tree passes the failing seed with the same options.

    Otherwise the failure is the harness's or the protocol's own (a real bug, or a false
    alarm of a fault), not the planted one: status ``baseline-fails``, never a kill.
    """
    name = Path(artifact).name
    if not name.startswith("seed-") or not name[5:].isdigit():
        return status, detail
    seed = name[5:]
    with tempfile.TemporaryDirectory(prefix="paxlab-mutant-baseline-") as tmp:
        base = Path(tmp)
        copy_tree(base, source)
        proc = runner([python, "-m", "harness", "run", "--seed", seed, *mutant.sweep],
                      base, _env(base), BASELINE_TIMEOUT_S)
    if proc.returncode == 0:
        return status, detail
    return "baseline-fails", (f"the unmutated tree fails seed {seed} too (exit "
                              f"{proc.returncode}): {_last_line(proc.stdout)}; was: {detail}")


DIVERGED = "schedule action not enabled:"
"""What ``paxlab replay`` says when a schedule's step cannot be taken on the tree it runs."""


def _confirm_schedule_against_baseline(
    artifact: Path, status: str, detail: str, *, python: str, runner: Runner, source: Path
) -> tuple[str, str]:
    """An explorer kill counts only if its schedule, replayed on the unmutated tree through
    the simulator's host loop (``paxlab replay``), violates nothing, or cannot be followed
    there at all (a step delivers a message the unmutated replicas never send: the path is
    the mutant's own doing); else ``baseline-fails``."""
    with tempfile.TemporaryDirectory(prefix="paxlab-mutant-baseline-") as tmp:
        base = Path(tmp)
        copy_tree(base, source)
        proc = runner([python, "-m", "harness", "replay", str(artifact)], base, _env(base),
                      BASELINE_TIMEOUT_S)
    verdicts = [ln for ln in (proc.stdout or "").splitlines() if ln.startswith("verdict: ")]
    if verdicts == ["verdict: ok (no violation)"]:
        return status, detail
    diverged = _last_line(proc.stderr or "")
    if proc.returncode == 2 and DIVERGED in diverged:
        where = diverged.split(DIVERGED, 1)[1].strip().split(" action=")[0]
        return status, f"{detail} (the unmutated tree diverges from the schedule: {where})"
    return "baseline-fails", (f"the unmutated tree does not pass the schedule (exit "
                              f"{proc.returncode}): {_last_line(proc.stdout)}; was: {detail}")


def select(names: str | None) -> list[Mutant]:
    """Return the catalogue, or the mutants named in the comma list ``names`` (in its order).

    Raises MutantError for an unknown or repeated name, or an empty list.
    """
    if names is None:
        return list(CATALOGUE)
    table = {m.name: m for m in CATALOGUE}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise MutantError("--only needs at least one mutant name")
    unknown = [n for n in wanted if n not in table]
    if unknown:
        raise MutantError(f"unknown mutant(s) {', '.join(unknown)}; see paxlab mutants --list")
    if len(set(wanted)) != len(wanted):
        raise MutantError(f"a mutant is named twice in --only {names}")
    return [table[n] for n in wanted]


def campaign(
    mutants: Sequence[Mutant],
    *,
    budget_s: float = 60.0,
    jobs: int = 2,
    runner: Runner = run_process,
    source: Path = REPO_ROOT,
    shrink: bool = True,
) -> Iterator[MutantResult]:
    """Yield each mutant's result in order (a generator: Ctrl-C keeps what was yielded)."""
    for mutant in mutants:
        yield run_mutant(mutant, budget_s=budget_s, jobs=jobs, runner=runner, source=source,
                         shrink=shrink)


def kill_rate(results: Sequence[MutantResult]) -> float:
    """Killed (crash included) over all mutants run, equivalent ones included (0 if none)."""
    return sum(r.killed for r in results) / len(results) if results else 0.0


def mutation_score(results: Sequence[MutantResult]) -> float:
    """Killed over the mutants run that are not argued equivalent (the usual mutation score:
    an equivalent mutant is no bug to find); 0 if there are none."""
    real = [r for r in results if r.status != "equivalent"]
    return sum(r.killed for r in real) / len(real) if real else 0.0


def format_table(results: Sequence[MutantResult], mutants: Sequence[Mutant],
                 budget_s: float | None = None) -> str:
    """Return the campaign's table (one row per result) and its kill-rate line; with
    ``budget_s``, also how many kills came later than the budget (a seed started before the
    budget ran out and failed after it, or subprocess start-up on a busy machine)."""
    targets = {m.name: m.target for m in mutants}
    show_shrunk = any(r.shrunk for r in results)
    head = ["mutant", "verdict", "time to kill", "property", "target"]
    if show_shrunk:
        head.append("shrunk")
    rows = [head]
    for r in results:
        row = [
            r.name, r.status, "-" if r.time_to_kill_s is None else f"{r.time_to_kill_s:.1f}s",
            (r.property or "-") + (f" ({r.stage})" if r.stage == "explore" else ""),
            targets.get(r.name, ""),
        ]
        if show_shrunk:
            row.append(r.shrunk or "-")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    killed = sum(r.killed for r in results)
    crashes = sum(r.status == "crash" for r in results)
    equivalent = sum(r.status == "equivalent" for r in results)
    lines.append(
        f"mutation score {killed}/{len(results) - equivalent} "
        f"({100 * mutation_score(results):.0f}%) of the mutants not argued equivalent"
    )
    lines.append(
        f"killed {killed}/{len(results)} ({100 * kill_rate(results):.0f}%), of which "
        f"{crashes} by a crash; equivalent {equivalent}; "
        f"survived {sum(r.status == 'survived' for r in results)}; "
        f"timeout {sum(r.status == 'timeout' for r in results)}; "
        f"broken {sum(r.status == 'broken' for r in results)}; "
        f"baseline-fails {sum(r.status == 'baseline-fails' for r in results)}"
    )
    if budget_s is not None:
        late = [r.name for r in results
                if r.killed and r.time_to_kill_s is not None and r.time_to_kill_s > budget_s]
        lines.append(f"killed within the {budget_s:g}s budget: {killed - len(late)}/"
                     f"{len(results)}" + (f" (later: {', '.join(late)})" if late else ""))
    if not show_shrunk:
        lines.append("shrunk sizes: none finished within the budget (column left out)")
    else:
        missing = [r.name for r in results if r.killed and r.shrunk is None]
        if missing:
            lines.append(f"shrinking did not finish within the budget for: {', '.join(missing)}")
    return "\n".join(lines)
