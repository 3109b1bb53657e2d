"""The IPv6 header / extension-header layer (csrc/mip6_ip6.c and its twin), at the raw-form level."""
import pytest
from hypothesis import given, settings, strategies as st

from conftest import both, pair
from mip6fast.errors import ParseError
from reference import ipv6_upper_checksum, with_checksum

MN_COA = bytes.fromhex("20010db8000200000000000000000009")   # care-of address
HA = bytes.fromhex("20010db8000100000000000000000001")       # home agent
HOA = bytes.fromhex("20010db8000100000000000000000009")      # home address
CN = bytes.fromhex("20010db8000300000000000000000005")


@pytest.fixture(params=both("packet"))
def pk(request):
    return request.param


def bu_with_hao():
    """A home registration as RFC 6275 §11.7.1 sends it, laid out by hand.

    IPv6 (next header 60, payload 40) | destination options (next header 135, hdr ext len 2: 24 bytes;
    PadN with 2 data bytes so the HAO type byte sits at offset 6 = 8n+6, §6.3; option 201 length 16,
    the home address) | Mobility Header (payload proto 59, header len 1 = 16 bytes, type 5, checksum,
    sequence 7, flags A|H = 0xC000, lifetime 100 units = 400 s, PadN(2) to the 8-octet boundary).
    The MH checksum uses the home address as source (§6.3)."""
    mh = bytes.fromhex("3b01050000000007c000006401020000")
    mh = with_checksum(mh, 4, ipv6_upper_checksum(HOA, HA, 135, mh))
    dstopts = bytes.fromhex("8702010200 00c910".replace(" ", "")) + HOA
    ip6 = bytes.fromhex("60000000" "0028" "3c" "40") + MN_COA + HA
    return ip6 + dstopts + mh, mh


def ba_with_rh2():
    """The home agent's acknowledgement (§6.1.8) to the care-of address with a Type 2 routing header
    (§6.4: next header 135, hdr ext len 2, routing type 2, segments left 1, reserved, home address).
    MH: proto 59, len 1, type 6, checksum, status 0, K=0, sequence 7, lifetime 100, PadN(2)."""
    mh = bytes.fromhex("3b01060000000000000700640102 0000".replace(" ", ""))
    mh = with_checksum(mh, 4, ipv6_upper_checksum(HA, HOA, 135, mh))
    rh2 = bytes.fromhex("8702020100000000") + HOA
    ip6 = bytes.fromhex("60000000" "0028" "2b" "40") + HA + MN_COA
    return ip6 + rh2 + mh, mh


def test_bu_with_home_address_option_builds_byte_for_byte(pk):
    wire, mh = bu_with_hao()
    zero_mh = with_checksum(mh, 4, 0)
    assert pk.build(0, 0, 64, MN_COA, HA, None, None, HOA, None, 135, zero_mh) == wire
    assert pk.parse(wire) == (0, 0, 64, MN_COA, HA, None, None, HOA, None, 135, 64)


def test_ba_with_type2_routing_header_builds_byte_for_byte(pk):
    wire, mh = ba_with_rh2()
    assert pk.build(0, 0, 64, HA, MN_COA, None, HOA, None, None, 135, with_checksum(mh, 4, 0)) == wire
    assert pk.parse(wire) == (0, 0, 64, HA, MN_COA, None, HOA, None, None, 135, 64)


def test_checksum_uses_home_address_not_care_of(pk):
    wire, mh = bu_with_hao()
    # Recompute the MH checksum the wrong way (care-of address in the pseudo-header): must fail.
    wrong = with_checksum(with_checksum(mh, 4, 0), 4, ipv6_upper_checksum(MN_COA, HA, 135, with_checksum(mh, 4, 0)))
    bad = wire[:64] + wrong
    with pytest.raises(ParseError) as e:
        pk.parse(bad)
    assert (e.value.field, e.value.offset) == ("checksum", 68)
    assert pk.parse(bad, False)[9] == 135  # capture analysis: checksum not checked


def test_hop_by_hop_and_other_destination_options(pk):
    # HBH with Router Alert (RFC 2711: type 5, len 2, value 0) + PadN(0); dest opts: PadN(2), HAO,
    # an experimental option 0x1e with 2 bytes, then PadN(0)... laid out by hand.
    hbh = bytes.fromhex("2b00050200000100")
    rh = bytes.fromhex("3c02020100000000") + CN
    dst = bytes.fromhex("3a03010200 00c910".replace(" ", "")) + HOA + bytes.fromhex("1e02616201020000")
    icmp = bytes.fromhex("8000000000010002")
    icmp = with_checksum(icmp, 2, ipv6_upper_checksum(HOA, CN, 58, icmp))
    body = hbh + rh + dst + icmp
    wire = bytes.fromhex("60000000") + len(body).to_bytes(2, "big") + b"\x00\x40" + MN_COA + HA + body
    raw = pk.parse(wire)
    assert raw == (0, 0, 64, MN_COA, HA, ((5, b"\0\0"),), CN, HOA, ((0x1E, b"ab"),), 58, 40 + 8 + 24 + 32)
    assert pk.build(*raw[:10], with_checksum(icmp, 2, 0)) == wire


def test_tunnel_and_other_protocols_stop_the_walk(pk):
    inner = pk.build(0, 0, 64, CN, HOA, None, None, None, None, 59, b"")
    outer = pk.build(0, 0, 64, HA, MN_COA, None, None, None, None, 41, inner)
    assert pk.parse(outer)[9:] == (41, 40)
    frag = pk.build(0, 0, 64, HA, MN_COA, None, None, None, None, 44, bytes(8))
    assert pk.parse(frag)[9:] == (44, 40)


def test_traffic_class_and_flow_label(pk):
    w = pk.build(0xAB, 0xFEDCB, 7, HA, CN, None, None, None, None, 59, b"")
    assert w[:4] == bytes.fromhex("6abfedcb")
    assert pk.parse(w)[:3] == (0xAB, 0xFEDCB, 7)


def _ip6(nh, body, plen=None):
    plen = len(body) if plen is None else plen
    return bytes([0x60, 0, 0, 0]) + plen.to_bytes(2, "big") + bytes([nh, 64]) + HA + CN + body


PARSE_ERRORS = [
    (b"", "ipv6_header", 0, "truncated IPv6 header"),
    (b"\x40" + bytes(39), "version", 0, "not IPv6"),
    (_ip6(59, b"abc", plen=0), "payload_length", 4, "zero payload length with data (jumbograms are not supported)"),
    (_ip6(59, b"abc", plen=4), "payload_length", 4, "payload length exceeds the packet"),
    (_ip6(59, b"abc", plen=2), "payload_length", 4, "bytes beyond the payload length"),
    (_ip6(0, bytes(4)), "extension_header", 40, "truncated extension header"),
    (_ip6(0, bytes([59, 1]) + bytes(6)), "header_ext_len", 41, "extension header runs past the packet"),
    (_ip6(0, bytes([59, 0, 5, 9, 0, 0, 0, 0])), "option_length", 43, "option runs past its header"),
    (_ip6(0, bytes([59, 0, 0, 0, 0, 0, 0, 5])), "option", 47, "truncated option"),
    (_ip6(0, bytes([59, 0, 0xC2, 4, 0, 0, 0, 0])), "option", 42, "jumbo payload option not supported"),
    (_ip6(60, bytes([0, 0, 1, 4, 0, 0, 0, 0]) + bytes([59, 0, 1, 4, 0, 0, 0, 0])), "next_header", 40,
     "hop-by-hop options header not first"),
    (_ip6(43, bytes([59, 2, 0, 1]) + bytes(20)), "routing_type", 42, "routing type 0 is deprecated (RFC 5095)"),
    (_ip6(43, bytes([59, 2, 4, 1]) + bytes(20)), "routing_type", 42, "unsupported routing type"),
    (_ip6(43, bytes([59, 0, 2, 1]) + bytes(4)), "header_ext_len", 41, "type 2 routing header length must be 2"),
    (_ip6(43, bytes([59, 2, 2, 0]) + bytes(20)), "segments_left", 43,
     "type 2 routing header must have segments left 1"),
    (_ip6(43, bytes([59, 2, 2, 1]) + bytes(4)), "header_ext_len", 41, "routing header runs past the packet"),
    (_ip6(43, bytes(4)), "routing_header", 40, "truncated routing header"),
    (_ip6(43, bytes([43, 2, 2, 1]) + bytes(20) + bytes([59, 2, 2, 1]) + bytes(20)), "next_header", 40,
     "more than one routing header"),
    (_ip6(60, bytes([43, 0, 1, 4, 0, 0, 0, 0]) + bytes([59, 2, 2, 1]) + bytes(20)), "next_header", 40,
     "routing header after the destination options header"),
    (_ip6(60, bytes([60, 0, 1, 4, 0, 0, 0, 0]) * 2), "next_header", 40, "more than one destination options header"),
    (_ip6(60, bytes([59, 2, 0xC9, 16]) + HOA + bytes(4)), "option_alignment", 42, "Home Address option not at 8n+6"),
    (_ip6(60, bytes([59, 2, 1, 2, 0, 0, 0xC9, 15]) + HOA[:15] + bytes(1)), "option_length", 47,
     "Home Address option length must be 16"),
    (_ip6(60, bytes([59, 5, 1, 2, 0, 0, 0xC9, 16]) + HOA + bytes([1, 4, 0, 0, 0, 0, 0xC9, 16]) + HOA),
     "home_address_option", 70, "more than one Home Address option"),
    (_ip6(0, bytes([59, 5]) + bytes([0x1E, 0]) * 17 + bytes(12)), "option", 74, "too many options"),
]


@pytest.mark.parametrize("data,field,offset,reason", PARSE_ERRORS)
def test_parse_errors_name_field_and_offset(pk, data, field, offset, reason):
    with pytest.raises(ParseError) as e:
        pk.parse(data)
    assert (e.value.field, e.value.offset, e.value.reason) == (field, offset, reason)


BUILD_ERRORS = [
    dict(traffic_class=256), dict(flow_label=1 << 20), dict(hop_limit=-1), dict(next_header=300),
    dict(src=b"\0" * 15), dict(dst=b"\0" * 17), dict(rh2=b"\0"), dict(home_address=b"\0" * 4),
    dict(hop_by_hop=((0, b""),)), dict(hop_by_hop=((5, b"x" * 256),)), dict(hop_by_hop=((5, b""),) * 17),
    dict(destination_options=((201, b"\0" * 16),)), dict(destination_options=((1, b""),)),
    dict(payload=b"\0" * 65536), dict(hop_by_hop=((5, b"x" * 255),) * 9),
]


@pytest.mark.parametrize("change", BUILD_ERRORS)
def test_build_rejects_values_the_wire_cannot_carry(pk, change):
    args = dict(traffic_class=0, flow_label=0, hop_limit=64, src=HA, dst=CN, hop_by_hop=None, rh2=None,
                home_address=None, destination_options=None, next_header=59, payload=b"")
    args.update(change)
    with pytest.raises(ValueError):
        pk.build(*args.values())


opt = st.tuples(st.integers(2, 255), st.binary(max_size=40))
raw_packets = st.tuples(
    st.integers(0, 255), st.integers(0, 0xFFFFF), st.integers(0, 255),
    st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16),
    st.none() | st.lists(opt.filter(lambda o: o[0] != 0xC2), max_size=5).map(tuple),
    st.none() | st.binary(min_size=16, max_size=16),
    st.none() | st.binary(min_size=16, max_size=16),
    st.none() | st.lists(opt.filter(lambda o: o[0] != 201), max_size=5).map(tuple),
    st.sampled_from([6, 17, 41, 44, 50, 51, 59, 58, 135, 253]),
    st.binary(max_size=200),
)


def _normalise(raw):
    tc, fl, hl, src, dst, hbh, rh2, hao, dsto, nh, _payload = raw
    if hao is not None and dsto == ():
        dsto = None
    return (tc, fl, hl, src, dst, hbh, rh2, hao, dsto, nh)


@pytest.mark.compiled("packet")
@settings(max_examples=300)
@given(raw_packets)
def test_round_trip_and_twin_agree(raw):
    c, py = pair("packet")
    wire = c.build(*raw)
    assert wire == py.build(*raw)
    parsed = c.parse(wire, False)
    assert parsed == py.parse(wire, False)
    assert parsed[:10] == _normalise(raw)
    if raw[9] not in (58, 135) or len(raw[10]) < {58: 4, 135: 6}[raw[9]]:
        assert wire[parsed[10]:] == raw[10]
    else:
        assert c.parse(wire) == parsed  # the builder's checksum verifies


def _outcome(mod, data):
    try:
        return ("ok", mod.parse(data))
    except ParseError as e:
        return ("err", e.reason, e.field, e.offset)


@pytest.mark.compiled("packet")
@settings(max_examples=500)
@given(raw_packets, st.data())
def test_differential_fuzz_on_mutations(raw, data):
    c, py = pair("packet")
    wire = bytearray(c.build(*raw))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "extend", "byte"]))
        if kind == "flip" and wire:
            i = data.draw(st.integers(0, len(wire) - 1))
            wire[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            wire = wire[:data.draw(st.integers(0, len(wire)))]
        elif kind == "extend":
            wire += data.draw(st.binary(max_size=30))
        elif wire:
            wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    assert _outcome(c, bytes(wire)) == _outcome(py, bytes(wire))


@pytest.mark.compiled("packet")
@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_differential_fuzz_random_bytes(data):
    c, py = pair("packet")
    # Random bytes rarely pass the header checks; give half of them a valid-looking IPv6 header.
    for d in (data, bytes([0x60, 0, 0, 0]) + max(len(data) - 8, 0).to_bytes(2, "big") + data[6:]):
        assert _outcome(c, d) == _outcome(py, d)
