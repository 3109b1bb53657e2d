"""How fast the binding store commits: group commits of 1, 10, 100 and 1,000 records, with
synchronous FULL and NORMAL, on a disk directory and on tmpfs, against MemoryBindingStore (the cost of
the API itself: building batches, no I/O), and on an etcd cluster (``--etcd URL,URL,...``: a commit is
one etcd transaction, committed by a Raft majority; the keys go under a fresh prefix, removed after).

    python -m mip6fast.store.benchmark [--seconds S] [--json] [--disk DIR] [--tmpfs DIR] [--etcd URLS]

Each measurement opens a fresh store holding ``population`` bindings (a running home agent's), then
commits batches of Refreshed records (new sequence numbers, care-of addresses and expiries for
bindings of that population, as a burst of refreshing Binding Updates would make) for ``seconds``:
commits/s, records/s, and the time of one commit (median, 99th percentile, worst), which is what a
Binding Acknowledgement waits for. Staging is inside the timing (it is part of the per-batch cost);
building the records is not (the home agent builds them anyway). The disk default is the system's
temporary directory, the tmpfs default /dev/shm (or, as root, a tmpfs mounted for the run).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from ipaddress import IPv6Address
from typing import Any

from .base import BindingStore
from .etcd import EtcdBindingStore
from .memory import MemoryBindingStore
from .records import FLAG_ACK, FLAG_HOME, NS_PER_S, BindingRecord, Refreshed, Registered
from .sqlite import SQLiteBindingStore

__all__ = ["filesystem_type", "main", "measure", "run"]

BATCH_SIZES = (1, 10, 100, 1000)
POPULATION = 10_000
_BASE = 0x20010DB8_0001_0000_0000_0000_0000_0000
_COA = 0x20010DB8_0002_0000_0000_0000_0000_0000


def filesystem_type(directory: str) -> str:
    """The type of the filesystem holding directory (from /proc/mounts; "?" if unknown)."""
    path = os.path.realpath(directory)
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                inside = path == mount or path.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def _records(n: int, population: int, start: int, now_wall_ns: int) -> list[Refreshed]:
    out = []
    for k in range(start, start + n):
        i = k % population
        out.append(Refreshed(BindingRecord(IPv6Address(_BASE + i), IPv6Address(_COA + (k & 0xFFFF)),
                                           (k // population + 2) & 0xFFFF, FLAG_HOME | FLAG_ACK, 420,
                                           now_wall_ns + 420 * NS_PER_S + k, "esp-spi:0x1001")))
    return out


def _open(medium: str, directory: str | None, synchronous: str,
          endpoints: Sequence[str] = ()) -> BindingStore:
    if medium == "memory":
        return MemoryBindingStore()
    if medium == "etcd":
        return EtcdBindingStore(endpoints, prefix=f"/mip6fast-bench/{uuid.uuid4().hex[:12]}/")
    assert directory is not None
    return SQLiteBindingStore(os.path.join(directory, "bench.db"), synchronous=synchronous)


def measure(medium: str, directory: str | None, synchronous: str, batch: int, *, seconds: float = 1.0,
            population: int = POPULATION, min_commits: int = 5, endpoints: Sequence[str] = ()) -> dict[str, Any]:
    """One row: commits of ``batch`` records into a fresh store in ``directory`` (None for memory and
    etcd; etcd: on the cluster of ``endpoints``)."""
    now = time.time_ns()
    with tempfile.TemporaryDirectory(prefix="mip6fast-store-bench-", dir=directory) as d:
        store = _open(medium, d if directory is not None else None, synchronous, endpoints)
        try:
            store.stage_all(Registered(r.binding) for r in _records(population, population, 0, now))
            store.commit()
            # records for about the time budget, built outside the timing and reused cyclically
            ready = [_records(batch, population, population + j * batch, now) for j in range(64)]
            times: list[float] = []
            end = time.perf_counter() + seconds
            j = 0
            while time.perf_counter() < end or len(times) < min_commits:
                records = ready[j % len(ready)]
                t0 = time.perf_counter()
                for r in records:
                    store.stage(r)
                store.commit()
                times.append(time.perf_counter() - t0)
                j += 1
        finally:
            if isinstance(store, EtcdBindingStore) and not store.closed:
                end_key = store.prefix[:-1] + chr(ord(store.prefix[-1]) + 1)
                store.call("cleanup", "kv/deleterange", {"key": _b64(store.prefix), "range_end": _b64(end_key)})
            store.close()
    total = sum(times)
    times.sort()
    return {
        "medium": medium,
        "filesystem": ("memory" if medium == "memory" else f"etcd x{len(endpoints)}" if medium == "etcd"
                       else filesystem_type(directory or "/")),
        "synchronous": synchronous if medium not in ("memory", "etcd") else "-",
        "batch": batch,
        "commits": len(times),
        "commits_per_s": round(len(times) / total, 1),
        "records_per_s": round(len(times) * batch / total),
        "commit_ms_median": round(statistics.median(times) * 1e3, 3),
        "commit_ms_p99": round(times[min(len(times) - 1, int(len(times) * 0.99))] * 1e3, 3),
        "commit_ms_max": round(times[-1] * 1e3, 3),
    }


def run(directories: dict[str, str], batch_sizes: Sequence[int] = BATCH_SIZES,
        synchronous: Sequence[str] = ("FULL", "NORMAL"), seconds: float = 1.0,
        population: int = POPULATION, memory: bool = True, etcd: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every combination of medium (name -> directory), synchronous setting and batch size, then the
    memory store's rows if ``memory``, then the etcd cluster's at ``etcd`` (endpoints) if any."""
    rows = []
    for batch in batch_sizes if etcd else ():
        rows.append(measure("etcd", None, "-", batch, seconds=seconds, population=population, endpoints=etcd))
    for medium, directory in directories.items():
        for sync in synchronous:
            for batch in batch_sizes:
                rows.append(measure(medium, directory, sync, batch, seconds=seconds, population=population))
    if memory:
        for batch in batch_sizes:
            rows.append(measure("memory", None, "FULL", batch, seconds=seconds, population=population))
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("medium", "fs", "sync", "batch", "commits/s", "records/s", "commit ms p50", "p99", "max")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        lines.append(" | ".join(str(x) for x in (
            r["medium"], r["filesystem"], r["synchronous"], r["batch"], f"{r['commits_per_s']:,.0f}",
            f"{r['records_per_s']:,}", r["commit_ms_median"], r["commit_ms_p99"], r["commit_ms_max"])))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mip6fast.store.benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1)")
    p.add_argument("--disk", default=tempfile.gettempdir(), help="a directory on the disk to measure")
    p.add_argument("--tmpfs", default=None, help="a directory on tmpfs (default /dev/shm, or a tmpfs "
                                                 "mounted for the run as root)")
    p.add_argument("--batches", default=",".join(map(str, BATCH_SIZES)), help="batch sizes, comma-separated")
    p.add_argument("--population", type=int, default=POPULATION, help="bindings in the store")
    p.add_argument("--etcd", default="", help="an etcd cluster's client URLs, comma-separated (measured too)")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = p.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    directories = {"disk": args.disk}
    mounted = None
    tmpfs = args.tmpfs
    if tmpfs is None and filesystem_type("/dev/shm") == "tmpfs":
        tmpfs = "/dev/shm"
    if tmpfs is None and os.geteuid() == 0:
        mounted = tempfile.mkdtemp(prefix="mip6fast-store-bench-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", mounted], check=False)
        if r.returncode != 0:
            os.rmdir(mounted)
            mounted = None
        tmpfs = mounted
    if tmpfs is not None:
        directories["tmpfs"] = tmpfs
    try:
        rows = run(directories, batches, seconds=args.seconds, population=args.population,
                   etcd=[e for e in args.etcd.split(",") if e])
    finally:
        if mounted is not None:
            subprocess.run(["umount", mounted], check=False)
            os.rmdir(mounted)
    where = {k: f"{v} ({filesystem_type(v)})" for k, v in directories.items()}
    env = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
           "platform": platform.platform(), "directories": where}
    if args.json:
        print(json.dumps({"environment": env, "results": rows}, indent=2))
    else:
        print(f"# binding store commits; Python {env['python']}, SQLite {env['sqlite']}, {env['cpus']} CPUs; "
              + ", ".join(f"{k}: {v}" for k, v in where.items()))
        print(_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
