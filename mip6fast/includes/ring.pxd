# Declarations of csrc/mip6_ring.h (docs/RING.md).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from datapath cimport mip6_batch_t

cdef extern from "mip6_ring.h" nogil:
    int MIP6_RING_ENOIF
    int MIP6_RING_EPERM
    int MIP6_RING_EGEOMETRY
    int MIP6_RING_ESYS
    int MIP6_RING_EINVAL

    int MIP6_RING_FANOUT_NONE
    int MIP6_RING_FANOUT_HASH
    int MIP6_RING_FANOUT_LB
    int MIP6_RING_FANOUT_CPU

    ctypedef struct mip6_ring_cfg_t:
        int rx
        int tx
        uint32_t block_size
        uint32_t block_count
        uint32_t frame_size
        uint32_t block_timeout_ms
        uint32_t tx_frame_count
        int qdisc_bypass
        int ignore_outgoing
        int fanout_mode
        uint16_t fanout_group
        int version
        uint32_t rx_reserve

    ctypedef struct mip6_ring_err_t:
        int code
        int sys_errno
        const char *step
        const char *reason

    ctypedef struct mip6_ring_counters_t:
        uint64_t rx_frames
        uint64_t rx_bytes
        uint64_t rx_oversize
        uint64_t rx_blocks
        uint64_t tx_frames
        uint64_t tx_bytes
        uint64_t tx_rejected
        uint64_t tx_kicks
        uint64_t tx_full
        uint64_t tx_wrong_format
        uint64_t rx_outgoing
        uint64_t rx_windows

    ctypedef struct mip6_ring_t:
        int fd
        int ifindex
        uint32_t mtu
        int version
        uint8_t *rx_ring
        uint32_t rx_frame_size
        uint32_t rx_frame_count
        uint32_t rx_held
        uint32_t rx_block_size
        uint32_t rx_block_count
        uint32_t tx_frame_size
        uint32_t tx_frame_count
        mip6_ring_counters_t c

    ctypedef struct mip6_ring_stats_t:
        uint64_t packets
        uint64_t drops
        uint64_t freeze_count
        mip6_ring_counters_t c

    ctypedef struct mip6_reflect_result_t:
        uint64_t rx_frames
        uint64_t tx_frames
        uint64_t bytes
        uint64_t dropped
        uint64_t elapsed_ns

    void mip6_ring_cfg_default(mip6_ring_cfg_t *cfg)
    int mip6_ring_open(mip6_ring_t *r, const char *ifname, const mip6_ring_cfg_t *cfg, mip6_ring_err_t *err)
    int mip6_ring_recv(mip6_ring_t *r, mip6_batch_t *b, uint32_t start, uint32_t max, int timeout_ms,
                       mip6_ring_err_t *err)
    int mip6_ring_send(mip6_ring_t *r, const mip6_batch_t *b, int verdict, int timeout_ms, mip6_ring_err_t *err)
    int mip6_ring_rx_window(mip6_ring_t *r, mip6_batch_t *b, uint32_t max, int timeout_ms, uint32_t *first,
                            mip6_ring_err_t *err)
    void mip6_ring_rx_release(mip6_ring_t *r)
    void mip6_ring_shutdown(mip6_ring_t *r)
    uint32_t MIP6_RING_V2_DEFAULT_RESERVE
    uint32_t mip6_ring_tx_in_flight(const mip6_ring_t *r)
    int mip6_ring_stats(mip6_ring_t *r, mip6_ring_stats_t *st, mip6_ring_err_t *err)
    void mip6_ring_close(mip6_ring_t *r)
    int mip6_ring_reflect(mip6_ring_t *rx, mip6_ring_t *tx, uint64_t max_frames, uint64_t duration_ns,
                          mip6_reflect_result_t *res, mip6_ring_err_t *err)
