/* The shared nodes of the data-plane graphs (mip6_graph.c), for the role graphs' files
 * (mip6_graph.c: the home agent; mip6_graph_roles.c: the mobile node and the correspondent).
 * Internal: not part of the public contract (mip6_graph.h). */
#ifndef MIP6_GRAPH_INTERNAL_H
#define MIP6_GRAPH_INTERNAL_H

#include "mip6_graph.h"

/* The last next hop resolved in a run: consecutive packets mostly share one (the default router). */
typedef struct mip6_adj_memo {
    const uint8_t *mac;
    uint8_t addr[16];
    unsigned iface;
    int valid;
} mip6_adj_memo_t;

/* Per-packet scratch for n packets. MIP6_OK or MIP6_ESPACE. */
int mip6_graph_scratch_(mip6_graph_t *g, uint32_t n);
/* Reset the run's results (out->n_slow, totals, tx, drops). */
void mip6_graph_out_reset_(mip6_graph_out_t *out);
/* Append packet i to the slow list with its kind, counted. */
void mip6_graph_slow_(mip6_graph_t *g, mip6_graph_out_t *out, uint32_t i, mip6_slow_t kind);
/* A DROP verdict counted by reason (the graph's totals and the run's). */
void mip6_graph_drop_(mip6_graph_t *g, mip6_graph_out_t *out, unsigned reason);
/* interface-output (mip6_graph.h, "The rewrite node"): 1 sent, 0 left for the slow path. */
int mip6_graph_try_send_(mip6_graph_t *g, mip6_batch_t *b, uint32_t i, uint64_t now_ns, mip6_adj_memo_t *memo,
                         mip6_graph_out_t *out);

#endif
