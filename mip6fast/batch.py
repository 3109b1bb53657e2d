"""Packet batches: a struct of arrays in numpy memory, the unit the data-path kernels work on.

``PacketBatch(capacity=256, slot_size=2048, headroom=128)`` holds one ``uint8`` slab of ``capacity *
slot_size`` bytes; packet i lives in slot i, ``headroom`` bytes in, so a kernel prepends a 40-byte
outer header or a 24-byte extension header by moving the packet's offset back (no copy of the payload).
Per-packet columns (numpy arrays of length ``capacity``): ``offset`` (u32, absolute in the slab),
``length`` (u32), ``verdict`` (u8, a ``Verdict``), ``reason`` (u8, a ``DropReason``), ``aux`` (u32: the
MTU for TOO_BIG, the Home Address option's offset for BINDING_ERROR). ``count`` packets are in use.

Kernels act only on packets whose verdict is PASS, so several can run over one batch in turn (see
docs/DATAPATH.md); a packet appended to a batch starts as PASS / NONE.
"""
from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import NamedTuple

import numpy as np


class Verdict(IntEnum):
    """What the caller does with a packet after a kernel (``mip6_verdict_t``)."""
    FORWARD = 0        # rewritten: send it (deliver it, after a receive-side kernel)
    PASS = 1           # not for this kernel: leave it to the normal path (or the next kernel)
    DROP = 2           # discard; the reason says why
    SLOW_PATH = 3      # hand it, untouched, to the role's Python code
    TOO_BIG = 4        # untouched; aux = the MTU for the Packet Too Big message
    BINDING_ERROR = 5  # untouched; send Binding Error status 1 (RFC 6275 §9.3.1); aux = HAO offset


class DropReason(IntEnum):
    """Why a packet got its verdict (``mip6_reason_t``): every one is a named counter. Despite the
    name, the non-drop outcomes have reasons too (FORWARDED, NO_BINDING, ...), so counters add up to
    the packets a kernel looked at; ``VERDICT_OF`` gives the verdict each reason goes with."""
    NONE = 0
    FORWARDED = 1
    NO_BINDING = 2
    NOT_TUNNELLED = 3
    NO_HAO = 4
    NO_RH2 = 5
    NOT_ELIGIBLE = 6
    NOT_FROM_HOME = 7
    MH_SIGNALLING = 8
    MULTICAST_MEMBERSHIP = 9
    TOO_BIG = 10
    HAO_NO_BINDING = 11
    HAO_WRONG_COA = 12
    BAD_SLOT = 13
    TRUNCATED = 14
    BAD_VERSION = 15
    BAD_LENGTH = 16
    BAD_HEADER = 17
    HOP_LIMIT = 18
    NO_HEADROOM = 19
    LINK_LOCAL = 20
    SITE_LOCAL = 21
    TUNNEL_NO_BINDING = 22
    TUNNEL_WRONG_SOURCE = 23
    NOT_HOME_ADDRESS = 24
    BAD_RH2 = 25
    DUPLICATE_HAO = 26
    BAD_HAO = 27
    ECN = 28


_V = Verdict
VERDICT_OF = {
    DropReason.NONE: _V.PASS, DropReason.FORWARDED: _V.FORWARD, DropReason.NO_BINDING: _V.PASS,
    DropReason.NOT_TUNNELLED: _V.PASS, DropReason.NO_HAO: _V.PASS, DropReason.NO_RH2: _V.PASS,
    DropReason.NOT_ELIGIBLE: _V.PASS, DropReason.NOT_FROM_HOME: _V.PASS,
    DropReason.MH_SIGNALLING: _V.SLOW_PATH, DropReason.MULTICAST_MEMBERSHIP: _V.SLOW_PATH,
    DropReason.TOO_BIG: _V.TOO_BIG, DropReason.HAO_NO_BINDING: _V.BINDING_ERROR,
    DropReason.HAO_WRONG_COA: _V.BINDING_ERROR,
}
VERDICT_OF.update({r: _V.DROP for r in DropReason if r >= DropReason.BAD_SLOT})
del _V

# Offsets are u32 absolute positions in the slab.
MAX_SLAB = 1 << 32


class BatchState(NamedTuple):
    """What ``PacketBatch.save`` keeps: enough to put the batch back as it was (see ``restore``)."""
    count: int   # type: ignore[assignment]  # the field shadows tuple.count; the name is API (save/restore)
    offset: np.ndarray
    length: np.ndarray
    head: np.ndarray   # (count, head_bytes) uint8: each packet's first bytes
    head_bytes: int


class PacketBatch:
    __slots__ = (
        "__weakref__",
        "_aux",
        "_buf",
        "_capacity",
        "_headroom",
        "_length",
        "_offset",
        "_reason",
        "_slot_size",
        "_verdict",
        "_view",
        "count",
    )

    def __init__(self, capacity: int = 256, slot_size: int = 2048, headroom: int = 128):
        for name, value in (("capacity", capacity), ("slot_size", slot_size), ("headroom", headroom)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        if slot_size < 1:
            raise ValueError(f"slot_size must be at least 1, got {slot_size}")
        if not 0 <= headroom < slot_size:
            raise ValueError(f"headroom must be in 0..slot_size-1 ({slot_size - 1}), got {headroom}")
        if capacity * slot_size > MAX_SLAB:
            raise ValueError(f"capacity * slot_size = {capacity * slot_size} exceeds 2**32 bytes "
                             "(offsets are 32-bit)")
        self._capacity = capacity
        self._slot_size = slot_size
        self._headroom = headroom
        self._buf = np.zeros(capacity * slot_size, dtype=np.uint8)
        self._offset = np.arange(capacity, dtype=np.uint32) * np.uint32(slot_size) + np.uint32(headroom)
        self._length = np.zeros(capacity, dtype=np.uint32)
        self._verdict = np.full(capacity, Verdict.PASS, dtype=np.uint8)
        self._reason = np.zeros(capacity, dtype=np.uint8)
        self._aux = np.zeros(capacity, dtype=np.uint32)
        self.count = 0
        self._view = None  # the compiled kernels' C view of the columns, made on first use

    # The slab and the columns: the arrays are fixed for the batch's life (the C view points into them),
    # so they are read-only attributes; their contents are the caller's to read and write.
    capacity = property(lambda self: self._capacity)
    slot_size = property(lambda self: self._slot_size)
    headroom = property(lambda self: self._headroom)
    buf = property(lambda self: self._buf)
    offset = property(lambda self: self._offset)
    length = property(lambda self: self._length)
    verdict = property(lambda self: self._verdict)
    reason = property(lambda self: self._reason)
    aux = property(lambda self: self._aux)

    @classmethod
    def from_packets(cls, packets: Iterable[bytes], capacity: int | None = None, slot_size: int = 2048,
                     headroom: int = 128) -> PacketBatch:
        packets = list(packets)
        batch = cls(capacity if capacity is not None else max(1, len(packets)), slot_size, headroom)
        for p in packets:
            batch.append(p)
        return batch

    @classmethod
    def over(cls, buf: np.ndarray, slot_size: int, headroom: int, offset: np.ndarray, length: np.ndarray,
             verdict: np.ndarray, reason: np.ndarray, aux: np.ndarray, count: int) -> PacketBatch:
        """A batch over memory it does not own, used as it is (no copy): ``buf`` a uint8 array of
        ``capacity * slot_size`` bytes and the five columns of ``capacity`` entries each, capacity
        being ``len(offset)``. A TPACKET_V2 ring's receive window (mip6fast.io.ring) is one: slot i is
        the ring's frame first + i, and the columns are the ring's."""
        capacity = len(offset)
        if not 0 <= headroom < slot_size or capacity < 1:
            raise ValueError(f"bad batch geometry: capacity {capacity}, slot_size {slot_size}, headroom {headroom}")
        if buf.dtype != np.uint8 or buf.ndim != 1 or len(buf) != capacity * slot_size:
            raise ValueError(f"buf must be {capacity * slot_size} uint8 bytes, got {buf.dtype} {buf.shape}")
        for name, col, dtype in (("offset", offset, np.uint32), ("length", length, np.uint32),
                                 ("verdict", verdict, np.uint8), ("reason", reason, np.uint8),
                                 ("aux", aux, np.uint32)):
            if col.dtype != dtype or col.shape != (capacity,):
                raise ValueError(f"{name} must be {capacity} {np.dtype(dtype).name}, got {col.dtype} {col.shape}")
        if not 0 <= count <= capacity:
            raise ValueError(f"count {count} is outside 0..{capacity}")
        batch = cls.__new__(cls)
        batch._capacity = capacity
        batch._slot_size = slot_size
        batch._headroom = headroom
        batch._buf = buf
        batch._offset = offset
        batch._length = length
        batch._verdict = verdict
        batch._reason = reason
        batch._aux = aux
        batch.count = count
        batch._view = None
        return batch

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return (f"PacketBatch(count={self.count}, capacity={self._capacity}, slot_size={self._slot_size}, "
                f"headroom={self._headroom})")

    def append(self, packet) -> int:
        """Copy one packet into the next slot (headroom bytes in); returns its index."""
        data = memoryview(packet).cast("B")
        if self.count >= self._capacity:
            raise ValueError(f"batch is full ({self._capacity} packets)")
        room = self._slot_size - self._headroom
        if len(data) > room:
            raise ValueError(f"packet of {len(data)} bytes does not fit a slot ({self._slot_size} bytes, "
                             f"{self._headroom} of them headroom)")
        i = self.count
        off = i * self._slot_size + self._headroom
        self._buf[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._offset[i] = off
        self._length[i] = len(data)
        self._verdict[i] = Verdict.PASS
        self._reason[i] = DropReason.NONE
        self._aux[i] = 0
        self.count = i + 1
        return i

    def extend(self, packets: Iterable[bytes]) -> None:
        for p in packets:
            self.append(p)

    def _check(self, i: int) -> tuple:
        if not 0 <= i < self.count:
            raise IndexError(f"packet {i} out of range (count {self.count})")
        off, n = int(self._offset[i]), int(self._length[i])
        start = i * self._slot_size
        if off < start or off + n > start + self._slot_size:
            raise ValueError(f"packet {i}: offset {off} / length {n} lie outside its slot "
                             f"[{start}, {start + self._slot_size})")
        return off, n

    def packet(self, i: int) -> bytes:
        off, n = self._check(i)
        return self._buf[off:off + n].tobytes()

    def packets(self) -> list[bytes]:
        return [self.packet(i) for i in range(self.count)]

    def room(self, i: int) -> int:
        """Headroom in front of packet i now."""
        off, _ = self._check(i)
        return off - i * self._slot_size

    def set_packet(self, i: int, packet, headroom: int | None = None) -> None:
        """Replace packet i (< count) with these bytes, headroom bytes into its slot (default: the
        batch's headroom). Verdict, reason and aux are left alone."""
        data = memoryview(packet).cast("B")
        if not 0 <= i < self.count:
            raise IndexError(f"packet {i} out of range (count {self.count})")
        head = self._headroom if headroom is None else headroom
        if head < 0 or head + len(data) > self._slot_size:
            raise ValueError(f"{len(data)} bytes at headroom {head} do not fit a {self._slot_size}-byte slot")
        off = i * self._slot_size + head
        self._buf[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self._offset[i] = off
        self._length[i] = len(data)

    def clear(self) -> None:
        self.count = 0

    def reset_verdicts(self) -> None:
        """Every packet back to PASS / NONE / 0, e.g. to run other kernels over the rewritten packets."""
        n = self.count
        self._verdict[:n] = Verdict.PASS
        self._reason[:n] = DropReason.NONE
        self._aux[:n] = 0

    def verdicts(self) -> list[Verdict]:
        return [Verdict(v) for v in self._verdict[:self.count]]

    def reasons(self) -> list[DropReason]:
        return [DropReason(r) for r in self._reason[:self.count]]

    def save(self, head_bytes: int = 64) -> BatchState:
        """Remember the offset/length columns and the first ``head_bytes`` of every packet (kernels
        rewrite headers in place, never payloads), for ``restore``."""
        n = self.count
        head = np.zeros((n, head_bytes), dtype=np.uint8)
        for i in range(n):
            off, ln = self._check(i)
            k = min(head_bytes, ln)
            head[i, :k] = self._buf[off:off + k]
        return BatchState(n, self._offset[:n].copy(), self._length[:n].copy(), head, head_bytes)

    def check_state(self, state: BatchState) -> None:
        """ValueError unless ``state`` can be put back into this batch (``restore`` checks it first)."""
        n = state.count
        if n > self._capacity:
            raise ValueError("state is from a larger batch")
        if n < 0 or len(state.offset) < n or len(state.length) < n or len(state.head) < n:
            raise ValueError("saved state does not match the batch")
        start = np.arange(n, dtype=np.uint64) * np.uint64(self._slot_size)
        off = np.asarray(state.offset[:n], dtype=np.uint64)
        end = off + np.asarray(state.length[:n], dtype=np.uint64)
        outside = np.flatnonzero((off < start) | (end > start + np.uint64(self._slot_size)))
        if outside.size:
            raise ValueError(f"saved packet {int(outside[0])} lies outside its slot")

    def restore(self, state: BatchState) -> None:
        """Put the batch back as ``save`` saw it (count, columns, headers; verdicts PASS / NONE). For
        benchmark rounds, the compiled data path does the same in one C loop (``_datapath.Snapshot``)."""
        self.check_state(state)
        n, head = state.count, state.head
        k = head.shape[1] if head.ndim == 2 else 0
        for i in range(n):
            off = int(state.offset[i])
            m = min(k, int(state.length[i]))
            self._buf[off:off + m] = head[i, :m]
        self._offset[:n] = state.offset[:n]
        self._length[:n] = state.length[:n]
        self.count = n
        self.reset_verdicts()
