"""The header walk around ESP (csrc/mip6_esp.c and its twin mip6fast/_esp_py.py): where ESP goes in a
packet to protect and where it is in a received one. Hand-laid cases from RFC 4303 §3.1.1 and RFC 6275
§6.3, then the C and the twin against each other on mutated and arbitrary packets (same tuple or the
same ParseError, field, reason and offset)."""
from __future__ import annotations

import struct

import pytest
from conftest import both, pair
from esp_fixtures import ALGORITHMS, ba, bu, sa_pair, tunnelled_hoti
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast.errors import ParseError
from mip6fast.security import Mode, protect
from mip6fast.wire import Packet, Raw

FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SRC, DST = bytes.fromhex("20010db8000200000000000000000009"), bytes.fromhex("20010db8000100000000000000000001")
HOME = bytes.fromhex("20010db8000100000000000000000009")


def ipv6(first: int, body: bytes) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(body), first, 64) + SRC + DST + body


def hao_header(nxt: int) -> bytes:
    """Destination Options with a Home Address option at 8n+6 (RFC 6275 §6.3): PadN(4), option 201."""
    return bytes((nxt, 2, 1, 2, 0, 0, 201, 16)) + HOME


def rh2(nxt: int, segments_left: int = 1) -> bytes:
    return bytes((nxt, 2, 2, segments_left, 0, 0, 0, 0)) + HOME


def plain_options(nxt: int) -> bytes:
    return bytes((nxt, 0, 1, 4, 0, 0, 0, 0))


@pytest.mark.parametrize("esp", both("esp"))
def test_transport_mode_places_esp_after_the_home_address_option(esp):
    """A BU: IPv6 | Dest. options (HAO) | MH. ESP after the HAO header; the claimed source is the HAO."""
    packet = ipv6(60, hao_header(135) + bytes(16))
    assert esp.layout(packet, False) == (64, 40, 135, 48, 24)


@pytest.mark.parametrize("esp", both("esp"))
def test_transport_mode_places_esp_after_the_type_2_routing_header(esp):
    """A BA: IPv6 | RH2 (segments left 1) | MH. The claimed destination is the RH2's address."""
    packet = ipv6(43, rh2(135) + bytes(16))
    assert esp.layout(packet, False) == (64, 40, 135, 8, 48)


@pytest.mark.parametrize("esp", both("esp"))
def test_end_to_end_destination_options_go_inside_esp(esp):
    """A Destination Options header without a HAO and no routing header after it is end-to-end."""
    packet = ipv6(43, rh2(60) + plain_options(135) + bytes(16))
    assert esp.layout(packet, False) == (64, 40, 60, 8, 48)
    # ... but one before a routing header stays before ESP (RFC 8200 §4.1 order).
    packet = ipv6(60, plain_options(43) + rh2(135) + bytes(16))
    assert esp.layout(packet, False)[:3] == (72, 48, 135)


@pytest.mark.parametrize("esp", both("esp"))
def test_tunnel_mode_places_esp_after_every_header(esp):
    packet = ipv6(60, plain_options(41) + bytes(40))
    assert esp.layout(packet, False, True)[:3] == (48, 40, 41)
    assert esp.layout(packet, False, False)[:3] == (40, 6, 60)


@pytest.mark.parametrize("esp", both("esp"))
def test_received_packet_locates_esp_and_the_claimed_addresses(esp):
    packet = ipv6(60, hao_header(50) + bytes(40))
    assert esp.layout(packet, True) == (64, 40, 50, 48, 24)
    assert esp.layout(ipv6(50, bytes(40)), True) == (40, 6, 50, 8, 24)


@pytest.mark.parametrize("esp", both("esp"))
@pytest.mark.parametrize("packet, unprotect, field", [
    (ipv6(60, hao_header(135) + bytes(16))[:39], False, "length"),
    (b"\x40" + ipv6(135, bytes(8))[1:], False, "version"),
    (ipv6(135, bytes(8)) + b"x", False, "payload_length"),
    (ipv6(44, bytes((135, 0, 0, 0, 0, 0, 0, 1)) + bytes(8)), False, "fragment"),
    (ipv6(44, bytes((50, 0, 0, 0, 0, 0, 0, 1)) + bytes(8)), True, "fragment"),
    (ipv6(135, bytes(16)), True, "esp"),
    (ipv6(50, bytes(4)), True, "esp"),
    (ipv6(43, rh2(135, segments_left=2) + bytes(8)), False, "routing_header"),
    (ipv6(43, bytes((135, 0, 0, 1, 0, 0, 0, 0)) + bytes(8)), False, "routing_header"),
    (ipv6(60, hao_header(60) + hao_header(135) + bytes(8)), False, "home_address"),
    (ipv6(60, bytes((135, 0, 1, 9, 0, 0, 0, 0))), False, "destination_option"),
    (ipv6(60, bytes((0, 0, 1, 4, 0, 0, 0, 0))), False, "next_header"),
    (ipv6(60, bytes((135, 3, 1, 4, 0, 0, 0, 0))), False, "extension_header"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_packets_name_the_field(esp, packet, unprotect, field):
    with pytest.raises(ParseError) as info:
        esp.layout(packet, unprotect)
    assert info.value.field == field


def _outcome(layout, packet: bytes, unprotect: bool, tunnel: bool):
    try:
        return layout(packet, unprotect, tunnel)
    except ParseError as exc:
        return exc


def _agree(packet: bytes) -> None:
    compiled, twin = pair("esp")
    for unprotect, tunnel in ((False, False), (False, True), (True, False)):
        assert _outcome(compiled.layout, packet, unprotect, tunnel) == _outcome(twin.layout, packet,
                                                                                  unprotect, tunnel)


SAMPLES = [bu(), ba(), tunnelled_hoti()]
for _alg in ALGORITHMS[:1]:
    for _build, _from_mn, _mode in ((bu, True, Mode.TRANSPORT), (ba, False, Mode.TRANSPORT),
                                    (tunnelled_hoti, True, Mode.TUNNEL)):
        SAMPLES.append(protect(_build(), sa_pair(_alg, from_mn=_from_mn, mode=_mode)[0]))


@pytest.mark.compiled("esp")
@FUZZ
@given(st.sampled_from(SAMPLES), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
       st.integers(0, 120))
def test_c_and_twin_agree_on_mutated_packets(sample, flips, cut):
    data = bytearray(sample)
    for at, value in flips:
        if at < len(data):
            data[at] = value
    _agree(bytes(data))
    _agree(bytes(data[:max(0, len(data) - cut)]))


@pytest.mark.compiled("esp")
@FUZZ
@given(st.sampled_from([0, 43, 44, 50, 60, 135]), st.binary(max_size=160))
def test_c_and_twin_agree_on_arbitrary_extension_headers(first, body):
    _agree(Packet(src=SRC, dst=DST, payload=Raw(first, body)).to_bytes() if body else ipv6(first, b"\0"))
    _agree(body)


@pytest.mark.parametrize("esp", both("esp"))
def test_trailer_reads_padding_pad_length_and_next_header(esp):
    """RFC 4303 §2.4: data | 1, 2, 3, ... | pad length | next header."""
    assert esp.trailer(b"data" + bytes((1, 2, 3)) + bytes((3, 135))) == (135, 4)
    assert esp.trailer(b"data" + bytes((0, 41))) == (41, 4)
    assert esp.trailer(bytes((0, 59))) == (59, 0)
    for bad, offset in ((b"x", 0), (b"d" + bytes((1, 3, 135)), 2), (b"data" + bytes((1, 3, 2, 135)), 5)):
        with pytest.raises(ParseError) as info:
            esp.trailer(bad)
        assert (info.value.field, info.value.offset) == ("padding", offset)


@pytest.mark.parametrize("esp", both("esp"))
def test_splice_inserts_and_removes_with_the_next_header_and_payload_length(esp):
    packet = ipv6(60, hao_header(135) + bytes(16))
    protected = esp.splice(packet, 64, 40, 50, b"H" * 8, -1, b"B" * 20)
    assert protected[:4] == packet[:4] and protected[4:6] == (64 - 40 + 28).to_bytes(2, "big")
    assert protected[6:40] == packet[6:40] and protected[40] == 50 and protected[41:64] == packet[41:64]
    assert protected[64:] == b"H" * 8 + b"B" * 20
    back = esp.splice(protected, 64, 40, 135, packet[64:] + b"trailer", 16)
    assert back == packet
    assert esp.splice(ipv6(50, bytes(8)), 40, 6, 135, b"abcd")[6] == 135
    for args in ((packet, 64, 64, 50, b""), (packet, 30, 6, 50, b""), (packet, 64, 40, 50, b"x" * 70000),
                 (packet, 200, 40, 50, b"")):
        with pytest.raises(ValueError):
            esp.splice(*args)


@pytest.mark.compiled("esp")
@FUZZ
@given(st.binary(max_size=40))
def test_c_and_twin_agree_on_trailers(plaintext):
    compiled, twin = pair("esp")

    def outcome(module):
        try:
            return module.trailer(plaintext)
        except ParseError as exc:
            return exc
    assert outcome(compiled) == outcome(twin)
