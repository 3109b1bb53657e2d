"""The correspondent node in the simulator: a plain host scripted as a mobile node on another link, a
router between them; route optimisation seen on the wire and checked by tshark. The scripted host has
no home agent to tunnel a Home Test through, so the correspondent here lets Binding Updates in without
return routability (``unauthenticated_bindings``, the lab switch); return routability end to end is in
the route optimisation scenarios (tests/test_scenarios_route_optimization.py)."""
from ipaddress import IPv6Address, IPv6Network
from types import SimpleNamespace

import pytest
from tshark_check import dissect, problems, require_tshark

from mip6fast.apps import udp_datagram
from mip6fast.roles import AdvertisingConfig, Host, Interface, Router, slaac_address
from mip6fast.roles.correspondent import (
    BindingCreated,
    BindingErrorSent,
    CorrespondentConfig,
    CorrespondentNode,
)
from mip6fast.sim import NS_PER_S, Link, Simulator, StreamApp
from mip6fast.wire import (
    BindingAcknowledgement,
    BindingError,
    BindingUpdate,
    Packet,
    ParameterProblem,
    PrefixInformation,
    Raw,
)

MS = 1_000_000
HOA = IPv6Address("2001:db8:9::5")
HOA_UNKNOWN = IPv6Address("2001:db8:9::77")
PREFIX1, PREFIX2 = IPv6Network("2001:db8:1::/64"), IPv6Network("2001:db8:2::/64")


def _mac(n):
    return bytes([2, 0, 0, 0, 0, n])


class Recorder:
    """Keeps every packet delivered to its host."""

    def __init__(self):
        self.packets = []

    def attached(self, host):
        pass

    def deliver(self, host, now, raw, packet):
        self.packets.append((now, raw, packet))


def _udp(src, dst, upper_src, upper_dst, payload, home_address=None):
    body = udp_datagram(upper_src, upper_dst, 40000, 5001, payload)
    return Packet(src=src, dst=dst, home_address=home_address, payload=Raw(17, body)).to_bytes()


LAB = CorrespondentConfig(unauthenticated_bindings=True)


def run(pcap_dir, config=LAB):
    sim = Simulator(3, str(pcap_dir))
    lan1, lan2 = Link("lan1", delay_ns=200_000), Link("lan2", delay_ns=300_000)
    router = Router("r1", [Interface("eth0", _mac(1)), Interface("eth1", _mac(2))], rng=sim.rng_for("r1"))
    router.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    router.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for name, prefix in (("eth0", PREFIX1), ("eth1", PREFIX2)):
        router.advertise(name, AdvertisingConfig(prefixes=[PrefixInformation(prefix.network_address, 64)],
                                                 max_interval=4 * NS_PER_S, min_interval=3 * NS_PER_S))
    cn = CorrespondentNode("cn", [Interface("eth0", _mac(11))], rng=sim.rng_for("cn"), config=config)
    mn = Host("mn", [Interface("eth0", _mac(12))], rng=sim.rng_for("mn"))
    cn_addr, coa = slaac_address(PREFIX1, _mac(11)), slaac_address(PREFIX2, _mac(12))
    cn_rx, mn_rx = Recorder(), Recorder()
    cn.attach(cn_rx)
    mn.attach(mn_rx)
    # The correspondent's application streams to the home address from 6 s (after the binding).
    cn.attach(StreamApp(5001, dst=HOA, start_ns=6 * NS_PER_S, interval_ns=100 * MS, count=5))

    bu = Packet(src=coa, dst=cn_addr, home_address=HOA, payload=BindingUpdate(1, 100, ack=True)).to_bytes()
    bound = _udp(coa, cn_addr, HOA, cn_addr, b"from home address", home_address=HOA)
    unknown = _udp(coa, cn_addr, HOA_UNKNOWN, cn_addr, b"no binding", home_address=HOA_UNKNOWN)
    sim.schedule(5 * NS_PER_S, lambda s: s.send(mn, bu))
    sim.schedule(7 * NS_PER_S, lambda s: s.send(mn, bound))
    sim.schedule(8 * NS_PER_S, lambda s: s.send(mn, unknown))
    with sim:
        for node, iface, link in ((router, "eth0", lan1), (router, "eth1", lan2), (cn, "eth0", lan1),
                                  (mn, "eth0", lan2)):
            sim.attach(node, iface, link)
        sim.run(10 * NS_PER_S)
    return SimpleNamespace(sim=sim, cn=cn, mn=mn, cn_addr=cn_addr, coa=coa, cn_rx=cn_rx, mn_rx=mn_rx,
                           pcap=lan2.pcap_path)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return run(tmp_path_factory.mktemp("cn-sim"))


def test_binding_update_gets_ba_with_rh2(world):
    w = world
    sim, cn, cn_addr, coa, mn_rx = w.sim, w.cn, w.cn_addr, w.coa, w.mn_rx
    assert cn.bindings() == {HOA: coa}
    assert any(isinstance(n, BindingCreated) and n.home_address == HOA for _, name, n in sim.timeline
               if name == "cn")
    bas = [p for _, _, p in mn_rx.packets if isinstance(p.payload, BindingAcknowledgement)]
    assert len(bas) == 1
    ba = bas[0]
    assert ba.payload.status == 0 and ba.payload.sequence == 1 and ba.payload.lifetime == 100
    assert ba.src == cn_addr and ba.dst == coa and ba.rh2 == HOA


def test_application_traffic_to_home_address_carries_rh2(world):
    cn, cn_addr, coa, mn_rx = world.cn, world.cn_addr, world.coa, world.mn_rx
    data = [p for _, _, p in mn_rx.packets if isinstance(p.payload, Raw) and p.payload.next_header == 17]
    assert len(data) == 5
    assert all(p.src == cn_addr and p.dst == coa and p.rh2 == HOA for p in data)
    assert cn.counters["rh2.inserted"] >= 5


def test_hao_of_binding_is_delivered_from_the_home_address(world):
    cn_rx = world.cn_rx
    udp = [p for _, _, p in cn_rx.packets if isinstance(p.payload, Raw)]
    assert len(udp) == 1 and udp[0].src == HOA and udp[0].payload.data.endswith(b"from home address")


def test_hao_without_binding_gets_binding_error_1(world):
    sim, cn_addr, coa, mn_rx = world.sim, world.cn_addr, world.coa, world.mn_rx
    errors = [p for _, _, p in mn_rx.packets if isinstance(p.payload, BindingError)]
    assert len(errors) == 1
    be = errors[0]
    assert be.payload.status == 1 and be.payload.home_address == HOA_UNKNOWN
    assert be.src == cn_addr and be.dst == coa and be.rh2 is None
    assert any(isinstance(n, BindingErrorSent) for _, name, n in sim.timeline if name == "cn")


def test_tshark_sees_rh2_and_clean_pcap(world):
    require_tshark()
    pcap, coa = world.pcap, str(world.coa)
    assert problems(pcap) == []
    frames = dissect(pcap)
    rh2 = [f for f in frames if f.get("ipv6.routing.type") == ["2"] and f.get("ipv6.dst") == [coa]
           and "udp" in f.get("frame.protocols", [""])[0].split(":")]
    assert len(rh2) == 5
    f = rh2[0]
    assert f["ipv6.routing.segleft"] == ["1"]
    assert f["ipv6.routing.mipv6.home_address"] == [str(HOA)]
    bas = [f for f in frames if "mip6.ba.status" in f]
    assert len(bas) == 1 and bas[0]["ipv6.routing.type"] == ["2"]
    bes = [f for f in frames if "mip6.be.status" in f]
    assert len(bes) == 1 and bes[0]["mip6.be.status"] == ["1"]


def test_node_without_mobile_ipv6_answers_bu_with_parameter_problem_code2(tmp_path):
    require_tshark()
    w = run(tmp_path, CorrespondentConfig(mobility_support=False))
    pps = [p for _, _, p in w.mn_rx.packets if isinstance(p.payload, ParameterProblem)]
    # The BU and both data packets carry a HAO: code 2 at its option type byte (40 + 2 + PadN(2)).
    assert [(p.payload.code, p.payload.pointer) for p in pps] == [(2, 46)] * 3
    assert all(p.src == w.cn_addr and p.dst == w.coa and p.rh2 is None for p in pps)
    assert len(w.cn.cache) == 0
    # Its application's packets to the home address go out plainly (and find no route here).
    assert w.cn.counters["rh2.inserted"] == 0
    assert problems(w.pcap) == []
