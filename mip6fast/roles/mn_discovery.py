"""Home agent discovery and mobile prefix discovery on the mobile node (RFC 6275 §11.4), sans-I/O.

Theory of operation
-------------------
``MobileNodeDiscovery`` is an object the ``MobileNode`` holds. It drives the node's home registrations
(``mn_registration.HomeRegistrations``, given to it): it is asked before a registration whether a home
agent must be found first, and told when a home agent does not answer, refuses, or accepts. Per home
address it keeps a ``_HomeAgentSearch`` and, while one is outstanding, a ``_Solicitation``. What it
needs of the node beyond that is passed in: the care-of address, whether the node is away from a home
address's home link, and two callables for when the home agents or home addresses changed (the data
paths are rebuilt; route optimisation and movement detection forget a withdrawn address).

Dynamic Home Agent Address Discovery (§11.4.1). A home address without a home agent
(``HomeAddressConfig.home_agent`` None) is registered by first sending a DHAAD Request from the care-of
address to the Home-Agents anycast address of its home prefix (RFC 2526: interface identifier
fdff:ffff:ffff:fffe for a /64) with a fresh identifier, retransmitted after INITIAL_DHAAD_TIMEOUT,
doubling (the registration engine's ``Backoff``), DHAAD_RETRIES times (§12). A Reply to the care-of
address echoing the identifier gives the home agents in the order to try (§10.5: decreasing
preference). The node registers with the first; a home agent that leaves the BUs unanswered through
the whole §11.8 schedule (the backoff reaches MAX_BINDACK_TIMEOUT and one BU is sent at that interval,
UNANSWERED_AT_MAX_BINDACK), or rejects the registration, is replaced by the next one on the list, and
when the list is used up DHAAD runs again. A configured home agent that stops answering falls back to
DHAAD the same way (``MobileNodeConfig.fallback_to_discovery``); if DHAAD then finds nothing, the
configured agent is tried again. Changing home agent removes the old (home agent, home address) binding
update list entry and rebuilds the per-home-agent data paths, so no packet goes through the old agent
afterwards. Leaving a link stops the DHAAD retransmissions (``pause``); the next care-of address starts
a new request.

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

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from ..wire import (
    INFINITE_LIFETIME,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
    PrefixInformation,
    home_agents_anycast,
)
from .events import NS_PER_S, NodeServices, Notification, Timer
from .interface import LINK_LOCAL, UNSPECIFIED
from .mn_config import HomeAddressConfig, MobileNodeConfig
from .mn_registration import HomeRegistration, HomeRegistrations
from .neighbor import autoconf_prefix_problem
from .registration import RegistrationState

__all__ = [
    "HomeAddressWithdrawn", "HomeAgentChanged", "HomeAgentDiscovered", "HomeAgentDiscoveryFailed",
    "HomePrefixChanged", "MobileNodeDiscovery",
]

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
    timer: Timer | None = None                # DHAAD retransmission, or the retry after a failed search

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


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


# ---------------------------------------------------------------- discovery

class MobileNodeDiscovery:
    """DHAAD and Mobile Prefix Solicitation / Advertisement for one mobile node (see the module doc).
    ``care_of()`` and ``away_for(home)`` say where the node is; ``home_agents_changed()`` is called when
    a home address got another home agent or a home address was added or withdrawn (the data paths
    follow), ``home_withdrawn(address)`` when a home address is withdrawn (before that)."""

    def __init__(self, node: NodeServices, config: MobileNodeConfig, registrations: HomeRegistrations, *,
                 care_of: Callable[[], IPv6Address | None], away_for: Callable[[IPv6Address], bool],
                 home_agents_changed: Callable[[], None], home_withdrawn: Callable[[IPv6Address], None],
                 protect: Callable[[bytes, IPv6Address], bytes | None] | None = None):
        self.node = node
        # RFC 3776: a Mobile Prefix Solicitation for a protected home address leaves under its SA.
        self._protect = protect if protect is not None else (lambda raw, home: raw)
        self.config = config
        self.registrations = registrations
        self._care_of = care_of
        self._away_for = away_for
        self._home_agents_changed = home_agents_changed
        self._home_withdrawn = home_withdrawn
        self._dhaad_backoff = config.dhaad_backoff
        self._solicit_backoff = config.solicit_backoff
        self._searches: dict[IPv6Address, _HomeAgentSearch] = {
            h.address: _HomeAgentSearch(h.home_agent, last_used=h.home_agent) for h in config.homes}
        self._solicitations: dict[IPv6Address, _Solicitation] = {}
        self._prefix_watch: dict[IPv6Address, Timer] = {}
        self._near_expiry_solicited: set[IPv6Address] = set()     # home addresses already solicited for
        self._unanswered_at_max: dict[IPv6Address, int] = {}       # BU waits at the cap, this attempt

    def _count(self, what: str) -> None:
        self.node.counters[f"mn.{what}"] += 1

    # ------------------------------------------------------------ hooks called by the mobile node

    def needs_discovery(self, now: int, reg: HomeRegistration) -> bool:
        """Before a registration: without a home agent, DHAAD runs first (True: the BU waits)."""
        self._unanswered_at_max.pop(reg.home.address, None)      # a new attempt, a new schedule
        if reg.home.home_agent is not None:
            return False
        self._start_dhaad(now, reg)
        return True

    def not_answering(self, now: int, reg: HomeRegistration) -> bool:
        """A BU went unanswered with the backoff at MAX_BINDACK_TIMEOUT (§11.8). Away from home, once
        UNANSWERED_AT_MAX_BINDACK of them did, try the next listed home agent, else DHAAD again
        (§11.4.1). True when that happened."""
        home = reg.home.address
        search = self._searches[home]
        if not self._away_for(home) or reg.state is not RegistrationState.REGISTERING:
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

    def rejected(self, now: int, reg: HomeRegistration) -> None:
        """A discovered home agent refused the registration (status >= 128): the next one on the list is
        tried (§11.4.1); with none left the registration stays failed, as with a configured agent."""
        search = self._searches[reg.home.address]
        if search.candidates and search.index + 1 < len(search.candidates) \
                and reg.home.home_agent == search.candidates[search.index]:
            self.registrations.retry_after_rejection(reg)
            self._next_home_agent(now, reg, "rejected")

    def accepted(self, now: int, reg: HomeRegistration, status: int) -> None:
        """After an accepted BA: status 1 asks for prefix discovery (§11.7.3); the home address's
        lifetime is watched so the node solicits before its prefix runs out (§11.4.2)."""
        search = self._searches.get(reg.home.address)
        if search is not None:
            search.last_used = reg.home.home_agent
        if status == 1:
            self._solicit_prefixes(now, reg)
        self._watch_home_lifetime(now, reg)

    def pause(self) -> None:
        """The node left its link: outstanding DHAAD Requests are not retransmitted from it (their
        identifiers stay valid for a late reply; the next care-of address starts a new request)."""
        for search in self._searches.values():
            search.cancel()

    def message(self, now: int, packet: Packet) -> bool:
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

    def _start_dhaad(self, now: int, reg: HomeRegistration) -> None:
        search = self._searches[reg.home.address]
        self.registrations.await_home_agent(reg)
        search.cancel()
        search.identifier = self.node.rng.randrange(1 << 16)
        search.timeout = self._dhaad_backoff.start()
        search.retries_left = self.config.dhaad_retries
        self._send_dhaad(now, reg)

    def _send_dhaad(self, now: int, reg: HomeRegistration) -> None:
        search = self._searches[reg.home.address]
        care_of = self._care_of()
        if not self._away_for(reg.home.address) or care_of is None or search.identifier is None:
            search.identifier = None        # at home the RAs name the home agents; a move restarts it
            return
        # §11.4.1: from the care-of address (no Home Address option) to the Home-Agents anycast address.
        packet = Packet(src=care_of, dst=home_agents_anycast(reg.home.prefix),
                        payload=HomeAgentAddressDiscoveryRequest(search.identifier))
        self._count("dhaad.request_sent")
        self.node.output_packet(now, packet.to_bytes())
        search.timer = self.node.call_at(now + search.timeout, lambda t: self._dhaad_timeout(t, reg))

    def _dhaad_timeout(self, now: int, reg: HomeRegistration) -> None:
        search = self._searches.get(reg.home.address)
        if search is None:
            return
        search.timer = None
        if search.identifier is None:
            return
        if search.retries_left > 0:
            # §11.4.1, §12: INITIAL_DHAAD_TIMEOUT doubling, DHAAD_RETRIES retransmissions.
            search.retries_left -= 1
            search.timeout = self._dhaad_backoff.next(search.timeout)
            self._count("dhaad.retransmitted")
            self._send_dhaad(now, reg)
            return
        search.identifier = None
        self._count("dhaad.failed")
        self.node.notify(HomeAgentDiscoveryFailed(now, reg.home.address))
        if search.configured is not None:
            # Nothing found: the configured home agent may be back.
            self._use_home_agent(now, reg, search.configured, "rediscovered")
            self.registrations.start(now, reg)
        else:
            # Try again later, no faster than a BU at the end of its backoff would be.
            search.timer = self.node.call_at(now + self.config.max_bindack_timeout,
                                             lambda t: self._retry_dhaad(t, reg))

    def _retry_dhaad(self, now: int, reg: HomeRegistration) -> None:
        search = self._searches.get(reg.home.address)
        if search is not None:
            search.timer = None
        if reg.home.address in self.registrations.registrations and reg.home.home_agent is None:
            self._start_dhaad(now, reg)

    def _on_dhaad_reply(self, now: int, packet: Packet, msg: HomeAgentAddressDiscoveryReply) -> None:
        registrations = self.registrations.registrations
        reg = next((registrations[home] for home, s in self._searches.items()
                    if s.identifier == msg.identifier and home in registrations), None)
        if reg is None or packet.dst != self._care_of() or packet.home_address is not None:
            self.node.drop("mn.dhaad_reply_unexpected")     # §11.4.1: must echo an outstanding identifier
            return
        agents: list[IPv6Address] = []
        for a in msg.addresses:
            if a in LINK_LOCAL or a.is_multicast or a == UNSPECIFIED or a.is_loopback or a in agents:
                self._count("dhaad.address_ignored")
                continue
            agents.append(a)
        if not agents:
            self.node.drop("mn.dhaad_reply_empty")          # keep waiting: a retransmission may do better
            return
        search = self._searches[reg.home.address]
        search.identifier = None
        search.cancel()
        search.candidates = tuple(agents)
        search.index = 0
        self._count("dhaad.reply_accepted")
        self.node.notify(HomeAgentDiscovered(now, reg.home.address, search.candidates))
        self._use_home_agent(now, reg, agents[0], "rediscovered")
        self.registrations.start(now, reg)

    def switch_home_agent(self, now: int, reg: HomeRegistration, agents: tuple[IPv6Address, ...]) -> None:
        """RFC 5142 §6: the home agent sent a Home Agent Switch. The node registers with the first
        address it names that is not the current agent (the rest are the next candidates, as after a
        DHAAD reply); none named: it asks the home link (DHAAD)."""
        current = reg.home.home_agent
        candidates = tuple(a for a in agents if a != current and not a.is_multicast and not a.is_unspecified)
        search = self._searches[reg.home.address]
        search.cancel()
        search.candidates = candidates
        search.index = 0
        if candidates:
            self._use_home_agent(now, reg, candidates[0], "home_agent_switch")
            self.registrations.start(now, reg)
        else:
            self._use_home_agent(now, reg, None, "home_agent_switch")
            self._start_dhaad(now, reg)

    def _next_home_agent(self, now: int, reg: HomeRegistration, reason: str) -> None:
        search = self._searches[reg.home.address]
        if search.candidates and search.index + 1 < len(search.candidates) \
                and reg.home.home_agent == search.candidates[search.index]:
            search.index += 1
            self._use_home_agent(now, reg, search.candidates[search.index], reason)
            self.registrations.start(now, reg)
            return
        # The list is used up (or the agent was configured): ask the home link again.
        search.candidates = ()
        self._use_home_agent(now, reg, None, reason)
        self._start_dhaad(now, reg)

    def _use_home_agent(self, now: int, reg: HomeRegistration, agent: IPv6Address | None, reason: str) -> None:
        """Retarget ``reg`` to ``agent`` (``HomeRegistrations.retarget``) and rebuild the data paths so
        nothing is tunnelled through the old agent."""
        if reg.home.home_agent == agent:
            return
        self.registrations.retarget(reg, agent)
        self._home_agents_changed()
        search = self._searches[reg.home.address]
        if agent is not None and search.last_used is not None and search.last_used != agent:
            self._count("home_agent_changed")
            self.node.notify(HomeAgentChanged(now, reg.home.address, search.last_used, agent, reason))
        if agent is not None:
            search.last_used = agent

    # ------------------------------------------------------------ Mobile Prefix Solicitation (§11.4.2)

    def _watch_home_lifetime(self, now: int, reg: HomeRegistration) -> None:
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
                self._prefix_watch[home] = self.node.call_at(at, lambda t: self._home_lifetime_low(t, reg))
            return
        self._home_lifetime_low(now, reg)

    def _home_lifetime_low(self, now: int, reg: HomeRegistration) -> None:
        home = reg.home.address
        self._prefix_watch.pop(home, None)
        if self.registrations.registrations.get(home) is reg and home not in self._near_expiry_solicited:
            self._near_expiry_solicited.add(home)
            self._solicit_prefixes(now, reg)

    def _solicit_prefixes(self, now: int, reg: HomeRegistration) -> None:
        home = reg.home.address
        if home in self._solicitations:
            return                          # one outstanding solicitation per home address
        sol = _Solicitation(self.node.rng.randrange(1 << 16), self._solicit_backoff.start())
        self._solicitations[home] = sol
        self._send_mps(now, reg, sol)

    def _send_mps(self, now: int, reg: HomeRegistration, sol: _Solicitation) -> None:
        sol.timer = None
        home = reg.home.address
        care_of = self._care_of()
        if (not self._away_for(home) or care_of is None or not reg.active
                or reg.home.home_agent is None or self.registrations.registrations.get(home) is not reg):
            # The home agent answers only for a binding whose care-of address sent the solicitation.
            self._solicitations.pop(home, None)
            self._count("mps.abandoned")
            return
        # §11.4.2: from the care-of address, Home Address option = the home address, to the home agent.
        packet = Packet(src=care_of, dst=reg.home.home_agent, home_address=home,
                        payload=MobilePrefixSolicitation(sol.identifier))
        self._count("mps.sent")
        raw = self._protect(packet.to_bytes(), home)
        if raw is not None:
            self.node.output_packet(now, raw)
        sol.timer = self.node.call_at(now + sol.timeout, lambda t: self._mps_timeout(t, reg, sol))

    def _mps_timeout(self, now: int, reg: HomeRegistration, sol: _Solicitation) -> None:
        sol.timer = None
        if self._solicitations.get(reg.home.address) is not sol:
            return
        if self._solicit_backoff.at_maximum(sol.timeout):
            self._solicitations.pop(reg.home.address, None)
            self._count("mps.unanswered")
            return
        sol.timeout = self._solicit_backoff.next(sol.timeout)
        self._count("mps.retransmitted")
        self._send_mps(now, reg, sol)

    # ------------------------------------------------------------ Mobile Prefix Advertisement (§11.4.3)

    def _on_prefix_advertisement(self, now: int, packet: Packet, msg: MobilePrefixAdvertisement) -> None:
        if packet.rh2 is None:
            self.node.drop("mn.mpa_without_rh2")          # §11.4.3: it comes with a Type 2 routing header
            return
        registrations = self.registrations.registrations
        reg = registrations.get(packet.rh2)
        if reg is None:
            self.node.drop("mn.mpa_unknown_home_address")
            return
        care_of = self._care_of()
        if packet.src != reg.home.home_agent or packet.dst != care_of:
            self.node.drop("mn.mpa_not_from_home_agent")  # §11.4.3: only the home agent's, to the CoA
            return
        home = reg.home.address
        sol = self._solicitations.get(home)
        if sol is not None and msg.identifier != sol.identifier:
            self.node.drop("mn.mpa_identifier_mismatch")  # §11.4.3: a solicited one echoes the identifier
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
            if autoconf_prefix_problem(opt) is not None:
                self._count("mpa.prefix_preferred_above_valid")   # the RA path's rule (RFC 4862 §5.5.3 c)
                continue
            prefix = IPv6Network((opt.prefix, opt.prefix_length), strict=False)
            valid = opt.valid_lifetime
            preferred = min(opt.preferred_lifetime, valid)
            valid_until = None if valid == INFINITE_LIFETIME else now + valid * NS_PER_S
            on_prefix = [r for r in registrations.values() if r.home.prefix == prefix]
            for r in on_prefix:
                if valid == 0:
                    withdrawn.append(r.home.address)
                elif not _same_lifetime(r.home.valid_until, valid_until):
                    self.registrations.replace_home(r, valid_until=valid_until)
                    self._watch_home_lifetime(now, r)
                else:
                    continue
                self.node.notify(HomePrefixChanged(now, r.home.address, prefix, valid, preferred, False))
            if on_prefix or valid == 0:
                continue
            if prefix.prefixlen != plen:
                self._count("mpa.prefix_length_mismatch")   # the interface identifier would not fit
                continue
            address = IPv6Address(int(prefix.network_address) | iid)
            if address in LINK_LOCAL or address.is_multicast or address.is_loopback:
                self._count("mpa.prefix_ignored")
                continue
            self._add_home(HomeAddressConfig(address, reg.home.home_agent, plen, valid_until), reg)
            added.append(address)
            self.node.notify(HomePrefixChanged(now, address, prefix, valid, preferred, True))
        away = care_of is not None and self._away_for(home)
        if sol is None and home not in withdrawn and away and reg.state is RegistrationState.REGISTERED:
            # §11.4.3: an unsolicited advertisement is acknowledged with a Binding Update, which also
            # ends the home agent's retransmissions (§10.6.2).
            self._count("mpa.acknowledged_by_bu")
            self.registrations.start(now, reg)
        for address in added:
            if self._care_of() is not None and self._away_for(address):
                self.registrations.start(now, registrations[address])
        for address in withdrawn:
            self._withdraw_home(now, address)

    def _add_home(self, home: HomeAddressConfig, like: HomeRegistration) -> None:
        """A new home address (one registration per home address), served by ``like``'s home agent."""
        self.registrations.add(home)
        old = self._searches[like.home.address]
        self._searches[home.address] = _HomeAgentSearch(None, old.candidates, old.index,
                                                         last_used=home.home_agent)
        self._home_agents_changed()

    def _withdraw_home(self, now: int, address: IPv6Address) -> None:
        if len(self.registrations.registrations) == 1:
            self._count("mpa.last_home_address_kept")   # a node needs a home address to be reachable at
            return
        self.registrations.withdraw(address)
        search = self._searches.pop(address, None)
        if search is not None:
            search.cancel()
        sol = self._solicitations.pop(address, None)
        if sol is not None and sol.timer is not None:
            sol.timer.cancel()
        timer = self._prefix_watch.pop(address, None)
        if timer is not None:
            timer.cancel()
        self._near_expiry_solicited.discard(address)
        self._home_withdrawn(address)
        self._home_agents_changed()
        self._count("home_address_withdrawn")
        self.node.notify(HomeAddressWithdrawn(now, address))
