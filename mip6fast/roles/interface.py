"""Interfaces and their addresses, below the node and neighbour discovery: an Ethernet interface with
its MAC, link-local and global addresses (RFC 4291, RFC 4862 states and lifetimes), MTU and carrier,
the joined multicast groups, and the constants of IPv6 addressing the roles share.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv6Address, IPv6Network

from ..wire import ALL_NODES, ALL_ROUTERS, solicited_node_multicast

__all__ = [
    "BROADCAST_MAC", "IPV6_MIN_MTU", "LINK_LOCAL", "NH_ICMPV6", "NH_IPV6", "NH_MH", "UNSPECIFIED",
    "AddressState", "Interface", "InterfaceAddress", "eui64_interface_id", "link_local_address",
    "link_scope", "slaac_address",
]

BROADCAST_MAC = b"\xff" * 6
IPV6_MIN_MTU = 1280                     # RFC 8200 §5
LINK_LOCAL = IPv6Network("fe80::/10")
UNSPECIFIED = IPv6Address("::")
NH_ICMPV6 = 58
NH_IPV6 = 41
NH_MH = 135


# ---------------------------------------------------------------- addresses

def link_scope(address: IPv6Address) -> bool:
    """Link-local unicast (RFC 4291 §2.5.6) or multicast of interface/link-local scope (§2.7)."""
    return address in LINK_LOCAL or (address.is_multicast and (address.packed[1] & 0x0F) <= 2)


def eui64_interface_id(mac: bytes) -> int:
    """The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 Appendix A, RFC 2464 §4):
    ff:fe inserted in the middle and the universal/local bit inverted."""
    mac = bytes(mac)
    if len(mac) != 6:
        raise ValueError(f"a MAC is 6 bytes, not {len(mac)}")
    eui = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return int.from_bytes(eui, "big")


def link_local_address(mac: bytes) -> IPv6Address:
    """fe80::/64 + the modified EUI-64 of ``mac`` (RFC 4862 §5.3, RFC 4291 §2.5.6)."""
    return IPv6Address((0xFE80 << 112) | eui64_interface_id(mac))


def slaac_address(prefix: IPv6Network | str, mac: bytes) -> IPv6Address:
    """The address SLAAC forms from a /64 prefix and a MAC (RFC 4862 §5.5.3 d)."""
    net = IPv6Network(prefix, strict=False)
    if net.prefixlen != 64:
        raise ValueError(f"{net}: an EUI-64 interface identifier needs a /64 (RFC 4291 §2.5.1)")
    return IPv6Address(int(net.network_address) | eui64_interface_id(mac))


class AddressState(Enum):
    """RFC 4862 §2: an address is tentative until DAD succeeds, then preferred, then deprecated when its
    preferred lifetime ends; a duplicate one is never used."""
    TENTATIVE = "tentative"
    PREFERRED = "preferred"
    DEPRECATED = "deprecated"
    DUPLICATE = "duplicate"


@functools.lru_cache(maxsize=4096)
def _network(address: IPv6Address, prefix_length: int) -> IPv6Network:
    # Memoised: route lookups ask for every address's network on every packet a node originates.
    return IPv6Network((address, prefix_length), strict=False)


@dataclass
class InterfaceAddress:
    """One unicast address of an interface. Lifetimes are absolute deadlines in ns (None: infinite)."""
    address: IPv6Address
    prefix_length: int
    valid_until: int | None = None
    preferred_until: int | None = None
    state: AddressState = AddressState.TENTATIVE
    autoconfigured: bool = False

    @property
    def network(self) -> IPv6Network:
        return _network(self.address, self.prefix_length)

    @property
    def usable(self) -> bool:
        """May be a source or destination (RFC 4862 §5.4: tentative addresses are not assigned)."""
        return self.state in (AddressState.PREFERRED, AddressState.DEPRECATED)


class Interface:
    """One Ethernet interface: its MAC, the link-local address from the MAC's modified EUI-64
    (RFC 4291 App. A), global addresses with prefix lengths and lifetimes, the MTU, and carrier state.

    The link-local address is always present (RFC 4291 §2.1); ``add_address`` configures more.
    Addresses start tentative and become usable when duplicate address detection says so.
    """

    def __init__(self, name: str, mac: bytes, mtu: int = 1500, up: bool = False):
        self.name = name
        self.mac = bytes(mac)
        if len(self.mac) != 6:
            raise ValueError(f"{name}: a MAC is 6 bytes, not {len(self.mac)}")
        if mtu < IPV6_MIN_MTU:
            raise ValueError(f"{name}: MTU {mtu} is below IPv6's minimum of {IPV6_MIN_MTU} (RFC 8200 §5)")
        self.mtu = mtu
        self.link_mtu = mtu                 # the configured MTU; an RA's MTU option may lower ``mtu``
        self.up = up
        self.link_local = link_local_address(self.mac)
        self.addresses: dict[IPv6Address, InterfaceAddress] = {}
        self.add_address(self.link_local, 64)
        self.extra_groups: set[IPv6Address] = set()

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, mac={self.mac.hex(':')}, up={self.up})"

    def add_address(self, address, prefix_length: int = 64, valid_until: int | None = None,
                    preferred_until: int | None = None, autoconfigured: bool = False) -> InterfaceAddress:
        addr = IPv6Address(address)
        entry = InterfaceAddress(addr, prefix_length, valid_until, preferred_until,
                                 AddressState.TENTATIVE, autoconfigured)
        self.addresses[addr] = entry
        return entry

    def usable_addresses(self) -> list[InterfaceAddress]:
        return [a for a in self.addresses.values() if a.usable]

    def global_address(self) -> IPv6Address | None:
        """A preferred global address if there is one, else a deprecated one (RFC 6724 rule 3)."""
        best = None
        for a in self.addresses.values():
            if a.address in LINK_LOCAL or not a.usable:
                continue
            if a.state is AddressState.PREFERRED:
                return a.address
            best = best or a.address
        return best

    def source_for(self, dst: IPv6Address) -> IPv6Address | None:
        """Source address selection, RFC 6724 §5 reduced to scope: link-local for link-local and
        link-scope multicast destinations, a global address otherwise (None while there is none: a
        link-local source would not be forwarded, RFC 4291 §2.5.6)."""
        if not link_scope(dst):
            return self.global_address()
        ll = self.addresses.get(self.link_local)
        return self.link_local if ll is not None and ll.usable else None

    def groups(self, router: bool = False) -> set[IPv6Address]:
        """Multicast groups joined: all-nodes, the solicited-node group of every address incl. tentative
        ones (RFC 4862 §5.4.2), all-routers on a router (RFC 4291 §2.8)."""
        out = {ALL_NODES} | self.extra_groups
        if router:
            out.add(ALL_ROUTERS)
        for a in self.addresses.values():
            if a.state is not AddressState.DUPLICATE:
                out.add(solicited_node_multicast(a.address))
        return out
