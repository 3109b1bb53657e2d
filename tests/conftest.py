import os

import pytest

from mip6fast import _impl

IN_CI = bool(os.environ.get("CI"))


def both(family):
    """pytest params for the compiled codec of a family and its pure-Python twin."""
    compiled, twin = _impl.load_both(family)
    params = [pytest.param(twin, id=f"{family}-py")]
    if compiled is not None:
        params.insert(0, pytest.param(compiled, id=f"{family}-c"))
    return params


def pair(family):
    """(compiled, twin) for differential tests; skips (fails under CI) when the compiled one is missing."""
    compiled, twin = _impl.load_both(family)
    if compiled is None:
        if IN_CI:
            pytest.fail(f"compiled mip6fast._{family} did not import")
        pytest.skip(f"compiled mip6fast._{family} is not built")
    return compiled, twin
