"""Link bandwidth for the simulator: a packet's size costs time on its directed link.

The default simulated network (`harness.sim.network`) gives packets no size. Measurements where
copying data is the point (the replica-loss scenario: a log replica needs only the WAL suffix,
a storage replica a B-tree snapshot) turn this on: each directed link sends one packet at a
time (FIFO), taking ``size / bandwidth``. Sizes are estimates from the message's fields (log
entries and commands by length, 64 bytes of header); a message carrying a state-machine
snapshot may be charged ``snapshot_bytes`` instead of its real size, so a small simulated
store can stand for a large B-tree.
"""

from __future__ import annotations

from consensus.messages import SlotEntry

_MB = 1_000_000
HEADER_BYTES = 64


def message_bytes(msg: object, snapshot_bytes: int = 0) -> int:
    """Estimated wire size of ``msg``; a snapshot counts ``snapshot_bytes`` if that is > 0."""
    size = HEADER_BYTES
    snapshot = getattr(msg, "snapshot", b"")
    if snapshot:
        size += snapshot_bytes if snapshot_bytes > 0 else len(snapshot)
    for e in getattr(msg, "entries", ()):
        if isinstance(e, SlotEntry):
            size += 24 + len(e.command)
    for c in getattr(msg, "commands", ()):
        size += 8 + len(c)
    return size


class Links:
    """Per directed link: when it is free again, and bytes sent to each node."""

    def __init__(self, bandwidth_mb_s: float, snapshot_bytes: int = 0) -> None:
        if bandwidth_mb_s <= 0:
            raise ValueError(f"bandwidth_mb_s must be > 0, got bandwidth_mb_s={bandwidth_mb_s}")
        self.bandwidth_mb_s = bandwidth_mb_s
        self.snapshot_bytes = snapshot_bytes
        self.free_at_us: dict[tuple[int, int], int] = {}
        self.bytes_to: dict[int, int] = {}

    def depart(self, src: int, dst: int, msg: object, ready_us: int) -> int:
        """True time (us) at which ``msg``, ready at ``ready_us``, has left ``src`` for ``dst``."""
        size = message_bytes(msg, self.snapshot_bytes)
        self.bytes_to[dst] = self.bytes_to.get(dst, 0) + size
        transfer_us = int(size * 1e6 / (self.bandwidth_mb_s * _MB))
        begin = max(ready_us, self.free_at_us.get((src, dst), 0))
        done = begin + transfer_us
        self.free_at_us[(src, dst)] = done
        return done
