"""Failure artifacts: one folder per failing run, enough to replay, shrink and report it.

A folder holds three files:

- ``artifact.json``: format name and version, seed, the protocol (``multipaxos`` when an
  older artifact has none), options (`RunOptions.to_json`), the choice list, fingerprint,
  steps, the violation (or null), the unsafe label, and the Python, trio and paxlab versions
  that produced it.
- ``history.jsonl``: the client history, one operation event per line (the
  `harness.checks.history` format).
- ``trace.txt``: the ordered event trace, one line per simulator step (may be empty when the
  run did not keep it).

Replaying ``options`` with ``choices`` repeats the run bit for bit; ``fingerprint`` says
whether it did. Other kinds of artifact share the format name and version and say what they
are in ``kind``: ``"explore"`` (`harness.failures.explore_artifact`), ``"load"`` (a run of a
real cluster, ``world: "cluster"``: `harness.failures.load_artifact`); `read_artifact` refuses
them with a line saying so. Reading checks everything and raises `ArtifactError` naming the
file (and the line or field) instead of returning half an artifact.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import shlex
from pathlib import Path
from typing import Any

import attrs
import trio

from harness.checks.violation import Violation
from harness.sim.runspec import RunOptions, RunResult

FORMAT_NAME = "paxlab-artifact"
FORMAT_VERSION = 1

ARTIFACT_FILE = "artifact.json"
HISTORY_FILE = "history.jsonl"
TRACE_FILE = "trace.txt"
LOAD_KIND = "load"
"""``kind`` of the artifact ``paxlab load`` writes (`harness.failures.load_artifact`)."""

_REQUIRED_FIELDS: tuple[str, ...] = (
    "format",
    "version",
    "seed",
    "options",
    "choices",
    "fingerprint",
    "steps",
    "violation",
    "unsafe",
    "versions",
)


class ArtifactError(ValueError):
    """An artifact folder is missing, corrupt or not a paxlab artifact.

    The message is one line and starts with the offending file's path (and line or field).
    """


_SOURCE_PACKAGES: tuple[str, ...] = ("consensus", "storage", "harness")


@functools.cache
def source_hash() -> str:
    """Return a short blake2b over the paxlab source (every ``.py`` file of consensus,
    storage and harness, by sorted relative path), or ``"unknown"`` if it cannot be read.

    Recorded in artifacts so that a replay whose fingerprint differs can tell "the code
    changed since" (hashes differ) from "nondeterminism" (same code, another run).
    """
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.blake2b(digest_size=8)
    try:
        for package in _SOURCE_PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes())
    except OSError:
        return "unknown"
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Return the versions recorded in artifacts: ``python``, ``trio``, ``paxlab`` and
    ``paxlab_source`` (`source_hash`).

    paxlab's version is ``"unknown"`` when the package metadata is not installed.
    """
    try:
        paxlab_version = importlib.metadata.version("paxlab")
    except importlib.metadata.PackageNotFoundError:
        paxlab_version = "unknown"
    return {
        "python": platform.python_version(),
        "trio": trio.__version__,
        "paxlab": paxlab_version,
        "paxlab_source": source_hash(),
    }


def describe_violation(violation: Violation) -> str:
    """Return one line: the property, its message, and where and when it was seen."""
    where = [f"step={violation.step}", f"time={violation.time_us / 1e6:.6f}s"]
    for name in ("node", "slot", "key"):
        value = getattr(violation, name)
        if value is not None:
            where.append(f"{name}={value}")
    message = violation.message
    if not message.startswith(f"{violation.property}:"):
        message = f"{violation.property}: {message}"
    return f"{message} ({' '.join(where)})"


def violation_differences(recorded: Violation | None, replayed: Violation | None) -> list[str]:
    """What a replay's violation does not share with the one an artifact recorded: its
    property, or its place (step, time, node, slot, key); empty when it reproduced it."""
    if recorded is None and replayed is None:
        return []
    if recorded is None:
        assert replayed is not None
        return [f"the artifact records no violation, the replay violated {replayed.property}"]
    if replayed is None:
        return [f"the artifact records {recorded.property}, the replay violated nothing"]
    diffs = []
    if recorded.property != replayed.property:
        diffs.append(f"property: artifact={recorded.property} replay={replayed.property}")
    names = ("step", "time_us", "node", "slot", "key")
    for name, a, b in zip(names, recorded.place(), replayed.place(), strict=True):
        if a != b:
            diffs.append(f"{name}: artifact={a} replay={b}")
    return diffs


@attrs.frozen(kw_only=True)
class Artifact:
    """A failure artifact as read from (or written to) its folder.

    Attributes:
        folder: where it lives.
        options: the run's options (``options.seed`` is the seed).
        choices: the complete choice list; replaying it with ``options`` repeats the run.
        labels: the chooser label of each choice (empty in artifacts written before labels
            were recorded); when present, a replay takes each label's choices in order
            (`harness.runtime.chooser`), which is what a shrunk choice list needs.
        fingerprint: the run's fingerprint (hex), to verify a replay against.
        steps: simulator steps of the run.
        violation: the first violated property, or None (an artifact of a passing run, e.g.
            one kept on purpose).
        unsafe: the run let clock drift exceed rho on purpose.
        versions: ``python``, ``trio`` and ``paxlab`` versions that produced it.
        history: client history events (dicts in the `harness.checks.history` format).
        trace: the event trace, one line per step (empty if it was not kept).
    """

    folder: Path
    options: RunOptions
    choices: tuple[int, ...]
    fingerprint: str
    steps: int
    violation: Violation | None
    unsafe: bool
    versions: dict[str, str]
    history: tuple[dict[str, Any], ...] = ()
    trace: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def seed(self) -> int:
        return self.options.seed

    @property
    def nonzero_choices(self) -> int:
        """Number of non-zero entries of ``choices`` (each one is a departure from nominal)."""
        return sum(1 for v in self.choices if v)

    def replay_command(self) -> str:
        """Return the shell command that replays this artifact."""
        return f"paxlab replay {shlex.quote(str(self.folder))}"


def write_artifact(folder: str | Path, result: RunResult) -> Artifact:
    """Write ``result`` as an artifact into ``folder`` (created, with parents, if needed).

    Existing artifact files in the folder are overwritten; other files are left alone.
    Returns the `Artifact` as it will read back (``trace`` empty if the run kept none).
    """
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    artifact = Artifact(
        folder=path,
        options=result.options,
        choices=tuple(result.choices),
        fingerprint=result.fingerprint,
        steps=result.steps,
        violation=result.violation,
        unsafe=result.unsafe,
        versions=versions(),
        history=tuple(result.history),
        trace=tuple(result.trace),
        labels=tuple(result.labels),
    )
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "seed": artifact.seed,
        "protocol": artifact.options.protocol,
        "options": artifact.options.to_json(),
        "fingerprint": artifact.fingerprint,
        "steps": artifact.steps,
        "violation": None if artifact.violation is None else artifact.violation.to_json(),
        "unsafe": artifact.unsafe,
        "versions": artifact.versions,
    }
    # The (long) choice list goes last, on one line, so the rest stays readable.
    text = json.dumps(meta, indent=1)[:-2]
    text += f',\n "choices": {json.dumps(list(artifact.choices), separators=(",", ":"))}'
    if artifact.labels:  # each label once, then the index of each choice's label
        names = sorted(set(artifact.labels))
        index = {name: i for i, name in enumerate(names)}
        text += f',\n "label_names": {json.dumps(names)}'
        label_index = [index[label] for label in artifact.labels]
        text += f',\n "label_index": {json.dumps(label_index, separators=(",", ":"))}'
    text += "\n}\n"
    (path / ARTIFACT_FILE).write_text(text, encoding="utf-8")
    lines = [json.dumps(event, separators=(",", ":")) for event in artifact.history]
    (path / HISTORY_FILE).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (path / TRACE_FILE).write_text("".join(line + "\n" for line in artifact.trace), "utf-8")
    return artifact


def read_artifact(folder: str | Path) -> Artifact:
    """Read and validate the artifact in ``folder``.

    Raises:
        ArtifactError: the folder or one of its files is missing, a file is not valid
            (bad JSON, wrong format name or a newer version, a missing or ill-typed field);
            the message names the file, and the line or field.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ArtifactError(f"{path}: not an artifact folder (missing or not a directory)")
    meta_path = path / ARTIFACT_FILE
    meta = load_json_object(meta_path)
    if meta.get("kind") == LOAD_KIND:
        raise ArtifactError(
            f"{meta_path}: a load artifact of a real cluster (kind={LOAD_KIND!r}): it has no "
            f"choice list to replay or shrink; paxlab report draws it"
        )
    for name in _REQUIRED_FIELDS:
        if name not in meta:
            raise ArtifactError(f"{meta_path}: missing field {name!r}")
    if meta["format"] != FORMAT_NAME:
        raise ArtifactError(
            f"{meta_path}: not a paxlab artifact: format={meta['format']!r}, "
            f"expected {FORMAT_NAME!r}"
        )
    version = meta["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ArtifactError(
            f"{meta_path}: unsupported artifact version={version!r}, "
            f"this paxlab reads up to {FORMAT_VERSION}"
        )
    options = _options_field(meta_path, meta)
    choices = _choices_field(meta_path, meta["choices"])
    return Artifact(
        folder=path,
        options=options,
        choices=choices,
        labels=_labels_field(meta_path, meta, len(choices)),
        fingerprint=_typed_field(meta_path, meta, "fingerprint", str),
        steps=_typed_field(meta_path, meta, "steps", int),
        violation=_violation_field(meta_path, meta["violation"]),
        unsafe=_typed_field(meta_path, meta, "unsafe", bool),
        versions=_versions_field(meta_path, meta["versions"]),
        history=read_history_events(path / HISTORY_FILE),
        trace=_read_trace(path / TRACE_FILE),
    )


def read_text(path: Path) -> str:
    """Return the file's text, or raise ArtifactError saying it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable: {exc}") from None


def load_json_object(path: Path) -> dict[str, Any]:
    """Return the JSON object in ``path``; raises ArtifactError naming the file (and line)."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}:{exc.lineno}: bad JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _typed_field(path: Path, meta: dict[str, Any], name: str, kind: type) -> Any:
    value = meta[name]
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok or (kind is int and value < 0):
        raise ArtifactError(f"{path}: field {name!r} must be a {kind.__name__}, got {value!r}")
    return value


def _options_field(path: Path, meta: dict[str, Any]) -> RunOptions:
    data = meta["options"]
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: field 'options' must be an object, got {data!r}")
    # The protocol: top-level field, else the options' own, else (older artifacts) multipaxos.
    protocol = meta.get("protocol", data.get("protocol", "multipaxos"))
    if not isinstance(protocol, str):
        raise ArtifactError(f"{path}: field 'protocol' must be a name, got {protocol!r}")
    if data.get("protocol", protocol) != protocol:
        raise ArtifactError(
            f"{path}: field 'protocol' disagrees with options: protocol={protocol!r}, "
            f"options.protocol={data['protocol']!r}"
        )
    data = {**data, "protocol": protocol}
    try:
        options = RunOptions.from_json(data)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{path}: field 'options' is invalid: {exc}") from None
    if meta["seed"] != options.seed:
        raise ArtifactError(
            f"{path}: field 'seed' disagrees with options: seed={meta['seed']!r}, "
            f"options.seed={options.seed}"
        )
    return options


def _choices_field(path: Path, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise ArtifactError(f"{path}: field 'choices' must be a list of non-negative ints")
    return tuple(value)


def _labels_field(path: Path, meta: dict[str, Any], count: int) -> tuple[str, ...]:
    names, index = meta.get("label_names"), meta.get("label_index")
    if names is None and index is None:
        return ()
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ArtifactError(f"{path}: field 'label_names' must be a list of strings")
    if not isinstance(index, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(names) for i in index
    ):
        raise ArtifactError(
            f"{path}: field 'label_index' must be a list of indexes into 'label_names'"
        )
    if len(index) != count:
        raise ArtifactError(
            f"{path}: field 'label_index' has {len(index)} entries for {count} choices"
        )
    return tuple(names[i] for i in index)


def _violation_field(path: Path, value: Any) -> Violation | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ArtifactError(f"{path}: field 'violation' must be an object or null")
    try:
        return Violation.from_json(value)
    except ValueError as exc:
        raise ArtifactError(f"{path}: field 'violation' is invalid: {exc}") from None


def _versions_field(path: Path, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ArtifactError(f"{path}: field 'versions' must be an object of strings")
    return dict(value)


def read_json_lines(path: Path) -> tuple[tuple[int, dict[str, Any]], ...]:
    """Return ``(line number, object)`` for each non-blank line of a JSON-lines file.

    Raises:
        ArtifactError: the file is missing or unreadable, or a line is not a JSON object
            (the message names the file and line).
    """
    text = read_text(path)
    items: list[tuple[int, dict[str, Any]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{path}:{lineno}: bad JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise ArtifactError(f"{path}:{lineno}: expected a JSON object per line")
        items.append((lineno, item))
    return tuple(items)


def read_history_events(path: Path) -> tuple[dict[str, Any], ...]:
    """The history file's events as JSON objects (see `read_json_lines`)."""
    return tuple(item for _, item in read_json_lines(path))


def _read_trace(path: Path) -> tuple[str, ...]:
    text = read_text(path)
    # Split on "\n" only: str.splitlines would also split inside a line at \x1c, \u2028...
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return tuple(lines)


def artifact_kind(folder: str | Path) -> str | None:
    """The ``kind`` that ``folder``'s artifact.json names (``"explore"``, ``"load"``), or None
    for a simulator run's artifact and for anything unreadable (the reader of the kind it
    turns out to be then says what is wrong)."""
    try:
        data = json.loads((Path(folder) / ARTIFACT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def is_explore_artifact(folder: str | Path) -> bool:
    """Whether ``folder`` holds a `paxlab explore` schedule rather than a run."""
    return artifact_kind(folder) == "explore"
