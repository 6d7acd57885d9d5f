"""The Raft validator's rules one by one, on small hand-built states and lines.

Some rules back others up (two leaders in a term need a vote granted twice, which the vote
rules refuse first; a leader lacking a committed entry needs a vote to an out-of-date log):
they are shown to fire here, from states the lines before them could not build, and the
rules that usually fire first are shown too.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.tla.tracevalid.raft_validate import RaftValidator, parse_cfg
from harness.tla.tracevalid.verdict import TraceInputError, TraceInvalid


def _validator(nodes: tuple[int, ...] = (0, 1, 2)) -> RaftValidator:
    v = RaftValidator({"action": "Init", "protocol": "raft", "nodes": list(nodes),
                       "cfg": list(nodes)})
    for n in nodes:
        v.apply({"action": "Restart", "node": n, "t": 0, "term": 0, "vote": None, "commit": 0,
                 "snap": 0, "snap_term": 0, "entries": []})
    return v


def _rejects(v: RaftValidator, line: dict[str, Any], words: str) -> None:
    with pytest.raises(TraceInvalid, match=words):
        v.apply({"t": 1, **line})


def _leader(v: RaftValidator, node: int, term: int, log: list[tuple[int, str]]) -> None:
    """Make ``node`` the leader of ``term`` holding ``log`` (from index 1)."""
    s = v.nodes[node]
    s.term, s.vote, s.role, s.log = term, node, "leader", list(log)
    v.max_term = max(v.max_term, term)
    v.leaders[term] = node
    v.leader_commit[term] = 0
    v.leader_log[term] = {0: (0, "")} | {k: e for k, e in enumerate(log, 1)}


def test_two_leaders_in_a_term() -> None:
    v = _validator()
    _leader(v, 0, 1, [])
    s = v.nodes[1]
    s.term, s.vote, s.role = 1, 1, "candidate"
    v.granted[(1, 1)] = {1, 2}
    _rejects(v, {"action": "BecomeLeader", "node": 1, "term": 1, "votes": [1, 2],
                 "noop": None}, r"two leaders in term=1: 0 and 1 \(Election Safety\)")


def test_leader_lacking_a_committed_entry() -> None:
    v = _validator()
    v.committed[1] = (1, "noop")
    s = v.nodes[2]
    s.term, s.vote, s.role = 2, 2, "candidate"
    v.granted[(2, 2)] = {1, 2}
    _rejects(v, {"action": "BecomeLeader", "node": 2, "term": 2, "votes": [1, 2],
                 "noop": None}, r"lacks committed index=1 .*Leader Completeness")


def test_vote_for_an_out_of_date_log() -> None:
    v = _validator()
    v.nodes[1].log, v.nodes[1].term, v.max_term = [(1, "noop")], 1, 1
    v.nodes[2].term = 1
    v.apply({"action": "Timeout", "node": 2, "t": 1, "term": 2, "last": [0, 0]})
    v.apply({"action": "UpdateTerm", "node": 1, "t": 1, "term": 2, "src": 2})
    _rejects(v, {"action": "Vote", "node": 1, "term": 2, "cand": 2, "answered": True,
                 "last": [0, 0]}, "election restriction")


def test_accepted_append_whose_previous_entry_is_not_held() -> None:
    v = _validator()
    _leader(v, 0, 1, [(1, "noop"), (1, "cmd:a")])
    f = v.nodes[1]
    f.term, f.vote = 1, 0
    _rejects(v, {"action": "AppendEntries", "node": 1, "term": 1, "src": 0, "prev": [2, 1],
                 "entries": [], "lcommit": 0, "trunc": None, "new": [], "answered": True},
             r"previous entry index=2 term=1 it does not hold \(Log Matching\)")


def test_truncating_a_committed_entry() -> None:
    v = _validator()
    _leader(v, 0, 2, [(1, "noop"), (2, "cmd:b")])
    v.committed = {1: (1, "noop"), 2: (1, "cmd:a")}
    f = v.nodes[1]
    f.term, f.log, f.commit = 2, [(1, "noop"), (1, "cmd:a")], 2
    _rejects(v, {"action": "AppendEntries", "node": 1, "term": 2, "src": 0, "prev": [1, 1],
                 "entries": [[2, 2, "cmd:b"]], "lcommit": 0, "trunc": 2,
                 "new": [[2, 2, "cmd:b"]], "answered": True}, "truncates committed index=2")


def test_misreported_append() -> None:
    v = _validator()
    _leader(v, 0, 1, [(1, "noop")])
    v.nodes[1].term = 1
    _rejects(v, {"action": "AppendEntries", "node": 1, "term": 1, "src": 0, "prev": [0, 0],
                 "entries": [[1, 1, "noop"]], "lcommit": 0, "trunc": None, "new": [],
                 "answered": True}, "the rule gives trunc=None new=")


def test_term_going_back_across_a_restart() -> None:
    v = _validator()
    s = v.nodes[1]
    s.term, s.sent, v.max_term = 3, 3, 3
    v.apply({"action": "Crash", "node": 1, "t": 1})
    _rejects(v, {"action": "Restart", "node": 1, "term": 2, "vote": None, "commit": 0,
                 "snap": 0, "snap_term": 0, "entries": []}, "term went back across a restart")


def test_recovered_entry_nobody_appended() -> None:
    v = _validator()
    v.nodes[1].term = v.max_term = 5
    v.apply({"action": "Crash", "node": 1, "t": 1})
    _rejects(v, {"action": "Restart", "node": 1, "term": 5, "vote": None, "commit": 0,
                 "snap": 0, "snap_term": 0, "entries": [[1, 5, "cmd:z"]]},
             "no leader of its term appended")


def test_terms_and_campaigns() -> None:
    v = _validator()
    _rejects(v, {"action": "UpdateTerm", "node": 1, "term": 4, "src": 0}, "that no node reached")
    _rejects(v, {"action": "Timeout", "node": 1, "term": 2, "last": [0, 0]},
             "campaign to term=2 from term=0")
    _rejects(v, {"action": "Vote", "node": 1, "term": 0, "cand": 2, "answered": True,
                 "last": [0, 0]}, "did not campaign")


def test_snapshots_only_of_committed_entries() -> None:
    v = _validator()
    _leader(v, 0, 1, [(1, "noop")])
    _rejects(v, {"action": "Compact", "node": 0, "snapshot": 1, "snap_term": 1},
             r"outside \(0, commit=0\]")
    v.nodes[1].term = 1
    _rejects(v, {"action": "InstallSnapshot", "node": 1, "term": 1, "src": 0, "index": 1,
                 "last_term": 1, "cfg": "cfg:0,1,2|", "entries": [], "answered": True},
             "is not committed there")


def test_parse_cfg() -> None:
    assert parse_cfg("cfg:0,1,2|3") == ((0, 1, 2), (3,))
    assert parse_cfg("cfg:4|") == ((4,), ())
    with pytest.raises(TraceInputError):
        parse_cfg("cfg:x|")
