"""Discovery scenarios: home agent failover found by DHAAD, DHAAD load sharing between home agents of
equal preference, and home network renumbering announced by Mobile Prefix Advertisements (RFC 6275
§10.5, §10.6, §11.4).

Protection: home-renumbering's registrations are ESP-protected like the other Mip6World scenarios (the
new home address is keyed in advance). ha-failover and dhaad-load-sharing are about which home agent a
mobile node finds by DHAAD: their home agents accept unprotected registrations (manual keying would
need every node keyed with every agent; dynamic keying, RFC 4877, is not implemented)."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from ..apps import PingApp, StreamApp
from ..roles import AdvertisingConfig, Interface, Router, slaac_address
from ..roles.correspondent import CorrespondentNode
from ..roles.home_agent import BindingCreated, HomeAgent, HomeAgentConfig
from ..roles.mobile_node import (
    HomeAddressConfig,
    HomeAddressWithdrawn,
    HomeAgentChanged,
    HomeAgentDiscovered,
    HomePrefixChanged,
    MobileNode,
    MobileNodeConfig,
    Registered,
)
from ..sim import NS_PER_S, Link, Simulator
from ..wire import HomeAgentInformation, PrefixInformation
from .registry import scenario
from .world import CN_PREFIX, FOREIGN_A, HOME_ADDRESS, HOME_PREFIX, MN_MAC, MS, Mip6World, mac

__all__ = ["dhaad_load_sharing", "ha_failover", "home_renumbering"]

HOME_ROUTER_CORE = IPv6Address("2001:db8:ff::3")
HOME_ROUTER_HOME = IPv6Address("2001:db8:1::fe")
NEW_HOME_PREFIX = IPv6Network("2001:db8:2::/64")


def home_agent_address(n: int) -> IPv6Address:
    return IPv6Address(int(HOME_PREFIX.network_address) + 0x10 + n)


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / MS, 3)


def _timed(sim: Simulator, node: str, cls) -> list[tuple[int, object]]:
    """(time, notification) of ``node``'s notifications of type ``cls``."""
    return [(t, n) for t, name, n in sim.timeline if name == node and isinstance(n, cls)]


class DiscoveryWorld:
    """A home link served by several home agents, none of them a router to the rest of the network:

    - ``home`` link: home agents ``ha1``..``haN`` (one interface each, RAs with the H flag, the Home
      Agent Information option with their preference and an R-flag prefix holding their address, so
      they list each other, §10.5.1) and the home router ``rh`` (no RAs), which forwards the home
      prefix on-link: traffic for a home address reaches whichever home agent answers neighbour
      discovery for it (proxy ND, §10.4.1), and a DHAAD Request the one answering for the anycast
      address;
    - ``core`` link: ``rh``, the core router ``rc`` (also on the correspondent's link ``cnet``) and
      the foreign router ``ra`` with the foreign link ``fa`` behind it;
    - ``cn``: a ``CorrespondentNode``; ``mns``: mobile nodes on ``fa`` with no home agent configured
      (they use DHAAD, §11.4.1)."""

    def __init__(self, sim: Simulator, preferences: tuple[int, ...], mobile_nodes: int, lifetime: int,
                 max_bindack_timeout: int = 32 * NS_PER_S):
        self.sim = sim
        self.home = Link("home", delay_ns=200_000)
        self.core = Link("core", delay_ns=1 * MS)
        self.cnet = Link("cnet", delay_ns=200_000)
        self.fa = Link("fa", delay_ns=200_000)
        self.rh = Router("rh", [Interface("eth0", mac(0x20)), Interface("eth1", mac(0x21))], rng=sim.rng_for("rh"))
        self.rh.interfaces["eth0"].add_address(HOME_ROUTER_CORE, 64)
        self.rh.interfaces["eth1"].add_address(HOME_ROUTER_HOME, 64)
        self.rh.add_route("::/0", "eth0", "2001:db8:ff::2")
        self.rc = Router("rc", [Interface("eth0", mac(0x22)), Interface("eth1", mac(0x23))], rng=sim.rng_for("rc"))
        self.rc.interfaces["eth0"].add_address("2001:db8:ff::2", 64)
        self.rc.interfaces["eth1"].add_address("2001:db8:c::1", 64)
        self.rc.add_route(HOME_PREFIX, "eth0", HOME_ROUTER_CORE)
        self.rc.add_route(FOREIGN_A, "eth0", "2001:db8:ff::a")
        self.rc.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(CN_PREFIX.network_address, 64)],
                                                    max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S))
        self.ra = Router("ra", [Interface("eth0", mac(0x24)), Interface("eth1", mac(0x25))], rng=sim.rng_for("ra"))
        self.ra.interfaces["eth0"].add_address("2001:db8:ff::a", 64)
        self.ra.interfaces["eth1"].add_address(FOREIGN_A.network_address + 1, 64)
        self.ra.add_route("::/0", "eth0", "2001:db8:ff::2")
        self.ra.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(FOREIGN_A.network_address, 64)],
                                                    max_interval=1 * NS_PER_S, advertisement_interval_option=True,
                                                    min_delay_between_ras=30 * MS))
        self.has: list[HomeAgent] = []
        for n, preference in enumerate(preferences, start=1):
            address = home_agent_address(n)
            # RAs every 1-2 s (§7.5 allows far less) so the agents have listed each other before the
            # mobile nodes ask; the Home Agent Information option carries the preference (§7.4).
            advertising = AdvertisingConfig(
                prefixes=[PrefixInformation(address, 64, router_address=True)], max_interval=2 * NS_PER_S,
                min_interval=1 * NS_PER_S, advertisement_interval_option=True, router_lifetime=0,
                home_agent=HomeAgentInformation(preference, 1800))
            ha = HomeAgent(f"ha{n}", [Interface("eth0", mac(0x30 + n))],
                           HomeAgentConfig("eth0", (HOME_PREFIX,), address, preference=preference),
                           rng=sim.rng_for(f"ha{n}"), advertising=advertising)
            ha.add_route("::/0", "eth0", HOME_ROUTER_HOME)
            self.has.append(ha)
        self.cn = CorrespondentNode("cn", [Interface("eth0", mac(0x41))], rng=sim.rng_for("cn"))
        self.mns: list[MobileNode] = []
        for i in range(mobile_nodes):
            m = MN_MAC if i == 0 else mac(0x100 + i)
            self.mns.append(MobileNode(
                f"mn{i}", [Interface("eth0", m)], rng=sim.rng_for(f"mn{i}"),
                config=MobileNodeConfig("eth0", (HomeAddressConfig(slaac_address(HOME_PREFIX, m)),),
                                        lifetime=lifetime, max_bindack_timeout=max_bindack_timeout)))

    def start(self, mn_at: int) -> None:
        """Plug everything in; the mobile nodes' interfaces come up on ``fa`` at ``mn_at``."""
        sim = self.sim
        sim.attach(self.rh, "eth0", self.core)
        sim.attach(self.rh, "eth1", self.home)
        sim.attach(self.rc, "eth0", self.core)
        sim.attach(self.rc, "eth1", self.cnet)
        sim.attach(self.ra, "eth0", self.core)
        sim.attach(self.ra, "eth1", self.fa)
        for ha in self.has:
            sim.attach(ha, "eth0", self.home)
        sim.attach(self.cn, "eth0", self.cnet)
        for mn in self.mns:
            sim.schedule(mn_at, lambda s, mn=mn: s.attach(mn, "eth0", self.fa))

    def events(self, node: str, cls) -> list[tuple[int, object]]:
        return _timed(self.sim, node, cls)

    def common(self, name: str, seed: int) -> dict:
        sim = self.sim
        return {
            "scenario": name,
            "seed": seed,
            "home_agents": {ha.name: {"address": str(ha.config.address), "preference": ha.config.preference,
                                      "bindings": len(ha.cache),
                                      "bindings_created": len(self.events(ha.name, BindingCreated)),
                                      "dhaad_replies": ha.counters["dhaad.replies"],
                                      "home_agents_list": sorted(str(e.address) for e in ha.home_agents.values())}
                            for ha in self.has},
            "mn": dict(sorted(self.mns[0].counters.items())),
            "links": {n: dict(sorted(link.counters.items())) for n, link in sim.links.items()},
            "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
            "timeline": sim.timeline_lines(),
        }


@scenario(
    "ha-failover",
    "two home agents on the home link; the mobile node finds them by DHAAD, registers with the first, "
    "which fails; it re-registers with the second and a UDP stream resumes; reports the outage")
def ha_failover(seed: int, pcap_dir: str | None) -> tuple[DiscoveryWorld, dict]:
    """``ha1`` (preference 10) and ``ha2`` (preference 0) serve the home link; the mobile node has no
    home agent configured: its DHAAD Request from the care-of address to the Home-Agents anycast address
    is answered with [ha1, ha2] (§10.5), it registers with ha1 (30 s lifetime) and the correspondent
    streams UDP to its home address (20 packets/s). At 20 s ha1 fails (its interface is unplugged). The
    node notices when its refresh goes unanswered: with MAX_BINDACK_TIMEOUT shortened to 4 s (virtual
    time kept short) the BU is retransmitted after 1 s, 2 s and 4 s, and when that one also goes
    unanswered for 4 s ha1 counts as not answering (the §11.8 schedule is used up) and the node
    registers with ha2, the next on the list (§11.4.1). ha2's DAD for
    the home address and its proxy NA (§10.4.1) take the home address's traffic over."""
    sim = Simulator(seed, pcap_dir)
    world = DiscoveryWorld(sim, preferences=(10, 0), mobile_nodes=1, lifetime=30, max_bindack_timeout=4 * NS_PER_S)
    mn = world.mns[0]
    home = mn.home_addresses[0]
    fail_at = 20 * NS_PER_S
    sender = StreamApp(5001, dst=home, start_ns=8 * NS_PER_S, interval_ns=50 * MS, count=1040)
    receiver = StreamApp(5001)
    world.cn.attach(sender)
    mn.attach(receiver)
    ha1, ha2 = world.has
    with sim:
        world.start(mn_at=4 * NS_PER_S)
        sim.schedule(fail_at, lambda s: s.detach(ha1, "eth0"))
        sim.run(60 * NS_PER_S)
    discovered = world.events("mn0", HomeAgentDiscovered)
    registrations = world.events("mn0", Registered)
    changes = world.events("mn0", HomeAgentChanged)
    reregistered_at = next((t for t, _ in registrations if t > fail_at), None)
    changed_at = changes[0][0] if changes else None
    before = sorted(t for t in receiver.arrivals.values() if t <= fail_at)
    after = sorted(t for t in receiver.arrivals.values() if t > fail_at)
    lost_after_failure = sum(1 for seq in range(sender.sent) if seq not in receiver.arrivals
                             and seq * sender.interval_ns + sender.start_ns > fail_at - 50 * MS)
    return world, {**world.common("ha-failover", seed),
                   "home_address": str(home),
                   "discovered": [[str(a) for a in n.home_agents] for _, n in discovered],
                   "registered_with": [str(ha1.config.address)] * bool(world.events("ha1", BindingCreated))
                   + [str(ha2.config.address)] * bool(world.events("ha2", BindingCreated)),
                   "fail_at_ms": fail_at // MS,
                   "home_agent_changed": [{"at_ms": _ms(t), "old": str(n.old), "new": str(n.new),
                                           "reason": n.reason} for t, n in changes],
                   "first_registered_at_ms": _ms(registrations[0][0]) if registrations else None,
                   "detected_after_ms": None if changed_at is None else _ms(changed_at - fail_at),
                   "outage_ms": None if reregistered_at is None else _ms(reregistered_at - fail_at),
                   "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
                   "stream_gap_ms": _ms(after[0] - before[-1]) if before and after else None,
                   "lost_after_failure": lost_after_failure,
                   "delivered_after_failure": len(after),
                   "ha2_tunnelled": ha2.counters["tunnelled"]}


@scenario(
    "dhaad-load-sharing",
    "three home agents, two of equal preference: twelve mobile nodes find them by DHAAD and spread "
    "over the two, none on the lower-preference one; reports the distribution")
def dhaad_load_sharing(seed: int, pcap_dir: str | None) -> tuple[DiscoveryWorld, dict]:
    """ha1 and ha2 advertise preference 5, ha3 preference 0. Twelve mobile nodes on the foreign link
    send DHAAD Requests; whichever agent answers the anycast address lists the agents by decreasing
    preference with equal preferences in a random order per reply (§10.5.1), so each node registers
    with ha1 or ha2 and ha3 gets nobody while those answer. The correspondent pings every home address."""
    sim = Simulator(seed, pcap_dir)
    world = DiscoveryWorld(sim, preferences=(5, 5, 0), mobile_nodes=12, lifetime=120)
    pings = []
    for i, mn in enumerate(world.mns):
        # Staggered, so the correspondent's neighbour discovery queue (3 packets, RFC 4861 §7.2.2)
        # does not drop the first requests while it resolves its router.
        ping = PingApp(mn.home_addresses[0], start_ns=12 * NS_PER_S + i * 40 * MS, interval_ns=500 * MS,
                       count=10, identifier=0x2000 + i)
        world.cn.attach(ping)
        pings.append(ping)
    with sim:
        world.start(mn_at=4 * NS_PER_S)
        sim.run(20 * NS_PER_S)
    lists = [n.home_agents for mn in world.mns for _, n in world.events(mn.name, HomeAgentDiscovered)]
    by_agent = {ha.name: len(world.events(ha.name, BindingCreated)) for ha in world.has}
    first_choice = {str(a): sum(1 for lst in lists if lst[0] == a) for a in (ha.config.address for ha in world.has)}
    return world, {**world.common("dhaad-load-sharing", seed),
                   "mobile_nodes": len(world.mns),
                   "registered": sum(1 for mn in world.mns if world.events(mn.name, Registered)),
                   "distribution": by_agent,
                   "first_in_reply": first_choice,
                   "replies": [[str(a) for a in lst] for lst in lists],
                   "pings": {"sent": sum(len(p.sent) for p in pings), "received": sum(len(p.rtts) for p in pings)}}


@scenario(
    "home-renumbering",
    "the home prefix changes: the home agent sends unsolicited Mobile Prefix Advertisements, the "
    "mobile node forms and registers its new home address, then the old prefix is withdrawn")
def home_renumbering(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node is registered from a foreign link. At 20 s the home network is renumbered: the
    old home prefix is deprecated (preferred lifetime 0, valid 40 s) and the new prefix 2001:db8:2::/64
    added on the home agent (RAs, Home-Agents anycast, accepted home subnet; the core router routes it
    there); each change goes to the registered mobile node in an unsolicited Mobile Prefix
    Advertisement (§10.6.2). The node forms the new home address with the same interface identifier,
    registers it, and acknowledges the advertisements with BUs (§11.4.3); the old home address's
    binding is now cut to the prefix's lifetime, and its nearing end makes the node solicit (§11.4.2).
    At 45 s the old prefix is withdrawn (valid lifetime 0): the node stops using the old home address.
    The correspondent pings the old address from 10 s and the new one from 25 s."""
    sim = Simulator(seed, pcap_dir)
    new_home = IPv6Address(int(NEW_HOME_PREFIX.network_address) | (int(HOME_ADDRESS) & ((1 << 64) - 1)))
    # Manual keying: the new home address's SAs are provisioned before the renumbering.
    world = Mip6World(sim, lifetime=120, foreign_links=1, more_keyed_homes=(new_home,))
    mn, ha = world.mn, world.ha
    renumber_at, withdraw_at = 20 * NS_PER_S, 45 * NS_PER_S
    old_ping = PingApp(HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=500 * MS, count=100, identifier=0x3001)
    new_ping = PingApp(new_home, start_ns=25 * NS_PER_S, interval_ns=500 * MS, count=70, identifier=0x3002)
    world.cn.attach(old_ping)
    world.cn.attach(new_ping)

    def renumber(s: Simulator) -> None:
        now = s.now
        world.rc.add_route(NEW_HOME_PREFIX, "eth0", "2001:db8:ff::1")
        # sim._process hands an entry point's Output to the links, as for any event.
        s._process(ha, ha.set_home_prefix_lifetimes(now, now + 40 * NS_PER_S, now, prefixes=(HOME_PREFIX,)))
        s._process(ha, ha.add_home_prefix(now, NEW_HOME_PREFIX))

    def withdraw(s: Simulator) -> None:
        s._process(ha, ha.set_home_prefix_lifetimes(s.now, s.now, s.now, prefixes=(HOME_PREFIX,)))

    with sim:
        world.start(world.foreign[0])
        sim.schedule(renumber_at, renumber)
        sim.schedule(withdraw_at, withdraw)
        sim.run(60 * NS_PER_S)
    changes = _timed(sim, "mn", HomePrefixChanged)
    added = [(t, n) for t, n in changes if n.added]
    new_registered_at = next((t for t, n in _timed(sim, "mn", Registered) if n.home_address == new_home), None)
    withdrawn = _timed(sim, "mn", HomeAddressWithdrawn)
    old_after = [seq for seq, t in old_ping.sent.items() if t > withdraw_at + 1 * NS_PER_S]
    return world, {**world.common("home-renumbering", seed),
                   "new_home_address": str(new_home),
                   "renumber_at_ms": renumber_at // MS,
                   "withdraw_at_ms": withdraw_at // MS,
                   "home_prefix_changes": [{"at_ms": _ms(t), "home_address": str(n.home_address),
                                            "prefix": str(n.prefix), "valid_lifetime": n.valid_lifetime,
                                            "preferred_lifetime": n.preferred_lifetime, "added": n.added}
                                           for t, n in changes],
                   "new_address_formed_after_ms": _ms(added[0][0] - renumber_at) if added else None,
                   "new_address_registered_after_ms": None if new_registered_at is None
                   else _ms(new_registered_at - renumber_at),
                   "old_address_withdrawn_after_ms": _ms(withdrawn[0][0] - withdraw_at) if withdrawn else None,
                   "home_addresses_at_end": [str(a) for a in mn.home_addresses],
                   "mps_sent": mn.counters["mn.mps.sent"],
                   "mpa": {"solicited": mn.counters["mn.mpa.solicited"],
                           "unsolicited": mn.counters["mn.mpa.unsolicited"],
                           "ha_unsolicited_sent": ha.counters["mpa.sent_unsolicited"],
                           "ha_solicited_sent": ha.counters["mpa.sent"]},
                   "ping_old": old_ping.summary(),
                   "ping_old_answered_after_withdrawal": sum(1 for s in old_after if s in old_ping.rtts),
                   "ping_new": new_ping.summary()}
