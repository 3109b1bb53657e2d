"""Progress bars for the long runs (``simulate scale``, ``bench forward``, the demo), with tqdm.

The code that runs long asks for a bar with ``task(description, total, unit)`` wherever it is; the
command line decides once whether bars are shown (``showing(on)``, ``wanted(as_json)``): only when
stdout is a terminal and ``--json`` was not given, so a pipe, a log file or a JSON consumer never sees
one. The bar itself is drawn on stderr; lines printed while it is shown go through ``write`` so they
land above it instead of through it. Off, a task is a no-op that costs one attribute look-up per
update.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from tqdm import tqdm

__all__ = ["Task", "active", "showing", "task", "wanted", "write"]

_state = {"on": False, "bars": 0}


def wanted(as_json: bool, stream: IO[str] | None = None) -> bool:
    """Whether a command should show progress: not with ``--json``, and only to a terminal."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not as_json and bool(isatty and isatty())


@contextmanager
def showing(on: bool) -> Iterator[None]:
    """Within the block, ``task`` draws bars when ``on``."""
    before = _state["on"]
    _state["on"] = bool(on)
    try:
        yield
    finally:
        _state["on"] = before


def active() -> bool:
    """Whether a bar is being drawn now (``write`` then goes above it)."""
    return _state["bars"] > 0


class Task:
    """One bar: ``update(n)`` advances it, ``to(value)`` moves it to ``value``; no-op when off."""

    def __init__(self, bar: tqdm | None):
        self._bar = bar
        self.active = bar is not None

    def update(self, n: float = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def to(self, value: float) -> None:
        if self._bar is not None:
            self._bar.update(value - self._bar.n)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)


@contextmanager
def task(description: str, total: float | None, unit: str = "it", file: IO[str] | None = None) -> Iterator[Task]:
    """A progress bar for the block (on stderr), or a no-op ``Task`` when progress is off."""
    if not _state["on"]:
        yield Task(None)
        return
    bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr if file is None else file,
               leave=False, dynamic_ncols=True)
    _state["bars"] += 1
    try:
        yield Task(bar)
    finally:
        _state["bars"] -= 1
        bar.close()


def write(line: str, file: IO[str] | None = None) -> None:
    """Print ``line`` to ``file`` (stdout), above the bar when one is shown."""
    out = sys.stdout if file is None else file
    if active():
        tqdm.write(line, file=out)
        out.flush()
    else:
        print(line, file=out, flush=True)
