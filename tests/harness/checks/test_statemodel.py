"""harness.checks.statemodel: the chosen log's reference state against a KVStore applying it."""

from __future__ import annotations

import pytest

from consensus.membership import encode_config
from consensus.quorum import Membership
from harness.checks.statemodel import ChosenLog
from storage.kv import Command, KVStore
from storage.simdisk import SimDisk


def cmd(op: str, key: str, value: str = "", expected: str | None = None, rid: int = 0) -> bytes:
    return Command(
        op=op,
        key=key.encode(),
        value=value.encode(),
        expected=None if expected is None else expected.encode(),
        client_id=7 if rid else 0,
        request_id=rid,
    ).encode()


LOG = [
    cmd("put", "a", "1"),
    cmd("append", "a", "2", rid=1),
    cmd("append", "a", "2", rid=1),  # a retry: applied at most once
    encode_config(Membership((0, 1, 2), ())),
    cmd("cas", "b", "x", expected="nope"),
    cmd("put", "b", "y"),
    b"",  # a no-op
    cmd("cas", "b", "z", expected="y"),
]


def test_prefix_grows_only_over_contiguous_slots() -> None:
    log = ChosenLog()
    log.choose(2, LOG[1])
    assert log.prefix == 0 and not log.is_chosen_prefix(2)
    assert log.first_unchosen(1, 2) == 1
    log.choose(1, LOG[0])
    assert log.prefix == 2 and log.is_chosen_prefix(2)
    assert log.first_unchosen(1, 2) is None and log.first_unchosen(1, 3) == 3


def test_values_and_checksums_match_a_store_applying_the_log() -> None:
    log = ChosenLog()
    for slot in reversed(range(1, len(LOG) + 1)):  # chosen out of order
        log.choose(slot, LOG[slot - 1])
    kv = KVStore.open(SimDisk(1), "kv")
    assert log.checksum_at(0) == kv.checksum()
    for slot, command in enumerate(LOG, start=1):
        kv.apply(slot, b"" if command.startswith(b"\xff") else command)
        assert log.checksum_at(slot) == kv.checksum()
        for key in (b"a", b"b", b"c"):
            assert log.value_at(key, slot) == kv.get(key)
    assert log.value_at(b"a", 3) == b"12"
    assert log.value_at(b"b", len(LOG)) == b"z"


def test_checksum_beyond_the_prefix_is_an_error() -> None:
    log = ChosenLog()
    log.choose(2, LOG[0])
    with pytest.raises(ValueError, match="beyond the chosen prefix"):
        log.checksum_at(1)
