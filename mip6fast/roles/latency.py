"""Signalling latencies: fixed-bucket histograms a role fills on its signalling path, never on the data
path, read by the daemon's metrics endpoint (``mip6fast.metrics``) at scrape time.

The roles have no clock of their own: a round trip is measured in the node's time (``now`` of the BA
less ``sent_at`` of the BU it answers); a processing time needs ``Node.perf_clock``, a counter of
nanoseconds the daemon gives the node (``time.perf_counter_ns``) and the simulator does not (its runs stay
deterministic, and nothing is measured). Observing costs a bisect over the bucket bounds and two
additions.
"""
from __future__ import annotations

from bisect import bisect_left

__all__ = ["BUCKETS_S", "LATENCIES", "Histogram", "Latencies"]

# Upper bounds in seconds, Prometheus's "le": from a BU handled in half a millisecond to a BA after the
# home agent's DAD (about a second) or a few retransmissions.
BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
             5.0, 10.0)

# Every latency a role measures, with its meaning (the metric's HELP text).
LATENCIES = {
    "mn_home_bu_ba": "mobile node: from a home registration's Binding Update (its last transmission) to the "
                     "Binding Acknowledgement that answers it",
    "mn_ro_bu_ba": "mobile node: from a route-optimisation Binding Update to a correspondent (its last "
                   "transmission) to the accepting Binding Acknowledgement",
    "ha_bu_processing": "home agent: processing one Binding Update, from its receipt to the BA (or the DAD "
                        "that defers it) being queued",
}


class Histogram:
    """Counts per bucket (not cumulative; ``cumulative()`` gives Prometheus's), their sum and count."""

    __slots__ = ("bounds_ns", "count", "counts", "sum_ns")

    def __init__(self, bounds_s: tuple[float, ...] = BUCKETS_S):
        self.bounds_ns = [round(b * 1e9) for b in bounds_s]
        self.counts = [0] * (len(self.bounds_ns) + 1)       # the last: above every bound (+Inf)
        self.sum_ns = 0
        self.count = 0

    def observe(self, ns: int) -> None:
        ns = max(0, ns)
        self.counts[bisect_left(self.bounds_ns, ns)] += 1
        self.sum_ns += ns
        self.count += 1

    def cumulative(self) -> list[int]:
        out, total = [], 0
        for c in self.counts:
            total += c
            out.append(total)
        return out


class Latencies:
    """A node's histograms by name (``LATENCIES``), made on the first observation."""

    def __init__(self) -> None:
        self.histograms: dict[str, Histogram] = {}

    def observe(self, name: str, ns: int) -> None:
        h = self.histograms.get(name)
        if h is None:
            if name not in LATENCIES:
                raise KeyError(f"latency {name!r} is not declared in roles/latency.py LATENCIES")
            h = self.histograms[name] = Histogram()
        h.observe(ns)

    def snapshot(self) -> dict[str, tuple[list[int], float, int]]:
        """{name: (cumulative bucket counts, the last being +Inf; sum in seconds; count)}: plain values
        another thread may read."""
        return {name: (h.cumulative(), h.sum_ns / 1e9, h.count) for name, h in self.histograms.items()}
