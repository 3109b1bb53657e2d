"""Movement-detection scenarios (mip6fast/scenarios/movement.py) with the real roles: two routers on
one link, the overdue RA with and without the Advertisement Interval option, and the BU retransmission
rules on a lossy link; assertions on notifications, counters and the BUs on the wire, and tshark finds
nothing wrong on any pcap."""
import json

import pytest
from scenario_check import COA_A, COA_B, ESP_SEEN_TWICE, MS, S, check_pcaps, timed
from tshark_check import problems, require_tshark

from mip6fast.roles import home_agent as ha_mod
from mip6fast.roles import mobile_node as mn_mod
from mip6fast.roles import slaac_address
from mip6fast.scenarios import MN_MAC, SCENARIOS, run_mip6
from mip6fast.scenarios.movement import FOREIGN_A2, bu_transmissions


def test_movement_scenarios_are_registered():
    assert {"two-routers-one-link", "foreign-router-down", "late-ra", "lossy-link", "short-lived-flows"} \
        <= set(SCENARIOS)


def test_two_routers_one_link(tmp_path):
    world, summary = run_mip6("two-routers-one-link", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    # The second router's prefix was seen ...
    assert summary["second_prefix_seen"]
    # ... and NUD of the current router said "same link": no Moved, no BU between 15 s and the move.
    assert summary["same_link_new_prefix"] >= 1
    assert summary["bu_sent_before_second_router"] == summary["bu_sent_before_move"] == 1
    moved = timed(world, "mn", mn_mod.Moved)
    assert [(n.old_coa, n.new_coa) for _, n in moved] == [(None, COA_A), (COA_A, COA_B)]
    t_move = summary["move_at_ms"] * MS
    assert moved[0][0] < summary["second_router_at_ms"] * MS < t_move < moved[1][0] < t_move + 5 * S
    # The real move is registered; the home agent saw exactly one care-of address change.
    assert [n.care_of for _, n in timed(world, "mn", mn_mod.Registered)] == [COA_A, COA_B]
    assert [n.care_of_address for _, n in timed(world, "ha", ha_mod.BindingUpdated)] == [COA_B]
    assert summary["mn"]["mn.bu_sent"] == 2
    # Pings to the home address while both routers were on the link: all answered.
    assert summary["ping"]["sent"] == summary["ping"]["received"] == 70
    check_pcaps(summary)


def test_foreign_router_down(tmp_path):
    world, summary = run_mip6("foreign-router-down", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    coa_a2 = slaac_address(FOREIGN_A2, MN_MAC)
    assert summary["same_link_new_prefix"] == 1           # the second router: same link, no move
    t_down = summary["router_down_at_ms"] * MS
    # The router's RA is overdue within a second, NUD fails 3 s later; then the other router serves
    # the link and the node takes a care-of address on its prefix, once.
    assert summary["router_lost_reason"] == "nud_failed"
    assert 3000 < summary["router_lost_after_down_ms"] <= 4000
    moved = timed(world, "mn", mn_mod.Moved)
    assert [(n.old_coa, n.new_coa) for _, n in moved] == [(None, COA_A), (COA_A, coa_a2)]
    assert t_down + 3 * S < moved[1][0] < t_down + 5 * S
    assert summary["care_of_prefix_lost"] == 1 and summary["mn"]["mn.movement.moved"] == 1
    registered = timed(world, "mn", mn_mod.Registered)
    assert [n.care_of for _, n in registered] == [COA_A, coa_a2]
    assert moved[1][0] < registered[1][0] < moved[1][0] + 100 * MS
    assert [n.care_of_address for _, n in timed(world, "ha", ha_mod.BindingUpdated)] == [coa_a2]
    (entry,) = summary["binding_cache"]
    assert entry["care_of_address"] == str(coa_a2)
    # Pings: only those of the outage (5 a second) are lost; answered again after the new registration.
    ping = summary["ping"]
    assert ping["sent"] == 200 and ping["duplicates"] == 0
    assert 3000 < summary["ping_outage_ms"] <= 5000
    assert abs(ping["lost"] - summary["ping_outage_ms"] / 200) <= 2
    check_pcaps(summary)


def test_late_ra_with_and_without_the_advertisement_interval_option(tmp_path):
    world, summary = run_mip6("late-ra", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    with_opt, without = summary["with_option"], summary["without_option"]
    for run in (with_opt, without):
        assert [(m["old_coa"], m["new_coa"]) for m in run["moved"]] == [(str(COA_A), str(COA_B))]
        assert run["registered_after_move_ms"] > run["detection_ms"]
    # With the option: the RA is overdue within one advertised interval (1 s) of the move, the node
    # solicits and probes the old router; router B's answer to the solicitation (within its random
    # delay, under 0.5 s) makes it a candidate with a new prefix, which leaves the probe in flight as
    # the last one (movement_probes = 1, RFC 6059's idea): the old router is lost one RetransTimer
    # after the overdue RA, not NUD's three, and the node moves at once.
    assert 0 < with_opt["first_overdue_after_move_ms"] <= 1000
    assert with_opt["router_lost_reason"] == "nud_failed"
    assert with_opt["detection_ms"] == with_opt["router_lost_after_move_ms"] \
        == with_opt["first_overdue_after_move_ms"] + 1000
    assert with_opt["router_solicitations"] >= 1
    assert world.mn.counters["mn.movement.router_overdue"] >= 1      # the world returned: the run with it
    # Without: nothing happens until the old router's 30 s lifetime runs out.
    assert without["first_overdue_after_move_ms"] is None
    assert without["router_lost_reason"] == "lifetime_expired"
    assert 29_000 <= without["router_lost_after_move_ms"] <= 30_000
    # Then a solicitation, router B's answer within its random delay (RFC 4861 §6.2.6: at most 0.5 s),
    # and the care-of address is used at once (optimistic DAD, RFC 4429): no second of DAD on top.
    assert without["router_lost_after_move_ms"] < without["detection_ms"] <= without["router_lost_after_move_ms"] + 500
    assert summary["detection_ms"] == {"with_option": with_opt["detection_ms"],
                                       "without_option": without["detection_ms"]}
    assert with_opt["detection_ms"] * 5 < without["detection_ms"]
    # The stream to the home address loses only what the home agent tunnelled to the old care-of
    # address meanwhile: 20 packets/s over the detection time (and the BU's round trip).
    for run in (with_opt, without):
        stream = run["stream"]
        assert stream["sent"] == 1400 and stream["duplicates"] == 0 and stream["bad_checksum"] == 0
        assert abs(stream["lost"] - run["registered_after_move_ms"] / 50) <= 2
    assert with_opt["stream"]["lost"] * 5 < without["stream"]["lost"]
    check_pcaps(summary)


def _bu_schedule(first_timeout_ns, cap_ns=32 * S):
    """Offsets of the BUs of one attempt from its first: t0, then doubling up to the cap (RFC 6275 §11.8)."""
    offset, timeout = 0, first_timeout_ns
    while True:
        yield offset
        offset += timeout
        timeout = min(2 * timeout, cap_ns)


# Seeds 1-5, plus two found by scanning: 9 needs four BUs for its first registration (the seed the docs
# quote), 12 backs off to the 32 s cap; seed 1 loses a BU before the wire (no default router while NUD
# had failed). (Rescanned for issue 14: optimistic DAD moved every seed's random draws.)
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 9, 12])
def test_lossy_link_bu_retransmissions(tmp_path, seed):
    world, summary = run_mip6("lossy-link", seed=seed, pcap_dir=str(tmp_path))
    json.dumps(summary)
    assert summary["loss"] == 0.3 and summary["links"]["fa"]["dropped_loss"] > 0
    # The registration completes despite the loss, and (seeds 1-5) is refreshed.
    registered = timed(world, "mn", mn_mod.Registered)
    assert registered and registered[0][1].care_of == COA_A
    accepted = sorted([t for t, _ in registered] + [t for t, _ in timed(world, "mn", mn_mod.BindingRefreshed)])
    assert len(accepted) >= (2 if seed <= 5 else 1)
    bus = bu_transmissions(str(tmp_path / "fa.pcap"), keys=world.capture_keys)
    assert bus
    # Every BU carries a new sequence number, one more than the BU the node built before it (BUs that
    # never reached the wire, dropped by the node for want of a route while its router was lost, take
    # a number too).
    seqs = [s for _, s in bus]
    assert len(set(seqs)) == len(seqs)
    steps = [(b - a) % 65536 for a, b in zip(seqs, seqs[1:])]
    assert all(step >= 1 for step in steps)
    missing = sum(step - 1 for step in steps)
    assert missing == summary["mn"].get("drop.no_route", 0)
    assert len(bus) + missing == summary["bu_sent"]
    # Never more than 3 BUs in any second.
    times = [t for t, _ in bus]
    assert all(sum(1 for u in times if t <= u < t + S) <= 3 for t in times)
    # Group by attempt (an attempt ends with an accepted BA): the first registration waits 1.5 s, then
    # 3, 6, ...; a refresh 1 s, then 2, 4, ...; capped at 32 s. The k-th BU of an attempt (k from its
    # sequence number) leaves exactly at the schedule's k-th offset.
    attempts, current, acc = [], [], list(accepted)
    for t, s in bus:
        while acc and acc[0] < t:
            if current:
                attempts.append(current)
                current = []
            acc.pop(0)
        current.append((t, s))
    if current:
        attempts.append(current)
    retransmissions, intervals = 0, set()
    for n, attempt in enumerate(attempts):
        t0, s0 = attempt[0]
        offsets = _bu_schedule(3 * S // 2 if n == 0 else 1 * S)
        schedule = [next(offsets) for _ in range(40)]
        for t, s in attempt:
            assert t - t0 == schedule[(s - s0) % 65536], (n, attempt)
        retransmissions += (attempt[-1][1] - s0) % 65536
        intervals |= {b[0] - a[0] for a, b in zip(attempt, attempt[1:]) if (b[1] - a[1]) % 65536 == 1}
    assert retransmissions == summary["bu_retransmitted"]
    assert summary["attempts"][0]["sent_at_ms"][0] == round(bus[0][0] / MS, 3)
    if seed == 12:
        assert 32 * S in intervals and max(intervals) == 32 * S      # the cap, MAX_BINDACK_TIMEOUT
    if seed == 1:
        assert summary["mn"]["drop.no_route"] >= 1
    if seed == 9:
        # The seed the docs quote: the first registration needed four BUs (1.5 s, 3 s, 6 s apart).
        assert summary["attempts"][0]["intervals_ms"] == [1500.0, 3000.0, 6000.0]
    check_pcaps(summary)


def test_short_lived_flows(tmp_path):
    from mip6fast.scenarios import HA_ADDRESS, HOME_ADDRESS
    from mip6fast.scenarios.addressing import DNS_ADDRESS

    world, summary = run_mip6("short-lived-flows", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    assert "short-lived-flows" in SCENARIOS
    assert world.mn.care_of == COA_A
    direct, via_home = summary["queries_direct"], summary["queries_via_home"]
    # The source policy put every DNS-like query on the care-of address; the pinned ones kept the home
    # address; every query was answered, and the server saw both sources.
    assert direct["sources"] == {str(COA_A): 20} and direct["answered"] == 20
    assert via_home["sources"] == {str(HOME_ADDRESS): 20} and via_home["answered"] == 20
    assert summary["responder_sources"] == {str(COA_A): 20, str(HOME_ADDRESS): 20}
    # Direct queries skip the home agent both ways: clearly faster than through the tunnels.
    assert direct["rtt_ms"]["max"] < via_home["rtt_ms"]["min"]
    # On the foreign link: the direct queries left natively (UDP from the care-of address to the
    # server); the long flow (400) and the pinned queries (20) left reverse-tunnelled (41) to the HA.
    uplink = summary["mn_uplink"]
    assert uplink[f"{COA_A} > {DNS_ADDRESS} (17)"] == 20
    assert uplink[f"{COA_A} > {HA_ADDRESS} (41)"] == 420
    assert not any(k.startswith(f"{HOME_ADDRESS} >") for k in uplink)
    # The home agent detunnelled exactly those and tunnelled only the answers to the home address.
    assert summary["ha"]["detunnelled"] == 420 and summary["ha"]["tunnelled"] == 20
    flow = summary["long_flow"]
    assert flow["sent"] == flow["delivered"] == 400 and flow["lost"] == 0
    require_tshark()
    for path in summary["pcaps"]:
        # On the core link a query through the tunnels is seen three times (ra -> rc -> ha tunnelled,
        # then ha -> rc decapsulated) and its answer twice: tshark's DNS request/response tracking
        # calls those retransmissions; a protected BU crosses it twice as well (ESP_SEEN_TWICE). Nothing
        # else is allowed.
        ignore = ("dns.retransmit_request", "dns.retransmit_response", ESP_SEEN_TWICE) \
            if path.endswith("core.pcap") else ()
        assert problems(path, ignore=ignore) == [], path
