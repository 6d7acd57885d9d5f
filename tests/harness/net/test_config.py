"""Bad configurations and data directories: one line naming the field or file, exit 2,
nothing written; and a good one parses to what the file says."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.net.config import (
    IDENTITY_FILE,
    ConfigError,
    check_data_dir,
    load_config,
    render_config,
)
from harness.net.local import init_cluster

TIMING = {"heartbeat_interval_ms": 50, "election_timeout_ms": 300}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_a_fresh_config_parses_to_what_it_says(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, render_config("c1", [5001, 5002, 5003], TIMING)))
    assert config.cluster_id == "c1"
    assert config.ids == (0, 1, 2)
    assert [n.port for n in config.nodes] == [5001, 5002, 5003]
    assert config.nodes[1].data_dir == (tmp_path / "n1").resolve()
    assert config.timing.heartbeat_interval_us == 50_000
    assert config.timing.election_timeout_us == 300_000
    assert config.protocol == "multipaxos"
    raft = load_config(_write(tmp_path, render_config("c1", [5001], TIMING, "raft")))
    assert raft.protocol == "raft"
    bare = render_config("c1", [5001], TIMING).replace('protocol = "multipaxos"\n', "")
    assert load_config(_write(tmp_path, bare)).protocol == "multipaxos"  # older files


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("id = 1\n", "id = 0\n"), "node[1].id: duplicate id 0"),
        (lambda t: t.replace("port = 5002", "port = 5001"), "node[1].port: duplicate address"),
        (lambda t: t.replace('data_dir = "n2"', 'data_dir = "n0"'), "node[2].data_dir"),
        (lambda t: t.replace("port = 5003", "port = 70000"), "node[2].port must be"),
        (lambda t: t.replace('id = "c1"', "id = 5"), "cluster.id"),
        (lambda t: t.replace('"multipaxos"', '"example"'), "cluster.protocol must be one of"),
        (lambda t: t.replace("[timing]", "[timing]\nbogus = 1"), "unknown field 'bogus'"),
        (lambda t: t.replace('host = "127.0.0.1"', 'host = "10.0.0.1"', 1), "node[0].host"),
        (lambda t: t + "[[node]\n", "not valid TOML"),
        (lambda t: t.replace("election_timeout_ms = 300", "election_timeout_ms = -1"),
         "timing.election_timeout_ms"),
    ],
)
def test_bad_configs_name_the_field(tmp_path: Path, edit: object, needle: str) -> None:
    text = render_config("c1", [5001, 5002, 5003], TIMING)
    path = _write(tmp_path, edit(text))  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_data_dirs_missing_or_of_another_cluster_or_node_are_refused(tmp_path: Path) -> None:
    config = init_cluster(tmp_path / "a", 3)
    check_data_dir(config, 0)  # its own: fine
    ident = config.nodes[1].data_dir / IDENTITY_FILE
    ident.write_text(json.dumps({"cluster_id": "someone-else", "node_id": 1}))
    with pytest.raises(ConfigError, match="belongs to cluster 'someone-else'"):
        check_data_dir(config, 1)
    ident.write_text(json.dumps({"cluster_id": config.cluster_id, "node_id": 2}))
    with pytest.raises(ConfigError, match="belongs to node 2, not 1"):
        check_data_dir(config, 1)
    (config.nodes[2].data_dir / IDENTITY_FILE).unlink()
    config.nodes[2].data_dir.rmdir()
    with pytest.raises(ConfigError, match="does not exist"):
        check_data_dir(config, 2)


def _node(config_path: Path, node: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["node", "--config", str(config_path), "--id", str(node)])
    err = capsys.readouterr().err
    return code, err


def test_node_cli_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = init_cluster(tmp_path / "a", 3)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    (config.nodes[1].data_dir / IDENTITY_FILE).write_text(
        json.dumps({"cluster_id": "other", "node_id": 1})
    )
    cases = [(1, "belongs to cluster 'other'"), (7, "no node with id=7")]
    for node, needle in cases:
        code, err = _node(config.path, node, capsys)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", config.nodes[0].port))
        busy.listen()
        code, err = _node(config.path, 0, capsys)
    assert code == 2 and "cannot listen on 127.0.0.1:" in err, err
    assert len(err.strip().splitlines()) == 1
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # no storage folder, no log, nothing
    code = main(["node", "--config", str(tmp_path / "missing.toml"), "--id", "0"])
    assert code == 2 and "config file not found" in capsys.readouterr().err


def test_cluster_init_refuses_a_folder_that_holds_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "init", "--nodes", "3", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    text = (tmp_path / "c" / "cluster.toml").read_text()
    assert main(["cluster", "init", "--nodes", "3", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "c" / "cluster.toml").read_text() == text


def test_cluster_start_refuses_a_foreign_data_dir_and_a_port_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.net import procs

    config = init_cluster(tmp_path / "a", 3)
    ident = config.nodes[2].data_dir / IDENTITY_FILE
    good = ident.read_text()
    ident.write_text(json.dumps({"cluster_id": "other", "node_id": 2}))
    assert main(["cluster", "start", "--config", str(config.path)]) == 2
    err = capsys.readouterr().err
    assert "belongs to cluster 'other'" in err and len(err.strip().splitlines()) == 1
    assert not config.run_dir.exists()  # nothing started, nothing written
    ident.write_text(good)
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", config.nodes[1].port))
            busy.listen()
            assert main(["cluster", "start", "--config", str(config.path)]) == 2
        err = capsys.readouterr().err
        assert f"cannot listen on 127.0.0.1:{config.nodes[1].port}" in err, err
        assert len(err.strip().splitlines()) == 1
    finally:
        procs.stop_all(config, timeout_s=3.0)
    assert [n for n in config.ids if procs.running_pid(config, n) is not None] == []
