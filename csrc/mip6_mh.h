/* Mobility Header codec (RFC 6275 §6.1-6.2): a parser that fills a fixed-size struct without copying,
 * and a builder that lays a message out with canonical padding. Plain C11, no Python headers.
 *
 * The contract (check order, error fields and offsets, padding, limits) is docs/CODEC.md, "mh". */
#ifndef MIP6_MH_H
#define MIP6_MH_H

#include "mip6_common.h"

#define MIP6_MH_NEXT_HEADER   135  /* IPv6 next-header value of the Mobility Header (RFC 6275 §6.1.1) */
#define MIP6_MH_PAYLOAD_PROTO 59   /* IPPROTO_NONE: the only Payload Proto RFC 6275 §6.1.1 allows */
#define MIP6_MH_COMMON_LEN    6    /* payload proto, header len, MH type, reserved, checksum */
#define MIP6_MH_MAX_LEN       2048 /* (255 + 1) * 8: the 8-bit Header Len field's ceiling */
#define MIP6_MH_MAX_OPTIONS   32   /* non-padding options kept per message (docs/CODEC.md "Limits") */

/* MH types, RFC 6275 §6.1.2-§6.1.9. */
enum mip6_mh_type {
    MIP6_MH_BRR  = 0, /* Binding Refresh Request */
    MIP6_MH_HOTI = 1, /* Home Test Init */
    MIP6_MH_COTI = 2, /* Care-of Test Init */
    MIP6_MH_HOT  = 3, /* Home Test */
    MIP6_MH_COT  = 4, /* Care-of Test */
    MIP6_MH_BU   = 5, /* Binding Update */
    MIP6_MH_BA   = 6, /* Binding Acknowledgement */
    MIP6_MH_BE   = 7, /* Binding Error */
    MIP6_MH_HAS  = 12 /* Home Agent Switch (RFC 5142 §5.2) */
};

/* RFC 5142 §5.2: the most home agent addresses a Home Agent Switch message can carry within
 * MIP6_MH_MAX_LEN (6 + 2 + 16 * 127 = 2040 bytes). */
#define MIP6_MH_HAS_MAX_ADDRESSES 127

/* Mobility option types: RFC 6275 §6.2.2-§6.2.7, and the IANA "Mobility Options" registry
 * (mobility-parameters) entries 8 MN-ID-OPTION-TYPE [RFC4283] (RFC 4283 §3: "assigned value 8 by the
 * IANA"), 9 AUTH-OPTION-TYPE [RFC4285] (§5) and 10 MESG-ID-OPTION-TYPE [RFC4285] (§6). */
enum mip6_mh_opt_type {
    MIP6_MHOPT_PAD1   = 0,
    MIP6_MHOPT_PADN   = 1,
    MIP6_MHOPT_BRA    = 2,  /* Binding Refresh Advice, length 2, alignment 2n */
    MIP6_MHOPT_ALTCOA = 3,  /* Alternate Care-of Address, length 16, alignment 8n+6 */
    MIP6_MHOPT_NONCE  = 4,  /* Nonce Indices, length 4, alignment 2n */
    MIP6_MHOPT_BAD    = 5,  /* Binding Authorization Data, length 12, alignment 8n+2, last option */
    MIP6_MHOPT_MNID   = 8,  /* Mobile Node Identifier: subtype (1) + identifier, length >= 2, no alignment */
    MIP6_MHOPT_AUTH   = 9,  /* Mobility Message Authentication: subtype (1), Mobility SPI (4), authentication
                             * data; length >= 6, alignment 4n+1 (the SPI lands 4-aligned), last option(s) */
    MIP6_MHOPT_MESGID = 10  /* Mobility Message Replay Protection: 64-bit timestamp, length 8, 8n+2 */
};

/* Mobile Node Identifier subtypes (RFC 4283 §3.1) and Mobility Message Authentication subtypes
 * (RFC 4285 §5.1, §5.2). The codec carries any subtype; these are for readers. */
#define MIP6_MNID_SUBTYPE_NAI    1
#define MIP6_AUTH_SUBTYPE_MN_HA  1
#define MIP6_AUTH_SUBTYPE_MN_AAA 2

/* Flag bits the raw form keeps; everything else in those words is reserved (RFC 6275 §6.1.7, §6.1.8). */
#define MIP6_MH_BU_FLAG_A 0x8000u
#define MIP6_MH_BU_FLAG_H 0x4000u
#define MIP6_MH_BU_FLAG_L 0x2000u
#define MIP6_MH_BU_FLAG_K 0x1000u
#define MIP6_MH_BU_FLAGS  0xF000u
#define MIP6_MH_BA_FLAG_K 0x80u
#define MIP6_MH_BA_FLAGS  0x80u

/* One non-padding mobility option. Its data (the len bytes after type and length) is a fixed head of
 * typed fields, then a variable tail that data points to. The head is BRA 2, Nonce Indices 4, replay
 * protection 8 (all fields, no tail), Mobile Node Identifier 1 (subtype; the tail is the identifier),
 * Mobility Message Authentication 5 (subtype, SPI; the tail is the authentication data), and 0 for every
 * other type (the tail is all the data). Parse fills the fields and data; build reads them. */
typedef struct mip6_mh_opt {
    uint8_t type;
    uint8_t len;           /* the Option Length byte: data bytes after type and length */
    uint16_t offset;       /* parse: offset of the type byte from the MH start. build: ignored */
    uint16_t value[2];     /* BRA: value[0] = refresh interval (4 s units). Nonce Indices: value[0] home,
                            * value[1] care-of nonce index */
    uint8_t subtype;       /* Mobile Node Identifier, Mobility Message Authentication */
    uint32_t spi;          /* Mobility Message Authentication: Mobility SPI */
    uint64_t timestamp;    /* Mobility Message Replay Protection: 64-bit NTP-format timestamp */
    const uint8_t *data;   /* the len - head tail bytes (parse: pointing into the parsed buffer) */
} mip6_mh_opt_t;

/* One Mobility Header message. Which body members carry meaning depends on mh_type (RFC 6275 §6.1.2-
 * §6.1.9); the others are left zero / NULL by the parser and ignored by the builder. Pointers are
 * zero-copy: after a parse they point into the parsed buffer, which must outlive the struct. */
typedef struct mip6_mh {
    uint8_t mh_type;
    uint8_t header_len;            /* parse: as found. build: ignored, computed */
    uint16_t checksum;             /* parse: as found (verified by the packet layer). build: written 0 */
    uint8_t status;                /* BA, BE */
    uint16_t flags;                /* BU: A H L K (MIP6_MH_BU_FLAGS). BA: K (MIP6_MH_BA_FLAGS) */
    uint16_t sequence;             /* BU, BA */
    uint16_t lifetime;             /* BU, BA: units of 4 seconds */
    uint16_t nonce_index;          /* HoT, CoT */
    const uint8_t *cookie;         /* HoTI, CoTI, HoT, CoT: 8 bytes */
    const uint8_t *keygen_token;   /* HoT, CoT: 8 bytes */
    const uint8_t *home_address;   /* BE: 16 bytes */
    uint8_t n_addresses;           /* HAS: # of Addresses */
    const uint8_t *addresses;      /* HAS: n_addresses * 16 bytes, the home agent addresses */
    const uint8_t *body;           /* unknown type: every byte after the common part */
    size_t body_len;
    size_t n_options;
    mip6_mh_opt_t options[MIP6_MH_MAX_OPTIONS];
} mip6_mh_t;

/* Bytes of fixed body after the common part that a known type needs (RFC 6275 §9.2: a shorter Header
 * Len is an error); 0 for an unknown type, whose body is opaque. */
MIP6_API size_t mip6_mh_body_min(uint8_t mh_type);

/* Parse one whole Mobility Header of len bytes. Returns MIP6_OK, or MIP6_EPARSE with err filled.
 * Never reads outside buf[0, len); buf may be NULL when len is 0. */
MIP6_API int mip6_mh_parse(const uint8_t *buf, size_t len, mip6_mh_t *out, mip6_err_t *err);

/* Build *in into out[0, cap). Returns the number of bytes written (a multiple of 8), MIP6_ESPACE when
 * cap is too small (nothing written), or MIP6_EINVAL with err->field naming the value the wire cannot
 * carry. Checksum and reserved bytes are written as zero; padding is canonical (Pad1 for one byte,
 * PadN otherwise, RFC 6275 §6.2.1-§6.2.3). */
MIP6_API int mip6_mh_build(const mip6_mh_t *in, uint8_t *out, size_t cap, mip6_err_t *err);

#endif
