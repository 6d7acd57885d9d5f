"""From a history file and the convention it follows to a model and ops ready to check.

This is what ``paxlab check-history`` does before searching, kept here so the benchmark and
tests run the same steps: read the file (any format of `harness.checks.history_files`),
refuse an empty history, build the model with the convention's options (initial value, nil
reads), split a Jepsen independent history per key (or refuse one given without
``independent``), and validate every op against the model.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from harness.checks.catalog import get_model
from harness.checks.history import HistoryError, Operation, pair_operations, show_value
from harness.checks.history_files import parse_value, read_history_file
from harness.checks.independent import independent_hint, split_independent
from harness.checks.models import Model


@attrs.frozen
class PreparedHistory:
    """A model built for the history's convention and the history's ops."""

    model: Model
    ops: list[Operation]
    skipped: int = 0


def prepare_history(
    path: str | Path,
    model_name: str,
    *,
    initial: str | None = None,
    nil_read: str | None = None,
    independent: bool | None = None,
) -> PreparedHistory:
    """Read ``path`` and return the model and ops to check.

    ``initial``: the starting value as JSON or EDN text (None: the model's default);
    ``nil_read``: ``"absent"``/``"unknown"`` (None: the default); ``independent``: True to
    split ``[key value]`` values per key, False to read the values whole, None to refuse a
    history that looks independent. Raises HistoryError (one line, naming the file and line
    when there is one), ValueError for a bad option, OSError and UnicodeDecodeError.
    """
    p = Path(path)
    parsed = read_history_file(p)
    events = parsed.events
    if not events:
        skipped = f" ({parsed.skipped} non-client events skipped)" if parsed.skipped else ""
        raise HistoryError(f"{p}: no client operations{skipped}; an empty history proves "
                           "nothing")
    value = None if initial is None else parse_value(initial)
    model = get_model(model_name, initial=value, nil_read=nil_read)
    if independent and model.name == "multi-register":
        raise ValueError("--independent does not apply to model multi-register "
                         "(its transactions span registers)")
    if independent:
        events = split_independent(events, source=str(p))
    elif independent is None and model.name != "multi-register":
        hint = independent_hint(events)
        if hint is not None:
            raise HistoryError(
                f"{p}:{hint.line}: looks like a Jepsen independent history (values are "
                f"[key value], e.g. {hint.f} of {show_value(hint.value)}); check each key "
                "with --independent, or pass --no-independent to read it as one object"
            )
    for event in events:
        if event.f not in model.functions:
            raise HistoryError(
                f"{p}:{event.line}: f not accepted by model {model.name}; choose from "
                f"{', '.join(model.functions)}, got f={event.f}"
            )
    ops = pair_operations(events, source=str(p))
    for op in ops:
        problem = model.invalid(op)
        if problem is not None:
            raise HistoryError(f"{p}:{op.invoke_line}: {problem}")
    return PreparedHistory(model, ops, parsed.skipped)
