"""NodeRunner on a real interface, with a plain packet socket and with AF_PACKET rings as the port: a
sans-I/O Router node owns one end of a veth pair; the other end is
in a network namespace where the Linux kernel is an ordinary IPv6 host. The kernel autoconfigures an
address from the node's router advertisements, resolves the node's address with neighbour discovery
and pings it. Needs root; skipped elsewhere, failed under CI."""
import functools
import sys
import threading

import pytest

from mip6fast.io.packet_socket import PacketSocket, PortError
from mip6fast.io.pcapng import DIRECTION_INBOUND, DIRECTION_OUTBOUND, read_pcapng
from mip6fast.io.runner import NodeRunner
from mip6fast.roles import AdvertisingConfig, Interface, Router
from mip6fast.wire import PrefixInformation, parse

from kernel_host import PING, in_namespace, root_or_skip, veth_to_namespace, wait_for_address  # noqa: F401

pytestmark = pytest.mark.root


def test_missing_interface_is_a_clear_error():
    with pytest.raises(PortError, match="no such interface 'mip6-absent0'"):
        PacketSocket("mip6-absent0")


@pytest.fixture(params=["socket", pytest.param("ring", marks=pytest.mark.compiled("ring")),
                        pytest.param("ring_in_place", marks=pytest.mark.compiled("ring"))])
def port_class(request):
    """Every test with the plain packet socket, the AF_PACKET rings (TPACKET_V3, copied into the
    runner's batch) and the rings received in place (TPACKET_V2 windows) as the runner's port."""
    if request.param.startswith("ring"):
        from mip6fast.io.ring import PacketRing
        if request.param == "ring_in_place":
            return functools.partial(PacketRing, in_place=True)
        return PacketRing
    return PacketSocket


def port_counts(port):
    st = port.stats() if hasattr(port, "stats") else port.counters
    return st["rx_frames"], st["tx_frames"]


def test_router_node_serves_the_kernel_over_a_real_veth(veth_to_namespace, port_class, tmp_path):
    ours, ns = veth_to_namespace
    router = Router("r", [Interface(ours, bytes.fromhex("020000009901"))])
    router.interfaces[ours].add_address("2001:db8:99::1", 64)
    router.advertise(ours, AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:99::", 64)],
                                             max_interval=4 * 10**9, min_interval=3 * 10**9))
    seen = []
    pcap = tmp_path / "r.pcap"
    with port_class(ours) as port, NodeRunner(router, {ours: port}, on_notification=seen.append,
                                                pcap=str(pcap)) as runner:
        runner.start()
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set}, daemon=True)
        thread.start()
        try:
            # The kernel forms 2001:db8:99::ff:fe00:9902 from our RAs (SLAAC, EUI-64), then pings us.
            wait_for_address(ns, "2001:db8:99::ff:fe00:9902")
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
        rx, tx = port_counts(port)
        assert rx > 0 and tx > 0
        if getattr(port, "in_place", False):          # the frames were handed out where they lay
            assert port.stats()["rx_windows"] > 0
    assert router.counters.get("rx_frames", 0) > 0
    # Everything that crossed the port is in the pcapng, on the port's interface, both ways, and parses.
    interfaces, records = read_pcapng(pcap)
    assert [i.name for i in interfaces] == [ours]
    assert {r.direction for r in records} == {DIRECTION_INBOUND, DIRECTION_OUTBOUND}
    kinds = {type(parse(r.data[14:], verify_checksums=True).payload).__name__
             for r in records if r.data[12:14] == b"\x86\xdd"}
    assert {"RouterAdvertisement", "EchoRequest", "EchoReply", "NeighborSolicitation"} <= kinds, kinds
