/* The IPv6 header and the extension headers Mobile IPv6 uses: walk (parse) and build.
 *
 * Walk: RFC 8200 §4 order. Hop-by-Hop only first; one Type 2 routing header (RFC 6275 §6.4); one
 * destination options header, after the routing header, which may hold the Home Address option
 * (RFC 6275 §6.3). The walk stops at the first header that is none of these (Fragment, AH and ESP
 * included: what follows them cannot be read without reassembly or keys) and reports it as the upper
 * layer. */
#ifndef MIP6_IP6_H
#define MIP6_IP6_H

#include "mip6_common.h"

#define MIP6_IP6_HLEN 40
#define MIP6_NH_HOPOPT 0
#define MIP6_NH_TCP 6
#define MIP6_NH_UDP 17
#define MIP6_NH_IPV6 41
#define MIP6_NH_ROUTING 43
#define MIP6_NH_FRAGMENT 44
#define MIP6_NH_ESP 50
#define MIP6_NH_AH 51
#define MIP6_NH_ICMPV6 58
#define MIP6_NH_NONE 59
#define MIP6_NH_DSTOPTS 60
#define MIP6_NH_MH 135

#define MIP6_OPT_PAD1 0
#define MIP6_OPT_PADN 1
#define MIP6_OPT_HAO 201 /* RFC 6275 §6.3: 0b11 action bits, so a node without MIPv6 discards + Param Problem */
#define MIP6_RH_TYPE2 2
#define MIP6_MAX_IP6_OPTS 16

/* One option of a Hop-by-Hop or destination options header (padding and the HAO left out). */
typedef struct mip6_ip6_opt {
    uint8_t type;
    uint8_t len;     /* data length */
    uint32_t data;   /* offset of the data in the buffer */
} mip6_ip6_opt_t;

typedef struct mip6_ip6_view {
    uint8_t traffic_class;
    uint32_t flow_label;
    uint8_t hop_limit;
    uint16_t payload_length;
    int32_t hbh;             /* offset of the Hop-by-Hop header, or -1 */
    int32_t rh2;             /* offset of the Type 2 routing header, or -1 */
    int32_t dstopts;         /* offset of the destination options header, or -1 */
    int32_t hao;             /* offset of the Home Address option's address (16 bytes), or -1 */
    uint8_t n_hbh_opts, n_dst_opts;
    mip6_ip6_opt_t hbh_opts[MIP6_MAX_IP6_OPTS];
    mip6_ip6_opt_t dst_opts[MIP6_MAX_IP6_OPTS];
    uint8_t upper_nh;        /* protocol of what follows the walked headers */
    uint32_t upper_nh_field; /* offset of the byte that names it (the pointer for a Parameter Problem) */
    uint32_t upper;          /* offset of the upper layer */
    uint32_t upper_len;
} mip6_ip6_view_t;

/* Walks buf[0..len): the whole buffer must be one IPv6 packet (no trailing bytes). */
MIP6_API int mip6_ip6_walk(const uint8_t *buf, size_t len, mip6_ip6_view_t *v, mip6_err_t *err);

/* The source and destination the end points see, for upper-layer checksums (RFC 6275 §6.3, §6.4):
 * the Home Address option's address replaces the source, the Type 2 routing header's the destination. */
MIP6_API const uint8_t *mip6_ip6_pseudo_src(const uint8_t *buf, const mip6_ip6_view_t *v);
MIP6_API const uint8_t *mip6_ip6_pseudo_dst(const uint8_t *buf, const mip6_ip6_view_t *v);

/* Byte offset of the checksum field inside an upper-layer header this library checksums (ICMPv6, MH,
 * UDP, TCP), or -1 for any other protocol. */
MIP6_API int mip6_upper_csum_offset(uint8_t next_header);

/* Verifies the upper-layer checksum of a walked packet when the upper layer is ICMPv6 or MH. */
MIP6_API int mip6_ip6_verify_checksum(const uint8_t *buf, const mip6_ip6_view_t *v, mip6_err_t *err);

/* What to build. Pointers may be NULL for absent parts. Option data pointers are the caller's. */
typedef struct mip6_ip6_spec {
    uint8_t traffic_class;
    uint32_t flow_label;
    uint8_t hop_limit;
    const uint8_t *src, *dst;
    int has_hbh;
    uint8_t n_hbh_opts;
    uint8_t hbh_type[MIP6_MAX_IP6_OPTS], hbh_len[MIP6_MAX_IP6_OPTS];
    const uint8_t *hbh_data[MIP6_MAX_IP6_OPTS];
    const uint8_t *rh2;       /* the home address carried in a Type 2 routing header */
    const uint8_t *hao;       /* the home address carried in a Home Address option */
    int has_dstopts;          /* a destination options header even without a HAO */
    uint8_t n_dst_opts;
    uint8_t dst_type[MIP6_MAX_IP6_OPTS], dst_len[MIP6_MAX_IP6_OPTS];
    const uint8_t *dst_data[MIP6_MAX_IP6_OPTS];
    uint8_t next_header;
} mip6_ip6_spec_t;

/* Size of the headers mip6_ip6_build will write before the payload. */
MIP6_API size_t mip6_ip6_headers_len(const mip6_ip6_spec_t *s);

/* Writes headers + payload into out and, for ICMPv6 and MH payloads, the checksum. Returns the length
 * written or MIP6_ESPACE / MIP6_EINVAL (payload over 65535 bytes, an option too long). */
MIP6_API int mip6_ip6_build(const mip6_ip6_spec_t *s, const uint8_t *payload, size_t payload_len,
                            uint8_t *out, size_t cap, mip6_err_t *err);

#endif
