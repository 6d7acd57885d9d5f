"""``paxlab check-history`` on the corpus of tests/data/histories (one history per format
and convention of the Jepsen ecosystem, each with the options its convention needs), and
its one-line refusals: syntax errors, deep nesting, empty histories, bad options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "data" / "histories"
CASES: list[dict[str, Any]] = json.loads((CORPUS / "cases.json").read_text())["cases"]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    assert lines[0].startswith("paxlab check-history: error: ")
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['file']} {' '.join(c['args'])}"
                                              for c in CASES])
def test_corpus_case(case: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-history", str(CORPUS / case["file"]), *case["args"]])
    assert code == case["exit"], capsys.readouterr()
    if code == 2:
        _one_error_line(capsys)
    else:
        out = capsys.readouterr().out.strip().splitlines()
        assert len(out) == 1
        assert out[0].startswith("linearizable: " if code == 0 else "violation: ")


def test_corpus_covers_every_model_and_both_verdicts() -> None:
    seen = {(c["args"][c["args"].index("--model") + 1], c["exit"]) for c in CASES}
    for model in ("register", "kv", "mutex", "set", "multi-register"):
        assert (model, 0) in seen and (model, 1) in seen, model


def test_independent_refusal_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "jepsen" / "independent-good.edn"
    assert main(["check-history", str(path), "--model", "register"]) == 2
    line = _one_error_line(capsys)
    assert f"{path}:5: looks like a Jepsen independent history" in line
    assert "--independent" in line


def test_empty_history_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in [("empty.jsonl", ""), ("vector.edn", "; nothing yet\n[]\n")]:
        path = tmp_path / name
        path.write_text(text)
        assert main(["check-history", str(path), "--model", "kv"]) == 2
        assert "no client operations" in _one_error_line(capsys)


def test_multiline_syntax_error_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.edn"
    path.write_text("[{:process 0, :type :invoke, :f :read, :value nil}\n"
                    " {:process 0, :type :ok,\n"
                    "  :f :read, :value 3]\n")
    assert main(["check-history", str(path), "--model", "register"]) == 2
    assert f"{path}:3: malformed EDN: unexpected ']' at column=21" in _one_error_line(capsys)


@pytest.mark.parametrize("brackets", ["[" * 100_000, "{:value " + "[" * 3000 + "]" * 3000 + "}",
                                      '{"value": ' + "[" * 100_000])
def test_deep_nesting_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  brackets: str) -> None:
    path = tmp_path / "deep.edn"
    path.write_text(brackets + "\n")
    assert main(["check-history", str(path), "--model", "register"]) == 2
    assert f"{path}:1: " in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--model", "mutex", "--initial", "true"], "model mutex does not take initial"),
     (["--model", "register", "--initial", "{:x"], "not a JSON or EDN value"),
     (["--model", "multi-register", "--initial", "3"], "must be a map"),
     (["--model", "multi-register", "--independent"], "does not apply to model multi-register"),
     (["--model", "set"], "f not accepted by model set")],
)
def test_bad_options_are_one_line(args: list[str], needle: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "knossos" / "cas-register-bad.edn"
    assert main(["check-history", str(path), *args]) == 2
    assert needle in _one_error_line(capsys)


def test_set_read_that_is_not_a_set_is_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "set.edn"
    path.write_text("{:process 0 :type :invoke :f :read :value nil}\n"
                    "{:process 0 :type :ok :f :read :value 3}\n")
    assert main(["check-history", str(path), "--model", "set"]) == 2
    assert f"{path}:1: a set read returns a set" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("file", "args", "code"),
    [("jepsen/mutex-bad.edn", ["--model", "mutex"], 1),
     ("jepsen/set-bad.edn", ["--model", "set"], 1),
     ("jepsen/set-good.edn", ["--model", "set"], 0),
     ("knossos/multi-register-bad.edn",
      ["--model", "multi-register", "--initial", "{:x 0 :y 0}", "--nil-read", "unknown"], 1),
     ("jepsen/independent-bad.edn", ["--model", "register", "--independent"], 1)],
)
def test_html_report_for_new_models(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    file: str, args: list[str], code: int) -> None:
    out = tmp_path / "report.html"
    assert main(["check-history", str(CORPUS / file), *args, "--html", str(out)]) == code
    verdict = capsys.readouterr().out.strip()
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert verdict.split(":")[0] in page
    if code == 1:
        assert "Operation that cannot be placed" in page


def test_json_output_of_set_values(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "jepsen" / "set-bad.edn"
    assert main(["check-history", str(path), "--model", "set", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["failed_op"]["value"] == [2]


def test_not_utf8_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "binary.edn"
    path.write_bytes(b"{:process 0 :type :invoke :f :read :value \xff}\n")
    assert main(["check-history", str(path), "--model", "register"]) == 2
    assert "not UTF-8 text" in _one_error_line(capsys)


def test_independent_cas_that_is_not_a_pair_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "independent.edn"
    path.write_text("{:process 0 :type :invoke :f :cas :value [7 5]}\n"
                    "{:process 0 :type :ok :f :cas :value [7 5]}\n")
    assert main(["check-history", str(path), "--model", "register", "--independent"]) == 2
    assert f"{path}:1: cas value must be [expected, new]" in _one_error_line(capsys)
