"""TUN devices (mip6fast.io.tun over csrc/mip6_tun.c): real packets between the kernel's IPv6 stack and
a PacketBatch, one C call per batch. Needs root (CAP_NET_ADMIN); skipped elsewhere, failed under CI."""
import errno
import os
import select
import socket
import time

import pytest

from mip6fast import _impl
from mip6fast.batch import PacketBatch, Verdict
from mip6fast.io.tun import TunDevice, TunError
from mip6fast.wire import EchoReply, EchoRequest, Packet, Raw, parse

pytestmark = pytest.mark.root

NEEDS_ROOT = "needs root (CAP_NET_ADMIN) and /dev/net/tun to create TUN devices"


@pytest.fixture(autouse=True)
def _root_or_skip():
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        if os.environ.get("CI"):
            pytest.fail(NEEDS_ROOT + " (CI is set: these tests must run)")
        pytest.skip(NEEDS_ROOT)


@pytest.fixture(params=[pytest.param("compiled", marks=pytest.mark.compiled("tun")), "python"])
def tun_impl(request, monkeypatch):
    """Each test against the C implementation and its pure-Python twin."""
    import mip6fast.io.tun as tun_mod
    compiled, twin = _impl.load_both("tun")
    impl = twin if request.param == "python" else compiled
    if impl is None:
        pytest.fail("compiled _tun missing")
    monkeypatch.setattr(tun_mod, "_tun", impl)
    return request.param


LOCAL = "2001:db8:77::1"
PEER = "2001:db8:77::2"


@pytest.fixture
def tun(tun_impl):
    from pyroute2 import IPRoute
    dev = TunDevice("mip6t%d")
    with IPRoute() as ipr:
        (idx,) = ipr.link_lookup(ifname=dev.name)
        ipr.link("set", index=idx, state="up", mtu=1500)
        # IFA_F_NODAD: usable at once (a TUN has no link-layer to run DAD on anyway).
        ipr.addr("add", index=idx, address=LOCAL, prefixlen=64, IFA_FLAGS=0x02)
    _wait_until_answering(dev)
    yield dev
    dev.close()


def _wait_until_answering(dev):
    """The kernel may drop what arrives in the first moments after the interface comes up; probe with
    echo requests (identifier 0xFFFF) until one is answered, then start from an empty device."""
    probe = PacketBatch(capacity=1)
    probe.append(Packet(src=PEER, dst=LOCAL, payload=EchoRequest(0xFFFF, 0)).to_bytes())
    sink = PacketBatch(capacity=64)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        dev.write_batch(probe)
        if wait_readable(dev, 0.1):
            sink.clear()
            dev.read_batch(sink)
            if any(p[40] == 129 for p in sink.packets() if len(p) > 40 and p[6] == 58):
                time.sleep(0.05)
                sink.clear()
                dev.read_batch(sink)          # drain the other answers
                return
    pytest.fail(f"TUN {dev.name} never answered an echo request")


def wait_readable(dev, timeout=2.0):
    r, _, _ = select.select([dev], [], [], timeout)
    return bool(r)


def read_until(dev, batch, want, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wait_readable(dev, 0.2):
            dev.read_batch(batch)
        matching = [parse(p, verify_checksums=False) for p in batch.packets()]
        found = [p for p in matching if want(p)]
        if found:
            return found
    return []


def test_kernel_answers_an_echo_request_written_to_the_tun(tun):
    before = tun.stats()
    out = PacketBatch(capacity=8)
    for seq in range(3):
        out.append(Packet(src=PEER, dst=LOCAL, hop_limit=64, payload=EchoRequest(0x77, seq, b"mip6")).to_bytes())
    assert tun.write_batch(out) == out.count == 3
    got = PacketBatch(capacity=64, slot_size=2048, headroom=128)
    deadline = time.monotonic() + 3
    replies = []
    while len(replies) < 3 and time.monotonic() < deadline:
        if wait_readable(tun, 0.2):
            tun.read_batch(got)
        replies = [p for p in (parse(raw) for raw in got.packets())
                   if isinstance(p.payload, EchoReply) and p.payload.identifier == 0x77]
    assert sorted(r.payload.sequence for r in replies) == [0, 1, 2]
    assert all(r.src.compressed == LOCAL and r.dst.compressed == PEER for r in replies)
    # Read into the slots after the headroom, as the data-path kernels expect.
    assert all(int(got.offset[i]) == i * 2048 + 128 for i in range(got.count))
    stats = tun.stats()
    assert stats["tx_packets"] - before["tx_packets"] == 3
    assert stats["rx_packets"] - before["rx_packets"] == got.count and stats["rx_errors"] == 0


def test_an_application_datagram_reaches_the_batch(tun):
    payload = b"from a kernel application"
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        s.sendto(payload, ("2001:db8:77::9", 9999))
        port = s.getsockname()[1]
    batch = PacketBatch(capacity=16)
    (pkt,) = read_until(tun, batch, lambda p: isinstance(p.payload, Raw) and p.payload.next_header == 17)
    udp = pkt.payload.data
    assert int.from_bytes(udp[0:2], "big") == port and int.from_bytes(udp[2:4], "big") == 9999
    assert udp[8:] == payload


def test_write_only_the_packets_with_a_verdict(tun):
    batch = PacketBatch(capacity=4)
    for seq in range(4):
        batch.append(Packet(src=PEER, dst=LOCAL, payload=EchoRequest(0x78, seq)).to_bytes())
    batch.verdict[:4] = [Verdict.FORWARD, Verdict.DROP, Verdict.FORWARD, Verdict.PASS]
    before = tun.stats()["tx_packets"]
    assert tun.write_batch(batch, Verdict.FORWARD) == 4
    assert tun.stats()["tx_packets"] - before == 2
    got = PacketBatch(capacity=16)
    time.sleep(0.2)
    replies = read_until(tun, got, lambda p: isinstance(p.payload, EchoReply) and p.payload.identifier == 0x78)
    assert sorted(r.payload.sequence for r in replies) == [0, 2]


def test_full_batch_stops_reading_and_the_rest_waits(tun):
    out = PacketBatch(capacity=6)
    for seq in range(6):
        out.append(Packet(src=PEER, dst=LOCAL, payload=EchoRequest(0x79, seq)).to_bytes())
    tun.write_batch(out)
    time.sleep(0.3)
    small = PacketBatch(capacity=2)
    assert tun.read_batch(small) == 2 and small.count == 2
    assert tun.read_batch(small) == 0            # full: nothing read, nothing lost
    rest = PacketBatch(capacity=16)
    tun.read_batch(rest)
    seqs = [p.payload.sequence for p in map(parse, small.packets() + rest.packets())
            if isinstance(p.payload, EchoReply) and p.payload.identifier == 0x79]
    assert sorted(seqs) == list(range(6))


def test_oversize_packet_is_counted_not_delivered(tun):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind((LOCAL, 0))
        s.sendto(b"x" * 1400, ("2001:db8:77::9", 9999))
    small_slots = PacketBatch(capacity=4, slot_size=512, headroom=64)
    deadline = time.monotonic() + 2
    while tun.stats()["rx_truncated"] == 0 and time.monotonic() < deadline:
        if wait_readable(tun, 0.2):
            tun.read_batch(small_slots)
    assert tun.stats()["rx_truncated"] >= 1
    assert all(len(p) < 512 - 64 for p in small_slots.packets())


def test_errors_are_clear(tun_impl):
    with pytest.raises(TunError) as info:
        TunDevice("x" * 20)
    assert info.value.errno == errno.EINVAL and "interface name" in str(info.value)
    with pytest.raises(TunError) as info:
        TunDevice("lo")                       # an existing non-TUN interface
    assert "lo" in str(info.value)
    dev = TunDevice("mip6t%d")
    dev.close()
    assert dev.closed
    with pytest.raises(TunError):
        dev.fileno()
