"""The scenario registry: ``@scenario(name, description)`` registers a function
``(seed, pcap_dir) -> (world, summary)``; ``SCENARIOS`` maps each name to ``(description, function
returning the summary)`` in registration order (``mip6fast simulate --list``). A scenario function may
take keyword parameters after ``(seed, pcap_dir)`` (e.g. ``n`` for ``scale``); ``run_scenario(name,
seed, pcap_dir, **params)`` passes them (``mip6fast simulate NAME --param key=value``)."""
from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ["SCENARIOS", "run_scenario", "run_with_world", "scenario", "scenario_parameters"]

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

        def summary(seed: int = 1, pcap_dir: str | None = None, **params) -> dict:
            return run_with_world(name, seed, pcap_dir, **params)[1]
        summary.__name__ = func.__name__
        summary.__doc__ = func.__doc__
        SCENARIOS[name] = (description, summary)
        return func
    return register


def scenario_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters a scenario takes beyond (seed, pcap_dir), with their defaults."""
    params = list(inspect.signature(_RUNNERS[name]).parameters.values())[2:]
    return {p.name: p.default for p in params}


def run_with_world(name: str, seed: int = 1, pcap_dir: str | None = None, **params) -> tuple[Any, dict]:
    """A scenario's world (its nodes, links and notification timeline) as well as its summary, for
    tests that look at the nodes themselves. ``params`` go to the scenario function; one it does not
    take is a ValueError."""
    try:
        runner = _RUNNERS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    if params:
        known = scenario_parameters(name)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(f"scenario {name!r} takes no parameter {', '.join(unknown)}"
                             f" (it takes: {', '.join(known) or 'none'})")
    return runner(seed, pcap_dir, **params)


def run_scenario(name: str, seed: int = 1, pcap_dir: str | None = None, **params) -> dict:
    return run_with_world(name, seed, pcap_dir, **params)[1]
