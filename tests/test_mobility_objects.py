"""The readable Mobility Header layer (mip6fast.wire.mobility) over both codecs.

Byte vectors are written by hand from the figures of RFC 6275 §6.1-6.2, RFC 4283 §3 and RFC 4285 §5-§6
(section next to each).
"""
import dataclasses
from ipaddress import IPv6Address

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from conftest import both, pair
from mip6fast.errors import ParseError
from mip6fast.wire import mobility
from mip6fast.wire.mobility import (
    AlternateCareOfAddress,
    BindingAckStatus,
    BindingAcknowledgement,
    BindingAuthorizationData,
    BindingError,
    BindingErrorStatus,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    MobileNodeIdentifier,
    MobileNodeIdentifierSubtype,
    MobilityAuthenticationSubtype,
    MobilityMessage,
    MobilityMessageAuthentication,
    MobilityMessageReplayProtection,
    MobilityOption,
    NonceIndices,
    UnknownMobilityMessage,
    UnknownMobilityOption,
    build_mh,
    decode,
    encode,
    parse_mh,
)
from strategies_mobility import mobility_messages, mobility_options

CODECS = both("mh")


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


COOKIE = h("0102030405060708")
TOKEN = h("a1a2a3a4a5a6a7a8")
AUTH = h("c1c2c3c4c5c6c7c8c9cacbcc")
HOA = IPv6Address("2001:db8::1")
COA = IPv6Address("2001:db8::2")

OBJECT_VECTORS = [
    # §6.1.2 Binding Refresh Request: common part (3b, header len 0, type 0, reserved, checksum 0), reserved.
    ("brr", "3b 00 00 00 0000 0000", BindingRefreshRequest()),
    # §6.1.3 Home Test Init: reserved, home init cookie.
    ("hoti", "3b 01 01 00 0000 0000 0102030405060708", HomeTestInit(COOKIE)),
    # §6.1.4 Care-of Test Init: reserved, care-of init cookie.
    ("coti", "3b 01 02 00 0000 0000 0102030405060708", CareOfTestInit(COOKIE)),
    # §6.1.5 Home Test: home nonce index, home init cookie, home keygen token.
    ("hot", "3b 02 03 00 0000 0007 0102030405060708 a1a2a3a4a5a6a7a8", HomeTest(7, COOKIE, TOKEN)),
    # §6.1.6 Care-of Test: care-of nonce index, care-of init cookie, care-of keygen token.
    ("cot", "3b 02 04 00 0000 0008 0102030405060708 a1a2a3a4a5a6a7a8", CareOfTest(8, COOKIE, TOKEN)),
    # §6.1.7 Binding Update: sequence 0x0102, A|H, lifetime 600 s = 150 units (0x96); PadN(2).
    ("bu", "3b 01 05 00 0000 0102 c000 0096 01020000", BindingUpdate(0x0102, 600, ack=True, home=True)),
    # §6.1.7 the L and K flags (2000 | 1000), de-registration (lifetime 0).
    ("bu-lk", "3b 01 05 00 0000 0003 3000 0000 01020000",
     BindingUpdate(3, 0, link_local=True, key_management=True)),
    # §6.1.8 Binding Acknowledgement: status 0, K, sequence 0x0102, lifetime 600 s; PadN(2).
    ("ba", "3b 01 06 00 0000 00 80 0102 0096 01020000",
     BindingAcknowledgement(0, 0x0102, 600, key_management=True)),
    # §6.1.8 status 135 (sequence number out of window) with the last accepted sequence.
    ("ba-135", "3b 01 06 00 0000 87 00 0041 0000 01020000", BindingAcknowledgement(135, 0x41, 0)),
    # §6.1.9 Binding Error: status 1, reserved, home address.
    ("be", "3b 02 07 00 0000 01 00 20010db8000000000000000000000001", BindingError(1, HOA)),
    # §6.1.9 status 2 (unrecognised MH type), home address unspecified (::).
    ("be-2", "3b 02 07 00 0000 02 00 00000000000000000000000000000000", BindingError(2)),
    # §6.1.1 an unknown MH type: body is everything after the common part.
    ("unknown", "3b 00 63 00 0000 abcd", UnknownMobilityMessage(99, h("abcd"))),
    # §6.2.4 Binding Refresh Advice (2n) in a BA: 120 s = 30 units (0x1e), at 12.
    ("ba-bra", "3b 01 06 00 0000 00 00 0001 0096 0202 001e",
     BindingAcknowledgement(0, 1, 600, options=[BindingRefreshAdvice(120)])),
    # §6.2.5 Alternate Care-of Address (8n+6) in a BU: PadN(0) puts it on 14.
    ("bu-altcoa", "3b 03 05 00 0000 0001 c000 0096 0100 0310 20010db8000000000000000000000002",
     BindingUpdate(1, 600, ack=True, home=True, options=[AlternateCareOfAddress(COA)])),
    # §6.2.6 Nonce Indices (2n) then §6.2.7 Binding Authorization Data (8n+2): NI 12..18, BAD on 18.
    ("bu-nonce-bad", "3b 03 05 00 0000 0002 8000 0069 0404 0005 0006 050c c1c2c3c4c5c6c7c8c9cacbcc",
     BindingUpdate(2, 420, ack=True, options=(NonceIndices(5, 6), BindingAuthorizationData(AUTH)))),
    # §6.2.4 + §6.2.7: BRA at 12, PadN(0), BAD on 18.
    ("ba-bra-bad", "3b 03 06 00 0000 00 00 0002 0069 0202 0004 0100 050c c1c2c3c4c5c6c7c8c9cacbcc",
     BindingAcknowledgement(0, 2, 420, options=(BindingRefreshAdvice(16), BindingAuthorizationData(AUTH)))),
    # §6.2.1 an unknown option (type 0x99, 1 byte), Pad1 to the end of the BU.
    ("bu-unknown-opt-pad1", "3b 01 05 00 0000 0001 0000 0000 9901 ee 00",
     BindingUpdate(1, 0, options=[UnknownMobilityOption(0x99, h("ee"))])),
    # RFC 4283 §3 Mobile Node Identifier, subtype 1 (NAI "mn@a", 4 bytes): at 12 (no alignment), length 5,
    # 12..19; RFC 4285 §5 Mobility Message Authentication (4n+1): PadN(0) moves it from 19 to 21; 21..40.
    ("bu-mnid-auth", ("3b 04 05 00 0000 0010 c000 0096 0805 01 6d6e4061 0100 0911 01 0000abcd"
     " c1c2c3c4c5c6c7c8c9cacbcc"),
     BindingUpdate(16, 600, ack=True, home=True,
                   options=(MobileNodeIdentifier(b"mn@a"), MobilityMessageAuthentication(0xABCD, AUTH)))),
    # RFC 4285 §6 Mobility Message Replay Protection (8n+2) in a BA: PadN(4) moves it from 12 to 18; then
    # RFC 4285 §5 authentication at 28 needs 4n+1: Pad1 to 29, 29..48.
    ("ba-mesgid-auth", ("3b 05 06 00 0000 00 00 0010 0096 0104 00000000 0a08 e5f4a3b200000000 00 0911 01"
     " 0000abcd c1c2c3c4c5c6c7c8c9cacbcc"),
     BindingAcknowledgement(0, 16, 600, options=(MobilityMessageReplayProtection(0xE5F4A3B200000000),
                                                 MobilityMessageAuthentication(0xABCD, AUTH)))),
]


def _vector_params():
    return [pytest.param(x, m, id=i) for i, x, m in OBJECT_VECTORS]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("hexstr, msg", _vector_params())
def test_object_vectors(codec, hexstr, msg):
    data = h(hexstr)
    assert codec.build(*encode(msg)) == data
    assert decode(codec.parse(data)) == msg


@pytest.mark.parametrize("hexstr, msg", _vector_params())
def test_module_level_parse_and_build(hexstr, msg):
    assert build_mh(msg) == h(hexstr)
    assert parse_mh(h(hexstr)) == msg
    assert parse_mh(bytearray(h(hexstr))) == msg


def test_codec_is_loaded_through_impl():
    compiled, twin = mobility._impl.load_both("mh")
    assert mobility.CODEC in (compiled, twin)
    if not mobility._impl.PURE_PYTHON and compiled is not None:
        assert mobility.CODEC is compiled


def test_parse_mh_raises_parse_error():
    with pytest.raises(ParseError) as info:
        parse_mh(h("3b 01 05 00 0000 0001 0000 0000 0310"))
    assert (info.value.field, info.value.offset) == ("header_len", 1)


def test_mh_type_class_attributes():
    expected = {BindingRefreshRequest: 0, HomeTestInit: 1, CareOfTestInit: 2, HomeTest: 3, CareOfTest: 4,
                BindingUpdate: 5, BindingAcknowledgement: 6, BindingError: 7}
    for cls, mh_type in expected.items():
        assert issubclass(cls, MobilityMessage) and cls.MH_TYPE == mh_type
    assert issubclass(UnknownMobilityMessage, MobilityMessage)
    for cls in (BindingRefreshAdvice, AlternateCareOfAddress, NonceIndices, BindingAuthorizationData,
                UnknownMobilityOption):
        assert issubclass(cls, MobilityOption)
    assert [BindingRefreshAdvice.OPTION_TYPE, AlternateCareOfAddress.OPTION_TYPE, NonceIndices.OPTION_TYPE,
            BindingAuthorizationData.OPTION_TYPE] == [2, 3, 4, 5]
    # IANA Mobility Options registry: 8 MN-ID-OPTION-TYPE (RFC 4283), 9 AUTH-OPTION-TYPE and 10
    # MESG-ID-OPTION-TYPE (RFC 4285).
    for cls in (MobileNodeIdentifier, MobilityMessageAuthentication, MobilityMessageReplayProtection):
        assert issubclass(cls, MobilityOption)
    assert [MobileNodeIdentifier.OPTION_TYPE, MobilityMessageAuthentication.OPTION_TYPE,
            MobilityMessageReplayProtection.OPTION_TYPE] == [8, 9, 10]


# --- normalisation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2001:db8::2", COA.packed, bytearray(COA.packed), COA])
def test_addresses_in_any_form(value):
    assert AlternateCareOfAddress(value).address == COA
    assert type(AlternateCareOfAddress(value).address) is IPv6Address
    assert BindingError(1, value) == BindingError(1, COA)


@pytest.mark.parametrize("bad, exc", [("not-an-address", ValueError), (bytes(15), ValueError),
                                      ("10.0.0.1", ValueError), (42, TypeError), (None, TypeError)])
def test_bad_addresses(bad, exc):
    with pytest.raises(exc):
        AlternateCareOfAddress(bad)
    with pytest.raises(exc):
        BindingError(1, bad)


def test_binding_error_default_home_address():
    assert BindingError(2).home_address == IPv6Address("::")


@pytest.mark.parametrize("given_s, stored", [(0, 0), (1, 4), (3.5, 4), (4, 4), (7, 4), (7.9, 4), (8, 8),
                                             (600, 600), (601, 600), (262140, 262140)])
def test_lifetimes_are_seconds_rounded_to_the_wire_unit(given_s, stored):
    # RFC 6275 §6.1.7: 4-second units. Rounded down, but never from a registration to 0.
    assert BindingUpdate(1, given_s).lifetime == stored
    assert BindingAcknowledgement(0, 1, given_s).lifetime == stored
    assert BindingRefreshAdvice(given_s).interval == stored
    assert encode(BindingUpdate(1, given_s))[1][2] == stored // 4


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (262141, ValueError), (float("nan"), ValueError),
                                      ("600", TypeError), (None, TypeError), (True, TypeError)])
def test_bad_lifetimes(bad, exc):
    with pytest.raises(exc):
        BindingUpdate(1, bad)
    with pytest.raises(exc):
        BindingAcknowledgement(0, 1, bad)
    with pytest.raises(exc):
        BindingRefreshAdvice(bad)


def test_flags_become_bools_and_options_a_tuple():
    bu = BindingUpdate(1, 4, ack=1, home="yes", link_local=0, key_management=[],
                       options=(o for o in [NonceIndices(1, 2)]))
    assert (bu.ack, bu.home, bu.link_local, bu.key_management) == (True, True, False, False)
    assert bu.options == (NonceIndices(1, 2),)
    assert BindingRefreshRequest([]).options == ()
    assert BindingAcknowledgement(0, 1, 4, key_management=1).key_management is True


def test_options_must_be_option_objects():
    with pytest.raises(TypeError):
        BindingUpdate(1, 4, options=[(4, (1, 2))])
    with pytest.raises(TypeError):
        BindingRefreshRequest(options=5)


@pytest.mark.parametrize("make", [
    lambda: BindingUpdate(0x10000, 4),
    lambda: BindingUpdate(-1, 4),
    lambda: BindingAcknowledgement(256, 1, 4),
    lambda: BindingAcknowledgement(0, 0x10000, 4),
    lambda: BindingError(-1),
    lambda: BindingError(256),
    lambda: HomeTest(0x10000, COOKIE, TOKEN),
    lambda: CareOfTest(1, COOKIE, bytes(7)),
    lambda: HomeTestInit(bytes(9)),
    lambda: CareOfTestInit(b""),
    lambda: NonceIndices(0x10000, 0),
    lambda: NonceIndices(0, -1),
    lambda: BindingAuthorizationData(bytes(11)),
    lambda: UnknownMobilityOption(256, b""),
    lambda: UnknownMobilityOption(0x20, bytes(256)),
    lambda: UnknownMobilityOption(0, b""),
    lambda: UnknownMobilityOption(1, b"\x00"),
    lambda: UnknownMobilityOption(3, bytes(16)),
    lambda: UnknownMobilityMessage(5, bytes(2)),
    lambda: UnknownMobilityMessage(256, bytes(2)),
    lambda: UnknownMobilityMessage(8, bytes(3)),
    lambda: UnknownMobilityMessage(8, b""),
    lambda: UnknownMobilityMessage(8, bytes(2050)),
])
def test_out_of_range_values(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("make", [
    lambda: BindingUpdate("1", 4),
    lambda: BindingUpdate(1.0, 4),
    lambda: HomeTestInit("abcdefgh"),
    lambda: BindingAuthorizationData(None),
    lambda: UnknownMobilityOption(0x20, "data"),
    lambda: UnknownMobilityMessage(8, 2),
])
def test_wrong_kinds_of_values(make):
    with pytest.raises(TypeError):
        make()


def test_rfc4283_4285_options_normalise():
    # RFC 4283 §3: an NAI given as text is its UTF-8 bytes (RFC 4282 §2.4); subtype 1 (NAI) by default.
    mnid = MobileNodeIdentifier("mn1@example.com")
    assert mnid == MobileNodeIdentifier(b"mn1@example.com", 1)
    assert mnid == MobileNodeIdentifier(bytearray(b"mn1@example.com"))
    assert type(mnid.identifier) is bytes and type(mnid.subtype) is int
    assert mnid.subtype == MobileNodeIdentifierSubtype.NAI == 1
    assert MobileNodeIdentifier("jürgen@example.de").identifier == "jürgen@example.de".encode()
    # RFC 4285 §5: subtype 1 (MN-HA) by default, kept as a plain int; the SPI is 32 bits.
    auth = MobilityMessageAuthentication(0xFFFFFFFF, memoryview(AUTH))
    assert type(auth.authenticator) is bytes and type(auth.subtype) is int
    assert auth.subtype == MobilityAuthenticationSubtype.MN_HA == 1
    assert MobilityAuthenticationSubtype.MN_AAA == 2
    assert MobilityMessageAuthentication(1, AUTH, MobilityAuthenticationSubtype.MN_AAA).subtype == 2
    # RFC 4285 §6: a 64-bit timestamp.
    assert MobilityMessageReplayProtection((1 << 64) - 1).timestamp == (1 << 64) - 1


@pytest.mark.parametrize("make, exc", [
    (lambda: MobileNodeIdentifier(b""), ValueError),
    (lambda: MobileNodeIdentifier(bytes(255)), ValueError),
    (lambda: MobileNodeIdentifier(b"mn", 256), ValueError),
    (lambda: MobileNodeIdentifier(b"mn", -1), ValueError),
    (lambda: MobileNodeIdentifier(42), TypeError),
    (lambda: MobileNodeIdentifier(b"mn", "1"), TypeError),
    (lambda: MobilityMessageAuthentication(1 << 32, AUTH), ValueError),
    (lambda: MobilityMessageAuthentication(-1, AUTH), ValueError),
    (lambda: MobilityMessageAuthentication(1, b""), ValueError),
    (lambda: MobilityMessageAuthentication(1, bytes(251)), ValueError),
    (lambda: MobilityMessageAuthentication(1, AUTH, 256), ValueError),
    (lambda: MobilityMessageAuthentication(1.0, AUTH), TypeError),
    (lambda: MobilityMessageAuthentication(1, "authenticator"), TypeError),
    (lambda: MobilityMessageReplayProtection(1 << 64), ValueError),
    (lambda: MobilityMessageReplayProtection(-1), ValueError),
    (lambda: MobilityMessageReplayProtection(1.5), TypeError),
    (lambda: UnknownMobilityOption(8, b"\x01a"), ValueError),
    (lambda: UnknownMobilityOption(9, bytes(17)), ValueError),
    (lambda: UnknownMobilityOption(10, bytes(8)), ValueError),
])
def test_rfc4283_4285_options_reject(make, exc):
    with pytest.raises(exc):
        make()


@pytest.mark.parametrize("codec", CODECS)
def test_rfc4283_4285_option_subtypes_round_trip(codec):
    # Subtypes this module has no name for survive, as statuses do.
    msg = BindingUpdate(1, 4, options=[MobileNodeIdentifier(b"\x00\xff", 200),
                                       MobilityMessageAuthentication(7, bytes(20), 2),
                                       MobilityMessageAuthentication(8, bytes(1), 99)])
    assert decode(codec.parse(codec.build(*encode(msg)))) == msg


def test_bytes_fields_are_bytes():
    assert type(HomeTestInit(bytearray(COOKIE)).cookie) is bytes
    assert type(BindingAuthorizationData(memoryview(AUTH)).authenticator) is bytes
    assert type(UnknownMobilityOption(0x20, bytearray(b"x")).data) is bytes


# --- statuses ----------------------------------------------------------------------------------------

def test_binding_ack_status_codes():
    # RFC 6275 §6.1.8 (and 174, invalid care-of address, §6.1.8 as updated); 144-146 of RFC 4285 (the
    # IANA registry's MIPV6-ID-MISMATCH, MIPV6-MESG-ID-REQD, MIPV6-AUTH-FAIL).
    assert sorted(int(s) for s in BindingAckStatus) == [0, 1] + list(range(128, 140)) + [144, 145, 146, 174]
    assert BindingAckStatus.MIPV6_ID_MISMATCH == 144
    assert BindingAckStatus.MIPV6_MESG_ID_REQD == 145
    assert BindingAckStatus.MIPV6_AUTH_FAIL == 146
    assert BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW == 135
    assert BindingAckStatus.INVALID_CARE_OF_ADDRESS == 174
    assert BindingAckStatus.ACCEPTED_PREFIX_DISCOVERY_NECESSARY == 1
    assert sorted(int(s) for s in BindingErrorStatus) == [1, 2]
    assert BindingErrorStatus.UNRECOGNIZED_MH_TYPE == 2


@pytest.mark.parametrize("status, accepted", [(0, True), (1, True), (127, True), (128, False), (135, False),
                                              (146, False), (174, False), (255, False)])
def test_accepted(status, accepted):
    assert BindingAcknowledgement(status, 1, 4).accepted is accepted


@pytest.mark.parametrize("codec", CODECS)
def test_statuses_stay_plain_ints_and_unknown_ones_round_trip(codec):
    ba = BindingAcknowledgement(BindingAckStatus.NOT_HOME_SUBNET, 1, 4)
    assert type(ba.status) is int and ba.status == 132
    for status in (2, 77, 140, 200, 255):
        msg = BindingAcknowledgement(status, 9, 8)
        back = decode(codec.parse(codec.build(*encode(msg))))
        assert back == msg and type(back.status) is int and back.status == status
    be = decode(codec.parse(codec.build(*encode(BindingError(BindingErrorStatus.UNRECOGNIZED_MH_TYPE)))))
    assert type(be.status) is int and be.status == 2
    assert decode(codec.parse(codec.build(*encode(BindingError(99))))).status == 99


# --- value semantics ---------------------------------------------------------------------------------

def test_frozen_hashable_and_typed_equality():
    bu = BindingUpdate(1, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bu.sequence = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        NonceIndices(1, 2).home_nonce_index = 3
    assert hash(bu) == hash(BindingUpdate(1, 4))
    assert len({bu, BindingUpdate(1, 4), BindingUpdate(1, 5)}) == 1  # 5 s is stored as 4 s
    # Same fields, different message: not equal (Home Test Init vs Care-of Test Init).
    assert HomeTestInit(COOKIE) != CareOfTestInit(COOKIE)
    assert HomeTest(1, COOKIE, TOKEN) != CareOfTest(1, COOKIE, TOKEN)


def test_encode_raw_forms():
    assert encode(BindingUpdate(7, 600, ack=True, home=True, link_local=True, key_management=True)) == \
        (5, (7, 0xF000, 150), ())
    assert encode(BindingAcknowledgement(128, 7, 8, key_management=True)) == (6, (128, 0x80, 7, 2), ())
    assert encode(BindingError(1, HOA)) == (7, (1, HOA.packed), ())
    assert encode(UnknownMobilityMessage(8, bytes(2))) == (8, (bytes(2),), ())
    assert encode(BindingRefreshRequest(options=[BindingRefreshAdvice(8), AlternateCareOfAddress(COA),
                                                 NonceIndices(1, 2), BindingAuthorizationData(AUTH)])) == \
        (0, (), ((2, 2), (3, COA.packed), (4, (1, 2)), (5, AUTH)))
    rfc4285 = [MobileNodeIdentifier(b"mn@a"), MobilityMessageReplayProtection(9),
               MobilityMessageAuthentication(0x100, AUTH, 2)]
    assert encode(BindingUpdate(1, 4, options=rfc4285)) == \
        (5, (1, 0, 1), ((8, (1, b"mn@a")), (10, 9), (9, (2, 0x100, AUTH))))
    with pytest.raises(TypeError):
        encode("not a message")


@pytest.mark.parametrize("codec", CODECS)
def test_decode_flags(codec):
    for bit, name in ((0x8000, "ack"), (0x4000, "home"), (0x2000, "link_local"), (0x1000, "key_management")):
        bu = decode(codec.parse(codec.build(5, (1, bit, 1), ())))
        assert [getattr(bu, n) for n in ("ack", "home", "link_local", "key_management")] == \
            [n == name for n in ("ack", "home", "link_local", "key_management")]


@pytest.mark.parametrize("codec", CODECS)
def test_build_rejects_layouts_the_wire_forbids(codec):
    # RFC 6275 §6.2.7: Binding Authorization Data last; docs/CODEC.md: at most 32 options.
    with pytest.raises(ValueError, match="option_order"):
        codec.build(*encode(BindingUpdate(1, 4, options=[BindingAuthorizationData(AUTH),
                                                         NonceIndices(1, 2)])))
    with pytest.raises(ValueError, match="options"):
        codec.build(*encode(BindingRefreshRequest([UnknownMobilityOption(0x20, b"")] * 33)))
    # RFC 4285 §5: only another Mobility Message Authentication option may follow one.
    with pytest.raises(ValueError, match="option_order"):
        codec.build(*encode(BindingUpdate(1, 4, options=[MobilityMessageAuthentication(1, AUTH),
                                                         MobileNodeIdentifier(b"mn")])))


# --- properties --------------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mobility_messages())
def test_roundtrip_objects(codec, msg):
    data = codec.build(*encode(msg))
    assert decode(codec.parse(data)) == msg
    assert decode(encode(msg)) == msg


@pytest.mark.compiled("mh")
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(msg=mobility_messages())
def test_objects_same_bytes_both_codecs(msg):
    compiled, twin = pair("mh")
    assert compiled.build(*encode(msg)) == twin.build(*encode(msg))


@settings(max_examples=200)
@given(opt=mobility_options())
def test_options_roundtrip_in_a_binding_update(opt):
    msg = BindingUpdate(1, 4, options=[opt])
    assert parse_mh(build_mh(msg)) == msg


# The strategies are for others to import: each class must actually come out of them.
FIND = settings(phases=[Phase.generate], database=None, max_examples=2000)


@pytest.mark.parametrize("cls", [BindingRefreshRequest, HomeTestInit, CareOfTestInit, HomeTest, CareOfTest,
                                 BindingUpdate, BindingAcknowledgement, BindingError, UnknownMobilityMessage])
def test_message_strategy_covers_every_class(cls):
    find(mobility_messages(), lambda m: isinstance(m, cls), settings=FIND)


@pytest.mark.parametrize("cls", [BindingRefreshAdvice, AlternateCareOfAddress, NonceIndices,
                                 BindingAuthorizationData, MobileNodeIdentifier,
                                 MobilityMessageAuthentication, MobilityMessageReplayProtection,
                                 UnknownMobilityOption])
def test_option_strategy_covers_every_class(cls):
    find(mobility_options(), lambda o: isinstance(o, cls), settings=FIND)
    find(mobility_messages(), lambda m: any(isinstance(o, cls) for o in getattr(m, "options", ())),
         settings=FIND)
