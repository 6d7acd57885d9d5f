"""The deterministic simulator: one replica group, its clients and the nemesis, in one trio run.

Shape (TigerBeetle's VOPR): the simulator owns an ordered event
queue, a heap of ``(true_us, seq, kind, a, b)``. The loop (`Simulation._advance`) pops the
earliest event and handles it synchronously: a message delivery or a timer is a plain call
of `Host.step` on one node, no trio switch. Client tasks are trio tasks; they await results
the loop hands them (`queue.Pending`), and their timeouts and pauses are queue events too.

The loop is run by whichever task is about to block: a client that parks (awaits its next
answer or pause) or ends runs it until one waiter is woken, hands over to that task (no
switch at all if it woke itself) and parks. So exactly one task is runnable at any time and
trio's scheduler never decides an order; one trio switch per client wakeup, none per
message. Clients start one at a time, each running until it first parks. trio's seeded
deterministic scheduling (`harness.sim.determinism`) stays on all the same. True time is the
simulator's; trio's ``MockClock`` is moved to it at every wakeup.

A run: options drawn and logged first; then the fault phase (clients issue ``options.ops``
operations while the nemesis injects faults); then the liveness phase (everything healed,
restarted, resumed; within ``liveness_bound_us`` there must be a serving leader and every
live replica must have applied the same slots to the same state); then a strong read of
every key; then the linearizability check of the history (S8). The first violation ends the
run. `run` returns a `RunResult`; ``run(options, replay=result.choices)`` repeats it.

With the ``permanent`` fault the group also has spare nodes
(`harness.runtime.backend.GroupSpec`: a log spare and a storage spare), which run nothing
until a healing leader's ``StartReplica`` starts them; clients address storage nodes only. A
node failed for good never restarts; the liveness phase then also requires that the leader
healed the group (see `not_converged`).

Modules: `options` (`SimOptions`), `queue` (event kinds, client waits), `cluster` (the world
and its ports for hosts and the nemesis), `turns` (requests, sleeps and the hand-over of the
one running turn), `simulation` (`Simulation`: phases, the loop, convergence), `runner`
(`simulate`, `run`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.sim.options import SimOptions as SimOptions
    from harness.sim.runner import run as run
    from harness.sim.runner import simulate as simulate
    from harness.sim.simulation import Simulation as Simulation

__all__ = ["SimOptions", "Simulation", "run", "simulate"]

# The entry points load on first use, so that importing a light module of this package (the
# run options, the nemesis options) does not load the whole simulator, its storage and trio.
_LAZY = {
    "SimOptions": "harness.sim.options",
    "Simulation": "harness.sim.simulation",
    "run": "harness.sim.runner",
    "simulate": "harness.sim.runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
