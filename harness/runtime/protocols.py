"""The protocols the harness can run, by name: `ProtocolSpec` and the registry `PROTOCOLS`.

A protocol is a folder in `consensus/` whose replicas satisfy
`harness.runtime.ports.ProtocolReplica` (docs/protocol.md). The harness needs of it only
what a `ProtocolSpec` holds: how to build (and recover) a replica, its deliberately broken
variants, the invariants that live with it (None: the shared checks only,
`harness.checks.shared`), whether the explorer can search it, and the faults its
assumptions tolerate.

Registered: ``multipaxos`` (`consensus.Replica`, the default) and ``example`` (the fixed-
leader primary-backup of `consensus.example`). ``raft`` is registered lazily: the first
`get` imports `consensus.raft`; if that package is not in the tree the name stays listed,
and `get` raises `ProtocolUnavailable` with one line saying so.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from consensus import VARIANTS as MULTIPAXOS_VARIANTS
from consensus import Replica, ReplicaConfig, example
from harness.checks.invariants import OnlineInvariants
from harness.checks.raft import RaftInvariants
from harness.checks.shared import CheckSet, SharedInvariants
from harness.runtime.ports import ReplicaLike

DEFAULT = "multipaxos"

ALL_FAULTS: tuple[str, ...] = (
    "partition", "crash", "pause", "clock", "disk", "loss", "adversarial", "permanent"
)
"""Every fault kind the simulator knows (`harness.sim.runspec.FAULTS` is this tuple)."""
OPT_IN_FAULTS: tuple[str, ...] = ("churn", "membership")
"""Fault kinds only a protocol listing them in its `ProtocolSpec.faults` gets: ``churn`` (a
leader crashes in the middle of its sends and comes back soon: its new entries reach a
minority, terms follow each other quickly; `harness.sim.nemesis_options.ChurnOptions`);
``membership`` (extra nodes run outside the configuration, and the nemesis asks leaders for
one-server changes at drawn times, most often right after an election;
`harness.sim.nemesis_options.MembershipOptions`)."""
KNOWN_FAULTS: tuple[str, ...] = (*ALL_FAULTS, *OPT_IN_FAULTS)
"""Every fault name a run may ask for (a protocol refuses those outside its spec)."""
_DEFAULT_FAULTS = ("partition", "crash", "pause", "clock", "disk", "loss")

InvariantFactory = Callable[[Sequence[int]], Any]
"""``factory(members) -> invariant set`` with the hooks of `harness.checks.shared.
InvariantSet` (and ``set_initial``)."""


class ProtocolUnavailable(ValueError):
    """A protocol name that is unknown, or registered but whose package is not in the tree."""


@attrs.frozen(kw_only=True)
class ProtocolSpec:
    """One protocol, as the harness needs it.

    Attributes:
        name: the ``--protocol`` name.
        summary: one line for listings.
        make_replica: ``make_replica(node_id=, members=, timing=, variant=, choose=, records=,
            applied_slot=, **extras)`` builds or recovers a replica
            (`harness.runtime.backend.MakeReplica`); extras it does not know it ignores.
        variants: its deliberately broken versions (``--variant``).
        invariants: the factory of its own invariant set (None: shared checks only).
        invariants_name: how the run output names that set.
        explorer: whether ``paxlab explore`` can search it (its ghost checks are its own).
        faults: the fault kinds within its assumptions (others are refused up front).
        default_faults: what a run injects when not told.
        explore_bounds: the bounds ``paxlab explore --protocol NAME`` searches when not
            told, as ``(name, value)`` pairs over ``writes``, ``reads``, ``crashes`` and
            ``ticks`` (each left out: `harness.explore.bounds.Bounds`' default). Chosen so
            the search is exhaustive in minutes (docs/explore.md).
        steps_down_alone: its leader stops leading once cut off from every other node (a
            quorum check), so the simulator checks S19 (`harness.sim.stale_leader`).
    """

    name: str
    summary: str
    make_replica: Callable[..., ReplicaLike]
    variants: tuple[str, ...] = ()
    invariants: InvariantFactory | None = None
    invariants_name: str = ""
    explorer: bool = False
    faults: tuple[str, ...] = ALL_FAULTS
    default_faults: tuple[str, ...] = _DEFAULT_FAULTS
    explore_bounds: tuple[tuple[str, int], ...] = ()
    steps_down_alone: bool = False

    def make_checks(self, members: Sequence[int]) -> CheckSet:
        """The online checks of one run: the protocol's own (if any), then the shared ones."""
        shared = SharedInvariants(members)
        if self.invariants is None:
            return CheckSet([shared], ["shared"])
        return CheckSet([self.invariants(members), shared], [self.invariants_name, "shared"])

    def checks_label(self) -> str:
        """``"shared only"`` or ``"shared + NAME"`` (as the run output prints it)."""
        return "shared only" if self.invariants is None else f"shared + {self.invariants_name}"


def make_multipaxos(**kw: Any) -> ReplicaLike:
    """`consensus.Replica` from the `harness.runtime.backend.MakeReplica` keywords."""
    config = ReplicaConfig(
        node_id=kw["node_id"],
        members=kw["members"],
        timing=kw["timing"],
        variant=kw["variant"],
        log_members=kw.get("log_members", ()),
        spares=kw.get("spares", ()),
        log_spares=kw.get("log_spares", ()),
        replica_dead_after_us=kw.get("replica_dead_after_us", 0),
        window=kw.get("window", 64),
        snapshot_chunk_bytes=kw.get("snapshot_chunk_bytes", 1 << 20),
    )
    return Replica(config, kw["choose"], records=kw["records"], applied_slot=kw["applied_slot"])


PROTOCOLS: dict[str, ProtocolSpec] = {
    "multipaxos": ProtocolSpec(
        name="multipaxos",
        summary="Multi-Paxos with leader leases, log replicas and healing (consensus.Replica)",
        make_replica=make_multipaxos,
        variants=MULTIPAXOS_VARIANTS,
        invariants=OnlineInvariants,
        invariants_name="multipaxos (S1, S3, S4, S5, S12..S15)",
        explorer=True,
        steps_down_alone=True,
    ),
    "example": ProtocolSpec(
        name="example",
        summary="fixed-leader primary-backup, the interface's minimal example (consensus.example)",
        make_replica=example.make_replica,
        variants=example.VARIANTS,
        faults=("partition", "crash", "pause", "clock", "loss"),
        default_faults=("partition", "crash", "pause", "clock", "loss"),
        explorer=True,
    ),
}
"""Every protocol registered so far, by name (see `register` and `get`)."""

RAFT_VARIANTS: tuple[str, ...] = (
    "no-prevote", "no-check-quorum", "commit-old-term", "single-server-change-bug"
)


RAFT_EXPLORE_BOUNDS: tuple[tuple[str, int], ...] = (("writes", 1), ("reads", 1), ("crashes", 0),
                                                    ("ticks", 2))
"""``paxlab explore --protocol raft`` with no bounds: 3 replicas, 1 write, 1 strong read, no
crash, 2 ticks, 3 messages in flight: exhaustive in about 40 CPU seconds (docs/explore.md);
with a crash as well it takes more than 4 CPU minutes and 1.8 GB."""


def _load_raft() -> ProtocolSpec:
    """The spec of `consensus.raft`, imported now (raises `ProtocolUnavailable` without it)."""
    if importlib.util.find_spec("consensus.raft") is None:
        raise ProtocolUnavailable(
            "protocol raft is not available: the package consensus.raft is not in this tree"
        )
    try:
        raft = importlib.import_module("consensus.raft")
        make_replica = raft.make_replica
    except Exception as exc:  # a half-built package: say so, never a traceback
        raise ProtocolUnavailable(
            f"protocol raft is not available: consensus.raft does not load "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return ProtocolSpec(
        name="raft",
        summary="Raft with pre-vote, check-quorum and leader leases (consensus.raft)",
        make_replica=make_replica,
        variants=tuple(getattr(raft, "VARIANTS", RAFT_VARIANTS)),
        invariants=RaftInvariants,
        invariants_name="raft (S3, S4, S16, S17, S18)",
        faults=(*(f for f in ALL_FAULTS if f != "permanent"), "churn", "membership"),
        explorer=True,
        explore_bounds=RAFT_EXPLORE_BOUNDS,
        steps_down_alone=True,
    )


_LAZY: dict[str, Callable[[], ProtocolSpec]] = {"raft": _load_raft}


def register(spec: ProtocolSpec) -> None:
    """Add (or replace) a protocol under ``spec.name``."""
    PROTOCOLS[spec.name] = spec


def names() -> tuple[str, ...]:
    """Every protocol name, registered or lazily registered, sorted (default first)."""
    rest = sorted((set(PROTOCOLS) | set(_LAZY)) - {DEFAULT})
    return (DEFAULT, *rest)


def get(name: str) -> ProtocolSpec:
    """The spec of protocol ``name``; raises `ProtocolUnavailable` (a ValueError) if it is
    unknown or its package is missing (one line, fit for the CLI)."""
    spec = PROTOCOLS.get(name)
    if spec is not None:
        return spec
    loader = _LAZY.get(name)
    if loader is None:
        raise ProtocolUnavailable(
            f"unknown protocol {name!r}; choose from {', '.join(names())}"
        )
    spec = loader()
    register(spec)
    return spec


def describe() -> list[str]:
    """One line per protocol name: what it is, or why it cannot run here."""
    lines = []
    for name in names():
        try:
            spec = get(name)
        except ProtocolUnavailable as exc:
            lines.append(f"{name}: unavailable ({exc})")
            continue
        lines.append(f"{name}: {spec.summary}; checks: {spec.checks_label()}")
    return lines
