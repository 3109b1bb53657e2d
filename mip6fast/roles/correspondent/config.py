"""How a correspondent node behaves: ``CorrespondentConfig`` (RFC 6275 §9) and its defaults."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...wire import BindingUpdate, Packet
from ...wire.return_routability import MAX_RR_BINDING_LIFETIME
from ..events import NS_PER_S

__all__ = ["DEFAULT_MAX_BINDINGS", "MAX_RR_BINDING_LIFETIME", "CorrespondentConfig", "accept_every_binding_update"]

DEFAULT_MAX_BINDINGS = 1 << 16         # bindings a correspondent holds at most (see max_bindings)


def accept_every_binding_update(now: int, packet: Packet, bu: BindingUpdate) -> bool:
    """An acceptance check that authorises every Binding Update: what ``unauthenticated_bindings``
    means. Only for tests and closed networks: RFC 6275 §9.5.1 requires return routability (Nonce
    Indices and a correct Binding Authorization Data option) before a correspondent accepts a binding,
    and that is the default."""
    return True


@dataclass(frozen=True)
class CorrespondentConfig:
    """How a correspondent node behaves.

    - ``mobility_support``: False makes a node without Mobile IPv6 (see ``node.py``).
    - Return routability authorises a route-optimisation Binding Update by default (§5.2, §9.5.1): it
      must carry Nonce Indices and a correct Binding Authorization Data option, else it is discarded
      silently. ``unauthenticated_bindings`` (the configuration file's switch, lab only) or an
      ``accept_binding_update(now, packet, bu) -> bool`` check (tests, closed networks) lets a BU
      without those options in instead: the check decides (False discards it silently), and
      ``unauthenticated_bindings`` alone accepts every one (``accept_every_binding_update``). A BU that
      does carry them is held to return routability either way.
    - ``rr_reply_rate`` / ``rr_reply_burst``: token bucket for Home Test and Care-of Test answers (and
      BAs with status 136-138), which answer messages nothing authenticates.
    - ``max_binding_lifetime``: seconds, capped at MAX_RR_BINDING_LIFETIME and rounded down to the
      4-second unit of the wire (§6.1.7, §5.2.6).
    - ``binding_error_rate`` / ``binding_error_burst``: token bucket for Binding Errors and for the
      ICMPv6 errors this role adds (§9.3.1 "rate-limited"; RFC 4443 §2.4 f).
    - ``refresh_requests``: send a Binding Refresh Request ``refresh_lead_ns`` before an entry expires,
      if the data path used it since it was last registered (§9.5.5).
    - ``cache_capacity``: the binding cache's sizing hint (it grows past it, up to ``max_bindings``;
      a hint above ``max_bindings`` is cut to it).
    - ``cache_seed``: the key of the binding cache's hash (SipHash-1-3). None, the default, draws it from
      the kernel's CSPRNG for each node; an int fixes it, for reproducible layouts in tests only: a
      sender who knows the seed can search offline for home addresses that share a bucket.
    - ``max_bindings``: a Binding Update that would create a binding beyond this many is refused with
      status 130 (insufficient resources, §6.1.8; answered whether or not A is set, §9.5.4) and counted
      (``bu.refused.max_bindings``); refreshes, moves and de-registrations of existing bindings are not
      affected. The default, 65,536, is the home agent's: every binding also holds role-side timers
      (about 0.6 KB of Python objects with its C entry), so a flood of authorised BUs costs at most a
      few tens of MB.
    """
    mobility_support: bool = True
    accept_binding_update: Callable[[int, Packet, BindingUpdate], bool] | None = None
    unauthenticated_bindings: bool = False
    max_binding_lifetime: int = MAX_RR_BINDING_LIFETIME
    binding_error_rate: int = 10
    binding_error_burst: int = 10
    rr_reply_rate: int = 100
    rr_reply_burst: int = 100
    refresh_requests: bool = False
    refresh_lead_ns: int = 10 * NS_PER_S
    cache_capacity: int = 1024
    cache_seed: int | None = None
    max_bindings: int = DEFAULT_MAX_BINDINGS

    def __post_init__(self):
        if not 0 <= self.max_binding_lifetime:
            raise ValueError("max_binding_lifetime must not be negative")
        if self.binding_error_rate < 1 or self.binding_error_burst < 1:
            raise ValueError("binding_error_rate and binding_error_burst must be at least 1")
        if self.rr_reply_rate < 1 or self.rr_reply_burst < 1:
            raise ValueError("rr_reply_rate and rr_reply_burst must be at least 1")
        if self.refresh_lead_ns < 0:
            raise ValueError("refresh_lead_ns must not be negative")
        if self.max_bindings < 1:
            raise ValueError("max_bindings must be at least 1")

    @property
    def unauthenticated_check(self) -> Callable[[int, Packet, BindingUpdate], bool] | None:
        """What lets a BU without return routability in: None (the default) when nothing does."""
        if self.accept_binding_update is not None:
            return self.accept_binding_update
        return accept_every_binding_update if self.unauthenticated_bindings else None

    @property
    def lifetime_cap(self) -> int:
        """The largest lifetime granted, in seconds: ≤ 420 and a multiple of 4 (§6.1.7 units)."""
        return min(self.max_binding_lifetime, MAX_RR_BINDING_LIFETIME) // 4 * 4
