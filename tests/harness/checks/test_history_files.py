"""Tests for reading history files: format detection, non-client events, hostile values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks.history import HistoryError, HistoryEvent, show_value
from harness.checks.history_files import (
    parse_history_text,
    parse_value,
    read_history,
    read_history_file,
    write_history,
)
from harness.checks.linearizability import check_linearizability


def test_knossos_whole_file_vector_is_read(tmp_path: Path) -> None:
    path = tmp_path / "knossos.edn"
    path.write_text("; Knossos layout\n"
                    "[{:process 0, :type :invoke, :f :write, :value 1}\n"
                    " {:process 0,\n  :type :ok,\n  :f :write,\n  :value 1}]\n")
    events = read_history(path)
    assert [(e.type, e.value, e.line) for e in events] == [("invoke", 1, 2), ("ok", 1, 3)]


def test_nemesis_and_other_named_processes_are_skipped() -> None:
    text = ('{:process :nemesis, :type :info, :f :start, :value nil}\n'
            '{:process 0, :type :invoke, :f :read, :value nil}\n'
            '{:process :checker, :type :info, :f :log, :value "x"}\n'
            '{:process 0, :type :ok, :f :read, :value nil}\n')
    parsed = parse_history_text(text)
    assert parsed.skipped == 2 and [e.line for e in parsed.events] == [2, 4]


def test_map_and_set_values_are_hashable_and_checkable(tmp_path: Path) -> None:
    path = tmp_path / "maps.jsonl"
    path.write_text(
        '{"process":0,"type":"invoke","f":"write","value":{"a":[1,{"b":2}]}}\n'
        '{"process":0,"type":"ok","f":"write","value":{"a":[1,{"b":2}]}}\n'
        '{"process":1,"type":"invoke","f":"read","value":null}\n'
        '{"process":1,"type":"ok","f":"read","value":{"a":[1,{"b":2}]}}\n')
    events = read_history(path)
    assert len({hash(e) for e in events}) == 4
    assert check_linearizability(events, "register").verdict == "linearizable"
    out = tmp_path / "again.jsonl"
    write_history(out, events)
    assert read_history(out) == events


def test_deeply_nested_json_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"process":0,"type":"invoke","f":"read","value":null}\n'
                    '{"process":0,"type":"ok","f":"read","value":' + "[" * 50_000
                    + "]" * 50_000 + "}\n")
    with pytest.raises(HistoryError) as info:
        read_history(path)
    assert str(info.value).startswith(f"{path}:2: ") and "\n" not in str(info.value)


def test_deeply_nested_edn_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.edn"
    path.write_text("{:process 0, :type :invoke, :f :read, :value nil}\n"
                    "{:process 0, :type :ok, :f :read, :value " + "[" * 5000 + "}\n")
    with pytest.raises(HistoryError, match=rf"^{path}:2: malformed EDN: nesting deeper"):
        read_history(path)


def test_an_event_must_be_a_map() -> None:
    with pytest.raises(HistoryError, match=r"^h:3: an event must be a map"):
        parse_history_text("[{:process 0 :type :invoke :f :read}\n\n [1 2]]", source="h")


def test_empty_and_comment_only_texts_have_no_events() -> None:
    assert parse_history_text("").events == []
    assert parse_history_text("; nothing\n[]\n").events == []


def test_txn_value_is_validated() -> None:
    with pytest.raises(HistoryError, match=r"^h:1: txn value must be"):
        parse_history_text("{:process 0 :type :invoke :f :txn :value [[:incr :x 1]]}",
                           source="h")


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ('""', ""), ("nil", None), ("null", None), ("{:x 0 :y 0}", {"x": 0, "y": 0}),
     ('{"x": 0}', {"x": 0}), ("[1, 2]", (1, 2)), ("#{1}", frozenset({1}))],
)
def test_parse_value_takes_json_or_edn(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_parse_value_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a JSON or EDN value"):
        parse_value("{:x")


def test_show_value_is_deterministic() -> None:
    assert show_value(frozenset({"b", "a", "c"})) == "#{'a' 'b' 'c'}"
    assert show_value((1, None, {"k": (2,)})) == "[1 nil {'k' [2]}]"
    event = HistoryEvent(process=0, type="ok", f="read", value=frozenset({"y", "x"}))
    assert json.dumps(event.to_json()["value"]) == '["x", "y"]'


def test_read_history_file_reports_the_format(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("{:process 0 :type :invoke :f :read}\n")
    assert read_history_file(path).format == "edn"


OLD_LOG = ("INFO  jepsen.core - Running test\n"
           "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
           "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
           "INFO  jepsen.util - 0   :info   :cas    :timed-out\n"
           "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
           "INFO  jepsen.util - 1\t:ok\t:read\tnil\n")
NEW_LOG = ("2020-05-14 11:16:20,148{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:invoke\t"
           ":write\t1\n"
           "2020-05-14 11:16:20,150{GMT}\tINFO\t[jepsen worker 0] jepsen.util: 0\t:ok\t:write\t1\n")


def test_jepsen_console_logs_are_read() -> None:
    old = parse_history_text(OLD_LOG)
    assert old.format == "jepsen-log" and old.skipped == 2
    assert [(e.process, e.type, e.f, e.line) for e in old.events] == [
        (0, "invoke", "cas", 2), (0, "info", "cas", 4), (1, "invoke", "read", 5),
        (1, "ok", "read", 6)]
    assert old.events[0].value == (1, 2) and old.events[1].value == "timed-out"
    new = parse_history_text(NEW_LOG)
    assert new.format == "jepsen-log" and [e.value for e in new.events] == [1, 1]


def test_jepsen_console_log_error_names_the_line() -> None:
    with pytest.raises(HistoryError, match=r"^log:2: malformed EDN: missing"):
        parse_history_text("INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
                           "INFO  jepsen.util - 0\t:ok\t:write\t[1\n", source="log")
