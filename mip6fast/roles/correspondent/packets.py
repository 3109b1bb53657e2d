"""Reading IPv6 packets from their bytes, where a correspondent node needs more than ``parse``: packets
that may not parse, and the extension headers as a node without Mobile IPv6 would see them.

- ``walk``: the extension header chain as RFC 8200 §4 processes it, with the first Parameter Problem a
  node without Mobile IPv6 would send (a Type 2 routing header, a Home Address option, a Mobility
  Header are all unknown to it; RFC 6275 §6.3, §6.4, §11.3.5).
- ``strip_home_address_option``: a received packet without the Destination Options header that only
  carried its Home Address option, for the applications (§9.3.1).
"""
from __future__ import annotations

from ..interface import NH_MH

__all__ = ["HAO_TYPE", "NH_DSTOPTS", "NH_HOPOPT", "NH_ICMPV6", "NH_ROUTING", "strip_home_address_option", "walk"]

NH_HOPOPT, NH_ROUTING, NH_DSTOPTS, NH_ICMPV6 = 0, 43, 60, 58
HAO_TYPE = 201                          # RFC 6275 §6.3: 0xC9, action bits 11


def strip_home_address_option(raw: bytes) -> bytes:
    """``raw`` without its Destination Options header when that header holds a Home Address option and
    nothing but padding besides (the form a mobile node sends, §6.3); anything else is returned as is.
    The upper-layer checksum still verifies: it was computed with the home address, now the source."""
    if len(raw) < 48 or raw[6] != NH_DSTOPTS:
        return raw
    hlen = (raw[41] + 1) * 8
    if len(raw) < 40 + hlen:
        return raw
    i, end, hao = 42, 40 + hlen, 0
    while i < end:
        kind = raw[i]
        if kind == 0:                       # Pad1
            i += 1
            continue
        if i + 1 >= end:
            return raw
        size = 2 + raw[i + 1]
        if kind == HAO_TYPE and size == 18:
            hao += 1
        elif kind != 1:                     # PadN is the only other option allowed here
            return raw
        i += size
    if hao != 1 or i != end:
        return raw
    length = int.from_bytes(raw[4:6], "big") - hlen
    return raw[:4] + length.to_bytes(2, "big") + raw[40:41] + raw[7:40] + raw[40 + hlen:]


def walk(raw: bytes) -> tuple[int, int, int, tuple[int, int] | None]:
    """Walk the extension headers a node without Mobile IPv6 processes (RFC 8200 §4).

    Returns (upper-layer next header, offset of the byte that names it, offset of the upper layer,
    first problem such a node reports as (Parameter Problem code, pointer) or None): a Type 2 routing
    header with segments left is an unrecognised routing type (code 0 at the type, §4.4), a Home
    Address option an unrecognised option with action bits 11 (code 2 at its type byte, §4.2), and
    then a Mobility Header an unrecognised next header (code 1 at the byte naming it, §4)."""
    n = len(raw)
    nh, nh_field, off = raw[6], 6, 40
    problem: tuple[int, int] | None = None
    while nh in (NH_HOPOPT, NH_ROUTING, NH_DSTOPTS) and off + 2 <= n:
        hlen = (raw[off + 1] + 1) * 8
        if off + hlen > n:
            break
        if problem is None:
            if nh == NH_ROUTING and raw[off + 2] == 2 and raw[off + 3] > 0:
                problem = (0, off + 2)
            elif nh == NH_DSTOPTS:
                i = off + 2
                while i < off + hlen:
                    if raw[i] == 0:         # Pad1
                        i += 1
                        continue
                    if i + 1 >= off + hlen:
                        break
                    if raw[i] == HAO_TYPE:
                        problem = (2, i)
                        break
                    i += 2 + raw[i + 1]
        nh_field, nh, off = off, raw[off], off + hlen
    if problem is None and nh == NH_MH:
        problem = (1, nh_field)
    return nh, nh_field, off, problem
