"""The home agent's forwarding workers (issue 17, "a home agent on every core"; ``[daemon] workers = N``).

Theory of operation
-------------------
The signalling process (the daemon, with the HomeAgent role) makes the shared tables
(mip6fast._shm.SharedTables: the binding cache, the adjacency table, the graph's small tables, the
per-worker counters) before it forks N workers. It is their only writer: its BindingCache is the shared
one (BindingCache.shared), and the graph tables it keeps in step with the node (roles/graph_tables.py)
are written to the shared ones too (BatchPath.share).

Each worker, a forked process, opens its own AF_PACKET rings, one per interface, joined to that
interface's PACKET_FANOUT group in hash mode (the kernel spreads the frames over the workers by flow, so
a flow's packets stay in order), and loops: a batch from a ring, one C call through the home agent's
graph (WorkerGraph.run: a grace-period read section over the shared tables), the frames the graph sent
out of the rings of their interfaces, and each frame or packet it left to the slow path to the
signalling process through its queue: a SOCK_SEQPACKET socket pair per worker, one message per
packet (interface index, kind, aux, bytes), non-blocking on the worker's side, so a full queue (the
socket's send buffer, bounded) is a counted drop, never a stall of the data path. The signalling
process reads the queues on its loop and hands the packets to ``HomeAgent.receive_slow``; its answers
(Binding Acknowledgements, neighbour advertisements, ICMP errors) leave through its own transmit-only
rings (bound with protocol 0: they receive nothing, so the frames are the workers').

Supervision: a worker that dies (any cause) is reaped by the signalling process's loop, declared dead
to the shared tables (its grace-period word cleared, a restart counted) and forked again on the same
index, its counters carrying on. A worker hung inside a batch stops the writer (csrc/mip6_shm.h, "A
hung worker"): ``on_hung`` kills it (SIGKILL), reaps it, declares it dead and forks a new one; the write
then goes through. A worker whose parent is gone exits.

Counters: each worker's graph counters and kernel reasons are in the shared mapping, summed when read;
``USER`` names the per-worker counters this module keeps there.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import signal
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import _impl
from ..batch import PacketBatch, Verdict
from .ring import read_batches

__all__ = ["USER", "WorkerPool", "fanout_group"]

log = logging.getLogger("mip6fast.workers")

#: the per-worker counters this module keeps in the shared mapping (SharedTables.user_add), by index
USER = ("rx_frames", "tx_frames", "tx_dropped", "slow_sent", "slow_dropped", "rx_dropped_kernel",
        "writer_stalled")
_RX, _TX, _TX_DROPPED, _SLOW_SENT, _SLOW_DROPPED, _RX_KERNEL, _STALLED = range(len(USER))
_HEADER = struct.Struct("!BBHI")        # interface index, slow kind, reserved, aux
QUEUE_BYTES = 4 << 20                   # each worker's queue (its socket's send buffer), bounded
BATCH = 256
READ_MESSAGES = 512                     # messages read from one queue per wake-up of the signalling loop


def fanout_group(owner_pid: int, index: int) -> int:
    """The PACKET_FANOUT group id of interface ``index`` of the daemon ``owner_pid``: one per interface
    (a group is per device), the same for every worker, distinct from another daemon's (16 bits)."""
    return ((owner_pid & 0x0FFF) << 4 | (index & 0xF)) & 0xFFFF


class WorkerPool:
    """N forwarding workers over ``shared`` for the interfaces ``names`` (in the graph's index order).

    ``open_ring(name, fanout_group)`` opens a worker's ring (in the worker, after the fork);
    ``clock`` is the node's (monotonic ns: the adjacency deadlines are in it)."""

    def __init__(self, shared: Any, names: Sequence[str], open_ring: Callable[[str, int], Any],
                 clock: Callable[[], int] = time.monotonic_ns):
        self.shared = shared
        self.names = list(names)
        self.open_ring = open_ring
        self.clock = clock
        self.n = shared.workers
        self.owner = os.getpid()
        self.pids: list[int | None] = [None] * self.n
        self.socks: list[socket.socket | None] = [None] * self.n
        self.restarts = 0
        # on_socket(w, old, new): worker w's queue changed (new None: closed); the caller watches new
        self.on_socket: Callable[[int, socket.socket | None, socket.socket | None], None] | None = None
        shared.on_hung = self.kill_hung

    # ---- the signalling process's side ---------------------------------------------------------------

    def start(self) -> None:
        for w in range(self.n):
            self._spawn(w)

    def _spawn(self, w: int) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, QUEUE_BYTES)
        pid = os.fork()
        if pid == 0:     # pragma: no cover - the worker (its coverage is the integration test's)
            code = 1
            try:
                mine.close()
                for other in self.socks:
                    if other is not None:
                        other.close()
                code = _worker_main(self.shared, w, self.names, theirs, self.open_ring, self.owner, self.clock)
            except BaseException:     # a worker reports and exits, never returns into the daemon
                log.exception("forwarding worker %d failed", w)
            finally:
                os._exit(code)
        theirs.close()
        mine.setblocking(False)
        old = self.socks[w]
        self.pids[w] = pid
        self.socks[w] = mine
        if self.on_socket is not None:
            self.on_socket(w, old, mine)
        if old is not None:
            old.close()             # (a closed socket closes again harmlessly)
        log.info("forwarding worker %d: pid %d", w, pid)

    def reap(self) -> int:
        """Workers that died: reaped, declared dead, forked again. Returns how many."""
        n = 0
        for w, pid in enumerate(self.pids):
            if pid is None:
                continue
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                log.warning("forwarding worker %d (pid %d) ended (status %#x); restarting it", w, pid, status)
                self._restart(w)
                n += 1
        return n

    def _restart(self, w: int) -> None:
        self.pids[w] = None
        self.shared.worker_dead(w)
        self.restarts += 1
        self._spawn(w)

    def kill_hung(self, w: int) -> None:
        """The rule of csrc/mip6_shm.h: a worker stuck inside a batch is killed and reaped before the
        writer goes on; then it is forked again."""
        pid = self.pids[w]
        log.error("forwarding worker %d (pid %s) hung inside a batch: killing it", w, pid)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self._restart(w)

    def read(self, w: int) -> list[tuple[str, int, int, bytes]]:
        """Up to READ_MESSAGES queued slow-path packets of worker ``w``: (interface, kind, aux, data).
        A message too short or for an interface index out of range is dropped (counted)."""
        sock = self.socks[w]
        items: list[tuple[str, int, int, bytes]] = []
        if sock is None:
            return items
        for _ in range(READ_MESSAGES):
            try:
                msg = sock.recv(70000)
            except BlockingIOError:
                break
            except OSError:
                break
            if len(msg) < _HEADER.size:
                if not msg:         # the worker's end closed (it died): stop watching; reap() restarts it
                    if self.on_socket is not None:
                        self.on_socket(w, sock, None)
                    sock.close()
                    self.socks[w] = None
                    break
                self.shared.user_add(w, _SLOW_DROPPED, 1)
                continue
            k, kind, _, aux = _HEADER.unpack_from(msg)
            if k >= len(self.names):
                self.shared.user_add(w, _SLOW_DROPPED, 1)
                continue
            items.append((self.names[k], kind, aux, msg[_HEADER.size:]))
        return items

    def counters(self) -> dict:
        """Per worker and summed: the graph's counters, the kernels' drop reasons (non-zero), batches,
        restarts and this module's USER counters."""
        def view(c: dict) -> dict:
            return {"graph": c["graph"], "slow": c["slow"], "drops": {int(k): v for k, v in c["drops"].items()},
                    "batches": c["batches"], "backoffs": c["backoffs"], "restarts": c["restarts"],
                    **{name: c["user"][k] for k, name in enumerate(USER)}}
        per = [view(self.shared.worker_counters(w)) for w in range(self.n)]
        return {"workers": self.n, "pids": list(self.pids), "sum": view(self.shared.sum_counters()),
                "per_worker": per}

    def stop(self) -> None:
        for pid in self.pids:
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for w, pid in enumerate(self.pids):
            if pid is None:
                continue
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self.pids[w] = None
            sock = self.socks[w]
            if sock is not None:
                sock.close()
                self.socks[w] = None


# ---- the worker's side ---------------------------------------------------------------------------------

def _worker_main(shared, w: int, names: list[str], queue: socket.socket, open_ring, owner: int,
                 clock) -> int:     # pragma: no cover - runs in the worker
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    shm = _impl.load_compiled("shm")
    graph = shm.WorkerGraph(shared, w)
    rings = [open_ring(name, fanout_group(owner, k)) for k, name in enumerate(names)]
    queue.setblocking(False)
    batch = PacketBatch(capacity=BATCH, slot_size=2048, headroom=128)
    ep = select.epoll()
    for ring in rings:
        ep.register(ring.fileno(), select.EPOLLIN)
    ep.register(queue.fileno(), select.EPOLLIN)     # readable only when the daemon's end is gone
    by_fd = {ring.fileno(): k for k, ring in enumerate(rings)}
    last_drops = [0] * len(rings)
    stats_due = clock()
    while True:
        if os.getppid() != owner:
            return 0
        for fd, _events in ep.poll(0.5):
            k = by_fd.get(fd)
            if k is None:
                return 0            # the signalling process closed its end
            # At most 64 batches: a flooded interface must not starve the others.
            for got in read_batches(rings[k], batch, 64):
                _forward(shared, graph, w, got, k, rings, queue, clock())
        if clock() >= stats_due:        # the kernel's ring drops, once a second (a system call each)
            stats_due = clock() + 1_000_000_000
            for k, ring in enumerate(rings):
                drops = ring.stats().get("drops", 0)
                if drops != last_drops[k]:
                    shared.user_add(w, _RX_KERNEL, drops - last_drops[k])
                    last_drops[k] = drops


def _forward(shared, graph, w: int, batch: PacketBatch, rx: int, rings, queue: socket.socket,
             now: int) -> None:     # pragma: no cover - runs in the worker
    n = batch.count
    shared.user_add(w, _RX, n)
    try:
        slow = graph.run(batch, rx, now)
    except TimeoutError:
        # The writer held the tables past the hung timeout (killed mid-mutation?): the batch is
        # dropped, counted; the loop then looks at the parent (gone: exit).
        shared.user_add(w, _STALLED, n)
        return
    tx = graph.tx()
    if any(tx):
        out = graph.out[:n]
        verdict = batch.verdict[:n]
        for j, sent in enumerate(tx[:len(rings)]):
            if not sent:
                continue
            verdict[:] = Verdict.DROP
            verdict[out == j] = Verdict.FORWARD
            queued = rings[j].send(batch, verdict=Verdict.FORWARD, timeout_ms=10)
            shared.user_add(w, _TX, queued)
            if queued < sent:
                shared.user_add(w, _TX_DROPPED, sent - queued)
    if slow:
        idx = graph.slow[:slow].tolist()
        kinds = graph.slow_kind[:slow].tolist()
        sent = dropped = 0
        for i, kind in zip(idx, kinds):
            o, k = int(batch.offset[i]), int(batch.length[i])
            msg = _HEADER.pack(rx, kind, 0, int(batch.aux[i])) + batch.buf[o:o + k].tobytes()
            try:
                queue.send(msg)
                sent += 1
            except BlockingIOError:
                dropped += 1        # the queue is full: a counted drop, never a stall
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                    raise SystemExit(0) from None
                dropped += 1
        if sent:
            shared.user_add(w, _SLOW_SENT, sent)
        if dropped:
            shared.user_add(w, _SLOW_DROPPED, dropped)
