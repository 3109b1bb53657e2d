"""Batch transmit: IPv6 packets a data-path kernel left in a batch go out as whole batches, one per
output interface, with their Ethernet headers written into the slots' headroom by numpy.

Per packet, ``Node.output_packet`` does a route lookup, neighbour discovery and builds a ``Transmit``
of fresh bytes: tens of microseconds of Python. For the home agent's forwarding path (RFC 6275
§10.4.2) that would be per-packet Python on the data path, so ``transmit_batch`` does the same work
once per batch:

- the route of every packet by a longest-prefix match over the node's route table in numpy (the
  same table and tie-break as ``Node.lookup``: the first of the longest prefixes wins);
- the next hop's link-layer address from the neighbour cache, looked up once per distinct next hop.
  Only an entry that may be used without any state change takes the batch path: REACHABLE within its
  ReachableTime, DELAY or PROBE (RFC 4861 §7.3.3: packets go to the cached address in those states).
  Everything else — no entry, INCOMPLETE, STALE (its first packet starts NUD's DELAY step), a proxied
  address, a link-scope destination, a packet over the interface MTU, a down interface, a slot with no
  headroom for the header — is left to the per-packet path, which queues, resolves, counts and drops
  exactly as for any other packet;
- the 14-byte Ethernet header (RFC 2464 §3: destination, source, EtherType 0x86DD) written in front of
  every selected packet in one fancy-indexed assignment, ``offset``/``length`` moved to cover it.

The result is one ``BatchTransmit(interface, batch, mask)`` per interface in the node's current
``Output``; the driver sends it with one ring call (``PacketRing.send``).
"""
from __future__ import annotations

from ipaddress import IPv6Address

import numpy as np

from ..batch import PacketBatch
from ..wire.ethernet import ETHERNET_HEADER_LEN, ETHERTYPE_IPV6
from .events import BatchTransmit
from .interface import LINK_LOCAL
from .neighbor import NeighborState
from .node import Node

__all__ = ["transmit_batch"]

_ETHERTYPE = np.frombuffer(ETHERTYPE_IPV6.to_bytes(2, "big"), dtype=np.uint8)
_HEADER_COLUMNS = np.arange(ETHERNET_HEADER_LEN, dtype=np.int64)
_MASK64 = (1 << 64) - 1


def _halves(address: int) -> tuple[int, int]:
    return address >> 64, address & _MASK64


def _uniform(batch: PacketBatch, idx: np.ndarray, start: np.ndarray) -> int | None:
    """The in-slot position shared by every packet of ``idx`` (a kernel run over a ring's batch leaves
    them all at one place), or None: then a slot view replaces fancy indexing."""
    within = start - idx.astype(np.int64) * batch.slot_size
    first = int(within[0])
    return first if (within == first).all() else None


def _columns(batch: PacketBatch, idx: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """Bytes ``start .. start + width`` of packets ``idx``: a view of the slots when they line up."""
    at = _uniform(batch, idx, start)
    if at is not None and at + width <= batch.slot_size:
        return batch.buf.reshape(batch.capacity, batch.slot_size)[idx, at:at + width]
    return batch.buf[start[:, None] + np.arange(width, dtype=np.int64)[None, :]]


def _destinations(batch: PacketBatch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The IPv6 destination of packets ``idx`` as two big-endian uint64 columns (high, low)."""
    start = batch.offset[idx].astype(np.int64) + 24
    raw = _columns(batch, idx, start, 16)
    both = np.ascontiguousarray(raw).view(">u8").astype(np.uint64)
    return both[:, 0], both[:, 1]


_compiled: dict = {}


def _compile(routes: tuple) -> tuple[np.ndarray, ...]:
    """The routes as columns (mask and network, high and low halves; a score that ranks a longer
    prefix first and, among equal ones, the earlier route), cached by the route tuple."""
    table = _compiled.get(routes)
    if table is None:
        r = len(routes)
        cols = np.zeros((5, r), dtype=np.uint64)
        for k, route in enumerate(routes):
            plen = route.network.prefixlen
            mask = ((1 << plen) - 1) << (128 - plen) if plen else 0
            cols[0, k], cols[1, k] = _halves(mask)
            cols[2, k], cols[3, k] = _halves(int(route.network.network_address))
            cols[4, k] = plen * 4096 + (4095 - k)
        table = tuple(cols)
        if len(_compiled) > 64:     # routes change rarely; keep the cache small anyway
            _compiled.clear()
        _compiled[routes] = table
    return table


def _longest_prefix_match(routes: tuple, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """For each destination the index of its route in ``routes`` (-1: none), as ``Node.lookup``."""
    if not routes:
        return np.full(hi.size, -1, dtype=np.int64)
    mhi, mlo, nhi, nlo, score = _compile(routes)
    match = ((hi[:, None] & mhi[None, :]) == nhi[None, :]) & ((lo[:, None] & mlo[None, :]) == nlo[None, :])
    ranked = np.where(match, score[None, :].astype(np.int64), -1)
    best = ranked.argmax(axis=1)
    best[ranked[np.arange(hi.size), best] < 0] = -1
    return best


def _usable_mac(node: Node, interface: str, next_hop: IPv6Address, now: int) -> bytes | None:
    """The next hop's MAC when a packet may be sent to it with no neighbour-cache state change."""
    nd = node.nd[interface]
    if next_hop in nd.proxies:
        return None
    entry = nd.neighbors.get(next_hop)
    if entry is None or entry.mac is None:
        return None
    if entry.state is NeighborState.REACHABLE:
        return entry.mac if now < entry.reachable_until else None
    if entry.state in (NeighborState.DELAY, NeighborState.PROBE):
        return entry.mac
    return None


def transmit_batch(node: Node, now: int, batch: PacketBatch, which: np.ndarray) -> np.ndarray:
    """Send the IPv6 packets ``which`` (a bool mask over the first ``len(which)`` packets; each packet
    starts at its ``offset``) as batch transmits; returns the mask of those left to the caller for the
    per-packet path (``Node.transmit_packet`` after its own lookup)."""
    left = np.array(which, dtype=bool, copy=True)
    idx = np.flatnonzero(left)
    if idx.size == 0:
        return left
    hi, lo = _destinations(batch, idx)
    # Longest-prefix match over the same routes as Node.lookup, in its order (first longest wins).
    routes = tuple(r for r in node.candidate_routes() if node.interfaces[r.interface].up)
    best = _longest_prefix_match(routes, hi, lo)
    # Link-scope destinations (fe80::/10, multicast) have their own rules in Node.lookup.
    ll_hi, _ = _halves(int(LINK_LOCAL.network_address))
    link_scope = ((hi & np.uint64(0xFFC0 << 48)) == np.uint64(ll_hi)) | ((hi >> np.uint64(56)) == 0xFF)
    length = batch.length[idx].astype(np.int64)
    start = batch.offset[idx].astype(np.int64)
    room = start - np.arange(batch.capacity, dtype=np.int64)[idx] * batch.slot_size
    eligible = (best >= 0) & ~link_scope & (room >= ETHERNET_HEADER_LEN)
    chosen = np.zeros(idx.size, dtype=bool)
    by_interface: dict[str, np.ndarray] = {}
    at = _uniform(batch, idx, start)
    slots = batch.buf.reshape(batch.capacity, batch.slot_size)
    for k in np.unique(best[eligible]).tolist():
        route = routes[k]
        iface = node.interfaces[route.interface]
        in_route = eligible & (best == k) & (length <= iface.mtu)
        if route.next_hop is not None:
            groups = [(route.next_hop, in_route)]
        else:   # on-link: the destination is the next hop
            pairs = np.stack([hi[in_route], lo[in_route]], axis=1)
            groups = []
            for h, low in np.unique(pairs, axis=0).tolist():
                groups.append((IPv6Address((h << 64) | low), in_route & (hi == np.uint64(h)) & (lo == np.uint64(low))))
        for next_hop, members in groups:
            mac = _usable_mac(node, route.interface, next_hop, now)
            if mac is None or not members.any():
                continue
            # One header for the group (dst MAC, the interface's MAC, EtherType), written into the
            # headroom of all its packets at once.
            header = np.frombuffer(mac + iface.mac, dtype=np.uint8)
            header = np.concatenate([header, _ETHERTYPE])
            if at is not None:
                slots[idx[members], at - ETHERNET_HEADER_LEN:at] = header
            else:
                batch.buf[(start[members] - ETHERNET_HEADER_LEN)[:, None] + _HEADER_COLUMNS[None, :]] = header
            chosen |= members
            if route.interface in by_interface:
                by_interface[route.interface] |= members
            else:
                by_interface[route.interface] = members
    if not chosen.any():
        return left
    sel = np.flatnonzero(chosen)
    rows = idx[sel]
    batch.offset[rows] = (start[sel] - ETHERNET_HEADER_LEN).astype(np.uint32)
    batch.length[rows] = (length[sel] + ETHERNET_HEADER_LEN).astype(np.uint32)
    n = len(which)
    for name, members in by_interface.items():
        mask = np.zeros(n, dtype=bool)
        mask[idx[members]] = True
        node.counters["tx_frames"] += int(np.count_nonzero(members))
        node._out.batches.append(BatchTransmit(name, batch, mask))
    left[rows] = False
    return left
