"""``paxlab report`` for an explore artifact: the shortest failing schedule, drawn.

An explore artifact (`harness.failures.explore_artifact`) holds the bounds, the violation and the
explicit schedule the model checker found. The page shows: a header (strategy, bounds,
violation, the replay command); the schedule as a message-sequence chart, one column per
node and one row per step (a tick or crash on its node, a client request coming in from the
left, a delivered, dropped or duplicated message as an arrow from sender to receiver), each
row with its full action as a tooltip and in a table below; and the schedule's replay through
the simulator's host loop (`harness.failures.explore_replay`): whether the violation reproduced and
the client operations it recorded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.checks.history import HistoryError, HistoryEvent, pair_operations
from harness.checks.violation import Violation
from harness.failures.artifact import ArtifactError, describe_violation
from harness.failures.htmlreport import (
    Section,
    escape,
    history_timeline_svg,
    legend_html,
    render_page,
)

log = logging.getLogger(__name__)

_COLOURS = {"deliver": "#1565c0", "drop": "#b71c1c", "dup": "#6a1b9a",
            "tick": "#555", "crash": "#b71c1c", "request": "#2e7d32"}


def _read(folder: Path) -> dict[str, Any]:
    """The artifact, checked as ``paxlab replay`` checks it (raises ArtifactError)."""
    from harness.failures.explore_artifact import read_explore_record  # loads the explorer

    path = folder / "artifact.json"
    try:
        record = read_explore_record(folder)
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(str(exc)) from None
    steps = [(t, list(a)) for t, a in zip(record.times, record.actions, strict=True)]
    return {"meta": meta, "steps": steps, "bounds": record.bounds.to_json(),
            "violation": record.violation}


def _label(action: Sequence[Any]) -> str:
    kind = action[0]
    if kind in ("deliver", "drop", "dup"):
        return f"{kind} n{action[2]}→n{action[1]}: {action[3]}"
    if kind == "request":
        return f"client op {action[1]} → n{action[2]}"
    return f"{kind} n{action[1]}"


def sequence_svg(steps: Sequence[tuple[int, Sequence[Any]]], nodes: int,
                 mark_step: int | None = None) -> str:
    """The schedule as a message-sequence chart (see the module docstring)."""
    col_px, row_px, left_px, top_px = 150, 22, 90, 24
    width = left_px + col_px * nodes
    height = top_px + row_px * len(steps) + 10

    def cx(n: int) -> int:
        return left_px + col_px * n + col_px // 2

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img">']
    for n in range(nodes):
        out.append(f'<text x="{cx(n)}" y="14" text-anchor="middle">n{n}</text>')
        out.append(f'<line x1="{cx(n)}" x2="{cx(n)}" y1="{top_px - 6}" y2="{height - 6}" '
                   f'stroke="#ccc"/>')
    for i, (t_us, action) in enumerate(steps):
        y = top_px + row_px * i + row_px // 2
        kind = action[0]
        colour = _COLOURS.get(kind, "#999")
        bold = ' font-weight="bold"' if mark_step == i + 1 else ""
        out.append(f'<text x="2" y="{y + 4}"{bold}>{i + 1} · {t_us / 1e3:g}ms</text>')
        tip = f"<title>{escape(_label(action))}</title>"
        if kind in ("deliver", "drop", "dup") and 0 <= action[2] < nodes and 0 <= action[1] < nodes:
            x1, x2 = cx(action[2]), cx(action[1])
            dash = ' stroke-dasharray="4,3"' if kind == "drop" else ""
            head = x2 - 6 if x2 > x1 else x2 + 6
            out.append(f'<g>{tip}<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" '
                       f'stroke="{colour}" stroke-width="2"{dash}/>'
                       f'<polygon points="{x2},{y} {head},{y - 4} {head},{y + 4}" '
                       f'fill="{colour}"/>'
                       f'<text x="{(x1 + x2) / 2}" y="{y - 3}" text-anchor="middle">'
                       f'{escape(str(action[3]).split("(", 1)[0])}</text></g>')
        elif kind == "request" and 0 <= action[2] < nodes:
            x2 = cx(action[2])
            out.append(f'<g>{tip}<line x1="{left_px}" x2="{x2}" y1="{y}" y2="{y}" '
                       f'stroke="{colour}" stroke-width="2"/>'
                       f'<text x="{left_px + 4}" y="{y - 3}">op {escape(action[1])}</text></g>')
        elif len(action) > 1 and isinstance(action[1], int) and 0 <= action[1] < nodes:
            out.append(f'<g>{tip}<circle cx="{cx(action[1])}" cy="{y}" r="5" '
                       f'fill="{colour}"/><text x="{cx(action[1]) + 8}" y="{y + 4}">'
                       f'{escape(kind)}</text></g>')
    out.append("</svg>")
    return '<div class="scroll">' + "".join(out) + "</div>"


def render_explore_report(folder: str | Path, *, replay: bool = True) -> str:
    """Return the HTML page for the explore artifact in ``folder``.

    ``replay``: run the schedule through the simulator's host loop (a few milliseconds).
    Raises ArtifactError if the folder does not hold a readable explore artifact.
    """
    path = Path(folder)
    art = _read(path)
    v: Violation | None = art["violation"]
    bounds: dict[str, Any] = art["bounds"]
    steps: list[tuple[int, list[Any]]] = art["steps"]
    nodes = int(bounds.get("replicas", 0)) + int(bounds.get("spares", 0) or 0) + int(
        bounds.get("log_spares", 0) or 0)
    rows = [
        ("verdict", "violation" if v is not None else "ok"),
        ("violation", "none" if v is None else describe_violation(v)),
        ("strategy", str(art["meta"].get("strategy"))),
        ("bounds", " ".join(f"{k}={val}" for k, val in bounds.items())),
        ("schedule", f"{len(steps)} steps"),
        ("versions", " ".join(f"{k}={val}" for k, val in
                              sorted(art["meta"].get("versions", {}).items()))),
        ("replay", f"paxlab replay {path}"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(val)}</code></td></tr>"
                    for k, val in rows)
    cls = "violation" if v is not None else "linearizable"
    sections = [Section("Explored schedule", f'<p class="verdict {cls}">'
                        f'{"VIOLATION" if v is not None else "OK"}</p><table>{table}</table>')]
    sections.append(Section(
        "Message sequence (one column per node, one row per step; hover for the action)",
        sequence_svg(steps, max(nodes, 1), mark_step=None if v is None else v.step)))
    listing = "".join(f"<tr><td>{i + 1}</td><td>{t}</td><td><code>{escape(_label(a))}"
                      f"</code></td></tr>" for i, (t, a) in enumerate(steps))
    sections.append(Section("Steps", "<table><tr><th>step</th><th>true µs</th>"
                            f"<th>action</th></tr>{listing}</table>"))
    if replay:
        sections.append(Section("Replay in the simulator's host loop", _replay_html(path, v)))
    title = "paxlab explore: " + ("passed" if v is None else f"{v.property} violated")
    return render_page(title, sections)


def _replay_html(path: Path, expected: Violation | None) -> str:
    from harness.failures.explore_replay import replay_explore  # the explorer is imported on demand

    try:
        outcome = replay_explore(path)
    except ValueError as exc:
        return f"<p class=\"unknown\">The schedule could not be replayed: {escape(exc)}</p>"
    got = outcome.violation
    if got is None:
        verdict = "The replay found no violation"
    else:
        verdict = f"The replay found {escape(describe_violation(got))}"
    same = (got is None) == (expected is None) and (
        got is None or expected is None or got.property == expected.property)
    verdict += " (the same property)." if same else " (NOT what the explorer reported)."
    try:
        ops = pair_operations([HistoryEvent.from_json(e) for e in outcome.history])
    except HistoryError as exc:
        return f"<p>{verdict}</p><p>The replay's history could not be read: {escape(exc)}</p>"
    return (f"<p>{verdict} {outcome.steps} steps ran.</p><p>Client operations:</p>"
            + legend_html() + history_timeline_svg(ops))


def write_explore_report(folder: str | Path, out: str | Path) -> Path:
    """Write the page for the explore artifact in ``folder`` to ``out``; return ``out``.

    Raises ArtifactError (unreadable artifact) or OSError (``out`` cannot be written).
    """
    page = render_explore_report(folder)
    target = Path(out)
    target.write_text(page, encoding="utf-8")
    return target
