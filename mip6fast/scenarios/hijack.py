"""The hijack-attempt scenario (issue 11): an attacker on a foreign link tries to take home addresses
from a home agent that protects home registrations with ESP (RFC 6275 §5.1, RFC 3776)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from ipaddress import IPv6Address

from ..apps import PingApp
from ..roles import Host, Interface
from ..roles.events import Output
from ..roles.home_agent import BindingCreated, BindingUpdated
from ..roles.mobile_node import Registered
from ..security import is_protected
from ..sim import NS_PER_S, Simulator
from ..wire import AlternateCareOfAddress, BindingAcknowledgement, BindingUpdate, Packet
from ..wire.ethernet import ETHERTYPE_IPV6
from .registry import scenario
from .world import HA_ADDRESS, HOME_ADDRESS, HOME_PREFIX, MS, Mip6World, mac

__all__ = ["hijack_attempt", "run_unprotected_takeover"]

UNREGISTERED = HOME_PREFIX.network_address + 0x99      # a home address nobody registered


class Tap:
    """A node-shaped listener on a link (a mirror port): it keeps the raw IPv6 packets ``keep`` accepts,
    as an attacker who can sniff the victim's link would."""

    def __init__(self, name: str, mac_address: bytes, keep: Callable[[bytes], bool]):
        self.name = name
        self.interfaces = {"p0": Interface("p0", mac_address)}
        self.captured: list[bytes] = []
        self._keep = keep

    def link_changed(self, now: int, interface: str, up: bool) -> Output:
        return Output()

    def tick(self, now: int) -> Output:
        return Output()

    def receive(self, now: int, interface: str, frame) -> Output:
        frame = bytes(frame)
        if len(frame) > 54 and int.from_bytes(frame[12:14], "big") == ETHERTYPE_IPV6 and self._keep(frame[14:]):
            self.captured.append(frame[14:])
        return Output()


def _protected_bu_to_the_home_agent(raw: bytes) -> bool:
    """The protected BUs to the home agent (what the replay attempts resend)."""
    return raw[24:40] == HA_ADDRESS.packed and is_protected(raw)


class Attacker(Host):
    """A plain host on a foreign link (its address by SLAAC) that sends forged signalling and counts
    every Mobility Header message and every packet for a home address it gets."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers: Counter[str] = Counter()
        self.acks: list[BindingAcknowledgement] = []
        self.stolen = 0

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        if packet.next_header == 135:
            self.answers[type(packet.payload).__name__] += 1
            if isinstance(packet.payload, BindingAcknowledgement):
                self.acks.append(packet.payload)
        if packet.dst in HOME_PREFIX or (isinstance(packet.payload, Packet) and packet.payload.dst in HOME_PREFIX):
            self.stolen += 1
        super().deliver(now, raw, packet)

    @property
    def address(self) -> IPv6Address | None:
        iface = self.interfaces["eth0"]
        return next((a.address for a in iface.addresses.values() if a.usable and not a.address.is_link_local), None)


def _bu(attacker: Attacker, home: IPv6Address, sequence: int) -> bytes:
    coa = attacker.address
    assert coa is not None
    return Packet(src=coa, dst=HA_ADDRESS, home_address=home,
                  payload=BindingUpdate(sequence=sequence, lifetime=600, ack=True, home=True,
                                        options=(AlternateCareOfAddress(coa),))).to_bytes()


@scenario(
    "hijack-attempt",
    "an attacker on a foreign link tries to register an unregistered home address and to take over a "
    "registered one (blind BUs, the two-packet attack, replayed and tampered protected BUs) against a "
    "home agent protecting registrations with ESP: zero successes, every attempt counted")
def hijack_attempt(seed: int, pcap_dir: str | None) -> tuple[Mip6World, dict]:
    """The victim registers from foreign link A under its ESP SAs; the correspondent pings its home
    address throughout. From foreign link B an attacker (a plain host) sends, from 10 s, one attempt
    every 500 ms: blind BUs for an unregistered home address and for the victim's (various sequence
    numbers, with the second packet of the two-packet attack guessing the sequence as the 135 answer
    would have told it), the victim's captured protected BUs replayed verbatim and with the attacker's
    address as source, and captured BUs with a new ESP sequence number and one ciphertext bit changed.
    The home agent answers none of them (no BA, so no sequence number leaks) and counts each; the
    victim's binding and tunnel stay."""
    sim = Simulator(seed, pcap_dir)
    world = Mip6World(sim, lifetime=600, foreign_links=2)
    attacker = Attacker("attacker", [Interface("eth0", mac(0x66))], rng=sim.rng_for("attacker"))
    tap = Tap("tap", mac(0x7E00), _protected_bu_to_the_home_agent)
    rng = sim.rng_for("attack")
    ping = PingApp(HOME_ADDRESS, start_ns=5 * NS_PER_S, interval_ns=250 * MS, count=180)
    world.cn.attach(ping)
    attempts: Counter[str] = Counter()
    victim_care_of: list[IPv6Address] = []

    def attempt(s: Simulator, kind: str, i: int) -> None:
        if attacker.address is None:
            return
        if kind == "blind_unregistered":
            raw = _bu(attacker, UNREGISTERED, rng.randrange(1 << 16))
        elif kind == "blind_registered":
            raw = _bu(attacker, HOME_ADDRESS, rng.randrange(1 << 16))
        elif kind == "two_packet_probe":
            raw = _bu(attacker, HOME_ADDRESS, 0)        # would draw a 135 with the last accepted sequence
        elif kind == "two_packet_takeover":
            binding = world.ha.cache.get(HOME_ADDRESS)    # what the 135 would have said, plus one
            raw = _bu(attacker, HOME_ADDRESS, ((binding.sequence if binding else 0) + 1) & 0xFFFF)
        elif kind in ("replayed", "replayed_from_attacker", "tampered"):
            if not tap.captured:
                return
            raw = bytearray(tap.captured[i % len(tap.captured)])
            if kind == "replayed_from_attacker":
                raw[8:24] = attacker.address.packed
            elif kind == "tampered":
                # A fresh sequence number (past the replay window's check) and one ciphertext bit
                # flipped: the ESP header follows the 24-byte Destination Options header with the HAO.
                raw[68:72] = (1000 + i).to_bytes(4, "big")
                raw[-20] ^= 0x01
            raw = bytes(raw)
        else:
            raise ValueError(kind)
        attempts[kind] += 1
        s.send(attacker, raw)

    kinds = ("blind_unregistered", "blind_registered", "two_packet_probe", "two_packet_takeover",
             "replayed", "replayed_from_attacker", "tampered")
    with sim:
        sim.attach(tap, "p0", world.foreign[0])
        world.start(world.foreign[0])
        sim.attach(attacker, "eth0", world.foreign[1])
        for n in range(70):
            kind = kinds[n % len(kinds)]
            sim.schedule(10 * NS_PER_S + n * 500 * MS, lambda s, k=kind, i=n: attempt(s, k, i))
        sim.schedule(49 * NS_PER_S, lambda s: victim_care_of.append(world.mn.care_of))
        sim.run(50 * NS_PER_S)
    hijacked = [str(n.home_address) for _, name, n in sim.timeline
                if name == "ha" and isinstance(n, (BindingCreated, BindingUpdated))
                and n.care_of_address != world.mn.care_of]
    binding = world.ha.cache.get(HOME_ADDRESS)
    ha = world.ha.counters
    refused = {k: v for k, v in sorted(ha.items())
               if k.startswith(("drop.bu.", "drop.esp", "drop.mps."))}
    (ha_in,) = [sa for sa in world.ha_spd if sa.direction.value == "inbound"]
    sa_counters = {k: v for k, v in ha_in.stats().items()
                   if k in ("packets", "replay_duplicates", "replay_too_old", "authentication_failures",
                            "policy_violations")}
    return world, {
        **world.common("hijack-attempt", seed),
        "attempts": dict(sorted(attempts.items())),
        "attempts_total": sum(attempts.values()),
        "successes": len(hijacked) + (binding is None or binding.care_of_address != world.mn.care_of)
        + int(world.ha.cache.get(UNREGISTERED) is not None),
        "answers_to_attacker": dict(sorted(attacker.answers.items())),
        "packets_for_home_addresses_at_attacker": attacker.stolen,
        "refused_at_home_agent": refused,
        "refused_total": sum(refused.values()),
        "home_agent_inbound_sa": sa_counters,
        "victim_registrations": len(world.events("mn", Registered)),
        "victim_binding_care_of": None if binding is None else str(binding.care_of_address),
        "victim_care_of": [str(a) for a in victim_care_of],
        "ping": ping.summary(),
    }



def run_unprotected_takeover(seed: int = 1) -> dict:
    """The threat, measured (README "Security"): the same topology with unprotected registrations; the
    attacker sends a BU with sequence 0 for the victim's home address, reads the last accepted sequence
    from the 135 answer, and takes the address over with that + 1. Not a registered scenario."""
    sim = Simulator(seed)
    world = Mip6World(sim, lifetime=600, foreign_links=2, protected=False)
    attacker = Attacker("attacker", [Interface("eth0", mac(0x66))], rng=sim.rng_for("attacker"))

    def takeover(s: Simulator) -> None:
        acks = [a for a in attacker.acks if a.status == 135]
        if acks:
            s.send(attacker, _bu(attacker, HOME_ADDRESS, (acks[0].sequence + 1) & 0xFFFF))

    with sim:
        world.start(world.foreign[0])
        sim.attach(attacker, "eth0", world.foreign[1])
        sim.schedule(10 * NS_PER_S, lambda s: s.send(attacker, _bu(attacker, HOME_ADDRESS, 0)))
        sim.schedule(11 * NS_PER_S, takeover)
        sim.run(13 * NS_PER_S)
    binding = world.ha.cache.get(HOME_ADDRESS)
    return {"probe_answer_status": attacker.acks[0].status if attacker.acks else None,
            "packets": 2, "taken_over": binding is not None and binding.care_of_address == attacker.address,
            "binding_care_of": None if binding is None else str(binding.care_of_address)}
