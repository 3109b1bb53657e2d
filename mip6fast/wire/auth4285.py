"""RFC 4285, the authentication protocol for Mobile IPv6 (the alternative to protecting Binding Updates and
Acknowledgements with IPsec): the MN-HA authenticator and the replay-protection timestamp check, as pure
functions. No clock is read and nothing is sent; the caller passes the key, the addresses and the time.

Theory of operation. The mobile node and its home agent share a key under a Mobility SPI. Each BU and BA
carries a Mobility Message Authentication option (``MobilityMessageAuthentication``, mobility option 9)
last (RFC 4285 §5), whose Authentication Data is (§5.1)

    Authenticator = First(96, HMAC_SHA1(MN-HA shared key, Mobility Data))
    Mobility Data = care-of address | home address | MH Data

where MH Data is the Mobility Header from its first byte up to and including the option's Mobility SPI
field, with the MH Checksum field set to zero. The addresses are the mobile node's care-of address and
home address, in that order, in both directions (the BU from the mobile node and the BA from the home
agent); RFC 4285 §5.1 names the home address here, not the home agent's address. MH Data is the header
as it goes on the wire: its Header Len already counts the authenticator and
any padding after it, so ``add_mn_ha_authentication`` first lays the whole message out with a placeholder
authenticator of the final size, then hashes that layout's bytes and fills the authenticator in (the MH
checksum is computed later, by the packet layer, over the finished bytes).

``verify_mn_ha`` checks a received header. It wants the Mobility Header as received (bytes): the
authenticator covers the exact bytes, padding included, and a message object re-encodes with this
package's canonical padding, which matches the sender's only when the sender pads the same way. It also
accepts a message object, re-encoding it, for peers that do (this package among them).

Replay protection (§6): the Mobility Message Replay Protection option (``MobilityMessageReplayProtection``,
mobility option 10) carries a 64-bit NTP-format timestamp (RFC 1305: seconds since 1900-01-01 in the high
32 bits, the fraction in the low 32). The receiver accepts it when it lies within a window ("close enough",
7 seconds by default, SHOULD be more than 3) of its own time, ``check_timestamp``; on failure the home
agent rejects the BU (status 144, MIPV6-ID-MISMATCH, the "message ID" being the timestamp) and puts its
own time in the BA's replay protection option, so the mobile node can resynchronise. The comparison is
modulo 2**64, so it is unaffected by the NTP era rollover of 2036.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from enum import Enum
from fractions import Fraction
from ipaddress import IPv6Address
from numbers import Real
from typing import Union

from ._fields import any_bytes, ipv6, uint
from .mobility import (
    OPTIONS_START,
    BindingAcknowledgement,
    BindingUpdate,
    MobilityAuthenticationSubtype,
    MobilityMessageAuthentication,
    authenticated_mh,
    build_mh,
)

__all__ = [
    "DEFAULT_REPLAY_WINDOW",
    "MN_HA_AUTHENTICATOR_LEN",
    "NTP_UNIX_EPOCH_OFFSET",
    "AuthVerdict",
    "ReplayCheck",
    "add_mn_ha_authentication",
    "check_timestamp",
    "mn_ha_authenticator",
    "mobility_data",
    "ntp_to_unix",
    "unix_to_ntp",
    "verify_mn_ha",
]

MN_HA_AUTHENTICATOR_LEN = 12  # First(96, ...) (RFC 4285 §5.1)
DEFAULT_REPLAY_WINDOW = 7  # seconds: the "close enough" default of RFC 4285 §6 (SHOULD be > 3)
NTP_UNIX_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix)

_AUTH = MobilityMessageAuthentication.OPTION_TYPE
_MN_HA = MobilityAuthenticationSubtype.MN_HA
_MN_AAA = MobilityAuthenticationSubtype.MN_AAA
# An option's bytes up to and including its Mobility SPI: type, length, subtype, SPI (RFC 4285 §5).
_THROUGH_SPI = 7
_NTP_UNITS = 1 << 32  # NTP-format units per second
_MOD64 = 1 << 64

Address = Union[IPv6Address, str, bytes]


def mobility_data(care_of_address: Address, home_address: Address, mh_data) -> bytes:
    """Mobility Data = care-of address | home address | MH Data (RFC 4285 §5.1). ``mh_data`` must already
    end after the Mobility SPI and have a zero checksum; see ``verify_mn_ha`` for cutting it from a
    received header."""
    return (ipv6(care_of_address, "care_of_address").packed + ipv6(home_address, "home_address").packed
            + any_bytes(mh_data, "mh_data"))


def mn_ha_authenticator(key, care_of_address: Address, home_address: Address, mh_data) -> bytes:
    """First(96, HMAC_SHA1(key, Mobility Data)) (RFC 4285 §5.1): the 12-byte MN-HA authenticator."""
    key = any_bytes(key, "key")
    data = mobility_data(care_of_address, home_address, mh_data)
    return hmac.new(key, data, hashlib.sha1).digest()[:MN_HA_AUTHENTICATOR_LEN]


def _auth_options(data: bytes) -> list[tuple[int, int]]:
    """(offset, subtype) of every Mobility Message Authentication option of a BU or BA that the codec
    has already parsed (so every length byte is known to be inside the data)."""
    found = []
    off = OPTIONS_START[data[2]]
    while off < len(data):
        if data[off] == 0:  # Pad1 (RFC 6275 §6.2.2)
            off += 1
            continue
        if data[off] == _AUTH:
            found.append((off, data[off + 2]))
        off += 2 + data[off + 1]
    return found


def _mh_data(data: bytes, offset: int) -> bytes:
    """MH Data for the option at ``offset``: the header up to and including its SPI, checksum zeroed."""
    return data[:4] + b"\x00\x00" + data[6:offset + _THROUGH_SPI]


Message = Union[BindingUpdate, BindingAcknowledgement]


def add_mn_ha_authentication(msg: Message, key, spi: int, care_of_address: Address,
                             home_address: Address,
                             mn_aaa: MobilityMessageAuthentication | None = None) -> Message:
    """``msg`` (a BindingUpdate or BindingAcknowledgement) with an MN-HA Mobility Message Authentication
    option appended as its last option, its authenticator computed over the message as it will be on
    the wire (RFC 4285 §5, §5.1). ``care_of_address`` and ``home_address`` are the mobile node's, for a
    BA as for a BU.

    ``mn_aaa``: an MN-AAA option (subtype 2, RFC 4285 §5.2) to follow the MN-HA one. It must already
    have its final size, because the MN-HA authenticator covers Header Len, which counts it; its own
    authenticator (computed over the message up to its SPI, so after this one) is the caller's.

    Raises ValueError when the message already has an authentication option (RFC 4285 §5: they come
    last, MN-HA first) or cannot be built."""
    if not isinstance(msg, (BindingUpdate, BindingAcknowledgement)):
        raise TypeError(f"msg: RFC 4285 authenticates Binding Updates and Acknowledgements, "
                        f"not {type(msg).__name__}")
    if any(isinstance(opt, MobilityMessageAuthentication) for opt in msg.options):
        raise ValueError("msg: already carries a Mobility Message Authentication option")
    tail: tuple[MobilityMessageAuthentication, ...] = ()
    if mn_aaa is not None:
        if not isinstance(mn_aaa, MobilityMessageAuthentication) or mn_aaa.subtype != _MN_AAA:
            raise ValueError("mn_aaa: expected a MobilityMessageAuthentication option of subtype 2 (MN-AAA)")
        tail = (mn_aaa,)
    key = any_bytes(key, "key")
    placeholder = MobilityMessageAuthentication(spi, bytes(MN_HA_AUTHENTICATOR_LEN), _MN_HA)
    data = build_mh(replace(msg, options=msg.options + (placeholder,) + tail))
    offset = _auth_options(data)[0][0]
    authenticator = mn_ha_authenticator(key, care_of_address, home_address, _mh_data(data, offset))
    return replace(msg, options=msg.options + (replace(placeholder, authenticator=authenticator),) + tail)


class AuthVerdict(Enum):
    """What ``verify_mn_ha`` found. Only ``OK`` authenticates the message. What a home agent does with a
    BU that fails (a BA with status 146, MIPV6-AUTH-FAIL, or a silent discard) is the role's decision."""
    OK = "the MN-HA authenticator is correct"
    MISSING = "no MN-HA Mobility Message Authentication option"
    DUPLICATE = "more than one MN-HA Mobility Message Authentication option"
    MISPLACED = "the authentication options are not MN-HA last, or MN-HA then MN-AAA last"
    WRONG_SPI = "the Mobility SPI is not the one expected"
    WRONG_LENGTH = "the authentication data is not 96 bits"
    MISMATCH = "the authenticator does not match"

    @property
    def ok(self) -> bool:
        return self is AuthVerdict.OK


def verify_mn_ha(mh, key, care_of_address: Address, home_address: Address,
                 spi: int | None = None) -> AuthVerdict:
    """Check the MN-HA authenticator of a received BU or BA (RFC 4285 §5.1).

    ``mh`` is the Mobility Header as received (bytes-like; its checksum may be anything, it is zeroed for
    the computation), or a BindingUpdate/BindingAcknowledgement object, which is re-encoded (see the
    module notes on padding). ``spi``, when given, is the Mobility SPI the option must carry. Raises
    ``ParseError`` when the bytes are not a well-formed Mobility Header, and ValueError when they are not
    a BU or BA."""
    data = authenticated_mh(mh, "RFC 4285 authenticates")
    key = any_bytes(key, "key")
    if spi is not None:
        uint(spi, 32, "spi")
    # The codec already refuses anything but authentication options after one, so these are the last
    # options of the message, in order. RFC 4285 §5: one per subtype, the MN-HA one last or followed only
    # by an MN-AAA one.
    options = _auth_options(data)
    subtypes = [subtype for _off, subtype in options]
    if _MN_HA not in subtypes:
        return AuthVerdict.MISSING
    if subtypes.count(_MN_HA) > 1:
        return AuthVerdict.DUPLICATE
    if subtypes not in ([_MN_HA], [_MN_HA, _MN_AAA]):
        return AuthVerdict.MISPLACED
    offset = options[0][0]
    if spi is not None and int.from_bytes(data[offset + 3:offset + 7], "big") != spi:
        return AuthVerdict.WRONG_SPI
    if data[offset + 1] != 5 + MN_HA_AUTHENTICATOR_LEN:
        return AuthVerdict.WRONG_LENGTH
    expected = mn_ha_authenticator(key, care_of_address, home_address, _mh_data(data, offset))
    got = data[offset + _THROUGH_SPI:offset + _THROUGH_SPI + MN_HA_AUTHENTICATOR_LEN]
    return AuthVerdict.OK if hmac.compare_digest(expected, got) else AuthVerdict.MISMATCH


# --- replay protection (RFC 4285 §6) -----------------------------------------------------------------

def unix_to_ntp(seconds: float | Fraction) -> int:
    """Seconds since 1970-01-01 UTC (int, float or Fraction; any precision) -> the 64-bit NTP-format
    timestamp of the Mobility Message Replay Protection option (RFC 4285 §6, RFC 1305), truncated to
    2**-32 s and taken modulo 2**64 (NTP eras). RFC 4285 §6 asks that fraction bits the time source does
    not provide be random; that is the caller's business (this function adds no randomness)."""
    if isinstance(seconds, bool) or not isinstance(seconds, Real):
        raise TypeError(f"seconds: expected a number, got {type(seconds).__name__}")
    try:
        exact = Fraction(seconds)  # a float converts exactly
    except (ValueError, OverflowError):
        raise ValueError(f"seconds: {seconds} is not a finite number") from None
    return int((exact + NTP_UNIX_EPOCH_OFFSET) * _NTP_UNITS) % _MOD64


def ntp_to_unix(timestamp: int) -> float:
    """A 64-bit NTP-format timestamp (era 0: 1900-2036) -> seconds since 1970-01-01 UTC."""
    timestamp = uint(timestamp, 64, "timestamp")
    return timestamp / _NTP_UNITS - NTP_UNIX_EPOCH_OFFSET


class ReplayCheck(Enum):
    """The verdict of ``check_timestamp``. A home agent accepts only ``OK``; otherwise it answers status
    144 (MIPV6-ID-MISMATCH) with its own time in the replay protection option (RFC 4285 §6)."""
    OK = "within the window"
    TOO_OLD = "older than the window allows"
    TOO_NEW = "newer than the window allows"

    @property
    def ok(self) -> bool:
        return self is ReplayCheck.OK


def check_timestamp(timestamp: int, now: int,
                    window: float | Fraction = DEFAULT_REPLAY_WINDOW) -> ReplayCheck:
    """Is the NTP-format ``timestamp`` of a received message within ``window`` seconds of ``now`` (the
    receiver's own time, NTP format too, e.g. ``unix_to_ntp(clock())``)? RFC 4285 §6. The difference is
    taken modulo 2**64, so timestamps on either side of an NTP era boundary compare correctly; a
    difference of exactly ``window`` is still accepted."""
    timestamp = uint(timestamp, 64, "timestamp")
    now = uint(now, 64, "now")
    if isinstance(window, bool) or not isinstance(window, Real):
        raise TypeError(f"window: expected seconds as a number, got {type(window).__name__}")
    if not window >= 0 or window == float("inf"):  # also refuses nan
        raise ValueError(f"window: {window} is not a duration (finite seconds >= 0)")
    limit = Fraction(window) * _NTP_UNITS
    diff = (timestamp - now + (_MOD64 >> 1)) % _MOD64 - (_MOD64 >> 1)  # signed, in (-2**63, 2**63]
    if diff > limit:
        return ReplayCheck.TOO_NEW
    if diff < -limit:
        return ReplayCheck.TOO_OLD
    return ReplayCheck.OK
