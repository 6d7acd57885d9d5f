"""The simulator's view of every replica step: `Observer` writes the trace (`harness.sim.trace`),
runs the online invariants (`harness.checks.invariants`), keeps the leader timeline for reports and
the first violation of the run.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from harness.checks.lease_overlap import ClockPiece, LeaseOverlap
from harness.checks.shared import serves_at
from harness.checks.violation import Violation
from harness.runtime import protocols
from harness.runtime.ports import leadership_rank, serving_window
from harness.sim.stale_leader import StaleLeaders
from harness.sim.trace import Trace


class SimView(Protocol):
    """What the observer reads from the simulator (``now``: true time in us, as `now_us`)."""

    members: tuple[int, ...]
    now: int

    def now_us(self) -> int: ...

    def local_now(self, node: int) -> int: ...

    def clock_piece(self, node: int) -> ClockPiece: ...


class Observer:
    """Sees every replica step and fault: writes the trace, checks online invariants
    (`harness.checks.invariants`), tracks leaders for the timeline, keeps the first violation.

    S6 (at most one replica serving under a lease) is asked of the replicas only while two or
    more of them are in the leader role: a replica serves only as leader (`consensus.Replica.
    is_serving`), and a role changes only in that replica's own step, which the observer sees.
    It is also checked exactly, on intervals of true time (`harness.checks.lease_overlap`):
    after every step of a leader, its serving window and clock piece are handed over.

    Args:
        view: the simulator (true time, local clocks).
        trace: where lines go.
        invariants: run the online invariants (False for stand-in replicas in tests).
        protocol: the registered protocol whose invariants run (its own, then the shared
            ones: `harness.runtime.protocols.ProtocolSpec.make_checks`).
        stale: S19 (`harness.sim.stale_leader`), for a protocol whose leaders step down when
            cut off; None: not checked.
    """

    def __init__(
        self, view: SimView, trace: Trace, *, invariants: bool = True,
        protocol: str = protocols.DEFAULT, stale: StaleLeaders | None = None,
    ) -> None:
        self.view = view
        self.stale = stale if invariants else None
        self.trace = trace
        spec = protocols.get(protocol)
        self.invariants = spec.make_checks(view.members) if invariants else None
        self.leases = LeaseOverlap() if invariants else None
        self.replicas: dict[int, Any] = dict.fromkeys(view.members)
        self.roles: dict[int, str] = dict.fromkeys(view.members, "follower")
        self.serving: dict[int, bool] = dict.fromkeys(view.members, False)
        self.timeline: list[dict[str, Any]] = []
        self.violation: Violation | None = None
        self._role_seen: dict[int, Any] = dict.fromkeys(view.members)  # last role object
        self._leaders = 0  # nodes whose role is "leader"

    def violate(self, prop: str, message: str, **where: Any) -> None:
        """Keep ``Violation(prop, message)`` at the current time and step, if it is the first."""
        if self.violation is None:
            self.violation = Violation(
                property=prop,
                message=message,
                time_us=self.view.now_us(),
                step=self.trace.steps,
                **where,
            )
            self.trace.add(f"{self.view.now_us()} violation {prop}: {message}")

    def found(self, violation: Violation | None) -> None:
        """Keep ``violation`` (from a checker) if it is the first."""
        if violation is not None and self.violation is None:
            self.violation = violation
            self.trace.add(
                f"{self.view.now_us()} violation {violation.property}: {violation.message}"
            )

    def observe(
        self, node: int, replica: Any, event: Any, effects: list[Any], local: int
    ) -> None:
        """After each replica step at local time ``local`` (`harness.runtime.host.StepObserver`)."""
        view = self.view
        now = view.now
        step = self.trace.step(now, node, event, effects)
        self.replicas[node] = replica
        role = replica.role
        led = self.roles[node] == "leader"
        if role is not self._role_seen[node]:
            self._role_seen[node] = role
            self._set_role(node, replica, role.value)
        stale = self.stale
        if stale is not None and self.roles[node] == "leader" and self.violation is None:
            # only a leader's steps matter to S19: an election starts its span anew
            self.found(stale.on_step(node, True, getattr(event, "src", None) is not None,
                                     not led, now, step))
        if not self.serving[node] and self.roles[node] == "leader" and serves_at(replica, local):
            self.serving[node] = True
            self._leader_event(node, replica, "serving")
        inv = self.invariants
        if inv is not None and self.violation is None:
            v = inv.on_step(node, replica, event, effects, now, local, step)
            if v is not None:
                self.found(v)
            if self._leaders > 1 and self.violation is None:
                roles = self.roles
                leaders = {n: r for n, r in self.replicas.items() if roles[n] == "leader"}
                locals_ = {n: view.local_now(n) for n in leaders}
                self.found(inv.check_global(leaders, locals_, now, step))
        leases = self.leases
        if leases is not None and (self.roles[node] == "leader" or leases.is_open(node)):
            window = serving_window(replica, local) if self.roles[node] == "leader" else None
            self._lease_found(leases.update(node, now, view.clock_piece(node), window))

    def _lease_found(self, violation: Violation | None) -> None:
        if violation is not None:
            self.found(attrs.evolve(violation, step=self.trace.steps))

    def finish(self) -> None:
        """At the end of the run: compare the serving windows still open (S6)."""
        if self.leases is not None:
            self._lease_found(self.leases.finish(self.view.now_us()))

    def clock_changed(self, node: int) -> None:
        """``node``'s clock changed rate or stepped (its lease maps to true time anew)."""
        if self.leases is not None:
            now = self.view.now_us()
            self._lease_found(self.leases.clock_changed(node, now, self.view.clock_piece(node)))

    def _set_role(self, node: int, replica: Any, role: str) -> None:
        old = self.roles[node]
        if role == old:
            return
        if role == "leader":
            self._leader_event(node, replica, "elected")
            self._leaders += 1
        elif old == "leader":
            self._leader_event(node, replica, "stepped-down")
            self._leaders -= 1
        self.roles[node] = role
        self.serving[node] = False

    def _forget_role(self, node: int) -> None:
        """``node`` has no replica, or a fresh one: it counts as a follower."""
        if self.roles[node] == "leader":
            self._leaders -= 1
        self.roles[node] = "follower"
        self.serving[node] = False
        self._role_seen[node] = None

    def _leader_event(self, node: int, replica: Any, what: str) -> None:
        self.timeline.append(
            {
                "time_us": self.view.now_us(),
                "kind": "leader",
                "node": node,
                "ballot": repr(leadership_rank(replica)),
                "event": what,
            }
        )

    def recovered(self, node: int, replica: Any) -> None:
        """A node restarted with ``replica`` (before its first Tick)."""
        self.replicas[node] = replica
        self._forget_role(node)
        self.resumed(node)
        if self.invariants is not None:
            self.found(
                self.invariants.on_recover(node, replica, self.view.now_us(), self.trace.steps)
            )

    def resumed(self, node: int) -> None:
        """``node`` runs again after a pause or a restart: its timers fire late (S19)."""
        if self.stale is not None:
            self.stale.restart(node, self.view.now_us())

    def down(self, node: int) -> None:
        """A node crashed or failed: it has no replica until it recovers."""
        if self.roles[node] == "leader" and self.replicas[node] is not None:
            self._leader_event(node, self.replicas[node], "stepped-down")
        if self.leases is not None:
            self._lease_found(self.leases.down(node, self.view.now_us()))
        self.replicas[node] = None
        self._forget_role(node)

    def read_served(self, node: int, strong: bool, key: bytes, value: bytes | None) -> None:
        if self.invariants is not None:
            self.found(
                self.invariants.on_read(
                    node, strong, key, value, self.view.now_us(), self.trace.steps
                )
            )

    def note(self, node: int, text: str) -> None:
        """A trace line about ``node`` that is not a replica step (fail-stop, failed restart)."""
        self.trace.add(f"{self.view.now_us()} n{node} {text}")

    def fault(self, fault: str, nodes: list[int], detail: str) -> None:
        """A nemesis action: traced and put on the timeline."""
        self.trace.add(f"{self.view.now_us()} nemesis {fault} {nodes} {detail}")
        self.timeline.append(
            {
                "time_us": self.view.now_us(),
                "kind": "fault",
                "fault": fault,
                "nodes": list(nodes),
                "detail": detail,
            }
        )

    def leader(self) -> int | None:
        """The live replica that leads under the highest ballot, or None."""
        best: tuple[Any, int] | None = None
        for node, replica in self.replicas.items():
            if replica is not None and self.roles[node] == "leader":
                key = (leadership_rank(replica), node)
                if best is None or key > best:
                    best = key
        return None if best is None else best[1]
