"""S15: a replica's durable log agrees with the chosen log at and below its commit index, and no
accepted ballot exceeds its promise (`harness.checks.durable_log`, run by OnlineInvariants)."""

from __future__ import annotations

from consensus.ballot import Ballot, Entry
from consensus.effects import Persist
from consensus.records import CheckpointRecord, encode_record
from harness.checks.accepts import Where
from tests.harness.checks.test_invariants import B1, B2, FakeReplica, Run, accept, put

A, B = put("k", "a"), put("k", "b")


def test_matching_log_at_and_below_the_commit_index_passes() -> None:
    run = Run()
    run.choose(1, B1, A)
    run.replicas[1].commit_index = 1
    assert run.step(1) is None
    # Re-accepting the chosen value under a later ballot is fine.
    assert run.step(1, accept(1, B2, A)) is None


def test_rewriting_a_committed_slot_with_another_value_is_s15() -> None:
    run = Run()
    run.choose(1, B1, A)  # nodes 1 and 2 accept: chosen
    run.replicas[1].commit_index = 1
    assert run.step(1) is None
    # A late old-ballot Accept carries B for slot 1; node 1 persists it anyway.
    late = Ballot(0, 3)
    run.replicas[1].promised = B1
    v = run.inv.on_step(1, run.replicas[1], None, [accept(1, late, B)], 50, 50, 50)
    assert v is not None and v.property == "S15" and v.slot == 1 and v.node == 1
    assert "commit index" in v.message


def test_commit_index_moving_over_a_wrong_entry_is_s15() -> None:
    run = Run()
    run.choose(1, B2, A, nodes=(2, 3))
    run.replicas[1].promised = B2
    run.replicas[1].accepted = {1: Entry(B1, B)}  # held since before; not the chosen value
    assert run.step(1) is None  # not committed: an old accepted value is fine
    run.replicas[1].commit_index = 1
    v = run.step(1)
    assert v is not None and v.property == "S15" and v.slot == 1


def test_accepted_ballot_above_the_promise_is_s15() -> None:
    run = Run()
    run.replicas[1].promised = B1
    ok = run.inv.on_step(1, run.replicas[1], None, [accept(1, B1, A)], 1, 1, 1)
    assert ok is None
    v = run.inv.on_step(1, run.replicas[1], None, [accept(2, B2, A)], 2, 2, 2)
    assert v is not None and v.property == "S15" and v.slot == 2 and "promise" in v.message


def test_recovered_log_is_checked_whole() -> None:
    run = Run()
    run.choose(1, B1, A)
    good = FakeReplica(3, promised=B1, commit_index=1, accepted={1: Entry(B1, A)})
    assert run.inv.on_recover(3, good, 5, 5) is None
    above = FakeReplica(3, promised=B1, commit_index=0, accepted={1: Entry(B1, A),
                                                                  2: Entry(B2, B)})
    v = run.inv.on_recover(3, above, 6, 6)
    assert v is not None and v.property == "S15" and v.slot == 2
    wrong = FakeReplica(2, promised=B2, commit_index=1, accepted={1: Entry(B2, B)})
    run2 = Run()
    run2.choose(1, B1, A, nodes=(1, 3))
    v = run2.inv.on_recover(2, wrong, 7, 7)
    assert v is not None and v.property in ("S1", "S15")


def _persist(*records: object) -> Persist:
    return Persist(records=tuple(encode_record(r) for r in records))  # type: ignore[arg-type]


def test_a_durable_accept_missing_after_recovery_is_s3() -> None:
    run = Run()
    run.replicas[1].promised = B2
    assert run.inv.on_step(1, run.replicas[1], None, [accept(3, B1, A)], 1, 1, 1) is None
    lost = FakeReplica(1, promised=B1, accepted={})
    v = run.inv.on_recover(1, lost, 2, 2)
    assert v is not None and v.property == "S3" and v.slot == 3 and "lost" in v.message
    # Recovered at a lower ballot is as bad as not at all.
    run = Run()
    run.replicas[1].promised = B2
    assert run.inv.on_step(1, run.replicas[1], None, [accept(3, B2, A)], 1, 1, 1) is None
    older = FakeReplica(1, promised=B2, accepted={3: Entry(B1, B)})
    v = run.inv.on_recover(1, older, 2, 2)
    assert v is not None and v.property == "S3" and v.slot == 3
    # So is the same ballot with other bytes (a flipped bit replayed from the WAL).
    run = Run()
    run.replicas[1].promised = B2
    assert run.inv.on_step(1, run.replicas[1], None, [accept(3, B2, A)], 1, 1, 1) is None
    flipped = FakeReplica(1, promised=B2, accepted={3: Entry(B2, B)})
    # The recovered record is counted as a vote first: S1 sees two values for one ballot.
    v = run.inv.on_recover(1, flipped, 2, 2)
    assert v is not None and v.property == "S1"
    v = run.inv._durable_log.on_recover(1, flipped, Where(2, 2, 1))
    assert v is not None and v.property == "S3" and "another value" in v.message


def test_what_recovery_may_legitimately_differ_in_passes() -> None:
    run = Run()
    inv, r = run.inv, run.replicas[1]
    r.promised = B2
    assert inv.on_step(1, r, None, [accept(3, B1, A), accept(4, B1, A)], 1, 1, 1) is None
    # Slot 4 was overwritten by a later (unsynced) accept that survived; slot 3 compacted.
    back = FakeReplica(1, promised=B2, snapshot_slot=3, accepted={4: Entry(B2, B)})
    assert inv.on_recover(1, back, 2, 2) is None
    # A checkpoint persisted later replaces the shadow: what it dropped is not expected back.
    step = _persist(CheckpointRecord(B2, 4, 4, b"snap", entries=((5, B2, A),)))
    assert inv.on_step(1, back, None, [step], 3, 3, 3) is None
    again = FakeReplica(1, promised=B2, snapshot_slot=4, accepted={5: Entry(B2, A)})
    assert inv.on_recover(1, again, 4, 4) is None


def test_a_configuration_recovered_older_than_recorded_is_s3() -> None:
    run = Run()
    r = run.replicas[1]
    step = _persist(CheckpointRecord(B1, 9, 9, b"snap", 8, b"cfg"))
    assert run.inv.on_step(1, r, None, [step], 1, 1, 1) is None
    kept = FakeReplica(1, promised=B1, snapshot_slot=9, committed_config_slot=8)
    assert run.inv.on_recover(1, kept, 2, 2) is None
    forgot = FakeReplica(1, promised=B1, snapshot_slot=9, committed_config_slot=0)
    v = run.inv.on_recover(1, forgot, 3, 3)
    assert v is not None and v.property == "S3" and "configuration" in v.message


def test_accepts_held_only_in_a_checkpoint_count_as_votes() -> None:
    """A replica that checkpoints drops its pending accept records: the checkpoint is then the
    only durable record of those votes, and the checks must count them (and check them)."""
    run = Run()
    run.replicas[1].promised = run.replicas[2].promised = B1
    assert run.step(1, accept(1, B1, A)) is None
    assert 1 not in run.inv.log.chosen
    ckpt = _persist(CheckpointRecord(B1, 0, 0, b"", entries=((1, B1, A),)))
    assert run.inv.on_step(2, run.replicas[2], None, [ckpt], 2, 2, 2) is None
    assert run.inv.log.chosen[1] == A
    # Another value under the same ballot, held in a checkpoint, is S1 all the same.
    other = _persist(CheckpointRecord(B1, 0, 0, b"", entries=((1, B1, B),)))
    run.replicas[3].promised = B1
    v = run.inv.on_step(3, run.replicas[3], None, [other], 3, 3, 3)
    assert v is not None and v.property == "S1"


def test_quiet_steps_are_skipped_without_losing_the_committed_range() -> None:
    # OnlineInvariants skips S15 for a step that persisted nothing and left the commit index
    # where it was; the slots committed since the last check are still checked when it moves.
    run = Run()
    run.choose(1, B2, A, nodes=(2, 3))
    run.choose(2, B2, A, nodes=(2, 3))
    run.replicas[1].promised = B2
    run.replicas[1].accepted = {1: Entry(B2, A), 2: Entry(B1, B)}  # slot 2: not the chosen
    run.replicas[1].commit_index = 1
    assert run.step(1) is None  # slot 1 is right
    assert run.step(1) is None  # quiet: skipped
    assert run.inv._durable_log.commit_checked[1] == 1
    run.replicas[1].commit_index = 2
    v = run.step(1)
    assert v is not None and v.property == "S15" and v.slot == 2
