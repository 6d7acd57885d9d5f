"""Configuration commands: how a `Membership` travels through the replicated log.

A configuration change is a log entry like any other, so it is ordered with the writes and
survives leader changes through phase 1. Its command bytes are ``CONFIG_MAGIC`` followed by
the encoded membership. ``CONFIG_MAGIC`` starts with four 0xff bytes, which no
`storage.kv.Command` encoding can start with (they begin with a little-endian length that
would be 4 GiB); a leader refuses a client write that starts with it. Replicas never hand a
configuration entry to the state machine: they apply it as a no-op (``Apply(command=b"")``),
so commands stay opaque to storage.

When a configuration takes effect (argued here once, relied on everywhere): **when it is
appended**, on every replica that holds the entry, leader included, for the entry itself and
every later slot. Taking effect at append (not at commit) means the configuration entry is
itself chosen by a quorum of the new configuration, so no replica ever needs to know whether
an entry is chosen before it knows which quorums count; with one change at a time and
add-before-remove, the old and the new configuration are the only two that can be in use at
once and their quorums intersect (`consensus.quorum.quorums_intersect`), which is S12.
A candidate also needs a quorum of every configuration it finds in promises beyond its own
committed prefix, so a replica that missed several committed changes cannot win phase 1 with
an outdated quorum.
"""

from __future__ import annotations

import struct

from consensus.quorum import Membership

CONFIG_MAGIC = b"\xff\xff\xff\xffpaxcfg"
_COUNTS = struct.Struct(">HH")
_ID = struct.Struct(">I")


def is_config(command: bytes) -> bool:
    """True iff ``command`` is a configuration entry (not a client command)."""
    return command.startswith(CONFIG_MAGIC)


def encode_config(m: Membership) -> bytes:
    """Return the log command carrying ``m``."""
    parts = [CONFIG_MAGIC, _COUNTS.pack(len(m.storage), len(m.logs))]
    parts.extend(_ID.pack(i) for i in m.storage + m.logs)
    return b"".join(parts)


def decode_config(command: bytes) -> Membership:
    """Return the membership in a configuration command.

    Raises ValueError if ``command`` is not one `encode_config` wrote (wrong magic, length,
    or a membership that does not validate).
    """
    if not is_config(command):
        raise ValueError(f"not a configuration command: prefix={command[:10]!r}")
    body = command[len(CONFIG_MAGIC):]
    if len(body) < _COUNTS.size:
        raise ValueError(f"configuration command too short: len={len(command)}")
    n_storage, n_logs = _COUNTS.unpack_from(body)
    want = _COUNTS.size + _ID.size * (n_storage + n_logs)
    if len(body) != want:
        raise ValueError(f"configuration command has wrong length: len={len(body)} want={want}")
    ids = [_ID.unpack_from(body, _COUNTS.size + _ID.size * k)[0]
           for k in range(n_storage + n_logs)]
    return Membership(tuple(ids[:n_storage]), tuple(ids[n_storage:]))
