"""A real 3-process cluster on loopback: faults, durability, fuzzed frames, a dead cluster.

Every test starts its nodes through `LocalCluster` or `run_session`, both of which stop and
reap every process they started in a ``finally``; each test then checks that no node of its
cluster is left running. Every wait is bounded.
"""

from __future__ import annotations

import datetime
import json
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from harness.checks.linearizability import check_linearizability
from harness.net import procs
from harness.net.codec import encode_message
from harness.net.config import ClusterConfig
from harness.net.frame import HELLO, PEER, ROLE_CLIENT, ROLE_PEER, VERSION, Hello, encode_frame
from harness.net.load import LoadRun
from harness.net.local import LocalCluster, init_cluster
from harness.net.session import run_session


def _bounded(timeout_s: float, fn: Any, *args: Any) -> Any:
    """``trio.run(fn, *args)``, failing (TooSlowError) after ``timeout_s``."""

    async def main() -> Any:
        with trio.fail_after(timeout_s):
            return await fn(*args)

    return trio.run(main)


def _none_running(config: ClusterConfig) -> None:
    procs.stop_all(config, timeout_s=3.0)  # belt and braces if an assertion failed above
    assert [n for n in config.ids if procs.running_pid(config, n) is not None] == []


def test_kill_pause_partition_net_stay_linearizable_and_every_ack_survives_a_restart(
    tmp_path: Path,
) -> None:
    config = init_cluster(tmp_path / "c", 3)
    run = LoadRun(ops=100_000, clients=6, keys=4, duration_s=10.0, seed=1)
    try:
        result = _bounded(
            90, run_session, config, run, tmp_path / "out", ("kill", "pause", "partition", "net")
        )
    finally:
        _none_running(config)
    s = result.summary
    assert result.verdict == "linearizable", s["check"]
    assert s["restarted_for_durability"] is True
    assert s["final_reads_failed"] == []
    started = [json.loads(line) for line in (tmp_path / "out" / "nemesis.jsonl").open()]
    kinds = {e["fault"] for e in started if e["phase"] == "start"}
    assert {"kill", "pause", "partition", "net"} <= kinds
    assert s["counts"]["ok"] >= 300
    assert (tmp_path / "out" / "history.jsonl").exists()
    # the folder as paxlab load leaves it, drawn by paxlab report: a band per fault kind
    from harness.failures.load_artifact import read_load_artifact, write_load_artifact
    from harness.failures.report_load import fault_bands, write_load_report

    write_load_artifact(result, config, run)
    page_path, text = write_load_report(tmp_path / "out", tmp_path / "out" / "report.html")
    page = page_path.read_text()
    for kind in ("down", "paused", "partitioned", "link"):
        assert f'class="span {kind}"' in page, kind
    artifact = read_load_artifact(tmp_path / "out")
    assert artifact.verdict == "linearizable" and sorted(artifact.logs) == ["0", "1", "2"]
    assert all((tmp_path / "out" / p).exists() for p in artifact.logs.values())
    # faults and operations share the load's origin: every fault began during the load
    bands = [b for lane in fault_bands(artifact.faults) for b in lane.spans]
    assert bands and all(0 < b.start_us / 1e6 < artifact.elapsed_s + 0.1 for b in bands)
    origin = datetime.datetime.fromisoformat(artifact.started_wall)
    for e in artifact.faults:  # t_s counts from the wall time the run started
        since = (datetime.datetime.fromisoformat(e["wall"]) - origin).total_seconds()
        assert abs(since - e["t_s"]) < 0.25, (e, artifact.started_wall)
    assert "in doubt (info):" in text and f"seed={run.seed}" in text


def test_a_raft_cluster_under_kills_and_partitions_stays_linearizable(tmp_path: Path) -> None:
    """The same node processes, codec and load run Raft (`[cluster] protocol = "raft"`)."""
    config = init_cluster(tmp_path / "c", 3, protocol="raft")
    assert config.protocol == "raft"
    run = LoadRun(ops=100_000, clients=4, keys=3, duration_s=6.0, seed=3)
    try:
        result = _bounded(90, run_session, config, run, tmp_path / "out", ("kill", "partition"))
    finally:
        _none_running(config)
    s = result.summary
    assert result.verdict == "linearizable", s["check"]
    assert s["restarted_for_durability"] is True and s["final_reads_failed"] == []
    assert s["counts"]["ok"] >= 100
    started = [json.loads(line) for line in (tmp_path / "out" / "nemesis.jsonl").open()]
    assert {"kill", "partition"} <= {e["fault"] for e in started if e["phase"] == "start"}
    from harness.failures.load_artifact import read_load_artifact, write_load_artifact

    write_load_artifact(result, config, run)
    assert read_load_artifact(tmp_path / "out").protocol == "raft"


def test_lost_writes_after_a_restart_are_caught(tmp_path: Path) -> None:
    """Must fail: wipe every node's storage between the load and the final reads."""
    config = init_cluster(tmp_path / "c", 3)
    run = LoadRun(ops=150, clients=4, keys=3, seed=2)
    with LocalCluster(config) as lc:
        try:
            lc.start_all()
            assert trio.run(procs.wait_serving, config, 20.0) is not None
            _bounded(60, run.run, config)
            assert run.counts["ok"] > 50
            assert lc.stop_all() == {0: "stopped", 1: "stopped", 2: "stopped"}
            # SIGTERM: every node stepped down and exited 0 (no SIGKILL needed)
            assert {n: codes[-1] for n, codes in lc.exit_codes_seen.items()} == {
                0: 0, 1: 0, 2: 0
            }
            for spec in config.nodes:
                shutil.rmtree(spec.data_dir / "storage")
            lc.start_all()
            assert trio.run(procs.wait_serving, config, 20.0) is not None
            assert _bounded(60, run.final_reads, config) == []
        finally:
            lc.close()
    _none_running(config)
    result = check_linearizability(run.recorder.events, "kv", timeout_s=30)
    assert result.verdict == "violation"


async def _fuzz(config: ClusterConfig, node: int, rng: random.Random) -> None:
    spec = config.node(node)
    good_hello = encode_frame(HELLO, Hello(cluster_id=config.cluster_id, role=ROLE_CLIENT)
                              .encode())
    peer_hello = encode_frame(HELLO, Hello(cluster_id=config.cluster_id, role=ROLE_PEER,
                                           node_id=0).encode())
    bad_crc = bytearray(encode_frame(PEER, b"x" * 20))
    bad_crc[-1] ^= 0xFF
    payloads = [
        bytes(rng.randrange(256) for _ in range(300)),  # random bytes
        struct.pack(">BBII", VERSION, HELLO, 2**31, 0),  # a huge length
        good_hello + bytes(bad_crc),  # wrong CRC after a good hello
        encode_frame(HELLO, Hello(cluster_id="other", role=ROLE_CLIENT).encode()),
        peer_hello + encode_frame(PEER, b"\x01\xff\xff"),  # a frame the codec refuses
        good_hello + encode_frame(PEER, encode_message(_prepare()))[:9],  # truncated
    ]
    for data in payloads:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(spec.host, spec.port)
            try:
                await stream.send_all(data)
                await stream.send_eof()
                while await stream.receive_some(65536):
                    pass
            except (trio.BrokenResourceError, OSError):
                pass
            finally:
                await stream.aclose()


def _prepare() -> object:
    from consensus.ballot import Ballot
    from consensus.messages import Prepare

    return Prepare(ballot=Ballot(1, 0), from_slot=1)


def test_fuzzed_frames_are_counted_and_the_cluster_still_passes_a_load(tmp_path: Path) -> None:
    config = init_cluster(tmp_path / "c", 3)
    with LocalCluster(config) as lc:
        try:
            lc.start_all()
            assert trio.run(procs.wait_serving, config, 20.0) is not None
            _bounded(30, _fuzz, config, 2, random.Random(9))
            status = trio.run(procs.node_status, config, 2, 2.0)
            assert status is not None
            errors = status["frame_errors"]
            for reason in ("bad-version", "oversized", "bad-crc", "wrong-cluster", "malformed",
                           "truncated"):
                assert errors.get(reason, 0) >= 1, (reason, errors)
            run = LoadRun(ops=200, clients=4, keys=3, seed=3)
            result = _bounded(60, run_session, config, run, tmp_path / "out")
            assert result.verdict == "linearizable", result.summary["check"]
            assert sorted(lc.running()) == [0, 1, 2]
            assert all(code is None for code in lc.exit_codes().values())
        finally:
            lc.close()
    _none_running(config)


def test_a_dead_cluster_is_a_clear_timeout_exit_2(tmp_path: Path) -> None:
    config = init_cluster(tmp_path / "c", 3)
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "load", "--config", str(config.path), "--ops", "5"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "timed out" in errors[0] and "Traceback" not in proc.stderr


def test_cluster_cli_init_start_status_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cluster start`` returns (its nodes detached); ``stop`` finds them by pid file alone,
    as after a crashed supervisor."""
    from harness.cli import main
    from harness.net.config import load_config

    folder = tmp_path / "c"
    assert main(["cluster", "init", "--nodes", "3", str(folder)]) == 0
    cfg = str(folder / "cluster.toml")
    config = load_config(cfg)
    capsys.readouterr()
    try:
        assert main(["cluster", "start", "--config", cfg]) == 0
        assert "leader" in capsys.readouterr().out
        assert main(["cluster", "status", "--config", cfg]) == 0
        lines = capsys.readouterr().out.splitlines()[1:]
        roles = [line.split()[2] for line in lines]
        assert roles.count("leader") == 1 and len(roles) == 3
        out = tmp_path / "load"
        assert main(["load", "--config", cfg, "--ops", "40", "--clients", "2",
                     "--out", str(out)]) == 0
        assert "PASSED: linearizable" in capsys.readouterr().out
        assert main(["report", str(out)]) == 0
        text = capsys.readouterr().out
        assert "verdict: linearizable" in text and "nemesis=off" in text
        assert "No nemesis" in (out / "report.html").read_text()
        # a nemesis takes the started cluster over and hands it back running
        out = tmp_path / "nemesis"
        assert main(["load", "--config", cfg, "--ops", "100000", "--duration", "3",
                     "--clients", "2", "--nemesis", "kill,pause,partition,net",
                     "--seed", "1", "--out", str(out)]) == 0
        assert "PASSED: linearizable" in capsys.readouterr().out
        summary = json.loads((out / "summary.json").read_text())
        assert summary["handed_back"] == {"nodes": [0, 1, 2], "serving": True}
        assert main(["report", str(out)]) == 0
        text = capsys.readouterr().out
        assert "nemesis=kill,pause,partition,net" in text and summary["faults"] >= 1
        assert 'class="span ' in (out / "report.html").read_text()
        assert main(["cluster", "status", "--config", cfg]) == 0
        capsys.readouterr()
        assert main(["cluster", "stop", "--config", cfg]) == 0
        assert capsys.readouterr().out.split() == ["n0:stopped", "n1:stopped", "n2:stopped"]
        assert main(["cluster", "status", "--config", cfg]) == 3
        assert capsys.readouterr().out.count("stopped") == 3
    finally:
        _none_running(config)


def test_an_interrupted_load_keeps_an_artifact_the_report_reads(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a load with a nemesis: exit 130, the nodes stopped, and the run
    so far kept as a whole artifact (checked history, fault log, manifest)."""
    from harness.failures.load_artifact import read_load_artifact

    config = init_cluster(tmp_path / "c", 3)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "harness", "load", "--config", str(config.path), "--ops",
            "1000000", "--duration", "60", "--clients", "2", "--nemesis", "kill,partition",
            "--seed", "3", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait (bounded) for the nodes behind the proxies to serve, then let the load run.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and any(
            procs.running_pid(config, n) is None for n in config.ids
        ):
            time.sleep(0.2)
        assert _bounded(60, procs.wait_serving, config, 30.0) is not None
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        _none_running(config)
    assert proc.returncode == 130, err
    assert "interrupted; the run so far (unknown" in err and "Traceback" not in err
    artifact = read_load_artifact(out)
    assert artifact.verdict == "unknown"  # no key read back: durability unchecked
    assert artifact.counts["ok"] > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["nemesis"] == ["kill", "partition"]
    report = subprocess.run([sys.executable, "-m", "harness", "report", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert "verdict: unknown" in report.stdout, report.stderr


def test_the_simulator_and_the_real_cluster_run_the_same_workload_under_the_same_checker(
    tmp_path: Path,
) -> None:
    """Parity: the same op mix and history format in both worlds, judged by the same checker."""
    from harness.checks.history import HistoryEvent
    from harness.net import load as net_load
    from harness.sim import workload as sim_workload
    from harness.sim.runner import run as sim_run
    from harness.sim.runspec import RunOptions

    assert net_load.OPS == sim_workload.OPS
    sim = sim_run(RunOptions(seed=4, ops=150, faults=()))
    assert sim.verdict == "ok"
    sim_events = [HistoryEvent.from_json(d) for d in sim.history]
    config = init_cluster(tmp_path / "c", 3)
    run = LoadRun(ops=150, clients=5, keys=5, seed=4)
    try:
        result = _bounded(60, run_session, config, run, tmp_path / "out", ())
    finally:
        _none_running(config)
    assert result.verdict == "linearizable"
    for events in (sim_events, run.recorder.events):
        assert {e.f for e in events} == {"get", "put", "cas", "append"}
        assert check_linearizability(events, "kv", timeout_s=30).verdict == "linearizable"
    written = (tmp_path / "out" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in written] == [e.to_json() for e in run.recorder.events]
    assert set(json.loads(written[0])) == set(sim.history[0])


@pytest.mark.slow
def test_soak_a_minute_of_every_fault(tmp_path: Path) -> None:
    config = init_cluster(tmp_path / "c", 3)
    run = LoadRun(ops=10**7, clients=8, keys=6, duration_s=60.0, seed=11)
    try:
        result = _bounded(
            240, run_session, config, run, tmp_path / "out", ("kill", "pause", "partition", "net")
        )
    finally:
        _none_running(config)
    assert result.verdict == "linearizable", result.summary["check"]
    assert result.summary["faults"] >= 20
