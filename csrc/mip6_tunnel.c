#include "mip6_tunnel.h"
#include "mip6_lookup_node.h"

static int cfg_ok(const mip6_tunnel_cfg_t *cfg)
{
    return cfg->mtu >= MIP6_TUN_MIN_MTU && cfg->mtu <= MIP6_TUN_MAX_MTU && cfg->flow_label <= 0xfffffu;
}

/* The outer header, once per call: everything but traffic class, payload length and (HA mode)
 * destination, which each packet patches in. */
static void outer_template(const mip6_tunnel_cfg_t *cfg, uint8_t t[MIP6_IP6_HLEN])
{
    t[0] = 0x60;
    t[1] = (uint8_t)((cfg->flow_label >> 16) & 0x0f);
    t[2] = (uint8_t)(cfg->flow_label >> 8);
    t[3] = (uint8_t)cfg->flow_label;
    t[4] = t[5] = 0;
    t[6] = MIP6_NH_IPV6;
    t[7] = cfg->hop_limit;
    memcpy(t + 8, cfg->src, 16);
    memcpy(t + 24, cfg->dst, 16);
}

/* From the hop-limit check on (see mip6_tunnel.h); dst NULL keeps the template's destination. */
static inline mip6_reason_t encap_one(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n, uint32_t room,
                                      const uint8_t *dst, const uint8_t *tmpl, const mip6_tunnel_cfg_t *cfg)
{
    int dec = (cfg->flags & MIP6_TUN_DEC_HOP_LIMIT) != 0;
    if (dec && p[7] <= 1)
        return MIP6_R_HOP_LIMIT;
    if ((uint64_t)n + MIP6_IP6_HLEN > cfg->mtu)
        return MIP6_R_TOO_BIG;
    if (room < MIP6_IP6_HLEN)
        return MIP6_R_NO_HEADROOM;
    if (dec)
        p[7]--;
    uint8_t *o = p - MIP6_IP6_HLEN;
    memcpy(o, tmpl, MIP6_IP6_HLEN);
    o[0] = (uint8_t)(0x60 | (p[0] & 0x0f));           /* traffic class, high nibble */
    o[1] = (uint8_t)((p[1] & 0xf0) | (tmpl[1] & 0x0f)); /* traffic class, low nibble; flow label */
    mip6_put16(o + 4, (uint16_t)n);                    /* n + 40 <= mtu <= 65535 */
    if (dst)
        memcpy(o + 24, dst, 16);
    b->offset[i] -= MIP6_IP6_HLEN;
    b->length[i] = n + MIP6_IP6_HLEN;
    return MIP6_R_FORWARDED;
}

static inline uint32_t encap_aux(mip6_reason_t r, const mip6_tunnel_cfg_t *cfg)
{
    return r == MIP6_R_TOO_BIG ? cfg->mtu - MIP6_IP6_HLEN : 0;
}

typedef struct encap_ha_ctx {
    const mip6_tunnel_cfg_t *cfg;
    int allow_sl;
    uint8_t tmpl[MIP6_IP6_HLEN];
} encap_ha_ctx_t;

static inline mip6_reason_t encap_ha_gather(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                            uint32_t *note)
{
    (void)note;
    memcpy(key, p + 24, 16);
    return mip6_dp_scope(p, n, ((const encap_ha_ctx_t *)ctx)->allow_sl);
}

static inline mip6_reason_t encap_ha_apply(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                           uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux)
{
    const encap_ha_ctx_t *c = ctx;
    (void)note;
    if (!e)
        return MIP6_R_NO_BINDING;
    mip6_reason_t r = encap_one(b, i, p, n, room, e->coa, c->tmpl, c->cfg);
    *aux = encap_aux(r, c->cfg);
    return r == MIP6_R_FORWARDED ? mip6_ln_forwarded(e, n) : r;
}

int mip6_tunnel_encap_ha(mip6_batch_t *b, mip6_bcache_t *cache, const mip6_tunnel_cfg_t *cfg, uint64_t *counters)
{
    return mip6_tunnel_encap_ha_sink(b, cache, cfg, counters, NULL);
}

int mip6_tunnel_encap_ha_sink(mip6_batch_t *b, mip6_bcache_t *cache, const mip6_tunnel_cfg_t *cfg,
                              uint64_t *counters, mip6_bc_sink_t *sink)
{
    if (!cfg_ok(cfg) || mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    encap_ha_ctx_t c = { .cfg = cfg, .allow_sl = (cfg->flags & MIP6_TUN_ALLOW_SITE_LOCAL) != 0 };
    outer_template(cfg, c.tmpl);
    return mip6_lookup_node_sink(b, cache, 16, counters, &c, encap_ha_gather, encap_ha_apply, sink);
}

int mip6_tunnel_encap_fixed(mip6_batch_t *b, const mip6_tunnel_cfg_t *cfg, const uint8_t *homes, uint32_t n_homes,
                            uint64_t *counters)
{
    if (!cfg_ok(cfg))
        return MIP6_EINVAL;
    uint8_t tmpl[MIP6_IP6_HLEN];
    outer_template(cfg, tmpl);
    int allow_sl = (cfg->flags & MIP6_TUN_ALLOW_SITE_LOCAL) != 0, forwarded = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (b->verdict[i] != MIP6_V_PASS)
            continue;
        uint32_t n, room;
        mip6_reason_t r;
        uint8_t *p = mip6_batch_packet(b, i, &n, &room, &r);
        if (!p) {
            mip6_batch_set(b, i, r, 0, counters);
            continue;
        }
        if (n_homes && !mip6_dp_in_set(p + 8, homes, n_homes) && !mip6_dp_is_mld(p, n))
            r = MIP6_R_NOT_FROM_HOME;
        else if ((r = mip6_dp_scope(p, n, allow_sl)) == MIP6_R_NONE)
            r = encap_one(b, i, p, n, room, NULL, tmpl, cfg);
        forwarded += r == MIP6_R_FORWARDED;
        mip6_batch_set(b, i, r, encap_aux(r, cfg), counters);
    }
    return forwarded;
}

/* Outer next header, the inner packet's own header and length, MLD, scope: what both exit points
 * check first (after the slot checks). */
static inline mip6_reason_t decap_inner(const uint8_t *p, uint32_t n)
{
    if (p[6] != MIP6_NH_IPV6)
        return MIP6_R_NOT_TUNNELLED;
    if (n - MIP6_IP6_HLEN < MIP6_IP6_HLEN)
        return MIP6_R_TRUNCATED;
    const uint8_t *in = p + MIP6_IP6_HLEN;
    if ((in[0] >> 4) != 6)
        return MIP6_R_BAD_VERSION;
    if (MIP6_IP6_HLEN + (uint32_t)mip6_get16(in + 4) != n - MIP6_IP6_HLEN)
        return MIP6_R_BAD_LENGTH;
    return MIP6_R_NONE;
}

static inline mip6_reason_t decap_membership_scope(const uint8_t *p, uint32_t n, unsigned flags)
{
    const uint8_t *in = p + MIP6_IP6_HLEN;
    if (mip6_dp_is_mld(in, n - MIP6_IP6_HLEN))
        return MIP6_R_MULTICAST_MEMBERSHIP;
    return mip6_dp_scope(in, n - MIP6_IP6_HLEN, (flags & MIP6_TUN_ALLOW_SITE_LOCAL) != 0);
}

/* Hop limit, ECN (RFC 6040 §4.2), strip. */
static inline mip6_reason_t decap_finish(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n, unsigned flags)
{
    uint8_t *in = p + MIP6_IP6_HLEN;
    int dec = (flags & MIP6_TUN_DEC_HOP_LIMIT) != 0;
    if (dec && in[7] <= 1)
        return MIP6_R_HOP_LIMIT;
    unsigned outer = (p[1] >> 4) & 3, inner = (in[1] >> 4) & 3, ecn; /* 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE */
    if (inner == 0) {
        if (outer == 3)
            return MIP6_R_ECN;
        ecn = 0;
    } else if (outer == 3) {
        ecn = 3;
    } else if (outer == 1 && inner == 2) {
        ecn = 1;
    } else {
        ecn = inner;
    }
    in[1] = (uint8_t)((in[1] & 0xcf) | (ecn << 4));
    if (dec)
        in[7]--;
    b->offset[i] += MIP6_IP6_HLEN;
    b->length[i] = n - MIP6_IP6_HLEN;
    return MIP6_R_FORWARDED;
}

static inline mip6_reason_t decap_ha_gather(const void *ctx, const uint8_t *p, uint32_t n, uint8_t *key,
                                            uint32_t *note)
{
    mip6_reason_t r;
    (void)note;
    if ((r = decap_inner(p, n)) != MIP6_R_NONE ||
        (r = decap_membership_scope(p, n, *(const unsigned *)ctx)) != MIP6_R_NONE)
        return r;
    memcpy(key, p + MIP6_IP6_HLEN + 8, 16); /* the inner source: a home address */
    return MIP6_R_NONE;
}

static inline mip6_reason_t decap_ha_apply(const void *ctx, mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                           uint32_t room, mip6_binding_t *e, uint32_t note, uint32_t *aux)
{
    (void)room, (void)note, (void)aux;
    if (!e)
        return MIP6_R_TUNNEL_NO_BINDING;
    if (memcmp(e->coa, p + 8, 16) != 0)
        return MIP6_R_TUNNEL_WRONG_SOURCE;
    mip6_reason_t r = decap_finish(b, i, p, n, *(const unsigned *)ctx);
    return r == MIP6_R_FORWARDED ? mip6_ln_forwarded(e, n - MIP6_IP6_HLEN) : r;
}

int mip6_tunnel_decap_ha(mip6_batch_t *b, mip6_bcache_t *cache, unsigned flags, uint64_t *counters)
{
    return mip6_tunnel_decap_ha_sink(b, cache, flags, counters, NULL);
}

int mip6_tunnel_decap_ha_sink(mip6_batch_t *b, mip6_bcache_t *cache, unsigned flags, uint64_t *counters,
                              mip6_bc_sink_t *sink)
{
    if (mip6_bcache_key_len(cache) != 16)
        return MIP6_EINVAL;
    return mip6_lookup_node_sink(b, cache, 16, counters, &flags, decap_ha_gather, decap_ha_apply, sink);
}

static inline mip6_reason_t decap_mn_one(mip6_batch_t *b, uint32_t i, uint8_t *p, uint32_t n,
                                         const uint8_t *home_agent, const uint8_t *homes, uint32_t n_homes,
                                         unsigned flags)
{
    mip6_reason_t r;
    if ((r = decap_inner(p, n)) != MIP6_R_NONE)
        return r;
    if (memcmp(p + 8, home_agent, 16) != 0)
        return MIP6_R_TUNNEL_WRONG_SOURCE;
    if ((r = decap_membership_scope(p, n, flags)) != MIP6_R_NONE)
        return r;
    if (!mip6_dp_in_set(p + MIP6_IP6_HLEN + 24, homes, n_homes))
        return MIP6_R_NOT_HOME_ADDRESS;
    return decap_finish(b, i, p, n, flags);
}

int mip6_tunnel_decap_mn(mip6_batch_t *b, const uint8_t home_agent[16], const uint8_t *homes, uint32_t n_homes,
                         unsigned flags, uint64_t *counters)
{
    int forwarded = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (b->verdict[i] != MIP6_V_PASS)
            continue;
        uint32_t n, room;
        mip6_reason_t r;
        uint8_t *p = mip6_batch_packet(b, i, &n, &room, &r);
        if (p)
            r = decap_mn_one(b, i, p, n, home_agent, homes, n_homes, flags);
        forwarded += r == MIP6_R_FORWARDED;
        mip6_batch_set(b, i, r, 0, counters);
    }
    return forwarded;
}
