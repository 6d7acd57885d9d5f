"""The sans-I/O Raft node: `RaftReplica.step(event, now_us) -> effects`.

`step` first does what every role shares (term comparison: a higher term makes the node a
follower of it, persisted before anything that relies on it leaves) and then the message's
or event's own handler. Elections use PreVote (a node asks whether it would win before it
bumps its term) and randomized timeouts drawn through ``choose("election.jitter", ...)``.
Leader work (replication, commit, leases, CheckQuorum, membership) is in
`consensus.raft.leader`; the shared state in `consensus.raft.core`.

Time is the node's local clock in integer microseconds; the node never reads a clock and
draws randomness only through ``choose`` (choice 0 is the nominal path).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from consensus.effects import Effect, InstallSnapshot, Persist, SetTimer
from consensus.events import (
    ClientRead,
    ClientWrite,
    Compact,
    Event,
    Receive,
    Reconfigure,
    StepDown,
    Tick,
)
from consensus.raft.config import RaftConfig, Role
from consensus.raft.core import Choose
from consensus.raft.leader import RaftLeader
from consensus.raft.log import decode_config, is_config
from consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    RequestVote,
    RequestVoteResponse,
)
from consensus.raft.messages import InstallSnapshot as InstallSnapshotMsg
from consensus.raft.records import RaftDurable, encode_entry, encode_truncate, replay
from consensus.raft.state import clone_raft, fingerprint_raft

logger = logging.getLogger(__name__)


class RaftReplica(RaftLeader):
    """One Raft node, stepped by its host.

    ``RaftReplica(config, choose, records=(), applied_slot=0)``: ``records`` are the WAL
    records the host still has, in order; ``applied_slot`` is where the host's state machine
    stands. Raises ValueError for a record that does not decode or an ``applied_slot``
    beyond the recovered log. The host steps a `Tick` first.

    Read-only views: ``node_id``, ``role`` (`consensus.raft.Role`), ``term``, ``voted_for``,
    ``commit_index``, ``applied_index``, `log_entries`, ``first_index``, ``snapshot_index``,
    ``lease_until_us``, ``members`` (voters) / ``learners`` of the configuration in force,
    ``is_serving``, ``leader_id``, `term_at`.
    """

    def __init__(self, config: RaftConfig, choose: Choose, records: Iterable[bytes] = (),
                 applied_slot: int = 0) -> None:
        super().__init__(config, choose)
        records = list(records)
        durable = replay(records)
        if applied_slot < 0 or applied_slot > durable.log.last_index:
            raise ValueError(
                f"applied_slot={applied_slot} outside the recovered log "
                f"(last index {durable.log.last_index})"
            )
        self.term, self.voted_for, self.log = durable.term, durable.voted_for, durable.log
        self._recovered = bool(records)
        self.applied_index = applied_slot
        self.commit_index = max(applied_slot, self.log.snap_index)
        self._refresh_config()
        if self.node_id in self._members.learners:
            self.role = Role.LEARNER

    # ------------------------------------------------------------------ views
    @property
    def lease_until_us(self) -> int:
        """Local time until which this leader may serve strong reads (0: none)."""
        return self._lease_until() if self.commit_index >= self._first_own else 0

    @property
    def is_serving(self) -> bool:
        """Leader with a valid lease (at the last step's time) and its own entry committed."""
        return self._serving_at(self._now)

    @property
    def members(self) -> tuple[int, ...]:
        """The voters of the configuration in force (the latest in the log)."""
        return self._members.voters

    @property
    def learners(self) -> tuple[int, ...]:
        """The learners of the configuration in force."""
        return self._members.learners

    @property
    def first_index(self) -> int:
        """The first index held in the log (snapshot index + 1)."""
        return self.log.snap_index + 1

    @property
    def snapshot_index(self) -> int:
        return self.log.snap_index

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index`` (at the snapshot point, the snapshot's); None if
        this node does not hold it (beyond its log, or compacted into its snapshot)."""
        return self.log.term_at(index)

    def log_entries(self) -> Iterator[tuple[int, int, bytes]]:
        """``(index, term, command)`` for every entry held."""
        return self.log.items()

    def clone(self) -> RaftReplica:
        """An independent copy (`consensus.raft.state`)."""
        return clone_raft(self)

    def state_fingerprint(self) -> bytes:
        """Canonical bytes of the whole state (`consensus.raft.state`)."""
        return fingerprint_raft(self)

    # ------------------------------------------------------------------ step
    def step(self, event: Event, now_us: int) -> list[Effect]:
        """Handle ``event`` at local time ``now_us``; the effects in the order to perform.

        Raises TypeError for an unknown event type; a malformed peer message is dropped.
        """
        self._out = []
        self._now = now_us
        if not self._started:
            self._start()
        handler = _EVENTS.get(type(event))
        if handler is None:
            raise TypeError(f"step needs a consensus event, got type={type(event).__name__}")
        handler(self, event)
        self._finish()
        out = self._out
        self._out = []
        return out

    def _start(self) -> None:
        self._started = True
        if self._recovered:  # it may have honoured a lease just before the crash
            self._grant_until = self._now + self._timing.lease_duration_us
        self._deadline = self._now + self._draw_timeout()
        if self.applied_index < self.log.snap_index:
            self._emit(InstallSnapshot(slot=self.log.snap_index, snapshot=self.log.snapshot))
            self.applied_index = self.log.snap_index

    def _finish(self) -> None:
        if self.role is Role.LEADER:
            self._leader_finish()
        self._apply_committed()
        self._flush()
        leading = self.role is Role.LEADER
        at = min(self._hb_due, self._cq_deadline) if leading else self._deadline
        if at != self._timer_at:
            self._timer_at = at
            self._out.append(SetTimer(at_us=at))

    def _on_tick(self, ev: Tick) -> None:
        if self.role is Role.LEADER:
            self._leader_tick()
        elif self._now >= self._deadline:
            self._campaign()

    # ------------------------------------------------------------------ elections
    def _in_lease(self) -> bool:
        return self._now < self._grant_until

    def _campaign(self) -> None:
        if self.node_id not in self._members.voters:
            self._deadline = self._now + self._draw_timeout()
            return
        if self._in_lease():  # never campaign against a lease this node honours
            jitter = self._choose("election.jitter", self._timing.election_jitter_us + 1)
            self._deadline = self._grant_until + jitter
            return
        self.role = Role.CANDIDATE
        self.leader_id = None
        self._votes = {self.node_id}
        self._deadline = self._now + self._draw_timeout()
        self._pre = self._flags.pre_vote
        if self._pre:
            ask = self.term + 1
        else:
            self.term, self.voted_for = self.term + 1, self.node_id
            self._persist_hard()
            ask = self.term
        msg = RequestVote(term=ask, last_index=self.log.last_index, last_term=self.log.last_term,
                          pre_vote=self._pre)
        for p in self._members.voters:
            if p != self.node_id:
                self._send(p, msg)
        self._check_votes()

    def _check_votes(self) -> None:
        if not self._members.is_quorum(frozenset(self._votes)):
            return
        if self._pre:
            self._pre = False
            self._campaign_for_real()
        else:
            self._become_leader()

    def _campaign_for_real(self) -> None:
        self.term, self.voted_for = self.term + 1, self.node_id
        self._persist_hard()
        self._votes = {self.node_id}
        msg = RequestVote(term=self.term, last_index=self.log.last_index,
                          last_term=self.log.last_term)
        for p in self._members.voters:
            if p != self.node_id:
                self._send(p, msg)
        self._check_votes()

    def _up_to_date(self, m: RequestVote) -> bool:
        return (m.last_term, m.last_index) >= (self.log.last_term, self.log.last_index)

    def _on_request_vote(self, src: int, m: RequestVote) -> None:
        if m.pre_vote:
            granted = (m.term > self.term and not self._in_lease() and self._up_to_date(m)
                       and self.role is not Role.LEARNER)
            self._send(src, RequestVoteResponse(term=m.term if granted else self.term,
                                                granted=granted, pre_vote=True))
            return
        if m.term < self.term or (m.term > self.term and self._in_lease()):
            self._send(src, RequestVoteResponse(term=self.term, granted=False))
            return
        if m.term > self.term:
            self._become_follower(m.term, None)
        granted = (self.voted_for in (None, src) and self._up_to_date(m)
                   and self.role is not Role.LEADER and self.role is not Role.LEARNER)
        if granted:
            if self.voted_for != src:
                self.voted_for = src
                self._persist_hard()
            self._deadline = self._now + self._draw_timeout()
        self._send(src, RequestVoteResponse(term=self.term, granted=granted))

    def _on_vote_response(self, src: int, m: RequestVoteResponse) -> None:
        if self.role is not Role.CANDIDATE or src not in self._members.voters:
            return
        want = self.term + 1 if self._pre else self.term
        if m.granted and m.pre_vote == self._pre and m.term == want:
            self._votes.add(src)
            self._check_votes()

    # ------------------------------------------------------------------ follower side
    def _accept_leader(self, src: int) -> None:
        """``src`` leads this node's term: follow it and honour its lease."""
        if self.role is Role.LEADER:
            logger.error("node=%d term=%d: a second leader src=%d", self.node_id, self.term, src)
            return
        if self.role is Role.CANDIDATE or self.leader_id != src:
            self._become_follower(self.term, src)
        self._deadline = self._now + self._draw_timeout()
        self._grant_until = max(self._grant_until, self._now + self._timing.lease_duration_us)

    def _on_append(self, src: int, m: AppendEntries) -> None:
        self._accept_leader(src)
        if self.role is Role.LEADER:
            return
        log = self.log
        prev, prev_term, entries = m.prev_index, m.prev_term, m.entries
        if prev < log.snap_index:  # the prefix is in our snapshot, hence committed and equal
            skip = log.snap_index - prev
            if len(entries) < skip:
                self._respond(src, m.stamp_us, True, log.snap_index)
                return
            prev, prev_term, entries = log.snap_index, entries[skip - 1][0], entries[skip:]
        if log.term_at(prev) != prev_term:
            hint = min(log.last_index, prev - 1)
            self._respond(src, m.stamp_us, False, max(hint, self.commit_index))
            return
        index = prev
        config_changed = False
        for term, command in entries:
            index += 1
            have = log.term_at(index)
            if have == term:
                continue
            if have is not None:
                if index <= self.commit_index:  # only a broken variant gets here
                    logger.error("node=%d truncates committed index=%d", self.node_id, index)
                log.truncate_from(index)
                self._records.append(encode_truncate(index))
                config_changed |= index <= self._cfg_index
            log.append(term, command)
            self._records.append(encode_entry(index, term, command))
            config_changed |= is_config(command)
        last_new = prev + len(entries)
        if config_changed:  # (scanning the log for it on every message would cost O(log))
            self._refresh_config()
        if m.commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(m.commit, last_new))
        self._respond(src, m.stamp_us, True, last_new)

    def _on_install_snapshot(self, src: int, m: InstallSnapshotMsg) -> None:
        self._accept_leader(src)
        if self.role is Role.LEADER:
            return
        if m.index > self.commit_index:
            decode_config(m.config)  # raises ValueError on a malformed one: dropped below
            self.log.compact(m.index, m.last_term, m.config, m.data)
            self._out.append(Persist(records=self._checkpoint(), checkpoint=True))
            self.commit_index = m.index
            if self.applied_index < m.index:
                self._emit(InstallSnapshot(slot=m.index, snapshot=m.data))
                self.applied_index = m.index
            self._refresh_config()
        self._respond(src, m.stamp_us, True, m.index)

    def _checkpoint(self) -> tuple[bytes, ...]:
        """Records rebuilding the whole durable state; earlier unflushed ones are subsumed."""
        self._flush()
        return RaftDurable(self.term, self.voted_for, self.log).checkpoint_records()

    def _respond(self, src: int, stamp: int, success: bool, match: int) -> None:
        self._send(src, AppendEntriesResponse(term=self.term, success=success,
                                              match_index=match, stamp_us=stamp))

    # ------------------------------------------------------------------ receive
    def _on_receive(self, ev: Receive) -> None:
        src, m = ev.src, ev.msg
        handler = _MESSAGES.get(type(m))
        if handler is None or src == self.node_id or src < 0:
            logger.warning("node=%d dropped message src=%d type=%s", self.node_id, src,
                           type(m).__name__)
            return
        term = m.term
        if term > self.term:
            if isinstance(m, RequestVote) and (m.pre_vote or self._in_lease()):
                pass  # never adopt a term from a pre-vote, nor from a vote against a lease
            elif isinstance(m, RequestVoteResponse) and m.pre_vote and m.granted:
                pass  # a granted pre-vote echoes the term asked for
            else:
                leader = src if isinstance(m, AppendEntries | InstallSnapshotMsg) else None
                self._become_follower(term, leader)
        elif term < self.term:
            if isinstance(m, AppendEntries | InstallSnapshotMsg):
                self._respond(src, m.stamp_us, False, 0)  # tells a stale leader to step down
                return
            if not isinstance(m, RequestVote):
                return
        try:
            handler(self, src, m)
        except ValueError as exc:
            logger.warning("node=%d dropped malformed message from src=%d: %s", self.node_id,
                           src, exc)

    def _on_append_response_any(self, src: int, m: AppendEntriesResponse) -> None:
        if self.role is Role.LEADER and m.term == self.term:
            self._on_append_response(src, m)

    # ------------------------------------------------------------------ host events
    def _on_compact(self, ev: Compact) -> None:
        slot = ev.slot
        if slot <= self.log.snap_index or slot > self.applied_index:
            return
        term = self.log.term_at(slot)
        assert term is not None
        config = self.log.config_before(slot, self._initial_cfg)
        self.log.compact(slot, term, config, ev.snapshot)
        self._out.append(Persist(records=self._checkpoint(), checkpoint=True))

    def _on_step_down(self, ev: StepDown) -> None:
        if self.role is Role.LEADER:
            self._become_follower(self.term, None)


def make_replica(**kw: Any) -> RaftReplica:
    """Build a node from `harness.runtime.backend.MakeReplica` keywords (node_id, members,
    timing, variant, choose, records, applied_slot; ``learners`` optional; others ignored)."""
    config = RaftConfig(
        node_id=kw["node_id"], members=tuple(kw["members"]),
        learners=tuple(kw.get("learners", ())), timing=kw["timing"], variant=kw.get("variant"),
    )
    records: Sequence[bytes] = kw.get("records", ())
    return RaftReplica(config, kw["choose"], records=records,
                       applied_slot=kw.get("applied_slot", 0))


_EVENTS: dict[type, Callable[[RaftReplica, Any], None]] = {
    Tick: RaftReplica._on_tick,
    Receive: RaftReplica._on_receive,
    ClientWrite: RaftReplica._on_client_write,
    ClientRead: RaftReplica._on_client_read,
    Compact: RaftReplica._on_compact,
    StepDown: RaftReplica._on_step_down,
    Reconfigure: RaftReplica._on_reconfigure,
}

_MESSAGES: dict[type, Callable[[RaftReplica, int, Any], None]] = {
    RequestVote: RaftReplica._on_request_vote,
    RequestVoteResponse: RaftReplica._on_vote_response,
    AppendEntries: RaftReplica._on_append,
    AppendEntriesResponse: RaftReplica._on_append_response_any,
    InstallSnapshotMsg: RaftReplica._on_install_snapshot,
}
