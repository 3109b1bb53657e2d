from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t
from common cimport mip6_err_t

cdef extern from "mip6_ip6.h" nogil:
    int MIP6_MAX_IP6_OPTS
    int MIP6_IP6_HLEN

    ctypedef struct mip6_ip6_opt_t:
        uint8_t type
        uint8_t len
        uint32_t data

    ctypedef struct mip6_ip6_view_t:
        uint8_t traffic_class
        uint32_t flow_label
        uint8_t hop_limit
        uint16_t payload_length
        int32_t hbh
        int32_t rh2
        int32_t dstopts
        int32_t hao
        uint8_t n_hbh_opts
        uint8_t n_dst_opts
        mip6_ip6_opt_t hbh_opts[16]
        mip6_ip6_opt_t dst_opts[16]
        uint8_t upper_nh
        uint32_t upper_nh_field
        uint32_t upper
        uint32_t upper_len

    ctypedef struct mip6_ip6_spec_t:
        uint8_t traffic_class
        uint32_t flow_label
        uint8_t hop_limit
        const uint8_t *src
        const uint8_t *dst
        int has_hbh
        uint8_t n_hbh_opts
        uint8_t hbh_type[16]
        uint8_t hbh_len[16]
        const uint8_t *hbh_data[16]
        const uint8_t *rh2
        const uint8_t *hao
        int has_dstopts
        uint8_t n_dst_opts
        uint8_t dst_type[16]
        uint8_t dst_len[16]
        const uint8_t *dst_data[16]
        uint8_t next_header

    int mip6_ip6_walk(const uint8_t *buf, size_t len, mip6_ip6_view_t *v, mip6_err_t *err)
    int mip6_ip6_verify_checksum(const uint8_t *buf, const mip6_ip6_view_t *v, mip6_err_t *err)
    int mip6_upper_csum_offset(uint8_t next_header)
    size_t mip6_ip6_headers_len(const mip6_ip6_spec_t *s)
    int mip6_ip6_build(const mip6_ip6_spec_t *s, const uint8_t *payload, size_t payload_len,
                       uint8_t *out, size_t cap, mip6_err_t *err)
