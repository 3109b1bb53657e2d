"""The base of every role: interfaces, outputs, timers, Ethernet in/out and IPv6 dispatch, sans-I/O.

Theory of operation
-------------------
A ``Node`` does no I/O and reads no clock (docs/ROLES.md). The driver (the simulator, later a daemon)
calls one of five entry points with the current time in integer nanoseconds:

    receive(now, interface, frame)        one Ethernet II frame arrived on an interface
    receive_batch(now, interface, batch)  a PacketBatch of frames arrived
    tick(now)                             timers due at or before ``now`` fire
    link_changed(now, interface, up)      carrier came up / went down (also: a movement hint)
    send(now, packet_bytes)               an application hands the node an IPv6 packet

and gets back an ``Output``: frames to transmit, packets delivered to the node's own applications,
typed notifications, and the next timer deadline. While an entry point runs, everything the node and
its helpers produce is appended to one current ``Output`` (``self._out``), so a frame that triggers an
NA, a queued-packet flush and a notification returns all three in order.

Inbound: Ethernet header → destination MAC filter (our MAC, broadcast, or the 33:33 mapping of a group
the interface joined, RFC 2464 §7) → ``mip6fast.wire.parse`` → own address or joined group → handler by
next header. Anything malformed or not for us is a drop counted by reason in ``node.counters``; no
exception leaves the node.

Outbound: a longest-prefix route lookup gives an interface and next hop; multicast is mapped to its
MAC; unicast goes through neighbour discovery (``roles.neighbor``), which may queue the packet until
the next hop's link-layer address is resolved (RFC 4861 §7.2.2).
"""
from __future__ import annotations

import functools
import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv6Address, IPv6Network
from typing import Callable, NamedTuple

from ..batch import PacketBatch
from ..errors import ParseError
from ..wire import (
    ALL_NODES,
    ALL_ROUTERS,
    DestinationUnreachable,
    EchoReply,
    EchoRequest,
    ICMPv6Message,
    Packet,
    PacketTooBig,
    ParameterProblem,
    TimeExceeded,
    parse,
    solicited_node_multicast,
)
from ..wire.ethernet import ETHERTYPE_IPV6, ethernet_frame, ipv6_multicast_mac, parse_ethernet

__all__ = [
    "AddressState", "BatchTransmit", "Interface", "InterfaceAddress", "Node", "Notification", "Output", "Route", "Timer",
    "TimerHeap", "Transmit", "eui64_interface_id", "link_local_address", "slaac_address",
]

NS_PER_S = 1_000_000_000
BROADCAST_MAC = b"\xff" * 6
IPV6_MIN_MTU = 1280                     # RFC 8200 §5
LINK_LOCAL = IPv6Network("fe80::/10")
UNSPECIFIED = IPv6Address("::")
NH_ICMPV6 = 58
NH_IPV6 = 41
NH_MH = 135


# ---------------------------------------------------------------- addresses

def _link_scope(address: IPv6Address) -> bool:
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
        if not _link_scope(dst):
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


# ---------------------------------------------------------------- outputs

class Transmit(NamedTuple):
    """A frame to put on an interface."""
    interface: str
    frame: bytes


class BatchTransmit(NamedTuple):
    """Packets of a batch to put on an interface, all at once (the data path: no per-packet Python).
    ``which`` is a boolean mask over the batch's first ``len(which)`` packets; each of them is already
    a whole Ethernet frame (the role wrote the header into the slot's headroom). The batch is the
    driver's: it must be sent before the driver reuses it."""
    interface: str
    batch: PacketBatch
    which: object   # numpy bool array

    def frames(self) -> list[bytes]:
        """The selected frames as bytes (for drivers without a batch path, pcap, tests)."""
        return [self.batch.packet(i) for i in range(len(self.which)) if self.which[i]]


@dataclass(frozen=True)
class Notification:
    """Base of every typed event a role reports; each carries the time it happened."""
    now: int


@dataclass
class Output:
    """What one entry point produced (docs/ROLES.md). ``batches`` are the data path's transmits,
    whole batches per interface; ``frames()`` lists every frame, from both."""
    transmits: list[Transmit] = field(default_factory=list)
    deliveries: list[bytes] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    next_deadline: int | None = None
    batches: list[BatchTransmit] = field(default_factory=list)

    def frames(self) -> list[Transmit]:
        """Every frame to transmit: ``transmits``, then the packets of ``batches`` (copied out)."""
        out = list(self.transmits)
        for b in self.batches:
            out.extend(Transmit(b.interface, f) for f in b.frames())
        return out

    def merge(self, other: Output) -> Output:
        """Append ``other`` to this output (in order) and keep the earlier deadline; returns self."""
        self.transmits.extend(other.transmits)
        self.batches.extend(other.batches)
        self.deliveries.extend(other.deliveries)
        self.notifications.extend(other.notifications)
        if other.next_deadline is not None and (self.next_deadline is None
                                                or other.next_deadline < self.next_deadline):
            self.next_deadline = other.next_deadline
        return self


# ---------------------------------------------------------------- timers

class Timer:
    """A pending callback; ``cancel()`` makes it never fire."""
    __slots__ = ("callback", "cancelled", "deadline", "seq")

    def __init__(self, deadline: int, seq: int, callback: Callable[[int], None]):
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class TimerHeap:
    """One heap keyed by (deadline, sequence): ties fire in the order they were set, so a run is
    deterministic. Cancelled timers are dropped lazily when they reach the top. The heap holds
    (deadline, sequence, timer) tuples, so its comparisons stay in C (a node with 10^5 bindings keeps
    several 10^5 timers)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0

    def call_at(self, deadline: int, callback: Callable[[int], None]) -> Timer:
        timer = Timer(int(deadline), self._seq, callback)
        self._seq += 1
        heapq.heappush(self._heap, (timer.deadline, timer.seq, timer))
        return timer

    def _trim(self) -> None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)

    @property
    def next_deadline(self) -> int | None:
        self._trim()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> Timer | None:
        """The next timer due at or before ``now``, removed from the heap, or None."""
        self._trim()
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)[2]
        return None

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


# ---------------------------------------------------------------- routes

@dataclass(frozen=True)
class Route:
    """A route: packets for ``network`` leave by ``interface``, to ``next_hop`` (None: on-link)."""
    network: IPv6Network
    interface: str
    next_hop: IPv6Address | None = None


# ---------------------------------------------------------------- the node

class Node:
    """Sans-I/O IPv6 node; the roles (router, host, later home agent, mobile and correspondent node)
    subclass it and override the ``handle_*`` hooks.

    ``is_router`` sets the IsRouter flag of RFC 4861 §6.2.1 (NA R flag, all-routers group, no RA
    processing for configuration); ``forwarding`` makes packets not for this node go to ``forward``.
    """

    is_router = False
    forwarding = False

    def __init__(self, name: str, interfaces: list[Interface] | tuple[Interface, ...] = (),
                 rng: random.Random | None = None):
        from .neighbor import NeighborDiscovery  # the ND layer sits on top of this module

        self.name = name
        self.rng = rng if rng is not None else random.Random(0)
        self.interfaces: dict[str, Interface] = {}
        self.nd: dict[str, NeighborDiscovery] = {}
        self.counters: Counter[str] = Counter()
        self.timers = TimerHeap()
        self.routes: list[Route] = []
        self._out = Output()
        self._depth = 0
        self._nd_class = NeighborDiscovery
        for iface in interfaces:
            self.add_interface(iface)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def add_interface(self, iface: Interface) -> None:
        if iface.name in self.interfaces:
            raise ValueError(f"{self.name}: interface {iface.name} already exists")
        self.interfaces[iface.name] = iface
        self.nd[iface.name] = self._nd_class(self, iface)

    def add_route(self, network, interface: str, next_hop=None) -> Route:
        if interface not in self.interfaces:
            raise ValueError(f"{self.name}: no interface {interface}")
        route = Route(IPv6Network(network), interface, None if next_hop is None else IPv6Address(next_hop))
        self.routes.append(route)
        return route

    # ------------------------------------------------------------ entry points

    def _begin(self) -> Output:
        # An entry point called from inside another (an application sending from its ``deliver``)
        # adds to the output already being built, which the outer call returns.
        self._depth += 1
        if self._depth == 1:
            self._out = Output()
            return self._out
        return Output()

    def _finish(self, out: Output) -> Output:
        self._depth -= 1
        out.next_deadline = self.timers.next_deadline
        if self._depth == 0:
            self._out = Output()
        return out

    def receive(self, now: int, interface: str, frame) -> Output:
        out = self._begin()
        self._receive_frame(now, interface, frame)
        return self._finish(out)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """Frames of a batch, one at a time through ``receive``'s path. The roles that own a data path
        (home agent, correspondent, mobile node) run the C kernels over the batch first and send only
        the PASS / SLOW_PATH packets here (docs/ROLES.md, docs/DATAPATH.md)."""
        out = self._begin()
        for i in range(len(batch)):
            self._receive_frame(now, interface, batch.packet(i))
        return self._finish(out)

    def tick(self, now: int) -> Output:
        out = self._begin()
        while (timer := self.timers.pop_due(now)) is not None:
            timer.callback(now)
        return self._finish(out)

    def link_changed(self, now: int, interface: str, up: bool) -> Output:
        out = self._begin()
        iface = self.interfaces.get(interface)
        if iface is None:
            self.counters["link_changed_unknown_interface"] += 1
        else:
            iface.up = bool(up)
            self.nd[interface].link_changed(now, iface.up)
            self.on_link_changed(now, iface)
        return self._finish(out)

    def send(self, now: int, packet_bytes) -> Output:
        """An application's packet: checked with ``parse`` (a malformed one is a counted drop, never
        put on a link), then routed."""
        out = self._begin()
        raw = bytes(packet_bytes)
        try:
            parse(raw)
        except ParseError as exc:
            self.drop(f"send_parse.{exc.field}")
        else:
            self.output_packet(now, raw)
        return self._finish(out)

    # ------------------------------------------------------------ helpers for subclasses and ND

    def call_at(self, deadline: int, callback: Callable[[int], None]) -> Timer:
        return self.timers.call_at(deadline, callback)

    def notify(self, notification: Notification) -> None:
        self._out.notifications.append(notification)

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        """A packet for this node's applications (what a TUN would read)."""
        self.counters["delivered"] += 1
        self._out.deliveries.append(raw)

    def emit_frame(self, interface: str, dst_mac: bytes, raw: bytes) -> None:
        iface = self.interfaces[interface]
        self.counters["tx_frames"] += 1
        self._out.transmits.append(Transmit(interface, ethernet_frame(dst_mac, iface.mac, raw)))

    def drop(self, reason: str) -> None:
        self.counters[f"drop.{reason}"] += 1

    def is_own_address(self, address: IPv6Address, usable_only: bool = True) -> bool:
        for iface in self.interfaces.values():
            entry = iface.addresses.get(address)
            if entry is not None and (entry.usable or not usable_only):
                return True
        return False

    # ------------------------------------------------------------ inbound

    def _receive_frame(self, now: int, interface: str, frame) -> None:
        iface = self.interfaces.get(interface)
        if iface is None:
            self.drop("unknown_interface")
            return
        if not iface.up:
            self.drop("interface_down")
            return
        try:
            dst_mac, src_mac, ethertype, payload = parse_ethernet(frame)
        except ParseError:
            self.drop("ethernet_truncated")
            return
        self.counters["rx_frames"] += 1
        if ethertype != ETHERTYPE_IPV6:
            self.drop("ethertype")
            return
        if not self.accept_mac(iface, dst_mac, src_mac):
            return
        if len(payload) > 40:
            # Ethernet pads short frames to 60 bytes (IEEE 802.3 minimum): the IPv6 Payload Length
            # (RFC 8200 §3) says where the packet ends. 0 with a Hop-by-Hop header may be a jumbogram
            # (RFC 2675), left whole.
            end = 40 + int.from_bytes(payload[4:6], "big")
            if end < len(payload) and (end > 40 or payload[6] != 0):
                payload = payload[:end]
        self.receive_ipv6(now, iface, payload, src_mac)

    def accept_mac(self, iface: Interface, dst_mac: bytes, src_mac: bytes) -> bool:
        """The Ethernet filter (RFC 2464 §7): our MAC, broadcast, or a group the interface joined; never
        our own frame looped back by the link. A refused frame is a counted drop. Batch paths that
        read the Ethernet headers themselves call this for each frame they keep."""
        if dst_mac not in (iface.mac, BROADCAST_MAC) and not self._joined_mac(iface, dst_mac):
            self.drop("mac_filter")
            return False
        if src_mac == iface.mac:
            self.drop("own_frame")          # our own multicast looped back by the link
            return False
        return True

    def receive_ipv6(self, now: int, iface: Interface, raw: bytes, src_mac: bytes) -> None:
        """An IPv6 packet that passed the Ethernet checks: parsed, then ``receive_packet``; a packet
        ``parse`` refuses goes to ``parse_failed``."""
        try:
            packet = parse(raw)
        except ParseError as exc:
            self.parse_failed(now, iface, raw, exc)
            return
        self.receive_packet(now, iface, raw, packet, src_mac)

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """An inbound packet ``parse`` refused: a drop counted by the field at fault. Roles that must
        answer some malformed packets (RFC 6275 §9.2: Parameter Problem for a bad Mobility Header)
        extend this."""
        self.drop(f"parse.{exc.field}")

    def _joined_mac(self, iface: Interface, mac: bytes) -> bool:
        """RFC 2464 §7: a group's frames go to 33:33 + its last four bytes."""
        return mac[:2] == b"\x33\x33" and any(
            ipv6_multicast_mac(g.packed) == mac for g in iface.groups(self.is_router))

    def receive_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """An IPv6 packet that arrived on ``iface``: local delivery, forwarding, or a counted drop."""
        dst = packet.dst
        if dst.is_multicast:
            if dst not in iface.groups(self.is_router):
                self.drop("multicast_group")
                return
            self.local_packet(now, iface, raw, packet, src_mac)
            return
        entry = iface.addresses.get(dst)
        if entry is None:
            for other in self.interfaces.values():  # the weak host model (RFC 1122 §3.3.4.2)
                entry = other.addresses.get(dst)
                if entry is not None:
                    break
        if entry is not None:
            # RFC 4862 §5.4: a tentative address takes only the NS/NA of its own DAD.
            nd_message = isinstance(packet.payload, ICMPv6Message) and packet.payload.ICMP_TYPE in (135, 136)
            if entry.usable or nd_message:
                self.local_packet(now, iface, raw, packet, src_mac)
            else:
                self.drop("tentative_destination")  # RFC 4862 §5.4: not yet assigned
            return
        if self.forwarding:
            self.forward(now, iface, raw, packet)
        else:
            self.drop("not_for_us")

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """Dispatch by next header to the ``handle_*`` hooks."""
        nh = packet.next_header
        if nh == NH_ICMPV6:
            self.handle_icmpv6(now, iface, raw, packet, src_mac)
        elif nh == NH_MH:
            self.handle_mobility(now, iface, raw, packet)
        elif nh == NH_IPV6:
            self.handle_tunnel(now, iface, raw, packet)
        else:
            self.handle_upper(now, iface, raw, packet)

    def handle_icmpv6(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        icmp_type = getattr(msg, "ICMP_TYPE", None)
        if icmp_type in (133, 134, 135, 136):
            self.nd[iface.name].handle(now, raw, packet, src_mac)
        elif isinstance(msg, EchoRequest):
            self.answer_echo(now, iface, packet)
        else:
            self.deliver(now, raw, packet)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """Mobility Header for this node. A plain node does not implement Mobile IPv6 signalling:
        it is delivered like any upper-layer protocol (the roles override this)."""
        self.deliver(now, raw, packet)

    def handle_tunnel(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """IPv6-in-IPv6 for this node (RFC 2473 §3): a plain node has no tunnel endpoint; dropped."""
        self.drop("tunnel_not_configured")

    def handle_upper(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        self.deliver(now, raw, packet)

    def answer_echo(self, now: int, iface: Interface, packet: Packet) -> None:
        """Echo Reply to an Echo Request (RFC 4443 §4.2); for a multicast request, from our own
        unicast address on the interface."""
        req = packet.payload
        src = packet.dst if not packet.dst.is_multicast else iface.source_for(packet.src)
        if src is None:
            self.drop("echo_no_source")
            return
        reply = Packet(src=src, dst=packet.src, hop_limit=64,
                       payload=EchoReply(identifier=req.identifier, sequence=req.sequence, data=req.data))
        self.counters["echo_replies"] += 1
        self.output_packet(now, reply.to_bytes(), iface.name)

    def on_link_changed(self, now: int, iface: Interface) -> None:
        """Hook for subclasses after neighbour discovery saw the carrier change."""

    def router_solicited(self, now: int, iface: Interface, packet: Packet) -> None:
        """A valid Router Solicitation reached a router's interface (RFC 4861 §6.2.6); routers answer."""

    # ------------------------------------------------------------ forwarding and errors

    def forward(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """Overridden by routers."""
        self.drop("not_for_us")

    def icmp_error(self, now: int, iface: Interface, message: ICMPv6Message, invoking: bytes) -> None:
        """Send an ICMPv6 error about ``invoking`` back to its source, within RFC 4443 §2.4 (e): never
        about an error message, nor for a multicast destination (except Packet Too Big), nor to an
        unspecified or multicast source. The error fits the minimum MTU (§2.4 c)."""
        try:
            head = parse(invoking, verify_checksums=False)
        except ParseError:
            self.drop("icmp_error_unparsable")
            return
        if head.src.is_multicast or head.src == UNSPECIFIED:
            self.drop("icmp_error_bad_source")
            return
        if head.dst.is_multicast and not isinstance(message, PacketTooBig):
            self.drop("icmp_error_multicast")
            return
        if isinstance(head.payload, ICMPv6Message) and (head.payload.ICMP_TYPE or 0) < 128:
            self.drop("icmp_error_about_error")
            return
        src = iface.source_for(head.src)
        if src is None:
            self.drop("icmp_error_no_source")
            return
        cut = invoking[:IPV6_MIN_MTU - 48]   # 40-byte IPv6 header + 8-byte ICMPv6 header
        if isinstance(message, DestinationUnreachable):
            message = DestinationUnreachable(code=message.code, invoking=cut)
        elif isinstance(message, TimeExceeded):
            message = TimeExceeded(code=message.code, invoking=cut)
        elif isinstance(message, PacketTooBig):
            message = PacketTooBig(mtu=message.mtu, invoking=cut)
        elif isinstance(message, ParameterProblem):
            message = ParameterProblem(code=message.code, pointer=message.pointer, invoking=cut)
        self.counters[f"icmp_error.{type(message).__name__}"] += 1
        self.output_packet(now, Packet(src=src, dst=head.src, hop_limit=64, payload=message).to_bytes(),
                           iface.name)

    # ------------------------------------------------------------ outbound

    def lookup(self, dst: IPv6Address, zone: str | None = None) -> Route | None:
        """Longest-prefix match over static routes, on-link prefixes of the interfaces (own addresses
        and RA prefix lists, RFC 4861 §5.2) and the default router list (RFC 4861 §6.3.6).

        A link-scope destination is on-link on its ``zone`` (RFC 4007 §6), or, without one, on the
        first interface that is up."""
        if _link_scope(dst):
            for iface in self.interfaces.values():
                if iface.up and (zone is None or iface.name == zone):
                    return Route(LINK_LOCAL, iface.name, None)
            return None
        best: Route | None = None
        for route in self.candidate_routes():
            if not self.interfaces[route.interface].up or dst not in route.network:
                continue
            if best is None or route.network.prefixlen > best.network.prefixlen:
                best = route
        return best

    def candidate_routes(self) -> list[Route]:
        routes = list(self.routes)
        for name, iface in self.interfaces.items():
            for a in iface.addresses.values():
                if a.usable and a.address not in LINK_LOCAL:
                    routes.append(Route(a.network, name, None))
            nd = self.nd[name]
            routes.extend(Route(p, name, None) for p in nd.prefixes)
            router = nd.default_router()
            if router is not None:
                routes.append(Route(IPv6Network("::/0"), name, router))
        return routes

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """Route an IPv6 packet this node originates and hand it to the link layer; ``zone`` is the
        interface a link-scope destination is on (e.g. the one a packet being answered came in by)."""
        if len(raw) < 40 or raw[0] >> 4 != 6:
            self.drop("send_not_ipv6")
            return
        dst = IPv6Address(raw[24:40])
        if self.is_own_address(dst):
            try:
                packet = parse(raw)
            except ParseError as exc:
                self.drop(f"send_parse.{exc.field}")
                return
            self.deliver(now, raw, packet)    # loopback
            return
        route = self.lookup(dst, zone)
        if route is None:
            self.drop("no_route")
            return
        self.transmit_packet(now, route.interface, route.next_hop or dst, raw)

    def transmit_packet(self, now: int, interface: str, next_hop: IPv6Address, raw: bytes) -> None:
        iface = self.interfaces[interface]
        if not iface.up:
            self.drop("interface_down_tx")
            return
        if len(raw) > iface.mtu:
            self.drop("too_big_tx")
            return
        if next_hop.is_multicast:
            self.emit_frame(interface, ipv6_multicast_mac(next_hop.packed), raw)
            return
        self.nd[interface].send_to_neighbor(now, next_hop, raw)

    def address_unreachable(self, now: int, iface: Interface, raw: bytes) -> None:
        """Address resolution failed for a queued packet (RFC 4861 §7.2.2): Destination Unreachable
        code 3 to its source, unless this node originated it."""
        try:
            src = IPv6Address(raw[8:24])
        except ValueError:
            return
        if self.is_own_address(src, usable_only=False):
            return
        self.icmp_error(now, iface, DestinationUnreachable(code=3, invoking=b""), raw)
