"""Mobile prefix discovery on the home agent (RFC 6275 §10.6): Mobile Prefix Advertisements in answer
to solicitations, and unsolicited ones when the home prefixes change.

A Mobile Prefix Solicitation comes from a registered mobile node's care-of address with a Home Address
option; the advertisement goes back to the care-of address with a Type 2 routing header holding the home
address, echoing the identifier and listing the home prefixes with their remaining lifetimes (§10.6.1).
When the home prefixes change (renumbering: new lifetimes, a new prefix), every registered mobile node
gets an unsolicited advertisement, retransmitted every PREFIX_ADV_TIMEOUT at most PREFIX_ADV_RETRIES
more times, until its next Binding Update (``stop``, §10.6.2). The answers to solicitations are
rate-limited by a token bucket (``mpa_reply_rate`` / ``mpa_reply_burst``); one over it is a counted drop.
A home address protected by RFC 4285 gets no advertisements: RFC 4285 authenticates BUs and BAs only,
and its mobile node refuses an MPA it cannot authenticate (its solicitations are refused as unprotected).
"""
from __future__ import annotations

import random
from collections.abc import Iterable
from ipaddress import IPv6Address

from ...binding_cache import BindingCache
from ...security import SecurityAssociation
from ...wire import MobilePrefixAdvertisement, MobilePrefixSolicitation, Packet
from ..events import NS_PER_S, NodeServices, Timer
from ..protection import Mechanism, SignallingProtection
from ..rate_limit import TokenBucket
from .config import DEFAULT_REPLY_RATE
from .home_link import HomeLink

__all__ = ["PREFIX_ADV_RETRIES", "PREFIX_ADV_TIMEOUT", "MobilePrefixes"]

# RFC 6275 §12: unsolicited Mobile Prefix Advertisements are retransmitted this often, this many times.
PREFIX_ADV_TIMEOUT = 3 * NS_PER_S
PREFIX_ADV_RETRIES = 3


class MobilePrefixes:
    """``reply_rate`` / ``reply_burst``: the token bucket of the advertisements answering solicitations."""

    def __init__(self, link: HomeLink, cache: BindingCache, rng: random.Random, node: NodeServices,
                 reply_rate: int = DEFAULT_REPLY_RATE, reply_burst: int = DEFAULT_REPLY_RATE,
                 protection: SignallingProtection | None = None):
        self.protection = protection if protection is not None else SignallingProtection(None, node.counters)
        self.link = link
        self.cache = cache
        self.rng = rng
        self.node = node
        self._retransmit: dict[IPv6Address, Timer] = {}     # home address -> the next unsolicited MPA
        self._replies = TokenBucket(reply_rate, reply_burst)

    def solicitation(self, now: int, packet: Packet, mps: MobilePrefixSolicitation,
                     sa: SecurityAssociation | None = None) -> None:
        """§10.6.2: answered to the care-of address with a Type 2 routing header holding the home
        address; a solicitation without a Home Address option is not from a registered mobile node.
        For a protected home address it must have arrived under that address's SA (RFC 3776), else it
        is dropped without an answer."""
        home = packet.home_address
        if home is None:
            self.node.drop("mps.without_hao")
            return
        if self.protection.required(home) and (sa is None or sa.home_address != home):
            self.node.drop("mps.unprotected")
            return
        binding = self.cache.get(home)
        if binding is None or binding.care_of_address != packet.src:
            return          # the Home Address option check answered with a Binding Error already
        if not self._replies.take(now):
            self.node.drop("mps.rate_limited")
            return
        self.node.counters["mpa.sent"] += 1
        self._send(now, home, binding.care_of_address, mps.identifier)

    def announce(self, now: int, homes: Iterable[IPv6Address]) -> None:
        """The home prefixes changed: an unsolicited advertisement to each of ``homes`` (the registered
        home addresses), each with a new identifier, retransmitted until its next BU (§10.6.2); none to
        a home address protected by RFC 4285 (counted ``mpa.not_sent_rfc4285``)."""
        for home in homes:
            self.stop(home)
            if self.protection.mechanism(home) is Mechanism.RFC4285:
                self.node.counters["mpa.not_sent_rfc4285"] += 1
                continue
            self._unsolicited(now, home, PREFIX_ADV_RETRIES, self.rng.randrange(1 << 16))

    def stop(self, home: IPv6Address) -> None:
        """A Binding Update from ``home`` (or its binding's end) ends the retransmissions (§10.6.2)."""
        timer = self._retransmit.pop(home, None)
        if timer is not None:
            timer.cancel()

    def _unsolicited(self, now: int, home: IPv6Address, retries: int, identifier: int) -> None:
        binding = self.cache.get(home)
        if binding is None:
            return
        self._retransmit.pop(home, None)
        self.node.counters["mpa.sent_unsolicited"] += 1
        self._send(now, home, binding.care_of_address, identifier)
        if retries > 0:
            self._retransmit[home] = self.node.call_at(
                now + PREFIX_ADV_TIMEOUT, lambda t: self._unsolicited(t, home, retries - 1, identifier))

    def _send(self, now: int, home: IPv6Address, care_of: IPv6Address, identifier: int) -> None:
        mpa = MobilePrefixAdvertisement(identifier, options=self.link.prefix_options(now))
        packet = Packet(src=self.link.address, dst=care_of, rh2=home, payload=mpa)
        raw = self.protection.outbound(packet.to_bytes(), home)
        if raw is not None:
            self.node.output_packet(now, raw, self.link.name)
