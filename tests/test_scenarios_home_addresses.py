"""The home-address scenarios (mip6fast/scenarios/home_addresses.py) with the real roles: two home
addresses on two home links with their home agents, a home agent with a virtual home link, and a mobile
node that reboots. Assertions on notifications, what crossed the links, and the summary numbers; tshark
finds nothing wrong in any link's pcap."""
import json

from scenario_check import MS, S, check_pcaps, timed

from mip6fast.binding_cache import sequence_newer
from mip6fast.cli import main
from mip6fast.roles import home_agent as ha_mod
from mip6fast.roles import mobile_node as mn_mod
from mip6fast.roles.mobile_node import Location
from mip6fast.scenarios import HA_ADDRESS, HOME_ADDRESS, SCENARIOS, run_with_world
from mip6fast.scenarios.home_addresses import COA_A, COA_B, HA2_ADDRESS, HOME_ADDRESS2

NAMES = {"two-home-agents", "virtual-home-link", "mn-reboot"}


def test_registered_and_listed(capsys):
    assert NAMES <= set(SCENARIOS)
    assert main(["simulate", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert NAMES <= listed


# ---------------------------------------------------------------- two-home-agents

def test_two_home_agents(tmp_path):
    world, summary = run_with_world("two-home-agents", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    to_home = summary["moves_ms"]["home1"] * MS
    to_b = summary["moves_ms"]["foreign_b"] * MS
    ha2 = world.sim.nodes["ha2"]
    registered = timed(world, "mn", mn_mod.Registered)
    by_home = {h: [(t, n.care_of) for t, n in registered if n.home_address == h] for h in (HOME_ADDRESS, HOME_ADDRESS2)}
    # Home address 1: from foreign link A, then (after being at home) again from B -- no registration
    # while on its home link.
    assert [c for _, c in by_home[HOME_ADDRESS]] == [COA_A, COA_B]
    assert by_home[HOME_ADDRESS][0][0] < to_home < to_b < by_home[HOME_ADDRESS][1][0]
    # Home address 2: from A, from home link 1 with home address 1 as care-of address, then from B.
    assert [c for _, c in by_home[HOME_ADDRESS2]] == [COA_A, HOME_ADDRESS, COA_B]
    t_h2_home = by_home[HOME_ADDRESS2][1][0]
    assert to_home < t_h2_home < to_b
    # On home link 1: de-registered with ha first, then home address 1 became the care-of address.
    (t_ret, ret), = timed(world, "mn", mn_mod.ReturnedHome)
    (t_dereg, dereg), = timed(world, "mn", mn_mod.Deregistered)
    assert ret.home_address == dereg.home_address == HOME_ADDRESS
    assert to_home < t_ret < t_dereg <= t_h2_home < to_home + 1 * S
    moved = [(n.old_coa, n.new_coa) for _, n in timed(world, "mn", mn_mod.Moved)]
    assert moved == [(None, COA_A), (None, HOME_ADDRESS), (HOME_ADDRESS, COA_B)]
    # The bindings at each home agent, in order.
    ha_events = [(type(n).__name__, n.home_address, getattr(n, "care_of_address", None))
                 for _, name, n in world.sim.timeline if name == "ha" and isinstance(
                     n, (ha_mod.BindingCreated, ha_mod.BindingUpdated, ha_mod.BindingDeleted))]
    assert ha_events == [("BindingCreated", HOME_ADDRESS, COA_A), ("BindingDeleted", HOME_ADDRESS, None),
                         ("BindingCreated", HOME_ADDRESS, COA_B)]
    ha2_events = [(type(n).__name__, n.home_address, n.care_of_address)
                  for _, name, n in world.sim.timeline if name == "ha2" and isinstance(
                      n, (ha_mod.BindingCreated, ha_mod.BindingUpdated, ha_mod.BindingDeleted))]
    assert ha2_events == [("BindingCreated", HOME_ADDRESS2, COA_A), ("BindingUpdated", HOME_ADDRESS2, HOME_ADDRESS),
                          ("BindingUpdated", HOME_ADDRESS2, COA_B)]
    assert not timed(world, "ha", ha_mod.RegistrationRejected) and not timed(world, "ha2", ha_mod.RegistrationRejected)
    # On home link 1: the de-registration with ha from home address 1 (no HAO, answered without RH2),
    # then the registration of home address 2 with ha2 from home address 1 (HAO = home address 2, BA
    # to home address 1 with an RH2 holding home address 2).
    on_home = [(e["kind"], e["src"], e["dst"], e["home_address"], e.get("status"))
               for e in summary["home_link_signalling"]]
    h1, h2, ha1, ha2a = str(HOME_ADDRESS), str(HOME_ADDRESS2), str(HA_ADDRESS), str(HA2_ADDRESS)
    assert on_home == [("BU", h1, ha1, h1, None), ("BA", ha1, h1, h1, 0),
                       ("BU", h1, ha2a, h2, None), ("BA", ha2a, h1, h2, 0)]
    assert [(b["home_address"], b["care_of_address"]) for b in summary["binding_cache"]] == [
        (str(HOME_ADDRESS), str(COA_B))]
    assert [(b["home_address"], b["care_of_address"]) for b in summary["binding_cache_ha2"]] == [
        (str(HOME_ADDRESS2), str(COA_B))]
    # Each home agent only ever bound its own home address.
    assert set(world.ha.cache.keys()) == {HOME_ADDRESS} and set(ha2.cache.keys()) == {HOME_ADDRESS2}
    # Pings to both home addresses: all answered on foreign link A (both tunnels), on home link 1
    # (home address 1 natively, home address 2 through ha2's tunnel to home address 1), and on B once
    # movement detection and the registrations are done.
    p1, p2 = summary["ping"][str(HOME_ADDRESS)], summary["ping"][str(HOME_ADDRESS2)]
    for p in (p1, p2):
        assert p["foreign_a"]["sent"] == p["foreign_a"]["received"] == 28
        assert p["duplicates"] == 0
    assert p2["home1"]["sent"] == p2["home1"]["received"] == 40
    assert p1["home1"]["sent"] == 40 and p1["home1"]["received"] >= 39      # one in flight at the move
    for p in (p1, p2):
        assert p["foreign_b"]["sent"] == 40 and p["foreign_b"]["received"] >= 40 - 10   # NUD of the old router
    tun = summary["tunnelled"]
    assert tun["at_move_home"] == {"ha": 28, "ha2": 28}                  # both tunnels carried traffic
    assert tun["at_move_b"]["ha"] - tun["at_move_home"]["ha"] <= 1       # at home: ha no longer tunnels
    assert tun["at_move_b"]["ha2"] - tun["at_move_home"]["ha2"] == 40    # ha2 tunnels to home address 1
    assert tun["at_end"]["ha"] > tun["at_move_b"]["ha"] and tun["at_end"]["ha2"] > tun["at_move_b"]["ha2"]
    # Replies came back through the reverse tunnels: ha detunnelled only while away for address 1.
    assert summary["ha"]["detunnelled"] == p1["foreign_a"]["received"] + p1["foreign_b"]["received"]
    assert summary["ha2"]["detunnelled"] == p2["received"]
    mn = world.mn
    assert mn.location_of(HOME_ADDRESS) is Location.AWAY and mn.location_of(HOME_ADDRESS2) is Location.AWAY
    check_pcaps(summary)


# ---------------------------------------------------------------- virtual-home-link

def test_virtual_home_link(tmp_path):
    world, summary = run_with_world("virtual-home-link", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    move_at = summary["move_at_ms"] * MS
    # No proxy NA, no DAD, no NS of any kind about the home address on any link; the watch did see
    # neighbour discovery (DAD of the care-of addresses among others), so it was listening.
    assert summary["home_address_nd_on_links"] == []
    assert {str(COA_A), str(COA_B)} <= set(summary["dad_probes_seen"])
    assert str(HOME_ADDRESS) not in summary["dad_probes_seen"]
    assert summary["nd_seen"]["NS"] > 0 and summary["nd_seen"]["NA"] > 0
    assert summary["ha"].get("dad.ns_sent", 0) == 0 and summary["ha"].get("proxy.na_sent", 0) == 0
    assert summary["ha_ras_sent"] == 0 and HOME_ADDRESS not in world.ha.nd["eth0"].proxies
    # Always away: never at home, registered from A, refreshed, registered from B, refreshed.
    assert not timed(world, "mn", mn_mod.ReturnedHome)
    regs = [(r["care_of"], r["refresh"]) for r in summary["mn_registrations"]]
    assert regs == [(str(COA_A), False), (str(COA_A), True), (str(COA_B), False), (str(COA_B), True)]
    (t_created, created), = timed(world, "ha", ha_mod.BindingCreated)
    assert created.care_of_address == COA_A and created.lifetime == 24 and t_created < 3 * S
    assert [n.care_of_address for _, n in timed(world, "ha", ha_mod.BindingUpdated)] == [COA_A, COA_B, COA_B]
    # No DAD at the home agent: the first BA comes within a round trip, not after RetransTimer (1 s).
    assert summary["first_registration_ms"] < 50
    assert not timed(world, "ha", ha_mod.BindingExpired)
    (entry,) = summary["binding_cache"]
    assert entry["care_of_address"] == str(COA_B) and 0 < entry["remaining_s"] <= 24
    # Traffic to the home address is tunnelled, before and after the move.
    ping = summary["ping"]
    assert ping["before_move"]["sent"] == ping["before_move"]["received"] == 50
    assert ping["after_move"]["sent"] == 60 and ping["after_move"]["received"] >= 60 - 10
    assert summary["ha"]["tunnelled"] >= ping["received"] and summary["ha"]["detunnelled"] == ping["received"]
    assert summary["mn"]["mn.reverse_tunnelled"] == ping["received"]
    (t_reg_b, _), = [(t, n) for t, n in timed(world, "mn", mn_mod.Registered) if n.care_of == COA_B]
    assert move_at < t_reg_b < move_at + 4 * S
    check_pcaps(summary)


# ---------------------------------------------------------------- mn-reboot

# Seed 2: the rebooted node's random first sequence number is not newer than the one the home agent
# last accepted (checked below, from the numbers themselves); seed 1: it is newer, accepted at once.
STALE_SEED, FRESH_SEED = 2, 1


def test_mn_reboot_with_a_stale_sequence_gets_135_then_registers(tmp_path):
    world, summary = run_with_world("mn-reboot", seed=STALE_SEED, pcap_dir=str(tmp_path))
    json.dumps(summary)
    last = summary["ha_sequence_at_reboot"]
    first = summary["first_sequence_after_reboot"]
    assert not sequence_newer(first, last) and summary["first_sequence_stale"] is True
    sig = summary["signalling_after_reboot"]
    assert [(e["kind"], e.get("status")) for e in sig] == [("BU", None), ("BA", 135), ("BU", None), ("BA", 0)]
    # 135 carries the last accepted sequence; the next BU uses it + 1, and that is what is accepted.
    assert sig[0]["sequence"] == first and sig[1]["sequence"] == last
    assert sig[2]["sequence"] == sig[3]["sequence"] == (last + 1) % 65536
    # At once (no BU timeout, 1.5 s, is waited): the whole exchange is two round trips.
    assert sig[2]["at_ms"] - sig[1]["at_ms"] < 1
    assert sig[3]["at_ms"] - sig[0]["at_ms"] < 20
    assert summary["boot_at_ms"] < sig[0]["at_ms"] < summary["boot_at_ms"] + 3000
    (t_rej, rej), = timed(world, "ha", ha_mod.RegistrationRejected)
    assert rej.status == 135 and rej.home_address == HOME_ADDRESS
    (t_upd, upd), = timed(world, "ha", ha_mod.BindingUpdated)
    (t_reg, reg), = timed(world, "mn-rebooted", mn_mod.Registered)
    assert t_rej < t_upd < t_reg and reg.care_of == upd.care_of_address == COA_A
    assert summary["ha"]["ba.sent.status.135"] == 1 and summary["rebooted_mn"]["mn.ba_sequence_out_of_window"] == 1
    assert world.ha.cache[HOME_ADDRESS].sequence == (last + 1) % 65536
    # The home agent's binding survived the reboot (same care-of address); pings resume once the
    # new registration is in.
    ping = summary["ping"]
    assert ping["before_off"]["sent"] == ping["before_off"]["received"] == 20
    assert ping["after_boot"]["received"] >= ping["after_boot"]["sent"] - 3
    assert not timed(world, "mn-rebooted", mn_mod.RegistrationFailed)
    check_pcaps(summary)


def test_mn_reboot_with_a_newer_sequence_is_accepted_at_once():
    world, summary = run_with_world("mn-reboot", seed=FRESH_SEED)
    last = summary["ha_sequence_at_reboot"]
    first = summary["first_sequence_after_reboot"]
    assert sequence_newer(first, last) and summary["first_sequence_stale"] is False
    sig = summary["signalling_after_reboot"]
    assert [(e["kind"], e.get("status"), e["sequence"]) for e in sig] == [("BU", None, first), ("BA", 0, first)]
    assert summary["ha"].get("ba.sent.status.135", 0) == 0
    assert [n.care_of for _, n in timed(world, "mn-rebooted", mn_mod.Registered)] == [COA_A]


def test_same_seed_same_summary():
    for name in sorted(NAMES):
        assert run_with_world(name, seed=3)[1] == run_with_world(name, seed=3)[1]
