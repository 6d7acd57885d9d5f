"""Explicit-state model checking of the real `consensus.Replica` (``paxlab explore``).

Layout: `bounds` (what a search may do, the timing), `world` (one state and its
transitions), `ghost` (history variables and the safety checks), `clone` (fast replica
copies), `search` (BFS/DFS/random walks), `partition`, `levels` and `drivers` (breadth-first
search in worker processes or on Dask: ``explore(jobs=N)``, ``explore(executor=...)``).
"""

from harness.explore.bounds import Bounds as Bounds
from harness.explore.bounds import BoundsError as BoundsError
from harness.explore.search import ExploreResult as ExploreResult
from harness.explore.search import explore as explore
from harness.explore.search import replay_schedule as replay_schedule

__all__ = ["Bounds", "BoundsError", "ExploreResult", "explore", "replay_schedule"]
