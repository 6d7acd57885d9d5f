"""The explorer's replicas and clients, shared by `harness.explore.world` and the host-loop
replay (`harness.failures.explore_replay`), so both build exactly the same replicas and requests.

Client op ``i`` (of ``Bounds.writes + Bounds.reads``) is issued once by client ``i + 1``
with request id 1: writes ``put k=v<i>`` first, then strong reads of ``k``.
"""

from __future__ import annotations

from typing import Any

from consensus import Replica, ReplicaConfig
from consensus.events import ClientRead, ClientWrite, Event
from harness.explore.bounds import EXPLORE_TIMING, Bounds
from storage.kv import Command

KEY = b"k"


def nominal(label: str, n: int) -> int:
    """The explorer's `choose`: always the nominal choice 0."""
    return 0


def op_spec(bounds: Bounds, op: int) -> tuple[str, bytes]:
    """Return (f, value) of client op ``op``: writes ``put k=v<op>`` first, then strong gets."""
    if op < bounds.writes:
        return "put", f"v{op}".encode()
    return "get", b""


def client_request(bounds: Bounds, op: int) -> tuple[Event, str, Any]:
    """Return (event for the replica, history ``f``, history ``value``) of client op ``op``."""
    f, value = op_spec(bounds, op)
    client = op + 1
    if f == "put":
        command = Command(op="put", key=KEY, value=value, client_id=client, request_id=1)
        ev = ClientWrite(client_id=client, request_id=1, command=command.encode())
        return ev, f, value.decode()
    return ClientRead(client_id=client, request_id=1, key=KEY, strong=True), f, None


def make_replica(bounds: Bounds, node: int, records: tuple[bytes, ...] = ()) -> Replica:
    """Node ``node``'s replica under ``bounds`` (recovered from ``records``, its WAL)."""
    config = ReplicaConfig(
        node_id=node, members=bounds.members, timing=EXPLORE_TIMING, variant=bounds.variant,
        spares=bounds.spare_ids, log_spares=bounds.log_spare_ids,
        replica_dead_after_us=bounds.dead_after_us or 0,
    )
    return Replica(config, nominal, records=records, applied_slot=0)
