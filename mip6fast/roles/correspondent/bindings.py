"""The correspondent node's bindings (RFC 6275 §9.5): Binding Updates in, Binding Acknowledgements out,
the binding cache, expiry and Binding Refresh Requests.

Theory of operation
-------------------
``BindingManager.binding_update`` takes a Binding Update addressed to the node (§9.5.1):

- the home and care-of addresses (and the packet's source) must be unicast routable, else it is
  discarded;
- a home registration (H set) is not for a correspondent: 139 when it would change an existing entry's
  registration type, else 131 (§10.3.1); not subject to return routability;
- return routability authorises it (§5.2, §9.5.1; ``return_routability.py``): Nonce Indices and a
  Binding Authorization Data option last, the authenticator correct, else it is discarded silently; a
  nonce index no longer known is answered with 136 / 137 / 138 (even with A clear, §9.5.4; no
  Binding Authorization Data, since there is no Kbm). Only a configuration that says so
  (``unauthenticated_bindings``, or an ``accept_binding_update`` check) lets a BU without those options
  in: the check decides, False discards it silently;
- the sequence rule of §9.5.1 is the binding cache's: ``BindingCache.update`` for a registration,
  ``BindingCache.delete_if_newer`` for a de-registration (lifetime 0, or care-of = home address); a
  stale number gets 135 with the last accepted one; with no entry any number is accepted, and a
  de-registration without an entry deletes nothing (§9.5.3);
- the granted lifetime is capped at MAX_RR_BINDING_LIFETIME (§5.2.6, ``lifetime_cap``), and the entry
  really expires then (§9.5.2: one timer per binding runs ``BindingCache.expire``);
- a BU that would create a binding while the cache holds ``max_bindings`` is refused with 130
  (insufficient resources); so is one the table has no memory for. Existing bindings are refreshed,
  moved and deleted at the limit as below it;
- acceptance is acknowledged only when A is set (§9.5.4); a rejection always is (§9.5.4 names
  insufficient resources among the rejections that MUST be answered). The BA goes to the care-of
  address with a Type 2 routing header holding the home address, and, for a BU return routability
  authorised, carries its own Binding Authorization Data made with the same Kbm (§6.1.8, §6.2.7).

Optionally (``refresh_requests``) a Binding Refresh Request goes out ``refresh_lead_ns`` before an entry
expires, if the data path counted packets for it since it was registered (§9.5.5).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import cast

from ...binding_cache import FLAG_ACK, BindingCache, Outcome
from ...wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingAckStatus,
    BindingAuthorizationData,
    BindingRefreshRequest,
    BindingUpdate,
    NonceIndices,
    Packet,
)
from ...wire.return_routability import add_binding_authorization
from ..binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from ..events import NS_PER_S, NodeServices, Notification, Timer
from ..interface import UNSPECIFIED, Interface, unicast_routable
from .config import CorrespondentConfig
from .packets import walk
from .return_routability import Authorised, Expired, ReturnRoutability

__all__ = ["BindingManager", "BindingRefreshRequested"]


@dataclass(frozen=True)
class BindingRefreshRequested(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address


@dataclass
class _Entry:
    """Role-side state of one binding: its timers and the traffic baseline for the BRR decision."""
    expiry: Timer
    refresh: Timer | None = None
    packets_at_registration: int = 0


class BindingManager:
    """The node's bindings (see the module docstring). ``send_signalling(now, raw, zone)`` routes a
    packet that already carries its routing header (not through the RH2 kernel); ``source_for(dst)``
    is this node's source address towards ``dst``, or None when there is no route."""

    def __init__(self, config: CorrespondentConfig, cache: BindingCache, node: NodeServices,
                 send_signalling: Callable[[int, bytes, str | None], None],
                 source_for: Callable[[IPv6Address], IPv6Address | None], rr: ReturnRoutability):
        self.config = config
        self.rr = rr
        self.cache = cache
        self.node = node
        self._send_signalling = send_signalling
        self._source_for = source_for
        self._entries: dict[IPv6Address, _Entry] = {}

    def mapping(self) -> dict[IPv6Address, IPv6Address]:
        """Home address → care-of address of every binding."""
        return {cast(IPv6Address, b.key): b.care_of_address for b in self.cache.values()}

    def clear(self) -> None:
        """Forget every binding and its timers (a reboot)."""
        for entry in self._entries.values():
            entry.expiry.cancel()
            if entry.refresh is not None:
                entry.refresh.cancel()
        self._entries.clear()
        for home in list(self.cache):
            self.cache.pop(home, None)

    # ------------------------------------------------------------ Binding Updates (§9.5.1)

    def binding_update(self, now: int, iface: Interface, raw: bytes, packet: Packet, bu: BindingUpdate) -> None:
        """RFC 6275 §9.5.1 for a correspondent node; ``raw``: the packet as received (the authenticator
        covers the Mobility Header's exact bytes)."""
        node = self.node
        home = packet.home_address if packet.home_address is not None else packet.src
        care_of = packet.src
        for opt in bu.options:
            if isinstance(opt, AlternateCareOfAddress):
                care_of = opt.address                # §6.2.5, §9.5.1
                break
        # §9.5.1: home address and care-of address must be unicast routable. A bad care-of address
        # from an Alternate Care-of Address option is answered with 174 once the BU is authorised.
        if not unicast_routable(home) or not unicast_routable(packet.src):
            node.drop("bu.address_scope")
            return
        existing = self.cache.get(home)
        if bu.home:
            # §9.5.1: a BU that changes an entry's registration type → 139; otherwise this node is
            # not a home agent → 131 (§10.3.1). Not subject to return routability (§9.5.1).
            status = (BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED
                      if existing is not None and not existing.home_registration
                      else BindingAckStatus.HOME_REGISTRATION_NOT_SUPPORTED)
            node.drop(f"bu.status.{int(status)}")
            self._send_ack(now, iface, packet, home, care_of, int(status), bu.sequence, 0)
            return
        deregister = bu.lifetime == 0 or care_of == home       # §9.5.1
        kbm = self._authorise(now, iface, raw, packet, bu, home, care_of, deregister)
        if kbm is None:
            return
        auth = (kbm or None, home if deregister else care_of)   # the BA's Binding Authorization Data
        if not unicast_routable(care_of):
            # §6.1.8: status 174 (invalid care-of address), to the BU's source with a Type 2 routing
            # header holding the home address: the care-of address itself cannot be answered.
            node.drop("bu.status.174")
            self._send_ack(now, iface, packet, home, packet.src, BindingAckStatus.INVALID_CARE_OF_ADDRESS,
                           bu.sequence, 0, auth)
            return
        lifetime = 0 if deregister else min(bu.lifetime, self.config.lifetime_cap)
        expires = now + lifetime * NS_PER_S
        if not deregister and existing is None and len(self.cache) >= self.config.max_bindings:
            # The cache is full: a new binding is refused (§6.1.8 status 130), answered as §9.5.4 asks.
            node.counters["bu.refused.max_bindings"] += 1
            self._refuse_for_resources(now, iface, packet, home, care_of, bu.sequence, auth)
            return
        if deregister:
            result = self.cache.delete_if_newer(home, bu.sequence)
        else:
            result = self.cache.update(home, care_of, bu.sequence, FLAG_ACK if bu.ack else 0, expires)
        if result.outcome is Outcome.STALE:
            # §9.5.1: sequence number out of window → 135 with the last accepted sequence number.
            node.drop("bu.status.135")
            self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
                           result.last_sequence, 0, auth)
            return
        if result.outcome is Outcome.NOMEM:
            self._refuse_for_resources(now, iface, packet, home, care_of, bu.sequence, auth)
            return
        entry = self._entries.pop(home, None)
        if entry is not None:
            entry.expiry.cancel()
            if entry.refresh is not None:
                entry.refresh.cancel()
        if deregister:
            # §9.5.3: the entry is deleted (a de-registration with no entry deletes nothing).
            node.counters["binding.deleted"] += 1
            if result.outcome is Outcome.DELETED:
                node.notify(BindingDeleted(now, home))
        else:
            self._entries[home] = self._schedule(now, home, expires)
            if result.outcome is Outcome.CREATED:
                node.counters["binding.created"] += 1
                node.notify(BindingCreated(now, home, care_of, lifetime))
            else:
                node.counters["binding.updated"] += 1
                node.notify(BindingUpdated(now, home, care_of, lifetime))
        if bu.ack:
            # §9.5.4: acceptance is acknowledged only when A is set.
            self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.ACCEPTED, bu.sequence, lifetime,
                           auth)

    def _authorise(self, now: int, iface: Interface, raw: bytes, packet: Packet, bu: BindingUpdate,
                   home: IPv6Address, care_of: IPv6Address, deregister: bool) -> bytes | None:
        """§5.2, §9.5.1: the BU's Kbm when return routability authorises it, b"" when the configuration
        lets it in without (no Binding Authorization Data on the BA then), None when it was refused
        (counted; answered with 136-138 when a nonce index is unknown)."""
        node = self.node
        check = self.config.unauthenticated_check
        if check is not None and not any(isinstance(o, (NonceIndices, BindingAuthorizationData))
                                         for o in bu.options):
            if not check(now, packet, bu):
                node.drop("bu.not_authorised")           # §9.5.1: discarded silently
                return None
            node.counters["bu.unauthenticated"] += 1
            return b""
        verdict = self.rr.authorise(now, raw[walk(raw)[2]:], packet, home, care_of, deregister)
        if isinstance(verdict, Authorised):
            node.counters["bu.rr_authorised"] += 1
            return verdict.kbm
        if isinstance(verdict, Expired):
            # §9.5.1: 136 / 137 / 138, sent even with A clear (§9.5.4), under the answers' rate limit.
            node.drop(f"bu.status.{verdict.status}")
            if self.rr.may_answer(now):
                self._send_ack(now, iface, packet, home, care_of if unicast_routable(care_of) else packet.src,
                               verdict.status, bu.sequence, 0)
            return None
        node.drop(f"bu.rr.{verdict.reason}")              # §9.5.1: discarded silently
        return None

    def _refuse_for_resources(self, now: int, iface: Interface, packet: Packet, home: IPv6Address,
                              care_of: IPv6Address, sequence: int,
                              auth: tuple[bytes | None, IPv6Address] = (None, UNSPECIFIED)) -> None:
        """Status 130 (insufficient resources, §6.1.8): sent whether or not A is set (§9.5.4)."""
        self.node.drop("bu.status.130")
        self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.INSUFFICIENT_RESOURCES, sequence, 0,
                       auth)

    def _send_ack(self, now: int, iface: Interface, packet: Packet, home: IPv6Address, care_of: IPv6Address,
                  status: int, sequence: int, lifetime: int,
                  auth: tuple[bytes | None, IPv6Address] = (None, UNSPECIFIED)) -> None:
        """Binding Acknowledgement (§6.1.8) to the care-of address with a Type 2 routing header holding
        the home address (§9.5.4); straight to the home address when the two are the same. ``auth``:
        (Kbm, the care-of address the authenticator names) for a BU return routability authorised, whose
        BA carries Binding Authorization Data (§6.2.7)."""
        ba = BindingAcknowledgement(status=int(status), sequence=sequence, lifetime=lifetime)
        kbm, bound = auth
        if kbm is not None:
            ba = add_binding_authorization(ba, kbm, bound, packet.dst)
        rh2 = home if care_of != home else None
        reply = Packet(src=packet.dst, dst=care_of, rh2=rh2, hop_limit=64, payload=ba)
        self.node.counters[f"ba.sent.status.{int(status)}"] += 1
        self._send_signalling(now, reply.to_bytes(), iface.name)

    # ------------------------------------------------------------ expiry and refresh (§9.5.2, §9.5.5)

    def _schedule(self, now: int, home: IPv6Address, expires: int) -> _Entry:
        entry = _Entry(expiry=self.node.call_at(expires, self._expire))
        binding = self.cache.get(home)
        entry.packets_at_registration = binding.packets if binding is not None else 0
        at = expires - self.config.refresh_lead_ns
        if self.config.refresh_requests and at > now:
            entry.refresh = self.node.call_at(at, lambda t: self._refresh(t, home))
        return entry

    def _expire(self, now: int) -> None:
        """§9.5.2: entries whose lifetime ran out are deleted."""
        for home in self.cache.expire(now):
            entry = self._entries.pop(home, None)
            if entry is not None and entry.refresh is not None:
                entry.refresh.cancel()
            self.node.counters["binding.expired"] += 1
            self.node.notify(BindingExpired(now, home))

    def _refresh(self, now: int, home: IPv6Address) -> None:
        """§9.5.5: a Binding Refresh Request for an entry about to expire that is in active use (the
        data path counted packets for it since it was registered)."""
        binding = self.cache.get(home)
        entry = self._entries.get(home)
        if binding is None or entry is None:
            return
        entry.refresh = None
        if binding.packets <= entry.packets_at_registration:
            self.node.counters["brr.skipped_idle"] += 1
            return
        source = self._source_for(binding.care_of_address)
        if source is None:
            self.node.drop("brr.no_source")
            return
        pkt = Packet(src=source, dst=binding.care_of_address, rh2=home, hop_limit=64,
                     payload=BindingRefreshRequest())
        self.node.counters["brr.sent"] += 1
        self.node.notify(BindingRefreshRequested(now, home, binding.care_of_address))
        self._send_signalling(now, pkt.to_bytes(), None)
