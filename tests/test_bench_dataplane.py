"""``mip6fast bench dataplane``: the in-memory home agent benchmark runs end to end, checks the role's
frames before timing, and reports the ratio against the bare kernel. Never asserts on speed."""
import json
import subprocess
import sys

import pytest

from mip6fast.benchmark import dataplane

pytestmark = pytest.mark.compiled("datapath", "graph", "bcache")


def test_rows_for_every_size_and_batch():
    rows = dataplane.run(seconds=0.01, bindings=64, sizes=(64, 1500), batches=(1, 32))
    assert [(r["size"], r["batch"]) for r in rows] == [(64, 1), (64, 32), (1500, 1), (1500, 32)]
    for r in rows:
        assert r["unit"] == "Mpps" and r["value"] > 0 and r["baseline"] > 0
        # The ratio is of the unrounded rates; value and baseline are shown to 3 decimals, so the
        # ratio recomputed from them may differ in its last rounded digit.
        assert abs(r["ratio"] - r["value"] / r["baseline"]) <= 0.011
        assert r["graph_ns"] > 0 and r["kernel_ns"] > 0 and r["bindings"] == 64


def test_the_check_refuses_wrong_frames(monkeypatch):
    """The output check is real: expecting another outer hop limit than the home agent's fails it
    before any timing."""
    real = dataplane.tunnelled_frames

    def other_hop_limit(*args):
        rows = real(*args).copy()
        rows[:, dataplane.ETH + 7] ^= 1
        return rows
    monkeypatch.setattr(dataplane, "tunnelled_frames", other_hop_limit)
    with pytest.raises(RuntimeError):
        dataplane.run(seconds=0.01, bindings=8, sizes=(64,), batches=(8,))


def test_command_prints_json():
    out = subprocess.run([sys.executable, "-m", "mip6fast", "bench", "dataplane", "--quick", "--json",
                          "--seconds", "0.01"], capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(out.stdout)
    assert report["benchmark"] == "dataplane" and len(report["results"]) == 9
