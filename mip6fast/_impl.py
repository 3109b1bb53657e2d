"""Choice between the compiled modules and their pure-Python twins (the yarl/multidict model).

``load("mh")`` returns ``mip6fast._mh`` (Cython over csrc/) unless ``MIP6FAST_PURE_PYTHON=1`` is set,
or the compiled module cannot be imported, in which case it returns ``mip6fast._mh_py`` and records
why in ``FALLBACKS`` (the test suite fails on a silent fallback; see tests/test_impl.py). Families with a
twin: ``TWINS``. The AF_PACKET ring (``ring``) and the workers' shared tables (``shm``) have none:
``load_compiled("ring")`` gives the compiled module or None, and whoever opens a ring (or forks
workers) says why with ``unavailable(...)``.
"""
import importlib
import os
import warnings

PURE_PYTHON = os.environ.get("MIP6FAST_PURE_PYTHON", "") == "1"
# Sanitizer and benchmark runs set this: a missing compiled module is then an error, not a fallback.
REQUIRE_COMPILED = os.environ.get("MIP6FAST_REQUIRE_COMPILED", "") == "1"
# Every compiled module, and the ones with a pure-Python twin (mip6fast/_<family>_py.py).
COMPILED = ("checksum", "packet", "mh", "icmp6", "bcache", "datapath", "tun", "ring", "esp", "graph", "shm")
TWINS = ("checksum", "packet", "mh", "icmp6", "bcache", "datapath", "tun", "esp", "graph")
FALLBACKS: dict = {}
_UNAVAILABLE: dict = {}


def load(family: str):
    if not PURE_PYTHON:
        try:
            return importlib.import_module(f"mip6fast._{family}")
        except ImportError as exc:
            if REQUIRE_COMPILED:
                raise
            FALLBACKS[family] = repr(exc)
            warnings.warn(f"mip6fast: compiled {family} module unavailable ({exc}); using pure Python",
                          RuntimeWarning, stacklevel=2)
    return importlib.import_module(f"mip6fast._{family}_py")


def load_compiled(family: str):
    """The compiled module of a family that has no twin, or None: with ``MIP6FAST_PURE_PYTHON=1`` (no
    compiled code runs then), or when it does not import (recorded in ``FALLBACKS``, as for ``load``).
    Importing never fails because of it; using it does, with ``unavailable(family)`` as the reason."""
    if PURE_PYTHON:
        _UNAVAILABLE[family] = (f"mip6fast._{family} is compiled code with no pure-Python twin, and "
                                "MIP6FAST_PURE_PYTHON=1 is set")
        return None
    try:
        return importlib.import_module(f"mip6fast._{family}")
    except ImportError as exc:
        if REQUIRE_COMPILED:
            raise
        FALLBACKS[family] = repr(exc)
        _UNAVAILABLE[family] = f"mip6fast._{family} is compiled code with no pure-Python twin, and it " \
                               f"did not import ({exc})"
        return None


def unavailable(family: str) -> str:
    """Why ``load_compiled(family)`` gave None ("" if it did not)."""
    return _UNAVAILABLE.get(family, "")


def load_both(family: str):
    """(compiled, twin) for differential tests and benchmarks; compiled is None when absent."""
    try:
        compiled = importlib.import_module(f"mip6fast._{family}")
    except ImportError:
        compiled = None
    return compiled, importlib.import_module(f"mip6fast._{family}_py")
