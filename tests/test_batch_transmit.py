"""The data path's batch transmit (roles/batch_tx.py): tunnelled packets leave the home agent as one
BatchTransmit per interface with their Ethernet headers written in place; anything whose next hop is
not usable without neighbour-discovery work takes the per-packet path. Also NodeRunner's and the
simulator's handling of batch transmits."""
from ipaddress import IPv6Address

from helpers.home_agent import (
    CN,
    COA,
    HA,
    HA_MAC2,
    HOME,
    NEXT_HOP,
    ROUTER_MAC,
    S,
    echo,
    frame_in,
    make_ha,
    pkts,
    register,
)

import numpy as np

from mip6fast.batch import PacketBatch
from mip6fast.io.runner import NodeRunner
from mip6fast.roles.events import BatchTransmit, Output, Transmit
from mip6fast.roles.neighbor import NeighborState
from mip6fast.wire import NeighborSolicitation, Packet, parse
from mip6fast.wire.ethernet import ETHERTYPE_IPV6


def _reachable(ha, now):
    """NUD confirmed the next hop (as a solicited NA would)."""
    ha.nd["eth1"].confirm_reachability(now, NEXT_HOP)


def test_tunnelled_packets_leave_as_one_batch_with_ethernet_headers_in_place():
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    inner = [echo(CN, HOME, size=n) for n in (8, 100, 1000)]
    batch = PacketBatch.from_packets([frame_in(p) for p in inner])
    out = ha.receive_batch(6 * S, "eth1", batch)
    assert out.transmits == []
    (bt,) = out.batches
    assert bt.interface == "eth1" and bt.batch is batch and bt.which.tolist() == [True] * 3
    for frame, sent in zip(bt.frames(), inner):
        assert frame[:6] == ROUTER_MAC and frame[6:12] == HA_MAC2
        assert int.from_bytes(frame[12:14], "big") == ETHERTYPE_IPV6
        outer = parse(frame[14:])
        assert outer.src == HA and outer.dst == COA
        assert outer.payload.dst == HOME and outer.payload.payload == sent.payload
        assert outer.payload.hop_limit == sent.hop_limit - 1
    assert ha.counters["tunnelled"] == 3 and ha.counters["tx_frames"] >= 3
    assert ha.cache[HOME].packets == 3


def test_a_stale_next_hop_takes_the_per_packet_path_first():
    """RFC 4861 §7.3.3: the first packet to a STALE neighbour starts the DELAY step (per-packet path);
    in DELAY the cached address is used, so the next batch goes out whole."""
    ha = make_ha()
    register(ha)
    nd = ha.nd["eth1"]
    nd._set_state(4 * S, nd.neighbors[NEXT_HOP], NeighborState.STALE)   # e.g. after a link change
    out = ha.receive_batch(5 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 2))
    assert out.batches == [] and len(pkts(out, "eth1")) == 2
    assert ha.nd["eth1"].neighbors[NEXT_HOP].state is NeighborState.DELAY
    out = ha.receive_batch(5 * S + 1000, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 2))
    assert out.transmits == [] and len(out.batches) == 1 and len(pkts(out, "eth1")) == 2


def test_an_unresolved_next_hop_is_queued_by_neighbour_discovery():
    ha = make_ha()
    register(ha)
    del ha.nd["eth1"].neighbors[NEXT_HOP]
    out = ha.receive_batch(5 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 3))
    assert out.batches == []
    (ns,) = [p for p in pkts(out, "eth1") if isinstance(p.payload, NeighborSolicitation)]
    assert ns.payload.target == NEXT_HOP
    assert len(ha.nd["eth1"].neighbors[NEXT_HOP].queue) == 3


def test_an_expired_reachable_entry_is_not_used_by_the_batch_path():
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    later = ha.nd["eth1"].neighbors[NEXT_HOP].reachable_until + 1
    out = ha.receive_batch(later, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))]))
    assert out.batches == [] and len(pkts(out, "eth1")) == 1
    assert ha.nd["eth1"].neighbors[NEXT_HOP].state is NeighborState.DELAY


def test_mixed_batch_over_mtu_and_unbound_packets_keep_their_paths():
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    ha.interfaces["eth1"].mtu = 1300
    frames = [frame_in(echo(CN, HOME, size=20)),
              frame_in(echo(CN, HOME, size=1250)),                      # 1290 + 40 > MTU 1300
              frame_in(echo(CN, IPv6Address("2001:db8:1::77")))]        # not bound: the router path
    out = ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets(frames))
    (bt,) = out.batches
    assert bt.which.tolist() == [True, False, False]
    assert ha.counters["drop.too_big_tx"] == 1
    assert parse(bt.frames()[0][14:]).dst == COA


def test_a_batch_without_headroom_falls_back_to_per_packet_frames():
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    batch = PacketBatch.from_packets([frame_in(echo(CN, HOME))])
    # The tunnel kernel needs 40 bytes in front; with exactly 40 + 14 - 1 there is no room for Ethernet.
    batch.set_packet(0, frame_in(echo(CN, HOME)), headroom=40 - 1)
    out = ha.receive_batch(6 * S, "eth1", batch)
    assert out.batches == [] or not out.batches[0].which.any()
    assert any(p.dst == COA for p in pkts(out, "eth1"))


class _RingPort:
    """A port with the ring's batch call: records what it was asked to send."""
    name = "eth1"

    def __init__(self):
        self.sent = []
        self.frames_calls = 0

    def fileno(self):
        return 0

    def receive(self, batch):
        return 0

    def send(self, batch, verdict=None, timeout_ms=0):
        picked = [batch.packet(i) for i in range(batch.count) if batch.verdict[i] == verdict]
        self.sent.append(picked)
        return len(picked)

    def send_frames(self, frames):
        self.frames_calls += 1
        return len(frames)


class _SocketPort(_RingPort):
    send = None


def _runner_with(port, tmp_path):
    import os
    r, _w = os.pipe()
    port.fileno = lambda: r
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    return ha, NodeRunner(ha, {"eth1": port}, clock=lambda: 6 * S)


def test_runner_sends_a_batch_transmit_with_one_ring_call(tmp_path):
    port = _RingPort()
    ha, runner = _runner_with(port, tmp_path)
    batch = PacketBatch.from_packets([frame_in(echo(CN, HOME, size=n)) for n in (8, 9)]
                                     + [frame_in(echo(CN, HA))])
    out = ha.receive_batch(6 * S, "eth1", batch)
    before = batch.verdict[:3].copy()
    runner._apply(6 * S, out)
    assert len(port.sent) == 1 and len(port.sent[0]) == 2
    assert all(parse(f[14:]).dst == COA for f in port.sent[0])
    assert (batch.verdict[:3] == before).all()          # the batch's columns are left as they were
    assert runner.counters["tx_batches"] == 1 and runner.counters["tx_dropped"] == 0
    runner.close()


def test_runner_sends_a_batch_transmit_frame_by_frame_on_a_plain_socket(tmp_path):
    port = _SocketPort()
    sent = []
    port.send_frames = lambda frames: sent.extend(frames) or len(frames)
    ha, runner = _runner_with(port, tmp_path)
    out = ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 2))
    assert out.batches
    runner._apply(6 * S, out)
    assert len(sent) == 2 and all(parse(f[14:]).dst == COA for f in sent)
    runner.close()


def test_runner_keeps_the_order_of_per_packet_and_batch_transmits(tmp_path):
    """A batch transmit goes where its ``at`` puts it among the per-packet transmits (the order the
    mobile node's and correspondent's graphs emit in), on a ring and on a plain socket alike."""
    wire: list = []

    class OrderPort(_RingPort):
        def send(self, batch, verdict=None, timeout_ms=0):
            picked = [batch.packet(i) for i in range(batch.count) if batch.verdict[i] == verdict]
            wire.extend(picked)
            return len(picked)

        def send_frames(self, frames):
            wire.extend(bytes(f) for f in frames)
            return len(frames)

    class OrderSocket(OrderPort):
        send = None

    for port in (OrderPort(), OrderSocket()):
        wire.clear()
        _ha, runner = _runner_with(port, tmp_path)
        batch = PacketBatch.from_packets([b"B0" * 20, b"B1" * 20, b"B2" * 20])
        which = np.array([True, False, True])
        out = Output(transmits=[Transmit("eth1", b"T0" * 20), Transmit("eth1", b"T1" * 20),
                                Transmit("eth1", b"T2" * 20)],
                     batches=[BatchTransmit("eth1", batch, which, at=1), BatchTransmit("eth1", batch, which)])
        runner._apply(6 * S, out)
        assert [f[:2] for f in wire] == [b"T0", b"B0", b"B2", b"T1", b"T2", b"B0", b"B2"], type(port)
        assert runner.counters["tx_dropped"] == 0
        runner.close()


def test_simulator_carries_batch_transmits():
    """The simulator delivers a batch transmit's frames like per-packet ones (Output.frames())."""
    from mip6fast.roles.host import Host
    from mip6fast.roles.interface import Interface
    from mip6fast.sim import Link, Simulator

    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    sim = Simulator()
    sim.now = 6 * S
    link = sim.add_link(Link("foreign"))
    sink = Host("router", [Interface("eth0", ROUTER_MAC)])
    seen = []
    sink.receive = lambda now, iface, frame: (seen.append(bytes(frame)), sink.tick(now))[1]
    sim.add_node(ha)
    sim.add_node(sink)
    sim.attach(ha, "eth1", link)
    sim.attach(sink, "eth0", link)
    _reachable(ha, 6 * S)           # attaching is a carrier change: NUD re-checks the next hop
    out = ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 4))
    assert len(out.batches) == 1
    sim._process(ha, out)
    sim.run(7 * S)
    tunnelled = [parse(f[14:]) for f in seen if f[:6] == ROUTER_MAC]
    assert len([p for p in tunnelled if p.dst == COA and isinstance(p.payload, Packet)]) == 4


def test_a_flooded_port_does_not_hold_the_runner(tmp_path):
    """A port that always has a full batch ready: run_once returns after max_batches of them, so
    timers, other ports and run()'s end are still served."""
    import os

    class Flood(_RingPort):
        def receive(self, batch):
            frame = frame_in(echo(CN, HOME))
            while batch.count < batch.capacity:
                batch.append(frame)
            return batch.capacity

    port = Flood()
    r, w = os.pipe()
    os.write(w, b"x")                       # readable: epoll reports the port ready
    port.fileno = lambda: r
    ha = make_ha()
    register(ha)
    _reachable(ha, 5 * S)
    runner = NodeRunner(ha, {"eth1": port}, clock=lambda: 6 * S, batch_size=16)
    runner.max_batches = 5
    runner.run_once(0)
    assert runner.counters["rx_batches"] == 5
    assert sum(len(s) for s in port.sent) == 5 * 16          # every tunnelled packet, batch by batch
    runner.close()
    os.close(r)
    os.close(w)


def test_a_closed_gate_fences_every_output_and_the_input(tmp_path):
    """NodeRunner.gate (issue 16): a standby home agent, or an active one past its lease's deadline,
    sends nothing, neither frame nor batch, and its node sees nothing received."""
    port = _RingPort()
    ha, runner = _runner_with(port, tmp_path)
    open_ = [False]
    runner.gate = lambda: open_[0]
    out = ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 2))
    assert out.batches
    runner._apply(6 * S, out)
    assert port.sent == [] and runner.counters["tx_fenced"] == 2 and runner.counters["tx_batches"] == 0
    frames = [frame_in(echo(CN, HOME))] * 3
    port.receive = lambda batch: sum(batch.append(f) or 1 for f in frames) if not port.sent else 0
    received = ha.counters.get("rx.packets", 0)
    runner._from_port("eth1")
    assert runner.counters["rx_fenced"] == 3 and ha.counters.get("rx.packets", 0) == received
    open_[0] = True
    runner._apply(6 * S, ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))])))
    assert len(port.sent) == 1
    runner.close()
