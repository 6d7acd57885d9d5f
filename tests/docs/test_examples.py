"""Code examples in the documentation run as they stand and do what the text says.

Each example is taken from its page by a marker line it contains, so an edit of the page is
what is tested, not a copy of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[2] / "docs"


def code_block(page: str, containing: str) -> str:
    """The fenced ``python`` block of ``docs/page`` that contains ``containing``."""
    text = (DOCS / page).read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    (block,) = [b for b in blocks if containing in b]
    return block


def test_explore_property_based_example_fails_with_s3_every_time(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(code_block("explore.md", "def test_promises_survive_restart"))
    for _ in range(2):  # the same verdict twice: the example is deterministic
        result = pytester.runpytest("-p", "no:cacheprovider", "-q")
        result.assert_outcomes(failed=1, passed=1)
        result.stdout.fnmatch_lines(["*test_promises_survive_restart*", "*S3:*"])


def test_protocol_registration_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.runtime import protocols

    monkeypatch.setattr(protocols, "PROTOCOLS", dict(protocols.PROTOCOLS))  # undone after
    exec(code_block("protocol.md", "protocols.register(spec)"), {})
    assert "my-primary-backup" in protocols.PROTOCOLS
    assert capsys.readouterr().out == "checks: shared only verdict: ok\n"


def test_example_protocol_is_under_200_lines() -> None:
    source = DOCS.parent / "consensus" / "example" / "replica.py"
    assert len(source.read_text().splitlines()) < 200
