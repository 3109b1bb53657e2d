"""The one rate limiter of the roles: a token bucket in integer nanoseconds, so a run is deterministic.

Every reply a node sends because of what it received is bounded by one of these: ICMPv6 errors
(RFC 4443 §2.4 (f)), Binding Errors (RFC 6275 §9.3.3), and the other answers that a flood of requests
must not turn into a flood of replies.
"""
from __future__ import annotations

from .events import NS_PER_S

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` held; starts full. ``take(now)`` spends one token
    and says whether there was one. Time that goes backwards adds nothing."""
    __slots__ = ("capacity", "last", "level", "rate")

    def __init__(self, rate: int, burst: int):
        for name, value in (("rate", rate), ("burst", burst)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")
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
