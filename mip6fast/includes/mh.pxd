# Declarations of csrc/mip6_mh.h: the Mobility Header codec (RFC 6275 §6.1-6.2, RFC 4283, RFC 4285).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from common cimport mip6_err_t

cdef extern from "mip6_mh.h":
    enum:
        MIP6_MH_PAYLOAD_PROTO
        MIP6_MH_COMMON_LEN
        MIP6_MH_MAX_LEN
        MIP6_MH_MAX_OPTIONS

    enum:
        MIP6_MH_BRR
        MIP6_MH_HOTI
        MIP6_MH_COTI
        MIP6_MH_HOT
        MIP6_MH_COT
        MIP6_MH_BU
        MIP6_MH_BA
        MIP6_MH_BE
        MIP6_MH_HAS
        MIP6_MH_HAS_MAX_ADDRESSES

    enum:
        MIP6_MHOPT_PAD1
        MIP6_MHOPT_PADN
        MIP6_MHOPT_BRA
        MIP6_MHOPT_ALTCOA
        MIP6_MHOPT_NONCE
        MIP6_MHOPT_BAD
        MIP6_MHOPT_MNID
        MIP6_MHOPT_AUTH
        MIP6_MHOPT_MESGID

    ctypedef struct mip6_mh_opt_t:
        uint8_t type
        uint8_t len
        uint16_t offset
        uint16_t value[2]
        uint8_t subtype
        uint32_t spi
        uint64_t timestamp
        const uint8_t *data

    ctypedef struct mip6_mh_t:
        uint8_t mh_type
        uint8_t header_len
        uint16_t checksum
        uint8_t status
        uint16_t flags
        uint16_t sequence
        uint16_t lifetime
        uint16_t nonce_index
        const uint8_t *cookie
        const uint8_t *keygen_token
        const uint8_t *home_address
        uint8_t n_addresses
        const uint8_t *addresses
        const uint8_t *body
        size_t body_len
        size_t n_options
        mip6_mh_opt_t options[32]  # MIP6_MH_MAX_OPTIONS (Cython needs the literal here)

    size_t mip6_mh_body_min(uint8_t mh_type) nogil
    int mip6_mh_parse(const uint8_t *buf, size_t len, mip6_mh_t *out, mip6_err_t *err) nogil
    int mip6_mh_build(const mip6_mh_t *msg, uint8_t *out, size_t cap, mip6_err_t *err) nogil
