"""Tests for harness.checks.history: events, JSONL/EDN reading, pairing, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks.edn import read_edn
from harness.checks.history import (
    HistoryError,
    HistoryEvent,
    HistoryRecorder,
    pair_operations,
)
from harness.checks.history_files import read_history, write_history

EDN = """\
{:process 0, :type :invoke, :f :read, :value nil}
{:process 1, :type :invoke, :f :write, :value 4}
{:process 0, :type :ok, :f :read, :value nil}
{:process :nemesis, :type :info, :f :start, :value nil}
{:process 1, :type :info, :f :write, :value 4, :error :timed-out}
{:process 2, :type :invoke, :f :cas, :value [3 0]}
{:process 2, :type :fail, :f :cas, :value [3 0]}
"""


def _events() -> list[HistoryEvent]:
    return [
        HistoryEvent(process=0, type="invoke", f="read", value=None, time=1),
        HistoryEvent(process=1, type="invoke", f="write", value=4, time=2),
        HistoryEvent(process=0, type="ok", f="read", value=None, time=3),
        HistoryEvent(process=1, type="info", f="write", value=4, time=5, error="timed-out"),
        HistoryEvent(process=2, type="invoke", f="cas", value=[3, 0], time=6),
        HistoryEvent(process=2, type="fail", f="cas", value=[3, 0], time=7),
    ]


def test_edn_and_jsonl_parse_to_same_events(tmp_path: Path) -> None:
    edn = tmp_path / "h.edn"
    edn.write_text(EDN)
    jsonl = tmp_path / "h.jsonl"
    write_history(jsonl, _events())
    from_edn = read_history(edn)
    from_json = read_history(jsonl)
    # EDN has no :time: line order is used, so compare all fields but time.
    strip = [(e.process, e.type, e.f, e.key, e.value, e.error) for e in from_edn]
    assert strip == [(e.process, e.type, e.f, e.key, e.value, e.error) for e in from_json]
    assert from_json == _events()
    assert [e.time for e in from_edn] == [1, 2, 3, 5, 6, 7]  # line numbers; nemesis skipped


def test_edn_kv_with_key_and_time_equals_json(tmp_path: Path) -> None:
    edn = tmp_path / "kv.edn"
    edn.write_text(
        '{:process 0 :type :invoke :f :append :key "0" :value "x" :time 10}\n'
        '{:process 0 :type :ok :f :append :key "0" :value "x" :time 20}\n'
    )
    rec = HistoryRecorder()
    rec.invoke(0, "append", "0", "x", time=10)
    rec.complete(0, "ok", time=20)
    assert read_history(edn) == rec.events


def test_pairing_values_and_info() -> None:
    ops = pair_operations(_events())
    assert [(o.f, o.type, o.value) for o in ops] == [
        ("read", "ok", None),
        ("write", "info", 4),
        ("cas", "fail", (3, 0)),
    ]
    dangling = pair_operations(_events()[:2])
    assert dangling[1].type == "info" and dangling[1].complete_index is None


def test_read_value_comes_from_completion() -> None:
    events = [
        HistoryEvent(process=0, type="invoke", f="get", key="a", value=None, time=1),
        HistoryEvent(process=0, type="ok", f="get", key="a", value="v", time=2),
    ]
    (op,) = pair_operations(events)
    assert (op.value, op.invoke_index, op.complete_index) == ("v", 0, 1)


def test_json_roundtrip() -> None:
    for event in _events():
        assert HistoryEvent.from_json(event.to_json()) == event
    assert _events()[4].to_json()["value"] == [3, 0]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ('{"process":0,"type":"invoke","f":"read","value":null,"time":1}\n{bad\n', 2, ""),
        ('{"process":0,"type":"begin","f":"read","value":null,"time":1}\n', 1, "unknown type"),
        ('{"process":0,"type":"invoke","f":"delete","value":null,"time":1}\n', 1, "unknown f"),
        ('{"process":0,"type":"ok","f":"read","value":1,"time":1}\n', 1, "no open invoke"),
        (
            '{"process":0,"type":"invoke","f":"read","value":null,"time":1}\n\n'
            '{"process":0,"type":"invoke","f":"read","value":null,"time":2}\n',
            3,
            "already has an open",
        ),
        ('{:process 0 :type :invoke :f :read :value [1 2}\n', 1, "malformed EDN"),
        ('{:process 0 :type :invoke :f :cas :value 3}\n', 1, "cas value"),
        ('{:type :invoke :f :read}\n', 1, "missing field 'process'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(HistoryError) as info:
        read_history(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert needle in message
    assert "\n" not in message


def test_recorder_refuses_misuse() -> None:
    rec = HistoryRecorder()
    rec.invoke(3, "write", None, 1, time=0)
    with pytest.raises(HistoryError):
        rec.invoke(3, "write", None, 2, time=1)
    assert rec.open_processes() == [3]
    rec.complete(3, "ok", time=2)
    with pytest.raises(HistoryError):
        rec.complete(3, "ok", time=3)
    assert rec.events[-1].value == 1


def test_edn_atoms() -> None:
    assert read_edn('{:a nil :b true :c -7 :d "q\\"x" :e [1 (2)] :g #{3}}') == {
        "a": None, "b": True, "c": -7, "d": 'q"x', "e": (1, (2,)), "g": frozenset({3}),
    }


def test_format_detected_from_first_line(tmp_path: Path) -> None:
    spaced = tmp_path / "spaced.jsonl"
    spaced.write_text('{ "process": 0, "type": "invoke", "f": "read", "value": null }\n'
                      '{ "process": 0, "type": "ok", "f": "read", "value": 2 }\n')
    assert [e.value for e in read_history(spaced)] == [None, 2]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"process": 0, "type": "invoke", "f": "read", "value": null}\n'
                     "{:process 0, :type :ok, :f :read, :value 2}\n")
    with pytest.raises(HistoryError, match=r"mixed\.jsonl:2: "):
        read_history(mixed)


def test_integer_keys_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "int-keys.edn"
    path.write_text('{:process 0 :type :invoke :f :put :key 7 :value "x"}\n'
                    '{:process 0 :type :ok :f :put :key 7 :value "x"}\n')
    assert [e.key for e in read_history(path)] == ["7", "7"]
