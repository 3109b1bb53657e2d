"""Declared counters (mip6fast/roles/counters.py, issue 9 item 5): the mechanism, strict checking of
every scenario, a source scan of the roles' counter names, docs/COUNTERS.md in step with the
declarations, and the ``mip6fast counters`` / ``stats --describe`` commands."""
from __future__ import annotations

import ast
import json
import os
import pickle
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mip6fast.cli import main
from mip6fast.daemon import counter_meanings
from mip6fast.roles import Host
from mip6fast.roles.counter_docs import RENAMES, ROLE_TABLES, render_markdown, table_for
from mip6fast.roles.counters import (
    UNDECLARED,
    Counters,
    CounterTable,
    UndeclaredCounter,
    declare,
    set_strict,
    strict,
)
from mip6fast.roles.protection import PROTECTION_COUNTERS
from mip6fast.scenarios import SCENARIOS, run_scenario

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "mip6fast" / "roles"
DOC = ROOT / "docs" / "COUNTERS.md"

TABLE = CounterTable("t", declare(
    ("a.b", "an exact name"),
    ("ba.sent.status.<status>", "a closed family", ("0", "135")),
    ("drop.parse.<field>", "an open family"),
))


@pytest.fixture
def lenient():
    before = set_strict(False)
    yield
    set_strict(before)


# ---------------------------------------------------------------- the mechanism

def test_the_tests_run_strict():
    # conftest turns strict checking on: every test fails on a name that is not declared, the roles'
    # fuzz tests (test_roles_fuzz, and the home agent's, correspondent's and mobile node's mutated-frame
    # tests, which assert it too) included.
    assert strict()


def test_declared_names_exact_and_families():
    assert TABLE.is_declared("a.b") and not TABLE.is_declared("a.c")
    assert TABLE.is_declared("ba.sent.status.135") and not TABLE.is_declared("ba.sent.status.7")
    assert TABLE.is_declared("drop.parse.payload_len") and TABLE.is_declared("drop.parse.ipv6.version")
    assert not TABLE.is_declared("drop.parse.") and not TABLE.is_declared("drop.parse.a-b")
    assert TABLE.meaning("ba.sent.status.0") == "a closed family" and TABLE.meaning("x") is None


@pytest.mark.parametrize("row", [
    ("Binding.Created", "upper case"), ("binding-created", "a dash"), ("binding.created", ""),
    ("a.<x>.<y>", "two variable parts"), ("a.b", "values without a variable part", ("1",)),
    ("a.b", "two\nlines"),
])
def test_declare_refuses_bad_declarations(row):
    with pytest.raises(ValueError):
        declare(row)


def test_a_name_declared_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        CounterTable("t2", declare(("a.b", "again")), bases=(TABLE,))


def test_strict_undeclared_name_raises():
    c = Counters(TABLE)
    c["a.b"] += 1
    c["ba.sent.status.0"] += 2
    with pytest.raises(UndeclaredCounter, match="'a.c' is not declared"):
        c["a.c"] += 1
    with pytest.raises(UndeclaredCounter):
        c["ba.sent.status.9"] += 1
    assert c == Counter({"a.b": 1, "ba.sent.status.0": 2})


def test_production_counts_undeclared_names_twice_and_never_raises(lenient):
    c = Counters(TABLE)
    for _ in range(3):
        c["a.c"] += 1             # still counted under its own name ...
    c["a.b"] += 5
    assert c == Counter({"a.c": 3, UNDECLARED: 3, "a.b": 5})   # ... and every time under counters.undeclared


@pytest.mark.parametrize("env, raises", [("1", True), ("", False)])
def test_strict_from_the_environment(env, raises):
    # A daemon is lenient unless MIP6FAST_STRICT_COUNTERS=1: an undeclared name never crashes it.
    code = ("from mip6fast.roles import Host\n"
            "h = Host('h')\n"
            "try:\n    h.counters['made.up'] += 1\nexcept KeyError:\n    print('raised')\n"
            "else:\n    print(dict(h.counters))\n")
    env_vars = {**os.environ, "MIP6FAST_STRICT_COUNTERS": env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env_vars, capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == ("raised" if raises else "{'counters.undeclared': 1, 'made.up': 1}")


def test_counters_is_a_counter():
    c = Counters(TABLE)
    c["a.b"] += 2
    assert isinstance(c, Counter) and dict(c) == {"a.b": 2} and c["never"] == 0
    assert type(c.copy()) is Counter and c.copy() == c
    back = pickle.loads(pickle.dumps(c))
    assert back == c and back.table.role == "t"
    with pytest.raises(UndeclaredCounter):
        back["nope"] += 1


def test_every_node_counts_through_its_roles_table():
    from_role = {name: table.role for name, table in ROLE_TABLES.items()}
    assert from_role == {n: n for n in ("node", "router", "home_agent", "correspondent", "mobile_node", "fleet")}
    h = Host("h")
    assert isinstance(h.counters, Counters) and h.counters.table is ROLE_TABLES["node"]
    with pytest.raises(UndeclaredCounter):
        h.drop("no_such_reason")


def test_one_name_for_one_event_across_roles():
    ha, cn = table_for("ha"), table_for("cn")
    for name in ("binding.created", "binding.updated", "binding.deleted", "binding.expired", "brr.sent",
                 "ba.sent.status.0", "be.sent.status.1", "drop.hao.no_binding", "drop.be.rate_limited",
                 "drop.mh.unhandled.BindingAcknowledgement", "parameter_problem.code.0"):
        assert ha.is_declared(name) and cn.is_declared(name), name
        assert ha.declaration(name).name == cn.declaration(name).name
    assert table_for("mn").is_declared("drop.datapath.site_local")
    assert not table_for("mn").is_declared("drop.datapath.SITE_LOCAL")


def test_renamed_names_are_declared_no_more():
    for old, _new, _ in RENAMES:
        old_sample = re.sub(r"<[A-Za-z]+>", "0", old).replace("<N>", "0")
        for table in ROLE_TABLES.values():
            assert not table.is_declared(old_sample), (old, table.role)
    assert table_for("cn").is_declared("ba.sent.status.0") and table_for("ha").is_declared("be.sent.status.2")


# ---------------------------------------------------------------- every scenario, strict

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_counts_only_declared_names(name, tmp_path):
    assert strict()
    summary = run_scenario(name, seed=1, pcap_dir=str(tmp_path), **({"n": 200} if name == "scale" else {}))
    assert UNDECLARED not in json.dumps(summary)


# ---------------------------------------------------------------- the source scan

# The module (relative to mip6fast/roles) → the table its names are counted in, and what ``_count``
# puts before its argument there.
def _table_of(rel: str) -> CounterTable:
    if rel in ("protection.py", "mn_ha_auth.py"):   # shared by the home agent and the mobile node (bases)
        return PROTECTION_COUNTERS
    if rel.startswith("home_agent/"):
        return ROLE_TABLES["home_agent"]
    if rel.startswith("correspondent/"):
        return ROLE_TABLES["correspondent"]
    if rel.startswith(("mn_", "mobile_node", "route_optimization")):
        return ROLE_TABLES["mobile_node"]
    if rel.startswith("fleet"):
        return ROLE_TABLES["fleet"]
    if rel.startswith("router"):
        return ROLE_TABLES["router"]
    return ROLE_TABLES["node"]


COUNT_PREFIX = {"neighbor.py": "nd.", "mn_movement.py": "mn.", "mn_registration.py": "mn.",
                "mn_discovery.py": "mn.", "mobile_node.py": "mn.", "route_optimization.py": "mn.ro.",
                "fleet.py": "fleet."}
HOLE = "\x00"


def _shape(node) -> str | None:
    """A string literal as is; an f-string with each formatted part as HOLE; anything else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
    if isinstance(node, ast.IfExp):
        return _shape(node.body)       # "a" if c else "b": the orelse is checked by the walk below
    return None


def scanned_names():
    """(file:line, table, name shape) for every literal given to drop(...), _count(...), counters[...]."""
    found = []
    for path in sorted(ROLES.rglob("*.py")):
        rel = path.relative_to(ROLES).as_posix()
        table = _table_of(rel)
        for node in ast.walk(ast.parse(path.read_text())):
            args: list[tuple[str, ast.AST]] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr == "drop":
                    args.append(("drop.", node.args[0]))
                elif node.func.attr == "_count" and rel in COUNT_PREFIX:
                    args.append((COUNT_PREFIX[rel], node.args[0]))
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, (ast.Name, ast.Attribute))
                  and (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) == "counters"):
                args.append(("", node.slice))
            for prefix, arg in args:
                for part in ([arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]):
                    shape = _shape(part)
                    if shape is not None:
                        found.append((f"{rel}:{node.lineno}", table, prefix + shape))
    return found


def _declared_shape(table: CounterTable, shape: str) -> bool:
    if HOLE not in shape:
        return table.is_declared(shape)
    # an f-string: some family of the table has the same fixed parts around its variable part
    # (a formatted part may also stand for a fixed word of the declaration: drop.mn.{kernel}.<reason>)
    want = re.escape(shape).replace(re.escape(HOLE), "(?:<[a-z_]+>|[a-z0-9_]+)")
    return any(re.fullmatch(want, d.name) for d in table)


def test_every_counter_name_in_the_roles_source_is_declared():
    found = scanned_names()
    assert len(found) > 200             # the scan sees the roles' counting (a broken scan finds nothing)
    missing = [f"{where}: {shape.replace(HOLE, '{...}')} (table {table.role})"
               for where, table, shape in found if not _declared_shape(table, shape)]
    assert not missing, "undeclared counter names:\n" + "\n".join(missing)


def test_the_scan_would_catch_an_undeclared_name():
    assert not _declared_shape(ROLE_TABLES["home_agent"], "drop.bu_bad_home_address")
    assert not _declared_shape(ROLE_TABLES["home_agent"], f"ba.status.{HOLE}")
    assert _declared_shape(ROLE_TABLES["home_agent"], f"ba.sent.status.{HOLE}")


# ---------------------------------------------------------------- docs/COUNTERS.md

def test_counters_md_is_generated_from_the_declarations():
    assert DOC.read_text() == render_markdown(), (
        "docs/COUNTERS.md differs from the declarations: regenerate it with "
        "`mip6fast counters --markdown > docs/COUNTERS.md`")


def test_counters_md_lists_every_declaration():
    text = DOC.read_text()
    for table in ROLE_TABLES.values():
        for d in table.own:
            assert f"| `{d.name}` | {d.meaning}" in text


# ---------------------------------------------------------------- the commands

def test_counters_command_prints_a_roles_table(capsys):
    assert main(["counters", "ha"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^binding\.created +bindings created$", out, re.MULTILINE)
    assert f"({len(table_for('home_agent'))} counters declared for home_agent)" in out
    assert main(["counters", "correspondent", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["role"] == "correspondent"
    assert answer["counters"]["be.sent.status.<status>"].startswith("Binding Errors sent")
    assert main(["counters", "nonsense"]) == 2
    assert "unknown role" in capsys.readouterr().err


def test_counters_markdown_is_the_doc(capsys):
    assert main(["counters", "--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown()


def test_stats_answer_carries_the_meanings(lenient):
    h = Host("h")
    h.counters["rx_frames"] += 3
    h.counters["made.up"] += 1
    assert counter_meanings(h.counters) == {
        "counters.undeclared": table_for("node").meaning(UNDECLARED),
        "made.up": None,
        "rx_frames": "Ethernet frames received on an up, known interface"}
    assert counter_meanings(Counter({"x": 1})) == {"x": None}


def test_stats_describe_prints_meanings(monkeypatch, capsys):
    answer = {"role": "ha", "node": {"binding.created": 2, "made.up": 1},
              "meanings": {"binding.created": "bindings created", "made.up": None}}
    monkeypatch.setattr("mip6fast.cli.query", lambda path, command: answer)
    assert main(["stats", "--socket", "/nonexistent", "--describe"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"binding\.created +2  bindings created", out)
    assert re.search(r"made\.up +1  \(undeclared\)", out)
