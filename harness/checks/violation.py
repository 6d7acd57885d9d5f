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
