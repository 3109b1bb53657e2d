/* ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861 §4) codec, with the Mobile IPv6 additions of
 * RFC 6275 §6.5-6.8 (DHAAD 144/145, Mobile Prefix Solicitation/Advertisement 146/147) and §7 (RA H
 * flag, Prefix Information R flag, Advertisement Interval and Home Agent Information options).
 *
 * The parser fills a fixed-size mip6_icmp6_t: the fixed fields of the message type, up to
 * MIP6_ICMP6_MAX_OPTIONS neighbour-discovery options, and zero-copy spans into the input buffer for the
 * variable parts (invoking packet, echo data, DHAAD address list, unknown body, link-layer and unknown
 * option data). The builder writes the same struct back to bytes. The checksum is written as zero: it
 * covers the IPv6 pseudo-header (RFC 4443 §2.3), which only the packet layer knows.
 *
 * The contract (check order, error fields and offsets, raw forms) is docs/CODEC.md, section "icmp6".
 * No Python headers here. */
#ifndef MIP6_ICMP6_H
#define MIP6_ICMP6_H

#include "mip6_common.h"

/* Message types (RFC 4443 §2.1, RFC 4861 §4, RFC 6275 §6.5-6.8). */
#define MIP6_ICMP6_DST_UNREACH        1
#define MIP6_ICMP6_PACKET_TOO_BIG     2
#define MIP6_ICMP6_TIME_EXCEEDED      3
#define MIP6_ICMP6_PARAM_PROBLEM      4
#define MIP6_ICMP6_ECHO_REQUEST       128
#define MIP6_ICMP6_ECHO_REPLY         129
#define MIP6_ICMP6_ROUTER_SOLICIT     133
#define MIP6_ICMP6_ROUTER_ADVERT      134
#define MIP6_ICMP6_NEIGHBOR_SOLICIT   135
#define MIP6_ICMP6_NEIGHBOR_ADVERT    136
#define MIP6_ICMP6_DHAAD_REQUEST      144
#define MIP6_ICMP6_DHAAD_REPLY        145
#define MIP6_ICMP6_MOBILE_PREFIX_SOL  146
#define MIP6_ICMP6_MOBILE_PREFIX_ADV  147

/* Neighbour-discovery option types (RFC 4861 §4.6, RFC 6275 §7.3-7.4). */
#define MIP6_ND_OPT_SOURCE_LLADDR     1
#define MIP6_ND_OPT_TARGET_LLADDR     2
#define MIP6_ND_OPT_PREFIX_INFO       3
#define MIP6_ND_OPT_MTU               5
#define MIP6_ND_OPT_ADV_INTERVAL      7
#define MIP6_ND_OPT_HA_INFO           8

/* The defined flag bits; everything else in those bytes is reserved (zero on send, ignored on receipt). */
/* RA flags byte, kept whole: M 0x80, O 0x40 (RFC 4861 §4.2), H 0x20 (RFC 6275 §7.1), Prf 0x18
 * (RFC 4191 §2.2), P 0x04 (RFC 4389 §4.1), 0x03 reserved. */
#define MIP6_RA_FLAGS_MASK   0xFFu
#define MIP6_NA_FLAGS_MASK   0xE0u   /* R 0x80, S 0x40, O 0x20 (RFC 4861 §4.4) */
#define MIP6_MPA_FLAGS_MASK  0xC000u /* M 0x8000, O 0x4000 (RFC 6275 §6.8) */
#define MIP6_PI_FLAGS_MASK   0xE0u   /* L 0x80, A 0x40 (RFC 4861 §4.6.2), R 0x20 (RFC 6275 §7.2) */

/* Parser limit (docs/CODEC.md "Limits"): one more option is a ParseError. */
#define MIP6_ICMP6_MAX_OPTIONS 64
/* The length byte counts 8-octet units of the whole option (RFC 4861 §4.6): at most 255 * 8 bytes,
 * of which 2 are type and length. */
#define MIP6_ND_OPT_MAX_DATA   (255u * 8u - 2u)

/* A run of bytes. parse: off counts from the start of the parsed buffer and ptr = buf + off (NULL when
 * len is 0). build: only ptr and len are read. */
typedef struct mip6_icmp6_span {
    size_t off;
    size_t len;
    const uint8_t *ptr;
} mip6_icmp6_span_t;

/* Prefix Information (RFC 4861 §4.6.2, R flag RFC 6275 §7.2). */
typedef struct mip6_nd_prefix_info {
    uint8_t prefix_length;
    uint8_t flags;                 /* L A R, see MIP6_PI_FLAGS_MASK */
    uint32_t valid_lifetime;
    uint32_t preferred_lifetime;
    uint8_t prefix[16];
} mip6_nd_prefix_info_t;

/* Home Agent Information (RFC 6275 §7.4). */
typedef struct mip6_nd_ha_info {
    int16_t preference;
    uint16_t lifetime;
} mip6_nd_ha_info_t;

/* The value of one option; which member is live depends on the option type. */
typedef union mip6_nd_opt_value {
    mip6_icmp6_span_t data;        /* 1, 2 and unknown types: the bytes after type and length */
    mip6_nd_prefix_info_t prefix;  /* 3 */
    uint32_t mtu;                  /* 5 */
    uint32_t adv_interval;         /* 7, milliseconds */
    mip6_nd_ha_info_t ha_info;     /* 8 */
} mip6_nd_opt_value_t;

typedef struct mip6_nd_opt {
    uint8_t type;
    uint8_t length;                /* parse: the length byte (8-octet units); the builder computes it */
    size_t offset;                 /* parse: offset of the type byte; ignored by the builder */
    mip6_nd_opt_value_t v;
} mip6_nd_opt_t;

/* One ICMPv6 message. Only the fields of `type` are meaningful (the parser leaves the others as they
 * were; the builder does not read them). */
typedef struct mip6_icmp6 {
    uint8_t type;
    uint8_t code;
    uint8_t cur_hop_limit;         /* 134 */
    uint16_t flags;                /* 134: M O H byte; 136: R S O byte; 147: M O 16-bit word */
    uint16_t identifier;           /* 128, 129, 144-147 */
    uint16_t sequence;             /* 128, 129 */
    uint16_t router_lifetime;      /* 134, seconds */
    uint32_t mtu;                  /* 2 */
    uint32_t pointer;              /* 4 */
    uint32_t reachable_time;       /* 134, milliseconds */
    uint32_t retrans_timer;        /* 134, milliseconds */
    uint8_t target[16];            /* 135, 136 */
    /* 1-4: invoking packet; 128/129: echo data; 145: home agent addresses (len a multiple of 16);
     * unknown types: every byte after the 4-byte type/code/checksum. */
    mip6_icmp6_span_t data;
    size_t n_options;              /* 133, 134, 135, 136, 147 */
    mip6_nd_opt_t options[MIP6_ICMP6_MAX_OPTIONS];
} mip6_icmp6_t;

/* Nonzero when the type carries neighbour-discovery options. */
MIP6_API int mip6_icmp6_has_options(uint8_t type);

/* Parse one whole ICMPv6 message. MIP6_OK, or MIP6_EPARSE with err filled (docs/CODEC.md order). */
MIP6_API int mip6_icmp6_parse(const uint8_t *buf, size_t len, mip6_icmp6_t *out, mip6_err_t *err);

/* Bytes mip6_icmp6_build would write for `in` (not validated: an invalid message may still fail). */
MIP6_API size_t mip6_icmp6_build_len(const mip6_icmp6_t *in);

/* Write `in` to out[0..cap). Returns the byte count, MIP6_ESPACE when cap is too small, or MIP6_EINVAL
 * with err->field naming the value the wire cannot carry. Nothing is promised about out on failure. */
MIP6_API int mip6_icmp6_build(const mip6_icmp6_t *in, uint8_t *out, size_t cap, mip6_err_t *err);

#endif
