/* Shared conventions of the plain-C core: error reporting and byte-order helpers.
 * No Python headers anywhere under csrc/. */
#ifndef MIP6_COMMON_H
#define MIP6_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MIP6_API __attribute__((visibility("default")))

/* Return codes. Parsers return MIP6_OK or MIP6_EPARSE; builders return the number of bytes written
 * (>= 0) or one of the negative codes. */
#define MIP6_OK      0
#define MIP6_EPARSE (-1) /* input is malformed: err says which field, where and why */
#define MIP6_ESPACE (-2) /* output buffer too small */
#define MIP6_EINVAL (-3) /* builder was handed a value the wire cannot carry: err says which */

/* Where a parse went wrong. field and reason are static strings; offset counts bytes from the start of
 * the buffer handed to the parser. Python raises ParseError(reason, field, offset) from it. */
typedef struct mip6_err {
    const char *field;
    const char *reason;
    uint32_t offset;
} mip6_err_t;

static inline int mip6_fail(mip6_err_t *err, int code, const char *field, size_t offset, const char *reason)
{
    if (err) {
        err->field = field;
        err->reason = reason;
        err->offset = (uint32_t)offset;
    }
    return code;
}

/* Big-endian loads and stores through bytes: no alignment assumptions, no strict-aliasing games. */
static inline uint16_t mip6_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t mip6_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t mip6_get64(const uint8_t *p)
{
    return ((uint64_t)mip6_get32(p) << 32) | (uint64_t)mip6_get32(p + 4);
}
static inline void mip6_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void mip6_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void mip6_put64(uint8_t *p, uint64_t v)
{
    mip6_put32(p, (uint32_t)(v >> 32));
    mip6_put32(p + 4, (uint32_t)v);
}

#endif
