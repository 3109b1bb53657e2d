"""The discovery scenarios (mip6fast/scenarios/discovery.py) with the real roles: home agent failover
after DHAAD, DHAAD load sharing, home renumbering by Mobile Prefix Advertisements. Assertions on the
notifications, counters and summary figures; tshark finds nothing wrong on any link's pcap."""
import json
from ipaddress import IPv6Address, IPv6Network

from scenario_check import MS, S, check_pcaps, timed

from mip6fast.cli import main
from mip6fast.io.pcap import read_pcap
from mip6fast.roles import home_agent as ha_mod
from mip6fast.roles import mobile_node as mn_mod
from mip6fast.scenarios import HOME_ADDRESS, SCENARIOS, run_mip6
from mip6fast.scenarios.discovery import NEW_HOME_PREFIX, home_agent_address
from mip6fast.wire import (
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    home_agents_anycast,
    parse,
)
from mip6fast.wire.ethernet import parse_ethernet

HA1, HA2, HA3 = (home_agent_address(n) for n in (1, 2, 3))
NAMES = ("ha-failover", "dhaad-load-sharing", "home-renumbering")


def icmp_messages(summary, link, cls, keys=None):
    """(IPv6 packet) of every frame on ``link``'s pcap whose payload is a ``cls``; ``keys`` (the world's
    ``capture_keys``) opens protected signalling."""
    path = next(p for p in summary["pcaps"] if p.endswith(f"{link}.pcap"))
    out = []
    _, records = read_pcap(path)
    for record in records:
        _, _, ethertype, payload = parse_ethernet(record.data)
        if ethertype != 0x86DD:
            continue
        raw = bytes(payload) if keys is None else keys.open(bytes(payload))
        packet = parse(raw)
        if isinstance(packet.payload, cls):
            out.append(packet)
    return out


def test_registry_and_cli_list_the_discovery_scenarios(capsys):
    assert set(NAMES) <= set(SCENARIOS)
    assert main(["simulate", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed.index("ha-failover") > listed.index("return-home")


def test_ha_failover(tmp_path):
    world, summary = run_mip6("ha-failover", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    mn = world.mns[0]
    home = mn.home_addresses[0]
    # DHAAD: [ha1 (preference 10), ha2 (0)], answered once; the request went from the care-of address to
    # the Home-Agents anycast address (seen on the foreign link's capture).
    (t_disc, disc), = timed(world, "mn0", mn_mod.HomeAgentDiscovered)
    assert disc.home_agents == (HA1, HA2)
    requests = icmp_messages(summary, "fa", HomeAgentAddressDiscoveryRequest)
    assert requests and {r.dst for r in requests} == {home_agents_anycast(IPv6Network("2001:db8:1::/64"))}
    replies = icmp_messages(summary, "fa", HomeAgentAddressDiscoveryReply)
    assert [r.payload.identifier for r in replies] == [requests[0].payload.identifier]
    # Registered first with ha1, then (after it failed at 20 s) with ha2.
    (t_ha1, created1), = timed(world, "ha1", ha_mod.BindingCreated)
    (t_ha2, created2), = timed(world, "ha2", ha_mod.BindingCreated)
    assert created1.home_address == created2.home_address == home
    assert t_disc < t_ha1 < 20 * S < t_ha2
    (t_change, change), = timed(world, "mn0", mn_mod.HomeAgentChanged)
    assert (change.old, change.new, change.reason) == (HA1, HA2, "not_answering")
    assert 20 * S < t_change < t_ha2
    # The refresh went unanswered: 1 s, 2 s, then 4 s at the (shortened) cap, twice.
    assert mn.counters["mn.home_agent_not_answering"] == 1
    assert (HA1, home) not in mn.binding_update_list and (HA2, home) in mn.binding_update_list
    # Outage: failure -> re-registration; nothing from ha1 after the failure; the stream resumed via ha2.
    assert summary["outage_ms"] == round((timed(world, "mn0", mn_mod.Registered)[-1][0] - 20 * S) / MS, 3)
    assert 5_000 < summary["outage_ms"] < 30_000
    assert summary["detected_after_ms"] < summary["outage_ms"]
    stream = summary["stream"]
    assert summary["delivered_after_failure"] > 300
    assert summary["ha2_tunnelled"] >= summary["delivered_after_failure"]
    assert stream["delivered"] + stream["lost"] == stream["sent"]
    # Losses are the outage at 20 packets/s, give or take the packets in flight.
    assert abs(summary["lost_after_failure"] - summary["outage_ms"] / 50) < 25
    assert summary["stream_gap_ms"] >= summary["outage_ms"] - 100
    check_pcaps(summary)


def test_dhaad_load_sharing(tmp_path):
    world, summary = run_mip6("dhaad-load-sharing", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    assert summary["registered"] == 12
    dist = summary["distribution"]
    assert dist["ha1"] + dist["ha2"] == 12 and dist["ha1"] > 0 and dist["ha2"] > 0 and dist["ha3"] == 0
    # Every reply: the two preference-5 agents first, in either order, ha3 (preference 0) last; both
    # orders occur (shuffled per reply, §10.5.1).
    lists = [n.home_agents for mn in world.mns for _, n in timed(world, mn.name, mn_mod.HomeAgentDiscovered)]
    assert len(lists) == 12
    assert all(set(lst[:2]) == {HA1, HA2} and lst[2] == HA3 for lst in lists)
    assert {lst[0] for lst in lists} == {HA1, HA2}
    # Each node registered with the first agent of its reply, and that agent holds its binding.
    for mn in world.mns:
        (_, n), = timed(world, mn.name, mn_mod.HomeAgentDiscovered)
        agent = next(ha for ha in world.has if ha.config.address == n.home_agents[0])
        assert mn.home_addresses[0] in agent.cache
    assert sum(len(ha.cache) for ha in world.has) == 12
    assert summary["pings"] == {"sent": 120, "received": 120}
    check_pcaps(summary)


def test_dhaad_load_sharing_other_seed_also_spreads():
    _, summary = run_mip6("dhaad-load-sharing", seed=2)
    dist = summary["distribution"]
    assert dist["ha3"] == 0 and min(dist["ha1"], dist["ha2"]) > 0 and summary["registered"] == 12


def test_home_renumbering(tmp_path):
    world, summary = run_mip6("home-renumbering", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    new_home = IPv6Address(summary["new_home_address"])
    assert new_home in NEW_HOME_PREFIX
    assert int(new_home) & ((1 << 64) - 1) == int(HOME_ADDRESS) & ((1 << 64) - 1)   # same interface id
    changes = timed(world, "mn", mn_mod.HomePrefixChanged)
    added = [(t, n) for t, n in changes if n.added]
    (t_added, add), = added
    assert add.home_address == new_home and add.prefix == NEW_HOME_PREFIX and 20 * S < t_added < 21 * S
    deprecated = [n for _, n in changes if n.home_address == HOME_ADDRESS and n.valid_lifetime > 0]
    assert deprecated and deprecated[0].preferred_lifetime == 0 and deprecated[0].valid_lifetime <= 40
    # The new home address is registered (with the home agent's DAD on the home link), within ~1 s.
    registered = [(t, n) for t, n in timed(world, "mn", mn_mod.Registered) if n.home_address == new_home]
    assert len(registered) == 1 and registered[0][0] - t_added < 2 * S
    assert [n.home_address for _, n in timed(world, "ha", ha_mod.BindingCreated)] == [HOME_ADDRESS, new_home]
    # Withdrawal at 45 s: the old address is dropped, the new one stays.
    (t_w, w), = timed(world, "mn", mn_mod.HomeAddressWithdrawn)
    assert w.home_address == HOME_ADDRESS and 45 * S < t_w < 46 * S
    assert summary["home_addresses_at_end"] == [str(new_home)]
    # The advertisements came with RH2 to the care-of address, from the home agent; one solicitation
    # (the old prefix's 40 s left are less than the 120 s binding) was answered with its identifier.
    mpas = icmp_messages(summary, "fa", MobilePrefixAdvertisement, world.capture_keys)
    assert mpas and all(p.rh2 in (HOME_ADDRESS, new_home) and p.src == world.ha.config.address for p in mpas)
    (mps,) = icmp_messages(summary, "fa", MobilePrefixSolicitation, world.capture_keys)
    assert mps.home_address == HOME_ADDRESS
    assert any(p.payload.identifier == mps.payload.identifier for p in mpas)
    assert summary["mpa"]["solicited"] == 1 and summary["mpa"]["unsolicited"] >= 2
    # Pings: the new address answers all along; the old one until the withdrawal, not after.
    assert summary["ping_new"]["lost"] == 0 and summary["ping_new"]["received"] == 70
    assert summary["ping_old_answered_after_withdrawal"] == 0
    assert summary["ping_old"]["received"] >= 65
    # The home agent's binding for the old address ran out with its prefix.
    assert [n.home_address for _, n in timed(world, "ha", ha_mod.BindingExpired)] == [HOME_ADDRESS]
    check_pcaps(summary)


def test_scenarios_are_deterministic():
    for name in NAMES:
        a = SCENARIOS[name][1](seed=3)
        b = SCENARIOS[name][1](seed=3)
        assert a["timeline"] == b["timeline"], name
