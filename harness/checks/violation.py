"""A violated property: what every check reports, and what runs, sweeps and artifacts carry.

It lives with the checks (the lowest room of the harness) so that online invariants, history
checkers and the explorer's ghost can report a violation without importing the simulator.
"""

from __future__ import annotations

import builtins
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Violation:
    """The first violated property of a run, located as precisely as the checker can.

    ``property`` is a name from docs/properties.md (``"S1"`` ... ``"S15"``, or ``"liveness"``).
    ``signature`` groups failures in sweeps: property plus where (not values that vary by seed).
    """

    property: str
    message: str
    time_us: int
    step: int
    node: int | None = None
    slot: int | None = None
    key: str | None = None

    @builtins.property  # the field named `property` shadows the builtin here
    def signature(self) -> str:
        if self.slot is not None:
            where = "slot"
        elif self.key is not None:
            where = "key"
        elif self.node is not None:
            where = "node"
        else:
            where = "group"
        return f"{self.property}@{where}"

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Violation:
        """Inverse of `to_json` for data read from a file: raises ValueError naming the
        field that is missing, unknown or of the wrong type (an edited artifact must not
        fail later, deep in a report or a comparison)."""
        if not isinstance(data, dict):
            raise ValueError(f"a violation must be an object, got {type(data).__name__}")
        types = {"property": str, "message": str, "time_us": int, "step": int,
                 "node": int, "slot": int, "key": str}
        unknown = sorted(set(data) - set(types))
        if unknown:
            raise ValueError(f"unknown violation field(s): {', '.join(map(str, unknown))}")
        for name, kind in types.items():
            optional = name in ("node", "slot", "key")
            if name not in data:
                if optional:
                    continue
                raise ValueError(f"violation lacks field {name!r}")
            value = data[name]
            if value is None and optional:
                continue
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"violation field {name!r} must be of type {kind.__name__}, "
                                 f"got {name}={value!r}")
        return cls(**data)

    def place(self) -> tuple[int, int, int | None, int | None, str | None]:
        """Where and when it was seen: step, time, node, slot, key (a replay that repeats
        the run sees it at the same place)."""
        return (self.step, self.time_us, self.node, self.slot, self.key)
