#include "mip6_checksum.h"

/* Native-order 32-bit loads into 64-bit accumulators: 2^32 additions before any carry could be lost,
 * far beyond a 64 KiB packet. Four independent accumulators let the CPU add in parallel; gcc
 * vectorises the 32-byte body at -O3. memcpy keeps the loads legal at any alignment. */
uint64_t mip6_csum_add(uint64_t acc, const void *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t a0 = acc, a1 = 0, a2 = 0, a3 = 0;
    uint32_t w[8];

    while (len >= 32) {
        memcpy(w, p, 32);
        a0 += (uint64_t)w[0] + w[4];
        a1 += (uint64_t)w[1] + w[5];
        a2 += (uint64_t)w[2] + w[6];
        a3 += (uint64_t)w[3] + w[7];
        p += 32;
        len -= 32;
    }
    while (len >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        a0 += v;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        a1 += v;
        p += 2;
        len -= 2;
    }
    if (len) {
        /* The odd last byte is the high byte of a big-endian word padded with zero (RFC 1071 §4.1):
         * in native order that is the byte at the lower address of a 16-bit load. */
        uint8_t pad[2] = {p[0], 0};
        uint16_t v;
        memcpy(&v, pad, 2);
        a2 += v;
    }
    /* Sum the lanes with end-around carry so nothing overflows 64 bits. */
    uint64_t s = a0;
    uint64_t t[3] = {a1, a2, a3};
    for (int i = 0; i < 3; i++) {
        s += t[i];
        if (s < t[i])
            s++;
    }
    return s;
}

uint16_t mip6_csum_fold(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffu) + (acc >> 16);
    acc = (acc & 0xffffu) + (acc >> 16);
    uint16_t native = (uint16_t)acc;
    /* Back to the value of the big-endian word: read the two bytes as stored. */
    uint8_t b[2];
    memcpy(b, &native, 2);
    return mip6_get16(b);
}

uint64_t mip6_csum_pseudo(const uint8_t src[16], const uint8_t dst[16], uint32_t upper_len, uint8_t next_header)
{
    uint8_t tail[8] = {0};
    mip6_put32(tail, upper_len);
    tail[7] = next_header;
    uint64_t acc = mip6_csum_add(0, src, 16);
    acc = mip6_csum_add(acc, dst, 16);
    return mip6_csum_add(acc, tail, 8);
}

uint16_t mip6_csum_upper(const uint8_t src[16], const uint8_t dst[16], uint8_t next_header,
                         const uint8_t *data, size_t len)
{
    uint64_t acc = mip6_csum_pseudo(src, dst, (uint32_t)len, next_header);
    acc = mip6_csum_add(acc, data, len);
    return (uint16_t)~mip6_csum_fold(acc);
}

uint16_t mip6_csum_replace(uint16_t checksum, const uint8_t *old_bytes, const uint8_t *new_bytes, size_t len)
{
    /* HC' = ~(~HC + ~m + m') summed over every 16-bit word that changed (RFC 1624 §3). */
    uint32_t sum = (uint16_t)~checksum;
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint16_t)~mip6_get16(old_bytes + i);
        sum += mip6_get16(new_bytes + i);
    }
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}
