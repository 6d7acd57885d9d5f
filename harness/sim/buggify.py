"""BUGGIFY's sizes and intervals: per run, the engine's knobs drawn small and odd.

With production sizes (64 MB WAL segments, checkpoints every 256 slots, a window of 64
slots, 1 MB snapshot chunks, B-tree pages of 64 keys) a simulated run of a thousand
operations never rolls a segment, rarely compacts and never streams a snapshot in pieces:
those paths go untested. In simulation each knob is therefore drawn per run from the run's
chooser under ``buggify.<knob>``, choice 0 being today's default and the others small, odd
values (FoundationDB's BUGGIFY knobs), so that segment rolls, compaction under load,
snapshot catch-up in many chunks and full windows happen in most runs. The drawn `Knobs`
are traced with the run's options (``0 knobs ...``), so a run says what it ran with.
"""

from __future__ import annotations

from typing import Any

import attrs

from harness.runtime.chooser import Chooser

_WAL_HEADER_MIN = 64  # a segment must fit its header and one record header (storage.wal)


@attrs.frozen(kw_only=True)
class Knobs:
    """The engine's sizes and intervals for one run (defaults: production values).

    Attributes:
        wal_segment_bytes: a new WAL segment file starts past this size (`storage.WAL`).
        btree_fanout: keys per B-tree page (`storage.KVStore`), many pages when small.
        btree_min_compact_bytes: garbage at which a checkpoint rewrites the whole B-tree.
        checkpoint_every: applied slots between KV checkpoints and log compaction.
        window: slots a leader keeps in flight (`consensus.ReplicaConfig.window`).
        snapshot_chunk_bytes: a snapshot travels in chunks of this size.
    """

    wal_segment_bytes: int = 64 * 1024 * 1024
    btree_fanout: int = 64
    btree_min_compact_bytes: int = 1 << 20
    checkpoint_every: int = 256
    window: int = 64
    snapshot_chunk_bytes: int = 1 << 20

    def storage_kwargs(self) -> dict[str, Any]:
        """What `harness.runtime.backend.default_backend`'s storage opener takes."""
        return {
            "segment_bytes": self.wal_segment_bytes,
            "fanout": self.btree_fanout,
            "min_compact_bytes": self.btree_min_compact_bytes,
        }

    def replica_kwargs(self) -> dict[str, Any]:
        """What `harness.runtime.backend.default_backend`'s replica factory takes."""
        return {"window": self.window, "snapshot_chunk_bytes": self.snapshot_chunk_bytes}

    def describe(self) -> str:
        """``name=value`` for each knob, for the trace."""
        return " ".join(f"{k}={v}" for k, v in attrs.asdict(self).items())


SMALL: dict[str, tuple[int, ...]] = {
    "wal_segment_bytes": (_WAL_HEADER_MIN + 37, 211, 509, 1_021, 2_039, 4_093),
    "btree_fanout": (4, 5, 6, 7, 9, 11),
    "btree_min_compact_bytes": (1, 17, 61, 97, 199, 509),
    "checkpoint_every": (3, 7, 13, 23, 37, 61),
    "window": (1, 2, 3),
    "snapshot_chunk_bytes": (17, 31, 61, 127, 199, 251),
}
"""The small, odd values each knob may take besides its default (choice 0). Windows stay at
most 3: a workload of five clients never has more writes in flight, so a larger window would
never fill."""


_ROUNDS = 3
"""Each small value stands for this many choices, so a knob keeps its default (choice 0) in
only about one run of ``3 * len(values) + 1``: rare paths need several knobs small at once."""


def draw_knobs(chooser: Chooser, defaults: Knobs) -> Knobs:
    """Draw every knob (in a fixed order, one draw each): 0 keeps ``defaults``' value, any
    other choice ``c`` picks ``SMALL[knob][(c - 1) % len]`` (shrinking moves toward the
    first, smallest values and then to the default)."""
    values = {}
    for name, small in SMALL.items():
        pick = chooser.choose(f"buggify.{name}", _ROUNDS * len(small) + 1)
        values[name] = getattr(defaults, name) if pick == 0 else small[(pick - 1) % len(small)]
    return Knobs(**values)
