"""Protocols side by side under the same scripted faults: `compare` and its tables.

For each scenario (`harness.sim.scenario_runs.SCENARIOS`) every protocol runs the same seeds,
each seed one simulator run with the scenario's scripted fault and no drawn ones
(`harness.sim.scenario_runs.run_scenario`). The per-seed figures are summed up per protocol
(`ProtocolFigures`) and printed as one table per scenario (`format_table`):

- unavailability after the fault: p50, p99 and max over seeds of the time without a serving
  leader in the measured window;
- write latency p50 and p99 over the acknowledged writes invoked in the measured window, of
  every seed (simulated time);
- messages per acknowledged write (delivered peer messages over acknowledged writes, summed
  over the seeds);
- elections per run (mean over the runs that did not raise, the first election included);
- violations: how many seeds failed, the first one's property and message and the command
  that repeats exactly that seed; unknown verdicts (a check that could not decide) and runs
  that raised are counted apart and never as passes.

Percentiles are exact (nearest rank over the sorted values), so the same seeds and options
print the same table, byte for byte, however many workers ran them and in whatever order they
finished (the runs are sorted by seed before anything is summed). Wall time is never in a
table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

import attrs

from harness.failures.sweep import pooled, useful_jobs
from harness.sim.scenario_runs import SCENARIOS, WINDOW_US, ScenarioRun
from harness.sim.scenario_runs import run_scenario as run_scenario  # the CLI's run (tests swap it)

RunScenario = Callable[[str, str, int], ScenarioRun]


def percentile(values: Sequence[int], q: float) -> int | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values`` (None when empty): the
    smallest value with at least ``q`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def compare_command(scenario: str, protocol: str, seed: int) -> str:
    """The command that repeats exactly one seed of one scenario on one protocol."""
    return (f"paxlab compare --scenario {scenario} --protocols {protocol} "
            f"--seeds {seed}:{seed + 1}")


@attrs.frozen(kw_only=True)
class ProtocolFigures:
    """One protocol's row of one scenario's table (times in microseconds; None: no value).

    ``runs`` counts the seeds that ran; ``measured`` those whose unavailability could be
    measured (the fault was applied). ``first_failure`` is the lowest failing seed's run.
    """

    protocol: str
    runs: int
    measured: int
    unavailable_p50_us: int | None
    unavailable_p99_us: int | None
    unavailable_max_us: int | None
    write_p50_us: int | None
    write_p99_us: int | None
    acked_writes: int
    messages: int
    elections: int
    violations: int
    unknown: int
    errors: int
    first_failure: ScenarioRun | None
    note: str | None

    @property
    def messages_per_write(self) -> float | None:
        return self.messages / self.acked_writes if self.acked_writes else None

    @property
    def elections_per_run(self) -> float | None:
        ran = self.runs - self.errors  # a run that raised counted no elections
        return self.elections / ran if ran else None

    def to_json(self, scenario: str) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        first = self.first_failure
        d["first_failure"] = None if first is None else {
            "seed": first.seed, "verdict": first.verdict, "property": first.prop,
            "message": first.message,
            "command": compare_command(scenario, self.protocol, first.seed),
        }
        d["messages_per_write"] = self.messages_per_write
        d["elections_per_run"] = self.elections_per_run
        return d


def figures(protocol: str, runs: Sequence[ScenarioRun]) -> ProtocolFigures:
    """Sum up one protocol's runs of one scenario (in seed order)."""
    runs = sorted(runs, key=lambda r: r.seed)
    unavailable = [r.unavailable_us for r in runs if r.unavailable_us is not None]
    # a run that raised has no figures: its seed counts in ``runs`` and ``errors`` only
    latencies = [x for r in runs for x in r.write_latencies_us]
    failing = [r for r in runs if r.verdict in ("violation", "error")]
    notes = sorted({r.note for r in runs if r.note})
    return ProtocolFigures(
        protocol=protocol, runs=len(runs), measured=len(unavailable),
        unavailable_p50_us=percentile(unavailable, 0.5),
        unavailable_p99_us=percentile(unavailable, 0.99),
        unavailable_max_us=max(unavailable, default=None),
        write_p50_us=percentile(latencies, 0.5), write_p99_us=percentile(latencies, 0.99),
        acked_writes=sum(r.acked_writes for r in runs), messages=sum(r.messages for r in runs),
        elections=sum(r.elections for r in runs),
        violations=sum(r.verdict == "violation" for r in runs),
        unknown=sum(r.verdict == "unknown" for r in runs),
        errors=sum(r.verdict == "error" for r in runs),
        first_failure=failing[0] if failing else None,
        note="; ".join(notes) or None,
    )


@attrs.frozen(kw_only=True)
class ScenarioTable:
    """One scenario: its rows in the order the protocols were asked for. ``complete`` is
    False for a scenario cut short by Ctrl-C (its rows hold the seeds that finished)."""

    scenario: str
    seeds: range
    rows: tuple[ProtocolFigures, ...]
    complete: bool = True

    @property
    def failed(self) -> bool:
        return any(r.violations or r.errors for r in self.rows)

    @property
    def undecided(self) -> bool:
        return any(r.unknown for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "schedule": SCENARIOS[self.scenario],
            "seeds": f"{self.seeds.start}:{self.seeds.stop}", "complete": self.complete,
            "window_us": WINDOW_US,
            "protocols": [r.to_json(self.scenario) for r in self.rows],
        }


def _s(us: int | None) -> str:
    return "-" if us is None else f"{us / 1e6:.3f}s"


def _ms(us: int | None) -> str:
    return "-" if us is None else f"{us / 1e3:.1f}ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(table: ScenarioTable) -> str:
    """The scenario's table as text (deterministic: no wall time, exact percentiles)."""
    seeds = f"{table.seeds.start}:{table.seeds.stop}"
    lines = [f"scenario {table.scenario} (seeds {seeds}): {SCENARIOS[table.scenario]}"]
    if not table.complete:
        lines.append("  interrupted: the rows hold the seeds that finished")
    head = ("protocol", "runs", "unavail p50", "p99", "max", "write p50", "p99",
            "msgs/write", "elections/run", "violations", "unknown")
    rows = [head]
    for r in table.rows:
        rows.append((
            r.protocol, str(r.runs), _s(r.unavailable_p50_us), _s(r.unavailable_p99_us),
            _s(r.unavailable_max_us), _ms(r.write_p50_us), _ms(r.write_p99_us),
            _num(r.messages_per_write), _num(r.elections_per_run),
            str(r.violations + r.errors), str(r.unknown),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                          strict=True)]
        lines.append("  " + "  ".join(cells).rstrip())
    for r in table.rows:
        if r.measured < r.runs - r.errors:
            lines.append(f"  {r.protocol}: unavailability measured in {r.measured} of "
                         f"{r.runs - r.errors} runs that did not raise (the others ended "
                         f"before the fault)")
        first = r.first_failure
        if first is not None:
            what = first.prop if first.verdict == "violation" else "error"
            message = first.message or ""  # checks start theirs with the property's name
            if not message.startswith(f"{what}:"):
                message = f"{what}: {message}"
            lines.append(f"  {r.protocol}: first failure seed {first.seed}: {message}")
            lines.append(f"    repeat: {compare_command(table.scenario, r.protocol, first.seed)}")
        if r.errors:
            lines.append(f"  {r.protocol}: {r.errors} run(s) raised (counted as violations)")
        if r.note:
            lines.append(f"  {r.protocol}: note: {r.note}")
    return "\n".join(lines)


def _jobs_stream(
    work: Sequence[tuple[str, str, int]], run: RunScenario, jobs: int
) -> Generator[ScenarioRun, None, None]:
    """The runs of ``work`` (protocol, scenario, seed), in this process or ``jobs`` workers,
    in the order they finish."""
    if jobs == 1 or len(work) <= 1:
        for item in work:
            yield run(*item)
        return
    yield from pooled(run, work, jobs)


def compare(
    scenarios: Sequence[str],
    protocols: Sequence[str],
    seeds: range,
    *,
    jobs: int | None = 1,
    run: RunScenario = run_scenario,
    on_table: Callable[[ScenarioTable], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ScenarioTable], bool]:
    """Run every scenario on every protocol for every seed; return the tables and whether
    it was interrupted (Ctrl-C: the tables so far, the current one marked incomplete).

    ``on_table`` is called with each finished table (to print it at once); ``progress``
    with (runs done, runs in all) after each run. ``jobs``: workers (None: the cores),
    capped by `harness.failures.sweep.useful_jobs`.
    """
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    total = len(scenarios) * len(protocols) * len(seeds)
    done = 0
    tables: list[ScenarioTable] = []
    for scenario in scenarios:
        work = [(p, scenario, seed) for p in protocols for seed in seeds]
        got: list[ScenarioRun] = []
        stream = _jobs_stream(work, run, useful_jobs(jobs, len(work)))
        interrupted = False
        try:
            for result in stream:
                got.append(result)
                done += 1
                if progress is not None:
                    progress(done, total)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stream.close()
        rows = tuple(figures(p, [r for r in got if r.protocol == p]) for p in protocols)
        table = ScenarioTable(scenario=scenario, seeds=seeds, rows=rows,
                              complete=not interrupted)
        tables.append(table)
        if on_table is not None:
            on_table(table)
        if interrupted:
            return tables, True
    return tables, False
