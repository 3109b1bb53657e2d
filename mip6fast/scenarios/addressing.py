"""Source address selection on the mobile node: short-lived flows from the care-of address, everything
else from the home address (RFC 6275 §11.3.1; the chapter's §3.2.6)."""
from __future__ import annotations

from ..apps import QueryApp, ResponderApp, StreamApp
from ..io.pcap import PcapReader
from ..roles import Host, Interface, slaac_address
from ..sim import NS_PER_S, Simulator
from ..wire import Raw, parse
from ..wire.ethernet import ETHERTYPE_IPV6, parse_ethernet
from .registry import scenario
from .world import CN_ADDRESS, CN_PREFIX, HA_ADDRESS, HOME_ADDRESS, MN_MAC, MS, Mip6World, mac

__all__ = ["DNS_ADDRESS", "short_lived_flows", "uplink_flows"]

DNS_MAC = mac(0x42)
DNS_ADDRESS = slaac_address(CN_PREFIX, DNS_MAC)
NH_IPV6 = 41


def uplink_flows(pcap_path: str, src_mac: bytes = MN_MAC) -> dict[str, int]:
    """What ``src_mac`` sent on a link, read back from its pcap, by "source > destination (next header)"
    of the outer IPv6 header (a reverse-tunnelled packet shows as care-of > home agent (41))."""
    flows: dict[str, int] = {}
    with open(pcap_path, "rb") as f:
        for rec in PcapReader(f):
            _dst, src, ethertype, payload = parse_ethernet(rec.data)
            if src != src_mac or ethertype != ETHERTYPE_IPV6 or len(payload) < 40:
                continue
            packet = parse(payload)
            if packet.src.is_link_local or packet.dst.is_link_local or packet.dst.is_multicast:
                continue                      # neighbour discovery
            nh = payload[6]
            if isinstance(packet.payload, Raw):
                nh = packet.payload.next_header
            key = f"{packet.src} > {packet.dst} ({nh})"
            flows[key] = flows.get(key, 0) + 1
    return dict(sorted(flows.items()))


@scenario(
    "short-lived-flows",
    "DNS-like queries from a mobile node go straight from its care-of address, a long UDP flow uses the "
    "home address through the reverse tunnel; the same queries pinned to the home address for comparison")
def short_lived_flows(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from foreign link A. From 5 s it sends DNS-like queries (UDP port 53, one
    a second) to a plain host on the correspondent's network: its source policy picks the care-of
    address, so queries and answers are routed natively. The same queries pinned to the home address
    (another application) go through the reverse tunnel and come back through the home agent's tunnel.
    A long UDP flow to the correspondent (port 5001, 20 packets/s) uses the home address, reverse
    tunnelled (§11.3.1)."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    dns = Host("dns", [Interface("eth0", DNS_MAC)], rng=sim.rng_for("dns"))
    responder = ResponderApp(53)
    dns.attach(responder)
    direct = QueryApp(DNS_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=1 * NS_PER_S, count=20, src_port=33000)
    via_home = QueryApp(DNS_ADDRESS, start_ns=5 * NS_PER_S + 500 * MS, interval_ns=1 * NS_PER_S, count=20,
                        src_port=33001, src=HOME_ADDRESS, id_base=0x8000)
    sender = StreamApp(5001, dst=CN_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=50 * MS, count=400)
    receiver = StreamApp(5001)
    for app in (direct, via_home, sender):
        world.mn.attach(app)
    world.cn.attach(receiver)
    with sim:
        world.start(world.foreign[0])
        sim.attach(dns, "eth0", world.cnet)
        sim.run(30 * NS_PER_S)
    fa = world.foreign[0].pcap_path
    return world, {**world.common("short-lived-flows", seed),
                   "dns_address": str(DNS_ADDRESS),
                   "care_of_address": str(world.mn.care_of),
                   "queries_direct": direct.summary(),
                   "queries_via_home": via_home.summary(),
                   "responder_sources": dict(sorted(responder.sources.items())),
                   "long_flow": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
                   "mn_uplink": uplink_flows(fa) if fa else None,
                   "home_agent": str(HA_ADDRESS)}
