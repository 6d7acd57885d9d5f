"""S6's acceptor half: a phase-1 reply never under-reports a lease the acceptor granted.

A new Multi-Paxos leader serves only after waiting out the longest lease its phase-1 quorum
reports (``Promise.lease_remaining_us``). S6 (one serving leader at a time) therefore rests on
each acceptor reporting, to the leader of ballot ``b``, how long every lease it granted to
*another* ballot may still run. The end-to-end S6 check catches an under-report only when a
third leader happens to start serving inside the forgotten lease, a narrow window; this check
catches it at the Promise that carries it.

What counts as a grant, read from the acceptor's steps (independently of its bookkeeping):

- an `Accept` of ballot ``b`` it received and acknowledged (an `Accepted` of ``b`` back to the
  sender in the same step) grants the leader of ``b`` a lease of L from the acceptor's local
  now (an Accept it refused, ignored or could not acknowledge counts as no grant: this check
  may miss a grant, never invent one);
- an `Accept` of ballot ``b`` a node sends as the leader of ``b`` (``b.node`` is itself)
  grants its own acceptor the same;
- a `Release(b)` it received or sent ends the grant to ``b`` at its local now (the leader of
  ``b`` gave its lease up, and tells its peers so);
- a restart forgets the node's grants here: the recovered acceptor assumes a full lease from
  its restart, which the end-to-end S6 checks and the explorer hold it to.

Times are the acceptor's own local clock (a grant and a report are read on the same clock, so
clock rates do not matter). Replicas without ``config.timing`` are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from consensus.effects import Send
from consensus.events import Receive
from consensus.messages import Accept, Accepted, Promise, Release
from harness.checks.accepts import Where
from harness.checks.violation import Violation


class LeaseGrants:
    """Each acceptor's lease grants (ballot -> local end), checked against its Promises."""

    def __init__(self) -> None:
        self._grants: dict[int, dict[Any, int]] = {}

    def on_recover(self, node_id: int) -> None:
        """``node_id`` restarted: its grants are no longer tracked (see the module doc)."""
        self._grants.pop(node_id, None)

    @staticmethod
    def _grant(grants: dict[Any, int], ballot: Any, local_us: int, lease_us: int) -> None:
        if ballot not in grants:  # a new leader: forget grants that ended (keeps it small)
            for old in [b for b, until in grants.items() if until <= local_us]:
                del grants[old]
        grants[ballot] = local_us + lease_us

    @staticmethod
    def _release(grants: dict[Any, int], ballot: Any, local_us: int) -> None:
        if ballot in grants:
            grants[ballot] = min(grants[ballot], local_us)

    def on_step(
        self, node_id: int, replica: Any, event: object, effects: Sequence[object],
        local_us: int, where: Where,
    ) -> Violation | None:
        """Record the grants of one step, then check the Promises it sent."""
        config = getattr(replica, "config", None)
        if config is None:
            return None
        grants = self._grants.get(node_id)
        if grants is None:
            grants = self._grants[node_id] = {}
        lease_us = config.timing.lease_duration_us
        msg = event.msg if isinstance(event, Receive) else None
        if msg is not None:
            kind = type(msg)
            if kind is Accept:
                src = event.src  # type: ignore[attr-defined]
                ballot = msg.ballot
                if any(type(e) is Send and e.dst == src and type(e.msg) is Accepted
                       and e.msg.ballot == ballot for e in effects):
                    self._grant(grants, ballot, local_us, lease_us)
            elif kind is Release:
                self._release(grants, msg.ballot, local_us)
        promises: list[Promise] = []
        for e in effects:
            if type(e) is not Send:
                continue
            sent = e.msg
            kind = type(sent)
            if kind is Accept and sent.ballot.node == node_id:
                self._grant(grants, sent.ballot, local_us, lease_us)
            elif kind is Release:
                self._release(grants, sent.ballot, local_us)
            elif kind is Promise:
                promises.append(sent)
        for promise in promises:
            for ballot, until in grants.items():
                if ballot != promise.ballot and until - local_us > promise.lease_remaining_us:
                    return Violation(
                        property="S6",
                        message=(
                            f"S6: node {node_id} promised ballot {promise.ballot} reporting "
                            f"{promise.lease_remaining_us}us of lease left, but its grant to "
                            f"ballot {ballot} runs {until - local_us}us more (that leader may "
                            "still serve while the new one stops waiting)"
                        ),
                        **where.fields(),
                    )
        return None
