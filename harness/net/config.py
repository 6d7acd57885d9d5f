"""A real cluster's configuration: one TOML file read with `tomllib`, validated as a whole.

Example (``paxlab cluster init`` writes one)::

    [cluster]
    id = "paxlab-3f9c"            # every frame's hello carries it; other clusters are refused
    protocol = "multipaxos"       # or "raft" (optional; every node runs the same one)

    [timing]                       # consensus.Timing, in milliseconds here
    heartbeat_interval_ms = 50
    election_timeout_ms = 300
    election_jitter_ms = 300
    lease_duration_ms = 600
    drift_bound_ppm = 10000

    [storage]
    checkpoint_every = 2000        # applied slots between KV checkpoints (0 = never)

    [[node]]
    id = 0
    host = "127.0.0.1"
    port = 47001
    data_dir = "n0"                # relative to the config file's folder

A bad file raises `ConfigError` whose message is one line naming the file and the field. A
node's data directory carries an identity file (`IDENTITY_FILE`) naming its cluster and node;
`check_data_dir` refuses a directory that is missing or belongs to another cluster or node.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import attrs

from consensus import Timing

IDENTITY_FILE = "paxlab-node.json"


WIRE_PROTOCOLS: tuple[str, ...] = ("multipaxos", "raft")
"""The protocols whose messages `harness.net.codec` carries (``example`` runs only in the
simulator and the explorer)."""


class ConfigError(ValueError):
    """A configuration or data directory that cannot be used; one line naming file and field."""


@attrs.frozen(kw_only=True)
class NodeSpec:
    """One node: its id, listening address and data directory (absolute)."""

    id: int
    host: str
    port: int
    data_dir: Path


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """A validated cluster configuration (see the module doc for the file format)."""

    path: Path
    cluster_id: str
    nodes: tuple[NodeSpec, ...]
    timing: Timing
    checkpoint_every: int = 2000
    protocol: str = "multipaxos"

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(n.id for n in self.nodes)

    def node(self, node_id: int) -> NodeSpec:
        """Return node ``node_id``; raises ConfigError naming the ids the file has."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ConfigError(f"{self.path}: no node with id={node_id} (ids: {list(self.ids)})")

    @property
    def run_dir(self) -> Path:
        """Where pid files and supervisor logs go: ``<config folder>/run``."""
        return self.path.parent / "run"


_TIMING_FIELDS = {
    "heartbeat_interval_ms": "heartbeat_interval_us",
    "election_timeout_ms": "election_timeout_us",
    "election_jitter_ms": "election_jitter_us",
    "lease_duration_ms": "lease_duration_us",
}


def _int(path: Path, where: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ConfigError(f"{path}: {where} must be an integer in [{low}, {high}], got {value!r}")
    return value


def _table(path: Path, data: dict[str, Any], name: str, required: bool) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        if required:
            raise ConfigError(f"{path}: missing table [{name}]")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name} must be a table")
    return value


def _unknown(path: Path, where: str, table: dict[str, Any], known: set[str]) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"{path}: {where}: unknown field {extra[0]!r}")


def parse_config(path: Path, data: dict[str, Any]) -> ClusterConfig:
    """Validate parsed TOML ``data`` read from ``path``; raises ConfigError."""
    _unknown(path, "top level", data, {"cluster", "timing", "storage", "node"})
    cluster = _table(path, data, "cluster", True)
    _unknown(path, "[cluster]", cluster, {"id", "protocol"})
    cid = cluster.get("id")
    if not isinstance(cid, str) or not cid or len(cid) > 64:
        raise ConfigError(f"{path}: cluster.id must be a non-empty string of <= 64 chars")
    protocol = cluster.get("protocol", "multipaxos")
    if protocol not in WIRE_PROTOCOLS:
        raise ConfigError(f"{path}: cluster.protocol must be one of "
                          f"{', '.join(map(repr, WIRE_PROTOCOLS))}, got {protocol!r}")
    timing_t = _table(path, data, "timing", False)
    _unknown(path, "[timing]", timing_t, {*_TIMING_FIELDS, "drift_bound_ppm"})
    kwargs: dict[str, int] = {}
    for name, field in _TIMING_FIELDS.items():
        if name in timing_t:
            low = 0 if name == "election_jitter_ms" else 1
            kwargs[field] = _int(path, f"timing.{name}", timing_t[name], low, 3_600_000) * 1000
    if "drift_bound_ppm" in timing_t:
        kwargs["drift_bound_ppm"] = _int(
            path, "timing.drift_bound_ppm", timing_t["drift_bound_ppm"], 0, 100_000
        )
    try:
        timing = Timing(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{path}: [timing]: {exc}") from None
    storage_t = _table(path, data, "storage", False)
    _unknown(path, "[storage]", storage_t, {"checkpoint_every"})
    checkpoint_every = _int(
        path, "storage.checkpoint_every", storage_t.get("checkpoint_every", 2000), 0, 10**9
    )
    raw_nodes = data.get("node")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ConfigError(f"{path}: needs at least one [[node]] table")
    nodes: list[NodeSpec] = []
    ids: dict[int, int] = {}
    addrs: dict[tuple[str, int], int] = {}
    dirs: dict[Path, int] = {}
    for i, raw in enumerate(raw_nodes):
        where = f"node[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: {where} must be a table")
        _unknown(path, where, raw, {"id", "host", "port", "data_dir"})
        for name in ("id", "host", "port", "data_dir"):
            if name not in raw:
                raise ConfigError(f"{path}: {where}.{name} is missing")
        nid = _int(path, f"{where}.id", raw["id"], 0, 1 << 30)
        if nid in ids:
            raise ConfigError(f"{path}: {where}.id: duplicate id {nid} (also node[{ids[nid]}])")
        host = raw["host"]
        if host != "127.0.0.1":
            raise ConfigError(f"{path}: {where}.host must be \"127.0.0.1\" (loopback clusters "
                              f"only), got {host!r}")
        port = _int(path, f"{where}.port", raw["port"], 1, 65535)
        if (host, port) in addrs:
            raise ConfigError(
                f"{path}: {where}.port: duplicate address {host}:{port} "
                f"(also node[{addrs[host, port]}])"
            )
        data_dir = raw["data_dir"]
        if not isinstance(data_dir, str) or not data_dir:
            raise ConfigError(f"{path}: {where}.data_dir must be a non-empty string")
        full = (path.parent / data_dir).resolve()
        if full in dirs:
            raise ConfigError(
                f"{path}: {where}.data_dir: {full} is also node[{dirs[full]}]'s data_dir"
            )
        ids[nid], addrs[host, port], dirs[full] = i, i, i
        nodes.append(NodeSpec(id=nid, host=host, port=port, data_dir=full))
    nodes.sort(key=lambda n: n.id)
    return ClusterConfig(
        path=path, cluster_id=cid, nodes=tuple(nodes), timing=timing,
        checkpoint_every=checkpoint_every, protocol=protocol,
    )


def load_config(path: str | Path) -> ClusterConfig:
    """Read and validate the TOML file at ``path``; raises ConfigError (one line)."""
    p = Path(path).resolve()
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(p, data)


def render_config(cluster_id: str, ports: list[int], timing_ms: dict[str, int],
                  protocol: str = "multipaxos") -> str:
    """Return the TOML text of a fresh loopback cluster with nodes 0..len(ports)-1."""
    lines = ["[cluster]", f'id = "{cluster_id}"', f'protocol = "{protocol}"', "", "[timing]"]
    lines += [f"{k} = {v}" for k, v in timing_ms.items()]
    lines += ["", "[storage]", "checkpoint_every = 2000"]
    for i, port in enumerate(ports):
        lines += ["", "[[node]]", f"id = {i}", 'host = "127.0.0.1"', f"port = {port}",
                  f'data_dir = "n{i}"']
    return "\n".join(lines) + "\n"


def write_identity(config: ClusterConfig, node_id: int) -> None:
    """Stamp node ``node_id``'s data directory with its cluster id and node id."""
    spec = config.node(node_id)
    ident = {"cluster_id": config.cluster_id, "node_id": node_id}
    (spec.data_dir / IDENTITY_FILE).write_text(json.dumps(ident) + "\n", encoding="utf-8")


def check_data_dir(config: ClusterConfig, node_id: int) -> None:
    """Raise ConfigError unless node ``node_id``'s data directory exists and is its own.

    A directory without an identity file is refused too: `paxlab cluster init` stamps every
    directory it creates, so a bare directory was not made for this cluster.
    """
    spec = config.node(node_id)
    d = spec.data_dir
    if not d.is_dir():
        raise ConfigError(f"{config.path}: node {node_id} data_dir {d} does not exist "
                          f"(create it with paxlab cluster init)")
    ident_path = d / IDENTITY_FILE
    try:
        ident = json.loads(ident_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{ident_path}: missing: data_dir {d} was not created for "
                          f"cluster {config.cluster_id!r}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{ident_path}: unreadable identity file: {exc}") from None
    if not isinstance(ident, dict):
        raise ConfigError(f"{ident_path}: identity file must hold a JSON object")
    if ident.get("cluster_id") != config.cluster_id:
        raise ConfigError(f"{ident_path}: data_dir belongs to cluster "
                          f"{ident.get('cluster_id')!r}, not {config.cluster_id!r}")
    if ident.get("node_id") != node_id:
        raise ConfigError(f"{ident_path}: data_dir belongs to node {ident.get('node_id')!r}, "
                          f"not {node_id}")
