"""Handing the one running turn between trio tasks (see `harness.sim`).

The loop (`Simulation._advance`) is run by whichever task is about to block: a client that
parks (awaits its next answer or pause) or ends runs it until one waiter is woken, hands over
to that task (no switch at all if it woke itself) and parks. So exactly one task is runnable
at any time and trio's scheduler never decides an order; one trio switch per client wakeup,
none per message. While clients are being started, a parking task wakes the main task
instead. trio's ``MockClock`` is moved to true time at every hand-over.
"""

from __future__ import annotations

from typing import Any

import trio

from consensus.events import ClientRead, ClientWrite
from harness.runtime.host import ClientOutcome
from harness.sim.determinism import MockClock
from harness.sim.queue import DELIVER, OVER, SPAWNED, WAKE, Pending


def abort(raise_cancel: Any) -> trio.lowlevel.Abort:
    """A parked task may be cancelled (the run is over); nothing to undo."""
    return trio.lowlevel.Abort.SUCCEEDED


class Turns:
    """The client side of the simulator: requests and sleeps that park, and the hand-over.

    A mixin of `harness.sim.Simulation`, which provides the queue and the loop.
    """

    now: int
    pending: dict[int, Pending]
    _woken: Pending | None  # set by the loop's handlers: whom to wake
    _starting: bool  # clients are being started: a parking task wakes main
    _over: bool
    _main_task: trio.lowlevel.Task | None
    _trio_now_us: int
    _clock: MockClock | None

    def _push(self, at_us: int, kind: int, a: Any, b: Any) -> None:
        raise NotImplementedError

    def _client_delay(self) -> int:
        raise NotImplementedError

    def _advance(self) -> Pending:
        raise NotImplementedError

    # -- the ClusterAPI for client tasks -------------------------------------------------------

    async def request(
        self, node: int, event: ClientWrite | ClientRead, timeout_us: int
    ) -> ClientOutcome:
        p = Pending(event.client_id, event.request_id, node)
        self.pending[event.client_id] = p
        self._push(self.now + self._client_delay(), DELIVER, node, event)
        self._push(self.now + timeout_us, WAKE, p, None)
        await self._park(p)
        return p.outcome

    async def sleep(self, delay_us: int) -> None:
        p = Pending()
        self._push(self.now + delay_us, WAKE, p, None)
        await self._park(p)

    def _resolve(self, p: Pending, outcome: ClientOutcome) -> None:
        if not p.done:
            p.done = True
            p.outcome = outcome
            self._woken = p

    # -- handing the one running turn between tasks --------------------------------------------

    async def _park(self, p: Pending) -> None:
        """Block the current task until ``p`` is resolved, running the loop meanwhile."""
        p.task = trio.lowlevel.current_task()
        if self._starting:
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
        else:
            nxt = self._advance()
            self._hand_over(nxt)
            if nxt is p:
                return  # woke itself: no switch
        await trio.lowlevel.wait_task_rescheduled(abort)

    def _hand_over(self, nxt: Pending) -> None:
        """Make the task `_advance` chose runnable (the caller then parks or ends)."""
        if nxt is OVER:
            self._over = True
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
            return
        assert self._clock is not None
        self._clock.jump((self.now - self._trio_now_us) / 1e6)  # trio's clock shows true time
        self._trio_now_us = self.now
        if nxt is not SPAWNED and nxt.task is not trio.lowlevel.current_task():
            assert nxt.task is not None
            trio.lowlevel.reschedule(nxt.task)

    def _ended(self) -> None:
        """The current task ends: pass the turn on (to main while clients are starting)."""
        if self._starting:
            assert self._main_task is not None
            trio.lowlevel.reschedule(self._main_task)
        elif not self._over:
            self._hand_over(self._advance())


class Clients:
    """What client tasks see of the simulator: the storage nodes, the log replicas (a read
    sent there must be refused), time, requests, sleep."""

    def __init__(
        self, sim: Any, members: tuple[int, ...], log_nodes: tuple[int, ...] = ()
    ) -> None:
        self.members = members
        self.log_nodes = log_nodes
        self.now_us = sim.now_us
        self.request = sim.request
        self.sleep = sim.sleep
