"""Bounded neighbour-discovery state under a Router Advertisement flood (issue: 2,500 RAs from random
link-local routers gave a host 2,500 SLAAC addresses, 2,499 prefixes and 10,056 timers)."""
import random
from ipaddress import IPv6Address, IPv6Network

import pytest

from mip6fast.roles import Host, Interface
from mip6fast.roles.neighbor import NeighborDiscoveryLimits
from mip6fast.wire import ALL_NODES, Packet, PrefixInformation, RouterAdvertisement, SourceLinkLayerAddress
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
MAC = bytes.fromhex("020000000001")


def flood(node, count: int, seed: int = 3, home_agent: bool = False) -> None:
    rng = random.Random(seed)
    for i in range(count):
        router_mac = bytes([2]) + rng.randbytes(5)
        src = IPv6Address((0xFE80 << 112) | rng.getrandbits(64))
        prefix = IPv6Network(((0x2001_0DB8 << 96) | (rng.getrandbits(32) << 64), 64))
        ra = RouterAdvertisement(home_agent=home_agent, router_lifetime=1800, options=(
            SourceLinkLayerAddress(router_mac),
            PrefixInformation(prefix.network_address, 64, on_link=True, autonomous=True,
                              valid_lifetime=86400, preferred_lifetime=14400)))
        raw = Packet(src=src, dst=ALL_NODES, hop_limit=255, payload=ra).to_bytes()
        frame = ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), router_mac, raw)
        node.receive(S + i * 1_000_000, "eth0", frame)


def host():
    node = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    node.link_changed(0, "eth0", True)
    node.tick(S // 2)
    return node


def test_default_limits_hold_under_2500_forged_routers():
    node = host()
    flood(node, 2_500)
    node.tick(10 * S)                     # every DAD that was started ends
    nd, iface = node.nd["eth0"], node.interfaces["eth0"]
    limits = NeighborDiscoveryLimits()
    assert len(nd.routers) == limits.max_routers
    assert len(nd.prefix_entries) == limits.max_prefixes
    assert iface.autoconfigured_count <= limits.max_autoconf_addresses
    assert sum(a.autoconfigured for a in iface.addresses.values()) == iface.autoconfigured_count
    assert node.counters["nd.drop.router_limit"] == 2_500 - limits.max_routers
    assert len(node.timers) < 200          # a few per router, prefix and address, not per RA
    assert node.counters["nd.ra_processed"] == 2_500


def test_limits_are_configurable_and_validated():
    node = host()
    node.set_nd_limits(NeighborDiscoveryLimits(max_routers=2, max_prefixes=3, max_autoconf_addresses=1))
    flood(node, 50, seed=9)
    nd, iface = node.nd["eth0"], node.interfaces["eth0"]
    assert len(nd.routers) == 2 and iface.autoconfigured_count == 1
    with pytest.raises(ValueError, match="max_routers"):
        NeighborDiscoveryLimits(max_routers=0)


def test_a_known_router_keeps_being_refreshed_when_the_list_is_full():
    node = host()
    node.set_nd_limits(NeighborDiscoveryLimits(max_routers=1))
    flood(node, 1, seed=5)
    first = next(iter(node.nd["eth0"].routers))
    flood(node, 20, seed=6)
    flood(node, 1, seed=5)                  # the first router again: refreshed, not refused
    assert list(node.nd["eth0"].routers) == [first]
    assert node.counters["nd.drop.router_limit"] == 20
