"""The home agent in the simulator: a scripted mobile node on a foreign link registers with a real BU
(HAO, Alternate Care-of Address), a correspondent on the home link pings the home address, the echo
requests reach the mobile node through the tunnel and its replies come back through the reverse tunnel
(RFC 6275 §10.3.1, §10.4.1, §10.4.2, §10.4.5); tshark finds nothing wrong on any link's pcap."""
from ipaddress import IPv6Address, IPv6Network

from tshark_check import problems, require_tshark

from mip6fast.io.pcap import read_pcap
from mip6fast.roles.home_agent import BindingCreated, BindingDeleted, HomeAgent, HomeAgentConfig
from mip6fast.roles.host import Host
from mip6fast.roles.interface import Interface, slaac_address
from mip6fast.roles.router import AdvertisingConfig, Router
from mip6fast.sim import NS_PER_S, Link, PingApp, Simulator
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingUpdate,
    EchoReply,
    EchoRequest,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
    PrefixInformation,
    home_agents_anycast,
    parse,
)

MS = 1_000_000
HOME_PREFIX = IPv6Network("2001:db8:1::/64")
FOREIGN_PREFIX = IPv6Network("2001:db8:3::/64")
HA_ADDRESS = IPv6Address("2001:db8:1::1")


def _mac(n):
    return bytes([2, 0, 0, 0, 0, n])


MN_MAC = _mac(21)
HOME = slaac_address(HOME_PREFIX, MN_MAC)
COA = slaac_address(FOREIGN_PREFIX, MN_MAC)


class Recorder:
    """An application that keeps every packet its host delivers."""

    def __init__(self):
        self.packets = []

    def attached(self, host):
        pass

    def deliver(self, host, now, raw, packet):
        self.packets.append((now, packet))


class ScriptedMobileNode(Host):
    """A plain host on the foreign link that plays the mobile node's data plane by hand: what arrives
    through the tunnel is recorded, and an echo request for the home address is answered through the
    reverse tunnel (RFC 6275 §11.3.1)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.tunnelled = []

    def handle_tunnel(self, now, iface, raw, packet):
        inner = packet.payload
        self.tunnelled.append((now, packet))
        if isinstance(inner.payload, EchoRequest) and inner.dst == HOME:
            req = inner.payload
            reply = Packet(src=HOME, dst=inner.src,
                           payload=EchoReply(identifier=req.identifier, sequence=req.sequence, data=req.data))
            self.output_packet(now, Packet(src=COA, dst=packet.src, payload=reply).to_bytes())


def build(sim):
    home, core, foreign = Link("home", delay_ns=100_000), Link("core", delay_ns=200_000), Link("foreign")
    ha = HomeAgent("ha", [Interface("eth0", _mac(1)), Interface("eth1", _mac(2))],
                   HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS, max_lifetime=60),
                   rng=sim.rng_for("ha"))
    ha.interfaces["eth1"].add_address("2001:db8:2::2", 64)
    ha.add_route("::/0", "eth1", "2001:db8:2::1")
    r = Router("r", [Interface("eth0", _mac(3)), Interface("eth1", _mac(4))], rng=sim.rng_for("r"))
    r.interfaces["eth0"].add_address("2001:db8:2::1", 64)
    r.interfaces["eth1"].add_address("2001:db8:3::1", 64)
    r.add_route(HOME_PREFIX, "eth0", "2001:db8:2::2")
    r.advertise("eth1", AdvertisingConfig(prefixes=[PrefixInformation(FOREIGN_PREFIX.network_address, 64)],
                                          max_interval=4 * NS_PER_S))
    mn = ScriptedMobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"))
    mn_apps = Recorder()
    mn.attach(mn_apps)
    cn = Host("cn", [Interface("eth0", _mac(31))], rng=sim.rng_for("cn"))
    ping = PingApp(HOME, start_ns=7 * NS_PER_S, interval_ns=200 * MS, count=5)
    cn.attach(ping)
    sim.attach(ha, "eth0", home)
    sim.attach(cn, "eth0", home)
    sim.attach(ha, "eth1", core)
    sim.attach(r, "eth0", core)
    sim.attach(r, "eth1", foreign)
    sim.attach(mn, "eth0", foreign)

    def send_bu(sim, seq=1, lifetime=60):
        bu = Packet(src=COA, dst=HA_ADDRESS, home_address=HOME,
                    payload=BindingUpdate(seq, lifetime, ack=True, home=True,
                                          options=(AlternateCareOfAddress(COA),)))
        sim.send(mn, bu.to_bytes())

    return ha, r, mn, mn_apps, cn, ping, send_bu


def test_registration_tunnel_and_reverse_tunnel_in_the_simulator(tmp_path):
    sim = Simulator(seed=3, pcap_dir=str(tmp_path))
    with sim:
        ha, _r, mn, mn_apps, _cn, ping, send_bu = build(sim)
        sim.schedule(4 * NS_PER_S, send_bu)
        sim.run(10 * NS_PER_S)
    # The BA reached the mobile node at its care-of address, with the RH2 holding the home address.
    bas = [p for _, p in mn_apps.packets if isinstance(p.payload, BindingAcknowledgement)]
    assert len(bas) == 1
    ba = bas[0]
    assert ba.payload.status == 0 and ba.payload.lifetime == 60 and ba.dst == COA and ba.rh2 == HOME
    assert ba.src == HA_ADDRESS
    created = [n for _, node, n in sim.timeline if node == "ha" and isinstance(n, BindingCreated)]
    assert [(n.home_address, n.care_of_address) for n in created] == [(HOME, COA)]
    assert ha.cache[HOME].care_of_address == COA
    # The correspondent's echo requests for the home address arrived tunnelled at the foreign host...
    echoes = [p for _, p in mn.tunnelled if isinstance(p.payload.payload, EchoRequest)]
    assert len(echoes) == 5
    for outer in echoes:
        assert outer.src == HA_ADDRESS and outer.dst == COA and outer.payload.dst == HOME
    # ... and the replies came back through the reverse tunnel to the correspondent.
    assert ping.summary()["received"] == 5
    assert ha.counters["tunnelled"] == 5 and ha.counters["detunnelled"] == 5
    assert ha.counters["nd.na_answered_proxy"] >= 1           # the correspondent resolved the home address
    # The foreign link's pcap shows the tunnelled echo requests.
    _, records = read_pcap(str(tmp_path / "foreign.pcap"))
    on_wire = []
    for rec in records:
        p = parse(rec.data[14:], verify_checksums=False)
        if isinstance(p.payload, Packet) and isinstance(p.payload.payload, EchoRequest):
            on_wire.append(p)
    assert len(on_wire) == 5 and all(p.dst == COA and p.payload.dst == HOME for p in on_wire)
    require_tshark()
    for name in ("home.pcap", "core.pcap", "foreign.pcap"):
        assert problems(str(tmp_path / name)) == [], name


def test_deregistration_and_expiry_in_the_simulator():
    sim = Simulator(seed=5)
    with sim:
        ha, _r, _mn, mn_apps, _cn, _ping, send_bu = build(sim)
        sim.schedule(4 * NS_PER_S, send_bu)
        sim.schedule(6 * NS_PER_S, lambda s: send_bu(s, seq=2, lifetime=0))
        sim.run(8 * NS_PER_S)
    bas = [p.payload for _, p in mn_apps.packets if isinstance(p.payload, BindingAcknowledgement)]
    assert [(b.status, b.lifetime, b.sequence) for b in bas] == [(0, 60, 1), (0, 0, 2)]
    assert any(isinstance(n, BindingDeleted) for _, _, n in sim.timeline)
    assert HOME not in ha.cache and HOME not in ha.nd["eth0"].proxies


def test_dhaad_and_mobile_prefix_discovery_through_the_router(tmp_path):
    """DHAAD to the home-agents anycast address from the foreign link (the router resolves the anycast
    address on the home link: the home agent answers for it), then an MPS with a HAO after
    registration."""
    sim = Simulator(seed=9, pcap_dir=str(tmp_path))
    with sim:
        _ha, _r, mn, mn_apps, _cn, _ping, send_bu = build(sim)
        sim.schedule(3 * NS_PER_S, lambda s: s.send(mn, Packet(
            src=COA, dst=home_agents_anycast(HOME_PREFIX), payload=HomeAgentAddressDiscoveryRequest(77)).to_bytes()))
        sim.schedule(4 * NS_PER_S, send_bu)
        sim.schedule(6 * NS_PER_S, lambda s: s.send(mn, Packet(
            src=COA, dst=HA_ADDRESS, home_address=HOME, payload=MobilePrefixSolicitation(78)).to_bytes()))
        sim.run(7 * NS_PER_S)
    replies = [p for _, p in mn_apps.packets if isinstance(p.payload, HomeAgentAddressDiscoveryReply)]
    assert len(replies) == 1
    assert replies[0].src == HA_ADDRESS and replies[0].payload.identifier == 77
    assert replies[0].payload.addresses == (HA_ADDRESS,)
    mpas = [p for _, p in mn_apps.packets if isinstance(p.payload, MobilePrefixAdvertisement)]
    assert len(mpas) == 1 and mpas[0].rh2 == HOME and mpas[0].payload.identifier == 78
    assert [o.network for o in mpas[0].payload.options] == [HOME_PREFIX]
    require_tshark()
    for name in ("home.pcap", "core.pcap", "foreign.pcap"):
        assert problems(str(tmp_path / name)) == [], name
