"""``mip6fast bench signalling``: home registrations per second through the real roles, with and without
ESP (issue 11), in one run.

One exchange is what a refresh costs both ends: the mobile node's BU is built (and, protected, sealed
under its SA), the home agent receives it as a frame (unprotects it, checks it, updates the binding
cache, builds the BA and protects it), and the mobile node's side opens the BA. The ratio protected /
unprotected is the figure the goal speaks of: ESP may cost at most 30% (ratio >= 0.7)."""
from __future__ import annotations

import random
from ipaddress import IPv6Address, IPv6Network

from ..binding_cache import BindingCache
from ..roles.home_agent import HomeAgent, HomeAgentConfig
from ..roles.interface import Interface
from ..roles.mn_registration import home_binding_update
from ..roles.protection import manual_pair
from ..security import Algorithm, SecurityPolicyDatabase
from ..wire import NeighborSolicitation, Packet, SourceLinkLayerAddress, parse, solicited_node_multicast
from ..wire.ethernet import ethernet_frame, ipv6_multicast_mac
from . import environment, measure, result

__all__ = ["report"]

S = 1_000_000_000
HA = IPv6Address("2001:db8:1::1")
HA_CORE = IPv6Address("2001:db8:2::1")
NEXT_HOP = IPv6Address("2001:db8:2::77")
HOME = IPv6Address("2001:db8:1::9")
COA = IPv6Address("2001:db8:3::9")
HA_MAC = bytes.fromhex("020000000001")
CORE_MAC = bytes.fromhex("020000000002")
ROUTER_MAC = bytes.fromhex("020000000077")


class Exchange:
    """A home agent with one registered home address, and the mobile node's side of its refreshes."""

    def __init__(self, algorithm: Algorithm | None):
        mn_spd = ha_spd = None
        if algorithm is not None:
            mn_sas, ha_sas = manual_pair(HOME, HA, random.Random(1), algorithm=algorithm)
            mn_spd, ha_spd = SecurityPolicyDatabase(mn_sas), SecurityPolicyDatabase(ha_sas)
        config = HomeAgentConfig("eth0", (IPv6Network("2001:db8:1::/64"),), HA, virtual_home_link=True,
                                 max_lifetime=420, unauthenticated_registrations=algorithm is None)
        ha = HomeAgent("ha", [Interface("eth0", HA_MAC), Interface("eth1", CORE_MAC)], config,
                       rng=random.Random(1), cache=BindingCache(16, 64, seed=5), spd=ha_spd)
        ha.interfaces["eth1"].add_address(HA_CORE, 64)
        ha.add_route("::/0", "eth1", NEXT_HOP)
        for name in ("eth0", "eth1"):
            ha.link_changed(0, name, True)
        ha.tick(2 * S)
        ns = Packet(src=NEXT_HOP, dst=solicited_node_multicast(HA_CORE), hop_limit=255,
                    payload=NeighborSolicitation(HA_CORE, options=(SourceLinkLayerAddress(ROUTER_MAC),)))
        ha.receive(2 * S, "eth1", ethernet_frame(ipv6_multicast_mac(solicited_node_multicast(HA_CORE).packed),
                                                 ROUTER_MAC, ns.to_bytes()))
        self.ha, self.mn_spd = ha, mn_spd
        self.sequence = 0
        self.now = 3 * S
        if not self.once():
            raise RuntimeError("the benchmark's home registration was not accepted")

    def once(self) -> bool:
        self.sequence = (self.sequence + 1) & 0xFFFF
        raw = home_binding_update(COA, HA, HOME, self.sequence, 400).to_bytes()
        if self.mn_spd is not None:
            raw = self.mn_spd.protect(raw, HOME)
        out = self.ha.receive(self.now, "eth1", ethernet_frame(CORE_MAC, ROUTER_MAC, raw))
        ok = False
        for t in out.transmits:
            ba = t.frame[14:]
            if self.mn_spd is not None:
                ba = self.mn_spd.unprotect(ba).packet
            ok = parse(ba).payload.status == 0
        return ok


def report(seconds: float = 0.3, algorithms=(Algorithm.AES_128_GCM,), rounds: int = 5) -> dict:
    """BU -> BA exchanges per second, unprotected and under each algorithm, measured in this run:
    ``rounds`` alternating rounds of ``seconds / rounds`` each, the best of each kind kept, so that a
    change in the machine's load during the run does not fall on one side only."""
    plain = Exchange(None)
    protected = {algorithm: Exchange(algorithm) for algorithm in algorithms}
    base = 0.0
    rates = dict.fromkeys(algorithms, 0.0)
    share = seconds / rounds
    for _ in range(rounds):
        base = max(base, measure(plain.once, share))
        for algorithm, exchange in protected.items():
            rates[algorithm] = max(rates[algorithm], measure(exchange.once, share))
    results = [result("bu_ba_unprotected", base, "exchanges/s")]
    for algorithm, rate in rates.items():
        results.append(result(f"bu_ba_esp_{algorithm.value}", rate, "exchanges/s", base,
                              goal="ratio >= 0.7 (ESP costs at most 30%)"))
    return {"benchmark": "signalling", "environment": environment(), "results": results}
