"""Trace validation of simulator runs against the TLA+ spec.

- `writer`: `NdjsonTraceWriter`, one JSON line per spec action a run takes.
- `record`: `run_traced`, a simulation with the writer attached.
- `validate`: `validate_lines`, the Python mirror of ``tla/Paxlab.tla``'s actions.
- `tladata`: the trace as a TLA+ module for ``tla/Trace.tla`` (checked by TLC).

``python -m harness.tracevalid FILE`` validates a trace: exit 0 valid, 1 invalid (first bad
line and why), 2 bad input.
"""
