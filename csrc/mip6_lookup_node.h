/* The loop every batch kernel with a binding table runs (VPP's two-pass node shape), written once.
 *
 * For each chunk of MIP6_LN_CHUNK packets:
 *   pass 1: each packet whose verdict is PASS goes through mip6_batch_packet (a failure is counted with
 *           aux 0), then gather(), which either refuses it (a reason, counted with aux 0) or writes its
 *           key_len-byte lookup key and a note (any 32-bit value the kernel wants back in pass 2);
 *   lookup: one mip6_bcache_lookup_batch over the chunk's keys (it prefetches ahead);
 *   pass 2: apply() for each gathered packet, in batch order, with its binding (NULL on a miss); it
 *           rewrites the packet, returns its reason and sets *aux for mip6_batch_set, and on FORWARDED
 *           adds to the binding's counters (mip6_ln_forwarded). The driver counts the FORWARDED ones.
 *
 * Callers pass their callbacks as constant function pointers: the driver is always inlined, so gcc turns
 * them into direct calls (and inlines them): no indirect call is left in the loop. */
#ifndef MIP6_LOOKUP_NODE_H
#define MIP6_LOOKUP_NODE_H

#include "mip6_batch.h"
#include "mip6_bcache.h"

#include <stdatomic.h>

#define MIP6_LN_CHUNK 64 /* packets per lookup round */

/* Pass 1, after the slot and IPv6 header checks: MIP6_R_NONE with key (and, if it wants, *note)
 * written, or the reason the packet gets. */
typedef mip6_reason_t (*mip6_ln_gather_fn)(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                           uint32_t *note);
/* Pass 2: packet i (bytes p, length n, headroom room, all as checked in pass 1), its binding e or NULL,
 * its note. Returns its reason; *aux is 0 on entry. */
typedef mip6_reason_t (*mip6_ln_apply_fn)(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                          uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux);

/* An apply's last step when it forwards: 1 packet and bytes to the binding's counters. */
static inline mip6_reason_t mip6_ln_forwarded(mip6_binding_t *e, uint32_t bytes)
{
    e->packets += 1;
    e->bytes += bytes;
    return MIP6_R_FORWARDED;
}

/* A sink's share of one forwarded binding: single writer per word, so load + store is exact. */
static inline void mip6_ln_sink_add(mip6_bc_sink_t *sink, int32_t slot, uint64_t packets, uint64_t bytes)
{
    if ((uint32_t)slot >= sink->n) {
        sink->lost += packets;
        return;
    }
    _Atomic uint64_t *p = &sink->packets[slot], *y = &sink->bytes[slot];
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + packets, memory_order_relaxed);
    atomic_store_explicit(y, atomic_load_explicit(y, memory_order_relaxed) + bytes, memory_order_relaxed);
}

/* Returns the number of packets forwarded. key_len is the table's (16 or 32), checked by the caller.
 * sink NULL: apply() adds to the entries' counters. With a sink (a forwarding worker reading a shared
 * table, mip6_shm.h), apply() gets a private copy of the entry, so the shared table is never written
 * by a reader, and what it added to the copy's counters goes to the sink's per-slot arrays. */
static inline __attribute__((always_inline)) int
mip6_lookup_node_sink(mip6_batch_t *b, mip6_bcache_t *cache, unsigned key_len, uint64_t *counters,
                      const void *ctx, mip6_ln_gather_fn gather, mip6_ln_apply_fn apply, mip6_bc_sink_t *sink)
{
    union {
        mip6_binding_t e;
        uint8_t raw[sizeof(mip6_binding_t) + 32];
    } copy;
    int forwarded = 0;
    uint8_t keys[MIP6_LN_CHUNK * 32];
    int32_t slots[MIP6_LN_CHUNK];
    uint32_t idx[MIP6_LN_CHUNK], notes[MIP6_LN_CHUNK];

    for (uint32_t base = 0; base < b->count; base += MIP6_LN_CHUNK) {
        uint32_t end = b->count - base > MIP6_LN_CHUNK ? base + MIP6_LN_CHUNK : b->count, m = 0;
        for (uint32_t i = base; i < end; i++) {
            if (b->verdict[i] != MIP6_V_PASS)
                continue;
            uint32_t n, room, note = 0;
            mip6_reason_t why;
            const uint8_t *p = mip6_batch_packet(b, i, &n, &room, &why);
            if (!p || (why = gather(ctx, p, n, keys + (size_t)m * key_len, &note)) != MIP6_R_NONE) {
                mip6_batch_set(b, i, why, 0, counters);
                continue;
            }
            notes[m] = note;
            idx[m++] = i;
        }
        if (m)
            mip6_bcache_lookup_batch(cache, keys, key_len, m, slots);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = idx[k], n = b->length[i], aux = 0;
            uint32_t room = (uint32_t)(b->offset[i] - (uint64_t)i * b->slot_size); /* checked in pass 1 */
            mip6_binding_t *e = slots[k] >= 0 ? mip6_bcache_entry(cache, slots[k]) : NULL;
            if (sink && e) {
                memcpy(copy.raw, e, sizeof(mip6_binding_t) + key_len);
                copy.e.packets = copy.e.bytes = 0;
                e = &copy.e;
            }
            mip6_reason_t r = apply(ctx, b, i, b->buf + b->offset[i], n, room, e, notes[k], &aux);
            if (sink && e && copy.e.packets)
                mip6_ln_sink_add(sink, slots[k], copy.e.packets, copy.e.bytes);
            forwarded += r == MIP6_R_FORWARDED;
            mip6_batch_set(b, i, r, aux, counters);
        }
    }
    return forwarded;
}

static inline __attribute__((always_inline)) int
mip6_lookup_node(mip6_batch_t *b, mip6_bcache_t *cache, unsigned key_len, uint64_t *counters, const void *ctx,
                 mip6_ln_gather_fn gather, mip6_ln_apply_fn apply)
{
    return mip6_lookup_node_sink(b, cache, key_len, counters, ctx, gather, apply, NULL);
}

#endif
