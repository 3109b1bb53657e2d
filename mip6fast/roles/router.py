"""A plain IPv6 router, sans-I/O: longest-prefix forwarding and Router Advertisements.

Forwarding (RFC 8200 §3, RFC 4443): the hop limit is decremented, and a packet that would leave with
hop limit 0 is answered with Time Exceeded code 0; a packet larger than the outgoing link's MTU is
answered with Packet Too Big; packets with a link-local source or destination are never forwarded
(RFC 4291 §2.5.6). Advertising (RFC 4861 §6.2): on each interface with ``advertise`` set, unsolicited
RAs at intervals drawn uniformly from [MinRtrAdvInterval, MaxRtrAdvInterval] with the node's seeded RNG
(the first MAX_INITIAL_RTR_ADVERTISEMENTS capped at MAX_INITIAL_RTR_ADVERT_INTERVAL), and solicited RAs
after a random delay of at most MAX_RA_DELAY_TIME, never closer than MIN_DELAY_BETWEEN_RAS to the
previous multicast RA (§6.2.6). An RA carries the configured Prefix Information options (with the
Mobile IPv6 R flag if asked), and optionally the Advertisement Interval option (RFC 6275 §7.3) and,
with the H flag, the Home Agent Information option (RFC 6275 §7.1, §7.4).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..wire import (
    ALL_NODES,
    AdvertisementInterval,
    DestinationUnreachable,
    HomeAgentInformation,
    MTUOption,
    Packet,
    PacketTooBig,
    PrefixInformation,
    RouterAdvertisement,
    SourceLinkLayerAddress,
    TimeExceeded,
)
from .events import NS_PER_S, Timer
from .interface import LINK_LOCAL, Interface
from .neighbor import ND_HOP_LIMIT
from .node import Node
from .router_counters import ROUTER_COUNTERS

__all__ = ["AdvertisingConfig", "Router"]

# RFC 4861 §10 router constants (ns)
MAX_INITIAL_RTR_ADVERT_INTERVAL = 16 * NS_PER_S
MAX_INITIAL_RTR_ADVERTISEMENTS = 3
MIN_DELAY_BETWEEN_RAS = 3 * NS_PER_S
MAX_RA_DELAY_TIME = NS_PER_S // 2


@dataclass
class AdvertisingConfig:
    """The AdvXxx variables of RFC 4861 §6.2.1 for one interface (intervals in ns).

    RFC 6275 §7.5 lets a router serving mobile nodes go as low as 30 ms (MinRtrAdvInterval) / 70 ms
    (MaxRtrAdvInterval), and the same minimum between solicited RAs; ``min_delay_between_ras``
    is that knob.
    """
    prefixes: list[PrefixInformation] = field(default_factory=list)
    max_interval: int = 600 * NS_PER_S
    min_interval: int | None = None         # default 0.33 × max_interval (§6.2.1)
    router_lifetime: int = 1800             # seconds; 0 = not a default router
    cur_hop_limit: int = 64
    reachable_time: int = 0                 # ms; 0 = unspecified
    retrans_timer: int = 0                  # ms; 0 = unspecified
    mtu_option: bool = False
    advertisement_interval_option: bool = False   # RFC 6275 §7.3
    home_agent: HomeAgentInformation | None = None  # sets H and adds the option (RFC 6275 §7.4)
    min_delay_between_ras: int = MIN_DELAY_BETWEEN_RAS

    def __post_init__(self):
        if self.min_interval is None:
            self.min_interval = self.max_interval // 3 if self.max_interval >= 9 * NS_PER_S \
                else self.max_interval * 3 // 4
        if not 0 < self.min_interval <= self.max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")


class _Advertiser:
    def __init__(self, config: AdvertisingConfig):
        self.config = config
        self.sent = 0
        self.last_multicast: int | None = None
        self.timer: Timer | None = None
        self.solicited_at: int | None = None


class Router(Node):
    """A plain IPv6 router. ``advertise(interface, config)`` turns RAs on for an interface."""

    is_router = True
    forwarding = True
    COUNTERS = ROUTER_COUNTERS

    def __init__(self, name: str, interfaces=(), rng: random.Random | None = None):
        self._advertisers: dict[str, _Advertiser] = {}
        super().__init__(name, interfaces, rng)

    def advertise(self, interface: str, config: AdvertisingConfig) -> None:
        if interface not in self.interfaces:
            raise ValueError(f"{self.name}: no interface {interface}")
        self._advertisers[interface] = _Advertiser(config)

    # ------------------------------------------------------------ RAs

    def router_advertisement(self, iface: Interface) -> RouterAdvertisement:
        cfg = self._advertisers[iface.name].config
        options: list = [SourceLinkLayerAddress(iface.mac)]
        if cfg.mtu_option:
            options.append(MTUOption(iface.mtu))
        if cfg.advertisement_interval_option:
            options.append(AdvertisementInterval(cfg.max_interval // 1_000_000))
        if cfg.home_agent is not None:
            options.append(cfg.home_agent)
        options.extend(cfg.prefixes)
        return RouterAdvertisement(
            cur_hop_limit=cfg.cur_hop_limit, home_agent=cfg.home_agent is not None,
            router_lifetime=cfg.router_lifetime, reachable_time=cfg.reachable_time,
            retrans_timer=cfg.retrans_timer, options=tuple(options))

    def on_link_changed(self, now: int, iface: Interface) -> None:
        adv = self._advertisers.get(iface.name)
        if adv is None:
            return
        if adv.timer is not None:
            adv.timer.cancel()
            adv.timer = None
        if iface.up:
            adv.sent = 0
            # The link-local address must pass DAD before it can source an RA (RFC 4861 §6.1.2 wants
            # a link-local source); the first RA waits RetransTimer × DupAddrDetectTransmits.
            first = now + self.nd[iface.name].retrans_timer + 1
            adv.timer = self.call_at(first, lambda t: self._unsolicited(t, iface.name))

    def _unsolicited(self, now: int, name: str) -> None:
        adv = self._advertisers[name]
        adv.timer = None
        self._send_ra(now, name)
        cfg = adv.config
        assert cfg.min_interval is not None   # __post_init__ filled the default in
        interval = self.rng.uniform(cfg.min_interval, cfg.max_interval)
        if adv.sent < MAX_INITIAL_RTR_ADVERTISEMENTS:
            interval = min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL)
        adv.timer = self.call_at(now + int(interval), lambda t: self._unsolicited(t, name))

    def _send_ra(self, now: int, name: str) -> None:
        iface = self.interfaces[name]
        adv = self._advertisers[name]
        ll = iface.addresses.get(iface.link_local)
        if not iface.up or ll is None or not ll.usable:
            self.counters["ra_not_sent_no_link_local"] += 1
            return
        raw = Packet(src=iface.link_local, dst=ALL_NODES, hop_limit=ND_HOP_LIMIT,
                     payload=self.router_advertisement(iface)).to_bytes()
        self.counters["ra_sent"] += 1
        adv.sent += 1
        adv.last_multicast = now
        self.transmit_packet(now, name, ALL_NODES, raw)

    def router_solicited(self, now: int, iface: Interface, packet: Packet) -> None:
        """RFC 4861 §6.2.6: a multicast RA after a random delay, at least MIN_DELAY_BETWEEN_RAS after
        the previous one; solicitations arriving meanwhile share it."""
        adv = self._advertisers.get(iface.name)
        if adv is None:
            self.counters["rs_not_advertising"] += 1
            return
        at = now + int(self.rng.uniform(0, MAX_RA_DELAY_TIME))
        if adv.last_multicast is not None:
            at = max(at, adv.last_multicast + adv.config.min_delay_between_ras)
        if adv.solicited_at is not None and adv.solicited_at >= now:
            return
        if adv.timer is not None and adv.timer.deadline <= at:
            return                               # the next unsolicited RA comes sooner anyway
        adv.solicited_at = at
        name = iface.name

        def fire(t: int) -> None:
            adv.solicited_at = None
            ll = iface.addresses.get(iface.link_local)
            if ll is None or not ll.usable:
                self.counters["ra_not_sent_no_link_local"] += 1   # the periodic RA follows DAD
                return
            if adv.timer is not None:
                adv.timer.cancel()
            self._unsolicited(t, name)           # the RA resets the periodic schedule
        self.call_at(at, fire)

    # ------------------------------------------------------------ forwarding

    def forward(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        if packet.src in LINK_LOCAL or packet.dst in LINK_LOCAL:
            self.drop("forward_link_local")      # RFC 4291 §2.5.6
            return
        if packet.dst.is_multicast:
            self.drop("forward_multicast")       # no multicast routing
            return
        if packet.hop_limit <= 1:
            self.icmp_error(now, iface, TimeExceeded(code=0, invoking=b""), raw)   # RFC 4443 §3.3
            self.drop("hop_limit_exceeded")
            return
        route = self.lookup(packet.dst)
        if route is None:
            self.icmp_error(now, iface, DestinationUnreachable(code=0, invoking=b""), raw)               # RFC 4443 §3.1
            self.drop("no_route")
            return
        out_iface = self.interfaces[route.interface]
        if len(raw) > out_iface.mtu:
            self.icmp_error(now, iface, PacketTooBig(mtu=out_iface.mtu, invoking=b""), raw)  # §3.2
            self.drop("packet_too_big")
            return
        forwarded = raw[:7] + bytes([packet.hop_limit - 1]) + raw[8:]
        self.counters["forwarded"] += 1
        self.transmit_packet(now, route.interface, route.next_hop or packet.dst, forwarded)
