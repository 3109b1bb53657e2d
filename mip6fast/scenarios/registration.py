"""Home registration scenarios: first registration and refresh, a handover under a stream, returning
home (RFC 6275 §10.3, §11.5, §11.7)."""
from __future__ import annotations

from ..apps import PingApp, StreamApp
from ..sim import NS_PER_S, Simulator
from .registry import scenario
from .world import HOME_ADDRESS, MS, Mip6World

__all__ = ["first_registration", "handover", "return_home"]


@scenario(
    "first-registration",
    "a mobile node on a foreign link registers with its home agent, refreshes, and answers "
    "pings to its home address through the tunnel")
def first_registration(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node starts on a foreign link, registers with its home agent (RFC 6275 §11.7.1,
    §10.3.1) with a 60 s lifetime and refreshes before expiry; the correspondent pings the home
    address: the requests reach the mobile node through the home agent's tunnel (§10.4.1) and the
    replies come back through the mobile node's reverse tunnel (§11.3.1)."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    ping = PingApp(HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=1 * NS_PER_S, count=130)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.run(150 * NS_PER_S)
    return world, {**world.common("first-registration", seed),
            "ba_status": {k: v for k, v in sorted(world.ha.counters.items()) if k.startswith("ba.sent.status.")},
            "ping": ping.summary()}


@scenario(
    "handover",
    "a mobile node moves between two foreign links during a UDP stream to its home address; "
    "reports the handover gap and losses")
def handover(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from foreign link A, then moves to foreign link B at 30 s while the
    correspondent streams UDP to its home address (50 packets/s through the home agent's tunnel).
    Movement detection (a new prefix, then NUD of the old router failing) and the new registration
    make the handover gap; packets the home agent tunnels to the old care-of address meanwhile are
    lost."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
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


@scenario(
    "return-home",
    "a registered mobile node returns home, de-registers, and keeps answering pings natively")
def return_home(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from a foreign link, then moves back to the home link at 40 s: it
    de-registers (RFC 6275 §11.5.5), the home agent deletes the binding and stops proxying
    (§10.3.2), and the correspondent's pings to the home address keep being answered, natively."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
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
