"""A deterministic discrete-event simulator built from the sans-I/O roles and in-memory links.

Theory of operation
-------------------
``Simulator(seed)`` holds a virtual clock (integer ns) and one event heap ordered by (time, sequence):
frame arrivals, node timer deadlines and scenario callbacks. ``run(until_ns)`` pops events in that
order, hands each to the node it is for, and turns the node's ``Output`` into more events: every
``Transmit`` goes onto the link the interface is attached to, ``next_deadline`` becomes a tick event,
and notifications go to the timeline. Nodes are the role objects, unchanged (docs/ROLES.md).

A ``Link`` is a broadcast domain: a frame sent on it reaches every other attached interface after the
link's delay, unless the link's RNG (seeded from the simulator's seed and the link's name) drops it.
Frames whose IPv6 packet is over the link MTU are dropped and counted. With ``pcap_dir`` every link
records what was sent on it to ``<pcap_dir>/<link name>.pcap`` (Ethernet link type, virtual-clock
nanosecond timestamps), so the same seed gives the same pcaps byte for byte.

Scenario scripts use ``schedule(at_ns, callable)``; the callable gets the simulator and may ``move``
an interface to another link, take a link down, attach an application, and so on.
"""
from __future__ import annotations

import heapq
import os
import random
from collections import Counter
from typing import Callable

from .apps import PingApp, StreamApp
from .io.pcap import LINKTYPE_ETHERNET, PcapWriter
from .roles.events import NS_PER_S, Output
from .roles.node import Node

__all__ = ["NS_PER_S", "Link", "PingApp", "Simulator", "StreamApp"]

_FRAME, _TICK, _CALL = 0, 1, 2
ETHERNET_HEADER = 14


class Link:
    """A broadcast domain with a one-way ``delay_ns``, a frame ``loss`` probability and an ``mtu`` (the
    largest IPv6 packet it carries)."""

    def __init__(self, name: str, delay_ns: int = 100_000, loss: float = 0.0, mtu: int = 1500):
        if not 0.0 <= loss <= 1.0:
            raise ValueError("loss is a probability in [0, 1]")
        if delay_ns < 0:
            raise ValueError("delay_ns must not be negative")
        self.name = name
        self.delay_ns = int(delay_ns)
        self.loss = loss
        self.mtu = mtu
        self.up = True
        self.ports: list[tuple[Node, str]] = []
        self.counters: Counter[str] = Counter()
        self.rng: random.Random | None = None
        self.pcap: PcapWriter | None = None
        self.pcap_path: str | None = None

    def __repr__(self) -> str:
        return f"Link({self.name!r}, ports={[(n.name, i) for n, i in self.ports]})"


class Simulator:
    def __init__(self, seed: int = 0, pcap_dir: str | None = None):
        self.seed = seed
        self.pcap_dir = pcap_dir
        self.now = 0
        self.links: dict[str, Link] = {}
        self.nodes: dict[str, Node] = {}
        self.timeline: list[tuple[int, str, object]] = []
        self.deliveries: Counter[str] = Counter()
        self._events: list[tuple] = []
        self._seq = 0
        self._ticks: dict[str, set[int]] = {}
        self._attached: dict[tuple[str, str], Link] = {}

    # ------------------------------------------------------------ setup

    def rng_for(self, name: str) -> random.Random:
        """An RNG for one node or link, fixed by the seed and the name (not by creation order)."""
        return random.Random(f"{self.seed}:{name}")

    def add_link(self, link: Link) -> Link:
        if link.name in self.links:
            if self.links[link.name] is link:
                return link
            raise ValueError(f"a link named {link.name} already exists")
        self.links[link.name] = link
        link.rng = self.rng_for("link:" + link.name)
        if self.pcap_dir is not None:
            os.makedirs(self.pcap_dir, exist_ok=True)
            link.pcap_path = os.path.join(self.pcap_dir, f"{link.name}.pcap")
            link.pcap = PcapWriter(link.pcap_path, linktype=LINKTYPE_ETHERNET)
        return link

    def add_node(self, node: Node) -> Node:
        if self.nodes.get(node.name, node) is not node:
            raise ValueError(f"a node named {node.name} already exists")
        self.nodes[node.name] = node
        self._ticks.setdefault(node.name, set())
        return node

    def attach(self, node: Node, interface: str, link: Link) -> None:
        """Plug ``node``'s ``interface`` into ``link``; the node sees its carrier come up if the link
        is up."""
        self.add_node(node)
        self.add_link(link)
        if interface not in node.interfaces:
            raise ValueError(f"{node.name} has no interface {interface}")
        key = (node.name, interface)
        if key in self._attached:
            raise ValueError(f"{node.name}/{interface} is already attached to {self._attached[key].name}")
        self._attached[key] = link
        link.ports.append((node, interface))
        if link.up:
            self._process(node, node.link_changed(self.now, interface, True))

    def detach(self, node: Node, interface: str) -> None:
        link = self._attached.pop((node.name, interface), None)
        if link is None:
            return
        link.ports.remove((node, interface))
        self._process(node, node.link_changed(self.now, interface, False))

    def move(self, node: Node, interface: str, link: Link, carrier_change: bool = True) -> None:
        """Unplug an interface and plug it into another link (a layer-2 handover). With
        ``carrier_change=False`` the node is not told (a handover its link layer does not report, e.g.
        between bridged access points): it can only notice from what the routers say."""
        if carrier_change:
            self.detach(node, interface)
            self.attach(node, interface, link)
            return
        key = (node.name, interface)
        old = self._attached.pop(key, None)
        if old is not None:
            old.ports.remove((node, interface))
        self.add_link(link)
        self._attached[key] = link
        link.ports.append((node, interface))

    def set_link_up(self, link: Link, up: bool) -> None:
        """Take a link down or bring it back: every attached interface sees the carrier change."""
        if link.up == up:
            return
        link.up = up
        for node, interface in list(link.ports):
            self._process(node, node.link_changed(self.now, interface, up))

    def schedule(self, at_ns: int, callback: Callable[[Simulator], None]) -> None:
        self._push(at_ns, _CALL, callback)

    def send(self, node: Node, packet_bytes: bytes) -> None:
        """Have ``node`` send an IPv6 packet now, as an application would (for scenario scripts)."""
        self._process(node, node.send(self.now, packet_bytes))

    # ------------------------------------------------------------ running

    def _push(self, at: int, kind: int, *args) -> None:
        heapq.heappush(self._events, (int(at), self._seq, kind, args))
        self._seq += 1

    def run(self, until_ns: int) -> None:
        """Process every event up to and including ``until_ns``; the clock ends at ``until_ns``."""
        while self._events and self._events[0][0] <= until_ns:
            at, _, kind, args = heapq.heappop(self._events)
            self.now = at
            if kind == _FRAME:
                node, interface, link, frame = args
                if self._attached.get((node.name, interface)) is not link:
                    link.counters["detached_receiver"] += 1   # moved away while the frame was in flight
                    continue
                self._process(node, node.receive(at, interface, frame))
            elif kind == _TICK:
                node, = args
                self._ticks[node.name].discard(at)
                self._process(node, node.tick(at))
            else:
                callback, = args
                callback(self)
        self.now = max(self.now, until_ns)

    def _process(self, node: Node, out: Output) -> None:
        # ``frames()``: the per-packet transmits and the data path's batch transmits, copied out of
        # the batch now (its owner reuses it).
        for transmit in out.frames():
            link = self._attached.get((node.name, transmit.interface))
            if link is None:
                node.counters["sim.tx_unattached"] += 1
                continue
            self._carry(link, node, transmit.interface, transmit.frame)
        for notification in out.notifications:
            self.timeline.append((self.now, node.name, notification))
        self.deliveries[node.name] += len(out.deliveries)
        deadline = out.next_deadline
        if deadline is not None:
            at = max(deadline, self.now)
            pending = self._ticks[node.name]
            if at not in pending:
                pending.add(at)
                self._push(at, _TICK, node)

    def _carry(self, link: Link, sender: Node, interface: str, frame: bytes) -> None:
        if not link.up:
            link.counters["dropped_link_down"] += 1
            return
        if len(frame) - ETHERNET_HEADER > link.mtu:
            link.counters["dropped_over_mtu"] += 1
            return
        link.counters["frames"] += 1
        if link.pcap is not None:
            link.pcap.write(frame, self.now)
        assert link.rng is not None
        if link.loss and link.rng.random() < link.loss:
            link.counters["dropped_loss"] += 1
            return
        for node, port in link.ports:
            if node is sender and port == interface:
                continue
            self._push(self.now + link.delay_ns, _FRAME, node, port, link, frame)

    def close(self) -> None:
        """Close the pcap files."""
        for link in self.links.values():
            if link.pcap is not None:
                link.pcap.close()
                link.pcap = None

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def timeline_lines(self) -> list[str]:
        """The timeline as text: time in seconds, node, event."""
        lines = []
        for at, node, event in self.timeline:
            fields = {k: v for k, v in vars(event).items() if k != "now"}
            text = " ".join(f"{k}={v}" for k, v in fields.items())
            lines.append(f"{at / NS_PER_S:12.6f}  {node:<10} {type(event).__name__} {text}")
        return lines
