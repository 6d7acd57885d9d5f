from __future__ import annotations

from pathlib import Path

import attrs
import pytest

import harness.failures.sweep
from harness.checks.violation import Violation
from harness.cli import main
from harness.failures.artifact import read_artifact, write_artifact
from harness.failures.report import (
    Lane,
    Span,
    build_report,
    cause_lanes,
    fault_lanes,
    lanes_svg,
    leader_lanes,
    render_report,
)
from harness.sim.runspec import RunOptions, RunResult
from tests.harness.failures.fakerun import failing_seeds, fake_run

STALE_HISTORY = (
    {"process": 0, "type": "invoke", "f": "put", "key": "k1", "value": "a", "time": 0},
    {"process": 0, "type": "ok", "f": "put", "key": "k1", "value": "a", "time": 10},
    {"process": 0, "type": "invoke", "f": "put", "key": "k1", "value": "b", "time": 20},
    {"process": 0, "type": "ok", "f": "put", "key": "k1", "value": "b", "time": 30},
    {"process": 1, "type": "invoke", "f": "get", "key": "k1", "value": None, "time": 40},
    {"process": 1, "type": "ok", "f": "get", "key": "k1", "value": "a", "time": 50},
    {"process": 2, "type": "invoke", "f": "put", "key": "k2", "value": "z", "time": 41},
    {"process": 2, "type": "fail", "f": "put", "key": "k2", "value": "z", "time": 42},
)


def s8_result() -> RunResult:
    """A fake S8 failure whose history has a stale read on k1."""
    seed = next(s for s in failing_seeds(60)
                if fake_run(RunOptions(seed=s)).violation.property == "S8")  # type: ignore[union-attr]
    result = fake_run(RunOptions(seed=seed))
    return attrs.evolve(
        result, history=STALE_HISTORY,
        violation=Violation(property="S8", message="key k1: not linearizable", time_us=99,
                            step=result.steps, key="k1"),
    )


def test_fault_lanes_pair_intervals_and_keep_instants() -> None:
    timeline = [
        {"time_us": 10, "kind": "fault", "fault": "crash", "nodes": [1], "detail": ""},
        {"time_us": 20, "kind": "fault", "fault": "partition", "nodes": [],
         "detail": "halves"},
        {"time_us": 25, "kind": "fault", "fault": "loss", "nodes": [], "detail": "lossy"},
        {"time_us": 30, "kind": "fault", "fault": "clock-step", "nodes": [2], "detail": "+5ms"},
        {"time_us": 40, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "elected"},
        {"time_us": 50, "kind": "fault", "fault": "restart", "nodes": [1], "detail": ""},
        {"time_us": 55, "kind": "fault", "fault": "heal", "nodes": [],
         "detail": "network lossless"},
        {"time_us": 60, "kind": "fault", "fault": "heal", "nodes": [], "detail": "healed"},
        {"time_us": 70, "kind": "fault", "fault": "pause", "nodes": [0], "detail": ""},
        {"time_us": 80, "kind": "fault", "fault": "resume", "nodes": [2], "detail": ""},
        {"time_us": 90, "kind": "fault", "fault": "heal", "nodes": [], "detail": "again"},
    ]
    lanes = {lane.name: lane for lane in fault_lanes(timeline)}
    assert list(lanes) == ["network", "network loss", "node 0", "node 1", "node 2"]
    assert lanes["node 1"].spans == (Span(start_us=10, end_us=50, label="crash", kind="down"),)
    assert lanes["network"].spans == (
        Span(start_us=20, end_us=60, label="partition (halves)", kind="partitioned"),
    )
    assert lanes["network loss"].spans == (
        Span(start_us=25, end_us=55, label="loss (lossy)", kind="lossy"),
    )
    assert lanes["network"].points == ((90, "heal (again)"),)  # nothing left to close
    assert lanes["node 0"].spans == (Span(start_us=70, end_us=None, label="pause",
                                          kind="paused"),)
    # a resume with nothing open is an instant, not an interval
    assert lanes["node 2"].points == ((30, "clock-step (+5ms)"), (80, "resume"))
    assert fault_lanes([]) == ()


def test_permanent_failure_is_down_to_the_end_and_a_spare_start_an_instant() -> None:
    timeline = [
        {"time_us": 100, "kind": "fault", "fault": "permanent", "nodes": [2],
         "detail": "failed for good"},
        {"time_us": 900, "kind": "fault", "fault": "start", "nodes": [3],
         "detail": "spare started as a log replica"},
    ]
    lanes = {lane.name: lane for lane in fault_lanes(timeline)}
    down = lanes["node 2"].spans
    assert [(s.start_us, s.end_us, s.kind) for s in down] == [(100, None, "down")]
    assert lanes["node 3"].spans == () and lanes["node 3"].points[0][0] == 900


def test_leader_lanes_show_lease_wait_overlap_and_crash() -> None:
    timeline = [
        {"time_us": 0, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "elected"},
        {"time_us": 100, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "serving"},
        {"time_us": 400, "kind": "leader", "node": 1, "ballot": [2, 1], "event": "elected"},
        {"time_us": 500, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "stepped-down"},
        {"time_us": 600, "kind": "leader", "node": 1, "ballot": [2, 1], "event": "serving"},
        {"time_us": 700, "kind": "fault", "fault": "crash", "nodes": [1], "detail": ""},
        {"time_us": 800, "kind": "leader", "node": 2, "ballot": [3, 2], "event": "elected"},
    ]
    lanes = {lane.name: lane for lane in leader_lanes(timeline)}
    assert lanes["node 0"] == Lane(name="node 0", spans=(
        Span(start_us=0, end_us=100, label="leader (1,0)", kind="leader"),
        Span(start_us=100, end_us=500, label="serving (1,0)", kind="serving"),
    ))
    assert lanes["node 1"].spans == (
        Span(start_us=400, end_us=600, label="leader (2,1)", kind="leader"),
        Span(start_us=600, end_us=700, label="serving (2,1)", kind="serving"),
    )
    assert lanes["node 2"].spans == (
        Span(start_us=800, end_us=None, label="leader (3,2)", kind="leader"),
    )


def test_build_report_checks_s8_history(tmp_path: Path) -> None:
    artifact = write_artifact(tmp_path, s8_result())
    data = build_report(read_artifact(tmp_path), run=fake_run)
    assert data.linearizability is not None
    assert data.linearizability.verdict == "violation"
    assert data.linearizability.key == "k1"
    assert data.linearizability.failed_op is not None
    assert data.linearizability.failed_op.f == "get"
    assert len(data.operations) == 4
    assert data.history_error is None
    assert data.replay_note is None  # fingerprint matched
    assert data.timeline == fake_run(artifact.options).timeline
    assert data.end_us >= 3000


def test_build_report_without_s8_skips_checker(tmp_path: Path) -> None:
    seed = next(s for s in failing_seeds(60)
                if fake_run(RunOptions(seed=s)).violation.property == "S1")  # type: ignore[union-attr]
    write_artifact(tmp_path, fake_run(RunOptions(seed=seed)))
    data = build_report(read_artifact(tmp_path), run=fake_run, replay=False)
    assert data.linearizability is None
    assert data.timeline == () and data.replay_note == "not replayed"


def test_build_report_notes_mismatch_and_broken_history(tmp_path: Path) -> None:
    result = attrs.evolve(s8_result(), fingerprint="0" * 32,
                          history=({"process": 0, "type": "ok", "f": "get", "key": "k",
                                    "value": None, "time": 1},))
    write_artifact(tmp_path, result)
    data = build_report(read_artifact(tmp_path), run=fake_run)
    assert data.replay_note is not None and "differs" in data.replay_note
    assert data.history_error is not None and data.operations == ()
    assert data.linearizability is None


def test_build_report_survives_a_raising_replay(tmp_path: Path) -> None:
    write_artifact(tmp_path, s8_result())

    def boom(options: RunOptions, **kwargs: object) -> RunResult:
        raise RuntimeError("sim broke")

    data = build_report(read_artifact(tmp_path), run=boom)  # type: ignore[arg-type]
    assert data.replay_note == "the replay raised RuntimeError: sim broke"
    assert data.timeline == ()


def test_rendered_page_is_self_contained_and_complete(tmp_path: Path) -> None:
    artifact = write_artifact(tmp_path / "art", s8_result())
    page = render_report(build_report(read_artifact(artifact.folder), run=fake_run))
    assert page.startswith("<!DOCTYPE html>")
    for needed in [f"seed {artifact.seed}", "S8 violated", artifact.fingerprint,
                   f"paxlab replay {artifact.folder}", "Client operations",
                   "History checker: violation on key &#x27;k1&#x27;", "cannot be placed", "Faults",
                   "Leaders and leases", "node 1", "down", "<svg"]:
        assert needed in page, needed
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_empty_timeline_is_said_not_drawn(tmp_path: Path) -> None:
    write_artifact(tmp_path, s8_result())

    def no_timeline(options: RunOptions, **kwargs: object) -> RunResult:
        return attrs.evolve(fake_run(options, **kwargs), timeline=())  # type: ignore[arg-type]

    page = render_report(build_report(read_artifact(tmp_path), run=no_timeline))  # type: ignore[arg-type]
    assert "No faults to show: the simulator recorded no such events" in page
    assert "No leaders to show" in page


def test_text_is_escaped(tmp_path: Path) -> None:
    result = attrs.evolve(s8_result(), violation=Violation(
        property="S8", message="<script>alert(1)</script>", time_us=1, step=1, key="k1"))
    write_artifact(tmp_path, result)
    page = render_report(build_report(read_artifact(tmp_path), run=fake_run))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_lanes_svg_marks_violation_and_open_spans() -> None:
    lanes = (Lane(name="node 0", spans=(Span(start_us=10, end_us=None, label="down",
                                             kind="down"),), points=((5, "clock-step"),)),)
    svg = lanes_svg(lanes, 100, mark_us=50)
    assert "violation at 0.000050s" in svg and "end of run" in svg and "clock-step" in svg


def test_cli_report_writes_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)
    write_artifact(tmp_path / "art", s8_result())
    assert main(["report", str(tmp_path / "art"), "-o", str(tmp_path / "r.html")]) == 0
    assert "<!DOCTYPE html>" in (tmp_path / "r.html").read_text()
    assert main(["report", str(tmp_path / "art")]) == 0
    assert (tmp_path / "art" / "report.html").exists()
    assert f"report: {tmp_path / 'art' / 'report.html'}" in capsys.readouterr().out


def test_cli_report_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)
    assert main(["report", str(tmp_path / "none")]) == 2
    write_artifact(tmp_path / "art", s8_result())
    assert main(["report", str(tmp_path / "art"), "-o", str(tmp_path / "no" / "x.html")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "not an artifact folder" in lines[0]
    assert "cannot write" in lines[1]


def test_online_s8_with_linearizable_history_is_explained(tmp_path: Path) -> None:
    result = attrs.evolve(s8_result(), history=STALE_HISTORY[:4])  # no stale read recorded
    write_artifact(tmp_path, result)
    data = build_report(read_artifact(tmp_path), run=fake_run)
    assert data.linearizability is not None and data.linearizability.verdict == "linearizable"
    page = render_report(data)
    assert "S8 in the client history" in page and "caught online" in page
    stale = render_report(build_report(read_artifact(_write_s8(tmp_path / "b")), run=fake_run))
    assert "S8 in the client history" not in stale


def _write_s8(folder: Path) -> Path:
    write_artifact(folder, s8_result())
    return folder


def _s6(time_us: int = 650) -> Violation:
    return Violation(property="S6", message="two replicas serving", time_us=time_us, step=9)


def test_cause_lanes_mark_where_two_nodes_both_serve() -> None:
    timeline = [
        {"time_us": 100, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "serving"},
        {"time_us": 600, "kind": "leader", "node": 1, "ballot": [2, 1], "event": "serving"},
        {"time_us": 700, "kind": "leader", "node": 0, "ballot": [1, 0], "event": "stepped-down"},
    ]
    lanes = {lane.name: lane for lane in cause_lanes(_s6(), leader_lanes(timeline), 900)}
    assert lanes["S6 overlap"].spans == (
        Span(start_us=600, end_us=700, label="node 0 and node 1 both serving", kind="overlap"),
    )
    # one after the other: nothing overlaps, the lane is there and empty
    timeline[2]["time_us"] = 550
    timeline[1], timeline[2] = timeline[2], timeline[1]
    lanes = {lane.name: lane for lane in cause_lanes(_s6(), leader_lanes(timeline), 900)}
    assert lanes["S6 overlap"].spans == ()


def test_cause_lanes_draw_a_stale_read_at_the_node_that_served_it() -> None:
    stale = Violation(property="S8", message="served a strong read at applied slot 4, missing "
                      "the acknowledged write at slot 5", time_us=1234, step=7, node=2, slot=5)
    (lane,) = cause_lanes(stale, (), 2000)
    assert lane.name == "violation"
    ((time_us, label),) = lane.points
    assert time_us == 1234 and label.startswith("S8 node 2: served a strong read")
    prefixed = attrs.evolve(stale, message="S8: node 2 served a stale read")
    assert cause_lanes(prefixed, (), 2000)[0].points == ((1234, "S8: node 2 served a stale read"),)
    assert cause_lanes(None, (), 2000) == ()


def test_report_counts_agree_with_replay_and_share_one_time_scale(tmp_path: Path) -> None:
    from harness.sim import run

    def violates_after_a_fault(seed: int) -> bool:  # so all three charts are drawn
        r = run(RunOptions(seed=seed, ops=60, variant="stale-read"), keep_trace=False)
        return r.violation is not None and any(e["kind"] == "fault" for e in r.timeline)

    options = next(RunOptions(seed=s, ops=60, variant="stale-read") for s in range(100)
                   if violates_after_a_fault(s))
    result = run(options)
    write_artifact(tmp_path / "a", result)
    data = build_report(read_artifact(tmp_path / "a"))
    assert data.run_ops == result.ops
    page = render_report(data)
    ops = result.ops
    assert f"The run counted ok={ops['ok']} fail={ops['fail']} info={ops['info']}" in page
    assert "S6 overlap" not in page and ">violation<" in page
    end_s = f"{result.sim_time_s:.3f} s (simulated)"
    assert page.count(end_s) >= 3  # operations, faults and leaders end at the same time


def test_operation_labels_are_drawn_only_where_they_fit() -> None:
    from harness.checks.history import HistoryEvent, pair_operations
    from harness.failures.htmlreport import history_timeline_svg

    events = [
        {"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "v", "time": 0},
        {"process": 0, "type": "ok", "f": "put", "key": "k", "value": "v", "time": 10},
        {"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "w", "time": 11},
        {"process": 0, "type": "ok", "f": "put", "key": "k", "value": "w", "time": 1000},
    ]
    ops = pair_operations([HistoryEvent.from_json(e, line=i) for i, e in enumerate(events, 1)])
    from harness.failures.htmlreport import _short, escape

    narrow, wide = escape(_short(ops[0])), escape(_short(ops[1]))
    svg = history_timeline_svg(ops)  # the first op is about 10 px wide, the second 1,000 px
    assert f">{wide}</text>" in svg and f">{narrow}</text>" not in svg
    # over a window 100 times longer both bars are too narrow for any label
    svg = history_timeline_svg(ops, window_ns=(0, 100_000))
    assert f">{wide}</text>" not in svg and f">{narrow}</text>" not in svg
