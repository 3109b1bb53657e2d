"""The scenario registry: ``@scenario(name, description)`` registers a function
``(seed, pcap_dir) -> (world, summary)``; ``SCENARIOS`` maps each name to ``(description, function
returning the summary)`` in registration order (``mip6fast simulate --list``)."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["SCENARIOS", "run_scenario", "run_with_world", "scenario"]

Runner = Callable[[int, "str | None"], "tuple[Any, dict]"]

SCENARIOS: dict[str, tuple[str, Callable[..., dict]]] = {}
_RUNNERS: dict[str, Runner] = {}


def scenario(name: str, description: str) -> Callable[[Runner], Runner]:
    """Register a scenario. Its summary must be JSON-able and hold ``"timeline"`` (notifications as
    text) and ``"pcaps"`` (the capture files written when ``pcap_dir`` is given)."""
    def register(func: Runner) -> Runner:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} registered twice")
        _RUNNERS[name] = func

        def summary(seed: int = 1, pcap_dir: str | None = None) -> dict:
            return func(seed, pcap_dir)[1]
        summary.__name__ = func.__name__
        summary.__doc__ = func.__doc__
        SCENARIOS[name] = (description, summary)
        return func
    return register


def run_with_world(name: str, seed: int = 1, pcap_dir: str | None = None) -> tuple[Any, dict]:
    """A scenario's world (its nodes, links and notification timeline) as well as its summary, for
    tests that look at the nodes themselves."""
    try:
        runner = _RUNNERS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    return runner(seed, pcap_dir)


def run_scenario(name: str, seed: int = 1, pcap_dir: str | None = None) -> dict:
    return run_with_world(name, seed, pcap_dir)[1]
