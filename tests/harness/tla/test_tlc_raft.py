"""Registry-only checks of the Raft models in tla/ (no Java): the spec and its variants are
wired in like the Multi-Paxos ones, and the recorded counterexample of the Figure 8 bug is
the Figure 8 story (an old-term entry committed by counting, then lost by a later leader)."""

from __future__ import annotations

import re

from harness.tla import tlc as tlacheck

CONFIGS = {c.name: c for c in tlacheck.load_configs()}


def _constants(name: str) -> dict[str, str]:
    body = tlacheck.strip_comments(CONFIGS[name].path.read_text())
    return dict(re.findall(r"^\s*([A-Za-z]+)\s*=\s*(.+?)\s*$", body, re.MULTILINE))


def _trace_actions(name: str) -> list[str]:
    """The action of each state of a recorded counterexample, e.g. 'AdvanceCommit(s1)'."""
    text = CONFIGS[name].result_path().read_text()
    return [m.group(1) + (m.group(2) or "")
            for m in re.finditer(r"^State \d+: <(\w+)(\([^)]*\))?", text, re.MULTILINE)]


def test_raft_models_are_registered() -> None:
    raft = {n: c for n, c in CONFIGS.items() if c.module == "MCRaft"}
    assert raft["MCRaft"].expect == "pass"
    assert raft["MCRaftFig8_bug"].expect == "LeaderCompleteness"
    assert raft["MCRaft_witness"].expect == "NoOldTermCommitted"
    assert raft["MCRaftMembership_bug"].expect == "LeaderCompleteness"
    assert [p.name for p in raft["MCRaft"].module_paths()] == ["MCRaft.tla", "Raft.tla"]


def test_fig8_bug_differs_from_the_pass_model_only_in_the_rule_and_bounds() -> None:
    ok, bug = _constants("MCRaft"), _constants("MCRaftFig8_bug")
    assert ok["OwnTermCommit"] == "TRUE" and bug["OwnTermCommit"] == "FALSE"
    same = {"Servers", "InitConfig", "Values", "MaxChanges", "ConfigAfterOwnCommit"}
    assert {k: ok[k] for k in same} == {k: bug[k] for k in same}


def test_fig8_counterexample_commits_an_old_entry_then_elects_a_leader_without_it() -> None:
    header = tlacheck.read_result_header(CONFIGS["MCRaftFig8_bug"].result_path())
    assert header["violated"] == "LeaderCompleteness"
    actions = _trace_actions("MCRaftFig8_bug")
    assert actions[0] == "Initial"
    commit = max(i for i, a in enumerate(actions) if a.startswith("AdvanceCommit"))
    assert actions[-1].startswith("BecomeLeader") and commit < len(actions) - 1
    text = CONFIGS["MCRaftFig8_bug"].result_path().read_text()
    # the entry committed carries an older term than the leader that committed it
    assert re.search(r"entry \|-> \[term \|-> 1,.*?\],\s*by \|-> 3", text, re.DOTALL)


def test_membership_counterexample_changes_configuration_before_an_own_term_commit() -> None:
    assert _constants("MCRaftMembership_bug")["ConfigAfterOwnCommit"] == "FALSE"
    actions = _trace_actions("MCRaftMembership_bug")
    changes = [i for i, a in enumerate(actions) if a.startswith("ChangeConfig")]
    commits = [i for i, a in enumerate(actions) if a.startswith("AdvanceCommit")]
    # two changes, both appended before any leader committed anything of its own term
    assert len(changes) == 2 and (not commits or min(commits) > max(changes))
    assert actions[-1].startswith(("BecomeLeader", "AdvanceCommit"))
