"""NodeRunner on a real interface: a sans-I/O Router node owns one end of a veth pair; the other end is
in a network namespace where the Linux kernel is an ordinary IPv6 host. The kernel autoconfigures an
address from the node's router advertisements, resolves the node's address with neighbour discovery
and pings it. Needs root; skipped elsewhere, failed under CI."""
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from mip6fast.io.packet_socket import PacketSocket, PortError
from mip6fast.io.pcap import read_pcap
from mip6fast.io.runner import NodeRunner
from mip6fast.roles import AdvertisingConfig, Interface, Router
from mip6fast.wire import PrefixInformation, parse

pytestmark = pytest.mark.root
NEEDS_ROOT = "needs root (CAP_NET_ADMIN, CAP_NET_RAW) for network namespaces, veth pairs and packet sockets"


@pytest.fixture(autouse=True)
def _root_or_skip():
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail(NEEDS_ROOT + " (CI is set: these tests must run)")
        pytest.skip(NEEDS_ROOT)


@pytest.fixture
def veth_to_namespace():
    """(our end, namespace name): a veth pair whose other end is 'eth0' in a fresh namespace, with the
    kernel's IPv6 off on our end (the engine owns it) and on, accepting RAs, in the namespace."""
    from pyroute2 import IPRoute, NetNS, netns
    tag = uuid.uuid4().hex[:6]
    ns, ours, theirs = f"mip6t-{tag}", f"m6a{tag}", f"m6b{tag}"
    netns.create(ns)
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=ours, kind="veth", peer=theirs)
            (peer_idx,) = ipr.link_lookup(ifname=theirs)
            ipr.link("set", index=peer_idx, net_ns_fd=ns)
            (idx,) = ipr.link_lookup(ifname=ours)
            with open(f"/proc/sys/net/ipv6/conf/{ours}/disable_ipv6", "w") as f:
                f.write("1")
            ipr.link("set", index=idx, address="02:00:00:00:99:01", state="up")
        with NetNS(ns) as nsr:
            (i,) = nsr.link_lookup(ifname=theirs)
            nsr.link("set", index=i, ifname="eth0", address="02:00:00:00:99:02", state="up")
            (lo,) = nsr.link_lookup(ifname="lo")
            nsr.link("set", index=lo, state="up")
        yield ours, ns
    finally:
        try:
            with IPRoute() as ipr:
                for i in ipr.link_lookup(ifname=ours):
                    ipr.link("del", index=i)
        finally:
            netns.remove(ns)


# A kernel ping from inside the namespace (the machine may have no ping binary): ICMPv6 raw socket,
# the kernel fills in the checksum; prints how many of COUNT requests were answered.
PING = """
import socket, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(2)
answered = 0
for seq in range(count):
    s.sendto(bytes([128, 0, 0, 0, 0x12, 0x34, 0, seq]) + b"mip6fast", (dst, 0))
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            break
        if data[0] == 129 and data[4:8] == bytes([0x12, 0x34, 0, seq]):
            answered += 1
            break
print(answered)
"""


def in_namespace(ns, *argv, timeout=20):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout)


def test_missing_interface_is_a_clear_error():
    with pytest.raises(PortError, match="no such interface 'mip6-absent0'"):
        PacketSocket("mip6-absent0")


def test_router_node_serves_the_kernel_over_a_real_veth(veth_to_namespace, tmp_path):
    ours, ns = veth_to_namespace
    router = Router("r", [Interface(ours, bytes.fromhex("020000009901"))])
    router.interfaces[ours].add_address("2001:db8:99::1", 64)
    router.advertise(ours, AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:99::", 64)],
                                             max_interval=4 * 10**9, min_interval=3 * 10**9))
    seen = []
    pcap = tmp_path / "r.pcap"
    with PacketSocket(ours) as port, NodeRunner(router, {ours: port}, on_notification=seen.append,
                                                pcap=str(pcap)) as runner:
        runner.start()
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set}, daemon=True)
        thread.start()
        try:
            # The kernel forms 2001:db8:99::ff:fe00:9902 from our RAs (SLAAC, EUI-64) and, once its DAD
            # is over (until then the kernel would ping from ::1), pings us.
            deadline = time.monotonic() + 15
            line = ""
            while time.monotonic() < deadline and not ("2001:db8:99::ff:fe00:9902" in line and "tentative" not in line):
                addrs = in_namespace(ns, "ip", "-6", "-o", "addr", "show", "dev", "eth0").stdout
                line = next((x for x in addrs.splitlines() if "2001:db8:99:" in x), "")
                time.sleep(0.2)
            assert "2001:db8:99::ff:fe00:9902" in line and "tentative" not in line, addrs
            ping = in_namespace(ns, sys.executable, "-c", PING, "2001:db8:99::1", "3")
            assert ping.returncode == 0, ping.stderr
            assert ping.stdout.strip() == "3"
            route = in_namespace(ns, "ip", "-6", "route", "show", "default").stdout
            assert "fe80::ff:fe00:9901" in route          # our link-local address, learned from the RA
        finally:
            stop.set()
            thread.join(5)
        assert not thread.is_alive()
        assert runner.counters["rx_batches"] > 0 and runner.counters["tx_dropped"] == 0
        assert port.counters["tx_frames"] > 0 and port.counters["rx_frames"] > 0
    assert router.counters.get("rx_frames", 0) > 0
    # Everything that crossed the port is in the pcap, and parses.
    _, records = read_pcap(pcap)
    kinds = {type(parse(r.data[14:], verify_checksums=True).payload).__name__
             for r in records if r.data[12:14] == b"\x86\xdd"}
    assert {"RouterAdvertisement", "EchoRequest", "EchoReply", "NeighborSolicitation"} <= kinds, kinds
