"""The Binding Update sending rules of RFC 6275 §11.8, once, for every role that sends Binding Updates:
the mobile node's home registrations (mn_registration.py), its Binding Updates to correspondents
(route_optimization.py) and the scale fleet (fleet.py). Sans-I/O: no packets are built here.

Theory of operation
-------------------
An ``Exchange`` is the sending side of the Binding Update / Binding Acknowledgement exchange for one
(home address, peer): the next sequence number, the one awaiting its acknowledgement (``outstanding``),
when that BU left and the lifetime it asked for, the current retransmission interval, two timers
(``retransmit``; ``deferred``: a BU held back by the rate limit) and the state of the registration in a
transition table. A role keeps one per (home address, peer), as a subclass carrying its own fields.

``RegistrationEngine`` runs the rules over exchanges; a role makes one, giving it callables for what only
the role knows -- the lifetime a BU may ask for right now (None: do not send), how to build and send
the BU, and what to do when the back-off has reached its maximum and a BU is still unanswered:

- every BU, including each retransmission, carries a new sequence number, modulo 2^16 (§11.8); a
  Binding Acknowledgement with status 135 carries the last sequence number the peer accepted, and the
  next BU (sent at once) uses it + 1 (§11.7.3);
- the first BU waits ``Backoff.first`` (InitialBindackTimeoutFirstReg, 1.5 s, for a first home
  registration) or ``Backoff.initial`` (INITIAL_BINDACK_TIMEOUT, 1 s) for its acknowledgement; each
  retransmission doubles the wait, up to ``Backoff.maximum`` (MAX_BINDACK_TIMEOUT, 32 s), and then goes
  on at that interval unless the role stops it;
- at most MAX_UPDATE_RATE BUs per second to one destination (``update_rate_limiter``, a sliding window of
  one second): a BU over the limit waits, without its retransmission timer, until the oldest BU of the
  window is a second old.

``Backoff`` is the same doubling for the other solicitations of a mobile node: DHAAD requests (§11.4.1,
uncapped, DHAAD_RETRIES times) and Mobile Prefix Solicitations (§11.4.2, capped at MAX_BINDACK_TIMEOUT).
Return routability's HoTI / CoTI (§11.6.1: 1 s doubling to 32 s, a new cookie on every retransmission,
§11.8) runs on the engine too (route_optimization.py): an engine per message (``message`` "hoti" /
"coti" names its counters), an exchange per test whose ``transmit`` draws a fresh cookie, whose peer is
the correspondent, under the node's per-destination limiter -- §11.8's overall limit on what goes to
one correspondent -- and whose answer the role matches by its cookie (``settle``).

Registration states are explicit tables (as h11 keeps its connection states): ``HOME_REGISTRATION`` for
a registration with a home agent (the mobile node's and the fleet's), ``CORRESPONDENT_REGISTRATION`` for
one with a correspondent, ``KEYGEN_TEST`` for a home or care-of test of return routability. An exchange
changes state only through ``Exchange.apply(event)``; an event the table does not allow in the current
state raises ``RegistrationStateError`` (a bug in the role, not a peer's doing: peers' messages are
checked before they become events).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Generic, Protocol, TypeVar

from ..errors import Mip6Error
from ..wire import BindingAcknowledgement, BindingRefreshAdvice
from .counters import CounterDecl, declare
from .events import NS_PER_S, Timer
from .rate_limit import PerDestination, SlidingWindow

__all__ = [
    "BUL_PENDING", "BUL_REGISTERED", "CORRESPONDENT_REGISTRATION", "HOME_REGISTRATION",
    "INITIAL_BINDACK_TIMEOUT", "INITIAL_BINDACK_TIMEOUT_FIRST_REG", "KEYGEN_TEST", "MAX_BINDACK_TIMEOUT",
    "MAX_UPDATE_RATE", "SEQUENCE_MOD", "Backoff", "DestinationLimits", "Event", "Exchange", "PeerState",
    "KeygenState", "RateWindow", "RegistrationEngine", "RegistrationState", "RegistrationStateError",
    "TransitionTable", "exchange_counters", "refresh_schedule", "sequence_after", "update_rate_limiter",
]

# RFC 6275 §12-13 (PROTOCOL.md "Constants and defaults"), in ns.
INITIAL_BINDACK_TIMEOUT = 1 * NS_PER_S
INITIAL_BINDACK_TIMEOUT_FIRST_REG = 3 * NS_PER_S // 2
MAX_BINDACK_TIMEOUT = 32 * NS_PER_S
MAX_UPDATE_RATE = 3                    # Binding Updates per second to one destination
SEQUENCE_MOD = 1 << 16                 # §6.1.7: a 16-bit sequence number

# Registration state in the low byte of a binding update list entry's flags (binding_cache.py leaves
# the low byte to the role; the high byte holds the BU flags as on the wire), for home and
# correspondent entries alike.
BUL_PENDING = 0x01
BUL_REGISTERED = 0x02


def sequence_after(sequence: int) -> int:
    """The sequence number after ``sequence``, modulo 2^16 (§6.1.7, §11.8)."""
    return (sequence + 1) % SEQUENCE_MOD


_MESSAGES = {"bu": "Binding Updates", "hoti": "Home Test Inits", "coti": "Care-of Test Inits"}


def exchange_counters(prefix: str, message: str = "bu") -> tuple[CounterDecl, ...]:
    """The counters a ``RegistrationEngine`` with counter prefix ``prefix`` sending ``message`` ("bu",
    "hoti" or "coti") increments, for the role's table."""
    name = _MESSAGES[message]
    sent = declare(
        (f"{prefix}.{message}_sent", f"{name} sent (first transmissions)"),
        (f"{prefix}.{message}_retransmitted", f"{name} retransmitted after no answer (§11.8)"),
        (f"{prefix}.{message}_rate_limited", f"{name} held back by the per-destination rate limit (§11.8)"),
    )
    if message != "bu":
        return sent
    return sent + declare(
        (f"{prefix}.ba_sequence_out_of_window", "a BA status 135: the next BU takes the sequence number it gives"),
        (f"drop.{prefix}.ba_unexpected", "a Binding Acknowledgement for no outstanding Binding Update"),
        (f"drop.{prefix}.ba_sequence_mismatch", "a Binding Acknowledgement whose sequence number matches no BU sent"),
    )


class RegistrationStateError(Mip6Error):
    """A role tried a state transition its table does not allow."""


# ---------------------------------------------------------------- states, events, tables

class RegistrationState(Enum):
    """A registration with a home agent (``HOME_REGISTRATION``)."""
    IDLE = "idle"                   # nothing sent (at home, or no care-of address yet)
    REGISTERING = "registering"     # a BU is outstanding (first registration, new CoA or refresh)
    REGISTERED = "registered"       # the last BU was accepted
    FAILED = "failed"               # rejected: no traffic through this home agent
    DEREGISTERING = "deregistering"  # at home, de-registration BU outstanding
    HOME = "home"                   # at home, no binding at the home agent


class PeerState(Enum):
    """A registration with a correspondent (``CORRESPONDENT_REGISTRATION``)."""
    IDLE = "idle"                    # tunnelled; counting packets against the policy
    BINDING = "binding"              # a BU is outstanding (first one, new care-of address, refresh)
    OPTIMISED = "optimised"          # the BA arrived: the entry is in the binding update list
    HELD_DOWN = "held_down"          # refused for a while (§11.3.5-§11.3.6)
    REFUSED = "refused"              # Binding Error status 2: no more BUs to this peer
    DEREGISTERING = "deregistering"  # back home: lifetime-0 BU outstanding


class Event(Enum):
    """What happens to a registration (the columns of the tables)."""
    REGISTER = "register"            # a BU for the current care-of address starts (new, refresh, BRR)
    REFRESH = "refresh"              # correspondent: a BU renews an accepted binding (it stays usable)
    NEW_CARE_OF = "new_care_of"      # correspondent: the accepted care-of address is gone; bind anew
    ACCEPTED = "accepted"            # a matching BA with status < 128
    REJECTED = "rejected"            # a matching BA with status >= 128
    LAPSED = "lapsed"                # accepted with lifetime 0, no lifetime left to ask, or expired
    DISCOVER = "discover"            # home agent discovery first (§11.4.1): nothing at any agent
    RETARGET = "retarget"            # the next home agent on the list is tried after a rejection
    DEREGISTER = "deregister"        # back home: a lifetime-0 BU removes the binding (§11.5.5)
    AT_HOME = "at_home"              # back home with no binding to remove
    DEREGISTERED = "deregistered"    # the de-registration was answered (or given up)
    HOLD_DOWN = "hold_down"          # correspondent refused route optimisation for a while
    REFUSE = "refuse"                # correspondent does not know the BU (Binding Error status 2)
    STOP = "stop"                    # correspondent binding ended without a hold-down
    HOLD_OVER = "hold_over"          # the hold-down ran out
    TEST = "test"                    # return routability: a Home / Care-of Test Init goes out
    TOKEN = "token"                  # return routability: its Home / Care-of Test arrived


class KeygenState(Enum):
    """A home or care-of test of return routability (``KEYGEN_TEST``); the token it got is the role's."""
    IDLE = "idle"                    # nothing outstanding (a token may be held)
    TESTING = "testing"              # a HoTI / CoTI awaits its HoT / CoT


S = TypeVar("S", bound=Enum)


class TransitionTable(Generic[S]):
    """``table[state][event]`` is the state after ``event``; anything missing is not allowed."""

    def __init__(self, name: str, table: Mapping[S, Mapping[Event, S]]):
        self.name = name
        self.table = {state: dict(row) for state, row in table.items()}

    def next(self, state: S, event: Event) -> S:
        new = self.table.get(state, {}).get(event)
        if new is None:
            raise RegistrationStateError(f"{self.name}: {event.name} is not allowed in state {state.name}")
        return new

    def allowed(self, state: S) -> frozenset[Event]:
        return frozenset(self.table.get(state, {}))


_R = RegistrationState
HOME_REGISTRATION: TransitionTable[RegistrationState] = TransitionTable("home registration", {
    _R.IDLE: {
        Event.REGISTER: _R.REGISTERING,
        Event.DISCOVER: _R.IDLE,
        # A BA for a BU sent before the care-of or home address ran out of lifetime (the
        # retransmission found none left; ``outstanding`` still names the earlier BU).
        Event.ACCEPTED: _R.REGISTERED,
        Event.REJECTED: _R.FAILED,
        Event.LAPSED: _R.IDLE,
        Event.DEREGISTER: _R.DEREGISTERING,
        Event.AT_HOME: _R.HOME,
    },
    _R.REGISTERING: {
        Event.REGISTER: _R.REGISTERING,
        Event.DISCOVER: _R.IDLE,
        Event.ACCEPTED: _R.REGISTERED,
        Event.REJECTED: _R.FAILED,
        Event.LAPSED: _R.IDLE,
        Event.DEREGISTER: _R.DEREGISTERING,
    },
    _R.REGISTERED: {
        Event.REGISTER: _R.REGISTERING,
        Event.LAPSED: _R.IDLE,
        Event.DEREGISTER: _R.DEREGISTERING,
    },
    _R.FAILED: {
        Event.RETARGET: _R.IDLE,
        Event.DEREGISTER: _R.DEREGISTERING,
        Event.AT_HOME: _R.HOME,
    },
    _R.DEREGISTERING: {
        Event.REGISTER: _R.REGISTERING,           # moved away again before the BA
        Event.DEREGISTER: _R.DEREGISTERING,
        Event.DEREGISTERED: _R.HOME,
    },
    _R.HOME: {
        Event.REGISTER: _R.REGISTERING,           # moved away from home
        Event.DISCOVER: _R.IDLE,
        Event.AT_HOME: _R.HOME,
        # As from IDLE: a BA for that BU when the node came home before it arrived.
        Event.ACCEPTED: _R.REGISTERED,
        Event.REJECTED: _R.FAILED,
        Event.LAPSED: _R.IDLE,
    },
})

_P = PeerState
CORRESPONDENT_REGISTRATION: TransitionTable[PeerState] = TransitionTable("correspondent registration", {
    _P.IDLE: {
        Event.REGISTER: _P.BINDING,
    },
    _P.BINDING: {
        Event.REGISTER: _P.BINDING,
        Event.NEW_CARE_OF: _P.BINDING,
        Event.ACCEPTED: _P.OPTIMISED,
        Event.DEREGISTER: _P.DEREGISTERING,
        Event.HOLD_DOWN: _P.HELD_DOWN,
        Event.REFUSE: _P.REFUSED,
        Event.STOP: _P.IDLE,
    },
    _P.OPTIMISED: {
        Event.REFRESH: _P.OPTIMISED,
        Event.NEW_CARE_OF: _P.BINDING,
        Event.ACCEPTED: _P.OPTIMISED,
        Event.DEREGISTER: _P.DEREGISTERING,
        Event.HOLD_DOWN: _P.HELD_DOWN,
        Event.REFUSE: _P.REFUSED,
        Event.STOP: _P.IDLE,
    },
    _P.HELD_DOWN: {
        Event.HOLD_OVER: _P.IDLE,
    },
    _P.REFUSED: {},
    _P.DEREGISTERING: {
        Event.DEREGISTER: _P.DEREGISTERING,
        Event.DEREGISTERED: _P.IDLE,
    },
})


_T = KeygenState
KEYGEN_TEST: TransitionTable[KeygenState] = TransitionTable("keygen test", {
    _T.IDLE: {
        Event.TEST: _T.TESTING,
        Event.STOP: _T.IDLE,
    },
    _T.TESTING: {
        Event.TEST: _T.TESTING,                   # started again (a new care-of address)
        Event.TOKEN: _T.IDLE,
        Event.STOP: _T.IDLE,                      # given up, or the binding attempt ended
    },
})


# ---------------------------------------------------------------- back-off and rate limit

@dataclass(frozen=True)
class Backoff:
    """Exponential back-off: wait ``initial`` (``first`` instead, when given, for a first home
    registration: InitialBindackTimeoutFirstReg, §11.8), then twice as long after each unanswered
    try, never more than ``maximum`` (None: no cap). The interval itself is kept by the caller."""
    initial: int
    maximum: int | None = None
    first: int | None = None

    def __post_init__(self):
        if self.initial <= 0 or (self.maximum is not None and self.maximum <= 0) \
                or (self.first is not None and self.first <= 0):
            raise ValueError("back-off intervals must be positive")

    def start(self, first: bool = False) -> int:
        return self.first if first and self.first is not None else self.initial

    def next(self, timeout: int) -> int:
        doubled = 2 * timeout
        return doubled if self.maximum is None else min(doubled, self.maximum)

    def at_maximum(self, timeout: int) -> bool:
        return self.maximum is not None and timeout >= self.maximum


class RateWindow(Protocol):
    """One destination's MAX_UPDATE_RATE window, as the engine uses it."""
    def ready_at(self, now: int) -> int:
        """The earliest time at or after ``now`` at which a BU may go."""
        ...

    def record(self, now: int) -> None:
        """A BU went at ``now``."""
        ...


class DestinationLimits(Protocol):
    """A window per destination (any hashable key)."""
    def __getitem__(self, destination: Hashable) -> RateWindow: ...


def update_rate_limiter(rate: int = MAX_UPDATE_RATE, window: int = NS_PER_S) -> PerDestination[SlidingWindow]:
    """§11.8: at most ``rate`` Binding Updates per ``window`` (one second) to one destination, a sliding
    window per destination (``limiter[destination]``, roles/rate_limit.py). A node keeps one for all its
    BUs (home registrations and correspondents alike); the fleet, standing for many nodes, keys it by
    member."""
    SlidingWindow(rate, window)                      # the arguments' errors now, not at the first BU
    return PerDestination(lambda: SlidingWindow(rate, window))


# ---------------------------------------------------------------- exchanges and the engine

class Exchange:
    """The sending side of the BU / BA exchange for one (home address, peer); see the module doc. A
    role subclasses it with its own fields, its table (``TABLE``) and its initial state."""
    __slots__ = ("_state", "deferred", "lifetime_asked", "next_sequence", "outstanding", "retransmit", "sent_at",
                 "timeout")
    TABLE: ClassVar[TransitionTable]
    TIMERS: ClassVar[tuple[str, ...]] = ("retransmit", "deferred")

    def __init__(self, sequence: int, state: Enum):
        self.next_sequence = sequence % SEQUENCE_MOD
        self.outstanding: int | None = None   # sequence of the BU awaiting its BA
        self.sent_at = 0                      # when that BU left (lifetimes count from it, §11.7.3)
        self.lifetime_asked = 0
        self.timeout = 0                      # the current retransmission interval
        self.retransmit: Timer | None = None
        self.deferred: Timer | None = None    # a BU held back by the rate limit
        self._state = state

    @property
    def state(self):
        return self._state

    def apply(self, event: Event) -> None:
        """The transition ``event`` makes in this exchange's table (``RegistrationStateError`` if none)."""
        self._state = self.TABLE.next(self._state, event)

    def cancel(self, *names: str) -> None:
        """Cancel the named timers (all of ``TIMERS`` when none are named)."""
        for name in names or self.TIMERS:
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)


E = TypeVar("E", bound=Exchange)


class RegistrationEngine(Generic[E]):
    """The §11.8 rules over a role's exchanges (see the module doc). ``call_at``: the node's timers;
    ``counters``: its counters, under ``prefix`` (``<prefix>.<message>_sent``,
    ``drop.<prefix>.ba_unexpected``, ...; ``message`` "bu", or "hoti" / "coti" for return routability's
    tests); ``schedule``: the retransmission back-off; ``limiter`` and ``rate_key(exchange)``: the
    MAX_UPDATE_RATE windows and the destination a BU counts against; ``lifetime(now, exchange)``: the
    lifetime (s) the next BU asks for, or None to send nothing (the role counts why and moves the
    exchange on); ``transmit(now, exchange, sequence, lifetime)``: build and send that BU;
    ``unanswered(now, exchange)``: called when a BU waited the maximum interval in vain, True if the role
    has given up on it (no more retransmissions)."""

    def __init__(self, *, call_at: Callable[[int, Callable[[int], None]], Timer], counters: MutableMapping[str, int],
                 prefix: str, schedule: Backoff, limiter: DestinationLimits, rate_key: Callable[[E], Hashable],
                 lifetime: Callable[[int, E], int | None], transmit: Callable[[int, E, int, int], None],
                 unanswered: Callable[[int, E], bool] | None = None, message: str = "bu"):
        if message not in _MESSAGES:
            raise ValueError(f"message: one of {', '.join(_MESSAGES)}, got {message!r}")
        self._call_at = call_at
        self._counters = counters
        self._prefix = prefix
        self._message = message
        self.schedule = schedule
        self.limiter = limiter
        self._rate_key = rate_key
        self._lifetime = lifetime
        self._transmit = transmit
        self._unanswered = unanswered

    def _count(self, what: str) -> None:
        self._counters[f"{self._prefix}.{what}"] += 1

    def _drop(self, what: str) -> None:
        self._counters[f"drop.{self._prefix}.{what}"] += 1

    # ------------------------------------------------------------ sending

    def begin(self, now: int, ex: E, first: bool = False) -> None:
        """A new BU exchange: the first BU now (or when the rate limit allows), its wait from the start
        of the schedule (``first``: a first home registration)."""
        ex.cancel("retransmit", "deferred")
        ex.timeout = self.schedule.start(first)
        self.send(now, ex)

    def send(self, now: int, ex: E) -> None:
        """The next BU of ``ex`` with a new sequence number, unless the rate limit says wait; then its
        retransmission is armed."""
        ex.deferred = None
        window = self.limiter[self._rate_key(ex)]
        at = window.ready_at(now)
        if at > now:
            self._count(f"{self._message}_rate_limited")    # §11.8: MAX_UPDATE_RATE per destination
            ex.cancel("retransmit")
            ex.deferred = self._call_at(at, lambda t: self.send(t, ex))
            return
        lifetime = self._lifetime(now, ex)
        if lifetime is None:
            return
        sequence = self.stamp(now, ex, lifetime)
        window.record(now)
        self._count(f"{self._message}_sent")
        self._transmit(now, ex, sequence, lifetime)
        ex.cancel("retransmit")
        ex.retransmit = self._call_at(now + ex.timeout, lambda t: self._retransmit(t, ex))

    def resend(self, now: int, ex: E) -> None:
        """A new BU of ``ex`` at once (rate limit permitting), its wait where the back-off stands: the
        answer to a BA that asks for one (135 does it in ``answers``; RFC 4285's 144, mn_registration)."""
        ex.cancel("retransmit", "deferred")
        self.send(now, ex)

    def stamp(self, now: int, ex: E, lifetime: int) -> int:
        """Take the next sequence number for a BU leaving now with ``lifetime`` (it becomes the
        outstanding one); for a BU the role sends itself, outside the schedule."""
        sequence = ex.next_sequence
        ex.next_sequence = sequence_after(sequence)
        ex.outstanding = sequence
        ex.sent_at = now
        ex.lifetime_asked = lifetime
        return sequence

    def _retransmit(self, now: int, ex: E) -> None:
        ex.retransmit = None
        if ex.outstanding is None:
            return
        if self.schedule.at_maximum(ex.timeout) and self._unanswered is not None and self._unanswered(now, ex):
            return
        ex.timeout = self.schedule.next(ex.timeout)    # doubling up to MAX_BINDACK_TIMEOUT, then on at it
        self._count(f"{self._message}_retransmitted")
        self.send(now, ex)

    # ------------------------------------------------------------ acknowledgements (§11.7.3)

    def awaiting(self, ex: E) -> bool:
        """Is a BU of ``ex`` awaiting its BA? (if not, a BA is dropped as unexpected)"""
        if ex.outstanding is None:
            self._drop("ba_unexpected")
            return False
        return True

    def answers(self, now: int, ex: E, ba: BindingAcknowledgement) -> bool:
        """Does ``ba`` answer the outstanding BU? Status 135 (sequence out of window) carries the last
        sequence number the peer accepted: the next BU uses it + 1, at once. A BA for another sequence
        number is dropped. True: the retransmission is over and the caller acts on the status."""
        if ba.status == 135:
            self._count("ba_sequence_out_of_window")
            ex.next_sequence = sequence_after(ba.sequence)
            self.resend(now, ex)
            return False
        if ba.sequence != ex.outstanding:
            self._drop("ba_sequence_mismatch")
            return False
        ex.outstanding = None
        ex.cancel("retransmit", "deferred")
        return True

    def settle(self, ex: E) -> None:
        """The answer to ``ex``'s outstanding message arrived, matched by the role (a Home / Care-of
        Test by its cookie): no more retransmissions."""
        ex.outstanding = None
        ex.cancel("retransmit", "deferred")

    def acknowledged(self, now: int, ex: E, ba: BindingAcknowledgement) -> bool:
        """``awaiting`` and ``answers``: the first checks of §11.7.3."""
        return self.awaiting(ex) and self.answers(now, ex, ba)


def refresh_schedule(ba: BindingAcknowledgement, sent_at: int, lifetime_asked: int, initial_bindack_timeout: int,
                     advice: bool = True) -> tuple[int, int, int]:
    """§11.7.3 for an accepted BA: (granted seconds, expiry ns, refresh time ns). The lifetime counts
    from when the BU was sent; the refresh comes a lead before the smaller of the granted lifetime and
    (``advice``) the Binding Refresh Advice interval, so a retransmission or two still fits."""
    granted = min(ba.lifetime, lifetime_asked) if lifetime_asked else ba.lifetime
    interval = granted
    if advice:
        for opt in ba.options:
            if isinstance(opt, BindingRefreshAdvice) and 0 < opt.interval < interval:
                interval = opt.interval              # §11.7.3: refresh by the advice if it is sooner
    interval_ns = interval * NS_PER_S
    lead = max(interval_ns // 10, min(interval_ns // 2, 2 * initial_bindack_timeout))
    return granted, sent_at + granted * NS_PER_S, sent_at + interval_ns - lead
