"""docs/RULES.md stays true: every file it names exists, every function / Class.method it names is
defined there (read with ast, nothing imported), every test it names is a test function of that file
(a parametrised test by its function name), no cell of a rule row is empty, and a row whose code is
"not yet" names the issue that will bring it."""
import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "RULES.md"
HEADER = ["RFC §", "rule", "implemented by", "proved by"]
REF = re.compile(r"`([\w./-]+\.py)::([\w.]+)`")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _rows() -> list[tuple[int, list[str]]]:
    """(line number, cells) of every body row of every rules table."""
    rows, in_table = [], False
    for number, line in enumerate(RULES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if cells == HEADER:
            in_table = True
        elif in_table and not all(set(c) <= set("-: ") for c in cells):
            rows.append((number, cells))
    return rows


ROWS = _rows()


@cache
def _definitions(path: str) -> frozenset:
    """Every top-level function and class, and every Class.method (nested classes too), of a file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(prefix + child.name)
                if isinstance(child, ast.ClassDef):
                    walk(child, prefix + child.name + ".")

    walk(tree, "")
    return frozenset(names)


def test_the_index_has_its_tables():
    text = RULES.read_text(encoding="utf-8")
    for area in ("§9.2", "Home agent: Binding Update processing", "proxy neighbour discovery", "tunnelling",
                 "discovery", "Correspondent node", "Mobile node", "Protection of home registrations"):
        assert area in text, area
    assert len(ROWS) >= 60


@pytest.mark.parametrize("line,cells", ROWS, ids=[f"line{n}" for n, _ in ROWS])
def test_every_row_is_complete(line, cells):
    assert len(cells) == 4, f"RULES.md:{line}: {len(cells)} cells, want {HEADER}"
    section, rule, code, proof = cells
    assert section and rule, f"RULES.md:{line}: empty RFC § or rule"
    for name, cell in (("implemented by", code), ("proved by", proof)):
        assert cell, f"RULES.md:{line}: empty '{name}'"
        if "not yet" in cell:
            assert re.search(r"\bissue\b", cell), f"RULES.md:{line}: '{name}' says not yet without an issue"
        else:
            assert REF.search(cell), f"RULES.md:{line}: '{name}' names no path::name"
    assert all(p.startswith("tests/") for p, _ in REF.findall(proof)), f"RULES.md:{line}: a proof outside tests/"


@pytest.mark.parametrize("line,cells", ROWS, ids=[f"line{n}" for n, _ in ROWS])
def test_every_named_file_function_and_test_exists(line, cells):
    for cell in cells[2:]:
        for path, name in REF.findall(cell):
            assert (ROOT / path).is_file(), f"RULES.md:{line}: no file {path}"
            defined = _definitions(path)
            assert name in defined, f"RULES.md:{line}: {path} defines no {name}"
            if path.startswith("tests/"):
                assert name.startswith("test_") and "." not in name, f"RULES.md:{line}: {name} is not a test"


def test_the_parser_catches_a_broken_row():
    assert _cells("| §1 | r | `a.py::f` |  |") == ["§1", "r", "`a.py::f`", ""]
    assert REF.findall("`mip6fast/x.py::C.m`, `tests/t.py::test_a`") == [
        ("mip6fast/x.py", "C.m"), ("tests/t.py", "test_a")]
    assert "nonexistent_function" not in _definitions("mip6fast/roles/node.py")
