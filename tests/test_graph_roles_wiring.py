"""The mobile node's and the correspondent's data paths on their C graphs (roles/mn_datapath.py,
roles/correspondent/datapath.py) against the numpy paths they replace, at the role level: the same
batches into two identical nodes, one with its graph and one without, must give the same frames in
the same order, the same deliveries and the same counters (zero keys included), including batches
where the graph sends some packets and leaves others to the per-packet path (interleaved in order),
and batches of one packet."""
from ipaddress import IPv6Address

import pytest
from helpers import correspondent as hc
from helpers import mobile_node as hm

from mip6fast.batch import PacketBatch
from mip6fast.roles import Neighbor, NeighborState
from mip6fast.wire import Packet, Raw
from mip6fast.wire.ethernet import ethernet_frame

pytestmark = pytest.mark.compiled("graph", "bcache", "datapath")


def udp(src, dst, size=32, tag=0):
    import struct
    body = struct.pack("!HHHH", 1000 + tag, 2000, 8 + size, 0) + bytes([tag % 256]) * size
    return Packet(src=src, dst=dst, payload=Raw(17, body)).to_bytes()


def outcome(out, node):
    return ([(t.interface, t.frame) for t in out.frames()], list(out.deliveries), dict(node.counters))


def mn_pair(router_state=NeighborState.REACHABLE, mtu=None):
    nodes = []
    for graph in (True, False):
        mn, _ = hm.registered_mn()
        router = hm.ll(hm.A_MAC)
        mn.nd["eth0"].neighbors[router] = Neighbor(router, router_state, mac=hm.A_MAC, reachable_until=10**18)
        if mtu is not None:
            mn.iface.mtu = mtu
        mn.tick(hm.T_BU + 50 * hm.MS)      # an entry point: the graph's tables see the change
        if not graph:
            mn.data_path.tables = None
        nodes.append(mn)
    return nodes


def same(nodes, step):
    results = [outcome(step(node), node) for node in nodes]
    assert results[0] == results[1]
    return results[0]


@pytest.mark.parametrize("count", [1, 5])
def test_mobile_node_send_as_the_numpy_path(count):
    nodes = mn_pair()
    t = hm.T_BU + 100 * hm.MS
    packets = [udp(hm.HOA, hm.CN, tag=k) for k in range(count)] + [udp(hm.COA_A, hm.CN)]
    frames, _, counters = same(nodes, lambda mn: mn.send_batch(t, PacketBatch.from_packets(packets)))
    assert len(frames) == count + 1 and counters["mn.reverse_tunnelled"] == count
    assert nodes[0].data_path.graph.counters()[0]["TX"] == count


def test_mobile_node_send_interleaves_what_the_graph_left():
    """A packet too big for the link (the tunnel's MTU is 1320) is left to the per-packet path, which
    drops it; the frames around it keep their order."""
    nodes = mn_pair(mtu=1280)
    t = hm.T_BU + 100 * hm.MS
    packets = [udp(hm.HOA, hm.CN, tag=1), udp(hm.HOA, hm.CN, size=1220, tag=2), udp(hm.HOA, hm.CN, tag=3)]
    frames, _, counters = same(nodes, lambda mn: mn.send_batch(t, PacketBatch.from_packets(packets)))
    assert len(frames) == 2 and counters["drop.too_big_tx"] == 1


def test_mobile_node_send_with_a_stale_router_goes_per_packet():
    nodes = mn_pair(router_state=NeighborState.STALE)
    t = hm.T_BU + 100 * hm.MS
    packets = [udp(hm.HOA, hm.CN, tag=k) for k in range(3)]
    same(nodes, lambda mn: mn.send_batch(t, PacketBatch.from_packets(packets)))
    assert nodes[0].data_path.graph.counters()[0]["TX"] == 0


def test_mobile_node_receive_as_the_numpy_path():
    nodes = mn_pair()
    t = hm.T_BU + 100 * hm.MS
    tunnelled = [ethernet_frame(hm.MN_MAC, hm.A_MAC, Packet(src=hm.HA, dst=hm.COA_A,
                                                           payload=Raw(41, udp(hm.CN, hm.HOA, tag=k))).to_bytes())
                 for k in range(4)]
    wrong_agent = ethernet_frame(hm.MN_MAC, hm.A_MAC, Packet(src=hm.CN, dst=hm.COA_A,
                                                             payload=Raw(41, udp(hm.CN, hm.HOA))).to_bytes())
    plain = ethernet_frame(hm.MN_MAC, hm.A_MAC, udp(hm.CN, hm.COA_A))
    frames = tunnelled[:2] + [wrong_agent, plain] + tunnelled[2:]
    _, deliveries, counters = same(nodes, lambda mn: mn.receive_batch(t, "eth0",
                                                                       PacketBatch.from_packets(frames)))
    assert len(deliveries) >= 4 and counters["mn.tunnel_delivered"] == 4
    assert nodes[0].data_path.graph.counters()[2]["DELIVER_TUNNEL"] == 4


def cn_pair():
    nodes = []
    for graph in (True, False):
        cn = hc.make_cn()
        hc.bind(cn)
        if not graph:
            cn.batch_path.tables.usable = False
        nodes.append(cn)
    return nodes


@pytest.mark.parametrize("count", [1, 6])
def test_correspondent_send_as_the_numpy_path(count):
    nodes = cn_pair()
    packets = [udp(hc.CN, hc.HOA, tag=k) for k in range(count)]
    frames, _, counters = same(nodes, lambda cn: cn.send_batch(1000, packets))
    assert len(frames) == count and counters["rh2.inserted"] == count


def test_correspondent_send_interleaves_what_the_graph_left():
    """An on-link destination without a neighbour entry is resolved by the per-packet path (a Neighbor
    Solicitation, the packet queued) between packets the graph sent; a packet to ourselves loops back."""
    nodes = cn_pair()
    unresolved = IPv6Address("2001:db8:1::55")
    packets = [udp(hc.CN, hc.HOA, tag=1), udp(hc.CN, unresolved, tag=2), udp(hc.CN, hc.HOA2, tag=3),
               udp(hc.CN, hc.CN, tag=4), udp(hc.CN, hc.HOA, tag=5)]
    frames, deliveries, counters = same(nodes, lambda cn: cn.send_batch(1000, packets))
    assert len(frames) == 4 and len(deliveries) == 1 and counters["rh2.inserted"] == 2


def test_correspondent_output_one_packet_as_the_numpy_path():
    nodes = cn_pair()
    same(nodes, lambda cn: cn.send(1000, udp(hc.CN, hc.HOA)))


def test_correspondent_receive_as_the_numpy_path():
    nodes = cn_pair()
    hao = [hc.frame(Packet(src=hc.COA, dst=hc.CN, home_address=hc.HOA, payload=Raw(17, udp(hc.HOA, hc.CN)[40:])))
           for _ in range(3)]
    unbound = hc.frame(Packet(src=hc.COA2, dst=hc.CN, home_address=hc.HOA2, payload=Raw(17, udp(hc.HOA2, hc.CN)[40:])))
    multicast = ethernet_frame(b"\x33\x33\0\0\0\1", hc.PEER_MAC, udp(hc.COA, IPv6Address("ff02::1")))
    other_mac = ethernet_frame(b"\x02" + bytes(5), hc.PEER_MAC, udp(hc.COA, hc.CN))
    frames = hao[:1] + [unbound, multicast, other_mac] + hao[1:]
    out = same(nodes, lambda cn: cn.receive_batch(1000, "eth0", PacketBatch.from_packets(frames)))
    assert len(out[1]) >= 3 and out[2]["hao.swapped"] == 3
