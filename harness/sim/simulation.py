"""`Simulation`: one run's phases, the loop over the event queue, and convergence.

The loop (`Simulation._advance`) pops the earliest event and handles it synchronously: a
message delivery or a timer is a plain call of `Host.step` on one node, no trio switch;
client tasks await what the loop hands them (`harness.sim.turns`). The phases: the fault
phase (clients issue ``options.ops`` operations while the nemesis injects faults), the
liveness phase (everything healed, restarted, resumed; within a deadline derived from the
work left, `harness.sim.deadline`, the group must converge, see `Simulation.not_converged`),
the final reads, done.
"""

from __future__ import annotations

import heapq

import trio

from consensus.events import Receive
from consensus.quorum import Membership
from harness.checks.shared import serves_at
from harness.checks.violation import Violation
from harness.runtime.chooser import Chooser
from harness.runtime.host import TIMEOUT, Backend, GroupSpec
from harness.sim.cluster import Cluster
from harness.sim.deadline import LivenessBound, liveness_bound
from harness.sim.determinism import MockClock
from harness.sim.options import SimOptions
from harness.sim.queue import (
    ANSWER,
    CHECK,
    DELIVER,
    NEMESIS,
    NEMESIS_END,
    OVER,
    SPAWNED,
    START,
    TICK,
    TIMER,
    WAKE,
    Pending,
)
from harness.sim.runspec import RunOptions
from harness.sim.trace import Trace
from harness.sim.turns import Clients, Turns, abort
from storage.errors import SimulatedCrash, StorageError

_FAULT, _LIVENESS, _FINAL, _DONE = range(4)
_PHASES = ("fault", "liveness", "final-reads", "done")


class Simulation(Cluster, Turns):
    """One run: the world (`Cluster`), the client hand-over (`Turns`), phases and the loop."""

    def __init__(
        self,
        options: RunOptions,
        chooser: Chooser,
        *,
        backend: Backend,
        sim_options: SimOptions,
        trace: Trace,
    ) -> None:
        super().__init__(options, chooser, backend=backend, sim_options=sim_options, trace=trace)
        group = self.group
        self.pending: dict[int, Pending] = {}
        self.clients = Clients(
            self,
            tuple(sorted(group.members + group.spares + group.outside)),
            tuple(sorted(group.log_members + group.log_spares)),
        )
        self.phase = _FAULT
        self.active_clients = 0
        self.final_done = False
        self.liveness_deadline = 0
        self.liveness_allowed: LivenessBound | None = None
        self._woken = None
        self._converged: list[int] = []  # the storage replicas found converged
        self._starting = True
        self._over = False
        self._main_task = None
        self._trio_now_us = 0
        self._clock = None
        self._nursery: trio.Nursery | None = None
        self.undecided: list[str] = []  # checks that could not decide (see `final_check`)
        self.probe_counts: dict[str, int] = {}  # `consensus.probes` of this run (after it)

    # -- phases -------------------------------------------------------------------------------

    async def _client(self, process: int) -> None:
        try:
            await self.workload.client(self.clients, process)
        finally:
            self.active_clients -= 1
        self._ended()

    async def _final(self) -> None:
        await self.workload.final_reads(self.clients, self.options.clients)
        self.final_done = True
        self._ended()

    def _begin_liveness(self) -> None:
        self.phase = _LIVENESS
        self.checks.fault("liveness", [], "fault phase over: heal, restart, resume")
        self.nemesis.stop(self)
        self.liveness_allowed = liveness_bound(self)
        self.liveness_deadline = self.now + self.liveness_allowed.total_us
        self._push(self.now + self.so.liveness_check_us, CHECK, None, None)

    def _check_liveness(self) -> None:
        if self.phase != _LIVENESS:
            return
        why = self.not_converged()
        if why is None:
            self.phase = _FINAL
            assert self._nursery is not None
            self._nursery.start_soon(self._final)
            self._woken = SPAWNED
        elif self.now >= self.liveness_deadline:
            assert self.liveness_allowed is not None
            bound = self.liveness_allowed.describe()
            self.checks.violate("liveness", f"not converged {bound} after healing: {why}")
        else:
            self._push(self.now + self.so.liveness_check_us, CHECK, None, None)

    def not_converged(self) -> str | None:
        """Why the live replicas have not converged (None: they have).

        Converged: some replica serves under a lease, and every live storage replica of its
        committed configuration has applied its commit index, with the same KV checksum. In a
        group with spares, the leader has also healed as far as its spares allow (`_healed`).
        In a group whose membership the nemesis changes (outside nodes), the replicas that
        must have converged are the live voters and learners of the serving leader's
        configuration in force: a node outside it (never added, or removed) is owed nothing.

        Replicas that applied the same slots but hold different state are no liveness
        problem but a safety violation: it is recorded (`_check_final_states`) and the run
        stops.
        """
        up = [n for n in self.members if self.status[n] == "up"]
        leaders = [n for n in up if serves_at(self.hosts[n].replica, self.local_now(n))]
        if not leaders:
            return f"no serving leader among live nodes {up}"
        leader = self.hosts[leaders[0]].replica
        target = leader.commit_index
        group = self.group
        live = [n for n in up if n not in group.log_members]
        if group.log_spares or group.spares:
            committed = leader.committed_membership
            if not _healed(committed, group, self.status):
                return f"group not healed: committed configuration {committed}"
            live = [n for n in committed.storage if self.status[n] == "up"]
        if group.outside:
            config = set(leader.members) | set(leader.learners)
            live = [n for n in live if n in config]
        for n in live:
            kv = self.hosts[n].kv
            assert kv is not None
            if kv.applied_lsn < target:
                return f"node {n} applied {kv.applied_lsn} < commit index {target}"
        self._converged = live
        if self._check_final_states(live):
            return "safety violation in the final states"
        applied = {n: self.hosts[n].kv.applied_lsn for n in live}  # type: ignore[union-attr]
        if len(set(applied.values())) > 1:
            return f"replicas applied different slots: {applied}"
        return None

    def _check_final_states(self, nodes: list[int], acknowledged: bool = True) -> bool:
        """Safety of the replicas' final state machines; True if a violation was recorded.

        With the online invariants: each node's state equals the chosen log's at its applied
        slot (`OnlineInvariants.on_final_state`: S10, or S4 if it applied unchosen slots) and,
        with ``acknowledged``, it applied every acknowledged write (S10). Without them
        (stand-in replicas): nodes that applied the same slots must hold the same state (S2).
        """
        checks = self.checks
        if checks.violation is not None:
            return True
        inv = checks.invariants
        states = {n: self.hosts[n].kv for n in nodes}
        if inv is not None:
            for n, kv in states.items():
                assert kv is not None
                checks.found(inv.on_final_state(n, kv.applied_lsn, kv.checksum(), self.now,
                                                self.trace.steps))
                if checks.violation is None and acknowledged:
                    checks.found(inv.on_final_acknowledged(n, kv.applied_lsn, self.now,
                                                           self.trace.steps))
                if checks.violation is not None:
                    return True
        by_slot: dict[int, dict[int, str]] = {}
        for n, kv in states.items():
            assert kv is not None
            by_slot.setdefault(kv.applied_lsn, {})[n] = kv.checksum()
        for slot, sums in sorted(by_slot.items()):
            if len(set(sums.values())) > 1:
                checks.violate("S2", f"S2: replicas applied up to slot {slot} but hold "
                               f"different state: checksums {sums}", slot=slot)
                return True
        return False

    def final_check(self) -> Violation | None:
        """After the run: the final reads done (liveness), the history linearizable (S8).

        A check that could not decide (a budget ran out) adds its reason to ``undecided``:
        no violation was found, but the run did not pass either.
        """
        checks = self.checks
        checks.finish()
        if checks.violation is None and self.phase != _DONE:
            checks.violate("liveness", f"run ended early: phase={_PHASES[self.phase]}")
        # The group converged before the final reads; its state must still be the chosen log's
        # and, if it is still converged, hold every acknowledged write (`not_converged` checks
        # both when it finds it converged). A message held by the network may reach the leader
        # after convergence (a late copy of a finished client's write, proposed and
        # acknowledged again): a follower that has not learnt that commit yet only lags. What
        # it held at convergence was checked then, against every write acknowledged by then.
        if (
            checks.violation is None
            and self.phase == _DONE
            and self.not_converged() is not None
        ):
            self._check_final_states([n for n in self._converged if self.status[n] == "up"],
                                     acknowledged=False)
        inv = checks.invariants
        if checks.violation is None and inv is not None:
            checks.found(self.workload.check_refused(inv.log.chosen, self.now, self.trace.steps))
        if checks.violation is None and self.workload.final_failed:
            key = self.workload.final_failed[0]
            checks.violate("liveness", f"final strong read failed: key={key}", key=key)
        if checks.violation is None and self.so.check_history:
            violation, undecided = self.workload.check_linearizable(
                self.now, self.trace.steps, timeout_s=self.so.linearizability_timeout_s
            )
            checks.found(violation)
            if undecided is not None:
                self.undecided.append(undecided)
        return checks.violation

    async def main(self) -> None:
        """The trio entry point: start nodes and clients, run the loop, wait for the end."""
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, MockClock)
        self._clock = clock
        self._main_task = trio.lowlevel.current_task()
        for n in self.group.running:
            self.restart(n)
        if self.nemesis.options.faults or self.nemesis.options.schedule:
            self._push(self.nemesis.options.tick_interval_us, NEMESIS, None, None)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.active_clients = self.options.clients
            for i in range(self.options.clients):  # one at a time: each runs until it parks
                nursery.start_soon(self._client, i)
                await trio.lowlevel.wait_task_rescheduled(abort)
            self._starting = False
            nxt = self._advance()
            if nxt is not OVER:
                self._hand_over(nxt)
                await trio.lowlevel.wait_task_rescheduled(abort)  # until the run is over
            self._over = True
            nursery.cancel_scope.cancel()

    def _advance(self) -> Pending:
        """Run the queue until a waiter is woken (returned), a task started (`SPAWNED`) or
        the run is over (`OVER`: a violation, the final reads done, or nothing left).

        The per-event work is inlined (this loop runs once per message, timer and answer):
        deliveries and timers step a node in place; only rarer events call out. Only the
        client and liveness events can wake a waiter (`_resolve`, `_check_liveness`).
        """
        checks = self.checks
        # What the last wakeup changed: clients may have ended, the final reads finished.
        if self.phase == _FAULT and self.active_clients == 0:
            self._begin_liveness()
        elif self.phase == _FINAL and self.final_done:
            self.phase = _DONE
        self._after_event()
        if self.phase == _DONE:  # no event handled below changes the phase to done
            return OVER
        heap = self.heap
        pop = heapq.heappop
        status = self.status
        hosts = self.hosts
        clocks = self.clocks
        timer_gen = self.timer_gen
        timer_at = self.timer_at
        pending = self.pending
        workload = self.workload
        trace = self.trace
        fault_phase_max_us = self.so.fault_phase_max_us
        max_steps = self.so.max_steps
        while heap and checks.violation is None:
            at, _, kind, a, b = pop(heap)
            self.now = at
            if kind == DELIVER:
                st = status[a]
                if st == "up":
                    if type(b) is Receive:
                        self.delivered += 1
                    try:
                        hosts[a].step(b, clocks[a].local_at(at))
                    except StorageError as exc:
                        self._fail_stop(a, exc)
                    except SimulatedCrash as exc:
                        self._crashed_at(a, exc)
                elif st == "paused":
                    self.held[a].append((kind, a, b))
            elif kind == TIMER:
                st = status[a]
                if st == "up":
                    if b == timer_gen[a]:
                        due = timer_at[a]
                        local = clocks[a].local_at(at)
                        if due is not None and local < due:
                            self.set_timer(a, due)  # the clock slowed since the timer was set
                        else:
                            timer_at[a] = None
                            try:
                                hosts[a].step(TICK, local)
                            except StorageError as exc:
                                self._fail_stop(a, exc)
                            except SimulatedCrash as exc:
                                self._crashed_at(a, exc)
                elif st == "paused":
                    self.held[a].append((kind, a, b))
            else:
                if kind == ANSWER:
                    p = pending.get(a)
                    request_id, node, outcome = b
                    if p is not None and p.request_id == request_id and p.node == node:
                        self._resolve(p, outcome)
                elif kind == WAKE:
                    self._resolve(a, TIMEOUT)
                elif kind == NEMESIS:
                    self.nemesis.tick(self)
                    if self.nemesis.active:
                        self._push(at + self.nemesis.options.tick_interval_us, NEMESIS, 0, 0)
                elif kind == NEMESIS_END:
                    self.nemesis.end(self, a, b)
                elif kind == START:
                    self._start_spare(a, b)
                else:
                    self._check_liveness()
                woken = self._woken
                if woken is not None:
                    self._woken = None
                    return woken  # `_after_event` runs when the woken task hands the turn back
            # `_after_event`, inlined
            if at > fault_phase_max_us and not workload.stopped:
                workload.stopped = True
            if trace.steps > max_steps:
                checks.violate("liveness", f"no end after max_steps={max_steps} steps")
        return OVER

    def _after_event(self) -> None:
        """Stop new client operations after the fault phase; end a run that takes too long."""
        if self.now > self.so.fault_phase_max_us and not self.workload.stopped:
            self.workload.stopped = True
        if self.trace.steps > self.so.max_steps:
            self.checks.violate("liveness", f"no end after max_steps={self.so.max_steps} steps")


def _healed(committed: Membership, group: GroupSpec, status: dict[int, str]) -> bool:
    """Whether a group with spares has healed as far as they allow: no node failed for good
    (``permanent``, or storage that failed recovery) is a voter while a spare could still
    take its place (a free storage spare, or, before any, a free log spare to restore the
    write quorum), and while every storage voter is up, no log spare is a voter.

    The spares are few (one of each): when the leader spends the storage spare on a node
    that only seemed dead (crashed or cut off past the failure detector) while another fails
    for good, nothing is left to replace the second one; the group then runs on with it and
    the log replica, which is all a correct leader can do.
    """
    voters = committed.voters
    dead = any(status[n] == "dead" for n in voters)
    if dead:
        free_storage = any(n not in voters and status[n] != "dead" for n in group.spares)
        log_spare_voter = any(n in group.log_spares for n in voters)
        free_log = any(n not in voters and status[n] != "dead" for n in group.log_spares)
        return not free_storage and (log_spare_voter or not free_log)
    all_up = all(status[n] == "up" for n in committed.storage)
    return not (all_up and any(n in group.log_spares for n in voters))
