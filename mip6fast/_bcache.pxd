# The binding table as a cdef class other Cython modules can take apart:
#     from mip6fast._bcache cimport BindingTable
#     cdef mip6_bcache_t *t = (<BindingTable>table).ptr
# A module that runs C over ptr without the GIL brackets the work with begin_read()/end_read() (lookups,
# counter updates) or begin_write()/end_write() (inserts, deletes), so that a mutating call from another
# thread raises instead of racing it.
from libc.stdint cimport uint8_t, int32_t
from bcache cimport mip6_bcache_t
from shm cimport mip6_shm_t


cdef class BindingTable:
    cdef mip6_bcache_t *ptr
    cdef readonly unsigned int key_size
    cdef int _readers  # nogil readers in flight
    cdef int _writing  # a nogil writer in flight
    cdef uint8_t _kbuf[48]  # a key (at 0) and a care-of address (at 32) copied out of non-bytes buffers
    cdef mip6_shm_t *shm    # the shared tables this table lives in (BindingTable.shared), else NULL
    cdef object _shared     # their SharedTables, kept alive while this table is
    cdef int _held          # guards holding the shared tables' grace period

    cdef int _grace(self) except -1
    cdef void _ungrace(self) noexcept

    cdef int begin_read(self) except -1
    cdef void end_read(self) noexcept
    cdef int begin_write(self) except -1
    cdef void end_write(self) noexcept
    cdef const uint8_t *_buf(self, object obj, unsigned size, unsigned at, str what) except NULL
    cdef tuple _entry_tuple(self, int32_t slot)
