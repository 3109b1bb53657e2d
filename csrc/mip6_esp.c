/* The header walk around ESP; see mip6_esp.h. */
#include "mip6_esp.h"

#define NH_HOP_BY_HOP 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_ESP 50
#define NH_DEST_OPTS 60
#define OPT_PAD1 0
#define OPT_HOME_ADDRESS 201
#define IPV6_HEADER 40
#define ESP_HEADER 8

typedef struct {
    uint8_t kind;        /* the next header value that announced it */
    uint32_t offset;
    uint32_t hao;        /* offset of a Home Address option's address, 0 if none */
    uint32_t final;      /* offset of a Type 2 routing header's address with segments left 1, 0 if none */
} esp_header_t;

/* One Destination Options header at off (length bytes): the Home Address option's address offset. */
static int esp_dest_options(const uint8_t *p, uint32_t off, uint32_t length, uint32_t *hao, mip6_err_t *err)
{
    uint32_t i = off + 2, end = off + length;
    *hao = 0;
    while (i < end) {
        if (p[i] == OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > end || i + 2 + p[i + 1] > end)
            return mip6_fail(err, MIP6_EPARSE, "destination_option", i, "option runs past its header");
        if (p[i] == OPT_HOME_ADDRESS) {
            if (p[i + 1] != 16 || *hao)
                return mip6_fail(err, MIP6_EPARSE, "home_address", i,
                                 "Home Address option: wrong length or a second one");
            *hao = i + 2;
        }
        i += 2u + p[i + 1];
    }
    return MIP6_OK;
}

int mip6_esp_layout(const uint8_t *p, size_t len, unsigned flags, mip6_esp_layout_t *out, mip6_err_t *err)
{
    esp_header_t h[MIP6_ESP_MAX_HEADERS];
    unsigned n = 0, keep, i;
    int fragment = 0, have_hao = 0;

    if (len < IPV6_HEADER)
        return mip6_fail(err, MIP6_EPARSE, "length", 0, "shorter than an IPv6 header");
    if (p[0] >> 4 != 6)
        return mip6_fail(err, MIP6_EPARSE, "version", 0, "not IPv6");
    uint32_t plen = mip6_get16(p + 4);
    if (plen == 0)
        return mip6_fail(err, MIP6_EPARSE, "payload_length", 4,
                         "payload length 0 (a jumbogram or an empty packet): not protected by ESP here");
    if (len > 0xFFFFu + IPV6_HEADER || IPV6_HEADER + plen != len)
        return mip6_fail(err, MIP6_EPARSE, "payload_length", 4,
                         "payload length does not match the bytes after the IPv6 header");

    uint8_t nh = p[6];
    uint32_t off = IPV6_HEADER;
    while (nh == NH_HOP_BY_HOP || nh == NH_ROUTING || nh == NH_DEST_OPTS || nh == NH_FRAGMENT) {
        uint32_t length, hao = 0, final = 0;
        if (nh == NH_HOP_BY_HOP && n)
            return mip6_fail(err, MIP6_EPARSE, "next_header", off, "Hop-by-Hop options header: only right after IPv6");
        if (n == MIP6_ESP_MAX_HEADERS)
            return mip6_fail(err, MIP6_EPARSE, "next_header", off, "more than 8 extension headers");
        if (off + 8 > len)
            return mip6_fail(err, MIP6_EPARSE, "extension_header", off, "extension header is truncated");
        if (nh == NH_FRAGMENT) {
            length = 8;
            fragment = 1;
        } else {
            length = (p[off + 1] + 1u) * 8u;
        }
        if (off + length > len)
            return mip6_fail(err, MIP6_EPARSE, "extension_header", off, "extension header runs past the packet");
        if (nh == NH_DEST_OPTS) {
            int rc = esp_dest_options(p, off, length, &hao, err);
            if (rc != MIP6_OK)
                return rc;
            if (hao && have_hao)
                return mip6_fail(err, MIP6_EPARSE, "home_address", off, "a second Home Address option");
            have_hao |= hao != 0;
        } else if (nh == NH_ROUTING) {
            uint8_t rtype = p[off + 2], segments_left = p[off + 3];
            if (rtype == 2) {
                if (length != 24 || segments_left > 1)
                    return mip6_fail(err, MIP6_EPARSE, "routing_header", off,
                                     "Type 2 routing header: length or segments left");
                if (segments_left == 1)
                    final = off + 8;
            } else if (segments_left) {
                return mip6_fail(err, MIP6_EPARSE, "routing_header", off,
                                 "routing header with segments left: not at its final destination yet");
            }
        }
        h[n].kind = nh;
        h[n].offset = off;
        h[n].hao = hao;
        h[n].final = final;
        n++;
        nh = p[off];
        off += length;
    }

    if (flags & MIP6_ESP_UNPROTECT) {
        if (fragment)
            return mip6_fail(err, MIP6_EPARSE, "fragment", 0,
                             "a fragment: reassemble before ESP processing (RFC 4303 §3.4.1)");
        if (nh != NH_ESP)
            return mip6_fail(err, MIP6_EPARSE, "esp", off, "no ESP header");
        if (off + ESP_HEADER > len)
            return mip6_fail(err, MIP6_EPARSE, "esp", off, "ESP header is truncated");
        keep = n;
        out->at = off;
    } else {
        if (fragment)
            return mip6_fail(err, MIP6_EPARSE, "fragment", 0,
                             "a fragment: ESP is applied to whole packets, before fragmentation");
        if (flags & MIP6_ESP_TUNNEL) {
            keep = n;
        } else {
            keep = 0;
            for (i = 0; i < n; i++) {
                if (h[i].kind == NH_DEST_OPTS && !h[i].hao) {
                    int routing_later = 0;
                    for (unsigned j = i + 1; j < n; j++)
                        routing_later |= h[j].kind == NH_ROUTING;
                    if (!routing_later)
                        break;   /* end-to-end options: inside ESP */
                }
                keep = i + 1;
            }
        }
        out->at = keep < n ? h[keep].offset : off;
    }
    out->nh_at = keep ? h[keep - 1].offset : 6;
    out->next_header = p[out->nh_at];
    out->src = 8;
    out->dst = 24;
    for (i = 0; i < keep; i++) {
        if (h[i].hao)
            out->src = h[i].hao;
        if (h[i].final)
            out->dst = h[i].final;
    }
    return MIP6_OK;
}

int mip6_esp_trailer(const uint8_t *plaintext, size_t len, size_t *data_len, uint8_t *next_header, mip6_err_t *err)
{
    if (len < 2)
        return mip6_fail(err, MIP6_EPARSE, "padding", 0, "no room for the pad length and next header");
    size_t pad = plaintext[len - 2];
    if (pad + 2 > len)
        return mip6_fail(err, MIP6_EPARSE, "padding", len - 2, "pad length runs past the payload");
    size_t start = len - 2 - pad;
    for (size_t i = 0; i < pad; i++)
        if (plaintext[start + i] != (uint8_t)(i + 1))
            return mip6_fail(err, MIP6_EPARSE, "padding", start + i, "padding bytes are not 1, 2, 3, ...");
    *data_len = start;
    *next_header = plaintext[len - 1];
    return MIP6_OK;
}

int mip6_esp_splice(const uint8_t *p, size_t at, size_t nh_at, uint8_t next_header, const uint8_t *a,
                    size_t a_len, const uint8_t *b, size_t b_len, uint8_t *out, mip6_err_t *err)
{
    if (at < IPV6_HEADER || nh_at >= at)
        return mip6_fail(err, MIP6_EINVAL, "at", at, "ESP goes after the IPv6 header and the byte naming it");
    size_t payload = at - IPV6_HEADER + a_len + b_len;
    if (payload > 0xFFFFu)
        return mip6_fail(err, MIP6_EINVAL, "payload_length", 4, "more than 65,535 bytes of payload");
    memcpy(out, p, at);
    if (a_len)
        memcpy(out + at, a, a_len);
    if (b_len)
        memcpy(out + at + a_len, b, b_len);
    out[nh_at] = next_header;
    mip6_put16(out + 4, (uint16_t)payload);
    return MIP6_OK;
}
