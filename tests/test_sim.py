"""The simulator: determinism, link loss and MTU, scenarios, the CLI, and tshark on its pcaps."""
import json
import os
import random
import subprocess
import sys
from ipaddress import IPv6Address

import pytest
from tshark_check import problems, require_tshark

from mip6fast.apps import udp_datagram
from mip6fast.cli import main
from mip6fast.io.pcap import LINKTYPE_ETHERNET, read_pcap
from mip6fast.roles import AdvertisingConfig, Host, Interface, Router, slaac_address
from mip6fast.scenarios import SCENARIOS, run_scenario
from mip6fast.sim import NS_PER_S, Link, PingApp, Simulator, StreamApp
from mip6fast.wire import PrefixInformation

MS = 1_000_000


def _mac(n):
    return bytes([2, 0, 0, 0, 0, n])


def _two_hosts(sim, loss=0.0, mtu=1500, ping_size=56, count=20):
    """h1 -- lan (router r advertising 2001:db8:1::/64) -- h2, pinging each other."""
    lan = Link("lan", delay_ns=50_000, loss=loss, mtu=mtu)
    r = Router("r", [Interface("eth0", _mac(1))], rng=sim.rng_for("r"))
    r.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    r.advertise("eth0", AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:1::", 64)],
                                          max_interval=4 * NS_PER_S))
    h1 = Host("h1", [Interface("eth0", _mac(11))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", _mac(12))], rng=sim.rng_for("h2"))
    ping = PingApp(slaac_address("2001:db8:1::/64", _mac(12)), start_ns=3 * NS_PER_S, interval_ns=50 * MS,
                   count=count, size=ping_size)
    h1.attach(ping)
    for node in (r, h1, h2):
        sim.attach(node, "eth0", lan)
    return lan, ping


def test_same_seed_same_pcaps_byte_for_byte(tmp_path):
    for run in ("a", "b"):
        run_scenario("basic-routing", seed=7, pcap_dir=str(tmp_path / run))
    for name in ("lan1.pcap", "lan2.pcap"):
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert a == b and len(a) > 10_000


def test_other_seed_other_pcaps(tmp_path):
    run_scenario("basic-routing", seed=1, pcap_dir=str(tmp_path / "a"))
    run_scenario("basic-routing", seed=2, pcap_dir=str(tmp_path / "b"))
    assert (tmp_path / "a" / "lan1.pcap").read_bytes() != (tmp_path / "b" / "lan1.pcap").read_bytes()


def test_pcap_is_ethernet_with_virtual_timestamps(tmp_path):
    run_scenario("basic-routing", seed=1, pcap_dir=str(tmp_path))
    linktype, records = read_pcap(str(tmp_path / "lan1.pcap"))
    assert linktype == LINKTYPE_ETHERNET
    stamps = [r.timestamp_ns for r in records]
    assert stamps == sorted(stamps) and stamps[0] >= 0 and stamps[-1] <= 10 * NS_PER_S
    assert all(r.data[12:14] == b"\x86\xdd" for r in records)


def test_basic_routing_summary():
    s = run_scenario("basic-routing", seed=1)
    assert s["ping"]["sent"] == 50 and s["ping"]["received"] == 50 and s["ping"]["lost"] == 0
    assert s["ping"]["rtt_ms"]["min"] == pytest.approx(1.0)      # 2 × (0.2 + 0.3) ms of link delay
    assert s["stream"]["sent"] == 200 and s["stream"]["delivered"] == 200 and s["stream"]["lost"] == 0
    assert s["stream"]["max_gap_ms"] == pytest.approx(20.0)
    assert s["router"]["forwarded"] == 300
    assert s["addresses"] == {"h1": "2001:db8:1::ff:fe00:b", "h2": "2001:db8:2::ff:fe00:c"}
    assert any("AddressReady" in line and "2001:db8:1::ff:fe00:b" in line for line in s["timeline"])
    json.dumps(s)


def test_loss_is_counted_and_seeded():
    results = []
    for _ in range(2):
        sim = Simulator(seed=3)
        lan, ping = _two_hosts(sim, loss=0.2)
        sim.run(5 * NS_PER_S)
        results.append((ping.summary(), dict(lan.counters)))
    assert results[0] == results[1]
    summary, counters = results[0]
    assert counters["dropped_loss"] > 0
    assert 0 < summary["received"] < summary["sent"]


def test_frames_over_the_link_mtu_are_dropped_and_counted():
    sim = Simulator(seed=1)
    lan, ping = _two_hosts(sim, mtu=1280, ping_size=1400, count=5)
    sim.run(5 * NS_PER_S)
    assert ping.summary()["sent"] == 5 and ping.summary()["received"] == 0
    assert lan.counters["dropped_over_mtu"] == 5     # the hosts' 1500-byte MTU lets them out


def test_over_mtu_frames_on_link():
    sim = Simulator(seed=1)
    lan = Link("lan", mtu=1280)
    a = Host("a", [Interface("eth0", _mac(1))])
    sim.attach(a, "eth0", lan)
    before = lan.counters["frames"]
    sim._carry(lan, a, "eth0", bytes(14 + 1281))
    sim._carry(lan, a, "eth0", bytes(14 + 1280))
    assert lan.counters["dropped_over_mtu"] == 1 and lan.counters["frames"] == before + 1


def test_schedule_move_and_link_down():
    sim = Simulator(seed=1)
    lan, ping = _two_hosts(sim, count=100)
    other = Link("other")
    h2 = sim.nodes["h2"]
    sim.schedule(4 * NS_PER_S, lambda s: s.move(h2, "eth0", other))
    sim.schedule(6 * NS_PER_S, lambda s: s.move(h2, "eth0", lan))
    sim.schedule(7 * NS_PER_S, lambda s: s.set_link_up(lan, False))
    sim.run(9 * NS_PER_S)
    summary = ping.summary()
    assert 0 < summary["received"] < summary["sent"]
    assert not h2.interfaces["eth0"].up and not sim.nodes["h1"].interfaces["eth0"].up
    assert summary["not_sent"] > 0          # no route with the carrier down: the app could not send


def test_events_fire_in_time_then_sequence_order():
    sim = Simulator()
    seen = []
    sim.schedule(5, lambda s: seen.append(("b", s.now)))
    sim.schedule(3, lambda s: seen.append(("a", s.now)))
    sim.schedule(5, lambda s: seen.append(("c", s.now)))
    sim.run(4)
    assert seen == [("a", 3)] and sim.now == 4
    sim.run(10)
    assert seen == [("a", 3), ("b", 5), ("c", 5)]


def test_stream_app_records_gaps_and_losses():
    sim = Simulator(seed=5)
    lan = Link("lan", loss=0.0)
    r = Router("r", [Interface("eth0", _mac(1))], rng=random.Random(1))
    r.advertise("eth0", AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:9::", 64)],
                                          max_interval=4 * NS_PER_S))
    a = Host("a", [Interface("eth0", _mac(2))], rng=random.Random(2))
    b = Host("b", [Interface("eth0", _mac(3))], rng=random.Random(3))
    dst = slaac_address("2001:db8:9::/64", _mac(3))
    tx = StreamApp(7, dst=dst, start_ns=3 * NS_PER_S, interval_ns=10 * MS, count=250)
    rx = StreamApp(7)
    a.attach(tx)
    b.attach(rx)
    for n in (r, a, b):
        sim.attach(n, "eth0", lan)
    away = Link("away")
    sim.schedule(int(3.3 * NS_PER_S), lambda s: s.move(b, "eth0", away))
    sim.schedule(int(3.5 * NS_PER_S), lambda s: s.move(b, "eth0", lan))
    sim.run(6 * NS_PER_S)
    s = rx.summary(sent=tx.sent)
    assert s["lost"] > 0 and s["delivered"] + s["lost"] == tx.sent
    assert s["max_gap_ms"] >= 1200         # 0.2 s away, then 1 s of DAD on return (RFC 4862 §5.4)


def test_cli_list_and_run(tmp_path, capsys):
    assert main(["simulate", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(SCENARIOS) and lines[0].split()[0] == "basic-routing"
    assert main(["simulate", "basic-routing", "--json", "--pcap-dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ping"]["received"] == 50
    assert (tmp_path / "lan1.pcap").exists()
    assert main(["simulate", "basic-routing"]) == 0
    out = capsys.readouterr().out
    assert "AddressReady" in out.splitlines()[0]
    assert main(["simulate", "no-such-scenario"]) == 2


def test_tshark_dissects_simulator_pcaps_cleanly(tmp_path):
    require_tshark()
    run_scenario("basic-routing", seed=1, pcap_dir=str(tmp_path))
    for name in ("lan1.pcap", "lan2.pcap"):
        assert problems(str(tmp_path / name)) == []


def test_pcaps_identical_across_processes_and_hash_seeds(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for run, hash_seed in (("a", "1"), ("b", "2")):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=root)
        subprocess.run([sys.executable, "-m", "mip6fast.cli", "simulate", "basic-routing", "--json",
                        "--pcap-dir", str(tmp_path / run)], check=True, env=env, stdout=subprocess.DEVNULL)
    for name in ("lan1.pcap", "lan2.pcap"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_icmp_errors_from_the_router_and_tshark(tmp_path):
    """Time Exceeded, Packet Too Big and Destination Unreachable (address unreachable) as a router
    sends them, checked on the pcap by tshark as well."""
    from mip6fast.wire import DestinationUnreachable, Packet, PacketTooBig, Raw, TimeExceeded

    sim = Simulator(seed=4, pcap_dir=str(tmp_path))
    lan1, lan2 = Link("lan1"), Link("lan2", mtu=1280)
    r = Router("r", [Interface("eth0", _mac(1)), Interface("eth1", _mac(2), mtu=1280)], rng=sim.rng_for("r"))
    r.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    r.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for name, prefix in (("eth0", "2001:db8:1::"), ("eth1", "2001:db8:2::")):
        r.advertise(name, AdvertisingConfig(prefixes=[PrefixInformation(prefix, 64)], max_interval=4 * NS_PER_S))
    h1 = Host("h1", [Interface("eth0", _mac(11))], rng=sim.rng_for("h1"))
    h2 = Host("h2", [Interface("eth0", _mac(12), mtu=1280)], rng=sim.rng_for("h2"))
    with sim:
        sim.attach(r, "eth0", lan1)
        sim.attach(r, "eth1", lan2)
        sim.attach(h1, "eth0", lan1)
        sim.attach(h2, "eth0", lan2)
        sim.run(3 * NS_PER_S)
        src = slaac_address("2001:db8:1::/64", _mac(11))
        h2_addr = slaac_address("2001:db8:2::/64", _mac(12))
        def udp(dst, size=8):
            return Raw(17, udp_datagram(src, IPv6Address(dst), 1000, 2000, bytes(size)))
        sim.send(h1, Packet(src=src, dst=h2_addr, hop_limit=1, payload=udp(h2_addr)).to_bytes())
        sim.send(h1, Packet(src=src, dst=h2_addr, payload=udp(h2_addr, 1300)).to_bytes())
        sim.send(h1, Packet(src=src, dst="2001:db8:2::99", payload=udp("2001:db8:2::99")).to_bytes())
        got = []
        h1.attach(type("Catch", (), {"attached": lambda self, host: None,
                                     "deliver": lambda self, host, now, raw, p: got.append(p.payload)})())
        sim.run(8 * NS_PER_S)
    kinds = [type(m) for m in got]
    assert kinds.count(TimeExceeded) == 1 and kinds.count(PacketTooBig) == 1
    assert kinds.count(DestinationUnreachable) == 1
    ptb = next(m for m in got if isinstance(m, PacketTooBig))
    assert ptb.mtu == 1280 and ptb.invoking[24:40] == h2_addr.packed and len(ptb.invoking) == 1232
    assert r.counters["drop.hop_limit_exceeded"] == 1 and r.counters["drop.packet_too_big"] == 1
    require_tshark()
    for name in ("lan1.pcap", "lan2.pcap"):
        assert problems(str(tmp_path / name)) == []


def test_router_failover_summary():
    s = run_scenario("router-failover", seed=1)
    stream = s["stream"]
    assert stream["delivered"] + stream["lost"] == stream["sent"] == 1700
    assert s["forwarded"]["r1"] > 0 and s["forwarded"]["r2"] > 0
    # NUD (RFC 4861 §7.3.3): at most ReachableTime (≤ 45 s) + DELAY (5 s) + 3 probes (3 s) after the failure.
    assert 5_000 < stream["max_gap_ms"] < 53_000
    assert any("RouterUnreachable" in line and "nud_failed" in line for line in s["timeline"])
    assert s["default_router"]["h2"] == "fe80::ff:fe00:12"
