"""The recorded default-run fingerprints still hold: a refactor changed no run.

The default suite checks the first seeds; ``-m slow`` checks every recorded seed. A change
meant to change behaviour re-records with ``python -m benchmarks.fingerprints --write
tests/data/fingerprints.json`` and says why.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import fingerprints

RECORDED: dict[str, str] = json.loads(fingerprints.DEFAULT_FILE.read_text())


def _check(seeds: range) -> None:
    found = fingerprints.fingerprints(seeds)
    differ = {seed: fp for seed, fp in found.items() if RECORDED[seed] != fp}
    assert not differ, f"fingerprints changed for seeds {sorted(differ, key=int)}"


def test_first_seeds_keep_their_recorded_fingerprints() -> None:
    _check(range(10))


@pytest.mark.slow
def test_every_recorded_seed_keeps_its_fingerprint() -> None:
    _check(range(len(RECORDED)))


def test_check_reports_a_changed_fingerprint(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    doctored = dict(RECORDED)
    doctored["1"] = "0" * 32
    path = tmp_path / "fp.json"
    path.write_text(json.dumps(doctored))
    assert fingerprints.main(["--seeds", "0:2", "--check", str(path)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
