"""Route optimisation scenarios (mip6fast/scenarios/route_optimization.py) with the real HomeAgent,
MobileNode and CorrespondentNode: the notifications, counters and flows, and what tshark sees on the
links (Type 2 routing headers and Home Address options on the correspondent's link, no more tunnel on
the core link once the flow is optimised), and every pcap dissects cleanly."""
import json

from scenario_check import COA_A, COA_B, MS, S, check_pcaps, timed
from tshark_check import dissect

from mip6fast.roles import correspondent as cn_mod
from mip6fast.roles.registration import PeerState
from mip6fast.roles.route_optimization import RouteOptimisationStarted, RouteOptimisationStopped
from mip6fast.scenarios import CN_ADDRESS, HOME_ADDRESS, SCENARIOS, run_mip6


def pcap(summary, link):
    (path,) = [p for p in summary["pcaps"] if p.endswith(f"/{link}.pcap")]
    return path


def seconds(frame):
    """The pcaps' timestamps are the virtual clock (the epoch is the simulation's start)."""
    return float(frame["frame.time_epoch"][0])


def test_the_route_optimisation_scenarios_are_registered():
    assert {"route-optimisation", "correspondent-reboot", "correspondent-without-mobility"} <= set(SCENARIOS)


def test_route_optimisation(tmp_path):
    world, summary = run_mip6("route-optimisation", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    move_at = 30 * S
    started = timed(world, "mn", RouteOptimisationStarted)
    # Optimised once from link A (after 10 packets through the tunnel), once more from B after the move.
    assert [(n.peer, n.home_address, n.care_of, n.lifetime) for _, n in started] == [
        (CN_ADDRESS, HOME_ADDRESS, COA_A, 20), (CN_ADDRESS, HOME_ADDRESS, COA_B, 20)]
    (t_first, _), (t_again, _) = started
    assert 10 * S < t_first < 11 * S
    assert move_at < t_again < move_at + 10 * S
    assert not timed(world, "mn", RouteOptimisationStopped)
    # The correspondent created the binding, then moved it to care-of address B.
    created = timed(world, "cn", cn_mod.BindingCreated)
    updated = [n for _, n in timed(world, "cn", cn_mod.BindingUpdated)]
    assert [n.care_of_address for _, n in created] == [COA_A]
    assert updated[-1].care_of_address == COA_B
    assert world.cn.bindings() == {HOME_ADDRESS: COA_B}
    # The policy: exactly 10 packets (5 requests, 5 replies) went through the tunnel, then none.
    paths = summary["paths"]
    assert paths["cn_to_mn_via_tunnel"] + paths["mn_to_cn_via_tunnel"] == 10
    assert summary["paths_before_move"]["cn_to_mn_via_tunnel"] == paths["cn_to_mn_via_tunnel"]
    assert summary["paths_before_move"]["mn_to_cn_via_tunnel"] == paths["mn_to_cn_via_tunnel"]
    assert paths["mn_to_cn_direct_hao"] == paths["cn_hao_swapped"] == paths["cn_to_mn_direct_rh2"] > 350
    # The 20 s bindings were refreshed before they expired (from A at ~26 s, from B at ~49 s).
    assert summary["mn"]["mn.ro.refreshed"] == 2
    # Direct is shorter than the detour through the home agent.
    assert summary["rtt_ms"]["direct_avg"] < summary["rtt_ms"]["tunnel_avg"]
    # Pings are lost only while the node moves (sent to the old care-of address before the new BU).
    ping = world.cn.applications[0]
    lost = [t for seq, t in ping.sent.items() if seq not in ping.rtts]
    assert lost and all(move_at - 100 * MS <= t <= t_again for t in lost)
    assert summary["ping"]["received"] == summary["ping"]["sent"] - len(lost)
    assert world.mn.route_optimization.state_of(CN_ADDRESS) is PeerState.OPTIMISED

    check_pcaps(summary)
    cnet = dissect(pcap(summary, "cnet"))
    rh2 = [f for f in cnet if f.get("ipv6.routing.type") == ["2"]]
    hao = [f for f in cnet if "0xc9" in f.get("ipv6.opt.type", [])]
    # Echo requests with a Type 2 routing header holding the home address, to care-of A, then B.
    assert len(rh2) >= paths["cn_to_mn_direct_rh2"]
    assert {f["ipv6.routing.mipv6.home_address"][0] for f in rh2} == {str(HOME_ADDRESS)}
    assert {f["ipv6.dst"][0] for f in rh2} == {str(COA_A), str(COA_B)}
    # Replies (and the BUs) with a Home Address option, from the care-of addresses, straight to the CN.
    assert len(hao) >= paths["mn_to_cn_direct_hao"]
    assert {f["ipv6.opt.mipv6.home_address"][0] for f in hao} == {str(HOME_ADDRESS)}
    assert {f["ipv6.src"][0] for f in hao} == {str(COA_A), str(COA_B)}
    bus = [f for f in hao if f.get("mip6.mhtype") == ["5"]]
    assert len(bus) == summary["mn"]["mn.ro.bu_sent"] == 4
    assert all(f["mip6.bu.a_flag"] == ["1"] and f["mip6.bu.h_flag"] == ["0"] and f["mip6.bu.k_flag"] == ["0"]
               and f["mip6.bu.l_flag"] == ["0"] for f in bus)
    # No IPv6-in-IPv6 on the core link while optimised (from the BA to the move).
    core = dissect(pcap(summary, "core"))
    tunnelled = [seconds(f) for f in core if "41" in f.get("ipv6.nxt", [])]
    assert tunnelled and max(tunnelled) < t_first / S
    assert not [t for t in tunnelled if t_first / S + 0.01 < t < move_at / S]


def test_correspondent_reboot(tmp_path):
    world, summary = run_mip6("correspondent-reboot", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    reboot_at, hold = 20 * S, 5 * S
    started = [t for t, _ in timed(world, "mn", RouteOptimisationStarted)]
    (t_stop, stop), = timed(world, "mn", RouteOptimisationStopped)
    # "always" for this correspondent: optimised right after the home registration.
    assert len(started) == 2 and started[0] < 5 * S
    # The first HAO packet after the reboot drew a Binding Error status 1; the node fell back at once.
    (t_be, be), = timed(world, "cn", cn_mod.BindingErrorSent)
    assert be.status == 1 and be.home_address == HOME_ADDRESS
    assert reboot_at < t_be < t_stop < reboot_at + 30 * MS
    assert stop.reason == "binding_error_unknown_binding" and stop.hold_down_until == t_stop + hold
    # After the hold-down: a new BU, accepted, route-optimised again.
    assert stop.hold_down_until <= started[1] < stop.hold_down_until + 50 * MS
    assert len(timed(world, "cn", cn_mod.BindingCreated)) == 2
    assert summary["fallback_after_reboot_ms"] < 30 and 5000 <= summary["reoptimised_after_fallback_ms"] < 5050
    # Meanwhile the stream went through the tunnel: ~5 s at 50 packets/s; only the packet in flight
    # when the binding vanished was lost.
    assert 240 <= summary["paths"]["mn_to_cn_via_tunnel"] <= 260
    stream = summary["stream"]
    assert stream["lost"] == len(summary["lost_sequences"]) <= 2
    assert stream["delivered"] + stream["lost"] == stream["sent"] == 1750
    assert world.cn.counters["reboots"] == 1
    check_pcaps(summary)
    cnet = dissect(pcap(summary, "cnet"))
    errors = [f for f in cnet if f.get("mip6.mhtype") == ["7"]]
    assert len(errors) == 1 and errors[0]["mip6.be.status"] == ["1"]
    assert errors[0]["mip6.be.haddr"] == [str(HOME_ADDRESS)]


def test_correspondent_without_mobility(tmp_path):
    world, summary = run_mip6("correspondent-without-mobility", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    (t_stop, stop), = timed(world, "mn", RouteOptimisationStopped)
    assert not timed(world, "mn", RouteOptimisationStarted)
    assert stop.reason == "parameter_problem_home_address_option" and stop.peer == CN_ADDRESS
    assert stop.hold_down_until == t_stop + 60 * S            # longer than the run: one attempt only
    assert summary["bus_to_correspondent"] == summary["parameter_problems_sent"] == 1
    assert world.mn.route_optimization.state_of(CN_ADDRESS) is PeerState.HELD_DOWN
    # Nothing lost to the attempt: every datagram went through the tunnel and arrived.
    stream = summary["stream"]
    assert stream["sent"] == stream["delivered"] == 1000 and stream["lost"] == 0
    assert summary["paths"]["mn_to_cn_via_tunnel"] == 1000 and summary["paths"]["mn_to_cn_direct_hao"] == 0
    check_pcaps(summary)
    cnet = dissect(pcap(summary, "cnet"))
    pp = [f for f in cnet if f.get("icmpv6.type") == ["4"]]
    assert len(pp) == 1 and pp[0]["icmpv6.code"] == ["2"]
