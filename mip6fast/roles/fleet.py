"""Many mobile nodes' home registrations carried by one node, for the scale scenario.

Theory of operation
-------------------
A full ``MobileNode`` is a host with its own neighbour discovery, movement detection, data path
kernels and binding update list: about 15 kB of Python objects before it has attached anywhere, and
every multicast frame on its link reaches every other node there. A hundred thousand of them on one
simulated link would cost gigabytes and N² frame deliveries, so ``MobileFleet`` carries the
*registration state* of many mobile nodes in one node with one MAC address.

What each member shares with ``MobileNode`` (the same code where it matters):

- the Binding Update, built by ``mn_registration.home_binding_update``: from the care-of address, Home
  Address option = home address, A = H = 1, Alternate Care-of Address option = the care-of address
  (RFC 6275 §11.7.1), encoded by the real codecs;
- the registration engine (registration.py) with the rules of §11.8: InitialBindackTimeoutFirstReg for
  a first registration, INITIAL_BINDACK_TIMEOUT otherwise, doubling up to MAX_BINDACK_TIMEOUT, a new
  sequence number on every retransmission, at most MAX_UPDATE_RATE BUs per second to the home agent
  (the limiter keyed per member, as each member is its own node), a random initial sequence number
  (§11.7.1), and the registration states of the ``HOME_REGISTRATION`` table;
- Binding Acknowledgement handling (§11.7.3): parsed by the real codec from a frame, accepted only
  from the home agent, with a Type 2 routing header holding the member's home address, to its care-of
  address, for the outstanding sequence number (the engine's checks); status 135 → the next BU uses the
  returned sequence + 1 at once; status >= 128 → ``RegistrationFailed``, no more BUs; below 128 →
  accepted, with expiry and refresh time from ``registration.refresh_schedule`` (the smaller of the
  granted lifetime and a Binding Refresh Advice, less a lead); a Binding Refresh Request (§11.7.4) → a
  BU at once;
- the notifications ``Registered`` (a new care-of address accepted), ``BindingRefreshed`` and
  ``RegistrationFailed`` of ``mn_registration``.

What it leaves out: movement (members stay on one foreign network, each with one care-of address
configured: no RAs, no DAD of care-of addresses, no returning home), the data path (no tunnel, no
route optimisation, no DHAAD or prefix discovery) and per-member neighbour discovery. The lifetime
asked for is the configured one (a member's home and care-of addresses do not expire, so §11.7.1's cap
by their remaining lifetimes never bites). The fleet is one ``Node`` on the link towards the home
agent: it stands for the foreign access network (its router and the members behind it), so the home
agent reaches every care-of address through the fleet's own address, resolved once by ordinary ND (a
real access router's neighbour cache, bounded at 1024 entries in roles/neighbor.py, would otherwise
sit between them). It still answers a Neighbor Solicitation for any of its care-of addresses (NA,
S = 1, O = 1, its MAC; RFC 4861 §7.2.4), so it also works on a link where others resolve them.

Members arrive (send their first BU) at times drawn uniformly from the node's seeded ``rng`` over
``arrival_ns`` after the interface comes up and ``start_ns`` has passed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from ipaddress import IPv6Address

from ..errors import ParseError
from ..wire import (
    ALL_NODES,
    BindingAcknowledgement,
    BindingRefreshRequest,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    TargetLinkLayerAddress,
    parse,
)
from ..wire.ethernet import ipv6_multicast_mac
from .events import NS_PER_S, Timer
from .fleet_counters import FLEET_COUNTERS
from .interface import Interface
from .mn_config import MAX_LIFETIME
from .mn_registration import BindingRefreshed, Registered, RegistrationFailed, home_binding_update
from .neighbor import ND_HOP_LIMIT
from .node import Node
from .registration import (
    HOME_REGISTRATION,
    INITIAL_BINDACK_TIMEOUT,
    INITIAL_BINDACK_TIMEOUT_FIRST_REG,
    MAX_BINDACK_TIMEOUT,
    MAX_UPDATE_RATE,
    SEQUENCE_MOD,
    Backoff,
    Event,
    Exchange,
    RegistrationEngine,
    RegistrationState,
    refresh_schedule,
    update_rate_limiter,
)

__all__ = ["FleetConfig", "MobileFleet"]


@dataclass(frozen=True)
class FleetConfig:
    """``members``: (home address, care-of address) pairs, one per mobile node; ``home_agent``: the home
    agent all of them register with; ``lifetime``: seconds asked for in each BU; timeouts in ns as in
    ``MobileNodeConfig``; members arrive over ``arrival_ns`` starting ``start_ns`` after link up."""
    interface: str
    home_agent: IPv6Address
    members: tuple[tuple[IPv6Address, IPv6Address], ...]
    lifetime: int = 600
    start_ns: int = 2 * NS_PER_S
    arrival_ns: int = 10 * NS_PER_S
    first_registration_timeout: int = INITIAL_BINDACK_TIMEOUT_FIRST_REG
    initial_bindack_timeout: int = INITIAL_BINDACK_TIMEOUT
    max_bindack_timeout: int = MAX_BINDACK_TIMEOUT
    max_update_rate: int = MAX_UPDATE_RATE

    def __post_init__(self):
        object.__setattr__(self, "home_agent", IPv6Address(self.home_agent))
        members = tuple((IPv6Address(h), IPv6Address(c)) for h, c in self.members)
        object.__setattr__(self, "members", members)
        if len({h for h, _ in members}) != len(members) or len({c for _, c in members}) != len(members):
            raise ValueError("members: home addresses and care-of addresses must be distinct")
        if not 0 < self.lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime: 1 .. {MAX_LIFETIME} seconds (§6.1.7)")
        if not 0 < self.initial_bindack_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < initial_bindack_timeout <= max_bindack_timeout")
        if not 0 < self.first_registration_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < first_registration_timeout <= max_bindack_timeout")
        if self.max_update_rate < 1 or self.arrival_ns < 0 or self.start_ns < 0:
            raise ValueError("max_update_rate >= 1, arrival_ns >= 0, start_ns >= 0")


class _Member(Exchange):
    """One mobile node's home registration (what ``mn_registration.HomeRegistration`` keeps for one home
    address), kept small: a hundred thousand of these live at once."""
    __slots__ = ("care_of", "expiry", "first", "home", "refresh", "registered_at", "started_at")
    TABLE = HOME_REGISTRATION
    TIMERS = ("retransmit", "refresh", "expiry", "deferred")

    def __init__(self, home: IPv6Address, care_of: IPv6Address, sequence: int):
        super().__init__(sequence, RegistrationState.IDLE)
        self.home = home
        self.care_of = care_of
        self.first = True
        self.started_at: int | None = None       # first BU of the registration under way
        self.registered_at: int | None = None    # first accepted registration
        self.refresh: Timer | None = None
        self.expiry: Timer | None = None


class MobileFleet(Node):
    """The home registrations of ``config.members`` on ``config.interface`` (see the module docstring
    for what is modelled). ``latencies_ns`` collects, per completed first registration, the virtual
    time from the member's first BU to the accepted BA."""

    COUNTERS = FLEET_COUNTERS

    def __init__(self, name: str, interfaces, config: FleetConfig, rng: random.Random | None = None):
        super().__init__(name, interfaces, rng)
        if config.interface not in self.interfaces:
            raise ValueError(f"{name}: no interface {config.interface}")
        self.config = config
        self.iface: Interface = self.interfaces[config.interface]
        # §11.7.1: each member starts from a random sequence number, as after a reboot.
        self.members = [_Member(h, c, self.rng.randrange(SEQUENCE_MOD)) for h, c in config.members]
        self._by_home = {m.home: m for m in self.members}
        self._by_care_of = {m.care_of: m for m in self.members}
        self._started = False
        self.latencies_ns: list[int] = []
        # §11.8; the rate limit counts per member (each stands for a node of its own).
        self.engine: RegistrationEngine[_Member] = RegistrationEngine(
            call_at=self.call_at, counters=self.counters, prefix="fleet",
            schedule=Backoff(config.initial_bindack_timeout, config.max_bindack_timeout,
                             first=config.first_registration_timeout),
            limiter=update_rate_limiter(config.max_update_rate), rate_key=lambda m: m.home,
            lifetime=lambda now, m: config.lifetime, transmit=self._transmit)

    def _count(self, what: str) -> None:
        self.counters[f"fleet.{what}"] += 1

    # ------------------------------------------------------------ arrivals

    def on_link_changed(self, now: int, iface: Interface) -> None:
        if iface is not self.iface or not iface.up or self._started:
            return
        self._started = True
        start, window = now + self.config.start_ns, self.config.arrival_ns
        for m in self.members:
            at = start + (self.rng.randrange(window) if window else 0)
            self.call_at(at, partial(self._arrive, m=m))

    def _arrive(self, now: int, m: _Member) -> None:
        self._start_registration(now, m)

    # ------------------------------------------------------------ home registration (§11.7.1, §11.8)

    def _start_registration(self, now: int, m: _Member) -> None:
        m.cancel("refresh")
        m.apply(Event.REGISTER)
        m.started_at = now
        self.engine.begin(now, m, first=m.first)

    def _transmit(self, now: int, m: _Member, sequence: int, lifetime: int) -> None:
        self.output_packet(now, home_binding_update(m.care_of, self.config.home_agent, m.home, sequence,
                                                    lifetime).to_bytes())

    def _refresh(self, now: int, m: _Member) -> None:
        m.refresh = None
        if m.state is RegistrationState.REGISTERED:
            self._count("bu_refresh")
            self._start_registration(now, m)

    def _binding_expired(self, now: int, m: _Member) -> None:
        """No refresh was accepted in time: the next registration is a first one again (§11.7.1)."""
        m.expiry = None
        self._count("binding_expired")
        m.first = True
        if m.state is RegistrationState.REGISTERED:
            m.apply(Event.LAPSED)

    # ------------------------------------------------------------ inbound

    def receive_packet(self, now: int, iface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        m = self._by_care_of.get(packet.dst)
        if m is None:
            super().receive_packet(now, iface, raw, packet, src_mac)
            return
        msg = packet.payload
        if isinstance(msg, (BindingAcknowledgement, BindingRefreshRequest)):
            # §6.1 / §11.7.3: from the home agent, with a Type 2 routing header holding this member's
            # home address, no Home Address option.
            if packet.src != self.config.home_agent or packet.rh2 != m.home or packet.home_address is not None:
                self.drop("fleet.mh_bad_addresses")
                return
            if isinstance(msg, BindingAcknowledgement):
                self._on_binding_ack(now, m, msg)
            elif m.state in (RegistrationState.REGISTERED, RegistrationState.REGISTERING):
                self._count("brr_received")       # §11.7.4: answered with a new BU
                self._start_registration(now, m)
            else:
                self.drop("fleet.brr_not_registered")
            return
        self.drop("fleet.unexpected_packet")

    def local_packet(self, now: int, iface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        if isinstance(msg, NeighborSolicitation) and msg.target in self._by_care_of:
            self._answer_ns(iface, packet, msg, src_mac)
            return
        super().local_packet(now, iface, raw, packet, src_mac)

    def accept_mac(self, iface, dst_mac: bytes, src_mac: bytes) -> bool:
        # RFC 2464 §7: the solicited-node groups of the care-of addresses (33:33:ff + the last 24 bits)
        # are joined too; checked by the frame's bytes rather than by building every group.
        if dst_mac[:3] == b"\x33\x33\xff" and src_mac != iface.mac and self._care_of_group(dst_mac[3:]):
            return True
        return super().accept_mac(iface, dst_mac, src_mac)

    def receive_ipv6(self, now: int, iface, raw: bytes, src_mac: bytes) -> None:
        # A multicast NS to a care-of address's solicited-node group is not for any group the base
        # node joined: hand it to ``local_packet`` directly.
        if len(raw) >= 40 and raw[24:37] == _SOLICITED_PREFIX and self._care_of_group(raw[37:40]):
            try:
                packet = parse(raw)
            except ParseError as exc:
                self.parse_failed(now, iface, raw, exc)
                return
            self.local_packet(now, iface, raw, packet, src_mac)
            return
        super().receive_ipv6(now, iface, raw, src_mac)

    def _care_of_group(self, low24: bytes) -> bool:
        groups = getattr(self, "_groups", None)
        if groups is None:
            groups = self._groups = {c.packed[13:] for c in self._by_care_of}
        return bytes(low24) in groups

    def _answer_ns(self, iface, packet: Packet, ns: NeighborSolicitation, src_mac: bytes) -> None:
        """RFC 4861 §7.2.4: NA for one of the care-of addresses, S = 1 (to the solicitor) unless it was
        DAD (then to all-nodes, S = 0), O = 1, TLLA = the fleet's MAC."""
        if packet.hop_limit != ND_HOP_LIMIT:
            self.drop("fleet.ns_hop_limit")
            return
        dad = packet.src == _UNSPECIFIED
        na = NeighborAdvertisement(target=ns.target, router=False, solicited=not dad, override=True,
                                   options=(TargetLinkLayerAddress(iface.mac),))
        dst = ALL_NODES if dad else packet.src
        self._count("na_sent")
        raw = Packet(src=ns.target, dst=dst, hop_limit=ND_HOP_LIMIT, payload=na).to_bytes()
        # To the link-layer address the NS came from: the fleet keeps no neighbour entry per solicitor.
        self.emit_frame(iface.name, ipv6_multicast_mac(dst.packed) if dad else src_mac, raw)

    def _on_binding_ack(self, now: int, m: _Member, ba: BindingAcknowledgement) -> None:
        """§11.7.3, as ``HomeRegistrations._on_binding_ack`` for a node away from home."""
        if not self.engine.acknowledged(now, m, ba):
            return
        if ba.status >= 128:
            self._count(f"ba_rejected.{ba.status}")
            m.apply(Event.REJECTED)
            m.cancel()
            self.notify(RegistrationFailed(now, m.home, self.config.home_agent, ba.status))
            return
        if ba.lifetime == 0:
            self.drop("fleet.ba_zero_lifetime")
            m.apply(Event.LAPSED)
            return
        granted, expires, refresh_at = refresh_schedule(ba, m.sent_at, m.lifetime_asked,
                                                        self.config.initial_bindack_timeout)
        new = m.first
        m.apply(Event.ACCEPTED)
        m.first = False
        m.cancel("refresh", "expiry")
        m.refresh = self.call_at(max(now, refresh_at), lambda t: self._refresh(t, m))
        m.expiry = self.call_at(expires, lambda t: self._binding_expired(t, m))
        if new:
            self._count("registered")
            if m.registered_at is None:
                m.registered_at = now
                self.latencies_ns.append(now - (m.started_at if m.started_at is not None else now))
            self.notify(Registered(now, m.home, m.care_of, granted))
        else:
            self._count("refreshed")
            self.notify(BindingRefreshed(now, m.home, m.care_of, granted))

    # ------------------------------------------------------------ reports

    def state_counts(self) -> dict[str, int]:
        out = dict.fromkeys(("idle", "registering", "registered", "failed"), 0)
        for m in self.members:
            out[m.state.value] += 1
        return out


_UNSPECIFIED = IPv6Address("::")
_SOLICITED_PREFIX = IPv6Address("ff02::1:ff00:0").packed[:13]
