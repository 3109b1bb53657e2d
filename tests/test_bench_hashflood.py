"""`mip6fast bench hashflood` (issue 12): every key set is measured beside random keys of the same count
and the items carry the ratio and the index's longest probe. Figures exist; none is asserted on (the
structure is, in tests/test_binding_cache_hash.py)."""
import json

import numpy as np
import pytest

from mip6fast.benchmark.hashflood import OLD_ATTACK_WORD, key_sets, report
from mip6fast.cli import main

SETS = ["random", "same_prefix64", "same_suffix64", "old_attack", "one_byte"]


def test_key_sets_are_what_they_say():
    sets = key_sets(5000)
    assert list(sets) == SETS
    assert all(k.shape == (5000, 16) for name, k in sets.items() if name != "one_byte")
    assert sets["one_byte"].shape == (16 * 255, 16)
    assert (sets["same_prefix64"][:, :8] == sets["same_prefix64"][0, :8]).all()
    assert (sets["same_suffix64"][:, 8:] == sets["same_suffix64"][0, 8:]).all()
    assert bytes(sets["old_attack"][0, 8:]) == OLD_ATTACK_WORD.to_bytes(8, "little")
    one = sets["one_byte"]
    assert ((one != one[0]).sum(axis=1) <= 2).all()  # two rows differ where each differs from the base
    assert len({bytes(k) for k in np.concatenate(list(sets.values()))}) == sum(len(k) for k in sets.values())
    assert key_sets(100)["one_byte"].shape == (100, 16)


@pytest.mark.compiled("bcache")
def test_report_pairs_every_crafted_set_with_random_keys(capsys):
    r = report(seconds=0.001, n=600)
    names = [x["name"] for x in r["results"]]
    assert names == [f"{what}_{s}" for s in SETS for what in ("insert", "lookup")]
    for x in r["results"]:
        assert x["value"] > 0 and x["unit"] == "ns/key" and x["max_probe"] >= 1
        if not x["name"].endswith("_random"):
            assert x["baseline"] > 0 and x["ratio"] > 0
    assert main(["bench", "hashflood", "--quick", "--keys", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["keys"] == 300 and [x["name"] for x in out["results"]] == names
