"""The run's fingerprint: blake2b over the ordered event trace, one record per step.

A replica step is hashed as a compact tuple ``(step, true_us, node, event, effects)``: the
event as its class name and field values (a `Receive` with its message flattened the same
way), each effect as the short summary `summarize` prints (message bodies omitted: the
receiving step shows them). Other lines (options, world, faults, notes, violations) are
hashed as ``(step, text)``. Records are hashed in batches as their ``repr``, one per line,
so the digest does not depend on where the batches were cut. Every part is built from ints,
bytes, strings and the deterministic ``repr`` of frozen messages: no object ids, no set
order, no wall time, so the fingerprint is the same for the same run on any machine and
under any ``PYTHONHASHSEED``.

`encode_event` and `_EFFECT_ENCODERS` define the records; on the hot path `Trace.step` renders
the text ``repr`` would give them directly (`_render_event`, `_EFFECT_TEXT`), without building
the tuples first. Tests hold the two to the same text.

The human-readable line of a step, ``"{step} {true_us} n{node} {event!r} -> {effects}"``,
is built only when the trace keeps lines (``keep``); it carries the same information as the
hashed record.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import Receive

_BATCH = 512  # records hashed per blake2b update


def summarize(effects: Sequence[Any]) -> str:
    """Return a compact, deterministic summary of a step's effects (message bodies omitted:
    the receiving step's line shows them)."""
    parts: list[str] = []
    for e in effects:
        kind = type(e)
        if kind is Send:
            parts.append(f"send>{e.dst}")
        elif kind is Persist:
            parts.append(f"persist{len(e.records)}{'!' if e.checkpoint else ''}")
        elif kind is Apply:
            parts.append(f"apply{e.slot}")
        elif kind is SetTimer:
            parts.append(f"timer@{e.at_us}")
        elif kind is Reply:
            what = e.slot if e.slot is not None else e.error
            parts.append(f"reply{e.client_id}.{e.request_id}:{what}")
        elif kind is ServeRead:
            parts.append(f"read{e.client_id}.{e.request_id}{'s' if e.strong else 'e'}")
        elif kind is InstallSnapshot:
            parts.append(f"snapshot{e.slot}")
        else:
            parts.append(repr(e))
    return " ".join(parts)


# -- compact records ------------------------------------------------------------------------

Encoder = Callable[[Any], Any]

# The hashed form of `summarize`: one small tuple per effect (``repr`` if unknown).
_EFFECT_ENCODERS: dict[type, Encoder] = {
    Send: lambda e: ("send", e.dst),
    Persist: lambda e: ("persist", len(e.records), e.checkpoint),
    Apply: lambda e: ("apply", e.slot),
    SetTimer: lambda e: ("timer", e.at_us),
    Reply: lambda e: ("reply", e.client_id, e.request_id, e.slot, e.error),
    ServeRead: lambda e: ("read", e.client_id, e.request_id, e.strong),
    InstallSnapshot: lambda e: ("snapshot", e.slot),
}


def _attrs_encoder(cls: type) -> Encoder:
    """``obj -> (class name, field values...)`` for an attrs class; ``repr`` for others.

    Field values stay as they are: ints, bytes and tuples hash by their C ``repr``, nested
    messages and ballots by their own deterministic ``repr``.
    """
    if not attrs.has(cls):
        return repr
    tag = cls.__qualname__
    names = [f.name for f in attrs.fields(cls)]
    if not names:
        only = (tag,)
        return lambda obj: only
    getter = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda obj: (tag, getter(obj))
    return lambda obj: (tag, *getter(obj))


_EVENT_ENCODERS: dict[type, Encoder] = {}


def _encoder(cls: type) -> Encoder:
    """The (cached) encoder of events or messages of type ``cls``."""
    enc = _EVENT_ENCODERS.get(cls)
    if enc is None:
        enc = _EVENT_ENCODERS[cls] = _receive_encoder if cls is Receive else _attrs_encoder(cls)
    return enc


def encode_event(event: Any) -> Any:
    """Return the hashed form of ``event`` (a `Receive`'s message flattened likewise)."""
    return _encoder(type(event))(event)


def _receive_encoder(event: Any) -> Any:
    msg = event.msg
    return ("Receive", event.src, _encoder(type(msg))(msg))


# -- the records' text, rendered directly ----------------------------------------------------

Renderer = Callable[[Any], str]

# ``repr`` of each effect's `_EFFECT_ENCODERS` tuple.
_EFFECT_TEXT: dict[type, Renderer] = {
    Send: lambda e: f"('send', {e.dst!r})",
    Persist: lambda e: f"('persist', {len(e.records)!r}, {e.checkpoint!r})",
    Apply: lambda e: f"('apply', {e.slot!r})",
    SetTimer: lambda e: f"('timer', {e.at_us!r})",
    Reply: lambda e: f"('reply', {e.client_id!r}, {e.request_id!r}, {e.slot!r}, {e.error!r})",
    ServeRead: lambda e: f"('read', {e.client_id!r}, {e.request_id!r}, {e.strong!r})",
    InstallSnapshot: lambda e: f"('snapshot', {e.slot!r})",
}


def _unknown_text(obj: Any) -> str:
    """An object without an encoder is recorded as its ``repr``, a string."""
    return repr(repr(obj))


def _attrs_renderer(cls: type) -> Renderer:
    """``obj -> repr(_attrs_encoder(cls)(obj))``, formatted in one step."""
    if not attrs.has(cls):
        return _unknown_text
    tag = cls.__qualname__
    names = [f.name for f in attrs.fields(cls)]
    if not names:
        text = repr((tag,))
        return lambda obj: text
    template = f"({tag!r}, {', '.join(['%r'] * len(names))})"
    getter = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda obj: template % (getter(obj),)
    return lambda obj: template % getter(obj)


_EVENT_TEXT: dict[type, Renderer] = {}


def _renderer(cls: type) -> Renderer:
    """The (cached) renderer of events or messages of type ``cls``."""
    render = _EVENT_TEXT.get(cls)
    if render is None:
        render = _EVENT_TEXT[cls] = _receive_text if cls is Receive else _attrs_renderer(cls)
    return render


def _receive_text(event: Any) -> str:
    msg = event.msg
    return f"('Receive', {event.src!r}, {_renderer(type(msg))(msg)})"


def _render_event(event: Any) -> str:
    """``repr(encode_event(event))``."""
    return _renderer(type(event))(event)


_SEND_TEXT: dict[int, str] = {}  # dst (an int node id) -> the text of a Send to it


def _render_effects(effects: Sequence[Any]) -> str:
    """``repr`` of the tuple of the effects' `_EFFECT_ENCODERS` records.

    The three commonest kinds are formatted here, as their `_EFFECT_TEXT` entries do (a test
    holds the two to the same text); the rest through the table.
    """
    sends = _SEND_TEXT
    parts: list[str] = []
    append = parts.append
    for e in effects:
        kind = type(e)
        if kind is Send:
            text = sends.get(e.dst)
            if text is None:
                text = sends[e.dst] = _EFFECT_TEXT[Send](e)
            append(text)
        elif kind is SetTimer:
            append(f"('timer', {e.at_us!r})")
        elif kind is Persist:
            append(f"('persist', {len(e.records)!r}, {e.checkpoint!r})")
        else:
            append(_EFFECT_TEXT.get(kind, _unknown_text)(e))
    if len(parts) == 1:
        return f"({parts[0]},)"
    return f"({', '.join(parts)})"


class Trace:
    """Accumulates the fingerprint; keeps the lines themselves only if asked.

    Args:
        keep: keep the lines (`lines`) as well as hashing them.
        until: keep only lines of steps <= until (None: all); hashing covers every step.
    """

    def __init__(self, *, keep: bool = True, until: int | None = None) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self._pending: list[str] = []  # the records' repr, not yet hashed
        self.keep = keep
        self.until = until
        self.lines: list[str] = []
        self.steps = 0
        # Lines are built for steps <= _keep_until only (-1: none).
        self._keep_until = -1 if not keep else (1 << 62 if until is None else until)

    def add(self, line: str) -> int:
        """Append one free-text line (numbered by the trace); returns its step number."""
        self.steps = step = self.steps + 1
        self._record(f"({step!r}, {line!r})")
        if step <= self._keep_until:
            self.lines.append(f"{step} {line}")
        return step

    def step(self, true_us: int, node: int, event: Any, effects: Sequence[Any]) -> int:
        """Append one replica step: ``event`` at ``node`` at ``true_us`` produced ``effects``.

        Returns its step number. Hashes the compact record; builds the line only if kept.
        """
        self.steps = step = self.steps + 1
        if type(event) is Receive:  # the common case, inlined (same text as _render_event)
            msg = event.msg
            render = _EVENT_TEXT.get(type(msg)) or _renderer(type(msg))
            text = f"('Receive', {event.src!r}, {render(msg)})"
        else:
            text = (_EVENT_TEXT.get(type(event)) or _renderer(type(event)))(event)
        summary = _render_effects(effects) if effects else "()"
        pending = self._pending
        pending.append(f"({step!r}, {true_us!r}, {node!r}, {text}, {summary})")
        if len(pending) >= _BATCH:
            self._flush()
        if step <= self._keep_until:
            self.lines.append(f"{step} {true_us} n{node} {event!r} -> {summarize(effects)}")
        return step

    def _record(self, text: str) -> None:
        self._pending.append(text)
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        pending = self._pending
        if pending:
            pending.append("")  # every record ends with a newline
            self._hash.update("\n".join(pending).encode())
            pending.clear()

    def fingerprint(self) -> str:
        """Hex digest of every record so far."""
        self._flush()
        return self._hash.hexdigest()
