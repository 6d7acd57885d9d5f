"""Per-node local clocks: seeded offset and drift, slews, and (unsafe runs only) steps.

True time is the simulator's (integer microseconds). Each node reads its own local clock, a
piecewise-linear function of true time::

    local(t) = base_local_us + (t - base_true_us) * (1_000_000 + drift_ppm) // 1_000_000

The protocol assumes every clock's rate stays within ``1 +- rho`` (``rho = drift_bound_ppm /
1e6``, from `consensus.Timing`). A *safe* clock keeps that promise over every interval, so its
faults are changes of rate within the bound ("slews", which is how NTP corrects a clock); a
clock step would break the bound over short intervals, so steps and drift beyond rho exist
only in runs with ``unsafe_clocks`` (labelled unsafe). Steps are forward only: a clock never
runs backwards, because the replica assumes monotone local time.

All conversions are exact integer arithmetic: ``true_at(local_at(t)) <= t`` and
``local_at(true_at(x)) >= x``.
"""

from __future__ import annotations

import attrs

PPM = 1_000_000


def signed_choice(choice: int) -> int:
    """Map a choice 0, 1, 2, 3, 4, ... to 0, 1, -1, 2, -2, ... (0 stays the nominal value).

    Draw ``choose(label, 2 * bound + 1)`` and map it to get a value in ``[-bound, bound]``.
    """
    magnitude = (choice + 1) // 2
    return magnitude if choice % 2 else -magnitude


@attrs.frozen(kw_only=True)
class ClockOptions:
    """How clocks start. The drift bound rho comes from `consensus.Timing`; clock faults are
    the nemesis's (`harness.sim.nemesis.ClockFaultOptions`).

    Attributes:
        max_offset_us: initial local readings are drawn from ``[0, max_offset_us]``.
    """

    max_offset_us: int = 1_000_000

    def __attrs_post_init__(self) -> None:
        if self.max_offset_us < 0:
            raise ValueError(f"max_offset_us must be >= 0, got max_offset_us={self.max_offset_us}")


class NodeClock:
    """One node's local clock as a function of true time.

    Args:
        offset_us: the local reading at true time 0.
        drift_ppm: rate error in ppm (positive: runs fast).
        bound_ppm: the largest |drift_ppm| allowed; `set_drift` and `step` enforce it.
        unsafe: allow drift beyond ``bound_ppm`` and forward steps.
    """

    __slots__ = ("_base_local_us", "_base_true_us", "_rate", "bound_ppm", "drift_ppm", "unsafe")

    def __init__(
        self, *, offset_us: int, drift_ppm: int, bound_ppm: int, unsafe: bool = False
    ) -> None:
        self.bound_ppm = bound_ppm
        self.unsafe = unsafe
        self._base_true_us = 0
        self._base_local_us = offset_us
        self.drift_ppm = 0
        self._rate = PPM
        self._check_drift(drift_ppm)
        self.drift_ppm = drift_ppm
        self._rate = PPM + drift_ppm

    def _check_drift(self, drift_ppm: int) -> None:
        if not self.unsafe and abs(drift_ppm) > self.bound_ppm:
            raise ValueError(
                f"safe clock drift must stay within rho: drift_ppm={drift_ppm} "
                f"bound_ppm={self.bound_ppm}"
            )
        if drift_ppm <= -PPM:
            raise ValueError(f"clock must move forward: drift_ppm={drift_ppm}")

    def local_at(self, true_us: int) -> int:
        """Return the local reading (us) at ``true_us`` (never before the last re-anchor)."""
        return self._base_local_us + (true_us - self._base_true_us) * self._rate // PPM

    def piece(self) -> tuple[int, int, int]:
        """``(base_true_us, base_local_us, rate)``: the linear piece the clock runs on now
        (`harness.checks.lease_overlap.ClockPiece`)."""
        return self._base_true_us, self._base_local_us, self._rate

    def true_at(self, local_us: int, now_true_us: int) -> int:
        """Return the earliest true time >= ``now_true_us`` at which the reading is >= local_us.

        Assumes the current rate holds from now on (the caller re-schedules after a change).
        """
        delta_local = local_us - self._base_local_us
        if delta_local <= 0:
            return max(now_true_us, self._base_true_us)
        t = self._base_true_us + -(-delta_local * PPM // self._rate)
        return max(t, now_true_us)

    def _reanchor(self, true_us: int) -> None:
        self._base_local_us = self.local_at(true_us)
        self._base_true_us = true_us

    def set_drift(self, drift_ppm: int, true_us: int) -> None:
        """From ``true_us`` on, run at ``drift_ppm``; raises ValueError beyond rho when safe."""
        self._check_drift(drift_ppm)
        self._reanchor(true_us)
        self.drift_ppm = drift_ppm
        self._rate = PPM + drift_ppm

    def step(self, delta_us: int, true_us: int) -> None:
        """Jump the reading forward by ``delta_us`` at ``true_us`` (unsafe clocks only).

        Raises ValueError for a safe clock (a step breaks the rate bound) or a backward step.
        """
        if not self.unsafe:
            raise ValueError(f"clock steps need unsafe clocks: delta_us={delta_us}")
        if delta_us < 0:
            raise ValueError(f"clock steps are forward only: delta_us={delta_us}")
        self._reanchor(true_us)
        self._base_local_us += delta_us
