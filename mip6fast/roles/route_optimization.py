"""Route optimisation on the mobile node (RFC 6275 §11.3.1-§11.3.6, §11.7.2), owned by ``MobileNode``.

Theory of operation
-------------------
``RouteOptimizer`` keeps one ``CorrespondentBinding`` per (correspondent, home address) the node has
talked to while away. Whether a correspondent is worth a binding is a policy
(``RouteOptimizationConfig``): ``"always"``, ``"never"`` or a number N of packets exchanged with it
through the home agent's tunnel, with a default and per-correspondent overrides. Packets are counted on
the data path's batches: the mobile node hands over the indices of the packets a kernel tunnelled
(reverse tunnel out, decapsulated in), and one numpy ``unique`` over their (peer, home address) columns
gives the count per peer, so no Python runs per packet.

Binding Update to a correspondent (§11.7.2): from the care-of address with a Home Address option, A
set, H = L = K = 0, lifetime at most MAX_RR_BINDING_LIFETIME (and what is left of the home and care-of
addresses), retransmitted from INITIAL_BINDACK_TIMEOUT doubling to MAX_BINDACK_TIMEOUT with a new
sequence number each time (§11.8), under the node's per-destination rate limit (MAX_UPDATE_RATE).
Return routability (§5.2) is a later issue: the correspondent's acceptance check is pluggable and the
BU carries no Nonce Indices / Binding Authorization Data yet. Only after a Binding Acknowledgement with
status < 128 does the entry go into the binding update list under (peer, home address); from then on
``MobileNodeDataPath.insert_hao`` sends to that peer directly with a Home Address option (§11.3.1),
and the correspondent answers with a Type 2 routing header (processed by ``process_rh2``, §11.3.3).
The entry is refreshed before it expires; a new care-of address sends new BUs once the home agent has
accepted it (§11.7.2: the home registration comes first); back home, a BU with lifetime 0 from the home
address, no HAO, after the home de-registration (§11.5.5).

Fallback (§11.3.5, §11.3.6): a Binding Error status 1 from a correspondent we hold an entry for (the
correspondent lost our binding), an ICMPv6 Parameter Problem pointing at our Home Address option or
Mobility Header, or Destination Unreachable "administratively prohibited" for them, removes the entry
(packets go back through the tunnel at once) and holds the peer down for ``hold_down_ns``; after that
the policy decides again (for "after N", N tunnelled packets are counted afresh). A Binding Error
status 2 (Mobility Header type not recognised) stops BUs to that peer for good. Binding Errors from a
node we hold no entry for are ignored (§11.3.6: spoofing protection).

Notifications: ``RouteOptimisationStarted`` when a BA makes an entry usable for a care-of address,
``RouteOptimisationStopped(reason)`` when an entry or an attempt ends (``hold_down_until`` None means
for good, or no hold-down at all for a return home).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Union

import numpy as np

from ..binding_cache import FLAG_ACK, Outcome
from ..wire import (
    BindingAcknowledgement,
    BindingError,
    BindingRefreshRequest,
    BindingUpdate,
    DestinationUnreachable,
    Packet,
    ParameterProblem,
)
from .events import NS_PER_S, Notification, Timer
from .interface import LINK_LOCAL, NH_MH, UNSPECIFIED

if TYPE_CHECKING:
    from ..batch import PacketBatch
    from .mobile_node import MobileNode

__all__ = [
    "ALWAYS", "MAX_RR_BINDING_LIFETIME", "NEVER", "CorrespondentBinding", "PeerState",
    "RouteOptimisationStarted", "RouteOptimisationStopped", "RouteOptimizationConfig", "RouteOptimizer",
    "strip_processed_rh2",
]

ALWAYS = "always"
NEVER = "never"
MAX_RR_BINDING_LIFETIME = 420          # seconds (RFC 6275 §12)
SEQUENCE_MOD = 1 << 16
# BUL flag for a registered correspondent entry (low byte, as mobile_node.BUL_REGISTERED).
_BUL_REGISTERED = 0x02
_HAO_TYPE = 201                        # §6.3: Home Address option type
_NH_HOPOPT, _NH_ROUTING, _NH_DSTOPTS, _NH_IPV6 = 0, 43, 60, 41

Policy = Union[str, int]


def _policy_threshold(policy: Policy) -> int | None:
    """Tunnelled packets needed before route optimisation: 0 for "always", None for "never"."""
    if policy == ALWAYS:
        return 0
    if policy == NEVER:
        return None
    if isinstance(policy, bool) or not isinstance(policy, int) or policy < 1:
        raise ValueError(f"route optimisation policy must be 'always', 'never' or a packet count >= 1, "
                         f"got {policy!r}")
    return policy


@dataclass(frozen=True)
class RouteOptimizationConfig:
    """``default``: the policy for any correspondent ("always", "never", or N: after N packets with it
    through the tunnel); ``peers``: per-correspondent overrides (a mapping or pairs); ``lifetime``: the
    binding lifetime asked for, seconds, at most MAX_RR_BINDING_LIFETIME (§5.2.6); ``hold_down_ns``: how
    long a correspondent that refused route optimisation is left alone (§11.3.5-§11.3.6)."""
    default: Policy = NEVER
    peers: Mapping[IPv6Address, Policy] | tuple = ()
    lifetime: int = MAX_RR_BINDING_LIFETIME
    hold_down_ns: int = 60 * NS_PER_S

    def __post_init__(self):
        pairs = self.peers.items() if isinstance(self.peers, Mapping) else self.peers
        peers = tuple(sorted(((IPv6Address(p), v) for p, v in pairs), key=lambda kv: kv[0]))
        for _, policy in peers:
            _policy_threshold(policy)
        _policy_threshold(self.default)
        object.__setattr__(self, "peers", peers)
        if not 0 < self.lifetime <= MAX_RR_BINDING_LIFETIME:
            raise ValueError(f"lifetime must be in 1..{MAX_RR_BINDING_LIFETIME} s")
        if self.hold_down_ns < 0:
            raise ValueError("hold_down_ns must not be negative")

    def threshold(self, peer: IPv6Address) -> int | None:
        for p, policy in self.peers:
            if p == peer:
                return _policy_threshold(policy)
        return _policy_threshold(self.default)

    @property
    def enabled(self) -> bool:
        return _policy_threshold(self.default) is not None or any(
            _policy_threshold(v) is not None for _, v in self.peers)


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True)
class RouteOptimisationStarted(Notification):
    """A correspondent accepted a binding (BA status < 128): packets to ``peer`` from ``home_address``
    now go directly from ``care_of`` with a Home Address option."""
    peer: IPv6Address
    home_address: IPv6Address
    care_of: IPv6Address
    lifetime: int


@dataclass(frozen=True)
class RouteOptimisationStopped(Notification):
    """Route optimisation with ``peer`` ended or an attempt failed; traffic goes through the tunnel.
    ``hold_down_until``: no new attempt before then (None: none planned)."""
    peer: IPv6Address
    home_address: IPv6Address
    reason: str
    hold_down_until: int | None = None


# ---------------------------------------------------------------- state

class PeerState(Enum):
    IDLE = "idle"                    # tunnelled; counting packets against the policy
    BINDING = "binding"              # a BU is outstanding (first one, new care-of address, refresh)
    OPTIMISED = "optimised"          # the BA arrived: the entry is in the binding update list
    HELD_DOWN = "held_down"          # refused for a while (§11.3.5-§11.3.6)
    REFUSED = "refused"              # Binding Error status 2: no more BUs to this peer
    DEREGISTERING = "deregistering"  # back home: lifetime-0 BU outstanding


@dataclass
class CorrespondentBinding:
    """One (correspondent, home address) pair: the Python side of its binding update list entry."""
    peer: IPv6Address
    home: IPv6Address
    next_sequence: int
    state: PeerState = PeerState.IDLE
    tunnelled: int = 0                    # packets through the tunnel since the last reset
    outstanding: int | None = None        # sequence of the BU awaiting its BA
    sent_at: int = 0
    lifetime_asked: int = 0
    care_of: IPv6Address | None = None    # care-of address of the outstanding / accepted BU
    timeout: int = 0
    refused_mh_types: set[int] = field(default_factory=set)
    started_at: int | None = None
    retransmit: Timer | None = None
    refresh: Timer | None = None
    expiry: Timer | None = None
    deferred: Timer | None = None
    hold: Timer | None = None

    @property
    def key(self) -> tuple[IPv6Address, IPv6Address]:
        return (self.peer, self.home)

    def cancel(self, *names: str) -> None:
        for name in names or ("retransmit", "refresh", "expiry", "deferred", "hold"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)


def _invoking_layout(raw: bytes) -> tuple[int, int, int, int]:
    """Where things are in an invoking packet quoted by an ICMPv6 error (possibly cut short): offset of
    our Home Address option's type byte (-1 if none), offset of the byte that names the upper layer,
    the upper-layer next header, and the offset of the upper layer."""
    n = len(raw)
    nh, nh_field, off, hao = raw[6], 6, 40, -1
    while nh in (_NH_HOPOPT, _NH_ROUTING, _NH_DSTOPTS) and off + 2 <= n:
        hlen = (raw[off + 1] + 1) * 8
        if nh == _NH_DSTOPTS:
            i, end = off + 2, min(off + hlen, n)
            while i + 1 < end:
                if raw[i] == 0:                       # Pad1
                    i += 1
                    continue
                if raw[i] == _HAO_TYPE:
                    hao = i
                    break
                i += 2 + raw[i + 1]
        nh_field, nh, off = off, raw[off], off + hlen
    return hao, nh_field, nh, off


def strip_processed_rh2(raw: bytes) -> bytes:
    """A packet whose Type 2 routing header ``process_rh2`` has processed (segments left 0, destination
    = the home address, the header holding the care-of address) as its upper layer sees it: without the
    routing header (§6.4, §11.3.3: the home address is the final destination; the header is not passed
    up). Upper-layer checksums then verify with the home address in the pseudo-header, as §6.4 says
    they were computed; ``parse`` refuses the processed header (it accepts the wire form only)."""
    if len(raw) < 64 or raw[6] != _NH_ROUTING or raw[41] != 2 or raw[42] != 2 or raw[43] != 0:
        return raw
    length = int.from_bytes(raw[4:6], "big") - 24
    return raw[:4] + length.to_bytes(2, "big") + raw[40:41] + raw[7:40] + raw[64:]


# ---------------------------------------------------------------- the manager

class RouteOptimizer:
    """Route optimisation for one ``MobileNode`` (see the module docstring). The node calls the hooks:
    ``count_outbound`` / ``count_inbound`` from its data path, ``home_registered`` when its home agent
    accepted a new care-of address, ``returned_home`` / ``home_deregistered`` on the way home,
    ``handle_mobility`` / ``handle_icmp_error`` for signalling from correspondents."""

    def __init__(self, node: MobileNode, config: RouteOptimizationConfig):
        self.node = node
        self.config = config
        self.bindings: dict[tuple[IPv6Address, IPv6Address], CorrespondentBinding] = {}

    # ------------------------------------------------------------ helpers

    def _count(self, what: str, n: int = 1) -> None:
        self.node.counters[f"mn.ro.{what}"] += n

    def _binding(self, peer: IPv6Address, home: IPv6Address) -> CorrespondentBinding:
        b = self.bindings.get((peer, home))
        if b is None:
            # §11.7.2 / §11.8: like the home registration, the first sequence number is random.
            b = self.bindings[(peer, home)] = CorrespondentBinding(peer, home,
                                                                   self.node.rng.randrange(SEQUENCE_MOD))
        return b

    def _eligible_peer(self, peer: IPv6Address) -> bool:
        """Never with our own home agents (they get home registrations), nor with addresses a binding
        cannot name (§9.5.1: unicast routable only)."""
        if peer.is_multicast or peer in LINK_LOCAL or peer == UNSPECIFIED or peer.is_loopback:
            return False
        return all(h.home_agent != peer for h in self.node.config.homes)

    def _can_optimise(self, b: CorrespondentBinding) -> bool:
        from .mobile_node import Location
        node = self.node
        reg = node.registrations.get(b.home)
        return (node.location_of(b.home) is Location.AWAY and node.care_of is not None and reg is not None
                and reg.active and BindingUpdate.MH_TYPE not in b.refused_mh_types)

    def state_of(self, peer, home=None) -> PeerState:
        peer = IPv6Address(peer)
        home = IPv6Address(home) if home is not None else self.node.config.homes[0].address
        b = self.bindings.get((peer, home))
        return PeerState.IDLE if b is None else b.state

    # ------------------------------------------------------------ the data path: counting (policy)

    def count_outbound(self, now: int, batch: PacketBatch, idx: np.ndarray) -> None:
        """``idx``: packets the outbound kernels FORWARDed. Those in the reverse tunnel (outer next
        header 41) count against their inner destination; the others left with a HAO."""
        if not idx.size:
            return
        off = batch.offset[idx].astype(np.int64)
        tunnelled = batch.buf[off + 6] == _NH_IPV6
        direct = int(idx.size - tunnelled.sum())
        if direct:
            self._count("hao_sent", direct)
        # Inner packet: source (home address) at 40 + 8, destination (peer) at 40 + 24.
        self._count_pairs(now, batch, off[tunnelled], peer_at=64, home_at=48)

    def count_inbound(self, now: int, batch: PacketBatch, idx: np.ndarray, tunnelled: np.ndarray) -> None:
        """``idx``: packets the inbound kernels FORWARDed (now the inner / swapped packets);
        ``tunnelled``: which of them came out of the tunnel (the others carried a Type 2 routing
        header). Tunnelled ones count against their source."""
        if not idx.size:
            return
        direct = int(idx.size - tunnelled.sum())
        if direct:
            self._count("rh2_received", direct)
        off = batch.offset[idx].astype(np.int64)
        self._count_pairs(now, batch, off[tunnelled], peer_at=8, home_at=24)

    def _count_pairs(self, now: int, batch: PacketBatch, off: np.ndarray, peer_at: int, home_at: int) -> None:
        """One gather and one ``np.unique`` over the batch's (peer, home) columns; Python runs once per
        distinct pair, not per packet."""
        if not off.size or not self.config.enabled:
            return
        cols = np.concatenate((off[:, None] + peer_at + np.arange(16), off[:, None] + home_at + np.arange(16)),
                              axis=1)
        rows = batch.buf[np.minimum(cols, batch.buf.size - 1)]
        pairs, counts = np.unique(rows, axis=0, return_counts=True)
        homes = {h.address.packed for h in self.node.config.homes}
        for row, count in zip(pairs, counts.tolist()):
            raw = row.tobytes()
            if raw[16:] not in homes:
                continue
            peer = IPv6Address(raw[:16])
            threshold = self.config.threshold(peer)
            if threshold is None or not self._eligible_peer(peer):
                continue
            b = self._binding(peer, IPv6Address(raw[16:]))
            if b.state is not PeerState.IDLE:
                continue                        # binding, optimised, held down or refused: not counted
            b.tunnelled += count
            if b.state is PeerState.IDLE and b.tunnelled >= threshold and self._can_optimise(b):
                self._start(now, b)

    # ------------------------------------------------------------ hooks from the mobile node

    def home_registered(self, now: int, home: IPv6Address, care_of: IPv6Address) -> None:
        """The home agent accepted a new care-of address (§11.7.2: correspondents are told after the
        home registration). Every binding or attempt for this home address is redone from it; peers
        configured "always" start now."""
        for b in list(self.bindings.values()):
            if b.home != home:
                continue
            threshold = self.config.threshold(b.peer)
            if b.state in (PeerState.OPTIMISED, PeerState.BINDING) and b.care_of != care_of:
                self._count("bu_new_care_of")
                self.node.binding_update_list.pop(b.key, None)   # its care-of address is gone
                b.state = PeerState.BINDING
                self._start(now, b)
            elif b.state is PeerState.IDLE and threshold is not None and b.tunnelled >= threshold:
                self._start(now, b)
        for peer, policy in self.config.peers:
            if _policy_threshold(policy) == 0 and self._eligible_peer(peer):
                b = self._binding(peer, home)
                if b.state is PeerState.IDLE:
                    self._start(now, b)

    def returned_home(self, now: int) -> None:
        """§11.5.5: at home no Home Address option is used: entries leave the binding update list at
        once; the correspondents are told (lifetime-0 BU) after the home de-registration."""
        from .mobile_node import RegistrationState
        for b in self.bindings.values():
            was = b.state
            b.cancel("retransmit", "refresh", "expiry", "deferred")
            self.node.binding_update_list.pop(b.key, None)
            b.outstanding = None
            b.tunnelled = 0
            if was in (PeerState.OPTIMISED, PeerState.BINDING):
                b.state = PeerState.DEREGISTERING
                self.node.notify(RouteOptimisationStopped(now, b.peer, b.home, "returned_home"))
        for b in list(self.bindings.values()):
            reg = self.node.registrations.get(b.home)
            if b.state is PeerState.DEREGISTERING and reg is not None and reg.state is RegistrationState.HOME:
                self._send_deregistration(now, b)   # no home binding to remove first

    def home_deregistered(self, now: int, home: IPv6Address) -> None:
        for b in list(self.bindings.values()):
            if b.home == home and b.state is PeerState.DEREGISTERING and b.outstanding is None:
                self._send_deregistration(now, b)

    # ------------------------------------------------------------ Binding Updates to correspondents

    def _start(self, now: int, b: CorrespondentBinding) -> None:
        b.cancel("retransmit", "refresh", "deferred", "hold")
        if b.state is not PeerState.OPTIMISED:
            b.state = PeerState.BINDING
        b.care_of = self.node.care_of
        b.timeout = self.node.config.initial_bindack_timeout      # §11.8: 1 s for correspondents
        self._send_bu(now, b)

    def _send_deregistration(self, now: int, b: CorrespondentBinding) -> None:
        b.cancel("retransmit", "deferred")
        b.state = PeerState.DEREGISTERING
        b.care_of = b.home
        b.timeout = self.node.config.initial_bindack_timeout
        self._send_bu(now, b)

    def _lifetime(self, now: int, b: CorrespondentBinding) -> int:
        """≤ MAX_RR_BINDING_LIFETIME, and (§11.7.2) no longer than what is left of the home registration
        and of the home and care-of addresses."""
        limit = self.config.lifetime * NS_PER_S
        node = self.node
        reg = node.registrations.get(b.home)
        home_entry = node.binding_update_list.get(reg.key) if reg is not None else None
        coa = node.iface.addresses.get(b.care_of) if b.care_of is not None else None
        for until in (reg.home.valid_until if reg is not None else None,
                      home_entry.expires_ns if home_entry is not None else None,
                      coa.valid_until if coa is not None else None):
            if until is not None:
                limit = min(limit, until - now)
        return max(0, min(MAX_RR_BINDING_LIFETIME, limit // NS_PER_S))

    def _send_bu(self, now: int, b: CorrespondentBinding) -> None:
        """The next BU of ``b`` with a new sequence number (§11.8), unless the node's rate limit to this
        destination says wait; then arm the retransmission."""
        node = self.node
        b.deferred = None
        sent = node._bu_sent.setdefault(b.peer, deque())
        while sent and sent[0] <= now - NS_PER_S:
            sent.popleft()
        if len(sent) >= node.config.max_update_rate:
            self._count("bu_rate_limited")                   # §11.8: MAX_UPDATE_RATE per destination
            b.cancel("retransmit")
            b.deferred = node.call_at(sent[0] + NS_PER_S, lambda t: self._send_bu(t, b))
            return
        deregistering = b.state is PeerState.DEREGISTERING
        lifetime = 0 if deregistering else self._lifetime(now, b)
        if not deregistering and (b.care_of is None or lifetime == 0):
            self._count("bu_no_lifetime")
            self._stop(now, b, "no_lifetime", hold=True)
            return
        seq = b.next_sequence
        b.next_sequence = (seq + 1) % SEQUENCE_MOD
        b.outstanding = seq
        b.sent_at = now
        b.lifetime_asked = lifetime
        bu = BindingUpdate(sequence=seq, lifetime=lifetime, ack=True)   # H = L = K = 0 (§6.1.7, §11.7.2)
        if deregistering:
            # §11.5.5: from the home address, no Home Address option.
            packet = Packet(src=b.home, dst=b.peer, hop_limit=64, payload=bu)
        else:
            packet = Packet(src=b.care_of, dst=b.peer, home_address=b.home, hop_limit=64, payload=bu)
        sent.append(now)
        self._count("bu_sent")
        node.output_packet(now, packet.to_bytes())
        b.cancel("retransmit")
        b.retransmit = node.call_at(now + b.timeout, lambda t: self._retransmit(t, b))

    def _retransmit(self, now: int, b: CorrespondentBinding) -> None:
        b.retransmit = None
        if b.outstanding is None:
            return
        if b.timeout >= self.node.config.max_bindack_timeout:
            # §11.8: the backoff reached MAX_BINDACK_TIMEOUT without an answer: the correspondent does
            # not take our BUs (e.g. it discards them, §9.5.1); stay with the tunnel.
            self._count("bu_unanswered")
            if b.state is PeerState.DEREGISTERING:
                b.state, b.outstanding = PeerState.IDLE, None
                return
            self._stop(now, b, "no_acknowledgement", hold=True)
            return
        b.timeout = min(b.timeout * 2, self.node.config.max_bindack_timeout)
        self._count("bu_retransmitted")
        self._send_bu(now, b)

    # ------------------------------------------------------------ signalling from correspondents

    def handle_mobility(self, now: int, packet: Packet) -> bool:
        """A Mobility Header from a node we hold correspondent state for; False: not ours."""
        msg = packet.payload
        home = packet.rh2 if packet.rh2 is not None else packet.dst
        b = self.bindings.get((packet.src, home))
        if isinstance(msg, BindingError):
            return self._on_binding_error(now, packet, msg)
        if b is None:
            return False
        if isinstance(msg, BindingAcknowledgement):
            self._on_ack(now, b, packet, msg)
        elif isinstance(msg, BindingRefreshRequest):
            # §11.7.4: a correspondent asks for a fresh BU.
            self._count("brr_received")
            if b.state is PeerState.OPTIMISED and self._can_optimise(b):
                self._start(now, b)
            else:
                self.node.drop("mn.ro.brr_not_optimised")
        else:
            self.node.drop(f"mn.ro.mh_unhandled.{type(msg).__name__}")
        return True

    def _on_ack(self, now: int, b: CorrespondentBinding, packet: Packet, ba: BindingAcknowledgement) -> None:
        """§11.7.3 for a correspondent's BA."""
        from .mobile_node import Location
        away = self.node.location_of(b.home) is Location.AWAY
        if b.outstanding is None:
            self.node.drop("mn.ro.ba_unexpected")
            return
        if away and (packet.rh2 != b.home or packet.dst != b.care_of):
            self.node.drop("mn.ro.ba_wrong_address")      # §6.1.8: to the CoA with an RH2
            return
        if ba.status == 135:
            self._count("ba_sequence_out_of_window")
            b.next_sequence = (ba.sequence + 1) % SEQUENCE_MOD
            b.cancel("retransmit", "deferred")
            self._send_bu(now, b)
            return
        if ba.sequence != b.outstanding:
            self.node.drop("mn.ro.ba_sequence_mismatch")
            return
        b.outstanding = None
        b.cancel("retransmit", "deferred")
        if b.state is PeerState.DEREGISTERING:
            self._count("deregistered")
            b.state = PeerState.IDLE
            return
        if ba.status >= 128:
            # 136-138 ask for a new return routability round (a later issue); any rejection sends the
            # traffic back through the tunnel for the hold-down.
            self._count(f"ba_rejected.{ba.status}")
            self._stop(now, b, f"ba_status_{ba.status}", hold=True)
            return
        if ba.lifetime == 0:
            self.node.drop("mn.ro.ba_zero_lifetime")
            self._stop(now, b, "zero_lifetime", hold=True)
            return
        granted = min(ba.lifetime, b.lifetime_asked) if b.lifetime_asked else ba.lifetime
        expires = b.sent_at + granted * NS_PER_S          # counts from when the BU left (§11.7.3)
        interval = granted * NS_PER_S
        lead = max(interval // 10, min(interval // 2, 2 * self.node.config.initial_bindack_timeout))
        bul = self.node.binding_update_list
        bul.pop(b.key, None)
        result = bul.update(b.key, b.care_of, ba.sequence, FLAG_ACK | _BUL_REGISTERED, expires)
        if result.outcome is Outcome.NOMEM:
            self._count("bul_full")
            self._stop(now, b, "binding_update_list_full", hold=True)
            return
        new = b.state is not PeerState.OPTIMISED or b.started_at is None
        b.state = PeerState.OPTIMISED
        b.cancel("refresh", "expiry")
        b.refresh = self.node.call_at(max(now, b.sent_at + interval - lead), lambda t: self._refresh(t, b))
        b.expiry = self.node.call_at(expires, lambda t: self._expired(t, b))
        if new:
            b.started_at = now
            self._count("started")
            assert b.care_of is not None
            self.node.notify(RouteOptimisationStarted(now, b.peer, b.home, b.care_of, granted))
        else:
            self._count("refreshed")

    def _refresh(self, now: int, b: CorrespondentBinding) -> None:
        b.refresh = None
        if b.state is PeerState.OPTIMISED and self._can_optimise(b) and b.care_of == self.node.care_of:
            self._start(now, b)

    def _expired(self, now: int, b: CorrespondentBinding) -> None:
        b.expiry = None
        entry = self.node.binding_update_list.get(b.key)
        if entry is not None and entry.expires_ns > now:
            return
        self._count("expired")
        self._stop(now, b, "expired", hold=False)

    def _on_binding_error(self, now: int, packet: Packet, be: BindingError) -> bool:
        """§11.3.6: only from a correspondent we hold an entry for (else ignored). Status 1: it lost our
        binding (or never had it) → back to the tunnel, hold-down, then the policy again. Status 2: it
        does not know the MH type we sent → no more of it to that peer."""
        home = be.home_address if be.home_address != UNSPECIFIED else None
        candidates = [b for b in self.bindings.values() if b.peer == packet.src
                      and (home is None or b.home == home)]
        if not candidates:
            return False
        active = [b for b in candidates if b.state in (PeerState.OPTIMISED, PeerState.BINDING)]
        if not active:
            self.node.drop("mn.ro.binding_error_without_entry")
            return True
        self._count(f"binding_error.{be.status}")
        for b in active:
            if be.status == 1:
                self._stop(now, b, "binding_error_unknown_binding", hold=True)
            elif be.status == 2:
                b.refused_mh_types.add(BindingUpdate.MH_TYPE)
                self._stop(now, b, "binding_error_unrecognised_mh_type", hold=False, refused=True)
            else:
                self.node.drop(f"mn.ro.binding_error_status.{be.status}")
        return True

    def handle_icmp_error(self, now: int, packet: Packet) -> bool:
        """§11.3.5: Parameter Problem pointing at our Home Address option (code 2) or at the next header
        naming our Mobility Header (code 1) or inside it (code 0), or Destination Unreachable
        administratively prohibited about a BU / HAO packet: the peer does not do route optimisation."""
        msg = packet.payload
        invoking = msg.invoking
        if len(invoking) < 40:
            return False
        peer, src = IPv6Address(invoking[24:40]), IPv6Address(invoking[8:24])
        hao, nh_field, nh, upper = _invoking_layout(invoking)
        home = IPv6Address(invoking[hao + 2:hao + 18]) if 0 <= hao and hao + 18 <= len(invoking) else src
        b = self.bindings.get((peer, home))
        if b is None or b.state not in (PeerState.OPTIMISED, PeerState.BINDING):
            return False
        if isinstance(msg, ParameterProblem):
            if msg.code == 2 and hao >= 0 and msg.pointer == hao:
                reason = "parameter_problem_home_address_option"
            elif nh == NH_MH and ((msg.code == 1 and msg.pointer == nh_field)
                                  or (msg.code == 0 and msg.pointer >= upper)):
                reason = "parameter_problem_mobility_header"
            else:
                return False
        elif isinstance(msg, DestinationUnreachable) and msg.code == 1 and (hao >= 0 or nh == NH_MH):
            reason = "administratively_prohibited"
        else:
            return False
        self._count(reason)
        self._stop(now, b, reason, hold=True)
        return True

    # ------------------------------------------------------------ fallback

    def _stop(self, now: int, b: CorrespondentBinding, reason: str, hold: bool, refused: bool = False) -> None:
        """Back to the tunnel: the entry leaves the binding update list (the next batch tunnels), then
        a hold-down (or for good when ``refused``)."""
        b.cancel()
        self.node.binding_update_list.pop(b.key, None)
        b.outstanding = None
        b.tunnelled = 0
        b.started_at = None
        until = None
        if refused:
            b.state = PeerState.REFUSED
        elif hold:
            until = now + self.config.hold_down_ns
            b.state = PeerState.HELD_DOWN
            b.hold = self.node.call_at(until, lambda t: self._hold_over(t, b))
        else:
            b.state = PeerState.IDLE
        self._count("stopped")
        self.node.notify(RouteOptimisationStopped(now, b.peer, b.home, reason, until))

    def _hold_over(self, now: int, b: CorrespondentBinding) -> None:
        b.hold = None
        if b.state is not PeerState.HELD_DOWN:
            return
        b.state = PeerState.IDLE
        b.tunnelled = 0
        self._count("hold_down_over")
        if self.config.threshold(b.peer) == 0 and self._can_optimise(b):
            self._start(now, b)
