"""Load artifacts: the folder ``paxlab load`` leaves after a run of a real cluster.

The folder is the simulator's artifact format (`harness.failures.artifact`: same format name
and version, same ``history.jsonl``) with ``"kind": "load"`` and ``"world": "cluster"`` in
``artifact.json``, because a real run has no choice list or fingerprint to replay: what it
keeps instead is what was measured. The manifest records the cluster (id, config path, node
addresses), the load's options (ops, clients, keys, duration, seed), the nemesis kinds (null:
no nemesis), the verdict and the checker's summary, the counts, throughput and latency
percentiles, the wall time the run started, and the per-node log files (relative to the
folder when the run copied them, else the live logs' paths). Beside it:

- ``history.jsonl``: the checked history (times in ns since the run started);
- ``nemesis.jsonl``: one line per fault start and end (`harness.net.nemesis.EVENT_FIELDS`;
  ``t_s`` on the history's axis), present when the manifest names nemesis kinds;
- ``summary.json`` and the node logs (``n<id>.log``).

`read_load_artifact` checks every field and every line and raises `ArtifactError` naming the
file and the line or field, never half an artifact.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import attrs

from harness.checks.history import HistoryEvent
from harness.failures.artifact import (
    ARTIFACT_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    HISTORY_FILE,
    LOAD_KIND,
    ArtifactError,
    load_json_object,
    read_json_lines,
    versions,
)
from harness.net.config import ClusterConfig
from harness.net.load import LoadRun
from harness.net.nemesis import EVENT_FIELDS, KINDS, PHASES
from harness.net.session import SessionResult

WORLD = "cluster"
NEMESIS_FILE = "nemesis.jsonl"
VERDICTS: tuple[str, ...] = ("linearizable", "violation", "unknown")
FAULTS: tuple[str, ...] = (*KINDS, "heal")
"""Faults a nemesis log may name: the kinds, and the final heal of everything."""
PERCENTILES: tuple[str, ...] = ("p50", "p99", "p99.9", "max")
_OPTION_NAMES: tuple[str, ...] = ("ops", "clients", "keys", "seed")


@attrs.frozen(kw_only=True)
class LoadArtifact:
    """A load artifact as read from (or written to) its folder.

    Attributes:
        folder: where it lives.
        cluster_id, config_path: the cluster and its TOML file.
        protocol: what its nodes ran (``multipaxos`` for manifests written before it was
            recorded).
        nodes: ``{"id", "host", "port"}`` per node.
        options: ``ops``, ``clients``, ``keys``, ``seed`` (ints) and ``duration_s`` (0: none).
        nemesis: the fault kinds enabled, or None (no nemesis: the cluster was not ours).
        verdict: ``linearizable``, ``violation`` or ``unknown``; ``check``: the checker's line.
        started_wall: ISO 8601 UTC wall time of the run's start, the origin of every time.
        elapsed_s: the load's length in seconds.
        counts: ``ok``, ``fail``, ``info`` operations (eventual reads included).
        throughput: ``acked_writes_per_s`` and ``ops_per_s``.
        latency_ms, write_latency_ms: `PERCENTILES` of every ok op and of ok writes alone.
        final_reads_failed: keys never read back after the run (durability unchecked).
        logs: node id (as text) -> log file (relative to ``folder``, or absolute).
        versions: as in simulator artifacts (`harness.failures.artifact.versions`).
        history: the history events (JSON objects).
        faults: the nemesis log's events (JSON objects, `EVENT_FIELDS`), in logged order.
    """

    folder: Path
    cluster_id: str
    config_path: str
    nodes: tuple[dict[str, Any], ...]
    options: dict[str, Any]
    nemesis: tuple[str, ...] | None
    verdict: str
    check: str
    started_wall: str
    elapsed_s: float
    counts: dict[str, int]
    throughput: dict[str, float]
    latency_ms: dict[str, float]
    write_latency_ms: dict[str, float]
    final_reads_failed: tuple[str, ...]
    logs: dict[str, str]
    versions: dict[str, str]
    history: tuple[dict[str, Any], ...] = ()
    faults: tuple[dict[str, Any], ...] = ()
    protocol: str = "multipaxos"

    @property
    def seed(self) -> int:
        return int(self.options["seed"])


def write_load_artifact(result: SessionResult, config: ClusterConfig, run: LoadRun) -> Path:
    """Write the manifest ``artifact.json`` of the session's folder (the session already wrote
    the history, the nemesis log and the logs); return its path."""
    s = result.summary
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": LOAD_KIND,
        "world": WORLD,
        "cluster_id": config.cluster_id,
        "protocol": config.protocol,
        "config": str(config.path),
        "nodes": [{"id": n.id, "host": n.host, "port": n.port} for n in config.nodes],
        "options": {"ops": run.ops, "clients": run.clients, "keys": run.keys,
                    "duration_s": run.duration_s, "seed": run.seed},
        "nemesis": s.get("nemesis"),
        "verdict": result.verdict,
        "check": s["check"],
        "started_wall": s.get("started_wall", ""),
        "elapsed_s": s["elapsed_s"],
        "counts": s["counts"],
        "throughput": {"acked_writes_per_s": s["acked_writes_per_s"],
                       "ops_per_s": s["ops_per_s"]},
        "latency_ms": s["latency_ms"],
        "write_latency_ms": s["write_latency_ms"],
        "final_reads_failed": s["final_reads_failed"],
        "logs": s.get("logs", {}),
        "history": HISTORY_FILE,
        "nemesis_log": None if s.get("nemesis") is None else NEMESIS_FILE,
        "versions": versions(),
    }
    path = result.out_dir / ARTIFACT_FILE
    path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return path


def read_load_artifact(folder: str | Path) -> LoadArtifact:
    """Read and validate the load artifact in ``folder`` (see the module doc).

    Raises:
        ArtifactError: a file is missing or malformed, a field is missing or ill-typed, or a
            line of the history or nemesis log is not what it must be (file and line named).
    """
    path = Path(folder)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an artifact folder (missing or not a directory)")
    mp = path / ARTIFACT_FILE
    m = load_json_object(mp)
    if m.get("format") != FORMAT_NAME or m.get("kind") != LOAD_KIND:
        raise ArtifactError(f"{mp}: not a paxlab load artifact: format={m.get('format')!r} "
                            f"kind={m.get('kind')!r}")
    version = _field(mp, m, "version", int)
    if version > FORMAT_VERSION:
        raise ArtifactError(f"{mp}: unsupported artifact version={version!r}, this paxlab "
                            f"reads up to {FORMAT_VERSION}")
    if m.get("world") != WORLD:
        raise ArtifactError(f"{mp}: field 'world' must be {WORLD!r}, got {m.get('world')!r}")
    options = _field(mp, m, "options", dict)
    for name in _OPTION_NAMES:
        _field(mp, options, name, int, where="options.")
    _field(mp, options, "duration_s", float, where="options.")
    nemesis = m.get("nemesis", "missing")
    if nemesis is not None and not (
        isinstance(nemesis, list) and all(k in KINDS for k in nemesis)
    ):
        raise ArtifactError(f"{mp}: field 'nemesis' must be null or a list of "
                            f"{', '.join(KINDS)}, got {nemesis!r}")
    verdict = _field(mp, m, "verdict", str)
    if verdict not in VERDICTS:
        raise ArtifactError(f"{mp}: field 'verdict' must be one of {', '.join(VERDICTS)}, "
                            f"got {verdict!r}")
    started_wall = _field(mp, m, "started_wall", str)
    _wall(mp, "started_wall", started_wall)
    counts = _field(mp, m, "counts", dict)
    for name in ("ok", "fail", "info"):
        _field(mp, counts, name, int, where="counts.")
    throughput = _field(mp, m, "throughput", dict)
    for name in ("acked_writes_per_s", "ops_per_s"):
        _field(mp, throughput, name, float, where="throughput.")
    latencies = {}
    for name in ("latency_ms", "write_latency_ms"):
        table = _field(mp, m, name, dict)
        for p in PERCENTILES:
            _field(mp, table, p, float, where=f"{name}.")
        latencies[name] = table
    failed = _field(mp, m, "final_reads_failed", list)
    logs = _field(mp, m, "logs", dict)
    nodes = _field(mp, m, "nodes", list)
    if not all(isinstance(v, str) for v in [*failed, *logs.values()]) or not all(
            isinstance(n, dict) for n in nodes):
        raise ArtifactError(f"{mp}: fields 'final_reads_failed', 'logs' and 'nodes' must "
                            f"hold strings, strings and objects")
    vers = _field(mp, m, "versions", dict)
    return LoadArtifact(
        folder=path, cluster_id=_field(mp, m, "cluster_id", str),
        config_path=_field(mp, m, "config", str), nodes=tuple(nodes), options=options,
        nemesis=None if nemesis is None else tuple(nemesis), verdict=verdict,
        check=_field(mp, m, "check", str), started_wall=started_wall,
        elapsed_s=float(_field(mp, m, "elapsed_s", float)), counts=counts,
        throughput=throughput, latency_ms=latencies["latency_ms"],
        write_latency_ms=latencies["write_latency_ms"], final_reads_failed=tuple(failed),
        logs=logs, versions={str(k): str(v) for k, v in vers.items()},
        history=read_history(path / HISTORY_FILE),
        protocol=_protocol(mp, m),
        faults=() if nemesis is None else read_nemesis_log(path / NEMESIS_FILE),
    )


def read_history(path: Path) -> tuple[dict[str, Any], ...]:
    """The history's events as JSON objects, each checked to be a history event (the
    `harness.checks.history` format). Raises ArtifactError naming the file and line."""
    events = []
    for lineno, event in read_json_lines(path):
        try:
            HistoryEvent.from_json(event, line=lineno)
        except (ValueError, TypeError) as exc:
            raise ArtifactError(f"{path}:{lineno}: not a history event: {exc}") from None
        events.append(event)
    return tuple(events)


def read_nemesis_log(path: Path) -> tuple[dict[str, Any], ...]:
    """Read and check ``nemesis.jsonl``: every line an object with `EVENT_FIELDS` well typed
    (``t_s`` a non-negative number of seconds, ``wall`` ISO 8601, ``phase`` start or end,
    ``fault`` one of `FAULTS`, ``nodes`` a list of ints). Raises ArtifactError (file:line)."""
    events = []
    for lineno, event in read_json_lines(path):
        where = f"{path}:{lineno}"
        missing = [k for k in EVENT_FIELDS if k not in event]
        if missing:
            raise ArtifactError(f"{where}: fault event without {', '.join(missing)}")
        t_s = event["t_s"]
        if not _is_number(t_s) or t_s < 0:
            raise ArtifactError(f"{where}: t_s must be seconds since the run started, "
                                f"got {t_s!r}")
        if event["phase"] not in PHASES:
            raise ArtifactError(f"{where}: phase must be start or end, got {event['phase']!r}")
        if event["fault"] not in FAULTS:
            raise ArtifactError(f"{where}: fault must be one of {', '.join(FAULTS)}, "
                                f"got {event['fault']!r}")
        nodes = event["nodes"]
        if not isinstance(nodes, list) or not all(_is_int(n) for n in nodes):
            raise ArtifactError(f"{where}: nodes must be a list of node ids, got {nodes!r}")
        if not isinstance(event["wall"], str) or not isinstance(event["detail"], str):
            raise ArtifactError(f"{where}: wall and detail must be strings")
        _wall(path, f"line {lineno} wall", event["wall"])
        events.append(event)
    return tuple(events)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _field(path: Path, table: dict[str, Any], name: str, kind: type, where: str = "") -> Any:
    """``table[name]``, checked to be a ``kind`` (float accepts ints; ints are >= 0)."""
    if name not in table:
        raise ArtifactError(f"{path}: missing field {where + name!r}")
    value = table[name]
    ok = _is_number(value) if kind is float else isinstance(value, kind) and not (
        isinstance(value, bool) and kind is not bool)
    if not ok or (kind in (int, float) and value < 0):
        raise ArtifactError(f"{path}: field {where + name!r} must be a {kind.__name__}, "
                            f"got {value!r}")
    return value


def _wall(path: Path, name: str, text: str) -> None:
    try:
        datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ArtifactError(f"{path}: {name} must be an ISO 8601 time, got {text!r}") from None


def _protocol(mp: Path, m: dict[str, Any]) -> str:
    """The manifest's ``protocol`` (absent in manifests older than the field: Multi-Paxos,
    the only protocol a cluster ran then)."""
    protocol = m.get("protocol", "multipaxos")
    if not isinstance(protocol, str) or not protocol:
        raise ArtifactError(f"{mp}: field 'protocol' must be a non-empty string")
    return protocol
