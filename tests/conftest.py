import importlib
import os

import pytest
from hypothesis import settings as hypothesis_settings

from mip6fast import _impl
from mip6fast.roles.counters import set_strict

# Every counter a role increments must be declared (mip6fast/roles/counters.py): in the tests an
# undeclared name raises instead of being counted under counters.undeclared.
set_strict(True)

# Tests never assert on wall-clock time: hypothesis's per-example deadline (200 ms by default) is one,
# and it fails the fuzz tests on a loaded machine or under AddressSanitizer (seen: 537 ms for one
# mutated message under ASan with four other jobs on two cores). No deadline, for every test.
hypothesis_settings.register_profile("mip6fast", deadline=None)
hypothesis_settings.load_profile("mip6fast")

IN_CI = bool(os.environ.get("CI"))
PURE = _impl.PURE_PYTHON


def _compiled(family):
    try:
        return importlib.import_module(f"mip6fast._{family}")
    except ImportError:
        return None


def require_compiled(*families):
    """Skip unless the compiled modules of these families (default: all) run here. With
    MIP6FAST_PURE_PYTHON=1 that is a skip, always (that run is for the twins); a module that did not
    import is a failure under CI and a skip elsewhere."""
    families = families or _impl.COMPILED
    names = ", ".join(f"mip6fast._{f}" for f in families)
    if PURE:
        pytest.skip(f"needs the compiled {names}; MIP6FAST_PURE_PYTHON=1 runs the pure-Python twins only")
    missing = [f for f in families if _compiled(f) is None]
    if missing:
        why = f"compiled {', '.join(f'mip6fast._{f}' for f in missing)} did not import"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)


def pytest_runtest_setup(item):
    """``@pytest.mark.compiled`` (or ``compiled("ring", ...)``): the test needs compiled code by nature
    (rings, the C side of TUN devices, differential tests of C against its twin, benchmarks of the C
    code). Deselect them with ``-m "not compiled"``; otherwise they skip as ``require_compiled`` says."""
    marker = item.get_closest_marker("compiled")
    if marker is not None:
        require_compiled(*marker.args)


def both(family):
    """pytest params for the compiled module of a family and its pure-Python twin (the twin alone with
    MIP6FAST_PURE_PYTHON=1)."""
    compiled, twin = _impl.load_both(family)
    params = [pytest.param(twin, id=f"{family}-py")]
    if compiled is not None and not PURE:
        params.insert(0, pytest.param(compiled, id=f"{family}-c"))
    return params


def pair(family):
    """(compiled, twin) for differential tests (mark them ``compiled``); skips as ``require_compiled``
    does: with MIP6FAST_PURE_PYTHON=1, or (failing under CI) when the compiled one is missing."""
    require_compiled(family)
    return _impl.load_both(family)


@pytest.fixture(scope="session")
def etcd_cluster():
    """One etcd member on a loopback port, for the whole session (tests/helpers/etcd.py): each test
    works under a prefix of its own (``helpers.etcd.unique_prefix()``). Skipped (failed under CI) when
    etcd or etcd3gw is missing; stopped and its data directory removed at the end, also on failure."""
    from helpers.etcd import EtcdCluster

    with EtcdCluster(1) as cluster:
        yield cluster
