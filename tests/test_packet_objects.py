"""mip6fast.wire.Packet and parse(): the public surface every later part uses."""
from ipaddress import IPv6Address

import pytest
from hypothesis import given, settings, strategies as st

from mip6fast.errors import ParseError
from mip6fast.wire import (
    AlternateCareOfAddress, BindingAcknowledgement, BindingUpdate, EchoRequest, IPv6Option,
    NeighborAdvertisement, Packet, Raw, TargetLinkLayerAddress, parse,
)
from reference import ipv6_upper_checksum
from strategies_icmpv6 import icmpv6_messages
from strategies_mobility import mobility_messages

HA, COA, HOA, CN = "2001:db8:1::1", "2001:db8:2::9", "2001:db8:1::9", "2001:db8:3::5"


def home_bu(seq=7):
    return Packet(src=COA, dst=HA, home_address=HOA,
                  payload=BindingUpdate(sequence=seq, lifetime=400, ack=True, home=True,
                                        options=[AlternateCareOfAddress(COA)]))


def test_home_registration_layout_and_checksum():
    data = home_bu().to_bytes()
    # IPv6 (40) + destination options with the HAO (24) + MH: 12 fixed bytes, PadN(0) so the
    # Alternate CoA type byte sits at 14 = 8n+6, the option (18 bytes): 32 bytes, header len 3.
    assert len(data) == 40 + 24 + 32
    assert data[6] == 60 and data[40] == 135
    mh = data[64:]
    assert mh[:4] == bytes([59, 3, 5, 0]) and mh[12:16] == bytes([1, 0, 3, 16])
    zeroed = mh[:4] + b"\0\0" + mh[6:]
    # RFC 6275 §6.3: the home address, not the care-of address, is the pseudo-header source.
    assert int.from_bytes(mh[4:6], "big") == ipv6_upper_checksum(
        IPv6Address(HOA).packed, IPv6Address(HA).packed, 135, zeroed)


def test_parse_round_trips_and_reads_fields():
    p = parse(home_bu().to_bytes())
    assert p == home_bu()
    assert p.payload.sequence == 7 and p.payload.lifetime == 400 and p.payload.home and p.payload.ack
    assert p.upper_layer_src == IPv6Address(HOA) and p.upper_layer_dst == IPv6Address(HA)
    assert p.next_header == 135


def test_ba_with_rh2_and_tunnel():
    ba = Packet(src=HA, dst=COA, rh2=HOA, payload=BindingAcknowledgement(status=0, sequence=7, lifetime=400))
    assert parse(ba.to_bytes()) == ba and ba.upper_layer_dst == IPv6Address(HOA)
    inner = Packet(src=CN, dst=HOA, payload=EchoRequest(identifier=1, sequence=2, data=b"hello"), hop_limit=63)
    outer = Packet(src=HA, dst=COA, payload=inner)
    data = outer.to_bytes()
    assert data[6] == 41 and parse(data) == outer and parse(data).payload.payload.data == b"hello"


def test_error_offsets_count_from_the_outer_packet():
    inner = Packet(src=CN, dst=HOA, payload=EchoRequest(identifier=1, sequence=2)).to_bytes()
    outer = bytearray(Packet(src=HA, dst=COA, payload=Raw(41, inner)).to_bytes())
    outer[40 + 40 + 2] ^= 0xFF  # the inner ICMPv6 checksum
    with pytest.raises(ParseError) as e:
        parse(bytes(outer))
    assert (e.value.field, e.value.offset) == ("checksum", 82)
    # A Mobility Header error behind a destination options header: the pointer moves with it
    # (ROLE-RULES: Parameter Problem pointer counts from the start of the invoking packet).
    bad = bytearray(home_bu().to_bytes())
    bad[64] = 6  # payload proto must be 59
    with pytest.raises(ParseError) as e:
        parse(bytes(bad), verify_checksums=False)
    assert (e.value.field, e.value.offset) == ("payload_proto", 64)


def test_tunnel_depth_limit():
    p = Packet(src=CN, dst=HOA, payload=Raw(59))
    for _ in range(3):
        p = Packet(src=HA, dst=COA, payload=p)
    assert parse(p.to_bytes()) == p  # four IPv6 headers: the limit
    too_deep = Packet(src=HA, dst=COA, payload=p)
    with pytest.raises(ParseError) as e:
        parse(too_deep.to_bytes())
    assert (e.value.field, e.value.offset) == ("next_header", 160)  # the fifth header


def test_options_and_normalisation():
    p = Packet(src=HA, dst=CN, payload=Raw(17, b"x"), home_address=HOA, destination_options=[],
               hop_by_hop=[(5, b"\0\0")])
    assert p.destination_options is None and p.hop_by_hop == (IPv6Option(5, b"\0\0"),)
    assert parse(p.to_bytes()) == p
    assert Packet(src=IPv6Address(HA).packed, dst=CN, payload=Raw(59)) == Packet(src=HA, dst=CN, payload=Raw(59))
    assert "2001:db8:1::1" in repr(p)


@pytest.mark.parametrize("kwargs,exc", [
    (dict(src="not an address"), ValueError), (dict(src=b"\0" * 4), ValueError),
    (dict(hop_limit=256), ValueError), (dict(flow_label=-1), ValueError),
    (dict(payload="bytes?"), TypeError), (dict(destination_options=[(201, b"\0" * 16)]), ValueError),
    (dict(hop_by_hop=[(1, b"")]), ValueError), (dict(src=12), TypeError),
])
def test_bad_values_are_clear_errors(kwargs, exc):
    args = dict(src=HA, dst=CN, payload=Raw(59))
    args.update(kwargs)
    with pytest.raises(exc):
        Packet(**args)


def test_neighbour_advertisement_from_the_home_agent():
    # Proxy NA as RFC 6275 §10.4.1 sends it: to all-nodes, R=0 S=0 O=1, TLLA = the HA's MAC.
    na = Packet(src="fe80::1", dst="ff02::1", hop_limit=255,
                payload=NeighborAdvertisement(target=HOA, override=True,
                                              options=[TargetLinkLayerAddress(bytes.fromhex("020000000001"))]))
    data = na.to_bytes()
    assert data[40] == 136 and data[44] == 0x20
    assert parse(data) == na


addresses = st.binary(min_size=16, max_size=16).map(IPv6Address)
payloads = st.deferred(lambda: mobility_messages() | icmpv6_messages()
                       | st.builds(Raw, st.sampled_from([6, 17, 44, 50, 59]), st.binary(max_size=64)))


@st.composite
def packets(draw, depth=0):
    payload = draw(payloads if depth >= 1 else (payloads | packets(depth=1)))
    return Packet(src=draw(addresses), dst=draw(addresses), payload=payload,
                  home_address=draw(st.none() | addresses), rh2=draw(st.none() | addresses),
                  hop_limit=draw(st.integers(0, 255)), traffic_class=draw(st.integers(0, 255)),
                  flow_label=draw(st.integers(0, 0xFFFFF)))


@settings(max_examples=300)
@given(packets())
def test_every_packet_round_trips(p):
    data = p.to_bytes()
    assert parse(data) == p
    assert parse(data).to_bytes() == data


@settings(max_examples=300)
@given(packets(), st.data())
def test_fuzz_mutated_packets_raise_only_parse_error(p, data):
    wire = bytearray(p.to_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    wire = wire[:data.draw(st.integers(0, len(wire)))] if data.draw(st.booleans()) else wire
    try:
        q = parse(bytes(wire), verify_checksums=data.draw(st.booleans()))
    except ParseError:
        return
    assert isinstance(q, Packet)
    parse(q.to_bytes())  # whatever parsed re-encodes to something that parses


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data):
    for d in (data, bytes([0x60, 0, 0, 0]) + max(len(data) - 8, 0).to_bytes(2, "big") + data[6:]):
        try:
            parse(d, verify_checksums=False)
        except ParseError:
            pass
