"""TPACKET_V2 rings received in place (csrc/mip6_ring.c mip6_ring_rx_window, PacketRing(in_place=True)) on
real veth pairs: the frames the kernel filled handed out as a PacketBatch over the ring itself, rewritten
there, copied once into a transmit ring, given back.

Frames are Ethernet II with the experimental EtherType 0x88b5 between the two ends (nothing in the kernel
answers it), as in tests/test_ring.py. Root tests skip without root and fail when CI is set.
"""
from __future__ import annotations

import gc
import random
import struct
import time

import numpy as np
import pytest

from mip6fast.batch import PacketBatch
from mip6fast.io.ring import PKTTYPE_HOST, PKTTYPE_OTHERHOST, PacketRing, RingError, RingGeometryError, reflect

pytest_plugins = ["netns"]
pytestmark = pytest.mark.compiled("ring")

ETHERTYPE = 0x88B5
V2_HDRLEN = 52          # TPACKET2_HDRLEN: the kernel's frame header and address, before the reserve
IP6_AT = 256            # where the default reserve puts a frame's network header


def frames(src: bytes, dst: bytes, n: int, *, seed: int = 1, sizes=(60, 1514)) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.randint(*sizes)
        out.append(dst + src + struct.pack("!H", ETHERTYPE) + struct.pack("!I", i) + rng.randbytes(size - 18))
    return out


def send_all(ring: PacketRing, packets: list, chunk: int = 256) -> int:
    sent = 0
    for k in range(0, len(packets), chunk):
        sent += ring.send(PacketBatch.from_packets(packets[k:k + chunk], capacity=chunk))
    return sent


def open_in(lab, ns: str, ifname: str, **kw) -> PacketRing:
    with lab.enter(ns):
        return PacketRing(ifname, **kw)


def wait_seen(ring: PacketRing, n: int, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while ring.stats()["packets"] < n and time.monotonic() < deadline:
        time.sleep(0.01)


def windows(ring: PacketRing, n: int, *, seconds: float = 5.0, max_frames=None) -> list:
    """(frames, offsets, count) of every window until n frames came, each released after reading."""
    out = []
    got = 0
    deadline = time.monotonic() + seconds
    while got < n and time.monotonic() < deadline:
        w = ring.receive_window(timeout_ms=100, max_frames=max_frames)
        if w is None:
            continue
        out.append((w.packets(), [int(o) for o in w.offset[:w.count]], w.count, [int(a) for a in w.aux[:w.count]]))
        got += w.count
        ring.release()
    return out


# ---- no privileges -------------------------------------------------------------------------------

def test_a_batch_over_foreign_memory_is_checked():
    buf = np.zeros(4 * 2048, np.uint8)
    cols = (np.zeros(4, np.uint32), np.zeros(4, np.uint32), np.zeros(4, np.uint8), np.zeros(4, np.uint8),
            np.zeros(4, np.uint32))
    b = PacketBatch.over(buf, 2048, 200, *cols, count=0)
    b.append(b"\x60" + bytes(39))
    assert b.count == 1 and int(b.offset[0]) == 200 and buf[200] == 0x60   # the memory itself, no copy
    with pytest.raises(ValueError, match="buf must be"):
        PacketBatch.over(buf[:100], 2048, 200, *cols, count=0)
    with pytest.raises(ValueError, match="offset must be"):
        PacketBatch.over(buf, 2048, 200, np.zeros(4, np.int64), *cols[1:], count=0)
    with pytest.raises(ValueError, match="count"):
        PacketBatch.over(buf, 2048, 200, *cols, count=5)
    with pytest.raises(ValueError, match="geometry"):
        PacketBatch.over(buf, 2048, 2048, *cols, count=0)


def test_bad_in_place_options_are_value_errors():
    with pytest.raises(ValueError, match="rx_reserve"):
        PacketRing("lo", rx_reserve=-1, in_place=True)
    with pytest.raises(ValueError, match="needs in_place"):
        PacketRing("lo", rx_reserve=64)
    with pytest.raises(ValueError, match="window"):
        PacketRing("lo", in_place=True, window=0)


# ---- on a veth pair ------------------------------------------------------------------------------

@pytest.mark.root
def test_frames_are_handed_out_where_the_kernel_wrote_them(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname, in_place=True) as receiver:
        assert receiver.in_place
        packets = frames(a.mac, b.mac, 1000)
        assert send_all(sender, packets) == 1000
        wait_seen(receiver, 1000)
        ws = windows(receiver, 1000)
        assert [p for w in ws for p in w[0]] == packets           # every byte, in order
        fs = receiver._ring.geometry["rx_frame_size"]
        for _, offsets, count, aux in ws:
            # Slot i is ring frame first + i; each frame's Ethernet header 14 bytes before the reserve's
            # network header offset.
            assert offsets == [i * fs + IP6_AT - 14 for i in range(count)]
            assert set(aux) == {PKTTYPE_HOST}
            assert count <= 256                                   # the default window
        # Windows never wrap: 1000 frames over a 2048-frame ring in windows of at most 256.
        assert len(ws) >= 4
        st = receiver.stats()
        assert (st["rx_frames"], st["rx_oversize"], st["drops"]) == (1000, 0, 0)
        assert st["rx_windows"] == len(ws)
        assert receiver.receive_window(timeout_ms=0) is None


@pytest.mark.root
def test_a_window_is_the_ring_memory_rewritten_in_place_and_sent_with_one_copy(lab):
    """a -> (b ring in place, rewrite, send out c) -> d: the bytes d sees are those written into the
    window, so nothing copied the frames between the receive and the transmit ring."""
    a, b = lab.veth("a", "b")
    c, d = lab.veth("b", "d")
    with open_in(lab, "a", a.ifname) as src, open_in(lab, "b", b.ifname, in_place=True, tx=False) as rx, \
            open_in(lab, "b", c.ifname, rx=False) as tx, open_in(lab, "d", d.ifname) as sink:
        packets = frames(a.mac, b.mac, 300, seed=5, sizes=(64, 1400))
        assert send_all(src, packets) == 300
        wait_seen(rx, 300)
        sent = 0
        expected = []
        while sent < 300:
            w = rx.receive_window(timeout_ms=200)
            assert w is not None
            n = w.count
            for i in range(n):
                o = int(w.offset[i])
                # Prepend 40 bytes into the headroom and write a new Ethernet header there.
                frame = w.buf[o:o + int(w.length[i])].tobytes()
                new = d.mac + c.mac + struct.pack("!H", ETHERTYPE) + bytes([i % 251]) * 40 + frame[14:]
                w.buf[o - 40:o - 40 + len(new)] = np.frombuffer(new, np.uint8)
                w.offset[i] = o - 40
                w.length[i] = len(new)
                expected.append(new)
            sent += tx.send(w)
            rx.release()
        got = []
        deadline = time.monotonic() + 5
        batch = PacketBatch(capacity=256)
        while len(got) < 300 and time.monotonic() < deadline:
            batch.clear()
            if sink.receive(batch, timeout_ms=100):
                got += batch.packets()
        assert got == expected
        assert rx.stats()["drops"] == 0


@pytest.mark.root
def test_copying_receive_and_send_work_on_a_v2_ring_too(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname, in_place=True) as sender, open_in(lab, "b", b.ifname, in_place=True) as receiver:
        to_b = frames(a.mac, b.mac, 600, seed=2)
        to_other = frames(a.mac, b"\x02\x00\x00\x00\x00\x09", 2, seed=3)
        assert send_all(sender, to_b + to_other) == 602           # V2 transmit frames
        assert sender.stats()["tx_wrong_format"] == 0
        wait_seen(receiver, 602)
        batch = PacketBatch(capacity=64, slot_size=2048, headroom=200)
        got, aux = [], []
        while True:
            batch.clear()
            n = receiver.receive(batch, timeout_ms=100)
            if n == 0:
                break
            got += batch.packets()
            aux += [int(x) for x in batch.aux[:n]]
            assert [int(o) for o in batch.offset[:n]] == [i * 2048 + 200 for i in range(n)]
        assert got == to_b + to_other
        assert aux == [PKTTYPE_HOST] * 600 + [PKTTYPE_OTHERHOST] * 2


@pytest.mark.root
def test_a_second_window_before_release_is_refused_and_copying_too(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, open_in(lab, "b", b.ifname, in_place=True) as receiver:
        assert send_all(sender, frames(a.mac, b.mac, 10)) == 10
        wait_seen(receiver, 10)
        w = receiver.receive_window(timeout_ms=100, max_frames=4)
        assert w is not None and w.count == 4
        with pytest.raises(RingError, match="still held"):
            receiver.receive_window()
        with pytest.raises(RingError, match="still held"):
            receiver.receive(PacketBatch(capacity=4))
        receiver.release()
        receiver.release()                                        # idempotent
        rest = windows(receiver, 6)
        assert sum(w[2] for w in rest) == 6


@pytest.mark.root
def test_a_window_ends_at_the_ring_end_and_before_a_frame_that_does_not_fit(veth_pair):
    """Small geometry: 2 blocks of 2 frames of 2048. Frames over what a frame holds after the reserve
    are cut short by the kernel: counted (rx_oversize), never handed out, and they end a window."""
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, \
            open_in(lab, "b", b.ifname, in_place=True, block_size=4096, block_count=2, frame_size=2048,
                    rx_reserve=1000) as receiver:
        room = 2048 - (80 + 1000 - 14)                             # 982 bytes of frame fit
        fit = frames(a.mac, b.mac, 3, seed=4, sizes=(100, 900))
        big = frames(a.mac, b.mac, 1, seed=6, sizes=(room + 1, room + 200))
        order = [fit[0], big[0], fit[1], fit[2]]
        assert send_all(sender, order) == 4
        wait_seen(receiver, 4)
        counts = []
        got = []
        for _ in range(10):
            w = receiver.receive_window(timeout_ms=50)
            if w is None:
                break
            counts.append(w.count)
            got += w.packets()
            receiver.release()
        assert got == fit
        # Frames 0..3: [fit0] ends before big (frame 1); big is skipped; [fit1, fit2] end at the ring's end.
        assert counts == [1, 2]
        # The next frames land at 0 and 1 again: a window starts over at the ring's first frame.
        more = frames(a.mac, b.mac, 3, seed=9, sizes=(100, 900))
        assert send_all(sender, more) == 3
        wait_seen(receiver, 7)
        w = receiver.receive_window(timeout_ms=100)
        assert w is not None and w.packets() == more[:3] and w.count == 3   # frames 0, 1, 2
        assert int(w.offset[0]) == 80 + 1000 - 14
        receiver.release()
        st = receiver.stats()
        assert (st["rx_frames"], st["rx_oversize"]) == (6, 1)


@pytest.mark.root
def test_windows_keep_pace_with_the_ring_wrapping_many_times(veth_pair):
    lab, a, b = veth_pair
    with open_in(lab, "a", a.ifname) as sender, \
            open_in(lab, "b", b.ifname, in_place=True, block_size=8192, block_count=4, frame_size=2048,
                    window=5) as receiver:
        # 16 frames of ring, windows of at most 5: 16 rounds of the ring.
        total = []
        for k in range(16):
            chunk = frames(a.mac, b.mac, 16, seed=100 + k, sizes=(60, 600))
            assert send_all(sender, chunk) == 16
            wait_seen(receiver, 16 * (k + 1))
            ws = windows(receiver, 16)
            assert max(w[2] for w in ws) <= 5
            total.append([p for w in ws for p in w[0]] == chunk)
        assert all(total)
        assert receiver.stats()["drops"] == 0


@pytest.mark.root
def test_a_view_outliving_close_stays_mapped(veth_pair):
    lab, a, b = veth_pair
    sender = open_in(lab, "a", a.ifname)
    receiver = open_in(lab, "b", b.ifname, in_place=True)
    with sender:
        packets = frames(a.mac, b.mac, 3)
        send_all(sender, packets)
        wait_seen(receiver, 3)
        w = receiver.receive_window(timeout_ms=100)
        assert w is not None
        buf = w.buf
        receiver.close()
        assert receiver.closed
        # The socket is closed; the memory the view points at is still mapped (no fault).
        assert bytes(buf[int(w.offset[0]):int(w.offset[0]) + 14]) == packets[0][:14]
        with pytest.raises(RingError, match="closed"):
            receiver.receive_window()
        del w, buf
        gc.collect()


@pytest.mark.root
def test_in_place_geometry_is_checked(veth_pair):
    lab, _a, b = veth_pair
    with pytest.raises(RingGeometryError, match="TPACKET_V2"):
        open_in(lab, "b", b.ifname, in_place=True, block_size=4096, frame_size=1536)   # 1536 does not divide 4096
    with pytest.raises(RingGeometryError, match="TPACKET_V2"):
        open_in(lab, "b", b.ifname, in_place=True, frame_size=2048, rx_reserve=2000)
    with open_in(lab, "b", b.ifname) as v3:
        assert not v3.in_place
        with pytest.raises(RingError, match="in_place"):
            v3.receive_window()


@pytest.mark.root
def test_the_reflector_wants_a_v3_receive_ring(veth_pair):
    lab, _a, b = veth_pair
    with open_in(lab, "b", b.ifname, in_place=True) as v2:
        with pytest.raises(RingError, match="TPACKET_V3"):
            reflect(v2, v2, duration=0.01)
