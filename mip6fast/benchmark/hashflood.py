"""``mip6fast bench hashflood``: the binding cache under home addresses chosen to collide (issue 12).

A correspondent or home agent puts whatever home address a Binding Update names into its binding cache,
so a sender chooses the keys. If it can make them share a bucket, every insert and lookup walks one
probe sequence that grows with the flood: quadratic work for the sender's linear effort. The table's
hash is SipHash-1-3 under a per-table secret (csrc/mip6_bcache.c); this benchmark measures what chosen
keys cost against random ones, in the same run, on fresh tables:

- ``random``: uniformly random 16-byte keys (the baseline of every ratio);
- ``same_prefix64``: one /64, interface identifiers 0, 1, 2, ... (keys sharing their first 64 bits);
- ``same_suffix64``: prefixes 2001:db8:0:0, 2001:db8:0:1, ... with one interface identifier (keys
  sharing their last 64 bits);
- ``old_attack``: the attack on the hash this table had before SipHash, a wyhash-style multiply-fold
  whose 128-bit product vanished whenever the key's last 8 bytes equalled the second secret word: keys
  whose last 8 bytes are that word for seed 0 (the correspondent's fixed default seed then), with
  varying first 8 bytes. All of them had one hash value;
- ``one_byte``: a base key with one byte changed (every position, every other value: 16 x 255 keys
  at most).

The tables use seed 0, i.e. a seed the sender knows (the worst case for a structural attack; the
roles now draw a random seed per table, see docs/DATAPATH.md). Each key set of n keys is inserted with
one ``update_batch`` into a ``BindingTable(16, 1024, seed)`` (the correspondent's default sizing: the
flood grows the table) and looked up with ``lookup_batch`` in a shuffled order. Items, per set: insert
and lookup ns per key (the best of the runs that fit in ``seconds``, at least one), ``max_probe`` (the
longest probe sequence in the index, ``BindingTable.stats``), and for the crafted sets ``baseline``
= the random keys' figure at the same n and ``ratio`` = crafted / random: about 1 when chosen keys cost
what random ones do. Never asserted on by tests (tests/test_binding_cache_hash.py checks the structure:
probe lengths and distinct buckets)."""
from __future__ import annotations

import time

import numpy as np

from .. import _impl
from . import environment, measure, result

__all__ = ["KEYS", "OLD_ATTACK_WORD", "SEED", "key_sets", "report", "run"]

KEYS = 64_000
SEED = bytes(16)
# The second of the six secret words the old multiply-fold derived from seed 0 (a splitmix64 spread of
# the seed): its 128-bit product was (k0 ^ s0) * (k1 ^ s1), zero for every key whose last 8 bytes read
# (in host order, little-endian here) as this word.
OLD_ATTACK_WORD = 0xA30B605748CCC9D2
PREFIX = bytes.fromhex("20010db800010000")        # 2001:db8:1::/64
IID = bytes.fromhex("0000000000000001")            # ::1


def _counter_rows(n: int, fixed: bytes, fixed_first: bool) -> np.ndarray:
    """n keys: 8 fixed bytes and a big-endian counter 0..n-1 (after or before them)."""
    counter = np.arange(n, dtype=">u8").view(np.uint8).reshape(n, 8)
    fixed_rows = np.broadcast_to(np.frombuffer(fixed, np.uint8), (n, 8))
    parts = (fixed_rows, counter) if fixed_first else (counter, fixed_rows)
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def key_sets(n: int = KEYS, seed: int = 1) -> dict[str, np.ndarray]:
    """The key sets above as (m, 16) uint8 arrays of distinct keys (m = n, but at most 4,080 for
    one_byte)."""
    if not 0 < n <= 1 << 32:
        raise ValueError("hashflood: 1 to 2^32 keys per set")
    rng = np.random.default_rng(seed)
    sets = {"random": rng.integers(0, 256, (n, 16), dtype=np.uint8)}
    sets["same_prefix64"] = _counter_rows(n, PREFIX, fixed_first=True)
    suffix = _counter_rows(n, IID, fixed_first=False)
    suffix[:, :4] = np.frombuffer(bytes.fromhex("20010db8"), np.uint8)  # 2001:db8:<counter>::1
    sets["same_suffix64"] = suffix
    attack = suffix.copy()
    attack[:, 8:] = np.frombuffer(OLD_ATTACK_WORD.to_bytes(8, "little"), np.uint8)
    sets["old_attack"] = attack
    base = rng.integers(0, 256, 16, dtype=np.uint8)
    rows = []
    for pos in range(16):
        for value in range(256):
            if value != base[pos] and len(rows) < n:
                row = base.copy()
                row[pos] = value
                rows.append(row)
    sets["one_byte"] = np.array(rows, dtype=np.uint8).reshape(-1, 16)
    for name, keys in sets.items():
        if len({k.tobytes() for k in keys}) != len(keys):
            raise RuntimeError(f"hashflood: duplicate keys in the {name} set")
    return sets


def _measure_set(bc, keys: np.ndarray, seconds: float, rng) -> dict:
    n = keys.shape[0]
    coas = keys[:, ::-1].copy()
    best, spent, table = float("inf"), 0.0, None
    while table is None or spent < seconds:
        table = bc.BindingTable(16, 1024, SEED)
        t0 = time.perf_counter()
        outcome, _, _ = table.update_batch(keys, coas, 1, 0, 1 << 62)
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
        if not (outcome == 0).all():
            raise RuntimeError("hashflood: an insert was refused")
    order = keys[rng.permutation(n)]
    slots = np.empty(n, np.int32)
    if (table.lookup_batch(order, out=slots) < 0).any():
        raise RuntimeError("hashflood: a lookup missed")
    lookup = 1e9 / measure(lambda: table.lookup_batch(order, out=slots), seconds, n)
    return {"insert": best * 1e9 / n, "lookup": lookup, "max_probe": table.stats()["max_probe"]}


def run(n: int = KEYS, seconds: float = 0.3) -> list:
    bc, _ = _impl.load_both("bcache")
    if bc is None:
        raise RuntimeError("mip6fast._bcache is not built: the flood is measured on the C table")
    rng = np.random.default_rng(2)
    sets = key_sets(n)
    baselines: dict[int, dict] = {}
    out = []
    for name, keys in sets.items():
        m = keys.shape[0]
        if name == "random":
            got = baselines[m] = _measure_set(bc, keys, seconds, rng)
        else:
            if m not in baselines:  # a smaller set (one_byte): random keys of its size
                baselines[m] = _measure_set(bc, sets["random"][:m], seconds, rng)
            got = _measure_set(bc, keys, seconds, rng)
        base = None if name == "random" else baselines[m]
        for what in ("insert", "lookup"):
            extra = {"keys": m, "max_probe": got["max_probe"]}
            if base is None:
                out.append(result(f"{what}_{name}", got[what], "ns/key", better="lower", **extra))
            else:
                out.append(result(f"{what}_{name}", got[what], "ns/key", base[what], better="lower",
                                  baseline_is=f"random keys, same count (max_probe {base['max_probe']})",
                                  **extra))
    return out


def report(seconds: float = 0.3, n: int = KEYS) -> dict:
    """run() in the shape the ``mip6fast bench`` printer takes; ratio = crafted / random."""
    return {"benchmark": "hashflood", "environment": environment(), "keys": n, "results": run(n, seconds)}
