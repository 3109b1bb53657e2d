#include "mip6_ip6.h"

#include "mip6_checksum.h"

/* Walks the TLV options of a Hop-by-Hop or destination options header at buf[off..] (RFC 8200 §4.2),
 * checking every length against the header and the header against the packet. */
static int walk_options(const uint8_t *buf, size_t end, size_t off, int is_dst, mip6_ip6_view_t *v,
                        size_t *hdr_len, mip6_err_t *err)
{
    if (off + 8 > end)
        return mip6_fail(err, MIP6_EPARSE, "extension_header", off, "truncated extension header");
    size_t hlen = ((size_t)buf[off + 1] + 1) * 8;
    if (off + hlen > end)
        return mip6_fail(err, MIP6_EPARSE, "header_ext_len", off + 1, "extension header runs past the packet");

    mip6_ip6_opt_t *opts = is_dst ? v->dst_opts : v->hbh_opts;
    uint8_t *n = is_dst ? &v->n_dst_opts : &v->n_hbh_opts;
    size_t i = off + 2, hend = off + hlen;
    while (i < hend) {
        uint8_t t = buf[i];
        if (t == MIP6_OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > hend)
            return mip6_fail(err, MIP6_EPARSE, "option", i, "truncated option");
        uint8_t l = buf[i + 1];
        if (i + 2 + l > hend)
            return mip6_fail(err, MIP6_EPARSE, "option_length", i + 1, "option runs past its header");
        if (t == MIP6_OPT_PADN) {
            i += 2 + (size_t)l;
            continue;
        }
        if (is_dst && t == MIP6_OPT_HAO) {
            if (v->hao >= 0)
                return mip6_fail(err, MIP6_EPARSE, "home_address_option", i, "more than one Home Address option");
            if (l != 16)
                return mip6_fail(err, MIP6_EPARSE, "option_length", i + 1, "Home Address option length must be 16");
            /* RFC 6275 §6.3: 8n+6 alignment puts the address itself on an 8-octet boundary. */
            if ((i - off) % 8 != 6)
                return mip6_fail(err, MIP6_EPARSE, "option_alignment", i, "Home Address option not at 8n+6");
            v->hao = (int32_t)(i + 2);
        } else {
            if (!is_dst && t == 0xC2)
                return mip6_fail(err, MIP6_EPARSE, "option", i, "jumbo payload option not supported");
            if (*n == MIP6_MAX_IP6_OPTS)
                return mip6_fail(err, MIP6_EPARSE, "option", i, "too many options");
            opts[*n].type = t;
            opts[*n].len = l;
            opts[*n].data = (uint32_t)(i + 2);
            (*n)++;
        }
        i += 2 + (size_t)l;
    }
    *hdr_len = hlen;
    return MIP6_OK;
}

int mip6_ip6_walk(const uint8_t *buf, size_t len, mip6_ip6_view_t *v, mip6_err_t *err)
{
    v->hbh = v->rh2 = v->dstopts = v->hao = -1;
    v->n_hbh_opts = v->n_dst_opts = 0;
    if (len < MIP6_IP6_HLEN)
        return mip6_fail(err, MIP6_EPARSE, "ipv6_header", 0, "truncated IPv6 header");
    if ((buf[0] >> 4) != 6)
        return mip6_fail(err, MIP6_EPARSE, "version", 0, "not IPv6");
    v->traffic_class = (uint8_t)(((buf[0] & 0x0f) << 4) | (buf[1] >> 4));
    v->flow_label = ((uint32_t)(buf[1] & 0x0f) << 16) | ((uint32_t)buf[2] << 8) | buf[3];
    v->payload_length = mip6_get16(buf + 4);
    v->hop_limit = buf[7];
    if (v->payload_length == 0 && len > MIP6_IP6_HLEN)
        return mip6_fail(err, MIP6_EPARSE, "payload_length", 4, "zero payload length with data (jumbograms are not supported)");
    if (MIP6_IP6_HLEN + (size_t)v->payload_length > len)
        return mip6_fail(err, MIP6_EPARSE, "payload_length", 4, "payload length exceeds the packet");
    if (MIP6_IP6_HLEN + (size_t)v->payload_length < len)
        return mip6_fail(err, MIP6_EPARSE, "payload_length", 4, "bytes beyond the payload length");

    uint8_t nh = buf[6];
    size_t nh_field = 6, off = MIP6_IP6_HLEN;
    for (;;) {
        size_t hlen = 0;
        int rc;
        if (nh == MIP6_NH_HOPOPT) {
            if (off != MIP6_IP6_HLEN) /* RFC 8200 §4.1 */
                return mip6_fail(err, MIP6_EPARSE, "next_header", nh_field, "hop-by-hop options header not first");
            if ((rc = walk_options(buf, len, off, 0, v, &hlen, err)) != MIP6_OK)
                return rc;
            v->hbh = (int32_t)off;
        } else if (nh == MIP6_NH_ROUTING) {
            if (v->rh2 >= 0)
                return mip6_fail(err, MIP6_EPARSE, "next_header", nh_field, "more than one routing header");
            if (v->dstopts >= 0)
                return mip6_fail(err, MIP6_EPARSE, "next_header", nh_field, "routing header after the destination options header");
            if (off + 8 > len)
                return mip6_fail(err, MIP6_EPARSE, "routing_header", off, "truncated routing header");
            hlen = ((size_t)buf[off + 1] + 1) * 8;
            if (off + hlen > len)
                return mip6_fail(err, MIP6_EPARSE, "header_ext_len", off + 1, "routing header runs past the packet");
            if (buf[off + 2] == 0)
                return mip6_fail(err, MIP6_EPARSE, "routing_type", off + 2, "routing type 0 is deprecated (RFC 5095)");
            if (buf[off + 2] != MIP6_RH_TYPE2)
                return mip6_fail(err, MIP6_EPARSE, "routing_type", off + 2, "unsupported routing type");
            /* RFC 6275 §6.4: exactly one address, so length 2 and segments left 1. */
            if (buf[off + 1] != 2)
                return mip6_fail(err, MIP6_EPARSE, "header_ext_len", off + 1, "type 2 routing header length must be 2");
            if (buf[off + 3] != 1)
                return mip6_fail(err, MIP6_EPARSE, "segments_left", off + 3, "type 2 routing header must have segments left 1");
            v->rh2 = (int32_t)off;
        } else if (nh == MIP6_NH_DSTOPTS) {
            if (v->dstopts >= 0)
                return mip6_fail(err, MIP6_EPARSE, "next_header", nh_field, "more than one destination options header");
            if ((rc = walk_options(buf, len, off, 1, v, &hlen, err)) != MIP6_OK)
                return rc;
            v->dstopts = (int32_t)off;
        } else {
            break;
        }
        nh_field = off;
        nh = buf[off];
        off += hlen;
    }
    v->upper_nh = nh;
    v->upper_nh_field = (uint32_t)nh_field;
    v->upper = (uint32_t)off;
    v->upper_len = (uint32_t)(len - off);
    return MIP6_OK;
}

const uint8_t *mip6_ip6_pseudo_src(const uint8_t *buf, const mip6_ip6_view_t *v)
{
    return v->hao >= 0 ? buf + v->hao : buf + 8;
}

const uint8_t *mip6_ip6_pseudo_dst(const uint8_t *buf, const mip6_ip6_view_t *v)
{
    return v->rh2 >= 0 ? buf + v->rh2 + 8 : buf + 24;
}

int mip6_upper_csum_offset(uint8_t next_header)
{
    switch (next_header) {
    case MIP6_NH_ICMPV6: return 2;
    case MIP6_NH_MH: return 4;
    case MIP6_NH_UDP: return 6;
    case MIP6_NH_TCP: return 16;
    default: return -1;
    }
}

int mip6_ip6_verify_checksum(const uint8_t *buf, const mip6_ip6_view_t *v, mip6_err_t *err)
{
    if (v->upper_nh != MIP6_NH_ICMPV6 && v->upper_nh != MIP6_NH_MH)
        return MIP6_OK;
    uint16_t r = mip6_csum_upper(mip6_ip6_pseudo_src(buf, v), mip6_ip6_pseudo_dst(buf, v), v->upper_nh,
                                 buf + v->upper, v->upper_len);
    if (r != 0)
        return mip6_fail(err, MIP6_EPARSE, "checksum", v->upper + (uint32_t)mip6_upper_csum_offset(v->upper_nh),
                         "bad checksum");
    return MIP6_OK;
}

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

static size_t hbh_len(const mip6_ip6_spec_t *s)
{
    size_t n = 2;
    for (unsigned i = 0; i < s->n_hbh_opts; i++)
        n += 2 + (size_t)s->hbh_len[i];
    return round8(n);
}

/* With a HAO: PadN(2 data bytes) then the option, so its type byte sits at offset 6 (8n+6). */
static size_t dst_body_start(const mip6_ip6_spec_t *s) { return s->hao ? 24 : 2; }

static size_t dst_len(const mip6_ip6_spec_t *s)
{
    size_t n = dst_body_start(s);
    for (unsigned i = 0; i < s->n_dst_opts; i++)
        n += 2 + (size_t)s->dst_len[i];
    return round8(n);
}

static int want_dst(const mip6_ip6_spec_t *s) { return s->hao != NULL || s->has_dstopts; }

size_t mip6_ip6_headers_len(const mip6_ip6_spec_t *s)
{
    size_t n = MIP6_IP6_HLEN;
    if (s->has_hbh)
        n += hbh_len(s);
    if (s->rh2)
        n += 24;
    if (want_dst(s))
        n += dst_len(s);
    return n;
}

/* Pad1 for one byte, PadN otherwise (RFC 8200 §4.2). */
static void pad(uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    memset(p, 0, n);
    if (n >= 2) {
        p[0] = MIP6_OPT_PADN;
        p[1] = (uint8_t)(n - 2);
    }
}

static size_t put_opts(uint8_t *p, size_t pos, unsigned n, const uint8_t *type, const uint8_t *len,
                       const uint8_t *const *data)
{
    for (unsigned i = 0; i < n; i++) {
        p[pos] = type[i];
        p[pos + 1] = len[i];
        if (len[i])
            memcpy(p + pos + 2, data[i], len[i]);
        pos += 2 + (size_t)len[i];
    }
    return pos;
}

int mip6_ip6_build(const mip6_ip6_spec_t *s, const uint8_t *payload, size_t payload_len, uint8_t *out,
                   size_t cap, mip6_err_t *err)
{
    if (s->n_hbh_opts > MIP6_MAX_IP6_OPTS || s->n_dst_opts > MIP6_MAX_IP6_OPTS)
        return mip6_fail(err, MIP6_EINVAL, "option", 0, "too many options");
    for (unsigned i = 0; i < s->n_hbh_opts; i++)
        if (s->hbh_type[i] <= MIP6_OPT_PADN)
            return mip6_fail(err, MIP6_EINVAL, "hop_by_hop", i, "padding is not an option to pass");
    for (unsigned i = 0; i < s->n_dst_opts; i++)
        if (s->dst_type[i] <= MIP6_OPT_PADN || s->dst_type[i] == MIP6_OPT_HAO)
            return mip6_fail(err, MIP6_EINVAL, "destination_options", i,
                             "padding and the Home Address option are not options to pass");
    size_t hbh = s->has_hbh ? hbh_len(s) : 0, dst = want_dst(s) ? dst_len(s) : 0;
    if (hbh > 2048)
        return mip6_fail(err, MIP6_EINVAL, "hop_by_hop", 0, "options exceed one header (2048 bytes)");
    if (dst > 2048)
        return mip6_fail(err, MIP6_EINVAL, "destination_options", 0, "options exceed one header (2048 bytes)");
    size_t total = MIP6_IP6_HLEN + hbh + (s->rh2 ? 24 : 0) + dst + payload_len;
    if (total - MIP6_IP6_HLEN > 0xffff)
        return mip6_fail(err, MIP6_EINVAL, "payload_length", 4, "packet exceeds 65535 payload bytes");
    if (total > cap)
        return mip6_fail(err, MIP6_ESPACE, "buffer", 0, "output buffer too small");
    if (s->flow_label > 0xfffff)
        return mip6_fail(err, MIP6_EINVAL, "flow_label", 1, "flow label exceeds 20 bits");

    /* Each header's next-header byte names the one after it. */
    uint8_t chain[4];
    unsigned nchain = 0;
    if (s->has_hbh)
        chain[nchain++] = MIP6_NH_HOPOPT;
    if (s->rh2)
        chain[nchain++] = MIP6_NH_ROUTING;
    if (dst)
        chain[nchain++] = MIP6_NH_DSTOPTS;
    chain[nchain] = s->next_header;

    out[0] = (uint8_t)(0x60 | (s->traffic_class >> 4));
    out[1] = (uint8_t)(((s->traffic_class & 0x0f) << 4) | ((s->flow_label >> 16) & 0x0f));
    out[2] = (uint8_t)(s->flow_label >> 8);
    out[3] = (uint8_t)s->flow_label;
    mip6_put16(out + 4, (uint16_t)(total - MIP6_IP6_HLEN));
    out[6] = chain[0];
    out[7] = s->hop_limit;
    memcpy(out + 8, s->src, 16);
    memcpy(out + 24, s->dst, 16);

    size_t off = MIP6_IP6_HLEN;
    unsigned c = 1;
    if (s->has_hbh) {
        uint8_t *h = out + off;
        h[0] = chain[c++];
        h[1] = (uint8_t)(hbh / 8 - 1);
        size_t pos = put_opts(h, 2, s->n_hbh_opts, s->hbh_type, s->hbh_len, s->hbh_data);
        pad(h + pos, hbh - pos);
        off += hbh;
    }
    if (s->rh2) {
        uint8_t *h = out + off;
        h[0] = chain[c++];
        h[1] = 2;            /* RFC 6275 §6.4: header extension length 2 */
        h[2] = MIP6_RH_TYPE2;
        h[3] = 1;            /* segments left */
        memset(h + 4, 0, 4);
        memcpy(h + 8, s->rh2, 16);
        off += 24;
    }
    if (dst) {
        uint8_t *h = out + off;
        h[0] = chain[c++];
        h[1] = (uint8_t)(dst / 8 - 1);
        size_t pos = 2;
        if (s->hao) {
            pad(h + 2, 4);
            h[6] = MIP6_OPT_HAO;
            h[7] = 16;
            memcpy(h + 8, s->hao, 16);
            pos = 24;
        }
        pos = put_opts(h, pos, s->n_dst_opts, s->dst_type, s->dst_len, s->dst_data);
        pad(h + pos, dst - pos);
        off += dst;
    }
    if (payload_len)
        memcpy(out + off, payload, payload_len);

    if (s->next_header == MIP6_NH_ICMPV6 || s->next_header == MIP6_NH_MH) {
        int co = mip6_upper_csum_offset(s->next_header);
        if (payload_len >= (size_t)co + 2) {
            uint8_t *u = out + off;
            u[co] = u[co + 1] = 0;
            const uint8_t *ps = s->hao ? s->hao : s->src, *pd = s->rh2 ? s->rh2 : s->dst;
            mip6_put16(u + co, mip6_csum_upper(ps, pd, s->next_header, u, payload_len));
        }
    }
    return (int)total;
}
