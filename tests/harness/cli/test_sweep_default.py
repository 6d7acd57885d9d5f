"""`paxlab sweep` with no options is the README's main job: it must parse and name its seeds."""

from __future__ import annotations

from harness.cli import build_parser
from harness.cli.sweep import DEFAULT_SEEDS
from harness.failures.sweep import parse_seed_range


def test_sweep_runs_a_default_seed_range_without_options() -> None:
    args = build_parser().parse_args(["sweep"])
    assert args.seeds == DEFAULT_SEEDS
    seeds = parse_seed_range(args.seeds)
    assert seeds.start == 0 and len(seeds) >= 100
