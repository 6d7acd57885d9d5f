"""``paxlab report``: one self-contained HTML page explaining a failure artifact.

The page has: a header (seed, options, verdict, violation, fingerprint, replay command); the
client operations per process from the artifact's history (ok, fail, info); for an S8
(linearizability) violation, the checker's verdict on that history: the failing key, its
longest linearizable prefix and the operation that cannot be placed; and fault, leader and
lease timelines from `RunResult.timeline`, which the artifact does not store, so the run is
replayed to get it (its fingerprint is compared with the artifact's and the page says if it
differs, or if the timeline is empty, instead of drawing nothing).

This module gathers and shapes the data (`build_report`, `lanes_from_timeline`); the HTML is
drawn with `harness.htmlreport`, the project's one HTML toolkit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from harness.artifact import Artifact
from harness.checkers import LinearizabilityResult, check_linearizability
from harness.history import HistoryError, HistoryEvent, Operation, pair_operations
from harness.sweep import RunFunction, default_run

log = logging.getLogger(__name__)

# Fault events that open an interval on their nodes, and the event that closes it.
_INTERVALS: dict[str, tuple[str, str]] = {
    "crash": ("restart", "down"),
    "pause": ("resume", "paused"),
    "partition": ("heal", "partitioned"),
}
_CLOSERS: dict[str, str] = {end: start for start, (end, _) in _INTERVALS.items()}


@attrs.frozen(kw_only=True)
class Span:
    """An interval on a lane, in simulated microseconds; ``end_us`` None: until the run ended."""

    start_us: int
    end_us: int | None
    label: str
    kind: str


@attrs.frozen(kw_only=True)
class Lane:
    """One row of a timeline: intervals and instants (``(time_us, label)``)."""

    name: str
    spans: tuple[Span, ...] = ()
    points: tuple[tuple[int, str], ...] = ()


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything the page shows.

    Attributes:
        artifact: the artifact reported on.
        operations: the history paired into operations (empty if the history is broken).
        history_error: why the history could not be read, or None.
        linearizability: the checker's result on the history, for an S8 violation only.
        timeline: `RunResult.timeline` of the replay (empty if the replay failed or has none).
        replay_note: None if the replay matched the artifact's fingerprint, else what happened.
        end_us: simulated end of the run (the replay's, else the last event seen).
    """

    artifact: Artifact
    operations: tuple[Operation, ...]
    history_error: str | None
    linearizability: LinearizabilityResult | None
    timeline: tuple[dict[str, Any], ...]
    replay_note: str | None
    end_us: int


def build_report(
    artifact: Artifact,
    *,
    run: RunFunction = default_run,
    replay: bool = True,
    check_timeout_s: float = 30.0,
) -> ReportData:
    """Gather the page's data: pair the history, check S8 if violated, replay for the timeline.

    ``replay`` False skips the replay (the timelines then say they are unavailable). A
    replay that raises is noted on the page, not raised.
    """
    operations: tuple[Operation, ...] = ()
    history_error = None
    try:
        events = [HistoryEvent.from_json(d, line=i) for i, d in enumerate(artifact.history, 1)]
        operations = tuple(pair_operations(events, source=str(artifact.folder)))
    except (HistoryError, ValueError, TypeError) as exc:
        history_error = str(exc)
        events = []
    linearizability = None
    if artifact.violation is not None and artifact.violation.property == "S8" and events:
        linearizability = check_linearizability(events, "kv", timeout_s=check_timeout_s)
    timeline: tuple[dict[str, Any], ...] = ()
    replay_note: str | None = "not replayed"
    end_us = 0
    if replay:
        try:
            result = run(artifact.options, replay=artifact.choices, keep_trace=False)
        except Exception as exc:  # the page must still say what is known
            log.exception("replay of %s raised", artifact.folder)
            replay_note = f"the replay raised {type(exc).__name__}: {exc}"
        else:
            timeline = tuple(result.timeline)
            end_us = round(result.sim_time_s * 1_000_000)
            replay_note = None
            if result.fingerprint != artifact.fingerprint:
                replay_note = (
                    f"the replay's fingerprint {result.fingerprint} differs from the artifact's "
                    f"{artifact.fingerprint}: the timelines may not belong to this run"
                )
    times = [int(e.get("time_us", 0)) for e in timeline]
    if artifact.violation is not None:
        times.append(artifact.violation.time_us)
    times += [op.complete_time // 1000 for op in operations if op.complete_time is not None]
    end_us = max([end_us, *times])
    return ReportData(
        artifact=artifact, operations=operations, history_error=history_error,
        linearizability=linearizability, timeline=timeline, replay_note=replay_note,
        end_us=end_us,
    )


def _nodes(event: dict[str, Any]) -> list[int]:
    nodes = event.get("nodes")
    if isinstance(nodes, list | tuple):
        return sorted(int(n) for n in nodes)
    return [int(event["node"])] if isinstance(event.get("node"), int) else []


def fault_lanes(timeline: Sequence[dict[str, Any]]) -> tuple[Lane, ...]:
    """Return one lane per node for faults (crash/pause/partition intervals, clock steps and
    disk faults as instants), plus a ``network`` lane with partition intervals.

    An interval still open at the end of the run has ``end_us`` None.
    """
    spans: dict[str, list[Span]] = {}
    points: dict[str, list[tuple[int, str]]] = {}
    open_spans: dict[tuple[str, str], tuple[int, str]] = {}
    for event in timeline:
        if event.get("kind") != "fault":
            continue
        fault = str(event.get("fault", "?"))
        time_us = int(event.get("time_us", 0))
        detail = str(event.get("detail", "") or "")
        lanes = [f"node {n}" for n in _nodes(event)]
        if fault in ("partition", "heal"):
            lanes = ["network"]
        for lane in lanes:
            spans.setdefault(lane, [])
            points.setdefault(lane, [])
            if fault in _INTERVALS:
                open_spans.setdefault((lane, fault), (time_us, detail))
            elif fault in _CLOSERS and (lane, _CLOSERS[fault]) in open_spans:
                start_fault = _CLOSERS[fault]
                start_us, start_detail = open_spans.pop((lane, start_fault))
                kind = _INTERVALS[start_fault][1]
                spans[lane].append(Span(start_us=start_us, end_us=time_us,
                                        label=_label(kind, start_detail), kind=kind))
            else:
                points[lane].append((time_us, _label(fault, detail)))
    for (lane, fault), (start_us, detail) in open_spans.items():
        kind = _INTERVALS[fault][1]
        spans[lane].append(Span(start_us=start_us, end_us=None, label=_label(kind, detail),
                                kind=kind))
    return tuple(
        Lane(name=name, spans=tuple(sorted(spans[name], key=lambda s: s.start_us)),
             points=tuple(points[name]))
        for name in sorted(spans, key=_lane_order)
    )


def leader_lanes(timeline: Sequence[dict[str, Any]]) -> tuple[Lane, ...]:
    """Return one lane per node that led: a ``leader`` span from its election to its first
    ``serving`` event (the lease wait), then a ``serving`` span until it stepped down or
    crashed (``end_us`` None: still at the end). Spans of different nodes may overlap: two
    nodes that both believe they lead is exactly what S6 is about."""
    spans: dict[str, list[Span]] = {}
    current: dict[str, tuple[int, str, str]] = {}  # lane -> (start_us, ballot, kind)

    def close(lane: str, time_us: int) -> None:
        start, ballot, kind = current.pop(lane)
        spans[lane].append(Span(start_us=start, end_us=time_us, label=f"{kind} {ballot}",
                                kind=kind))

    for event in timeline:
        time_us = int(event.get("time_us", 0))
        if event.get("kind") == "fault" and event.get("fault") == "crash":
            for node in _nodes(event):
                if f"node {node}" in current:
                    close(f"node {node}", time_us)
            continue
        if event.get("kind") != "leader" or not isinstance(event.get("node"), int):
            continue
        lane = f"node {event['node']}"
        what = event.get("event")
        spans.setdefault(lane, [])
        if what in ("elected", "serving"):
            if lane in current:
                close(lane, time_us)
            kind = "leader" if what == "elected" else "serving"
            current[lane] = (time_us, _ballot(event.get("ballot")), kind)
        elif what == "stepped-down" and lane in current:
            close(lane, time_us)
    for lane, (start, ballot, kind) in current.items():
        spans[lane].append(Span(start_us=start, end_us=None, label=f"{kind} {ballot}", kind=kind))
    return tuple(
        Lane(name=name, spans=tuple(sorted(spans[name], key=lambda s: s.start_us)))
        for name in sorted(spans, key=_lane_order)
    )


def _ballot(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"({value[0]},{value[1]})"
    return "" if value is None else str(value)


def _label(kind: str, detail: str) -> str:
    return f"{kind} {detail}".strip()


def _lane_order(name: str) -> tuple[int, int, str]:
    head, _, tail = name.partition(" ")
    if head == "node" and tail.isdigit():
        return (1, int(tail), "")
    return (0, 0, name)
