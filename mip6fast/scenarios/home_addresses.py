"""Home addresses and home agents: two home addresses on two home links, a virtual home link, and a
mobile node that reboots (RFC 6275 §10.3.1, §10.4.1, §11.5.5, §11.7.1, §11.7.3).

``WireWatch`` is a passive port on every link (a switch's mirror port): it parses each frame it sees
and records the Mobility Header messages and the neighbour discovery messages about the home
addresses, so the scenarios can state what did, and did not, cross any link."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from ..apps import PingApp
from ..binding_cache import sequence_newer
from ..errors import ParseError
from ..roles import Interface, slaac_address
from ..roles.events import Output
from ..roles.home_agent import HomeAgent, HomeAgentConfig
from ..roles.mobile_node import (
    BindingRefreshed,
    Deregistered,
    HomeAddressConfig,
    MobileNode,
    MobileNodeConfig,
    Registered,
)
from ..roles.protection import CaptureKeys, manual_pair
from ..security import SecurityPolicyDatabase
from ..sim import NS_PER_S, Link, Simulator
from ..wire import (
    BindingAcknowledgement,
    BindingUpdate,
    NeighborAdvertisement,
    NeighborSolicitation,
    parse,
)
from ..wire.ethernet import ETHERTYPE_IPV6
from .registry import scenario
from .world import FOREIGN_A, FOREIGN_B, HA_ADDRESS, HOME_ADDRESS, HOME_PREFIX, MN_MAC, MS, Mip6World, mac

__all__ = ["WireWatch", "mn_reboot", "two_home_agents", "virtual_home_link"]

HOME2_PREFIX = IPv6Network("2001:db8:2::/64")
HA2_ADDRESS = IPv6Address("2001:db8:2::1")
HA2_CORE = IPv6Address("2001:db8:ff::3")
HOME_ADDRESS2 = slaac_address(HOME2_PREFIX, MN_MAC)
COA_A = slaac_address(FOREIGN_A, MN_MAC)
COA_B = slaac_address(FOREIGN_B, MN_MAC)


# ---------------------------------------------------------------- a passive watch on every link

@dataclass(frozen=True)
class WireEvent:
    """One message seen on a link: ``kind`` is BU, BA, NS or NA; ``sequence``/``status`` for BU and
    BA; ``target`` and ``src`` for NS/NA (``src`` :: for a DAD probe)."""
    at: int
    link: str
    kind: str
    src: IPv6Address
    dst: IPv6Address
    sequence: int | None = None
    status: int | None = None
    target: IPv6Address | None = None
    home_address: IPv6Address | None = None

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, IPv6Address) else v) for k, v in vars(self).items()
                if v is not None}


class WireWatch:
    """A node-shaped listener with one port per link: it never transmits, it records (a mirror port
    does not take part in neighbour discovery). ``attach`` plugs it into links, before the nodes so it
    sees their first frames; frames it cannot parse are counted, not raised. ``keys``: the SAs' keys,
    so that it reads protected signalling too (a tap configured with them, like Wireshark's ESP
    preferences)."""

    def __init__(self, name: str = "watch", keys: CaptureKeys | None = None):
        self.name = name
        self.keys = keys
        self.interfaces: dict[str, Interface] = {}
        self.events: list[WireEvent] = []
        self.frames = 0
        self.unparsed = 0
        self._links: dict[str, str] = {}        # port -> link name

    def attach(self, sim: Simulator, links) -> None:
        for link in links:
            n = len(self.interfaces)
            port = f"p{n}"
            self.interfaces[port] = Interface(port, mac(0x7F00 + n))
            sim.attach(self, port, link)
            self._links[port] = link.name

    # The entry points the simulator calls (docs/ROLES.md); nothing is ever sent.
    def link_changed(self, now: int, interface: str, up: bool) -> Output:
        return Output()

    def tick(self, now: int) -> Output:
        return Output()

    def receive(self, now: int, interface: str, frame) -> Output:
        frame = bytes(frame)
        self.frames += 1
        if len(frame) < 54 or int.from_bytes(frame[12:14], "big") != ETHERTYPE_IPV6:
            return Output()
        raw = frame[14:] if self.keys is None else self.keys.open(frame[14:])
        try:
            packet = parse(raw)
        except ParseError:
            self.unparsed += 1
            return Output()
        msg = packet.payload
        link = self._links.get(interface, interface)
        common = {"at": now, "link": link, "src": packet.src, "dst": packet.dst}
        if isinstance(msg, BindingUpdate):
            self.events.append(WireEvent(kind="BU", sequence=msg.sequence,
                                         home_address=packet.home_address or packet.src, **common))
        elif isinstance(msg, BindingAcknowledgement):
            self.events.append(WireEvent(kind="BA", sequence=msg.sequence, status=msg.status,
                                         home_address=packet.rh2 or packet.dst, **common))
        elif isinstance(msg, (NeighborSolicitation, NeighborAdvertisement)):
            kind = "NS" if isinstance(msg, NeighborSolicitation) else "NA"
            self.events.append(WireEvent(kind=kind, target=msg.target, **common))
        return Output()

    def of(self, kind: str, **match) -> list[WireEvent]:
        return [e for e in self.events if e.kind == kind
                and all(getattr(e, k) == v for k, v in match.items())]


def _pings(ping: PingApp, start: int, end: int) -> dict:
    """Pings sent in [start, end) and how many of them were answered."""
    sent = [seq for seq, t in ping.sent.items() if start <= t < end]
    return {"sent": len(sent), "received": sum(1 for seq in sent if seq in ping.rtts)}


def _bindings(world: Mip6World, ha: HomeAgent) -> list[dict]:
    now = world.sim.now
    return [{"home_address": str(key), "care_of_address": str(b.care_of_address), "sequence": b.sequence,
             "remaining_s": max(0, (b.expires_ns - now) // NS_PER_S)}
            for key, b in sorted(ha.cache.items(), key=lambda kv: str(kv[0]))]


def _registrations(world: Mip6World, node: str = "mn") -> list[dict]:
    return [{"at_ms": t // MS, "home_address": str(n.home_address), "care_of": str(n.care_of),
             "refresh": isinstance(n, BindingRefreshed)}
            for t, name, n in world.sim.timeline
            if name == node and isinstance(n, (Registered, BindingRefreshed))]


# ---------------------------------------------------------------- two home agents

def _second_home(world: Mip6World) -> tuple[Link, HomeAgent]:
    """A second home link ``home2`` (2001:db8:2::/64) whose router is home agent ``ha2``, on the core
    link beside ``ha``; the core router and both home agents route each other's home prefix."""
    home2 = Link("home2", delay_ns=200_000)
    # Home address 2's registrations are protected too: its SAs join the mobile node's database.
    spd = None
    if world.mn_spd is not None:
        mn_sas, ha_sas = manual_pair(HOME_ADDRESS2, HA2_ADDRESS, world.sim.rng_for("keys2"),
                                     capture=world.capture_keys)
        spd = SecurityPolicyDatabase(ha_sas)
        for sa in mn_sas:
            world.mn_spd.add(sa)
    ha2 = HomeAgent("ha2", [Interface("eth0", mac(0x50)), Interface("eth1", mac(0x51))],
                    HomeAgentConfig("eth0", (HOME2_PREFIX,), HA2_ADDRESS), rng=world.sim.rng_for("ha2"), spd=spd)
    ha2.interfaces["eth1"].add_address(HA2_CORE, 64)
    ha2.add_route("::/0", "eth1", "2001:db8:ff::2")
    ha2.add_route(HOME_PREFIX, "eth1", "2001:db8:ff::1")
    world.ha.add_route(HOME2_PREFIX, "eth1", HA2_CORE)
    world.rc.add_route(HOME2_PREFIX, "eth0", HA2_CORE)
    for n, prefix in enumerate((FOREIGN_A, FOREIGN_B)[:len(world.foreign)]):
        ha2.add_route(prefix, "eth1", f"2001:db8:ff::{0xa + n:x}")
    return home2, ha2


@scenario(
    "two-home-agents",
    "a mobile node with two home addresses on two home links, each with its home agent: both "
    "registered from a foreign link, at home for one while registered away for the other, then away again")
def two_home_agents(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """Home address 1 on ``home`` (home agent ``ha``), home address 2 on ``home2`` (``ha2``). The
    mobile node starts on foreign link A and registers both (one binding update list entry per home
    address); the correspondent pings both home addresses, through both tunnels. At 20 s the node
    moves to ``home``: it is at home for home address 1 (de-registers it with ``ha``, answers for it
    itself, RFC 6275 §11.5.5) and still away for home address 2, which it registers with ``ha2`` using
    home address 1 as care-of address. At 40 s it moves to foreign link B and registers both again."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
    home2, ha2 = _second_home(world)
    world.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                          config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),
                                                           HomeAddressConfig(HOME_ADDRESS2, HA2_ADDRESS)),
                                                  lifetime=600), spd=world.mn_spd)
    to_home, to_b, end = 20 * NS_PER_S, 40 * NS_PER_S, 60 * NS_PER_S
    pings = {HOME_ADDRESS: PingApp(HOME_ADDRESS, start_ns=6 * NS_PER_S, interval_ns=500 * MS, count=108,
                                   identifier=1),
             HOME_ADDRESS2: PingApp(HOME_ADDRESS2, start_ns=6 * NS_PER_S + 250 * MS, interval_ns=500 * MS,
                                    count=108, identifier=2)}
    for ping in pings.values():
        world.cn.attach(ping)
    tunnelled: dict[str, dict[str, int]] = {}

    def snapshot(label: str) -> None:
        tunnelled[label] = {"ha": world.ha.counters["tunnelled"], "ha2": ha2.counters["tunnelled"]}

    watch = WireWatch(keys=world.capture_keys)
    with sim:
        watch.attach(sim, (world.home, home2, world.core, world.cnet, *world.foreign))
        sim.attach(ha2, "eth0", home2)
        sim.attach(ha2, "eth1", world.core)
        world.start(world.foreign[0])
        sim.schedule(to_home, lambda s: (snapshot("at_move_home"), s.move(world.mn, "eth0", world.home)))
        sim.schedule(to_b, lambda s: (snapshot("at_move_b"), s.move(world.mn, "eth0", world.foreign[1])))
        sim.run(end)
        snapshot("at_end")
    phases = (("foreign_a", 0, to_home), ("home1", to_home, to_b), ("foreign_b", to_b, end))
    return world, {
        **world.common("two-home-agents", seed),
        "home_addresses": [str(HOME_ADDRESS), str(HOME_ADDRESS2)],
        "moves_ms": {"home1": to_home // MS, "foreign_b": to_b // MS},
        "mn_registrations": _registrations(world),
        "deregistered": [{"at_ms": t // MS, "home_address": str(n.home_address)}
                         for t, n in ((t, n) for t, name, n in sim.timeline
                                      if name == "mn" and isinstance(n, Deregistered))],
        "ping": {str(a): {**p.summary(), **{name: _pings(p, s, e) for name, s, e in phases}}
                 for a, p in pings.items()},
        "tunnelled": tunnelled,
        "binding_cache_ha2": _bindings(world, ha2),
        # The binding updates and acknowledgements on home link 1 (BU: home_address = the HAO, or the
        # source without one; BA: home_address = the RH2 address, or the destination without one).
        "home_link_signalling": [e.as_dict() for e in watch.events
                                 if e.link == world.home.name and e.kind in ("BU", "BA")],
        "ha2": dict(sorted(ha2.counters.items())),
    }


# ---------------------------------------------------------------- a virtual home link

def _virtual_home_agent(world: Mip6World) -> HomeAgent:
    """``world.ha`` again, with a virtual home link (RFC 6275 §10.1, §10.4.1): its home interface is a
    port alone on its link (what a dummy interface is), with no RAs, no proxy neighbour discovery and no
    DAD for home addresses -- nothing can be on a home link that does not exist."""
    ha = HomeAgent("ha", [Interface("eth0", mac(0x30)), Interface("eth1", mac(0x31))],
                   HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS, virtual_home_link=True),
                   rng=world.sim.rng_for("ha"), spd=world.ha_spd)
    ha.interfaces["eth1"].add_address("2001:db8:ff::1", 64)
    ha.add_route("::/0", "eth1", "2001:db8:ff::2")
    for n, prefix in enumerate((FOREIGN_A, FOREIGN_B)[:len(world.foreign)]):
        ha.add_route(prefix, "eth1", f"2001:db8:ff::{0xa + n:x}")
    return ha


@scenario(
    "virtual-home-link",
    "a home agent with a virtual home link: the mobile node is always away, registers, refreshes and "
    "moves; no proxy NA or DAD for the home address on any link")
def virtual_home_link(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The home agent's home prefix is on a virtual home link (its eth0 is alone on ``home``). The
    mobile node starts on foreign link A, registers (no DAD at the home agent, so the BA comes at once),
    refreshes its 24 s binding, moves to foreign link B at 30 s and registers the new care-of address;
    the correspondent's pings to the home address are tunnelled throughout. A watch on every link
    records any NS or NA about the home address: there must be none (§10.4.1 has nothing to defend)."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=24, foreign_links=2)
    world.ha = _virtual_home_agent(world)
    move_at, end = 30 * NS_PER_S, 60 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=500 * MS, count=110)
    world.cn.attach(ping)
    watch = WireWatch(keys=world.capture_keys)
    with sim:
        watch.attach(sim, (world.home, world.core, world.cnet, *world.foreign))
        world.start(world.foreign[0])
        sim.schedule(move_at, lambda s: s.move(world.mn, "eth0", world.foreign[1]))
        sim.run(end)
    first_bu = next(e for e in watch.of("BU") if e.dst == HA_ADDRESS)
    first_ba = next(e for e in watch.of("BA") if e.src == HA_ADDRESS)
    about_home = [e.as_dict() for e in watch.events
                  if e.kind in ("NS", "NA") and e.target == HOME_ADDRESS]
    return world, {
        **world.common("virtual-home-link", seed),
        "move_at_ms": move_at // MS,
        "mn_registrations": _registrations(world),
        "first_registration_ms": round((first_ba.at - first_bu.at) / MS, 3),
        "ping": {**ping.summary(), "before_move": _pings(ping, 0, move_at), "after_move": _pings(ping, move_at, end)},
        "home_address_nd_on_links": about_home,
        "nd_seen": {kind: len(watch.of(kind)) for kind in ("NS", "NA")},
        "dad_probes_seen": sorted({str(e.target) for e in watch.of("NS") if e.src == IPv6Address("::")}),
        "ha_ras_sent": world.ha.counters["ra_sent"],
    }


# ---------------------------------------------------------------- a mobile node reboots

@scenario(
    "mn-reboot",
    "a registered mobile node reboots with a random sequence number; the home agent answers the "
    "stale one with status 135 and the last accepted sequence, and the node re-registers with that + 1")
def mn_reboot(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from foreign link A. At 15 s it is switched off (detached) and a fresh
    ``MobileNode`` with the same configuration and MAC boots on the same link at 16 s: it has forgotten
    its binding update list, so its first sequence number is random (RFC 6275 §11.7.1). Its care-of
    address is the same, the home agent still holds the old binding: when the random number is not
    newer than the last accepted one (modulo 2^16, §9.5.1) the BA says 135 with the last accepted
    sequence, and the node's next BU carries that + 1 at once (§11.7.3) and is accepted. The
    correspondent pings the home address throughout."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    off_at, boot_at, end = 15 * NS_PER_S, 16 * NS_PER_S, 30 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=500 * MS, count=50)
    world.cn.attach(ping)
    old = world.mn
    # A distinct node name: the simulator keys nodes and their ticks by name, and the old instance's
    # timers are still pending (a switched-off node whose frames go nowhere).
    # Its ESP SAs resume where they were (as from a stored high-water mark: a manual SA restarting at
    # sequence 1 would be refused as a replay, docs/SECURITY.md); its binding update list is gone.
    rebooted = MobileNode("mn-rebooted", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn-rebooted"),
                          config=old.config, spd=world.mn_spd)
    watch = WireWatch(keys=world.capture_keys)
    at_reboot: dict = {}

    def switch_off(s: Simulator) -> None:
        entry = world.ha.cache.get(HOME_ADDRESS)
        at_reboot.update(ha_sequence=None if entry is None else entry.sequence)
        s.detach(old, "eth0")

    with sim:
        watch.attach(sim, (world.home, world.core, world.cnet, *world.foreign))
        world.start(world.foreign[0])
        sim.schedule(off_at, switch_off)
        sim.schedule(boot_at, lambda s: s.attach(rebooted, "eth0", world.foreign[0]))
        sim.run(end)
    # The binding updates and acknowledgements on the foreign link after the reboot, in order.
    signalling = [e for e in watch.events if e.link == world.foreign[0].name and e.kind in ("BU", "BA")
                  and e.at >= boot_at]
    first_bu = next((e for e in signalling if e.kind == "BU"), None)
    last = at_reboot.get("ha_sequence")
    return world, {
        **world.common("mn-reboot", seed),
        "off_at_ms": off_at // MS,
        "boot_at_ms": boot_at // MS,
        "ha_sequence_at_reboot": last,
        "first_sequence_after_reboot": None if first_bu is None else first_bu.sequence,
        "first_sequence_stale": (None if first_bu is None or last is None
                                 else not sequence_newer(first_bu.sequence, last)),
        "signalling_after_reboot": [{"at_ms": round(e.at / MS, 3), "kind": e.kind, "sequence": e.sequence,
                                     **({"status": e.status} if e.kind == "BA" else {})} for e in signalling],
        "rebooted_registrations": _registrations(world, "mn-rebooted"),
        "rebooted_mn": dict(sorted(rebooted.counters.items())),
        "ping": {**ping.summary(), "before_off": _pings(ping, 0, off_at), "after_boot": _pings(ping, boot_at, end)},
    }
