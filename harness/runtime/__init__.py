"""The runtime: the one host loop and its ports, the same code in every world.

- `host`: `Host`, which steps a replica and performs its effects in order (persist before send);
- `ports`: the narrow interfaces the host talks through (network, timers, disk, clients);
- `backend`: `GroupSpec` and `Backend`, what a group is made of (replicas, WALs, state machines);
- `chooser`: `Chooser`, the one source of every nondeterministic decision (choice 0 = nominal).

A world (the simulator today) hands the host its transport, disk, clock and timers; nothing
here knows which world it runs in. It imports only `consensus`, `storage` and the checks.
"""
