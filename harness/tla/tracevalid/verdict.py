"""What both protocols' trace validators share: the verdict, the two errors, field readers."""

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
