"""What an exploration may do: the bounds that make the state space finite, and the timing.

Time is abstract: all clocks run at the true rate (a drift of 0 is within the bound rho), a
`Tick` transition moves true time to the node's next timer deadline (never backwards), and a
timer may fire late (a paused node), never early. ``ticks`` bounds how many Tick transitions a
path may take; that bound (or ``depth``) is what keeps the state space finite.
"""

from __future__ import annotations

from typing import Any

import attrs

from consensus import Timing
from harness.runspec import VARIANTS

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
            explored (an under-approximation that keeps interleavings in check).
        depth: longest path explored; None = unbounded (needs ``ticks``).
        variant: a deliberately broken protocol (`harness.runspec.VARIANTS`), or None.
    """

    replicas: int = 3
    writes: int = 1
    reads: int = 1
    crashes: int = 1
    max_round: int = 2
    ticks: int | None = 2
    drops: int = 0
    dups: int = 0
    inflight: int = 3
    depth: int | None = None
    variant: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in (
            "replicas", "writes", "reads", "crashes", "max_round", "drops", "dups", "inflight"
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
        if self.ticks is None and self.depth is None:
            raise BoundsError(
                "unbounded ticks never terminate (time grows forever): give --ticks or --depth"
            )
        if self.variant is not None and self.variant not in VARIANTS:
            raise BoundsError(
                f"unknown variant {self.variant!r}; choose from {', '.join(VARIANTS)}"
            )

    @property
    def members(self) -> tuple[int, ...]:
        return tuple(range(self.replicas))

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
