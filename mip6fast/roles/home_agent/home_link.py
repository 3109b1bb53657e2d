"""The home link as a home agent serves it (RFC 6275 §10.1): its interface, the home prefixes, their
Home-Agents anycast addresses (RFC 2526, §10.5) and how long each prefix stays valid.

``HomeLink`` is the one place the home prefixes live while the agent runs: renumbering adds to them
(``add_prefix``, §10.6.1) and changes their lifetimes (``set_lifetimes``); registration asks which
prefix holds a home address and how long it stays valid (§10.3.1: a binding's lifetime is capped by it),
and the Mobile Prefix Advertisements list them with their remaining lifetimes (§10.6.1). A prefix's
lifetime is the lifetime of the home agent's own address on it.
"""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from ...wire import PrefixInformation, home_agents_anycast
from ..events import NS_PER_S
from ..interface import AddressState, Interface
from ..neighbor import NeighborDiscovery

__all__ = ["HomeLink"]


class HomeLink:
    """``iface`` and its ``nd``, the agent's ``address``, the served ``prefixes`` and their ``anycast``
    addresses (answered through proxy neighbour discovery from the start, §10.5)."""

    def __init__(self, iface: Interface, nd: NeighborDiscovery, address: IPv6Address,
                 prefixes: tuple[IPv6Network, ...]):
        self.iface = iface
        self.nd = nd
        self.address = address
        self.prefixes: tuple[IPv6Network, ...] = prefixes
        self.anycast = {home_agents_anycast(p) for p in prefixes}
        for a in self.anycast:
            nd.add_proxy(a)         # RFC 6275 §10.5: the home agent answers for its subnet's anycast address

    @property
    def name(self) -> str:
        return self.iface.name

    def subnet(self, address: IPv6Address) -> IPv6Network | None:
        """The home prefix holding ``address``, or None."""
        for p in self.prefixes:
            if address in p:
                return p
        return None

    def prefix_remaining(self, now: int, prefix: IPv6Network) -> int | None:
        """Seconds the home prefix stays valid on the home interface (None: infinite), from the
        lifetime of our own address on it (RFC 6275 §10.3.1)."""
        remaining: int | None = None
        for a in self.iface.addresses.values():
            if a.address in prefix and a.valid_until is not None:
                left = max(0, (a.valid_until - now) // NS_PER_S)
                remaining = left if remaining is None else max(remaining, left)
        return remaining

    def link_local_for(self, home: IPv6Address) -> IPv6Address:
        """fe80::/64 with the home address's interface identifier (RFC 6275 §10.3.1, the L flag): what
        the agent also defends and proxies for a registration with L set."""
        subnet = self.subnet(home)
        prefix_length = subnet.prefixlen if subnet is not None else 64
        iid = int(home) & ((1 << (128 - prefix_length)) - 1)
        return IPv6Address((0xFE80 << 112) | iid)

    def prefix_options(self, now: int) -> tuple[PrefixInformation, ...]:
        """The home prefixes with their remaining lifetimes on the home interface (§10.6.1)."""
        options = []
        for p in self.prefixes:
            valid = preferred = 0xFFFFFFFF
            for a in self.iface.addresses.values():
                if a.address in p:
                    if a.valid_until is not None:
                        valid = max(0, (a.valid_until - now) // NS_PER_S)
                    if a.preferred_until is not None:
                        preferred = max(0, (a.preferred_until - now) // NS_PER_S)
            options.append(PrefixInformation(p.network_address, p.prefixlen, valid_lifetime=valid,
                                             preferred_lifetime=min(valid, preferred)))
        return tuple(options)

    def set_lifetimes(self, valid_until: int | None, preferred_until: int | None,
                      only: set[IPv6Network] | None = None) -> None:
        """Our addresses on the home prefixes (``only`` these, None: all) take these lifetimes, and so do
        the prefixes (§10.6.1)."""
        for a in self.iface.addresses.values():
            subnet = self.subnet(a.address)
            if subnet is not None and (only is None or subnet in only):
                a.valid_until, a.preferred_until = valid_until, preferred_until

    def add_prefix(self, prefix: IPv6Network, address=None, valid_until: int | None = None,
                   preferred_until: int | None = None) -> bool:
        """Serve one more home prefix (§10.6.1): its Home-Agents anycast address is answered (§10.5) and
        ``address`` (an address of ours on it, an operator's: no DAD) carries its lifetimes. False when
        the prefix is served already."""
        if prefix in self.prefixes:
            return False
        self.prefixes = (*self.prefixes, prefix)
        anycast = home_agents_anycast(prefix)
        self.anycast.add(anycast)
        self.nd.add_proxy(anycast)
        if address is not None:
            entry = self.iface.add_address(address, prefix.prefixlen, valid_until, preferred_until)
            entry.state = AddressState.PREFERRED
        return True
