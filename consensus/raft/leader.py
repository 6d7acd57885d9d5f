"""The Raft leader: replication, the commit rule, leases, CheckQuorum, membership changes.

Leases (rho = drift_bound_ppm / 1e6, L = lease_duration_us). Of the two rules the contract
allows we chose **followers refuse votes while they honour a lease** (the Raft thesis'
"leader stickiness", section 4.2.3, turned into a lease), not "the new leader waits out
L(1+rho)": it needs no extra state in vote messages, it is also what defends the group
against disruptive servers, and a new leader can serve as soon as it has a quorum instead of
always waiting a full lease after every election.

- Every AppendEntries/InstallSnapshot carries the leader's local send time ``stamp_us``.
  A node that accepts it as coming from its current leader honours that leader until
  ``receipt + L`` on its own clock: until then it refuses votes and pre-votes (without
  adopting the candidate's term) and does not campaign. The leader honours itself until
  ``stamp + L`` for every stamp it sent. A restarted node assumes it honours a full lease.
- The leader's lease runs until ``t + L(1-rho)/(1+rho)`` of its own clock, where t is the
  latest stamp echoed by a quorum of the current voters (itself included;
  `consensus.quorum.quorum_time`, `consensus.quorum.lease_length_us`). In true time that ends
  before any quorum member stops honouring it: receipt >= stamp, and L local time lasts at
  least L/(1+rho) while L(1-rho)/(1+rho) lasts at most L/(1+rho).
- A new leader needs a vote from some member of every lease quorum, given only after that
  member stopped honouring the old lease: so its term starts after the old lease ended.
- It serves strong reads only while its lease is valid **and** an entry of its own term is
  committed (then it has every committed entry: Leader Completeness plus the no-op).

CheckQuorum: every election timeout the leader checks that a quorum of voters (itself
included) answered it since the last check, and steps down otherwise.
"""

from __future__ import annotations

import logging

from consensus.effects import Reply, ServeRead
from consensus.events import ClientRead, ClientWrite, Reconfigure
from consensus.quorum import lease_length_us, quorum_time
from consensus.raft.config import Role
from consensus.raft.core import RaftCore
from consensus.raft.log import Members, encode_config, is_config
from consensus.raft.messages import AppendEntries, AppendEntriesResponse, InstallSnapshot
from consensus.raft.records import encode_entry

logger = logging.getLogger(__name__)


class RaftLeader(RaftCore):
    """Leader-side behaviour of `consensus.raft.RaftReplica`."""

    # ------------------------------------------------------------------ becoming leader
    def _become_leader(self) -> None:
        assert self.role is Role.CANDIDATE and not self._pre
        self.role = Role.LEADER
        self.leader_id = self.node_id
        self._votes = set()
        last = self.log.last_index
        self._next = {p: last + 1 for p in self._peers()}
        self._match = {p: 0 for p in self._peers()}
        self._stamps, self._heard, self._pending = {}, set(), {}
        self._target = None
        self._cq_deadline = self._now + self._timing.election_timeout_us
        self._first_own = last + 1
        logger.info("node=%d becomes leader term=%d last=%d", self.node_id, self.term, last)
        if self._flags.own_term_commit:
            self._append(b"")  # the no-op that lets the leader commit (Figure 8)
        self._broadcast()

    def _append(self, command: bytes) -> int:
        index = self.log.append(self.term, command)
        self._records.append(encode_entry(index, self.term, command))
        if is_config(command):
            self._refresh_config()
        return index

    # ------------------------------------------------------------------ replication
    def _broadcast(self) -> None:
        """Send every peer what it lacks (an empty AppendEntries is the heartbeat)."""
        self._hb_due = self._now + self._timing.heartbeat_interval_us
        for p in self._peers():
            self._next[p] = self._match.get(p, 0) + 1  # resend what was not acknowledged
            self._replicate(p)

    def _replicate(self, p: int) -> None:
        log = self.log
        now = self._now
        self._own_stamp = now
        self._grant_until = max(self._grant_until, now + self._timing.lease_duration_us)
        prev = self._next.get(p, log.last_index + 1) - 1
        prev_term = log.term_at(prev)
        if prev_term is None:  # compacted away: the peer needs the snapshot
            self._send(p, InstallSnapshot(
                term=self.term, index=log.snap_index, last_term=log.snap_term,
                config=log.snap_config or self._initial_cfg, data=log.snapshot, stamp_us=now,
            ))
            self._next[p] = log.snap_index + 1
            return
        hi = min(log.last_index, prev + self.config.max_batch)
        entries = log.slice(prev + 1, hi) if hi > prev else ()
        self._send(p, AppendEntries(
            term=self.term, prev_index=prev, prev_term=prev_term, entries=entries,
            commit=self.commit_index, stamp_us=now,
        ))
        self._next[p] = hi + 1

    def _on_append_response(self, src: int, m: AppendEntriesResponse) -> None:
        if src not in self._next:
            return
        self._heard.add(src)
        if m.stamp_us > self._stamps.get(src, -1):
            self._stamps[src] = m.stamp_us
        if m.success:
            if m.match_index > self._match[src]:
                self._match[src] = m.match_index
                self._advance_commit()
            if self._next[src] <= self._match[src]:
                self._next[src] = self._match[src] + 1
            if self._match[src] < self.log.last_index and self._next[src] > self.log.last_index:
                return  # the rest is in flight
            if self._match[src] < self.log.last_index:
                self._replicate(src)
        else:
            self._next[src] = max(self._match[src] + 1, min(m.match_index + 1, self._next[src] - 1))
            self._replicate(src)

    def _advance_commit(self) -> None:
        voters = self._members.voters
        matches = [self.log.last_index if v == self.node_id else self._match.get(v, 0)
                   for v in voters]
        matches.sort(reverse=True)
        n = matches[self._members.quorum - 1]
        if n <= self.commit_index:
            return
        if self._flags.own_term_commit and self.log.term_at(n) != self.term:
            return  # only entries of the leader's own term commit by counting (Figure 8)
        self.commit_index = n

    # ------------------------------------------------------------------ lease
    def _lease_until(self) -> int:
        if self.role is not Role.LEADER:
            return 0
        stamps = [self._own_stamp if v == self.node_id else self._stamps[v]
                  for v in self._members.voters if v == self.node_id or v in self._stamps]
        t = quorum_time(stamps, self._members.quorum)
        if t is None:
            return 0
        return t + lease_length_us(self._timing.lease_duration_us, self._timing.drift_bound_ppm)

    def _serving_at(self, now_us: int) -> bool:
        return (self.role is Role.LEADER and self.commit_index >= self._first_own
                and now_us < self._lease_until())

    # ------------------------------------------------------------------ leader tick
    def _leader_tick(self) -> None:
        now = self._now
        if now >= self._cq_deadline:
            if self._flags.check_quorum and not self._members.is_quorum(
                    self._heard | {self.node_id}):
                logger.info("node=%d term=%d steps down: no quorum heard", self.node_id, self.term)
                self._become_follower(self.term, None)
                return
            self._heard = set()
            self._cq_deadline = now + self._timing.election_timeout_us
        if now >= self._hb_due:
            self._broadcast()

    def _leader_finish(self) -> None:
        """End of a leader's step: start the next configuration step if one is due."""
        if self._target is not None:
            self._maybe_change_config()
        if len(self._members.voters) == 1 and self.node_id in self._members.voters:
            self._advance_commit()

    # ------------------------------------------------------------------ clients
    def _on_client_write(self, ev: ClientWrite) -> None:
        if self.role is not Role.LEADER:
            self._refuse(ev.client_id, ev.request_id, "not-leader")
            return
        if is_config(ev.command):
            self._refuse(ev.client_id, ev.request_id, "bad-command")
            return
        index = self._append(ev.command)
        self._pending[index] = (ev.client_id, ev.request_id)
        for p in self._peers():
            if self._next[p] == index:
                self._replicate(p)

    def _on_client_read(self, ev: ClientRead) -> None:
        if not ev.strong:
            self._emit(ServeRead(client_id=ev.client_id, request_id=ev.request_id, key=ev.key,
                                 strong=False))
        elif self._serving_at(self._now):
            self._emit(ServeRead(client_id=ev.client_id, request_id=ev.request_id, key=ev.key,
                                 strong=True))
        else:
            error = "no-lease" if self.role is Role.LEADER else "not-leader"
            self._refuse(ev.client_id, ev.request_id, error)

    def _refuse(self, client_id: int, request_id: int, error: str) -> None:
        hint = self.leader_id if self.leader_id != self.node_id else None
        self._emit(Reply(client_id=client_id, request_id=request_id, error=error,
                         leader_hint=hint))

    # ------------------------------------------------------------------ membership
    def _on_reconfigure(self, ev: Reconfigure) -> None:
        """A leader starts moving to voters ``ev.storage`` and learners ``ev.logs``.

        Raises ValueError for a target without voters or with a node in both sets.
        """
        voters, learners = tuple(sorted(set(ev.storage))), tuple(sorted(set(ev.logs)))
        if not voters or set(voters) & set(learners):
            raise ValueError(f"bad raft configuration: voters={voters} learners={learners}")
        if self.role is not Role.LEADER:
            logger.info("node=%d ignored Reconfigure: not leader", self.node_id)
            return
        if self.node_id not in voters:
            logger.warning("node=%d ignored Reconfigure removing the leader", self.node_id)
            return
        self._target = Members(voters, learners)

    def _maybe_change_config(self) -> None:
        target, cur = self._target, self._members
        assert target is not None
        if target == cur:
            self._target = None
            return
        if self._cfg_index > self.commit_index:
            return  # one change at a time: the previous one must commit first
        if self._flags.config_after_own_commit and self.commit_index < self._first_own:
            return  # the 2015 fix: an entry of this term must be committed first
        step = next_step(cur, target)
        logger.info("node=%d term=%d proposes config %s", self.node_id, self.term, step)
        index = self._append(encode_config(step))
        for p in self._peers():
            if self._next[p] == index:
                self._replicate(p)


def next_step(cur: Members, target: Members) -> Members:
    """The next configuration from ``cur`` towards ``target``: at most one voter changes,
    additions (and promotions of learners) before removals."""
    for v in target.voters:
        if v not in cur.voters:
            return Members(tuple(sorted((*cur.voters, v))),
                           tuple(x for x in cur.learners if x != v))
    for lrn in target.learners:
        if lrn not in cur.learners and lrn not in cur.voters:
            return Members(cur.voters, tuple(sorted((*cur.learners, lrn))))
    for v in cur.voters:
        if v not in target.voters:
            learners = tuple(sorted((*cur.learners, v))) if v in target.learners else cur.learners
            return Members(tuple(x for x in cur.voters if x != v), learners)
    return Members(cur.voters, tuple(x for x in cur.learners if x in target.learners))
