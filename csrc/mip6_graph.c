/* Data-plane graphs (mip6_graph.h): the shared nodes (routes, rewrite/output) and the home agent's graph. */
#include "mip6_graph_internal.h"

#include <stdlib.h>

enum {
    F_FAST = 0x01,   /* classified as a whole IPv6 packet for the kernels */
    F_TO_US = 0x02,  /* destination: the home agent address */
    F_ENC = 0x04,    /* encapsulated by the first tunnel pass */
    F_HELD = 0x08,   /* kept out of decapsulation (not addressed to the home agent) */
    F_UNPROT = 0x10, /* unprotected tunnel from a home whose tunnel must be ESP */
    F_DEC = 0x20,    /* decapsulated */
    F_RET = 0x40     /* decapsulated, then tunnelled again to another binding */
};

int mip6_graph_init(mip6_graph_t *g, uint32_t adj_max, const uint8_t seed[16])
{
    memset(g, 0, sizeof *g);
    g->adj = mip6_adj_new(adj_max, seed);
    return g->adj ? MIP6_OK : MIP6_EINVAL;
}

void mip6_graph_release(mip6_graph_t *g)
{
    mip6_adj_free(g->adj);
    free(g->frame_off);
    free(g->frame_len);
    free(g->flags);
    free(g->keep);
    memset(g, 0, sizeof *g);
}

int mip6_graph_scratch_(mip6_graph_t *g, uint32_t n)
{
    if (n <= g->cap)
        return MIP6_OK;
    uint32_t cap = g->cap ? g->cap : 64;
    while (cap < n)
        cap *= 2;
    uint32_t *fo = realloc(g->frame_off, (size_t)cap * sizeof *fo);
    if (fo)
        g->frame_off = fo;
    uint32_t *fl = realloc(g->frame_len, (size_t)cap * sizeof *fl);
    if (fl)
        g->frame_len = fl;
    uint8_t *fl8 = realloc(g->flags, cap);
    if (fl8)
        g->flags = fl8;
    uint8_t *kp = realloc(g->keep, cap);
    if (kp)
        g->keep = kp;
    if (!fo || !fl || !fl8 || !kp)
        return MIP6_ESPACE;
    g->cap = cap;
    return MIP6_OK;
}

int mip6_graph_set_ifaces(mip6_graph_t *g, const mip6_graph_iface_t *ifaces, uint32_t n)
{
    if (n > MIP6_GRAPH_MAX_IFACES)
        return MIP6_EINVAL;
    memcpy(g->ifaces, ifaces, (size_t)n * sizeof *ifaces);
    g->n_ifaces = n;
    return MIP6_OK;
}

static void prefix_mask(unsigned plen, uint64_t *hi, uint64_t *lo)
{
    *hi = plen == 0 ? 0 : plen >= 64 ? UINT64_MAX : UINT64_MAX << (64 - plen);
    *lo = plen <= 64 ? 0 : plen >= 128 ? UINT64_MAX : UINT64_MAX << (128 - plen);
}

int mip6_graph_set_routes(mip6_graph_t *g, const uint8_t *prefixes, const uint8_t *plens, const uint8_t *ifaces,
                          const uint8_t *next_hops, const uint8_t *has_next_hop, uint32_t n)
{
    if (n > MIP6_GRAPH_MAX_ROUTES)
        return MIP6_EINVAL;
    for (uint32_t k = 0; k < n; k++)
        if (plens[k] > 128 || ifaces[k] >= g->n_ifaces)
            return MIP6_EINVAL;
    for (uint32_t k = 0; k < n; k++) {
        mip6_graph_route_t r;
        memset(&r, 0, sizeof r);
        prefix_mask(plens[k], &r.mask_hi, &r.mask_lo);
        r.net_hi = mip6_get64(prefixes + 16 * (size_t)k) & r.mask_hi;
        r.net_lo = mip6_get64(prefixes + 16 * (size_t)k + 8) & r.mask_lo;
        r.plen = plens[k];
        r.iface = ifaces[k];
        r.has_next_hop = has_next_hop[k] ? 1 : 0;
        if (r.has_next_hop)
            memcpy(r.next_hop, next_hops + 16 * (size_t)k, 16);
        /* Stable insertion, longest prefix first: among equal lengths the node's order stands, so the
         * first match is the node's answer (Node.lookup: the first of the longest wins). */
        uint32_t j = k;
        while (j > 0 && g->routes[j - 1].plen < r.plen) {
            g->routes[j] = g->routes[j - 1];
            j--;
        }
        g->routes[j] = r;
    }
    g->n_routes = n;
    return MIP6_OK;
}

int32_t mip6_graph_route(const mip6_graph_t *g, const uint8_t dst[16])
{
    uint64_t hi = mip6_get64(dst), lo = mip6_get64(dst + 8);
    for (uint32_t k = 0; k < g->n_routes; k++) {
        const mip6_graph_route_t *r = &g->routes[k];
        if ((hi & r->mask_hi) == r->net_hi && (lo & r->mask_lo) == r->net_lo)
            return (int32_t)k;
    }
    return -1;
}

void mip6_graph_out_reset_(mip6_graph_out_t *out)
{
    out->n_slow = 0;
    out->tunnelled = out->detunnelled_sent = out->dropped = 0;
    out->inserted = out->unprotected = 0;
    memset(out->tx, 0, sizeof out->tx);
    memset(out->drops, 0, sizeof out->drops);
}

void mip6_graph_drop_(mip6_graph_t *g, mip6_graph_out_t *out, unsigned reason)
{
    g->drops[reason]++;
    out->drops[reason]++;
    out->dropped++;
}

void mip6_graph_slow_(mip6_graph_t *g, mip6_graph_out_t *out, uint32_t i, mip6_slow_t kind)
{
    out->slow[out->n_slow] = i;
    out->slow_kind[out->n_slow] = (uint8_t)kind;
    out->n_slow++;
    g->slow_kinds[kind]++;
    g->counters[MIP6_GC_SLOW]++;
}

/* interface-output: send packet i (an IPv6 packet at its offset) if that needs no state change
 * anywhere (mip6_graph.h); 1 sent, 0 left for the slow path. */
int mip6_graph_try_send_(mip6_graph_t *g, mip6_batch_t *b, uint32_t i, uint64_t now_ns, mip6_adj_memo_t *memo,
                         mip6_graph_out_t *out)
{
    uint32_t off = b->offset[i], len = b->length[i];
    const uint8_t *dst = b->buf + off + 24;
    if (mip6_dp_link_local(dst) || mip6_dp_multicast(dst))
        return 0;
    int32_t r = mip6_graph_route(g, dst);
    if (r < 0)
        return 0;
    const mip6_graph_route_t *route = &g->routes[r];
    const mip6_graph_iface_t *ifc = &g->ifaces[route->iface];
    if (!ifc->up || len > ifc->mtu || off - (uint64_t)i * b->slot_size < MIP6_ETH_HLEN)
        return 0;
    const uint8_t *hop = route->has_next_hop ? route->next_hop : dst;
    const uint8_t *mac;
    if (memo->valid && memo->iface == route->iface && memcmp(memo->addr, hop, 16) == 0) {
        mac = memo->mac;
    } else {
        mac = mip6_adj_usable(g->adj, route->iface, hop, now_ns);
        memo->valid = 1;
        memo->iface = route->iface;
        memcpy(memo->addr, hop, 16);
        memo->mac = mac;
    }
    if (!mac)
        return 0;
    uint8_t *eth = b->buf + off - MIP6_ETH_HLEN;
    memcpy(eth, mac, 6);
    memcpy(eth + 6, ifc->mac, 6);
    mip6_put16(eth + 12, MIP6_ETHERTYPE_IPV6);
    b->offset[i] = off - MIP6_ETH_HLEN;
    b->length[i] = len + MIP6_ETH_HLEN;
    out->out[i] = route->iface;
    out->tx[route->iface]++;
    g->counters[MIP6_GC_TX]++;
    return 1;
}

/* ethernet-input + the home agent's classify: which frames the kernels take (F_FAST), stripped to
 * their IPv6 packets; the rest are SLOW_PATH, untouched. The same selection as roles/frames.py's
 * classify with the home agent's rule on top (roles/home_agent/datapath.py). */
static void ha_input(mip6_graph_ha_t *ha, mip6_batch_t *b, const mip6_graph_iface_t *rif, mip6_graph_out_t *out)
{
    mip6_graph_t *g = &ha->g;
    for (uint32_t i = 0; i < b->count; i++) {
        uint32_t off = b->offset[i], len = b->length[i];
        uint64_t start = (uint64_t)i * b->slot_size, end = start + b->slot_size;
        g->frame_off[i] = off;
        g->frame_len[i] = len;
        g->flags[i] = 0;
        out->out[i] = MIP6_GRAPH_NO_IF;
        b->verdict[i] = MIP6_V_SLOW_PATH;
        b->reason[i] = MIP6_R_NONE;
        b->aux[i] = 0;
        if (off < start || off > end || len > end - off || len < MIP6_ETH_HLEN + MIP6_IP6_HLEN + 1)
            continue;
        const uint8_t *p = b->buf + off, *ip = p + MIP6_ETH_HLEN;
        if (memcmp(p, rif->mac, 6) != 0 || mip6_get16(p + 12) != MIP6_ETHERTYPE_IPV6 || (ip[0] >> 4) != 6)
            continue;
        uint32_t pl = mip6_get16(ip + 4);
        if (pl == 0 || MIP6_ETH_HLEN + MIP6_IP6_HLEN + (uint64_t)pl > len)
            continue;
        /* §10.4.1: neighbour discovery for a proxied address is answered by the home agent itself;
         * §10.4.2: link-local traffic is never tunnelled. Both stay with the per-frame path. */
        if (ip[6] == MIP6_NH_ICMPV6 && ip[40] >= 133 && ip[40] <= 137)
            continue;
        if (mip6_dp_link_local(ip + 8) || mip6_dp_link_local(ip + 24))
            continue;
        b->offset[i] = off + MIP6_ETH_HLEN;
        b->length[i] = MIP6_IP6_HLEN + pl;
        b->verdict[i] = MIP6_V_PASS;
        g->flags[i] = F_FAST | (memcmp(ip + 24, ha->address, 16) == 0 ? F_TO_US : 0);
    }
}

/* §10.4.5: the decapsulation kernel over the PASS packets, then a second encapsulation pass for the
 * inner packets addressed to another bound home address. A decapsulated packet ends FORWARD (or the
 * second pass's DROP / TOO_BIG); the others keep their verdicts. */
static int ha_decapsulate(mip6_graph_ha_t *ha, mip6_batch_t *b)
{
    mip6_graph_t *g = &ha->g;
    uint32_t n = b->count;
    for (uint32_t i = 0; i < n; i++)
        g->keep[i] = b->verdict[i];
    int rc = mip6_tunnel_decap_ha_sink(b, ha->cache, ha->decap_flags, ha->decap_counters, ha->sink);
    if (rc < 0)
        return rc;
    int any = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (g->keep[i] == MIP6_V_PASS && b->verdict[i] == MIP6_V_FORWARD) {
            g->flags[i] |= F_DEC;
            any = 1;
        }
    }
    if (!any)
        return MIP6_OK;
    for (uint32_t i = 0; i < n; i++) {
        g->keep[i] = b->verdict[i];
        if (g->flags[i] & F_DEC) {
            b->verdict[i] = MIP6_V_PASS;
            b->reason[i] = MIP6_R_NONE;
        } else {
            b->verdict[i] = MIP6_V_SLOW_PATH;
        }
    }
    rc = mip6_tunnel_encap_ha_sink(b, ha->cache, &ha->tun, ha->encap_counters, ha->sink);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if (g->flags[i] & F_DEC) {
            uint8_t second = b->verdict[i];
            if (second == MIP6_V_FORWARD)
                g->flags[i] |= F_RET;
            b->verdict[i] = second == MIP6_V_PASS ? (uint8_t)MIP6_V_FORWARD : second;
        } else {
            b->verdict[i] = g->keep[i];
        }
    }
    return MIP6_OK;
}

int mip6_graph_ha_run(mip6_graph_ha_t *ha, mip6_batch_t *b, unsigned rx, uint64_t now_ns, mip6_graph_out_t *out)
{
    mip6_graph_t *g = &ha->g;
    if (rx >= g->n_ifaces || !ha->cache || !g->adj || mip6_bcache_key_len(ha->cache) != 16)
        return MIP6_EINVAL;
    if (mip6_graph_scratch_(g, b->count) != MIP6_OK)
        return MIP6_ESPACE;
    uint32_t n = b->count;
    mip6_graph_out_reset_(out);
    g->counters[MIP6_GC_RX] += n;

    ha_input(ha, b, &g->ifaces[rx], out);

    /* §10.4.2: packets for a bound home address into the tunnel to its care-of address. */
    int rc = mip6_tunnel_encap_ha_sink(b, ha->cache, &ha->tun, ha->encap_counters, ha->sink);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t f = g->flags[i];
        if (b->verdict[i] == MIP6_V_FORWARD)
            g->flags[i] = f |= F_ENC;
        /* §10.4.5: only packets addressed to the home agent are decapsulated. */
        if (b->verdict[i] == MIP6_V_PASS && !(f & F_TO_US)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            g->flags[i] = f |= F_HELD;
        }
        /* RFC 3776: a home whose reverse tunnel must be protected sent one without ESP. */
        if (ha->g.n_required && (f & F_TO_US) && b->buf[g->frame_off[i] + MIP6_ETH_HLEN + 6] == MIP6_NH_IPV6
            && b->length[i] >= 2 * MIP6_IP6_HLEN
            && mip6_dp_in_set(b->buf + b->offset[i] + MIP6_IP6_HLEN + 8, ha->g.required, ha->g.n_required)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            g->flags[i] = f | F_UNPROT;
        }
    }
    rc = ha_decapsulate(ha, b);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if (g->flags[i] & F_HELD)
            b->verdict[i] = MIP6_V_PASS;

    /* What the kernels decided, done: first what the per-packet path used to do in index order (drops
     * counted, tunnelled and decapsulated packets sent, errors answered), then the frames left. */
    mip6_adj_memo_t memo = { 0 };
    for (uint32_t i = 0; i < n; i++) {
        uint8_t v = b->verdict[i], f = g->flags[i];
        if (v == MIP6_V_DROP) {
            mip6_graph_drop_(g, out, b->reason[i]);
            if (b->reason[i] == MIP6_R_HOP_LIMIT)
                mip6_graph_slow_(g, out, i, MIP6_SLOW_HOP_LIMIT);
        } else if (v == MIP6_V_TOO_BIG) {
            mip6_graph_slow_(g, out, i, MIP6_SLOW_TOO_BIG);
        } else if (v == MIP6_V_FORWARD && (f & (F_ENC | F_RET))) {
            out->tunnelled++;
            g->counters[MIP6_GC_TUNNELLED]++;
            if ((ha->g.n_protected
                 && mip6_dp_in_set(b->buf + b->offset[i] + MIP6_IP6_HLEN + 24, ha->g.protected_homes, ha->g.n_protected))
                || !mip6_graph_try_send_(g, b, i, now_ns, &memo, out))
                mip6_graph_slow_(g, out, i, MIP6_SLOW_TUNNEL_TX);
        } else if (v == MIP6_V_FORWARD) {
            if (mip6_dp_in_set(b->buf + b->offset[i] + 24, ha->g.own, ha->g.n_own) || !mip6_graph_try_send_(g, b, i, now_ns, &memo, out)) {
                mip6_graph_slow_(g, out, i, MIP6_SLOW_INNER);
            } else {
                out->detunnelled_sent++;
                g->counters[MIP6_GC_DETUNNELLED_SENT]++;
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t v = b->verdict[i], f = g->flags[i];
        if (v != MIP6_V_PASS && v != MIP6_V_SLOW_PATH)
            continue;
        if (f & F_DEC) {
            mip6_graph_slow_(g, out, i, MIP6_SLOW_DECAPSULATED_LEFT);
        } else if (f & F_UNPROT) {
            mip6_graph_slow_(g, out, i, MIP6_SLOW_UNPROTECTED);
        } else {
            b->offset[i] = g->frame_off[i];
            b->length[i] = g->frame_len[i];
            mip6_graph_slow_(g, out, i, MIP6_SLOW_FRAME);
        }
    }
    return (int)out->n_slow;
}
