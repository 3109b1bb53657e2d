"""Build of mip6fast's compiled core.

csrc/*.c is plain C (no Python headers). It is compiled once into a static library, libmip6core, with
strict warnings; every Cython module in mip6fast/ (``_*.pyx``) links against it.

Environment switches (read at build time):
  MIP6FAST_SANITIZE=address,undefined   build C and Cython with those sanitizers (see README)
  MIP6FAST_DEBUG=1                      -O0 -g3, assertions on
  MIP6FAST_WERROR=1                     warnings in csrc/ are errors (CI sets it)
"""
import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib as _build_clib
from setuptools.command.build_ext import build_ext as _build_ext

try:
    from Cython.Build import cythonize
except ImportError as exc:  # pragma: no cover - only without the PEP 517 build requirements
    raise SystemExit("building mip6fast needs Cython (pip install installs it from pyproject)") from exc

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sanitize = os.environ.get("MIP6FAST_SANITIZE", "").strip()
debug = os.environ.get("MIP6FAST_DEBUG", "") == "1" or bool(sanitize)
werror = os.environ.get("MIP6FAST_WERROR", "") == "1"

opt = ["-O0", "-g3"] if debug else ["-O3", "-g0"]
san_flags = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"] if sanitize else []

core_cflags = ["-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-Wcast-align",
               "-Wno-missing-field-initializers", "-fvisibility=hidden"] + opt + san_flags
if werror:
    core_cflags.append("-Werror")
if not debug:
    core_cflags.append("-DNDEBUG")

core_sources = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.c")))
core_headers = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.h")))

# Cython output is not held to -Wextra (its generated code has unused parameters by design).
ext_cflags = opt + san_flags + ["-Wno-unused-function", "-Wno-unreachable-code"]
ext_ldflags = san_flags

extensions = [
    Extension(
        "mip6fast." + os.path.splitext(os.path.basename(pyx))[0],
        sources=[os.path.relpath(pyx, HERE)],
        include_dirs=["csrc", numpy.get_include()],
        libraries=["mip6core"],
        # Relink when the C core changes (build_ext does not know the extensions embed libmip6core).
        depends=core_sources + core_headers,
        extra_compile_args=ext_cflags,
        extra_link_args=ext_ldflags,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for pyx in sorted(glob.glob(os.path.join(HERE, "mip6fast", "_*.pyx")))
]

# Objects built with other flags must not be reused: after a sanitizer build, a plain rebuild would
# otherwise relink nothing (the sources did not change) and leave modules that only load under ASan.
# The flags of the last build are remembered; when they differ, build_clib and build_ext are forced.
FLAGS_STAMP = os.path.join(HERE, "build", "mip6core.flags")
FLAGS_ID = repr((core_cflags, ext_cflags, ext_ldflags))


def _flags_changed() -> bool:
    try:
        with open(FLAGS_STAMP) as f:
            return f.read() != FLAGS_ID
    except OSError:
        return True


class build_clib(_build_clib):
    def run(self):
        # setuptools' build_clib compares timestamps only (it ignores --force): drop the old objects.
        if _flags_changed():
            for stale in glob.glob(os.path.join(self.build_temp, "csrc", "*.o")):
                os.remove(stale)
        super().run()


class build_ext(_build_ext):
    def finalize_options(self):
        super().finalize_options()
        if _flags_changed():
            self.force = True

    def run(self):
        super().run()
        os.makedirs(os.path.dirname(FLAGS_STAMP), exist_ok=True)
        with open(FLAGS_STAMP, "w") as f:
            f.write(FLAGS_ID)


setup(
    cmdclass={"build_clib": build_clib, "build_ext": build_ext},
    # every object is rebuilt when a header changes (csrc/ headers hold inline code)
    libraries=[("mip6core", {"sources": core_sources, "include_dirs": ["csrc"], "cflags": core_cflags,
                             "obj_deps": {"": core_headers}})],
    ext_modules=cythonize(
        extensions,
        include_path=["mip6fast/includes", "mip6fast"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "embedsignature": True},
        annotate=False,
    ),
)
