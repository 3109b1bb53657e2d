# Declarations of csrc/mip6_bcache.h (docs/DATAPATH.md, "Binding cache").
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t

cdef extern from "mip6_bcache.h" nogil:
    unsigned MIP6_BU_FLAG_A
    unsigned MIP6_BU_FLAG_H
    unsigned MIP6_BU_FLAG_L
    unsigned MIP6_BU_FLAG_K
    uint32_t MIP6_BCACHE_MAX_ENTRIES

    # Packed in C; key is a flexible array member of key_len (16 or 32) bytes. Never take the address of
    # a multi-byte field: it may be unaligned.
    ctypedef struct mip6_binding_t:
        uint8_t coa[16]
        uint16_t seq
        uint16_t flags
        uint64_t expiry_ns
        uint64_t packets
        uint64_t bytes
        uint8_t key[32]

    ctypedef struct mip6_bcache_t:
        pass

    ctypedef enum mip6_bc_outcome_t:
        MIP6_BC_CREATED
        MIP6_BC_UPDATED
        MIP6_BC_STALE
        MIP6_BC_NOMEM
        MIP6_BC_DELETED
        MIP6_BC_ABSENT

    ctypedef struct mip6_bcache_stats_t:
        uint32_t len
        uint32_t high_water
        uint32_t entry_capacity
        uint32_t free_slots
        uint32_t nbuckets
        uint32_t used
        uint32_t tombstones
        uint32_t old_nbuckets
        uint32_t old_remaining
        uint32_t max_probe

    mip6_bcache_t *mip6_bcache_new(unsigned key_len, uint32_t capacity_hint, const uint8_t *seed)
    void mip6_bcache_free(mip6_bcache_t *t)
    uint32_t mip6_bcache_len(const mip6_bcache_t *t)
    unsigned mip6_bcache_key_len(const mip6_bcache_t *t)
    size_t mip6_bcache_memory(const mip6_bcache_t *t)
    size_t mip6_bcache_entry_size(const mip6_bcache_t *t)
    int32_t mip6_bcache_lookup(const mip6_bcache_t *t, const uint8_t *key)
    void mip6_bcache_lookup_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                                  int32_t *slots_out)
    mip6_binding_t *mip6_bcache_entry(mip6_bcache_t *t, int32_t slot)
    mip6_bc_outcome_t mip6_bcache_update(mip6_bcache_t *t, const uint8_t *key, const uint8_t *coa, uint16_t seq,
                                         uint16_t flags, uint64_t expiry_ns, uint16_t *last_seq, int32_t *slot)
    int mip6_bcache_delete(mip6_bcache_t *t, const uint8_t *key)
    mip6_bc_outcome_t mip6_bcache_delete_if_newer(mip6_bcache_t *t, const uint8_t *key, uint16_t seq,
                                                  uint16_t *last_seq, int32_t *slot)
    int mip6_bcache_seq_newer(uint16_t seq, uint16_t last)
    uint32_t mip6_bcache_expire(mip6_bcache_t *t, uint64_t now_ns, uint8_t *keys_out, uint32_t max)
    int32_t mip6_bcache_next(const mip6_bcache_t *t, int32_t after)
    uint64_t mip6_bcache_hash(const mip6_bcache_t *t, const uint8_t *key)
    void mip6_bcache_hash_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                                uint64_t *out)
    uint64_t mip6_siphash(const uint8_t *key, const uint8_t *msg, size_t len, unsigned crounds, unsigned drounds)
    void mip6_bcache_stats(const mip6_bcache_t *t, mip6_bcache_stats_t *s)
    void mip6_bcache_debug_fail_allocs(long n)
