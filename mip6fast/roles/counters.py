"""Declared counters: every name a role counts, declared once with a one-line meaning.

Theory of operation
-------------------
As VPP declares a node's error counters once (``foreach_ipip_error``: a symbol and a string), each role
declares the counters it may increment in a ``CounterTable`` next to its code (``node_counters.py``,
``router_counters.py``, ``home_agent/counters.py``, ``correspondent/counters.py``, ``mn_counters.py``,
``fleet_counters.py``). A table names the tables below it (the home agent's names the router's, which
names the base node's), so a role's table is everything its class may count.

One naming scheme across roles: lowercase dotted ``<area>.<event>[.<detail>]``; the same event has the
same name in every role (``binding.created``, ``ba.sent.status.<status>``, ``be.sent.status.<status>``,
``drop.<reason>``). A family with a variable part is declared as a pattern, ``drop.datapath.<reason>``;
when the variable part comes from a closed set (the data path's DropReason, the message classes, the
Binding Acknowledgement statuses) the declaration carries that set and a name outside it is undeclared.

``Counters`` is the node's ``counters``: a ``collections.Counter`` (the simulator, the JSON summaries,
the daemons and the tests read it as one) that checks each name it is given against the role's table.
An undeclared name raises ``UndeclaredCounter`` in strict mode (the tests turn it on; so does
``MIP6FAST_STRICT_COUNTERS=1``); otherwise it is counted all the same and ALSO under
``counters.undeclared``, so a production daemon never crashes over a name and the slip is visible.
A name is checked once, when it first appears; the increments after that cost one set lookup.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["UNDECLARED", "CounterDecl", "CounterTable", "Counters", "UndeclaredCounter", "declare",
           "set_strict", "strict"]

UNDECLARED = "counters.undeclared"
_VAR = re.compile(r"<([a-z_]+)>")
_OPEN = r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*"      # an open family's variable part
_NAME = re.compile(r"[a-z0-9_]+(?:\.(?:[a-z0-9_]+|<[a-z_]+>))*")

_strict = os.environ.get("MIP6FAST_STRICT_COUNTERS") == "1"


def set_strict(on: bool) -> bool:
    """Turn strict checking on or off for every ``Counters``; returns the previous setting."""
    global _strict
    before, _strict = _strict, bool(on)
    return before


def strict() -> bool:
    return _strict


class UndeclaredCounter(KeyError):
    """A counter name no table of the role declares (strict mode only)."""


@dataclass(frozen=True)
class CounterDecl:
    """One counter, or one family of counters: ``name`` is exact, or has one ``<part>`` that varies;
    ``values`` is the closed set the part comes from (None: any dotted word)."""
    name: str
    meaning: str
    values: frozenset[str] | None = None
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    @property
    def is_pattern(self) -> bool:
        return "<" in self.name

    def matches(self, name: str) -> bool:
        if self._regex is None:
            return name == self.name
        m = self._regex.fullmatch(name)
        return m is not None and (self.values is None or m.group(1) in self.values)


def _decl(name: str, meaning: str, values: Iterable[str] | None = None) -> CounterDecl:
    if not _NAME.fullmatch(name):
        raise ValueError(f"counter {name!r}: lowercase dotted <area>.<event>[.<detail>] only")
    if not meaning or "\n" in meaning:
        raise ValueError(f"counter {name!r}: a one-line meaning is required")
    holes = _VAR.findall(name)
    if len(holes) > 1:
        raise ValueError(f"counter {name!r}: at most one variable part")
    if not holes:
        if values is not None:
            raise ValueError(f"counter {name!r}: values without a variable part")
        return CounterDecl(name, meaning)
    head, tail = name.split(f"<{holes[0]}>")
    regex = re.compile(re.escape(head) + f"({_OPEN})" + re.escape(tail))
    return CounterDecl(name, meaning, None if values is None else frozenset(str(v) for v in values), regex)


def declare(*rows: tuple) -> tuple[CounterDecl, ...]:
    """Rows of ``(name, meaning)`` or ``(name, meaning, values)``, as a ``foreach_*_error`` list."""
    return tuple(_decl(*row) for row in rows)


class CounterTable:
    """The counters of one role: its own declarations and those of the tables it names as ``bases``."""

    def __init__(self, role: str, decls: Iterable[CounterDecl], bases: Iterable[CounterTable] = ()):
        self.role = role
        self.own = tuple(decls)
        self.bases = tuple(bases)
        self._exact: dict[str, CounterDecl] = {}
        self._patterns: list[CounterDecl] = []
        for base in self.bases:
            self._exact.update(base._exact)
            self._patterns.extend(p for p in base._patterns if p not in self._patterns)
        for d in self.own:
            if d.is_pattern:
                if any(p.name == d.name for p in self._patterns):
                    raise ValueError(f"{role}: {d.name} declared twice")
                self._patterns.append(d)
            else:
                if d.name in self._exact:
                    raise ValueError(f"{role}: {d.name} declared twice")
                self._exact[d.name] = d
        # The most specific family first: a closed set before an open one, then the longer fixed text
        # (drop.mh.unhandled.<message> before drop.mh.<field>).
        self._patterns.sort(key=lambda p: (p.values is None, -len(_VAR.sub("", p.name))))

    def __repr__(self) -> str:
        return f"CounterTable({self.role!r}, {len(self)} declarations)"

    def __len__(self) -> int:
        return len(self._exact) + len(self._patterns)

    def __iter__(self) -> Iterator[CounterDecl]:
        """Every declaration of the role (its bases' too), by name."""
        return iter(sorted([*self._exact.values(), *self._patterns], key=lambda d: d.name))

    def declaration(self, name: str) -> CounterDecl | None:
        """The declaration ``name`` falls under, or None."""
        d = self._exact.get(name)
        if d is not None:
            return d
        for p in self._patterns:
            if p.matches(name):
                return p
        return None

    def is_declared(self, name: str) -> bool:
        return name == UNDECLARED or self.declaration(name) is not None

    def meaning(self, name: str) -> str | None:
        d = self.declaration(name)
        if name == UNDECLARED:
            return "increments of names no declaration covers (each is also counted under its own name)"
        return None if d is None else d.meaning

    def meanings(self, names: Iterable[str]) -> dict[str, str | None]:
        return {n: self.meaning(n) for n in names}


class Counters(Counter):
    """A ``collections.Counter`` whose names must be declared in ``table`` (module docstring)."""

    def __init__(self, table: CounterTable, iterable=None, /, **kwds):
        self.table = table
        self._checked: set[str] = set()
        self._undeclared: set[str] = set()
        super().__init__(iterable, **kwds)

    def __setitem__(self, name, value) -> None:
        if name in self._checked:               # the common case: a name seen and found declared
            dict.__setitem__(self, name, value)
            return
        if name in self._undeclared or not self.table.is_declared(name):
            if _strict:
                raise UndeclaredCounter(f"{self.table.role}: counter {name!r} is not declared "
                                        f"(declare it in the role's counters table)")
            self._undeclared.add(name)
            dict.__setitem__(self, UNDECLARED, self.get(UNDECLARED, 0) + 1)
        else:
            self._checked.add(name)
        dict.__setitem__(self, name, value)

    def copy(self) -> Counter:   # type: ignore[override]  # deliberately a plain Counter, not a Counters
        return Counter(self)

    def __reduce__(self):
        return (Counters, (self.table, dict(self)))
