"""benchmarks.sim at a tiny size, so it cannot rot (full size: python -m benchmarks.sim)."""

from __future__ import annotations

import re

import pytest

from benchmarks import sim as bench


def test_both_cases_print_their_figures_and_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--seeds", "1", "--ops", "20", "--case", "all", "--profile"])
    out = capsys.readouterr().out
    assert out.count("result hash: ") == 2
    assert "case default: default run: 3 replicas" in out
    assert "case messages: message-heavy run: 5 replicas" in out
    delivered = [int(n) for n in re.findall(r"delivered=(\d+)", out)]
    assert len(delivered) == 2 and all(n > 0 for n in delivered)
    shares = [float(s) for s in re.findall(r"^\s+(\d+\.\d)%\s", out, flags=re.MULTILINE)]
    assert 99.0 <= sum(shares) / 2 <= 101.0  # two profiles, each summing to 100%
    assert "consensus (replica step)" in out
    top = re.findall(r"^\s+own\s+(\d+\.\d)%\s+(\S+)", out, flags=re.MULTILINE)
    assert len(top) == 2 * 12  # the default --top, per case
    assert any(".py:" in where for _share, where in top)  # file.py:function entries
    assert all(float(share) <= 100.0 for share, _where in top)


def test_same_code_same_result_hash(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--seeds", "2", "--ops", "10"])
    first = re.findall(r"result hash: (\w+)", capsys.readouterr().out)
    bench.main(["--seeds", "2", "--ops", "10"])
    assert re.findall(r"result hash: (\w+)", capsys.readouterr().out) == first


def test_bad_sizes_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--seeds", "0"])
    assert exc.value.code == 2


def test_compare_with_head_gives_identical_fingerprints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # HEAD's tree (a git archive in a temp folder) against this one, in subprocesses: the
    # same seeds give the same result hash, and the exit code says so.
    with pytest.raises(SystemExit) as exc:
        bench.main(["--compare", "HEAD", "--seeds", "1", "--ops", "10", "--rounds", "1",
                    "--sweep-seeds", "0"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    hashes = re.findall(r"result hash (\w+)", out)
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert "fingerprints: identical" in out
    assert re.search(r"ratio: this tree needs \d+\.\d+x the CPU of rev HEAD", out)
    assert re.search(r"mean over all rounds \d+\.\d+x\)", out)
    assert len(re.findall(r"\(mean over all rounds \d+\.\d+\)", out)) == 2


def test_compare_with_an_unknown_revision_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["--compare", "no-such-revision", "--seeds", "1", "--sweep-seeds", "0"])
    assert exc.value.code == 2


def test_compare_sweep_figure(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import sim_compare

    wall, cpu, code = sim_compare.time_sweep(sim_compare.ROOT, 2, 1)
    assert code == 0 and wall > 0 and cpu > 0
