"""Mobility Header codec (RFC 6275 §6.1-6.2, RFC 4283, RFC 4285) in plain Python: the twin of
``mip6fast._mh``.

Same API, same raw forms, same ``ParseError`` (reason, field, offset), same bytes and the same
``ValueError``/``TypeError`` for the same inputs as the compiled module over csrc/mip6_mh.c; the
contract is docs/CODEC.md ("mh"). It walks the bytes in the same order as the C parser, so when several
things are wrong both report the same first one. It is also the pure-Python benchmark baseline.
"""
import struct

from mip6fast.errors import ParseError

PAYLOAD_PROTO = 59  # IPPROTO_NONE, the only Payload Proto RFC 6275 §6.1.1 allows
COMMON_LEN = 6  # payload proto, header len, MH type, reserved, checksum
MAX_LEN = 2048  # (255 + 1) * 8: the 8-bit Header Len field's ceiling
MAX_OPTIONS = 32  # non-padding options kept per message (docs/CODEC.md "Limits")

BRR, HOTI, COTI, HOT, COT, BU, BA, BE = range(8)  # RFC 6275 §6.1.2-§6.1.9
HAS = 12  # Home Agent Switch (RFC 5142 §5.2)
HAS_MAX_ADDRESSES = 127  # what fits in MAX_LEN: 6 + 2 + 16 * 127 = 2040
PAD1, PADN, BRA, ALTCOA, NONCE, BAD = range(6)  # RFC 6275 §6.2.2-§6.2.7
# IANA Mobility Options registry: 8 MN-ID-OPTION-TYPE (RFC 4283 §3), 9 AUTH-OPTION-TYPE (RFC 4285 §5),
# 10 MESG-ID-OPTION-TYPE (RFC 4285 §6).
MNID, AUTH, MESGID = 8, 9, 10
BU_FLAGS = 0xF000  # A 0x8000, H 0x4000, L 0x2000, K 0x1000 (§6.1.7)
BA_FLAGS = 0x80  # K (§6.1.8)

# Bytes of fixed body after the common part (RFC 6275 §6.1.2-§6.1.9); a shorter Header Len is an error
# (§9.2). Types not listed are unknown and have an opaque body.
BODY_MIN = {BRR: 2, HOTI: 10, COTI: 10, HOT: 18, COT: 18, BU: 6, BA: 6, BE: 18,
            HAS: 2}  # RFC 5142 §5.2: # of addresses, reserved; then 16 bytes per address

# Known options: (smallest and largest length byte, alignment x, y for xn+y measured from the MH start to
# the type byte, bytes of typed fields before the variable tail). RFC 6275 §6.2.4-§6.2.7; RFC 4283 §3 (no
# alignment; subtype + at least one identifier byte); RFC 4285 §5 (4n+1; subtype + SPI + at least one
# byte of authentication data) and §6 (8n+2; 8-byte timestamp). As csrc/mip6_mh.c, mip6_mh_opt_rules.
OPTION_RULES = {
    BRA: (2, 2, 2, 0, 2), ALTCOA: (16, 16, 8, 6, 0), NONCE: (4, 4, 2, 0, 4), BAD: (12, 12, 8, 2, 0),
    MNID: (2, 255, 1, 0, 1), AUTH: (6, 255, 4, 1, 5), MESGID: (8, 8, 8, 2, 8),
}

_U16 = struct.Struct(">H")
_U16x2 = struct.Struct(">HH")
_U16x3 = struct.Struct(">HHH")
_U64 = struct.Struct(">Q")
_AUTH = struct.Struct(">BI")
_BA = struct.Struct(">BBHH")

_SHORT = "mobility header shorter than 8 bytes"


def parse(data):
    """One whole Mobility Header -> ``(mh_type, fields, options)``, or ``ParseError``."""
    if not isinstance(data, bytes):
        data = memoryview(data).tobytes()
    n = len(data)
    # 1-3: the common part (RFC 6275 §6.1.1, §9.2).
    if n < 8:
        if n >= 2:
            raise ParseError(_SHORT, "header_len", 1)
        raise ParseError(_SHORT, "mobility_header", 0)
    if data[0] != PAYLOAD_PROTO:
        raise ParseError("payload proto is not 59 (no next header)", "payload_proto", 0)
    if (data[1] + 1) * 8 != n:
        raise ParseError("header length does not match the data", "header_len", 1)
    mh_type = data[2]
    body_min = BODY_MIN.get(mh_type)
    if body_min is None:
        return mh_type, (data[COMMON_LEN:],), ()
    # 4: Header Len below the type's minimum (RFC 6275 §9.2).
    if n - COMMON_LEN < body_min:
        raise ParseError("message shorter than its type's minimum", "header_len", 1)

    # Reserved bytes and undefined flag bits are ignored on receipt.
    if mh_type == BRR:
        fields = ()
    elif mh_type == HOTI or mh_type == COTI:
        fields = (data[8:16],)
    elif mh_type == HOT or mh_type == COT:
        fields = (_U16.unpack_from(data, 6)[0], data[8:16], data[16:24])
    elif mh_type == BU:
        sequence, flags, lifetime = _U16x3.unpack_from(data, 6)
        fields = (sequence, flags & BU_FLAGS, lifetime)
    elif mh_type == BA:
        status, flags, sequence, lifetime = _BA.unpack_from(data, 6)
        fields = (status, flags & BA_FLAGS, sequence, lifetime)
    elif mh_type == BE:
        fields = (data[6], data[8:24])
    else:  # HAS (RFC 5142 §5.2): # of addresses, reserved, the home agent addresses
        count = data[6]
        if n - COMMON_LEN - body_min < 16 * count:
            raise ParseError("more home agent addresses than the message holds", "n_addresses", COMMON_LEN)
        fields = (tuple(data[8 + 16 * i:24 + 16 * i] for i in range(count)),)
        body_min += 16 * count
    return mh_type, fields, _parse_options(data, COMMON_LEN + body_min, n)


def _parse_options(data, off, end):
    # 5: the option TLVs (RFC 6275 §6.2).
    options = []
    after_bad = after_auth = False
    while off < end:
        opt_type = data[off]
        if opt_type == PAD1:
            off += 1
            continue
        if end - off < 2:
            raise ParseError("truncated option", "option", off)
        opt_len = data[off + 1]
        if opt_len > end - off - 2:
            raise ParseError("option runs past the end of the header", "option_length", off + 1)
        if opt_type != PADN:
            rule = OPTION_RULES.get(opt_type)
            if rule is not None:
                if not rule[0] <= opt_len <= rule[1]:
                    raise ParseError("wrong length for the option type", "option_length", off + 1)
                if off % rule[2] != rule[3]:
                    raise ParseError("option off its alignment", "option_alignment", off)
            # RFC 6275 §6.2.7: Binding Authorization Data is the last option.
            if after_bad:
                raise ParseError("option after Binding Authorization Data", "option_order", off)
            # RFC 4285 §5: only another Mobility Message Authentication option (MN-AAA after MN-HA) may
            # follow one.
            if after_auth and opt_type != AUTH:
                raise ParseError("option after Mobility Message Authentication", "option_order", off)
            if len(options) == MAX_OPTIONS:
                raise ParseError("too many options", "option", off)
            start = off + 2
            if opt_type == BRA:
                value = _U16.unpack_from(data, start)[0]
            elif opt_type == NONCE:
                value = _U16x2.unpack_from(data, start)
            elif opt_type == MNID:
                value = (data[start], data[start + 1:start + opt_len])
            elif opt_type == AUTH:
                value = _AUTH.unpack_from(data, start) + (data[start + 5:start + opt_len],)
                after_auth = True
            elif opt_type == MESGID:
                value = _U64.unpack_from(data, start)[0]
            else:
                value = data[start:start + opt_len]
                if opt_type == BAD:
                    after_bad = True
            options.append((opt_type, value))
        off += 2 + opt_len
    return tuple(options)


# --- build -------------------------------------------------------------------------------------------

def _uint(value, bits, field):
    if not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{field}: {value} does not fit in {bits} unsigned bits")
    return value


def _bytes(value, size, field):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected {size} bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != size:
        raise ValueError(f"{field}: expected {size} bytes, got {len(raw)}")
    return raw


def _any_bytes(value, field):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected bytes, got {type(value).__name__}")
    return bytes(value)


def _arity(fields, count, mh_type):
    if len(fields) != count:
        raise ValueError(f"fields: MH type {mh_type} takes {count} fields, got {len(fields)}")


def _option(opt):
    """One raw option -> (type, typed head fields converted, variable tail bytes or None)."""
    opt = tuple(opt)
    if len(opt) != 2:
        raise ValueError("options: each option is (option_type, value)")
    opt_type = _uint(opt[0], 8, "option_type")
    value = opt[1]
    if opt_type == BRA:
        return opt_type, _uint(value, 16, "binding_refresh_advice"), None
    if opt_type == NONCE:
        pair = tuple(value)
        if len(pair) != 2:
            raise ValueError("nonce_indices: expected (home_nonce_index, care_of_nonce_index)")
        indices = (_uint(pair[0], 16, "home_nonce_index"), _uint(pair[1], 16, "care_of_nonce_index"))
        return opt_type, indices, None
    if opt_type == MESGID:
        return opt_type, _uint(value, 64, "timestamp"), None
    if opt_type == MNID:
        pair = tuple(value)
        if len(pair) != 2:
            raise ValueError("mobile_node_identifier: expected (subtype, identifier)")
        subtype = _uint(pair[0], 8, "mn_id_subtype")
        raw = _any_bytes(pair[1], "identifier")
        if not 1 <= len(raw) <= 254:
            raise ValueError(f"identifier: 1 to 254 bytes, got {len(raw)}")
        return opt_type, (subtype,), raw
    if opt_type == AUTH:
        triple = tuple(value)
        if len(triple) != 3:
            raise ValueError("mobility_message_authentication: "
                             "expected (subtype, spi, authentication_data)")
        subtype = _uint(triple[0], 8, "auth_subtype")
        spi = _uint(triple[1], 32, "mobility_spi")
        raw = _any_bytes(triple[2], "authentication_data")
        if not 1 <= len(raw) <= 250:
            raise ValueError(f"authentication_data: 1 to 250 bytes, got {len(raw)}")
        return opt_type, (subtype, spi), raw
    if opt_type == ALTCOA:
        return opt_type, None, _bytes(value, 16, "alternate_care_of_address")
    if opt_type == BAD:
        return opt_type, None, _bytes(value, 12, "binding_authorization_data")
    raw = _any_bytes(value, "option_data")
    if len(raw) > 255:
        raise ValueError(f"option_data: at most 255 bytes, got {len(raw)}")
    return opt_type, None, raw


def build(mh_type, fields, options):
    """``(mh_type, fields, options)`` -> the Mobility Header's bytes, checksum zero."""
    mh_type = _uint(mh_type, 8, "mh_type")
    fields = tuple(fields)
    # Values first, in field order (the compiled skin converts them in the same order).
    if mh_type == BRR:
        _arity(fields, 0, mh_type)
    elif mh_type == HOTI or mh_type == COTI:
        _arity(fields, 1, mh_type)
        cookie = _bytes(fields[0], 8, "home_init_cookie" if mh_type == HOTI else "care_of_init_cookie")
    elif mh_type == HOT or mh_type == COT:
        _arity(fields, 3, mh_type)
        prefix = "home" if mh_type == HOT else "care_of"
        nonce_index = _uint(fields[0], 16, f"{prefix}_nonce_index")
        cookie = _bytes(fields[1], 8, f"{prefix}_init_cookie")
        token = _bytes(fields[2], 8, f"{prefix}_keygen_token")
    elif mh_type == BU:
        _arity(fields, 3, mh_type)
        sequence = _uint(fields[0], 16, "sequence")
        flags = _uint(fields[1], 16, "flags")
        lifetime = _uint(fields[2], 16, "lifetime_units")
    elif mh_type == BA:
        _arity(fields, 4, mh_type)
        status = _uint(fields[0], 8, "status")
        flags = _uint(fields[1], 8, "flags")
        sequence = _uint(fields[2], 16, "sequence")
        lifetime = _uint(fields[3], 16, "lifetime_units")
    elif mh_type == BE:
        _arity(fields, 2, mh_type)
        status = _uint(fields[0], 8, "status")
        home_address = _bytes(fields[1], 16, "home_address")
    elif mh_type == HAS:
        _arity(fields, 1, mh_type)
        if isinstance(fields[0], (bytes, bytearray, memoryview, str)):
            raise TypeError("home_agent_addresses: expected a sequence of 16-byte addresses")
        listed = tuple(fields[0])
        if len(listed) > HAS_MAX_ADDRESSES:
            raise ValueError(f"n_addresses: at most {HAS_MAX_ADDRESSES} home agent addresses fit in a message, "
                             f"got {len(listed)}")
        addresses = b"".join([_bytes(a, 16, "home_agent_address") for a in listed])
    else:
        _arity(fields, 1, mh_type)
        body = _any_bytes(fields[0], "body")
    options = tuple(options)
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"options: at most {MAX_OPTIONS} mobility options, got {len(options)}")
    opts = [_option(opt) for opt in options]

    # Then the structure, in the order csrc/mip6_mh.c checks it.
    if mh_type not in BODY_MIN:
        if opts:
            raise ValueError("options: an unknown MH type carries no options")
        # An opaque body cannot be padded: it must make the MH a multiple of 8 octets (§6.1.1).
        if len(body) % 8 != 2:
            raise ValueError("body: the body of an unknown MH type must be 8n+2 bytes long")
        if len(body) > MAX_LEN - COMMON_LEN:
            raise ValueError("header_len: message longer than 2048 bytes")
        return bytes((PAYLOAD_PROTO, (COMMON_LEN + len(body)) // 8 - 1, mh_type, 0, 0, 0)) + body
    if mh_type == BU and flags & ~BU_FLAGS:
        raise ValueError("flags: undefined flag bits set")
    if mh_type == BA and flags & ~BA_FLAGS:
        raise ValueError("flags: undefined flag bits set")

    # Layout: the smallest padding that puts each known option on its xn+y (RFC 6275 §6.2).
    body_min = BODY_MIN[mh_type] + (len(addresses) if mh_type == HAS else 0)
    pos = COMMON_LEN + body_min
    pads = []
    for i, (opt_type, _value, raw) in enumerate(opts):
        if opt_type == PAD1 or opt_type == PADN:
            raise ValueError("option_type: Pad1 and PadN are not options of the raw form")
        rule = OPTION_RULES.get(opt_type)
        opt_len = _opt_len(opt_type, raw)
        pad = 0 if rule is None else (rule[3] - pos) % rule[2]
        if i > 0 and opts[i - 1][0] == BAD:
            raise ValueError("option_order: Binding Authorization Data must be the last option")
        if i > 0 and opts[i - 1][0] == AUTH and opt_type != AUTH:
            raise ValueError("option_order: only Mobility Message Authentication may follow "
                             "Mobility Message Authentication")
        pads.append(pad)
        pos += pad + 2 + opt_len
    end_pad = -pos % 8
    total = pos + end_pad
    if total > MAX_LEN:
        raise ValueError("header_len: message longer than 2048 bytes")

    out = bytearray(total)  # zero: checksum, reserved bytes, padding data
    out[0] = PAYLOAD_PROTO
    out[1] = total // 8 - 1
    out[2] = mh_type
    if mh_type == HOTI or mh_type == COTI:
        out[8:16] = cookie
    elif mh_type == HOT or mh_type == COT:
        _U16.pack_into(out, 6, nonce_index)
        out[8:16] = cookie
        out[16:24] = token
    elif mh_type == BU:
        _U16x3.pack_into(out, 6, sequence, flags, lifetime)
    elif mh_type == BA:
        _BA.pack_into(out, 6, status, flags, sequence, lifetime)
    elif mh_type == BE:
        out[6] = status
        out[8:24] = home_address
    elif mh_type == HAS:
        out[6] = len(addresses) // 16
        out[8:8 + len(addresses)] = addresses

    pos = COMMON_LEN + body_min
    for (opt_type, value, raw), pad in zip(opts, pads):
        _put_pad(out, pos, pad)
        pos += pad
        out[pos] = opt_type
        if opt_type == BRA:
            out[pos + 1] = 2
            _U16.pack_into(out, pos + 2, value)
            pos += 4
        elif opt_type == NONCE:
            out[pos + 1] = 4
            _U16x2.pack_into(out, pos + 2, value[0], value[1])
            pos += 6
        elif opt_type == MESGID:
            out[pos + 1] = 8
            _U64.pack_into(out, pos + 2, value)
            pos += 10
        elif opt_type == MNID or opt_type == AUTH:
            head = bytes((value[0],)) if opt_type == MNID else _AUTH.pack(*value)
            out[pos + 1] = len(head) + len(raw)
            out[pos + 2:pos + 2 + len(head) + len(raw)] = head + raw
            pos += 2 + len(head) + len(raw)
        else:
            out[pos + 1] = len(raw)
            out[pos + 2:pos + 2 + len(raw)] = raw
            pos += 2 + len(raw)
    _put_pad(out, pos, end_pad)
    return bytes(out)


def _opt_len(opt_type, raw):
    """The Option Length byte of a converted option: its typed head plus its tail."""
    rule = OPTION_RULES.get(opt_type)
    head = 0 if rule is None else rule[4]
    return head + (0 if raw is None else len(raw))


def _put_pad(out, pos, n):
    # Canonical padding (RFC 6275 §6.2.1-§6.2.3): Pad1 (a zero byte, already there) for one byte,
    # PadN with zero data otherwise.
    if n >= 2:
        out[pos] = PADN
        out[pos + 1] = n - 2
