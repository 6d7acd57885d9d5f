"""Reading and writing history files: JSON lines, and EDN as Jepsen and Knossos store it.

The format is detected per file (`parse_history_text`); docs/histories.md lists the formats
and the public sources that use each.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from harness.checks.edn import EdnError, read_edn, read_edn_events, read_edn_forms
from harness.checks.history import (
    HistoryError,
    HistoryEvent,
    freeze,
    pair_operations,
    show_value,
    thaw,
)

log = logging.getLogger(__name__)


def _validate_value(event: HistoryEvent) -> None:
    if event.observed is not None and not (event.f == "cas" and event.type == "fail"):
        raise ValueError(
            f"observed is only for the fail completion of a cas, got f={event.f} "
            f"type={event.type}"
        )
    # A completion's value is used only for reads and transactions (see `pair_operations`);
    # Jepsen's log puts the error there (``:info :cas :timed-out``), so it is not checked.
    if event.type != "invoke" and event.f in ("cas", "append"):
        return
    if event.f == "cas" and not (isinstance(event.value, tuple) and len(event.value) == 2):
        raise ValueError(f"cas value must be [expected, new], got value={thaw(event.value)!r}")
    if event.f == "append" and not isinstance(event.value, str):
        raise ValueError(f"append value must be a string, got value={event.value!r}")
    if event.f == "txn" and event.type in ("invoke", "ok") and not _is_txn(event.value):
        raise ValueError("txn value must be a list of [read|write key value], got "
                         f"value={show_value(event.value)}")


def _is_txn(value: Any) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(m, tuple) and len(m) == 3 and m[0] in ("read", "write") for m in value)


def is_client_process(process: Any) -> bool:
    """Whether an event's ``process`` is a client's: Jepsen's nemesis (``:process
    :nemesis``) and other named, non-numeric processes are not, and their events are skipped
    (they are faults and logs, not operations on the object)."""
    return not (isinstance(process, str) and not process.isdigit())


@attrs.frozen
class ParsedHistory:
    """Events read from a file, and how many non-client events were skipped."""

    events: list[HistoryEvent]
    skipped: int = 0
    format: str = "json"


def parse_history_text(text: str, *, source: str = "<history>") -> ParsedHistory:
    """Parse a history text: JSON lines, Jepsen's console log, or EDN in any layout
    Jepsen and Knossos use.

    The format is JSON lines if the first non-blank, non-comment line is a JSON object,
    Jepsen's console log if the text does not start like EDN and has ``jepsen.util`` op
    lines (other log lines are skipped), else EDN (`harness.checks.edn.read_edn_events`:
    one map per line, maps over several lines, a whole-file vector or list, comments,
    tagged literals). Raises HistoryError
    naming ``source`` and the 1-based line for malformed text, an unknown type or f, a bad
    value, or a pairing error (see `pair_operations`).
    """
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines
                  if ln.strip() and not ln.strip().startswith(";")), "")
    skipped = 0
    if _is_json_object(first):
        items = _json_items(lines, source)
        fmt = "json"
    elif first[:1] not in ("{", "[", "(", "#") and any(_JEPSEN_LOG.search(ln) for ln in lines):
        items, skipped = _jepsen_log_items(lines, source)
        fmt = "jepsen-log"
    else:
        try:
            items = read_edn_events(text)
        except EdnError as exc:
            raise HistoryError(f"{source}:{exc.line}: {exc}") from None
        fmt = "edn"
    events: list[HistoryEvent] = []
    for data, number in items:
        try:
            if not isinstance(data, dict):
                raise ValueError(f"an event must be a map, got {show_value(data)[:40]}")
            if not is_client_process(data.get("process")):
                skipped += 1
                continue
            event = HistoryEvent.from_json(data, line=number)
            _validate_value(event)
        except (ValueError, TypeError) as exc:
            raise HistoryError(f"{source}:{number}: {exc}") from None
        events.append(event)
    pair_operations(events, source=source)
    if skipped:
        log.info("%s: skipped %d non-client events", source, skipped)
    return ParsedHistory(events, skipped, fmt)


def parse_history_lines(lines: Iterable[str], *, source: str = "<history>") -> list[HistoryEvent]:
    """Parse history lines (see `parse_history_text`) into events."""
    return parse_history_text("\n".join(line.rstrip("\n") for line in lines),
                              source=source).events


def _json_items(lines: list[str], source: str) -> list[tuple[Any, int]]:
    items: list[tuple[Any, int]] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith(";"):
            continue
        try:
            items.append((freeze(json.loads(text)), number))
        except RecursionError:
            raise HistoryError(f"{source}:{number}: value nested too deeply") from None
        except ValueError as exc:
            raise HistoryError(f"{source}:{number}: {exc}") from None
    return items


# Jepsen's console log (jepsen.log): "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 2]": process,
# type, f, value and an optional error, each an EDN value, separated by tabs or spaces.
# Older logs write "LEVEL  jepsen.util - ", newer ones "time{GMT}\tINFO\t[jepsen worker 3]
# jepsen.util: "; lines of other loggers are skipped.
_JEPSEN_LOG = re.compile(r"jepsen\.util(?::|\s+-)\s+(?P<fields>.*)$")
_LOG_FIELDS = ("process", "type", "f", "value", "error")


def _jepsen_log_items(lines: list[str], source: str) -> tuple[list[tuple[Any, int]], int]:
    """Events of a Jepsen console log, and how many lines were other log output."""
    items: list[tuple[Any, int]] = []
    other = 0
    for number, raw in enumerate(lines, start=1):
        m = _JEPSEN_LOG.search(raw.strip())
        if m is None:
            other += bool(raw.strip())
            continue
        try:
            fields = read_edn_forms(m.group("fields"))
        except EdnError as exc:
            raise HistoryError(f"{source}:{number}: {exc}") from None
        if len(fields) < 3 or len(fields) > len(_LOG_FIELDS):
            other += 1  # another jepsen.util message, not an operation
            continue
        items.append((dict(zip(_LOG_FIELDS, fields, strict=False)), number))
    return items, other


def _is_json_object(text: str) -> bool:
    if not text.startswith("{"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def parse_value(text: str) -> Any:
    """Parse a value given on the command line, as JSON or else EDN (``0``, ``'""'``,
    ``nil``, ``'{:x 0 :y 0}'``); frozen. Raises ValueError."""
    try:
        return freeze(json.loads(text))
    except (ValueError, RecursionError):
        pass
    try:
        return read_edn(text)
    except EdnError as exc:
        raise ValueError(f"not a JSON or EDN value: {exc}") from None


def read_history_file(path: str | Path) -> ParsedHistory:
    """Read a history file (see `parse_history_text`). Raises HistoryError, OSError,
    UnicodeDecodeError."""
    p = Path(path)
    return parse_history_text(p.read_text(encoding="utf-8"), source=str(p))


def read_history(path: str | Path) -> list[HistoryEvent]:
    """Read a JSON-lines or EDN history file. Raises HistoryError (file and line), OSError."""
    return read_history_file(path).events


def write_history(path: str | Path, events: Iterable[HistoryEvent]) -> None:
    """Write ``events`` as JSON lines (one compact object per line, field order fixed)."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for event in events:
            fh.write(json.dumps(event.to_json(), separators=(",", ":")) + "\n")
