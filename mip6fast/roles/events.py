"""The events a role exchanges with whatever drives it, below every role: what a node outputs
(``Output``: frames, batches, deliveries, notifications, the next deadline), the base of every typed
notification, and the timers the roles keep. The I/O layer (``mip6fast.io``) and the simulator import
these and nothing else of the roles' internals; ``Driven`` is the face of a node they drive, and
``NodeServices`` the face a node shows the helper objects it holds.

Times are integer nanoseconds from the driver's clock (``NS_PER_S`` per second); a role never reads a
clock of its own (docs/ROLES.md).
"""
from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from ..batch import PacketBatch
from .latency import Latencies

__all__ = ["NS_PER_S", "BatchTransmit", "Bucket", "Driven", "NodeServices", "Notification", "Output", "Timer",
           "TimerHeap", "Transmit"]

NS_PER_S = 1_000_000_000


# ---------------------------------------------------------------- outputs

class Transmit(NamedTuple):
    """A frame to put on an interface."""
    interface: str
    frame: bytes


class BatchTransmit(NamedTuple):
    """Packets of a batch to put on an interface, all at once (the data path: no per-packet Python).
    ``which`` is a boolean mask over the batch's first ``len(which)`` packets; each of them is already
    a whole Ethernet frame (the role wrote the header into the slot's headroom). The batch is the
    driver's: it must be sent before the driver reuses it. ``at``: where its frames go among the
    output's ``transmits`` (before ``transmits[at]``: a role that emits packets in order, the mobile
    node's and the correspondent's graphs); -1, after every transmit (the home agent's)."""
    interface: str
    batch: PacketBatch
    which: np.ndarray   # numpy bool array
    at: int = -1

    def frames(self) -> list[bytes]:
        """The selected frames as bytes (for drivers without a batch path, pcap, tests)."""
        return [self.batch.packet(i) for i in range(len(self.which)) if self.which[i]]


@dataclass(frozen=True)
class Notification:
    """Base of every typed event a role reports; each carries the time it happened."""
    now: int


@dataclass
class Output:
    """What one entry point produced (docs/ROLES.md). ``batches`` are the data path's transmits,
    whole batches per interface; ``frames()`` lists every frame, from both."""
    transmits: list[Transmit] = field(default_factory=list)
    deliveries: list[bytes] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    next_deadline: int | None = None
    batches: list[BatchTransmit] = field(default_factory=list)

    def frames(self) -> list[Transmit]:
        """Every frame to transmit: ``transmits``, with the packets of ``batches`` (copied out) where
        their ``at`` puts them (after every transmit by default)."""
        end = len(self.transmits)
        places = sorted(((b.at if 0 <= b.at <= end else end), k) for k, b in enumerate(self.batches))
        out: list[Transmit] = []
        done = 0
        for at, k in places:
            out.extend(self.transmits[done:at])
            done = at
            b = self.batches[k]
            out.extend(Transmit(b.interface, f) for f in b.frames())
        out.extend(self.transmits[done:])
        return out

    def merge(self, other: Output) -> Output:
        """Append ``other`` to this output (in order) and keep the earlier deadline; returns self."""
        shift = len(self.transmits)
        self.transmits.extend(other.transmits)
        self.batches.extend(b if b.at < 0 else b._replace(at=b.at + shift) for b in other.batches)
        self.deliveries.extend(other.deliveries)
        self.notifications.extend(other.notifications)
        if other.next_deadline is not None and (self.next_deadline is None
                                                or other.next_deadline < self.next_deadline):
            self.next_deadline = other.next_deadline
        return self


# ---------------------------------------------------------------- timers

class Timer:
    """A pending callback; ``cancel()`` makes it never fire."""
    __slots__ = ("callback", "cancelled", "deadline", "seq")

    def __init__(self, deadline: int, seq: int, callback: Callable[[int], None]):
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class TimerHeap:
    """One heap keyed by (deadline, sequence): ties fire in the order they were set, so a run is
    deterministic. Cancelled timers are dropped lazily when they reach the top. The heap holds
    (deadline, sequence, timer) tuples, so its comparisons stay in C (a node with 10^5 bindings keeps
    several 10^5 timers)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = 0

    def call_at(self, deadline: int, callback: Callable[[int], None]) -> Timer:
        timer = Timer(int(deadline), self._seq, callback)
        self._seq += 1
        heapq.heappush(self._heap, (timer.deadline, timer.seq, timer))
        return timer

    def _trim(self) -> None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)

    @property
    def next_deadline(self) -> int | None:
        self._trim()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> Timer | None:
        """The next timer due at or before ``now``, removed from the heap, or None."""
        self._trim()
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)[2]
        return None

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


# ---------------------------------------------------------------- the driven node

class Driven(Protocol):
    """What a driver (the simulator, ``mip6fast.io.runner``) needs of a node: its name, its interfaces
    by name, and the entry points of docs/ROLES.md, each returning an ``Output``."""
    name: str

    @property
    def interfaces(self) -> Mapping[str, object]: ...

    def receive(self, now: int, interface: str, frame: bytes) -> Output: ...

    def receive_batch(self, now: int, interface: str, batch: PacketBatch) -> Output: ...

    def tick(self, now: int) -> Output: ...

    def link_changed(self, now: int, interface: str, up: bool) -> Output: ...

    def send(self, now: int, packet: bytes) -> Output: ...


# ---------------------------------------------------------------- what a role's helpers see of it

class Bucket(Protocol):
    """A rate limit as the services see it (``rate_limit.TokenBucket``): may one more go at ``now``?"""

    def take(self, now: int) -> bool: ...


class NodeServices(Protocol):
    """What a helper object a role holds (the mobile node's movement detection, home registration,
    discovery, route optimisation and data path) may ask of its node: the seeded RNG, the counters,
    timers, notifications, counted drops, signalling latencies (roles/latency.py), and sending a packet
    (routed) or a frame (on an interface). Anything more a helper needs is given to it explicitly.
    ``icmp_error_bucket``: the node's one ICMPv6 error rate limit (RFC 4443 §2.4 f), which every error
    it sends takes from."""
    rng: random.Random
    counters: Counter[str]
    latencies: Latencies

    @property
    def icmp_error_bucket(self) -> Bucket: ...

    def call_at(self, deadline: int, callback: Callable[[int], None]) -> Timer: ...

    def notify(self, notification: Notification) -> None: ...

    def drop(self, reason: str) -> None: ...

    def output_packet(self, now: int, raw: bytes, zone: str | None = None) -> None: ...

    def emit_frame(self, interface: str, dst_mac: bytes, raw: bytes) -> None: ...
