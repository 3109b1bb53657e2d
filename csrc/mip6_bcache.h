/* Binding cache (RFC 6275 §9.1, §10.1) and binding update list (§11.1): one keyed open-addressing table.
 *
 * Key: the 16-byte home address (home agent, correspondent), or 32 bytes, peer address then home address
 * (the mobile node's binding update list). The width is fixed per table at creation.
 *
 * Theory of operation (docs/DATAPATH.md, "Binding cache"):
 * - Entries live in a dense array of slots; a slot number is an entry's index and stays valid until that
 *   entry is deleted. Freed slots go on a LIFO free list and are reused before the array grows. A bitmap
 *   says which slots are live (iteration, mip6_bcache_entry). The array is stored in chunks of 2^15
 *   entries carved from large allocations, so growing it never copies entries (except within a small
 *   table's first, partial chunk) and large tables sit on transparent huge pages.
 * - The index is a power-of-two array of 32-bit buckets, probed linearly. A bucket holds slot + 1 in its
 *   low log2(nbuckets) bits and the top bits of the key's hash above them, so most non-matching buckets
 *   are skipped without touching the entry. 0 is empty; 0xFFFFFFFF is a tombstone (a deleted bucket).
 * - The hash is SipHash-1-3 over the whole key, keyed with 128 bits from getrandom() (or the caller's
 *   seed), so a remote sender cannot pick home addresses that collide (mip6_bcache.c says why 1-3).
 * - Growth is incremental: when the index passes 3/4 full (live + tombstones) a new index is allocated
 *   (twice the size, or the same size when tombstones are most of the load) and every later insert or
 *   delete moves a bounded number of old buckets into it; lookups check the new index, then the old one,
 *   until the move is done. No single insert rehashes the whole table.
 *
 * Not thread-safe: concurrent lookups are fine, but nothing may run alongside a mutating call.
 * A pointer from mip6_bcache_entry() is valid until the next call that inserts or deletes (a partial
 * chunk moves when it grows, and a deleted entry's slot is reused); a slot number stays valid until its
 * entry is deleted. */
#ifndef MIP6_BCACHE_H
#define MIP6_BCACHE_H

#include "mip6_alloc.h"
#include "mip6_common.h"

/* Binding Update flags as on the wire (RFC 6275 §6.1.7); the low byte is free for a role's own bits. */
#define MIP6_BU_FLAG_A 0x8000u /* acknowledge */
#define MIP6_BU_FLAG_H 0x4000u /* home registration */
#define MIP6_BU_FLAG_L 0x2000u /* link-local address compatibility */
#define MIP6_BU_FLAG_K 0x1000u /* key management mobility capability */

/* Largest number of live entries a table can hold (slots are int32 and the index is capped at 2^30
 * buckets at 3/4 load). Allocation fails long before this on most machines. */
#define MIP6_BCACHE_MAX_ENTRIES ((uint32_t)805306368u)

/* One binding. Packed: 44 bytes of fixed fields, then the key (16 or 32 bytes), so an entry of a table
 * with 16-byte keys is exactly 60 bytes. Fields may be unaligned: read and write them through the struct
 * (the compiler emits unaligned-safe accesses); never take the address of a multi-byte member. */
typedef struct __attribute__((packed)) mip6_binding {
    uint8_t coa[16];    /* care-of address */
    uint16_t seq;       /* sequence number of the last accepted Binding Update (host order) */
    uint16_t flags;     /* BU flags as on the wire (MIP6_BU_FLAG_*) + the role's bits in the low byte */
    uint64_t expiry_ns; /* monotonic time at which the binding expires */
    uint64_t packets;   /* data-path counters, kept across updates of the same binding */
    uint64_t bytes;
    uint8_t key[];      /* key_len bytes: home address, or peer address then home address */
} mip6_binding_t;

typedef struct mip6_bcache mip6_bcache_t;

typedef enum {
    MIP6_BC_CREATED = 0, /* no entry existed: one was made */
    MIP6_BC_UPDATED = 1, /* the entry existed and the sequence number was newer: it was overwritten */
    MIP6_BC_STALE = 2,   /* the entry exists and seq is not newer (RFC 6275 §9.5.1): nothing changed */
    MIP6_BC_NOMEM = 3,   /* an allocation failed: nothing changed */
    MIP6_BC_DELETED = 4, /* delete_if_newer: the entry existed and seq was newer: it was deleted */
    MIP6_BC_ABSENT = 5   /* delete_if_newer: no entry existed: nothing changed */
} mip6_bc_outcome_t;

/* RFC 6275 §9.5.1, the one statement of the sequence rule: seq is "greater than" last when
 * (seq - last) mod 2^16 lies in 1..32767; a number in [last - 32768, last] modulo 2^16 is stale.
 * mip6_bcache_update and mip6_bcache_delete_if_newer decide with it; Python asks it through
 * mip6fast.binding_cache.sequence_newer. */
static inline int mip6_bcache_seq_newer(uint16_t seq, uint16_t last)
{
    uint16_t d = (uint16_t)(seq - last);
    return d != 0 && d < 0x8000u;
}

/* key_len must be 16 or 32 (NULL otherwise). capacity_hint: the number of entries to size for (the
 * table grows past it). seed: the 16-byte SipHash key, or NULL for getrandom(). NULL on allocation
 * failure. */
MIP6_API mip6_bcache_t *mip6_bcache_new(unsigned key_len, uint32_t capacity_hint, const uint8_t seed[16]);
/* The same, with every block from al (mip6_alloc.h; NULL: libc), which must outlive the table: how the
 * forwarding workers' shared binding cache lives in one shared mapping (mip6_shm.h). */
MIP6_API mip6_bcache_t *mip6_bcache_new_in(unsigned key_len, uint32_t capacity_hint, const uint8_t seed[16],
                                           const mip6_alloc_t *al);
MIP6_API void mip6_bcache_free(mip6_bcache_t *t);
MIP6_API uint32_t mip6_bcache_len(const mip6_bcache_t *t);
MIP6_API unsigned mip6_bcache_key_len(const mip6_bcache_t *t);
/* Bytes held: entry array (at its allocated capacity), index (both while growing), live bitmap. */
MIP6_API size_t mip6_bcache_memory(const mip6_bcache_t *t);
/* Bytes per entry in the entry array: 44 + key_len. */
MIP6_API size_t mip6_bcache_entry_size(const mip6_bcache_t *t);

/* The slot of key's entry, or -1. */
MIP6_API int32_t mip6_bcache_lookup(const mip6_bcache_t *t, const uint8_t *key);
/* n keys at keys + i * stride; slots_out[i] = slot or -1. Hashes and prefetches index buckets and
 * entries a few keys ahead, so a batch costs about one memory latency per few keys, not per key. */
MIP6_API void mip6_bcache_lookup_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                                       int32_t *slots_out);
/* The entry in a live slot, or NULL. */
MIP6_API mip6_binding_t *mip6_bcache_entry(mip6_bcache_t *t, int32_t slot);

/* Insert or update key's binding under the RFC 6275 §9.5.1 sequence rule: with an entry, accept only a
 * seq "greater than" the last accepted one modulo 2^16 ((seq - last) mod 2^16 in 1..32767); without
 * one, accept any. CREATED/UPDATED: coa, seq, flags and expiry are stored (packet and byte counters
 * start at 0 on CREATED and are kept on UPDATED), *last_seq = seq, *slot = the entry's slot.
 * STALE: nothing changes, *last_seq = the last accepted seq (for BA status 135), *slot = the entry's
 * slot. NOMEM: nothing changes, *last_seq = seq, *slot = -1. last_seq and slot may be NULL. */
MIP6_API mip6_bc_outcome_t mip6_bcache_update(mip6_bcache_t *t, const uint8_t *key, const uint8_t coa[16],
                                              uint16_t seq, uint16_t flags, uint64_t expiry_ns,
                                              uint16_t *last_seq, int32_t *slot);
/* 1 deleted, 0 absent. The slot goes on the free list. */
MIP6_API int mip6_bcache_delete(mip6_bcache_t *t, const uint8_t *key);
/* Delete key's binding under the RFC 6275 §9.5.1 sequence rule (a de-registration, §9.5.1, §10.3.2):
 * only when seq is "greater than" the last accepted one. DELETED: the entry is gone and its slot on the
 * free list, *last_seq = seq, *slot = the freed slot. STALE: nothing changes, *last_seq = the last
 * accepted seq (for BA status 135), *slot = the entry's slot. ABSENT: no entry, nothing changes,
 * *last_seq = seq, *slot = -1. last_seq and slot may be NULL. */
MIP6_API mip6_bc_outcome_t mip6_bcache_delete_if_newer(mip6_bcache_t *t, const uint8_t *key, uint16_t seq,
                                                       uint16_t *last_seq, int32_t *slot);
/* Deletes entries with expiry_ns <= now_ns in slot order, copying each deleted key to keys_out (key_len
 * bytes each), up to max of them; returns the number deleted. While it returns max, call again with the
 * same now_ns: the sweep resumes where it stopped, and the calls together delete every entry with
 * expiry_ns <= now_ns. keys_out may be NULL (delete up to max without reporting keys). */
MIP6_API uint32_t mip6_bcache_expire(mip6_bcache_t *t, uint64_t now_ns, uint8_t *keys_out, uint32_t max);
/* Iteration in slot order: the next live slot > after (after = -1 to start), or -1. */
MIP6_API int32_t mip6_bcache_next(const mip6_bcache_t *t, int32_t after);

/* Beyond docs/DATAPATH.md: the keyed hash of a key, SipHash-1-3 of its key_len bytes under the table's
 * seed (tests check it against the published algorithm and see that seeds change the bucket layout),
 * and a look at the index for tests and tuning. */
MIP6_API uint64_t mip6_bcache_hash(const mip6_bcache_t *t, const uint8_t *key);
/* out[i] = mip6_bcache_hash of the key at keys + i * stride, through the batch lookup's hashing (four
 * keys at once with AVX2 where the CPU has it): tests hold it to the one-key hash. */
MIP6_API void mip6_bcache_hash_batch(const mip6_bcache_t *t, const uint8_t *keys, size_t stride, uint32_t n,
                                     uint64_t *out);
/* SipHash-c-d (c compression rounds per 8-byte block, d finalisation rounds) of len bytes of msg under
 * a 16-byte key, the code the table hashes with: mip6_bcache_hash(t, k) is mip6_siphash(seed, k,
 * key_len, 1, 3). For tests (the paper's SipHash-2-4 vectors) and benchmarks. */
MIP6_API uint64_t mip6_siphash(const uint8_t key[16], const uint8_t *msg, size_t len, unsigned crounds,
                               unsigned drounds);

typedef struct mip6_bcache_stats {
    uint32_t len;           /* live entries */
    uint32_t high_water;    /* slots ever used: entries [0, high_water) exist in the array */
    uint32_t entry_capacity;
    uint32_t free_slots;    /* slots on the free list */
    uint32_t nbuckets;      /* the index new entries go into */
    uint32_t used;          /* its occupied buckets, tombstones included */
    uint32_t tombstones;
    uint32_t old_nbuckets;  /* the index being drained while growing, 0 when not growing */
    uint32_t old_remaining; /* its buckets still to move */
    uint32_t max_probe;     /* longest probe sequence in the current index (buckets looked at by a hit) */
} mip6_bcache_stats_t;
/* Fills *s; max_probe costs a pass over the index and the entries. */
MIP6_API void mip6_bcache_stats(const mip6_bcache_t *t, mip6_bcache_stats_t *s);

/* Where a reader that must not write the table (a forwarding worker, mip6_shm.h) adds the packet and
 * byte counts of the bindings it forwards through, instead of the entries' own counters: two arrays
 * indexed by slot, each word written by that reader only (relaxed atomic stores, so another process
 * summing them reads whole values). A slot >= n is counted in lost (the shared table keeps every slot
 * below n, mip6_shm.h, so it stays 0). */
typedef struct mip6_bc_sink {
    _Atomic uint64_t *packets, *bytes;
    uint32_t n;
    uint64_t lost;
} mip6_bc_sink_t;

/* Test hook: let the next n allocations of every table succeed and fail the ones after (n < 0: never
 * fail, the default). Process-wide and not thread-safe: for tests of the NOMEM paths only. */
MIP6_API void mip6_bcache_debug_fail_allocs(long n);

#endif
