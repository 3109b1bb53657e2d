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

import random
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Callable, ClassVar, cast

from ..batch import PacketBatch
from ..errors import ParseError
from ..security import SecurityAssociation, is_protected
from ..wire import (
    DestinationUnreachable,
    EchoReply,
    EchoRequest,
    ICMPv6Message,
    Packet,
    PacketTooBig,
    ParameterProblem,
    TimeExceeded,
    parse,
)
from ..wire.ethernet import ETHERTYPE_IPV6, ethernet_frame, ipv6_multicast_mac, parse_ethernet
from .counters import Counters, CounterTable
from .events import Notification, Output, Timer, TimerHeap, Transmit
from .icmp_errors import refusal as icmp_error_refusal
from .interface import (
    BROADCAST_MAC,
    IPV6_MIN_MTU,
    LINK_LOCAL,
    NH_ICMPV6,
    NH_IPV6,
    NH_MH,
    Interface,
    link_scope,
)
from .neighbor import NeighborDiscovery, NeighborDiscoveryLimits
from .latency import Latencies
from .node_counters import NODE_COUNTERS
from .protection import SignallingProtection
from .rate_limit import TokenBucket

__all__ = ["ICMP_ERROR_BURST", "ICMP_ERROR_RATE", "Node", "Route"]

# RFC 4443 §2.4 (f): a node MUST limit the ICMPv6 errors it originates; a token bucket, as the RFC
# suggests, of this many a second after a burst of that many (FreeBSD's default is 100 a second).
# Next headers that may lead to an ESP header (Hop-by-Hop, Routing, Destination Options, ESP itself).
_BEFORE_ESP = frozenset((0, 43, 50, 60))
ICMP_ERROR_RATE = 100
ICMP_ERROR_BURST = 10


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
    # Every name this class may count, with its meaning (roles/counters.py); a role names its own table.
    COUNTERS: ClassVar[CounterTable] = NODE_COUNTERS

    def __init__(self, name: str, interfaces: list[Interface] | tuple[Interface, ...] = (),
                 rng: random.Random | None = None):
        self.name = name
        self.rng = rng if rng is not None else random.Random(0)
        self.interfaces: dict[str, Interface] = {}
        self.nd: dict[str, NeighborDiscovery] = {}
        self.counters: Counter[str] = Counters(self.COUNTERS)
        # Signalling latencies (roles/latency.py); ``perf_clock``: a nanosecond counter for processing
        # times, given by a daemon (time.perf_counter_ns), None in the simulator: nothing is timed.
        self.latencies = Latencies()
        self.perf_clock: Callable[[], int] | None = None
        self.timers = TimerHeap()
        self.routes: list[Route] = []
        # Bumped by every entry point and every change made through the node's API: a data-plane
        # graph re-reads the node's routes and interfaces when it moved (roles/graph_tables.py).
        self.epoch = 0
        self._out = Output()
        self._depth = 0
        self._nd_class = NeighborDiscovery
        self.nd_limits = NeighborDiscoveryLimits()
        self.icmp_error_bucket = TokenBucket(ICMP_ERROR_RATE, ICMP_ERROR_BURST)
        # RFC 6275 §5.1: the home agent and the mobile node protect their signalling (``receive_protected``).
        self.protection = SignallingProtection(None, self.counters)     # none: nothing protected
        self._rx_sa: SecurityAssociation | None = None      # the SA the packet at hand arrived under
        for iface in interfaces:
            self.add_interface(iface)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def add_interface(self, iface: Interface) -> None:
        if iface.name in self.interfaces:
            raise ValueError(f"{self.name}: interface {iface.name} already exists")
        self.epoch += 1
        self.interfaces[iface.name] = iface
        self.nd[iface.name] = self._nd_class(self, iface)
        self.nd[iface.name].limits = self.nd_limits

    def set_icmp_error_limit(self, rate: int, burst: int) -> None:
        """At most ``rate`` ICMPv6 errors a second after a burst of ``burst`` (RFC 4443 §2.4 (f))."""
        self.icmp_error_bucket = TokenBucket(rate, burst)

    def set_nd_limits(self, limits: NeighborDiscoveryLimits) -> None:
        """Bound the routers, prefixes and SLAAC addresses every interface keeps from what it hears."""
        self.nd_limits = limits
        for nd in self.nd.values():
            nd.limits = limits

    def add_route(self, network, interface: str, next_hop=None) -> Route:
        if interface not in self.interfaces:
            raise ValueError(f"{self.name}: no interface {interface}")
        route = Route(IPv6Network(network), interface, None if next_hop is None else IPv6Address(next_hop))
        self.routes.append(route)
        self.epoch += 1
        return route

    # ------------------------------------------------------------ entry points

    def _begin(self) -> Output:
        # An entry point called from inside another (an application sending from its ``deliver``)
        # adds to the output already being built, which the outer call returns.
        self._depth += 1
        self.epoch += 1
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
        put on a link), then routed. A packet of link scope (a link-local source or a link-scope
        destination: the router solicitations, MLD reports and neighbour discovery a kernel sends on
        the TUN device it reads applications from) belongs to the link it was sent on, which is not
        any of this node's links (RFC 4291 §2.5.6, §2.7): a counted drop."""
        out = self._begin()
        raw = bytes(packet_bytes)
        if self.from_application(raw):
            self.output_packet(now, raw)
        return self._finish(out)

    def from_application(self, raw: bytes) -> bool:
        """May this packet from the node's applications be sent (``send`` above)? Counted when not."""
        try:
            packet = parse(raw)
        except ParseError as exc:
            self.drop(f"send_parse.{exc.field}")
            return False
        if link_scope(packet.src) or link_scope(packet.dst):
            self.drop("send_link_scope")
            return False
        return True

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
        ``parse`` refuses goes to ``parse_failed``. An ESP-protected packet for one of this node's
        addresses, at a node that protects its signalling, goes straight to ``receive_protected``: the
        packet inside is what gets parsed and checked (once, not the ESP packet around it as well)."""
        if (len(raw) > 40 and raw[6] in _BEFORE_ESP and self.protection.enabled
                and is_protected(raw) and self.is_own_address(IPv6Address(raw[24:40]))):
            self.receive_protected(now, iface, raw, src_mac)
            return
        try:
            packet = parse(raw)
        except ParseError as exc:
            self.parse_failed(now, iface, raw, exc)
            return
        self.receive_packet(now, iface, raw, packet, src_mac)

    def receive_protected(self, now: int, iface: Interface, raw: bytes, src_mac: bytes) -> None:
        """A packet for this node carrying ESP (RFC 6275 §5.1, §6.3): ``SignallingProtection.open`` (a
        refusal is a silent drop counted ``drop.esp.<reason>``: no answer, so no sequence number leaks),
        then the packet inside goes to ``local_packet`` with the SA it came under (``_rx_sa``)."""
        opened = self.protection.open(raw)
        if opened is None:
            return
        packet_bytes, inner, self._rx_sa = opened
        try:
            self.local_packet(now, iface, packet_bytes, inner, src_mac)
        finally:
            self._rx_sa = None

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """An inbound packet ``parse`` refused: a drop counted by the field at fault. Roles that must
        answer some malformed packets (RFC 6275 §9.2: Parameter Problem for a bad Mobility Header)
        extend this."""
        self.drop(f"parse.{exc.field}")

    def _joined_mac(self, iface: Interface, mac: bytes) -> bool:
        """RFC 2464 §7: a group's frames go to 33:33 + its last four bytes."""
        return iface.joined_mac(mac, self.is_router)

    def receive_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """An IPv6 packet that arrived on ``iface``: local delivery, forwarding, or a counted drop."""
        dst = packet.dst
        if dst.is_multicast:
            if not iface.is_joined(dst, self.is_router):
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
        req = cast(EchoRequest, packet.payload)
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
        refused = icmp_error_refusal(invoking, isinstance(message, PacketTooBig))
        if refused is not None:
            self.drop(refused)                           # RFC 4443 §2.4 (e): icmp_errors.py
            return
        invoker = IPv6Address(invoking[8:24])
        src = iface.source_for(invoker)
        if src is None:
            self.drop("icmp_error_no_source")
            return
        if not self.icmp_error_bucket.take(now):
            self.drop("icmp_error_rate_limited")         # RFC 4443 §2.4 (f)
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
        self.output_packet(now, Packet(src=src, dst=invoker, hop_limit=64, payload=message).to_bytes(),
                           iface.name)

    # ------------------------------------------------------------ outbound

    def lookup(self, dst: IPv6Address, zone: str | None = None) -> Route | None:
        """Longest-prefix match over static routes, on-link prefixes of the interfaces (own addresses
        and RA prefix lists, RFC 4861 §5.2) and the default router list (RFC 4861 §6.3.6).

        A link-scope destination is on-link on its ``zone`` (RFC 4007 §6), or, without one, on the
        first interface that is up."""
        if link_scope(dst):
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
