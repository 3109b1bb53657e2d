# cython: language_level=3
"""Binding cache table in C (csrc/mip6_bcache.c). Twin: _bcache_py.py.

A thin skin: BindingTable owns one mip6_bcache_t, takes keys as bytes (single calls) or (n, key_size)
uint8 arrays (batch calls, run without the GIL), and checks arguments with the twin's helpers so both
raise the same errors. The Python API over it is mip6fast.binding_cache.BindingCache."""
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memcpy, memset
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from shm cimport (mip6_shm_t, mip6_shm_write_begin, mip6_shm_write_end, mip6_shm_hung, mip6_shm_bc_counters,
                 mip6_shm_bc_update_held, MIP6_EHUNG)
from bcache cimport (mip6_bcache_t, mip6_binding_t, mip6_bcache_stats_t, mip6_bc_outcome_t, MIP6_BC_NOMEM,
                     mip6_bcache_new, mip6_bcache_free, mip6_bcache_len, mip6_bcache_memory,
                     mip6_bcache_entry_size, mip6_bcache_lookup, mip6_bcache_lookup_batch, mip6_bcache_entry,
                     mip6_bcache_update, mip6_bcache_delete, mip6_bcache_delete_if_newer, mip6_bcache_expire,
                     mip6_bcache_next, mip6_bcache_hash, mip6_bcache_stats, mip6_bcache_debug_fail_allocs,
                     mip6_bcache_seq_newer, mip6_siphash, mip6_bcache_hash_batch)

cimport numpy as cnp

import operator

import numpy as np

cnp.import_array()

from mip6fast._bcache_py import check_bytes, check_column, check_int, check_rows, check_seed

cdef uint64_t U64 = 0xFFFFFFFFFFFFFFFF


cdef cnp.ndarray _rows(object obj, Py_ssize_t width, str what):
    """obj as an (n, width) uint8 array whose rows may be strided but whose bytes within a row are
    contiguous: numpy arrays that already are pass through in a few checks (batch calls are made per
    packet batch, so this overhead counts); anything else goes through the twin's check_rows (same errors)."""
    cdef cnp.ndarray a
    if type(obj) is np.ndarray:
        a = <cnp.ndarray>obj
        if (cnp.PyArray_TYPE(a) == cnp.NPY_UINT8 and cnp.PyArray_NDIM(a) == 2 and cnp.PyArray_DIM(a, 1) == width
                and (cnp.PyArray_DIM(a, 0) == 0 or (cnp.PyArray_STRIDE(a, 1) == 1 and cnp.PyArray_STRIDE(a, 0) >= 0))
                and cnp.PyArray_DIM(a, 0) <= 0x7FFFFFFF):
            return a
    a = check_rows(obj, width, what)
    if cnp.PyArray_DIM(a, 0) and not (cnp.PyArray_STRIDE(a, 1) == 1 and cnp.PyArray_STRIDE(a, 0) >= 0):
        raise ValueError(f"{what}: the bytes of a row must be contiguous and rows in increasing order")
    return a


cdef inline const uint8_t *_row0(cnp.ndarray a):
    return <const uint8_t *>cnp.PyArray_DATA(a)


def seq_newer(seq, last):
    """RFC 6275 §9.5.1: seq is "greater than" last modulo 2^16 (the C rule the table applies)."""
    return mip6_bcache_seq_newer(check_int(seq, 0xFFFF, "seq"), check_int(last, 0xFFFF, "last")) != 0


def siphash(key, data, crounds=1, drounds=3):
    """SipHash-crounds-drounds of data (any length) under a 16-byte key: the C code the tables hash with
    (a table's hash(k) is siphash(seed, k, 1, 3)). For tests and benchmarks."""
    cdef bytes k = check_bytes(key, 16, "key")
    cdef bytes m = check_bytes(data, None, "data")
    cdef unsigned c = check_int(crounds, 64, "crounds"), d = check_int(drounds, 64, "drounds")
    return mip6_siphash(<const uint8_t *>PyBytes_AS_STRING(k), <const uint8_t *>PyBytes_AS_STRING(m),
                        <size_t>PyBytes_GET_SIZE(m), c, d)


def _fail_allocations_after(long n):
    """Test hook: the next n allocations of the C tables succeed, later ones fail (n < 0: never fail)."""
    mip6_bcache_debug_fail_allocs(n)


cdef class BindingTable:
    """A binding cache table keyed by key_size-byte keys (16: home address; 32: peer then home)."""

    def __cinit__(self, key_size=16, capacity=1024, seed=None):
        if key_size not in (16, 32):
            raise ValueError(f"key_size: must be 16 or 32, got {key_size!r}")
        cdef uint32_t cap = check_int(capacity, 0xFFFFFFFF, "capacity")
        cdef bytes s = check_seed(seed)
        self.key_size = key_size
        self.ptr = mip6_bcache_new(self.key_size, cap, <const uint8_t *>PyBytes_AS_STRING(s) if s is not None
                                   else NULL)
        if self.ptr == NULL:
            raise MemoryError(f"cannot allocate a binding cache for {cap} entries")

    @staticmethod
    def shared(tables):
        """The binding cache in ``tables`` (mip6fast._shm.SharedTables, which makes the table:
        SharedTables.binding_table), for the process that writes it: every mutation and every C call
        over it (the kernels add to its counters) holds the grace period, so no forwarding worker reads
        it half-written; a new binding beyond the tables' max_bindings is NOMEM; an entry's counters
        are summed with every worker's."""
        return tables.binding_table()

    @property
    def is_shared(self):
        return self.shm != NULL

    def __dealloc__(self):
        if self.shm == NULL:
            mip6_bcache_free(self.ptr)
        self.ptr = NULL

    def __len__(self):
        return mip6_bcache_len(self.ptr)

    def __repr__(self):
        return f"<BindingTable (C) key_size={self.key_size} len={len(self)}>"

    # ---- guards for work done without the GIL ----

    cdef int _grace(self) except -1:
        """Shared: the outermost guard takes the grace period (a worker stuck in a batch: the tables'
        on_hung kills it and the wait is retried; without on_hung, HungWorker)."""
        cdef int rc
        if self.shm == NULL:
            return 0
        if self._held == 0:
            while True:
                rc = mip6_shm_write_begin(self.shm)
                if rc == 0:
                    break
                if rc == MIP6_EHUNG:
                    self._shared._hung(mip6_shm_hung(self.shm))     # on_hung, or HungWorker raised
                    continue
                raise RuntimeError(f"shared binding cache: grace period refused ({rc})")
        self._held += 1
        return 0

    cdef void _ungrace(self) noexcept:
        if self.shm != NULL:
            self._held -= 1
            if self._held == 0:
                mip6_shm_write_end(self.shm, 0)

    cdef int begin_read(self) except -1:
        if self._writing:
            raise RuntimeError("binding table: a batch update is running in another thread")
        self._grace()       # shared: a kernel's "read" adds to the entries' counters
        self._readers += 1
        return 0

    cdef void end_read(self) noexcept:
        self._readers -= 1
        self._ungrace()

    cdef int begin_write(self) except -1:
        if self._writing or self._readers:
            raise RuntimeError("binding table: a batch call is running in another thread")
        self._grace()
        self._writing = 1
        return 0

    cdef void end_write(self) noexcept:
        self._writing = 0
        self._ungrace()

    cdef const uint8_t *_buf(self, object obj, unsigned size, unsigned at, str what) except NULL:
        """A pointer to size bytes of obj: into a bytes object directly, else copied to _kbuf[at:]."""
        if type(obj) is bytes and PyBytes_GET_SIZE(obj) == size:
            return <const uint8_t *>PyBytes_AS_STRING(obj)
        cdef bytes b = check_bytes(obj, size, what)
        memcpy(&self._kbuf[at], PyBytes_AS_STRING(b), size)
        return &self._kbuf[at]

    # ---- single keys ----

    def update(self, key, care_of, sequence, flags, expires_ns):
        """Insert or update under the RFC 6275 §9.5.1 sequence rule: (outcome, last_sequence, slot)."""
        cdef const uint8_t *k = self._buf(key, self.key_size, 0, "key")
        cdef const uint8_t *c = self._buf(care_of, 16, 32, "care_of")
        cdef uint16_t seq = check_int(sequence, 0xFFFF, "sequence")
        cdef uint16_t fl = check_int(flags, 0xFFFF, "flags")
        cdef uint64_t exp = check_int(expires_ns, U64, "expires_ns")
        cdef uint16_t last
        cdef int32_t slot
        cdef mip6_bc_outcome_t r
        self.begin_write()
        if self.shm != NULL:
            r = mip6_shm_bc_update_held(self.shm, k, c, seq, fl, exp, &last, &slot)
        else:
            r = mip6_bcache_update(self.ptr, k, c, seq, fl, exp, &last, &slot)
        self.end_write()
        return <int>r, last, slot

    @cython.always_allow_keywords(False)
    def lookup(self, key):
        """The slot of key's entry, or -1 (METH_O: this is the per-packet call of Python code)."""
        cdef const uint8_t *k = self._buf(key, self.key_size, 0, "key")
        if self._writing:
            raise RuntimeError("binding table: a batch update is running in another thread")
        return mip6_bcache_lookup(self.ptr, k)

    cdef tuple _entry_tuple(self, int32_t slot):
        cdef mip6_binding_t *e = mip6_bcache_entry(self.ptr, slot)
        if e == NULL:
            return None
        cdef uint64_t packets = e.packets, nbytes = e.bytes
        if self.shm != NULL:
            mip6_shm_bc_counters(self.shm, slot, &packets, &nbytes)     # the entry's and every worker's
        return (PyBytes_FromStringAndSize(<const char *>e.key, self.key_size),
                PyBytes_FromStringAndSize(<const char *>e.coa, 16), e.seq, e.flags, e.expiry_ns, packets,
                nbytes)

    def entry(self, slot):
        """(key, care_of, sequence, flags, expires_ns, packets, bytes) of a live slot, else None."""
        s = operator.index(slot)
        if self._writing:
            raise RuntimeError("binding table: a batch update is running in another thread")
        if not 0 <= s <= 0x7FFFFFFF:
            return None
        return self._entry_tuple(<int32_t>s)

    def get(self, key):
        cdef const uint8_t *k = self._buf(key, self.key_size, 0, "key")
        if self._writing:
            raise RuntimeError("binding table: a batch update is running in another thread")
        cdef int32_t s = mip6_bcache_lookup(self.ptr, k)
        return None if s < 0 else self._entry_tuple(s)

    def delete(self, key):
        cdef const uint8_t *k = self._buf(key, self.key_size, 0, "key")
        self.begin_write()
        cdef int r = mip6_bcache_delete(self.ptr, k)
        self.end_write()
        return r == 1

    def delete_if_newer(self, key, sequence):
        """Delete under the RFC 6275 §9.5.1 sequence rule: (outcome, last_sequence, slot); outcome DELETED,
        STALE (nothing changed, last_sequence the last accepted one) or ABSENT."""
        cdef const uint8_t *k = self._buf(key, self.key_size, 0, "key")
        cdef uint16_t seq = check_int(sequence, 0xFFFF, "sequence")
        cdef uint16_t last
        cdef int32_t slot
        self.begin_write()
        cdef mip6_bc_outcome_t r = mip6_bcache_delete_if_newer(self.ptr, k, seq, &last, &slot)
        self.end_write()
        return <int>r, last, slot

    def add_counters(self, slot, packets, nbytes):
        """Add to a live entry's packet and byte counters (modulo 2^64, as the C data path does)."""
        cdef uint64_t p = check_int(packets, U64, "packets")
        cdef uint64_t b = check_int(nbytes, U64, "nbytes")
        s = operator.index(slot)
        cdef mip6_binding_t *e = NULL
        if 0 <= s <= 0x7FFFFFFF:
            e = mip6_bcache_entry(self.ptr, <int32_t>s)
        if e == NULL:
            raise ValueError(f"slot {s} is not live")
        self.begin_write()
        e.packets = e.packets + p
        e.bytes = e.bytes + b
        self.end_write()

    def next(self, after):
        """The next live slot after `after` (-1 to start), or -1."""
        a = operator.index(after)
        if a >= 0x7FFFFFFF:
            return -1
        return mip6_bcache_next(self.ptr, <int32_t>max(a, -1))

    def expire(self, now_ns, max_batch=256):
        """Delete every entry with expires_ns <= now_ns; their keys in slot order (the C sweep is run in
        rounds of max_batch keys)."""
        cdef uint64_t now = check_int(now_ns, U64, "now_ns")
        cdef uint32_t m = check_int(max_batch, 0xFFFFFFFF, "max_batch")
        if m == 0:
            raise ValueError("max_batch: must be at least 1")
        if m > 65536:
            m = 65536
        cdef unsigned ks = self.key_size
        cdef bytearray buf = bytearray(m * ks)
        cdef uint8_t *p = buf
        cdef uint32_t got, i
        cdef list out = []
        self.begin_write()
        try:
            while True:
                got = mip6_bcache_expire(self.ptr, now, p, m)
                for i in range(got):
                    out.append(PyBytes_FromStringAndSize(<const char *>p + i * ks, ks))
                if got < m:
                    break
        finally:
            self.end_write()
        return out

    def expire_some(self, now_ns, max_keys):
        """One round of the sweep: delete up to max_keys entries with expires_ns <= now_ns, the first in
        slot order, and return their keys. Fewer than max_keys means the sweep is complete."""
        cdef uint64_t now = check_int(now_ns, U64, "now_ns")
        cdef uint32_t m = check_int(max_keys, 65536, "max_keys")
        if m == 0:
            raise ValueError("max_keys: must be at least 1")
        cdef unsigned ks = self.key_size
        cdef bytearray buf = bytearray(m * ks)
        cdef uint8_t *p = buf
        self.begin_write()
        cdef uint32_t got = mip6_bcache_expire(self.ptr, now, p, m)
        self.end_write()
        return [PyBytes_FromStringAndSize(<const char *>p + i * ks, ks) for i in range(got)]

    def hash(self, key):
        """The table's keyed 64-bit hash of key."""
        return mip6_bcache_hash(self.ptr, self._buf(key, self.key_size, 0, "key"))

    # ---- batches ----

    def hash_batch(self, keys):
        """uint64 hashes of an (n, key_size) uint8 array of keys, computed as lookup_batch computes them."""
        cdef cnp.ndarray kv = _rows(keys, self.key_size, "keys")
        cdef cnp.npy_intp n = cnp.PyArray_DIM(kv, 0)
        cdef cnp.ndarray ov = cnp.PyArray_EMPTY(1, &n, cnp.NPY_UINT64, 0)
        if n == 0:
            return ov
        cdef const uint8_t *kp = _row0(kv)
        cdef size_t stride = cnp.PyArray_STRIDE(kv, 0)
        cdef uint64_t *op = <uint64_t *>cnp.PyArray_DATA(ov)
        with nogil:
            mip6_bcache_hash_batch(self.ptr, kp, stride, <uint32_t>n, op)
        return ov

    def lookup_batch(self, keys, out=None):
        """int32 slots (or -1) of an (n, key_size) uint8 array of keys; rows may be strided (a column of
        addresses inside a packet slab). out: an int32 array to fill instead of a new one."""
        cdef cnp.ndarray kv = _rows(keys, self.key_size, "keys")
        cdef cnp.npy_intp n = cnp.PyArray_DIM(kv, 0)
        cdef cnp.ndarray ov
        if out is None:
            ov = cnp.PyArray_EMPTY(1, &n, cnp.NPY_INT32, 0)
        elif (type(out) is np.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>out) == cnp.NPY_INT32
              and cnp.PyArray_NDIM(<cnp.ndarray>out) == 1 and cnp.PyArray_DIM(<cnp.ndarray>out, 0) >= n
              and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out)
              and (cnp.PyArray_DIM(<cnp.ndarray>out, 0) <= 1 or cnp.PyArray_STRIDE(<cnp.ndarray>out, 0) == 4)):
            ov = <cnp.ndarray>out
        else:
            raise ValueError(f"out: expected a writable contiguous int32 array of at least {n} items")
        if n == 0:
            return ov
        cdef const uint8_t *kp = _row0(kv)
        cdef size_t stride = cnp.PyArray_STRIDE(kv, 0)
        cdef int32_t *op = <int32_t *>cnp.PyArray_DATA(ov)
        self.begin_read()
        with nogil:
            mip6_bcache_lookup_batch(self.ptr, kp, stride, <uint32_t>n, op)
        self.end_read()
        return ov if cnp.PyArray_DIM(ov, 0) == n else ov[:n]

    def care_of_batch(self, keys):
        """((n, 16) uint8 care-of addresses, bool hit mask) for an (n, key_size) array of keys; rows of
        misses are zero."""
        cdef cnp.ndarray kv = _rows(keys, self.key_size, "keys")
        cdef Py_ssize_t n = cnp.PyArray_DIM(kv, 0), i
        coa = np.zeros((n, 16), dtype=np.uint8)
        mask = np.zeros(n, dtype=np.bool_)
        slots = np.empty(n, dtype=np.int32)
        if n == 0:
            return coa, mask
        cdef uint8_t *cp = <uint8_t *>cnp.PyArray_DATA(coa)
        cdef uint8_t *mp = <uint8_t *>cnp.PyArray_DATA(mask)
        cdef int32_t *sp = <int32_t *>cnp.PyArray_DATA(slots)
        cdef const uint8_t *kp = _row0(kv)
        cdef size_t stride = cnp.PyArray_STRIDE(kv, 0)
        cdef mip6_binding_t *e
        self.begin_read()
        with nogil:
            mip6_bcache_lookup_batch(self.ptr, kp, stride, <uint32_t>n, sp)
            for i in range(n):
                if sp[i] >= 0:
                    e = mip6_bcache_entry(self.ptr, sp[i])
                    memcpy(cp + 16 * i, e.coa, 16)
                    mp[i] = 1
        self.end_read()
        return coa, mask

    def update_batch(self, keys, care_of, sequences, flags, expires_ns):
        """update() over n rows without the GIL; scalars for sequences, flags, expires_ns apply to every row.
        Returns (outcome uint8, last_sequence uint16, slot int32) arrays."""
        cdef cnp.ndarray kv = _rows(keys, self.key_size, "keys")
        cdef Py_ssize_t n = cnp.PyArray_DIM(kv, 0), i
        cdef cnp.ndarray cv = _rows(care_of, 16, "care_of")
        if cnp.PyArray_DIM(cv, 0) != n:
            raise ValueError(f"care_of: expected {n} rows, got {cnp.PyArray_DIM(cv, 0)}")
        cdef const uint16_t[::1] sv = check_column(sequences, n, np.uint16, 0xFFFF, "sequences")
        cdef const uint16_t[::1] fv = check_column(flags, n, np.uint16, 0xFFFF, "flags")
        cdef const uint64_t[::1] ev = check_column(expires_ns, n, np.uint64, U64, "expires_ns")
        outcome = np.empty(n, dtype=np.uint8)
        last = np.empty(n, dtype=np.uint16)
        slots = np.empty(n, dtype=np.int32)
        if n == 0:
            return outcome, last, slots
        cdef uint8_t[::1] ov = outcome
        cdef uint16_t[::1] lv = last
        cdef int32_t[::1] slv = slots
        cdef const uint8_t *kp = _row0(kv)
        cdef const uint8_t *cp = _row0(cv)
        cdef size_t kstride = cnp.PyArray_STRIDE(kv, 0), cstride = cnp.PyArray_STRIDE(cv, 0)
        cdef mip6_shm_t *shm = self.shm
        self.begin_write()
        with nogil:
            for i in range(n):
                if shm != NULL:
                    ov[i] = <uint8_t>mip6_shm_bc_update_held(shm, kp + i * kstride, cp + i * cstride, sv[i], fv[i],
                                                             ev[i], &lv[i], &slv[i])
                else:
                    ov[i] = <uint8_t>mip6_bcache_update(self.ptr, kp + i * kstride, cp + i * cstride, sv[i],
                                                        fv[i], ev[i], &lv[i], &slv[i])
        self.end_write()
        return outcome, last, slots

    # ---- size ----

    def entry_size(self):
        """Bytes per entry in the C entry array (60 for 16-byte keys, 76 for 32)."""
        return mip6_bcache_entry_size(self.ptr)

    def memory(self):
        """Bytes held by the table: entry array, index (both while growing), live bitmap."""
        return mip6_bcache_memory(self.ptr)

    def stats(self):
        """The index's shape (for tests and tuning); max_probe costs a pass over the table."""
        cdef mip6_bcache_stats_t s
        mip6_bcache_stats(self.ptr, &s)
        return {"len": s.len, "high_water": s.high_water, "entry_capacity": s.entry_capacity,
                "free_slots": s.free_slots, "nbuckets": s.nbuckets, "used": s.used, "tombstones": s.tombstones,
                "old_nbuckets": s.old_nbuckets, "old_remaining": s.old_remaining, "max_probe": s.max_probe}
