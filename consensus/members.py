"""Which configuration a replica is in, read from its own log (see `consensus.membership`).

A configuration takes effect when appended: the configuration in force at slot s is the one
set by the last configuration entry at a slot <= s in this replica's log, or, if compaction
dropped those entries, the one its durable state recorded (`records.ConfigRecord`), or the
initial one from `ReplicaConfig`.
"""

from __future__ import annotations

from consensus.config import ReplicaConfig
from consensus.membership import decode_config, is_config
from consensus.quorum import Membership
from consensus.records import DurableState


class ConfigLog:
    """Mixin: configuration lookups over ``self._durable`` (the replica's durable state).

    Call `_rescan_configs` whenever accepted entries may have changed kind (an entry at a slot
    overwritten, entries dropped); lookups are then O(number of configuration entries).
    """

    config: ReplicaConfig
    node_id: int
    commit_index: int
    _durable: DurableState

    def _init_configs(self) -> None:
        self._cfg_slots: list[int] = []
        self._cfg_memo: dict[bytes, Membership] = {}
        self._mask_memo: dict[Membership, int] = {}
        self._initial = self.config.initial
        self._rescan_configs()

    def _rescan_configs(self) -> None:
        acc = self._durable.accepted
        self._cfg_slots = sorted(s for s, e in acc.items() if is_config(e.command))

    def _decode(self, command: bytes) -> Membership:
        m = self._cfg_memo.get(command)
        if m is None:
            m = decode_config(command)
            self._cfg_memo[command] = m
        return m

    def _base_config(self) -> Membership:
        """The configuration before any entry in the log (durable record, or the initial one)."""
        d = self._durable
        return self._initial if not d.config else self._decode(d.config)

    def config_at(self, slot: int) -> Membership:
        """The configuration in force at ``slot`` by this replica's log."""
        acc = self._durable.accepted
        for s in reversed(self._cfg_slots):
            if s <= slot:
                return self._decode(acc[s].command)
        return self._base_config()

    @property
    def membership_changed(self) -> bool:
        """True iff this replica's configuration is not the initial one's by construction:
        its log or durable state holds a configuration entry (a cheap test for checkers)."""
        return bool(self._cfg_slots) or bool(self._durable.config)

    @property
    def membership(self) -> Membership:
        """The configuration this replica uses now: the last one appended to its log."""
        if self._cfg_slots:
            return self._decode(self._durable.accepted[self._cfg_slots[-1]].command)
        return self.config_at(0)

    @property
    def committed_membership(self) -> Membership:
        """The configuration in force at this replica's commit index (known chosen)."""
        return self.config_at(self.commit_index)

    @property
    def committed_config_slot(self) -> int:
        """Slot of the configuration entry in force at the commit index (0: the initial one)."""
        return self._config_command_at(self.commit_index)[0]

    def pending_memberships(self) -> list[Membership]:
        """The committed configuration, then each one appended after the commit index (in slot
        order): every configuration a leader's successor could be using."""
        if not self._cfg_slots:  # the common case: no change in the log
            return [self._base_config()]
        out = [self.committed_membership]
        acc = self._durable.accepted
        for s in self._cfg_slots:
            if s > self.commit_index:
                m = self._decode(acc[s].command)
                if m != out[-1]:
                    out.append(m)
        return out

    def _config_command_at(self, slot: int) -> tuple[int, bytes]:
        """(slot, command) of the configuration in force at ``slot`` (b"": the initial one)."""
        acc = self._durable.accepted
        for s in reversed(self._cfg_slots):
            if s <= slot:
                return s, acc[s].command
        return self._durable.config_slot, self._durable.config

    def _mask(self, m: Membership, bit: dict[int, int]) -> int:
        mask = self._mask_memo.get(m)
        if mask is None:
            mask = m.mask(bit)
            self._mask_memo[m] = mask
        return mask

    def _has_quorum(self, m: Membership, votes: int, bit: dict[int, int]) -> bool:
        """True iff the bitmask ``votes`` holds a quorum of ``m``."""
        return (votes & self._mask(m, bit)).bit_count() >= m.quorum
