/* Where ESP goes in an IPv6 packet, and where it is in a received one (RFC 4303 §3.1, RFC 6275 §6.3):
 * the header walk that mip6fast/security/esp.py does before and after the cipher, in C so that a
 * protected Binding Update costs little more than its cryptography. No cryptography here: the keys
 * and transforms stay in Python, on the `cryptography` package.
 *
 * The walk covers the IPv6 header and the Hop-by-Hop, Routing, Destination Options and Fragment
 * headers that follow it (at most MIP6_ESP_MAX_HEADERS), with the checks of the twin
 * (mip6fast/_esp_py.py, same fields, reasons and offsets):
 *   - IPv6: at least 40 bytes, version 6, payload length non-zero and equal to what follows;
 *   - Hop-by-Hop only first; every header inside the packet;
 *   - Destination Options: options inside their header; a Home Address option of length 16, at most
 *     one in the packet;
 *   - Routing: type 2 with length 24 and segments left 0 or 1 (1: its address is the final
 *     destination); any other type only with segments left 0.
 * Then, to protect: no Fragment header; in transport mode ESP goes after Hop-by-Hop, Routing and any
 * Destination Options header that carries a Home Address option or comes before a routing header (an
 * end-to-end Destination Options header goes inside ESP); in tunnel mode after every header. To
 * unprotect: no Fragment header, and the walk must end at ESP with a full 8-byte ESP header. */
#ifndef MIP6_ESP_H
#define MIP6_ESP_H

#include "mip6_common.h"

#define MIP6_ESP_MAX_HEADERS 8
#define MIP6_ESP_UNPROTECT 1u   /* flags: the packet is received (ESP must be there), else to protect */
#define MIP6_ESP_TUNNEL    2u   /* flags, protect only: tunnel mode (ESP after every header) */

typedef struct mip6_esp_layout {
    uint32_t at;          /* protect: where the ESP header goes; unprotect: where it is */
    uint32_t nh_at;       /* offset of the next header byte that names (or will name) ESP */
    uint8_t next_header;  /* protect: the next header ESP will carry; unprotect: 50 */
    uint32_t src;         /* offset of the source the upper layer sees (the Home Address option's
                           * address in a header before ESP, else the IPv6 source) */
    uint32_t dst;         /* offset of the destination it sees (a Type 2 routing header's address with
                           * segments left 1 before ESP, else the IPv6 destination) */
} mip6_esp_layout_t;

/* MIP6_OK and *out filled, or MIP6_EPARSE with err saying what and where (field "esp" with
 * MIP6_ESP_UNPROTECT: the packet is well formed but carries no ESP header). */
MIP6_API int mip6_esp_layout(const uint8_t *p, size_t len, unsigned flags, mip6_esp_layout_t *out,
                             mip6_err_t *err);

/* RFC 4303 §2.4: the trailer of a decrypted ESP payload, data | padding 1, 2, 3, ... | pad length |
 * next header. MIP6_OK with *data_len (the data's length) and *next_header, or MIP6_EPARSE (field
 * "padding") when the pad length runs past the payload or the padding bytes are not 1, 2, 3, ... */
MIP6_API int mip6_esp_trailer(const uint8_t *plaintext, size_t len, size_t *data_len, uint8_t *next_header,
                              mip6_err_t *err);

/* out = p[0:at] | a | b with out[nh_at] = next_header and the IPv6 Payload Length set to what out
 * carries: a packet with ESP inserted (a = ESP header, b = IV | ciphertext | ICV) or removed (a = the
 * decrypted data, b empty). out must hold at + a_len + b_len bytes. MIP6_EINVAL (err says which) when
 * at is inside the IPv6 header, nh_at is not before at, or the payload would exceed 65,535 bytes. */
MIP6_API int mip6_esp_splice(const uint8_t *p, size_t at, size_t nh_at, uint8_t next_header, const uint8_t *a,
                             size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, mip6_err_t *err);

#endif
