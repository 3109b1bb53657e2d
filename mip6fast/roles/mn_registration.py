"""Home registration on the mobile node (RFC 6275 §11.7.1, §11.7.3, §11.7.4, §11.5.5), sans-I/O.

Theory of operation
-------------------
``HomeRegistrations`` keeps one ``HomeRegistration`` per home address (an ``Exchange`` of the
registration engine, registration.py, in the ``HOME_REGISTRATION`` table) and its entry in the binding
update list: a ``BindingCache(key_size=32)`` keyed by (home agent, home address), shared with the
correspondent entries of route optimisation and read by the data path; the low byte of an entry's
flags holds the registration state (``BUL_PENDING`` / ``BUL_REGISTERED``). The mobile node tells it
when the care-of address changes (``register_all``), when the node left a link (``pause_all``) and
when it came home (``arrive_home``); it tells the node, through the callables it is given, when home
agent discovery must run first, when a home agent does not answer or refuses, and when a
registration was accepted or removed.

Home registration (§11.7.1): BU from the care-of address to the home agent, Home Address option =
home address, A = H = 1, Alternate Care-of Address option = the care-of address
(``home_binding_update``, also the fleet's), lifetime no longer than what is left of the home address
and the care-of address. Retransmission, sequence numbers and MAX_UPDATE_RATE are the engine's
(§11.8): InitialBindackTimeoutFirstReg for a first registration with that home agent, else
INITIAL_BINDACK_TIMEOUT, doubling up to MAX_BINDACK_TIMEOUT.

RFC 4285 instead of ESP for a home address with an MN-HA credential (``auth``, mn_ha_auth.py): every BU
(retransmissions, de-registrations and ``leave`` included) carries the NAI, a timestamp and the MN-HA
authenticator; a BA is acted on only once ``check_ba`` accepts it (authenticator, NAI, the BU's
timestamp echoed), else dropped and counted. An authenticated 144 resynchronises the clock to the home
agent's and a new BU goes at once (a second 144 before an accepted BA waits for the back-off); 145 and
146 are rejections like any other status >= 128.

Binding Acknowledgement (§11.7.3): status 135 → the next BU at once with the returned sequence + 1;
a BA for another sequence number is dropped; status >= 128 → ``RegistrationFailed``, no traffic
through that home agent (discovery may try another); below 128 → accepted: the entry is registered
with its expiry (counted from when the BU left) and a refresh a lead before the smaller of the
granted lifetime and a Binding Refresh Advice; status 1 also asks for prefix discovery. Binding
Refresh Request (§11.7.4): a fresh BU at once.

Returning home (§11.5.5): the home address goes back on the interface without DAD (movement
detection does that); a BU from the home address with lifetime 0 and A = H = 1 (no Home Address
option), after resolving the home agent with an NS from the unspecified address if need be (the node
cannot defend its home address yet); after the BA an unsolicited NA for the home address (O = 1,
S = 0, its own MAC) to all-nodes, and from then on the node answers NS for it (``defends``).

Leaving (``leave``): one BU with lifetime 0 per registration away from home (§6.1.7), not
retransmitted, so the home agent stops intercepting for a node that is shutting down.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from ipaddress import IPv6Address

from ..binding_cache import FLAG_ACK, FLAG_HOME, BindingCache
from ..wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingRefreshRequest,
    HomeAgentSwitch,
    BindingUpdate,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    TargetLinkLayerAddress,
    solicited_node_multicast,
)
from .events import NS_PER_S, NodeServices, Notification, Timer
from .interface import UNSPECIFIED, Interface
from .mn_config import MAX_LIFETIME, HomeAddressConfig, MobileNodeConfig
from .mn_ha_auth import BaCheck, MnHaAuthentication, received_mh
from .neighbor import MAX_NEIGHBOR_ADVERTISEMENT, NeighborDiscovery, NeighborState
from .registration import (
    BUL_PENDING,
    BUL_REGISTERED,
    HOME_REGISTRATION,
    SEQUENCE_MOD,
    DestinationLimits,
    Event,
    Exchange,
    RegistrationEngine,
    RegistrationState,
    refresh_schedule,
)

__all__ = [
    "BindingRefreshed", "Deregistered", "HomeRegistration", "HomeRegistrations", "PrefixDiscoveryNeeded",
    "Registered", "RegistrationFailed", "home_binding_update",
]


def home_binding_update(care_of: IPv6Address, home_agent: IPv6Address, home: IPv6Address, sequence: int,
                        lifetime: int) -> Packet:
    """§11.7.1: a home registration from the care-of address, HAO = home address, A = H = 1, Alternate
    CoA = the care-of address (also used by roles/fleet.py, so both speak the same BU)."""
    return Packet(src=care_of, dst=home_agent, home_address=home,
                  payload=BindingUpdate(sequence=sequence, lifetime=lifetime, ack=True, home=True,
                                        options=(AlternateCareOfAddress(care_of),)))


# ---------------------------------------------------------------- notifications

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

class HomeRegistration(Exchange):
    """One home address's registration: the engine's exchange with its home agent plus what the
    mobile node keeps beside it (the binding update list entry itself is in the BUL)."""
    __slots__ = ("active", "care_of", "expiry", "first", "home", "refresh", "registered_care_of")
    TABLE = HOME_REGISTRATION
    TIMERS = ("retransmit", "refresh", "expiry", "deferred")

    def __init__(self, home: HomeAddressConfig, sequence: int):
        super().__init__(sequence, RegistrationState.IDLE)
        self.home = home
        self.care_of: IPv6Address | None = None     # the care-of address of the outstanding / registered BU
        self.registered_care_of: IPv6Address | None = None
        self.first = True                  # no binding at the home agent yet (InitialBindackTimeoutFirstReg)
        self.active = False                # a BA accepted the current care-of address: tunnel usable
        self.refresh: Timer | None = None
        self.expiry: Timer | None = None

    @property
    def key(self) -> tuple[IPv6Address, IPv6Address]:
        """Its binding update list key: (home agent, home address)."""
        return (self.home.home_agent or UNSPECIFIED, self.home.address)

    @property
    def valid_until(self) -> int | None:
        return self.home.valid_until

    def __repr__(self) -> str:
        return f"HomeRegistration({self.home.address}, {self.state.name}, outstanding={self.outstanding})"


# ---------------------------------------------------------------- the registrations

class HomeRegistrations:
    """The home registrations of one mobile node (see the module docstring). ``care_of()`` and
    ``away_for(home)`` say where the node is; ``emit_nd(src, dst, message, dst_mac)`` sends a
    neighbour discovery message on the mobile interface. The hooks: ``needs_discovery(now, reg)`` (True:
    home agent discovery runs first and the BU waits), ``not_answering(now, reg)`` (a BU went unanswered
    at MAX_BINDACK_TIMEOUT; True: another home agent is being tried), ``rejected(now, reg)``,
    ``accepted(now, reg, status)``, ``registered(now, home, care_of)`` (a new care-of address accepted)
    and ``deregistered(now, home)`` (back home, the binding is gone)."""

    def __init__(self, node: NodeServices, config: MobileNodeConfig, iface: Interface, nd: NeighborDiscovery,
                 bul: BindingCache, limiter: DestinationLimits, *,
                 care_of: Callable[[], IPv6Address | None],
                 away_for: Callable[[IPv6Address], bool],
                 emit_nd: Callable[..., None],
                 needs_discovery: Callable[[int, HomeRegistration], bool],
                 not_answering: Callable[[int, HomeRegistration], bool],
                 rejected: Callable[[int, HomeRegistration], None],
                 accepted: Callable[[int, HomeRegistration, int], None],
                 registered: Callable[[int, IPv6Address, IPv6Address], None],
                 deregistered: Callable[[int, IPv6Address], None],
                 protect: Callable[[bytes, IPv6Address], bytes | None] | None = None,
                 auth: MnHaAuthentication | None = None,
                 switch_home_agent: Callable[[int, HomeRegistration, tuple[IPv6Address, ...]], None] | None = None):
        self.node = node
        # RFC 6275 §5.1, RFC 3776: every BU (retransmissions included, each with a new ESP sequence
        # number) leaves under the home address's SA when it has one; None: the SA is used up (counted).
        self._protect = protect if protect is not None else (lambda raw, home: raw)
        # RFC 4285: the home addresses with an MN-HA credential sign their BUs and check their BAs.
        self._auth = auth
        self.config = config
        self.iface = iface
        self.nd = nd
        self.bul = bul
        self._care_of = care_of
        self._away_for = away_for
        self._emit_nd = emit_nd
        self._needs_discovery = needs_discovery
        self._rejected = rejected
        self._accepted = accepted
        self._registered = registered
        self._deregistered_hook = deregistered
        self._switch_home_agent = switch_home_agent
        # §11.7.1 / §11.8: after a reboot the sequence number starts at a random value.
        self.registrations: dict[IPv6Address, HomeRegistration] = {
            h.address: HomeRegistration(h, node.rng.randrange(SEQUENCE_MOD)) for h in config.homes}
        self.defended: set[IPv6Address] = set()     # home addresses the node answers NS for (§11.5.5)
        self._home_na: dict[IPv6Address, Timer] = {}  # home address -> its next unsolicited NA back home
        self.engine: RegistrationEngine[HomeRegistration] = RegistrationEngine(
            call_at=node.call_at, counters=node.counters, prefix="mn", schedule=config.bu_schedule,
            limiter=limiter, rate_key=lambda reg: reg.home.home_agent, lifetime=self._bu_lifetime,
            transmit=self._transmit, unanswered=not_answering)

    def _count(self, what: str) -> None:
        self.node.counters[f"mn.{what}"] += 1

    @property
    def homes(self) -> tuple[HomeAddressConfig, ...]:
        """The home addresses as they are now, in configuration order (discovery may add, withdraw or
        retarget them)."""
        return tuple(reg.home for reg in self.registrations.values())

    def defends(self, address: IPv6Address) -> bool:
        return address in self.defended

    # ------------------------------------------------------------ registering (§11.7.1)

    def start(self, now: int, reg: HomeRegistration) -> None:
        """A registration of the current care-of address (first, new care-of address, refresh)."""
        if self._needs_discovery(now, reg):
            return          # §11.4.1: no home agent yet; DHAAD runs first (mn_discovery)
        reg.cancel("refresh")
        reg.apply(Event.REGISTER)
        reg.care_of = self._care_of()
        self.engine.begin(now, reg, first=reg.first)

    def register_all(self, now: int, at_home: set[IPv6Address]) -> None:
        """§11.5.2: a new primary care-of address, registered with every home agent not refused."""
        for reg in self.registrations.values():
            if reg.state is RegistrationState.FAILED or reg.home.address in at_home:
                continue
            self.start(now, reg)

    def _lifetime(self, now: int, reg: HomeRegistration) -> int:
        """§11.7.1: no longer than the remaining lifetime of the home address or the care-of address."""
        limit = self.config.lifetime * NS_PER_S
        coa = self.iface.addresses.get(reg.care_of) if reg.care_of is not None else None
        for until in (reg.home.valid_until, coa.valid_until if coa is not None else None):
            if until is not None:
                limit = min(limit, until - now)
        return max(0, min(MAX_LIFETIME, limit // NS_PER_S))

    def _bu_lifetime(self, now: int, reg: HomeRegistration) -> int | None:
        """The engine asks before each BU: 0 for a de-registration, else what §11.7.1 allows; None
        (nothing sent, back to IDLE) when the care-of or home address has no lifetime left."""
        if reg.state is RegistrationState.DEREGISTERING:
            return 0
        lifetime = self._lifetime(now, reg)
        if reg.care_of is None or lifetime == 0:
            self._count("bu_no_lifetime")
            reg.apply(Event.LAPSED)
            return None
        return lifetime

    def _transmit(self, now: int, reg: HomeRegistration, sequence: int, lifetime: int) -> None:
        ha = reg.home.home_agent
        assert ha is not None
        home = reg.home.address
        deregistering = reg.state is RegistrationState.DEREGISTERING
        assert reg.care_of is not None          # the engine asked ``_bu_lifetime`` first
        if deregistering:
            # §11.5.5: from the home address, no Home Address option, lifetime 0, A and H set.
            packet = Packet(src=home, dst=ha, payload=BindingUpdate(sequence=sequence, lifetime=0, ack=True, home=True))
        else:
            packet = home_binding_update(reg.care_of, ha, home, sequence, lifetime)
        packet = self._sign(now, packet, home, home if deregistering else reg.care_of)
        old = self.bul.get(reg.key)
        self.bul.pop(reg.key, None)
        self.bul.update(
            reg.key, reg.care_of, sequence, FLAG_ACK | FLAG_HOME | BUL_PENDING
            | (old.flags & BUL_REGISTERED if old is not None and reg.active else 0),
            old.expires_ns if old is not None and reg.active else now)
        raw = self._protect(packet.to_bytes(), home)
        if raw is None:
            return
        if deregistering:
            self._send_home(now, ha, raw)
        else:
            self.node.output_packet(now, raw)

    def _sign(self, now: int, packet: Packet, home: IPv6Address, care_of: IPv6Address) -> Packet:
        """RFC 4285: a BU for a home address with an MN-HA credential gets the NAI, timestamp and
        authentication options (``care_of``: the care-of address the authenticator covers)."""
        auth = self._auth
        if auth is None or not auth.protects(home):
            return packet
        assert isinstance(packet.payload, BindingUpdate)
        return replace(packet, payload=auth.sign_bu(now, packet.payload, home, care_of))

    def _send_home(self, now: int, ha: IPv6Address, raw: bytes) -> None:
        """A packet to the home agent from the home link before the node may use its home address in
        ND (§11.5.5): if the agent's link-layer address is not known, an NS from the unspecified address
        (the answer comes to all-nodes) and the packet waits in the neighbour entry."""
        entry = self.nd.neighbors.get(ha)
        if entry is not None and entry.state is not NeighborState.INCOMPLETE and entry.mac is not None:
            self.node.emit_frame(self.iface.name, entry.mac, raw)
            return
        self.nd.hold_for(ha, raw)         # only the newest BU (the others carry stale sequence numbers)
        self._emit_nd(UNSPECIFIED, solicited_node_multicast(ha), NeighborSolicitation(target=ha))

    def leave(self, now: int) -> None:
        """One BU with lifetime 0 per registration away from home (see ``MobileNode.leave``)."""
        for reg in self.registrations.values():
            home = reg.home.address
            if reg.care_of is None or not self._away_for(home) or reg.state not in (
                    RegistrationState.REGISTERED, RegistrationState.REGISTERING):
                continue
            reg.cancel()
            sequence = self.engine.stamp(now, reg, 0)
            reg.apply(Event.REGISTER)
            self._count("bu_leave_sent")
            assert reg.home.home_agent is not None
            packet = self._sign(now, home_binding_update(reg.care_of, reg.home.home_agent, home, sequence, 0),
                                home, reg.care_of)
            raw = self._protect(packet.to_bytes(), home)
            if raw is not None:
                self.node.output_packet(now, raw)

    @property
    def leaving(self) -> bool:
        """A BU sent by ``leave`` still awaits its BA."""
        return any(r.outstanding is not None and r.lifetime_asked == 0 and r.state is RegistrationState.REGISTERING
                   for r in self.registrations.values())

    # ------------------------------------------------------------ mobility messages from home agents

    def receive(self, now: int, packet: Packet, raw: bytes | None = None) -> None:
        """A Mobility Header message that is not a correspondent's (checked by the caller); ``raw``: the
        IPv6 packet as received (RFC 4285's authenticator covers its Mobility Header's bytes)."""
        msg = packet.payload
        home = packet.rh2 if packet.rh2 is not None else packet.dst
        reg = self.registrations.get(home)
        if reg is None or packet.src != reg.home.home_agent:
            self.node.drop("mn.mh_unknown_peer")
            return
        if self._away_for(home) and packet.rh2 is None:
            self.node.drop("mn.mh_without_rh2")           # §6.1.8/§9.5.4: a BA to a CoA carries an RH2
            return
        if isinstance(msg, BindingAcknowledgement):
            auth = self._auth
            if auth is not None and auth.protects(home):
                if not self._authenticated_ack(now, reg, msg, raw):
                    return
            self._on_binding_ack(now, reg, msg)
        elif isinstance(msg, BindingRefreshRequest):
            self._on_refresh_request(now, reg)
        elif isinstance(msg, HomeAgentSwitch):
            # RFC 5142 §6: register with one of the home agents it names (none: DHAAD)
            self._count("home_agent_switch_received")
            if self._switch_home_agent is not None:
                self._switch_home_agent(now, reg, msg.home_agent_addresses)
        else:
            self.node.drop(f"mn.mh_unhandled.{type(msg).__name__}")

    def _authenticated_ack(self, now: int, reg: HomeRegistration, ba: BindingAcknowledgement,
                           raw: bytes | None) -> bool:
        """RFC 4285: True when the BA may be acted on as any BA (§11.7.3); a 144 that authenticated
        resynchronises the clock and asks for a new BU (at once the first time, else on back-off)."""
        auth = self._auth
        assert auth is not None
        home = reg.home.address
        mh = None
        if raw is not None:
            mh = received_mh(raw)
            if mh is None:
                self.node.drop("auth4285.ba.malformed")
                return False
        check = auth.check_ba(now, mh, ba, home)
        if check is BaCheck.RESYNC:
            if self.engine.awaiting(reg) and ba.sequence == reg.outstanding and auth.resync(home):
                self.engine.resend(now, reg)
            return False
        return check is BaCheck.ACCEPT

    def _on_binding_ack(self, now: int, reg: HomeRegistration, ba: BindingAcknowledgement) -> None:
        """§11.7.3."""
        if not self.engine.acknowledged(now, reg, ba):
            return
        self.node.latencies.observe("mn_home_bu_ba", now - reg.sent_at)
        home = reg.home.address
        ha = reg.home.home_agent
        assert ha is not None
        if ba.status >= 128 and reg.state is RegistrationState.DEREGISTERING:
            # At home, a refused de-registration (e.g. 133: that agent holds no binding for us) leaves
            # nothing to undo: the node takes its home address back all the same, or it could not use
            # it on its own home link (§11.5.5 needs the node to defend it).
            self._count(f"ba_rejected.{ba.status}")
            self.node.notify(RegistrationFailed(now, home, ha, ba.status))
            self._deregistered(now, reg)
            return
        if ba.status >= 128:
            self._count(f"ba_rejected.{ba.status}")
            reg.apply(Event.REJECTED)
            reg.active = False
            reg.cancel()
            self.bul.pop(reg.key, None)
            self.node.notify(RegistrationFailed(now, home, ha, ba.status))
            self._rejected(now, reg)
            return
        if reg.state is RegistrationState.DEREGISTERING:
            self._deregistered(now, reg)
            return
        if reg.lifetime_asked == 0 and ba.lifetime == 0:
            # The answer to ``leave``: the home agent deleted the binding.
            self._count("left")
            reg.apply(Event.LAPSED)
            reg.active = False
            self.bul.pop(reg.key, None)
            self.node.notify(Deregistered(now, home))
            return
        if ba.lifetime == 0:
            self.node.drop("mn.ba_zero_lifetime")        # accepted with no lifetime: nothing to refresh
            reg.apply(Event.LAPSED)
            reg.active = False
            self.bul.pop(reg.key, None)
            return
        granted, expires, refresh_at = refresh_schedule(ba, reg.sent_at, reg.lifetime_asked,
                                                        self.config.initial_bindack_timeout)
        assert reg.care_of is not None
        new_care_of = not reg.active or reg.registered_care_of != reg.care_of
        reg.apply(Event.ACCEPTED)
        reg.active = True
        reg.first = False
        reg.registered_care_of = reg.care_of
        self.bul.pop(reg.key, None)
        self.bul.update(reg.key, reg.care_of, ba.sequence, FLAG_ACK | FLAG_HOME | BUL_REGISTERED, expires)
        reg.cancel("refresh", "expiry")
        reg.refresh = self.node.call_at(max(now, refresh_at), lambda t: self._refresh(t, reg))
        reg.expiry = self.node.call_at(expires, lambda t: self._binding_expired(t, reg))
        if new_care_of:
            self.node.notify(Registered(now, home, reg.care_of, granted))
            self._registered(now, home, reg.care_of)
        else:
            self.node.notify(BindingRefreshed(now, home, reg.care_of, granted))
        if ba.status == 1:
            self.node.notify(PrefixDiscoveryNeeded(now, home, ha))
        self._accepted(now, reg, ba.status)

    def _refresh(self, now: int, reg: HomeRegistration) -> None:
        reg.refresh = None
        if self._away_for(reg.home.address) and reg.state is RegistrationState.REGISTERED:
            self._count("bu_refresh")
            self.start(now, reg)

    def _binding_expired(self, now: int, reg: HomeRegistration) -> None:
        reg.expiry = None
        entry = self.bul.get(reg.key)
        if entry is None or entry.expires_ns > now or not entry.flags & BUL_REGISTERED:
            return
        self._count("binding_expired")
        reg.active = False
        reg.first = True
        self.bul.pop(reg.key, None)

    def _on_refresh_request(self, now: int, reg: HomeRegistration) -> None:
        """§11.7.4: a Binding Refresh Request is answered with a new BU."""
        self._count("brr_received")
        if self._away_for(reg.home.address) and reg.state in (RegistrationState.REGISTERED,
                                                              RegistrationState.REGISTERING):
            self.start(now, reg)
        else:
            self.node.drop("mn.brr_not_registered")

    def _deregistered(self, now: int, reg: HomeRegistration) -> None:
        """§11.5.5: after the de-registration BA, an unsolicited NA to all-nodes advertises the home
        address with our MAC (O = 1, S = 0), and the node answers NS for it from then on."""
        home = reg.home.address
        reg.apply(Event.DEREGISTERED)
        reg.active = False
        reg.first = True
        reg.cancel()
        self.bul.pop(reg.key, None)
        self.defended.add(home)
        timer = self._home_na.pop(home, None)
        if timer is not None:
            timer.cancel()
        self._advertise_home(now, home, MAX_NEIGHBOR_ADVERTISEMENT)
        self.node.notify(Deregistered(now, home))
        self._deregistered_hook(now, home)

    def _advertise_home(self, now: int, home: IPv6Address, remaining: int) -> None:
        """The unsolicited NA for a home address back home, repeated MAX_NEIGHBOR_ADVERTISEMENT times
        RetransTimer apart (RFC 4861 §7.2.6): one lost NA would leave the home link's caches pointing
        at the home agent. Stops when the node no longer defends the address (it left again)."""
        self._home_na.pop(home, None)
        if home not in self.defended:
            return
        self._count("home_na_sent")
        self._emit_nd(home, ALL_NODES, NeighborAdvertisement(
            target=home, router=False, solicited=False, override=True,
            options=(TargetLinkLayerAddress(self.iface.mac),)))
        if remaining > 1:
            self._home_na[home] = self.node.call_at(now + self.nd.retrans_timer,
                                                    lambda t: self._advertise_home(t, home, remaining - 1))

    # ------------------------------------------------------------ movement (told by the mobile node)

    def _pause(self, reg: HomeRegistration) -> None:
        # A late BA for the old care-of address no longer counts; a refused registration stays so.
        reg.active = False
        reg.outstanding = None
        if reg.state is not RegistrationState.FAILED:
            reg.cancel("retransmit", "refresh", "deferred")

    def pause_all(self) -> None:
        """The node left its link for a foreign one: nothing registered is usable until the new care-of
        address is (``register_all``); the node defends no home address there."""
        self.defended.clear()
        for reg in self.registrations.values():
            self._pause(reg)

    def arrive_home(self, now: int, at_home: set[IPv6Address], homes: list[HomeAddressConfig],
                    left: set[IPv6Address]) -> None:
        """§11.5.5: the node is on the home link of ``homes`` (``at_home``: their addresses; ``left``:
        home addresses whose home link it was on before). The others' bindings point at a care-of
        address that is gone: paused until a care-of address on this link is registered."""
        self.defended -= left
        for reg in self.registrations.values():
            if reg.home.address not in at_home:
                self._pause(reg)
        for home in homes:
            reg = self.registrations[home.address]
            reg.active = False
            reg.cancel()
            if reg.first and reg.state in (RegistrationState.IDLE, RegistrationState.HOME,
                                           RegistrationState.FAILED):
                reg.apply(Event.AT_HOME)           # no binding at the home agent to remove
                self.defended.add(home.address)
                continue
            reg.apply(Event.DEREGISTER)
            reg.care_of = home.address
            self.engine.begin(now, reg)

    def deregistered(self, address: IPv6Address) -> bool:
        """At home for ``address`` with no binding left at its home agent."""
        return self.registrations[address].state is RegistrationState.HOME

    # ------------------------------------------------------------ home agents and home addresses (discovery)

    def await_home_agent(self, reg: HomeRegistration) -> None:
        """Home agent discovery runs for ``reg`` first: nothing outstanding at any agent."""
        reg.cancel("retransmit", "refresh", "deferred")
        reg.outstanding = None
        reg.apply(Event.DISCOVER)     # nothing at a home agent yet: at home, nothing to undo

    def retarget(self, reg: HomeRegistration, agent: IPv6Address | None) -> None:
        """Register ``reg`` with ``agent`` from now on: the old binding update list entry goes, timers
        stop, and the next registration is a first one (the new agent has no binding: §11.8 timeout,
        §10.3.1 DAD)."""
        if reg.home.home_agent is not None:
            self.bul.pop(reg.key, None)
        reg.cancel("retransmit", "refresh", "expiry", "deferred")
        reg.outstanding = None
        reg.active = False
        reg.first = True
        reg.registered_care_of = None
        self.replace_home(reg, home_agent=agent)

    def retry_after_rejection(self, reg: HomeRegistration) -> None:
        """A refused registration becomes idle again, to be tried with the next home agent."""
        reg.apply(Event.RETARGET)

    def replace_home(self, reg: HomeRegistration, **changes) -> None:
        """``reg.home`` is frozen: replaced."""
        reg.home = replace(reg.home, **changes)

    def add(self, home: HomeAddressConfig) -> HomeRegistration:
        """A new home address (one registration per home address)."""
        reg = self.registrations[home.address] = HomeRegistration(home, self.node.rng.randrange(SEQUENCE_MOD))
        return reg

    def withdraw(self, address: IPv6Address) -> HomeRegistration:
        """``address`` is no longer a home address: its registration and entry go."""
        reg = self.registrations.pop(address)
        reg.cancel()
        self.bul.pop(reg.key, None)
        self.defended.discard(address)
        return reg
