"""Sans-I/O Multi-Paxos replica: events in, effects out; no clocks, sockets, randomness or files.

A host (see `harness`) feeds `consensus.events` into `Replica.step(event, now_us)` and performs
the returned `consensus.effects` in order.
"""
