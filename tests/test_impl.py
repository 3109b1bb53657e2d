"""Guard against a silent fallback: unless pure Python was asked for, every compiled module must load.
And the other way round: with MIP6FAST_PURE_PYTHON=1 the package runs without any compiled code."""
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mip6fast import _impl

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(_impl.PURE_PYTHON, reason="MIP6FAST_PURE_PYTHON=1 asks for the twins")
@pytest.mark.parametrize("family", _impl.COMPILED)
def test_compiled_module_is_loaded(family):
    if family in _impl.TWINS:
        mod = _impl.load(family)
    else:
        mod = _impl.load_compiled(family)
        assert mod is not None, _impl.unavailable(family)
    assert mod.__name__ == f"mip6fast._{family}", _impl.FALLBACKS.get(family)
    assert mod.__file__.endswith((".so", ".pyd")), mod.__file__


@pytest.mark.skipif(not _impl.PURE_PYTHON, reason="only with MIP6FAST_PURE_PYTHON=1")
@pytest.mark.parametrize("family", _impl.COMPILED)
def test_pure_python_mode_loads_the_twins(family):
    if family in _impl.TWINS:
        assert _impl.load(family).__name__ == f"mip6fast._{family}_py"
    else:
        assert _impl.load_compiled(family) is None and "MIP6FAST_PURE_PYTHON=1" in _impl.unavailable(family)
    assert family not in _impl.FALLBACKS


def test_every_compiled_module_but_the_ring_and_the_shared_tables_has_a_twin():
    # (the shared tables are memory shared between processes: what the workers compute over them is the
    # graph's, whose twin is _graph_py)
    assert set(_impl.COMPILED) - set(_impl.TWINS) == {"ring", "shm"}
    for family in _impl.TWINS:
        assert importlib.import_module(f"mip6fast._{family}_py")


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.compiled(f)) for f in _impl.TWINS])
def test_twin_exists_with_the_same_api(family):
    twin = importlib.import_module(f"mip6fast._{family}_py")
    compiled, _ = _impl.load_both(family)
    public = {n for n in dir(compiled) if not n.startswith("_") and callable(getattr(compiled, n))}
    assert public <= set(dir(twin)), public - set(dir(twin))


# What a pure-Python process imports: every layer, and a ring opened (which must fail, saying why).
PURE_PROBE = """
import json, sys
import mip6fast, mip6fast.wire, mip6fast.roles, mip6fast.sim, mip6fast.scenarios, mip6fast.datapath
import mip6fast.io.pcap, mip6fast.io.ring, mip6fast.io.tun, mip6fast.io.runner, mip6fast.io.packet_socket
import mip6fast.daemon, mip6fast.cli
from mip6fast import _impl
from mip6fast.io.ring import PacketRing, RingError
try:
    PacketRing("lo")
    ring = "opened"
except RingError as exc:
    ring = str(exc)
compiled = sorted(name for name, m in sys.modules.items()
                  if name.startswith("mip6fast.") and str(getattr(m, "__file__", "")).endswith((".so", ".pyd")))
print(json.dumps({"compiled": compiled, "fallbacks": _impl.FALLBACKS, "ring": ring,
                  "datapath": mip6fast.datapath._dp.__name__}))
"""


def test_pure_python_mode_loads_no_compiled_module():
    env = {**os.environ, "MIP6FAST_PURE_PYTHON": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MIP6FAST_REQUIRE_COMPILED", None)
    done = subprocess.run([sys.executable, "-c", PURE_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["compiled"] == [] and got["fallbacks"] == {}
    assert got["datapath"] == "mip6fast._datapath_py"
    assert "AF_PACKET rings are not available" in got["ring"] and "MIP6FAST_PURE_PYTHON=1" in got["ring"]
