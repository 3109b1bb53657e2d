# cython: language_level=3
"""Data-plane graphs in C (csrc/mip6_graph.c, csrc/mip6_adj.c): one call per batch, frames in, frames out.

Thin: the graph's tables (interfaces, routes, adjacency, address sets) are set from Python when they
change; ``run`` is one C call over the batch with the GIL released, the binding table's read guard held.
Its results stay in the object: ``out`` (per packet: output interface or NO_IF), ``slow`` and
``slow_kind`` (the slow list), ``tx`` and the run's totals. Reference: _graph_py.py. Contract:
csrc/mip6_graph.h, docs/DATAPATH.md ("Graphs")."""
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from libc.string cimport memcpy, memset
from graph cimport (mip6_graph_t, mip6_graph_ha_t, mip6_graph_mn_t, mip6_graph_cn_t, mip6_graph_iface_t,
                    mip6_graph_out_t, mip6_adj_entry_t, MIP6_GRAPH_MAX_TUNNELS, MIP6_GRAPH_MAX_AGENTS,
                    mip6_graph_mn_send, mip6_graph_mn_receive, mip6_graph_cn_send, mip6_graph_cn_receive,
                    MIP6_GRAPH_MAX_IFACES, MIP6_GRAPH_MAX_ROUTES, MIP6_GRAPH_NO_IF, MIP6_SLOW_COUNT, MIP6_GC_COUNT,
                    MIP6_R_COUNT, MIP6_ADJ_NO_DEADLINE, MIP6_ADJ_MAX_ENTRIES,
                    mip6_slow_kind_name, mip6_graph_counter_name, mip6_graph_init, mip6_graph_release,
                    mip6_graph_set_ifaces, mip6_graph_set_routes, mip6_graph_route, mip6_graph_ha_run,
                    mip6_adj_len, mip6_adj_max, mip6_adj_set, mip6_adj_del, mip6_adj_clear, mip6_adj_find,
                    mip6_adj_next, mip6_adj_at)
from datapath cimport mip6_batch_t
from mip6fast._bcache cimport BindingTable
from mip6fast._datapath cimport BatchView, view_of

import numpy as np

MAX_IFACES = MIP6_GRAPH_MAX_IFACES
MAX_ROUTES = MIP6_GRAPH_MAX_ROUTES
NO_IF = MIP6_GRAPH_NO_IF
NO_DEADLINE = MIP6_ADJ_NO_DEADLINE
MAX_ADJACENCIES = MIP6_ADJ_MAX_ENTRIES
MAX_TUNNELS = MIP6_GRAPH_MAX_TUNNELS
MAX_AGENTS = MIP6_GRAPH_MAX_AGENTS
SLOW_KINDS = tuple(mip6_slow_kind_name(k).decode() for k in range(MIP6_SLOW_COUNT))
COUNTER_NAMES = tuple(mip6_graph_counter_name(k).decode() for k in range(MIP6_GC_COUNT))


cdef bytes _address(object value, str what):
    cdef bytes a = bytes(value)
    if len(a) != 16:
        raise ValueError(f"{what}: expected a 16-byte address, got {len(a)} bytes")
    return a


cdef bytes _addresses(object values, str what):
    parts = [_address(v, what) for v in values]
    return b"".join(parts) + bytes(16)     # never empty: the pointer is never NULL


cdef class _GraphResults:
    """The results of a graph's last run, for the caller to read: ``out`` (per packet: output interface
    or NO_IF), ``slow`` and ``slow_kind`` (the slow list), ``tx`` and the run's totals; the arrays grow
    with the largest batch seen (``_view``)."""

    def __cinit__(self):
        self._grow(64)

    cdef _grow(self, uint32_t cap):
        self.out = np.full(cap, MIP6_GRAPH_NO_IF, dtype=np.uint8)
        self.slow = np.zeros(cap, dtype=np.uint32)
        self.slow_kind = np.zeros(cap, dtype=np.uint8)
        cdef uint8_t[::1] o = self.out
        cdef uint32_t[::1] s = self.slow
        cdef uint8_t[::1] k = self.slow_kind
        self.res.out = &o[0]
        self.res.slow = &s[0]
        self.res.slow_kind = &k[0]
        self._cap = cap

    cdef BatchView _view(self, batch):
        """The batch's C view with its count set, the result arrays grown to hold it."""
        cdef BatchView v = view_of(batch)
        cdef Py_ssize_t n = batch.count
        if n < 0 or n > v.capacity:
            raise ValueError(f"batch count {n} is outside 0..{v.capacity}")
        if <uint32_t>n > self._cap:
            self._grow(<uint32_t>max(n, 2 * self._cap))
        v.b.count = <uint32_t>n
        return v

    cdef uint32_t _tx_count(self):
        """How many interfaces ``tx`` reports."""
        return MIP6_GRAPH_MAX_IFACES

    cdef int _check(self, int rc) except -1:
        if rc < 0:
            raise ValueError(f"graph refused the batch ({rc})") if rc != -2 else MemoryError("graph scratch")
        return rc

    @property
    def n_slow(self):
        return self.res.n_slow

    @property
    def inserted(self):
        return self.res.inserted

    @property
    def unprotected(self):
        return self.res.unprotected

    @property
    def tunnelled(self):
        return self.res.tunnelled

    @property
    def detunnelled_sent(self):
        return self.res.detunnelled_sent

    @property
    def dropped(self):
        return self.res.dropped

    def tx(self):
        """Frames sent per interface in the last run."""
        return [self.res.tx[k] for k in range(self._tx_count())]

    def last_drops(self):
        """{reason: count} of the last run's DROP verdicts (non-zero only)."""
        return {r: self.res.drops[r] for r in range(MIP6_R_COUNT) if self.res.drops[r]}


cdef class _Graph(_GraphResults):
    """What every role's graph shares: its tables (interfaces, routes, own addresses, ESP tunnel sets),
    the adjacency and the counters. ``g`` points into the subclass's struct, set by its constructor
    (``_init``)."""
    cdef mip6_graph_t *g
    cdef bytes _own, _required, _protected
    cdef bint _ready

    cdef int _init(self, mip6_graph_t *g, unsigned long adj_max, seed) except -1:
        cdef bytes s
        if not 1 <= adj_max <= MIP6_ADJ_MAX_ENTRIES:
            raise ValueError(f"adj_max must be in 1..{MIP6_ADJ_MAX_ENTRIES}, got {adj_max}")
        if seed is None:
            rc = mip6_graph_init(g, <uint32_t>adj_max, NULL)
        else:
            s = bytes(seed)
            if len(s) != 16:
                raise ValueError("seed must be 16 bytes")
            rc = mip6_graph_init(g, <uint32_t>adj_max, <const uint8_t *>s)
        if rc != 0:
            raise MemoryError("graph tables")
        self.g = g
        self._ready = True
        self.set_own(())
        self.set_required(())
        self.set_protected(())
        return 0

    def __dealloc__(self):
        if self._ready:
            mip6_graph_release(self.g)

    cdef int _rx(self, unsigned int rx) except -1:
        if rx >= self.g.n_ifaces:
            raise ValueError(f"interface index {rx} out of range ({self.g.n_ifaces} interfaces)")
        return 0

    cdef uint32_t _tx_count(self):
        return self.g.n_ifaces

    # ---- tables, set when the node's state changes --------------------------------------------------

    def set_interfaces(self, interfaces):
        """[(mac, mtu, up)] in interface index order."""
        cdef mip6_graph_iface_t ifs[16]
        rows = list(interfaces)
        if len(rows) > MIP6_GRAPH_MAX_IFACES:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_IFACES} interfaces")
        memset(ifs, 0, sizeof(ifs))
        for k, (mac, mtu, up) in enumerate(rows):
            m = bytes(mac)
            if len(m) != 6:
                raise ValueError("a MAC is 6 bytes")
            if not 0 <= mtu <= 0xFFFFFFFF:
                raise ValueError("bad MTU")
            memcpy(ifs[k].mac, <const char *>m, 6)
            ifs[k].mtu = <uint32_t>mtu
            ifs[k].up = 1 if up else 0
        mip6_graph_set_ifaces(self.g, ifs, <uint32_t>len(rows))

    def set_routes(self, routes):
        """[(prefix, prefix_len, interface_index, next_hop or None)] in the node's order."""
        rows = list(routes)
        n = len(rows)
        if n > MIP6_GRAPH_MAX_ROUTES:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_ROUTES} routes")
        prefixes = b"".join(_address(r[0], "prefix") for r in rows) + bytes(16)
        hops = b"".join(bytes(16) if r[3] is None else _address(r[3], "next hop") for r in rows) + bytes(16)
        plens = bytes([r[1] for r in rows] + [0])
        ifaces = bytes([r[2] for r in rows] + [0])
        has = bytes([0 if r[3] is None else 1 for r in rows] + [0])
        if mip6_graph_set_routes(self.g, <const uint8_t *>prefixes, <const uint8_t *>plens,
                                 <const uint8_t *>ifaces, <const uint8_t *>hops, <const uint8_t *>has,
                                 <uint32_t>n) != 0:
            raise ValueError("a route's prefix length or interface is out of range")

    def route(self, dst):
        """The index, in the sorted table, of dst's route, or -1 (tests)."""
        cdef bytes d = _address(dst, "dst")
        return mip6_graph_route(self.g, <const uint8_t *>d)

    def set_own(self, addresses):
        self._own = _addresses(addresses, "own address")
        self.g.own = <const uint8_t *>self._own
        self.g.n_own = <uint32_t>(len(self._own) // 16 - 1)

    def set_required(self, addresses):
        self._required = _addresses(addresses, "required")
        self.g.required = <const uint8_t *>self._required
        self.g.n_required = <uint32_t>(len(self._required) // 16 - 1)

    def set_protected(self, addresses):
        self._protected = _addresses(addresses, "protected")
        self.g.protected_homes = <const uint8_t *>self._protected
        self.g.n_protected = <uint32_t>(len(self._protected) // 16 - 1)

    # ---- adjacency (written by neighbour discovery) ---------------------------------------------------

    def adj_set(self, unsigned int iface, addr, mac, uint64_t deadline_ns):
        """True when stored; False when the table is full."""
        cdef bytes a = _address(addr, "neighbour")
        cdef bytes m = bytes(mac)
        if len(m) != 6:
            raise ValueError("a MAC is 6 bytes")
        if iface >= MIP6_GRAPH_MAX_IFACES:
            raise ValueError("interface index out of range")
        return mip6_adj_set(self.g.adj, iface, <const uint8_t *>a, <const uint8_t *>m, deadline_ns) == 1

    def adj_del(self, unsigned int iface, addr):
        cdef bytes a = _address(addr, "neighbour")
        return mip6_adj_del(self.g.adj, iface, <const uint8_t *>a) == 1

    def adj_clear(self):
        mip6_adj_clear(self.g.adj)

    def adj_get(self, unsigned int iface, addr):
        """(mac, deadline_ns) or None."""
        cdef bytes a = _address(addr, "neighbour")
        cdef const mip6_adj_entry_t *e = mip6_adj_find(self.g.adj, iface, <const uint8_t *>a)
        if e == NULL:
            return None
        return (bytes(e.mac[:6]), e.deadline_ns)

    def adjacency(self):
        """Every entry: [(iface, addr, mac, deadline_ns)]."""
        rows = []
        cdef int64_t i = mip6_adj_next(self.g.adj, -1)
        cdef const mip6_adj_entry_t *e
        while i >= 0:
            e = mip6_adj_at(self.g.adj, i)
            rows.append((e.iface, bytes(e.addr[:16]), bytes(e.mac[:6]), e.deadline_ns))
            i = mip6_adj_next(self.g.adj, i)
        return rows

    @property
    def adj_len(self):
        return mip6_adj_len(self.g.adj)

    @property
    def adj_max(self):
        return mip6_adj_max(self.g.adj)

    def counters(self):
        """Totals over every run: the graph's counters, DROP verdicts by reason, slow kinds."""
        return ({COUNTER_NAMES[k]: self.g.counters[k] for k in range(MIP6_GC_COUNT)},
                {r: self.g.drops[r] for r in range(MIP6_R_COUNT) if self.g.drops[r]},
                {SLOW_KINDS[k]: self.g.slow_kinds[k] for k in range(MIP6_SLOW_COUNT)})


cdef class HomeAgentGraph(_Graph):
    """The home agent's graph (mip6_graph_ha_run) over ``table`` (16-byte keys), tunnelling from
    ``address`` with the tunnel parameters given, adding to the kernels' counter arrays."""
    cdef mip6_graph_ha_t ha
    cdef BindingTable table
    cdef object _keep           # the counter arrays the C side adds to

    def __cinit__(self, BindingTable table not None, address, unsigned long tunnel_mtu, unsigned long flow_label,
                  unsigned int hop_limit, unsigned int tunnel_flags, unsigned int decap_flags, encap_counters,
                  decap_counters, unsigned long adj_max=65536, seed=None):
        cdef bytes a = _address(address, "address")
        cdef uint64_t[::1] ec = encap_counters
        cdef uint64_t[::1] dc = decap_counters
        if table.key_size != 16:
            raise ValueError(f"the home agent's graph needs a table with 16-byte keys, got {table.key_size}")
        if ec.shape[0] != MIP6_R_COUNT or dc.shape[0] != MIP6_R_COUNT:
            raise ValueError(f"counter arrays must have {MIP6_R_COUNT} entries")
        if not 1320 <= tunnel_mtu <= 65535 or flow_label > 0xFFFFF or not 1 <= hop_limit <= 255 or tunnel_flags > 3:
            raise ValueError("bad tunnel parameters")
        self._init(&self.ha.g, adj_max, seed)
        self.table = table
        self.ha.cache = table.ptr
        memcpy(self.ha.address, <const char *>a, 16)
        memcpy(self.ha.tun.src, <const char *>a, 16)
        memset(self.ha.tun.dst, 0, 16)
        self.ha.tun.mtu = <uint32_t>tunnel_mtu
        self.ha.tun.flow_label = <uint32_t>flow_label
        self.ha.tun.hop_limit = <uint8_t>hop_limit
        self.ha.tun.flags = <uint8_t>tunnel_flags
        self.ha.decap_flags = decap_flags
        self._keep = (encap_counters, decap_counters)
        self.ha.encap_counters = &ec[0]
        self.ha.decap_counters = &dc[0]

    def run(self, batch, unsigned int rx, uint64_t now_ns):
        """One batch of frames received on interface ``rx``: the number of slow-path entries."""
        cdef BatchView v = self._view(batch)
        cdef int rc
        self._rx(rx)
        if self.table.ptr == NULL:
            raise ValueError("binding table is closed")
        self.ha.cache = self.table.ptr
        self.table.begin_read()
        try:
            with nogil:
                rc = mip6_graph_ha_run(&self.ha, &v.b, rx, now_ns, &self.res)
        finally:
            self.table.end_read()
        return self._check(rc)


cdef uint64_t *_counter_array(object array, list keep) except NULL:
    cdef uint64_t[::1] a = array
    if a.shape[0] != MIP6_R_COUNT:
        raise ValueError(f"counter arrays must have {MIP6_R_COUNT} entries")
    keep.append(array)
    return &a[0]


cdef class MobileNodeGraph(_Graph):
    """The mobile node's graphs (mip6_graph_mn_send / mip6_graph_mn_receive) over the binding update
    list ``bul`` (32-byte keys). ``set_tunnels`` and ``set_agents`` give the kernels' parameters and
    the counter arrays they add to (the role's MobileNodeDataPath objects')."""
    cdef mip6_graph_mn_t mn
    cdef BindingTable bul
    cdef list _keep_tunnels, _keep_agents, _keep_rh2

    def __cinit__(self, BindingTable bul not None, unsigned long adj_max=65536, seed=None):
        if bul.key_size != 32:
            raise ValueError(f"the binding update list has 32-byte keys, got {bul.key_size}")
        self._init(&self.mn.g, adj_max, seed)
        self.bul = bul
        self.mn.bul = bul.ptr
        self._keep_tunnels = []
        self._keep_agents = []
        self._keep_rh2 = []
        self.set_rh2((), np.zeros(MIP6_R_COUNT, dtype=np.uint64))

    def set_tunnels(self, tunnels):
        """[(home, care_of, home_agent, tunnel_mtu, flow_label, hop_limit, flags, hao_mtu, hao_counters,
        encap_counters)], in the order the kernels run (one per registered home address away)."""
        rows = list(tunnels)
        if len(rows) > MIP6_GRAPH_MAX_TUNNELS:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_TUNNELS} tunnels")
        keep = []
        for k, (home, coa, agent, mtu, flow, hop, flags, hao_mtu, hc, ec) in enumerate(rows):
            h, c, a = _address(home, "home"), _address(coa, "care_of"), _address(agent, "home_agent")
            if not 1320 <= mtu <= 65535 or flow > 0xFFFFF or not 1 <= hop <= 255 or flags > 3:
                raise ValueError("bad tunnel parameters")
            if not 1280 <= hao_mtu <= 65535:
                raise ValueError("bad MTU")
            memcpy(self.mn.tunnels[k].home, <const char *>h, 16)
            memcpy(self.mn.tunnels[k].cfg.src, <const char *>c, 16)
            memcpy(self.mn.tunnels[k].cfg.dst, <const char *>a, 16)
            self.mn.tunnels[k].cfg.mtu = <uint32_t>mtu
            self.mn.tunnels[k].cfg.flow_label = <uint32_t>flow
            self.mn.tunnels[k].cfg.hop_limit = <uint8_t>hop
            self.mn.tunnels[k].cfg.flags = <uint8_t>flags
            self.mn.tunnels[k].hao_mtu = <uint32_t>hao_mtu
            self.mn.tunnels[k].hao_counters = _counter_array(hc, keep)
            self.mn.tunnels[k].encap_counters = _counter_array(ec, keep)
        self._keep_tunnels = keep
        self.mn.n_tunnels = <uint32_t>len(rows)

    def set_agents(self, agents):
        """[(home_agent, [home addresses], decap_flags, counters)]: the receive side's decapsulation."""
        rows = list(agents)
        if len(rows) > MIP6_GRAPH_MAX_AGENTS:
            raise ValueError(f"at most {MIP6_GRAPH_MAX_AGENTS} home agents")
        keep = []
        for k, (agent, homes, flags, counters) in enumerate(rows):
            a = _address(agent, "home_agent")
            hs = _addresses(homes, "home")
            keep.append(hs)
            memcpy(self.mn.agents[k].address, <const char *>a, 16)
            self.mn.agents[k].homes = <const uint8_t *>hs
            self.mn.agents[k].n_homes = <uint32_t>(len(hs) // 16 - 1)
            self.mn.agents[k].flags = flags
            self.mn.agents[k].counters = _counter_array(counters, keep)
        self._keep_agents = keep
        self.mn.n_agents = <uint32_t>len(rows)

    def set_rh2(self, homes, counters):
        """process_rh2's home addresses and counter array."""
        keep = []
        hs = _addresses(homes, "home")
        keep.append(hs)
        self.mn.rh2_homes = <const uint8_t *>hs
        self.mn.n_rh2_homes = <uint32_t>(len(hs) // 16 - 1)
        self.mn.rh2_counters = _counter_array(counters, keep)
        self._keep_rh2 = keep

    def send(self, batch, uint64_t now_ns):
        """Application packets (IPv6 at their offsets): the number of slow-path entries."""
        cdef BatchView v = self._view(batch)
        cdef int rc
        if self.bul.ptr == NULL:
            raise ValueError("binding update list is closed")
        self.mn.bul = self.bul.ptr
        self.bul.begin_read()
        try:
            with nogil:
                rc = mip6_graph_mn_send(&self.mn, &v.b, now_ns, &self.res)
        finally:
            self.bul.end_read()
        return self._check(rc)

    def receive(self, batch, unsigned int rx, uint64_t now_ns):
        """Frames received on interface ``rx``: the number of slow-path entries."""
        cdef BatchView v = self._view(batch)
        cdef int rc
        self._rx(rx)
        with nogil:
            rc = mip6_graph_mn_receive(&self.mn, &v.b, rx, now_ns, &self.res)
        return self._check(rc)


cdef class CorrespondentGraph(_Graph):
    """The correspondent's graphs (mip6_graph_cn_send / mip6_graph_cn_receive) over its binding cache
    ``table`` (16-byte keys); ``mtu`` for insert_rh2; the kernels' counter arrays."""
    cdef mip6_graph_cn_t cn
    cdef BindingTable table
    cdef object _keep

    def __cinit__(self, BindingTable table not None, unsigned long mtu, rh2_counters, hao_counters,
                  unsigned long adj_max=65536, seed=None):
        if table.key_size != 16:
            raise ValueError(f"the correspondent's graph needs a table with 16-byte keys, got {table.key_size}")
        if not 1280 <= mtu <= 65535:
            raise ValueError("bad MTU")
        keep = []
        self.cn.rh2_counters = _counter_array(rh2_counters, keep)
        self.cn.hao_counters = _counter_array(hao_counters, keep)
        self._keep = keep
        self._init(&self.cn.g, adj_max, seed)
        self.table = table
        self.cn.cache = table.ptr
        self.cn.mtu = <uint32_t>mtu

    cdef int _open(self) except -1:
        if self.table.ptr == NULL:
            raise ValueError("binding table is closed")
        self.cn.cache = self.table.ptr
        return 0

    def send(self, batch, uint64_t now_ns):
        """Packets this node originates (IPv6 at their offsets): the number of slow-path entries."""
        cdef BatchView v = self._view(batch)
        cdef int rc
        self._open()
        self.table.begin_read()
        try:
            with nogil:
                rc = mip6_graph_cn_send(&self.cn, &v.b, now_ns, &self.res)
        finally:
            self.table.end_read()
        return self._check(rc)

    def receive(self, batch, unsigned int rx, uint64_t now_ns):
        """Frames received on interface ``rx``: the number of slow-path entries (every frame)."""
        cdef BatchView v = self._view(batch)
        cdef int rc
        self._rx(rx)
        self._open()
        self.table.begin_read()
        try:
            with nogil:
                rc = mip6_graph_cn_receive(&self.cn, &v.b, rx, &self.res)
        finally:
            self.table.end_read()
        return self._check(rc)
