"""Movement detection scenarios (RFC 6275 §11.5.1): two routers on one link is not movement, a router
that stops advertising is noticed early with the Advertisement Interval option (§7.3), and the home
registration's retransmission rules (§11.8) on a lossy foreign link."""
from __future__ import annotations

import os
from ipaddress import IPv6Network

from ..apps import PingApp, StreamApp
from ..io.pcap import PcapReader
from ..roles import AdvertisingConfig, Interface, Router
from ..roles.mobile_node import (
    BindingRefreshed,
    Deregistered,
    HomeAddressConfig,
    MobileNode,
    MobileNodeConfig,
    Moved,
    Registered,
    ReturnedHome,
)
from ..roles.neighbor import PrefixAdded, RouterOverdue, RouterUnreachable
from ..roles.protection import CaptureKeys
from ..sim import NS_PER_S, Simulator
from ..wire import BindingUpdate, PrefixInformation, parse
from ..wire.ethernet import ETHERTYPE_IPV6, parse_ethernet
from .registry import scenario
from .world import FOREIGN_A, FOREIGN_B, HA_ADDRESS, HOME_ADDRESS, HOME_PREFIX, MN_MAC, MS, Mip6World, mac

__all__ = ["BOOT_HOME_ADDRESS", "FOREIGN_A2", "boot_at_home", "bu_transmissions", "foreign_router_down", "late_ra",
           "lossy_link", "two_routers_one_link"]

# boot-at-home: a configured home address that is not the one SLAAC forms on the home prefix, so the node
# also holds a SLAAC address there (2001:db8:1::ff:fe00:40) when it leaves.
BOOT_HOME_ADDRESS = HOME_PREFIX.network_address + 0x100

# The second router's prefix on foreign link A (two-routers-one-link).
FOREIGN_A2 = IPv6Network("2001:db8:a2::/64")
LATE_RA_MOVE_AT = 40 * NS_PER_S


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / MS, 3)


def _timeline_of(world: Mip6World, node: str, cls) -> list[tuple[int, object]]:
    return [(t, n) for t, name, n in world.sim.timeline if name == node and isinstance(n, cls)]


def bu_transmissions(pcap_path: str, src_mac: bytes = MN_MAC, keys: CaptureKeys | None = None) -> list[tuple[int, int]]:
    """(time in ns, sequence number) of every Binding Update ``src_mac`` put on a link, read back from
    the link's pcap (written before the link's loss decision, so lost BUs are there too); ``keys``
    (the world's ``capture_keys``) opens protected ones."""
    out = []
    with open(pcap_path, "rb") as f:
        for rec in PcapReader(f):
            _dst, src, ethertype, payload = parse_ethernet(rec.data)
            if src != src_mac or ethertype != ETHERTYPE_IPV6:
                continue
            packet = parse(bytes(payload) if keys is None else keys.open(bytes(payload)))
            if isinstance(packet.payload, BindingUpdate):
                out.append((rec.timestamp_ns, packet.payload.sequence))
    return out


def _second_router(world: Mip6World) -> Router:
    """A second router for foreign link A (not attached yet): on the core link as 2001:db8:ff::a2, it
    advertises 2001:db8:a2::/64 on link A like the world's foreign routers (every second, with the
    Advertisement Interval option); the core router routes that prefix to it."""
    sim = world.sim
    second = Router("ra2", [Interface("eth0", mac(0x38)), Interface("eth1", mac(0x39))],
                    rng=sim.rng_for("ra2"))
    second.interfaces["eth0"].add_address("2001:db8:ff::a2", 64)
    second.interfaces["eth1"].add_address(FOREIGN_A2.network_address + 1, 64)
    second.add_route("::/0", "eth0", "2001:db8:ff::2")
    second.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(FOREIGN_A2.network_address, 64)],
                                               max_interval=1 * NS_PER_S, advertisement_interval_option=True,
                                               min_delay_between_ras=30 * MS))
    world.rc.add_route(FOREIGN_A2, "eth0", "2001:db8:ff::a2")
    return second


@scenario(
    "two-routers-one-link",
    "a second router with another prefix appears on the mobile node's foreign link: NUD confirms the "
    "current router, no movement, no new registration; a real move later is still detected")
def two_routers_one_link(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from foreign link A. At 15 s a second router starts advertising another
    prefix (2001:db8:a2::/64) on the same link: the node checks its current router with NUD, finds it
    reachable and concludes that both routers are on one link (RFC 6275 §11.5.1) — no ``Moved``, no
    BU, the correspondent's pings to the home address keep flowing. At 40 s the node really moves to
    foreign link B: that is detected and registered as usual."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
    second = _second_router(world)
    second_at, move_at, end = 15 * NS_PER_S, 40 * NS_PER_S, 55 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=500 * MS, count=70)   # until 39.5 s
    world.cn.attach(ping)
    marks: dict[str, int] = {}

    def second_router_up(s: Simulator) -> None:
        marks["bu_sent_before_second_router"] = world.mn.counters["mn.bu_sent"]
        s.attach(second, "eth0", world.core)
        s.attach(second, "eth1", world.foreign[0])

    def move(s: Simulator) -> None:
        marks["bu_sent_before_move"] = world.mn.counters["mn.bu_sent"]
        s.move(world.mn, "eth0", world.foreign[1])

    with sim:
        world.start(world.foreign[0])
        sim.schedule(second_at, second_router_up)
        sim.schedule(move_at, move)
        sim.run(end)
    moved = _timeline_of(world, "mn", Moved)
    registered = _timeline_of(world, "mn", Registered)
    second_prefix_seen = FOREIGN_A2 in {n.prefix for _, n in _timeline_of(world, "mn", PrefixAdded)}
    return world, {**world.common("two-routers-one-link", seed),
                   "second_router_at_ms": second_at // MS,
                   "move_at_ms": move_at // MS,
                   "second_prefix_seen": second_prefix_seen,
                   "moved": [{"at_ms": _ms(t), "old_coa": str(n.old_coa), "new_coa": str(n.new_coa)}
                             for t, n in moved],
                   "registered_at_ms": [_ms(t) for t, _ in registered],
                   "same_link_new_prefix": world.mn.counters["mn.movement.same_link_new_prefix"],
                   "bu_sent_before_second_router": marks.get("bu_sent_before_second_router"),
                   "bu_sent_before_move": marks.get("bu_sent_before_move"),
                   "ping": ping.summary()}


@scenario(
    "foreign-router-down",
    "two routers with different prefixes on the mobile node's foreign link; the one serving its care-of "
    "address disappears: the node notices, takes a care-of address on the other's prefix and registers it")
def foreign_router_down(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """As ``two-routers-one-link`` up to 10 s (the second router, 2001:db8:a2::/64, is on the link and
    recognised as such). At 30 s the mobile node's router leaves the link (no carrier change for the
    node): its RA is overdue (RFC 6275 §7.3), NUD fails, the other router becomes the default router —
    the same link, not movement — but nothing routes the care-of address's prefix here any more, so
    the node takes its address on 2001:db8:a2::/64 as care-of address and registers it (§11.5.2). The
    correspondent's pings to the home address (5 a second) measure the outage."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    second = _second_router(world)
    down_at, end = 30 * NS_PER_S, 45 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=200 * MS, count=200)   # until 44.8 s

    def second_router_up(s: Simulator) -> None:
        s.attach(second, "eth0", world.core)
        s.attach(second, "eth1", world.foreign[0])

    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.schedule(10 * NS_PER_S, second_router_up)
        sim.schedule(down_at, lambda s: s.detach(world.foreign_routers[0], "eth1"))
        sim.run(end)
    moved = _timeline_of(world, "mn", Moved)
    registered = _timeline_of(world, "mn", Registered)
    lost = [(t, n) for t, n in _timeline_of(world, "mn", RouterUnreachable) if t > down_at]
    answered = sorted(ping.sent[q] for q in ping.rtts)
    after = [t for t in answered if t > down_at]
    before = [t for t in answered if t <= down_at]
    return world, {**world.common("foreign-router-down", seed),
                   "router_down_at_ms": down_at // MS,
                   "moved": [{"at_ms": _ms(t), "old_coa": str(n.old_coa), "new_coa": str(n.new_coa)}
                             for t, n in moved],
                   "registered_at_ms": [_ms(t) for t, _ in registered],
                   "router_lost_after_down_ms": _ms(lost[0][0] - down_at) if lost else None,
                   "router_lost_reason": lost[0][1].reason if lost else None,
                   "same_link_new_prefix": world.mn.counters["mn.movement.same_link_new_prefix"],
                   "care_of_prefix_lost": world.mn.counters["mn.movement.care_of_prefix_lost"],
                   "ping": ping.summary(),
                   "ping_outage_ms": _ms(after[0] - before[-1]) if before and after else None}


def _late_ra_run(seed: int, pcap_dir: str | None, option: bool) -> tuple[Mip6World, dict]:
    """One run of ``late-ra``: foreign router A advertises every 0.75-1 s (router lifetime 30 s, with or
    without the Advertisement Interval option); foreign router B advertises rarely (every 90-120 s once
    past its initial RAs) but answers solicitations at once (RFC 6275 §7.5 lets it). At 40 s the mobile
    node is moved to link B without a carrier change."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
    ra, rb = world.foreign_routers
    ra.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(FOREIGN_A.network_address, 64)],
                                           max_interval=1 * NS_PER_S, router_lifetime=30,
                                           advertisement_interval_option=option, min_delay_between_ras=30 * MS))
    rb.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(FOREIGN_B.network_address, 64)],
                                           max_interval=120 * NS_PER_S, min_interval=90 * NS_PER_S,
                                           advertisement_interval_option=option, min_delay_between_ras=30 * MS))
    move_at, end = LATE_RA_MOVE_AT, 80 * NS_PER_S
    sender = StreamApp(5001, dst=HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=50 * MS, count=1400)
    receiver = StreamApp(5001)
    world.cn.attach(sender)
    world.mn.attach(receiver)
    with sim:
        world.start(world.foreign[0])
        sim.schedule(move_at, lambda s: s.move(world.mn, "eth0", world.foreign[1], carrier_change=False))
        sim.run(end)
    moved = [(t, n) for t, n in _timeline_of(world, "mn", Moved) if t > move_at]
    registered = [t for t, _ in _timeline_of(world, "mn", Registered) if t > move_at]
    overdue = [t for t, n in _timeline_of(world, "mn", RouterOverdue) if t > move_at]
    lost = [(t, n.reason) for t, n in _timeline_of(world, "mn", RouterUnreachable) if t > move_at]
    moved_at = moved[0][0] if moved else None
    run = {
        "advertisement_interval_option": option,
        "moved": [{"at_ms": _ms(t), "old_coa": str(n.old_coa), "new_coa": str(n.new_coa)} for t, n in moved],
        "first_overdue_after_move_ms": _ms(overdue[0] - move_at) if overdue else None,
        "router_lost_after_move_ms": _ms(lost[0][0] - move_at) if lost else None,
        "router_lost_reason": lost[0][1] if lost else None,
        "detection_ms": _ms(moved_at - move_at) if moved_at is not None else None,
        "registered_after_move_ms": _ms(registered[0] - move_at) if registered else None,
        "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
        "router_solicitations": world.mn.counters["mn.tx.RouterSolicitation"],
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
    }
    return world, run


@scenario(
    "late-ra",
    "the mobile node is moved to another link without a carrier change: with the Advertisement Interval "
    "option it notices the overdue RA, solicits and probes; compared with the same run without it")
def late_ra(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """Two runs, identical but for the Advertisement Interval option (RFC 6275 §7.3) in the routers' RAs.
    With it, the mobile node notices about a second after the move that its router's RA is overdue,
    sends a Router Solicitation (the new router answers at once) and probes the old router with NUD
    (§11.5.1): it has moved about 4 s after the move. Without it nothing tells the node before the old
    router's 30 s lifetime runs out (the new router's next unsolicited RA is further away still)."""
    runs = {}
    world = None
    for option in (True, False):
        sub = None if pcap_dir is None else os.path.join(pcap_dir, "with-option" if option else "without-option")
        w, run = _late_ra_run(seed, sub, option)
        runs["with_option" if option else "without_option"] = run
        if option:
            world = w
    assert world is not None
    with_opt, without = runs["with_option"]["detection_ms"], runs["without_option"]["detection_ms"]
    return world, {**world.common("late-ra", seed),
                   "move_at_ms": LATE_RA_MOVE_AT // MS,
                   **runs,
                   "detection_ms": {"with_option": with_opt, "without_option": without},
                   "pcaps": runs["with_option"]["pcaps"] + runs["without_option"]["pcaps"]}


@scenario(
    "lossy-link",
    "30% frame loss on the foreign link: the home registration still completes; BU retransmissions "
    "follow RFC 6275 §11.8 (1.5 s, doubling to 32 s, a new sequence number each, at most 3/s)")
def lossy_link(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node starts on foreign link A, which loses 30% of its frames (both ways, the link's
    seeded RNG), with a 40 s binding lifetime so refreshes happen too. Every BU the node sent is read
    back from the link's pcap and grouped into attempts (an attempt ends with the acceptance the node
    reports): the summary lists each attempt's BU times and sequence numbers, for the test to check the
    first-registration timeout (1.5 s), the refresh timeout (1 s), the doubling and the 32 s cap."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=40, foreign_links=1)
    world.foreign[0].loss = 0.3
    end = 120 * NS_PER_S
    with sim:
        world.start(world.foreign[0])
        sim.run(end)
    accepted = sorted([t for t, _ in _timeline_of(world, "mn", Registered)]
                      + [t for t, _ in _timeline_of(world, "mn", BindingRefreshed)])
    bus = bu_transmissions(world.foreign[0].pcap_path, keys=world.capture_keys) if world.foreign[0].pcap_path else []
    attempts: list[dict] = []
    current: list[tuple[int, int]] = []
    acc = iter(accepted)
    next_accept = next(acc, None)
    for t, seq in bus:
        while next_accept is not None and next_accept < t:
            if current:
                attempts.append({"accepted_at_ms": _ms(next_accept), "bus": current})
                current = []
            next_accept = next(acc, None)
        current.append((t, seq))
    if current:
        attempts.append({"accepted_at_ms": _ms(next_accept), "bus": current})
    summary_attempts = [{"accepted_at_ms": a["accepted_at_ms"],
                         "sent_at_ms": [_ms(t) for t, _ in a["bus"]],
                         "sequence": [s for _, s in a["bus"]],
                         "intervals_ms": [_ms(b[0] - a_[0]) for a_, b in zip(a["bus"], a["bus"][1:])]}
                        for a in attempts]
    first = _timeline_of(world, "mn", Registered)
    return world, {**world.common("lossy-link", seed),
                   "loss": world.foreign[0].loss,
                   "first_registered_at_ms": _ms(first[0][0]) if first else None,
                   "bu_sent": world.mn.counters["mn.bu_sent"],
                   "bu_retransmitted": world.mn.counters["mn.bu_retransmitted"],
                   "bu_rate_limited": world.mn.counters["mn.bu_rate_limited"],
                   "bus_in_pcap": len(bus),
                   "attempts": summary_attempts}


@scenario(
    "boot-at-home",
    "a mobile node boots on its home link (a configured home address beside its SLAAC address there), "
    "then leaves for a foreign link and comes back, twice: it registers from each foreign link, "
    "de-registers at home; reports the registrations and the ping gaps of each move")
def boot_at_home(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node's home address is configured (2001:db8:1::100) and it boots on the home link,
    where SLAAC also gives it 2001:db8:1::ff:fe00:40. At 10 s it moves to foreign link A, at 30 s back
    home, at 45 s to foreign link B, at 65 s home again. On each move the old link's addresses and
    on-link prefixes go (RFC 6275 §11.5.1, RFC 4861 §5.2, RFC 5942 §4) -- the SLAAC address from the
    home link must not keep the home prefix, and the home agent, on-link on the foreign link -- so the
    node registers from A and from B and de-registers each time it is back (§11.5.5). The
    correspondent pings the home address 5 times a second throughout; each move's gap is the time
    from the last reply before it to the first after."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2, more_keyed_homes=(BOOT_HOME_ADDRESS,))
    world.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                          config=MobileNodeConfig("eth0", (HomeAddressConfig(BOOT_HOME_ADDRESS, HA_ADDRESS),),
                                                  lifetime=600),
                          spd=world.mn_spd)
    moves = [(10 * NS_PER_S, "fa", world.foreign[0]), (30 * NS_PER_S, "home", world.home),
             (45 * NS_PER_S, "fb", world.foreign[1]), (65 * NS_PER_S, "home", world.home)]
    end = 80 * NS_PER_S
    ping = PingApp(BOOT_HOME_ADDRESS, start_ns=3 * NS_PER_S, interval_ns=200 * MS, count=384)   # until 79.8 s
    world.cn.attach(ping)
    with sim:
        world.start(world.home)
        for at, _name, link in moves:
            sim.schedule(at, lambda s, link=link: s.move(world.mn, "eth0", link))
        sim.run(end)
    replies = sorted(ping.sent[seq] + rtt for seq, rtt in ping.rtts.items())
    gaps = []
    for at, name, _link in moves:
        before = [t for t in replies if t <= at]
        after = [t for t in replies if t > at]
        gaps.append({"at_ms": at // MS, "to": name,
                     "gap_ms": _ms(after[0] - before[-1]) if before and after else None})
    return world, {**world.common("boot-at-home", seed),
                   "home_address": str(BOOT_HOME_ADDRESS),
                   "moves": gaps,
                   "registered_at_ms": [_ms(t) for t, _ in _timeline_of(world, "mn", Registered)],
                   "deregistered_at_ms": [_ms(t) for t, _ in _timeline_of(world, "mn", Deregistered)],
                   "returned_home_at_ms": [_ms(t) for t, _ in _timeline_of(world, "mn", ReturnedHome)],
                   "moved": [{"at_ms": _ms(t), "old_coa": str(n.old_coa), "new_coa": str(n.new_coa)}
                             for t, n in _timeline_of(world, "mn", Moved)],
                   "old_addresses_removed": world.mn.counters["mn.movement.old_address_removed"],
                   "addresses_at_end": sorted(str(a) for a in world.mn.iface.addresses),
                   "ping": ping.summary()}
