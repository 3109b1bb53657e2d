"""The Mobile IPv6 mobile node (RFC 6275 §11), sans-I/O: a ``Host`` with one mobile interface that
composes the helpers below, each an object it holds, each in its own module.

Theory of operation
-------------------
``MobileNode`` is a ``Host`` (it autoconfigures and runs applications) with one mobile interface,
``MobileNodeConfig.interface`` (mn_config.py). It routes what arrives to the helper whose concern it
is and passes each helper what it needs explicitly (the node's services as ``events.NodeServices``,
the interface, its neighbour discovery, the binding update list, and callables for the hooks); no
helper reaches into another or into the node.

- ``movement`` (mn_movement.py, ``MovementDetector``): movement detection from Router Advertisements,
  neighbour-discovery notifications and lower-layer hints (§11.5.1), the care-of address (§11.5.2),
  noticing the home link (§11.5.5); ``location``, ``care_of``.
- ``home_registrations`` (mn_registration.py, ``HomeRegistrations``): Binding Updates to the home
  agents, their acknowledgements and refreshes, de-registration at home, ``leave``; the binding update
  list entries of home registrations.
- ``discovery`` (mn_discovery.py, ``MobileNodeDiscovery``): Dynamic Home Agent Address Discovery,
  home agent failover, Mobile Prefix Solicitation / Advertisement, renumbering.
- ``route_optimization`` (route_optimization.py, ``RouteOptimizer``): Binding Updates to
  correspondents, the per-correspondent policy, fallback to the tunnel.
- ``data_path`` (mn_datapath.py, ``MobileNodeData``): the reverse tunnel, HAO insertion, decapsulation
  and Type 2 routing headers, a batch at a time through the C kernels.

Every Binding Update, to a home agent or a correspondent, follows the one set of §11.8 rules of the
registration engine (registration.py): sequence numbers, the retransmission back-off, MAX_UPDATE_RATE
per destination (one limiter for the node), the registration states as transition tables.

What the node itself does: the entry points, dispatch of ICMPv6 and Mobility Header messages to the
helpers, the choice of source address, and the wiring between helpers (a new care-of address →
registrations; a home registration accepted → route optimisation; back home → de-registration, then
route optimisation and, with several home addresses, a care-of address on the home link).

Neighbour-discovery notifications about the mobile interface (``RouterUnreachable``,
``RouterOverdue``, ``AddressReady``, ``AddressDuplicate``) are collected while an entry point runs and
handed to movement detection when it ends, so that ND has finished its own work first.

Source address (§11.3.1): applications that do not pin a source ask ``source_address(dst, protocol,
dst_port)``: away from home, the care-of address for flows ``SourcePolicy`` calls short-lived (DNS by
default; routed natively both ways), a home address for everything else. Site-local addresses are not
used across sites unless ``allow_site_local`` (no site-local care-of address, no site-local traffic
through the tunnel; ``source_policy.py``).

Several home addresses, each on its own home link: "at home" is per home address (``location_of``;
``location`` only says whether the current link is the home link of some address).

This module also re-exports the mobile node's public API (its configuration, notifications and
states), so an application needs one import.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import replace
from ipaddress import IPv6Address

from ..batch import PacketBatch
from ..binding_cache import BindingCache
from ..errors import ParseError
from ..security import MnHaCredentials, Mode, SecurityPolicyDatabase
from ..wire import (
    BindingAcknowledgement,
    BindingRefreshRequest,
    HomeAgentSwitch,
    BindingError,
    BindingErrorStatus,
    DestinationUnreachable,
    ICMPv6Message,
    MobilePrefixAdvertisement,
    NeighborSolicitation,
    Packet,
    ParameterProblem,
    UnknownMobilityMessage,
    parse,
)
from ..wire.ethernet import ETHERNET_HEADER_LEN, ipv6_multicast_mac
from .events import NS_PER_S, Notification, Output, Timer
from .host import Host
from .interface import LINK_LOCAL, UNSPECIFIED, Interface
from .mn_config import HomeAddressConfig, MobileNodeConfig
from .mn_counters import MOBILE_NODE_COUNTERS
from .mn_datapath import MobileNodeData
from .mn_discovery import (
    HomeAddressWithdrawn,
    HomeAgentChanged,
    HomeAgentDiscovered,
    HomeAgentDiscoveryFailed,
    HomePrefixChanged,
    MobileNodeDiscovery,
)
from .mn_movement import Location, Moved, MovementDetector, ReturnedHome
from .mn_registration import (
    BindingRefreshed,
    Deregistered,
    HomeRegistration,
    HomeRegistrations,
    PrefixDiscoveryNeeded,
    Registered,
    RegistrationFailed,
)
from .neighbor import ND_HOP_LIMIT, AddressDuplicate, AddressReady, RouterOverdue, RouterUnreachable
from .protection import NH_ESP, Mechanism, SignallingProtection
from .rate_limit import TokenBucket
from .registration import BUL_PENDING, BUL_REGISTERED, RegistrationState, update_rate_limiter
from .route_optimization import RouteOptimizer
from .source_policy import is_site_local

__all__ = [
    "BUL_PENDING", "BUL_REGISTERED", "BindingRefreshed", "Deregistered", "HomeAddressConfig",
    "HomeAddressWithdrawn", "HomeAgentChanged", "HomeAgentDiscovered", "HomeAgentDiscoveryFailed",
    "HomePrefixChanged", "Location", "MobileNode", "MobileNodeConfig", "Moved", "PrefixDiscoveryNeeded",
    "Registered", "RegistrationFailed", "RegistrationState", "ReturnedHome",
]

# RFC 6275 §9.2 / §9.3.3: the Binding Errors this node sends (unrecognised MH type) are rate-limited,
# at most one per second as the home agent's.
BINDING_ERROR_RATE = 1

# After a carrier change on the mobile interface, until movement detection has decided (same link, a new
# foreign link, the home link), packets the node originates are held, not sent with the old care-of
# address to the old router's MAC on what may be another link: at most HOLD_LIMIT of them, each for at
# most HOLD_TIMEOUT; the hold itself ends after HOLD_MAX even without a decision (no RA at all).
# Packets over the limit or past their time are counted drops (mn.hold.overflow, mn.hold.timeout).
# A move to a new foreign link (with or without a carrier change) holds them on until a home agent
# accepts the new care-of address (issue 14): reverse-tunnelled before that, they would reach a home
# agent still bound to the old care-of address, which drops them (RFC 6275 §10.4.5). The BU left the
# moment the care-of address existed (RFC 4429), so the wait is one round trip to the home agent.
HOLD_LIMIT = 64
HOLD_TIMEOUT = 1 * NS_PER_S
HOLD_MAX = 5 * NS_PER_S

# The neighbour-discovery notifications movement detection acts on (``MovementDetector.react``).
_MOVEMENT_EVENTS = (RouterUnreachable, RouterOverdue, AddressReady, AddressDuplicate)


class MobileNode(Host):
    """A mobile node (RFC 6275 §11). ``config`` names the mobile interface and the home addresses.
    ``spd``: the SAs protecting its home registrations (RFC 6275 §5.1, issue 11): BUs and Mobile Prefix
    Solicitations for a home address with a policy leave under its SA, and the home agent's BAs, BRRs
    and MPAs for it are accepted only protected. ``mn_ha``: the RFC 4285 credentials of the home
    addresses whose BUs and BAs carry the MN-HA authentication option instead (mn_ha_auth.py); their
    timestamps come from the wall clock, ``wall_offset_ns`` (ns) ahead of the time the node is driven
    with (the driver keeps it up to date, as for the home agent's)."""

    COUNTERS = MOBILE_NODE_COUNTERS

    def __init__(self, name: str, interfaces=(), rng: random.Random | None = None, *,
                 config: MobileNodeConfig, spd: SecurityPolicyDatabase | None = None,
                 mn_ha: MnHaCredentials | None = None, wall_offset_ns: int = 0):
        super().__init__(name, interfaces, rng)
        self.wall_offset_ns = int(wall_offset_ns)
        self.protection = SignallingProtection(spd, self.counters, mn_ha=mn_ha,
                                               wall_offset=lambda: self.wall_offset_ns)
        if config.interface not in self.interfaces:
            raise ValueError(f"{name}: no interface {config.interface}")
        self._config = config
        self.iface: Interface = self.interfaces[config.interface]
        nd = self.nd[config.interface]
        nd.optimistic_dad = config.optimistic_dad          # RFC 4429 for care-of addresses
        nd.solicit_at_once = config.lower_layer_hints      # RS at once on carrier-up (§11.5.1)
        self._events: deque[Notification] = deque()
        # Home registrations and correspondent entries (keyed (peer, home address)) share the list,
        # and one MAX_UPDATE_RATE window per destination covers the BUs to both (§11.8).
        self.binding_update_list = BindingCache(key_size=32, capacity=256)
        limiter = update_rate_limiter(config.max_update_rate)
        self.home_registrations = HomeRegistrations(
            self, config, self.iface, nd, self.binding_update_list, limiter,
            care_of=lambda: self.movement.care_of, away_for=self.away_for, emit_nd=self._emit,
            needs_discovery=lambda now, reg: self.discovery.needs_discovery(now, reg),
            not_answering=lambda now, reg: self.discovery.not_answering(now, reg),
            rejected=lambda now, reg: self.discovery.rejected(now, reg),
            accepted=lambda now, reg, status: self.discovery.accepted(now, reg, status),
            registered=self._home_registered,
            deregistered=self._home_deregistered, protect=self.protection.outbound,
            auth=self.protection.auth4285,
            switch_home_agent=lambda now, reg, agents: self.discovery.switch_home_agent(now, reg, agents))
        self.route_optimization = RouteOptimizer(self, self, config.route_optimization, self.iface,
                                                 self.binding_update_list, limiter, config.bu_schedule)
        self.discovery = MobileNodeDiscovery(
            self, config, self.home_registrations, care_of=lambda: self.movement.care_of, away_for=self.away_for,
            home_agents_changed=lambda: self.data_path.rebuild(self.movement.care_of),
            home_withdrawn=self._home_withdrawn, protect=self.protection.outbound)
        self.movement = MovementDetector(
            self, config, self.iface, nd, homes=self.homes, emit_nd=self._emit, moved=self._moved,
            care_of_ready=self._care_of_ready, arrived_home=self._arrived_home,
            deregistered=self.home_registrations.deregistered)
        self._binding_errors = TokenBucket(BINDING_ERROR_RATE, 1)
        # Packets held after a carrier change (HOLD_LIMIT): (time held, raw IPv6 packet), oldest first.
        self._held: deque[tuple[int, bytes]] = deque()
        self._holding = False
        self._hold_decided = False
        self._hold_until_bound = False      # moved: held until a home registration accepts the new CoA
        self._hold_now = 0                  # the latest time an entry point gave (the release's ``now``)
        self._hold_timers: list[Timer] = []
        self.data_path = MobileNodeData(
            self, self.iface, self.binding_update_list, config.allow_site_local, self.route_optimization,
            homes=self.homes, care_of=lambda: self.movement.care_of, away_for=self.away_for,
            registered=lambda home: self.home_registrations.registrations[home].active,
            protection=self.protection, graph_node=self, interfaces=lambda: self.interfaces.values())

    # ------------------------------------------------------------ state, as the helpers keep it

    @property
    def config(self) -> MobileNodeConfig:
        """The configuration, with the home addresses as they are now (discovery may add, withdraw or
        retarget them)."""
        homes = self.home_registrations.homes
        if homes != self._config.homes:
            self._config = replace(self._config, homes=homes)
        return self._config

    @property
    def registrations(self) -> dict[IPv6Address, HomeRegistration]:
        """The home registrations by home address."""
        return self.home_registrations.registrations

    @property
    def location(self) -> Location:
        return self.movement.location

    @property
    def care_of(self) -> IPv6Address | None:
        return self.movement.care_of

    @property
    def home_addresses(self) -> tuple[IPv6Address, ...]:
        return tuple(h.address for h in self.home_registrations.homes)

    def homes(self) -> tuple[HomeAddressConfig, ...]:
        return self.home_registrations.homes

    def home_registration(self, home: IPv6Address) -> HomeRegistration | None:
        return self.home_registrations.registrations.get(home)

    def location_of(self, home_address) -> Location:
        """Where the node is for one home address: HOME on that address's home link, AWAY on any other
        link (the home link of another home address included), UNKNOWN before it knows a link."""
        if self.location is Location.UNKNOWN:
            return Location.UNKNOWN
        return Location.HOME if IPv6Address(home_address) in self.movement.at_home else Location.AWAY

    def away_for(self, home: IPv6Address) -> bool:
        """Away from the home link of ``home`` (and on some link)."""
        return self.movement.away_for(home)

    def _from_away_home(self, raw: bytes) -> bool:
        """Is this IPv6 packet from a home address the node is away for (so it takes the data path)?"""
        if len(raw) < 40 or raw[0] >> 4 != 6:
            return False
        src = IPv6Address(raw[8:24])
        return src in self.registrations and self.away_for(src)

    def _count(self, what: str) -> None:
        self.counters[f"mn.{what}"] += 1

    def _emit(self, src: IPv6Address, dst: IPv6Address, message, dst_mac: bytes | None = None) -> None:
        """An ND message on the mobile interface (never with a Home Address option, §11.3.1)."""
        raw = Packet(src=src, dst=dst, hop_limit=ND_HOP_LIMIT, payload=message).to_bytes()
        self._count(f"tx.{type(message).__name__}")
        self.emit_frame(self.iface.name, dst_mac or ipv6_multicast_mac(dst.packed), raw)

    # ------------------------------------------------------------ wiring between the helpers

    def _moved(self, now: int) -> None:
        """Movement: the node is on a new foreign link; nothing registered is usable from it. What the
        node originates is held until the new care-of address is registered (``HOLD_LIMIT``)."""
        self._hold_now = max(self._hold_now, now)
        if not self._holding:
            self._start_hold(now)
        self._hold_decided = True
        self._hold_until_bound = True
        self.home_registrations.pause_all()
        self.discovery.pause()

    def _care_of_ready(self, now: int, address: IPv6Address) -> None:
        """Movement: a new primary care-of address (§11.5.2), registered with every home agent."""
        self.data_path.set_care_of(address)
        self.home_registrations.register_all(now, self.movement.at_home)
        self.route_optimization.care_of_changed(now, address)     # care-of tests in parallel

    def _home_registered(self, now: int, home: IPv6Address, care_of: IPv6Address) -> None:
        """Registration: a home agent accepted a new care-of address; it tunnels to it from now on, so
        held packets go (``_finish``), and correspondents are told (§11.7.2)."""
        if self._hold_until_bound:
            self._hold_until_bound = False
            self._hold_now = max(self._hold_now, now)
            self._count("hold.until_bound")
        self.route_optimization.home_registered(now, home, care_of)

    def _arrived_home(self, now: int, homes: list[HomeAddressConfig], left: set[IPv6Address]) -> None:
        """Movement: on the home link of ``homes`` (§11.5.5): de-registration, and correspondents are
        told after it."""
        self._hold_until_bound = False
        self._hold_decided, self._hold_now = True, max(self._hold_now, now)
        self.discovery.pause()
        self.home_registrations.arrive_home(now, self.movement.at_home, homes, left)
        self.route_optimization.returned_home(now)

    def _home_deregistered(self, now: int, home: IPv6Address) -> None:
        """Registration: back home, the binding of ``home`` is gone."""
        self.route_optimization.home_deregistered(now, home)
        self.movement.home_link_care_of(now)

    def _home_withdrawn(self, address: IPv6Address) -> None:
        """Discovery: ``address`` is no longer a home address."""
        self.movement.forget_home(address)
        self.route_optimization.forget_home(address)

    # ------------------------------------------------------------ entry-point plumbing

    def notify(self, notification: Notification) -> None:
        super().notify(notification)
        if isinstance(notification, _MOVEMENT_EVENTS) and notification.interface == self.iface.name:
            self._events.append(notification)

    def _finish(self, out: Output) -> Output:
        # ND notifications are acted on when the entry point's own work is done (ND state settled).
        if self._depth == 1:
            while self._events:
                event = self._events.popleft()
                self._hold_now = max(self._hold_now, event.now)
                self.movement.react(event)
            if self._holding and not self._hold_until_bound \
                    and (self._hold_decided or not self.movement.reattached):
                self._release_held(self._hold_now)
        return super()._finish(out)

    def on_link_changed(self, now: int, iface: Interface) -> None:
        if iface is self.iface:
            self.movement.link_changed(now)
            if iface.up and self.movement.reattached:
                self._start_hold(now)

    # ------------------------------------------------------------ holding packets across a carrier change

    def _start_hold(self, now: int) -> None:
        """The carrier came back: hold what the node sends until movement detection decides."""
        self._hold_now = max(self._hold_now, now)
        if not self._holding:
            self._count("hold.started")
        self._holding = True
        self._hold_decided = False
        for t in self._hold_timers:
            t.cancel()
        self._hold_timers = [self.call_at(now + HOLD_MAX, self._hold_max_reached)]

    def _holds(self, raw: bytes) -> bool:
        """Is this packet held now? Everything until movement detection decides; after a move, until the
        new care-of address is registered, only what would take the reverse tunnel (from a home address
        the node is away for): signalling from the new care-of address -- the BU itself, the care-of
        test -- and short-lived flows leave at once."""
        if not self._holding:
            return False
        if not self._hold_decided:
            return True
        return self._hold_until_bound and self._from_away_home(raw)

    def _hold(self, now: int, raw: bytes) -> None:
        self._hold_now = max(self._hold_now, now)
        if len(self._held) >= HOLD_LIMIT:
            self.drop("mn.hold.overflow")
            return
        self._held.append((now, raw))
        self._count("hold.held")
        if len(self._held) == 1:
            self._hold_timers.append(self.call_at(now + HOLD_TIMEOUT, self._hold_expire))

    def _hold_expire(self, now: int) -> None:
        """Held packets past HOLD_TIMEOUT are dropped; the timer follows the oldest one left."""
        held = self._held
        while held and held[0][0] + HOLD_TIMEOUT <= now:
            held.popleft()
            self.drop("mn.hold.timeout")
        if held:
            self._hold_timers.append(self.call_at(held[0][0] + HOLD_TIMEOUT, self._hold_expire))

    def _hold_max_reached(self, now: int) -> None:
        if self._holding:
            self._count("hold.undecided")
            self._release_held(now)

    def _release_held(self, now: int) -> None:
        """Movement detection decided (or HOLD_MAX passed): the held packets go out by the node's state
        now -- new routes, new neighbours, the data path's rules -- except those whose source is no
        longer an address of the node (the old care-of address), which are counted drops."""
        self._holding = False
        self._hold_decided = False
        self._hold_until_bound = False
        for t in self._hold_timers:
            t.cancel()
        self._hold_timers = []
        held, self._held = self._held, deque()
        homes = set(self.home_addresses)
        for _, raw in held:
            src = IPv6Address(raw[8:24])
            if src not in homes and not self.is_own_address(src, usable_only=False):
                self.drop("mn.hold.stale_source")
                continue
            self._count("hold.released")
            self.output_packet(now, raw)

    def leave(self, now: int) -> Output:
        """The node is shutting down away from home: one BU with lifetime 0 per registration (§6.1.7:
        a zero lifetime asks the home agent to delete the binding; sent like any home registration,
        from the care-of address with the Home Address option, §11.7.1), so the home agent stops
        intercepting for a node that is gone instead of tunnelling into the void until the binding
        expires. Not retransmitted: the caller waits briefly while ``leaving`` is true."""
        out = self._begin()
        self.home_registrations.leave(now)
        return self._finish(out)

    @property
    def leaving(self) -> bool:
        """A BU sent by ``leave`` still awaits its BA."""
        return self.home_registrations.leaving

    # ------------------------------------------------------------ signalling

    def handle_icmpv6(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        if iface is not self.iface:
            super().handle_icmpv6(now, iface, raw, packet, src_mac)
            return
        if self.discovery.message(now, packet):
            return          # DHAAD Reply / Mobile Prefix Advertisement (mn_discovery)
        if isinstance(msg, NeighborSolicitation) and msg.target in self.registrations \
                and not self.home_registrations.defends(msg.target):
            # §11.5.5: until the de-registration is acknowledged the home agent defends the address.
            self.drop("mn.ns_for_undefended_home_address")
            return
        if isinstance(msg, (ParameterProblem, DestinationUnreachable)) \
                and self.route_optimization.handle_icmp_error(now, packet):
            return                                   # §11.3.5: about our BU or HAO to a correspondent
        ra = MovementDetector.advertisement(packet)
        if ra is not None:
            self.movement.install_home_addresses(ra[0])
        super().handle_icmpv6(now, iface, raw, packet, src_mac)
        if ra is not None:
            self._hold_now = max(self._hold_now, now)
            self.movement.router_advertised(now, packet.src, *ra)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        if isinstance(packet.payload, UnknownMobilityMessage):
            self._unrecognized_mh_type(now, packet)  # §9.2: from anyone, not only our peers
            return
        if packet.home_address is not None:
            self.drop("mn.mh_with_hao")              # §6.1: only a BU carries a Home Address option
            return
        if self.route_optimization.handle_mobility(now, packet, raw):
            return                                   # a correspondent's BA / BE / BRR / HoT / CoT
        self.home_registrations.receive(now, packet, raw)

    def _unrecognized_mh_type(self, now: int, packet: Packet) -> None:
        """RFC 6275 §9.2: a Mobility Header of an unknown type gets a Binding Error status 2 from every
        node that implements Mobile IPv6, rate-limited (§9.3.3): to the packet's source, from the address
        it was sent to (a home address away from home goes through the data path: reverse tunnel), the
        home address field the Home Address option's if there was one, else unspecified."""
        self._count("mh_unknown_type")
        if packet.dst.is_multicast or packet.src.is_multicast or packet.src == UNSPECIFIED:
            self.drop("mn.be.not_allowed")
            return
        if not self._binding_errors.take(now):
            self.drop("mn.be.rate_limited")
            return
        home = packet.home_address if packet.home_address is not None else UNSPECIFIED
        self._count("be.sent.status.2")
        be = Packet(src=packet.dst, dst=packet.src,
                    payload=BindingError(BindingErrorStatus.UNRECOGNIZED_MH_TYPE, home))
        self.output_packet(now, be.to_bytes())

    # ------------------------------------------------------------ data: sending (§11.3.1)

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
        care_of = self.care_of
        if self.location is not Location.AWAY or care_of is None or dst in LINK_LOCAL \
                or (dst.is_multicast and (dst.packed[1] & 0x0F) <= 2):
            return super().source_address(dst)
        if is_site_local(dst) and not self._config.allow_site_local:
            self._count("source.site_local_refused")
            return None
        coa = self.iface.addresses.get(care_of)
        coa_usable = coa is not None and coa.usable
        if coa_usable and self._config.source_policy.short_lived(protocol, dst_port):
            return care_of
        usable = sorted((r for r in self.registrations.values() if r.state is not RegistrationState.FAILED),
                        key=lambda r: not r.active)          # stable: configuration order otherwise
        if usable:
            return usable[0].home.address
        return care_of if coa_usable else None

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
        """Application packets, a batch at a time (§11.3.1, ``MobileNodeData.send``); held right after a
        carrier change like ``output_packet``."""
        out = self._begin()
        if self._holding and (not self._hold_decided or self._hold_until_bound):
            for i in range(batch.count):
                self._hold(now, bytes(batch.packet(i)))
            return self._finish(out)
        self.data_path.send(now, batch)
        return self._finish(out)

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """Away from home, a packet this node originates from the home address of a registration (an
        application's, or an Echo Reply) goes through the data path like ``send``: reverse tunnel or
        HAO (RFC 6275 §11.3.1); everything else is routed as by any host. Right after a carrier change
        it is held until movement detection decides (``HOLD_LIMIT``)."""
        if self._holds(raw):
            self._hold(now, raw)
            return
        if self._from_away_home(raw):
            batch = PacketBatch(capacity=1, slot_size=max(2048, len(raw) + 256), headroom=128)
            batch.append(raw)
            self.send_batch(now, batch)
            return
        super().output_packet(now, raw, zone)

    # ------------------------------------------------------------ data: receiving (§11.3.3)

    def receive(self, now: int, interface: str, frame) -> Output:
        """One frame: through the same path as ``receive_batch`` (a one-packet batch, so the simulator
        runs the receive graph as real I/O does), except a frame the graph would hand back untouched
        (``_graph_skips``), which goes to the per-frame path directly."""
        data = bytes(frame)
        if interface != self.iface.name or not self.iface.up or self._graph_skips(data):
            return super().receive(now, interface, data)
        batch = PacketBatch.from_packets([data], slot_size=max(2048, len(data) + 256))
        return self.receive_batch(now, interface, batch)

    def _graph_skips(self, frame: bytes) -> bool:
        """Would ``MobileNodeData.receive`` hand this frame, whole, to the per-frame path without a
        count or a kernel seeing it? True unless it is an IPv6 frame to our MAC carrying a tunnel (next
        header 41) or a routing header (43): the graph's and ``classify``'s first test."""
        return (len(frame) < ETHERNET_HEADER_LEN + 41 or frame[ETHERNET_HEADER_LEN + 6] not in (41, 43)
                or frame[12:14] != b"\x86\xdd" or frame[:6] != self.iface.mac)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """Frames of a batch: tunnelled and RH2 packets through the kernels (``MobileNodeData.receive``),
        the rest one at a time through the per-frame path."""
        if interface != self.iface.name or not self.iface.up or batch.count == 0:
            return super().receive_batch(now, interface, batch)
        out = self._begin()
        for i in self.data_path.receive(now, batch):
            self._receive_frame(now, interface, batch.packet(i))
        return self._finish(out)

    def deliver_packets(self, now: int, packets: list[bytes]) -> None:
        """Packets from the data path for the node's applications (what a TUN would read)."""
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

    def tunnelled_mobility(self, now: int, raw: bytes) -> None:
        """A Mobility Header that came out of the home agent's tunnel to a home address (the data path
        takes it from the packets for the applications): a correspondent's Home Test (§11.6.2) or
        Binding Error for route optimisation; anything else is dropped, counted."""
        try:
            packet = parse(raw)
        except ParseError as exc:
            self.drop(f"mn.tunnelled_mh_parse.{exc.field}")
            return
        if not self.route_optimization.tunnelled_mobility(now, packet):
            self.drop(f"mn.tunnelled_mh.{type(packet.payload).__name__}")

    def deliver_icmp_error(self, raw: bytes) -> None:
        """An ICMPv6 error about an application's own packet (Packet Too Big from the tunnel entry)."""
        self._out.deliveries.append(raw)

    def handle_tunnel(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """IPv6-in-IPv6 from a home agent (§11.3.3): the inner packet must be for a home address. One
        that arrived under ESP tunnel mode (RFC 3776; opened by ``receive_protected``, the SA bound to
        the inner destination) goes through the same decapsulation, without the SA; one for a home
        address whose tunnel must be protected that did not is refused there."""
        sa = self._rx_sa
        protected = sa is not None and sa.mode is Mode.TUNNEL
        if protected:
            self.counters["esp.tunnel.accepted"] += 1
            self._rx_sa = None
        self.data_path.one_packet(now, raw, "decapsulate", protected)

    def handle_upper(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        if packet.rh2 is not None:
            self.data_path.one_packet(now, raw, "process_rh2")   # §11.3.3: a Type 2 routing header
            return
        super().handle_upper(now, iface, raw, packet)

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if packet.next_header == NH_ESP:
            self.receive_protected(now, iface, raw, src_mac)
            return
        if self._rx_sa is None and self._needs_protection(packet):
            self.drop("mn.unprotected_signalling")       # RFC 6275 §5.1: counted, not acted on
            return
        if packet.rh2 is not None and self.discovery.message(now, packet):
            return          # a Mobile Prefix Advertisement arrives with an RH2 (§6.8, mn_discovery)
        if packet.rh2 is not None and isinstance(packet.payload, ICMPv6Message):
            self.data_path.one_packet(now, raw, "process_rh2")
            return
        super().local_packet(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ protection (RFC 6275 §5.1, RFC 3776)

    def _needs_protection(self, packet: Packet) -> bool:
        """A BA, BRR or MPA from the home agent of a home address whose signalling is protected by ESP.
        With RFC 4285 instead, the BA carries its own authentication (checked by the registration); a
        BRR only makes the node send an authenticated BU (§11.7.4); an MPA, which RFC 4285 cannot
        protect, is refused."""
        if not self.protection.enabled or not isinstance(
                packet.payload, (BindingAcknowledgement, BindingRefreshRequest, MobilePrefixAdvertisement,
                                 HomeAgentSwitch)):
            return False
        home = packet.rh2 if packet.rh2 is not None else packet.dst
        reg = self.home_registrations.registrations.get(home)
        if reg is None or packet.src != reg.home.home_agent:
            return False
        if self.protection.mechanism(home) is Mechanism.RFC4285:
            # RFC 4285 authenticates BUs and BAs only: an MPA or a Home Agent Switch cannot be trusted
            return isinstance(packet.payload, (MobilePrefixAdvertisement, HomeAgentSwitch))
        return self.protection.required(home)
