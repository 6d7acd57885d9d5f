"""``paxlab report`` of a load artifact (a real cluster's run), and its bad inputs.

The folders are written by the functions ``paxlab load`` writes them with
(`harness.net.session.finish_session`, which checks the history and writes it with the
nemesis log and the summary, then `write_load_artifact`), from a small history recorded by
hand, so every case is fast and exact. tests/harness/net/test_cluster.py reports a folder a
real loopback cluster under every fault kind left.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.failures.artifact import ArtifactError, read_artifact
from harness.failures.load_artifact import read_load_artifact, write_load_artifact
from harness.failures.report_load import fault_bands, render_load_report, text_report
from harness.net.load import LoadRun
from harness.net.local import init_cluster
from harness.net.session import finish_session

ALL = ("kill", "pause", "partition", "net")
WALL0 = "2026-12-05T04:00:00.000+00:00"


def _wall(t_s: float) -> str:
    return f"2026-12-05T04:00:{t_s:06.3f}+00:00"


def _fault(phase: str, fault: str, nodes: list[int], t_s: float, detail: str) -> dict[str, Any]:
    return {"wall": _wall(t_s), "t_s": t_s, "phase": phase, "fault": fault, "nodes": nodes,
            "detail": detail}


FAULTS = [
    _fault("start", "kill", [1], 0.2, "SIGKILL, restart after 0.50s"),
    _fault("end", "kill", [1], 0.7, "restarted"),
    _fault("start", "pause", [0], 0.8, "SIGSTOP for 0.30s"),
    _fault("end", "pause", [0], 1.1, "SIGCONT"),
    _fault("start", "partition", [2], 1.2, "isolated for 0.40s"),
    _fault("end", "partition", [2], 1.6, "healed"),
    _fault("start", "net", [0, 1], 1.7, "drop n0->n1 for 0.30s"),
    _fault("end", "net", [0, 1], 2.0, "drop healed"),
    _fault("end", "heal", [0, 1, 2], 2.1, "all resumed, healed, running"),
]


def _write(tmp_path: Path, *, nemesis: tuple[str, ...] | None = ALL,
           faults: list[dict[str, Any]] | None = None, stale: bool = False) -> Path:
    """A load artifact as ``paxlab load`` writes it; ``stale``: the final read returns an
    older value than an acknowledged write (a lost write: must be a violation)."""
    config = init_cluster(tmp_path / "c", 3)
    run = LoadRun(ops=3, clients=2, keys=2, seed=7)
    rec = run.recorder
    ms = 1_000_000
    rec.invoke(0, "put", "k0", "c0-1", time=10 * ms)
    rec.complete(0, "ok", time=150 * ms)
    rec.invoke(1, "put", "k0", "c1-1", time=300 * ms)
    rec.complete(1, "ok", time=900 * ms)
    rec.invoke(0, "put", "k1", "c0-2", time=1000 * ms)
    rec.complete(0, "info", time=1900 * ms, error="timed-out")
    rec.invoke(2, "get", "k0", None, time=2200 * ms)  # the final read after the restart
    rec.complete(2, "ok", "c0-1" if stale else "c1-1", time=2300 * ms)
    run.counts.update(ok=3, info=1)
    run.elapsed_s = 2.0
    out = tmp_path / "load"
    out.mkdir()
    result = finish_session(config, run, out, nemesis, tuple(FAULTS if faults is None else faults),
                            [], {"started_wall": WALL0, "logs": {}}, 10.0)
    write_load_artifact(result, config, run)
    return out


def _report(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, str]:
    code = main(["report", str(folder)])
    cap = capsys.readouterr()
    page = (folder / "report.html").read_text() if code == 0 else ""
    return code, cap.out, cap.err, page


def test_a_load_artifact_reads_back_what_was_written(tmp_path: Path) -> None:
    a = read_load_artifact(_write(tmp_path))
    assert (a.verdict, a.seed, a.nemesis, a.started_wall) == ("linearizable", 7, ALL, WALL0)
    assert a.options == {"ops": 3, "clients": 2, "keys": 2, "duration_s": 0.0, "seed": 7}
    assert a.counts == {"ok": 3, "fail": 0, "info": 1}
    assert set(a.latency_ms) == {"p50", "p99", "p99.9", "max"}
    assert [n["id"] for n in a.nodes] == [0, 1, 2]
    assert list(a.faults) == FAULTS
    meta = json.loads((a.folder / "artifact.json").read_text())
    assert (meta["format"], meta["kind"], meta["world"]) == ("paxlab-artifact", "load", "cluster")
    assert a.protocol == meta["protocol"] == "multipaxos"
    _edit_manifest(a.folder, protocol=_DROP)  # a manifest from before the field
    assert read_load_artifact(a.folder).protocol == "multipaxos"


def test_the_report_draws_ops_per_client_and_a_band_per_fault_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err, page = _report(_write(tmp_path), capsys)
    assert code == 0 and err == ""
    assert 'class="verdict linearizable">LINEARIZABLE' in page
    for kind, what in (("down", "kill: SIGKILL"), ("paused", "pause: SIGSTOP"),
                       ("partitioned", "partition: isolated"), ("link", "net: drop n0-&gt;n1")):
        bands = [chunk for chunk in page.split("<rect")[1:] if f'class="span {kind}"' in chunk]
        assert len(bands) == 1, kind
        assert what in bands[0], (kind, bands[0][:200])
    # every band starts at its fault's time on the run's axis; the kill ends at the restart
    lanes = {lane.name: lane for lane in fault_bands(FAULTS)}
    assert [(s.start_us, s.end_us, s.kind) for s in lanes["node 1"].spans] == [
        (200_000, 700_000, "down")]
    assert [(s.start_us, s.end_us) for s in lanes["link 0->1"].spans] == [(1_700_000, 2_000_000)]
    assert lanes["cluster"].points[0][0] == 2_100_000  # the final heal: an instant
    assert "(since the run started)" in page and "(simulated)" not in page
    # one row per client process and the final reads, the info op drawn dashed
    assert all(f">p{p}</text>" in page for p in (0, 1, 2))
    assert page.count('stroke-dasharray="3,2"') == 1
    assert "p0 put(&#x27;k1&#x27;, &#x27;c0-2&#x27;) [info]" in page
    assert "In doubt (info): 1" in page and "error=timed-out" in page
    # the text report: verdict, figures, the faults with their times, the op in doubt
    assert "verdict: linearizable" in out and "seed=7 nemesis=kill,pause,partition,net" in out
    assert "+0.200 s (04:00:00.200) .. +0.700 s (04:00:00.700)  kill" in out
    assert "+1.700 s (04:00:01.700) .. +2.000 s (04:00:02.000)  net       link 0->1" in out
    assert "in doubt (info): 1" in out and "error=timed-out" in out
    assert "write latency ms: p50" in out and "throughput: acknowledged writes/s" in out


def test_a_fault_never_healed_runs_to_the_end_and_no_nemesis_draws_no_band(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Must fail to draw: without a nemesis there is no band at all."""
    open_kill = [_fault("start", "kill", [2], 0.5, "SIGKILL, restart after 0.40s")]
    code, out, _, page = _report(_write(tmp_path / "a", faults=open_kill), capsys)
    assert code == 0
    assert page.count('class="span down"') == 1 and "the end of the run" in page
    assert "never healed" in out
    code, out, _, page = _report(_write(tmp_path / "b", nemesis=None, faults=[]), capsys)
    assert code == 0 and not (tmp_path / "b" / "load" / "nemesis.jsonl").exists()
    assert 'class="span' not in page and "No nemesis" in page and "nemesis=off" in out


def test_a_lost_write_is_reported_as_a_violation_with_the_checker_explanation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Must fail: the final read returns a value an acknowledged later write replaced."""
    folder = _write(tmp_path, stale=True)
    assert read_load_artifact(folder).verdict == "violation"
    code, out, _, page = _report(folder, capsys)
    assert code == 0 and "verdict: violation" in out
    assert 'class="verdict violation">VIOLATION' in page
    assert "cannot be placed" in page and "violation on key" in page
    assert "LINEARIZABLE" not in page


def _edit_manifest(folder: Path, **changes: Any) -> None:
    path = folder / "artifact.json"
    meta = json.loads(path.read_text())
    for name, value in changes.items():
        if value is _DROP:
            del meta[name]
        else:
            meta[name] = value
    path.write_text(json.dumps(meta))


_DROP = object()


@pytest.mark.parametrize(("case", "expect"), [
    ("no-manifest", "artifact.json: missing"),
    ("manifest-bad-json", "artifact.json:1: bad JSON"),
    ("manifest-no-counts", "missing field 'counts'"),
    ("manifest-bad-verdict", "field 'verdict' must be one of"),
    ("manifest-bad-world", "field 'world' must be 'cluster'"),
    ("manifest-bad-latency", "field 'latency_ms.p99' must be a float"),
    ("manifest-bad-wall", "started_wall must be an ISO 8601 time"),
    ("manifest-bad-nemesis", "field 'nemesis' must be null or a list"),
    ("manifest-bad-protocol", "field 'protocol' must be a non-empty string"),
    ("no-nemesis-log", "nemesis.jsonl: missing"),
    ("nemesis-bad-json", "nemesis.jsonl:3: bad JSON"),
    ("nemesis-not-object", "nemesis.jsonl:3: expected a JSON object"),
    ("nemesis-no-t_s", "nemesis.jsonl:3: fault event without t_s"),
    ("nemesis-bad-t_s", "nemesis.jsonl:3: t_s must be seconds"),
    ("nemesis-bad-fault", "nemesis.jsonl:3: fault must be one of"),
    ("nemesis-bad-phase", "nemesis.jsonl:3: phase must be start or end"),
    ("nemesis-bad-nodes", "nemesis.jsonl:3: nodes must be a list of node ids"),
    ("nemesis-bad-wall", "line 3 wall must be an ISO 8601 time"),
    ("history-bad-line", "history.jsonl:2: not a history event: missing field 'f'"),
])
def test_a_malformed_load_artifact_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, expect: str
) -> None:
    folder = _write(tmp_path)
    nemesis = folder / "nemesis.jsonl"
    lines = nemesis.read_text().splitlines()
    third = json.loads(lines[2])
    edits: dict[str, Any] = {
        "manifest-no-counts": {"counts": _DROP},
        "manifest-bad-verdict": {"verdict": "maybe"},
        "manifest-bad-world": {"world": "sim"},
        "manifest-bad-wall": {"started_wall": "yesterday"},
        "manifest-bad-nemesis": {"nemesis": ["kill", "meteor"]},
        "manifest-bad-protocol": {"protocol": 3},
    }
    if case == "no-manifest":
        (folder / "artifact.json").unlink()
    elif case == "manifest-bad-json":
        (folder / "artifact.json").write_text('{"format": "paxlab-artifact", "kind": "load",')
    elif case == "manifest-bad-latency":
        meta = json.loads((folder / "artifact.json").read_text())
        meta["latency_ms"]["p99"] = "fast"
        (folder / "artifact.json").write_text(json.dumps(meta))
    elif case in edits:
        _edit_manifest(folder, **edits[case])
    elif case == "no-nemesis-log":
        nemesis.unlink()
    elif case == "history-bad-line":
        history = (folder / "history.jsonl").read_text().splitlines()
        history[1] = '{"process": 0, "type": "invoke"}'
        (folder / "history.jsonl").write_text("\n".join(history) + "\n")
    else:
        bad = {
            "nemesis-bad-json": '{"wall": ',
            "nemesis-not-object": "[1, 2]",
            "nemesis-no-t_s": json.dumps({k: v for k, v in third.items() if k != "t_s"}),
            "nemesis-bad-t_s": json.dumps({**third, "t_s": -1}),
            "nemesis-bad-fault": json.dumps({**third, "fault": "meteor"}),
            "nemesis-bad-phase": json.dumps({**third, "phase": "middle"}),
            "nemesis-bad-nodes": json.dumps({**third, "nodes": "n0"}),
            "nemesis-bad-wall": json.dumps({**third, "wall": "noon"}),
        }[case]
        nemesis.write_text("\n".join([*lines[:2], bad, *lines[3:]]) + "\n")
    code, out, err, _ = _report(folder, capsys)
    assert code == 2, (case, out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("paxlab report: error: ") and expect in err, err
    assert not (folder / "report.html").exists()


def test_a_sound_artifact_still_passes_the_checks_the_malformed_ones_fail(
    tmp_path: Path,
) -> None:
    """Must pass: the reader accepts the folder the malformed cases start from, and the
    pieces it is made of; replay and shrink refuse it by name, not by a missing field."""
    folder = _write(tmp_path)
    artifact = read_load_artifact(folder)
    assert text_report(artifact).startswith(f"load artifact {folder}")
    assert render_load_report(artifact).startswith("<!DOCTYPE html>")
    with pytest.raises(ArtifactError, match="a load artifact of a real cluster"):
        read_artifact(folder)


def test_replay_of_a_load_artifact_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path)
    assert main(["replay", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "load artifact of a real cluster" in err
