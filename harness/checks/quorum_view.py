"""Which write quorum decides that a (slot, ballot) is chosen, from the checker's global view.

The online S1 check (`harness.checks.invariants`) counts durable accepts per (slot, ballot); with
membership changes a fixed majority is the wrong yardstick. A configuration takes effect when
appended (`consensus.membership`), so the leader of ballot b commits slot s with the
configuration of the last configuration entry at or below s in *its* log. That log is, from
the first slot b proposed upward, exactly what b proposed (a new leader re-proposes its whole
suffix, gaps filled with no-ops), and below it the chosen prefix the leader had committed.
So the configuration deciding (s, b) is: the last configuration b proposed at a slot <= s;
else the last chosen configuration below b's first slot; else the initial one.

The view is built only from persisted accept records and the chosen log (never from what a
replica believes), so a replica using the wrong quorum is caught, not trusted.
"""

from __future__ import annotations

import bisect

from consensus.membership import decode_config
from consensus.quorum import Membership

BallotKey = tuple[int, int]  # (round, node)


class QuorumView:
    """Configurations proposed per ballot and chosen per slot (see the module docstring)."""

    def __init__(self, initial: Membership) -> None:
        self.initial = initial
        self.changed = False  # some configuration entry was ever proposed
        self._proposed: dict[BallotKey, tuple[list[int], list[Membership]]] = {}
        self._first_slot: dict[BallotKey, int] = {}
        self._chosen_slots: list[int] = []
        self._chosen: list[Membership] = []

    def on_proposed(self, slot: int, ballot: BallotKey, command: bytes, config: bool) -> None:
        """An accept record of (slot, ballot) was seen for the first time."""
        first = self._first_slot.get(ballot)
        if first is None or slot < first:
            self._first_slot[ballot] = slot
        if config:
            self.changed = True
            slots, configs = self._proposed.setdefault(ballot, ([], []))
            i = bisect.bisect_left(slots, slot)
            slots.insert(i, slot)
            configs.insert(i, decode_config(command))

    def on_chosen(self, slot: int, command: bytes) -> None:
        """``command`` (a configuration entry) was chosen at ``slot``."""
        i = bisect.bisect_left(self._chosen_slots, slot)
        if i < len(self._chosen_slots) and self._chosen_slots[i] == slot:
            return
        self._chosen_slots.insert(i, slot)
        self._chosen.insert(i, decode_config(command))

    def config_for(self, slot: int, ballot: BallotKey) -> Membership:
        """The configuration whose write quorum decides (``slot``, ``ballot``)."""
        proposed = self._proposed.get(ballot)
        if proposed is not None:
            i = bisect.bisect_right(proposed[0], slot)
            if i:
                return proposed[1][i - 1]
        first = self._first_slot.get(ballot, slot)
        i = bisect.bisect_left(self._chosen_slots, first)
        return self._chosen[i - 1] if i else self.initial
