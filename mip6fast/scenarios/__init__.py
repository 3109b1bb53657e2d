"""Named simulator scenarios (``mip6fast simulate NAME``): each builds a topology and a script on the
deterministic simulator, runs the real role classes, and returns a JSON-able summary whose
``"timeline"`` lists the notifications as text and ``"pcaps"`` the capture files of every link.

One module per theme; importing this package registers them all, in the order ``--list`` shows."""
from __future__ import annotations

from importlib import import_module

from .registry import SCENARIOS, run_scenario, run_with_world, scenario
from .world import (
    CN_ADDRESS,
    CN_MAC,
    CN_PREFIX,
    CORE_PREFIX,
    FOREIGN_A,
    FOREIGN_B,
    HA_ADDRESS,
    HOME_ADDRESS,
    HOME_PREFIX,
    MN_MAC,
    Mip6World,
)

# The themes, in the order ``--list`` shows them; importing a module registers its scenarios.
THEMES = ("routing", "registration", "movement", "addressing", "home_addresses", "route_optimization",
          "discovery", "hijack", "rr_attack", "scale")
for _theme in THEMES:
    import_module(f"{__name__}.{_theme}")

# The name the first tests used.
run_mip6 = run_with_world

__all__ = [
    "CN_ADDRESS",
    "CN_MAC",
    "CN_PREFIX",
    "CORE_PREFIX",
    "FOREIGN_A",
    "FOREIGN_B",
    "HA_ADDRESS",
    "HOME_ADDRESS",
    "HOME_PREFIX",
    "MN_MAC",
    "SCENARIOS",
    "Mip6World",
    "run_mip6",
    "run_scenario",
    "run_with_world",
    "scenario",
]
