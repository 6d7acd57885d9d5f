"""The leader half of a replica: phase-1 recovery, pipelined phase 2, leases, client replies.

Leases ("elect then wait", rho = drift_bound_ppm / 1e6, L = lease_duration_us):
- every Accept (heartbeat or proposal) is a lease round stamped with the leader's local send
  time; acceptors grant L from when they receive it and echo the stamp;
- once a majority (the leader included) echoed stamps >= t, the lease runs until
  ``t + L(1-rho)/(1+rho)`` of the leader's clock;
- a new leader first waits ``max(remaining reported by its promise quorum) * (1+rho)/(1-rho)``;
- it serves (write replies, strong reads) only while: its recovered suffix is committed (S5),
  the wait is over, and the lease is valid, checked against ``now_us`` right before each reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from consensus.acceptor import AcceptorCore
from consensus.config import ReplicaConfig
from consensus.effects import Reply, ServeRead, StartReplica
from consensus.events import ClientWrite, Compact
from consensus.healing import plan_healing
from consensus.membership import encode_config, is_config
from consensus.messages import Accept, Accepted, Release, SlotEntry
from consensus.probes import probe
from consensus.quorum import lease_length_us, lease_wait_us, next_change
from consensus.roles import CandidateState, FollowerState, LeaderState, Role, check_transition

logger = logging.getLogger(__name__)


class LeaderCore(AcceptorCore):
    """Adds the leader role and the role-state slots to `AcceptorCore`."""

    def __init__(
        self,
        config: ReplicaConfig,
        choose: Callable[[str, int], int],
        *,
        records: Sequence[bytes] = (),
        applied_slot: int = 0,
    ) -> None:
        super().__init__(config, choose, records=records, applied_slot=applied_slot)
        self._fstate: FollowerState | None = None
        self._cstate: CandidateState | None = None
        self._lstate: LeaderState | None = None
        self._timer_us = -1
        self._started = False
        self._lease_us = lease_length_us(
            self._timing.lease_duration_us, self._timing.drift_bound_ppm
        )

    def _become_follower(self, reason: str) -> None:
        raise NotImplementedError  # Replica defines it

    # ------------------------------------------------------------------ inspection
    @property
    def recovery_slot(self) -> int:
        """For a leader, the last slot it recovered in phase 1 (0 for other roles)."""
        return 0 if self._lstate is None else self._lstate.recovery_slot

    @property
    def lease_until_us(self) -> int | None:
        """Local time the leader's current lease ends (None: no lease, or not leader)."""
        ls = self._lstate
        return None if ls is None else self._lease_until(ls)

    def serving_window_us(self) -> tuple[int, int] | None:
        """The local times ``[start, end)`` at which `is_serving` holds in the current state
        (None: at none). A state changes only in a step, so a checker can map this window to
        true time between two steps and compare replicas on intervals (S6), not samples.
        Pure: changes nothing.
        """
        ls = self._lstate
        if ls is None or self.commit_index < ls.recovery_slot:
            return None
        lease = self._lease_until(ls)
        if lease is None or lease <= ls.lease_wait_until_us:
            return None
        return ls.lease_wait_until_us, lease

    def is_serving(self, now_us: int) -> bool:
        """True iff, at local time ``now_us``, this replica would answer writes and strong reads.

        Leader, recovered suffix committed, predecessors' leases waited out, own lease valid.
        Pure: changes nothing.
        """
        ls = self._lstate
        if ls is None or self.commit_index < ls.recovery_slot:
            return False
        if now_us < ls.lease_wait_until_us:
            return False
        lease = self._lease_until(ls)
        return lease is not None and now_us < lease

    def _update_quorum_stamp(self, ls: LeaderState) -> None:
        """Recompute ``ls.quorum_stamp_us`` after a stamp changed (`quorum.quorum_time`, per
        configuration, inlined: this runs on most leader steps)."""
        stamps = ls.stamps
        me = self.node_id
        own = ls.own_stamp_us
        result: int | None = None
        for info in self._pending if not self._cfg_slots else self._pending_infos():
            # a lease must be granted by a quorum of every configuration a successor may use
            times = [own if v == me else stamps[v]
                     for v in info.voters if v == me or v in stamps]
            if len(times) < info.quorum:
                ls.quorum_stamp_us = None
                return
            times.sort(reverse=True)
            t = times[info.quorum - 1]
            if result is None or t < result:
                result = t
        ls.quorum_stamp_us = result

    def _lease_until(self, ls: LeaderState) -> int | None:
        t = ls.quorum_stamp_us
        return None if t is None else t + self._lease_us

    # ------------------------------------------------------------------ becoming leader
    def _become_leader(self, cs: CandidateState) -> None:
        """Phase 1 done: adopt the highest-ballot entry per slot, re-propose the suffix."""
        check_transition(self.role, Role.LEADER)
        now = self._now
        promises = [cs.promises[n] for n in sorted(cs.promises)]
        best = None
        # a log replica's promise carries a snapshot slot but no state machine to install
        for p in [cs.promises[n] for n in sorted(cs.promises) if n not in self._log_kind]:
            if p.snapshot_slot > self.commit_index and (
                best is None or p.snapshot_slot > best.snapshot_slot
            ):
                best = p
        if best is not None:
            probe("phase1.snapshot-adopted")
            self._install(best.snapshot_slot, best.snapshot, best.config_slot, best.config)
        start = self.commit_index + 1
        merged: dict[int, SlotEntry] = {}
        for p in promises:
            for e in p.entries:
                if e.slot >= start:
                    cur = merged.get(e.slot)
                    if cur is None or e.ballot > cur.ballot:
                        if cur is not None and cur.command != e.command:
                            probe("phase1.higher-ballot-won")
                        merged[e.slot] = e
        last = max(merged, default=self.commit_index)
        wait = 0
        if self._flags.lease_wait:
            remaining = max(p.lease_remaining_us for p in promises)
            wait = lease_wait_us(remaining, self._timing.drift_bound_ppm)
            if wait:
                probe("leader.lease-wait")
        ballot = cs.ballot
        ls = LeaderState(
            ballot=ballot,
            next_slot=last + 1,
            recovery_slot=last,
            elected_us=now,
            quorum_since_us=now,
            lease_wait_until_us=now + wait,
            next_heartbeat_us=now,
            own_stamp_us=now,
            first_own_slot=start if start <= last else 0,
        )
        own = self._bit[self.node_id]
        for s in range(start, last + 1):
            got = merged.get(s)
            if got is None:
                probe("phase1.gap-filled")
            elif got.command:
                probe("phase1.value-adopted")
            self._persist_accept(s, ballot, b"" if got is None else got.command)
            ls.votes[s] = own
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "node=%d ballot=%r becomes leader: recovered slots %d..%d, lease wait %d us",
                self.node_id, ballot, start, last, wait,
            )
        self.role = Role.LEADER
        self._cstate = None
        self._fstate = None
        self._lstate = ls
        self.leader_ballot = ballot
        self._broadcast(ls)

    # ------------------------------------------------------------------ phase 2
    def _broadcast(self, ls: LeaderState) -> None:
        """A heartbeat round: to each peer, every proposed slot it has not acknowledged."""
        now = self._now
        ls.own_stamp_us = now
        self._update_quorum_stamp(ls)
        ls.next_heartbeat_us = now + self._timing.heartbeat_interval_us
        self._grant(ls.ballot)
        acc = self._durable.accepted
        votes = ls.votes
        lo, hi = self.commit_index + 1, ls.next_slot
        truncate_to = self._truncate_point(ls)
        by_first: dict[int, Accept] = {}  # peers missing the same suffix share one message
        for p in self._peers:
            b = self._bit[p]
            first = hi
            for s in range(lo, hi):
                if not votes[s] & b:
                    first = s
                    break
            msg = by_first.get(first)
            if msg is None:
                msg = by_first[first] = Accept(
                    ballot=ls.ballot,
                    first_slot=first,
                    commands=tuple([acc[s].command for s in range(first, hi)]),
                    commit_index=self.commit_index,
                    stamp_us=now,
                    truncate_to=truncate_to,
                )
            self._send(p, msg)

    def _truncate_point(self, ls: LeaderState) -> int:
        """The highest slot every storage voter (current and committed config) has applied."""
        low = self.applied_index
        for info in self._pending_infos():
            for v in info.membership.storage:
                if v != self.node_id:
                    low = min(low, ls.applied.get(v, 0))
        return low

    def _config_pending(self) -> bool:
        """True while a configuration entry is appended but not yet committed."""
        return bool(self._cfg_slots) and self._cfg_slots[-1] > self.commit_index

    def _leader_write(self, ls: LeaderState, ev: ClientWrite) -> None:
        if is_config(ev.command):
            self._out.append(Reply(client_id=ev.client_id, request_id=ev.request_id,
                                   error="reserved-command"))
            return
        # While a change is pending or wanted, writes wait: the window drains so the change
        # is ordered after every write in flight and cannot starve under load.
        if (ls.queue or ls.target is not None or self._config_pending()
                or ls.next_slot - 1 - self.commit_index >= self.config.window):
            ls.queue.append(ev)
        else:
            self._propose(ls, [ev])

    def _propose(self, ls: LeaderState, writes: list[ClientWrite]) -> None:
        """Assign slots to ``writes``, accept them durably here, send one Accept per peer."""
        ballot = ls.ballot
        own = self._bit[self.node_id]
        first = ls.next_slot
        if not ls.first_own_slot:
            ls.first_own_slot = first
        cmds = []
        for w in writes:
            s = ls.next_slot
            self._persist_accept(s, ballot, w.command)
            ls.votes[s] = own
            ls.pending[s] = (w.client_id, w.request_id)
            cmds.append(w.command)
            ls.next_slot = s + 1
        now = self._now
        ls.own_stamp_us = now
        self._update_quorum_stamp(ls)
        self._grant(ballot)
        msg = Accept(
            ballot=ballot,
            first_slot=first,
            commands=tuple(cmds),
            commit_index=self.commit_index,
            stamp_us=now,
        )
        for p in self._peers:
            self._send(p, msg)

    def _step_leader(self, src: int | None, msg: object) -> None:
        ls = self._lstate
        assert ls is not None
        if src is None:
            if self._now >= ls.next_heartbeat_us:
                self._broadcast(ls)
            if (self.config.replica_dead_after_us and ls.target is None
                    and not self._config_pending()):
                config_slot, _ = self._config_command_at(self.commit_index)
                ls.target = plan_healing(
                    self.committed_membership, leader=self.node_id, now_us=self._now,
                    heard_us=ls.heard_us, since_us=ls.elected_us,
                    dead_after_us=self.config.replica_dead_after_us, spares=self.config.spares,
                    log_spares=self.config.log_spares, applied=ls.applied,
                    config_slot=config_slot, one_step=not self._flags.single_change,
                    storage_size=len(self.config.members),
                )
                if ls.target is not None:
                    probe("leader.healing-planned")
            t = ls.quorum_stamp_us
            if t is not None and self._now >= t + self._lease_us:
                probe("leader.tick-without-lease")
            if self._now - self._quorum_heard(ls) >= self._timing.election_timeout_us:
                probe("leader.check-quorum-step-down")
                self._step_down_on_purpose("no quorum acknowledged for an election timeout")
        elif isinstance(msg, Accepted) and msg.ballot == ls.ballot:
            ls.applied[src] = max(ls.applied.get(src, 0), msg.applied_index)
            ls.heard_us[src] = self._now
            b = self._bit[src]
            votes = ls.votes
            for s in range(max(msg.first_slot, self.commit_index + 1),
                           min(msg.last_slot, ls.next_slot - 1) + 1):
                votes[s] |= b
            if msg.stamp_us > ls.stamps.get(src, -1):
                ls.stamps[src] = msg.stamp_us
                self._update_quorum_stamp(ls)

    def _leader_progress(self, ls: LeaderState) -> None:
        """Advance the commit index over chosen slots; propose queued writes into free room."""
        votes = ls.votes
        window = self.config.window
        majority_commit = self._flags.majority_commit
        bit = self._bit
        static = None if self._cfg_slots else self._pending[0]
        while True:
            s = self.commit_index + 1
            if static is not None and majority_commit:
                mask, quorum = static.mask, static.quorum
                while s < ls.next_slot and (votes[s] & mask).bit_count() >= quorum:
                    del votes[s]
                    s += 1
            else:
                while s < ls.next_slot and (
                    self._has_quorum(self.config_at(s), votes[s], bit) if majority_commit
                    else votes[s] != 0
                ):
                    del votes[s]
                    s += 1
            self.commit_index = s - 1
            if self._config_pending():
                return
            if ls.target is not None:
                self._maybe_reconfigure(ls)
            if not ls.queue:
                return
            room = window - (ls.next_slot - 1 - self.commit_index)
            if room <= 0 or ls.target is not None or self._config_pending():
                return
            batch = ls.queue[:room]
            del ls.queue[:room]
            self._propose(ls, batch)

    def _maybe_reconfigure(self, ls: LeaderState) -> None:
        """Propose the next configuration change towards ``ls.target`` if it is safe to now.

        Only with nothing in flight (so the change is ordered after every chosen write), no
        other change pending, and an entry of this ballot committed (else a no-op first): a
        leader that has not committed under its ballot may not know the latest configuration.
        """
        if ls.target is None or ls.next_slot - 1 != self.commit_index:
            return
        if not ls.first_own_slot:
            self._propose_entry(ls, b"")  # commit an entry of this ballot first
            self._broadcast(ls)
            return
        if self.commit_index < ls.first_own_slot:
            return
        current = self.membership
        nxt = next_change(current, ls.target, one_step=not self._flags.single_change)
        if nxt is None:
            ls.target = None
            return
        probe("membership.change-proposed")
        logger.info("node=%d ballot=%r proposes configuration storage=%s logs=%s",
                    self.node_id, ls.ballot, nxt.storage, nxt.logs)
        for n in nxt.voters:
            if n in current.voters:
                continue
            ls.heard_us[n] = self._now  # the failure detector counts from when it joined
            if n in self.config.spares + self.config.log_spares:
                probe("membership.spare-started")
                self._out.append(StartReplica(node_id=n, log_replica=n in nxt.logs))
        self._propose_entry(ls, encode_config(nxt))
        ls.quorum_since_us = self._now  # new voters get an election timeout to acknowledge
        self._refresh_peers()
        self._broadcast(ls)  # new voters get the log from the start of the window

    def _propose_entry(self, ls: LeaderState, command: bytes) -> None:
        """Accept ``command`` (a no-op or configuration entry) at the next slot, here first."""
        s = ls.next_slot
        if not ls.first_own_slot:
            ls.first_own_slot = s
        self._persist_accept(s, ls.ballot, command)
        ls.votes[s] = self._bit[self.node_id]
        ls.next_slot = s + 1
        self._update_quorum_stamp(ls)

    def _leader_deadline(self, ls: LeaderState) -> int:
        """Earliest of: heartbeat due, lease wait over, lease expiry, check-quorum deadline."""
        now = self._now
        at = ls.next_heartbeat_us
        if now < ls.lease_wait_until_us < at:
            at = ls.lease_wait_until_us
        t = ls.quorum_stamp_us
        if t is not None:
            expiry = t + self._lease_us
            if now < expiry < at:
                at = expiry
        heard = ls.quorum_since_us if t is None or t < ls.quorum_since_us else t
        check = heard + self._timing.election_timeout_us
        return check if check < at else at

    def _quorum_heard(self, ls: LeaderState) -> int:
        """When a quorum last acknowledged, for check-quorum (no earlier than the election or
        the last configuration change: new voters get a full election timeout)."""
        t = ls.quorum_stamp_us
        return ls.quorum_since_us if t is None else max(t, ls.quorum_since_us)

    # ------------------------------------------------------------------ clients
    def _serve_held(self, ls: LeaderState) -> None:
        """Answer held writes (applied) and strong reads (caught up) if serving right now."""
        now = self._now  # is_serving(now), inlined
        t = ls.quorum_stamp_us
        if (not (ls.pending or ls.reads) or self.commit_index < ls.recovery_slot
                or now < ls.lease_wait_until_us or t is None or now >= t + self._lease_us):
            return
        applied = self.applied_index
        out = self._out
        pending = ls.pending
        while pending:
            s = next(iter(pending))
            if s > applied:
                break
            client_id, request_id = pending.pop(s)
            out.append(Reply(client_id=client_id, request_id=request_id, slot=s))
        if ls.reads:
            keep = []
            for read_index, r in ls.reads:
                if read_index <= applied:
                    out.append(
                        ServeRead(client_id=r.client_id, request_id=r.request_id, key=r.key,
                                  strong=True)
                    )
                else:
                    keep.append((read_index, r))
            ls.reads = keep

    def _fail_held(self, ls: LeaderState) -> None:
        """Leaving leadership: proposed writes may still commit (indeterminate), queued not."""
        out = self._out
        if ls.pending:
            probe("leader.writes-in-doubt")
        for client_id, request_id in ls.pending.values():
            out.append(Reply(client_id=client_id, request_id=request_id, error="not-leader",
                             indeterminate=True))
        for w in ls.queue:
            out.append(Reply(client_id=w.client_id, request_id=w.request_id, error="not-leader"))
        for _, r in ls.reads:
            out.append(Reply(client_id=r.client_id, request_id=r.request_id, error="not-leader"))
        ls.pending = {}
        ls.queue = []
        ls.reads = []

    def _step_down_on_purpose(self, reason: str) -> None:
        """Stop serving, release the lease granted to this ballot, become a follower."""
        ls = self._lstate
        assert ls is not None
        self._release(ls.ballot)
        self._become_follower(reason)
        for p in self._peers:
            self._send(p, Release(ballot=ls.ballot))

    # ------------------------------------------------------------------ compaction
    def _on_compact(self, ev: Compact) -> None:
        """Drop entries <= ev.slot (never beyond applied_index); persist a checkpoint."""
        if ev.slot > self.applied_index:
            logger.warning(
                "node=%d ignored Compact beyond applied: slot=%d applied_index=%d",
                self.node_id, ev.slot, self.applied_index,
            )
            return
        self._compact_to(ev.slot, ev.snapshot)
