#include "mip6_route_opt.h"
#include "mip6_lookup_node.h"

static int mtu_ok(uint32_t mtu) { return mtu >= MIP6_RO_MIN_MTU && mtu <= MIP6_RO_MAX_MTU; }

/* Room and size for 24 more bytes in front (TOO_BIG: *aux = what the sender may send). */
static inline mip6_reason_t room_for_insert(uint32_t n, uint32_t room, uint32_t mtu, uint32_t *aux)
{
    if ((uint64_t)n + MIP6_RO_HLEN > mtu) {
        *aux = mtu - MIP6_RO_HLEN;
        return MIP6_R_TOO_BIG;
    }
    if (room < MIP6_RO_HLEN)
        return MIP6_R_NO_HEADROOM;
    return MIP6_R_NONE;
}

/* Moves the first q bytes of the packet 24 bytes back into the headroom, fixes the payload length and
 * the offset/length columns; returns the packet's new start. The 24 bytes at [q, q + 24) of the new
 * packet are the caller's to fill. */
static inline uint8_t *open_gap(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n, uint32_t q)
{
    uint8_t *o = p - MIP6_RO_HLEN;
    memmove(o, p, q);
    mip6_put16(o + 4, (uint16_t)(n + MIP6_RO_HLEN - MIP6_IP6_HLEN)); /* n + 24 <= mtu <= 65535 */
    b->offset[i] -= MIP6_RO_HLEN;
    b->length[i] = n + MIP6_RO_HLEN;
    return o;
}

/* The next-header byte naming what follows the headers that end at q (the walk's shape guarantees the
 * last of them is the routing header if there is one, else the Hop-by-Hop header, else the IPv6 one). */
static inline uint8_t *nh_field(uint8_t *o, const mip6_dp_walk_t *w, uint32_t q)
{
    if (q == MIP6_IP6_HLEN)
        return o + 6;
    return o + (w->rh >= 0 ? (uint32_t)w->rh : MIP6_IP6_HLEN);
}

/* Last step of both inserts: the address at a (the home address) goes to the new header's address field
 * (h + 8) and the binding's care-of address takes its place. */
static inline mip6_reason_t insert_finish(uint8_t *h, uint8_t *a, mip6_binding_t *e, uint32_t n)
{
    memcpy(h + 8, a, 16);
    memcpy(a, e->coa, 16);
    return mip6_ln_forwarded(e, n);
}

static inline mip6_reason_t hao_insert_gather(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                              uint32_t *note)
{
    (void)ctx, (void)n, (void)note;
    memcpy(key, p + 24, 16);     /* peer: the destination */
    memcpy(key + 16, p + 8, 16); /* home address: the source */
    return MIP6_R_NONE;
}

/* ctx: the mtu. */
static inline mip6_reason_t hao_insert_apply(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                             uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    int32_t hao;
    (void)note;
    if (!e)
        return MIP6_R_NO_BINDING;
    if (e->flags & MIP6_BU_FLAG_H)
        return MIP6_R_NOT_ELIGIBLE;
    if ((r = mip6_dp_walk(p, n, &w)) != MIP6_R_NONE)
        return r;
    if (w.upper_nh == MIP6_NH_MH || mip6_dp_is_nd(p, n, &w))
        return MIP6_R_NOT_ELIGIBLE;
    if (w.dst >= 0) {
        if ((r = mip6_dp_find_hao(p, (uint32_t)w.dst, w.dst_end, &hao)) != MIP6_R_NONE)
            return r;
        if (hao >= 0)
            return MIP6_R_DUPLICATE_HAO;
        if (p[w.dst + 1] > 255 - 3)
            return MIP6_R_BAD_HEADER;
    }
    if ((r = room_for_insert(n, room, *(const uint32_t *)ctx, aux)) != MIP6_R_NONE)
        return r;

    uint8_t *o, *h;
    if (w.dst >= 0) {
        /* Append PadN(4) + HAO to the destination options header: the HAO's type byte lands at
         * (header length) + 6, which is 8n+6 because the header length is a multiple of 8. */
        uint32_t q = w.dst_end;
        o = open_gap(b, i, p, n, q);
        o[w.dst + 1] = (uint8_t)(o[w.dst + 1] + 3);
        h = o + q;
        h[0] = MIP6_OPT_PADN;
        h[1] = 4;
        memset(h + 2, 0, 4);
    } else {
        uint32_t q = w.rh >= 0 ? w.rh_end : w.hbh_end;
        o = open_gap(b, i, p, n, q);
        uint8_t *nhf = nh_field(o, &w, q);
        h = o + q;
        h[0] = *nhf;
        h[1] = 2; /* 24 bytes */
        h[2] = MIP6_OPT_PADN;
        h[3] = 2;
        h[4] = h[5] = 0;
        *nhf = MIP6_NH_DSTOPTS;
    }
    h[6] = MIP6_OPT_HAO;
    h[7] = 16;
    return insert_finish(h, o + 8, e, n); /* the home address: the source as the node sent it */
}

int mip6_hao_insert(mip6_batch_t *b, mip6_bcache_t *bul, uint32_t mtu, uint64_t *counters)
{
    if (!mtu_ok(mtu) || mip6_bcache_key_len(bul) != 32)
        return MIP6_EINVAL;
    return mip6_lookup_node(b, bul, 32, counters, &mtu, hao_insert_gather, hao_insert_apply);
}

/* The HAO a correspondent must check, or why there is none to check. */
static inline mip6_reason_t hao_locate(const uint8_t *p, uint32_t n, int32_t *hao)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    if ((r = mip6_dp_walk(p, n, &w)) != MIP6_R_NONE)
        return r;
    if (w.dst < 0)
        return MIP6_R_NO_HAO;
    if ((r = mip6_dp_find_hao(p, (uint32_t)w.dst, w.dst_end, hao)) != MIP6_R_NONE)
        return r;
    if (*hao < 0)
        return MIP6_R_NO_HAO;
    if (w.upper_nh == MIP6_NH_MH)
        return MIP6_R_MH_SIGNALLING;
    return MIP6_R_NONE;
}

static inline mip6_reason_t hao_process_gather(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                               uint32_t *note)
{
    int32_t hao = -1;
    mip6_reason_t r = hao_locate(p, n, &hao);
    (void)ctx;
    if (r != MIP6_R_NONE)
        return r;
    memcpy(key, p + hao, 16);
    *note = (uint32_t)hao;
    return MIP6_R_NONE;
}

/* note: the offset of the HAO's address. */
static inline mip6_reason_t hao_process_apply(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                              uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux)
{
    (void)ctx, (void)b, (void)i, (void)room;
    if (!e || memcmp(e->coa, p + 8, 16) != 0) {
        *aux = note;
        return e ? MIP6_R_HAO_WRONG_COA : MIP6_R_HAO_NO_BINDING;
    }
    uint8_t tmp[16];
    memcpy(tmp, p + 8, 16);
    memcpy(p + 8, p + note, 16);
    memcpy(p + note, tmp, 16);
    return mip6_ln_forwarded(e, n);
}

int mip6_hao_process(mip6_batch_t *b, mip6_bcache_t *cache, uint64_t *counters)
{
    if (mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    return mip6_lookup_node(b, cache, 16, counters, NULL, hao_process_gather, hao_process_apply);
}

static inline mip6_reason_t rh2_insert_gather(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                              uint32_t *note)
{
    (void)ctx, (void)n, (void)note;
    memcpy(key, p + 24, 16);
    return MIP6_R_NONE;
}

/* ctx: the mtu. */
static inline mip6_reason_t rh2_insert_apply(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                             uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    (void)note;
    if (!e)
        return MIP6_R_NO_BINDING;
    if ((r = mip6_dp_walk(p, n, &w)) != MIP6_R_NONE)
        return r;
    if (w.rh >= 0 || w.upper_nh == MIP6_NH_MH || mip6_dp_is_nd(p, n, &w))
        return MIP6_R_NOT_ELIGIBLE;
    if ((r = room_for_insert(n, room, *(const uint32_t *)ctx, aux)) != MIP6_R_NONE)
        return r;
    uint32_t q = w.hbh_end;
    uint8_t *o = open_gap(b, i, p, n, q);
    uint8_t *nhf = nh_field(o, &w, q), *h = o + q;
    h[0] = *nhf;
    h[1] = 2;             /* header extension length: one address (§6.4) */
    h[2] = MIP6_RH_TYPE2;
    h[3] = 1;             /* segments left */
    memset(h + 4, 0, 4);
    *nhf = MIP6_NH_ROUTING;
    return insert_finish(h, o + 24, e, n); /* the home address: the destination as the node sent it */
}

int mip6_rh2_insert(mip6_batch_t *b, mip6_bcache_t *cache, uint32_t mtu, uint64_t *counters)
{
    if (!mtu_ok(mtu) || mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    return mip6_lookup_node(b, cache, 16, counters, &mtu, rh2_insert_gather, rh2_insert_apply);
}

static inline mip6_reason_t rh2_process_one(uint8_t *p, uint32_t n, const uint8_t *homes, uint32_t n_homes)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    if ((r = mip6_dp_walk(p, n, &w)) != MIP6_R_NONE)
        return r;
    if (w.rh < 0 || p[w.rh + 2] != MIP6_RH_TYPE2)
        return MIP6_R_NO_RH2;
    uint8_t *rh = p + w.rh;
    if (rh[1] != 2 || rh[3] != 1)
        return MIP6_R_BAD_RH2;
    if (!mip6_dp_in_set(rh + 8, homes, n_homes))
        return MIP6_R_NOT_HOME_ADDRESS;
    uint8_t tmp[16];
    memcpy(tmp, p + 24, 16);
    memcpy(p + 24, rh + 8, 16);
    memcpy(rh + 8, tmp, 16);
    rh[3] = 0;
    return MIP6_R_FORWARDED;
}

int mip6_rh2_process(mip6_batch_t *b, const uint8_t *homes, uint32_t n_homes, uint64_t *counters)
{
    int forwarded = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (b->verdict[i] != MIP6_V_PASS)
            continue;
        uint32_t n, room;
        mip6_reason_t r;
        uint8_t *p = mip6_batch_packet(b, i, &n, &room, &r);
        if (p)
            r = rh2_process_one(p, n, homes, n_homes);
        forwarded += r == MIP6_R_FORWARDED;
        mip6_batch_set(b, i, r, 0, counters);
    }
    return forwarded;
}
