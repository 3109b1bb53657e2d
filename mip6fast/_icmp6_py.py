"""ICMPv6 and neighbour-discovery codec in plain Python: the twin of the compiled ``mip6fast._icmp6``.

Same API, raw forms, errors and bytes as csrc/mip6_icmp6.c under mip6fast/_icmp6.pyx (docs/CODEC.md,
section "icmp6"): ``parse(data) -> (icmp_type, code, fields)`` and ``build(icmp_type, code, fields) ->
bytes``. Written straightforwardly with ``struct``; it is also the pure-Python benchmark baseline.
"""
import struct

from mip6fast.errors import ParseError

MAX_OPTIONS = 64
MAX_OPTION_DATA = 255 * 8 - 2  # the length byte counts 8-octet units of the whole option (RFC 4861 §4.6)
_INT_MAX = 0x7FFFFFFF          # the C builder returns the byte count as an int

# Bytes each type needs after the 4-byte type/code/checksum header (docs/CODEC.md).
_MIN_BODY = {1: 4, 2: 4, 3: 4, 4: 4, 128: 4, 129: 4, 133: 4, 134: 12, 135: 20, 136: 20,
             144: 4, 145: 4, 146: 4, 147: 4}
# Where the neighbour-discovery options start, for the types that carry them.
_OPTIONS_START = {133: 8, 134: 16, 135: 24, 136: 24, 147: 8}
# Fields of each known type's raw form; any other type takes (body,).
_ARITY = {1: 1, 2: 2, 3: 1, 4: 2, 128: 3, 129: 3, 133: 1, 134: 6, 135: 2, 136: 3,
          144: 1, 145: 2, 146: 1, 147: 3}
# Exact length byte of the fixed-size options (RFC 4861 §4.6.2, §4.6.4; RFC 6275 §7.3, §7.4).
_OPTION_UNITS = {3: 4, 5: 1, 7: 1, 8: 1}

_RA_FLAGS = 0xFF    # the whole byte: M O H Prf(2) P and reserved bits round-trip (RFC 4861 §4.2, RFC 4191 §2.2)
_NA_FLAGS = 0xE0    # R S O
_MPA_FLAGS = 0xC000  # M O
_PI_FLAGS = 0xE0    # L A R

_H = struct.Struct("!H")
_I = struct.Struct("!I")
_HH = struct.Struct("!HH")
_RA = struct.Struct("!BBHII")
_PI = struct.Struct("!BBII4x16s")
_HA = struct.Struct("!hH")


# ---------------------------------------------------------------- parse

def _options(data, off, end):
    out = []
    while off < end:
        if len(out) == MAX_OPTIONS:
            raise ParseError("too many options", "option", off)
        if end - off < 2:
            raise ParseError("truncated option", "option", off)
        otype = data[off]
        units = data[off + 1]
        if units == 0:
            raise ParseError("zero option length", "option_length", off + 1)
        size = units * 8
        if size > end - off:
            raise ParseError("option runs past the end", "option_length", off + 1)
        want = _OPTION_UNITS.get(otype)
        if want is not None and units != want:
            raise ParseError("wrong length for the option type", "option_length", off + 1)
        if otype == 3:
            prefix_length, flags, valid, preferred, prefix = _PI.unpack_from(data, off + 2)
            if prefix_length > 128:
                raise ParseError("prefix length over 128", "prefix_length", off + 2)
            value = (prefix_length, flags & _PI_FLAGS, valid, preferred, prefix)
        elif otype == 5 or otype == 7:
            value = _I.unpack_from(data, off + 4)[0]
        elif otype == 8:
            value = _HA.unpack_from(data, off + 4)
        else:
            value = data[off + 2:off + size]
        out.append((otype, value))
        off += size
    return tuple(out)


def parse(data):
    """Parse one whole ICMPv6 message into ``(icmp_type, code, fields)``; ParseError when malformed."""
    if type(data) is not bytes:
        data = bytes(memoryview(data))
    n = len(data)
    if n < 4:
        raise ParseError("truncated ICMPv6 header", "icmp6", 0)
    t = data[0]
    code = data[1]
    if n - 4 < _MIN_BODY.get(t, 0):
        raise ParseError("message too short for its type", "icmp6_length", 0)

    if t == 1 or t == 3:
        fields = (data[8:],)
    elif t == 2 or t == 4:
        fields = (_I.unpack_from(data, 4)[0], data[8:])
    elif t == 128 or t == 129:
        identifier, sequence = _HH.unpack_from(data, 4)
        fields = (identifier, sequence, data[8:])
    elif t == 133:
        fields = (_options(data, 8, n),)
    elif t == 134:
        hop, flags, lifetime, reachable, retrans = _RA.unpack_from(data, 4)
        fields = (hop, flags & _RA_FLAGS, lifetime, reachable, retrans, _options(data, 16, n))
    elif t == 135:
        fields = (data[8:24], _options(data, 24, n))
    elif t == 136:
        fields = (data[4] & _NA_FLAGS, data[8:24], _options(data, 24, n))
    elif t == 144 or t == 146:
        fields = (_H.unpack_from(data, 4)[0],)
    elif t == 145:
        if (n - 8) % 16:
            raise ParseError("address list is not a multiple of 16 bytes", "addresses", 8)
        fields = (_H.unpack_from(data, 4)[0], tuple(data[i:i + 16] for i in range(8, n, 16)))
    elif t == 147:
        identifier, flags = _HH.unpack_from(data, 4)
        fields = (identifier, flags & _MPA_FLAGS, _options(data, 8, n))
    else:
        fields = (data[4:],)
    return (t, code, fields)


# ---------------------------------------------------------------- build

def _uint(v, bits, field):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{field}: expected an int, got {type(v).__name__}")
    if not 0 <= v < (1 << bits):
        raise ValueError(f"{field}: {v} does not fit in {bits} unsigned bits")
    return v


def _int16(v, field):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{field}: expected an int, got {type(v).__name__}")
    if not -32768 <= v <= 32767:
        raise ValueError(f"{field}: {v} does not fit in 16 signed bits")
    return v


def _bytes(v, field):
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected bytes, got {type(v).__name__}")
    return bytes(v)


def _bytes16(v, field):
    b = _bytes(v, field)
    if len(b) != 16:
        raise ValueError(f"{field}: expected 16 bytes, got {len(b)}")
    return b


def _data(v, field, start):
    b = _bytes(v, field)
    if len(b) > _INT_MAX - start:
        raise ValueError(f"{field}: message too long")
    return b


def _build_options(options):
    opts = tuple(options)
    if len(opts) > MAX_OPTIONS:
        raise ValueError("options: more than 64 options")
    out = []
    for otype, value in opts:
        otype = _uint(otype, 8, "option_type")
        if otype == 3:
            # RFC 4861 §4.6.2, R flag RFC 6275 §7.2: 32 bytes, reserved2 zero.
            prefix_length, flags, valid, preferred, prefix = value
            if _uint(prefix_length, 8, "prefix_length") > 128:
                raise ValueError("prefix_length: greater than 128")
            if _uint(flags, 8, "prefix_flags") & ~_PI_FLAGS:
                raise ValueError("prefix_flags: bits other than L, A, R set")
            valid = _uint(valid, 32, "valid_lifetime")
            preferred = _uint(preferred, 32, "preferred_lifetime")
            prefix = _bytes16(prefix, "prefix")
            out.append(struct.pack("!BBBBII4x16s", 3, 4, prefix_length, flags, valid, preferred, prefix))
        elif otype == 5 or otype == 7:
            # MTU (RFC 4861 §4.6.4) and Advertisement Interval (RFC 6275 §7.3): 2 reserved bytes, 32 bits.
            value = _uint(value, 32, "mtu" if otype == 5 else "interval")
            out.append(struct.pack("!BB2xI", otype, 1, value))
        elif otype == 8:
            # Home Agent Information (RFC 6275 §7.4): 2 reserved bytes, signed preference, lifetime.
            preference, lifetime = value
            preference = _int16(preference, "preference")
            lifetime = _uint(lifetime, 16, "lifetime")
            out.append(struct.pack("!BB2xhH", 8, 1, preference, lifetime))
        else:
            # Link-layer address (RFC 4861 §4.6.1) or unknown: data zero-padded to 8 octets.
            data = _bytes(value, "option_data")
            if len(data) > MAX_OPTION_DATA:
                raise ValueError("option_data: longer than 2038 bytes")
            units = (len(data) + 2 + 7) // 8
            out.append(bytes((otype, units)) + data + bytes(units * 8 - 2 - len(data)))
    return b"".join(out)


def _flags(v, bits, mask, field, names):
    v = _uint(v, bits, field)
    if v & ~mask:
        raise ValueError(f"{field}: bits other than {names} set")
    return v


def build(icmp_type, code, fields):
    """Bytes of the message ``(icmp_type, code, fields)``, checksum zero; ValueError names a bad field."""
    t = _uint(icmp_type, 8, "icmp_type")
    code = _uint(code, 8, "code")
    f = tuple(fields)
    arity = _ARITY.get(t, 1)
    if len(f) != arity:
        raise ValueError(f"fields: type {t} takes {arity} fields, got {len(f)}")

    # Type, code, checksum 0 (RFC 4443 §2.3: the packet layer fills it in with the pseudo-header).
    head = struct.pack("!BBH", t, code, 0)
    if t == 1 or t == 3:
        return head + bytes(4) + _data(f[0], "invoking", 8)            # RFC 4443 §3.1, §3.3
    if t == 2 or t == 4:
        value = _uint(f[0], 32, "mtu" if t == 2 else "pointer")      # RFC 4443 §3.2, §3.4
        return head + _I.pack(value) + _data(f[1], "invoking", 8)
    if t == 128 or t == 129:                                         # RFC 4443 §4.1, §4.2
        identifier = _uint(f[0], 16, "identifier")
        sequence = _uint(f[1], 16, "sequence")
        return head + _HH.pack(identifier, sequence) + _data(f[2], "data", 8)
    if t == 133:                                                     # RFC 4861 §4.1
        return head + bytes(4) + _build_options(f[0])
    if t == 134:                                                     # RFC 4861 §4.2, RFC 6275 §7.1
        hop = _uint(f[0], 8, "cur_hop_limit")
        flags = _flags(f[1], 8, _RA_FLAGS, "flags", "one byte")
        lifetime = _uint(f[2], 16, "router_lifetime")
        reachable = _uint(f[3], 32, "reachable_time")
        retrans = _uint(f[4], 32, "retrans_timer")
        return head + _RA.pack(hop, flags, lifetime, reachable, retrans) + _build_options(f[5])
    if t == 135:                                                     # RFC 4861 §4.3
        target = _bytes16(f[0], "target")
        return head + bytes(4) + target + _build_options(f[1])
    if t == 136:                                                     # RFC 4861 §4.4
        flags = _flags(f[0], 8, _NA_FLAGS, "flags", "R, S, O")
        target = _bytes16(f[1], "target")
        return head + bytes((flags, 0, 0, 0)) + target + _build_options(f[2])
    if t == 144 or t == 146:                                         # RFC 6275 §6.5, §6.7
        return head + _HH.pack(_uint(f[0], 16, "identifier"), 0)
    if t == 145:                                                     # RFC 6275 §6.6
        identifier = _uint(f[0], 16, "identifier")
        addresses = b"".join([_bytes16(a, "addresses") for a in f[1]])
        return head + _HH.pack(identifier, 0) + addresses
    if t == 147:                                                     # RFC 6275 §6.8
        identifier = _uint(f[0], 16, "identifier")
        flags = _flags(f[1], 16, _MPA_FLAGS, "flags", "M, O")
        return head + _HH.pack(identifier, flags) + _build_options(f[2])
    return head + _data(f[0], "body", 4)
