"""Route optimisation scenarios (mip6fast/scenarios/route_optimization.py) with the real HomeAgent,
MobileNode and CorrespondentNode, return routability on in both (the default): the notifications,
counters and flows, and what tshark sees on the links (the Home Test Init and Home Test inside the
home agent's tunnel, the Care-of Test Init and Care-of Test straight between care-of address and
correspondent, BUs with Nonce Indices and Binding Authorization Data, Type 2 routing headers and Home
Address options on the correspondent's link, no more tunnel on the core link once the flow is
optimised), and every pcap dissects cleanly."""
import json

from scenario_check import COA_A, COA_B, MS, S, check_pcaps, timed
from tshark_check import dissect

from mip6fast.roles import correspondent as cn_mod
from mip6fast.roles import mobile_node as mn_mod
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
    # The policy: exactly 10 packets (5 requests, 5 replies) went through the tunnel, then none but
    # return routability's Home Test Init and Home Test (one each: after the move the home token
    # was reused, and the refreshes needed no test at all).
    paths = summary["paths"]
    assert paths["cn_to_mn_via_tunnel"] + paths["mn_to_cn_via_tunnel"] == 10 + 2
    rr = summary["return_routability"]
    assert (rr["mn_hoti_sent"], rr["mn_coti_sent"], rr["mn_hot_accepted"], rr["mn_cot_accepted"]) == (1, 2, 1, 2)
    assert rr["cn_hot_sent"] == 1 and rr["cn_cot_sent"] == 2 and rr["cn_bu_authorised"] == 4
    # After the move the care-of test ran in parallel with the home registration (issue 14), so the BU
    # that followed the home BA found the care-of token already in: reused once more than the refreshes.
    assert rr["mn_home_token_reused"] == 3 and rr["mn_care_of_token_reused"] == 3 and rr["mn_reruns"] == 0
    assert summary["mn"]["mn.ro.care_of_test_early"] == 1
    (t_reg_b,) = [t for t, n in timed(world, "mn", mn_mod.Registered) if n.care_of == COA_B]
    assert t_again - t_reg_b < 10 * MS          # one round trip to the correspondent after the home BA
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
    # Every BU and BA authorised: Nonce Indices and a 96-bit authenticator (§6.2.6, §6.2.7).
    assert all("mip6.ni.hni" in f and len(f["mip6.bad.auth"][0].split(":")) == 12 for f in bus)
    bas = [f for f in cnet if f.get("mip6.mhtype") == ["6"]]
    assert len(bas) == 4 and all(len(f["mip6.bad.auth"][0].split(":")) == 12 for f in bas)
    # Return routability on the wire: on the correspondent's link the HoTI arrives from the home
    # address and the HoT leaves for it; the CoTI / CoT go between care-of address and correspondent.
    tests = {t: [f for f in cnet if f.get("mip6.mhtype") == [t]] for t in ("1", "2", "3", "4")}
    assert [f["ipv6.src"] for f in tests["1"]] == [[str(HOME_ADDRESS)]]
    assert [f["ipv6.dst"] for f in tests["3"]] == [[str(HOME_ADDRESS)]]
    assert [f["ipv6.src"] for f in tests["2"]] == [[str(COA_A)], [str(COA_B)]]
    assert [f["ipv6.dst"] for f in tests["4"]] == [[str(COA_A)], [str(COA_B)]]
    assert tests["1"][0]["mip6.hoti.cookie"] == tests["3"][0]["mip6.hot.cookie"]
    # On foreign link A the HoTI and the HoT travel inside the tunnel (IPv6 in IPv6, outer addresses
    # care-of address and home agent), the CoTI and CoT do not.
    fa = dissect(pcap(summary, "fa"))
    hot_tests = [f for f in fa if f.get("mip6.mhtype") in (["1"], ["3"])]
    assert [f["ipv6.nxt"] for f in hot_tests] == [["41", "135"]] * 2
    assert hot_tests[0]["ipv6.src"] == [str(COA_A), str(HOME_ADDRESS)]
    assert hot_tests[1]["ipv6.dst"] == [str(COA_A), str(HOME_ADDRESS)]
    coa_tests = [f for f in fa if f.get("mip6.mhtype") in (["2"], ["4"])]
    assert [f["ipv6.nxt"] for f in coa_tests] == [["135"]] * 2
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
    rr = summary["return_routability"]
    # The first HAO packet after the reboot drew a Binding Error status 1; the node fell back at once.
    (t_be, be), = timed(world, "cn", cn_mod.BindingErrorSent)
    assert be.status == 1 and be.home_address == HOME_ADDRESS
    assert reboot_at < t_be < t_stop < reboot_at + 30 * MS
    assert stop.reason == "binding_error_unknown_binding" and stop.hold_down_until == t_stop + hold
    # After the hold-down: a new BU on the tokens kept (22 s old), which the rebooted correspondent
    # cannot check (its nonces are gone): 138, both tests again, the BU accepted, route-optimised again.
    assert rr["mn_reruns"] == 1 and summary["mn"]["mn.rr.rerun.138"] == 1
    assert summary["cn"]["ba.sent.status.138"] == 1 and summary["cn"]["rr.kcn_generated"] == 2
    assert (rr["mn_hoti_sent"], rr["mn_coti_sent"], rr["cn_bu_authorised"]) == (2, 2, 2)
    assert stop.hold_down_until <= started[1] < stop.hold_down_until + 50 * MS
    assert len(timed(world, "cn", cn_mod.BindingCreated)) == 2
    assert summary["fallback_after_reboot_ms"] < 30 and 5000 <= summary["reoptimised_after_fallback_ms"] < 5050
    # Meanwhile the stream went through the tunnel: ~5 s at 50 packets/s (and two Home Test Inits);
    # only the packet in flight when the binding vanished was lost.
    assert 240 <= summary["paths"]["mn_to_cn_via_tunnel"] <= 262
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
    # Return routability first: the Care-of Test Init (direct) and the Home Test Init (tunnelled) both
    # draw Parameter Problem code 1 at the next header naming the Mobility Header (§11.6.2); the
    # direct one ends it, and no BU is ever sent.
    assert stop.reason == "parameter_problem_mobility_header" and stop.peer == CN_ADDRESS
    assert stop.hold_down_until == t_stop + 60 * S            # longer than the run: one attempt only
    assert summary["bus_to_correspondent"] == 0 and summary["parameter_problems_sent"] == 2
    rr = summary["return_routability"]
    assert rr["mn_hoti_sent"] == rr["mn_coti_sent"] == 1 and rr["mn_hot_accepted"] == rr["mn_cot_accepted"] == 0
    assert world.mn.route_optimization.state_of(CN_ADDRESS) is PeerState.HELD_DOWN
    # Nothing lost to the attempt: every datagram went through the tunnel and arrived.
    stream = summary["stream"]
    assert stream["sent"] == stream["delivered"] == 1000 and stream["lost"] == 0
    assert summary["paths"]["mn_to_cn_via_tunnel"] == 1000 + 1 and summary["paths"]["mn_to_cn_direct_hao"] == 0
    check_pcaps(summary)
    cnet = dissect(pcap(summary, "cnet"))
    pp = [f for f in cnet if f.get("icmpv6.type") == ["4"]]
    assert len(pp) == 2 and all(f["icmpv6.code"] == ["1"] and f["icmpv6.pointer"] == ["6"] for f in pp)
