# Declarations of csrc/mip6_shm.h (docs/DATAPATH.md, "Shared tables and workers").
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t
from bcache cimport mip6_bcache_t, mip6_bc_outcome_t
from datapath cimport mip6_batch_t, mip6_tunnel_cfg_t
from graph cimport mip6_adj_t, mip6_graph_iface_t, mip6_graph_out_t, mip6_graph_ha_t

cdef extern from "mip6_shm.h" nogil:
    int MIP6_EHUNG
    int MIP6_SHM_MAX_WORKERS
    int MIP6_SHM_MAX_SET
    int MIP6_SHM_USER

    ctypedef struct mip6_shm_t:
        pass

    ctypedef struct mip6_shm_counts_t:
        uint64_t graph[16]
        uint64_t drops[64]
        uint64_t slow_kinds[16]
        uint64_t encap[64]
        uint64_t decap[64]
        uint64_t batches
        uint64_t backoffs
        uint64_t restarts
        uint64_t lost
        uint64_t user[16]

    ctypedef struct mip6_shm_worker_t:
        mip6_graph_ha_t ha

    mip6_shm_t *mip6_shm_create(size_t bytes, uint32_t workers, uint32_t max_slots, uint32_t adj_max,
                                const uint8_t *bc_seed, const uint8_t *adj_seed, uint64_t hung_ns)
    void mip6_shm_destroy(mip6_shm_t *s)
    mip6_bcache_t *mip6_shm_cache(mip6_shm_t *s)
    mip6_adj_t *mip6_shm_adj(mip6_shm_t *s)
    uint32_t mip6_shm_workers(const mip6_shm_t *s)
    uint32_t mip6_shm_max_slots(const mip6_shm_t *s)
    uint64_t mip6_shm_generation(mip6_shm_t *s)
    void mip6_shm_arena_stats(mip6_shm_t *s, size_t *in_use, size_t *touched, size_t *size, uint64_t *failures)
    int mip6_shm_write_begin(mip6_shm_t *s)
    void mip6_shm_write_end(mip6_shm_t *s, int publish)
    int32_t mip6_shm_hung(mip6_shm_t *s)
    void mip6_shm_worker_dead(mip6_shm_t *s, uint32_t w)
    int mip6_shm_enter(mip6_shm_t *s, uint32_t w)
    void mip6_shm_leave(mip6_shm_t *s, uint32_t w)
    int mip6_shm_active(mip6_shm_t *s, uint32_t w)
    int mip6_shm_bc_update(mip6_shm_t *s, const uint8_t *key, const uint8_t *coa, uint16_t seq, uint16_t flags,
                           uint64_t expiry_ns, mip6_bc_outcome_t *outcome, uint16_t *last_seq, int32_t *slot)
    mip6_bc_outcome_t mip6_shm_bc_update_held(mip6_shm_t *s, const uint8_t *key, const uint8_t *coa, uint16_t seq,
                                              uint16_t flags, uint64_t expiry_ns, uint16_t *last_seq, int32_t *slot)
    int mip6_shm_bc_delete(mip6_shm_t *s, const uint8_t *key, int *deleted)
    int mip6_shm_bc_delete_if_newer(mip6_shm_t *s, const uint8_t *key, uint16_t seq, mip6_bc_outcome_t *outcome,
                                    uint16_t *last_seq, int32_t *slot)
    int mip6_shm_bc_expire(mip6_shm_t *s, uint64_t now_ns, uint8_t *keys_out, uint32_t max, uint32_t *n)
    void mip6_shm_bc_counters(mip6_shm_t *s, int32_t slot, uint64_t *packets, uint64_t *bytes)
    int mip6_shm_adj_set(mip6_shm_t *s, unsigned iface, const uint8_t *addr, const uint8_t *mac,
                         uint64_t deadline_ns, int *done)
    int mip6_shm_adj_del(mip6_shm_t *s, unsigned iface, const uint8_t *addr, int *done)
    int mip6_shm_adj_clear(mip6_shm_t *s)
    int mip6_shm_set_ifaces(mip6_shm_t *s, const mip6_graph_iface_t *ifaces, uint32_t n)
    int mip6_shm_set_routes(mip6_shm_t *s, const uint8_t *prefixes, const uint8_t *plens, const uint8_t *ifaces,
                            const uint8_t *next_hops, const uint8_t *has_next_hop, uint32_t n)
    int mip6_shm_set_tunnel(mip6_shm_t *s, const uint8_t *address, const mip6_tunnel_cfg_t *tun,
                            unsigned decap_flags)
    int mip6_shm_set_addresses(mip6_shm_t *s, unsigned which, const uint8_t *addrs, uint32_t n)
    void mip6_shm_read_worker(mip6_shm_t *s, uint32_t w, mip6_shm_counts_t *out)
    void mip6_shm_read_sum(mip6_shm_t *s, mip6_shm_counts_t *out)
    void mip6_shm_user_add(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v)
    void mip6_shm_user_set(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v)
    int mip6_shm_worker_init(mip6_shm_worker_t *wk, mip6_shm_t *s, uint32_t w)
    void mip6_shm_worker_release(mip6_shm_worker_t *wk)
    int mip6_shm_worker_run(mip6_shm_worker_t *wk, mip6_batch_t *b, unsigned rx, uint64_t now_ns,
                            mip6_graph_out_t *out)
