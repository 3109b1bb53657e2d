"""What a binding store holds, and the records the home agent stages into it.

A binding is stored as what recovery needs to put it back into the binding cache and go on answering
Binding Updates as if the home agent had never stopped (RFC 6275 §9.5.1, §10.3.1):

- the home address and the care-of address;
- the last accepted sequence number (a BU not newer than it gets BA status 135 after a restart too);
- the flags as the BU had them (A, H, L, K in the bits of the wire, ``FLAG_*``);
- the granted lifetime, in seconds, and the absolute expiry on the wall clock (see *Time* below);
- the protection the binding was made under: an identifier of the security association or key
  (``"esp-spi:0x1001"``, an IKE SA name, ...), NEVER key material. The store is a plain file that an
  operator reads with ``mip6fast bindings --store``; keys belong in the key manager.

*Time.* The roles run on a monotonic clock in nanoseconds, which starts again from an arbitrary
origin at every boot (and, in the simulator, at 0), so a monotonic expiry means nothing to the next
process. The store therefore keeps **absolute wall-clock expiries** (nanoseconds since the Unix epoch,
``time.time_ns()``). Conversions take the caller's pair of readings of both clocks, taken together:

- staging: ``BindingRecord.from_monotonic(..., expires_monotonic_ns, now_monotonic_ns, now_wall_ns)``
  stores ``expires_wall = now_wall + (expires_monotonic - now_monotonic)``;
- recovery: ``record.expires_monotonic_ns(now_monotonic_ns, now_wall_ns)`` gives
  ``now_monotonic + min(expires_wall - now_wall, granted lifetime)``.

The minimum is there because the wall clock can be stepped while the home agent is down: stepped
forward, bindings come back with less time left (they expire early and the mobile node registers
again, the safe side); stepped backward, they would come back with more time left than was ever
granted, so the remainder is capped at the granted lifetime.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any, Union

__all__ = [
    "FLAG_ACK",
    "FLAG_HOME",
    "FLAG_KEY_MANAGEMENT",
    "FLAG_LINK_LOCAL",
    "MAX_LIFETIME_S",
    "MAX_STATE_VALUE_BYTES",
    "NS_PER_S",
    "BindingRecord",
    "Deregistered",
    "Expired",
    "Record",
    "Refreshed",
    "Registered",
    "StateDeleted",
    "StatePut",
    "flag_letters",
    "monotonic_from_wall",
    "wall_from_monotonic",
]

NS_PER_S = 1_000_000_000

# Binding Update flags as on the wire (RFC 6275 §6.1.7); the same values as mip6fast.binding_cache's.
FLAG_ACK = 0x8000
FLAG_HOME = 0x4000
FLAG_LINK_LOCAL = 0x2000
FLAG_KEY_MANAGEMENT = 0x1000

# A BU's lifetime field counts 4-second units in 16 bits (§6.1.7): a granted lifetime is at most this.
MAX_LIFETIME_S = 0xFFFF * 4
MAX_PROTECTION_LENGTH = 255
MAX_STATE_KEY_LENGTH = 255
MAX_STATE_VALUE_BYTES = 1 << 20   # the state area is for small things (an interface's settings)

_INT64_MAX = (1 << 63) - 1


def wall_from_monotonic(monotonic_ns: int, now_monotonic_ns: int, now_wall_ns: int) -> int:
    """A monotonic instant as wall-clock nanoseconds, given the two clocks read together."""
    return now_wall_ns + (monotonic_ns - now_monotonic_ns)


def monotonic_from_wall(wall_ns: int, now_monotonic_ns: int, now_wall_ns: int) -> int:
    """A wall-clock instant on the monotonic clock, given the two clocks read together."""
    return now_monotonic_ns + (wall_ns - now_wall_ns)


def flag_letters(flags: int) -> str:
    """The BU flags set, as letters in wire order: ``"AHL"`` for A, H and L."""
    return "".join(letter for bit, letter in ((FLAG_ACK, "A"), (FLAG_HOME, "H"), (FLAG_LINK_LOCAL, "L"),
                                              (FLAG_KEY_MANAGEMENT, "K")) if flags & bit)


def _address(value: object, what: str) -> IPv6Address:
    if isinstance(value, IPv6Address):
        return value
    if isinstance(value, (str, bytes)):
        if isinstance(value, bytes) and len(value) != 16:
            raise ValueError(f"{what}: an address is 16 bytes, got {len(value)}")
        try:
            return IPv6Address(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    raise TypeError(f"{what}: expected an IPv6 address (str, IPv6Address or 16 bytes), "
                    f"got {type(value).__name__}")


def _int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what}: must be in {low}..{high}, got {value}")
    return value


@dataclass(frozen=True)
class BindingRecord:
    """One binding as stored (see the module docstring for each field and for time).

    home_address, care_of_address: IPv6Address (str and 16 bytes are accepted and converted).
    sequence: the last accepted sequence number, 0..65535. flags: the BU's flags, 0..0xFFFF (FLAG_*).
    lifetime_s: the granted lifetime in seconds, 1..262140. expires_wall_ns: the absolute expiry,
    nanoseconds since the Unix epoch. protection: the security association or key identifier the
    binding was made under (printable, at most 255 characters, never a key), or None."""
    home_address: IPv6Address
    care_of_address: IPv6Address
    sequence: int
    flags: int
    lifetime_s: int
    expires_wall_ns: int
    protection: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "home_address", _address(self.home_address, "home_address"))
        object.__setattr__(self, "care_of_address", _address(self.care_of_address, "care_of_address"))
        _int(self.sequence, "sequence", 0, 0xFFFF)
        _int(self.flags, "flags", 0, 0xFFFF)
        _int(self.lifetime_s, "lifetime_s", 1, MAX_LIFETIME_S)
        _int(self.expires_wall_ns, "expires_wall_ns", 0, _INT64_MAX)
        p = self.protection
        if p is not None:
            if not isinstance(p, str):
                raise TypeError(f"protection: expected an identifier (str) or None, got {type(p).__name__}")
            if not p or len(p) > MAX_PROTECTION_LENGTH or not p.isprintable():
                raise ValueError(f"protection: an identifier of 1..{MAX_PROTECTION_LENGTH} printable "
                                 f"characters (an SA or key name, never a key), got {p!r:.80}")

    @classmethod
    def from_monotonic(cls, home_address: object, care_of_address: object, sequence: int, flags: int,
                       lifetime_s: int, expires_monotonic_ns: int, now_monotonic_ns: int, now_wall_ns: int,
                       protection: str | None = None) -> BindingRecord:
        """The record of a binding whose expiry is on the roles' monotonic clock (``expires_ns`` of
        mip6fast.binding_cache.Binding), with both clocks read together at ``now``."""
        return cls(home_address, care_of_address, sequence, flags, lifetime_s,  # type: ignore[arg-type]
                   wall_from_monotonic(expires_monotonic_ns, now_monotonic_ns, now_wall_ns), protection)

    def remaining_ns(self, now_wall_ns: int) -> int:
        """Time left at ``now_wall_ns``, capped at the granted lifetime (negative once expired)."""
        return min(self.expires_wall_ns - now_wall_ns, self.lifetime_s * NS_PER_S)

    def expires_monotonic_ns(self, now_monotonic_ns: int, now_wall_ns: int) -> int:
        """The expiry on the monotonic clock of this process: ``now_monotonic_ns`` plus the time left
        (never more than the granted lifetime, whatever the wall clock did while we were down)."""
        return now_monotonic_ns + self.remaining_ns(now_wall_ns)

    def expired(self, now_wall_ns: int) -> bool:
        """Due at ``now_wall_ns`` (the binding cache's rule: expires <= now)."""
        return self.expires_wall_ns <= now_wall_ns


def _binding(value: object) -> None:
    if not isinstance(value, BindingRecord):
        raise TypeError(f"binding: expected a BindingRecord, got {type(value).__name__}")


@dataclass(frozen=True)
class Registered:
    """A registration was accepted and created a binding (BindingCreated)."""
    binding: BindingRecord

    def __post_init__(self) -> None:
        _binding(self.binding)


@dataclass(frozen=True)
class Refreshed:
    """A registration was accepted for an existing binding: new care-of address, sequence, lifetime
    (BindingUpdated). Stored exactly like Registered: the binding is replaced as a whole."""
    binding: BindingRecord

    def __post_init__(self) -> None:
        _binding(self.binding)


@dataclass(frozen=True)
class Deregistered:
    """A de-registration was accepted (lifetime 0 or care-of = home; BindingDeleted)."""
    home_address: IPv6Address

    def __post_init__(self) -> None:
        object.__setattr__(self, "home_address", _address(self.home_address, "home_address"))


@dataclass(frozen=True)
class Expired:
    """A binding expired (BindingExpired)."""
    home_address: IPv6Address

    def __post_init__(self) -> None:
        object.__setattr__(self, "home_address", _address(self.home_address, "home_address"))


def _state_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key: expected a str, got {type(key).__name__}")
    if not key or len(key) > MAX_STATE_KEY_LENGTH or not key.isprintable():
        raise ValueError(f"key: 1..{MAX_STATE_KEY_LENGTH} printable characters, got {key!r:.80}")
    return key


@dataclass(frozen=True)
class StatePut:
    """Set ``key`` in the store's key-value area to ``value`` (anything JSON can hold: it is stored as
    JSON, so it reads back as ``json.loads`` gives it: tuples come back as lists)."""
    key: str
    value: Any
    encoded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _state_key(self.key)
        try:
            text = json.dumps(self.value, allow_nan=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"value of {self.key!r}: not storable as JSON: {exc}") from None
        if len(text.encode()) > MAX_STATE_VALUE_BYTES:
            raise ValueError(f"value of {self.key!r}: {len(text.encode())} bytes as JSON, "
                             f"more than {MAX_STATE_VALUE_BYTES}")
        object.__setattr__(self, "encoded", text)


@dataclass(frozen=True)
class StateDeleted:
    """Remove ``key`` from the store's key-value area (nothing happens if it is not there)."""
    key: str

    def __post_init__(self) -> None:
        _state_key(self.key)


Record = Union[Registered, Refreshed, Deregistered, Expired, StatePut, StateDeleted]
RECORD_TYPES = (Registered, Refreshed, Deregistered, Expired, StatePut, StateDeleted)
