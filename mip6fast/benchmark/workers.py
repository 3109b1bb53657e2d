"""``mip6fast bench workers``: the home agent's forwarding workers in memory (issue 17, "a home agent on
every core"). One shared mapping (mip6fast._shm.SharedTables) holds 10,000 bindings and the tables;
1, then 2, ... forked worker processes each run the home agent's graph (WorkerGraph.run: one C call
per batch, inside a grace-period read section) over in-memory batches of frames for bound home
addresses, each refilled from a template before every run (a copy of the slab and columns: the I/O a
ring would do, at memory speed). The aggregate rate of N workers is the sum of each one's packets over
its own elapsed time, all started together; the ratio is that against one worker's, measured in the
same run. Nothing here is asserted by the tests: the machine (cores shared with other processes,
frequency scaling, SMT siblings) decides what N workers get, and the report says how many CPUs there
were and how many CPU-seconds the workers got (``cpu_seconds``, ``mpps_per_cpu``: the same packets per
CPU-second for 1 and N workers means the work scales, and a ratio below N is the CPU they were given).
"""
from __future__ import annotations

import os
import struct
import time

import numpy as np

from .. import _impl
from ..batch import PacketBatch
from . import environment, result

BINDINGS = 10_000
BATCH = 256
HA = bytes.fromhex("20010db8000100000000000000000001")
CN = bytes.fromhex("20010db8000500000000000000000005")
MAC = bytes.fromhex("020000000001")
MAC_OUT = bytes.fromhex("020000000002")
ROUTER_MAC = bytes.fromhex("02000000000f")
ROUTER = bytes.fromhex("fe80000000000000000000000000000f")
FOREVER = 1 << 62
NOW = 10_000_000_000


def _home(i: int) -> bytes:
    return HA[:12] + struct.pack("!I", 0x10000 + i)


def _frame(home: bytes, size: int) -> bytes:
    payload = bytes(max(0, size - 48))
    udp = struct.pack("!HHHH", 5000, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + CN + home + udp
    return MAC + ROUTER_MAC + b"\x86\xdd" + ip


def shared_tables(shm, workers: int):
    t = shm.SharedTables(workers=workers, max_bindings=BINDINGS)
    t.set_interfaces([(MAC, 1500, True), (MAC_OUT, 1500, True)])
    t.set_routes([(HA[:8] + bytes(8), 64, 0, None), (bytes(16), 0, 1, ROUTER)])
    t.set_tunnel(HA, 1500, 0, 64, 0x02, 0x02)
    t.set_own([HA])
    t.adj_set(1, ROUTER, ROUTER_MAC, FOREVER)
    for i in range(BINDINGS):
        t.update(_home(i), bytes.fromhex("20010db80002000000000000") + struct.pack("!I", i), 1, 0xC000, FOREVER)
    return t


def _worker(shm, t, index: int, seconds: float, size: int, go: int, out: int) -> None:   # pragma: no cover
    rng = np.random.default_rng(index)
    tmpl = PacketBatch(capacity=BATCH, slot_size=256 if size <= 128 else 2048, headroom=64)
    for i in rng.integers(0, BINDINGS, BATCH):
        tmpl.append(_frame(_home(int(i)), size))
    b = PacketBatch(capacity=BATCH, slot_size=tmpl.slot_size, headroom=64)
    cols = ("_buf", "_offset", "_length", "_verdict", "_reason", "_aux")
    w = shm.WorkerGraph(t, index)
    os.read(go, 1)
    packets, start, cpu0 = 0, time.perf_counter(), time.process_time()
    end = start + seconds
    while True:
        for _ in range(16):
            for c in cols:
                np.copyto(getattr(b, c), getattr(tmpl, c))
            b.count = BATCH
            w.run(b, 0, NOW)
        packets += 16 * BATCH
        now = time.perf_counter()
        if now >= end:
            break
    os.write(out, struct.pack("!Qdd", packets, now - start, time.process_time() - cpu0))


def measure(workers: int, seconds: float, size: int = 64) -> dict:
    """N forked workers over one shared mapping: aggregate Mpps, each one's, and the frames the graphs
    sent (tx: every packet of every batch is for a bound home, so it equals the packets run)."""
    shm = _impl.load_compiled("shm")
    if shm is None:
        raise RuntimeError(f"mip6fast bench workers: {_impl.unavailable('shm')}")
    t = shared_tables(shm, workers)
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    pids = []
    try:
        for k in range(workers):
            pid = os.fork()
            if pid == 0:     # pragma: no cover - the worker
                code = 1
                try:
                    os.close(go_w)
                    os.close(out_r)
                    _worker(shm, t, k, seconds, size, go_r, out_w)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        os.write(go_w, b"g" * workers)
        rates, cpu, total = [], 0.0, 0
        for _ in pids:
            packets, elapsed, used = struct.unpack("!Qdd", os.read(out_r, 24))
            rates.append(packets / elapsed / 1e6)
            cpu += used
            total += packets
    finally:
        for pid in pids:
            os.waitpid(pid, 0)
        for fd in (go_r, go_w, out_r, out_w):
            os.close(fd)
    sent = t.sum_counters()["graph"]["TX"]
    t.close()
    # CPU seconds the workers got: on a machine shared with other work, N workers may get less than N
    # cores; packets per CPU-second says whether the work itself scales (the shared tables' cost).
    return {"mpps": sum(rates), "per_worker": [round(r, 3) for r in rates], "tx": sent,
            "cpu_seconds": round(cpu, 3), "mpps_per_cpu": round(total / cpu / 1e6, 3) if cpu else None}


def run(seconds: float = 1.0, counts: tuple[int, ...] = (1, 2)) -> list:
    out = []
    one = measure(1, seconds)
    out.append(result("workers_1", one["mpps"], "Mpps", per_worker=one["per_worker"], batch=BATCH,
                      bindings=BINDINGS, forwarded=one["tx"], cpu_seconds=one["cpu_seconds"],
                      mpps_per_cpu=one["mpps_per_cpu"]))
    for n in counts:
        if n == 1:
            continue
        got = measure(n, seconds)
        out.append(result(f"workers_{n}", got["mpps"], "Mpps", one["mpps"], per_worker=got["per_worker"],
                          batch=BATCH, bindings=BINDINGS, forwarded=got["tx"], cpu_seconds=got["cpu_seconds"],
                          mpps_per_cpu=got["mpps_per_cpu"], baseline_is="one worker, same run"))
    return out


def report(seconds: float = 1.0) -> dict:
    """run() in the shape the ``mip6fast bench`` printer takes; ratio = N workers / one worker."""
    return {"benchmark": "workers", "environment": environment(), "results": run(seconds)}
