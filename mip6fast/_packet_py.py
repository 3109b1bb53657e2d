"""Pure-Python twin of mip6fast._packet (csrc/mip6_ip6.c): same raw forms, same errors, same bytes."""
import struct

from ._checksum_py import pseudo_checksum
from .errors import ParseError

HOPOPT, ROUTING, DSTOPTS, ICMPV6, MH = 0, 43, 60, 58, 135
PAD1, PADN, HAO = 0, 1, 201
CSUM_OFFSET = {58: 2, 135: 4, 17: 6, 6: 16}
MAX_OPTS = 16


def _walk_options(buf, end, off, is_dst, state):
    if off + 8 > end:
        raise ParseError("truncated extension header", "extension_header", off)
    hlen = (buf[off + 1] + 1) * 8
    if off + hlen > end:
        raise ParseError("extension header runs past the packet", "header_ext_len", off + 1)
    opts = []
    i, hend = off + 2, off + hlen
    while i < hend:
        t = buf[i]
        if t == PAD1:
            i += 1
            continue
        if i + 2 > hend:
            raise ParseError("truncated option", "option", i)
        ln = buf[i + 1]
        if i + 2 + ln > hend:
            raise ParseError("option runs past its header", "option_length", i + 1)
        if t == PADN:
            i += 2 + ln
            continue
        if is_dst and t == HAO:
            if state["hao"] is not None:
                raise ParseError("more than one Home Address option", "home_address_option", i)
            if ln != 16:
                raise ParseError("Home Address option length must be 16", "option_length", i + 1)
            if (i - off) % 8 != 6:
                raise ParseError("Home Address option not at 8n+6", "option_alignment", i)
            state["hao"] = buf[i + 2:i + 18]
        else:
            if not is_dst and t == 0xC2:
                raise ParseError("jumbo payload option not supported", "option", i)
            if len(opts) == MAX_OPTS:
                raise ParseError("too many options", "option", i)
            opts.append((t, buf[i + 2:i + 2 + ln]))
        i += 2 + ln
    return hlen, tuple(opts)


def parse(data, verify_checksums=True):
    buf = bytes(data)
    n = len(buf)
    if n < 40:
        raise ParseError("truncated IPv6 header", "ipv6_header", 0)
    if buf[0] >> 4 != 6:
        raise ParseError("not IPv6", "version", 0)
    tc = ((buf[0] & 0x0F) << 4) | (buf[1] >> 4)
    flow = ((buf[1] & 0x0F) << 16) | (buf[2] << 8) | buf[3]
    plen, nh, hlim = struct.unpack_from("!HBB", buf, 4)
    if plen == 0 and n > 40:
        raise ParseError("zero payload length with data (jumbograms are not supported)", "payload_length", 4)
    if 40 + plen > n:
        raise ParseError("payload length exceeds the packet", "payload_length", 4)
    if 40 + plen < n:
        raise ParseError("bytes beyond the payload length", "payload_length", 4)

    state = {"hao": None}
    hbh = rh2 = None
    dst_opts = None
    have_dst = False
    nh_field, off = 6, 40
    while True:
        if nh == HOPOPT:
            if off != 40:
                raise ParseError("hop-by-hop options header not first", "next_header", nh_field)
            hlen, hbh = _walk_options(buf, n, off, False, state)
        elif nh == ROUTING:
            if rh2 is not None:
                raise ParseError("more than one routing header", "next_header", nh_field)
            if have_dst:
                raise ParseError("routing header after the destination options header", "next_header", nh_field)
            if off + 8 > n:
                raise ParseError("truncated routing header", "routing_header", off)
            hlen = (buf[off + 1] + 1) * 8
            if off + hlen > n:
                raise ParseError("routing header runs past the packet", "header_ext_len", off + 1)
            if buf[off + 2] == 0:
                raise ParseError("routing type 0 is deprecated (RFC 5095)", "routing_type", off + 2)
            if buf[off + 2] != 2:
                raise ParseError("unsupported routing type", "routing_type", off + 2)
            if buf[off + 1] != 2:
                raise ParseError("type 2 routing header length must be 2", "header_ext_len", off + 1)
            if buf[off + 3] != 1:
                raise ParseError("type 2 routing header must have segments left 1", "segments_left", off + 3)
            rh2 = buf[off + 8:off + 24]
        elif nh == DSTOPTS:
            if have_dst:
                raise ParseError("more than one destination options header", "next_header", nh_field)
            hlen, dst_opts = _walk_options(buf, n, off, True, state)
            have_dst = True
        else:
            break
        nh_field = off
        nh = buf[off]
        off += hlen

    hao = state["hao"]
    if verify_checksums and nh in (ICMPV6, MH):
        ps = hao if hao is not None else buf[8:24]
        pd = rh2 if rh2 is not None else buf[24:40]
        if pseudo_checksum(ps, pd, nh, buf[off:]) != 0:
            raise ParseError("bad checksum", "checksum", off + CSUM_OFFSET[nh])
    if not have_dst or (hao is not None and not dst_opts):
        dst_opts = None
    return (tc, flow, hlim, buf[8:24], buf[24:40], hbh, rh2, hao, dst_opts, nh, off)


def _check_u(value, limit, field):
    if not 0 <= value <= limit:
        raise ValueError(f"{field}: {value} is out of range 0..{limit}")


def _addr(value, field):
    raw = bytes(value)
    if len(raw) != 16:
        raise ValueError(f"{field}: expected a 16-byte address")
    return raw


def _pad(n):
    if n == 0:
        return b""
    if n == 1:
        return b"\0"
    return bytes((PADN, n - 2)) + bytes(n - 2)


def _opts_bytes(opts, field):
    opts = tuple(opts)
    if len(opts) > MAX_OPTS:
        raise ValueError(f"{field}: more than 16 options")
    out = bytearray()
    for t, data in opts:
        _check_u(t, 255, field + " option type")
        if t in (0, 1):
            raise ValueError(f"{field}: Pad1/PadN are inserted by the builder, not passed")
        if field == "destination_options" and t == 201:
            raise ValueError(f"{field}: pass the Home Address option as home_address")
        data = bytes(data)
        if len(data) > 255:
            raise ValueError(f"{field}: option data longer than 255 bytes")
        out += bytes((t, len(data))) + data
    return bytes(out)


def _ext(next_header, body):
    """An options header: next header, length in 8-octet units, body, padding to a multiple of 8."""
    size = (2 + len(body) + 7) & ~7
    return bytes((next_header, size // 8 - 1)) + body + _pad(size - 2 - len(body))


def build(traffic_class, flow_label, hop_limit, src, dst, hop_by_hop, rh2, home_address,
          destination_options, next_header, payload):
    _check_u(traffic_class, 255, "traffic_class")
    _check_u(flow_label, 0xFFFFF, "flow_label")
    _check_u(hop_limit, 255, "hop_limit")
    _check_u(next_header, 255, "next_header")
    src = _addr(src, "src")
    dst = _addr(dst, "dst")
    rh2 = None if rh2 is None else _addr(rh2, "rh2")
    hao = None if home_address is None else _addr(home_address, "home_address")
    hbh_body = None if hop_by_hop is None else _opts_bytes(hop_by_hop, "hop_by_hop")
    dst_body = None if destination_options is None else _opts_bytes(destination_options, "destination_options")
    payload = bytes(payload)

    want_dst = hao is not None or dst_body is not None
    chain = ([HOPOPT] if hbh_body is not None else []) + ([ROUTING] if rh2 is not None else []) + \
            ([DSTOPTS] if want_dst else []) + [next_header]
    headers = []
    c = 1
    if hbh_body is not None:
        headers.append(_ext(chain[c], hbh_body))
        c += 1
    if rh2 is not None:
        # RFC 6275 §6.4: length 2, type 2, segments left 1, reserved, one address.
        headers.append(struct.pack("!BBBB4x", chain[c], 2, 2, 1) + rh2)
        c += 1
    if want_dst:
        body = b""
        if hao is not None:
            body = _pad(4) + bytes((HAO, 16)) + hao  # type byte at 8n+6 (RFC 6275 §6.3)
        body += dst_body or b""
        headers.append(_ext(chain[c], body))
    if hbh_body is not None and len(headers[0]) > 2048:
        raise ValueError("hop_by_hop: options exceed one header (2048 bytes)")
    if want_dst and len(headers[-1]) > 2048:
        raise ValueError("destination_options: options exceed one header (2048 bytes)")
    ext = b"".join(headers)
    plen = len(ext) + len(payload)
    if plen > 0xFFFF:
        raise ValueError("payload_length: packet exceeds 65535 payload bytes")
    if next_header in (ICMPV6, MH) and len(payload) >= CSUM_OFFSET[next_header] + 2:
        co = CSUM_OFFSET[next_header]
        payload = payload[:co] + b"\0\0" + payload[co + 2:]
        csum = pseudo_checksum(hao if hao is not None else src, rh2 if rh2 is not None else dst,
                               next_header, payload)
        payload = payload[:co] + struct.pack("!H", csum) + payload[co + 2:]
    first = struct.pack("!IHBB", (6 << 28) | (traffic_class << 20) | flow_label, plen, chain[0], hop_limit)
    return first + src + dst + ext + payload
