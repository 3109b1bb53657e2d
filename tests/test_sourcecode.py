"""Checks on the source text (in the spirit of uvloop's tests/test_sourcecode.py): the package is read
with ``ast`` (``.pyx`` / ``.pxd`` / ``.pxi`` with a line scanner), never imported, so a check sees every
import, including those inside functions that an import-time check would miss.

* No import cycles between the modules of ``mip6fast``. Imports inside functions count (hiding a cycle
  in a function is what issue 9 complains about); imports under ``if TYPE_CHECKING:`` do not, as they
  never run: they are allowed for annotations only.
* The layers: csrc/ (plain C) <- core (compiled skins, twins and the base modules) <- wire <- roles <-
  io and sim <- daemons, demo and cli. A module imports from its own layer or below; every module is in
  exactly one layer of the table ``LAYERS``.
* No file under tests/ or bench/ imports a test module (shared fixtures live in tests/helpers/).
* No imports inside functions in ``mip6fast``, except the entries of ``FUNCTION_LEVEL_ALLOWED``.

How imports are resolved (``resolve``):

* Relative imports are anchored at the importing module's package (at the package itself for an
  ``__init__``).
* ``from P import n`` depends on the submodule ``P.n`` when there is one, else on ``P`` (``n`` is an
  attribute of ``P``'s ``__init__``): in ``mip6fast/roles/x.py``, ``from . import node`` is
  ``mip6fast.roles.node`` while ``from . import Interface`` is ``mip6fast.roles`` (its ``__init__``), and
  ``from .. import _impl`` is ``mip6fast._impl``.
* Importing a package depends on its ``__init__``. Importing ``P.m`` also runs every package on the
  way (``P``'s ``__init__``), so that is a dependency too, except the packages that contain the
  importing module: Python has started them before the module runs, so they are not edges (an
  ``__init__`` that re-exports from its submodules is normal).
* ``importlib.import_module`` and ``__import__`` are dynamic: every module that calls them is declared
  in ``DYNAMIC_IMPORTS`` with what it may load, and those edges join the graph.
"""
from __future__ import annotations

import ast
import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mip6fast"

# ---------------------------------------------------------------- the tables

# Module name patterns (fnmatch) of each layer, lowest first; csrc/ (plain C, no Python) is below all
# of them (test_csrc_is_plain_c). Every module must match exactly one pattern.
LAYERS = (
    ("core", (
        "mip6fast",                   # re-exports the core classes below
        "mip6fast._[a-z]*",           # compiled skins (_*.pyx), their pure-Python twins (_*_py), _impl
        "mip6fast.errors",
        "mip6fast.progress",          # progress bars (tqdm) any long run may ask for
        "mip6fast.batch",
        "mip6fast.binding_cache",
        "mip6fast.datapath",
    )),
    ("wire", ("mip6fast.wire", "mip6fast.wire.*")),
    # What the roles hold below them: packet protection (ESP) and the binding store.
    ("security and store", ("mip6fast.security", "mip6fast.security.*", "mip6fast.store", "mip6fast.store.*")),
    ("roles", ("mip6fast.roles", "mip6fast.roles.*")),
    ("io and sim", (
        "mip6fast.io", "mip6fast.io.*",
        "mip6fast.sim",
        "mip6fast.scenarios", "mip6fast.scenarios.*",
        "mip6fast.apps",
    )),
    ("daemons and cli", (
        "mip6fast.daemon",
        "mip6fast.daemon_state",
        "mip6fast.service",           # sd_notify, the watchdog, logging setup: what a service manager sees
        "mip6fast.metrics",           # the Prometheus collector of a daemon
        "mip6fast.redundancy",
        "mip6fast.config",
        "mip6fast.config_check",
        "mip6fast.config_docs",
        "mip6fast.plot",
        "mip6fast.demo",
        "mip6fast.demo_apps",
        "mip6fast.cli",
        "mip6fast.__main__",
        "mip6fast.benchmark", "mip6fast.benchmark.*",
    )),
)

# Imports inside functions that are there on purpose: (module, imported top-level name) -> why.
FUNCTION_LEVEL_ALLOWED = {
    ("mip6fast.io.netns", "pyroute2"):
        "the module imports without pyroute2 so that can_use_netns() can say that it is missing",
}

# Modules that call importlib.import_module / __import__: what they may load (fnmatch patterns of
# modules, the importer itself excluded) and why. The loaded modules are edges of the import graph.
DYNAMIC_IMPORTS = {
    "mip6fast._impl": (("mip6fast._[a-z]*",),
                       "load(family) returns the compiled skin mip6fast._<family> or its twin _<family>_py"),
    "mip6fast.scenarios": (("mip6fast.scenarios.*",),
                           "importing the package registers the scenarios of every theme module"),
}

# ---------------------------------------------------------------- reading the package


@dataclass(frozen=True)
class Module:
    name: str                 # dotted
    path: str                 # of the .py / .pyx, relative to the root
    is_package: bool          # an __init__
    sources: tuple            # ((path, text), ...): a .py; or a .pyx, its .pxd and the .pxi it includes
    cython: bool = False


@dataclass(frozen=True)
class Statement:
    """One import statement as written."""
    module: Module
    where: str                # path:line
    text: str
    kind: str                 # "import" | "from" | "cimport" (from ... cimport / cimport ...)
    level: int                # leading dots of a from-import
    source: str | None        # the dotted name after "from" (without the dots), or None
    names: tuple              # imported names (for "import a.b": the dotted names)
    function_level: bool
    type_checking: bool


@dataclass(frozen=True)
class Import:
    """An edge of the graph: ``importer`` needs ``target`` (both modules of the package)."""
    importer: str
    target: str
    where: str
    text: str
    function_level: bool = False
    type_checking: bool = False
    implicit: bool = False    # target is a package run on the way to the imported module
    dynamic: bool = False

    def describe(self) -> str:
        how = [w for w, on in (("in a function", self.function_level), ("TYPE_CHECKING", self.type_checking),
                                ("runs its __init__", self.implicit), ("dynamic", self.dynamic)) if on]
        return f"{self.where} {self.text}" + (f" [{', '.join(how)}]" if how else "")


def modules_from_files(files: dict, package: str = PACKAGE) -> dict:
    """{dotted name: Module} from {path relative to the root (posix): text}, for the package whose
    directory is ``package``. Directories without ``__init__.py`` are not packages and are skipped
    (mip6fast/includes/ holds the Cython declarations of csrc/)."""
    modules = {}
    for path in sorted(files):
        parts = path.split("/")
        if parts[0] != package or not parts[-1].endswith((".py", ".pyx")):
            continue
        if any(f"{'/'.join(parts[:i])}/__init__.py" not in files for i in range(1, len(parts))):
            continue
        stem = parts[-1].rsplit(".", 1)[0]
        is_package = stem == "__init__"
        name = ".".join(parts[:-1] if is_package else parts[:-1] + [stem])
        sources = [(path, files[path])]
        cython = path.endswith(".pyx")
        if cython:
            pxd = path[:-4] + ".pxd"
            if pxd in files:
                sources.append((pxd, files[pxd]))
            for include in re.findall(r'^\s*include\s+"([^"]+)"', files[path], re.MULTILINE):
                pxi = "/".join(parts[:-1] + [include])
                if pxi in files:
                    sources.append((pxi, files[pxi]))
        if name in modules:
            raise AssertionError(f"{name} is both {modules[name].path} and {path}")
        modules[name] = Module(name, path, is_package, tuple(sources), cython)
    return modules


def _read_tree(root: Path, top: str) -> dict:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((root / top).rglob("*"))
            if p.suffix in (".py", ".pyx", ".pxd", ".pxi") and "__pycache__" not in p.parts}


@cache
def package_modules() -> dict:
    return modules_from_files(_read_tree(ROOT, PACKAGE))


# ---------------------------------------------------------------- import statements


def _is_type_checking(test: ast.expr) -> bool | None:
    """True for ``TYPE_CHECKING`` / ``typing.TYPE_CHECKING``, False for their negation, else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _is_type_checking(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    return None


def _walk_imports(node, in_function=False, type_checking=False):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, in_function, type_checking
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test) is not None:
        positive = _is_type_checking(node.test)
        for child in node.body:
            yield from _walk_imports(child, in_function, type_checking or positive)
        for child in node.orelse:
            yield from _walk_imports(child, in_function, type_checking or not positive)
        return
    nested = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
        yield from _walk_imports(child, nested, type_checking)


def _python_statements(module: Module, path: str, text: str):
    for node, in_function, type_checking in _walk_imports(ast.parse(text, path)):
        where = f"{path}:{node.lineno}"
        if isinstance(node, ast.Import):
            yield Statement(module, where, ast.unparse(node), "import", 0, None,
                            tuple(a.name for a in node.names), in_function, type_checking)
        else:
            yield Statement(module, where, ast.unparse(node), "from", node.level, node.module,
                            tuple(a.name for a in node.names), in_function, type_checking)


_CY_FROM = re.compile(r"^(\s*)from\s+(\.*)([\w.]*)\s+(c?import)\s+(.*)$")
_CY_IMPORT = re.compile(r"^(\s*)(c?import)\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)"
                        r"\s*(?:#.*)?$")
_CY_FUNCTION = re.compile(r"^\s*(async\s+def|def|cpdef|cdef\s+(?!class\b|extern\b|struct\b|union\b|enum\b|"
                          r"packed\b|public\s+class\b|readonly\b)[^:=]*\()")


def _cython_statements(module: Module, path: str, text: str):
    """Import lines of Cython source (a line scanner; Cython is not Python): ``import``, ``cimport``,
    ``from X import`` / ``cimport`` with parenthesised continuation. An indented import is inside a
    function when a less indented line above it that opens its block is a def / cdef / cpdef function."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        i += 1
        m = _CY_FROM.match(line)
        if m:
            indent, dots, source, word, rest = m.groups()
            rest = rest.split("#", 1)[0].strip()
            if rest.startswith("("):
                while ")" not in rest and i < len(lines):
                    rest += " " + lines[i].split("#", 1)[0].strip()
                    i += 1
                rest = rest.strip("() ")
            names = tuple(n.split(" as ")[0].strip() for n in rest.split(",") if n.strip())
            kind = "cimport" if word == "cimport" else "from"
            yield Statement(module, f"{path}:{lineno}", line.strip(), kind, len(dots), source or None, names,
                            _cython_in_function(lines, lineno - 1, len(indent)), False)
            continue
        m = _CY_IMPORT.match(line)
        if m:
            indent, word, rest = m.groups()
            names = tuple(n.strip().split(" as ")[0].strip() for n in rest.split(","))
            kind = "cimport" if word == "cimport" else "import"
            yield Statement(module, f"{path}:{lineno}", line.strip(), kind, 0, None, names,
                            _cython_in_function(lines, lineno - 1, len(indent)), False)


def _cython_in_function(lines, index, indent) -> bool:
    for line in reversed(lines[:index]):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        own = len(line) - len(line.lstrip())
        if own < indent:
            if _CY_FUNCTION.match(line):
                return True
            indent = own
            if indent == 0:
                return False
    return False


def statements(module: Module):
    for path, text in module.sources:
        if path.endswith(".py"):
            yield from _python_statements(module, path, text)
        else:
            yield from _cython_statements(module, path, text)


# ---------------------------------------------------------------- resolution


class Unresolved(Exception):
    pass


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _contains(package: str, name: str) -> bool:
    """Is ``name`` the package ``package`` or inside it?"""
    return name == package or name.startswith(package + ".")


def resolve(statement: Statement, modules: dict, package: str = PACKAGE) -> list:
    """The package's modules a statement depends on, as Import edges (see the module doc)."""
    importer = statement.module
    if statement.kind in ("import", "cimport") and statement.level == 0 and statement.source is None:
        wanted = [(name, None) for name in statement.names]
    else:
        if statement.level:
            anchor = importer.name if importer.is_package else _parent(importer.name)
            for _ in range(statement.level - 1):
                anchor = _parent(anchor)
            if not anchor:
                raise Unresolved(f"{statement.where}: {statement.text} goes above the package")
            base = f"{anchor}.{statement.source}" if statement.source else anchor
        else:
            base = statement.source
        wanted = [(base, name) for name in statement.names]
    edges = []
    for base, name in wanted:
        if not _contains(package, base):
            continue                                   # not the package: the standard library, numpy, C
        if base not in modules:
            raise Unresolved(f"{statement.where}: {statement.text}: no module {base}")
        target = base
        if name not in (None, "*") and f"{base}.{name}" in modules and statement.kind != "cimport":
            target = f"{base}.{name}"
        common = {"where": statement.where, "text": statement.text,
                  "function_level": statement.function_level, "type_checking": statement.type_checking}
        edges.append(Import(importer.name, target, **common))
        ancestor = _parent(target)
        while ancestor:
            if ancestor in modules and not _contains(ancestor, importer.name):
                edges.append(Import(importer.name, ancestor, implicit=True, **common))
            ancestor = _parent(ancestor)
    return list(dict.fromkeys(edges))          # one edge per target and kind, in order


_DYNAMIC_CALL = re.compile(r"\b(import_module|__import__)\s*\(")


def dynamic_callers(modules: dict) -> dict:
    """{module: [path:line, ...]} of the calls to importlib.import_module / __import__."""
    found = {}
    for module in modules.values():
        for path, text in module.sources:
            if path.endswith(".py"):
                lines = [node.lineno for node in ast.walk(ast.parse(text, path)) if isinstance(node, ast.Call)
                         and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
                         in ("import_module", "__import__")]
            else:
                lines = [n for n, line in enumerate(text.splitlines(), 1)
                         if _DYNAMIC_CALL.search(line.split("#", 1)[0])]
            found.setdefault(module.name, []).extend(f"{path}:{n}" for n in sorted(lines))
    return {name: where for name, where in found.items() if where}


def import_graph(modules: dict, dynamic: dict = DYNAMIC_IMPORTS, package: str = PACKAGE) -> list:
    """Every Import edge of the package (TYPE_CHECKING ones included, flagged)."""
    edges = []
    for module in modules.values():
        for statement in statements(module):
            edges.extend(resolve(statement, modules, package))
    callers = dynamic_callers(modules)
    for importer, (patterns, why) in dynamic.items():
        if importer not in modules:
            continue
        where = ", ".join(callers.get(importer, [modules[importer].path]))
        for target in sorted(modules):
            if target != importer and any(fnmatch.fnmatchcase(target, p) for p in patterns):
                edges.append(Import(importer, target, where, why, dynamic=True))
    return edges


# ---------------------------------------------------------------- cycles


def strongly_connected(nodes, successors) -> list:
    """Tarjan's strongly connected components (lists of nodes)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(successors.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            result.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return result


def _shortest_path(successors, start, goal, allowed) -> list:
    previous, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(successors.get(v, ())):
                if w in allowed and w not in previous:
                    previous[w] = v
                    nxt.append(w)
        if goal in previous:
            break
        frontier = nxt
    path, v = [], goal
    while v is not None:
        path.append(v)
        v = previous[v]
    return path[::-1]


def find_cycles(edges) -> list:
    """Cycles of the runtime graph (TYPE_CHECKING edges left out), one per edge inside a strongly
    connected component (the shortest cycle through it), as lists [a, b, ..., a]; self-imports are
    [a, a]."""
    runtime = [e for e in edges if not e.type_checking]
    successors = {}
    for e in runtime:
        successors.setdefault(e.importer, set()).add(e.target)
    nodes = set(successors) | {e.target for e in runtime}
    cycles, seen = [], set()
    for component in strongly_connected(nodes, successors):
        members = set(component)
        for u in component:
            for v in sorted(successors.get(u, ())):
                if v not in members:
                    continue
                cycle = [u, u] if u == v else [u] + _shortest_path(successors, v, u, members)
                ring = cycle[:-1]
                k = ring.index(min(ring))
                key = tuple(ring[k:] + ring[:k])
                if key not in seen:
                    seen.add(key)
                    cycles.append(list(key) + [key[0]])
    return sorted(cycles)


def describe_cycle(cycle, edges) -> str:
    by_pair = {}
    for e in edges:
        if not e.type_checking:
            by_pair.setdefault((e.importer, e.target), []).append(e)
    hops = []
    for u, v in zip(cycle, cycle[1:]):
        hops.append(f"    {u} -> {v}: " + "; ".join(e.describe() for e in by_pair[(u, v)]))
    return " -> ".join(cycle) + "\n" + "\n".join(hops)


# ---------------------------------------------------------------- layers


def layer_of(name: str, layers=LAYERS) -> list:
    """Indices of the layers whose patterns match ``name`` (exactly one when the table is right)."""
    return [i for i, (_, patterns) in enumerate(layers)
            if any(fnmatch.fnmatchcase(name, p) for p in patterns)]


def unassigned(modules, layers=LAYERS) -> list:
    problems = []
    for name in sorted(modules):
        found = layer_of(name, layers)
        if not found:
            problems.append(f"{name} is in no layer: add it to LAYERS in tests/test_sourcecode.py")
        elif len(found) > 1:
            problems.append(f"{name} is in several layers: {', '.join(layers[i][0] for i in found)}")
    return problems


def layer_violations(edges, layers=LAYERS) -> list:
    """A module imports from its own layer or below: every edge (TYPE_CHECKING, function-level and
    implicit ones too) that points upwards."""
    problems = []
    for e in edges:
        src, dst = layer_of(e.importer, layers), layer_of(e.target, layers)
        if len(src) != 1 or len(dst) != 1:
            continue                                   # unassigned() reports those
        (src,), (dst,) = src, dst
        if dst > src:
            problems.append(f"{e.importer} ({layers[src][0]}) imports {e.target} ({layers[dst][0]}): "
                            f"{e.describe()}")
    return sorted(set(problems))


# ---------------------------------------------------------------- function-level imports


def function_level_imports(modules, allowed=FUNCTION_LEVEL_ALLOWED) -> dict:
    """{module: [statement, ...]} of the imports inside functions that the allow-list does not cover."""
    found = {}
    for module in modules.values():
        for s in statements(module):
            if not s.function_level:
                continue
            imported = ["." * s.level + (s.source or "")] if s.level or s.source else list(s.names)
            tops = {n if n.startswith(".") else n.split(".")[0] for n in imported}
            if all((module.name, top) in allowed for top in tops):
                continue
            found.setdefault(module.name, []).append(s)
    return found


# ---------------------------------------------------------------- test modules importing test modules


def _is_test_module(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.startswith("test_") or last.endswith("_test")     # pytest's default python_files


def imports_of_test_modules(files: dict) -> list:
    """Imports of test modules in {path: text} of Python files (nested imports and literal
    import_module / __import__ / importorskip calls included)."""
    problems = []
    for path, text in sorted(files.items()):
        tree = ast.parse(text, path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                names = [source] + [f"{source}.{a.name}" if source else a.name for a in node.names]
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("import_module", "__import__", "importorskip"):
                    names = [node.args[0].value]
            if any(n and _is_test_module(n) for n in names):
                problems.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return problems


# ---------------------------------------------------------------- the findings on the package today


@cache
def package_edges() -> tuple:
    return tuple(import_graph(package_modules()))


# Today's findings. Each test that fails on them is a strict xfail: it turns into an error (XPASS) the
# moment the code is fixed; then delete the mark or the entry.
KNOWN_FUNCTION_LEVEL = {
}


def _xfail_known(name):
    if name in KNOWN_FUNCTION_LEVEL:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FUNCTION_LEVEL[name]))
    return name


def test_the_scan_sees_the_package():
    """Guards against a vacuous pass: the scan finds the modules, their imports and every layer."""
    modules = package_modules()
    for name in ("mip6fast", "mip6fast._impl", "mip6fast._datapath", "mip6fast.wire.packet",
                 "mip6fast.roles.mobile_node", "mip6fast.io.runner", "mip6fast.scenarios.scale",
                 "mip6fast.cli"):
        assert name in modules, name
    assert modules["mip6fast._datapath"].cython and len(modules["mip6fast._datapath"].sources) == 2  # + .pxd
    assert "mip6fast.includes" not in modules          # C declarations, not a package
    edges = package_edges()
    assert len(edges) > 150
    assert {layer_of(e.importer)[0] for e in edges} == {layer_of(name)[0] for name in modules}
    # The Cython skins' imports are seen: _bcache.pyx imports its twin, _errors.pxi the errors.
    assert ("mip6fast._bcache", "mip6fast._bcache_py") in {(e.importer, e.target) for e in edges}
    assert ("mip6fast._icmp6", "mip6fast.errors") in {(e.importer, e.target) for e in edges}
    assert ("mip6fast._ring", "mip6fast._datapath") in {(e.importer, e.target) for e in edges}


def test_no_import_cycles():
    edges = package_edges()
    cycles = find_cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(describe_cycle(c, edges) for c in cycles)


def test_layers():
    """Every module is in exactly one layer and imports from its own layer or below."""
    problems = unassigned(package_modules()) + layer_violations(package_edges())
    assert not problems, "layers (LAYERS in tests/test_sourcecode.py):\n" + "\n".join(problems)


def test_csrc_is_plain_c():
    """csrc/ is the C core: no Python headers, no Python C API."""
    problems = []
    sources = sorted((ROOT / "csrc").glob("*.[ch]"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text(encoding="utf-8")
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.DOTALL)  # comments out
        code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', code)                 # string literals out
        for lineno, line in enumerate(text.splitlines(), 1):
            if re.match(r'\s*#\s*include\s*[<"](Python\.h|pyconfig\.h|structmember\.h|numpy/)', line):
                problems.append(f"csrc/{path.name}:{lineno}: {line.strip()}")
        for name in sorted(set(re.findall(r"\bPy[A-Z_]\w*", code))):
            problems.append(f"csrc/{path.name}: uses the Python C API ({name})")
    assert not problems, "\n".join(problems)


def test_no_test_imports_a_test_module():
    files = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
             for top in ("tests", "bench") for p in sorted((ROOT / top).rglob("*.py"))}
    assert "tests/helpers/mobile_node.py" in files and "tests/test_sourcecode.py" in files
    problems = imports_of_test_modules(files)
    assert not problems, ("test modules imported (put shared helpers in tests/helpers/):\n"
                          + "\n".join(problems))


def test_dynamic_imports_are_declared():
    callers = dynamic_callers(package_modules())
    undeclared = {m: w for m, w in callers.items() if m not in DYNAMIC_IMPORTS}
    stale = sorted(set(DYNAMIC_IMPORTS) - set(callers))
    assert not undeclared, f"declare these dynamic imports in DYNAMIC_IMPORTS: {undeclared}"
    assert not stale, f"DYNAMIC_IMPORTS lists modules without dynamic imports: {stale}"


def test_known_findings_name_modules_of_the_package():
    assert set(KNOWN_FUNCTION_LEVEL) <= set(package_modules())
    assert {m for m, _ in FUNCTION_LEVEL_ALLOWED} <= set(package_modules())


@pytest.mark.parametrize("name", [_xfail_known(name) for name in sorted(package_modules())])
def test_no_function_level_imports(name):
    found = function_level_imports({name: package_modules()[name]}).get(name, [])
    assert not found, "imports inside functions (move them to the top, or allow-list them in " \
        "FUNCTION_LEVEL_ALLOWED with the reason):\n" + "\n".join(f"{s.where}: {s.text}" for s in found)


# ---------------------------------------------------------------- the checkers on small made-up packages


def synthetic(files: dict) -> tuple:
    """Modules and edges of a made-up package ``pkg`` from {path under pkg/: text}."""
    modules = modules_from_files({f"pkg/{p}": t for p, t in files.items()}, "pkg")
    return modules, import_graph(modules, {}, "pkg")


def pairs(edges, implicit=None):
    return {(e.importer, e.target) for e in edges if implicit is None or e.implicit == implicit}


def test_resolution_of_relative_imports_submodules_and_attributes():
    modules, edges = synthetic({
        "__init__.py": "from .core import Thing\n",
        "core.py": "VALUE = 1\n",
        "_impl.py": "",
        "sub/__init__.py": "from . import a\nfrom .a import helper\n",
        "sub/a.py": "from . import b\nfrom . import NAME\nfrom .. import _impl\nfrom ..core import VALUE\n"
                    "def helper():\n    pass\n",
        "sub/b.py": "import pkg.core\nfrom pkg import core as c\nfrom pkg.sub import a\n",
        "other/__init__.py": "",
        "other/x.py": "from ..sub import b\nfrom pkg.sub.a import helper\nfrom ..sub import NAME\n",
    })
    assert set(modules) == {"pkg", "pkg.core", "pkg._impl", "pkg.sub", "pkg.sub.a", "pkg.sub.b", "pkg.other",
                            "pkg.other.x"}
    explicit = pairs(edges, implicit=False)
    assert explicit == {
        ("pkg", "pkg.core"),
        ("pkg.sub", "pkg.sub.a"),                     # from . import a: the submodule; from .a import helper
        ("pkg.sub.a", "pkg.sub.b"),                   # from . import b: the submodule, not sub/__init__
        ("pkg.sub.a", "pkg.sub"),                     # from . import NAME: an attribute of sub/__init__
        ("pkg.sub.a", "pkg._impl"),                   # from .. import _impl
        ("pkg.sub.a", "pkg.core"),
        ("pkg.sub.b", "pkg.core"),                    # import pkg.core; from pkg import core
        ("pkg.sub.b", "pkg.sub.a"),
        ("pkg.other.x", "pkg.sub.b"),
        ("pkg.other.x", "pkg.sub.a"),
        ("pkg.other.x", "pkg.sub"),
    }
    # Reaching pkg.sub.* from outside runs sub/__init__; from inside pkg.sub it does not.
    assert pairs(edges, implicit=True) == {("pkg.other.x", "pkg.sub")}


def test_a_function_level_import_closes_a_cycle_and_type_checking_does_not():
    _, edges = synthetic({
        "__init__.py": "",
        "a.py": "from .b import B\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\nB = 1\n",
    })
    assert find_cycles(edges) == []
    _, edges = synthetic({
        "__init__.py": "",
        "a.py": "from .b import B\n",
        "b.py": "B = 1\ndef f():\n    from . import a\n    return a\n",
    })
    (cycle,) = find_cycles(edges)
    assert cycle == ["pkg.a", "pkg.b", "pkg.a"]
    text = describe_cycle(cycle, edges)
    assert "pkg/b.py:3 from . import a [in a function]" in text and "pkg/a.py:1 from .b import B" in text
    _, edges = synthetic({
        "__init__.py": "",
        "a.py": "import typing\nif not typing.TYPE_CHECKING:\n    pass\nelse:\n    from .b import B\n",
        "b.py": "from . import a\n",
    })
    assert find_cycles(edges) == []


def test_cycles_through_a_package_init_and_self_imports():
    # A submodule that takes an attribute from its own package's __init__, which imports the submodule.
    _, edges = synthetic({"__init__.py": "from .a import A\nX = 1\n", "a.py": "from . import X\nA = 1\n"})
    assert find_cycles(edges) == [["pkg", "pkg.a", "pkg"]]
    # The same with ``from . import b`` (b a submodule) is no cycle: the package runs first anyway.
    _, edges = synthetic({"__init__.py": "from .a import A\n", "a.py": "from . import b\nA = 1\n",
                          "b.py": ""})
    assert find_cycles(edges) == []
    # A module outside a package whose __init__ imports back: a -> sub/__init__ -> sub.x -> a.
    _, edges = synthetic({"__init__.py": "", "a.py": "from .sub.x import X\n",
                          "sub/__init__.py": "from .x import X\n", "sub/x.py": "X = 1\n",
                          "sub/y.py": "from ..a import A\n"})
    assert find_cycles(edges) == []
    _, edges = synthetic({"__init__.py": "", "a.py": "from .sub.x import X\nA = 1\n",
                          "sub/__init__.py": "from .y import Y\n", "sub/x.py": "X = 1\n",
                          "sub/y.py": "from ..a import A\nY = 1\n"})
    assert find_cycles(edges) == [["pkg.a", "pkg.sub", "pkg.sub.y", "pkg.a"]]
    # A self-import.
    _, edges = synthetic({"__init__.py": "", "a.py": "def f():\n    import pkg.a\n"})
    assert find_cycles(edges) == [["pkg.a", "pkg.a"]]
    # Three modules in one component: every edge of it is on a reported cycle.
    _, edges = synthetic({"__init__.py": "", "a.py": "from . import b\n", "b.py": "from . import c\n",
                          "c.py": "from . import a\nfrom . import b\n"})
    assert find_cycles(edges) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.b", "pkg.c", "pkg.b"]]


def test_cython_sources_are_scanned():
    modules, edges = synthetic({
        "__init__.py": "",
        "errors.py": "class E(Exception):\n    pass\n",
        "_twin.py": "",
        "_skin.pyx": 'cimport cython\nfrom libc.stdint cimport uint8_t\nfrom common cimport mip6_err_t\n'
                     'include "_errors.pxi"\nimport numpy as np\nfrom pkg._twin import (a,\n    b)\n'
                     "cdef int f(int x) except -1:\n    from pkg import errors\n    return x\n",
        "_skin.pxd": "from pkg._other cimport T\n",
        "_other.pyx": "cdef class T:\n    import os\n    cpdef m(self):\n        from pkg import _twin\n",
        "_errors.pxi": "from pkg.errors import E\n",
    })
    assert pairs(edges) == {("pkg._skin", "pkg._twin"), ("pkg._skin", "pkg.errors"),
                            ("pkg._skin", "pkg._other"), ("pkg._other", "pkg._twin")}
    found = function_level_imports(modules, {})
    assert {m: [s.where for s in f] for m, f in found.items()} == {
        "pkg._skin": ["pkg/_skin.pyx:9"], "pkg._other": ["pkg/_other.pyx:4"]}   # not the class body's


def test_layer_checker_catches_an_upward_import_and_unassigned_modules():
    layers = (("low", ("pkg", "pkg.low*")), ("mid", ("pkg.mid",)), ("high", ("pkg.high", "pkg.high.*")))
    modules, edges = synthetic({
        "__init__.py": "", "low.py": "", "mid.py": "from . import low\n",
        "high/__init__.py": "", "high/h.py": "from .. import mid\n",
    })
    assert unassigned(modules, layers) == [] and layer_violations(edges, layers) == []
    # The same package with the low layer importing the high one inside a function.
    modules, edges = synthetic({
        "__init__.py": "", "low.py": "def f():\n    from .high import h\n", "mid.py": "from . import low\n",
        "high/__init__.py": "", "high/h.py": "from .. import mid\n", "stray.py": "from .high import h\n",
    })
    problems = layer_violations(edges, layers)
    assert problems == [
        ("pkg.low (low) imports pkg.high (high): "
         "pkg/low.py:2 from .high import h [in a function, runs its __init__]"),
        "pkg.low (low) imports pkg.high.h (high): pkg/low.py:2 from .high import h [in a function]",
    ]
    assert unassigned(modules, layers) == [
        "pkg.stray is in no layer: add it to LAYERS in tests/test_sourcecode.py"]
    assert unassigned({"pkg.low": None}, layers + (("again", ("pkg.low",)),)) == [
        "pkg.low is in several layers: low, again"]


def test_layer_checker_catches_a_violation_injected_into_the_real_graph():
    edges = list(package_edges())
    injected = Import("mip6fast.wire.packet", "mip6fast.roles.node", "mip6fast/wire/packet.py:1",
                      "from ..roles.node import Node", function_level=True)
    before = set(layer_violations(edges))
    after = set(layer_violations(edges + [injected]))
    assert after - before == {("mip6fast.wire.packet (wire) imports mip6fast.roles.node (roles): "
                               "mip6fast/wire/packet.py:1 from ..roles.node import Node [in a function]")}
    # And the cycle finder: the reverse of an edge that is on no cycle makes one.
    cycles = find_cycles(edges)
    on_cycles = {(u, v) for c in cycles for u, v in zip(c, c[1:])}
    pair = {(e.importer, e.target) for e in edges if not e.type_checking}
    u, v = next((u, v) for u, v in sorted(pair) if u != v and (u, v) not in on_cycles and (v, u) not in pair)
    added = find_cycles(edges + [Import(v, u, "injected:1", "import")])
    ring = sorted([u, v])
    assert [ring[0], ring[1], ring[0]] in added and len(added) > len(cycles)


def test_function_level_checker_and_its_allow_list():
    modules, _ = synthetic({
        "__init__.py": "",
        "a.py": "import os\ndef f():\n    import json\n    from . import b\n    return json, b\n"
                "class C:\n    def m(self):\n        from pyroute2 import IPRoute\n",
        "b.py": "",
    })
    found = function_level_imports(modules, {})
    assert [s.where for s in found["pkg.a"]] == ["pkg/a.py:3", "pkg/a.py:4", "pkg/a.py:8"]
    found = function_level_imports(modules, {("pkg.a", "pyroute2"): "optional", ("pkg.a", "json"): "lazy"})
    assert [s.text for s in found["pkg.a"]] == ["from . import b"]


def test_test_module_import_checker():
    files = {
        "tests/test_a.py": "from helpers.x import y\nimport reference\n",
        "tests/test_b.py": "import pytest\ndef test_x():\n    from test_a import z\n",
        "tests/helpers/x.py": "import test_c\n",
        "tests/test_d.py": "import importlib\nm = importlib.import_module('test_a')\n",
        "tests/test_e.py": "from something_test import q\n",
    }
    assert imports_of_test_modules(files) == [
        "tests/helpers/x.py:1: import test_c",
        "tests/test_b.py:3: from test_a import z",
        "tests/test_d.py:2: importlib.import_module('test_a')",
        "tests/test_e.py:1: from something_test import q",
    ]
