# Declarations of csrc/mip6_batch.h, csrc/mip6_tunnel.h and csrc/mip6_route_opt.h (docs/DATAPATH.md).
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from bcache cimport mip6_bcache_t

cdef extern from "mip6_batch.h" nogil:
    ctypedef struct mip6_batch_t:
        uint8_t *buf
        uint32_t slot_size
        uint32_t headroom
        uint32_t count
        uint32_t *offset
        uint32_t *length
        uint8_t *verdict
        uint8_t *reason
        uint32_t *aux

    int MIP6_V_PASS
    int MIP6_V_COUNT
    int MIP6_R_NONE
    int MIP6_R_COUNT

    const char *mip6_reason_name(unsigned r)
    const char *mip6_reason_text(unsigned r)
    int mip6_reason_verdict(unsigned r)
    const char *mip6_verdict_name(unsigned v)

cdef extern from "mip6_tunnel.h" nogil:
    unsigned MIP6_TUN_ALLOW_SITE_LOCAL
    unsigned MIP6_TUN_DEC_HOP_LIMIT
    unsigned MIP6_TUN_MIN_MTU
    unsigned MIP6_TUN_MAX_MTU

    ctypedef struct mip6_tunnel_cfg_t:
        uint8_t src[16]
        uint8_t dst[16]
        uint32_t mtu
        uint32_t flow_label
        uint8_t hop_limit
        uint8_t flags

    int mip6_tunnel_encap_ha(mip6_batch_t *b, mip6_bcache_t *cache, const mip6_tunnel_cfg_t *cfg,
                             uint64_t *counters)
    int mip6_tunnel_encap_fixed(mip6_batch_t *b, const mip6_tunnel_cfg_t *cfg, const uint8_t *homes,
                                uint32_t n_homes, uint64_t *counters)
    int mip6_tunnel_decap_ha(mip6_batch_t *b, mip6_bcache_t *cache, unsigned flags, uint64_t *counters)
    int mip6_tunnel_decap_mn(mip6_batch_t *b, const uint8_t *home_agent, const uint8_t *homes,
                             uint32_t n_homes, unsigned flags, uint64_t *counters)

cdef extern from "mip6_route_opt.h" nogil:
    unsigned MIP6_RO_MIN_MTU
    unsigned MIP6_RO_MAX_MTU

    int mip6_hao_insert(mip6_batch_t *b, mip6_bcache_t *bul, uint32_t mtu, uint64_t *counters)
    int mip6_hao_process(mip6_batch_t *b, mip6_bcache_t *cache, uint64_t *counters)
    int mip6_rh2_insert(mip6_batch_t *b, mip6_bcache_t *cache, uint32_t mtu, uint64_t *counters)
    int mip6_rh2_process(mip6_batch_t *b, const uint8_t *homes, uint32_t n_homes, uint64_t *counters)
