"""ICMPv6 (RFC 4443) and neighbour-discovery (RFC 4861 §4) messages, with Mobile IPv6's additions.

RFC 6275 adds four ICMPv6 messages (Home Agent Address Discovery Request/Reply §6.5-6.6, Mobile Prefix
Solicitation/Advertisement §6.7-6.8), the H flag of the Router Advertisement (§7.1), the R flag of the
Prefix Information option (§7.2) and two options (Advertisement Interval §7.3, Home Agent Information
§7.4). Each message and option is a frozen dataclass whose ``__post_init__`` normalises what it was
given, so that ``decode(encode(m)) == m`` and two objects that encode to the same bytes compare equal.

``encode``/``decode`` convert to and from the codec's raw form (docs/CODEC.md, "icmp6");
``build_icmp6``/``parse_icmp6`` go all the way to bytes. The checksum is left zero: it needs the IPv6
pseudo-header, which the packet layer (wire/packet.py) has.
"""
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network, ip_network
from typing import Any, ClassVar, Optional

from .. import _impl
from ._fields import any_bytes, ipv6, sint, uint

CODEC = _impl.load("icmp6")

__all__ = [
    "ALL_NODES", "ALL_ROUTERS", "CODEC", "INFINITE_LIFETIME",
    "ICMPv6Message", "DestinationUnreachable", "PacketTooBig", "TimeExceeded", "ParameterProblem",
    "EchoRequest", "EchoReply", "RouterSolicitation", "RouterAdvertisement", "NeighborSolicitation",
    "NeighborAdvertisement", "HomeAgentAddressDiscoveryRequest", "HomeAgentAddressDiscoveryReply",
    "MobilePrefixSolicitation", "MobilePrefixAdvertisement", "UnknownICMPv6Message",
    "NDOption", "SourceLinkLayerAddress", "TargetLinkLayerAddress", "PrefixInformation", "MTUOption",
    "AdvertisementInterval", "HomeAgentInformation", "UnknownNDOption",
    # decode/encode are icmpv6.decode/encode: not star-exported, mip6fast.wire.decode is mobility's.
    "parse_icmp6", "build_icmp6", "solicited_node_multicast", "home_agents_anycast",
]

ALL_NODES = IPv6Address("ff02::1")      # RFC 4291 §2.7.1, link-local scope
ALL_ROUTERS = IPv6Address("ff02::2")
INFINITE_LIFETIME = 0xFFFFFFFF          # RFC 4861 §4.6.2: all ones means infinity

MAX_OPTIONS = 64                        # docs/CODEC.md "Limits"
_MAX_OPTION_DATA = 255 * 8 - 2          # the length byte counts 8-octet units of the whole option


# ---------------------------------------------------------------- helpers

_SOLICITED_NODE_BASE = int(IPv6Address("ff02::1:ff00:0"))


def solicited_node_multicast(addr) -> IPv6Address:
    """The solicited-node multicast group of ``addr``: ff02::1:ff00:0/104 + its low 24 bits.

    RFC 4291 §2.7.1; neighbour solicitations go there (RFC 4861 §7.2.2), DAD ones included.
    """
    low = int(ipv6(addr, "addr")) & 0xFFFFFF
    return IPv6Address(_SOLICITED_NODE_BASE | low)


def home_agents_anycast(prefix) -> IPv6Address:
    """The Mobile IPv6 Home-Agents anycast address of a home subnet prefix (RFC 6275 §10.5, RFC 2526).

    ``prefix`` is an ``IPv6Network`` or its text (``"2001:db8:1::/64"``), a ``PrefixInformation``, or a
    bare address taken as a /64. Anycast ID 126 (0x7E) goes in the low 7 bits. For a /64 the interface
    identifier is in EUI-64 format, so the bits between are ones except the universal/local bit:
    fdff:ffff:ffff:fffe (RFC 2526 §2, first figure). For any other length n <= 121 the bits between are
    all ones (RFC 2526 §2, second figure).
    """
    if isinstance(prefix, PrefixInformation):
        net = IPv6Network((prefix.prefix, prefix.prefix_length), strict=False)
    elif isinstance(prefix, IPv6Network):
        net = prefix
    elif isinstance(prefix, str) and "/" in prefix:
        try:
            parsed = ip_network(prefix, strict=False)
        except ValueError as exc:
            raise ValueError(f"prefix: {exc}") from None
        if not isinstance(parsed, IPv6Network):
            raise ValueError(f"prefix: {prefix!r} is not an IPv6 prefix")
        net = parsed
    else:
        net = IPv6Network((ipv6(prefix, "prefix"), 64), strict=False)
    n = net.prefixlen
    base = int(net.network_address)
    if n == 64:
        return IPv6Address(base | 0xFDFFFFFFFFFFFFFE)
    if n > 121:
        raise ValueError(f"prefix: /{n} leaves no room for a 7-bit anycast ID (RFC 2526)")
    ones = (1 << (128 - n)) - 1
    return IPv6Address(base | (ones & ~0x7F) | 0x7E)


def _boolean(value, field: str) -> bool:
    if not isinstance(value, (bool, int)):
        raise TypeError(f"{field}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _padded_data(value, field: str) -> bytes:
    """Option data as the wire returns it: zero-padded so that the option fills whole 8-octet units."""
    raw = any_bytes(value, field)
    if len(raw) > _MAX_OPTION_DATA:
        raise ValueError(f"{field}: {len(raw)} bytes exceed the largest option data, {_MAX_OPTION_DATA}")
    units = (len(raw) + 2 + 7) // 8
    return raw + bytes(units * 8 - 2 - len(raw))


def _link_layer(value, field: str) -> bytes:
    """A link-layer address from bytes or from text such as ``"00:11:22:33:44:55"``."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.replace(":", "").replace("-", ""))
        except ValueError:
            raise ValueError(f"{field}: {value!r} is not a hexadecimal link-layer address") from None
    return _padded_data(value, field)


def _options(value, field: str = "options") -> tuple:
    try:
        opts = tuple(value)
    except TypeError:
        raise TypeError(f"{field}: expected an iterable of NDOption, got {type(value).__name__}") from None
    for opt in opts:
        if not isinstance(opt, NDOption):
            raise TypeError(f"{field}: expected NDOption instances, got {type(opt).__name__}")
    if len(opts) > MAX_OPTIONS:
        raise ValueError(f"{field}: {len(opts)} options exceed the limit of {MAX_OPTIONS}")
    return opts


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


# ---------------------------------------------------------------- neighbour-discovery options

class NDOption:
    """Base of the neighbour-discovery options (RFC 4861 §4.6)."""

    OPTION_TYPE: ClassVar[Optional[int]] = None


@dataclass(frozen=True)
class _LinkLayerAddressOption(NDOption):
    # The address is zero-padded to the option's 8-octet boundary, as it comes back from the wire; an
    # Ethernet MAC (6 bytes) needs no padding (RFC 2464 §8).
    address: bytes

    def __post_init__(self):
        _set(self, "address", _link_layer(self.address, "address"))


@dataclass(frozen=True)
class SourceLinkLayerAddress(_LinkLayerAddressOption):
    """Source Link-layer Address option, type 1 (RFC 4861 §4.6.1)."""

    OPTION_TYPE: ClassVar[int] = 1


@dataclass(frozen=True)
class TargetLinkLayerAddress(_LinkLayerAddressOption):
    """Target Link-layer Address option, type 2 (RFC 4861 §4.6.1)."""

    OPTION_TYPE: ClassVar[int] = 2


@dataclass(frozen=True)
class PrefixInformation(NDOption):
    """Prefix Information option, type 3 (RFC 4861 §4.6.2), with Mobile IPv6's R flag (RFC 6275 §7.2).

    With ``router_address`` set the prefix field carries the router's whole global address, so it is
    kept as given; otherwise the bits after ``prefix_length`` are reserved (zero on send, ignored on
    receipt: RFC 4861 §4.6.2) and are cleared here.
    """

    OPTION_TYPE: ClassVar[int] = 3
    prefix: IPv6Address
    prefix_length: int = 64
    on_link: bool = True
    autonomous: bool = True
    router_address: bool = False
    valid_lifetime: int = 2592000       # 30 days, RFC 4861 §6.2.1 AdvValidLifetime default
    preferred_lifetime: int = 604800    # 7 days, AdvPreferredLifetime default

    def __post_init__(self):
        prefix = ipv6(self.prefix, "prefix")
        length = uint(self.prefix_length, 8, "prefix_length")
        if length > 128:
            raise ValueError(f"prefix_length: {length} is more than 128")
        router_address = _boolean(self.router_address, "router_address")
        if not router_address:
            mask = ((1 << 128) - 1) ^ ((1 << (128 - length)) - 1)
            prefix = IPv6Address(int(prefix) & mask)
        _set(self, "prefix", prefix)
        _set(self, "on_link", _boolean(self.on_link, "on_link"))
        _set(self, "autonomous", _boolean(self.autonomous, "autonomous"))
        _set(self, "router_address", router_address)
        uint(self.valid_lifetime, 32, "valid_lifetime")
        uint(self.preferred_lifetime, 32, "preferred_lifetime")

    @property
    def network(self) -> IPv6Network:
        """The advertised prefix as a network (host bits of a router address cleared)."""
        return IPv6Network((self.prefix, self.prefix_length), strict=False)


@dataclass(frozen=True)
class MTUOption(NDOption):
    """MTU option, type 5 (RFC 4861 §4.6.4)."""

    OPTION_TYPE: ClassVar[int] = 5
    mtu: int

    def __post_init__(self):
        uint(self.mtu, 32, "mtu")


@dataclass(frozen=True)
class AdvertisementInterval(NDOption):
    """Advertisement Interval option, type 7 (RFC 6275 §7.3): the router's MaxRtrAdvInterval in ms."""

    OPTION_TYPE: ClassVar[int] = 7
    interval_ms: int

    def __post_init__(self):
        uint(self.interval_ms, 32, "interval_ms")


@dataclass(frozen=True)
class HomeAgentInformation(NDOption):
    """Home Agent Information option, type 8 (RFC 6275 §7.4).

    ``preference`` is signed, higher is better, default 0. ``lifetime`` is in seconds; the RFC's default
    is the Router Lifetime of the advertisement, and 1800 s is RouterAdvertisement's default.
    """

    OPTION_TYPE: ClassVar[int] = 8
    preference: int = 0
    lifetime: int = 1800

    def __post_init__(self):
        sint(self.preference, 16, "preference")
        uint(self.lifetime, 16, "lifetime")


_KNOWN_OPTIONS = {1, 2, 3, 5, 7, 8}


@dataclass(frozen=True)
class UnknownNDOption(NDOption):
    """An option this package does not interpret (RFC 4861 §4.6: skipped, kept here as bytes).

    ``data`` is everything after the type and length bytes, zero-padded to the 8-octet boundary.
    """

    option_type: int
    data: bytes

    def __post_init__(self):
        uint(self.option_type, 8, "option_type")
        if self.option_type in _KNOWN_OPTIONS:
            raise ValueError(f"option_type: {self.option_type} is a known option; use its class")
        _set(self, "data", _padded_data(self.data, "data"))


# ---------------------------------------------------------------- messages

class ICMPv6Message:
    """Base of the ICMPv6 messages. ``ICMP_TYPE`` is the message type (None for the unknown ones)."""

    ICMP_TYPE: ClassVar[Optional[int]] = None
    code: int   # every message's field (declared, not a dataclass field: this base is no dataclass)

    def to_bytes(self) -> bytes:
        """The message on the wire, checksum zero (see ``build_icmp6``)."""
        return build_icmp6(self)


def _check_code(msg):
    uint(msg.code, 8, "code")


@dataclass(frozen=True)
class DestinationUnreachable(ICMPv6Message):
    """Destination Unreachable, type 1 (RFC 4443 §3.1). Code 3 (address unreachable) is what a home
    agent sends for a mobile node's link-local destination (RFC 6275 §10.4.5)."""

    ICMP_TYPE: ClassVar[int] = 1
    code: int
    invoking: bytes

    def __post_init__(self):
        _check_code(self)
        _set(self, "invoking", any_bytes(self.invoking, "invoking"))


@dataclass(frozen=True)
class PacketTooBig(ICMPv6Message):
    """Packet Too Big, type 2 (RFC 4443 §3.2): ``mtu`` of the next-hop link."""

    ICMP_TYPE: ClassVar[int] = 2
    mtu: int
    invoking: bytes
    code: int = 0

    def __post_init__(self):
        uint(self.mtu, 32, "mtu")
        _set(self, "invoking", any_bytes(self.invoking, "invoking"))
        _check_code(self)


@dataclass(frozen=True)
class TimeExceeded(ICMPv6Message):
    """Time Exceeded, type 3 (RFC 4443 §3.3)."""

    ICMP_TYPE: ClassVar[int] = 3
    code: int
    invoking: bytes

    def __post_init__(self):
        _check_code(self)
        _set(self, "invoking", any_bytes(self.invoking, "invoking"))


@dataclass(frozen=True)
class ParameterProblem(ICMPv6Message):
    """Parameter Problem, type 4 (RFC 4443 §3.4): ``pointer`` is the offset of the fault in the invoking
    packet (RFC 6275 §9.2 points it at a bad Mobility Header field)."""

    ICMP_TYPE: ClassVar[int] = 4
    code: int
    pointer: int
    invoking: bytes

    def __post_init__(self):
        _check_code(self)
        uint(self.pointer, 32, "pointer")
        _set(self, "invoking", any_bytes(self.invoking, "invoking"))


@dataclass(frozen=True)
class _Echo(ICMPv6Message):
    identifier: int
    sequence: int
    data: bytes = b""
    code: int = 0

    def __post_init__(self):
        uint(self.identifier, 16, "identifier")
        uint(self.sequence, 16, "sequence")
        _set(self, "data", any_bytes(self.data, "data"))
        _check_code(self)


@dataclass(frozen=True)
class EchoRequest(_Echo):
    """Echo Request, type 128 (RFC 4443 §4.1)."""

    ICMP_TYPE: ClassVar[int] = 128


@dataclass(frozen=True)
class EchoReply(_Echo):
    """Echo Reply, type 129 (RFC 4443 §4.2)."""

    ICMP_TYPE: ClassVar[int] = 129


@dataclass(frozen=True)
class RouterSolicitation(ICMPv6Message):
    """Router Solicitation, type 133 (RFC 4861 §4.1)."""

    ICMP_TYPE: ClassVar[int] = 133
    options: tuple[NDOption, ...] = ()
    code: int = 0

    def __post_init__(self):
        _set(self, "options", _options(self.options))
        _check_code(self)


# RA flag bits outside M, O, H and Prf: P (RFC 4389 §4.1) and the reserved ones.
_RA_OTHER_FLAGS = 0x07


@dataclass(frozen=True)
class RouterAdvertisement(ICMPv6Message):
    """Router Advertisement, type 134 (RFC 4861 §4.2); ``home_agent`` is the H flag (RFC 6275 §7.1).

    ``router_lifetime`` is in seconds, ``reachable_time`` and ``retrans_timer`` in milliseconds
    (0: unspecified). ``preference`` is the Default Router Preference (RFC 4191 §2.2: 0 medium, 1 high,
    3 low, 2 reserved, kept as received); ``other_flags`` holds the flag byte's remaining bits (P of
    RFC 4389 is 0x04, 0x03 are reserved) so that an RA re-encodes to the bytes it was parsed from.
    """

    ICMP_TYPE: ClassVar[int] = 134
    cur_hop_limit: int = 64
    managed: bool = False
    other: bool = False
    home_agent: bool = False
    router_lifetime: int = 1800
    reachable_time: int = 0
    retrans_timer: int = 0
    options: tuple[NDOption, ...] = ()
    code: int = 0
    preference: int = 0
    other_flags: int = 0

    def __post_init__(self):
        uint(self.cur_hop_limit, 8, "cur_hop_limit")
        _set(self, "managed", _boolean(self.managed, "managed"))
        _set(self, "other", _boolean(self.other, "other"))
        _set(self, "home_agent", _boolean(self.home_agent, "home_agent"))
        uint(self.preference, 2, "preference")
        if uint(self.other_flags, 8, "other_flags") & ~_RA_OTHER_FLAGS:
            raise ValueError(f"other_flags: {self.other_flags:#04x} overlaps M, O, H or Prf (0xf8)")
        uint(self.router_lifetime, 16, "router_lifetime")
        uint(self.reachable_time, 32, "reachable_time")
        uint(self.retrans_timer, 32, "retrans_timer")
        _set(self, "options", _options(self.options))
        _check_code(self)


@dataclass(frozen=True)
class NeighborSolicitation(ICMPv6Message):
    """Neighbor Solicitation, type 135 (RFC 4861 §4.3)."""

    ICMP_TYPE: ClassVar[int] = 135
    target: IPv6Address
    options: tuple[NDOption, ...] = ()
    code: int = 0

    def __post_init__(self):
        _set(self, "target", ipv6(self.target, "target"))
        _set(self, "options", _options(self.options))
        _check_code(self)


@dataclass(frozen=True)
class NeighborAdvertisement(ICMPv6Message):
    """Neighbor Advertisement, type 136 (RFC 4861 §4.4): R, S and O flags.

    A home agent defending a mobile node's home address sends these (RFC 6275 §10.4.1).
    """

    ICMP_TYPE: ClassVar[int] = 136
    target: IPv6Address
    router: bool = False
    solicited: bool = False
    override: bool = False
    options: tuple[NDOption, ...] = ()
    code: int = 0

    def __post_init__(self):
        _set(self, "target", ipv6(self.target, "target"))
        _set(self, "router", _boolean(self.router, "router"))
        _set(self, "solicited", _boolean(self.solicited, "solicited"))
        _set(self, "override", _boolean(self.override, "override"))
        _set(self, "options", _options(self.options))
        _check_code(self)


@dataclass(frozen=True)
class _Identified(ICMPv6Message):
    identifier: int
    code: int = 0

    def __post_init__(self):
        uint(self.identifier, 16, "identifier")
        _check_code(self)


@dataclass(frozen=True)
class HomeAgentAddressDiscoveryRequest(_Identified):
    """Home Agent Address Discovery Request, type 144 (RFC 6275 §6.5), sent to the Home-Agents anycast
    address of the home prefix (see ``home_agents_anycast``)."""

    ICMP_TYPE: ClassVar[int] = 144


@dataclass(frozen=True)
class HomeAgentAddressDiscoveryReply(ICMPv6Message):
    """Home Agent Address Discovery Reply, type 145 (RFC 6275 §6.6): home agents' global addresses in
    decreasing order of preference; ``identifier`` echoes the request's."""

    ICMP_TYPE: ClassVar[int] = 145
    identifier: int
    addresses: tuple[IPv6Address, ...] = ()
    code: int = 0

    def __post_init__(self):
        uint(self.identifier, 16, "identifier")
        if isinstance(self.addresses, (str, bytes, bytearray, memoryview, IPv6Address)):
            raise TypeError("addresses: expected an iterable of addresses, got a single one")
        _set(self, "addresses", tuple(ipv6(a, "addresses") for a in self.addresses))
        _check_code(self)


@dataclass(frozen=True)
class MobilePrefixSolicitation(_Identified):
    """Mobile Prefix Solicitation, type 146 (RFC 6275 §6.7)."""

    ICMP_TYPE: ClassVar[int] = 146


@dataclass(frozen=True)
class MobilePrefixAdvertisement(ICMPv6Message):
    """Mobile Prefix Advertisement, type 147 (RFC 6275 §6.8): M and O flags, Prefix Information options."""

    ICMP_TYPE: ClassVar[int] = 147
    identifier: int
    managed: bool = False
    other: bool = False
    options: tuple[NDOption, ...] = ()
    code: int = 0

    def __post_init__(self):
        uint(self.identifier, 16, "identifier")
        _set(self, "managed", _boolean(self.managed, "managed"))
        _set(self, "other", _boolean(self.other, "other"))
        _set(self, "options", _options(self.options))
        _check_code(self)


@dataclass(frozen=True)
class UnknownICMPv6Message(ICMPv6Message):
    """A message of a type this package does not interpret: ``body`` is every byte after the checksum."""

    icmp_type: int
    code: int
    body: bytes

    def __post_init__(self):
        uint(self.icmp_type, 8, "icmp_type")
        if self.icmp_type in _MESSAGES:
            raise ValueError(f"icmp_type: {self.icmp_type} is a known message type; use its class")
        _check_code(self)
        _set(self, "body", any_bytes(self.body, "body"))


_MESSAGES: dict[int, Any] = {cls.ICMP_TYPE: cls for cls in (
    DestinationUnreachable, PacketTooBig, TimeExceeded, ParameterProblem, EchoRequest, EchoReply,
    RouterSolicitation, RouterAdvertisement, NeighborSolicitation, NeighborAdvertisement,
    HomeAgentAddressDiscoveryRequest, HomeAgentAddressDiscoveryReply, MobilePrefixSolicitation,
    MobilePrefixAdvertisement)}


# ---------------------------------------------------------------- raw form <-> objects

def _decode_option(otype, value) -> NDOption:
    if otype == 1:
        return SourceLinkLayerAddress(value)
    if otype == 2:
        return TargetLinkLayerAddress(value)
    if otype == 3:
        prefix_length, flags, valid, preferred, prefix = value
        return PrefixInformation(prefix, prefix_length, bool(flags & 0x80), bool(flags & 0x40),
                                 bool(flags & 0x20), valid, preferred)
    if otype == 5:
        return MTUOption(value)
    if otype == 7:
        return AdvertisementInterval(value)
    if otype == 8:
        return HomeAgentInformation(value[0], value[1])
    return UnknownNDOption(otype, value)


def _encode_option(opt: NDOption) -> tuple:
    if isinstance(opt, _LinkLayerAddressOption):
        return (opt.OPTION_TYPE, opt.address)
    if isinstance(opt, PrefixInformation):
        flags = ((0x80 if opt.on_link else 0) | (0x40 if opt.autonomous else 0)
                 | (0x20 if opt.router_address else 0))
        return (3, (opt.prefix_length, flags, opt.valid_lifetime, opt.preferred_lifetime, opt.prefix.packed))
    if isinstance(opt, MTUOption):
        return (5, opt.mtu)
    if isinstance(opt, AdvertisementInterval):
        return (7, opt.interval_ms)
    if isinstance(opt, HomeAgentInformation):
        return (8, (opt.preference, opt.lifetime))
    if isinstance(opt, UnknownNDOption):
        return (opt.option_type, opt.data)
    raise TypeError(f"options: cannot encode {type(opt).__name__}")


def _decode_options(raw) -> tuple:
    return tuple(_decode_option(t, v) for t, v in raw)


def _encode_options(opts) -> tuple:
    return tuple(_encode_option(o) for o in opts)


def decode(raw) -> ICMPv6Message:
    """The message object of a raw form ``(icmp_type, code, fields)`` as ``CODEC.parse`` returns it.

    Raises ValueError for a value the objects reject although the wire format carries it (a Prefix
    Information prefix length above 128, RFC 4861 §4.6.2).
    """
    t, code, f = raw
    if t in (1, 3):
        return _MESSAGES[t](code, f[0])
    if t == 2:
        return PacketTooBig(f[0], f[1], code)
    if t == 4:
        return ParameterProblem(code, f[0], f[1])
    if t in (128, 129):
        return _MESSAGES[t](f[0], f[1], f[2], code)
    if t == 133:
        return RouterSolicitation(_decode_options(f[0]), code)
    if t == 134:
        hop, flags, lifetime, reachable, retrans, options = f
        return RouterAdvertisement(hop, bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20),
                                   lifetime, reachable, retrans, _decode_options(options), code,
                                   (flags >> 3) & 0x03, flags & _RA_OTHER_FLAGS)
    if t == 135:
        return NeighborSolicitation(f[0], _decode_options(f[1]), code)
    if t == 136:
        flags, target, options = f
        return NeighborAdvertisement(target, bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20),
                                     _decode_options(options), code)
    if t in (144, 146):
        return _MESSAGES[t](f[0], code)
    if t == 145:
        return HomeAgentAddressDiscoveryReply(f[0], f[1], code)
    if t == 147:
        identifier, flags, options = f
        return MobilePrefixAdvertisement(identifier, bool(flags & 0x8000), bool(flags & 0x4000),
                                         _decode_options(options), code)
    return UnknownICMPv6Message(t, code, f[0])


def encode(msg: ICMPv6Message) -> tuple:
    """The raw form ``(icmp_type, code, fields)`` of a message object, for ``CODEC.build``."""
    fields: tuple
    if isinstance(msg, (DestinationUnreachable, TimeExceeded)):
        fields = (msg.invoking,)
    elif isinstance(msg, PacketTooBig):
        fields = (msg.mtu, msg.invoking)
    elif isinstance(msg, ParameterProblem):
        fields = (msg.pointer, msg.invoking)
    elif isinstance(msg, _Echo):
        fields = (msg.identifier, msg.sequence, msg.data)
    elif isinstance(msg, RouterSolicitation):
        fields = (_encode_options(msg.options),)
    elif isinstance(msg, RouterAdvertisement):
        flags = ((0x80 if msg.managed else 0) | (0x40 if msg.other else 0) | (0x20 if msg.home_agent else 0)
                 | msg.preference << 3 | msg.other_flags)
        fields = (msg.cur_hop_limit, flags, msg.router_lifetime, msg.reachable_time, msg.retrans_timer,
                  _encode_options(msg.options))
    elif isinstance(msg, NeighborSolicitation):
        fields = (msg.target.packed, _encode_options(msg.options))
    elif isinstance(msg, NeighborAdvertisement):
        flags = (0x80 if msg.router else 0) | (0x40 if msg.solicited else 0) | (0x20 if msg.override else 0)
        fields = (flags, msg.target.packed, _encode_options(msg.options))
    elif isinstance(msg, _Identified):
        fields = (msg.identifier,)
    elif isinstance(msg, HomeAgentAddressDiscoveryReply):
        fields = (msg.identifier, tuple(a.packed for a in msg.addresses))
    elif isinstance(msg, MobilePrefixAdvertisement):
        flags = (0x8000 if msg.managed else 0) | (0x4000 if msg.other else 0)
        fields = (msg.identifier, flags, _encode_options(msg.options))
    elif isinstance(msg, UnknownICMPv6Message):
        return (msg.icmp_type, msg.code, (msg.body,))
    else:
        raise TypeError(f"encode: expected an ICMPv6Message, got {type(msg).__name__}")
    return (msg.ICMP_TYPE, msg.code, fields)


def parse_icmp6(data) -> ICMPv6Message:
    """The message in ``data`` (one whole ICMPv6 message, checksum not verified: the packet layer does
    that). ParseError when malformed (docs/CODEC.md)."""
    return decode(CODEC.parse(data))


def build_icmp6(msg: ICMPv6Message) -> bytes:
    """The bytes of ``msg`` with the checksum field zero (the packet layer fills it in)."""
    return CODEC.build(*encode(msg))
