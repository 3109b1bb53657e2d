# Mobility Header codec (RFC 6275 §6.1-6.2, and the options of RFC 4283 and RFC 4285): the Cython skin over
# csrc/mip6_mh.c.
#
# parse(data) -> (mh_type, fields, options); build(mh_type, fields, options) -> bytes. The contract is
# docs/CODEC.md ("mh"); mip6fast/_mh_py.py is the pure-Python twin and must behave identically, down to
# the order in which build() checks its arguments (values here, structure in C).
from libc.stdint cimport uint8_t, uint16_t
from libc.string cimport memset
from common cimport mip6_err_t, MIP6_EINVAL
from mh cimport *

include "_errors.pxi"

cdef enum:
    _OUT_CAP = 2048  # MIP6_MH_MAX_LEN: the largest MH the 8-bit Header Len can describe


cdef object _uint(object value, int bits, str field):
    if not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, got {type(value).__name__}")
    if not 0 <= value < (<object>1) << bits:  # a Python shift: 1 << 32 or 64 overflows a C int
        raise ValueError(f"{field}: {value} does not fit in {bits} unsigned bits")
    return value


cdef bytes _bytes(object value, Py_ssize_t size, str field):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected {size} bytes, got {type(value).__name__}")
    cdef bytes raw = bytes(value)
    if len(raw) != size:
        raise ValueError(f"{field}: expected {size} bytes, got {len(raw)}")
    return raw


cdef bytes _any_bytes(object value, str field):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected bytes, got {type(value).__name__}")
    return bytes(value)


cdef _arity(tuple fields, Py_ssize_t count, int mh_type):
    if len(fields) != count:
        raise ValueError(f"fields: MH type {mh_type} takes {count} fields, got {len(fields)}")


cdef inline const uint8_t *_ptr(bytes raw):
    return <const uint8_t *><const char *>raw


def parse(data):
    """One whole Mobility Header (any bytes-like object) -> ``(mh_type, fields, options)``.

    Raises ``ParseError(reason, field, offset)`` for malformed input, as docs/CODEC.md lists.
    """
    cdef const unsigned char[::1] view
    cdef mip6_mh_t mh
    cdef mip6_err_t err
    cdef const uint8_t *buf = NULL
    cdef const mip6_mh_opt_t *opt
    cdef size_t i

    if data is None:  # a typed memoryview would accept None
        raise TypeError("a bytes-like object is required, not 'NoneType'")
    try:
        view = data
    except (ValueError, BufferError):
        # Not a C-contiguous buffer of bytes (a strided memoryview, an array of wider items): take a
        # contiguous copy of its bytes, as the twin does.
        view = memoryview(data).tobytes()
    if view.shape[0] > 0:
        buf = &view[0]
    if mip6_mh_parse(buf, <size_t>view.shape[0], &mh, &err) != 0:
        raise _parse_error(&err)

    t = mh.mh_type
    if t == MIP6_MH_BRR:
        fields = ()
    elif t == MIP6_MH_HOTI or t == MIP6_MH_COTI:
        fields = ((<const char *>mh.cookie)[:8],)
    elif t == MIP6_MH_HOT or t == MIP6_MH_COT:
        fields = (mh.nonce_index, (<const char *>mh.cookie)[:8], (<const char *>mh.keygen_token)[:8])
    elif t == MIP6_MH_BU:
        fields = (mh.sequence, mh.flags, mh.lifetime)
    elif t == MIP6_MH_BA:
        fields = (mh.status, mh.flags, mh.sequence, mh.lifetime)
    elif t == MIP6_MH_BE:
        fields = (mh.status, (<const char *>mh.home_address)[:16])
    elif t == MIP6_MH_HAS:
        fields = (tuple((<const char *>mh.addresses)[16 * i:16 * i + 16] for i in range(mh.n_addresses)),)
    else:
        return t, ((<const char *>mh.body)[:mh.body_len],), ()

    options = []
    for i in range(mh.n_options):
        opt = &mh.options[i]
        if opt.type == MIP6_MHOPT_BRA:
            value = opt.value[0]
        elif opt.type == MIP6_MHOPT_NONCE:
            value = (opt.value[0], opt.value[1])
        elif opt.type == MIP6_MHOPT_MNID:
            value = (opt.subtype, (<const char *>opt.data)[:opt.len - 1])
        elif opt.type == MIP6_MHOPT_AUTH:
            value = (opt.subtype, opt.spi, (<const char *>opt.data)[:opt.len - 5])
        elif opt.type == MIP6_MHOPT_MESGID:
            value = opt.timestamp
        else:
            value = (<const char *>opt.data)[:opt.len]
        options.append((opt.type, value))
    return t, fields, tuple(options)


def build(mh_type, fields, options):
    """``(mh_type, fields, options)`` -> the Mobility Header's bytes, checksum zero.

    Canonical padding is inserted; a value the wire cannot carry raises ``ValueError`` naming it.
    """
    cdef mip6_mh_t mh
    cdef mip6_err_t err
    cdef uint8_t out[_OUT_CAP]
    cdef mip6_mh_opt_t *opt
    cdef Py_ssize_t i
    cdef int rc
    cdef bytes cookie, token, home_address, body, raw, addresses

    memset(&mh, 0, sizeof(mh))
    t = _uint(mh_type, 8, "mh_type")
    mh.mh_type = <uint8_t>t
    fields = tuple(fields)
    # Values first, in field order (the twin converts them in the same order).
    if t == MIP6_MH_BRR:
        _arity(fields, 0, t)
    elif t == MIP6_MH_HOTI or t == MIP6_MH_COTI:
        _arity(fields, 1, t)
        cookie = _bytes(fields[0], 8, "home_init_cookie" if t == MIP6_MH_HOTI else "care_of_init_cookie")
        mh.cookie = _ptr(cookie)
    elif t == MIP6_MH_HOT or t == MIP6_MH_COT:
        _arity(fields, 3, t)
        prefix = "home" if t == MIP6_MH_HOT else "care_of"
        mh.nonce_index = _uint(fields[0], 16, f"{prefix}_nonce_index")
        cookie = _bytes(fields[1], 8, f"{prefix}_init_cookie")
        token = _bytes(fields[2], 8, f"{prefix}_keygen_token")
        mh.cookie = _ptr(cookie)
        mh.keygen_token = _ptr(token)
    elif t == MIP6_MH_BU:
        _arity(fields, 3, t)
        mh.sequence = _uint(fields[0], 16, "sequence")
        mh.flags = _uint(fields[1], 16, "flags")
        mh.lifetime = _uint(fields[2], 16, "lifetime_units")
    elif t == MIP6_MH_BA:
        _arity(fields, 4, t)
        mh.status = _uint(fields[0], 8, "status")
        mh.flags = _uint(fields[1], 8, "flags")
        mh.sequence = _uint(fields[2], 16, "sequence")
        mh.lifetime = _uint(fields[3], 16, "lifetime_units")
    elif t == MIP6_MH_BE:
        _arity(fields, 2, t)
        mh.status = _uint(fields[0], 8, "status")
        home_address = _bytes(fields[1], 16, "home_address")
        mh.home_address = _ptr(home_address)
    elif t == MIP6_MH_HAS:
        _arity(fields, 1, t)
        if isinstance(fields[0], (bytes, bytearray, memoryview, str)):
            raise TypeError("home_agent_addresses: expected a sequence of 16-byte addresses")
        listed = tuple(fields[0])
        if len(listed) > MIP6_MH_HAS_MAX_ADDRESSES:
            raise ValueError(f"n_addresses: at most {MIP6_MH_HAS_MAX_ADDRESSES} home agent addresses fit in "
                             f"a message, got {len(listed)}")
        addresses = b"".join([_bytes(a, 16, "home_agent_address") for a in listed])
        mh.n_addresses = <uint8_t>len(listed)
        mh.addresses = _ptr(addresses)
    else:
        _arity(fields, 1, t)
        body = _any_bytes(fields[0], "body")
        mh.body = _ptr(body)
        mh.body_len = <size_t>len(body)

    options = tuple(options)
    if len(options) > MIP6_MH_MAX_OPTIONS:
        raise ValueError(f"options: at most {MIP6_MH_MAX_OPTIONS} mobility options, got {len(options)}")
    keep = []  # the option data bytes the C struct points into, alive until the build is done
    for i in range(len(options)):
        item = tuple(options[i])
        if len(item) != 2:
            raise ValueError("options: each option is (option_type, value)")
        opt_type = _uint(item[0], 8, "option_type")
        value = item[1]
        opt = &mh.options[i]
        opt.type = <uint8_t>opt_type
        if opt_type == MIP6_MHOPT_BRA:
            opt.value[0] = _uint(value, 16, "binding_refresh_advice")
            opt.len = 2
        elif opt_type == MIP6_MHOPT_NONCE:
            pair = tuple(value)
            if len(pair) != 2:
                raise ValueError("nonce_indices: expected (home_nonce_index, care_of_nonce_index)")
            opt.value[0] = _uint(pair[0], 16, "home_nonce_index")
            opt.value[1] = _uint(pair[1], 16, "care_of_nonce_index")
            opt.len = 4
        elif opt_type == MIP6_MHOPT_MESGID:
            opt.timestamp = _uint(value, 64, "timestamp")
            opt.len = 8
        elif opt_type == MIP6_MHOPT_MNID:
            pair = tuple(value)
            if len(pair) != 2:
                raise ValueError("mobile_node_identifier: expected (subtype, identifier)")
            opt.subtype = _uint(pair[0], 8, "mn_id_subtype")
            raw = _any_bytes(pair[1], "identifier")
            if not 1 <= len(raw) <= 254:
                raise ValueError(f"identifier: 1 to 254 bytes, got {len(raw)}")
            keep.append(raw)
            opt.data = _ptr(raw)
            opt.len = <uint8_t>(1 + len(raw))
        elif opt_type == MIP6_MHOPT_AUTH:
            triple = tuple(value)
            if len(triple) != 3:
                raise ValueError("mobility_message_authentication: "
                                 "expected (subtype, spi, authentication_data)")
            opt.subtype = _uint(triple[0], 8, "auth_subtype")
            opt.spi = _uint(triple[1], 32, "mobility_spi")
            raw = _any_bytes(triple[2], "authentication_data")
            if not 1 <= len(raw) <= 250:
                raise ValueError(f"authentication_data: 1 to 250 bytes, got {len(raw)}")
            keep.append(raw)
            opt.data = _ptr(raw)
            opt.len = <uint8_t>(5 + len(raw))
        else:
            if opt_type == MIP6_MHOPT_ALTCOA:
                raw = _bytes(value, 16, "alternate_care_of_address")
            elif opt_type == MIP6_MHOPT_BAD:
                raw = _bytes(value, 12, "binding_authorization_data")
            else:
                raw = _any_bytes(value, "option_data")
                if len(raw) > 255:
                    raise ValueError(f"option_data: at most 255 bytes, got {len(raw)}")
            keep.append(raw)
            opt.data = _ptr(raw)
            opt.len = <uint8_t>len(raw)
    mh.n_options = <size_t>len(options)

    rc = mip6_mh_build(&mh, out, _OUT_CAP, &err)
    if rc < 0:
        if rc == MIP6_EINVAL:
            raise ValueError(f"{err.field.decode()}: {err.reason.decode()}")
        raise RuntimeError(f"mip6_mh_build failed with {rc}")  # a 2048-byte buffer always suffices
    return (<const char *>out)[:rc]
