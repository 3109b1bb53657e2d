"""Pure-Python twin of mip6fast._tun (csrc/mip6_tun.c): the same functions with os.read/os.write, one
system call per packet like the C code, for platforms without the compiled module and as the
reference of tests/test_tun.py."""
from __future__ import annotations

import errno
import fcntl
import os
import struct

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFNAMSIZ = 16


def open_tun(name: str):
    raw = name.encode()
    if not raw or len(raw) >= IFNAMSIZ or b"\0" in raw:
        raise OSError(errno.EINVAL, name)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", raw, IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd, ifr[:IFNAMSIZ].split(b"\0", 1)[0].decode()


class TunStats:
    def __init__(self):
        self.rx = {"packets": 0, "bytes": 0, "truncated": 0, "errors": 0, "errno_last": 0}
        self.tx = {"packets": 0, "bytes": 0, "truncated": 0, "errors": 0, "errno_last": 0}

    def as_dict(self):
        return {"rx_packets": self.rx["packets"], "rx_bytes": self.rx["bytes"],
                "rx_truncated": self.rx["truncated"], "rx_errors": self.rx["errors"],
                "tx_packets": self.tx["packets"], "tx_bytes": self.tx["bytes"], "tx_errors": self.tx["errors"],
                "rx_errno": self.rx["errno_last"], "tx_errno": self.tx["errno_last"]}


def read_batch(fd: int, batch, stats: TunStats) -> int:
    room = batch.slot_size - batch.headroom
    added = 0
    while batch.count < batch.capacity:
        i = batch.count
        try:
            data = os.read(fd, room)
        except BlockingIOError:
            break
        except InterruptedError:
            continue
        except OSError as exc:
            stats.rx["errors"] += 1
            stats.rx["errno_last"] = exc.errno
            break
        if not data:
            break
        if len(data) >= room:
            stats.rx["truncated"] += 1
            continue
        start = i * batch.slot_size + batch.headroom
        batch.buf[start:start + len(data)] = memoryview(data)
        batch.offset[i], batch.length[i] = start, len(data)
        batch.verdict[i], batch.reason[i], batch.aux[i] = 1, 0, 0
        batch.count = i + 1
        stats.rx["packets"] += 1
        stats.rx["bytes"] += len(data)
        added += 1
    return added


def write_batch(fd: int, batch, verdict: int, stats: TunStats) -> int:
    for i in range(batch.count):
        if verdict >= 0 and batch.verdict[i] != verdict:
            continue
        start = i * batch.slot_size
        off, n = int(batch.offset[i]), int(batch.length[i])
        if off < start or off + n > start + batch.slot_size:
            stats.tx["errors"] += 1
            stats.tx["errno_last"] = errno.EINVAL
            continue
        while True:
            try:
                written = os.write(fd, batch.buf[off:off + n].tobytes())
            except BlockingIOError:
                return i
            except InterruptedError:
                continue
            except OSError as exc:
                stats.tx["errors"] += 1
                stats.tx["errno_last"] = exc.errno
                break
            stats.tx["packets"] += 1
            stats.tx["bytes"] += written
            break
    return batch.count
