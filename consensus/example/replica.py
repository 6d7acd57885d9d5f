"""Fixed-leader primary-backup: the smallest honest protocol behind the protocol interface.

The lowest member leads forever; the others are backups. The leader appends a client write
to its log, makes it durable, ships it (`Append`); a backup makes it durable and answers
`Ack(match)`. An entry is committed once a majority (leader included) holds it durably; the
leader then applies it, acknowledges the client and tells the backups the commit index.

Assumptions (outside them it is unsafe or stuck, and the harness refuses such runs):
- the leader's disk never loses a synced record (no ``disk`` fault): a backup's log is always
  a prefix of the leader's, because the leader syncs an entry before it sends it;
- the leader is never lost for good (no ``permanent`` fault); while it is down or cut off,
  the group is unavailable: nobody takes over.
Why strong reads at the leader are linearizable without a lease: no other node ever serves
them, and after a restart the leader serves nothing until it has re-committed and applied
every entry its disk held (an acknowledged write was in it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from consensus.effects import Apply, Effect, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import ClientRead, ClientWrite, Compact, Event, Receive, Tick

VARIANTS: tuple[str, ...] = ("stale-read",)
"""``stale-read``: backups serve strong reads from their applied state (breaks S8)."""
_BATCH = 64  # entries per Append
_FOREVER = 1 << 62  # a serving window with no lease to run out


@attrs.frozen(kw_only=True)
class Append:
    """Leader -> backup: entries ``prev_index+1..`` and the leader's commit index."""

    prev_index: int
    entries: tuple[bytes, ...]
    commit: int


@attrs.frozen(kw_only=True)
class Ack:
    """Backup -> leader: my log holds entries ``1..match`` durably."""

    match: int


@attrs.frozen
class _Role:
    value: str  # what the harness reads: "leader" or "follower"


LEADER, BACKUP = _Role("leader"), _Role("follower")


def _record(index: int, command: bytes) -> bytes:
    return b"E" + index.to_bytes(8, "big") + command


class ExampleReplica:
    """One node. ``records``: its WAL (entry records), ``applied_slot``: where its state
    machine stands; entries up to it are known committed."""

    def __init__(self, node_id: int, members: Sequence[int], heartbeat_us: int,
                 variant: str | None, records: Sequence[bytes], applied_slot: int) -> None:
        if variant is not None and variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        self.node_id = node_id
        self.members = tuple(sorted(members))
        self.leader = self.members[0]
        self.role = LEADER if node_id == self.leader else BACKUP
        self.term = 0  # one leader for ever: the term never changes
        self.heartbeat_us = heartbeat_us
        self.variant = variant
        self.log: list[bytes] = []
        for raw in records:
            index = int.from_bytes(raw[1:9], "big")
            del self.log[index - 1:]  # a later record for an index replaces the suffix
            self.log.append(raw[9:])
        self.commit_index = self.applied_index = applied_slot
        self.recovery_index = len(self.log)  # the leader serves only once this is applied
        self.match = dict.fromkeys(self.members, 0)
        self.match[node_id] = len(self.log)
        self.next = dict.fromkeys(self.members, len(self.log) + 1)
        self.pending: dict[int, tuple[int, int]] = {}  # index -> (client, request) to answer

    # ---- views -------------------------------------------------------------------------
    def log_entries(self) -> list[tuple[int, int, bytes]]:
        return [(i, 0, c) for i, c in enumerate(self.log, 1)]

    @property
    def lease_until_us(self) -> int | None:
        return None

    def is_serving(self, now_us: int) -> bool:
        return self.role is LEADER and self.applied_index >= self.recovery_index

    def serving_window_us(self) -> tuple[int, int] | None:
        return (0, _FOREVER) if self.is_serving(0) else None

    def clone(self) -> ExampleReplica:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.log, new.match, new.next = list(self.log), dict(self.match), dict(self.next)
        new.pending = dict(self.pending)
        return new

    def state_fingerprint(self) -> bytes:
        return repr((self.node_id, self.log, self.commit_index, self.applied_index,
                     sorted(self.match.items()), sorted(self.next.items()),
                     sorted(self.pending.items()))).encode()

    # ---- step --------------------------------------------------------------------------
    def step(self, event: Event, now_us: int) -> list[Effect]:
        out: list[Effect] = []
        kind = type(event)
        if kind is Tick:
            if self.role is LEADER:
                for peer in self.members:
                    if peer != self.node_id:
                        self._ship(peer, out)
            out.append(SetTimer(at_us=now_us + self.heartbeat_us))
        elif kind is Receive:
            assert isinstance(event, Receive)
            if isinstance(event.msg, Append) and self.role is BACKUP:
                self._on_append(event.src, event.msg, out)
            elif isinstance(event.msg, Ack) and self.role is LEADER:
                self.match[event.src] = max(self.match[event.src], event.msg.match)
                self.next[event.src] = event.msg.match + 1
                self._advance_commit(out)
        elif kind is ClientWrite:
            assert isinstance(event, ClientWrite)
            if self.role is not LEADER:
                out.append(Reply(client_id=event.client_id, request_id=event.request_id,
                                 error="not-leader", leader_hint=self.leader))
                return out
            self.log.append(event.command)
            index = self.match[self.node_id] = len(self.log)
            self.pending[index] = (event.client_id, event.request_id)
            out.append(Persist(records=(_record(index, event.command),)))
            for peer in self.members:
                if peer != self.node_id and self.next[peer] == index:
                    self._ship(peer, out)
            self._advance_commit(out)  # a group of one commits at once
        elif kind is ClientRead:
            assert isinstance(event, ClientRead)
            serves = self.is_serving(now_us) or self.variant == "stale-read"
            if event.strong and not serves:
                out.append(Reply(client_id=event.client_id, request_id=event.request_id,
                                 error="not-leader", leader_hint=self.leader))
            else:
                out.append(ServeRead(client_id=event.client_id, request_id=event.request_id,
                                     key=event.key, strong=event.strong))
        elif kind is not Compact:  # compaction is not supported: the whole log is kept
            raise TypeError(f"example replica cannot handle event type={kind.__name__}")
        return out

    def _ship(self, peer: int, out: list[Effect]) -> None:
        start = self.next[peer]
        entries = tuple(self.log[start - 1:start - 1 + _BATCH])
        msg = Append(prev_index=start - 1, entries=entries, commit=self.commit_index)
        out.append(Send(dst=peer, msg=msg))
        self.next[peer] = start + len(entries)

    def _on_append(self, src: int, msg: Append, out: list[Effect]) -> None:
        if msg.prev_index <= len(self.log):
            records = []
            for offset, command in enumerate(msg.entries):
                index = msg.prev_index + 1 + offset
                if index > len(self.log) or self.log[index - 1] != command:
                    del self.log[index - 1:]
                    self.log.append(command)
                    records.append(_record(index, command))
            if records:
                out.append(Persist(records=tuple(records)))
            self._apply_to(msg.commit, out)  # its log is a prefix of the leader's
        out.append(Send(dst=src, msg=Ack(match=len(self.log))))

    def _advance_commit(self, out: list[Effect]) -> None:
        held = sorted((self.match[n] for n in self.members), reverse=True)
        self._apply_to(held[len(self.members) // 2], out)

    def _apply_to(self, commit: int, out: list[Effect]) -> None:
        self.commit_index = max(self.commit_index, min(commit, len(self.log)))
        while self.applied_index < self.commit_index:
            self.applied_index += 1
            out.append(Apply(slot=self.applied_index, command=self.log[self.applied_index - 1]))
            who = self.pending.pop(self.applied_index, None)
            if who is not None:
                out.append(Reply(client_id=who[0], request_id=who[1], slot=self.applied_index))


def make_replica(**kw: Any) -> ExampleReplica:
    """The registry's factory (`harness.runtime.protocols`): keywords as for Multi-Paxos;
    it draws nothing, so ``choose`` and the rest are unused."""
    return ExampleReplica(kw["node_id"], kw["members"], kw["timing"].heartbeat_interval_us,
                          kw["variant"], kw["records"], kw["applied_slot"])
