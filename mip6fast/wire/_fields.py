"""Field coercion and checks shared by the wire object classes.

Objects are frozen dataclasses; their ``__post_init__`` normalises what the user handed in (an address
as ``str``, ``bytes`` or ``IPv6Address``; a lifetime in seconds) so that two objects that encode to the
same bytes compare equal, and ``parse(p.to_bytes()) == p`` holds.
"""
from ipaddress import IPv6Address

MAX_LIFETIME_UNITS = 0xFFFF
MAX_LIFETIME_SECONDS = MAX_LIFETIME_UNITS * 4


def ipv6(value, field: str) -> IPv6Address:
    """An IPv6Address from an IPv6Address, its text form, or its 16 bytes."""
    if isinstance(value, IPv6Address):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) != 16:
            raise ValueError(f"{field}: an IPv6 address is 16 bytes, got {len(raw)}")
        return IPv6Address(raw)
    if isinstance(value, str):
        try:
            return IPv6Address(value)
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
    raise TypeError(f"{field}: expected an IPv6 address (str, bytes or IPv6Address), got {type(value).__name__}")


def optional_ipv6(value, field: str):
    return None if value is None else ipv6(value, field)


def uint(value, bits: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, got {type(value).__name__}")
    if not 0 <= value < (1 << bits):
        raise ValueError(f"{field}: {value} does not fit in {bits} unsigned bits")
    return value


def sint(value, bits: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, got {type(value).__name__}")
    lim = 1 << (bits - 1)
    if not -lim <= value < lim:
        raise ValueError(f"{field}: {value} does not fit in {bits} signed bits")
    return value


def fixed_bytes(value, size: int, field: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected {size} bytes, got {type(value).__name__}")
    raw = bytes(value)
    if len(raw) != size:
        raise ValueError(f"{field}: expected {size} bytes, got {len(raw)}")
    return raw


def any_bytes(value, field: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{field}: expected bytes, got {type(value).__name__}")
    return bytes(value)


def lifetime_seconds(value, field: str = "lifetime") -> int:
    """Normalise a lifetime in seconds to what the 4-second wire unit can carry (RFC 6275 §6.1.7).

    Rounding: down to a multiple of 4 seconds, so a node never claims more lifetime than it was given;
    except that a positive lifetime under 4 s becomes 4 s, because 0 on the wire means de-registration
    and rounding must never turn a registration into one. Above 65535 units (262140 s) is an error.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{field}: expected seconds as a number, got {type(value).__name__}")
    if value != value or value < 0:
        raise ValueError(f"{field}: {value} is not a lifetime (seconds >= 0)")
    if value > MAX_LIFETIME_SECONDS:
        raise ValueError(f"{field}: {value} s exceeds the largest on the wire, {MAX_LIFETIME_SECONDS} s")
    units = int(value) // 4
    if units == 0 and value > 0:
        units = 1
    return units * 4


def seconds_to_units(seconds: int) -> int:
    """Wire units of a lifetime already normalised by lifetime_seconds()."""
    return seconds // 4
