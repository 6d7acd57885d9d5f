"""``paxlab report`` on an explore artifact: the schedule drawn, the replay's verdict shown."""

from __future__ import annotations

import json
import re
import xml.dom.minidom
from pathlib import Path

import pytest

from harness.cli import main
from harness.explore.bounds import Bounds
from harness.explore.search import explore
from harness.failures.artifact import ArtifactError, is_explore_artifact
from harness.failures.explore_artifact import write_explore_artifact
from harness.failures.report_explore import render_explore_report


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = explore(Bounds(variant="no-persist-promise"))
    assert result.violation is not None and result.violation.property == "S3"
    return write_explore_artifact(tmp_path_factory.mktemp("explore") / "a", result)


def _steps(folder: Path) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = json.loads((folder / "artifact.json").read_text())["schedule"]
    return steps


def test_page_draws_every_step_and_confirms_the_violation(artifact: Path) -> None:
    page = render_explore_report(artifact)
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    for svg in svgs:
        xml.dom.minidom.parseString(svg)  # well-formed
    chart = svgs[0]
    assert chart.count("<title>") == len(_steps(artifact))  # one drawn row per step
    assert "S3 violated" in page
    assert "The replay found S3" in page and "(the same property)" in page


def test_cli_report_writes_the_page(artifact: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert is_explore_artifact(artifact)
    out = artifact / "page.html"
    assert main(["report", str(artifact), "-o", str(out)]) == 0
    assert "Message sequence" in out.read_text() and str(out) in capsys.readouterr().out


def test_a_schedule_that_does_not_replay_is_said_so(artifact: Path, tmp_path: Path) -> None:
    meta = json.loads((artifact / "artifact.json").read_text())
    meta["schedule"] = [{"t_us": 0, "action": ["deliver", 1, 0, "Nothing()"]}]
    (tmp_path / "artifact.json").write_text(json.dumps(meta))
    page = render_explore_report(tmp_path)
    assert "could not be replayed" in page


def test_corrupt_artifact_is_one_line_exit_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "artifact.json").write_text('{"kind": "explore", "bounds": {}}')
    with pytest.raises(ArtifactError, match="malformed explore artifact"):
        render_explore_report(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "artifact.json" in err
