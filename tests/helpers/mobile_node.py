"""One mobile node (MAC 02:00:00:00:00:20, home address on 2001:db8:1::/64 with its home agent) and the
routers of foreign links A, B and C, sans-I/O, with hand-built frames: tests/test_mobile_node.py and the
modules that test its other aspects (route optimisation, source addresses, movement, discovery, two
home addresses). Times are integer ns; ``S`` is one second."""
import random
from ipaddress import IPv6Address, IPv6Network

from mip6fast.apps import udp_datagram
from mip6fast.roles import Interface, link_local_address, slaac_address
from mip6fast.roles.mobile_node import HomeAddressConfig, MobileNode, MobileNodeConfig, Registered
from mip6fast.roles.route_optimization import ALWAYS, RouteOptimisationStarted, RouteOptimizationConfig
from mip6fast.wire import (
    ALL_NODES,
    AdvertisementInterval,
    BindingAcknowledgement,
    BindingUpdate,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PrefixInformation,
    Raw,
    RouterAdvertisement,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    parse,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac, parse_ethernet

S = 1_000_000_000
MS = 1_000_000
MN_MAC = bytes.fromhex("020000000020")
HOME_PREFIX = IPv6Network("2001:db8:1::/64")
HOA = slaac_address(HOME_PREFIX, MN_MAC)
HA = IPv6Address("2001:db8:1::2")
HA_MAC = bytes.fromhex("020000000002")
HOME_MAC = bytes.fromhex("0200000000a0")
A_MAC = bytes.fromhex("0200000000aa")
B_MAC = bytes.fromhex("0200000000bb")
C_MAC = bytes.fromhex("0200000000cc")
PREFIX_A = IPv6Network("2001:db8:a::/64")
PREFIX_B = IPv6Network("2001:db8:b::/64")
PREFIX_C = IPv6Network("2001:db8:c::/64")
COA_A = slaac_address(PREFIX_A, MN_MAC)
COA_B = slaac_address(PREFIX_B, MN_MAC)
CN = IPv6Address("2001:db8:99::7")


def ll(mac):
    return link_local_address(mac)


def frame(src_mac, dst_mac, packet):
    raw = packet if isinstance(packet, bytes) else packet.to_bytes()
    return ethernet_frame(dst_mac, src_mac, raw)


def ra(router_mac, prefix, valid=2592000, lifetime=1800, interval_ms=None, autonomous=True):
    options = [SourceLinkLayerAddress(router_mac)]
    if interval_ms is not None:
        options.append(AdvertisementInterval(interval_ms))
    options.append(PrefixInformation(prefix.network_address, 64, autonomous=autonomous,
                                     valid_lifetime=valid, preferred_lifetime=min(valid, 604800)))
    packet = Packet(src=ll(router_mac), dst=ALL_NODES, hop_limit=255,
                    payload=RouterAdvertisement(router_lifetime=lifetime, options=tuple(options)))
    return frame(router_mac, ipv6_multicast_mac(ALL_NODES.packed), packet)


def packets(out):
    """(dst MAC, Packet, raw IPv6 bytes) of every transmitted frame (``Output.frames``: the per-packet
    transmits and the data path's batch transmits, in order)."""
    result = []
    for t in out.frames():
        dst_mac, _, _, payload = parse_ethernet(t.frame)
        result.append((dst_mac, parse(payload), bytes(payload)))
    return result


def bus(out):
    return [(p, raw) for _, p, raw in packets(out) if isinstance(p.payload, BindingUpdate)]


def notes(out, cls):
    return [n for n in out.notifications if isinstance(n, cls)]


def ba(status, sequence, lifetime=600, options=(), dst=COA_A, rh2=HOA, src=HA, src_mac=None):
    """A BA from ``src`` (the home agent) to ``dst``; the frame comes from ``src_mac``, by default router
    A's (the home agent's when ``dst`` is the home address: the node is on its home link)."""
    packet = Packet(src=src, dst=dst, rh2=rh2, payload=BindingAcknowledgement(
        status=status, sequence=sequence, lifetime=lifetime, options=options))
    if src_mac is None:
        src_mac = A_MAC if dst != HOA else HA_MAC
    return frame(src_mac, MN_MAC, packet)


def tick_answering(mn, t, router_mac=A_MAC):
    """tick(t), with router A answering every NUD probe sent to it, so it stays the default router."""
    out = mn.tick(t)
    for dst_mac, p, _ in packets(out):
        if dst_mac == router_mac and isinstance(p.payload, NeighborSolicitation):
            na = Packet(src=ll(router_mac), dst=p.src, hop_limit=255, payload=NeighborAdvertisement(
                target=ll(router_mac), router=True, solicited=True, override=True,
                options=(TargetLinkLayerAddress(router_mac),)))
            mn.receive(t, "eth0", frame(router_mac, MN_MAC, na))
    return out


def make_mn(homes=None, seed=1, **kwargs):
    """A mobile node on eth0. These hand-driven tests were written against plain DAD (the BU leaves when
    the care-of address's DAD is done, ``T_BU``) and movement after NUD of the old router:
    ``optimistic_dad`` and ``movement_on_reattachment`` are off here, ``movement_probes`` is NUD's 3,
    unless a test asks otherwise;
    tests/test_mobile_node_fast.py covers the defaults (RFC 4429, movement at the first RA after a
    carrier change)."""
    homes = homes or (HomeAddressConfig(HOA, HA),)
    kwargs.setdefault("optimistic_dad", False)
    kwargs.setdefault("movement_on_reattachment", False)
    kwargs.setdefault("movement_probes", 3)          # NUD's own three probes (RFC 4861 §7.3.3)
    mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=random.Random(seed),
                    config=MobileNodeConfig("eth0", homes, **kwargs))
    return mn


def attach_foreign(mn, t0=0, valid=2592000):
    """Carrier up at t0, link-local DAD done at t0+1 s, RA from router A at t0+1.1 s, the care-of
    address's DAD done at t0+2.1 s: returns the output of that last tick (Moved + the first BU)."""
    mn.link_changed(t0, "eth0", True)
    mn.tick(t0 + 1 * S)
    mn.receive(t0 + 1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A, valid=valid))
    return mn.tick(t0 + 2 * S + 100 * MS)


T_BU = 2 * S + 100 * MS     # when attach_foreign's first BU leaves


def registered_mn(**kwargs):
    mn = make_mn(**kwargs)
    out = attach_foreign(mn)
    (bu, _), = bus(out)
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence))
    assert notes(out, Registered)
    return mn, bu


# ---------------------------------------------------------------- data, movement, returning home

def udp_datagram_packet(src=HOA, dst=CN, payload=b"hello"):
    return Packet(src=src, dst=dst, payload=Raw(17, udp_datagram(src, dst, 1000, 2000, payload))).to_bytes()


def move_to_b(mn, t):
    """Carrier change to link B (lower-layer hint), then router B's RA."""
    mn.link_changed(t, "eth0", False)
    out_up = mn.link_changed(t + 10 * MS, "eth0", True)
    out_ra = mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B))
    return out_up, out_ra


def go_home(mn, t):
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    return mn.receive(t + 200 * MS, "eth0", ra(HOME_MAC, HOME_PREFIX))


# ---------------------------------------------------------------- route optimisation (§11.3, §11.7.2)

def ro_mn(**ro):
    """A registered node with route optimisation ``ro``; without return routability unless the caller
    says otherwise (``unauthenticated_bindings=False``): the tests of route optimisation's own
    machinery (policy, BU, BA, fallback) answer its BUs directly; tests/test_mobile_node_rr.py runs
    return routability first."""
    ro.setdefault("unauthenticated_bindings", True)
    mn, _ = registered_mn(route_optimization=RouteOptimizationConfig(**ro))
    return mn


def cn_ba(status, sequence, lifetime=420, dst=COA_A, rh2=HOA, src=CN, router_mac=A_MAC):
    return frame(router_mac, MN_MAC, Packet(src=src, dst=dst, rh2=rh2, payload=BindingAcknowledgement(
        status=status, sequence=sequence, lifetime=lifetime)))


def optimised_mn(lifetime=420, **ro):
    """A registered node whose BU to CN ("always") was acknowledged at T_BU + 30 ms."""
    mn = ro_mn(peers={CN: ALWAYS}, lifetime=lifetime, **ro)
    b = mn.route_optimization.bindings[(CN, HOA)]
    out = mn.receive(T_BU + 30 * MS, "eth0", cn_ba(0, b.outstanding, lifetime=lifetime))
    assert notes(out, RouteOptimisationStarted)
    return mn
