from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "mip6_checksum.h" nogil:
    uint64_t mip6_csum_add(uint64_t acc, const void *buf, size_t len)
    uint16_t mip6_csum_fold(uint64_t acc)
    uint64_t mip6_csum_pseudo(const uint8_t *src, const uint8_t *dst, uint32_t upper_len, uint8_t next_header)
    uint16_t mip6_csum_upper(const uint8_t *src, const uint8_t *dst, uint8_t next_header,
                             const uint8_t *data, size_t len)
    uint16_t mip6_csum_replace(uint16_t checksum, const uint8_t *old_bytes, const uint8_t *new_bytes, size_t len)
