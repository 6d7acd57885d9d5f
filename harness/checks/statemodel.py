"""The chosen log as checkers see it, and the key-value state it implies.

`ChosenLog` records which command each slot has been chosen with (from durable accept quorums)
and replays the contiguous chosen prefix into a reference `storage.kv.KVStore`, keeping every
key's value after each slot, so a checker can ask what a replica that applied up to slot ``a``
must return for a key (S9) without trusting any replica's own state.
"""

from __future__ import annotations

import bisect

from consensus.membership import is_config
from storage.kv import KVStore, command_key
from storage.simdisk import SimDisk


class ChosenLog:
    """Chosen commands by slot, plus the reference state of the contiguous chosen prefix."""

    def __init__(self) -> None:
        self.chosen: dict[int, bytes] = {}
        self.prefix = 0  # every slot <= prefix is chosen and applied to the reference
        self._kv = KVStore.open(SimDisk(0), "reference")
        # key -> slots at which it changed, and the value after each of those slots
        self._slots: dict[bytes, list[int]] = {}
        self._values: dict[bytes, list[bytes | None]] = {}
        self._checksums: list[str] = [self._kv.checksum()]  # index: slot (0 = empty state)

    def choose(self, slot: int, command: bytes) -> None:
        """Record that ``slot`` is chosen with ``command``; extend the reference prefix."""
        self.chosen[slot] = command
        while self.prefix + 1 in self.chosen:
            self.prefix += 1
            self._apply(self.prefix, self.chosen[self.prefix])

    def _apply(self, slot: int, command: bytes) -> None:
        if is_config(command):
            command = b""  # replicas apply a configuration entry as a no-op
        self._kv.apply(slot, command)
        self._checksums.append(self._kv.checksum())
        if not command:
            return
        key = command_key(command)  # no Command built
        self._slots.setdefault(key, []).append(slot)
        self._values.setdefault(key, []).append(self._kv.get(key))

    def is_chosen_prefix(self, slot: int) -> bool:
        """Whether every slot from 1 to ``slot`` is chosen."""
        return slot <= self.prefix

    def first_unchosen(self, lo: int, hi: int) -> int | None:
        """Return the first slot in ``[lo, hi]`` that is not chosen, or None."""
        if hi <= self.prefix:
            return None
        for slot in range(max(lo, self.prefix + 1), hi + 1):
            if slot not in self.chosen:
                return slot
        return None

    def checksum_at(self, slot: int) -> str:
        """Return the state machine checksum after applying slots 1..``slot`` (<= prefix)."""
        if slot > self.prefix:
            raise ValueError(f"slot {slot} is beyond the chosen prefix {self.prefix}")
        return self._checksums[slot]

    def value_at(self, key: bytes, applied: int) -> bytes | None:
        """Return ``key``'s value in the state after applying slots 1..``applied``."""
        slots = self._slots.get(key)
        if not slots:
            return None
        i = bisect.bisect_right(slots, applied)
        return None if i == 0 else self._values[key][i - 1]
