"""Which configuration a replica is in, read from its own log (see `consensus.membership`).

A configuration takes effect when appended: the configuration in force at slot s is the one
set by the last configuration entry at a slot <= s in this replica's log, or, if compaction
dropped those entries, the one its durable state recorded (`records.ConfigRecord`), or the
initial one from `ReplicaConfig`.
"""

from __future__ import annotations

import attrs

from consensus.config import ReplicaConfig
from consensus.membership import decode_config, is_config
from consensus.quorum import Membership
from consensus.records import DurableState


@attrs.frozen
class QuorumInfo:
    """A configuration and the facts quorum checks need from it, computed once (frozen, so
    copiers share it)."""

    membership: Membership
    voters: tuple[int, ...]
    quorum: int
    mask: int


class ConfigLog:
    """Mixin: configuration lookups over ``self._durable`` (the replica's durable state).

    Call `_rescan_configs` whenever accepted entries may have changed kind (an entry at a slot
    overwritten, entries dropped); lookups are then O(number of configuration entries).
    """

    config: ReplicaConfig
    node_id: int
    commit_index: int
    _durable: DurableState
    _bit: dict[int, int]
    _peers_key: int | None

    def _init_configs(self) -> None:
        self._cfg_slots: list[int] = []
        self._cfg_memo: dict[bytes, Membership] = {}
        self._mask_memo: dict[Membership, int] = {}
        self._initial = self.config.initial
        self._cfg_gen = 0
        self._current = self._initial
        self._pending_gen = -1  # _cfg_gen and commit index that _pending was computed for
        self._pending_commit = -1
        self._pending: tuple[QuorumInfo, ...] = ()
        self._rescan_configs()

    def _rescan_configs(self) -> None:
        """Recompute the configuration slots and every cache derived from them (``_cfg_gen``
        counts the rescans: a cache keyed by it is invalid after one)."""
        acc = self._durable.accepted
        self._cfg_slots = sorted(s for s, e in acc.items() if is_config(e.command))
        self._cfg_gen += 1
        self._peers_key = None
        if self._cfg_slots:
            self._current = self._decode(acc[self._cfg_slots[-1]].command)
        else:
            self._current = self._base_config()
            self._pending = (self._info(self._current),)

    def _info(self, m: Membership) -> QuorumInfo:
        """``m`` with its sorted voters, quorum size and voter bitmask."""
        return QuorumInfo(m, m.voters, m.quorum, self._mask(m, self._bit))

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
        return self._current

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
        return [i.membership for i in self._pending_infos()]

    def _pending_infos(self) -> tuple[QuorumInfo, ...]:
        """`pending_memberships` with each one's quorum facts, cached until the configuration
        entries (``_cfg_gen``) or the commit index change."""
        if not self._cfg_slots:  # the common case: no change in the log (set by the rescan)
            return self._pending
        if self._pending_gen == self._cfg_gen and self._pending_commit == self.commit_index:
            return self._pending
        out = [self.committed_membership]
        acc = self._durable.accepted
        for s in self._cfg_slots:
            if s > self.commit_index:
                m = self._decode(acc[s].command)
                if m != out[-1]:
                    out.append(m)
        self._pending = tuple(self._info(m) for m in out)
        self._pending_gen, self._pending_commit = self._cfg_gen, self.commit_index
        return self._pending

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
