"""The raw AF_PACKET I/O limit of this machine: the plain C ring reflector (``mip6_ring_reflect``)
between two veth pairs in network namespaces, the baseline ``mip6fast bench forward`` (issue 5) holds
the home agent's forwarding rate against. Needs root (tests/test_ring.py runs it briefly).

Topology (mip6fast.io.netns)::

    source --veth-- [in  reflector  out] --veth-- sink

The source floods frames of one size from its transmit ring (a thread: every ring call releases the
GIL), the reflector copies them ring to ring in C for ``seconds``, and the sink counts the frames that
arrive intact (compared with numpy over the whole batch, no per-frame Python). The figure is frames
intact at the sink per second of reflector time; the kernel's drops at the reflector's ring (the
source outruns it) are reported, not hidden. On veth the kernel's own path dominates, and all three
parties share the machine's cores, so figures vary with load: compare ratios measured in one run.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from ..batch import PacketBatch
from ..io.netns import NetnsLab
from ..io.ring import PacketRing, reflect
from . import environment, result

SIZES = (64, 512, 1500)
ETHERTYPE_IPV6 = 0x86DD


def _frame(dst: bytes, src: bytes, size: int) -> bytes:
    """An Ethernet frame carrying an IPv6/UDP packet of `size` bytes (contents arbitrary but fixed)."""
    body = size - 40
    ip = (bytes((0x60, 0, 0, 0)) + body.to_bytes(2, "big") + bytes((17, 64)) + bytes(15) + b"\x01"
          + bytes(15) + b"\x02")
    udp = (5000).to_bytes(2, "big") + (9).to_bytes(2, "big") + body.to_bytes(2, "big") + bytes(2)
    return dst + src + ETHERTYPE_IPV6.to_bytes(2, "big") + ip + udp + bytes((i * 7) & 0xFF for i in range(body - 8))


def _count_intact(batch: PacketBatch, n: int, expected: np.ndarray) -> int:
    """How many of the first n packets of batch equal `expected`, in one numpy comparison."""
    size = expected.shape[0]
    slots = batch.buf.reshape(batch.capacity, batch.slot_size)[:n]
    start = batch.offset[:n] - np.arange(n, dtype=np.uint32) * np.uint32(batch.slot_size)
    ok = (batch.length[:n] == size) & (start == batch.headroom)
    body = slots[:, batch.headroom:batch.headroom + size]
    return int(np.count_nonzero(ok & (body == expected).all(axis=1)))


def reflector_rate(size: int, seconds: float = 1.0, qdisc_bypass: bool = True) -> dict:
    """One measurement: frames of `size` IPv6 bytes (plus 14 of Ethernet) for `seconds`."""
    with NetnsLab("bench") as lab:
        src_end, in_end = lab.veth("src", "refl")
        out_end, sink_end = lab.veth("refl", "sink")
        with lab.enter("src"):
            source = PacketRing(src_end.ifname, rx=False, qdisc_bypass=qdisc_bypass)
        with lab.enter("refl"):
            inside = PacketRing(in_end.ifname, tx=False)
            outside = PacketRing(out_end.ifname, rx=False, qdisc_bypass=qdisc_bypass)
        with lab.enter("sink"):
            sink = PacketRing(sink_end.ifname, tx=False)
        with source, inside, outside, sink:
            frame = _frame(in_end.mac, src_end.mac, size)
            expected = np.frombuffer(frame, dtype=np.uint8)
            out = PacketBatch.from_packets([frame] * 256)
            stop = threading.Event()
            counts = {"sent": 0, "intact": 0, "received": 0}

            def flood():
                while not stop.is_set():
                    counts["sent"] += source.send(out, timeout_ms=10)

            def drain():
                batch = PacketBatch(capacity=1024)
                quiet_since = None
                while True:
                    batch.clear()
                    n = sink.receive(batch, timeout_ms=20)
                    counts["received"] += n
                    counts["intact"] += _count_intact(batch, n, expected)
                    if stop.is_set():  # after the reflector stopped: until the link is quiet
                        quiet_since = quiet_since or time.monotonic()
                        if n:
                            quiet_since = time.monotonic()
                        elif time.monotonic() - quiet_since > 0.1:
                            return

            workers = [threading.Thread(target=flood), threading.Thread(target=drain)]
            for w in workers:
                w.start()
            try:
                res = reflect(inside, outside, duration=seconds)
            finally:
                stop.set()
                for w in workers:
                    w.join()
            elapsed = res["elapsed_ns"] / 1e9
            return {"size": size, "seconds": round(elapsed, 3), "source_pps": counts["sent"] / elapsed,
                    "reflected": res["tx_frames"], "intact": counts["intact"],
                    "corrupt": counts["received"] - counts["intact"], "pps": counts["intact"] / elapsed,
                    "reflector_dropped": res["dropped"], "kernel_drops": inside.stats()["drops"]}


def run(seconds: float = 1.0, sizes=SIZES) -> list:
    out = []
    for size in sizes:
        m = reflector_rate(size, seconds)
        out.append(result(f"ring_reflector_{size}B", m["pps"] / 1e6, "Mpps", size=size,
                          source_mpps=round(m["source_pps"] / 1e6, 3), intact=m["intact"],
                          corrupt=m["corrupt"], kernel_drops=m["kernel_drops"]))
    return out


def report(seconds: float = 1.0) -> dict:
    return {"benchmark": "ring", "environment": environment(), "results": run(seconds)}
