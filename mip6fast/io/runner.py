"""Runs one sans-I/O node on real interfaces: frames from its ports, application packets from its TUN
device, and its timers, multiplexed with epoll; whatever the node outputs goes back out.

The node never sees a descriptor or a clock: the runner reads the monotonic clock, hands the node
batches (``receive_batch`` per port, ``send_batch``/``send`` for the TUN), ``tick``s it at its
deadlines, and carries out its ``Output`` (frames to ports, deliveries to the TUN, notifications to a
callback). It sleeps in ``epoll_wait`` until a descriptor is ready or the node's next deadline comes, so
an idle node costs nothing (no busy spin). Other descriptors (``watch``: a control socket and its
connections, netlink) and deadline sources (``add_timer``) share the loop; their callbacks must never
block, since everything the node does waits for them.

A port is anything with ``name``, ``fileno()``, ``receive(batch) -> int`` (append frames, never block)
and ``send_frames(frames) -> int``: ``PacketSocket`` (one system call per frame, works everywhere) or a
ring (``mip6fast.io.ring``). A port whose ``in_place`` is true (a TPACKET_V2 ring) is read with
``receive_window()`` instead: the node gets its frames where the kernel wrote them, and ``release()``
gives them back after the node's output went out. A port with ``send(batch, verdict=, timeout_ms=)``
(a ring) takes the data path's batch transmits (``Output.batches``) in one call; others get their frames one by one.

``gate`` (a callable, None: always open) fences the node: while it returns False, frames and TUN
packets read are dropped unseen by the node (``rx_fenced``) and everything the node outputs is dropped
(``tx_fenced``). A standby home agent runs closed; the active one's gate is its lease's local deadline
(mip6fast.store.etcd_leader), asked before every output, so a member that lost its lease is silent.
"""
from __future__ import annotations

import select
import time
from typing import Callable, Protocol
from collections.abc import Mapping

import numpy as np

from ..batch import PacketBatch, Verdict
from ..roles.events import BatchTransmit, Driven, Notification, Output
from .pcap import LINKTYPE_ETHERNET
from .pcapng import DIRECTION_INBOUND, DIRECTION_OUTBOUND, PcapngWriter
from .ring import read_batches
from .tun import TunDevice

__all__ = ["NodeRunner", "Port"]


class Port(Protocol):
    name: str

    def fileno(self) -> int: ...

    def receive(self, batch: PacketBatch) -> int: ...

    def send_frames(self, frames) -> int: ...


def _mask(read: bool, write: bool) -> int:
    return (select.EPOLLIN if read else 0) | (select.EPOLLOUT if write else 0)


class NodeRunner:
    """Drive ``node`` from ``ports`` (keyed by the node's interface names) and ``tun``.

    ``on_notification(notification)`` sees every notification the node emits; ``pcap`` (a path)
    records every frame received and sent on the ports as pcapng, stamped with the wall clock, its
    port (an interface description each) and its direction."""

    def __init__(self, node: Driven, ports: Mapping[str, Port], tun: TunDevice | None = None, *,
                 on_notification: Callable[[Notification], None] | None = None,
                 pcap: str | None = None, batch_size: int = 256,
                 clock: Callable[[], int] = time.monotonic_ns):
        for name in ports:
            if name not in node.interfaces:
                raise ValueError(f"port {name!r}: node {node.name} has no such interface")
        self.node = node
        self.ports = dict(ports)
        self.tun = tun
        self.clock = clock
        self.on_notification = on_notification
        self.counters = {"loops": 0, "rx_batches": 0, "tun_batches": 0, "ticks": 0, "tx_dropped": 0,
                         "tun_dropped": 0, "tx_batches": 0, "rx_fenced": 0, "tx_fenced": 0}
        self.gate: Callable[[], bool] | None = None
        self.tx_wait_ms = 10     # how long a batch send waits for room in a full transmit ring
        self.max_batches = 64    # full batches read from one port before looking at the others
        self._batch = PacketBatch(capacity=batch_size, slot_size=2048, headroom=128)
        self._deadline: int | None = None
        # pcapng: one interface description per port (ids in the ports' order), each frame stamped
        # with its port and direction (mip6fast.io.pcapng).
        self._pcap = PcapngWriter(pcap) if pcap else None
        if self._pcap is not None:
            for name in self.ports:
                self._pcap.add_interface(name, LINKTYPE_ETHERNET)
        # The pcap's clock is wall time; the node's is monotonic (never steps).
        self._wall_offset = time.time_ns() - clock()
        self._epoll = select.epoll()
        self._by_fd: dict[int, tuple[str, object]] = {}
        self._timers: list[tuple[Callable[[], int | None], Callable[[int], None]]] = []
        for name, port in self.ports.items():
            self._watch(port.fileno(), ("port", name))
        if tun is not None:
            self._watch(tun.fileno(), ("tun", None))
        self._stopping = False
        # A node keeping wall-clock times (the home agent's binding store) is given the wall clock as
        # an offset from its own, refreshed every loop (the wall clock may be stepped).
        self._gives_wall = hasattr(node, "wall_offset_ns")

    def _set_wall(self, now: int) -> None:
        if self._gives_wall:
            self.node.wall_offset_ns = time.time_ns() - now

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``fd`` is readable (a control socket, a signal pipe)."""
        self._watch(fd, ("reader", lambda _events: callback()))

    def watch(self, fd: int, callback: Callable[[int], None], *, read: bool = True,
              write: bool = False) -> None:
        """Call ``callback(events)`` (the epoll event mask) whenever ``fd`` is ready as asked. The
        callback runs on the loop: it must never block (non-blocking descriptors only)."""
        self._watch(fd, ("reader", callback), _mask(read, write))

    def modify(self, fd: int, *, read: bool = True, write: bool = False) -> None:
        """Change what a ``watch``ed descriptor waits for."""
        self._epoll.modify(fd, _mask(read, write))

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (before closing it)."""
        if self._by_fd.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def add_timer(self, next_deadline: Callable[[], int | None], on_due: Callable[[int], None]) -> None:
        """A deadline source beside the node's: the loop wakes by ``next_deadline()`` (monotonic ns,
        None: nothing pending) and calls ``on_due(now)`` once it has passed."""
        self._timers.append((next_deadline, on_due))

    def _watch(self, fd: int, what, mask: int = select.EPOLLIN) -> None:
        self._epoll.register(fd, mask)
        self._by_fd[fd] = what

    # ------------------------------------------------------------ driving

    def start(self) -> None:
        """Carrier up on every port (the node starts DAD, router solicitation, advertisements)."""
        now = self.clock()
        for name in self.ports:
            self._apply(now, self.node.link_changed(now, name, up=True))

    def call(self, entry: Callable[[int], Output]) -> None:
        """Run one of the node's entry points now (``lambda now: node.leave(now)``) and carry out
        its output."""
        now = self.clock()
        self._set_wall(now)
        self._apply(now, entry(now))

    def link_changed(self, name: str, up: bool) -> None:
        """The carrier of port ``name`` went down or up (the daemon watches netlink for it)."""
        self.call(lambda now: self.node.link_changed(now, name, up=up))

    def run_once(self, max_wait_ns: int | None = None) -> None:
        """Wait until something is ready, the node's next deadline, or ``max_wait_ns``; handle it."""
        self.counters["loops"] += 1
        now = self.clock()
        self._set_wall(now)
        wait = max_wait_ns
        deadlines = [self._deadline] + [next_deadline() for next_deadline, _ in self._timers]
        for deadline in deadlines:
            if deadline is not None:
                until = max(0, deadline - now)
                wait = until if wait is None else min(wait, until)
        timeout = -1 if wait is None else wait / 1e9
        for fd, events in self._epoll.poll(timeout):
            entry = self._by_fd.get(fd)
            if entry is None:
                continue                    # unwatched by an earlier callback of this round
            kind, what = entry
            if kind == "port":
                self._from_port(what)
            elif kind == "tun":
                self._from_tun()
            else:
                what(events)
        now = self.clock()
        for next_deadline, on_due in self._timers:
            deadline = next_deadline()
            if deadline is not None and now >= deadline:
                on_due(now)
        if self._deadline is not None and now >= self._deadline:
            self.counters["ticks"] += 1
            self._deadline = None
            self._apply(now, self.node.tick(now))

    def run(self, duration_ns: int | None = None, should_stop: Callable[[], bool] | None = None) -> None:
        """``run_once`` until ``duration_ns`` passed, ``should_stop()`` says so, or ``stop()``."""
        end = None if duration_ns is None else self.clock() + duration_ns
        self._stopping = False
        while not self._stopping and not (should_stop is not None and should_stop()):
            now = self.clock()
            if end is not None and now >= end:
                break
            # Wake at least every 100 ms so should_stop / stop() are noticed.
            self.run_once(min(100_000_000, end - now) if end is not None else 100_000_000)

    def stop(self) -> None:
        self._stopping = True

    def _from_port(self, name: str) -> None:
        # At most ``max_batches`` batches per wake-up: a flooded port must not starve the other ports,
        # the TUN and the node's timers (nor ``run``'s end). A ring received in place hands out its
        # frames where they lie: the node reads and rewrites them there, its batch transmits copy them
        # into a transmit ring, and they go back to the kernel once the node's output is carried out.
        for batch in read_batches(self.ports[name], self._batch, self.max_batches):
            self._from_port_batch(name, batch)

    def _from_port_batch(self, name: str, batch: PacketBatch) -> None:
        self.counters["rx_batches"] += 1
        if self.gate is not None and not self.gate():
            self.counters["rx_fenced"] += batch.count
            return
        now = self.clock()
        if self._pcap is not None:
            for frame in batch.packets():
                self._pcap.write(frame, now + self._wall_offset, name, DIRECTION_INBOUND)
        self._apply(now, self.node.receive_batch(now, name, batch))

    def _from_tun(self) -> None:
        batch = self._batch
        for _ in range(self.max_batches):        # as for a port: a busy TUN must not starve the rest
            batch.clear()
            if self.tun.read_batch(batch) == 0:
                return
            self.counters["tun_batches"] += 1
            if self.gate is not None and not self.gate():
                self.counters["rx_fenced"] += batch.count
                if batch.count < batch.capacity:
                    return
                continue
            now = self.clock()
            send_batch = getattr(self.node, "send_batch", None)
            if send_batch is not None:
                self._apply(now, send_batch(now, batch))
            else:
                out = Output()
                for raw in batch.packets():
                    out.merge(self.node.send(now, raw))
                self._apply(now, out)
            if batch.count < batch.capacity:
                return

    def _apply(self, now: int, out: Output) -> None:
        if self.gate is not None and not self.gate():
            self.counters["tx_fenced"] += len(out.transmits) + sum(int(bt.which.sum()) for bt in out.batches) \
                + len(out.deliveries)
            if self.on_notification is not None:
                for n in out.notifications:
                    self.on_notification(n)
            self._deadline = out.next_deadline
            return
        # The frames in the node's order: a batch transmit goes where its ``at`` puts it among the
        # per-packet transmits (before ``transmits[at]``; -1 after them all), so the per-packet frames
        # before it are sent first (one send_frames call per port and run of transmits).
        end = len(out.transmits)
        done = 0
        for at, k in sorted(((bt.at if 0 <= bt.at <= end else end), k) for k, bt in enumerate(out.batches)):
            self._send_transmits(now, out.transmits[done:at])
            done = max(done, at)
            self._send_batch(now, out.batches[k])
        self._send_transmits(now, out.transmits[done:])
        if out.deliveries:
            if self.tun is None:
                self.counters["tun_dropped"] += len(out.deliveries)
            else:
                batch = PacketBatch.from_packets(out.deliveries)
                written = self.tun.write_batch(batch)
                self.counters["tun_dropped"] += batch.count - written
        if self.on_notification is not None:
            for n in out.notifications:
                self.on_notification(n)
        # Every entry point reports the node's earliest pending timer after the call: the whole truth.
        self._deadline = out.next_deadline

    def _send_transmits(self, now: int, transmits) -> None:
        """Per-packet transmits, grouped by port (their order kept within each port)."""
        if not transmits:
            return
        by_port: dict[str, list[bytes]] = {}
        for t in transmits:
            by_port.setdefault(t.interface, []).append(bytes(t.frame))
        for name, frames in by_port.items():
            port = self.ports.get(name)
            if port is None:
                self.counters["tx_dropped"] += len(frames)    # an interface with no port
                continue
            sent = port.send_frames(frames)
            self.counters["tx_dropped"] += len(frames) - sent
            if self._pcap is not None:
                for frame in frames[:sent]:
                    self._pcap.write(frame, now + self._wall_offset, name, DIRECTION_OUTBOUND)

    def _send_batch(self, now: int, bt: BatchTransmit) -> None:
        """The data path's packets: a ring takes the whole batch in one call (the packets to send
        marked by verdict), anything else frame by frame through ``send_frames``."""
        port = self.ports.get(bt.interface)
        count = int(bt.which.sum())
        if port is None:
            self.counters["tx_dropped"] += count
            return
        if self._pcap is not None:
            for frame in bt.frames():
                self._pcap.write(frame, now + self._wall_offset, bt.interface, DIRECTION_OUTBOUND)
        send = getattr(port, "send", None)
        if send is None:
            sent = port.send_frames(bt.frames())
        else:
            batch, n = bt.batch, len(bt.which)
            saved = batch.verdict[:n].copy()
            batch.verdict[:n] = np.where(bt.which, Verdict.FORWARD, Verdict.DROP)
            try:
                # A full ring is waited for briefly: back-pressure on the receive side beats
                # dropping what was already forwarded.
                sent = send(batch, verdict=Verdict.FORWARD, timeout_ms=self.tx_wait_ms)
            finally:
                batch.verdict[:n] = saved
        self.counters["tx_batches"] += 1
        self.counters["tx_dropped"] += count - sent

    def close(self) -> None:
        self._epoll.close()
        if self._pcap is not None:
            self._pcap.close()

    def __enter__(self) -> NodeRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
