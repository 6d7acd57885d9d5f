"""The NDJSON trace as a TLA+ module, and TLC's verdict on it against ``tla/Trace.tla``.

CommunityModules (``ndJsonDeserialize``) is not available here, so the trace is turned into
``TraceData.tla``: ``TraceNodes``, ``TraceCfg``, ``LeaseUs``, ``LeaseLenUs`` (the lease a
leader keeps from a round's stamp, its local us), ``WaitNum``/``WaitDen``/``WaitCap`` (the
lease wait's drift scaling (1 + rho) / (1 - rho), reduced, and its ceiling) and ``TraceLog``,
a sequence with one record per line after Init. Every record has every field (`FIELDS`, absent ones
defaulted) so ``Trace.tla`` may read any of them; ballots become numbers
``round * len(nodes) + node`` (0: none; -1 for a missing ballot or lease); entries become
sets of ``<<slot, ballot, value>>``.

`check_with_tlc` writes the module, ``Trace.tla`` and `TRACE_CFG` to a temporary folder
and runs TLC (jar from ``TLA2TOOLS_JAR``). TLC exits 0 when every line was an allowed step;
a line that is not makes every action disabled, TLC reports a deadlock (exit 11) and the
last state's ``i`` names it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from consensus.quorum import lease_length_us

TLA_DIR = Path(__file__).resolve().parents[3] / "tla"
JAR_ENV = "TLA2TOOLS_JAR"
EXIT_TLC_OK = 0
EXIT_TLC_DEADLOCK = 11
NONE = -1
_PPM = 1_000_000


class TlcUnavailable(RuntimeError):
    """TLC cannot be run: ``TLA2TOOLS_JAR`` is unset or names no file."""


def _str(v: str) -> str:
    return json.dumps(v)  # a TLA+ string literal: same escapes for the characters we emit


class _Encoder:
    def __init__(self, nodes: Sequence[int]) -> None:
        self.m = max(len(nodes), max(nodes, default=0) + 1)

    def ballot(self, b: Any) -> int:
        if b is None:
            return NONE
        return int(b[0]) * self.m + int(b[1])

    def entries(self, es: Any) -> str:
        items = [f"<<{int(e[0])}, {self.ballot(e[1])}, {_str(str(e[2]))}>>" for e in es or ()]
        return "{" + ", ".join(items) + "}"

    def promise(self, p: dict[str, Any], bal: int) -> str:
        return (f"[src |-> {int(p['src'])}, bal |-> {bal}, rem |-> {int(p['rem'])}, "
                f"entries |-> {self.entries(p.get('entries'))}, "
                f"snapshot |-> {int(p.get('snapshot', 0))}]")

    def record(self, line: dict[str, Any]) -> str:
        g = line.get
        bal = self.ballot(g("bal"))
        slots = g("slots") or [1, 0]
        lease = g("lease_end")
        seen = g("seen")
        promised = g("promised")
        fields = [
            ("action", _str(str(g("action")))),
            ("node", str(int(g("node", 0)))),
            ("t", str(int(g("t", 0)))),
            ("lt", str(int(g("lt", 0)))),
            ("bal", str(bal)),
            ("seen", str(NONE if seen is None else self.ballot(seen))),
            ("promised", str(0 if promised is None else self.ballot(promised))),
            ("from", str(int(g("from", 1)))),
            ("rem", str(int(g("rem", 0)))),
            ("snapshot", str(int(g("snapshot", 0)))),
            ("commit", str(int(g("commit", 0)))),
            ("entries", self.entries(g("entries"))),
            ("slots", f"<<{int(slots[0])}, {int(slots[1])}>>"),
            ("quorum", "{" + ", ".join(str(int(q)) for q in g("quorum") or ()) + "}"),
            ("promises", "{" + ", ".join(self.promise(p, bal) for p in g("promises") or ())
             + "}"),
            ("lease", str(NONE if lease is None else int(lease))),
            ("stamp", str(int(g("stamp", NONE)))),
            ("sent", "TRUE" if g("sent") else "FALSE"),
            ("recovered", "TRUE" if g("recovered") else "FALSE"),
            ("replies", "{" + ", ".join(str(int(s)) for s in g("replies") or ()) + "}"),
        ]
        return "[" + ", ".join(f"{k} |-> {v}" for k, v in fields) + "]"


FIELDS = ("action", "node", "t", "lt", "bal", "seen", "promised", "from", "rem", "snapshot",
          "commit", "entries", "slots", "quorum", "promises", "lease", "stamp", "sent", "recovered",
          "replies")
"""The fields of every TraceLog record."""


def to_tla_module(lines: Sequence[str], name: str = "TraceData") -> str:
    """Return the TLA+ module ``name`` holding the trace ``lines`` (NDJSON, Init first).

    Raises ValueError if the first line is not Init or a line is not JSON.
    """
    parsed = [json.loads(x) for x in lines if x.strip()]
    if not parsed or parsed[0].get("action") != "Init":
        raise ValueError("a trace starts with its Init line")
    init = parsed[0]
    nodes = [int(n) for n in init["nodes"]]
    enc = _Encoder(nodes)
    drift = int(init["drift_ppm"])
    g = math.gcd(_PPM + drift, _PPM - drift)
    num, den = (_PPM + drift) // g, (_PPM - drift) // g  # a lease wait scales by num / den
    records = ",\n    ".join(enc.record(x) for x in parsed[1:])
    return (
        f"---- MODULE {name} ----\n"
        "EXTENDS Integers\n"
        "\\* Generated by harness.tla.tracevalid.tladata from an NDJSON trace; do not edit.\n"
        f"TraceNodes == {{{', '.join(map(str, nodes))}}}\n"
        f"TraceCfg == {{{', '.join(str(int(n)) for n in init.get('cfg', nodes))}}}\n"
        f"LeaseUs == {int(init['lease_us'])}\n"
        f"LeaseLenUs == {lease_length_us(int(init['lease_us']), drift)}\n"
        f"WaitNum == {num}\nWaitDen == {den}\nWaitCap == {-(-num // den)}\n"
        f"TraceLog == <<\n    {records}\n  >>\n"
        "====\n"
    )


TRACE_CFG = """\\* Trace validation of one NDJSON trace (written by harness.tla.tracevalid.tladata).
\\* TLC exits 0 when every line is an allowed step, 11 (deadlock) at the first that is not.
SPECIFICATION Spec
CHECK_DEADLOCK TRUE
"""
"""The TLC configuration, written next to ``Trace.tla`` for each check. It is not kept in
``tla/``: `harness.tla.tlc` takes every ``tla/*.cfg`` for a model with recorded results."""


def jar_path() -> Path:
    """The tla2tools.jar from ``TLA2TOOLS_JAR``; raises TlcUnavailable if unset or missing."""
    jar = os.environ.get(JAR_ENV)
    if not jar or not Path(jar).is_file():
        raise TlcUnavailable(f"TLC needs {JAR_ENV} naming tla2tools.jar, got {JAR_ENV}={jar!r}")
    return Path(jar)


def check_with_tlc(lines: Sequence[str], *, timeout_s: float = 600) -> tuple[bool, str]:
    """Check the trace with TLC against ``tla/Trace.tla``.

    Returns (True, summary) if TLC accepts every line, (False, "line N: ...") if it reports a
    deadlock at line N. Raises TlcUnavailable without a jar, RuntimeError for any other TLC
    outcome (a parse error, an exception in TLC).
    """
    return run_trace_spec(lines, "Trace", {"TraceData": to_tla_module(lines)},
                          timeout_s=timeout_s)


def run_trace_spec(lines: Sequence[str], spec: str, modules: dict[str, str], *,
                   timeout_s: float = 600) -> tuple[bool, str]:
    """Run TLC on ``tla/<spec>.tla`` with the generated ``modules`` (name -> text) next to it;
    the verdict as `check_with_tlc` returns it (also for ``RaftTrace.tla``)."""
    jar = jar_path()
    with tempfile.TemporaryDirectory(prefix="paxlab-trace-") as tmp:
        folder = Path(tmp)
        for name, text in modules.items():
            (folder / f"{name}.tla").write_text(text)
        shutil.copy(TLA_DIR / f"{spec}.tla", folder / f"{spec}.tla")
        (folder / f"{spec}.cfg").write_text(TRACE_CFG)
        proc = subprocess.run(
            ["java", "-XX:+UseParallelGC", "-cp", str(jar), "tlc2.TLC", "-workers", "1",
             "-metadir", str(folder / "states"), "-config", f"{spec}.cfg", f"{spec}.tla"],
            cwd=folder, capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    out = proc.stdout + proc.stderr
    if proc.returncode == EXIT_TLC_OK:
        states = re.findall(r"(\d[\d,]*) distinct states found", out)  # the last is final
        return True, f"{states[-1].replace(',', '') if states else '?'} distinct states"
    if proc.returncode == EXIT_TLC_DEADLOCK:
        found = re.findall(r"^/\\ i = (\d+)", out, re.MULTILINE)
        line = int(found[-1]) + 1 if found else 0
        action = ""
        if line:
            action = str(json.loads([x for x in lines if x.strip()][line - 1]).get("action"))
        return False, f"line {line}: no action of {spec}.tla allows this {action} step"
    tail = " | ".join(out.strip().splitlines()[-5:])
    raise RuntimeError(f"TLC failed: exit={proc.returncode} output={tail}")
