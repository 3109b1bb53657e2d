"""ESP (RFC 4303) for IPv6 packets, in the engine's own packet path.

Theory of operation. The engine owns its interfaces (AF_PACKET), so the kernel's XFRM never sees a
Binding Update: ESP is applied and removed here, on IPv6 packets as bytes.

``protect(packet, sa)`` inserts an ESP header where RFC 4303 and RFC 6275 put it and encrypts what
follows:

    transport mode (RFC 4303 §3.1.1; RFC 6275 §6.3, §11.3.2 for the Home Address option):
      before:  IPv6 | Hop-by-Hop | Routing (type 2) | Dest. options (HAO) |        MH (BU) ...
      after:   IPv6 | Hop-by-Hop | Routing (type 2) | Dest. options (HAO) | ESP | MH (BU) ... | trailer | ICV
    ESP follows the Hop-by-Hop, Routing and Fragment headers, a Destination Options header that comes
    before a routing header, and the Destination Options header carrying the Home Address option, which
    must stay readable so that the receiver can select and check the SA by home address before
    decrypting. A Destination Options header without a HAO after the routing header is end-to-end and
    goes inside ESP. (scapy, following Linux, puts ESP after a routing header but before any later
    Destination Options header, HAO or not; MN-HA traffic never has both, see tests/test_esp_scapy.py.)

    tunnel mode (RFC 4303 §3.1.2), for the reverse tunnel (RFC 3776, RFC 4877):
      before:  outer IPv6 (CoA <-> HA) |       inner IPv6 packet
      after:   outer IPv6 (CoA <-> HA) | ESP | inner IPv6 packet | trailer | ICV
    The input is the IPv6-in-IPv6 packet the tunnel kernels already build (outer header, traffic class,
    ECN and hop limit rules stay where they are: csrc/mip6_tunnel.c); ESP goes right before the inner
    packet and its next header in the trailer is 41.

Every time: the ESP header's next header byte replaces the previous header's, the Payload Length grows
by the ESP overhead, the trailer pads with 1, 2, 3, ... (RFC 4303 §2.4) to the algorithm's alignment
and carries the pad length and the protected next header, and the ICV covers ESP header, IV and
ciphertext (and ESN's high bits).

``unprotect(packet, lookup)`` is the inverse. In order (RFC 4303 §3.4, RFC 4301 §5.2):
  1. walk the headers before ESP (Hop-by-Hop, Routing, Destination Options) - no ESP: NotProtected;
     a fragment: MalformedPacket (reassemble first, §3.4.1);
  2. SPI -> SA via ``lookup`` - none: UnknownSpi;
  3. anti-replay pre-check on the sequence number (with ESN, its inferred high half) - ReplayedPacket;
  4. ICV - AuthenticationFailed; only now does the window move;
  5. decrypt, check padding and pad length - MalformedPacket; next header 59 - DummyPacket;
  6. selectors: the home address the packet claims (the HAO before ESP, or the Type 2 routing header's
     address, or the inner packet's source/destination in tunnel mode) must be the SA's home address,
     the other end the SA's home agent, the protocol one the SA carries - PolicyViolation. This is
     what keeps mobile node A from registering B's home address with A's keys.
It returns an ``Unprotected``: the packet without ESP (transport: the packet as the sender built it;
tunnel: the IPv6-in-IPv6 packet, for the decapsulation kernels), the SA, the sequence number. Every
refusal is an ``EspError`` counted on the SA when one was found (``SaCounters``); nothing else escapes
for any input bytes.

Packets are handled as they come off the wire: Home Address option and Type 2 routing header not yet
processed (no address swapped).
"""
from __future__ import annotations

import struct
from ipaddress import IPv6Address
from typing import Callable, NamedTuple, Optional

from .._impl import load
from ..errors import ParseError
from .algorithms import IntegrityError
from .errors import (
    AuthenticationFailed,
    DummyPacket,
    MalformedPacket,
    NotProtected,
    PolicyViolation,
    ReplayedPacket,
    UnknownSpi,
)
from .sa import Direction, Mode, SecurityAssociation

NH_HOP_BY_HOP = 0
NH_IPV6 = 41
NH_ROUTING = 43
NH_FRAGMENT = 44
NH_ESP = 50
NH_AH = 51
NH_NONE = 59
NH_DEST_OPTS = 60
OPT_PAD1 = 0
OPT_HOME_ADDRESS = 201
IPV6_HEADER = 40
ESP_HEADER = 8
MAX_EXTENSION_HEADERS = 8     # before ESP; a BU has one, a BA one
MAX_PAYLOAD_LENGTH = 0xFFFF   # no jumbograms (RFC 2675) on this path
_PADDING = bytes(range(1, 256))
_BYTE = [bytes((b,)) for b in range(256)]
_U32 = struct.Struct("!I").unpack_from
_ESP_HEADER = struct.Struct("!II").pack
_esp = load("esp")
_layout, _trailer, _splice = _esp.layout, _esp.trailer, _esp.splice

Lookup = Callable[[int], Optional[SecurityAssociation]]


class Opened(NamedTuple):
    """``open_payload``'s result: the protected next header and data, and the full sequence number."""
    next_header: int
    data: bytes
    sequence: int


class Unprotected(NamedTuple):
    """``unprotect``'s result. ``packet``: the packet without ESP; ``offset``: where the once-protected
    part starts in it (the upper-layer header in transport mode, the inner IPv6 header in tunnel
    mode); ``next_header``: that part's type (41 in tunnel mode)."""
    packet: bytes
    sa: SecurityAssociation
    sequence: int
    next_header: int
    offset: int

    @property
    def inner(self) -> bytes:
        """Tunnel mode: the inner IPv6 packet. Transport mode: the upper-layer message."""
        return self.packet[self.offset:]


def _upper_protocol(data: bytes, off: int, nh: int) -> int:
    """Skip Destination Options headers at ``off`` in ``data`` (end-to-end ones, inside ESP)."""
    for _ in range(MAX_EXTENSION_HEADERS):
        if nh != NH_DEST_OPTS:
            return nh
        if off + 8 > len(data) or off + (data[off + 1] + 1) * 8 > len(data):
            raise MalformedPacket("destination options header inside ESP is truncated")
        nh, off = data[off], off + (data[off + 1] + 1) * 8
    raise MalformedPacket("too many destination options headers inside ESP")


def _check_selectors(sa: SecurityAssociation, p: bytes, src: int, dst: int, protected_nh: int,
                     buf: bytes, at: int) -> None:
    """RFC 4301 §5.2 step 4 (and the outbound mirror of it): does this packet belong to this SA? ``src``
    and ``dst``: where the addresses the upper layer sees are in ``p`` (``_locate``); the protected part
    (next header ``protected_nh``) is ``buf`` from ``at`` on."""
    home, agent, home_is_source = sa._home_packed, sa._agent_packed, sa._home_is_source
    if sa._mode is Mode.TUNNEL:
        if protected_nh != NH_IPV6:
            raise PolicyViolation(f"SA 0x{sa.spi:08x} is a tunnel-mode SA: it carries IPv6 packets, "
                                  f"not next header {protected_nh}", sa.spi)
        if len(buf) - at < IPV6_HEADER or buf[at] >> 4 != 6:
            raise MalformedPacket("the tunnelled packet is not an IPv6 packet", sa.spi)
        inner_src, inner_dst = buf[at + 8:at + 24], buf[at + 24:at + 40]
        outer_src, outer_dst = p[8:24], p[24:40]
        if home_is_source:
            ok, claimed, end = inner_src == home, inner_src, outer_dst == agent
        else:
            ok, claimed, end = inner_dst == home, inner_dst, outer_src == agent
    else:
        upper = protected_nh if protected_nh != NH_DEST_OPTS else _upper_protocol(buf, at, protected_nh)
        if upper not in sa._protocols:
            raise PolicyViolation(f"SA 0x{sa.spi:08x} does not carry next header {upper}", sa.spi)
        if home_is_source:
            claimed = p[src:src + 16]
            ok, end = claimed == home, p[dst:dst + 16] == agent
        else:
            claimed = p[dst:dst + 16]
            ok, end = claimed == home, p[src:src + 16] == agent
    if not ok:
        raise PolicyViolation(f"SA 0x{sa.spi:08x} is bound to home address {sa.home_address}, the packet "
                              f"claims {IPv6Address(claimed)}", sa.spi)
    if not end:
        raise PolicyViolation(f"SA 0x{sa.spi:08x}: the home agent end of the packet is not "
                              f"{sa.home_agent}", sa.spi)


def _locate(p: bytes, unprotect: bool, tunnel: bool = False) -> tuple[int, int, int, int, int]:
    """``mip6fast._esp.layout`` (C, or its twin): (at, nh_at, next_header, src, dst), its ParseError
    turned into the EspError it means (NotProtected: a well-formed packet without ESP)."""
    try:
        return _layout(p, unprotect, tunnel)
    except ParseError as exc:
        if exc.field == "esp" and exc.reason == "no ESP header":
            raise NotProtected(f"no ESP header: the extension headers end at offset {exc.offset} with "
                               f"something else") from None
        raise MalformedPacket(f"{exc.reason} (offset {exc.offset})") from None


# --- ESP payload: seal and open ------------------------------------------------------------------------

def esp_length(sa: SecurityAssociation, data_length: int) -> int:
    """The length of the ESP header, IV, padded ciphertext and ICV for ``data_length`` protected bytes."""
    spec = sa._spec
    padded = data_length + 2 + (-(data_length + 2)) % spec.align
    return ESP_HEADER + spec.iv + padded + spec.icv


def seal(sa: SecurityAssociation, next_header: int, data: bytes) -> bytes:
    """ESP header | IV | ciphertext of (data | padding | pad length | next header) | ICV, under the next
    sequence number of outbound ``sa`` (SequenceExhausted if there is none left)."""
    if sa._direction is not Direction.OUTBOUND:
        raise ValueError(f"SA 0x{sa.spi:08x} is inbound: it does not protect packets")
    header, body = _seal(sa, next_header, data)
    return header + body


def _seal(sa: SecurityAssociation, next_header: int, data: bytes) -> tuple[bytes, bytes]:
    """``seal`` in two parts, (ESP header, IV | ciphertext | ICV), for ``protect`` to join once."""
    seq = sa._next_sequence()
    pad = (-(len(data) + 2)) % sa._spec.align
    header = _ESP_HEADER(sa._spi, seq & 0xFFFFFFFF)
    plaintext = b"".join((data, _PADDING[:pad], _BYTE[pad], _BYTE[next_header]))
    return header, sa._transform.seal(header, seq >> 32 if sa._esn else None, sa._iv(seq), plaintext)


def open_payload(sa: SecurityAssociation, esp: bytes) -> Opened:
    """Check and decrypt one ESP packet (from the SPI to the ICV) for inbound ``sa``: steps 3-5 above.
    Counts refusals on ``sa.counters``."""
    nh, plaintext, length, seq = _open(sa, esp, 0)
    return Opened(nh, plaintext[:length], seq)


def _open(sa: SecurityAssociation, p: bytes, at: int) -> tuple[int, bytes, int, int]:
    """``open_payload`` of the ESP packet at ``at`` in ``p`` (no copy of it first): (next header, the
    decrypted payload, the length of its data before the trailer, sequence number)."""
    spec, counters, spi = sa._spec, sa.counters, sa._spi
    size = len(p) - at
    body_length = size - ESP_HEADER - spec.iv - spec.icv
    if body_length < 2 or (spec.align > 4 and body_length % spec.align):
        counters.malformed += 1
        raise MalformedPacket(f"SA 0x{spi:08x}: {size} bytes of ESP do not fit {sa.algorithm.value}", spi)
    window = sa._window
    seq = _U32(p, at + 4)[0]
    if sa._esn:
        seq = window.infer(seq)
    verdict = window.check(seq)
    if verdict is not None:
        if verdict:
            counters.replay_duplicates += 1
        else:
            counters.replay_too_old += 1
        raise ReplayedPacket(f"SA 0x{spi:08x}: sequence number {seq} "
                             f"{'already received' if verdict else 'left of the replay window'}",
                             spi, seq, verdict)
    try:
        plaintext = sa._transform.open(p[at:at + ESP_HEADER], seq >> 32 if sa._esn else None,
                                       p[at + ESP_HEADER:])
    except IntegrityError:
        counters.authentication_failures += 1
        raise AuthenticationFailed(f"SA 0x{spi:08x}: ICV check failed (sequence {seq})", spi) from None
    window.accept(seq)   # only after the ICV: a forged packet never moves the window
    try:
        nh, length = _trailer(plaintext)
    except ParseError as exc:
        counters.malformed += 1
        raise MalformedPacket(f"SA 0x{spi:08x}: padding or pad length is wrong (RFC 4303 §2.4): "
                              f"{exc.reason}", spi) from None
    if nh == NH_NONE:
        counters.dummy += 1
        raise DummyPacket(f"SA 0x{spi:08x}: dummy packet (next header 59)", spi)
    return nh, plaintext, length, seq


# --- whole packets -------------------------------------------------------------------------------------

def protect(packet: bytes, sa: SecurityAssociation) -> bytes:
    """``packet`` (an IPv6 packet as built for the wire) with ESP inserted under outbound ``sa``.

    Raises MalformedPacket for bytes that are not such a packet (a fragment included: ESP comes before
    fragmentation, RFC 4303 §3.3.4), PolicyViolation for a packet that does not belong to ``sa``
    (another home address, another home agent, a protocol the SA does not carry), SequenceExhausted when
    the SA has no sequence number left, ValueError for an inbound SA or a result over 65,535 bytes of
    payload. No sequence number is used by a refused packet."""
    p = packet if type(packet) is bytes else bytes(packet)
    if sa._direction is not Direction.OUTBOUND:
        raise ValueError(f"SA 0x{sa.spi:08x} is inbound: it does not protect packets")
    at, nh_at, protected_nh, src, dst = _locate(p, False, sa._mode is Mode.TUNNEL)
    _check_selectors(sa, p, src, dst, protected_nh, p, at)
    data = p[at:]
    spec = sa._spec
    n = len(data)
    payload = at - IPV6_HEADER + ESP_HEADER + spec.iv + n + 2 + (-(n + 2)) % spec.align + spec.icv
    if payload > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"protected packet would carry {payload} bytes of payload, more "
                         f"than {MAX_PAYLOAD_LENGTH}")
    header, body = _seal(sa, protected_nh, data)
    counters = sa.counters
    counters.packets += 1
    counters.bytes += len(p)
    return _splice(p, at, nh_at, NH_ESP, header, -1, body)


def unprotect(packet: bytes, lookup: Lookup) -> Unprotected:
    """Verify, check for replay, decrypt and check the policy of an ESP-protected IPv6 packet; see the
    module docstring. ``lookup(spi)`` returns the inbound SA with that SPI or None
    (``SecurityPolicyDatabase.inbound_sa``, or ``{sa.spi: sa}.get``). Raises only ``EspError``s."""
    p = packet if type(packet) is bytes else bytes(packet)
    at, nh_at, _, src, dst = _locate(p, True)
    spi = _U32(p, at)[0]
    sa = lookup(spi)
    if sa is None or sa._spi != spi or sa._direction is not Direction.INBOUND:
        raise UnknownSpi(f"no inbound SA with SPI 0x{spi:08x}", spi)
    next_header, plaintext, length, sequence = _open(sa, p, at)
    out = _splice(p, at, nh_at, next_header, plaintext, length)
    try:
        _check_selectors(sa, p, src, dst, next_header, out, at)
    except PolicyViolation:
        sa.counters.policy_violations += 1
        raise
    except MalformedPacket:
        sa.counters.malformed += 1
        raise
    counters = sa.counters
    counters.packets += 1
    counters.bytes += len(out)
    return Unprotected(out, sa, sequence, next_header, at)


def is_protected(packet: bytes) -> bool:
    """Whether ``packet`` carries an ESP header where ``unprotect`` looks for one (never raises)."""
    try:
        _layout(packet if type(packet) is bytes else bytes(packet), True, False)
    except ParseError as exc:
        return exc.field == "esp" and exc.reason != "no ESP header"
    return True
