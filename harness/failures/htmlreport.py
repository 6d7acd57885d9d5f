"""Self-contained HTML reports: one page, inline CSS and SVG, no external assets, all text escaped.

Reusable pieces: `render_page` assembles `Section`s; `history_timeline_svg` draws client
operations, one row per process, coloured by outcome; `linearizability_sections` explains a
checker verdict. ``paxlab check-history --html`` uses them, and other reports (fault and
leader timelines) can add their own sections to the same page.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence

import attrs

from harness.checks.history import Operation
from harness.checks.linearizability import LinearizabilityResult, describe_op

COLOURS: dict[str, str] = {"ok": "#4caf50", "fail": "#e57373", "info": "#ffb74d"}

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; } .verdict { font-weight: bold; font-size: 1.1em; }
.violation { color: #b71c1c; } .linearizable { color: #1b5e20; } .unknown { color: #e65100; }
.legend span { display: inline-block; padding: 0 8px; margin-right: 6px; border-radius: 3px; }
svg text { font: 10px monospace; } .scroll { overflow-x: auto; }
"""


def escape(text: object) -> str:
    """HTML-escape ``str(text)`` (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


@attrs.frozen
class Section:
    """A titled part of a page. ``body_html`` is trusted markup: build it with `escape`."""

    title: str
    body_html: str


def render_page(title: str, sections: Sequence[Section]) -> str:
    """Return a complete HTML document with ``title`` and ``sections`` in order."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<section><h2>{escape(section.title)}</h2>{section.body_html}</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def legend_html() -> str:
    """The colour legend of `history_timeline_svg`."""
    items = "".join(
        f'<span style="background:{colour}">{escape(kind)}</span>'
        for kind, colour in COLOURS.items()
    )
    return (f'<p class="legend">{items}<span style="border:2px solid #000">placed in the '
            f'prefix</span><span style="border:3px solid #b71c1c">cannot be placed</span></p>')


def history_timeline_svg(
    ops: Sequence[Operation],
    *,
    highlight: Collection[int] = (),
    failed: int | None = None,
    width_px: int = 1100,
    row_px: int = 16,
    window_ns: tuple[int, int] | None = None,
    clock: str = "simulated",
) -> str:
    """Return an SVG timeline: one row per process, one bar per op from invoke to completion.

    Bars are coloured by outcome (`COLOURS`); an info op (or one never completed) runs to the
    end of the chart, since it may take effect any time later. Ops whose id is in
    ``highlight`` get a black outline, the op with id ``failed`` a thick red one. Each bar
    has a tooltip describing the op. Times are the events' ``time`` (ns); the axis is labelled
    in seconds. ``window_ns`` fixes the chart's time range (a run report passes the whole
    run, so this chart and the fault and leader charts share one scale); by default it spans
    the operations; ``clock`` names the time on the axis (a real run's history counts
    from its start). A bar's text label is drawn only where it fits inside the bar.
    """
    if not ops:
        return "<p>(no operations)</p>"
    processes = sorted({op.process for op in ops})
    row_of = {p: i for i, p in enumerate(processes)}
    if window_ns is None:
        start = min(op.invoke_time for op in ops)
        end = max(max(op.invoke_time, op.complete_time or op.invoke_time) for op in ops)
    else:
        start, end = window_ns
    span = max(end - start, 1)
    label_px = 70  # the same plot area as the run report's fault and leader lanes
    plot_px = width_px - label_px - 10
    height = len(processes) * row_px + 24
    marked = set(highlight)

    def x(t: int) -> float:
        return label_px + (t - start) * plot_px / span

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height}" '
           f'role="img">']
    for p, row in row_of.items():
        y = row * row_px
        out.append(f'<text x="2" y="{y + row_px - 4}">p{escape(p)}</text>')
        out.append(f'<line x1="{label_px}" x2="{width_px - 10}" y1="{y + row_px / 2}" '
                   f'y2="{y + row_px / 2}" stroke="#eee"/>')
    for op in ops:
        y = row_of[op.process] * row_px + 2
        x0 = x(op.invoke_time)
        last = end if op.type == "info" or op.complete_time is None else op.complete_time
        w = max(x(last) - x0, 2.0)
        stroke = ""
        if op.id == failed:
            stroke = ' stroke="#b71c1c" stroke-width="3"'
        elif op.id in marked:
            stroke = ' stroke="#000" stroke-width="1.5"'
        dash = ' stroke-dasharray="3,2" fill-opacity="0.6"' if op.type == "info" else ""
        out.append(
            f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{row_px - 4}" rx="2" '
            f'fill="{COLOURS.get(op.type, "#999")}"{stroke}{dash}>'
            f"<title>{escape(describe_op(op))} t={op.invoke_time}..{escape(op.complete_time)}"
            f"</title></rect>"
        )
        text = _short(op)
        if w > 6 + CHAR_PX * len(text):  # never spills onto the next bar
            out.append(f'<text x="{x0 + 3:.1f}" y="{y + row_px - 6}">{escape(text)}</text>')
    axis_y = len(processes) * row_px + 14
    out.append(f'<text x="{label_px}" y="{axis_y}">{start / 1e9:.3f} s</text>')
    out.append(f'<text x="{width_px - 10}" y="{axis_y}" text-anchor="end">'
               f"{end / 1e9:.3f} s ({escape(clock)})</text>")
    out.append("</svg>")
    return '<div class="scroll">' + "".join(out) + "</div>"


CHAR_PX = 7
"""Width of one character of chart text, for deciding whether a label fits (page font 12px)."""


def _short(op: Operation) -> str:
    return describe_op(op).split(" ", 1)[1].rsplit(" [", 1)[0]


def ops_table_html(ops: Sequence[Operation], *, numbered: bool = True) -> str:
    """A table of ops (position, process, operation, outcome, invoke and completion time)."""
    rows = ["<table><tr><th>#</th><th>process</th><th>operation</th><th>outcome</th>"
            "<th>invoked (ns)</th><th>completed (ns)</th></tr>"]
    for i, op in enumerate(ops, start=1):
        rows.append(
            f"<tr><td>{i if numbered else ''}</td><td>{escape(op.process)}</td>"
            f"<td>{escape(_short(op))}</td><td>{escape(op.type)}</td>"
            f"<td>{escape(op.invoke_time)}</td><td>{escape(op.complete_time)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def linearizability_sections(
    ops: Sequence[Operation], result: LinearizabilityResult, *, source: str = ""
) -> list[Section]:
    """Sections explaining a verdict: summary, the failing key (if any), the whole history."""
    summary = (f'<p class="verdict {escape(result.verdict)}">{escape(result.summary())}</p>'
               f"<p>{escape(source)} &middot; {len(ops)} operations, "
               f"{result.partitions} keys, {result.states} states explored, "
               f"{result.elapsed_s:.3f} s</p>")
    sections = [Section("Verdict", summary)]
    if result.verdict == "violation" and result.failed_op is not None:
        failed = result.failed_op
        key_ops = [op for op in ops if op.key == failed.key and op.type != "fail"]
        body = (
            f"<p>Key <code>{escape(result.key)}</code>: after the linearizable prefix below "
            f"({len(result.prefix)} ops), <b>{escape(describe_op(failed))}</b> cannot be "
            f"placed.</p>"
            + legend_html()
            + history_timeline_svg(key_ops, highlight=[op.id for op in result.prefix],
                                   failed=failed.id)
            + "<h3>Longest linearizable prefix (linearization order)</h3>"
            + ops_table_html(result.prefix)
            + "<h3>Operation that cannot be placed</h3>"
            + ops_table_html([failed], numbered=False)
        )
        sections.append(Section(f"Violation on key {result.key!r}", body))
    if result.verdict == "unknown":
        keys = ", ".join(str(k) for k in result.unknown_keys)
        sections.append(Section("Undecided", f"<p>{escape(result.reason)}; keys: "
                                             f"{escape(keys)}</p>"))
    sections.append(Section("History", legend_html() + history_timeline_svg(ops)))
    return sections
