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
from ..wire.ethernet import ipv6_multicast_mac

__all__ = [
    "BROADCAST_MAC", "IPV6_MIN_MTU", "LINK_LOCAL", "NH_ICMPV6", "NH_IPV6", "NH_MH", "UNSPECIFIED",
    "AddressState", "Interface", "InterfaceAddress", "eui64_interface_id", "link_local_address",
    "link_scope", "slaac_address", "unicast_routable",
]

BROADCAST_MAC = b"\xff" * 6
IPV6_MIN_MTU = 1280                     # RFC 8200 §5
LINK_LOCAL = IPv6Network("fe80::/10")
UNSPECIFIED = IPv6Address("::")
NH_ICMPV6 = 58
NH_IPV6 = 41
NH_MH = 135
_ALL_ROUTERS_MAC = ipv6_multicast_mac(ALL_ROUTERS.packed)


# ---------------------------------------------------------------- addresses

def link_scope(address: IPv6Address) -> bool:
    """Link-local unicast (RFC 4291 §2.5.6) or multicast of interface/link-local scope (§2.7)."""
    return address in LINK_LOCAL or (address.is_multicast and (address.packed[1] & 0x0F) <= 2)


def unicast_routable(address: IPv6Address) -> bool:
    """Not multicast, link-local, unspecified or loopback: an address a binding may name (RFC 6275
    §9.5.1: the home address must be a unicast routable address; the care-of address likewise)."""
    return not (address in LINK_LOCAL or address.is_multicast or address == UNSPECIFIED or address.is_loopback)


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
    preferred lifetime ends; a duplicate one is never used. RFC 4429 adds optimistic: DAD is running
    but the address is already used (with the restrictions of RFC 4429 §3.2 on neighbour discovery),
    treated as deprecated when a source address is chosen (§3.3); it becomes preferred when DAD
    succeeds, duplicate when it fails."""
    TENTATIVE = "tentative"
    OPTIMISTIC = "optimistic"
    PREFERRED = "preferred"
    DEPRECATED = "deprecated"
    DUPLICATE = "duplicate"


_USABLE = frozenset((AddressState.PREFERRED, AddressState.DEPRECATED, AddressState.OPTIMISTIC))
_PROBING = frozenset((AddressState.TENTATIVE, AddressState.OPTIMISTIC))


@functools.lru_cache(maxsize=4096)
def _network(address: IPv6Address, prefix_length: int) -> IPv6Network:
    # Memoised: route lookups ask for every address's network on every packet a node originates.
    return IPv6Network((address, prefix_length), strict=False)


@dataclass
class InterfaceAddress:
    """One unicast address of an interface. Lifetimes are absolute deadlines in ns (None: infinite).

    While it is in an interface's address table, a change of ``state`` to or from DUPLICATE tells the
    interface, which keeps its joined groups as an index (``Interface``)."""
    address: IPv6Address
    prefix_length: int
    valid_until: int | None = None
    preferred_until: int | None = None
    state: AddressState = AddressState.TENTATIVE
    autoconfigured: bool = False

    def __setattr__(self, name: str, value) -> None:
        owner = self.__dict__.get("_owner") if name == "state" else None
        if owner is not None:
            was = self.__dict__["state"] is not AddressState.DUPLICATE
            object.__setattr__(self, name, value)
            if was != (value is not AddressState.DUPLICATE):
                owner._joined_changed(self.address, joined=not was)
            return
        object.__setattr__(self, name, value)

    @property
    def network(self) -> IPv6Network:
        return _network(self.address, self.prefix_length)

    @property
    def usable(self) -> bool:
        """May be a source or destination (RFC 4862 §5.4: tentative addresses are not assigned; RFC 4429
        §3.1: optimistic ones are)."""
        return self.state in _USABLE

    @property
    def optimistic(self) -> bool:
        return self.state is AddressState.OPTIMISTIC

    @property
    def probing(self) -> bool:
        """Duplicate address detection is running for it (tentative or optimistic)."""
        return self.state in _PROBING


class _GroupRefs:
    """Joined multicast groups as reference counts, with the Ethernet MACs they map to (RFC 2464 §7):
    a frame's destination MAC and a packet's destination group are looked up in O(1), however many
    addresses and proxied addresses an interface has. Each source of membership (all-nodes, an
    address's solicited-node group, an extra group) holds one reference."""
    __slots__ = ("groups", "macs")

    def __init__(self) -> None:
        self.groups: dict[IPv6Address, int] = {}
        self.macs: dict[bytes, int] = {}

    def ref(self, group: IPv6Address) -> None:
        n = self.groups.get(group, 0)
        self.groups[group] = n + 1
        if n == 0:
            mac = ipv6_multicast_mac(group.packed)
            self.macs[mac] = self.macs.get(mac, 0) + 1

    def unref(self, group: IPv6Address) -> None:
        n = self.groups[group] - 1
        if n:
            self.groups[group] = n
            return
        del self.groups[group]
        mac = ipv6_multicast_mac(group.packed)
        left = self.macs[mac] - 1
        if left:
            self.macs[mac] = left
        else:
            del self.macs[mac]


class _AddressTable(dict):
    """An interface's addresses by address; adding and removing one updates the group index (the
    solicited-node group of every address that is not a duplicate, RFC 4862 §5.4.2)."""

    def __init__(self, refs: _GroupRefs):
        super().__init__()
        self._refs = refs
        self.autoconfigured = 0         # how many entries SLAAC made (neighbour discovery bounds it)

    def __setitem__(self, key: IPv6Address, entry: InterfaceAddress) -> None:
        if key in self:
            del self[key]
        super().__setitem__(key, entry)
        object.__setattr__(entry, "_owner", self)
        self.autoconfigured += entry.autoconfigured
        if entry.state is not AddressState.DUPLICATE:
            self._refs.ref(solicited_node_multicast(key))

    def __delitem__(self, key: IPv6Address) -> None:
        entry = self[key]
        super().__delitem__(key)
        object.__setattr__(entry, "_owner", None)
        self.autoconfigured -= entry.autoconfigured
        if entry.state is not AddressState.DUPLICATE:
            self._refs.unref(solicited_node_multicast(key))

    def pop(self, key, *default):
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        entry = self[key]
        del self[key]
        return entry

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def _joined_changed(self, address: IPv6Address, joined: bool) -> None:
        (self._refs.ref if joined else self._refs.unref)(solicited_node_multicast(address))

    def update(self, *args, **kwargs) -> None:
        for key, entry in dict(*args, **kwargs).items():
            self[key] = entry

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


class _ExtraGroups(set):
    """Groups joined beyond the addresses' own (a home agent's proxied and DAD-probed addresses'
    solicited-node groups): a set whose members hold a reference each in the group index."""

    def __init__(self, refs: _GroupRefs):
        super().__init__()
        self._refs = refs

    def add(self, group: IPv6Address) -> None:
        if group not in self:
            super().add(group)
            self._refs.ref(group)

    def discard(self, group: IPv6Address) -> None:   # type: ignore[override]  # only groups go in
        if group in self:
            super().discard(group)
            self._refs.unref(group)

    def remove(self, group: IPv6Address) -> None:
        if group not in self:
            raise KeyError(group)
        self.discard(group)


class Interface:
    """One Ethernet interface: its MAC, the link-local address from the MAC's modified EUI-64
    (RFC 4291 App. A), global addresses with prefix lengths and lifetimes, the MTU, and carrier state.

    The link-local address is always present (RFC 4291 §2.1); ``add_address`` configures more.
    Addresses start tentative and become usable when duplicate address detection says so.

    The multicast groups joined are kept as an index updated when addresses, their states and
    ``extra_groups`` change, so that the receive path's group and MAC checks (``is_joined``,
    ``joined_mac``) cost the same with 65,536 proxied home addresses as with none.
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
        self._refs = _GroupRefs()
        self._refs.ref(ALL_NODES)
        self.addresses: dict[IPv6Address, InterfaceAddress] = _AddressTable(self._refs)
        self.add_address(self.link_local, 64)
        self.extra_groups: set[IPv6Address] = _ExtraGroups(self._refs)

    def __repr__(self) -> str:
        return f"Interface({self.name!r}, mac={self.mac.hex(':')}, up={self.up})"

    def add_address(self, address, prefix_length: int = 64, valid_until: int | None = None,
                    preferred_until: int | None = None, autoconfigured: bool = False) -> InterfaceAddress:
        addr = IPv6Address(address)
        entry = InterfaceAddress(addr, prefix_length, valid_until, preferred_until,
                                 AddressState.TENTATIVE, autoconfigured)
        self.addresses[addr] = entry
        return entry

    @property
    def autoconfigured_count(self) -> int:
        """How many of the addresses SLAAC formed (O(1))."""
        return self.addresses.autoconfigured   # type: ignore[attr-defined]

    def usable_addresses(self) -> list[InterfaceAddress]:
        return [a for a in self.addresses.values() if a.usable]

    def global_address(self) -> IPv6Address | None:
        """A preferred global address if there is one, else a deprecated or optimistic one (RFC 6724
        rule 3; RFC 4429 §3.3: an optimistic address counts as deprecated here)."""
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
        ones (RFC 4862 §5.4.2), ``extra_groups``, all-routers on a router (RFC 4291 §2.8). A copy, in
        O(groups): the receive path asks ``is_joined`` / ``joined_mac`` instead."""
        out = set(self._refs.groups)
        if router:
            out.add(ALL_ROUTERS)
        return out

    def is_joined(self, group: IPv6Address, router: bool = False) -> bool:
        """Is ``group`` one of ``groups(router)``? O(1)."""
        return group in self._refs.groups or (router and group == ALL_ROUTERS)

    def joined_mac(self, mac: bytes, router: bool = False) -> bool:
        """Does ``mac`` (33:33 + a group's last four bytes, RFC 2464 §7) belong to a joined group? O(1)."""
        return mac in self._refs.macs or (router and mac == _ALL_ROUTERS_MAC)
