"""One home agent (eth0 on the home link 2001:db8:1::/64, eth1 towards a router on the foreign side),
sans-I/O, and hand-built frames for it: tests/test_home_agent.py and the modules that test its other
aspects (renumbering, batch transmit, the scale scenario). Times are integer ns; ``S`` is one second."""
import random
from ipaddress import IPv6Address, IPv6Network

from mip6fast.binding_cache import BindingCache
from mip6fast.roles.home_agent import HomeAgent, HomeAgentConfig
from mip6fast.roles.interface import Interface
from mip6fast.wire import (
    BindingAcknowledgement,
    BindingUpdate,
    EchoRequest,
    NeighborSolicitation,
    Packet,
    SourceLinkLayerAddress,
    parse,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
HA_MAC = bytes.fromhex("020000000001")
HA_MAC2 = bytes.fromhex("020000000002")
ROUTER_MAC = bytes.fromhex("020000000077")     # the foreign side: next hop to everything off-link
HOME_NODE_MAC = bytes.fromhex("020000000055")
HA = IPv6Address("2001:db8:1::1")
HA2 = IPv6Address("2001:db8:2::1")
HOME = IPv6Address("2001:db8:1::9")
COA = IPv6Address("2001:db8:3::9")
CN = IPv6Address("2001:db8:4::4")
NEXT_HOP = IPv6Address("2001:db8:2::77")
PREFIX = IPv6Network("2001:db8:1::/64")


def make_ha(store=None, wall_offset_ns=0, cache_size=64, spd=None, mn_ha=None, **kw):
    """``store``, ``wall_offset_ns``: the binding store and clock offset (HomeAgent's); ``spd``, ``mn_ha``:
    its security policy database and RFC 4285 credentials; the rest is the HomeAgentConfig's."""
    cfg = {"interface": "eth0", "home_prefixes": (PREFIX,), "address": HA}
    cfg.update(kw)
    ha = HomeAgent("ha", [Interface("eth0", HA_MAC), Interface("eth1", HA_MAC2)], HomeAgentConfig(**cfg),
                   rng=random.Random(1), cache=BindingCache(16, cache_size, seed=5), store=store,
                   wall_offset_ns=wall_offset_ns, spd=spd, mn_ha=mn_ha)
    ha.interfaces["eth1"].add_address(HA2, 64)
    ha.add_route("::/0", "eth1", NEXT_HOP)
    ha.link_changed(0, "eth0", True)
    ha.link_changed(0, "eth1", True)
    ha.tick(2 * S)                            # own addresses through DAD
    # The next hop on eth1 is known (an NS from it with its link-layer address).
    ns = Packet(src=NEXT_HOP, dst=solicited_node_multicast(HA2), hop_limit=255,
                payload=NeighborSolicitation(HA2, options=(SourceLinkLayerAddress(ROUTER_MAC),)))
    ha.receive(2 * S, "eth1", ethernet_frame(ipv6_multicast_mac(solicited_node_multicast(HA2).packed),
                                             ROUTER_MAC, ns.to_bytes()))
    return ha


def frame_in(packet, mac=HA_MAC2, src_mac=ROUTER_MAC):
    raw = packet if isinstance(packet, bytes) else packet.to_bytes()
    return ethernet_frame(mac, src_mac, raw)


def pkts(out, iface=None):
    return [parse(t.frame[14:]) for t in out.frames() if iface is None or t.interface == iface]


def of_type(out, cls):
    return [p for p in pkts(out) if isinstance(p.payload, cls)]


def bu_packet(seq=1, lifetime=400, home=HOME, coa=COA, src=None, dst=HA, **flags):
    flags.setdefault("ack", True)
    flags.setdefault("home", True)
    options = flags.pop("options", ())
    return Packet(src=src or coa, dst=dst, home_address=None if home == (src or coa) else home,
                  payload=BindingUpdate(seq, lifetime, options=options, **flags))


def register(ha, now=3 * S, **kw):
    """A first registration through DAD (nobody answers); returns the BA packet and all outputs."""
    out1 = ha.receive(now, "eth1", frame_in(bu_packet(**kw)))
    out2 = ha.tick(now + S)
    bas = of_type(out2, BindingAcknowledgement)
    return bas, out1, out2


def ba_of(out):
    (ba,) = of_type(out, BindingAcknowledgement)
    return ba


def echo(src, dst, hop_limit=64, size=8):
    return Packet(src=src, dst=dst, hop_limit=hop_limit, payload=EchoRequest(1, 1, b"x" * size))
