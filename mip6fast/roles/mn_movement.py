"""Movement detection on the mobile node (RFC 6275 §11.5.1), its care-of address (§11.5.2) and
noticing the home link (§11.5.5), sans-I/O.

Theory of operation
-------------------
``MovementDetector`` is an object the ``MobileNode`` holds for its mobile interface. It decides from
three inputs:

- Router Advertisements seen on the mobile interface (after ``NeighborDiscovery`` validated and
  processed them): which router advertised which on-link prefixes (``router_advertised``; before ND
  sees one advertising a home prefix, ``install_home_addresses`` puts the home address back);
- neighbour-discovery notifications (``RouterUnreachable``, ``RouterOverdue``, ``AddressReady``,
  ``AddressDuplicate``), which the node collects while an entry point runs and hands over (``react``)
  when it ends, so that ND has finished its own work first;
- lower-layer hints (``link_changed``).

The node keeps a *current router* (link-local address) and the prefixes known on the current link. An
RA from another router that advertises only known prefixes is another router on the same link. An RA
with a new prefix makes that router a *candidate*: the node checks the current router with Neighbor
Unreachability Detection (unicast NS, RFC 4861 §7.3.3); only when the current router is lost (NUD
failed, or its lifetime ran out) while a candidate with a new prefix exists has the node moved.
``RouterOverdue`` (the Advertisement Interval option, RFC 6275 §7.3) starts the same check and a Router
Solicitation; a lower-layer hint (``link_changed`` up) solicits at once, and with
``movement_on_reattachment`` (the default) the first RA after the carrier came back decides: from
another router with new prefixes, the node has moved, without NUD of the old router. An RA advertising a
home prefix means the node is on its home link (§11.5.5). When the current router is lost and another
router already known on the link takes over, that is not movement, but if no router left advertises
the care-of address's prefix the node takes a care-of address on the new router's prefix.

Care-of address (§11.5.2): the SLAAC address ND forms on the new link's prefix (the scope rule of
source_policy.py applies); it is used once DAD passed (``AddressReady``), or at once while DAD runs
when it is optimistic (RFC 4429, ``optimistic_dad``, the default). Then ``Moved(old_coa, new_coa)``
and the node's ``care_of_ready`` (the registrations follow). DAD finding it in use, before or after it
was registered, gives a replacement on the same prefix (another interface identifier) and a new
registration.

Several home addresses, each on its own home link: "at home" is per home address (``at_home``;
``location`` only says whether the current link is the home link of some address). On the home link of
home address 1, once it is de-registered, home address 1 is the care-of address of the others
(``home_link_care_of``, §4.1).

The detector tells the node, through the callables it is given: ``moved(now)`` (the node is on a new
foreign link; nothing registered is usable), ``care_of_ready(now, address)`` (a new care-of address
to register), ``arrived_home(now, homes, left)`` (the home link of ``homes``; ``left``: the home
addresses whose home link the node was on before); it asks ``homes()`` for the home addresses and
``deregistered(address)`` whether a home address's binding is gone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv6Address, IPv6Network

from ..wire import (
    ALL_ROUTERS,
    Packet,
    PrefixInformation,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
)
from .events import NodeServices, Notification
from .interface import LINK_LOCAL, UNSPECIFIED, AddressState, Interface, slaac_address
from .mn_config import HomeAddressConfig, MobileNodeConfig
from .neighbor import (
    MAX_UNICAST_SOLICIT,
    ND_HOP_LIMIT,
    AddressDuplicate,
    AddressReady,
    NeighborDiscovery,
    NeighborState,
    RouterOverdue,
    RouterUnreachable,
)
from .source_policy import care_of_prefixes, is_site_local

__all__ = ["Location", "Moved", "MovementDetector", "ReturnedHome"]


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class Moved(Notification):
    """The node has a new care-of address on a new foreign link (old_coa None: it came from home or
    had none), or on the same link when the router serving the old one's prefix is gone."""
    old_coa: IPv6Address | None
    new_coa: IPv6Address


@dataclass(frozen=True)
class ReturnedHome(Notification):
    """An RA advertised the home prefix of ``home_address``: the node is on its home link (§11.5.5)."""
    home_address: IPv6Address


# ---------------------------------------------------------------- state

class Location(Enum):
    UNKNOWN = "unknown"
    HOME = "home"
    AWAY = "away"


@dataclass
class _Link:
    """What movement detection knows about the link the node is on."""
    router: IPv6Address | None = None                                   # current default router
    prefixes: set[IPv6Network] = field(default_factory=set)             # on-link prefixes seen here
    routers: dict[IPv6Address, set[IPv6Network]] = field(default_factory=dict)
    candidate: IPv6Address | None = None                                # router with a new prefix
    probing: bool = False                                               # NUD of the current router


# ---------------------------------------------------------------- the detector

class MovementDetector:
    """Movement detection and the care-of address for the mobile interface (see the module doc)."""

    def __init__(self, node: NodeServices, config: MobileNodeConfig, iface: Interface, nd: NeighborDiscovery, *,
                 homes: Callable[[], tuple[HomeAddressConfig, ...]],
                 emit_nd: Callable[..., None],
                 moved: Callable[[int], None],
                 care_of_ready: Callable[[int, IPv6Address], None],
                 arrived_home: Callable[[int, list[HomeAddressConfig], set[IPv6Address]], None],
                 deregistered: Callable[[IPv6Address], bool]):
        self.node = node
        self.config = config
        self.iface = iface
        self.nd = nd
        self._homes = homes
        self._emit_nd = emit_nd
        self._moved = moved
        self._care_of_ready_hook = care_of_ready
        self._arrived_home = arrived_home
        self._deregistered = deregistered
        self.location = Location.UNKNOWN
        self.care_of: IPv6Address | None = None
        self.pending_coa: IPv6Address | None = None
        self.link = _Link()
        # The home addresses whose home link the node is on. With several home addresses on separate
        # home links, one's home link is a foreign link for the others, so "at home" is per address;
        # ``location`` says what kind of link the node is on (HOME: the home link of some address).
        self.at_home: set[IPv6Address] = set()
        # Lower-layer hints (§11.5.1): the carrier went away, then came back (a re-association, maybe
        # with another access point and router); cleared by the first RA that says where we are.
        self.carrier_lost = False
        self.reattached = False

    def _count(self, what: str) -> None:
        self.node.counters[f"mn.{what}"] += 1

    def _home_for_prefixes(self, prefixes) -> list[HomeAddressConfig]:
        return [h for h in self._homes() if h.prefix in prefixes]

    def away_for(self, home: IPv6Address) -> bool:
        return self.location is not Location.UNKNOWN and home not in self.at_home

    def forget_home(self, address: IPv6Address) -> None:
        """``address`` is no longer a home address."""
        self.at_home.discard(address)

    # ------------------------------------------------------------ inputs

    def react(self, event: Notification) -> None:
        """A neighbour discovery notification about the mobile interface, once ND's work is done."""
        now = event.now
        if isinstance(event, RouterUnreachable):
            self._router_lost(now, event.router)
        elif isinstance(event, RouterOverdue):
            if event.router == self.link.router:
                # §11.5.1 with the Advertisement Interval option (§7.3): an RA is overdue; solicit and
                # check the router's reachability.
                self._count("movement.router_overdue")
                self.solicit(now)
                self._probe_router(now)
        elif isinstance(event, AddressReady):
            if event.address == self.pending_coa:
                self._use_care_of(now, event.address)
        elif isinstance(event, AddressDuplicate) and event.address in (self.pending_coa, self.care_of):
            self._care_of_duplicate(now, event.address)

    def link_changed(self, now: int) -> None:
        """A lower-layer hint (§11.5.1) only triggers a Router Solicitation, at once; movement is decided
        by what the routers say (with ``movement_on_reattachment``, the first RA after it). ND solicits
        by itself when it knows no router (at once too, ``solicit_at_once``), so only the case where it
        still lists the old link's routers needs one here."""
        if not self.config.lower_layer_hints:
            return
        if not self.iface.up:
            self.carrier_lost = True
            return
        self.reattached, self.carrier_lost = self.carrier_lost, False
        self._count("movement.link_hint")
        if self.nd.routers:
            self.solicit(now)

    def solicit(self, now: int) -> None:
        # RFC 4861 §6.3.7: from the link-local address with an SLLA once it is assigned, else from ::.
        ll = self.iface.addresses.get(self.iface.link_local)
        if ll is not None and ll.usable:
            self._emit_nd(self.iface.link_local, ALL_ROUTERS,
                          RouterSolicitation(options=(SourceLinkLayerAddress(self.iface.mac),)))
        else:
            self._emit_nd(UNSPECIFIED, ALL_ROUTERS, RouterSolicitation())

    @staticmethod
    def advertisement(packet: Packet) -> tuple[set[IPv6Network], bool] | None:
        """A Router Advertisement that counts for movement detection (hop limit 255, from a link-local
        address, code 0): its on-link prefixes and whether its sender is a default router; None for
        anything else."""
        msg = packet.payload
        if not (isinstance(msg, RouterAdvertisement) and packet.hop_limit == ND_HOP_LIMIT
                and packet.src in LINK_LOCAL and msg.code == 0):
            return None
        return ({o.network for o in msg.options
                 if isinstance(o, PrefixInformation) and o.on_link and o.valid_lifetime > 0},
                msg.router_lifetime > 0)

    def install_home_addresses(self, prefixes: set[IPv6Network]) -> None:
        """Before ND's SLAAC sees a home prefix: the home address goes back on the interface as a
        configured (not autoconfigured) address, without DAD (§11.5.5), so SLAAC leaves it."""
        for home in self._home_for_prefixes(prefixes):
            entry = self.iface.addresses.get(home.address)
            if entry is None or entry.autoconfigured:
                entry = self.iface.add_address(home.address, home.prefix_length, home.valid_until)
            entry.state = AddressState.PREFERRED

    def router_advertised(self, now: int, router: IPv6Address, prefixes: set[IPv6Network],
                          default_router: bool) -> None:
        """An RA on the mobile interface. The home prefix means home whoever advertises it (§11.5.5);
        for movement between foreign links only default routers count (§11.5.1)."""
        link = self.link
        homes = self._home_for_prefixes(prefixes)
        if homes:
            # On a home link, an unknown router advertising the home prefix of a home address the node
            # is away for: the home link of that address (another home link, or a second home prefix
            # on this one; either way the node is at home for it now, §11.5.5).
            other_home_link = (self.location is Location.HOME and router not in link.routers
                               and not {h.address for h in homes} <= self.at_home)
            if self.location is not Location.HOME or other_home_link:
                self._arrive_home(now, router if default_router else None, prefixes, homes)
            else:
                link.routers.setdefault(router, set()).update(prefixes)
                link.prefixes |= prefixes
                if link.router is None and default_router:
                    link.router = router
            return
        if not default_router:
            self._count("movement.ra_not_default_router")
            return
        if link.router is None:
            if self.location is Location.AWAY and prefixes and prefixes <= link.prefixes:
                # The same link again (its router came back, or another router of this link): not
                # movement; but the care-of address must still be reachable through a router here.
                link.router = router
                link.routers.setdefault(router, set()).update(prefixes)
                self._care_of_through(now, router)
                return
            if prefixes:
                self._move_to(now, router, prefixes)
            return
        if router == link.router or self._same_router(link.router, router):
            self.reattached = False            # back on the same link
            # The current router (a new link-local address with the same R-flag global address,
            # RFC 6275 §7.2, is the same router): new prefixes are renumbering, not movement.
            link.router = router
            link.routers.setdefault(router, set()).update(prefixes)
            link.prefixes |= prefixes
            return
        if prefixes <= link.prefixes:
            self.reattached = False
            link.routers.setdefault(router, set()).update(prefixes)   # another router, same link
            return
        if self.reattached and self.config.movement_on_reattachment:
            # The first RA after the carrier came back is from another router with new prefixes: the
            # lower layer re-attached us to another link (§11.5.1 lets such hints decide movement), so
            # no NUD of the old router, which is out of reach anyway (seconds of MAX_UNICAST_SOLICIT).
            self.reattached = False
            self._count("movement.reattached_elsewhere")
            self._move_to(now, router, prefixes)
            return
        current = self.nd.neighbors.get(link.router)
        if link.probing and current is not None and current.state is NeighborState.REACHABLE:
            # NUD confirmed the current router while this router advertised a new prefix: several
            # routers with different prefixes on one link, not movement (§11.5.1).
            self._count("movement.same_link_new_prefix")
            link.routers.setdefault(router, set()).update(prefixes)
            link.prefixes |= prefixes
            link.probing = False
            link.candidate = None
            return
        link.candidate = router
        link.routers[router] = set(prefixes)
        self._count("movement.candidate")
        self._probe_router(now)

    # ------------------------------------------------------------ routers

    def _same_router(self, a: IPv6Address, b: IPv6Address) -> bool:
        """Two link-local addresses of one router: their RAs carried the same global address in a
        Prefix Information option with the R flag (RFC 6275 §7.2, §11.5.1)."""
        ra, rb = self.nd.routers.get(a), self.nd.routers.get(b)
        return ra is not None and rb is not None and bool(ra.global_addresses & rb.global_addresses)

    def _probe_router(self, now: int) -> None:
        """Neighbor Unreachability Detection of the current router (RFC 4861 §7.3.3) started at once:
        its entry goes to PROBE; failure removes the router (``RouterUnreachable``). With a candidate
        router advertising new prefixes, ``movement_probes`` unanswered probes are failure (RFC 6059's
        idea: one RetransTimer instead of NUD's three by default)."""
        link = self.link
        if link.router is None:
            return
        entry = self.nd.neighbors.get(link.router)
        probes = self.config.movement_probes if link.candidate is not None else MAX_UNICAST_SOLICIT
        if entry is not None and entry.state is NeighborState.PROBE:
            self.nd.probe_now(now, link.router, probes)     # a candidate now: fewer probes left
            return
        if not self.nd.probe_now(now, link.router, probes):
            self.nd.forget_router(now, link.router, "nud_no_entry")
            return
        link.probing = True

    def _router_lost(self, now: int, router: IPv6Address) -> None:
        link = self.link
        link.routers.pop(router, None)
        if router == link.candidate:
            link.candidate = None
        if router != link.router:
            return
        link.router = None
        link.probing = False
        self._count("movement.router_lost")
        candidate = link.candidate
        if candidate is not None and candidate in self.nd.routers:
            self._move_to(now, candidate, link.routers.get(candidate, set()))
        else:
            self.solicit(now)

    def _forget_old_link(self, now: int, keep_router: IPv6Address | None, keep: set[IPv6Network]) -> None:
        """The old link's routers, prefixes and addresses go (§11.5.1: they are not on-link here; RFC
        4861 §5.2, RFC 5942 §4: an address on a prefix must not make that prefix on-link). Without this
        an address SLAAC formed on the home link stayed, and with it a route making the home prefix --
        and the home agent -- on-link on every foreign link. The home addresses are left to the home
        link handling (§11.5.5: taken off when leaving the home link, put back on returning)."""
        for router in list(self.nd.routers):
            if router != keep_router and router in self.link.routers:
                self.nd.forget_router(now, router, "movement")
        gone = self.link.prefixes - keep
        for prefix in gone:
            self.nd.forget_prefix(now, prefix)
        homes = {h.address for h in self._homes()}
        for address in [a.address for a in self.iface.addresses.values()
                        if a.address not in LINK_LOCAL and a.address not in homes
                        and a.address != self.care_of and a.address != self.pending_coa
                        and any(a.address in p for p in gone)]:
            self._count("movement.old_address_removed")
            self.iface.addresses.pop(address, None)

    # ------------------------------------------------------------ care-of address (§11.5.2)

    def _take_care_of(self, now: int, prefixes) -> bool:
        """The SLAAC address on the first usable /64 of ``prefixes`` becomes the pending care-of
        address (used at once if DAD already passed); False when there is none."""
        for prefix in prefixes:
            if prefix.prefixlen != 64:
                continue
            address = slaac_address(prefix, self.iface.mac)
            entry = self.iface.addresses.get(address)
            if entry is None or entry.state is AddressState.DUPLICATE:
                continue
            self.pending_coa = address
            if entry.usable:
                self._use_care_of(now, address)
            return True
        return False

    def _care_of_duplicate(self, now: int, address: IPv6Address) -> None:
        """DAD found the (pending or current) care-of address in use (RFC 4862 §5.4.5: it is not used).
        With optimistic DAD (RFC 4429) it may have been registered already: ND forms a replacement on
        the same prefix (another interface identifier), which becomes the care-of address -- ``Moved``
        and a new BU at once if it is optimistic, after its DAD otherwise."""
        self._count("coa_duplicate")
        if address == self.care_of:
            self._count("coa_duplicate_after_use")    # RFC 4429 §3.2: a collision found afterwards
        if address == self.pending_coa:
            self.pending_coa = None
        replacement = self.nd.replace_duplicate(now, address)
        if replacement is None:
            self._count("no_care_of_address")
            return
        self.pending_coa = replacement
        entry = self.iface.addresses.get(replacement)
        if entry is not None and entry.usable:
            self._use_care_of(now, replacement)

    def _care_of_through(self, now: int, router: IPv6Address) -> None:
        """``router`` is now the default router of the link the node was already on. If no router left
        on the link advertises the care-of address's prefix (the one that did is gone), packets for the
        care-of address have no way in: take a care-of address on one of ``router``'s prefixes and
        register it (§11.5.2: a new primary care-of address), as after a move."""
        coa = self.care_of
        if coa is None or any(coa in p for prefixes in self.link.routers.values() for p in prefixes):
            return
        self._count("movement.care_of_prefix_lost")
        usable = care_of_prefixes(self.link.routers.get(router, set()), [h.address for h in self._homes()],
                                  self.config.allow_site_local)
        if not self._take_care_of(now, usable):
            self._count("no_care_of_address")

    def _move_to(self, now: int, router: IPv6Address, prefixes: set[IPv6Network]) -> None:
        """The node is on a new foreign link served by ``router``."""
        self._count("movement.moved")
        self._forget_old_link(now, router, prefixes)
        if self.location is Location.HOME:
            for home in self._homes():
                self.iface.addresses.pop(home.address, None)
            self.at_home.clear()
        self.location = Location.AWAY
        self.link = _Link(router, set(prefixes), {router: set(prefixes)})
        old = self.care_of
        if old is not None and not any(old in p for p in prefixes):
            self.iface.addresses.pop(old, None)       # the old care-of address is not valid here
        self._moved(now)
        self.pending_coa = None
        usable = care_of_prefixes(prefixes, [h.address for h in self._homes()], self.config.allow_site_local)
        if len(usable) < len(prefixes) and any(is_site_local(p) for p in prefixes - set(usable)):
            self._count("coa_site_local_refused")     # the scope rule (source_policy.py)
        if not self._take_care_of(now, usable):
            self._count("no_care_of_address")

    def _use_care_of(self, now: int, address: IPv6Address) -> None:
        """§11.5.2: a new primary care-of address; the node registers it with every home agent."""
        self.pending_coa = None
        old = self.care_of
        self.care_of = address
        self.node.notify(Moved(now, old, address))
        self._care_of_ready_hook(now, address)

    # ------------------------------------------------------------ the home link (§11.5.5)

    def _arrive_home(self, now: int, router: IPv6Address | None, prefixes: set[IPv6Network],
                     homes: list[HomeAddressConfig]) -> None:
        """§11.5.5: the home prefix is on-link again (``router``: the advertising router if it is a
        default router)."""
        self._count("movement.home")
        self._forget_old_link(now, router, prefixes)
        self.location = Location.HOME
        left = self.at_home - {home.address for home in homes}
        for address in left:
            # Straight from the home link of this address to another home link: away for it now.
            self.iface.addresses.pop(address, None)
        self.at_home = {home.address for home in homes}
        self.link = _Link(router, set(prefixes), {router: set(prefixes)} if router is not None else {})
        old = self.care_of
        if old is not None:
            self.iface.addresses.pop(old, None)
        self.care_of = None
        self.pending_coa = None
        for home in homes:
            self.node.notify(ReturnedHome(now, home.address))
        self._arrived_home(now, homes, left)
        self.home_link_care_of(now)

    def home_link_care_of(self, now: int) -> None:
        """On the home link of some home addresses, register the others (the node is away for them)
        with a care-of address on this link: the home address of this link. RFC 6275 §4.1: a care-of
        address is a unicast routable address of the node on the link it visits whose prefix is foreign
        to the home address registered -- which this home address is, for the other home addresses; it
        is the address SLAAC would form on this prefix from the node's interface identifier (§11.5.2),
        and it is already the node's own here (§11.5.5), so no second address needs DAD. It is usable
        only once every home address of this link is de-registered: until its BA the home agent still
        intercepts packets for it (§10.4.1), so a BA sent to it would be tunnelled to the old link."""
        if self.location is not Location.HOME or self.care_of is not None:
            return
        homes = self._homes()
        here = [h for h in homes if h.address in self.at_home]
        if not here or len(here) == len(homes):
            return
        if not all(self._deregistered(h.address) for h in here):
            return                      # a de-registration is still outstanding
        self._count("home_link_care_of")
        self._use_care_of(now, here[0].address)
