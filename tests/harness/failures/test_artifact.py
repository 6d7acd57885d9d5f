from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.checks.violation import Violation
from harness.failures.artifact import (
    ARTIFACT_FILE,
    FORMAT_NAME,
    HISTORY_FILE,
    TRACE_FILE,
    ArtifactError,
    describe_violation,
    read_artifact,
    source_hash,
    write_artifact,
)
from harness.sim.runspec import RunOptions, RunResult
from tests.harness.failures.fakerun import failing_seeds, fake_run


def _failing_result() -> RunResult:
    seed = failing_seeds(50)[0]
    return fake_run(RunOptions(seed=seed, ops=7, faults=("crash",), variant="quorum-one"))


def _write(tmp_path: Path) -> Path:
    result = _failing_result()
    folder = tmp_path / "seed-x"
    write_artifact(folder, result)
    return folder


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    result = _failing_result()
    written = write_artifact(tmp_path / "a" / "b", result)
    back = read_artifact(tmp_path / "a" / "b")
    assert back == written
    assert back.options == result.options
    assert back.choices == result.choices
    assert back.fingerprint == result.fingerprint
    assert back.steps == result.steps
    assert back.violation == result.violation
    assert back.history == result.history
    assert back.trace == result.trace
    assert back.labels == result.labels and len(back.labels) == len(back.choices) > 0
    assert back.seed == result.options.seed
    assert set(back.versions) == {"python", "trio", "paxlab", "paxlab_source"}
    assert back.versions["paxlab_source"] == source_hash() != "unknown"
    assert back.nonzero_choices == sum(1 for v in back.choices if v)
    assert back.replay_command().startswith("paxlab replay ")


def test_replaying_artifact_repeats_fingerprint(tmp_path: Path) -> None:
    back = read_artifact(_write(tmp_path))
    again = fake_run(back.options, replay=back.choices)
    assert again.fingerprint == back.fingerprint
    assert again.violation == back.violation


def test_passing_run_and_odd_trace_lines_round_trip(tmp_path: Path) -> None:
    import attrs

    result = fake_run(RunOptions(seed=1))
    result = attrs.evolve(result, violation=None, verdict="ok", trace=("a\x1cb", "", "c"))
    write_artifact(tmp_path, result)
    back = read_artifact(tmp_path)
    assert back.violation is None
    assert back.trace == ("a\x1cb", "", "c")


def test_empty_trace_round_trips(tmp_path: Path) -> None:
    result = fake_run(RunOptions(seed=1), keep_trace=False)
    write_artifact(tmp_path, result)
    assert read_artifact(tmp_path).trace == ()


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="nope"):
        read_artifact(tmp_path / "nope")


@pytest.mark.parametrize("name", [ARTIFACT_FILE, HISTORY_FILE, TRACE_FILE])
def test_missing_file_names_it(tmp_path: Path, name: str) -> None:
    folder = _write(tmp_path)
    (folder / name).unlink()
    with pytest.raises(ArtifactError, match=rf"{name}: missing"):
        read_artifact(folder)


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    (folder / ARTIFACT_FILE).write_text('{\n"format": \n')
    with pytest.raises(ArtifactError, match=r"artifact\.json:\d+: bad JSON"):
        read_artifact(folder)


def test_not_an_object(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    (folder / ARTIFACT_FILE).write_text("[1, 2]")
    with pytest.raises(ArtifactError, match=r"artifact\.json: expected a JSON object"):
        read_artifact(folder)


def test_bad_history_line_names_line(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    lines = (folder / HISTORY_FILE).read_text().splitlines()
    lines[2] = "{oops"
    (folder / HISTORY_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(ArtifactError, match=r"history\.jsonl:3: bad JSON"):
        read_artifact(folder)


def _edit(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / ARTIFACT_FILE).read_text())
    for key, value in changes.items():
        if value is _DELETE:
            del meta[key]
        else:
            meta[key] = value
    (folder / ARTIFACT_FILE).write_text(json.dumps(meta))


_DELETE = object()


def test_foreign_format(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    _edit(folder, format="jepsen-store")
    with pytest.raises(ArtifactError, match=r"artifact\.json: not a paxlab artifact"):
        read_artifact(folder)


def test_newer_version_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    _edit(folder, version=99)
    with pytest.raises(ArtifactError, match=r"artifact\.json: unsupported artifact version=99"):
        read_artifact(folder)


@pytest.mark.parametrize(
    "field",
    ["format", "version", "seed", "options", "choices", "fingerprint", "steps",
     "violation", "unsafe", "versions"],
)
def test_missing_field_names_it(tmp_path: Path, field: str) -> None:
    folder = _write(tmp_path)
    _edit(folder, **{field: _DELETE})
    with pytest.raises(ArtifactError, match=rf"artifact\.json: missing field '{field}'"):
        read_artifact(folder)


@pytest.mark.parametrize(
    ("field", "value", "pattern"),
    [
        ("choices", [1, -2], "'choices'"),
        ("choices", "1,2", "'choices'"),
        ("steps", "7", "'steps'"),
        ("steps", True, "'steps'"),
        ("fingerprint", 12, "'fingerprint'"),
        ("unsafe", 0, "'unsafe'"),
        ("violation", {"property": "S1"}, "'violation'"),
        ("violation", [1], "'violation'"),
        ("options", {"seed": 1, "colour": "red"}, "'options'"),
        ("options", {"replicas": 0}, "'options'"),
        ("options", 3, "'options'"),
        ("seed", 123456789, "'seed' disagrees"),
        ("versions", {"python": 3}, "'versions'"),
        ("label_names", "fake.v", "'label_names'"),
        ("label_index", [7], "'label_index'"),
        ("label_index", [0], "'label_index' has 1 entries"),
    ],
)
def test_bad_field_names_it(tmp_path: Path, field: str, value: object, pattern: str) -> None:
    folder = _write(tmp_path)
    _edit(folder, **{field: value})
    with pytest.raises(ArtifactError, match=rf"artifact\.json: .*{pattern}"):
        read_artifact(folder)


def test_error_is_one_line_value_error(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    _edit(folder, options={"seed": 1, "colour": "red"})
    with pytest.raises(ValueError) as info:
        read_artifact(folder)
    assert "\n" not in str(info.value)
    assert FORMAT_NAME  # the constant is public and non-empty


def test_describe_violation_does_not_repeat_the_property() -> None:
    v = Violation(property="S4", message="S4: node 1 applied slot 1", time_us=1_500_000,
                  step=9, node=1, slot=1)
    assert describe_violation(v) == (
        "S4: node 1 applied slot 1 (step=9 time=1.500000s node=1 slot=1)"
    )
    w = Violation(property="S8", message="not linearizable", time_us=0, step=1, key="k")
    assert describe_violation(w) == "S8: not linearizable (step=1 time=0.000000s key=k)"


def test_an_artifact_without_labels_still_reads(tmp_path: Path) -> None:
    folder = _write(tmp_path)
    meta = json.loads((folder / "artifact.json").read_text())
    del meta["label_names"], meta["label_index"]
    (folder / "artifact.json").write_text(json.dumps(meta))
    assert read_artifact(folder).labels == ()
