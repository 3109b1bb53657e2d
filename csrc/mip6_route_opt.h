/* Route optimisation on the data path (RFC 6275 §6.3, §6.4, §9.3, §11.3.1): batch kernels for the Home
 * Address option and the Type 2 routing header.
 *
 * Same conventions as mip6_tunnel.h: one call per batch, only packets with verdict PASS are looked at,
 * verdict/reason/aux set and counters[reason] incremented for each, bytes touched only on FORWARD;
 * return the number forwarded or MIP6_EINVAL. Extension headers are walked by mip6_dp_walk (mip6_batch.h:
 * BAD_HEADER for anything out of place or running past the packet).
 *
 * Upper-layer checksums are never touched: with a Home Address option the pseudo-header source is the
 * home address, with a Type 2 routing header the pseudo-header destination is the home address (§6.3,
 * §6.4), and after the receiver's swap the home address is back in the IPv6 header. So TCP, UDP and
 * ICMPv6 checksums computed by the end points stay valid end to end.
 *
 * mip6_hao_insert (mobile node; bul: 32-byte keys, peer address then home address): key (destination,
 * source). Miss: PASS/NO_BINDING. A home-registration entry (flag H): NOT_ELIGIBLE (that peer is reached
 * through the reverse tunnel). Walk; a Mobility Header (HoTI and friends go through the home agent, and
 * only a Binding Update may carry a HAO, §6.1) or neighbour discovery (§6.3): NOT_ELIGIBLE. A
 * destination options header already there (it must follow the routing header): the HAO is appended
 * to it (PadN(4), HAO: 24 bytes, header length + 3) unless it has one (DUPLICATE_HAO) or is malformed;
 * otherwise a new 24-byte header (PadN(2), HAO) goes right after the routing header, or the Hop-by-Hop
 * header, or the IPv6 header: after any routing header and before anything else (§6.3). Length + 24 >
 * mtu: TOO_BIG, aux = mtu - 24. Less than 24 bytes of headroom: NO_HEADROOM. The headers in front of
 * the insertion point (at most the IPv6, Hop-by-Hop, routing and destination options headers) move 24
 * bytes back into the headroom; the payload stays. Source <- the entry's care-of address; the HAO holds
 * the home address.
 *
 * mip6_hao_process (correspondent or home agent; cache: 16-byte keys): walk; no destination options
 * header or no HAO in it: PASS/NO_HAO; DUPLICATE_HAO, BAD_HAO, BAD_HEADER for malformed ones. A
 * Mobility Header (a Binding Update from a node not yet bound): SLOW_PATH/MH_SIGNALLING, untouched.
 * No binding for the HAO's address: BINDING_ERROR/HAO_NO_BINDING; a binding whose care-of address is
 * not the packet's source: BINDING_ERROR/HAO_WRONG_COA (§9.3.1); aux = offset of the HAO's address in the
 * packet (the home address to put in the Binding Error). Otherwise the source and the HAO's address
 * are swapped in place.
 *
 * mip6_rh2_insert (correspondent; cache: 16-byte keys): destination looked up; miss PASS/NO_BINDING.
 * Walk; a routing header already there, a Mobility Header (the role builds its Binding
 * Acknowledgements itself) or neighbour discovery: NOT_ELIGIBLE. TOO_BIG (aux = mtu - 24), NO_HEADROOM
 * as above. A 24-byte Type 2 routing header (header length 2, segments left 1, the home address) goes
 * right after the Hop-by-Hop header or the IPv6 header (RFC 8200 §4.1 order); destination <- care-of
 * address.
 *
 * mip6_rh2_process (mobile node): walk; no routing header, or one of another type: PASS/NO_RH2. Type 2
 * with header length other than 2 or segments left other than 1: BAD_RH2; its address not one of the
 * home addresses: NOT_HOME_ADDRESS (§6.4, §11.3.3). Otherwise destination and address swap and
 * segments left becomes 0.
 *
 * The kernels that use a binding add 1 packet and the packet's length before insertion / after
 * processing to its counters. */
#ifndef MIP6_ROUTE_OPT_H
#define MIP6_ROUTE_OPT_H

#include "mip6_batch.h"
#include "mip6_bcache.h"

#define MIP6_RO_HLEN 24        /* what each insert adds: PadN(2) + HAO header, or a Type 2 routing header */
#define MIP6_RO_MIN_MTU 1280u  /* IPv6 minimum link MTU (RFC 8200 §5) */
#define MIP6_RO_MAX_MTU 65535u

MIP6_API int mip6_hao_insert(mip6_batch_t *b, mip6_bcache_t *bul, uint32_t mtu, uint64_t *counters);
MIP6_API int mip6_hao_process(mip6_batch_t *b, mip6_bcache_t *cache, uint64_t *counters);
MIP6_API int mip6_rh2_insert(mip6_batch_t *b, mip6_bcache_t *cache, uint32_t mtu, uint64_t *counters);
MIP6_API int mip6_rh2_process(mip6_batch_t *b, const uint8_t *homes, uint32_t n_homes, uint64_t *counters);

#endif
