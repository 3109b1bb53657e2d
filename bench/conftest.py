import pytest

from mip6fast import _impl


def impls(family):
    compiled, twin = _impl.load_both(family)
    if compiled is None:
        raise RuntimeError(f"mip6fast._{family} is not compiled: benchmarks compare it with its twin")
    return [pytest.param(compiled, id="c"), pytest.param(twin, id="py")]
