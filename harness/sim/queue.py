"""What the simulator's ordered event queue holds: event kinds, and the waits of client tasks.

The queue is a heap of ``(true_us, seq, kind, a, b)``; ``seq`` (push order) breaks ties in
true time, so the order never depends on anything but the run. What ``a`` and ``b`` are
depends on ``kind``:

- `DELIVER`: node, event (a `consensus.events.Receive` or a client request);
- `TIMER`: node, timer generation (stale generations are ignored);
- `WAKE`: the `Pending` to time out, None;
- `ANSWER`: client id, (request id, node, `harness.runtime.host.ClientOutcome`);
- `NEMESIS`: the nemesis' next tick; `NEMESIS_END`: action, node (a fault's scheduled end);
- `CHECK`: the next liveness check; `START`: node, log replica? (a spare starts).
"""

from __future__ import annotations

import trio

from consensus.events import Tick
from harness.runtime.host import TIMEOUT, ClientOutcome

DELIVER, TIMER, WAKE, ANSWER, NEMESIS, NEMESIS_END, CHECK, START = range(8)
TICK = Tick()  # frozen and field-less: one instance serves every timer


class Pending:
    """A client's wait for one answer (or a pause); resolved once by the loop."""

    __slots__ = ("client_id", "done", "node", "outcome", "request_id", "task")

    def __init__(self, client_id: int = 0, request_id: int = 0, node: int = -1) -> None:
        self.client_id = client_id
        self.request_id = request_id
        self.node = node
        self.done = False
        self.outcome: ClientOutcome = TIMEOUT
        self.task: trio.lowlevel.Task | None = None


SPAWNED = Pending()  # the loop started a task: the caller parks and lets it run
OVER = Pending()  # the loop found the run over: wake the main task
