"""Sans-I/O Multi-Paxos replica: events in, effects out; no clocks, sockets, randomness or files.

A host (see `harness`) feeds `consensus.events` into `Replica.step(event, now_us)` and performs
the returned `consensus.effects` in order.

Layout: `ballot` (Ballot, Entry), `config` (Timing, ReplicaConfig, variants), `quorum` (pure
quorum and lease arithmetic), `messages`, `records` (durable records, replay), `roles` (role
table and per-role state), `acceptor` / `leader` / `replica` (the state machine).
"""

from consensus.ballot import Ballot as Ballot
from consensus.ballot import Entry as Entry
from consensus.config import VARIANTS as VARIANTS
from consensus.config import ReplicaConfig as ReplicaConfig
from consensus.config import Timing as Timing
from consensus.replica import Replica as Replica
from consensus.roles import Role as Role

__all__ = ["VARIANTS", "Ballot", "Entry", "Replica", "ReplicaConfig", "Role", "Timing"]
