# cython: language_level=3
"""The home agent's tables in one shared mapping for its forwarding workers (csrc/mip6_shm.c).

Thin: ``SharedTables`` makes the mapping (before the workers are forked, so it sits at the same
address in each) and is the writer's handle: every mutation is one C call inside a grace period
(mip6_shm.h says why), with the GIL released while it waits for the workers to leave their batches.
``WorkerGraph`` is a worker's home-agent graph over those tables: ``run`` is one C call per batch.
A worker stuck in a batch longer than ``hung_timeout`` makes a write raise ``HungWorker``: the caller
kills and reaps it, calls ``worker_dead(index)`` and retries. Contract: csrc/mip6_shm.h."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from bcache cimport mip6_binding_t, mip6_bc_outcome_t, mip6_bcache_len, mip6_bcache_lookup, mip6_bcache_entry, mip6_bcache_next
from datapath cimport mip6_batch_t, mip6_tunnel_cfg_t
from graph cimport (mip6_graph_iface_t, mip6_graph_out_t, mip6_adj_entry_t, mip6_adj_len, mip6_adj_find,
                    MIP6_GRAPH_MAX_IFACES, MIP6_GRAPH_MAX_ROUTES, MIP6_GRAPH_NO_IF, MIP6_SLOW_COUNT, MIP6_GC_COUNT,
                    MIP6_R_COUNT, mip6_slow_kind_name, mip6_graph_counter_name)
from shm cimport *
from mip6fast._datapath cimport BatchView, view_of
from mip6fast._graph cimport _GraphResults
from mip6fast._bcache cimport BindingTable
from bcache cimport mip6_bcache_free

import os

import numpy as np

MAX_WORKERS = MIP6_SHM_MAX_WORKERS
USER_COUNTERS = MIP6_SHM_USER
SLOW_KINDS = tuple(mip6_slow_kind_name(k).decode() for k in range(MIP6_SLOW_COUNT))
COUNTER_NAMES = tuple(mip6_graph_counter_name(k).decode() for k in range(MIP6_GC_COUNT))
R_COUNT = MIP6_R_COUNT


class HungWorker(RuntimeError):
    """A write gave up: worker ``index`` stayed inside one batch longer than the hung timeout. Kill and
    reap it, call ``SharedTables.worker_dead(index)``, then retry (csrc/mip6_shm.h, "A hung worker")."""

    def __init__(self, index):
        super().__init__(f"forwarding worker {index} is hung inside a batch")
        self.index = index


cdef bytes _addr(object value, str what):
    cdef bytes a = bytes(value)
    if len(a) != 16:
        raise ValueError(f"{what}: expected a 16-byte address, got {len(a)} bytes")
    return a


cdef dict _counts_dict(mip6_shm_counts_t *c):
    return {
        "graph": {COUNTER_NAMES[k]: c.graph[k] for k in range(MIP6_GC_COUNT)},
        "drops": {r: c.drops[r] for r in range(MIP6_R_COUNT) if c.drops[r]},
        "slow": {SLOW_KINDS[k]: c.slow_kinds[k] for k in range(MIP6_SLOW_COUNT)},
        "encap": np.array([c.encap[r] for r in range(MIP6_R_COUNT)], dtype=np.uint64),
        "decap": np.array([c.decap[r] for r in range(MIP6_R_COUNT)], dtype=np.uint64),
        "batches": c.batches,
        "backoffs": c.backoffs,
        "restarts": c.restarts,
        "lost": c.lost,
        "user": [c.user[k] for k in range(MIP6_SHM_USER)],
    }


cdef class SharedTables:
    """The shared mapping: binding cache (16-byte keys), adjacency table, small tables, per-worker
    counters. ``size`` bytes are reserved (MAP_NORESERVE: only what the tables touch is used).
    ``on_hung``: None (a write that finds a hung worker raises HungWorker) or a callable(index) that
    kills and reaps that worker and calls ``worker_dead(index)``; the write is then retried."""
    def __cinit__(self, unsigned int workers=1, unsigned long max_bindings=65536, unsigned long adj_max=65536,
                  size=None, double hung_timeout=1.0, seed=None, adj_seed=None):
        cdef bytes bs = None, as_ = None
        if not 1 <= workers <= MIP6_SHM_MAX_WORKERS:
            raise ValueError(f"workers must be in 1..{MIP6_SHM_MAX_WORKERS}, got {workers}")
        if not 1 <= max_bindings <= 805306368:
            raise ValueError("max_bindings out of range")
        if not 1 <= adj_max <= (1 << 24):
            raise ValueError("adj_max out of range")
        if not hung_timeout > 0:
            raise ValueError("hung_timeout must be positive")
        if seed is not None:
            bs = bytes(seed)
            if len(bs) != 16:
                raise ValueError("seed must be 16 bytes")
        if adj_seed is not None:
            as_ = bytes(adj_seed)
            if len(as_) != 16:
                raise ValueError("adj_seed must be 16 bytes")
        if size is None:
            # The entries (60 B) and index (4 B a bucket, up to 2 per entry while growing) at the bound,
            # rounded up by the power-of-two classes, the adjacency array, the workers' slot counters.
            size = (64 << 20) + 4 * max_bindings * 64 + 64 * adj_max + 16 * workers * max_bindings
        self.s = mip6_shm_create(<size_t>size, workers, <uint32_t>max_bindings, <uint32_t>adj_max,
                                 <const uint8_t *>bs if bs is not None else NULL,
                                 <const uint8_t *>as_ if as_ is not None else NULL,
                                 <uint64_t>(hung_timeout * 1e9))
        if self.s == NULL:
            raise MemoryError("shared tables: mmap or arena allocation failed")
        self.workers = workers
        self.max_bindings = <uint32_t>max_bindings
        self.creator_pid = os.getpid()

    def __dealloc__(self):
        if self.s != NULL:
            mip6_shm_destroy(self.s)
            self.s = NULL

    cdef mip6_shm_t *_s(self) except NULL:
        if self.s == NULL:
            raise ValueError("shared tables are closed")
        return self.s

    cdef bint _recover(self, int rc) except -1:
        """After MIP6_EHUNG, with an ``on_hung(index)`` set (it kills and reaps the worker and calls
        ``worker_dead``): True, retry the write. Otherwise False."""
        if rc != MIP6_EHUNG or self.on_hung is None:
            return False
        self.on_hung(mip6_shm_hung(self.s))
        return True

    cdef int _check(self, int rc) except -1:
        if rc == MIP6_EHUNG:
            raise HungWorker(mip6_shm_hung(self.s))
        if rc == -2:
            raise MemoryError("shared arena is full")
        if rc != 0:
            raise ValueError(f"shared tables refused the change ({rc})")
        return 0

    # ---- the binding cache (RFC 6275 §9.1, §9.5.1) -------------------------------------------------------

    def __len__(self):
        return mip6_bcache_len(mip6_shm_cache(self._s()))

    def update(self, home, care_of, unsigned int sequence, unsigned int flags, uint64_t expires_ns):
        """(outcome, last_seq, slot) as BindingTable.update; a new binding past max_bindings is NOMEM."""
        cdef bytes k = _addr(home, "home")
        cdef bytes c = _addr(care_of, "care_of")
        cdef mip6_bc_outcome_t out
        cdef uint16_t last
        cdef int32_t slot
        cdef int rc
        cdef mip6_shm_t *s = self._s()
        if sequence > 0xFFFF or flags > 0xFFFF:
            raise ValueError("sequence and flags are 16-bit")
        cdef const uint8_t *kp = k
        cdef const uint8_t *cp = c
        while True:
            with nogil:
                rc = mip6_shm_bc_update(s, kp, cp, <uint16_t>sequence, <uint16_t>flags, expires_ns, &out, &last, &slot)
            if not self._recover(rc):
                break
        self._check(rc)
        return int(out), last, slot

    def delete(self, home):
        cdef bytes k = _addr(home, "home")
        cdef int done = 0, rc
        cdef mip6_shm_t *s = self._s()
        cdef const uint8_t *kp = k
        while True:
            with nogil:
                rc = mip6_shm_bc_delete(s, kp, &done)
            if not self._recover(rc):
                break
        self._check(rc)
        return done == 1

    def delete_if_newer(self, home, unsigned int sequence):
        cdef bytes k = _addr(home, "home")
        cdef mip6_bc_outcome_t out
        cdef uint16_t last
        cdef int32_t slot
        cdef int rc
        cdef mip6_shm_t *s = self._s()
        if sequence > 0xFFFF:
            raise ValueError("sequence is 16-bit")
        cdef const uint8_t *kp = k
        while True:
            with nogil:
                rc = mip6_shm_bc_delete_if_newer(s, kp, <uint16_t>sequence, &out, &last, &slot)
            if not self._recover(rc):
                break
        self._check(rc)
        return int(out), last, slot

    def expire(self, uint64_t now_ns, unsigned int max_batch=256):
        """Every binding with expiry <= now_ns deleted; their homes, in max_batch-sized grace periods."""
        cdef bytearray buf = bytearray(16 * max(max_batch, 1))
        cdef uint8_t *p = buf
        cdef uint32_t got = 0, m = max(max_batch, 1)
        cdef int rc
        cdef mip6_shm_t *s = self._s()
        out = []
        while True:
            while True:
                with nogil:
                    rc = mip6_shm_bc_expire(s, now_ns, p, m, &got)
                if not self._recover(rc):
                    break
            self._check(rc)
            out.extend(bytes(buf[16 * i:16 * i + 16]) for i in range(got))
            if got < m:
                return out

    def lookup(self, home):
        cdef bytes k = _addr(home, "home")
        return mip6_bcache_lookup(mip6_shm_cache(self._s()), <const uint8_t *>k)

    def counters(self, int32_t slot):
        """(packets, bytes) of the binding in slot: its entry's own plus every worker's."""
        cdef uint64_t p, b
        mip6_shm_bc_counters(self._s(), slot, &p, &b)
        return p, b

    def get(self, home):
        """(home, care_of, seq, flags, expiry_ns, packets, bytes), BindingTable.get's shape, with the
        counters summed over the entry and every worker; or None."""
        cdef bytes k = _addr(home, "home")
        cdef mip6_shm_t *s = self._s()
        cdef int32_t slot = mip6_bcache_lookup(mip6_shm_cache(s), <const uint8_t *>k)
        if slot < 0:
            return None
        cdef mip6_binding_t *e = mip6_bcache_entry(mip6_shm_cache(s), slot)
        cdef uint64_t p, b
        mip6_shm_bc_counters(s, slot, &p, &b)
        return (k, bytes(e.coa[:16]), e.seq, e.flags, e.expiry_ns, p, b)

    def homes(self):
        """Every bound home address, in slot order."""
        cdef mip6_shm_t *s = self._s()
        cdef int32_t slot = mip6_bcache_next(mip6_shm_cache(s), -1)
        out = []
        while slot >= 0:
            out.append(bytes(mip6_bcache_entry(mip6_shm_cache(s), slot).key[:16]))
            slot = mip6_bcache_next(mip6_shm_cache(s), slot)
        return out

    # ---- the adjacency table (written by neighbour discovery, RFC 4861 §5.1) ------------------------------

    def adj_set(self, unsigned int iface, addr, mac, uint64_t deadline_ns):
        cdef bytes a = _addr(addr, "neighbour")
        cdef bytes m = bytes(mac)
        cdef int done = 0, rc
        cdef mip6_shm_t *s = self._s()
        if len(m) != 6:
            raise ValueError("a MAC is 6 bytes")
        if iface >= MIP6_GRAPH_MAX_IFACES:
            raise ValueError("interface index out of range")
        cdef const uint8_t *ap = a
        cdef const uint8_t *mp = m
        while True:
            with nogil:
                rc = mip6_shm_adj_set(s, iface, ap, mp, deadline_ns, &done)
            if not self._recover(rc):
                break
        self._check(rc)
        return done == 1

    def adj_del(self, unsigned int iface, addr):
        cdef bytes a = _addr(addr, "neighbour")
        cdef int done = 0, rc
        cdef mip6_shm_t *s = self._s()
        cdef const uint8_t *ap = a
        while True:
            with nogil:
                rc = mip6_shm_adj_del(s, iface, ap, &done)
            if not self._recover(rc):
                break
        self._check(rc)
        return done == 1

    def adj_clear(self):
        cdef int rc
        cdef mip6_shm_t *s = self._s()
        while True:
            with nogil:
                rc = mip6_shm_adj_clear(s)
            if not self._recover(rc):
                break
        self._check(rc)

    def adj_get(self, unsigned int iface, addr):
        cdef bytes a = _addr(addr, "neighbour")
        cdef const mip6_adj_entry_t *e = mip6_adj_find(mip6_shm_adj(self._s()), iface, <const uint8_t *>a)
        if e == NULL:
            return None
        return (bytes(e.mac[:6]), e.deadline_ns)

    @property
    def adj_len(self):
        return mip6_adj_len(mip6_shm_adj(self._s()))

    # ---- the small tables, published with a new generation ------------------------------------------------

    def set_interfaces(self, interfaces):
        """[(mac, mtu, up)] in interface index order."""
        cdef mip6_graph_iface_t ifs[16]
        cdef int rc
        rows = list(interfaces)
        if len(rows) > MIP6_GRAPH_MAX_IFACES:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_IFACES} interfaces")
        memset(ifs, 0, sizeof(ifs))
        for k, (mac, mtu, up) in enumerate(rows):
            m = bytes(mac)
            if len(m) != 6 or not 0 <= mtu <= 0xFFFFFFFF:
                raise ValueError("a MAC is 6 bytes and an MTU 32 bits")
            memcpy(ifs[k].mac, <const char *>m, 6)
            ifs[k].mtu = <uint32_t>mtu
            ifs[k].up = 1 if up else 0
        cdef uint32_t n = <uint32_t>len(rows)
        cdef mip6_shm_t *s = self._s()
        while True:
            with nogil:
                rc = mip6_shm_set_ifaces(s, ifs, n)
            if not self._recover(rc):
                break
        self._check(rc)

    def set_routes(self, routes):
        """[(prefix, prefix_len, interface_index, next_hop or None)] in the node's order."""
        rows = list(routes)
        if len(rows) > MIP6_GRAPH_MAX_ROUTES:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_ROUTES} routes")
        cdef bytes prefixes = b"".join(_addr(r[0], "prefix") for r in rows) + bytes(16)
        cdef bytes hops = b"".join(bytes(16) if r[3] is None else _addr(r[3], "next hop") for r in rows) + bytes(16)
        cdef bytes plens = bytes([r[1] for r in rows] + [0])
        cdef bytes ifaces = bytes([r[2] for r in rows] + [0])
        cdef bytes has = bytes([0 if r[3] is None else 1 for r in rows] + [0])
        cdef int rc
        self._s()
        while True:
            rc = mip6_shm_set_routes(self.s, <const uint8_t *>prefixes, <const uint8_t *>plens,
                                     <const uint8_t *>ifaces, <const uint8_t *>hops, <const uint8_t *>has,
                                     <uint32_t>len(rows))
            if not self._recover(rc):
                break
        self._check(rc)

    def set_tunnel(self, address, unsigned long tunnel_mtu, unsigned long flow_label, unsigned int hop_limit,
                   unsigned int tunnel_flags, unsigned int decap_flags):
        """The home agent's address (decapsulation target, outer source) and its tunnel parameters."""
        cdef bytes a = _addr(address, "address")
        cdef mip6_tunnel_cfg_t cfg
        cdef int rc
        if not 1320 <= tunnel_mtu <= 65535 or flow_label > 0xFFFFF or not 1 <= hop_limit <= 255 or tunnel_flags > 3:
            raise ValueError("bad tunnel parameters")
        memset(&cfg, 0, sizeof(cfg))
        memcpy(cfg.src, <const char *>a, 16)
        cfg.mtu = <uint32_t>tunnel_mtu
        cfg.flow_label = <uint32_t>flow_label
        cfg.hop_limit = <uint8_t>hop_limit
        cfg.flags = <uint8_t>tunnel_flags
        cdef const uint8_t *ap = a
        cdef mip6_shm_t *s = self._s()
        while True:
            with nogil:
                rc = mip6_shm_set_tunnel(s, ap, &cfg, decap_flags)
            if not self._recover(rc):
                break
        self._check(rc)

    cdef _set(self, unsigned which, addresses):
        parts = [_addr(v, "address") for v in addresses]
        cdef bytes blob = b"".join(parts) + bytes(16)
        cdef int rc
        if len(parts) > MIP6_SHM_MAX_SET:
            raise ValueError(f"at most {MIP6_SHM_MAX_SET} addresses in a set")
        self._s()
        while True:
            rc = mip6_shm_set_addresses(self.s, which, <const uint8_t *>blob, <uint32_t>len(parts))
            if not self._recover(rc):
                break
        self._check(rc)

    def set_own(self, addresses):
        self._set(0, addresses)

    def set_required(self, addresses):
        self._set(1, addresses)

    def set_protected(self, addresses):
        self._set(2, addresses)

    @property
    def generation(self):
        return mip6_shm_generation(self._s())

    # ---- workers --------------------------------------------------------------------------------------------

    def worker_counters(self, unsigned int index):
        cdef mip6_shm_counts_t c
        if index >= self.workers:
            raise ValueError("no such worker")
        mip6_shm_read_worker(self._s(), index, &c)
        return _counts_dict(&c)

    def sum_counters(self):
        cdef mip6_shm_counts_t c
        mip6_shm_read_sum(self._s(), &c)
        return _counts_dict(&c)

    def user_add(self, unsigned int index, unsigned int k, uint64_t v):
        mip6_shm_user_add(self._s(), index, k, v)

    def user_set(self, unsigned int index, unsigned int k, uint64_t v):
        mip6_shm_user_set(self._s(), index, k, v)

    @property
    def hung(self):
        """The worker the last write gave up on, or -1."""
        return mip6_shm_hung(self._s())

    def worker_dead(self, unsigned int index):
        """Worker ``index``'s process is dead and reaped: clear its active word, count a restart. Never for
        a live process (it could then read a table mid-mutation)."""
        mip6_shm_worker_dead(self._s(), index)

    def binding_table(self):
        """A mip6fast._bcache.BindingTable over the shared binding cache, for the writer's process
        (BindingTable.shared, BindingCache.shared): not owned (the mapping holds it), and every C call
        over it holds the grace period (_bcache.pyx, BindingTable._grace)."""
        cdef mip6_shm_t *s = self._s()
        cdef BindingTable t = BindingTable(16, 8, None)
        mip6_bcache_free(t.ptr)          # its own small table, replaced by the shared one
        t.ptr = mip6_shm_cache(s)
        t.shm = s
        t._shared = self
        return t

    def _hung(self, int index):
        """A grace period found worker ``index`` hung: ``on_hung(index)`` (kill, reap, worker_dead; the
        caller retries), or HungWorker raised when there is none."""
        if self.on_hung is None:
            raise HungWorker(index)
        self.on_hung(index)

    def _hold(self, unsigned int index):
        """Tests only: enter a batch as worker ``index`` and never leave it (a hung worker)."""
        if index >= self.workers:
            raise ValueError("no such worker")
        if mip6_shm_enter(self._s(), index) != 0:
            raise TimeoutError("the writer holds the shared tables")

    def _stall_writer(self):
        """Tests only: take the writer's side and never give it back (a writer killed mid-mutation)."""
        self._check(mip6_shm_write_begin(self._s()))

    def active(self, unsigned int index):
        return mip6_shm_active(self._s(), index) != 0

    def arena(self):
        cdef size_t used, touched, size
        cdef uint64_t failures
        mip6_shm_arena_stats(self._s(), &used, &touched, &size, &failures)
        return {"in_use": used, "touched": touched, "size": size, "failures": failures}

    def close(self):
        if self.s != NULL:
            mip6_shm_destroy(self.s)
            self.s = NULL


cdef class WorkerGraph(_GraphResults):
    """Worker ``index``'s home-agent graph over ``shared`` (in the worker's own process, after the fork):
    results of the last run in ``out``, ``slow``, ``slow_kind`` as HomeAgentGraph's."""
    cdef mip6_shm_worker_t *wk
    cdef SharedTables shared
    cdef readonly unsigned int index

    def __cinit__(self, SharedTables shared not None, unsigned int index):
        shared._s()
        if index >= shared.workers:
            raise ValueError(f"worker index {index} out of range ({shared.workers} workers)")
        self.wk = <mip6_shm_worker_t *>malloc(sizeof(mip6_shm_worker_t))
        if self.wk == NULL:
            raise MemoryError()
        if mip6_shm_worker_init(self.wk, shared.s, index) != 0:
            free(self.wk)
            self.wk = NULL
            raise ValueError("worker init")
        self.shared = shared
        self.index = index

    def __dealloc__(self):
        if self.wk != NULL:
            mip6_shm_worker_release(self.wk)
            free(self.wk)

    def run(self, batch, unsigned int rx, uint64_t now_ns):
        """One batch of frames received on interface ``rx``: the number of slow-path entries."""
        cdef int rc
        cdef BatchView v
        if rx >= MIP6_GRAPH_MAX_IFACES:
            raise ValueError(f"interface index {rx} out of range")
        v = self._view(batch)
        self.shared._s()
        with nogil:
            rc = mip6_shm_worker_run(self.wk, &v.b, rx, now_ns, &self.res)
        if rc == MIP6_EHUNG:
            raise TimeoutError("the shared tables' writer held them longer than the hung timeout")
        return self._check(rc)
