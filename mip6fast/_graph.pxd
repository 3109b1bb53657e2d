# The results of a graph run, for every Cython module that runs a graph (mip6fast._graph's role
# graphs, mip6fast._shm's worker graph):
#     from mip6fast._graph cimport _GraphResults
#     cdef class MyGraph(_GraphResults): ...   # a run fills self.res through self._view(batch)
from libc.stdint cimport uint32_t
from graph cimport mip6_graph_out_t
from mip6fast._datapath cimport BatchView


cdef class _GraphResults:
    cdef mip6_graph_out_t res
    cdef readonly object out, slow, slow_kind
    cdef uint32_t _cap

    cdef _grow(self, uint32_t cap)
    cdef BatchView _view(self, batch)
    cdef uint32_t _tx_count(self)
    cdef int _check(self, int rc) except -1
