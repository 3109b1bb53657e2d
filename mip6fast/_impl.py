"""Choice between the compiled codecs and their pure-Python twins (the yarl/multidict model).

``load("mh")`` returns ``mip6fast._mh`` (Cython over csrc/) unless ``MIP6FAST_PURE_PYTHON=1`` is set,
or the compiled module cannot be imported, in which case it returns ``mip6fast._mh_py`` and records
why in ``FALLBACKS`` (the test suite fails on a silent fallback; see tests/test_impl.py).
"""
import importlib
import os
import warnings

PURE_PYTHON = os.environ.get("MIP6FAST_PURE_PYTHON", "") == "1"
# Sanitizer and benchmark runs set this: a missing compiled module is then an error, not a fallback.
REQUIRE_COMPILED = os.environ.get("MIP6FAST_REQUIRE_COMPILED", "") == "1"
FALLBACKS: dict = {}


def load(family: str):
    if not PURE_PYTHON:
        try:
            return importlib.import_module(f"mip6fast._{family}")
        except ImportError as exc:
            if REQUIRE_COMPILED:
                raise
            FALLBACKS[family] = repr(exc)
            warnings.warn(f"mip6fast: compiled {family} codec unavailable ({exc}); using pure Python",
                          RuntimeWarning, stacklevel=2)
    return importlib.import_module(f"mip6fast._{family}_py")


def load_both(family: str):
    """(compiled, twin) for differential tests and benchmarks; compiled is None when absent."""
    try:
        compiled = importlib.import_module(f"mip6fast._{family}")
    except ImportError:
        compiled = None
    return compiled, importlib.import_module(f"mip6fast._{family}_py")
