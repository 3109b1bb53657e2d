"""The home agent's data path (RFC 6275 §10.4.2-10.4.5): received batches through the tunnelling
kernels of ``mip6fast.datapath.HomeAgentDataPath``, and what they decide sent on.

Theory of operation
-------------------
``BatchPath.run`` classifies a batch of Ethernet frames once (``roles/frames.py``), keeps neighbour
discovery (the home agent answers it itself for proxied addresses, §10.4.1) and link-local traffic
(never tunnelled, §10.4.2) on the slow path, and runs the kernels over the rest:

- ``encapsulate``: packets for a bound home address into the tunnel to its care-of address (§10.4.2,
  RFC 2473; the inner hop limit is decremented, too-big packets get Packet Too Big with the tunnel's MTU
  less its header);
- ``decapsulate``: the mobile nodes' reverse tunnels (§10.4.5), only for packets addressed to the home
  agent, and only when the outer source is the inner source's registered care-of address; an inner
  packet for another bound home address goes straight into that one's tunnel (a second pass).

Tunnelled packets leave as whole batches (``roles/batch_tx.py``) when their next hop is resolved; the
rest, decapsulated packets (forwarded as a router would, or delivered here) and the kernels' errors take
the per-packet path; every DROP reason is a ``drop.datapath.<reason>`` counter. What the kernels leave
(PASS / SLOW_PATH) goes to the node's per-frame path, in the order received. ``receive`` sends a frame
the kernels would leave alone (``passes_kernels``: signalling to the home agent's own address) straight
to the per-frame path: the numpy set-up of a batch costs more than a Binding Update's processing.
Packets the home agent originates for a bound home address go through the same kernel (``tunnel_own``).
"""
from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address

import numpy as np

from ...batch import DropReason, PacketBatch, Verdict
from ...binding_cache import BindingCache
from ...datapath import HomeAgentDataPath
from ...errors import ParseError
from ...wire import DestinationUnreachable, PacketTooBig, TimeExceeded, parse
from ...wire.ethernet import ETHERNET_HEADER_LEN
from ..batch_tx import transmit_batch
from ..frames import classify
from ..interface import LINK_LOCAL, Interface
from ..node import Node

__all__ = ["BatchPath", "slot_size"]

_ND_TYPES = (133, 134, 135, 136, 137)


def slot_size(data: bytes) -> int:
    """A batch slot that holds ``data`` behind the default headroom (tunnel header included)."""
    return max(2048, len(data) + 256)


class BatchPath:
    """The data path of ``node`` (the home agent: its routes, neighbours, counters and per-packet hooks)
    over ``kernels``; ``receive_frame(now, interface, frame)`` is the node's per-frame path."""

    def __init__(self, node: Node, kernels: HomeAgentDataPath, cache: BindingCache, address: IPv6Address,
                 receive_frame: Callable[[int, str, bytes], None]):
        self.node = node
        self.kernels = kernels
        self.cache = cache
        self.address = address
        self._receive_frame = receive_frame
        self._address_packed = address.packed
        # ``passes_kernels`` holds only for a global home agent address (the kernels' scope rules).
        self._own_address_passes = not (address in LINK_LOCAL or address.is_site_local)

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
        """Ethernet frames: the C kernels tunnel, detunnel and drop in one pass each; what they leave
        goes through the per-frame path. The batch's columns and headers are rewritten."""
        node = self.node
        n = batch.count
        iface = node.interfaces.get(interface)
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
        to_us = frames.dst_is(self._address_packed) & fast

        # §10.4.2: packets for a bound home address into the tunnel to its care-of address.
        self.kernels.encapsulate(batch)
        encapsulated = batch.verdict[:n] == Verdict.FORWARD
        # §10.4.5: reverse-tunnelled packets, only those addressed to the home agent.
        held = (batch.verdict[:n] == Verdict.PASS) & ~to_us
        batch.verdict[:n][held] = Verdict.SLOW_PATH
        before = batch.verdict[:n].copy()
        self.kernels.decapsulate(batch)
        decapsulated = (before == Verdict.PASS) & (batch.verdict[:n] == Verdict.FORWARD)
        batch.verdict[:n][held] = Verdict.PASS
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
        verdict = batch.verdict[:n]
        reason = batch.reason[:n]
        counters = node.counters
        for r, count in zip(*np.unique(reason[verdict == Verdict.DROP], return_counts=True)):
            counters[f"drop.datapath.{DropReason(int(r)).name.lower()}"] += int(count)

        # The tunnelled packets leave as whole batches (roles/batch_tx.py); only those whose next hop
        # is not resolved (or that need any other per-packet care) take the per-packet path below.
        tunnel = (verdict == Verdict.FORWARD) & (encapsulated | retunnelled)
        counters["tunnelled"] += int(np.count_nonzero(tunnel))
        tunnel_left = transmit_batch(node, now, batch, tunnel)
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
                    counters["detunnelled"] += 1
                    self._forward_inner(now, iface, raw)
            elif v == Verdict.TOO_BIG:
                # RFC 6275 §10.4.2 with RFC 2473 §7.1: the tunnel's MTU less its header, to the source.
                node.icmp_error(now, iface, PacketTooBig(mtu=int(batch.aux[i]), invoking=b""), batch.packet(i))
            elif v == Verdict.DROP and int(reason[i]) == DropReason.HOP_LIMIT:
                node.icmp_error(now, iface, TimeExceeded(code=0, invoking=b""), batch.packet(i))
        slow = np.flatnonzero((verdict == Verdict.PASS) | (verdict == Verdict.SLOW_PATH)).tolist()
        for i in slow:
            if decapsulated[i]:
                node.drop("tunnel.multicast_membership")   # MLD out of a tunnel: no group state kept here
                continue
            self._receive_frame(now, interface, frames.frame(batch, i))

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

    def _transmit_tunnelled(self, now: int, raw: bytes, routes: dict | None = None) -> None:
        """An outer packet the kernel built; it is this node's own packet (source = the home agent).
        ``routes`` caches lookups per care-of address for the length of one batch."""
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
