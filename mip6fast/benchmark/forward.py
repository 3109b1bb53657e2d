"""``mip6fast bench forward``: the home agent's forwarding rate on real AF_PACKET rings (issue 5), with
the machine's raw ring I/O rate and a pure-Python forwarder measured in the same run on the same veth
pairs. Needs root (network namespaces, packet sockets).

Topology (mip6fast.io.netns)::

    source --veth-- [home  HA  out] --veth(MTU 1600)-- sink ("router" towards the care-of addresses)

1. Registration, through the home agent's real signalling path: the ``HomeAgent`` role runs on
   ``PacketRing``s in its namespace under ``NodeRunner``; a ``Host`` on the sink's end of the outer
   link plays the router the care-of addresses are behind (it answers the home agent's neighbour
   solicitation for it) and 10,000 Binding Updates (RFC 6275 §9.5.1; H and A set, a Home Address
   option) reach the home agent from 10,000 care-of addresses; each is answered with a Binding
   Acknowledgement and starts proxy neighbour discovery on the home link (§10.4.1). (Duplicate address
   detection of the home addresses is configured off: see ``ForwardBench``.)
2. For each size (64, 512, 1500 bytes of IPv6), three measurements of ``seconds`` each, in this order,
   on the same veth pairs:
   - ``reflector``: the plain C ring reflector (``mip6fast.io.ring.reflect``, the raw I/O baseline of
     ``mip6fast.benchmark.ring``) copies the home link's frames to the outer link unchanged;
   - ``home_agent``: ``NodeRunner`` drives the ``HomeAgent`` from its rings as the daemon does by
     default (TPACKET_V3, each frame copied from the receive block into the runner's batch): the home
     agent's graph encapsulates each packet to its care-of address (§10.4.2) in the batch, and the
     batch transmit copies it into the outer link's transmit ring (two copies);
   - ``home_agent_in_place``: the same on rings received in place (TPACKET_V2,
     ``PacketRing(in_place=True)``, ``[daemon] receive_in_place = true``): the graph rewrites each
     frame where the kernel wrote it and the only copy is into the transmit ring, as the reflector's;
   - ``python``: a pure-Python forwarder, one ``recv`` and one ``send`` on plain packet sockets per
     packet, doing the same encapsulation (hop limit decremented, the outer header of RFC 2473 §5.1 as
     the home agent builds it) from a dict of home address → care-of address;
   - ``workers``: ``[daemon] workers = 2``'s data path (mip6fast/io/workers.py): the bindings and the
     home agent's graph tables in shared tables (csrc/mip6_shm.h), two forked workers with their own
     rings in a PACKET_FANOUT hash group per interface, each running the graph; not pinned (the two
     workers, the source and the sink share the cores as the scheduler places them). On a 2-core
     machine the source and sink need most of a core of their own (the source's sendto runs the veth
     receive path), so two workers share what is left: the figure says what this machine gives, not
     what two free cores would.
   The source floods frames for all 10,000 home addresses in turn (IPv6/UDP from a correspondent) from
   its transmit ring; the sink counts what arrives intact: each frame is compared, with numpy over the
   whole batch, with the exact frame expected for its home address (Ethernet header to the router,
   outer header from the home agent to that binding's care-of address, the inner packet with its hop
   limit one lower; for the reflector, the source's frame unchanged).
   Source and sink run in a child process (their own interpreter lock), the forwarder under test in
   this process (the home agent, the reflector) or in a child of its own (the Python forwarder). With
   two CPUs or more, the forwarder under test is pinned to one and the source and sink to another,
   the same for all three, so each forwarder gets one core and the ratios are steadier
   (``pin=False``: the scheduler places them; higher, noisier figures).

The figure is intact frames at the sink per second of forwarder time. On veth the kernel's own path
(the source's ``sendto`` also runs the receiving side's softirq work) and the three parties share the
machine's cores, so figures move with load: the ratios, measured in one run, are what to compare.
"""
from __future__ import annotations

import os
import pickle
import socket
import struct
import threading
import time
import traceback
from ipaddress import IPv6Address, IPv6Network

import numpy as np

from .. import _impl, progress
from ..batch import PacketBatch
from ..binding_cache import BindingCache
from ..io.netns import NetnsLab
from ..io.ring import PacketRing, reflect
from ..io.runner import NodeRunner
from ..io.workers import WorkerPool
from ..roles.events import NS_PER_S
from ..roles.home_agent import HomeAgent, HomeAgentConfig
from ..roles.host import Host
from ..roles.interface import Interface, link_local_address
from ..roles.neighbor import NeighborState
from ..wire import BindingUpdate, Packet
from . import environment, result

SIZES = (64, 512, 1500)
BINDINGS = 10_000
QUICK_BINDINGS = 10_000       # --quick shortens the measurements, not the binding cache
HOME_PREFIX = IPv6Network("2001:db8:1::/64")
HA_ADDRESS = IPv6Address("2001:db8:1::1")
HA_OUTER = IPv6Address("2001:db8:2::1")
CARE_OF_BASE = int(IPv6Address("2001:db8:3::"))
CORRESPONDENT = IPv6Address("2001:db8:4::4")
INDEX_BASE = 0x10000          # binding i: home address and care-of address end in INDEX_BASE + i
OUTER_MTU = 1600              # room for a 1500-byte packet plus the 40-byte tunnel header
TUNNEL_HOP_LIMIT = 64         # HomeAgentDataPath's default outer hop limit
SOURCE_HOP_LIMIT = 64
ETH = 14
BATCH = 1024                  # the home agent's batch (NodeRunner): per-batch numpy costs amortised
FORWARDER_CPU = 0             # see _pin (ForwardBench(pin=False): the scheduler places every process)
TRAFFIC_CPU = 1
WORKERS = 2                   # the workers row: [daemon] workers = 2
TX_FRAMES = 4096              # transmit ring of the outer link, the same for the reflector and the HA
ETHERTYPE_IPV6 = b"\x86\xdd"


def home_address(i: int) -> IPv6Address:
    return IPv6Address(int(HOME_PREFIX.network_address) | (INDEX_BASE + i))


def care_of_address(i: int) -> IPv6Address:
    return IPv6Address(CARE_OF_BASE | (INDEX_BASE + i))


# ---------------------------------------------------------------- frames

def _udp_packet(size: int, dst: IPv6Address) -> bytes:
    """An IPv6/UDP packet of ``size`` bytes from the correspondent (contents arbitrary but fixed)."""
    body = size - 40
    ip = (b"\x60\x00\x00\x00" + body.to_bytes(2, "big") + bytes((17, SOURCE_HOP_LIMIT))
          + CORRESPONDENT.packed + dst.packed)
    udp = (5000).to_bytes(2, "big") + (9).to_bytes(2, "big") + body.to_bytes(2, "big") + bytes(2)
    return ip + udp + bytes((i * 7) & 0xFF for i in range(body - 8))


def _indexed(template: bytes, n: int, patch_at: tuple[int, ...]) -> np.ndarray:
    """``n`` copies of ``template`` with the 4 bytes at each of ``patch_at`` set to INDEX_BASE + row."""
    rows = np.tile(np.frombuffer(template, dtype=np.uint8), (n, 1))
    idx = (np.arange(n, dtype=np.uint32) + INDEX_BASE).astype(">u4").view(np.uint8).reshape(n, 4)
    for at in patch_at:
        rows[:, at:at + 4] = idx
    return rows


def source_frames(size: int, n: int, dst_mac: bytes, src_mac: bytes) -> np.ndarray:
    """What the source sends: one frame per binding, (n, 14 + size)."""
    frame = dst_mac + src_mac + ETHERTYPE_IPV6 + _udp_packet(size, home_address(0))
    return _indexed(frame, n, (ETH + 36,))


def tunnelled_frames(size: int, n: int, router_mac: bytes, ha_mac: bytes) -> np.ndarray:
    """What the home agent must send for each source frame (RFC 2473 §3.1, §5.1; RFC 6275 §10.4.2):
    the outer header (traffic class copied from the inner one, flow label 0, hop limit 64, from the
    home agent to the care-of address), the inner packet with its hop limit one lower. (n, 14+40+size)."""
    inner = bytearray(_udp_packet(size, home_address(0)))
    inner[7] -= 1
    outer = (bytes((0x60 | (inner[0] & 0x0F), inner[1] & 0xF0, 0, 0)) + len(inner).to_bytes(2, "big")
             + bytes((41, TUNNEL_HOP_LIMIT)) + HA_ADDRESS.packed + care_of_address(0).packed)
    frame = router_mac + ha_mac + ETHERTYPE_IPV6 + outer + bytes(inner)
    return _indexed(frame, n, (ETH + 36, ETH + 40 + 36))


def count_intact(batch: PacketBatch, n: int, expected: np.ndarray, index_at: int) -> tuple[int, int]:
    """How many of the first ``n`` frames of ``batch`` equal the expected frame of their binding (whose
    index is read at byte ``index_at`` of the frame), in a few numpy operations over the batch; and how
    many had the data frames' length (the rest are other traffic: neighbour discovery and such)."""
    if n == 0:
        return 0, 0
    rows, width = expected.shape
    slots = batch.buf.reshape(batch.capacity, batch.slot_size)[:n]
    start = batch.offset[:n] - np.arange(n, dtype=np.uint32) * np.uint32(batch.slot_size)
    ok = (batch.length[:n] == width) & (start == batch.headroom)
    body = slots[:, batch.headroom:batch.headroom + width]
    index = body[:, index_at:index_at + 4].copy().view(">u4").reshape(n).astype(np.int64) - INDEX_BASE
    ok &= (index >= 0) & (index < rows)
    sized = int(np.count_nonzero(ok))
    index[~ok] = 0
    return int(np.count_nonzero(ok & (body == expected[index]).all(axis=1))), sized


# ---------------------------------------------------------------- the traffic process

def _traffic(source: PacketRing, sink: PacketRing, frames: np.ndarray, expected: np.ndarray,
             index_at: int, cpu: int | None, control: socket.socket) -> None:
    """Child process: wait for "go", flood ``frames`` (cycling) until "stop", drain the sink until the
    link is quiet, send the counts back."""
    _pin(cpu)
    n = frames.shape[0]
    batches = []
    for k in range(0, n, 256):
        batches.append(PacketBatch.from_packets([frames[j].tobytes() for j in range(k, min(n, k + 256))]))
    counts = {"sent": 0, "received": 0, "intact": 0, "sized": 0}
    stop = threading.Event()
    go = threading.Event()

    def flood():
        go.wait()
        k = 0
        while not stop.is_set():
            counts["sent"] += source.send(batches[k], timeout_ms=10)
            k = (k + 1) % len(batches)

    def drain():
        batch = PacketBatch(capacity=1024, slot_size=2048, headroom=64)
        quiet_since = None
        while True:
            batch.clear()
            got = sink.receive(batch, timeout_ms=20)
            counts["received"] += got
            intact, sized = count_intact(batch, got, expected, index_at)
            counts["intact"] += intact
            counts["sized"] += sized
            if stop.is_set():
                quiet_since = quiet_since or time.monotonic()
                if got:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 0.2:
                    return

    workers = [threading.Thread(target=flood), threading.Thread(target=drain)]
    for w in workers:
        w.start()
    control.sendall(b"r")
    assert control.recv(1) == b"g"
    go.set()
    assert control.recv(1) == b"s"
    stop.set()
    for w in workers:
        w.join()
    control.sendall(pickle.dumps(counts))


def _pin(cpu: int | None) -> None:
    """Keep this process on one CPU (when the machine has two or more): the forwarder under test on one,
    the source and the sink on the other, the same for all three forwarders."""
    if cpu is not None and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {allowed[cpu % len(allowed)]})


def _fork(target, *args) -> tuple[int, socket.socket]:
    parent_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:   # the child: run, then leave without running the parent's cleanup
        code = 0
        try:
            parent_end.close()
            target(*args, child_end)
        except BaseException:   # reported by the exit status
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    child_end.close()
    return pid, parent_end


def _wait(pid: int, what: str) -> None:
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the {what} process failed (exit status {os.waitstatus_to_exitcode(status)})")


# ---------------------------------------------------------------- the pure-Python forwarder

def _python_forwarder(rx: socket.socket, tx: socket.socket, table: dict, home_mac: bytes, router_mac: bytes,
                      out_mac: bytes, seconds: float, cpu: int | None, control: socket.socket) -> None:
    """Child process: per packet, one recv, the home agent's encapsulation in Python, one send."""
    _pin(cpu)
    head = router_mac + out_mac + ETHERTYPE_IPV6
    ha = HA_ADDRESS.packed
    pack = struct.Struct("!BBHHBB16s16s").pack
    forwarded = dropped = 0
    control.sendall(b"r")
    assert control.recv(1) == b"g"
    rx.settimeout(0.05)
    end = time.monotonic() + seconds
    started = time.monotonic_ns()
    while time.monotonic() < end:
        try:
            frame = rx.recv(4096)
        except TimeoutError:
            continue
        if frame[12:14] != ETHERTYPE_IPV6 or frame[:6] != home_mac or len(frame) < ETH + 40:
            dropped += 1
            continue
        plen = (frame[ETH + 4] << 8) | frame[ETH + 5]
        packet = frame[ETH:ETH + 40 + plen]
        care_of = table.get(packet[24:40])
        if care_of is None or packet[7] <= 1 or len(packet) + 40 > OUTER_MTU:
            dropped += 1
            continue
        inner = packet[:7] + bytes((packet[7] - 1,)) + packet[8:]
        outer = pack(0x60 | (inner[0] & 0x0F), inner[1] & 0xF0, 0, len(inner), 41, TUNNEL_HOP_LIMIT, ha, care_of)
        tx.send(head + outer + inner)
        forwarded += 1
    elapsed = time.monotonic_ns() - started
    control.sendall(pickle.dumps({"forwarded": forwarded, "dropped": dropped, "elapsed_ns": elapsed}))


# ---------------------------------------------------------------- the bench

class ForwardBench:
    """The lab, the home agent with its bindings, and one measurement method per forwarder."""

    def __init__(self, bindings: int = BINDINGS, pin: bool = True):
        self.bindings = bindings
        self.shared = None          # the workers' shared tables, made at their first measurement
        self.cpus = (FORWARDER_CPU, TRAFFIC_CPU) if pin else (None, None)
        self.lab = NetnsLab("fwd")
        try:
            self.src_end, self.home_end = self.lab.veth("src", "ha")
            self.out_end, self.sink_end = self.lab.veth("ha", "sink", mtu=OUTER_MTU)
        except BaseException:   # reported by the exit status
            self.lab.close()
            raise
        self.router_mac = self.sink_end.mac
        self.router = link_local_address(self.router_mac)
        home = Interface(self.home_end.ifname, self.home_end.mac)
        out = Interface(self.out_end.ifname, self.out_end.mac, mtu=OUTER_MTU)
        # dad=False: each first registration would wait a second for duplicate address detection of
        # its home address on the home link (§10.3.1), which does not change the forwarding path.
        config = HomeAgentConfig(interface=home.name, home_prefixes=(HOME_PREFIX,), address=HA_ADDRESS,
                                 max_lifetime=3600, tunnel_mtu=OUTER_MTU, dad=False)
        self.ha = HomeAgent("ha", [home, out], config, cache=BindingCache(16, bindings))
        out.add_address(HA_OUTER, 64)
        self.ha.add_route("::/0", out.name, self.router)
        # The router's reachability lasts the whole run, as an RA's Reachable Time of 3,600,000 ms
        # (RFC 4861 §6.2.1, its maximum) would set: nobody answers NUD probes while the sink counts.
        nd = self.ha.nd[out.name]
        nd.base_reachable_time = 3600 * NS_PER_S
        nd.reachable_time = nd._random_reachable_time()
        self.registration: dict = {}

    def close(self) -> None:
        self.lab.close()

    def __enter__(self) -> ForwardBench:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ rings

    def _ha_rings(self, in_place: bool = False) -> dict:
        with self.lab.enter("ha"):
            home = PacketRing(self.home_end.ifname, in_place=in_place, window=BATCH)
            out = PacketRing(self.out_end.ifname, qdisc_bypass=True, tx_frames=TX_FRAMES, in_place=in_place,
                             window=BATCH)
        return {home.name: home, out.name: out}

    def _traffic_rings(self) -> tuple[PacketRing, PacketRing]:
        with self.lab.enter("src"):
            source = PacketRing(self.src_end.ifname, rx=False, qdisc_bypass=True)
        with self.lab.enter("sink"):
            sink = PacketRing(self.sink_end.ifname, tx=False)
        return source, sink

    # ------------------------------------------------------------ registration

    def register(self, timeout: float = 120.0) -> dict:
        """The bindings through the home agent's signalling path on real rings (see the module doc)."""
        started = time.monotonic()
        ports = self._ha_rings()
        with self.lab.enter("sink"):
            sink_ring = PacketRing(self.sink_end.ifname)
        router = Host("router", [Interface(self.sink_end.ifname, self.router_mac, mtu=OUTER_MTU)])
        try:
            with NodeRunner(self.ha, ports) as ha_run, NodeRunner(router, {sink_ring.name: sink_ring}) as rt_run:
                ha_run.start()
                rt_run.start()

                def spin(seconds: float) -> None:
                    until = time.monotonic() + seconds
                    while time.monotonic() < until:
                        ha_run.run_once(1_000_000)
                        rt_run.run_once(0)

                spin(1.5)      # both ends' addresses through duplicate address detection
                ha_mac = self.out_end.mac
                for k in range(0, self.bindings, 250):
                    frames = []
                    for i in range(k, min(self.bindings, k + 250)):
                        bu = Packet(src=care_of_address(i), dst=HA_ADDRESS, home_address=home_address(i),
                                    payload=BindingUpdate(1, 3600, ack=True, home=True))
                        frames.append(ha_mac + self.router_mac + ETHERTYPE_IPV6 + bu.to_bytes())
                    sent = 0
                    while sent < len(frames):
                        sent += sink_ring.send_frames(frames[sent:])
                        spin(0.002)
                    spin(0.01)
                deadline = time.monotonic() + timeout
                while len(self.ha.cache) < self.bindings and time.monotonic() < deadline:
                    spin(0.1)
                # Neighbour unreachability detection confirms the router (its DELAY, then PROBE with a
                # unicast NS the router answers, RFC 4861 §7.3.3): from then on it is REACHABLE for the
                # long reachable time set above, with nobody answering while the sink counts.
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not self._router_reachable():
                    spin(0.05)
                spin(0.2)
        finally:
            for ring in (*ports.values(), sink_ring):
                ring.close()
        if not self._router_reachable():
            entry = self.ha.nd[self.out_end.ifname].neighbors.get(self.router)
            raise RuntimeError(f"the router {self.router} was not confirmed reachable "
                               f"(neighbour cache: {entry.state.value if entry else 'no entry'})")
        bound = sum(1 for i in range(self.bindings) if home_address(i).packed in self.ha.cache)
        if bound < self.bindings:
            raise RuntimeError(f"only {bound} of {self.bindings} Binding Updates were accepted "
                               f"(home agent counters: {dict(self.ha.counters)})")
        self.registration = {"bindings": bound, "seconds": round(time.monotonic() - started, 2),
                             "created": self.ha.counters.get("binding.created", 0)}
        return self.registration

    def _router_reachable(self) -> bool:
        entry = self.ha.nd[self.out_end.ifname].neighbors.get(self.router)
        return entry is not None and entry.state is NeighborState.REACHABLE

    # ------------------------------------------------------------ measurements

    def _run(self, size: int, forwarder: str, seconds: float) -> dict:
        n = self.bindings
        frames = source_frames(size, n, self.home_end.mac, self.src_end.mac)
        if forwarder == "reflector":
            expected, index_at = frames, ETH + 36
        else:
            expected = tunnelled_frames(size, n, self.router_mac, self.out_end.mac)
            index_at = ETH + 40 + 36
        source, sink = self._traffic_rings()
        traffic_pid, traffic = _fork(_traffic, source, sink, frames, expected, index_at, self.cpus[1])
        source.close()
        sink.close()
        extra: dict = {}
        affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        cpu = time.process_time_ns()    # this process's CPU time: the reflector's and the home agent's
        try:
            _pin(self.cpus[0])
            assert traffic.recv(1) == b"r"
            if forwarder == "reflector":
                with self.lab.enter("ha"):
                    inside = PacketRing(self.home_end.ifname, tx=False)
                    outside = PacketRing(self.out_end.ifname, rx=False, qdisc_bypass=True, tx_frames=TX_FRAMES)
                with inside, outside:
                    traffic.sendall(b"g")
                    res = reflect(inside, outside, duration=seconds)
                    elapsed = res["elapsed_ns"] / 1e9
                    extra = {"dropped": res["dropped"], "kernel_drops": inside.stats()["drops"]}
            elif forwarder in ("home_agent", "home_agent_in_place"):
                ports = self._ha_rings(in_place=forwarder == "home_agent_in_place")
                try:
                    runner = NodeRunner(self.ha, ports, batch_size=BATCH)
                    before = dict(self.ha.counters)
                    traffic.sendall(b"g")
                    t0 = time.monotonic_ns()
                    runner.run(int(seconds * 1e9))
                    elapsed = (time.monotonic_ns() - t0) / 1e9
                    home = ports[self.home_end.ifname]
                    extra = {"tunnelled": self.ha.counters["tunnelled"] - before.get("tunnelled", 0),
                             "tx_batches": runner.counters["tx_batches"],
                             "rx_batches": runner.counters["rx_batches"],
                             "tx_dropped": runner.counters["tx_dropped"],
                             "kernel_drops": home.stats()["drops"],
                             "rx_windows": home.stats()["rx_windows"]}
                    runner.close()
                finally:
                    for ring in ports.values():
                        ring.close()
            elif forwarder == "workers":
                extra = self._run_workers(seconds, traffic, affinity)
                elapsed = extra.pop("elapsed")
            else:
                table = {home_address(i).packed: care_of_address(i).packed for i in range(n)}
                with self.lab.enter("ha"):
                    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
                    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                    rx.bind((self.home_end.ifname, 0))
                    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
                    tx.bind((self.out_end.ifname, 0))
                fwd_pid, fwd = _fork(_python_forwarder, rx, tx, table, self.home_end.mac, self.router_mac,
                                     self.out_end.mac, seconds, self.cpus[0])
                rx.close()
                tx.close()
                try:
                    assert fwd.recv(1) == b"r"
                    traffic.sendall(b"g")
                    fwd.sendall(b"g")
                    res = pickle.loads(_recv_all(fwd))
                finally:
                    fwd.close()
                    _wait(fwd_pid, "Python forwarder")
                elapsed = res["elapsed_ns"] / 1e9
                extra = {"forwarded": res["forwarded"], "dropped": res["dropped"]}
        finally:
            if affinity is not None:
                os.sched_setaffinity(0, affinity)
            traffic.sendall(b"s")
            counts = pickle.loads(_recv_all(traffic))
            traffic.close()
            _wait(traffic_pid, "traffic")
        if forwarder in ("reflector", "home_agent", "home_agent_in_place") and counts["intact"]:
            # CPU time of the forwarder per intact frame (user and system, its sends' kernel work
            # included): steadier than the rate when other work shares the machine.
            extra["cpu_ns_per_frame"] = round((time.process_time_ns() - cpu) / counts["intact"])
        return {"forwarder": forwarder, "size": size, "seconds": round(elapsed, 3),
                "pps": counts["intact"] / elapsed, "intact": counts["intact"],
                "corrupt": counts["sized"] - counts["intact"], "other": counts["received"] - counts["sized"],
                "source_pps": counts["sent"] / elapsed,
                **extra}

    def _shared(self):
        """The forwarding workers' shared tables (csrc/mip6_shm.h) with this home agent's bindings and
        graph tables, made once (before any worker is forked)."""
        if self.shared is None:
            shm = _impl.load_compiled("shm")
            if shm is None:
                raise RuntimeError(f"bench forward workers: {_impl.unavailable('shm')}")
            self.shared = shm.SharedTables(workers=WORKERS, max_bindings=self.bindings)
            for key, b in self.ha.cache.items():
                self.shared.update(IPv6Address(key).packed, b.care_of_address.packed, b.sequence, b.flags,
                                   b.expires_ns)
            self.ha.batch_path.share(self.shared)
        return self.shared

    def _run_workers(self, seconds: float, traffic: socket.socket, affinity) -> dict:
        """``[daemon] workers = 2``'s data path (mip6fast/io/workers.py): two forked workers, each with its
        own rings in a PACKET_FANOUT hash group per interface, the graph over the shared tables. Not
        pinned: the two workers and the source and sink share the machine's cores as the scheduler
        places them."""
        shared = self._shared()
        before = shared.sum_counters()["graph"]["TUNNELLED"]
        names = list(self.ha.batch_path.tables.names)
        out_name = self.out_end.ifname

        def open_ring(name: str, group: int) -> PacketRing:
            if name == out_name:
                return PacketRing(name, qdisc_bypass=True, tx_frames=TX_FRAMES, fanout="hash", fanout_group=group)
            return PacketRing(name, fanout="hash", fanout_group=group)
        if affinity is not None:
            os.sched_setaffinity(0, affinity)       # the workers inherit it: let the scheduler place them
        with self.lab.enter("ha"):
            pool = WorkerPool(shared, names, open_ring)
            pool.start()
        try:
            time.sleep(0.3)                         # the workers open their rings
            traffic.sendall(b"g")
            t0 = time.monotonic_ns()
            slow = 0
            while time.monotonic_ns() - t0 < seconds * 1e9:
                time.sleep(0.01)
                for w in range(WORKERS):
                    slow += len(pool.read(w))
            elapsed = (time.monotonic_ns() - t0) / 1e9
        finally:
            pool.stop()
        total = shared.sum_counters()
        return {"elapsed": elapsed, "workers": WORKERS,
                "tunnelled": total["graph"]["TUNNELLED"] - before, "slow": slow,
                "per_worker_tx": [shared.worker_counters(w)["graph"]["TX"] for w in range(WORKERS)]}

    def measure(self, size: int, seconds: float, workers: bool = True) -> dict:
        """The forwarders at one size, back to back."""
        kinds = ("reflector", "home_agent", "home_agent_in_place", "python") + (("workers",) if workers else ())
        return {f: self._run(size, f, seconds) for f in kinds}


def _recv_all(conn: socket.socket) -> bytes:
    """A child's one message: everything until it closes its end (it exits right after sending)."""
    chunks = []
    while True:
        data = conn.recv(1 << 16)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def report(seconds: float = 1.0, quick: bool = False, sizes=SIZES, bindings: int = BINDINGS,
           pin: bool = True) -> dict:
    """The benchmark's JSON report: per size, the home agent's rate with the reflector's and the Python
    forwarder's, their ratios, and every measurement's details."""
    if quick:
        seconds = min(seconds, 0.3)
    with ForwardBench(bindings, pin=pin) as bench, \
            progress.task("bench forward", total=1 + len(sizes), unit=" step") as bar:
        bar.describe(f"registering {bindings:,} bindings")
        registration = bench.register()
        bar.update(1)
        results, runs = [], []
        for size in sizes:
            bar.describe(f"{size}-byte frames")
            m = bench.measure(size, seconds)
            bar.update(1)
            runs.extend(m.values())
            ha, refl, py = m["home_agent"]["pps"], m["reflector"]["pps"], m["python"]["pps"]
            two, in_place = m["workers"]["pps"], m["home_agent_in_place"]["pps"]
            results.append(result(f"forward_{size}B", ha / 1e6, "Mpps", size=size,
                                  reflector_mpps=round(refl / 1e6, 4), python_mpps=round(py / 1e6, 4),
                                  vs_reflector=round(ha / refl, 3) if refl else None,
                                  vs_python=round(ha / py, 2) if py else None,
                                  in_place_mpps=round(in_place / 1e6, 4),
                                  in_place_vs_reflector=round(in_place / refl, 3) if refl else None,
                                  workers2_mpps=round(two / 1e6, 4),
                                  workers2_vs_one=round(two / ha, 3) if ha else None,
                                  intact=m["home_agent"]["intact"], corrupt=m["home_agent"]["corrupt"],
                                  workers2_corrupt=m["workers"]["corrupt"]))
    return {"benchmark": "forward", "environment": environment(), "seconds": seconds, "pinned": pin,
            "registration": registration, "results": results, "runs": runs}
