"""History variables of a path (what was proposed, voted, chosen, promised, acknowledged) and
the safety checks that read them.

These are the checks of `harness.checks.invariants.OnlineInvariants`, with the same definitions and
property names, kept in a small copy-on-write record because the explorer holds thousands of
paths at once (an `OnlineInvariants` carries a reference `KVStore` on a disk, too heavy to
copy per state). tests/harness/explore/test_replay.py feeds the same steps to both and checks
they agree. A found violation is confirmed by `harness.failures.explore_replay`, which
runs the real `OnlineInvariants` in the simulator's host loop.

- S1: two values proposed for one (slot, ballot), or a slot chosen (a majority durably
  accepted one (slot, ballot)) with two values.
- S2/S14: an Apply whose command is not the chosen one (S14 if it was never proposed).
- S3: promised goes back within an incarnation, or a restarted node promises less than a
  ballot it sent a Promise or Accepted for.
- S4: an Apply, or a commit index, covering a slot that is not chosen.
- S5: a leader acknowledges a write or serves a strong read before commit >= recovery_slot.
- S6: `check_s6` and `check_s6_until`, on every replica at once.
- S8 (online part): a strong read served at an applied slot below an acknowledged write.
- S9: a read returns a value other than the chosen log's at the reader's applied slot.
- S10: a write acknowledged at a slot that is not chosen.
- S12/S13 (only when membership is explored): `harness.checks.membership`, whose
  history (the chain of chosen configurations) is forked with the rest. A slot is then
  chosen when a quorum of the configuration its proposer had in force at that slot (the
  proposer's own log, as the protocol counts it) accepted it under one ballot.
"""

from __future__ import annotations

from typing import Any

from consensus.ballot import Ballot
from consensus.effects import Persist, Reply, Send
from consensus.membership import is_config
from consensus.messages import Accepted, Promise
from consensus.quorum import Membership
from consensus.records import AcceptRecord, decode_record
from harness.checks.membership import MembershipInvariants
from harness.checks.violation import Violation
from storage.kv import Command


class Found(Exception):
    """Raised inside a transition when a property is violated; carries the `Violation`."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def kv_apply(state: dict[bytes, bytes], command: bytes) -> tuple[bool, bytes | None]:
    """Apply an encoded `storage.kv.Command` to ``state`` in place; return (ok, value).

    The same semantics as `storage.kv.KVStore` (without the retry dedup: explorer clients
    never retry). ``b""`` and configuration entries (`consensus.membership`, which the host
    applies as no-ops) change nothing.
    """
    if not command or is_config(command):
        return True, None
    cmd = Command.decode(command)
    key, op = cmd.key, cmd.op
    if op == "put":
        state[key] = cmd.value
        return True, None
    if op == "delete":
        state.pop(key, None)
        return True, None
    current = state.get(key)
    if op == "append":
        new = cmd.value if current is None else current + cmd.value
        state[key] = new
        return True, new
    if current != cmd.expected:
        return False, current
    state[key] = cmd.value
    return True, cmd.value


class Ghost:
    """The path's history variables; `fork` gives a copy a transition may change."""

    __slots__ = (
        "_fp", "chosen", "configs", "max_acked", "minv", "promised_sent", "proposed", "quorum",
        "votes",
    )

    def __init__(self, replicas: int, *, membership: bool = False) -> None:
        self.quorum = replicas // 2 + 1
        self.proposed: dict[tuple[int, Ballot], bytes] = {}
        self.votes: dict[tuple[int, Ballot], int] = {}
        self.chosen: dict[int, bytes] = {}
        self.promised_sent: dict[int, Ballot] = {}
        self.max_acked = 0
        self._fp: bytes | None = None
        # membership only: the proposer's configuration per (slot, ballot), and S12/S13
        self.configs: dict[tuple[int, Ballot], Membership] | None = {} if membership else None
        self.minv: MembershipInvariants | None = MembershipInvariants() if membership else None

    def fork(self) -> Ghost:
        g = object.__new__(Ghost)
        g.quorum = self.quorum
        g.proposed = dict(self.proposed)
        g.votes = dict(self.votes)
        g.chosen = dict(self.chosen)
        g.promised_sent = dict(self.promised_sent)
        g.max_acked = self.max_acked
        g._fp = None
        g.configs = None if self.configs is None else dict(self.configs)
        g.minv = None if self.minv is None else self.minv.fork()
        return g

    def fingerprint(self, perm: tuple[int, ...] | None = None) -> bytes:
        """Canonical bytes of what future checks depend on and the state does not show;
        ``perm`` relabels node ids (`harness.explore.symmetry`; None: as they are).

        Cached (without ``perm``): call it only once the transition that owns this ghost
        is complete."""
        if perm is None and self._fp is not None:
            return self._fp
        promised = self.promised_sent.items()
        parts: tuple[object, ...] = (
            sorted(self.chosen.items()),
            sorted(promised) if perm is None else sorted((perm[n], b) for n, b in promised),
            self.max_acked,
        )
        if self.minv is not None:
            chain = self.minv.history()  # the S12 checker's history
            parts = (*parts, sorted(self.configs.items()) if self.configs else (), chain)
        fp = repr(parts).encode()
        if perm is None:
            self._fp = fp
        return fp

    # ---- hooks, in the order a host performs effects ----------------------------------

    def on_persist(
        self, node: int, records: tuple[bytes, ...], where: dict[str, Any], replica: Any = None
    ) -> None:
        """Count ``node``'s durable accepts; S1 if two values clash. Without membership a
        write quorum is a majority; with it, a quorum of the configuration the proposer had
        in force at the slot (read from its own accept, which it persists first)."""
        for raw in records:
            if raw[:1] != b"A":
                continue
            rec = decode_record(raw)
            assert isinstance(rec, AcceptRecord)
            key = (rec.slot, rec.ballot)
            proposed = self.proposed.setdefault(key, rec.command)
            if proposed != rec.command:
                raise Found(Violation(
                    property="S1", slot=rec.slot, **where,
                    message=f"S1: two values proposed for slot {rec.slot} under ballot "
                            f"{rec.ballot}",
                ))
            cfg = None
            if self.configs is not None:
                cfg = self.configs.get(key)
                if cfg is None:
                    if rec.ballot.node != node or replica is None:
                        return
                    cfg = self.configs[key] = replica.config_at(rec.slot)
            mask = self.votes.get(key, 0) | (1 << node)
            self.votes[key] = mask
            if cfg is None:
                reached = mask.bit_count() == self.quorum
            else:
                reached = sum(1 for v in cfg.voters if mask >> v & 1) >= cfg.quorum
            if reached:
                chosen = self.chosen.get(rec.slot)
                if chosen is not None and chosen != rec.command:
                    raise Found(Violation(
                        property="S1", slot=rec.slot, **where,
                        message=f"S1: slot {rec.slot} chosen with two different values",
                    ))
                self.chosen[rec.slot] = rec.command

    def on_send(self, node: int, msg: object) -> None:
        if isinstance(msg, Promise | Accepted):
            best = self.promised_sent.get(node)
            if best is None or msg.ballot > best:
                self.promised_sent[node] = msg.ballot

    def on_apply(self, node: int, slot: int, command: bytes, where: dict[str, Any]) -> None:
        chosen = self.chosen.get(slot)
        if chosen is None:
            raise Found(Violation(
                property="S4", slot=slot, **where,
                message=f"S4: node {node} applied slot {slot}, which is not chosen",
            ))
        if chosen != command and not (command == b"" and is_config(chosen)):
            # (a configuration entry is applied as a no-op)
            proposed = command == b"" or any(
                c == command for (s, _), c in self.proposed.items() if s == slot
            )
            prop = "S2" if proposed else "S14"
            raise Found(Violation(
                property=prop, slot=slot, **where,
                message=f"{prop}: node {node} applied a command at slot {slot} that is not "
                        "the chosen one",
            ))

    def on_ack(self, replica: Any, slot: int, where: dict[str, Any]) -> None:
        if slot not in self.chosen:
            raise Found(Violation(
                property="S10", slot=slot, **where,
                message=f"S10: write at slot {slot} acknowledged before a write quorum had it",
            ))
        self.check_recovered(replica, "acknowledged a write", where)
        self.max_acked = max(self.max_acked, slot)

    def on_strong_read(self, replica: Any, where: dict[str, Any]) -> None:
        self.check_recovered(replica, "served a strong read", where)
        if replica.applied_index < self.max_acked:
            raise Found(Violation(
                property="S8", slot=self.max_acked, **where,
                message=f"S8: node {replica.node_id} served a strong read at applied slot "
                        f"{replica.applied_index}, missing the acknowledged write at slot "
                        f"{self.max_acked}",
            ))

    def on_read_value(
        self, node: int, applied: int, key: bytes, value: bytes | None, where: dict[str, Any]
    ) -> None:
        expected = self.value_at(key, applied)
        if expected != value:
            raise Found(Violation(
                property="S9", key=key.decode(errors="replace"), **where,
                message=f"S9: node {node} returned {value!r} for a read of key {key!r}, but "
                        f"at its applied slot {applied} the chosen log has {expected!r}",
            ))

    def check_recovered(self, replica: Any, what: str, where: dict[str, Any]) -> None:
        if replica.role.value == "leader" and replica.commit_index < replica.recovery_slot:
            raise Found(Violation(
                property="S5", slot=replica.recovery_slot, **where,
                message=f"S5: leader {replica.node_id} {what} with commit_index="
                        f"{replica.commit_index} below recovery_slot={replica.recovery_slot}",
            ))

    def check_monotone(
        self, node: int, before: tuple[Ballot, int] | None, replica: Any, where: dict[str, Any]
    ) -> None:
        """S3 and S4 after a step; ``before`` is (promised, commit_index) before it (None:
        the first step of an incarnation)."""
        promised, commit = replica.promised, replica.commit_index
        seen = 0
        if before is not None:
            if promised < before[0]:
                raise Found(Violation(
                    property="S3", **where,
                    message=f"S3: node {node} promised went back from {before[0]} to "
                            f"{promised}",
                ))
            seen = before[1]
            if commit < seen:
                raise Found(Violation(
                    property="S4", **where,
                    message=f"S4: node {node} commit index went back from {seen} to {commit}",
                ))
        for slot in range(seen + 1, commit + 1):
            if slot not in self.chosen:
                raise Found(Violation(
                    property="S4", slot=slot, **where,
                    message=f"S4: node {node} commit_index={commit} covers slot {slot}, "
                            "which is not chosen",
                ))

    def on_recover(self, node: int, replica: Any, where: dict[str, Any]) -> None:
        sent = self.promised_sent.get(node)
        if sent is not None and replica.promised < sent:
            raise Found(Violation(
                property="S3", **where,
                message=f"S3: node {node} recovered promised={replica.promised} below the "
                        f"ballot {sent} it promised before the crash",
            ))

    def value_at(self, key: bytes, applied: int) -> bytes | None:
        """``key``'s value after applying chosen slots 1..applied (all must be chosen)."""
        state: dict[bytes, bytes] = {}
        for slot in range(1, applied + 1):
            command = self.chosen.get(slot)
            if command is None:
                break
            kv_apply(state, command)
        return state.get(key)


def writes_ghost(effects: list[Any]) -> bool:
    """Whether performing ``effects`` changes the ghost (else it is shared, not copied)."""
    for e in effects:
        t = type(e)
        if t is Persist or (t is Reply and e.slot is not None):
            return True
        if t is Send and type(e.msg) in (Promise, Accepted):
            return True
    return False


def check_s6(replicas: list[Any], at_us: int, step: int) -> None:
    """S6 at true time ``at_us`` (all clocks read true time); None entries are down."""
    serving = [n for n, r in enumerate(replicas) if r is not None and r.is_serving(at_us)]
    if len(serving) > 1:
        raise Found(Violation(
            property="S6", time_us=at_us, step=step, node=serving[-1],
            message=f"S6: replicas {serving} all serve under a lease at true time {at_us}us",
        ))


def check_s6_until(replicas: list[Any], now_us: int, end_us: int, step: int) -> None:
    """S6 at every instant in (now, end): the serving set only grows at a step or when a
    lease wait ends, and overlaps are largest just before some lease expires."""
    for r in replicas:
        until = None if r is None else r.lease_until_us
        if until is not None and now_us < until - 1 < end_us:
            check_s6(replicas, until - 1, step)
