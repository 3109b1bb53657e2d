"""Named simulator scenarios: each builds a topology and a script, runs it, and returns a JSON-able
summary (``mip6fast simulate NAME``).

``SCENARIOS`` maps a name to ``(description, function)``; a function takes ``seed`` and ``pcap_dir``
and returns the summary, whose ``"timeline"`` entry lists the notifications as text.
"""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Callable

from .apps import PingApp, StreamApp
from .roles import AdvertisingConfig, Host, Interface, Router, slaac_address
from .roles.correspondent import CorrespondentNode
from .roles.home_agent import BindingCreated, BindingDeleted, HomeAgent, HomeAgentConfig
from .roles.mobile_node import BindingRefreshed, HomeAddressConfig, MobileNode, MobileNodeConfig, Registered
from .sim import NS_PER_S, Link, Simulator
from .wire import PrefixInformation

__all__ = ["SCENARIOS", "run_scenario"]

MS = 1_000_000


def _mac(n: int) -> bytes:
    return bytes([0x02, 0, 0, 0, 0, n])


def basic_routing(seed: int = 1, pcap_dir: str | None = None) -> dict:
    """Two hosts on two links behind one router: SLAAC from the router's RAs, then a ping stream from
    h1 to h2 and a UDP stream from h2 to h1 through the router."""
    sim = Simulator(seed, pcap_dir)
    lan1 = Link("lan1", delay_ns=200_000)
    lan2 = Link("lan2", delay_ns=300_000)
    prefix1, prefix2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")

    router = Router("r1", [Interface("eth0", _mac(1)), Interface("eth1", _mac(2))], rng=sim.rng_for("r1"))
    router.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    router.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for name, prefix in (("eth0", prefix1), ("eth1", prefix2)):
        router.advertise(name, AdvertisingConfig(
            prefixes=[PrefixInformation(prefix.network_address, 64)],
            max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S, advertisement_interval_option=True))
    h1 = Host("h1", [Interface("eth0", _mac(11))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", _mac(12))], rng=sim.rng_for("h2"))
    a1, a2 = slaac_address(prefix1, _mac(11)), slaac_address(prefix2, _mac(12))

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
    return {
        "scenario": "basic-routing",
        "seed": seed,
        "addresses": {"h1": str(a1), "h2": str(a2)},
        "ping": ping.summary(),
        "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
        "router": {k: v for k, v in sorted(router.counters.items())},
        "links": {name: dict(sorted(link.counters.items())) for name, link in sim.links.items()},
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
        "timeline": sim.timeline_lines(),
    }


def router_failover(seed: int = 1, pcap_dir: str | None = None) -> dict:
    """Two routers between lan1 and lan2; the one the hosts use fails at 20 s. Neighbour
    unreachability detection (RFC 4861 §7.3) finds out, the hosts drop it from their default router
    lists (§6.3.6) and the UDP stream resumes through the other router."""
    sim = Simulator(seed, pcap_dir)
    lan1, lan2 = Link("lan1", delay_ns=200_000), Link("lan2", delay_ns=200_000)
    prefix1, prefix2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")
    routers = []
    for n, name in ((1, "r1"), (2, "r2")):
        r = Router(name, [Interface("eth0", _mac(n)), Interface("eth1", _mac(0x10 + n))], rng=sim.rng_for(name))
        r.interfaces["eth0"].add_address(f"2001:db8:1::{n}", 64)
        r.interfaces["eth1"].add_address(f"2001:db8:2::{n}", 64)
        for iface, prefix in (("eth0", prefix1), ("eth1", prefix2)):
            r.advertise(iface, AdvertisingConfig(prefixes=[PrefixInformation(prefix.network_address, 64)],
                                                 max_interval=10 * NS_PER_S, router_lifetime=1800))
        routers.append(r)
    h1 = Host("h1", [Interface("eth0", _mac(0x21))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", _mac(0x22))], rng=sim.rng_for("h2"))
    a1 = slaac_address(prefix1, _mac(0x21))
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
    return {
        "scenario": "router-failover",
        "seed": seed,
        "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
        "forwarded": {r.name: r.counters["forwarded"] for r in routers},
        "default_router": {h.name: str(h.nd["eth0"].default_router()) for h in (h1, h2)},
        "links": {name: dict(sorted(link.counters.items())) for name, link in sim.links.items()},
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
        "timeline": sim.timeline_lines(),
    }


# ---------------------------------------------------------------- Mobile IPv6 (RFC 6275)

HOME_PREFIX = IPv6Network("2001:db8:1::/64")
CORE_PREFIX = IPv6Network("2001:db8:ff::/64")
CN_PREFIX = IPv6Network("2001:db8:c::/64")
FOREIGN_A = IPv6Network("2001:db8:a::/64")
FOREIGN_B = IPv6Network("2001:db8:b::/64")
HA_ADDRESS = IPv6Address("2001:db8:1::1")
MN_MAC = _mac(0x40)
CN_MAC = _mac(0x41)
HOME_ADDRESS = slaac_address(HOME_PREFIX, MN_MAC)
CN_ADDRESS = slaac_address(CN_PREFIX, CN_MAC)


class _Mip6World:
    """The Mobile IPv6 topology the three scenarios share:

    - ``home`` link: the home agent ``ha`` is its router (eth0, RAs with the H flag, the Home Agent
      Information option and an R-flag prefix holding its address); its eth1 is on ``core``;
    - ``core`` link: ``ha``, the core router ``rc`` (also on the correspondent's link ``cnet``), and the
      foreign routers ``ra`` / ``rb``, each with a foreign link behind it (``fa``, ``fb``);
    - ``cn``: a ``CorrespondentNode`` on ``cnet``; ``mn``: the ``MobileNode`` with one home address.
    The foreign routers advertise every second with the Advertisement Interval option, so movement is
    detected within a few seconds (RFC 6275 §7.3, §11.5.1)."""

    def __init__(self, sim: Simulator, lifetime: int, foreign_links: int):
        self.sim = sim
        self.home = Link("home", delay_ns=200_000)
        self.core = Link("core", delay_ns=1 * MS)
        self.cnet = Link("cnet", delay_ns=200_000)
        self.ha = HomeAgent("ha", [Interface("eth0", _mac(0x30)), Interface("eth1", _mac(0x31))],
                            HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS), rng=sim.rng_for("ha"))
        self.ha.interfaces["eth1"].add_address("2001:db8:ff::1", 64)
        self.ha.add_route("::/0", "eth1", "2001:db8:ff::2")
        self.rc = Router("rc", [Interface("eth0", _mac(0x32)), Interface("eth1", _mac(0x33))],
                         rng=sim.rng_for("rc"))
        self.rc.interfaces["eth0"].add_address("2001:db8:ff::2", 64)
        self.rc.interfaces["eth1"].add_address("2001:db8:c::1", 64)
        self.rc.add_route(HOME_PREFIX, "eth0", "2001:db8:ff::1")
        self.rc.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(CN_PREFIX.network_address, 64)],
                                                    max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S))
        self.foreign: list[Link] = []
        self.foreign_routers: list[Router] = []
        for n, (name, prefix) in enumerate((("fa", FOREIGN_A), ("fb", FOREIGN_B))[:foreign_links]):
            r = Router("r" + name[1], [Interface("eth0", _mac(0x34 + 2 * n)), Interface("eth1", _mac(0x35 + 2 * n))],
                       rng=sim.rng_for("r" + name[1]))
            core_address = f"2001:db8:ff::{0xa + n:x}"
            r.interfaces["eth0"].add_address(core_address, 64)
            r.interfaces["eth1"].add_address(prefix.network_address + 1, 64)
            r.add_route("::/0", "eth0", "2001:db8:ff::2")
            r.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(prefix.network_address, 64)],
                                                  max_interval=1 * NS_PER_S, advertisement_interval_option=True,
                                                  min_delay_between_ras=30 * MS))
            self.rc.add_route(prefix, "eth0", core_address)
            self.ha.add_route(prefix, "eth1", core_address)
            self.foreign.append(Link(name, delay_ns=200_000))
            self.foreign_routers.append(r)
        self.cn = CorrespondentNode("cn", [Interface("eth0", CN_MAC)], rng=sim.rng_for("cn"))
        self.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                             config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),),
                                                     lifetime=lifetime))

    def start(self, mn_link: Link) -> None:
        sim = self.sim
        sim.attach(self.ha, "eth0", self.home)
        sim.attach(self.ha, "eth1", self.core)
        sim.attach(self.rc, "eth0", self.core)
        sim.attach(self.rc, "eth1", self.cnet)
        for r, link in zip(self.foreign_routers, self.foreign):
            sim.attach(r, "eth0", self.core)
            sim.attach(r, "eth1", link)
        sim.attach(self.cn, "eth0", self.cnet)
        sim.attach(self.mn, "eth0", mn_link)

    def events(self, node: str, cls) -> list:
        return [n for _, name, n in self.sim.timeline if name == node and isinstance(n, cls)]

    def binding_cache(self, now: int) -> list[dict]:
        """The home agent's bindings at the end: home address, care-of address, seconds left."""
        entries = []
        for key, b in sorted(self.ha.cache.items(), key=lambda kv: str(kv[0])):
            entries.append({"home_address": str(key), "care_of_address": str(b.care_of_address),
                            "sequence": b.sequence, "remaining_s": max(0, (b.expires_ns - now) // NS_PER_S)})
        return entries

    def common(self, name: str, seed: int) -> dict:
        sim = self.sim
        return {
            "scenario": name,
            "seed": seed,
            "home_address": str(HOME_ADDRESS),
            "registrations": len(self.events("mn", Registered)),
            "refreshes": len(self.events("mn", BindingRefreshed)),
            "ha_bindings_created": len(self.events("ha", BindingCreated)),
            "ha_bindings_deleted": len(self.events("ha", BindingDeleted)),
            "binding_cache": self.binding_cache(sim.now),
            "ha": {k: v for k, v in sorted(self.ha.counters.items())},
            "mn": {k: v for k, v in sorted(self.mn.counters.items())},
            "links": {n: dict(sorted(link.counters.items())) for n, link in sim.links.items()},
            "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
            "timeline": sim.timeline_lines(),
        }


def first_registration(seed: int = 1, pcap_dir: str | None = None) -> dict:
    return run_mip6("first-registration", seed, pcap_dir)[1]


def _first_registration(seed: int, pcap_dir: str | None) -> tuple[_Mip6World, dict]:
    """The mobile node starts on a foreign link, registers with its home agent (RFC 6275 §11.7.1,
    §10.3.1) with a 60 s lifetime and refreshes before expiry; the correspondent pings the home
    address: the requests reach the mobile node through the home agent's tunnel (§10.4.1) and the
    replies come back through the mobile node's reverse tunnel (§11.3.1)."""
    sim = Simulator(seed, pcap_dir)
    world = _Mip6World(sim, lifetime=60, foreign_links=1)
    ping = PingApp(HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=1 * NS_PER_S, count=130)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.run(150 * NS_PER_S)
    return world, {**world.common("first-registration", seed),
            "ba_status": {k: v for k, v in sorted(world.ha.counters.items()) if k.startswith("ba.status.")},
            "ping": ping.summary()}


def handover(seed: int = 1, pcap_dir: str | None = None) -> dict:
    return run_mip6("handover", seed, pcap_dir)[1]


def _handover(seed: int, pcap_dir: str | None) -> tuple[_Mip6World, dict]:
    """The mobile node registers from foreign link A, then moves to foreign link B at 30 s while the
    correspondent streams UDP to its home address (50 packets/s through the home agent's tunnel).
    Movement detection (a new prefix, then NUD of the old router failing) and the new registration
    make the handover gap; packets the home agent tunnels to the old care-of address meanwhile are
    lost."""
    sim = Simulator(seed, pcap_dir)
    world = _Mip6World(sim, lifetime=600, foreign_links=2)
    move_at = 30 * NS_PER_S
    sender = StreamApp(5001, dst=HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=20 * MS, count=2500)
    receiver = StreamApp(5001)
    world.cn.attach(sender)
    world.mn.attach(receiver)
    with sim:
        world.start(world.foreign[0])
        sim.schedule(move_at, lambda s: s.move(world.mn, "eth0", world.foreign[1]))
        sim.run(70 * NS_PER_S)
    before = sorted(t for t in receiver.arrivals.values() if t <= move_at)
    after = sorted(t for t in receiver.arrivals.values() if t > move_at)
    gap_ns = (after[0] - before[-1]) if before and after else None
    seqs = sorted(receiver.arrivals)
    lost_seqs = sorted(set(range(sender.sent)) - set(seqs))
    return world, {**world.common("handover", seed),
            "move_at_ms": move_at // MS,
            "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
            "delivered_before_move": len(before),
            "delivered_after_move": len(after),
            "handover_gap_ms": None if gap_ns is None else round(gap_ns / MS, 3),
            "lost_sequence_range": [lost_seqs[0], lost_seqs[-1]] if lost_seqs else None}


def return_home(seed: int = 1, pcap_dir: str | None = None) -> dict:
    return run_mip6("return-home", seed, pcap_dir)[1]


def _return_home(seed: int, pcap_dir: str | None) -> tuple[_Mip6World, dict]:
    """The mobile node registers from a foreign link, then moves back to the home link at 40 s: it
    de-registers (RFC 6275 §11.5.5), the home agent deletes the binding and stops proxying
    (§10.3.2), and the correspondent's pings to the home address keep being answered, natively."""
    sim = Simulator(seed, pcap_dir)
    world = _Mip6World(sim, lifetime=600, foreign_links=1)
    move_at = 40 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=500 * MS, count=140)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        tunnelled_at_move = {}
        sim.schedule(move_at, lambda s: (tunnelled_at_move.update(tunnelled=world.ha.counters["tunnelled"]),
                                         s.move(world.mn, "eth0", world.home)))
        sim.run(85 * NS_PER_S)
    received_after = sum(1 for seq, t in ping.sent.items() if t >= move_at and seq in ping.rtts)
    sent_after = sum(1 for t in ping.sent.values() if t >= move_at)
    return world, {**world.common("return-home", seed),
            "move_at_ms": move_at // MS,
            "ping": ping.summary(),
            "pings_after_move": {"sent": sent_after, "received": received_after},
            "tunnelled_at_move": tunnelled_at_move.get("tunnelled", 0),
            "tunnelled_at_end": world.ha.counters["tunnelled"],
            "proxied_at_end": sorted(str(a) for a in world.ha.nd["eth0"].proxies
                                     if a not in world.ha.anycast)}


def run_mip6(name: str, seed: int = 1, pcap_dir: str | None = None) -> tuple[_Mip6World, dict]:
    """A Mobile IPv6 scenario with its world (the nodes, links and the notification timeline) as well as
    its summary, for tests that look at the notifications themselves."""
    runner = {"first-registration": _first_registration, "handover": _handover, "return-home": _return_home}[name]
    return runner(seed, pcap_dir)


SCENARIOS: dict[str, tuple[str, Callable[..., dict]]] = {
    "basic-routing": ("two hosts on two links behind one router: SLAAC, a ping stream and a UDP stream",
                      basic_routing),
    "router-failover": ("two routers, the one in use fails at 20 s; NUD moves the traffic to the other",
                        router_failover),
    "first-registration": (("a mobile node on a foreign link registers with its home agent, refreshes, and "
                            "answers pings to its home address through the tunnel"), first_registration),
    "handover": (("a mobile node moves between two foreign links during a UDP stream to its home address; "
                  "reports the handover gap and losses"), handover),
    "return-home": ("a registered mobile node returns home, de-registers, and keeps answering pings natively",
                    return_home),
}


def run_scenario(name: str, seed: int = 1, pcap_dir: str | None = None) -> dict:
    try:
        _, func = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    return func(seed=seed, pcap_dir=pcap_dir)
