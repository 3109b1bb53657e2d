/* A table-level allocator the tables (mip6_bcache.h, mip6_adj.h) can be given instead of libc's, so that
 * a table can live in memory other processes map at the same address (mip6_shm.h: the forwarding
 * workers' shared tables). NULL everywhere means malloc/calloc/realloc/free, the default. Every block a
 * table takes comes from its allocator and goes back to it; the allocator must outlive the table. */
#ifndef MIP6_ALLOC_H
#define MIP6_ALLOC_H

#include <stddef.h>

typedef struct mip6_alloc {
    void *(*calloc)(void *ctx, size_t n, size_t size); /* zeroed, or NULL */
    void *(*realloc)(void *ctx, void *p, size_t n);    /* realloc's contract (p may be NULL) */
    void (*free)(void *ctx, void *p);                  /* p may be NULL */
    void *ctx;
} mip6_alloc_t;

#endif
