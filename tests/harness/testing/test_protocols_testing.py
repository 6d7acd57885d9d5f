"""The testing layer takes a protocol: `run_options(protocol=...)` and the plugin's
``--paxlab-protocol`` (``paxlab_protocol`` fixture, ``paxlab_run`` moving options to it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from harness.runtime import protocols
from harness.sim.runspec import RunOptions
from harness.testing import strategies as pst
from harness.testing.pytest_plugin import for_protocol

pytest_plugins = ["pytester"]


@settings(max_examples=30, derandomize=True, deadline=None)
@given(pst.run_options(protocol="example"))
def test_run_options_of_another_protocol_stay_within_its_assumptions(
    options: RunOptions,
) -> None:
    assert options.protocol == "example"
    assert set(options.faults) <= set(protocols.get("example").faults)


def test_run_options_of_an_unknown_protocol_are_refused() -> None:
    with pytest.raises(protocols.ProtocolUnavailable):
        pst.run_options(protocol="zab")


def test_for_protocol_moves_default_options_only() -> None:
    moved = for_protocol(RunOptions(seed=5), "example")
    assert moved.protocol == "example" and moved.seed == 5 and "disk" not in moved.faults
    named = RunOptions(protocol="example", faults=("crash",))
    assert for_protocol(named, "multipaxos") is named
    plain = RunOptions()
    assert for_protocol(plain, "multipaxos") is plain


_USES_PROTOCOL = '''
from harness.sim.runspec import RunOptions

def test_run_follows_the_flag(paxlab_run, paxlab_protocol):
    result = paxlab_run(RunOptions(seed=1, ops=20, clients=2, keys=2))
    assert result.options.protocol == paxlab_protocol == "example"
    assert result.verdict == "ok"
'''


def test_plugin_option_selects_the_protocol(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_USES_PROTOCOL)
    result = pytester.runpytest("-p", "no:cacheprovider", "--paxlab-protocol", "example")
    result.assert_outcomes(passed=1)


def test_plugin_option_with_an_unknown_protocol_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(_USES_PROTOCOL)
    result = pytester.runpytest("-p", "no:cacheprovider", "--paxlab-protocol", "zab")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown protocol 'zab'*"])
