"""Raft messages (frozen attrs with slots). The sender is the `Receive.src` of the event.

Every message carries the sender's ``term``. AppendEntries and InstallSnapshot carry the
leader's local send time ``stamp_us``; the response echoes it, and the leader's lease runs
from the latest stamp a quorum echoed (see `consensus.raft.leader`).
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True, slots=True)
class RequestVote:
    """Ask for a vote (or, ``pre_vote``, whether a vote would be given) in ``term``.

    A pre-vote names the term the sender would campaign in (its term + 1) and changes no
    state at the receiver.
    """

    term: int
    last_index: int
    last_term: int
    pre_vote: bool = False


@attrs.frozen(kw_only=True, slots=True)
class RequestVoteResponse:
    """Vote granted or not. A granted pre-vote echoes the asked term."""

    term: int
    granted: bool
    pre_vote: bool = False


@attrs.frozen(kw_only=True, slots=True)
class AppendEntries:
    """Append ``entries`` (``(term, command)`` pairs for ``prev_index + 1 ...``) after the
    entry ``(prev_index, prev_term)``; everything up to ``commit`` is committed."""

    term: int
    prev_index: int
    prev_term: int
    entries: tuple[tuple[int, bytes], ...]
    commit: int
    stamp_us: int


@attrs.frozen(kw_only=True, slots=True)
class AppendEntriesResponse:
    """``success``: the follower's log matches the leader's up to ``match_index``. Else
    ``match_index`` is a hint: the leader retries from at most ``match_index + 1``."""

    term: int
    success: bool
    match_index: int
    stamp_us: int


@attrs.frozen(kw_only=True, slots=True)
class InstallSnapshot:
    """The whole state machine at ``index`` (entry term ``last_term``), and the membership
    in force there (``config``: a `consensus.raft.log` configuration command). Sent whole:
    the acknowledgement is an AppendEntriesResponse with ``match_index = index``."""

    term: int
    index: int
    last_term: int
    config: bytes
    data: bytes
    stamp_us: int


RaftMessage = (
    RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse | InstallSnapshot
)
