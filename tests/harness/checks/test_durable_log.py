"""S15: a replica's durable log agrees with the chosen log at and below its commit index, and no
accepted ballot exceeds its promise (`harness.checks.durable_log`, run by OnlineInvariants)."""

from __future__ import annotations

from consensus.ballot import Ballot, Entry
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
