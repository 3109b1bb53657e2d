# Declarations of csrc/mip6_tun.h.
from libc.stdint cimport uint32_t, uint64_t
from datapath cimport mip6_batch_t

cdef extern from "mip6_tun.h" nogil:
    int MIP6_TUN_NAME_MAX

    ctypedef struct mip6_tun_stats_t:
        uint64_t packets
        uint64_t bytes
        uint64_t truncated
        uint64_t errors
        int errno_last

    int mip6_tun_open(const char *name, char *name_out, int *errno_out)
    uint32_t mip6_tun_read_batch(int fd, mip6_batch_t *b, uint32_t capacity, mip6_tun_stats_t *st)
    uint32_t mip6_tun_write_batch(int fd, const mip6_batch_t *b, int verdict, mip6_tun_stats_t *st)
