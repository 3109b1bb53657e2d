"""Mobility Header messages and options (RFC 6275 §6.1-6.2; the Home Agent Switch message of RFC 5142; the
options of RFC 4283 and RFC 4285) as frozen, comparable objects.

The codec (``CODEC``: the compiled ``mip6fast._mh`` or its twin) turns bytes into a "raw form" of plain
ints and bytes (docs/CODEC.md, "mh"); ``decode`` and ``encode`` convert between that and the classes
here. Objects normalise what they are given: addresses become ``IPv6Address``, lifetimes and the Binding
Refresh Advice interval are in seconds rounded to what the 4-second wire unit carries
(``_fields.lifetime_seconds``), flags become ``bool`` and options a tuple, so that
``parse_mh(build_mh(m)) == m`` for every message ``m`` that can be built.

Statuses stay plain ints (a status this module has no name for must survive a round trip); compare them
with ``BindingAckStatus`` / ``BindingErrorStatus``, which are ``IntEnum``.

What the objects do not check is the layout of the whole message: at most 32 options, Binding
Authorization Data last (RFC 6275 §6.2.7), nothing but another Mobility Message Authentication option
after one (RFC 4285 §5), 2048 bytes in all. ``build_mh`` raises ``ValueError`` for those. Computing and
checking RFC 4285 authenticators and timestamps is ``mip6fast.wire.auth4285``.
"""
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv6Address
from typing import ClassVar, Optional
from collections.abc import Iterable

from .. import _impl
from ._fields import any_bytes, fixed_bytes, ipv6, lifetime_seconds, seconds_to_units, uint

CODEC = _impl.load("mh")

__all__ = [
    "CODEC", "BindingAckStatus", "BindingErrorStatus",
    "MobilityOption", "BindingRefreshAdvice", "AlternateCareOfAddress", "NonceIndices",
    "BindingAuthorizationData", "MobileNodeIdentifier", "MobileNodeIdentifierSubtype",
    "MobilityMessageAuthentication", "MobilityAuthenticationSubtype", "MobilityMessageReplayProtection",
    "UnknownMobilityOption",
    "MobilityMessage", "BindingRefreshRequest", "HomeTestInit", "CareOfTestInit", "HomeTest", "CareOfTest",
    "BindingUpdate", "BindingAcknowledgement", "BindingError", "HomeAgentSwitch", "UnknownMobilityMessage",
    "decode", "encode", "parse_mh", "build_mh", "authenticated_mh", "OPTIONS_START",
]


class BindingAckStatus(IntEnum):
    """Binding Acknowledgement status (RFC 6275 §6.1.8): below 128 the binding was accepted."""
    ACCEPTED = 0
    ACCEPTED_PREFIX_DISCOVERY_NECESSARY = 1
    REASON_UNSPECIFIED = 128
    ADMINISTRATIVELY_PROHIBITED = 129
    INSUFFICIENT_RESOURCES = 130
    HOME_REGISTRATION_NOT_SUPPORTED = 131
    NOT_HOME_SUBNET = 132
    NOT_HOME_AGENT_FOR_THIS_MOBILE_NODE = 133
    DUPLICATE_ADDRESS_DETECTION_FAILED = 134
    SEQUENCE_NUMBER_OUT_OF_WINDOW = 135
    EXPIRED_HOME_NONCE_INDEX = 136
    EXPIRED_CARE_OF_NONCE_INDEX = 137
    EXPIRED_NONCES = 138
    REGISTRATION_TYPE_CHANGE_DISALLOWED = 139
    # IANA Binding Acknowledgement status registry, [RFC4285]: the authentication protocol's rejections
    # (RFC 4283 registers none).
    MIPV6_ID_MISMATCH = 144  # the replay protection timestamp (the message ID) failed the check, §6
    MIPV6_MESG_ID_REQD = 145  # a Mobility Message Replay Protection option is required, §6
    MIPV6_AUTH_FAIL = 146  # the Mobility Message Authentication option did not verify, §5
    INVALID_CARE_OF_ADDRESS = 174


class MobileNodeIdentifierSubtype(IntEnum):
    """Subtype of the Mobile Node Identifier option (RFC 4283 §3.1)."""
    NAI = 1  # a Network Access Identifier (RFC 4282)


class MobilityAuthenticationSubtype(IntEnum):
    """Subtype of the Mobility Message Authentication option (RFC 4285 §5)."""
    MN_HA = 1  # shared key between mobile node and home agent (§5.1)
    MN_AAA = 2  # shared key between mobile node and its home AAA server; BU only (§5.2)


class BindingErrorStatus(IntEnum):
    """Binding Error status (RFC 6275 §6.1.9)."""
    UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION = 1
    UNRECOGNIZED_MH_TYPE = 2


def _set(obj, name, value):
    object.__setattr__(obj, name, value)  # frozen dataclass: normalise in __post_init__


# --- options (RFC 6275 §6.2) -------------------------------------------------------------------------

@dataclass(frozen=True)
class MobilityOption:
    """Base of the mobility options. Pad1 and PadN are not objects: the codec pads by itself."""
    OPTION_TYPE: ClassVar[Optional[int]] = None


@dataclass(frozen=True)
class BindingRefreshAdvice(MobilityOption):
    """Suggested refresh interval in seconds (RFC 6275 §6.2.4; 4-second units on the wire). BA only."""
    OPTION_TYPE: ClassVar[Optional[int]] = 2
    interval: int

    def __post_init__(self):
        _set(self, "interval", lifetime_seconds(self.interval, "interval"))


@dataclass(frozen=True)
class AlternateCareOfAddress(MobilityOption):
    """Care-of address that replaces the packet's source (RFC 6275 §6.2.5). BU only."""
    OPTION_TYPE: ClassVar[Optional[int]] = 3
    address: IPv6Address

    def __post_init__(self):
        _set(self, "address", ipv6(self.address, "address"))


@dataclass(frozen=True)
class NonceIndices(MobilityOption):
    """Nonce indices of the return routability exchange (RFC 6275 §6.2.6)."""
    OPTION_TYPE: ClassVar[Optional[int]] = 4
    home_nonce_index: int
    care_of_nonce_index: int

    def __post_init__(self):
        _set(self, "home_nonce_index", uint(self.home_nonce_index, 16, "home_nonce_index"))
        _set(self, "care_of_nonce_index", uint(self.care_of_nonce_index, 16, "care_of_nonce_index"))


@dataclass(frozen=True)
class BindingAuthorizationData(MobilityOption):
    """96-bit authenticator (RFC 6275 §6.2.7); must be the last option of its message."""
    OPTION_TYPE: ClassVar[Optional[int]] = 5
    authenticator: bytes

    def __post_init__(self):
        _set(self, "authenticator", fixed_bytes(self.authenticator, 12, "authenticator"))


@dataclass(frozen=True)
class MobileNodeIdentifier(MobilityOption):
    """An identity for the mobile node other than its home address (RFC 4283 §3): for subtype 1
    (``MobileNodeIdentifierSubtype.NAI``, the default) a Network Access Identifier (RFC 4282) such as
    ``b"mn1@example.com"``. ``identifier`` is 1 to 254 bytes (a ``str`` is encoded as UTF-8, RFC 4282 §2.4);
    ``subtype`` stays a plain int. No alignment requirement."""
    OPTION_TYPE: ClassVar[Optional[int]] = 8
    identifier: bytes
    subtype: int = MobileNodeIdentifierSubtype.NAI

    def __post_init__(self):
        identifier = self.identifier
        if isinstance(identifier, str):
            identifier = identifier.encode("utf-8")
        identifier = any_bytes(identifier, "identifier")
        if not 1 <= len(identifier) <= 254:
            raise ValueError(f"identifier: 1 to 254 bytes, got {len(identifier)}")
        _set(self, "identifier", identifier)
        _set(self, "subtype", int(uint(self.subtype, 8, "subtype")))


@dataclass(frozen=True)
class MobilityMessageAuthentication(MobilityOption):
    """RFC 4285 §5: ``spi`` (the 32-bit Mobility SPI naming the security association) and
    ``authenticator`` (the Authentication Data: 12 bytes for MN-HA, §5.1). ``subtype`` is 1 (MN-HA, the
    default) or 2 (MN-AAA), a plain int. Last in its message (an MN-AAA one may follow an MN-HA one);
    alignment 4n+1. ``mip6fast.wire.auth4285`` computes and checks the authenticator."""
    OPTION_TYPE: ClassVar[Optional[int]] = 9
    spi: int
    authenticator: bytes
    subtype: int = MobilityAuthenticationSubtype.MN_HA

    def __post_init__(self):
        _set(self, "spi", uint(self.spi, 32, "spi"))
        authenticator = any_bytes(self.authenticator, "authenticator")
        if not 1 <= len(authenticator) <= 250:
            raise ValueError(f"authenticator: 1 to 250 bytes, got {len(authenticator)}")
        _set(self, "authenticator", authenticator)
        _set(self, "subtype", int(uint(self.subtype, 8, "subtype")))


@dataclass(frozen=True)
class MobilityMessageReplayProtection(MobilityOption):
    """RFC 4285 §6: ``timestamp`` is the 64-bit NTP-format timestamp (seconds since 1900 in the high 32
    bits, fraction in the low 32) as an int; ``auth4285.unix_to_ntp`` converts. Alignment 8n+2."""
    OPTION_TYPE: ClassVar[Optional[int]] = 10
    timestamp: int

    def __post_init__(self):
        _set(self, "timestamp", uint(self.timestamp, 64, "timestamp"))


@dataclass(frozen=True)
class UnknownMobilityOption(MobilityOption):
    """An option type this module does not know; skipped by receivers (RFC 6275 §6.2.1), kept here."""
    option_type: int
    data: bytes

    def __post_init__(self):
        option_type = uint(self.option_type, 8, "option_type")
        if option_type in _OPTIONS or option_type in (0, 1):
            raise ValueError(f"option_type: {option_type} is Pad1, PadN or a known option with its own class")
        data = any_bytes(self.data, "data")
        if len(data) > 255:
            raise ValueError(f"data: an option carries at most 255 bytes, got {len(data)}")
        _set(self, "option_type", option_type)
        _set(self, "data", data)


_OPTIONS: dict[int, type[MobilityOption]] = {
    2: BindingRefreshAdvice, 3: AlternateCareOfAddress, 4: NonceIndices, 5: BindingAuthorizationData,
    8: MobileNodeIdentifier, 9: MobilityMessageAuthentication, 10: MobilityMessageReplayProtection,
}


def _options(value: Iterable) -> tuple[MobilityOption, ...]:
    options = tuple(value)
    for opt in options:
        if not isinstance(opt, MobilityOption):
            raise TypeError(f"options: expected MobilityOption objects, got {type(opt).__name__}")
    return options


def _decode_option(opt_type: int, value) -> MobilityOption:
    if opt_type == 2:
        return BindingRefreshAdvice(value * 4)
    if opt_type == 3:
        return AlternateCareOfAddress(value)
    if opt_type == 4:
        return NonceIndices(value[0], value[1])
    if opt_type == 5:
        return BindingAuthorizationData(value)
    if opt_type == 8:
        return MobileNodeIdentifier(value[1], value[0])
    if opt_type == 9:
        return MobilityMessageAuthentication(value[1], value[2], value[0])
    if opt_type == 10:
        return MobilityMessageReplayProtection(value)
    return UnknownMobilityOption(opt_type, value)


def _encode_option(opt: MobilityOption):
    if isinstance(opt, BindingRefreshAdvice):
        return (2, seconds_to_units(opt.interval))
    if isinstance(opt, AlternateCareOfAddress):
        return (3, opt.address.packed)
    if isinstance(opt, NonceIndices):
        return (4, (opt.home_nonce_index, opt.care_of_nonce_index))
    if isinstance(opt, BindingAuthorizationData):
        return (5, opt.authenticator)
    if isinstance(opt, MobileNodeIdentifier):
        return (8, (opt.subtype, opt.identifier))
    if isinstance(opt, MobilityMessageAuthentication):
        return (9, (opt.subtype, opt.spi, opt.authenticator))
    if isinstance(opt, MobilityMessageReplayProtection):
        return (10, opt.timestamp)
    if isinstance(opt, UnknownMobilityOption):
        return (opt.option_type, opt.data)
    raise TypeError(f"not a mobility option: {type(opt).__name__}")


# --- messages (RFC 6275 §6.1) ------------------------------------------------------------------------

@dataclass(frozen=True)
class MobilityMessage:
    """Base of the Mobility Header messages; ``MH_TYPE`` is the MH Type field."""
    MH_TYPE: ClassVar[Optional[int]] = None


@dataclass(frozen=True)
class BindingRefreshRequest(MobilityMessage):
    """RFC 6275 §6.1.2: a correspondent or home agent asks the mobile node to refresh its binding."""
    MH_TYPE: ClassVar[int] = 0
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class HomeTestInit(MobilityMessage):
    """RFC 6275 §6.1.3: starts the home address test of return routability."""
    MH_TYPE: ClassVar[int] = 1
    cookie: bytes
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "cookie", fixed_bytes(self.cookie, 8, "cookie"))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class CareOfTestInit(MobilityMessage):
    """RFC 6275 §6.1.4: starts the care-of address test of return routability."""
    MH_TYPE: ClassVar[int] = 2
    cookie: bytes
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "cookie", fixed_bytes(self.cookie, 8, "cookie"))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class HomeTest(MobilityMessage):
    """RFC 6275 §6.1.5: the correspondent's answer to a Home Test Init."""
    MH_TYPE: ClassVar[int] = 3
    nonce_index: int
    cookie: bytes
    keygen_token: bytes
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "nonce_index", uint(self.nonce_index, 16, "nonce_index"))
        _set(self, "cookie", fixed_bytes(self.cookie, 8, "cookie"))
        _set(self, "keygen_token", fixed_bytes(self.keygen_token, 8, "keygen_token"))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class CareOfTest(MobilityMessage):
    """RFC 6275 §6.1.6: the correspondent's answer to a Care-of Test Init."""
    MH_TYPE: ClassVar[int] = 4
    nonce_index: int
    cookie: bytes
    keygen_token: bytes
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "nonce_index", uint(self.nonce_index, 16, "nonce_index"))
        _set(self, "cookie", fixed_bytes(self.cookie, 8, "cookie"))
        _set(self, "keygen_token", fixed_bytes(self.keygen_token, 8, "keygen_token"))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class BindingUpdate(MobilityMessage):
    """RFC 6275 §6.1.7. ``lifetime`` in seconds (0 = de-registration); flags A, H, L, K as booleans."""
    MH_TYPE: ClassVar[int] = 5
    sequence: int
    lifetime: int
    ack: bool = False
    home: bool = False
    link_local: bool = False
    key_management: bool = False
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "sequence", uint(self.sequence, 16, "sequence"))
        _set(self, "lifetime", lifetime_seconds(self.lifetime, "lifetime"))
        for name in ("ack", "home", "link_local", "key_management"):
            _set(self, name, bool(getattr(self, name)))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class BindingAcknowledgement(MobilityMessage):
    """RFC 6275 §6.1.8. ``status`` a plain int (see ``BindingAckStatus``); ``lifetime`` in seconds."""
    MH_TYPE: ClassVar[int] = 6
    status: int
    sequence: int
    lifetime: int
    key_management: bool = False
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "status", int(uint(self.status, 8, "status")))
        _set(self, "sequence", uint(self.sequence, 16, "sequence"))
        _set(self, "lifetime", lifetime_seconds(self.lifetime, "lifetime"))
        _set(self, "key_management", bool(self.key_management))
        _set(self, "options", _options(self.options))

    @property
    def accepted(self) -> bool:
        """Status values below 128 mean the binding was accepted (RFC 6275 §6.1.8)."""
        return self.status < 128


@dataclass(frozen=True)
class BindingError(MobilityMessage):
    """RFC 6275 §6.1.9. ``status`` a plain int (see ``BindingErrorStatus``)."""
    MH_TYPE: ClassVar[int] = 7
    status: int
    home_address: IPv6Address = IPv6Address("::")
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        _set(self, "status", int(uint(self.status, 8, "status")))
        _set(self, "home_address", ipv6(self.home_address, "home_address"))
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class HomeAgentSwitch(MobilityMessage):
    """RFC 5142 §5.2 (MH type 12): a home agent tells a mobile node to register with another home agent.
    ``home_agent_addresses``: the home agents to use, in order of preference (at most 127 fit in a
    message); none: the mobile node finds one by DHAAD (RFC 5142 §5.2)."""
    MH_TYPE: ClassVar[int] = 12
    home_agent_addresses: tuple[IPv6Address, ...] = ()
    options: tuple[MobilityOption, ...] = ()

    def __post_init__(self):
        listed = self.home_agent_addresses
        if isinstance(listed, (str, bytes, bytearray, IPv6Address)):
            raise TypeError("home_agent_addresses: expected a sequence of addresses")
        addresses = tuple(ipv6(a, "home_agent_address") for a in listed)
        if len(addresses) > 127:
            raise ValueError(f"home_agent_addresses: at most 127 fit in a message, got {len(addresses)}")
        _set(self, "home_agent_addresses", addresses)
        _set(self, "options", _options(self.options))


@dataclass(frozen=True)
class UnknownMobilityMessage(MobilityMessage):
    """An MH type this module does not know (answered with Binding Error status 2, RFC 6275 §9.2).

    ``body`` is every byte after the 6-byte common part; it cannot be padded, so it is 8n+2 bytes long.
    """
    mh_type: int
    body: bytes

    def __post_init__(self):
        mh_type = uint(self.mh_type, 8, "mh_type")
        if mh_type in _MESSAGES:
            raise ValueError(f"mh_type: {mh_type} is a known MH type ({_MESSAGES[mh_type].__name__})")
        body = any_bytes(self.body, "body")
        if len(body) % 8 != 2 or len(body) > 2042:
            raise ValueError(f"body: must be 8n+2 bytes long and at most 2042, got {len(body)}")
        _set(self, "mh_type", mh_type)
        _set(self, "body", body)


_MESSAGES: dict[int, type[MobilityMessage]] = {
    0: BindingRefreshRequest, 1: HomeTestInit, 2: CareOfTestInit, 3: HomeTest, 4: CareOfTest,
    5: BindingUpdate, 6: BindingAcknowledgement, 7: BindingError, 12: HomeAgentSwitch,
}


# --- raw form <-> objects ----------------------------------------------------------------------------

def decode(raw) -> MobilityMessage:
    """A raw form ``(mh_type, fields, options)`` (docs/CODEC.md) -> a MobilityMessage."""
    mh_type, fields, raw_options = raw
    if mh_type not in _MESSAGES:
        return UnknownMobilityMessage(mh_type, fields[0])
    options = tuple(_decode_option(t, v) for t, v in raw_options)
    if mh_type == 0:
        return BindingRefreshRequest(options)
    if mh_type == 1:
        return HomeTestInit(fields[0], options)
    if mh_type == 2:
        return CareOfTestInit(fields[0], options)
    if mh_type == 3:
        return HomeTest(fields[0], fields[1], fields[2], options)
    if mh_type == 4:
        return CareOfTest(fields[0], fields[1], fields[2], options)
    if mh_type == 5:
        sequence, flags, units = fields
        return BindingUpdate(sequence, units * 4, ack=bool(flags & 0x8000), home=bool(flags & 0x4000),
                             link_local=bool(flags & 0x2000), key_management=bool(flags & 0x1000),
                             options=options)
    if mh_type == 6:
        status, flags, sequence, units = fields
        return BindingAcknowledgement(status, sequence, units * 4, key_management=bool(flags & 0x80),
                                      options=options)
    if mh_type == 12:
        return HomeAgentSwitch(fields[0], options)
    status, home_address = fields
    return BindingError(status, home_address, options)


def encode(msg: MobilityMessage):
    """A MobilityMessage -> its raw form ``(mh_type, fields, options)``."""
    if isinstance(msg, UnknownMobilityMessage):
        return (msg.mh_type, (msg.body,), ())
    if not isinstance(msg, tuple(_MESSAGES.values())):
        raise TypeError(f"not a mobility message: {type(msg).__name__}")
    options = tuple(_encode_option(opt) for opt in msg.options)  # type: ignore[attr-defined]
    if isinstance(msg, BindingRefreshRequest):
        fields: tuple = ()
    elif isinstance(msg, (HomeTestInit, CareOfTestInit)):
        fields = (msg.cookie,)
    elif isinstance(msg, (HomeTest, CareOfTest)):
        fields = (msg.nonce_index, msg.cookie, msg.keygen_token)
    elif isinstance(msg, BindingUpdate):
        flags = ((0x8000 if msg.ack else 0) | (0x4000 if msg.home else 0)
                 | (0x2000 if msg.link_local else 0) | (0x1000 if msg.key_management else 0))
        fields = (msg.sequence, flags, seconds_to_units(msg.lifetime))
    elif isinstance(msg, BindingAcknowledgement):
        fields = (msg.status, 0x80 if msg.key_management else 0, msg.sequence, seconds_to_units(msg.lifetime))
    elif isinstance(msg, HomeAgentSwitch):
        fields = (tuple(a.packed for a in msg.home_agent_addresses),)
    else:
        assert isinstance(msg, BindingError)
        fields = (msg.status, msg.home_address.packed)
    return (msg.MH_TYPE, fields, options)


def parse_mh(data) -> MobilityMessage:
    """One whole Mobility Header (bytes-like) -> a MobilityMessage; ``ParseError`` if malformed."""
    return decode(CODEC.parse(data))


def build_mh(msg: MobilityMessage) -> bytes:
    """A MobilityMessage -> its Mobility Header bytes, checksum zero (the packet layer fills it)."""
    return CODEC.build(*encode(msg))


# Where a BU's or BA's options start: the 6-byte common part and the 6-byte fixed body (RFC 6275
# §6.1.7, §6.1.8), the two messages an authenticator (RFC 6275 §6.2.7, RFC 4285 §5.1) covers.
OPTIONS_START = {BindingUpdate.MH_TYPE: 12, BindingAcknowledgement.MH_TYPE: 12}


def authenticated_mh(mh, what: str) -> bytes:
    """The Mobility Header bytes an authenticator is checked over: a BindingUpdate or
    BindingAcknowledgement object re-encoded, or bytes as received, refused unless well formed
    (ParseError: the option walks after this trust every length byte) and a BU or BA (ValueError,
    saying ``what`` covers: "RFC 4285 authenticates", say)."""
    if isinstance(mh, (BindingUpdate, BindingAcknowledgement)):
        return build_mh(mh)
    data = any_bytes(mh, "mh")
    CODEC.parse(data)
    if data[2] not in OPTIONS_START:
        raise ValueError(f"mh: {what} Binding Updates and Acknowledgements, not MH type {data[2]}")
    return data
