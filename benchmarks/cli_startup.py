"""CLI start-up: wall time of ``paxlab --help`` and of ``paxlab check-history`` on a
two-line history, and what each imports.

    python -m benchmarks.cli_startup [--runs N]

Each command runs ``N`` times (default 10) as ``python -m harness ...`` in a fresh
interpreter; the best wall time is printed (the least disturbed by other processes; the
target is under 0.15 s), with the import time Python itself reports (``-X importtime``,
cumulative over the top-level imports) and whether trio, networkx or the simulator was
imported (none should be). The result hash is over the sorted names of the paxlab modules
each command imports, which depends only on the code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.15
HEAVY = ("trio", "networkx", "harness.sim")
_MODULES = (
    "import runpy, sys, json\n"
    "sys.argv = ['paxlab', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('harness', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


def _best_wall(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True,
                       check=False, timeout=60)
        best = min(best, time.perf_counter() - start)
    return best


def _import_us(argv: list[str]) -> int:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "harness", *argv],
                          capture_output=True, text=True, check=False, timeout=60)
    total = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            total += int(parts[1])  # top-level imports only: their cumulative time
    return total


def _modules(argv: list[str]) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _MODULES, *argv], capture_output=True,
                          text=True, check=False, timeout=60)
    names: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_startup")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    digest = hashlib.blake2b(digest_size=8)
    missed = 0
    with tempfile.TemporaryDirectory() as scratch:
        history = Path(scratch) / "h.jsonl"
        events = [
            {"process": 0, "type": "invoke", "f": "put", "key": "k", "value": "1", "time": 1},
            {"process": 0, "type": "ok", "f": "put", "key": "k", "value": "1", "time": 2},
        ]
        history.write_text("".join(json.dumps(e) + "\n" for e in events))
        cases = {
            "--help": ["--help"],
            "check-history": ["check-history", str(history), "--model", "kv"],
        }
        for label, case in cases.items():
            wall = _best_wall(case, args.runs)
            names = _modules(case)
            heavy = sorted({n for n in names for h in HEAVY if n == h or n.startswith(h + ".")})
            ours = [n for n in names if n.split(".")[0] in ("harness", "consensus", "storage")]
            digest.update(f"{label}:{','.join(ours)}\n".encode())
            verdict = "ok" if wall < TARGET_S and not heavy else "MISSED"
            missed += verdict != "ok"
            print(f"{label:14} best wall {wall:.3f} s (target < {TARGET_S} s: {verdict})  "
                  f"imports {_import_us(case) / 1e6:.3f} s  paxlab modules {len(ours)}  "
                  f"heavy: {', '.join(heavy[:3]) or 'none'}")
    print(f"result hash: {digest.hexdigest()}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
