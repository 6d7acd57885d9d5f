"""A minimal example protocol: a fixed-leader primary-backup log (see `replica` for its
assumptions). It exists to show the protocol interface (docs/protocol.md) end to end; it is
not a fault-tolerant consensus protocol: its leader never changes.
"""

from consensus.example.replica import VARIANTS as VARIANTS
from consensus.example.replica import Ack as Ack
from consensus.example.replica import Append as Append
from consensus.example.replica import ExampleReplica as ExampleReplica
from consensus.example.replica import make_replica as make_replica

__all__ = ["VARIANTS", "Ack", "Append", "ExampleReplica", "make_replica"]
