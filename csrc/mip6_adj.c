/* Adjacency table (mip6_adj.h). */
#include "mip6_adj.h"

#include <stdlib.h>
#include <sys/random.h>

#include "mip6_bcache.h" /* mip6_siphash: one keyed hash for every table a remote sender can fill */

struct mip6_adj {
    mip6_adj_entry_t *slots;
    const mip6_alloc_t *al; /* NULL: libc */
    uint32_t mask; /* array size - 1 */
    uint32_t len, max;
    uint8_t seed[16];
};

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 8;
    while (p < n)
        p <<= 1;
    return p;
}

static void *adj_calloc(const mip6_alloc_t *al, size_t n, size_t size)
{
    return al ? al->calloc(al->ctx, n, size) : calloc(n, size);
}

static void adj_release(mip6_adj_t *t)
{
    const mip6_alloc_t *al = t->al;
    if (al) {
        al->free(al->ctx, t->slots);
        al->free(al->ctx, t);
    } else {
        free(t->slots);
        free(t);
    }
}

mip6_adj_t *mip6_adj_new(uint32_t max_entries, const uint8_t seed[16])
{
    return mip6_adj_new_in(max_entries, seed, NULL);
}

mip6_adj_t *mip6_adj_new_in(uint32_t max_entries, const uint8_t seed[16], const mip6_alloc_t *al)
{
    if (max_entries < 1 || max_entries > MIP6_ADJ_MAX_ENTRIES)
        return NULL;
    mip6_adj_t *t = adj_calloc(al, 1, sizeof *t);
    if (!t)
        return NULL;
    t->al = al;
    uint32_t size = pow2_at_least((uint64_t)max_entries * 2);
    t->slots = adj_calloc(al, size, sizeof *t->slots);
    if (!t->slots) {
        adj_release(t);
        return NULL;
    }
    t->mask = size - 1;
    t->max = max_entries;
    if (seed) {
        memcpy(t->seed, seed, 16);
    } else {
        size_t got = 0;
        while (got < 16) {
            ssize_t r = getrandom(t->seed + got, 16 - got, 0);
            if (r <= 0) {
                adj_release(t);
                return NULL;
            }
            got += (size_t)r;
        }
    }
    return t;
}

void mip6_adj_free(mip6_adj_t *t)
{
    if (t)
        adj_release(t);
}

uint32_t mip6_adj_len(const mip6_adj_t *t) { return t->len; }
uint32_t mip6_adj_max(const mip6_adj_t *t) { return t->max; }

static uint32_t home_of(const mip6_adj_t *t, unsigned iface, const uint8_t addr[16])
{
    uint8_t key[17];
    memcpy(key, addr, 16);
    key[16] = (uint8_t)iface;
    return (uint32_t)mip6_siphash(t->seed, key, sizeof key, 1, 3) & t->mask;
}

static int same(const mip6_adj_entry_t *e, unsigned iface, const uint8_t addr[16])
{
    return e->used && e->iface == iface && memcmp(e->addr, addr, 16) == 0;
}

const mip6_adj_entry_t *mip6_adj_find(const mip6_adj_t *t, unsigned iface, const uint8_t addr[16])
{
    if (t->len == 0)
        return NULL;
    for (uint32_t i = home_of(t, iface, addr);; i = (i + 1) & t->mask) {
        const mip6_adj_entry_t *e = &t->slots[i];
        if (!e->used)
            return NULL;
        if (same(e, iface, addr))
            return e;
    }
}

int mip6_adj_set(mip6_adj_t *t, unsigned iface, const uint8_t addr[16], const uint8_t mac[6], uint64_t deadline_ns)
{
    uint32_t i = home_of(t, iface, addr);
    for (;; i = (i + 1) & t->mask) {
        mip6_adj_entry_t *e = &t->slots[i];
        if (!e->used)
            break;
        if (same(e, iface, addr)) {
            memcpy(e->mac, mac, 6);
            e->deadline_ns = deadline_ns;
            return 1;
        }
    }
    if (t->len >= t->max)
        return 0;
    mip6_adj_entry_t *e = &t->slots[i];
    memcpy(e->addr, addr, 16);
    memcpy(e->mac, mac, 6);
    e->iface = (uint8_t)iface;
    e->deadline_ns = deadline_ns;
    e->used = 1;
    t->len++;
    return 1;
}

int mip6_adj_del(mip6_adj_t *t, unsigned iface, const uint8_t addr[16])
{
    if (t->len == 0)
        return 0;
    uint32_t i = home_of(t, iface, addr);
    for (;; i = (i + 1) & t->mask) {
        if (!t->slots[i].used)
            return 0;
        if (same(&t->slots[i], iface, addr))
            break;
    }
    /* Backward-shift deletion (linear probing): move later members of the run into the hole when their
     * home bucket does not lie cyclically in (hole, position], so every lookup still finds them. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & t->mask; t->slots[j].used; j = (j + 1) & t->mask) {
        const mip6_adj_entry_t *e = &t->slots[j];
        uint32_t home = home_of(t, e->iface, e->addr);
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            t->slots[hole] = *e;
            hole = j;
        }
    }
    memset(&t->slots[hole], 0, sizeof t->slots[hole]);
    t->len--;
    return 1;
}

void mip6_adj_clear(mip6_adj_t *t)
{
    memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
    t->len = 0;
}

int64_t mip6_adj_next(const mip6_adj_t *t, int64_t after)
{
    for (int64_t i = after + 1; i <= (int64_t)t->mask; i++)
        if (t->slots[i].used)
            return i;
    return -1;
}

const mip6_adj_entry_t *mip6_adj_at(const mip6_adj_t *t, int64_t index)
{
    if (index < 0 || index > (int64_t)t->mask || !t->slots[index].used)
        return NULL;
    return &t->slots[index];
}
