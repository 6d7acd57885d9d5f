"""The leader's healing plan: which configuration to move to when a storage replica is dead.

A pure function of what the leader knows, so it is tested on its own. The plan, one target at
a time (each reached through `consensus.quorum.next_change`, one voter per change):

1. a storage voter silent for ``dead_after_us``: add a log replica (a spare), which needs only
   the WAL suffix and restores a healthy write quorum within seconds;
2. then replace the dead storage replica by a storage spare (it rebuilds from a snapshot plus
   the log through catch-up; it is added before the dead one is removed);
3. once every storage voter has applied the configuration entry that made it one (it has
   caught up), remove the spare log replicas again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consensus.quorum import Membership


def plan_healing(
    committed: Membership,
    *,
    leader: int,
    now_us: int,
    heard_us: Mapping[int, int],
    since_us: int,
    dead_after_us: int,
    spares: Sequence[int],
    log_spares: Sequence[int],
    applied: Mapping[int, int],
    config_slot: int,
    one_step: bool = False,
    storage_size: int = 0,
) -> Membership | None:
    """Return the configuration to move to next, or None (healthy, or nothing can be done).

    ``heard_us``: per peer, the leader's local time of its last reply (missing: never, counted
    from ``since_us``, when the leader was elected). ``applied``: per peer, its reported applied
    slot. ``config_slot``: slot of the configuration entry that set ``committed`` (0: initial).
    ``dead_after_us == 0`` disables healing. ``one_step`` (the unsafe one-step-swap variant):
    swap the dead storage replica for a log spare in one configuration. ``storage_size``: the
    storage replicas the group should have; a dead one whose replacement is already a voter
    (a new leader took over in the middle of a replacement) is removed only if that leaves at
    least that many (0: never without a free spare).
    """
    if dead_after_us <= 0:
        return None
    voters = set(committed.voters)
    dead = [v for v in committed.storage
            if v != leader and now_us - heard_us.get(v, since_us) >= dead_after_us]
    free_logs = [n for n in log_spares if n not in voters]
    free_storage = [n for n in spares if n not in voters]
    if dead and one_step and free_logs and len(committed.storage) > 1:
        rest = tuple(n for n in committed.storage if n != dead[0])
        if len(committed.logs) < len(rest):
            return Membership(rest, tuple(sorted((*committed.logs, free_logs[0]))))
    if dead:
        if not any(n in log_spares for n in committed.logs) and free_logs:
            return Membership(committed.storage, tuple(sorted((*committed.logs, free_logs[0]))))
        rest = tuple(n for n in committed.storage if n != dead[0])
        if free_storage:
            return Membership(tuple(sorted((*rest, free_storage[0]))), committed.logs)
        if storage_size and len(rest) >= storage_size and len(committed.logs) <= len(rest):
            return Membership(rest, committed.logs)
        return None
    temporary = [n for n in committed.logs if n in log_spares]
    caught_up = all(applied.get(v, 0) >= config_slot for v in committed.storage if v != leader)
    if temporary and caught_up:
        return Membership(committed.storage, tuple(n for n in committed.logs if n not in temporary))
    return None
