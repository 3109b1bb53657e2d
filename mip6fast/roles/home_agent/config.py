"""What a home agent serves: ``HomeAgentConfig`` (RFC 6275 §10.1, §10.3.1)."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

__all__ = ["BindingAclEntry", "HomeAgentConfig"]


@dataclass(frozen=True)
class BindingAclEntry:
    """One rule of the binding ACL (as UMIP's): home addresses in ``home`` may register, from care-of
    addresses in one of ``care_of`` (empty: from anywhere)."""
    home: IPv6Network
    care_of: tuple[IPv6Network, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "home", IPv6Network(self.home))
        care_of = self.care_of
        if isinstance(care_of, (str, IPv6Network)):
            care_of = (care_of,)
        object.__setattr__(self, "care_of", tuple(IPv6Network(p) for p in care_of))

    def allows(self, home: IPv6Address, care_of: IPv6Address) -> bool | None:
        """None: the rule is not about ``home``; else whether ``care_of`` may register it."""
        if home not in self.home:
            return None
        return not self.care_of or any(care_of in p for p in self.care_of)


@dataclass(frozen=True)
class HomeAgentConfig:
    """What a home agent serves (RFC 6275 §10.1, §10.3.1).

    ``max_lifetime`` caps granted binding lifetimes (seconds). ``preference`` goes in the Home Agent
    Information option and in this agent's own home agents list entry (§7.4, §10.1). With
    ``virtual_home_link`` there is no physical home link: no proxy ND and no DAD (§10.4.1 has nothing
    to defend). ``refresh_lead``: send a Binding Refresh Request this many seconds before a binding
    expires, and advise the refresh interval in the BA (None: neither). ``max_bindings``: more
    registrations are refused with status 130. ``unauthenticated_registrations``: with a security
    policy database, a BU for a home address without a policy of its own is accepted unprotected
    (otherwise every BU must arrive under its home address's SA; issue 11). A daemon without any
    protection starts only with this set (labs, tests). ``binding_acl``: which home addresses may
    register at all, and optionally from which care-of prefixes (the first rule about a home address
    decides; none: refused); a request it refuses gets status 129 (administratively prohibited). None:
    every home address on a home prefix. Reloadable on SIGHUP; bindings it no longer allows stay until
    they expire or are refreshed (then refused)."""
    interface: str
    home_prefixes: tuple[IPv6Network, ...]
    address: IPv6Address
    max_lifetime: int = 420
    preference: int = 0
    virtual_home_link: bool = False
    refresh_lead: int | None = None
    dad: bool = True
    tunnel_mtu: int = 1500
    max_bindings: int = 1 << 16
    unauthenticated_registrations: bool = False
    binding_acl: tuple[BindingAclEntry, ...] | None = None

    def __post_init__(self):
        prefixes = self.home_prefixes
        if isinstance(prefixes, (str, IPv6Network)):
            prefixes = (prefixes,)
        object.__setattr__(self, "home_prefixes", tuple(IPv6Network(p) for p in prefixes))
        object.__setattr__(self, "address", IPv6Address(self.address))
        if self.binding_acl is not None:
            object.__setattr__(self, "binding_acl", tuple(
                e if isinstance(e, BindingAclEntry) else BindingAclEntry(**e) for e in self.binding_acl))
        if not self.home_prefixes:
            raise ValueError("home_prefixes: at least one home prefix")
        if not any(self.address in p for p in self.home_prefixes):
            raise ValueError(f"address: {self.address} is not on a home prefix")
        if not -32768 <= self.preference <= 32767:
            raise ValueError("preference: a signed 16-bit value (RFC 6275 §7.4)")
        if not 4 <= self.max_lifetime <= 0xFFFF * 4:
            raise ValueError("max_lifetime: 4 .. 262140 seconds (16 bits of 4-second units, §6.1.7)")
        if self.refresh_lead is not None and self.refresh_lead <= 0:
            raise ValueError("refresh_lead: a positive number of seconds, or None")
