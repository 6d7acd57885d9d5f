"""The Multi-Paxos replica with leader leases: `Replica.step(event, now_us) -> effects`.

Structure (after etcd's raft): `step` does what every role shares (ballot comparison, stepping
down on a higher ballot, the acceptor's answers) and then calls the current role's step
function; `_become_<role>` checks the transition against `roles.TRANSITIONS` and sets every
role-dependent field at once. Leader logic (phase 2, leases, client replies) is in
`consensus.leader`; the acceptor/learner half in `consensus.acceptor`.

Time is the node's local clock in integer microseconds, passed with every event; the replica
never reads a clock and draws randomness only through ``choose``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from consensus.ballot import Ballot
from consensus.effects import Effect, Reply, ServeRead, SetTimer
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
from consensus.leader import LeaderCore
from consensus.membership import is_config
from consensus.messages import (
    Accept,
    Accepted,
    CatchUpReply,
    CatchUpRequest,
    Nack,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Release,
)
from consensus.probes import probe
from consensus.quorum import Membership
from consensus.replica_state import clone_replica, fingerprint
from consensus.roles import CandidateState, FollowerState, Role, check_transition

logger = logging.getLogger(__name__)


class Replica(LeaderCore):
    """One member of a replica group: a pure state machine stepped by its host.

    ``Replica(config, choose, *, records=(), applied_slot=0)``: ``records`` are every WAL
    record the host still has, in order (empty for a new replica); ``applied_slot`` is where
    the host's state machine checkpoint stands (0: nothing applied). ``choose(label, n)``
    returns an int in [0, n), 0 being the nominal choice; it is the only randomness. After
    construction the host must call ``step(Tick(), now_us)`` before anything else (a restarted
    acceptor assumes from then on that it granted a full lease). Raises ValueError if a
    record does not decode (`consensus.records.decode_record`) or applied_slot < 0.

    Read-only for hosts and checkers (never assign to them):

    Attributes:
        node_id: this replica's id.
        role: `Role.FOLLOWER`, `Role.CANDIDATE` or `Role.LEADER`.
        promised: highest ballot promised (property).
        leader_ballot: ballot of the leader this replica follows or is, None if unknown.
        accepted: slot -> `Entry` durably accepted and still in the log (property).
        commit_index: every slot <= it is known chosen here (0: none).
        applied_index: last slot emitted as Apply or InstallSnapshot.
        recovery_slot: a leader's recovered suffix end (property; 0 for other roles).
        lease_until_us: local time the leader's lease ends, or None (property).
    """

    def step(self, event: Event, now_us: int) -> list[Effect]:
        """Handle ``event`` at local time ``now_us``; return effects in the order to perform.

        Raises TypeError for an event of unknown type (host misuse; dispatch is on the exact
        type, so a subclass of an event class is unknown too). A malformed or unexpected
        message from a peer is dropped and logged, never raised.
        """
        out: list[Effect] = []
        self._out = out
        self._now = now_us
        if not self._started:
            self._start()
        handler = _EVENT_HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"step needs a consensus event, got type={type(event).__name__}")
        handler(self, event)
        self._finish()
        return out

    # ------------------------------------------------------------------ shared step
    def _start(self) -> None:
        """First step of an incarnation: a restarted acceptor assumes it granted a full lease."""
        self._started = True
        if self._recovered:
            self._grant_until_us = self._now + self._timing.lease_duration_us
            self._grant_ballot = None
        self._become_follower("start")

    def _on_receive(self, ev: Receive) -> None:
        src, msg = ev.src, ev.msg
        handler = _HANDLERS.get(type(msg))
        if handler is None or src not in self._bit or src == self.node_id:
            logger.warning(
                "node=%d dropped message from src=%d type=%s", self.node_id, src, type(msg)
            )
            return
        view: Ballot = msg.ballot
        if view.round > self._max_round:
            self._max_round = view.round
        own = self._lstate.ballot if self._lstate is not None else (
            self._cstate.ballot if self._cstate is not None else None)
        if own is not None and view > own:
            self._become_follower(f"saw ballot={view!r}")
        handler(self, src, msg)

    def _step_role(self, src: int | None, msg: object) -> None:
        """Dispatch a tick (src None) or a role-specific message to the current role."""
        if self.role is Role.LEADER:
            self._step_leader(src, msg)
        elif self.role is Role.CANDIDATE:
            self._step_candidate(src, msg)
        else:
            self._step_follower(src, msg)

    def _own_ballot(self) -> Ballot | None:
        if self._lstate is not None:
            return self._lstate.ballot
        if self._cstate is not None:
            return self._cstate.ballot
        return None

    def _finish(self) -> None:
        """End of every step: apply, answer held clients, persist, re-arm the timer."""
        ls = self._lstate
        if ls is not None:
            self._leader_progress(ls)
        if self.applied_index < self.commit_index:
            self._apply_committed()
        if self._cfg_slots or self._peers_key is None:
            self._refresh_peers()
        if ls is not None and self._lstate is ls and (ls.pending or ls.reads):
            self._serve_held(ls)
        if self._pending_records:
            self._flush()
        if self._lstate is not None:
            at = self._leader_deadline(self._lstate)
        elif self._cstate is not None:
            at = self._cstate.deadline_us
        else:
            at = self._fstate.deadline_us  # type: ignore[union-attr]  # one role state is set
        if at != self._timer_us:
            self._timer_us = at
            self._out.append(SetTimer(at_us=at))

    def _next_deadline(self) -> int:
        if self._lstate is not None:
            return self._leader_deadline(self._lstate)
        if self._cstate is not None:
            return self._cstate.deadline_us
        assert self._fstate is not None
        return self._fstate.deadline_us

    # ------------------------------------------------------------------ follower
    def _become_follower(self, reason: str) -> None:
        check_transition(self.role, Role.FOLLOWER)
        if self._lstate is not None:
            self._fail_held(self._lstate)
        if self.role is not Role.FOLLOWER:
            self.leader_ballot = None
            self._last_heard_us = None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("node=%d ballot=%r becomes follower: %s", self.node_id, self._promised,
                         reason)
        self.role = Role.FOLLOWER
        self._lstate = None
        self._cstate = None
        timeout = self._draw_timeout()
        self._fstate = FollowerState(timeout_us=timeout, deadline_us=self._now + timeout)

    def _on_follow(self, ballot: Ballot) -> None:
        fs = self._fstate
        if self.role is Role.FOLLOWER and fs is not None:
            fs.deadline_us = self._now + fs.timeout_us

    def _on_promised(self) -> None:
        fs = self._fstate
        if self.role is Role.FOLLOWER and fs is not None:
            fs.deadline_us = self._now + fs.timeout_us  # give the candidate time to finish

    def _step_follower(self, src: int | None, msg: object) -> None:
        fs = self._fstate
        assert fs is not None
        if src is None:
            if self._now < fs.deadline_us:
                return
            if not self._may_lead():
                fs.deadline_us = self._now + fs.timeout_us
                return
            # Gray-failure check: campaign only if a majority (self included) hears no leader.
            probe("follower.gray-check")
            fs.probe_id += 1
            fs.not_hearing = self._bit[self.node_id]
            fs.timeout_us = self._draw_timeout()
            fs.deadline_us = self._now + fs.timeout_us
            for p in self._peers:
                self._send(p, Probe(ballot=self._promised, probe_id=fs.probe_id))
        elif isinstance(msg, ProbeReply):
            if msg.probe_id != fs.probe_id or msg.hears or fs.probe_id == 0:
                return
            fs.not_hearing |= self._bit[src]
        else:
            return
        if self._may_lead() and self._has_quorum(self.membership, fs.not_hearing, self._bit):
            self._become_candidate()

    def _may_lead(self) -> bool:
        """Only a storage voter of its current configuration ever campaigns (S13)."""
        return not self._is_log and self.node_id in self.membership.storage

    # ------------------------------------------------------------------ candidate
    def _become_candidate(self) -> None:
        check_transition(self.role, Role.CANDIDATE)
        self._max_round += 1
        ballot = Ballot(self._max_round, self.node_id)
        self._promise(ballot)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("node=%d ballot=%r becomes candidate", self.node_id, ballot)
        self.role = Role.CANDIDATE
        self.leader_ballot = None
        self._fstate = None
        from_slot = self.commit_index + 1
        cs = CandidateState(
            ballot=ballot, deadline_us=self._now + self._draw_timeout(), from_slot=from_slot
        )
        self._cstate = cs
        cs.promises[self.node_id] = self._own_promise(ballot, from_slot)
        cs.asked = self._bit[self.node_id]
        self._ask(cs, self._peers)
        self._check_phase1(cs)

    def _ask(self, cs: CandidateState, nodes: Iterable[int]) -> None:
        """Send the Prepare to every node of ``nodes`` not asked yet."""
        for p in nodes:
            b = self._bit.get(p, 0)
            if b and not cs.asked & b:
                cs.asked |= b
                self._send(p, Prepare(ballot=cs.ballot, from_slot=cs.from_slot))

    def _check_phase1(self, cs: CandidateState) -> None:
        """Become leader once the promises hold a quorum of every configuration that may
        govern a slot >= from_slot: the one in force before it, and every one they report."""
        configs = [self.config_at(cs.from_slot - 1)]
        newest = (0, configs[0])
        for p in cs.promises.values():
            if p.config and p.snapshot_slot >= cs.from_slot:
                configs.append(self._decode(p.config))
                newest = max(newest, (p.config_slot, configs[-1]), key=_first)
            for e in p.entries:
                if is_config(e.command):
                    configs.append(self._decode(e.command))
                    newest = max(newest, (e.slot, configs[-1]), key=_first)
        if self.node_id not in newest[1].storage:
            # removed while away: leading a group it is no longer in would only disrupt it
            self._become_follower(f"not a storage voter of {newest[1]}")
            return
        promised = 0
        for n in cs.promises:
            promised |= self._bit[n]
        ready = True
        for cfg in configs:
            if not self._has_quorum(cfg, promised, self._bit):
                ready = False
                self._ask(cs, cfg.voters)
        if not ready:
            return
        # A log replica drops slots every storage replica applied; a candidate that is behind
        # its truncation point must first catch up from a storage replica.
        real = max((p.snapshot_slot for n, p in cs.promises.items() if n not in self._log_kind),
                   default=0)
        behind = max(
            (p.snapshot_slot for n, p in cs.promises.items() if n in self._log_kind), default=0
        )
        if behind > max(real, self.commit_index):
            self._become_follower(f"behind a log replica's truncation at slot={behind}")
            storage_peers = [p for p in self._peers if p not in self._log_kind]
            if storage_peers:
                self._request_catch_up(storage_peers[0], self.commit_index + 1)
            return
        self._become_leader(cs)

    def _step_candidate(self, src: int | None, msg: object) -> None:
        cs = self._cstate
        assert cs is not None
        if src is None:
            if self._now >= cs.deadline_us:
                probe("phase1.retried")
                self._become_candidate()  # phase 1 did not finish: a higher round
        elif isinstance(msg, Promise) and msg.ballot == cs.ballot:
            cs.promises[src] = msg
            self._check_phase1(cs)

    # ------------------------------------------------------------------ clients
    def _on_client_write(self, ev: ClientWrite) -> None:
        ls = self._lstate
        if ls is None:
            probe("client.refused-not-leader")
            self._refuse(ev, "not-leader")
            return
        self._leader_write(ls, ev)

    def _on_client_read(self, ev: ClientRead) -> None:
        if self._is_log:  # S13: a log replica has no state to read from
            probe("client.refused-log-replica")
            self._refuse(ev, "log-replica")
            return
        if not ev.strong or not self._flags.strong_read_needs_lease:
            self._out.append(
                ServeRead(
                    client_id=ev.client_id, request_id=ev.request_id, key=ev.key, strong=ev.strong
                )
            )
            return
        ls = self._lstate
        if ls is None:
            probe("client.refused-not-leader")
            self._refuse(ev, "not-leader")
            return
        ls.reads.append((self.commit_index, ev))

    def _refuse(self, ev: ClientWrite | ClientRead, error: str) -> None:
        """Answer a request this replica will not serve, naming the leader if it knows one."""
        self._out.append(
            Reply(
                client_id=ev.client_id,
                request_id=ev.request_id,
                error=error,
                leader_hint=self._leader_hint(),
            )
        )

    def _on_reconfigure(self, ev: Reconfigure) -> None:
        """A leader starts moving to the configuration ``ev`` names; others ignore it."""
        target = Membership(ev.storage, ev.logs)
        ls = self._lstate
        if ls is None:
            logger.info("node=%d ignored Reconfigure: not leader", self.node_id)
            return
        if self.node_id not in target.storage:
            logger.warning("node=%d ignored Reconfigure removing the leader itself",
                           self.node_id)
            return
        ls.target = target

    def _leader_hint(self) -> int | None:
        b = self.leader_ballot
        return None if b is None or b.node == self.node_id else b.node

    # ------------------------------------------------------------------ copies
    def clone(self) -> Replica:
        """Return an independent copy: stepping either never changes the other.

        Shares only immutable values (and ``choose``); several times cheaper than
        `copy.deepcopy`. See `consensus.replica_state`.
        """
        return clone_replica(self)

    def state_fingerprint(self) -> bytes:
        """Canonical bytes of the whole replica state (durable and volatile), for dedup.

        Built from ints, bytes and tuples only (never ``hash()``), so equal states give equal
        bytes in every process; layout in `consensus.replica_state`.
        """
        return fingerprint(self)


def _first(pair: tuple[int, Membership]) -> int:
    return pair[0]


def _on_tick(self: Replica, ev: Tick) -> None:
    role = self.role
    if role is Role.LEADER:
        self._step_leader(None, None)
    elif role is Role.CANDIDATE:
        self._step_candidate(None, None)
    else:
        self._step_follower(None, None)


def _on_step_down(self: Replica, ev: StepDown) -> None:
    if self.role is Role.LEADER:
        self._step_down_on_purpose("asked to")


_EVENT_HANDLERS: dict[type, Callable[[Replica, Any], None]] = {
    Receive: Replica._on_receive,
    Tick: _on_tick,
    ClientWrite: Replica._on_client_write,
    ClientRead: Replica._on_client_read,
    Compact: Replica._on_compact,
    StepDown: _on_step_down,
    Reconfigure: Replica._on_reconfigure,
}
"""Event type -> handler (`Replica.step` dispatches on the exact type)."""


_HANDLERS: dict[type, Callable[[Replica, int, object], None]] = {
    Prepare: Replica._on_prepare,  # type: ignore[dict-item]
    Accept: Replica._on_accept,  # type: ignore[dict-item]
    Release: Replica._on_release,  # type: ignore[dict-item]
    Probe: Replica._on_probe,  # type: ignore[dict-item]
    CatchUpRequest: Replica._on_catch_up_request,  # type: ignore[dict-item]
    CatchUpReply: Replica._on_catch_up_reply,  # type: ignore[dict-item]
    Promise: Replica._step_role,
    Nack: Replica._step_role,
    Accepted: Replica._step_role,
    ProbeReply: Replica._step_role,
}
