"""What a home agent serves: ``HomeAgentConfig`` (RFC 6275 §10.1, §10.3.1)."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

__all__ = ["DEFAULT_MAX_HOME_AGENTS", "DEFAULT_REPLY_RATE", "MAX_HOME_AGENTS_LIMIT", "MAX_REPLY_RATE",
           "BindingAclEntry", "HomeAgentConfig"]

# The home agents list's default bound: a DHAAD reply lists at most 77 addresses (the IPv6 minimum MTU),
# and a home link with more than a few dozen home agents is a misconfiguration or an attack.
DEFAULT_MAX_HOME_AGENTS = 64
MAX_HOME_AGENTS_LIMIT = 65536
# DHAAD replies and solicited Mobile Prefix Advertisements: 10 per second, 10 at once, by default (the
# Binding Errors' shape, rate_limit.TokenBucket); a rate or burst is 1 .. MAX_REPLY_RATE.
DEFAULT_REPLY_RATE = 10
MAX_REPLY_RATE = 1_000_000

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
    registrations (bindings plus first registrations waiting for DAD) are refused with status 130.
    ``max_home_agents``: at most this many other home agents in the home agents list (§10.1, learned
    from RAs with the H flag); RAs from further ones are counted (``home_agents.refused``) and ignored.
    ``dhaad_reply_rate`` / ``dhaad_reply_burst`` and ``mpa_reply_rate`` / ``mpa_reply_burst``: token
    buckets (per second, at most that many at once) for the replies to DHAAD requests (§10.5) and to
    Mobile Prefix Solicitations (§10.6.2); what is over the limit is dropped and counted
    (``drop.dhaad_rate_limited``, ``drop.mps_rate_limited``). ``unauthenticated_registrations``: with
    a security policy database or RFC 4285 credentials, a BU for a home address without protection of
    its own is accepted unprotected (otherwise every BU must arrive under its home address's SA, or
    carry its RFC 4285 authentication; issue 11). A daemon without any protection starts only with this
    set (labs, tests). ``binding_acl``: which home
    addresses may register at all, and optionally from which care-of prefixes (the first rule about a
    home address decides; none: refused); a request it refuses gets status 129 (administratively
    prohibited). None: every home address on a home prefix. Reloadable on SIGHUP; bindings it no longer
    allows stay until they expire or are refreshed (then refused)."""
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
    max_home_agents: int = DEFAULT_MAX_HOME_AGENTS
    dhaad_reply_rate: int = DEFAULT_REPLY_RATE
    dhaad_reply_burst: int = DEFAULT_REPLY_RATE
    mpa_reply_rate: int = DEFAULT_REPLY_RATE
    mpa_reply_burst: int = DEFAULT_REPLY_RATE
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
        if not 0 <= self.max_home_agents <= MAX_HOME_AGENTS_LIMIT:
            raise ValueError(f"max_home_agents: 0 .. {MAX_HOME_AGENTS_LIMIT} other home agents "
                             f"(0: list none but this one), got {self.max_home_agents}")
        for name in ("dhaad_reply_rate", "dhaad_reply_burst", "mpa_reply_rate", "mpa_reply_burst"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPLY_RATE:
                raise ValueError(f"{name}: 1 .. {MAX_REPLY_RATE} (a token bucket's rate per second or "
                                 f"burst), got {value!r}")
