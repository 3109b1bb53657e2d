"""The simulator's mobile node runs its C receive graph (roles/mn_datapath.py ``_receive_graph``):
``MobileNode.receive`` (a frame at a time, as ``Simulator`` hands them) goes through ``receive_batch``
with a one-packet batch, like the home agent's and the correspondent's ``receive``. A scenario run
that way gives the same captures, summary, deliveries and counters as the per-frame path
(``Node.receive``), and the graph's counters move."""
import hashlib

import pytest
from helpers import mobile_node as hm

from mip6fast.batch import PacketBatch
from mip6fast.roles.mobile_node import MobileNode
from mip6fast.roles.node import Node
from mip6fast.scenarios import run_with_world
from mip6fast.wire import Packet, Raw
from mip6fast.wire.ethernet import ethernet_frame

pytestmark = pytest.mark.compiled("graph", "bcache", "datapath")


def udp(src, dst, tag=0):
    import struct
    body = struct.pack("!HHHH", 1000 + tag, 2000, 40, 0) + bytes([tag]) * 32
    return Packet(src=src, dst=dst, payload=Raw(17, body)).to_bytes()


def tunnelled(src=hm.HA, dst=hm.COA_A, tag=0, src_mac=hm.A_MAC):
    inner = udp(hm.CN, hm.HOA, tag)
    return ethernet_frame(hm.MN_MAC, src_mac, Packet(src=src, dst=dst, payload=Raw(41, inner)).to_bytes())


def nonzero(counters):
    return {k: v for k, v in counters.items() if v}


def run(monkeypatch, tmp_path, per_frame):
    delivered = []
    original = MobileNode.deliver_packets

    def deliver_packets(self, now, packets):
        delivered.append((self.name, now, list(packets)))
        original(self, now, packets)

    with monkeypatch.context() as m:
        m.setattr(MobileNode, "deliver_packets", deliver_packets)
        if per_frame:
            m.setattr(MobileNode, "receive", Node.receive)
        world, summary = run_with_world("handover", seed=1, pcap_dir=str(tmp_path))
    captures = {str(p.relative_to(tmp_path)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(tmp_path.rglob("*.pcap"))}
    # wall-clock figures and the capture paths (compared by content above) left out
    summary = {k: v for k, v in summary.items()
               if k not in {"wall_s", "cpu_s", "setup_wall_s", "run_wall_s", "pcaps"}}
    return world, summary, captures, delivered


def test_simulated_mobile_node_runs_its_receive_graph(monkeypatch, tmp_path):
    graph_world, *graph_run = run(monkeypatch, tmp_path / "graph", per_frame=False)
    frame_world, *frame_run = run(monkeypatch, tmp_path / "frame", per_frame=True)
    _, captures, delivered = graph_run
    assert captures and delivered
    assert graph_run == frame_run
    assert nonzero(graph_world.mn.counters) == nonzero(frame_world.mn.counters)
    assert graph_world.mn.counters["mn.tunnel_delivered"] > 0
    counters, _, slow = graph_world.mn.data_path.graph.counters()
    assert counters["RX"] > 0
    assert slow["DELIVER_TUNNEL"] == graph_world.mn.counters["mn.tunnel_delivered"]
    assert frame_world.mn.data_path.graph.counters()[2]["DELIVER_TUNNEL"] == 0


def test_receive_one_frame_as_the_per_frame_path():
    """Frame by frame through ``receive``: tunnelled packets are decapsulated by the graph; a tunnel
    from another source, one to an address the node does not hold, one sent from the node's own MAC,
    and a plain packet go where the per-frame path sends them, with the same outputs and counters."""
    t = hm.T_BU + 100 * hm.MS
    frames = [tunnelled(tag=1), tunnelled(src=hm.CN, tag=2), tunnelled(dst=hm.COA_B, tag=3),
              tunnelled(src_mac=hm.MN_MAC, tag=4), ethernet_frame(hm.MN_MAC, hm.A_MAC, udp(hm.CN, hm.COA_A)),
              tunnelled(tag=5)]
    results = []
    for receive in (MobileNode.receive, Node.receive):
        mn, _ = hm.registered_mn()
        mn.tick(hm.T_BU + 50 * hm.MS)
        outs = [receive(mn, t, "eth0", f) for f in frames]
        results.append(([[(x.interface, x.frame) for x in o.frames()] for o in outs],
                        [list(o.deliveries) for o in outs], nonzero(mn.counters)))
        if receive is MobileNode.receive:
            assert mn.data_path.graph.counters()[2]["DELIVER_TUNNEL"] == 2
    assert results[0] == results[1]
    assert results[0][2]["mn.tunnel_delivered"] == 2
    assert results[0][2]["drop.not_for_us"] == 1 and results[0][2]["drop.own_frame"] == 1


def test_receive_batch_leaves_frames_not_for_the_node_to_the_per_frame_path():
    """A tunnel to an address the node does not (or no longer) hold is the per-frame path's, in a
    batch too: the kernels check the outer source and the inner destination only."""
    t = hm.T_BU + 100 * hm.MS
    mn, _ = hm.registered_mn()
    mn.tick(hm.T_BU + 50 * hm.MS)
    out = mn.receive_batch(t, "eth0", PacketBatch.from_packets([tunnelled(dst=hm.COA_B), tunnelled(tag=1)]))
    assert len(out.deliveries) == 1
    assert mn.counters["drop.not_for_us"] == 1 and mn.counters["mn.tunnel_delivered"] == 1
