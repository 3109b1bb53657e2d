# The shared tables as a cdef class other Cython modules can take apart (mip6fast/_bcache.pyx wraps the
# shared binding cache in a BindingTable for the signalling process):
#     from mip6fast._shm cimport SharedTables
from libc.stdint cimport uint32_t
from shm cimport mip6_shm_t


cdef class SharedTables:
    cdef mip6_shm_t *s
    cdef readonly uint32_t workers, max_bindings
    cdef readonly object creator_pid
    cdef public object on_hung

    cdef mip6_shm_t *_s(self) except NULL
    cdef int _check(self, int rc) except -1
    cdef bint _recover(self, int rc) except -1
    cdef _set(self, unsigned which, addresses)
