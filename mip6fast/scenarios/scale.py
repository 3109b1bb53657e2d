"""The scale scenario: one home agent, many mobile nodes registering and refreshing (RFC 6275 §10.3.1,
§11.7.1, §11.8), reporting the signalling rate and memory. The registrations are unprotected: the
scenario measures the registration engine itself (`mip6fast bench signalling` measures ESP's cost).

The home agent is the real ``HomeAgent`` on the simulator (DAD of each home address on the home link,
proxy NAs, the C binding cache); the mobile nodes are the members of one ``MobileFleet``
(roles/fleet.py), which speaks the real protocol with the mobile node's BU and BA code but keeps only
registration state per member: see its docstring for what is left out and why.
"""
from __future__ import annotations

import os
import resource
import time

import numpy as np

from .. import progress
from ..binding_cache import BindingCache
from ..roles import Interface
from ..roles.fleet import FleetConfig, MobileFleet
from ..roles.home_agent import BindingCreated, BindingUpdated, HomeAgent, HomeAgentConfig
from ..roles.interface import eui64_interface_id
from ..roles.mobile_node import BindingRefreshed, Registered, RegistrationFailed
from ..sim import NS_PER_S, Link, Simulator
from .registry import scenario
from .world import FOREIGN_A, HA_ADDRESS, HOME_PREFIX, MS, mac

__all__ = ["ScaleWorld", "scale"]

DEFAULT_N = 100_000
FLEET_CORE_ADDRESS = "2001:db8:ff::a"
HA_CORE_ADDRESS = "2001:db8:ff::1"
TIMELINE_LINES = 200          # the summary's timeline: the first lines (the rest is counted)


def member_mac(i: int) -> bytes:
    """Member ``i``'s (notional) MAC, from which its home and care-of interface identifiers come."""
    return bytes([0x02, 0x10, i >> 24 & 0xFF, i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF])


def member_addresses(n: int) -> list[tuple[int, int]]:
    """(home address, care-of address) as ints: SLAAC addresses (modified EUI-64) of member MACs on
    the home prefix and on the foreign prefix."""
    home, foreign = int(HOME_PREFIX.network_address), int(FOREIGN_A.network_address)
    out = []
    for i in range(n):
        iid = eui64_interface_id(member_mac(i))
        out.append((home | iid, foreign | iid))
    return out


def _rss_bytes() -> int:
    """Resident set size now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ScaleWorld:
    """``home`` link: the home agent's eth0 alone (its DAD NSs and proxy NAs go there); ``core`` link:
    the home agent's eth1 and the fleet, which stands for the foreign network FOREIGN_A and its
    members. The home agent routes FOREIGN_A to the fleet's core address."""

    def __init__(self, sim: Simulator, n: int, lifetime: int, arrival_s: int):
        self.sim = sim
        self.n = n
        self.home = Link("home", delay_ns=200_000)
        self.core = Link("core", delay_ns=1 * MS)
        # The cache is sized for the load up front, with a hash seed fixed by the simulator's seed so
        # the expiry order (slot order) is the same in every run.
        cache = BindingCache(16, max(n, 1024), seed=sim.seed & ((1 << 128) - 1))
        self.ha = HomeAgent("ha", [Interface("eth0", mac(0x30)), Interface("eth1", mac(0x31))],
                            HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS, max_bindings=max(n, 1 << 16)),
                            rng=sim.rng_for("ha"), cache=cache)
        self.ha.interfaces["eth1"].add_address(HA_CORE_ADDRESS, 64)
        self.ha.add_route(FOREIGN_A, "eth1", FLEET_CORE_ADDRESS)
        members = [(a.to_bytes(16, "big"), c.to_bytes(16, "big")) for a, c in member_addresses(n)]
        self.fleet = MobileFleet("fleet", [Interface("eth0", mac(0x50))],
                                 FleetConfig("eth0", HA_ADDRESS, tuple(members), lifetime=lifetime,
                                             arrival_ns=arrival_s * NS_PER_S),
                                 rng=sim.rng_for("fleet"))
        self.fleet.interfaces["eth0"].add_address(FLEET_CORE_ADDRESS, 64)
        self.fleet.add_route(HOME_PREFIX, "eth0", HA_CORE_ADDRESS)

    def start(self) -> None:
        self.sim.attach(self.ha, "eth0", self.home)
        self.sim.attach(self.ha, "eth1", self.core)
        self.sim.attach(self.fleet, "eth0", self.core)

    def count(self, node: str, cls) -> int:
        return sum(1 for _, name, e in self.sim.timeline if name == node and isinstance(e, cls))


def _percentiles_ms(values_ns: list[int]) -> dict:
    if not values_ns:
        return {}
    a = np.asarray(values_ns, dtype=np.float64) / MS
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3), "p99": round(float(p99), 3),
            "max": round(float(a.max()), 3), "min": round(float(a.min()), 3)}


@scenario("scale", "one home agent, N mobile nodes (default 100,000) registering and refreshing; "
                   "reports the signalling rate, memory and registration latency (--param n=N)")
def scale(seed: int, pcap_dir: str | None, n: int = DEFAULT_N, lifetime: int = 60,
          arrival_s: int = 20) -> tuple[ScaleWorld, dict]:
    """``n`` mobile nodes arrive uniformly over ``arrival_s`` seconds and register their home
    addresses with one home agent (DAD of each home address, §10.3.1), asking for ``lifetime``
    seconds; the run lasts until every binding has been refreshed once (the refresh comes a lead
    before the granted lifetime runs out, §11.7.1). Reports wall time, the BU / BA rates per wall and
    per virtual second, registrations, refreshes, failures, the binding cache's size, the process's
    memory growth and the per-node registration latency in virtual time."""
    n, lifetime, arrival_s = int(n), int(lifetime), int(arrival_s)
    if n < 1 or lifetime < 8 or arrival_s < 0:
        raise ValueError("scale: n >= 1, lifetime >= 8 s, arrival_s >= 0")
    rss_before = _rss_bytes()
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    sim = Simulator(seed, pcap_dir)
    world = ScaleWorld(sim, n, lifetime, arrival_s)
    built = time.perf_counter()
    # Last arrival + DAD + the refresh (a lead before the lifetime ends) + its BA, with margin.
    until = (2 + arrival_s + lifetime + 4) * NS_PER_S
    with sim, progress.task("simulate scale", total=until // NS_PER_S, unit=" virtual s") as bar:
        world.start()
        if bar.active:       # a virtual second at a time, to move the bar (the same events, in the same order)
            for second in range(1, until // NS_PER_S + 1):
                sim.run(second * NS_PER_S)
                bar.update(1)
                bar.describe(f"{world.ha.counters.get('binding.created', 0):,} bindings")
        sim.run(until)
    wall_end = time.perf_counter()
    cpu_s = time.process_time() - cpu_start
    rss_after = _rss_bytes()
    ha, fleet = world.ha, world.fleet
    ba_by_status = {k: v for k, v in sorted(ha.counters.items()) if k.startswith("ba.sent.status.")}
    bas = sum(ba_by_status.values())
    bus = fleet.counters["fleet.bu_sent"]
    run_wall = wall_end - built
    virtual_s = until / NS_PER_S
    timeline, sim.timeline = sim.timeline, sim.timeline[:TIMELINE_LINES]
    lines = sim.timeline_lines()
    sim.timeline = timeline
    summary = {
        "scenario": "scale",
        "seed": seed,
        "n": n,
        "lifetime_s": lifetime,
        "arrival_s": arrival_s,
        "virtual_s": virtual_s,
        "wall_s": round(wall_end - wall_start, 3),
        "cpu_s": round(cpu_s, 3),
        "setup_wall_s": round(built - wall_start, 3),
        "run_wall_s": round(run_wall, 3),
        "bus_sent": bus,
        "bus_retransmitted": fleet.counters["fleet.bu_retransmitted"],
        "bas_sent": bas,
        "bas_received": fleet.counters["fleet.registered"] + fleet.counters["fleet.refreshed"]
        + fleet.counters["fleet.ba_sequence_out_of_window"]
        + sum(v for k, v in fleet.counters.items() if k.startswith("fleet.ba_rejected.")),
        "ba_status": ba_by_status,
        "rate": {"bu_per_wall_s": round(bus / run_wall, 1), "ba_per_wall_s": round(bas / run_wall, 1),
                 "bu_per_cpu_s": round(bus / cpu_s, 1),
                 "bu_per_virtual_s": round(bus / virtual_s, 1), "ba_per_virtual_s": round(bas / virtual_s, 1),
                 # while the nodes arrive, the home agent takes this many first registrations a second
                 "arrivals_per_virtual_s": round(n / arrival_s, 1) if arrival_s else None},
        "registrations": world.count("fleet", Registered),
        "refreshes": world.count("fleet", BindingRefreshed),
        "failures": world.count("fleet", RegistrationFailed),
        "members": fleet.state_counts(),
        "ha_bindings_created": world.count("ha", BindingCreated),
        "ha_bindings_updated": world.count("ha", BindingUpdated),
        "ha_binding_cache": {"entries": len(ha.cache), "bytes": ha.cache.memory_bytes(),
                             "entry_bytes": ha.cache.entry_size()},
        "ha": dict(sorted(ha.counters.items())),
        "fleet": dict(sorted(fleet.counters.items())),
        "memory": {"rss_delta_bytes": rss_after - rss_before,
                   "rss_delta_per_node_bytes": round((rss_after - rss_before) / n, 1),
                   "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024},
        "registration_latency_ms": _percentiles_ms(fleet.latencies_ns),
        "links": {name: dict(sorted(link.counters.items())) for name, link in sim.links.items()},
        "pcaps": sorted(link.pcap_path for link in sim.links.values() if link.pcap_path),
        "timeline_total": len(timeline),
        "timeline": lines,
    }
    return world, summary
