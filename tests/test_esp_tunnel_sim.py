"""The reverse tunnel in ESP tunnel mode between a mobile node and its home agent (RFC 3776 §3, §5; RFC
4877 §4; issue 11), in the simulator's Mip6World with a tunnel-mode pair of SAs installed next to the
transport-mode pair that protects the registration: the mobile node's reverse-tunnelled packets and
the home agent's tunnelled ones leave under ESP, scapy (an independent implementation) decrypts them
with the same keys, each end delivers or forwards the inner packet; unprotected and replayed tunnel
packets for the home address are dropped and counted at the mobile node (the home agent's side:
tests/test_esp_tunnel.py); pings to the home address are answered through the protected tunnel, and
the foreign link's capture carries no unprotected tunnel of the home address."""
import random
from ipaddress import IPv6Address

import pytest

from mip6fast.apps import PingApp, udp_datagram
from mip6fast.batch import PacketBatch
from mip6fast.io.pcap import read_pcap
from mip6fast.roles.interface import Interface
from mip6fast.roles.mobile_node import HomeAddressConfig, MobileNode, MobileNodeConfig, Registered
from mip6fast.roles.route_optimization import RouteOptimisationStarted, RouteOptimizationConfig
from mip6fast.roles.protection import manual_pair
from mip6fast.scenarios.world import CN_ADDRESS, HA_ADDRESS, HOME_ADDRESS, MN_MAC, Mip6World
from mip6fast.security import Algorithm, Direction, Mode, SecurityAssociation, is_protected
from mip6fast.sim import NS_PER_S, Simulator
from mip6fast.wire import EchoReply, EchoRequest, Packet, PacketTooBig, Raw, parse
from mip6fast.wire.ethernet import ethernet_frame, parse_ethernet

_ipsec = pytest.importorskip("scapy.layers.ipsec")
IPv6 = pytest.importorskip("scapy.layers.inet6").IPv6

S = NS_PER_S
SPI_MN_TO_HA, SPI_HA_TO_MN = 0x7001, 0x7002
SCAPY_NAMES = {Algorithm.AES_128_GCM: ("AES-GCM", None),
               Algorithm.AES_128_CBC_HMAC_SHA256: ("AES-CBC", "SHA2-256-128")}


def tunnel_sas(algorithm: Algorithm, seed: int = 7):
    """A tunnel-mode pair with keys this test knows (for scapy): (mobile node's SAs, home agent's SAs,
    keys by SPI)."""
    r = random.Random(seed)
    spec = algorithm.spec
    mn, ha, keys = [], [], {}
    for spi, src, dst in ((SPI_MN_TO_HA, HOME_ADDRESS, HA_ADDRESS), (SPI_HA_TO_MN, HA_ADDRESS, HOME_ADDRESS)):
        enc, auth = r.randbytes(spec.encryption_key), r.randbytes(spec.authentication_key)
        keys[spi] = (enc, auth)
        common = {"source": src, "destination": dst, "home_address": HOME_ADDRESS, "mode": Mode.TUNNEL,
                  "encryption_key": enc, "authentication_key": auth}
        sender = SecurityAssociation(spi, Direction.OUTBOUND, algorithm, rng=random.Random(spi).randbytes, **common)
        receiver = SecurityAssociation(spi, Direction.INBOUND, algorithm, **common)
        (mn if src == HOME_ADDRESS else ha).append(sender)
        (ha if src == HOME_ADDRESS else mn).append(receiver)
    return mn, ha, keys


def registered_world(algorithm=Algorithm.AES_128_GCM, seed=11):
    """Mip6World (transport-mode pair, registration protected) with the tunnel pair added, run until the
    mobile node is registered from foreign link A and two pings through the protected tunnel have
    resolved the neighbours on the way. The counters are cleared after that."""
    sim = Simulator(seed)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    mn_sas, ha_sas, keys = tunnel_sas(algorithm)
    for sa in mn_sas:
        world.mn_spd.add(sa)
    for sa in ha_sas:
        world.ha_spd.add(sa)
    ping = PingApp(HOME_ADDRESS, start_ns=12 * S, interval_ns=S, count=2)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.run(20 * S)
    assert len(world.events("mn", Registered)) == 1 and ping.summary()["received"] == 2
    world.ha.counters.clear()
    world.mn.counters.clear()
    return sim, world, keys


def scapy_open(algorithm, keys, spi, raw, src, dst):
    """scapy's tunnel-mode SA decrypts ``raw``: the inner IPv6 packet's bytes."""
    crypt, auth = SCAPY_NAMES[algorithm]
    enc, ak = keys[spi]
    sa = _ipsec.SecurityAssociation(_ipsec.ESP, spi=spi, crypt_algo=crypt, crypt_key=enc or None, auth_algo=auth,
                                    auth_key=ak or None, tunnel_header=IPv6(src=str(src), dst=str(dst)))
    return bytes(sa.decrypt(IPv6(raw)))


def udp(src, dst, payload=b"through the tunnel"):
    return Packet(src=src, dst=dst, hop_limit=64, payload=Raw(17, udp_datagram(src, dst, 4000, 5000, payload)))


def ipv6_out(out):
    return [bytes(parse_ethernet(t.frame)[3]) for t in out.frames()]


def router_mac(world, name):
    return world.foreign_routers[0].interfaces[name].mac


@pytest.mark.parametrize("algorithm", list(SCAPY_NAMES), ids=lambda a: a.value)
def test_mobile_node_to_correspondent_through_the_protected_reverse_tunnel(algorithm):
    sim, world, keys = registered_world(algorithm)
    mn, ha, now = world.mn, world.ha, sim.now
    care_of = mn.care_of
    packet = udp(HOME_ADDRESS, CN_ADDRESS)
    (wire,) = ipv6_out(mn.send(now, packet.to_bytes()))
    # On the wire: CoA -> HA, ESP right after the outer header, the tunnel SA's SPI.
    assert wire[6] == 50 and IPv6Address(wire[8:24]) == care_of and IPv6Address(wire[24:40]) == HA_ADDRESS
    assert int.from_bytes(wire[40:44], "big") == SPI_MN_TO_HA
    assert mn.counters["esp.tunnel.protected"] == 1 and mn.counters["mn.reverse_tunnelled"] >= 1
    # scapy decrypts it with the same keys: the application's packet, byte for byte.
    assert scapy_open(algorithm, keys, SPI_MN_TO_HA, wire, care_of, HA_ADDRESS) == packet.to_bytes()
    # The home agent opens it, decapsulates it and forwards the inner packet towards the correspondent.
    out = ha.receive(now, "eth1", ethernet_frame(ha.interfaces["eth1"].mac, router_mac(world, "eth0"), wire))
    (forwarded,) = ipv6_out(out)
    assert parse(forwarded) == Packet(src=HOME_ADDRESS, dst=CN_ADDRESS, hop_limit=63, payload=packet.payload)
    assert ha.counters["esp.tunnel.accepted"] == 1 and ha.counters["detunnelled"] >= 1


@pytest.mark.parametrize("algorithm", list(SCAPY_NAMES), ids=lambda a: a.value)
def test_correspondent_to_mobile_node_through_the_protected_tunnel(algorithm):
    sim, world, keys = registered_world(algorithm)
    mn, ha, now = world.mn, world.ha, sim.now
    care_of = mn.care_of
    packet = udp(CN_ADDRESS, HOME_ADDRESS)
    rc_mac = world.rc.interfaces["eth0"].mac
    (wire,) = ipv6_out(ha.receive(now, "eth1", ethernet_frame(ha.interfaces["eth1"].mac, rc_mac, packet.to_bytes())))
    assert wire[6] == 50 and IPv6Address(wire[8:24]) == HA_ADDRESS and IPv6Address(wire[24:40]) == care_of
    assert int.from_bytes(wire[40:44], "big") == SPI_HA_TO_MN and ha.counters["esp.tunnel.protected"] == 1
    inner = Packet(src=CN_ADDRESS, dst=HOME_ADDRESS, hop_limit=63, payload=packet.payload).to_bytes()
    assert scapy_open(algorithm, keys, SPI_HA_TO_MN, wire, HA_ADDRESS, care_of) == inner
    # The mobile node opens it and delivers the inner packet to its applications.
    frame = ethernet_frame(mn.iface.mac, router_mac(world, "eth1"), wire)
    out = mn.receive(now, "eth0", frame)
    assert out.deliveries == [inner]
    assert mn.counters["esp.tunnel.accepted"] == 1 and mn.counters["mn.tunnel_delivered"] == 1
    # The same frame again is a replay: dropped, counted, nothing delivered.
    out = mn.receive(now, "eth0", frame)
    assert out.deliveries == [] and mn.counters["drop.esp.replay"] == 1


def test_unprotected_tunnel_to_the_mobile_node_is_dropped_and_counted():
    sim, world, _ = registered_world()
    mn, now = world.mn, sim.now
    inner = udp(CN_ADDRESS, HOME_ADDRESS)
    plain = Packet(src=HA_ADDRESS, dst=mn.care_of, payload=inner).to_bytes()
    assert not is_protected(plain)
    frame = ethernet_frame(mn.iface.mac, router_mac(world, "eth1"), plain)
    out = mn.receive(now, "eth0", frame)                 # the per-frame path (handle_tunnel)
    assert out.deliveries == [] and mn.counters["drop.esp.tunnel.unprotected"] == 1
    other = ethernet_frame(mn.iface.mac, router_mac(world, "eth1"),
                           Packet(src=CN_ADDRESS, dst=mn.care_of, payload=EchoRequest(1, 1, b"x")).to_bytes())
    delivered = mn.counters["delivered"]
    out = mn.receive_batch(now, "eth0", PacketBatch.from_packets([frame, other, frame]))   # the batch path
    assert mn.counters["drop.esp.tunnel.unprotected"] == 3 and mn.counters["mn.tunnel_delivered"] == 0
    assert out.deliveries == [] and mn.counters["delivered"] == delivered
    assert mn.counters["echo_replies"] >= 1              # the other frame went on as usual


def test_ping_through_the_protected_tunnel_end_to_end(tmp_path):
    """The correspondent pings the home address: requests reach the mobile node through the home agent's
    tunnel, replies come back through its reverse tunnel, both under ESP tunnel mode (keys from
    ``manual_pair(..., mode=Mode.TUNNEL)``); the foreign link's capture shows only protected tunnels for
    the home address, which the world's capture keys open."""
    sim = Simulator(5, str(tmp_path))
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    mn_sas, ha_sas = manual_pair(HOME_ADDRESS, HA_ADDRESS, sim.rng_for("tunnel keys"), mode=Mode.TUNNEL,
                                 capture=world.capture_keys)
    for sa in mn_sas:
        world.mn_spd.add(sa)
    for sa in ha_sas:
        world.ha_spd.add(sa)
    ping = PingApp(HOME_ADDRESS, start_ns=10 * S, interval_ns=S // 2, count=20)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.run(25 * S)
    summary = ping.summary()
    assert summary["sent"] == 20 and summary["received"] == 20, summary
    ha, mn = world.ha.counters, world.mn.counters
    assert ha["esp.tunnel.protected"] >= 20 and mn["esp.tunnel.accepted"] >= 20
    assert mn["esp.tunnel.protected"] >= 20 and ha["esp.tunnel.accepted"] >= 20
    for counters in (ha, mn):
        assert counters["drop.esp.tunnel.unprotected"] == 0
        assert not any(k.startswith("drop.esp.") and v for k, v in counters.items()), counters
    # The capture of the foreign link: every tunnel to or from the home address is ESP.
    _, records = read_pcap(str(tmp_path / "fa.pcap"))
    requests = replies = 0
    for record in records:
        _, _, ethertype, payload = parse_ethernet(record.data)
        raw = bytes(payload)
        if ethertype != 0x86DD:
            continue
        if raw[6] == 41:
            assert HOME_ADDRESS.packed not in (raw[48:64], raw[64:80]), "an unprotected tunnel of the home address"
            continue
        if raw[6] != 50 or IPv6Address(raw[8:24]) not in (HA_ADDRESS, world.mn.care_of):
            continue
        opened = parse(world.capture_keys.open(raw))
        if not isinstance(opened.payload, Packet):
            continue                                     # protected signalling (transport mode)
        message = opened.payload.payload
        requests += isinstance(message, EchoRequest)
        replies += isinstance(message, EchoReply)
    assert requests == 20 and replies == 20


def test_reverse_tunnelled_packet_too_big_once_protected_gets_packet_too_big():
    sim, world, _ = registered_world()
    mn, now = world.mn, sim.now
    room = 1426                                          # 1500 under AES-128-GCM (tunnel_room)
    fits = udp(HOME_ADDRESS, CN_ADDRESS, bytes(room - 48))
    (wire,) = ipv6_out(mn.send(now, fits.to_bytes()))
    assert len(wire) == 1500 and wire[6] == 50
    too_big = udp(HOME_ADDRESS, CN_ADDRESS, bytes(room - 47))
    out = mn.send(now, too_big.to_bytes())
    assert ipv6_out(out) == [] and mn.counters["drop.esp.tunnel.out.too_big"] == 1
    (ptb,) = [parse(d) for d in out.deliveries]
    assert isinstance(ptb.payload, PacketTooBig) and ptb.payload.mtu == room and ptb.dst == HOME_ADDRESS


def test_return_routability_home_test_travels_in_esp_tunnel_mode(tmp_path):
    """RFC 6275 §11.6.3 (SHOULD) with RFC 3776: when the home address's reverse tunnel is protected, the
    Home Test Init and the Home Test go through it under ESP like any tunnelled packet: the foreign
    link carries no tunnelled Mobility Header in clear, and return routability still completes."""
    sim = Simulator(5, str(tmp_path))
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    mn_sas, ha_sas = manual_pair(HOME_ADDRESS, HA_ADDRESS, sim.rng_for("tunnel keys"), mode=Mode.TUNNEL,
                                 capture=world.capture_keys)
    for sa in mn_sas:
        world.mn_spd.add(sa)
    for sa in ha_sas:
        world.ha_spd.add(sa)
    world.mn = MobileNode("mn", [Interface("eth0", MN_MAC)], rng=sim.rng_for("mn"),
                          config=MobileNodeConfig("eth0", (HomeAddressConfig(HOME_ADDRESS, HA_ADDRESS),),
                                                  lifetime=600,
                                                  route_optimization=RouteOptimizationConfig(default=1)),
                          spd=world.mn_spd)
    ping = PingApp(HOME_ADDRESS, start_ns=10 * S, interval_ns=S // 2, count=20)
    world.cn.attach(ping)
    with sim:
        world.start(world.foreign[0])
        sim.run(25 * S)
    assert world.events("mn", RouteOptimisationStarted), "return routability did not complete"
    assert world.mn.counters["mn.rr.hoti_sent"] >= 1 and world.cn.counters["rr.hot_sent"] >= 1
    _, records = read_pcap(str(tmp_path / "fa.pcap"))
    clear_mh_in_tunnel = 0
    for record in records:
        _, _, ethertype, payload = parse_ethernet(record.data)
        if ethertype != 0x86DD or payload[6] != 41:
            continue
        if payload[40 + 6] == 135:                       # IPv6-in-IPv6 whose inner packet is a bare MH
            clear_mh_in_tunnel += 1
    assert clear_mh_in_tunnel == 0
    assert world.ha.counters["esp.tunnel.accepted"] >= 1 and world.mn.counters["esp.tunnel.accepted"] >= 1
