"""A Linux kernel as an ordinary IPv6 host on the far end of a veth pair: the fixtures the real-interface
tests share (tests/test_runner.py, tests/test_daemon.py). Needs root; skipped elsewhere, failed when CI
is set."""
import os
import subprocess
import uuid

import pytest

NEEDS_ROOT = "needs root (CAP_NET_ADMIN, CAP_NET_RAW) for network namespaces, veth pairs and packet sockets"


@pytest.fixture(autouse=True)
def root_or_skip():
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




def wait_for_address(ns, address, timeout=15.0):
    """Until the kernel in ``ns`` holds ``address`` on eth0 and its DAD is over (a tentative address is
    not used: the kernel would send from ::1). Returns the ``ip addr`` output seen last."""
    import time
    deadline = time.monotonic() + timeout
    addrs = ""
    while time.monotonic() < deadline:
        addrs = in_namespace(ns, "ip", "-6", "-o", "addr", "show", "dev", "eth0").stdout
        line = next((x for x in addrs.splitlines() if f" {address}/" in x), "")
        if line and "tentative" not in line:
            return addrs
        time.sleep(0.2)
    raise AssertionError(f"{ns}: no usable {address} on eth0 after {timeout} s:\n{addrs}")
