"""Protection of home registrations in the roles (RFC 6275 §5.1, RFC 3776, RFC 4285; issue 11).

``SignallingProtection`` is what a home agent or a mobile node holds around its
``security.SecurityPolicyDatabase`` and its RFC 4285 credentials (``security.MnHaCredentials``). Each
home address is protected by one mechanism (``mechanism(home)``): ESP, or RFC 4285's MN-HA
authentication option (``auth4285``, an ``MnHaAuthentication``: mn_ha_auth.py, which the registrations
of both roles call for the BU and the BA themselves).

- ``inbound(raw)``: a packet for this node whose header chain reaches ESP goes through
  ``spd.unprotect`` before Mobility Header / ICMPv6 dispatch (the Home Address option stays before
  ESP, §6.3, so the SA is checked against the home address the packet claims). A refusal is a silent
  drop counted as ``drop.esp.<reason>`` (the SPD and the SA count it too): no answer goes back, so no
  sequence number leaks (ROLE-RULES "Protection of home registrations").
- ``required(home)``: must this home address's signalling arrive protected? Yes when the SPD has a
  policy for it or it has an RFC 4285 credential, and for every home address when the node was told to
  accept nothing unprotected (``require_all``: a home agent with keys and without
  ``unauthenticated_registrations``).
- ``outbound(raw, home)``: a BA, BRR, BU, MPS or MPA for a protected home address goes through
  ``spd.protect`` just before it is routed; None (counted ``drop.esp.out.<reason>``) when it cannot be.

The reverse tunnel in ESP tunnel mode (RFC 3776 §3, §5; RFC 4877 §4), configured per home address by a
tunnel-mode pair of SAs next to the transport-mode one (other SPIs, other keys):

- ``tunnel_outbound()``: the outbound tunnel-mode SAs by home address (16 packed bytes, what a data
  path reads from a packet). A packet the tunnel kernels built for such a home address (the mobile
  node's reverse tunnel, CoA -> HA, inner source the home address; the home agent's tunnel, HA -> CoA,
  inner destination the home address) goes through ``protect_tunnel`` before it is sent: ESP between
  the outer header and the inner packet (counted ``esp.tunnel.protected``; refused:
  ``drop.esp.tunnel.out.<reason>``). ``tunnel_room(sa, mtu)``: the largest inner packet that still
  fits ``mtu`` under ESP (larger ones get a Packet Too Big with it).
- ``tunnel_required()``: the home addresses with an inbound tunnel-mode SA. Their tunnelled packets
  must arrive under ESP: the data paths drop an unprotected one before decapsulation
  (``drop.esp.tunnel.unprotected``). A protected one is opened by ``open`` like signalling; its SA
  (``Node._rx_sa``, tunnel mode) then lets the IPv6-in-IPv6 packet inside through the same
  decapsulation checks as any other (counted ``esp.tunnel.accepted``).

``manual_pair`` builds the two ends' SAs for one home address from a random source: the simulator's
seeded rng makes scenarios deterministic (keys, SPIs, GCM IV masks). ``CaptureKeys`` is what a
monitoring tap configured with those keys can do (Wireshark's ESP preferences): read protected
signalling in a capture, each packet on its own (no replay window), for scenario summaries and tests.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from enum import Enum
from ipaddress import IPv6Address

from ..errors import ParseError
from ..security import (
    Algorithm,
    Direction,
    EspError,
    MnHaCredential,
    MnHaCredentials,
    Mode,
    SecurityAssociation,
    SecurityPolicyDatabase,
    Unprotected,
    is_protected,
    protect,
    unprotect,
)
from ..wire import Packet, parse
from .counters import CounterTable, declare
from .mn_ha_auth import AUTH4285_COUNTERS, MnHaAuthentication

__all__ = ["NH_ESP", "PROTECTION_COUNTERS", "CaptureKeys", "Mechanism", "SignallingProtection", "manual_pair",
           "manual_mn_ha", "tunnel_room"]

NH_ESP = 50

# What the protection of home registrations counts, in the home agent and the mobile node (their tables
# name this one as a base). The refusal reasons are the EspError subclasses' ``reason``s.
ESP_IN_REASONS = ("not_protected", "malformed", "unknown_spi", "replay", "authentication_failed",
                  "policy_violation", "dummy", "no_policy", "inner_malformed", "nested")
ESP_OUT_REASONS = ("sequence_exhausted", "no_security_association", "malformed")
ESP_TUNNEL_OUT_REASONS = ("too_big", "sequence_exhausted", "policy_violation", "malformed")
PROTECTION_COUNTERS = CounterTable("protection", declare(
    ("esp.protected", "signalling sent under ESP (BU, BA, BRR, MPS, MPA; RFC 6275 §5.1)"),
    ("esp.unprotected", "ESP packets for this node that unprotect accepted"),
    ("drop.esp.<reason>", "ESP packets refused before dispatch, silently, by reason (docs/SECURITY.md)",
     ESP_IN_REASONS),
    ("drop.esp.out.<reason>", "signalling not sent: its SA is missing or used up", ESP_OUT_REASONS),
    ("esp.tunnel.protected", "tunnelled packets sent under ESP tunnel mode (RFC 3776, RFC 4877 §4)"),
    ("esp.tunnel.accepted", "tunnelled packets that arrived under ESP tunnel mode, handed to decapsulation"),
    ("drop.esp.tunnel.unprotected",
     "an IPv6-in-IPv6 packet without ESP for a home address whose tunnel must be protected"),
    ("drop.esp.tunnel.out.<reason>",
     "a tunnelled packet not sent: too big once under ESP (Packet Too Big sent), SA used up or not its packet",
     ESP_TUNNEL_OUT_REASONS),
) + AUTH4285_COUNTERS)
_TunnelIndex = tuple[dict[bytes, SecurityAssociation], frozenset[bytes], frozenset[bytes]]
_NO_TUNNELS: _TunnelIndex = ({}, frozenset(), frozenset())


class Mechanism(Enum):
    """What protects one home address's registration: never both (docs/SECURITY.md "RFC 4285")."""
    ESP = "esp"
    RFC4285 = "rfc4285"


class SignallingProtection:
    """See the module docstring. ``spd`` and ``mn_ha`` None: nothing is protected (and nothing
    required). ``wall_offset()``: the node's wall clock minus the time it is driven with (ns), for RFC
    4285's timestamps."""

    def __init__(self, spd: SecurityPolicyDatabase | None, counters: Counter, *, require_all: bool = False,
                 mn_ha: MnHaCredentials | None = None, wall_offset: Callable[[], int] = lambda: 0):
        self.spd = spd
        self.counters = counters
        self.auth4285 = None if mn_ha is None else MnHaAuthentication(mn_ha, counters, wall_offset)
        if spd is not None and mn_ha is not None:
            both = spd.home_addresses() & mn_ha.home_addresses()
            if both:
                raise ValueError(f"home addresses protected both by ESP and by RFC 4285: "
                                 f"{', '.join(sorted(map(str, both)))}")
        self.require_all = require_all and self.enabled
        self._identifiers: dict[tuple[IPv6Address, Direction, Mode], str] = {}
        self._identifiers_of: SecurityPolicyDatabase | None = None
        self._identifiers_generation = -1
        self._tunnels = _NO_TUNNELS
        self._tunnels_of: SecurityPolicyDatabase | None = None
        self._tunnels_generation = -1

    @property
    def enabled(self) -> bool:
        return self.spd is not None or self.auth4285 is not None

    def mechanism(self, home: IPv6Address) -> Mechanism | None:
        """ESP when the SPD has a policy for ``home``, RFC 4285 when it has a credential, else None."""
        if self.spd is not None and self.spd.has_policy(home):
            return Mechanism.ESP
        if self.auth4285 is not None and self.auth4285.protects(home):
            return Mechanism.RFC4285
        return None

    def credential(self, home: IPv6Address) -> MnHaCredential | None:
        return None if self.auth4285 is None else self.auth4285.credential(home)

    def required(self, home: IPv6Address) -> bool:
        return self.require_all or self.mechanism(home) is not None

    def inbound(self, raw: bytes) -> Unprotected | None:
        """``spd.unprotect(raw)``, or None (counted) when it is refused or there is no SPD."""
        if self.spd is None:
            self.counters["drop.esp.no_policy"] += 1
            return None
        try:
            return self.spd.unprotect(raw)
        except EspError as exc:
            self.counters[f"drop.esp.{exc.reason}"] += 1
            return None

    def open(self, raw: bytes) -> tuple[bytes, Packet, SecurityAssociation] | None:
        """A received packet carrying ESP, for a role's receive path: ``inbound``, then the packet
        inside parsed; None (counted: ``drop.esp.<reason>``, ``drop.esp.inner_malformed``,
        ``drop.esp.nested``) when any of it fails. Otherwise the packet's bytes, its parse and the SA
        it came under (counted ``esp.unprotected``)."""
        result = self.inbound(raw)
        if result is None:
            return None
        try:
            inner = parse(result.packet)
        except ParseError:
            self.counters["drop.esp.inner_malformed"] += 1
            return None
        if inner.next_header == NH_ESP:
            self.counters["drop.esp.nested"] += 1
            return None
        self.counters["esp.unprotected"] += 1
        return result.packet, inner, result.sa

    def outbound(self, raw: bytes, home: IPv6Address) -> bytes | None:
        """``raw`` protected under ``home``'s outbound SA when it has a policy, else ``raw`` itself;
        None (counted) when the SA is missing or used up."""
        spd = self.spd
        if spd is None:
            return raw
        sa = spd.outbound_sa(home)
        if sa is None and not spd.has_policy(home):
            return raw
        try:
            if sa is None:
                protected = spd.protect(raw, home)       # raises NoSecurityAssociation, counted there
            else:
                protected = protect(raw, sa)
        except EspError as exc:
            self.counters[f"drop.esp.out.{exc.reason}"] += 1
            return None
        self.counters["esp.protected"] += 1
        return protected

    def identifier(self, home: IPv6Address, direction: Direction = Direction.INBOUND,
                   mode: Mode = Mode.TRANSPORT) -> str | None:
        """What protects ``home``'s registration (``mode`` TUNNEL: its reverse tunnel), as ``bindings``
        and the binding store name it (``esp spi 0x… (algorithm)``, ``rfc4285 spi 0x… (nai
        user@realm)``, never a key); None when it is not protected. ESP's are indexed once per set of
        SAs (every accepted BU asks, for its store record)."""
        if mode is Mode.TRANSPORT:
            credential = self.credential(home)
            if credential is not None:
                return credential.identifier
        spd = self.spd
        if spd is None:
            return None
        if self._identifiers_of is not spd or self._identifiers_generation != spd.generation:
            self._identifiers = {}
            for sa in spd:
                self._identifiers.setdefault((sa.home_address, sa.direction, sa.mode),
                                             f"esp spi 0x{sa.spi:08x} ({sa.algorithm.value})")
            self._identifiers_of, self._identifiers_generation = spd, spd.generation
        return self._identifiers.get((home, direction, mode))

    def spi_for(self, home: IPv6Address) -> int | None:
        """The SPI of the SA a packet from ``home``'s mobile node must arrive under (for ``bindings``)."""
        if self.spd is None:
            return None
        for sa in self.spd:
            if sa.direction is Direction.INBOUND and sa.home_address == home and sa.mode is Mode.TRANSPORT:
                return sa.spi
        return None

    # ------------------------------------------------------------ the reverse tunnel in ESP tunnel mode

    def _tunnel_index(self) -> _TunnelIndex:
        """(outbound tunnel-mode SAs by packed home address, those home addresses, the packed home
        addresses with an inbound one), rebuilt when the SPD's SAs change; the same empty ones when
        there are none."""
        spd = self.spd
        if spd is None:
            return _NO_TUNNELS
        if self._tunnels_of is not spd or self._tunnels_generation != spd.generation:
            outbound: dict[bytes, SecurityAssociation] = {}
            required: set[bytes] = set()
            for sa in spd:
                if sa.mode is Mode.TUNNEL:
                    if sa.direction is Direction.OUTBOUND:
                        outbound[sa.home_address.packed] = sa
                    else:
                        required.add(sa.home_address.packed)
            self._tunnels = ((outbound, frozenset(outbound), frozenset(required)) if outbound or required
                             else _NO_TUNNELS)
            self._tunnels_of, self._tunnels_generation = spd, spd.generation
        return self._tunnels

    def tunnel_outbound(self) -> dict[bytes, SecurityAssociation]:
        """The outbound tunnel-mode SAs by home address (16 packed bytes); empty: no tunnel is
        protected, and a data path skips every per-packet step of it."""
        return self._tunnel_index()[0]

    def tunnel_protected(self) -> frozenset[bytes]:
        """The home addresses (16 packed bytes) with an outbound tunnel-mode SA (``tunnel_outbound``'s
        keys, as a set a data path can match a batch against)."""
        return self._tunnel_index()[1]

    def tunnel_required(self) -> frozenset[bytes]:
        """The home addresses (16 packed bytes) with an inbound tunnel-mode SA: their tunnelled packets
        are accepted only under ESP."""
        return self._tunnel_index()[2]

    def protect_tunnel(self, raw: bytes, sa: SecurityAssociation) -> bytes | None:
        """``raw``, an IPv6-in-IPv6 packet as the tunnel kernels build it, with ESP in tunnel mode under
        ``sa`` (from ``tunnel_outbound``) between the outer header and the inner packet (counted
        ``esp.tunnel.protected``); None, counted ``drop.esp.tunnel.out.<reason>``, when the SA is used up
        or the packet does not belong to it (another home agent end, say). The caller has checked the
        size against ``tunnel_room``."""
        try:
            protected = protect(raw, sa)
        except EspError as exc:
            self.counters[f"drop.esp.tunnel.out.{exc.reason}"] += 1
            return None
        self.counters["esp.tunnel.protected"] += 1
        return protected


class CaptureKeys:
    """The keys of simulated SAs, kept to read captures (see the module docstring); never printed."""
    __slots__ = ("_by_spi",)

    def __init__(self):
        self._by_spi: dict[int, tuple] = {}

    def __repr__(self) -> str:
        return f"CaptureKeys({len(self._by_spi)} SAs)"

    def _add(self, spi: int, *args, mode: Mode = Mode.TRANSPORT) -> None:
        self._by_spi[spi] = (*args, mode)

    def open(self, raw: bytes) -> bytes:
        """``raw`` without its ESP (a fresh inbound SA for each packet: a capture may hold a packet more
        than once); ``raw`` itself when it is not protected or the SPI is not known."""
        if not is_protected(raw) or not self._by_spi:
            return raw

        def lookup(spi: int) -> SecurityAssociation | None:
            args = self._by_spi.get(spi)
            if args is None:
                return None
            algorithm, src, dst, home, enc, auth, mode = args
            return SecurityAssociation(spi, Direction.INBOUND, algorithm, source=src, destination=dst,
                                       home_address=home, mode=mode, encryption_key=enc,
                                       authentication_key=auth)
        try:
            return unprotect(raw, lookup).packet
        except EspError:
            return raw


def manual_pair(home_address, home_agent, rng: random.Random, *, algorithm: Algorithm = Algorithm.AES_128_GCM,
                spi: int | None = None, capture: CaptureKeys | None = None, mode: Mode = Mode.TRANSPORT,
                ) -> tuple[list[SecurityAssociation], list[SecurityAssociation]]:
    """The SAs of one home address, keys, SPIs and IV randomness drawn from ``rng``: (the mobile node's
    outbound + inbound, the home agent's inbound + outbound). Two SPIs from ``spi`` (random if None).
    ``capture``: also keep the keys there, to read captures. ``mode`` TUNNEL: the pair protecting the
    reverse tunnel (install it next to a transport-mode pair, which protects the signalling)."""
    home_address, home_agent = IPv6Address(home_address), IPv6Address(home_agent)
    spec = algorithm.spec
    if spi is None:
        spi = rng.randrange(0x1000, 0x7FFFFFFF)

    def material(n: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(n))

    ends = []
    for i, (src, dst) in enumerate(((home_address, home_agent), (home_agent, home_address))):
        enc, auth = material(spec.encryption_key), material(spec.authentication_key)
        if capture is not None:
            capture._add(spi + i, algorithm, src, dst, home_address, enc, auth, mode=mode)
        pair = []
        for direction in (Direction.OUTBOUND, Direction.INBOUND):
            pair.append(SecurityAssociation(spi + i, direction, algorithm, source=src, destination=dst,
                                            home_address=home_address, mode=mode, encryption_key=enc,
                                            authentication_key=auth,
                                            rng=_byte_source(random.Random(rng.getrandbits(64)))))
        ends.append(pair)
    # ends[0]: MN -> HA (outbound on the MN, inbound on the HA); ends[1]: HA -> MN.
    return [ends[0][0], ends[1][1]], [ends[0][1], ends[1][0]]


def manual_mn_ha(home_address, rng: random.Random, *, nai: str = "mn@example.net",
                 spi: int | None = None) -> MnHaCredential:
    """An RFC 4285 credential for one home address, its key (20 bytes) and SPI drawn from ``rng`` (the
    simulator's seeded one keeps scenarios deterministic); the same object serves both ends."""
    if spi is None:
        spi = rng.randrange(0x1000, 0x7FFFFFFF)
    key = bytes(rng.getrandbits(8) for _ in range(20))
    return MnHaCredential(home_address, nai, spi, key)


def tunnel_room(sa: SecurityAssociation, mtu: int) -> int:
    """The largest inner packet tunnel-mode ``sa`` carries in an outer packet of at most ``mtu`` bytes:
    the outer IPv6 header (40), the ESP header (8), the IV and the ICV, and the inner packet with the
    trailer's 2 bytes padded to the algorithm's alignment (RFC 4303 §2.4)."""
    spec = sa.algorithm.spec
    body = mtu - 40 - 8 - spec.iv - spec.icv
    return (body // spec.align) * spec.align - 2


def _byte_source(r: random.Random):
    """``n -> n bytes`` from ``r``: one deterministic source per SA object (two would repeat IVs)."""
    return lambda n: bytes(r.getrandbits(8) for _ in range(n))
