# cython: language_level=3
"""Data-path kernels in C (csrc/mip6_tunnel.c, csrc/mip6_route_opt.c) over a PacketBatch's numpy columns.

Thin: each kernel function is one C call over the whole batch with the GIL released. The C view of a
batch (pointers into its slab and columns, checked once) is made on first use and kept on the batch;
configurations, address lists and counter arrays are small objects made once by mip6fast.datapath.
Reference (and benchmark baseline): _datapath_py.py. Contract: docs/DATAPATH.md."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from datapath cimport (mip6_batch_t, mip6_tunnel_cfg_t, MIP6_R_COUNT, MIP6_V_COUNT, MIP6_V_PASS, MIP6_R_NONE,
                       mip6_reason_name, mip6_reason_text, mip6_reason_verdict, mip6_verdict_name,
                       MIP6_TUN_MIN_MTU, MIP6_TUN_MAX_MTU, MIP6_RO_MIN_MTU, MIP6_RO_MAX_MTU,
                       mip6_tunnel_encap_ha, mip6_tunnel_encap_fixed, mip6_tunnel_decap_ha, mip6_tunnel_decap_mn,
                       mip6_hao_insert, mip6_hao_process, mip6_rh2_insert, mip6_rh2_process)
from mip6fast._bcache cimport BindingTable

import numpy as np

TUN_ALLOW_SITE_LOCAL = 0x01
TUN_DEC_HOP_LIMIT = 0x02
TUN_MIN_MTU = MIP6_TUN_MIN_MTU
RO_MIN_MTU = MIP6_RO_MIN_MTU
MAX_MTU = MIP6_TUN_MAX_MTU
REASON_COUNT = MIP6_R_COUNT


def reason_names():
    """mip6_reason_t names in enum order (the Python DropReason enum must match them)."""
    return [mip6_reason_name(r).decode() for r in range(MIP6_R_COUNT)]


def reason_texts():
    return [mip6_reason_text(r).decode() for r in range(MIP6_R_COUNT)]


def reason_verdicts():
    return [mip6_reason_verdict(r) for r in range(MIP6_R_COUNT)]


def verdict_names():
    return [mip6_verdict_name(v).decode() for v in range(MIP6_V_COUNT)]


cdef class BatchView:
    """The C view (mip6_batch_t) of a PacketBatch: pointers into its slab and columns, checked once.
    Holds the arrays, so the pointers stay valid (numpy refuses to resize an array that is referenced).
    Declared in _datapath.pxd, so rings and TUN devices use the same view."""

    def __cinit__(self, batch):
        cdef uint8_t[::1] buf = batch.buf
        cdef uint32_t[::1] offset = batch.offset
        cdef uint32_t[::1] length = batch.length
        cdef uint8_t[::1] verdict = batch.verdict
        cdef uint8_t[::1] reason = batch.reason
        cdef uint32_t[::1] aux = batch.aux
        cdef Py_ssize_t capacity = batch.capacity, slot_size = batch.slot_size, headroom = batch.headroom
        if capacity < 1 or slot_size < 1 or not 0 <= headroom < slot_size:
            raise ValueError("bad batch geometry")
        if capacity * slot_size > (<Py_ssize_t>1 << 32) or buf.shape[0] != capacity * slot_size:
            raise ValueError("batch slab is not capacity * slot_size bytes")
        if (offset.shape[0] != capacity or length.shape[0] != capacity or verdict.shape[0] != capacity
                or reason.shape[0] != capacity or aux.shape[0] != capacity):
            raise ValueError("batch columns must have capacity entries")
        self._keep = (batch.buf, batch.offset, batch.length, batch.verdict, batch.reason, batch.aux)
        self.capacity = <uint32_t>capacity
        self.b.buf = &buf[0]
        self.b.slot_size = <uint32_t>slot_size
        self.b.headroom = <uint32_t>headroom
        self.b.count = 0
        self.b.offset = &offset[0]
        self.b.length = &length[0]
        self.b.verdict = &verdict[0]
        self.b.reason = &reason[0]
        self.b.aux = &aux[0]


cpdef BatchView view_of(batch):
    """The batch's C view, made on first use and kept on the batch."""
    v = batch._view
    if v is None:
        v = BatchView(batch)
        batch._view = v
    return <BatchView>v


cdef inline mip6_batch_t *_prepare(batch) except NULL:
    cdef BatchView v = view_of(batch)
    cdef Py_ssize_t n = batch.count
    if n < 0 or n > v.capacity:
        raise ValueError(f"batch count {n} is outside 0..{v.capacity}")
    v.b.count = <uint32_t>n
    return &v.b


cdef class Counters:
    """One uint64 counter per mip6_reason_t, added to by every kernel call it is passed to."""
    cdef uint64_t *ptr
    cdef readonly object array

    def __cinit__(self):
        self.array = np.zeros(MIP6_R_COUNT, dtype=np.uint64)
        cdef uint64_t[::1] a = self.array
        self.ptr = &a[0]

    def reset(self):
        self.array[:] = 0

    def tolist(self):
        return [int(x) for x in self.array]


cdef class Addresses:
    """A list of 16-byte addresses as one C array (home addresses)."""
    cdef bytes _data
    cdef const uint8_t *p
    cdef readonly uint32_t n

    def __cinit__(self, addresses):
        parts = [bytes(a) for a in addresses]
        for a in parts:
            if len(a) != 16:
                raise ValueError(f"expected 16-byte addresses, got {len(a)} bytes")
        self._data = b"".join(parts) + bytes(16)  # never empty, so the pointer is never NULL
        self.n = len(parts)
        self.p = <const uint8_t *>self._data


cdef inline int _check_u(object value, object lo, object hi, str name) except -1:
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return 0


cdef class TunnelConfig:
    """mip6_tunnel_cfg_t: outer source/destination, tunnel MTU, flow label, hop limit, flags."""
    cdef mip6_tunnel_cfg_t cfg

    def __cinit__(self, src, dst=bytes(16), unsigned long mtu=1500, unsigned long flow_label=0,
                  unsigned int hop_limit=64, unsigned int flags=0):
        cdef bytes s = bytes(src), d = bytes(dst)
        if len(s) != 16 or len(d) != 16:
            raise ValueError("src and dst must be 16-byte addresses")
        _check_u(mtu, MIP6_TUN_MIN_MTU, MIP6_TUN_MAX_MTU, "tunnel MTU")
        _check_u(flow_label, 0, 0xFFFFF, "flow label")
        _check_u(hop_limit, 1, 255, "hop limit")
        _check_u(flags, 0, 3, "flags")
        memcpy(self.cfg.src, <const char *>s, 16)
        memcpy(self.cfg.dst, <const char *>d, 16)
        self.cfg.mtu = <uint32_t>mtu
        self.cfg.flow_label = <uint32_t>flow_label
        self.cfg.hop_limit = <uint8_t>hop_limit
        self.cfg.flags = <uint8_t>flags


cdef inline int _table(BindingTable table, unsigned key_size) except -1:
    if table is None or table.ptr == NULL:
        raise ValueError("binding table is closed")
    if table.key_size != key_size:
        raise ValueError(f"this kernel needs a table with {key_size}-byte keys, got {table.key_size}")
    return 0


cdef inline object _result(int rc):
    if rc < 0:
        raise ValueError("kernel refused its configuration")
    return rc


def encapsulate_ha(batch, BindingTable table not None, TunnelConfig cfg not None, Counters counters not None):
    """Home agent tunnel entry: binding cache lookup of each destination, IPv6-in-IPv6 to the care-of
    address (mip6_tunnel_encap_ha). Returns the number of packets forwarded."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    _table(table, 16)
    table.begin_read()
    try:
        with nogil:
            rc = mip6_tunnel_encap_ha(b, table.ptr, &cfg.cfg, counters.ptr)
    finally:
        table.end_read()
    return _result(rc)


def encapsulate_fixed(batch, TunnelConfig cfg not None, Addresses homes not None, Counters counters not None):
    """Tunnel entry with a fixed outer source/destination (the mobile node's reverse tunnel); with home
    addresses, only packets from one of them (mip6_tunnel_encap_fixed)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    with nogil:
        rc = mip6_tunnel_encap_fixed(b, &cfg.cfg, homes.p, homes.n, counters.ptr)
    return _result(rc)


def decapsulate_ha(batch, BindingTable table not None, unsigned int flags, Counters counters not None):
    """Home agent tunnel exit: the outer source must be the inner source's care-of address
    (mip6_tunnel_decap_ha)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    _table(table, 16)
    table.begin_read()
    try:
        with nogil:
            rc = mip6_tunnel_decap_ha(b, table.ptr, flags, counters.ptr)
    finally:
        table.end_read()
    return _result(rc)


def decapsulate_mn(batch, home_agent, Addresses homes not None, unsigned int flags, Counters counters not None):
    """Mobile node tunnel exit: outer source the home agent, inner destination a home address
    (mip6_tunnel_decap_mn)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef const uint8_t[::1] ha = home_agent
    cdef int rc
    if ha.shape[0] != 16:
        raise ValueError("home_agent must be a 16-byte address")
    with nogil:
        rc = mip6_tunnel_decap_mn(b, &ha[0], homes.p, homes.n, flags, counters.ptr)
    return _result(rc)


def hao_insert(batch, BindingTable bul not None, unsigned long mtu, Counters counters not None):
    """Mobile node: Home Address option for packets with a route-optimised binding update list entry
    (key: peer then home address) (mip6_hao_insert)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    _table(bul, 32)
    _check_u(mtu, MIP6_RO_MIN_MTU, MIP6_RO_MAX_MTU, "MTU")
    bul.begin_read()
    try:
        with nogil:
            rc = mip6_hao_insert(b, bul.ptr, <uint32_t>mtu, counters.ptr)
    finally:
        bul.end_read()
    return _result(rc)


def hao_process(batch, BindingTable table not None, Counters counters not None):
    """Correspondent / home agent: check the Home Address option against the binding cache and swap
    (mip6_hao_process)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    _table(table, 16)
    table.begin_read()
    try:
        with nogil:
            rc = mip6_hao_process(b, table.ptr, counters.ptr)
    finally:
        table.end_read()
    return _result(rc)


def rh2_insert(batch, BindingTable table not None, unsigned long mtu, Counters counters not None):
    """Correspondent: Type 2 routing header for packets to a bound home address (mip6_rh2_insert)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    _table(table, 16)
    _check_u(mtu, MIP6_RO_MIN_MTU, MIP6_RO_MAX_MTU, "MTU")
    table.begin_read()
    try:
        with nogil:
            rc = mip6_rh2_insert(b, table.ptr, <uint32_t>mtu, counters.ptr)
    finally:
        table.end_read()
    return _result(rc)


def rh2_process(batch, Addresses homes not None, Counters counters not None):
    """Mobile node: check the Type 2 routing header and swap (mip6_rh2_process)."""
    cdef mip6_batch_t *b = _prepare(batch)
    cdef int rc
    with nogil:
        rc = mip6_rh2_process(b, homes.p, homes.n, counters.ptr)
    return _result(rc)


cdef class Snapshot:
    """A batch's state (PacketBatch.save) checked once against the batch, so that putting it back is a
    single C loop with no argument conversion: what benchmarks run between rounds."""
    cdef BatchView v
    cdef uint32_t count
    cdef object _keep
    cdef const uint32_t *offset
    cdef const uint32_t *length
    cdef const uint8_t *head
    cdef Py_ssize_t head_bytes

    def __cinit__(self, batch, state):
        cdef const uint32_t[::1] offset = state.offset
        cdef const uint32_t[::1] length = state.length
        cdef const uint8_t[:, ::1] head = state.head
        self.v = view_of(batch)
        _check_state(self.v, state.count, offset, length, head)
        self._keep = (state.offset, state.length, state.head)
        self.count = <uint32_t>state.count
        self.offset = &offset[0] if offset.shape[0] else NULL
        self.length = &length[0] if length.shape[0] else NULL
        self.head = &head[0, 0] if head.shape[0] and head.shape[1] else NULL
        self.head_bytes = head.shape[1]

    def restore(self):
        with nogil:
            _restore(&self.v.b, self.count, self.offset, self.length, self.head, self.head_bytes)


cdef int _check_state(BatchView v, Py_ssize_t count, const uint32_t[::1] offset, const uint32_t[::1] length,
                      const uint8_t[:, ::1] head) except -1:
    cdef Py_ssize_t i
    cdef uint64_t start, off, ln
    if count < 0 or count > v.capacity or offset.shape[0] < count or length.shape[0] < count \
            or head.shape[0] < count:
        raise ValueError("saved state does not match the batch")
    for i in range(count):
        start = <uint64_t>i * v.b.slot_size
        off = offset[i]
        ln = length[i]
        if off < start or off + ln > start + v.b.slot_size:
            raise ValueError(f"saved packet {i} lies outside its slot")
    return 0


cdef void _restore(mip6_batch_t *b, uint32_t count, const uint32_t *offset, const uint32_t *length,
                   const uint8_t *head, Py_ssize_t head_bytes) noexcept nogil:
    cdef uint32_t i
    cdef Py_ssize_t k
    for i in range(count):
        k = head_bytes if head_bytes < <Py_ssize_t>length[i] else <Py_ssize_t>length[i]
        if k > 0:
            memcpy(b.buf + offset[i], head + <Py_ssize_t>i * head_bytes, <size_t>k)
        b.offset[i] = offset[i]
        b.length[i] = length[i]
        b.verdict[i] = <uint8_t>MIP6_V_PASS
        b.reason[i] = <uint8_t>MIP6_R_NONE
        b.aux[i] = 0


def restore(BatchView v not None, Py_ssize_t count, const uint32_t[::1] offset, const uint32_t[::1] length,
            const uint8_t[:, ::1] head):
    """Put count packets back: offset/length columns, the first head.shape[1] bytes of each packet,
    verdict PASS, reason NONE, aux 0 (PacketBatch.restore)."""
    _check_state(v, count, offset, length, head)
    if count == 0:
        return
    with nogil:
        _restore(&v.b, <uint32_t>count, &offset[0], &length[0],
                 &head[0, 0] if head.shape[1] else NULL, head.shape[1])
