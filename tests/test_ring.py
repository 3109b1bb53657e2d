"""AF_PACKET rings (csrc/mip6_ring.c, mip6fast.io.ring) on real veth pairs in network namespaces.

The frames are Ethernet II with the IEEE local experimental EtherType 0x88b5 (nothing in the kernel
answers it) between the two ends' MAC addresses, with the kernel's IPv6 off on both ends, so each ring
sees exactly the frames a test sends. Tests that need root are marked ``root``; they skip without it
and fail instead when CI is set (tests/netns.py).
"""
from __future__ import annotations

import errno
import os
import random
import select
import struct
import threading
import time

import pytest

from mip6fast.batch import PacketBatch, Verdict
from mip6fast.errors import Mip6Error
from mip6fast.io.netns import NetnsLab, effective_capabilities
from mip6fast.io.ring import (
    PKTTYPE_HOST,
    PKTTYPE_OTHERHOST,
    PKTTYPE_OUTGOING,
    NoSuchInterface,
    PacketRing,
    RingError,
    RingGeometryError,
    reflect,
)

# The lab and veth_pair fixtures (namespaces removed after every test, also a failing one).
pytest_plugins = ["netns"]
# Rings are C only (no pure-Python twin): skipped with MIP6FAST_PURE_PYTHON=1.
pytestmark = pytest.mark.compiled("ring")

ETHERTYPE_EXPERIMENTAL = 0x88B5
SMALL_BLOCKS = {"block_size": 4096, "frame_size": 2048}
CAP_NET_RAW = 13


def frames(src: bytes, dst: bytes, n: int, *, seed: int = 1, sizes=(60, 1514)) -> list:
    """n distinct Ethernet frames src -> dst of random sizes in sizes, each numbered."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.randint(*sizes)
        body = struct.pack("!I", i) + rng.randbytes(size - 18)
        out.append(dst + src + struct.pack("!H", ETHERTYPE_EXPERIMENTAL) + body)
    return out


def send_all(ring: PacketRing, packets: list, batch_size: int = 256) -> int:
    sent = 0
    for k in range(0, len(packets), batch_size):
        batch = PacketBatch.from_packets(packets[k:k + batch_size], capacity=batch_size)
        sent += ring.send(batch)
    return sent


def receive_all(ring: PacketRing, n: int, *, seconds: float = 5.0, capacity: int = 256) -> list:
    """Up to n frames from ring, waiting at most `seconds` in all."""
    batch = PacketBatch(capacity=capacity)
    got: list = []
    deadline = time.monotonic() + seconds
    while len(got) < n and time.monotonic() < deadline:
        batch.clear()
        if ring.receive(batch, timeout_ms=100):
            got.extend(batch.packets())
    return got


def open_in(lab, ns: str, ifname: str, **kw) -> PacketRing:
    with lab.enter(ns):
        return PacketRing(ifname, **kw)


# ---- errors that need no privileges --------------------------------------------------------------

def test_missing_interface_is_named():
    with pytest.raises(NoSuchInterface) as info:
        PacketRing("eth9")
    err = info.value
    assert str(err) == "no such interface eth9"
    assert isinstance(err, RingError) and isinstance(err, Mip6Error) and isinstance(err, OSError)
    assert err.errno == errno.ENODEV and err.interface == "eth9" and err.step == "if_nametoindex"


def test_geometry_checked_before_the_kernel_sees_it():
    with pytest.raises(RingGeometryError, match="frame no larger than a block") as info:
        PacketRing("lo", block_size=4096, frame_size=8192)
    assert info.value.errno == 0  # our own check: no system call failed
    with pytest.raises(RingGeometryError, match="at least one block"):
        PacketRing("lo", block_count=0)


def test_bad_options_are_value_errors():
    with pytest.raises(ValueError, match="fanout"):
        PacketRing("lo", fanout="roundrobin")
    with pytest.raises(ValueError, match="fanout_group"):
        PacketRing("lo", fanout="hash", fanout_group=70000)
    with pytest.raises(ValueError, match="block_size"):
        PacketRing("lo", block_size=-1)


def _open_as_nobody() -> str:
    """Try to open a ring on lo without CAP_NET_RAW; the error class name and message, or 'opened'."""
    try:
        PacketRing("lo").close()
        return "opened"
    except RingError as exc:
        return f"{type(exc).__name__}: {exc}"


def test_permission_denied_says_cap_net_raw():
    if not effective_capabilities() >> CAP_NET_RAW & 1:
        outcome = _open_as_nobody()
    else:
        # Root has CAP_NET_RAW: drop to nobody in a child process to see the refusal.
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.close(r)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                os.write(w, _open_as_nobody().encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            outcome = f.read().decode()
        os.waitpid(pid, 0)
    assert outcome.startswith("RingPermissionError: permission denied"), outcome
    assert "needs CAP_NET_RAW" in outcome


# ---- on a veth pair ------------------------------------------------------------------------------

@pytest.mark.root
def test_frames_cross_intact(veth_pair):
    lab, a, b = veth_pair
    sender = open_in(lab, "a", a.ifname)
    receiver = open_in(lab, "b", b.ifname)
    with sender, receiver:
        packets = frames(a.mac, b.mac, 1000)
        assert send_all(sender, packets) == 1000
        got = receive_all(receiver, 1000)
        assert got == packets  # every byte, in order, nothing extra
        assert receive_all(receiver, 1, seconds=0.2) == []
        total = sum(map(len, packets))
        tx, rx = sender.stats(), receiver.stats()
        assert (tx["tx_frames"], tx["tx_bytes"], tx["tx_rejected"]) == (1000, total, 0)
        assert tx["tx_kicks"] == 4  # one per batch of 256
        assert (rx["rx_frames"], rx["rx_bytes"], rx["rx_oversize"]) == (1000, total, 0)
        # The kernel's count: every frame reached the socket, none was dropped for a full ring.
        assert (rx["packets"], rx["drops"]) == (1000, 0)
        assert rx["rx_blocks"] >= 1
        # PACKET_STATISTICS resets on read; the ring keeps the totals.
        assert receiver.stats()["packets"] == 1000
        assert sender.tx_in_flight() == 0


@pytest.mark.root
def test_received_frames_land_at_the_headroom_with_their_packet_type(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        to_b = frames(a.mac, b.mac, 3, seed=2)
        to_other = frames(a.mac, b"\x02\x00\x00\x00\x00\x09", 2, seed=3)
        assert send_all(sender, to_b + to_other) == 5
        batch = PacketBatch(capacity=8, slot_size=2048, headroom=200)
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 5 and time.monotonic() < deadline:
            batch.clear()
            n = receiver.receive(batch, timeout_ms=100)
            got += [(batch.packet(i), int(batch.offset[i]), int(batch.aux[i]), Verdict(batch.verdict[i]))
                    for i in range(n)]
        assert [g[0] for g in got] == to_b + to_other
        assert [g[1] for g in got] == [i * 2048 + 200 for i in range(5)]
        assert [g[2] for g in got] == [PKTTYPE_HOST] * 3 + [PKTTYPE_OTHERHOST] * 2
        assert {g[3] for g in got} == {Verdict.PASS}


@pytest.mark.root
def test_receive_appends_to_the_batch_like_every_port(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        assert receiver.name == b.ifname
        packets = frames(a.mac, b.mac, 6, seed=15)
        send_all(sender, packets)
        batch = PacketBatch.from_packets([b"already here", b"and here"], capacity=5)
        deadline = time.monotonic() + 5
        while batch.count < 5 and time.monotonic() < deadline:
            receiver.receive(batch, timeout_ms=100)
        # Slots 0 and 1 untouched, three frames after them, the batch full.
        assert batch.packets() == [b"already here", b"and here"] + packets[:3]
        assert list(batch.offset[2:5]) == [i * 2048 + 128 for i in (2, 3, 4)]
        assert receiver.receive(batch, timeout_ms=100) == 0  # full: nothing taken from the ring
        batch.clear()
        # max_frames caps one call (the frames may sit in one block or several: loop until in).
        deadline = time.monotonic() + 5
        while batch.count < 2 and time.monotonic() < deadline:
            room = 2 - batch.count
            assert receiver.receive(batch, timeout_ms=1000, max_frames=room) <= room
        assert batch.count == 2
        while batch.count < 3 and time.monotonic() < deadline:
            receiver.receive(batch, timeout_ms=1000)
        assert batch.packets() == packets[3:]


@pytest.mark.root
def test_send_frames_is_the_port_interface(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        packets = frames(a.mac, b.mac, 150, seed=16)  # more than one internal batch of 64
        too_short, too_long = b"\x01" * 8, b.mac + a.mac + b"\x88\xb5" + bytes(9000)
        assert sender.send_frames(packets[:70] + [too_short, too_long] + packets[70:]) == 150
        assert sender.stats()["tx_rejected"] == 2
        assert receive_all(receiver, 150) == packets


@pytest.mark.root
def test_send_only_the_packets_with_a_verdict(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        packets = frames(a.mac, b.mac, 10, seed=4)
        batch = PacketBatch.from_packets(packets)
        batch.verdict[:10] = [Verdict.FORWARD if i % 3 == 0 else Verdict.DROP for i in range(10)]
        assert sender.send(batch, verdict=Verdict.FORWARD) == 4
        assert receive_all(receiver, 4) == [packets[i] for i in (0, 3, 6, 9)]
        assert receive_all(receiver, 1, seconds=0.2) == []


@pytest.mark.root
def test_receive_waits_in_poll_without_spinning(veth_pair):
    lab, _a, b = veth_pair
    with open_in(lab, "b", b.ifname) as receiver:
        batch = PacketBatch(capacity=16)
        wall, cpu = time.monotonic(), time.process_time()
        assert receiver.receive(batch, timeout_ms=300) == 0
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        assert batch.count == 0
        assert wall >= 0.29
        assert cpu < wall / 4, f"{cpu:.3f} s of CPU in a {wall:.3f} s wait: busy spinning"
        assert receiver.receive(batch, timeout_ms=0) == 0  # and 0 does not wait at all


@pytest.mark.root
def test_fileno_is_readable_when_frames_are_ready(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        assert select.select([receiver], [], [], 0.05)[0] == []
        send_all(sender, frames(a.mac, b.mac, 5, seed=5))
        assert select.select([receiver], [], [], 2.0)[0] == [receiver]
        assert len(receive_all(receiver, 5)) == 5


@pytest.mark.root
def test_small_batches_walk_a_block_in_several_calls(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname, block_timeout_ms=50) as receiver:
        packets = frames(a.mac, b.mac, 40, seed=6, sizes=(60, 200))  # all in one 64 KiB block
        assert send_all(sender, packets) == 40
        time.sleep(0.1)
        batch = PacketBatch(capacity=7)
        got, calls = [], 0
        while len(got) < 40 and calls < 100:
            calls += 1
            batch.clear()
            got += [batch.packet(i) for i in range(receiver.receive(batch, timeout_ms=100))]
        assert got == packets
        assert receiver.stats()["rx_blocks"] == 1
        assert receiver.receive(batch, timeout_ms=0, max_frames=0) == 0


@pytest.mark.root
def test_oversized_and_undersized_frames_are_counted_not_truncated(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname) as receiver:
        small = frames(a.mac, b.mac, 2, seed=7, sizes=(60, 100))
        big = frames(a.mac, b.mac, 2, seed=8, sizes=(300, 400))
        batch = PacketBatch.from_packets([small[0], big[0], b"\x00" * 10, small[1], big[1]], capacity=8)
        batch.append(b.mac + a.mac + b"\x88\xb5" + b"\x00" * (sender.mtu + 1))  # over the MTU
        assert sender.send(batch) == 4
        assert sender.stats()["tx_rejected"] == 2
        # A receive batch whose slots hold 256 - 128 = 128 bytes: the big frames do not fit.
        tiny = PacketBatch(capacity=8, slot_size=256, headroom=128)
        got = []
        deadline = time.monotonic() + 5
        while receiver.stats()["packets"] < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        while True:
            tiny.clear()
            n = receiver.receive(tiny, timeout_ms=100)
            if n == 0:
                break
            got += tiny.packets()
        assert got == small
        st = receiver.stats()
        assert (st["rx_frames"], st["rx_oversize"], st["packets"]) == (2, 2, 4)


@pytest.mark.root
def test_a_full_transmit_ring_is_waited_for(veth_pair):
    lab, a, b = veth_pair
    # Two transmit frames in all: 100 packets must wait for the kernel 49 times or more.
    with open_in(lab, "a", a.ifname, tx_frames=2, **SMALL_BLOCKS) as sender, \
            open_in(lab, "b", b.ifname) as receiver:
        packets = frames(a.mac, b.mac, 100, seed=9, sizes=(60, 1000))
        batch = PacketBatch.from_packets(packets)
        assert sender.geometry["tx_frames"] == 2  # 2 frames of 2048 bytes: one 4096-byte block
        assert sender.send(batch, timeout_ms=2000) == 100
        st = sender.stats()
        assert st["tx_frames"] == 100 and st["tx_full"] >= 49 and st["tx_kicks"] >= 50
        assert receive_all(receiver, 100) == packets


@pytest.mark.root
def test_qdisc_bypass_sends_too(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname, qdisc_bypass=True) as sender, open_in(lab, "b", b.ifname) as receiver:
        packets = frames(a.mac, b.mac, 300, seed=10)
        assert send_all(sender, packets) == 300
        assert receive_all(receiver, 300) == packets


@pytest.mark.root
def test_outgoing_frames_are_ignored_unless_asked_for(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "a", a.ifname) as quiet, \
            open_in(lab, "a", a.ifname, ignore_outgoing=False) as watcher, open_in(lab, "b", b.ifname) as peer:
        packets = frames(a.mac, b.mac, 5, seed=11)
        send_all(sender, packets)
        assert receive_all(peer, 5) == packets
        batch = PacketBatch(capacity=8)
        # The kernel may retire the frames in more than one block (2 ms block timeout): receive appends,
        # so keep receiving until all five are in.
        deadline = time.monotonic() + 5
        while batch.count < 5 and time.monotonic() < deadline:
            watcher.receive(batch, timeout_ms=100)
        assert batch.count == 5
        assert batch.packets() == packets and list(batch.aux[:5]) == [PKTTYPE_OUTGOING] * 5
        batch.clear()
        assert quiet.receive(batch, timeout_ms=100) == 0


@pytest.mark.root
@pytest.mark.parametrize("mode", ["lb", "hash", "cpu"])
def test_fanout_group_shares_the_frames(veth_pair, mode):
    lab, a, b = veth_pair
    group = 0x4D36
    with open_in(lab, "a", a.ifname) as sender, \
            open_in(lab, "b", b.ifname, fanout=mode, fanout_group=group) as one, \
            open_in(lab, "b", b.ifname, fanout=mode, fanout_group=group) as two:
        packets = frames(a.mac, b.mac, 200, seed=12)
        assert send_all(sender, packets) == 200
        time.sleep(0.1)
        got_one = receive_all(one, 200, seconds=0.5)
        got_two = receive_all(two, 200, seconds=0.5)
        # Every frame went to exactly one member of the group.
        assert sorted(got_one + got_two) == sorted(packets)
        if mode == "lb":  # round robin: an even split
            assert len(got_one) == len(got_two) == 100
        # A member with another mode cannot join the group.
        with pytest.raises(RingError, match="fanout") as info:
            open_in(lab, "b", b.ifname, fanout="lb" if mode != "lb" else "hash", fanout_group=group)
        assert info.value.errno == errno.EINVAL


@pytest.mark.root
def test_kernel_refusing_the_geometry_is_explained(lab):
    with lab.enter("a"):
        with pytest.raises(RingGeometryError) as info:
            PacketRing("lo", block_size=4096 + 16)  # not a multiple of the page size
        err = info.value
        assert err.errno == errno.EINVAL and err.step == "setsockopt(PACKET_RX_RING)"
        assert str(err).startswith("the kernel refused the receive ring geometry on lo (block_size 4112")
        with pytest.raises(RingGeometryError, match="transmit ring geometry") as info:
            PacketRing("lo", rx=False, frame_size=2048 + 8)  # frames must be 16-byte aligned
        assert info.value.step == "setsockopt(PACKET_TX_RING)"


@pytest.mark.root
def test_a_closed_ring_says_so(veth_pair):
    lab, a, b = veth_pair
    ring = open_in(lab, "a", a.ifname)
    assert ring.fileno() >= 0 and ring.ifindex == a.ifindex and ring.mtu == 1500
    ring.close()
    ring.close()
    assert ring.closed
    with pytest.raises(RingError, match="closed"):
        ring.receive(PacketBatch(capacity=1))
    with pytest.raises(RingError, match="closed"):
        ring.send(PacketBatch(capacity=1))
    with pytest.raises(RingError, match="closed"):
        ring.stats()
    with open_in(lab, "b", b.ifname, tx=False) as rx_only, open_in(lab, "b", b.ifname, rx=False) as tx_only:
        assert (rx_only.geometry["block_count"], rx_only.geometry["tx_frames"]) == (64, 0)
        assert (tx_only.geometry["block_count"], tx_only.geometry["tx_frames"]) == (0, 1024)
        with pytest.raises(RingError, match="no transmit ring"):
            rx_only.send(PacketBatch(capacity=1))
        with pytest.raises(RingError, match="no receive ring"):
            tx_only.receive(PacketBatch(capacity=1))
        with pytest.raises(RingError, match="the sending ring has no transmit ring"):
            reflect(rx_only, rx_only, duration=0.1)
        with pytest.raises(RingError, match="the receiving ring has no receive ring"):
            reflect(tx_only, tx_only, duration=0.1)


# ---- the reflector -------------------------------------------------------------------------------

def _reflect_in_thread(rx, tx, **kw):
    result = {}
    worker = threading.Thread(target=lambda: result.update(reflect(rx, tx, **kw)))
    worker.start()
    return worker, result


@pytest.mark.root
def test_reflector_forwards_between_two_interfaces(lab):
    # a -- b1 [reflector] b2 -- c: what a sends arrives at c unchanged.
    a, b1 = lab.veth("a", "b")
    b2, c = lab.veth("b", "c")
    with open_in(lab, "a", a.ifname) as source, open_in(lab, "b", b1.ifname, tx=False) as inside, \
            open_in(lab, "b", b2.ifname, rx=False) as outside, open_in(lab, "c", c.ifname) as sink:
        packets = frames(a.mac, b1.mac, 2000, seed=13)
        worker, result = _reflect_in_thread(inside, outside, max_frames=2000, duration=10.0)
        assert send_all(source, packets) == 2000
        got = receive_all(sink, 2000)
        worker.join(15)
        assert got == packets
        assert result["rx_frames"] == result["tx_frames"] == 2000
        assert result["bytes"] == sum(map(len, packets)) and result["dropped"] == 0
        assert 0 < result["elapsed_ns"] < 10e9
        assert outside.stats()["tx_frames"] == 2000 and inside.stats()["rx_frames"] == 2000


@pytest.mark.root
def test_reflector_round_trip_on_one_ring(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as near, open_in(lab, "b", b.ifname) as far:
        packets = frames(a.mac, b.mac, 500, seed=14)
        worker, result = _reflect_in_thread(far, far, max_frames=500, duration=10.0)
        send_all(near, packets)
        back = receive_all(near, 500)
        worker.join(15)
        assert back == packets  # the same frames, back out of the interface they came in on
        assert result["rx_frames"] == result["tx_frames"] == 500 and result["dropped"] == 0


@pytest.mark.root
def test_reflector_stops_at_its_duration(veth_pair):
    lab, _a, b = veth_pair
    with open_in(lab, "b", b.ifname) as far:
        wall, cpu = time.monotonic(), time.process_time()
        result = reflect(far, far, duration=0.3)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        assert result["rx_frames"] == 0 and 0.29e9 <= result["elapsed_ns"] < 2e9
        assert cpu < wall / 4  # idle: it sleeps in poll


# ---- the lab itself ------------------------------------------------------------------------------

@pytest.mark.root
def test_lab_removes_its_namespaces_even_when_the_body_fails(netns_available):
    names = []
    with pytest.raises(RuntimeError, match="boom"), NetnsLab("fail") as failing:
        failing.veth("x", "y")
        names = failing.namespaces
        assert all(os.path.exists(f"/run/netns/{n}") for n in names)
        raise RuntimeError("boom")
    assert len(names) == 2
    assert not any(os.path.exists(f"/run/netns/{n}") for n in names)


@pytest.mark.root
def test_reflector_benchmark_counts_intact_frames(netns_available):
    from mip6fast.benchmark import ring as ring_bench

    m = ring_bench.reflector_rate(512, seconds=0.3)
    assert m["intact"] > 0 and m["corrupt"] == 0
    assert m["intact"] <= m["reflected"] and m["reflector_dropped"] == 0
    assert m["pps"] == pytest.approx(m["intact"] / m["seconds"], rel=0.01)
    (item,) = ring_bench.run(seconds=0.2, sizes=(64,))
    assert item["name"] == "ring_reflector_64B" and item["unit"] == "Mpps" and item["value"] > 0


@pytest.mark.root
def test_remove_stale_clears_only_labs_of_dead_processes(netns_available):
    from pyroute2 import netns as pr_netns

    from mip6fast.io.netns import LAB_PREFIX, remove_stale

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child exits at once: its pid is then a dead lab owner
        os._exit(0)
    os.waitpid(pid, 0)
    dead = f"{LAB_PREFIX}{pid}-0-orphan"
    with NetnsLab("alive") as alive:
        mine = alive.namespace("x")
        pr_netns.create(dead)
        try:
            assert dead in remove_stale()
            assert not os.path.exists(f"/run/netns/{dead}")
            assert os.path.exists(f"/run/netns/{mine}")  # this process is alive: its lab stays
        finally:
            if os.path.exists(f"/run/netns/{dead}"):
                pr_netns.remove(dead)
