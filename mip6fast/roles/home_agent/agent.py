"""The Mobile IPv6 home agent (RFC 6275 §10), sans-I/O: the ``HomeAgent`` node and how its parts fit.

Theory of operation
-------------------
``HomeAgent`` is a ``Router`` on the home link (RFC 6275 §10.1: a home agent is a router there): it
forwards, and its RAs on the home link carry the H flag, the Home Agent Information option and a Prefix
Information option with the R flag holding its global address (§7.1, §7.2, §7.4). The mobility work is
done by the objects it holds, one per concern, each in its own module of this package; this module only
routes what the base ``Node`` hands it to them:

- ``home_link`` (``home_link.py``): the home interface, the home prefixes and their anycast addresses.
- ``registrar`` (``registration.py``): Binding Updates (§10.3.1 with §9.5.1), the binding cache, the
  bindings' lifetimes and refresh requests; DAD for home addresses (``dad.py``, ``registrar.dad``).
- ``proxy_nd`` (``proxy_nd.py``): proxy neighbour discovery for bound home addresses (§10.4.1).
- ``batch_path`` (``datapath.py``): the data path, batches through the tunnelling kernels (§10.4.2-5).
- ``errors`` (``error_messages.py``): Binding Errors, ICMPv6 errors, errors about our tunnel relayed.
- ``discovery`` (``discovery.py``): the home agents list and DHAAD replies (§10.5).
- ``mobile_prefixes`` (``mobile_prefix.py``): Mobile Prefix Advertisements (§10.6).

Mobility Header reception (§9.2) is here: a bad checksum is a silent, counted discard (the base node's
parse counter); a Payload Proto other than 59 or a Header Len below the type's minimum is answered with a
Parameter Problem pointing at the field (``parse_failed``); only a BU may carry a Home Address option and
only a BA a Type 2 routing header (§6.1); an unknown MH type gets a Binding Error status 2. A packet for
us with a Home Address option needs a binding from that care-of address, else Binding Error status 1
(§9.3.1). Renumbering (§10.6.1) is here too: ``set_home_prefix_lifetimes`` and ``add_home_prefix``
change the home link and announce it to every registered mobile node.

Choices where the RFC leaves room: a BU addressed to another of this router's addresses gets status 131;
a BU without H is refused with 139 when a home registration exists and otherwise dropped (counted: no
route optimisation here); Binding Errors share one rate limit (one per second); a packet going from one
mobile node's reverse tunnel into another's tunnel has its hop limit decremented by both kernel passes.

Time is integer nanoseconds passed in by the driver; randomness (DHAAD shuffling, MPA identifiers) comes
from the node's ``rng``.
"""
from __future__ import annotations

import random
from dataclasses import replace
from collections.abc import Iterable
from ipaddress import IPv6Address, IPv6Network

from ...batch import PacketBatch
from ...binding_cache import BindingCache
from ...datapath import HomeAgentDataPath
from ...errors import ParseError
from ...security import MnHaCredentials, Mode, SecurityPolicyDatabase
from ...store import BindingRecord, BindingStore
from ...wire import (
    BindingAcknowledgement,
    BindingErrorStatus,
    BindingUpdate,
    DestinationUnreachable,
    HomeAgentAddressDiscoveryRequest,
    HomeAgentInformation,
    MobilePrefixSolicitation,
    Packet,
    PacketTooBig,
    ParameterProblem,
    PrefixInformation,
    RouterAdvertisement,
    TimeExceeded,
    UnknownMobilityMessage,
)
from ...wire.packet import CODEC as PACKET_CODEC
from ..events import NS_PER_S, Output
from ..interface import LINK_LOCAL, NH_MH, UNSPECIFIED, Interface, unicast_routable
from ..protection import NH_ESP, SignallingProtection
from ..router import AdvertisingConfig, Router
from .config import HomeAgentConfig
from .counters import HOME_AGENT_COUNTERS
from .datapath import BatchPath, slot_size
from .discovery import HomeAgentDiscovery, HomeAgentEntry
from .error_messages import ErrorMessages
from .home_link import HomeLink
from .journal import Journal
from .mobile_prefix import MobilePrefixes
from .proxy_nd import ProxyND
from .registration import Registrar

__all__ = ["HomeAgent"]


class HomeAgent(Router):
    """A home agent on ``config.interface``. ``cache`` may be passed (e.g. with a fixed hash seed);
    ``advertising`` overrides the RA configuration built from the config (ignored on a virtual home
    link, which has no RAs). ``spd``: the security policy database protecting home registrations
    (RFC 6275 §5.1, issue 11); ``mn_ha``: the RFC 4285 credentials of the home addresses protected by
    the MN-HA authentication option instead (never the same home address as an SA); both None: BUs
    are accepted unprotected. ``store``: a binding store (mip6fast.store) the bindings are written
    through (journal.py): accepted BAs leave after the commit of their binding, once per entry point.
    The driver sets ``wall_offset_ns`` (the wall clock minus its own: the store's expiries and RFC
    4285's timestamps) and calls ``recover`` before the first packet."""

    COUNTERS = HOME_AGENT_COUNTERS

    def __init__(self, name: str, interfaces, config: HomeAgentConfig, rng: random.Random | None = None,
                 cache: BindingCache | None = None, advertising: AdvertisingConfig | None = None,
                 store: BindingStore | None = None, wall_offset_ns: int = 0,
                 spd: SecurityPolicyDatabase | None = None, mn_ha: MnHaCredentials | None = None):
        super().__init__(name, interfaces, rng)
        self._wall_offset_ns = int(wall_offset_ns)
        if config.interface not in self.interfaces:
            raise ValueError(f"{name}: no interface {config.interface}")
        self.config = config
        self.home_iface = self.interfaces[config.interface]
        if config.address not in self.home_iface.addresses:
            plen = next(p.prefixlen for p in config.home_prefixes if config.address in p)
            self.home_iface.add_address(config.address, plen)
        self.cache = cache if cache is not None else BindingCache(16, 1024)
        self.datapath = HomeAgentDataPath(self.cache, config.address, tunnel_mtu=config.tunnel_mtu)
        # The parts see this node as events.NodeServices (timers, counters, notifications, sending);
        # anything more is given to each explicitly.
        self.home_link = HomeLink(self.home_iface, self.nd[config.interface], config.address, config.home_prefixes)
        self.proxy_nd = None if config.virtual_home_link else ProxyND(self.home_link, self, self.transmit_packet)
        self.protection = SignallingProtection(spd, self.counters,
                                               require_all=not config.unauthenticated_registrations,
                                               mn_ha=mn_ha, wall_offset=lambda: self._wall_offset_ns)
        self.mobile_prefixes = MobilePrefixes(self.home_link, self.cache, self.rng, self,
                                              config.mpa_reply_rate, config.mpa_reply_burst, self.protection)
        self.registrar = Registrar(config, self.cache, self.home_link, self, self.proxy_nd, self.mobile_prefixes,
                                   lambda a: self.is_own_address(a, usable_only=False), self.transmit_packet,
                                   protection=self.protection)
        self.journal = None if store is None else Journal(store, self, wall_offset_ns, self.protection)
        self.registrar.journal = self.journal
        # a home address whose mobile node was switched to another agent is given up to that agent's
        # DAD probe instead of defended (Registrar.yield_home_address)
        self.nd[config.interface].yield_proxy = self.registrar.yield_home_address
        self.discovery = HomeAgentDiscovery(self.home_link, config.preference, self.rng, self,
                                            max_entries=config.max_home_agents, reply_rate=config.dhaad_reply_rate,
                                            reply_burst=config.dhaad_reply_burst)
        self.errors = ErrorMessages(self.home_link, self)
        self.batch_path = BatchPath(self, self.datapath, self.cache, config.address, self._receive_frame)
        self._rx_mac: tuple[str, bytes] = ("", b"")         # interface and source MAC of the packet at hand
        if not config.virtual_home_link:
            self.advertise(config.interface, advertising or self._default_advertising())

    def _default_advertising(self) -> AdvertisingConfig:
        """RAs with the H flag, the Home Agent Information option (§7.4) and the home prefixes, the one
        holding our address with the R flag and the address itself (§7.2)."""
        prefixes = []
        for p in self.config.home_prefixes:
            if self.config.address in p:
                prefixes.append(PrefixInformation(self.config.address, p.prefixlen, router_address=True))
            else:
                prefixes.append(PrefixInformation(p.network_address, p.prefixlen))
        return AdvertisingConfig(prefixes=prefixes, max_interval=10 * NS_PER_S, min_interval=3 * NS_PER_S,
                                 advertisement_interval_option=True,
                                 home_agent=HomeAgentInformation(self.config.preference, 1800))

    # ------------------------------------------------------------ what the parts hold, for callers

    @property
    def anycast(self) -> set[IPv6Address]:
        """The Home-Agents anycast addresses of the home prefixes (§10.5)."""
        return self.home_link.anycast

    @property
    def home_agents(self) -> dict[IPv6Address, HomeAgentEntry]:
        """The home agents list (§10.1), keyed by each router's link-local address."""
        return self.discovery.entries

    def home_subnet(self, address: IPv6Address) -> IPv6Network | None:
        return self.home_link.subnet(address)

    def home_agent_addresses(self, now: int) -> list[IPv6Address]:
        """The home agents list as a DHAAD reply gives it (§10.5)."""
        return self.discovery.addresses(now)

    # ------------------------------------------------------------ the binding store (journal.py)

    @property
    def wall_offset_ns(self) -> int:
        """The wall clock minus the monotonic clock the node is driven with (ns), for the store and RFC
        4285's timestamps."""
        return self._wall_offset_ns

    @wall_offset_ns.setter
    def wall_offset_ns(self, value: int) -> None:
        self._wall_offset_ns = int(value)
        if self.journal is not None:
            self.journal.wall_offset_ns = int(value)

    def recover(self, now: int) -> Output:
        """An entry point, once, before the first packet: put back the bindings of the store (nothing
        without a store); the Output's notifications hold a ``BindingsRecovered``. Raises StoreError
        when the store cannot be read (a startup error)."""
        out = self._begin()
        try:
            if self.journal is not None and not self.journal.recovered:
                self.journal.recover(now, self.registrar.restore)
        finally:
            out = self._finish(out)
        return out

    def switch_home_agent(self, now: int, agents: tuple[IPv6Address, ...],
                          homes: tuple[IPv6Address, ...] | None = None) -> Output:
        """An entry point: send a Home Agent Switch (RFC 5142) to the mobile node of each home address
        in ``homes`` (default: every binding), naming ``agents`` (none: the mobile nodes discover one by
        DHAAD). For maintenance or load shedding (``mip6fast ha switch-mobile-nodes``)."""
        out = self._begin()
        try:
            targets = homes if homes is not None else tuple(IPv6Address(k) for k in self.cache.keys())
            for home in targets:
                self.registrar.home_agent_switch(now, home, agents)
        finally:
            out = self._finish(out)
        return out

    def mirror(self, now: int, puts: Iterable[BindingRecord] = (), deletes: Iterable[IPv6Address] = (),
               snapshot: bool = False) -> Output:
        """An entry point of a warm standby (README "Redundancy"): the bindings the active one committed
        (``puts``) or deleted (``deletes``), as etcd's watch saw them, go into (or out of) the cache
        without anything being sent (``Registrar.mirror``). ``snapshot``: ``puts`` is everything there
        is; mirrored bindings not in it go."""
        out = self._begin()
        try:
            counters = self.counters
            seen = set()
            for record in puts:
                seen.add(record.home_address)
                why = self.registrar.mirror(now, record)
                counters["redundancy.mirrored" if why is None else "redundancy.mirror_dropped"] += 1
            gone = list(deletes)
            if snapshot:
                gone += [IPv6Address(k) for k in self.cache.keys() if IPv6Address(k) not in seen]
            for home in gone:
                if self.registrar.unmirror(home):
                    counters["redundancy.mirror_deleted"] += 1
        finally:
            out = self._finish(out)
        return out

    def take_over(self, now: int, warm: bool = False) -> Output:
        """An entry point: this home agent became the active one of its group (README "Redundancy";
        the daemon calls it once its election won, its gate open). The bindings come from the
        replicated store (``recover``: sequence numbers, timers, tunnels, paced proxy NAs for every
        home address, replay marks) or, ``warm``, are already in the cache (``mirror``, caught up to
        the election by the caller) and only become active (proxy ND, timers) with the replay marks
        read; every address of its own on every interface is announced by an unsolicited NA with
        Override, so the home link and the next hop send to this machine at once instead of the dead
        one's link-layer address."""
        out = self._begin()
        try:
            if warm and self.journal is not None and not self.journal.recovered:
                self.counters["redundancy.warm_bindings"] += self.registrar.activate_mirrored(now)
                self.journal.resume(now)
            elif self.journal is not None and not self.journal.recovered:
                self.journal.recover(now, self.registrar.restore)
            announced = sum(nd.announce() for nd in self.nd.values())
            self.counters["redundancy.takeovers"] += 1
            self.counters["redundancy.addresses_announced"] += announced
        finally:
            out = self._finish(out)
        return out

    def _finish(self, out: Output) -> Output:
        # The end of the outermost entry point: one commit, then the accepted BAs go (journal.py).
        if self._depth == 1 and self.journal is not None:
            self.journal.flush()
        return super()._finish(out)

    # ------------------------------------------------------------ the data path (datapath.py)

    def receive(self, now: int, interface: str, frame) -> Output:
        """One frame: through the same batch path as ``receive_batch`` (a one-packet batch), except a
        frame the kernels would leave alone, which goes to the per-packet path directly."""
        data = bytes(frame)
        if self.batch_path.passes_kernels(data):
            out = self._begin()
            self._receive_frame(now, interface, data)
            return self._finish(out)
        return self.receive_batch(now, interface, PacketBatch.from_packets([data], slot_size=slot_size(data)))

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        out = self._begin()
        self.batch_path.run(now, interface, batch)
        return self._finish(out)

    def receive_slow(self, now: int, items) -> Output:
        """What forwarding workers' graphs left to the slow path (mip6fast/io/workers.py), in their
        order: (interface, kind, aux, data) each, as ``BatchPath.slow_one`` takes them."""
        out = self._begin()
        routes: dict = {}
        for interface, kind, aux, data in items:
            iface = self.interfaces.get(interface)
            if iface is None or not iface.up:
                self.drop("workers.interface_down")
                continue
            self.batch_path.slow_one(now, interface, iface, kind, aux, data, routes)
        return self._finish(out)

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """§10.4.2: packets this node originates for a bound home address go through the tunnel."""
        if not self.batch_path.tunnel_own(now, raw):
            super().output_packet(now, raw, zone)

    def forward(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """§10.4.2: a packet for a mobile node's link-local address (proxied with the L flag) is not
        tunnelled: Destination Unreachable code 3 (address unreachable)."""
        if packet.dst in LINK_LOCAL and self.proxy_nd is not None and self.proxy_nd.serves(packet.dst):
            self.icmp_error(now, iface, DestinationUnreachable(code=3, invoking=b""), raw)
            self.drop("tunnel.mobile_node_link_local")
            return
        super().forward(now, iface, raw, packet)

    def handle_tunnel(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        """A reverse-tunnelled packet that arrived under ESP tunnel mode (RFC 3776; opened by
        ``receive_protected``, its SA bound to the inner source) goes through the data path's
        decapsulation like any other (§10.4.5: the binding of the inner source, its care-of address the
        outer source), without the SA: the inner packet is not signalling protected by it. Any other
        tunnelled packet here is one the kernel left to the slow path (its inner source has no
        binding, its outer source is not the care-of address, or it is malformed): counted and dropped."""
        sa = self._rx_sa
        if sa is not None and sa.mode is Mode.TUNNEL:
            self.counters["esp.tunnel.accepted"] += 1
            self._rx_sa = None
            self.batch_path.detunnel(now, iface, raw)
            return
        self.drop("tunnel.slow_path")

    # ------------------------------------------------------------ packets for us

    def receive_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if packet.dst in self.home_link.anycast:
            self.local_packet(now, iface, raw, packet, src_mac)   # §10.5: DHAAD to the anycast address
            return
        super().receive_packet(now, iface, raw, packet, src_mac)

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        """§9.3.1 as it applies to a home agent: a packet for us with a Home Address option (other than a
        BU, which registers the address) needs a binding whose care-of address is the packet's source,
        else Binding Error status 1 and the packet is dropped. A packet carrying ESP is unprotected
        first (RFC 6275 §5.1, §6.3): refused, it is a silent counted drop; accepted, the packet inside
        goes on with the SA it came under (``_rx_sa``)."""
        if packet.next_header == NH_ESP:
            self.receive_protected(now, iface, raw, src_mac)
            return
        self._rx_mac = (iface.name, src_mac)
        hao = packet.home_address
        if hao is not None and not isinstance(packet.payload, BindingUpdate):
            if not unicast_routable(hao):
                self.drop("hao.not_unicast_routable")    # §6.3: never multicast; dropped, no Binding Error
                return
            binding = self.cache.get(hao)
            if binding is None or binding.care_of_address != packet.src:
                self.drop("hao.no_binding")
                self.errors.binding_error(now, packet.src,
                                          BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, hao)
                return
        super().local_packet(now, iface, raw, packet, src_mac)

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """RFC 6275 §9.2: a Mobility Header with Payload Proto ≠ 59 or a Header Len below its type's
        minimum → Parameter Problem code 0 pointing at that field (offset from the IPv6 header). A bad
        checksum stays a silent, counted discard."""
        super().parse_failed(now, iface, raw, exc)
        if exc.field not in ("payload_proto", "header_len") or len(raw) < 40:
            return
        if not self.is_own_address(IPv6Address(raw[24:40])):
            return
        try:
            hdr = PACKET_CODEC.parse(memoryview(raw), False)
        except ParseError:
            return
        nh, off = hdr[9], hdr[10]
        if nh != NH_MH or exc.offset not in (off, off + 1):
            return
        # Not through ``icmp_error``: that re-parses the invoking packet, which is the malformed one.
        self.counters["parameter_problem.code.0"] += 1
        self.errors.icmp_error(now, ParameterProblem(code=0, pointer=exc.offset, invoking=b""), raw)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if packet.home_address is not None and not isinstance(msg, BindingUpdate):
            self.drop("mh.hao_not_bu")          # §6.1: only a BU may carry a Home Address option
            return
        if packet.rh2 is not None and not isinstance(msg, BindingAcknowledgement):
            self.drop("mh.rh2_not_ba")          # §6.1: only a BA may carry a Type 2 routing header
            return
        if isinstance(msg, BindingUpdate):
            clock = self.perf_clock
            started = clock() if clock is not None else 0
            self.registrar.binding_update(now, packet, msg, self._rx_mac, self._rx_sa, raw)
            if clock is not None:
                self.latencies.observe("ha_bu_processing", clock() - started)
        elif isinstance(msg, UnknownMobilityMessage):
            # §9.2: Binding Error status 2; home address unspecified unless a HAO was present.
            self.errors.binding_error(now, packet.src, BindingErrorStatus.UNRECOGNIZED_MH_TYPE,
                                      packet.home_address or UNSPECIFIED)
        else:
            self.drop(f"mh.unhandled.{type(msg).__name__}")

    def handle_icmpv6(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        msg = packet.payload
        dad = self.registrar.dad
        if dad is not None and dad.observe(iface, packet):
            return
        if isinstance(msg, RouterAdvertisement) and iface is self.home_iface:
            self.discovery.router_advertisement(now, packet, msg)
        elif isinstance(msg, HomeAgentAddressDiscoveryRequest):
            self.discovery.request(now, packet, msg)
            return
        elif isinstance(msg, MobilePrefixSolicitation):
            self.mobile_prefixes.solicitation(now, packet, msg, self._rx_sa)
            return
        elif isinstance(msg, (DestinationUnreachable, PacketTooBig, TimeExceeded, ParameterProblem)) \
                and self.errors.relay_tunnel_error(now, msg):
            return
        super().handle_icmpv6(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ renumbering (§10.6.1)

    def set_home_prefix_lifetimes(self, now: int, valid_until: int | None, preferred_until: int | None,
                                  prefixes=None) -> Output:
        """The home prefixes' lifetimes changed (renumbering, §10.6.1): our addresses on them take the new
        lifetimes, and every registered mobile node gets an unsolicited Mobile Prefix Advertisement,
        retransmitted every PREFIX_ADV_TIMEOUT until its next Binding Update, at most
        PREFIX_ADV_RETRIES more times (§10.6.2, §12). ``prefixes``: only these home prefixes (None: all).
        An entry point: returns an Output."""
        out = self._begin()
        only = None if prefixes is None else {IPv6Network(p) for p in prefixes}
        self.home_link.set_lifetimes(valid_until, preferred_until, only)
        self.mobile_prefixes.announce(now, self.registrar.homes())
        return self._finish(out)

    def add_home_prefix(self, now: int, prefix, address=None, valid_until: int | None = None,
                        preferred_until: int | None = None) -> Output:
        """Renumbering (§10.6.1): serve one more home prefix: registrations for home addresses on it are
        accepted, its Home-Agents anycast address is answered (§10.5), the RAs on the home link carry it,
        and every registered mobile node gets an unsolicited Mobile Prefix Advertisement listing it
        (§10.6.2). ``address``: an address of ours on it, with the given lifetimes (which then are the
        prefix's, as for the first prefix). An entry point: returns an Output."""
        out = self._begin()
        prefix = IPv6Network(prefix)
        if self.home_link.add_prefix(prefix, address, valid_until, preferred_until):
            self.config = replace(self.config, home_prefixes=self.home_link.prefixes)
            adv = self._advertisers.get(self.config.interface)
            if adv is not None:
                adv.config.prefixes.append(PrefixInformation(prefix.network_address, prefix.prefixlen))
            self.counters["home_prefix.added"] += 1
            self.mobile_prefixes.announce(now, self.registrar.homes())
        return self._finish(out)
