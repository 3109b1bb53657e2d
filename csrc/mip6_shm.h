/* The home agent's tables shared with its forwarding workers (issue 17, "a home agent on every core").
 *
 * Theory of operation (docs/DATAPATH.md, "Shared tables and workers")
 * ---------------------------------------------------------------------
 * One mapping, MAP_SHARED | MAP_ANONYMOUS, made by the signalling process before it forks the workers,
 * so it sits at the same address in every process and plain pointers inside it are valid everywhere.
 * It holds:
 *   - a header: the grace-period words, the published small tables and their generation;
 *   - an arena the tables are allocated from (mip6_alloc.h): power-of-two size classes, 2^7 bytes up,
 *     a LIFO free list per class, bump allocation above the highest block; no coalescing: the tables'
 *     allocations are a few sizes that double, so a freed block is reused by the next growth of the
 *     same kind, and the waste is bounded by 2x (the class rounding) plus the free lists;
 *   - the binding cache (mip6_bcache.h) and the adjacency table (mip6_adj.h), allocated from the arena
 *     through their pluggable allocators (the libc path is unchanged and stays the default);
 *   - per worker: its counters (the graph's, the kernels' reasons, the batches) and its binding
 *     counters (two arrays indexed by binding slot, mip6_bc_sink_t).
 *
 * Only the signalling process writes the tables (one writer thread). A worker only reads them.
 *
 * Why a grace period, not a seqlock, generations or double buffering. A binding-cache update can move
 * a whole partial chunk (realloc of the lone chunk), start an index migration, or free a block: a
 * seqlock reader could follow a pointer into freed memory before it notices the retry; double
 * buffering doubles the memory of a 10^6-entry table and must replay every mutation twice; RCU-style
 * generations need every freed block deferred. All three make the readers pay for the writer's rare
 * mutations. Here the reader's cost is two seq_cst operations per batch (not per packet), the writer
 * pays a wait of at most one batch (tens of microseconds) per mutation, and the tables stay the
 * ordinary single-threaded ones, unchanged and tested as they are:
 *   writer:  writer := 1; wait until every worker's active word is 0; mutate; writer := 0
 *   worker:  loop { wait while writer; active := 1; if !writer break; active := 0 }; batch; active := 0
 * All seq_cst (Dekker's argument): if the worker read writer = 0 after setting active, the writer's
 * later read of active sees 1 and it waits; if the writer read active = 0, the worker's later read of
 * writer sees 1 and it backs off. So no batch ever overlaps a mutation, and a worker never reads a
 * half-written entry, index, adjacency or route. Mutations are short C calls (the binding cache's
 * growth is incremental, bounded per call), so a worker backs off for microseconds.
 *
 * A hung worker. A worker active for longer than hung_ns (a bug, SIGSTOP, a debugger, a process
 * killed mid-batch) would block the writer forever. The writer gives up after hung_ns: the call
 * returns MIP6_EHUNG without mutating (the writer word cleared again so the other workers continue),
 * mip6_shm_hung() names the worker, and the rule is: the caller kills that worker (SIGKILL) and reaps
 * it (waitpid), then calls mip6_shm_worker_dead(), which clears its active word, and retries. Clearing
 * the word of a live worker would let it read a table mid-mutation: only a reaped process's word may be
 * cleared. A replacement worker takes the same index (its counters carry on from the published ones).
 *
 * The small tables (interfaces, routes, tunnel parameters, own addresses, ESP sets) are published in
 * the header under the same protocol with a generation counter; a worker, once active, compares the
 * generation with its own and copies them into its private graph when it moved (the address sets are
 * arena blocks, replaced whole, so a worker points at them instead of copying).
 *
 * Per-binding packet and byte counters: a worker never writes an entry (its kernels see a private copy
 * of each binding, mip6_lookup_node.h); it adds to its own per-slot arrays, one writer per word, so no
 * count is lost and no value is torn (relaxed 64-bit atomics). A reader sums the entry's own counters
 * (the signalling process's forwarding) and every worker's arrays. A slot's arrays are zeroed when a
 * binding is created in it (under the grace period). The table is kept to max_slots live bindings
 * (an insert beyond it is refused as MIP6_BC_NOMEM, RFC 6275 §9.5.1's "insufficient resources"), so a
 * slot is always below max_slots: slots are reused before the table grows. */
#ifndef MIP6_SHM_H
#define MIP6_SHM_H

#include <stdatomic.h>

#include "mip6_adj.h"
#include "mip6_alloc.h"
#include "mip6_bcache.h"
#include "mip6_graph.h"

#define MIP6_EHUNG (-5) /* a worker stayed inside a batch longer than the hung timeout: see above */
#define MIP6_SHM_MAX_WORKERS 32
#define MIP6_SHM_MAX_SET 65536 /* addresses in one published set */
#define MIP6_SHM_USER 16       /* per-worker counters whose meaning the caller chooses */
#define MIP6_SHM_SETS 3        /* own addresses, homes whose reverse tunnel must be ESP, ESP homes */

typedef struct mip6_shm mip6_shm_t;

/* One worker's counters: what its graph counts (mip6_graph.h) and its kernels' reasons. */
typedef struct mip6_shm_counts {
    uint64_t graph[MIP6_GC_COUNT];
    uint64_t drops[MIP6_R_COUNT];
    uint64_t slow_kinds[MIP6_SLOW_COUNT];
    uint64_t encap[MIP6_R_COUNT];
    uint64_t decap[MIP6_R_COUNT];
    uint64_t batches;  /* graph runs */
    uint64_t backoffs; /* times a batch waited for the writer */
    uint64_t restarts; /* mip6_shm_worker_dead calls for this index */
    uint64_t lost;     /* binding counts past max_slots (stays 0) */
    uint64_t user[MIP6_SHM_USER];
} mip6_shm_counts_t;

/* bytes: the mapping's size (the arena gets what the header leaves; MAP_NORESERVE, so untouched pages
 * cost nothing). workers 1..MIP6_SHM_MAX_WORKERS; max_slots: bindings at most; adj_max: adjacencies at
 * most; seeds: 16 bytes each or NULL (getrandom). hung_ns: the writer's patience. NULL on failure. */
MIP6_API mip6_shm_t *mip6_shm_create(size_t bytes, uint32_t workers, uint32_t max_slots, uint32_t adj_max,
                                     const uint8_t bc_seed[16], const uint8_t adj_seed[16], uint64_t hung_ns);
/* Unmaps (the creator, after its workers are gone; a worker just exits). */
MIP6_API void mip6_shm_destroy(mip6_shm_t *s);
MIP6_API mip6_bcache_t *mip6_shm_cache(mip6_shm_t *s);
MIP6_API mip6_adj_t *mip6_shm_adj(mip6_shm_t *s);
MIP6_API uint32_t mip6_shm_workers(const mip6_shm_t *s);
MIP6_API uint32_t mip6_shm_max_slots(const mip6_shm_t *s);
MIP6_API uint64_t mip6_shm_generation(mip6_shm_t *s);

/* The arena (the writer only). */
MIP6_API void *mip6_shm_alloc(mip6_shm_t *s, size_t n);
MIP6_API void mip6_shm_free(mip6_shm_t *s, void *p);
/* Bytes handed out (whole blocks), bytes below the bump pointer, the arena's size, failed allocations. */
MIP6_API void mip6_shm_arena_stats(mip6_shm_t *s, size_t *in_use, size_t *touched, size_t *size, uint64_t *failures);

/* ---- the grace period ---------------------------------------------------------------------------- */
/* Writer. MIP6_OK: every worker is outside its batch and stays out until write_end. MIP6_EHUNG: nothing
 * held, mip6_shm_hung() says which worker. MIP6_EINVAL: already inside a write (one writer thread). */
MIP6_API int mip6_shm_write_begin(mip6_shm_t *s);
/* publish: bump the generation (the small tables changed). */
MIP6_API void mip6_shm_write_end(mip6_shm_t *s, int publish);
MIP6_API int32_t mip6_shm_hung(mip6_shm_t *s);
/* The worker at index w is dead and reaped: clear its active word, count a restart. */
MIP6_API void mip6_shm_worker_dead(mip6_shm_t *s, uint32_t w);
/* Worker side, around each batch (mip6_shm_worker_run does both). enter: MIP6_OK, or MIP6_EHUNG when
 * the writer held the tables longer than hung_ns (a writer killed mid-mutation: the worker must not
 * spin for ever; it checks its parent and tries later). */
MIP6_API int mip6_shm_enter(mip6_shm_t *s, uint32_t w);
MIP6_API void mip6_shm_leave(mip6_shm_t *s, uint32_t w);
MIP6_API int mip6_shm_active(mip6_shm_t *s, uint32_t w);

/* ---- writer operations: each one grace period (MIP6_OK, MIP6_EHUNG: nothing changed, or EINVAL) --- */
/* The binding cache under RFC 6275 §9.5.1 (mip6_bcache_update / _delete / _delete_if_newer / _expire's
 * contracts, outcome in *outcome); a new binding beyond max_slots is MIP6_BC_NOMEM. */
MIP6_API int mip6_shm_bc_update(mip6_shm_t *s, const uint8_t *key, const uint8_t coa[16], uint16_t seq,
                                uint16_t flags, uint64_t expiry_ns, mip6_bc_outcome_t *outcome,
                                uint16_t *last_seq, int32_t *slot);
/* The same inside a grace period the caller holds (mip6_shm_write_begin): how the signalling process's
 * own BindingTable (mip6fast/_bcache.pyx over the shared table) inserts. */
MIP6_API mip6_bc_outcome_t mip6_shm_bc_update_held(mip6_shm_t *s, const uint8_t *key, const uint8_t coa[16],
                                                   uint16_t seq, uint16_t flags, uint64_t expiry_ns,
                                                   uint16_t *last_seq, int32_t *slot);
MIP6_API int mip6_shm_bc_delete(mip6_shm_t *s, const uint8_t *key, int *deleted);
MIP6_API int mip6_shm_bc_delete_if_newer(mip6_shm_t *s, const uint8_t *key, uint16_t seq,
                                         mip6_bc_outcome_t *outcome, uint16_t *last_seq, int32_t *slot);
MIP6_API int mip6_shm_bc_expire(mip6_shm_t *s, uint64_t now_ns, uint8_t *keys_out, uint32_t max, uint32_t *n);
/* A binding's packet and byte counts: its entry's own plus every worker's (the writer's process asks: it
 * reads the entry outside a grace period, which only the writer may). */
MIP6_API void mip6_shm_bc_counters(mip6_shm_t *s, int32_t slot, uint64_t *packets, uint64_t *bytes);
/* The adjacency table (mip6_adj.h's contracts; *done = mip6_adj_set's/_del's result). */
MIP6_API int mip6_shm_adj_set(mip6_shm_t *s, unsigned iface, const uint8_t addr[16], const uint8_t mac[6],
                              uint64_t deadline_ns, int *done);
MIP6_API int mip6_shm_adj_del(mip6_shm_t *s, unsigned iface, const uint8_t addr[16], int *done);
MIP6_API int mip6_shm_adj_clear(mip6_shm_t *s);
/* The small tables, published with a new generation. Routes as mip6_graph_set_routes takes them. */
MIP6_API int mip6_shm_set_ifaces(mip6_shm_t *s, const mip6_graph_iface_t *ifaces, uint32_t n);
MIP6_API int mip6_shm_set_routes(mip6_shm_t *s, const uint8_t *prefixes, const uint8_t *plens,
                                 const uint8_t *ifaces, const uint8_t *next_hops, const uint8_t *has_next_hop,
                                 uint32_t n);
MIP6_API int mip6_shm_set_tunnel(mip6_shm_t *s, const uint8_t address[16], const mip6_tunnel_cfg_t *tun,
                                 unsigned decap_flags);
/* which 0: own addresses, 1: required (reverse tunnel must be ESP), 2: protected homes. n addresses. */
MIP6_API int mip6_shm_set_addresses(mip6_shm_t *s, unsigned which, const uint8_t *addrs, uint32_t n);

/* ---- counters ------------------------------------------------------------------------------------ */
MIP6_API void mip6_shm_read_worker(mip6_shm_t *s, uint32_t w, mip6_shm_counts_t *out);
/* Sum over every worker. */
MIP6_API void mip6_shm_read_sum(mip6_shm_t *s, mip6_shm_counts_t *out);
/* A worker's (or its supervisor's) own counters: k < MIP6_SHM_USER. add or set. */
MIP6_API void mip6_shm_user_add(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v);
MIP6_API void mip6_shm_user_set(mip6_shm_t *s, uint32_t w, unsigned k, uint64_t v);

/* ---- a worker ------------------------------------------------------------------------------------ */
/* A worker's private state: its graph over the shared tables, its sink, its running totals. Lives in
 * the worker's own memory (malloc), never in the mapping. */
typedef struct mip6_shm_worker {
    mip6_shm_t *shm;
    uint32_t index;
    uint64_t gen;
    mip6_graph_ha_t ha;
    mip6_bc_sink_t sink;
    uint64_t encap[MIP6_R_COUNT], decap[MIP6_R_COUNT];
    uint64_t batches, backoffs;
} mip6_shm_worker_t;

/* Attach as worker w (its counters carry on from the published ones). 0 or MIP6_EINVAL. */
MIP6_API int mip6_shm_worker_init(mip6_shm_worker_t *wk, mip6_shm_t *s, uint32_t w);
MIP6_API void mip6_shm_worker_release(mip6_shm_worker_t *wk);
/* One batch through the home agent's graph (mip6_graph_ha_run's contract) inside a grace-period read
 * section, the small tables refreshed first when their generation moved, the counters published after.
 * MIP6_EHUNG: the writer held the tables too long (mip6_shm_enter); the batch was not touched. */
MIP6_API int mip6_shm_worker_run(mip6_shm_worker_t *wk, mip6_batch_t *b, unsigned rx, uint64_t now_ns,
                                 mip6_graph_out_t *out);

#endif
