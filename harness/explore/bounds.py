"""What an exploration may do: the bounds that make the state space finite, and the timing.

Time is abstract: all clocks run at the true rate (a drift of 0 is within the bound rho), a
`Tick` transition moves true time to the node's next timer deadline (never backwards), and a
timer may fire late (a paused node), never early. ``ticks`` bounds how many Tick transitions a
path may take; that bound (or ``depth``) is what keeps the state space finite.
"""

from __future__ import annotations

from typing import Any

import attrs

from consensus import VARIANTS, Timing

EXPLORE_TIMING = Timing(
    heartbeat_interval_us=50_000,
    election_timeout_us=500_000,
    election_jitter_us=0,
    lease_duration_us=1_000_000,
    drift_bound_ppm=10_000,
)
"""The protocol timing explored: the defaults without election jitter (the explorer's
``choose`` always answers 0, so jitter would only be a constant anyway)."""

STRATEGIES: tuple[str, ...] = ("bfs", "dfs", "random")

MAX_NODES = 9
"""Most nodes (replicas and spares) an exploration may have: every state holds each node's
whole replica, so the cost of one state, and of ``--max-states`` of them, grows with it."""
MAX_CLIENT_OPS = 16
"""Most client operations (writes plus reads): each one is a client in every state and a
request action per serving node, so the cost of one state grows with them; an exhaustive
search of more than a few is hopeless anyway."""


def default_inflight(replicas: int) -> int:
    """The default in-flight bound: room for a leader to be elected and to broadcast.

    A candidate wins on a majority of answers while the minority's are still in flight
    (``(replicas - 1) // 2`` messages), and at once broadcasts to every peer
    (``replicas - 1``). A smaller bound refuses every election beyond the first ballot's
    messages, and the search sees nothing of the protocol. For 3 replicas this is the
    documented 3.
    """
    return max(1, (replicas - 1) + (replicas - 1) // 2)


DEAD_AFTER_US = 50_000
"""The failure detector's default when spares are explored: one heartbeat interval, so a
leader heals within the default tick bound."""


class BoundsError(ValueError):
    """Bounds that are negative, unknown, or would not terminate without a depth limit."""


@attrs.frozen(kw_only=True)
class Bounds:
    """Limits of one exploration (the defaults are the documented exhaustive configuration).

    Attributes:
        replicas: storage replicas in the group (ids 0..replicas-1).
        writes: client writes (each one ``put k=v<i>`` by its own client, issued once).
        reads: strong client reads of ``k`` (each by its own client, issued once).
        crashes: crashes on a path (a crashed node restarts at once from its WAL).
        max_round: highest ballot round a path may reach (1 = a single election).
        ticks: Tick transitions on a path; None = unbounded (needs ``depth``).
        drops: messages a path may lose (0: no loss).
        dups: messages a path may duplicate (0: no duplication).
        inflight: most messages in flight at once; a step sending beyond it is not
            explored (an under-approximation that keeps interleavings in check). None =
            `default_inflight` of ``replicas`` (3 for 3 replicas).
        depth: longest path explored; None = unbounded (needs ``ticks``).
        variant: a deliberately broken protocol (`harness.sim.runspec.VARIANTS`), or None.
        candidates: only nodes 0..candidates-1 may start an election (a non-candidate's
            election timer never fires: its Tick is not an action); None = every storage
            replica. An under-approximation below ``replicas``; it makes the other storage
            replicas interchangeable (`harness.explore.symmetry`).
        symmetry: identify states that differ by a permutation of interchangeable node ids
            (`harness.explore.symmetry`; a no-op when no two nodes are interchangeable).
        spares: storage spares (ids after the replicas), started when a healing leader
            adds them (`consensus.effects.StartReplica`).
        log_spares: log-replica spares (ids after the storage spares), likewise. None =
            1 for the ``one-step-swap`` variant (so its bug is reachable with the default
            bounds), else 0.
        kills: storage replicas a path may kill for good (never restarted).
        step_downs: leaders a path may tell to step down (`consensus.events.StepDown`: a
            planned handover; the leader releases the lease granted to its ballot).
        dead_after_us: a leader replaces a storage voter it has not heard from for this
            long (``ReplicaConfig.replica_dead_after_us``); 0 = never. None = 50,000 (one
            heartbeat interval) when the group has spares, else 0.
    """

    replicas: int = 3
    writes: int = 1
    reads: int = 1
    crashes: int = 1
    max_round: int = 2
    ticks: int | None = 2
    drops: int = 0
    dups: int = 0
    inflight: int | None = None
    depth: int | None = None
    variant: str | None = None
    candidates: int | None = None
    symmetry: bool = True
    spares: int = 0
    log_spares: int | None = None
    kills: int = 0
    step_downs: int = 0
    dead_after_us: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.inflight is None:
            object.__setattr__(self, "inflight", default_inflight(self.replicas))
        if self.log_spares is None:
            object.__setattr__(self, "log_spares", int(self.variant == "one-step-swap"))
        if self.dead_after_us is None:
            has_spares = self.spares + self.n_log_spares > 0
            object.__setattr__(self, "dead_after_us", DEAD_AFTER_US if has_spares else 0)
        for name in (
            "replicas", "writes", "reads", "crashes", "max_round", "drops", "dups", "inflight",
            "spares", "log_spares", "kills", "dead_after_us", "ticks", "depth", "candidates",
            "step_downs",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise BoundsError(f"bounds must be ints, got {name}={value!r}")
        if not isinstance(self.symmetry, bool):
            raise BoundsError(f"symmetry must be true or false, got symmetry={self.symmetry!r}")
        for name in (
            "replicas", "writes", "reads", "crashes", "max_round", "drops", "dups", "inflight",
            "spares", "log_spares", "kills", "dead_after_us", "step_downs",
        ):
            value = getattr(self, name)
            if value < 0:
                raise BoundsError(f"bounds must be >= 0, got {name}={value}")
        for name in ("ticks", "depth"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BoundsError(f"bounds must be >= 0, got {name}={value}")
        if self.replicas < 1:
            raise BoundsError(f"replicas must be >= 1, got replicas={self.replicas}")
        if self.nodes > MAX_NODES:
            raise BoundsError(
                f"at most {MAX_NODES} nodes (replicas and spares), got replicas={self.replicas} "
                f"spares={self.spares} log_spares={self.log_spares}"
            )
        if self.writes + self.reads > MAX_CLIENT_OPS:
            raise BoundsError(
                f"at most {MAX_CLIENT_OPS} client operations (writes plus reads), got "
                f"writes={self.writes} reads={self.reads}"
            )
        if self.ticks is None and self.depth is None:
            raise BoundsError(
                "unbounded ticks never terminate (time grows forever): give --ticks or --depth"
            )
        if self.candidates is not None and not 1 <= self.candidates <= self.replicas:
            raise BoundsError(
                f"candidates must be in 1..replicas, got candidates={self.candidates} "
                f"replicas={self.replicas}"
            )
        if self.variant is not None and self.variant not in VARIANTS:
            raise BoundsError(
                f"unknown variant {self.variant!r}; choose from {', '.join(VARIANTS)}"
            )

    @property
    def members(self) -> tuple[int, ...]:
        """The storage replicas of the initial configuration: ids 0..replicas-1."""
        return tuple(range(self.replicas))

    @property
    def max_inflight(self) -> int:
        """``inflight`` resolved (never None after construction)."""
        return self.inflight if self.inflight is not None else default_inflight(self.replicas)

    @property
    def n_log_spares(self) -> int:
        """``log_spares`` resolved (never None after construction)."""
        return self.log_spares or 0

    @property
    def spare_ids(self) -> tuple[int, ...]:
        """Storage spares' ids (after the replicas)."""
        return tuple(range(self.replicas, self.replicas + self.spares))

    @property
    def log_spare_ids(self) -> tuple[int, ...]:
        """Log-replica spares' ids (after the storage spares)."""
        first = self.replicas + self.spares
        return tuple(range(first, first + self.n_log_spares))

    @property
    def nodes(self) -> int:
        """Every node id that may ever run: 0..nodes-1 (replicas, then spares)."""
        return self.replicas + self.spares + self.n_log_spares

    @property
    def membership(self) -> bool:
        """True iff membership changes are explored (spares exist, S12/S13 are checked)."""
        return self.spares + self.n_log_spares > 0

    @property
    def n_candidates(self) -> int:
        """How many nodes may start an election (``candidates`` resolved)."""
        return self.replicas if self.candidates is None else self.candidates

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict; `from_json` inverts it."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bounds:
        """Build bounds from `to_json` output; raises BoundsError on unknown or bad fields."""
        names = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise BoundsError(f"unknown bound(s): {', '.join(unknown)}")
        return cls(**data)
