#include "mip6_route_opt.h"

#define CHUNK 64 /* packets per batched lookup, as in mip6_tunnel.c */

static int mtu_ok(uint32_t mtu) { return mtu >= MIP6_RO_MIN_MTU && mtu <= MIP6_RO_MAX_MTU; }

/* Room and size for 24 more bytes in front. */
static inline mip6_reason_t room_for_insert(uint32_t n, uint32_t room, uint32_t mtu)
{
    if ((uint64_t)n + MIP6_RO_HLEN > mtu)
        return MIP6_R_TOO_BIG;
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

static inline mip6_reason_t hao_insert_one(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n, uint32_t room,
                                           const mip6_binding_t *e, uint32_t mtu)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    int32_t hao;
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
    if ((r = room_for_insert(n, room, mtu)) != MIP6_R_NONE)
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
    memcpy(h + 8, o + 8, 16); /* the home address: the source as the node sent it */
    memcpy(o + 8, e->coa, 16);
    return MIP6_R_FORWARDED;
}

int mip6_hao_insert(mip6_batch_t *b, mip6_bcache_t *bul, uint32_t mtu, uint64_t *counters)
{
    if (!mtu_ok(mtu) || mip6_bcache_key_len(bul) != 32)
        return MIP6_EINVAL;
    int forwarded = 0;
    uint8_t keys[CHUNK][32];
    int32_t slots[CHUNK];
    uint32_t idx[CHUNK];

    for (uint32_t base = 0; base < b->count; base += CHUNK) {
        uint32_t end = b->count - base > CHUNK ? base + CHUNK : b->count, m = 0;
        for (uint32_t i = base; i < end; i++) {
            if (b->verdict[i] != MIP6_V_PASS)
                continue;
            uint32_t n, room;
            mip6_reason_t why;
            const uint8_t *p = mip6_batch_packet(b, i, &n, &room, &why);
            if (!p) {
                mip6_batch_set(b, i, why, 0, counters);
                continue;
            }
            memcpy(keys[m], p + 24, 16);     /* peer: the destination */
            memcpy(keys[m] + 16, p + 8, 16); /* home address: the source */
            idx[m++] = i;
        }
        if (m)
            mip6_bcache_lookup_batch(bul, keys[0], 32, m, slots);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = idx[k], n = b->length[i];
            uint32_t room = (uint32_t)(b->offset[i] - (uint64_t)i * b->slot_size); /* checked in pass 1 */
            uint8_t *p = b->buf + b->offset[i];
            mip6_binding_t *e = slots[k] >= 0 ? mip6_bcache_entry(bul, slots[k]) : NULL;
            mip6_reason_t r = e ? hao_insert_one(b, i, p, n, room, e, mtu) : MIP6_R_NO_BINDING;
            if (r == MIP6_R_FORWARDED) {
                e->packets += 1;
                e->bytes += n;
                forwarded++;
            }
            mip6_batch_set(b, i, r, r == MIP6_R_TOO_BIG ? mtu - MIP6_RO_HLEN : 0, counters);
        }
    }
    return forwarded;
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

int mip6_hao_process(mip6_batch_t *b, mip6_bcache_t *cache, uint64_t *counters)
{
    if (mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    int forwarded = 0;
    uint8_t keys[CHUNK][16];
    int32_t slots[CHUNK];
    uint32_t idx[CHUNK], haos[CHUNK];

    for (uint32_t base = 0; base < b->count; base += CHUNK) {
        uint32_t end = b->count - base > CHUNK ? base + CHUNK : b->count, m = 0;
        for (uint32_t i = base; i < end; i++) {
            if (b->verdict[i] != MIP6_V_PASS)
                continue;
            uint32_t n, room;
            mip6_reason_t r;
            int32_t hao = -1;
            const uint8_t *p = mip6_batch_packet(b, i, &n, &room, &r);
            if (p)
                r = hao_locate(p, n, &hao);
            if (r != MIP6_R_NONE) {
                mip6_batch_set(b, i, r, 0, counters);
                continue;
            }
            memcpy(keys[m], p + hao, 16);
            haos[m] = (uint32_t)hao;
            idx[m++] = i;
        }
        if (m)
            mip6_bcache_lookup_batch(cache, keys[0], 16, m, slots);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = idx[k], n = b->length[i];
            uint8_t *p = b->buf + b->offset[i];
            mip6_binding_t *e = slots[k] >= 0 ? mip6_bcache_entry(cache, slots[k]) : NULL;
            if (!e) {
                mip6_batch_set(b, i, MIP6_R_HAO_NO_BINDING, haos[k], counters);
                continue;
            }
            if (memcmp(e->coa, p + 8, 16) != 0) {
                mip6_batch_set(b, i, MIP6_R_HAO_WRONG_COA, haos[k], counters);
                continue;
            }
            uint8_t tmp[16];
            memcpy(tmp, p + 8, 16);
            memcpy(p + 8, p + haos[k], 16);
            memcpy(p + haos[k], tmp, 16);
            e->packets += 1;
            e->bytes += n;
            forwarded++;
            mip6_batch_set(b, i, MIP6_R_FORWARDED, 0, counters);
        }
    }
    return forwarded;
}

static inline mip6_reason_t rh2_insert_one(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n, uint32_t room,
                                           const mip6_binding_t *e, uint32_t mtu)
{
    mip6_dp_walk_t w;
    mip6_reason_t r;
    if ((r = mip6_dp_walk(p, n, &w)) != MIP6_R_NONE)
        return r;
    if (w.rh >= 0 || w.upper_nh == MIP6_NH_MH || mip6_dp_is_nd(p, n, &w))
        return MIP6_R_NOT_ELIGIBLE;
    if ((r = room_for_insert(n, room, mtu)) != MIP6_R_NONE)
        return r;
    uint32_t q = w.hbh_end;
    uint8_t *o = open_gap(b, i, p, n, q);
    uint8_t *nhf = nh_field(o, &w, q), *h = o + q;
    h[0] = *nhf;
    h[1] = 2;             /* header extension length: one address (§6.4) */
    h[2] = MIP6_RH_TYPE2;
    h[3] = 1;             /* segments left */
    memset(h + 4, 0, 4);
    memcpy(h + 8, o + 24, 16); /* the home address: the destination as the node sent it */
    *nhf = MIP6_NH_ROUTING;
    memcpy(o + 24, e->coa, 16);
    return MIP6_R_FORWARDED;
}

int mip6_rh2_insert(mip6_batch_t *b, mip6_bcache_t *cache, uint32_t mtu, uint64_t *counters)
{
    if (!mtu_ok(mtu) || mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    int forwarded = 0;
    uint8_t keys[CHUNK][16];
    int32_t slots[CHUNK];
    uint32_t idx[CHUNK];

    for (uint32_t base = 0; base < b->count; base += CHUNK) {
        uint32_t end = b->count - base > CHUNK ? base + CHUNK : b->count, m = 0;
        for (uint32_t i = base; i < end; i++) {
            if (b->verdict[i] != MIP6_V_PASS)
                continue;
            uint32_t n, room;
            mip6_reason_t why;
            const uint8_t *p = mip6_batch_packet(b, i, &n, &room, &why);
            if (!p) {
                mip6_batch_set(b, i, why, 0, counters);
                continue;
            }
            memcpy(keys[m], p + 24, 16);
            idx[m++] = i;
        }
        if (m)
            mip6_bcache_lookup_batch(cache, keys[0], 16, m, slots);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = idx[k], n = b->length[i];
            uint32_t room = (uint32_t)(b->offset[i] - (uint64_t)i * b->slot_size); /* checked in pass 1 */
            uint8_t *p = b->buf + b->offset[i];
            mip6_binding_t *e = slots[k] >= 0 ? mip6_bcache_entry(cache, slots[k]) : NULL;
            mip6_reason_t r = e ? rh2_insert_one(b, i, p, n, room, e, mtu) : MIP6_R_NO_BINDING;
            if (r == MIP6_R_FORWARDED) {
                e->packets += 1;
                e->bytes += n;
                forwarded++;
            }
            mip6_batch_set(b, i, r, r == MIP6_R_TOO_BIG ? mtu - MIP6_RO_HLEN : 0, counters);
        }
    }
    return forwarded;
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
