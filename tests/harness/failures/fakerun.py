"""A tiny stand-in for `harness.sim.run` with the same contract, for sweep/shrink/replay tests.

Each "step" draws one value in [0, 8) from a real `Chooser` under the label ``fake.v``.
The run violates a property when two consecutive draws are both 7 (the run ends there):
``S1`` (with a slot) if the pair starts at an even step, else ``S8`` (with a key). A
seeded run therefore fails for roughly a third of the seeds, replaying its choice list
repeats it exactly, and shrinking it should end at ``(7, 7)``.

Module-level functions so that process pools and dask can pickle them by reference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from harness.checks.violation import Violation
from harness.runtime.chooser import Chooser
from harness.sim.runspec import RunOptions, RunResult

STEPS = 30


def fake_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """Run the fake simulation; same signature and contract as `harness.sim.run`."""
    chooser = Chooser(options.seed, replay=replay, replay_labels=replay_labels)
    trace: list[str] = []
    digest = hashlib.blake2b(digest_size=16)
    violation: Violation | None = None
    previous = -1
    for step in range(STEPS):
        value = chooser.choose("fake.v", 8)
        line = f"{step + 1} t={step * 1000}us node=0 draw={value}"
        digest.update(line.encode() + b"\n")
        if trace_until is None or step + 1 <= trace_until:  # like harness.sim.trace: keeps
            trace.append(line)  # lines up to the step, still runs (and hashes) them all
        if value == 7 and previous == 7:
            start = step - 1
            if start % 2 == 0:
                violation = Violation(
                    property="S1", message=f"slot {start}: two values chosen",
                    time_us=step * 1000, step=step + 1, node=0, slot=start,
                )
            else:
                violation = Violation(
                    property="S8", message="key k1: not linearizable",
                    time_us=step * 1000, step=step + 1, key="k1",
                )
            break
        previous = value
    history = (
        {"process": 0, "type": "invoke", "f": "put", "key": "k1", "value": "v1", "time": 0},
        {"process": 0, "type": "ok", "f": "put", "key": "k1", "value": "v1", "time": 10},
        {"process": 1, "type": "invoke", "f": "get", "key": "k1", "value": None, "time": 5},
        {"process": 1, "type": "info", "f": "get", "key": "k1", "value": None, "time": 20},
    )
    timeline = (
        {"time_us": 0, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "elected"},
        {"time_us": 3000, "kind": "fault", "fault": "crash", "nodes": [1], "detail": ""},
    )
    return RunResult(
        options=options,
        verdict="ok" if violation is None else "violation",
        violation=violation,
        ops={"ok": 1, "fail": 0, "info": 1},
        sim_time_s=(step + 1) / 1000,
        wall_time_s=0.001,
        fingerprint=digest.hexdigest(),
        steps=step + 1,
        choices=tuple(chooser.choices),
        history=history,
        trace=tuple(trace) if keep_trace else (),
        unsafe=options.unsafe_clocks,
        timeline=timeline,
        labels=tuple(chooser.labels),
    )


def failing_seeds(count: int, start: int = 0) -> list[int]:
    """Return the seeds in ``[start, start + count)`` for which `fake_run` fails."""
    return [
        seed for seed in range(start, start + count)
        if fake_run(RunOptions(seed=seed), keep_trace=False).violation is not None
    ]


def raising_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """`fake_run`, except that seeds divisible by 5 raise RuntimeError (a simulator bug)."""
    if options.seed % 5 == 0:
        raise RuntimeError(f"boom at seed {options.seed}\nsecond line")
    return fake_run(options, replay=replay, keep_trace=keep_trace, trace_until=trace_until)


def unstable_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """`fake_run` whose replays get another fingerprint (a determinism bug)."""
    import attrs

    result = fake_run(options, replay=replay, keep_trace=keep_trace, trace_until=trace_until)
    if replay is not None:
        result = attrs.evolve(result, fingerprint="0" * 32)
    return result


def undecided_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """`fake_run`, except that a seed divisible by 3 with no violation is "unknown" (as when
    the linearizability check runs out of its budget)."""
    import attrs

    result = fake_run(options, replay=replay, replay_labels=replay_labels, keep_trace=keep_trace,
                      trace_until=trace_until)
    if result.violation is None and options.seed % 3 == 0:
        result = attrs.evolve(result, verdict="unknown", unknown="S8 unknown: timeout (fake)")
    return result


def covered_run(
    options: RunOptions,
    *,
    replay: Sequence[int] | None = None,
    replay_labels: Sequence[str] | None = None,
    keep_trace: bool = True,
    trace_until: int | None = None,
) -> RunResult:
    """`fake_run` that reports coverage (``leader_changes`` = seed, one ``halves`` partition)
    and probes (``compaction`` on even seeds, ``acceptor.nack`` on seed 3)."""
    import attrs

    result = fake_run(options, replay=replay, replay_labels=replay_labels, keep_trace=keep_trace,
                      trace_until=trace_until)
    seed = options.seed
    probes = {"compaction": 1 if seed % 2 == 0 else 0, "acceptor.nack": 1 if seed == 3 else 0}
    coverage = {"leader_changes": seed, "partitions": {"halves": 1, "ring": 0}}
    return attrs.evolve(result, coverage=coverage, probes=probes)
def slow_fake_run(options: RunOptions, **kwargs: Any) -> RunResult:
    """`fake_run` taking 200 ms a run: long enough for a test to interrupt a real process."""
    import time

    time.sleep(0.2)
    return fake_run(options, **kwargs)
