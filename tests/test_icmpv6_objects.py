"""The ICMPv6 / neighbour-discovery objects of mip6fast.wire.icmpv6, over both codecs."""
import dataclasses
from ipaddress import IPv6Address, IPv6Network

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from conftest import both
from mip6fast.errors import ParseError
from mip6fast.wire import icmpv6 as w
from strategies_icmpv6 import icmpv6_messages, nd_options


@pytest.fixture(params=both("icmp6"))
def codec(request, monkeypatch):
    """Runs the test with the object layer over the compiled codec, then over the twin."""
    monkeypatch.setattr(w, "CODEC", request.param)
    return request.param


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


HA1 = "2001:db8:1::1"
HA2 = "2001:db8:1::2"
HA1_HEX = "20010db8000100000000000000000001"
HA2_HEX = "20010db8000100000000000000000002"

# (object, hex) written from the RFC figures named in the comments.
VECTORS = [
    # RFC 4443 §3.1: Type 1 | Code 3 | Checksum | Unused | invoking packet.
    (w.DestinationUnreachable(3, h("60000000")), "01 03 0000 00000000 60000000"),
    # RFC 4443 §3.2: Type 2 | Code 0 | Checksum | MTU 1280 | invoking.
    (w.PacketTooBig(1280, h("6000")), "02 00 0000 00000500 6000"),
    # RFC 4443 §3.3: Type 3 | Code 1 (fragment reassembly time exceeded) | Checksum | Unused | invoking.
    (w.TimeExceeded(1, h("60")), "03 01 0000 00000000 60"),
    # RFC 4443 §3.4: Type 4 | Code 1 (unrecognised next header) | Checksum | Pointer 6 | invoking.
    (w.ParameterProblem(1, 6, h("6000000000088c40")), "04 01 0000 00000006 6000000000088c40"),
    # RFC 4443 §4.1: Type 128 | Code 0 | Checksum | Identifier 1 | Sequence 2 | data "abc".
    (w.EchoRequest(1, 2, b"abc"), "80 00 0000 0001 0002 616263"),
    # RFC 4443 §4.2: Type 129, no data.
    (w.EchoReply(1, 2), "81 00 0000 0001 0002"),
    # RFC 4861 §4.1: Type 133 | Code 0 | Checksum | Reserved, no options.
    (w.RouterSolicitation(), "85 00 0000 00000000"),
    # RFC 4861 §4.1 with a Source Link-layer Address option (§4.6.1, Ethernet RFC 2464 §8).
    (w.RouterSolicitation([w.SourceLinkLayerAddress(h("001122334455"))]),
     "85 00 0000 00000000 01 01 001122334455"),
    # RFC 4861 §4.2 + RFC 6275 §7.1-7.4: Cur Hop Limit 64 | M O H = 0 0 1 -> 20 | Router Lifetime 1800 =
    # 0708 | Reachable 0 | Retrans 0 | Prefix Information, R set: 03 04 40 | L A R -> e0 | valid 2592000 =
    # 00278d00 | preferred 604800 = 00093a80 | reserved | HA1 (whole address) | Advertisement Interval
    # 1000 ms = 000003e8 | Home Agent Information preference 10 = 000a, lifetime 600 = 0258.
    (w.RouterAdvertisement(home_agent=True, options=[
        w.PrefixInformation(HA1, router_address=True),
        w.AdvertisementInterval(1000),
        w.HomeAgentInformation(10, 600)]),
     "86 00 0000 40 20 0708 00000000 00000000"
     " 03 04 40 e0 00278d00 00093a80 00000000 " + HA1_HEX +
     " 07 01 0000 000003e8 08 01 0000 000a 0258"),
    # RFC 4861 §4.2: M O set -> c0, hop limit 255, lifetime 0, reachable 30000 = 7530, retrans 1000 =
    # 03e8, MTU option (§4.6.4) 1480 = 05c8, an unknown option type 24 (Route Information, RFC 4191):
    # data padded to 6 bytes.
    (w.RouterAdvertisement(255, True, True, False, 0, 30000, 1000,
                           (w.MTUOption(1480), w.UnknownNDOption(24, h("30")))),
     "86 00 0000 ff c0 0000 00007530 000003e8 05 01 0000 000005c8 18 01 300000000000"),
    # RFC 4861 §4.3: Type 135 | Code 0 | Checksum | Reserved | Target HA1 | SLLA.
    (w.NeighborSolicitation(HA1, [w.SourceLinkLayerAddress("02:00:00:00:00:01")]),
     "87 00 0000 00000000 " + HA1_HEX + " 01 01 020000000001"),
    # RFC 4861 §4.4, as a home agent defends a home address (RFC 6275 §10.4.1): R S O = 0 0 1 -> 20,
    # Target HA1, Target Link-layer Address (§4.6.1).
    (w.NeighborAdvertisement(HA1, override=True, options=[w.TargetLinkLayerAddress(h("020000000002"))]),
     "88 00 0000 20000000 " + HA1_HEX + " 02 01 020000000002"),
    # RFC 4861 §4.4: R S O = 1 1 0 -> c0.
    (w.NeighborAdvertisement(HA2, router=True, solicited=True), "88 00 0000 c0000000 " + HA2_HEX),
    # RFC 6275 §6.5: Type 144 | Code 0 | Checksum | Identifier 4660 = 1234 | Reserved.
    (w.HomeAgentAddressDiscoveryRequest(0x1234), "90 00 0000 1234 0000"),
    # RFC 6275 §6.6: Type 145 | Code 0 | Checksum | Identifier | Reserved | HA2, HA1 (preference order).
    (w.HomeAgentAddressDiscoveryReply(0x1234, [HA2, HA1]), "91 00 0000 1234 0000 " + HA2_HEX + HA1_HEX),
    # RFC 6275 §6.7: Type 146 | Code 0 | Checksum | Identifier 9 | Reserved.
    (w.MobilePrefixSolicitation(9), "92 00 0000 0009 0000"),
    # RFC 6275 §6.8: Type 147 | Code 0 | Checksum | Identifier 9 | M O = 0 1 -> 4000 | Prefix Information
    # 2001:db8:1::/64, L A R = 0 1 0 -> 40, valid 3600 = 00000e10, preferred 1800 = 00000708.
    (w.MobilePrefixAdvertisement(9, other=True, options=[
        w.PrefixInformation("2001:db8:1::", 64, False, True, False, 3600, 1800)]),
     "93 00 0000 0009 4000 03 04 40 40 00000e10 00000708 00000000 20010db8000100000000000000000000"),
    # RFC 4443 §2.1 general format, type 137 unknown to this package: body after the checksum.
    (w.UnknownICMPv6Message(137, 0, h("00000000") + bytes.fromhex(HA1_HEX)),
     "89 00 0000 00000000 " + HA1_HEX),
]


VECTOR_IDS = [f"{i}-{type(m).__name__}" for i, (m, _) in enumerate(VECTORS)]


@pytest.mark.parametrize("msg,wire", VECTORS, ids=VECTOR_IDS)
def test_vectors_both_ways(codec, msg, wire):
    assert w.build_icmp6(msg).hex() == h(wire).hex()
    assert msg.to_bytes() == h(wire)
    assert w.parse_icmp6(h(wire)) == msg


def test_every_class_has_a_vector():
    classes = {type(m) for m, _ in VECTORS}
    expected = {cls for cls in vars(w).values()
                if isinstance(cls, type) and issubclass(cls, w.ICMPv6Message) and cls is not w.ICMPv6Message
                and not cls.__name__.startswith("_")}
    assert classes == expected
    options = {type(o) for m, _ in VECTORS for o in getattr(m, "options", ())}
    assert options == {w.SourceLinkLayerAddress, w.TargetLinkLayerAddress, w.PrefixInformation,
                       w.MTUOption, w.AdvertisementInterval, w.HomeAgentInformation, w.UnknownNDOption}


def test_raw_forms_of_encode():
    ra = w.RouterAdvertisement(managed=True, home_agent=True,
                               options=[w.PrefixInformation(HA1, 64, True, False, True, 5, 4),
                                        w.HomeAgentInformation(-3, 7)])
    assert w.encode(ra) == (134, 0, (64, 0xA0, 1800, 0, 0, (
        (3, (64, 0xA0, 5, 4, h(HA1_HEX))), (8, (-3, 7)))))
    assert w.decode(w.encode(ra)) == ra
    assert w.encode(w.MobilePrefixAdvertisement(1, True, True)) == (147, 0, (1, 0xC000, ()))
    assert w.encode(w.NeighborAdvertisement(HA1, True, False, True)) == (136, 0, (0xA0, h(HA1_HEX), ()))
    assert w.encode(w.UnknownICMPv6Message(200, 1, b"x")) == (200, 1, (b"x",))


# ---------------------------------------------------------------- properties

@given(msg=icmpv6_messages())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_objects_roundtrip_through_bytes(codec, msg):
    data = w.build_icmp6(msg)
    assert w.parse_icmp6(data) == msg
    assert w.decode(w.encode(msg)) == msg
    assert hash(w.parse_icmp6(data)) == hash(msg)


MESSAGE_CLASSES = {
    w.DestinationUnreachable, w.PacketTooBig, w.TimeExceeded, w.ParameterProblem, w.EchoRequest,
    w.EchoReply, w.RouterSolicitation, w.RouterAdvertisement, w.NeighborSolicitation,
    w.NeighborAdvertisement, w.HomeAgentAddressDiscoveryRequest, w.HomeAgentAddressDiscoveryReply,
    w.MobilePrefixSolicitation, w.MobilePrefixAdvertisement, w.UnknownICMPv6Message}
OPTION_CLASSES = {
    w.SourceLinkLayerAddress, w.TargetLinkLayerAddress, w.PrefixInformation, w.MTUOption,
    w.AdvertisementInterval, w.HomeAgentInformation, w.UnknownNDOption}


def test_strategies_cover_every_class():
    """Others import these strategies: they must reach every message and option class."""
    seen = set()

    @given(msg=icmpv6_messages(), opt=nd_options())
    @settings(max_examples=400, derandomize=True, database=None, phases=[Phase.generate], deadline=None)
    def collect(msg, opt):
        seen.add(type(msg))
        seen.add(type(opt))
        seen.update(type(o) for o in getattr(msg, "options", ()))

    collect()
    assert MESSAGE_CLASSES | OPTION_CLASSES <= seen, (MESSAGE_CLASSES | OPTION_CLASSES) - seen


# ---------------------------------------------------------------- normalisation

def test_addresses_in_any_form_compare_equal():
    forms = [HA1, IPv6Address(HA1), h(HA1_HEX), bytearray(h(HA1_HEX))]
    objs = [w.NeighborSolicitation(f) for f in forms]
    assert all(o == objs[0] for o in objs)
    assert objs[0].target == IPv6Address(HA1)
    reply = w.HomeAgentAddressDiscoveryReply(1, iter([HA1, h(HA2_HEX)]))
    assert reply.addresses == (IPv6Address(HA1), IPv6Address(HA2))


def test_options_become_a_tuple():
    opts = [w.MTUOption(1500)]
    rs = w.RouterSolicitation(opts)
    assert rs.options == (w.MTUOption(1500),) and isinstance(rs.options, tuple)
    assert w.RouterSolicitation(o for o in opts) == rs
    hash(rs)


def test_flags_become_bools():
    ra = w.RouterAdvertisement(managed=1, other=0)
    assert ra.managed is True and ra.other is False
    assert ra == w.RouterAdvertisement(managed=True)


def test_link_layer_address_is_padded_as_the_wire_returns_it():
    # RFC 4861 §4.6.1: padded to the 8-octet boundary; the 6-byte Ethernet address needs none.
    assert w.SourceLinkLayerAddress("00-11-22-33-44-55").address == h("001122334455")
    eui64 = w.SourceLinkLayerAddress(h("0011223344556677"))
    assert eui64.address == h("0011223344556677 000000000000")
    assert eui64 == w.SourceLinkLayerAddress(eui64.address)
    assert w.TargetLinkLayerAddress(b"").address == bytes(6)
    assert w.UnknownNDOption(99, b"").data == bytes(6)
    assert w.UnknownNDOption(99, b"1234567").data == b"1234567" + bytes(7)


def test_prefix_bits_after_the_length_are_cleared_unless_r():
    # RFC 4861 §4.6.2: bits after the prefix length are reserved; RFC 6275 §7.2: with R the field is the
    # router's whole address.
    assert w.PrefixInformation(HA1).prefix == IPv6Address("2001:db8:1::")
    assert w.PrefixInformation(HA1, 48).prefix == IPv6Address("2001:db8:1::")
    assert w.PrefixInformation("2001:db8:1:ffff::1", 52).prefix == IPv6Address("2001:db8:1:f000::")
    assert w.PrefixInformation(HA1, 0).prefix == IPv6Address("::")
    assert w.PrefixInformation(HA1, 128).prefix == IPv6Address(HA1)
    assert w.PrefixInformation(HA1, router_address=True).prefix == IPv6Address(HA1)
    assert w.PrefixInformation(HA1, router_address=True).network == IPv6Network("2001:db8:1::/64")
    # An advertisement that sends the host bits anyway decodes to the masked prefix.
    raw = (133, 0, (((3, (64, 0xC0, 1, 1, h(HA1_HEX))),),))
    assert w.decode(raw).options[0].prefix == IPv6Address("2001:db8:1::")


def test_distinct_classes_with_the_same_fields_differ():
    assert w.EchoRequest(1, 1) != w.EchoReply(1, 1)
    assert w.SourceLinkLayerAddress(bytes(6)) != w.TargetLinkLayerAddress(bytes(6))
    assert w.HomeAgentAddressDiscoveryRequest(1) != w.MobilePrefixSolicitation(1)


def test_frozen_and_class_attributes():
    ra = w.RouterAdvertisement()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ra.home_agent = True
    assert (ra.cur_hop_limit, ra.router_lifetime, ra.code) == (64, 1800, 0)
    assert w.HomeAgentAddressDiscoveryReply.ICMP_TYPE == 145
    assert w.MobilePrefixAdvertisement.ICMP_TYPE == 147
    assert w.HomeAgentInformation.OPTION_TYPE == 8 and w.AdvertisementInterval.OPTION_TYPE == 7
    assert w.HomeAgentInformation(lifetime=60).preference == 0
    pi = w.PrefixInformation("2001:db8::")
    assert (pi.prefix_length, pi.on_link, pi.autonomous, pi.router_address, pi.valid_lifetime,
            pi.preferred_lifetime) == (64, True, True, False, 2592000, 604800)


# ---------------------------------------------------------------- rejected values

@pytest.mark.parametrize("make", [
    lambda: w.PrefixInformation(HA1, 129),
    lambda: w.PrefixInformation(HA1, valid_lifetime=1 << 32),
    lambda: w.PrefixInformation(h(HA1_HEX) + b"\x00"),
    lambda: w.NeighborSolicitation(h(HA1_HEX) + b"\x00"),
    lambda: w.NeighborAdvertisement("2001:db8::zz"),
    lambda: w.HomeAgentAddressDiscoveryReply(1, [HA1, b"\x00" * 17]),
    lambda: w.HomeAgentInformation(40000, 1),
    lambda: w.HomeAgentInformation(0, 70000),
    lambda: w.MTUOption(-1),
    lambda: w.AdvertisementInterval(1 << 32),
    lambda: w.SourceLinkLayerAddress(b"\x00" * 2039),
    lambda: w.SourceLinkLayerAddress("00:11:zz"),
    lambda: w.UnknownNDOption(3, b""),
    lambda: w.UnknownNDOption(256, b""),
    lambda: w.UnknownICMPv6Message(128, 0, b""),
    lambda: w.UnknownICMPv6Message(300, 0, b""),
    lambda: w.EchoRequest(70000, 0),
    lambda: w.EchoReply(0, 0, code=256),
    lambda: w.DestinationUnreachable(-1, b""),
    lambda: w.PacketTooBig(1 << 32, b""),
    lambda: w.ParameterProblem(0, -1, b""),
    lambda: w.RouterAdvertisement(cur_hop_limit=256),
    lambda: w.RouterAdvertisement(router_lifetime=65536),
    lambda: w.RouterSolicitation([w.MTUOption(1500)] * 65),
    lambda: w.MobilePrefixSolicitation(1 << 16),
])
def test_value_error(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("make", [
    lambda: w.RouterSolicitation([(5, 1500)]),
    lambda: w.RouterSolicitation(5),
    lambda: w.EchoRequest("1", 0),
    lambda: w.EchoRequest(1, 0, "text"),
    lambda: w.NeighborSolicitation(1.5),
    lambda: w.HomeAgentAddressDiscoveryReply(1, HA1),
    lambda: w.RouterAdvertisement(managed="yes"),
    lambda: w.encode(object()),
])
def test_type_error(make):
    with pytest.raises(TypeError):
        make()


def test_sixty_four_options_are_fine(codec):
    rs = w.RouterSolicitation([w.MTUOption(i) for i in range(64)])
    assert w.parse_icmp6(rs.to_bytes()) == rs


def test_parse_errors_come_through(codec):
    with pytest.raises(ParseError) as info:
        w.parse_icmp6(h("86 00 0000 40 00"))
    assert (info.value.field, info.value.offset) == ("icmp6_length", 0)
    with pytest.raises(ParseError) as info:
        w.parse_icmp6(h("85 00 0000 00000000 01 00 000000000000"))
    assert (info.value.field, info.value.offset) == ("option_length", 9)


def test_a_prefix_length_over_128_is_a_parse_error(codec):
    # The wire carries 0..255; RFC 4861 §4.6.2 allows 0..128. The codec refuses more with a ParseError,
    # so parse_icmp6 never raises anything else.
    data = h("85 00 0000 00000000 03 04 c8 c0 00000001 00000001 00000000" + HA1_HEX)
    with pytest.raises(ParseError) as info:
        codec.parse(data)
    assert (info.value.field, info.value.offset) == ("prefix_length", 10)
    with pytest.raises(ParseError):
        w.parse_icmp6(data)


# ---------------------------------------------------------------- helpers

def test_multicast_constants():
    assert w.ALL_NODES == IPv6Address("ff02::1")
    assert w.ALL_ROUTERS == IPv6Address("ff02::2")


def test_solicited_node_multicast():
    # RFC 4291 §2.7.1: "4037::01:800:200E:8C6C is FF02::1:FF0E:8C6C".
    assert w.solicited_node_multicast("4037::01:800:200E:8C6C") == IPv6Address("ff02::1:ff0e:8c6c")
    assert w.solicited_node_multicast(IPv6Address(HA1)) == IPv6Address("ff02::1:ff00:1")
    assert w.solicited_node_multicast(h(HA2_HEX)) == IPv6Address("ff02::1:ff00:2")


def test_home_agents_anycast():
    # RFC 2526 §2/§3 with anycast ID 126 (RFC 6275 §10.5 / the IANA entry): for a /64 the EUI-64 form
    # interface identifier fdff:ffff:ffff:fffe.
    want = IPv6Address("2001:db8:1:0:fdff:ffff:ffff:fffe")
    assert w.home_agents_anycast("2001:db8:1::/64") == want
    assert w.home_agents_anycast(IPv6Network("2001:db8:1::/64")) == want
    assert w.home_agents_anycast(HA1) == want  # a bare address: its /64
    assert w.home_agents_anycast(w.PrefixInformation(HA1, router_address=True)) == want
    # Other lengths: all ones between the prefix and the 7-bit ID (RFC 2526 §2, second figure).
    assert w.home_agents_anycast("2001:db8:1::/48") == IPv6Address("2001:db8:1:ffff:ffff:ffff:ffff:fffe")
    assert w.home_agents_anycast("2001:db8:1::/120") == IPv6Address("2001:db8:1::fe")
    assert w.home_agents_anycast("2001:db8:1::/121") == IPv6Address("2001:db8:1::7e")
    with pytest.raises(ValueError):
        w.home_agents_anycast("2001:db8:1::/122")
    with pytest.raises(ValueError):
        w.home_agents_anycast("10.0.0.0/8")


def test_module_api_for_the_packet_layer():
    for name in ("CODEC", "decode", "encode", "parse_icmp6", "build_icmp6"):
        assert hasattr(w, name)
    assert w.CODEC.__name__ in ("mip6fast._icmp6", "mip6fast._icmp6_py")


def test_router_advertisement_flags_round_trip():
    """Issue: parsing and re-encoding an RA dropped the Default Router Preference bits (RFC 4191 §2.2)
    and every other flag bit. Each value of the flag byte now survives parse → object → build, the
    object naming Prf and the rest; the bytes are built by hand here."""
    for flags in range(256):
        raw = bytes([134, 0, 0, 0, 64, flags, 0x07, 0x08]) + bytes(8)
        ra = w.parse_icmp6(raw)
        assert (ra.managed, ra.other, ra.home_agent) == (bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20))
        assert ra.preference == (flags >> 3) & 3 and ra.other_flags == flags & 0x07
        assert w.build_icmp6(ra) == raw
    with pytest.raises(ValueError, match="preference"):
        w.RouterAdvertisement(preference=4)
    with pytest.raises(ValueError, match="other_flags"):
        w.RouterAdvertisement(other_flags=0x08)
