"""S6's leader half: a serving Multi-Paxos leader's lease is backed by a quorum of every
configuration its successor may use.

A leader serves reads from its own state only while no other leader can serve; a successor is
elected by a phase-1 quorum of some configuration it may use (the committed one, or one
appended after the commit index: `consensus.Replica.pending_memberships`), and that quorum
waits out the leases its members granted. So each of those configurations must have a quorum
that granted the current lease. The end-to-end S6 check catches a leader that counts the
wrong quorum only when a successor is elected in exactly the configuration it skipped, inside
the lease (two configuration changes racing across leaders); this check catches the serving
window itself.

What counts as a grant, read from the leader's steps (independently of its bookkeeping): each
`Accepted` of the leader's ballot echoes the local send time (``stamp_us``) of an `Accept`, and
the voter that sent it grants the lease from that time; the leader's own grant is counted as of
its local now (never earlier than its true own stamp, so the check may be lenient there, never
strict). For each configuration, the latest time a quorum of its voters echoed
(`consensus.quorum.quorum_time`) plus the leader's lease length (`consensus.quorum.
lease_length_us`, the drift-scaled L) bounds the serving window's end
(`serving_window_us`). Stamps are kept per leadership: a new ballot, a step down or a restart
forgets them. Replicas without ``config`` or ``serving_window_us`` (stand-ins in tests) are
skipped.
"""

from __future__ import annotations

from typing import Any

from consensus.events import Receive
from consensus.messages import Accepted
from consensus.quorum import lease_length_us, quorum_time
from harness.checks.accepts import Where
from harness.checks.violation import Violation


class LeaseBacking:
    """Per leader, the stamps its voters echoed in this leadership; see the module doc."""

    def __init__(self) -> None:
        self._stamps: dict[int, tuple[Any, dict[int, int]]] = {}  # node -> (ballot, stamps)
        # node -> (the window end last found backed, the configuration appended last then):
        # stamps only grow within a leadership, so a window ending no later under the same
        # configurations is backed too, and most leader steps need no count
        self._backed: dict[int, tuple[int, Any]] = {}

    def on_recover(self, node_id: int) -> None:
        """``node_id`` restarted: its leadership, and the stamps echoed to it, are gone."""
        self._stamps.pop(node_id, None)
        self._backed.pop(node_id, None)

    def on_step(self, node_id: int, replica: Any, event: object, local_us: int,
                where: Where) -> Violation | None:
        """Record an echoed stamp of this step, then bound the leader's serving window."""
        config = getattr(replica, "config", None)
        window_of = getattr(replica, "serving_window_us", None)
        if config is None or window_of is None or replica.role.value != "leader":
            if node_id in self._stamps:
                del self._stamps[node_id]
                self._backed.pop(node_id, None)
            return None
        ballot = replica.leader_ballot
        held = self._stamps.get(node_id)
        if held is None or held[0] != ballot:
            held = self._stamps[node_id] = (ballot, {})
            self._backed.pop(node_id, None)
        stamps = held[1]
        if isinstance(event, Receive):
            msg = event.msg
            if type(msg) is Accepted and msg.ballot == ballot and (
                    msg.stamp_us > stamps.get(event.src, -1)):
                stamps[event.src] = msg.stamp_us
        window = window_of()
        if window is None:
            return None
        newest = replica.membership
        backed = self._backed.get(node_id)
        if backed is not None and window[1] <= backed[0] and newest is backed[1]:
            return None
        timing = config.timing
        lease_us = lease_length_us(timing.lease_duration_us, timing.drift_bound_ppm)
        for members in replica.pending_memberships():
            times = [local_us if v == node_id else stamps[v]
                     for v in members.voters if v == node_id or v in stamps]
            t = quorum_time(times, members.quorum)
            if t is None or window[1] > t + lease_us:
                why = "no quorum of it echoed a stamp" if t is None else (
                    f"its quorum's grant ends at {t + lease_us}")
                return Violation(
                    property="S6",
                    message=(f"S6: leader {node_id} serves until local {window[1]}, but "
                             f"configuration {members} may elect its successor and {why}"),
                    **where.fields(),
                )
        self._backed[node_id] = (window[1], newest)
        return None
