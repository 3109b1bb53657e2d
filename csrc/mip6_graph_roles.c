/* Data-plane graphs (mip6_graph.h): the mobile node's and the correspondent's, over the shared nodes of
 * mip6_graph.c (mip6_graph_internal.h) and the route optimisation and tunnel kernels. */
#include "mip6_graph_internal.h"
#include "mip6_route_opt.h"
#include "mip6_ip6.h"


enum {
    M_ELIG = 0x01,   /* taken by the kernels (Ethernet header stepped over) */
    M_TUN = 0x02,    /* IPv6-in-IPv6 as received */
    M_PARK = 0x04,   /* parked (SLOW_PATH) while another agent's kernel runs */
    M_UNPROT = 0x08  /* a tunnel refused for arriving without ESP */
};

/* ethernet-input: 1 when slot i holds, for a MAC of ours (or with multicast, broadcast and 33:33
 * groups, RFC 2464 §7), an Ethernet II frame (EtherType 0x86DD) with a whole IPv6 packet (version 6, a
 * non-zero Payload Length that fits: padding is cut), *pl its Payload Length; the same selection as
 * roles/frames.py's classify. */
static int eth_ipv6(const mip6_batch_t *b, uint32_t i, const uint8_t mac[6], int multicast, uint32_t *pl)
{
    uint32_t off = b->offset[i], len = b->length[i];
    uint64_t start = (uint64_t)i * b->slot_size, end = start + b->slot_size;
    if (off < start || off > end || len > end - off || len < MIP6_ETH_HLEN + MIP6_IP6_HLEN + 1)
        return 0;
    const uint8_t *p = b->buf + off, *ip = p + MIP6_ETH_HLEN;
    int to_us = memcmp(p, mac, 6) == 0;
    if (!to_us && multicast) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        to_us = memcmp(p, bcast, 6) == 0 || (p[0] == 0x33 && p[1] == 0x33);
    }
    if (!to_us || mip6_get16(p + 12) != MIP6_ETHERTYPE_IPV6 || (ip[0] >> 4) != 6)
        return 0;
    *pl = mip6_get16(ip + 4);
    return *pl != 0 && MIP6_ETH_HLEN + MIP6_IP6_HLEN + (uint64_t)*pl <= len;
}

static void begin(mip6_graph_t *g, mip6_batch_t *b, mip6_graph_out_t *out)
{
    mip6_graph_out_reset_(out);
    g->counters[MIP6_GC_RX] += b->count;
    for (uint32_t i = 0; i < b->count; i++) {
        out->out[i] = MIP6_GRAPH_NO_IF;
        g->frame_off[i] = b->offset[i];
        g->frame_len[i] = b->length[i];
        g->flags[i] = 0;
    }
}

static int send_ok(const mip6_batch_t *b, uint32_t i)
{
    return b->length[i] >= MIP6_IP6_HLEN && (b->buf[b->offset[i]] >> 4) == 6;
}

/* ------------------------------------------------------------------------------------ mobile node */

int mip6_graph_mn_send(mip6_graph_mn_t *mn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out)
{
    mip6_graph_t *g = &mn->g;
    if (!g->adj || mn->n_tunnels > MIP6_GRAPH_MAX_TUNNELS
        || (mn->n_tunnels && (!mn->bul || mip6_bcache_key_len(mn->bul) != 32)))
        return MIP6_EINVAL;
    if (mip6_graph_scratch_(g, b->count) != MIP6_OK)
        return MIP6_ESPACE;
    uint32_t n = b->count;
    begin(g, b, out);
    /* §11.3.1: per registered home address away from home, route optimisation (a Home Address option
     * for a peer with a binding) then the reverse tunnel for the rest (MobileNodeDataPath.outbound). */
    for (uint32_t t = 0; t < mn->n_tunnels; t++) {
        mip6_graph_mn_tunnel_t *tu = &mn->tunnels[t];
        int rc = mip6_hao_insert(b, mn->bul, tu->hao_mtu, tu->hao_counters);
        if (rc < 0)
            return rc;
        rc = mip6_tunnel_encap_fixed(b, &tu->cfg, tu->home, 1, tu->encap_counters);
        if (rc < 0)
            return rc;
    }
    mip6_adj_memo_t memo = { 0 };
    for (uint32_t i = 0; i < n; i++) {
        uint8_t v = b->verdict[i];
        if (v == MIP6_V_DROP) {
            mip6_graph_drop_(g, out, b->reason[i]);
        } else if (v == MIP6_V_FORWARD) {
            const uint8_t *p = b->buf + b->offset[i];
            int tunnel = b->length[i] >= MIP6_IP6_HLEN && p[6] == MIP6_NH_IPV6;
            if (tunnel) {
                out->tunnelled++;
                g->counters[MIP6_GC_TUNNELLED]++;
            }
            /* RFC 3776: a reverse tunnel from a home address with an outbound tunnel-mode SA: ESP. */
            if (!send_ok(b, i)
                || (tunnel && g->n_protected && b->length[i] >= 2 * MIP6_IP6_HLEN
                    && mip6_dp_in_set(p + MIP6_IP6_HLEN + 8, g->protected_homes, g->n_protected))
                || !mip6_graph_try_send_(g, b, i, now_ns, &memo, out))
                mip6_graph_slow_(g, out, i, MIP6_SLOW_SEND);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (b->verdict[i] == MIP6_V_PASS)
            mip6_graph_slow_(g, out, i, MIP6_SLOW_PASSED);
    for (uint32_t i = 0; i < n; i++)
        if (b->verdict[i] == MIP6_V_TOO_BIG)
            mip6_graph_slow_(g, out, i, MIP6_SLOW_TOO_BIG);
    return (int)out->n_slow;
}

/* §11.3.3: decapsulate_mn per home agent over the packets whose outer source is that agent (the others
 * parked meanwhile, so a kernel never judges another agent's packets), then process_rh2. */
static int mn_inbound(mip6_graph_mn_t *mn, mip6_batch_t *b)
{
    mip6_graph_t *g = &mn->g;
    uint32_t n = b->count;
    int rc;
    if (mn->n_agents == 1) {
        const mip6_graph_mn_agent_t *a = &mn->agents[0];
        rc = mip6_tunnel_decap_mn(b, a->address, a->homes, a->n_homes, a->flags, a->counters);
        if (rc < 0)
            return rc;
    } else {
        for (uint32_t k = 0; k < mn->n_agents; k++) {
            const mip6_graph_mn_agent_t *a = &mn->agents[k];
            for (uint32_t i = 0; i < n; i++) {
                if (b->verdict[i] == MIP6_V_PASS && memcmp(b->buf + b->offset[i] + 8, a->address, 16) != 0) {
                    b->verdict[i] = MIP6_V_SLOW_PATH;
                    g->flags[i] |= M_PARK;
                }
            }
            rc = mip6_tunnel_decap_mn(b, a->address, a->homes, a->n_homes, a->flags, a->counters);
            if (rc < 0)
                return rc;
            for (uint32_t i = 0; i < n; i++) {
                if (g->flags[i] & M_PARK) {
                    b->verdict[i] = MIP6_V_PASS;
                    g->flags[i] &= (uint8_t)~M_PARK;
                }
            }
        }
    }
    rc = mip6_rh2_process(b, mn->rh2_homes, mn->n_rh2_homes, mn->rh2_counters);
    return rc < 0 ? rc : MIP6_OK;
}

/* Frames the kernels must not judge, left to the per-frame path, which decides them as
 * Node.receive_packet does (roles/mn_datapath.py, MobileNodeData._per_frame_only, for the path without
 * a graph): one sent from our own MAC; one whose destination is not a usable address of the node (the
 * kernels check the outer source and the inner destination, not the outer destination: a tunnel to a
 * care-of address the node no longer or not yet holds is not for it); a routing header before another
 * extension header (hop-by-hop, routing, fragment, AH, destination options), or before a DHAAD Reply
 * or a Mobile Prefix Advertisement (ICMPv6 145, 147: signalling for discovery, checked for
 * protection, RFC 6275 §10.5, §11.4). */
static int mn_per_frame_only(const mip6_batch_t *b, uint32_t i, const uint8_t mac[6], const uint8_t *ip,
                             uint32_t pl, const mip6_graph_t *g)
{
    if (memcmp(b->buf + b->offset[i] + 6, mac, 6) == 0 || !mip6_dp_in_set(ip + 24, g->own, g->n_own))
        return 1;
    if (ip[6] != MIP6_NH_ROUTING)
        return 0;
    uint8_t after = ip[MIP6_IP6_HLEN];
    if (after == 0 || after == MIP6_NH_ROUTING || after == 44 || after == 51 || after == 60)
        return 1;
    if (after == 58) {
        uint64_t at = MIP6_IP6_HLEN + ((uint64_t)ip[MIP6_IP6_HLEN + 1] + 1) * 8;
        if (at < MIP6_IP6_HLEN + (uint64_t)pl && (ip[at] == 145 || ip[at] == 147))
            return 1;
    }
    return 0;
}

int mip6_graph_mn_receive(mip6_graph_mn_t *mn, mip6_batch_t *b, unsigned rx, uint64_t now_ns, mip6_graph_out_t *out)
{
    (void)now_ns;
    mip6_graph_t *g = &mn->g;
    if (rx >= g->n_ifaces || mn->n_agents > MIP6_GRAPH_MAX_AGENTS)
        return MIP6_EINVAL;
    if (mip6_graph_scratch_(g, b->count) != MIP6_OK)
        return MIP6_ESPACE;
    uint32_t n = b->count;
    begin(g, b, out);
    const uint8_t *mac = g->ifaces[rx].mac;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pl;
        if (b->verdict[i] != MIP6_V_PASS || !eth_ipv6(b, i, mac, 0, &pl)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            continue;
        }
        const uint8_t *ip = b->buf + b->offset[i] + MIP6_ETH_HLEN;
        uint8_t nh = ip[6], after = ip[MIP6_IP6_HLEN];
        /* A routing header before a Mobility Header (a BA, a BRR, §6.1.8) or ESP (RFC 3776) is
         * signalling, not data. */
        if (!(nh == MIP6_NH_IPV6 || (nh == MIP6_NH_ROUTING && after != MIP6_NH_MH && after != MIP6_NH_ESP))) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            continue;
        }
        if (mn_per_frame_only(b, i, mac, ip, pl, g)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            continue;
        }
        /* RFC 3776: a tunnel for a home address whose tunnel must arrive under ESP did not: refused. */
        if (nh == MIP6_NH_IPV6 && g->n_required && pl >= MIP6_IP6_HLEN
            && mip6_dp_in_set(ip + MIP6_IP6_HLEN + 24, g->required, g->n_required)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            g->flags[i] = M_UNPROT;
            out->unprotected++;
            continue;
        }
        b->offset[i] += MIP6_ETH_HLEN;
        b->length[i] = MIP6_IP6_HLEN + pl;
        g->flags[i] = M_ELIG | (nh == MIP6_NH_IPV6 ? M_TUN : 0);
    }
    int rc = mn_inbound(mn, b);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t f = g->flags[i];
        if (!(f & M_ELIG))
            continue;
        if (b->verdict[i] == MIP6_V_FORWARD)
            mip6_graph_slow_(g, out, i, (f & M_TUN) ? MIP6_SLOW_DELIVER_TUNNEL : MIP6_SLOW_DELIVER_RH2);
        else if (b->verdict[i] == MIP6_V_DROP)
            mip6_graph_drop_(g, out, b->reason[i]);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t f = g->flags[i], v = b->verdict[i];
        if (f & M_UNPROT)
            continue;
        if (f & M_ELIG) {
            if (v == MIP6_V_FORWARD || v == MIP6_V_DROP)
                continue;
            b->offset[i] = g->frame_off[i];
            b->length[i] = g->frame_len[i];
        }
        mip6_graph_slow_(g, out, i, MIP6_SLOW_FRAME);
    }
    return (int)out->n_slow;
}

/* ---------------------------------------------------------------------------------- correspondent */

int mip6_graph_cn_send(mip6_graph_cn_t *cn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out)
{
    mip6_graph_t *g = &cn->g;
    if (!g->adj || !cn->cache || mip6_bcache_key_len(cn->cache) != 16)
        return MIP6_EINVAL;
    if (mip6_graph_scratch_(g, b->count) != MIP6_OK)
        return MIP6_ESPACE;
    uint32_t n = b->count;
    begin(g, b, out);
    /* §9.3.2, §6.4: a Type 2 routing header into every packet for a bound home address. */
    int rc = mip6_rh2_insert(b, cn->cache, cn->mtu, cn->rh2_counters);
    if (rc < 0)
        return rc;
    mip6_adj_memo_t memo = { 0 };
    for (uint32_t i = 0; i < n; i++) {
        uint8_t v = b->verdict[i];
        if (v == MIP6_V_DROP) {
            mip6_graph_drop_(g, out, b->reason[i]);
        } else if (v == MIP6_V_FORWARD || v == MIP6_V_PASS) {
            if (v == MIP6_V_FORWARD)
                out->inserted++;
            /* A packet for one of our own addresses is looped back by the node (Node.output_packet). */
            if (!send_ok(b, i) || mip6_dp_in_set(b->buf + b->offset[i] + 24, g->own, g->n_own)
                || !mip6_graph_try_send_(g, b, i, now_ns, &memo, out))
                mip6_graph_slow_(g, out, i, MIP6_SLOW_SEND);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (b->verdict[i] == MIP6_V_TOO_BIG)
            mip6_graph_slow_(g, out, i, MIP6_SLOW_TOO_BIG);
    return (int)out->n_slow;
}

int mip6_graph_cn_receive(mip6_graph_cn_t *cn, mip6_batch_t *b, unsigned rx, mip6_graph_out_t *out)
{
    mip6_graph_t *g = &cn->g;
    if (rx >= g->n_ifaces || !cn->cache || mip6_bcache_key_len(cn->cache) != 16)
        return MIP6_EINVAL;
    if (mip6_graph_scratch_(g, b->count) != MIP6_OK)
        return MIP6_ESPACE;
    uint32_t n = b->count;
    begin(g, b, out);
    const uint8_t *mac = g->ifaces[rx].mac;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pl;
        b->reason[i] = MIP6_R_NONE;
        if (!eth_ipv6(b, i, mac, 1, &pl)) {
            b->verdict[i] = MIP6_V_SLOW_PATH;
            continue;
        }
        b->offset[i] += MIP6_ETH_HLEN;
        b->length[i] = MIP6_IP6_HLEN + pl;
        b->verdict[i] = MIP6_V_PASS;
        g->flags[i] = M_ELIG;
    }
    /* §9.3.1: a Home Address option with a binding is swapped into the source. */
    int rc = mip6_hao_process(b, cn->cache, cn->hao_counters);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        mip6_graph_slow_(g, out, i, (g->flags[i] & M_ELIG) ? MIP6_SLOW_RECEIVED : MIP6_SLOW_FRAME);
    return (int)out->n_slow;
}
