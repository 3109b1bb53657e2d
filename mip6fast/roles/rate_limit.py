"""Rate limits of the roles, in one place, in integer nanoseconds (no clock is read: ``now`` is passed in),
so a run is deterministic.

Theory of operation
-------------------
Every reply a node sends because of what it received is bounded by one of these, and so is what a node
sends on its own when the RFC caps it. Two shapes of limit appear in the RFCs, and each is here once:

- ``TokenBucket(rate, burst)``: ``rate`` events per second on average, up to ``burst`` at once. The shape
  RFC 4443 §2.4 (f) recommends for ICMPv6 errors (every node's ``icmp_error_bucket``), and the one the
  roles use for the error messages RFC 6275 asks to rate-limit (Binding Errors, §9.3.1 and §9.3.3).
  ``TokenBucket(1, 1)`` is "at most one per second": an event is allowed once a whole second has passed
  since the last allowed one.
- ``SlidingWindow(limit, window_ns)``: at most ``limit`` events in any ``window_ns``; an event at ``t``
  counts until ``t + window_ns``. RFC 6275 §11.8's MAX_UPDATE_RATE ("no more than 3 Binding Updates per
  second" to one destination) is this shape.

Both answer ``take(now)`` (True, and the event is counted; or False, nothing changes) and
``ready_at(now)`` (the earliest time, at or after ``now``, at which ``take`` would succeed: when to
schedule a deferred send). ``SlidingWindow`` also splits ``take`` into a check (``ready_at``) and
``record(now)``, for a caller that checks first and may then decide not to send after all.

``PerDestination(make)`` keeps one limiter per destination (any hashable key), made by ``make()`` on
first use: ``PerDestination(lambda: SlidingWindow(3))`` is MAX_UPDATE_RATE per destination. ``prune(now)``
forgets the limiters that are back in their initial state, so a node talking to many peers over time
does not keep one limiter per peer forever.

Time that goes backwards never adds capacity: a bucket refills only for time after the latest ``now``
it has seen.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, Protocol, TypeVar

from .events import NS_PER_S

__all__ = ["PerDestination", "RateLimiter", "SlidingWindow", "TokenBucket"]


class RateLimiter(Protocol):
    def take(self, now: int) -> bool:
        """Count an event at ``now`` if the limit allows it; False (and no change) if it does not."""
        ...

    def ready_at(self, now: int) -> int:
        """The earliest time ≥ ``now`` at which ``take`` would succeed."""
        ...

    def idle(self, now: int) -> bool:
        """True when the limiter behaves as a new one would from ``now`` on (it may be forgotten)."""
        ...


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; starts full. Integer arithmetic in
    token-nanoseconds (one token = NS_PER_S of them), so a run is deterministic."""

    __slots__ = ("capacity", "last", "level", "rate")

    def __init__(self, rate: int, burst: int):
        for name, value in (("rate", rate), ("burst", burst)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")
        self.rate = rate
        self.capacity = burst * NS_PER_S
        self.level = self.capacity
        self.last: int | None = None        # the latest time seen

    def _refill(self, now: int) -> None:
        if self.last is not None and now > self.last:
            self.level = min(self.capacity, self.level + (now - self.last) * self.rate)
        self.last = now if self.last is None else max(self.last, now)

    def take(self, now: int) -> bool:
        self._refill(now)
        if self.level >= NS_PER_S:
            self.level -= NS_PER_S
            return True
        return False

    def ready_at(self, now: int) -> int:
        self._refill(now)
        assert self.last is not None
        missing = NS_PER_S - self.level
        if missing <= 0:
            return now
        return self.last + -(-missing // self.rate)     # ceiling: a whole token by then

    def idle(self, now: int) -> bool:
        self._refill(now)
        return self.level >= self.capacity


class SlidingWindow:
    """At most ``limit`` events in any window of ``window_ns`` (default one second)."""

    __slots__ = ("_times", "limit", "window_ns")

    def __init__(self, limit: int, window_ns: int = NS_PER_S):
        for name, value in (("limit", limit), ("window_ns", window_ns)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")
        self.limit = limit
        self.window_ns = window_ns
        # A list, not a deque: it holds at most ``limit`` (3) times, and a scale run keeps one window per
        # mobile node (an empty deque costs ten times an empty list).
        self._times: list[int] = []

    def _expire(self, now: int) -> None:
        times = self._times
        while times and times[0] <= now - self.window_ns:
            del times[0]

    def ready_at(self, now: int) -> int:
        self._expire(now)
        if len(self._times) < self.limit:
            return now
        # The window has room again when the event that fills it leaves.
        return self._times[-self.limit] + self.window_ns

    def record(self, now: int) -> None:
        """Count an event at ``now`` (after a check with ``ready_at``)."""
        self._times.append(now)

    def take(self, now: int) -> bool:
        if self.ready_at(now) > now:
            return False
        self._times.append(now)
        return True

    def idle(self, now: int) -> bool:
        self._expire(now)
        return not self._times

    def __len__(self) -> int:
        """Events still in the window as of the last call."""
        return len(self._times)


L = TypeVar("L", bound=RateLimiter)


class PerDestination(Generic[L]):
    """One limiter per destination, made by ``make()`` on first use."""

    __slots__ = ("_limiters", "_make")

    def __init__(self, make: Callable[[], L]):
        self._make = make
        self._limiters: dict[Hashable, L] = {}

    def __getitem__(self, destination: Hashable) -> L:
        limiter = self._limiters.get(destination)
        if limiter is None:
            limiter = self._limiters[destination] = self._make()
        return limiter

    def take(self, now: int, destination: Hashable) -> bool:
        return self[destination].take(now)

    def ready_at(self, now: int, destination: Hashable) -> int:
        limiter = self._limiters.get(destination)
        return now if limiter is None else limiter.ready_at(now)

    def forget(self, destination: Hashable) -> None:
        self._limiters.pop(destination, None)

    def prune(self, now: int) -> None:
        """Forget every limiter that is back in its initial state."""
        for key in [k for k, lim in self._limiters.items() if lim.idle(now)]:
            del self._limiters[key]

    def clear(self) -> None:
        self._limiters.clear()

    def __contains__(self, destination: Hashable) -> bool:
        return destination in self._limiters

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._limiters)

    def __len__(self) -> int:
        return len(self._limiters)
