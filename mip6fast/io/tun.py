"""TUN devices: the application side of a node on a real machine (issue 5).

On a mobile node the home address lives on a TUN interface, so unmodified kernel applications use it
and keep their connections across movement; the engine reads what they send and writes what arrives for
them, a ``PacketBatch`` at a time (one C call per batch, see csrc/mip6_tun.c)::

    with TunDevice("mip6tun%d") as tun:        # the kernel picks the number
        batch = PacketBatch(capacity=256, slot_size=2048, headroom=128)
        tun.read_batch(batch)                  # whatever the applications sent, never blocks
        tun.write_batch(batch)                 # back to them

The descriptor is non-blocking: wait for it with ``select``/``epoll``/asyncio on ``fileno()``.
Configuring the interface (addresses, MTU, up) is netlink's job, not this module's.
"""
from __future__ import annotations

import errno as _errno
import os

from .. import _impl
from ..batch import PacketBatch, Verdict
from ..errors import Mip6Error

_tun = _impl.load("tun")

__all__ = ["TunDevice", "TunError"]


class TunError(Mip6Error, OSError):
    """A TUN device could not be opened or used; ``errno`` is the kernel's answer."""


_WHY = {
    _errno.ENOENT: "no /dev/net/tun (load the tun module, or run where TUN devices exist)",
    _errno.EPERM: "permission denied (creating a TUN device needs CAP_NET_ADMIN)",
    _errno.EACCES: "permission denied on /dev/net/tun",
    _errno.EBUSY: "the interface is already attached to another process",
    _errno.EINVAL: "not a valid interface name (1 to 15 bytes), or the name belongs to a non-TUN interface",
}


class TunDevice:
    """A TUN interface (IFF_TUN, no packet-info header: the bytes are IPv6 packets)."""

    def __init__(self, name: str = "mip6tun%d"):
        try:
            self._fd, self.name = _tun.open_tun(name)
        except OSError as exc:
            code = exc.errno or _errno.EINVAL
            raise TunError(code, f"TUN {name!r}: {_WHY.get(code, os.strerror(code))}") from None
        except ValueError as exc:
            raise TunError(_errno.EINVAL, f"TUN {name!r}: {exc}") from None
        self._stats = _tun.TunStats()

    def fileno(self) -> int:
        if self._fd < 0:
            raise TunError(_errno.EBADF, f"TUN {self.name}: closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def read_batch(self, batch: PacketBatch) -> int:
        """Append the packets waiting on the device to ``batch`` (until it is full); returns how many.
        Packets larger than a slot (minus headroom) are dropped and counted as ``rx_truncated``."""
        return _tun.read_batch(self.fileno(), batch, self._stats)

    def write_batch(self, batch: PacketBatch, verdict: Verdict | None = None) -> int:
        """Write the batch's packets (only those with ``verdict`` if given) to the applications; returns
        the index of the first packet the device queue had no room for (``batch.count`` when all
        went)."""
        return _tun.write_batch(self.fileno(), batch, -1 if verdict is None else int(verdict), self._stats)

    def stats(self) -> dict:
        return self._stats.as_dict()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> TunDevice:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1
