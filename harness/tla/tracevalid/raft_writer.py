"""The Raft NDJSON trace writer: one JSON line per action of ``tla/Raft.tla`` a step takes.

A Raft step of the implementation may do several of the spec's actions (a vote response
that completes a quorum makes the candidate leader and appends the no-op; an AppendEntries
response can advance the commit index), so the writer splits each step into lines in a fixed
order (`RAFT_ACTION_ORDER`). The last line of every step also carries the node's state after
it (``term``, ``vote``, ``role``, ``commit``, ``last`` = [last index, last term], ``snap``,
``sent``: the highest term of a message the step sent, pre-votes excluded), which the
validator compares with the state its own replay of the lines gives.

Lines (besides ``action``, ``node``, ``t`` (true time, us), ``step``):

- ``Init``: ``protocol`` ("raft"), ``nodes``, ``cfg`` (initial voters), ``learners``,
  ``options``.
- ``UpdateTerm``: the node adopted a higher ``term`` from a message of ``src`` (the "fresh"
  branch of the spec's RequestVote/AppendEntries, or a response carrying a higher term).
- ``StepDown``: a leader or candidate became a follower without a new term. A node in
  PreVote's first phase is a follower here (it has not raised its term).
- ``Timeout``: a new ``term`` with a self vote (after PreVote, if on), ``last`` of its log.
- ``Vote``: the node voted for ``cand`` in ``term`` (``answered``: the granted response
  left; a crash inside the step may have kept it back); ``last`` is the candidate's log end
  as the request reported it.
- ``BecomeLeader``: ``term``, ``votes`` (the voters whose granted votes it received in this
  candidacy, itself included), ``noop`` (the election no-op entry, or null).
- ``AppendEntries``: the follower accepted (did not refuse) an AppendEntries of ``src`` and
  its log or commit index changed (or it answered a higher match index): the message
  (``term``, ``prev``, ``entries``, ``lcommit``) and what the follower's log did
  (``trunc``: first index replaced or null, ``new``: the entries now held from there on);
  ``answered``: the success answer left (a crash inside the step may have kept it back).
- ``InstallSnapshot``: the follower accepted a snapshot at ``index`` (``last_term``, ``cfg``).
- ``ClientRequest`` / ``ChangeConfig``: the leader appended ``entries`` (commands /
  configurations) of its term.
- ``Commit``: the leader's commit index advanced to ``commit``.
- ``Compact``: the node made ``snapshot`` (term ``snap_term``) its snapshot point.
- ``LogChange``: the log changed in a way none of the above explains (always rejected).
- ``Crash``; ``Restart`` with the recovered ``term``, ``vote``, ``commit``, ``snap``,
  ``snap_term`` and ``entries``.

Entries are ``[index, term, value]``; values are ``"noop"``, ``"cmd:<hex>"`` (6-byte blake2b
of the command) or ``"cfg:<voters>|<learners>"`` (comma-separated ids), so the validator
knows every configuration. The writer reads the replica only through its views (``term``,
``voted_for``, ``role``, ``commit_index``, ``log_entries()``, ``term_at``,
``snapshot_index``) and the events and effects of each step. Deterministic: keys sorted, no
set order, no wall time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TextIO

from consensus.effects import Send
from consensus.events import Receive
from consensus.raft.log import decode_config, is_config
from consensus.raft.messages import (
    AppendEntries,
    AppendEntriesResponse,
    InstallSnapshot,
    RequestVote,
    RequestVoteResponse,
)

RAFT_ACTION_ORDER: tuple[str, ...] = (
    "UpdateTerm", "StepDown", "Timeout", "Vote", "BecomeLeader", "AppendEntries",
    "InstallSnapshot", "ClientRequest", "ChangeConfig", "LogChange", "Commit", "Compact",
)
"""The order of a step's lines (Init, Crash and Restart are lines of their own). The leader
of a group with several voters commits on an AppendEntries response, before the step's
appends (a configuration change may need that commit): its Commit line comes before them.
The only voter of a group commits at the end of a step, after its appends: Commit last.
A step that shrinks the voters to the leader alone does both: the commit on the response
(the quorum index of the voters before the step, from the matches the responses it
received reported, as the implementation computes it), and the final one."""

Log = list[tuple[int, bytes]]


def raft_value(command: bytes, cache: dict[bytes, str] | None = None) -> str:
    """The trace's name of a Raft log command (see the module doc)."""
    if cache is not None and command in cache:
        return cache[command]
    if not command:
        name = "noop"
    elif is_config(command):
        m = decode_config(command)
        name = "cfg:" + ",".join(map(str, m.voters)) + "|" + ",".join(map(str, m.learners))
    else:
        name = "cmd:" + hashlib.blake2b(command, digest_size=6).hexdigest()
    if cache is not None:
        cache[command] = name
    return name


class _View:
    """What the writer last saw of one node."""

    __slots__ = ("acked", "campaign", "commit", "log", "matches", "members", "role", "snap",
                 "snap_term", "term", "up", "vote", "votes")

    def __init__(self) -> None:
        self.up = False
        self.term = 0
        self.vote: int | None = None
        self.role = "follower"
        self.commit = 0
        self.snap = 0
        self.snap_term = 0
        self.log: Log = []  # (term, command) for snap + 1 ...
        self.votes: set[int] = set()  # granted votes received in the current candidacy
        self.campaign = -1  # the term of its last Timeout
        self.acked = (0, 0)  # (term, highest match index) this node answered a leader with
        self.members: tuple[int, ...] = ()  # the voters after the last step
        self.matches: dict[int, int] = {}  # leader: highest match each follower reported

    def last(self) -> list[int]:
        return [self.snap + len(self.log), self.log[-1][0] if self.log else self.snap_term]


def _role(replica: Any) -> str:
    role: str = replica.role.value
    return "follower" if role == "learner" else role


def _last(replica: Any, snap: int, guess: int) -> list[int]:
    """``[last index, last term]`` of ``replica``'s log, found with O(log n) ``term_at`` calls
    from ``guess`` (the last index seen before): held indices are ``snap ..`` last."""
    lo = snap  # held
    if guess > snap and replica.term_at(guess) is not None:
        lo = guess
    step = 1
    hi = lo + step
    while replica.term_at(hi) is not None:  # gallop up to an index not held
        lo, step = hi, step * 2
        hi = lo + step
    while hi - lo > 1:  # lo held, hi not
        mid = (lo + hi) // 2
        if replica.term_at(mid) is not None:
            lo = mid
        else:
            hi = mid
    return [lo, replica.term_at(lo) or 0]


def _msg_term(m: Any) -> int | None:
    if type(m) in (RequestVote, RequestVoteResponse) and m.pre_vote:
        return None
    term: int | None = getattr(m, "term", None)
    return term


class RaftTraceWriter:
    """Writes the Raft trace of one run to ``out``; see the module doc.

    Args:
        out: where lines go (the caller opens and closes it).
        members: the initial voters.
        learners: the initial learners.
        extra: nodes in neither (they wait to be added by a membership change).
        options: run options (JSON-able), recorded in the Init line.
    """

    def __init__(self, out: TextIO, members: Sequence[int], *, learners: Sequence[int] = (),
                 extra: Sequence[int] = (), options: dict[str, Any] | None = None) -> None:
        self.out = out
        self.lines = 0
        self.steps = 0
        nodes = sorted({*members, *learners, *extra})
        self._views: dict[int, _View] = {n: _View() for n in nodes}
        self._names: dict[bytes, str] = {}
        self._emit({"action": "Init", "protocol": "raft", "nodes": nodes,
                    "cfg": sorted(members), "learners": sorted(learners),
                    "options": options or {}, "t": 0})

    def _emit(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        self.lines += 1

    def _entries(self, first: int, log: Log, start: int) -> list[list[Any]]:
        """``[index, term, value]`` of ``log[start:]``, whose first element has index first."""
        return [[first + k, t, raft_value(c, self._names)]
                for k, (t, c) in enumerate(log[start:])]

    # -- run events ----------------------------------------------------------------------------

    def crashed(self, node: int, true_us: int) -> None:
        """``node`` crashed: its volatile state is gone (no line if it was down)."""
        v = self._views[node]
        if not v.up:
            return
        v.up, v.role, v.votes = False, "follower", set()
        self._emit({"action": "Crash", "node": node, "t": true_us})

    def recovered(self, node: int, replica: Any, true_us: int, local_us: int) -> None:
        """``node`` restarted with ``replica`` (built from its disk), before its first Tick."""
        v = self._views[node]
        v.up, v.role, v.votes = True, _role(replica), set()
        v.members = tuple(replica.members)
        self._read_durable(v, replica)
        self._emit({
            "action": "Restart", "node": node, "t": true_us, "term": v.term, "vote": v.vote,
            "commit": v.commit, "snap": v.snap, "snap_term": v.snap_term, "role": v.role,
            "entries": self._entries(v.snap + 1, v.log, 0),
        })

    def _read_durable(self, v: _View, replica: Any) -> None:
        v.term, v.vote, v.commit = replica.term, replica.voted_for, replica.commit_index
        v.snap = replica.snapshot_index
        v.snap_term = replica.term_at(v.snap) or 0
        v.log = [(t, c) for _, t, c in replica.log_entries()]

    # -- steps ---------------------------------------------------------------------------------

    def observe(self, node: int, replica: Any, event: Any, effects: Sequence[Any],
                true_us: int, local_us: int) -> None:
        """After each replica step (`harness.runtime.host.StepObserver`, plus true time)."""
        v = self._views[node]
        lines: dict[str, dict[str, Any]] = {}
        msg = event.msg if type(event) is Receive else None
        src = event.src if msg is not None else None
        sends = [(e.dst, e.msg) for e in effects if type(e) is Send]
        term, vote, role = replica.term, replica.voted_for, _role(replica)

        # Terms, votes and roles. A PreVote candidate is a follower to the spec: it is a
        # candidate only from its Timeout (the term it asked votes in) on.
        new_term = term > v.term
        if new_term and vote == node and role in ("candidate", "leader"):
            lines["Timeout"] = {"term": term, "last": v.last()}
            v.votes, v.campaign = {node}, term
        elif new_term:
            lines["UpdateTerm"] = {"term": term, "src": src}
        if role == "candidate" and v.campaign != term:
            role = "follower"
        if v.role in ("leader", "candidate") and role == "follower" and not new_term:
            lines["StepDown"] = {"from": v.role}
        if (type(msg) is RequestVoteResponse and not msg.pre_vote and msg.granted
                and msg.term == term == v.term and v.role == "candidate" and src is not None):
            v.votes.add(src)
        if vote is not None and vote != node and (new_term or vote != v.vote):
            assert type(msg) is RequestVote
            answered = any(type(m) is RequestVoteResponse and m.granted and not m.pre_vote
                           for _, m in sends)
            lines["Vote"] = {"term": term, "cand": vote, "answered": answered,
                             "last": [msg.last_index, msg.last_term]}
        if role == "leader" and v.role != "leader":
            lines["BecomeLeader"] = {"term": term, "votes": sorted(v.votes), "noop": None}
        if role != "candidate":
            v.votes = set()
        if role != "leader" or v.role != "leader":
            v.matches = {}
        if (type(msg) is AppendEntriesResponse and msg.success and msg.term == term
                and role == "leader" and src is not None):
            v.matches[src] = max(v.matches.get(src, 0), msg.match_index)

        # The log.
        snap = replica.snapshot_index
        old_last, old_commit = v.last()[0], v.commit
        new_log: Log | None = None
        last = _last(replica, snap, v.snap + len(v.log))
        leader_msg = type(msg) in (AppendEntries, InstallSnapshot)
        accepted = (leader_msg and getattr(msg, "term", -1) == term
                    and not any(dst == src and type(m) is AppendEntriesResponse and not m.success
                                for dst, m in sends))
        changed = (snap != v.snap or last != v.last()
                   or (type(msg) is AppendEntries and msg.entries))
        acked = max([m.match_index for dst, m in sends
                     if dst == src and type(m) is AppendEntriesResponse and m.success], default=0)
        new_ack = accepted and (term, acked) > v.acked
        if new_ack:
            v.acked = (term, acked)
        if changed or (accepted and (replica.commit_index != v.commit or new_ack)):
            new_log = [(t, c) for _, t, c in replica.log_entries()] if changed else v.log
            self._log_lines(lines, v, replica, msg, src, sends, accepted, snap, new_log)
        if replica.commit_index != v.commit and (
                role == "leader" or not {"AppendEntries", "InstallSnapshot"} & lines.keys()):
            lines["Commit"] = {"term": term, "commit": replica.commit_index}
        early = -1
        if "Commit" in lines and role == "leader":
            alone_before = len(v.members) == 1 and v.members[0] == node
            alone_after = tuple(replica.members) == (node,)
            early = replica.commit_index if not alone_after else (
                old_commit if alone_before else self._quorum_index(v, replica, old_last))

        self.steps += 1
        v.term, v.vote, v.role, v.commit = term, vote, role, replica.commit_index
        v.members = tuple(replica.members)
        if new_log is not None:
            v.snap, v.snap_term, v.log = snap, replica.term_at(snap) or 0, new_log
        sent = [t for _, m in sends if (t := _msg_term(m)) is not None]
        names = [n for n in RAFT_ACTION_ORDER if n in lines]
        if early >= 0:
            if early > old_commit:
                lines["EarlyCommit"] = {"term": term, "commit": early}
                names.insert(sum(n in lines for n in RAFT_ACTION_ORDER[:7]), "EarlyCommit")
            if early == replica.commit_index:
                names.remove("Commit")
        for k, name in enumerate(names):
            fields = lines[name]
            fields.update(action="Commit" if name == "EarlyCommit" else name, node=node,
                          t=true_us, step=self.steps)
            if k == len(names) - 1:
                fields.update(state={
                    "term": term, "vote": vote, "role": role, "commit": v.commit,
                    "last": v.last(), "snap": v.snap, "sent": max(sent, default=None),
                })
            self._emit(fields)

    def _quorum_index(self, v: _View, replica: Any, own_last: int) -> int:
        """The commit index of the leader ``v`` after an AppendEntries response, before the
        step's appends: the largest index a quorum of its previous voters held, if the entry
        there is of its term."""
        held = sorted((own_last if p == replica.node_id else v.matches.get(p, 0)
                       for p in v.members), reverse=True)
        n = held[len(v.members) // 2] if held else 0
        return n if n > v.commit and replica.term_at(n) == replica.term else v.commit

    def _log_lines(self, lines: dict[str, dict[str, Any]], v: _View, replica: Any, msg: Any,
                   src: int | None, sends: list[tuple[int, Any]], accepted: bool, snap: int,
                   new: Log) -> None:
        """Name the change from ``v``'s log to ``new`` (snapshot point ``snap``). ``accepted``:
        the step handled a message of the leader of its term and refused nothing (a crash
        inside the step may have kept the answer from leaving; Restart tells what survived)."""
        answered = any(dst == src and type(m) is AppendEntriesResponse and m.success
                       for dst, m in sends)
        if snap != v.snap:
            if type(msg) is InstallSnapshot and accepted:
                lines["InstallSnapshot"] = {
                    "answered": answered, "term": msg.term, "src": src, "index": msg.index,
                    "last_term": msg.last_term,
                    "cfg": raft_value(msg.config, self._names),
                    "entries": self._entries(snap + 1, new, 0),
                }
            elif msg is None and snap > v.snap:
                lines["Compact"] = {"snapshot": snap, "snap_term": replica.term_at(snap) or 0}
                if new != v.log[snap - v.snap:]:
                    lines["LogChange"] = {"snap": snap, "entries": self._entries(snap + 1, new, 0)}
            else:
                lines["LogChange"] = {"snap": snap, "entries": self._entries(snap + 1, new, 0)}
            return
        old = v.log
        k = 0
        n = min(len(old), len(new))
        while k < n and old[k] == new[k]:
            k += 1
        trunc = snap + 1 + k if k < len(old) else None
        added = self._entries(snap + 1 + k, new, k)
        if type(msg) is AppendEntries and accepted:
            lines["AppendEntries"] = {
                "answered": answered, "term": msg.term, "src": src,
                "prev": [msg.prev_index, msg.prev_term],
                "entries": [[msg.prev_index + 1 + j, t, raft_value(c, self._names)]
                            for j, (t, c) in enumerate(msg.entries)],
                "lcommit": msg.commit, "trunc": trunc, "new": added,
            }
            return
        if not added and trunc is None:
            return
        if trunc is None and _role(replica) == "leader":
            cmds = [e for e in added if not e[2].startswith("cfg:")]
            cfgs = [e for e in added if e[2].startswith("cfg:")]
            if "BecomeLeader" in lines and cmds and cmds[0][2] == "noop":
                lines["BecomeLeader"]["noop"] = cmds.pop(0)
            if cmds:
                lines["ClientRequest"] = {"entries": cmds}
            if cfgs:
                lines["ChangeConfig"] = {"entries": cfgs}
            return
        lines["LogChange"] = {"trunc": trunc, "new": added}
