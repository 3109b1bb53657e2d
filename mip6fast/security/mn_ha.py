"""RFC 4285 credentials: the mobility security association a mobile node shares with its home agent when
Binding Updates and Acknowledgements are authenticated by the MN-HA Mobility Message Authentication
option instead of ESP (the per-home-address alternative; docs/SECURITY.md "RFC 4285").

An ``MnHaCredential`` is what RFC 4285 §5.1 calls the shared-key-based mobility security association: a
Mobility SPI, a key, the algorithm (HMAC_SHA1, fixed), and the replay protection in use (here always the
timestamp of the Mobility Message Replay Protection option, §6, with its "close enough" window), plus
what this implementation binds it to: one home address, and the mobile node's NAI (RFC 4283 §3, RFC 4282),
which the mobile node sends in the Mobile Node Identifier option and the home agent checks.

- Mobility SPI: 256 .. 2**32 - 1 (RFC 4285 §5.1: 0-255 are reserved).
- Key: at least 20 bytes (160 bits). RFC 4285 §5.1 describes a 16-octet key; RFC 2104 §3 advises against
  HMAC keys shorter than the hash output (20 bytes for SHA-1), and this implementation follows that:
  shorter keys, and all-zero ones (a forgotten placeholder), are refused.
- Replay window: seconds, more than 3 (RFC 4285 §6: 7 by default, SHOULD be more than 3), at most
  ``MAX_REPLAY_WINDOW``.
- NAI: ``user@realm`` (RFC 4282 §2.1), 1 to 253 octets of UTF-8.

The key lives in a private slot: it is not in ``repr``, ``str``, ``stats()`` or any exception, and a
credential is neither pickled nor copied. ``sign`` and ``verify`` wrap ``wire.auth4285`` with the
credential's key, SPI and home address. ``MnHaCredentials`` holds one node's credentials by home address.
"""
from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from fractions import Fraction
from ipaddress import IPv6Address
from typing import Union

from ..wire import BindingAcknowledgement, BindingUpdate
from ..wire.auth4285 import DEFAULT_REPLAY_WINDOW, AuthVerdict, add_mn_ha_authentication, verify_mn_ha

__all__ = ["MAX_REPLAY_WINDOW", "MIN_KEY_LENGTH", "MIN_SPI", "MnHaCredential", "MnHaCredentials", "check_nai"]

MIN_SPI = 256                  # RFC 4285 §5.1: Mobility SPIs 0-255 are reserved
MIN_KEY_LENGTH = 20            # bytes: the SHA-1 output length (RFC 2104 §3)
MIN_REPLAY_WINDOW = 3          # seconds; the window must be more than this (RFC 4285 §6)
MAX_REPLAY_WINDOW = 300        # seconds: beyond this a timestamp says little about freshness
MAX_NAI_LENGTH = 253           # octets (RFC 4282 §2.2)

Address = Union[IPv6Address, str, bytes]
Message = Union[BindingUpdate, BindingAcknowledgement]

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def check_nai(nai: object) -> str:
    """``nai`` as a Network Access Identifier of the form ``user@realm`` (RFC 4282 §2.1), or ValueError.
    The user part is printable non-space text without an unescaped ``@``; the realm is dot-separated
    labels of letters, digits and hyphens (no label starts or ends with a hyphen). 1 to 253 octets."""
    if not isinstance(nai, str):
        raise ValueError("nai: expected a string of the form user@realm")
    if not 0 < len(nai.encode("utf-8")) <= MAX_NAI_LENGTH:
        raise ValueError(f"nai: 1 to {MAX_NAI_LENGTH} octets (RFC 4282 §2.2)")
    if any(c.isspace() or not c.isprintable() for c in nai):
        raise ValueError("nai: no spaces or control characters (RFC 4282 §2.1)")
    user, at, realm = nai.rpartition("@")
    if not at or not user or not realm:
        raise ValueError("nai: expected user@realm (RFC 4282 §2.1)")
    # In the user part an "@" must be escaped with "\" (RFC 4282 §2.1).
    escaped = False
    for c in user:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "@":
            raise ValueError("nai: an '@' in the user part must be escaped as '\\@' (RFC 4282 §2.1)")
    if escaped:
        raise ValueError("nai: the user part ends with a lone '\\'")
    for label in realm.split("."):
        if not label or not set(label) <= _LABEL_CHARS or label[0] == "-" or label[-1] == "-":
            raise ValueError("nai: the realm must be a domain name: labels of letters, digits and hyphens "
                             "(RFC 4282 §2.1)")
    return nai


def _window(value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise ValueError("replay_window: expected seconds as a number")
    if not MIN_REPLAY_WINDOW < value <= MAX_REPLAY_WINDOW:       # nan fails this too
        raise ValueError(f"replay_window: {value} s is not more than {MIN_REPLAY_WINDOW} s and at most "
                         f"{MAX_REPLAY_WINDOW} s (RFC 4285 §6: 7 s by default, SHOULD be more than 3 s)")
    return Fraction(value)


class MnHaCredential:
    """One home address's RFC 4285 mobility security association (see the module docstring).
    ``MnHaCredential(home_address, nai, spi, key, replay_window=7)``; ValueError for any field out of
    its range (the message names the field, never a key byte)."""
    __slots__ = ("_home_address", "_key", "_nai", "_replay_window", "_spi")

    def __init__(self, home_address: Address, nai: str, spi: int, key: bytes,
                 replay_window: float | Fraction = DEFAULT_REPLAY_WINDOW):
        try:
            home = IPv6Address(home_address)
        except (ValueError, TypeError):
            raise ValueError("home_address: not an IPv6 address") from None
        if home.is_multicast or home.is_link_local or home.is_unspecified or home.is_loopback:
            raise ValueError(f"home_address: {home} cannot be a home address")
        if isinstance(spi, bool) or not isinstance(spi, int) or not MIN_SPI <= spi < 1 << 32:
            raise ValueError(f"spi: a 32-bit Mobility SPI of at least {MIN_SPI} "
                             f"(RFC 4285 §5.1: 0-255 are reserved)")
        if not isinstance(key, (bytes, bytearray)):
            raise ValueError("key: expected bytes")
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"key: {len(key)} bytes; at least {MIN_KEY_LENGTH} (160 bits) are needed")
        if not any(key):
            raise ValueError("key: an all-zero key (a placeholder?) is refused")
        self._home_address = home
        self._nai = check_nai(nai)
        self._spi = spi
        self._key = bytes(key)
        self._replay_window = _window(replay_window)

    @property
    def home_address(self) -> IPv6Address:
        return self._home_address

    @property
    def nai(self) -> str:
        return self._nai

    @property
    def spi(self) -> int:
        return self._spi

    @property
    def replay_window(self) -> Fraction:
        """Seconds a timestamp may differ from the receiver's clock (RFC 4285 §6, "close enough")."""
        return self._replay_window

    @property
    def identifier(self) -> str:
        """What ``bindings`` and the binding store show: ``rfc4285 spi 0x… (nai user@realm)``, no key."""
        return f"rfc4285 spi 0x{self._spi:08x} (nai {self._nai})"

    def sign(self, msg: Message, care_of_address: Address) -> Message:
        """``msg`` with the MN-HA Mobility Message Authentication option appended last (RFC 4285 §5.1):
        the authenticator over care-of address | this home address | the message."""
        return add_mn_ha_authentication(msg, self._key, self._spi, care_of_address, self._home_address)

    def verify(self, mh, care_of_address: Address) -> AuthVerdict:
        """``wire.auth4285.verify_mn_ha`` of a received BU or BA (bytes as received) with this key, SPI
        and home address."""
        return verify_mn_ha(mh, self._key, care_of_address, self._home_address, spi=self._spi)

    def same_key(self, other: MnHaCredential) -> bool:
        return hmac.compare_digest(self._key, other._key)

    def stats(self) -> dict[str, object]:
        """Everything but the key, as plain values."""
        return {"home_address": str(self._home_address), "nai": self._nai, "spi": self._spi,
                "replay_window": float(self._replay_window), "algorithm": "hmac-sha1-96"}

    def __repr__(self) -> str:
        return (f"MnHaCredential(home_address='{self._home_address}', nai='{self._nai}', "
                f"spi=0x{self._spi:08x}, replay_window={float(self._replay_window)})")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an MnHaCredential holds a key: it is not pickled")

    def __copy__(self):
        raise TypeError("an MnHaCredential holds a key: it is not copied")

    def __deepcopy__(self, memo):
        return self.__copy__()


class MnHaCredentials:
    """One node's RFC 4285 credentials, by home address. ``add`` refuses a second credential for a home
    address, a Mobility SPI used twice and a key used twice (with one key, the holder of one credential
    could authenticate as the other: the home address is all that tells them apart)."""

    def __init__(self, credentials: Iterable[MnHaCredential] = ()):
        self._by_home: dict[IPv6Address, MnHaCredential] = {}
        for c in credentials:
            self.add(c)

    def add(self, credential: MnHaCredential) -> None:
        if not isinstance(credential, MnHaCredential):
            raise TypeError(f"expected an MnHaCredential, got {type(credential).__name__}")
        if credential.home_address in self._by_home:
            raise ValueError(f"home address {credential.home_address} already has an RFC 4285 credential")
        for other in self._by_home.values():
            if other.spi == credential.spi:
                raise ValueError(f"Mobility SPI 0x{credential.spi:08x} is used twice "
                                 f"({other.home_address}, {credential.home_address})")
            if other.same_key(credential):
                raise ValueError(f"the RFC 4285 credentials of {other.home_address} and "
                                 f"{credential.home_address} use the same key: every home address needs "
                                 f"its own")
        self._by_home[credential.home_address] = credential

    def remove(self, home_address: Address) -> None:
        del self._by_home[IPv6Address(home_address)]

    def get(self, home_address: Address) -> MnHaCredential | None:
        if type(home_address) is not IPv6Address:
            home_address = IPv6Address(home_address)
        return self._by_home.get(home_address)

    def home_addresses(self) -> frozenset[IPv6Address]:
        return frozenset(self._by_home)

    def __contains__(self, home_address: object) -> bool:
        return home_address in self._by_home

    def __iter__(self) -> Iterator[MnHaCredential]:
        return iter(list(self._by_home.values()))

    def __len__(self) -> int:
        return len(self._by_home)

    def stats(self) -> list[dict[str, object]]:
        return [c.stats() for c in self]

    def __repr__(self) -> str:
        homes = ", ".join(sorted(str(a) for a in self._by_home)) or "none"
        return f"MnHaCredentials({len(self)}: {homes})"
