"""The Python trace validator: replays NDJSON lines against an abstract state of the spec.

Each line must be an allowed action of ``tla/Paxlab.tla`` from the state the lines before it
built (Cirstea et al., "Validating Traces of Distributed Programs Against TLA+
Specifications"). The abstract state holds, per node: up, role, own ballot, promised,
accepted entries, commit index, recovered suffix end, lease end (as the implementation
reported it) and the lease grants (recomputed here, like the spec's ``grant``); and, for the
group: the ballots prepared, the promises sent, the value proposed per (ballot, slot), the
acceptors that accepted it, and the value chosen per slot. Checks, by action:

- Prepare: a fresh ballot of this node, above its promise (S3), for the slot after its
  commit index.
- Promise: a prepared ballot, not below the promise (S3); the entries and the lease remainder
  reported are exactly the acceptor's (the remainder recomputed from its grants).
- BecomeLeader: a candidate of that ballot, promises actually sent by a quorum of its
  configuration (itself included), the recovered suffix is the highest-ballot entry per slot
  (no-op for gaps) under its own ballot; the wait it must serve out is computed here.
- Propose: a leader, its own ballot, one value per (ballot, slot).
- Accept: a ballot at least the promise (S3), entries only of that ballot, the values its
  leader proposed; never a different value under the same ballot.
- Commit: a leader, every newly committed slot accepted by a quorum of its configuration
  under its ballot, one value per slot over the whole trace (S1); the commit index never
  goes back (S4).
- LearnCommit / CatchUp: only values already chosen, (LearnCommit) accepted under the ballot
  of the leader that reported them.
- ReplyWrite / ServeRead: the node is serving: leader, recovered suffix committed (S5),
  predecessors' leases waited out, own lease valid, and the acknowledged slots are chosen.
- Restart: promises survive restarts (S3); Crash: a node that is down takes no step.

`validate_lines` returns the first bad line (1-based) and why, or None. A trace whose Init line
names ``"protocol": "raft"`` is replayed by `harness.tla.tracevalid.raft_validate` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from consensus.quorum import lease_length_us, lease_wait_us
from harness.tla.tracevalid.raft_validate import RaftValidator
from harness.tla.tracevalid.verdict import (
    ActionDispatch,
    TraceInputError,
    TraceInvalid,
    Verdict,
    _check,
    _int,
)

__all__ = ["TraceInputError", "TraceInvalid", "Validator", "Verdict", "validate_lines"]

Ballot = tuple[int, int]
SentPromise = tuple[Any, Any, Any]
"""A promise as sent: (lease remaining, entries as JSON lists, snapshot slot)."""
ZERO: Ballot = (0, 0)


@attrs.define
class NodeState:
    up: bool = False
    role: str = "follower"
    ballot: Ballot | None = None
    promised: Ballot = ZERO
    accepted: dict[int, tuple[Ballot, str]] = attrs.Factory(dict)
    commit: int = 0
    snapshot: int = 0
    recovery: int = 0
    wait_until: int = 0
    lease_end: int | None = None
    grant_ballot: Ballot | None = None
    grant_until: int = 0
    earlier_until: int = 0


def _bal(value: Any) -> Ballot:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(x, int) for x in value)):
        raise TraceInputError(f"a ballot is [round, node], got ballot={value!r}")
    return (value[0], value[1])


def _entries(value: Any) -> list[tuple[int, Ballot, str]]:
    if not isinstance(value, list):
        raise TraceInputError(f"entries must be a list, got entries={value!r}")
    out = []
    for e in value:
        if not (isinstance(e, list) and len(e) == 3 and isinstance(e[0], int)
                and isinstance(e[2], str)):
            raise TraceInputError(f"an entry is [slot, ballot, value], got entry={e!r}")
        out.append((e[0], _bal(e[1]), e[2]))
    return out


class Validator(ActionDispatch):
    """The abstract state and one method per action (see the module doc)."""

    def __init__(self, init: dict[str, Any]) -> None:
        if init.get("action") != "Init":
            raise TraceInputError(f"the first line must be Init, got action={init.get('action')!r}")
        nodes = init.get("nodes")
        if not isinstance(nodes, list) or not all(isinstance(n, int) for n in nodes):
            raise TraceInputError(f"Init needs nodes as a list of ints, got nodes={nodes!r}")
        self.nodes: dict[int, NodeState] = {n: NodeState() for n in nodes}
        self.cfg = tuple(sorted(init.get("cfg", nodes)))
        self.lease_us = _int(init, "lease_us")
        self.drift_ppm = _int(init, "drift_ppm")
        self.prepared: set[Ballot] = set()
        self.promises: dict[tuple[int, Ballot], list[SentPromise]] = {}
        self.proposed: dict[tuple[Ballot, int], str] = {}
        self.votes: dict[tuple[Ballot, int], set[int]] = {}
        self.chosen: dict[int, str] = {}
        self.echoes: dict[Ballot, dict[int, int]] = {}  # ballot -> node -> latest lease stamp
        self.lease_len = lease_length_us(self.lease_us, self.drift_ppm)
        self.now = 0
        self.step: tuple[int, int] | None = None  # (step, node) of the previous line
        self.last_line: dict[str, Any] | None = None

    # -- helpers -------------------------------------------------------------------------------

    def quorum(self, q: Iterable[int]) -> bool:
        return 2 * len(set(q) & set(self.cfg)) > len(self.cfg)

    def remaining(self, s: NodeState, to: Ballot, lt: int) -> int:
        until = s.earlier_until
        if s.grant_ballot != to:
            until = max(until, s.grant_until)
        return max(0, until - lt)

    def grant(self, s: NodeState, b: Ballot, lt: int) -> None:
        if b != s.grant_ballot:
            s.earlier_until = max(s.earlier_until, s.grant_until)
            s.grant_ballot = b
        s.grant_until = lt + self.lease_us

    def own_entries(self, s: NodeState, from_slot: int) -> list[list[Any]]:
        return [[k, list(b), v] for k, (b, v) in sorted(s.accepted.items()) if k >= from_slot]

    def accept_entry(self, node: int, s: NodeState, slot: int, b: Ballot, v: str) -> None:
        old = s.accepted.get(slot)
        _check(old is None or old[0] != b or old[1] == v,
               f"entry changed under the same ballot: slot={slot} ballot={b} "
               f"old={old[1] if old else None} new={v}")
        s.accepted[slot] = (b, v)
        self.votes.setdefault((b, slot), set()).add(node)

    def propose(self, b: Ballot, slot: int, v: str) -> None:
        old = self.proposed.get((b, slot))
        _check(old is None or old == v,
               f"two values proposed under one ballot: slot={slot} ballot={b} old={old} new={v}")
        self.proposed[(b, slot)] = v

    def serving(self, s: NodeState, lt: int, what: str) -> None:
        _check(s.role == "leader", f"{what} by a node that is not leader: role={s.role}")
        _check(s.commit >= s.recovery,
               f"{what} before the recovered suffix is committed (S5): commit={s.commit} "
               f"recovery={s.recovery}")
        _check(lt >= s.wait_until,
               f"{what} before predecessors' leases are waited out: lt={lt} "
               f"wait_until={s.wait_until}")
        _check(s.lease_end is not None and lt < s.lease_end,
               f"{what} without a valid lease: lt={lt} lease_end={s.lease_end}")

    # -- actions -------------------------------------------------------------------------------

    def on_Crash(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        _check(s.up, f"crash of a node already down: node={node}")
        s.up, s.role, s.ballot, s.lease_end = False, "follower", None, None

    def on_Restart(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        _check(not s.up, f"restart of a node that is up: node={node}")
        promised = _bal(line.get("promised"))
        _check(promised >= s.promised,
               f"promise went back across a restart (S3): node={node} before={s.promised} "
               f"after={promised}")
        entries = _entries(line.get("entries"))
        for slot, b, v in entries:
            old = self.proposed.get((b, slot))
            _check(old == v, f"recovered an entry never proposed: slot={slot} ballot={b} value={v}")
        lt = _int(line, "lt")
        s.up, s.role, s.ballot, s.lease_end = True, "follower", None, None
        s.promised = promised
        s.accepted = {slot: (b, v) for slot, b, v in entries}
        s.commit = _int(line, "commit")
        s.snapshot = _int(line, "snapshot")
        s.earlier_until = 0
        s.grant_ballot = None
        s.grant_until = lt + self.lease_us if line.get("recovered") else 0

    def on_Prepare(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(b[1] == node, f"ballot of another node: node={node} ballot={b}")
        _check(b not in self.prepared, f"ballot prepared twice: ballot={b}")
        _check(b > s.promised, f"prepare not above the promise (S3): ballot={b} "
                               f"promised={s.promised}")
        _check(s.role != "leader", f"a leader prepares: node={node}")
        from_slot = _int(line, "from")
        _check(from_slot == s.commit + 1, f"prepare from={from_slot} but commit={s.commit}")
        self.prepared.add(b)
        s.promised, s.role, s.ballot = b, "candidate", b
        lt = _int(line, "lt")
        own = (self.remaining(s, b, lt), self.own_entries(s, from_slot),
               s.snapshot if s.snapshot >= from_slot else 0)
        self.promises.setdefault((node, b), []).append(own)

    def on_Promise(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(b in self.prepared, f"promise for a ballot never prepared: ballot={b}")
        _check(b >= s.promised, f"promise below the promise (S3): ballot={b} promised={s.promised}")
        lt = _int(line, "lt")
        from_slot = _int(line, "from")
        rem = _int(line, "rem")
        want = self.remaining(s, b, lt)
        _check(rem == want, f"promise reports lease remaining={rem} but granted remaining={want}")
        entries = line.get("entries")
        mine = self.own_entries(s, from_slot)
        _check(entries == mine, f"promise reports entries={entries} but accepted={mine}")
        snap = s.snapshot if s.snapshot >= from_slot else 0
        _check(line.get("snapshot") == snap,
               f"promise reports snapshot={line.get('snapshot')} but holds snapshot={snap}")
        if b > s.promised and s.role != "follower":
            s.role, s.ballot, s.lease_end = "follower", None, None
        s.promised = b
        self.promises.setdefault((node, b), []).append((rem, mine, snap))

    def on_BecomeLeader(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(s.role == "candidate" and s.ballot == b,
               f"become leader without candidacy: role={s.role} ballot={s.ballot} line_ballot={b}")
        quorum = line.get("quorum")
        _check(isinstance(quorum, list) and node in quorum, f"leader not in its quorum={quorum}")
        assert isinstance(quorum, list)
        _check(self.quorum(quorum), f"promises not from a quorum: quorum={quorum} "
                                    f"cfg={list(self.cfg)}")
        got: dict[int, SentPromise] = {}
        own = self.promises.get((node, b))
        _check(bool(own), f"no own promise for ballot={b}")
        assert own is not None
        got[node] = own[-1]
        for p in line.get("promises", []):
            src = p.get("src")
            pair: SentPromise = (p.get("rem"), p.get("entries"), p.get("snapshot"))
            _check(pair in self.promises.get((src, b), []),
                   f"promise never sent: src={src} ballot={b} rem={pair[0]}")
            got[src] = pair
        _check(sorted(got) == sorted(quorum), f"quorum={quorum} but promises from {sorted(got)}")
        snap = max(p[2] for p in got.values())
        if snap > s.commit:  # adopt the newest snapshot a promiser holds (not in the spec)
            for k in range(s.commit + 1, snap + 1):
                _check(k in self.chosen, f"snapshot adopted up to slot={snap} but slot={k} not "
                                         f"chosen")
            self.compact(s, snap)
            s.commit = snap
        _check(line.get("commit") == s.commit,
               f"leader reports commit={line.get('commit')} but the promises give {s.commit}")
        start = s.commit + 1
        merged: dict[int, tuple[Ballot, str]] = {}
        for _, sent, _ in got.values():
            for slot, eb, v in _entries(sent):
                if slot >= start and (slot not in merged or eb > merged[slot][0]):
                    merged[slot] = (eb, v)
        last = max(merged, default=s.commit)
        want = [[k, list(b), merged[k][1] if k in merged else "noop"]
                for k in range(start, last + 1)]
        written = line.get("entries")
        _check(written == want, f"recovered suffix entries={written} but promises give {want}")
        for slot, _, v in _entries(want):
            self.propose(b, slot, v)
            self.accept_entry(node, s, slot, b, v)
        rem = max(r for r, _, _ in got.values())
        lt = _int(line, "lt")
        s.role, s.recovery = "leader", last
        s.wait_until = lt + lease_wait_us(rem, self.drift_ppm)
        s.lease_end = None

    def on_Propose(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(s.role == "leader" and s.ballot == b,
               f"propose by a non-leader: role={s.role} ballot={s.ballot} line_ballot={b}")
        for slot, eb, v in _entries(line.get("entries")):
            _check(eb == b, f"proposed under another ballot: slot={slot} ballot={eb} own={b}")
            _check(slot > s.commit, f"proposal into committed slot={slot} commit={s.commit}")
            self.propose(b, slot, v)
            self.accept_entry(node, s, slot, b, v)

    def on_Accept(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(b >= s.promised, f"accept below the promise (S3): ballot={b} promised={s.promised}")
        if b > s.promised and s.role != "follower":
            s.role, s.ballot, s.lease_end = "follower", None, None
        s.promised = b
        for slot, eb, v in _entries(line.get("entries")):
            _check(eb == b, f"accepted an entry of another ballot: slot={slot} ballot={eb} msg={b}")
            old = s.accepted.get(slot)
            _check(old is None or old[0] != b or old[1] == v,
                   f"entry changed under the same ballot: slot={slot} ballot={b} "
                   f"old={old[1] if old else None} new={v}")
            want = self.proposed.get((b, slot))
            _check(want == v, f"accepted a value never proposed: slot={slot} ballot={b} "
                              f"value={v} proposed={want}")
            self.accept_entry(node, s, slot, b, v)
        slots = line.get("slots", [1, 0])
        for slot in range(slots[0], slots[1] + 1):
            if s.accepted.get(slot, (None, None))[0] == b:
                self.votes.setdefault((b, slot), set()).add(node)
        self.grant(s, b, _int(line, "lt"))
        stamp = line.get("stamp")
        if isinstance(stamp, int):
            echoed = self.echoes.setdefault(b, {})
            echoed[node] = max(echoed.get(node, stamp), stamp)

    def on_Commit(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(s.role == "leader" and s.ballot == b, f"commit by a non-leader: role={s.role}")
        commit = _int(line, "commit")
        _check(commit > s.commit, f"commit index went back (S4): commit={commit} before={s.commit}")
        for slot in range(s.commit + 1, commit + 1):
            voters = sorted(self.votes.get((b, slot), set()))
            _check(self.quorum(voters),
                   f"commit without a quorum: slot={slot} ballot={b} accepted_by={voters} "
                   f"cfg={list(self.cfg)}")
            self.choose(slot, self.proposed[(b, slot)])
        s.commit = commit

    def choose(self, slot: int, v: str) -> None:
        old = self.chosen.get(slot)
        _check(old is None or old == v, f"two values chosen for one slot (S1): slot={slot} "
                                        f"{old} {v}")
        self.chosen[slot] = v

    def on_LearnCommit(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        commit = _int(line, "commit")
        _check(commit > s.commit, f"commit index went back (S4): commit={commit} before={s.commit}")
        for slot in range(s.commit + 1, commit + 1):
            e = s.accepted.get(slot)
            _check(e is not None and e[0] == b,
                   f"learned slot={slot} not accepted under the reporting ballot={b}: entry={e}")
            assert e is not None
            _check(self.chosen.get(slot) == e[1],
                   f"learned slot={slot} value={e[1]} but chosen={self.chosen.get(slot)}")
        s.commit = commit

    def on_CatchUp(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        for slot, eb, v in _entries(line.get("entries")):
            _check(self.chosen.get(slot) == v,
                   f"caught up slot={slot} value={v} but chosen={self.chosen.get(slot)}")
            s.accepted[slot] = (eb, v)
        commit = _int(line, "commit")
        _check(commit >= s.commit, f"commit index went back (S4): commit={commit} "
                                   f"before={s.commit}")
        for slot in range(s.commit + 1, commit + 1):
            _check(slot in self.chosen, f"caught up to slot={slot} never chosen")
        s.commit = commit

    def compact(self, s: NodeState, snap: int) -> None:
        s.snapshot = snap
        for k in [k for k in s.accepted if k <= snap]:
            del s.accepted[k]

    def on_Compact(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        snap = _int(line, "snapshot")
        _check(snap >= s.snapshot, f"snapshot went back: snapshot={snap} before={s.snapshot}")
        _check(snap <= s.commit, f"compacted beyond the commit index: snapshot={snap} "
                                 f"commit={s.commit}")
        self.compact(s, snap)

    def on_Heartbeat(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        _check(s.role == "leader" and s.ballot == b, f"heartbeat by a non-leader: role={s.role}")
        echoed = self.echoes.setdefault(b, {})
        if line.get("sent"):
            self.grant(s, b, _int(line, "lt"))
            echoed[node] = _int(line, "lt")
        end = line.get("lease_end")
        _check(end is None or isinstance(end, int), f"lease_end must be an int, got {end!r}")
        if isinstance(end, int):
            stamp = end - self.lease_len
            backers = sorted(a for a, t in echoed.items() if t >= stamp)
            _check(self.quorum(backers),
                   f"lease not backed by a quorum: lease_end={end} stamp={stamp} "
                   f"echoed_by={backers} cfg={list(self.cfg)}")
        s.lease_end = end

    def on_ReplyWrite(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        self.serving(s, _int(line, "lt"), "write acknowledged")
        for slot in line.get("replies", []):
            _check(slot <= s.commit and slot in self.chosen,
                   f"acknowledged slot={slot} not committed: commit={s.commit}")

    def on_ServeRead(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        self.serving(s, _int(line, "lt"), "strong read served")

    def on_StepDown(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        _check(s.role == "leader", f"step down by a non-leader: role={s.role}")
        assert s.ballot is not None
        if s.grant_ballot == s.ballot:
            s.grant_until = min(s.grant_until, _int(line, "lt"))
        s.role, s.ballot, s.lease_end = "follower", None, None

    def on_Demote(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        _check(s.role != "follower", f"demotion of a follower: node={node}")
        seen = line.get("seen")
        if seen is not None:
            _check(s.ballot is not None and _bal(seen) > s.ballot,
                   f"demoted without a higher ballot: own={s.ballot} seen={seen}")
        s.role, s.ballot, s.lease_end = "follower", None, None

    def on_Release(self, line: dict[str, Any], node: int, s: NodeState) -> None:
        b = _bal(line.get("bal"))
        if s.grant_ballot == b:
            s.grant_until = min(s.grant_until, _int(line, "lt"))

    # -- step consistency ----------------------------------------------------------------------

    def end_of_step(self, line: dict[str, Any]) -> None:
        """The last line of a step: the role and promise it reports must be ours."""
        node = line["node"]
        s = self.nodes[node]
        role, promised = line.get("role"), line.get("promised")
        _check(role == s.role, f"node={node} reports role={role} but the actions give {s.role}")
        _check(_bal(promised) == s.promised,
               f"node={node} reports promised={promised} but the actions give {s.promised}")


def validate_lines(lines: Iterable[str]) -> Verdict:
    """Validate an NDJSON trace given as lines; returns the first bad line or a valid verdict.

    Raises TraceInputError for input that is not a trace (bad JSON, no Init line, bad fields);
    its message starts with ``line N:``.
    """
    validator: Validator | RaftValidator | None = None
    prev: tuple[int, dict[str, Any]] | None = None
    count = 0
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        count = number
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceInputError(f"line {number}: not JSON: {exc}") from None
        if not isinstance(line, dict):
            raise TraceInputError(f"line {number}: not a JSON object")
        try:
            if validator is None:
                raft = line.get("action") == "Init" and line.get("protocol") == "raft"
                validator = RaftValidator(line) if raft else Validator(line)
                continue
            if prev is not None and "step" in prev[1] and prev[1].get("step") != line.get("step"):
                try:
                    validator.end_of_step(prev[1])
                except TraceInvalid as exc:
                    return Verdict(prev[0], str(exc), count)
            validator.apply(line)
        except TraceInvalid as exc:
            return Verdict(number, str(exc), count)
        except TraceInputError as exc:
            raise TraceInputError(f"line {number}: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise TraceInputError(f"line {number}: malformed line: {exc!r}") from None
        prev = (number, line)
    if validator is None:
        raise TraceInputError("empty trace: no Init line")
    if prev is not None and "step" in prev[1]:
        try:
            validator.end_of_step(prev[1])
        except TraceInvalid as exc:
            return Verdict(prev[0], str(exc), count)
    return Verdict(0, "", count)
