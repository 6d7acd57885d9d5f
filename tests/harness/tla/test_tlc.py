"""Registry-only checks of tla/: every module parses, every name a config uses is defined,
every recorded result matches the current spec and config. No Java needed."""

from __future__ import annotations

import contextlib
import importlib
import io
from pathlib import Path
from typing import Any

import pytest

from harness.tla import tlc as tlacheck
from harness.tla.tlc import ModelConfig

MODULES = sorted(tlacheck.TLA_DIR.glob("*.tla"))
CONFIGS = tlacheck.load_configs()


def _parse(text: str) -> object:
    """Parse with the ``tla`` package from PyPI (a dev dependency; imported by name because
    mypy would take the repository's tla/ folder for it). It prints diagnostics: swallowed."""
    tla: Any = importlib.import_module("tla")
    with contextlib.redirect_stdout(io.StringIO()):
        return tla.parse(text)


def test_there_are_pass_bug_and_witness_configs() -> None:
    expects = {c.name: c.expect for c in CONFIGS}
    assert any(e == "pass" for e in expects.values())
    bugs = {e for n, e in expects.items() if n.endswith("_bug")}
    assert {"S6", "S12", "LinearizableReads"} <= bugs
    for name, expect in expects.items():
        assert name.startswith("MC")
        assert name.endswith(("_bug", "_witness")) == (expect != "pass"), name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_parses(path: Path) -> None:
    assert _parse(path.read_text()) is not None
    assert tlacheck.structure_problems(path) == []


def test_parser_rejects_a_broken_module() -> None:
    text = (tlacheck.TLA_DIR / "Paxlab.tla").read_text()
    broken = text.replace("Max(a, b) ==", "Max(a, b ==", 1)
    assert broken != text
    with pytest.raises(ValueError):
        _parse(broken)


def test_structure_check_finds_faults(tmp_path: Path) -> None:
    good = "---- MODULE M ----\nEXTENDS Naturals\nA == <<1, (2)>>\n====\n"
    (tmp_path / "M.tla").write_text(good)
    assert tlacheck.structure_problems(tmp_path / "M.tla") == []
    for bad, word in [
        (good.replace("(2)>>", "(2)>> + (3"), "unclosed"),
        (good.replace("(2)", "(2"), "unbalanced"),
        (good.replace("<<1", "1"), "unbalanced"),
        (good.replace("====\n", ""), "footer"),
        (good.replace("MODULE M", "MODULE N"), "differs"),
    ]:
        (tmp_path / "M.tla").write_text(bad)
        problems = tlacheck.structure_problems(tmp_path / "M.tla")
        assert any(word in p for p in problems), (word, problems)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_config_names_are_defined(cfg: ModelConfig) -> None:
    used = tlacheck.cfg_names(cfg.path.read_text())
    for keyword in ("SPECIFICATION", "INVARIANT", "CONSTANT", "VIEW", "SYMMETRY"):
        assert used.get(keyword), f"{cfg.name} has no {keyword}"
    if cfg.expect != "pass":
        assert cfg.expect in used["INVARIANT"]
    assert tlacheck.undefined_cfg_names(cfg) == []


def test_undefined_cfg_name_is_reported(tmp_path: Path) -> None:
    (tmp_path / "M.tla").write_text(
        "---- MODULE M ----\nEXTENDS Naturals, TLC\nCONSTANT N\nVARIABLE x\n"
        "Init == x = 0\nNext == x' = x\n====\n"
    )
    cfg_path = tmp_path / "MCM.cfg"
    cfg_path.write_text(
        "\\* MODULE: M\n\\* EXPECT: pass\nCONSTANTS N = 3\nINIT Init\nNEXT Next\n"
        "INVARIANT TypeOK\nSYMMETRY Permutations\n"
    )
    cfg = tlacheck.read_config(cfg_path)
    assert tlacheck.undefined_cfg_names(cfg) == ["INVARIANT TypeOK"]


def test_config_without_header_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "X.cfg"
    path.write_text("INIT Init\n")
    with pytest.raises(tlacheck.TlaCheckError, match="MODULE"):
        tlacheck.read_config(path)


def test_extends_chain_reaches_the_spec() -> None:
    cfg = next(c for c in CONFIGS if c.module == "MCPaxlab")
    assert [p.name for p in cfg.module_paths()] == ["MCPaxlab.tla", "Paxlab.tla"]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_recorded_result_is_current_and_as_expected(cfg: ModelConfig) -> None:
    assert tlacheck.stale_results(cfg) == []
    header = tlacheck.read_result_header(cfg.result_path())
    violated = None if header["violated"] == "-" else header["violated"]
    assert tlacheck.verdict_ok(cfg, int(header["exit_code"]), violated), header
    assert int(header["distinct_states"]) > 0
    assert header["tlc_version"].startswith("TLC2 Version")
    if cfg.expect == "pass":
        # CPU, not wall time: the wall time depends on what else the machine was running.
        # A model whose TLC needs at most 60 CPU seconds finishes within 60 s on 2 idle cores.
        assert float(header["cpu_time_s"]) <= 60.0


def test_edited_config_makes_result_stale(tmp_path: Path) -> None:
    cfg = CONFIGS[0]
    for p in [*cfg.module_paths(), cfg.path]:
        (tmp_path / p.name).write_text(p.read_text())
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / cfg.result_path().name).write_text(cfg.result_path().read_text())
    copy = tlacheck.read_config(tmp_path / cfg.path.name)
    assert tlacheck.stale_results(copy) == []
    copy.path.write_text(copy.path.read_text() + "\n\\* edited\n")
    problems = tlacheck.stale_results(copy)
    assert len(problems) == 1 and cfg.path.name in problems[0]


def test_tlc_output_is_read() -> None:
    output = (
        "TLC2 Version 2.20 of Day Month 20?? (rev: bacd9d2)\n"
        "Error: Invariant S6 is violated.\n"
        "1,234 states generated, 1,000 distinct states found, 5 states left on queue.\n"
        "The depth of the complete state graph search is 9.\n"
    )
    run = tlacheck.TlcRun(exit_code=12, output=output, wall_time_s=1.0, cpu_time_s=1.5,
                          command=("java",))
    assert run.version.startswith("TLC2 Version 2.20")
    assert (run.distinct_states, run.depth, run.violated) == (1000, 9, "S6")
    empty = tlacheck.TlcRun(exit_code=255, output="", wall_time_s=0.0, cpu_time_s=0.0,
                            command=())
    assert (empty.version, empty.distinct_states, empty.depth, empty.violated) == (
        "unknown", -1, -1, None)


def test_verdicts() -> None:
    path = Path("X.cfg")
    passing = ModelConfig(path=path, module="M", expect="pass")
    bug = ModelConfig(path=path, module="M", expect="S6")
    assert tlacheck.verdict_ok(passing, 0, None)
    assert not tlacheck.verdict_ok(passing, 12, "S6")
    assert tlacheck.verdict_ok(bug, 12, "S6")
    assert not tlacheck.verdict_ok(bug, 12, "S1")  # the wrong invariant failed
    assert not tlacheck.verdict_ok(bug, 0, None)
    assert not tlacheck.verdict_ok(bug, 13, "S6")  # exit 13 is a temporal violation


def test_cli_stale_and_usage(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert tlacheck.main(["stale"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.delenv(tlacheck.JAR_ENV, raising=False)
    assert tlacheck.main(["record", "MCPaxos"]) == 2
    assert tlacheck.JAR_ENV in capsys.readouterr().err
    monkeypatch.setenv(tlacheck.JAR_ENV, __file__)  # any existing file will do here
    assert tlacheck.main(["record", "NoSuchConfig"]) == 2
    assert "NoSuchConfig" in capsys.readouterr().err
