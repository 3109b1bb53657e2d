"""AF_PACKET rings: an interface's frames straight into and out of a ``PacketBatch`` (docs/RING.md).

``PacketRing("eth0")`` opens a raw packet socket bound to the interface with a TPACKET_V3 receive ring
and a transmit ring (csrc/mip6_ring.c). ``receive(batch, timeout_ms)`` appends every frame that is
ready to the batch (its free slots) in one C call, waiting up to ``timeout_ms`` in poll when none is (no busy
spin); ``send(batch, verdict=None)`` queues the batch's packets (or only those with that verdict) into
the transmit ring and kicks the kernel once. Frames are whole Ethernet frames, placed ``headroom``
bytes into each slot, and ``aux`` holds each frame's packet type (``PKTTYPE_HOST`` ...).

``PacketRing("eth0", in_place=True)`` makes the rings TPACKET_V2: the receive ring is then fixed-size
frames at a fixed stride, so ``receive_window()`` hands out the frames the kernel filled as a
``PacketBatch`` over the ring itself (no copy; slot i is frame first + i; PACKET_RESERVE leaves room in
front of each frame for a tunnel header), the data path rewrites them there, ``send`` copies them into a
transmit ring (the one copy), and ``release()`` gives them back. ``receive(batch)`` still works on such a
ring (copying).

Errors are ``RingError`` (a ``Mip6Error`` and an ``OSError``) with a subclass per cause:
``NoSuchInterface``, ``RingPermissionError`` (needs CAP_NET_RAW), ``RingGeometryError`` (the kernel,
or a first check of ours, refused the geometry). ``errno`` is the system call's, ``step`` names it.
"""
from __future__ import annotations

import errno as _errno
import os

import numpy as np

from .. import _impl
from ..batch import PacketBatch
from ..errors import Mip6Error

# C only (csrc/mip6_ring.c), no pure-Python twin: None without the compiled module or with
# MIP6FAST_PURE_PYTHON=1, and then opening a ring raises RingError (importing this module does not).
_ring = _impl.load_compiled("ring")

__all__ = [
    "PKTTYPE_BROADCAST",
    "PKTTYPE_HOST",
    "PKTTYPE_MULTICAST",
    "PKTTYPE_OTHERHOST",
    "PKTTYPE_OUTGOING",
    "NoSuchInterface",
    "PacketRing",
    "RingError",
    "RingGeometryError",
    "RingPermissionError",
    "read_batches",
    "reflect",
]

# sll_pkttype (linux/if_packet.h), in a received frame's aux column.
PKTTYPE_HOST = 0
PKTTYPE_BROADCAST = 1
PKTTYPE_MULTICAST = 2
PKTTYPE_OTHERHOST = 3
PKTTYPE_OUTGOING = 4

FANOUT_MODES = ("hash", "lb", "cpu")


class RingError(Mip6Error, OSError):
    """A ring could not be opened or used. ``interface``, ``step`` (the failing call or check) and
    ``errno`` (0 when one of our own checks refused) say where and why."""

    def __init__(self, message: str, *, interface: str = "", step: str = "", errno: int = 0):
        super().__init__(errno, message)
        self.interface = interface
        self.step = step

    def __str__(self) -> str:
        return self.strerror


class NoSuchInterface(RingError):
    """There is no interface by that name (in this network namespace)."""


class RingPermissionError(RingError, PermissionError):
    """Packet sockets need CAP_NET_RAW (root, or the capability on the interpreter)."""


class RingGeometryError(RingError, ValueError):
    """The ring geometry was refused, by the kernel (errno set) or by a first check of ours."""


def _error(fail, interface: str, geometry: str = "") -> RingError:
    code, err, step, reason = fail.code, fail.errno, fail.step, fail.reason
    detail = f": {os.strerror(err)}" if err else ""
    where = f" ({step})" if step else ""
    if code == _ring.ENOIF:
        return NoSuchInterface(f"no such interface {interface}{detail if err not in (0, _errno.ENODEV) else ''}",
                               interface=interface, step=step, errno=err)
    if code == _ring.EPERM:
        return RingPermissionError(f"permission denied opening a packet socket on {interface} (needs CAP_NET_RAW)"
                                   f"{where}", interface=interface, step=step, errno=err or _errno.EPERM)
    if code == _ring.EGEOMETRY:
        return RingGeometryError(f"{reason} on {interface} ({geometry}){where}{detail}", interface=interface,
                                 step=step, errno=err)
    return RingError(f"{interface}: {reason}{where}{detail}", interface=interface, step=step, errno=err)


def _require():
    if _ring is None:
        raise RingError(f"AF_PACKET rings are not available: {_impl.unavailable('ring')}; use packet "
                        "sockets (mip6fast.io.packet_socket, daemon io = \"packet\")", errno=_errno.ENOSYS)


class PacketRing:
    """A packet socket with its rings, bound to one interface; a context manager.

    Geometry (csrc/mip6_ring.h has the defaults): ``block_size`` (bytes, a multiple of the page size)
    and ``block_count`` for the receive ring; ``frame_size`` (16-byte aligned) bounds a received frame
    and is the transmit slot; ``block_timeout_ms`` retires a partly filled block so a trickle of frames
    is not held back; ``tx_frames`` frames of transmit ring (rounded up to whole blocks).
    Options: ``qdisc_bypass`` (PACKET_QDISC_BYPASS: transmit straight to the driver), ``fanout``
    ("hash", "lb" or "cpu") with ``fanout_group`` to share the interface's frames among several
    rings/processes, ``ignore_outgoing`` (default on: frames this host sends are not received).
    ``in_place`` (TPACKET_V2 rings: ``receive_window``) with ``rx_reserve`` bytes of PACKET_RESERVE
    (default: the IPv6 header 256 bytes into each frame); ``window`` bounds a window's frames.
    """

    def __init__(self, interface: str, *, rx: bool = True, tx: bool = True, block_size: int | None = None,
                 block_count: int | None = None, frame_size: int | None = None,
                 block_timeout_ms: int | None = None, tx_frames: int | None = None,
                 qdisc_bypass: bool = False, fanout: str | None = None, fanout_group: int = 0,
                 ignore_outgoing: bool = True, in_place: bool = False, rx_reserve: int | None = None,
                 window: int = 256):
        _require()
        if not isinstance(interface, str):
            raise TypeError(f"interface must be a str, got {type(interface).__name__}")
        if fanout is not None and fanout not in FANOUT_MODES:
            raise ValueError(f"fanout must be one of {', '.join(FANOUT_MODES)} or None, got {fanout!r}")
        if not 0 <= fanout_group <= 0xFFFF:
            raise ValueError(f"fanout_group must be in 0..65535, got {fanout_group}")
        geometry = dict(_ring.defaults())
        for name, value in (("block_size", block_size), ("block_count", block_count), ("frame_size", frame_size),
                            ("block_timeout_ms", block_timeout_ms), ("tx_frames", tx_frames)):
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
                    raise ValueError(f"{name} must be an int in 0..2**32-1, got {value!r}")
                geometry[name] = value
        geometry.update(qdisc_bypass=bool(qdisc_bypass), ignore_outgoing=bool(ignore_outgoing))
        if rx_reserve is not None and (not isinstance(rx_reserve, int) or isinstance(rx_reserve, bool)
                                       or not 0 <= rx_reserve <= 0xFFFF):
            raise ValueError(f"rx_reserve must be an int in 0..65535, got {rx_reserve!r}")
        if not isinstance(window, int) or isinstance(window, bool) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        if in_place:
            geometry.update(version=2, rx_reserve=_ring.V2_DEFAULT_RESERVE if rx_reserve is None else rx_reserve)
        elif rx_reserve:
            raise ValueError("rx_reserve needs in_place=True (a TPACKET_V2 receive ring)")
        self.interface = interface
        self._frames_batch: PacketBatch | None = None  # send_frames copies frames through it
        #: the ring's geometry (block_size, block_count, frame_size, block_timeout_ms, tx_frames)
        self.geometry = {k: geometry[k] for k in ("block_size", "block_count", "frame_size",
                                                  "block_timeout_ms", "tx_frames")}
        try:
            self._ring = _ring.Ring(interface, rx=rx, tx=tx, fanout=fanout, fanout_group=fanout_group, **geometry)
        except _ring.RingFailure as fail:
            shown = ", ".join(f"{k} {v}" for k, v in self.geometry.items())
            raise _error(fail, interface, shown) from None
        # What the kernel was given: a ring not set up has no frames, and the TX frame count is
        # rounded up to whole blocks.
        actual = self._ring.geometry
        self.geometry["block_count"] = actual["block_count"]
        self.geometry["tx_frames"] = actual["tx_frames"]
        # In place: the receive frames as one array, the window's columns (one set: one window is
        # held at a time), and the window now held.
        self._frames = None
        self._columns: tuple | None = None
        self._window: PacketBatch | None = None
        if self._ring.in_place:
            self._frames = np.asarray(memoryview(self._ring.rx_memory()))
            n = min(window, actual["rx_frames"])
            self._columns = (np.zeros(n, np.uint32), np.zeros(n, np.uint32), np.zeros(n, np.uint8),
                             np.zeros(n, np.uint8), np.zeros(n, np.uint32))

    @property
    def in_place(self) -> bool:
        """A TPACKET_V2 receive ring: ``receive_window`` hands out frames where they lie."""
        return self._columns is not None

    def __enter__(self) -> PacketRing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd {self._ring.fileno()}"
        return f"PacketRing({self.interface!r}, {state})"

    @property
    def closed(self) -> bool:
        return self._ring.closed

    @property
    def ifindex(self) -> int:
        return self._ring.ifindex

    @property
    def mtu(self) -> int:
        """The interface's MTU when the ring was opened (a frame may be MTU + 14 bytes long)."""
        return self._ring.mtu

    def fileno(self) -> int:
        """The packet socket, for select/epoll: readable when a receive block is ready."""
        try:
            return self._ring.fileno()
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None

    @property
    def name(self) -> str:
        """The interface (the ``Port`` attribute mip6fast.io.runner.NodeRunner reads)."""
        return self.interface

    def receive(self, batch, timeout_ms: int = 0, max_frames: int | None = None) -> int:
        """Append the frames that are ready to ``batch`` (from slot ``batch.count`` until it is full, at
        most ``max_frames``), waiting up to ``timeout_ms`` (-1: until one comes) when none is; returns
        how many were added (0 on timeout). The same contract as ``PacketSocket.receive`` and
        ``TunDevice.read_batch``, so a ring is a ``NodeRunner`` port."""
        try:
            return self._ring.receive(batch, timeout_ms, max_frames)
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None

    def receive_window(self, timeout_ms: int = 0, max_frames: int | None = None) -> PacketBatch | None:
        """The frames that are ready, where the kernel wrote them: a ``PacketBatch`` over the ring
        (``in_place`` rings only), or None when none came within ``timeout_ms``. At most ``window``
        frames (``max_frames`` fewer); never wrapping past the ring's last frame. The frames are the
        caller's to read and rewrite until ``release()``, which must come before the next window; after
        it the batch's bytes belong to the kernel again (copy what must be kept)."""
        columns = self._columns
        if columns is None:
            raise RingError(f"{self.interface}: receiving in place needs PacketRing(in_place=True)",
                            interface=self.interface, step="receive window", errno=_errno.EINVAL)
        if max_frames is not None and max_frames < len(columns[0]):
            if max_frames < 1:
                return None
            columns = tuple(c[:max_frames] for c in columns)
        try:
            first, n, headroom = self._ring.rx_window(*columns, timeout_ms)
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None
        if n == 0:
            return None
        fs = self._ring.geometry["rx_frame_size"]
        batch = PacketBatch.over(self._frames[first * fs:(first + n) * fs], fs, headroom,
                                 *(c[:n] for c in columns), count=n)
        self._window = batch
        return batch

    def release(self) -> None:
        """Give the frames of the window last handed out back to the kernel (no-op without one)."""
        if self._window is not None:
            self._window = None
            self._ring.rx_release()

    def send(self, batch, verdict=None, timeout_ms: int = 1000) -> int:
        """Queue ``batch``'s packets (only those whose verdict is ``verdict``, if given) and kick the
        kernel once. A full ring is waited for up to ``timeout_ms`` (-1: no limit); returns how many
        were queued. A packet too short (< 14 bytes) or too long for a frame or the MTU is skipped
        and counted (``stats()["tx_rejected"]``)."""
        try:
            return self._ring.send(batch, verdict, timeout_ms)
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None

    def send_frames(self, frames) -> int:
        """Send frames given as bytes (the ``Port`` interface: signalling, not the data path, which
        sends whole batches). Does not wait for a full ring; returns how many were queued."""
        frames = [memoryview(f).cast("B") for f in frames]
        batch = self._frames_batch
        if batch is None:
            # Room for the largest frame the interface takes (MTU + Ethernet header), no headroom.
            slot = max(2048, (self.mtu + 14 + 63) // 64 * 64)
            batch = self._frames_batch = PacketBatch(capacity=64, slot_size=slot, headroom=0)
        sent = 0
        for k in range(0, len(frames), batch.capacity):
            batch.clear()
            chunk = frames[k:k + batch.capacity]
            for f in chunk:
                if len(f) > batch.slot_size:
                    f = f[:0]  # refused by the ring (too short) and counted as tx_rejected
                batch.append(f)
            rejected = self._ring.counters()["tx_rejected"]
            queued = self.send(batch, timeout_ms=0)
            sent += queued
            if queued + self._ring.counters()["tx_rejected"] - rejected < len(chunk):
                break  # the ring is full: the rest would not fit either
        return sent

    def tx_in_flight(self) -> int:
        """Frames queued and not yet completed by the kernel."""
        return self._ring.tx_in_flight()

    def stats(self) -> dict:
        """The kernel's PACKET_STATISTICS, totalled over the ring's life (``packets`` the socket saw,
        including ``drops`` for a full ring; ``freeze_count``), and the ring's own counters (rx_frames,
        rx_bytes, rx_oversize, rx_blocks, tx_frames, tx_bytes, tx_rejected, tx_kicks, tx_full,
        tx_wrong_format, rx_outgoing: frames this host sent skipped by a fanout member on a kernel
        that cannot keep them from the group)."""
        try:
            return self._ring.stats()
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None

    def close(self) -> None:
        """Unmap the rings and close the socket (idempotent). An in-place ring's frames stay mapped
        while a view of them (a window batch) is alive, so a stale view never faults."""
        self._window = None
        self._frames = None
        try:
            self._ring.close()
        except _ring.RingFailure as fail:
            raise _error(fail, self.interface) from None


def read_batches(port, scratch: PacketBatch, limit: int):
    """Up to ``limit`` batches of the frames ``port`` has ready (any port: a ring, a packet socket),
    each valid until the next one is asked for. An in-place ring (``PacketRing(in_place=True)``) gives
    windows of the ring itself, each handed back to the kernel when the caller is done with it (at the
    next iteration, or on leaving the loop); a window is whatever the kernel filled since the last one,
    so they are read until one comes back empty. Any other port copies into ``scratch``, and a batch
    that was not filled means the port is empty."""
    full = scratch.capacity
    if getattr(port, "in_place", False):
        for _ in range(limit):
            window = port.receive_window(max_frames=full)
            if window is None:
                return
            try:
                yield window
            finally:
                port.release()
        return
    for _ in range(limit):
        scratch.clear()
        if port.receive(scratch) == 0:
            return
        yield scratch
        if scratch.count < full:
            return


def reflect(rx: PacketRing, tx: PacketRing, *, max_frames: int = 0, duration: float = 1.0) -> dict:
    """The raw I/O baseline: frames received on ``rx`` go out of ``tx`` unchanged, ring to ring in C
    (one kick per receive block), until ``max_frames`` (0: no limit) or ``duration`` seconds. Returns
    rx_frames, tx_frames, bytes, dropped, elapsed_ns."""
    _require()
    if max_frames < 0 or duration < 0:
        raise ValueError("max_frames and duration must not be negative")
    try:
        return _ring.reflect(rx._ring, tx._ring, max_frames, int(duration * 1e9))
    except _ring.RingFailure as fail:
        raise _error(fail, rx.interface if fail.step != "reflect" else f"{rx.interface}->{tx.interface}") from None
