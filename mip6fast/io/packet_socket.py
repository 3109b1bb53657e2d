"""A plain AF_PACKET socket on one interface, one system call per frame: the portable port of
``NodeRunner`` (no ring needed), and the pure-Python baseline the ring I/O is measured against.

Frames are whole Ethernet II frames, as the roles take them. The socket is non-blocking; wait for it
with ``select``/``epoll`` on ``fileno()``.
"""
from __future__ import annotations

import errno as _errno
import os
import socket

from ..batch import PacketBatch
from ..errors import Mip6Error

__all__ = ["PacketSocket", "PortError"]

ETH_P_ALL = 0x0003
# PACKET_IGNORE_OUTGOING (Linux 4.20): our own transmissions are not looped back to us.
PACKET_IGNORE_OUTGOING = 23
SOL_PACKET = 263


class PortError(Mip6Error, OSError):
    """An interface could not be opened or used; ``errno`` is the kernel's answer."""


def port_error(interface: str, exc: OSError) -> PortError:
    code = exc.errno or _errno.EINVAL
    why = {
        _errno.ENODEV: f"no such interface {interface!r}",
        _errno.ENXIO: f"no such interface {interface!r}",
        _errno.EPERM: "permission denied (raw packet sockets need CAP_NET_RAW)",
        _errno.EACCES: "permission denied (raw packet sockets need CAP_NET_RAW)",
        _errno.ENETDOWN: f"interface {interface!r} is down",
    }.get(code, os.strerror(code))
    return PortError(code, f"{interface}: {why}")


class PacketSocket:
    """Receive and send Ethernet frames on ``interface`` with one ``recv``/``send`` per frame."""

    def __init__(self, interface: str):
        self.name = interface
        try:
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except OSError as exc:
            raise port_error(interface, exc) from None
        try:
            self._sock.bind((interface, ETH_P_ALL))
            try:
                self._sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                self._ignore_outgoing = False      # older kernels: filtered in receive() instead
            else:
                self._ignore_outgoing = True
            self._sock.setblocking(False)
        except OSError as exc:
            self._sock.close()
            raise port_error(interface, exc) from None
        self.counters = {"rx_frames": 0, "rx_bytes": 0, "rx_truncated": 0, "tx_frames": 0, "tx_bytes": 0,
                         "tx_errors": 0, "tx_queue_full": 0}

    def fileno(self) -> int:
        return self._sock.fileno()

    def receive(self, batch: PacketBatch) -> int:
        """Append the frames waiting on the socket to ``batch`` until it is full or none are left."""
        added = 0
        room = batch.slot_size - batch.headroom
        while batch.count < batch.capacity:
            i = batch.count
            start = i * batch.slot_size + batch.headroom
            view = memoryview(batch.buf)[start:start + room]
            try:
                n, address = self._sock.recvfrom_into(view, room, socket.MSG_TRUNC)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            if not self._ignore_outgoing and address[2] == socket.PACKET_OUTGOING:
                continue
            if n > room:
                self.counters["rx_truncated"] += 1      # larger than a slot: counted, never cut short
                continue
            batch.offset[i], batch.length[i] = start, n
            batch.verdict[i], batch.reason[i], batch.aux[i] = 1, 0, 0
            batch.count = i + 1
            self.counters["rx_frames"] += 1
            self.counters["rx_bytes"] += n
            added += 1
        return added

    def send_frames(self, frames) -> int:
        """Send each frame; returns how many the kernel took (a full queue stops the rest, counted)."""
        sent = 0
        for frame in frames:
            try:
                self._sock.send(frame)
            except BlockingIOError:
                self.counters["tx_queue_full"] += 1
                break
            except OSError:
                self.counters["tx_errors"] += 1
                continue
            sent += 1
            self.counters["tx_frames"] += 1
            self.counters["tx_bytes"] += len(frame)
        return sent

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> PacketSocket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
