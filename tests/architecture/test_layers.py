"""The tree keeps the shape docs/architecture.md draws: each room imports only rooms below it,
and no two modules import each other.

Every import counts, at module level or inside a function, so a lazy import cannot run back
up a layer unnoticed. A new room gets a rank here and a line in docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lower rank = lower layer. Rooms of equal rank (the two worlds, and the two bottom
# packages) must not import each other.
RANKS: dict[str, int] = {
    "storage": 0,
    "consensus": 0,
    "harness.checks": 1,
    "harness.runtime": 2,
    "harness.sim": 3,
    "harness.net": 3,
    "harness.explore": 4,
    "harness.failures": 5,
    "harness.tla": 6,
    "harness.testing": 7,
    "harness.cli": 8,
    "harness": 9,  # the package root: __main__ and the names kept for old imports
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("storage", "consensus", "harness"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """paxlab modules that ``name`` imports (resolved to a module of the tree)."""
    targets: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for candidate in candidates:
            # the longest prefix that is a module of the tree
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
                break
    return targets


def _room(module: str) -> str:
    best = ""
    for room in RANKS:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    assert best, f"module {module} belongs to no room; give its folder a rank in RANKS"
    return best


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        for target in _imports(name, path):
            graph.add_edge(name, target)
    return graph


GRAPH = _graph()


def upward_imports(graph: nx.DiGraph) -> list[str]:
    """Edges that run from a room to a room of higher or equal rank (other than itself)."""
    bad = []
    for source, target in sorted(graph.edges):
        a, b = _room(source), _room(target)
        if a != b and RANKS[b] >= RANKS[a]:
            bad.append(f"{source} -> {target} ({a} may not import {b})")
    return bad


def import_cycles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def test_every_module_has_a_room() -> None:
    for module in MODULES:
        _room(module)


def test_no_import_runs_up_a_layer() -> None:
    assert upward_imports(GRAPH) == []


def test_no_two_modules_import_each_other() -> None:
    assert import_cycles(GRAPH) == []


@pytest.mark.parametrize("edge", [("harness.checks.invariants", "harness.sim.runspec"),
                                  ("consensus.replica", "storage.wal"),
                                  ("harness.sim.network", "harness.net.transport")])
def test_an_upward_or_sideways_import_is_caught(edge: tuple[str, str]) -> None:
    graph = nx.DiGraph([edge])
    assert len(upward_imports(graph)) == 1


def test_a_cycle_is_caught() -> None:
    graph = nx.DiGraph([("consensus.replica", "consensus.replica_state"),
                        ("consensus.replica_state", "consensus.replica")])
    assert import_cycles(graph) == [["consensus.replica", "consensus.replica_state"]]


def test_consensus_stays_sans_io() -> None:
    forbidden = {"trio", "time", "random", "socket", "os", "threading", "uuid", "asyncio"}
    for name, path in MODULES.items():
        if not name.startswith("consensus"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            roots = []
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                roots = [node.module.split(".")[0]]
            assert not forbidden.intersection(roots), f"{name} imports {roots}"
