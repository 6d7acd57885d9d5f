"""Raft trace validation on the Raft test driver's groups (tests/consensus/raft): membership
changes, which no simulator fault makes yet, and the hand-built Figure 8 and 2015 schedules.

`TracedGroup` attaches the trace writer to a `Group` as `harness.tla.tracevalid.record`
attaches it to a simulation: every step (with its event and effects), crash and restart.
The correct Raft's traces must validate; the variants' must be rejected at the broken rule.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from consensus.events import Event
from harness.tla.tracevalid.raft_writer import RaftTraceWriter
from harness.tla.tracevalid.validate import validate_lines
from tests.consensus.raft import schedules
from tests.consensus.raft.driver import Driver, Faults
from tests.consensus.raft.group import Group, Violation


class TracedGroup(Group):
    """A `Group` whose steps, crashes and restarts go to a `RaftTraceWriter`."""

    def __init__(self, members: tuple[int, ...], *, extra: tuple[int, ...] = (),
                 **kw: Any) -> None:
        self.out = io.StringIO()
        self.writer = RaftTraceWriter(self.out, members, extra=extra)
        self._events: list[tuple[Event, int]] = []
        self._seen: dict[int, object] = {}
        self._last = 0
        super().__init__(members, extra=extra, **kw)
        self.on_step = self._observed

    def step(self, i: int, event: Event, true_us: int) -> list[object]:
        n = self.node(i)
        self._last = max(self._last, true_us)
        if self._seen.get(i) is not n:  # a fresh replica: built from its records
            self._seen[i] = n
            self.writer.recovered(i, n, self._last, self.local(i, true_us))
        self._events.append((event, self._last))
        try:
            return super().step(i, event, true_us)
        finally:
            self._events.pop()

    def _observed(self, i: int, effects: list[object]) -> None:
        event, t = self._events[-1]
        self.writer.observe(i, self.nodes[i], event, effects, t, self.local(i, t))

    def crash(self, i: int) -> None:
        super().crash(i)
        self.writer.crashed(i, self._last)

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


def _patched(monkeypatch: pytest.MonkeyPatch) -> list[TracedGroup]:
    """Make the schedules (which build `Group` by name) build traced groups; returns the
    list they are appended to (a schedule may raise before it returns its group)."""
    groups: list[TracedGroup] = []

    class Kept(TracedGroup):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            groups.append(self)

    monkeypatch.setattr(schedules, "Group", Kept)
    return groups


def test_membership_changes_validate() -> None:
    """Five nodes, voters 0..2 at first, random membership targets, crashes, partitions,
    drops, duplicates and compaction: every trace validates, and configuration changes
    (ChangeConfig, down to a single voter and back), elections and snapshots occur."""
    actions: list[str] = []
    for seed in range(6):
        g = TracedGroup((0, 1, 2), extra=(3, 4), seed=seed, compact_every=7)
        Driver(g, seed, Faults(reconfigure=True)).run(10_000_000)
        lines = g.lines()
        verdict = validate_lines(lines)
        assert verdict.ok, (seed, verdict)
        actions += [json.loads(x)["action"] for x in lines]
    assert actions.count("ChangeConfig") >= 10
    assert actions.count("BecomeLeader") >= 6 and "Compact" in actions


def test_config_change_bug_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 2015 schedule: with the fix the trace validates; single-server-change-bug's new
    leader changes the configuration before an entry of its term is committed (the
    schedule's own checker then finds a committed entry lost)."""
    groups = _patched(monkeypatch)
    schedules.config_bug(None)
    assert validate_lines(groups[0].lines()).ok
    with pytest.raises(Violation):
        schedules.config_bug("single-server-change-bug")
    lines = groups[1].lines()
    verdict = validate_lines(lines)
    assert not verdict.ok
    assert "(the 2015 fix)" in verdict.reason, verdict
    assert json.loads(lines[verdict.line - 1])["action"] == "ChangeConfig"


def test_figure_8_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Raft paper's Figure 8: with the own-term rule the trace validates; commit-old-term
    commits the old entry by counting, which is rejected there (before the overwrite the
    schedule's own checker finds)."""
    groups = _patched(monkeypatch)
    schedules.figure8(None)
    assert validate_lines(groups[0].lines()).ok
    with pytest.raises(Violation):
        schedules.figure8("commit-old-term")
    lines = groups[1].lines()
    verdict = validate_lines(lines)
    assert not verdict.ok
    assert "(Figure 8)" in verdict.reason, verdict
    assert json.loads(lines[verdict.line - 1])["action"] == "Commit"
