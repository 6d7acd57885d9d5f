"""What both protocols' trace validators share: the verdict, the two errors, field readers,
and the dispatch of a line to its action's method (`ActionDispatch`)."""

from __future__ import annotations

from typing import Any

import attrs


class TraceInputError(ValueError):
    """The input is not a trace (not JSON, no Init line, a field missing or mistyped)."""


class TraceInvalid(Exception):
    """A line is not an allowed action from the state before it (message: the broken rule)."""


@attrs.frozen
class Verdict:
    """The first bad line (1-based) and why; ``line == 0`` means the trace is valid."""

    line: int
    reason: str
    lines: int

    @property
    def ok(self) -> bool:
        return self.line == 0


def _int(line: dict[str, Any], name: str) -> int:
    v = line.get(name)
    if not isinstance(v, int) or isinstance(v, bool):
        raise TraceInputError(f"field {name} must be an int, got {name}={v!r}")
    return v


def _check(cond: bool, reason: str) -> None:
    if not cond:
        raise TraceInvalid(reason)


class ActionDispatch:
    """One method per action, ``on_<Action>(line, node, node_state)``; `apply` checks what
    every action needs first (a known action and node, true time never going back, a node
    that is down takes only Restart or Crash) and then runs it, then `after`."""

    now: int
    nodes: dict[int, Any]  # node -> the validator's state of it (with ``up``)

    def apply(self, line: dict[str, Any]) -> None:
        action = line.get("action")
        handler = getattr(self, f"on_{action}", None) if isinstance(action, str) else None
        if handler is None:
            raise TraceInputError(f"unknown action={action!r}")
        t = _int(line, "t")
        _check(t >= self.now, f"true time went back: t={t} before={self.now}")
        self.now = t
        node = _int(line, "node")
        if node not in self.nodes:
            raise TraceInputError(f"unknown node={node}")
        s = self.nodes[node]
        if action not in ("Restart", "Crash"):
            _check(s.up, f"{action} by a node that is down: node={node}")
        handler(line, node, s)
        self.after(line, node, s)

    def after(self, line: dict[str, Any], node: int, s: Any) -> None:
        """What a validator checks once an action has run (nothing by default)."""
