# Declarations of csrc/mip6_common.h: the one place its C names enter Cython.
from libc.stdint cimport uint8_t, uint16_t, uint32_t

cdef extern from "mip6_common.h":
    int MIP6_OK
    int MIP6_EPARSE
    int MIP6_ESPACE
    int MIP6_EINVAL

    ctypedef struct mip6_err_t:
        const char *field
        const char *reason
        uint32_t offset
