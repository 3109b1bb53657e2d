"""Pictures of a run: ``mip6fast demo --plot FILE.png`` (the handover gaps over time) and ``mip6fast bench
WHAT --plot FILE.png`` (the benchmark's ratios as bars).

matplotlib is an optional extra (``pip install 'mip6fast[plot]'``): imported here at module level when
it is there, and ``require()`` (called by the commands before a long run starts) raises
``PlotUnavailable`` with the install line when it is not. Only matplotlib's object-oriented API is
used (``Figure``, no pyplot): no GUI backend is chosen and no global state is touched.
"""
from __future__ import annotations

import re
from typing import Any

from .errors import Mip6Error

Figure: Any
try:
    from matplotlib.figure import Figure
except ImportError:          # the optional extra is not installed: require() says how to get it
    Figure = None

__all__ = ["HAVE_MATPLOTLIB", "PlotUnavailable", "bench_ratios", "handover_gaps",
           "plot_bench", "plot_handovers", "require"]

HAVE_MATPLOTLIB = Figure is not None
_GOAL = re.compile(r"^ratio >= ([0-9.]+)")
_DPI = 100


class PlotUnavailable(Mip6Error, RuntimeError):
    """--plot without matplotlib."""


def require() -> None:
    if not HAVE_MATPLOTLIB:
        raise PlotUnavailable("--plot needs matplotlib, an optional extra: pip install 'mip6fast[plot]' "
                              "(or pip install matplotlib)")


# ---------------------------------------------------------------- the figures' data

def bench_ratios(report: dict) -> list[tuple[str, str, float]]:
    """(label, series, ratio) bars of a benchmark report: each result's ``ratio`` (mip6fast against
    its baseline), or for ``bench forward`` its ``vs_python`` and ``vs_reflector``."""
    bars = []
    for r in report.get("results", []):
        if r.get("ratio") is not None:
            bars.append((r["name"], "vs baseline", float(r["ratio"])))
        for key, series in (("vs_python", "vs Python forwarder"), ("vs_reflector", "vs kernel-bypass reflector")):
            if r.get(key) is not None:
                bars.append((r["name"], series, float(r[key])))
    return bars


def handover_gaps(summary: dict) -> list[dict]:
    """The demo's handovers that have a gap: at_s (seconds since the demo started, or the order),
    gap_ms, to (the link), route_optimisation."""
    out = []
    for i, h in enumerate(summary.get("handovers", []), 1):
        if h.get("gap_ms") is None:
            continue
        out.append({"at_s": h.get("at_s", i), "gap_ms": float(h["gap_ms"]), "to": h.get("to", "?"),
                    "route_optimisation": bool(h.get("route_optimisation"))})
    return out


# ---------------------------------------------------------------- drawing

def plot_bench(report: dict, path: str) -> None:
    """Bars of the report's ratios (log scale when they span more than a decade), a line at 1."""
    require()
    bars = bench_ratios(report)
    if not bars:
        raise ValueError(f"benchmark {report.get('benchmark')!r} has no ratios to plot")
    labels = list(dict.fromkeys(label for label, _, _ in bars))
    series = list(dict.fromkeys(s for _, s, _ in bars))
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(5.0, 1.1 * len(labels) + 2), 3.6), dpi=_DPI)
    ax = fig.add_subplot()
    for k, name in enumerate(series):
        xs, ys = [], []
        for label, s, ratio in bars:
            if s == name:
                xs.append(labels.index(label) + (k - (len(series) - 1) / 2) * width)
                ys.append(ratio)
        drawn = ax.bar(xs, ys, width=width, label=name)
        ax.bar_label(drawn, labels=[f"{y:.2f}x" for y in ys], fontsize=8, padding=2)
    ratios = [r for _, _, r in bars]
    if max(ratios) / max(min(ratios), 1e-9) > 10:
        ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    for r in report.get("results", []):       # a stated goal ("ratio >= 0.7 ..."): its line
        goal = _GOAL.match(str(r.get("goal", "")))
        if goal:
            ax.axhline(float(goal.group(1)), color="tab:red", linewidth=0.8, linestyle=":",
                       label=f"goal of {r['name']}: ratio >= {goal.group(1)}")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center",
                       fontsize=8)
    ax.set_ylabel("ratio (x)")
    env = report.get("environment", {})
    ax.set_title(f"mip6fast bench {report.get('benchmark', '')} (Python {env.get('python', '?')}, "
                 f"{env.get('cpus', '?')} CPUs)", fontsize=10)
    if len(series) > 1 or series != ["vs baseline"] or any(_GOAL.match(str(r.get("goal", "")))
                                                          for r in report.get("results", [])):
        ax.legend(fontsize=8)
    ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(path)


def plot_handovers(summary: dict, path: str) -> None:
    """The gap of each handover (the longest silence of the echo replies around it) against when it
    happened, one marker style per run (route optimisation on / off), each labelled with its link."""
    require()
    points = handover_gaps(summary)
    if not points:
        raise ValueError("the demo summary has no handover with a gap to plot")
    fig = Figure(figsize=(7.0, 3.6), dpi=_DPI)
    ax = fig.add_subplot()
    for ro, marker, name in ((True, "o", "route optimisation on"), (False, "s", "route optimisation off")):
        run = [p for p in points if p["route_optimisation"] == ro]
        if not run:
            continue
        xs, ys = [p["at_s"] for p in run], [p["gap_ms"] for p in run]
        lines = ax.plot(xs, ys, marker=marker, linestyle="-", label=name)
        ax.vlines(xs, 0, ys, colors=lines[0].get_color(), alpha=0.25)
        for p in run:
            ax.annotate(f"to {p['to']}", (p["at_s"], p["gap_ms"]), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
    ax.set_xlabel("seconds since the demo started" if any("at_s" in h for h in summary.get("handovers", []))
                  else "handover")
    ax.set_ylabel("gap (ms)")
    ax.set_ylim(0, max(p["gap_ms"] for p in points) * 1.18)     # room for the labels above the points
    ax.set_title("mip6fast demo: the gap in echo replies at each handover", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
