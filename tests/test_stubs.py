"""The type stubs of the compiled modules (mip6fast/_<family>.pyi, issue 15) name exactly what each
compiled module exports, so that a type checker sees the API that runs. Regenerate them with
``python tools/make_stubs.py`` after changing a skin's API."""
from __future__ import annotations

import ast
import importlib
import pathlib

import pytest
from conftest import require_compiled

from mip6fast import _impl

PACKAGE = pathlib.Path(importlib.import_module("mip6fast").__file__).parent


def stub_names(family: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"_{family}.pyi").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):     # `from x import Y as Y`: re-exported (PEP 484)
            names.update(a.name for a in node.names if a.asname == a.name)
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("family", _impl.COMPILED)
def test_every_compiled_module_has_a_stub_naming_exactly_its_exports(family):
    require_compiled(family)
    module = importlib.import_module(f"mip6fast._{family}")
    exported = {n for n in dir(module) if not n.startswith("_") and not isinstance(getattr(module, n), type(ast))}
    # (modules a skin imports, numpy as np say, are not its API)
    assert stub_names(family) == exported


def test_stubs_are_package_data():
    text = (PACKAGE.parent / "pyproject.toml").read_text() if (PACKAGE.parent / "pyproject.toml").exists() else ""
    if not text:
        pytest.skip("not a source tree (an installed wheel carries the stubs if this package does)")
    assert '"*.pyi"' in text
