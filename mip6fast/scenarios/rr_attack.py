"""The rr-attack scenario (issue 12): an off-path attacker tries to get bindings from a correspondent that
authorises them with return routability (RFC 6275 §5.2, §9.5.1, §15.4)."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from ipaddress import IPv6Address

from ..apps import PingApp
from ..errors import ParseError
from ..roles import Interface
from ..roles.correspondent import BindingCreated, BindingUpdated
from ..roles.mobile_node import HomeAddressConfig, MobileNode, MobileNodeConfig
from ..roles.route_optimization import (
    ALWAYS,
    RouteOptimisationStarted,
    RouteOptimisationStopped,
    RouteOptimizationConfig,
)
from ..sim import NS_PER_S, Simulator
from ..wire import (
    AlternateCareOfAddress,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    NonceIndices,
    Packet,
    parse,
)
from ..wire.return_routability import add_binding_authorization, binding_management_key
from .hijack import Attacker, Tap
from .registry import scenario
from .world import CN_ADDRESS, CN_PREFIX, HA_ADDRESS, HOME_ADDRESS, MN_MAC, MS, Mip6World, mac

__all__ = ["rr_attack"]

THIRD_PARTY = CN_PREFIX.network_address + 0x99      # a bystander the attacker would flood (§15.4.2)


def _bu_to_the_correspondent(raw: bytes) -> bool:
    """The Binding Updates to the correspondent (what the replay attempts resend)."""
    if raw[24:40] != CN_ADDRESS.packed:
        return False
    try:
        return isinstance(parse(raw).payload, BindingUpdate)
    except ParseError:
        return False


class ReturnRoutabilityAttacker(Attacker):
    """The hijack scenario's attacker, keeping the Home and Care-of Tests the correspondent sends it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.home_tests: list[HomeTest] = []
        self.care_of_tests: list[CareOfTest] = []

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        if isinstance(packet.payload, HomeTest):
            self.home_tests.append(packet.payload)
        elif isinstance(packet.payload, CareOfTest):
            self.care_of_tests.append(packet.payload)
        super().deliver(now, raw, packet)


@scenario(
    "rr-attack",
    "an off-path attacker tries to bind a victim's home address to itself and its own home address to a "
    "third party at a correspondent using return routability (no or forged authorisation, its own "
    "tokens for other addresses, the victim's BUs replayed before and after the nonces expire): zero "
    "bindings, every attempt counted")
def rr_attack(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The victim registers from foreign link A and binds at the correspondent ("always", return
    routability); the correspondent pings its home address throughout, route-optimised. From foreign
    link B an attacker (a plain host) sends, from 10 s, one attempt every 2 s, each ending in a Binding
    Update (or a Home Test Init) to the correspondent:

    - ``no_authorization``: a BU for the victim's home address from the attacker, without Nonce Indices
      or Binding Authorization Data;
    - ``guessed_home_token``: a Home Test Init spoofed from the victim's home address (its Home Test
      goes to the victim, through its home agent), a Care-of Test Init from the attacker (its Care-of
      Test comes back), then a BU for the victim's home address signed with the care-of token and a
      guessed home token;
    - ``own_tokens_for_victim``: both tests from the attacker's own address, the tokens used for the
      victim's home address;
    - ``third_party_care_of``: the attacker's own address as home address (its home test answered) and a
      bystander's address as care-of address (an Alternate Care-of Address option, the care-of token
      guessed: the bystander's Care-of Test never reaches the attacker);
    - ``replayed_from_attacker``: a BU of the victim's, sniffed on its link, sent from the attacker's
      address;
    - ``test_init_with_hao``: a Home Test Init carrying a Home Address option for the victim;
    - ``replayed_before_expiry`` / ``replayed_after_expiry``: the victim's sniffed BU verbatim, at 20 s
      and 30 s (its nonces still known: the stale sequence number draws 135, to the victim) and at 260 s
      and 270 s (the nonces, made at ~3 s, expired at ~243 s: 138, to the victim).

    The correspondent binds none of it and counts every attempt; the victim's binding stays with its
    care-of address and its pings go on route-optimised."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
    world.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                          config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),),
                                                  lifetime=600,
                                                  route_optimization=RouteOptimizationConfig(
                                                      peers={CN_ADDRESS: ALWAYS})),
                          spd=world.mn_spd)
    attacker = ReturnRoutabilityAttacker("attacker", [Interface("eth0", mac(0x66))], rng=sim.rng_for("attacker"))
    tap = Tap("tap", mac(0x7E01), _bu_to_the_correspondent)
    rng = sim.rng_for("rr-attack")
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=500 * MS, count=560)
    world.cn.attach(ping)
    attempts: Counter[str] = Counter()

    def send(s: Simulator, packet: Packet) -> None:
        s.send(attacker, packet.to_bytes())

    def tests_from(s: Simulator, home: IPv6Address, care_of: IPv6Address) -> None:
        send(s, Packet(src=home, dst=CN_ADDRESS, payload=HomeTestInit(rng.randbytes(8))))
        send(s, Packet(src=care_of, dst=CN_ADDRESS, payload=CareOfTestInit(rng.randbytes(8))))

    def signed_bu(home: IPv6Address, care_of: IPv6Address, home_token: bytes, care_of_token: bytes,
                  indices: NonceIndices, options=()) -> BindingUpdate:
        bu = BindingUpdate(rng.randrange(1 << 16), 420, ack=True, options=(*options, indices))
        return add_binding_authorization(bu, binding_management_key(home_token, care_of_token), care_of,
                                         CN_ADDRESS)

    def prepare(s: Simulator, kind: str) -> None:
        """The tests an attempt needs answered first (200 ms before its BU)."""
        own = attacker.address
        if own is None:
            return
        if kind == "guessed_home_token":
            tests_from(s, HOME_ADDRESS, own)
        elif kind in ("own_tokens_for_victim", "third_party_care_of"):
            tests_from(s, own, own)

    def attempt(s: Simulator, kind: str) -> None:
        own = attacker.address
        if own is None:
            return
        cot = attacker.care_of_tests[-1] if attacker.care_of_tests else None
        hot = attacker.home_tests[-1] if attacker.home_tests else None
        if kind == "no_authorization":
            msg = BindingUpdate(rng.randrange(1 << 16), 420, ack=True)
            packet = Packet(src=own, dst=CN_ADDRESS, home_address=HOME_ADDRESS, payload=msg)
        elif kind == "guessed_home_token":
            if cot is None:
                return
            msg = signed_bu(HOME_ADDRESS, own, rng.randbytes(8), cot.keygen_token,
                            NonceIndices(cot.nonce_index, cot.nonce_index))
            packet = Packet(src=own, dst=CN_ADDRESS, home_address=HOME_ADDRESS, payload=msg)
        elif kind == "own_tokens_for_victim":
            if cot is None or hot is None:
                return
            msg = signed_bu(HOME_ADDRESS, own, hot.keygen_token, cot.keygen_token,
                            NonceIndices(hot.nonce_index, cot.nonce_index))
            packet = Packet(src=own, dst=CN_ADDRESS, home_address=HOME_ADDRESS, payload=msg)
        elif kind == "third_party_care_of":
            if cot is None or hot is None:
                return
            msg = signed_bu(own, THIRD_PARTY, hot.keygen_token, cot.keygen_token,
                            NonceIndices(hot.nonce_index, cot.nonce_index),
                            options=(AlternateCareOfAddress(THIRD_PARTY),))
            packet = Packet(src=own, dst=CN_ADDRESS, home_address=own, payload=msg)
        elif kind == "replayed_from_attacker":
            if not tap.captured:
                return
            packet = replace(parse(tap.captured[0]), src=own)
        elif kind == "test_init_with_hao":
            packet = Packet(src=own, dst=CN_ADDRESS, home_address=HOME_ADDRESS,
                            payload=HomeTestInit(rng.randbytes(8)))
        elif kind in ("replayed_before_expiry", "replayed_after_expiry"):
            if not tap.captured:
                return
            attempts[kind] += 1
            s.send(attacker, tap.captured[0])           # verbatim: the victim's addresses
            return
        else:
            raise ValueError(kind)
        attempts[kind] += 1
        send(s, packet)

    kinds = ("no_authorization", "guessed_home_token", "own_tokens_for_victim", "third_party_care_of",
             "replayed_from_attacker", "test_init_with_hao")
    with sim:
        sim.attach(tap, "p0", world.foreign[0])
        world.start(world.foreign[0])
        sim.attach(attacker, "eth0", world.foreign[1])
        for n in range(60):
            kind = kinds[n % len(kinds)]
            at = 10 * NS_PER_S + n * 2 * NS_PER_S
            sim.schedule(at - 200 * MS, lambda s, k=kind: prepare(s, k))
            sim.schedule(at, lambda s, k=kind: attempt(s, k))
        for at in (20, 30):
            sim.schedule(at * NS_PER_S + 1 * MS, lambda s: attempt(s, "replayed_before_expiry"))
        for at in (260, 270):
            sim.schedule(at * NS_PER_S + 1 * MS, lambda s: attempt(s, "replayed_after_expiry"))
        sim.run(285 * NS_PER_S)
    victim_care_of = world.mn.care_of
    foreign = [(str(n.home_address), str(n.care_of_address)) for _, name, n in sim.timeline
               if name == "cn" and isinstance(n, (BindingCreated, BindingUpdated))
               and (n.home_address != HOME_ADDRESS or n.care_of_address != victim_care_of)]
    cn = world.cn.counters
    refused = {k: v for k, v in sorted(cn.items()) if k.startswith(("drop.bu.", "drop.hao.test_init"))}
    victim = world.mn.counters
    started = [t for t, name, n in sim.timeline if name == "mn" and isinstance(n, RouteOptimisationStarted)]
    stopped = [n.reason for _, name, n in sim.timeline if name == "mn" and isinstance(n, RouteOptimisationStopped)]
    return world, {
        **world.common("rr-attack", seed),
        "attempts": dict(sorted(attempts.items())),
        "attempts_total": sum(attempts.values()),
        "successes": len(foreign) + sum(1 for home in world.cn.bindings() if home != HOME_ADDRESS),
        "foreign_bindings": foreign,
        "answers_to_attacker": dict(sorted(attacker.answers.items())),
        "refused_at_correspondent": refused,
        "refused_total": sum(refused.values()),
        "correspondent_bindings": {str(k): str(v) for k, v in world.cn.bindings().items()},
        "victim_care_of": None if victim_care_of is None else str(victim_care_of),
        "victim_route_optimisation": {"started_ms": [round(t / MS, 3) for t in started], "stopped": stopped},
        "victim_drops": {k: v for k, v in sorted(victim.items()) if k.startswith(("drop.mn.rr.", "drop.mn.ro."))},
        "ping": ping.summary(),
        "ping_direct": world.mn.counters["mn.ro.rh2_received"],
        "cn": dict(sorted(cn.items())),
    }
