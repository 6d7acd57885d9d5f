"""Jepsen ``independent`` histories: many objects in one history, ``:value [key value]``.

Jepsen's ``jepsen.independent`` runs one workload per key concurrently and wraps every
value as a tuple ``[k v]`` (a read invokes with ``[k nil]``, a cas carries ``[k [old
new]]``). Read as one register, such a history is one register holding tuples, and checked
that way it gives false violations. `split_independent` turns it into an ordinary keyed
history (key ``k``, value ``v``), so each key is checked as its own object;
`independent_hint` spots a history that looks independent so the CLI can refuse to guess.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from harness.checks.history import HistoryError, HistoryEvent, show_value


def _key_text(key: object) -> str:
    return key if isinstance(key, str) else show_value(key)


def split_independent(
    events: Sequence[HistoryEvent], *, source: str = "<history>"
) -> list[HistoryEvent]:
    """Return ``events`` with each ``[k v]`` value split into key ``k`` and value ``v``.

    A completion whose value is null (a failed or crashed op that recorded nothing) takes
    its invoke's key. Raises HistoryError naming ``source`` and the line for an event that
    already has a key, or an invoke whose value is not a ``[key value]`` pair.
    """
    open_key: dict[int, str] = {}
    out: list[HistoryEvent] = []
    for index, event in enumerate(events):
        where = f"{source}:{event.line}" if event.line is not None else f"{source}: event {index}"
        if event.key is not None:
            raise HistoryError(f"{where}: --independent: event already has key={event.key!r}")
        value = event.value
        if isinstance(value, tuple) and len(value) == 2:
            key, inner = _key_text(value[0]), value[1]
        elif event.type != "invoke" and value is None and event.process in open_key:
            key, inner = open_key[event.process], None
        else:
            raise HistoryError(f"{where}: --independent: value must be [key value], got "
                               f"value={show_value(value)}")
        if event.type == "invoke":
            open_key[event.process] = key
        else:
            open_key.pop(event.process, None)
        out.append(attrs.evolve(event, key=key, value=inner))
    return out


def independent_hint(events: Sequence[HistoryEvent]) -> HistoryEvent | None:
    """Return an event showing that ``events`` look like a Jepsen independent history, or
    None.

    It looks independent when no event has a key, every non-null value is a pair, every
    cas value is ``[k [old new]]``, and some invoke carries ``[k nil]`` (how
    ``jepsen.independent`` invokes a read) -- a plain register invokes reads with nil.
    """
    witness: HistoryEvent | None = None
    for event in events:
        value = event.value
        if event.key is not None:
            return None
        if value is None:
            continue
        if not (isinstance(value, tuple) and len(value) == 2):
            return None
        if event.f == "cas" and not (isinstance(value[1], tuple) and len(value[1]) == 2):
            return None
        if witness is None and event.type == "invoke" and value[1] is None:
            witness = event
    return witness
