"""Effects: what `Replica.step` asks its host to do, in the order it must be done.

The host performs the effects of one step in list order. Each class states the host's duty.
The one rule that makes the protocol safe: a `Persist` must be durable (written and fsynced)
before the host performs any later effect of the same list, above all before a `Send` that
leaves after it. A host may make several consecutive `Persist` effects durable with one fsync
(group commit).
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Send:
    """Send ``msg`` to peer ``dst``. Delivery is best effort: it may be lost or duplicated."""

    dst: int
    msg: Any  # a consensus message (consensus.messages)


@attrs.frozen(kw_only=True)
class Persist:
    """Append ``records`` (opaque bytes, encoded by `consensus`) to the node's WAL, durably.

    Duty: durable before any later effect of the same step is performed. On restart the host
    passes every record it still has, in order, to `Replica.recover`.

    ``checkpoint``: these records alone describe the whole durable state, so once they are
    durable the host may drop every earlier WAL record (``WAL.truncate_prefix``).
    """

    records: tuple[bytes, ...]
    checkpoint: bool = False


@attrs.frozen(kw_only=True)
class Apply:
    """Apply the chosen ``command`` of ``slot`` to the state machine.

    Emitted exactly once per slot per incarnation, in slot order without gaps (after a
    restart, re-emitted from the state machine's checkpoint on). ``command == b""`` is a no-op:
    the host advances its applied slot and changes nothing else. The host keeps the result of
    applying ``slot`` while a `Reply` may still refer to it.
    """

    slot: int
    command: bytes


@attrs.frozen(kw_only=True)
class InstallSnapshot:
    """Replace the state machine's contents with ``snapshot``, taken at ``slot``.

    Later `Apply` effects continue from ``slot + 1``.
    """

    slot: int
    snapshot: bytes


@attrs.frozen(kw_only=True)
class Reply:
    """Answer a client's write, or refuse a strong read.

    ``slot`` set: the write was chosen and applied at ``slot``; reply with the state machine's
    result for that slot. ``error`` set: the request was not served here (``"not-leader"``,
    ``"no-lease"``, ...); ``leader_hint`` names the node the client should try, if known.
    Whether a failed write may still take effect is told by ``indeterminate``. A strong
    `consensus.events.ClientRead` that a replica will not serve (it is not the leader, or it
    stepped down while the read waited) is refused with a Reply carrying ``error`` (never
    ``slot``, never ``indeterminate``): reads have no effect to be unsure about.
    """

    client_id: int
    request_id: int
    slot: int | None = None
    error: str | None = None
    leader_hint: int | None = None
    indeterminate: bool = False


@attrs.frozen(kw_only=True)
class ServeRead:
    """Read ``key`` from the state machine as it is now and send the value to the client.

    For ``strong`` reads the replica emits this only while it holds a valid lease and has
    applied everything committed before the read arrived.
    """

    client_id: int
    request_id: int
    key: bytes
    strong: bool


@attrs.frozen(kw_only=True)
class SetTimer:
    """Deliver a `Tick` once the node's local clock reads at least ``at_us``.

    A later `SetTimer` replaces an earlier one: the replica has one timer.
    """

    at_us: int


@attrs.frozen(kw_only=True)
class StartReplica:
    """Start node ``node_id`` (a spare) if it is not running yet: the leader is adding it.

    ``log_replica``: it runs as a log replica (WAL only). Emitted only by a leader healing a
    group configured with spares (`consensus.ReplicaConfig.spares` / ``log_spares``), when it
    proposes the configuration that adds the node; a host whose spares already run ignores it.
    The new node starts empty and catches up from its peers (a log replica copies only the
    log suffix it needs, a storage replica a snapshot plus the log).
    """

    node_id: int
    log_replica: bool


Effect = Send | Persist | Apply | InstallSnapshot | Reply | ServeRead | SetTimer | StartReplica
