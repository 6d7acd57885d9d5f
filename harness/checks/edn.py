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
from typing import Any, NoReturn

MAX_DEPTH = 100
_DELIMS = frozenset("{}[]()\"; \t\r\n,")
_SPACE = frozenset(" \t\r\n,")
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

    __slots__ = ("discard", "items", "opener", "start", "starts", "tagged")

    def __init__(self, opener: str, start: int) -> None:
        self.opener = opener
        self.start = start
        self.items: list[Any] = []
        self.starts: list[int] = []
        self.discard = 0
        self.tagged = False


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]
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

    def skip(self, pos: int) -> int:
        text, n = self.text, len(self.text)
        while pos < n:
            ch = text[pos]
            if ch in _SPACE:
                pos += 1
            elif ch == ";":
                end = text.find("\n", pos)
                pos = n if end < 0 else end + 1
            else:
                break
        return pos

    def read(self) -> tuple[list[Any], list[int]]:
        """Return the top-level forms and the 1-based line each starts on (the lines of the
        children of a top-level vector or list are left in ``children`` by form index)."""
        text, n = self.text, len(self.text)
        top = _Frame("", 0)
        stack = [top]
        pos = self.skip(0)
        while pos < n:
            frame = stack[-1]
            ch = text[pos]
            start = pos
            if ch in "{[(" or text.startswith("#{", pos):
                opener = "#{" if ch == "#" else ch
                if len(stack) > MAX_DEPTH:
                    self.fail(f"nesting deeper than {MAX_DEPTH}", pos)
                stack.append(_Frame(opener, pos))
                pos = self.skip(pos + len(opener))
                continue
            if ch in "}])":
                if frame is top or _CLOSERS[frame.opener] != ch:
                    self.fail(f"unexpected {ch!r}", pos)
                if frame.discard or frame.tagged:
                    self.fail(f"{'#_' if frame.discard else 'tag'} with no form before {ch!r}",
                              pos)
                stack.pop()
                value = self._build(frame, pos)
                pos = self.skip(pos + 1)
                if stack[-1] is top and frame.opener in "[(" and not top.discard:
                    self.children[len(top.items)] = [self.line(p) for p in frame.starts]
                self._emit(stack[-1], value, frame.start)
                continue
            if text.startswith("#_", pos):
                frame.discard += 1
                pos = self.skip(pos + 2)
                continue
            if ch == "#":
                end = pos + 1
                while end < n and text[end] not in _DELIMS:
                    end += 1
                if end == pos + 1:
                    self.fail("'#' with no tag", pos)
                frame.tagged = True  # the tag is dropped; the next form is the value
                pos = self.skip(end)
                continue
            value, pos = self._atom(pos)
            pos = self.skip(pos)
            self._emit(frame, value, start)
        if len(stack) > 1:
            frame = stack[-1]
            self.fail(f"missing {_CLOSERS[frame.opener]!r} to close {frame.opener!r}",
                      frame.start)
        if top.discard or top.tagged:
            self.fail(f"{'#_' if top.discard else 'tag'} with no form", n)
        return top.items, [self.line(p) for p in top.starts]

    def _emit(self, frame: _Frame, value: Any, start: int) -> None:
        frame.tagged = False
        if frame.discard:
            frame.discard -= 1
            return
        frame.items.append(value)
        frame.starts.append(start)

    def _build(self, frame: _Frame, end: int) -> Any:
        items = frame.items
        if frame.opener == "#{":
            return frozenset(items)
        if frame.opener != "{":
            return tuple(items)
        if len(items) % 2:
            self.fail("map with an odd number of forms", frame.start)
        return FrozenMap(zip(items[0::2], items[1::2], strict=True))

    def _atom(self, pos: int) -> tuple[Any, int]:
        text, n = self.text, len(self.text)
        ch = text[pos]
        if ch == '"':
            out: list[str] = []
            i = pos + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    esc = text[i + 1]
                    if esc == "u" and i + 6 <= n:
                        try:
                            out.append(chr(int(text[i + 2:i + 6], 16)))
                        except ValueError:
                            self.fail("bad \\u escape", i)
                        i += 6
                        continue
                    out.append(_ESCAPES.get(esc, esc))
                    i += 2
                else:
                    out.append(text[i])
                    i += 1
            if i >= n:
                self.fail("unterminated string", pos)
            return "".join(out), i + 1
        end = pos + 1 if ch == "\\" else pos  # a character literal: \a, \newline
        while end < n and text[end] not in _DELIMS:
            end += 1
        if ch == "\\":
            name = text[pos + 1:end]
            if not name:
                self.fail("empty character literal", pos)
            return _CHARS.get(name, name), end
        return _atom(text[pos:end]), end


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
