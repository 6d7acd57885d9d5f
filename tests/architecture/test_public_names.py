"""Names users rely on keep working after the layout changes (see docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest


def test_strategies_keep_their_documented_name() -> None:
    from harness import strategies
    from harness.testing import strategies as home

    for name in ("fault_sets", "workloads", "run_options", "choice_lists", "schedules"):
        assert getattr(strategies, name) is getattr(home, name)


def test_the_pytest_plugin_is_registered_and_its_old_name_imports() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "paxlab"]
    assert plugin.value == "harness.testing.pytest_plugin"
    from harness import pytest_plugin
    from harness.testing import pytest_plugin as home

    assert pytest_plugin.paxlab_run is home.paxlab_run


@pytest.mark.parametrize("module", ["harness", "harness.tracevalid", "harness.tla.tracevalid",
                                    "harness.tlacheck", "harness.tla.tlc"])
def test_documented_module_commands_answer_help(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:")
