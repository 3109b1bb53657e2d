"""Dynamic Home Agent Address Discovery (RFC 6275 §10.5): the home agents list and the answers to DHAAD
requests.

The home agents list (§10.5.1) is learned from the Router Advertisements of the other home agents on
the home link: an RA with the H flag adds or refreshes its sender (by link-local address), with the
global address from its Prefix Information option with the R flag, the preference and lifetime from its
Home Agent Information option (default: preference 0, the router lifetime); a lifetime of 0, or an RA
without H, removes it. A DHAAD request reaches us at a home prefix's Home-Agents anycast address
(answered through proxy ND, ``HomeLink``); the reply, from our global address, lists every home agent,
ourselves included, by decreasing preference, equal preferences in a random order drawn per reply
(load sharing), cut to fit the IPv6 minimum MTU. Replies are rate-limited by a token bucket
(``dhaad_reply_rate`` / ``dhaad_reply_burst``); a request over the limit is a counted drop.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from ipaddress import IPv6Address

from ...wire import (
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    HomeAgentInformation,
    Packet,
    PrefixInformation,
    RouterAdvertisement,
)
from ..events import NS_PER_S, NodeServices
from ..interface import IPV6_MIN_MTU, LINK_LOCAL
from ..rate_limit import TokenBucket
from .config import DEFAULT_MAX_HOME_AGENTS, DEFAULT_REPLY_RATE
from .home_link import HomeLink

__all__ = ["MAX_DHAAD_ADDRESSES", "HomeAgentDiscovery", "HomeAgentEntry"]

# A DHAAD Reply fits the IPv6 minimum MTU (RFC 6275 §10.5): 40 + 8 bytes of headers, 16 per address.
MAX_DHAAD_ADDRESSES = (IPV6_MIN_MTU - 48) // 16


@dataclass
class HomeAgentEntry:
    """One home agents list entry (RFC 6275 §10.1): a router's global address with its preference and
    the time (ns) the entry lapses."""
    address: IPv6Address
    preference: int
    expires: int


class HomeAgentDiscovery:
    """``entries``: the home agents list, keyed by the router's link-local address, at most
    ``max_entries`` of them (a new one past that is refused and counted once the lapsed ones are gone).
    ``preference``: our own (§7.4); ``rng`` shuffles equal preferences; ``reply_rate`` / ``reply_burst``:
    the token bucket of DHAAD replies."""

    def __init__(self, link: HomeLink, preference: int, rng: random.Random, node: NodeServices,
                 max_entries: int = DEFAULT_MAX_HOME_AGENTS, reply_rate: int = DEFAULT_REPLY_RATE,
                 reply_burst: int = DEFAULT_REPLY_RATE):
        self.link = link
        self.preference = preference
        self.max_entries = max_entries
        self._replies = TokenBucket(reply_rate, reply_burst)     # DHAAD replies, like Binding Errors
        self.rng = rng
        self.node = node
        self.entries: dict[IPv6Address, HomeAgentEntry] = {}

    def router_advertisement(self, now: int, packet: Packet, ra: RouterAdvertisement) -> None:
        """§10.5.1: RAs from other home agents on the home link maintain the home agents list."""
        src = packet.src
        if src not in LINK_LOCAL:
            return
        if not ra.home_agent:
            self.entries.pop(src, None)
            return
        preference, lifetime = 0, ra.router_lifetime
        address = None
        for opt in ra.options:
            if isinstance(opt, HomeAgentInformation):
                preference, lifetime = opt.preference, opt.lifetime
            elif isinstance(opt, PrefixInformation) and opt.router_address and address is None:
                address = opt.prefix
        if lifetime == 0:
            self.entries.pop(src, None)
            self.node.counters["home_agents.removed"] += 1
            return
        if address is None:
            self.node.counters["home_agents.no_global_address"] += 1   # no R-flag PIO: nothing to list
            return
        if src not in self.entries and len(self.entries) >= self.max_entries:
            self._purge(now)
            if len(self.entries) >= self.max_entries:
                self.node.counters["home_agents.refused"] += 1         # the list is full: bounded
                return
        self.entries[src] = HomeAgentEntry(address, preference, now + lifetime * NS_PER_S)
        self.node.counters["home_agents.updated"] += 1

    def addresses(self, now: int) -> list[IPv6Address]:
        """The home agents list, own address included, by decreasing preference, equal preferences in
        a random order drawn per call (§10.5)."""
        self._purge(now)
        own = self.link.address
        by_pref: dict[int, list[IPv6Address]] = {self.preference: [own]}
        for e in self.entries.values():
            if e.address != own:
                by_pref.setdefault(e.preference, []).append(e.address)
        out: list[IPv6Address] = []
        for pref in sorted(by_pref, reverse=True):
            group = sorted(by_pref[pref])
            self.rng.shuffle(group)
            out.extend(group)
        return out

    def _purge(self, now: int) -> None:
        """Forget the entries whose lifetime has lapsed."""
        for key in [k for k, e in self.entries.items() if e.expires <= now]:
            del self.entries[key]

    def request(self, now: int, packet: Packet, req: HomeAgentAddressDiscoveryRequest) -> None:
        """§10.5: answer a DHAAD request sent to a Home-Agents anycast address of ours, echoing its
        identifier, from our global address."""
        if packet.dst not in self.link.anycast:
            self.node.drop("dhaad.not_anycast")
            return
        if not self._replies.take(now):
            self.node.drop("dhaad.rate_limited")
            return
        addresses = self.addresses(now)[:MAX_DHAAD_ADDRESSES]
        self.node.counters["dhaad.replies"] += 1
        reply = Packet(src=self.link.address, dst=packet.src,
                       payload=HomeAgentAddressDiscoveryReply(req.identifier, tuple(addresses)))
        self.node.output_packet(now, reply.to_bytes(), self.link.name)
