"""`mip6fast bench signalling` (issue 11): BU -> BA exchanges per second with and without ESP, in one
run. Figures exist and every measured exchange is an accepted registration; which is faster is not
asserted (a busy machine decides that)."""
import json

from mip6fast.benchmark.signalling import Exchange, report
from mip6fast.cli import main
from mip6fast.security import Algorithm


def test_exchanges_are_accepted_registrations_both_ways():
    for algorithm in (None, Algorithm.AES_128_GCM):
        ex = Exchange(algorithm)
        assert all(ex.once() for _ in range(5))
        assert ex.ha.counters["binding.updated"] == 5
        assert ex.ha.counters["esp.unprotected"] == (6 if algorithm else 0)


def test_report_has_both_figures_and_the_ratio(capsys):
    r = report(seconds=0.01)
    names = [x["name"] for x in r["results"]]
    assert names == ["bu_ba_unprotected", "bu_ba_esp_aes-128-gcm"]
    assert all(x["value"] > 0 for x in r["results"]) and r["results"][1]["ratio"] > 0
    assert main(["bench", "signalling", "--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [x["name"] for x in out["results"]] == names


def test_protected_exchange_puts_esp_on_the_wire():
    ex = Exchange(Algorithm.AES_128_GCM)
    ex.once()
    # Two BAs went out under the home agent's SA (the setup's and this one).
    assert ex.ha.protection.spd.outbound_sa("2001:db8:1::9").sequence == 2
    assert ex.ha.counters["esp.protected"] == 2
