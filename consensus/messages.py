"""Messages between replicas: frozen, validated when built, with a deterministic ``repr``.

Every message carries ``ballot``, the sender's ballot view (its promised ballot, or the ballot
it leads or campaigns under), so any receiver learns of higher ballots from any message.
Fields are ints, bytes, bools, `Ballot` and tuples only, so ``repr(msg)`` is stable across
processes and can go into a fingerprinted trace.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from consensus.ballot import Ballot


def _compact_repr(self: object) -> str:
    """``repr`` listing every field except those named in ``_QUIET`` while at their default.

    Fields added for membership changes stay out of traces and transcripts until they matter,
    so older traces keep their exact text.
    """
    cls = type(self)
    quiet: frozenset[str] = getattr(cls, "_QUIET", frozenset())
    parts = []
    for f in attrs.fields(cls):  # type: ignore[arg-type]
        value = getattr(self, f.name)
        if f.name in quiet and value == f.default:
            continue
        parts.append(f"{f.name}={value!r}")
    return f"{cls.__name__}({', '.join(parts)})"


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


def _slot(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be >= 1 (slots start at 1), got {value}")


@attrs.frozen(kw_only=True)
class SlotEntry:
    """One slot's entry on the wire: ``command`` accepted under ``ballot`` at ``slot``."""

    slot: int = attrs.field(validator=_slot)
    ballot: Ballot
    command: bytes


@attrs.frozen(kw_only=True)
class Prepare:
    """Phase 1a: the candidate with ``ballot`` asks for promises for every slot >= from_slot."""

    ballot: Ballot
    from_slot: int = attrs.field(validator=_slot)


@attrs.frozen(kw_only=True, repr=False)
class Promise:
    """Phase 1b: the sender promised ``ballot`` (durably, before sending).

    ``entries``: what it accepted at slots >= ``from_slot``, ascending. ``commit_index``: its
    commit index. ``lease_remaining_us``: how long (its local clock) the lease it granted to an
    earlier leader still runs. When it has compacted slots >= from_slot away, ``snapshot_slot``
    and ``snapshot`` carry its state machine snapshot (else 0 and b""), and ``config`` the
    configuration command in force at ``config_slot`` (b"": the initial configuration). A log
    replica has no state machine: its ``snapshot`` is always b"".
    """

    _QUIET: ClassVar[frozenset[str]] = frozenset(("config_slot", "config"))
    __repr__ = _compact_repr

    ballot: Ballot
    from_slot: int = attrs.field(validator=_slot)
    entries: tuple[SlotEntry, ...]
    commit_index: int = attrs.field(validator=_non_negative)
    lease_remaining_us: int = attrs.field(validator=_non_negative)
    snapshot_slot: int = attrs.field(default=0, validator=_non_negative)
    snapshot: bytes = b""
    config_slot: int = attrs.field(default=0, validator=_non_negative)
    config: bytes = b""


@attrs.frozen(kw_only=True)
class Nack:
    """The sender refused a Prepare or Accept under ``rejected``: it promised ``ballot``."""

    ballot: Ballot
    rejected: Ballot


@attrs.frozen(kw_only=True, repr=False)
class Accept:
    """Phase 2a and heartbeat: accept ``commands`` at slots first_slot, first_slot+1, ...

    ``commands == ()`` is a plain heartbeat. ``commit_index``: every slot <= it is chosen, with
    the value the leader of ``ballot`` holds there. ``stamp_us``: the leader's local send time;
    the reply echoes it so the leader can extend its lease. ``truncate_to``: every storage
    replica of the configuration has applied every slot <= it, so log replicas may drop them
    (0: nothing yet).
    """

    _QUIET: ClassVar[frozenset[str]] = frozenset(("truncate_to",))
    __repr__ = _compact_repr

    ballot: Ballot
    first_slot: int = attrs.field(validator=_slot)
    commands: tuple[bytes, ...]
    commit_index: int = attrs.field(validator=_non_negative)
    stamp_us: int = attrs.field(validator=_non_negative)
    truncate_to: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen(kw_only=True, repr=False)
class Accepted:
    """Phase 2b and heartbeat ack: the sender durably accepted slots first..last under ballot.

    ``last_slot < first_slot`` acknowledges a heartbeat only. ``stamp_us`` echoes the Accept's.
    ``applied_index``: the sender's applied slot (0 for a log replica, which applies nothing).
    """

    _QUIET: ClassVar[frozenset[str]] = frozenset(("applied_index",))
    __repr__ = _compact_repr

    ballot: Ballot
    first_slot: int = attrs.field(validator=_slot)
    last_slot: int = attrs.field(validator=_non_negative)
    stamp_us: int = attrs.field(validator=_non_negative)
    applied_index: int = attrs.field(default=0, validator=_non_negative)

    @property
    def slots(self) -> range:
        """The slots accepted (empty for a heartbeat ack)."""
        return range(self.first_slot, self.last_slot + 1)


@attrs.frozen(kw_only=True)
class Release:
    """The leader of ``ballot`` stepped down on purpose: release the lease granted to it."""

    ballot: Ballot


@attrs.frozen(kw_only=True)
class Probe:
    """Gray-failure check: does the receiver still hear a leader? ``probe_id`` matches replies."""

    ballot: Ballot
    probe_id: int = attrs.field(validator=_non_negative)


@attrs.frozen(kw_only=True)
class ProbeReply:
    """Answer to a Probe: ``hears`` is True iff the sender heard a leader within its timeout."""

    ballot: Ballot
    probe_id: int = attrs.field(validator=_non_negative)
    hears: bool


@attrs.frozen(kw_only=True, repr=False)
class CatchUpRequest:
    """A lagging replica asks for the chosen entries from ``from_slot`` on.

    ``log_only``: the asker is a log replica; send no snapshot bytes, only its slot.
    ``snapshot_offset``: the asker holds that many bytes of a streamed snapshot already.
    """

    _QUIET: ClassVar[frozenset[str]] = frozenset(("log_only", "snapshot_offset"))
    __repr__ = _compact_repr

    ballot: Ballot
    from_slot: int = attrs.field(validator=_slot)
    log_only: bool = False
    snapshot_offset: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen(kw_only=True, repr=False)
class CatchUpReply:
    """Chosen entries (ascending, contiguous) and, if needed, a snapshot taken at snapshot_slot.

    ``snapshot_slot == 0`` means no snapshot. ``entries`` continue right after the snapshot (or
    at the requested slot) and hold only slots the sender knows are chosen. ``config_slot`` and
    ``config`` as in `Promise` (set with a snapshot). A large snapshot is streamed
    (`consensus.snapshot_stream`): ``snapshot`` is then the chunk at ``snapshot_offset`` of
    ``snapshot_total`` bytes, with ``snapshot_checksum``, and ``entries`` come with the last
    chunk only (``snapshot_total == 0``: not streamed).
    """

    _QUIET: ClassVar[frozenset[str]] = frozenset(
        ("config_slot", "config", "snapshot_offset", "snapshot_total", "snapshot_checksum")
    )
    __repr__ = _compact_repr

    ballot: Ballot
    snapshot_slot: int = attrs.field(validator=_non_negative)
    snapshot: bytes
    entries: tuple[SlotEntry, ...]
    config_slot: int = attrs.field(default=0, validator=_non_negative)
    config: bytes = b""
    snapshot_offset: int = attrs.field(default=0, validator=_non_negative)
    snapshot_total: int = attrs.field(default=0, validator=_non_negative)
    snapshot_checksum: int = attrs.field(default=0, validator=_non_negative)


Message = (
    Prepare
    | Promise
    | Nack
    | Accept
    | Accepted
    | Release
    | Probe
    | ProbeReply
    | CatchUpRequest
    | CatchUpReply
)
