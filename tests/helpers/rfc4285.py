"""RFC 4285 computed independently of mip6fast.wire.auth4285, from the RFC's text, with the standard
library only (hmac, hashlib): the tests of the roles check the authenticators and timestamps the home
agent and the mobile node put on the wire against these, and sign the BUs they send the home agent
with them.

- RFC 4285 §5.1: Authenticator = First(96, HMAC_SHA1(key, care-of address | home address | MH Data)),
  MH Data = the Mobility Header from its first byte through the Mobility SPI of the MN-HA option
  (mobility option 9, subtype 1: type, length, subtype, 4-byte SPI, then the authenticator), with the
  checksum field (bytes 4-5) zero.
- RFC 4285 §6, RFC 1305: the timestamp is seconds since 1900-01-01 in the high 32 bits and the fraction
  in the low 32; 1970-01-01 is 2,208,988,800 s after 1900-01-01.

The layout of a message to sign (where the option lands after the codec's padding) is taken from
``build_mh`` with a zero authenticator of the final length; only the HMAC is computed here."""
import hashlib
import hmac
from dataclasses import replace
from ipaddress import IPv6Address

from mip6fast.wire import MobilityMessageAuthentication, build_mh

NTP_1970 = 2_208_988_800
S = 1_000_000_000
AUTH_OPTION, REPLAY_OPTION, MN_ID_OPTION = 9, 10, 8


def ntp(ns_since_1970: int) -> int:
    """The NTP timestamp of a wall-clock time in ns since 1970 (fraction truncated)."""
    return (ns_since_1970 * (1 << 32)) // S + (NTP_1970 << 32)


def mh_of(raw: bytes) -> bytes:
    """The Mobility Header of an IPv6 packet: the extension headers walked by hand (RFC 8200 §4)."""
    nh, off = raw[6], 40
    while nh in (0, 43, 60):                 # Hop-by-Hop, Routing, Destination Options
        nh, off = raw[off], off + (raw[off + 1] + 1) * 8
    assert nh == 135, f"no Mobility Header (next header {nh})"
    return raw[off:off + (raw[off + 1] + 1) * 8]


def options(mh: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, type, data) of each mobility option of a BU or BA (options start at byte 12), padding
    left out (RFC 6275 §6.2: Pad1 is one zero byte, the others are type, length, data)."""
    out, off = [], 12
    while off < len(mh):
        if mh[off] == 0:
            off += 1
            continue
        t, n = mh[off], mh[off + 1]
        if t != 1:
            out.append((off, t, mh[off + 2:off + 2 + n]))
        off += 2 + n
    return out


def authenticator(key: bytes, care_of, home, mh: bytes) -> bytes:
    """RFC 4285 §5.1 over ``mh`` (its MN-HA option's authenticator bytes are not used)."""
    (off,) = [o for o, t, d in options(mh) if t == AUTH_OPTION and d[0] == 1]
    data = mh[:4] + b"\x00\x00" + mh[6:off + 7]
    mobility_data = IPv6Address(care_of).packed + IPv6Address(home).packed + data
    return hmac.new(key, mobility_data, hashlib.sha1).digest()[:12]


def auth_option(mh: bytes) -> tuple[int, bytes]:
    """(SPI, authenticator) of the MN-HA option, which must be the last option."""
    _off, t, data = options(mh)[-1]
    assert t == AUTH_OPTION and data[0] == 1 and len(data) == 17, "the MN-HA option is not last"
    return int.from_bytes(data[1:5], "big"), data[5:]


def verifies(key: bytes, care_of, home, mh: bytes, spi: int) -> bool:
    got_spi, got = auth_option(mh)
    return got_spi == spi and hmac.compare_digest(got, authenticator(key, care_of, home, mh))


def timestamp_of(mh: bytes) -> int | None:
    found = [d for _, t, d in options(mh) if t == REPLAY_OPTION]
    return int.from_bytes(found[0], "big") if found else None


def nai_of(mh: bytes) -> bytes | None:
    found = [d for _, t, d in options(mh) if t == MN_ID_OPTION]
    if not found:
        return None
    assert found[0][0] == 1, "MN-ID subtype is not NAI"
    return found[0][1:]


def sign(msg, key: bytes, spi: int, care_of, home):
    """``msg`` (a BU or BA object) with an MN-HA option appended, its authenticator computed here."""
    placeholder = replace(msg, options=msg.options + (MobilityMessageAuthentication(spi, bytes(12)),))
    value = authenticator(key, care_of, home, build_mh(placeholder))
    return replace(msg, options=msg.options + (MobilityMessageAuthentication(spi, value),))
