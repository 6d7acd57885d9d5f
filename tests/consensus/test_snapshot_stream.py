"""Large snapshots stream in checksummed chunks; a corrupt chunk is never installed (S14)."""

from __future__ import annotations

import attrs

from consensus.effects import InstallSnapshot, Send
from consensus.messages import CatchUpReply, CatchUpRequest
from consensus.snapshot_stream import SNAPSHOT_CHUNK_BYTES, Assembly, chunk_checksum, cut_chunk
from tests.consensus.group import Group


def test_assembly_takes_chunks_in_order_and_rejects_corrupt_ones() -> None:
    data = bytes(range(256)) * (SNAPSHOT_CHUNK_BYTES // 100)
    asm = Assembly(slot=7, total=len(data))
    offset = 0
    while not asm.complete:
        chunk, checksum = cut_chunk(data, offset)
        assert not asm.add(offset + 1, chunk, checksum)  # out of order
        assert not asm.add(offset, chunk[:-1] + b"x", checksum)  # corrupt
        assert asm.add(offset, chunk, checksum)
        offset += len(chunk)
    assert bytes(asm.data) == data and offset > SNAPSHOT_CHUNK_BYTES
    assert cut_chunk(data, len(data) + 5)[0] == data[:SNAPSHOT_CHUNK_BYTES]
    assert chunk_checksum(b"a") != chunk_checksum(b"b")


def _lagging_group() -> tuple[Group, int, int]:
    g = Group(3)
    leader = g.elect()
    lagging = next(i for i in g.members if i != leader)
    g.crash(lagging)
    for k in range(1, 31):
        g.write(leader, 1, k, bytes([k]) * 100_000)  # ~3 MB of state in total
        g.run(20_000)
    for i in g.members:
        if i != lagging:
            g.compact(i)
    return g, leader, lagging


def test_a_large_snapshot_streams_in_chunks() -> None:
    g, leader, lagging = _lagging_group()
    g.restart(lagging)
    g.run(2_000_000)
    chunks = [e.msg for i in g.members for e in g.nodes[i].effects
              if isinstance(e, Send) and e.dst == lagging and isinstance(e.msg, CatchUpReply)
              and e.msg.snapshot_total]
    assert len(chunks) >= 3 and all(len(c.snapshot) <= SNAPSHOT_CHUNK_BYTES for c in chunks)
    assert g.nodes[lagging].sm == g.nodes[leader].sm


def test_a_corrupt_chunk_is_dropped_and_asked_for_again() -> None:
    g, leader, lagging = _lagging_group()
    g.restart(lagging)
    corrupted = 0
    for _ in range(20_000):
        if not g.network:
            g.advance(5_000)
            g.tick_due()
            continue
        src, dst, msg = g.network[0]
        if (not corrupted and isinstance(msg, CatchUpReply) and msg.snapshot_total
                and msg.snapshot_offset > 0):
            bad = msg.snapshot[:10] + b"\x00" + msg.snapshot[11:]
            g.network[0] = (src, dst, attrs.evolve(msg, snapshot=bad))
            corrupted += 1
        g.deliver(0)
    g.run(2_000_000)
    assert corrupted == 1
    installs = [e for e in g.nodes[lagging].effects if isinstance(e, InstallSnapshot)]
    assert len(installs) == 1  # only the verified, complete snapshot
    assert g.nodes[lagging].sm == g.nodes[leader].sm  # the good bytes, in the end


def test_two_peers_streaming_snapshots_of_different_slots_at_once_do_not_livelock() -> None:
    # A retry that moves on to another peer leaves the first one's stream running: the
    # lagging replica then gets chunks of two snapshots taken at different slots, in turn.
    g = Group(3)
    leader = g.elect()
    lagging, other = (i for i in g.members if i != leader)
    g.crash(lagging)
    for k in range(1, 31):
        g.write(leader, 1, k, bytes([k]) * 100_000)
        g.run(20_000)
        if k == 15:
            g.compact(other)  # a snapshot at about slot 15 ...
    g.compact(leader)  # ... and one at about slot 30
    g.restart(lagging)
    ballot = g.replica(lagging)._promised
    for peer in (other, leader):
        g.network.append((lagging, peer, CatchUpRequest(ballot=ballot, from_slot=1)))
    for _ in range(3_000):  # bounded: two streams restarting each other never end
        if not g.network:
            g.advance(5_000)
            g.tick_due()
            continue
        g.deliver(0)
        if g.nodes[lagging].sm == g.nodes[leader].sm:
            break
    sources = {i for i in (other, leader) if any(
        isinstance(e, Send) and e.dst == lagging and isinstance(e.msg, CatchUpReply)
        and e.msg.snapshot_total for e in g.nodes[i].effects)}
    assert sources == {other, leader}  # both streamed to it
    assert g.nodes[lagging].sm == g.nodes[leader].sm
