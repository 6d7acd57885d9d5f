"""One ``paxlab load`` run end to end: load (with a nemesis), durability, check, artifacts.

Without a nemesis the load runs against a cluster that is already up (``paxlab cluster
start``). With one (``nemesis`` not None, possibly empty) the run owns the cluster: nodes that
are running (``paxlab cluster start``) are stopped first and started again, detached, when
the run ends (``handed_back`` in the summary; a supervised ``cluster start --foreground``
must be stopped first, or it would restart them under the nemesis). It starts the nodes
behind fault proxies (`harness.net.nemesis`), runs the load while faults come and go, heals
everything, then stops every node (SIGTERM) and starts them again from their data
directories, so the final strong read of every key checks that every acknowledged write
survived a full restart; finally it stops the nodes.

The history (JSON lines, `harness.checks.history`) is checked by the simulator's
linearizability checker (S8) under the kv model. The artifact folder holds ``history.jsonl``,
``nemesis.jsonl`` (faults with wall times, `harness.net.nemesis.write_nemesis_log`),
``summary.json``, and copies of the node logs (``n<id>.log``, when the run owned the nodes);
``paxlab load`` adds the manifest ``artifact.json`` (`harness.failures.load_artifact`). The
history's times and the faults' ``t_s`` count from one origin, the load's start (its wall
time is ``started_wall`` in the summary), so a report draws them on one axis.
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import attrs
import trio

from harness.checks.history_files import write_history
from harness.checks.linearizability import check_linearizability
from harness.net import procs
from harness.net.config import ClusterConfig
from harness.net.load import LoadRun
from harness.net.nemesis import RealNemesis, write_nemesis_log

log = logging.getLogger(__name__)

SERVING_TIMEOUT_S = 20.0


class ClusterUnavailable(Exception):
    """No serving leader within the timeout (a dead cluster, or nodes already running)."""


@attrs.frozen(kw_only=True)
class SessionResult:
    """``verdict``: "linearizable", "violation" or "unknown"; ``summary``: what summary.json
    holds; ``out_dir``: the artifact folder; ``nemesis_events``: the faults as logged (what
    nemesis.jsonl holds; empty without a nemesis)."""

    verdict: str
    summary: dict[str, Any]
    out_dir: Path
    nemesis_events: tuple[dict[str, Any], ...] = ()


async def run_session(
    config: ClusterConfig,
    run: LoadRun,
    out_dir: Path,
    nemesis: tuple[str, ...] | None = None,
    check_timeout_s: float = 60.0,
) -> SessionResult:
    """Run the load (see module doc); raises ClusterUnavailable (nothing checked then)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    nem: RealNemesis | None = None
    failed_keys: list[str] = []
    unavailable: str | None = None
    handed_back: list[int] = []
    if nemesis is not None:  # take the cluster over: its nodes go behind our proxies
        handed_back = [n for n in config.ids if procs.running_pid(config, n) is not None]
        if handed_back:
            log.info("stopping running nodes %s to run them behind the nemesis", handed_back)
            procs.stop_all(config)
    try:
        async with trio.open_nursery() as nursery:
            if nemesis is not None:
                nem = RealNemesis(config, nemesis, run.seed)
                nem.events = run.nemesis_events  # one list: kept if the run is interrupted
                await nem.start(nursery)
            leader = await procs.wait_serving(
                config, SERVING_TIMEOUT_S if nem is not None else 5.0
            )
            if leader is None:
                addrs = ", ".join(f"{n.host}:{n.port}" for n in config.nodes)
                unavailable = (
                    f"timed out: cluster {config.cluster_id!r} has no serving leader at "
                    f"{addrs} (is it started? paxlab cluster start --config {config.path})"
                )
                nursery.cancel_scope.cancel()
            if unavailable is None:
                await _load(config, run, nem, extra)
                failed_keys = await _final(config, run)
            nursery.cancel_scope.cancel()
    finally:
        _cleanup(config, nem, extra, out_dir)
        for n in handed_back:  # as `paxlab cluster start` left them: detached
            procs.spawn_node(config, n)
    if handed_back:
        serving = await procs.wait_serving(config, SERVING_TIMEOUT_S) is not None
        extra["handed_back"] = {"nodes": handed_back, "serving": serving}
    if unavailable is not None:
        raise ClusterUnavailable(unavailable)
    events: tuple[dict[str, Any], ...] = () if nem is None else tuple(nem.events)
    return finish_session(config, run, out_dir, nemesis, events, failed_keys, extra,
                          check_timeout_s)


async def _load(config: ClusterConfig, run: LoadRun, nem: RealNemesis | None,
                extra: dict[str, Any]) -> None:
    """The load with the nemesis; then heal, and (owning the nodes) a full restart."""
    stop = trio.Event()
    origin_ns = time.monotonic_ns()  # one origin for the history and the fault log
    run.started_wall = extra["started_wall"] = datetime.datetime.now(datetime.UTC).isoformat(
        timespec="milliseconds")
    if nem is not None:
        nem.set_origin(origin_ns / 1e9)
    async with trio.open_nursery() as nursery:
        if nem is not None:
            nursery.start_soon(nem.run, stop)
        await run.run(config, started_ns=origin_ns)
        stop.set()  # the nemesis ends its current fault (shielded) and returns
    if nem is not None:
        nem.heal_all()
        assert nem.cluster is not None
        extra["stopped"] = nem.cluster.stop_all()
        nem.cluster.start_all()
        extra["restarted_for_durability"] = True


async def _final(config: ClusterConfig, run: LoadRun) -> list[str]:
    if await procs.wait_serving(config, SERVING_TIMEOUT_S) is None:
        return [f"k{i}" for i in range(run.keys)]
    return await run.final_reads(config)


def _cleanup(config: ClusterConfig, nem: RealNemesis | None, extra: dict[str, Any],
             out_dir: Path) -> None:
    if nem is not None and nem.cluster is not None:
        extra["exit"] = nem.cluster.stop_all()
        nem.cluster.close()
        logs = {}
        for n in config.ids:
            src = procs.log_path(config, n)
            if src.exists():
                shutil.copy(src, out_dir / f"n{n}.log")
                logs[str(n)] = f"n{n}.log"
        extra["logs"] = logs


def finish_session(config: ClusterConfig, run: LoadRun, out_dir: Path,
                   nemesis: tuple[str, ...] | None, events: tuple[dict[str, Any], ...],
                   failed_keys: list[str], extra: dict[str, Any],
                   check_timeout_s: float = 60.0) -> SessionResult:
    """Check ``run``'s history and write the folder: history, nemesis log (``events``, when
    ``nemesis`` is not None), summary. ``extra`` joins the summary (``started_wall``,
    ``logs``, ...). Returns the verdict: a failed final read turns linearizable into unknown.
    """
    write_history(out_dir / "history.jsonl", run.recorder.events)
    result = check_linearizability(run.recorder.events, "kv", timeout_s=check_timeout_s)
    summary = run.summary()
    summary.update({
        "cluster_id": config.cluster_id,
        "seed": run.seed,
        "nemesis": None if nemesis is None else list(nemesis),
        "faults": sum(1 for e in events if e["phase"] == "start"),
        "final_reads_failed": failed_keys,
        "verdict": result.verdict,
        "check": result.summary(),
        **extra,
    })
    if "logs" not in summary:  # the nodes are not ours: name their live logs
        summary["logs"] = {str(n): str(procs.log_path(config, n)) for n in config.ids
                           if procs.log_path(config, n).exists()}
    if nemesis is not None:
        write_nemesis_log(out_dir / "nemesis.jsonl", events)
    verdict = result.verdict
    if failed_keys and verdict == "linearizable":
        verdict = "unknown"  # a key never read back after the run: durability unchecked
    summary["verdict"] = verdict
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return SessionResult(verdict=verdict, summary=summary, out_dir=out_dir,
                         nemesis_events=events)
