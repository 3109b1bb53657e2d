"""The mobile node's data path (RFC 6275 §11.3.1, §11.3.3): application packets from a home address out
through the reverse tunnel or with a Home Address option, tunnelled and Type 2 routing header packets
in, a batch at a time through the C kernels; sans-I/O.

Theory of operation
-------------------
``MobileNodeData`` is an object the ``MobileNode`` holds. It runs one ``MobileNodeDataPath`` (the
kernels of mip6fast/datapath.py) per home address for sending (only registered ones tunnel) and one per
home agent for receiving, holding that agent's home addresses; all of them read the binding update list
(home registrations and route-optimised correspondents). ``rebuild`` makes them afresh when the home
addresses or their home agents change; ``set_care_of`` follows movement.

Sending (``send``): while away and registered, packets from a home address go through
``MobileNodeDataPath.outbound`` (HAO insertion for route-optimised peers, else the reverse tunnel) over
a ``PacketBatch``; packets from a home address without an accepted registration are dropped (counted,
no traffic through a failed home agent); the rest is routed as by any host. A packet too big for the
tunnel is answered with Packet Too Big to the node's own application (RFC 2473 §7.1).

Receiving (``receive``): unicast IPv6 frames to our MAC carrying a tunnel (next header 41) or a routing
header (43), chosen with the shared classifier (frames.py), go through ``decapsulate`` and
``process_rh2`` in one kernel call each over the whole batch; what the kernels pass on, and every other
frame, goes back to the node's per-frame path (neighbour discovery, signalling). Frames the kernels
must not judge are left to the per-frame path before they run (the graph's ``mn_per_frame_only`` in
C; ``_per_frame_only`` on the path without a graph): one for an address
the node does not hold usable (the kernels check the outer source and the inner destination, not the
outer destination), one from the interface's own MAC, and a routing header before a DHAAD Reply, a
Mobile Prefix Advertisement or another extension header. ``MobileNode.receive`` (one frame, as the
simulator hands them) comes here too, as a one-packet batch. Delivered packets lose
a processed Type 2 routing header (route_optimization.strip_processed_rh2); an Echo Request that came
to a home address is answered (its reply takes the reverse tunnel). Verdicts are read as columns;
every drop is counted as ``drop.datapath.<REASON>``; route optimisation counts the tunnelled packets
per correspondent.

The C graphs (csrc/mip6_graph_roles.c, issue 17): with a node to keep its tables in step
(``graph_node``, roles/graph_tables.py), ``send`` and ``receive`` are one C call per batch each
(``_send_graph``: the kernels, route lookup, adjacency and Ethernet header, frames out;
``_receive_graph``: ethernet-input, the selection above, the kernels, deliveries and frames for the
per-frame path), with the same decisions, outputs and counters as the numpy path they replace, which
still runs for a node whose interfaces or home agents the graph cannot hold. What the graph leaves
(a next hop not usable, an ESP tunnel, packets the kernels passed, Packet Too Big) takes the same
per-packet steps as before, in the same order: frames the graph sent stand where the per-packet path
would have put them (``GraphTables.emit``, ``BatchTransmit.at``).

The reverse tunnel in ESP tunnel mode (RFC 3776, RFC 4877 §4; roles/protection.py): a reverse-tunnelled
packet from a home address with an outbound tunnel-mode SA leaves under ESP (``_protect``, per packet,
where every tunnelled packet already leaves); one that would not fit the link once protected is
answered with Packet Too Big to the application. An IPv6-in-IPv6 packet for a home address with an
inbound tunnel-mode SA is refused unless it arrived under ESP (which comes as next header 50, is opened
on the per-frame path and reaches ``one_packet`` with ``protected``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from ipaddress import IPv6Address
from typing import Protocol

import numpy as np

from .. import _impl
from ..batch import DropReason, PacketBatch, Verdict
from ..binding_cache import BindingCache
from ..datapath import MobileNodeDataPath, mobile_node_graph
from ..errors import ParseError
from ..security import SecurityAssociation
from ..wire import EchoRequest, Packet, PacketTooBig, parse
from ..wire.ethernet import ETHERNET_HEADER_LEN
from .events import NodeServices
from .frames import FrameColumns, classify, gather, one_of
from .graph_tables import GraphTables
from .interface import IPV6_MIN_MTU, NH_MH, UNSPECIFIED, Interface
from .mn_config import HomeAddressConfig
from .node import Node, Route
from .protection import NH_ESP, SignallingProtection, tunnel_room
from .route_optimization import RouteOptimizer, strip_processed_rh2

__all__ = ["MIN_TUNNEL_MTU", "DataPathNode", "MobileNodeData"]

MIN_TUNNEL_MTU = 1320                  # the data path's floor: 1280 inner + 40 outer (RFC 2473 §7.1)

# Next headers of a packet that may be ICMPv6 (directly or after a hop-by-hop, routing or destination
# options header); only those are parsed to look for an Echo Request.
_MAYBE_ICMPV6 = frozenset((0, 43, 58, 60))

# After a routing header, what the per-frame path keeps (``MobileNodeData._per_frame_only``): extension
# headers (hop-by-hop, routing, fragment, AH, destination options), and the ICMPv6 messages of
# mn_discovery (DHAAD Reply, Mobile Prefix Advertisement).
_AFTER_ROUTING_SLOW = np.array((0, 43, 44, 51, 60), dtype=np.uint8)
_DISCOVERY_ICMP = np.array((145, 147), dtype=np.uint8)

_graph = _impl.load("graph")
_NO_IF = _graph.NO_IF
_FRAME, _SEND, _PASSED, _TOO_BIG, _DELIVER_TUNNEL, _DELIVER_RH2 = (
    _graph.SLOW_KINDS.index(k) for k in ("FRAME", "SEND", "PASSED", "TOO_BIG", "DELIVER_TUNNEL", "DELIVER_RH2"))


class DataPathNode(NodeServices, Protocol):
    """What the data path needs of its node beyond the services: the check of an application's packet
    (``Node.from_application``), routes and per-packet transmission, answering an Echo Request, and
    handing packets to the node's applications (``deliver_packets``: delivered, counted;
    ``deliver_icmp_error``: an error about the application's own packet), and a Mobility Header that
    came out of the tunnel to its signalling (``tunnelled_mobility``: a correspondent's Home Test)."""

    def from_application(self, raw: bytes) -> bool: ...

    def lookup(self, dst: IPv6Address, zone: str | None = None) -> Route | None: ...

    def transmit_packet(self, now: int, interface: str, next_hop: IPv6Address, raw: bytes) -> None: ...

    def answer_echo(self, now: int, iface: Interface, packet: Packet) -> None: ...

    def deliver_packets(self, now: int, packets: list[bytes]) -> None: ...

    def tunnelled_mobility(self, now: int, raw: bytes) -> None: ...

    def deliver_icmp_error(self, raw: bytes) -> None: ...


class MobileNodeData:
    """The data path of one mobile node (see the module doc). ``homes()``: its home addresses now;
    ``care_of()``: its care-of address; ``away_for(home)``: away from that address's home link;
    ``registered(home)``: an accepted registration makes its tunnel usable."""

    def __init__(self, node: DataPathNode, iface: Interface, bul: BindingCache, allow_site_local: bool,
                 route_optimization: RouteOptimizer, *, homes: Callable[[], tuple[HomeAddressConfig, ...]],
                 care_of: Callable[[], IPv6Address | None], away_for: Callable[[IPv6Address], bool],
                 registered: Callable[[IPv6Address], bool], protection: SignallingProtection | None = None,
                 graph_node: Node | None = None, adjacencies: int = 1024,
                 interfaces: Callable[[], Iterable[Interface]] | None = None):
        self.node = node
        # The node's interfaces, whose usable addresses the kernels may receive for (``_per_frame_only``).
        self._interfaces = interfaces if interfaces is not None else (lambda: (iface,))
        self.protection = protection if protection is not None else SignallingProtection(None, node.counters)
        self.iface = iface
        self.bul = bul
        self.allow_site_local = allow_site_local
        self.route_optimization = route_optimization
        self._homes = homes
        self._care_of = care_of
        self._away_for = away_for
        self._registered = registered
        self._out_paths: dict[IPv6Address, MobileNodeDataPath] = {}
        self._in_paths: dict[IPv6Address, MobileNodeDataPath] = {}
        self.rebuild(None)
        # The C graphs of both directions and their tables, kept in step with the node (graph_tables.py);
        # without ``graph_node`` the numpy path below runs.
        self.graph = None if graph_node is None else mobile_node_graph(bul, adjacencies)
        self.tables = None if graph_node is None else GraphTables(graph_node, self.graph, _graph.MAX_IFACES,
                                                                  _graph.MAX_ROUTES, _graph.NO_DEADLINE)
        self._tunnel_key: list[tuple] = []
        self._agents_key: dict | None = None

    def rebuild(self, care_of: IPv6Address | None) -> None:
        """One outbound path per home address (only registered ones tunnel), one inbound per home agent
        holding that agent's home addresses, from the home addresses as they are now."""
        homes = self._homes()
        care = care_of or UNSPECIFIED
        mtu = self.iface.mtu
        self._out_paths = {
            h.address: MobileNodeDataPath([h.address], care, h.home_agent or UNSPECIFIED, self.bul,
                                          tunnel_mtu=max(mtu, MIN_TUNNEL_MTU), mtu=mtu,
                                          allow_site_local=self.allow_site_local)
            for h in homes}
        by_agent: dict[IPv6Address, list[IPv6Address]] = {}
        for h in homes:
            by_agent.setdefault(h.home_agent or UNSPECIFIED, []).append(h.address)
        self._in_paths = {agent: MobileNodeDataPath(addrs, care, agent, self.bul, mtu=mtu,
                                                    allow_site_local=self.allow_site_local)
                          for agent, addrs in by_agent.items()}
        self._home_packed = np.frombuffer(b"".join(h.address.packed for h in homes),
                                          dtype=np.uint8).reshape(-1, 16)

    def set_care_of(self, address: IPv6Address) -> None:
        for path in (*self._out_paths.values(), *self._in_paths.values()):
            path.care_of = address

    # ------------------------------------------------------------ sending (§11.3.1)

    def send(self, now: int, batch: PacketBatch) -> None:
        """Application packets, a batch at a time (see the module doc)."""
        n = batch.count
        if not n:
            return
        away = [h.address for h in self._homes() if self._away_for(h.address)]
        tables = self.tables
        if tables is not None:
            tables.refresh()
            if tables.usable and len(away) <= _graph.MAX_TUNNELS:
                self._send_graph(now, batch, away, tables)
                return
        for home in away:
            if self._registered(home):
                self._out_paths[home].outbound(batch)
        verdict = batch.verdict[:n]
        if away:
            self.route_optimization.count_outbound(now, batch, np.flatnonzero(verdict == Verdict.FORWARD))
        self._transmit_forwarded(now, batch, np.flatnonzero(verdict == Verdict.FORWARD))
        self._count_drops(batch, verdict)
        passed = np.flatnonzero(verdict == Verdict.PASS)
        if passed.size and away:
            # Only the home addresses the node is away for need a registration; one whose home
            # link this is is used natively (§11.5.5).
            from_home = self._src_is_home(batch, passed, away)
            self.node.counters["drop.mn.no_home_registration"] += int(from_home.sum())
            passed = passed[~from_home]
        if passed.size:
            for i in passed.tolist():
                raw = batch.packet(i)
                if self.node.from_application(raw):
                    self.node.output_packet(now, raw)
        for i in np.flatnonzero(verdict == Verdict.TOO_BIG).tolist():
            self._too_big(now, batch, i)

    def _send_graph(self, now: int, batch: PacketBatch, away: list[IPv6Address], tables: GraphTables) -> None:
        """``send`` as one C call (csrc/mip6_graph_roles.c, mip6_graph_mn_send): the kernels of every
        registered home away, route lookup, adjacency and Ethernet header; then, in the per-packet
        path's order, what it left: route optimisation's counts, the frames (the graph's, and those
        it could not send, one at a time), drops, the packets the kernels passed, Packet Too Big."""
        node, graph, n = self.node, self.graph, batch.count
        assert graph is not None
        paths = [self._out_paths[h] for h in away if self._registered(h)]
        key = [(p, p.care_of) for p in paths]
        if key != self._tunnel_key or any(a is not b for (a, _), (b, _) in zip(key, self._tunnel_key)):
            graph.set_tunnels([p.graph_tunnel() for p in paths])
            self._tunnel_key = key
        epoch = tables.node.epoch
        slow = graph.send(batch, now)
        # Copied out before anything is acted on: route optimisation or a delivery may send (a nested run).
        out, tx = graph.out[:n].copy(), graph.tx()
        entries = list(zip(graph.slow[:slow].tolist(), graph.slow_kind[:slow].tolist()))
        tunnelled, drops = graph.tunnelled, graph.last_drops()
        counters = node.counters
        forwarded = np.flatnonzero(batch.verdict[:n] == Verdict.FORWARD)
        if away:
            # Route optimisation reads the packets as the kernels left them: before the Ethernet header.
            sent = forwarded[out[forwarded] != _NO_IF]
            batch.offset[sent] += ETHERNET_HEADER_LEN
            self.route_optimization.count_outbound(now, batch, forwarded)
            batch.offset[sent] -= ETHERNET_HEADER_LEN
        if forwarded.size:
            counters["mn.reverse_tunnelled"] += tunnelled
        if any(kind == _SEND for _, kind in entries):
            routes: dict[bytes, Route | None] = {}
            sas = self.protection.tunnel_outbound()
            for i in forwarded.tolist():
                k = int(out[i])
                if k != _NO_IF:
                    tables.emit_one(batch, i, k)
                else:
                    self._transmit_one(now, batch.packet(i), routes, sas)
        elif sum(tx):
            tables.emit(batch, out, tx)
        for r, count in drops.items():
            counters[f"drop.datapath.{DropReason(r).name.lower()}"] += count
        passed = np.array([i for i, kind in entries if kind == _PASSED], dtype=np.int64)
        if passed.size and away:
            from_home = self._src_is_home(batch, passed, away)
            counters["drop.mn.no_home_registration"] += int(from_home.sum())
            passed = passed[~from_home]
        for i in passed.tolist():
            raw = batch.packet(i)
            if node.from_application(raw):
                node.output_packet(now, raw)
        for i, kind in entries:
            if kind == _TOO_BIG:
                self._too_big(now, batch, i)
        if not entries and tables.node.epoch == epoch:
            tables.clean()

    def _too_big(self, now: int, batch: PacketBatch, i: int) -> None:
        """RFC 2473 §7.1: a packet that does not fit the tunnel is answered with Packet Too Big (the MTU
        the kernel put in ``aux``), which here goes to the node's own application."""
        self.node.drop("mn.reverse_tunnel_too_big")
        raw = batch.packet(i)
        src = self._care_of() or UNSPECIFIED
        ptb = Packet(src=src, dst=IPv6Address(raw[8:24]), hop_limit=64,
                     payload=PacketTooBig(mtu=int(batch.aux[i]), invoking=raw[:IPV6_MIN_MTU - 48]))
        self.node.deliver_icmp_error(ptb.to_bytes())

    def _src_is_home(self, batch: PacketBatch, idx: np.ndarray, homes=None) -> np.ndarray:
        """Per packet of ``idx``: is its IPv6 source one of the home addresses (or of ``homes``)? (one
        numpy gather)"""
        packed = self._home_packed if homes is None else np.frombuffer(
            b"".join(h.packed for h in homes), dtype=np.uint8).reshape(-1, 16)
        off = batch.offset[idx].astype(np.int64)
        gather = np.minimum(off[:, None] + 8 + np.arange(16), batch.buf.size - 1)
        src = batch.buf[gather]
        return (src[:, None, :] == packed[None, :, :]).all(axis=2).any(axis=1)

    def _transmit_forwarded(self, now: int, batch: PacketBatch, idx: np.ndarray) -> None:
        """Tunnelled packets all go to a home agent: one route lookup per agent, then frames out. A
        tunnelled packet from a home address with an outbound tunnel-mode SA leaves under ESP (RFC 3776,
        RFC 4877 §4; ``_protect``)."""
        if not idx.size:
            return
        counters = self.node.counters
        # Route-optimised packets (a HAO, not IPv6-in-IPv6) are FORWARDed too; count only the tunnel.
        counters["mn.reverse_tunnelled"] += int((batch.buf[batch.offset[idx].astype(np.int64) + 6] == 41).sum())
        routes: dict[bytes, Route | None] = {}
        sas = self.protection.tunnel_outbound()
        for i in idx.tolist():
            self._transmit_one(now, batch.packet(i), routes, sas)

    def _transmit_one(self, now: int, raw: bytes, routes: dict[bytes, Route | None],
                      sas: dict[bytes, SecurityAssociation]) -> None:
        """One packet the outbound kernels FORWARDed: routed (``routes`` caches lookups for a batch),
        under ESP when its tunnel is protected, handed to neighbour discovery."""
        dst = raw[24:40]
        route = routes.get(dst)
        if route is None:
            route = routes[dst] = self.node.lookup(IPv6Address(dst))
        if route is None:
            self.node.drop("no_route")
            return
        if sas and raw[6] == 41:
            sa = sas.get(raw[48:64])          # the inner source: the home address
            if sa is not None:
                protected = self._protect(raw, sa, route)
                if protected is None:
                    return
                raw = protected
        self.node.transmit_packet(now, route.interface, route.next_hop or IPv6Address(dst), raw)

    def _protect(self, raw: bytes, sa: SecurityAssociation, route: Route) -> bytes | None:
        """A reverse-tunnelled packet under ESP tunnel mode, or None: too big for the link once protected
        (Packet Too Big to the application, with the room left), or refused by the SA (counted)."""
        room = tunnel_room(sa, self.iface.mtu)
        if len(raw) - 40 > room:
            self.node.drop("esp.tunnel.out.too_big")
            inner = raw[40:]
            ptb = Packet(src=self._care_of() or UNSPECIFIED, dst=IPv6Address(inner[8:24]), hop_limit=64,
                         payload=PacketTooBig(mtu=max(room, IPV6_MIN_MTU), invoking=inner[:IPV6_MIN_MTU - 48]))
            self.node.deliver_icmp_error(ptb.to_bytes())
            return None
        return self.protection.protect_tunnel(raw, sa)

    def _count_drops(self, batch: PacketBatch, verdict: np.ndarray) -> None:
        dropped = verdict == Verdict.DROP
        if dropped.any():
            reasons = np.bincount(batch.reason[:batch.count][dropped], minlength=len(DropReason))
            counters = self.node.counters
            for r in np.flatnonzero(reasons).tolist():
                counters[f"drop.datapath.{DropReason(r).name.lower()}"] += int(reasons[r])

    # ------------------------------------------------------------ receiving (§11.3.3)

    def receive(self, now: int, batch: PacketBatch) -> list[int]:
        """Frames of a batch received on the mobile interface (see the module doc); the batch's columns
        are rewritten. Returns the frames for the node's per-frame path, in order."""
        tables = self.tables
        if tables is not None and 0 < len(self._in_paths) <= _graph.MAX_AGENTS:
            tables.refresh()
            if tables.usable and self.iface.name in tables.index:
                # The graph leaves the frames it must not judge to the per-frame path itself
                # (mn_per_frame_only, csrc/mip6_graph_roles.c), against the tables' own addresses.
                return self._receive_graph(now, batch, tables)
        self._per_frame_only(batch)
        n = batch.count
        counters = self.node.counters
        frames = classify(batch, self.iface)
        nh = frames.next_header
        eligible = (frames.ipv6 & ((nh == 41) | (nh == 43))
                    # A BA or Binding Refresh Request carries an RH2 too (§6.1.8): signalling, not
                    # data, so the routing header's next header must not be MH.
                    # ESP after it (RFC 3776: a protected BA, MPA or BRR) is signalling too.
                    & ~((nh == 43) & ((frames.after_header == NH_MH) | (frames.after_header == NH_ESP)))
                    & (batch.verdict[:n] == Verdict.PASS))
        unprotected = self._unprotected_tunnels(batch, frames, eligible & (nh == 41))
        if unprotected is not None:
            eligible &= ~unprotected
        batch.verdict[:n][~eligible] = Verdict.SLOW_PATH
        sel = np.flatnonzero(eligible)
        frames.strip(batch, eligible)
        counters["rx_frames"] += int(sel.size)
        self._run_inbound(batch)
        verdict = batch.verdict[:n]
        forwarded = np.flatnonzero(eligible & (verdict == Verdict.FORWARD))
        self.route_optimization.count_inbound(now, batch, forwarded, nh[forwarded] == 41)
        self._deliver(now, batch, forwarded)
        self._count_drops(batch, np.where(eligible, verdict, Verdict.PASS))
        slow_mask = ~eligible | ((verdict != Verdict.FORWARD) & (verdict != Verdict.DROP))
        if unprotected is not None:
            refused = int(np.count_nonzero(unprotected))
            counters["rx_frames"] += refused
            counters["drop.esp.tunnel.unprotected"] += refused
            slow_mask &= ~unprotected
        slow = np.flatnonzero(slow_mask)
        back = eligible & slow_mask
        frames.restore(batch, back)
        counters["rx_frames"] -= int(np.count_nonzero(back))     # counted again on the per-frame path
        return slow.tolist()

    def _per_frame_only(self, batch: PacketBatch) -> None:
        """Frames the kernels must not judge go to the per-frame path (marked SLOW_PATH, which both the
        graph and the numpy path hand back untouched), which decides them as it always has:

        - one whose IPv6 destination is not a usable unicast address of the node (a care-of address it
          no longer or not yet holds: ``not_for_us``, ``tentative_destination``; a multicast one): the
          kernels check the outer source and the inner destination, not the outer destination;
        - one sent from the interface's own MAC (``own_frame``);
        - a routing header before a DHAAD Reply or a Mobile Prefix Advertisement (ICMPv6 145, 147):
          signalling for ``discovery``, checked for protection (``local_packet``), not data; and, not
          to guess what they hold, one before another extension header."""
        n = batch.count
        if not n:
            return
        start = batch.offset[:n].astype(np.int64)
        # Node.receive_packet: the receiving interface's entry for the address decides, else the first
        # other interface's that has it (the weak host model).
        usable = {a.address: a.usable for a in self.iface.addresses.values()}
        for iface in self._interfaces():
            for a in iface.addresses.values():
                usable.setdefault(a.address, a.usable)
        own = frozenset(address.packed for address, ok in usable.items() if ok)
        ip = ETHERNET_HEADER_LEN
        head = gather(batch, start, ip + 42)      # Ethernet, IPv6, a routing header's first two bytes
        ours = one_of(head[:, ip + 24:ip + 40], own)
        ours &= (head[:, 6:12] != np.frombuffer(self.iface.mac, dtype=np.uint8)).any(axis=1)
        routing = head[:, ip + 6] == 43
        if routing.any():
            after = head[:, ip + 40]
            icmp = routing & (after == 58)
            ours &= ~(routing & np.isin(after, _AFTER_ROUTING_SLOW))
            if icmp.any():
                at = start[icmp] + ip + 40 + (head[icmp, ip + 41].astype(np.int64) + 1) * 8
                ours[np.flatnonzero(icmp)[np.isin(gather(batch, at, 1)[:, 0], _DISCOVERY_ICMP)]] = False
        if not ours.all():
            batch.verdict[:n][~ours] = Verdict.SLOW_PATH

    def _receive_graph(self, now: int, batch: PacketBatch, tables: GraphTables) -> list[int]:
        """``receive`` as one C call (csrc/mip6_graph_roles.c, mip6_graph_mn_receive): ethernet-input,
        the selection, unprotected tunnels refused, decapsulation per home agent, process_rh2; then
        the deliveries and counts as ``receive`` makes them. Returns the frames for the per-frame path."""
        graph, counters = self.graph, self.node.counters
        assert graph is not None
        if self._agents_key is not self._in_paths:
            paths = list(self._in_paths.values())
            graph.set_agents([p.graph_agent() for p in paths])
            graph.set_rh2(*paths[0].graph_rh2())
            self._agents_key = self._in_paths
        epoch = tables.node.epoch
        slow = graph.receive(batch, tables.index[self.iface.name], now)
        # Copied out before anything is acted on: a delivery may make the node send (a nested run).
        entries, kinds = graph.slow[:slow].astype(np.int64), graph.slow_kind[:slow].copy()
        dropped, refused, drops = graph.dropped, graph.unprotected, graph.last_drops()
        deliver = kinds != _FRAME
        forwarded = entries[deliver]
        counters["rx_frames"] += int(forwarded.size) + dropped
        self.route_optimization.count_inbound(now, batch, forwarded, kinds[deliver] == _DELIVER_TUNNEL)
        self._deliver(now, batch, forwarded)
        for r, count in drops.items():
            counters[f"drop.datapath.{DropReason(r).name.lower()}"] += count
        if refused:
            counters["rx_frames"] += refused
            counters["drop.esp.tunnel.unprotected"] += refused
        frames = entries[~deliver].tolist()
        if not frames and tables.node.epoch == epoch:
            tables.clean()
        return frames

    def _unprotected_tunnels(self, batch: PacketBatch, frames: FrameColumns,
                             tunnelled: np.ndarray) -> np.ndarray | None:
        """Which frames of ``tunnelled`` (IPv6-in-IPv6) carry a packet for a home address whose tunnel
        must arrive under ESP (an inbound tunnel-mode SA, RFC 3776): refused before the kernel, as they
        arrived without it (a protected one comes as ESP, next header 50, and is opened on the
        per-frame path). None when no tunnel is protected."""
        required = self.protection.tunnel_required()
        if not required:
            return None
        idx = np.flatnonzero(tunnelled & (frames.payload_length >= 40))
        if not idx.size:
            return None
        # The inner destination: Ethernet header, outer IPv6 header, then the inner one's 24th byte.
        found = one_of(gather(batch, frames.offset[idx] + ETHERNET_HEADER_LEN + 64, 16), required)
        if not found.any():
            return None
        unprotected = np.zeros(frames.n, dtype=bool)
        unprotected[idx[found]] = True
        return unprotected

    def _run_inbound(self, batch: PacketBatch) -> None:
        """``decapsulate`` for each home agent over the packets whose outer source is that agent (the
        others are parked as SLOW_PATH meanwhile, so a kernel never judges another agent's packets),
        then ``process_rh2``."""
        n = batch.count
        paths = list(self._in_paths.items())
        if len(paths) == 1:
            paths[0][1].inbound(batch)
            return
        off = batch.offset[:n].astype(np.int64)
        src = batch.buf[np.minimum(off[:, None] + 8 + np.arange(16), batch.buf.size - 1)]
        for ha, path in paths:
            ha_bytes = np.frombuffer(ha.packed, dtype=np.uint8)
            park = (batch.verdict[:n] == Verdict.PASS) & ~(src == ha_bytes).all(axis=1)
            batch.verdict[:n][park] = Verdict.SLOW_PATH
            path.decapsulate(batch)
            batch.verdict[:n][park] = Verdict.PASS
        paths[0][1].process_rh2(batch)

    def _deliver(self, now: int, batch: PacketBatch, idx: np.ndarray) -> None:
        if not idx.size:
            return
        buf = batch.buf
        raws = [buf[o:o + k].tobytes() for o, k in zip(batch.offset[idx].tolist(), batch.length[idx].tolist())]
        if any(raw[6] == NH_MH for raw in raws):
            # Only a tunnelled packet can be a bare Mobility Header here (one after a Type 2 routing
            # header stays on the signalling path): a Home Test, for the node, not its applications.
            for raw in raws:
                if raw[6] == NH_MH:
                    self.node.tunnelled_mobility(now, bytes(raw))
            raws = [raw for raw in raws if raw[6] != NH_MH]
            if not raws:
                return
        self.node.counters["mn.tunnel_delivered"] += len(raws)
        # A processed Type 2 routing header is not passed up (route_optimization.strip_processed_rh2).
        packets = [strip_processed_rh2(raw) for raw in raws]
        if any(raw[6] in _MAYBE_ICMPV6 for raw in packets):
            packets = [raw for raw in packets if not self._echo_for_home(now, raw)]
        self.node.deliver_packets(now, packets)

    def _echo_for_home(self, now: int, raw: bytes) -> bool:
        """An Echo Request that reached a home address through the tunnel or with an RH2 is answered
        like one received on the home link (RFC 4443 §4.1; RFC 6275 §11.3.3: the node is reachable at
        its home address); the reply, from the home address, takes the reverse tunnel (§11.3.1)."""
        try:
            packet = parse(raw)
        except ParseError:
            return False
        if not isinstance(packet.payload, EchoRequest):
            return False
        self.node.answer_echo(now, self.iface, packet)
        return True

    def one_packet(self, now: int, raw: bytes, kernel: str, protected: bool = False) -> None:
        """A single tunnelled (``kernel`` "decapsulate") or RH2 ("process_rh2") packet from the
        per-frame path, still through the kernels. A tunnelled packet for a home address whose tunnel
        must be protected is refused unless it arrived under ESP tunnel mode (``protected``)."""
        if (kernel == "decapsulate" and not protected and len(raw) >= 80 and raw[6] == 41
                and raw[64:80] in self.protection.tunnel_required()):
            self.node.drop("esp.tunnel.unprotected")
            return
        batch = PacketBatch(capacity=1, slot_size=max(2048, len(raw) + 256), headroom=128)
        batch.append(raw)
        if kernel == "decapsulate":
            self._run_inbound(batch)
        else:
            next(iter(self._in_paths.values())).process_rh2(batch)
        verdict = batch.verdict[:1]
        forwarded = np.flatnonzero(verdict == Verdict.FORWARD)
        self.route_optimization.count_inbound(now, batch, forwarded,
                                              np.full(forwarded.size, kernel == "decapsulate"))
        self._deliver(now, batch, forwarded)
        self._count_drops(batch, verdict)
        if verdict[0] not in (Verdict.FORWARD, Verdict.DROP):
            self.node.drop(f"mn.{kernel}.{DropReason(int(batch.reason[0])).name.lower()}")
