"""Fuzzing every command's arguments, and the artifact and history files they read.

Whatever the input, a command ends with exit 0, 1, 2 or 3 (argparse: 0 for --help, 2), and
never with a traceback: `harness.cli.main` is called in-process, so any exception that is
not turned into an exit code fails the test. Work is kept small: runs go through the fake
run function (`tests.harness.failures.fakerun`), searches get ``--max-states``, and the size
flags draw small values (a million replicas is a question of memory, not of parsing).

The default profile runs a few dozen examples per test; ``--hypothesis-profile nightly``
(or ``HYPOTHESIS_PROFILE=nightly``) runs many more.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness.cli.run
import harness.failures.sweep
from harness.cli import main
from harness.failures.artifact import write_artifact
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, fake_run

EXIT_CODES = {0, 1, 2, 3}
_EXAMPLES = max(15, settings.default.max_examples // 2)  # ci: 25 each; nightly: 1000 each
FUZZ = settings(max_examples=_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SMALL_INTS = st.sampled_from(["-1", "0", "1", "2", "3", "5", "x", "", "1.5", "nan", "-0"])
ANY_INT = st.one_of(SMALL_INTS, st.integers(-(2**70), 2**70).map(str))
FLOATS = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e-300", "0.5", "1", "x", ""])
TEXT = st.text(max_size=12)


@pytest.fixture(scope="module")
def files() -> Iterator[dict[str, Path]]:
    """A passing and a failing sweep artifact, an explore artifact, a history, odd paths."""
    root = Path(tempfile.mkdtemp(prefix="paxlab-fuzz-"))
    bad = failing_seeds(50)
    good = next(s for s in range(50) if s not in bad)
    write_artifact(root / "fail", fake_run(RunOptions(seed=bad[0])))
    write_artifact(root / "pass", fake_run(RunOptions(seed=good)))
    assert main(["explore", "--variant", "quorum-one", "--out", str(root / "explore")]) == 1
    (root / "file").write_text("x\n")
    (root / "h.jsonl").write_text(
        '{"process": 0, "type": "invoke", "f": "write", "key": null, "value": 1, "time": 0}\n'
        '{"process": 0, "type": "ok", "f": "write", "key": null, "value": 1, "time": 5}\n')
    yield {name: root / name for name in ("fail", "pass", "explore", "file", "h.jsonl")} | {
        "missing": root / "missing", "under-file": root / "file" / "sub", "root": root}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    """Fast runs, and a working folder of our own (an empty ``--out`` means the current
    folder)."""
    monkeypatch.setattr(harness.failures.sweep, "default_run", fake_run)
    real_scenario = harness.cli.run.run_replica_loss
    monkeypatch.setattr(harness.cli.run, "run_replica_loss",
                        lambda options: real_scenario(attrs.evolve(options, ops=60)))
    cwd = files["root"] / "cwd"
    cwd.mkdir(exist_ok=True)
    monkeypatch.chdir(cwd)


def _paths(files: dict[str, Path]) -> st.SearchStrategy[str]:
    return st.sampled_from([str(p) for k, p in files.items() if k != "root"] + ["", "-"])


def _out_paths(files: dict[str, Path]) -> st.SearchStrategy[str]:
    """Where a command may be told to write: fresh folders, a file, under a file."""
    root = files["root"]
    return st.one_of(
        st.integers(0, 10**6).map(lambda i: str(root / "out" / f"o{i}")),
        st.sampled_from([str(files["file"]), str(files["under-file"]), ""]),
    )


def _flags(pairs: dict[str, st.SearchStrategy[str]], switches: tuple[str, ...] = ()
           ) -> st.SearchStrategy[list[str]]:
    flag = st.sampled_from(sorted(pairs)).flatmap(
        lambda f: pairs[f].map(lambda v, f=f: [f, v]))
    switch = st.sampled_from(switches).map(lambda s: [s]) if switches else st.nothing()
    return st.lists(st.one_of(flag, switch), max_size=5).map(
        lambda parts: [word for part in parts for word in part])


def _check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        code = exc.code if isinstance(exc.code, int) else 2
    _, err = capsys.readouterr()
    assert code in EXIT_CODES, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2 and err:
        assert err.count("\n") == 1, (argv, err)  # one line


RUN_FLAGS = {"--seed": ANY_INT, "--replicas": SMALL_INTS, "--ops": SMALL_INTS,
             "--clients": SMALL_INTS, "--keys": SMALL_INTS, "--variant": TEXT,
             "--faults": st.sampled_from(["none", "crash", "crash,nope", "", "permanent",
                                          ",", "partition,loss"])}
EXPLORE_FLAGS = {f"--{name}": SMALL_INTS for name in (
    "replicas", "writes", "reads", "crashes", "max-round", "ticks", "drops", "dups",
    "inflight", "depth", "candidates", "spares", "log-spares", "kills", "walks", "seed",
    "max-states", "dead-after-us")} | {
    "--strategy": st.sampled_from(["bfs", "dfs", "random", "x"]), "--variant": TEXT}


@pytest.mark.parametrize("command", ["run", "scenario", "sweep", "replay", "shrink",
                                     "report", "check-history", "explore", "bogus"])
@FUZZ
@given(data=st.data())
def test_fuzz_command_arguments(
    command: str, data: st.DataObject, files: dict[str, Path], fake: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths, outs = _paths(files), _out_paths(files)
    if command in ("run", "scenario"):
        scenario = command == "scenario"
        flags = dict(RUN_FLAGS)
        if scenario:
            flags |= {"--bandwidth-mb-s": FLOATS, "--partition-s": FLOATS,
                      "--data-mb": SMALL_INTS, "--log-replicas": SMALL_INTS}
        argv = ["run", *data.draw(_flags(flags, ("--json", "--unsafe-clocks")))]
        if scenario:
            argv += ["--scenario", data.draw(st.sampled_from(["replica-loss", "nope"]))]
        argv += ["--ops", "20"] if not scenario else []
    elif command == "sweep":
        argv = ["sweep", *data.draw(_flags(RUN_FLAGS | {
            "--seeds": st.sampled_from(["0:3", "3", "0", "5:2", "a", "-1:2", ""]),
            "-j": SMALL_INTS, "--time": FLOATS, "--max-failures": SMALL_INTS, "--out": outs,
            "--executor": st.sampled_from(["local", "dask://", "x"])}, ("--json",))),
            "--ops", "20"]
        if "--seeds" not in argv:
            argv += ["--seeds", "0:3"]
        if "--out" not in argv:
            argv += ["--out", str(files["root"] / "sweep-out")]
    elif command in ("replay", "shrink", "report"):
        flags: dict[str, st.SearchStrategy[str]] = {}
        if command == "replay":
            flags = {"--until": SMALL_INTS}
        elif command == "shrink":
            flags = {"--max-runs": SMALL_INTS, "-o": outs}
        else:
            flags = {"-o": outs}
        argv = [command, data.draw(paths), *data.draw(_flags(flags, ("--trace",) if
                                                             command == "replay" else ()))]
    elif command == "check-history":
        argv = ["check-history", data.draw(paths), *data.draw(_flags({
            "--model": st.sampled_from(["register", "kv", "x"]), "--timeout": FLOATS,
            "--max-states": SMALL_INTS, "--html": outs}, ("--json",)))]
    elif command == "explore":
        argv = ["explore", *data.draw(_flags(EXPLORE_FLAGS | {"--out": outs},
                                             ("--json", "--symmetry", "--no-symmetry"))),
                "--max-states", "300"]
        if "--walks" not in argv:
            argv += ["--walks", "5"]
    else:
        argv = [command, *data.draw(st.lists(TEXT, max_size=3))]
    _check(argv, capsys)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
              st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _mutate(data: Any, draw: Any) -> Any:
    """Replace, delete or add one value somewhere in a JSON document."""
    if isinstance(data, dict) and data and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(data)))
        action = draw(st.sampled_from(["recurse", "replace", "delete"]))
        if action == "delete":
            del data[key]
        elif action == "replace":
            data[key] = draw(JSON_VALUES)
        else:
            data[key] = _mutate(data[key], draw)
        return data
    if isinstance(data, list) and data and draw(st.booleans()):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = _mutate(data[i], draw)
        return data
    return draw(JSON_VALUES)


@FUZZ
@given(data=st.data())
def test_fuzz_artifact_files(
    data: st.DataObject, files: dict[str, Path], fake: None, tmp_path_factory: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = files[data.draw(st.sampled_from(["fail", "pass", "explore"]))]
    folder = tmp_path_factory.mktemp("art") / "a"
    shutil.copytree(source, folder)
    meta_path = folder / "artifact.json"
    if data.draw(st.integers(0, 9)) == 0:  # not JSON at all
        meta_path.write_bytes(data.draw(st.binary(max_size=40)))
    else:
        meta = json.loads(meta_path.read_text())
        for _ in range(data.draw(st.integers(1, 3))):
            meta = _mutate(meta, data.draw)
        meta_path.write_text(json.dumps(meta))
    if source.name != "explore" and data.draw(st.booleans()):
        (folder / "history.jsonl").write_bytes(data.draw(st.binary(max_size=40)))
    command = data.draw(st.sampled_from(["replay", "shrink", "report"]))
    argv = [command, str(folder)]
    if command == "shrink":
        argv += ["--max-runs", "5", "-o", str(folder) + "-shrunk"]
    elif command == "report":
        argv += ["-o", str(folder / "r.html")]
    _check(argv, capsys)


HISTORY_LINES = st.one_of(
    st.builds(lambda d: json.dumps(d), st.fixed_dictionaries({
        "process": st.one_of(st.integers(-1, 3), st.text(max_size=2), st.none()),
        "type": st.sampled_from(["invoke", "ok", "fail", "info", "x", 1]),
        "f": st.sampled_from(["read", "write", "cas", "get", "put", "append", "x", None]),
        "key": st.one_of(st.none(), st.sampled_from(["k", "k1"]), st.integers(0, 2)),
        "value": st.one_of(st.none(), st.integers(-2, 3), st.text(max_size=3),
                           st.lists(st.integers(0, 3), max_size=2)),
        "time": st.one_of(st.integers(-5, 100), st.floats(allow_nan=True), st.none()),
    })),
    st.sampled_from(["{:type :invoke, :f :read, :value nil, :process 0}",
                     "{:type :ok, :f :write, :value 1, :process 0, :time 3}", "{", "",
                     "[1, 2]", "null", "{:type"]),
    st.text(max_size=20),
)


@FUZZ
@given(lines=st.lists(HISTORY_LINES, max_size=8), model=st.sampled_from(["register", "kv"]),
       suffix=st.sampled_from([".jsonl", ".edn"]), raw=st.none() | st.binary(max_size=30))
def test_fuzz_history_files(
    lines: list[str], model: str, suffix: str, raw: bytes | None, files: dict[str, Path],
    fake: None, capsys: pytest.CaptureFixture[str],
) -> None:
    path = files["root"] / f"fuzz{suffix}"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _check(["check-history", str(path), "--model", model, "--timeout", "5"], capsys)
