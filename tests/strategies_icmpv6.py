"""Hypothesis strategies for ICMPv6 / neighbour discovery, for this family's tests and for others'.

Objects (mip6fast.wire.icmpv6): ``nd_options()`` and ``icmpv6_messages()`` cover every class, unknown
ones included. Raw forms (docs/CODEC.md "icmp6"): ``raw_nd_options()`` and ``raw_icmp6()`` give only
canonical raw forms, the ones for which ``parse(build(x)) == x`` holds (link-layer and unknown option data
already padded to the 8-octet boundary, unknown types really unknown).
"""
from ipaddress import IPv6Address

from hypothesis import strategies as st

from mip6fast.wire import icmpv6 as w

KNOWN_TYPES = (1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 144, 145, 146, 147)
KNOWN_OPTIONS = (1, 2, 3, 5, 7, 8)

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
s16 = st.integers(-0x8000, 0x7FFF)
bytes16 = st.binary(min_size=16, max_size=16)
addresses = st.one_of(bytes16.map(IPv6Address), bytes16, bytes16.map(lambda b: str(IPv6Address(b))))
payload = st.binary(max_size=64)
unknown_message_type = u8.filter(lambda t: t not in KNOWN_TYPES)
unknown_option_type = u8.filter(lambda t: t not in KNOWN_OPTIONS)


def padded_option_data(max_units: int = 6):
    """Data of an option that fills whole 8-octet units: 8k + 6 bytes."""
    return st.integers(1, max_units).flatmap(lambda k: st.binary(min_size=8 * k - 2, max_size=8 * k - 2))


# ---------------------------------------------------------------- raw forms

def raw_nd_options():
    return st.one_of(
        st.tuples(st.sampled_from((1, 2)), padded_option_data()),
        st.tuples(st.just(3), st.tuples(st.integers(0, 128), st.integers(0, 7).map(lambda x: x << 5),
                                        u32, u32, bytes16)),
        st.tuples(st.sampled_from((5, 7)), u32),
        st.tuples(st.just(8), st.tuples(s16, u16)),
        st.tuples(unknown_option_type, padded_option_data()),
    )


def _raw_options(max_size=6):
    return st.lists(raw_nd_options(), max_size=max_size).map(tuple)


def raw_icmp6():
    """Canonical raw forms ``(icmp_type, code, fields)`` of every type."""
    return st.one_of(
        st.tuples(st.sampled_from((1, 3)), u8, st.tuples(payload)),
        st.tuples(st.sampled_from((2, 4)), u8, st.tuples(u32, payload)),
        st.tuples(st.sampled_from((128, 129)), u8, st.tuples(u16, u16, payload)),
        st.tuples(st.just(133), u8, st.tuples(_raw_options())),
        st.tuples(st.just(134), u8, st.tuples(u8, st.integers(0, 7).map(lambda x: x << 5), u16, u32, u32,
                                              _raw_options())),
        st.tuples(st.just(135), u8, st.tuples(bytes16, _raw_options())),
        st.tuples(st.just(136), u8, st.tuples(st.integers(0, 7).map(lambda x: x << 5), bytes16,
                                              _raw_options())),
        st.tuples(st.sampled_from((144, 146)), u8, st.tuples(u16)),
        st.tuples(st.just(145), u8, st.tuples(u16, st.lists(bytes16, max_size=5).map(tuple))),
        st.tuples(st.just(147), u8, st.tuples(u16, st.integers(0, 3).map(lambda x: x << 14), _raw_options())),
        st.tuples(unknown_message_type, u8, st.tuples(payload)),
    )


# ---------------------------------------------------------------- objects

def nd_options():
    """Every neighbour-discovery option class, the unknown one included."""
    return st.one_of(
        st.builds(w.SourceLinkLayerAddress, st.binary(max_size=20)),
        st.builds(w.TargetLinkLayerAddress, st.binary(max_size=20)),
        st.builds(w.PrefixInformation, addresses, st.integers(0, 128), st.booleans(), st.booleans(),
                  st.booleans(), u32, u32),
        st.builds(w.MTUOption, u32),
        st.builds(w.AdvertisementInterval, u32),
        st.builds(w.HomeAgentInformation, s16, u16),
        st.builds(w.UnknownNDOption, unknown_option_type, st.binary(max_size=30)),
    )


def _options():
    return st.lists(nd_options(), max_size=6)


def icmpv6_messages():
    """Every ICMPv6 message class, the unknown one included."""
    return st.one_of(
        st.builds(w.DestinationUnreachable, u8, payload),
        st.builds(w.PacketTooBig, u32, payload, u8),
        st.builds(w.TimeExceeded, u8, payload),
        st.builds(w.ParameterProblem, u8, u32, payload),
        st.builds(w.EchoRequest, u16, u16, payload, u8),
        st.builds(w.EchoReply, u16, u16, payload, u8),
        st.builds(w.RouterSolicitation, _options(), u8),
        st.builds(w.RouterAdvertisement, u8, st.booleans(), st.booleans(), st.booleans(), u16, u32, u32,
                  _options(), u8),
        st.builds(w.NeighborSolicitation, addresses, _options(), u8),
        st.builds(w.NeighborAdvertisement, addresses, st.booleans(), st.booleans(), st.booleans(),
                  _options(), u8),
        st.builds(w.HomeAgentAddressDiscoveryRequest, u16, u8),
        st.builds(w.HomeAgentAddressDiscoveryReply, u16, st.lists(addresses, max_size=5), u8),
        st.builds(w.MobilePrefixSolicitation, u16, u8),
        st.builds(w.MobilePrefixAdvertisement, u16, st.booleans(), st.booleans(), _options(), u8),
        st.builds(w.UnknownICMPv6Message, unknown_message_type, u8, payload),
    )
