"""Deprecated name of `harness.tla.tracevalid`: ``python -m harness.tracevalid FILE`` keeps
working and runs the same validator."""
