"""The daemons: ``mip6fast ha|mn|cn --config FILE`` runs one role on real interfaces.

The engine owns its wire interfaces: the kernel's IPv6 is switched off on them (the node does their
neighbour discovery itself) and restored on shutdown. Host roles (mobile node, correspondent) give the
kernel's applications a TUN device instead: the mobile node's home addresses (or the correspondent's
addresses) live on it, with the default route, so unmodified applications send through the node and
receive what it delivers. A local control socket answers ``bindings`` and ``stats`` (JSON lines),
which ``mip6fast bindings`` / ``mip6fast stats`` print.

What survives the process (``mip6fast.daemon_state``): a lock on its state directory and on each
interface it owns (a second daemon is refused, naming the holder's pid), and the record of the kernel
settings it changed, written before changing them, so that a daemon restarted after SIGKILL restores
the true originals. SIGHUP reloads the configuration file: what can change while running does
(``RELOADABLE``), the other changed keys are named in the log as needing a restart.
"""
from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import stat
import time
from dataclasses import replace
from ipaddress import IPv6Address
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_LINK

from . import __version__
from .config import ROLES, SECURITY_ROLES, ConfigError, DaemonConfig, config_keys, load_config
from .daemon_state import (
    FileLock,
    KernelRecord,
    LockHeld,
    StateError,
    interface_lock,
    netns_id,
    prepare_state_dir,
)
from . import _impl
from .batch import DropReason
from .binding_cache import BindingCache
from .errors import Mip6Error
from .io.packet_socket import PacketSocket, PortError
from .io.ring import PacketRing, RingError
from .io.runner import NodeRunner
from .io.workers import WorkerPool
from .io.tun import TunDevice
from .metrics import DaemonCollector, SnapshotExchange
from .metrics import serve as serve_metrics
from .roles.correspondent import CorrespondentNode
from .roles.home_agent import HomeAgent
from .roles.interface import AddressState, Interface
from .roles.mobile_node import MobileNode
from .roles.node import Node
from .roles.protection import tunnel_room
from .roles.router import Router
from .security import Direction, KeyFileError, MnHaCredentials, Mode, SecurityPolicyDatabase, load_protection
from .redundancy import Redundancy
from .service import Notifier, Watchdog
from .store import BindingStore, SQLiteBindingStore, StoreError
from .store.etcd import EtcdBindingStore

__all__ = ["ControlServer", "Daemon", "DaemonError", "describe_bindings", "query"]

log = logging.getLogger("mip6fast")

IFA_F_NODAD = 0x02
IFF_LOWER_UP = 0x10000
SEQUENCE_RESERVE = 1 << 16  # ESP sequence numbers stored ahead of use (see Daemon._resume_sequences)
LEAVE_WAIT_NS = 1_500_000_000   # how long a mobile node waits for the BA to its leaving BU on shutdown
WORKERS_CHECK_NS = 50_000_000   # how often dead forwarding workers are looked for, the shared tables refreshed
READY_CHECK_NS = 50_000_000     # how often the loop looks whether the node's addresses are out of DAD
READY_DEADLINE_NS = 10_000_000_000  # READY=1 by then even if some address is still tentative (STATUS says so)
TUN_OVERHEAD = 40       # the tunnel's outer IPv6 header: applications see a smaller MTU (RFC 2473 §7)


class DaemonError(Mip6Error):
    """The daemon cannot start (an interface is missing, no permission, ...); the message says why."""


# ---------------------------------------------------------------- what the control socket says

def describe_bindings(node: Node, now: int) -> list[dict]:
    """The binding cache of a home agent or correspondent, or a mobile node's binding update list. A
    home registration protected by ESP says by which SA (``protected_by``: its inbound SPI on the home
    agent, its outbound SPI on the mobile node), one protected by RFC 4285 by which credential
    (``rfc4285 spi 0x… (nai user@realm)``); keys never appear."""
    protection = getattr(node, "protection", None)
    rows = []
    for key, b in node_bindings(node):
        row = {"care_of_address": str(b.care_of_address), "sequence": b.sequence, "flags": f"0x{b.flags:04x}",
               "expires_in_s": max(0, (b.expires_ns - now) // 1_000_000_000), "packets": b.packets,
               "bytes": b.bytes_}
        if isinstance(key, tuple):
            row = {"peer": str(key[0]), "home_address": str(key[1]), **row}
        else:
            row = {"home_address": str(key), **row}
        if protection is not None and protection.enabled:
            home = IPv6Address(row["home_address"])
            row["protected_by"] = _protected_by(node, home)
            tunnel = _protected_by(node, home, Mode.TUNNEL)
            if tunnel is not None:
                row["tunnel_protected_by"] = tunnel      # the reverse tunnel in ESP tunnel mode
        rows.append(row)
    return sorted(rows, key=lambda r: (r.get("peer", ""), r["home_address"]))


def _protected_by(node: Node, home: IPv6Address, mode: Mode = Mode.TRANSPORT) -> str | None:
    want = Direction.OUTBOUND if isinstance(node, MobileNode) else Direction.INBOUND
    return node.protection.identifier(home, want, mode)


def tun_mtu(wire_mtu: int, spd: SecurityPolicyDatabase | None) -> int:
    """The MTU applications see on the TUN: the wire's less the tunnel's outer header (RFC 2473 §7), and
    with the reverse tunnel in ESP tunnel mode less ESP too (the room the outbound tunnel-mode SAs
    leave, ``tunnel_room``); never below IPv6's 1280."""
    mtu = wire_mtu - TUN_OVERHEAD
    for sa in spd or ():
        if sa.mode is Mode.TUNNEL and sa.direction is Direction.OUTBOUND:
            mtu = min(mtu, tunnel_room(sa, wire_mtu))
    return max(1280, mtu)


def binding_count(node: Node) -> int:
    """How many bindings ``node`` holds (``node_bindings``), without walking them when it can."""
    if isinstance(node, MobileNode):
        return len(node.binding_update_list)
    if isinstance(node, (HomeAgent, CorrespondentNode)):
        return len(node.cache)
    return 0


def node_bindings(node: Node):
    if isinstance(node, MobileNode):
        return node.binding_update_list.items()
    if isinstance(node, (HomeAgent, CorrespondentNode)):
        return node.cache.items()
    return []


def counter_meanings(counters) -> dict[str, str | None]:
    """The declared meaning of each of a node's counters (roles/counters.py), for ``stats``; None for a
    name no declaration covers (also counted under ``counters.undeclared``)."""
    table = getattr(counters, "table", None)
    if table is None:
        return dict.fromkeys(sorted(counters))
    return table.meanings(sorted(counters))


def _port_counters(port) -> dict:
    """A packet socket's counters, or a ring's (rx_frames, tx_frames, ... from its stats)."""
    counters = getattr(port, "counters", None)
    if counters is not None:
        return dict(counters)
    return {k: v for k, v in port.stats().items() if isinstance(v, int)}


# ---------------------------------------------------------------- control socket

class ControlServer:
    """A Unix stream socket: one JSON request line in (``{"command": "bindings"}``), one JSON line out.

    It is served on the runner's own epoll loop, never blocking it: every descriptor is non-blocking,
    a request is gathered in a per-connection buffer and the answer leaves from one, each connection
    has a deadline, and nothing waits for a client. Why on the loop and not on a thread of its own:
    the answers read the node's state (the C binding cache, the counters), which only the loop thread
    may touch; a thread would need snapshots made by the loop anyway, and be stale. A client that
    dribbles its request or never reads its answer costs a buffer until its deadline, not the loop.

    The limits, each with a counter in ``counters``: at most ``max_connections`` at once (more are
    closed at once: ``refused``), a request line of at most ``max_request`` bytes (``too_long``: an
    error answer, then closed), ``deadline_s`` from accept to the last byte of the answer
    (``timed_out``: closed, whatever was pending dropped).
    """

    MAX_CONNECTIONS = 8         # a few operators and scripts at once; more is a misbehaving client
    MAX_REQUEST = 4096          # the longest request is {"command": "bindings"}: 4 KiB is generous
    DEADLINE_S = 5.0            # ample for a local client to send one line and read one answer
    ACCEPT_BURST = 32           # connections taken per wake-up, so a connect flood cannot hold the loop

    def __init__(self, path: str, handler, *, max_connections: int = MAX_CONNECTIONS,
                 max_request: int = MAX_REQUEST, deadline_s: float = DEADLINE_S, clock=time.monotonic_ns):
        self.path = path
        self.handler = handler
        self.max_connections = max_connections
        self.max_request = max_request
        self.deadline_ns = int(deadline_s * 1e9)
        self.clock = clock
        self.counters = {"accepted": 0, "answered": 0, "refused": 0, "too_long": 0, "timed_out": 0,
                         "bad_request": 0, "client_gone": 0, "errors": 0}
        self._conns: dict[int, _Connection] = {}
        self._runner: NodeRunner | None = None
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The mode goes on the socket before bind (Linux creates the file with the socket's mode
            # less the umask): no chmod on a path, which would follow a symlink put there meanwhile.
            os.fchmod(self.sock.fileno(), 0o600)
            self.sock.bind(path)
            self._inode = os.lstat(path).st_ino
            self.sock.listen(16)
            self.sock.setblocking(False)
        except OSError as exc:
            self.sock.close()
            raise DaemonError(f"control socket {path}: {exc.strerror or exc}") from None

    @staticmethod
    def check_path(path: str) -> None:
        """Raise DaemonError now if ``path`` could not become this daemon's socket (before a daemon
        touches anything else); a stale socket is left for ``__init__`` to replace."""
        ControlServer._remove_stale(path, remove=False)

    @staticmethod
    def _remove_stale(path: str, remove: bool = True) -> None:
        """Only a socket nobody answers on is removed; anything else at the path stops the daemon."""
        try:
            st = os.lstat(path)             # lstat: a symlink is judged itself, never followed
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode)
                    else "a directory" if stat.S_ISDIR(st.st_mode)
                    else "a regular file" if stat.S_ISREG(st.st_mode) else "not a socket")
            raise DaemonError(f"control socket {path}: the path exists and is {kind}; not replacing it "
                              f"(remove it, or choose another control_socket)")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            if remove:
                os.unlink(path)             # a stale socket from a daemon that died
        except OSError as exc:
            raise DaemonError(f"control socket {path}: {exc.strerror or exc}") from None
        else:
            raise DaemonError(f"control socket {path}: another daemon is running")
        finally:
            probe.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def attach(self, runner: NodeRunner) -> None:
        """Serve on ``runner``'s loop."""
        self._runner = runner
        runner.watch(self.sock.fileno(), self._accept)
        runner.add_timer(self.next_deadline, self.expire)

    # ------------------------------------------------------------ on the loop

    def _accept(self, _events: int = 0) -> None:
        for _ in range(self.ACCEPT_BURST):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:          # EMFILE and the like: counted, tried again next wake-up
                self.counters["errors"] += 1
                log.warning("control socket: accept failed: %s", exc)
                return
            if len(self._conns) >= self.max_connections:
                self.counters["refused"] += 1
                try:                        # a best-effort word, into the new socket's empty buffer
                    conn.setblocking(False)
                    conn.send(b'{"error": "busy: too many control connections"}\n')
                except OSError:
                    pass
                conn.close()
                continue
            conn.setblocking(False)
            c = _Connection(conn, self.clock() + self.deadline_ns)
            self._conns[conn.fileno()] = c
            self.counters["accepted"] += 1
            self._runner.watch(conn.fileno(), lambda events, c=c: self._ready(c, events))

    def _ready(self, c: _Connection, events: int) -> None:
        if c.out is None:
            self._read(c)
        else:
            self._write(c)

    def _read(self, c: _Connection) -> None:
        try:
            data = c.sock.recv(self.max_request + 1 - len(c.inbuf))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data and not c.inbuf:
            self.counters["client_gone"] += 1
            self._close(c)
            return
        c.inbuf += data
        end = c.inbuf.find(b"\n")
        if not data and end < 0:
            end = len(c.inbuf)              # the client shut its side down after the request
        elif end < 0 and len(c.inbuf) <= self.max_request:
            return                          # more to come, within the deadline
        if end < 0 or end > self.max_request:
            self.counters["too_long"] += 1
            answer = {"error": f"request longer than {self.max_request} bytes"}
        else:
            answer = self._answer(bytes(c.inbuf[:end]))
        c.out = memoryview(json.dumps(answer).encode() + b"\n")
        self._write(c)

    def _answer(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise TypeError("expected a JSON object")
            return self.handler(request)
        except (ValueError, KeyError, TypeError) as exc:
            self.counters["bad_request"] += 1
            return {"error": f"bad request: {exc}"}
        except Exception as exc:            # a bug in an answer must not stop the data path
            self.counters["errors"] += 1
            log.exception("control socket: answering %r failed", line[:80])
            return {"error": f"internal error: {exc}"}

    def _write(self, c: _Connection) -> None:
        while c.out:
            try:
                sent = c.sock.send(c.out)
            except (BlockingIOError, InterruptedError):
                if not c.writing:
                    c.writing = True
                    self._runner.modify(c.sock.fileno(), read=False, write=True)
                return
            except OSError:
                self.counters["client_gone"] += 1
                self._close(c)
                return
            c.out = c.out[sent:]
        self.counters["answered"] += 1
        self._close(c)

    def next_deadline(self) -> int | None:
        return min((c.deadline for c in self._conns.values()), default=None)

    def expire(self, now: int) -> None:
        for c in [c for c in self._conns.values() if c.deadline <= now]:
            self.counters["timed_out"] += 1
            self._close(c)

    def _close(self, c: _Connection) -> None:
        fd = c.sock.fileno()
        if self._conns.pop(fd, None) is not None and self._runner is not None:
            self._runner.unwatch(fd)
        c.sock.close()

    def close(self) -> None:
        for c in list(self._conns.values()):
            self._close(c)
        if self._runner is not None:
            self._runner.unwatch(self.sock.fileno())
            self._runner = None
        self.sock.close()
        try:
            # Only our own socket: something else put at the path since is not ours to remove.
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass


class _Connection:
    __slots__ = ("deadline", "inbuf", "out", "sock", "writing")

    def __init__(self, sock: socket.socket, deadline: int):
        self.sock = sock
        self.deadline = deadline
        self.inbuf = bytearray()
        self.out: memoryview | None = None     # the answer still to send, once the request is in
        self.writing = False                    # waiting for room to send (EPOLLOUT)


def query(path: str, command: str, timeout: float = 5.0, **arguments) -> dict:
    """Ask a running daemon (``mip6fast bindings`` / ``stats``; ``arguments`` go in the request)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as exc:
        raise DaemonError(f"no daemon answers on {path}: {exc.strerror or exc}") from None
    with s:
        try:
            s.sendall(json.dumps({**arguments, "command": command}).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass                            # closed early (a busy daemon): its word may be waiting
        try:
            data = s.makefile("rb").readline()
        except ConnectionResetError:
            data = b""
        except OSError as exc:
            raise DaemonError(f"{path}: {exc.strerror or exc}") from None
    if not data:
        raise DaemonError(f"{path}: the daemon closed the connection without answering")
    return json.loads(data)


# ---------------------------------------------------------------- the daemon

def default_state_dir(control_path: str | None, role: str) -> str:
    """Beside the control socket and named after it (/run/mip6fast/ha.sock -> /run/mip6fast/ha): unique
    per daemon because its socket must be; without a socket, /run/mip6fast/ROLE."""
    if not control_path:
        return f"/run/mip6fast/{role}"
    path = Path(control_path)
    return str(path.with_suffix("") if path.suffix == ".sock" else path.with_name(path.name + ".state"))


class Daemon:
    """One role on real interfaces. ``start()`` claims the interfaces and builds the node; ``run()``
    drives it until SIGINT/SIGTERM (or ``stop()``); ``close()`` gives everything back. ``config_path``:
    the file SIGHUP reloads; ``log_level``: given on the command line, it wins over the file's."""

    def __init__(self, config: DaemonConfig, *, pcap: str | None = None, control_socket: str | None = None,
                 seed: int | None = None, config_path: str | None = None, log_level: str | None = None,
                 notifier: Notifier | None = None):
        self.config = config
        # The service manager (systemd's $NOTIFY_SOCKET; a no-op without one): READY, RELOADING,
        # STOPPING and the watchdog's pings (mip6fast.service).
        self.notifier = notifier if notifier is not None else Notifier()
        self.started_ns: int | None = None
        self.ready = False                  # READY=1 sent: the node's addresses are out of DAD
        self._ready_check: int | None = None
        self._ready_deadline = 0
        self.started_wall: float | None = None
        self.metrics: SnapshotExchange | None = None       # [daemon] metrics: the Prometheus endpoint
        self._metrics_server = None
        self.stop_reason = "stopped"
        self.config_path = config_path
        self.log_level_override = log_level
        self.pcap = pcap or config.daemon.pcap
        self.control_path = control_socket or config.daemon.control_socket
        self.state_dir = config.daemon.state_dir or default_state_dir(self.control_path, config.role)
        self.rng = random.Random(seed)
        self.node: Node | None = None
        self.runner: NodeRunner | None = None
        self.tun: TunDevice | None = None
        self.control: ControlServer | None = None
        self.ports: dict[str, PacketSocket] = {}
        self.store: BindingStore | None = None     # the home agent's binding store
        self.reloads = 0
        self._state_lock: FileLock | None = None
        self._record: KernelRecord | None = None
        self._interface_locks: list[FileLock] = []
        self._ipr = None
        self._link_monitor = None
        self._carrier: dict[str, bool] = {}
        self._reload_pending = False
        self._previous_sighup = None
        self.spd: SecurityPolicyDatabase | None = None
        self.mn_ha: MnHaCredentials | None = None          # RFC 4285 credentials (docs/SECURITY.md)
        self._sequence_marks: dict[str, int] = {}
        self.redundancy: Redundancy | None = None     # a member of a group of home agents on etcd
        self.failed: str | None = None                # why run() stopped on its own (exit status 1)
        self.shared = None                            # [daemon] workers > 1: the tables shared with them
        self.workers: WorkerPool | None = None
        self._workers_check: int | None = None

    # ------------------------------------------------------------ start

    def start(self) -> None:
        # Secure by default (RFC 6275 §5.1, issue 11): the keys first, before anything is touched.
        self.spd, self.mn_ha = self._protection()
        self._route_optimisation_security()
        try:
            # In this order: nothing of the kernel's is touched before every check that can fail
            # cheaply has passed (state directory, control socket path, interfaces and their locks).
            self._catch_sighup()            # from the start: a SIGHUP while starting is kept for later
            self._take_state_dir()
            self._open_store()              # before any interface is claimed: a bad store stops us here
            if self.control_path:
                ControlServer.check_path(self.control_path)   # created last: its path means "started"
            self._ipr = IPRoute()
            indexes = self._lock_interfaces()
            self._restore_leftovers()
            if not self._redundant:
                self._resume_sequences()        # a redundant member resumes from the store when active
            macs = {name: self._claim(name, iface, indexes[name])
                    for name, iface in self.config.interfaces.items()}
            if self._worker_count > 1:
                self.shared = self._shared_tables()
            self.node = self._build_node(macs)
            # The home agent times its Binding Update processing with it (roles/latency.py): only on
            # the signalling path, never per data packet.
            self.node.perf_clock = time.perf_counter_ns
            for name in self.config.interfaces:
                self.ports[name] = self._open_port(name)
            if self.config.role in ("mn", "cn") and self.config.daemon.tun:
                self.tun = self._open_tun(self.config.daemon.tun)
            self.runner = NodeRunner(self.node, self.ports, self.tun, on_notification=self._notified,
                                     pcap=self.pcap)
            if self.shared is not None:
                self._start_workers()
            if self.control_path:
                self.control = ControlServer(self.control_path, self._answer)
                self.control.attach(self.runner)
            if self.config.daemon.metrics:
                self._serve_metrics(self.config.daemon.metrics)
            self.runner.add_timer(lambda: 0 if self._reload_pending else None, lambda now: self.reload())
            if self._redundant:
                assert isinstance(self.store, EtcdBindingStore) and isinstance(self.node, HomeAgent)
                assert self.config.etcd is not None
                self.redundancy = Redundancy(self.config.etcd, self.store, self.node, self.runner, self.spd,
                                             SEQUENCE_RESERVE, self._lease_lost, self.stop)
                self.redundancy.start()         # active: recovery and takeover; standby: silent
            else:
                self.runner.add_timer(self._sequences_due, lambda now: self._store_sequences())
            interval = self.notifier.watchdog_interval_ns
            if interval is not None:
                # On the loop, as a timer: a loop that is stuck (a callback that blocks, a livelock)
                # stops pinging, and systemd restarts the daemon after WatchdogSec.
                watchdog = Watchdog(self.notifier, interval, clock=self.runner.clock)
                self.runner.add_timer(watchdog.next_deadline, watchdog.ping)
            if self.store is not None and not self._redundant:
                started = time.monotonic()
                self.runner.call(self.node.recover)     # the bindings of the store, before any packet
                log.info("binding store %s: recovery took %.3f s", self.store.path, time.monotonic() - started)
            self.runner.start()
            self._watch_carrier()
        except (StateError, StoreError) as exc:
            self.close()
            raise DaemonError(str(exc)) from None
        except PortError as exc:
            self.close()
            raise DaemonError(str(exc)) from None
        except OSError as exc:
            self.close()
            raise DaemonError(f"{exc.strerror or exc}" + (" (the daemons need root: CAP_NET_ADMIN and "
                                                         "CAP_NET_RAW)" if exc.errno in (1, 13) else "")) from None
        except BaseException:
            self.close()
            raise
        self.started_ns = time.monotonic_ns()
        self.started_wall = time.time()
        self._log_start()
        # READY=1 comes from the loop once the node's own addresses have passed DAD (``_check_ready``).
        now = self.runner.clock()
        self._ready_check, self._ready_deadline = now, now + READY_DEADLINE_NS
        self.runner.add_timer(lambda: self._ready_check, self._check_ready)

    def tentative_addresses(self) -> list[str]:
        """The node's addresses on its wire interfaces still under duplicate address detection."""
        return [f"{a.address}%{name}" for name, iface in self.node.interfaces.items()
                for a in iface.addresses.values() if a.state is AddressState.TENTATIVE]

    def _check_ready(self, now: int) -> None:
        """Ready: the interfaces claimed and up, the control socket (and metrics endpoint) listening, and
        every address of the node's interfaces out of DAD (link-local ones included: RFC 4862 §5.4), so
        that it can answer from them. A harness that waited for the control socket (mip6fast demo, the
        tests) saw the daemon started a second or so earlier, DAD under way. After
        ``READY_DEADLINE_NS`` it is ready all the same, STATUS= naming the addresses still tentative
        (systemd would otherwise kill a daemon whose link is silent)."""
        tentative = self.tentative_addresses()
        if tentative and now < self._ready_deadline:
            self._ready_check = now + READY_CHECK_NS
            return
        self._ready_check = None
        self.ready = True
        duplicate = [f"{a.address}%{name}" for name, iface in self.node.interfaces.items()
                     for a in iface.addresses.values() if a.state is AddressState.DUPLICATE]
        status = self._status()
        if tentative:
            status += f"; still tentative after {READY_DEADLINE_NS // 1_000_000_000} s: {', '.join(tentative)}"
        if duplicate:
            status += f"; duplicate: {', '.join(duplicate)}"
        log.info("ready: %s", status, extra={"event": "ready", "role": self.config.role,
                                             "tentative": tentative, "duplicate": duplicate})
        self.notifier.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def _serve_metrics(self, address: str) -> None:
        """The Prometheus endpoint (mip6fast.metrics): its HTTP server in a thread of its own, the
        figures copied by the loop when a scrape asks (``metrics_snapshot``)."""
        self.metrics = SnapshotExchange(self.metrics_snapshot)
        self.metrics.attach(self.runner)
        collector = DaemonCollector(self.node.counters.table, self.metrics.get)
        try:
            self._metrics_server, _ = serve_metrics(address, collector)
        except OSError as exc:
            raise DaemonError(f"daemon.metrics {address}: {exc.strerror or exc}") from None
        log.info("metrics on http://%s/metrics", address)

    def metrics_snapshot(self) -> dict:
        """On the loop: the figures a scrape shows, copied into plain values (mip6fast.metrics)."""
        node, runner = self.node, self.runner
        return {"role": self.config.role, "version": __version__,
                "start_time": self.started_wall or 0.0,
                "counters": self.node_counters(),
                "bindings": binding_count(node),
                "reloads": self.reloads,
                "latencies": node.latencies.snapshot(),
                "ports": {name: _port_counters(p) for name, p in self.ports.items()},
                "runner": dict(runner.counters),
                "control": dict(self.control.counters) if self.control is not None else None,
                "redundancy": self.redundancy.status() if self.redundancy is not None else None}

    def protection_summary(self) -> str:
        """How this daemon's signalling is protected, in a few words (the start line, STATUS=)."""
        c = self.config
        if c.role in SECURITY_ROLES:
            kinds = []
            if self.spd is not None and len(self.spd):
                kinds.append(f"esp ({len(self.spd)} SAs)")
            if self.mn_ha is not None:
                kinds.append(f"rfc4285 ({len(self.mn_ha)} credentials)")
            home = " + ".join(kinds) or "none (unauthenticated_registrations)"
            if c.role == "mn":
                ro = ("none (unauthenticated_bindings)" if c.role_config.route_optimization.unauthenticated_bindings
                      else "return routability")
                return f"home registrations: {home}; route optimisation: {ro}"
            return f"home registrations: {home}"
        if c.role == "cn":
            return ("none (unauthenticated_bindings)" if c.role_config.unauthenticated_bindings
                    else "return routability")
        return "none (no signalling)"

    def _log_start(self) -> None:
        fields = {"event": "start", "role": self.config.role, "version": __version__, "pid": os.getpid(),
                  "interfaces": list(self.config.interfaces), "tun": self.tun.name if self.tun else None,
                  "protection": self.protection_summary(),
                  "store": None if self.store is None else self.store.path,
                  "control_socket": self.control_path, "state_dir": self.state_dir,
                  "metrics": self.config.daemon.metrics, "io": self.config.daemon.io,
                  "watchdog_s": (None if self.notifier.watchdog_interval_ns is None
                                 else self.notifier.watchdog_usec / 1e6)}
        log.info("mip6fast %s %s started on %s (pid %d); protection: %s; store: %s; control socket: %s; "
                 "state in %s", __version__, self.config.role, ", ".join(self.config.interfaces), os.getpid(),
                 fields["protection"], fields["store"] or "none", self.control_path or "none", self.state_dir,
                 extra=fields)

    def _status(self) -> str:
        """One line for systemd's STATUS= (``systemctl status`` shows it)."""
        n = binding_count(self.node) if self.node is not None else 0
        return f"{self.config.role} on {', '.join(self.config.interfaces)}: {n} binding{'s' if n != 1 else ''}"

    @property
    def _redundant(self) -> bool:
        """A home agent on an etcd store is a member of a group (mip6fast.redundancy)."""
        return self.config.role == "ha" and self.config.store is not None and self.config.store.store == "etcd"

    def _lease_lost(self) -> None:
        self.failed = "lost the lease of the active home agent"
        self.stop()

    def _protection(self) -> tuple[SecurityPolicyDatabase | None, MnHaCredentials | None]:
        """The home agent's or mobile node's SAs and RFC 4285 credentials from ``[security] key_file``
        (either protects a home address: the daemon is secure by default with either); without it, the
        daemon starts only when the role section says ``unauthenticated_registrations = true``, and then
        says so loudly."""
        c = self.config
        if c.role not in SECURITY_ROLES:
            return None, None
        section = ROLES[c.role][0]
        key_file = c.security.key_file
        if key_file is None:
            if not getattr(c.role_config, "unauthenticated_registrations", False):
                raise DaemonError(
                    f"no protection configured for home registrations: set [security] key_file to a key "
                    f"file with ESP associations or RFC 4285 [[mn_ha]] credentials (docs/SECURITY.md; "
                    f"RFC 6275 §5.1), or, for a lab only, [{section}] unauthenticated_registrations = true")
            log.warning("UNAUTHENTICATED HOME REGISTRATIONS ([%s] unauthenticated_registrations = true): "
                        "%s", section,
                        "anyone who can reach this home agent can register or take over any home address"
                        if c.role == "ha" else "any node can forge this mobile node's binding acknowledgements")
            return None, None
        try:
            spd, mn_ha = load_protection(key_file, c.role)
        except KeyFileError as exc:
            raise DaemonError(f"security.key_file: {exc}") from None
        if len(spd) or not len(mn_ha):
            log.info("home registrations protected by ESP: %d SAs for %s from %s", len(spd),
                     ", ".join(sorted(str(a) for a in spd.home_addresses())) or "no home address", key_file)
        tunnelled = sorted({str(sa.home_address) for sa in spd if sa.mode is Mode.TUNNEL})
        if tunnelled:
            log.info("reverse tunnel in ESP tunnel mode (RFC 3776) for %s", ", ".join(tunnelled))
        if len(mn_ha):
            log.info("home registrations protected by RFC 4285 (MN-HA authentication option): %s from %s",
                     ", ".join(f"{c.home_address} ({c.identifier})" for c in mn_ha), key_file)
        return spd, (mn_ha if len(mn_ha) else None)

    def _route_optimisation_security(self) -> None:
        """Return routability authorises route-optimisation bindings by default (RFC 6275 §5.2, issue
        12); a correspondent or mobile node configured without it (``unauthenticated_bindings``) starts,
        and says so loudly."""
        c = self.config
        if c.role == "cn" and c.role_config.unauthenticated_bindings:
            log.warning("UNAUTHENTICATED BINDINGS ([correspondent] unauthenticated_bindings = true): Binding "
                        "Updates without return routability are accepted, so anyone can redirect this "
                        "node's traffic for any home address to any address")
        elif c.role == "mn" and c.role_config.route_optimization.unauthenticated_bindings:
            log.warning("UNAUTHENTICATED BINDINGS ([mobile_node.route_optimization] unauthenticated_bindings "
                        "= true): no return routability with correspondents; only correspondents "
                        "configured the same will accept this node's Binding Updates")
        elif c.role == "cn":
            log.info("route-optimisation bindings authorised by return routability (RFC 6275 §5.2)")

    def _resume_sequences(self) -> None:
        """Manual SAs restart at sequence 1, which the peer's replay window refuses (docs/SECURITY.md):
        each outbound SA resumes from the mark stored in the state directory (``esp-sequences.json``),
        and a new mark ``SEQUENCE_RESERVE`` higher is stored before any packet is sent, so that a crash
        never reuses a number. ``_extend_sequences`` stores a higher one while running."""
        if self.spd is None:
            return
        path = Path(self.state_dir) / "esp-sequences.json"
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            stored = {}
        except (OSError, ValueError) as exc:
            raise DaemonError(f"{path}: unreadable ({exc}); the SAs' sequence numbers cannot be resumed "
                              f"safely: remove it only together with new keys") from None
        for sa in self.spd:
            if sa.direction is Direction.OUTBOUND:
                mark = stored.get(f"0x{sa.spi:08x}")
                if isinstance(mark, int) and mark > 0:
                    sa.advance(mark)
        self._store_sequences()

    def _store_sequences(self) -> None:
        marks = {}
        for sa in self.spd or ():
            if sa.direction is Direction.OUTBOUND:
                marks[f"0x{sa.spi:08x}"] = min(sa.sequence + SEQUENCE_RESERVE, sa.sequence + sa.sequence_remaining)
        path = Path(self.state_dir) / "esp-sequences.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(marks))
        os.replace(tmp, path)
        self._sequence_marks = marks

    def _sequences_due(self) -> int | None:
        if self.spd is None:
            return None
        for sa in self.spd:
            if sa.direction is Direction.OUTBOUND and \
                    sa.sequence + SEQUENCE_RESERVE // 2 > self._sequence_marks.get(f"0x{sa.spi:08x}", 0):
                return 0
        return None

    def _take_state_dir(self) -> None:
        """One daemon per state directory; what a predecessor that did not exit cleanly recorded is
        read (``KernelRecord``)."""
        prepare_state_dir(self.state_dir)
        lock = FileLock(Path(self.state_dir) / "daemon.lock", f"mip6fast {self.config.role}")
        try:
            self._state_lock = lock.acquire()
        except LockHeld as exc:
            raise DaemonError(f"state directory {self.state_dir} is in use by another daemon: {exc}") \
                from None
        self._record = KernelRecord(self.state_dir)
        self._record.load()
        if self._record.leftover:
            log.warning("%s: the previous daemon did not exit cleanly; restoring what it recorded (%s)",
                        self._record.path, ", ".join(sorted(self._record.leftover)))

    def _open_store(self) -> None:
        """The home agent's binding store (docs/DURABILITY.md): ``[home_agent] store`` = "sqlite" opens
        ``store_path`` (default: bindings.db in the state directory); a locked, corrupt or unwritable
        store is a StoreError naming the file, which stops the start. "etcd" opens the [etcd] cluster's
        store under its prefix (README "Redundancy"): no endpoint answering is a StoreError naming them."""
        settings = self.config.store
        if self.config.role != "ha" or settings is None or settings.store == "none":
            return
        etcd = self.config.etcd
        if settings.store == "etcd":
            assert etcd is not None         # parse_config requires [etcd] endpoints with store = "etcd"
            self.store = EtcdBindingStore(etcd.endpoints, prefix=etcd.prefix, timeout_s=etcd.timeout,
                                          max_txn_ops=etcd.max_txn_ops, source_address=etcd.source_address)
            log.info("binding store %s (replicated by etcd: a commit is a Raft commit)", self.store.path)
            return
        path = settings.store_path or str(Path(self.state_dir) / "bindings.db")
        self.store = SQLiteBindingStore(path, synchronous=settings.synchronous.upper())
        log.info("binding store %s (synchronous=%s)", self.store.path, settings.synchronous)

    def _lock_interfaces(self) -> dict[str, int]:
        """An exclusive lock per interface (network namespace and index): two daemons owning one
        interface would fight over it and record each other's settings as originals."""
        netns = netns_id()
        indexes = {}
        for name in self.config.interfaces:
            idx = self._ipr.link_lookup(ifname=name)
            if not idx:
                raise DaemonError(f"interfaces.{name}: no such interface on this machine")
            lock = interface_lock(self.config.daemon.lock_dir, netns, idx[0], name)
            try:
                self._interface_locks.append(lock.acquire())
            except LockHeld as exc:
                raise DaemonError(f"interfaces.{name}: owned by another mip6fast daemon: {exc}") from None
            indexes[name] = idx[0]
        return indexes

    def _restore_leftovers(self) -> None:
        """A predecessor's records of interfaces this configuration does not claim: put back now,
        if the interface is still the same one and no other daemon owns it."""
        for name, entry in list(self._record.leftover.items()):
            if name in self.config.interfaces:
                continue                    # taken over by _claim
            self._record.leftover.pop(name)
            if self._ipr.link_lookup(ifname=name) != [entry["ifindex"]]:
                log.warning("%s: recorded by the previous daemon but gone or replaced; nothing to restore",
                            name)
                continue
            lock = interface_lock(self.config.daemon.lock_dir, netns_id(), entry["ifindex"], name)
            try:
                lock.acquire()
            except LockHeld as exc:
                log.warning("%s: recorded by the previous daemon but owned by another one now (%s); "
                            "left as it is", name, exc)
                continue
            try:
                self._restore(name, entry["disable_ipv6"])
            finally:
                lock.release()
        self._record.save()

    def _restore(self, name: str, disable_ipv6: str | None) -> bool:
        proc = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
        if disable_ipv6 is None or not proc.exists():
            return True
        try:
            proc.write_text(disable_ipv6)
        except OSError as exc:
            log.warning("could not restore IPv6 on %s: %s", name, exc)
            return False
        return True

    @property
    def _worker_count(self) -> int:
        return self.config.daemon.workers if self.config.role == "ha" else 1

    def _shared_tables(self):
        """[daemon] workers > 1: the tables the forwarding workers share, made before they are forked
        (csrc/mip6_shm.h); the home agent's binding cache lives in them."""
        shm = _impl.load_compiled("shm")
        if shm is None:
            raise DaemonError(f"daemon.workers: {_impl.unavailable('shm')}")
        return shm.SharedTables(workers=self._worker_count, max_bindings=self.config.role_config.max_bindings)

    def _start_workers(self) -> None:
        """The forwarding workers (mip6fast/io/workers.py): the node's graph tables written to the shared
        ones too, the workers forked, their queues read on the loop, their lives checked by a timer."""
        node, runner = self.node, self.runner
        assert isinstance(node, HomeAgent) and runner is not None
        node.batch_path.share(self.shared)
        names = list(node.batch_path.tables.names)

        in_place = self.config.daemon.receive_in_place

        def open_ring(name: str, group: int) -> PacketRing:
            return PacketRing(name, fanout="hash", fanout_group=group, in_place=in_place)
        self.workers = WorkerPool(self.shared, names, open_ring, clock=runner.clock)

        def queue(w: int, old, new) -> None:
            if old is not None:
                runner.unwatch(old.fileno())
            if new is not None:
                runner.watch(new.fileno(), lambda _events, w=w: self._from_worker(w))
        self.workers.on_socket = queue
        self.workers.start()
        self._workers_check = runner.clock()
        runner.add_timer(lambda: self._workers_check, self._check_workers)

    def _from_worker(self, w: int) -> None:
        """Slow-path packets a worker queued: through the home agent's per-packet paths."""
        assert self.workers is not None and self.runner is not None and isinstance(self.node, HomeAgent)
        items = self.workers.read(w)
        if items:
            node = self.node
            self.runner.call(lambda now: node.receive_slow(now, items))

    def _check_workers(self, now: int) -> None:
        """Every 50 ms: dead workers restarted; the shared graph tables brought in step with the node
        (routes, interfaces, own addresses change on ticks and signalling, not only on batches)."""
        assert self.workers is not None and isinstance(self.node, HomeAgent)
        self.workers.reap()
        self.node.batch_path.tables.refresh()
        self._workers_check = now + WORKERS_CHECK_NS

    def node_counters(self) -> dict:
        """The node's counters, with the forwarding workers' data-path counts added (summed over the
        workers, from the shared mapping): what one process would have counted."""
        counters = dict(self.node.counters)
        if self.shared is None:
            return counters
        total = self.shared.sum_counters()
        graph = total["graph"]
        for name, add in (("tunnelled", graph["TUNNELLED"]), ("detunnelled", graph["DETUNNELLED_SENT"]),
                          ("forwarded", graph["DETUNNELLED_SENT"]), ("tx_frames", graph["TX"])):
            if add:
                counters[name] = counters.get(name, 0) + add
        for reason, add in total["drops"].items():
            name = f"drop.datapath.{DropReason(reason).name.lower()}"
            counters[name] = counters.get(name, 0) + add
        return counters

    def _open_port(self, name: str):
        if self.shared is not None:
            # The workers receive; the signalling process only sends (a ring bound with protocol 0).
            try:
                return PacketRing(name, rx=False)
            except RingError as exc:
                raise DaemonError(f"interfaces.{name}: {exc}") from None
        if self.config.daemon.io == "ring":
            try:
                return PacketRing(name, in_place=self.config.daemon.receive_in_place)
            except RingError as exc:
                raise DaemonError(f"interfaces.{name}: {exc}") from None
        return PacketSocket(name)

    def _watch_carrier(self) -> None:
        """Carrier changes on our interfaces reach the node as ``link_changed``: a mobile node takes a
        carrier coming back as a lower-layer movement hint and solicits at once (RFC 6275 §11.5.1)
        instead of waiting for the next unsolicited RA."""
        self._link_monitor = IPRoute()
        self._link_monitor.bind(groups=RTMGRP_LINK)
        self._carrier = dict.fromkeys(self.ports, True)    # runner.start() brought them up
        self.runner.add_reader(self._link_monitor.fileno(), self._links_changed)

    def _links_changed(self) -> None:
        for msg in self._link_monitor.get():
            if msg.get("event") != "RTM_NEWLINK":
                continue
            name = msg.get_attr("IFLA_IFNAME")
            if name not in self._carrier:
                continue
            carrier = msg.get_attr("IFLA_CARRIER")
            up = bool(carrier) if carrier is not None else bool(msg["flags"] & IFF_LOWER_UP)
            if up != self._carrier[name]:
                self._carrier[name] = up
                log.info("carrier %s on %s", "up" if up else "down", name)
                self.runner.link_changed(name, up)

    def _claim(self, name: str, iface, idx: int) -> bytes:
        """The engine owns this interface: the kernel's IPv6 goes off (its original recorded on disk
        first), the link goes up with the configured MTU; returns its MAC address."""
        proc = Path(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6")
        current = proc.read_text().strip() if proc.exists() else None
        self._record.add(name, idx, self._record.original(name, idx, current))
        if current is not None and current != "1":
            proc.write_text("1")
        self._ipr.link("set", index=idx, state="up", mtu=iface.mtu)
        if iface.mac is not None:
            return bytes.fromhex(iface.mac.replace(":", ""))
        link = self._ipr.get_links(idx)[0]
        return bytes.fromhex(link.get_attr("IFLA_ADDRESS").replace(":", ""))

    def _build_node(self, macs: dict[str, bytes]) -> Node:
        c = self.config
        interfaces = [Interface(name, macs[name], mtu=iface.mtu) for name, iface in c.interfaces.items()]
        rng = random.Random(self.rng.getrandbits(64))
        if c.role == "ha":
            home = c.role_config.interface
            node = HomeAgent("ha", interfaces, c.role_config, rng=rng, advertising=c.advertise.get(home),
                             store=self.store, wall_offset_ns=time.time_ns() - time.monotonic_ns(),
                             spd=self.spd, mn_ha=self.mn_ha,
                             cache=None if self.shared is None else BindingCache.shared(self.shared))
        elif c.role == "mn":
            node = MobileNode("mn", interfaces, rng=rng, config=c.role_config, spd=self.spd, mn_ha=self.mn_ha,
                              wall_offset_ns=time.time_ns() - time.monotonic_ns())
        elif c.role == "router":
            node = Router("router", interfaces, rng=rng)
        else:
            # Return routability's Kcn and nonces from the kernel's CSPRNG, not the seedable rng.
            node = CorrespondentNode("cn", interfaces, rng=rng, config=c.role_config, random_bytes=os.urandom)
        for name, iface in c.interfaces.items():
            for a in iface.addresses:
                if a.ip not in node.interfaces[name].addresses:
                    node.interfaces[name].add_address(a.ip, a.network.prefixlen)
        for r in c.routes:
            node.add_route(r.prefix, r.interface, r.via)
        for name, adv in c.advertise.items():
            if not (c.role == "ha" and name == c.role_config.interface):
                node.advertise(name, adv)
        return node

    def _open_tun(self, name: str) -> TunDevice:
        """The kernel's side: the addresses its applications use, and the default route, on a TUN."""
        tun = TunDevice(name)
        (idx,) = self._ipr.link_lookup(ifname=tun.name)
        wire_mtu = min(i.mtu for i in self.config.interfaces.values())
        self._ipr.link("set", index=idx, state="up", mtu=tun_mtu(wire_mtu, self.spd))
        if self.config.role == "mn":
            addresses = [(h.address, 128) for h in self.config.role_config.homes]
        else:
            addresses = [(a.ip, a.network.prefixlen) for i in self.config.interfaces.values() for a in i.addresses]
        for address, plen in addresses:
            self._ipr.addr("add", index=idx, address=str(address), prefixlen=plen, IFA_FLAGS=IFA_F_NODAD)
        self._ipr.route("add", dst="::/0", oif=idx, family=socket.AF_INET6, priority=1024)
        return tun

    # ------------------------------------------------------------ run

    def run(self, duration_ns: int | None = None) -> None:
        """Until SIGINT/SIGTERM (when called from the main thread), ``stop()`` or ``duration_ns``."""
        installed = []
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                installed.append((sig, signal.signal(sig, lambda signum, _: self.stop(
                    signal.Signals(signum).name))))
        except ValueError:
            installed = []                  # not the main thread: stop() is the way out
        self.stop_reason = "duration elapsed" if duration_ns is not None else "stopped"
        try:
            self.runner.run(duration_ns)
            self.notifier.notify("STOPPING=1", f"STATUS=stopping ({self.stop_reason})")
            self._leave()
        except BaseException as exc:
            self.stop_reason = f"error: {type(exc).__name__}: {exc}"
            self.notifier.notify("STOPPING=1", f"STATUS=stopping ({self.stop_reason})")
            raise
        finally:
            for sig, handler in installed:
                signal.signal(sig, handler)
            self._log_stop()

    def _log_stop(self) -> None:
        uptime = 0.0 if self.started_ns is None else (time.monotonic_ns() - self.started_ns) / 1e9
        bindings = binding_count(self.node) if self.node is not None else 0
        log.info("mip6fast %s stopping after %.1f s (%s); %d binding%s", self.config.role, uptime,
                 self.stop_reason, bindings, "" if bindings == 1 else "s",
                 extra={"event": "stop", "role": self.config.role, "uptime_s": round(uptime, 3),
                        "bindings": bindings, "reason": self.stop_reason, "reloads": self.reloads})

    def _leave(self) -> None:
        """A mobile node away from home de-registers before it goes (lifetime-0 BUs), waiting briefly
        for the home agent's BA; if none comes the binding simply expires at the home agent."""
        node = self.node
        if not isinstance(node, MobileNode):
            return
        self.runner.call(node.leave)
        if node.leaving:
            log.info("de-registering before shutdown")
            self.runner.run(LEAVE_WAIT_NS, should_stop=lambda: not node.leaving)
            log.info("de-registration %s", "unanswered" if node.leaving else "acknowledged")

    def stop(self, reason: str = "stopped") -> None:
        """End ``run()``; ``reason`` goes into the stop line (the signal's name when one stopped us)."""
        self.stop_reason = reason
        if self.runner is not None:
            self.runner.stop()

    def _home_agent_switch(self, request: dict) -> dict:
        """``mip6fast ha home-agent-switch --to ADDR ... [--home HOA ...]``: an RFC 5142 Home Agent
        Switch to the mobile nodes of the given home addresses (default: every binding)."""
        node = self.node
        if not isinstance(node, HomeAgent):
            return {"error": "home-agent-switch: only a home agent sends Home Agent Switch messages"}
        try:
            agents = tuple(IPv6Address(a) for a in request.get("agents", ()))
            homes = request.get("homes")
            targets = None if not homes else tuple(IPv6Address(h) for h in homes)
        except (TypeError, ValueError) as exc:
            return {"error": f"home-agent-switch: {exc}"}
        before = node.counters.get("has.sent", 0)
        assert self.runner is not None
        self.runner.call(lambda now: node.switch_home_agent(now, agents, targets))
        return {"sent": node.counters.get("has.sent", 0) - before, "agents": [str(a) for a in agents]}

    def _notified(self, n) -> None:
        fields = " ".join(f"{k}={v}" for k, v in vars(n).items() if k != "now")
        log.info("%s %s", type(n).__name__, fields)

    def _answer(self, request: dict) -> dict:
        command = request["command"]
        now = self.runner.clock()
        if command == "bindings":
            answer = {"role": self.config.role, "bindings": describe_bindings(self.node, now)}
            if self.redundancy is not None:
                answer["redundancy"] = self.redundancy.status()
            return answer
        if command == "home-agent-switch":
            return self._home_agent_switch(request)
        if command == "switchover":
            if self.redundancy is None:
                return {"error": "switchover: this daemon is no member of a redundant group ([home_agent] "
                                 "store = \"etcd\")"}
            return self.redundancy.switchover()
        if command == "stats":
            return {"role": self.config.role,
                    "daemon": {"pid": os.getpid(),
                               "log_level": logging.getLevelName(log.getEffectiveLevel()).lower(),
                               "reloads": self.reloads, "state_dir": self.state_dir, "ready": self.ready,
                               "log_format": self.config.daemon.log_format,
                               "metrics": self.config.daemon.metrics, "notify": self.notifier.enabled},
                    "store": None if self.store is None else {
                        "path": self.store.path, "synchronous": getattr(self.store, "synchronous", None),
                        "commits": self.store.commits, "records": self.store.records_committed},
                    "node": dict(sorted(self.node_counters().items())),
                    "meanings": counter_meanings(self.node.counters),
                    "runner": dict(self.runner.counters),
                    "ports": {name: _port_counters(p) for name, p in self.ports.items()},
                    "tun": self.tun.stats() if self.tun is not None else None,
                    "security": self.spd.stats() if self.spd is not None else None,
                    "rfc4285": self.mn_ha.stats() if self.mn_ha is not None else None,
                    "control": dict(self.control.counters) if self.control is not None else None,
                    "redundancy": self.redundancy.status() if self.redundancy is not None else None,
                    "workers": self.workers.counters() if self.workers is not None else None}
        return {"error": f"unknown command {command!r} (bindings, stats, switchover, home-agent-switch)"}

    # ------------------------------------------------------------ SIGHUP

    def _catch_sighup(self) -> None:
        """SIGHUP (by default fatal) asks for a reload. The handler only sets a flag: the reload runs on
        the loop, as a timer due at once (start() adds it), never in the middle of the node's work."""
        try:
            self._previous_sighup = signal.signal(signal.SIGHUP, self._sighup)
        except ValueError:
            pass                            # not the main thread: reload() is the way

    def _sighup(self, *_) -> None:
        self._reload_pending = True

    def reload(self) -> list[str]:
        """Read the configuration file again: apply what can change while running (``RELOADABLE``),
        name in the log what changed but needs a restart. Returns the keys applied."""
        self._reload_pending = False
        self.reloads += 1
        # RELOADING=1 with the monotonic time (systemd 253's Type=notify-reload wants it), READY=1 after,
        # whatever the outcome: a reload that kept the old configuration still leaves a running daemon
        # (one not ready yet, DAD under way, says READY=1 when _check_ready does).
        self.notifier.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}",
                             "STATUS=reloading the configuration")
        try:
            return self._reload()
        finally:
            if self.ready:
                self.notifier.notify("READY=1", f"STATUS={self._status()}")

    def _reload(self) -> list[str]:
        if self.config_path is None:
            log.warning("SIGHUP: no configuration file to reload")
            return []
        try:
            new = load_config(self.config_path, self.config.role)
        except ConfigError as exc:
            log.error("SIGHUP: %s: %s; still running the configuration loaded before", self.config_path, exc)
            return []
        old_keys, new_keys = config_keys(self.config), config_keys(new)
        changed = sorted(k for k in old_keys.keys() | new_keys.keys()
                         if old_keys.get(k, _ABSENT) != new_keys.get(k, _ABSENT))
        applied, restart = [], []
        for key in changed:
            apply = next((f for prefix, f in RELOADABLE.items()
                          if key == prefix or key.startswith((prefix + ".", prefix + "["))), None)
            if apply is None:
                restart.append(key)
            else:
                self.config = apply(self, self.config, new)
                applied.append(key)
        done = ", ".join(f"{k} ({old_keys.get(k)} -> {new_keys.get(k)})" for k in applied)
        log.info("SIGHUP: reloaded %s: %s", self.config_path, done or "nothing to apply")
        if restart:
            log.warning("SIGHUP: changed but only taken on a restart: %s", ", ".join(restart))
        return applied

    def _apply_binding_acl(self, running: DaemonConfig, new: DaemonConfig) -> DaemonConfig:
        """The home agent's binding ACL, live: the next BU is judged by the new one."""
        acl = new.role_config.binding_acl
        if isinstance(self.node, HomeAgent):
            self.node.registrar.acl = acl
        return replace(running, role_config=replace(running.role_config, binding_acl=acl))

    def _apply_log_level(self, running: DaemonConfig, new: DaemonConfig) -> DaemonConfig:
        if self.log_level_override is not None:
            log.info("SIGHUP: daemon.log_level: --log-level %s on the command line wins",
                     self.log_level_override)
        else:
            log.setLevel(new.daemon.log_level.upper())      # the mip6fast loggers (mip6fast.service)
        return replace(running, daemon=replace(running.daemon, log_level=new.daemon.log_level))

    # ------------------------------------------------------------ stop

    def close(self) -> None:
        """Give everything back: control socket, TUN, ports, the kernel's IPv6 on the interfaces."""
        if self.redundancy is not None:
            self.redundancy.close()         # an active member resigns: a standby takes over at once
            self.redundancy = None
        if self.control is not None:
            self.control.close()
            self.control = None
        self.notifier.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()         # the server's thread ends; a scrape under way
            self._metrics_server.server_close()     # gets the last snapshot (the exchange is closed)
            self._metrics_server = None
        if self.metrics is not None:
            if self.runner is not None:
                self.runner.unwatch(self.metrics.fileno())
            self.metrics.close()
            self.metrics = None
        if self._link_monitor is not None:
            self._link_monitor.close()
            self._link_monitor = None
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        if self.runner is not None:
            self.runner.close()
            self.runner = None
        if self.tun is not None:
            self.tun.close()
            self.tun = None
        for port in self.ports.values():
            port.close()
        self.ports.clear()
        if self.store is not None:
            self.store.close()
            self.store = None
        # The mapping is unmapped when its last user goes (the node's binding cache lives in it).
        self.shared = None
        if self._record is not None:
            for name, entry in reversed(list(self._record.interfaces.items())):
                if self._restore(name, entry["disable_ipv6"]):
                    try:
                        self._record.forget(name)   # what could not be put back stays recorded
                    except StateError as exc:
                        log.warning("%s", exc)
            self._record = None
        for lock in reversed(self._interface_locks):
            lock.release()
        self._interface_locks.clear()
        if self._state_lock is not None:
            self._state_lock.release()
            self._state_lock = None
        if self._previous_sighup is not None:
            try:
                signal.signal(signal.SIGHUP, self._previous_sighup)
            except ValueError:
                pass
            self._previous_sighup = None
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None


_ABSENT = object()

# What SIGHUP applies to a running daemon: a configuration key (or the prefix of a table or list of
# them) -> Daemon method(running config, new config) -> the running config with the change made. Every
# other key that changed is logged as needing a restart (interfaces, addresses, the role's own fields:
# the node and its ports were built from them). The home agent's binding ACL is one.
RELOADABLE = {
    "daemon.log_level": Daemon._apply_log_level,
    "home_agent.binding_acl": Daemon._apply_binding_acl,
}
