"""TLA+ checks for ``tla/``: model configurations, SANY/TLC runs, and recorded results.

Every ``tla/*.cfg`` starts with two header comments that tie it to its module and verdict::

    \\* MODULE: MCPaxlab
    \\* EXPECT: pass            (or the name of the invariant TLC must report violated)

`record` runs TLC on configurations and writes ``tla/results/<config>.txt``: a header (TLC
version, sha256 of every spec module and of the config, distinct states, depth, wall time,
exit code) then TLC's output. `stale_results` compares those hashes with the files as they are
now, so evidence for an edited spec or config is caught. Nothing here downloads TLC: the jar
comes from ``TLA2TOOLS_JAR``.

CLI: ``python -m harness.tla.tlc record [CONFIG ...]`` (all configurations by default) and
``python -m harness.tla.tlc stale``. Exit codes: 0 ok, 1 a configuration did not give its
expected verdict (or results are stale), 2 bad usage (no jar, unknown configuration).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

logger = logging.getLogger(__name__)

TLA_DIR = Path(__file__).resolve().parents[2] / "tla"
RESULTS_DIR_NAME = "results"
JAR_ENV = "TLA2TOOLS_JAR"

EXIT_TLC_OK = 0
EXIT_TLC_SAFETY = 12
"""TLC's exit code for a violated invariant (tlc2.output.EC.ExitStatus.VIOLATION_SAFETY)."""

STANDARD_MODULES: frozenset[str] = frozenset(
    {"Naturals", "Integers", "Reals", "Sequences", "FiniteSets", "Bags", "TLC", "TLCExt"}
)
"""Modules SANY ships; their operators are not looked up in ``tla/``."""

STANDARD_OPERATORS: frozenset[str] = frozenset(
    {"Permutations", "SortSeq", "Print", "PrintT", "Assert", "JavaTime", "ToString",
     "Cardinality", "IsFiniteSet", "Len", "Append", "Head", "Tail", "SubSeq", "Seq"}
)
"""Operators of the standard modules a configuration may name (e.g. SYMMETRY Permutations)."""

_HEADER_RE = re.compile(r"^\\\*\s*(MODULE|EXPECT):\s*(\S+)\s*$", re.MULTILINE)
_CFG_KEYWORDS = (
    "SPECIFICATION", "INIT", "NEXT", "INVARIANT", "INVARIANTS", "PROPERTY", "PROPERTIES",
    "CONSTANT", "CONSTANTS", "SYMMETRY", "VIEW", "CONSTRAINT", "CONSTRAINTS",
    "ACTION_CONSTRAINT", "ACTION_CONSTRAINTS", "CHECK_DEADLOCK", "POSTCONDITION", "ALIAS",
)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?\s*==", re.MULTILINE)


class TlaCheckError(Exception):
    """A configuration, module or result file is malformed (one line: rule and values)."""


@attrs.frozen
class ModelConfig:
    """One TLC configuration: ``path`` (tla/X.cfg), its ``module`` and ``expect`` header.

    ``expect`` is "pass" (TLC must finish with exit 0) or an invariant name (TLC must exit 12
    naming it).
    """

    path: Path
    module: str
    expect: str

    @property
    def name(self) -> str:
        """The configuration's name: the file name without ``.cfg``."""
        return self.path.stem

    @property
    def tla_dir(self) -> Path:
        return self.path.parent

    def module_paths(self) -> list[Path]:
        """The module file and every non-standard module it EXTENDS, transitively, in order."""
        return extends_chain(self.module, self.tla_dir)

    def result_path(self) -> Path:
        """Where `record` writes this configuration's result."""
        return self.tla_dir / RESULTS_DIR_NAME / f"{self.name}.txt"


def read_config(path: Path) -> ModelConfig:
    """Read a configuration's header comments; raise TlaCheckError if one is missing."""
    headers = dict(_HEADER_RE.findall(path.read_text()))
    if "MODULE" not in headers or "EXPECT" not in headers:
        raise TlaCheckError(
            f"config needs '\\* MODULE: <name>' and '\\* EXPECT: <pass|invariant>' header "
            f"lines: config={path.name}"
        )
    return ModelConfig(path=path, module=headers["MODULE"], expect=headers["EXPECT"])


def load_configs(tla_dir: Path = TLA_DIR) -> list[ModelConfig]:
    """Every ``*.cfg`` in ``tla_dir``, sorted by name."""
    return [read_config(p) for p in sorted(tla_dir.glob("*.cfg"))]


def strip_comments(text: str) -> str:
    """Return TLA+ or cfg text without ``(* ... *)`` block comments and ``\\*`` line comments.

    Strings are kept as they are (our specs have no comment markers inside strings).
    """
    out: list[str] = []
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        two = text[i:i + 2]
        if two == "(*":
            depth += 1
            i += 2
        elif two == "*)" and depth:
            depth -= 1
            i += 2
        elif depth:
            out.append("\n" if text[i] == "\n" else " ")
            i += 1
        elif two == "\\*":
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def extends_of(module_path: Path) -> list[str]:
    """The module names in a module's EXTENDS clause (empty if it has none)."""
    body = strip_comments(module_path.read_text())
    m = re.search(r"\bEXTENDS\b(.*?)(?=\n\s*\n|\n[A-Z_a-z][^,\n]*==|\bCONSTANTS?\b|\bVARIABLES?\b)",
                  body, re.DOTALL)
    if m is None:
        return []
    return [name.strip() for name in m.group(1).split(",") if name.strip()]


def extends_chain(module: str, tla_dir: Path) -> list[Path]:
    """``module``'s file, then its non-standard EXTENDS modules depth first (each once).

    Raises TlaCheckError if a non-standard module has no file in ``tla_dir``.
    """
    seen: list[Path] = []

    def visit(name: str) -> None:
        path = tla_dir / f"{name}.tla"
        if path in seen:
            return
        if not path.is_file():
            raise TlaCheckError(f"module not found in {tla_dir.name}/: module={name}")
        seen.append(path)
        for parent in extends_of(path):
            if parent not in STANDARD_MODULES:
                visit(parent)

    visit(module)
    return seen


def defined_names(paths: Sequence[Path]) -> set[str]:
    """Operators, constants and variables the given modules declare or define."""
    names: set[str] = set()
    for path in paths:
        body = strip_comments(path.read_text())
        names.update(m.group(1) for m in _DEF_RE.finditer(body))
        for kw in ("CONSTANTS", "CONSTANT", "VARIABLES", "VARIABLE"):
            for m in re.finditer(rf"^\s*{kw}\b(.*?)(?=^\S|\Z)", body, re.MULTILINE | re.DOTALL):
                names.update(n.group(0) for n in _NAME_RE.finditer(m.group(1)))
    return names


def cfg_names(cfg_text: str) -> dict[str, list[str]]:
    """The names a configuration uses, by keyword (CONSTANTS: the constants assigned).

    Model values on the right of a constant assignment are not names to look up.
    """
    body = strip_comments(cfg_text)
    tokens = re.split(r"\b(" + "|".join(_CFG_KEYWORDS) + r")\b", body)
    used: dict[str, list[str]] = {}
    for i in range(1, len(tokens), 2):
        keyword, args = tokens[i], tokens[i + 1]
        if keyword in ("CONSTANT", "CONSTANTS"):
            names = re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|<-)", args, re.MULTILINE)
        elif keyword == "CHECK_DEADLOCK":
            continue
        else:
            names = _NAME_RE.findall(args)
        used.setdefault(keyword.rstrip("S") if keyword.endswith("TS") else keyword, []).extend(
            names
        )
    return used


def undefined_cfg_names(cfg: ModelConfig) -> list[str]:
    """Names ``cfg`` uses that its module chain does not define, as 'KEYWORD name'."""
    defined = defined_names(cfg.module_paths()) | STANDARD_OPERATORS
    missing: list[str] = []
    for keyword, names in cfg_names(cfg.path.read_text()).items():
        missing.extend(f"{keyword} {name}" for name in names if name not in defined)
    return missing


def structure_problems(path: Path) -> list[str]:
    """Structural faults of a module file: header, footer, brackets (empty list: none)."""
    text = path.read_text()
    problems = []
    head = re.search(r"^-{4,}\s*MODULE\s+([A-Za-z_][A-Za-z0-9_]*)\s*-{4,}\s*$", text, re.MULTILINE)
    if head is None:
        problems.append(f"no '---- MODULE name ----' header: file={path.name}")
    elif head.group(1) != path.stem:
        problems.append(f"module name differs from file: module={head.group(1)} file={path.name}")
    if re.search(r"^={4,}\s*$", text, re.MULTILINE) is None:
        problems.append(f"no '====' footer: file={path.name}")
    pairs = {")": "(", "]": "[", "}": "{", ">>": "<<"}
    stack: list[str] = []
    body = strip_comments(text)
    for tok in re.findall(r"<<|>>|[()\[\]{}]", re.sub(r'"[^"\n]*"', '""', body)):
        if tok in pairs:
            if not stack or stack[-1] != pairs[tok]:
                problems.append(f"unbalanced {tok!r}: file={path.name}")
                return problems
            stack.pop()
        else:
            stack.append(tok)
    if stack:
        problems.append(f"unclosed {stack[-1]!r}: file={path.name}")
    return problems


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evidence_hashes(cfg: ModelConfig) -> dict[str, str]:
    """sha256 of every spec module ``cfg`` uses and of the config itself, by file name."""
    files = [*cfg.module_paths(), cfg.path]
    return {p.name: sha256_file(p) for p in files}


@attrs.frozen
class TlcRun:
    """One TLC run. ``distinct_states``/``depth`` are -1 when TLC did not report them.

    ``cpu_time_s``: user + system CPU of the java process (all threads): on a busy machine
    the wall time grows, the CPU time hardly does.
    """

    exit_code: int
    output: str
    wall_time_s: float
    cpu_time_s: float
    command: tuple[str, ...]

    @property
    def version(self) -> str:
        m = re.search(r"^(TLC2 Version .*)$", self.output, re.MULTILINE)
        return m.group(1).strip() if m else "unknown"

    @property
    def distinct_states(self) -> int:
        m = re.findall(r"([\d,]+) distinct states found", self.output)
        return int(m[-1].replace(",", "")) if m else -1

    @property
    def depth(self) -> int:
        m = re.search(r"depth of the complete state graph search is (\d+)", self.output)
        return int(m.group(1)) if m else -1

    @property
    def violated(self) -> str | None:
        """The invariant TLC reported violated, if any."""
        m = re.search(r"Invariant (\S+) is violated", self.output)
        return m.group(1) if m else None


def verdict_ok(cfg: ModelConfig, exit_code: int, violated: str | None) -> bool:
    """True iff a run's exit code and violated invariant are what ``cfg`` expects."""
    if cfg.expect == "pass":
        return exit_code == EXIT_TLC_OK
    return exit_code == EXIT_TLC_SAFETY and violated == cfg.expect


def _java(jar: Path, main_class: str, args: Sequence[str]) -> list[str]:
    return ["java", "-XX:+UseParallelGC", "-Xmx4g", "-cp", str(jar), main_class, *args]


def run_sany(module_path: Path, jar: Path) -> subprocess.CompletedProcess[str]:
    """Parse and check ``module_path`` with SANY (exit 0: no errors)."""
    cmd = _java(jar, "tla2sany.SANY", [module_path.name])
    return subprocess.run(cmd, cwd=module_path.parent, capture_output=True, text=True,
                          check=False)


def run_tlc(cfg: ModelConfig, jar: Path, *, workers: int = 2,
            timeout_s: float | None = None) -> TlcRun:
    """Run TLC on ``cfg`` (breadth first, states kept in a temporary directory).

    Raises subprocess.TimeoutExpired after ``timeout_s`` seconds (None: no limit).
    """
    with tempfile.TemporaryDirectory(prefix="paxlab-tlc-") as meta:
        args = ["-workers", str(workers), "-noGenerateSpecTE", "-cleanup", "-metadir", meta,
                "-config", cfg.path.name, f"{cfg.module}.tla"]
        cmd = _java(jar, "tlc2.TLC", args)
        started = time.perf_counter()  # wall time is reported, not simulated
        cpu_before = _children_cpu_s()
        proc = subprocess.run(cmd, cwd=cfg.tla_dir, capture_output=True, text=True,
                              check=False, timeout=timeout_s)
        wall = time.perf_counter() - started
        cpu = _children_cpu_s() - cpu_before
    shown = ["java", "-XX:+UseParallelGC", "-Xmx4g", "-cp", "$TLA2TOOLS_JAR", *cmd[5:]]
    shown = [a if a != meta else "<tmp>" for a in shown]
    return TlcRun(exit_code=proc.returncode, output=proc.stdout + proc.stderr,
                  wall_time_s=wall, cpu_time_s=cpu, command=tuple(shown))


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of every waited-for child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def format_result(cfg: ModelConfig, run: TlcRun) -> str:
    """The text of ``tla/results/<config>.txt`` for ``run``: header, blank line, TLC output."""
    lines = [
        f"config: {cfg.path.name}",
        f"module: {cfg.module}",
        f"expect: {cfg.expect}",
        f"tlc_version: {run.version}",
        *(f"sha256 {name}: {digest}" for name, digest in evidence_hashes(cfg).items()),
        f"distinct_states: {run.distinct_states}",
        f"depth: {run.depth}",
        f"wall_time_s: {run.wall_time_s:.1f}",
        f"cpu_time_s: {run.cpu_time_s:.1f}",
        f"exit_code: {run.exit_code}",
        f"violated: {run.violated or '-'}",
        f"command: {' '.join(run.command)}",
    ]
    return "\n".join(lines) + "\n\n" + run.output


def read_result_header(path: Path) -> dict[str, str]:
    """The ``key: value`` lines before the first blank line of a result file."""
    header: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(": ")
        if not sep:
            raise TlaCheckError(f"result header line without ': ': file={path.name} line={line!r}")
        header[key] = value
    return header


def stale_results(cfg: ModelConfig) -> list[str]:
    """Why ``cfg``'s recorded result is missing or out of date (empty list: it is current)."""
    path = cfg.result_path()
    if not path.is_file():
        return [f"no recorded result: config={cfg.path.name}"]
    header = read_result_header(path)
    problems = []
    for name, digest in evidence_hashes(cfg).items():
        got = header.get(f"sha256 {name}")
        if got != digest:
            problems.append(f"stale result: file={name} recorded={got} current={digest}")
    for key in ("tlc_version", "distinct_states", "depth", "wall_time_s", "cpu_time_s",
                "exit_code"):
        if key not in header:
            problems.append(f"result header lacks {key}: result={path.name}")
    return problems


def jar_from_env() -> Path | None:
    """The jar ``TLA2TOOLS_JAR`` names, or None if unset or not a file."""
    value = os.environ.get(JAR_ENV)
    if not value or not Path(value).is_file():
        return None
    return Path(value)


def record(cfg: ModelConfig, jar: Path, *, workers: int = 2) -> TlcRun:
    """Run TLC on ``cfg`` and write its result file; return the run."""
    run = run_tlc(cfg, jar, workers=workers)
    path = cfg.result_path()
    path.parent.mkdir(exist_ok=True)
    path.write_text(format_result(cfg, run))
    logger.info("recorded %s: exit=%d states=%d", path.name, run.exit_code, run.distinct_states)
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry (see module doc); prints one line per configuration."""
    parser = argparse.ArgumentParser(prog="python -m harness.tla.tlc")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run TLC and write tla/results/<config>.txt")
    rec.add_argument("configs", nargs="*", help="configuration names (default: all)")
    rec.add_argument("--workers", type=int, default=2)
    sub.add_parser("stale", help="list recorded results whose hashes no longer match")
    args = parser.parse_args(argv)
    configs = load_configs()
    if args.command == "stale":
        problems = [p for cfg in configs for p in stale_results(cfg)]
        for p in problems:
            print(p)
        return 1 if problems else 0
    jar = jar_from_env()
    if jar is None:
        print(f"tlacheck: error: set {JAR_ENV} to the path of tla2tools.jar", file=sys.stderr)
        return 2
    by_name = {c.name: c for c in configs}
    unknown = [n for n in args.configs if n not in by_name]
    if unknown:
        print(f"tlacheck: error: unknown configuration: names={unknown}", file=sys.stderr)
        return 2
    failed = 0
    for cfg in [by_name[n] for n in args.configs] if args.configs else configs:
        run = record(cfg, jar, workers=args.workers)
        ok = verdict_ok(cfg, run.exit_code, run.violated)
        failed += not ok
        print(f"{cfg.name}: exit={run.exit_code} violated={run.violated or '-'} "
              f"states={run.distinct_states} depth={run.depth} "
              f"wall={run.wall_time_s:.1f}s cpu={run.cpu_time_s:.1f}s expect={cfg.expect} "
              f"{'ok' if ok else 'UNEXPECTED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
