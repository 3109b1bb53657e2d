"""The home agent's data path (RFC 6275 §10.4.2-10.4.5): received batches through the home agent's C
graph (csrc/mip6_graph.c, mip6fast._graph), and what the graph leaves taken on per packet.

Theory of operation
-------------------
``BatchPath.run`` hands the whole batch of Ethernet frames to the graph in one call: ethernet-input and
classify (neighbour discovery, which the home agent answers itself for proxied addresses, §10.4.1, and
link-local traffic, never tunnelled, §10.4.2, stay on the slow path), then the tunnelling kernels of
``mip6fast.datapath.HomeAgentDataPath`` as nodes:

- ``encapsulate``: packets for a bound home address into the tunnel to its care-of address (§10.4.2,
  RFC 2473; the inner hop limit is decremented, too-big packets get Packet Too Big with the tunnel's MTU
  less its header);
- ``decapsulate``: the mobile nodes' reverse tunnels (§10.4.5), only for packets addressed to the home
  agent, and only when the outer source is the inner source's registered care-of address; an inner
  packet for another bound home address goes straight into that one's tunnel (a second pass);

then the route lookup, the next hop's MAC from the graph's adjacency table and the Ethernet header:
what can be sent with no state change anywhere leaves as one ``BatchTransmit`` per interface. The graph's
tables are the node's, copied by ``roles/graph_tables.py`` (adjacency on every neighbour-cache change,
routes and interfaces when ``Node.epoch`` moved). Every DROP reason is a ``drop.datapath.<reason>``
counter. What the graph leaves comes back as a list of indices with a kind, in order: tunnelled packets
whose next hop is not usable (``_transmit_tunnelled``), decapsulated packets to deliver here or to
forward per packet (``_forward_inner``), Packet Too Big and Time Exceeded to answer, then the frames for
the per-frame path. ``receive`` sends a frame the kernels would leave alone (``passes_kernels``:
signalling to the home agent's own address) straight to the per-frame path: setting up a batch costs
more than a Binding Update's processing. Packets the home agent originates for a bound home address go
through the encapsulation kernel (``tunnel_own``).

The reverse tunnel in ESP tunnel mode (RFC 3776, configured per home address by a tunnel-mode pair of
SAs; roles/protection.py): the graph never opens ESP. A protected packet (CoA -> HA, next header 50) is a
FRAME for the per-frame path, opened there (``Node.receive_protected``: SA by SPI, inner source = the
SA's home address) and comes back to ``detunnel``: the same decapsulation kernel and forwarding. An
unprotected IPv6-in-IPv6 packet whose inner source has an inbound tunnel-mode SA is marked UNPROTECTED
by the graph and dropped (``drop.esp.tunnel.unprotected``). Tunnelled packets for a home address with an
outbound tunnel-mode SA come back as TUNNEL_TX and leave one at a time under ESP
(``_transmit_tunnelled``); the rest of the batch still leaves from the graph.
"""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address

import numpy as np

from ... import _impl
from ...batch import DropReason, PacketBatch, Verdict
from ...binding_cache import BindingCache
from ...datapath import HomeAgentDataPath
from ...errors import ParseError
from ...wire import DestinationUnreachable, PacketTooBig, TimeExceeded, parse
from ...wire.ethernet import ETHERNET_HEADER_LEN
from ..batch_tx import transmit_batch
from ..events import BatchTransmit
from ..frames import gather, one_of
from ..graph_tables import GraphTables, TeeGraph
from ..interface import IPV6_MIN_MTU, LINK_LOCAL, Interface
from ..node import Node
from ..protection import tunnel_room

__all__ = ["BatchPath", "slot_size"]

_graph = _impl.load("graph")
_FRAME, _TUNNEL_TX, _INNER, _TOO_BIG, _HOP_LIMIT, _UNPROTECTED, _DECAPSULATED_LEFT = (
    _graph.SLOW_KINDS.index(k) for k in ("FRAME", "TUNNEL_TX", "INNER", "TOO_BIG", "HOP_LIMIT", "UNPROTECTED",
                                         "DECAPSULATED_LEFT"))


def slot_size(data: bytes) -> int:
    """A batch slot that holds ``data`` behind the default headroom (tunnel header included)."""
    return max(2048, len(data) + 256)


class BatchPath:
    """The data path of ``node`` (the home agent: its routes, neighbours, counters and per-packet hooks)
    over ``kernels``; ``receive_frame(now, interface, frame)`` is the node's per-frame path."""

    def __init__(self, node: Node, kernels: HomeAgentDataPath, cache: BindingCache, address: IPv6Address,
                 receive_frame: Callable[[int, str, bytes], None], adjacencies: int = 65536):
        self.node = node
        self.kernels = kernels
        self.cache = cache
        self.address = address
        self._receive_frame = receive_frame
        self._address_packed = address.packed
        # ``passes_kernels`` holds only for a global home agent address (the kernels' scope rules).
        self._own_address_passes = not (address in LINK_LOCAL or address.is_site_local)
        # The C graph of the batch path and its tables, kept in step with the node (graph_tables.py).
        self.graph = kernels.graph(adjacencies)
        self.tables = GraphTables(node, self.graph, _graph.MAX_IFACES, _graph.MAX_ROUTES, _graph.NO_DEADLINE)

    def share(self, shared) -> None:
        """Forwarding workers (mip6fast/io/workers.py) run the graph over ``shared`` (a
        mip6fast._shm.SharedTables, whose binding cache this node's cache must be): its tables are kept
        in step with the node as the node's own graph's are, from the next ``tables.refresh()``."""
        self.kernels.share(shared)
        self.tables.retarget(TeeGraph(self.graph, shared))
        self.tables.refresh()

    def passes_kernels(self, frame: bytes) -> bool:
        """Would ``run`` hand this frame, whole, to the per-frame path? True for an IPv6 packet to our
        home agent address (signalling: BUs, DHAAD, MPS) that is not IPv6-in-IPv6, whose source is not
        link- or site-local (fe80::/10, fec0::/10: the kernels' scope check), and whose destination is
        not bound: ``encapsulate`` finds no binding (PASS), ``decapsulate`` sees no tunnel (PASS), and a
        packet the fast-path test refuses is SLOW_PATH; either way the original frame goes on."""
        ip = ETHERNET_HEADER_LEN
        return (self._own_address_passes and len(frame) >= ip + 40 and frame[ip + 24:ip + 40] == self._address_packed
                and frame[ip + 6] != 41 and not (frame[ip + 8] == 0xFE and frame[ip + 9] & 0x80)
                and frame[ip + 24:ip + 40] not in self.cache)

    def run(self, now: int, interface: str, batch: PacketBatch) -> None:
        """Ethernet frames: the home agent's C graph (csrc/mip6_graph.c) classifies, tunnels, detunnels,
        drops and sends in one call; what it leaves goes through the per-packet and per-frame paths.
        The batch's columns and headers are rewritten."""
        node = self.node
        n = batch.count
        iface = node.interfaces.get(interface)
        tables = self.tables
        if iface is not None and iface.up and n:
            tables.refresh()
        if iface is None or not iface.up or n == 0 or not tables.usable:
            for i in range(n):
                o, k = int(batch.offset[i]), int(batch.length[i])
                self._receive_frame(now, interface, batch.buf[o:o + k].tobytes())
            return
        graph = self.graph
        slow = graph.run(batch, tables.index[interface], now)
        counters = node.counters
        if graph.tunnelled:
            counters["tunnelled"] += graph.tunnelled
        if graph.detunnelled_sent:
            counters["detunnelled"] += graph.detunnelled_sent
            counters["forwarded"] += graph.detunnelled_sent
        if graph.dropped:
            for r, count in graph.last_drops().items():
                counters[f"drop.datapath.{DropReason(r).name.lower()}"] += count
        for k, sent in enumerate(graph.tx()):
            if sent:
                counters["tx_frames"] += sent
                node._out.batches.append(BatchTransmit(tables.names[k], batch, graph.out[:n] == k))
        if slow:
            self._slow_path(now, interface, iface, batch, graph.slow[:slow].tolist(), graph.slow_kind[:slow].tolist())
        else:
            tables.clean()

    def _slow_path(self, now: int, interface: str, iface: Interface, batch: PacketBatch, slow: list[int],
                   kinds: list[int]) -> None:
        """What the graph left, in its order: per-packet sends and answers, then the frames."""
        routes: dict = {}
        for i, kind in zip(slow, kinds):
            o, k = int(batch.offset[i]), int(batch.length[i])
            self.slow_one(now, interface, iface, kind, int(batch.aux[i]), batch.buf[o:o + k].tobytes(), routes)

    def slow_one(self, now: int, interface: str, iface: Interface, kind: int, aux: int, data: bytes,
                 routes: dict | None = None) -> None:
        """One packet the graph left (here, or in a forwarding worker, whose queue brings it): ``kind``
        (the graph's SLOW_KINDS), ``aux`` (the MTU of TOO_BIG), ``data`` (the frame as received for
        FRAME, else the IPv6 packet the kernels made). ``routes`` caches route lookups for one batch."""
        node = self.node
        if kind == _FRAME:
            self._receive_frame(now, interface, data)
        elif kind == _TUNNEL_TX:
            self._transmit_tunnelled(now, data, routes, iface)
        elif kind == _INNER:
            node.counters["detunnelled"] += 1
            self._forward_inner(now, iface, data)
        elif kind == _TOO_BIG:
            # RFC 6275 §10.4.2 with RFC 2473 §7.1: the tunnel's MTU less its header, to the source.
            node.icmp_error(now, iface, PacketTooBig(mtu=aux, invoking=b""), data)
        elif kind == _HOP_LIMIT:
            node.icmp_error(now, iface, TimeExceeded(code=0, invoking=b""), data)
        elif kind == _UNPROTECTED:
            node.drop("esp.tunnel.unprotected")
        else:   # decapsulated, then left by the kernels: MLD, no group state kept here
            node.drop("tunnel.multicast_membership")

    def detunnel(self, now: int, iface: Interface, raw: bytes) -> None:
        """A reverse-tunnelled packet that arrived under ESP tunnel mode, opened (the IPv6-in-IPv6 packet
        inside the ESP, its SA checked against the inner source): through the same decapsulation kernel
        and forwarding as ``run``'s (§10.4.5: a binding for the inner source, whose care-of address is
        the outer source; an inner packet for another bound home address goes into that one's tunnel)."""
        batch = PacketBatch.from_packets([raw], slot_size=slot_size(raw))
        decapsulated, retunnelled = self._decapsulate(batch, 1)
        self._send(now, iface, batch, 1, np.zeros(1, dtype=bool), decapsulated, retunnelled)
        if int(batch.verdict[0]) in (Verdict.PASS, Verdict.SLOW_PATH):
            self.node.drop("tunnel.multicast_membership" if decapsulated[0] else "tunnel.slow_path")

    def _decapsulate(self, batch: PacketBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The decapsulation kernel over the PASS packets, then a second encapsulation pass for the inner
        packets addressed to another bound home address; (decapsulated, retunnelled) masks. A
        decapsulated packet ends FORWARD (or the second pass's DROP / TOO_BIG); the others keep their
        verdicts."""
        before = batch.verdict[:n].copy()
        self.kernels.decapsulate(batch)
        decapsulated = (before == Verdict.PASS) & (batch.verdict[:n] == Verdict.FORWARD)
        # An inner packet for another bound home address goes straight into that one's tunnel.
        retunnelled = np.zeros(n, dtype=bool)
        if decapsulated.any():
            keep = batch.verdict[:n].copy()
            batch.verdict[:n] = np.where(decapsulated, Verdict.PASS, Verdict.SLOW_PATH)
            batch.reason[:n][decapsulated] = DropReason.NONE
            self.kernels.encapsulate(batch)
            retunnelled = decapsulated & (batch.verdict[:n] == Verdict.FORWARD)
            # DROP / TOO_BIG of the second pass stand; what it passed is forwarded as decapsulated.
            second = batch.verdict[:n].copy()
            batch.verdict[:n] = np.where(decapsulated, np.where(second == Verdict.PASS, Verdict.FORWARD, second),
                                         keep)
        return decapsulated, retunnelled

    def _send(self, now: int, iface: Interface, batch: PacketBatch, n: int, encapsulated: np.ndarray,
              decapsulated: np.ndarray, retunnelled: np.ndarray) -> None:
        """What the kernels decided, done: drops counted, tunnelled packets out as whole batches (those
        of a home address whose tunnel is under ESP, or whose next hop is not resolved, one at a time),
        decapsulated packets forwarded, Packet Too Big and Time Exceeded sent."""
        node = self.node
        verdict = batch.verdict[:n]
        reason = batch.reason[:n]
        counters = node.counters
        for r, count in zip(*np.unique(reason[verdict == Verdict.DROP], return_counts=True)):
            counters[f"drop.datapath.{DropReason(int(r)).name.lower()}"] += int(count)

        # The tunnelled packets leave as whole batches (roles/batch_tx.py); only those whose next hop
        # is not resolved (or that need any other per-packet care) take the per-packet path below.
        tunnel = (verdict == Verdict.FORWARD) & (encapsulated | retunnelled)
        counters["tunnelled"] += int(np.count_nonzero(tunnel))
        protected = self._protected_tunnels(batch, tunnel)
        if protected is None:
            tunnel_left = transmit_batch(node, now, batch, tunnel)
        else:
            tunnel_left = transmit_batch(node, now, batch, tunnel & ~protected) | protected
        routes: dict = {}
        for i in np.flatnonzero((verdict != Verdict.SLOW_PATH) & ~(tunnel & ~tunnel_left)).tolist():
            v = int(verdict[i])
            if v == Verdict.PASS:
                continue
            if v == Verdict.FORWARD:
                raw = batch.packet(i)
                if encapsulated[i] or retunnelled[i]:
                    self._transmit_tunnelled(now, raw, routes, iface)
                else:
                    counters["detunnelled"] += 1
                    self._forward_inner(now, iface, raw)
            elif v == Verdict.TOO_BIG:
                # RFC 6275 §10.4.2 with RFC 2473 §7.1: the tunnel's MTU less its header, to the source.
                node.icmp_error(now, iface, PacketTooBig(mtu=int(batch.aux[i]), invoking=b""), batch.packet(i))
            elif v == Verdict.DROP and int(reason[i]) == DropReason.HOP_LIMIT:
                node.icmp_error(now, iface, TimeExceeded(code=0, invoking=b""), batch.packet(i))

    def _protected_tunnels(self, batch: PacketBatch, tunnel: np.ndarray) -> np.ndarray | None:
        """Which of the tunnelled packets ``tunnel`` are for a home address with an outbound tunnel-mode
        SA (their inner destination): they leave one at a time, under ESP (``_transmit_tunnelled``).
        None when there are none (no such SA: one call)."""
        homes = self.node.protection.tunnel_protected()
        if not homes:
            return None
        idx = np.flatnonzero(tunnel)
        if not idx.size:
            return None
        inner_dst = gather(batch, batch.offset[idx].astype(np.int64) + 64, 16)
        found = one_of(inner_dst, homes)
        if not found.any():
            return None
        protected = np.zeros(tunnel.shape[0], dtype=bool)
        protected[idx[found]] = True
        return protected

    def tunnel_own(self, now: int, raw: bytes) -> bool:
        """§10.4.2: a packet this node originates for a bound home address (an echo reply, an ICMP
        error) goes through the tunnel like forwarded ones, through the same kernel. False when it is
        not for a bound home address, or the kernel passes it: the node routes it as usual."""
        if not (len(raw) >= 40 and raw[0] >> 4 == 6 and raw[24:40] in self.cache):
            return False
        batch = PacketBatch.from_packets([raw], slot_size=slot_size(raw))
        self.kernels.encapsulate(batch)
        verdict = int(batch.verdict[0])
        if verdict == Verdict.FORWARD:
            self.node.counters["tunnelled_own"] += 1
            self._transmit_tunnelled(now, batch.packet(0))
        elif verdict == Verdict.TOO_BIG:
            self.node.drop("tunnel.own_packet_too_big")
        elif verdict == Verdict.DROP:
            self.node.drop(f"datapath.{DropReason(int(batch.reason[0])).name.lower()}")
        else:
            return False
        return True

    def _transmit_tunnelled(self, now: int, raw: bytes, routes: dict | None = None,
                            iface: Interface | None = None) -> None:
        """An outer packet the kernel built; it is this node's own packet (source = the home agent).
        ``routes`` caches lookups per care-of address for the length of one batch. For a home address
        with an outbound tunnel-mode SA (the inner destination) it leaves under ESP (RFC 3776), or, too
        big once protected, is answered with Packet Too Big to the inner source (from ``iface``, where
        it came in; none for the agent's own packets)."""
        key = raw[24:40]
        if routes is not None and key in routes:
            route = routes[key]
        else:
            route = self.node.lookup(IPv6Address(key))
            if routes is not None:
                routes[key] = route
        dst = IPv6Address(key)
        if route is None:
            self.node.drop("tunnel.no_route")
            return
        protection = self.node.protection
        sas = protection.tunnel_outbound()
        if sas:
            sa = sas.get(raw[64:80])
            if sa is not None:
                room = tunnel_room(sa, self.node.interfaces[route.interface].mtu)
                if len(raw) - 40 > room:
                    self.node.drop("esp.tunnel.out.too_big")
                    if iface is not None:
                        self.node.icmp_error(now, iface, PacketTooBig(mtu=max(room, IPV6_MIN_MTU), invoking=b""),
                                             raw[40:])
                    return
                protected = protection.protect_tunnel(raw, sa)
                if protected is None:
                    return
                raw = protected
        self.node.transmit_packet(now, route.interface, route.next_hop or dst, raw)

    def _forward_inner(self, now: int, iface: Interface, raw: bytes) -> None:
        """A decapsulated packet, forwarded as a router (the kernel already decremented its hop limit),
        or delivered here when it is for one of our own addresses."""
        node = self.node
        dst = IPv6Address(raw[24:40])
        if node.is_own_address(dst):
            try:
                packet = parse(raw)
            except ParseError as exc:
                node.parse_failed(now, iface, raw, exc)
                return
            node.local_packet(now, iface, raw, packet, b"")
            return
        route = node.lookup(dst)
        if route is None:
            node.icmp_error(now, iface, DestinationUnreachable(code=0, invoking=b""), raw)
            node.drop("no_route")
            return
        out = node.interfaces[route.interface]
        if len(raw) > out.mtu:
            node.icmp_error(now, iface, PacketTooBig(mtu=out.mtu, invoking=b""), raw)
            node.drop("packet_too_big")
            return
        node.counters["forwarded"] += 1
        node.transmit_packet(now, route.interface, route.next_hop or dst, raw)
