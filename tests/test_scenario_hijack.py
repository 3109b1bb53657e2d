"""The hijack-attempt scenario (issue 11): against a home agent protecting home registrations with ESP,
an attacker's blind, two-packet, replayed and tampered BUs all fail, get no answer, and are counted;
the victim's binding and tunnel are untouched."""
import json

from scenario_check import check_pcaps

from mip6fast.scenarios import run_with_world
from mip6fast.scenarios.hijack import run_unprotected_takeover


def test_hijack_attempt(tmp_path):
    world, summary = run_with_world("hijack-attempt", seed=1, pcap_dir=str(tmp_path))
    json.dumps(summary)
    attempts = summary["attempts"]
    assert set(attempts) == {"blind_unregistered", "blind_registered", "two_packet_probe",
                             "two_packet_takeover", "replayed", "replayed_from_attacker", "tampered"}
    assert all(n == 10 for n in attempts.values()) and summary["attempts_total"] == 70
    assert summary["successes"] == 0
    # No answer at all: no BA (so no 135 giving away the sequence), no Binding Error.
    assert summary["answers_to_attacker"] == {} and summary["packets_for_home_addresses_at_attacker"] == 0
    # Every attempt counted, each under its reason.
    refused = summary["refused_at_home_agent"]
    assert refused == {"drop.bu.unprotected": 40, "drop.esp.replay": 20, "drop.esp.authentication_failed": 10}
    assert summary["refused_total"] == summary["attempts_total"]
    assert summary["home_agent_inbound_sa"]["replay_duplicates"] == 20
    assert summary["home_agent_inbound_sa"]["authentication_failures"] == 10
    assert summary["ha"].get("ba.status.135", 0) == 0
    # The victim: registered once, its binding and care-of address unchanged, every ping answered
    # through the tunnel.
    assert summary["victim_registrations"] == 1
    assert summary["victim_binding_care_of"] == summary["victim_care_of"][0]
    assert summary["ping"]["sent"] == summary["ping"]["received"] == 180
    assert world.ha.counters["tunnelled"] >= 180
    check_pcaps(summary)


def test_without_protection_the_same_attack_succeeds():
    """The threat, measured: the two-packet attack against an unprotected home agent takes the home
    address (the control for the test above)."""
    result = run_unprotected_takeover(seed=1)
    assert result["probe_answer_status"] == 135 and result["taken_over"] is True
