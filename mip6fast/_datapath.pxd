# The C view of a PacketBatch, for every Cython module that hands batches to C (data-path kernels,
# rings, TUN devices):
#     from mip6fast._datapath cimport BatchView, view_of
#     cdef BatchView v = view_of(batch)      # made once per batch, kept on it
#     ... C over &v.b, with v.b.count set from batch.count
from libc.stdint cimport uint32_t
from datapath cimport mip6_batch_t


cdef class BatchView:
    cdef mip6_batch_t b
    cdef readonly uint32_t capacity
    cdef object _keep


cpdef BatchView view_of(batch)
