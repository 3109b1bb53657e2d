"""The one Ethernet/IPv6 classifier of the batch paths: which frames of a received batch are whole IPv6
packets for this interface, with their headers gathered into columns, for every role.

Theory of operation
-------------------
A role's ``receive_batch`` calls ``classify(batch, iface)`` once. It reads the first ``HEAD`` bytes of
every frame (Ethernet header, IPv6 header and the first byte after it) into one numpy array, and marks
``ipv6`` the frames that are:

- addressed to the interface's MAC, or with ``multicast=True`` also to broadcast or a 33:33 group MAC
  (RFC 2464 §7; which groups are joined is the per-frame path's business);
- Ethernet II with EtherType 0x86DD and an IPv6 header of version 6 (RFC 2464 §3, RFC 8200 §3);
- whole: a non-zero Payload Length (zero is a jumbogram, RFC 2675, never on Ethernet) whose packet fits
  in the frame. Ethernet pads short frames, so the Payload Length, not the frame, says where the packet
  ends (RFC 8200 §3).

``strip(batch, which)`` makes the selected slots the IPv6 packets (Ethernet header stepped over,
padding cut off); ``restore(batch, which)`` puts the frames back for the per-frame path. Each role adds
its own selection on top (the home agent keeps neighbour discovery and link-local traffic on the slow
path, the mobile node takes only tunnels and routing headers): the columns here are what they select on.
Frames not ``ipv6`` go to the per-frame path, which counts whatever it drops.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..batch import PacketBatch
from ..wire.ethernet import ETHERNET_HEADER_LEN, ETHERTYPE_IPV6
from .interface import Interface

__all__ = ["HEAD", "IPV6_HEADER_LEN", "FrameColumns", "classify", "gather", "one_of"]

IPV6_HEADER_LEN = 40
# Ethernet (14) + IPv6 (40) + the first byte of what follows (an ICMPv6 type, a routing header's next
# header): what any role's selection looks at.
HEAD = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + 1
_IP = ETHERNET_HEADER_LEN


def gather(batch: PacketBatch, start: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes from each of ``start`` (offsets into the slab), one row per packet. Frames the
    driver placed at the same place in every slot (a ring does) come as a view of the slots, without a
    copy; reads past the slab's end are clamped (the rows of such short frames are not ``ipv6``)."""
    n = start.shape[0]
    first = int(start[0]) if n else 0
    if (n and first + width <= batch.slot_size
            and (start == first + np.arange(n, dtype=np.int64) * batch.slot_size).all()):
        return batch.buf.reshape(batch.capacity, batch.slot_size)[:n, first:first + width]
    idx = start[:, None] + np.arange(width, dtype=np.int64)[None, :]
    np.minimum(idx, batch.buf.shape[0] - 1, out=idx)
    return batch.buf[idx]


@lru_cache(maxsize=16)
def _address_rows(addresses: frozenset[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(sorted(addresses)), dtype=np.uint8).reshape(-1, 16)


def one_of(rows: np.ndarray, addresses: frozenset[bytes]) -> np.ndarray:
    """Per row of ``rows`` (n x 16 bytes, as ``gather`` reads addresses): is it one of ``addresses``
    (16 packed bytes each)? The set's table is made once."""
    if not addresses:
        return np.zeros(rows.shape[0], dtype=bool)
    return (rows[:, None, :] == _address_rows(addresses)[None, :, :]).all(axis=2).any(axis=1)


class FrameColumns:
    """The classification of one batch's first ``n`` frames: ``offset``/``length`` (the frames as
    received, int64), ``head`` (``n`` × ``HEAD`` bytes), ``payload_length`` and the ``ipv6`` mask."""
    __slots__ = ("head", "ipv6", "length", "n", "offset", "payload_length")

    def __init__(self, n: int, offset: np.ndarray, length: np.ndarray, head: np.ndarray,
                 payload_length: np.ndarray, ipv6: np.ndarray):
        self.n = n
        self.offset = offset
        self.length = length
        self.head = head
        self.payload_length = payload_length
        self.ipv6 = ipv6

    @property
    def next_header(self) -> np.ndarray:
        """The IPv6 header's Next Header."""
        return self.head[:, _IP + 6]

    @property
    def after_header(self) -> np.ndarray:
        """The first byte after the IPv6 header (an ICMPv6 type, an extension header's next header)."""
        return self.head[:, _IP + IPV6_HEADER_LEN]

    @property
    def src(self) -> np.ndarray:
        return self.head[:, _IP + 8:_IP + 24]

    @property
    def dst(self) -> np.ndarray:
        return self.head[:, _IP + 24:_IP + 40]

    def link_local_src(self) -> np.ndarray:
        """fe80::/10 sources (RFC 4291 §2.5.6)."""
        return (self.head[:, _IP + 8] == 0xFE) & (self.head[:, _IP + 9] & 0xC0 == 0x80)

    def link_local_dst(self) -> np.ndarray:
        return (self.head[:, _IP + 24] == 0xFE) & (self.head[:, _IP + 25] & 0xC0 == 0x80)

    def dst_is(self, address: bytes) -> np.ndarray:
        return (self.dst == np.frombuffer(address, dtype=np.uint8)).all(axis=1)

    def strip(self, batch: PacketBatch, which: np.ndarray) -> None:
        """The selected slots become their IPv6 packets: Ethernet header stepped over, padding cut."""
        sel = np.flatnonzero(which)
        batch.offset[sel] = (self.offset[sel] + _IP).astype(np.uint32)
        batch.length[sel] = (IPV6_HEADER_LEN + self.payload_length[sel]).astype(np.uint32)

    def restore(self, batch: PacketBatch, which: np.ndarray) -> None:
        """The selected slots become the frames as received again (for the per-frame path)."""
        sel = np.flatnonzero(which)
        batch.offset[sel] = self.offset[sel].astype(np.uint32)
        batch.length[sel] = self.length[sel].astype(np.uint32)

    def frame(self, batch: PacketBatch, i: int) -> bytes:
        """Frame ``i`` as received, whatever its slot's columns say now."""
        o, k = int(self.offset[i]), int(self.length[i])
        return batch.buf[o:o + k].tobytes()


def classify(batch: PacketBatch, iface: Interface, multicast: bool = False) -> FrameColumns:
    """Classify the batch's frames for ``iface`` (see the module's theory of operation)."""
    n = batch.count
    offset = batch.offset[:n].astype(np.int64)
    length = batch.length[:n].astype(np.int64)
    head = gather(batch, offset, HEAD)
    dst_mac = head[:, :6]
    to_us = (dst_mac == np.frombuffer(iface.mac, dtype=np.uint8)).all(axis=1)
    if multicast:
        to_us |= (dst_mac == 0xFF).all(axis=1) | ((dst_mac[:, 0] == 0x33) & (dst_mac[:, 1] == 0x33))
    ethertype = head[:, 12].astype(np.int64) << 8 | head[:, 13]
    payload_length = head[:, _IP + 4].astype(np.int64) << 8 | head[:, _IP + 5]
    ipv6 = ((length >= HEAD) & to_us & (ethertype == ETHERTYPE_IPV6) & (head[:, _IP] >> 4 == 6)
            & (payload_length > 0) & (_IP + IPV6_HEADER_LEN + payload_length <= length))
    return FrameColumns(n, offset, length, head, payload_length, ipv6)
