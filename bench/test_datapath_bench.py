"""pytest-benchmark: the data-path kernels (compiled, id "c") beside the pure-Python reference (id "py"),
on the batches mip6fast.benchmark.datapath builds (every packet forwarded; see its docstring for how the
compiled batches are reset between rounds: a C restore of columns and rewritten header bytes, included
in the "c" timings).

Run: python -m pytest bench/test_datapath_bench.py --benchmark-only --benchmark-group-by=param:kernel"""
import pytest

from mip6fast import _datapath_py as ref
from mip6fast.batch import PacketBatch, Verdict
from mip6fast.benchmark import datapath as bd

KERNELS = ["encapsulate", "decapsulate", "hao_insert", "hao_process", "rh2_insert", "rh2_process"]


@pytest.mark.parametrize("impl", ["c", "py"])
@pytest.mark.parametrize("batch_size", bd.BATCHES)
@pytest.mark.parametrize("size", bd.SIZES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel(benchmark, kernel, size, batch_size, impl):
    case = next(c for c in bd._cases(size, batch_size) if c.name == kernel)
    benchmark.extra_info.update(packets_per_round=batch_size, size=size)
    if impl == "py":
        counters = ref.new_counters()
        out = benchmark(ref.run_list, case.one_py, case.packets, counters, *case.args_py)
        assert all(v == Verdict.FORWARD for v, _, _, _ in out)
        return
    batch = PacketBatch.from_packets(case.packets, capacity=batch_size, slot_size=2048, headroom=128)
    snap = bd.dp.Snapshot(batch, batch.save(case.head_bytes))

    def round_():
        snap.restore()
        return case.run_c(batch)

    assert benchmark(round_) == batch_size
    assert all(v == Verdict.FORWARD for v in batch.verdicts())
