"""Helpers for users' own property-based tests.

- `strategies`: hypothesis strategies for run options, fault sets, workloads, choice lists
  and explorer schedules (also importable as ``harness.strategies``);
- `pytest_plugin`: fixtures ``paxlab_run``, ``paxlab_schedule`` and ``paxlab_cluster``,
  registered by installing paxlab.
"""
