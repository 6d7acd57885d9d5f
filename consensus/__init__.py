"""Sans-I/O Multi-Paxos replica: events in, effects out; no clocks, sockets, randomness or files.

A host (see `harness`) feeds `consensus.events` into `Replica.step(event, now_us)` and performs
the returned `consensus.effects` in order.

Layout: `ballot` (Ballot, Entry), `config` (Timing, ReplicaConfig, variants), `quorum` (pure
quorum and lease arithmetic, `Membership` and the one-voter-at-a-time path between
configurations), `membership` (configuration entries in the log, and why they take effect when
appended), `members` (which configuration is in force at a slot), `healing` (the leader's
plan to replace a dead storage replica), `messages`, `records` (durable records, replay),
`roles` (role table and per-role state), `acceptor` / `leader` / `replica` (the state machine),
`replica_state` (`Replica.clone()` and the state fingerprint, for the explorer).

Log replicas (`ReplicaConfig.log_members` / ``log_spares``) vote in both phases but never
campaign, never serve reads (they answer ``Reply(error="log-replica")``) and apply nothing.
A leader changes the membership on `consensus.events.Reconfigure`, or by itself when
``replica_dead_after_us`` is set and a storage voter falls silent; it then asks its host to
start spares with `consensus.effects.StartReplica`.
"""

from consensus.ballot import Ballot as Ballot
from consensus.ballot import Entry as Entry
from consensus.config import VARIANTS as VARIANTS
from consensus.config import ReplicaConfig as ReplicaConfig
from consensus.config import Timing as Timing
from consensus.replica import Replica as Replica
from consensus.roles import Role as Role

__all__ = ["VARIANTS", "Ballot", "Entry", "Replica", "ReplicaConfig", "Role", "Timing"]
