"""A PacketRing as a NodeRunner port: the same test as tests/test_runner.py (a sans-I/O Router node on
one end of a veth pair, the Linux kernel as an IPv6 host on the other: SLAAC from our router
advertisements, neighbour discovery, ping), with the AF_PACKET rings in place of the plain socket.
Needs root; skipped elsewhere, failed under CI (tests/kernel_host.py)."""
import sys
import threading

import pytest
from kernel_host import PING, in_namespace, root_or_skip, veth_to_namespace, wait_for_address  # noqa: F401

from mip6fast.io.pcap import read_pcap
from mip6fast.io.ring import PacketRing
from mip6fast.io.runner import NodeRunner
from mip6fast.roles import AdvertisingConfig, Interface, Router
from mip6fast.wire import PrefixInformation, parse

pytestmark = pytest.mark.root


def test_router_node_serves_the_kernel_through_rings(veth_to_namespace, tmp_path):  # noqa: F811 (fixture)
    ours, ns = veth_to_namespace
    router = Router("r", [Interface(ours, bytes.fromhex("020000009901"))])
    router.interfaces[ours].add_address("2001:db8:99::1", 64)
    router.advertise(ours, AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:99::", 64)],
                                             max_interval=4 * 10**9, min_interval=3 * 10**9))
    pcap = tmp_path / "r.pcap"
    with PacketRing(ours) as port, NodeRunner(router, {ours: port}, pcap=str(pcap)) as runner:
        runner.start()
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set}, daemon=True)
        thread.start()
        try:
            wait_for_address(ns, "2001:db8:99::ff:fe00:9902")
            ping = in_namespace(ns, sys.executable, "-c", PING, "2001:db8:99::1", "3")
            assert ping.returncode == 0, ping.stderr
            assert ping.stdout.strip() == "3"
        finally:
            stop.set()
            thread.join(5)
        assert not thread.is_alive()
        assert runner.counters["rx_batches"] > 0 and runner.counters["tx_dropped"] == 0
        st = port.stats()
        assert st["tx_frames"] > 0 and st["rx_frames"] > 0 and st["drops"] == 0
    _, records = read_pcap(pcap)
    kinds = {type(parse(r.data[14:], verify_checksums=True).payload).__name__
             for r in records if r.data[12:14] == b"\x86\xdd"}
    assert {"RouterAdvertisement", "EchoRequest", "EchoReply", "NeighborSolicitation"} <= kinds, kinds
