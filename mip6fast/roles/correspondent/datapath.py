"""The correspondent node's data path (RFC 6275 §9.3): every received frame through the Home Address
option kernel, every originated packet through the Type 2 routing header kernel
(``mip6fast.datapath.CorrespondentDataPath``), a batch at a time.

Theory of operation
-------------------
Inbound (§9.3.1): ``BatchPath.run`` classifies a batch of frames once (``roles/frames.py``; multicast
and broadcast MACs included, a host's group traffic), steps over the Ethernet headers of the IPv6 ones
and runs ``process_hao`` over them in one call. A Home Address option with a binding for that home
address and care-of address is swapped into the source (FORWARD: the packet goes on with the home
address as its source, its ICMPv6 checksum verified against that, §6.3); one without is handed to
``hao_without_binding`` (Binding Error status 1); a Mobility Header is left for the signalling path (a
Binding Update carries a HAO before any binding exists). ``receive`` wraps a single frame in a batch:
the kernel is the only place a Home Address option is checked. Everything is copied out of the batch
before anything is acted on: a delivery may make an application send (re-entrancy).

Outbound (§9.3.2, §6.4): ``output`` (one packet) and ``output_batch`` (an application's batch) insert a
Type 2 routing header into every packet for a bound home address, which then leaves for the care-of
address; a packet too big for the header is dropped and counted.

Both directions run as one C call per batch (csrc/mip6_graph_roles.c, issue 17; tables kept in step
by roles/graph_tables.py): inbound, ethernet-input and ``process_hao`` (``_receive_graph``; what to
do with each packet stays per packet, above); outbound, ``insert_rh2``, route lookup, adjacency and
the Ethernet header (``_send_graph``): frames out, and only what the graph could not send (own or
link-scope destination, no route, too big, next hop not usable) routed one at a time, in order.
"""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address

import numpy as np

from ... import _impl
from ...batch import DropReason, PacketBatch, Verdict
from ...binding_cache import BindingCache
from ...datapath import CorrespondentDataPath
from ...errors import ParseError
from ...wire import parse
from ...wire.ethernet import ETHERNET_HEADER_LEN
from ..events import Transmit
from ..frames import classify
from ..graph_tables import GraphTables
from ..interface import Interface
from ..node import Node
from .packets import NH_ICMPV6, walk

__all__ = ["BatchPath"]

_CHECKSUM = _impl.load("checksum")
_graph = _impl.load("graph")
_NO_IF = _graph.NO_IF
_FRAME, _SEND, _TOO_BIG = (_graph.SLOW_KINDS.index(k) for k in ("FRAME", "SEND", "TOO_BIG"))


class BatchPath:
    """The data path of ``node`` (its interfaces, counters and per-packet hooks) over ``kernels``.
    ``receive_frame(now, interface, frame)``: the node's per-frame path; ``hao_without_binding(now,
    iface, raw, hao_offset, reason)``: a packet whose Home Address option has no binding;
    ``route_out(now, raw, zone)``: route a packet as a plain IPv6 node (after the kernel)."""

    def __init__(self, node: Node, kernels: CorrespondentDataPath, cache: BindingCache,
                 receive_frame: Callable[[int, str, bytes], None],
                 hao_without_binding: Callable[[int, Interface, bytes, int, DropReason], None],
                 route_out: Callable[[int, bytes, str | None], None], adjacencies: int = 1024):
        self.node = node
        self.kernels = kernels
        self.cache = cache
        self._receive_frame = receive_frame
        self._hao_without_binding = hao_without_binding
        self._route_out = route_out
        self._tx = PacketBatch(1, slot_size=self.slot_size(), headroom=128)
        # The C graphs of both directions and their tables, kept in step with the node (graph_tables.py).
        self.graph = kernels.graph(adjacencies)
        self.tables = GraphTables(node, self.graph, _graph.MAX_IFACES, _graph.MAX_ROUTES, _graph.NO_DEADLINE)

    def slot_size(self) -> int:
        mtu = max((i.mtu for i in self.node.interfaces.values()), default=1500)
        return max(2048, 128 + 14 + mtu + 64)

    # ------------------------------------------------------------ inbound: Home Address options (§9.3.1)

    def receive(self, now: int, interface: str, frame: bytes) -> None:
        """One frame, in a batch of its own."""
        batch = PacketBatch(1, slot_size=max(self.slot_size(), len(frame) + 256), headroom=128)
        batch.append(frame)
        self.run(now, interface, batch)

    def run(self, now: int, interface: str, batch: PacketBatch) -> None:
        """Step over the Ethernet headers of the IPv6 frames addressed to this interface (vectorised),
        run ``process_hao`` over them in one call (§9.3.1), then act on each verdict."""
        node = self.node
        n = batch.count
        iface = node.interfaces.get(interface)
        if iface is None or not iface.up:
            node.counters["drop.unknown_interface" if iface is None else "drop.interface_down"] += n
            return
        if n == 0:
            return
        tables = self.tables
        tables.refresh_links()
        if tables.usable and interface in tables.index:
            items = self._receive_graph(batch, tables.index[interface], now)
        else:
            items = self._receive_numpy(batch, iface)
        for header, data, v, r, a in items:
            if header is None:
                self._receive_frame(now, interface, data)
                continue
            dst_mac, src_mac = header[0:6], header[6:12]
            if not node.accept_mac(iface, dst_mac, src_mac):
                continue
            node.counters["rx_frames"] += 1
            if v == Verdict.FORWARD:
                node.counters["hao.swapped"] += 1
                self._swapped_packet(now, iface, data, src_mac)
            elif v in (Verdict.PASS, Verdict.SLOW_PATH):
                node.receive_ipv6(now, iface, data, src_mac)
            elif v == Verdict.BINDING_ERROR:
                self._hao_without_binding(now, iface, data, a, DropReason(r))
            else:
                node.drop(f"datapath.{DropReason(r).name.lower()}")

    def _receive_graph(self, batch: PacketBatch, rx: int, now: int) -> list[tuple]:
        """ethernet-input and ``process_hao`` as one C call (csrc/mip6_graph_roles.c,
        mip6_graph_cn_receive); every frame copied out with what the kernel decided."""
        n = batch.count
        self.graph.receive(batch, rx, now)
        kinds = self.graph.slow_kind[:n].tolist()
        verdict, reason, aux = batch.verdict[:n].tolist(), batch.reason[:n].tolist(), batch.aux[:n].tolist()
        offset, buf = batch.offset[:n].tolist(), batch.buf
        items: list[tuple] = []
        for i in range(n):
            if kinds[i] == _FRAME:
                items.append((None, batch.packet(i), None, 0, 0))
            else:
                o = offset[i]
                items.append((buf[o - ETHERNET_HEADER_LEN:o].tobytes(), batch.packet(i), verdict[i], reason[i], aux[i]))
        return items

    def _receive_numpy(self, batch: PacketBatch, iface: Interface) -> list[tuple]:
        """The same as ``_receive_graph`` with the shared classifier and the kernel (a node with more
        interfaces than a graph holds)."""
        n = batch.count
        frames = classify(batch, iface, multicast=True)
        cand = frames.ipv6
        eth = frames.head[:, :ETHERNET_HEADER_LEN].copy()
        frames.strip(batch, cand)
        batch.verdict[:n] = np.where(cand, Verdict.PASS, Verdict.SLOW_PATH)
        batch.reason[:n] = DropReason.NONE
        self.kernels.process_hao(batch)
        # Copy everything out before acting: a delivery may make an application send (re-entrancy).
        items: list[tuple] = []
        verdict, reason, aux = batch.verdict[:n].tolist(), batch.reason[:n].tolist(), batch.aux[:n].tolist()
        cand_list = cand.tolist()
        for i in range(n):
            if not cand_list[i]:
                items.append((None, batch.packet(i), None, 0, 0))
            else:
                items.append((eth[i].tobytes(), batch.packet(i), verdict[i], reason[i], aux[i]))
        return items

    def _swapped_packet(self, now: int, iface: Interface, raw: bytes, src_mac: bytes) -> None:
        """A packet ``process_hao`` swapped (source = home address, the option now holds the care-of
        address). The ICMPv6 checksum is verified with the home address as the pseudo-header source
        (§6.3), which is now the IPv6 source."""
        try:
            packet = parse(raw, verify_checksums=False)
        except ParseError as exc:
            self.node.drop(f"parse.{exc.field}")
            return
        nh, _, upper, _ = walk(raw)
        if nh == NH_ICMPV6:
            dst: IPv6Address = packet.rh2 if packet.rh2 is not None else packet.dst
            if _CHECKSUM.pseudo_checksum(packet.src.packed, dst.packed, nh, raw[upper:]) != 0:
                self.node.drop("parse.checksum")
                return
        self.node.receive_packet(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ outbound: Type 2 routing headers (§9.3.2)

    def output(self, now: int, raw: bytes, zone: str | None) -> None:
        """A packet this node originates: to a bound home address it leaves for the care-of address with
        a Type 2 routing header, inserted by the C kernel (§9.3.2, §6.4)."""
        if not self.cache or len(raw) + 128 + 24 > self._tx.slot_size:
            self._route_out(now, raw, zone)
            return
        batch = self._tx
        batch.clear()
        batch.append(raw)
        if self._send_graph(now, batch, zone):
            return
        self.kernels.insert_rh2(batch)
        self._sent(now, int(batch.verdict[0]), int(batch.reason[0]), batch.packet(0), zone)

    def output_batch(self, now: int, packets: list[bytes]) -> None:
        """Several packets this node originates (already parsed), one ``insert_rh2`` call for all."""
        if not self.cache:
            for raw in packets:
                self._route_out(now, bytes(raw), None)
            return
        batch = PacketBatch(max(1, len(packets)), slot_size=self.slot_size(), headroom=128)
        for raw in packets:
            batch.append(raw)
        if self._send_graph(now, batch, None):
            return
        self.kernels.insert_rh2(batch)
        verdict, reason = batch.verdict[:len(packets)].tolist(), batch.reason[:len(packets)].tolist()
        items = [(verdict[i], reason[i], batch.packet(i)) for i in range(len(packets))]
        for v, r, data in items:
            self._sent(now, v, r, data, None)

    def _send_graph(self, now: int, batch: PacketBatch, zone: str | None) -> bool:
        """The RH2 kernel, route lookup, adjacency and Ethernet header as one C call
        (csrc/mip6_graph_roles.c, mip6_graph_cn_send); then, in index order as ``_sent`` would, the
        packets it could not send routed one at a time, drops counted. False: no graph (too many
        interfaces), the caller runs the kernel itself."""
        tables, graph, node = self.tables, self.graph, self.node
        tables.refresh()
        if not tables.usable:
            return False
        n = batch.count
        epoch = node.epoch
        slow = graph.send(batch, now)
        out, tx = graph.out[:n].copy(), graph.tx()
        entries = list(zip(graph.slow[:slow].tolist(), graph.slow_kind[:slow].tolist()))
        inserted, drops = graph.inserted, graph.last_drops()
        counters = node.counters
        if inserted:
            counters["rh2.inserted"] += inserted
        # Copied out before acting (routing a packet may make the node send: re-entrancy, and the
        # one-packet batch is reused).
        if any(kind == _SEND for _, kind in entries):
            verdict = batch.verdict[:n].tolist()
            items = [(int(out[i]), batch.packet(i)) for i in range(n) if verdict[i] in (Verdict.FORWARD, Verdict.PASS)]
            for k, data in items:
                if k != _NO_IF:
                    counters["tx_frames"] += 1
                    node._out.transmits.append(Transmit(tables.names[k], data))
                else:
                    self._route_out(now, data, zone)
        elif sum(tx):
            tables.emit(batch, out, tx)
        for r, count in drops.items():
            counters[f"drop.datapath.{DropReason(r).name.lower()}"] += count
        too_big = sum(1 for _, kind in entries if kind == _TOO_BIG)
        if too_big:
            counters["drop.rh2.send_too_big"] += too_big
        if not entries and node.epoch == epoch:
            tables.clean()
        return True

    def _sent(self, now: int, verdict: int, reason: int, data: bytes, zone: str | None) -> None:
        """What the RH2 kernel decided for one packet: routed (with or without the header), or dropped."""
        if verdict in (Verdict.FORWARD, Verdict.PASS):
            if verdict == Verdict.FORWARD:
                self.node.counters["rh2.inserted"] += 1
            self._route_out(now, data, zone)
        elif verdict == Verdict.TOO_BIG:
            self.node.drop("rh2.send_too_big")
        else:
            self.node.drop(f"datapath.{DropReason(reason).name.lower()}")
