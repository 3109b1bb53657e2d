/* Packet batches: the C view of mip6fast.batch.PacketBatch, verdicts and the reasons behind them.
 *
 * A batch is a struct of arrays in memory the caller owns (numpy on the Python side). Packet i lives in
 * slot i of the slab, buf[i * slot_size, (i + 1) * slot_size), at buf[offset[i], offset[i] + length[i]).
 * The bytes of a slot before the packet are its headroom: a kernel prepends a header by writing it there
 * and moving offset[i] back, so the payload is never copied (the DPDK rte_pktmbuf_prepend contract: no
 * headroom is a counted drop, never a reallocation).
 *
 * Chaining: a kernel acts only on packets whose verdict is MIP6_V_PASS on entry and leaves every other
 * packet (its bytes, columns and counters) alone. So kernels can run one after the other over one batch
 * (the mobile node: HAO insert, then the reverse tunnel for what is left), and running a kernel twice
 * never rewrites a packet twice. A fresh packet has verdict PASS and reason NONE.
 *
 * The caller guarantees that buf spans count * slot_size bytes and that the columns hold count entries;
 * the kernels check every packet's offset and length against its slot (MIP6_R_BAD_SLOT) and every header
 * against the packet before reading it. */
#ifndef MIP6_BATCH_H
#define MIP6_BATCH_H

#include "mip6_common.h"
#include "mip6_ip6.h" /* protocol numbers, MIP6_IP6_HLEN */

typedef struct mip6_batch {
    uint8_t *buf;
    uint32_t slot_size, headroom, count;
    uint32_t *offset, *length;
    uint8_t *verdict, *reason;
    uint32_t *aux;
} mip6_batch_t;

/* What the caller does with a packet after a kernel. */
typedef enum {
    MIP6_V_FORWARD = 0,       /* rewritten: send it (or deliver it, after a receive-side kernel) */
    MIP6_V_PASS = 1,          /* not for this kernel (no binding, no option): leave it to the normal path */
    MIP6_V_DROP = 2,          /* discard; the reason says why */
    MIP6_V_SLOW_PATH = 3,     /* hand it, untouched, to the role's Python code */
    MIP6_V_TOO_BIG = 4,       /* untouched; aux = the MTU to put in the Packet Too Big message */
    MIP6_V_BINDING_ERROR = 5, /* untouched; send Binding Error status 1 (RFC 6275 §9.3.1); aux = offset of
                               * the Home Address option's address in the packet */
    MIP6_V_COUNT
} mip6_verdict_t;

#define MIP6_VERDICTS(X) X(FORWARD) X(PASS) X(DROP) X(SLOW_PATH) X(TOO_BIG) X(BINDING_ERROR)

/* Every reason a kernel gives, with the one verdict it goes with: X(name, verdict, description).
 * The reason column says why a packet got its verdict; counters[reason] counts them per kernel call. */
#define MIP6_REASONS(X)                                                                                   \
    X(NONE, PASS, "no kernel has looked at the packet")                                                  \
    X(FORWARDED, FORWARD, "rewritten")                                                                    \
    X(NO_BINDING, PASS, "no binding (or binding update list entry) for the packet")                       \
    X(NOT_TUNNELLED, PASS, "decapsulation: not IPv6-in-IPv6 (outer next header is not 41)")              \
    X(NO_HAO, PASS, "no Home Address option")                                                             \
    X(NO_RH2, PASS, "no type 2 routing header")                                                           \
    X(NOT_ELIGIBLE, PASS, "route optimisation does not apply: Mobility Header, neighbour discovery, "     \
                          "a routing header already there, or a home-registration entry")                 \
    X(NOT_FROM_HOME, PASS, "reverse tunnel: source is not one of the home addresses")                    \
    X(MH_SIGNALLING, SLOW_PATH, "Home Address option on a Mobility Header (a Binding Update, §9.3.1)")    \
    X(MULTICAST_MEMBERSHIP, SLOW_PATH, "MLD inside a tunnel: group membership for the role (§10.4.3)")   \
    X(TOO_BIG, TOO_BIG, "the rewritten packet would exceed the MTU")                                      \
    X(HAO_NO_BINDING, BINDING_ERROR, "Home Address option for a home address with no binding")           \
    X(HAO_WRONG_COA, BINDING_ERROR, "Home Address option: the binding's care-of address is not the source") \
    X(BAD_SLOT, DROP, "offset/length outside the packet's slot")                                          \
    X(TRUNCATED, DROP, "shorter than an IPv6 header")                                                     \
    X(BAD_VERSION, DROP, "IP version is not 6")                                                           \
    X(BAD_LENGTH, DROP, "payload length disagrees with the packet length")                               \
    X(BAD_HEADER, DROP, "malformed or misplaced extension header")                                        \
    X(HOP_LIMIT, DROP, "hop limit would reach 0 (send Time Exceeded)")                                    \
    X(NO_HEADROOM, DROP, "no room before the packet for the header to prepend")                          \
    X(LINK_LOCAL, DROP, "link-local source or destination: never tunnelled (§10.4.2)")                   \
    X(SITE_LOCAL, DROP, "site-local source or destination, not allowed by the configuration")           \
    X(TUNNEL_NO_BINDING, DROP, "reverse tunnel: no binding for the inner source")                        \
    X(TUNNEL_WRONG_SOURCE, DROP, "tunnel: outer source is not the care-of address / home agent")         \
    X(NOT_HOME_ADDRESS, DROP, "destination (inner, or the type 2 routing header's) is not a home address") \
    X(BAD_RH2, DROP, "type 2 routing header without header length 2 and segments left 1 (§6.4)")          \
    X(DUPLICATE_HAO, DROP, "more than one Home Address option")                                           \
    X(BAD_HAO, DROP, "Home Address option with length other than 16 or not at 8n+6 (§6.3)")               \
    X(ECN, DROP, "outer header Congestion Experienced on a not-ECN-capable inner packet (RFC 6040)")

#define MIP6_REASON_ENUM_(name, verdict, text) MIP6_R_##name,
typedef enum { MIP6_REASONS(MIP6_REASON_ENUM_) MIP6_R_COUNT } mip6_reason_t;
#undef MIP6_REASON_ENUM_

/* The name of a reason as the Python DropReason enum spells it, or NULL past the end. */
static inline const char *mip6_reason_name(unsigned r)
{
#define MIP6_REASON_NAME_(name, verdict, text) #name,
    static const char *const names[MIP6_R_COUNT] = { MIP6_REASONS(MIP6_REASON_NAME_) };
#undef MIP6_REASON_NAME_
    return r < MIP6_R_COUNT ? names[r] : NULL;
}

static inline const char *mip6_reason_text(unsigned r)
{
#define MIP6_REASON_TEXT_(name, verdict, text) text,
    static const char *const texts[MIP6_R_COUNT] = { MIP6_REASONS(MIP6_REASON_TEXT_) };
#undef MIP6_REASON_TEXT_
    return r < MIP6_R_COUNT ? texts[r] : NULL;
}

/* The verdict that goes with a reason (or -1 past the end). */
static inline int mip6_reason_verdict(unsigned r)
{
#define MIP6_REASON_VERDICT_(name, verdict, text) MIP6_V_##verdict,
    static const unsigned char verdicts[MIP6_R_COUNT] = { MIP6_REASONS(MIP6_REASON_VERDICT_) };
#undef MIP6_REASON_VERDICT_
    return r < MIP6_R_COUNT ? verdicts[r] : -1;
}

static inline const char *mip6_verdict_name(unsigned v)
{
#define MIP6_VERDICT_NAME_(name) #name,
    static const char *const names[MIP6_V_COUNT] = { MIP6_VERDICTS(MIP6_VERDICT_NAME_) };
#undef MIP6_VERDICT_NAME_
    return v < MIP6_V_COUNT ? names[v] : NULL;
}

/* Sets a packet's verdict, reason and aux from its reason, and counts it. */
static inline void mip6_batch_set(mip6_batch_t *b, uint32_t i, mip6_reason_t r, uint32_t aux, uint64_t *counters)
{
    b->verdict[i] = (uint8_t)mip6_reason_verdict(r);
    b->reason[i] = (uint8_t)r;
    b->aux[i] = aux;
    counters[r]++;
}

/* ---- Per-packet checks every kernel makes before it reads a header ----------------------------- */


/* The packet's bytes if it lies inside its slot and is a whole IPv6 packet (at least the fixed header,
 * version 6, payload length matching the length: jumbograms are not carried); else 0 with *why set.
 * *room gets the headroom in front of it. */
static inline uint8_t *mip6_batch_packet(const mip6_batch_t *b, uint32_t i, uint32_t *len, uint32_t *room,
                                         mip6_reason_t *why)
{
    uint64_t start = (uint64_t)i * b->slot_size, end = start + b->slot_size;
    uint64_t off = b->offset[i], n = b->length[i];
    if (off < start || off > end || n > end - off) {
        *why = MIP6_R_BAD_SLOT;
        return 0;
    }
    uint8_t *p = b->buf + off;
    if (n < MIP6_IP6_HLEN) {
        *why = MIP6_R_TRUNCATED;
        return 0;
    }
    if ((p[0] >> 4) != 6) {
        *why = MIP6_R_BAD_VERSION;
        return 0;
    }
    if (MIP6_IP6_HLEN + (uint64_t)mip6_get16(p + 4) != n) {
        *why = MIP6_R_BAD_LENGTH;
        return 0;
    }
    *len = (uint32_t)n;
    *room = (uint32_t)(off - start);
    return p;
}

/* Where the extension headers Mobile IPv6 cares about sit (offsets from the packet start). */
typedef struct mip6_dp_walk {
    uint32_t hbh_end;    /* end of the Hop-by-Hop header, or 40 */
    int32_t rh, dst;     /* routing header, destination options header, or -1 */
    uint32_t rh_end, dst_end;
    uint32_t upper;      /* first byte after the walked headers */
    uint8_t upper_nh;    /* what it is (6 TCP, 17 UDP, 58 ICMPv6, 135 MH, 44 fragment, 50 ESP, ...) */
} mip6_dp_walk_t;

/* The walk of RFC 8200 §4.1 order as far as Mobile IPv6 needs it (the same structural rules as
 * mip6_ip6_walk): Hop-by-Hop only first, at most one routing header, at most one destination options
 * header and no routing header after it (RFC 6275 §6.3 puts the Home Address option's header after the
 * routing header). Stops at the first other header (Fragment, AH, ESP, upper layer). Every header is
 * checked to lie inside the packet. 0, or MIP6_R_BAD_HEADER. */
static inline mip6_reason_t mip6_dp_walk(const uint8_t *p, uint32_t n, mip6_dp_walk_t *w)
{
    uint32_t off = MIP6_IP6_HLEN;
    uint8_t nh = p[6];
    w->hbh_end = MIP6_IP6_HLEN;
    w->rh = w->dst = -1;
    w->rh_end = w->dst_end = 0;
    for (;;) {
        if (nh != MIP6_NH_HOPOPT && nh != MIP6_NH_ROUTING && nh != MIP6_NH_DSTOPTS)
            break;
        if ((uint64_t)off + 8 > n)
            return MIP6_R_BAD_HEADER;
        uint32_t hl = ((uint32_t)p[off + 1] + 1) * 8;
        if ((uint64_t)off + hl > n)
            return MIP6_R_BAD_HEADER;
        if (nh == MIP6_NH_HOPOPT) {
            if (off != MIP6_IP6_HLEN)
                return MIP6_R_BAD_HEADER;
            w->hbh_end = off + hl;
        } else if (nh == MIP6_NH_ROUTING) {
            if (w->rh >= 0 || w->dst >= 0)
                return MIP6_R_BAD_HEADER;
            w->rh = (int32_t)off;
            w->rh_end = off + hl;
        } else {
            if (w->dst >= 0)
                return MIP6_R_BAD_HEADER;
            w->dst = (int32_t)off;
            w->dst_end = off + hl;
        }
        nh = p[off];
        off += hl;
    }
    w->upper = off;
    w->upper_nh = nh;
    return MIP6_R_NONE;
}

/* The destination options header's Home Address option: *hao = offset of its address, or -1 when
 * there is none. 0, or BAD_HEADER (an option runs past the header), DUPLICATE_HAO, BAD_HAO (length
 * not 16, or not at 8n+6, RFC 6275 §6.3). The whole header is checked. */
static inline mip6_reason_t mip6_dp_find_hao(const uint8_t *p, uint32_t dst, uint32_t dst_end, int32_t *hao)
{
    uint32_t i = dst + 2;
    *hao = -1;
    while (i < dst_end) {
        uint8_t t = p[i];
        if (t == 0) { /* Pad1 */
            i++;
            continue;
        }
        if (i + 2 > dst_end)
            return MIP6_R_BAD_HEADER;
        uint8_t l = p[i + 1];
        if (i + 2 + (uint32_t)l > dst_end)
            return MIP6_R_BAD_HEADER;
        if (t == MIP6_OPT_HAO) {
            if (*hao >= 0)
                return MIP6_R_DUPLICATE_HAO;
            if (l != 16 || (i - dst) % 8 != 6)
                return MIP6_R_BAD_HAO;
            *hao = (int32_t)(i + 2);
        }
        i += 2 + (uint32_t)l;
    }
    return MIP6_R_NONE;
}

static inline int mip6_dp_link_local(const uint8_t *a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
static inline int mip6_dp_site_local(const uint8_t *a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0xc0; }
static inline int mip6_dp_multicast(const uint8_t *a) { return a[0] == 0xff; }

/* MLD (RFC 2710, RFC 3810): query 130, report 131, done 132, v2 report 143, to a multicast group. */
static inline int mip6_dp_is_mld(const uint8_t *p, uint32_t n)
{
    mip6_dp_walk_t w;
    if (!mip6_dp_multicast(p + 24) || mip6_dp_walk(p, n, &w) != MIP6_R_NONE)
        return 0;
    if (w.upper_nh != MIP6_NH_ICMPV6 || w.upper >= n)
        return 0;
    uint8_t t = p[w.upper];
    return t == 130 || t == 131 || t == 132 || t == 143;
}

/* Neighbour discovery (RFC 4861 types 133..137) never carries a Home Address option (RFC 6275 §6.3)
 * and is never route-optimised. */
static inline int mip6_dp_is_nd(const uint8_t *p, uint32_t n, const mip6_dp_walk_t *w)
{
    return w->upper_nh == MIP6_NH_ICMPV6 && w->upper < n && p[w->upper] >= 133 && p[w->upper] <= 137;
}

/* RFC 6275 §10.4.2, RFC 4291 §2.5.6: nothing to or from a link-local address (nor to a multicast group of
 * interface- or link-local scope) goes through a tunnel, except multicast group membership traffic
 * (MLD); site-local addresses (deprecated, RFC 3879) only when allowed. 0, LINK_LOCAL or SITE_LOCAL. */
static inline mip6_reason_t mip6_dp_scope(const uint8_t *p, uint32_t n, int allow_site_local)
{
    const uint8_t *src = p + 8, *dst = p + 24;
    if (mip6_dp_link_local(dst))
        return MIP6_R_LINK_LOCAL;
    if (mip6_dp_link_local(src) || (mip6_dp_multicast(dst) && (dst[1] & 0x0f) <= 2)) {
        if (mip6_dp_is_mld(p, n))
            return MIP6_R_NONE;
        return MIP6_R_LINK_LOCAL;
    }
    if (!allow_site_local && (mip6_dp_site_local(src) || mip6_dp_site_local(dst)))
        return MIP6_R_SITE_LOCAL;
    return MIP6_R_NONE;
}

/* Is addr one of the n 16-byte addresses at set? */
static inline int mip6_dp_in_set(const uint8_t *addr, const uint8_t *set, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (memcmp(addr, set + (size_t)k * 16, 16) == 0)
            return 1;
    return 0;
}

#endif
