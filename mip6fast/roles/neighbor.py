"""Neighbour discovery (RFC 4861) and stateless address autoconfiguration (RFC 4862) for one interface.

Theory of operation
-------------------
``NeighborDiscovery`` belongs to one ``Interface`` of a ``Node`` and uses the node's timer heap,
counters and output; it does no I/O. It keeps the conceptual data structures of RFC 4861 §5.1:

- the neighbour cache: ``Neighbor`` entries moving through INCOMPLETE → REACHABLE → STALE → DELAY →
  PROBE (RFC 4861 §7.3.2, appendix C), with a bounded queue of packets waiting for resolution;
- the default router list and the prefix list, filled from Router Advertisements (§6.3.4), plus what
  Mobile IPv6 adds to an RA: the router's global address from a Prefix Information option with the R
  flag, the Advertisement Interval option and the Home Agent Information option (RFC 6275 §7.2-7.4);
- the interface's own addresses: duplicate address detection (RFC 4862 §5.4) and addresses formed
  from prefixes with the A flag (RFC 4862 §5.5.3), with their lifetimes (§5.5.4); with
  ``optimistic_dad`` (RFC 4429) the addresses SLAAC forms are used while their DAD runs, and the
  restrictions of RFC 4429 §3.2 hold for them: no Neighbor Solicitation ever leaves from an optimistic
  address (so none carries its SLLA): a packet from one waiting for address resolution is buffered
  until DAD completes (modifies RFC 4861 §7.2.2), NUD probes leave from the link-local address; a
  Neighbor Advertisement for one never sets Override (so it cannot displace the rightful owner's cache
  entries elsewhere); and a DAD probe or an advertisement for it from another node makes it a
  duplicate, as for a tentative address;
- proxy entries: addresses this node answers Neighbor Solicitations for on behalf of another node
  (a home agent for its mobile nodes' home addresses, RFC 6275 §10.4.1).

Reachability, router, prefix and address changes are reported as notifications, which movement
detection (RFC 6275 §11.5.1) will listen to.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, cast

from ..wire import (
    ALL_NODES,
    ALL_ROUTERS,
    INFINITE_LIFETIME,
    AdvertisementInterval,
    HomeAgentInformation,
    ICMPv6Message,
    MTUOption,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PrefixInformation,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    solicited_node_multicast,
)
from ..wire.ethernet import ipv6_multicast_mac
from .events import NS_PER_S, Notification, Timer
from .interface import (
    IPV6_MIN_MTU,
    LINK_LOCAL,
    UNSPECIFIED,
    AddressState,
    Interface,
    InterfaceAddress,
    eui64_interface_id,
)

if TYPE_CHECKING:
    from .node import Node

__all__ = [
    "AddressDuplicate",
    "AddressReady",
    "AddressRemoved",
    "Neighbor",
    "NeighborDiscovery",
    "NeighborDiscoveryLimits",
    "NeighborState",
    "NeighborUnreachable",
    "PrefixAdded",
    "PrefixRemoved",
    "RouterEntry",
    "RouterOverdue",
    "RouterReachable",
    "RouterUnreachable",
    "autoconf_prefix_problem",
]

# RFC 4861 §10 protocol constants (times in ns)
MAX_RTR_SOLICITATION_DELAY = 1 * NS_PER_S
RTR_SOLICITATION_INTERVAL = 4 * NS_PER_S
MAX_RTR_SOLICITATIONS = 3
MAX_MULTICAST_SOLICIT = 3
MAX_UNICAST_SOLICIT = 3
MAX_NEIGHBOR_ADVERTISEMENT = 3
REACHABLE_TIME = 30 * NS_PER_S
RETRANS_TIMER = 1 * NS_PER_S
DELAY_FIRST_PROBE_TIME = 5 * NS_PER_S
MIN_RANDOM_FACTOR = 0.5
MAX_RANDOM_FACTOR = 1.5
DUP_ADDR_DETECT_TRANSMITS = 1           # RFC 4862 §5.1
TWO_HOURS = 2 * 3600 * NS_PER_S         # RFC 4862 §5.5.3 (e)
QUEUE_LIMIT = 3                         # RFC 4861 §7.2.2: "SHOULD ... at least one packet"
ND_HOP_LIMIT = 255                      # RFC 4861 §6.1, §7.1: ND messages must arrive with 255
NEIGHBOR_CACHE_LIMIT = 1024             # RFC 4861 §11.1: a bounded cache resists NS/RA floods


def _reserved_interface_id(iid: int, bits: int) -> bool:
    """RFC 5453's reserved interface identifiers, which a random one must avoid: 0 (the subnet-router
    anycast address, RFC 4291 §2.6.1), the reserved subnet anycast addresses of RFC 2526
    (fdff:ffff:ffff:ff80-ffff in a 64-bit identifier, the top 128 values otherwise) and, in a 64-bit
    identifier, 0200:5eff:fe00:0000-0200:5eff:feff:ffff (the IANA Ethernet block, Proxy Mobile IPv6's
    identifier among them)."""
    if iid == 0:
        return True
    if bits != 64:
        return iid >= (1 << bits) - 128
    return 0xFDFF_FFFF_FFFF_FF80 <= iid <= 0xFDFF_FFFF_FFFF_FFFF \
        or 0x0200_5EFF_FE00_0000 <= iid <= 0x0200_5EFF_FEFF_FFFF


def autoconf_prefix_problem(pio: PrefixInformation) -> str | None:
    """Why a prefix must not form an address (RFC 4862 §5.5.3), or None: the one rule for the prefixes
    of Router Advertisements (SLAAC, ``NeighborDiscovery``) and of Mobile Prefix Advertisements (home
    addresses, RFC 6275 §11.4.3 with §10.6.1, ``mn_discovery``). (c): a preferred lifetime above the
    valid lifetime → the option is silently ignored."""
    if pio.preferred_lifetime > pio.valid_lifetime:
        return "preferred_above_valid"
    return None


@dataclass(frozen=True)
class NeighborDiscoveryLimits:
    """Bounds on what other nodes on a link can make an interface keep (RFC 4861 §11.1: a forged RA
    flood must not grow state without limit; RFC 6980-style RA guards are not assumed). What does not
    fit is refused and counted (``nd.drop.router_limit``, ``nd.drop.prefix_limit``,
    ``nd.drop.address_limit``); what was learnt first stays. ``max_autoconf_addresses`` counts
    SLAAC addresses, as Linux's ``max_addresses`` (16) does."""
    max_routers: int = 16
    max_prefixes: int = 16
    max_autoconf_addresses: int = 16

    def __post_init__(self) -> None:
        for name in ("max_routers", "max_prefixes", "max_autoconf_addresses"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class RouterReachable(Notification):
    """A router entered the default router list (RFC 4861 §6.3.4)."""
    interface: str
    router: IPv6Address


@dataclass(frozen=True)
class RouterUnreachable(Notification):
    """A router left the default router list: lifetime expired or zero, NUD failed, or an NA cleared
    its R flag (RFC 4861 §6.3.5, §7.3.3, §7.2.5)."""
    interface: str
    router: IPv6Address
    reason: str


@dataclass(frozen=True)
class RouterOverdue(Notification):
    """No RA from a router within the interval its Advertisement Interval option announced
    (RFC 6275 §7.3: a hint for movement detection, §11.5.1)."""
    interface: str
    router: IPv6Address


@dataclass(frozen=True)
class PrefixAdded(Notification):
    interface: str
    prefix: IPv6Network


@dataclass(frozen=True)
class PrefixRemoved(Notification):
    interface: str
    prefix: IPv6Network


@dataclass(frozen=True)
class AddressReady(Notification):
    """DAD found no duplicate: the address is assigned (RFC 4862 §5.4)."""
    interface: str
    address: IPv6Address


@dataclass(frozen=True)
class AddressDuplicate(Notification):
    """DAD met another node using the address (RFC 4862 §5.4.5)."""
    interface: str
    address: IPv6Address


@dataclass(frozen=True)
class AddressRemoved(Notification):
    """An autoconfigured address's valid lifetime ended (RFC 4862 §5.5.4)."""
    interface: str
    address: IPv6Address


@dataclass(frozen=True)
class NeighborUnreachable(Notification):
    """Address resolution or NUD gave up on a neighbour (RFC 4861 §7.2.2, §7.3.3)."""
    interface: str
    neighbor: IPv6Address


# ---------------------------------------------------------------- state

class NeighborState(Enum):
    """RFC 4861 §7.3.2."""
    INCOMPLETE = "INCOMPLETE"
    REACHABLE = "REACHABLE"
    STALE = "STALE"
    DELAY = "DELAY"
    PROBE = "PROBE"


# The fields of a Neighbor a data-plane graph's adjacency depends on (``NeighborCache``).
_WATCHED = frozenset(("state", "mac", "reachable_until"))


@dataclass
class Neighbor:
    address: IPv6Address
    state: NeighborState
    mac: bytes | None = None
    is_router: bool = False
    reachable_until: int = 0
    probes: int = 0
    queue: deque = field(default_factory=lambda: deque(maxlen=QUEUE_LIMIT))
    timer: Timer | None = None
    # The cache holding the entry (set by NeighborCache): told when a watched field changes.
    cache: NeighborCache | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        if name in _WATCHED:
            cache = self.__dict__.get("cache")
            if cache is not None:
                cache.changed(self.address, self)


class NeighborCache(dict):
    """The neighbour cache of one interface (RFC 4861 §5.1): a dict of ``Neighbor`` by address that
    tells its ``listeners`` — ``(address, entry or None)`` — whenever an entry is added, removed, or
    changes state, link-layer address or ReachableTime deadline. A data-plane graph keeps its adjacency
    table (csrc/mip6_adj.h) in step through it, so a change is never missed wherever ND makes it."""

    def __init__(self):
        super().__init__()
        self.listeners: list = []

    def changed(self, address: IPv6Address, entry: Neighbor | None) -> None:
        for listener in self.listeners:
            listener(address, entry)

    def __setitem__(self, address: IPv6Address, entry: Neighbor) -> None:
        old = self.get(address)
        if old is not None and old is not entry:
            object.__setattr__(old, "cache", None)
        super().__setitem__(address, entry)
        object.__setattr__(entry, "cache", self)
        self.changed(address, entry)

    def __delitem__(self, address: IPv6Address) -> None:
        entry = self[address]
        super().__delitem__(address)
        object.__setattr__(entry, "cache", None)
        self.changed(address, None)

    def pop(self, address, *default):
        if address in self:
            entry = self[address]
            del self[address]
            return entry
        if default:
            return default[0]
        raise KeyError(address)

    def clear(self) -> None:
        for address in list(self):
            del self[address]

    def popitem(self):
        raise TypeError("NeighborCache.popitem: remove entries by address")

    def setdefault(self, *args):
        raise TypeError("NeighborCache.setdefault: add entries by assignment")

    def update(self, *args, **kwargs) -> None:
        for address, entry in dict(*args, **kwargs).items():
            self[address] = entry


@dataclass
class RouterEntry:
    """One default router (link-local address) and what its RAs said."""
    address: IPv6Address
    expires: int | None
    timer: Timer | None = None
    global_addresses: set[IPv6Address] = field(default_factory=set)     # PIO R flag, RFC 6275 §7.2
    advertisement_interval_ms: int | None = None                         # RFC 6275 §7.3
    last_advertisement: int = 0
    overdue_timer: Timer | None = None
    home_agent: bool = False                                             # RA H flag, RFC 6275 §7.1
    home_agent_preference: int = 0                                       # RFC 6275 §7.4
    home_agent_lifetime: int = 0


@dataclass
class PrefixEntry:
    prefix: IPv6Network
    expires: int | None
    timer: Timer | None = None


def _expiry(now: int, seconds: int) -> int | None:
    return None if seconds == INFINITE_LIFETIME else now + seconds * NS_PER_S


class NeighborDiscovery:
    """RFC 4861 / RFC 4862 for one interface of ``node``."""

    def __init__(self, node: Node, iface: Interface):
        self.node = node
        self.iface = iface
        self.neighbors: NeighborCache = NeighborCache()
        self.routers: dict[IPv6Address, RouterEntry] = {}
        self.prefix_entries: dict[IPv6Network, PrefixEntry] = {}
        self.proxies: set[IPv6Address] = set()
        # How many proxied addresses share each solicited-node group (by its low 24 bits, RFC 4291
        # §2.7.1): a home agent proxies 10^5 addresses, so removing one must not scan them all.
        self._proxy_groups: dict[bytes, int] = {}
        # (now, address) -> True when the proxying node gives a proxied address up to a DAD prober
        # instead of defending it (set by a home agent: Registrar.yield_home_address)
        self.yield_proxy: Callable[[int, IPv6Address], bool] | None = None
        self.base_reachable_time = REACHABLE_TIME
        self.retrans_timer = RETRANS_TIMER
        self.cur_hop_limit = 64
        self.reachable_time = self._random_reachable_time()
        self.limits = NeighborDiscoveryLimits()
        self.accept_ra = not node.is_router      # RFC 4861 §6.3.4 is host behaviour
        self.autoconf = not node.is_router
        # RFC 4429: addresses SLAAC forms are optimistic while DAD runs (configured addresses, the
        # link-local one included, keep plain DAD: §3.1 leaves optimism to autoconfigured ones).
        self.optimistic_dad = False
        # The first Router Solicitation after the carrier comes up leaves at once, from :: if the
        # link-local address is still tentative, instead of after RFC 4861 §6.3.7's random delay and
        # the link-local address's DAD. That delay (a SHOULD) spreads the solicitations of many hosts
        # starting together after a power failure; a mobile node re-attaching is one host, and RFC 6275
        # §11.5.1 wants its lower-layer hints to speed movement detection up. Off for other hosts.
        self.solicit_at_once = False
        self._dad_timers: dict[IPv6Address, Timer] = {}
        # SLAAC addresses found duplicate → the address formed in their place (``replace_duplicate``),
        # whose lifetimes the prefix's RAs keep updating.
        self._replacements: dict[IPv6Address, IPv6Address] = {}
        self._lifetime_timers: dict[IPv6Address, list[Timer]] = {}
        self._rs_timer: Timer | None = None
        self._rs_sent = 0
        self._rs_after_dad = False

    # ------------------------------------------------------------ small helpers

    def _random_reachable_time(self) -> int:
        # RFC 4861 §6.3.2: uniformly between MIN_ and MAX_RANDOM_FACTOR times BaseReachableTime.
        return int(self.base_reachable_time * self.node.rng.uniform(MIN_RANDOM_FACTOR, MAX_RANDOM_FACTOR))

    def _count(self, what: str) -> None:
        self.node.counters[f"nd.{what}"] += 1

    def announce(self) -> int:
        """An unsolicited NA (S = 0, O = 1, our link-layer address) to all-nodes for every usable
        address of the interface (RFC 4861 §7.2.6): the link's caches point at us at once. For a node
        taking over addresses another one held (a standby home agent becoming active). Returns how
        many were sent."""
        sent = 0
        tlla = (TargetLinkLayerAddress(self.iface.mac),)
        for addr in self.iface.usable_addresses():
            na = NeighborAdvertisement(target=addr.address, router=self.node.is_router, solicited=False,
                                       override=True, options=tlla)
            self._send(addr.address, ALL_NODES, na)
            sent += 1
        return sent

    def _send(self, src: IPv6Address, dst: IPv6Address, message, dst_mac: bytes | None = None) -> None:
        raw = Packet(src=src, dst=dst, hop_limit=ND_HOP_LIMIT, payload=message).to_bytes()
        if dst_mac is None:
            dst_mac = ipv6_multicast_mac(dst.packed)
        self._count(f"tx.{type(message).__name__}")
        self.node.emit_frame(self.iface.name, dst_mac, raw)

    @property
    def prefixes(self) -> list[IPv6Network]:
        """The on-link prefix list (RFC 4861 §5.1)."""
        return list(self.prefix_entries)

    def default_router(self) -> IPv6Address | None:
        """RFC 4861 §6.3.6: a router not known to be unreachable (its cache entry is not INCOMPLETE)
        is preferred; the order of the list is the order routers were learnt."""
        fallback = None
        for addr in self.routers:
            entry = self.neighbors.get(addr)
            if entry is None or entry.state is not NeighborState.INCOMPLETE:
                return addr
            fallback = fallback or addr
        return fallback

    def add_proxy(self, address) -> None:
        """Answer Neighbor Solicitations for ``address`` with our MAC (RFC 6275 §10.4.1)."""
        # (An IPv6Address is kept as it is: IPv6Address(IPv6Address) goes through the text form.)
        address = address if isinstance(address, IPv6Address) else IPv6Address(address)
        if address not in self.proxies:
            self.proxies.add(address)
            low = address.packed[13:]
            self._proxy_groups[low] = self._proxy_groups.get(low, 0) + 1
            if self.neighbors.listeners:
                self.neighbors.changed(address, self.neighbors.get(address))
        self.iface.extra_groups.add(solicited_node_multicast(address))

    def remove_proxy(self, address) -> None:
        """Stop answering for ``address``; its solicited-node group is left unless another proxied
        address is in it."""
        addr = address if isinstance(address, IPv6Address) else IPv6Address(address)
        low = addr.packed[13:]
        if addr in self.proxies:
            self.proxies.discard(addr)
            left = self._proxy_groups[low] - 1
            if left:
                self._proxy_groups[low] = left
            else:
                del self._proxy_groups[low]
            if self.neighbors.listeners:
                self.neighbors.changed(addr, self.neighbors.get(addr))
        if not self.proxy_in_group(addr):
            self.iface.extra_groups.discard(solicited_node_multicast(addr))

    def proxy_in_group(self, address: IPv6Address) -> bool:
        """Is some proxied address in ``address``'s solicited-node group?"""
        return address.packed[13:] in self._proxy_groups

    # ------------------------------------------------------------ link up / down

    def link_changed(self, now: int, up: bool) -> None:
        """Carrier change. Up: DAD for every address (RFC 4862 §5.4: on initialisation and on
        re-attachment), known neighbours to STALE so NUD re-checks them, and Router Solicitations on a
        host (RFC 4861 §6.3.7). Down: queued packets are dropped and timers stopped."""
        if self._rs_timer is not None:
            self._rs_timer.cancel()
            self._rs_timer = None
        self._rs_after_dad = False
        if not up:
            for entry in list(self.neighbors.values()):
                if entry.timer is not None:
                    entry.timer.cancel()
                for _ in entry.queue:
                    self._count("queue_dropped_link_down")
                entry.queue.clear()
                if entry.state is NeighborState.INCOMPLETE:
                    del self.neighbors[entry.address]
                else:
                    entry.state = NeighborState.STALE
            for timer in self._dad_timers.values():
                timer.cancel()
            self._dad_timers.clear()
            return
        for entry in self.neighbors.values():
            entry.state = NeighborState.STALE
        for addr in list(self.iface.addresses.values()):
            if addr.state is not AddressState.DUPLICATE:
                self.start_dad(now, addr)
        if self.accept_ra:
            self._rs_sent = 0
            if self.solicit_at_once:
                self._count("rs_without_delay")
                self._solicit_router(now)
                return
            delay = int(self.node.rng.uniform(0, MAX_RTR_SOLICITATION_DELAY))
            self._rs_timer = self.node.call_at(now + delay, self._solicit_router)

    def _solicit_router(self, now: int) -> None:
        """RFC 4861 §6.3.7: up to MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart, until an RA
        arrives. From the unspecified address (no SLLA) while no link-local address is assigned."""
        self._rs_timer = None
        if not self.iface.up or self.routers:
            return
        ll = self.iface.addresses.get(self.iface.link_local)
        if self._rs_sent == 0 and ll is not None and ll.state is AddressState.TENTATIVE \
                and not self.solicit_at_once:
            # Wait for the link-local address, so the RS can carry an SLLA and the answer can be
            # unicast-resolved without another exchange (RFC 4861 §6.3.7 allows either).
            self._rs_after_dad = True
            return
        if ll is not None and ll.usable:
            self._send(self.iface.link_local, ALL_ROUTERS,
                       RouterSolicitation(options=(SourceLinkLayerAddress(self.iface.mac),)))
        else:
            self._send(UNSPECIFIED, ALL_ROUTERS, RouterSolicitation())
        self._rs_sent += 1
        if self._rs_sent < MAX_RTR_SOLICITATIONS:
            self._rs_timer = self.node.call_at(now + RTR_SOLICITATION_INTERVAL, self._solicit_router)

    # ------------------------------------------------------------ duplicate address detection

    def start_dad(self, now: int, addr: InterfaceAddress) -> None:
        """RFC 4862 §5.4.2: NS from :: to the solicited-node group of the tentative address, no SLLA,
        DupAddrDetectTransmits times RetransTimer apart; no conflict by then → the address is ours.
        With ``optimistic_dad`` an autoconfigured address is optimistic meanwhile (RFC 4429 §3.1)."""
        if self.optimistic_dad and addr.autoconfigured:
            addr.state = AddressState.OPTIMISTIC
            self._count("dad_optimistic")
        else:
            addr.state = AddressState.TENTATIVE
        old = self._dad_timers.pop(addr.address, None)
        if old is not None:
            old.cancel()
        self._dad_transmit(now, addr.address, DUP_ADDR_DETECT_TRANSMITS)

    def _dad_transmit(self, now: int, address: IPv6Address, remaining: int) -> None:
        addr = self.iface.addresses.get(address)
        if addr is None or not addr.probing or not self.iface.up:
            return
        if remaining == 0:
            self._dad_timers.pop(address, None)
            addr.state = AddressState.PREFERRED
            if addr.preferred_until is not None and addr.preferred_until <= now:
                addr.state = AddressState.DEPRECATED
            self._count("dad_succeeded")
            self.node.notify(AddressReady(now, self.iface.name, address))
            if address == self.iface.link_local and self._rs_after_dad:
                self._rs_after_dad = False
                self._solicit_router(now)
            return
        self._send(UNSPECIFIED, solicited_node_multicast(address), NeighborSolicitation(target=address))
        self._dad_timers[address] = self.node.call_at(
            now + self.retrans_timer, lambda t: self._dad_transmit(t, address, remaining - 1))

    def _duplicate(self, now: int, addr: InterfaceAddress) -> None:
        """RFC 4862 §5.4.5: the address is not used. (A duplicate link-local address should also stop
        IP on the interface; here it just stays unusable, as every other duplicate.)"""
        timer = self._dad_timers.pop(addr.address, None)
        if timer is not None:
            timer.cancel()
        if addr.optimistic:
            self._count("dad_duplicate_optimistic")    # RFC 4429 §3.2: it was in use already
        addr.state = AddressState.DUPLICATE
        self._count("dad_duplicate")
        self.node.notify(AddressDuplicate(now, self.iface.name, addr.address))

    # ------------------------------------------------------------ inbound ND messages

    def handle(self, now: int, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """An ND message for this interface. RFC 4861 §6.1, §7.1: hop limit 255 and code 0, or it is
        silently discarded (counted)."""
        msg = cast(ICMPv6Message, packet.payload)
        if packet.hop_limit != ND_HOP_LIMIT:
            self._count("drop.hop_limit")
            return
        if msg.code != 0:
            self._count("drop.code")
            return
        if isinstance(msg, NeighborSolicitation):
            self._on_ns(now, packet, msg)
        elif isinstance(msg, NeighborAdvertisement):
            self._on_na(now, packet, msg)
        elif isinstance(msg, RouterAdvertisement):
            self._on_ra(now, packet, msg)
        elif isinstance(msg, RouterSolicitation):
            self._on_rs(now, raw, packet, msg)
        else:
            self._count("drop.not_neighbor_discovery")

    @staticmethod
    def _lla(options, cls) -> bytes | None:
        for opt in options:
            if isinstance(opt, cls):
                return opt.address[:6]
        return None

    def _on_ns(self, now: int, packet: Packet, ns: NeighborSolicitation) -> None:
        target = ns.target
        slla = self._lla(ns.options, SourceLinkLayerAddress)
        from_dad = packet.src == UNSPECIFIED
        # RFC 4861 §7.1.1 validity checks.
        if target.is_multicast:
            self._count("drop.ns_multicast_target")
            return
        if from_dad and (packet.dst != solicited_node_multicast(target) or slla is not None):
            self._count("drop.ns_bad_dad")
            return
        own = self.iface.addresses.get(target)
        if own is not None and own.probing and from_dad:
            # RFC 4862 §5.4.3 (and RFC 4429 §3.2 for an optimistic address): someone else is doing
            # DAD for our tentative address.
            self._duplicate(now, own)
            return
        if own is not None and own.state is AddressState.TENTATIVE:
            self._count("ns_for_tentative_ignored")
            return
        if own is not None and own.state is AddressState.DUPLICATE:
            self._count("ns_for_duplicate_ignored")
            return
        proxied = target in self.proxies
        if proxied and from_dad and own is None and self.yield_proxy is not None and self.yield_proxy(now, target):
            # the proxying node gave the address up to the prober (a home agent after a Home Agent
            # Switch, registration.Registrar.yield_home_address): no defence
            self._count("proxy_yielded")
            return
        if own is None and not proxied:
            self._count("drop.ns_not_for_us")
            return
        if not from_dad and slla is not None:
            self._learn(now, packet.src, slla, is_router=None)
        # RFC 4861 §7.2.4 (and RFC 6275 §10.4.1 for a proxy: R = 0, O = 0; RFC 4429 §3.2 for an
        # optimistic target: O = 0, the address may yet turn out to be another node's).
        router = self.node.is_router and not proxied
        override = not proxied and not (own is not None and own.optimistic)
        if own is not None and own.optimistic:
            self._count("na_optimistic_no_override")
        tlla = (TargetLinkLayerAddress(self.iface.mac),)
        if from_dad:
            na = NeighborAdvertisement(target=target, router=router, solicited=False, override=override,
                                       options=tlla)
            self._send(self.iface.source_for(ALL_NODES) or target, ALL_NODES, na)
        else:
            na = NeighborAdvertisement(target=target, router=router, solicited=True, override=override,
                                       options=tlla)
            dst_mac = slla
            if dst_mac is None:
                entry = self.neighbors.get(packet.src)
                dst_mac = entry.mac if entry is not None else None
            if dst_mac is None:
                self._count("drop.ns_no_link_address")  # would need resolution of the solicitor
                return
            src = target if own is not None else (self.iface.source_for(packet.src) or target)
            self._send(src, packet.src, na, dst_mac)
        self._count("na_answered_proxy" if proxied else "na_answered")

    def _on_na(self, now: int, packet: Packet, na: NeighborAdvertisement) -> None:
        target = na.target
        # RFC 4861 §7.1.2 validity checks.
        if target.is_multicast:
            self._count("drop.na_multicast_target")
            return
        if packet.dst.is_multicast and na.solicited:
            self._count("drop.na_solicited_multicast")
            return
        own = self.iface.addresses.get(target)
        if own is not None:
            if own.probing:
                self._duplicate(now, own)       # RFC 4862 §5.4.4, RFC 4429 §3.2 for an optimistic one
            else:
                self._count("na_for_own_address")  # §5.4.4: another node claims it; logged only
            return
        tlla = self._lla(na.options, TargetLinkLayerAddress)
        entry = self.neighbors.get(target)
        if entry is None:
            self._count("na_unsolicited_ignored")   # §7.2.5: no entry, nothing is created
            return
        if entry.state is NeighborState.INCOMPLETE:
            if tlla is None:
                self._count("drop.na_no_tlla")
                return
            entry.mac = tlla
            entry.is_router = na.router
            self._set_state(now, entry, NeighborState.REACHABLE if na.solicited else NeighborState.STALE)
            self._flush(entry)
        else:
            changed = tlla is not None and tlla != entry.mac
            if not na.override and changed:
                if entry.state is NeighborState.REACHABLE:
                    self._set_state(now, entry, NeighborState.STALE)
                self._count("na_not_override_ignored")
                return
            if tlla is not None:
                entry.mac = tlla
            if na.solicited:
                self._set_state(now, entry, NeighborState.REACHABLE)
            elif changed:
                self._set_state(now, entry, NeighborState.STALE)
            if entry.is_router and not na.router:
                self._remove_router(now, target, "na_router_flag_cleared")
            entry.is_router = na.router

    def _on_rs(self, now: int, raw: bytes, packet: Packet, rs: RouterSolicitation) -> None:
        slla = self._lla(rs.options, SourceLinkLayerAddress)
        if packet.src == UNSPECIFIED and slla is not None:
            self._count("drop.rs_unspecified_with_slla")   # RFC 4861 §6.1.1
            return
        if not self.node.is_router:
            self._count("rs_ignored_host")
            return
        if slla is not None:
            self._learn(now, packet.src, slla, is_router=False)
        self.node.router_solicited(now, self.iface, packet)

    def _on_ra(self, now: int, packet: Packet, ra: RouterAdvertisement) -> None:
        """RFC 4861 §6.1.2 validation, §6.3.4 processing, RFC 4862 §5.5.3 for PIOs with the A flag,
        RFC 6275 §7 for the Mobile IPv6 options."""
        if packet.src not in LINK_LOCAL:
            self._count("drop.ra_source_not_link_local")
            return
        if not self.accept_ra:
            self._count("ra_ignored_router")
            return
        self._count("ra_processed")
        if ra.cur_hop_limit:
            self.cur_hop_limit = ra.cur_hop_limit
        if ra.reachable_time and ra.reachable_time * 1_000_000 != self.base_reachable_time:
            self.base_reachable_time = ra.reachable_time * 1_000_000
            self.reachable_time = self._random_reachable_time()
        if ra.retrans_timer:
            self.retrans_timer = ra.retrans_timer * 1_000_000
        src = packet.src
        slla = self._lla(ra.options, SourceLinkLayerAddress)
        if slla is not None:
            self._learn(now, src, slla, is_router=True)
        elif src in self.neighbors:
            self.neighbors[src].is_router = True
        router = self._update_router(now, src, ra)
        for opt in ra.options:
            if isinstance(opt, MTUOption):
                # §6.3.4: accepted only within [IPv6 minimum, the link's own MTU].
                if IPV6_MIN_MTU <= opt.mtu <= self.iface.link_mtu:
                    self.iface.mtu = opt.mtu
                else:
                    self._count("drop.ra_mtu_out_of_range")
            elif isinstance(opt, PrefixInformation):
                self._on_pio(now, opt, router)
            elif isinstance(opt, AdvertisementInterval) and router is not None:
                router.advertisement_interval_ms = opt.interval_ms
            elif isinstance(opt, HomeAgentInformation) and router is not None:
                router.home_agent_preference = opt.preference
                router.home_agent_lifetime = opt.lifetime
        if router is not None:
            self._arm_overdue(now, router)
        if self._rs_timer is not None:
            self._rs_timer.cancel()      # §6.3.7: an RA ends the solicitations
            self._rs_timer = None

    def _update_router(self, now: int, src: IPv6Address, ra: RouterAdvertisement) -> RouterEntry | None:
        """§6.3.4: lifetime 0 removes the router, otherwise it is added or its expiry reset."""
        entry = self.routers.get(src)
        if ra.router_lifetime == 0:
            if entry is not None:
                self._remove_router(now, src, "lifetime_zero")
            return None
        if entry is None:
            if len(self.routers) >= self.limits.max_routers:
                self._count("drop.router_limit")
                return None
            entry = RouterEntry(src, None)
            self.routers[src] = entry
            self.node.notify(RouterReachable(now, self.iface.name, src))
        if entry.timer is not None:
            entry.timer.cancel()
        entry.expires = now + ra.router_lifetime * NS_PER_S
        entry.timer = self.node.call_at(entry.expires, lambda t: self._router_expired(t, src))
        entry.last_advertisement = now
        entry.home_agent = ra.home_agent
        entry.home_agent_lifetime = ra.router_lifetime if ra.home_agent else 0
        entry.home_agent_preference = 0
        return entry

    def _arm_overdue(self, now: int, router: RouterEntry) -> None:
        if router.overdue_timer is not None:
            router.overdue_timer.cancel()
            router.overdue_timer = None
        if router.advertisement_interval_ms:
            addr = router.address
            router.overdue_timer = self.node.call_at(
                now + router.advertisement_interval_ms * 1_000_000,
                lambda t: self.node.notify(RouterOverdue(t, self.iface.name, addr)))

    def _router_expired(self, now: int, address: IPv6Address) -> None:
        entry = self.routers.get(address)
        if entry is not None and entry.expires is not None and entry.expires <= now:
            self._remove_router(now, address, "lifetime_expired")

    # ---- what the mobile node's movement detection and return home use (RFC 6275 §11.5) ----------

    def forget_router(self, now: int, address: IPv6Address, reason: str) -> None:
        """Drop a router from the default router list at once (it is not on this link any more)."""
        self._remove_router(now, address, reason)

    def forget_prefix(self, now: int, net: IPv6Network) -> None:
        """Drop a prefix from the prefix list at once (§11.5.1: the old link's prefixes are not on-link)."""
        self._remove_prefix(now, net)

    def probe_now(self, now: int, address: IPv6Address, probes: int = MAX_UNICAST_SOLICIT) -> bool:
        """Start Neighbor Unreachability Detection of ``address`` now (RFC 4861 §7.3.3: PROBE, unicast
        NS every RetransTimer); failure ends in the usual ``NeighborUnreachable``/``RouterUnreachable``.
        ``probes``: how many unanswered solicitations are failure (MAX_UNICAST_SOLICIT; fewer when
        the caller has another reason to doubt the neighbour, as a mobile node hearing a new router
        does, RFC 6059's idea). False when there is no resolved entry to probe."""
        if not 1 <= probes <= MAX_UNICAST_SOLICIT:
            raise ValueError(f"probes must be 1..{MAX_UNICAST_SOLICIT}, got {probes}")
        entry = self.neighbors.get(address)
        if entry is None or entry.state is NeighborState.INCOMPLETE:
            return False
        if entry.state is not NeighborState.PROBE:
            self._set_state(now, entry, NeighborState.PROBE)
            entry.probes = MAX_UNICAST_SOLICIT - probes
            self._probe(now, entry)
        else:
            # Already probing: at most ``probes`` unanswered in all, counting those already sent (the
            # entry counts towards MAX_UNICAST_SOLICIT): with as many out, the one in flight is the
            # last, and its RetransTimer decides.
            entry.probes = max(entry.probes, MAX_UNICAST_SOLICIT - max(0, probes - entry.probes))
        return True

    def hold_for(self, address: IPv6Address, frame_payload: bytes) -> None:
        """Keep ``frame_payload`` (and only it) waiting for ``address``'s link-layer address; an NA that
        resolves the address sends it. The caller sends the solicitation (a mobile node coming home asks
        from the unspecified address, RFC 6275 §11.5.5)."""
        entry = self.neighbors.get(address)
        if entry is None:
            entry = Neighbor(address, NeighborState.INCOMPLETE)
            self.neighbors[address] = entry
        entry.queue.clear()
        entry.queue.append(frame_payload)

    def _remove_router(self, now: int, address: IPv6Address, reason: str) -> None:
        entry = self.routers.pop(address, None)
        if entry is None:
            return
        for timer in (entry.timer, entry.overdue_timer):
            if timer is not None:
                timer.cancel()
        self._count(f"router_removed.{reason}")
        self.node.notify(RouterUnreachable(now, self.iface.name, address, reason))

    def _on_pio(self, now: int, pio: PrefixInformation, router: RouterEntry | None) -> None:
        net = pio.network
        if router is not None and pio.router_address:
            router.global_addresses.add(pio.prefix)      # RFC 6275 §7.2
        if net.network_address in LINK_LOCAL:
            self._count("drop.pio_link_local")           # §6.3.4, RFC 4862 §5.5.3 (b)
            return
        if pio.on_link:
            entry = self.prefix_entries.get(net)
            if pio.valid_lifetime == 0:
                if entry is not None:
                    self._remove_prefix(now, net)
            else:
                if entry is None:
                    if len(self.prefix_entries) >= self.limits.max_prefixes:
                        self._count("drop.prefix_limit")
                        return
                    entry = PrefixEntry(net, None)
                    self.prefix_entries[net] = entry
                    self.node.notify(PrefixAdded(now, self.iface.name, net))
                if entry.timer is not None:
                    entry.timer.cancel()
                    entry.timer = None
                entry.expires = _expiry(now, pio.valid_lifetime)
                if entry.expires is not None:
                    entry.timer = self.node.call_at(entry.expires, lambda t: self._remove_prefix(t, net))
        if pio.autonomous and self.autoconf:
            self._slaac(now, pio, net)

    def _remove_prefix(self, now: int, net: IPv6Network) -> None:
        entry = self.prefix_entries.pop(net, None)
        if entry is None:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        self.node.notify(PrefixRemoved(now, self.iface.name, net))

    # ------------------------------------------------------------ SLAAC

    def _slaac(self, now: int, pio: PrefixInformation, net: IPv6Network) -> None:
        """RFC 4862 §5.5.3 for a PIO with the A flag."""
        if autoconf_prefix_problem(pio) is not None:
            self._count("drop.pio_preferred_above_valid")    # (c), the only problem it names
            return
        if net.prefixlen + 64 != 128:
            self._count("drop.pio_length_not_64")             # (d): the EUI-64 identifier is 64 bits
            return
        address = IPv6Address(int(net.network_address) | eui64_interface_id(self.iface.mac))
        existing = self.iface.addresses.get(address)
        valid_until = _expiry(now, pio.valid_lifetime)
        preferred_until = _expiry(now, pio.preferred_lifetime)
        if existing is None:
            if pio.valid_lifetime == 0:
                return
            if self.iface.autoconfigured_count >= self.limits.max_autoconf_addresses:
                self._count("drop.address_limit")
                return
            addr = self.iface.add_address(address, 64, valid_until, preferred_until, autoconfigured=True)
            self._arm_lifetimes(addr)
            self._count("slaac_formed")
            self.start_dad(now, addr)
            return
        if existing.state is AddressState.DUPLICATE and address in self._replacements:
            existing = self.iface.addresses.get(self._replacements[address])
            if existing is None:
                return
        if not existing.autoconfigured:
            return
        # (e): the two-hour rule protects against a forged short valid lifetime.
        remaining = None if existing.valid_until is None else existing.valid_until - now
        received = None if valid_until is None else valid_until - now
        if received is None or received > TWO_HOURS or (remaining is not None and received > remaining):
            existing.valid_until = valid_until
        elif remaining is not None and remaining <= TWO_HOURS:
            pass
        else:
            existing.valid_until = now + TWO_HOURS
        existing.preferred_until = preferred_until
        if existing.state is AddressState.DEPRECATED and (preferred_until is None or preferred_until > now):
            existing.state = AddressState.PREFERRED
        self._arm_lifetimes(existing)

    def replace_duplicate(self, now: int, address: IPv6Address) -> IPv6Address | None:
        """A SLAAC address DAD found duplicate (RFC 4862 §5.4.5: it is never used) gets a replacement on
        the same prefix with a random interface identifier (as RFC 7217 §6 retries with another one),
        the same lifetimes, and DAD of its own (optimistic with ``optimistic_dad``). The duplicate stays
        in the table as DUPLICATE, so the prefix's next RA does not form it again. None when there is
        no such address or no room (``limits.max_autoconf_addresses``)."""
        dup = self.iface.addresses.get(address)
        if dup is None or not dup.autoconfigured or dup.state is not AddressState.DUPLICATE:
            return None
        if self.iface.autoconfigured_count >= self.limits.max_autoconf_addresses:
            self._count("drop.address_limit")
            return None
        prefix = int(dup.network.network_address)
        host_bits = 128 - dup.prefix_length
        while True:
            iid = self.node.rng.getrandbits(host_bits)
            if not _reserved_interface_id(iid, host_bits):
                candidate = IPv6Address(prefix | iid)
                if candidate not in self.iface.addresses:
                    break
        addr = self.iface.add_address(candidate, dup.prefix_length, dup.valid_until, dup.preferred_until,
                                      autoconfigured=True)
        self._replacements[address] = candidate
        self._arm_lifetimes(addr)
        self._count("slaac_replaced_duplicate")
        self.start_dad(now, addr)
        return candidate

    def _arm_lifetimes(self, addr: InterfaceAddress) -> None:
        """RFC 4862 §5.5.4: deprecated when the preferred lifetime ends, removed when the valid one does."""
        for timer in self._lifetime_timers.pop(addr.address, []):
            timer.cancel()
        timers = []
        address = addr.address
        if addr.preferred_until is not None:
            timers.append(self.node.call_at(addr.preferred_until, lambda t: self._deprecate(t, address)))
        if addr.valid_until is not None:
            timers.append(self.node.call_at(addr.valid_until, lambda t: self._expire_address(t, address)))
        self._lifetime_timers[address] = timers

    def _deprecate(self, now: int, address: IPv6Address) -> None:
        addr = self.iface.addresses.get(address)
        if addr is not None and addr.state is AddressState.PREFERRED and addr.preferred_until is not None \
                and addr.preferred_until <= now:
            addr.state = AddressState.DEPRECATED

    def _expire_address(self, now: int, address: IPv6Address) -> None:
        addr = self.iface.addresses.get(address)
        if addr is None or addr.valid_until is None or addr.valid_until > now:
            return
        del self.iface.addresses[address]
        self._lifetime_timers.pop(address, None)
        self.node.notify(AddressRemoved(now, self.iface.name, address))

    # ------------------------------------------------------------ neighbour cache

    def _set_state(self, now: int, entry: Neighbor, state: NeighborState) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        entry.state = state
        entry.probes = 0
        if state is NeighborState.REACHABLE:
            entry.reachable_until = now + self.reachable_time

    def _learn(self, now: int, address: IPv6Address, mac: bytes, is_router: bool | None) -> None:
        """A link-layer address from an NS, RS or RA (§7.2.3, §6.2.6, §6.3.4): a new entry, or one
        whose address changed, becomes STALE; an INCOMPLETE one sends its queue."""
        entry = self.neighbors.get(address)
        if entry is None:
            if not self._make_room(now):
                return
            entry = Neighbor(address, NeighborState.STALE, mac)
            self.neighbors[address] = entry
        elif entry.state is NeighborState.INCOMPLETE:
            entry.mac = mac
            self._set_state(now, entry, NeighborState.STALE)
            self._flush(entry)
        elif entry.mac != mac:
            entry.mac = mac
            self._set_state(now, entry, NeighborState.STALE)
        if is_router is not None:
            entry.is_router = is_router

    def _make_room(self, now: int) -> bool:
        """Keep the cache under NEIGHBOR_CACHE_LIMIT: the oldest STALE entry that is not a router goes
        (garbage collection, RFC 4861 §7.3.1 / §11.1). A REACHABLE entry whose ReachableTime has run out
        is STALE in all but name (the state changes lazily, on the next send: §7.3.3), so it may go too;
        otherwise a router that once reached more than the limit of neighbours would refuse every new
        one for good. False when there is none to evict (counted)."""
        if len(self.neighbors) < NEIGHBOR_CACHE_LIMIT:
            return True
        for address, entry in self.neighbors.items():
            stale = entry.state is NeighborState.STALE or (
                entry.state is NeighborState.REACHABLE and now >= entry.reachable_until)
            if stale and not entry.is_router and address not in self.routers:
                del self.neighbors[address]
                self._count("cache_evicted")
                return True
        self._count("drop.cache_full")
        return False

    def confirm_reachability(self, now: int, address: IPv6Address) -> None:
        """Upper-layer confirmation of forward progress (RFC 4861 §7.3.1)."""
        entry = self.neighbors.get(address)
        if entry is not None and entry.state is not NeighborState.INCOMPLETE:
            self._set_state(now, entry, NeighborState.REACHABLE)

    def _flush(self, entry: Neighbor) -> None:
        assert entry.mac is not None   # resolved: the caller just learnt it
        while entry.queue:
            self.node.emit_frame(self.iface.name, entry.mac, entry.queue.popleft())

    def send_to_neighbor(self, now: int, address: IPv6Address, raw: bytes) -> None:
        """Transmit ``raw`` to the on-link neighbour ``address``, resolving it first if needed
        (RFC 4861 §7.2.2) and running NUD's DELAY step on a stale entry (§7.3.3)."""
        if address in self.proxies:
            self._count("drop.to_proxied_address")   # the owner is away; a role tunnels these
            return
        entry = self.neighbors.get(address)
        if entry is None:
            if not self._make_room(now):
                return
            entry = Neighbor(address, NeighborState.INCOMPLETE)
            self.neighbors[address] = entry
            entry.queue.append(raw)
            self._solicit(now, entry, source_hint=IPv6Address(raw[8:24]))
            return
        if entry.state is NeighborState.INCOMPLETE:
            if len(entry.queue) == entry.queue.maxlen:
                self._count("queue_overflow")   # §7.2.2: the oldest packet is replaced
            entry.queue.append(raw)
            return
        if entry.state is NeighborState.REACHABLE and now >= entry.reachable_until:
            entry.state = NeighborState.STALE   # §7.3.3: ReachableTime passed without confirmation
        if entry.state is NeighborState.STALE:
            self._set_state(now, entry, NeighborState.DELAY)
            entry.timer = self.node.call_at(now + DELAY_FIRST_PROBE_TIME, lambda t: self._delay_over(t, address))
        assert entry.mac is not None   # not INCOMPLETE: the link-layer address is known
        self.node.emit_frame(self.iface.name, entry.mac, raw)

    def _ns_source(self, hint: IPv6Address | None) -> IPv6Address | None:
        # §7.2.2: the queued packet's source if it is ours, else any of the interface's addresses
        # (never an optimistic one: ``source_for`` picks the link-local address for link scope).
        if hint is not None:
            own = self.iface.addresses.get(hint)
            if own is not None and own.usable:
                return hint
        return self.iface.source_for(ALL_NODES)

    def _from_optimistic(self, hint: IPv6Address | None) -> bool:
        """Is the packet waiting for resolution from one of our optimistic addresses? RFC 4429 §3.2
        (modifying RFC 4861 §7.2.2): such a packet gets no address resolution -- its NS would carry the
        optimistic address and its SLLA, and would override the rightful owner's entry in the
        neighbour's cache if the address turns out to be a duplicate. It is buffered (the RFC's MAY)
        until DAD has made the address preferred, then resolved as usual."""
        own = self.iface.addresses.get(hint) if hint is not None else None
        return own is not None and own.optimistic

    def _solicit(self, now: int, entry: Neighbor, source_hint: IPv6Address | None = None) -> None:
        """One multicast NS of address resolution; retransmitted every RetransTimer, at most
        MAX_MULTICAST_SOLICIT times (§7.2.2)."""
        address = entry.address
        if self._from_optimistic(source_hint):
            self._count("resolution_deferred_optimistic")     # not a probe: retried after RetransTimer
            entry.timer = self.node.call_at(now + self.retrans_timer,
                                            lambda t: self._resolution_timeout(t, address))
            return
        src = self._ns_source(source_hint)
        if src is None:
            self._count("drop.ns_no_source")
        else:
            self._send(src, solicited_node_multicast(address),
                       NeighborSolicitation(target=address, options=(SourceLinkLayerAddress(self.iface.mac),)))
        entry.probes += 1
        entry.timer = self.node.call_at(now + self.retrans_timer, lambda t: self._resolution_timeout(t, address))

    def _resolution_timeout(self, now: int, address: IPv6Address) -> None:
        entry = self.neighbors.get(address)
        if entry is None or entry.state is not NeighborState.INCOMPLETE:
            return
        if entry.probes < MAX_MULTICAST_SOLICIT:
            hint = IPv6Address(entry.queue[-1][8:24]) if entry.queue else None
            self._solicit(now, entry, hint)
            return
        self._give_up(now, entry)
        for raw in entry.queue:
            self._count("resolution_failed_dropped")
            self.node.address_unreachable(now, self.iface, raw)
        entry.queue.clear()

    def _delay_over(self, now: int, address: IPv6Address) -> None:
        entry = self.neighbors.get(address)
        if entry is None or entry.state is not NeighborState.DELAY:
            return
        entry.state = NeighborState.PROBE
        entry.probes = 0
        self._probe(now, entry)

    def _probe(self, now: int, entry: Neighbor) -> None:
        """§7.3.3: unicast NS to the cached address every RetransTimer, MAX_UNICAST_SOLICIT times."""
        if entry.probes >= MAX_UNICAST_SOLICIT:
            self._give_up(now, entry)
            return
        src = self._ns_source(None)
        if src is not None:
            self._send(src, entry.address,
                       NeighborSolicitation(target=entry.address,
                                            options=(SourceLinkLayerAddress(self.iface.mac),)), entry.mac)
        entry.probes += 1
        address = entry.address
        entry.timer = self.node.call_at(now + self.retrans_timer, lambda t: self._probe_timeout(t, address))

    def _probe_timeout(self, now: int, address: IPv6Address) -> None:
        entry = self.neighbors.get(address)
        if entry is not None and entry.state is NeighborState.PROBE:
            self._probe(now, entry)

    def _give_up(self, now: int, entry: Neighbor) -> None:
        """The neighbour is unreachable: the entry goes, and a router leaves the default router list
        (§7.3.3 and §6.3.6)."""
        self.neighbors.pop(entry.address, None)
        if entry.timer is not None:
            entry.timer.cancel()
        self._count("neighbor_unreachable")
        self.node.notify(NeighborUnreachable(now, self.iface.name, entry.address))
        if entry.address in self.routers:
            self._remove_router(now, entry.address, "nud_failed")
