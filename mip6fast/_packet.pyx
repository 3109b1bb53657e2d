# cython: language_level=3
"""IPv6 header and extension-header walk/build in C (csrc/mip6_ip6.c). Twin: _packet_py.py.

Raw forms are defined in docs/CODEC.md ("packet")."""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.string cimport memset
from libc.stdint cimport uint8_t
from common cimport mip6_err_t, MIP6_OK, MIP6_ESPACE
from ip6 cimport (mip6_ip6_view_t, mip6_ip6_opt_t, mip6_ip6_spec_t, mip6_ip6_walk,
                  mip6_ip6_verify_checksum, mip6_ip6_headers_len, mip6_ip6_build)

include "_errors.pxi"


cdef tuple _opts(const unsigned char *p, const mip6_ip6_opt_t *opts, int n):
    cdef list out = []
    cdef int i
    for i in range(n):
        out.append((opts[i].type, p[opts[i].data:opts[i].data + opts[i].len]))
    return tuple(out)


def parse(const unsigned char[::1] data, bint verify_checksums=True):
    """Walk one IPv6 packet; see docs/CODEC.md for the returned tuple."""
    cdef mip6_ip6_view_t v
    cdef mip6_err_t err
    cdef size_t n = data.shape[0]
    cdef const unsigned char *p = &data[0] if n else NULL
    cdef int rc
    with nogil:
        rc = mip6_ip6_walk(p, n, &v, &err)
        if rc == MIP6_OK and verify_checksums:
            rc = mip6_ip6_verify_checksum(p, &v, &err)
    if rc != MIP6_OK:
        raise _parse_error(&err)
    hbh = _opts(p, v.hbh_opts, v.n_hbh_opts) if v.hbh >= 0 else None
    rh2 = p[v.rh2 + 8:v.rh2 + 24] if v.rh2 >= 0 else None
    hao = p[v.hao:v.hao + 16] if v.hao >= 0 else None
    if v.dstopts < 0 or (v.hao >= 0 and v.n_dst_opts == 0):
        dst_opts = None
    else:
        dst_opts = _opts(p, v.dst_opts, v.n_dst_opts)
    return (v.traffic_class, v.flow_label, v.hop_limit, p[8:24], p[24:40], hbh, rh2, hao, dst_opts,
            v.upper_nh, v.upper)


cdef inline int _check_u(object value, long limit, str field) except -1:
    if not 0 <= value <= limit:
        raise ValueError(f"{field}: {value} is out of range 0..{limit}")
    return 0


cdef int _fill_opts(object opts, uint8_t *types, uint8_t *lens, const uint8_t **datas, list keep,
                    str field) except -1:
    cdef const unsigned char[::1] d
    cdef int i = 0
    opts = tuple(opts)
    if len(opts) > 16:
        raise ValueError(f"{field}: more than 16 options")
    for t, data in opts:
        _check_u(t, 255, field + " option type")
        if t in (0, 1):
            raise ValueError(f"{field}: Pad1/PadN are inserted by the builder, not passed")
        if field == "destination_options" and t == 201:
            raise ValueError(f"{field}: pass the Home Address option as home_address")
        d = data
        if d.shape[0] > 255:
            raise ValueError(f"{field}: option data longer than 255 bytes")
        keep.append(d)
        types[i] = t
        lens[i] = d.shape[0]
        datas[i] = &d[0] if d.shape[0] else NULL
        i += 1
    return i


def build(int traffic_class, long flow_label, int hop_limit, src, dst, hop_by_hop, rh2, home_address,
          destination_options, int next_header, payload):
    """Lay out headers and payload (docs/CODEC.md) and compute the ICMPv6/MH checksum."""
    cdef mip6_ip6_spec_t s
    cdef mip6_err_t err
    cdef const unsigned char[::1] vsrc, vdst, vrh2, vhao, vpay
    cdef list keep = []
    memset(&s, 0, sizeof(s))
    _check_u(traffic_class, 255, "traffic_class")
    _check_u(flow_label, 0xFFFFF, "flow_label")
    _check_u(hop_limit, 255, "hop_limit")
    _check_u(next_header, 255, "next_header")
    s.traffic_class = traffic_class
    s.flow_label = flow_label
    s.hop_limit = hop_limit
    s.next_header = next_header
    vsrc = src
    vdst = dst
    if vsrc.shape[0] != 16:
        raise ValueError("src: expected a 16-byte address")
    if vdst.shape[0] != 16:
        raise ValueError("dst: expected a 16-byte address")
    s.src = &vsrc[0]
    s.dst = &vdst[0]
    if rh2 is not None:
        vrh2 = rh2
        if vrh2.shape[0] != 16:
            raise ValueError("rh2: expected a 16-byte address")
        s.rh2 = &vrh2[0]
    if home_address is not None:
        vhao = home_address
        if vhao.shape[0] != 16:
            raise ValueError("home_address: expected a 16-byte address")
        s.hao = &vhao[0]
    if hop_by_hop is not None:
        s.has_hbh = 1
        s.n_hbh_opts = _fill_opts(hop_by_hop, s.hbh_type, s.hbh_len, s.hbh_data, keep, "hop_by_hop")
    if destination_options is not None:
        s.has_dstopts = 1
        s.n_dst_opts = _fill_opts(destination_options, s.dst_type, s.dst_len, s.dst_data, keep,
                                  "destination_options")
    vpay = payload
    cdef size_t plen = vpay.shape[0]
    cdef size_t total = mip6_ip6_headers_len(&s) + plen
    if total - 40 > 0xFFFF:
        raise ValueError("payload_length: packet exceeds 65535 payload bytes")
    out = PyBytes_FromStringAndSize(NULL, total)
    cdef int rc = mip6_ip6_build(&s, &vpay[0] if plen else NULL, plen,
                                 <unsigned char *>PyBytes_AS_STRING(out), total, &err)
    if rc < 0:
        raise ValueError(f"{err.field.decode()}: {err.reason.decode()}")
    return out
