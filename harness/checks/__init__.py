"""Checks: everything that decides whether a run was correct.

The lowest room of the harness: it imports only `consensus` and `storage`, so the simulator,
the explorer and (later) real clusters all judge runs with the same code.

Online invariants, checked after every step from the replicas and their effects:
- `invariants`: `OnlineInvariants`, S1..S15 over one group (the entry point);
- `accepts`: durable accept votes per (slot, ballot), for S1;
- `quorum_view`: which configuration decides each (slot, ballot) under membership changes;
- `membership`: S12/S13 across configuration changes;
- `statemodel`: the chosen log's reference state machine, for S2/S10.

History checks, on recorded client operations:
- `history`: the history format (JSON lines and Jepsen EDN) and its recorder;
- `linearizability`: the Wing-Gong-Lowe search (S8), with `_wgl` and `_prune`;
- `models`: the sequential models it checks against (register, kv);
- `synth`: generated histories and fault injectors for tests and benchmarks.

`violation.Violation` is what every check reports.
"""
