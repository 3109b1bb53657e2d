# Declarations of csrc/mip6_adj.h and csrc/mip6_graph.h (docs/DATAPATH.md, "Graphs").
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int32_t, int64_t
from bcache cimport mip6_bcache_t
from datapath cimport mip6_batch_t, mip6_tunnel_cfg_t

cdef extern from "mip6_adj.h" nogil:
    ctypedef struct mip6_adj_entry_t:
        uint8_t addr[16]
        uint8_t mac[6]
        uint8_t iface
        uint8_t used
        uint64_t deadline_ns

    ctypedef struct mip6_adj_t:
        pass

    uint64_t MIP6_ADJ_NO_DEADLINE
    uint32_t MIP6_ADJ_MAX_ENTRIES

    uint32_t mip6_adj_len(const mip6_adj_t *t)
    uint32_t mip6_adj_max(const mip6_adj_t *t)
    int mip6_adj_set(mip6_adj_t *t, unsigned iface, const uint8_t *addr, const uint8_t *mac, uint64_t deadline_ns)
    int mip6_adj_del(mip6_adj_t *t, unsigned iface, const uint8_t *addr)
    void mip6_adj_clear(mip6_adj_t *t)
    const mip6_adj_entry_t *mip6_adj_find(const mip6_adj_t *t, unsigned iface, const uint8_t *addr)
    int64_t mip6_adj_next(const mip6_adj_t *t, int64_t after)
    const mip6_adj_entry_t *mip6_adj_at(const mip6_adj_t *t, int64_t index)

cdef extern from "mip6_graph.h" nogil:
    int MIP6_GRAPH_MAX_IFACES
    int MIP6_GRAPH_MAX_ROUTES
    int MIP6_GRAPH_NO_IF
    int MIP6_SLOW_COUNT
    int MIP6_GC_COUNT
    int MIP6_R_COUNT
    int MIP6_GRAPH_MAX_TUNNELS
    int MIP6_GRAPH_MAX_AGENTS

    ctypedef struct mip6_graph_iface_t:
        uint8_t mac[6]
        uint8_t up
        uint32_t mtu

    ctypedef struct mip6_graph_t:
        uint32_t n_ifaces
        uint32_t n_routes
        mip6_adj_t *adj
        const uint8_t *own
        uint32_t n_own
        const uint8_t *required
        uint32_t n_required
        const uint8_t *protected_homes
        uint32_t n_protected
        uint64_t counters[16]
        uint64_t drops[64]
        uint64_t slow_kinds[16]

    ctypedef struct mip6_graph_out_t:
        uint8_t *out
        uint32_t *slow
        uint8_t *slow_kind
        uint32_t n_slow
        uint32_t tx[16]
        uint32_t tunnelled
        uint32_t detunnelled_sent
        uint32_t dropped
        uint32_t inserted
        uint32_t unprotected
        uint32_t drops[64]

    ctypedef struct mip6_graph_ha_t:
        mip6_graph_t g
        mip6_bcache_t *cache
        mip6_tunnel_cfg_t tun
        unsigned decap_flags
        uint8_t address[16]
        uint64_t *encap_counters
        uint64_t *decap_counters

    ctypedef struct mip6_graph_mn_tunnel_t:
        mip6_tunnel_cfg_t cfg
        uint8_t home[16]
        uint32_t hao_mtu
        uint64_t *hao_counters
        uint64_t *encap_counters

    ctypedef struct mip6_graph_mn_agent_t:
        uint8_t address[16]
        const uint8_t *homes
        uint32_t n_homes
        unsigned flags
        uint64_t *counters

    ctypedef struct mip6_graph_mn_t:
        mip6_graph_t g
        mip6_bcache_t *bul
        uint32_t n_tunnels
        mip6_graph_mn_tunnel_t tunnels[16]
        uint32_t n_agents
        mip6_graph_mn_agent_t agents[16]
        const uint8_t *rh2_homes
        uint32_t n_rh2_homes
        uint64_t *rh2_counters

    ctypedef struct mip6_graph_cn_t:
        mip6_graph_t g
        mip6_bcache_t *cache
        uint32_t mtu
        uint64_t *rh2_counters
        uint64_t *hao_counters

    const char *mip6_slow_kind_name(unsigned k)
    const char *mip6_graph_counter_name(unsigned k)

    int mip6_graph_init(mip6_graph_t *g, uint32_t adj_max, const uint8_t *seed)
    void mip6_graph_release(mip6_graph_t *g)
    int mip6_graph_set_ifaces(mip6_graph_t *g, const mip6_graph_iface_t *ifaces, uint32_t n)
    int mip6_graph_set_routes(mip6_graph_t *g, const uint8_t *prefixes, const uint8_t *plens, const uint8_t *ifaces,
                              const uint8_t *next_hops, const uint8_t *has_next_hop, uint32_t n)
    int32_t mip6_graph_route(const mip6_graph_t *g, const uint8_t *dst)
    int mip6_graph_mn_send(mip6_graph_mn_t *mn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out)
    int mip6_graph_mn_receive(mip6_graph_mn_t *mn, mip6_batch_t *b, unsigned rx, uint64_t now_ns,
                              mip6_graph_out_t *out)
    int mip6_graph_cn_send(mip6_graph_cn_t *cn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out)
    int mip6_graph_cn_receive(mip6_graph_cn_t *cn, mip6_batch_t *b, unsigned rx, mip6_graph_out_t *out)
    int mip6_graph_ha_run(mip6_graph_ha_t *ha, mip6_batch_t *b, unsigned rx, uint64_t now_ns, mip6_graph_out_t *out)
