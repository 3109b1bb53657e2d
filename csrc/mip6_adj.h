/* Adjacency table: next hop -> link-layer address, what the data-plane graphs (mip6_graph.h) write the
 * Ethernet header from (RFC 2464 §3) without asking neighbour discovery per packet.
 *
 * The table is a cache of the node's neighbour cache (RFC 4861 §5.1), written by the Python neighbour
 * discovery whenever an entry changes (mip6fast/dataplane.py): an entry exists only while a packet may
 * be sent to that neighbour with no state change (REACHABLE until its ReachableTime runs out: the
 * deadline; DELAY and PROBE: no deadline, RFC 4861 §7.3.3). Everything else (no entry, INCOMPLETE,
 * STALE, a proxied address) is a miss, and the packet takes the slow path, where neighbour discovery
 * queues, resolves and runs NUD exactly as for any packet.
 *
 * Key: (interface index, 16-byte address). Open addressing with linear probing over a power-of-two
 * array, keyed SipHash-1-3 (the binding cache's, seeded from getrandom(): a neighbour on the link picks
 * its addresses), deletion by backward shift (no tombstones, so a long-lived table never degrades).
 * Bounded: at most `max_entries` live entries (a full table refuses an insert: the slow path still
 * works); the array is 2x that, rounded up to a power of two, so probes stay short.
 *
 * Not thread-safe: one writer, and no reader while it writes (the graph runs on the writer's thread;
 * the shared-memory tables of the forwarding workers publish copies, see mip6_shm.h). */
#ifndef MIP6_ADJ_H
#define MIP6_ADJ_H

#include "mip6_alloc.h"
#include "mip6_common.h"

#define MIP6_ADJ_NO_DEADLINE UINT64_MAX
#define MIP6_ADJ_MAX_ENTRIES (1u << 24)

typedef struct mip6_adj_entry {
    uint8_t addr[16];
    uint8_t mac[6];
    uint8_t iface;       /* interface index */
    uint8_t used;        /* 1: live */
    uint64_t deadline_ns; /* usable while now < deadline_ns */
} mip6_adj_entry_t;

typedef struct mip6_adj mip6_adj_t;

/* max_entries 1..MIP6_ADJ_MAX_ENTRIES; seed: 16 bytes or NULL for getrandom(). NULL on failure. */
MIP6_API mip6_adj_t *mip6_adj_new(uint32_t max_entries, const uint8_t seed[16]);
/* The same with every block from al (NULL: libc), which must outlive the table (mip6_shm.h). */
MIP6_API mip6_adj_t *mip6_adj_new_in(uint32_t max_entries, const uint8_t seed[16], const mip6_alloc_t *al);
MIP6_API void mip6_adj_free(mip6_adj_t *t);
MIP6_API uint32_t mip6_adj_len(const mip6_adj_t *t);
MIP6_API uint32_t mip6_adj_max(const mip6_adj_t *t);
/* Insert or replace. 1 done, 0 the table is full (nothing changed). */
MIP6_API int mip6_adj_set(mip6_adj_t *t, unsigned iface, const uint8_t addr[16], const uint8_t mac[6],
                          uint64_t deadline_ns);
/* 1 deleted, 0 absent. */
MIP6_API int mip6_adj_del(mip6_adj_t *t, unsigned iface, const uint8_t addr[16]);
MIP6_API void mip6_adj_clear(mip6_adj_t *t);
/* The live entry, whatever its deadline, or NULL. */
MIP6_API const mip6_adj_entry_t *mip6_adj_find(const mip6_adj_t *t, unsigned iface, const uint8_t addr[16]);
/* The MAC to send to now (an entry whose deadline is after now_ns), or NULL. */
static inline const uint8_t *mip6_adj_usable(const mip6_adj_t *t, unsigned iface, const uint8_t addr[16],
                                             uint64_t now_ns)
{
    const mip6_adj_entry_t *e = mip6_adj_find(t, iface, addr);
    return e && now_ns < e->deadline_ns ? e->mac : NULL;
}
/* Iteration in array order: the next live entry index > after (after = -1 to start), or -1. */
MIP6_API int64_t mip6_adj_next(const mip6_adj_t *t, int64_t after);
MIP6_API const mip6_adj_entry_t *mip6_adj_at(const mip6_adj_t *t, int64_t index);

#endif
