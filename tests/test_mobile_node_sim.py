"""The mobile node in the simulator: a home link with a plain router, two foreign links each behind a
router, the mobile node moving between them with ``sim.move``. The home agent is a small scripted
responder defined here (the real role is built elsewhere): it answers every Binding Update with a
Binding Acknowledgement (with a Type 2 routing header when the node is away), built from
``mip6fast.wire`` objects, and tunnels a ping reply so the decapsulation path is exercised."""
from ipaddress import IPv6Address, IPv6Network

from tshark_check import problems, require_tshark

from mip6fast.apps import udp_datagram
from mip6fast.roles import AdvertisingConfig, Host, Interface, Router, slaac_address
from mip6fast.roles.mobile_node import (
    Deregistered,
    HomeAddressConfig,
    Location,
    MobileNode,
    MobileNodeConfig,
    Moved,
    Registered,
    ReturnedHome,
)
from mip6fast.sim import NS_PER_S, Link, Simulator
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingUpdate,
    Packet,
    PrefixInformation,
    Raw,
)

S = NS_PER_S
MS = 1_000_000
HOME = IPv6Network("2001:db8:1::/64")
NET_A = IPv6Network("2001:db8:a::/64")
NET_B = IPv6Network("2001:db8:b::/64")
CORE = IPv6Network("2001:db8:ff::/64")
MN_MAC = bytes.fromhex("020000000020")
HOA = slaac_address(HOME, MN_MAC)
HA = IPv6Address("2001:db8:1::2")
CN = IPv6Address("2001:db8:ff::99")


def _mac(n):
    return bytes([2, 0, 0, 0, 1, n])


class ScriptedHomeAgent(Host):
    """Test-only responder: a BA (status 0, the BU's sequence and lifetime) for every home BU; while
    the node is away it goes to the care-of address with an RH2, a de-registration BA goes straight to
    the MAC the BU came from (RFC 6275 §11.5.5: the home agent still defends the home address).
    Packets the node reverse-tunnels are answered by a tunnelled reply."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bus: list[tuple[int, Packet]] = []
        self.care_of: IPv6Address | None = None
        self.tunnelled_in = 0
        self._src_mac = b""

    def local_packet(self, now, iface, raw, packet, src_mac):
        self._src_mac = src_mac
        super().local_packet(now, iface, raw, packet, src_mac)

    def handle_mobility(self, now, iface, raw, packet):
        bu = packet.payload
        if not isinstance(bu, BindingUpdate) or not bu.home:
            return
        self.bus.append((now, packet))
        coa = next((o.address for o in bu.options if isinstance(o, AlternateCareOfAddress)), packet.src)
        ack = BindingAcknowledgement(status=0, sequence=bu.sequence, lifetime=bu.lifetime)
        if bu.lifetime == 0:
            self.care_of = None
            raw_ba = Packet(src=HA, dst=packet.src, payload=ack).to_bytes()
            self.emit_frame(iface.name, self._src_mac, raw_ba)
            return
        self.care_of = coa
        self.output_packet(now, Packet(src=HA, dst=coa, rh2=packet.home_address, payload=ack).to_bytes())

    def handle_tunnel(self, now, iface, raw, packet):
        inner = packet.payload
        self.tunnelled_in += 1
        if self.care_of is None or not isinstance(inner, Packet):
            return
        # Reply as the correspondent would, through the tunnel to the current care-of address.
        reply = Packet(src=inner.dst, dst=inner.src, hop_limit=63,
                       payload=Raw(17, udp_datagram(inner.dst, inner.src, 2000, 1000, b"pong")))
        self.output_packet(now, Packet(src=HA, dst=self.care_of, payload=reply).to_bytes())


def build(sim):
    home, core = Link("home", delay_ns=200_000), Link("core", delay_ns=1 * MS)
    link_a, link_b = Link("fa", delay_ns=200_000), Link("fb", delay_ns=200_000)
    r0 = Router("r0", [Interface("eth0", _mac(1)), Interface("eth1", _mac(2))], rng=sim.rng_for("r0"))
    ra = Router("ra", [Interface("eth0", _mac(3)), Interface("eth1", _mac(4))], rng=sim.rng_for("ra"))
    rb = Router("rb", [Interface("eth0", _mac(5)), Interface("eth1", _mac(6))], rng=sim.rng_for("rb"))
    r0.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    r0.interfaces["eth1"].add_address("2001:db8:ff::1", 64)
    ra.interfaces["eth0"].add_address("2001:db8:ff::a", 64)
    ra.interfaces["eth1"].add_address("2001:db8:a::1", 64)
    rb.interfaces["eth0"].add_address("2001:db8:ff::b", 64)
    rb.interfaces["eth1"].add_address("2001:db8:b::1", 64)
    r0.add_route(NET_A, "eth1", "2001:db8:ff::a")
    r0.add_route(NET_B, "eth1", "2001:db8:ff::b")
    ra.add_route("::/0", "eth0", "2001:db8:ff::1")
    rb.add_route("::/0", "eth0", "2001:db8:ff::1")
    for router, net in ((r0, HOME), (ra, NET_A), (rb, NET_B)):
        iface = "eth0" if router is r0 else "eth1"
        router.advertise(iface, AdvertisingConfig(prefixes=[PrefixInformation(net.network_address, 64)],
                                                  max_interval=1 * S, advertisement_interval_option=True,
                                                  min_delay_between_ras=30 * MS))
    ha = ScriptedHomeAgent("ha", [Interface("eth0", _mac(9))], rng=sim.rng_for("ha"))
    ha.interfaces["eth0"].add_address(HA, 64)
    mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                    config=MobileNodeConfig("eth0", (HomeAddressConfig(HOA, HA),)))
    for node, iface, link in ((r0, "eth0", home), (r0, "eth1", core), (ra, "eth0", core), (ra, "eth1", link_a),
                              (rb, "eth0", core), (rb, "eth1", link_b), (ha, "eth0", home), (mn, "eth0", home)):
        sim.attach(node, iface, link)
    return mn, ha, link_a, link_b, home


def events(sim, cls):
    return [(t, n) for t, name, n in sim.timeline if name == "mn" and isinstance(n, cls)]


def test_mobile_node_moves_registers_and_returns_home(tmp_path):
    with Simulator(seed=3, pcap_dir=str(tmp_path)) as sim:
        mn, ha, link_a, link_b, home = build(sim)
        sim.schedule(5 * S, lambda s: s.move(mn, "eth0", link_a))
        sim.schedule(20 * S, lambda s: s.move(mn, "eth0", link_b))
        sim.schedule(35 * S, lambda s: s.move(mn, "eth0", home))
        sent_at = []

        def ping(s):
            sent_at.append(s.now)
            s.send(mn, Packet(src=HOA, dst=CN, payload=Raw(17, udp_datagram(HOA, CN, 1000, 2000, b"ping")))
                   .to_bytes())
        sim.schedule(15 * S, ping)
        sim.schedule(30 * S, ping)
        sim.run(45 * S)

    coa_a, coa_b = slaac_address(NET_A, MN_MAC), slaac_address(NET_B, MN_MAC)
    home_events = events(sim, ReturnedHome)
    assert len(home_events) == 2 and home_events[0][0] < 3 * S and home_events[1][0] > 35 * S
    moved = events(sim, Moved)
    assert [(n.old_coa, n.new_coa) for _, n in moved] == [(None, coa_a), (coa_a, coa_b)]
    registered = events(sim, Registered)
    assert [n.care_of for _, n in registered] == [coa_a, coa_b]
    # The carrier came back on another link: a Router Solicitation at once, and the first RA from the new
    # router is movement (``movement_on_reattachment``); the RA comes within the router's random delay
    # (RFC 4861 §6.2.6: at most 0.5 s) or its next unsolicited RA. The care-of address is optimistic
    # (RFC 4429), so the BU leaves at once and the registration follows within one round trip.
    for (t_moved, _), (t_reg, _), t_move in zip(moved, registered, (5 * S, 20 * S)):
        assert t_move <= t_moved <= t_move + 500 * MS
        assert 0 < t_reg - t_moved < 50 * MS
    assert mn.counters["nd.rs_without_delay"] == 4 and mn.counters["mn.movement.reattached_elsewhere"] == 2
    deregistered = events(sim, Deregistered)
    assert len(deregistered) == 1 and 35 * S < deregistered[0][0] < 37 * S
    assert mn.location is Location.HOME and mn.iface.addresses[HOA].usable
    # Every BU the home agent saw: the two registrations (plus refreshes, none in 45 s), then the
    # de-registration from the home address.
    kinds = [(p.src, p.payload.lifetime) for _, p in ha.bus]
    assert kinds == [(coa_a, 600), (coa_b, 600), (HOA, 0)]
    # Both pings went through the reverse tunnel and their replies came back decapsulated.
    assert ha.tunnelled_in == 2
    assert mn.counters["mn.tunnel_delivered"] == 2
    require_tshark()
    for name in ("home", "core", "fa", "fb"):
        assert problems(str(tmp_path / f"{name}.pcap")) == []


def test_same_seed_same_timeline():
    lines = []
    for _ in range(2):
        with Simulator(seed=5) as sim:
            mn, _, link_a, _, _ = build(sim)
            sim.schedule(5 * S, lambda s, mn=mn, link=link_a: s.move(mn, "eth0", link))
            sim.run(15 * S)
            lines.append(sim.timeline_lines())
    assert lines[0] == lines[1] and any("Registered" in line for line in lines[0])

