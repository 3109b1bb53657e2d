"""ICMPv6 and neighbour-discovery codec (compiled): raw form <-> bytes over csrc/mip6_icmp6.c.

Raw forms, error fields and check order: docs/CODEC.md, section "icmp6". The pure-Python twin with the
same behaviour is mip6fast/_icmp6_py.py. Value checks happen here, before C is called, in raw-form order
and with the twin's messages, so both raise the same ValueError for the same input; the C builder
repeats the checks that matter to C callers.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int16_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from common cimport MIP6_EINVAL, MIP6_OK, mip6_err_t
from icmp6 cimport mip6_icmp6_build, mip6_icmp6_build_len, mip6_icmp6_parse, mip6_icmp6_t, mip6_nd_opt_t

include "_errors.pxi"

MAX_OPTIONS = 64
MAX_OPTION_DATA = 2038

# Fields of each known type's raw form (docs/CODEC.md); any other type takes (body,).
cdef dict _ARITY = {1: 1, 2: 2, 3: 1, 4: 2, 128: 3, 129: 3, 133: 1, 134: 6, 135: 2, 136: 3,
                    144: 1, 145: 2, 146: 1, 147: 3}


# ---------------------------------------------------------------- value checks (same text as the twin)

cdef inline uint32_t _uint(object v, int bits, str field) except? 0xFFFFFFFF:
    cdef long long x
    if type(v) is not int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{field}: expected an int, got {type(v).__name__}")
    try:
        x = v
    except OverflowError:
        x = -1
    if x < 0 or x >= (1LL << bits):
        raise ValueError(f"{field}: {v} does not fit in {bits} unsigned bits")
    return <uint32_t>x


cdef inline int16_t _int16(object v, str field) except? -32768:
    cdef long long x
    if type(v) is not int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{field}: expected an int, got {type(v).__name__}")
    try:
        x = v
    except OverflowError:
        x = 1LL << 40
    if x < -32768 or x > 32767:
        raise ValueError(f"{field}: {v} does not fit in 16 signed bits")
    return <int16_t>x


cdef inline bytes _bytes(object v, str field):
    if type(v) is bytes:
        return <bytes>v
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    raise TypeError(f"{field}: expected bytes, got {type(v).__name__}")


cdef inline bytes _bytes16(object v, str field):
    cdef bytes b = _bytes(v, field)
    if PyBytes_GET_SIZE(b) != 16:
        raise ValueError(f"{field}: expected 16 bytes, got {PyBytes_GET_SIZE(b)}")
    return b


cdef inline void _span(mip6_icmp6_t *m, bytes b):
    m.data.off = 0
    m.data.len = <size_t>PyBytes_GET_SIZE(b)
    m.data.ptr = <const uint8_t *>PyBytes_AS_STRING(b)


# ---------------------------------------------------------------- parse

cdef inline bytes _slice(const uint8_t *buf, size_t off, size_t n):
    return PyBytes_FromStringAndSize(<const char *>(buf + off), <Py_ssize_t>n)


cdef tuple _options(const mip6_icmp6_t *m, const uint8_t *buf):
    cdef size_t i
    cdef const mip6_nd_opt_t *o
    cdef list out = []
    for i in range(m.n_options):
        o = &m.options[i]
        if o.type == 3:
            value = (o.v.prefix.prefix_length, o.v.prefix.flags, o.v.prefix.valid_lifetime,
                     o.v.prefix.preferred_lifetime,
                     PyBytes_FromStringAndSize(<const char *>o.v.prefix.prefix, 16))
        elif o.type == 5:
            value = o.v.mtu
        elif o.type == 7:
            value = o.v.adv_interval
        elif o.type == 8:
            value = (o.v.ha_info.preference, o.v.ha_info.lifetime)
        else:
            value = _slice(buf, o.v.data.off, o.v.data.len)
        out.append((o.type, value))
    return tuple(out)


def parse(data):
    """Parse one whole ICMPv6 message into ``(icmp_type, code, fields)``; ParseError when malformed."""
    cdef const unsigned char[::1] view
    cdef const uint8_t *buf = NULL
    cdef size_t n = 0
    cdef mip6_icmp6_t m
    cdef mip6_err_t err
    cdef int rc
    cdef size_t i
    cdef uint8_t t

    if type(data) is bytes:
        buf = <const uint8_t *>PyBytes_AS_STRING(data)
        n = <size_t>PyBytes_GET_SIZE(data)
    else:
        try:
            view = data
        except (TypeError, ValueError, BufferError):
            # A buffer with another item format or a non-contiguous one: its bytes, as the twin sees it.
            view = bytes(memoryview(data))
        n = <size_t>view.shape[0]
        if n:
            buf = &view[0]
    with nogil:
        rc = mip6_icmp6_parse(buf, n, &m, &err)
    if rc != MIP6_OK:
        raise _parse_error(&err)

    t = m.type
    if t == 1 or t == 3:
        fields = (_slice(buf, m.data.off, m.data.len),)
    elif t == 2:
        fields = (m.mtu, _slice(buf, m.data.off, m.data.len))
    elif t == 4:
        fields = (m.pointer, _slice(buf, m.data.off, m.data.len))
    elif t == 128 or t == 129:
        fields = (m.identifier, m.sequence, _slice(buf, m.data.off, m.data.len))
    elif t == 133:
        fields = (_options(&m, buf),)
    elif t == 134:
        fields = (m.cur_hop_limit, m.flags, m.router_lifetime, m.reachable_time, m.retrans_timer,
                  _options(&m, buf))
    elif t == 135:
        fields = (PyBytes_FromStringAndSize(<const char *>m.target, 16), _options(&m, buf))
    elif t == 136:
        fields = (m.flags, PyBytes_FromStringAndSize(<const char *>m.target, 16), _options(&m, buf))
    elif t == 144 or t == 146:
        fields = (m.identifier,)
    elif t == 145:
        fields = (m.identifier,
                  tuple([_slice(buf, m.data.off + i * 16, 16) for i in range(m.data.len // 16)]))
    elif t == 147:
        fields = (m.identifier, m.flags, _options(&m, buf))
    else:
        fields = (_slice(buf, m.data.off, m.data.len),)
    return (t, m.code, fields)


# ---------------------------------------------------------------- build

cdef int _fill_options(mip6_icmp6_t *m, object options, list keep) except -1:
    cdef tuple opts = tuple(options)
    cdef Py_ssize_t i
    cdef mip6_nd_opt_t *o
    cdef bytes b
    cdef uint32_t plen, pflags
    if len(opts) > MAX_OPTIONS:
        raise ValueError("options: more than 64 options")
    m.n_options = 0
    for i in range(len(opts)):
        otype, value = opts[i]
        o = &m.options[i]
        o.type = <uint8_t>_uint(otype, 8, "option_type")
        o.length = 0
        o.offset = 0
        if o.type == 3:
            prefix_length, flags, valid, preferred, prefix = value
            plen = _uint(prefix_length, 8, "prefix_length")
            if plen > 128:
                raise ValueError("prefix_length: greater than 128")
            pflags = _uint(flags, 8, "prefix_flags")
            if pflags & ~0xE0u:
                raise ValueError("prefix_flags: bits other than L, A, R set")
            o.v.prefix.prefix_length = <uint8_t>plen
            o.v.prefix.flags = <uint8_t>pflags
            o.v.prefix.valid_lifetime = _uint(valid, 32, "valid_lifetime")
            o.v.prefix.preferred_lifetime = _uint(preferred, 32, "preferred_lifetime")
            b = _bytes16(prefix, "prefix")
            memcpy(o.v.prefix.prefix, PyBytes_AS_STRING(b), 16)
        elif o.type == 5:
            o.v.mtu = _uint(value, 32, "mtu")
        elif o.type == 7:
            o.v.adv_interval = _uint(value, 32, "interval")
        elif o.type == 8:
            preference, lifetime = value
            o.v.ha_info.preference = _int16(preference, "preference")
            o.v.ha_info.lifetime = <uint16_t>_uint(lifetime, 16, "lifetime")
        else:
            b = _bytes(value, "option_data")
            if PyBytes_GET_SIZE(b) > MAX_OPTION_DATA:
                raise ValueError("option_data: longer than 2038 bytes")
            keep.append(b)
            o.v.data.off = 0
            o.v.data.len = <size_t>PyBytes_GET_SIZE(b)
            o.v.data.ptr = <const uint8_t *>PyBytes_AS_STRING(b)
        m.n_options = <size_t>(i + 1)
    return 0


def build(icmp_type, code, fields):
    """Bytes of the message ``(icmp_type, code, fields)``, checksum zero; ValueError names a bad field."""
    cdef mip6_icmp6_t m
    cdef mip6_err_t err
    cdef list keep = []
    cdef bytes b, out
    cdef uint8_t t
    cdef size_t need
    cdef int rc
    cdef uint32_t flags

    t = <uint8_t>_uint(icmp_type, 8, "icmp_type")
    m.type = t
    m.code = <uint8_t>_uint(code, 8, "code")
    m.n_options = 0
    m.data.off = 0
    m.data.len = 0
    m.data.ptr = NULL
    f = tuple(fields)
    arity = _ARITY.get(t, 1)
    if len(f) != arity:
        raise ValueError(f"fields: type {t} takes {arity} fields, got {len(f)}")

    if t == 1 or t == 3:
        b = _bytes(f[0], "invoking")
        _span(&m, b)
    elif t == 2 or t == 4:
        if t == 2:
            m.mtu = _uint(f[0], 32, "mtu")
        else:
            m.pointer = _uint(f[0], 32, "pointer")
        b = _bytes(f[1], "invoking")
        _span(&m, b)
    elif t == 128 or t == 129:
        m.identifier = <uint16_t>_uint(f[0], 16, "identifier")
        m.sequence = <uint16_t>_uint(f[1], 16, "sequence")
        b = _bytes(f[2], "data")
        _span(&m, b)
    elif t == 133:
        _fill_options(&m, f[0], keep)
    elif t == 134:
        m.cur_hop_limit = <uint8_t>_uint(f[0], 8, "cur_hop_limit")
        m.flags = <uint16_t>_uint(f[1], 8, "flags")      # the whole byte (RFC 4191 §2.2 Prf, ...)
        m.router_lifetime = <uint16_t>_uint(f[2], 16, "router_lifetime")
        m.reachable_time = _uint(f[3], 32, "reachable_time")
        m.retrans_timer = _uint(f[4], 32, "retrans_timer")
        _fill_options(&m, f[5], keep)
    elif t == 135:
        b = _bytes16(f[0], "target")
        memcpy(m.target, PyBytes_AS_STRING(b), 16)
        _fill_options(&m, f[1], keep)
    elif t == 136:
        flags = _uint(f[0], 8, "flags")
        if flags & ~0xE0u:
            raise ValueError("flags: bits other than R, S, O set")
        m.flags = <uint16_t>flags
        b = _bytes16(f[1], "target")
        memcpy(m.target, PyBytes_AS_STRING(b), 16)
        _fill_options(&m, f[2], keep)
    elif t == 144 or t == 146:
        m.identifier = <uint16_t>_uint(f[0], 16, "identifier")
    elif t == 145:
        m.identifier = <uint16_t>_uint(f[0], 16, "identifier")
        b = b"".join([_bytes16(a, "addresses") for a in f[1]])
        _span(&m, b)
    elif t == 147:
        m.identifier = <uint16_t>_uint(f[0], 16, "identifier")
        flags = _uint(f[1], 16, "flags")
        if flags & ~0xC000u:
            raise ValueError("flags: bits other than M, O set")
        m.flags = <uint16_t>flags
        _fill_options(&m, f[2], keep)
    else:
        b = _bytes(f[0], "body")
        _span(&m, b)

    need = mip6_icmp6_build_len(&m)
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>need)
    rc = mip6_icmp6_build(&m, <uint8_t *>PyBytes_AS_STRING(out), need, &err)
    if rc < 0:
        if rc == MIP6_EINVAL:
            raise ValueError(f"{err.field.decode()}: {err.reason.decode()}")
        raise RuntimeError(f"mip6_icmp6_build: {err.reason.decode()}")  # ESPACE: a bug in build_len
    return out
