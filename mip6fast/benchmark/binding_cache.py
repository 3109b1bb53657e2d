"""``mip6fast bench binding_cache``: the C binding table against Python baselines measured in the same run.

Lookups: a table of n random 16-byte home addresses (n = 1e3, 1e5, 1e6) looked up in a random order,
every key once per round, against a Python dict of the same keys as bytes (``list(map(d.get, keys))``,
the fastest way Python has to look up a batch). The dict is given its best case short of identical
objects: the looked-up bytes objects are copies of its keys with their hashes already cached.
- ``bcache_lookup_batch_<n>``: one ``lookup_batch`` call over the (n, 16) uint8 array.
- ``bcache_lookup_single_<n>``: ``list(map(table.lookup, keys))``, one Python call per key.
Updates (1e5 bindings, each refreshed with the next sequence number): the C table against its pure-Python
twin (mip6fast._bcache_py), single calls and one ``update_batch``.
Memory: bytes per binding of the C table holding 1e6 bindings (entry array, index, live bitmap), against
the twin's bytes per binding (tracemalloc, 1e5 bindings).

Every item is a cost (ns per operation, bytes per binding): ``"better": "lower"``, and ``ratio`` is
baseline / value, so a ratio above 1 means mip6fast is faster (or smaller) by that factor."""
from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np

from .. import _impl
from . import environment, measure, result

SIZES = (1_000, 100_000, 1_000_000)
SEED = bytes(range(16))


def _cost(name: str, value: float, unit: str, baseline: float, **extra) -> dict:
    return result(name, value, unit, baseline, better="lower",
                  ratio=round(baseline / value, 2) if value else None, **extra)


def _label(n: int) -> str:
    return f"1e{len(str(n)) - 1}"


def lookup_setup(n: int, seed: int = 1):
    """(table, dict, keys in lookup order as an array, the same keys as a list of bytes)."""
    bc, _ = _impl.load_both("bcache")
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    table = bc.BindingTable(16, n, SEED)
    outcome, _, _ = table.update_batch(keys, keys, 1, 0, 1 << 62)
    if not (outcome == 0).all():  # random 16-byte keys do not repeat in practice
        raise RuntimeError("duplicate keys in the benchmark set")
    d = {k: i for i, k in enumerate(map(bytes, keys))}
    order = keys[rng.permutation(n)]
    order_list = [bytes(k) for k in order]  # distinct objects from the dict's keys...
    list(map(d.get, order_list))            # ...with their hashes cached, as after the first round
    return table, d, order, order_list


def _time_per_op(fn, n: int, seconds: float) -> float:
    return 1e9 / measure(fn, seconds, n)


def _lookups(n: int, seconds: float, twin) -> list:
    table, d, order, order_list = lookup_setup(n)
    slots = np.empty(n, np.int32)
    if table.lookup_batch(order, out=slots).tolist() != list(map(d.get, order_list)):
        raise RuntimeError("table and dict disagree")
    out = []
    c = _time_per_op(lambda: table.lookup_batch(order, out=slots), n, seconds)
    py = _time_per_op(lambda: list(map(d.get, order_list)), n, seconds)
    out.append(_cost(f"bcache_lookup_batch_{_label(n)}", c, "ns/lookup", py, lookups_per_call=n))
    lookup, get = table.lookup, d.get
    c = _time_per_op(lambda: list(map(lookup, order_list)), n, seconds)
    py = _time_per_op(lambda: list(map(get, order_list)), n, seconds)
    out.append(_cost(f"bcache_lookup_single_{_label(n)}", c, "ns/lookup", py))
    if n == 1_000_000:
        out.append(_cost("bcache_memory_per_binding_1e6", table.memory() / len(table), "bytes",
                         _twin_bytes_per_binding(twin), entry_size=table.entry_size(),
                         baseline_is="the pure-Python twin, 1e5 bindings"))
    return out


def run(seconds: float = 0.3) -> list:
    bc, twin = _impl.load_both("bcache")
    if bc is None:
        raise RuntimeError("mip6fast._bcache is not built; nothing to compare with the baseline")
    out = []
    for n in SIZES:
        out.extend(_lookups(n, seconds if n < 1_000_000 else max(seconds, 1.0), twin))
        gc.collect()
    out.extend(_updates(bc, twin, 100_000, seconds))
    return out


def _twin_bytes_per_binding(twin, n: int = 100_000) -> float:
    keys = np.random.default_rng(2).integers(0, 256, (n, 16), dtype=np.uint8)
    rows = [(bytes(k), bytes(k[::-1])) for k in keys]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        t = twin.BindingTable(16, n, SEED)
        for k, c in rows:
            t.update(k, c, 1, 0x4000, 1 << 62)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return used / n


def _updates(bc, twin, n: int, seconds: float) -> list:
    keys = np.random.default_rng(3).integers(0, 256, (n, 16), dtype=np.uint8)
    coas = keys[:, ::-1].copy()
    rows = [(bytes(k), bytes(c)) for k, c in zip(keys, coas)]
    res = []
    for label, batch in (("single", False), ("batch", True)):
        times = []
        for mod in (bc, twin):
            t = mod.BindingTable(16, n, SEED)
            t.update_batch(keys, coas, 0, 0, 1)
            seq = [0]

            def refresh(t=t, seq=seq, batch=batch):
                seq[0] = (seq[0] + 1) & 0xFFFF
                s = seq[0]
                if batch:
                    t.update_batch(keys, coas, s, 0x4000, 1 << 62)
                else:
                    up = t.update
                    for k, c in rows:
                        up(k, c, s, 0x4000, 1 << 62)

            t0 = time.perf_counter()
            refresh()
            one = time.perf_counter() - t0
            times.append(_time_per_op(refresh, n, max(seconds, 2 * one)))
            if t.get(rows[0][0])[2] != seq[0]:
                raise RuntimeError("refresh did not update")
        res.append(_cost(f"bcache_update_{label}_1e5", times[0], "ns/update", times[1], baseline_is="the twin"))
    return res


def report(seconds: float = 0.3) -> dict:
    """run() in the shape the ``mip6fast bench`` printer takes."""
    return {"benchmark": "binding_cache", "environment": environment(), "results": run(seconds)}
