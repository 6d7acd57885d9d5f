"""Tests for the EDN reader: every layout Jepsen and Knossos store histories in."""

from __future__ import annotations

import pytest

from harness.checks.edn import MAX_DEPTH, EdnError, FrozenMap, read_edn, read_edn_events

KNOSSOS = """\
; a comment before the history
[{:process 0, :type :invoke, :f :read, :value nil}
 ; a comment between ops
 {:process 0,
  :type :ok,
  :f :read,
  :value 3}
 {:process 1 :type :invoke :f :cas :value [1 2]}]
"""


def test_whole_file_vector_with_comments_and_multiline_maps() -> None:
    events = read_edn_events(KNOSSOS)
    assert [line for _, line in events] == [2, 4, 8]
    assert events[1][0] == {"process": 0, "type": "ok", "f": "read", "value": 3}
    assert events[2][0]["value"] == (1, 2)


def test_whole_file_list_and_one_map_per_line() -> None:
    listed = read_edn_events("({:a 1}\n {:a 2})\n")
    assert [(dict(v), line) for v, line in listed] == [({"a": 1}, 1), ({"a": 2}, 2)]
    lines = read_edn_events("{:a 1}\n\n{:a 2}\n")
    assert [line for _, line in lines] == [1, 3]


def test_tagged_literals_sets_discard_and_characters() -> None:
    text = ('#jepsen.history.Op{:index 0, :value #{1 2}, :x #_ :dropped :kept, '
            ':c \\a, :n \\newline, :b 7N, :d 1.5M, :s "\\u0041"}')
    value = read_edn(text)
    assert value == {"index": 0, "value": frozenset({1, 2}), "x": "kept", "c": "a",
                     "n": "\n", "b": 7, "d": 1.5, "s": "A"}


def test_values_are_frozen_and_hashable() -> None:
    value = read_edn('{:m {:a [1 {:b #{2}}]}}')
    assert isinstance(value, FrozenMap)
    assert hash(value) == hash(read_edn('{:m {:a [1 {:b #{2}}]}}'))
    with pytest.raises(TypeError):
        value["m"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("[{:a 1}\n {:b 2\n", 2, 2, "missing '}'"),
        ("[{:a 1}\n {:b 2}}]\n", 2, 8, "unexpected '}'"),
        ("{:a 1}\n{:b (1 2]}\n", 2, 9, "unexpected ']'"),
        ('{:a 1}\n\n  {:b "open\n', 3, 7, "unterminated string"),
        ("{:a 1 :b}\n", 1, 1, "odd number"),
        ("{:a #_}\n", 1, 7, "#_ with no form"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, line: int, column: int,
                                            needle: str) -> None:
    with pytest.raises(EdnError) as info:
        read_edn_events(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert needle in str(info.value) and f"column={column}" in str(info.value)


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    deep = "\n[" + "[" * 100_000 + "]" * 100_000 + "]"
    with pytest.raises(EdnError) as info:
        read_edn_events(deep)
    assert info.value.line == 2 and f"deeper than {MAX_DEPTH}" in str(info.value)
    value, depth = read_edn("[" * MAX_DEPTH + "]" * MAX_DEPTH), 1
    while value:
        value, depth = value[0], depth + 1
    assert depth == MAX_DEPTH  # exactly the limit still reads
