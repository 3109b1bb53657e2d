# cython: language_level=3
"""AF_PACKET rings in C (csrc/mip6_ring.c) over PacketBatch columns; the user-facing class is
mip6fast.io.ring.PacketRing, which turns RingFailure into named RingError exceptions.

Thin: every I/O call is one C call with the GIL released (it may sleep in poll). No pure-Python twin:
rings are Linux kernel objects, there is nothing to fall back to."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memset
from datapath cimport mip6_batch_t, MIP6_V_COUNT
from mip6fast._datapath cimport BatchView, view_of
from ring cimport (mip6_ring_t, mip6_ring_cfg_t, mip6_ring_err_t, mip6_ring_stats_t, mip6_ring_counters_t,
                   mip6_reflect_result_t, mip6_ring_cfg_default, mip6_ring_open, mip6_ring_recv, mip6_ring_send,
                   mip6_ring_tx_in_flight, mip6_ring_stats, mip6_ring_close, mip6_ring_reflect,
                   mip6_ring_rx_window, mip6_ring_rx_release, mip6_ring_shutdown, MIP6_RING_V2_DEFAULT_RESERVE,
                   MIP6_RING_ENOIF, MIP6_RING_EPERM, MIP6_RING_EGEOMETRY, MIP6_RING_ESYS, MIP6_RING_EINVAL,
                   MIP6_RING_FANOUT_NONE, MIP6_RING_FANOUT_HASH, MIP6_RING_FANOUT_LB, MIP6_RING_FANOUT_CPU)

ENOIF = MIP6_RING_ENOIF
EPERM = MIP6_RING_EPERM
EGEOMETRY = MIP6_RING_EGEOMETRY
ESYS = MIP6_RING_ESYS
EINVAL = MIP6_RING_EINVAL
FANOUT_MODES = {"hash": MIP6_RING_FANOUT_HASH, "lb": MIP6_RING_FANOUT_LB, "cpu": MIP6_RING_FANOUT_CPU}
V2_DEFAULT_RESERVE = MIP6_RING_V2_DEFAULT_RESERVE


def defaults():
    """The C defaults (mip6_ring_cfg_default) as a dict of the geometry keyword arguments."""
    cdef mip6_ring_cfg_t c
    mip6_ring_cfg_default(&c)
    return {"block_size": c.block_size, "block_count": c.block_count, "frame_size": c.frame_size,
            "block_timeout_ms": c.block_timeout_ms, "tx_frames": c.tx_frame_count,
            "qdisc_bypass": bool(c.qdisc_bypass), "ignore_outgoing": bool(c.ignore_outgoing)}


class RingFailure(Exception):
    """A C call failed: code (MIP6_RING_E*), errno, the step and a static reason."""

    def __init__(self, code, errno, step, reason):
        super().__init__(code, errno, step, reason)
        self.code = code
        self.errno = errno
        self.step = step
        self.reason = reason


cdef object _failure(mip6_ring_err_t *err):
    return RingFailure(err.code, err.sys_errno, err.step.decode() if err.step != NULL else "",
                       err.reason.decode() if err.reason != NULL else "")


cdef dict _counters(mip6_ring_counters_t *c):
    return {"rx_frames": c.rx_frames, "rx_bytes": c.rx_bytes, "rx_oversize": c.rx_oversize,
            "rx_blocks": c.rx_blocks, "tx_frames": c.tx_frames, "tx_bytes": c.tx_bytes,
            "tx_rejected": c.tx_rejected, "tx_kicks": c.tx_kicks, "tx_full": c.tx_full,
            "tx_wrong_format": c.tx_wrong_format, "rx_outgoing": c.rx_outgoing, "rx_windows": c.rx_windows}


cdef class Ring:
    """One packet socket with its rings, bound to one interface (mip6_ring_t)."""
    cdef mip6_ring_t r
    cdef bint is_open
    cdef int busy
    cdef bint exported   # an RxMemory was made: the mapping lives as long as this object

    def __cinit__(self):
        memset(&self.r, 0, sizeof(self.r))
        self.r.fd = -1
        self.is_open = False
        self.busy = 0
        self.exported = False

    def __init__(self, str interface, *, bint rx=True, bint tx=True, uint32_t block_size, uint32_t block_count,
                 uint32_t frame_size, uint32_t block_timeout_ms, uint32_t tx_frames, bint qdisc_bypass,
                 bint ignore_outgoing, fanout=None, uint16_t fanout_group=0, int version=3,
                 uint32_t rx_reserve=0):
        cdef mip6_ring_cfg_t cfg
        cdef mip6_ring_err_t err
        mip6_ring_cfg_default(&cfg)
        cfg.rx = rx
        cfg.tx = tx
        cfg.block_size = block_size
        cfg.block_count = block_count
        cfg.frame_size = frame_size
        cfg.block_timeout_ms = block_timeout_ms
        cfg.tx_frame_count = tx_frames
        cfg.qdisc_bypass = qdisc_bypass
        cfg.ignore_outgoing = ignore_outgoing
        if fanout is None:
            cfg.fanout_mode = MIP6_RING_FANOUT_NONE
        else:
            if fanout not in FANOUT_MODES:
                raise ValueError(f"fanout must be one of {sorted(FANOUT_MODES)}, got {fanout!r}")
            cfg.fanout_mode = FANOUT_MODES[fanout]
        cfg.fanout_group = fanout_group
        cfg.version = version
        cfg.rx_reserve = rx_reserve
        name = interface.encode()
        if b"\0" in name:
            raise ValueError("interface name contains a NUL byte")
        cdef const char *cname = name
        if mip6_ring_open(&self.r, cname, &cfg, &err) < 0:
            raise _failure(&err)
        self.is_open = True

    def __dealloc__(self):
        # Unmaps too after a close() that kept the mapping for the views of it (safe twice).
        mip6_ring_close(&self.r)


    cdef int _enter(self) except -1:
        if not self.is_open:
            raise RingFailure(MIP6_RING_EINVAL, 0, "use", "the ring is closed")
        self.busy += 1
        return 0

    @property
    def closed(self):
        return not self.is_open

    @property
    def ifindex(self):
        return self.r.ifindex

    @property
    def mtu(self):
        return self.r.mtu

    @property
    def geometry(self):
        return {"block_size": self.r.rx_block_size, "block_count": self.r.rx_block_count,
                "tx_frame_size": self.r.tx_frame_size, "tx_frames": self.r.tx_frame_count,
                "rx_frame_size": self.r.rx_frame_size, "rx_frames": self.r.rx_frame_count}

    @property
    def in_place(self):
        """A TPACKET_V2 receive ring: frames can be handed out where they lie (rx_window)."""
        return self.r.rx_ring != NULL and self.r.version == 1   # TPACKET_V2 is 1 in linux/if_packet.h

    def rx_memory(self):
        """The receive ring's frames as a writable buffer (RxMemory). The mapping then lives until
        this object is gone, even after close(): a view can never outlive it."""
        if not self.is_open:
            raise RingFailure(MIP6_RING_EINVAL, 0, "receive window", "the ring is closed")
        if not self.in_place:
            raise RingFailure(MIP6_RING_EINVAL, 0, "receive window", "receiving in place needs a TPACKET_V2 ring")
        self.exported = True
        return RxMemory(self)

    def rx_window(self, uint32_t[::1] offset not None, uint32_t[::1] length not None, uint8_t[::1] verdict not None,
                  uint8_t[::1] reason not None, uint32_t[::1] aux not None, int timeout_ms=0):
        """The frames ready at the receive head, in place, into these columns (as many as they hold):
        (first frame index, n, headroom of the first frame). Held until rx_release()."""
        cdef Py_ssize_t room = min(offset.shape[0], length.shape[0], verdict.shape[0], reason.shape[0],
                                   aux.shape[0])
        cdef mip6_batch_t b
        cdef mip6_ring_err_t err
        cdef uint32_t first = 0
        cdef int n
        if room < 1:
            raise ValueError("the columns hold no entry")
        cdef uint32_t most = <uint32_t>(room if room < 0xFFFFFFFF else 0xFFFFFFFF)
        memset(&b, 0, sizeof(b))
        b.offset = &offset[0]
        b.length = &length[0]
        b.verdict = &verdict[0]
        b.reason = &reason[0]
        b.aux = &aux[0]
        self._enter()
        try:
            with nogil:
                n = mip6_ring_rx_window(&self.r, &b, most, timeout_ms, &first, &err)
        finally:
            self.busy -= 1
        if n < 0:
            raise _failure(&err)
        return first, n, b.headroom

    def rx_release(self):
        """Give the held window's frames back to the kernel."""
        if self.is_open:
            mip6_ring_rx_release(&self.r)

    @property
    def rx_held(self):
        return self.r.rx_held

    def fileno(self):
        if not self.is_open:
            raise RingFailure(MIP6_RING_EINVAL, 0, "fileno", "the ring is closed")
        return self.r.fd

    def receive(self, batch, int timeout_ms=0, max_frames=None):
        """Frames appended to batch (slots count.. up to capacity; batch.count grows by n); waits up to
        timeout_ms when none is ready. Returns n."""
        cdef BatchView v = view_of(batch)
        cdef mip6_batch_t *b = &v.b
        cdef Py_ssize_t start = batch.count
        cdef uint32_t cap = v.capacity
        if start < 0 or start > cap:
            raise ValueError(f"batch count {start} is outside 0..{cap}")
        cdef uint32_t room = cap - <uint32_t>start
        cdef uint32_t most = room
        if max_frames is not None and max_frames < room:
            most = <uint32_t>max(int(max_frames), 0)
        cdef mip6_ring_err_t err
        cdef int n
        self._enter()
        try:
            with nogil:
                n = mip6_ring_recv(&self.r, b, <uint32_t>start, most, timeout_ms, &err)
        finally:
            self.busy -= 1
        if n < 0:
            raise _failure(&err)
        batch.count = start + n
        return n

    def send(self, batch, verdict=None, int timeout_ms=1000):
        """Queue batch packets (all, or those with this verdict) and kick once; returns how many went."""
        cdef BatchView view = view_of(batch)
        cdef mip6_batch_t *b = &view.b
        cdef Py_ssize_t count = batch.count
        cdef int v = -1 if verdict is None else int(verdict)
        cdef mip6_ring_err_t err
        cdef int n
        if count < 0 or count > view.capacity:
            raise ValueError(f"batch count {count} is outside 0..{view.capacity}")
        if verdict is not None and not 0 <= v < MIP6_V_COUNT:
            raise ValueError(f"verdict must be in 0..{MIP6_V_COUNT - 1}, got {verdict!r}")
        b.count = <uint32_t>count
        self._enter()
        try:
            with nogil:
                n = mip6_ring_send(&self.r, b, v, timeout_ms, &err)
        finally:
            self.busy -= 1
        if n < 0:
            raise _failure(&err)
        return n

    def tx_in_flight(self):
        if not self.is_open:
            return 0
        return mip6_ring_tx_in_flight(&self.r)

    def counters(self):
        """The ring's own counters (no system call, unlike stats())."""
        return _counters(&self.r.c)

    def stats(self):
        cdef mip6_ring_stats_t st
        cdef mip6_ring_err_t err
        if not self.is_open:
            raise RingFailure(MIP6_RING_EINVAL, 0, "statistics", "the ring is closed")
        if mip6_ring_stats(&self.r, &st, &err) < 0:
            raise _failure(&err)
        out = {"packets": st.packets, "drops": st.drops, "freeze_count": st.freeze_count}
        out.update(_counters(&st.c))
        return out

    def close(self):
        if self.busy:
            raise RingFailure(MIP6_RING_EINVAL, 0, "close", "the ring is in use by another thread")
        if self.is_open:
            if self.exported:
                mip6_ring_shutdown(&self.r)     # views of the frames may remain: unmapped at dealloc
            else:
                mip6_ring_close(&self.r)
            self.is_open = False


cdef class RxMemory:
    """A TPACKET_V2 receive ring's frames, exported as one writable byte buffer (for numpy). Holds its
    Ring, whose mapping therefore outlives every view."""
    cdef Ring ring
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __cinit__(self, Ring ring not None):
        self.ring = ring
        self.shape[0] = <Py_ssize_t>ring.r.rx_frame_size * ring.r.rx_frame_count
        self.strides[0] = 1

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        buffer.buf = <void *>self.ring.r.rx_ring
        buffer.obj = self
        buffer.len = self.shape[0]
        buffer.readonly = 0
        buffer.itemsize = 1
        buffer.format = "B"
        buffer.ndim = 1
        buffer.shape = self.shape
        buffer.strides = self.strides
        buffer.suboffsets = NULL
        buffer.internal = NULL

    def __releasebuffer__(self, Py_buffer *buffer):
        pass


def reflect(Ring rx, Ring tx, uint64_t max_frames=0, uint64_t duration_ns=1000000000):
    """Frames received on rx go out of tx unchanged, ring to ring in C (the raw I/O baseline)."""
    cdef mip6_reflect_result_t res
    cdef mip6_ring_err_t err
    cdef int rc
    rx._enter()
    try:
        tx._enter()
        try:
            with nogil:
                rc = mip6_ring_reflect(&rx.r, &tx.r, max_frames, duration_ns, &res, &err)
        finally:
            tx.busy -= 1
    finally:
        rx.busy -= 1
    if rc < 0:
        raise _failure(&err)
    return {"rx_frames": res.rx_frames, "tx_frames": res.tx_frames, "bytes": res.bytes,
            "dropped": res.dropped, "elapsed_ns": res.elapsed_ns}
