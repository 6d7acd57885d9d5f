"""Seed sweeps: run one set of options over many seeds in parallel and group the failures.

Each seed is one run of the run function (`harness.sim.run` unless a test injects another
with the same signature). Workers keep no trace while running (cheaper), and return a
compact `SeedOutcome`; a failing seed is replayed from its choice list with the trace kept,
so its artifact is complete, and the replay's fingerprint is compared with the first run's
(a difference is a determinism bug, reported as ``replay_mismatch``). The caller's process
writes one artifact folder per failure, ``OUT/seed-N``.

Executors: ``"local"`` (a process pool of ``jobs`` workers; ``jobs == 1`` runs in this
process) or ``"dask://HOST:PORT"`` (a `distributed.Client` connected to that scheduler; dask
is an optional extra, imported only then). A run function must be picklable by reference
(a module-level function) for both.

An exception raised by a run is not a crash of the sweep: it becomes an outcome with verdict
``"error"`` (grouped by exception type), because a simulator bug found by one seed must not
hide what the other seeds found. A run whose verdict is ``"unknown"`` (no violation, but a
check could not decide) is counted apart: neither passed nor failed.

Coverage: each outcome carries what its run exercised (`harness.sim.coverage`) and its
`consensus.probes` counts; the summary sums both and names the probes that never fired.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import itertools
import logging
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from consensus.probes import never_fired
from harness.checks.violation import Violation
from harness.failures.artifact import write_artifact
from harness.sim.coverage import add_counts, info_share
from harness.sim.runspec import RunOptions, RunResult

log = logging.getLogger(__name__)

# Simulated runs switch on trio's deterministic scheduling through process-global state,
# so two runs must never overlap in one process (a dask worker may run tasks in threads).
_RUN_LOCK = threading.Lock()


class RunFunction(Protocol):
    """The contract of `harness.sim.run` that sweeps, replay and shrink rely on."""

    def __call__(
        self,
        options: RunOptions,
        *,
        replay: Sequence[int] | None = None,
        replay_labels: Sequence[str] | None = None,
        keep_trace: bool = True,
        trace_until: int | None = None,
    ) -> RunResult: ...


def default_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """Call `harness.sim.run` (imported on first use, so this module loads without it)."""
    sim = importlib.import_module("harness.sim")
    result: RunResult = sim.run(
        options, replay=replay, replay_labels=replay_labels, keep_trace=keep_trace,
        trace_until=trace_until,
    )
    return result


class SweepError(ValueError):
    """Bad sweep input (seed range, jobs, executor) or an executor that cannot be reached."""


def parse_seed_range(text: str) -> range:
    """Parse ``"A:B"`` (seeds A to B-1, like a Python slice) or ``"N"`` (N seeds: 0..N-1,
    like ``range(N)``).

    Raises:
        SweepError: not of that form, negative, or ``B <= A`` (an empty range).
    """
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise SweepError(f"seed range must be A:B or N with integers, got seeds={text!r}") from None
    if len(numbers) == 1:
        if numbers[0] < 1:
            raise SweepError(f"seed range N must be >= 1 (seeds 0..N-1), got seeds={text!r}")
        numbers.insert(0, 0)
    if len(numbers) != 2 or numbers[0] < 0:
        raise SweepError(f"seed range must be A:B with 0 <= A < B, got seeds={text!r}")
    start, stop = numbers
    if stop <= start:
        raise SweepError(f"seed range must be A:B with A < B (B exclusive), got seeds={text!r}")
    return range(start, stop)


def parse_executor(text: str) -> str | None:
    """Return None for ``"local"``, or the scheduler address ``"tcp://HOST:PORT"`` for
    ``"dask://HOST:PORT"``.

    Raises:
        SweepError: anything else (unknown scheme, missing host or port).
    """
    if text == "local":
        return None
    prefix = "dask://"
    if text.startswith(prefix):
        host, sep, port = text[len(prefix):].rpartition(":")
        if sep and host and port.isdigit():
            return f"tcp://{host}:{port}"
    raise SweepError(f"unknown executor {text!r}; use local or dask://HOST:PORT")


def run_command(options: RunOptions) -> str:
    """Return the ``paxlab run`` command line that repeats a seeded run with ``options``."""
    defaults = RunOptions(protocol=options.protocol)  # its default faults, too
    words = ["paxlab", "run", "--seed", str(options.seed)]
    if options.protocol != "multipaxos":
        words += ["--protocol", options.protocol]
    for name in ("replicas", "ops", "clients", "keys"):
        value = getattr(options, name)
        if value != getattr(defaults, name):
            words += [f"--{name}", str(value)]
    if options.faults != defaults.faults:
        words += ["--faults", ",".join(options.faults) or "none"]
    if options.unsafe_clocks:
        words.append("--unsafe-clocks")
    if options.variant is not None:
        words += ["--variant", options.variant]
    return shlex.join(words)


@attrs.frozen(kw_only=True)
class SeedOutcome:
    """What one seed of a sweep gave: small enough to send back from a worker.

    Attributes:
        seed: the seed.
        verdict: ``"ok"``, ``"violation"``, ``"unknown"`` (no violation, but a check could
            not decide), or ``"error"`` (the run raised).
        violation: the first violated property, or None.
        unknown: for an unknown verdict, which check could not decide and why.
        coverage, probes: what the first run exercised and its probe counts (empty for an
            error, or a run function that does not report them).
        fingerprint: the run's fingerprint ("" for an error).
        steps: simulator steps (0 for an error).
        wall_time_s: wall-clock seconds of the first run.
        cpu_time_s: CPU seconds of the first run in its worker (steadier than wall time on
            a busy machine).
        error: one line ``Type: message`` when the run raised, else None.
        replay_mismatch: replaying the failure's choice list gave another fingerprint.
        result: the full result with trace, for a violation only, until its artifact is
            written (then None).
        artifact: the artifact folder written for a violation, or None.
    """

    seed: int
    verdict: str
    violation: Violation | None = None
    fingerprint: str = ""
    steps: int = 0
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    error: str | None = None
    replay_mismatch: bool = False
    result: RunResult | None = attrs.field(default=None, repr=False, eq=False)
    artifact: str | None = None
    unknown: str | None = None
    coverage: dict[str, Any] = attrs.field(factory=dict, repr=False)
    probes: dict[str, int] = attrs.field(factory=dict, repr=False)

    @property
    def failed(self) -> bool:
        """A violation or an error (an unknown verdict is neither passed nor failed)."""
        return self.verdict in ("violation", "error")

    @property
    def passed(self) -> bool:
        return self.verdict == "ok"

    @property
    def undecided(self) -> bool:
        return self.verdict == "unknown"

    @property
    def signature(self) -> str:
        """Group key: the violation's signature, or ``error:<ExceptionType>``."""
        if self.violation is not None:
            return self.violation.signature
        if self.error is not None:
            return "error:" + self.error.split(":", 1)[0]
        return "ok"


def run_seed(options: RunOptions, run: RunFunction = default_run) -> SeedOutcome:
    """Run one seed (the worker's job); see the module docstring for what it returns."""
    with _RUN_LOCK:
        start = time.monotonic()
        cpu_start = time.process_time()
        try:
            first = run(options, keep_trace=False)
        except Exception as exc:  # a simulator bug is a finding, not a sweep crash
            log.exception("seed=%d raised", options.seed)
            # trio wraps what a task raised in a group of one: name the exception itself
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]
            message = str(exc).splitlines()[0] if str(exc) else ""
            return SeedOutcome(
                seed=options.seed, verdict="error", error=f"{type(exc).__name__}: {message}",
                wall_time_s=time.monotonic() - start,
            )
        wall_time_s = time.monotonic() - start
        cpu_time_s = time.process_time() - cpu_start
        if first.violation is None:
            return SeedOutcome(
                seed=options.seed, verdict=first.verdict, fingerprint=first.fingerprint,
                steps=first.steps, wall_time_s=wall_time_s, cpu_time_s=cpu_time_s,
                unknown=first.unknown, coverage=first.coverage, probes=first.probes,
            )
        full = run(options, replay=first.choices, keep_trace=True)
    mismatch = full.fingerprint != first.fingerprint
    if mismatch:
        log.warning(
            "seed=%d: replaying its choices changed the fingerprint: first=%s replay=%s",
            options.seed, first.fingerprint, full.fingerprint,
        )
    return SeedOutcome(
        seed=options.seed, verdict="violation", violation=first.violation,
        fingerprint=first.fingerprint, steps=first.steps, wall_time_s=wall_time_s,
        cpu_time_s=cpu_time_s, replay_mismatch=mismatch, result=full,
        coverage=first.coverage, probes=first.probes,
    )


@attrs.frozen(kw_only=True)
class SweepProgress:
    """Progress after each finished seed. ``eta_s`` is None until a rate is known."""

    done: int
    total: int
    failed: int
    elapsed_s: float
    runs_per_s: float
    eta_s: float | None


@attrs.frozen(kw_only=True)
class FailureGroup:
    """Failures sharing one signature: their seeds (ascending) and the lowest seed's artifact."""

    signature: str
    seeds: tuple[int, ...]
    artifact: str | None
    replay_command: str
    example: str


def useful_jobs(jobs: int | None, seeds: int, cores: int | None = None) -> int:
    """Workers worth starting: no more than the seeds to run or the cores to run them on
    (more processes than cores only share the cores, and each costs memory and a start)."""
    cores = cores or os.cpu_count() or 1
    wanted = cores if jobs is None else jobs
    return max(1, min(wanted, seeds, cores))


STOPPED_REASONS: tuple[str, ...] = ("time", "max-failures", "interrupted")
"""Why a sweep ended before its last seed: its ``time_s`` budget ran out, it found
``max_failures`` distinct failure signatures, or Ctrl-C."""


@attrs.frozen(kw_only=True)
class SweepSummary:
    """The result of a sweep: counts, failure groups (largest first), every outcome by seed.

    ``seeds`` is the range asked for; ``outcomes`` holds the seeds that ran, fewer when the
    sweep ``stopped`` early (one of `STOPPED_REASONS`, else None).
    """

    options: RunOptions
    seeds: range
    outcomes: tuple[SeedOutcome, ...]
    groups: tuple[FailureGroup, ...]
    wall_time_s: float
    stopped: str | None = None

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def unknown(self) -> int:
        """Seeds with no violation in which some check could not decide (not passed)."""
        return sum(1 for o in self.outcomes if o.undecided)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.failed)

    def coverage(self) -> dict[str, Any]:
        """What every run exercised, summed (`harness.sim.coverage`)."""
        total: dict[str, Any] = {}
        for o in self.outcomes:
            add_counts(total, o.coverage)
        return total

    def probes(self) -> dict[str, int]:
        """`consensus.probes` counts summed over every run."""
        total: dict[str, Any] = {}
        for o in self.outcomes:
            add_counts(total, o.probes)
        return total

    def probes_never_fired(self) -> list[str]:
        """Declared probes no run of the sweep fired (what it did not exercise)."""
        return never_fired(self.probes())

    @property
    def runs_per_s(self) -> float:
        return len(self.outcomes) / self.wall_time_s if self.wall_time_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able summary (failing seeds only, with their artifacts)."""
        return {
            "options": {k: v for k, v in self.options.to_json().items() if k != "seed"},
            "seeds": f"{self.seeds.start}:{self.seeds.stop}",
            "run": len(self.outcomes),
            "stopped": self.stopped,
            "passed": self.passed,
            "failed": self.failed,
            "unknown": self.unknown,
            "wall_time_s": round(self.wall_time_s, 3),
            "runs_per_s": round(self.runs_per_s, 3),
            "groups": [attrs.asdict(g) for g in self.groups],
            "failures": [
                {
                    "seed": o.seed,
                    "verdict": o.verdict,
                    "violation": None if o.violation is None else o.violation.to_json(),
                    "error": o.error,
                    "artifact": o.artifact,
                    "replay_mismatch": o.replay_mismatch,
                }
                for o in self.outcomes
                if o.failed
            ],
            "unknowns": [
                {"seed": o.seed, "unknown": o.unknown} for o in self.outcomes if o.undecided
            ],
            "coverage": self.coverage(),
            "info_share": round(info_share(self.coverage()), 6),
            "probes": self.probes(),
            "probes_never_fired": self.probes_never_fired(),
            "per_run": [
                {
                    "seed": o.seed,
                    "verdict": o.verdict,
                    "info_share": round(info_share(o.coverage), 6),
                    "coverage": o.coverage,
                    "probes": {k: v for k, v in o.probes.items() if v},
                }
                for o in self.outcomes
            ],
        }


def sweep(
    options: RunOptions,
    seeds: range,
    *,
    jobs: int | None = None,
    executor: str = "local",
    out: Path | None = Path("artifacts"),
    run: RunFunction = default_run,
    progress: Callable[[SweepProgress], None] | None = None,
    connect_timeout_s: float = 10.0,
    time_s: float | None = None,
    max_failures: int | None = None,
) -> SweepSummary:
    """Run ``options`` (its seed ignored) for every seed in ``seeds``; return the summary.

    The sweep stops early, and returns what it has (artifacts written so far are kept),
    once ``time_s`` seconds have passed, once ``max_failures`` distinct failure signatures
    were found, or on Ctrl-C (KeyboardInterrupt): ``stopped`` says which. No new seed starts
    then; seeds already running in workers finish or are abandoned with the pool.

    Args:
        jobs: parallel workers for the local executor (None: one per core; 1: in this
            process), capped by `useful_jobs`. Ignored by dask, which uses its cluster's
            workers.
        executor: ``"local"`` or ``"dask://HOST:PORT"``.
        out: folder under which each violation gets ``seed-N``; None writes no artifacts.
        progress: called in this process after each finished seed.
        connect_timeout_s: how long to try reaching a dask scheduler.

    Raises:
        SweepError: ``jobs < 1``, an unknown executor, or a dask scheduler not reachable.
    """
    if jobs is not None and jobs < 1:
        raise SweepError(f"jobs must be >= 1, got jobs={jobs}")
    if time_s is not None and not time_s > 0:
        raise SweepError(f"time must be > 0 seconds, got time={time_s}")
    if max_failures is not None and max_failures < 1:
        raise SweepError(f"max-failures must be >= 1, got max_failures={max_failures}")
    address = parse_executor(executor)
    start = time.monotonic()
    all_options = [attrs.evolve(options, seed=seed) for seed in seeds]
    if address is not None:
        stream = _run_dask(address, all_options, run, connect_timeout_s)
    else:
        stream = _run_local(all_options, run, useful_jobs(jobs, len(all_options)))
    outcomes: list[SeedOutcome] = []
    failed = 0
    signatures: set[str] = set()
    stopped: str | None = None
    try:
        for outcome in stream:
            if outcome.result is not None:
                folder = None
                if out is not None:
                    written = write_artifact(out / f"seed-{outcome.seed}", outcome.result)
                    folder = str(written.folder)
                outcome = attrs.evolve(outcome, result=None, artifact=folder)
            outcomes.append(outcome)
            failed += outcome.failed
            if outcome.failed:
                signatures.add(outcome.signature)
            if progress is not None:
                progress(_progress(len(outcomes), len(all_options), failed, start))
            if max_failures is not None and len(signatures) >= max_failures:
                stopped = "max-failures"
            elif time_s is not None and time.monotonic() - start >= time_s:
                stopped = "time"
            if stopped is not None and len(outcomes) < len(all_options):
                break
            stopped = None
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        stream.close()  # cancels the seeds not started (a second Ctrl-C here propagates)
    outcomes.sort(key=lambda o: o.seed)
    return SweepSummary(
        options=options, seeds=seeds, outcomes=tuple(outcomes), groups=_group(options, outcomes),
        wall_time_s=time.monotonic() - start, stopped=stopped,
    )


def _progress(done: int, total: int, failed: int, start: float) -> SweepProgress:
    elapsed_s = time.monotonic() - start
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta_s = (total - done) / rate if rate > 0 else None
    return SweepProgress(
        done=done, total=total, failed=failed, elapsed_s=elapsed_s, runs_per_s=rate, eta_s=eta_s
    )


def _group(options: RunOptions, outcomes: Sequence[SeedOutcome]) -> tuple[FailureGroup, ...]:
    by_signature: dict[str, list[SeedOutcome]] = {}
    for outcome in outcomes:  # ascending seeds, so each group's first is its lowest seed
        if outcome.failed:
            by_signature.setdefault(outcome.signature, []).append(outcome)
    groups = []
    for signature, members in by_signature.items():
        first = members[0]
        if first.artifact is not None:
            command = f"paxlab replay {shlex.quote(first.artifact)}"
        else:  # no artifact (an error, or out=None): the seeded run repeats it
            command = run_command(attrs.evolve(options, seed=first.seed))
        example = first.violation.message if first.violation is not None else first.error or ""
        groups.append(
            FailureGroup(
                signature=signature, seeds=tuple(o.seed for o in members),
                artifact=first.artifact, replay_command=command, example=example,
            )
        )
    groups.sort(key=lambda g: (-len(g.seeds), g.seeds[0]))
    return tuple(groups)


def _run_local(
    all_options: Sequence[RunOptions], run: RunFunction, jobs: int
) -> Generator[SeedOutcome, None, None]:
    if jobs == 1 or len(all_options) <= 1:
        for options in all_options:
            yield run_seed(options, run)
        return
    if run is default_run:
        # Load the simulator here, once: forked workers inherit it instead of each importing
        # trio, consensus and storage anew (a few tenths of a CPU second per worker).
        importlib.import_module("harness.sim.runner")
    yield from pooled(run_seed, [(o, run) for o in all_options], jobs)  # closing closes it


_Result = TypeVar("_Result")


def pooled(
    fn: Callable[..., _Result], items: Sequence[tuple[Any, ...]], jobs: int
) -> Generator[_Result, None, None]:
    """``fn(*item)`` for each of ``items`` in ``jobs`` worker processes, yielded as they
    finish (each batch that finishes together in the order of ``items``).

    Items are submitted a few at a time (twice the workers): a run stopped early leaves
    almost nothing queued, and a process whose pool had thousands of queued items when it
    was shut down without waiting could hang on its way out after its summary.
    """
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=jobs)
    position: dict[concurrent.futures.Future[_Result], int] = {}
    todo = iter(enumerate(items))

    def submit(n: int, item: tuple[Any, ...]) -> concurrent.futures.Future[_Result]:
        future = pool.submit(fn, *item)
        position[future] = n
        return future

    running = {submit(n, item) for n, item in itertools.islice(todo, 2 * jobs)}
    finished = False
    try:
        while running:
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for n, item in itertools.islice(todo, len(done)):
                running.add(submit(n, item))
            for future in sorted(done, key=position.__getitem__):
                del position[future]
                yield future.result()
        finished = True
    finally:
        # A stop (budget, Ctrl-C, an error) cancels what has not started and does not wait
        # for what still runs: those workers end with the pool. A pool whose work is all done
        # is shut down waiting (at once): on Python 3.11, one shut down without waiting can
        # race its manager thread at interpreter exit and print "Exception ignored ... Bad
        # file descriptor" after the summary.
        pool.shutdown(wait=finished, cancel_futures=not finished)


def _run_dask(
    address: str, all_options: Sequence[RunOptions], run: RunFunction, timeout_s: float
) -> Generator[SeedOutcome, None, None]:
    try:
        distributed = importlib.import_module("distributed")
    except ImportError:
        raise SweepError(
            "the dask executor needs the dask extra: pip install -e '.[dask]'"
        ) from None
    try:
        client = distributed.Client(address, timeout=f"{timeout_s}s")
    except OSError as exc:
        raise SweepError(f"cannot reach dask scheduler at address={address}: {exc}") from None
    try:
        futures = client.map(_run_seed_on_dask, list(all_options), run=run, pure=False)
        for future in distributed.as_completed(futures):
            outcome: SeedOutcome = future.result()
            yield outcome
    finally:
        client.close()


_PAXLAB_ROOT = str(Path(__file__).resolve().parents[2])
_PAXLAB_PACKAGES: tuple[str, ...] = ("consensus", "storage", "harness")


def _run_seed_on_dask(options: RunOptions, run: RunFunction) -> SeedOutcome:
    """`run_seed` in a dask worker, after making sure paxlab's packages are the ones imported.

    A dask worker puts its local directory first on ``sys.path``, and that directory has a
    ``storage`` folder of its own (for spilling), which Python would import as a namespace
    package in place of paxlab's ``storage``.
    """
    if sys.path[:1] != [_PAXLAB_ROOT]:
        sys.path.insert(0, _PAXLAB_ROOT)
    for name in _PAXLAB_PACKAGES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) is None:
            del sys.modules[name]  # a namespace package that shadowed ours
    return run_seed(options, run)
