"""``mip6fast bench forward``: the sink's intact-frame check and the expected frames (no root), and the
whole benchmark run as a command in namespaces (root). Never asserts on speed."""
import json
import os
import subprocess
import sys

import pytest

from mip6fast import cli
from mip6fast.batch import PacketBatch
from mip6fast.benchmark import forward as F
from mip6fast.benchmark.dataplane import HOME_MAC, OUT_MAC, ROUTER_MAC, SOURCE_MAC, home_agent
from mip6fast.roles.events import NS_PER_S
from mip6fast.wire import parse

pytest_plugins = ["netns"]

# The in-memory home agent of ``mip6fast bench dataplane``: bindings registered through its signalling
# path, its router resolved.
_ha_with_bindings = home_agent


@pytest.mark.parametrize("size", F.SIZES)
def test_expected_frames_are_what_the_home_agent_sends(size):
    """The sink's reference frames equal the home agent's real output, binding by binding."""
    n = 40
    ha = _ha_with_bindings(n)
    sent = F.source_frames(size, n, HOME_MAC, SOURCE_MAC)
    batch = PacketBatch.from_packets([row.tobytes() for row in sent], slot_size=2048)
    out = ha.receive_batch(6 * NS_PER_S, "home", batch)
    (bt,) = out.batches
    frames = bt.frames()
    assert len(frames) == n
    expected = F.tunnelled_frames(size, n, ROUTER_MAC, OUT_MAC)
    for i, frame in enumerate(frames):
        assert frame == expected[i].tobytes()
        outer = parse(frame[14:])
        assert outer.dst == F.care_of_address(i) and outer.payload.dst == F.home_address(i)
    # And the sink's count over a batch of them: all intact.
    sink = PacketBatch.from_packets(frames, headroom=64)
    assert F.count_intact(sink, n, expected, F.ETH + 40 + 36) == (n, n)


def test_count_intact_finds_every_damaged_frame():
    n = 30
    expected = F.tunnelled_frames(512, n, ROUTER_MAC, OUT_MAC)
    frames = [bytearray(row.tobytes()) for row in expected]
    frames[3][100] ^= 1                          # a flipped bit in the inner payload
    frames[7][14 + 24 + 15] ^= 0xFF              # the outer destination: another care-of address
    frames[9] = frames[9][:-1]                   # one byte short
    frames[11][14 + 40 + 36:14 + 40 + 40] = b"\xff\xff\xff\xff"   # an index no binding has
    frames[12][14 + 40 + 39] ^= 1                # inner destination of binding 13, rest of binding 12
    batch = PacketBatch.from_packets([bytes(f) for f in frames], headroom=64)
    intact, sized = F.count_intact(batch, n, expected, F.ETH + 40 + 36)
    assert intact == n - 5 and sized == n - 2    # the short one and the unknown index are not data-sized


def test_source_frames_cover_every_binding():
    rows = F.source_frames(64, 100, HOME_MAC, SOURCE_MAC)
    dsts = {parse(r.tobytes()[14:]).dst for r in rows}
    assert dsts == {F.home_address(i) for i in range(100)}


@pytest.mark.root
@pytest.mark.compiled("ring")
def test_bench_forward_quick_json(netns_available):
    """The command as a user runs it: a JSON report of the right shape; every frame counted at the
    sink arrived intact (outer header and inner bytes checked), for all four forwarders (the home agent
    with workers = 2 the fourth) and sizes."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(F.__file__)),
                                                                    os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "mip6fast", "bench", "forward", "--quick", "--json"],
                          check=False, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["benchmark"] == "forward"
    assert report["registration"]["bindings"] == F.QUICK_BINDINGS
    assert [r["size"] for r in report["results"]] == list(F.SIZES)
    for r in report["results"]:
        assert {"value", "unit", "reflector_mpps", "python_mpps", "vs_reflector", "vs_python"} <= r.keys()
        assert r["unit"] == "Mpps" and r["value"] > 0 and r["reflector_mpps"] > 0 and r["python_mpps"] > 0
    runs = {(m["forwarder"], m["size"]): m for m in report["runs"]}
    forwarders = ("reflector", "home_agent", "home_agent_in_place", "python", "workers")
    assert set(runs) == {(f, s) for f in forwarders for s in F.SIZES}
    for (forwarder, size), m in runs.items():
        assert m["intact"] > 0 and m["corrupt"] == 0, (forwarder, size, m)
        if forwarder in ("home_agent", "home_agent_in_place"):
            assert m["intact"] <= m["tunnelled"]       # nothing counted that the home agent did not send
            assert m["tx_batches"] > 0                 # and it went out through the batch path
            # received in place (windows of the ring) or copied into a batch
            assert (m["rx_windows"] > 0) == (forwarder == "home_agent_in_place"), m
        if forwarder == "python":
            assert m["intact"] <= m["forwarded"]
        if forwarder == "workers":                     # [daemon] workers = 2's path: both workers sent
            assert m["intact"] <= m["tunnelled"] and all(m["per_worker_tx"])


def test_bench_forward_without_privileges_says_why(monkeypatch, capsys):
    monkeypatch.setattr(cli, "can_use_netns", lambda: (False, "network namespaces and veth pairs need root"))
    assert cli.main(["bench", "forward", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "need root" in err and "bench forward" in err
