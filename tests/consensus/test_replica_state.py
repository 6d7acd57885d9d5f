"""`Replica.clone()` and `Replica.state_fingerprint()` (consensus.replica_state).

Over hypothesis-generated schedules on a `tests.consensus.group.Group` whose every step is
shadowed: before the real replica steps, a clone and a `copy.deepcopy` of it step the same
event (with the same random draws). Checked at every step: the clone shares no mutable object
with the original; the clone, the deepcopy and the original give the same effects and end in
the same structure; stepping the clone (twice, the second time with a tick far in the future)
leaves the original's structure and fingerprint as they were; the replica's configuration
caches (current, committed and pending configurations, peers) equal a from-scratch reading
of its log. The fingerprint is checked against the former repr-based one (kept below as the
reference): over all states of a schedule, two states have equal new fingerprints iff they
had equal old ones, so an explorer deduplicating by either counts the same states.
"""

from __future__ import annotations

import copy
import enum
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus import Replica, ReplicaConfig
from consensus.effects import Effect
from consensus.events import ClientRead, ClientWrite, Event, Tick
from consensus.membership import decode_config, is_config
from consensus.messages import Promise
from consensus.quorum import Membership
from consensus.records import DurableState
from consensus.replica_state import (
    ASSEMBLY_FIELDS,
    CANDIDATE_FIELDS,
    CLIENT_READ_FIELDS,
    CLIENT_WRITE_FIELDS,
    COPIED,
    DURABLE_FIELDS,
    FOLLOWER_FIELDS,
    LEADER_FIELDS,
    PROMISE_FIELDS,
    SHARED,
)
from consensus.roles import CandidateState, FollowerState, LeaderState, Role
from consensus.snapshot_stream import Assembly
from tests.consensus.group import Group

# ---------------------------------------------------------------------- structure helpers


def _frozen(t: type) -> bool:
    probe: Any = object.__new__(t)
    fields = attrs.fields(t)
    if not fields:
        return True
    try:
        setter: Any = t.__setattr__
        setter(probe, fields[0].name, None)
    except attrs.exceptions.FrozenInstanceError:
        return True
    return False


def structure(x: Any) -> Any:
    """A nested tuple describing ``x`` by value (dict order and container types included)."""
    t = type(x)
    if t in (int, bool, str, bytes, float, type(None)):
        return x
    if t is bytearray:
        return ("bytearray", bytes(x))
    if isinstance(x, (tuple, list)):
        return (t.__name__, tuple(structure(v) for v in x))
    if t is dict:
        return ("dict", tuple((structure(k), structure(v)) for k, v in x.items()))
    if t in (set, frozenset):
        return (t.__name__, tuple(sorted(repr(structure(v)) for v in x)))
    if isinstance(x, enum.Enum):
        return ("enum", t.__name__, x.name)
    if attrs.has(t):
        return (t.__name__, tuple((f.name, structure(getattr(x, f.name)))
                                  for f in attrs.fields(t)))
    if callable(x):
        return ("callable",)
    return (t.__name__, tuple((k, structure(v)) for k, v in vars(x).items()))


def mutable_ids(x: Any, out: dict[int, str] | None = None) -> dict[int, str]:
    """id -> type name of every mutable object reachable from ``x`` (not through callables)."""
    out = {} if out is None else out
    t = type(x)
    if t in (int, bool, str, bytes, float, type(None)) or isinstance(x, enum.Enum):
        return out
    if t in (dict, list, bytearray, set):
        out[id(x)] = t.__name__
        items = x.items() if t is dict else ((v, None) for v in x)
        for k, v in items:
            mutable_ids(k, out)
            mutable_ids(v, out)
        return out
    if isinstance(x, (tuple, frozenset)):
        for v in x:
            mutable_ids(v, out)
        return out
    if attrs.has(t):
        if not _frozen(t):
            out[id(x)] = t.__name__
        for f in attrs.fields(t):
            mutable_ids(getattr(x, f.name), out)
        return out
    if callable(x):
        return out
    out[id(x)] = t.__name__
    for v in vars(x).values():
        mutable_ids(v, out)
    return out


def deepcopy_replica(r: Replica) -> Replica:
    """copy.deepcopy, sharing only the ``choose`` callable (the group's random stream)."""
    return copy.deepcopy(r, {id(r._choose): r._choose})


def old_fingerprint(r: Replica) -> bytes:
    """The repr-based fingerprint the replica had before `consensus.replica_state`."""

    def state_tuple(state: Any) -> object:
        if state is None:
            return None
        return tuple(
            (k, tuple(v.items()) if isinstance(v, dict) else
             (tuple(v) if isinstance(v, list) else v))
            for k, v in attrs.asdict(state, recurse=False).items()
        )

    d = r._durable
    asm = r._assembly
    parts = (
        r.node_id, r.role.value, r._promised, d.promised,
        tuple((s, e.ballot, e.command) for s, e in sorted(d.accepted.items())),
        d.commit_hint, d.snapshot_slot, d.snapshot, d.config_slot, d.config, r.commit_index,
        r.applied_index, r.leader_ballot, r._max_round, r._last_heard_us, r._grant_until_us,
        r._grant_ballot, r._earlier_grants_until_us, r._timer_us,
        None if asm is None else (asm.slot, asm.total, bytes(asm.data)),
        state_tuple(r._fstate), state_tuple(r._cstate), state_tuple(r._lstate),
    )
    return repr(parts).encode()


def check_config_caches(r: Replica) -> None:
    """The cached configuration facts equal a from-scratch reading of the replica's log."""
    d = r._durable
    slots = sorted(s for s, e in d.accepted.items() if is_config(e.command))
    assert r._cfg_slots == slots
    base = decode_config(d.config) if d.config else r.config.initial

    def at(slot: int) -> Membership:
        found = [s for s in slots if s <= slot]
        return decode_config(d.accepted[found[-1]].command) if found else base

    current = decode_config(d.accepted[slots[-1]].command) if slots else base
    assert r.membership == current
    assert r.committed_membership == at(r.commit_index)
    pending = [at(r.commit_index)]
    for s in slots:
        m = decode_config(d.accepted[s].command)
        if s > r.commit_index and m != pending[-1]:
            pending.append(m)
    assert r.pending_memberships() == pending
    for info in r._pending_infos():
        m = info.membership
        assert (info.voters, info.quorum) == (m.voters, m.quorum)
        assert info.mask == m.mask(r._bit)
    voters = set(at(r.commit_index).voters) | set(current.voters)
    assert r._peers == tuple(sorted(voters - {r.node_id}))


# ---------------------------------------------------------------------- the shadowed group


class ShadowGroup(Group):
    """A Group that checks clone() and the fingerprint around every step (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.checked = 0
        self.roles: set[Role] = set()
        self.fps: dict[bytes, bytes] = {}  # new fingerprint -> old
        self.old_fps: dict[bytes, bytes] = {}  # old -> new
        super().__init__(*args, **kwargs)

    def record_fp(self, r: Replica) -> None:
        new, old = r.state_fingerprint(), old_fingerprint(r)
        assert self.fps.setdefault(new, old) == old, "equal new fingerprints, different states"
        assert self.old_fps.setdefault(old, new) == new, "equal states, different fingerprints"

    def step(self, i: int, event: Event) -> list[Effect]:
        node = self.nodes[i]
        orig = node.replica
        if not orig._started:  # a fresh incarnation: nothing to compare until its first step
            return super().step(i, event)
        now = node.clock_us
        before, before_fp = structure(orig), orig.state_fingerprint()
        cl = orig.clone()
        deep = deepcopy_replica(orig)
        assert structure(cl) == before
        assert cl.state_fingerprint() == before_fp == deep.state_fingerprint()
        cl_ids = mutable_ids(cl)
        shared = sorted(cl_ids[k] for k in cl_ids.keys() & mutable_ids(orig).keys())
        assert not shared, f"clone shares mutable objects of types {shared}"
        rng = self.rng.getstate()
        cl_effects = cl.step(event, now)
        cl_after = structure(cl)
        cl.step(Tick(), now + 10_000_000)  # diverge further: the original must not notice
        assert structure(orig) == before
        assert orig.state_fingerprint() == before_fp
        self.rng.setstate(rng)
        assert deep.step(event, now) == cl_effects
        assert structure(deep) == cl_after
        self.rng.setstate(rng)
        effects = super().step(i, event)
        assert effects == cl_effects
        assert structure(orig) == cl_after
        check_config_caches(orig)
        self.record_fp(orig)
        self.checked += 1
        self.roles.add(orig.role)
        return effects


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["deliver", "deliver", "drop", "dup", "run", "time", "write", "read",
                         "crash", "restart", "compact"]),
        st.integers(0, 1000),
        st.integers(0, 1000),
    ),
    min_size=10,
    max_size=60,
)


def run_shadowed(actions: list[tuple[str, int, int]], **group: Any) -> ShadowGroup:
    g = ShadowGroup(seed=len(actions), **group)
    g.run(200_000)  # every schedule starts from a group that had time to elect
    n = len(g.members)
    req = 0
    for kind, a, b in actions:
        node = g.members[a % n]
        alive = g.nodes[node].alive
        if kind in ("deliver", "drop", "dup") and g.network:
            idx = b % len(g.network)
            if kind == "deliver":
                g.deliver(idx)
            elif kind == "drop":
                g.network.pop(idx)
            else:
                g.network.append(g.network[idx])
        elif kind == "run":
            g.run(a * 300)
        elif kind == "time":
            g.advance(b * 200)
            g.tick_due()
        elif kind == "write" and alive:
            req += 1
            g.step(node, ClientWrite(client_id=1, request_id=req, command=b"w%d" % req))
        elif kind == "read" and alive:
            req += 1
            g.step(node, ClientRead(client_id=1, request_id=req, key=b"k", strong=b % 2 == 0))
        elif kind == "crash" and alive:
            g.crash(node)
        elif kind == "restart" and not alive:
            g.restart(node)
        elif kind == "compact" and alive:
            g.compact(node)
    return g


@given(ACTIONS)
def test_clone_is_independent_and_steps_like_deepcopy(actions: list[tuple[str, int, int]]) -> None:
    g = run_shadowed(actions)
    assert g.checked > 0


@settings(max_examples=20)  # six nodes, a deepcopy per step: the dearest test here
@given(ACTIONS)
def test_clone_with_log_replica_and_spares(actions: list[tuple[str, int, int]]) -> None:
    g = run_shadowed(actions, n=3, logs=1, log_spares=1, spares=1,
                     replica_dead_after_us=300_000)
    assert g.checked > 0


def test_clone_covers_every_role_and_fingerprints_agree() -> None:
    g = run_shadowed([("run", 1000, 0)] * 3 + [("write", 0, 0), ("run", 1000, 0),
                                               ("crash", 0, 0), ("run", 1000, 0)] * 3)
    assert g.roles == {Role.FOLLOWER, Role.CANDIDATE, Role.LEADER}
    assert len(g.fps) == len(g.old_fps) > 10


def test_clone_copies_a_snapshot_assembly() -> None:
    r = Replica(ReplicaConfig(node_id=0, members=(0, 1, 2)), lambda label, n: 0)
    r.step(Tick(), 0)
    r._assembly = Assembly(5, 100, bytearray(b"abc"))
    c = r.clone()
    assert c._assembly is not None and c._assembly.data is not r._assembly.data
    c._assembly.data.extend(b"d")
    assert bytes(r._assembly.data) == b"abc"
    assert c.state_fingerprint() != r.state_fingerprint()


# ---------------------------------------------------------------------- field guards


def _replicas_in_every_role() -> list[Replica]:
    g = Group(3, logs=1, spares=1, log_spares=1)
    out = [n.replica for n in g.nodes.values()]
    g.elect()
    out.extend(n.replica for n in g.nodes.values())
    out.append(Replica(ReplicaConfig(node_id=0, members=(0, 1)), lambda label, n: 0))
    return out


def test_clone_knows_every_replica_attribute() -> None:
    """Fails when Replica gains an attribute: add it to SHARED (immutable) or COPIED (and
    copy it in clone_replica), and to the fingerprint if it decides future behaviour."""
    assert not SHARED & COPIED
    for r in _replicas_in_every_role():
        assert set(vars(r)) == SHARED | COPIED, sorted(set(vars(r)) ^ (SHARED | COPIED))


def test_clone_and_fingerprint_know_every_field_of_the_state_classes() -> None:
    """Fails when a state class gains a field: copy it in clone_replica, encode it in
    fingerprint, then add it to the tuple here."""
    for cls, names in [
        (FollowerState, FOLLOWER_FIELDS), (CandidateState, CANDIDATE_FIELDS),
        (LeaderState, LEADER_FIELDS), (DurableState, DURABLE_FIELDS),
        (Assembly, ASSEMBLY_FIELDS), (Promise, PROMISE_FIELDS),
        (ClientWrite, CLIENT_WRITE_FIELDS), (ClientRead, CLIENT_READ_FIELDS),
    ]:
        assert tuple(f.name for f in attrs.fields(cls)) == names, cls.__name__


def test_shared_attributes_hold_immutable_values() -> None:
    for r in _replicas_in_every_role():
        for name in SHARED:
            value = getattr(r, name)
            assert not mutable_ids(value), f"{name} holds a mutable value: {value!r}"


def test_clone_through_a_healing_membership_change() -> None:
    """A storage replica dies; the leader adds spares through configuration entries, so the
    configuration caches (members.ConfigLog) are cloned and compared mid-change too."""
    actions = [("run", 1000, 0)] * 2 + [("crash", 0, 0)] + [("run", 1000, 0)] * 12
    g = run_shadowed(actions, n=3, spares=1, log_spares=1, replica_dead_after_us=300_000)
    changed = [i for i, n in g.nodes.items() if n.alive and n.replica.membership_changed]
    assert changed, "no configuration entry reached any replica"
    assert g.checked > 100


def test_catch_up_progress_is_part_of_the_fingerprint() -> None:
    """Two replicas that differ only in catch-up progress act differently (whether a retry
    is due, which peer is asked next), so the explorer must not merge them."""
    base = _replicas_in_every_role()[0]
    for attr, value in (("_catch_up_from", 7), ("_catch_up_target", 2),
                        ("_catch_up_retry_us", 123_456)):
        other = base.clone()
        setattr(other, attr, value)
        assert getattr(base, attr) != value
        assert other.state_fingerprint() != base.state_fingerprint(), attr
