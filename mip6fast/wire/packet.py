"""IPv6 packets as readable objects: ``Packet``, ``Raw``, and ``parse``.

A ``Packet`` holds the IPv6 header fields as they are on the wire, the extension headers Mobile IPv6
uses, and a payload: a Mobility Header message, an ICMPv6 message, a tunnelled ``Packet`` (IPv6-in-IPv6,
RFC 2473) or ``Raw`` bytes of any other protocol. ``to_bytes()`` lays it out in RFC 8200 order and
computes the ICMPv6/MH checksum with RFC 6275's pseudo-header rule (§6.3, §6.4): the upper layer sees
the home address as source when a Home Address option is present and the Type 2 routing header's
address as destination.
"""
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import NamedTuple, Optional, Union

from .. import _impl
from ..errors import ParseError
from . import icmpv6, mobility
from ._fields import any_bytes, ipv6, optional_ipv6, uint

CODEC = _impl.load("packet")

NH_IPV6 = 41
NH_ICMPV6 = 58
NH_MH = 135
NH_NONE = 59
MAX_TUNNEL_DEPTH = 4


class IPv6Option(NamedTuple):
    """One Hop-by-Hop or destination option (RFC 8200 §4.2); padding is never one of these."""
    option_type: int
    data: bytes


def _options(value, field):
    if value is None:
        return None
    out = []
    for item in value:
        t, data = item
        uint(t, 8, f"{field} option type")
        if t in (0, 1):
            raise ValueError(f"{field}: Pad1/PadN are inserted when encoding, not passed")
        data = any_bytes(data, f"{field} option data")
        if len(data) > 255:
            raise ValueError(f"{field}: option data longer than 255 bytes")
        out.append(IPv6Option(t, data))
    return tuple(out)


@dataclass(frozen=True)
class Raw:
    """The payload of a protocol this package does not decode (TCP, UDP, a fragment, ESP, ...)."""
    next_header: int
    data: bytes = b""

    def __post_init__(self):
        uint(self.next_header, 8, "next_header")
        object.__setattr__(self, "data", any_bytes(self.data, "data"))


Payload = Union["mobility.MobilityMessage", "icmpv6.ICMPv6Message", "Packet", Raw]


@dataclass(frozen=True, repr=False)
class Packet:
    src: IPv6Address
    dst: IPv6Address
    payload: Payload
    home_address: Optional[IPv6Address] = None
    rh2: Optional[IPv6Address] = None
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    hop_by_hop: Optional[tuple[IPv6Option, ...]] = None
    destination_options: Optional[tuple[IPv6Option, ...]] = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "src", ipv6(self.src, "src"))
        set_(self, "dst", ipv6(self.dst, "dst"))
        set_(self, "home_address", optional_ipv6(self.home_address, "home_address"))
        set_(self, "rh2", optional_ipv6(self.rh2, "rh2"))
        uint(self.hop_limit, 8, "hop_limit")
        uint(self.traffic_class, 8, "traffic_class")
        uint(self.flow_label, 20, "flow_label")
        set_(self, "hop_by_hop", _options(self.hop_by_hop, "hop_by_hop"))
        dst_opts = _options(self.destination_options, "destination_options")
        if dst_opts is not None and any(o.option_type == 201 for o in dst_opts):
            raise ValueError("destination_options: give the Home Address option as home_address")
        # A destination options header that holds only the HAO is described by home_address alone.
        if dst_opts == () and self.home_address is not None:
            dst_opts = None
        set_(self, "destination_options", dst_opts)
        if not isinstance(self.payload, (mobility.MobilityMessage, icmpv6.ICMPv6Message, Packet, Raw)):
            raise TypeError(f"payload: expected a mobility or ICMPv6 message, a Packet or Raw, "
                            f"got {type(self.payload).__name__}")

    @property
    def next_header(self) -> int:
        p = self.payload
        if isinstance(p, mobility.MobilityMessage):
            return NH_MH
        if isinstance(p, icmpv6.ICMPv6Message):
            return NH_ICMPV6
        if isinstance(p, Packet):
            return NH_IPV6
        return p.next_header

    @property
    def upper_layer_src(self) -> IPv6Address:
        """The source the upper layer sees: the home address when a Home Address option is present."""
        return self.home_address if self.home_address is not None else self.src

    @property
    def upper_layer_dst(self) -> IPv6Address:
        """The destination the upper layer sees: the Type 2 routing header's address when present."""
        return self.rh2 if self.rh2 is not None else self.dst

    def payload_bytes(self) -> bytes:
        p = self.payload
        if isinstance(p, mobility.MobilityMessage):
            return mobility.build_mh(p)
        if isinstance(p, icmpv6.ICMPv6Message):
            return icmpv6.build_icmp6(p)
        if isinstance(p, Packet):
            return p.to_bytes()
        return p.data

    def to_bytes(self) -> bytes:
        return CODEC.build(
            self.traffic_class, self.flow_label, self.hop_limit, self.src.packed, self.dst.packed,
            self.hop_by_hop, None if self.rh2 is None else self.rh2.packed,
            None if self.home_address is None else self.home_address.packed,
            self.destination_options, self.next_header, self.payload_bytes())

    def __bytes__(self) -> bytes:
        return self.to_bytes()

    def __repr__(self) -> str:
        parts = [f"src='{self.src}'", f"dst='{self.dst}'"]
        if self.home_address is not None:
            parts.append(f"home_address='{self.home_address}'")
        if self.rh2 is not None:
            parts.append(f"rh2='{self.rh2}'")
        for name, default in (("hop_limit", 64), ("traffic_class", 0), ("flow_label", 0),
                              ("hop_by_hop", None), ("destination_options", None)):
            value = getattr(self, name)
            if value != default:
                parts.append(f"{name}={value!r}")
        parts.append(f"payload={self.payload!r}")
        return f"Packet({', '.join(parts)})"


def parse(data, *, verify_checksums: bool = True) -> Packet:
    """Parse one IPv6 packet (and any IPv6-in-IPv6 packet inside it) into a ``Packet``.

    Raises ``ParseError`` naming the field and its offset from the first byte of ``data`` for anything
    RFC 8200/6275/4443/4861 do not allow, bad ICMPv6 and Mobility Header checksums included; with
    ``verify_checksums=False`` (capture analysis) checksums are not checked.
    """
    return _parse(memoryview(bytes(data) if not isinstance(data, bytes) else data), verify_checksums,
                  MAX_TUNNEL_DEPTH, 0)


def _parse(view: memoryview, verify: bool, depth: int, base: int) -> Packet:
    try:
        (tc, flow, hlim, src, dst, hbh, rh2, hao, dst_opts, nh, off) = CODEC.parse(view, verify)
    except ParseError as exc:
        raise exc.rebase(base) from None
    body = view[off:]
    payload: Payload
    if nh == NH_IPV6:
        if depth <= 1:
            raise ParseError("tunnels nested too deep", "next_header", base + off)
        payload = _parse(body, verify, depth - 1, base + off)  # its errors already count from base
    else:
        try:
            if nh == NH_MH:
                payload = mobility.decode(mobility.CODEC.parse(body))
            elif nh == NH_ICMPV6:
                payload = icmpv6.decode(icmpv6.CODEC.parse(body))
            else:
                payload = Raw(nh, bytes(body))
        except ParseError as exc:
            raise exc.rebase(base + off) from None
    return Packet(
        src=IPv6Address(src), dst=IPv6Address(dst), payload=payload,
        home_address=None if hao is None else IPv6Address(hao),
        rh2=None if rh2 is None else IPv6Address(rh2),
        hop_limit=hlim, traffic_class=tc, flow_label=flow,
        hop_by_hop=None if hbh is None else tuple(IPv6Option(t, d) for t, d in hbh),
        destination_options=None if dst_opts is None else tuple(IPv6Option(t, d) for t, d in dst_opts),
    )
