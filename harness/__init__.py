"""The harness: deterministic simulator, nemesis, workloads, checkers, sweeps, replay, CLI."""
