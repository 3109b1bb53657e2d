"""Home agent discovery and mobile prefix discovery on the mobile node (RFC 6275 §11.4), sans-I/O.

Theory of operation
-------------------
``MobileNodeDiscovery`` is a mixin of ``MobileNode`` (mobile_node.py calls into it from a handful of
hooks; everything else about registration stays there). Per home address it keeps a
``_HomeAgentSearch`` and, while one is outstanding, a ``_Solicitation``.

Dynamic Home Agent Address Discovery (§11.4.1). A home address without a home agent
(``HomeAddressConfig.home_agent`` None) is registered by first sending a DHAAD Request from the care-of
address to the Home-Agents anycast address of its home prefix (RFC 2526: interface identifier
fdff:ffff:ffff:fffe for a /64) with a fresh identifier, retransmitted after INITIAL_DHAAD_TIMEOUT,
doubling, DHAAD_RETRIES times (§12). A Reply to the care-of address echoing the identifier gives the
home agents in the order to try (§10.5: decreasing preference). The node registers with the first; a
home agent that leaves the BUs unanswered through the whole §11.8 schedule (the backoff reaches
MAX_BINDACK_TIMEOUT and one BU is sent at that interval, UNANSWERED_AT_MAX_BINDACK), or rejects
the registration, is replaced by the next one on the list, and when the list is used up DHAAD runs
again. A configured home agent that stops answering falls back to DHAAD the same way
(``MobileNodeConfig.fallback_to_discovery``); if DHAAD then finds nothing, the configured agent is
tried again. Changing home agent removes the old (home agent, home address) binding update list entry
and rebuilds the per-home-agent data paths, so no packet goes through the old agent afterwards.

Mobile prefix discovery (§11.4.2, §11.4.3). A Mobile Prefix Solicitation goes from the care-of address
with a Home Address option to the home agent after a Binding Acknowledgement with status 1, and when the
home address's remaining valid lifetime falls below the binding lifetime the node asks for (the prefix
would cut the binding short: "about to expire"); it is retransmitted from INITIAL_SOLICIT_TIMER,
doubling, and given up once the interval would pass MAX_BINDACK_TIMEOUT (the §11.8 rule for BUs; the
RFC gives no count). A Mobile Prefix Advertisement is accepted only from the home agent of the home
address in its Type 2 routing header, sent to the current care-of address; while a solicitation is
outstanding its identifier must match. Each Prefix Information option then: refreshes the valid
lifetime of the home addresses on that prefix; a valid lifetime of 0 withdraws them (registration
dropped, binding update list entry removed; the home agent's binding runs out with the prefix, §10.3.1
caps it there); a new prefix of the same length gets a home address with the same interface
identifier, registered with the same home agent. An unsolicited advertisement is acknowledged by a
Binding Update (§11.4.3), which also stops the home agent's retransmissions (§10.6.2).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any

import numpy as np

from ..datapath import MobileNodeDataPath
from ..wire import (
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
    PrefixInformation,
    home_agents_anycast,
)
from .events import NS_PER_S, Notification, Timer
from .interface import LINK_LOCAL, UNSPECIFIED

if TYPE_CHECKING:
    from .mobile_node import HomeAddressConfig, _Registration

__all__ = [
    "DHAAD_RETRIES", "INITIAL_DHAAD_TIMEOUT", "INITIAL_SOLICIT_TIMER", "HomeAddressWithdrawn",
    "HomeAgentChanged", "HomeAgentDiscovered", "HomeAgentDiscoveryFailed", "HomePrefixChanged",
    "MobileNodeDiscovery",
]

# RFC 6275 §12 (PROTOCOL.md "Constants and defaults"), in ns.
INITIAL_DHAAD_TIMEOUT = 3 * NS_PER_S
DHAAD_RETRIES = 4
INITIAL_SOLICIT_TIMER = 3 * NS_PER_S
INFINITE_LIFETIME = 0xFFFFFFFF          # RFC 4861 §4.6.2: all ones is infinity
# A home agent is given up when this many BUs in a row went unanswered after waiting the capped
# interval: the §11.8 schedule runs up to MAX_BINDACK_TIMEOUT and one BU is sent at that interval.
UNANSWERED_AT_MAX_BINDACK = 2


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class HomeAgentDiscovered(Notification):
    """A DHAAD Reply (§11.4.1): the home agents for ``home_address``, in the order they will be tried."""
    home_address: IPv6Address
    home_agents: tuple[IPv6Address, ...]


@dataclass(frozen=True)
class HomeAgentChanged(Notification):
    """The node now registers ``home_address`` with ``new`` instead of ``old``; ``reason``:
    "not_answering" (BU retransmissions exhausted), "rejected" (BA status >= 128) or "rediscovered"."""
    home_address: IPv6Address
    old: IPv6Address
    new: IPv6Address
    reason: str


@dataclass(frozen=True)
class HomeAgentDiscoveryFailed(Notification):
    """DHAAD_RETRIES retransmissions of the DHAAD Request went unanswered (or every reply was empty)."""
    home_address: IPv6Address


@dataclass(frozen=True)
class HomePrefixChanged(Notification):
    """A Mobile Prefix Advertisement (§11.4.3) changed ``prefix``: ``home_address`` is the node's home
    address on it (a new one when ``added``); valid lifetime 0 means the prefix is withdrawn."""
    home_address: IPv6Address
    prefix: IPv6Network
    valid_lifetime: int
    preferred_lifetime: int
    added: bool


@dataclass(frozen=True)
class HomeAddressWithdrawn(Notification):
    """The home prefix of ``home_address`` was withdrawn: the node no longer registers or uses it."""
    home_address: IPv6Address


# ---------------------------------------------------------------- state

@dataclass
class _HomeAgentSearch:
    """Home agent discovery for one home address."""
    configured: IPv6Address | None            # from the configuration; None: DHAAD only
    candidates: tuple[IPv6Address, ...] = ()  # the last DHAAD Reply's list
    index: int = 0                            # candidates[index] is the home agent in use
    identifier: int | None = None             # of the outstanding DHAAD Request
    timeout: int = 0
    retries_left: int = 0
    last_used: IPv6Address | None = None      # the home agent the node last registered with


@dataclass
class _Solicitation:
    """An outstanding Mobile Prefix Solicitation (§11.4.2)."""
    identifier: int
    timeout: int
    timer: Timer | None = None


def _same_lifetime(a: int | None, b: int | None) -> bool:
    """Two valid-until deadlines that differ by less than the one-second granularity of the Prefix
    Information option (plus transit) are the same lifetime, re-advertised."""
    if a is None or b is None:
        return a is b
    return abs(a - b) <= NS_PER_S


def _mn() -> Any:
    # mobile_node imports this module (its class derives from the mixin), so its names are looked up
    # when a method runs, not at import time.
    from . import mobile_node
    return mobile_node


# ---------------------------------------------------------------- the mixin

class MobileNodeDiscovery:
    """DHAAD and Mobile Prefix Solicitation / Advertisement for ``MobileNode`` (see the module doc)."""

    if TYPE_CHECKING:       # provided by MobileNode / Node
        config: Any
        registrations: dict[IPv6Address, _Registration]
        care_of: IPv6Address | None
        location: Any
        iface: Any
        rng: Any
        counters: Any
        binding_update_list: Any
        _out_paths: dict[IPv6Address, MobileNodeDataPath]
        _in_paths: dict[IPv6Address, MobileNodeDataPath]
        _home_packed: np.ndarray
        _home_ns_answered: set[IPv6Address]
        _at_home: set[IPv6Address]
        route_optimization: Any

        def _away_for(self, home: IPv6Address) -> bool: ...

        def _count(self, what: str) -> None: ...
        def drop(self, reason: str) -> None: ...
        def notify(self, notification: Notification) -> None: ...
        def call_at(self, deadline: int, callback) -> Timer: ...
        def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None: ...
        def _start_registration(self, now: int, reg: _Registration) -> None: ...

    def _init_discovery(self) -> None:
        self._searches: dict[IPv6Address, _HomeAgentSearch] = {
            h.address: _HomeAgentSearch(h.home_agent, last_used=h.home_agent) for h in self.config.homes}
        self._solicitations: dict[IPv6Address, _Solicitation] = {}
        self._prefix_watch: dict[IPv6Address, Timer] = {}
        self._near_expiry_solicited: set[IPv6Address] = set()     # home addresses already solicited for
        self._unanswered_at_max: dict[IPv6Address, int] = {}       # BU waits at the cap, this attempt

    # ------------------------------------------------------------ hooks called by MobileNode

    def _registration_needs_discovery(self, now: int, reg: _Registration) -> bool:
        """Before a registration: without a home agent, DHAAD runs first (True: the BU waits)."""
        self._unanswered_at_max.pop(reg.home.address, None)      # a new attempt, a new schedule
        if reg.home.home_agent is not None:
            return False
        self._start_dhaad(now, reg)
        return True

    def _home_agent_not_answering(self, now: int, reg: _Registration) -> bool:
        """A BU went unanswered with the backoff at MAX_BINDACK_TIMEOUT (§11.8). Away from home, once
        UNANSWERED_AT_MAX_BINDACK of them did, try the next listed home agent, else DHAAD again
        (§11.4.1). True when that happened."""
        mn = _mn()
        home = reg.home.address
        search = self._searches[home]
        if not self._away_for(home) or reg.state is not mn.RegistrationState.REGISTERING:
            return False
        waits = self._unanswered_at_max[home] = self._unanswered_at_max.get(home, 0) + 1
        if waits < UNANSWERED_AT_MAX_BINDACK:
            return False
        discovered = bool(search.candidates) and reg.home.home_agent == search.candidates[search.index]
        if not discovered and not self.config.fallback_to_discovery:
            return False
        self._count("home_agent_not_answering")
        self._next_home_agent(now, reg, "not_answering")
        return True

    def _home_agent_rejected(self, now: int, reg: _Registration) -> None:
        """A discovered home agent refused the registration (status >= 128): the next one on the list is
        tried (§11.4.1); with none left the registration stays failed, as with a configured agent."""
        search = self._searches[reg.home.address]
        if search.candidates and search.index + 1 < len(search.candidates) \
                and reg.home.home_agent == search.candidates[search.index]:
            reg.state = _mn().RegistrationState.IDLE
            self._next_home_agent(now, reg, "rejected")

    def _home_registration_accepted(self, now: int, reg: _Registration, status: int) -> None:
        """After an accepted BA: status 1 asks for prefix discovery (§11.7.3); the home address's
        lifetime is watched so the node solicits before its prefix runs out (§11.4.2)."""
        search = self._searches.get(reg.home.address)
        if search is not None:
            search.last_used = reg.home.home_agent
        if status == 1:
            self._solicit_prefixes(now, reg)
        self._watch_home_lifetime(now, reg)

    def _discovery_message(self, now: int, packet: Packet) -> bool:
        """A DHAAD Reply or a Mobile Prefix Advertisement for this node (True: handled here)."""
        msg = packet.payload
        if isinstance(msg, HomeAgentAddressDiscoveryReply):
            self._on_dhaad_reply(now, packet, msg)
            return True
        if isinstance(msg, MobilePrefixAdvertisement):
            self._on_prefix_advertisement(now, packet, msg)
            return True
        return False

    # ------------------------------------------------------------ DHAAD (§11.4.1)

    def _start_dhaad(self, now: int, reg: _Registration) -> None:
        mn = _mn()
        search = self._searches[reg.home.address]
        reg.cancel("retransmit", "refresh", "deferred")
        reg.outstanding = None
        reg.state = mn.RegistrationState.IDLE     # nothing at a home agent yet: at home, nothing to undo
        search.identifier = self.rng.randrange(1 << 16)
        search.timeout = self.config.initial_dhaad_timeout
        search.retries_left = self.config.dhaad_retries
        self._send_dhaad(now, reg)

    def _send_dhaad(self, now: int, reg: _Registration) -> None:
        search = self._searches[reg.home.address]
        if not self._away_for(reg.home.address) or self.care_of is None or search.identifier is None:
            search.identifier = None        # at home the RAs name the home agents; a move restarts it
            return
        # §11.4.1: from the care-of address (no Home Address option) to the Home-Agents anycast address.
        packet = Packet(src=self.care_of, dst=home_agents_anycast(reg.home.prefix),
                        payload=HomeAgentAddressDiscoveryRequest(search.identifier))
        self._count("dhaad.request_sent")
        self.output_packet(now, packet.to_bytes())
        reg.retransmit = self.call_at(now + search.timeout, lambda t: self._dhaad_timeout(t, reg))

    def _dhaad_timeout(self, now: int, reg: _Registration) -> None:
        reg.retransmit = None
        search = self._searches.get(reg.home.address)
        if search is None or search.identifier is None:
            return
        if search.retries_left > 0:
            # §11.4.1, §12: INITIAL_DHAAD_TIMEOUT doubling, DHAAD_RETRIES retransmissions.
            search.retries_left -= 1
            search.timeout *= 2
            self._count("dhaad.retransmitted")
            self._send_dhaad(now, reg)
            return
        search.identifier = None
        self._count("dhaad.failed")
        self.notify(HomeAgentDiscoveryFailed(now, reg.home.address))
        if search.configured is not None:
            # Nothing found: the configured home agent may be back.
            self._use_home_agent(now, reg, search.configured, "rediscovered")
            self._start_registration(now, reg)
        else:
            # Try again later, no faster than a BU at the end of its backoff would be.
            reg.retransmit = self.call_at(now + self.config.max_bindack_timeout,
                                          lambda t: self._retry_dhaad(t, reg))

    def _retry_dhaad(self, now: int, reg: _Registration) -> None:
        reg.retransmit = None
        if reg.home.address in self.registrations and reg.home.home_agent is None:
            self._start_dhaad(now, reg)

    def _on_dhaad_reply(self, now: int, packet: Packet, msg: HomeAgentAddressDiscoveryReply) -> None:
        reg = next((self.registrations[home] for home, s in self._searches.items()
                    if s.identifier == msg.identifier and home in self.registrations), None)
        if reg is None or packet.dst != self.care_of or packet.home_address is not None:
            self.drop("mn.dhaad_reply_unexpected")     # §11.4.1: must echo an outstanding identifier
            return
        agents: list[IPv6Address] = []
        for a in msg.addresses:
            if a in LINK_LOCAL or a.is_multicast or a == UNSPECIFIED or a.is_loopback or a in agents:
                self._count("dhaad.address_ignored")
                continue
            agents.append(a)
        if not agents:
            self.drop("mn.dhaad_reply_empty")          # keep waiting: a retransmission may do better
            return
        search = self._searches[reg.home.address]
        search.identifier = None
        if reg.retransmit is not None:
            reg.retransmit.cancel()
            reg.retransmit = None
        search.candidates = tuple(agents)
        search.index = 0
        self._count("dhaad.reply_accepted")
        self.notify(HomeAgentDiscovered(now, reg.home.address, search.candidates))
        self._use_home_agent(now, reg, agents[0], "rediscovered")
        self._start_registration(now, reg)

    def _next_home_agent(self, now: int, reg: _Registration, reason: str) -> None:
        search = self._searches[reg.home.address]
        if search.candidates and search.index + 1 < len(search.candidates) \
                and reg.home.home_agent == search.candidates[search.index]:
            search.index += 1
            self._use_home_agent(now, reg, search.candidates[search.index], reason)
            self._start_registration(now, reg)
            return
        # The list is used up (or the agent was configured): ask the home link again.
        search.candidates = ()
        self._use_home_agent(now, reg, None, reason)
        self._start_dhaad(now, reg)

    def _use_home_agent(self, now: int, reg: _Registration, agent: IPv6Address | None, reason: str) -> None:
        """Retarget ``reg`` to ``agent``: the old binding update list entry goes, timers stop, the next
        registration is a first one (the new agent has no binding: §11.8 timeout, §10.3.1 DAD), and the
        data paths are rebuilt so nothing is tunnelled through the old agent."""
        old = reg.home.home_agent
        if old == agent:
            return
        if old is not None:
            self.binding_update_list.pop(reg.key, None)
        reg.cancel("retransmit", "refresh", "expiry", "deferred")
        reg.outstanding = None
        reg.active = False
        reg.first = True
        reg.registered_care_of = None
        self._replace_home(reg, home_agent=agent)
        search = self._searches[reg.home.address]
        if agent is not None and search.last_used is not None and search.last_used != agent:
            self._count("home_agent_changed")
            self.notify(HomeAgentChanged(now, reg.home.address, search.last_used, agent, reason))
        if agent is not None:
            search.last_used = agent

    # ------------------------------------------------------------ Mobile Prefix Solicitation (§11.4.2)

    def _watch_home_lifetime(self, now: int, reg: _Registration) -> None:
        home = reg.home.address
        timer = self._prefix_watch.pop(home, None)
        if timer is not None:
            timer.cancel()
        until = reg.home.valid_until
        # "About to expire": less lifetime left than the binding the node asks for. Solicited once
        # per such period: an answer confirming the short lifetime does not start another.
        at = None if until is None else until - self.config.lifetime * NS_PER_S
        if at is None or at > now:
            self._near_expiry_solicited.discard(home)
            if at is not None:
                self._prefix_watch[home] = self.call_at(at, lambda t: self._home_lifetime_low(t, reg))
            return
        self._home_lifetime_low(now, reg)

    def _home_lifetime_low(self, now: int, reg: _Registration) -> None:
        home = reg.home.address
        self._prefix_watch.pop(home, None)
        if self.registrations.get(home) is reg and home not in self._near_expiry_solicited:
            self._near_expiry_solicited.add(home)
            self._solicit_prefixes(now, reg)

    def _solicit_prefixes(self, now: int, reg: _Registration) -> None:
        home = reg.home.address
        if home in self._solicitations:
            return                          # one outstanding solicitation per home address
        sol = _Solicitation(self.rng.randrange(1 << 16), self.config.initial_solicit_timeout)
        self._solicitations[home] = sol
        self._send_mps(now, reg, sol)

    def _send_mps(self, now: int, reg: _Registration, sol: _Solicitation) -> None:
        sol.timer = None
        home = reg.home.address
        if (not self._away_for(home) or self.care_of is None or not reg.active
                or reg.home.home_agent is None or self.registrations.get(home) is not reg):
            # The home agent answers only for a binding whose care-of address sent the solicitation.
            self._solicitations.pop(home, None)
            self._count("mps.abandoned")
            return
        # §11.4.2: from the care-of address, Home Address option = the home address, to the home agent.
        packet = Packet(src=self.care_of, dst=reg.home.home_agent, home_address=home,
                        payload=MobilePrefixSolicitation(sol.identifier))
        self._count("mps.sent")
        self.output_packet(now, packet.to_bytes())
        sol.timer = self.call_at(now + sol.timeout, lambda t: self._mps_timeout(t, reg, sol))

    def _mps_timeout(self, now: int, reg: _Registration, sol: _Solicitation) -> None:
        sol.timer = None
        if self._solicitations.get(reg.home.address) is not sol:
            return
        if sol.timeout >= self.config.max_bindack_timeout:
            self._solicitations.pop(reg.home.address, None)
            self._count("mps.unanswered")
            return
        sol.timeout = min(sol.timeout * 2, self.config.max_bindack_timeout)
        self._count("mps.retransmitted")
        self._send_mps(now, reg, sol)

    # ------------------------------------------------------------ Mobile Prefix Advertisement (§11.4.3)

    def _on_prefix_advertisement(self, now: int, packet: Packet, msg: MobilePrefixAdvertisement) -> None:
        if packet.rh2 is None:
            self.drop("mn.mpa_without_rh2")          # §11.4.3: it comes with a Type 2 routing header
            return
        reg = self.registrations.get(packet.rh2)
        if reg is None:
            self.drop("mn.mpa_unknown_home_address")
            return
        if packet.src != reg.home.home_agent or packet.dst != self.care_of:
            self.drop("mn.mpa_not_from_home_agent")  # §11.4.3: only the home agent's, to the CoA
            return
        home = reg.home.address
        sol = self._solicitations.get(home)
        if sol is not None and msg.identifier != sol.identifier:
            self.drop("mn.mpa_identifier_mismatch")  # §11.4.3: a solicited one echoes the identifier
            return
        if sol is not None:
            if sol.timer is not None:
                sol.timer.cancel()
            del self._solicitations[home]
            self._count("mpa.solicited")
        else:
            self._count("mpa.unsolicited")
        added: list[IPv6Address] = []
        withdrawn: list[IPv6Address] = []
        plen = reg.home.prefix_length
        iid = int(home) & ((1 << (128 - plen)) - 1)
        for opt in msg.options:
            if not isinstance(opt, PrefixInformation):
                continue
            prefix = IPv6Network((opt.prefix, opt.prefix_length), strict=False)
            valid = opt.valid_lifetime
            preferred = min(opt.preferred_lifetime, valid)
            valid_until = None if valid == INFINITE_LIFETIME else now + valid * NS_PER_S
            on_prefix = [r for r in self.registrations.values() if r.home.prefix == prefix]
            for r in on_prefix:
                if valid == 0:
                    withdrawn.append(r.home.address)
                elif not _same_lifetime(r.home.valid_until, valid_until):
                    self._replace_home(r, valid_until=valid_until)
                    self._watch_home_lifetime(now, r)
                else:
                    continue
                self.notify(HomePrefixChanged(now, r.home.address, prefix, valid, preferred, False))
            if on_prefix or valid == 0:
                continue
            if prefix.prefixlen != plen:
                self._count("mpa.prefix_length_mismatch")   # the interface identifier would not fit
                continue
            address = IPv6Address(int(prefix.network_address) | iid)
            if address in LINK_LOCAL or address.is_multicast or address.is_loopback:
                self._count("mpa.prefix_ignored")
                continue
            self._add_home(now, _mn().HomeAddressConfig(address, reg.home.home_agent, plen, valid_until), reg)
            added.append(address)
            self.notify(HomePrefixChanged(now, address, prefix, valid, preferred, True))
        mn = _mn()
        away = self.care_of is not None and self._away_for(home)
        if sol is None and home not in withdrawn and away and reg.state is mn.RegistrationState.REGISTERED:
            # §11.4.3: an unsolicited advertisement is acknowledged with a Binding Update, which also
            # ends the home agent's retransmissions (§10.6.2).
            self._count("mpa.acknowledged_by_bu")
            self._start_registration(now, reg)
        for address in added:
            if self.care_of is not None and self._away_for(address):
                self._start_registration(now, self.registrations[address])
        for address in withdrawn:
            self._withdraw_home(now, address)

    def _add_home(self, now: int, home: HomeAddressConfig, like: _Registration) -> None:
        """A new home address (one registration per home address), served by ``like``'s home agent."""
        mn = _mn()
        self.config = replace(self.config, homes=(*self.config.homes, home))
        self.registrations[home.address] = mn._Registration(home, self.rng.randrange(mn.SEQUENCE_MOD))
        old = self._searches[like.home.address]
        self._searches[home.address] = _HomeAgentSearch(None, old.candidates, old.index,
                                                         last_used=home.home_agent)
        self._rebuild_data_paths()

    def _withdraw_home(self, now: int, address: IPv6Address) -> None:
        if len(self.config.homes) == 1:
            self._count("mpa.last_home_address_kept")   # a node needs a home address to be reachable at
            return
        reg = self.registrations.pop(address)
        reg.cancel()
        self.binding_update_list.pop(reg.key, None)
        self._searches.pop(address, None)
        sol = self._solicitations.pop(address, None)
        if sol is not None and sol.timer is not None:
            sol.timer.cancel()
        timer = self._prefix_watch.pop(address, None)
        if timer is not None:
            timer.cancel()
        self._near_expiry_solicited.discard(address)
        self._home_ns_answered.discard(address)
        self._at_home.discard(address)
        ro = self.route_optimization
        for key, b in list(ro.bindings.items()):
            if b.home == address:
                # Route optimisation from a withdrawn home address stops with it (no HAO from it).
                b.cancel()
                self.binding_update_list.pop(b.key, None)
                del ro.bindings[key]
        self.config = replace(self.config, homes=tuple(h for h in self.config.homes if h.address != address))
        self._rebuild_data_paths()
        self._count("home_address_withdrawn")
        self.notify(HomeAddressWithdrawn(now, address))

    # ------------------------------------------------------------ shared plumbing

    def _replace_home(self, reg: _Registration, **changes) -> None:
        """``reg.home`` and the configuration's entry are frozen: both are replaced."""
        reg.home = replace(reg.home, **changes)
        self.config = replace(self.config, homes=tuple(reg.home if h.address == reg.home.address else h
                                                        for h in self.config.homes))
        if "home_agent" in changes:
            self._rebuild_data_paths()

    def _rebuild_data_paths(self) -> None:
        """One outbound path per home address, one inbound per home agent (as MobileNode.__init__
        builds them), from the current registrations."""
        mn = _mn()
        care_of = self.care_of or UNSPECIFIED
        mtu = self.iface.mtu
        site_local = self.config.allow_site_local
        self._out_paths = {
            home: MobileNodeDataPath([home], care_of, reg.home.home_agent or UNSPECIFIED,
                                     self.binding_update_list, tunnel_mtu=max(mtu, mn.MIN_TUNNEL_MTU), mtu=mtu,
                                     allow_site_local=site_local)
            for home, reg in self.registrations.items()}
        by_agent: dict[IPv6Address, list[IPv6Address]] = {}
        for home, reg in self.registrations.items():
            by_agent.setdefault(reg.home.home_agent or UNSPECIFIED, []).append(home)
        self._in_paths = {agent: MobileNodeDataPath(homes, care_of, agent, self.binding_update_list, mtu=mtu,
                                                    allow_site_local=site_local)
                          for agent, homes in by_agent.items()}
        self._home_packed = np.frombuffer(b"".join(h.packed for h in self.registrations),
                                          dtype=np.uint8).reshape(-1, 16)
