"""The Raft trace validator: replays `raft_writer` lines against the rules of ``tla/Raft.tla``.

Each line must be an allowed action from the state the lines before it built. The abstract
state holds, per node: up, term, vote, role, log (``(term, value)`` after its snapshot point),
snapshot point and configuration, commit index, the highest term it sent a message under;
and for the group: every vote ever granted (one per node and term, kept across restarts),
the votes each candidate received, the leader of each term and its log in that term (a
leader only appends), what each follower accepted from the leader of each term (the spec's
``matchIndex``), each leader's commit index, and every committed entry. Checks, by action:

- Timeout: not a leader, a voter of its own configuration, term + 1, a self vote that is
  the node's only vote in that term, the log end as held.
- UpdateTerm: a higher term that some node reached. StepDown: a leader or candidate.
- Vote: in the voter's term, at most one candidate per term and node (also across
  restarts), to a node that campaigned in that term with the log end it reported, whose
  log is at least as up to date as the voter's (the election restriction).
- BecomeLeader: a candidate whose listed voters all granted it a vote in its term and form
  a quorum of its configuration; no other leader of that term (Election Safety); it holds
  every committed entry above its snapshot (Leader Completeness); the no-op is of its term.
- ClientRequest / ChangeConfig: a leader appends entries of its term at its log's end; a
  configuration change (the spec's ChangeConfig) only when the previous one is committed
  and an entry of the leader's term is committed (the 2015 fix), one voter at a time.
- AppendEntries: from the leader of the follower's term, entries and previous entry as that
  leader holds them, its commit as the leader had it; the follower's log matches at the
  previous entry (Log Matching), conflicting entries (never committed ones) are truncated;
  the follower's commit index becomes min(leader commit, last new entry) if higher and
  covers only committed entries; the change must be the one the writer saw.
- InstallSnapshot: from the leader of the term, at a committed index with its term.
- Commit (leaders only): the commit index only grows, to an entry of the leader's own term
  (Figure 8) held by a quorum of its configuration's voters (the leader, and followers that
  answered its AppendEntries up to it); one entry per committed index ever.
- Compact: only committed entries. LogChange: always invalid.
- Restart: the recovered term is at least every term the node sent a message under and at
  most one some node reached (or its own next, with a self vote); its votes that were
  answered are kept (a self vote of a candidacy that did not win, or a vote whose answer
  never left, may be lost); recovered entries are entries the leader of their term
  appended (a leader's own next entry counts: the host does not show a step whose disk
  failed, so such a step's persisted state shows first here); its commit index covers
  only committed entries.
- The last line of each step carries the node's state (term, vote, role, commit index, log
  end, snapshot point), which must be the state the replay gives.

Where the spec abstracts: a request/response exchange is one atomic step in ``Raft.tla``;
here the candidate's Timeout, each Vote and the BecomeLeader are separate lines, the term a
node adopts from any message is an UpdateTerm line, and a follower's acceptance is counted
for a commit only if its answer left. PreVote, CheckQuorum, leases, heartbeats and refused
AppendEntries change nothing the spec sees (a refusal with a higher term is UpdateTerm, a
lost candidacy or CheckQuorum is StepDown). Snapshots and learners are not in the spec:
checked as above. Not checked: lease safety (strong reads), the leader's nextIndex walk,
client answers, and terms or votes held only in memory when a crash lost them (a crash
inside a step may lose what was never sent: the Restart checks are against what was sent).
The commit index may go back across a restart (the implementation restarts at its applied
index; the spec keeps it durable): only that it covers committed entries is checked.
"""

from __future__ import annotations

from typing import Any

from harness.tla.tracevalid.raft_state import RaftNode, parse_cfg
from harness.tla.tracevalid.raft_state import entries as _entries
from harness.tla.tracevalid.raft_state import quorum as _quorum
from harness.tla.tracevalid.verdict import (
    ActionDispatch,
    TraceInputError,
    TraceInvalid,
    _check,
    _int,
)


class RaftValidator(ActionDispatch):
    """The abstract state and one method per action (see the module doc)."""

    def __init__(self, init: dict[str, Any]) -> None:
        nodes = init.get("nodes")
        if not isinstance(nodes, list) or not all(isinstance(n, int) for n in nodes):
            raise TraceInputError(f"Init needs nodes as a list of ints, got nodes={nodes!r}")
        cfg = (tuple(sorted(init.get("cfg", nodes))), tuple(sorted(init.get("learners", []))))
        self.nodes = {n: RaftNode(snap_cfg=cfg) for n in nodes}
        self.votes: dict[tuple[int, int], int] = {}  # (node, term) -> the candidate it voted for
        self.unsent: set[tuple[int, int]] = set()  # votes whose answer never left (crash)
        self.granted: dict[tuple[int, int], set[int]] = {}  # (term, candidate) -> voters
        self.campaigns: dict[tuple[int, int], list[int]] = {}  # (term, cand) -> its log end
        self.leaders: dict[int, int] = {}  # term -> leader
        self.leader_log: dict[int, dict[int, tuple[int, str]]] = {}  # term -> index -> entry
        self.acked: dict[tuple[int, int], int] = {}  # (term, follower) -> highest index held
        self.leader_commit: dict[int, int] = {}
        self.committed: dict[int, tuple[int, str]] = {}
        self.max_term = 0
        self.now = 0

    # -- helpers -------------------------------------------------------------------------------

    def entry(self, s: RaftNode, i: int) -> tuple[int, str] | None:
        return s.log[i - s.snap - 1] if s.snap < i <= s.last() else None

    def commit_to(self, node: int, s: RaftNode, new: int) -> None:
        """``s`` commits up to ``new``: every entry it holds there must be the committed one."""
        for i in range(s.commit + 1, new + 1):
            e = self.entry(s, i)
            _check(i in self.committed, f"follower commits index={i} that no leader committed")
            _check(e is None or e == self.committed[i],
                   f"node={node} commits index={i} entry={e} but {self.committed[i]} was "
                   f"committed (State Machine Safety)")
        s.commit = new

    def from_leader(self, line: dict[str, Any], node: int, s: RaftNode) -> tuple[int, int]:
        """The term and leader of a message the follower accepted."""
        term, src = _int(line, "term"), _int(line, "src")
        _check(term == s.term, f"accepted a message of term={term} in term={s.term}")
        _check(self.leaders.get(term) == src,
               f"accepted a leader's message from node={src} that does not lead term={term} "
               f"(leader={self.leaders.get(term)})")
        _check(s.role != "leader", f"a leader accepts another's entries: term={term}")
        s.role = "follower"
        return term, src

    def held_by_leader(self, term: int, i: int, t: int, v: str | None) -> bool:
        e = self.leader_log[term].get(i)
        if e is not None:
            return e[0] == t and (v is None or e[1] == v)
        c = self.committed.get(i)
        return (i == 0 and t == 0) or (c is not None and c[0] == t and (v is None or c[1] == v))

    # -- dispatch ------------------------------------------------------------------------------

    def after(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        """A line's reported ``state`` must be what the actions so far give (`check_state`)."""
        state = line.get("state")
        if state is not None:
            self.check_state(node, s, state)

    def end_of_step(self, line: dict[str, Any]) -> None:
        """Each step's state is checked on its last line (`check_state`)."""

    def check_state(self, node: int, s: RaftNode, state: dict[str, Any]) -> None:
        mine = {"term": s.term, "vote": s.vote, "role": s.role, "commit": s.commit,
                "last": [s.last(), s.term_at(s.last()) or 0], "snap": s.snap}
        for k, v in mine.items():
            _check(state.get(k) == v, f"node={node} reports {k}={state.get(k)} but the actions "
                                      f"give {k}={v}")
        sent = state.get("sent")
        if isinstance(sent, int):
            _check(sent <= s.term, f"node={node} sent term={sent} above its term={s.term}")
            s.sent = max(s.sent, sent)

    # -- crash and restart ---------------------------------------------------------------------

    def on_Crash(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        _check(s.up, f"crash of a node already down: node={node}")
        s.up, s.role = False, "follower"

    def on_Restart(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        _check(not s.up, f"restart of a node that is up: node={node}")
        term, vote, snap = _int(line, "term"), line.get("vote"), _int(line, "snap")
        _check(term >= s.sent,
               f"term went back across a restart below a term it sent under (S3): node={node} "
               f"term={term} sent={s.sent}")
        # A step whose disk failed (a fail-stop) is not shown to the writer: a term, vote or
        # own-term append it persisted shows first here.
        _check(term <= max(s.term, self.max_term) or (term == s.term + 1 and vote == node),
               f"recovered term={term} that no node reached (it had term={s.term})")
        self.max_term = max(self.max_term, term)
        for (n, t), c in sorted(self.votes.items()):
            if n != node or t < term or (t == term and c == vote):
                continue
            # a vote nobody relied on may die with the crash: a self vote of a candidacy that
            # did not win, or a vote whose answer never left
            _check((c == node and self.leaders.get(t) != node) or (n, t) in self.unsent,
                   f"vote lost across a restart: node={node} term={t} voted for {c}, "
                   f"recovered term={term} vote={vote}")
            del self.votes[(n, t)]
            self.unsent.discard((n, t))
            self.granted.get((t, c), set()).discard(node)
        if isinstance(vote, int) and (node, term) not in self.votes:
            self.votes[(node, term)] = vote
            self.granted.setdefault((term, vote), set()).add(node)
        entries = _entries(line.get("entries"))
        for k, (i, t, v) in enumerate(entries):
            _check(i == snap + 1 + k, f"recovered entries not contiguous at index={i}")
            lead = self.leader_log.get(t, {})
            if self.leaders.get(t) == node and i == max(lead, default=0) + 1:
                lead[i] = (t, v)  # appended in a step that failed on the disk
            _check(lead.get(i) == (t, v),
                   f"recovered an entry no leader of its term appended: index={i} term={t} "
                   f"value={v}")
        snap_term = _int(line, "snap_term")
        if snap:
            _check(self.committed.get(snap, (None, ""))[0] == snap_term,
                   f"recovered a snapshot at index={snap} term={snap_term} not committed")
        s.snap_cfg = s.config(snap) if snap >= s.snap else s.snap_cfg
        s.up, s.term, s.vote, s.role = True, term, vote if isinstance(vote, int) else None, \
            "follower"
        s.snap, s.snap_term, s.log = snap, snap_term, [(t, v) for _, t, v in entries]
        s.commit = max(s.snap, 0)
        commit = _int(line, "commit")
        _check(commit >= snap, f"recovered commit={commit} below its snapshot={snap}")
        self.commit_to(node, s, commit)

    # -- elections -----------------------------------------------------------------------------

    def on_UpdateTerm(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term = _int(line, "term")
        _check(term > s.term, f"term did not rise: term={term} had={s.term}")
        _check(term <= self.max_term, f"adopted term={term} that no node reached")
        s.term, s.vote, s.role = term, None, "follower"

    def on_StepDown(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        _check(s.role in ("leader", "candidate"), f"step down of a {s.role}: node={node}")
        s.role = "follower"

    def on_Timeout(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term = _int(line, "term")
        _check(s.role != "leader", f"a leader times out: node={node}")
        _check(node in s.config()[0], f"campaign by a non-voter: node={node} cfg={s.config()}")
        _check(term == s.term + 1, f"campaign to term={term} from term={s.term}")
        prev = self.votes.get((node, term))
        _check(prev is None, f"second vote in term={term}: node={node} voted for {prev}, "
                             f"now for itself")
        last = [s.last(), s.term_at(s.last()) or 0]
        _check(line.get("last") == last, f"campaign reports last={line.get('last')}, holds {last}")
        self.votes[(node, term)] = node
        self.granted[(term, node)] = {node}
        self.campaigns[(term, node)] = last
        self.max_term = max(self.max_term, term)
        s.term, s.vote, s.role = term, node, "candidate"

    def on_Vote(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term, cand = _int(line, "term"), _int(line, "cand")
        _check(term == s.term, f"vote in term={term} by a node in term={s.term}")
        _check(s.role == "follower", f"a {s.role} grants a vote: node={node} term={term}")
        prev = self.votes.get((node, term))
        _check(prev in (None, cand), f"second vote in term={term}: node={node} voted for "
                                     f"{prev}, now for {cand}")
        _check(s.vote in (None, cand), f"vote for {cand} but votedFor={s.vote}: node={node}")
        _check(node not in s.config()[1], f"a learner votes: node={node}")
        want = self.campaigns.get((term, cand))
        _check(want is not None, f"vote for node={cand} that did not campaign in term={term}")
        _check(line.get("last") == want, f"vote request reports last={line.get('last')} but "
                                         f"the candidate held {want}")
        assert want is not None
        mine = (s.term_at(s.last()) or 0, s.last())
        _check((want[1], want[0]) >= mine,
               f"vote for a candidate whose log is behind (election restriction): node={node} "
               f"candidate last={want} voter last={[mine[1], mine[0]]}")
        self.votes[(node, term)] = cand
        if line.get("answered"):
            self.granted[(term, cand)].add(node)
            self.unsent.discard((node, term))
        elif prev is None:
            self.unsent.add((node, term))
        s.vote = cand

    def on_BecomeLeader(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term = _int(line, "term")
        _check(s.role == "candidate" and term == s.term,
               f"leader without candidacy: node={node} role={s.role} term={s.term}")
        _check(term not in self.leaders, f"two leaders in term={term}: {self.leaders.get(term)} "
                                         f"and {node} (Election Safety)")
        votes = line.get("votes")
        _check(isinstance(votes, list) and node in votes, f"leader not among votes={votes}")
        assert isinstance(votes, list)
        got = self.granted.get((term, node), set())
        for v in votes:
            _check(v in got, f"a vote never granted: voter={v} candidate={node} term={term}")
        voters = s.config()[0]
        _check(_quorum(votes, voters), f"leader without a quorum of votes: votes={votes} "
                                       f"voters={list(voters)} term={term}")
        for i in sorted(self.committed):
            e = self.entry(s, i)
            _check(i <= s.snap or e == self.committed[i],
                   f"leader of term={term} lacks committed index={i} entry="
                   f"{self.committed[i]} (holds {e}; Leader Completeness)")
        self.leaders[term] = node
        self.leader_commit[term] = s.commit
        log = {s.snap + 1 + k: e for k, e in enumerate(s.log)}
        log[s.snap] = (s.snap_term, "")
        self.leader_log[term] = log
        s.role = "leader"
        if line.get("noop") is not None:
            self.append(node, s, _entries([line["noop"]]), "noop")

    # -- the log -------------------------------------------------------------------------------

    def append(self, node: int, s: RaftNode, entries: list[tuple[int, int, str]],
               kind: str) -> None:
        _check(s.role == "leader", f"append by a {s.role}: node={node}")
        for i, t, v in entries:
            _check(i == s.last() + 1 and t == s.term,
                   f"leader appends index={i} term={t} after last={s.last()} in term={s.term}")
            _check((kind == "cfg") == v.startswith("cfg:") and (kind != "noop" or v == "noop"),
                   f"a {kind} append carries value={v}")
            s.log.append((t, v))
            self.leader_log[t][i] = (t, v)

    def on_ClientRequest(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        self.append(node, s, _entries(line.get("entries")), "cmd")

    def on_ChangeConfig(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        for entry in _entries(line.get("entries")):
            _check(s.cfg_index() <= s.commit,
                   f"configuration change before the previous one is committed: "
                   f"cfg index={s.cfg_index()} commit={s.commit}")
            _check(s.commit > 0 and s.term_at(s.commit) == s.term,
                   f"configuration change before an entry of term={s.term} is committed "
                   f"(the 2015 fix): commit={s.commit} of term={s.term_at(s.commit)}")
            old, new = s.config()[0], parse_cfg(entry[2])[0]
            _check(len(set(old) ^ set(new)) <= 1,
                   f"more than one voter changes at once: {list(old)} -> {list(new)}")
            self.append(node, s, [entry], "cfg")

    def on_AppendEntries(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term, _ = self.from_leader(line, node, s)
        prev = line.get("prev")
        if not (isinstance(prev, list) and len(prev) == 2
                and all(isinstance(x, int) for x in prev)):
            raise TraceInputError(f"prev must be [index, term], got prev={prev!r}")
        p, pt = prev
        entries = _entries(line.get("entries"))
        lcommit = _int(line, "lcommit")
        _check(self.held_by_leader(term, p, pt, None),
               f"AppendEntries after index={p} term={pt} the leader of term={term} does not hold")
        for i, t, v in entries:
            _check(self.held_by_leader(term, i, t, v),
                   f"AppendEntries carries index={i} term={t} value={v} the leader of "
                   f"term={term} does not hold")
        _check(lcommit <= self.leader_commit[term],
               f"AppendEntries reports commit={lcommit} beyond its leader's="
               f"{self.leader_commit[term]}")
        trunc: int | None = None
        added: list[list[Any]] = []
        if p < s.snap:  # the prefix is in the follower's snapshot (committed, so equal)
            skip = s.snap - p
            if len(entries) >= skip:
                _check(entries[skip - 1][1] == s.snap_term,
                       f"AppendEntries disagrees with the snapshot at index={s.snap}")
                p, pt, entries = s.snap, entries[skip - 1][1], entries[skip:]
            else:
                p, entries = s.snap, []
                pt = s.snap_term
        _check(s.term_at(p) == pt, f"accepted AppendEntries whose previous entry index={p} "
                                   f"term={pt} it does not hold (Log Matching): it holds "
                                   f"term={s.term_at(p)}")
        for i, t, v in entries:
            have = self.entry(s, i)
            if have is not None and have[0] == t:
                _check(have[1] == v, f"index={i} term={t} holds value={have[1]}, leader sent "
                                     f"{v} (Log Matching)")
                continue
            if have is not None:
                _check(i > s.commit, f"truncates committed index={i} (commit={s.commit})")
                del s.log[i - s.snap - 1:]
                trunc = i if trunc is None else trunc
            s.log.append((t, v))
            added.append([i, t, v])
        if trunc is not None:  # the writer's diff names the whole tail from the truncation
            added = [[i, t, v] for i, (t, v) in enumerate(s.log[trunc - s.snap - 1:], trunc)]
        _check(line.get("trunc") == trunc and line.get("new") == added,
               f"the log changed by trunc={line.get('trunc')} new={line.get('new')}, the rule "
               f"gives trunc={trunc} new={added}")
        last_new = p + len(entries)
        if lcommit > s.commit:
            self.commit_to(node, s, max(s.commit, min(lcommit, last_new)))
        if line.get("answered"):
            self.acked[(term, node)] = max(self.acked.get((term, node), 0), last_new)

    def on_InstallSnapshot(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term, _ = self.from_leader(line, node, s)
        index, last_term = _int(line, "index"), _int(line, "last_term")
        c = self.committed.get(index)
        _check(c is not None and c[0] == last_term,
               f"snapshot at index={index} term={last_term} is not committed there")
        _check(index > s.commit, f"snapshot at index={index} not above commit={s.commit}")
        cfg = line.get("cfg")
        if not isinstance(cfg, str):
            raise TraceInputError(f"cfg must be a string, got cfg={cfg!r}")
        keep = s.term_at(index) == last_term and index <= s.last()
        s.log = s.log[index - s.snap:] if keep else []
        s.snap, s.snap_term, s.snap_cfg = index, last_term, parse_cfg(cfg)
        s.commit = index
        held = [[i, t, v] for i, (t, v) in enumerate(s.log, index + 1)]
        _check(line.get("entries") == held,
               f"after the snapshot the log holds {line.get('entries')}, the rule gives {held}")
        if line.get("answered"):
            self.acked[(term, node)] = max(self.acked.get((term, node), 0), index)

    def on_Commit(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        term, n = _int(line, "term"), _int(line, "commit")
        _check(s.role == "leader", f"commit index of a {s.role} moved outside AppendEntries: "
                                   f"node={node} commit={n}")
        _check(term == s.term and self.leaders.get(term) == node,
               f"commit by node={node} that does not lead term={term}")
        _check(n > s.commit, f"commit index went back: commit={n} before={s.commit} (S4)")
        _check(s.term_at(n) == term,
               f"commit of index={n} of an earlier term={s.term_at(n)} by the leader of "
               f"term={term} (Figure 8)")
        voters = s.config()[0]
        held = [v for v in voters if v == node or self.acked.get((term, v), 0) >= n]
        _check(_quorum(held, voters), f"commit of index={n} not held by a quorum: held by "
                                      f"{held} of voters={list(voters)}")
        for i in range(s.commit + 1, n + 1):
            e = self.entry(s, i)
            assert e is not None
            old = self.committed.setdefault(i, e)
            _check(old == e, f"committed entry changed at index={i}: {old} then {e} "
                             f"(State Machine Safety)")
        s.commit = n
        self.leader_commit[term] = n

    def on_Compact(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        snap, snap_term = _int(line, "snapshot"), _int(line, "snap_term")
        _check(s.snap < snap <= s.commit, f"compaction to index={snap} outside "
                                          f"({s.snap}, commit={s.commit}]")
        _check(s.term_at(snap) == snap_term, f"compaction reports term={snap_term} at "
                                             f"index={snap}, the log has {s.term_at(snap)}")
        s.snap_cfg = s.config(snap)
        s.log = s.log[snap - s.snap:]
        s.snap, s.snap_term = snap, snap_term

    def on_LogChange(self, line: dict[str, Any], node: int, s: RaftNode) -> None:
        raise TraceInvalid(f"node={node} changed its log outside any spec action: "
                           f"{ {k: line.get(k) for k in ('trunc', 'new', 'snap', 'entries')} }")


__all__ = ["RaftValidator", "TraceInvalid", "parse_cfg"]
