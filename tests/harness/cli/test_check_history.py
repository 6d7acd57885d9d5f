"""Tests for ``paxlab check-history``: exit codes 0/1/2/3, one-line errors, --json, --html."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from harness.checks.history import HistoryEvent
from harness.checks.history_files import write_history
from harness.checks.linearizability import check_linearizability
from harness.checks.synth import generate_history, inject_lost_write
from harness.cli import main

KV: dict[str, Any] = {"model": "kv", "ops": 200, "clients": 4, "keys": 3, "info_rate": 0.1}


def _write(tmp_path: Path, events: list[HistoryEvent], name: str = "h.jsonl") -> str:
    path = tmp_path / name
    write_history(path, events)
    return str(path)


def test_linearizable_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, generate_history(seed=1, **KV))
    assert main(["check-history", path, "--model", "kv"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("linearizable: 3 keys")


def test_violation_exits_1_and_names_key_op_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, inject_lost_write(generate_history(seed=1, **KV), seed=1))
    assert main(["check-history", path, "--model", "kv"]) == 1
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"violation: key='k\d' cannot place p\d+ get\('k\d'\) -> .* \[ok\] "
                        r"after a linearizable prefix of \d+ ops", line), line


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, inject_lost_write(generate_history(seed=2, **KV), seed=2))
    assert main(["check-history", path, "--model", "kv", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "violation"
    assert data["failed_op"]["f"] == "get"
    assert len(data["prefix"]) >= 0 and data["key"].startswith("k")


def test_budget_exhausted_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Many clients on one register over 3 values: thousands of configurations to explore.
    events = generate_history(model="register", ops=400, clients=20, info_rate=0.1,
                              value_domain=3, seed=4)
    assert check_linearizability(events, "register").states > 1000
    path = _write(tmp_path, events)
    assert main(["check-history", path, "--model", "register", "--max-states", "100"]) == 3
    assert capsys.readouterr().out.startswith("unknown: max_states=100")
    assert main(["check-history", path, "--model", "register", "--timeout", "1e-9"]) == 3
    assert capsys.readouterr().out.startswith("unknown: timeout")


def test_edn_register_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.edn"
    path.write_text(
        "{:process 0, :type :invoke, :f :write, :value 3}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        "{:process 0, :type :ok, :f :write, :value 3}\n"
        "{:process 1, :type :ok, :f :read, :value 3}\n"
        "{:process 2, :type :invoke, :f :cas, :value [3 0]}\n"
        "{:process 2, :type :info, :f :cas, :value [3 0], :error :timed-out}\n"
        "{:process 1, :type :invoke, :f :read, :value nil}\n"
        "{:process 1, :type :ok, :f :read, :value 0}\n"
    )
    assert main(["check-history", str(path), "--model", "register"]) == 0
    path.write_text(path.read_text() + "{:process 1, :type :invoke, :f :read, :value nil}\n"
                    "{:process 1, :type :ok, :f :read, :value 3}\n")
    assert main(["check-history", str(path), "--model", "register"]) == 1


GOOD = '{"process":0,"type":"invoke","f":"get","key":"a","value":null,"time":1}\n'


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (GOOD + "not json\n", 2),
        (GOOD + '{"process":0,"type":"done","f":"get","key":"a","value":null,"time":2}\n', 2),
        ('{"process":0,"type":"invoke","f":"incr","key":"a","value":1,"time":1}\n', 1),
        ('{"process":0,"type":"ok","f":"get","key":"a","value":null,"time":1}\n', 1),
        (GOOD + "\n" + GOOD, 3),
        (GOOD + '{"process":0,"type":"ok","f":"put","key":"a","value":1,"time":2}\n', 2),
        ('{"process":0,"type":"invoke","f":"read","key":null,"value":null,"time":1}\n', 1),
        ('{"type":"invoke","f":"get","key":"a","value":null}\n', 1),
    ],
    ids=["malformed", "unknown-type", "unknown-f", "no-open-invoke", "double-invoke",
         "mismatched-completion", "wrong-model", "missing-process"],
)
def test_bad_input_exits_2_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    assert main(["check-history", str(path), "--model", "kv"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err and captured.out == ""
    assert f"{path}:{line}: " in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["check-history", str(missing), "--model", "kv"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "\n" not in err


def test_bad_usage_exits_2() -> None:
    for argv in (["check-history", "x", "--model", "queue"],
                 ["check-history", "x", "--model", "kv", "--timeout", "-1"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


def test_html_report_self_contained_and_escaped(tmp_path: Path) -> None:
    events = [
        HistoryEvent(process=0, type="invoke", f="put", key="<script>", value="x&y", time=0),
        HistoryEvent(process=0, type="ok", f="put", key="<script>", value="x&y", time=10),
        HistoryEvent(process=1, type="invoke", f="get", key="<script>", time=20),
        HistoryEvent(process=1, type="ok", f="get", key="<script>", value='"evil"', time=30),
        HistoryEvent(process=2, type="invoke", f="put", key="b", value="z", time=5),
        HistoryEvent(process=2, type="info", f="put", key="b", value="z", time=25),
        HistoryEvent(process=3, type="invoke", f="put", key="b", value="q", time=6),
        HistoryEvent(process=3, type="fail", f="put", key="b", value="q", time=7),
    ]
    path = _write(tmp_path, events)
    out = tmp_path / "report.html"
    assert main(["check-history", path, "--model", "kv", "--html", str(out)]) == 1
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "x&amp;y" in page and "&quot;evil&quot;" in page
    assert not re.search(r"<(link|script|img)\b|\bsrc=|url\(", page)
    assert page.count("<svg") == 2  # the failing key and the whole history
    for colour in ("#4caf50", "#e57373", "#ffb74d"):  # ok, fail, info bars all drawn
        assert f'fill="{colour}"' in page
    assert "cannot be placed" in page and 'stroke="#b71c1c"' in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ElementTree.fromstring(svg)  # well-formed XML, so every text was escaped
