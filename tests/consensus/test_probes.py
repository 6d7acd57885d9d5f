"""consensus.probes: every declared probe is placed, counters are cheap and side-effect free."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import consensus
from consensus import probes

_CALL = re.compile(r'\bprobe\("([^"]+)"\)')


def _placed() -> dict[str, list[str]]:
    """Probe name -> the consensus modules that call it (from the source text)."""
    root = Path(consensus.__file__).parent
    found: dict[str, list[str]] = {}
    for path in sorted(root.glob("*.py")):
        if path.name == "probes.py":
            continue
        for name in _CALL.findall(path.read_text()):
            found.setdefault(name, []).append(path.name)
    return found


def test_every_declared_probe_is_placed_and_every_placed_probe_declared() -> None:
    placed = _placed()
    assert set(placed) == set(probes.PROBES), (
        sorted(set(probes.PROBES) - set(placed)), sorted(set(placed) - set(probes.PROBES))
    )


def test_counting_reset_and_never_fired() -> None:
    probes.reset()
    assert set(probes.counts().values()) == {0}
    probes.probe("compaction")
    probes.probe("compaction")
    probes.probe("acceptor.nack")
    got = probes.counts()
    assert got["compaction"] == 2 and got["acceptor.nack"] == 1
    assert list(got) == list(probes.PROBES)  # every name, declared order
    never = probes.never_fired(got)
    assert "compaction" not in never and "acceptor.nack" not in never
    assert len(never) == len(probes.PROBES) - 2
    assert probes.never_fired({}) == list(probes.PROBES)
    got["compaction"] = 99  # a copy: the counters are not touched
    assert probes.counts()["compaction"] == 2
    probes.reset()
    assert probes.counts()["compaction"] == 0


def test_an_undeclared_probe_raises() -> None:
    with pytest.raises(KeyError):
        probes.probe("no-such-probe")
