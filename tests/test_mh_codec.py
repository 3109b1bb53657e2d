"""The Mobility Header codec (docs/CODEC.md "mh"): mip6fast._mh (C) and mip6fast._mh_py (twin).

Every test runs on both implementations (``both("mh")``); the differential tests (``pair("mh")``) feed
the same input to both and demand the same raw form, the same bytes or the same error.

The byte vectors below are written out by hand from the message and option figures of RFC 6275 §6.1 and
§6.2, RFC 4283 §3 and RFC 4285 §5-§6 (the section is noted next to each), not produced by the code under
test.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import both, pair
from mip6fast.errors import ParseError

CODECS = both("mh")


def h(text):
    """Bytes from hex written with spaces between fields."""
    return bytes.fromhex(text.replace(" ", ""))


COOKIE = h("0102030405060708")
COOKIE2 = h("1112131415161718")
TOKEN = h("a1a2a3a4a5a6a7a8")
TOKEN2 = h("b1b2b3b4b5b6b7b8")
ADDR1 = h("20010db8000000000000000000000001")  # 2001:db8::1
ADDR2 = h("20010db8000000000000000000000002")  # 2001:db8::2
AUTH = h("c1c2c3c4c5c6c7c8c9cacbcc")

# (id, hex, raw form). Common part (RFC 6275 §6.1.1): payload proto 3b (59), header len (8-octet units
# after the first 8), MH type, reserved 00, checksum 0000 (the packet layer fills it).
VECTORS = [
    # §6.1.2 Binding Refresh Request: reserved (2). 8 bytes, header len 0.
    ("brr", "3b 00 00 00 0000 0000", (0, (), ())),
    # §6.1.3 Home Test Init: reserved (2), home init cookie (8). 16 bytes, header len 1.
    ("hoti", "3b 01 01 00 0000 0000 0102030405060708", (1, (COOKIE,), ())),
    # §6.1.4 Care-of Test Init: reserved (2), care-of init cookie (8).
    ("coti", "3b 01 02 00 0000 0000 1112131415161718", (2, (COOKIE2,), ())),
    # §6.1.5 Home Test: home nonce index (2), home init cookie (8), home keygen token (8). 24 bytes.
    ("hot", "3b 02 03 00 0000 1234 0102030405060708 a1a2a3a4a5a6a7a8",
     (3, (0x1234, COOKIE, TOKEN), ())),
    # §6.1.6 Care-of Test: care-of nonce index, care-of init cookie, care-of keygen token.
    ("cot", "3b 02 04 00 0000 beef 1112131415161718 b1b2b3b4b5b6b7b8",
     (4, (0xBEEF, COOKIE2, TOKEN2), ())),
    # §6.1.7 Binding Update: sequence 0x0102, A|H (c000) + reserved, lifetime 150 units (600 s);
    # 12 bytes, so PadN(2) (01 02 00 00, §6.2.3) fills to 16.
    ("bu", "3b 01 05 00 0000 0102 c000 0096 01020000", (5, (0x0102, 0xC000, 150), ())),
    # §6.1.7 with every flag (A H L K = f000), largest sequence and lifetime.
    ("bu-all-flags", "3b 01 05 00 0000 ffff f000 ffff 01020000", (5, (0xFFFF, 0xF000, 0xFFFF), ())),
    # §6.1.8 Binding Acknowledgement: status 0, K (80) + reserved, sequence, lifetime; PadN(2).
    ("ba", "3b 01 06 00 0000 00 80 0102 0096 01020000", (6, (0, 0x80, 0x0102, 150), ())),
    # §6.1.8 status 174 (invalid care-of address), K clear, lifetime 0.
    ("ba-174", "3b 01 06 00 0000 ae 00 0007 0000 01020000", (6, (174, 0, 7, 0), ())),
    # §6.1.9 Binding Error: status 1, reserved, home address (16). 24 bytes.
    ("be", "3b 02 07 00 0000 01 00 20010db8000000000000000000000001", (7, (1, ADDR1), ())),
    # §6.1.1 + §9.2: an unknown MH type keeps every byte after the common part as its body.
    ("unknown-type", "3b 00 08 00 0000 dead", (8, (h("dead"),), ())),
    ("unknown-type-long", "3b 01 c8 00 0000 00112233445566778899", (200, (h("00112233445566778899"),), ())),
    # §6.2.4 Binding Refresh Advice in a BA: 2n, lands on 12 with no padding; interval 32 units.
    ("ba-bra", "3b 01 06 00 0000 00 00 0005 0096 0202 0020", (6, (0, 0, 5, 150), ((2, 32),))),
    # §6.2.5 Alternate Care-of Address in a BU: 8n+6, so PadN(0) (01 00) moves it from 12 to 14.
    ("bu-altcoa", "3b 03 05 00 0000 0001 c000 0096 0100 0310 20010db8000000000000000000000002",
     (5, (1, 0xC000, 150), ((3, ADDR2),))),
    # §6.2.6 Nonce Indices in a BU: 2n at 12, then PadN(4) to 24.
    ("bu-nonce", "3b 02 05 00 0000 0001 0000 0000 0404 0a0b 0c0d 0104 00000000",
     (5, (1, 0, 0), ((4, (0x0A0B, 0x0C0D)),))),
    # §6.2.7 Binding Authorization Data alone in a BU: 8n+2, so PadN(4) moves it from 12 to 18.
    ("bu-bad", "3b 03 05 00 0000 0001 0000 0000 0104 00000000 050c c1c2c3c4c5c6c7c8c9cacbcc",
     (5, (1, 0, 0), ((5, AUTH),))),
    # §6.2.1 an unknown option (type 0x40, 3 data bytes) in a BRR: no alignment; PadN(1) to 16.
    ("brr-unknown-opt", "3b 01 00 00 0000 0000 4003 aabbcc 010100", (0, (), ((0x40, h("aabbcc")),))),
    # §6.2.1 an unknown option with no data; PadN(4) to 16.
    ("brr-unknown-empty", "3b 01 00 00 0000 0000 ff00 0104 00000000", (0, (), ((0xFF, b""),))),
    # §6.2.1 options are allowed in every message: Nonce Indices in a HoTI (2n at 16), PadN(0) to 24.
    ("hoti-nonce", "3b 02 01 00 0000 0000 0102030405060708 0404 00010002 0100",
     (1, (COOKIE,), ((4, (1, 2)),))),
    # §6.1.9 + §6.2.1: an unknown option in a BE (at 24), PadN(3) to 32.
    ("be-unknown-opt", "3b 03 07 00 0000 02 00 20010db8000000000000000000000002 2001 aa 01030000 00",
     (7, (2, ADDR2), ((0x20, h("aa")),))),
]

# Alignment and padding (RFC 6275 §6.2: xn+y counted from the start of the MH to the type byte).
ALIGNMENT_VECTORS = [
    # BU + Alternate Care-of Address: PadN(0) before it (14 = 8+6).
    ("bu-altcoa-padn0", "3b 03 05 00 0000 0001 c000 0096 0100 0310 20010db8000000000000000000000002",
     (5, (1, 0xC000, 150), ((3, ADDR2),))),
    # BA + BRA + BAD: BRA at 12 (2n), ends at 16; BAD needs 18 (8n+2): PadN(0); ends at 32.
    ("ba-bra-bad", "3b 03 06 00 0000 00 80 0009 012c 0202 004b 0100 050c c1c2c3c4c5c6c7c8c9cacbcc",
     (6, (0, 0x80, 9, 300), ((2, 75), (5, AUTH)))),
    # BU + Nonce Indices + BAD: NI at 12 ends at 18 = 8*2+2, so BAD needs no padding; 32 bytes.
    ("bu-nonce-bad", "3b 03 05 00 0000 1000 a000 003c 0404 0001 0002 050c c1c2c3c4c5c6c7c8c9cacbcc",
     (5, (0x1000, 0xA000, 60), ((4, (1, 2)), (5, AUTH)))),
    # Pad1 in the middle: unknown option 12..15, Pad1 at 15 puts NI on 16 (2n), PadN(0) to 24.
    ("bu-pad1-middle", "3b 02 05 00 0000 0001 0000 0000 2001 aa 00 0404 0001 0002 0100",
     (5, (1, 0, 0), ((0x20, h("aa")), (4, (1, 2))))),
    # Pad1 at the end: unknown option 12..15, one byte to 16.
    ("bu-pad1-end", "3b 01 05 00 0000 0001 0000 0000 2001 aa 00", (5, (1, 0, 0), ((0x20, h("aa")),))),
    # NI, Alt-CoA, BAD: PadN(2) before Alt-CoA (18 -> 22 = 8*2+6), PadN(0) before BAD (40 -> 42).
    ("bu-nonce-altcoa-bad",
     ("3b 06 05 00 0000 0001 c000 0096 0404 0001 0002 0102 0000 0310 20010db8000000000000000000000002"
     " 0100 050c c1c2c3c4c5c6c7c8c9cacbcc"),
     (5, (1, 0xC000, 150), ((4, (1, 2)), (3, ADDR2), (5, AUTH)))),
    # Two Alt-CoAs back to back: the second lands on 32 and needs PadN(4) to reach 38 = 8*4+6.
    ("bu-two-altcoa",
     ("3b 06 05 00 0000 0001 0000 0000 0100 0310 20010db8000000000000000000000001"
     " 0104 00000000 0310 20010db8000000000000000000000002"),
     (5, (1, 0, 0), ((3, ADDR1), (3, ADDR2)))),
]

# The options of RFC 4283 and RFC 4285 (IANA mobility option types 8, 9, 10).
NAI = b"mn1@example.com"  # 15 bytes: 6d6e31406578616d706c652e636f6d
AUTH20 = bytes(range(0xD0, 0xE4))  # an MN-AAA authenticator: RFC 4285 §5.2 does not truncate HMAC_SHA1
RFC4285_VECTORS = [
    # RFC 4283 §3 Mobile Node Identifier: type 8, length 16 (subtype + identifier), subtype 1 (NAI, §3.1);
    # no alignment requirement, so it sits at 12 as it comes; 12 + 18 = 30, PadN(0) to 32.
    ("bu-mnid", "3b 03 05 00 0000 0001 c000 0096 0810 01 6d6e31406578616d706c652e636f6d 0100",
     (5, (1, 0xC000, 150), ((8, (1, NAI)),))),
    # RFC 4283 §3 with a one-byte identifier and another subtype: 12..16, no padding at all.
    ("bu-mnid-short", "3b 01 05 00 0000 0001 0000 0000 0802 07 61",
     (5, (1, 0, 0), ((8, (7, b"a")),))),
    # RFC 4285 §5 Mobility Message Authentication: 4n+1, so Pad1 moves it from 12 to 13 and the Mobility
    # SPI lands on 16; type 9, length 17 (subtype + SPI + 12), subtype 1 (MN-HA), SPI 0x100; ends at 32.
    ("bu-auth", "3b 03 05 00 0000 0001 c000 0096 00 0911 01 00000100 c1c2c3c4c5c6c7c8c9cacbcc",
     (5, (1, 0xC000, 150), ((9, (1, 0x100, AUTH)),))),
    # RFC 4285 §6 Mobility Message Replay Protection in a BA: 8n+2, so PadN(4) moves it from 12 to 18
    # (the timestamp lands 8-aligned on 20); type 10, length 8; ends at 28, PadN(2) to 32.
    ("ba-mesgid", "3b 03 06 00 0000 00 00 0007 0096 0104 00000000 0a08 0123456789abcdef 0102 0000",
     (6, (0, 0, 7, 150), ((10, 0x0123456789ABCDEF),))),
    # The BU of RFC 4285's message flow (MN-ID, replay protection, authentication last): MN-ID 12..30;
    # PadN(2) to 34 = 8*4+2 for the timestamp option, 34..44; Pad1 to 45 = 4*11+1 for authentication.
    ("bu-mnid-mesgid-auth",
     ("3b 07 05 00 0000 0001 c000 0096 0810 01 6d6e31406578616d706c652e636f6d 0102 0000"
     " 0a08 0123456789abcdef 00 0911 01 00000100 c1c2c3c4c5c6c7c8c9cacbcc"),
     (5, (1, 0xC000, 150), ((8, (1, NAI)), (10, 0x0123456789ABCDEF), (9, (1, 0x100, AUTH))))),
    # RFC 4285 §5.1-§5.2: an MN-AAA option (subtype 2, 20 bytes) may follow the MN-HA one: MN-HA 13..32,
    # Pad1 to 33 = 4*8+1, MN-AAA (length 25) 33..60, PadN(2) to 64.
    ("bu-mn-ha-then-mn-aaa",
     ("3b 07 05 00 0000 0001 c000 0096 00 0911 01 00000100 c1c2c3c4c5c6c7c8c9cacbcc"
     " 00 0919 02 ffffffff d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3 0102 0000"),
     (5, (1, 0xC000, 150), ((9, (1, 0x100, AUTH)), (9, (2, 0xFFFFFFFF, AUTH20))))),
    # RFC 4285 §5 in a BA after BRA: BRA 12..16, Pad1 to 17 = 4*4+1, authentication 17..36, PadN(2) to 40.
    ("ba-bra-auth", ("3b 04 06 00 0000 00 00 0009 012c 0202 004b 00 0911 01 00000100 c1c2c3c4c5c6c7c8c9cacbcc"
     " 0102 0000"), (6, (0, 0, 9, 300), ((2, 75), (9, (1, 0x100, AUTH))))),
    # An authentication option already on 4n+1 needs no padding: MN-ID "ab" 12..17 ends on 17; the
    # authentication option 17..36, PadN(2) to 40.
    ("bu-mnid-auth-no-pad", ("3b 04 05 00 0000 0001 0000 0000 0803 01 6162 0911 01 00000001"
     " c1c2c3c4c5c6c7c8c9cacbcc 0102 0000"),
     (5, (1, 0, 0), ((8, (1, b"ab")), (9, (1, 1, AUTH))))),
    # Replay protection in a HoTI (options start at 16): PadN(0) to 18; 18..28; PadN(2) to 32.
    ("hoti-mesgid", "3b 03 01 00 0000 0000 0102030405060708 0100 0a08 ffffffffffffffff 0102 0000",
     (1, (COOKIE,), ((10, 0xFFFFFFFFFFFFFFFF),))),
]

ALL_VECTORS = VECTORS + ALIGNMENT_VECTORS + RFC4285_VECTORS


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("hexstr, raw", [pytest.param(x, r, id=i) for i, x, r in ALL_VECTORS])
def test_vector_build(codec, hexstr, raw):
    assert codec.build(*raw) == h(hexstr)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("hexstr, raw", [pytest.param(x, r, id=i) for i, x, r in ALL_VECTORS])
def test_vector_parse(codec, hexstr, raw):
    data = h(hexstr)
    assert len(data) % 8 == 0  # guards the hand-written vectors themselves
    assert codec.parse(data) == raw
    assert codec.parse(bytearray(data)) == raw
    assert codec.parse(memoryview(data)) == raw


@pytest.mark.parametrize("codec", CODECS)
def test_parse_types(codec):
    mh_type, fields, options = codec.parse(h(ALIGNMENT_VECTORS[5][1]))
    assert type(mh_type) is int and type(fields) is tuple and type(options) is tuple
    assert [type(v) for v in fields] == [int, int, int]
    assert [type(o) for o in options] == [tuple, tuple, tuple]
    assert type(options[0][1]) is tuple and type(options[1][1]) is bytes
    assert type(codec.build(0, (), ())) is bytes


@pytest.mark.parametrize("codec", CODECS)
def test_parse_other_buffers(codec):
    data = h(VECTORS[3][1])
    # A strided memoryview and an array of wider items are buffers too; parse sees their bytes.
    assert codec.parse(memoryview(bytes(x for b in data for x in (b, 0)))[::2]) == VECTORS[3][2]
    import array
    assert codec.parse(array.array("H", data)) == VECTORS[3][2]
    for bad in (None, "3b00000000000000", 8, [59, 0, 0, 0, 0, 0, 0, 0]):
        with pytest.raises(TypeError):
            codec.parse(bad)


# --- what parse ignores -------------------------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
def test_parse_ignores_reserved_checksum_and_undefined_flags(codec):
    # RFC 6275 §6.1.7/§9.2: reserved bits and unknown flags are ignored on receipt.
    assert codec.parse(h("3b 01 05 ff abcd 0102 cfff 0096 01020000")) == (5, (0x0102, 0xC000, 150), ())
    assert codec.parse(h("3b 01 06 ff abcd 07 ff 0102 0096 01020000")) == (6, (7, 0x80, 0x0102, 150), ())
    assert codec.parse(h("3b 01 06 00 0000 07 7f 0102 0096 01020000")) == (6, (7, 0, 0x0102, 150), ())
    assert codec.parse(h("3b 00 00 ff ffff ffff")) == (0, (), ())
    assert codec.parse(h("3b 01 01 00 0000 ffff 0102030405060708")) == (1, (COOKIE,), ())
    assert codec.parse(h("3b 02 07 00 0000 01 ff 20010db8000000000000000000000001")) == (7, (1, ADDR1), ())


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("padding", ["00000000", "01020000", "0102ffff", "00 0100 00", "0100 0100"])
def test_parse_any_padding(codec, padding):
    # Pad1/PadN in any arrangement, PadN data not zero (RFC 6275 §6.2.3: receivers ignore it).
    assert codec.parse(h("3b 01 05 00 0000 0102 c000 0096" + padding)) == (5, (0x0102, 0xC000, 150), ())


@pytest.mark.parametrize("codec", CODECS)
def test_parse_non_canonical_padding_then_rebuild_is_canonical(codec):
    # Pad1 x 2 where the builder writes PadN(0): same raw form, canonical bytes on the way out.
    data = h("3b 03 05 00 0000 0001 c000 0096 0000 0310 20010db8000000000000000000000002")
    raw = codec.parse(data)
    assert raw == (5, (1, 0xC000, 150), ((3, ADDR2),))
    assert codec.build(*raw) == h(ALIGNMENT_VECTORS[0][1])


@pytest.mark.parametrize("codec", CODECS)
def test_known_option_in_any_message_is_kept(codec):
    # The codec does not police which message may carry which option (RFC 6275 §6.2.1 leaves that
    # to the receiver's processing rules): BRA in a BU still parses.
    raw = (5, (1, 0, 0), ((2, 7),))
    assert codec.parse(codec.build(*raw)) == raw


# --- parse errors: every check of the contract, with its field and offset -----------------------------

def mh(mh_type, body=b"", options=b"", proto=59, header_len=None):
    """Assemble an MH by hand: common part, body, options, then Pad1/PadN up to a multiple of 8."""
    data = bytes([proto, 0, mh_type, 0, 0, 0]) + body + options
    pad = -len(data) % 8
    if pad == 1:
        data += b"\x00"
    elif pad:
        data += bytes([1, pad - 2]) + bytes(pad - 2)
    hl = len(data) // 8 - 1 if header_len is None else header_len
    return data[:1] + bytes([hl]) + data[2:]


BU_BODY = h("0001 0000 0000")  # options start at 12
BA_BODY = h("00 00 0001 0000")
SHORT = "mobility header shorter than 8 bytes"
MISMATCH = "header length does not match the data"
PAST_END = "option runs past the end of the header"

PARSE_ERRORS = [
    # 1. fewer than 8 bytes
    ("empty", b"", SHORT, "mobility_header", 0),
    ("one-byte", h("3b"), SHORT, "mobility_header", 0),
    ("two-bytes", h("3b00"), SHORT, "header_len", 1),
    ("seven-bytes", h("3b00000000000000")[:7], SHORT, "header_len", 1),
    ("seven-bytes-bad-proto", h("3a000000000000"), SHORT, "header_len", 1),  # 1 before 2
    # 2. payload proto (RFC 6275 §9.2)
    ("proto-58", mh(0, bytes(2), proto=58), "payload proto is not 59 (no next header)", "payload_proto", 0),
    ("proto-0", mh(5, BU_BODY, proto=0), "payload proto is not 59 (no next header)", "payload_proto", 0),
    ("proto-before-len", mh(0, bytes(2), proto=6, header_len=9),
     "payload proto is not 59 (no next header)", "payload_proto", 0),
    # 3. header length against the data
    ("len-says-16-have-8", mh(0, bytes(2), header_len=1), MISMATCH, "header_len", 1),
    ("len-says-8-have-16", mh(1, bytes(10), header_len=0), MISMATCH, "header_len", 1),
    ("nine-bytes", h("3b00000000000000 00"), MISMATCH, "header_len", 1),
    ("len-255-have-8", mh(0, bytes(2), header_len=255), MISMATCH, "header_len", 1),
    # 4. body below the type's minimum (RFC 6275 §9.2)
    ("hoti-8", mh(1, bytes(2)), "message shorter than its type's minimum", "header_len", 1),
    ("coti-8", mh(2, bytes(2)), "message shorter than its type's minimum", "header_len", 1),
    ("hot-16", mh(3, bytes(10)), "message shorter than its type's minimum", "header_len", 1),
    ("cot-16", mh(4, bytes(10)), "message shorter than its type's minimum", "header_len", 1),
    ("bu-8", mh(5, bytes(2)), "message shorter than its type's minimum", "header_len", 1),
    ("ba-8", mh(6, bytes(2)), "message shorter than its type's minimum", "header_len", 1),
    ("be-16", mh(7, bytes(10)), "message shorter than its type's minimum", "header_len", 1),
    # 5. options: truncated header, data past the end
    ("padn-no-length", mh(5, BU_BODY, h("000000 01")), "truncated option", "option", 15),
    ("known-no-length", mh(5, BU_BODY, h("000000 05")), "truncated option", "option", 15),
    ("unknown-no-length", mh(0, bytes(2), h("00000000000000 80")), "truncated option", "option", 15),
    ("padn-past-end", mh(5, BU_BODY, h("0103 0000")), PAST_END, "option_length", 13),
    ("unknown-past-end", mh(5, BU_BODY, h("7f ff 0000")), PAST_END, "option_length", 13),
    # a known option whose length byte overruns: "past the end" is checked before "wrong length"
    ("bra-past-end", mh(5, BU_BODY, h("0203 0000")), PAST_END, "option_length", 13),
    # known options with the wrong length byte
    ("bra-len-3", mh(6, BA_BODY, h("0203 000000")), "wrong length for the option type", "option_length", 13),
    ("bra-len-0", mh(6, BA_BODY, h("0200")), "wrong length for the option type", "option_length", 13),
    ("altcoa-len-15", mh(5, BU_BODY, h("0100 030f") + bytes(15)), "wrong length for the option type",
     "option_length", 15),
    ("nonce-len-2", mh(5, BU_BODY, h("0402 0000")), "wrong length for the option type", "option_length", 13),
    ("bad-len-16", mh(5, BU_BODY, h("0104 00000000 0510") + bytes(16)), "wrong length for the option type",
     "option_length", 19),
    # length is checked before alignment: BRA with length 4 at an odd offset
    ("len-before-align", mh(6, BA_BODY, h("00 0204 00000000")), "wrong length for the option type",
     "option_length", 14),
    # known options off their alignment
    ("bra-odd", mh(6, BA_BODY, h("00 0202 0000")), "option off its alignment", "option_alignment", 13),
    ("altcoa-at-12", mh(5, BU_BODY, h("0310") + ADDR1), "option off its alignment", "option_alignment", 12),
    ("altcoa-at-16", mh(5, BU_BODY, h("01020000 0310") + ADDR1), "option off its alignment",
     "option_alignment", 16),
    ("nonce-odd", mh(5, BU_BODY, h("00 0404 00010002")), "option off its alignment", "option_alignment", 13),
    ("bad-at-12", mh(5, BU_BODY, h("050c") + AUTH), "option off its alignment", "option_alignment", 12),
    ("bad-at-20", mh(5, BU_BODY, h("0106 000000000000 050c") + AUTH), "option off its alignment",
     "option_alignment", 20),
    # Binding Authorization Data must be last (RFC 6275 §6.2.7)
    ("nonce-after-bad", mh(5, h("1000 a000 003c"), h("0404 00010002 050c") + AUTH + h("0404 00010002")),
     "option after Binding Authorization Data", "option_order", 32),
    ("unknown-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("2000")),
     "option after Binding Authorization Data", "option_order", 32),
    ("bad-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("0100 050c") + AUTH),
     "option after Binding Authorization Data", "option_order", 34),
    ("altcoa-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("0104 00000000 0310") + ADDR1),
     "option after Binding Authorization Data", "option_order", 38),
    # after BAD, a misaligned option is reported as misaligned (alignment before order)
    ("misaligned-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("0310") + ADDR1),
     "option off its alignment", "option_alignment", 32),
    # after BAD, a truncated option is reported as truncated
    ("truncated-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("00000000000000 03")),
     "truncated option", "option", 39),
    # the first error front to back wins: misaligned NI at 13 before a truncated option at 23
    ("first-wins", mh(5, BU_BODY, h("00 0404 00010002 0102 0000 02")), "option off its alignment",
     "option_alignment", 13),
    # RFC 4283 §3: a Mobile Node Identifier needs its subtype and at least one identifier byte
    ("mnid-len-1", mh(5, BU_BODY, h("0801 01")), "wrong length for the option type", "option_length", 13),
    ("mnid-len-0", mh(5, BU_BODY, h("0800")), "wrong length for the option type", "option_length", 13),
    ("mnid-past-end", mh(5, BU_BODY, h("0820 01 6162")), PAST_END, "option_length", 13),
    # RFC 4285 §5: subtype, SPI and at least one byte of authentication data; 4n+1
    ("auth-len-5", mh(5, BU_BODY, h("00 0905 01 00000100")), "wrong length for the option type",
     "option_length", 14),
    ("auth-len-0", mh(5, BU_BODY, h("00 0900")), "wrong length for the option type", "option_length", 14),
    ("auth-at-12", mh(5, BU_BODY, h("0911 01 00000100") + AUTH), "option off its alignment",
     "option_alignment", 12),
    ("auth-at-14", mh(5, BU_BODY, h("0100 0911 01 00000100") + AUTH), "option off its alignment",
     "option_alignment", 14),
    # RFC 4285 §6: exactly 8 bytes of timestamp, 8n+2
    ("mesgid-len-7", mh(6, BA_BODY, h("0104 00000000 0a07 01234567 89abcd")),
     "wrong length for the option type", "option_length", 19),
    ("mesgid-len-9", mh(6, BA_BODY, h("0104 00000000 0a09 0123456789abcdef 00")),
     "wrong length for the option type", "option_length", 19),
    ("mesgid-at-12", mh(6, BA_BODY, h("0a08 0123456789abcdef")), "option off its alignment",
     "option_alignment", 12),
    ("mesgid-at-28", mh(6, BA_BODY, h("0104 00000000 0a08 0123456789abcdef 0a08 0123456789abcdef")),
     "option off its alignment", "option_alignment", 28),
    # RFC 4285 §5: nothing but another authentication option after one
    ("mnid-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("0803 01 6162")),
     "option after Mobility Message Authentication", "option_order", 32),
    ("unknown-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("2000")),
     "option after Mobility Message Authentication", "option_order", 32),
    ("mesgid-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("0100 0a08 0123456789abcdef")),
     "option after Mobility Message Authentication", "option_order", 34),
    ("bad-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("0100 050c") + AUTH),
     "option after Mobility Message Authentication", "option_order", 34),
    ("auth-after-bad", mh(5, BU_BODY, h("0104 00000000 050c") + AUTH + h("00 0911 01 00000100") + AUTH),
     "option after Binding Authorization Data", "option_order", 33),
    # after authentication, misalignment and a wrong length are reported before the order
    ("misaligned-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("0310") + ADDR1),
     "option off its alignment", "option_alignment", 32),
    ("short-auth-after-auth", mh(5, BU_BODY, h("00 0911 01 00000100") + AUTH + h("00 0904 01000001")),
     "wrong length for the option type", "option_length", 34),
    # too many options (docs/CODEC.md "Limits"): the 33rd non-padding option, at 8 + 32 * 2
    ("33-options", mh(0, bytes(2), h("2000") * 33), "too many options", "option", 72),
    ("33-options-padded", mh(0, bytes(2), h("2000 00 0100") * 32 + h("2000")), "too many options", "option",
     8 + 32 * 5),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("data, reason, field, offset",
                         [pytest.param(d, r, f, o, id=i) for i, d, r, f, o in PARSE_ERRORS])
def test_parse_error(codec, data, reason, field, offset):
    with pytest.raises(ParseError) as info:
        codec.parse(data)
    assert (info.value.reason, info.value.field, info.value.offset) == (reason, field, offset)


def test_parse_error_vectors_are_well_formed_up_to_their_fault():
    # The option-walk cases above must get past checks 1-4, else they would test the wrong thing.
    for name, data, _reason, field, _offset in PARSE_ERRORS:
        if field.startswith("option"):
            assert data[0] == 59 and (data[1] + 1) * 8 == len(data), name


@pytest.mark.parametrize("codec", CODECS)
def test_unknown_type_no_minimum_no_option_walk(codec):
    # 8 bytes of an unknown type are a whole message, and its body is not walked as options.
    assert codec.parse(mh(9, h("05ff"))) == (9, (h("05ff"),), ())
    assert codec.parse(mh(255, h("01ff") + bytes(8))) == (255, (h("01ff") + bytes(8),), ())


@pytest.mark.parametrize("codec", CODECS)
def test_32_options_is_the_limit_not_33(codec):
    data = mh(0, bytes(2), h("2000") * 32)
    raw = codec.parse(data)
    assert raw == (0, (), ((0x20, b""),) * 32)
    assert codec.build(*raw) == data
    # Padding does not count towards the limit.
    assert len(codec.parse(mh(0, bytes(2), h("2000 00 0100") * 32))[2]) == 32


@pytest.mark.parametrize("codec", CODECS)
def test_largest_message(codec):
    # 2048 bytes = (255 + 1) * 8, the most Header Len can describe: 7 options of 255 data bytes and one
    # of 239 after the 8-byte BRR.
    raw = (0, (), tuple((0x80 + i, bytes([i]) * 255) for i in range(7)) + ((0x90, bytes(239)),))
    data = codec.build(*raw)
    assert len(data) == 2048 and data[1] == 255
    assert codec.parse(data) == raw
    unknown = (77, (bytes(range(256)) * 7 + bytes(250),), ())
    assert len(codec.build(*unknown)) == 2048
    assert codec.parse(codec.build(*unknown)) == unknown


# --- build: ValueError for what the wire cannot carry, TypeError for the wrong kind of value ----------

BUILD_VALUE_ERRORS = [
    # (id, raw form, field named in the message)
    ("mh-type-256", (256, (), ()), "mh_type"),
    ("mh-type-negative", (-1, (), ()), "mh_type"),
    ("brr-fields", (0, (1,), ()), "fields"),
    ("bu-two-fields", (5, (1, 0), ()), "fields"),
    ("ba-three-fields", (6, (0, 0, 1), ()), "fields"),
    ("unknown-no-body", (8, (), ()), "fields"),
    ("hoti-cookie-7", (1, (bytes(7),), ()), "home_init_cookie"),
    ("coti-cookie-9", (2, (bytes(9),), ()), "care_of_init_cookie"),
    ("hot-nonce-index", (3, (0x10000, COOKIE, TOKEN), ()), "home_nonce_index"),
    ("hot-cookie", (3, (1, bytes(7), TOKEN), ()), "home_init_cookie"),
    ("hot-token", (3, (1, COOKIE, bytes(9)), ()), "home_keygen_token"),
    ("cot-nonce-index", (4, (-1, COOKIE, TOKEN), ()), "care_of_nonce_index"),
    ("cot-cookie", (4, (1, b"", TOKEN), ()), "care_of_init_cookie"),
    ("cot-token", (4, (1, COOKIE, bytes(7)), ()), "care_of_keygen_token"),
    ("bu-sequence", (5, (70000, 0, 0), ()), "sequence"),
    ("bu-flags-17-bits", (5, (1, 0x10000, 0), ()), "flags"),
    ("bu-flags-undefined", (5, (1, 0x0800, 0), ()), "flags"),
    ("bu-lifetime", (5, (1, 0, 0x10000), ()), "lifetime_units"),
    ("bu-lifetime-negative", (5, (1, 0, -4), ()), "lifetime_units"),
    ("ba-status", (6, (256, 0, 1, 0), ()), "status"),
    ("ba-flags-undefined", (6, (0, 0x40, 1, 0), ()), "flags"),
    ("ba-flags-9-bits", (6, (0, 0x100, 1, 0), ()), "flags"),
    ("ba-sequence", (6, (0, 0, 0x10000, 0), ()), "sequence"),
    ("ba-lifetime", (6, (0, 0, 1, 0x10000), ()), "lifetime_units"),
    ("be-status", (7, (-1, ADDR1), ()), "status"),
    ("be-address-17", (7, (1, bytes(17)), ()), "home_address"),
    ("be-address-4", (7, (1, bytes(4)), ()), "home_address"),
    ("unknown-body-0", (8, (b"",), ()), "body"),
    ("unknown-body-3", (8, (bytes(3),), ()), "body"),
    ("unknown-body-too-long", (8, (bytes(2050),), ()), "header_len"),
    ("unknown-with-options", (8, (bytes(2),), ((0x20, b""),)), "options"),
    ("option-not-a-pair", (0, (), ((0x20, b"", 1),)), "options"),
    ("option-type-256", (0, (), ((256, b""),)), "option_type"),
    ("option-type-negative", (0, (), ((-1, b""),)), "option_type"),
    ("option-pad1", (0, (), ((0, b""),)), "option_type"),
    ("option-padn", (0, (), ((1, b"\x00\x00"),)), "option_type"),
    ("bra-too-big", (6, (0, 0, 1, 10), ((2, 0x10000),)), "binding_refresh_advice"),
    ("bra-negative", (6, (0, 0, 1, 10), ((2, -1),)), "binding_refresh_advice"),
    ("altcoa-15", (5, (1, 0, 1), ((3, bytes(15)),)), "alternate_care_of_address"),
    ("nonce-one-index", (5, (1, 0, 1), ((4, (1,)),)), "nonce_indices"),
    ("nonce-home-too-big", (5, (1, 0, 1), ((4, (0x10000, 1)),)), "home_nonce_index"),
    ("nonce-care-of-negative", (5, (1, 0, 1), ((4, (1, -1)),)), "care_of_nonce_index"),
    ("bad-11", (5, (1, 0, 1), ((5, bytes(11)),)), "binding_authorization_data"),
    ("unknown-option-256-bytes", (0, (), ((0x20, bytes(256)),)), "option_data"),
    ("bad-not-last", (5, (1, 0, 1), ((5, AUTH), (4, (1, 2)))), "option_order"),
    ("bad-then-bad", (5, (1, 0, 1), ((5, AUTH), (5, AUTH))), "option_order"),
    # RFC 4283 §3 Mobile Node Identifier: (subtype, identifier of 1 to 254 bytes)
    ("mnid-not-a-pair", (5, (1, 0, 1), ((8, (1,)),)), "mobile_node_identifier"),
    ("mnid-subtype-256", (5, (1, 0, 1), ((8, (256, NAI)),)), "mn_id_subtype"),
    ("mnid-subtype-negative", (5, (1, 0, 1), ((8, (-1, NAI)),)), "mn_id_subtype"),
    ("mnid-empty", (5, (1, 0, 1), ((8, (1, b"")),)), "identifier"),
    ("mnid-255-bytes", (5, (1, 0, 1), ((8, (1, bytes(255))),)), "identifier"),
    # RFC 4285 §5 Mobility Message Authentication: (subtype, SPI, 1 to 250 bytes)
    ("auth-not-a-triple", (5, (1, 0, 1), ((9, (1, 2)),)), "mobility_message_authentication"),
    ("auth-subtype-256", (5, (1, 0, 1), ((9, (256, 1, AUTH)),)), "auth_subtype"),
    ("auth-spi-33-bits", (5, (1, 0, 1), ((9, (1, 1 << 32, AUTH)),)), "mobility_spi"),
    ("auth-spi-negative", (5, (1, 0, 1), ((9, (1, -1, AUTH)),)), "mobility_spi"),
    ("auth-data-empty", (5, (1, 0, 1), ((9, (1, 1, b"")),)), "authentication_data"),
    ("auth-data-251-bytes", (5, (1, 0, 1), ((9, (1, 1, bytes(251))),)), "authentication_data"),
    # RFC 4285 §6 Mobility Message Replay Protection: a 64-bit timestamp
    ("mesgid-65-bits", (5, (1, 0, 1), ((10, 1 << 64),)), "timestamp"),
    ("mesgid-negative", (5, (1, 0, 1), ((10, -1),)), "timestamp"),
    # RFC 4285 §5: only another authentication option may follow one
    ("auth-then-mnid", (5, (1, 0, 1), ((9, (1, 1, AUTH)), (8, (1, NAI)))), "option_order"),
    ("auth-then-bad", (5, (1, 0, 1), ((9, (1, 1, AUTH)), (5, AUTH))), "option_order"),
    ("bad-then-auth", (5, (1, 0, 1), ((5, AUTH), (9, (1, 1, AUTH)))), "option_order"),
    ("33-options", (0, (), ((0x20, b""),) * 33), "options"),
    ("too-long", (0, (), ((0x20, bytes(255)),) * 8 + ((0x21, bytes(239)),)), "header_len"),
    ("too-long-by-padding", (0, (), ((0x20, bytes(255)),) * 7 + ((0x21, bytes(240)),)), "header_len"),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("raw, field", [pytest.param(r, f, id=i) for i, r, f in BUILD_VALUE_ERRORS])
def test_build_value_error(codec, raw, field):
    with pytest.raises(ValueError) as info:
        codec.build(*raw)
    assert type(info.value) is ValueError  # not a ParseError, which is a ValueError too
    assert str(info.value).startswith(field + ":"), str(info.value)


@pytest.mark.compiled("mh")
@pytest.mark.parametrize("raw, field", [pytest.param(r, f, id=i) for i, r, f in BUILD_VALUE_ERRORS])
def test_build_value_error_same_message(raw, field):
    compiled, twin = pair("mh")
    messages = []
    for codec in (compiled, twin):
        with pytest.raises(ValueError) as info:
            codec.build(*raw)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


BUILD_TYPE_ERRORS = [
    ("mh-type-str", ("5", (1, 0, 0), ())),
    ("mh-type-float", (5.0, (1, 0, 0), ())),
    ("fields-none", (5, None, ())),
    ("options-int", (5, (1, 0, 0), 5)),
    ("sequence-float", (5, (1.0, 0, 0), ())),
    ("status-str", (6, ("0", 0, 1, 0), ())),
    ("cookie-str", (1, ("abcdefgh",), ())),
    ("cookie-list", (1, ([0] * 8,), ())),
    ("address-str", (7, (1, "2001:db8::1"), ())),
    ("body-int", (8, (10,), ())),
    ("option-int", (0, (), (5,))),
    ("option-type-str", (0, (), (("a", b""),))),
    ("bra-bytes", (6, (0, 0, 1, 10), ((2, b"\x00\x01"),))),
    ("altcoa-none", (5, (1, 0, 1), ((3, None),))),
    ("nonce-int", (5, (1, 0, 1), ((4, 5),))),
    ("nonce-str-index", (5, (1, 0, 1), ((4, ("1", 2)),))),
    ("unknown-data-str", (0, (), ((0x20, "ab"),))),
    ("mnid-identifier-str", (5, (1, 0, 1), ((8, (1, "mn1@example.com")),))),
    ("mnid-int", (5, (1, 0, 1), ((8, 7),))),
    ("auth-spi-float", (5, (1, 0, 1), ((9, (1, 1.0, AUTH)),))),
    ("auth-data-list", (5, (1, 0, 1), ((9, (1, 1, [1, 2])),))),
    ("mesgid-bytes", (5, (1, 0, 1), ((10, bytes(8)),))),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("raw", [pytest.param(r, id=i) for i, r in BUILD_TYPE_ERRORS])
def test_build_type_error(codec, raw):
    with pytest.raises(TypeError):
        codec.build(*raw)


@pytest.mark.parametrize("codec", CODECS)
def test_build_accepts_bytes_likes_and_iterables(codec):
    raw = ALIGNMENT_VECTORS[5][2]
    expected = h(ALIGNMENT_VECTORS[5][1])
    mh_type, fields, options = raw
    loose_options = [[t, bytearray(v) if isinstance(v, bytes) else list(v)] for t, v in options]
    assert codec.build(mh_type, list(fields), iter(loose_options)) == expected
    assert codec.build(3, [0x1234, memoryview(COOKIE), bytearray(TOKEN)], []) == h(VECTORS[3][1])


@pytest.mark.parametrize("codec", CODECS)
def test_build_zeroes_checksum_and_reserved(codec):
    for _name, _hexstr, raw in ALL_VECTORS:
        data = codec.build(*raw)
        assert data[3] == 0 and data[4:6] == b"\x00\x00"


# --- properties --------------------------------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
b8 = st.binary(min_size=8, max_size=8)
b16 = st.binary(min_size=16, max_size=16)


UNKNOWN_OPTION_TYPES = st.integers(6, 0xFF).filter(lambda t: t not in (8, 9, 10))


def raw_options(max_other=30):
    other = st.one_of(
        st.tuples(st.just(2), u16),
        st.tuples(st.just(3), b16),
        st.tuples(st.just(4), st.tuples(u16, u16)),
        st.tuples(st.just(8), st.tuples(u8, st.binary(min_size=1, max_size=40))),
        st.tuples(st.just(10), st.integers(0, (1 << 64) - 1)),
        st.tuples(UNKNOWN_OPTION_TYPES, st.binary(max_size=40)),
    )
    spi = st.integers(0, (1 << 32) - 1)
    auth = st.tuples(st.just(9), st.tuples(u8, spi, st.binary(min_size=1, max_size=40)))
    # What may close the list: Binding Authorization Data alone (RFC 6275 §6.2.7), or one or two
    # Mobility Message Authentication options (RFC 4285 §5), or nothing.
    bad = st.tuples(st.just(5), st.binary(min_size=12, max_size=12))
    last = st.one_of(st.just([]), bad.map(lambda o: [o]), st.lists(auth, min_size=1, max_size=2))
    return st.tuples(st.lists(other, max_size=max_other), last).map(lambda parts: tuple(parts[0] + parts[1]))


def raw_forms():
    opts = raw_options()
    bu_flags = st.integers(0, 15).map(lambda f: f << 12)
    # an unknown type's body is 8n+2 bytes, so the whole header is a multiple of 8
    unknown_bodies = st.integers(0, 40).flatmap(lambda n: st.binary(min_size=8 * n + 2, max_size=8 * n + 2))
    return st.one_of(
        st.tuples(st.just(0), st.just(()), opts),
        st.tuples(st.sampled_from([1, 2]), st.tuples(b8), opts),
        st.tuples(st.sampled_from([3, 4]), st.tuples(u16, b8, b8), opts),
        st.tuples(st.just(5), st.tuples(u16, bu_flags, u16), opts),
        st.tuples(st.just(6), st.tuples(u8, st.sampled_from([0, 0x80]), u16, u16), opts),
        st.tuples(st.just(7), st.tuples(u8, b16), opts),
        st.tuples(st.integers(8, 0xFF).filter(lambda t: t != 12), st.tuples(unknown_bodies), st.just(())),
    )


def _aligned(data):
    """Every known option of a built message sits on its alignment (RFC 6275 §6.2), walking by hand."""
    rules = {2: (2, 0), 3: (8, 6), 4: (2, 0), 5: (8, 2), 9: (4, 1), 10: (8, 2)}
    body_min = {0: 2, 1: 10, 2: 10, 3: 18, 4: 18, 5: 6, 6: 6, 7: 18}[data[2]]
    off = 6 + body_min
    while off < len(data):
        if data[off] == 0:
            off += 1
            continue
        if data[off] in rules:
            mod, rem = rules[data[off]]
            assert off % mod == rem
        off += 2 + data[off + 1]
    return off == len(data)


@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_forms())
def test_roundtrip_raw(codec, raw):
    data = codec.build(*raw)
    assert len(data) % 8 == 0 and data[0] == 59 and (data[1] + 1) * 8 == len(data)
    assert codec.parse(data) == raw
    assert codec.build(*codec.parse(data)) == data
    if raw[0] <= 7:
        assert _aligned(data)


@pytest.mark.compiled("mh")
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_forms())
def test_same_bytes(raw):
    compiled, twin = pair("mh")
    assert compiled.build(*raw) == twin.build(*raw)


# --- differential fuzz -------------------------------------------------------------------------------

def outcome(codec, data):
    """The raw form or the error, for comparing the two implementations. Anything else propagates."""
    try:
        return ("ok", codec.parse(data))
    except ParseError as exc:
        return ("error", exc.reason, exc.field, exc.offset)


def check_same(data):
    compiled, twin = pair("mh")
    got = outcome(compiled, data)
    assert got == outcome(twin, data), data.hex()
    if got[0] == "error":
        assert 0 <= got[3] < max(len(data), 1)  # the error points inside the data
    return got


@pytest.mark.compiled("mh")
@settings(max_examples=1000)
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(data):
    check_same(data)


@pytest.mark.compiled("mh")
@settings(max_examples=1000)
@given(tail=st.binary(max_size=200), mh_type=u8, n_units=st.integers(0, 25))
def test_fuzz_random_body_valid_header(tail, mh_type, n_units):
    # Random bytes behind a common part that passes checks 1-3, so the option walk sees garbage.
    size = (n_units + 1) * 8
    data = bytes([59, n_units, mh_type, 0, 0, 0]) + (tail + bytes(size))[:size - 6]
    check_same(data)


MUTATIONS = ("flip", "byte", "truncate", "extend", "insert", "delete")


@pytest.mark.compiled("mh")
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(raw=raw_forms(), data=st.data())
def test_fuzz_mutated_valid_messages(raw, data):
    _compiled, twin = pair("mh")
    msg = bytearray(twin.build(*raw))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(MUTATIONS))
        pos = data.draw(st.integers(0, max(len(msg) - 1, 0)))
        if kind == "flip" and msg:
            msg[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "byte" and msg:
            msg[pos] = data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 0x0C, 0x10, 0xFF]) | u8)
        elif kind == "truncate":
            del msg[pos:]
        elif kind == "extend":
            msg += data.draw(st.binary(min_size=1, max_size=24))
        elif kind == "insert":
            msg[pos:pos] = data.draw(st.binary(min_size=1, max_size=3))
        elif kind == "delete" and msg:
            del msg[pos:pos + data.draw(st.integers(1, 3))]
    if data.draw(st.booleans()) and len(msg) >= 8:
        # Repair the common part so the mutation reaches the body and the option walk.
        del msg[len(msg) - len(msg) % 8:]
        msg[0] = 59
        msg[1] = len(msg) // 8 - 1
    check_same(bytes(msg))
    check_same(bytearray(msg))


@pytest.mark.compiled("mh")
@settings(max_examples=300)
@given(raw=raw_forms())
def test_fuzz_every_truncation(raw):
    _compiled, twin = pair("mh")
    msg = twin.build(*raw)
    for end in range(0, len(msg), 3):
        check_same(msg[:end])
        check_same(memoryview(msg)[:end])


# Option types and values, often the wrong shape for the type: the RFC 4283/4285 options (8, 9, 10) take a
# pair, a triple and a 64-bit int.
OPTION_TYPES_TO_FUZZ = st.one_of(st.integers(-1, 0x101), st.sampled_from([8, 9, 10]))
OPTION_VALUES_TO_FUZZ = st.one_of(
    st.integers(-1, 0x10001), st.binary(max_size=20),
    st.tuples(st.integers(-1, 0x10001), st.integers(-1, 0x10001)),
    st.tuples(st.integers(-1, 0x101), st.binary(max_size=256)),
    st.tuples(st.integers(-1, 0x101), st.integers(-1, (1 << 32) + 1), st.binary(max_size=252)),
    st.integers(-1, (1 << 64) + 1))


@pytest.mark.compiled("mh")
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.tuples(u8, st.one_of(st.tuples(), st.tuples(u16), st.tuples(b8), st.tuples(u16, u16, u16),
                                   st.tuples(u8, u8, u16, u16), st.tuples(u8, st.binary(max_size=20)),
                                   st.tuples(st.integers(-2, 0x10001), b8, st.binary(max_size=10))),
                     st.lists(st.tuples(OPTION_TYPES_TO_FUZZ, OPTION_VALUES_TO_FUZZ), max_size=4)))
def test_fuzz_build_same_result(raw):
    # Arbitrary (often invalid) raw forms: same bytes, or the same exception class and message.
    compiled, twin = pair("mh")
    results = []
    for codec in (compiled, twin):
        try:
            results.append(("ok", codec.build(*raw)))
        except (ValueError, TypeError) as exc:
            assert not isinstance(exc, ParseError)
            results.append((type(exc), str(exc) if type(exc) is ValueError else None))
    assert results[0] == results[1]
