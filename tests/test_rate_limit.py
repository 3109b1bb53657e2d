"""The roles' rate limiters (mip6fast.roles.rate_limit): token bucket, sliding window, per destination.
Times are integer ns; ``S`` is one second."""
from collections import deque

import numpy as np
import pytest

from mip6fast.roles.rate_limit import PerDestination, SlidingWindow, TokenBucket
from mip6fast.roles.registration import update_rate_limiter

S = 1_000_000_000


# ---------------------------------------------------------------- TokenBucket

def test_token_bucket_refills_to_burst():
    b = TokenBucket(10, 3)
    assert [b.take(0) for _ in range(4)] == [True, True, True, False]
    assert [b.take(100 * S) for _ in range(4)] == [True, True, True, False]


def test_token_bucket_refills_at_its_rate_and_says_when():
    b = TokenBucket(10, 2)
    assert b.take(0) and not b.idle(0) and b.take(0) and not b.take(0)
    assert b.ready_at(0) == S // 10 and b.ready_at(S // 20) == S // 10
    assert not b.take(S // 10 - 1) and b.take(S // 10) and not b.take(S // 10)
    assert b.ready_at(S) == S and b.idle(S)


def test_token_bucket_time_going_backwards_adds_nothing():
    b = TokenBucket(1, 1)
    assert b.take(10 * S) and not b.take(5 * S) and not b.take(10 * S)
    assert b.ready_at(5 * S) == 11 * S and b.take(11 * S)


def test_token_bucket_arguments():
    for rate, burst in ((0, 1), (1, 0), (-1, 5)):
        with pytest.raises(ValueError):
            TokenBucket(rate, burst)


def _once_per_second(times):
    """The home agent's Binding Error limit before it used TokenBucket: allowed when a second has
    passed since the last allowed one."""
    last, out = None, []
    for now in times:
        ok = last is None or now - last >= S
        if ok:
            last = now
        out.append(ok)
    return out


def test_token_bucket_1_1_is_at_most_one_per_second_since_the_last_allowed():
    rng = np.random.default_rng(3)
    for _ in range(200):
        times = np.cumsum(rng.choice([0, 1, S // 3, S // 2, S - 1, S, S + 1, 3 * S], size=40)).tolist()
        b = TokenBucket(1, 1)
        assert [b.take(t) for t in times] == _once_per_second(times)


# ---------------------------------------------------------------- SlidingWindow

def _window_reference(limit, events):
    """The mobile node's MAX_UPDATE_RATE bookkeeping (a deque of send times, §11.8) as it was written
    before the limiter existed: for each (now, send) the time at which a send is allowed, recording a
    send when allowed and asked for."""
    sent, out = deque(), []
    for now, send in events:
        while sent and sent[0] <= now - S:
            sent.popleft()
        at = now if len(sent) < limit else sent[0] + S
        if at == now and send:
            sent.append(now)
        out.append(at)
    return out


def test_sliding_window_is_the_mobile_nodes_max_update_rate():
    rng = np.random.default_rng(7)
    for limit in (1, 2, 3, 5):
        for _ in range(100):
            steps = rng.choice([0, 1, S // 4, S // 2, S - 1, S, S + 1], size=60)
            events = list(zip(np.cumsum(steps).tolist(), rng.random(60) < 0.8))
            w, got = SlidingWindow(limit), []
            for now, send in events:
                at = w.ready_at(now)
                if at == now and send:
                    w.record(now)
                got.append(at)
            assert got == _window_reference(limit, events)


def test_sliding_window_take_and_ready_at():
    w = SlidingWindow(3)
    assert [w.take(0), w.take(S // 10), w.take(S // 5), w.take(S // 5)] == [True, True, True, False]
    assert w.ready_at(S // 2) == S and len(w) == 3
    assert not w.take(S - 1) and w.take(S) and not w.take(S)
    assert w.ready_at(S) == S + S // 10
    assert not w.idle(S) and w.idle(2 * S)
    with pytest.raises(ValueError):
        SlidingWindow(0)


# ---------------------------------------------------------------- PerDestination

def test_per_destination_limits_each_destination_on_its_own():
    limits = PerDestination(lambda: SlidingWindow(2))
    assert limits.ready_at(0, "a") == 0 and "a" not in limits        # asking does not make one
    assert limits.take(0, "a") and limits.take(0, "a") and not limits.take(0, "a")
    assert limits.take(0, "b") and limits.ready_at(0, "a") == S and limits.ready_at(0, "b") == 0
    assert sorted(limits) == ["a", "b"] and len(limits) == 2
    limits.prune(S // 2)
    assert len(limits) == 2
    limits.prune(S)
    assert len(limits) == 0 and limits.take(S, "a")
    limits.forget("a")
    assert "a" not in limits
    buckets = PerDestination(lambda: TokenBucket(1, 1))
    assert buckets.take(0, 1) and not buckets.take(0, 1) and buckets.take(0, 2)
    assert isinstance(buckets[1], TokenBucket)
    buckets.clear()
    assert len(buckets) == 0


def test_per_destination_sliding_windows_against_a_naive_model():
    """The MAX_UPDATE_RATE limiter (registration.update_rate_limiter: a SlidingWindow per destination)
    against the rule written naively: an event may happen at ``now`` when fewer than ``rate`` of the
    recorded ones lie in (now - window, now]; otherwise when the oldest of the last ``rate`` leaves."""
    rng = np.random.default_rng(11)
    for rate in (1, 3, 4):
        limiter = update_rate_limiter(rate, S)
        history: dict[int, list[int]] = {}
        now = 0
        for _ in range(2000):
            now += int(rng.choice([0, 1, S // 5, S // 2, S - 1, S]))
            dest = int(rng.integers(0, 3))
            times = history.setdefault(dest, [])
            inside = [t for t in times if t > now - S]
            want = now if len(inside) < rate else inside[-rate] + S
            at = limiter[dest].ready_at(now)
            assert at == want
            if at == now and rng.random() < 0.9:
                limiter[dest].record(now)
                times.append(now)
