"""``paxlab report``: one self-contained HTML page explaining a failure artifact.

The page has: a header (seed, options, verdict, violation, fingerprint, replay command); the
client operations per process from the artifact's history (ok, fail, info); for an S8
(linearizability) violation, the checker's verdict on that history: the failing key, its
longest linearizable prefix and the operation that cannot be placed; and fault, leader and
lease timelines from `RunResult.timeline`, which the artifact does not store, so the run is
replayed to get it (its fingerprint is compared with the artifact's and the page says if it
differs, or if the timeline is empty, instead of drawing nothing).

This module gathers and shapes the data (`build_report`, `lanes_from_timeline`); the HTML is
drawn with `harness.failures.htmlreport`, the project's one HTML toolkit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from harness.checks.history import HistoryError, HistoryEvent, Operation, pair_operations
from harness.checks.linearizability import LinearizabilityResult, check_linearizability
from harness.checks.violation import Violation
from harness.failures.artifact import Artifact, describe_violation, read_artifact
from harness.failures.htmlreport import (
    Section,
    escape,
    history_timeline_svg,
    legend_html,
    linearizability_sections,
    render_page,
)
from harness.failures.sweep import RunFunction, default_run

log = logging.getLogger(__name__)

# Fault events that open an interval on their lane, the kind of interval, and what closes it.
_OPENERS: dict[str, str] = {
    "crash": "down", "pause": "paused", "partition": "partitioned", "loss": "lossy",
    "permanent": "down",  # never closed: down until the end of the run
}
_CLOSERS: dict[str, tuple[str, ...]] = {
    "restart": ("crash",), "resume": ("pause",), "heal": ("partition", "loss"),
}
# Faults of the whole network (drawn on the ``network`` lane whatever their ``nodes``).
_NETWORK_FAULTS = frozenset({"partition", "loss", "heal", "liveness"})


@attrs.frozen(kw_only=True)
class Span:
    """An interval on a lane, in simulated microseconds; ``end_us`` None: until the run ended."""

    start_us: int
    end_us: int | None
    label: str
    kind: str


@attrs.frozen(kw_only=True)
class Lane:
    """One row of a timeline: intervals and instants (``(time_us, label)``); a ``captioned``
    lane writes each instant's label beside it, not only in its tooltip."""

    name: str
    spans: tuple[Span, ...] = ()
    points: tuple[tuple[int, str], ...] = ()
    captioned: bool = False


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything the page shows.

    Attributes:
        artifact: the artifact reported on.
        operations: the history paired into operations (empty if the history is broken).
        history_error: why the history could not be read, or None.
        linearizability: the checker's result on the history, for an S8 violation only.
        timeline: `RunResult.timeline` of the replay (empty if the replay failed or has none).
        run_ops: the replay's `RunResult.ops` (what ``paxlab replay`` prints), or None.
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
    run_ops: dict[str, int] | None = None


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
    run_ops: dict[str, int] | None = None
    replay_note: str | None = "not replayed"
    end_us = 0
    if replay:
        try:
            result = run(artifact.options, replay=artifact.choices,
                         replay_labels=artifact.labels or None, keep_trace=False)
        except Exception as exc:  # the page must still say what is known
            log.exception("replay of %s raised", artifact.folder)
            replay_note = f"the replay raised {type(exc).__name__}: {exc}"
        else:
            timeline = tuple(result.timeline)
            run_ops = dict(result.ops)
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
        end_us=end_us, run_ops=run_ops,
    )


def _nodes(event: dict[str, Any]) -> list[int]:
    nodes = event.get("nodes")
    if isinstance(nodes, list | tuple):
        return sorted(int(n) for n in nodes)
    return [int(event["node"])] if isinstance(event.get("node"), int) else []


def fault_lanes(timeline: Sequence[dict[str, Any]]) -> tuple[Lane, ...]:
    """Return ``network`` and ``network loss`` lanes (partition and loss intervals) and one
    lane per node (crash and pause intervals); every other fault (clock steps, disk faults,
    an unmatched closer) is an instant on its lane. An interval still open at the end has
    ``end_us`` None.

    A ``heal`` closes the network's open loss interval if its detail says "lossless", else
    its open partition (or whichever of the two is open): the timeline does not say which.
    """
    spans: dict[str, list[Span]] = {}
    points: dict[str, list[tuple[int, str]]] = {}
    opened: dict[tuple[str, str], tuple[int, str]] = {}  # (lane, opener) -> (start, label)
    for event in timeline:
        if event.get("kind") != "fault":
            continue
        fault = str(event.get("fault", "?"))
        time_us = int(event.get("time_us", 0))
        detail = str(event.get("detail", "") or "")
        label = f"{fault} ({detail})" if detail else fault
        lanes = [f"node {n}" for n in _nodes(event)]
        if fault in _NETWORK_FAULTS or not lanes:
            lanes = ["network"]
        for lane in lanes:
            spans.setdefault(lane, [])
            points.setdefault(lane, [])
            if fault in _OPENERS:
                opened.setdefault((lane, fault), (time_us, label))
                continue
            candidates = _CLOSERS.get(fault, ())
            if fault == "heal" and "lossless" in detail:
                candidates = tuple(reversed(candidates))
            opener = next((c for c in candidates if (lane, c) in opened), None)
            if opener is None:
                points[lane].append((time_us, label))
                continue
            start_us, start_label = opened.pop((lane, opener))
            spans.setdefault(_span_lane(lane, opener), []).append(Span(
                start_us=start_us, end_us=time_us, label=start_label, kind=_OPENERS[opener]))
    for (lane, opener), (start_us, start_label) in opened.items():
        spans.setdefault(_span_lane(lane, opener), []).append(Span(
            start_us=start_us, end_us=None, label=start_label, kind=_OPENERS[opener]))
    return tuple(
        Lane(name=name, spans=tuple(sorted(spans[name], key=lambda s: s.start_us)),
             points=tuple(points.get(name, ())))
        for name in sorted(spans, key=_lane_order)
    )


def _span_lane(lane: str, opener: str) -> str:
    """Loss intervals get a row of their own: they overlap partitions on the network."""
    return "network loss" if lane == "network" and opener == "loss" else lane


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


def cause_lanes(
    violation: Violation | None, leaders: Sequence[Lane], end_us: int
) -> tuple[Lane, ...]:
    """Lanes that draw what went wrong, beside the leader lanes.

    For S6, every interval in which two nodes were both serving under a lease (the overlap of
    their ``serving`` spans), on a lane ``S6 overlap``. For a violation located at a node (a
    stale read that node served, S5, S9, S13, ...), the moment and the checker's message on
    a lane ``violation``: drawn from the replica's side, so a stale read shows even when the
    run stopped before its answer reached a client.
    """
    if violation is None:
        return ()
    lanes = []
    if violation.property == "S6":
        serving = [(lane.name, s.start_us, end_us if s.end_us is None else s.end_us)
                   for lane in leaders for s in lane.spans if s.kind == "serving"]
        overlaps = []
        for i, (a, a0, a1) in enumerate(serving):
            for b, b0, b1 in serving[i + 1:]:
                start, stop = max(a0, b0), min(a1, b1)
                if a != b and start < stop:
                    overlaps.append(Span(start_us=start, end_us=stop, kind="overlap",
                                         label=f"{a} and {b} both serving"))
        lanes.append(Lane(name="S6 overlap", spans=tuple(sorted(overlaps, key=_span_key))))
    if violation.node is not None or violation.property != "S6":
        text = violation.message
        if not text.startswith(violation.property):
            where = f" node {violation.node}" if violation.node is not None else ""
            text = f"{violation.property}{where}: {text}"
        lanes.append(Lane(name="violation", captioned=True, points=((violation.time_us, text),)))
    return tuple(lanes)


def _span_key(span: Span) -> tuple[int, str]:
    return (span.start_us, span.label)


def _ballot(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"({value[0]},{value[1]})"
    return "" if value is None else str(value)


def _lane_order(name: str) -> tuple[int, int, str]:
    head, _, tail = name.partition(" ")
    if head == "node" and tail.isdigit():
        return (1, int(tail), "")
    return (0, 0, name)


_SPAN_COLOURS: dict[str, str] = {
    "down": "#e57373", "paused": "#ffb74d", "partitioned": "#90caf9", "lossy": "#ce93d8",
    "leader": "#c5e1a5", "serving": "#43a047", "overlap": "#d50000",
    "link": "#fff176",  # a real run's misbehaving link (drop, delay, one-way, ...)
}


def lanes_svg(lanes: Sequence[Lane], end_us: int, *, mark_us: int | None = None,
              width_px: int = 1100, row_px: int = 18, clock: str = "simulated") -> str:
    """Return an SVG of ``lanes`` over time 0..``end_us`` (``clock`` names it on the axis:
    simulated, or a real run's seconds since it started): spans as coloured bars (open ones
    run to the end, each with class ``span <kind>``), instants as ticks, ``mark_us`` (the
    violation) as a red line. Every bar and tick has a tooltip with its label and times."""
    label_px, right_px = 70, 10
    plot_px = width_px - label_px - right_px
    span_us = max(end_us, 1)

    def x(t_us: int) -> float:
        return label_px + min(max(t_us, 0), span_us) * plot_px / span_us

    height = len(lanes) * row_px + 26
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height}" '
           f'role="img">']
    for row, lane in enumerate(lanes):
        y = row * row_px
        out.append(f'<text x="2" y="{y + row_px - 5}">{escape(lane.name)}</text>')
        out.append(f'<line x1="{label_px}" x2="{width_px - right_px}" y1="{y + row_px / 2}" '
                   f'y2="{y + row_px / 2}" stroke="#eee"/>')
        for s in lane.spans:
            end = end_us if s.end_us is None else s.end_us
            x0 = x(s.start_us)
            w = max(x(end) - x0, 2.0)
            until = "end of run" if s.end_us is None else f"{s.end_us / 1e6:.6f}s"
            out.append(
                f'<rect class="span {escape(s.kind)}" x="{x0:.1f}" y="{y + 2}" width="{w:.1f}" '
                f'height="{row_px - 4}" rx="2" '
                f'fill="{_SPAN_COLOURS.get(s.kind, "#bdbdbd")}"><title>{escape(s.label)}: '
                f"{s.start_us / 1e6:.6f}s .. {escape(until)}</title></rect>"
            )
            if w > 7 * len(s.label):
                out.append(f'<text x="{x0 + 3:.1f}" y="{y + row_px - 6}">'
                           f"{escape(s.label)}</text>")
        for t_us, label in lane.points:
            xp = x(t_us)
            out.append(
                f'<path d="M{xp:.1f},{y + 2} l4,{row_px / 2 - 2} l-4,{row_px / 2 - 2} '
                f'l-4,-{row_px / 2 - 2} z" fill="#6a1b9a"><title>{escape(label)} at '
                f"{t_us / 1e6:.6f}s</title></path>"
            )
            if lane.captioned:  # beside the mark, on whichever side has room
                left = xp > label_px + plot_px / 2
                out.append(f'<text x="{xp + (-8 if left else 8):.1f}" y="{y + row_px - 5}" '
                           f'text-anchor="{"end" if left else "start"}">{escape(label)}</text>')
    if mark_us is not None:
        xm = x(mark_us)
        out.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="0" y2="{len(lanes) * row_px}" '
                   f'stroke="#b71c1c" stroke-width="2"><title>violation at '
                   f"{mark_us / 1e6:.6f}s</title></line>")
    axis_y = len(lanes) * row_px + 16
    out.append(f'<text x="{label_px}" y="{axis_y}">0.000 s</text>')
    out.append(f'<text x="{width_px - right_px}" y="{axis_y}" text-anchor="end">'
               f"{end_us / 1e6:.3f} s ({escape(clock)})</text>")
    out.append("</svg>")
    legend = "".join(f'<span style="background:{c}">{escape(k)}</span>'
                     for k, c in _SPAN_COLOURS.items())
    return f'<p class="legend">{legend}</p><div class="scroll">{"".join(out)}</div>'


def _header_html(data: ReportData) -> str:
    a = data.artifact
    v = a.violation
    verdict = "violation" if v is not None else "ok"
    rows = [
        ("verdict", f"{verdict}" + (" (UNSAFE: clock drift beyond rho on purpose)"
                                    if a.unsafe else "")),
        ("violation", "none" if v is None else describe_violation(v)),
        ("seed", str(a.seed)),
        ("options", " ".join(
            f"{k}={','.join(val) or 'none' if isinstance(val, list) else val}"
            for k, val in a.options.to_json().items() if k != "seed")),
        ("fingerprint", a.fingerprint),
        ("steps", str(a.steps)),
        ("choices", f"{len(a.choices)} ({a.nonzero_choices} non-zero)"),
        ("versions", " ".join(f"{k}={val}" for k, val in sorted(a.versions.items()))),
        ("replay", a.replay_command()),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(val)}</code></td></tr>"
                    for k, val in rows)
    note = "" if data.replay_note is None else f'<p class="unknown">{escape(data.replay_note)}</p>'
    cls = "violation" if v is not None else "linearizable"
    return f'<p class="verdict {cls}">{escape(verdict.upper())}</p><table>{table}</table>{note}'


def _timeline_html(lanes: Sequence[Lane], data: ReportData, what: str) -> str:
    if not lanes:
        why = (data.replay_note if not data.timeline and data.replay_note
               else "the simulator recorded no such events in RunResult.timeline")
        return f"<p>No {escape(what)} to show: {escape(why)}.</p>"
    mark = None if data.artifact.violation is None else data.artifact.violation.time_us
    return lanes_svg(lanes, data.end_us, mark_us=mark)


def render_report(data: ReportData) -> str:
    """Return the self-contained HTML page for ``data``."""
    a = data.artifact
    title = f"paxlab seed {a.seed}: " + (
        "passed" if a.violation is None else f"{a.violation.property} violated")
    sections = [Section("Run", _header_html(data))]
    counts = {t: sum(1 for op in data.operations if op.type == t) for t in ("ok", "fail", "info")}
    if data.history_error is not None:
        ops_body = f"<p>The history could not be read: {escape(data.history_error)}</p>"
    else:
        window = ""
        if data.operations:
            first_ns = min(op.invoke_time for op in data.operations)
            last_ns = max(op.complete_time or op.invoke_time for op in data.operations)
            window = (f", from {first_ns / 1e9:.3f} s to {last_ns / 1e9:.3f} s of simulated "
                      f"time (every chart on this page spans the whole run, on one scale)")
        open_ops = sum(1 for op in data.operations if op.complete_time is None)
        ops_body = (f"<p>{_ops_sentence(data.run_ops)}In the history: {len(data.operations)} "
                    f"operations: {counts['ok']} ok, {counts['fail']} fail, "
                    f"{counts['info'] - open_ops} info, {open_ops} still open when the run "
                    f"stopped (checked as info){window}.</p>"
                    + legend_html()
                    + history_timeline_svg(data.operations, window_ns=(
                        (0, data.end_us * 1000) if data.end_us > 0 else None)))
    sections.append(Section("Client operations (one row per client process)", ops_body))
    if data.linearizability is not None:
        if data.linearizability.verdict != "violation" and a.violation is not None:
            sections.append(Section("S8 in the client history", (
                f"<p>The violation was caught online at step {a.violation.step}, and the run "
                f"ended there. The checker's verdict on the history recorded up to that step "
                f"is <b>{escape(data.linearizability.verdict)}</b>: the wrong result had not "
                f"reached a client (or is not decidable from the history alone).</p>")))
        sections += [
            Section(f"History checker: {s.title.lower()}", s.body_html)
            for s in linearizability_sections(
                data.operations, data.linearizability, source=str(a.folder / "history.jsonl"))
            if s.title != "History"  # the client operations are drawn above already
        ]
    sections.append(Section("Faults (partitions, crashes, pauses, clock steps, disk)",
                            _timeline_html(fault_lanes(data.timeline), data, "faults")))
    leaders = leader_lanes(data.timeline)
    lanes = (*leaders, *cause_lanes(a.violation, leaders, data.end_us)) if leaders else ()
    sections.append(Section(
        "Leaders and leases (leader: waiting out the lease; serving), and what went wrong",
        _timeline_html(lanes, data, "leaders")))
    return render_page(title, sections)


def _ops_sentence(run_ops: dict[str, int] | None) -> str:
    """The run's own counts, as ``paxlab replay`` prints them, and why the history's differ."""
    if run_ops is None:
        return ""
    return (f"The run counted ok={run_ops.get('ok', 0)} fail={run_ops.get('fail', 0)} "
            f"info={run_ops.get('info', 0)} (as <code>paxlab replay</code> prints them; they "
            f"include eventual reads, which S9 checks online and the history leaves out). ")


def write_report(artifact_folder: str | Path, out: str | Path, *,
                 run: RunFunction = default_run) -> Path:
    """Read the artifact, build the page and write it to ``out``; return ``out``.

    Raises:
        ArtifactError: the artifact folder is missing or corrupt.
        OSError: ``out`` cannot be written.
    """
    data = build_report(read_artifact(artifact_folder), run=run)
    path = Path(out)
    path.write_text(render_report(data), encoding="utf-8")
    return path
