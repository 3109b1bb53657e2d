"""Source address selection for a mobile node away from home, and the site-local scope rule.

Short-lived flows (the chapter in ``/work/shared/seed``, §3.2.6 "Source Address Selection in Mobile
Nodes"; RFC 6275 §11.3.1 leaves the choice to the implementation): a mobile node's home address keeps
a flow alive across movement, at the price of the trip through the home agent. A flow known to be short
— a DNS query and its answer, recognised by the well-known port — is not expected to outlive the
care-of address, so it can use the care-of address as its source and be routed natively both ways.
``SourcePolicy`` says which flows those are (UDP/TCP to port 53 by default, configurable).

Site-local addresses (fec0::/10, deprecated by RFC 3879; the chapter's §3.5 "Site-Local Addresses and
Mobile IPv6"): a mobile node cannot tell from a Router Advertisement whether a new link is still in its
home site, so a site-local address it forms there may mean something else than at home. The rule kept
here: site-local addresses are not used across sites unless configured (``allow_site_local``, default
off — the data path's ``TUN_ALLOW_SITE_LOCAL``); when they are, a care-of address's scope must be at
least its home address's (a site-local care-of address only with site-local home addresses), and a
site-local care-of address only when no global one is offered.
"""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

__all__ = ["DEFAULT_SOURCE_POLICY", "NH_TCP", "NH_UDP", "SITE_LOCAL", "SourcePolicy", "care_of_prefixes",
           "is_site_local"]

NH_TCP = 6
NH_UDP = 17
SITE_LOCAL = IPv6Network("fec0::/10")      # RFC 3513 §2.5.6, deprecated by RFC 3879


def is_site_local(value) -> bool:
    """An address or prefix inside fec0::/10."""
    if isinstance(value, IPv6Network):
        return value.subnet_of(SITE_LOCAL)
    return IPv6Address(value) in SITE_LOCAL


@dataclass(frozen=True)
class SourcePolicy:
    """Which flows are short-lived: ``protocols`` (IPv6 next-header values) to one of ``ports`` (the
    destination port). Such flows use the care-of address as source while away from home; every other
    flow uses the home address (through the home agent, or route-optimised)."""
    ports: frozenset[int] = frozenset({53})            # DNS (RFC 1035 §4.2: UDP and TCP)
    protocols: frozenset[int] = frozenset({NH_UDP, NH_TCP})

    def __post_init__(self):
        object.__setattr__(self, "ports", frozenset(self.ports))
        object.__setattr__(self, "protocols", frozenset(self.protocols))
        if any(not 0 <= p <= 0xFFFF for p in self.ports):
            raise ValueError("ports are 16-bit numbers")
        if any(not 0 <= p <= 0xFF for p in self.protocols):
            raise ValueError("protocols are 8-bit next-header values")

    def short_lived(self, protocol: int | None, dst_port: int | None) -> bool:
        return protocol in self.protocols and dst_port in self.ports


DEFAULT_SOURCE_POLICY = SourcePolicy()


def care_of_prefixes(prefixes, home_addresses, allow_site_local: bool) -> list[IPv6Network]:
    """The on-link prefixes of a new link a care-of address may be formed on, best first: global ones
    (sorted, for a deterministic choice); site-local ones only when allowed, only when every home address
    is site-local too (a care-of address's scope is at least its home address's) and only when no global
    prefix is offered (chapter §3.5)."""
    global_ = sorted(p for p in prefixes if not is_site_local(p))
    if global_ or not allow_site_local:
        return global_
    if not all(is_site_local(h) for h in home_addresses):
        return []
    return sorted(p for p in prefixes if is_site_local(p))
