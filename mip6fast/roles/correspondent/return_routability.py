"""Return routability at the correspondent node (RFC 6275 §5.2, §9.4, §9.5.1): the secret Kcn, the
nonce table, Home Test and Care-of Test answers, and the authorisation of a route-optimisation Binding
Update. The cryptography is ``wire/return_routability.py``; this module holds the secrets and decides.

Theory of operation
-------------------
Nothing about a mobile node is kept before it sends a valid Binding Update (§5.2.8): a Home Test Init
is answered with a Home Test to its source (the home address; the mobile node's home agent tunnels it
on) and a Care-of Test Init with a Care-of Test to its source (the care-of address), each echoing the
init cookie and carrying the index of the current nonce and the keygen token made from it (§9.4.1-
§9.4.4). A test init carrying a Home Address option, or from an address that is not unicast routable,
is ignored silently and counted; answers go through one token bucket (``rr_reply_rate`` /
``rr_reply_burst``) because nothing authenticates what they answer (a spoofed source would make the node
a reflector otherwise). The answers leave past the Type 2 routing header kernel (a HoT must reach the
home address itself, through the home agent, even when a binding for it exists).

The nonce table (§5.2.7): a nonce is made on demand, when an answer needs one and the current nonce is
``NONCE_INTERVAL`` (30 s) old or older, under the next 16-bit nonce index (mod 2^16, starting from a
random one). Each is accepted for MAX_NONCE_LIFETIME (240 s) after it was made -- its first use, since
it is made for an answer -- and then forgotten, so a token is accepted between MAX_TOKEN_LIFETIME
(210 s) and MAX_NONCE_LIFETIME after it was sent, as §5.2.7 asks; at most 9 nonces are alive at once.

Kcn (§5.2.1): 20 random bytes, replaced when a new nonce is made and the current Kcn is KCN_LIFETIME
(MAX_NONCE_LIFETIME, 240 s) old. Each nonce keeps the Kcn it was made under, so the old key validates
the tokens of its outstanding nonces until they expire and is then gone: at most two keys are alive,
and a key that leaked (a memory disclosure) forges nothing older than its 240 s plus the 240 s its
last nonce lives. A reboot (``reset``) forgets every key and nonce: Binding Updates made with older
tokens get 136/137/138 (§5.2.7). The random bytes come from ``random_bytes`` (the daemon passes
``os.urandom``; the simulator's seeded RNG by default, for reproducible runs).

Authorising a Binding Update (§9.5.1, ``authorise``): the Nonce Indices and Binding Authorization Data
options must be present, the latter last with no padding after it, else it is discarded silently. An
index this node no longer knows is answered with status 136 (home), 137 (care-of) or 138 (both); a
deletion (lifetime 0, or care-of = home address) needs only the home nonce, the care-of index is
ignored (§6.2.6). Then the tokens are made again, Kbm from them (the home token alone for a deletion)
and the authenticator checked over care-of address | this node's address | the BU (the home address in
place of the care-of address for a deletion, §6.2.7); a wrong one is discarded silently. An authorised
BU yields its Kbm, with which the Binding Acknowledgement gets its own Binding Authorization Data.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from ...wire import (
    BindingAuthorizationData,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    Packet,
)
from ...wire.return_routability import (
    KCN_LEN,
    MAX_NONCE_LIFETIME,
    NONCE_LEN,
    AuthorizationVerdict,
    binding_management_key,
    care_of_keygen_token,
    home_keygen_token,
    nonce_indices,
    verify_binding_authorization,
)
from ..events import NS_PER_S, NodeServices
from ..interface import unicast_routable
from ..rate_limit import TokenBucket
from .config import CorrespondentConfig

__all__ = ["KCN_LIFETIME", "NONCE_INTERVAL", "Authorised", "Expired", "Refused", "ReturnRoutability"]

NONCE_INTERVAL = 30 * NS_PER_S                  # §5.2.7: "generate a new nonce every 30 seconds"
KCN_LIFETIME = MAX_NONCE_LIFETIME * NS_PER_S    # a new Kcn with the first nonce after this (see above)
_NONCE_LIFETIME = MAX_NONCE_LIFETIME * NS_PER_S
_INDEX_MOD = 1 << 16


@dataclass(frozen=True)
class _Nonce:
    index: int
    nonce: bytes
    kcn: bytes
    made: int                                   # ns: its first use


@dataclass(frozen=True)
class Authorised:
    """The BU checks out; ``kbm`` authorises the BA."""
    kbm: bytes


@dataclass(frozen=True)
class Expired:
    """A nonce index is no longer known: answer with ``status`` (136, 137 or 138), no BAD (§9.5.1)."""
    status: int


@dataclass(frozen=True)
class Refused:
    """Discard silently, counted as ``drop.bu.rr.<reason>`` (§9.5.1)."""
    reason: str


class ReturnRoutability:
    """The correspondent's side of return routability (see the module doc). ``node``: its services;
    ``send(now, raw, zone)``: route a packet past the RH2 kernel; ``random_bytes(n)``: the secrets'
    source."""

    def __init__(self, config: CorrespondentConfig, node: NodeServices,
                 send: Callable[[int, bytes, str | None], None], random_bytes: Callable[[int], bytes]):
        self.config = config
        self.node = node
        self._send = send
        self._random = random_bytes
        self.reset()

    def reset(self) -> None:
        """Start afresh, as after a reboot: no Kcn, no nonce, a full bucket."""
        self._nonces: dict[int, _Nonce] = {}
        self._current: _Nonce | None = None
        self._kcn: bytes | None = None
        self._kcn_made = 0
        self._next_index: int | None = None
        self.bucket = TokenBucket(self.config.rr_reply_rate, self.config.rr_reply_burst)

    # ------------------------------------------------------------ keys and nonces (§5.2.1, §5.2.7)

    def _expire(self, now: int) -> None:
        for index in [i for i, n in self._nonces.items() if now >= n.made + _NONCE_LIFETIME]:
            del self._nonces[index]

    def current_nonce(self, now: int) -> _Nonce:
        """The nonce answers use now: the current one while it is younger than NONCE_INTERVAL, else a
        new one (under a new Kcn when the current key is KCN_LIFETIME old)."""
        self._expire(now)
        current = self._current
        if current is not None and now - current.made < NONCE_INTERVAL:
            return current
        counters = self.node.counters
        if self._kcn is None or now - self._kcn_made >= KCN_LIFETIME:
            self._kcn, self._kcn_made = bytes(self._random(KCN_LEN)), now
            counters["rr.kcn_generated"] += 1
        if self._next_index is None:
            self._next_index = self.node.rng.randrange(_INDEX_MOD)
        index = self._next_index
        self._next_index = (index + 1) % _INDEX_MOD
        current = self._current = _Nonce(index, bytes(self._random(NONCE_LEN)), self._kcn, now)
        self._nonces[index] = current            # replaces one 2^16 nonces ago, long expired
        counters["rr.nonce_generated"] += 1
        return current

    def nonce(self, now: int, index: int) -> _Nonce | None:
        """The nonce of ``index`` if it is still accepted (MAX_NONCE_LIFETIME after it was made)."""
        n = self._nonces.get(index)
        return n if n is not None and now < n.made + _NONCE_LIFETIME else None

    @property
    def live_nonces(self) -> int:
        return len(self._nonces)

    # ------------------------------------------------------------ Home / Care-of Test Init (§9.4)

    def test_init(self, now: int, packet: Packet, zone: str | None) -> None:
        """A Home Test Init or Care-of Test Init addressed to this node: answered statelessly."""
        msg = packet.payload
        assert isinstance(msg, (HomeTestInit, CareOfTestInit))
        home = isinstance(msg, HomeTestInit)
        name = "hoti" if home else "coti"
        node = self.node
        node.counters[f"rr.{name}_received"] += 1
        if packet.home_address is not None:
            node.drop("hao.test_init")                 # §9.4.1, §9.4.2: silently ignored
            return
        if not unicast_routable(packet.src):
            node.drop(f"rr.{name}_source")
            return
        if not self.bucket.take(now):
            node.drop("rr.rate_limited")
            return
        n = self.current_nonce(now)
        reply: HomeTest | CareOfTest
        if home:
            reply = HomeTest(n.index, msg.cookie, home_keygen_token(n.kcn, packet.src, n.nonce))
        else:
            reply = CareOfTest(n.index, msg.cookie, care_of_keygen_token(n.kcn, packet.src, n.nonce))
        node.counters[f"rr.{'hot' if home else 'cot'}_sent"] += 1
        # §9.4.3, §9.4.4: from the address the init was sent to, back to its source.
        self._send(now, Packet(src=packet.dst, dst=packet.src, hop_limit=64, payload=reply).to_bytes(), zone)

    def may_answer(self, now: int) -> bool:
        """A reply to an unauthenticated message (a BA with 136-138) under the same bucket."""
        if self.bucket.take(now):
            return True
        self.node.drop("rr.rate_limited")
        return False

    # ------------------------------------------------------------ Binding Updates (§9.5.1)

    def authorise(self, now: int, mh: bytes, packet: Packet, home: IPv6Address, care_of: IPv6Address,
                  deletion: bool) -> Authorised | Expired | Refused:
        """Return routability's verdict on a BU (its Mobility Header as received, ``mh``) for ``home``
        at ``care_of``; ``deletion``: lifetime 0 or care-of = home address."""
        bu = packet.payload
        assert isinstance(bu, BindingUpdate)
        indices = nonce_indices(bu)
        if indices is None or not any(isinstance(o, BindingAuthorizationData) for o in bu.options):
            return Refused("missing")                 # §9.5.1: both options required
        home_nonce = self.nonce(now, indices.home_nonce_index)
        care_of_nonce = None if deletion else self.nonce(now, indices.care_of_nonce_index)
        if home_nonce is None and (deletion or care_of_nonce is None):
            # Both unknown; for a deletion the care-of index is ignored (§6.2.6).
            return Expired(136 if deletion else 138)
        if home_nonce is None:
            return Expired(136)
        if not deletion and care_of_nonce is None:
            return Expired(137)
        home_token = home_keygen_token(home_nonce.kcn, home, home_nonce.nonce)
        if deletion:
            kbm, bound = binding_management_key(home_token), home
        else:
            assert care_of_nonce is not None
            kbm = binding_management_key(home_token, care_of_keygen_token(care_of_nonce.kcn, care_of,
                                                                          care_of_nonce.nonce))
            bound = care_of
        verdict = verify_binding_authorization(mh, kbm, bound, packet.dst)
        if verdict is AuthorizationVerdict.OK:
            return Authorised(kbm)
        return Refused({AuthorizationVerdict.MISSING: "missing", AuthorizationVerdict.NOT_LAST: "not_last",
                        AuthorizationVerdict.MISMATCH: "authenticator"}[verdict])
