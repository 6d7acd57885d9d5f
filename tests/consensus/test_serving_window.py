"""`Replica.serving_window_us` is exactly the set of local times at which `is_serving` holds
(the exact S6 check relies on it)."""

from __future__ import annotations

from typing import Any

from harness.sim import Simulation, run
from harness.sim.runspec import RunOptions


def test_serving_window_agrees_with_is_serving_at_and_around_its_ends() -> None:
    checked = [0, 0]

    def listen(node: int, replica: Any, event: Any, effects: list[Any], local: int) -> None:
        window = replica.serving_window_us()
        probes = [local, local + 1, local + 10_000, local + 2_000_000]
        if window is not None:
            probes += [window[0] - 1, window[0], window[1] - 1, window[1]]
            checked[0] += 1
        for t in probes:
            inside = window is not None and window[0] <= t < window[1]
            assert replica.is_serving(t) == inside, (node, t, window)
        checked[1] += 1

    def prepare(sim: Simulation) -> None:
        sim.add_step_listener(listen)

    result = run(RunOptions(seed=5, ops=200), keep_trace=False, prepare=prepare)
    assert result.verdict == "ok", result.violation
    assert checked[0] > 50 and checked[1] > checked[0]
