"""Route optimisation on the mobile node (RFC 6275 §11.3.1-§11.3.6, §11.7.2), held by ``MobileNode``.

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
sequence number each time (§11.8), under the node's per-destination rate limit (MAX_UPDATE_RATE): the
registration engine's rules (registration.py), in its ``CORRESPONDENT_REGISTRATION`` table, with the
rate limiter the node's home registrations use too.

Return routability comes first (§5.2, §11.6; the cryptography is wire/return_routability.py): the BU
needs a home keygen token and a care-of keygen token for its care-of address, each younger than
MAX_TOKEN_LIFETIME (210 s). A token missing or too old starts its test, run by the registration
engine like a BU (one engine per message, §11.8: 1 s doubling to 32 s, a new cookie each time, under
the node's limit per correspondent; ``KeygenTest`` in the ``KEYGEN_TEST`` table): the Home Test Init
from the home address, which the data path reverse-tunnels through the home agent (a Mobility Header
never gets a Home Address option), the Care-of Test Init from the care-of address, directly. A Home
Test is taken only from the correspondent being tested, to the home address, out of the home agent's
tunnel while away (the data path hands it over, ``tunnelled_mobility``), echoing the cookie of the
latest Home Test Init; a Care-of Test only to the care-of address being tested, echoing its cookie;
anything else is dropped and counted (§11.6.2). Tokens are kept per (correspondent, home address)
and reused: a refresh within 210 s needs no test, a move repeats only the care-of test, and a
de-registration back home needs only the home token (a home test from home if it is too old; §11.6.1).
The BU then carries Nonce Indices and, last, Binding Authorization Data made with Kbm =
SHA1(home token | care-of token) over the care-of address (SHA1(home token) and the home address for
a de-registration). The correspondent's BA must carry a correct Binding Authorization Data of its own,
made with the same Kbm, or it is dropped and counted (§11.7.3) -- except a BA with status 136, 137 or
138, which cannot (the correspondent no longer knows the nonce, so has no Kbm): it runs the home test
(136), the care-of test (137) or both (138) again and the BU is retried, at most ``MAX_RR_RERUNS``
times in a row before route optimisation with that peer is held down. A test that goes unanswered to
the end of the back-off, like a BU, sends the traffic back to the tunnel for the hold-down; so does a
Parameter Problem about a Care-of Test Init (a correspondent without Mobile IPv6, §11.6.2).
``unauthenticated_bindings`` (lab only, for a correspondent configured the same) skips all of it:
BUs without the two options, BAs taken without Binding Authorization Data.

Only after a Binding Acknowledgement with status < 128 does the entry go into the binding update list
under (peer, home address); from then on
``MobileNodeDataPath.insert_hao`` sends to that peer directly with a Home Address option (§11.3.1),
and the correspondent answers with a Type 2 routing header (processed by ``process_rh2``, §11.3.3).
The entry is refreshed before it expires; a new care-of address starts its care-of tests at once, in
parallel with the home registration (``care_of_changed``), and sends new BUs once the home agent has
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

What it needs of the mobile node is ``MobileNodeView`` (where it is, its home addresses and their
registrations) plus the node's services, the binding update list and the rate limiter, all given to it;
it touches nothing else of the node.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv6Address
from typing import Protocol, Union, cast

import numpy as np

from ..batch import PacketBatch
from ..binding_cache import FLAG_ACK, BindingCache, Outcome
from ..wire import (
    BindingAcknowledgement,
    BindingError,
    BindingRefreshRequest,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    DestinationUnreachable,
    HomeTest,
    HomeTestInit,
    NonceIndices,
    Packet,
    ParameterProblem,
)
from ..wire.return_routability import (
    MAX_RR_BINDING_LIFETIME,
    MAX_TOKEN_LIFETIME,
    add_binding_authorization,
    binding_management_key,
    verify_binding_authorization,
)
from .events import NS_PER_S, NodeServices, Notification, Timer
from .interface import LINK_LOCAL, NH_MH, UNSPECIFIED, Interface
from .registration import (
    BUL_REGISTERED,
    CORRESPONDENT_REGISTRATION,
    KEYGEN_TEST,
    SEQUENCE_MOD,
    Backoff,
    DestinationLimits,
    Event,
    Exchange,
    KeygenState,
    PeerState,
    RegistrationEngine,
    RegistrationState,
    refresh_schedule,
)

__all__ = [
    "ALWAYS", "MAX_RR_BINDING_LIFETIME", "MAX_RR_RERUNS", "NEVER", "CorrespondentBinding", "KeygenTest",
    "KeygenToken", "MobileNodeView",
    "RouteOptimisationStarted", "RouteOptimisationStopped", "RouteOptimizationConfig", "RouteOptimizer",
    "strip_processed_rh2",
]

ALWAYS = "always"
NEVER = "never"
# A BA with status 136-138 runs the tests again; after this many in a row the peer is held down (a
# correspondent that keeps forgetting its nonces is not worth a loop of tests).
MAX_RR_RERUNS = 3
_TOKEN_LIFETIME = MAX_TOKEN_LIFETIME * NS_PER_S
_EXPIRED_NONCE_STATUSES = (136, 137, 138)      # §6.1.8: the BA cannot carry Binding Authorization Data
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
    long a correspondent that refused route optimisation is left alone (§11.3.5-§11.3.6);
    ``unauthenticated_bindings``: no return routability (lab only, with correspondents configured the
    same): BUs without Nonce Indices / Binding Authorization Data, BAs taken without the latter."""
    default: Policy = NEVER
    peers: Mapping[IPv6Address, Policy] | tuple = ()
    lifetime: int = MAX_RR_BINDING_LIFETIME
    hold_down_ns: int = 60 * NS_PER_S
    unauthenticated_bindings: bool = False

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
        for p, policy in self.peer_policies:
            if p == peer:
                return _policy_threshold(policy)
        return _policy_threshold(self.default)

    @property
    def enabled(self) -> bool:
        return _policy_threshold(self.default) is not None or any(
            _policy_threshold(v) is not None for _, v in self.peer_policies)

    @property
    def peer_policies(self) -> tuple[tuple[IPv6Address, Policy], ...]:
        """``peers`` as ``__post_init__`` leaves it: (address, policy) pairs in address order."""
        return cast("tuple[tuple[IPv6Address, Policy], ...]", self.peers)


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

@dataclass(frozen=True)
class KeygenToken:
    """A keygen token from a Home or Care-of Test (§11.6.2): the token, its nonce index, the address it
    was made for (the home or the care-of address) and when it arrived (usable MAX_TOKEN_LIFETIME)."""
    token: bytes
    nonce_index: int
    address: IPv6Address
    received: int


class KeygenTest(Exchange):
    """One test of return routability for a ``CorrespondentBinding``, home or care-of: the engine's
    exchange (the outstanding message's cookie, the address being tested) and the token it got."""
    __slots__ = ("address", "binding", "cookie", "home", "token")
    TABLE = KEYGEN_TEST

    def __init__(self, binding: CorrespondentBinding, home: bool):
        super().__init__(0, KeygenState.IDLE)
        self.binding = binding
        self.home = home
        self.address: IPv6Address | None = None     # the home or care-of address being tested
        self.cookie: bytes | None = None            # of the latest Test Init (§11.6.1, §11.8)
        self.token: KeygenToken | None = None

    @property
    def message(self) -> str:
        return "hoti" if self.home else "coti"

    def fresh(self, now: int, address: IPv6Address | None) -> bool:
        """A token for ``address`` younger than MAX_TOKEN_LIFETIME (§5.2.7)?"""
        token = self.token
        return token is not None and token.address == address and now - token.received < _TOKEN_LIFETIME

    def abandon(self) -> None:
        """Stop the test (the token, if any, is kept)."""
        self.cancel()
        self.outstanding = None
        if self.state is KeygenState.TESTING:
            self.apply(Event.STOP)


class CorrespondentBinding(Exchange):
    """One (correspondent, home address) pair: the engine's exchange with the correspondent plus the
    Python side of its binding update list entry, and its return routability: the two tests and their
    tokens, the Kbm and care-of address of the latest BU (to check the BA), whether a BU waits for
    tokens, and how many times in a row 136-138 sent the tests round again."""
    __slots__ = ("bound", "care_of", "care_of_test", "expiry", "hold", "home", "home_test", "kbm", "peer", "refresh",
                 "refused_mh_types", "reruns", "started_at", "tunnelled", "wants_bu")
    TABLE = CORRESPONDENT_REGISTRATION
    TIMERS = ("retransmit", "refresh", "expiry", "deferred", "hold")

    def __init__(self, peer: IPv6Address, home: IPv6Address, sequence: int):
        super().__init__(sequence, PeerState.IDLE)
        self.peer = peer
        self.home = home
        self.tunnelled = 0                          # packets through the tunnel since the last reset
        self.care_of: IPv6Address | None = None     # care-of address of the outstanding / accepted BU
        self.refused_mh_types: set[int] = set()
        self.started_at: int | None = None
        self.refresh: Timer | None = None
        self.expiry: Timer | None = None
        self.hold: Timer | None = None
        self.home_test = KeygenTest(self, home=True)
        self.care_of_test = KeygenTest(self, home=False)
        self.kbm: bytes | None = None               # Kbm of the latest BU, and the address it signed
        self.bound: IPv6Address | None = None
        self.wants_bu = False                       # a BU waits for its tokens
        self.reruns = 0

    def abandon_tests(self) -> None:
        self.home_test.abandon()
        self.care_of_test.abandon()
        self.wants_bu = False

    @property
    def key(self) -> tuple[IPv6Address, IPv6Address]:
        return (self.peer, self.home)

    def __repr__(self) -> str:
        return f"CorrespondentBinding({self.peer}, {self.home}, {self.state.name})"


class HomeAddress(Protocol):
    """A home address as route optimisation sees it (``mn_config.HomeAddressConfig``)."""
    @property
    def address(self) -> IPv6Address: ...

    @property
    def home_agent(self) -> IPv6Address | None: ...


class HomeBinding(Protocol):
    """A home registration as route optimisation sees it (``mn_registration.HomeRegistration``)."""
    @property
    def active(self) -> bool: ...

    @property
    def state(self) -> RegistrationState: ...

    @property
    def key(self) -> tuple[IPv6Address, IPv6Address]: ...

    @property
    def valid_until(self) -> int | None: ...


class MobileNodeView(Protocol):
    """What route optimisation asks of the mobile node: its care-of address, whether it is away from
    the home link of a home address, its home addresses (in configuration order) and their
    registrations."""
    @property
    def care_of(self) -> IPv6Address | None: ...

    def away_for(self, home: IPv6Address) -> bool: ...

    def homes(self) -> Sequence[HomeAddress]: ...

    def home_registration(self, home: IPv6Address) -> HomeBinding | None: ...


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
    """Route optimisation for one mobile node (see the module docstring). ``mn``: the node as
    ``MobileNodeView``; ``node``: its services; ``iface``: the mobile interface (the care-of address's
    lifetime); ``bul``: the binding update list; ``limiter`` / ``schedule``: the node's MAX_UPDATE_RATE
    window and §11.8 back-off. The node calls the hooks: ``count_outbound`` / ``count_inbound`` from
    its data path, ``home_registered`` when its home agent accepted a new care-of address,
    ``returned_home`` / ``home_deregistered`` on the way home, ``forget_home`` when a home address is
    withdrawn, ``handle_mobility`` / ``handle_icmp_error`` for signalling from correspondents and
    ``tunnelled_mobility`` for a Mobility Header that came out of the home agent's tunnel."""

    def __init__(self, mn: MobileNodeView, node: NodeServices, config: RouteOptimizationConfig, iface: Interface,
                 bul: BindingCache, limiter: DestinationLimits, schedule: Backoff):
        self.mn = mn
        self.node = node
        self.config = config
        self.iface = iface
        self.bul = bul
        self.bindings: dict[tuple[IPv6Address, IPv6Address], CorrespondentBinding] = {}
        # §11.8 for correspondents: always INITIAL_BINDACK_TIMEOUT first; when a BU waited
        # MAX_BINDACK_TIMEOUT in vain the correspondent does not take them: back to the tunnel.
        self.engine: RegistrationEngine[CorrespondentBinding] = RegistrationEngine(
            call_at=node.call_at, counters=node.counters, prefix="mn.ro", schedule=schedule, limiter=limiter,
            rate_key=lambda b: b.peer, lifetime=self._bu_lifetime, transmit=self._transmit,
            unanswered=self._unanswered)
        # Return routability's tests (§11.6.1, §11.8): the same back-off as a correspondent BU (the
        # engine never uses the first-registration timeout here), and MAX_UPDATE_RATE per correspondent
        # and message type (§11.8: a back-off per message type, and a limit on what goes to one
        # correspondent): windows apart from the BUs', so that a whole exchange (HoTI, CoTI, BU) and a
        # re-run of the tests after a BA with status 136-138 are not held back by each other.
        self.return_routability = not config.unauthenticated_bindings
        self.tests: dict[str, RegistrationEngine[KeygenTest]] = {
            message: RegistrationEngine(
                call_at=node.call_at, counters=node.counters, prefix="mn.rr", schedule=schedule, limiter=limiter,
                rate_key=lambda t: (t.binding.peer, t.message), lifetime=self._test_ready, transmit=self._transmit_test,
                unanswered=self._test_unanswered, message=message)
            for message in ("hoti", "coti")}

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
        return all(h.home_agent != peer for h in self.mn.homes())

    def _can_optimise(self, b: CorrespondentBinding) -> bool:
        reg = self.mn.home_registration(b.home)
        return (self.mn.away_for(b.home) and self.mn.care_of is not None and reg is not None
                and reg.active and BindingUpdate.MH_TYPE not in b.refused_mh_types)

    def state_of(self, peer, home=None) -> PeerState:
        peer = IPv6Address(peer)
        home = IPv6Address(home) if home is not None else self.mn.homes()[0].address
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
        homes = {h.address.packed for h in self.mn.homes()}
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
                self.bul.pop(b.key, None)         # its care-of address is gone
                b.apply(Event.NEW_CARE_OF)
                self._start(now, b)
            elif b.state is PeerState.IDLE and threshold is not None and b.tunnelled >= threshold:
                self._start(now, b)
        for peer, policy in self.config.peer_policies:
            if _policy_threshold(policy) == 0 and self._eligible_peer(peer):
                b = self._binding(peer, home)
                if b.state is PeerState.IDLE:
                    self._start(now, b)

    def care_of_changed(self, now: int, care_of: IPv6Address) -> None:
        """A new care-of address, not registered yet: the care-of test of every correspondent binding
        that will need one for it starts now, in parallel with the home registration (issue 14). The
        Care-of Test Init goes directly from the care-of address and needs nothing of the home agent;
        the BU itself still waits for the home agent to accept the address (``home_registered``,
        §11.7.2), and then leaves at once if the token is in, instead of a care-of test round trip
        later. The home test is not started here: its Home Test Init needs the reverse tunnel."""
        if not self.return_routability:
            return
        for b in self.bindings.values():
            if b.state not in (PeerState.OPTIMISED, PeerState.BINDING) or not self.mn.away_for(b.home):
                continue
            test = b.care_of_test
            if test.fresh(now, care_of) or (test.state is KeygenState.TESTING and test.address == care_of):
                continue
            test.address = care_of
            test.token = None
            test.apply(Event.TEST)
            self.tests[test.message].begin(now, test)
            self._count("care_of_test_early")

    def returned_home(self, now: int) -> None:
        """§11.5.5: at home no Home Address option is used: entries leave the binding update list at
        once; the correspondents are told (lifetime-0 BU) after the home de-registration. Tests under
        way stop (the home token kept serves the de-registration)."""
        for b in self.bindings.values():
            was = b.state
            b.cancel("retransmit", "refresh", "expiry", "deferred")
            b.abandon_tests()
            self.bul.pop(b.key, None)
            b.outstanding = None
            b.tunnelled = 0
            if was in (PeerState.OPTIMISED, PeerState.BINDING):
                b.apply(Event.DEREGISTER)
                self.node.notify(RouteOptimisationStopped(now, b.peer, b.home, "returned_home"))
        for b in list(self.bindings.values()):
            reg = self.mn.home_registration(b.home)
            if b.state is PeerState.DEREGISTERING and reg is not None and reg.state is RegistrationState.HOME:
                self._send_deregistration(now, b)   # no home binding to remove first

    def home_deregistered(self, now: int, home: IPv6Address) -> None:
        for b in list(self.bindings.values()):
            if b.home == home and b.state is PeerState.DEREGISTERING and b.outstanding is None:
                self._send_deregistration(now, b)

    def forget_home(self, home: IPv6Address) -> None:
        """``home`` was withdrawn: route optimisation from it stops with it (no HAO from it)."""
        for key, b in list(self.bindings.items()):
            if b.home == home:
                b.cancel()
                b.abandon_tests()
                self.bul.pop(b.key, None)
                del self.bindings[key]

    # ------------------------------------------------------------ Binding Updates to correspondents

    def _start(self, now: int, b: CorrespondentBinding) -> None:
        b.cancel("refresh", "hold")
        b.apply(Event.REFRESH if b.state is PeerState.OPTIMISED else Event.REGISTER)
        b.care_of = self.mn.care_of
        b.reruns = 0
        self._begin(now, b)

    def _send_deregistration(self, now: int, b: CorrespondentBinding) -> None:
        b.apply(Event.DEREGISTER)
        b.care_of = b.home
        b.reruns = 0
        self._begin(now, b)

    def _begin(self, now: int, b: CorrespondentBinding) -> None:
        """A new BU exchange (§11.8: 1 s for correspondents); with return routability, the tokens it
        can reuse are counted and the tests it lacks start (the BU waits for them, ``_bu_lifetime``)."""
        if self.return_routability:
            if b.home_test.fresh(now, b.home):
                self.node.counters["mn.rr.home_token_reused"] += 1
            if b.state is not PeerState.DEREGISTERING and b.care_of_test.fresh(now, b.care_of):
                self.node.counters["mn.rr.care_of_token_reused"] += 1
        self.engine.begin(now, b)

    # ------------------------------------------------------------ return routability (§5.2, §11.6)

    def _tokens_ready(self, now: int, b: CorrespondentBinding) -> bool:
        """Are the tokens of ``b``'s next BU held and fresh? The tests for those that are not start
        (or go on, if under way for the same address): the home test always, the care-of test unless
        the BU de-registers (§11.6.1)."""
        ready = True
        tests: list[tuple[KeygenTest, IPv6Address | None]] = [(b.home_test, b.home)]
        if b.state is not PeerState.DEREGISTERING:
            tests.append((b.care_of_test, b.care_of))
        for test, address in tests:
            if test.fresh(now, address):
                continue
            ready = False
            if test.state is not KeygenState.TESTING or test.address != address:
                test.address = address
                test.token = None
                test.apply(Event.TEST)
                self.tests[test.message].begin(now, test)
        return ready

    def _test_ready(self, now: int, test: KeygenTest) -> int | None:
        """The engine asks before each Test Init: 0 to send it, None when the test has ended or its
        care-of address is no longer ours (a move starts the test again)."""
        if test.state is not KeygenState.TESTING:
            return None
        if not test.home and test.address != self.mn.care_of:
            return None
        return 0

    def _transmit_test(self, now: int, test: KeygenTest, _sequence: int, _lifetime: int) -> None:
        """A Home Test Init from the home address (through the reverse tunnel while away: a Mobility
        Header never gets a Home Address option), or a Care-of Test Init from the care-of address,
        directly; a new cookie each time (§6.1.3, §6.1.4, §11.6.1, §11.8)."""
        b = test.binding
        test.cookie = self.node.rng.randbytes(8)
        assert test.address is not None
        msg = HomeTestInit(test.cookie) if test.home else CareOfTestInit(test.cookie)
        packet = Packet(src=test.address, dst=b.peer, hop_limit=64, payload=msg)
        self.node.output_packet(now, packet.to_bytes())

    def _test_unanswered(self, now: int, test: KeygenTest) -> bool:
        """§11.8: a test waited MAX_BINDACK_TIMEOUT in vain: no route optimisation with that peer for
        the hold-down (a de-registration is given up)."""
        b = test.binding
        self.node.counters[f"mn.rr.{test.message}_unanswered"] += 1
        if b.state is PeerState.DEREGISTERING:
            b.abandon_tests()
            b.apply(Event.DEREGISTERED)
            b.outstanding = None
            return True
        self._stop(now, b, "no_home_test" if test.home else "no_care_of_test", hold=True)
        return True

    def _on_home_test(self, now: int, packet: Packet, hot: HomeTest, tunnelled: bool) -> None:
        """§11.6.2: from the correspondent being tested, to the home address, out of the home agent's
        tunnel while away (directly at home), echoing the latest cookie; else dropped, counted."""
        b = self.bindings.get((packet.src, packet.dst))
        test = b.home_test if b is not None else None
        if b is None or test is None or test.state is not KeygenState.TESTING:
            self.node.drop("mn.rr.hot_unexpected")
            return
        if tunnelled != self.mn.away_for(b.home):
            self.node.drop("mn.rr.hot_not_tunnelled" if not tunnelled else "mn.rr.hot_unexpected")
            return
        if hot.cookie != test.cookie:
            self.node.drop("mn.rr.hot_cookie")
            return
        self._token(now, test, hot.keygen_token, hot.nonce_index)

    def _on_care_of_test(self, now: int, packet: Packet, cot: CareOfTest) -> None:
        """§11.6.2: from the correspondent being tested, to the care-of address being tested (our
        current one), echoing the latest cookie; else dropped, counted."""
        testing = [b.care_of_test for b in self.bindings.values()
                   if b.peer == packet.src and b.care_of_test.state is KeygenState.TESTING]
        if not testing:
            self.node.drop("mn.rr.cot_unexpected")
            return
        test = next((t for t in testing if t.cookie == cot.cookie), None)
        if test is None:
            self.node.drop("mn.rr.cot_cookie")
            return
        if packet.dst != test.address or packet.dst != self.mn.care_of:
            self.node.drop("mn.rr.cot_wrong_address")
            return
        self._token(now, test, cot.keygen_token, cot.nonce_index)

    def _token(self, now: int, test: KeygenTest, token: bytes, nonce_index: int) -> None:
        """A test answered: the token is kept; a BU waiting for it goes when both are in."""
        self.tests[test.message].settle(test)
        test.apply(Event.TOKEN)
        assert test.address is not None
        test.token = KeygenToken(token, nonce_index, test.address, now)
        self.node.counters[f"mn.rr.{'hot' if test.home else 'cot'}_accepted"] += 1
        b = test.binding
        if b.wants_bu and self._tokens_ready(now, b):
            b.wants_bu = False
            self.engine.begin(now, b)

    def _authorise(self, b: CorrespondentBinding, bu: BindingUpdate) -> BindingUpdate:
        """§11.7.2, §5.2.6: Nonce Indices from the latest Home / Care-of Tests, then Binding
        Authorization Data made with Kbm over the care-of address (for a de-registration, Kbm from the
        home token alone, over the home address; the care-of index is then meaningless, 0)."""
        home = b.home_test.token
        assert home is not None                  # ``_bu_lifetime`` held the BU until it came
        if b.state is PeerState.DEREGISTERING:
            kbm, bound = binding_management_key(home.token), b.home
            indices = NonceIndices(home.nonce_index, 0)
        else:
            care_of = b.care_of_test.token
            assert care_of is not None and b.care_of is not None
            kbm, bound = binding_management_key(home.token, care_of.token), b.care_of
            indices = NonceIndices(home.nonce_index, care_of.nonce_index)
        b.kbm, b.bound = kbm, bound
        return add_binding_authorization(replace(bu, options=bu.options + (indices,)), kbm, bound, b.peer)

    def _expired_nonces(self, now: int, b: CorrespondentBinding, status: int) -> None:
        """BA status 136 / 137 / 138 (§11.7.3): the correspondent no longer knows the home nonce, the
        care-of nonce, or both: those tests again, then the BU (``MAX_RR_RERUNS`` times in a row at
        most)."""
        self.node.counters[f"mn.rr.rerun.{status}"] += 1
        b.reruns += 1
        if b.reruns > MAX_RR_RERUNS:
            self._stop(now, b, f"ba_status_{status}", hold=True)
            return
        if status in (136, 138):
            b.home_test.token = None
        if status in (137, 138):
            b.care_of_test.token = None
        self.engine.begin(now, b)

    def _lifetime(self, now: int, b: CorrespondentBinding) -> int:
        """≤ MAX_RR_BINDING_LIFETIME, and (§11.7.2) no longer than what is left of the home registration
        and of the home and care-of addresses."""
        limit = self.config.lifetime * NS_PER_S
        reg = self.mn.home_registration(b.home)
        home_entry = self.bul.get(reg.key) if reg is not None else None
        coa = self.iface.addresses.get(b.care_of) if b.care_of is not None else None
        for until in (reg.valid_until if reg is not None else None,
                      home_entry.expires_ns if home_entry is not None else None,
                      coa.valid_until if coa is not None else None):
            if until is not None:
                limit = min(limit, until - now)
        return max(0, min(MAX_RR_BINDING_LIFETIME, limit // NS_PER_S))

    def _bu_lifetime(self, now: int, b: CorrespondentBinding) -> int | None:
        """The engine asks before each BU: 0 to de-register; None (and back to the tunnel) when there
        is no lifetime left to ask for; None too while return routability's tokens are not all held
        (the tests run, and the BU begins when they are in)."""
        if b.state is PeerState.DEREGISTERING:
            lifetime = 0
        else:
            lifetime = self._lifetime(now, b)
            if b.care_of is None or lifetime == 0:
                self._count("bu_no_lifetime")
                self._stop(now, b, "no_lifetime", hold=True)
                return None
        if self.return_routability and not self._tokens_ready(now, b):
            b.wants_bu = True
            b.outstanding = None
            return None
        return lifetime

    def _transmit(self, now: int, b: CorrespondentBinding, sequence: int, lifetime: int) -> None:
        bu = BindingUpdate(sequence=sequence, lifetime=lifetime, ack=True)   # H = L = K = 0 (§6.1.7, §11.7.2)
        if self.return_routability:
            bu = self._authorise(b, bu)
        if b.state is PeerState.DEREGISTERING:
            # §11.5.5: from the home address, no Home Address option.
            packet = Packet(src=b.home, dst=b.peer, hop_limit=64, payload=bu)
        else:
            assert b.care_of is not None              # the engine asked ``_bu_lifetime`` first
            packet = Packet(src=b.care_of, dst=b.peer, home_address=b.home, hop_limit=64, payload=bu)
        self.node.output_packet(now, packet.to_bytes())

    def _unanswered(self, now: int, b: CorrespondentBinding) -> bool:
        # §11.8: the backoff reached MAX_BINDACK_TIMEOUT without an answer: the correspondent does
        # not take our BUs (e.g. it discards them, §9.5.1); stay with the tunnel.
        self._count("bu_unanswered")
        if b.state is PeerState.DEREGISTERING:
            b.apply(Event.DEREGISTERED)
            b.outstanding = None
            return True
        self._stop(now, b, "no_acknowledgement", hold=True)
        return True

    # ------------------------------------------------------------ signalling from correspondents

    def handle_mobility(self, now: int, packet: Packet, raw: bytes = b"") -> bool:
        """A Mobility Header from a node we hold correspondent state for; False: not ours. ``raw``: the
        packet as received (a BA's authenticator covers its exact bytes)."""
        msg = packet.payload
        home = packet.rh2 if packet.rh2 is not None else packet.dst
        b = self.bindings.get((packet.src, home))
        if isinstance(msg, BindingError):
            return self._on_binding_error(now, packet, msg)
        if isinstance(msg, CareOfTest) and self.return_routability:
            self._on_care_of_test(now, packet, msg)
            return True
        if isinstance(msg, HomeTest) and self.return_routability:
            self._on_home_test(now, packet, msg, tunnelled=False)
            return True
        if b is None:
            return False
        if isinstance(msg, BindingAcknowledgement):
            self._on_ack(now, b, packet, msg, raw)
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

    def tunnelled_mobility(self, now: int, packet: Packet) -> bool:
        """A Mobility Header that came out of the home agent's tunnel to a home address: a Home Test, or
        a correspondent's Binding Error about a Home Test Init; False: not for route optimisation."""
        msg = packet.payload
        if isinstance(msg, HomeTest) and self.return_routability:
            self._on_home_test(now, packet, msg, tunnelled=True)
            return True
        if isinstance(msg, BindingError):
            return self._on_binding_error(now, packet, msg)
        return False

    def _on_ack(self, now: int, b: CorrespondentBinding, packet: Packet, ba: BindingAcknowledgement,
                raw: bytes) -> None:
        """§11.7.3 for a correspondent's BA."""
        away = self.mn.away_for(b.home)
        if not self.engine.awaiting(b):
            return
        if away and (packet.rh2 != b.home or packet.dst != b.care_of):
            self.node.drop("mn.ro.ba_wrong_address")      # §6.1.8: to the CoA with an RH2
            return
        expired = ba.status in _EXPIRED_NONCE_STATUSES
        if self.return_routability and not expired and not self._authentic(b, packet, ba, raw):
            self.node.drop("mn.ro.ba_authenticator")      # §11.7.3: Binding Authorization Data
            return
        if not self.engine.answers(now, b, ba):
            return
        if self.return_routability and expired:
            self._expired_nonces(now, b, ba.status)
            return
        if b.state is PeerState.DEREGISTERING:
            self._count("deregistered")
            b.apply(Event.DEREGISTERED)
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
        # A correspondent's Binding Refresh Advice is not acted on (§11.7.3 speaks of the home agent's).
        self.node.latencies.observe("mn_ro_bu_ba", now - b.sent_at)
        granted, expires, refresh_at = refresh_schedule(ba, b.sent_at, b.lifetime_asked,
                                                        self.engine.schedule.initial, advice=False)
        self.bul.pop(b.key, None)
        assert b.care_of is not None   # a BA answers a BU, which was sent from a care-of address
        result = self.bul.update(b.key, b.care_of, ba.sequence, FLAG_ACK | BUL_REGISTERED, expires)
        if result.outcome is Outcome.NOMEM:
            self._count("bul_full")
            self._stop(now, b, "binding_update_list_full", hold=True)
            return
        new = b.state is not PeerState.OPTIMISED or b.started_at is None
        b.apply(Event.ACCEPTED)
        b.cancel("refresh", "expiry")
        b.refresh = self.node.call_at(max(now, refresh_at), lambda t: self._refresh(t, b))
        b.expiry = self.node.call_at(expires, lambda t: self._expired(t, b))
        if new:
            b.started_at = now
            self._count("started")
            assert b.care_of is not None
            self.node.notify(RouteOptimisationStarted(now, b.peer, b.home, b.care_of, granted))
        else:
            self._count("refreshed")

    def _authentic(self, b: CorrespondentBinding, packet: Packet, ba: BindingAcknowledgement, raw: bytes) -> bool:
        """The BA's Binding Authorization Data, made with the Kbm of our BU over the care-of address it
        signed and the correspondent's address (§6.1.8, §6.2.7); the Mobility Header as received when
        ``raw`` holds it, else re-encoded."""
        if b.kbm is None or b.bound is None:
            return False
        mh = raw[_invoking_layout(raw)[3]:] if len(raw) >= 40 else ba
        try:
            return verify_binding_authorization(mh, b.kbm, b.bound, packet.src).ok
        except ValueError:
            return False

    def _refresh(self, now: int, b: CorrespondentBinding) -> None:
        b.refresh = None
        if b.state is PeerState.OPTIMISED and self._can_optimise(b) and b.care_of == self.mn.care_of:
            self._start(now, b)

    def _expired(self, now: int, b: CorrespondentBinding) -> None:
        b.expiry = None
        entry = self.bul.get(b.key)
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
        msg = cast("ParameterProblem | DestinationUnreachable", packet.payload)
        invoking = msg.invoking
        if len(invoking) < 40:
            return False
        peer, src = IPv6Address(invoking[24:40]), IPv6Address(invoking[8:24])
        hao, nh_field, nh, upper = _invoking_layout(invoking)
        home = IPv6Address(invoking[hao + 2:hao + 18]) if 0 <= hao and hao + 18 <= len(invoking) else src
        b = self.bindings.get((peer, home))
        if b is None and hao < 0:
            # A Care-of Test Init went from the care-of address (§11.6.2: a correspondent without the
            # Mobility Header answers it with Parameter Problem code 1).
            b = next((c for c in self.bindings.values() if c.peer == peer and c.care_of_test.address == src
                      and c.state in (PeerState.OPTIMISED, PeerState.BINDING)), None)
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
        b.abandon_tests()
        self.bul.pop(b.key, None)
        b.outstanding = None
        b.tunnelled = 0
        b.started_at = None
        until = None
        if refused:
            b.apply(Event.REFUSE)
        elif hold:
            until = now + self.config.hold_down_ns
            b.apply(Event.HOLD_DOWN)
            b.hold = self.node.call_at(until, lambda t: self._hold_over(t, b))
        else:
            b.apply(Event.STOP)
        self._count("stopped")
        self.node.notify(RouteOptimisationStopped(now, b.peer, b.home, reason, until))

    def _hold_over(self, now: int, b: CorrespondentBinding) -> None:
        b.hold = None
        if b.state is not PeerState.HELD_DOWN:
            return
        b.apply(Event.HOLD_OVER)
        b.tunnelled = 0
        self._count("hold_down_over")
        if self.config.threshold(b.peer) == 0 and self._can_optimise(b):
            self._start(now, b)
