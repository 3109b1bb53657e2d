"""roles/graph_tables.py: the home agent's C graph keeps its adjacency, routes and interfaces in step with
the node's neighbour discovery and routes, whatever changes them."""
from ipaddress import IPv6Address

from mip6fast import _impl
from mip6fast.batch import PacketBatch
from mip6fast.benchmark import forward as F
from mip6fast.roles.events import NS_PER_S
from mip6fast.roles.neighbor import Neighbor, NeighborState
from test_bench_forward import HOME_MAC, ROUTER_MAC, SOURCE_MAC, _ha_with_bindings

from mip6fast.roles.interface import link_local_address

ROUTER = link_local_address(ROUTER_MAC)


def _send(ha, now, n=4):
    frames = F.source_frames(64, n, HOME_MAC, SOURCE_MAC)
    batch = PacketBatch.from_packets([r.tobytes() for r in frames], slot_size=2048)
    return ha.receive_batch(now, "home", batch)


def _adjacency(ha):
    graph = ha.batch_path.graph
    return {(ha.batch_path.tables.names[i], IPv6Address(a)): (m, d) for i, a, m, d in graph.adjacency()}


def test_reachable_router_is_in_the_graph_until_its_deadline():
    ha = _ha_with_bindings(4)
    _send(ha, 6 * NS_PER_S)
    entry = ha.nd["out"].neighbors[ROUTER]
    assert entry.state is NeighborState.REACHABLE
    assert _adjacency(ha)[("out", ROUTER)] == (ROUTER_MAC, entry.reachable_until)
    out = _send(ha, 6 * NS_PER_S)
    assert len(out.batches) == 1 and out.transmits == []      # all four from the graph
    # After ReachableTime the graph may not use it (RFC 4861 §7.3.3): the first packet goes to the
    # slow path, whose ND moves the entry to DELAY, which the graph may use at once.
    late = entry.reachable_until + 1
    out = _send(ha, late)
    assert entry.state is NeighborState.DELAY
    assert _adjacency(ha)[("out", ROUTER)] == (ROUTER_MAC, _impl.load("graph").NO_DEADLINE)
    assert len(out.frames()) == 4
    out = _send(ha, late)
    assert len(out.batches) == 1 and out.transmits == []


def test_removed_changed_and_proxied_neighbours_leave_the_graph():
    ha = _ha_with_bindings(2)
    nd = ha.nd["out"]
    other = IPv6Address("fe80::77")
    nd.neighbors[other] = Neighbor(other, NeighborState.PROBE, mac=b"\x02" * 6)
    assert ("out", other) in _adjacency(ha)
    nd.neighbors[other].mac = b"\x04" * 6                       # a new link-layer address (Override)
    assert _adjacency(ha)[("out", other)][0] == b"\x04" * 6
    nd.neighbors[other].state = NeighborState.STALE             # not usable without NUD's DELAY step
    assert ("out", other) not in _adjacency(ha)
    nd.neighbors[other].state = NeighborState.DELAY
    assert ("out", other) in _adjacency(ha)
    nd.add_proxy(other)                                          # the owner is away: never sent to
    assert ("out", other) not in _adjacency(ha)
    nd.remove_proxy(other)
    assert ("out", other) in _adjacency(ha)
    del nd.neighbors[other]
    assert ("out", other) not in _adjacency(ha)


def test_a_new_route_is_used_from_the_next_batch():
    ha = _ha_with_bindings(4)
    _send(ha, 6 * NS_PER_S)
    graph = ha.batch_path.graph
    care_of = F.care_of_address(0).packed
    before = graph.route(care_of)
    ha.add_route(str(F.care_of_address(0)) + "/128", "home")   # through the API, between batches
    _send(ha, 6 * NS_PER_S)
    assert graph.route(care_of) != before and graph.route(care_of) == 0     # the /128 sorts first
