"""The run's fingerprint: blake2b over the ordered event trace, one line per step.

A line is ``"{step} {true_us} n{node} {event!r} -> {effects}"`` where effects are short
summaries (`summarize`). Every part is built from ints, bytes and the deterministic ``repr``
of frozen events and messages: no object ids, no set order, no wall time, so the fingerprint
is the same for the same run on any machine and under any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead, SetTimer
from harness.invariants import OnlineInvariants
from harness.runspec import Violation

log = logging.getLogger(__name__)


def summarize(effects: Sequence[Any]) -> str:
    """Return a compact, deterministic summary of a step's effects (message bodies omitted:
    the receiving step's line shows them)."""
    parts: list[str] = []
    for e in effects:
        kind = type(e)
        if kind is Send:
            parts.append(f"send>{e.dst}")
        elif kind is Persist:
            parts.append(f"persist{len(e.records)}{'!' if e.checkpoint else ''}")
        elif kind is Apply:
            parts.append(f"apply{e.slot}")
        elif kind is SetTimer:
            parts.append(f"timer@{e.at_us}")
        elif kind is Reply:
            what = e.slot if e.slot is not None else e.error
            parts.append(f"reply{e.client_id}.{e.request_id}:{what}")
        elif kind is ServeRead:
            parts.append(f"read{e.client_id}.{e.request_id}{'s' if e.strong else 'e'}")
        elif kind is InstallSnapshot:
            parts.append(f"snapshot{e.slot}")
        else:
            parts.append(repr(e))
    return " ".join(parts)


class Trace:
    """Accumulates the fingerprint; keeps the lines themselves only if asked.

    Args:
        keep: keep the lines (`lines`) as well as hashing them.
        until: keep only lines of steps <= until (None: all); hashing covers every line.
    """

    def __init__(self, *, keep: bool = True, until: int | None = None) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.keep = keep
        self.until = until
        self.lines: list[str] = []
        self.steps = 0

    def add(self, line: str) -> int:
        """Append one line (numbered by the trace); returns its step number."""
        self.steps += 1
        text = f"{self.steps} {line}"
        self._hash.update(f"{text}\n".encode())
        if self.keep and (self.until is None or self.steps <= self.until):
            self.lines.append(text)
        return self.steps

    def fingerprint(self) -> str:
        """Hex digest of every line so far."""
        return self._hash.hexdigest()


class SimView(Protocol):
    """What the observer reads from the simulator."""

    members: tuple[int, ...]

    def now_us(self) -> int: ...

    def local_now(self, node: int) -> int: ...


class Observer:
    """Sees every replica step and fault: writes the trace, checks online invariants
    (`harness.invariants`), tracks leaders for the timeline, keeps the first violation.

    Args:
        view: the simulator (true time, local clocks).
        trace: where lines go.
        invariants: run the online invariants (False for stand-in replicas in tests).
    """

    def __init__(self, view: SimView, trace: Trace, *, invariants: bool = True) -> None:
        self.view = view
        self.trace = trace
        self.invariants = OnlineInvariants(view.members) if invariants else None
        self.replicas: dict[int, Any] = dict.fromkeys(view.members)
        self.roles: dict[int, str] = dict.fromkeys(view.members, "follower")
        self.serving: dict[int, bool] = dict.fromkeys(view.members, False)
        self.timeline: list[dict[str, Any]] = []
        self.violation: Violation | None = None

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

    def observe(self, node: int, replica: Any, event: Any, effects: list[Any]) -> None:
        """After each replica step (`harness.host.StepObserver`)."""
        now = self.view.now_us()
        step = self.trace.add(f"{now} n{node} {event!r} -> {summarize(effects)}")
        self.replicas[node] = replica
        local = self.view.local_now(node)
        role = replica.role.value
        if role != self.roles[node]:
            if role == "leader":
                self._leader_event(node, replica, "elected")
            elif self.roles[node] == "leader":
                self._leader_event(node, replica, "stepped-down")
            self.roles[node] = role
            self.serving[node] = False
        if role == "leader" and not self.serving[node] and replica.is_serving(local):
            self.serving[node] = True
            self._leader_event(node, replica, "serving")
        inv = self.invariants
        if inv is not None and self.violation is None:
            self.found(inv.on_step(node, replica, event, effects, now, local, step))
            if self.violation is None:
                locals_ = {n: self.view.local_now(n) for n in self.view.members}
                self.found(inv.check_global(self.replicas, locals_, now, step))

    def _leader_event(self, node: int, replica: Any, what: str) -> None:
        self.timeline.append(
            {
                "time_us": self.view.now_us(),
                "kind": "leader",
                "node": node,
                "ballot": repr(replica.leader_ballot),
                "event": what,
            }
        )

    def recovered(self, node: int, replica: Any) -> None:
        """A node restarted with ``replica`` (before its first Tick)."""
        self.replicas[node] = replica
        self.roles[node] = "follower"
        self.serving[node] = False
        if self.invariants is not None:
            self.found(
                self.invariants.on_recover(node, replica, self.view.now_us(), self.trace.steps)
            )

    def down(self, node: int) -> None:
        """A node crashed or failed: it has no replica until it recovers."""
        if self.roles[node] == "leader" and self.replicas[node] is not None:
            self._leader_event(node, self.replicas[node], "stepped-down")
        self.replicas[node] = None
        self.roles[node] = "follower"

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
                key = (replica.leader_ballot, node)
                if best is None or key > best:
                    best = key
        return None if best is None else best[1]
