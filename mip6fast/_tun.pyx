# cython: language_level=3
"""TUN devices in C (csrc/mip6_tun.c): open, and read/write a whole PacketBatch per call with the GIL
released. mip6fast.io.tun wraps this in TunDevice."""
from libc.stdint cimport uint32_t
from libc.string cimport memset
from tun cimport (mip6_batch_t, mip6_tun_stats_t, MIP6_TUN_NAME_MAX, mip6_tun_open, mip6_tun_read_batch,
                  mip6_tun_write_batch)
from mip6fast._datapath cimport BatchView, view_of


def open_tun(str name):
    """(fd, actual name), or raises OSError(errno) from the kernel's answer."""
    cdef bytes raw = name.encode()
    cdef char out[16]
    cdef int err = 0
    cdef int fd
    memset(out, 0, sizeof(out))
    if b"\0" in raw:
        raise ValueError("interface name contains NUL")
    fd = mip6_tun_open(raw, out, &err)
    if fd < 0:
        raise OSError(err, name)
    return fd, (<bytes>out).decode()


cdef class TunStats:
    """Running totals of the reads and writes made through one device (both directions apart)."""
    cdef mip6_tun_stats_t rx
    cdef mip6_tun_stats_t tx

    def as_dict(self):
        return {"rx_packets": self.rx.packets, "rx_bytes": self.rx.bytes,
                "rx_truncated": self.rx.truncated, "rx_errors": self.rx.errors,
                "tx_packets": self.tx.packets, "tx_bytes": self.tx.bytes, "tx_errors": self.tx.errors,
                "rx_errno": self.rx.errno_last, "tx_errno": self.tx.errno_last}


cdef mip6_batch_t *_view(batch) except NULL:
    """The batch's C view (kept on the batch) with its count set."""
    cdef BatchView v = view_of(batch)
    cdef Py_ssize_t count = batch.count
    if not 0 <= count <= v.capacity:
        raise ValueError(f"batch count {count} is outside 0..{v.capacity}")
    v.b.count = <uint32_t>count
    return &v.b


def read_batch(int fd, batch, TunStats stats):
    """Append what the device has to the batch (never blocks); returns how many were appended."""
    cdef mip6_batch_t *b = _view(batch)
    cdef uint32_t capacity = <uint32_t>batch.capacity
    cdef uint32_t added
    with nogil:
        added = mip6_tun_read_batch(fd, b, capacity, &stats.rx)
    batch.count = b.count
    return added


def write_batch(int fd, batch, int verdict, TunStats stats):
    """Write the batch's packets (those with ``verdict``, or all when it is negative); returns the index
    of the first packet not written because the device queue was full (batch.count when none)."""
    cdef mip6_batch_t *b = _view(batch)
    cdef uint32_t stop
    with nogil:
        stop = mip6_tun_write_batch(fd, b, verdict, &stats.tx)
    return stop
