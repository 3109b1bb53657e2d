"""The Mobile IPv6 mobile node (RFC 6275 §11), sans-I/O: movement detection, care-of addresses, home
registration, the binding update list, the reverse tunnel and returning home.

Theory of operation
-------------------
``MobileNode`` is a ``Host`` (it autoconfigures and runs applications) with one mobile interface,
``MobileNodeConfig.interface``. Everything it decides comes from three inputs:

- Router Advertisements seen on the mobile interface (after ``NeighborDiscovery`` validated and
  processed them): which router advertised which on-link prefixes;
- neighbour-discovery notifications (``RouterUnreachable``, ``RouterOverdue``, ``AddressReady``,
  ``AddressDuplicate``), collected while an entry point runs and acted on when it ends, so that ND has
  finished its own work first;
- Mobility Header messages (Binding Acknowledgement, Binding Refresh Request) and timers.

Movement detection (§11.5.1). The node keeps a *current router* (link-local address) and the prefixes
known on the current link. An RA from another router that advertises only known prefixes is another
router on the same link. An RA with a new prefix makes that router a *candidate*: the node checks the
current router with Neighbor Unreachability Detection (unicast NS, RFC 4861 §7.3.3); only when the
current router is lost (NUD failed, or its lifetime ran out) while a candidate with a new prefix exists
has the node moved. ``RouterOverdue`` (the Advertisement Interval option, RFC 6275 §7.3) starts the same
check and a Router Solicitation; a lower-layer hint (``link_changed`` up) only solicits. An RA
advertising a home prefix means the node is on its home link (§11.5.5). When the current router is lost
and another router already known on the link takes over, that is not movement, but if no router left
advertises the care-of address's prefix the node takes a care-of address on the new router's prefix.

Care-of address (§11.5.2): the SLAAC address ND forms on the new link's prefix; it is used once DAD
passed (``AddressReady``). Then ``Moved(old_coa, new_coa)`` and a home registration per home address.

Home registration (§11.7.1): BU from the care-of address to the home agent, Home Address option =
home address, A = H = 1, Alternate Care-of Address option = the care-of address, lifetime no longer
than what is left of the home address and the care-of address. Retransmitted until a matching BA with
InitialBindackTimeoutFirstReg (first registration with that home agent) or INITIAL_BINDACK_TIMEOUT,
doubling up to MAX_BINDACK_TIMEOUT (§11.8), each retransmission with a new sequence number, never more
than MAX_UPDATE_RATE BUs per second to one destination (§11.8). The binding update list is a
``BindingCache(key_size=32)`` keyed by (home agent, home address); the low byte of an entry's flags
holds the registration state (``BUL_PENDING`` / ``BUL_REGISTERED``).

Binding Acknowledgement (§11.7.3): see ``_on_binding_ack``. Binding Refresh Request (§11.7.4): a fresh
BU at once.

Data path (§11.3.1, §11.3.3): while away and registered, packets the node's applications send from a
home address go through ``MobileNodeDataPath.outbound`` (HAO insertion for route-optimised peers, else
the reverse tunnel) over a ``PacketBatch`` — ``send_batch`` for many, ``send`` wraps one; received
batches (``receive_batch``) run ``decapsulate`` and ``process_rh2`` over all their tunnelled / RH2
frames at once. Verdicts are read as columns; every drop is counted as ``drop.datapath.<REASON>``.

Source address (§11.3.1): applications that do not pin a source ask ``source_address(dst, protocol,
dst_port)``: away from home, the care-of address for flows ``SourcePolicy`` calls short-lived (DNS by
default; routed natively both ways), a home address for everything else. Site-local addresses are not
used across sites unless ``allow_site_local`` (no site-local care-of address, no site-local traffic
through the tunnel; ``source_policy.py``).

Returning home (§11.5.5): the home address goes back on the interface without DAD; the node resolves
the home agent with an NS from the unspecified address if it must (it cannot defend its home address
yet), sends a BU from the home address with lifetime 0 and A = H = 1 (no Home Address option), and after
the BA multicasts an unsolicited NA for the home address (O = 1, S = 0, its own MAC) and from then on
answers NS for it.

Several home addresses, each on its own home link: "at home" is per home address (``location_of``;
``location`` only says whether the current link is the home link of some address). On the home link of
home address 1 the node de-registers it as above while staying away for home address 2, which it then
registers from this link with home address 1 as care-of address (``_home_link_care_of``).
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv6Address, IPv6Network

import numpy as np

from ..batch import DropReason, PacketBatch, Verdict
from ..binding_cache import FLAG_ACK, FLAG_HOME, BindingCache
from ..datapath import MobileNodeDataPath
from ..errors import ParseError
from ..wire import (
    ALL_NODES,
    ALL_ROUTERS,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    DestinationUnreachable,
    EchoRequest,
    ICMPv6Message,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PacketTooBig,
    ParameterProblem,
    PrefixInformation,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    parse,
    solicited_node_multicast,
)
from ..wire.ethernet import ipv6_multicast_mac
from .events import NS_PER_S, Notification, Output, Timer
from .frames import classify
from .host import Host
from .interface import IPV6_MIN_MTU, LINK_LOCAL, NH_MH, UNSPECIFIED, AddressState, Interface, slaac_address
from .mn_discovery import (
    DHAAD_RETRIES,
    INITIAL_DHAAD_TIMEOUT,
    INITIAL_SOLICIT_TIMER,
    HomeAddressWithdrawn,
    HomeAgentChanged,
    HomeAgentDiscovered,
    HomeAgentDiscoveryFailed,
    HomePrefixChanged,
    MobileNodeDiscovery,
)
from .neighbor import (
    ND_HOP_LIMIT,
    AddressDuplicate,
    AddressReady,
    NeighborState,
    RouterOverdue,
    RouterUnreachable,
)
from .route_optimization import RouteOptimizationConfig, RouteOptimizer, strip_processed_rh2
from .source_policy import DEFAULT_SOURCE_POLICY, SourcePolicy, care_of_prefixes, is_site_local

# Next headers of a packet that may be ICMPv6 (directly or after a hop-by-hop, routing or destination
# options header); only those are parsed to look for an Echo Request.
_MAYBE_ICMPV6 = frozenset((0, 43, 58, 60))

__all__ = [
    "BUL_PENDING", "BUL_REGISTERED", "BindingRefreshed", "Deregistered", "HomeAddressConfig",
    "HomeAddressWithdrawn", "HomeAgentChanged", "HomeAgentDiscovered", "HomeAgentDiscoveryFailed",
    "HomePrefixChanged", "Location", "MobileNode", "MobileNodeConfig", "Moved", "PrefixDiscoveryNeeded", "Registered",
    "RegistrationFailed", "RegistrationState", "ReturnedHome",
]

# RFC 6275 §12-13 (PROTOCOL.md "Constants and defaults"), in ns.
INITIAL_BINDACK_TIMEOUT = 1 * NS_PER_S
INITIAL_BINDACK_TIMEOUT_FIRST_REG = 3 * NS_PER_S // 2
MAX_BINDACK_TIMEOUT = 32 * NS_PER_S
MAX_UPDATE_RATE = 3
MAX_LIFETIME = 65535 * 4               # seconds: the largest lifetime a BU carries (§6.1.7)
SEQUENCE_MOD = 1 << 16
MIN_TUNNEL_MTU = 1320                  # the data path's floor: 1280 inner + 40 outer (RFC 2473 §7.1)

# Registration state in the low byte of a binding update list entry's flags (binding_cache.py leaves
# the low byte to the role); the high byte holds the BU flags as on the wire.
BUL_PENDING = 0x01
BUL_REGISTERED = 0x02


# ---------------------------------------------------------------- shared with the scale fleet

def home_binding_update(care_of: IPv6Address, home_agent: IPv6Address, home: IPv6Address, sequence: int,
                        lifetime: int) -> Packet:
    """§11.7.1: a home registration from the care-of address, HAO = home address, A = H = 1, Alternate
    CoA = the care-of address (also used by roles/fleet.py, so both speak the same BU)."""
    return Packet(src=care_of, dst=home_agent, home_address=home,
                  payload=BindingUpdate(sequence=sequence, lifetime=lifetime, ack=True, home=True,
                                        options=(AlternateCareOfAddress(care_of),)))


def refresh_schedule(ba: BindingAcknowledgement, sent_at: int, lifetime_asked: int,
                     initial_bindack_timeout: int) -> tuple[int, int, int]:
    """§11.7.3 for an accepted BA: (granted seconds, expiry ns, refresh time ns). The lifetime counts
    from when the BU was sent; the refresh comes a lead before the smaller of the granted lifetime and
    the Binding Refresh Advice interval, so a retransmission or two still fits."""
    granted = min(ba.lifetime, lifetime_asked) if lifetime_asked else ba.lifetime
    interval = granted
    for opt in ba.options:
        if isinstance(opt, BindingRefreshAdvice) and 0 < opt.interval < interval:
            interval = opt.interval              # §11.7.3: refresh by the advice if it is sooner
    interval_ns = interval * NS_PER_S
    lead = max(interval_ns // 10, min(interval_ns // 2, 2 * initial_bindack_timeout))
    return granted, sent_at + granted * NS_PER_S, sent_at + interval_ns - lead


def binding_ack_answers_outstanding(node, now: int, state, ba: BindingAcknowledgement, prefix: str) -> bool:
    """§11.7.3's first checks of a home registration's BA, shared by ``MobileNode`` and the fleet:
    ``state`` holds ``outstanding`` (the sequence of the BU awaiting its BA), ``next_sequence`` and
    ``cancel``. Status 135 (sequence out of window) carries the last accepted sequence: the next BU uses
    it + 1, at once. A BA for another sequence is dropped (counted under ``prefix``). True when the BA
    answers the outstanding BU: the retransmission is cancelled and the caller acts on its status."""
    if state.outstanding is None:
        node.drop(f"{prefix}.ba_unexpected")
        return False
    if ba.status == 135:
        node._count("ba_sequence_out_of_window")
        state.next_sequence = (ba.sequence + 1) % SEQUENCE_MOD
        state.cancel("retransmit", "deferred")
        node._send_bu(now, state)
        return False
    if ba.sequence != state.outstanding:
        node.drop(f"{prefix}.ba_sequence_mismatch")
        return False
    state.outstanding = None
    state.cancel("retransmit", "deferred")
    return True


# ---------------------------------------------------------------- configuration

@dataclass(frozen=True)
class HomeAddressConfig:
    """One home address, its home prefix length and its home agent (None: found by Dynamic Home Agent
    Address Discovery, §11.4.1, see ``mn_discovery``). ``valid_until``: the home address's valid
    lifetime as an absolute ns deadline (None: infinite); a BU never asks for more (§11.7.1)."""
    address: IPv6Address
    home_agent: IPv6Address | None = None
    prefix_length: int = 64
    valid_until: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "address", IPv6Address(self.address))
        if self.home_agent is not None:
            object.__setattr__(self, "home_agent", IPv6Address(self.home_agent))
        if not 0 < self.prefix_length <= 128:
            raise ValueError(f"prefix_length {self.prefix_length} is not in 1..128")
        if self.address in LINK_LOCAL or self.address.is_multicast:
            raise ValueError(f"{self.address} cannot be a home address (§11.5.2: a global unicast address)")

    @property
    def prefix(self) -> IPv6Network:
        return IPv6Network((self.address, self.prefix_length), strict=False)


@dataclass(frozen=True)
class MobileNodeConfig:
    """``interface``: the mobile interface; ``homes``: the home addresses; ``lifetime``: the binding
    lifetime asked for, in seconds; timeouts in ns (RFC 6275 §12-13 defaults); ``max_update_rate``: BUs
    per second per destination; ``lower_layer_hints``: whether a carrier-up on the mobile interface
    triggers a Router Solicitation (§11.5.1); ``route_optimization``: the per-correspondent policy
    (roles/route_optimization.py; the default never optimises); ``source_policy``: the flows that use
    the care-of address as source (``source_address``); ``allow_site_local``: whether site-local
    addresses are used across sites at all (default off, ``source_policy.py``); ``fallback_to_discovery``:
    a configured home agent that leaves the BUs unanswered through the §11.8 schedule (up to
    ``max_bindack_timeout`` and one BU at it) is replaced by Dynamic Home Agent Address Discovery
    (§11.4.1; False: retransmit at that rate indefinitely, §11.8). ``initial_dhaad_timeout`` / ``dhaad_retries`` / ``initial_solicit_timeout``:
    §12 (in ns). ``movement_on_reattachment``: when the carrier came back and the first RA is from
    another router with new prefixes, that is movement at once (a hint trusted to decide, §11.5.1);
    off, the old router must first fail NUD (seconds)."""
    interface: str
    homes: tuple[HomeAddressConfig, ...]
    lifetime: int = 600
    first_registration_timeout: int = INITIAL_BINDACK_TIMEOUT_FIRST_REG
    initial_bindack_timeout: int = INITIAL_BINDACK_TIMEOUT
    max_bindack_timeout: int = MAX_BINDACK_TIMEOUT
    max_update_rate: int = MAX_UPDATE_RATE
    lower_layer_hints: bool = True
    route_optimization: RouteOptimizationConfig = field(default_factory=RouteOptimizationConfig)
    source_policy: SourcePolicy = DEFAULT_SOURCE_POLICY
    allow_site_local: bool = False
    fallback_to_discovery: bool = True
    initial_dhaad_timeout: int = INITIAL_DHAAD_TIMEOUT
    dhaad_retries: int = DHAAD_RETRIES
    initial_solicit_timeout: int = INITIAL_SOLICIT_TIMER
    movement_on_reattachment: bool = False

    def __post_init__(self):
        homes = tuple(self.homes)
        if not homes:
            raise ValueError("at least one home address")
        if len({h.address for h in homes}) != len(homes):
            raise ValueError("home addresses must differ")
        object.__setattr__(self, "homes", homes)
        if not 0 < self.lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime must be in 1..{MAX_LIFETIME} s")
        if not 0 < self.initial_bindack_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < initial_bindack_timeout <= max_bindack_timeout")
        if not 0 < self.first_registration_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < first_registration_timeout <= max_bindack_timeout")
        if self.max_update_rate < 1:
            raise ValueError("max_update_rate must be at least 1")
        if self.initial_dhaad_timeout <= 0 or self.dhaad_retries < 0 or self.initial_solicit_timeout <= 0:
            raise ValueError("need initial_dhaad_timeout > 0, dhaad_retries >= 0, initial_solicit_timeout > 0")
        if not self.allow_site_local and any(is_site_local(h.address) for h in homes):
            # Site-local addresses are not used across sites by default (RFC 3879, chapter §3.5).
            raise ValueError("a site-local home address needs allow_site_local=True")


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class Moved(Notification):
    """The node has a new care-of address on a new foreign link (old_coa None: it came from home or
    had none), or on the same link when the router serving the old one's prefix is gone."""
    old_coa: IPv6Address | None
    new_coa: IPv6Address


@dataclass(frozen=True)
class ReturnedHome(Notification):
    """An RA advertised the home prefix of ``home_address``: the node is on its home link (§11.5.5)."""
    home_address: IPv6Address


@dataclass(frozen=True)
class Registered(Notification):
    """A home registration was accepted (§11.7.3) for a new care-of address."""
    home_address: IPv6Address
    care_of: IPv6Address
    lifetime: int          # seconds granted


@dataclass(frozen=True)
class BindingRefreshed(Notification):
    """A refresh of an existing home registration (same care-of address) was accepted."""
    home_address: IPv6Address
    care_of: IPv6Address
    lifetime: int


@dataclass(frozen=True)
class RegistrationFailed(Notification):
    """The home agent rejected the registration (BA status >= 128 other than 135)."""
    home_address: IPv6Address
    home_agent: IPv6Address
    status: int


@dataclass(frozen=True)
class PrefixDiscoveryNeeded(Notification):
    """BA status 1: accepted, but the home prefix should be rediscovered (§11.7.3, §11.4.2)."""
    home_address: IPv6Address
    home_agent: IPv6Address


@dataclass(frozen=True)
class Deregistered(Notification):
    """Back home, the home agent acknowledged the de-registration (§11.5.5)."""
    home_address: IPv6Address


# ---------------------------------------------------------------- state

class Location(Enum):
    UNKNOWN = "unknown"
    HOME = "home"
    AWAY = "away"


class RegistrationState(Enum):
    IDLE = "idle"                   # nothing sent (at home, or no care-of address yet)
    REGISTERING = "registering"     # a BU is outstanding (first registration, new CoA or refresh)
    REGISTERED = "registered"       # the last BU was accepted
    FAILED = "failed"               # rejected: no traffic through this home agent
    DEREGISTERING = "deregistering" # at home, de-registration BU outstanding
    HOME = "home"                   # at home, no binding at the home agent


@dataclass
class _Registration:
    """One binding update list entry's Python side (timers, backoff); the entry itself is in the BUL."""
    home: HomeAddressConfig
    next_sequence: int
    state: RegistrationState = RegistrationState.IDLE
    outstanding: int | None = None       # sequence of the BU awaiting its BA
    sent_at: int = 0                     # when that BU was sent (lifetimes count from it, §11.7.3)
    lifetime_asked: int = 0
    care_of: IPv6Address | None = None   # the care-of address of the outstanding / registered BU
    registered_care_of: IPv6Address | None = None
    timeout: int = 0
    first: bool = True                   # no binding at the home agent yet (InitialBindackTimeoutFirstReg)
    active: bool = False                 # a BA accepted the current care-of address: tunnel usable
    retransmit: Timer | None = None
    refresh: Timer | None = None
    expiry: Timer | None = None
    deferred: Timer | None = None        # a BU held back by the rate limit

    @property
    def key(self) -> tuple[IPv6Address, IPv6Address]:
        return (self.home.home_agent or UNSPECIFIED, self.home.address)

    def cancel(self, *names: str) -> None:
        for name in names or ("retransmit", "refresh", "expiry", "deferred"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)


@dataclass
class _Link:
    """What movement detection knows about the link the node is on."""
    router: IPv6Address | None = None                                   # current default router
    prefixes: set[IPv6Network] = field(default_factory=set)             # on-link prefixes seen here
    routers: dict[IPv6Address, set[IPv6Network]] = field(default_factory=dict)
    candidate: IPv6Address | None = None                                # router with a new prefix
    probing: bool = False                                               # NUD of the current router


# ---------------------------------------------------------------- the node

class MobileNode(MobileNodeDiscovery, Host):
    """A mobile node (RFC 6275 §11). ``config`` names the mobile interface and the home addresses."""

    def __init__(self, name: str, interfaces=(), rng: random.Random | None = None, *,
                 config: MobileNodeConfig):
        super().__init__(name, interfaces, rng)
        if config.interface not in self.interfaces:
            raise ValueError(f"{name}: no interface {config.interface}")
        self.config = config
        self.iface: Interface = self.interfaces[config.interface]
        self.location = Location.UNKNOWN
        self.care_of: IPv6Address | None = None
        self._pending_coa: IPv6Address | None = None
        self._link = _Link()
        # Lower-layer hints (§11.5.1): the carrier went away, then came back (a re-association, maybe
        # with another access point and router); cleared by the first RA that says where we are.
        self._carrier_lost = False
        self._reattached = False
        self._events: deque[Notification] = deque()
        self._home_ns_answered: set[IPv6Address] = set()   # home addresses the node defends (§11.5.5)
        # The home addresses whose home link the node is on. With several home addresses on separate
        # home links, one's home link is a foreign link for the others, so "at home" is per address;
        # ``location`` says what kind of link the node is on (HOME: the home link of some address).
        self._at_home: set[IPv6Address] = set()
        self._bu_sent: dict[IPv6Address, deque[int]] = {}
        # Home registrations and correspondent entries (keyed (peer, home address)) share the list.
        self.binding_update_list = BindingCache(key_size=32, capacity=256)
        # §11.7.1 / §11.8: after a reboot the sequence number starts at a random value.
        self.registrations: dict[IPv6Address, _Registration] = {
            h.address: _Registration(h, self.rng.randrange(SEQUENCE_MOD)) for h in config.homes}
        # The outbound data path runs one MobileNodeDataPath per home address (only registered ones
        # tunnel); inbound one per home agent, holding that agent's home addresses.
        self._out_paths: dict[IPv6Address, MobileNodeDataPath] = {
            h.address: MobileNodeDataPath([h.address], UNSPECIFIED, h.home_agent or UNSPECIFIED, self.binding_update_list,
                                          tunnel_mtu=max(self.iface.mtu, MIN_TUNNEL_MTU), mtu=self.iface.mtu,
                                          allow_site_local=config.allow_site_local)
            for h in config.homes}
        by_agent: dict[IPv6Address, list[IPv6Address]] = {}
        for h in config.homes:
            by_agent.setdefault(h.home_agent or UNSPECIFIED, []).append(h.address)
        self._in_paths: dict[IPv6Address, MobileNodeDataPath] = {
            ha: MobileNodeDataPath(addrs, UNSPECIFIED, ha, self.binding_update_list, mtu=self.iface.mtu,
                                   allow_site_local=config.allow_site_local)
            for ha, addrs in by_agent.items()}
        self.route_optimization = RouteOptimizer(self, config.route_optimization)
        self._home_packed = np.frombuffer(b"".join(h.address.packed for h in config.homes),
                                          dtype=np.uint8).reshape(-1, 16)
        self._init_discovery()

    # ------------------------------------------------------------ small helpers

    @property
    def home_addresses(self) -> tuple[IPv6Address, ...]:
        return tuple(h.address for h in self.config.homes)

    def location_of(self, home_address) -> Location:
        """Where the node is for one home address: HOME on that address's home link, AWAY on any other
        link (the home link of another home address included), UNKNOWN before it knows a link."""
        if self.location is Location.UNKNOWN:
            return Location.UNKNOWN
        return Location.HOME if IPv6Address(home_address) in self._at_home else Location.AWAY

    def _away_for(self, home: IPv6Address) -> bool:
        return self.location is not Location.UNKNOWN and home not in self._at_home

    def _from_away_home(self, raw: bytes) -> bool:
        """Is this IPv6 packet from a home address the node is away for (so it takes the data path)?"""
        if len(raw) < 40 or raw[0] >> 4 != 6:
            return False
        src = IPv6Address(raw[8:24])
        return src in self.registrations and self._away_for(src)

    def _count(self, what: str) -> None:
        self.counters[f"mn.{what}"] += 1

    def _home_for_prefixes(self, prefixes) -> list[HomeAddressConfig]:
        return [h for h in self.config.homes if h.prefix in prefixes]

    def _emit(self, src: IPv6Address, dst: IPv6Address, message, dst_mac: bytes | None = None) -> None:
        """An ND message on the mobile interface (never with a Home Address option, §11.3.1)."""
        raw = Packet(src=src, dst=dst, hop_limit=ND_HOP_LIMIT, payload=message).to_bytes()
        self._count(f"tx.{type(message).__name__}")
        self.emit_frame(self.iface.name, dst_mac or ipv6_multicast_mac(dst.packed), raw)

    # ------------------------------------------------------------ entry-point plumbing

    def notify(self, notification: Notification) -> None:
        super().notify(notification)
        if isinstance(notification, (RouterUnreachable, RouterOverdue, AddressReady, AddressDuplicate)) \
                and notification.interface == self.iface.name:
            self._events.append(notification)

    def _finish(self, out: Output) -> Output:
        # ND notifications are acted on when the entry point's own work is done (ND state settled).
        if self._depth == 1:
            while self._events:
                self._react(self._events.popleft())
        return super()._finish(out)

    def _react(self, event: Notification) -> None:
        now = event.now
        if isinstance(event, RouterUnreachable):
            self._router_lost(now, event.router)
        elif isinstance(event, RouterOverdue):
            if event.router == self._link.router:
                # §11.5.1 with the Advertisement Interval option (§7.3): an RA is overdue; solicit and
                # check the router's reachability.
                self._count("movement.router_overdue")
                self._solicit(now)
                self._probe_router(now)
        elif isinstance(event, AddressReady):
            if event.address == self._pending_coa:
                self._care_of_ready(now, event.address)
        elif isinstance(event, AddressDuplicate) and event.address == self._pending_coa:
            self._pending_coa = None
            self._count("coa_duplicate")          # RFC 4862 §5.4.5: the address is not used

    def on_link_changed(self, now: int, iface: Interface) -> None:
        """A lower-layer hint (§11.5.1) only triggers a Router Solicitation; movement is decided by
        what the routers say. ND solicits by itself when it knows no router, so only the case where it
        still lists the old link's routers needs one here."""
        if iface is not self.iface or not self.config.lower_layer_hints:
            return
        if not iface.up:
            self._carrier_lost = True
            return
        self._reattached, self._carrier_lost = self._carrier_lost, False
        self._count("movement.link_hint")
        if self.nd[iface.name].routers:
            self._solicit(now)

    def _solicit(self, now: int) -> None:
        # RFC 4861 §6.3.7: from the link-local address with an SLLA once it is assigned, else from ::.
        ll = self.iface.addresses.get(self.iface.link_local)
        if ll is not None and ll.usable:
            self._emit(self.iface.link_local, ALL_ROUTERS,
                       RouterSolicitation(options=(SourceLinkLayerAddress(self.iface.mac),)))
        else:
            self._emit(UNSPECIFIED, ALL_ROUTERS, RouterSolicitation())

    # ------------------------------------------------------------ ICMPv6: RAs and NS for home addresses

    def handle_icmpv6(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        if iface is not self.iface:
            super().handle_icmpv6(now, iface, raw, packet, src_mac)
            return
        if self._discovery_message(now, packet):
            return          # DHAAD Reply / Mobile Prefix Advertisement (mn_discovery)
        if isinstance(msg, NeighborSolicitation) and msg.target in self.registrations \
                and msg.target not in self._home_ns_answered:
            # §11.5.5: until the de-registration is acknowledged the home agent defends the address.
            self.drop("mn.ns_for_undefended_home_address")
            return
        if isinstance(msg, (ParameterProblem, DestinationUnreachable)) \
                and self.route_optimization.handle_icmp_error(now, packet):
            return                                   # §11.3.5: about our BU or HAO to a correspondent
        ra_ok = (isinstance(msg, RouterAdvertisement) and packet.hop_limit == ND_HOP_LIMIT
                 and packet.src in LINK_LOCAL and msg.code == 0)
        prefixes: set[IPv6Network] = set()
        if ra_ok:
            prefixes = {o.network for o in msg.options
                        if isinstance(o, PrefixInformation) and o.on_link and o.valid_lifetime > 0}
            # Before ND's SLAAC sees the home prefix: the home address goes back on the interface as
            # a configured (not autoconfigured) address, without DAD (§11.5.5), so SLAAC leaves it.
            for home in self._home_for_prefixes(prefixes):
                self._install_home_address(home)
        super().handle_icmpv6(now, iface, raw, packet, src_mac)
        if ra_ok:
            self._router_advertised(now, packet.src, prefixes, msg.router_lifetime > 0)

    def _install_home_address(self, home: HomeAddressConfig) -> None:
        entry = self.iface.addresses.get(home.address)
        if entry is None or entry.autoconfigured:
            entry = self.iface.add_address(home.address, home.prefix_length, home.valid_until)
        entry.state = AddressState.PREFERRED

    # ------------------------------------------------------------ movement detection (§11.5.1)

    def _router_advertised(self, now: int, router: IPv6Address, prefixes: set[IPv6Network],
                           default_router: bool) -> None:
        """An RA on the mobile interface. The home prefix means home whoever advertises it (§11.5.5);
        for movement between foreign links only default routers count (§11.5.1)."""
        link = self._link
        homes = self._home_for_prefixes(prefixes)
        if homes:
            # On a home link, an unknown router advertising the home prefix of a home address the node
            # is away for: the home link of that address (another home link, or a second home prefix
            # on this one; either way the node is at home for it now, §11.5.5).
            other_home_link = (self.location is Location.HOME and router not in link.routers
                               and not {h.address for h in homes} <= self._at_home)
            if self.location is not Location.HOME or other_home_link:
                self._arrive_home(now, router if default_router else None, prefixes, homes)
            else:
                link.routers.setdefault(router, set()).update(prefixes)
                link.prefixes |= prefixes
                if link.router is None and default_router:
                    link.router = router
            return
        if not default_router:
            self._count("movement.ra_not_default_router")
            return
        if link.router is None:
            if self.location is Location.AWAY and prefixes and prefixes <= link.prefixes:
                # The same link again (its router came back, or another router of this link): not
                # movement; but the care-of address must still be reachable through a router here.
                link.router = router
                link.routers.setdefault(router, set()).update(prefixes)
                self._care_of_through(now, router)
                return
            if prefixes:
                self._move_to(now, router, prefixes)
            return
        if router == link.router or self._same_router(link.router, router):
            self._reattached = False            # back on the same link
            # The current router (a new link-local address with the same R-flag global address,
            # RFC 6275 §7.2, is the same router): new prefixes are renumbering, not movement.
            link.router = router
            link.routers.setdefault(router, set()).update(prefixes)
            link.prefixes |= prefixes
            return
        if prefixes <= link.prefixes:
            self._reattached = False
            link.routers.setdefault(router, set()).update(prefixes)   # another router, same link
            return
        if self._reattached and self.config.movement_on_reattachment:
            # The first RA after the carrier came back is from another router with new prefixes: the
            # lower layer re-attached us to another link (§11.5.1 lets such hints decide movement), so
            # no NUD of the old router, which is out of reach anyway (seconds of MAX_UNICAST_SOLICIT).
            self._reattached = False
            self._count("movement.reattached_elsewhere")
            self._move_to(now, router, prefixes)
            return
        current = self.nd[self.iface.name].neighbors.get(link.router)
        if link.probing and current is not None and current.state is NeighborState.REACHABLE:
            # NUD confirmed the current router while this router advertised a new prefix: several
            # routers with different prefixes on one link, not movement (§11.5.1).
            self._count("movement.same_link_new_prefix")
            link.routers.setdefault(router, set()).update(prefixes)
            link.prefixes |= prefixes
            link.probing = False
            link.candidate = None
            return
        link.candidate = router
        link.routers[router] = set(prefixes)
        self._count("movement.candidate")
        self._probe_router(now)

    def _care_of_through(self, now: int, router: IPv6Address) -> None:
        """``router`` is now the default router of the link the node was already on. If no router left
        on the link advertises the care-of address's prefix (the one that did is gone), packets for the
        care-of address have no way in: take a care-of address on one of ``router``'s prefixes and
        register it (§11.5.2: a new primary care-of address), as after a move."""
        coa = self.care_of
        if coa is None or any(coa in p for prefixes in self._link.routers.values() for p in prefixes):
            return
        self._count("movement.care_of_prefix_lost")
        usable = care_of_prefixes(self._link.routers.get(router, set()), self.home_addresses,
                                  self.config.allow_site_local)
        for prefix in usable:
            address = slaac_address(prefix, self.iface.mac) if prefix.prefixlen == 64 else None
            entry = self.iface.addresses.get(address) if address is not None else None
            if entry is None or entry.state is AddressState.DUPLICATE:
                continue
            self._pending_coa = address
            if entry.usable:
                self._care_of_ready(now, address)
            return
        self._count("no_care_of_address")

    def _same_router(self, a: IPv6Address, b: IPv6Address) -> bool:
        """Two link-local addresses of one router: their RAs carried the same global address in a
        Prefix Information option with the R flag (RFC 6275 §7.2, §11.5.1)."""
        routers = self.nd[self.iface.name].routers
        ra, rb = routers.get(a), routers.get(b)
        return ra is not None and rb is not None and bool(ra.global_addresses & rb.global_addresses)

    def _probe_router(self, now: int) -> None:
        """Neighbor Unreachability Detection of the current router (RFC 4861 §7.3.3) started at once:
        its entry goes to PROBE; failure removes the router (``RouterUnreachable``)."""
        link = self._link
        if link.router is None:
            return
        nd = self.nd[self.iface.name]
        entry = nd.neighbors.get(link.router)
        if entry is not None and entry.state is NeighborState.PROBE:
            return
        if not nd.probe_now(now, link.router):
            nd.forget_router(now, link.router, "nud_no_entry")
            return
        link.probing = True

    def _router_lost(self, now: int, router: IPv6Address) -> None:
        link = self._link
        link.routers.pop(router, None)
        if router == link.candidate:
            link.candidate = None
        if router != link.router:
            return
        link.router = None
        link.probing = False
        self._count("movement.router_lost")
        candidate = link.candidate
        if candidate is not None and candidate in self.nd[self.iface.name].routers:
            self._move_to(now, candidate, link.routers.get(candidate, set()))
        else:
            self._solicit(now)

    def _forget_old_link(self, now: int, keep_router: IPv6Address | None, keep: set[IPv6Network]) -> None:
        """The old link's routers and prefixes leave ND's lists (§11.5.1: they are not on-link here)."""
        nd = self.nd[self.iface.name]
        for router in list(nd.routers):
            if router != keep_router and router in self._link.routers:
                nd.forget_router(now, router, "movement")
        for prefix in self._link.prefixes - keep:
            nd.forget_prefix(now, prefix)

    def _move_to(self, now: int, router: IPv6Address, prefixes: set[IPv6Network]) -> None:
        """The node is on a new foreign link served by ``router``."""
        self._count("movement.moved")
        self._forget_old_link(now, router, prefixes)
        if self.location is Location.HOME:
            for home in self.config.homes:
                self.iface.addresses.pop(home.address, None)
            self._home_ns_answered.clear()
            self._at_home.clear()
        self.location = Location.AWAY
        self._link = _Link(router, set(prefixes), {router: set(prefixes)})
        old = self.care_of
        if old is not None and not any(old in p for p in prefixes):
            self.iface.addresses.pop(old, None)       # the old care-of address is not valid here
        for reg in self.registrations.values():
            reg.active = False
            reg.outstanding = None       # a late BA for the old care-of address no longer counts
            if reg.state is not RegistrationState.FAILED:
                reg.cancel("retransmit", "refresh", "deferred")
        self._pending_coa = None
        usable = care_of_prefixes(prefixes, self.home_addresses, self.config.allow_site_local)
        if len(usable) < len(prefixes) and any(is_site_local(p) for p in prefixes - set(usable)):
            self._count("coa_site_local_refused")     # the scope rule (source_policy.py)
        for prefix in usable:
            if prefix.prefixlen != 64:
                continue
            address = slaac_address(prefix, self.iface.mac)
            entry = self.iface.addresses.get(address)
            if entry is None or entry.state is AddressState.DUPLICATE:
                continue
            self._pending_coa = address
            if entry.usable:
                self._care_of_ready(now, address)
            return
        self._count("no_care_of_address")

    def _care_of_ready(self, now: int, address: IPv6Address) -> None:
        """§11.5.2: a new primary care-of address; register it with every home agent."""
        self._pending_coa = None
        old = self.care_of
        self.care_of = address
        for path in (*self._out_paths.values(), *self._in_paths.values()):
            path.care_of = address
        self.notify(Moved(now, old, address))
        for reg in self.registrations.values():
            if reg.state is RegistrationState.FAILED or reg.home.address in self._at_home:
                continue
            self._start_registration(now, reg)

    def _arrive_home(self, now: int, router: IPv6Address | None, prefixes: set[IPv6Network],
                     homes: list[HomeAddressConfig]) -> None:
        """§11.5.5: the home prefix is on-link again (``router``: the advertising router if it is a
        default router)."""
        self._count("movement.home")
        self._forget_old_link(now, router, prefixes)
        self.location = Location.HOME
        for address in self._at_home - {home.address for home in homes}:
            # Straight from the home link of this address to another home link: away for it now.
            self.iface.addresses.pop(address, None)
            self._home_ns_answered.discard(address)
        self._at_home = {home.address for home in homes}
        self._link = _Link(router, set(prefixes), {router: set(prefixes)} if router is not None else {})
        old = self.care_of
        if old is not None:
            self.iface.addresses.pop(old, None)
        self.care_of = None
        self._pending_coa = None
        for reg in self.registrations.values():
            if reg.home.address in self._at_home:
                continue
            # Away for this home address still: its binding points at a care-of address that is gone;
            # it is registered again from this link (``_home_link_care_of``).
            reg.active = False
            reg.outstanding = None
            if reg.state is not RegistrationState.FAILED:
                reg.cancel("retransmit", "refresh", "deferred")
        for home in homes:
            self.notify(ReturnedHome(now, home.address))
            reg = self.registrations[home.address]
            reg.active = False
            reg.cancel()
            if reg.first and reg.state in (RegistrationState.IDLE, RegistrationState.HOME,
                                           RegistrationState.FAILED):
                reg.state = RegistrationState.HOME     # no binding at the home agent to remove
                self._home_ns_answered.add(home.address)
                continue
            reg.state = RegistrationState.DEREGISTERING
            reg.care_of = home.address
            reg.timeout = self.config.initial_bindack_timeout
            self._send_bu(now, reg)
        self.route_optimization.returned_home(now)
        self._home_link_care_of(now)

    def _home_link_care_of(self, now: int) -> None:
        """On the home link of some home addresses, register the others (the node is away for them)
        with a care-of address on this link: the home address of this link. RFC 6275 §4.1: a care-of
        address is a unicast routable address of the node on the link it visits whose prefix is foreign
        to the home address registered -- which this home address is, for the other home addresses; it
        is the address SLAAC would form on this prefix from the node's interface identifier (§11.5.2),
        and it is already the node's own here (§11.5.5), so no second address needs DAD. It is usable
        only once every home address of this link is de-registered: until its BA the home agent still
        intercepts packets for it (§10.4.1), so a BA sent to it would be tunnelled to the old link."""
        if self.location is not Location.HOME or self.care_of is not None:
            return
        here = [h for h in self.config.homes if h.address in self._at_home]
        if not here or len(here) == len(self.config.homes):
            return
        if any(self.registrations[h.address].state is not RegistrationState.HOME for h in here):
            return                      # a de-registration is still outstanding
        self._count("home_link_care_of")
        self._care_of_ready(now, here[0].address)

    # ------------------------------------------------------------ home registration (§11.7.1, §11.8)

    def _lifetime(self, now: int, reg: _Registration) -> int:
        """§11.7.1: no longer than the remaining lifetime of the home address or the care-of address."""
        limit = self.config.lifetime * NS_PER_S
        coa = self.iface.addresses.get(reg.care_of) if reg.care_of is not None else None
        for until in (reg.home.valid_until, coa.valid_until if coa is not None else None):
            if until is not None:
                limit = min(limit, until - now)
        return max(0, min(MAX_LIFETIME, limit // NS_PER_S))

    def _start_registration(self, now: int, reg: _Registration) -> None:
        if self._registration_needs_discovery(now, reg):
            return          # §11.4.1: no home agent yet; DHAAD runs first (mn_discovery)
        reg.cancel("retransmit", "refresh", "deferred")
        reg.state = RegistrationState.REGISTERING
        reg.care_of = self.care_of
        reg.timeout = (self.config.first_registration_timeout if reg.first
                       else self.config.initial_bindack_timeout)
        self._send_bu(now, reg)

    def _send_bu(self, now: int, reg: _Registration) -> None:
        """Send the next BU of ``reg`` (a new sequence number every time, §11.8) unless the rate limit
        says wait; then arm the retransmission."""
        reg.deferred = None
        ha = reg.home.home_agent
        sent = self._bu_sent.setdefault(ha, deque())
        while sent and sent[0] <= now - NS_PER_S:
            sent.popleft()
        if len(sent) >= self.config.max_update_rate:
            # §11.8: at most MAX_UPDATE_RATE BUs per second to one destination.
            self._count("bu_rate_limited")
            if reg.retransmit is not None:
                reg.retransmit.cancel()
                reg.retransmit = None
            reg.deferred = self.call_at(sent[0] + NS_PER_S, lambda t: self._send_bu(t, reg))
            return
        home = reg.home.address
        deregistering = reg.state is RegistrationState.DEREGISTERING
        lifetime = 0 if deregistering else self._lifetime(now, reg)
        if not deregistering and (reg.care_of is None or lifetime == 0):
            self._count("bu_no_lifetime")       # the care-of or home address has no lifetime left
            reg.state = RegistrationState.IDLE
            return
        seq = reg.next_sequence
        reg.next_sequence = (seq + 1) % SEQUENCE_MOD
        reg.outstanding = seq
        reg.sent_at = now
        reg.lifetime_asked = lifetime
        if deregistering:
            # §11.5.5: from the home address, no Home Address option, lifetime 0, A and H set.
            packet = Packet(src=home, dst=ha, payload=BindingUpdate(sequence=seq, lifetime=0, ack=True, home=True))
        else:
            packet = home_binding_update(reg.care_of, ha, home, seq, lifetime)
        sent.append(now)
        self._count("bu_sent")
        old = self.binding_update_list.get(reg.key)
        self.binding_update_list.pop(reg.key, None)
        self.binding_update_list.update(
            reg.key, reg.care_of, seq, FLAG_ACK | FLAG_HOME | BUL_PENDING
            | (old.flags & BUL_REGISTERED if old is not None and reg.active else 0),
            old.expires_ns if old is not None and reg.active else now)
        raw = packet.to_bytes()
        if deregistering:
            self._send_home(now, ha, raw)
        else:
            self.output_packet(now, raw)
        if reg.retransmit is not None:
            reg.retransmit.cancel()
        reg.retransmit = self.call_at(now + reg.timeout, lambda t: self._retransmit(t, reg))

    def leave(self, now: int) -> Output:
        """The node is shutting down away from home: one BU with lifetime 0 per registration (§6.1.7:
        a zero lifetime asks the home agent to delete the binding; sent like any home registration,
        from the care-of address with the Home Address option, §11.7.1), so the home agent stops
        intercepting for a node that is gone instead of tunnelling into the void until the binding
        expires. Not retransmitted: the caller waits briefly while ``leaving`` is true."""
        out = self._begin()
        for reg in self.registrations.values():
            home = reg.home.address
            if reg.care_of is None or not self._away_for(home) or reg.state not in (
                    RegistrationState.REGISTERED, RegistrationState.REGISTERING):
                continue
            reg.cancel()
            seq = reg.next_sequence
            reg.next_sequence = (seq + 1) % SEQUENCE_MOD
            reg.outstanding = seq
            reg.sent_at = now
            reg.lifetime_asked = 0
            reg.state = RegistrationState.REGISTERING
            self._count("bu_leave_sent")
            self.output_packet(now, Packet(
                src=reg.care_of, dst=reg.home.home_agent, home_address=home,
                payload=BindingUpdate(sequence=seq, lifetime=0, ack=True, home=True,
                                      options=(AlternateCareOfAddress(reg.care_of),))).to_bytes())
        return self._finish(out)

    @property
    def leaving(self) -> bool:
        """A BU sent by ``leave`` still awaits its BA."""
        return any(r.outstanding is not None and r.lifetime_asked == 0 and r.state is RegistrationState.REGISTERING
                   for r in self.registrations.values())

    def _retransmit(self, now: int, reg: _Registration) -> None:
        reg.retransmit = None
        if reg.outstanding is None:
            return
        if reg.timeout >= self.config.max_bindack_timeout and self._home_agent_not_answering(now, reg):
            return          # §11.4.1: another home agent is tried instead (mn_discovery)
        # §11.8: exponential backoff up to MAX_BINDACK_TIMEOUT, then on at that rate.
        reg.timeout = min(reg.timeout * 2, self.config.max_bindack_timeout)
        self._count("bu_retransmitted")
        self._send_bu(now, reg)

    def _send_home(self, now: int, ha: IPv6Address, raw: bytes) -> None:
        """A packet to the home agent from the home link before the node may use its home address in
        ND (§11.5.5): if the agent's link-layer address is not known, an NS from the unspecified address
        (the answer comes to all-nodes) and the packet waits in the neighbour entry."""
        nd = self.nd[self.iface.name]
        entry = nd.neighbors.get(ha)
        if entry is not None and entry.state is not NeighborState.INCOMPLETE and entry.mac is not None:
            self.emit_frame(self.iface.name, entry.mac, raw)
            return
        nd.hold_for(ha, raw)         # only the newest BU (the others carry stale sequence numbers)
        self._emit(UNSPECIFIED, solicited_node_multicast(ha), NeighborSolicitation(target=ha))

    # ------------------------------------------------------------ mobility messages

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if packet.home_address is not None:
            self.drop("mn.mh_with_hao")              # §6.1: only a BU carries a Home Address option
            return
        if self.route_optimization.handle_mobility(now, packet):
            return                                   # a correspondent's BA / BE / BRR
        home = packet.rh2 if packet.rh2 is not None else packet.dst
        reg = self.registrations.get(home)
        if reg is None or packet.src != reg.home.home_agent:
            self.drop("mn.mh_unknown_peer")
            return
        if self._away_for(home) and packet.rh2 is None:
            self.drop("mn.mh_without_rh2")           # §6.1.8/§9.5.4: a BA to a CoA carries an RH2
            return
        if isinstance(msg, BindingAcknowledgement):
            self._on_binding_ack(now, reg, msg)
        elif isinstance(msg, BindingRefreshRequest):
            self._on_refresh_request(now, reg)
        else:
            self.drop(f"mn.mh_unhandled.{type(msg).__name__}")

    def _on_binding_ack(self, now: int, reg: _Registration, ba: BindingAcknowledgement) -> None:
        """§11.7.3."""
        if not binding_ack_answers_outstanding(self, now, reg, ba, "mn"):
            return
        home = reg.home.address
        if ba.status >= 128 and reg.state is RegistrationState.DEREGISTERING:
            # At home, a refused de-registration (e.g. 133: that agent holds no binding for us) leaves
            # nothing to undo: the node takes its home address back all the same, or it could not use
            # it on its own home link (§11.5.5 needs the node to defend it).
            self._count(f"ba_rejected.{ba.status}")
            self.notify(RegistrationFailed(now, home, reg.home.home_agent, ba.status))
            self._deregistered(now, reg)
            return
        if ba.status >= 128:
            self._count(f"ba_rejected.{ba.status}")
            reg.state = RegistrationState.FAILED
            reg.active = False
            reg.cancel()
            self.binding_update_list.pop(reg.key, None)
            self.notify(RegistrationFailed(now, home, reg.home.home_agent, ba.status))
            self._home_agent_rejected(now, reg)
            return
        if reg.state is RegistrationState.DEREGISTERING:
            self._deregistered(now, reg)
            return
        if reg.lifetime_asked == 0 and ba.lifetime == 0:
            # The answer to ``leave``: the home agent deleted the binding.
            self._count("left")
            reg.state = RegistrationState.IDLE
            reg.active = False
            self.binding_update_list.pop(reg.key, None)
            self.notify(Deregistered(now, home))
            return
        if ba.lifetime == 0:
            self.drop("mn.ba_zero_lifetime")        # accepted with no lifetime: nothing to refresh
            reg.state = RegistrationState.IDLE
            reg.active = False
            self.binding_update_list.pop(reg.key, None)
            return
        granted, expires, refresh_at = refresh_schedule(ba, reg.sent_at, reg.lifetime_asked,
                                                        self.config.initial_bindack_timeout)
        new_care_of = not reg.active or reg.registered_care_of != reg.care_of
        reg.state = RegistrationState.REGISTERED
        reg.active = True
        reg.first = False
        reg.registered_care_of = reg.care_of
        self.binding_update_list.pop(reg.key, None)
        self.binding_update_list.update(reg.key, reg.care_of, ba.sequence,
                                        FLAG_ACK | FLAG_HOME | BUL_REGISTERED, expires)
        reg.cancel("refresh", "expiry")
        reg.refresh = self.call_at(max(now, refresh_at), lambda t: self._refresh(t, reg))
        reg.expiry = self.call_at(expires, lambda t: self._binding_expired(t, reg))
        assert reg.care_of is not None
        if new_care_of:
            self.notify(Registered(now, home, reg.care_of, granted))
            self.route_optimization.home_registered(now, home, reg.care_of)
        else:
            self.notify(BindingRefreshed(now, home, reg.care_of, granted))
        if ba.status == 1:
            self.notify(PrefixDiscoveryNeeded(now, home, reg.home.home_agent))
        self._home_registration_accepted(now, reg, ba.status)

    def _refresh(self, now: int, reg: _Registration) -> None:
        reg.refresh = None
        if self._away_for(reg.home.address) and reg.state is RegistrationState.REGISTERED:
            self._count("bu_refresh")
            self._start_registration(now, reg)

    def _binding_expired(self, now: int, reg: _Registration) -> None:
        reg.expiry = None
        entry = self.binding_update_list.get(reg.key)
        if entry is None or entry.expires_ns > now or not entry.flags & BUL_REGISTERED:
            return
        self._count("binding_expired")
        reg.active = False
        reg.first = True
        self.binding_update_list.pop(reg.key, None)

    def _on_refresh_request(self, now: int, reg: _Registration) -> None:
        """§11.7.4: a Binding Refresh Request is answered with a new BU."""
        self._count("brr_received")
        if self._away_for(reg.home.address) and reg.state in (RegistrationState.REGISTERED,
                                                           RegistrationState.REGISTERING):
            self._start_registration(now, reg)
        else:
            self.drop("mn.brr_not_registered")

    def _deregistered(self, now: int, reg: _Registration) -> None:
        """§11.5.5: after the de-registration BA, an unsolicited NA to all-nodes advertises the home
        address with our MAC (O = 1, S = 0), and the node answers NS for it from then on."""
        home = reg.home.address
        reg.state = RegistrationState.HOME
        reg.active = False
        reg.first = True
        reg.cancel()
        self.binding_update_list.pop(reg.key, None)
        self._home_ns_answered.add(home)
        self._emit(home, ALL_NODES, NeighborAdvertisement(
            target=home, router=False, solicited=False, override=True,
            options=(TargetLinkLayerAddress(self.iface.mac),)))
        self.notify(Deregistered(now, home))
        self.route_optimization.home_deregistered(now, home)
        self._home_link_care_of(now)

    # ------------------------------------------------------------ data path: sending (§11.3.1)

    def source_address(self, dst, protocol: int | None = None, dst_port: int | None = None) -> IPv6Address | None:
        """The source for an application's packet to ``dst`` (``protocol``: next header, ``dst_port``
        for UDP/TCP) when the application does not pin one. Away from home: the care-of address for a
        flow ``config.source_policy`` calls short-lived (§11.3.1 lets short-term communication that is
        easily retried use a care-of address; routed natively both ways), otherwise a home address — one
        with an accepted registration first, so the flow survives movement (the chapter's §3.2.6) — and
        the care-of address when every home agent refused us. Site-local
        destinations get no source away from home unless site-local addresses are allowed (the node
        cannot tell whether it is still in its home site; source_policy.py). At home, or before the
        first care-of address, the plain host's choice."""
        dst = IPv6Address(dst)
        if self.location is not Location.AWAY or self.care_of is None or dst in LINK_LOCAL \
                or (dst.is_multicast and (dst.packed[1] & 0x0F) <= 2):
            return super().source_address(dst)
        if is_site_local(dst) and not self.config.allow_site_local:
            self._count("source.site_local_refused")
            return None
        coa = self.iface.addresses.get(self.care_of)
        coa_usable = coa is not None and coa.usable
        if coa_usable and self.config.source_policy.short_lived(protocol, dst_port):
            return self.care_of
        usable = sorted((r for r in self.registrations.values() if r.state is not RegistrationState.FAILED),
                        key=lambda r: not r.active)          # stable: configuration order otherwise
        if usable:
            return usable[0].home.address
        return self.care_of if coa_usable else None

    def send(self, now: int, packet_bytes) -> Output:
        """An application's packet. Away from home, packets from a home address take the batched data
        path (a one-packet ``PacketBatch``); everything else is routed as by any host."""
        raw = bytes(packet_bytes)
        if not self._from_away_home(raw):
            return super().send(now, raw)
        batch = PacketBatch(capacity=1, slot_size=max(2048, len(raw) + 256), headroom=128)
        batch.append(raw)
        return self.send_batch(now, batch)

    def send_batch(self, now: int, batch: PacketBatch) -> Output:
        """Application packets, a batch at a time (§11.3.1): HAO insertion / reverse tunnel for packets
        from the home addresses of registered bindings, one kernel call each; packets from a home address
        without an accepted registration are dropped (counted, no traffic through a failed home agent);
        others are routed normally."""
        out = self._begin()
        n = batch.count
        if n:
            away = [h for h in self.home_addresses if self._away_for(h)]
            for home in away:
                if self.registrations[home].active:
                    self._out_paths[home].outbound(batch)
            verdict = batch.verdict[:n]
            if away:
                self.route_optimization.count_outbound(now, batch, np.flatnonzero(verdict == Verdict.FORWARD))
            self._transmit_forwarded(now, batch, np.flatnonzero(verdict == Verdict.FORWARD))
            self._count_drops(batch, verdict)
            passed = np.flatnonzero(verdict == Verdict.PASS)
            if passed.size and away:
                # Only the home addresses the node is away for need a registration; one whose home
                # link this is is used natively (§11.5.5).
                from_home = self._src_is_home(batch, passed, away)
                self.counters["drop.mn.no_home_registration"] += int(from_home.sum())
                passed = passed[~from_home]
            if passed.size:
                for i in passed.tolist():
                    raw = batch.packet(i)
                    if self.from_application(raw):
                        self.output_packet(now, raw)
            for i in np.flatnonzero(verdict == Verdict.TOO_BIG).tolist():
                self._too_big(now, batch, i)
        return self._finish(out)

    def _too_big(self, now: int, batch: PacketBatch, i: int) -> None:
        """RFC 2473 §7.1: a packet that does not fit the tunnel is answered with Packet Too Big (the MTU
        the kernel put in ``aux``), which here goes to the node's own application."""
        self.drop("mn.reverse_tunnel_too_big")
        raw = batch.packet(i)
        src = self.care_of or UNSPECIFIED
        ptb = Packet(src=src, dst=IPv6Address(raw[8:24]), hop_limit=64,
                     payload=PacketTooBig(mtu=int(batch.aux[i]), invoking=raw[:IPV6_MIN_MTU - 48]))
        self._out.deliveries.append(ptb.to_bytes())

    def _src_is_home(self, batch: PacketBatch, idx: np.ndarray, homes=None) -> np.ndarray:
        """Per packet of ``idx``: is its IPv6 source one of the home addresses (or of ``homes``)? (one
        numpy gather)"""
        packed = self._home_packed if homes is None else np.frombuffer(
            b"".join(h.packed for h in homes), dtype=np.uint8).reshape(-1, 16)
        off = batch.offset[idx].astype(np.int64)
        gather = np.minimum(off[:, None] + 8 + np.arange(16), batch.buf.size - 1)
        src = batch.buf[gather]
        return (src[:, None, :] == packed[None, :, :]).all(axis=2).any(axis=1)

    def _transmit_forwarded(self, now: int, batch: PacketBatch, idx: np.ndarray) -> None:
        """Tunnelled packets all go to a home agent: one route lookup per agent, then frames out."""
        if not idx.size:
            return
        # Route-optimised packets (a HAO, not IPv6-in-IPv6) are FORWARDed too; count only the tunnel.
        self.counters["mn.reverse_tunnelled"] += int((batch.buf[batch.offset[idx].astype(np.int64) + 6] == 41).sum())
        routes: dict[bytes, object] = {}
        for i in idx.tolist():
            raw = batch.packet(i)
            dst = raw[24:40]
            route = routes.get(dst)
            if route is None:
                route = routes[dst] = self.lookup(IPv6Address(dst))
            if route is None:
                self.drop("no_route")
                continue
            self.transmit_packet(now, route.interface, route.next_hop or IPv6Address(dst), raw)

    def _count_drops(self, batch: PacketBatch, verdict: np.ndarray) -> None:
        dropped = verdict == Verdict.DROP
        if dropped.any():
            reasons = np.bincount(batch.reason[:batch.count][dropped], minlength=len(DropReason))
            for r in np.flatnonzero(reasons).tolist():
                self.counters[f"drop.datapath.{DropReason(r).name}"] += int(reasons[r])

    # ------------------------------------------------------------ data path: receiving (§11.3.3)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """Frames of a batch. Unicast IPv6 frames to our MAC carrying a tunnel (next header 41) or a
        routing header (43) go through ``decapsulate`` and ``process_rh2`` in one kernel call each over
        the whole batch; what the kernels pass on, and every other frame, takes the normal per-frame
        path (neighbour discovery, signalling). The batch's columns are rewritten."""
        if interface != self.iface.name or not self.iface.up or batch.count == 0:
            return super().receive_batch(now, interface, batch)
        out = self._begin()
        n = batch.count
        frames = classify(batch, self.iface)
        nh = frames.next_header
        eligible = (frames.ipv6 & ((nh == 41) | (nh == 43))
                    # A BA or Binding Refresh Request carries an RH2 too (§6.1.8): signalling, not
                    # data, so the routing header's next header must not be MH.
                    & ~((nh == 43) & (frames.after_header == NH_MH))
                    & (batch.verdict[:n] == Verdict.PASS))
        batch.verdict[:n][~eligible] = Verdict.SLOW_PATH
        sel = np.flatnonzero(eligible)
        frames.strip(batch, eligible)
        self.counters["rx_frames"] += int(sel.size)
        self._run_inbound(batch)
        verdict = batch.verdict[:n]
        forwarded = np.flatnonzero(eligible & (verdict == Verdict.FORWARD))
        self.route_optimization.count_inbound(now, batch, forwarded, nh[forwarded] == 41)
        self._deliver_batch(now, batch, forwarded)
        self._count_drops(batch, np.where(eligible, verdict, Verdict.PASS))
        slow_mask = ~eligible | ((verdict != Verdict.FORWARD) & (verdict != Verdict.DROP))
        slow = np.flatnonzero(slow_mask)
        back = eligible & slow_mask
        frames.restore(batch, back)
        self.counters["rx_frames"] -= int(np.count_nonzero(back))     # counted again on the per-frame path
        for i in slow.tolist():
            self._receive_frame(now, interface, batch.packet(i))
        return self._finish(out)

    def _run_inbound(self, batch: PacketBatch) -> None:
        """``decapsulate`` for each home agent over the packets whose outer source is that agent (the
        others are parked as SLOW_PATH meanwhile, so a kernel never judges another agent's packets),
        then ``process_rh2``."""
        n = batch.count
        paths = list(self._in_paths.items())
        if len(paths) == 1:
            paths[0][1].inbound(batch)
            return
        off = batch.offset[:n].astype(np.int64)
        src = batch.buf[np.minimum(off[:, None] + 8 + np.arange(16), batch.buf.size - 1)]
        for ha, path in paths:
            ha_bytes = np.frombuffer(ha.packed, dtype=np.uint8)
            park = (batch.verdict[:n] == Verdict.PASS) & ~(src == ha_bytes).all(axis=1)
            batch.verdict[:n][park] = Verdict.SLOW_PATH
            path.decapsulate(batch)
            batch.verdict[:n][park] = Verdict.PASS
        paths[0][1].process_rh2(batch)

    def _deliver_batch(self, now: int, batch: PacketBatch, idx: np.ndarray) -> None:
        if not idx.size:
            return
        self.counters["mn.tunnel_delivered"] += int(idx.size)
        # A processed Type 2 routing header is not passed up (route_optimization.strip_processed_rh2).
        packets = [strip_processed_rh2(batch.packet(i)) for i in idx.tolist()]
        if any(raw[6] in _MAYBE_ICMPV6 for raw in packets):
            packets = [raw for raw in packets if not self._echo_for_home(now, raw)]
        self.counters["delivered"] += len(packets)
        self._out.deliveries.extend(packets)
        if self.applications:
            for raw in packets:
                try:
                    packet = parse(raw)
                except ParseError as exc:
                    self.drop(f"deliver_parse.{exc.field}")
                    continue
                for app in self.applications:
                    app.deliver(self, now, raw, packet)

    def _echo_for_home(self, now: int, raw: bytes) -> bool:
        """An Echo Request that reached a home address through the tunnel or with an RH2 is answered
        like one received on the home link (RFC 4443 §4.1; RFC 6275 §11.3.3: the node is reachable at
        its home address); the reply, from the home address, takes the reverse tunnel (§11.3.1)."""
        try:
            packet = parse(raw)
        except ParseError:
            return False
        if not isinstance(packet.payload, EchoRequest):
            return False
        self.answer_echo(now, self.iface, packet)
        return True

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """Away from home, a packet this node originates from the home address of a registration (an
        application's, or an Echo Reply) goes through the data path like ``send``: reverse tunnel or
        HAO (RFC 6275 §11.3.1); everything else is routed as by any host."""
        if self._from_away_home(raw):
            batch = PacketBatch(capacity=1, slot_size=max(2048, len(raw) + 256), headroom=128)
            batch.append(raw)
            self.send_batch(now, batch)
            return
        super().output_packet(now, raw, zone)

    def _one_packet(self, now: int, raw: bytes, kernel: str) -> None:
        """A single tunnelled / RH2 packet from the per-frame path, still through the kernels."""
        batch = PacketBatch(capacity=1, slot_size=max(2048, len(raw) + 256), headroom=128)
        batch.append(raw)
        if kernel == "decapsulate":
            self._run_inbound(batch)
        else:
            next(iter(self._in_paths.values())).process_rh2(batch)
        verdict = batch.verdict[:1]
        forwarded = np.flatnonzero(verdict == Verdict.FORWARD)
        self.route_optimization.count_inbound(now, batch, forwarded,
                                              np.full(forwarded.size, kernel == "decapsulate"))
        self._deliver_batch(now, batch, forwarded)
        self._count_drops(batch, verdict)
        if verdict[0] not in (Verdict.FORWARD, Verdict.DROP):
            self.drop(f"mn.{kernel}.{DropReason(int(batch.reason[0])).name}")

    def handle_tunnel(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """IPv6-in-IPv6 from a home agent (§11.3.3): the inner packet must be for a home address."""
        self._one_packet(now, raw, "decapsulate")

    def handle_upper(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        if packet.rh2 is not None:
            self._one_packet(now, raw, "process_rh2")   # §11.3.3: a Type 2 routing header
            return
        super().handle_upper(now, iface, raw, packet)

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if packet.rh2 is not None and self._discovery_message(now, packet):
            return          # a Mobile Prefix Advertisement arrives with an RH2 (§6.8, mn_discovery)
        if packet.rh2 is not None and isinstance(packet.payload, ICMPv6Message):
            self._one_packet(now, raw, "process_rh2")
            return
        super().local_packet(now, iface, raw, packet, src_mac)
