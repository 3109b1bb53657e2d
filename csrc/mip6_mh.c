/* Mobility Header codec (RFC 6275 §6.1-6.2). See mip6_mh.h and docs/CODEC.md ("mh").
 *
 * Theory of operation. The parser checks the common part, then the type's fixed body, then walks the
 * options TLV by TLV, in exactly the order docs/CODEC.md lists, so the first error met front to back is
 * the one reported (the pure-Python twin, mip6fast/_mh_py.py, walks the same way and must agree). Every
 * read is preceded by a length check against len; nothing is copied, the struct points into buf.
 * The builder validates and lays out the whole message first (padding before each option, total size),
 * and only then writes, so a failed build never leaves a half-written buffer behind. */
#include "mip6_mh.h"

/* Option Length bounds and alignment (xn+y, measured from the start of the MH to the option's type byte)
 * of the known options: RFC 6275 §6.2.4 (BRA 2n), §6.2.5 (Alt-CoA 8n+6, so the address lands 8-aligned),
 * §6.2.6 (Nonce Indices 2n), §6.2.7 (BAD: "implicit" 8n+2 because it is last and the MH ends 8-aligned);
 * RFC 4283 §3 (Mobile Node Identifier: "does not have any alignment requirements"; a subtype and at
 * least one identifier byte), RFC 4285 §5 (Mobility Message Authentication 4n+1, so the Mobility SPI
 * lands 4-aligned; a subtype, the SPI and at least one byte of authentication data) and §6 (Mobility
 * Message Replay Protection 8n+2, so the 64-bit timestamp lands 8-aligned). The minimum lengths of the
 * two variable options are also the ones Wireshark's dissector holds them to (MIP6_MNID_MINLEN 2,
 * MIP6_AUTH_MINLEN 6). head: the bytes of typed fields before the variable tail (see mip6_mh_opt_t). */
typedef struct mip6_mh_opt_rule {
    uint8_t min_len;
    uint8_t max_len;
    uint8_t mod;
    uint8_t rem;
    uint8_t head;
} mip6_mh_opt_rule_t;

#define MIP6_MHOPT_RULES 11 /* indexed by option type, 0..MIP6_MHOPT_MESGID; min_len 0 = not a known option */

static const mip6_mh_opt_rule_t mip6_mh_opt_rules[MIP6_MHOPT_RULES] = {
    [MIP6_MHOPT_BRA] = {2, 2, 2, 0, 2},
    [MIP6_MHOPT_ALTCOA] = {16, 16, 8, 6, 0},
    [MIP6_MHOPT_NONCE] = {4, 4, 2, 0, 4},
    [MIP6_MHOPT_BAD] = {12, 12, 8, 2, 0},
    [MIP6_MHOPT_MNID] = {2, 255, 1, 0, 1},
    [MIP6_MHOPT_AUTH] = {6, 255, 4, 1, 5},
    [MIP6_MHOPT_MESGID] = {8, 8, 8, 2, 8},
};

static const mip6_mh_opt_rule_t *mip6_mh_opt_rule(uint8_t type)
{
    if (type >= MIP6_MHOPT_RULES || mip6_mh_opt_rules[type].min_len == 0)
        return NULL;
    return &mip6_mh_opt_rules[type];
}

static int mip6_mh_type_known(uint8_t mh_type)
{
    return mh_type <= MIP6_MH_BE || mh_type == MIP6_MH_HAS;
}

size_t mip6_mh_body_min(uint8_t mh_type)
{
    /* RFC 6275 §6.1.2-§6.1.9: the fixed part of each message after the 6-byte common part. */
    switch (mh_type) {
    case MIP6_MH_BRR:  return 2;  /* reserved */
    case MIP6_MH_HOTI:
    case MIP6_MH_COTI: return 10; /* reserved, init cookie */
    case MIP6_MH_HOT:
    case MIP6_MH_COT:  return 18; /* nonce index, init cookie, keygen token */
    case MIP6_MH_BU:   return 6;  /* sequence, flags + reserved, lifetime */
    case MIP6_MH_BA:   return 6;  /* status, K + reserved, sequence, lifetime */
    case MIP6_MH_BE:   return 18; /* status, reserved, home address */
    case MIP6_MH_HAS:  return 2;  /* # of addresses, reserved (RFC 5142 §5.2); the addresses follow */
    default:           return 0;
    }
}

/* Walk the options from start to the end of the header (RFC 6275 §6.2). */
static int mip6_mh_parse_options(const uint8_t *buf, size_t start, size_t len, mip6_mh_t *out,
                                 mip6_err_t *err)
{
    size_t off = start;
    int after_bad = 0, after_auth = 0;

    while (off < len) {
        uint8_t type = buf[off];
        size_t olen;

        /* Pad1 is the one option without a length byte (RFC 6275 §6.2.2). */
        if (type == MIP6_MHOPT_PAD1) {
            off++;
            continue;
        }
        if (len - off < 2)
            return mip6_fail(err, MIP6_EPARSE, "option", off, "truncated option");
        olen = buf[off + 1];
        if (olen > len - off - 2)
            return mip6_fail(err, MIP6_EPARSE, "option_length", off + 1,
                             "option runs past the end of the header");
        /* PadN data is ignored on receipt (RFC 6275 §6.2.3: receivers MUST ignore its contents). */
        if (type != MIP6_MHOPT_PADN) {
            const mip6_mh_opt_rule_t *rule = mip6_mh_opt_rule(type);
            const uint8_t *p = buf + off + 2;
            mip6_mh_opt_t *opt;

            if (rule != NULL) {
                if (olen < rule->min_len || olen > rule->max_len)
                    return mip6_fail(err, MIP6_EPARSE, "option_length", off + 1,
                                     "wrong length for the option type");
                if (off % rule->mod != rule->rem)
                    return mip6_fail(err, MIP6_EPARSE, "option_alignment", off, "option off its alignment");
            }
            /* RFC 6275 §6.2.7: Binding Authorization Data, when present, MUST be the last option; the
             * authenticator covers the message up to it, so anything after it is unauthenticated. */
            if (after_bad)
                return mip6_fail(err, MIP6_EPARSE, "option_order", off,
                                 "option after Binding Authorization Data");
            /* RFC 4285 §5: a Mobility Message Authentication option is the last option, except that an
             * MN-HA one may be followed by an MN-AAA one (§5.1, §5.2); nothing else may follow. Which
             * subtypes, in which order, is the authenticator's check (mip6fast.wire.auth4285). */
            if (after_auth && type != MIP6_MHOPT_AUTH)
                return mip6_fail(err, MIP6_EPARSE, "option_order", off,
                                 "option after Mobility Message Authentication");
            if (out->n_options == MIP6_MH_MAX_OPTIONS)
                return mip6_fail(err, MIP6_EPARSE, "option", off, "too many options");
            opt = &out->options[out->n_options++];
            opt->type = type;
            opt->len = (uint8_t)olen;
            opt->offset = (uint16_t)off; /* < MIP6_MH_MAX_LEN: the header length matched len above */
            opt->value[0] = 0;
            opt->value[1] = 0;
            opt->subtype = 0;
            opt->spi = 0;
            opt->timestamp = 0;
            opt->data = p + (rule != NULL ? rule->head : 0);
            switch (type) {
            case MIP6_MHOPT_BRA:
                opt->value[0] = mip6_get16(p);
                break;
            case MIP6_MHOPT_NONCE:
                opt->value[0] = mip6_get16(p);
                opt->value[1] = mip6_get16(p + 2);
                break;
            case MIP6_MHOPT_BAD:
                after_bad = 1;
                break;
            case MIP6_MHOPT_MNID: /* RFC 4283 §3: subtype (1), identifier */
                opt->subtype = p[0];
                break;
            case MIP6_MHOPT_AUTH: /* RFC 4285 §5: subtype (1), Mobility SPI (4), authentication data */
                opt->subtype = p[0];
                opt->spi = mip6_get32(p + 1);
                after_auth = 1;
                break;
            case MIP6_MHOPT_MESGID: /* RFC 4285 §6: timestamp (8) */
                opt->timestamp = mip6_get64(p);
                break;
            default:
                break;
            }
        }
        off += 2 + olen;
    }
    return MIP6_OK;
}

int mip6_mh_parse(const uint8_t *buf, size_t len, mip6_mh_t *out, mip6_err_t *err)
{
    const uint8_t *body;
    size_t min;

    out->mh_type = 0;
    out->header_len = 0;
    out->checksum = 0;
    out->status = 0;
    out->flags = 0;
    out->sequence = 0;
    out->lifetime = 0;
    out->nonce_index = 0;
    out->cookie = NULL;
    out->keygen_token = NULL;
    out->home_address = NULL;
    out->body = NULL;
    out->body_len = 0;
    out->n_options = 0;

    /* 1. The common part plus at least the smallest body: every MH is a multiple of 8 octets
     * (RFC 6275 §6.1.1), so anything under 8 bytes cannot be one. Point at Header Len when it is there. */
    if (len < 8) {
        if (len >= 2)
            return mip6_fail(err, MIP6_EPARSE, "header_len", 1, "mobility header shorter than 8 bytes");
        return mip6_fail(err, MIP6_EPARSE, "mobility_header", 0, "mobility header shorter than 8 bytes");
    }
    /* 2. RFC 6275 §9.2: Payload Proto other than IPPROTO_NONE -> Parameter Problem pointing at it. */
    if (buf[0] != MIP6_MH_PAYLOAD_PROTO)
        return mip6_fail(err, MIP6_EPARSE, "payload_proto", 0, "payload proto is not 59 (no next header)");
    /* 3. Header Len counts 8-octet units after the first 8 (RFC 6275 §6.1.1), and the MH is the last
     * header, so it must cover the data exactly. */
    if (((size_t)buf[1] + 1u) * 8u != len)
        return mip6_fail(err, MIP6_EPARSE, "header_len", 1, "header length does not match the data");

    out->header_len = buf[1];
    out->mh_type = buf[2];
    /* buf[3] is reserved: ignored on receipt (RFC 6275 §6.1.1). */
    out->checksum = mip6_get16(buf + 4);
    body = buf + MIP6_MH_COMMON_LEN;

    /* An unknown type is answered with Binding Error status 2 (RFC 6275 §9.2) by the caller; its body is
     * opaque, so it is handed back whole and no options are walked. */
    if (!mip6_mh_type_known(out->mh_type)) {
        out->body = body;
        out->body_len = len - MIP6_MH_COMMON_LEN;
        return MIP6_OK;
    }

    /* 4. RFC 6275 §9.2: Header Len shorter than the type's minimum -> Parameter Problem at Header Len. */
    min = mip6_mh_body_min(out->mh_type);
    if (len - MIP6_MH_COMMON_LEN < min)
        return mip6_fail(err, MIP6_EPARSE, "header_len", 1, "message shorter than its type's minimum");

    /* Reserved bytes and undefined flag bits are skipped or masked (RFC 6275 §6.1.2-§6.1.9). */
    switch (out->mh_type) {
    case MIP6_MH_BRR: /* §6.1.2: reserved (2) */
        break;
    case MIP6_MH_HOTI: /* §6.1.3, §6.1.4: reserved (2), init cookie (8) */
    case MIP6_MH_COTI:
        out->cookie = body + 2;
        break;
    case MIP6_MH_HOT: /* §6.1.5, §6.1.6: nonce index (2), init cookie (8), keygen token (8) */
    case MIP6_MH_COT:
        out->nonce_index = mip6_get16(body);
        out->cookie = body + 2;
        out->keygen_token = body + 10;
        break;
    case MIP6_MH_BU: /* §6.1.7: sequence (2), A H L K + reserved (2), lifetime (2) */
        out->sequence = mip6_get16(body);
        out->flags = (uint16_t)(mip6_get16(body + 2) & MIP6_MH_BU_FLAGS);
        out->lifetime = mip6_get16(body + 4);
        break;
    case MIP6_MH_BA: /* §6.1.8: status (1), K + reserved (1), sequence (2), lifetime (2) */
        out->status = body[0];
        out->flags = (uint16_t)(body[1] & MIP6_MH_BA_FLAGS);
        out->sequence = mip6_get16(body + 2);
        out->lifetime = mip6_get16(body + 4);
        break;
    case MIP6_MH_BE: /* §6.1.9: status (1), reserved (1), home address (16) */
        out->status = body[0];
        out->home_address = body + 2;
        break;
    case MIP6_MH_HAS: /* RFC 5142 §5.2: # of addresses (1), reserved (1), home agent addresses (16 each) */
        out->n_addresses = body[0];
        if (len - MIP6_MH_COMMON_LEN - min < (size_t)out->n_addresses * 16)
            return mip6_fail(err, MIP6_EPARSE, "n_addresses", MIP6_MH_COMMON_LEN,
                             "more home agent addresses than the message holds");
        out->addresses = body + 2;
        min += (size_t)out->n_addresses * 16;
        break;
    default:
        break;
    }

    /* 5. The options follow the fixed body (RFC 6275 §6.2). */
    return mip6_mh_parse_options(buf, MIP6_MH_COMMON_LEN + min, len, out, err);
}

/* Canonical padding of n bytes: Pad1 for exactly one, PadN with zero data otherwise (RFC 6275 §6.2.1-
 * §6.2.3), the same choice as RFC 8200 §4.2 makes for IPv6 options. */
static void mip6_mh_put_pad(uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (n == 1) {
        p[0] = MIP6_MHOPT_PAD1;
        return;
    }
    p[0] = MIP6_MHOPT_PADN;
    p[1] = (uint8_t)(n - 2);
    memset(p + 2, 0, n - 2);
}

static int mip6_mh_einval(mip6_err_t *err, const char *field, const char *reason)
{
    return mip6_fail(err, MIP6_EINVAL, field, 0, reason);
}

int mip6_mh_build(const mip6_mh_t *in, uint8_t *out, size_t cap, mip6_err_t *err)
{
    uint8_t pads[MIP6_MH_MAX_OPTIONS + 1]; /* padding before each option, then before the end */
    size_t total, pos, min, i;
    uint8_t *body;

    /* Layout and validation first; nothing is written until the whole message is known to fit. */
    if (!mip6_mh_type_known(in->mh_type)) {
        if (in->n_options != 0)
            return mip6_mh_einval(err, "options", "an unknown MH type carries no options");
        /* The body is opaque, so the builder cannot pad it: it must make the MH a multiple of 8
         * octets by itself (RFC 6275 §6.1.1). */
        if (in->body_len % 8 != 2)
            return mip6_mh_einval(err, "body", "the body of an unknown MH type must be 8n+2 bytes long");
        if (in->body_len > MIP6_MH_MAX_LEN - MIP6_MH_COMMON_LEN)
            return mip6_mh_einval(err, "header_len", "message longer than 2048 bytes");
        if (in->body_len && in->body == NULL)
            return mip6_mh_einval(err, "body", "missing");
        total = MIP6_MH_COMMON_LEN + in->body_len;
        if (total > cap)
            return MIP6_ESPACE;
        out[0] = MIP6_MH_PAYLOAD_PROTO;
        out[1] = (uint8_t)(total / 8 - 1);
        out[2] = in->mh_type;
        out[3] = 0;
        out[4] = 0; /* checksum: the packet layer fills it over the pseudo-header (RFC 6275 §6.1.1) */
        out[5] = 0;
        if (in->body_len)
            memcpy(out + MIP6_MH_COMMON_LEN, in->body, in->body_len);
        return (int)total;
    }

    switch (in->mh_type) {
    case MIP6_MH_HOTI:
    case MIP6_MH_COTI:
        if (in->cookie == NULL)
            return mip6_mh_einval(err, "cookie", "missing");
        break;
    case MIP6_MH_HOT:
    case MIP6_MH_COT:
        if (in->cookie == NULL)
            return mip6_mh_einval(err, "cookie", "missing");
        if (in->keygen_token == NULL)
            return mip6_mh_einval(err, "keygen_token", "missing");
        break;
    case MIP6_MH_BU:
        if (in->flags & ~MIP6_MH_BU_FLAGS)
            return mip6_mh_einval(err, "flags", "undefined flag bits set");
        break;
    case MIP6_MH_BA:
        if (in->flags & ~MIP6_MH_BA_FLAGS)
            return mip6_mh_einval(err, "flags", "undefined flag bits set");
        break;
    case MIP6_MH_BE:
        if (in->home_address == NULL)
            return mip6_mh_einval(err, "home_address", "missing");
        break;
    case MIP6_MH_HAS:
        if (in->n_addresses > MIP6_MH_HAS_MAX_ADDRESSES)
            return mip6_mh_einval(err, "n_addresses", "at most 127 home agent addresses fit in a message");
        if (in->n_addresses && in->addresses == NULL)
            return mip6_mh_einval(err, "addresses", "missing");
        break;
    default:
        break;
    }

    if (in->n_options > MIP6_MH_MAX_OPTIONS)
        return mip6_mh_einval(err, "options", "at most 32 mobility options");

    min = mip6_mh_body_min(in->mh_type);
    if (in->mh_type == MIP6_MH_HAS)
        min += (size_t)in->n_addresses * 16;
    pos = MIP6_MH_COMMON_LEN + min;
    for (i = 0; i < in->n_options; i++) {
        const mip6_mh_opt_t *opt = &in->options[i];
        const mip6_mh_opt_rule_t *rule = mip6_mh_opt_rule(opt->type);
        size_t pad = 0, head = 0;

        /* Padding is the builder's business, never the caller's (docs/CODEC.md). */
        if (opt->type == MIP6_MHOPT_PAD1 || opt->type == MIP6_MHOPT_PADN)
            return mip6_mh_einval(err, "option_type", "Pad1 and PadN are not options of the raw form");
        if (rule != NULL) {
            if (opt->len < rule->min_len || opt->len > rule->max_len)
                return mip6_mh_einval(err, "option_length", "wrong length for the option type");
            head = rule->head;
            /* Smallest padding that puts the type byte on xn+y (RFC 6275 §6.2). */
            pad = (rule->rem + rule->mod - pos % rule->mod) % rule->mod;
        }
        if (opt->len > head && opt->data == NULL)
            return mip6_mh_einval(err, "option_data", "missing");
        /* RFC 6275 §6.2.7 and RFC 4285 §5: a receiver rejects anything after Binding Authorization Data,
         * and anything but another Mobility Message Authentication option after one of those, so the
         * builder refuses to write it. */
        if (i > 0 && in->options[i - 1].type == MIP6_MHOPT_BAD)
            return mip6_mh_einval(err, "option_order", "Binding Authorization Data must be the last option");
        if (i > 0 && in->options[i - 1].type == MIP6_MHOPT_AUTH && opt->type != MIP6_MHOPT_AUTH)
            return mip6_mh_einval(err, "option_order", "only Mobility Message Authentication may follow "
                                                       "Mobility Message Authentication");
        pads[i] = (uint8_t)pad;
        pos += pad + 2 + opt->len;
    }
    /* RFC 6275 §6.1.1: the MH is a multiple of 8 octets; pad the end. */
    pads[in->n_options] = (uint8_t)((8 - pos % 8) % 8);
    total = pos + pads[in->n_options];
    if (total > MIP6_MH_MAX_LEN)
        return mip6_mh_einval(err, "header_len", "message longer than 2048 bytes");
    if (total > cap)
        return MIP6_ESPACE;

    out[0] = MIP6_MH_PAYLOAD_PROTO;
    out[1] = (uint8_t)(total / 8 - 1);
    out[2] = in->mh_type;
    out[3] = 0;
    out[4] = 0; /* checksum: the packet layer fills it over the pseudo-header (RFC 6275 §6.1.1) */
    out[5] = 0;
    body = out + MIP6_MH_COMMON_LEN;
    memset(body, 0, min); /* reserved bytes and undefined flag bits are zero on send (§6.1) */
    switch (in->mh_type) {
    case MIP6_MH_HOTI:
    case MIP6_MH_COTI:
        memcpy(body + 2, in->cookie, 8);
        break;
    case MIP6_MH_HOT:
    case MIP6_MH_COT:
        mip6_put16(body, in->nonce_index);
        memcpy(body + 2, in->cookie, 8);
        memcpy(body + 10, in->keygen_token, 8);
        break;
    case MIP6_MH_BU:
        mip6_put16(body, in->sequence);
        mip6_put16(body + 2, in->flags);
        mip6_put16(body + 4, in->lifetime);
        break;
    case MIP6_MH_BA:
        body[0] = in->status;
        body[1] = (uint8_t)in->flags;
        mip6_put16(body + 2, in->sequence);
        mip6_put16(body + 4, in->lifetime);
        break;
    case MIP6_MH_BE:
        body[0] = in->status;
        memcpy(body + 2, in->home_address, 16);
        break;
    case MIP6_MH_HAS:
        body[0] = in->n_addresses;
        if (in->n_addresses)
            memcpy(body + 2, in->addresses, (size_t)in->n_addresses * 16);
        break;
    default: /* BRR: reserved only */
        break;
    }

    pos = MIP6_MH_COMMON_LEN + min;
    for (i = 0; i < in->n_options; i++) {
        const mip6_mh_opt_t *opt = &in->options[i];
        const mip6_mh_opt_rule_t *rule = mip6_mh_opt_rule(opt->type);
        size_t head = rule != NULL ? rule->head : 0;
        uint8_t *p;

        mip6_mh_put_pad(out + pos, pads[i]);
        pos += pads[i];
        p = out + pos;
        p[0] = opt->type;
        p[1] = opt->len;
        switch (opt->type) {
        case MIP6_MHOPT_BRA:
            mip6_put16(p + 2, opt->value[0]);
            break;
        case MIP6_MHOPT_NONCE:
            mip6_put16(p + 2, opt->value[0]);
            mip6_put16(p + 4, opt->value[1]);
            break;
        case MIP6_MHOPT_MNID:
            p[2] = opt->subtype;
            break;
        case MIP6_MHOPT_AUTH:
            p[2] = opt->subtype;
            mip6_put32(p + 3, opt->spi);
            break;
        case MIP6_MHOPT_MESGID:
            mip6_put64(p + 2, opt->timestamp);
            break;
        default:
            break;
        }
        if (opt->len > head)
            memcpy(p + 2 + head, opt->data, opt->len - head);
        pos += 2u + opt->len;
    }
    mip6_mh_put_pad(out + pos, pads[in->n_options]);
    return (int)total;
}
