"""Raft as a second sans-I/O protocol on the same host and storage as the Multi-Paxos replica.

A host feeds `consensus.events` into `RaftReplica.step(event, now_us)` and performs the
returned `consensus.effects` in order; Raft's log index is the host's slot. Layout:
`config` (RaftConfig, Role, variants), `messages`, `log` (the in-memory log, configuration
entries), `records` (durable records and replay), `core` (shared state and helpers),
`leader` (replication, commit, leases, CheckQuorum, membership changes), `replica`
(dispatch, elections with PreVote, the follower side, snapshots), `state` (clone and
fingerprint). Nothing here imports the Multi-Paxos replica's internals.
"""

from consensus.raft.config import VARIANTS as VARIANTS
from consensus.raft.config import RaftConfig as RaftConfig
from consensus.raft.config import Role as Role
from consensus.raft.replica import RaftReplica as RaftReplica
from consensus.raft.replica import make_replica as make_replica

__all__ = ["VARIANTS", "RaftConfig", "RaftReplica", "Role", "make_replica"]
