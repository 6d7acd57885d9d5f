"""An explicit binary codec for everything a node sends over TCP (never pickle).

Each consensus message type (`consensus.messages`) has a one-byte tag and a field table
(`MESSAGE_FIELDS`) naming every attrs field and its wire kind, in attrs order; a test checks
the tables against the classes, so a field added to a message cannot go silently unsent.
Kinds: ``u`` an unsigned int (LEB128, at most 10 bytes), ``b`` bytes (u length + data), ``?``
a bool (one byte, 0 or 1), ``B`` a `Ballot` (two u), ``E`` a tuple of `SlotEntry` (u count,
then slot, ballot, command each), ``T`` a tuple of bytes (u count, then b each), ``P`` a tuple
of ``(term, command)`` pairs (u count, then u and b each: Raft's log entries).

Both protocols' messages are in one table (Multi-Paxos's first, so its tags never move; Raft's
after them, `consensus.raft.messages`): a node decodes whatever a peer sends, and its replica
ignores messages of another protocol, which a cluster's one ``protocol`` setting rules out.

Client requests and replies (`ClientRequest`, `ClientReply`) use the same primitives. Decoding
reads exactly the bytes given: trailing bytes, a short buffer, a varint longer than 10 bytes,
an unknown tag or a value a message's validators refuse all raise `CodecError`, which the
transport counts as a malformed frame; nothing from the network is ever evaluated.
"""

from __future__ import annotations

from typing import Any

import attrs

from consensus.ballot import Ballot
from consensus.messages import (
    Accept,
    Accepted,
    CatchUpReply,
    CatchUpRequest,
    Nack,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Release,
    SlotEntry,
)
from consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    RequestVote,
    RequestVoteResponse,
)

MAX_COUNT = 1 << 20
"""Most items a decoded tuple may claim (a sanity bound; the frame size bounds it anyway)."""


class CodecError(ValueError):
    """Bytes that are not a valid encoding; the message names what broke."""


MESSAGE_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {
    Prepare: (("ballot", "B"), ("from_slot", "u")),
    Promise: (
        ("ballot", "B"), ("from_slot", "u"), ("entries", "E"), ("commit_index", "u"),
        ("lease_remaining_us", "u"), ("snapshot_slot", "u"), ("snapshot", "b"),
        ("config_slot", "u"), ("config", "b"),
    ),
    Nack: (("ballot", "B"), ("rejected", "B")),
    Accept: (
        ("ballot", "B"), ("first_slot", "u"), ("commands", "T"), ("commit_index", "u"),
        ("stamp_us", "u"), ("truncate_to", "u"),
    ),
    Accepted: (
        ("ballot", "B"), ("first_slot", "u"), ("last_slot", "u"), ("stamp_us", "u"),
        ("applied_index", "u"),
    ),
    Release: (("ballot", "B"),),
    Probe: (("ballot", "B"), ("probe_id", "u")),
    ProbeReply: (("ballot", "B"), ("probe_id", "u"), ("hears", "?")),
    CatchUpRequest: (
        ("ballot", "B"), ("from_slot", "u"), ("log_only", "?"), ("snapshot_offset", "u"),
    ),
    CatchUpReply: (
        ("ballot", "B"), ("snapshot_slot", "u"), ("snapshot", "b"), ("entries", "E"),
        ("config_slot", "u"), ("config", "b"), ("snapshot_offset", "u"),
        ("snapshot_total", "u"), ("snapshot_checksum", "u"),
    ),
    RequestVote: (("term", "u"), ("last_index", "u"), ("last_term", "u"), ("pre_vote", "?")),
    RequestVoteResponse: (("term", "u"), ("granted", "?"), ("pre_vote", "?")),
    AppendEntries: (
        ("term", "u"), ("prev_index", "u"), ("prev_term", "u"), ("entries", "P"),
        ("commit", "u"), ("stamp_us", "u"),
    ),
    AppendEntriesResponse: (
        ("term", "u"), ("success", "?"), ("match_index", "u"), ("stamp_us", "u"),
    ),
    InstallSnapshot: (
        ("term", "u"), ("index", "u"), ("last_term", "u"), ("config", "b"), ("data", "b"),
        ("stamp_us", "u"),
    ),
}
"""Every consensus message type and its fields in attrs order, with their wire kinds."""

MESSAGE_TAGS: dict[type, int] = {cls: i + 1 for i, cls in enumerate(MESSAGE_FIELDS)}
_BY_TAG: dict[int, type] = {tag: cls for cls, tag in MESSAGE_TAGS.items()}


@attrs.frozen(kw_only=True)
class ClientRequest:
    """A client's request: a write (``command``, opaque state-machine bytes) or a read.

    ``write``: True for a write (``command`` set, ``key`` empty), False for a read of ``key``
    (``strong``: linearizable, served by the leaseholder only).
    """

    client_id: int
    request_id: int
    write: bool
    command: bytes = b""
    key: bytes = b""
    strong: bool = True


@attrs.frozen(kw_only=True)
class ClientReply:
    """A node's answer: mirrors `harness.runtime.ports.ClientOutcome` plus the request ids."""

    client_id: int
    request_id: int
    status: str
    value: bytes | None = None
    applied: bool = True
    error: str | None = None
    leader_hint: int | None = None
    indeterminate: bool = False


_STATUSES = ("ok", "error", "timeout")


# -- primitives ---------------------------------------------------------------------------


def put_uint(out: bytearray, value: int) -> None:
    """Append ``value`` (an int >= 0 below 2**70) as LEB128."""
    if type(value) is not int or value < 0 or value >= 1 << 70:
        raise CodecError(f"cannot encode as unsigned: value={value!r}")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_bytes(out: bytearray, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray):
        raise CodecError(f"cannot encode as bytes: value={value!r}")
    put_uint(out, len(value))
    out += value


class Reader:
    """Reads primitives from ``data`` front to back; every read is bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def uint(self) -> int:
        value = 0
        shift = 0
        data, at = self.data, self.at
        for _ in range(10):
            if at >= len(data):
                raise CodecError("truncated varint")
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.at = at
                return value
            shift += 7
        raise CodecError("varint longer than 10 bytes")

    def bytes_(self) -> bytes:
        n = self.uint()
        end = self.at + n
        if end > len(self.data):
            raise CodecError(f"bytes field runs past the end: length={n}")
        value = bytes(self.data[self.at : end])
        self.at = end
        return value

    def bool_(self) -> bool:
        v = self.uint()
        if v > 1:
            raise CodecError(f"bool must be 0 or 1, got {v}")
        return v == 1

    def count(self) -> int:
        n = self.uint()
        if n > MAX_COUNT or n > len(self.data) - self.at:
            raise CodecError(f"tuple count too large: count={n}")
        return n

    def end(self) -> None:
        if self.at != len(self.data):
            raise CodecError(f"trailing bytes: {len(self.data) - self.at}")


def _put_ballot(out: bytearray, b: Ballot) -> None:
    put_uint(out, b.round)
    put_uint(out, b.node)


def _get_ballot(r: Reader) -> Ballot:
    return Ballot(r.uint(), r.uint())


def _put_field(out: bytearray, kind: str, value: Any) -> None:
    if kind == "u":
        put_uint(out, value)
    elif kind == "b":
        put_bytes(out, value)
    elif kind == "?":
        put_uint(out, 1 if value else 0)
    elif kind == "B":
        _put_ballot(out, value)
    elif kind == "T":
        put_uint(out, len(value))
        for item in value:
            put_bytes(out, item)
    elif kind == "P":
        put_uint(out, len(value))
        for term, command in value:
            put_uint(out, term)
            put_bytes(out, command)
    else:  # "E"
        put_uint(out, len(value))
        for e in value:
            put_uint(out, e.slot)
            _put_ballot(out, e.ballot)
            put_bytes(out, e.command)


def _get_field(r: Reader, kind: str) -> Any:
    if kind == "u":
        return r.uint()
    if kind == "b":
        return r.bytes_()
    if kind == "?":
        return r.bool_()
    if kind == "B":
        return _get_ballot(r)
    if kind == "T":
        return tuple(r.bytes_() for _ in range(r.count()))
    if kind == "P":
        return tuple((r.uint(), r.bytes_()) for _ in range(r.count()))
    return tuple(
        SlotEntry(slot=r.uint(), ballot=_get_ballot(r), command=r.bytes_())
        for _ in range(r.count())
    )


# -- consensus messages ---------------------------------------------------------------------


def encode_message(msg: Any) -> bytes:
    """Return the wire bytes of consensus message ``msg`` (tag, then its fields).

    Raises CodecError for an object that is not a consensus message.
    """
    cls = type(msg)
    fields = MESSAGE_FIELDS.get(cls)
    if fields is None:
        raise CodecError(f"not a consensus message: type={cls.__name__}")
    out = bytearray()
    put_uint(out, MESSAGE_TAGS[cls])
    for name, kind in fields:
        _put_field(out, kind, getattr(msg, name))
    return bytes(out)


def decode_message(data: bytes) -> Any:
    """Return the consensus message encoded in ``data``; raises CodecError if malformed."""
    r = Reader(data)
    try:
        tag = r.uint()
        cls = _BY_TAG.get(tag)
        if cls is None:
            raise CodecError(f"unknown message tag={tag}")
        kwargs = {name: _get_field(r, kind) for name, kind in MESSAGE_FIELDS[cls]}
        r.end()
        return cls(**kwargs)
    except CodecError:
        raise
    except (ValueError, TypeError) as exc:  # a message validator refused a field
        raise CodecError(f"invalid message field: {exc}") from None


# -- client frames ----------------------------------------------------------------------------


def encode_request(req: ClientRequest) -> bytes:
    out = bytearray()
    put_uint(out, req.client_id)
    put_uint(out, req.request_id)
    put_uint(out, 1 if req.write else 0)
    put_bytes(out, req.command)
    put_bytes(out, req.key)
    put_uint(out, 1 if req.strong else 0)
    return bytes(out)


def decode_request(data: bytes) -> ClientRequest:
    r = Reader(data)
    req = ClientRequest(
        client_id=r.uint(), request_id=r.uint(), write=r.bool_(), command=r.bytes_(),
        key=r.bytes_(), strong=r.bool_(),
    )
    r.end()
    return req


def _put_optional_bytes(out: bytearray, value: bytes | None) -> None:
    if value is None:
        put_uint(out, 0)
    else:
        put_uint(out, 1)
        put_bytes(out, value)


def _get_optional_bytes(r: Reader) -> bytes | None:
    return r.bytes_() if r.bool_() else None


def encode_reply(rep: ClientReply) -> bytes:
    out = bytearray()
    put_uint(out, rep.client_id)
    put_uint(out, rep.request_id)
    put_uint(out, _STATUSES.index(rep.status))
    _put_optional_bytes(out, rep.value)
    put_uint(out, 1 if rep.applied else 0)
    _put_optional_bytes(out, None if rep.error is None else rep.error.encode())
    put_uint(out, 0 if rep.leader_hint is None else rep.leader_hint + 1)
    put_uint(out, 1 if rep.indeterminate else 0)
    return bytes(out)


def decode_reply(data: bytes) -> ClientReply:
    r = Reader(data)
    client_id, request_id, status = r.uint(), r.uint(), r.uint()
    if status >= len(_STATUSES):
        raise CodecError(f"unknown reply status={status}")
    value = _get_optional_bytes(r)
    applied = r.bool_()
    error_bytes = _get_optional_bytes(r)
    hint = r.uint()
    indeterminate = r.bool_()
    r.end()
    try:
        error = None if error_bytes is None else error_bytes.decode()
    except UnicodeDecodeError:
        raise CodecError("reply error is not UTF-8") from None
    return ClientReply(
        client_id=client_id, request_id=request_id, status=_STATUSES[status], value=value,
        applied=applied, error=error, leader_hint=None if hint == 0 else hint - 1,
        indeterminate=indeterminate,
    )
