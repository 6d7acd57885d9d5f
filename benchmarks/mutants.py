"""The mutation campaign as a benchmark: ``python -m benchmarks.mutants [paxlab mutants options]``.

A thin alias of ``paxlab mutants`` (see docs/mutants.md): every mutant of the catalogue in a
temporary copy of the tree, ``--budget 60`` wall seconds each, then the table and the kill
rate. Long (tens of minutes on 2 cores): run it on purpose.
"""

from __future__ import annotations

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main(["mutants", *sys.argv[1:]]))
