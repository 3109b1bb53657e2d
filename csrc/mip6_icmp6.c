/* ICMPv6 and neighbour-discovery codec: see mip6_icmp6.h and docs/CODEC.md ("icmp6").
 *
 * Every read is guarded by a length check made before it, in the order docs/CODEC.md gives, so that the
 * first fault met walking the bytes front to back is the one reported, and the pure-Python twin
 * (mip6fast/_icmp6_py.py) can report the very same one. */
#include <limits.h>

#include "mip6_icmp6.h"

/* Bytes after the 4-byte type/code/checksum header that each type needs (docs/CODEC.md; RFC 4443 §3-4,
 * RFC 4861 §4.1-4.4, RFC 6275 §6.5-6.8). Unknown types need nothing more: RFC 4443 §2.4 (b) has
 * informational messages of unknown type passed up, (a) errors of unknown type too. */
static size_t min_body(uint8_t type)
{
    switch (type) {
    case MIP6_ICMP6_DST_UNREACH:
    case MIP6_ICMP6_PACKET_TOO_BIG:
    case MIP6_ICMP6_TIME_EXCEEDED:
    case MIP6_ICMP6_PARAM_PROBLEM:       /* unused / MTU / pointer word */
    case MIP6_ICMP6_ECHO_REQUEST:
    case MIP6_ICMP6_ECHO_REPLY:          /* identifier, sequence */
    case MIP6_ICMP6_ROUTER_SOLICIT:      /* reserved word */
    case MIP6_ICMP6_DHAAD_REQUEST:
    case MIP6_ICMP6_DHAAD_REPLY:
    case MIP6_ICMP6_MOBILE_PREFIX_SOL:
    case MIP6_ICMP6_MOBILE_PREFIX_ADV:   /* identifier, reserved or flags word */
        return 4;
    case MIP6_ICMP6_ROUTER_ADVERT:       /* hop limit, flags, router lifetime, reachable, retrans */
        return 12;
    case MIP6_ICMP6_NEIGHBOR_SOLICIT:
    case MIP6_ICMP6_NEIGHBOR_ADVERT:     /* reserved or flags word, target address */
        return 20;
    default:
        return 0;
    }
}

/* Offset where the option area starts, for the types that carry options. */
static size_t options_start(uint8_t type)
{
    switch (type) {
    case MIP6_ICMP6_ROUTER_SOLICIT:
    case MIP6_ICMP6_MOBILE_PREFIX_ADV:
        return 8;
    case MIP6_ICMP6_ROUTER_ADVERT:
        return 16;
    case MIP6_ICMP6_NEIGHBOR_SOLICIT:
    case MIP6_ICMP6_NEIGHBOR_ADVERT:
        return 24;
    default:
        return 0;
    }
}

int mip6_icmp6_has_options(uint8_t type) { return options_start(type) != 0; }

/* Where the variable-length data of a type starts (0: the type has none). */
static size_t data_start(uint8_t type)
{
    switch (type) {
    case MIP6_ICMP6_DST_UNREACH:
    case MIP6_ICMP6_PACKET_TOO_BIG:
    case MIP6_ICMP6_TIME_EXCEEDED:
    case MIP6_ICMP6_PARAM_PROBLEM:
    case MIP6_ICMP6_ECHO_REQUEST:
    case MIP6_ICMP6_ECHO_REPLY:
    case MIP6_ICMP6_DHAAD_REPLY:
        return 8;
    default:
        return options_start(type) != 0 || min_body(type) != 0 ? 0 : 4; /* unknown: body after byte 4 */
    }
}

/* The raw-form name of a type's data, for builder errors. */
static const char *data_field(uint8_t type)
{
    switch (type) {
    case MIP6_ICMP6_DST_UNREACH:
    case MIP6_ICMP6_PACKET_TOO_BIG:
    case MIP6_ICMP6_TIME_EXCEEDED:
    case MIP6_ICMP6_PARAM_PROBLEM:
        return "invoking";
    case MIP6_ICMP6_ECHO_REQUEST:
    case MIP6_ICMP6_ECHO_REPLY:
        return "data";
    case MIP6_ICMP6_DHAAD_REPLY:
        return "addresses";
    default:
        return "body";
    }
}

/* The exact length byte of a known fixed-size option, 0 for variable-length and unknown ones. */
static uint8_t known_option_units(uint8_t type)
{
    switch (type) {
    case MIP6_ND_OPT_PREFIX_INFO:   /* 32 bytes, RFC 4861 §4.6.2 */
        return 4;
    case MIP6_ND_OPT_MTU:           /* RFC 4861 §4.6.4 */
    case MIP6_ND_OPT_ADV_INTERVAL:  /* RFC 6275 §7.3 */
    case MIP6_ND_OPT_HA_INFO:       /* RFC 6275 §7.4 */
        return 1;
    default:
        return 0;
    }
}

static void span_at(mip6_icmp6_span_t *s, const uint8_t *buf, size_t off, size_t len)
{
    s->off = off;
    s->len = len;
    s->ptr = len ? buf + off : NULL;
}

/* RFC 4861 §4.6: options are TLVs whose length byte counts 8-octet units of the whole option. A zero
 * length must make the receiver discard the packet (it would loop forever), as must an option that
 * runs past the end. Unknown options are kept (the receiver skips them, RFC 4861 §4.6), so every option
 * counts towards the limit. */
static int parse_options(const uint8_t *buf, size_t len, size_t off, mip6_icmp6_t *out, mip6_err_t *err)
{
    size_t n = 0;

    while (off < len) {
        mip6_nd_opt_t *opt;
        const uint8_t *p;
        uint8_t type, units, want;
        size_t size;

        if (n == MIP6_ICMP6_MAX_OPTIONS)
            return mip6_fail(err, MIP6_EPARSE, "option", off, "too many options");
        if (len - off < 2)
            return mip6_fail(err, MIP6_EPARSE, "option", off, "truncated option");
        p = buf + off;
        type = p[0];
        units = p[1];
        if (units == 0)
            return mip6_fail(err, MIP6_EPARSE, "option_length", off + 1, "zero option length");
        size = (size_t)units * 8u;
        if (size > len - off)
            return mip6_fail(err, MIP6_EPARSE, "option_length", off + 1, "option runs past the end");
        want = known_option_units(type);
        if (want != 0 && units != want)
            return mip6_fail(err, MIP6_EPARSE, "option_length", off + 1, "wrong length for the option type");

        opt = &out->options[n++];
        opt->type = type;
        opt->length = units;
        opt->offset = off;
        switch (type) {
        case MIP6_ND_OPT_PREFIX_INFO:
            /* type, length, prefix length, L|A|R|reserved1, valid (4), preferred (4), reserved2 (4),
             * prefix (16): RFC 4861 §4.6.2; R flag RFC 6275 §7.2. */
            /* RFC 4861 §4.6.2: 0..128. Refused here so whatever parses also builds. */
            if (p[2] > 128)
                return mip6_fail(err, MIP6_EPARSE, "prefix_length", off + 2, "prefix length over 128");
            opt->v.prefix.prefix_length = p[2];
            opt->v.prefix.flags = (uint8_t)(p[3] & MIP6_PI_FLAGS_MASK);
            opt->v.prefix.valid_lifetime = mip6_get32(p + 4);
            opt->v.prefix.preferred_lifetime = mip6_get32(p + 8);
            memcpy(opt->v.prefix.prefix, p + 16, 16);
            break;
        case MIP6_ND_OPT_MTU:
            /* type, length, reserved (2), MTU (4): RFC 4861 §4.6.4 */
            opt->v.mtu = mip6_get32(p + 4);
            break;
        case MIP6_ND_OPT_ADV_INTERVAL:
            /* type, length, reserved (2), interval in ms (4): RFC 6275 §7.3 */
            opt->v.adv_interval = mip6_get32(p + 4);
            break;
        case MIP6_ND_OPT_HA_INFO:
            /* type, length, reserved (2), preference (signed 16), lifetime (16): RFC 6275 §7.4 */
            opt->v.ha_info.preference = (int16_t)mip6_get16(p + 4);
            opt->v.ha_info.lifetime = mip6_get16(p + 6);
            break;
        default:
            /* Link-layer addresses (RFC 4861 §4.6.1) and unknown options: the data as it stands,
             * padding included, since its real length depends on the link type. */
            span_at(&opt->v.data, buf, off + 2, size - 2);
            break;
        }
        off += size;
    }
    out->n_options = n;
    return MIP6_OK;
}

int mip6_icmp6_parse(const uint8_t *buf, size_t len, mip6_icmp6_t *out, mip6_err_t *err)
{
    uint8_t type;
    size_t start;

    if (len < 4)
        return mip6_fail(err, MIP6_EPARSE, "icmp6", 0, "truncated ICMPv6 header");
    type = buf[0];
    if (len - 4 < min_body(type))
        return mip6_fail(err, MIP6_EPARSE, "icmp6_length", 0, "message too short for its type");

    out->type = type;
    out->code = buf[1];
    out->n_options = 0;
    span_at(&out->data, buf, 0, 0);
    /* buf[2..3] is the checksum: the packet layer verifies it with the pseudo-header. */

    switch (type) {
    case MIP6_ICMP6_PACKET_TOO_BIG:
        out->mtu = mip6_get32(buf + 4);           /* RFC 4443 §3.2 */
        break;
    case MIP6_ICMP6_PARAM_PROBLEM:
        out->pointer = mip6_get32(buf + 4);       /* RFC 4443 §3.4 */
        break;
    case MIP6_ICMP6_ECHO_REQUEST:
    case MIP6_ICMP6_ECHO_REPLY:
        out->identifier = mip6_get16(buf + 4);    /* RFC 4443 §4.1-4.2 */
        out->sequence = mip6_get16(buf + 6);
        break;
    case MIP6_ICMP6_ROUTER_ADVERT:
        /* RFC 4861 §4.2; H flag RFC 6275 §7.1; Prf RFC 4191 §2.2; P RFC 4389 §4.1. The whole flags
         * byte is kept, reserved bits included, so a parsed RA re-encodes to what the wire carried. */
        out->cur_hop_limit = buf[4];
        out->flags = buf[5];
        out->router_lifetime = mip6_get16(buf + 6);
        out->reachable_time = mip6_get32(buf + 8);
        out->retrans_timer = mip6_get32(buf + 12);
        break;
    case MIP6_ICMP6_NEIGHBOR_SOLICIT:
        memcpy(out->target, buf + 8, 16);         /* RFC 4861 §4.3, after 4 reserved bytes */
        break;
    case MIP6_ICMP6_NEIGHBOR_ADVERT:
        out->flags = (uint16_t)(buf[4] & MIP6_NA_FLAGS_MASK); /* RFC 4861 §4.4 */
        memcpy(out->target, buf + 8, 16);
        break;
    case MIP6_ICMP6_DHAAD_REQUEST:
    case MIP6_ICMP6_MOBILE_PREFIX_SOL:
        out->identifier = mip6_get16(buf + 4);    /* RFC 6275 §6.5, §6.7 */
        break;
    case MIP6_ICMP6_DHAAD_REPLY:
        out->identifier = mip6_get16(buf + 4);    /* RFC 6275 §6.6 */
        if ((len - 8) % 16 != 0)
            return mip6_fail(err, MIP6_EPARSE, "addresses", 8, "address list is not a multiple of 16 bytes");
        break;
    case MIP6_ICMP6_MOBILE_PREFIX_ADV:
        out->identifier = mip6_get16(buf + 4);    /* RFC 6275 §6.8 */
        out->flags = (uint16_t)(mip6_get16(buf + 6) & MIP6_MPA_FLAGS_MASK);
        break;
    default:
        break;
    }

    start = data_start(type);
    if (start != 0)
        span_at(&out->data, buf, start, len - start);
    start = options_start(type);
    if (start != 0)
        return parse_options(buf, len, start, out, err);
    return MIP6_OK;
}

/* Bytes an option takes on the wire: link-layer and unknown data are zero-padded to the 8-octet
 * boundary (RFC 4861 §4.6.1: the address is padded as the link type specifies; zeros here). */
static size_t option_size(const mip6_nd_opt_t *opt)
{
    uint8_t units = known_option_units(opt->type);

    if (units != 0)
        return (size_t)units * 8u;
    return (opt->v.data.len + 2u + 7u) / 8u * 8u;
}

size_t mip6_icmp6_build_len(const mip6_icmp6_t *in)
{
    size_t n = 4u + min_body(in->type);
    size_t i;

    if (data_start(in->type) != 0)
        n = data_start(in->type) + in->data.len;
    if (mip6_icmp6_has_options(in->type) && in->n_options <= MIP6_ICMP6_MAX_OPTIONS) {
        for (i = 0; i < in->n_options; i++)
            n += option_size(&in->options[i]);
    }
    return n;
}

static int check_option(const mip6_nd_opt_t *opt, mip6_err_t *err)
{
    switch (opt->type) {
    case MIP6_ND_OPT_PREFIX_INFO:
        /* RFC 4861 §4.6.2: 0..128. */
        if (opt->v.prefix.prefix_length > 128)
            return mip6_fail(err, MIP6_EINVAL, "prefix_length", 0, "greater than 128");
        if (opt->v.prefix.flags & ~MIP6_PI_FLAGS_MASK)
            return mip6_fail(err, MIP6_EINVAL, "prefix_flags", 0, "bits other than L, A, R set");
        return MIP6_OK;
    case MIP6_ND_OPT_MTU:
    case MIP6_ND_OPT_ADV_INTERVAL:
    case MIP6_ND_OPT_HA_INFO:
        return MIP6_OK;
    default:
        if (opt->v.data.len > MIP6_ND_OPT_MAX_DATA)
            return mip6_fail(err, MIP6_EINVAL, "option_data", 0, "longer than 2038 bytes");
        if (opt->v.data.len != 0 && opt->v.data.ptr == NULL)
            return mip6_fail(err, MIP6_EINVAL, "option_data", 0, "no data pointer");
        return MIP6_OK;
    }
}

static uint8_t *build_option(const mip6_nd_opt_t *opt, uint8_t *p)
{
    size_t size = option_size(opt);

    memset(p, 0, size); /* reserved fields and padding */
    p[0] = opt->type;
    p[1] = (uint8_t)(size / 8u);
    switch (opt->type) {
    case MIP6_ND_OPT_PREFIX_INFO:
        p[2] = opt->v.prefix.prefix_length;
        p[3] = opt->v.prefix.flags;
        mip6_put32(p + 4, opt->v.prefix.valid_lifetime);
        mip6_put32(p + 8, opt->v.prefix.preferred_lifetime);
        memcpy(p + 16, opt->v.prefix.prefix, 16);
        break;
    case MIP6_ND_OPT_MTU:
        mip6_put32(p + 4, opt->v.mtu);
        break;
    case MIP6_ND_OPT_ADV_INTERVAL:
        mip6_put32(p + 4, opt->v.adv_interval);
        break;
    case MIP6_ND_OPT_HA_INFO:
        mip6_put16(p + 4, (uint16_t)opt->v.ha_info.preference);
        mip6_put16(p + 6, opt->v.ha_info.lifetime);
        break;
    default:
        if (opt->v.data.len)
            memcpy(p + 2, opt->v.data.ptr, opt->v.data.len);
        break;
    }
    return p + size;
}

int mip6_icmp6_build(const mip6_icmp6_t *in, uint8_t *out, size_t cap, mip6_err_t *err)
{
    size_t need, start, i;
    uint8_t *p;

    /* Value checks first, in raw-form order, so a bad value is reported whatever cap is. */
    switch (in->type) {
    case MIP6_ICMP6_ROUTER_ADVERT:
        if (in->flags & ~0xFFu)
            return mip6_fail(err, MIP6_EINVAL, "flags", 0, "the RA flags are one byte");
        break;
    case MIP6_ICMP6_NEIGHBOR_ADVERT:
        if (in->flags & ~MIP6_NA_FLAGS_MASK)
            return mip6_fail(err, MIP6_EINVAL, "flags", 0, "bits other than R, S, O set");
        break;
    case MIP6_ICMP6_MOBILE_PREFIX_ADV:
        if (in->flags & ~MIP6_MPA_FLAGS_MASK)
            return mip6_fail(err, MIP6_EINVAL, "flags", 0, "bits other than M, O set");
        break;
    case MIP6_ICMP6_DHAAD_REPLY:
        if (in->data.len % 16 != 0)
            return mip6_fail(err, MIP6_EINVAL, "addresses", 0, "not a multiple of 16 bytes");
        break;
    default:
        break;
    }
    start = data_start(in->type);
    if (start != 0) {
        if (in->data.len != 0 && in->data.ptr == NULL)
            return mip6_fail(err, MIP6_EINVAL, data_field(in->type), 0, "no data pointer");
        /* The return value is an int. */
        if (in->data.len > (size_t)INT_MAX - start)
            return mip6_fail(err, MIP6_EINVAL, data_field(in->type), 0, "message too long");
    }
    if (mip6_icmp6_has_options(in->type)) {
        if (in->n_options > MIP6_ICMP6_MAX_OPTIONS)
            return mip6_fail(err, MIP6_EINVAL, "options", 0, "more than 64 options");
        for (i = 0; i < in->n_options; i++) {
            int rc = check_option(&in->options[i], err);
            if (rc != MIP6_OK)
                return rc;
        }
    }

    need = mip6_icmp6_build_len(in);
    if (need > cap)
        return mip6_fail(err, MIP6_ESPACE, "icmp6", 0, "output buffer too small");

    /* Type, code, checksum 0 (RFC 4443 §2.3: computed over the pseudo-header by the packet layer),
     * and every reserved byte of the fixed part zero. */
    memset(out, 0, 4u + min_body(in->type));
    out[0] = in->type;
    out[1] = in->code;
    switch (in->type) {
    case MIP6_ICMP6_PACKET_TOO_BIG:
        mip6_put32(out + 4, in->mtu);
        break;
    case MIP6_ICMP6_PARAM_PROBLEM:
        mip6_put32(out + 4, in->pointer);
        break;
    case MIP6_ICMP6_ECHO_REQUEST:
    case MIP6_ICMP6_ECHO_REPLY:
        mip6_put16(out + 4, in->identifier);
        mip6_put16(out + 6, in->sequence);
        break;
    case MIP6_ICMP6_ROUTER_ADVERT:
        out[4] = in->cur_hop_limit;
        out[5] = (uint8_t)in->flags;
        mip6_put16(out + 6, in->router_lifetime);
        mip6_put32(out + 8, in->reachable_time);
        mip6_put32(out + 12, in->retrans_timer);
        break;
    case MIP6_ICMP6_NEIGHBOR_SOLICIT:
        memcpy(out + 8, in->target, 16);
        break;
    case MIP6_ICMP6_NEIGHBOR_ADVERT:
        out[4] = (uint8_t)in->flags;
        memcpy(out + 8, in->target, 16);
        break;
    case MIP6_ICMP6_DHAAD_REQUEST:
    case MIP6_ICMP6_DHAAD_REPLY:
    case MIP6_ICMP6_MOBILE_PREFIX_SOL:
        mip6_put16(out + 4, in->identifier);
        break;
    case MIP6_ICMP6_MOBILE_PREFIX_ADV:
        mip6_put16(out + 4, in->identifier);
        mip6_put16(out + 6, in->flags);
        break;
    default:
        break;
    }

    p = out + 4u + min_body(in->type);
    if (start != 0) {
        if (in->data.len)
            memcpy(out + start, in->data.ptr, in->data.len);
        p = out + start + in->data.len;
    }
    if (mip6_icmp6_has_options(in->type)) {
        for (i = 0; i < in->n_options; i++)
            p = build_option(&in->options[i], p);
    }
    return (int)(p - out);
}
