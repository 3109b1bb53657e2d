"""The registration engine (mip6fast/roles/registration.py) on its own: the §11.8 retransmission
schedule, new sequence numbers modulo 2^16, MAX_UPDATE_RATE per destination, the first checks of a
Binding Acknowledgement (§11.7.3), the back-off of the other solicitations, and the transition tables
refusing what they do not allow. Times are integer ns; ``S`` is one second."""
from collections import Counter
from ipaddress import IPv6Address

import pytest

from mip6fast.errors import Mip6Error
from mip6fast.roles.events import TimerHeap
from mip6fast.roles.registration import (
    CORRESPONDENT_REGISTRATION,
    HOME_REGISTRATION,
    INITIAL_BINDACK_TIMEOUT,
    INITIAL_BINDACK_TIMEOUT_FIRST_REG,
    MAX_BINDACK_TIMEOUT,
    MAX_UPDATE_RATE,
    SEQUENCE_MOD,
    Backoff,
    Event,
    Exchange,
    PeerState,
    RegistrationEngine,
    RegistrationState,
    RegistrationStateError,
    refresh_schedule,
    sequence_after,
    update_rate_limiter,
)
from mip6fast.wire import BindingAcknowledgement, BindingRefreshAdvice

S = 1_000_000_000
MS = 1_000_000
HA = IPv6Address("2001:db8:1::2")
CN = IPv6Address("2001:db8:99::7")
SCHEDULE = Backoff(INITIAL_BINDACK_TIMEOUT, MAX_BINDACK_TIMEOUT, first=INITIAL_BINDACK_TIMEOUT_FIRST_REG)


class Registration(Exchange):
    __slots__ = ("peer",)
    TABLE = HOME_REGISTRATION

    def __init__(self, peer, sequence):
        super().__init__(sequence, RegistrationState.IDLE)
        self.peer = peer


class Harness:
    """An engine over a timer heap, recording every BU it sends as (time, peer, sequence, lifetime)."""

    def __init__(self, lifetime=600, unanswered=None, limiter=None):
        self.timers = TimerHeap()
        self.counters = Counter()
        self.sent = []
        self.lifetime = lifetime
        self.engine = RegistrationEngine(
            call_at=self.timers.call_at, counters=self.counters, prefix="t", schedule=SCHEDULE,
            limiter=limiter or update_rate_limiter(), rate_key=lambda ex: ex.peer,
            lifetime=lambda now, ex: self.lifetime,
            transmit=lambda now, ex, seq, lifetime: self.sent.append((now, ex.peer, seq, lifetime)),
            unanswered=unanswered)

    def run(self, until):
        while (timer := self.timers.pop_due(until)) is not None:
            timer.callback(timer.deadline)

    def times(self):
        return [t for t, _, _, _ in self.sent]


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


def ba(status, sequence, lifetime=600, options=()):
    return BindingAcknowledgement(status=status, sequence=sequence, lifetime=lifetime, options=options)


# ---------------------------------------------------------------- the schedule (§11.8)

def test_first_registration_waits_1_5_s_doubling_to_32_s_then_stays():
    h = Harness()
    reg = Registration(HA, 100)
    reg.apply(Event.REGISTER)
    h.engine.begin(0, reg, first=True)
    h.run(200 * S)
    assert gaps(h.times()) == [1500 * MS, 3 * S, 6 * S, 12 * S, 24 * S, 32 * S, 32 * S, 32 * S, 32 * S]
    assert h.counters["t.bu_sent"] == 10 and h.counters["t.bu_retransmitted"] == 9


def test_other_registrations_wait_1_s():
    h = Harness()
    reg = Registration(HA, 100)
    h.engine.begin(0, reg)
    h.run(100 * S)
    assert gaps(h.times()) == [1 * S, 2 * S, 4 * S, 8 * S, 16 * S, 32 * S, 32 * S]


def test_every_retransmission_carries_a_new_sequence_number_modulo_2_16():
    h = Harness()
    reg = Registration(HA, SEQUENCE_MOD - 2)
    h.engine.begin(0, reg)
    h.run(8 * S)
    assert [seq for _, _, seq, _ in h.sent] == [65534, 65535, 0, 1]
    assert reg.outstanding == 1 and reg.next_sequence == 2
    assert sequence_after(65535) == 0 and Registration(HA, 65536 + 7).next_sequence == 7


def test_an_acknowledged_bu_is_not_retransmitted():
    h = Harness()
    reg = Registration(HA, 5)
    h.engine.begin(0, reg)
    assert h.engine.acknowledged(10 * MS, reg, ba(0, 5))
    assert reg.outstanding is None and reg.retransmit is None
    h.run(100 * S)
    assert len(h.sent) == 1


def test_unanswered_at_the_maximum_lets_the_role_give_up():
    calls = []
    h = Harness(unanswered=lambda now, ex: calls.append(now) or len(calls) >= 2)
    reg = Registration(HA, 0)
    h.engine.begin(0, reg)
    h.run(300 * S)
    # Sent at 0, 1, 3, 7, 15 and 31 s; the one at 31 s waits 32 s in vain (first call: go on), so does
    # the one at 63 s (second call: the role gives up, nothing more is sent).
    assert calls == [63 * S, 95 * S]
    assert h.times()[-1] == 63 * S


def test_no_lifetime_means_no_bu_and_no_retransmission():
    h = Harness(lifetime=None)
    reg = Registration(HA, 0)
    h.engine.begin(0, reg)
    h.run(100 * S)
    assert h.sent == [] and reg.outstanding is None and reg.retransmit is None


# ---------------------------------------------------------------- MAX_UPDATE_RATE (§11.8)

def test_at_most_three_bus_per_second_to_one_destination():
    h = Harness()
    regs = [Registration(HA, 10 * i) for i in range(5)]
    for reg in regs:
        h.engine.begin(0, reg)
    other = Registration(CN, 0)
    h.engine.begin(0, other)                 # another destination is not held back
    assert h.times() == [0, 0, 0, 0] and h.counters["t.bu_rate_limited"] == 2
    held = regs[3:]
    assert all(r.deferred is not None and r.retransmit is None and r.outstanding is None for r in held)
    for reg in regs[:3]:
        assert h.engine.acknowledged(500 * MS, reg, ba(0, reg.outstanding))
    h.run(1 * S)
    assert [(t, seq) for t, _, seq, _ in h.sent if seq in (30, 40)] == [(1 * S, 30), (1 * S, 40)]
    assert all(r.deferred is None and r.retransmit is not None for r in held)


def test_the_window_slides():
    limiter = update_rate_limiter(MAX_UPDATE_RATE)
    window = limiter[HA]
    for t in (0, 200 * MS, 400 * MS):
        assert window.ready_at(t) == t
        window.record(t)
    assert window.ready_at(500 * MS) == 1 * S          # the oldest leaves the window at 1 s
    assert window.ready_at(1 * S) == 1 * S
    window.record(1 * S)
    assert window.ready_at(1 * S + 1) == 1200 * MS
    assert limiter[CN].ready_at(0) == 0 and limiter[HA] is window
    with pytest.raises(ValueError):
        update_rate_limiter(0)


# ---------------------------------------------------------------- Binding Acknowledgements (§11.7.3)

def test_status_135_sends_at_once_with_the_returned_sequence_plus_one():
    h = Harness()
    reg = Registration(HA, 40)
    h.engine.begin(0, reg)
    assert not h.engine.acknowledged(10 * MS, reg, ba(135, 65535))
    assert h.sent[-1] == (10 * MS, HA, 0, 600) and reg.outstanding == 0
    assert h.counters["t.ba_sequence_out_of_window"] == 1


def test_a_ba_for_another_sequence_or_with_none_outstanding_is_dropped():
    h = Harness()
    reg = Registration(HA, 40)
    assert not h.engine.acknowledged(0, reg, ba(0, 40))
    assert h.counters["drop.t.ba_unexpected"] == 1
    h.engine.begin(0, reg)
    assert not h.engine.acknowledged(10 * MS, reg, ba(0, 41))
    assert h.counters["drop.t.ba_sequence_mismatch"] == 1 and reg.outstanding == 40
    assert reg.retransmit is not None


def test_refresh_schedule_counts_from_the_bu_and_follows_the_advice():
    assert refresh_schedule(ba(0, 1, lifetime=600), 10 * S, 600, INITIAL_BINDACK_TIMEOUT) == (
        600, 610 * S, 10 * S + 540 * S)
    advised = ba(0, 1, lifetime=600, options=(BindingRefreshAdvice(100),))
    assert refresh_schedule(advised, 0, 600, INITIAL_BINDACK_TIMEOUT) == (600, 600 * S, 100 * S - 10 * S)
    assert refresh_schedule(advised, 0, 600, INITIAL_BINDACK_TIMEOUT, advice=False)[2] == 540 * S
    assert refresh_schedule(ba(0, 1, lifetime=600), 0, 60, INITIAL_BINDACK_TIMEOUT)[0] == 60


# ---------------------------------------------------------------- back-off of other solicitations

def test_backoff_shapes():
    dhaad = Backoff(3 * S)                            # §11.4.1: uncapped, counted by DHAAD_RETRIES
    assert [dhaad.start(), dhaad.next(3 * S), dhaad.next(48 * S)] == [3 * S, 6 * S, 96 * S]
    assert not dhaad.at_maximum(10 ** 15)
    mps = Backoff(3 * S, MAX_BINDACK_TIMEOUT)       # §11.4.2: capped at MAX_BINDACK_TIMEOUT
    assert mps.next(24 * S) == 32 * S and mps.at_maximum(32 * S) and not mps.at_maximum(24 * S)
    assert SCHEDULE.start(first=True) == 1500 * MS and SCHEDULE.start() == 1 * S
    with pytest.raises(ValueError):
        Backoff(0)


# ---------------------------------------------------------------- the transition tables

def test_the_home_registration_table_refuses_illegal_transitions():
    reg = Registration(HA, 0)
    with pytest.raises(RegistrationStateError) as info:
        reg.apply(Event.DEREGISTERED)                 # nothing to de-register from IDLE
    assert isinstance(info.value, Mip6Error) and reg.state is RegistrationState.IDLE
    reg.apply(Event.REGISTER)
    reg.apply(Event.REJECTED)
    assert reg.state is RegistrationState.FAILED
    with pytest.raises(RegistrationStateError):
        reg.apply(Event.REGISTER)                     # no BU through a home agent that refused us
    reg.apply(Event.RETARGET)
    assert reg.state is RegistrationState.IDLE
    with pytest.raises(AttributeError):
        reg.state = RegistrationState.REGISTERED      # only through the table


def test_the_correspondent_table():
    table = CORRESPONDENT_REGISTRATION
    assert table.next(PeerState.IDLE, Event.REGISTER) is PeerState.BINDING
    assert table.next(PeerState.BINDING, Event.ACCEPTED) is PeerState.OPTIMISED
    assert table.next(PeerState.OPTIMISED, Event.REFRESH) is PeerState.OPTIMISED
    assert table.next(PeerState.OPTIMISED, Event.HOLD_DOWN) is PeerState.HELD_DOWN
    assert table.allowed(PeerState.REFUSED) == frozenset()
    with pytest.raises(RegistrationStateError, match="REGISTER is not allowed in state HELD_DOWN"):
        table.next(PeerState.HELD_DOWN, Event.REGISTER)


@pytest.mark.parametrize("table, states", [(HOME_REGISTRATION, RegistrationState),
                                           (CORRESPONDENT_REGISTRATION, PeerState)])
def test_every_state_has_a_row_and_every_transition_ends_in_a_state(table, states):
    assert set(table.table) == set(states)
    for row in table.table.values():
        assert all(isinstance(event, Event) and isinstance(new, states) for event, new in row.items())
