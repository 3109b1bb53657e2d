"""The three Mobile IPv6 scenarios (mip6fast/scenarios.py) with the real HomeAgent, MobileNode and
CorrespondentNode together: assertions on the notifications and the summary numbers, and tshark finds
nothing wrong on any link's pcap."""
import json

from scenario_check import COA_A, COA_B, MS, S, check_pcaps, timed

from mip6fast.cli import main
from mip6fast.roles import home_agent as ha_mod
from mip6fast.roles import mobile_node as mn_mod
from mip6fast.scenarios import (
    HOME_ADDRESS,
    SCENARIOS,
    run_mip6,
)


def test_registry_and_cli_list_the_mobile_ipv6_scenarios(capsys):
    assert {"first-registration", "handover", "return-home"} <= set(SCENARIOS)
    assert main(["simulate", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {"first-registration", "handover", "return-home"} <= listed


def test_first_registration(tmp_path):
    world, summary = run_mip6("first-registration", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    # Registered once (BA status 0), the home agent created the binding after DAD for the home address.
    (t_reg, reg), = timed(world, "mn", mn_mod.Registered)
    (t_created, created), = timed(world, "ha", ha_mod.BindingCreated)
    assert reg.home_address == created.home_address == HOME_ADDRESS
    assert reg.care_of == created.care_of_address == COA_A and reg.lifetime == created.lifetime == 60
    assert t_created < t_reg < 5 * S
    assert summary["ba_status"] == {"ba.sent.status.0": 1 + summary["refreshes"]}
    # 60 s lifetime, 150 s run: refreshed before each expiry, never lapsed.
    refreshes = timed(world, "mn", mn_mod.BindingRefreshed)
    assert len(refreshes) == summary["refreshes"] >= 2
    last = t_reg
    for t, n in refreshes:
        assert n.care_of == COA_A and 0 < t - last < 60 * S
        last = t
    assert not timed(world, "ha", ha_mod.BindingExpired)
    assert len(timed(world, "ha", ha_mod.BindingUpdated)) == len(refreshes)
    # Every ping to the home address answered: through the HA's tunnel and the MN's reverse tunnel.
    ping = summary["ping"]
    assert ping["sent"] == ping["received"] == 130 and ping["lost"] == 0
    assert summary["ha"]["tunnelled"] == 130 and summary["ha"]["detunnelled"] == 130
    assert summary["mn"]["mn.reverse_tunnelled"] == 130 and summary["mn"]["echo_replies"] == 130
    (entry,) = summary["binding_cache"]
    assert entry["home_address"] == str(HOME_ADDRESS) and entry["care_of_address"] == str(COA_A)
    assert 0 < entry["remaining_s"] <= 60
    assert summary["registrations"] == 1 and summary["ha_bindings_created"] == 1
    check_pcaps(summary)


# Measured with seed 1: the MN moves at 30 s; the RA from the new router arrives at once (the carrier
# hint solicits), the old router's NUD fails 3 s later (three probes 1 s apart, RFC 4861), then the BU
# and BA take ~8 ms: the gap is 3.26 s and the 162 packets of that window (50/s) are lost.
HANDOVER_GAP_BOUND_MS = 4000


def test_handover(tmp_path):
    world, summary = run_mip6("handover", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    moved = timed(world, "mn", mn_mod.Moved)
    assert [(n.old_coa, n.new_coa) for _, n in moved] == [(None, COA_A), (COA_A, COA_B)]
    registered = timed(world, "mn", mn_mod.Registered)
    assert [n.care_of for _, n in registered] == [COA_A, COA_B]
    assert [n.care_of_address for _, n in timed(world, "ha", ha_mod.BindingUpdated)] == [COA_B]
    t_move = summary["move_at_ms"] * MS
    assert t_move < moved[1][0] < registered[1][0] < t_move + HANDOVER_GAP_BOUND_MS * MS
    stream = summary["stream"]
    assert stream["sent"] == 2500 and stream["duplicates"] == 0 and stream["reordered"] == 0
    assert stream["bad_checksum"] == 0
    # Everything sent before the move arrived, and everything sent after the new registration: the
    # losses are one contiguous run, the packets tunnelled to the old care-of address.
    assert summary["delivered_before_move"] == 1000       # 50/s from 10 s to 30 s
    first_lost, last_lost = summary["lost_sequence_range"]
    assert first_lost == 1000 and stream["lost"] == last_lost - first_lost + 1
    assert summary["delivered_after_move"] == stream["sent"] - 1000 - stream["lost"]
    gap = summary["handover_gap_ms"]
    assert 3000 < gap < HANDOVER_GAP_BOUND_MS and stream["max_gap_ms"] == gap
    assert stream["lost"] <= HANDOVER_GAP_BOUND_MS // 20
    (entry,) = summary["binding_cache"]
    assert entry["care_of_address"] == str(COA_B)
    check_pcaps(summary)


def test_return_home(tmp_path):
    world, summary = run_mip6("return-home", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    t_move = summary["move_at_ms"] * MS
    (t_home, _), = [(t, n) for t, n in timed(world, "mn", mn_mod.ReturnedHome) if t > t_move]
    (t_deleted, deleted), = timed(world, "ha", ha_mod.BindingDeleted)
    (t_dereg, _), = timed(world, "mn", mn_mod.Deregistered)
    assert deleted.home_address == HOME_ADDRESS
    assert t_move < t_home <= t_deleted < t_dereg < t_move + 3 * S
    assert not timed(world, "ha", ha_mod.RegistrationRejected)
    # The binding and the proxy entry are gone; nothing is tunnelled after the de-registration.
    assert summary["binding_cache"] == [] and summary["proxied_at_end"] == []
    assert summary["ha_bindings_deleted"] == 1
    assert summary["tunnelled_at_end"] - summary["tunnelled_at_move"] <= 3      # in flight before the BU
    # Pings keep being answered, natively, once home (only those of the detection window are lost).
    after = summary["pings_after_move"]
    assert after["sent"] == 80 and after["received"] >= after["sent"] - 3
    assert summary["ping"]["lost"] == after["sent"] - after["received"]
    # Replies before the move came through the reverse tunnel, those after it natively.
    assert summary["ha"]["detunnelled"] == summary["ping"]["received"] - after["received"]
    check_pcaps(summary)


def test_same_seed_same_summary():
    assert run_mip6("handover", seed=4)[1] == run_mip6("handover", seed=4)[1]
