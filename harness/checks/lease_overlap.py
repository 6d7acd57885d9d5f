"""S6 on intervals of true time: at most one replica serving under a lease at any true time.

Sampling ``is_serving`` at step times misses an overlap that begins and ends between two
steps (an old leader's lease running out at 100 while a new leader starts serving at 50 and
neither steps in between). This checker instead keeps, for each replica, its *serving
window* in local time (`consensus.Replica.serving_window_us`: the local times at which its
current state serves) and the piece of its clock that maps local to true time, from one
event of that replica to the next (its step, its crash, a change of its clock's rate). When
such a piece closes, the true times in it at which the local reading lies in the window form
one half-open interval; any two intervals of different replicas that intersect are an S6
violation, reported at the first true time they share.

Checked: every instant of true time, with the exact integer clock arithmetic of
`harness.sim.clock.NodeClock` (``local(t) = base_local + (t - base_true) * rate // 1e6``).
Not checked: whether a serving replica actually answered anything (the lease alone counts).
"""

from __future__ import annotations

import attrs

from harness.checks.violation import Violation

_PPM = 1_000_000

ClockPiece = tuple[int, int, int]
"""``(base_true_us, base_local_us, rate)`` with ``rate = 1e6 + drift_ppm``: the clock's
current linear piece."""


@attrs.frozen
class ServingInterval:
    """Node ``node`` served under a lease at every true time in ``[start_us, end_us)``."""

    node: int
    start_us: int
    end_us: int


def first_true_at(piece: ClockPiece, local_us: int) -> int:
    """The earliest true time at which the piece's reading is >= ``local_us`` (may precede
    the piece's base: the caller clips)."""
    base_true, base_local, rate = piece
    delta = local_us - base_local
    return base_true + -(-delta * _PPM // rate)


def serving_interval(
    node: int, piece: ClockPiece, window: tuple[int, int], from_us: int, to_us: int
) -> ServingInterval | None:
    """The true times in ``[from_us, to_us)`` at which the reading lies in ``window``."""
    start = max(from_us, first_true_at(piece, window[0]))
    end = min(to_us, first_true_at(piece, window[1]))
    return ServingInterval(node, start, end) if start < end else None


class LeaseOverlap:
    """Online S6 on intervals (see the module docstring).

    Feed it, in true-time order: `update` after every step of a replica (with its serving
    window, None when it serves at no local time), `clock_changed` when a clock's rate
    changes, `down` when a replica crashes or fails. Each returns the first violation found.
    """

    def __init__(self) -> None:
        # node -> (since_us, clock piece, window) of the piece still open
        self._open: dict[int, tuple[int, ClockPiece, tuple[int, int]]] = {}
        self._closed: dict[int, list[ServingInterval]] = {}
        self.intervals = 0  # closed serving intervals seen (for tests and reports)

    def update(
        self, node: int, now_us: int, piece: ClockPiece, window: tuple[int, int] | None
    ) -> Violation | None:
        """``node`` stepped at true ``now_us``; from now on it serves in ``window`` (local)."""
        found = self._close(node, now_us)
        if window is not None:
            self._open[node] = (now_us, piece, window)
        return found

    def is_open(self, node: int) -> bool:
        """Whether ``node`` has a serving window open (it must be told of its next step)."""
        return node in self._open

    def clock_changed(self, node: int, now_us: int, piece: ClockPiece) -> Violation | None:
        """``node``'s clock runs on ``piece`` from ``now_us``; its state is unchanged."""
        current = self._open.get(node)
        found = self._close(node, now_us)
        if current is not None:
            self._open[node] = (now_us, piece, current[2])
        return found

    def down(self, node: int, now_us: int) -> Violation | None:
        """``node`` stopped at ``now_us`` (crash or failure): it serves nothing after."""
        return self._close(node, now_us)

    def finish(self, now_us: int) -> Violation | None:
        """Close every open piece at ``now_us`` (the end of the run)."""
        for node in sorted(self._open):
            found = self._close(node, now_us)
            if found is not None:
                return found
        return None

    def _close(self, node: int, now_us: int) -> Violation | None:
        opened = self._open.pop(node, None)
        if opened is None:
            return None
        since, piece, window = opened
        # `serving_interval`, inlined: this runs after every step of a leader
        base_true, base_local, rate = piece
        start = base_true + -(-(window[0] - base_local) * _PPM // rate)
        if start < since:
            start = since
        end = base_true + -(-(window[1] - base_local) * _PPM // rate)
        if end > now_us:
            end = now_us
        if start >= end:
            return None
        self.intervals += 1
        closed = self._closed
        # nothing to compare with while only this node has closed intervals
        alone = not closed or (len(closed) == 1 and node in closed)
        interval = None if alone else ServingInterval(node, start, end)
        found = None if interval is None else self._against_others(interval)
        if not self._open:
            # `_prune` with no piece open forgets every closed interval, this one too
            for other, intervals in closed.items():
                if intervals:
                    closed[other] = []
            closed.setdefault(node, [])
            return found
        if interval is None:
            interval = ServingInterval(node, start, end)
        mine = closed.get(node)
        if mine is None:
            closed[node] = [interval]
        else:
            mine.append(interval)
        self._prune()
        return found

    def _against_others(self, mine: ServingInterval) -> Violation | None:
        for other, intervals in sorted(self._closed.items()):
            if other == mine.node:
                continue
            for theirs in intervals:
                start = max(mine.start_us, theirs.start_us)
                end = min(mine.end_us, theirs.end_us)
                if start < end:
                    pair = sorted((mine.node, theirs.node))
                    return Violation(
                        property="S6",
                        message=(
                            f"S6: replicas {pair} both serve under a lease in true time "
                            f"[{start}, {end})us (node {theirs.node}: [{theirs.start_us}, "
                            f"{theirs.end_us}), node {mine.node}: [{mine.start_us}, "
                            f"{mine.end_us}))"
                        ),
                        time_us=start,
                        step=0,
                        node=mine.node,
                    )
        return None

    def _prune(self) -> None:
        """Forget closed intervals no piece still open (or opened later) can overlap: every
        later interval starts at or after the earliest open piece's start."""
        open_ = self._open
        if not open_:
            # with none open, a piece opened later starts at or after every closed end
            for node in self._closed:
                self._closed[node] = []
            return
        horizon = min(since for since, _, _ in open_.values())
        for node, intervals in self._closed.items():
            if (intervals and intervals[0].end_us <= horizon) or len(intervals) > 1:
                self._closed[node] = [i for i in intervals if i.end_us > horizon]
