"""harness.sim.network: delays, loss, duplication, and the partition shapes."""

from __future__ import annotations

import itertools

import attrs
import networkx as nx
import pytest

from harness.runtime.chooser import Chooser
from harness.sim.network import SHAPES, Network, NetworkOptions, shape_links

NODES = (0, 1, 2, 3, 4)


def _zero(label: str, n: int) -> int:
    return 0


def test_nominal_choices_deliver_once_at_minimum_delay() -> None:
    net = Network(NODES, NetworkOptions(packet_loss_probability=0.5), Chooser.replaying([]))
    assert net.transmit(0, 1) == (100,)


def test_delay_within_bounds_and_reorders() -> None:
    opts = NetworkOptions(one_way_delay_min_us=50, one_way_delay_jitter_us=100)
    net = Network(NODES, opts, Chooser(1))
    delays = [net.transmit(0, 1)[0] for _ in range(200)]
    assert min(delays) >= 50 and max(delays) <= 150
    assert any(b < a for a, b in itertools.pairwise(delays))  # later overtakes


def test_loss_and_duplication_rates() -> None:
    opts = NetworkOptions(packet_loss_probability=0.2, packet_replay_probability=0.1)
    net = Network(NODES, opts, Chooser(2))
    results = [net.transmit(1, 2) for _ in range(5000)]
    lost = sum(1 for r in results if not r)
    doubled = [r for r in results if len(r) == 2]
    assert 800 < lost < 1200
    assert 300 < len(doubled) < 500
    assert all(r[1] >= r[0] for r in doubled)


def test_loss_is_replayable() -> None:
    opts = NetworkOptions(packet_loss_probability=0.3, packet_replay_probability=0.3)
    chooser = Chooser(5)
    first = [Network(NODES, opts, chooser).transmit(0, 1) for _ in range(50)]
    again = Chooser.replaying(chooser.choices)
    assert [Network(NODES, opts, again).transmit(0, 1) for _ in range(50)] == first


def _reach(links: list[tuple[int, int]]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(NODES)
    g.add_edges_from(links)
    return g


def test_halves_cut_a_minority() -> None:
    links, desc = shape_links("halves", NODES, _zero)
    g = _reach(links)
    comps = sorted(len(c) for c in nx.strongly_connected_components(g))
    assert comps == [2, 3]
    assert desc.startswith("halves")


def test_isolate_and_isolate_leader() -> None:
    g = _reach(shape_links("isolate-leader", NODES, _zero, leader=3)[0])
    assert g.degree(3) == 0 and g.has_edge(0, 4)
    g = _reach(shape_links("isolate", NODES, Chooser(9).choose)[0])
    assert sum(1 for n in NODES if g.degree(n) == 0) == 1


def test_ring_gives_each_node_two_neighbours() -> None:
    g = _reach(shape_links("ring", NODES, Chooser(3).choose)[0])
    assert all(g.out_degree(n) == 2 and g.in_degree(n) == 2 for n in NODES)
    assert nx.is_strongly_connected(g)


def test_bridge_connects_sides_through_one_node() -> None:
    links, _ = shape_links("bridge", NODES, _zero)
    g = _reach(links)
    bridge = 0
    assert g.out_degree(bridge) == 4
    g.remove_node(bridge)
    assert not nx.is_strongly_connected(g)


def test_one_way_node_hears_but_is_not_heard() -> None:
    net = Network(NODES, NetworkOptions(), Chooser.replaying([]))
    net.partition("one-way")
    mute = 0
    assert net.link_up(1, mute) and not net.link_up(mute, 1)
    assert net.transmit(mute, 2) == ()
    net.heal()
    assert net.transmit(mute, 2) == (100,)


def test_every_shape_cuts_something_and_unknown_raises() -> None:
    for shape in SHAPES:
        links, _ = shape_links(shape, NODES, Chooser(11).choose, leader=1)
        assert len(links) < len(NODES) * (len(NODES) - 1)
    with pytest.raises(ValueError, match="unknown partition shape"):
        shape_links("star", NODES, _zero)


def test_options_validate() -> None:
    with pytest.raises(ValueError, match="packet_loss_probability"):
        NetworkOptions(packet_loss_probability=1.5)
    with pytest.raises(ValueError, match="one_way_delay_min_us"):
        NetworkOptions(one_way_delay_min_us=-1)


def test_replacing_options_takes_effect_at_once() -> None:
    net = Network(NODES, NetworkOptions(), Chooser(4))
    assert all(len(net.transmit(0, 1)) == 1 for _ in range(50))
    lossy = NetworkOptions(
        one_way_delay_min_us=7, one_way_delay_jitter_us=0, packet_loss_probability=1.0
    )
    net.options = lossy
    assert net.options is lossy
    assert net.transmit(0, 1) == ()
    net.options = attrs.evolve(lossy, packet_loss_probability=0.0, packet_replay_probability=1.0)
    first, second = net.transmit(0, 1)
    assert first == 7 and 7 <= second <= 7 + lossy.replay_delay_max_us
