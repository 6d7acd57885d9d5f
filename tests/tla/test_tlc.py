"""SANY and TLC on tla/, when TLA2TOOLS_JAR points to tla2tools.jar (else these tests skip,
saying why: the only skips the suite allows). Every pass config must exit 0 and explore as
many distinct states as recorded; every _bug and _witness config must exit 12 naming its
expected invariant."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.tla import tlc as tlacheck
from harness.tla.tlc import ModelConfig

JAR = tlacheck.jar_from_env()
needs_jar = pytest.mark.skipif(
    JAR is None, reason=f"{tlacheck.JAR_ENV} does not point to tla2tools.jar"
)
CONFIGS = tlacheck.load_configs()


@needs_jar
@pytest.mark.parametrize("path", sorted(tlacheck.TLA_DIR.glob("*.tla")), ids=lambda p: p.name)
def test_sany_parses(path: Path) -> None:
    assert JAR is not None
    proc = tlacheck.run_sany(path, JAR)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Semantic processing of module " + path.stem in proc.stdout


@needs_jar
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_tlc_verdict(cfg: ModelConfig) -> None:
    assert JAR is not None
    run = tlacheck.run_tlc(cfg, JAR, timeout_s=600)
    assert tlacheck.verdict_ok(cfg, run.exit_code, run.violated), run.output[-3000:]
    if cfg.expect == "pass":
        recorded = tlacheck.read_result_header(cfg.result_path())
        assert run.distinct_states == int(recorded["distinct_states"])
    else:
        assert f"Invariant {cfg.expect} is violated" in run.output
