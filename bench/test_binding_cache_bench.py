"""pytest-benchmark: binding cache lookups, the C table (id "c") beside a Python dict of bytes keys (id
"dict", looked up with ``list(map(d.get, keys))``), at 1e3, 1e5 and 1e6 bindings.

Every round looks up all n keys once, in a random order; compare the two ids' times directly (same n
lookups per call). ``extra_info["lookups"]`` holds n. Setup of the 1e6 tables takes a few seconds.

Run: python -m pytest bench/test_binding_cache_bench.py --benchmark-only --benchmark-group-by=func,param:n"""
import functools

import numpy as np
import pytest

from mip6fast import _impl
from mip6fast.benchmark.binding_cache import lookup_setup

SIZES = [1_000, 100_000, 1_000_000]


@functools.lru_cache(maxsize=1)
def tables(n):
    if _impl.load_both("bcache")[0] is None:
        raise RuntimeError("mip6fast._bcache is not built: benchmarks compare it with a dict")
    return lookup_setup(n)


@pytest.mark.parametrize("impl", ["c", "dict"])
@pytest.mark.parametrize("n", SIZES)
def test_lookup_batch(benchmark, n, impl):
    table, d, order, order_list = tables(n)
    benchmark.extra_info["lookups"] = n
    if impl == "c":
        out = np.empty(n, np.int32)
        res = benchmark(table.lookup_batch, order, out)
        assert (res >= 0).all()
    else:
        res = benchmark(lambda: list(map(d.get, order_list)))
        assert None not in res


@pytest.mark.parametrize("impl", ["c", "dict"])
@pytest.mark.parametrize("n", SIZES)
def test_lookup_single(benchmark, n, impl):
    table, d, _, order_list = tables(n)
    benchmark.extra_info["lookups"] = n
    get = table.lookup if impl == "c" else d.get
    res = benchmark(lambda: list(map(get, order_list)))
    assert len(res) == n


@pytest.mark.parametrize("n", SIZES)
def test_lookup_batch_256(benchmark, n):
    """Packet-batch sized calls (256 keys each) over the same keys: the per-call overhead included."""
    table, _, order, _ = tables(n)
    chunks = [order[i:i + 256] for i in range(0, n, 256)]
    out = np.empty(256, np.int32)
    benchmark.extra_info["lookups"] = n

    def run():
        for c in chunks:
            table.lookup_batch(c, out)

    benchmark(run)
