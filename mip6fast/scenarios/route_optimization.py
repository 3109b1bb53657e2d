"""Route optimisation scenarios (RFC 6275 §11.3, §11.7.2): a flow that leaves the home agent's tunnel
for the direct path (and follows a move), a correspondent that reboots and loses the binding, and a
correspondent without Mobile IPv6 that refuses it. Return routability (§5.2, §11.6) authorises every
binding, as both roles do by default: the Home Test Init and Home Test cross the home agent's tunnel,
the Care-of Test Init and Care-of Test go directly; ``return_routability`` in each summary counts them.
The attacks on it are ``rr_attack.py``."""
from __future__ import annotations

from ..apps import PingApp, StreamApp
from ..roles import Interface
from ..roles.correspondent import BindingErrorSent, CorrespondentConfig, CorrespondentNode
from ..roles.mobile_node import HomeAddressConfig, MobileNode, MobileNodeConfig
from ..roles.route_optimization import (
    ALWAYS,
    RouteOptimisationStarted,
    RouteOptimisationStopped,
    RouteOptimizationConfig,
)
from ..sim import NS_PER_S, Simulator
from .registry import scenario
from .world import CN_ADDRESS, CN_MAC, HA_ADDRESS, HOME_ADDRESS, MN_MAC, MS, Mip6World

__all__ = ["correspondent_reboot", "correspondent_without_mobility", "route_optimisation"]


def _world(sim: Simulator, foreign_links: int, ro: RouteOptimizationConfig,
           cn_config: CorrespondentConfig | None = None) -> Mip6World:
    """The shared topology with a mobile node that has a route-optimisation policy (and optionally
    another correspondent configuration); the nodes are replaced before anything is attached."""
    world = Mip6World(sim, lifetime=600, foreign_links=foreign_links)
    world.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                          config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),),
                                                  lifetime=600, route_optimization=ro), spd=world.mn_spd)
    if cn_config is not None:
        world.cn = CorrespondentNode("cn", [Interface("eth0", CN_MAC)], rng=sim.rng_for("cn"), config=cn_config)
    return world


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / MS, 3)


def _timed(world: Mip6World, node: str, cls) -> list:
    return [(t, n) for t, name, n in world.sim.timeline if name == node and isinstance(n, cls)]


def _ro_events(world: Mip6World) -> dict:
    return {
        "started": [{"at_ms": _ms(t), "care_of": str(n.care_of), "lifetime": n.lifetime}
                    for t, n in _timed(world, "mn", RouteOptimisationStarted)],
        "stopped": [{"at_ms": _ms(t), "reason": n.reason, "hold_down_until_ms": _ms(n.hold_down_until)}
                    for t, n in _timed(world, "mn", RouteOptimisationStopped)],
    }


def _return_routability(world: Mip6World) -> dict:
    """Return routability in figures: the mobile node's tests and tokens, the correspondent's answers."""
    mn, cn = world.mn.counters, world.cn.counters
    return {
        "mn_hoti_sent": mn["mn.rr.hoti_sent"], "mn_coti_sent": mn["mn.rr.coti_sent"],
        "mn_hot_accepted": mn["mn.rr.hot_accepted"], "mn_cot_accepted": mn["mn.rr.cot_accepted"],
        "mn_home_token_reused": mn["mn.rr.home_token_reused"],
        "mn_care_of_token_reused": mn["mn.rr.care_of_token_reused"],
        "mn_reruns": sum(mn[f"mn.rr.rerun.{s}"] for s in (136, 137, 138)),
        "cn_hot_sent": cn["rr.hot_sent"], "cn_cot_sent": cn["rr.cot_sent"],
        "cn_bu_authorised": cn["bu.rr_authorised"],
    }


def _paths(world: Mip6World) -> dict:
    """Packets of the flows by path: through the home agent's tunnel or route-optimised."""
    mn = world.mn.counters
    return {
        "cn_to_mn_via_tunnel": world.ha.counters["tunnelled"],
        "mn_to_cn_via_tunnel": world.ha.counters["detunnelled"],
        "cn_to_mn_direct_rh2": mn["mn.ro.rh2_received"],
        "mn_to_cn_direct_hao": mn["mn.ro.hao_sent"],
        "cn_rh2_inserted": world.cn.counters["rh2.inserted"],
        "cn_hao_swapped": world.cn.counters["hao.swapped"],
    }


@scenario(
    "route-optimisation",
    "a correspondent pings a mobile node's home address; after 10 tunnelled packets the mobile node "
    "runs return routability, binds at the correspondent and the flow goes direct (RH2 / HAO), then "
    "follows a move (a care-of test only)")
def route_optimisation(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node registers from foreign link A; the correspondent pings its home address every
    100 ms from 10 s. The policy optimises after 10 packets through the tunnel (RFC 6275 §11.7.2):
    return routability (a Home Test Init through the tunnel, a Care-of Test Init directly, §11.6),
    then a BU from the care-of address with a Home Address option, Nonce Indices and Binding
    Authorization Data, a BA with its own, and then the requests arrive with a Type 2 routing header
    and the replies leave with a Home Address option, on the direct path; the home agent stops
    tunnelling the flow. The 20 s binding is refreshed before it expires (the tokens, younger than
    210 s, are reused). At 30 s the node moves to link B: after its home registration from B it runs
    the care-of test alone and sends the correspondent a new BU."""
    sim = Simulator(seed, pcap_dir)
    world = _world(sim, 2, RouteOptimizationConfig(default=10, lifetime=20))
    move_at = 30 * NS_PER_S
    ping = PingApp(HOME_ADDRESS, start_ns=10 * NS_PER_S, interval_ns=100 * MS, count=450)
    world.cn.attach(ping)
    snapshots: dict[str, dict] = {}
    with sim:
        world.start(world.foreign[0])
        sim.schedule(move_at - 1, lambda s: snapshots.update(before_move=_paths(world)))
        sim.schedule(move_at, lambda s: s.move(world.mn, "eth0", world.foreign[1]))
        sim.run(60 * NS_PER_S)
    started = _timed(world, "mn", RouteOptimisationStarted)
    first_ro = started[0][0] if started else None
    rtt_tunnel = [ping.rtts[s] for s, t in ping.sent.items() if s in ping.rtts and first_ro and t < first_ro]
    rtt_direct = [ping.rtts[s] for s, t in ping.sent.items()
                  if s in ping.rtts and first_ro and first_ro < t < move_at]
    moved_ro = [t for t, _ in started if t > move_at]
    return world, {**world.common("route-optimisation", seed),
                   "move_at_ms": _ms(move_at),
                   "route_optimisation": _ro_events(world),
                   "return_routability": _return_routability(world),
                   "ro_after_move_ms": _ms(moved_ro[0] - move_at) if moved_ro else None,
                   "paths": _paths(world),
                   "paths_before_move": snapshots.get("before_move"),
                   "ping": ping.summary(),
                   "rtt_ms": {"tunnel_avg": _ms(sum(rtt_tunnel) // len(rtt_tunnel)) if rtt_tunnel else None,
                              "direct_avg": _ms(sum(rtt_direct) // len(rtt_direct)) if rtt_direct else None},
                   "cn_bindings": {str(k): str(v) for k, v in world.cn.bindings().items()},
                   "cn": dict(sorted(world.cn.counters.items()))}


@scenario(
    "correspondent-reboot",
    "a route-optimised correspondent reboots and loses its binding and its nonces: Binding Error, back "
    "to the tunnel, after the hold-down a BU on the old tokens draws 138, return routability again")
def correspondent_reboot(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The mobile node streams UDP to the correspondent (50 packets/s from 5 s), route-optimised from
    its registration on (policy "always" for this correspondent). At 20 s the correspondent reboots and
    forgets the binding: the next packet with a Home Address option draws a Binding Error status 1
    (RFC 6275 §9.3.1); the mobile node removes the entry, sends through the tunnel (§11.3.6) and after a
    5 s hold-down binds again. Its keygen tokens are still fresh, but the reboot lost the nonces they
    came from: the BU is answered with status 138 (§9.5.1), and the node runs both tests again before
    the BU that binds (§11.7.3)."""
    sim = Simulator(seed, pcap_dir)
    hold_down = 5 * NS_PER_S
    world = _world(sim, 1, RouteOptimizationConfig(peers={CN_ADDRESS: ALWAYS}, hold_down_ns=hold_down))
    reboot_at = 20 * NS_PER_S
    sender = StreamApp(5002, dst=CN_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=20 * MS, count=1750)
    receiver = StreamApp(5002)
    world.mn.attach(sender)
    world.cn.attach(receiver)
    with sim:
        world.start(world.foreign[0])
        sim.schedule(reboot_at, lambda s: world.cn.reboot(s.now))
        sim.run(45 * NS_PER_S)
    started = [t for t, _ in _timed(world, "mn", RouteOptimisationStarted)]
    stopped = _timed(world, "mn", RouteOptimisationStopped)
    errors = [t for t, n in _timed(world, "cn", BindingErrorSent) if n.status == 1]
    fell_back = stopped[0][0] if stopped else None
    again = [t for t in started if fell_back is not None and t > fell_back]
    lost = sorted(set(range(sender.sent)) - set(receiver.arrivals))
    return world, {**world.common("correspondent-reboot", seed),
                   "reboot_at_ms": _ms(reboot_at),
                   "hold_down_ms": _ms(hold_down),
                   "route_optimisation": _ro_events(world),
                   "return_routability": _return_routability(world),
                   "first_binding_error_ms": _ms(errors[0]) if errors else None,
                   "binding_errors_sent": len(errors),
                   "fallback_after_reboot_ms": _ms(fell_back - reboot_at) if fell_back else None,
                   "reoptimised_after_fallback_ms": _ms(again[0] - fell_back) if again else None,
                   "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
                   "lost_sequences": lost,
                   "paths": _paths(world),
                   "cn": dict(sorted(world.cn.counters.items()))}


@scenario(
    "correspondent-without-mobility",
    "a correspondent without Mobile IPv6 answers return routability's test inits with Parameter "
    "Problem; the mobile node gives up route optimisation with it and the flow stays in the tunnel")
def correspondent_without_mobility(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The correspondent does not implement Mobile IPv6 (``mobility_support=False``). The mobile node
    streams UDP to it (50 packets/s from 5 s) through the reverse tunnel; after 5 tunnelled packets
    its policy starts return routability. The correspondent answers the Care-of Test Init (and the
    Home Test Init, through the tunnel) with ICMPv6 Parameter Problem code 1 pointing at the next
    header naming the Mobility Header (RFC 8200 §4, RFC 6275 §11.6.2); no BU is ever sent. The mobile
    node marks the peer "no route optimisation" for the hold-down (60 s, longer than the run) and the
    stream goes on through the tunnel without a loss."""
    sim = Simulator(seed, pcap_dir)
    world = _world(sim, 1, RouteOptimizationConfig(default=5), CorrespondentConfig(mobility_support=False))
    sender = StreamApp(5003, dst=CN_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=20 * MS, count=1000)
    receiver = StreamApp(5003)
    world.mn.attach(sender)
    world.cn.attach(receiver)
    with sim:
        world.start(world.foreign[0])
        sim.run(30 * NS_PER_S)
    return world, {**world.common("correspondent-without-mobility", seed),
                   "route_optimisation": _ro_events(world),
                   "return_routability": _return_routability(world),
                   "bus_to_correspondent": world.mn.counters["mn.ro.bu_sent"],
                   "parameter_problems_sent": world.cn.counters["icmp_error.ParameterProblem"],
                   "stream": {"sent": sender.sent, **receiver.summary(sent=sender.sent)},
                   "paths": _paths(world),
                   "cn": dict(sorted(world.cn.counters.items()))}
