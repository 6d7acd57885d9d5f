"""Trace validation of simulator runs against the TLA+ specs.

- `writer`: `NdjsonTraceWriter`, one JSON line per ``tla/Paxlab.tla`` action a Multi-Paxos
  run takes; `raft_writer`: `RaftTraceWriter`, the same for ``tla/Raft.tla`` and Raft runs.
- `record`: `run_traced`, a simulation with its protocol's writer attached.
- `validate`: `validate_lines`, the Python mirror of ``tla/Paxlab.tla``'s actions; it hands
  a trace whose Init line names ``"protocol": "raft"`` to `raft_validate` (Raft.tla's
  rules; per-node state in `raft_state`). `verdict`: what both share.
- `tladata` / `raft_tladata`: the trace as a TLA+ module for ``tla/Trace.tla`` /
  ``tla/RaftTrace.tla`` (checked by TLC).

``python -m harness.tracevalid FILE`` validates a trace: exit 0 valid, 1 invalid (first bad
line and why), 2 bad input.
"""
