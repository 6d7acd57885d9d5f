"""Explore artifacts: a folder with ``artifact.json`` (``"kind": "explore"``) and a trace.

``artifact.json`` holds the bounds, the violation and the explicit schedule: one entry per
step, ``{"t_us": true time, "action": [...]}`` where the action is a `World` action (which
node got which event). `read_explore_artifact` reads it back; `replay_schedule` (explorer)
and `harness.failures.explore_replay` (simulator host loop) re-run it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.search import ExploreResult, replay_schedule
from harness.explore.world import Action
from harness.failures.artifact import versions

KIND = "explore"


def write_explore_artifact(folder: str | Path, result: ExploreResult) -> Path:
    """Write ``result`` (with a violation) into ``folder`` (created); return the folder.

    ``trace.txt`` gets one line per step: the action and the state it led to.
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    schedule = [{"t_us": t, "action": list(a)} for a, t in result.schedule]
    meta: dict[str, Any] = {
        "format": "paxlab-artifact",
        "kind": KIND,
        "version": 1,
        "bounds": result.bounds.to_json(),
        "strategy": result.strategy,
        "violation": None if result.violation is None else result.violation.to_json(),
        "versions": versions(),
        "schedule": schedule,
    }
    (path / "artifact.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    world, _ = replay_schedule(result.bounds, [a for a, _ in result.schedule][:-1])
    lines = [f"{i + 1} t={t}us {list(a)!r}" for i, (a, t) in enumerate(result.schedule)]
    lines.append(f"state before the last step: {world.describe()}")
    (path / "trace.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def read_explore_artifact(folder: str | Path) -> tuple[Bounds, list[Action], Violation | None]:
    """Return (bounds, schedule actions, violation) of an explore artifact.

    Raises ValueError naming the file if it is not an explore artifact.
    """
    path = Path(folder) / "artifact.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read explore artifact: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ValueError(f"{path}: not an explore artifact (kind must be {KIND!r})")
    try:
        bounds = Bounds.from_json(meta["bounds"])
        actions = [tuple(step["action"]) for step in meta["schedule"]]
        v = meta.get("violation")
        violation = None if v is None else Violation(**v)
    except KeyError as exc:
        raise ValueError(f"{path}: explore artifact lacks field {exc.args[0]!r}") from None
    except (TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: malformed explore artifact: {exc}") from None
    return bounds, actions, violation
