"""RFC 4285 authentication and replay protection (mip6fast.wire.auth4285).

The authenticator vector is computed here with hmac/hashlib over bytes written out by hand from the
figures of RFC 6275 §6.1.7 (Binding Update), RFC 4283 §3 and RFC 4285 §5-§6, following RFC 4285 §5.1:
    Authenticator = First(96, HMAC_SHA1(MN-HA shared key, care-of address | home address | MH Data)),
MH Data being the Mobility Header up to and including the option's Mobility SPI, checksum zero.
"""
import hashlib
import hmac
from dataclasses import replace
from fractions import Fraction
from ipaddress import IPv6Address

import pytest
from conftest import both
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_mobility import addresses

from mip6fast.errors import ParseError
from mip6fast.wire import Packet, auth4285, parse
from mip6fast.wire.auth4285 import (
    DEFAULT_REPLAY_WINDOW,
    MN_HA_AUTHENTICATOR_LEN,
    AuthVerdict,
    ReplayCheck,
    add_mn_ha_authentication,
    check_timestamp,
    mn_ha_authenticator,
    ntp_to_unix,
    unix_to_ntp,
    verify_mn_ha,
)
from mip6fast.wire.mobility import (
    BindingAcknowledgement,
    BindingError,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    MobileNodeIdentifier,
    MobilityMessageAuthentication,
    MobilityMessageReplayProtection,
    NonceIndices,
    build_mh,
)


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


KEY = bytes(range(1, 17))  # a 16-byte MN-HA shared key
SPI = 0x00001000  # RFC 4285 §5.1: 0-255 are reserved, so a larger one
COA = IPv6Address("2001:db8:2::9")
HOA = IPv6Address("2001:db8:1::9")
HA = IPv6Address("2001:db8:1::1")
TIMESTAMP = 0xE8A1B2C380000000  # NTP format: seconds since 1900 . fraction (0.5 s)

# A Binding Update with the three options in the order of RFC 4285's message flow, by hand:
#   common part (RFC 6275 §6.1.1): payload proto 3b, header len 7 (64 bytes), MH type 5, reserved, checksum 0
#   BU (§6.1.7): sequence 7, A|H (c000), lifetime 150 units
#   12: Mobile Node Identifier (RFC 4283 §3): 08, length 16, subtype 1 (NAI), "mn1@example.com"
#   30: PadN(2) to 34 = 8*4+2, the alignment of the replay protection option (RFC 4285 §6)
#   34: Mobility Message Replay Protection: 0a, length 8, timestamp
#   44: Pad1 to 45 = 4*11+1, the alignment of the authentication option (RFC 4285 §5)
#   45: Mobility Message Authentication: 09, length 17, subtype 1 (MN-HA), Mobility SPI; then 12 bytes
BU_THROUGH_SPI = h("3b 07 05 00 0000 0007 c000 0096"
                   " 0810 01 6d6e31406578616d706c652e636f6d"
                   " 0102 0000"
                   " 0a08 e8a1b2c380000000"
                   " 00 0911 01 00001000")
BU = BindingUpdate(7, 600, ack=True, home=True, options=(MobileNodeIdentifier(b"mn1@example.com"),
                                                        MobilityMessageReplayProtection(TIMESTAMP)))
# The authenticator for KEY, COA, HOA and that BU: independent_authenticator() below, and also
#   openssl dgst -sha1 -mac HMAC -macopt hexkey:0102030405060708090a0b0c0d0e0f10 <COA|HOA|BU_THROUGH_SPI>
#   = 8dd9576b30b3708e0382e9533a6fa7cbd3339aaf, of which the first 96 bits:
BU_AUTHENTICATOR = h("8dd9576b30b3708e0382e953")


def independent_authenticator(key, care_of, home, mh_through_spi):
    """RFC 4285 §5.1 with nothing from mip6fast: the checksum bytes (4, 5) are zeroed by hand."""
    zeroed = mh_through_spi[:4] + b"\x00\x00" + mh_through_spi[6:]
    mac = hmac.new(key, care_of.packed + home.packed + zeroed, hashlib.sha1).digest()
    return mac[:12]


def test_vector_is_what_the_hand_assembled_bytes_give():
    assert len(BU_THROUGH_SPI) == 52
    assert independent_authenticator(KEY, COA, HOA, BU_THROUGH_SPI) == BU_AUTHENTICATOR


@pytest.mark.parametrize("codec", both("mh"))
def test_add_mn_ha_authentication_matches_the_independent_vector(codec, monkeypatch):
    monkeypatch.setattr("mip6fast.wire.mobility.CODEC", codec)
    signed = add_mn_ha_authentication(BU, KEY, SPI, COA, HOA)
    assert signed.options[:-1] == BU.options
    assert signed.options[-1] == MobilityMessageAuthentication(SPI, BU_AUTHENTICATOR, 1)
    assert build_mh(signed) == BU_THROUGH_SPI + BU_AUTHENTICATOR
    raw_options = ((8, (1, b"mn1@example.com")), (10, TIMESTAMP), (9, (1, SPI, BU_AUTHENTICATOR)))
    assert codec.build(5, (7, 0xC000, 150), raw_options) == BU_THROUGH_SPI + BU_AUTHENTICATOR


def test_mn_ha_authenticator_takes_addresses_in_any_form():
    for care_of, home in ((COA, HOA), (str(COA), str(HOA)), (COA.packed, HOA.packed)):
        assert mn_ha_authenticator(KEY, care_of, home, BU_THROUGH_SPI) == BU_AUTHENTICATOR
    assert auth4285.mobility_data(COA, HOA, b"x") == COA.packed + HOA.packed + b"x"


def test_the_order_of_the_addresses_matters():
    # RFC 4285 §5.1: care-of address first, home address second.
    assert mn_ha_authenticator(KEY, HOA, COA, BU_THROUGH_SPI) != BU_AUTHENTICATOR
    assert mn_ha_authenticator(KEY, COA, HA, BU_THROUGH_SPI) != BU_AUTHENTICATOR


def test_header_len_is_the_final_one():
    # The authenticator covers Header Len as sent, counting the authenticator and the padding after it:
    # a BA with a Binding Refresh Advice (12..16), Pad1, the authentication option 17..36 and PadN(2) to 40.
    ba = BindingAcknowledgement(0, 7, 600, options=[BindingRefreshAdvice(300)])
    signed = add_mn_ha_authentication(ba, KEY, SPI, COA, HOA)
    data = build_mh(signed)
    assert len(data) == 40 and data[1] == 4 and data[17] == 9 and data[36:] == h("0102 0000")
    expected = independent_authenticator(KEY, COA, HOA, data[:17 + 7])
    assert signed.options[-1].authenticator == expected == data[24:36]


# --- verify ------------------------------------------------------------------------------------------

def signed_bu_on_the_wire():
    """The signed BU in a packet from the care-of address with the Home Address option (RFC 6275 §6.3)
    and its MH checksum filled in; returns (packet bytes, MH bytes)."""
    signed = add_mn_ha_authentication(BU, KEY, SPI, COA, HOA)
    data = Packet(src=COA, dst=HA, home_address=HOA, payload=signed).to_bytes()
    mh = data[-64:]
    assert mh[:4] == BU_THROUGH_SPI[:4] and mh[4:6] != b"\x00\x00"  # the checksum is there
    return data, mh


def test_verify_received_bytes_with_a_checksum():
    data, mh = signed_bu_on_the_wire()
    assert verify_mn_ha(mh, KEY, COA, HOA) is AuthVerdict.OK
    assert verify_mn_ha(bytearray(mh), KEY, str(COA), str(HOA), spi=SPI).ok
    assert verify_mn_ha(memoryview(mh), KEY, COA, HOA, spi=SPI) is AuthVerdict.OK
    # and the parsed object, re-encoded with the same canonical padding
    assert verify_mn_ha(parse(data).payload, KEY, COA, HOA) is AuthVerdict.OK


@pytest.mark.parametrize("key, care_of, home, verdict", [
    (b"another key, 16b", COA, HOA, AuthVerdict.MISMATCH),
    (KEY, IPv6Address("2001:db8:2::8"), HOA, AuthVerdict.MISMATCH),
    (KEY, COA, HA, AuthVerdict.MISMATCH),  # the home agent's address is not what RFC 4285 §5.1 hashes
    (KEY, HOA, COA, AuthVerdict.MISMATCH),
])
def test_verify_mismatch(key, care_of, home, verdict):
    _data, mh = signed_bu_on_the_wire()
    result = verify_mn_ha(mh, key, care_of, home)
    assert result is verdict and not result.ok


def test_verify_wrong_spi():
    _data, mh = signed_bu_on_the_wire()
    assert verify_mn_ha(mh, KEY, COA, HOA, spi=SPI + 1) is AuthVerdict.WRONG_SPI


def test_every_covered_byte_counts():
    _data, mh = signed_bu_on_the_wire()
    for pos in range(len(mh)):
        if pos in (4, 5):  # the checksum: zeroed for the computation (RFC 4285 §5.1)
            continue
        changed = bytearray(mh)
        changed[pos] ^= 0x01
        try:
            verdict = verify_mn_ha(bytes(changed), KEY, COA, HOA)
        except ValueError:  # ParseError (no longer a Mobility Header) or no longer a BU
            continue
        assert verdict is not AuthVerdict.OK, pos


def test_verify_the_checksum_is_not_covered():
    _data, mh = signed_bu_on_the_wire()
    assert verify_mn_ha(mh[:4] + b"\xff\xff" + mh[6:], KEY, COA, HOA) is AuthVerdict.OK


def test_verify_a_ba_from_the_home_agent():
    # RFC 4285 §5.1: the same addresses (the mobile node's care-of and home address) for the BA.
    ba = BindingAcknowledgement(0, 7, 600, options=[MobilityMessageReplayProtection(TIMESTAMP)])
    signed = add_mn_ha_authentication(ba, KEY, SPI, COA, HOA)
    data = Packet(src=HA, dst=COA, rh2=HOA, payload=signed).to_bytes()
    assert parse(data).payload == signed
    assert verify_mn_ha(data[-len(build_mh(signed)):], KEY, COA, HOA, spi=SPI) is AuthVerdict.OK


def test_verify_missing_duplicate_misplaced_wrong_length():
    auth = MobilityMessageAuthentication(SPI, bytes(12))
    mn_aaa = MobilityMessageAuthentication(7, bytes(20), 2)
    assert verify_mn_ha(BU, KEY, COA, HOA) is AuthVerdict.MISSING
    assert verify_mn_ha(replace(BU, options=BU.options + (mn_aaa,)), KEY, COA, HOA) is AuthVerdict.MISSING
    twice = replace(BU, options=BU.options + (auth, auth))
    assert verify_mn_ha(twice, KEY, COA, HOA) is AuthVerdict.DUPLICATE
    # RFC 4285 §5: MN-HA before MN-AAA, and no other subtype after it
    assert verify_mn_ha(replace(BU, options=(mn_aaa, auth)), KEY, COA, HOA) is AuthVerdict.MISPLACED
    other = MobilityMessageAuthentication(7, bytes(12), 3)
    assert verify_mn_ha(replace(BU, options=(auth, other)), KEY, COA, HOA) is AuthVerdict.MISPLACED
    long_ = MobilityMessageAuthentication(SPI, bytes(20))
    assert verify_mn_ha(replace(BU, options=(long_,)), KEY, COA, HOA) is AuthVerdict.WRONG_LENGTH


def test_mn_ha_followed_by_mn_aaa():
    # RFC 4285 §5.2: an MN-AAA option may follow the MN-HA one. The MN-HA authenticator does not cover
    # its content, but it does cover Header Len, which counts it: it must be there, at its final size,
    # when the MN-HA authenticator is computed.
    placeholder = MobilityMessageAuthentication(7, bytes(20), 2)
    signed = add_mn_ha_authentication(BU, KEY, SPI, COA, HOA, mn_aaa=placeholder)
    assert signed.options[-2].subtype == 1 and signed.options[-1] == placeholder
    assert verify_mn_ha(signed, KEY, COA, HOA) is AuthVerdict.OK
    aaa = replace(placeholder, authenticator=bytes(range(20)))
    filled = replace(signed, options=signed.options[:-1] + (aaa,))
    assert verify_mn_ha(filled, KEY, COA, HOA) is AuthVerdict.OK
    # appended afterwards, it changes Header Len under the MN-HA authenticator
    late = add_mn_ha_authentication(BU, KEY, SPI, COA, HOA)
    late = replace(late, options=late.options + (placeholder,))
    assert verify_mn_ha(late, KEY, COA, HOA) is AuthVerdict.MISMATCH
    with pytest.raises(ValueError, match="mn_aaa"):
        add_mn_ha_authentication(BU, KEY, SPI, COA, HOA, mn_aaa=MobilityMessageAuthentication(7, bytes(12)))


def test_verify_refuses_what_is_not_a_bu_or_ba():
    with pytest.raises(ParseError):
        verify_mn_ha(b"\x3b\x00", KEY, COA, HOA)
    with pytest.raises(ValueError):
        verify_mn_ha(build_mh(BindingRefreshRequest()), KEY, COA, HOA)
    with pytest.raises(ValueError):
        verify_mn_ha(build_mh(BindingError(1, HOA)), KEY, COA, HOA)
    with pytest.raises(TypeError):
        verify_mn_ha(build_mh(BU), "a key", COA, HOA)
    with pytest.raises(ValueError):
        verify_mn_ha(build_mh(BU), KEY, COA, HOA, spi=1 << 32)


def test_add_refuses():
    signed = add_mn_ha_authentication(BU, KEY, SPI, COA, HOA)
    with pytest.raises(ValueError, match="already"):
        add_mn_ha_authentication(signed, KEY, SPI, COA, HOA)
    with pytest.raises(TypeError):
        add_mn_ha_authentication(BindingError(1, HOA), KEY, SPI, COA, HOA)
    with pytest.raises(ValueError):
        add_mn_ha_authentication(BU, KEY, 1 << 32, COA, HOA)
    with pytest.raises(TypeError):
        add_mn_ha_authentication(BU, "key", SPI, COA, HOA)
    with pytest.raises(ValueError):
        add_mn_ha_authentication(BU, KEY, SPI, "not an address", HOA)


def option_offsets(data):
    """Offsets of the non-padding options of a BU or BA, walking the TLVs by hand (RFC 6275 §6.2)."""
    offsets, off = [], 12
    while off < len(data):
        if data[off] == 0:
            off += 1
            continue
        if data[off] != 1:
            offsets.append(off)
        off += 2 + data[off + 1]
    return offsets


messages = st.one_of(
    st.builds(BindingUpdate, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF * 4), ack=st.booleans(),
              home=st.booleans(), options=st.lists(st.one_of(
                  st.builds(MobileNodeIdentifier, st.binary(min_size=1, max_size=40)),
                  st.builds(MobilityMessageReplayProtection, st.integers(0, (1 << 64) - 1)),
                  st.builds(NonceIndices, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))), max_size=4)),
    st.builds(BindingAcknowledgement, st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF * 4),
              options=st.lists(st.builds(MobilityMessageReplayProtection, st.integers(0, (1 << 64) - 1)),
                               max_size=1)),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(msg=messages, key=st.binary(min_size=1, max_size=64), spi=st.integers(256, (1 << 32) - 1),
       care_of=addresses(), home=addresses(), flip=st.data())
def test_sign_then_verify(msg, key, spi, care_of, home, flip):
    signed = add_mn_ha_authentication(msg, key, spi, care_of, home)
    data = build_mh(signed)
    assert verify_mn_ha(data, key, care_of, home, spi=spi) is AuthVerdict.OK
    offset = option_offsets(data)[-1]
    assert data[offset] == 9 and data[offset + 1] == 17  # the authentication option is last (RFC 4285 §5)
    assert signed.options[-1].authenticator == independent_authenticator(key, care_of, home,
                                                                         data[:offset + 7])
    pos = flip.draw(st.integers(0, offset + 18).filter(lambda p: p not in (4, 5)))
    changed = bytearray(data)
    changed[pos] ^= 1 << flip.draw(st.integers(0, 7))
    try:
        assert verify_mn_ha(bytes(changed), key, care_of, home) is not AuthVerdict.OK
    except ValueError:  # ParseError (no longer a Mobility Header) or no longer a BU or BA
        pass


# --- replay protection (RFC 4285 §6) -----------------------------------------------------------------

def test_ntp_format():
    # NTP timestamps (RFC 1305) count from 1900-01-01: 70 years and 17 leap days before the Unix epoch.
    assert auth4285.NTP_UNIX_EPOCH_OFFSET == (70 * 365 + 17) * 86400
    assert unix_to_ntp(0) == 2_208_988_800 << 32
    assert unix_to_ntp(1.5) == ((2_208_988_800 + 1) << 32) | 0x80000000
    assert unix_to_ntp(Fraction(1, 4)) == (2_208_988_800 << 32) | 0x40000000
    assert ntp_to_unix(unix_to_ntp(1_700_000_000.25)) == 1_700_000_000.25
    # 2036-02-07 06:28:16 UTC ends NTP era 0; the 64-bit field wraps
    assert unix_to_ntp((1 << 32) - 2_208_988_800) == 0
    assert ntp_to_unix(TIMESTAMP) == 0xE8A1B2C3 - 2_208_988_800 + 0.5


@pytest.mark.parametrize("bad, exc", [(float("nan"), ValueError), (float("inf"), ValueError),
                                      ("0", TypeError), (True, TypeError), (None, TypeError)])
def test_unix_to_ntp_refuses(bad, exc):
    with pytest.raises(exc):
        unix_to_ntp(bad)


def test_check_timestamp_window():
    now = unix_to_ntp(1_700_000_000)
    assert DEFAULT_REPLAY_WINDOW == 7  # RFC 4285 §6: the default "close enough", more than 3 seconds
    assert check_timestamp(now, now) is ReplayCheck.OK
    assert check_timestamp(now - (7 << 32), now) is ReplayCheck.OK  # exactly the window: accepted
    assert check_timestamp(now + (7 << 32), now) is ReplayCheck.OK
    assert check_timestamp(now - (7 << 32) - 1, now) is ReplayCheck.TOO_OLD
    assert check_timestamp(now + (7 << 32) + 1, now) is ReplayCheck.TOO_NEW
    assert check_timestamp(unix_to_ntp(1_700_000_000 - 3.5), now, window=3) is ReplayCheck.TOO_OLD
    assert check_timestamp(unix_to_ntp(1_700_000_000 - 3.5), now, window=4).ok
    assert check_timestamp(unix_to_ntp(1_700_000_000 + 0.25), now, window=Fraction(1, 4)) is ReplayCheck.OK
    assert check_timestamp(now, now, window=0) is ReplayCheck.OK
    assert check_timestamp(now + 1, now, window=0) is ReplayCheck.TOO_NEW
    assert not ReplayCheck.TOO_OLD.ok and not ReplayCheck.TOO_NEW.ok


def test_check_timestamp_across_the_era_boundary():
    # 2036: the receiver's clock has wrapped to a small value, the sender's not yet (or the other way).
    assert check_timestamp((1 << 64) - (2 << 32), 3 << 32) is ReplayCheck.OK  # 5 s apart
    assert check_timestamp(3 << 32, (1 << 64) - (2 << 32)) is ReplayCheck.OK
    assert check_timestamp((1 << 64) - (20 << 32), 3 << 32) is ReplayCheck.TOO_OLD
    assert check_timestamp(30 << 32, (1 << 64) - (2 << 32)) is ReplayCheck.TOO_NEW


@pytest.mark.parametrize("args, exc", [
    ((1 << 64, 0), ValueError), ((0, -1), ValueError), ((0, 0, -1), ValueError),
    ((0, 0, float("nan")), ValueError), ((0, 0, float("inf")), ValueError), ((0, 0, "7"), TypeError),
    ((0.5, 0), TypeError), ((0, 0, True), TypeError),
])
def test_check_timestamp_refuses(args, exc):
    with pytest.raises(exc):
        check_timestamp(*args)


@given(now=st.integers(0, (1 << 64) - 1), delta=st.integers(-(1 << 40), 1 << 40),
       window=st.integers(0, 200))
def test_check_timestamp_is_the_signed_distance(now, delta, window):
    verdict = check_timestamp((now + delta) % (1 << 64), now, window)
    limit = window << 32
    expected = (ReplayCheck.TOO_NEW if delta > limit else ReplayCheck.TOO_OLD if delta < -limit
                else ReplayCheck.OK)
    assert verdict is expected


def test_authenticator_length_constant():
    assert MN_HA_AUTHENTICATOR_LEN == 12 == len(BU_AUTHENTICATOR)
