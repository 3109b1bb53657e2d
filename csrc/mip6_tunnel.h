/* IPv6-in-IPv6 tunnelling for Mobile IPv6 (RFC 2473; RFC 6275 §10.4.2, §10.4.5, §11.3.1): batch kernels.
 *
 * Each kernel is one call per batch (mip6_batch.h): it acts on the packets whose verdict is PASS, sets
 * verdict/reason/aux for each of them, and adds one to counters[reason] per packet (counters has
 * MIP6_R_COUNT entries). A packet is rewritten only when its verdict becomes FORWARD; every other
 * verdict leaves its bytes, offset and length as they were. Return: the number of packets forwarded, or
 * MIP6_EINVAL for a configuration the kernel refuses (nothing is touched then).
 *
 * Encapsulation (the tunnel entry point):
 *   - HA mode: the binding cache (16-byte keys: home addresses) is looked up with each packet's
 *     destination; a miss is PASS/NO_BINDING. Outer destination = the binding's care-of address.
 *   - Fixed mode: outer source and destination from the configuration (the mobile node's reverse tunnel:
 *     care-of address to home agent). With home addresses given, only packets from one of them are
 *     tunnelled (PASS/NOT_FROM_HOME otherwise); MLD is tunnelled whatever its source (RFC 6275 §11.3.4).
 *   Per packet, in this order: slot and IPv6 header checks; [fixed: home address filter]; scope
 *   (LINK_LOCAL: link-local source or destination, or a multicast group of link-local or smaller scope,
 *   unless the packet is MLD, RFC 6275 §10.4.2; SITE_LOCAL unless allowed); [HA: the lookup]; with
 *   MIP6_TUN_DEC_HOP_LIMIT (the home agent forwards the inner packet as a router), hop limit <= 1 is
 *   HOP_LIMIT; inner length + 40 > mtu is TOO_BIG with aux = mtu - 40 (RFC 2473 §7.1: what the inner
 *   source may send; mtu >= 1320 so that is never below the IPv6 minimum of 1280); less than 40 bytes of
 *   headroom is NO_HEADROOM. Then the outer header is copied from a template built once per call:
 *   version 6, traffic class copied from the inner packet (RFC 2473 §5.1; RFC 6040 normal mode, ECN
 *   included), the configured flow label and hop limit, payload length = inner length, next header 41.
 *   HA mode adds 1 packet and the inner length in bytes to the binding's counters.
 *
 * Decapsulation (the tunnel exit point): outer next header must be 41 (else PASS/NOT_TUNNELLED; outer
 * extension headers are not walked); the inner packet must be a whole IPv6 packet (TRUNCATED,
 * BAD_VERSION, BAD_LENGTH). MLD inside is SLOW_PATH/MULTICAST_MEMBERSHIP (group membership is the role's
 * business, §10.4.3); then the scope rule as above on the inner addresses.
 *   - HA mode: the inner source's binding must exist (TUNNEL_NO_BINDING) and its care-of address must be
 *     the outer source (TUNNEL_WRONG_SOURCE) (RFC 6275 §10.4.5). With MIP6_TUN_DEC_HOP_LIMIT the inner
 *     hop limit is decremented (<= 1: HOP_LIMIT): the home agent forwards the inner packet. Adds 1 packet
 *     and the inner length to the binding's counters.
 *   - MN mode: the outer source must be the home agent (checked first: TUNNEL_WRONG_SOURCE) and the inner
 *     destination one of the home addresses (NOT_HOME_ADDRESS) (§11.3.1).
 *   ECN (RFC 6040 §4.2): outer CE on a Not-ECT inner packet is ECN (drop); outer CE makes an ECT inner
 *   packet CE; outer ECT(1) makes ECT(0) ECT(1). The outer header is stripped by moving the offset. */
#ifndef MIP6_TUNNEL_H
#define MIP6_TUNNEL_H

#include "mip6_batch.h"
#include "mip6_bcache.h"

#define MIP6_TUN_ALLOW_SITE_LOCAL 0x01u /* tunnel site-local (fec0::/10) addresses too (deprecated, RFC 3879) */
#define MIP6_TUN_DEC_HOP_LIMIT 0x02u    /* forward the inner packet as a router: decrement its hop limit */

#define MIP6_TUN_MIN_MTU 1320u /* 1280 + 40: RFC 2473 §7.1 without fragmenting the tunnel packet */
#define MIP6_TUN_MAX_MTU 65535u

typedef struct mip6_tunnel_cfg {
    uint8_t src[16];     /* outer source: the home agent (HA mode), the care-of address (fixed mode) */
    uint8_t dst[16];     /* outer destination in fixed mode (the home agent); unused in HA mode */
    uint32_t mtu;        /* tunnel MTU: the largest outer packet, MIP6_TUN_MIN_MTU..MIP6_TUN_MAX_MTU */
    uint32_t flow_label; /* outer flow label, 20 bits */
    uint8_t hop_limit;   /* outer hop limit */
    uint8_t flags;       /* MIP6_TUN_* */
} mip6_tunnel_cfg_t;

MIP6_API int mip6_tunnel_encap_ha(mip6_batch_t *b, mip6_bcache_t *cache, const mip6_tunnel_cfg_t *cfg,
                                  uint64_t *counters);
/* homes: n_homes 16-byte addresses (n_homes 0: tunnel every packet). */
MIP6_API int mip6_tunnel_encap_fixed(mip6_batch_t *b, const mip6_tunnel_cfg_t *cfg, const uint8_t *homes,
                                     uint32_t n_homes, uint64_t *counters);
/* flags: MIP6_TUN_ALLOW_SITE_LOCAL, MIP6_TUN_DEC_HOP_LIMIT. */
MIP6_API int mip6_tunnel_decap_ha(mip6_batch_t *b, mip6_bcache_t *cache, unsigned flags, uint64_t *counters);
/* The two above with the bindings' counters added to a sink (mip6_bcache.h) instead of the entries: a
 * forwarding worker's calls over the shared table, which it must not write (mip6_shm.h). */
MIP6_API int mip6_tunnel_encap_ha_sink(mip6_batch_t *b, mip6_bcache_t *cache, const mip6_tunnel_cfg_t *cfg,
                                       uint64_t *counters, mip6_bc_sink_t *sink);
MIP6_API int mip6_tunnel_decap_ha_sink(mip6_batch_t *b, mip6_bcache_t *cache, unsigned flags, uint64_t *counters,
                                       mip6_bc_sink_t *sink);
MIP6_API int mip6_tunnel_decap_mn(mip6_batch_t *b, const uint8_t home_agent[16], const uint8_t *homes,
                                  uint32_t n_homes, unsigned flags, uint64_t *counters);

#endif
