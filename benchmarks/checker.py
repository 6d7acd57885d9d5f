"""Linearizability checker speed on synthetic histories (`harness.checks.synth`).

    python -m benchmarks.checker            # full sizes, best of 3 runs each
    python -m benchmarks.checker --quick    # 1/10 sizes, one run (a smoke test)

Targets: a 10,000-op kv history over 100 keys with 10 clients in <= 2 s; a 500-op register
history with 5 clients and 10% info ops in <= 0.5 s. Also shown, without targets: the same
histories with an injected stale read or lost write (time to find the violation), and a
register history over 5 values (duplicates: the hard, Jepsen-like case).

Prints one line per case and a result hash over every (case, verdict, key, prefix length),
which must be the same on every machine. Exits 1 if a target was missed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from typing import Any

from harness.checks.history import HistoryEvent
from harness.checks.linearizability import check_linearizability
from harness.checks.synth import generate_history, inject_lost_write, inject_stale_read

KV: dict[str, Any] = {"model": "kv", "ops": 10_000, "clients": 10, "keys": 100,
                      "info_rate": 0.05, "fail_rate": 0.05}
REGISTER: dict[str, Any] = {"model": "register", "ops": 500, "clients": 5, "info_rate": 0.1}
HARD: dict[str, Any] = {**REGISTER, "value_domain": 5}

Inject = Callable[[list[HistoryEvent], int], list[HistoryEvent]] | None

# name, generator options, injector, expected verdict, target seconds (None: no target)
CASES: list[tuple[str, dict[str, Any], Inject, str, float | None]] = [
    ("kv 10k ops/100 keys/10 clients", KV, None, "linearizable", 2.0),
    ("kv 10k + stale read", KV, inject_stale_read, "violation", None),
    ("kv 10k + lost write", KV, inject_lost_write, "violation", None),
    ("register 500 ops/5 clients/10% info", REGISTER, None, "linearizable", 0.5),
    ("register 500 + stale read", REGISTER, inject_stale_read, "violation", None),
    ("register 500 + lost write", REGISTER, inject_lost_write, "violation", None),
    ("register 500, 5 values", HARD, None, "linearizable", None),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 sizes, one run each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is shown)")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(args.repeat, 1)
    digest = hashlib.blake2b(digest_size=8)
    missed = 0
    print(f"{'case':38} {'ops':>6} {'verdict':>12} {'states':>8} {'best s':>8}  target")
    for name, opts, inject, expected, target_s in CASES:
        size = dict(opts)
        if args.quick:
            size["ops"] = max(size["ops"] // 10, 50)
        events = generate_history(seed=args.seed, **size)
        if inject is not None:
            events = inject(events, args.seed)
        best_s = float("inf")
        result = None
        for _ in range(repeat):
            started = time.perf_counter()
            result = check_linearizability(events, str(size["model"]), timeout_s=60.0)
            best_s = min(best_s, time.perf_counter() - started)
        assert result is not None
        note = "-"
        if target_s is not None and not args.quick:
            ok = best_s <= target_s
            missed += not ok
            note = f"<= {target_s:g} s: {'ok' if ok else 'MISSED'}"
        if result.verdict != expected:
            missed += 1
            note += f" (expected {expected})"
        print(f"{name:38} {size['ops']:>6} {result.verdict:>12} {result.states:>8} "
              f"{best_s:>8.3f}  {note}")
        digest.update(f"{name}|{result.verdict}|{result.key}|{len(result.prefix)}\n".encode())
    print(f"result hash: {digest.hexdigest()}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
