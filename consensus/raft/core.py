"""The state every Raft role shares and the helpers every role uses.

`RaftCore` holds the durable state (term, vote, log) and the volatile state of all roles;
`consensus.raft.leader.RaftLeader` adds the leader's work and `consensus.raft.replica.
RaftReplica` the event dispatch, elections and the follower's side.

Two rules are enforced here, once: records produced by a step are flushed as one `Persist`
before any other effect of that step leaves (`_emit`), so nothing a message or an Apply
relies on can be lost in a crash; and every role change goes through `_become_follower`
or the candidate/leader transitions in the subclasses, which reset the role's fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from consensus.config import Timing
from consensus.effects import Apply, Effect, Persist, Reply, Send
from consensus.raft.config import RaftConfig, RaftFlags, Role
from consensus.raft.log import Members, RaftLog, decode_config, encode_config, is_config
from consensus.raft.records import encode_hard

logger = logging.getLogger(__name__)

Choose = Callable[[str, int], int]


class RaftCore:
    """Shared state and helpers (not used on its own; see `consensus.raft.RaftReplica`)."""

    def __init__(self, config: RaftConfig, choose: Choose) -> None:
        self.config = config
        self.node_id = config.node_id
        self._choose = choose
        self._flags: RaftFlags = config.flags
        self._timing: Timing = config.timing
        self._initial_cfg = encode_config(Members(config.members, config.learners))
        # durable (mirrored in the WAL)
        self.term = 0
        self.voted_for: int | None = None
        self.log = RaftLog()
        # volatile, all roles
        self.role = Role.FOLLOWER
        self.leader_id: int | None = None
        self.commit_index = 0
        self.applied_index = 0
        self._members = Members(config.members, config.learners)
        self._cfg_index = 0
        self._cfg_cmd = self._initial_cfg
        self._grant_until = 0  # local time until which this node honours a leader's lease
        self._deadline = 0  # follower/candidate: election deadline
        self._pre = False  # candidate: still in the pre-vote phase
        self._votes: set[int] = set()
        # leader
        self._next: dict[int, int] = {}
        self._match: dict[int, int] = {}
        self._stamps: dict[int, int] = {}
        self._own_stamp = 0
        self._heard: set[int] = set()
        self._cq_deadline = 0
        self._hb_due = 0
        self._pending: dict[int, tuple[int, int]] = {}
        self._target: Members | None = None
        self._first_own = 0  # first index of the leader's own term
        # per step
        self._records: list[bytes] = []
        self._out: list[Effect] = []
        self._now = 0
        self._timer_at = -1
        self._started = False
        self._recovered = False

    # ------------------------------------------------------------------ effects
    def _flush(self) -> None:
        if self._records:
            self._out.append(Persist(records=tuple(self._records)))
            self._records = []

    def _emit(self, effect: Effect) -> None:
        """Append a non-Persist effect, after every record the step produced so far."""
        self._flush()
        self._out.append(effect)

    def _send(self, dst: int, msg: object) -> None:
        self._emit(Send(dst=dst, msg=msg))

    def _persist_hard(self) -> None:
        self._records.append(encode_hard(self.term, self.voted_for))

    def _draw_timeout(self) -> int:
        t = self._timing
        return t.election_timeout_us + self._choose("election.jitter", t.election_jitter_us + 1)

    # ------------------------------------------------------------------ configuration
    def _refresh_config(self) -> None:
        """Adopt the latest configuration in the log (configurations apply when appended)."""
        index, command = self.log.config_at_end(self._initial_cfg)
        if index == self._cfg_index and command == self._cfg_cmd:
            return
        self._cfg_index, self._cfg_cmd = index, command
        self._members = decode_config(command)
        if self.role is Role.LEARNER and self.node_id in self._members.voters:
            self.role = Role.FOLLOWER
        elif self.role is Role.FOLLOWER and self.node_id in self._members.learners:
            self.role = Role.LEARNER
        if self.role is Role.CANDIDATE and self.node_id not in self._members.voters:
            self._become_follower(self.term, None)
        if self.role is Role.LEADER:
            last = self.log.last_index
            for p in self._members.nodes:
                if p != self.node_id and p not in self._next:
                    self._next[p] = last + 1
                    self._match[p] = 0

    def _peers(self) -> list[int]:
        return [p for p in self._members.nodes if p != self.node_id]

    # ------------------------------------------------------------------ roles
    def _become_follower(self, term: int, leader: int | None) -> None:
        """Follow ``leader`` (None: unknown) in ``term``; persists a newer term."""
        if term > self.term:
            self.term, self.voted_for = term, None
            self._persist_hard()
        if self.role is Role.LEADER:
            self._fail_pending()
        was = self.role
        self.role = Role.LEARNER if self.node_id in self._members.learners else Role.FOLLOWER
        self.leader_id = leader
        self._pre = False
        self._votes = set()
        self._next, self._match, self._stamps, self._heard = {}, {}, {}, set()
        self._target = None
        if was is not self.role or leader is not None:
            self._deadline = self._now + self._draw_timeout()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("node=%d term=%d follows leader=%s", self.node_id, term, leader)

    def _fail_pending(self) -> None:
        """A deposed leader cannot know whether its uncommitted writes will commit."""
        for index in sorted(self._pending):
            cid, rid = self._pending[index]
            self._emit(Reply(client_id=cid, request_id=rid, error="not-leader",
                             leader_hint=None, indeterminate=True))
        self._pending = {}

    # ------------------------------------------------------------------ apply
    def _apply_committed(self) -> None:
        """Apply committed entries in order; a leader answers the writes among them."""
        log = self.log
        while self.applied_index < self.commit_index:
            index = self.applied_index + 1
            command = log.entry(index)[1]
            self._emit(Apply(slot=index, command=b"" if is_config(command) else command))
            self.applied_index = index
            req = self._pending.pop(index, None)
            if req is not None:
                self._emit(Reply(client_id=req[0], request_id=req[1], slot=index))
