"""Neighbour discovery, DAD and SLAAC (RFC 4861, RFC 4862) on the sans-I/O roles, with hand-built
frames. Times are integer ns; ``S`` is one second."""
import random
from ipaddress import IPv6Address, IPv6Network

import pytest

from mip6fast.batch import PacketBatch
from mip6fast.roles import (
    AddressDuplicate,
    AddressReady,
    AddressState,
    AdvertisingConfig,
    Host,
    Interface,
    NeighborState,
    NeighborUnreachable,
    Output,
    PrefixAdded,
    PrefixRemoved,
    Router,
    RouterOverdue,
    RouterReachable,
    RouterUnreachable,
    TimerHeap,
    Transmit,
    link_local_address,
    slaac_address,
)
from mip6fast.roles.neighbor import _reserved_interface_id
from mip6fast.wire import (
    ALL_NODES,
    ALL_ROUTERS,
    AdvertisementInterval,
    DestinationUnreachable,
    EchoReply,
    EchoRequest,
    HomeAgentInformation,
    MTUOption,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PrefixInformation,
    Raw,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    TimeExceeded,
    parse,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000099")
ROUTER_MAC = bytes.fromhex("0200000000aa")
PEER_LL = link_local_address(PEER_MAC)
ROUTER_LL = link_local_address(ROUTER_MAC)
GLOBAL = IPv6Address("2001:db8:1::1")


def frame_to(dst_mac, packet, src_mac=PEER_MAC):
    return ethernet_frame(dst_mac, src_mac, packet.to_bytes())


def multicast_frame(packet, src_mac=PEER_MAC):
    return frame_to(ipv6_multicast_mac(packet.dst.packed), packet, src_mac)


def sent(out):
    """(destination MAC, parsed packet) of every transmit."""
    return [(t.frame[:6], parse(t.frame[14:])) for t in out.transmits]


def of_type(out, cls):
    return [p for _, p in sent(out) if isinstance(p.payload, cls)]


def ready_host(globals_=(GLOBAL,)):
    """A host whose link-local (and given global) addresses passed DAD, at t = 1 s."""
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    for g in globals_:
        host.interfaces["eth0"].add_address(g, 64)
    host.link_changed(0, "eth0", True)
    out = host.tick(S)
    assert {n.address for n in out.notifications if isinstance(n, AddressReady)} >= set(globals_)
    return host


def run_until(node, until):
    """Tick through every deadline up to ``until``; all outputs merged."""
    total = Output()
    while True:
        deadline = node.timers.next_deadline
        if deadline is None or deadline > until:
            return total
        total.merge(node.tick(deadline))


# ---------------------------------------------------------------- node basics

def test_link_local_from_modified_eui64():
    # RFC 4291 Appendix A: 00:11:22:33:44:55 -> interface id 0211:22ff:fe33:4455 (u/l bit inverted).
    assert link_local_address(bytes.fromhex("001122334455")) == IPv6Address("fe80::211:22ff:fe33:4455")
    assert slaac_address("2001:db8::/64", bytes.fromhex("001122334455")) == \
        IPv6Address("2001:db8::211:22ff:fe33:4455")
    with pytest.raises(ValueError):
        slaac_address("2001:db8::/48", MAC)


def test_timer_heap_orders_by_deadline_then_sequence():
    heap, fired = TimerHeap(), []
    heap.call_at(5, lambda t: fired.append("b"))
    heap.call_at(3, lambda t: fired.append("a"))
    heap.call_at(5, lambda t: fired.append("c"))
    heap.call_at(4, lambda t: fired.append("x")).cancel()
    assert heap.next_deadline == 3 and len(heap) == 3
    while (timer := heap.pop_due(10)) is not None:
        timer.callback(10)
    assert fired == ["a", "b", "c"] and heap.next_deadline is None


def test_output_merge_keeps_order_and_earliest_deadline():
    a = Output([Transmit("e", b"1")], [b"p"], [], 10)
    b = Output([Transmit("e", b"2")], [], [], 5)
    assert a.merge(b) is a
    assert [t.frame for t in a.transmits] == [b"1", b"2"] and a.next_deadline == 5
    assert Output().merge(Output()).next_deadline is None


@pytest.mark.parametrize("frame, reason", [
    (b"\x01\x02", "drop.ethernet_truncated"),
    (ethernet_frame(MAC, PEER_MAC, b"x" * 40, ethertype=0x0800), "drop.ethertype"),
    (ethernet_frame(bytes.fromhex("020000000042"), PEER_MAC, b"\x60" + bytes(39)), "drop.mac_filter"),
    (ethernet_frame(MAC, PEER_MAC, b"\x60" + bytes(10)), "drop.parse.ipv6_header"),
])
def test_bad_frames_are_counted_drops(frame, reason):
    host = ready_host()
    out = host.receive(2 * S, "eth0", frame)
    assert out.transmits == [] and out.deliveries == []
    assert {k: v for k, v in host.counters.items() if k.startswith("drop.")} == {reason: 1}


def test_bad_checksum_is_a_counted_drop():
    host = ready_host()
    data = bytearray(Packet(src=PEER_LL, dst=GLOBAL, payload=EchoRequest(1, 1)).to_bytes())
    data[-1] ^= 0xFF
    out = host.receive(2 * S, "eth0", ethernet_frame(MAC, PEER_MAC, bytes(data)))
    assert out.transmits == [] and host.counters["drop.parse.checksum"] == 1


def test_not_for_us_and_unknown_interface():
    host = ready_host()
    pkt = Packet(src="2001:db8:9::9", dst="2001:db8:1::77", payload=Raw(17, b"12345678"))
    host.receive(2 * S, "eth0", frame_to(MAC, pkt))
    host.receive(2 * S, "eth9", frame_to(MAC, pkt))
    assert host.counters["drop.not_for_us"] == 1 and host.counters["drop.unknown_interface"] == 1


def test_delivery_and_echo_and_batch():
    host = ready_host()
    udp = Packet(src="2001:db8:9::9", dst=GLOBAL, payload=Raw(17, b"12345678"))
    ping = Packet(src=PEER_LL, dst=host.interfaces["eth0"].link_local, payload=EchoRequest(7, 3, b"hi"),
                  hop_limit=64)
    # The peer is resolved first so the echo reply goes straight out.
    ns = Packet(src=PEER_LL, dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
    host.receive(2 * S, "eth0", multicast_frame(ns))
    batch = PacketBatch.from_packets([frame_to(MAC, udp), frame_to(MAC, ping)])
    out = host.receive_batch(2 * S, "eth0", batch)
    assert out.deliveries == [udp.to_bytes()]
    (dst_mac, reply), = sent(out)
    assert dst_mac == PEER_MAC and reply.payload == EchoReply(7, 3, b"hi") and reply.dst == PEER_LL


# ---------------------------------------------------------------- DAD (RFC 4862 §5.4)

def test_dad_sends_ns_from_unspecified_then_address_ready():
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    host.interfaces["eth0"].add_address(GLOBAL, 64)
    out = host.link_changed(0, "eth0", True)
    dad = of_type(out, NeighborSolicitation)
    assert {p.payload.target for p in dad} == {GLOBAL, host.interfaces["eth0"].link_local}
    for p in dad:
        assert p.src == IPv6Address("::") and p.dst == solicited_node_multicast(p.payload.target)
        assert p.hop_limit == 255 and p.payload.options == ()
    assert host.interfaces["eth0"].addresses[GLOBAL].state is AddressState.TENTATIVE
    assert out.next_deadline is not None and out.next_deadline <= S
    out = host.tick(S)
    assert AddressReady(S, "eth0", GLOBAL) in out.notifications
    assert host.interfaces["eth0"].addresses[GLOBAL].state is AddressState.PREFERRED


@pytest.mark.parametrize("conflict", ["na", "dad_ns"])
def test_dad_conflict_marks_duplicate(conflict):
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    host.interfaces["eth0"].add_address(GLOBAL, 64)
    host.link_changed(0, "eth0", True)
    if conflict == "na":
        pkt = Packet(src="2001:db8:1::99", dst=ALL_NODES, hop_limit=255,
                     payload=NeighborAdvertisement(GLOBAL, override=True,
                                                   options=(TargetLinkLayerAddress(PEER_MAC),)))
    else:
        pkt = Packet(src="::", dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                     payload=NeighborSolicitation(GLOBAL))
    out = host.receive(S // 2, "eth0", multicast_frame(pkt))
    assert out.notifications == [AddressDuplicate(S // 2, "eth0", GLOBAL)]
    out = host.tick(S)
    assert AddressReady(S, "eth0", GLOBAL) not in out.notifications
    assert host.interfaces["eth0"].addresses[GLOBAL].state is AddressState.DUPLICATE
    assert host.source_address("2001:db8:1::5") is None


def test_tentative_address_does_not_answer_ns_nor_receive():
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    host.interfaces["eth0"].add_address(GLOBAL, 64)
    host.link_changed(0, "eth0", True)
    ns = Packet(src=PEER_LL, dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
    assert host.receive(10, "eth0", multicast_frame(ns)).transmits == []
    udp = Packet(src="2001:db8:9::9", dst=GLOBAL, payload=Raw(17, b"12345678"))
    assert host.receive(10, "eth0", frame_to(MAC, udp)).deliveries == []
    assert host.counters["drop.tentative_destination"] == 1


# ---------------------------------------------------------------- answering NS (RFC 4861 §7.2.4)

def test_ns_for_own_address_is_answered_and_learnt():
    host = ready_host()
    ns = Packet(src=PEER_LL, dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
    out = host.receive(2 * S, "eth0", multicast_frame(ns))
    (dst_mac, na), = sent(out)
    assert dst_mac == PEER_MAC and na.src == GLOBAL and na.dst == PEER_LL and na.hop_limit == 255
    assert na.payload == NeighborAdvertisement(GLOBAL, router=False, solicited=True, override=True,
                                               options=(TargetLinkLayerAddress(MAC),))
    entry = host.nd["eth0"].neighbors[PEER_LL]
    assert entry.state is NeighborState.STALE and entry.mac == PEER_MAC


def test_ns_with_wrong_hop_limit_or_for_someone_else_is_dropped():
    host = ready_host()
    bad = Packet(src=PEER_LL, dst=solicited_node_multicast(GLOBAL), hop_limit=64,
                 payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
    other = IPv6Address("2001:db8:1::2")
    foreign = Packet(src=PEER_LL, dst=ALL_NODES, hop_limit=255, payload=NeighborSolicitation(other))
    assert host.receive(2 * S, "eth0", multicast_frame(bad)).transmits == []
    assert host.receive(2 * S, "eth0", multicast_frame(foreign)).transmits == []
    assert host.counters["nd.drop.hop_limit"] == 1 and host.counters["nd.drop.ns_not_for_us"] == 1


def test_proxy_answers_with_r0_s1_o0_and_defends_against_dad():
    router = Router("r", [Interface("eth0", MAC)], rng=random.Random(1))
    router.link_changed(0, "eth0", True)
    router.tick(S)
    home = IPv6Address("2001:db8:1::77")
    router.nd["eth0"].add_proxy(home)
    ns = Packet(src=PEER_LL, dst=solicited_node_multicast(home), hop_limit=255,
                payload=NeighborSolicitation(home, options=(SourceLinkLayerAddress(PEER_MAC),)))
    (dst_mac, na), = sent(router.receive(2 * S, "eth0", multicast_frame(ns)))
    assert dst_mac == PEER_MAC and na.dst == PEER_LL
    assert na.payload == NeighborAdvertisement(home, router=False, solicited=True, override=False,
                                               options=(TargetLinkLayerAddress(MAC),))
    dad = Packet(src="::", dst=solicited_node_multicast(home), hop_limit=255, payload=NeighborSolicitation(home))
    (dst_mac, na), = sent(router.receive(2 * S, "eth0", multicast_frame(dad)))
    assert na.dst == ALL_NODES and not na.payload.solicited and not na.payload.override
    router.nd["eth0"].remove_proxy(home)
    assert router.receive(2 * S, "eth0", multicast_frame(ns)).transmits == []
    assert router.counters["drop.mac_filter"] == 1       # the solicited-node group was left


# ---------------------------------------------------------------- resolution (RFC 4861 §7.2.2)

def _udp_to(dst, n=0):
    return Packet(src=GLOBAL, dst=dst, payload=Raw(17, bytes([n]) * 8)).to_bytes()


def test_resolution_queues_then_flushes_on_solicited_na():
    host = ready_host()
    peer = IPv6Address("2001:db8:1::99")
    out = host.send(2 * S, _udp_to(peer, 0))
    (dst_mac, ns), = sent(out)
    assert dst_mac == ipv6_multicast_mac(solicited_node_multicast(peer).packed)
    assert ns.src == GLOBAL and ns.dst == solicited_node_multicast(peer) and ns.payload.target == peer
    assert ns.payload.options == (SourceLinkLayerAddress(MAC),)
    for n in range(1, 4):                  # queue bound 3: the oldest (n=0) is replaced
        assert host.send(2 * S, _udp_to(peer, n)).transmits == []
    assert host.counters["nd.queue_overflow"] == 1
    na = Packet(src=peer, dst=GLOBAL, hop_limit=255,
                payload=NeighborAdvertisement(peer, solicited=True, override=True,
                                              options=(TargetLinkLayerAddress(PEER_MAC),)))
    out = host.receive(2 * S + 1000, "eth0", frame_to(MAC, na))
    assert [t.frame for t in out.transmits] == [ethernet_frame(PEER_MAC, MAC, _udp_to(peer, n)) for n in (1, 2, 3)]
    assert host.nd["eth0"].neighbors[peer].state is NeighborState.REACHABLE


def test_resolution_gives_up_after_max_multicast_solicit():
    host = ready_host()
    peer = IPv6Address("2001:db8:1::99")
    out = host.send(2 * S, _udp_to(peer))
    out.merge(run_until(host, 10 * S))
    assert len(of_type(out, NeighborSolicitation)) == 3     # MAX_MULTICAST_SOLICIT, 1 s apart
    assert NeighborUnreachable(5 * S, "eth0", peer) in out.notifications
    assert host.counters["nd.resolution_failed_dropped"] == 1 and peer not in host.nd["eth0"].neighbors


def test_router_sends_address_unreachable_for_forwarded_packet():
    router = Router("r", [Interface("eth0", MAC), Interface("eth1", ROUTER_MAC)], rng=random.Random(1))
    router.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    router.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for i in ("eth0", "eth1"):
        router.link_changed(0, i, True)
    router.tick(S)
    src = IPv6Address("2001:db8:2::5")
    ns = Packet(src=src, dst=solicited_node_multicast("2001:db8:2::1"), hop_limit=255,
                payload=NeighborSolicitation("2001:db8:2::1", options=(SourceLinkLayerAddress(PEER_MAC),)))
    router.receive(S, "eth1", multicast_frame(ns))
    pkt = Packet(src=src, dst="2001:db8:1::99", payload=Raw(17, bytes(8)))
    out = router.receive(2 * S, "eth1", frame_to(ROUTER_MAC, pkt))
    out.merge(run_until(router, 10 * S))
    unreachable = of_type(out, DestinationUnreachable)
    assert len(unreachable) == 1 and unreachable[0].payload.code == 3 and unreachable[0].dst == src


# ---------------------------------------------------------------- NUD (RFC 4861 §7.3)

def _reachable_peer(host, now):
    peer = IPv6Address("2001:db8:1::99")
    host.send(now, _udp_to(peer))
    na = Packet(src=peer, dst=GLOBAL, hop_limit=255,
                payload=NeighborAdvertisement(peer, solicited=True, override=True,
                                              options=(TargetLinkLayerAddress(PEER_MAC),)))
    host.receive(now, "eth0", frame_to(MAC, na))
    return peer


def test_nud_stale_delay_probe_unreachable():
    host = ready_host()
    peer = _reachable_peer(host, 2 * S)
    nd = host.nd["eth0"]
    later = 2 * S + nd.reachable_time + 1
    out = host.send(later, _udp_to(peer))
    assert len(out.transmits) == 1 and nd.neighbors[peer].state is NeighborState.DELAY
    out = run_until(host, later + 5 * S)               # DELAY_FIRST_PROBE_TIME
    (dst_mac, probe), = [(m, p) for m, p in sent(out) if isinstance(p.payload, NeighborSolicitation)]
    assert dst_mac == PEER_MAC and probe.dst == peer and probe.payload.target == peer   # unicast probe
    assert nd.neighbors[peer].state is NeighborState.PROBE
    out = run_until(host, later + 20 * S)
    assert len(of_type(out, NeighborSolicitation)) == 2  # MAX_UNICAST_SOLICIT = 3 in all
    assert any(isinstance(n, NeighborUnreachable) for n in out.notifications)
    assert peer not in nd.neighbors


def test_nud_probe_answered_goes_reachable():
    host = ready_host()
    peer = _reachable_peer(host, 2 * S)
    nd = host.nd["eth0"]
    later = 2 * S + nd.reachable_time + 1
    host.send(later, _udp_to(peer))
    run_until(host, later + 5 * S)
    na = Packet(src=peer, dst=GLOBAL, hop_limit=255, payload=NeighborAdvertisement(peer, solicited=True))
    host.receive(later + 5 * S + 10, "eth0", frame_to(MAC, na))
    assert nd.neighbors[peer].state is NeighborState.REACHABLE
    assert not any(isinstance(n, NeighborUnreachable) for n in run_until(host, later + 20 * S).notifications)


def test_na_without_override_keeps_cached_address():
    host = ready_host()
    peer = _reachable_peer(host, 2 * S)
    na = Packet(src=peer, dst=GLOBAL, hop_limit=255,
                payload=NeighborAdvertisement(peer, solicited=False, override=False,
                                              options=(TargetLinkLayerAddress(ROUTER_MAC),)))
    host.receive(3 * S, "eth0", frame_to(MAC, na))
    entry = host.nd["eth0"].neighbors[peer]
    assert entry.mac == PEER_MAC and entry.state is NeighborState.STALE


# ---------------------------------------------------------------- RAs and SLAAC

def _ra(**kw):
    options = kw.pop("options", (SourceLinkLayerAddress(ROUTER_MAC), PrefixInformation("2001:db8:5::", 64)))
    return Packet(src=kw.pop("src", ROUTER_LL), dst=ALL_NODES, hop_limit=kw.pop("hop_limit", 255),
                  payload=RouterAdvertisement(options=options, **kw))


def test_router_solicitations_on_link_up():
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    out = host.link_changed(0, "eth0", True)
    out.merge(run_until(host, 20 * S))
    rs = of_type(out, RouterSolicitation)
    assert len(rs) == 3                                # MAX_RTR_SOLICITATIONS
    assert all(p.dst == ALL_ROUTERS and p.hop_limit == 255 for p in rs)
    assert rs[0].src == host.interfaces["eth0"].link_local   # sent once the link-local passed DAD
    assert rs[0].payload.options == (SourceLinkLayerAddress(MAC),)


def test_ra_stops_solicitations():
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    host.link_changed(0, "eth0", True)
    run_until(host, 2 * S)
    host.receive(2 * S, "eth0", multicast_frame(_ra(), ROUTER_MAC))
    assert of_type(run_until(host, 20 * S), RouterSolicitation) == []


def test_ra_fills_router_and_prefix_lists_and_slaac():
    host = ready_host(())
    out = host.receive(2 * S, "eth0", multicast_frame(_ra(router_lifetime=600), ROUTER_MAC))
    net = IPv6Network("2001:db8:5::/64")
    assert RouterReachable(2 * S, "eth0", ROUTER_LL) in out.notifications
    assert PrefixAdded(2 * S, "eth0", net) in out.notifications
    nd = host.nd["eth0"]
    assert nd.default_router() == ROUTER_LL and nd.prefixes == [net]
    assert nd.neighbors[ROUTER_LL].mac == ROUTER_MAC and nd.neighbors[ROUTER_LL].is_router
    addr = slaac_address(net, MAC)
    dad = of_type(out, NeighborSolicitation)
    assert [p.payload.target for p in dad] == [addr] and dad[0].src == IPv6Address("::")
    out = host.tick(3 * S)
    assert AddressReady(3 * S, "eth0", addr) in out.notifications
    assert host.source_address("2001:db8:77::1") == addr
    route = host.lookup(IPv6Address("2001:db8:77::1"))
    assert route.next_hop == ROUTER_LL and host.lookup(IPv6Address("2001:db8:5::8")).next_hop is None
    # The router's lifetime runs out: it leaves the list.
    out = run_until(host, 2 * S + 600 * S)
    assert RouterUnreachable(602 * S, "eth0", ROUTER_LL, "lifetime_expired") in out.notifications
    assert nd.default_router() is None


def test_ra_lifetime_zero_and_prefix_valid_zero_remove():
    host = ready_host(())
    host.receive(2 * S, "eth0", multicast_frame(_ra(), ROUTER_MAC))
    withdraw = _ra(router_lifetime=0, options=(PrefixInformation("2001:db8:5::", 64, valid_lifetime=0,
                                                                 preferred_lifetime=0),))
    out = host.receive(3 * S, "eth0", multicast_frame(withdraw, ROUTER_MAC))
    assert RouterUnreachable(3 * S, "eth0", ROUTER_LL, "lifetime_zero") in out.notifications
    assert PrefixRemoved(3 * S, "eth0", IPv6Network("2001:db8:5::/64")) in out.notifications


def test_slaac_address_lifetimes_deprecate_and_expire():
    host = ready_host(())
    pio = PrefixInformation("2001:db8:5::", 64, valid_lifetime=20, preferred_lifetime=10)
    host.receive(2 * S, "eth0", multicast_frame(_ra(options=(pio,)), ROUTER_MAC))
    addr = slaac_address("2001:db8:5::/64", MAC)
    run_until(host, 3 * S)
    entry = host.interfaces["eth0"].addresses[addr]
    assert entry.state is AddressState.PREFERRED
    run_until(host, 12 * S)
    assert entry.state is AddressState.DEPRECATED
    out = run_until(host, 23 * S)
    assert addr not in host.interfaces["eth0"].addresses
    assert any(type(n).__name__ == "AddressRemoved" for n in out.notifications)


def test_slaac_two_hour_rule():
    host = ready_host(())
    long = PrefixInformation("2001:db8:5::", 64, valid_lifetime=86400, preferred_lifetime=3600)
    host.receive(2 * S, "eth0", multicast_frame(_ra(options=(long,)), ROUTER_MAC))
    addr = slaac_address("2001:db8:5::/64", MAC)
    short = PrefixInformation("2001:db8:5::", 64, valid_lifetime=60, preferred_lifetime=30)
    host.receive(3 * S, "eth0", multicast_frame(_ra(options=(short,)), ROUTER_MAC))
    entry = host.interfaces["eth0"].addresses[addr]
    assert entry.valid_until == 3 * S + 2 * 3600 * S       # RFC 4862 §5.5.3 (e): not below two hours


def test_ra_invalid_and_non_64_prefix_ignored():
    host = ready_host(())
    host.receive(2 * S, "eth0", multicast_frame(_ra(src="2001:db8:5::1"), ROUTER_MAC))
    host.receive(2 * S, "eth0", multicast_frame(_ra(hop_limit=64), ROUTER_MAC))
    assert host.nd["eth0"].routers == {}
    odd = _ra(options=(PrefixInformation("2001:db8:5::", 48),))
    host.receive(2 * S, "eth0", multicast_frame(odd, ROUTER_MAC))
    assert host.counters["nd.drop.pio_length_not_64"] == 1
    assert host.counters["nd.drop.ra_source_not_link_local"] == 1 and host.counters["nd.drop.hop_limit"] == 1


def test_ra_mobile_ipv6_options_mtu_and_overdue():
    host = ready_host(())
    ra = _ra(home_agent=True, router_lifetime=1000, options=(
        SourceLinkLayerAddress(ROUTER_MAC), MTUOption(1400), AdvertisementInterval(3000),
        HomeAgentInformation(preference=5, lifetime=500),
        PrefixInformation("2001:db8:5::1", 64, router_address=True)))
    host.receive(2 * S, "eth0", multicast_frame(ra, ROUTER_MAC))
    entry = host.nd["eth0"].routers[ROUTER_LL]
    assert entry.global_addresses == {IPv6Address("2001:db8:5::1")}
    assert entry.home_agent and entry.home_agent_preference == 5 and entry.home_agent_lifetime == 500
    assert entry.advertisement_interval_ms == 3000 and host.interfaces["eth0"].mtu == 1400
    host.receive(4 * S, "eth0", multicast_frame(ra, ROUTER_MAC))     # re-arms the overdue timer
    out = run_until(host, 8 * S)
    assert [n for n in out.notifications if isinstance(n, RouterOverdue)] == [
        RouterOverdue(7 * S, "eth0", ROUTER_LL)]


def test_link_down_then_up_redoes_dad_and_solicits():
    host = ready_host()
    host.link_changed(2 * S, "eth0", False)
    assert host.send(2 * S, _udp_to(IPv6Address("2001:db8:1::99"))).transmits == []
    out = host.link_changed(3 * S, "eth0", True)
    assert {p.payload.target for p in of_type(out, NeighborSolicitation)} >= {GLOBAL}
    assert host.interfaces["eth0"].addresses[GLOBAL].state is AddressState.TENTATIVE


# ---------------------------------------------------------------- router

def _router(**cfg):
    router = Router("r", [Interface("eth0", ROUTER_MAC), Interface("eth1", PEER_MAC)], rng=random.Random(4))
    router.interfaces["eth0"].add_address("2001:db8:1::1", 64)
    router.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    router.advertise("eth0", AdvertisingConfig(prefixes=[PrefixInformation("2001:db8:1::1", 64,
                                                                           router_address=True)], **cfg))
    out = Output()
    for i in ("eth0", "eth1"):
        out.merge(router.link_changed(0, i, True))
    return router, out


def test_router_unsolicited_ras_are_jittered_and_carry_options():
    router, out = _router(max_interval=10 * S, min_interval=5 * S, advertisement_interval_option=True,
                          home_agent=HomeAgentInformation(preference=3, lifetime=100))
    out.merge(run_until(router, 60 * S))
    ras = [(p, t) for (_, p), t in zip(sent(out), out.transmits) if isinstance(p.payload, RouterAdvertisement)]
    assert len(ras) >= 5 and all(t.interface == "eth0" for _, t in ras)
    ra = ras[0][0]
    assert ra.src == link_local_address(ROUTER_MAC) and ra.dst == ALL_NODES and ra.hop_limit == 255
    assert ra.payload.home_agent
    opts = ra.payload.options
    assert SourceLinkLayerAddress(ROUTER_MAC) in opts and AdvertisementInterval(10000) in opts
    assert HomeAgentInformation(3, 100) in opts
    assert PrefixInformation("2001:db8:1::1", 64, router_address=True) in opts


def test_router_answers_rs_with_delay():
    router, _ = _router(max_interval=600 * S)
    run_until(router, 30 * S)     # the first RA goes out after DAD; the next is minutes away
    rs = Packet(src=PEER_LL, dst=ALL_ROUTERS, hop_limit=255,
                payload=RouterSolicitation(options=(SourceLinkLayerAddress(bytes.fromhex("02000000bbbb")),)))
    assert router.receive(30 * S, "eth0", multicast_frame(rs, bytes.fromhex("02000000bbbb"))).transmits == []
    out = run_until(router, 31 * S)
    ras = of_type(out, RouterAdvertisement)
    assert len(ras) == 1 and ras[0].dst == ALL_NODES


def test_router_forwards_and_decrements_hop_limit():
    router, _ = _router()
    run_until(router, 2 * S)
    dst = IPv6Address("2001:db8:2::5")
    na = Packet(src=dst, dst="2001:db8:2::1", hop_limit=255,
                payload=NeighborAdvertisement(dst, solicited=True, options=(TargetLinkLayerAddress(MAC),)))
    pkt = Packet(src="2001:db8:1::9", dst=dst, hop_limit=10, payload=Raw(17, bytes(8)))
    router.receive(2 * S, "eth0", frame_to(ROUTER_MAC, pkt, MAC))
    out = router.receive(2 * S, "eth1", frame_to(PEER_MAC, na, MAC))
    (mac, fwd), = sent(out)
    assert mac == MAC and fwd.hop_limit == 9 and fwd.dst == dst and router.counters["forwarded"] == 1


def test_router_time_exceeded():
    router, _ = _router()
    run_until(router, 2 * S)
    src = IPv6Address("2001:db8:1::9")
    na = Packet(src=src, dst="2001:db8:1::1", hop_limit=255,
                payload=NeighborAdvertisement(src, options=(TargetLinkLayerAddress(MAC),)))
    router.receive(2 * S, "eth0", frame_to(ROUTER_MAC, na, MAC))   # unsolicited: ignored, no entry
    pkt = Packet(src=src, dst="2001:db8:2::5", hop_limit=1, payload=Raw(17, bytes(8)))
    out = router.receive(2 * S, "eth0", frame_to(ROUTER_MAC, pkt, MAC))
    out.merge(router.receive(2 * S, "eth0", frame_to(ROUTER_MAC, Packet(
        src=src, dst="2001:db8:1::1", hop_limit=255, payload=NeighborAdvertisement(
            src, solicited=True, options=(TargetLinkLayerAddress(MAC),))), MAC)))
    errors = [p for _, p in sent(out) if isinstance(p.payload, TimeExceeded)]
    assert len(errors) == 1 and errors[0].dst == src and errors[0].payload.invoking == pkt.to_bytes()
    assert router.counters["drop.hop_limit_exceeded"] == 1


def test_router_answers_link_local_echo_on_the_interface_it_came_in_by():
    router, _ = _router()
    run_until(router, 2 * S)
    ll1 = router.interfaces["eth1"].link_local
    host_ll = link_local_address(MAC)
    ns = Packet(src=host_ll, dst=solicited_node_multicast(ll1), hop_limit=255,
                payload=NeighborSolicitation(ll1, options=(SourceLinkLayerAddress(MAC),)))
    router.receive(2 * S, "eth1", multicast_frame(ns, MAC))
    ping = Packet(src=host_ll, dst=ll1, payload=EchoRequest(1, 2))
    out = router.receive(2 * S, "eth1", frame_to(PEER_MAC, ping, MAC))
    assert [t.interface for t in out.transmits] == ["eth1"]
    assert parse(out.transmits[0].frame[14:]).payload == EchoReply(1, 2)


def test_reentrant_send_from_an_application_lands_in_the_outer_output():
    host = ready_host()
    peer = IPv6Address("2001:db8:1::99")

    class Echoer:
        def attached(self, h):
            pass

        def deliver(self, h, now, raw, packet):
            inner = h.send(now, _udp_to(peer, 9))
            assert inner.transmits == []           # it went into the outer call's output

    host.attach(Echoer())
    udp = Packet(src="2001:db8:9::9", dst=GLOBAL, payload=Raw(17, b"12345678"))
    out = host.receive(2 * S, "eth0", frame_to(MAC, udp))
    assert out.deliveries == [udp.to_bytes()]
    assert [p.payload.target for p in of_type(out, NeighborSolicitation)] == [peer]


def test_ethernet_padding_after_the_ipv6_packet_is_ignored():
    host = ready_host()
    udp = Packet(src="2001:db8:9::9", dst=GLOBAL, payload=Raw(17, b"12345678"))
    out = host.receive(2 * S, "eth0", frame_to(MAC, udp) + bytes(20))
    assert out.deliveries == [udp.to_bytes()]


def test_neighbor_cache_is_bounded():
    from mip6fast.roles.neighbor import NEIGHBOR_CACHE_LIMIT
    host = ready_host()
    for i in range(NEIGHBOR_CACHE_LIMIT + 10):
        src = IPv6Address(int(IPv6Address("2001:db8:1::1:0")) + i)
        ns = Packet(src=src, dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                    payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
        host.receive(2 * S, "eth0", multicast_frame(ns))
    assert len(host.nd["eth0"].neighbors) == NEIGHBOR_CACHE_LIMIT
    assert host.counters["nd.cache_evicted"] == 10


def test_a_full_cache_of_reachable_entries_makes_room_once_their_reachable_time_is_over():
    """A router that reached the limit with REACHABLE entries (their state turns STALE only on the next
    send, RFC 4861 §7.3.3) still takes new neighbours once the ReachableTime has passed."""
    from mip6fast.roles.neighbor import NEIGHBOR_CACHE_LIMIT, NeighborState
    host = ready_host()
    nd = host.nd["eth0"]
    for i in range(NEIGHBOR_CACHE_LIMIT):
        src = IPv6Address(int(IPv6Address("2001:db8:1::1:0")) + i)
        ns = Packet(src=src, dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                    payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
        host.receive(2 * S, "eth0", multicast_frame(ns))
    for entry in nd.neighbors.values():
        nd._set_state(2 * S, entry, NeighborState.REACHABLE)      # as if each had been confirmed
    newcomer = Packet(src="2001:db8:1::ffff:1", dst=solicited_node_multicast(GLOBAL), hop_limit=255,
                      payload=NeighborSolicitation(GLOBAL, options=(SourceLinkLayerAddress(PEER_MAC),)))
    host.receive(3 * S, "eth0", multicast_frame(newcomer))
    assert IPv6Address("2001:db8:1::ffff:1") not in nd.neighbors       # all still reachable: no room
    assert host.counters["nd.drop.cache_full"] == 1
    host.receive(2 * S + nd.reachable_time + 1, "eth0", multicast_frame(newcomer))
    assert IPv6Address("2001:db8:1::ffff:1") in nd.neighbors
    assert len(nd.neighbors) == NEIGHBOR_CACHE_LIMIT


def test_random_interface_identifiers_avoid_the_reserved_ones():
    # RFC 5453: 0, the RFC 2526 subnet anycast identifiers, the IANA Ethernet block (incl. PMIPv6's).
    for iid in (0, 0xFDFF_FFFF_FFFF_FF80, 0xFDFF_FFFF_FFFF_FFFF, 0x0200_5EFF_FE00_0000, 0x0200_5EFF_FE00_5213,
                0x0200_5EFF_FEFF_FFFF):
        assert _reserved_interface_id(iid, 64)
    for iid in (1, 0xFDFF_FFFF_FFFF_FF7F, 0x0200_5EFF_FF00_0000, 0x0211_22FF_FE33_4455):
        assert not _reserved_interface_id(iid, 64)
    assert _reserved_interface_id((1 << 32) - 1, 32) and not _reserved_interface_id((1 << 32) - 129, 32)
