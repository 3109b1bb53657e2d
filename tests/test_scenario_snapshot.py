"""Every scenario's behaviour, pinned: the SHA-256 of each link's capture and the JSON summary
(seed 1; ``scale`` with 200 mobile nodes), compared with ``tests/snapshots/scenarios.json``.

A refactoring must leave this green byte for byte. A deliberate behaviour change regenerates the
snapshot on purpose and says why in its commit:

    MIP6FAST_UPDATE_SNAPSHOT=1 python -m pytest tests/test_scenario_snapshot.py

Wall-clock figures (the scale scenario's rates, CPU and memory) are not behaviour and are left out;
capture paths are kept relative to the capture directory.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from mip6fast.scenarios import SCENARIOS, run_scenario

SNAPSHOT = Path(__file__).parent / "snapshots" / "scenarios.json"
PARAMS = {"scale": {"n": 200}}
WALL_CLOCK_KEYS = {"wall_s", "cpu_s", "setup_wall_s", "run_wall_s", "rate", "memory"}
UPDATE = os.environ.get("MIP6FAST_UPDATE_SNAPSHOT") == "1"


def record(name: str, pcap_dir: Path) -> dict:
    summary = run_scenario(name, seed=1, pcap_dir=str(pcap_dir), **PARAMS.get(name, {}))
    summary = {k: v for k, v in summary.items() if k not in WALL_CLOCK_KEYS}
    captures = {str(p.relative_to(pcap_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(pcap_dir.rglob("*.pcap"))}
    assert captures, f"scenario {name} wrote no capture"
    # through JSON so that tuples and lists compare as the stored file has them; capture paths
    # (anywhere in the summary) relative to the capture directory
    text = json.dumps({"captures": captures, "summary": summary}).replace(str(pcap_dir) + "/", "")
    return json.loads(text)


def load() -> dict:
    return json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_matches_snapshot(name, tmp_path):
    got = record(name, tmp_path)
    if UPDATE:
        stored = load()
        stored[name] = got
        SNAPSHOT.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        return
    stored = load()
    assert name in stored, f"no snapshot for {name}: run with MIP6FAST_UPDATE_SNAPSHOT=1"
    want = stored[name]
    assert got["captures"] == want["captures"], f"{name}: captures differ from the snapshot"
    assert got["summary"] == want["summary"], f"{name}: summary differs from the snapshot"


def test_snapshot_names_every_scenario():
    assert sorted(load()) == sorted(SCENARIOS)
