"""A daemon's Prometheus endpoint (``[daemon] metrics = "127.0.0.1:9464"``, issue 15 item 3).

What is exposed, all labelled with the daemon's ``role``:

* every counter the role declares (roles/counters.py), by this mapping (``metric_for``): the dotted name
  becomes ``mip6fast_<name with _ for .>_total``; a family's variable part (``<reason>``, ``<status>``,
  ``<message>``, ``<field>``, ``<code>`` in the declaration) becomes a label of that name, the fixed
  text the metric name: ``drop.datapath.no_binding`` is ``mip6fast_drop_datapath_total{reason=
  "no_binding"}``, ``ba.sent.status.130`` is ``mip6fast_ba_sent_status_total{status="130"}``. When a
  family's name would be that of an exact counter (``store.commit_failed`` and
  ``store.commit_failed.<reason>``), the family's gets ``_by_<label>``. The exact counters are shown
  from 0; a family shows the values seen. A name no declaration covers is not exported (it is counted
  under ``mip6fast_counters_undeclared_total``);
* the ports' counters per ``interface`` (``mip6fast_port_rx_frames_total{interface="eth0"}``), the
  event loop's and the control socket's;
* ``mip6fast_bindings`` (the binding cache, or a mobile node's binding update list) as a gauge,
  ``mip6fast_info{version}``, ``mip6fast_start_time_seconds``, ``mip6fast_reloads_total``;
* the signalling latencies (roles/latency.py) as one histogram,
  ``mip6fast_signalling_latency_seconds{exchange="mn_home_bu_ba"}``;
* a member of a redundant group of home agents (README "Redundancy"): ``mip6fast_redundancy_state
  {member, state}`` (1 for the state it is in: active, standby, fenced, resigned), the lease
  (``mip6fast_redundancy_lease_ttl_seconds``, ``..._lease_remaining_seconds``), the replication lag of a
  standby (``..._lag_revisions``: etcd's revision minus the one its cache mirrors; ``..._since_applied
  _seconds``) and the active's last commit round trip (``..._commit_rtt_seconds``), each when known.

Threads. prometheus_client's HTTP server runs in a thread of its own (``start_http_server``), so a slow
or stuck scraper never holds the daemon's epoll loop. But the node's state (the counters, the C binding
cache) is the loop thread's alone, as the control socket says (``daemon.ControlServer``); so the scrape
thread never reads it. It asks the loop for a snapshot (``SnapshotExchange``: a byte on a pipe the loop
watches) and waits for it, at most ``timeout_s``; the loop copies the figures into plain dicts and
hands them over under a lock. The packet path pays nothing (no copy per tick, nothing per packet); a
scrape costs the loop one copy of the counters. A loop that does not answer in time gets the last
snapshot served with ``mip6fast_snapshot_stale 1`` (and the watchdog will restart it soon).
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from .config import metrics_address
from .roles.counters import UNDECLARED, CounterTable
from .roles.latency import BUCKETS_S, LATENCIES

__all__ = ["DaemonCollector", "SnapshotExchange", "metric_for", "metric_names", "serve"]

log = logging.getLogger("mip6fast.metrics")

PREFIX = "mip6fast_"
_VAR = re.compile(r"<([a-z_]+)>")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


def _family_name(head: str, tail: str) -> str:
    return _UNSAFE.sub("_", head.rstrip(".") + ("." + tail.lstrip(".") if tail else ""))


def metric_names(table: CounterTable) -> dict[str, tuple[str, str | None]]:
    """{declaration name: (metric name without _total, label name or None)} for every declaration."""
    exact = {_UNSAFE.sub("_", d.name) for d in table if not d.is_pattern}
    out: dict[str, tuple[str, str | None]] = {}
    for d in table:
        m = _VAR.search(d.name)
        if m is None:
            out[d.name] = (PREFIX + _UNSAFE.sub("_", d.name), None)
            continue
        head, tail = d.name.split(m.group(0))
        name = _family_name(head, tail)
        if name in exact:
            name += f"_by_{m.group(1)}"
        out[d.name] = (PREFIX + name, m.group(1))
    return out


def metric_for(table: CounterTable, name: str, names: dict | None = None) -> tuple[str, dict[str, str]] | None:
    """The metric (without _total) and labels of counter ``name``, or None for an undeclared name."""
    if name == UNDECLARED:
        return PREFIX + "counters_undeclared", {}
    d = table.declaration(name)
    if d is None:
        return None
    metric, label = (names or metric_names(table))[d.name]
    if label is None:
        return metric, {}
    m = d._regex.fullmatch(name) if d._regex is not None else None
    return metric, {label: m.group(1) if m else ""}


class SnapshotExchange:
    """The loop makes a snapshot when a scrape asks for one (``request``), on its own thread.

    ``attach(runner)`` watches the read end of a pipe; ``get()`` (any thread) writes a byte and waits on
    a condition until the loop has published a newer snapshot, or ``timeout_s``. Concurrent scrapes
    share one snapshot when they come together."""

    def __init__(self, build: Callable[[], dict], timeout_s: float = 2.0):
        self.build = build
        self.timeout_s = timeout_s
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._cond = threading.Condition()
        self._snapshot: dict | None = None
        self._generation = 0
        self.served = 0
        self.errors = 0

    def fileno(self) -> int:
        return self._r

    def attach(self, runner) -> None:
        runner.add_reader(self._r, self.serve)

    def serve(self) -> None:
        """On the loop: drain the requests, publish one snapshot. A failure is logged, never raised (it
        must not stop the data path); the waiting scrape then times out and gets the older snapshot."""
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
        try:
            snapshot = self.build()
        except Exception:
            self.errors += 1
            log.exception("metrics: building the snapshot failed")
            return
        with self._cond:
            self._snapshot = snapshot
            self.served += 1
            self._generation += 1
            self._cond.notify_all()

    def get(self) -> tuple[dict | None, bool]:
        """(snapshot, fresh): the loop's answer to this request, or the previous one (fresh False)."""
        with self._cond:
            generation = self._generation
            try:
                os.write(self._w, b"s")
            except BlockingIOError:
                pass                        # requests already pending: their answer serves this one too
            except OSError:
                return self._snapshot, False     # closed: the daemon is stopping
            fresh = self._cond.wait_for(lambda: self._generation != generation, self.timeout_s)
            return self._snapshot, bool(fresh)

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class DaemonCollector(Collector):
    """Turns a daemon's snapshot (``Daemon.metrics_snapshot``) into metric families at scrape time."""

    def __init__(self, table: CounterTable, snapshot: Callable[[], tuple[dict | None, bool]]):
        self.table = table
        self.snapshot = snapshot
        self._names = metric_names(table)

    def describe(self) -> Iterable[Metric]:
        return []                           # unchecked: the families depend on what was counted

    def collect(self) -> Iterator[Metric]:
        snap, fresh = self.snapshot()
        stale = GaugeMetricFamily(PREFIX + "snapshot_stale",
                                  "1 when the event loop did not answer the scrape in time (figures from the "
                                  "scrape before)", labels=[])
        stale.add_metric([], 0 if fresh else 1)
        yield stale
        if snap is None:
            return
        role = snap["role"]
        yield from self._counters(role, snap["counters"])
        info = GaugeMetricFamily(PREFIX + "info", "the daemon's role and version", labels=["role", "version"])
        info.add_metric([role, snap["version"]], 1)
        yield info
        started = GaugeMetricFamily(PREFIX + "start_time_seconds", "when the daemon started (Unix time)",
                                    labels=["role"])
        started.add_metric([role], snap["start_time"])
        yield started
        bindings = GaugeMetricFamily(PREFIX + "bindings", "bindings held: the binding cache (home agent, "
                                     "correspondent) or the binding update list (mobile node)", labels=["role"])
        bindings.add_metric([role], snap["bindings"])
        yield bindings
        reloads = CounterMetricFamily(PREFIX + "reloads", "SIGHUP reloads of the configuration", labels=["role"])
        reloads.add_metric([role], snap["reloads"])
        yield reloads
        yield from self._grouped("port", "the interface's packet socket or ring: ", role, snap["ports"],
                                 "interface")
        for group, what in (("runner", "the event loop: "), ("control", "the control socket: ")):
            values = snap.get(group)
            if values:
                yield from self._grouped(group, what, role, {"": values}, None)
        latency = HistogramMetricFamily(
            PREFIX + "signalling_latency_seconds",
            "signalling latencies by exchange: " + "; ".join(f"{k}: {v}" for k, v in LATENCIES.items()),
            labels=["role", "exchange"])
        for exchange, (cumulative, total_s, _count) in sorted(snap["latencies"].items()):
            buckets = [(repr(b), c) for b, c in zip(BUCKETS_S, cumulative)] + [("+Inf", cumulative[-1])]
            latency.add_metric([role, exchange], buckets, total_s)
        yield latency
        if snap.get("redundancy"):
            yield from self._redundancy(role, snap["redundancy"])

    # The redundancy gauges: (status key, metric suffix, help)
    REDUNDANCY_GAUGES = (
        ("lease_ttl_s", "lease_ttl_seconds", "the TTL of the active home agent's etcd lease"),
        ("lease_remaining_s", "lease_remaining_seconds",
         "seconds before this member's lease deadline (0 unless active)"),
        ("etcd_revision", "etcd_revision", "the newest etcd revision this member has seen"),
        ("lag_revisions", "lag_revisions",
         "a standby's replication lag: etcd's revision minus the revision its binding cache mirrors"),
        ("since_applied_s", "since_applied_seconds",
         "a standby: seconds since it last applied a change seen by its etcd watch"),
        ("mirrored", "mirrored_bindings", "a standby: bindings its cache mirrors from etcd"),
        ("commit_rtt_s", "commit_rtt_seconds", "the active: the round trip of its last etcd commit"),
        ("last_takeover_s", "last_takeover_seconds", "how long this member's last takeover took"),
    )

    def _redundancy(self, role: str, status: dict) -> Iterator[Metric]:
        member = str(status.get("member", ""))
        state = GaugeMetricFamily(PREFIX + "redundancy_state", "1 for the role this member of a redundant "
                                  "group holds (active, standby, fenced, resigned)", labels=["role", "member",
                                                                                             "state"])
        for name in ("active", "standby", "fenced", "resigned"):
            state.add_metric([role, member, name], 1 if status.get("state") == name else 0)
        yield state
        lease = GaugeMetricFamily(PREFIX + "redundancy_lease_info", "the active member's etcd lease id",
                                  labels=["role", "member", "lease_id"])
        if status.get("lease_id"):
            lease.add_metric([role, member, str(status["lease_id"])], 1)
        yield lease
        for key, suffix, meaning in self.REDUNDANCY_GAUGES:
            value = status.get(key)
            if value is None:
                continue
            g = GaugeMetricFamily(PREFIX + "redundancy_" + suffix, meaning, labels=["role", "member"])
            g.add_metric([role, member], float(value))
            yield g

    def _counters(self, role: str, counters: dict[str, int]) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}

        def family(metric: str, label: str | None, meaning: str) -> CounterMetricFamily:
            f = families.get(metric)
            if f is None:
                f = families[metric] = CounterMetricFamily(metric, meaning,
                                                           labels=["role"] + ([label] if label else []))
            return f

        for decl in self.table:             # every exact counter, from 0
            metric, label = self._names[decl.name]
            if label is None:
                family(metric, None, decl.meaning).add_metric([role], counters.get(decl.name, 0))
        undeclared = family(PREFIX + "counters_undeclared", None,
                            "increments of counter names no declaration covers")
        undeclared.add_metric([role], counters.get(UNDECLARED, 0))
        for name, value in sorted(counters.items()):
            d = self.table.declaration(name)
            if d is None or not d.is_pattern:
                continue
            mapped = metric_for(self.table, name, self._names)
            assert mapped is not None
            metric, labels = mapped
            (label, label_value), = labels.items()
            family(metric, label, d.meaning).add_metric([role, label_value], value)
        yield from families.values()

    def _grouped(self, group: str, what: str, role: str, by: dict[str, dict[str, int]],
                 label: str | None) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        for key, values in sorted(by.items()):
            for name, value in sorted(values.items()):
                metric = f"{PREFIX}{group}_{_UNSAFE.sub('_', name)}"
                f = families.get(metric)
                if f is None:
                    f = families[metric] = CounterMetricFamily(metric, what + name,
                                                               labels=["role"] + ([label] if label else []))
                f.add_metric([role] + ([key] if label else []), value)
        yield from families.values()


def serve(address: str, collector: Collector) -> tuple[WSGIServer, threading.Thread]:
    """prometheus_client's HTTP server on ``address`` ("HOST:PORT"), in a thread of its own, with a
    registry of its own: ``collector`` and the process's figures (process_cpu_seconds_total,
    process_resident_memory_bytes, ...). OSError if the address cannot be bound."""
    host, port = metrics_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return start_http_server(port, addr=host, registry=registry)
