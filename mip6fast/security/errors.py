"""What the ESP engine refuses, as exceptions a caller counts.

Every inbound refusal is an ``EspError`` whose class attribute ``reason`` is the name of the counter
it belongs under (``unknown_spi``, ``authentication_failed``, ``replay``, ...), so a receive path can
do ``counters[exc.reason] += 1`` and drop the packet silently, as RFC 4303 §3.4 and RFC 6275 §5.1 ask
for (no Binding Acknowledgement goes back for a BU that failed here).

No message ever carries key material: the messages name SPIs, sequence numbers, addresses, paths and
file modes, never a key or a byte of plaintext.
"""
from __future__ import annotations

from typing import ClassVar

from ..errors import Mip6Error


class EspError(Mip6Error):
    """Root of the ESP engine's refusals. ``reason`` names the counter; ``spi`` the SA when known."""
    reason: ClassVar[str] = "esp_error"

    def __init__(self, message: str, spi: int | None = None):
        super().__init__(message)
        self.spi = spi


class NotProtected(EspError):
    """The packet has no ESP header where RFC 4303 §3.1.1 puts one (an unprotected BU, for instance)."""
    reason = "not_protected"


class MalformedPacket(EspError, ValueError):
    """Bytes that cannot be an ESP-protected IPv6 packet: truncated headers or ESP payload, a payload
    length that disagrees with the buffer, a fragment (RFC 4303 §3.4.1: reassemble first), or, after a
    valid ICV, a trailer whose padding or pad length is wrong (RFC 4303 §2.4, §2.5)."""
    reason = "malformed"


class UnknownSpi(EspError):
    """No inbound SA has this SPI (RFC 4303 §3.4.2: discard, auditable)."""
    reason = "unknown_spi"


class ReplayedPacket(EspError):
    """The sequence number was already received or is left of the anti-replay window (RFC 4303
    §3.4.3). ``duplicate`` tells which."""
    reason = "replay"

    def __init__(self, message: str, spi: int, sequence: int, duplicate: bool):
        super().__init__(message, spi)
        self.sequence = sequence
        self.duplicate = duplicate


class AuthenticationFailed(EspError):
    """The Integrity Check Value did not verify (RFC 4303 §3.4.4)."""
    reason = "authentication_failed"


class PolicyViolation(EspError):
    """The packet does not match the SA it came under: the home address it claims (Home Address option,
    Type 2 routing header or the inner packet's address) is not the SA's, the home agent end is not the
    SA's, or it carries a protocol the SA does not protect (RFC 4301 §5.2 step 4; RFC 3776: the
    home agent checks that the home address belongs to the SA). The MN A registering B's home address
    with A's keys ends here."""
    reason = "policy_violation"


class DummyPacket(EspError):
    """A valid packet whose next header is 59: traffic-flow-confidentiality padding that RFC 4303 §2.6
    says the receiver discards silently."""
    reason = "dummy"


class SequenceExhausted(EspError):
    """Outbound: the SA has sent its last sequence number (2^32 - 1, or 2^64 - 1 with extended sequence
    numbers). RFC 4303 §3.3.3: the sender must not let the counter cycle; a manually keyed SA cannot be
    rekeyed, so it stops until an operator installs new keys."""
    reason = "sequence_exhausted"


class NoSecurityAssociation(EspError):
    """Outbound: no SA protects traffic for this home address (in this mode)."""
    reason = "no_security_association"


class KeyFileError(Mip6Error):
    """A key file that cannot be used: not a regular file, open to group or others, unreadable, or not
    the format docs/SECURITY.md describes. The message names the path, never a key."""
