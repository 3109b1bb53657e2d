# Declarations of csrc/mip6_icmp6.h: the ICMPv6 / neighbour-discovery codec.
from libc.stdint cimport int16_t, uint8_t, uint16_t, uint32_t

from common cimport mip6_err_t

cdef extern from "mip6_icmp6.h":
    int MIP6_ICMP6_MAX_OPTIONS
    unsigned int MIP6_ND_OPT_MAX_DATA

    ctypedef struct mip6_icmp6_span_t:
        size_t off
        size_t len
        const uint8_t *ptr

    ctypedef struct mip6_nd_prefix_info_t:
        uint8_t prefix_length
        uint8_t flags
        uint32_t valid_lifetime
        uint32_t preferred_lifetime
        uint8_t prefix[16]

    ctypedef struct mip6_nd_ha_info_t:
        int16_t preference
        uint16_t lifetime

    ctypedef union mip6_nd_opt_value_t:
        mip6_icmp6_span_t data
        mip6_nd_prefix_info_t prefix
        uint32_t mtu
        uint32_t adv_interval
        mip6_nd_ha_info_t ha_info

    ctypedef struct mip6_nd_opt_t:
        uint8_t type
        uint8_t length
        size_t offset
        mip6_nd_opt_value_t v

    ctypedef struct mip6_icmp6_t:
        uint8_t type
        uint8_t code
        uint8_t cur_hop_limit
        uint16_t flags
        uint16_t identifier
        uint16_t sequence
        uint16_t router_lifetime
        uint32_t mtu
        uint32_t pointer
        uint32_t reachable_time
        uint32_t retrans_timer
        uint8_t target[16]
        mip6_icmp6_span_t data
        size_t n_options
        mip6_nd_opt_t options[64]

    int mip6_icmp6_has_options(uint8_t type) nogil
    int mip6_icmp6_parse(const uint8_t *buf, size_t len, mip6_icmp6_t *out, mip6_err_t *err) nogil
    size_t mip6_icmp6_build_len(const mip6_icmp6_t *inp) nogil
    int mip6_icmp6_build(const mip6_icmp6_t *inp, uint8_t *out, size_t cap, mip6_err_t *err) nogil
