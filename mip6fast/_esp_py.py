"""Pure-Python twin of mip6fast._esp (csrc/mip6_esp.c): where ESP goes in an IPv6 packet and where it
is in a received one. Same results, same ParseError fields, reasons and offsets; csrc/mip6_esp.h
documents the walk and the checks."""
from .errors import ParseError

MAX_HEADERS = 8
_NH_HOP_BY_HOP, _NH_ROUTING, _NH_FRAGMENT, _NH_ESP, _NH_DEST_OPTS = 0, 43, 44, 50, 60
_WALKED = (_NH_HOP_BY_HOP, _NH_ROUTING, _NH_DEST_OPTS, _NH_FRAGMENT)
_OPT_PAD1, _OPT_HOME_ADDRESS = 0, 201


def _dest_options(p: bytes, off: int, length: int) -> int:
    i, end, hao = off + 2, off + length, 0
    while i < end:
        if p[i] == _OPT_PAD1:
            i += 1
            continue
        if i + 2 > end or i + 2 + p[i + 1] > end:
            raise ParseError("option runs past its header", "destination_option", i)
        if p[i] == _OPT_HOME_ADDRESS:
            if p[i + 1] != 16 or hao:
                raise ParseError("Home Address option: wrong length or a second one", "home_address", i)
            hao = i + 2
        i += 2 + p[i + 1]
    return hao


def layout(packet: bytes, unprotect: bool, tunnel: bool = False) -> tuple[int, int, int, int, int]:
    """(at, nh_at, next_header, src, dst); see mip6fast._esp.layout."""
    p = packet
    n_bytes = len(p)
    if n_bytes < 40:
        raise ParseError("shorter than an IPv6 header", "length", 0)
    if p[0] >> 4 != 6:
        raise ParseError("not IPv6", "version", 0)
    plen = (p[4] << 8) | p[5]
    if plen == 0:
        raise ParseError("payload length 0 (a jumbogram or an empty packet): not protected by ESP here",
                         "payload_length", 4)
    if n_bytes > 0xFFFF + 40 or 40 + plen != n_bytes:
        raise ParseError("payload length does not match the bytes after the IPv6 header", "payload_length", 4)
    headers: list[tuple[int, int, int, int]] = []      # (kind, offset, hao, final)
    nh, off, fragment, have_hao = p[6], 40, False, False
    while nh in _WALKED:
        if nh == _NH_HOP_BY_HOP and headers:
            raise ParseError("Hop-by-Hop options header: only right after IPv6", "next_header", off)
        if len(headers) == MAX_HEADERS:
            raise ParseError("more than 8 extension headers", "next_header", off)
        if off + 8 > n_bytes:
            raise ParseError("extension header is truncated", "extension_header", off)
        if nh == _NH_FRAGMENT:
            length, fragment = 8, True
        else:
            length = (p[off + 1] + 1) * 8
        if off + length > n_bytes:
            raise ParseError("extension header runs past the packet", "extension_header", off)
        hao = final = 0
        if nh == _NH_DEST_OPTS:
            hao = _dest_options(p, off, length)
            if hao and have_hao:
                raise ParseError("a second Home Address option", "home_address", off)
            have_hao = have_hao or bool(hao)
        elif nh == _NH_ROUTING:
            rtype, segments_left = p[off + 2], p[off + 3]
            if rtype == 2:
                if length != 24 or segments_left > 1:
                    raise ParseError("Type 2 routing header: length or segments left", "routing_header", off)
                if segments_left == 1:
                    final = off + 8
            elif segments_left:
                raise ParseError("routing header with segments left: not at its final destination yet",
                                 "routing_header", off)
        headers.append((nh, off, hao, final))
        nh, off = p[off], off + length
    if unprotect:
        if fragment:
            raise ParseError("a fragment: reassemble before ESP processing (RFC 4303 §3.4.1)", "fragment", 0)
        if nh != _NH_ESP:
            raise ParseError("no ESP header", "esp", off)
        if off + 8 > n_bytes:
            raise ParseError("ESP header is truncated", "esp", off)
        keep, at = len(headers), off
    else:
        if fragment:
            raise ParseError("a fragment: ESP is applied to whole packets, before fragmentation", "fragment", 0)
        if tunnel:
            keep = len(headers)
        else:
            keep = 0
            for i, (kind, _, hao, _) in enumerate(headers):
                if kind == _NH_DEST_OPTS and not hao and not any(h[0] == _NH_ROUTING for h in headers[i + 1:]):
                    break                    # end-to-end options: inside ESP
                keep = i + 1
        at = headers[keep][1] if keep < len(headers) else off
    nh_at = headers[keep - 1][1] if keep else 6
    src, dst = 8, 24
    for _, _, hao, final in headers[:keep]:
        if hao:
            src = hao
        if final:
            dst = final
    return at, nh_at, p[nh_at], src, dst


def trailer(plaintext: bytes) -> tuple[int, int]:
    """(next header, data length); see mip6fast._esp.trailer."""
    n = len(plaintext)
    if n < 2:
        raise ParseError("no room for the pad length and next header", "padding", 0)
    pad = plaintext[n - 2]
    if pad + 2 > n:
        raise ParseError("pad length runs past the payload", "padding", n - 2)
    start = n - 2 - pad
    for i in range(pad):
        if plaintext[start + i] != i + 1:
            raise ParseError("padding bytes are not 1, 2, 3, ...", "padding", start + i)
    return plaintext[n - 1], start


def splice(p: bytes, at: int, nh_at: int, next_header: int, a: bytes, a_length: int = -1, b: bytes = b"") -> bytes:
    """See mip6fast._esp.splice."""
    if a_length < 0:
        a_length = len(a)
    if not (0 <= nh_at < at <= len(p)) or a_length > len(a) or not 0 <= next_header <= 255:
        raise ValueError(f"splice: at {at}, nh_at {nh_at}, a_length {a_length}, next header {next_header} "
                         f"do not fit a {len(p)}-byte packet and a {len(a)}-byte part")
    if at < 40:
        raise ValueError("splice: at: ESP goes after the IPv6 header and the byte naming it")
    payload = at - 40 + a_length + len(b)
    if payload > 0xFFFF:
        raise ValueError("splice: payload_length: more than 65,535 bytes of payload")
    return b"".join((p[:4], payload.to_bytes(2, "big"), p[6:nh_at], bytes((next_header,)), p[nh_at + 1:at],
                     a[:a_length], b))
