"""A small EDN reader, enough for Jepsen histories: whole files, positions, frozen values.

Jepsen and Knossos store histories as EDN: one map per line (``history.edn``), or the whole
file as one vector or list with ``;`` comments and maps spread over several lines (Knossos's
``data/`` folder). `read_edn_events` reads all of these the same way.

Read: maps, vectors, lists, sets, strings, characters, keywords (returned without the colon),
integers (``1N``), floats (``1.5M``), ``nil``/``true``/``false``, symbols (as strings),
``;`` comments, ``#_`` discards, and tagged literals such as ``#jepsen.history.Op{...}`` (the
tag is dropped, the tagged form kept). Values come back frozen so they can be model states:
vectors and lists as tuples, maps as `FrozenMap`, sets as frozensets.

The reader is iterative (no Python recursion) and refuses nesting deeper than `MAX_DEPTH`,
so a hostile file gives one `EdnError` naming its line and column, never a RecursionError.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, NoReturn

MAX_DEPTH = 100
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "backspace": "\b",
          "formfeed": "\f"}
_CLOSERS = {"{": "}", "[": "]", "(": ")", "#{": "}"}


class EdnError(ValueError):
    """Malformed EDN; ``line`` and ``column`` (1-based) say where, the message says what."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"malformed EDN: {message} at column={column}")
        self.line = line
        self.column = column


class FrozenMap(dict[Any, Any]):
    """A read-only dict that hashes by content, so an EDN map can be a value or a state."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenMap is read-only")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class _Frame:
    """An open collection: its opener, where it started, the items so far, pending #_."""

    __slots__ = ("discard", "items", "opener", "plain", "start", "starts", "tagged")

    def __init__(self, opener: str, start: int, *, track: bool) -> None:
        self.opener = opener
        self.start = start
        self.items: list[Any] = []
        # where each item starts: kept only where lines are reported (depth 0 and 1)
        self.starts: list[int] | None = [] if track else None
        self.discard = 0
        self.tagged = False
        self.plain = not track  # no discard, no tag pending, starts not kept: fast path


# One token per match; whitespace, commas and comments are skipped by the same regex. A
# position no alternative matches is a syntax error (an unterminated string, a lone '#').
_TOKEN = re.compile(r"""
    (?:[\s,]|;[^\n]*)*+
    (?:
      (?P<open>\#\{|[\[({])
    | (?P<close>[\])}])
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<discard>\#_)
    | (?P<tag>\#[^\s,;"{}\[\]()]+)
    | (?P<char>\\(?:newline|space|tab|return|backspace|formfeed|u[0-9a-fA-F]{4}|.))
    | (?P<atom>[^\s,;"{}\[\]()\\\#][^\s,;"{}\[\]()]*)
    | (?P<end>\Z)
    )""", re.VERBOSE | re.DOTALL)
_SPACE = re.compile(r"(?:[\s,]|;[^\n]*)*+")
_STRING_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code[1:], 16)) if len(code) == 5 else _ESCAPES.get(code, code)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.children: dict[int, list[int]] = {}

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_left(self.newlines, pos)
        column = pos + 1 if line == 0 else pos - self.newlines[line - 1]
        return line + 1, column

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def fail(self, message: str, pos: int) -> NoReturn:
        line, column = self.where(pos)
        raise EdnError(message, line, column)

    def _bad_token(self, pos: int) -> NoReturn:
        pos = _skip(self.text, pos)
        ch = self.text[pos]
        if ch == '"':
            self.fail("unterminated string", pos)
        if ch == "#":
            self.fail("'#' with no tag", pos)
        self.fail(f"unexpected {ch!r}", pos)

    def read(self) -> tuple[list[Any], list[int]]:
        """Return the top-level forms and the 1-based line each starts on (the lines of the
        children of a top-level vector or list are left in ``children`` by form index)."""
        text = self.text
        top = _Frame("", 0, track=True)
        stack = [top]
        atoms: dict[str, Any] = {}
        pos = 0
        match = _TOKEN.match
        while True:
            m = match(text, pos)
            if m is None:
                self._bad_token(pos)
            kind = m.lastgroup or "end"
            start, pos = m.start(kind), m.end()
            frame = stack[-1]
            if kind == "atom":
                token = m.group(kind)
                value = atoms.get(token, atoms)
                if value is atoms:
                    value = atoms[token] = _atom(token)
                if frame.plain:
                    frame.items.append(value)
                else:
                    self._emit(frame, value, start)
            elif kind == "open":
                if len(stack) > MAX_DEPTH:
                    self.fail(f"nesting deeper than {MAX_DEPTH}", start)
                stack.append(_Frame(m.group(kind), start, track=len(stack) < 3))
            elif kind == "close":
                ch = m.group(kind)
                if frame is top or _CLOSERS[frame.opener] != ch:
                    self.fail(f"unexpected {ch!r}", start)
                if frame.discard or frame.tagged:
                    self.fail(f"{'#_' if frame.discard else 'tag'} with no form before {ch!r}",
                              start)
                stack.pop()
                value = self._build(frame)
                if stack[-1] is top and frame.opener in "[(" and not top.discard:
                    assert frame.starts is not None
                    self.children[len(top.items)] = [self.line(p) for p in frame.starts]
                self._emit(stack[-1], value, frame.start)
            elif kind == "str":
                body = m.group(kind)[1:-1]
                self._emit(frame, _STRING_ESCAPE.sub(_unescape, body) if "\\" in body else body,
                           start)
            elif kind == "discard":
                frame.discard += 1
                frame.plain = False
            elif kind == "tag":
                frame.tagged = True  # the tag is dropped; the next form is the value
                frame.plain = False
            elif kind == "char":
                name = m.group(kind)[1:]
                value = chr(int(name[1:], 16)) if len(name) == 5 and name[0] == "u" else \
                    _CHARS.get(name, name)
                self._emit(frame, value, start)
            else:  # end of text
                break
        if len(stack) > 1:
            frame = stack[-1]
            self.fail(f"missing {_CLOSERS[frame.opener]!r} to close {frame.opener!r}",
                      frame.start)
        if top.discard or top.tagged:
            self.fail(f"{'#_' if top.discard else 'tag'} with no form", len(text))
        return top.items, [self.line(p) for p in top.starts or ()]

    def _emit(self, frame: _Frame, value: Any, start: int) -> None:
        frame.tagged = False
        if frame.discard:
            frame.discard -= 1
        else:
            frame.items.append(value)
            if frame.starts is not None:
                frame.starts.append(start)
        frame.plain = frame.starts is None and not frame.discard

    def _build(self, frame: _Frame) -> Any:
        items = frame.items
        if frame.opener == "#{":
            return frozenset(items)
        if frame.opener != "{":
            return tuple(items)
        if len(items) % 2:
            self.fail("map with an odd number of forms", frame.start)
        return FrozenMap(zip(items[0::2], items[1::2], strict=True))


def _skip(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not whitespace, comma or comment."""
    m = _SPACE.match(text, pos)
    return pos if m is None else m.end()


def _atom(token: str) -> Any:
    if token == "nil":
        return None
    if token in ("true", "false"):
        return token == "true"
    if token.startswith(":"):
        return token[1:]
    digits = token[:-1] if token[-1] in "NM" else token
    try:
        return int(digits)
    except ValueError:
        pass
    try:
        return float(digits)
    except ValueError:
        return token


def read_edn(text: str) -> Any:
    """Parse exactly one EDN form filling ``text``; raises EdnError (with line and column)."""
    forms, _ = _Reader(text).read()
    if len(forms) != 1:
        raise EdnError(f"expected one form, found {len(forms)}", 1, 1)
    return forms[0]


def read_edn_forms(text: str) -> list[Any]:
    """Parse every top-level EDN form of ``text``, in order; raises EdnError."""
    forms, _ = _Reader(text).read()
    return forms


def read_edn_events(text: str) -> list[tuple[Any, int]]:
    """Return ``(form, line)`` for each event of an EDN history text.

    Top-level vectors and lists are spliced into their elements (Knossos's whole-file
    vectors), anything else is one event (Jepsen's one map per line). Raises EdnError.
    """
    reader = _Reader(text)
    forms, lines = reader.read()
    out: list[tuple[Any, int]] = []
    for index, (form, line) in enumerate(zip(forms, lines, strict=True)):
        if index in reader.children:
            out.extend(zip(form, reader.children[index], strict=True))
        else:
            out.append((form, line))
    return out
