"""Events: what the host feeds into `Replica.step(event, now_us)`.

Every call also carries ``now_us``, the node's *local* clock reading in microseconds, because
a lease must be checked against the clock right before each reply, not against the last tick.
Local clocks may run fast or slow within the drift bound; the replica never sees true time.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Tick:
    """The timer the replica asked for (`SetTimer`) has come due, or the host just started it.

    A host may also deliver extra ticks; the replica must treat an early tick as a no-op.
    """


@attrs.frozen(kw_only=True)
class Receive:
    """A message from peer ``src`` arrived (possibly late, duplicated or reordered)."""

    src: int
    msg: Any  # a consensus message (consensus.messages); typed loosely to keep hosts generic


@attrs.frozen(kw_only=True)
class ClientWrite:
    """A client asks for ``command`` (opaque bytes for the state machine) to be applied.

    ``(client_id, request_id)`` identify the request; the state machine uses them so that a
    retried write applies at most once.
    """

    client_id: int
    request_id: int
    command: bytes


@attrs.frozen(kw_only=True)
class ClientRead:
    """A client reads ``key``: strongly consistent (leaseholder only) or eventually consistent."""

    client_id: int
    request_id: int
    key: bytes
    strong: bool


@attrs.frozen(kw_only=True)
class Compact:
    """The host checkpointed its state machine at ``slot`` (everything <= slot applied).

    ``snapshot`` is the state machine's serialized contents at that slot. The replica may drop
    log entries <= slot and sends ``snapshot`` to peers that need entries it no longer has.
    """

    slot: int
    snapshot: bytes


@attrs.frozen(kw_only=True)
class StepDown:
    """Ask a leader to step down on purpose (e.g. before planned maintenance).

    It stops serving, tells the acceptors to release the lease they granted it (so a successor
    need not wait it out) and becomes a follower. A no-op on a replica that is not leader.
    """


@attrs.frozen(kw_only=True)
class Reconfigure:
    """Ask the leader to move the group to storage voters ``storage`` and log voters ``logs``.

    The leader gets there one voter at a time, additions first (`consensus.quorum.next_change`),
    each change a configuration entry in the log. A no-op on a replica that is not leader, and
    for a target that removes the leader itself. Raises ValueError (from
    `consensus.quorum.Membership`) for a configuration that cannot be safe.
    """

    storage: tuple[int, ...]
    logs: tuple[int, ...] = ()


Event = Tick | Receive | ClientWrite | ClientRead | Compact | StepDown | Reconfigure
