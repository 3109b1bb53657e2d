"""Home registration on the home agent (RFC 6275 §10.3 with §9.5.1): Binding Updates in, Binding
Acknowledgements out, the binding cache and the lifetimes of its bindings.

Theory of operation
-------------------
``Registrar.binding_update`` takes a Binding Update addressed to the home agent and checks it in the
order of the RFC:

0. protection (RFC 6275 §5.1, RFC 3776; issue 11): a BU for a home address that must arrive protected
   (``SignallingProtection.required``) and did not arrive under that home address's SA is discarded
   without an answer (no BA, so no sequence number leaks), counted ``drop.bu.unprotected`` or
   ``drop.bu.wrong_sa``; the BA to a protected home address goes out through its outbound SA. A home
   address protected by RFC 4285 instead (``SignallingProtection.mechanism``) needs its NAI, its MN-HA
   authenticator and a fresh timestamp (``mn_ha_auth.MnHaAuthentication.check_bu``): a BU failing them
   is answered with 146, 145 or 144 (RFC 4285 §5, §6), 146 to the BU's source address, and one that
   came under ESP is dropped (``drop.auth4285.under_esp``: one mechanism per home address); every BA to
   such a home address carries the NAI, the timestamp and the home agent's authenticator;
1. silently discarded (§9.5.1, no BA): a home address that is link-local, multicast, unspecified or
   loopback, or a care-of address that is when the BU's source is too; a home registration carrying
   Nonce Indices. A care-of address of that kind (from an Alternate Care-of Address option) with a
   usable source is answered with status 174, invalid care-of address (§6.1.8), to that source;
2. without H: 139 when the address has a (home) binding, else dropped (no route optimisation here);
3. rejected with a BA: 131 when it reached another of our addresses than the home agent's (§10.3.1),
   129 for one of our own addresses (binding it would take its traffic away from us) and for a
   registration the binding ACL (``HomeAgentConfig.binding_acl``) does not allow, 132 when the home
   address is on no home prefix (or its prefix has under 4 s left), 139 when the existing binding is not
   a home registration;
4. a de-registration (lifetime 0, or care-of = home address, §10.3.2) deletes the binding through
   ``BindingCache.delete_if_newer``: the sequence rule of §9.5.1 is the cache's (stale → 135 with the
   last accepted sequence, the binding stays), no binding → 133; no DAD;
5. a first registration waits for DAD of the home address (``dad.py``; 134 when someone answers; 130
   when the bindings plus the registrations already waiting for DAD reach ``max_bindings``, so the
   DAD and proxy state is bounded by it too), then is accepted into the cache with
   ``BindingCache.update``, which applies the sequence rule (stale → 135) for refreshes as well.

An accepted binding's lifetime is ≤ requested, ≤ ``max_lifetime``, ≤ the home prefix's remaining
lifetime, in 4-second units; the BA may carry a Binding Refresh Advice (§6.2.4). A new binding is
proxied on the home link (``proxy_nd.py``); every accepted BU ends the unsolicited Mobile Prefix
Advertisements to that node (§10.6.2). The BA goes to the care-of address with a Type 2 routing header
holding the home address; a BU from home is answered to the home address itself (§10.3.1).

Lifetimes (§10.3.1, §9.5.2): one timer at the earliest expiry runs ``BindingCache.expire``; the expiry
of each accepted binding is pushed on a heap, so the next one is found without a scan of the cache.
Optionally a Binding Refresh Request goes out ``refresh_lead`` seconds before a binding expires (§6.1.2).
"""
from __future__ import annotations

import heapq
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import cast

from ...binding_cache import FLAG_ACK, FLAG_HOME, FLAG_LINK_LOCAL, BindingCache, Outcome
from ...security import SecurityAssociation
from ...store import BindingRecord
from ...wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingAckStatus,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    HomeAgentSwitch,
    NonceIndices,
    Packet,
)
from ..binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from ..events import NS_PER_S, NodeServices, Notification, Timer
from ..interface import unicast_routable
from ..mn_ha_auth import received_mh
from ..protection import Mechanism, SignallingProtection
from .config import HomeAgentConfig
from .dad import HomeAddressDAD, PendingDad
from .home_link import HomeLink
from .journal import (
    DROPPED_NO_TIME_LEFT,
    DROPPED_NOMEM,
    DROPPED_OUTSIDE_PREFIXES,
    Journal,
    remaining_ns,
    replay_mark_key,
    timestamp_mark_key,
)
from .mobile_prefix import MobilePrefixes
from .proxy_nd import ProxyND

__all__ = ["Registrar", "RegistrationRejected"]


@dataclass(frozen=True)
class RegistrationRejected(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address
    status: int


class Registrar:
    """Home registrations (see the module docstring). ``proxy`` is None on a virtual home link (no
    proxy ND, no DAD: §10.4.1 has nothing to defend); ``own_address(a)`` says whether ``a`` is one of
    this node's addresses, usable or not; ``transmit_packet`` is the link-layer output DAD probes take."""

    def __init__(self, config: HomeAgentConfig, cache: BindingCache, link: HomeLink, node: NodeServices,
                 proxy: ProxyND | None, mobile_prefixes: MobilePrefixes,
                 own_address: Callable[[IPv6Address], bool],
                 transmit_packet: Callable[[int, str, IPv6Address, bytes], None],
                 *, protection: SignallingProtection | None = None):
        # The home prefixes are the HomeLink's (renumbering changes them); the rest of the config is fixed.
        self.address = config.address
        self.max_lifetime = config.max_lifetime
        self.refresh_lead = config.refresh_lead
        self.max_bindings = config.max_bindings
        self.acl = config.binding_acl          # replaced on SIGHUP (daemon.RELOADABLE)
        self.cache = cache
        self.link = link
        self.node = node
        self.protection = protection if protection is not None else SignallingProtection(None, node.counters)
        self.proxy = proxy
        self.mobile_prefixes = mobile_prefixes
        self._own_address = own_address
        # §10.3.1: DAD for a first registration's home address, unless configured off or on a virtual
        # home link (nobody else is on it).
        dad = config.dad and not config.virtual_home_link
        self.dad = HomeAddressDAD(link, node, transmit_packet, self._dad_finished) if dad else None
        # The registered home addresses, in the order they were first accepted, with each one's Binding
        # Refresh Request timer.
        self._registered: dict[IPv6Address, Timer | None] = {}
        self.expiry_timer: Timer | None = None
        # (expiry, home address) of every binding as last accepted, plus stale ones left by refreshes
        # and deletions (dropped when they reach the top): the next expiry without a scan of the cache.
        self._expiries: list[tuple[int, bytes]] = [(b.expires_ns, cast(IPv6Address, k).packed)
                                                   for k, b in cache.items()]
        heapq.heapify(self._expiries)
        self._from: tuple[str, bytes] = ("", b"")      # interface and source MAC of the BU at hand
        # Home addresses whose mobile node we told to register with another agent (RFC 5142): their
        # binding is given up when the new agent probes the address by DAD (``yield_home_address``).
        self._switched: set[IPv6Address] = set()
        # A warm standby's bindings (``mirror``): in the cache and in proxy ND's table (answering
        # nothing: the gate is closed), not yet advertised, timed or refreshed; each one's expiry.
        self._mirrored: dict[IPv6Address, int] = {}
        # The binding store's write-through (journal.py), set by the agent when it has a store.
        self.journal: Journal | None = None

    def homes(self) -> list[IPv6Address]:
        """The registered home addresses, in the order of their first registration."""
        return list(self._registered)

    # ------------------------------------------------------------ Binding Updates (§10.3.1, §9.5.1)

    def binding_update(self, now: int, packet: Packet, bu: BindingUpdate, from_link: tuple[str, bytes],
                       sa: SecurityAssociation | None = None, raw: bytes | None = None) -> None:
        """A Binding Update for this node; ``from_link``: the interface and source MAC it came by;
        ``sa``: the SA it arrived under (None: unprotected); ``raw``: the IPv6 packet as received (RFC
        4285's authenticator covers the Mobility Header's bytes; None: the BU re-encoded)."""
        self._from = from_link
        home = packet.home_address if packet.home_address is not None else packet.src
        care_of = packet.src
        for opt in bu.options:
            if isinstance(opt, AlternateCareOfAddress):
                care_of = opt.address
        mechanism = self.protection.mechanism(home)
        if mechanism is Mechanism.RFC4285:
            if not self._authenticated(now, packet, bu, home, care_of, sa, raw):
                return
        elif self.protection.required(home) and (sa is None or sa.home_address != home):
            # RFC 6275 §5.1 / RFC 3776: discarded silently (the SPD checked the SA against the home
            # address already; this is the case of no SA, or of one the SPD does not hold for it).
            self.node.drop("bu.unprotected" if sa is None else "bu.wrong_sa")
            return
        if self.journal is not None:
            self._stage_replay_mark(home, sa, mechanism)
        # §9.5.1: discarded without an answer.
        if not unicast_routable(home):
            self.node.drop("bu.bad_home_address")
            return
        if not unicast_routable(care_of):
            # §6.1.8, §9.5.1: status 174 (invalid care-of address), to the BU's source with a Type 2
            # routing header holding the home address, when that source can be answered at all (an
            # Alternate Care-of Address option named the bad one); otherwise a silent discard.
            if unicast_routable(packet.src):
                self.node.counters["bu.invalid_care_of_address"] += 1
                self._reject(now, packet, bu, home, packet.src, BindingAckStatus.INVALID_CARE_OF_ADDRESS)
            else:
                self.node.drop("bu.bad_care_of_address")
            return
        if bu.home and any(isinstance(o, NonceIndices) for o in bu.options):
            self.node.drop("bu.home_with_nonce_indices")
            return
        existing = self.cache.get(home)
        if not bu.home:
            # §9.5.1: a binding's registration type cannot change; this node does not accept
            # correspondent registrations otherwise (no return routability here).
            if existing is not None:
                self._reject(now, packet, bu, home, care_of, BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED)
            else:
                self.node.drop("bu.not_home_registration")
            return
        if packet.dst != self.address:
            # §10.3.1: the BU reached an address of this node that is not serving as a home agent.
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.HOME_REGISTRATION_NOT_SUPPORTED)
            return
        if self._own_address(home) or home in self.link.anycast:
            # Binding one of our own addresses would take its traffic away from us.
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.ADMINISTRATIVELY_PROHIBITED)
            return
        if bu.lifetime != 0 and care_of != home and not self.authorized(home, care_of):
            # The binding ACL (a de-registration is always allowed: it only gives the address back).
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.ADMINISTRATIVELY_PROHIBITED)
            return
        subnet = self.link.subnet(home)
        remaining = None if subnet is None else self.link.prefix_remaining(now, subnet)
        if subnet is None or (remaining is not None and remaining < 4):
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.NOT_HOME_SUBNET)
            return
        if existing is not None and not existing.home_registration:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED)
            return
        if bu.lifetime == 0 or care_of == home:
            self._deregister(now, packet, bu, home, care_of)
            return
        # The sequence number of a refresh is checked by BindingCache.update (§9.5.1): STALE → 135.
        if existing is None:
            if self.dad is not None and home in self.dad:
                self.node.drop("bu.dad_in_progress")     # the BA follows when DAD ends
                return
            # Registrations waiting for DAD count against the limit too: each holds DAD state now and
            # becomes a binding (and proxy state) when DAD ends.
            pending = 0 if self.dad is None else len(self.dad)
            if len(self.cache) + pending >= self.max_bindings:
                self.node.counters["bu.refused.max_bindings"] += 1
                self._reject(now, packet, bu, home, care_of, BindingAckStatus.INSUFFICIENT_RESOURCES)
                return
            if self.dad is not None:
                self.dad.start(now, packet, bu, home, care_of)
                return
        self._accept(now, packet, bu, home, care_of)

    def _authenticated(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address,
                       care_of: IPv6Address, sa: SecurityAssociation | None, raw: bytes | None) -> bool:
        """RFC 4285 for a home address it protects (mn_ha_auth.py): True when the BU may go on; else it
        was refused (BA 144-146, counted) or dropped."""
        auth = self.protection.auth4285
        assert auth is not None
        if sa is not None:
            self.node.drop("auth4285.under_esp")        # the policy binds RFC 4285 to this home address
            return False
        mh = None
        if raw is not None:
            mh = received_mh(raw)
            if mh is None:
                self.node.drop("auth4285.malformed")
                return False
        refusal = auth.check_bu(now, mh, bu, home, care_of)
        if refusal is None:
            return True
        # 146: the BU proved nothing, so neither did its Alternate Care-of Address option: the BA goes
        # to the packet's source. 144 and 145 follow an authenticated BU: to its care-of address.
        to = packet.src if refusal.status == BindingAckStatus.MIPV6_AUTH_FAIL else care_of
        if unicast_routable(to) and auth.may_answer_refusal(now):
            self._reject(now, packet, bu, home, to, refusal.status)
        return False

    def _stage_replay_mark(self, home: IPv6Address, sa: SecurityAssociation | None,
                           mechanism: Mechanism | None) -> None:
        """An authenticated BU moved its replay state (journal.py): the SA's inbound high-water mark,
        or the home address's last accepted RFC 4285 timestamp, goes to the store with the bindings."""
        assert self.journal is not None
        if sa is not None:
            self.journal.replay_mark(replay_mark_key(sa.spi), sa.sequence)
        elif mechanism is Mechanism.RFC4285 and self.protection.auth4285 is not None:
            timestamp = self.protection.auth4285.last_accepted.get(home)
            if timestamp is not None:
                self.journal.replay_mark(timestamp_mark_key(home), timestamp)

    def authorized(self, home: IPv6Address, care_of: IPv6Address) -> bool:
        """The binding ACL: the first rule about ``home`` decides; no rule, refused; no ACL, allowed."""
        if self.acl is None:
            return True
        for entry in self.acl:
            verdict = entry.allows(home, care_of)
            if verdict is not None:
                return verdict
        return False

    def _dad_finished(self, now: int, pending: PendingDad) -> None:
        """§10.3.1: DAD for a first registration's home address is over: 134, or accepted."""
        if pending.duplicate:
            self._reject(now, pending.packet, pending.bu, pending.home, pending.care_of,
                         BindingAckStatus.DUPLICATE_ADDRESS_DETECTION_FAILED)
        else:
            self._accept(now, pending.packet, pending.bu, pending.home, pending.care_of)

    def _granted_lifetime(self, now: int, bu: BindingUpdate, home: IPv6Address) -> int:
        """§10.3.1: ≤ requested, ≤ our maximum, ≤ the home prefix's remaining valid lifetime; in
        4-second units."""
        lifetime = min(bu.lifetime, self.max_lifetime)
        subnet = self.link.subnet(home)
        remaining = None if subnet is None else self.link.prefix_remaining(now, subnet)
        if remaining is not None:
            lifetime = min(lifetime, remaining)
        return lifetime - lifetime % 4

    def _accept(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address,
                care_of: IPv6Address) -> None:
        lifetime = self._granted_lifetime(now, bu, home)
        flags = FLAG_HOME | (FLAG_ACK if bu.ack else 0) | (FLAG_LINK_LOCAL if bu.link_local else 0)
        result = self.cache.update(home, care_of, bu.sequence, flags, now + lifetime * NS_PER_S)
        if result.outcome is Outcome.STALE:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
                         result.last_sequence)
            return
        if result.outcome is Outcome.NOMEM:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.INSUFFICIENT_RESOURCES)
            return
        heapq.heappush(self._expiries, (now + lifetime * NS_PER_S, home.packed))
        if self.journal is not None:
            self.journal.registered(now, home, care_of, bu.sequence,
                                    Journal.bu_flags(bu.ack, bu.link_local, bu.key_management), lifetime,
                                    now + lifetime * NS_PER_S, result.outcome is Outcome.CREATED,
                                    self.protection.identifier(home))
        # A new BU replaces the refresh schedule and ends MPA retransmission (§10.6.2); the unsolicited
        # proxy NAs of a binding created moments ago still go out (§10.4.1).
        refresh = self._registered.get(home)
        if refresh is not None:
            refresh.cancel()
        self._registered[home] = None
        self._switched.discard(home)        # it registered with us again: it stays
        self.mobile_prefixes.stop(home)
        if result.outcome is Outcome.CREATED:
            self.node.counters["binding.created"] += 1
            self.node.notify(BindingCreated(now, home, care_of, lifetime))
            if self.proxy is not None:
                self.proxy.start(now, home, bu.link_local)
        else:
            self.node.counters["binding.updated"] += 1
            self.node.notify(BindingUpdated(now, home, care_of, lifetime))
        options: tuple = ()
        if self.refresh_lead is not None:
            if lifetime > self.refresh_lead:
                at = now + (lifetime - self.refresh_lead) * NS_PER_S
                self._registered[home] = self.node.call_at(at, lambda t: self._refresh_request(t, home))
            # §10.3.1, §6.2.4: a Binding Refresh Advice with the interval after which the mobile node
            # should refresh, in 4-second units and below the granted lifetime.
            interval = lifetime - self.refresh_lead
            interval -= interval % 4
            if 0 < interval < lifetime:
                options = (BindingRefreshAdvice(interval),)
        self._send_ack(now, packet, bu, home, care_of, BindingAckStatus.ACCEPTED, lifetime, options=options)
        self.arm_expiry(now + lifetime * NS_PER_S)

    def _deregister(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address,
                    care_of: IPv6Address) -> None:
        """§10.3.2: no DAD; the binding goes, and so does proxying for it. The sequence number is
        checked by BindingCache.delete_if_newer as for an update (§9.5.1): STALE → 135, binding kept."""
        result = self.cache.delete_if_newer(home, bu.sequence)
        if result.outcome is Outcome.ABSENT:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE)
            return
        if result.outcome is Outcome.STALE:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
                         result.last_sequence)
            return
        self._stop(home)
        if self.journal is not None:
            self.journal.deregistered(now, home)
        self.node.counters["binding.deleted"] += 1
        self.node.notify(BindingDeleted(now, home))
        self._send_ack(now, packet, bu, home, care_of, BindingAckStatus.ACCEPTED, 0)

    def _stop(self, home: IPv6Address) -> None:
        """The binding is gone (de-registered or expired): its timers, MPAs and proxying end."""
        self._switched.discard(home)
        if home not in self._registered:
            return
        refresh = self._registered.pop(home)
        if refresh is not None:
            refresh.cancel()
        self.mobile_prefixes.stop(home)
        if self.proxy is not None:
            self.proxy.stop(home)

    def _reject(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address,
                status: int, sequence: int | None = None) -> None:
        self.node.notify(RegistrationRejected(now, home, care_of, int(status)))
        self._send_ack(now, packet, bu, home, care_of, status, 0, sequence)

    def _send_ack(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address,
                  status: int, lifetime: int, sequence: int | None = None, options: tuple = (),
                  held: bool = False) -> None:
        """§10.3.1: the BA goes to the care-of address with a Type 2 routing header holding the home
        address, from the address the BU was sent to; a BU from home (care-of = home address) is
        answered to the home address directly, and a de-registration naming the home address as
        care-of address from another source to that source (§9.5.4). With a binding store, an accepted
        BA waits for the commit of its binding (journal.py)."""
        if self.journal is not None and status < 128 and not held:
            def release(from_link=self._from):
                self._from = from_link
                self._send_ack(now, packet, bu, home, care_of, status, lifetime, sequence, options, True)
            self.journal.hold(now, release)
            return
        ba = BindingAcknowledgement(int(status), bu.sequence if sequence is None else sequence, lifetime,
                                    options=options)
        auth = self.protection.auth4285
        if auth is not None and auth.protects(home):
            ba = auth.sign_ba(now, ba, bu, home, care_of)        # RFC 4285 §5.1, §6
        self.node.counters[f"ba.sent.status.{int(status)}"] += 1
        src = packet.dst if not packet.dst.is_multicast else self.address
        if care_of == home and packet.src != home and unicast_routable(packet.src):
            # §9.5.4, §10.3.2: a de-registration sent from elsewhere (an Alternate Care-of Address
            # equal to the home address, from a care-of address): the node is not on the home link
            # yet, so a BA to the home address would wait behind address resolution there and never
            # reach it. It goes where the BU came from, with the home address in a Type 2 routing
            # header.
            reply = Packet(src=src, dst=packet.src, rh2=home, payload=ba)
        elif care_of == home:
            reply = Packet(src=src, dst=home, payload=ba)
            rx_iface, rx_mac = self._from
            if rx_iface == self.link.name and rx_mac:
                # §11.5.5, §10.3.2: a node back home does not answer NS for its home address until it
                # has this BA (we were defending it), so address resolution would fail: the BA goes
                # to the link-layer address the BU came from.
                raw = self.protection.outbound(reply.to_bytes(), home)
                if raw is not None:
                    self.node.emit_frame(rx_iface, rx_mac, raw)
                return
        else:
            reply = Packet(src=src, dst=care_of, rh2=home, payload=ba)
        raw = self.protection.outbound(reply.to_bytes(), home)
        if raw is not None:
            self.node.output_packet(now, raw, self.link.name)

    # ------------------------------------------------------------ lifetimes (§10.3.1, §9.5.2)

    def arm_expiry(self, deadline: int | None = None) -> None:
        """One timer at the earliest expiry. A new binding can only bring it forward; when it fires,
        ``_expire`` takes the next one from ``_expiries``. A timer left by a binding that was since
        refreshed or deleted just finds nothing to expire."""
        if deadline is None:
            deadline = self.earliest_expiry()
        elif self.expiry_timer is not None and self.expiry_timer.deadline <= deadline:
            return
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
            self.expiry_timer = None
        if deadline is not None:
            self.expiry_timer = self.node.call_at(deadline, self._expire)

    def earliest_expiry(self) -> int | None:
        """The earliest expiry in the cache: the top of ``_expiries`` once entries that no longer match
        their binding are popped (a binding's expiry changes only in ``_accept``, which pushes it)."""
        heap = self._expiries
        while heap:
            expires, key = heap[0]
            binding = self.cache.get(key)
            if binding is not None and binding.expires_ns == expires:
                return expires
            heapq.heappop(heap)
        return None

    def _expire(self, now: int) -> None:
        self.expiry_timer = None
        for key in self.cache.expire(now):
            home = IPv6Address(key)
            self._stop(home)
            if self.journal is not None:
                self.journal.expired(now, home)
            self.node.counters["binding.expired"] += 1
            self.node.notify(BindingExpired(now, home))
        self.arm_expiry()

    def _refresh_request(self, now: int, home: IPv6Address) -> None:
        """§10.3.1 / §6.1.2: ask the mobile node to refresh a binding about to expire; the BRR goes
        where a BA would, to the care-of address with a Type 2 routing header."""
        binding = self.cache.get(home)
        if binding is None:
            return
        self.node.counters["brr.sent"] += 1
        brr = Packet(src=self.address, dst=binding.care_of_address, rh2=home, payload=BindingRefreshRequest())
        raw = self.protection.outbound(brr.to_bytes(), home)
        if raw is not None:
            self.node.output_packet(now, raw, self.link.name)

    def home_agent_switch(self, now: int, home: IPv6Address, agents: tuple[IPv6Address, ...]) -> bool:
        """RFC 5142 §5: tell the mobile node of ``home`` to register with one of ``agents`` (none:
        discover one, DHAAD); sent as a BRR is, to the care-of address with a Type 2 routing header,
        under the home address's protection. False when there is no binding for ``home``."""
        binding = self.cache.get(home)
        if binding is None:
            return False
        has = Packet(src=self.address, dst=binding.care_of_address, rh2=home, payload=HomeAgentSwitch(agents))
        raw = self.protection.outbound(has.to_bytes(), home)
        if raw is None:
            return False
        self.node.counters["has.sent"] += 1
        self.node.output_packet(now, raw, self.link.name)
        if agents:
            self._switched.add(home)
        return True

    def yield_home_address(self, now: int, home: IPv6Address) -> bool:
        """Another node probes ``home`` by DAD on the home link (RFC 4862 §5.4) after we told its mobile
        node to register with another home agent (``home_agent_switch``): that is the new home agent
        checking the address before it accepts the registration (RFC 6275 §10.4.1 has it run DAD for
        a first registration). Defending it (§10.4.1) would make the new agent refuse the registration
        with status 134 and leave the mobile node with no home agent at all, so we give the binding up
        instead: no more proxy ND, no tunnel, the deletion stored. True when we did (the NS then goes
        unanswered). Only for home addresses we sent a Home Agent Switch naming some agent for, until
        their mobile node registers with us again; a probe for any other one is defended as always."""
        if home not in self._switched or self.cache.get(home) is None:
            return False
        self.cache.pop(home, None)
        self._stop(home)
        if self.journal is not None:
            self.journal.deregistered(now, home)
        self.node.counters["binding.handed_over"] += 1
        self.node.notify(BindingDeleted(now, home))
        return True

    # ------------------------------------------------------------ recovery from the binding store

    def restore(self, now: int, record: BindingRecord) -> str | None:
        """Put back a binding recovered from the store (journal.py) as ``_accept`` would have left it,
        without DAD (the address was defended before the restart) and without a BA; its proxy NAs are
        paced. None when done, else why not (``journal.DROPPED_*``)."""
        home = record.home_address
        subnet = self.link.subnet(home)
        if subnet is None or self._own_address(home) or home in self.link.anycast:
            return DROPPED_OUTSIDE_PREFIXES
        cap = self.max_lifetime
        remaining = self.link.prefix_remaining(now, subnet)
        if remaining is not None:
            cap = min(cap, remaining)
        left = remaining_ns(record, now, self.journal.wall_offset_ns if self.journal else 0, cap)
        if left <= 0:
            return DROPPED_NO_TIME_LEFT         # its home prefix is no longer valid
        flags = record.flags & (FLAG_ACK | FLAG_HOME | FLAG_LINK_LOCAL)
        result = self.cache.update(home, record.care_of_address, record.sequence, flags, now + left)
        if result.outcome is Outcome.NOMEM:
            return DROPPED_NOMEM
        heapq.heappush(self._expiries, (now + left, home.packed))
        self._registered[home] = None
        if self.refresh_lead is not None and left > self.refresh_lead * NS_PER_S:
            self._registered[home] = self.node.call_at(now + left - self.refresh_lead * NS_PER_S,
                                                       lambda t: self._refresh_request(t, home))
        if self.proxy is not None and result.outcome is Outcome.CREATED:
            self.proxy.start(now, home, bool(flags & FLAG_LINK_LOCAL), paced=True)
        self.node.counters["binding.recovered"] += 1
        self.arm_expiry(now + left)
        return None

    # ------------------------------------------------------------ a warm standby (README "Redundancy")

    def mirror(self, now: int, record: BindingRecord) -> str | None:
        """A standby home agent: the binding the active one committed (seen through etcd's watch) goes
        into the cache as it is there, replacing whatever the cache held for its home address (the
        store is the authority: no §9.5.1 sequence check against our older copy). Nothing else happens
        yet: no proxy ND (the standby must not defend the address), no Binding Refresh Request timer,
        no expiry timer (the active expires bindings and its deletion comes through the watch; a
        standby that expired them itself could disagree with it). ``activate_mirrored`` does those at
        the takeover. None when mirrored, else why not (``journal.DROPPED_*``; nothing is stored)."""
        home = record.home_address
        subnet = self.link.subnet(home)
        if subnet is None or self._own_address(home) or home in self.link.anycast:
            self.unmirror(home)
            return DROPPED_OUTSIDE_PREFIXES
        cap = self.max_lifetime
        remaining = self.link.prefix_remaining(now, subnet)
        if remaining is not None:
            cap = min(cap, remaining)
        left = remaining_ns(record, now, self.journal.wall_offset_ns if self.journal else 0, cap)
        if left <= 0:
            self.unmirror(home)
            return DROPPED_NO_TIME_LEFT
        flags = record.flags & (FLAG_ACK | FLAG_HOME | FLAG_LINK_LOCAL)
        self.cache.pop(home, None)
        result = self.cache.update(home, record.care_of_address, record.sequence, flags, now + left)
        if result.outcome is Outcome.NOMEM:
            self.unmirror(home)
            return DROPPED_NOMEM
        heapq.heappush(self._expiries, (now + left, home.packed))
        self._mirrored[home] = now + left
        if self.proxy is not None:
            # proxied now, so that the takeover only starts the NAs; again if the L flag changed
            link_local = bool(flags & FLAG_LINK_LOCAL)
            proxied = self.proxy.proxied(home)
            if proxied is None or (len(proxied) > 1) != link_local:
                self.proxy.stop(home)
                self.proxy.add(home, link_local)
        return None

    def unmirror(self, home: IPv6Address) -> bool:
        """A standby: the active deleted ``home``'s binding (de-registered, expired). True if we had it."""
        if self._mirrored.pop(home, None) is not None and self.proxy is not None:
            self.proxy.stop(home)
        self._stop(home)
        return self.cache.pop(home, None) is not None

    @property
    def mirrored(self) -> int:
        return len(self._mirrored)

    def forget_mirrored(self) -> int:
        """Drop every mirrored binding (a takeover that could not catch up loads everything instead)."""
        n = 0
        for home in list(self._mirrored):
            n += self.unmirror(home)
        return n

    def activate_mirrored(self, now: int) -> int:
        """The takeover of a warm standby: every mirrored binding becomes what ``restore`` would have
        made of it: its proxy NAs start, paced (§10.4.1; the addresses were proxied by ``mirror``), its
        refresh timer (§10.3.1) and the expiry timer are set; returns how many."""
        lead = None if self.refresh_lead is None else self.refresh_lead * NS_PER_S
        for home, expires in self._mirrored.items():
            self._registered[home] = None
            if lead is not None and expires - now > lead:
                self._registered[home] = self.node.call_at(expires - lead, partial(self._refresh_request, home=home))
            if self.proxy is not None:
                self.proxy.pace(now, home)
        n = len(self._mirrored)
        self._mirrored = {}
        self.arm_expiry()
        return n
