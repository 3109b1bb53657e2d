"""Guard against a silent fallback: unless pure Python was asked for, every codec must be compiled."""
import importlib

import pytest

from mip6fast import _impl

FAMILIES = ["checksum", "packet", "mh", "icmp6", "bcache", "tun"]


@pytest.mark.skipif(_impl.PURE_PYTHON, reason="MIP6FAST_PURE_PYTHON=1 asks for the twins")
@pytest.mark.parametrize("family", FAMILIES)
def test_compiled_codec_is_loaded(family):
    mod = _impl.load(family)
    assert mod.__name__ == f"mip6fast._{family}", _impl.FALLBACKS.get(family)
    assert mod.__file__.endswith((".so", ".pyd")), mod.__file__


@pytest.mark.parametrize("family", FAMILIES)
def test_twin_exists_with_the_same_api(family):
    twin = importlib.import_module(f"mip6fast._{family}_py")
    compiled, _ = _impl.load_both(family)
    if compiled is None:
        pytest.skip("compiled module not built")
    public = {n for n in dir(compiled) if not n.startswith("_") and callable(getattr(compiled, n))}
    assert public <= set(dir(twin)), public - set(dir(twin))
