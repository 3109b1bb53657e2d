"""When a node may send an ICMPv6 error about a packet: RFC 4443 §2.4 (e), stated once for every role.

``refusal(invoking, packet_too_big)`` reads the invoking packet's bytes (it may be malformed or a
truncated quote, which is what a Parameter Problem is often about, so nothing is parsed beyond the
headers needed) and says why no error may be sent, as the drop counter's name, or None:

- ``icmp_error_unparsable``: not even an IPv6 header to answer;
- ``icmp_error_bad_source``: the source is multicast or unspecified (§2.4 e.5, e.6: there is no one to
  answer);
- ``icmp_error_multicast``: the destination was a group, except for Packet Too Big (§2.4 e.3; the
  Parameter Problem code 2 exception is not used by these roles);
- ``icmp_error_about_error``: the packet is itself an ICMPv6 error message (§2.4 e.1), found after
  any Hop-by-Hop, Routing, Destination Options and Fragment headers inside the quote.

The rate limit (§2.4 f) is the node's ``icmp_error_bucket``, which every role's errors take from.
"""
from __future__ import annotations

__all__ = ["refusal"]

_NH_ICMPV6 = 58
_NH_FRAGMENT = 44
_EXTENSION_HEADERS = (0, 43, 60)        # Hop-by-Hop, Routing, Destination Options
_MAX_HEADERS = 8


def refusal(invoking: bytes, packet_too_big: bool = False) -> str | None:
    """See the module docstring: the reason an ICMPv6 error about ``invoking`` may not be sent, or None."""
    n = len(invoking)
    if n < 40 or invoking[0] >> 4 != 6:
        return "icmp_error_unparsable"
    if invoking[8] == 0xFF or not any(invoking[8:24]):
        return "icmp_error_bad_source"
    if invoking[24] == 0xFF and not packet_too_big:
        return "icmp_error_multicast"
    nh, off = invoking[6], 40
    for _ in range(_MAX_HEADERS):
        if nh in _EXTENSION_HEADERS and off + 2 <= n:
            nh, off = invoking[off], off + (invoking[off + 1] + 1) * 8
        elif nh == _NH_FRAGMENT and off + 8 <= n:
            nh, off = invoking[off], off + 8
        else:
            break
    if nh == _NH_ICMPV6 and off < n and invoking[off] < 128:
        return "icmp_error_about_error"
    return None
