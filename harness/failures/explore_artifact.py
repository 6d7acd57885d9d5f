"""Explore artifacts: a folder with ``artifact.json`` (``"kind": "explore"``) and a trace.

``artifact.json`` holds the bounds, the violation, the explicit schedule: one entry per
step, ``{"t_us": true time, "action": [...]}`` where the action is a `World` action (which
node got which event), and (from version 2) the ``fingerprint``: the digest (hex) of the
explorer state the schedule leads to (`explore_fingerprint`: the state before the violating
step), which ``paxlab replay`` recomputes, as it does a run's. `read_explore_record` reads it
back and checks every field (an unknown action is bad input, not a crash later);
`replay_schedule` (explorer) and `harness.failures.explore_replay` (simulator host loop)
re-run it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from harness.checks.violation import Violation
from harness.explore.bounds import Bounds
from harness.explore.search import ExploreResult, replay_schedule
from harness.explore.world import Action
from harness.failures.artifact import versions

KIND = "explore"
VERSION = 2
"""2 added ``fingerprint``; version 1 artifacts still read (``fingerprint`` None)."""
_ARITY = {"tick": 1, "crash": 1, "kill": 1, "request": 2, "deliver": 3, "drop": 3, "dup": 3}


@attrs.frozen(kw_only=True)
class ExploreRecord:
    """An explore artifact as read: bounds, schedule (actions and true times), the violation
    the explorer reported, and the fingerprint (None for a version 1 artifact)."""

    bounds: Bounds
    actions: tuple[Action, ...]
    times: tuple[int, ...]
    violation: Violation | None
    fingerprint: str | None


def explore_fingerprint(bounds: Bounds, actions: list[Action]) -> tuple[str, Violation | None]:
    """Replay ``actions`` in the explorer; return (hex digest of the state reached, the
    violation). The state is the one before the violating step if there is one. Raises
    ValueError if an action is not enabled where the schedule uses it."""
    world, violation = replay_schedule(bounds, actions)
    return world.digest().hex(), violation


def write_explore_artifact(folder: str | Path, result: ExploreResult) -> Path:
    """Write ``result`` (with a violation) into ``folder`` (created); return the folder.

    ``trace.txt`` gets one line per step: the action and the state it led to.
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    schedule = [{"t_us": t, "action": list(a)} for a, t in result.schedule]
    fingerprint, _ = explore_fingerprint(result.bounds, [a for a, _ in result.schedule])
    meta: dict[str, Any] = {
        "format": "paxlab-artifact",
        "kind": KIND,
        "version": VERSION,
        "fingerprint": fingerprint,
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

    Raises ValueError naming the file if it is not an explore artifact (see
    `read_explore_record`).
    """
    record = read_explore_record(folder)
    return record.bounds, list(record.actions), record.violation


def read_explore_record(folder: str | Path) -> ExploreRecord:
    """Read and check the explore artifact in ``folder``.

    Raises ValueError naming the file and the field: unreadable, not an explore artifact, a
    newer version, bad bounds, a malformed or unknown action, a malformed violation.
    """
    path = Path(folder) / "artifact.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read explore artifact: {exc}") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise ValueError(f"{path}: not an explore artifact (kind must be {KIND!r})")
    version = meta.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ValueError(f"{path}: unsupported explore artifact version={version!r}, this "
                         f"paxlab reads up to {VERSION}")
    try:
        if not isinstance(meta["bounds"], dict):
            raise TypeError("field 'bounds' must be an object")
        bounds = Bounds.from_json(meta["bounds"])
        schedule = meta["schedule"]
        if not isinstance(schedule, list):
            raise TypeError("field 'schedule' must be a list")
        actions, times = [], []
        for i, step in enumerate(schedule, start=1):
            if not isinstance(step, dict):
                raise TypeError(f"schedule step {i} must be an object")
            actions.append(_action(step.get("action"), i))
            t = step.get("t_us", 0)
            if not isinstance(t, int) or isinstance(t, bool) or t < 0:
                raise TypeError(f"schedule step {i}: t_us must be an int >= 0, got {t!r}")
            times.append(t)
        v = meta.get("violation")
        violation = None if v is None else Violation.from_json(v)
        fingerprint = meta.get("fingerprint")
        if version >= 2 and not isinstance(fingerprint, str):
            raise TypeError(f"field 'fingerprint' must be a string, got {fingerprint!r}")
    except KeyError as exc:
        raise ValueError(f"{path}: malformed explore artifact: lacks field "
                         f"{exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: malformed explore artifact: {exc}") from None
    return ExploreRecord(bounds=bounds, actions=tuple(actions), times=tuple(times),
                         violation=violation, fingerprint=fingerprint if version >= 2 else None)


def _action(value: Any, step: int) -> Action:
    """One schedule action, checked for shape (kind, arity, types); raises TypeError."""
    if not isinstance(value, list) or not value or value[0] not in _ARITY:
        raise TypeError(f"schedule step {step}: unknown action {value!r}; kinds: "
                        f"{', '.join(_ARITY)}")
    kind, args = value[0], value[1:]
    if len(args) != _ARITY[kind]:
        raise TypeError(f"schedule step {step}: {kind} takes {_ARITY[kind]} argument(s), "
                        f"got {value!r}")
    ints = args[:2] if kind in ("deliver", "drop", "dup") else args
    if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in ints):
        raise TypeError(f"schedule step {step}: node and op numbers must be ints >= 0, "
                        f"got {value!r}")
    if kind in ("deliver", "drop", "dup") and not isinstance(args[2], str):
        raise TypeError(f"schedule step {step}: a message must be a string, got {value!r}")
    return tuple(value)
