"""Online invariants for membership changes and log replicas: S12 and S13.

- S12 configuration changes keep quorums intersecting: the configurations chosen one after
  the other (read from each replica's committed configuration and the slot of its entry) have
  intersecting quorums, no two replicas see different configurations chosen at one slot, and
  each configuration a leader appended after its commit index intersects the one before it;
  those are the configurations that can be in use at the same time. (A follower may hold a later
  configuration entry with a gap before it; it does not use it to decide anything.)
- S13 log replicas never lead or serve reads: a log replica is never candidate or leader,
  never emits ServeRead, Apply or InstallSnapshot, and never acknowledges a write.

Replicas without membership support (no ``committed_membership``) are skipped, so the checker
can watch any run. Like `harness.checks.invariants`, it reads replicas and effects, never
writes them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Any

from consensus.effects import Apply, InstallSnapshot, Reply, ServeRead
from consensus.quorum import Membership, quorums_intersect
from harness.checks.violation import Violation

_SERVING = (ServeRead, Apply, InstallSnapshot)


class MembershipInvariants:
    """Watches every step of one run for S12 and S13 (see the module docstring)."""

    def __init__(self) -> None:
        self._chain: dict[int, Membership] = {}  # config slot -> configuration chosen there
        self._slots: list[int] = []  # sorted keys of _chain
        # node -> runs as a log replica (static; a node not yet stepped is missing). Callers
        # may skip `on_step` for a node known not to be one whose membership_changed is False.
        self.log_kind: dict[int, bool] = {}

    def fork(self) -> MembershipInvariants:
        """An independent copy (the explorer forks the checker with each state)."""
        other = MembershipInvariants()
        other._chain = dict(self._chain)
        other._slots = list(self._slots)
        other.log_kind = dict(self.log_kind)
        return other

    def history(self) -> tuple[tuple[int, Membership], ...]:
        """The configurations chosen so far, by slot: what future checks depend on."""
        return tuple(sorted(self._chain.items()))

    def on_step(
        self,
        node_id: int,
        replica: Any,
        effects: Sequence[object],
        true_us: int,
        step: int,
    ) -> Violation | None:
        """Check one node's step after the host performed ``effects``; the first violation."""
        is_log = self.log_kind.get(node_id)
        if is_log is None:
            config = getattr(replica, "config", None)
            is_log = self.log_kind[node_id] = bool(getattr(config, "is_log_replica", False))
        if is_log:
            v = self._check_log_replica(node_id, replica, effects, true_us, step)
            if v is not None:
                return v
        if not getattr(replica, "membership_changed", False):
            return None  # the initial configuration: nothing to compare (the fast path)
        return self._check_configs(node_id, replica, replica.committed_membership, true_us,
                                   step)

    def _check_log_replica(self, node_id: int, replica: Any, effects: Sequence[object],
                           true_us: int, step: int) -> Violation | None:
        role = getattr(replica.role, "value", replica.role)
        what = None
        if role != "follower":
            what = f"is {role}"
        else:
            for e in effects:
                if isinstance(e, _SERVING):
                    what = f"emitted {type(e).__name__}"
                elif isinstance(e, Reply) and e.slot is not None:
                    what = f"acknowledged a write at slot={e.slot}"
                if what is not None:
                    break
        if what is None:
            return None
        return Violation(property="S13", message=f"S13: log replica {node_id} {what}",
                         time_us=true_us, step=step, node=node_id)

    def _check_configs(self, node_id: int, replica: Any, committed: Membership, true_us: int,
                       step: int) -> Violation | None:
        def violation(message: str, slot: int | None = None) -> Violation:
            return Violation(property="S12", message=f"S12: {message}", time_us=true_us,
                             step=step, node=node_id, slot=slot)

        role = getattr(replica.role, "value", replica.role)
        if role == "leader" and replica.membership != committed:
            # a leader's log above its commit index has no gaps: each configuration there may
            # be in use, so each must intersect the one before it
            chain: list[Membership] = replica.pending_memberships()
            for older, newer in itertools.pairwise(chain):
                if not quorums_intersect(older, newer):
                    return violation(f"leader {node_id} appended {newer} after {older}: "
                                     f"quorums need not intersect")
        slot: int = replica.committed_config_slot
        if slot == 0:
            return None
        known = self._chain.get(slot)
        if known is not None:
            if known != committed:
                return violation(f"two configurations chosen at slot {slot}: {known} and "
                                 f"{committed}", slot)
            return None
        self._chain[slot] = committed
        i = bisect.bisect_left(self._slots, slot)
        self._slots.insert(i, slot)
        before = self._chain[self._slots[i - 1]] if i > 0 else replica.config.initial
        after = self._chain[self._slots[i + 1]] if i + 1 < len(self._slots) else None
        for a, b in ((before, committed), (committed, after)):
            if b is not None and not quorums_intersect(a, b):
                return violation(f"configuration {b} chosen after {a}: quorums need not "
                                 f"intersect", slot)
        return None
