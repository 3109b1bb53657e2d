"""Return routability's cryptography (mip6fast/wire/return_routability.py, RFC 6275 §5.2.5, §5.2.6,
§6.2.7). The expected values are computed here, independently, with the standard library's hmac and
hashlib over byte strings laid out by hand from the RFC's formulas -- never by calling the functions
under test -- for a fixed Kcn, nonce and addresses:

    home keygen token    = First(64, HMAC_SHA1(Kcn, home address | nonce | 0))
    care-of keygen token = First(64, HMAC_SHA1(Kcn, care-of address | nonce | 1))
    Kbm                  = SHA1(home keygen token | care-of keygen token)   (home token alone to delete)
    Authenticator        = First(96, HMAC_SHA1(Kbm, care-of address | correspondent | MH Data))

MH Data is the Mobility Header up to and including the Binding Authorization Data option's Length byte
(the authenticator excluded), with the Checksum field zero; here it is written out byte by byte."""
import hashlib
import hmac
import struct
from ipaddress import IPv6Address

import pytest

from mip6fast.errors import ParseError
from mip6fast.wire import (
    BindingAcknowledgement,
    BindingAuthorizationData,
    BindingUpdate,
    HomeTestInit,
    NonceIndices,
    Packet,
    build_mh,
    parse,
)
from mip6fast.wire.return_routability import (
    MAX_NONCE_LIFETIME,
    MAX_RR_BINDING_LIFETIME,
    MAX_TOKEN_LIFETIME,
    AuthorizationVerdict,
    add_binding_authorization,
    authenticator,
    binding_management_key,
    care_of_keygen_token,
    home_keygen_token,
    verify_binding_authorization,
)

KCN = bytes(range(0x10, 0x24))                                  # 20 bytes
NONCE = bytes.fromhex("0123456789abcdef")
HOME = IPv6Address("2001:db8:1::1234")
COA = IPv6Address("2001:db8:a::5678")
CN = IPv6Address("2001:db8:c::9")


def _hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def _expected_tokens():
    home = _hmac_sha1(KCN, HOME.packed + NONCE + b"\x00")[:8]
    care_of = _hmac_sha1(KCN, COA.packed + NONCE + b"\x01")[:8]
    return home, care_of


def test_constants_are_rfc_6275_section_12():
    assert (MAX_NONCE_LIFETIME, MAX_TOKEN_LIFETIME, MAX_RR_BINDING_LIFETIME) == (240, 210, 420)


def test_keygen_tokens():
    home, care_of = _expected_tokens()
    assert home_keygen_token(KCN, HOME, NONCE) == home
    assert care_of_keygen_token(KCN, COA, NONCE) == care_of
    # Addresses as text or bytes give the same; the final octet tells home from care-of apart.
    assert home_keygen_token(KCN, str(HOME), NONCE) == home_keygen_token(KCN, HOME.packed, NONCE) == home
    assert care_of_keygen_token(KCN, HOME, NONCE) != home


def test_binding_management_key():
    home, care_of = _expected_tokens()
    assert binding_management_key(home, care_of) == hashlib.sha1(home + care_of).digest()
    assert binding_management_key(home) == hashlib.sha1(home).digest()       # a deletion (§5.2.6)


def _bu_mh_data(sequence: int, lifetime_units: int, home_index: int, care_of_index: int) -> bytes:
    """A BU with A set, Nonce Indices and the BAD option, by hand (RFC 6275 §6.1.7, §6.2.6, §6.2.7):
    6-byte common part (Payload Proto 59, Header Len 3 -> 32 bytes, MH type 5, reserved, checksum 0),
    sequence, flags A, lifetime, Nonce Indices at offset 12 (2n), BAD type and length at 18 (8n+2);
    the 12-byte authenticator would follow at 20..32."""
    return (bytes([59, 3, 5, 0, 0, 0]) + struct.pack("!HHH", sequence, 0x8000, lifetime_units)
            + bytes([4, 4]) + struct.pack("!HH", home_index, care_of_index) + bytes([5, 12]))


def test_binding_update_authenticator():
    home, care_of = _expected_tokens()
    kbm = hashlib.sha1(home + care_of).digest()
    mh_data = _bu_mh_data(0x1234, 100, 7, 9)
    want = _hmac_sha1(kbm, COA.packed + CN.packed + mh_data)[:12]
    assert authenticator(kbm, COA, CN, mh_data) == want
    bu = BindingUpdate(0x1234, 400, ack=True, options=(NonceIndices(7, 9),))
    signed = add_binding_authorization(bu, kbm, COA, CN)
    assert signed.options[-1] == BindingAuthorizationData(want)
    wire = build_mh(signed)
    assert wire == mh_data + want                  # the layout assumed above, and nothing after
    assert verify_binding_authorization(wire, kbm, COA, CN) is AuthorizationVerdict.OK
    assert verify_binding_authorization(signed, kbm, COA, CN).ok


def test_authenticator_ignores_the_checksum_but_covers_everything_else():
    home, care_of = _expected_tokens()
    kbm = binding_management_key(home, care_of)
    pkt = Packet(src=COA, dst=CN, home_address=HOME, payload=add_binding_authorization(
        BindingUpdate(5, 400, ack=True, options=(NonceIndices(1, 2),)), kbm, COA, CN))
    raw = pkt.to_bytes()
    mh = raw[64:]                                  # after the 24-byte destination options header
    assert mh[4:6] != b"\0\0"                      # the packet layer filled the checksum in
    assert verify_binding_authorization(mh, kbm, COA, CN).ok
    for i in (3, 7, 11, 15, 19):                   # reserved, sequence, lifetime, nonce index, BAD length
        bad = bytearray(mh)
        bad[i] ^= 0x01
        try:
            verdict = verify_binding_authorization(bytes(bad), kbm, COA, CN)
        except ParseError:
            continue                               # the change made it malformed: never authorised
        assert verdict is not AuthorizationVerdict.OK, i
    assert verify_binding_authorization(mh, kbm, IPv6Address("2001:db8:a::1"), CN) is AuthorizationVerdict.MISMATCH
    assert verify_binding_authorization(mh, kbm, COA, HOME) is AuthorizationVerdict.MISMATCH
    assert verify_binding_authorization(mh, bytes(20), COA, CN) is AuthorizationVerdict.MISMATCH
    assert parse(raw).payload.options[-1].authenticator == mh[-12:]


def test_deletion_uses_the_home_token_and_the_home_address():
    home, _ = _expected_tokens()
    kbm = hashlib.sha1(home).digest()
    mh_data = _bu_mh_data(77, 0, 7, 0)
    want = _hmac_sha1(kbm, HOME.packed + CN.packed + mh_data)[:12]
    signed = add_binding_authorization(BindingUpdate(77, 0, ack=True, options=(NonceIndices(7, 0),)), kbm, HOME, CN)
    assert build_mh(signed) == mh_data + want


def test_binding_acknowledgement_authenticator():
    home, care_of = _expected_tokens()
    kbm = hashlib.sha1(home + care_of).digest()
    # A BA (status 0, sequence 0x1234, lifetime 100 units): 12 bytes, PadN(4) to put BAD at 18 (8n+2).
    mh_data = (bytes([59, 3, 6, 0, 0, 0]) + bytes([0, 0]) + struct.pack("!HH", 0x1234, 100)
               + bytes([1, 4, 0, 0, 0, 0]) + bytes([5, 12]))
    want = _hmac_sha1(kbm, COA.packed + CN.packed + mh_data)[:12]
    signed = add_binding_authorization(BindingAcknowledgement(0, 0x1234, 400), kbm, COA, CN)
    assert build_mh(signed) == mh_data + want
    assert verify_binding_authorization(build_mh(signed), kbm, COA, CN).ok


def test_verdicts_for_a_missing_or_misplaced_option():
    kbm = bytes(20)
    plain = build_mh(BindingUpdate(1, 400, ack=True, options=(NonceIndices(1, 2),)))
    assert verify_binding_authorization(plain, kbm, COA, CN) is AuthorizationVerdict.MISSING
    signed = build_mh(add_binding_authorization(BindingUpdate(1, 400, ack=True, options=(NonceIndices(1, 2),)),
                                                kbm, COA, CN))
    # Eight bytes of padding after the option (Header Len one more): still parses, but not last.
    padded = bytearray(signed + bytes([1, 6, 0, 0, 0, 0, 0, 0]))
    padded[1] += 1
    assert verify_binding_authorization(bytes(padded), kbm, COA, CN) is AuthorizationVerdict.NOT_LAST
    with pytest.raises(ValueError):
        add_binding_authorization(add_binding_authorization(BindingUpdate(1, 4), kbm, COA, CN), kbm, COA, CN)
    with pytest.raises(ValueError):
        verify_binding_authorization(build_mh(HomeTestInit(b"cookie!!")), kbm, COA, CN)
