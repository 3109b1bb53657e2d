"""Costs that must not grow with the number of bindings (issue: a hostile home link stopped a home
agent with 65,536 bindings at ~9 multicast frames per second).

Two kinds of proof, each able to fail: a count of the operations the receive path does per frame
(deterministic: no timing), and the CPU time per frame with many bindings against none, measured in
the same run as a ratio (best of several repetitions, so a busy machine does not decide it)."""
from __future__ import annotations

import random
import time
from ipaddress import IPv6Address, IPv6Network

import pytest

from mip6fast.binding_cache import BindingCache
from mip6fast.roles import interface as interface_module
from mip6fast.roles.home_agent import HomeAgent, HomeAgentConfig
from mip6fast.roles.interface import Interface
from mip6fast.wire import (
    BindingUpdate,
    NeighborSolicitation,
    Packet,
    SourceLinkLayerAddress,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
HA_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000055")
PREFIX = IPv6Network("2001:db8:1::/64")
HA = IPv6Address("2001:db8:1::1")
PEER = IPv6Address("2001:db8:1::55")


def home_agent(proxied: int) -> HomeAgent:
    """A home agent whose home link carries ``proxied`` proxied home addresses, as that many
    bindings leave it (RFC 6275 §10.4.1: each joins its solicited-node group)."""
    ha = HomeAgent("ha", [Interface("eth0", HA_MAC)],
                   HomeAgentConfig(interface="eth0", home_prefixes=(PREFIX,), address=HA,
                                   max_bindings=1 << 17),
                   rng=random.Random(1), cache=BindingCache(16, 64, seed=5))
    ha.link_changed(0, "eth0", True)
    ha.tick(2 * S)
    nd = ha.nd["eth0"]
    for i in range(proxied):
        nd.add_proxy(IPv6Address(int(PREFIX.network_address) + 0x10000 + i))
    return ha


def ns_frames(count: int) -> list[bytes]:
    """Multicast Neighbor Solicitations for addresses nobody has, each to its solicited-node group
    (the frames a node on the link resolving its neighbours sends)."""
    out = []
    for i in range(count):
        target = IPv6Address(int(PREFIX.network_address) + 0x2000_0000 + i)
        group = solicited_node_multicast(target)
        ns = NeighborSolicitation(target, options=(SourceLinkLayerAddress(PEER_MAC),))
        raw = Packet(src=PEER, dst=group, hop_limit=255, payload=ns).to_bytes()
        out.append(ethernet_frame(ipv6_multicast_mac(group.packed), PEER_MAC, raw))
    return out


def test_receive_path_does_no_per_group_work(monkeypatch):
    """With 20,000 proxied addresses, one multicast NS maps no group to a MAC and forms no
    solicited-node address: the interface's group index answers."""
    ha = home_agent(20_000)
    calls = {"mac": 0, "group": 0}
    real_mac, real_group = interface_module.ipv6_multicast_mac, interface_module.solicited_node_multicast

    def counting_mac(address):
        calls["mac"] += 1
        return real_mac(address)

    def counting_group(address):
        calls["group"] += 1
        return real_group(address)

    monkeypatch.setattr(interface_module, "ipv6_multicast_mac", counting_mac)
    monkeypatch.setattr(interface_module, "solicited_node_multicast", counting_group)
    frames = ns_frames(50)
    for i, frame in enumerate(frames):
        ha.receive(3 * S + i, "eth0", frame)
    assert calls == {"mac": 0, "group": 0}
    # Every frame was judged: filtered by its MAC, or in a joined group and then not for us.
    assert ha.counters["drop.mac_filter"] + ha.counters["nd.drop.ns_not_for_us"] == len(frames)


def _cpu_per_frame(ha: HomeAgent, frames: list[bytes], now: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for i, frame in enumerate(frames):
            ha.receive(now + i, "eth0", frame)
        best = min(best, (time.process_time() - start) / len(frames))
        now += 10 * S
    return best


def test_multicast_ns_cost_is_flat_from_0_to_20000_bindings():
    frames = ns_frames(200)
    empty, full = home_agent(0), home_agent(20_000)
    ratio = _cpu_per_frame(full, frames, 3 * S) / _cpu_per_frame(empty, frames, 3 * S)
    assert ratio < 3, f"a multicast NS costs {ratio:.1f}x more with 20,000 proxied addresses than with none"


def test_group_index_follows_addresses_states_and_extra_groups():
    """The index gives what the definition gives (RFC 4862 §5.4.2: every address's solicited-node
    group, tentative ones included, duplicates not; all-nodes; extra groups), through every change."""
    iface = Interface("eth0", HA_MAC)

    def expected():
        out = {IPv6Address("ff02::1")} | set(iface.extra_groups)
        out |= {solicited_node_multicast(a.address) for a in iface.addresses.values()
                if a.state is not interface_module.AddressState.DUPLICATE}
        return out

    rng = random.Random(7)
    pool = [IPv6Address(int(PREFIX.network_address) + rng.choice((1, 2, 0x1000001, 0x2000001)) + (k << 24))
            for k in range(6)]
    for _ in range(2_000):
        op = rng.randrange(5)
        a = rng.choice(pool)
        if op == 0:
            iface.add_address(a, 64)
        elif op == 1 and a in iface.addresses:
            del iface.addresses[a]
        elif op == 2 and a in iface.addresses:
            iface.addresses[a].state = rng.choice(list(interface_module.AddressState))
        elif op == 3:
            iface.extra_groups.add(solicited_node_multicast(a))
        elif op == 4:
            iface.extra_groups.discard(solicited_node_multicast(a))
        assert iface.groups() == expected()
        for g in expected():
            assert iface.is_joined(g) and iface.joined_mac(ipv6_multicast_mac(g.packed))
        macs = {ipv6_multicast_mac(g.packed) for g in expected()}
        for g in pool:
            mac = ipv6_multicast_mac(solicited_node_multicast(g).packed)
            assert iface.joined_mac(mac) == (mac in macs)
    all_routers = IPv6Address("ff02::2")
    assert iface.is_joined(all_routers, router=True) and not iface.is_joined(all_routers)


def _binding_update_frame(i: int) -> bytes:
    from_coa = IPv6Address(0x20010DB8_0003_0000_0000_0000_0000_0000 + i + 1)
    home = IPv6Address(int(PREFIX.network_address) + 0x10000 + i)
    packet = Packet(src=from_coa, dst=HA, home_address=home,
                    payload=BindingUpdate(sequence=1, lifetime=400, ack=True, home=True))
    return ethernet_frame(HA_MAC, PEER_MAC, packet.to_bytes())


@pytest.mark.slow
def test_binding_update_cost_is_flat_from_0_to_65536_bindings():
    """RFC 6275 §10.3.1 signalling through the whole path (DAD included) with an empty cache and with
    65,536 bindings (the default max_bindings): the CPU per first registration within 2x."""
    ha = home_agent(0)
    known = Packet(src=PEER, dst=solicited_node_multicast(HA), hop_limit=255,
                   payload=NeighborSolicitation(HA, options=(SourceLinkLayerAddress(PEER_MAC),))).to_bytes()
    ha.receive(2 * S, "eth0", ethernet_frame(ipv6_multicast_mac(solicited_node_multicast(HA).packed),
                                              PEER_MAC, known))
    frames = [_binding_update_frame(i) for i in range(65_536 + 1_000)]
    now = 3 * S

    def register(lo: int, hi: int) -> float:
        nonlocal now
        start = time.process_time()
        for frame in frames[lo:hi]:
            now += 1_000
            ha.receive(now, "eth0", frame)
        spent = time.process_time() - start
        now += 2 * S
        ha.tick(now)                 # DAD ends: the bindings are made and acknowledged
        return spent / (hi - lo)

    first = min(register(k, k + 100) for k in range(0, 500, 100))
    register(500, 65_536)
    assert len(ha.cache) == 65_536
    last = min(register(k, k + 100) for k in range(65_536, 66_036, 100))
    assert ha.counters["binding.created"] == 66_036
    assert last / first < 2, f"a first registration costs {last / first:.1f}x more with 65,536 bindings"
