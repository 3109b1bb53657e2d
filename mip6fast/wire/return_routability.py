"""Return routability (RFC 6275 §5.2): the keygen tokens, the binding management key and the Binding
Authorization Data authenticator, as pure functions over bytes. No clock is read, no randomness drawn,
nothing sent; the roles hold the secrets and the nonces (``roles/correspondent/return_routability.py``,
``roles/route_optimization.py``).

Theory of operation
-------------------
A correspondent node keeps a secret ``Kcn`` (20 bytes, §5.2.1) and a table of nonces, each named on the
wire by a 16-bit nonce index (§5.2.2). Answering a Home Test Init it sends the home keygen token, and
answering a Care-of Test Init the care-of keygen token (§5.2.5)::

    home keygen token    = First(64, HMAC_SHA1(Kcn, home address    | nonce | 0))
    care-of keygen token = First(64, HMAC_SHA1(Kcn, care-of address | nonce | 1))

where the final 0 or 1 is a single octet. The mobile node, holding both tokens, derives (§5.2.5)::

    Kbm = SHA1(home keygen token | care-of keygen token)

or ``SHA1(home keygen token)`` alone for a Binding Update that deletes a binding (lifetime zero, or the
care-of address equal to the home address: §5.2.6, §6.2.7), and authorises its Binding Update -- and the
correspondent its Binding Acknowledgement -- with the Binding Authorization Data option (§6.2.7)::

    Mobility Data = care-of address | correspondent | MH Data
    Authenticator = First(96, HMAC_SHA1(Kbm, Mobility Data))

"care-of address" is the care-of address the binding will have (the home address for a deletion),
"correspondent" the correspondent node's address, and "MH Data" the Mobility Header without the
Authenticator field itself, its Checksum field taken as zero. The option must be the last one, with no
padding after it (§6.2.7, §9.5.1). Its alignment, 8n+2, puts its 12-byte authenticator at the very end
of the 8-octet-aligned header, so MH Data is the header up to and including the option's Length byte;
Header Len already counts the authenticator. ``add_binding_authorization`` therefore lays the message
out with a zero placeholder authenticator first, hashes that layout and fills the authenticator in; the
MH checksum is computed later by the packet layer, over the finished bytes.

``verify_binding_authorization`` checks a received BU or BA. It wants the Mobility Header as received
(bytes): the authenticator covers the sender's exact layout, padding included. It also takes a message
object, which is re-encoded with this package's canonical padding (a peer padding differently fails).

Lengths the RFC leaves to the implementation: nonces are 8 bytes here (``NONCE_LEN``; §5.2.2 only asks
that they be random and kept secret, the wire carries their index, never the nonce).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from enum import Enum
from ipaddress import IPv6Address
from typing import TypeVar, Union

from ._fields import any_bytes, fixed_bytes, ipv6
from .mobility import (
    OPTIONS_START,
    BindingAcknowledgement,
    BindingAuthorizationData,
    BindingUpdate,
    NonceIndices,
    authenticated_mh,
    build_mh,
)

__all__ = [
    "AUTHENTICATOR_LEN", "KBM_LEN", "KCN_LEN", "KEYGEN_TOKEN_LEN", "MAX_NONCE_LIFETIME", "MAX_RR_BINDING_LIFETIME",
    "MAX_TOKEN_LIFETIME", "NONCE_LEN", "AuthorizationVerdict", "add_binding_authorization", "authenticator",
    "binding_management_key", "care_of_keygen_token", "home_keygen_token", "mobility_data", "nonce_indices",
    "verify_binding_authorization",
]

# RFC 6275 §12 (PROTOCOL.md "Constants and defaults"), in seconds.
MAX_NONCE_LIFETIME = 240        # a nonce is not accepted longer than this after its first use (§5.2.7)
MAX_TOKEN_LIFETIME = 210        # a keygen token is not used longer than this after it arrived (§5.2.7)
MAX_RR_BINDING_LIFETIME = 420   # the longest binding return routability authorises (§5.2.6)

KCN_LEN = 20                    # §5.2.1: Kcn, a 20-octet secret
NONCE_LEN = 8                   # §5.2.2 leaves the length to the implementation
KEYGEN_TOKEN_LEN = 8            # First(64, ...)
KBM_LEN = 20                    # SHA1
AUTHENTICATOR_LEN = 12          # First(96, ...)

_BAD = BindingAuthorizationData.OPTION_TYPE

Address = Union[IPv6Address, str, bytes]
Message = Union[BindingUpdate, BindingAcknowledgement]
M = TypeVar("M", BindingUpdate, BindingAcknowledgement)


def _keygen_token(kcn, address: Address, nonce, which: int, name: str) -> bytes:
    kcn = fixed_bytes(kcn, KCN_LEN, "kcn")
    data = ipv6(address, name).packed + any_bytes(nonce, "nonce") + bytes((which,))
    return hmac.new(kcn, data, hashlib.sha1).digest()[:KEYGEN_TOKEN_LEN]


def home_keygen_token(kcn, home_address: Address, nonce) -> bytes:
    """First(64, HMAC_SHA1(Kcn, home address | nonce | 0)) (RFC 6275 §5.2.5): 8 bytes."""
    return _keygen_token(kcn, home_address, nonce, 0, "home_address")


def care_of_keygen_token(kcn, care_of_address: Address, nonce) -> bytes:
    """First(64, HMAC_SHA1(Kcn, care-of address | nonce | 1)) (RFC 6275 §5.2.5): 8 bytes."""
    return _keygen_token(kcn, care_of_address, nonce, 1, "care_of_address")


def binding_management_key(home_token, care_of_token=None) -> bytes:
    """Kbm = SHA1(home keygen token | care-of keygen token); SHA1(home keygen token) when
    ``care_of_token`` is None, for a Binding Update that deletes a binding (RFC 6275 §5.2.5, §5.2.6)."""
    data = fixed_bytes(home_token, KEYGEN_TOKEN_LEN, "home_token")
    if care_of_token is not None:
        data += fixed_bytes(care_of_token, KEYGEN_TOKEN_LEN, "care_of_token")
    return hashlib.sha1(data).digest()


def mobility_data(care_of_address: Address, correspondent: Address, mh_data) -> bytes:
    """care-of address | correspondent | MH Data (RFC 6275 §6.2.7). ``mh_data`` must already be cut
    before the authenticator and have a zero checksum."""
    return (ipv6(care_of_address, "care_of_address").packed + ipv6(correspondent, "correspondent").packed
            + any_bytes(mh_data, "mh_data"))


def authenticator(kbm, care_of_address: Address, correspondent: Address, mh_data) -> bytes:
    """First(96, HMAC_SHA1(Kbm, care-of address | correspondent | MH Data)) (RFC 6275 §6.2.7): 12 bytes."""
    kbm = fixed_bytes(kbm, KBM_LEN, "kbm")
    return hmac.new(kbm, mobility_data(care_of_address, correspondent, mh_data),
                    hashlib.sha1).digest()[:AUTHENTICATOR_LEN]


def _bad_offset(data: bytes) -> int:
    """Offset of the Binding Authorization Data option of a parsed BU or BA, or -1 (the codec has
    checked every length byte and that nothing but padding follows the option)."""
    off = OPTIONS_START[data[2]]
    while off < len(data):
        if data[off] == 0:                  # Pad1 (RFC 6275 §6.2.2)
            off += 1
            continue
        if data[off] == _BAD:
            return off
        off += 2 + data[off + 1]
    return -1


def _mh_data(data: bytes, offset: int) -> bytes:
    """MH Data for the option at ``offset``: the header up to the authenticator, checksum zeroed."""
    return data[:4] + b"\x00\x00" + data[6:offset + 2]


def add_binding_authorization(msg: M, kbm, care_of_address: Address, correspondent: Address) -> M:
    """``msg`` (a BindingUpdate or BindingAcknowledgement) with a Binding Authorization Data option
    appended last, its authenticator computed over the message as it will be on the wire (RFC 6275
    §6.2.7). ``care_of_address`` is the care-of address being registered (the home address for a
    deletion), ``correspondent`` the correspondent node's address, for a BA as for its BU.

    Raises ValueError when the message already carries the option."""
    if not isinstance(msg, (BindingUpdate, BindingAcknowledgement)):
        raise TypeError(f"msg: Binding Authorization Data authorises Binding Updates and Acknowledgements, "
                        f"not {type(msg).__name__}")
    if any(isinstance(opt, BindingAuthorizationData) for opt in msg.options):
        raise ValueError("msg: already carries a Binding Authorization Data option")
    kbm = fixed_bytes(kbm, KBM_LEN, "kbm")
    placeholder = replace(msg, options=msg.options + (BindingAuthorizationData(bytes(AUTHENTICATOR_LEN)),))
    data = build_mh(placeholder)
    value = authenticator(kbm, care_of_address, correspondent, _mh_data(data, _bad_offset(data)))
    return replace(msg, options=msg.options + (BindingAuthorizationData(value),))


class AuthorizationVerdict(Enum):
    """What ``verify_binding_authorization`` found; only ``OK`` authorises the message. RFC 6275 §9.5.1
    has a correspondent discard silently a BU for any of the others."""
    OK = "the authenticator is correct"
    MISSING = "no Binding Authorization Data option"
    NOT_LAST = "padding follows the Binding Authorization Data option"
    MISMATCH = "the authenticator does not match"

    @property
    def ok(self) -> bool:
        return self is AuthorizationVerdict.OK


def verify_binding_authorization(mh, kbm, care_of_address: Address, correspondent: Address) -> AuthorizationVerdict:
    """Check the Binding Authorization Data of a received BU or BA (RFC 6275 §6.2.7, §9.5.1, §11.7.3).

    ``mh``: the Mobility Header as received (bytes-like; its checksum may be anything, it is taken as
    zero), or a BindingUpdate/BindingAcknowledgement object, re-encoded (see the module notes). Raises
    ``ParseError`` when the bytes are not a well-formed Mobility Header, ValueError when they are not a
    BU or BA."""
    data = authenticated_mh(mh, "Binding Authorization Data authorises")
    kbm = fixed_bytes(kbm, KBM_LEN, "kbm")
    offset = _bad_offset(data)
    if offset < 0:
        return AuthorizationVerdict.MISSING
    if offset + 2 + AUTHENTICATOR_LEN != len(data):
        return AuthorizationVerdict.NOT_LAST            # §9.5.1: last, and no padding after it
    expected = authenticator(kbm, care_of_address, correspondent, _mh_data(data, offset))
    got = data[offset + 2:offset + 2 + AUTHENTICATOR_LEN]
    return AuthorizationVerdict.OK if hmac.compare_digest(expected, got) else AuthorizationVerdict.MISMATCH


def nonce_indices(msg: Message) -> NonceIndices | None:
    """The Nonce Indices option of a message (the first, if several), or None."""
    return next((opt for opt in msg.options if isinstance(opt, NonceIndices)), None)
