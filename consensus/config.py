"""Replica configuration: timing (local microseconds), group membership and protocol variants."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from consensus.quorum import Membership
from consensus.snapshot_stream import SNAPSHOT_CHUNK_BYTES

VARIANTS: tuple[str, ...] = (
    "no-lease-wait", "quorum-one", "no-persist-promise", "stale-read", "one-step-swap"
)
"""Deliberately broken protocol versions, for users to study and to prove the checkers:

- ``no-lease-wait``: a new leader serves at once, without waiting out leases granted to its
  predecessor (breaks S6, then S8).
- ``quorum-one``: a slot counts as chosen as soon as the leader's own accept is durable
  (breaks S1/S4/S10 once that leader fails).
- ``no-persist-promise``: a promise is sent without persisting it first (breaks S3 across a
  restart, then S1).
- ``stale-read``: strong reads are served by any replica from its applied state, without a
  lease (breaks S8).
- ``one-step-swap``: a membership change jumps to its target in one step (e.g. a dead storage
  replica swapped for a log replica), so the old and new quorums need not intersect (breaks
  S12, then S1/S10).
"""


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {attribute.name}={value}")


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {attribute.name}={value}")


def _ppm(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value < 1_000_000:
        raise ValueError(f"{attribute.name} must be in [0, 1000000), got {attribute.name}={value}")


@attrs.frozen
class Timing:
    """Protocol time constants, all in the node's *local* microseconds.

    The election timeout actually used is ``election_timeout_us + choose("election.jitter",
    election_jitter_us + 1)``, drawn afresh for each timeout. ``drift_bound_ppm`` is rho: the
    most any local clock's rate may differ from true time, in parts per million.
    """

    heartbeat_interval_us: int = attrs.field(default=50_000, validator=_positive)
    election_timeout_us: int = attrs.field(default=500_000, validator=_positive)
    election_jitter_us: int = attrs.field(default=500_000, validator=_non_negative)
    lease_duration_us: int = attrs.field(default=1_000_000, validator=_positive)
    drift_bound_ppm: int = attrs.field(default=10_000, validator=_ppm)


@attrs.frozen
class Flags:
    """The protocol switches a variant turns off; each is consulted in one or two places."""

    lease_wait: bool = True
    majority_commit: bool = True
    persist_promise: bool = True
    strong_read_needs_lease: bool = True
    single_change: bool = True

    @classmethod
    def for_variant(cls, variant: str | None) -> Flags:
        """Return the flags of ``variant`` (None: the correct protocol)."""
        if variant is None:
            return cls()
        return {
            "no-lease-wait": cls(lease_wait=False),
            "quorum-one": cls(majority_commit=False),
            "no-persist-promise": cls(persist_promise=False),
            "stale-read": cls(strong_read_needs_lease=False),
            "one-step-swap": cls(single_change=False),
        }[variant]


def _to_members(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _check_members(instance: ReplicaConfig, attribute: object, value: tuple[int, ...]) -> None:
    if not value:
        raise ValueError("members must not be empty")
    if list(value) != sorted(set(value)):
        raise ValueError(f"members must be sorted and distinct, got members={value}")
    if any(m < 0 for m in value):
        raise ValueError(f"member ids must be >= 0, got members={value}")


def _check_ids(instance: ReplicaConfig, attribute: attrs.Attribute[tuple[int, ...]],
               value: tuple[int, ...]) -> None:
    if list(value) != sorted(set(value)) or any(m < 0 for m in value):
        raise ValueError(f"{attribute.name} must be sorted, distinct, >= 0, got {value}")


def _check_variant(instance: ReplicaConfig, attribute: object, value: str | None) -> None:
    if value is not None and value not in VARIANTS:
        raise ValueError(f"unknown variant {value!r}; choose from {', '.join(VARIANTS)}")


@attrs.frozen
class ReplicaConfig:
    """One replica's view of its group.

    ``members`` are the storage replicas' ids of the initial configuration, sorted;
    ``log_members`` the initial log replicas. ``spares`` (storage) and ``log_spares`` are
    nodes outside the initial configuration that a leader may add when healing; a node is a
    log replica (WAL only, never leads or serves reads) iff it is in ``log_members`` or
    ``log_spares``, and ``node_id`` must be in one of the four. ``replica_dead_after_us``: a
    leader that has heard nothing from a storage voter for that long replaces it (0: never).
    ``window`` is the
    most slots a leader keeps in flight (proposed, not yet chosen). A snapshot larger than
    ``snapshot_chunk_bytes`` is streamed to a lagging replica in chunks of that size.
    ``variant`` selects a
    deliberately broken protocol (see `VARIANTS`); None is the correct one.

    Raises ValueError for an unknown variant, a node in none of the sets, overlapping sets,
    an initial configuration that `consensus.quorum.Membership` rejects, or window < 1.
    """

    node_id: int = attrs.field()
    members: tuple[int, ...] = attrs.field(converter=_to_members, validator=_check_members)
    timing: Timing = attrs.field(factory=Timing)
    window: int = attrs.field(default=64, validator=_positive)
    variant: str | None = attrs.field(default=None, validator=_check_variant)
    log_members: tuple[int, ...] = attrs.field(
        default=(), converter=_to_members, validator=_check_ids
    )
    spares: tuple[int, ...] = attrs.field(default=(), converter=_to_members, validator=_check_ids)
    log_spares: tuple[int, ...] = attrs.field(
        default=(), converter=_to_members, validator=_check_ids
    )
    replica_dead_after_us: int = attrs.field(default=0, validator=_non_negative)
    snapshot_chunk_bytes: int = attrs.field(default=SNAPSHOT_CHUNK_BYTES, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.node_id not in self.universe:
            raise ValueError(
                f"node must be a member, got node_id={self.node_id} members={self.members}"
            )
        groups = self.members + self.log_members + self.spares + self.log_spares
        if len(set(groups)) != len(groups):
            raise ValueError(
                f"a node id appears twice among members, log_members, spares, log_spares: "
                f"members={self.members} log_members={self.log_members} spares={self.spares} "
                f"log_spares={self.log_spares}"
            )
        Membership(self.members, self.log_members)  # validates the initial configuration

    @property
    def initial(self) -> Membership:
        """The configuration every replica starts with (before any change in the log)."""
        return Membership(self.members, self.log_members)

    @property
    def universe(self) -> tuple[int, ...]:
        """Every node id that may ever be a voter, sorted."""
        return tuple(sorted(self.members + self.log_members + self.spares + self.log_spares))

    @property
    def is_log_replica(self) -> bool:
        """True iff this node runs as a log replica (WAL only)."""
        return self.node_id in self.log_members or self.node_id in self.log_spares

    @property
    def flags(self) -> Flags:
        """The protocol switches of this config's variant."""
        return Flags.for_variant(self.variant)
