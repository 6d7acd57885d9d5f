"""``paxlab replay`` of an explore artifact checks what it reproduces: the property, the
place and the fingerprint the artifact records."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main


@pytest.fixture(scope="module")
def explore_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ex") / "quorum-one"
    assert main(["explore", "--variant", "quorum-one", "--out", str(folder)]) == 1
    return folder


def _edited(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copytree(src, dst)
    meta = json.loads((dst / "artifact.json").read_text())
    edit(meta)
    (dst / "artifact.json").write_text(json.dumps(meta))
    return dst


def test_artifact_carries_a_fingerprint_and_replays(
    explore_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = json.loads((explore_artifact / "artifact.json").read_text())
    assert meta["version"] == 2 and len(meta["fingerprint"]) == 32
    capsys.readouterr()
    assert main(["replay", str(explore_artifact)]) == 1
    out = capsys.readouterr().out
    assert f"fingerprint: {meta['fingerprint']} (matches the artifact)" in out
    assert out.splitlines()[-1] == "REPRODUCED S4"


@pytest.mark.parametrize("name, edit, needles", [
    ("empty", lambda m: m.update(schedule=[]),
     ["the artifact records S4, the replay violated nothing", "fingerprint: artifact="]),
    ("property", lambda m: m["violation"].update(property="S99"),
     ["property: artifact=S99 replay=S4", "host loop: artifact=S99 replay=S4"]),
    ("place", lambda m: m["violation"].update(step=2), ["step: artifact=2 replay="]),
    ("fingerprint", lambda m: m.update(fingerprint="0" * 32),
     ["fingerprint: artifact=" + "0" * 32]),
])
def test_edited_artifact_is_not_reproduced(
    explore_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
    edit: Callable[[dict[str, Any]], None], needles: list[str],
) -> None:
    folder = _edited(explore_artifact, tmp_path / name, edit)
    capsys.readouterr()
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    last = out.splitlines()[-1]
    assert last.startswith("NOT REPRODUCED: ")
    assert all(n in last for n in needles), last
    assert "PASSED" not in out


def test_version_1_artifact_still_replays(
    explore_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def old(m: dict[str, Any]) -> None:
        m["version"] = 1
        del m["fingerprint"]

    folder = _edited(explore_artifact, tmp_path / "v1", old)
    capsys.readouterr()
    assert main(["replay", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "none recorded" in out and out.splitlines()[-1] == "REPRODUCED S4"


@pytest.mark.parametrize("edit", [
    lambda m: m["schedule"][0].update(action=["fly", 1]),
    lambda m: m["schedule"][0].update(action=["tick"]),
    lambda m: m["schedule"][0].update(action=["deliver", 0, 1, 2]),
    lambda m: m["schedule"][0].update(action="tick"),
    lambda m: m["schedule"][0].update(t_us="now"),
    lambda m: m.update(schedule={}),
    lambda m: m["bounds"].update(replicas=3.0),
    lambda m: m["bounds"].update(replicas="3"),
    lambda m: m["violation"].update(time_us=None),
    lambda m: m.update(fingerprint=5),
    lambda m: m.update(version=99),
    lambda m: m.update(bounds=[]),
])
def test_malformed_artifact_is_bad_input(
    explore_artifact: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    edit: Callable[[dict[str, Any]], None],
) -> None:
    folder = _edited(explore_artifact, tmp_path / "bad", edit)
    capsys.readouterr()
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("paxlab replay: error: ") and err.count("\n") == 1
    # the HTML report reads the same file leniently: a page, or one line, never a traceback
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html")]) in (0, 2)
