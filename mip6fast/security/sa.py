"""Security associations: keys, sequence numbers, the anti-replay window, counters.

A ``SecurityAssociation`` is one direction of protection between a mobile node and its home agent
(RFC 4301 §4.4.2's SAD entry, cut down to what manual keying between the two needs):

- ``spi``, ``direction`` (inbound or outbound on this node), ``algorithm`` and its keys;
- ``source`` and ``destination``: the SA's end points as the home registration sees them, i.e. the
  home address and the home agent's address (RFC 3776: the selectors use the home address, not the
  care-of address, because the Home Address option is processed before IPsec). One of them is
  ``home_address``, the address the SA is bound to; which one says whether this SA carries traffic
  from the mobile node (``home_is_source``) or to it;
- ``mode``: transport (BU/BA, MPS/MPA) or tunnel (the reverse tunnel: HoTI/HoT and payload);
- outbound: the sequence counter (RFC 4303 §3.3.3); inbound: the anti-replay window (§3.4.3);
- ``counters``: what an operator looks at (packets, bytes, replay drops, ICV failures, ...).

Keys live in private slots: they never appear in ``repr``, ``str``, ``stats()`` or an exception, and
an SA cannot be pickled or copied (a copy of an outbound SA would send its sequence numbers, and so
its GCM IVs, a second time).

Extended sequence numbers (RFC 4303 §2.2.1, Appendix A) are implemented and off by default, like
every manual setting both ends must agree on. They are worth having here because manual SAs cannot be
rekeyed: a tunnel-mode SA carrying reverse-tunnelled payload at 100,000 packets/s would exhaust 32
bits in about 12 hours and then stop (§3.3.3), while with ESN it never does. BU/BA SAs never need them.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum
from ipaddress import IPv6Address
from typing import Callable, Union

from cryptography.hazmat.primitives import hashes

from .algorithms import Algorithm, Transform
from .errors import SequenceExhausted

NH_ICMPV6 = 58
NH_MH = 135

MIN_REPLAY_WINDOW = 64     # RFC 4303 §3.4.3: 32 is the minimum, 64 the recommended default
MAX_REPLAY_WINDOW = 4096
DEFAULT_REPLAY_WINDOW = 64

Address = Union[str, bytes, IPv6Address]


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Mode(Enum):
    TRANSPORT = "transport"   # RFC 4303 §3.1.1: BU/BA, MPS/MPA between MN and HA (RFC 3776)
    TUNNEL = "tunnel"         # RFC 4303 §3.1.2: the reverse tunnel (RFC 3776, RFC 4877)


@dataclass
class SaCounters:
    """Per-SA counters. Outbound SAs use ``packets``, ``bytes`` and ``sequence_exhausted``; the rest
    count inbound refusals of packets that found this SA by their SPI."""
    packets: int = 0                  # packets protected (outbound) or accepted (inbound)
    bytes: int = 0                    # their length before protection / after removing ESP
    replay_duplicates: int = 0        # sequence number already received (RFC 4303 §3.4.3)
    replay_too_old: int = 0           # left of the window (or 0, never sent)
    authentication_failures: int = 0  # ICV did not verify (§3.4.4)
    malformed: int = 0                # too short for the algorithm, or a bad trailer after a valid ICV
    policy_violations: int = 0        # wrong home address, home agent address or protocol for this SA
    dummy: int = 0                    # next header 59 (§2.6), discarded
    sequence_exhausted: int = 0       # sends refused because the counter would cycle (§3.3.3)

    @property
    def replay_drops(self) -> int:
        return self.replay_duplicates + self.replay_too_old


class ReplayWindow:
    """RFC 4303 §3.4.3's sliding window as a bitmap (an int): bit i set = ``top - i`` was received.

    ``top`` is the highest authenticated sequence number (64 bits wide with ESN). ``check`` runs before
    the ICV (cheap rejection of duplicates and old packets); ``accept`` after a valid ICV only, so a
    forged packet never moves the window. With ESN, ``infer`` reconstructs the high 32 bits that are
    not sent (Appendix A2.2)."""
    __slots__ = ("_bits", "_mask", "esn", "size", "top")

    def __init__(self, size: int = DEFAULT_REPLAY_WINDOW, esn: bool = False, top: int = 0):
        if not MIN_REPLAY_WINDOW <= size <= MAX_REPLAY_WINDOW:
            raise ValueError(f"replay window: {size} packets is outside "
                             f"{MIN_REPLAY_WINDOW}..{MAX_REPLAY_WINDOW}")
        limit = (1 << 64) - 1 if esn else (1 << 32) - 1
        if not 0 <= top <= limit:
            raise ValueError(f"replay window: sequence {top} does not fit {64 if esn else 32} bits")
        self.size = size
        self.esn = esn
        self.top = top
        self._mask = (1 << size) - 1
        # Resuming at ``top`` (after a restart): everything at or below it counts as already received.
        self._bits = self._mask if top else 0

    def infer(self, low: int) -> int:
        """The full sequence number of a packet carrying ``low`` (RFC 4303 Appendix A2.2)."""
        if not self.esn:
            return low
        w = self.size
        tl, th = self.top & 0xFFFFFFFF, self.top >> 32
        if tl >= w - 1:                      # Case A: the window lies within one 2^32 subspace
            high = th if low >= tl - w + 1 else th + 1
        else:                                # Case B: the window spans two subspaces
            high = th - 1 if low >= (tl - w + 1) & 0xFFFFFFFF else th
        if high < 0 or high > 0xFFFFFFFF:
            return -1                        # below sequence 0 or beyond 2^64: never valid
        return (high << 32) | low

    def check(self, seq: int) -> bool | None:
        """None if ``seq`` may be accepted; else True for a duplicate, False for too old."""
        if seq <= 0:
            return False                     # sequence 0 is never sent (§3.3.3: the first is 1)
        if seq > self.top:
            return None
        diff = self.top - seq
        if diff >= self.size:
            return False
        return True if (self._bits >> diff) & 1 else None

    def resume(self, top: int) -> None:
        """Everything at or below ``top`` counts as received from now on (a restarted receiver resuming
        at the high-water mark it stored); never moves back."""
        limit = (1 << 64) - 1 if self.esn else (1 << 32) - 1
        if not isinstance(top, int) or not 0 <= top <= limit:
            raise ValueError(f"replay window: sequence {top!r} does not fit {64 if self.esn else 32} bits")
        if top > self.top:
            self.top = top
            self._bits = self._mask

    def accept(self, seq: int) -> None:
        if seq > self.top:
            shift = seq - self.top
            self._bits = ((self._bits << shift) | 1) & self._mask if shift < self.size else 1
            self.top = seq
        else:
            self._bits |= 1 << (self.top - seq)

    def received(self, seq: int) -> bool:
        """Whether ``seq`` is marked as received (within the window)."""
        diff = self.top - seq
        return 0 <= diff < self.size and bool((self._bits >> diff) & 1)

    def __repr__(self) -> str:
        return f"ReplayWindow(size={self.size}, esn={self.esn}, top={self.top})"


def _address(value: Address, field: str) -> IPv6Address:
    try:
        return IPv6Address(value)
    except (ValueError, TypeError):
        raise ValueError(f"{field}: not an IPv6 address") from None


class SecurityAssociation:
    """One ESP SA between a mobile node and its home agent. See the module docstring.

    ``encryption_key``: AES-GCM: the AES key followed by the 4-octet salt (20 or 36 octets, RFC 4106
    §8.1); AES-CBC: 16 or 32 octets; NULL: empty. ``authentication_key``: 32 octets for
    HMAC-SHA-256-128 (RFC 4868 §2.1.1), empty for GCM.
    ``sequence``: outbound, the last sequence number sent; inbound, the highest one received (every
    number up to it is then treated as seen). 0 for a fresh SA; a daemon that stored a high-water mark
    resumes from it after a restart, so that neither the peer's window nor GCM's IVs see a number twice.
    ``protocols``: the next headers a transport-mode SA carries (default: Mobility Header and ICMPv6,
    RFC 3776's BU/BA and MPS/MPA); a tunnel-mode SA carries IPv6 (41) only.
    ``rng(n) -> n bytes``: the random block behind each CBC IV and GCM's IV mask (os.urandom unless a
    test supplies one).
    """
    __slots__ = (
        "__weakref__", "_agent_packed", "_algorithm", "_destination", "_direction", "_esn",
        "_home_address", "_home_is_source", "_home_packed", "_iv_mask", "_key_fingerprint", "_limit",
        "_mode", "_protocols", "_rng", "_sequence", "_source", "_spec", "_spi", "_transform", "_window",
        "counters",
    )

    def __init__(self, spi: int, direction: Direction, algorithm: Algorithm, *,
                 source: Address, destination: Address, home_address: Address,
                 mode: Mode = Mode.TRANSPORT, encryption_key: bytes = b"", authentication_key: bytes = b"",
                 replay_window: int = DEFAULT_REPLAY_WINDOW, esn: bool = False, sequence: int = 0,
                 protocols: Iterable[int] | None = None,
                 rng: Callable[[int], bytes] | None = None):
        if not isinstance(spi, int) or isinstance(spi, bool) or not 256 <= spi <= 0xFFFFFFFF:
            # RFC 4303 §2.1: 0 is reserved for local use and 1..255 by IANA; neither goes on the wire.
            raise ValueError(f"spi: {spi!r} is not in 256..0xffffffff")
        self._spi = spi
        self._direction = Direction(direction)
        self._algorithm = algorithm = Algorithm(algorithm)
        self._mode = mode = Mode(mode)
        self._source = src = _address(source, "source")
        self._destination = dst = _address(destination, "destination")
        self._home_address = home = _address(home_address, "home_address")
        if src == dst:
            raise ValueError("source and destination are the same address")
        if home not in (src, dst):
            raise ValueError(f"home_address {home} is neither the SA's source nor its destination")
        # The identity of an SA is read-only (properties below); what the packet path compares is
        # precomputed once.
        self._home_is_source = home == src
        self._home_packed = home.packed
        self._agent_packed = (dst if self._home_is_source else src).packed
        self._esn = bool(esn)
        if mode is Mode.TUNNEL:
            if protocols is not None and set(protocols) != {41}:
                raise ValueError("protocols: a tunnel-mode SA carries IPv6 (41) only")
            self._protocols: frozenset[int] = frozenset({41})
        else:
            self._protocols = frozenset((NH_MH, NH_ICMPV6) if protocols is None else protocols)
            if not self._protocols or any(not 0 <= p <= 255 or p in (41, 50, 59) for p in self._protocols):
                raise ValueError("protocols: next header values 0..255, not 41, 50 or 59")
        self._spec = spec = algorithm.spec
        encryption_key = bytes(encryption_key)
        authentication_key = bytes(authentication_key)
        if len(encryption_key) != spec.encryption_key:
            raise ValueError(f"{algorithm.value}: the encryption key must be {spec.encryption_key} "
                             f"octets, got {len(encryption_key)}")
        if len(authentication_key) != spec.authentication_key:
            raise ValueError(f"{algorithm.value}: the authentication key must be "
                             f"{spec.authentication_key} octets, got {len(authentication_key)}")
        self._transform = Transform(algorithm, encryption_key, authentication_key)
        # Kept only so that the SPD can refuse two SAs sharing a key without holding the keys twice.
        self._key_fingerprint = _fingerprint(encryption_key + authentication_key)
        self._limit = (1 << 64) - 1 if self._esn else (1 << 32) - 1
        if not isinstance(sequence, int) or not 0 <= sequence <= self._limit:
            raise ValueError(f"sequence: {sequence!r} is not in 0..{self._limit}")
        self._rng = rng or os.urandom
        self._sequence = sequence
        self._window = ReplayWindow(replay_window, self._esn, sequence)
        # GCM's explicit IV is the sequence number XORed with a mask drawn once per SA object: a
        # bijection, so IVs never repeat while sequence numbers do not (RFC 4106 §3.1 asks only for
        # uniqueness under the key), and a sender that restarts a manual SA at sequence 1 with the
        # same key does not replay the previous run's IVs, which would expose GCM's hash key.
        self._iv_mask = int.from_bytes(self._rng(8), "big") if spec.aead else 0
        self.counters = SaCounters()

    # --- identity (read-only) ------------------------------------------------------------------------

    @property
    def spi(self) -> int:
        return self._spi

    @property
    def direction(self) -> Direction:
        return self._direction

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def source(self) -> IPv6Address:
        return self._source

    @property
    def destination(self) -> IPv6Address:
        return self._destination

    @property
    def home_address(self) -> IPv6Address:
        return self._home_address

    @property
    def esn(self) -> bool:
        return self._esn

    @property
    def protocols(self) -> frozenset[int]:
        return self._protocols

    # --- what the operator sees ----------------------------------------------------------------------

    @property
    def home_is_source(self) -> bool:
        """True for an SA carrying the mobile node's traffic to the home agent."""
        return self._home_is_source

    @property
    def home_agent(self) -> IPv6Address:
        return self.destination if self.home_is_source else self.source

    @property
    def replay_window(self) -> int:
        return self._window.size

    @property
    def sequence(self) -> int:
        """Outbound: the last sequence number sent. Inbound: the highest one accepted."""
        return self._sequence if self.direction is Direction.OUTBOUND else self._window.top

    @property
    def sequence_remaining(self) -> int:
        """Outbound: packets this SA can still send before it stops (RFC 4303 §3.3.3)."""
        return self._limit - self._sequence

    @property
    def exhausted(self) -> bool:
        return self.direction is Direction.OUTBOUND and self._sequence >= self._limit

    def stats(self) -> dict[str, object]:
        """Everything about the SA but its keys, as plain values (for `mip6fast stats` and logs)."""
        out: dict[str, object] = {
            "spi": self.spi, "direction": self.direction.value, "algorithm": self.algorithm.value,
            "mode": self.mode.value, "source": str(self.source), "destination": str(self.destination),
            "home_address": str(self.home_address), "esn": self.esn, "replay_window": self.replay_window,
            "sequence": self.sequence,
        }
        if self.direction is Direction.OUTBOUND:
            out["sequence_remaining"] = self.sequence_remaining
        out.update(asdict(self.counters))
        return out

    def __repr__(self) -> str:
        return (f"SecurityAssociation(spi=0x{self.spi:08x}, direction={self.direction.value}, "
                f"algorithm={self.algorithm.value}, mode={self.mode.value}, source='{self.source}', "
                f"destination='{self.destination}', home_address='{self.home_address}', "
                f"sequence={self.sequence})")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a SecurityAssociation holds keys and a sequence counter: it is not pickled")

    def __copy__(self):
        raise TypeError("a SecurityAssociation is not copied: two copies would reuse sequence numbers")

    def __deepcopy__(self, memo):
        return self.__copy__()

    def advance(self, sequence: int) -> None:
        """After a restart, resume at the high-water mark stored before it; never moves back.

        Outbound: the next packet carries at least ``sequence + 1``, so that the peer's replay window
        (and GCM's IV uniqueness) never sees a number twice. Inbound: every sequence number at or below
        ``sequence`` counts as received, so a packet captured before the restart is refused as a replay
        (RFC 4303 §3.4.3) rather than accepted by an empty window."""
        if self._direction is not Direction.OUTBOUND:
            self._window.resume(sequence)
            return
        if not isinstance(sequence, int) or not 0 <= sequence <= self._limit:
            raise ValueError(f"sequence: {sequence!r} is not in 0..{self._limit}")
        self._sequence = max(self._sequence, sequence)

    # --- used by esp.py ------------------------------------------------------------------------------

    def _next_sequence(self) -> int:
        if self._sequence >= self._limit:
            self.counters.sequence_exhausted += 1
            raise SequenceExhausted(
                f"SA 0x{self.spi:08x} ({self.home_address}) has sent sequence number {self._limit}: "
                f"it stops rather than cycle (RFC 4303 §3.3.3); install new keys and SPIs", self.spi)
        self._sequence += 1
        return self._sequence

    def _iv(self, seq: int) -> bytes:
        spec = self._spec
        if spec.aead:
            return struct.pack("!Q", seq ^ self._iv_mask)
        if spec.iv:
            iv = self._rng(spec.iv)
            if len(iv) != spec.iv:
                raise ValueError(f"rng returned {len(iv)} octets, {spec.iv} wanted")
            return iv
        return b""

    def _same_key(self, other: SecurityAssociation) -> bool:
        return self._key_fingerprint == other._key_fingerprint


# A salted one-way digest, so that a fingerprint says nothing about the key; the salt is per process.
_FINGERPRINT_SALT = os.urandom(16)


def _fingerprint(key: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(_FINGERPRINT_SALT)
    digest.update(key)
    return digest.finalize()
