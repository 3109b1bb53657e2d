"""The Home Agent Switch message (RFC 5142, Mobility Header type 12) in the wire layer: the codec (C and its
pure-Python twin, ``both("mh")``) against bytes built by hand from RFC 5142 §5.2's format, the errors,
and the object ``HomeAgentSwitch``. tshark's dissection of it is in tests/test_interop_tshark.py.

RFC 5142 §5.2, after the common part of the Mobility Header (Payload Proto 59, Header Len, MH Type 12,
Reserved, Checksum): ``# of Addresses`` (8 bits), ``Reserved`` (8 bits), then the Home Agent Addresses,
16 bytes each, then mobility options; the whole a multiple of 8 octets (RFC 6275 §6.1.1)."""
from ipaddress import IPv6Address

import pytest

from conftest import both, pair
from mip6fast.errors import ParseError
from mip6fast.wire import BindingRefreshAdvice, HomeAgentSwitch, build_mh, parse_mh

CODECS = both("mh")
HA2 = IPv6Address("2001:db8:1::2")
HA3 = IPv6Address("2001:db8:1::fe")


def by_hand(addresses, tail=b""):
    """The message laid out field by field from RFC 5142 §5.2."""
    body = bytes([len(addresses), 0]) + b"".join(a.packed for a in addresses) + tail
    total = 6 + len(body)
    assert total % 8 == 0
    return bytes([59, total // 8 - 1, 12, 0, 0, 0]) + body


VECTORS = [
    ([HA2], b""),                                             # 6 + 2 + 16 = 24
    ([HA2, HA3], b""),                                        # 40
    ([], b""),                                                # 8: no address, the MN does DHAAD
    # a Binding Refresh Advice option (2n) at offset 24, PadN (4 bytes) to the next 8-octet boundary
    ([HA2], bytes([2, 2, 0, 10, 1, 2, 0, 0])),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("addresses, tail", VECTORS)
def test_build_and_parse_match_the_bytes_built_by_hand(codec, addresses, tail):
    options = ((2, 10),) if tail else ()
    raw = by_hand(addresses, tail)
    assert codec.build(12, (tuple(a.packed for a in addresses),), options) == raw
    assert codec.parse(raw) == (12, (tuple(a.packed for a in addresses),), options)


@pytest.mark.parametrize("codec", CODECS)
def test_reserved_and_checksum_are_ignored_on_receipt(codec):
    raw = bytearray(by_hand([HA2]))
    raw[3], raw[4], raw[5], raw[7] = 0xFF, 0x12, 0x34, 0xAB        # reserved, checksum, reserved
    assert codec.parse(bytes(raw)) == (12, ((HA2.packed,),), ())


@pytest.mark.parametrize("codec", CODECS)
def test_more_addresses_than_the_message_holds_is_a_parse_error_at_the_count(codec):
    raw = bytearray(by_hand([HA2]))
    raw[6] = 2                                                        # says 2, holds 1
    with pytest.raises(ParseError) as info:
        codec.parse(bytes(raw))
    assert (info.value.field, info.value.offset) == ("n_addresses", 6)
    short = bytes([59, 0, 12, 0, 0, 0, 0])                            # 7 bytes: the common checks first
    with pytest.raises(ParseError):
        codec.parse(short)


@pytest.mark.parametrize("codec", CODECS)
def test_build_refuses_what_the_message_cannot_carry(codec):
    with pytest.raises(ValueError, match="n_addresses: at most 127"):
        codec.build(12, ((HA2.packed,) * 128,), ())
    with pytest.raises(ValueError, match="home_agent_address: expected 16 bytes"):
        codec.build(12, ((b"\x20\x01",),), ())
    with pytest.raises(TypeError, match="home_agent_addresses"):
        codec.build(12, (HA2.packed,), ())
    assert len(codec.build(12, ((HA2.packed,) * 127,), ())) == 2040


def test_the_compiled_codec_and_its_twin_agree_on_every_count():
    compiled, twin = pair("mh")
    for n in (0, 1, 2, 3, 64, 126, 127):
        fields = (tuple(IPv6Address(int(HA2) + i).packed for i in range(n)),)
        for options in ((), ((2, 5),), ((8, (1, b"mn@example")),)):
            if n == 127 and options and options[0][0] == 8:    # 2040 + 12 bytes: over 2048
                for codec in (compiled, twin):
                    with pytest.raises(ValueError, match="header_len: message longer than 2048 bytes"):
                        codec.build(12, fields, options)
                continue
            raw = compiled.build(12, fields, options)
            assert raw == twin.build(12, fields, options)
            assert compiled.parse(raw) == twin.parse(raw) == (12, fields, options)


def test_the_object_round_trips_and_normalises():
    msg = HomeAgentSwitch(["2001:db8:1::2", HA3], options=[BindingRefreshAdvice(40)])
    assert msg.home_agent_addresses == (HA2, HA3) and msg.MH_TYPE == 12
    assert parse_mh(build_mh(msg)) == msg
    assert build_mh(HomeAgentSwitch([HA2])) == by_hand([HA2])
    assert parse_mh(by_hand([])) == HomeAgentSwitch()
    with pytest.raises(TypeError):
        HomeAgentSwitch("2001:db8:1::2")
    with pytest.raises(ValueError):
        HomeAgentSwitch([HA2] * 128)


# ---------------------------------------------------------------- the roles: home agent sends, mobile node obeys

def test_the_home_agent_sends_a_home_agent_switch_to_each_bound_mobile_node():
    from helpers.home_agent import COA, HOME, make_ha, of_type, register

    ha = make_ha()
    register(ha)
    out = ha.switch_home_agent(10 * 10**9, (HA2,))
    (p,) = of_type(out, HomeAgentSwitch)
    assert p.dst == COA and p.rh2 == HOME and p.payload.home_agent_addresses == (HA2,)
    assert ha.counters["has.sent"] == 1
    assert of_type(ha.switch_home_agent(10 * 10**9, (), homes=(IPv6Address("2001:db8:1::77"),)),
                   HomeAgentSwitch) == []                       # no binding there: nothing sent


def test_the_mobile_node_registers_with_the_home_agent_it_is_switched_to():
    from helpers.mobile_node import A_MAC, COA_A, HA, HOA, MN_MAC, S, bus, frame, notes, registered_mn

    from mip6fast.roles.mn_discovery import HomeAgentChanged
    from mip6fast.wire import Packet

    mn, _ = registered_mn()
    has = frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, rh2=HOA, payload=HomeAgentSwitch((HA, HA3))))
    out = mn.receive(10 * S, "eth0", has)
    (bu, _), = bus(out)
    assert bu.dst == HA3 and bu.src == COA_A and bu.home_address == HOA   # the first other agent named
    assert bu.payload.home
    (changed,) = notes(out, HomeAgentChanged)
    assert (changed.old, changed.new) == (HA, HA3)
    assert mn.counters["mn.home_agent_switch_received"] == 1
    # from someone who is not its home agent: ignored
    forged = frame(A_MAC, MN_MAC, Packet(src=IPv6Address("2001:db8:9::9"), dst=COA_A, rh2=HOA,
                                         payload=HomeAgentSwitch((HA2,))))
    assert bus(mn.receive(11 * S, "eth0", forged)) == []


def test_after_a_switch_the_home_agent_gives_the_home_address_up_to_the_new_agents_dad_probe():
    """The agent named in the switch runs DAD for the home address before it accepts the mobile node's
    first registration (RFC 6275 §10.4.1); the old agent, which told the node to go, does not defend
    the address against that probe (it would get the registration refused with 134) but gives its
    binding up. Without a switch the address is defended as always."""
    from helpers.home_agent import HOME, HOME_NODE_MAC, make_ha, of_type, register

    from mip6fast.wire import NeighborAdvertisement, NeighborSolicitation, Packet, solicited_node_multicast
    from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

    sol = solicited_node_multicast(HOME)
    dad = ethernet_frame(ipv6_multicast_mac(sol.packed), HOME_NODE_MAC,
                         Packet(src="::", dst=sol, hop_limit=255, payload=NeighborSolicitation(HOME)).to_bytes())
    kept = make_ha()
    register(kept)
    assert of_type(kept.receive(10 * 10**9, "eth0", dad), NeighborAdvertisement)        # defended
    assert kept.cache.get(HOME) is not None

    ha = make_ha()
    register(ha)
    ha.switch_home_agent(10 * 10**9, (HA2,))
    out = ha.receive(11 * 10**9, "eth0", dad)
    assert of_type(out, NeighborAdvertisement) == []             # not defended: given up
    assert ha.cache.get(HOME) is None and ha.counters["binding.handed_over"] == 1
    assert ha.counters["nd.proxy_yielded"] == 1 and not ha.proxy_nd.serves(HOME)
