/* Internet checksum (RFC 1071) over IPv6 (RFC 8200 §8.1 pseudo-header), and incremental update
 * (RFC 1624) for address rewrites on the data path. */
#ifndef MIP6_CHECKSUM_H
#define MIP6_CHECKSUM_H

#include "mip6_common.h"

/* Adds len bytes at buf to a running 64-bit accumulator, summing in the machine's byte order (the
 * ones'-complement sum is byte-order independent up to one final swap, RFC 1071 §2(B)). Only the last
 * chunk of a checksummed range may have odd length. */
MIP6_API uint64_t mip6_csum_add(uint64_t acc, const void *buf, size_t len);

/* Folds an accumulator to the 16-bit ones'-complement sum, as a host-order value of the big-endian
 * 16-bit word (not complemented). */
MIP6_API uint16_t mip6_csum_fold(uint64_t acc);

/* The IPv6 pseudo-header (source, destination, 32-bit upper-layer length, next header) as an
 * accumulator to continue with mip6_csum_add over the upper-layer bytes. */
MIP6_API uint64_t mip6_csum_pseudo(const uint8_t src[16], const uint8_t dst[16], uint32_t upper_len,
                                   uint8_t next_header);

/* The checksum to store (big-endian) in an upper-layer header whose checksum field is zero, or the
 * verification result over a header that carries its checksum: 0 means correct. */
MIP6_API uint16_t mip6_csum_upper(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
                                  const uint8_t *data, size_t len);

/* RFC 1624 eqn. 3: the new checksum after bytes old[0..len) of the covered data became new[0..len).
 * len must be even and the bytes 16-bit aligned within the checksummed range. */
MIP6_API uint16_t mip6_csum_replace(uint16_t checksum, const uint8_t *old_bytes, const uint8_t *new_bytes,
                                    size_t len);

#endif
