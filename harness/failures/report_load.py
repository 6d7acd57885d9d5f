"""``paxlab report`` of a load artifact: a real cluster's run, in text and one HTML page.

Both say the verdict and the checker's line, the options, the figures (counts, throughput,
latency percentiles), the faults of the nemesis with their times relative to the run's start
and their wall times, the operations left in doubt (``info``: a timeout after the request
was sent, so it may have taken effect), and where the node logs are. The page also draws the
operations on a timeline per client (`harness.failures.htmlreport.history_timeline_svg`, the
same drawing as a simulator report: an info op runs dashed to the end) above the faults as
bands on the same axis (`harness.failures.report.lanes_svg`): kill to restart and pause to
resume on the node's lane, a partition on the isolated node's lane, a misbehaving link on
its own lane, the final heal of everything as an instant. For a violation the page adds the
checker's explanation (`linearizability_sections`), as a simulator report does.

Times: the history counts nanoseconds and the nemesis log seconds from one origin, the load's
start (`harness.net.session`), so both are placed as they happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.checks.history import HistoryError, HistoryEvent, Operation, pair_operations
from harness.checks.linearizability import check_linearizability, describe_op
from harness.failures.artifact import ArtifactError
from harness.failures.htmlreport import (
    Section,
    escape,
    history_timeline_svg,
    legend_html,
    linearizability_sections,
    render_page,
)
from harness.failures.load_artifact import PERCENTILES, LoadArtifact, read_load_artifact
from harness.failures.report import Lane, Span, lanes_svg

CLOCK = "since the run started"
"""What the time axis of a load report counts (the monotonic clock, from the load's start)."""

# nemesis fault -> the kind of band it draws (`lanes_svg` colours)
BAND_KINDS: dict[str, str] = {
    "kill": "down", "pause": "paused", "partition": "partitioned", "net": "link",
}
_MAX_LISTED = 20


def operations(artifact: LoadArtifact) -> tuple[Operation, ...]:
    """The history paired into operations; raises ArtifactError naming the bad line."""
    source = str(artifact.folder / "history.jsonl")
    try:
        events = [HistoryEvent.from_json(d, line=i) for i, d in enumerate(artifact.history, 1)]
        return tuple(pair_operations(events, source=source))
    except (HistoryError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{source}: {exc}") from None


def _lane(event: dict[str, Any]) -> str:
    nodes = event["nodes"]
    if event["fault"] == "net" and len(nodes) == 2:
        return f"link {nodes[0]}->{nodes[1]}"
    if event["fault"] == "heal" or len(nodes) != 1:
        return "cluster"
    return f"node {nodes[0]}"


def _us(event: dict[str, Any]) -> int:
    return round(float(event["t_s"]) * 1_000_000)


def _clock_of(wall: str) -> str:
    """``2026-12-05T03:59:01.123+00:00`` -> ``03:59:01.123``."""
    return wall.partition("T")[2][:12] or wall


def fault_bands(faults: Sequence[dict[str, Any]]) -> tuple[Lane, ...]:
    """The nemesis log as lanes (see the module doc): each start paired with the next end of
    the same fault on the same nodes; a start never ended runs to the end of the run
    (``end_us`` None), an end without a start (the final heal) is an instant."""
    spans: dict[str, list[Span]] = {}
    points: dict[str, list[tuple[int, str]]] = {}
    opened: dict[tuple[str, tuple[int, ...]], dict[str, Any]] = {}
    for event in faults:
        key = (str(event["fault"]), tuple(event["nodes"]))
        lane = _lane(event)
        spans.setdefault(lane, [])
        if event["phase"] == "start" and key[0] in BAND_KINDS:
            opened.setdefault(key, event)
            continue
        start = opened.pop(key, None)
        if start is None:
            points.setdefault(lane, []).append(
                (_us(event), f"{event['fault']}: {event['detail']} (wall "
                             f"{_clock_of(event['wall'])})"))
            continue
        spans[lane].append(_band(start, event))
    for start in opened.values():
        spans[_lane(start)].append(_band(start, None))
    order = {"cluster": 0, "node": 1, "link": 2}
    return tuple(
        Lane(name=name, spans=tuple(sorted(spans[name], key=lambda s: s.start_us)),
             points=tuple(points.get(name, ())))
        for name in sorted(spans, key=lambda n: (order.get(n.split(" ")[0], 3), n))
    )


def _band(start: dict[str, Any], end: dict[str, Any] | None) -> Span:
    until = "the end of the run" if end is None else _clock_of(end["wall"])
    label = f"{start['fault']}: {start['detail']} (wall {_clock_of(start['wall'])}..{until})"
    return Span(start_us=_us(start), end_us=None if end is None else _us(end), label=label,
                kind=BAND_KINDS[str(start["fault"])])


def end_us(artifact: LoadArtifact, ops: Sequence[Operation]) -> int:
    """The end of the chart: the load, the final reads and the last fault, whichever is last."""
    times = [round(artifact.elapsed_s * 1_000_000)]
    times += [_us(e) for e in artifact.faults]
    times += [(op.complete_time or op.invoke_time) // 1000 for op in ops]
    return max(times)


def fault_rows(artifact: LoadArtifact) -> list[tuple[str, str, str, str, str]]:
    """One row per fault: (from, until, fault, where, detail) with times as ``+S.SSS s``
    since the run started and the wall clock; an end without a start is its own row."""
    rows: list[tuple[float, int, tuple[str, str, str, str, str]]] = []
    opened: dict[tuple[str, tuple[int, ...]], dict[str, Any]] = {}
    for event in artifact.faults:
        key = (str(event["fault"]), tuple(event["nodes"]))
        if event["phase"] == "start":
            opened[key] = event
            continue
        start = opened.pop(key, None)
        first = start or event
        rows.append((float(first["t_s"]), len(rows), _row(first, event if start else None)))
    rows += [(float(s["t_s"]), len(rows) + i, _row(s, None))
             for i, s in enumerate(opened.values())]
    return [row for _, _, row in sorted(rows)]


def _row(start: dict[str, Any], end: dict[str, Any] | None) -> tuple[str, str, str, str, str]:
    def at(e: dict[str, Any]) -> str:
        return f"+{float(e['t_s']):.3f} s ({_clock_of(e['wall'])})"

    until = "-" if end is None else at(end)
    if end is None and start["phase"] == "start":
        until = "never healed"
    detail = str(start["detail"]) + ("" if end is None else f"; {end['detail']}")
    return (at(start), until, str(start["fault"]), _lane(start), detail)


def _figures(a: LoadArtifact) -> list[tuple[str, str]]:
    o = a.options
    nemesis = "off" if a.nemesis is None else (",".join(a.nemesis) or "none")

    def pct(table: dict[str, float]) -> str:
        return " ".join(f"{p} {table[p]}" for p in PERCENTILES)

    return [
        ("verdict", a.check if a.check.startswith(a.verdict) else f"{a.verdict}: {a.check}"),
        ("world", f"a real cluster {a.cluster_id} ({len(a.nodes)} nodes running {a.protocol}, "
                  f"{a.config_path})"),
        ("options", f"ops={o['ops']} clients={o['clients']} keys={o['keys']} "
                    f"duration_s={o['duration_s']} seed={o['seed']} nemesis={nemesis}"),
        ("started", f"{a.started_wall} (every time below counts from here)"),
        ("elapsed", f"{a.elapsed_s} s"),
        ("operations", " ".join(f"{k}={a.counts[k]}" for k in ("ok", "fail", "info"))
         + " (eventual reads included)"),
        ("throughput", f"acknowledged writes/s {a.throughput['acked_writes_per_s']}, "
                       f"ops/s {a.throughput['ops_per_s']}"),
        ("latency ms (ok ops)", pct(a.latency_ms)),
        ("write latency ms", pct(a.write_latency_ms)),
        ("final reads failed", ", ".join(a.final_reads_failed) or "none"),
        ("logs", " ".join(f"n{n}: {_log_path(a, p)}" for n, p in sorted(a.logs.items()))
         or "none kept"),
    ]


def _log_path(a: LoadArtifact, path: str) -> str:
    return path if Path(path).is_absolute() else str(a.folder / path)


def _in_doubt(ops: Sequence[Operation]) -> list[Operation]:
    return [op for op in ops if op.type == "info"]


def _doubt_line(op: Operation) -> str:
    return (f"{describe_op(op)} invoked +{op.invoke_time / 1e9:.3f} s, "
            f"error={op.error or 'none'} (may have taken effect)")


def text_report(a: LoadArtifact) -> str:
    """The report as text lines (what ``paxlab report`` prints for a load artifact)."""
    ops = operations(a)
    lines = [f"load artifact {a.folder}"]
    lines += [f"  {k}: {v}" for k, v in _figures(a)]
    lines.append(f"history: {len(ops)} operations (process {a.options['clients']} is the "
                 f"final reads after the restart)")
    rows = fault_rows(a)
    lines.append(f"faults: {sum(1 for e in a.faults if e['phase'] == 'start')} "
                 f"(from .. until, seconds since the run started (wall clock))")
    lines += [f"  {r[0]} .. {r[1]}  {r[2]:<9} {r[3]:<12} {r[4]}" for r in rows]
    doubt = _in_doubt(ops)
    lines.append(f"in doubt (info): {len(doubt)}")
    lines += [f"  {_doubt_line(op)}" for op in doubt[:_MAX_LISTED]]
    if len(doubt) > _MAX_LISTED:
        lines.append(f"  ... and {len(doubt) - _MAX_LISTED} more")
    return "\n".join(lines) + "\n"


def render_load_report(a: LoadArtifact, *, check_timeout_s: float = 30.0) -> str:
    """The self-contained HTML page of a load artifact (see the module doc)."""
    ops = operations(a)
    end = end_us(a, ops)
    table = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>"
                    for k, v in _figures(a))
    verdict = f'<p class="verdict {escape(a.verdict)}">{escape(a.verdict.upper())}</p>'
    sections = [Section("Run", f"{verdict}<table>{table}</table>")]
    doubt = _in_doubt(ops)
    doubt_html = "".join(f"<li>{escape(_doubt_line(op))}</li>" for op in doubt[:_MAX_LISTED])
    if len(doubt) > _MAX_LISTED:
        doubt_html += f"<li>... and {len(doubt) - _MAX_LISTED} more</li>"
    sections.append(Section("Client operations (one row per client process)", (
        f"<p>{len(ops)} operations in the history; process {a.options['clients']} is the "
        f"final strong reads after every node was restarted. An info operation (dashed, "
        f"running to the end) timed out after its request was sent: it may have taken "
        f"effect at any time after its invocation, or never.</p>"
        + legend_html()
        + history_timeline_svg(ops, window_ns=(0, end * 1000), clock=CLOCK)
        + f'<h3 class="unknown">In doubt (info): {len(doubt)}</h3><ul>{doubt_html}</ul>')))
    if a.verdict == "violation":
        result = check_linearizability(
            [HistoryEvent.from_json(d, line=i) for i, d in enumerate(a.history, 1)], "kv",
            timeout_s=check_timeout_s)
        sections += [Section(f"History checker: {s.title.lower()}", s.body_html)
                     for s in linearizability_sections(ops, result,
                                                       source=str(a.folder / "history.jsonl"))
                     if s.title != "History"]
    sections.append(Section("Faults of the nemesis (kill..restart, pause..resume, "
                            "partition..heal, link faults)", _faults_html(a, end)))
    title = f"paxlab load seed {a.seed} on cluster {a.cluster_id}: {a.verdict}"
    return render_page(title, sections)


def _faults_html(a: LoadArtifact, end: int) -> str:
    if a.nemesis is None:
        return "<p>No nemesis: the load ran against a cluster it did not own.</p>"
    if not a.faults:
        return "<p>The nemesis logged no fault (the run ended before the first).</p>"
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                   for r in fault_rows(a))
    return (lanes_svg(fault_bands(a.faults), end, clock=CLOCK)
            + "<table><tr><th>from</th><th>until</th><th>fault</th><th>where</th>"
              f"<th>detail</th></tr>{rows}</table>")


def write_load_report(folder: str | Path, out: str | Path) -> tuple[Path, str]:
    """Read the load artifact, write its page to ``out``; return ``out`` and the text report.

    Raises:
        ArtifactError: the artifact is missing or malformed.
        OSError: ``out`` cannot be written.
    """
    artifact = read_load_artifact(folder)
    text = text_report(artifact)
    page = render_load_report(artifact)
    path = Path(out)
    path.write_text(page, encoding="utf-8")
    return path, text
