"""The correspondent node (RFC 6275 §9), sans-I/O: a host that keeps a binding cache for mobile nodes
and talks to them route-optimised.

Theory of operation
-------------------
``CorrespondentNode`` is a ``Host`` (addresses by SLAAC, applications attached) with four additions:

Signalling (Mobility Header, RFC 6275 §9.2, §9.5). Every Mobility Header addressed to the node is
checked as §9.2 says: a bad checksum is discarded silently, a Payload Proto other than 59 or a Header
Len too short for its type is answered with ICMPv6 Parameter Problem code 0 pointing at the field (the
``ParseError`` offset, counted from the start of the IPv6 packet), an unknown MH type with a Binding
Error status 2. A Binding Update that is not a home registration is accepted only if the pluggable
``accept_binding_update`` check says so (return routability, §5.2 / §9.5.1, comes later); the cache
entry's lifetime is capped at MAX_RR_BINDING_LIFETIME (§5.2.6) and it really expires then.

Data (§9.3). Every packet the node originates (``send``, an application's ``output_packet``, an Echo
Reply) goes through ``CorrespondentDataPath.insert_rh2`` in a ``PacketBatch``: a packet for a bound
home address leaves for the care-of address with a Type 2 routing header (§9.3.2). Every frame that
arrives (``receive`` wraps one frame in a batch; ``receive_batch`` takes the driver's batch) goes
through ``process_hao`` first: a Home Address option with a matching binding is swapped into the source
(§9.3.1), one without is a Binding Error status 1, rate-limited; a Mobility Header is left for the
signalling path (a Binding Update carries a HAO before any binding exists, §9.3.1).

Expiry (§9.5.2). One timer per binding calls ``BindingCache.expire``; optionally a Binding Refresh
Request goes out shortly before a binding that carried traffic expires (§9.5.5).

``mobility_support=False`` gives a plain IPv6 node that does not implement Mobile IPv6, for testing a
mobile node's fallback: a Mobility Header is an unrecognised next header (Parameter Problem code 1) and
a Home Address option an unrecognised option whose type starts with bits 11 (code 2) (RFC 8200 §4,
§4.2; RFC 6275 §6.3, §11.3.5).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

import numpy as np

from .. import _impl
from ..batch import DropReason, PacketBatch, Verdict
from ..binding_cache import FLAG_ACK, BindingCache, Outcome
from ..datapath import CorrespondentDataPath
from ..errors import ParseError
from ..wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingAckStatus,
    BindingError,
    BindingErrorStatus,
    BindingRefreshRequest,
    BindingUpdate,
    Packet,
    ParameterProblem,
    UnknownMobilityMessage,
    parse,
)
from ..wire.ethernet import ETHERNET_HEADER_LEN
from .binding_events import BindingCreated, BindingDeleted, BindingExpired, BindingUpdated
from .events import NS_PER_S, Notification, Output, Timer
from .frames import classify
from .host import Host
from .interface import IPV6_MIN_MTU, LINK_LOCAL, NH_MH, UNSPECIFIED, Interface

__all__ = [
    "MAX_RR_BINDING_LIFETIME", "BindingCreated", "BindingDeleted", "BindingErrorSent", "BindingExpired",
    "BindingRefreshRequested", "BindingUpdated", "CorrespondentConfig", "CorrespondentNode", "TokenBucket",
    "accept_every_binding_update",
]

MAX_RR_BINDING_LIFETIME = 420          # seconds (RFC 6275 §12): the cap on a correspondent binding
_CHECKSUM = _impl.load("checksum")
_NH_HOPOPT, _NH_ROUTING, _NH_DSTOPTS, _NH_ICMPV6 = 0, 43, 60, 58
_HAO_TYPE = 201                         # RFC 6275 §6.3: 0xC9, action bits 11
# ParseError fields of the Mobility Header's common part that §9.2 answers with Parameter Problem.
_MH_PARAMETER_PROBLEM_FIELDS = frozenset({"payload_proto", "header_len"})


def accept_every_binding_update(now: int, packet: Packet, bu: BindingUpdate) -> bool:
    """The default acceptance check: every Binding Update is authorised. Only for tests and closed
    networks: RFC 6275 §9.5.1 requires return routability (Nonce Indices and a correct Binding
    Authorization Data option) before a correspondent accepts a binding."""
    return True


@dataclass(frozen=True)
class CorrespondentConfig:
    """How a correspondent node behaves.

    - ``mobility_support``: False makes a node without Mobile IPv6 (see the module docstring).
    - ``accept_binding_update(now, packet, bu) -> bool``: the authorisation check of a route-optimisation
      Binding Update; False discards it silently (§9.5.1). The default accepts everything (tests and
      closed networks only).
    - ``max_binding_lifetime``: seconds, capped at MAX_RR_BINDING_LIFETIME and rounded down to the
      4-second unit of the wire (§6.1.7, §5.2.6).
    - ``binding_error_rate`` / ``binding_error_burst``: token bucket for Binding Errors and for the
      ICMPv6 errors this role adds (§9.3.1 "rate-limited"; RFC 4443 §2.4 f).
    - ``refresh_requests``: send a Binding Refresh Request ``refresh_lead_ns`` before an entry expires,
      if the data path used it since it was last registered (§9.5.5).
    - ``cache_capacity`` / ``cache_seed``: sizing and a fixed hash seed (reproducible runs).
    """
    mobility_support: bool = True
    accept_binding_update: Callable[[int, Packet, BindingUpdate], bool] = accept_every_binding_update
    max_binding_lifetime: int = MAX_RR_BINDING_LIFETIME
    binding_error_rate: int = 10
    binding_error_burst: int = 10
    refresh_requests: bool = False
    refresh_lead_ns: int = 10 * NS_PER_S
    cache_capacity: int = 1024
    cache_seed: int | None = 0

    def __post_init__(self):
        if not 0 <= self.max_binding_lifetime:
            raise ValueError("max_binding_lifetime must not be negative")
        if self.binding_error_rate < 1 or self.binding_error_burst < 1:
            raise ValueError("binding_error_rate and binding_error_burst must be at least 1")
        if self.refresh_lead_ns < 0:
            raise ValueError("refresh_lead_ns must not be negative")

    @property
    def lifetime_cap(self) -> int:
        """The largest lifetime granted, in seconds: ≤ 420 and a multiple of 4 (§6.1.7 units)."""
        return min(self.max_binding_lifetime, MAX_RR_BINDING_LIFETIME) // 4 * 4


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; integer nanosecond arithmetic, so a run is
    deterministic. Starts full."""

    def __init__(self, rate: int, burst: int):
        self.rate = rate
        self.capacity = burst * NS_PER_S        # token-nanoseconds: one token = NS_PER_S
        self.level = self.capacity
        self.last: int | None = None

    def take(self, now: int) -> bool:
        if self.last is not None and now > self.last:
            self.level = min(self.capacity, self.level + (now - self.last) * self.rate)
        self.last = now if self.last is None else max(self.last, now)
        if self.level >= NS_PER_S:
            self.level -= NS_PER_S
            return True
        return False


def strip_home_address_option(raw: bytes) -> bytes:
    """``raw`` without its Destination Options header when that header holds a Home Address option and
    nothing but padding besides (the form a mobile node sends, §6.3); anything else is returned as is.
    The upper-layer checksum still verifies: it was computed with the home address, now the source."""
    if len(raw) < 48 or raw[6] != _NH_DSTOPTS:
        return raw
    hlen = (raw[41] + 1) * 8
    if len(raw) < 40 + hlen:
        return raw
    i, end, hao = 42, 40 + hlen, 0
    while i < end:
        kind = raw[i]
        if kind == 0:                       # Pad1
            i += 1
            continue
        if i + 1 >= end:
            return raw
        size = 2 + raw[i + 1]
        if kind == _HAO_TYPE and size == 18:
            hao += 1
        elif kind != 1:                     # PadN is the only other option allowed here
            return raw
        i += size
    if hao != 1 or i != end:
        return raw
    length = int.from_bytes(raw[4:6], "big") - hlen
    return raw[:4] + length.to_bytes(2, "big") + raw[40:41] + raw[7:40] + raw[40 + hlen:]


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class BindingErrorSent(Notification):
    status: int
    home_address: IPv6Address
    destination: IPv6Address


@dataclass(frozen=True)
class BindingRefreshRequested(Notification):
    home_address: IPv6Address
    care_of_address: IPv6Address


# ---------------------------------------------------------------- packet walking

def _walk(raw: bytes) -> tuple[int, int, int, tuple[int, int] | None]:
    """Walk the extension headers a node without Mobile IPv6 processes (RFC 8200 §4).

    Returns (upper-layer next header, offset of the byte that names it, offset of the upper layer,
    first problem such a node reports as (Parameter Problem code, pointer) or None): a Type 2 routing
    header with segments left is an unrecognised routing type (code 0 at the type, §4.4), a Home
    Address option an unrecognised option with action bits 11 (code 2 at its type byte, §4.2), and
    then a Mobility Header an unrecognised next header (code 1 at the byte naming it, §4)."""
    n = len(raw)
    nh, nh_field, off = raw[6], 6, 40
    problem: tuple[int, int] | None = None
    while nh in (_NH_HOPOPT, _NH_ROUTING, _NH_DSTOPTS) and off + 2 <= n:
        hlen = (raw[off + 1] + 1) * 8
        if off + hlen > n:
            break
        if problem is None:
            if nh == _NH_ROUTING and raw[off + 2] == 2 and raw[off + 3] > 0:
                problem = (0, off + 2)
            elif nh == _NH_DSTOPTS:
                i = off + 2
                while i < off + hlen:
                    if raw[i] == 0:         # Pad1
                        i += 1
                        continue
                    if i + 1 >= off + hlen:
                        break
                    if raw[i] == _HAO_TYPE:
                        problem = (2, i)
                        break
                    i += 2 + raw[i + 1]
        nh_field, nh, off = off, raw[off], off + hlen
    if problem is None and nh == NH_MH:
        problem = (1, nh_field)
    return nh, nh_field, off, problem


def _usable_peer(address: IPv6Address) -> bool:
    """A unicast address a binding may name: not multicast, link-local, unspecified or loopback
    (§9.5.1: the home address must be unicast routable; the care-of address likewise)."""
    return not (address.is_multicast or address in LINK_LOCAL or address == UNSPECIFIED
                or address.is_loopback)


@dataclass
class _Entry:
    """Role-side state of one binding: its timers and the traffic baseline for the BRR decision."""
    expiry: Timer
    refresh: Timer | None = None
    packets_at_registration: int = 0


# ---------------------------------------------------------------- the node

class CorrespondentNode(Host):
    """A host that implements the correspondent node part of Mobile IPv6 (RFC 6275 §8.2, §9)."""

    def __init__(self, name: str, interfaces=(), rng=None, config: CorrespondentConfig | None = None):
        super().__init__(name, interfaces, rng)
        self.config = config if config is not None else CorrespondentConfig()
        self.cache = BindingCache(16, self.config.cache_capacity, self.config.cache_seed)
        mtu = min((i.mtu for i in self.interfaces.values()), default=1500)
        self.datapath = CorrespondentDataPath(self.cache, mtu=max(IPV6_MIN_MTU, min(mtu, 65535)))
        self.error_bucket = TokenBucket(self.config.binding_error_rate, self.config.binding_error_burst)
        self._entries: dict[IPv6Address, _Entry] = {}
        self._tx = PacketBatch(1, slot_size=self._slot_size(), headroom=128)

    def _slot_size(self) -> int:
        mtu = max((i.mtu for i in self.interfaces.values()), default=1500)
        return max(2048, 128 + 14 + mtu + 64)

    # ------------------------------------------------------------ inbound: batches first

    def receive(self, now: int, interface: str, frame) -> Output:
        out = self._begin()
        data = bytes(frame)
        if not self.config.mobility_support:
            self._receive_frame(now, interface, data)
        else:
            # Even one frame goes through the kernel (the only place a Home Address option is checked).
            batch = PacketBatch(1, slot_size=max(self._slot_size(), len(data) + 256), headroom=128)
            batch.append(data)
            self._receive_frames(now, interface, batch)
        return self._finish(out)

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output:
        """A batch of Ethernet frames. The batch's offset/length/verdict columns are rewritten (the
        Ethernet header is stepped over and the Home Address option kernel runs over it)."""
        out = self._begin()
        if not self.config.mobility_support:
            for i in range(len(batch)):
                self._receive_frame(now, interface, batch.packet(i))
        else:
            self._receive_frames(now, interface, batch)
        return self._finish(out)

    def _receive_frames(self, now: int, interface: str, batch: PacketBatch) -> None:
        """Step over the Ethernet headers of the IPv6 frames addressed to this interface (vectorised),
        run ``process_hao`` over them in one call (§9.3.1), then act on each verdict."""
        n = batch.count
        iface = self.interfaces.get(interface)
        if iface is None or not iface.up:
            self.counters["drop.unknown_interface" if iface is None else "drop.interface_down"] += n
            return
        if n == 0:
            return
        frames = classify(batch, iface, multicast=True)
        cand = frames.ipv6
        eth = frames.head[:, :ETHERNET_HEADER_LEN].copy()
        frames.strip(batch, cand)
        batch.verdict[:n] = np.where(cand, Verdict.PASS, Verdict.SLOW_PATH)
        batch.reason[:n] = DropReason.NONE
        self.datapath.process_hao(batch)
        # Copy everything out before acting: a delivery may make an application send (re-entrancy).
        items = []
        verdict, reason, aux = batch.verdict[:n].tolist(), batch.reason[:n].tolist(), batch.aux[:n].tolist()
        cand_list = cand.tolist()
        for i in range(n):
            if not cand_list[i]:
                items.append((None, batch.packet(i), None, 0, 0))
            else:
                items.append((eth[i].tobytes(), batch.packet(i), verdict[i], reason[i], aux[i]))
        for header, data, v, r, a in items:
            if header is None:
                self._receive_frame(now, interface, data)
                continue
            dst_mac, src_mac = header[0:6], header[6:12]
            if not self.accept_mac(iface, dst_mac, src_mac):
                continue
            self.counters["rx_frames"] += 1
            if v == Verdict.FORWARD:
                self.counters["hao_swapped"] += 1
                self._swapped_packet(now, iface, data, src_mac)
            elif v in (Verdict.PASS, Verdict.SLOW_PATH):
                self.receive_ipv6(now, iface, data, src_mac)
            elif v == Verdict.BINDING_ERROR:
                self._hao_without_binding(now, iface, data, a, DropReason(r))
            else:
                self.drop(f"datapath.{DropReason(r).name.lower()}")

    def _for_us(self, iface: Interface, raw: bytes) -> bool:
        """Is this raw packet's destination one of our addresses or groups (read from the bytes: used
        when the packet does not parse)."""
        if len(raw) < 40:
            return False
        dst = IPv6Address(raw[24:40])
        if dst.is_multicast:
            return iface.is_joined(dst, self.is_router)
        return self.is_own_address(dst)

    def parse_failed(self, now: int, iface: Interface, raw: bytes, exc: ParseError) -> None:
        """A packet ``parse`` refused. For a Mobility Header, §9.2 decides; everything else is a counted
        drop as in ``Node``."""
        if len(raw) < 40 or not self._for_us(iface, raw):
            self.drop(f"parse.{exc.field}")
            return
        nh, _, upper, problem = _walk(raw)
        if not self.config.mobility_support and problem is not None:
            # A node without Mobile IPv6 never looks inside the Mobility Header (RFC 8200 §4).
            self._parameter_problem(now, iface, raw, problem[0], problem[1])
            return
        if nh != NH_MH or exc.offset < upper:
            self.drop(f"parse.{exc.field}")
            return
        if exc.field == "checksum":
            self.drop("mh.checksum")                     # §9.2: silently, no reply of any kind
        elif exc.field in _MH_PARAMETER_PROBLEM_FIELDS:
            self.drop(f"mh.{exc.field}")
            self._parameter_problem(now, iface, raw, 0, exc.offset)   # §9.2: pointer from the packet start
        else:
            self.drop(f"mh.{exc.field}")

    def _swapped_packet(self, now: int, iface: Interface, raw: bytes, src_mac: bytes) -> None:
        """A packet ``process_hao`` swapped (source = home address, the option now holds the care-of
        address). The ICMPv6 checksum is verified with the home address as the pseudo-header source
        (§6.3), which is now the IPv6 source."""
        try:
            packet = parse(raw, verify_checksums=False)
        except ParseError as exc:
            self.drop(f"parse.{exc.field}")
            return
        nh, _, upper, _ = _walk(raw)
        if nh == _NH_ICMPV6:
            dst = packet.rh2 if packet.rh2 is not None else packet.dst
            if _CHECKSUM.pseudo_checksum(packet.src.packed, dst.packed, nh, raw[upper:]) != 0:
                self.drop("parse.checksum")
                return
        self.receive_packet(now, iface, raw, packet, src_mac)

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        """Applications get a swapped packet without its Home Address option (§9.3.1: the option is
        processed here and the home address is the source the upper layer sees). A kernel on the TUN
        knows no Mobile IPv6: handed the option (type 0xC9, action bits 11, RFC 8200 §4.2) it would
        discard the packet and answer with a Parameter Problem."""
        super().deliver(now, strip_home_address_option(raw), packet)

    def _hao_without_binding(self, now: int, iface: Interface, raw: bytes, hao_offset: int,
                             reason: DropReason) -> None:
        """§9.3.1: a Home Address option with no binding for that home address and care-of address:
        the packet is dropped and a Binding Error status 1 goes to its source."""
        if not self._for_us(iface, raw):
            self.drop("not_for_us")
            return
        self.drop(f"hao.{reason.name.lower()}")
        home = IPv6Address(raw[hao_offset:hao_offset + 16])
        self.send_binding_error(now, iface, IPv6Address(raw[24:40]), IPv6Address(raw[8:24]),
                                BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, home)

    def local_packet(self, now: int, iface: Interface, raw: bytes, packet: Packet, src_mac: bytes) -> None:
        if not self.config.mobility_support:
            _, _, _, problem = _walk(raw)
            if problem is not None:
                self._parameter_problem(now, iface, raw, problem[0], problem[1])
                return
        elif packet.rh2 is not None:
            # §6.4: a Type 2 routing header must name the receiver's own home address; a
            # correspondent node has none.
            self.drop("rh2_not_a_mobile_node")
            return
        super().local_packet(now, iface, raw, packet, src_mac)

    # ------------------------------------------------------------ errors this role sends

    def _parameter_problem(self, now: int, iface: Interface, raw: bytes, code: int, pointer: int) -> None:
        """ICMPv6 Parameter Problem (RFC 4443 §3.4) about ``raw``, built from its bytes (it may not
        parse), within the §2.4 (e) rules and the rate limit."""
        self.counters[f"parameter_problem.code{code}"] += 1
        src, dst = IPv6Address(raw[8:24]), IPv6Address(raw[24:40])
        if src.is_multicast or src == UNSPECIFIED or dst.is_multicast:
            self.drop("icmp_error_not_allowed")          # §2.4 (e): codes 0-2 here have bits 11/none
            return
        nh, _, upper, _ = _walk(raw)
        if nh == _NH_ICMPV6 and upper < len(raw) and raw[upper] < 128:
            self.drop("icmp_error_about_error")          # §2.4 (e.1): never about an error message
            return
        if not self.error_bucket.take(now):
            self.drop("icmp_error_rate_limited")
            return
        source = dst if self.is_own_address(dst) else iface.source_for(src)
        if source is None:
            self.drop("icmp_error_no_source")
            return
        msg = ParameterProblem(code=code, pointer=pointer, invoking=raw[:IPV6_MIN_MTU - 48])
        self.counters["icmp_error.ParameterProblem"] += 1
        self.output_packet(now, Packet(src=source, dst=src, hop_limit=64, payload=msg).to_bytes(), iface.name)

    def send_binding_error(self, now: int, iface: Interface, source: IPv6Address, destination: IPv6Address,
                           status: int, home_address: IPv6Address) -> None:
        """Binding Error (§6.1.9, §9.3.1) to ``destination``, rate-limited (token bucket)."""
        if destination.is_multicast or destination == UNSPECIFIED or source.is_multicast:
            self.drop("binding_error_not_allowed")
            return
        if not self.error_bucket.take(now):
            self.drop("binding_error_rate_limited")
            return
        pkt = Packet(src=source, dst=destination, hop_limit=64,
                     payload=BindingError(status=status, home_address=home_address))
        self.counters[f"binding_error_sent.status{int(status)}"] += 1
        self.notify(BindingErrorSent(now, int(status), home_address, destination))
        self.output_packet(now, pkt.to_bytes(), iface.name)

    # ------------------------------------------------------------ signalling (§9.2, §9.5)

    def handle_mobility(self, now: int, iface: Interface, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if packet.dst.is_multicast:
            self.drop("mh.multicast_destination")
            return
        if packet.home_address is not None and not isinstance(msg, BindingUpdate):
            # §6.1: only a Binding Update may carry a HAO; any other message with one needs a
            # binding for it like a data packet (§9.3.1), else Binding Error status 1.
            binding = self.cache.get(packet.home_address)
            if binding is None or binding.care_of_address != packet.src:
                self.drop("hao.no_binding")
                self.send_binding_error(
                    now, iface, packet.dst, packet.src,
                    BindingErrorStatus.UNKNOWN_BINDING_FOR_HOME_ADDRESS_DESTINATION_OPTION, packet.home_address)
                return
        if isinstance(msg, UnknownMobilityMessage):
            # §9.2: Binding Error status 2; home address unspecified unless a HAO was present.
            self.drop("mh.unknown_type")
            self.send_binding_error(now, iface, packet.dst, packet.src, BindingErrorStatus.UNRECOGNIZED_MH_TYPE,
                                    packet.home_address if packet.home_address is not None else UNSPECIFIED)
            return
        if isinstance(msg, BindingUpdate):
            self.process_binding_update(now, iface, raw, packet, msg)
            return
        # Home/Care-of Test Init need return routability (a later issue); the other known types are
        # for mobile nodes and home agents.
        self.drop(f"mh.unhandled.{type(msg).__name__}")

    def process_binding_update(self, now: int, iface: Interface, raw: bytes, packet: Packet,
                               bu: BindingUpdate) -> None:
        """RFC 6275 §9.5.1 for a correspondent node."""
        home = packet.home_address if packet.home_address is not None else packet.src
        care_of = packet.src
        for opt in bu.options:
            if isinstance(opt, AlternateCareOfAddress):
                care_of = opt.address                # §6.2.5, §9.5.1
                break
        # §9.5.1: home address and care-of address must be unicast routable.
        if not _usable_peer(home) or not _usable_peer(packet.src) or not _usable_peer(care_of):
            self.drop("bu.address_scope")
            return
        existing = self.cache.get(home)
        if bu.home:
            # §9.5.1: a BU that changes an entry's registration type → 139; otherwise this node is
            # not a home agent → 131 (§10.3.1). Not subject to return routability (§9.5.1).
            status = (BindingAckStatus.REGISTRATION_TYPE_CHANGE_DISALLOWED
                      if existing is not None and not existing.home_registration
                      else BindingAckStatus.HOME_REGISTRATION_NOT_SUPPORTED)
            self.drop(f"bu.status{int(status)}")
            self._send_ack(now, iface, packet, home, care_of, int(status), bu.sequence, 0)
            return
        if not self.config.accept_binding_update(now, packet, bu):
            self.drop("bu.not_authorised")           # §9.5.1: discarded silently
            return
        deregister = bu.lifetime == 0 or care_of == home       # §9.5.1
        lifetime = 0 if deregister else min(bu.lifetime, self.config.lifetime_cap)
        expires = now + lifetime * NS_PER_S
        flags = FLAG_ACK if bu.ack else 0
        result = self.cache.update(home, care_of, bu.sequence, flags, expires)
        if result.outcome is Outcome.STALE:
            # §9.5.1: sequence number out of window → 135 with the last accepted sequence number.
            self.drop("bu.status135")
            self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW,
                           result.last_sequence, 0)
            return
        if result.outcome is Outcome.NOMEM:
            self.drop("bu.status130")
            self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.INSUFFICIENT_RESOURCES,
                           bu.sequence, 0)
            return
        entry = self._entries.pop(home, None)
        if entry is not None:
            entry.expiry.cancel()
            if entry.refresh is not None:
                entry.refresh.cancel()
        if deregister:
            # §9.5.3: delete the entry (a de-registration with no entry creates nothing).
            self.cache.pop(home, None)
            self.counters["bindings_deleted"] += 1
            if existing is not None:
                self.notify(BindingDeleted(now, home))
        else:
            self._entries[home] = self._schedule(now, home, expires)
            if result.outcome is Outcome.CREATED:
                self.counters["bindings_created"] += 1
                self.notify(BindingCreated(now, home, care_of, lifetime))
            else:
                self.counters["bindings_updated"] += 1
                self.notify(BindingUpdated(now, home, care_of, lifetime))
        if bu.ack:
            # §9.5.4: acceptance is acknowledged only when A is set.
            self._send_ack(now, iface, packet, home, care_of, BindingAckStatus.ACCEPTED, bu.sequence, lifetime)

    def _send_ack(self, now: int, iface: Interface, packet: Packet, home: IPv6Address, care_of: IPv6Address,
                  status: int, sequence: int, lifetime: int) -> None:
        """Binding Acknowledgement (§6.1.8) to the care-of address with a Type 2 routing header holding
        the home address (§9.5.4); straight to the home address when the two are the same."""
        ba = BindingAcknowledgement(status=int(status), sequence=sequence, lifetime=lifetime)
        rh2 = home if care_of != home else None
        reply = Packet(src=packet.dst, dst=care_of, rh2=rh2, hop_limit=64, payload=ba)
        self.counters[f"ba_sent.status{int(status)}"] += 1
        self._transmit_signalling(now, reply.to_bytes(), iface.name)

    def _transmit_signalling(self, now: int, raw: bytes, zone: str | None) -> None:
        """Signalling that already carries its routing header goes straight to routing (the RH2 kernel
        leaves Mobility Headers alone anyway)."""
        super().output_packet(now, raw, zone)

    # ------------------------------------------------------------ bindings: expiry and refresh

    def _schedule(self, now: int, home: IPv6Address, expires: int) -> _Entry:
        entry = _Entry(expiry=self.call_at(expires, self._expire))
        binding = self.cache.get(home)
        entry.packets_at_registration = binding.packets if binding is not None else 0
        at = expires - self.config.refresh_lead_ns
        if self.config.refresh_requests and at > now:
            entry.refresh = self.call_at(at, lambda t, h=home: self._refresh(t, h))
        return entry

    def _expire(self, now: int) -> None:
        """§9.5.2: entries whose lifetime ran out are deleted."""
        for home in self.cache.expire(now):
            entry = self._entries.pop(home, None)
            if entry is not None and entry.refresh is not None:
                entry.refresh.cancel()
            self.counters["bindings_expired"] += 1
            self.notify(BindingExpired(now, home))

    def _refresh(self, now: int, home: IPv6Address) -> None:
        """§9.5.5: a Binding Refresh Request for an entry about to expire that is in active use (the
        data path counted packets for it since it was registered)."""
        binding = self.cache.get(home)
        entry = self._entries.get(home)
        if binding is None or entry is None:
            return
        entry.refresh = None
        if binding.packets <= entry.packets_at_registration:
            self.counters["brr_skipped_idle"] += 1
            return
        route = self.lookup(binding.care_of_address)
        source = None if route is None else self.interfaces[route.interface].source_for(binding.care_of_address)
        if source is None:
            self.drop("brr_no_source")
            return
        pkt = Packet(src=source, dst=binding.care_of_address, rh2=home, hop_limit=64,
                     payload=BindingRefreshRequest())
        self.counters["brr_sent"] += 1
        self.notify(BindingRefreshRequested(now, home, binding.care_of_address))
        self._transmit_signalling(now, pkt.to_bytes(), None)

    # ------------------------------------------------------------ outbound: RH2 (§9.3.2)

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None:
        """Every packet this node originates: to a bound home address it leaves for the care-of address
        with a Type 2 routing header, inserted by the C kernel over a batch (§9.3.2, §6.4)."""
        if not self.config.mobility_support or not self.cache or len(raw) + 128 + 24 > self._tx.slot_size:
            super().output_packet(now, raw, zone)
            return
        batch = self._tx
        batch.clear()
        batch.append(raw)
        self.datapath.insert_rh2(batch)
        verdict, reason = int(batch.verdict[0]), int(batch.reason[0])
        data = batch.packet(0)
        if verdict in (Verdict.FORWARD, Verdict.PASS):
            if verdict == Verdict.FORWARD:
                self.counters["rh2_inserted"] += 1
            super().output_packet(now, data, zone)
        elif verdict == Verdict.TOO_BIG:
            self.drop("send_too_big_for_rh2")
        else:
            self.drop(f"datapath.{DropReason(reason).name.lower()}")

    def send_batch(self, now: int, packets: list[bytes]) -> Output:
        """Several application packets at once: each checked with ``parse`` as in ``send``, then one
        ``insert_rh2`` call over the whole batch. ``packets`` is a list of packets or a PacketBatch
        (what the runner reads from the TUN)."""
        if isinstance(packets, PacketBatch):
            packets = list(packets.packets())
        out = self._begin()
        good = []
        for raw in packets:
            if self.from_application(bytes(raw)):
                good.append(bytes(raw))
        packets = good
        if not self.config.mobility_support or not self.cache:
            for raw in packets:
                super().output_packet(now, bytes(raw))
            return self._finish(out)
        batch = PacketBatch(max(1, len(packets)), slot_size=self._slot_size(), headroom=128)
        for raw in packets:
            batch.append(raw)
        self.datapath.insert_rh2(batch)
        verdict, reason = batch.verdict[:len(packets)].tolist(), batch.reason[:len(packets)].tolist()
        items = [(verdict[i], reason[i], batch.packet(i)) for i in range(len(packets))]
        for v, r, data in items:
            if v in (Verdict.FORWARD, Verdict.PASS):
                if v == Verdict.FORWARD:
                    self.counters["rh2_inserted"] += 1
                super().output_packet(now, data)
            elif v == Verdict.TOO_BIG:
                self.drop("send_too_big_for_rh2")
            else:
                self.drop(f"datapath.{DropReason(r).name.lower()}")
        return self._finish(out)

    def reboot(self, now: int) -> None:
        """A restart that loses every binding: the cache lives in memory only (RFC 6275 §9.5.2 gives it
        no persistence), so after a reboot HAO packets from a mobile node draw Binding Error status 1
        (§9.3.1) until it sends a new Binding Update. Addresses, neighbours and applications are kept
        (the node's host part is not what is being tested); no packet is sent."""
        for entry in self._entries.values():
            entry.expiry.cancel()
            if entry.refresh is not None:
                entry.refresh.cancel()
        self._entries.clear()
        for home in list(self.cache):
            self.cache.pop(home, None)
        self.error_bucket = TokenBucket(self.config.binding_error_rate, self.config.binding_error_burst)
        self.counters["reboots"] += 1

    def bindings(self) -> dict[IPv6Address, IPv6Address]:
        """Home address → care-of address of every binding."""
        return {b.key: b.care_of_address for b in self.cache.values()}

