"""The rr-attack scenario (issue 12): against a correspondent that authorises bindings with return
routability (RFC 6275 §5.2, §9.5.1), an off-path attacker's Binding Updates -- unauthorised, signed with
guessed or other addresses' tokens, for a bystander's care-of address, the victim's own BUs replayed
before and after their nonces expire -- and its Home Test Init with a Home Address option all fail and
are counted; the victim's binding and its route-optimised pings are untouched."""
import json

from scenario_check import COA_A, check_pcaps

from mip6fast.scenarios import HOME_ADDRESS, SCENARIOS, run_with_world


def test_rr_attack(tmp_path):
    assert "rr-attack" in SCENARIOS
    world, summary = run_with_world("rr-attack", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    attempts = summary["attempts"]
    assert attempts == {"no_authorization": 10, "guessed_home_token": 10, "own_tokens_for_victim": 10,
                        "third_party_care_of": 10, "replayed_from_attacker": 10, "test_init_with_hao": 10,
                        "replayed_before_expiry": 2, "replayed_after_expiry": 2}
    assert summary["attempts_total"] == 64
    # Zero bindings for the attacker: the correspondent's only binding is the victim's, at its care-of
    # address, and it never held another.
    assert summary["successes"] == 0 and summary["foreign_bindings"] == []
    assert summary["correspondent_bindings"] == {str(HOME_ADDRESS): str(COA_A)}
    assert world.cn.bindings() == {HOME_ADDRESS: COA_A}
    # Every attempt counted, each under its reason: no options, a wrong authenticator (guessed tokens,
    # tokens of other addresses, a sniffed BU from another source), a test init with a HAO ignored,
    # the replays answered to the victim (135 while the nonces live, 138 after).
    refused = summary["refused_at_correspondent"]
    assert refused == {"drop.bu.rr.missing": 10, "drop.bu.rr.authenticator": 40, "drop.hao.test_init": 10,
                       "drop.bu.status.135": 2, "drop.bu.status.138": 2}
    assert summary["refused_total"] == summary["attempts_total"]
    cn = summary["cn"]
    assert cn["bu.rr_authorised"] == 3 and cn.get("bu.unauthenticated", 0) == 0
    # The attacker got answers to its own tests only -- never a BA, never a token for the victim.
    assert summary["answers_to_attacker"] == {"CareOfTest": 30, "HomeTest": 20}
    assert cn["ba.sent.status.135"] == cn["ba.sent.status.138"] == 2     # to the victim, not the attacker
    # The victim: optimised once, never stopped; the spoofed Home Test Inits' answers reached it through
    # its home agent and were dropped as unexpected; the replays' BAs as answering nothing.
    assert len(summary["victim_route_optimisation"]["started_ms"]) == 1
    assert summary["victim_route_optimisation"]["stopped"] == []
    assert summary["victim_drops"] == {"drop.mn.rr.hot_unexpected": 10, "drop.mn.ro.ba_unexpected": 4}
    assert summary["ping"]["sent"] == summary["ping"]["received"] == 560
    assert summary["ping_direct"] == 560
    check_pcaps(summary)
