"""The Mobile IPv6 home agent (RFC 6275 §10), sans-I/O.

Theory of operation
-------------------
``HomeAgent`` is a ``Router`` on the home link (RFC 6275 §10.1: a home agent is a router there): it
forwards, and its RAs on the home link carry the H flag, the Home Agent Information option and a Prefix
Information option with the R flag holding its global address (§7.1, §7.2, §7.4). On top of that:

- Mobility Header reception (§9.2): a bad checksum is a silent, counted discard (the base node's parse
  counter); a Payload Proto other than 59 or a Header Len below the type's minimum is answered with a
  Parameter Problem pointing at the field (``parse_failed``); an unknown MH type with a rate-limited
  Binding Error status 2.
- Home registration (§10.3.1 with §9.5.1): a Binding Update with H set is checked in the order of the
  RFC, answered with a Binding Acknowledgement even when A is clear, and accepted into a ``BindingCache``
  (the C table, keyed by home address). A first registration waits for duplicate address detection of
  the home address on the home link (§10.3.1); an NA in reply rejects it with status 134.
- Proxy neighbour discovery (§10.4.1) through ``NeighborDiscovery.add_proxy``: unsolicited NAs for each
  new binding, answers to NS and DAD defence by neighbor.py, stopped on de-registration and expiry.
- The data path (§10.4.2-10.4.5): ``receive_batch`` strips the Ethernet headers of a whole batch with
  numpy, runs ``HomeAgentDataPath.encapsulate`` (packets for bound home addresses into the tunnel to the
  care-of address) and ``decapsulate`` (the mobile nodes' reverse tunnels, only for packets addressed to
  the home agent) over it, and hands only what the kernels leave (PASS / SLOW_PATH) to the per-packet
  path of ``Node``. ``receive`` wraps its frame in a one-packet batch, so there is one data path.
- Binding lifetime (§10.3.1, §9.5.2): one timer at the earliest expiry runs ``BindingCache.expire``;
  optionally a Binding Refresh Request some seconds before a binding expires (§10.3.1, §6.1.2).
  Packets the home agent originates for a bound home address go through the same kernel
  (``output_packet``); ICMP errors about tunnelled packets are relayed to the inner source (RFC 2473 §8).
- Discovery (§10.5, §10.6): the home agents list from RAs with the H flag, Dynamic Home Agent Address
  Discovery replies, and Mobile Prefix Advertisements in answer to solicitations, or unsolicited when
  the home prefixes' lifetimes change (``set_home_prefix_lifetimes``).

Choices where the RFC leaves room: a BU addressed to another of this router's addresses gets status 131;
a BU without H is refused with 139 when a home registration exists and otherwise dropped (counted: no
route optimisation here); Binding Errors share one rate limit (one per second); a packet going from one
mobile node's reverse tunnel into another's tunnel has its hop limit decremented by both kernel passes.

Time is integer nanoseconds passed in by the driver; randomness (DHAAD shuffling) comes from the node's
``rng``.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace
from ipaddress import IPv6Address, IPv6Network

import numpy as np

from ..batch import DropReason, PacketBatch, Verdict
from ..binding_cache import FLAG_ACK, FLAG_HOME, FLAG_LINK_LOCAL, BindingCache, Outcome
from ..datapath import HomeAgentDataPath
from ..errors import ParseError
from ..wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingAckStatus,
    BindingError,
    BindingErrorStatus,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    DestinationUnreachable,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    HomeAgentInformation,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    NeighborAdvertisement,
    NeighborSolicitation,
    NonceIndices,
    Packet,
    PacketTooBig,
    ParameterProblem,
    PrefixInformation,
    RouterAdvertisement,
    TargetLinkLayerAddress,
    TimeExceeded,
    UnknownMobilityMessage,
    home_agents_anycast,
    parse,
    solicited_node_multicast,
)
from ..wire.ethernet import ETHERNET_HEADER_LEN
from ..wire.packet import CODEC as PACKET_CODEC
from .batch_tx import transmit_batch
from .binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from .events import NS_PER_S, Notification, Output, Timer
from .frames import classify
from .interface import IPV6_MIN_MTU, LINK_LOCAL, NH_MH, UNSPECIFIED, AddressState, Interface
from .neighbor import ND_HOP_LIMIT
from .rate_limit import TokenBucket
from .router import AdvertisingConfig, Router

__all__ = [
    "BindingCreated", "BindingDeleted", "BindingExpired", "BindingUpdated", "HomeAgent", "HomeAgentConfig",
    "HomeAgentEntry", "RegistrationRejected",
]

# RFC 4861 §10 / RFC 6275 §10.4.1: unsolicited proxy NAs are repeated this many times, this far apart.
MAX_NEIGHBOR_ADVERTISEMENT = 3
NA_INTERVAL = NS_PER_S
# RFC 6275 §9.3.3 asks for Binding Errors to be rate-limited: at most one per second (TokenBucket(1, 1)).
BINDING_ERROR_RATE = 1
# RFC 6275 §12: unsolicited Mobile Prefix Advertisements are retransmitted this often, this many times.
PREFIX_ADV_TIMEOUT = 3 * NS_PER_S
PREFIX_ADV_RETRIES = 3
# A DHAAD Reply fits the IPv6 minimum MTU (RFC 6275 §10.5): 40 + 8 bytes of headers, 16 per address.
MAX_DHAAD_ADDRESSES = (IPV6_MIN_MTU - 48) // 16
_ND_TYPES = (133, 134, 135, 136, 137)


# ---------------------------------------------------------------- configuration and events

@dataclass(frozen=True)
class HomeAgentConfig:
    """What a home agent serves (RFC 6275 §10.1, §10.3.1).

    ``max_lifetime`` caps granted binding lifetimes (seconds). ``preference`` goes in the Home Agent
    Information option and in this agent's own home agents list entry (§7.4, §10.1). With
    ``virtual_home_link`` there is no physical home link: no proxy ND and no DAD (§10.4.1 has nothing
    to defend). ``refresh_lead``: send a Binding Refresh Request this many seconds before a binding
    expires, and advise the refresh interval in the BA (None: neither). ``max_bindings``: more registrations are refused with status 130."""
    interface: str
    home_prefixes: tuple[IPv6Network, ...]
    address: IPv6Address
    max_lifetime: int = 420
    preference: int = 0
    virtual_home_link: bool = False
    refresh_lead: int | None = None
    dad: bool = True
    tunnel_mtu: int = 1500
    max_bindings: int = 1 << 16

    def __post_init__(self):
        prefixes = self.home_prefixes
        if isinstance(prefixes, (str, IPv6Network)):
            prefixes = (prefixes,)
        object.__setattr__(self, "home_prefixes", tuple(IPv6Network(p) for p in prefixes))
        object.__setattr__(self, "address", IPv6Address(self.address))
        if not self.home_prefixes:
            raise ValueError("home_prefixes: at least one home prefix")
        if not any(self.address in p for p in self.home_prefixes):
            raise ValueError(f"address: {self.address} is not on a home prefix")
        if not -32768 <= self.preference <= 32767:
            raise ValueError("preference: a signed 16-bit value (RFC 6275 §7.4)")
        if not 4 <= self.max_lifetime <= 0xFFFF * 4:
            raise ValueError("max_lifetime: 4 .. 262140 seconds (16 bits of 4-second units, §6.1.7)")
        if self.refresh_lead is not None and self.refresh_lead <= 0:
            raise ValueError("refresh_lead: a positive number of seconds, or None")


@dataclass(frozen=True)
class RegistrationRejected(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address
    status: int


@dataclass
class HomeAgentEntry:
    """One home agents list entry (RFC 6275 §10.1): a router's global address with its preference and
    the time (ns) the entry lapses."""
    address: IPv6Address
    preference: int
    expires: int


@dataclass
class _Registration:
    """What the home agent keeps beside the C binding: the proxied addresses and pending timers."""
    proxied: tuple[IPv6Address, ...] = ()
    timers: list[Timer] = field(default_factory=list)
    mpa_timer: Timer | None = None          # unsolicited MPA retransmission, until the next BU (§10.6.2)
    proxy_na: dict = field(default_factory=dict)   # (source, target) -> the unsolicited NA's bytes
    refresh_timer: Timer | None = None      # the Binding Refresh Request before expiry

    def cancel_refresh(self) -> None:
        """A new BU replaces the refresh schedule and ends MPA retransmission (§10.6.2), but the
        unsolicited proxy NAs of a binding created moments ago still go out (§10.4.1)."""
        for name in ("refresh_timer", "mpa_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    def cancel(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()
        self.cancel_refresh()


@dataclass
class _PendingDad:
    """A first registration waiting for DAD of its home address (RFC 6275 §10.3.1)."""
    packet: Packet
    bu: BindingUpdate
    home: IPv6Address
    care_of: IPv6Address
    targets: tuple[IPv6Address, ...]
    timer: Timer | None = None
    duplicate: bool = False


def _slot_size(data: bytes) -> int:
    """A batch slot that holds ``data`` behind the default headroom (tunnel header included)."""
    return max(2048, len(data) + 256)


def _interface_id_link_local(home: IPv6Address, prefix_length: int) -> IPv6Address:
    """fe80::/64 with the home address's interface identifier (RFC 6275 §10.3.1, the L flag)."""
    iid = int(home) & ((1 << (128 - prefix_length)) - 1)
    return IPv6Address((0xFE80 << 112) | iid)


# ---------------------------------------------------------------- the home agent

class HomeAgent(Router):
    """A home agent on ``config.interface``. ``cache`` may be passed (e.g. with a fixed hash seed);
    ``advertising`` overrides the RA configuration built from the config (ignored on a virtual home
    link, which has no RAs)."""

    def __init__(self, name: str, interfaces, config: HomeAgentConfig, rng: random.Random | None = None,
                 cache: BindingCache | None = None, advertising: AdvertisingConfig | None = None):
        super().__init__(name, interfaces, rng)
        if config.interface not in self.interfaces:
            raise ValueError(f"{name}: no interface {config.interface}")
        self.config = config
        self.home_iface = self.interfaces[config.interface]
        if config.address not in self.home_iface.addresses:
            plen = next(p.prefixlen for p in config.home_prefixes if config.address in p)
            self.home_iface.add_address(config.address, plen)
        self.cache = cache if cache is not None else BindingCache(16, 1024)
        self.datapath = HomeAgentDataPath(self.cache, config.address, tunnel_mtu=config.tunnel_mtu)
        self.anycast = {home_agents_anycast(p) for p in config.home_prefixes}
        self.home_agents: dict[IPv6Address, HomeAgentEntry] = {}   # keyed by the router's link-local
        self._registrations: dict[IPv6Address, _Registration] = {}
        self._pending: dict[IPv6Address, _PendingDad] = {}
        self._dad_targets: dict[IPv6Address, IPv6Address] = {}     # DAD target -> home address
        self._expiry_timer: Timer | None = None
        # (expiry, home address) of every binding as last accepted, plus stale ones left by refreshes
        # and deletions (dropped when they reach the top): the next expiry without a scan of the cache.
        self._expiries: list[tuple[int, bytes]] = [(b.expires_ns, k.packed) for k, b in self.cache.items()]
        heapq.heapify(self._expiries)
        self._binding_errors = TokenBucket(BINDING_ERROR_RATE, 1)
        self._rx_mac: tuple[str, bytes] = ("", b"")         # interface and source MAC of the packet at hand
        self._address_packed = config.address.packed
        # ``_kernels_pass`` holds only for a global home agent address (the kernels' scope rules).
        self._own_address_passes = not (config.address in LINK_LOCAL or config.address.is_site_local)
        nd = self.nd[config.interface]
        for a in self.anycast:
            nd.add_proxy(a)         # RFC 6275 §10.5: the home agent answers for its subnet's anycast address
        if not config.virtual_home_link:
            self.advertise(config.interface, advertising or self._default_advertising())

    def _default_advertising(self) -> AdvertisingConfig:
        """RAs with the H flag, the Home Agent Information option (§7.4) and the home prefixes, the one
        holding our address with the R flag and the address itself (§7.2)."""
        prefixes = []
        for p in self.config.home_prefixes:
            if self.config.address in p:
                prefixes.append(PrefixInformation(self.config.address, p.prefixlen, router_address=True))
            else:
                prefixes.append(PrefixInformation(p.network_address, p.prefixlen))
        return AdvertisingConfig(prefixes=prefixes, max_interval=10 * NS_PER_S, min_interval=3 * NS_PER_S,
                                 advertisement_interval_option=True,
                                 home_agent=HomeAgentInformation(self.config.preference, 1800))

    # ------------------------------------------------------------ helpers

    def _count(self, what: str) -> None:
        self.counters[what] += 1

    def home_subnet(self, address: IPv6Address) -> IPv6Network | None:
        for p in self.config.home_prefixes:
            if address in p:
                return p
        return None

    def _prefix_remaining(self, now: int, prefix: IPv6Network) -> int | None:
        """Seconds the home prefix stays valid on the home interface (None: infinite), from the
        lifetime of our own address on it (RFC 6275 §10.3.1)."""
        remaining: int | None = None
        for a in self.home_iface.addresses.values():
            if a.address in prefix and a.valid_until is not None:
                left = max(0, (a.valid_until - now) // NS_PER_S)
                remaining = left if remaining is None else max(remaining, left)
        return remaining

    def _send(self, now: int, packet: Packet) -> None:
        self.output_packet(now, packet.to_bytes(), self.config.interface)

    # ------------------------------------------------------------ the data path (§10.4.2-10.4.5)

    def receive(self, now: int, interface: str, frame) -> Output:
        """One frame: through the same batch path as ``receive_batch`` (a one-packet batch), except a
        frame the kernels would leave alone (``_kernels_pass``), which goes to the per-packet path
        directly: the numpy set-up of a batch costs more than a Binding Update's processing."""
        data = bytes(frame)
        if self._kernels_pass(data):
            out = self._begin()
            self._receive_frame(now, interface, data)
            return self._finish(out)
        return self.receive_batch(now, interface, PacketBatch.from_packets([data], slot_size=_slot_size(data)))

    def _kernels_pass(self, frame: bytes) -> bool:
        """Would ``_batch`` hand this frame, whole, to ``_receive_frame``? True for an IPv6 packet to our
        home agent address (signalling: BUs, DHAAD, MPS) that is not IPv6-in-IPv6, whose source is not
        link- or site-local (fe80::/10, fec0::/10: the kernels' scope check), and whose destination is
        not bound: ``encapsulate`` finds no binding (PASS), ``decapsulate`` sees no tunnel (PASS), and a
        packet the fast-path test refuses is SLOW_PATH; either way the original frame goes on."""
        ip = ETHERNET_HEADER_LEN
        return (self._own_address_passes and len(frame) >= ip + 40 and frame[ip + 24:ip + 40] == self._address_packed
                and frame[ip + 6] != 41 and not (frame[ip + 8] == 0xFE and frame[ip + 9] & 0x80)
                and frame[ip + 24:ip + 40] not in self.cache)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """Ethernet frames: the C kernels tunnel, detunnel and drop in one pass each; what they leave
        goes through ``Node``'s per-packet path. The batch's columns and headers are rewritten."""
        out = self._begin()
        self._batch(now, interface, batch)
        return self._finish(out)

    def _batch(self, now: int, interface: str, batch: PacketBatch) -> None:
        n = batch.count
        iface = self.interfaces.get(interface)
        if iface is None or not iface.up or n == 0:
            for i in range(n):
                o, k = int(batch.offset[i]), int(batch.length[i])
                self._receive_frame(now, interface, batch.buf[o:o + k].tobytes())
            return
        frames = classify(batch, iface)
        # Neighbour discovery for a proxied address stays on the slow path (RFC 6275 §10.4.1: the home
        # agent answers it itself). Link-local traffic is never tunnelled (§10.4.2); the slow path
        # answers for a mobile node's link-local address and forwards nothing else.
        fast = (frames.ipv6 & ~((frames.next_header == 58) & np.isin(frames.after_header, _ND_TYPES))
                & ~frames.link_local_src() & ~frames.link_local_dst())
        frames.strip(batch, fast)
        batch.verdict[:n] = np.where(fast, Verdict.PASS, Verdict.SLOW_PATH)
        batch.reason[:n] = DropReason.NONE
        batch.aux[:n] = 0
        to_us = frames.dst_is(self.config.address.packed) & fast

        # §10.4.2: packets for a bound home address into the tunnel to its care-of address.
        self.datapath.encapsulate(batch)
        encapsulated = batch.verdict[:n] == Verdict.FORWARD
        # §10.4.5: reverse-tunnelled packets, only those addressed to the home agent.
        held = (batch.verdict[:n] == Verdict.PASS) & ~to_us
        batch.verdict[:n][held] = Verdict.SLOW_PATH
        before = batch.verdict[:n].copy()
        self.datapath.decapsulate(batch)
        decapsulated = (before == Verdict.PASS) & (batch.verdict[:n] == Verdict.FORWARD)
        batch.verdict[:n][held] = Verdict.PASS
        # An inner packet for another bound home address goes straight into that one's tunnel.
        retunnelled = np.zeros(n, dtype=bool)
        if decapsulated.any():
            keep = batch.verdict[:n].copy()
            batch.verdict[:n] = np.where(decapsulated, Verdict.PASS, Verdict.SLOW_PATH)
            batch.reason[:n][decapsulated] = DropReason.NONE
            self.datapath.encapsulate(batch)
            retunnelled = decapsulated & (batch.verdict[:n] == Verdict.FORWARD)
            # DROP / TOO_BIG of the second pass stand; what it passed is forwarded as decapsulated.
            second = batch.verdict[:n].copy()
            batch.verdict[:n] = np.where(decapsulated, np.where(second == Verdict.PASS, Verdict.FORWARD, second),
                                         keep)
        verdict = batch.verdict[:n]
        reason = batch.reason[:n]
        for r, count in zip(*np.unique(reason[verdict == Verdict.DROP], return_counts=True)):
            self.counters[f"drop.datapath.{DropReason(int(r)).name.lower()}"] += int(count)

        # The tunnelled packets leave as whole batches (roles/batch_tx.py); only those whose next hop
        # is not resolved (or that need any other per-packet care) take the per-packet path below.
        tunnel = (verdict == Verdict.FORWARD) & (encapsulated | retunnelled)
        self.counters["tunnelled"] += int(np.count_nonzero(tunnel))
        tunnel_left = transmit_batch(self, now, batch, tunnel)
        routes: dict = {}
        for i in np.flatnonzero((verdict != Verdict.SLOW_PATH) & ~(tunnel & ~tunnel_left)).tolist():
            v = int(verdict[i])
            if v == Verdict.PASS:
                continue
            if v == Verdict.FORWARD:
                raw = batch.packet(i)
                if encapsulated[i] or retunnelled[i]:
                    self._transmit_tunnelled(now, raw, routes)
                else:
                    self._count("detunnelled")
                    self._forward_inner(now, iface, raw)
            elif v == Verdict.TOO_BIG:
                # RFC 6275 §10.4.2 with RFC 2473 §7.1: the tunnel's MTU less its header, to the source.
                self.icmp_error(now, iface, PacketTooBig(mtu=int(batch.aux[i]), invoking=b""), batch.packet(i))
            elif v == Verdict.DROP and int(reason[i]) == DropReason.HOP_LIMIT:
                self.icmp_error(now, iface, TimeExceeded(code=0, invoking=b""), batch.packet(i))
        slow = np.flatnonzero((verdict == Verdict.PASS) | (verdict == Verdict.SLOW_PATH)).tolist()
        for i in slow:
            if decapsulated[i]:
                self.drop("tunnel_multicast_membership")   # MLD out of a tunnel: no group state kept here
                continue
            self._receive_frame(now, interface, frames.frame(batch, i))

    def _transmit_tunnelled(self, now: int, raw: bytes, routes: dict | None = None) -> None:
        """An outer packet the kernel built; it is this node's own packet (source = the home agent).
        ``routes`` caches lookups per care-of address for the length of one batch."""
        key = raw[24:40]
        if routes is not None and key in routes:
            route = routes[key]
        else:
            route = self.lookup(IPv6Address(key))
            if routes is not None:
                routes[key] = route
        dst = IPv6Address(key)
        if route is None:
            self.drop("tunnel_no_route")
            return
        self.transmit_packet(now, route.interface, route.next_hop or dst, raw)

    def _forward_inner(self, now: int, iface: Interface, raw: bytes) -> None:
        """A decapsulated packet, forwarded as a router (the kernel already decremented its hop limit),
        or delivered here when it is for one of our own addresses."""
        dst = IPv6Address(raw[24:40])
        if self.is_own_address(dst):
            try:
                packet = parse(raw)
            except ParseError as exc:
                self.parse_failed(now, iface, raw, exc)
                return
            self.local_packet(now, iface, raw, packet, b"")
            return
        route = self.lookup(dst)
        if route is None:
            self.icmp_error(now, iface, DestinationUnreachable(code=0, invoking=b""), raw)
            self.drop("no_route")
            return
        out = self.interfaces[route.interface]
        if len(raw) > out.mtu:
            self.icmp_error(now, iface, PacketTooBig(mtu=out.mtu, invoking=b""), raw)
            self.drop("packet_too_big")
            return
        self.counters["forwarded"] += 1
        self.transmit_packet(now, route.interface, route.next_hop or dst, raw)

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """§10.4.2: packets this node originates for a bound home address (an echo reply, an ICMP
        error) go through the tunnel like forwarded ones, through the same kernel."""
        if len(raw) >= 40 and raw[0] >> 4 == 6 and raw[24:40] in self.cache:
            batch = PacketBatch.from_packets([raw], slot_size=_slot_size(raw))
            self.datapath.encapsulate(batch)
            verdict = int(batch.verdict[0])
            if verdict == Verdict.FORWARD:
                self._count("tunnelled_own")
                self._transmit_tunnelled(now, batch.packet(0))
            elif verdict == Verdict.TOO_BIG:
                self.drop("own_packet_too_big_for_tunnel")
            elif verdict == Verdict.DROP:
                self.drop(f"datapath.{DropReason(int(batch.reason[0])).name.lower()}")
            else:
                super().output_packet(now, raw, zone)
            return
        super().output_packet(now, raw, zone)

    def forward(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """§10.4.2: a packet for a mobile node's link-local address (proxied with the L flag) is not
        tunnelled: Destination Unreachable code 3 (address unreachable)."""
        if packet.dst in LINK_LOCAL and any(packet.dst in r.proxied for r in self._registrations.values()):
            self.icmp_error(now, iface, DestinationUnreachable(code=3, invoking=b""), raw)
            self.drop("mobile_node_link_local")
            return
        super().forward(now, iface, raw, packet)

    def handle_tunnel(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """A tunnelled packet the kernel left to the slow path (its inner source has no binding, its
        outer source is not the care-of address, or it is malformed): counted and dropped (§10.4.5)."""
        self.drop("tunnel_slow_path")

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """§9.3.1 as it applies to a home agent: a packet for us with a Home Address option (other than a
        BU, which registers the address) needs a binding whose care-of address is the packet's source,
        else Binding Error status 1 and the packet is dropped."""
        self._rx_mac = (iface.name, src_mac)
        hao = packet.home_address
        if hao is not None and not isinstance(packet.payload, BindingUpdate):
            binding = self.cache.get(hao)
            if binding is None or binding.care_of_address != packet.src:
                self.drop("hao_no_binding")
                self._binding_error(now, packet,
                                    BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, hao)
                return
        super().local_packet(now, iface, raw, packet, src_mac)

    def receive_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if packet.dst in self.anycast:
            self.local_packet(now, iface, raw, packet, src_mac)   # §10.5: DHAAD to the anycast address
            return
        super().receive_packet(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ Mobility Header reception (§9.2)

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """RFC 6275 §9.2: a Mobility Header with Payload Proto ≠ 59 or a Header Len below its type's
        minimum → Parameter Problem code 0 pointing at that field (offset from the IPv6 header). A bad
        checksum stays a silent, counted discard."""
        super().parse_failed(now, iface, raw, exc)
        if exc.field not in ("payload_proto", "header_len") or len(raw) < 40:
            return
        if not self.is_own_address(IPv6Address(raw[24:40])):
            return
        try:
            hdr = PACKET_CODEC.parse(memoryview(raw), False)
        except ParseError:
            return
        nh, off = hdr[9], hdr[10]
        if nh != NH_MH or exc.offset not in (off, off + 1):
            return
        # Not through ``icmp_error``: that re-parses the invoking packet, which is the malformed one.
        self._count("mh.parameter_problem")
        self._send_error(now, ParameterProblem(code=0, pointer=exc.offset, invoking=b""), raw)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if packet.home_address is not None and not isinstance(msg, BindingUpdate):
            self.drop("mh_hao_not_bu")          # §6.1: only a BU may carry a Home Address option
            return
        if packet.rh2 is not None and not isinstance(msg, BindingAcknowledgement):
            self.drop("mh_rh2_not_ba")          # §6.1: only a BA may carry a Type 2 routing header
            return
        if isinstance(msg, BindingUpdate):
            self._on_binding_update(now, packet, msg)
        elif isinstance(msg, UnknownMobilityMessage):
            self._binding_error(now, packet, BindingErrorStatus.UNRECOGNIZED_MH_TYPE,
                                packet.home_address or UNSPECIFIED)
        else:
            self.drop(f"mh_unexpected.{type(msg).__name__}")

    def _binding_error(self, now: int, packet: Packet, status: int, home: IPv6Address) -> None:
        """§9.3.3: Binding Error to the packet's source, rate-limited."""
        if not self._binding_errors.take(now):
            self.drop("binding_error_rate_limited")
            return
        self._count(f"be.status.{status}")
        self._send(now, Packet(src=self.config.address, dst=packet.src, payload=BindingError(status, home)))

    # ------------------------------------------------------------ home registration (§10.3.1, §9.5.1)

    def _on_binding_update(self, now: int, packet: Packet, bu: BindingUpdate) -> None:
        home = packet.home_address if packet.home_address is not None else packet.src
        care_of = packet.src
        for opt in bu.options:
            if isinstance(opt, AlternateCareOfAddress):
                care_of = opt.address
        # §9.5.1: discarded without an answer.
        if home in LINK_LOCAL or home.is_multicast or home == UNSPECIFIED or home.is_loopback:
            self.drop("bu_bad_home_address")
            return
        if care_of in LINK_LOCAL or care_of.is_multicast or care_of == UNSPECIFIED or care_of.is_loopback:
            self.drop("bu_bad_care_of_address")
            return
        if bu.home and any(isinstance(o, NonceIndices) for o in bu.options):
            self.drop("bu_home_with_nonce_indices")
            return
        existing = self.cache.get(home)
        if not bu.home:
            # §9.5.1: a binding's registration type cannot change; this node does not accept
            # correspondent registrations otherwise (no return routability here).
            if existing is not None:
                self._reject(now, packet, bu, home, care_of, BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED)
            else:
                self.drop("bu_not_home_registration")
            return
        if packet.dst != self.config.address:
            # §10.3.1: the BU reached an address of this node that is not serving as a home agent.
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.HOME_REGISTRATION_NOT_SUPPORTED)
            return
        if self.is_own_address(home, usable_only=False) or home in self.anycast:
            # Binding one of our own addresses would take its traffic away from us.
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.ADMINISTRATIVELY_PROHIBITED)
            return
        subnet = self.home_subnet(home)
        remaining = None if subnet is None else self._prefix_remaining(now, subnet)
        if subnet is None or (remaining is not None and remaining < 4):
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.NOT_HOME_SUBNET)
            return
        if existing is not None and not existing.home_registration:
            self._reject(now, packet, bu, home, care_of, BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED)
            return
        deregistration = bu.lifetime == 0 or care_of == home
        if deregistration:
            self._deregister(now, packet, bu, home, care_of)
            return
        # The sequence number of a refresh is checked by BindingCache.update (§9.5.1): STALE → 135.
        if existing is None:
            if home in self._pending:
                self.drop("bu_dad_in_progress")     # the BA follows when DAD ends
                return
            if len(self.cache) >= self.config.max_bindings:
                self._reject(now, packet, bu, home, care_of, BindingAckStatus.INSUFFICIENT_RESOURCES)
                return
            if self.config.dad and not self.config.virtual_home_link:
                self._start_dad(now, packet, bu, home, care_of, subnet)
                return
        self._accept(now, packet, bu, home, care_of)

    def _granted_lifetime(self, now: int, bu: BindingUpdate, home: IPv6Address) -> int:
        """§10.3.1: ≤ requested, ≤ our maximum, ≤ the home prefix's remaining valid lifetime; in
        4-second units."""
        lifetime = min(bu.lifetime, self.config.max_lifetime)
        subnet = self.home_subnet(home)
        remaining = None if subnet is None else self._prefix_remaining(now, subnet)
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
        created = result.outcome is Outcome.CREATED
        reg = self._registrations.get(home)
        if reg is None:
            reg = self._registrations[home] = _Registration()
        reg.cancel_refresh()
        if created:
            self._count("binding.created")
            self.notify(BindingCreated(now, home, care_of, lifetime))
            if not self.config.virtual_home_link:
                self._start_proxy(now, reg, home, bu.link_local)
        else:
            self._count("binding.updated")
            self.notify(BindingUpdated(now, home, care_of, lifetime))
        if self.config.refresh_lead is not None and lifetime > self.config.refresh_lead:
            at = now + (lifetime - self.config.refresh_lead) * NS_PER_S
            reg.refresh_timer = self.call_at(at, lambda t: self._refresh_request(t, home))
        options: tuple = ()
        if self.config.refresh_lead is not None:
            # §10.3.1, §6.2.4: a Binding Refresh Advice with the interval after which the mobile node
            # should refresh, in 4-second units and below the granted lifetime.
            interval = lifetime - self.config.refresh_lead
            interval -= interval % 4
            if 0 < interval < lifetime:
                options = (BindingRefreshAdvice(interval),)
        self._send_ack(now, packet, bu, home, care_of, BindingAckStatus.ACCEPTED, lifetime, options=options)
        self._arm_expiry(now + lifetime * NS_PER_S)

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
        self._count("binding.deleted")
        self.notify(BindingDeleted(now, home))
        self._send_ack(now, packet, bu, home, care_of, BindingAckStatus.ACCEPTED, 0)

    def _reject(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address,
                status: int, sequence: int | None = None) -> None:
        self.notify(RegistrationRejected(now, home, care_of, int(status)))
        self._send_ack(now, packet, bu, home, care_of, status, 0, sequence)

    def _send_ack(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address,
                  status: int, lifetime: int, sequence: int | None = None, options: tuple = ()) -> None:
        """§10.3.1: the BA goes to the care-of address with a Type 2 routing header holding the home
        address, from the address the BU was sent to; a BU from home (care-of = home address) is
        answered to the home address directly."""
        ba = BindingAcknowledgement(int(status), bu.sequence if sequence is None else sequence, lifetime,
                                    options=options)
        self._count(f"ba.status.{int(status)}")
        src = packet.dst if not packet.dst.is_multicast else self.config.address
        if care_of == home:
            reply = Packet(src=src, dst=home, payload=ba)
            rx_iface, rx_mac = self._rx_mac
            if rx_iface == self.config.interface and rx_mac:
                # §11.5.5, §10.3.2: a node back home does not answer NS for its home address until it
                # has this BA (we were defending it), so address resolution would fail: the BA goes
                # to the link-layer address the BU came from.
                self.emit_frame(rx_iface, rx_mac, reply.to_bytes())
            else:
                self._send(now, reply)
        else:
            self._send(now, Packet(src=src, dst=care_of, rh2=home, payload=ba))

    # ------------------------------------------------------------ DAD for home addresses (§10.3.1)

    def _start_dad(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address,
                   care_of: IPv6Address, subnet: IPv6Network) -> None:
        targets = [home]
        if bu.link_local:
            targets.append(_interface_id_link_local(home, subnet.prefixlen))
        pending = _PendingDad(packet, bu, home, care_of, tuple(targets))
        self._pending[home] = pending
        nd = self.nd[self.config.interface]
        for t in targets:
            self._dad_targets[t] = home
            # RFC 4862 §5.4.2: listen on the solicited-node group, to hear a simultaneous DAD.
            self.home_iface.extra_groups.add(solicited_node_multicast(t))
            # RFC 4862 §5.4.2: from the unspecified address to the solicited-node group, no SLLA.
            raw = Packet(src=UNSPECIFIED, dst=solicited_node_multicast(t), hop_limit=ND_HOP_LIMIT,
                         payload=NeighborSolicitation(target=t)).to_bytes()
            self._count("dad.ns_sent")
            self.transmit_packet(now, self.config.interface, solicited_node_multicast(t), raw)
        pending.timer = self.call_at(now + nd.retrans_timer, lambda t: self._dad_done(t, home))

    def _dad_done(self, now: int, home: IPv6Address) -> None:
        pending = self._pending.pop(home, None)
        if pending is None:
            return
        nd = self.nd[self.config.interface]
        for t in pending.targets:
            self._dad_targets.pop(t, None)
            # ND counts the proxies per solicited-node group (looking through every proxy here made
            # each registration O(bindings)).
            if not nd.proxy_in_group(t):
                self.home_iface.extra_groups.discard(solicited_node_multicast(t))
        if pending.duplicate:
            self._count("dad.failed")
            self._reject(now, pending.packet, pending.bu, home, pending.care_of,
                         BindingAckStatus.DUPLICATE_ADDRESS_DETECTION_FAILED)
            return
        self._count("dad.succeeded")
        self._accept(now, pending.packet, pending.bu, home, pending.care_of)

    def handle_icmpv6(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        if isinstance(msg, NeighborAdvertisement) and msg.target in self._dad_targets \
                and iface is self.home_iface and packet.hop_limit == ND_HOP_LIMIT:
            # §10.3.1: someone on the home link owns the address → status 134 when DAD ends.
            self._pending[self._dad_targets[msg.target]].duplicate = True
            self._count("dad.na_received")
            return
        if isinstance(msg, NeighborSolicitation) and msg.target in self._dad_targets and packet.src == UNSPECIFIED \
                and iface is self.home_iface and packet.hop_limit == ND_HOP_LIMIT:
            # RFC 4862 §5.4.3: another node is doing DAD for the same address at the same time.
            self._pending[self._dad_targets[msg.target]].duplicate = True
            self._count("dad.ns_received")
            return
        if isinstance(msg, RouterAdvertisement) and iface is self.home_iface:
            self._home_agent_ra(now, packet, msg)
        elif isinstance(msg, HomeAgentAddressDiscoveryRequest):
            self._dhaad(now, packet, msg)
            return
        elif isinstance(msg, MobilePrefixSolicitation):
            self._mobile_prefix_solicitation(now, packet, msg)
            return
        elif isinstance(msg, (DestinationUnreachable, PacketTooBig, TimeExceeded, ParameterProblem)) \
                and self._relay_tunnel_error(now, iface, msg):
            return
        super().handle_icmpv6(now, iface, raw, packet, src_mac)

    def _relay_tunnel_error(self, now: int, iface: Interface, msg) -> bool:
        """§10.4.2 with RFC 2473 §8: an ICMP error about a packet we tunnelled is relayed to the inner
        packet's source when the quote holds the inner IPv6 header: Packet Too Big with the tunnel
        header taken off the MTU, anything else as Destination Unreachable code 3 (address
        unreachable, RFC 2473 §8.1). True when the error was about our tunnel."""
        quote = msg.invoking
        if len(quote) < 80 or quote[6] != 41 or quote[8:24] != self.config.address.packed:
            return False
        inner = quote[40:]
        if inner[0] >> 4 != 6:
            self.drop("tunnel_error_bad_inner")
            return True
        if isinstance(msg, PacketTooBig):
            relayed = PacketTooBig(mtu=max(IPV6_MIN_MTU, msg.mtu - 40), invoking=b"")
        else:
            relayed = DestinationUnreachable(code=3, invoking=b"")
        self._count(f"tunnel_error_relayed.{type(msg).__name__}")
        self._send_error(now, relayed, inner)
        return True

    def _send_error(self, now: int, message, invoking: bytes) -> None:
        """An ICMPv6 error about ``invoking`` (possibly a truncated quote, which ``icmp_error`` cannot
        re-parse) to its source, with RFC 4443 §2.4 (e)'s limits, from our global address."""
        src, dst = IPv6Address(invoking[8:24]), IPv6Address(invoking[24:40])
        if src.is_multicast or src == UNSPECIFIED or src in LINK_LOCAL:
            self.drop("icmp_error_bad_source")
            return
        if dst.is_multicast and not isinstance(message, PacketTooBig):
            self.drop("icmp_error_multicast")
            return
        if invoking[6] == 58 and len(invoking) > 40 and invoking[40] < 128:
            self.drop("icmp_error_about_error")
            return
        cut = invoking[:IPV6_MIN_MTU - 48]
        if isinstance(message, PacketTooBig):
            message = PacketTooBig(mtu=message.mtu, invoking=cut)
        elif isinstance(message, DestinationUnreachable):
            message = DestinationUnreachable(code=message.code, invoking=cut)
        else:
            message = ParameterProblem(code=message.code, pointer=message.pointer, invoking=cut)
        self.counters[f"icmp_error.{type(message).__name__}"] += 1
        self.output_packet(now, Packet(src=self.config.address, dst=src, payload=message).to_bytes())

    # ------------------------------------------------------------ proxy ND (§10.4.1)

    def _start_proxy(self, now: int, reg: _Registration, home: IPv6Address, link_local: bool) -> None:
        addresses = [home]
        if link_local:
            subnet = self.home_subnet(home)
            addresses.append(_interface_id_link_local(home, subnet.prefixlen if subnet else 64))
        nd = self.nd[self.config.interface]
        for a in addresses:
            nd.add_proxy(a)
        reg.proxied = tuple(addresses)
        self._proxy_advertise(now, home, MAX_NEIGHBOR_ADVERTISEMENT)

    def _proxy_advertise(self, now: int, home: IPv6Address, remaining: int) -> None:
        """Unsolicited NA to all-nodes for each proxied address: R = 0, S = 0, O = 1, TLLA = our MAC, so
        the home link's caches point at us (§10.4.1)."""
        reg = self._registrations.get(home)
        if reg is None or not reg.proxied:
            return
        iface = self.home_iface
        src = iface.source_for(ALL_NODES)
        if src is None:
            self.drop("proxy_na_no_source")
        else:
            for target in reg.proxied:
                # The repetitions are the same packet: encoded once per registration.
                raw = reg.proxy_na.get((src, target))
                if raw is None:
                    na = NeighborAdvertisement(target=target, router=False, solicited=False, override=True,
                                               options=(TargetLinkLayerAddress(iface.mac),))
                    raw = Packet(src=src, dst=ALL_NODES, hop_limit=ND_HOP_LIMIT, payload=na).to_bytes()
                    reg.proxy_na[(src, target)] = raw
                self._count("proxy.na_sent")
                self.transmit_packet(now, iface.name, ALL_NODES, raw)
        # Timers due before now have fired (tick pops them in order): nothing left to cancel there, so
        # they are not kept (with 10^5 bindings, two spent timers and their closures each add up).
        reg.timers = [t for t in reg.timers if t.deadline >= now]
        if remaining > 1:
            reg.timers.append(self.call_at(now + NA_INTERVAL,
                                           lambda t: self._proxy_advertise(t, home, remaining - 1)))
        else:
            reg.proxy_na.clear()          # the last repetition: the encoded NAs are not needed again

    def _stop(self, home: IPv6Address) -> None:
        reg = self._registrations.pop(home, None)
        if reg is None:
            return
        reg.cancel()
        nd = self.nd[self.config.interface]
        for a in reg.proxied:
            nd.remove_proxy(a)

    # ------------------------------------------------------------ lifetimes (§10.3.1, §9.5.2)

    def _arm_expiry(self, deadline: int | None = None) -> None:
        """One timer at the earliest expiry. A new binding can only bring it forward; when it fires,
        ``_expire`` takes the next one from ``_expiries``. A timer left by a binding that was since
        refreshed or deleted just finds nothing to expire."""
        if deadline is None:
            deadline = self._earliest_expiry()
        elif self._expiry_timer is not None and self._expiry_timer.deadline <= deadline:
            return
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
        if deadline is not None:
            self._expiry_timer = self.call_at(deadline, self._expire)

    def _earliest_expiry(self) -> int | None:
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
        self._expiry_timer = None
        for key in self.cache.expire(now):
            home = IPv6Address(key)
            self._stop(home)
            self._count("binding.expired")
            self.notify(BindingExpired(now, home))
        self._arm_expiry()

    def _refresh_request(self, now: int, home: IPv6Address) -> None:
        """§10.3.1 / §6.1.2: ask the mobile node to refresh a binding about to expire; the BRR goes
        where a BA would, to the care-of address with a Type 2 routing header."""
        binding = self.cache.get(home)
        if binding is None:
            return
        self._count("brr_sent")
        self._send(now, Packet(src=self.config.address, dst=binding.care_of_address, rh2=home,
                               payload=BindingRefreshRequest()))

    # ------------------------------------------------------------ discovery (§10.5, §10.6)

    def _home_agent_ra(self, now: int, packet: Packet, ra: RouterAdvertisement) -> None:
        """§10.5.1: RAs from other home agents on the home link maintain the home agents list."""
        src = packet.src
        if src not in LINK_LOCAL:
            return
        if not ra.home_agent:
            self.home_agents.pop(src, None)
            return
        preference, lifetime = 0, ra.router_lifetime
        address = None
        for opt in ra.options:
            if isinstance(opt, HomeAgentInformation):
                preference, lifetime = opt.preference, opt.lifetime
            elif isinstance(opt, PrefixInformation) and opt.router_address and address is None:
                address = opt.prefix
        if lifetime == 0:
            self.home_agents.pop(src, None)
            self._count("home_agents.removed")
            return
        if address is None:
            self._count("home_agents.no_global_address")   # no R-flag PIO: nothing to list
            return
        self.home_agents[src] = HomeAgentEntry(address, preference, now + lifetime * NS_PER_S)
        self._count("home_agents.updated")

    def home_agent_addresses(self, now: int) -> list[IPv6Address]:
        """The home agents list, own address included, by decreasing preference, equal preferences in
        a random order drawn per call (§10.5)."""
        for key in [k for k, e in self.home_agents.items() if e.expires <= now]:
            del self.home_agents[key]
        by_pref: dict[int, list[IPv6Address]] = {self.config.preference: [self.config.address]}
        for e in self.home_agents.values():
            if e.address != self.config.address:
                by_pref.setdefault(e.preference, []).append(e.address)
        out: list[IPv6Address] = []
        for pref in sorted(by_pref, reverse=True):
            group = sorted(by_pref[pref])
            self.rng.shuffle(group)
            out.extend(group)
        return out

    def _dhaad(self, now: int, packet: Packet, req: HomeAgentAddressDiscoveryRequest) -> None:
        if packet.dst not in self.anycast:
            self.drop("dhaad_not_anycast")
            return
        addresses = self.home_agent_addresses(now)[:MAX_DHAAD_ADDRESSES]
        self._count("dhaad.replies")
        self._send(now, Packet(src=self.config.address, dst=packet.src,
                               payload=HomeAgentAddressDiscoveryReply(req.identifier, tuple(addresses))))

    def _mobile_prefix_solicitation(self, now: int, packet: Packet, mps: MobilePrefixSolicitation) -> None:
        """§10.6.2: answered to the care-of address with a Type 2 routing header holding the home
        address; a solicitation without a Home Address option is not from a registered mobile node."""
        home = packet.home_address
        if home is None:
            self.drop("mps_without_hao")
            return
        binding = self.cache.get(home)
        if binding is None or binding.care_of_address != packet.src:
            return          # local_packet answered with a Binding Error already
        self._count("mpa_sent")
        self._send_mpa(now, home, binding.care_of_address, mps.identifier)

    def _prefix_options(self, now: int) -> tuple[PrefixInformation, ...]:
        """The home prefixes with their remaining lifetimes on the home interface (§10.6.1)."""
        options = []
        for p in self.config.home_prefixes:
            valid = preferred = 0xFFFFFFFF
            for a in self.home_iface.addresses.values():
                if a.address in p:
                    if a.valid_until is not None:
                        valid = max(0, (a.valid_until - now) // NS_PER_S)
                    if a.preferred_until is not None:
                        preferred = max(0, (a.preferred_until - now) // NS_PER_S)
            options.append(PrefixInformation(p.network_address, p.prefixlen, valid_lifetime=valid,
                                             preferred_lifetime=min(valid, preferred)))
        return tuple(options)

    def _send_mpa(self, now: int, home: IPv6Address, care_of: IPv6Address, identifier: int) -> None:
        self._send(now, Packet(src=self.config.address, dst=care_of, rh2=home,
                               payload=MobilePrefixAdvertisement(identifier, options=self._prefix_options(now))))

    def set_home_prefix_lifetimes(self, now: int, valid_until: int | None, preferred_until: int | None,
                                  prefixes=None) -> Output:
        """The home prefixes' lifetimes changed (renumbering, §10.6.1): our addresses on them take the new
        lifetimes, and every registered mobile node gets an unsolicited Mobile Prefix Advertisement,
        retransmitted every PREFIX_ADV_TIMEOUT until its next Binding Update, at most
        PREFIX_ADV_RETRIES more times (§10.6.2, §12). ``prefixes``: only these home prefixes (None: all).
        An entry point: returns an Output."""
        out = self._begin()
        only = None if prefixes is None else {IPv6Network(p) for p in prefixes}
        for a in self.home_iface.addresses.values():
            subnet = self.home_subnet(a.address)
            if subnet is not None and (only is None or subnet in only):
                a.valid_until, a.preferred_until = valid_until, preferred_until
        for home, reg in list(self._registrations.items()):
            if reg.mpa_timer is not None:
                reg.mpa_timer.cancel()
            self._unsolicited_mpa(now, home, PREFIX_ADV_RETRIES, self.rng.randrange(1 << 16))
        return self._finish(out)

    def _unsolicited_mpa(self, now: int, home: IPv6Address, retries: int, identifier: int) -> None:
        reg = self._registrations.get(home)
        binding = self.cache.get(home)
        if reg is None or binding is None:
            return
        reg.mpa_timer = None
        self._count("mpa_unsolicited_sent")
        self._send_mpa(now, home, binding.care_of_address, identifier)
        if retries > 0:
            reg.mpa_timer = self.call_at(now + PREFIX_ADV_TIMEOUT,
                                         lambda t: self._unsolicited_mpa(t, home, retries - 1, identifier))

    def add_home_prefix(self, now: int, prefix, address=None, valid_until: int | None = None,
                        preferred_until: int | None = None) -> Output:
        """Renumbering (§10.6.1): serve one more home prefix: registrations for home addresses on it are
        accepted, its Home-Agents anycast address is answered (§10.5), the RAs on the home link carry it,
        and every registered mobile node gets an unsolicited Mobile Prefix Advertisement listing it
        (§10.6.2). ``address``: an address of ours on it, with the given lifetimes (which then are the
        prefix's, as for the first prefix). An entry point: returns an Output."""
        out = self._begin()
        prefix = IPv6Network(prefix)
        if prefix not in self.config.home_prefixes:
            self.config = replace(self.config, home_prefixes=(*self.config.home_prefixes, prefix))
            anycast = home_agents_anycast(prefix)
            self.anycast.add(anycast)
            self.nd[self.config.interface].add_proxy(anycast)
            if address is not None:
                entry = self.home_iface.add_address(address, prefix.prefixlen, valid_until, preferred_until)
                entry.state = AddressState.PREFERRED      # an operator's address: no DAD here
            adv = self._advertisers.get(self.config.interface)
            if adv is not None:
                adv.config.prefixes.append(PrefixInformation(prefix.network_address, prefix.prefixlen))
            self._count("home_prefix.added")
            for home, reg in list(self._registrations.items()):
                if reg.mpa_timer is not None:
                    reg.mpa_timer.cancel()
                self._unsolicited_mpa(now, home, PREFIX_ADV_RETRIES, self.rng.randrange(1 << 16))
        return self._finish(out)
