from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from harness.cli import main
from harness.failures import mutants as lib
from harness.failures.mutant_catalogue import CATALOGUE, Mutant


def _fake_campaign(statuses: Sequence[str], interrupt_after: int | None = None) -> Any:
    def campaign(mutants: Sequence[Mutant], **kw: Any) -> Iterator[lib.MutantResult]:
        for i, (m, status) in enumerate(zip(mutants, statuses, strict=False)):
            if interrupt_after is not None and i == interrupt_after:
                raise KeyboardInterrupt
            killed = status in lib.KILLED_STATUSES
            yield lib.MutantResult(
                name=m.name, status=status, time_to_kill_s=2.5 if killed else None,
                property="S1" if killed else None, stage="sweep" if killed else None,
                detail="x",
            )
    return campaign


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    code = info.value.code
    assert isinstance(code, int)
    return code


def test_list_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["mutants", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == len(CATALOGUE)
    assert CATALOGUE[0].name in out and CATALOGUE[0].file in out
    assert _run(["mutants", "--list", "--json", "--only", CATALOGUE[2].name]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == [CATALOGUE[2].name]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "no-such-mutant"], "unknown mutant"),
        (["--only", ","], "at least one"),
        (["--budget", "0"], "--budget"),
        (["--budget", "soon"], "invalid float"),
        (["-j", "0"], "-j"),
        (["--bogus"], "unrecognized"),
    ],
)
def test_bad_usage_exits_2_on_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["mutants", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_table_progress_and_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ",".join(m.name for m in CATALOGUE[:3])
    monkeypatch.setattr(lib, "campaign", _fake_campaign(["killed", "crash", "equivalent"]))
    assert _run(["mutants", "--only", names, "--budget", "5"]) == 0
    out, err = capsys.readouterr()
    assert "killed 2/3 (67%), of which 1 by a crash; equivalent 1" in out
    assert err.count("mutants: ") == 3 and "1/3" in err and "3/3" in err
    monkeypatch.setattr(lib, "campaign", _fake_campaign(["killed", "survived", "killed"]))
    assert _run(["mutants", "--only", names, "--json"]) == 1  # a survivor is a gap
    data = json.loads(capsys.readouterr().out)
    assert data["run"] == 3 and data["kill_rate"] == round(2 / 3, 4)
    assert [r["killed"] for r in data["results"]] == [True, False, True]


def test_ctrl_c_prints_the_table_so_far_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ",".join(m.name for m in CATALOGUE[:3])
    monkeypatch.setattr(lib, "campaign", _fake_campaign(["killed"] * 3, interrupt_after=1))
    assert _run(["mutants", "--only", names]) == 130
    out, err = capsys.readouterr()
    assert "interrupted after 1 of 3" in err
    assert CATALOGUE[0].name in out and CATALOGUE[1].name not in out
    assert "killed 1/1 (100%)" in out
