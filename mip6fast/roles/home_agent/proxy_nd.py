"""Proxy neighbour discovery for bound home addresses (RFC 6275 §10.4.1).

While a mobile node is away, the home agent answers for its home address on the home link, so packets
for it reach the home agent to be tunnelled. ``ProxyND.start`` registers the addresses with the home
interface's ``NeighborDiscovery`` (which then answers Neighbor Solicitations with R = 0, S = 1, O = 0 and
defends the address against DAD) and sends MAX_NEIGHBOR_ADVERTISEMENT unsolicited Neighbor
Advertisements to all-nodes (R = 0, S = 0, O = 1, TLLA = our MAC) so that the link's neighbour caches
point at us at once; ``stop`` ends all of it when the binding goes (de-registration or expiry). With
the L flag the link-local address with the home address's interface identifier is proxied too; packets
for it are not tunnelled (``serves``: the agent answers them with Destination Unreachable, §10.4.2).
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from ...wire import ALL_NODES, NeighborAdvertisement, Packet, TargetLinkLayerAddress
from ..events import NS_PER_S, NodeServices, Timer
from ..neighbor import ND_HOP_LIMIT
from .home_link import HomeLink

__all__ = ["MAX_NEIGHBOR_ADVERTISEMENT", "NA_INTERVAL", "PACED_NA_BURST", "PACED_NA_INTERVAL", "ProxyND"]

# RFC 4861 §10 / RFC 6275 §10.4.1: unsolicited proxy NAs are repeated this many times, this far apart.
MAX_NEIGHBOR_ADVERTISEMENT = 3
NA_INTERVAL = NS_PER_S
# Bindings recovered from the binding store at start start their unsolicited NAs this many at a time,
# this far apart (about 12,800 bindings a second: 65,536 take some 5 s, not one burst on the home link).
PACED_NA_BURST = 128
PACED_NA_INTERVAL = 10_000_000


@dataclass
class _Proxied:
    """One binding's proxied addresses, its pending NA timers and the NAs encoded for them."""
    addresses: tuple[IPv6Address, ...]
    timers: list[Timer] = field(default_factory=list)
    encoded: dict = field(default_factory=dict)     # (source, target) -> the unsolicited NA's bytes


class ProxyND:
    """``transmit_packet(now, interface, next_hop, raw)``: the node's link-layer output (the NAs go to
    all-nodes on the home link)."""

    def __init__(self, link: HomeLink, node: NodeServices,
                 transmit_packet: Callable[[int, str, IPv6Address, bytes], None]):
        self.link = link
        self.node = node
        self._transmit_packet = transmit_packet
        self._bindings: dict[IPv6Address, _Proxied] = {}    # home address -> what is proxied for it
        self._addresses: Counter[IPv6Address] = Counter()   # every proxied address, by binding
        self._paced: deque[IPv6Address] = deque()             # recovered bindings whose NAs wait
        self._pacer: Timer | None = None

    def serves(self, address: IPv6Address) -> bool:
        """Is ``address`` proxied for some binding?"""
        return self._addresses[address] > 0

    def start(self, now: int, home: IPv6Address, link_local: bool, paced: bool = False) -> None:
        """A new binding: proxy ``home`` (and, with the L flag, its link-local twin) and advertise it.
        ``paced`` (bindings recovered at start): Neighbor Solicitations are answered at once, the
        unsolicited NAs start in turn, PACED_NA_BURST bindings every PACED_NA_INTERVAL."""
        self.add(home, link_local)
        if not paced:
            self._advertise(now, home, MAX_NEIGHBOR_ADVERTISEMENT)
            return
        self.pace(now, home)

    def add(self, home: IPv6Address, link_local: bool) -> None:
        """Proxy ``home`` (and its link-local twin with the L flag) without advertising it: a warm
        standby prepares its bindings so (its gate closed, it answers nothing); ``pace`` at its takeover."""
        addresses = [home]
        if link_local:
            addresses.append(self.link.link_local_for(home))
        for a in addresses:
            self.link.nd.add_proxy(a)
        self._bindings[home] = _Proxied(tuple(addresses))
        self._addresses.update(addresses)

    def proxied(self, home: IPv6Address) -> tuple[IPv6Address, ...] | None:
        """The addresses proxied for ``home``'s binding, or None."""
        p = self._bindings.get(home)
        return None if p is None else p.addresses

    def pace(self, now: int, home: IPv6Address) -> None:
        """Queue ``home``'s unsolicited NAs behind the others being paced."""
        self._paced.append(home)
        if self._pacer is None:
            self._pacer = self.node.call_at(now, self._pace)

    def _pace(self, now: int) -> None:
        self._pacer = None
        for _ in range(min(PACED_NA_BURST, len(self._paced))):
            self._advertise(now, self._paced.popleft(), MAX_NEIGHBOR_ADVERTISEMENT)
        if self._paced:
            self._pacer = self.node.call_at(now + PACED_NA_INTERVAL, self._pace)

    def stop(self, home: IPv6Address) -> None:
        """The binding is gone: no more NAs, no more answers for its addresses."""
        proxied = self._bindings.pop(home, None)
        if proxied is None:
            return
        for t in proxied.timers:
            t.cancel()
        self._addresses.subtract(proxied.addresses)
        for a in proxied.addresses:
            if self._addresses[a] <= 0:
                del self._addresses[a]
            self.link.nd.remove_proxy(a)

    def _advertise(self, now: int, home: IPv6Address, remaining: int) -> None:
        """Unsolicited NA to all-nodes for each proxied address: R = 0, S = 0, O = 1, TLLA = our MAC, so
        the home link's caches point at us (§10.4.1)."""
        proxied = self._bindings.get(home)
        if proxied is None or not proxied.addresses:
            return
        iface = self.link.iface
        src = iface.source_for(ALL_NODES)
        if src is None:
            self.node.drop("proxy.na_no_source")
        else:
            for target in proxied.addresses:
                # The repetitions are the same packet: encoded once per binding.
                raw = proxied.encoded.get((src, target))
                if raw is None:
                    na = NeighborAdvertisement(target=target, router=False, solicited=False, override=True,
                                               options=(TargetLinkLayerAddress(iface.mac),))
                    raw = Packet(src=src, dst=ALL_NODES, hop_limit=ND_HOP_LIMIT, payload=na).to_bytes()
                    proxied.encoded[(src, target)] = raw
                self.node.counters["proxy.na_sent"] += 1
                self._transmit_packet(now, iface.name, ALL_NODES, raw)
        # Timers due before now have fired (tick pops them in order): nothing left to cancel there, so
        # they are not kept (with 10^5 bindings, two spent timers and their closures each add up).
        proxied.timers = [t for t in proxied.timers if t.deadline >= now]
        if remaining > 1:
            proxied.timers.append(self.node.call_at(now + NA_INTERVAL,
                                                    lambda t: self._advertise(t, home, remaining - 1)))
        else:
            proxied.encoded.clear()       # the last repetition: the encoded NAs are not needed again
