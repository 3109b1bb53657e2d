/* Data-plane graphs: one C call per batch, Ethernet frames in, Ethernet frames out (issue 17).
 *
 * Theory of operation (docs/DATAPATH.md, "Graphs")
 * ------------------------------------------------
 * A graph is the per-batch pipeline of a role, as a chain of nodes in the manner of VPP's
 * (ethernet-input -> ip6 classify -> tunnel / HAO / RH2 kernels -> rewrite -> interface-output), each a
 * loop over the whole batch. It owns what it needs per packet:
 *   - the interfaces: index -> MAC, MTU, up;
 *   - the route table: the node's candidate routes (static, on-link prefixes, default router), in the
 *     node's order; the lookup is the node's: the first of the longest matching prefixes wins;
 *   - the adjacency table (mip6_adj.h): next hop -> MAC, written by neighbour discovery;
 *   - the binding cache (mip6_bcache.h), which the signalling path writes.
 * Python sees only the packets that need the slow path, as a list of indices with a kind each
 * (mip6_slow_t), in the order the per-packet path must handle them, and reads counters when asked.
 *
 * Output contract. After a run, packet i of the batch is one of:
 *   - sent: verdict FORWARD (or PASS: a correspondent's packet without a binding), out[i] = the output
 *     interface; the slot holds the whole Ethernet frame (header written in the headroom,
 *     offset/length moved over it). tx[k] counts them per interface;
 *   - dropped: verdict DROP, counted in drops[reason] (and, for the tunnel kernels, in their counters);
 *   - on the slow list, with its kind. A FRAME entry's slot is the frame as received again (its
 *     offset/length put back); the other kinds leave the IPv6 packet the kernels made at offset.
 * out[i] is MIP6_GRAPH_NO_IF for every packet not sent. (One exception: a tunnel the mobile node's
 * receive graph refuses for arriving without ESP is only counted, in out->unprotected.)
 *
 * Every role's graph shares the tables above, the slow list, the counters and the rewrite node
 * (mip6_graph_internal.h); each adds its own input, kernels and verdict handling: the home agent's
 * (frames in, frames out) below; the mobile node's and the correspondent's (mip6_graph_roles.c) have a
 * send graph (the application's IPv6 packets in, frames out: kernels, route lookup, adjacency,
 * Ethernet header, as roles/batch_tx.py did) and a receive graph (frames in: ethernet-input, kernels,
 * what to deliver and what the per-frame path gets, in the order the role handles them).
 *
 * The rewrite node (interface-output) sends a packet only when doing so needs no state change
 * anywhere: a route, on an interface that is up, a destination that is not of link scope (fe80::/10 or
 * multicast: the node's own rules), the packet within the interface's MTU, 14 bytes of headroom, and
 * a usable adjacency for the next hop (the route's gateway, or the destination when on-link). Anything
 * else is the slow path's, which resolves, queues, counts and answers exactly as for any packet. */
#ifndef MIP6_GRAPH_H
#define MIP6_GRAPH_H

#include "mip6_adj.h"
#include "mip6_batch.h"
#include "mip6_bcache.h"
#include "mip6_tunnel.h"

#define MIP6_GRAPH_MAX_IFACES 16
#define MIP6_GRAPH_MAX_ROUTES 256
#define MIP6_GRAPH_NO_IF 0xFFu
#define MIP6_ETH_HLEN 14u
#define MIP6_ETHERTYPE_IPV6 0x86DDu

/* Why a packet is on the slow list. */
#define MIP6_SLOW_KINDS(X)                                                                                \
    X(FRAME, "the frame as received, for the per-frame path (neighbour discovery, signalling, "         \
             "link-local, not IPv6, not for this interface)")                                            \
    X(TUNNEL_TX, "a tunnelled packet the graph could not send (next hop not usable, ESP, no route)")     \
    X(INNER, "a decapsulated packet to forward or deliver per packet (own address, no route, too big, "  \
             "next hop not usable)")                                                                     \
    X(TOO_BIG, "answer with Packet Too Big (aux = the MTU)")                                             \
    X(HOP_LIMIT, "dropped (counted): answer with Time Exceeded")                                        \
    X(UNPROTECTED, "an IPv6-in-IPv6 packet from a home address whose reverse tunnel must be ESP: drop")  \
    X(DECAPSULATED_LEFT, "decapsulated, then left by the kernels: multicast membership, dropped")     \
    X(SEND, "a packet to send the graph could not (own or link-scope destination, no route, too big, "  \
            "next hop not usable, ESP): the role's per-packet output")                                   \
    X(PASSED, "a packet to send the kernels left alone (PASS): the role's per-packet path")              \
    X(DELIVER_TUNNEL, "decapsulated for this node: the role delivers it (mobile node, from its home agent)") \
    X(DELIVER_RH2, "a Type 2 routing header processed: the role delivers it (mobile node)")             \
    X(RECEIVED, "an IPv6 packet the kernels decided (verdict, reason and aux in the batch), Ethernet "   \
                "header stepped over: the role acts on it per packet (correspondent)")

#define MIP6_SLOW_ENUM_(name, text) MIP6_SLOW_##name,
typedef enum { MIP6_SLOW_KINDS(MIP6_SLOW_ENUM_) MIP6_SLOW_COUNT } mip6_slow_t;
#undef MIP6_SLOW_ENUM_

/* The graph's own counters (the kernels count their reasons in their own arrays). */
#define MIP6_GRAPH_COUNTERS(X)                                                                            \
    X(RX, "frames looked at")                                                                            \
    X(TUNNELLED, "packets the tunnel kernels put into a tunnel (sent here or on the slow path)")        \
    X(DETUNNELLED_SENT, "decapsulated packets forwarded by the graph")                                   \
    X(TX, "frames the graph sent (Ethernet header written)")                                             \
    X(SLOW, "packets handed to the slow path")

#define MIP6_GC_ENUM_(name, text) MIP6_GC_##name,
typedef enum { MIP6_GRAPH_COUNTERS(MIP6_GC_ENUM_) MIP6_GC_COUNT } mip6_graph_counter_t;
#undef MIP6_GC_ENUM_

/* Names as the Python side spells them (lower case), NULL past the end. */
static inline const char *mip6_slow_kind_name(unsigned k)
{
#define MIP6_SLOW_NAME_(name, text) #name,
    static const char *const names[MIP6_SLOW_COUNT] = { MIP6_SLOW_KINDS(MIP6_SLOW_NAME_) };
#undef MIP6_SLOW_NAME_
    return k < MIP6_SLOW_COUNT ? names[k] : NULL;
}

static inline const char *mip6_graph_counter_name(unsigned k)
{
#define MIP6_GC_NAME_(name, text) #name,
    static const char *const names[MIP6_GC_COUNT] = { MIP6_GRAPH_COUNTERS(MIP6_GC_NAME_) };
#undef MIP6_GC_NAME_
    return k < MIP6_GC_COUNT ? names[k] : NULL;
}

typedef struct mip6_graph_iface {
    uint8_t mac[6];
    uint8_t up;
    uint8_t pad_;
    uint32_t mtu;
} mip6_graph_iface_t;

typedef struct mip6_graph_route {
    uint64_t mask_hi, mask_lo, net_hi, net_lo;
    uint8_t next_hop[16];
    uint8_t plen, iface, has_next_hop, pad_;
} mip6_graph_route_t;

/* What every role's graph shares: interfaces, routes, adjacency, counters, per-packet scratch. */
typedef struct mip6_graph {
    mip6_graph_iface_t ifaces[MIP6_GRAPH_MAX_IFACES];
    uint32_t n_ifaces;
    mip6_graph_route_t routes[MIP6_GRAPH_MAX_ROUTES]; /* sorted: longest prefix first, then given order */
    uint32_t n_routes;
    mip6_adj_t *adj;
    const uint8_t *own;      /* the node's own usable addresses (never sent by the graph) */
    uint32_t n_own;
    const uint8_t *required; /* home addresses whose tunnel must arrive under ESP (inbound tunnel SA) */
    uint32_t n_required;
    const uint8_t *protected_homes; /* home addresses whose tunnel leaves under ESP (outbound tunnel SA) */
    uint32_t n_protected;
    uint64_t counters[MIP6_GC_COUNT];
    uint64_t drops[MIP6_R_COUNT];  /* DROP verdicts by reason, over every run */
    uint64_t slow_kinds[MIP6_SLOW_COUNT];
    /* scratch, cap entries each */
    uint32_t cap;
    uint32_t *frame_off, *frame_len;
    uint8_t *flags, *keep;
} mip6_graph_t;

/* Where a run writes its results: caller-owned arrays of at least batch->count entries. */
typedef struct mip6_graph_out {
    uint8_t *out;        /* per packet: output interface or MIP6_GRAPH_NO_IF */
    uint32_t *slow;      /* slow-path packet indices, in the order to handle them */
    uint8_t *slow_kind;  /* per slow entry: mip6_slow_t */
    uint32_t n_slow;
    uint32_t tx[MIP6_GRAPH_MAX_IFACES]; /* frames sent per interface in this run */
    uint32_t tunnelled, detunnelled_sent, dropped;
    uint32_t inserted;    /* correspondent: Type 2 routing headers inserted */
    uint32_t unprotected; /* mobile node: tunnels refused for arriving without ESP */
    uint32_t drops[MIP6_R_COUNT]; /* DROP verdicts by reason in this run */
} mip6_graph_out_t;

/* adj_max: the adjacency table's bound. 0 on success, MIP6_EINVAL. */
MIP6_API int mip6_graph_init(mip6_graph_t *g, uint32_t adj_max, const uint8_t seed[16]);
MIP6_API void mip6_graph_release(mip6_graph_t *g);
/* n 0..MIP6_GRAPH_MAX_IFACES. */
MIP6_API int mip6_graph_set_ifaces(mip6_graph_t *g, const mip6_graph_iface_t *ifaces, uint32_t n);
/* Routes in the node's order; each: 16-byte prefix, length, interface, next hop (NULL-able via
 * has_next_hop). Sorted here, stably, longest first. MIP6_EINVAL for a bad length/interface/count. */
MIP6_API int mip6_graph_set_routes(mip6_graph_t *g, const uint8_t *prefixes, const uint8_t *plens,
                                   const uint8_t *ifaces, const uint8_t *next_hops, const uint8_t *has_next_hop,
                                   uint32_t n);
/* The index of the route for dst (first longest prefix) or -1. */
MIP6_API int32_t mip6_graph_route(const mip6_graph_t *g, const uint8_t dst[16]);

/* The home agent's graph (RFC 6275 §10.4.1-10.4.5), the same decisions as the Python BatchPath it
 * replaces: ethernet-input (the interface's MAC, EtherType 0x86DD, a whole IPv6 packet; else FRAME),
 * classify (neighbour discovery and link-local source or destination stay on the slow path, §10.4.1,
 * §10.4.2), encapsulate (packets for bound home addresses), decapsulate (reverse tunnels addressed to
 * the home agent, §10.4.5; an inner packet for another bound home address is tunnelled again), rewrite
 * and output. ESP tunnel mode (RFC 3776) stays with Python: tunnelled packets for `protected` homes
 * leave as TUNNEL_TX, unprotected tunnels from `required` homes are UNPROTECTED. */
typedef struct mip6_graph_ha {
    mip6_graph_t g;
    mip6_bcache_t *cache;
    mip6_tunnel_cfg_t tun;
    unsigned decap_flags;
    uint8_t address[16];     /* g.own: a decapsulated packet for one is INNER; g.required: inner sources
                              * whose reverse tunnel must arrive under ESP; g.protected_homes: inner
                              * destinations whose tunnel leaves under ESP */
    uint64_t *encap_counters, *decap_counters; /* the kernels' counters (MIP6_R_COUNT each) */
    mip6_bc_sink_t *sink; /* NULL: the bindings' own counters; else a worker's per-slot arrays (mip6_shm.h) */
} mip6_graph_ha_t;

/* One batch of frames received on interface rx at now_ns. The number of slow entries (out->n_slow), or
 * MIP6_EINVAL (a bad interface or configuration: nothing touched), MIP6_ESPACE (scratch allocation). */
MIP6_API int mip6_graph_ha_run(mip6_graph_ha_t *ha, mip6_batch_t *b, unsigned rx, uint64_t now_ns,
                               mip6_graph_out_t *out);

#define MIP6_GRAPH_MAX_TUNNELS 16
#define MIP6_GRAPH_MAX_AGENTS 16

/* One registered home address away from home: insert_hao (route optimisation) then the reverse tunnel
 * (encap_fixed with this home only), as MobileNodeDataPath.outbound. */
typedef struct mip6_graph_mn_tunnel {
    mip6_tunnel_cfg_t cfg;   /* care-of address -> home agent */
    uint8_t home[16];
    uint32_t hao_mtu;
    uint64_t *hao_counters, *encap_counters;
} mip6_graph_mn_tunnel_t;

/* One home agent of the receive side: decapsulate_mn over the packets whose outer source it is. */
typedef struct mip6_graph_mn_agent {
    uint8_t address[16];
    const uint8_t *homes;
    uint32_t n_homes;
    unsigned flags;
    uint64_t *counters;
} mip6_graph_mn_agent_t;

/* The mobile node's graphs (RFC 6275 §11.3.1, §11.3.3), the same decisions as roles/mn_datapath.py:
 *   send: application packets (IPv6, at their offsets) through each tunnel's kernels, then output. A
 *     FORWARD packet is sent, or SEND (in index order; also a reverse-tunnelled one whose inner source
 *     is in g.protected_homes: ESP); then PASSED entries, then TOO_BIG. tunnelled: FORWARD packets that
 *     are IPv6-in-IPv6 (the reverse tunnel), the rest left with a HAO.
 *   receive: frames; ethernet-input (our MAC only), then only IPv6-in-IPv6 and routing headers (not one
 *     before a Mobility Header or ESP: signalling) whose verdict is PASS on entry; a tunnel for a home in
 *     g.required is refused (counted in unprotected, verdict SLOW_PATH, on no list). decapsulate_mn per
 *     agent, then process_rh2 (rh2_homes). DELIVER_TUNNEL / DELIVER_RH2 entries (FORWARD, in index
 *     order), DROPs counted, then every other frame as FRAME (restored). */
typedef struct mip6_graph_mn {
    mip6_graph_t g;
    mip6_bcache_t *bul; /* 32-byte keys */
    uint32_t n_tunnels;
    mip6_graph_mn_tunnel_t tunnels[MIP6_GRAPH_MAX_TUNNELS];
    uint32_t n_agents;
    mip6_graph_mn_agent_t agents[MIP6_GRAPH_MAX_AGENTS];
    const uint8_t *rh2_homes;
    uint32_t n_rh2_homes;
    uint64_t *rh2_counters;
} mip6_graph_mn_t;

MIP6_API int mip6_graph_mn_send(mip6_graph_mn_t *mn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out);
MIP6_API int mip6_graph_mn_receive(mip6_graph_mn_t *mn, mip6_batch_t *b, unsigned rx, uint64_t now_ns,
                                   mip6_graph_out_t *out);

/* The correspondent's graphs (RFC 6275 §9.3), the same decisions as roles/correspondent/datapath.py:
 *   send: insert_rh2 (§9.3.2, §6.4), then output: a FORWARD or PASS packet is sent, or SEND (in index
 *     order: own destination, link scope, no route, too big, next hop not usable); inserted counts the
 *     FORWARD ones; TOO_BIG on the list after them; DROPs counted.
 *   receive: frames; ethernet-input (our MAC, broadcast or 33:33 groups), process_hao (§9.3.1) over the
 *     IPv6 ones; every frame on the list in index order: RECEIVED (the packet, the kernel's verdict) or
 *     FRAME. Decisions per packet stay with the role (accepting the MAC, checksums, delivery). */
typedef struct mip6_graph_cn {
    mip6_graph_t g;
    mip6_bcache_t *cache; /* 16-byte keys */
    uint32_t mtu;
    uint64_t *rh2_counters, *hao_counters;
} mip6_graph_cn_t;

MIP6_API int mip6_graph_cn_send(mip6_graph_cn_t *cn, mip6_batch_t *b, uint64_t now_ns, mip6_graph_out_t *out);
MIP6_API int mip6_graph_cn_receive(mip6_graph_cn_t *cn, mip6_batch_t *b, unsigned rx, mip6_graph_out_t *out);

#endif
