"""CLI start-up: ``paxlab --help`` and ``check-history`` import only what they use (no
simulator, trio or networkx), and the placeholders that make that possible keep ``--help``
complete."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import _COMMANDS, build_parser, main

_PROBE = """
import json, sys
from harness.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("trio", "networkx")
               or m.startswith(("harness.sim", "harness.explore", "harness.failures")))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _probe(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120,
        check=False,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "h.jsonl"
    events = [
        {"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "1", "time": 1},
        {"process": 0, "type": "ok", "f": "put", "key": "k", "value": "1", "time": 2},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_help_imports_no_subcommand() -> None:
    assert _probe("--help") == {"code": 0, "heavy": []}


def test_check_history_imports_no_simulator(tmp_path: Path) -> None:
    assert _probe("check-history", str(_history(tmp_path)), "--model", "kv") == {
        "code": 0, "heavy": []
    }


def test_the_probe_sees_heavy_imports() -> None:
    # The same probe on a subcommand that does use the simulator: the check can fail.
    result = _probe("run", "--help")
    assert result["code"] == 0
    assert {"trio", "harness.sim.runspec"} <= set(result["heavy"])  # type: ignore[arg-type]


def _subcommand_helps(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help for a in action._choices_actions}
    raise AssertionError("no subcommands")


def test_placeholders_carry_each_modules_help_line() -> None:
    full = _subcommand_helps(build_parser())
    lazy = _subcommand_helps(build_parser(only=""))
    assert list(full) == list(_COMMANDS) and lazy == full


def test_chosen_subcommand_is_registered_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["explore", "--help"])
    assert exc.value.code == 0
    assert "--max-states" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["check-history"])  # the real parser: its required arguments are checked
    assert exc.value.code == 2
    assert "required: file, --model" in capsys.readouterr().err


def test_unknown_command_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nope"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and err.count("\n") == 1
