"""Plain IPv6 scenarios (no Mobile IPv6): the simulator's routers, hosts and neighbour discovery."""
from __future__ import annotations

from ipaddress import IPv6Network

from ..apps import PingApp, StreamApp
from ..roles import AdvertisingConfig, Host, Interface, Router, slaac_address
from ..sim import NS_PER_S, Link, Simulator
from ..wire import PrefixInformation
from .registry import scenario
from .world import MS, mac

__all__ = ["basic_routing", "router_failover"]


@scenario("basic-routing", "two hosts on two links behind one router: SLAAC, a ping stream and a UDP stream")
def basic_routing(seed: int = 1, pcap_dir: str | None = None) -> tuple[Simulator, dict]:
    """Two hosts on two links behind one router: SLAAC from the router's RAs, then a ping stream from
    h1 to h2 and a UDP stream from h2 to h1 through the router."""
    sim = Simulator(seed, pcap_dir)
    lan1 = Link("lan1", delay_ns=200_000)
    lan2 = Link("lan2", delay_ns=300_000)
    prefix1, prefix2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")

    router = Router("r1", [Interface("eth0", mac(1)), Interface("eth1", mac(2))], rng=sim.rng_for("r1"))
    router.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    router.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for name, prefix in (("eth0", prefix1), ("eth1", prefix2)):
        router.advertise(name, AdvertisingConfig(
            prefixes=[PrefixInformation(prefix.network_address, 64)],
            max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S, advertisement_interval_option=True))
    h1 = Host("h1", [Interface("eth0", mac(11))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", mac(12))], rng=sim.rng_for("h2"))
    a1, a2 = slaac_address(prefix1, mac(11)), slaac_address(prefix2, mac(12))

    ping = PingApp(a2, start_ns=4 * NS_PER_S, interval_ns=100 * MS, count=50)
    sender = StreamApp(5001, dst=a1, start_ns=4 * NS_PER_S, interval_ns=20 * MS, count=200)
    receiver = StreamApp(5001)
    h1.attach(ping)
    h1.attach(receiver)
    h2.attach(sender)

    with sim:
        sim.attach(router, "eth0", lan1)
        sim.attach(router, "eth1", lan2)
        sim.attach(h1, "eth0", lan1)
        sim.attach(h2, "eth0", lan2)
        sim.run(10 * NS_PER_S)
    return sim, {
        "scenario": "basic-routing",
        "seed": seed,
        "addresses": {"h1": str(a1), "h2": str(a2)},
        "ping": ping.summary(),
        "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
        "router": dict(sorted(router.counters.items())),
        "links": {name: dict(sorted(link.counters.items())) for name, link in sim.links.items()},
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
        "timeline": sim.timeline_lines(),
    }


@scenario("router-failover", "two routers, the one in use fails at 20 s; NUD moves the traffic to the other")
def router_failover(seed: int = 1, pcap_dir: str | None = None) -> tuple[Simulator, dict]:
    """Two routers between lan1 and lan2; the one the hosts use fails at 20 s. Neighbour
    unreachability detection (RFC 4861 §7.3) finds out, the hosts drop it from their default router
    lists (§6.3.6) and the UDP stream resumes through the other router."""
    sim = Simulator(seed, pcap_dir)
    lan1, lan2 = Link("lan1", delay_ns=200_000), Link("lan2", delay_ns=200_000)
    prefix1, prefix2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")
    routers = []
    for n, name in ((1, "r1"), (2, "r2")):
        r = Router(name, [Interface("eth0", mac(n)), Interface("eth1", mac(0x10 + n))], rng=sim.rng_for(name))
        r.interfaces["eth0"].add_address(f"2001:db8:1::{n}", 64)
        r.interfaces["eth1"].add_address(f"2001:db8:2::{n}", 64)
        for iface, prefix in (("eth0", prefix1), ("eth1", prefix2)):
            r.advertise(iface, AdvertisingConfig(prefixes=[PrefixInformation(prefix.network_address, 64)],
                                                 max_interval=10 * NS_PER_S, router_lifetime=1800))
        routers.append(r)
    h1 = Host("h1", [Interface("eth0", mac(0x21))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", mac(0x22))], rng=sim.rng_for("h2"))
    a1 = slaac_address(prefix1, mac(0x21))
    sender = StreamApp(5001, dst=a1, start_ns=5 * NS_PER_S, interval_ns=50 * MS, count=1700)
    receiver = StreamApp(5001)
    h2.attach(sender)
    h1.attach(receiver)
    with sim:
        # r1 comes up first, so both hosts learn it first and use it (RFC 4861 §6.3.6).
        sim.attach(routers[0], "eth0", lan1)
        sim.attach(routers[0], "eth1", lan2)
        sim.attach(h1, "eth0", lan1)
        sim.attach(h2, "eth0", lan2)
        sim.schedule(2 * NS_PER_S, lambda s: (s.attach(routers[1], "eth0", lan1),
                                              s.attach(routers[1], "eth1", lan2)))
        sim.schedule(20 * NS_PER_S, lambda s: (s.detach(routers[0], "eth0"), s.detach(routers[0], "eth1")))
        sim.run(95 * NS_PER_S)
    return sim, {
        "scenario": "router-failover",
        "seed": seed,
        "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
        "forwarded": {r.name: r.counters["forwarded"] for r in routers},
        "default_router": {h.name: str(h.nd["eth0"].default_router()) for h in (h1, h2)},
        "links": {name: dict(sorted(link.counters.items())) for name, link in sim.links.items()},
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
        "timeline": sim.timeline_lines(),
    }
