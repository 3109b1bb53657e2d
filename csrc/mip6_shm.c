/* Shared tables for the forwarding workers: see mip6_shm.h for the theory of operation. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, sched_yield */
#include "mip6_shm.h"

#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define SHM_MAGIC 0x6d69703673686d31ull /* "mip6shm1" */
#define SHM_MIN_CLASS 7                  /* 128-byte blocks: a 64-byte header and 64 bytes */
#define SHM_CLASSES 48
#define SHM_HDR 64u                      /* block header: keeps payloads cache-line aligned */
#define SHM_BLOCK_MAGIC 0x626c6b31u

typedef struct shm_block {
    uint32_t magic;
    uint32_t cls;
} shm_block_t;

typedef struct shm_tables {
    mip6_graph_iface_t ifaces[MIP6_GRAPH_MAX_IFACES];
    uint32_t n_ifaces;
    mip6_graph_route_t routes[MIP6_GRAPH_MAX_ROUTES];
    uint32_t n_routes;
    mip6_tunnel_cfg_t tun;
    unsigned decap_flags;
    uint8_t address[16];
    uint8_t *sets[MIP6_SHM_SETS]; /* arena blocks (n * 16 bytes), NULL when empty */
    uint32_t n_sets[MIP6_SHM_SETS];
} shm_tables_t;

/* One worker's published counters: written by that worker only (relaxed stores of its totals). */
typedef struct shm_wstats {
    _Atomic uint64_t graph[MIP6_GC_COUNT];
    _Atomic uint64_t drops[MIP6_R_COUNT];
    _Atomic uint64_t slow_kinds[MIP6_SLOW_COUNT];
    _Atomic uint64_t encap[MIP6_R_COUNT];
    _Atomic uint64_t decap[MIP6_R_COUNT];
    _Atomic uint64_t batches, backoffs, restarts, lost;
    _Atomic uint64_t user[MIP6_SHM_USER];
} shm_wstats_t;

struct mip6_shm {
    uint64_t magic;
    size_t size;
    uint32_t n_workers, max_slots;
    uint64_t hung_ns;
    alignas(64) _Atomic uint32_t writer; /* 1 while the writer mutates or waits to */
    alignas(64) _Atomic uint64_t gen;    /* the small tables' generation */
    _Atomic int32_t hung;                /* the worker a write gave up on, or -1 */
    struct {
        alignas(64) _Atomic uint32_t active; /* 1 while worker w runs a batch; its own cache line */
    } w[MIP6_SHM_MAX_WORKERS];
    /* the arena (writer only) */
    alignas(64) mip6_alloc_t alloc;
    uint8_t *arena, *top, *end;
    void *free_list[SHM_CLASSES];
    size_t in_use;
    uint64_t failures;
    /* the tables */
    mip6_bcache_t *cache;
    mip6_adj_t *adj;
    shm_tables_t t;
    shm_wstats_t *stats;                    /* n_workers */
    _Atomic uint64_t *slot_packets, *slot_bytes; /* n_workers * max_slots each */
};

/* ---- the arena ----------------------------------------------------------------------------------- */

static unsigned shm_class(size_t n)
{
    unsigned c = SHM_MIN_CLASS;
    while (c < SHM_CLASSES && ((size_t)1 << c) < n + SHM_HDR)
        c++;
    return c;
}

void *mip6_shm_alloc(mip6_shm_t *s, size_t n)
{
    if (n > ((size_t)1 << (SHM_CLASSES - 2))) {
        s->failures++;
        return NULL;
    }
    unsigned c = shm_class(n);
    size_t bsize = (size_t)1 << c;
    uint8_t *blk = s->free_list[c];
    if (blk) {
        memcpy(&s->free_list[c], blk + sizeof(shm_block_t), sizeof(void *)); /* next, kept after the header */
        memset(blk + sizeof(shm_block_t), 0, bsize - sizeof(shm_block_t));
    } else {
        if ((size_t)(s->end - s->top) < bsize) {
            s->failures++;
            return NULL;
        }
        blk = s->top; /* never used before: still the mapping's zero pages */
        s->top += bsize;
    }
    shm_block_t h = { SHM_BLOCK_MAGIC, c };
    memcpy(blk, &h, sizeof h);
    s->in_use += bsize;
    return blk + SHM_HDR;
}

static shm_block_t *shm_header(mip6_shm_t *s, void *p)
{
    uint8_t *blk = (uint8_t *)p - SHM_HDR;
    if (blk < s->arena || blk >= s->top)
        abort(); /* not ours: a bug, never input */
    shm_block_t *h = (shm_block_t *)(void *)blk;
    if (h->magic != SHM_BLOCK_MAGIC || h->cls < SHM_MIN_CLASS || h->cls >= SHM_CLASSES)
        abort();
    return h;
}

void mip6_shm_free(mip6_shm_t *s, void *p)
{
    if (!p)
        return;
    shm_block_t *h = shm_header(s, p);
    unsigned c = h->cls;
    h->magic = 0; /* a double free aborts in shm_header */
    uint8_t *blk = (uint8_t *)h;
    memcpy(blk + sizeof(shm_block_t), &s->free_list[c], sizeof(void *));
    s->free_list[c] = blk;
    s->in_use -= (size_t)1 << c;
}

static void *shm_calloc_cb(void *ctx, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return mip6_shm_alloc(ctx, n * size);
}

static void *shm_realloc_cb(void *ctx, void *p, size_t n)
{
    mip6_shm_t *s = ctx;
    if (!p)
        return mip6_shm_alloc(s, n);
    size_t have = ((size_t)1 << shm_header(s, p)->cls) - SHM_HDR;
    if (n <= have)
        return p;
    void *q = mip6_shm_alloc(s, n);
    if (!q)
        return NULL;
    memcpy(q, p, have);
    mip6_shm_free(s, p);
    return q;
}

static void shm_free_cb(void *ctx, void *p) { mip6_shm_free(ctx, p); }

void mip6_shm_arena_stats(mip6_shm_t *s, size_t *in_use, size_t *touched, size_t *size, uint64_t *failures)
{
    *in_use = s->in_use;
    *touched = (size_t)(s->top - s->arena);
    *size = (size_t)(s->end - s->arena);
    *failures = s->failures;
}

/* ---- creation ------------------------------------------------------------------------------------ */

mip6_shm_t *mip6_shm_create(size_t bytes, uint32_t workers, uint32_t max_slots, uint32_t adj_max,
                            const uint8_t bc_seed[16], const uint8_t adj_seed[16], uint64_t hung_ns)
{
    size_t head = (sizeof(mip6_shm_t) + 4095) & ~(size_t)4095;
    if (workers < 1 || workers > MIP6_SHM_MAX_WORKERS || max_slots < 1 || max_slots > MIP6_BCACHE_MAX_ENTRIES
        || bytes < head + ((size_t)1 << 20) || adj_max < 1 || adj_max > MIP6_ADJ_MAX_ENTRIES)
        return NULL;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    mip6_shm_t *s = m; /* zero pages */
    s->magic = SHM_MAGIC;
    s->size = bytes;
    s->n_workers = workers;
    s->max_slots = max_slots;
    s->hung_ns = hung_ns;
    atomic_init(&s->writer, 0);
    atomic_init(&s->gen, 1);
    atomic_init(&s->hung, -1);
    s->arena = s->top = (uint8_t *)m + head;
    s->end = (uint8_t *)m + bytes;
    s->alloc = (mip6_alloc_t){ shm_calloc_cb, shm_realloc_cb, shm_free_cb, s };
    s->stats = mip6_shm_alloc(s, (size_t)workers * sizeof(shm_wstats_t));
    s->slot_packets = mip6_shm_alloc(s, (size_t)workers * max_slots * sizeof(uint64_t));
    s->slot_bytes = mip6_shm_alloc(s, (size_t)workers * max_slots * sizeof(uint64_t));
    uint32_t hint = max_slots < 1024 ? max_slots : 1024;
    s->cache = mip6_bcache_new_in(16, hint, bc_seed, &s->alloc);
    s->adj = mip6_adj_new_in(adj_max, adj_seed, &s->alloc);
    if (!s->stats || !s->slot_packets || !s->slot_bytes || !s->cache || !s->adj) {
        munmap(m, bytes);
        return NULL;
    }
    return s;
}

void mip6_shm_destroy(mip6_shm_t *s)
{
    if (s && s->magic == SHM_MAGIC)
        munmap(s, s->size);
}

mip6_bcache_t *mip6_shm_cache(mip6_shm_t *s) { return s->cache; }
mip6_adj_t *mip6_shm_adj(mip6_shm_t *s) { return s->adj; }
uint32_t mip6_shm_workers(const mip6_shm_t *s) { return s->n_workers; }
uint32_t mip6_shm_max_slots(const mip6_shm_t *s) { return s->max_slots; }
uint64_t mip6_shm_generation(mip6_shm_t *s) { return atomic_load(&s->gen); }

/* ---- the grace period (mip6_shm.h: every operation seq_cst, Dekker's argument) --------------------- */

static uint64_t shm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void shm_pause(unsigned spins)
{
    if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield(); /* two cores shared with others: give the other process the CPU */
    }
}

int mip6_shm_write_begin(mip6_shm_t *s)
{
    if (atomic_exchange(&s->writer, 1) != 0)
        return MIP6_EINVAL;
    uint64_t start = 0;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        for (unsigned spins = 0; atomic_load(&s->w[w].active); spins++) {
            if (spins == 64)
                start = start ? start : shm_now();
            if (spins >= 64 && (spins & 63) == 0 && shm_now() - start > s->hung_ns) {
                atomic_store(&s->hung, (int32_t)w);
                atomic_store(&s->writer, 0);
                return MIP6_EHUNG;
            }
            shm_pause(spins);
        }
    }
    return MIP6_OK;
}

void mip6_shm_write_end(mip6_shm_t *s, int publish)
{
    if (publish)
        atomic_fetch_add(&s->gen, 1);
    atomic_store(&s->writer, 0);
}

int32_t mip6_shm_hung(mip6_shm_t *s) { return atomic_load(&s->hung); }

void mip6_shm_worker_dead(mip6_shm_t *s, uint32_t w)
{
    if (w >= s->n_workers)
        return;
    atomic_store(&s->w[w].active, 0);
    int32_t expect = (int32_t)w;
    atomic_compare_exchange_strong(&s->hung, &expect, -1);
    atomic_fetch_add_explicit(&s->stats[w].restarts, 1, memory_order_relaxed);
}

int mip6_shm_enter(mip6_shm_t *s, uint32_t w)
{
    _Atomic uint32_t *a = &s->w[w].active;
    uint64_t start = 0;
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load(&s->writer)) {
            atomic_store(a, 1);
            if (!atomic_load(&s->writer))
                return MIP6_OK;
            atomic_store(a, 0);
        }
        /* A writer that holds the tables longer than hung_ns (killed mid-mutation, stopped): give up
         * rather than spin for ever; the worker looks at its parent and tries again later. */
        if (spins == 64)
            start = shm_now();
        if (spins > 64 && (spins & 63) == 0 && shm_now() - start > s->hung_ns)
            return MIP6_EHUNG;
        shm_pause(spins);
    }
}

void mip6_shm_leave(mip6_shm_t *s, uint32_t w) { atomic_store(&s->w[w].active, 0); }

int mip6_shm_active(mip6_shm_t *s, uint32_t w) { return w < s->n_workers && atomic_load(&s->w[w].active); }

/* ---- writer operations ----------------------------------------------------------------------------- */

static void shm_zero_slot(mip6_shm_t *s, int32_t slot)
{
    if (slot < 0 || (uint32_t)slot >= s->max_slots)
        return;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        atomic_store_explicit(&s->slot_packets[(size_t)w * s->max_slots + (uint32_t)slot], 0, memory_order_relaxed);
        atomic_store_explicit(&s->slot_bytes[(size_t)w * s->max_slots + (uint32_t)slot], 0, memory_order_relaxed);
    }
}

mip6_bc_outcome_t mip6_shm_bc_update_held(mip6_shm_t *s, const uint8_t *key, const uint8_t coa[16], uint16_t seq,
                                          uint16_t flags, uint64_t expiry_ns, uint16_t *last_seq, int32_t *slot)
{
    /* The bound: a new binding only while fewer than max_slots are live (then its slot < max_slots). */
    if (mip6_bcache_len(s->cache) >= s->max_slots && mip6_bcache_lookup(s->cache, key) < 0) {
        if (last_seq)
            *last_seq = seq;
        if (slot)
            *slot = -1;
        return MIP6_BC_NOMEM;
    }
    int32_t sl = -1;
    mip6_bc_outcome_t r = mip6_bcache_update(s->cache, key, coa, seq, flags, expiry_ns, last_seq, &sl);
    if (r == MIP6_BC_CREATED)
        shm_zero_slot(s, sl);
    if (slot)
        *slot = sl;
    return r;
}

int mip6_shm_bc_update(mip6_shm_t *s, const uint8_t *key, const uint8_t coa[16], uint16_t seq, uint16_t flags,
                       uint64_t expiry_ns, mip6_bc_outcome_t *outcome, uint16_t *last_seq, int32_t *slot)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *outcome = mip6_shm_bc_update_held(s, key, coa, seq, flags, expiry_ns, last_seq, slot);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_bc_delete(mip6_shm_t *s, const uint8_t *key, int *deleted)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *deleted = mip6_bcache_delete(s->cache, key);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_bc_delete_if_newer(mip6_shm_t *s, const uint8_t *key, uint16_t seq, mip6_bc_outcome_t *outcome,
                                uint16_t *last_seq, int32_t *slot)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *outcome = mip6_bcache_delete_if_newer(s->cache, key, seq, last_seq, slot);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_bc_expire(mip6_shm_t *s, uint64_t now_ns, uint8_t *keys_out, uint32_t max, uint32_t *n)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *n = mip6_bcache_expire(s->cache, now_ns, keys_out, max);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

void mip6_shm_bc_counters(mip6_shm_t *s, int32_t slot, uint64_t *packets, uint64_t *bytes)
{
    *packets = *bytes = 0;
    mip6_binding_t *e = mip6_bcache_entry(s->cache, slot);
    if (!e)
        return;
    *packets = e->packets;
    *bytes = e->bytes;
    if ((uint32_t)slot >= s->max_slots)
        return;
    for (uint32_t w = 0; w < s->n_workers; w++) {
        *packets += atomic_load_explicit(&s->slot_packets[(size_t)w * s->max_slots + (uint32_t)slot],
                                         memory_order_relaxed);
        *bytes += atomic_load_explicit(&s->slot_bytes[(size_t)w * s->max_slots + (uint32_t)slot],
                                       memory_order_relaxed);
    }
}

int mip6_shm_adj_set(mip6_shm_t *s, unsigned iface, const uint8_t addr[16], const uint8_t mac[6],
                     uint64_t deadline_ns, int *done)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *done = mip6_adj_set(s->adj, iface, addr, mac, deadline_ns);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_adj_del(mip6_shm_t *s, unsigned iface, const uint8_t addr[16], int *done)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    *done = mip6_adj_del(s->adj, iface, addr);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_adj_clear(mip6_shm_t *s)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    mip6_adj_clear(s->adj);
    mip6_shm_write_end(s, 0);
    return MIP6_OK;
}

int mip6_shm_set_ifaces(mip6_shm_t *s, const mip6_graph_iface_t *ifaces, uint32_t n)
{
    if (n > MIP6_GRAPH_MAX_IFACES)
        return MIP6_EINVAL;
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    memcpy(s->t.ifaces, ifaces, (size_t)n * sizeof *ifaces);
    s->t.n_ifaces = n;
    mip6_shm_write_end(s, 1);
    return MIP6_OK;
}

int mip6_shm_set_routes(mip6_shm_t *s, const uint8_t *prefixes, const uint8_t *plens, const uint8_t *ifaces,
                        const uint8_t *next_hops, const uint8_t *has_next_hop, uint32_t n)
{
    /* Sorted and checked by the graph's own code in a scratch graph (the interfaces as published). */
    mip6_graph_t *scratch = calloc(1, sizeof *scratch);
    if (!scratch)
        return MIP6_ESPACE;
    scratch->n_ifaces = s->t.n_ifaces;
    int rc = mip6_graph_set_routes(scratch, prefixes, plens, ifaces, next_hops, has_next_hop, n);
    if (rc == MIP6_OK)
        rc = mip6_shm_write_begin(s);
    if (rc == MIP6_OK) {
        memcpy(s->t.routes, scratch->routes, (size_t)scratch->n_routes * sizeof scratch->routes[0]);
        s->t.n_routes = scratch->n_routes;
        mip6_shm_write_end(s, 1);
    }
    free(scratch);
    return rc;
}

int mip6_shm_set_tunnel(mip6_shm_t *s, const uint8_t address[16], const mip6_tunnel_cfg_t *tun, unsigned decap_flags)
{
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK)
        return rc;
    memcpy(s->t.address, address, 16);
    s->t.tun = *tun;
    s->t.decap_flags = decap_flags;
    mip6_shm_write_end(s, 1);
    return MIP6_OK;
}

int mip6_shm_set_addresses(mip6_shm_t *s, unsigned which, const uint8_t *addrs, uint32_t n)
{
    if (which >= MIP6_SHM_SETS || n > MIP6_SHM_MAX_SET)
        return MIP6_EINVAL;
    uint8_t *blk = NULL;
    if (n) {
        blk = mip6_shm_alloc(s, (size_t)n * 16);
        if (!blk)
            return MIP6_ESPACE;
        memcpy(blk, addrs, (size_t)n * 16);
    }
    int rc = mip6_shm_write_begin(s);
    if (rc != MIP6_OK) {
        mip6_shm_free(s, blk);
        return rc;
    }
    uint8_t *old = s->t.sets[which];
    s->t.sets[which] = blk;
    s->t.n_sets[which] = n;
    /* Freed inside the grace period: no worker is in a batch, and each refreshes its pointers from the
     * new generation before its next one. */
    mip6_shm_free(s, old);
    mip6_shm_write_end(s, 1);
    return MIP6_OK;
}

/* ---- counters -------------------------------------------------------------------------------------- */

#define SHM_LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define SHM_STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

void mip6_shm_read_worker(mip6_shm_t *s, uint32_t w, mip6_shm_counts_t *o)
{
    memset(o, 0, sizeof *o);
    if (w >= s->n_workers)
        return;
    shm_wstats_t *st = &s->stats[w];
    for (unsigned k = 0; k < MIP6_GC_COUNT; k++)
        o->graph[k] = SHM_LOAD(st->graph[k]);
    for (unsigned k = 0; k < MIP6_R_COUNT; k++) {
        o->drops[k] = SHM_LOAD(st->drops[k]);
        o->encap[k] = SHM_LOAD(st->encap[k]);
        o->decap[k] = SHM_LOAD(st->decap[k]);
    }
    for (unsigned k = 0; k < MIP6_SLOW_COUNT; k++)
        o->slow_kinds[k] = SHM_LOAD(st->slow_kinds[k]);
    o->batches = SHM_LOAD(st->batches);
    o->backoffs = SHM_LOAD(st->backoffs);
    o->restarts = SHM_LOAD(st->restarts);
    o->lost = SHM_LOAD(st->lost);
    for (unsigned k = 0; k < MIP6_SHM_USER; k++)
        o->user[k] = SHM_LOAD(st->user[k]);
}

void mip6_shm_read_sum(mip6_shm_t *s, mip6_shm_counts_t *out)
{
    memset(out, 0, sizeof *out);
    mip6_shm_counts_t one;
    uint64_t *acc = (uint64_t *)(void *)out;
    const uint64_t *add = (const uint64_t *)(const void *)&one;
    _Static_assert(sizeof(mip6_shm_counts_t) % sizeof(uint64_t) == 0, "counts are whole uint64 words");
    for (uint32_t w = 0; w < s->n_workers; w++) {
        mip6_shm_read_worker(s, w, &one);
        for (size_t k = 0; k < sizeof one / sizeof(uint64_t); k++)
            acc[k] += add[k];
    }
}

void mip6_shm_user_add(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v)
{
    if (w < s->n_workers && k < MIP6_SHM_USER)
        atomic_fetch_add_explicit(&s->stats[w].user[k], v, memory_order_relaxed);
}

void mip6_shm_user_set(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v)
{
    if (w < s->n_workers && k < MIP6_SHM_USER)
        SHM_STORE(s->stats[w].user[k], v);
}

/* ---- a worker -------------------------------------------------------------------------------------- */

int mip6_shm_worker_init(mip6_shm_worker_t *wk, mip6_shm_t *s, uint32_t w)
{
    if (!s || s->magic != SHM_MAGIC || w >= s->n_workers)
        return MIP6_EINVAL;
    memset(wk, 0, sizeof *wk);
    wk->shm = s;
    wk->index = w;
    wk->gen = 0; /* never a published generation: the first batch copies the tables */
    wk->ha.cache = s->cache;
    wk->ha.g.adj = s->adj; /* shared, not owned: released by nobody here */
    wk->sink.packets = s->slot_packets + (size_t)w * s->max_slots;
    wk->sink.bytes = s->slot_bytes + (size_t)w * s->max_slots;
    wk->sink.n = s->max_slots;
    wk->ha.sink = &wk->sink;
    wk->ha.encap_counters = wk->encap;
    wk->ha.decap_counters = wk->decap;
    /* Carry on from what the index's previous process published, so the totals never go back. */
    mip6_shm_counts_t c;
    mip6_shm_read_worker(s, w, &c);
    memcpy(wk->ha.g.counters, c.graph, sizeof c.graph);
    memcpy(wk->ha.g.drops, c.drops, sizeof c.drops);
    memcpy(wk->ha.g.slow_kinds, c.slow_kinds, sizeof c.slow_kinds);
    memcpy(wk->encap, c.encap, sizeof c.encap);
    memcpy(wk->decap, c.decap, sizeof c.decap);
    wk->batches = c.batches;
    wk->backoffs = c.backoffs;
    wk->sink.lost = c.lost;
    return MIP6_OK;
}

void mip6_shm_worker_release(mip6_shm_worker_t *wk)
{
    wk->ha.g.adj = NULL; /* the shared one is not the graph's to free */
    mip6_graph_release(&wk->ha.g);
    memset(wk, 0, sizeof *wk);
}

/* Inside the read section: the published small tables into the private graph. */
static void shm_refresh(mip6_shm_worker_t *wk, uint64_t gen)
{
    const shm_tables_t *t = &wk->shm->t;
    mip6_graph_t *g = &wk->ha.g;
    memcpy(g->ifaces, t->ifaces, sizeof t->ifaces);
    g->n_ifaces = t->n_ifaces;
    memcpy(g->routes, t->routes, (size_t)t->n_routes * sizeof t->routes[0]);
    g->n_routes = t->n_routes;
    wk->ha.tun = t->tun;
    wk->ha.decap_flags = t->decap_flags;
    memcpy(wk->ha.address, t->address, 16);
    /* The sets are read in place (replaced whole by the writer, freed only inside a grace period). */
    static const uint8_t none[16];
    g->own = t->sets[0] ? t->sets[0] : none;
    g->n_own = t->n_sets[0];
    g->required = t->sets[1] ? t->sets[1] : none;
    g->n_required = t->n_sets[1];
    g->protected_homes = t->sets[2] ? t->sets[2] : none;
    g->n_protected = t->n_sets[2];
    wk->gen = gen;
}

static void shm_publish(mip6_shm_worker_t *wk)
{
    shm_wstats_t *st = &wk->shm->stats[wk->index];
    const mip6_graph_t *g = &wk->ha.g;
    for (unsigned k = 0; k < MIP6_GC_COUNT; k++)
        SHM_STORE(st->graph[k], g->counters[k]);
    for (unsigned k = 0; k < MIP6_R_COUNT; k++) {
        SHM_STORE(st->drops[k], g->drops[k]);
        SHM_STORE(st->encap[k], wk->encap[k]);
        SHM_STORE(st->decap[k], wk->decap[k]);
    }
    for (unsigned k = 0; k < MIP6_SLOW_COUNT; k++)
        SHM_STORE(st->slow_kinds[k], g->slow_kinds[k]);
    SHM_STORE(st->batches, wk->batches);
    SHM_STORE(st->backoffs, wk->backoffs);
    SHM_STORE(st->lost, wk->sink.lost);
}

int mip6_shm_worker_run(mip6_shm_worker_t *wk, mip6_batch_t *b, unsigned rx, uint64_t now_ns, mip6_graph_out_t *out)
{
    mip6_shm_t *s = wk->shm;
    if (atomic_load(&s->writer))
        wk->backoffs++;
    if (mip6_shm_enter(s, wk->index) != MIP6_OK)
        return MIP6_EHUNG; /* nothing touched: the batch is the caller's to drop (counted) */
    uint64_t gen = atomic_load(&s->gen);
    if (gen != wk->gen)
        shm_refresh(wk, gen);
    int rc = mip6_graph_ha_run(&wk->ha, b, rx, now_ns, out);
    mip6_shm_leave(s, wk->index);
    wk->batches++;
    shm_publish(wk);
    return rc;
}
