"""The security policy database a home agent or a mobile node holds: SAs selected by home address.

RFC 3776 and RFC 4877 §4 give the MN-HA policy: BU/BA and Mobile Prefix Solicitation/Advertisement
between a mobile node and its home agent in ESP transport mode, selected by the home address (the
Home Address option's address for an inbound BU, the Type 2 routing header's for an inbound BA), and
optionally the reverse tunnel in ESP tunnel mode. With manual keying that policy is simply "this home
address has these SAs", so this object keeps:

- inbound SAs by SPI (RFC 4303 §3.4.2: the receiver finds the SA by SPI), each bound to one home
  address that ``unprotect`` checks against the packet's claim;
- outbound SAs by (home address, mode): the home agent protects the BA to home address H with H's SA,
  the mobile node its BU from H with H's SA.

It is a plain object with no I/O and no clock: the roles hold one and call ``protect``/``unprotect``
(or ``mip6fast.security.esp`` directly with ``inbound_sa``/``outbound_sa``). ``has_policy(home)``
tells a role that packets for that home address must arrive protected (an unprotected BU for it is
dropped, RFC 6275 §5.1).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from ipaddress import IPv6Address

from . import esp
from .errors import EspError, NoSecurityAssociation, UnknownSpi
from .sa import Address, Direction, Mode, SecurityAssociation


@dataclass
class SpdCounters:
    """Refusals that happen before an SA is known (the rest are counted on the SA)."""
    not_protected: int = 0      # unprotect() on a packet without ESP
    malformed: int = 0          # not an IPv6/ESP packet, or a fragment, before the SPI was read
    unknown_spi: int = 0        # no inbound SA with that SPI
    no_outbound_sa: int = 0     # protect() for a home address without an outbound SA


class SecurityPolicyDatabase:
    """SAs of one node, by SPI (inbound) and by home address (outbound). See the module docstring."""

    def __init__(self, sas: Iterable[SecurityAssociation] = ()):
        self._inbound: dict[int, SecurityAssociation] = {}
        # Outbound SAs by mode, then home address (no tuple key: hashing an Enum is a Python call).
        self._outbound: dict[Mode, dict[IPv6Address, SecurityAssociation]] = {mode: {} for mode in Mode}
        self._homes: dict[IPv6Address, int] = {}     # home address -> how many SAs are bound to it
        self.counters = SpdCounters()
        # Moves on every add and remove: what a holder derives from the SAs (an index by home address
        # and mode, roles/protection.py) is rebuilt when it changes.
        self.generation = 0
        for sa in sas:
            self.add(sa)

    def add(self, sa: SecurityAssociation) -> None:
        """Install ``sa``. Refuses a second inbound SA with the same SPI, a second outbound SA for the
        same home address and mode, and an SA whose key another SA already uses (with GCM two SAs on
        one key would both send IV/sequence 1, 2, ...; with any algorithm a reflected packet would
        verify)."""
        if not isinstance(sa, SecurityAssociation):
            raise TypeError(f"expected a SecurityAssociation, got {type(sa).__name__}")
        for other in self:
            if other is sa:
                raise ValueError(f"SA 0x{sa.spi:08x} is already installed")
            if sa._same_key(other):
                raise ValueError(f"SA 0x{sa.spi:08x} uses the same key as SA 0x{other.spi:08x}: "
                                 f"every SA needs its own key")
        if sa.direction is Direction.INBOUND:
            if sa.spi in self._inbound:
                raise ValueError(f"an inbound SA with SPI 0x{sa.spi:08x} is already installed")
            self._inbound[sa.spi] = sa
        else:
            by_home = self._outbound[sa.mode]
            if sa.home_address in by_home:
                raise ValueError(f"an outbound {sa.mode.value}-mode SA for {sa.home_address} is already "
                                 f"installed (SPI 0x{by_home[sa.home_address].spi:08x})")
            by_home[sa.home_address] = sa
        self._homes[sa.home_address] = self._homes.get(sa.home_address, 0) + 1
        self.generation += 1

    def remove(self, sa: SecurityAssociation) -> None:
        if self._inbound.get(sa.spi) is sa:
            del self._inbound[sa.spi]
        elif self._outbound[sa.mode].get(sa.home_address) is sa:
            del self._outbound[sa.mode][sa.home_address]
        else:
            raise KeyError(f"SA 0x{sa.spi:08x} is not installed")
        left = self._homes[sa.home_address] - 1
        if left:
            self._homes[sa.home_address] = left
        else:
            del self._homes[sa.home_address]
        self.generation += 1

    def inbound_sa(self, spi: int) -> SecurityAssociation | None:
        return self._inbound.get(spi)

    def outbound_sa(self, home_address: Address, mode: Mode = Mode.TRANSPORT) -> SecurityAssociation | None:
        # Per packet: no conversion when the caller already holds the right types.
        if type(home_address) is not IPv6Address:
            home_address = IPv6Address(home_address)
        return self._outbound[mode if type(mode) is Mode else Mode(mode)].get(home_address)

    def has_policy(self, home_address: Address) -> bool:
        """Whether any SA is bound to ``home_address``: its BUs/BAs must then be ESP-protected."""
        return (home_address if type(home_address) is IPv6Address else IPv6Address(home_address)) in self._homes

    def home_addresses(self) -> frozenset[IPv6Address]:
        return frozenset(self._homes)

    def protect(self, packet: bytes, home_address: Address, mode: Mode = Mode.TRANSPORT) -> bytes:
        """``esp.protect`` under the outbound SA for ``home_address`` (NoSecurityAssociation if none)."""
        sa = self.outbound_sa(home_address, mode)
        if sa is None:
            self.counters.no_outbound_sa += 1
            raise NoSecurityAssociation(f"no outbound {Mode(mode).value}-mode SA for "
                                        f"{IPv6Address(home_address)}")
        return esp.protect(packet, sa)

    def unprotect(self, packet: bytes) -> esp.Unprotected:
        """``esp.unprotect`` with this database's inbound SAs; refusals before an SA is found are
        counted here, the others on the SA. Raises only ``EspError``s."""
        try:
            return esp.unprotect(packet, self._inbound.get)
        except UnknownSpi:
            self.counters.unknown_spi += 1
            raise
        except EspError as exc:
            if exc.spi is None:          # refused before any SA was involved
                if exc.reason == "not_protected":
                    self.counters.not_protected += 1
                else:
                    self.counters.malformed += 1
            raise

    def __iter__(self) -> Iterator[SecurityAssociation]:
        yield from list(self._inbound.values())
        for by_home in self._outbound.values():
            yield from list(by_home.values())

    def __len__(self) -> int:
        return len(self._inbound) + sum(len(by_home) for by_home in self._outbound.values())

    def stats(self) -> dict[str, object]:
        """Counters and every SA's ``stats()`` (no keys)."""
        sas: list[dict[str, object]] = [sa.stats() for sa in self]
        return {**asdict(self.counters), "security_associations": sas}

    def __repr__(self) -> str:
        return (f"SecurityPolicyDatabase({len(self._inbound)} inbound, {len(self) - len(self._inbound)} outbound, "
                f"home addresses: {', '.join(sorted(str(a) for a in self.home_addresses())) or 'none'})")
