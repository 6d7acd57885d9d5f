"""The NDJSON trace writer: one JSON line per protocol action a simulated run takes.

A replica step of the implementation may do several of the spec's actions at once (receiving
an Accepted can extend the lease, commit a slot, propose queued writes and answer a client),
so the writer splits each step into lines named like the actions of ``tla/Paxlab.tla``, in a
fixed order (`ACTION_ORDER`), each carrying the part of the node's state that action changes.
Steps that change nothing the spec sees (a Nack, a probe) write nothing.

Every line has ``action``, ``node``, ``t`` (true time, us) and ``lt`` (the node's local time,
us). Ballots are ``[round, node]``; log values are strings: ``"noop"``, ``"cmd:<hex>"`` or
``"cfg:<hex>"`` (6-byte blake2b digests of the command); entries are ``[slot, ballot, value]``.
The first line is ``Init`` (nodes, configuration, lease length, drift bound, run options).

The writer reads the replica only through its inspection surface (``promised``,
``accepted``, ``commit_index``, ``role``, ``leader_ballot``, ``recovery_slot``,
``lease_until_us``) and the events and effects of each step; it computes nothing the
validator then trusts: waits and lease grants are recomputed by the validator.
Deterministic: keys sorted, no set order, no wall time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TextIO

from consensus.ballot import Ballot, Entry
from consensus.effects import Reply, Send, ServeRead
from consensus.events import Receive
from consensus.membership import is_config
from consensus.messages import Accept, CatchUpReply, Prepare, Promise, Release, SlotEntry

ACTION_ORDER: tuple[str, ...] = (
    "StepDown", "Demote", "Prepare", "Promise", "BecomeLeader", "Accept", "CatchUp",
    "LearnCommit", "Compact", "Heartbeat", "Propose", "Commit", "ReplyWrite", "ServeRead",
    "Release",
)
"""The order of a step's lines (Init, Crash and Restart are lines of their own)."""

JsonBallot = list[int] | None


def ballot_json(b: Ballot | None) -> JsonBallot:
    """``[round, node]``, or None for no ballot (``Ballot.ZERO`` is ``[0, 0]``)."""
    return None if b is None else [b.round, b.node]


def value_name(command: bytes) -> str:
    """The trace's name of a log value: "noop", "cfg:<hex>" or "cmd:<hex>"."""
    if not command:
        return "noop"
    digest = hashlib.blake2b(command, digest_size=6).hexdigest()
    return ("cfg:" if is_config(command) else "cmd:") + digest


def _entry(slot: int, e: Entry | SlotEntry) -> list[Any]:
    return [slot, ballot_json(e.ballot), value_name(e.command)]


class _NodeView:
    """What the writer last saw of one node (to diff the next step against)."""

    __slots__ = (
        "accepted", "ballot", "commit", "lease_end", "promised", "promises", "role", "snapshot",
        "up",
    )

    def __init__(self) -> None:
        self.up = False
        self.promised: Ballot = Ballot.ZERO
        self.role = "follower"
        self.ballot: Ballot | None = None  # own ballot as candidate or leader
        self.accepted: dict[int, Entry] = {}
        self.commit = 0
        self.snapshot = 0
        self.lease_end: int | None = None
        self.promises: dict[int, Promise] = {}  # promises received for the own candidacy


def _own_ballot(replica: Any, role: str) -> Ballot | None:
    if role == "leader":
        b: Ballot | None = replica.leader_ballot
        return b
    if role == "candidate":
        p: Ballot = replica.promised
        return p
    return None


class NdjsonTraceWriter:
    """Writes the trace of one run to ``out`` (a text stream); see the module doc.

    Args:
        out: where lines go (the caller opens and closes it).
        members: the initial configuration's node ids.
        lease_us, drift_ppm: the protocol's lease length and drift bound (consensus.Timing).
        options: run options (JSON-able), recorded in the Init line.
    """

    def __init__(
        self,
        out: TextIO,
        members: Sequence[int],
        *,
        lease_us: int,
        drift_ppm: int,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.out = out
        self.lines = 0
        self.steps = 0
        self._views: dict[int, _NodeView] = {n: _NodeView() for n in members}
        self._emit({"action": "Init", "nodes": list(members), "cfg": sorted(members),
                    "lease_us": lease_us, "drift_ppm": drift_ppm, "options": options or {},
                    "t": 0})

    def _emit(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        self.lines += 1

    # -- run events ----------------------------------------------------------------------------

    def crashed(self, node: int, true_us: int) -> None:
        """``node`` crashed or fail-stopped: its volatile state is gone (no line if down)."""
        v = self._views[node]
        if not v.up:
            return  # a restart that failed: the node stays down
        v.up = False
        v.role, v.ballot, v.lease_end, v.promises = "follower", None, None, {}
        self._emit({"action": "Crash", "node": node, "t": true_us})

    def recovered(self, node: int, replica: Any, true_us: int, local_us: int) -> None:
        """``node`` restarted with ``replica`` (built from its disk), before its first Tick."""
        v = self._views[node]
        v.up = True
        v.promised = replica.promised
        v.accepted = dict(replica.accepted)
        v.commit = replica.commit_index
        v.snapshot = replica.snapshot_slot
        v.role, v.ballot, v.lease_end, v.promises = "follower", None, None, {}
        recovered = v.promised != Ballot.ZERO or bool(v.accepted) or v.commit > 0
        self._emit({
            "action": "Restart", "node": node, "t": true_us, "lt": local_us,
            "promised": ballot_json(v.promised), "commit": v.commit, "recovered": recovered,
            "snapshot": v.snapshot,
            "entries": [_entry(s, e) for s, e in sorted(v.accepted.items())],
        })

    def observe(
        self, node: int, replica: Any, event: Any, effects: Sequence[Any], true_us: int,
        local_us: int,
    ) -> None:
        """After each replica step (`harness.runtime.host.StepObserver`, plus true time)."""
        v = self._views[node]
        base = {"node": node, "t": true_us, "lt": local_us}
        lines: dict[str, dict[str, Any]] = {}
        role = replica.role.value
        own = _own_ballot(replica, role)
        msg = event.msg if type(event) is Receive else None
        sends = [e.msg for e in effects if type(e) is Send]

        # Role changes.
        if v.role != "follower" and role == "follower":
            if any(type(m) is Release for m in sends):
                lines["StepDown"] = {"bal": ballot_json(v.ballot)}
            else:
                seen = getattr(msg, "ballot", None)
                lines["Demote"] = {"bal": ballot_json(v.ballot), "seen": ballot_json(seen)}
        if own is not None and own != v.ballot and (role == "candidate" or v.role != "candidate"):
            # a fresh candidacy (a one-node group wins it in the same step)
            v.promises = {}
            lines["Prepare"] = {"bal": ballot_json(own), "from": v.commit + 1}
        if type(msg) is Promise and v.role == "candidate" and msg.ballot == v.ballot:
            v.promises[event.src] = msg
        if role == "leader" and v.role != "leader":
            lines["BecomeLeader"] = {"bal": ballot_json(own)}

        # Durable state changes.
        changed: list[list[Any]] = []
        if v.accepted.keys() != replica.accepted.keys() or any(
            v.accepted.get(s) != e for s, e in replica.accepted.items()
        ):
            acc = replica.accepted
            changed = [_entry(s, e) for s, e in sorted(acc.items()) if v.accepted.get(s) != e]
            v.accepted = dict(acc)
        if type(msg) is Prepare:
            for m in sends:
                if type(m) is Promise:
                    lines["Promise"] = {
                        "bal": ballot_json(m.ballot), "to": event.src, "from": m.from_slot,
                        "rem": m.lease_remaining_us, "snapshot": m.snapshot_slot,
                        "entries": [_entry(e.slot, e) for e in m.entries],
                    }
        if type(msg) is Accept and replica.promised <= msg.ballot:
            lines["Accept"] = {
                "bal": ballot_json(msg.ballot), "src": event.src,
                "slots": [msg.first_slot, msg.first_slot + len(msg.commands) - 1],
                "stamp": msg.stamp_us,
                "entries": [e for e in changed if e[1] == ballot_json(msg.ballot)],
            }
        elif type(msg) is CatchUpReply:
            lines["CatchUp"] = {"entries": changed, "commit": replica.commit_index}
        elif type(msg) is Release:
            lines["Release"] = {"bal": ballot_json(msg.ballot)}
        installed = v.commit  # the commit index once phase 1 adopted a promiser's snapshot
        if "BecomeLeader" in lines:
            rec = replica.recovery_slot
            installed = max([v.commit] + [p.snapshot_slot for p in v.promises.values()
                                          if p.snapshot])
            lines["BecomeLeader"].update(
                entries=[e for e in changed if e[0] <= rec], next=rec + 1,
                quorum=sorted([node, *v.promises]),
                commit=installed,
                promises=[{"src": a, "rem": p.lease_remaining_us, "snapshot": p.snapshot_slot,
                           "entries": [_entry(e.slot, e) for e in p.entries]}
                          for a, p in sorted(v.promises.items())],
            )
            v.promises = {}
        if role == "leader":
            rec = replica.recovery_slot if "BecomeLeader" in lines else 0
            new = [e for e in changed if e[0] > rec and e[1] == ballot_json(own)]
            if new:
                lines["Propose"] = {"bal": ballot_json(own), "entries": new}
            lease = replica.lease_until_us
            # A round leaves as Accepts; a one-node group's round sends nothing, but moves
            # its lease (which runs from the round's stamp).
            sent_round = any(type(m) is Accept for m in sends) or (
                len(self._views) == 1 and lease is not None and lease != v.lease_end
            )
            if sent_round or lease != v.lease_end:
                lines["Heartbeat"] = {"bal": ballot_json(own), "sent": sent_round,
                                      "lease_end": lease}
            v.lease_end = lease
        else:
            v.lease_end = None
        if replica.snapshot_slot != v.snapshot:
            lines["Compact"] = {"snapshot": replica.snapshot_slot}
            v.snapshot = replica.snapshot_slot
        if replica.commit_index != installed and "CatchUp" not in lines:
            name = "Commit" if role == "leader" else "LearnCommit"
            seen_bal = own if role == "leader" else getattr(msg, "ballot", None)
            lines[name] = {"bal": ballot_json(seen_bal), "commit": replica.commit_index}

        # Answers to clients.
        replies = [e.slot for e in effects if type(e) is Reply and e.slot is not None]
        if replies:
            lines["ReplyWrite"] = {"replies": replies}
        strong = [e for e in effects if type(e) is ServeRead and e.strong]
        if strong:
            lines["ServeRead"] = {"count": len(strong)}

        self.steps += 1
        base["step"] = self.steps
        v.promised = replica.promised
        v.commit = replica.commit_index
        v.role = role
        v.ballot = own
        for name in ACTION_ORDER:
            fields = lines.get(name)
            if fields is not None:
                fields.update(base)
                fields["action"] = name
                fields["role"] = role
                fields["promised"] = ballot_json(replica.promised)
                self._emit(fields)
