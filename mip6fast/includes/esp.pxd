from libc.stdint cimport uint8_t, uint32_t

from common cimport mip6_err_t

cdef extern from "mip6_esp.h" nogil:
    unsigned MIP6_ESP_UNPROTECT
    unsigned MIP6_ESP_TUNNEL

    ctypedef struct mip6_esp_layout_t:
        uint32_t at
        uint32_t nh_at
        uint8_t next_header
        uint32_t src
        uint32_t dst

    int mip6_esp_layout(const uint8_t *p, size_t len, unsigned flags, mip6_esp_layout_t *out, mip6_err_t *err)
    int mip6_esp_trailer(const uint8_t *plaintext, size_t len, size_t *data_len, uint8_t *next_header,
                         mip6_err_t *err)
    int mip6_esp_splice(const uint8_t *p, size_t at, size_t nh_at, uint8_t next_header, const uint8_t *a,
                        size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, mip6_err_t *err)
