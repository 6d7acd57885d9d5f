"""Raft's own online invariants: what needs Raft's notions (terms, votes), run before the
shared checks (`harness.checks.shared`) for ``--protocol raft`` (`harness.runtime.protocols`).

They read only Raft's documented views (``term``, ``voted_for``, ``role``,
``commit_index``), never its records or messages, and each step costs a few attribute reads.

Checked here (names as in docs/properties.md):

- S3 (Raft's form) durable state never goes backwards, also across a restart: within an
  incarnation a node's ``term`` never drops and its ``voted_for`` never changes within a
  term; after a restart its term is at least every term it sent a message under, and in
  the term it recovered it still votes for whoever it granted a vote to in that term. What
  counts as promised to peers is read from the messages it sent (their ``term``; a vote
  response with ``granted``; pre-vote messages, which promise nothing, excluded), since a
  crash inside a step may lose state the replica held in memory but never sent.
- S4 (Raft's form) within an incarnation ``commit_index`` never drops.
- S16 election safety: at most one leader per term.
- S17 leader completeness: once an entry is committed (some node's ``commit_index`` covers
  it while that node is in term T), every leader of a term above T holds it (the same term
  at that index, read through ``term_at``), and no node ever commits another entry at that
  index. (A leader of term T or below may still win its election later in true time, from
  votes granted before: it holds no promise, and it cannot commit anything.) Checked when a
  node becomes leader (one pass over the committed indices it holds) and as commit indices
  advance (only the new indices): the property the Raft paper's Figure 8 and the 2015
  membership bug break, found at the election itself, before anything is overwritten.
- S18 no disruption: a leader is never deposed by a term some node raised on its own (not
  taken from the message it was receiving) before a quorum of its voters, itself included,
  had granted it a vote or pre-vote since its last raise (or restart). That is what PreVote
  promises: a node that could not win an election, such as one cut off from the leader,
  does not raise its term, so when it rejoins it deposes nobody (the Raft thesis, section
  9.6; without it, a node behind a partial partition deposes a working leader again and
  again). Any granted vote response counts, whatever term it names, so the rule is weaker
  than PreVote's own count and holds for every correct Raft; refusals do not count (a
  follower that still hears the leader refuses, and that refusal is no licence to raise).
  A group whose quorum is the node alone is exempt. Unanswered raises are recorded; the
  violation is the deposition (a leader of term T whose term rises to T' with an
  unanswered raise in (T, T']), so one that harms nobody, such as a first election, is not
  reported.

Not checked here: Log Matching on whole logs (a scan per step); committed indices a node
holds only in its snapshot (their terms are gone; the shared S2 covers what was applied);
State Machine Safety is the shared S2 (one command per applied slot on every node).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.checks.shared import lease_exclusive
from harness.checks.violation import Violation


class RaftInvariants:
    """The checks above over one run; hooks as `harness.checks.shared.InvariantSet`."""

    name = "raft"

    def __init__(self, members: Sequence[int] = ()) -> None:
        self._sent_term: dict[int, int] = {}  # node -> highest term it sent a message under
        self._granted: dict[tuple[int, int], int] = {}  # (node, term) -> candidate it granted
        self._seen: dict[int, tuple[int, int | None]] = {}  # node -> (term, vote), this life
        self._leaders: dict[int, int] = {}  # term -> its leader
        self._commit: dict[int, int] = {}  # node -> commit index (this incarnation)
        # index -> (term of the entry committed there, the term in which it was first seen
        # committed)
        self._committed: dict[int, tuple[int, int]] = {}
        self._led: dict[int, int] = {}  # node -> the term it was last seen leading
        # S18: node -> (its term at its last raise or restart, the voters that granted since)
        self._heard: dict[int, tuple[int, set[int]]] = {}
        self._unanswered: dict[int, str] = {}  # term -> how a node raised it unanswered
        self._leading: dict[int, int] = {}  # node -> the term it led at its last step

    def set_initial(self, initial: Any) -> None:
        """Nothing to do: these checks count no quorums."""

    def on_step(self, node_id: int, replica: Any, event: object, effects: Sequence[object],
                true_us: int, local_us: int, step: int) -> Violation | None:
        for effect in effects:
            msg = getattr(effect, "msg", None)
            term = getattr(msg, "term", None)
            if term is None or getattr(msg, "pre_vote", False):
                continue
            if term > self._sent_term.get(node_id, 0):
                self._sent_term[node_id] = term
            if getattr(msg, "granted", False):
                self._granted[(node_id, term)] = effect.dst  # type: ignore[attr-defined]
        where: dict[str, Any] = {"time_us": true_us, "step": step, "node": node_id}
        term, vote = replica.term, replica.voted_for
        self._note_raise(node_id, replica, event, term)
        seen = self._seen.get(node_id)
        if seen is not None:
            if term < seen[0]:
                return Violation(property="S3", message=(
                    f"S3: node {node_id} term went back from {seen[0]} to {term}"), **where)
            if term == seen[0] and seen[1] is not None and vote != seen[1]:
                return Violation(property="S3", message=(
                    f"S3: node {node_id} voted for {seen[1]} in term {term}, now "
                    f"voted_for={vote}"), **where)
            if term > seen[0] and self._leading.get(node_id) == seen[0] and self._unanswered:
                violation = self._deposed(node_id, seen[0], term, where)
                if violation is not None:
                    return violation
        self._seen[node_id] = (term, vote)
        commit = replica.commit_index
        before = self._commit.get(node_id, 0)
        if commit < before:
            return Violation(property="S4", message=(
                f"S4: node {node_id} commit index went back from {before} to {commit}"),
                **where)
        self._commit[node_id] = commit
        if commit > before:
            violation = self._on_commit(node_id, replica, before, commit, where)
            if violation is not None:
                return violation
        if replica.role.value != "leader":
            self._leading.pop(node_id, None)
        else:
            self._leading[node_id] = term
            leader = self._leaders.setdefault(term, node_id)
            if leader != node_id:
                return Violation(property="S16", message=(
                    f"S16: nodes {leader} and {node_id} both led term {term}"), **where)
            if self._led.get(node_id) != term:
                self._led[node_id] = term
                return self._complete(node_id, replica, term, where)
        return None

    def _note_raise(self, node_id: int, replica: Any, event: object, term: int) -> None:
        """S18: record a raise of ``node_id``'s term to ``term`` in this step that was neither
        taken from the message received nor granted by a quorum of its voters."""
        since = self._heard.get(node_id)
        msg = getattr(event, "msg", None)
        if since is None:
            self._heard[node_id] = since = (term, set())
        elif getattr(msg, "granted", False):
            since[1].add(event.src)  # type: ignore[attr-defined]
        if term <= since[0]:
            return
        self._heard[node_id] = (term, set())
        if getattr(msg, "term", -1) >= term and not getattr(msg, "pre_vote", False):
            return  # taken from a peer (a pre-vote message carries the term it asks for)
        voters = replica.members
        quorum = len(voters) // 2 + 1
        if quorum <= 1 or len((since[1] & set(voters)) | {node_id}) >= quorum:
            return
        granted = ", ".join(map(str, sorted(since[1]))) or "no peer"
        self._unanswered.setdefault(term, (
            f"node {node_id} raised its term from {since[0]} to {term} with votes granted by "
            f"{granted} since its last raise (a quorum of voters {tuple(voters)} is {quorum})"))

    def _deposed(self, node_id: int, led: int, term: int,
                 where: dict[str, Any]) -> Violation | None:
        """S18: the leader of term ``led`` now has ``term``: was a term between raised
        unanswered?"""
        raised = [t for t in self._unanswered if led < t <= term]
        if not raised:
            return None
        return Violation(property="S18", message=(
            f"S18: leader {node_id} of term {led} deposed by term {term}: "
            f"{self._unanswered[min(raised)]}"), **where)

    def _on_commit(self, node_id: int, replica: Any, before: int, commit: int,
                   where: dict[str, Any]) -> Violation | None:
        """S17: ``node_id`` now commits (before, commit]: those entries agree with what was
        committed there already, and the new ones are recorded."""
        committed = self._committed
        for index in range(before + 1, commit + 1):
            term = replica.term_at(index)
            if term is None:
                continue  # inside a snapshot it installed: the term is gone
            known = committed.get(index)
            if known is None:
                committed[index] = (term, replica.term)
            elif known[0] != term:
                return Violation(property="S17", message=(
                    f"S17: node {node_id} committed the entry of term {term} at index {index}, "
                    f"where the entry of term {known[0]} was committed before"), slot=index,
                    **where)
        return None

    def _complete(self, node_id: int, replica: Any, term: int,
                  where: dict[str, Any]) -> Violation | None:
        """S17 at an election: the new leader of ``term`` holds every committed entry."""
        for index, (want, seen) in self._committed.items():
            if term <= seen:
                continue  # committed in a term at or after this one: no promise to this leader
            have = replica.term_at(index)
            if have == want:
                continue
            if have is None and index <= replica.snapshot_index:
                continue  # compacted into its snapshot: committed, hence held
            held = "nothing" if have is None else f"the entry of term {have}"
            return Violation(property="S17", message=(
                f"S17: node {node_id} leads term {term} without the committed entry of term "
                f"{want} at index {index} (it holds {held} there)"), slot=index, **where)
        return None

    def on_recover(self, node_id: int, replica: Any, true_us: int,
                   step: int) -> Violation | None:
        """A restarted node keeps the term and the vote its peers relied on (S3)."""
        self._commit.pop(node_id, None)
        self._seen.pop(node_id, None)
        self._heard[node_id] = (replica.term, set())
        self._leading.pop(node_id, None)
        where: dict[str, Any] = {"time_us": true_us, "step": step, "node": node_id}
        term, vote = replica.term, replica.voted_for
        sent = self._sent_term.get(node_id, 0)
        if term < sent:
            return Violation(property="S3", message=(
                f"S3: node {node_id} recovered term={term} below the term {sent} it sent "
                "messages under before the crash"), **where)
        granted = self._granted.get((node_id, term))
        if granted is not None and vote != granted:
            return Violation(property="S3", message=(
                f"S3: node {node_id} recovered voted_for={vote} in term {term}, in which it "
                f"granted its vote to {granted}"), **where)
        return None

    def on_read(self, node_id: int, strong: bool, key: bytes | str, value: bytes | str | None,
                true_us: int, step: int) -> Violation | None:
        return None

    def on_final_state(self, node_id: int, applied_slot: int, checksum: str, true_us: int,
                       step: int) -> Violation | None:
        return None

    def on_final_acknowledged(self, node_id: int, applied_slot: int, true_us: int,
                              step: int) -> Violation | None:
        return None

    def check_global(self, replicas: Mapping[int, Any], local_now_us: Mapping[int, int],
                     true_us: int, step: int) -> Violation | None:
        return lease_exclusive(replicas, local_now_us, true_us, step)
