"""TLA+ tooling around the specs in the repository's ``tla/`` folder.

- `tlc`: runs SANY and TLC over every model configuration and records the results, hashed
  against spec and config (``python -m harness.tla.tlc``);
- `tracevalid`: validation of simulator traces against the spec's actions (in Python, or as a
  TLA+ module for TLC).
"""
