"""The mobile node's configuration: its home addresses (``HomeAddressConfig``) and everything else
(``MobileNodeConfig``), with the RFC 6275 §12 defaults. ``mobile_node`` re-exports both."""
from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from .events import NS_PER_S
from .interface import LINK_LOCAL
from .registration import (
    INITIAL_BINDACK_TIMEOUT,
    INITIAL_BINDACK_TIMEOUT_FIRST_REG,
    MAX_BINDACK_TIMEOUT,
    MAX_UPDATE_RATE,
    Backoff,
)
from .route_optimization import RouteOptimizationConfig
from .source_policy import DEFAULT_SOURCE_POLICY, SourcePolicy, is_site_local

__all__ = [
    "DHAAD_RETRIES", "INITIAL_DHAAD_TIMEOUT", "INITIAL_SOLICIT_TIMER", "MAX_LIFETIME", "HomeAddressConfig",
    "MobileNodeConfig",
]

# RFC 6275 §12 (PROTOCOL.md "Constants and defaults"), in ns.
INITIAL_DHAAD_TIMEOUT = 3 * NS_PER_S
DHAAD_RETRIES = 4
INITIAL_SOLICIT_TIMER = 3 * NS_PER_S
MAX_LIFETIME = 65535 * 4               # seconds: the largest lifetime a BU carries (§6.1.7)


@dataclass(frozen=True)
class HomeAddressConfig:
    """One home address, its home prefix length and its home agent (None: found by Dynamic Home Agent
    Address Discovery, §11.4.1, see ``mn_discovery``). ``valid_until``: the home address's valid
    lifetime as an absolute ns deadline (None: infinite); a BU never asks for more (§11.7.1)."""
    address: IPv6Address
    home_agent: IPv6Address | None = None
    prefix_length: int = 64
    valid_until: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "address", IPv6Address(self.address))
        if self.home_agent is not None:
            object.__setattr__(self, "home_agent", IPv6Address(self.home_agent))
        if not 0 < self.prefix_length <= 128:
            raise ValueError(f"prefix_length {self.prefix_length} is not in 1..128")
        if self.address in LINK_LOCAL or self.address.is_multicast:
            raise ValueError(f"{self.address} cannot be a home address (§11.5.2: a global unicast address)")

    @property
    def prefix(self) -> IPv6Network:
        return IPv6Network((self.address, self.prefix_length), strict=False)


@dataclass(frozen=True)
class MobileNodeConfig:
    """``interface``: the mobile interface; ``homes``: the home addresses; ``lifetime``: the binding
    lifetime asked for, in seconds; timeouts in ns (RFC 6275 §12-13 defaults); ``max_update_rate``: BUs
    per second per destination; ``lower_layer_hints``: whether a carrier-up on the mobile interface
    triggers a Router Solicitation (§11.5.1), sent at once, without RFC 4861 §6.3.7's random initial
    delay (``NeighborDiscovery.solicit_at_once``); ``route_optimization``: the per-correspondent policy
    (roles/route_optimization.py; the default never optimises); ``source_policy``: the flows that use
    the care-of address as source (``source_address``); ``allow_site_local``: whether site-local
    addresses are used across sites at all (default off, ``source_policy.py``); ``fallback_to_discovery``:
    a configured home agent that leaves the BUs unanswered through the §11.8 schedule (up to
    ``max_bindack_timeout`` and one BU at it) is replaced by Dynamic Home Agent Address Discovery
    (§11.4.1; False: retransmit at that rate indefinitely, §11.8). ``initial_dhaad_timeout`` /
    ``dhaad_retries`` / ``initial_solicit_timeout``:
    §12 (in ns). ``movement_on_reattachment`` (default on): when the carrier came back and the first RA
    is from another router with new prefixes, that is movement at once (a hint trusted to decide,
    §11.5.1); off, the old router must first fail NUD (seconds). It is safe where a carrier-up means a
    new attachment, as on radio links and re-plugged cables. Turn it off where the carrier can flap on
    one link served by several routers with different prefixes and the first RA after the flap may
    come from another of them: the node would then register a care-of address on that router's prefix
    (usable, the router is on the link, but a BU the move did not need). Without a carrier change it
    plays no part: an RA with a new prefix still waits for NUD of the current router (several routers
    on one link are not movement). ``movement_probes`` (default 1): when another router advertises a
    new prefix, how many unanswered unicast probes of the current router mean it is gone (RFC 6059's
    idea: ask the old router at once instead of waiting; 3, RFC 4861's MAX_UNICAST_SOLICIT, is plain
    NUD, seconds). One lost probe on a link with several routers costs only an unneeded BU (the new
    router is on the link). ``unauthenticated_registrations``: the mobile node
    daemon starts without keys (ESP or RFC 4285) for its home registrations only with this set (issue
    11; the role itself protects what its security policy database and RFC 4285 credentials cover).
    ``optimistic_dad``: the addresses SLAAC forms on the mobile interface (care-of addresses) are used
    while their duplicate address detection runs (RFC 4429), so the Binding Update leaves the moment
    the care-of address exists rather than a RetransTimer later; a collision found afterwards gives a
    new care-of address and a new BU (``mn_movement``). Home addresses are unaffected (§11.5.5)."""
    interface: str
    homes: tuple[HomeAddressConfig, ...]
    lifetime: int = 600
    first_registration_timeout: int = INITIAL_BINDACK_TIMEOUT_FIRST_REG
    initial_bindack_timeout: int = INITIAL_BINDACK_TIMEOUT
    max_bindack_timeout: int = MAX_BINDACK_TIMEOUT
    max_update_rate: int = MAX_UPDATE_RATE
    lower_layer_hints: bool = True
    route_optimization: RouteOptimizationConfig = field(default_factory=RouteOptimizationConfig)
    source_policy: SourcePolicy = DEFAULT_SOURCE_POLICY
    allow_site_local: bool = False
    fallback_to_discovery: bool = True
    initial_dhaad_timeout: int = INITIAL_DHAAD_TIMEOUT
    dhaad_retries: int = DHAAD_RETRIES
    initial_solicit_timeout: int = INITIAL_SOLICIT_TIMER
    movement_on_reattachment: bool = True
    movement_probes: int = 1
    unauthenticated_registrations: bool = False
    optimistic_dad: bool = True

    def __post_init__(self):
        homes = tuple(self.homes)
        if not homes:
            raise ValueError("at least one home address")
        if len({h.address for h in homes}) != len(homes):
            raise ValueError("home addresses must differ")
        object.__setattr__(self, "homes", homes)
        if not 0 < self.lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime must be in 1..{MAX_LIFETIME} s")
        if not 0 < self.initial_bindack_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < initial_bindack_timeout <= max_bindack_timeout")
        if not 0 < self.first_registration_timeout <= self.max_bindack_timeout:
            raise ValueError("need 0 < first_registration_timeout <= max_bindack_timeout")
        if self.max_update_rate < 1:
            raise ValueError("max_update_rate must be at least 1")
        if not 1 <= self.movement_probes <= 3:
            raise ValueError("movement_probes must be 1..3 (3: RFC 4861's MAX_UNICAST_SOLICIT)")
        if self.initial_dhaad_timeout <= 0 or self.dhaad_retries < 0 or self.initial_solicit_timeout <= 0:
            raise ValueError("need initial_dhaad_timeout > 0, dhaad_retries >= 0, initial_solicit_timeout > 0")
        if not self.allow_site_local and any(is_site_local(h.address) for h in homes):
            # Site-local addresses are not used across sites by default (RFC 3879, chapter §3.5).
            raise ValueError("a site-local home address needs allow_site_local=True")

    @property
    def bu_schedule(self) -> Backoff:
        """§11.8 for every BU of this node (home agents and correspondents alike)."""
        return Backoff(self.initial_bindack_timeout, self.max_bindack_timeout, first=self.first_registration_timeout)

    @property
    def dhaad_backoff(self) -> Backoff:
        """§11.4.1, §12: INITIAL_DHAAD_TIMEOUT doubling (``dhaad_retries`` retransmissions)."""
        return Backoff(self.initial_dhaad_timeout)

    @property
    def solicit_backoff(self) -> Backoff:
        """§11.4.2: INITIAL_SOLICIT_TIMER doubling; given up once it would pass MAX_BINDACK_TIMEOUT."""
        return Backoff(self.initial_solicit_timeout, self.max_bindack_timeout)
