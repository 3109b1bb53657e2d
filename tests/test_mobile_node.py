"""The mobile node (RFC 6275 §11), sans-I/O, with hand-built frames: movement detection, the home
Binding Update on the wire, retransmission and rate limit, every Binding Acknowledgement path, the
Binding Refresh Request, the batched reverse tunnel / decapsulation, and returning home.
Times are integer ns; ``S`` is one second."""
import random
from ipaddress import IPv6Address

import pytest
from helpers.mobile_node import (
    A_MAC,
    B_MAC,
    C_MAC,
    CN,
    COA_A,
    COA_B,
    HA,
    HA_MAC,
    HOA,
    HOME_MAC,
    HOME_PREFIX,
    MN_MAC,
    MS,
    PREFIX_A,
    PREFIX_B,
    PREFIX_C,
    T_BU,
    S,
    attach_foreign,
    ba,
    bus,
    frame,
    go_home,
    ll,
    make_mn,
    move_to_b,
    notes,
    packets,
    ra,
    registered_mn,
    tick_answering,
    udp_datagram_packet,
)

from mip6fast.apps import udp_datagram
from mip6fast.batch import PacketBatch
from mip6fast.roles import Interface, RouterUnreachable, slaac_address
from mip6fast.roles.counters import strict
from mip6fast.roles.mobile_node import (
    BUL_REGISTERED,
    HOLD_MAX,
    HOLD_TIMEOUT,
    BindingRefreshed,
    Deregistered,
    HomeAddressConfig,
    Location,
    MobileNodeConfig,
    Moved,
    PrefixDiscoveryNeeded,
    Registered,
    RegistrationFailed,
    RegistrationState,
    ReturnedHome,
)
from mip6fast.wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    EchoReply,
    EchoRequest,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PrefixInformation,
    Raw,
    RouterAdvertisement,
    RouterSolicitation,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    parse,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

# ---------------------------------------------------------------- configuration

def test_config_checks():
    with pytest.raises(ValueError):
        MobileNodeConfig("eth0", ())
    with pytest.raises(ValueError):
        HomeAddressConfig("fe80::1", HA)
    with pytest.raises(ValueError):
        MobileNodeConfig("eth0", (HomeAddressConfig(HOA, HA),), lifetime=0)
    with pytest.raises(ValueError):
        make_mn().__class__("x", [Interface("eth1", MN_MAC)],
                            config=MobileNodeConfig("eth0", (HomeAddressConfig(HOA, HA),)))


# ---------------------------------------------------------------- movement and the first BU

def test_first_foreign_link_gives_moved_and_a_home_bu_with_hao_and_alternate_coa():
    mn = make_mn()
    out = attach_foreign(mn)
    assert notes(out, Moved) == [Moved(T_BU, None, COA_A)]
    assert mn.location is Location.AWAY and mn.care_of == COA_A
    (bu, raw), = bus(out)
    assert bu.src == COA_A and bu.dst == HA and bu.home_address == HOA and bu.rh2 is None
    msg = bu.payload
    assert msg.ack and msg.home and not msg.link_local and not msg.key_management
    assert msg.lifetime == 600 and msg.options == (AlternateCareOfAddress(COA_A),)
    # On the wire: destination options header (60) with PadN(2) + HAO (0xC9, length 16) right after
    # the IPv6 header, then the Mobility Header (135) with lifetime 600 / 4 = 150 units.
    assert raw[6] == 60 and raw[40] == 135 and raw[41] == 2      # 24 bytes: 8n+6 alignment of the HAO
    assert raw[42:46] == bytes([1, 2, 0, 0])
    assert raw[46:48] == bytes([0xC9, 16]) and raw[48:64] == HOA.packed
    mh = raw[64:]
    assert mh[2] == 5                                    # MH type: Binding Update
    assert int.from_bytes(mh[6:8], "big") == msg.sequence
    assert mh[8] == 0xC0                                 # A | H
    assert int.from_bytes(mh[10:12], "big") == 150
    entry = mn.binding_update_list[(HA, HOA)]
    assert entry.sequence == msg.sequence and entry.care_of_address == COA_A


def test_first_sequence_number_is_random_from_the_nodes_rng():
    seqs = []
    for seed in (1, 2, 1):
        (bu, _), = bus(attach_foreign(make_mn(seed=seed)))
        seqs.append(bu.payload.sequence)
    assert seqs[0] == seqs[2] and seqs[0] != seqs[1]


def test_lifetime_is_bounded_by_the_care_of_address_lifetime():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn, valid=100))
    # The CoA was formed at 1.1 s with 100 s valid: 99 s left at 2.1 s, 96 s in 4-second units.
    assert bu.payload.lifetime == 96


def test_lifetime_is_bounded_by_the_home_address_lifetime():
    mn = make_mn(homes=(HomeAddressConfig(HOA, HA, valid_until=50 * S + T_BU),))
    (bu, _), = bus(attach_foreign(mn))
    assert bu.payload.lifetime == 48


def test_no_bu_before_the_care_of_address_passed_dad():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    out = mn.receive(1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A))
    assert not bus(out) and not notes(out, Moved)
    out = mn.tick(2 * S)
    assert not bus(out)


# ---------------------------------------------------------------- retransmission (§11.8)

def test_first_registration_retransmits_after_1_5_s_doubling_to_32_s_with_new_sequence_numbers():
    # §11.8 lets the node go on at MAX_BINDACK_TIMEOUT indefinitely when it has no other home agent.
    mn = make_mn(fallback_to_discovery=False)
    (bu, _), = bus(attach_foreign(mn))
    seq = bu.payload.sequence
    t = T_BU
    for gap in (1.5, 3, 6, 12, 24, 32, 32, 32):
        nxt = t + int(gap * S)
        assert not bus(tick_answering(mn, nxt - 1))
        out = tick_answering(mn, nxt)
        (bu, _), = bus(out)
        seq = (seq + 1) % 65536
        assert bu.payload.sequence == seq
        assert out.next_deadline is not None
        t = nxt
    assert mn.counters["mn.bu_retransmitted"] == 8


def test_later_registrations_start_at_1_s():
    mn, _ = registered_mn()
    # A Binding Refresh Request starts a non-first registration: 1 s, then 2 s.
    brr = frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, rh2=HOA, payload=BindingRefreshRequest()))
    t = 10 * S
    (bu, _), = bus(mn.receive(t, "eth0", brr))
    assert not bus(mn.tick(t + S - 1))
    (bu2, _), = bus(mn.tick(t + S))
    assert bu2.payload.sequence == (bu.payload.sequence + 1) % 65536
    assert not bus(mn.tick(t + 3 * S - 1))
    assert bus(mn.tick(t + 3 * S))


def test_at_most_three_bus_per_second_to_one_home_agent():
    homes = tuple(HomeAddressConfig(slaac_address(HOME_PREFIX, bytes([2, 0, 0, 0, 1, i])), HA)
                  for i in range(4))
    mn = make_mn(homes=homes)
    out = attach_foreign(mn)
    assert len(bus(out)) == 3
    assert mn.counters["mn.bu_rate_limited"] == 1
    assert not bus(mn.tick(T_BU + S - 1))
    late = bus(mn.tick(T_BU + S))
    assert len(late) == 1 and late[0][0].home_address == homes[3].address


def test_rate_limit_holds_back_a_135_recovery_burst():
    mn = make_mn()
    (_bu, _), = bus(attach_foreign(mn))
    sent = 1
    t = T_BU
    for _ in range(4):
        t += 10 * MS
        sent += len(bus(mn.receive(t, "eth0", ba(135, 100))))
    assert sent == 3 and mn.counters["mn.bu_rate_limited"] >= 1
    assert bus(mn.tick(T_BU + S))


# ---------------------------------------------------------------- Binding Acknowledgements (§11.7.3)

def test_accepted_ba_registers_and_stops_retransmission():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence))
    assert notes(out, Registered) == [Registered(T_BU + 10 * MS, HOA, COA_A, 600)]
    assert not bus(mn.tick(T_BU + 100 * S))
    reg = mn.registrations[HOA]
    assert reg.state is RegistrationState.REGISTERED
    entry = mn.binding_update_list[(HA, HOA)]
    assert entry.flags & BUL_REGISTERED and entry.expires_ns == T_BU + 600 * S


def test_ba_with_another_sequence_number_is_ignored():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(0, (bu.payload.sequence + 7) % 65536))
    assert not notes(out, Registered)
    assert mn.counters["drop.mn.ba_sequence_mismatch"] == 1
    assert bus(mn.tick(T_BU + 3 * S // 2))           # still retransmitting


def test_ba_from_another_node_or_without_rh2_is_ignored():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    seq = bu.payload.sequence
    other = frame(A_MAC, MN_MAC, Packet(src="2001:db8:1::3", dst=COA_A, rh2=HOA,
                                        payload=BindingAcknowledgement(status=0, sequence=seq, lifetime=600)))
    no_rh2 = frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A,
                                         payload=BindingAcknowledgement(status=0, sequence=seq, lifetime=600)))
    for f in (other, no_rh2):
        assert not notes(mn.receive(T_BU + 10 * MS, "eth0", f), Registered)
    assert mn.counters["drop.mn.mh_unknown_peer"] == 2


def test_status_1_is_accepted_and_asks_for_prefix_discovery():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(1, bu.payload.sequence))
    assert notes(out, Registered)
    assert notes(out, PrefixDiscoveryNeeded) == [PrefixDiscoveryNeeded(T_BU + 10 * MS, HOA, HA)]


def test_status_135_resends_at_once_with_the_returned_sequence_plus_one():
    mn = make_mn()
    (_bu, _), = bus(attach_foreign(mn))
    t = T_BU + 10 * MS
    out = mn.receive(t, "eth0", ba(135, 65535))
    (bu2, _), = bus(out)
    assert bu2.payload.sequence == 0 and not notes(out, RegistrationFailed)
    out = mn.receive(t + 10 * MS, "eth0", ba(0, 0))
    assert notes(out, Registered)


@pytest.mark.parametrize("status", [128, 129, 131, 133, 174])
def test_rejection_fails_the_registration_and_blocks_traffic(status):
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    t = T_BU + 10 * MS
    out = mn.receive(t, "eth0", ba(status, bu.payload.sequence))
    assert notes(out, RegistrationFailed) == [RegistrationFailed(t, HOA, HA, status)]
    assert not bus(mn.tick(t + 100 * S))
    assert (HA, HOA) not in mn.binding_update_list
    out = mn.send(t + 101 * S, udp_datagram_packet())
    assert not out.transmits and mn.counters["drop.mn.no_home_registration"] == 1


def test_shortened_lifetime_and_refresh_advice_schedule_the_refresh():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    t = T_BU + 10 * MS
    out = mn.receive(t, "eth0", ba(0, bu.payload.sequence, lifetime=100,
                                   options=(BindingRefreshAdvice(40),)))
    assert notes(out, Registered)[0].lifetime == 100
    assert mn.binding_update_list[(HA, HOA)].expires_ns == T_BU + 100 * S
    # Refresh 10 % (at least 2 s) before the advice's 40 s run out, counted from when the BU left.
    refresh = T_BU + 36 * S
    assert not bus(mn.tick(refresh - 1))
    (bu2, _), = bus(mn.tick(refresh))
    assert bu2.src == COA_A and bu2.payload.lifetime == 600
    out = mn.receive(refresh + 10 * MS, "eth0", ba(0, bu2.payload.sequence))
    assert notes(out, BindingRefreshed) == [BindingRefreshed(refresh + 10 * MS, HOA, COA_A, 600)]
    assert not notes(out, Registered)


def test_shortened_lifetime_without_advice():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence, lifetime=20))
    assert not bus(mn.tick(T_BU + 18 * S - 1))
    assert bus(mn.tick(T_BU + 18 * S))


def test_binding_refresh_request_is_answered_with_a_bu():
    mn, first = registered_mn()
    brr = frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, rh2=HOA, payload=BindingRefreshRequest()))
    (bu, _), = bus(mn.receive(5 * S, "eth0", brr))
    assert bu.payload.sequence == (first.payload.sequence + 1) % 65536
    assert bu.home_address == HOA and bu.payload.home and bu.payload.lifetime == 600
    assert mn.counters["mn.brr_received"] == 1


# ---------------------------------------------------------------- data path (§11.3.1, §11.3.3)

def tunnelled(inner_dst=HOA, payload=b"reply", outer_src=HA):
    inner_dst = IPv6Address(inner_dst)
    inner = Packet(src=CN, dst=inner_dst, hop_limit=63,
                   payload=Raw(17, udp_datagram(CN, inner_dst, 2000, 1000, payload)))
    return frame(A_MAC, MN_MAC, Packet(src=outer_src, dst=COA_A, payload=inner)), inner.to_bytes()


def test_application_packets_from_the_home_address_are_reverse_tunnelled():
    mn, _ = registered_mn()
    app = udp_datagram_packet()
    out = mn.send(5 * S, app)
    (dst_mac, p, raw), = packets(out)
    assert dst_mac == A_MAC and p.src == COA_A and p.dst == HA and raw[6] == 41
    assert raw[40:] == app
    assert mn.counters["mn.reverse_tunnelled"] == 1


def test_send_batch_tunnels_a_whole_batch_and_routes_the_rest():
    mn, _ = registered_mn()
    batch = PacketBatch(capacity=8)
    for i in range(5):
        batch.append(udp_datagram_packet(payload=bytes([i]) * 20))
    batch.append(udp_datagram_packet(src=COA_A))
    out = mn.send_batch(5 * S, batch)
    sent = packets(out)
    assert [p.src for _, p, _ in sent] == [COA_A] * 6
    assert [p.dst for _, p, _ in sent] == [HA] * 5 + [CN]
    assert mn.counters["mn.reverse_tunnelled"] == 5


def test_before_registration_home_address_traffic_is_held_then_dropped():
    # Moved, BU sent, no BA yet: an application's packet from the home address is held (issue 14), not
    # sent; without a BA it is dropped after HOLD_TIMEOUT, and once the hold is over (HOLD_MAX after the
    # move) home address traffic with no registration is dropped at once.
    mn = make_mn()
    attach_foreign(mn)
    out = mn.send(T_BU + 1, udp_datagram_packet())
    assert not out.transmits and mn.counters["mn.hold.held"] == 1
    assert not bus(mn.tick(T_BU + 1 + HOLD_TIMEOUT)) and mn.counters["drop.mn.hold.timeout"] == 1
    mn.tick(T_BU + HOLD_MAX)
    out = mn.send(T_BU + HOLD_MAX + 1, udp_datagram_packet())
    assert not out.transmits and mn.counters["drop.mn.no_home_registration"] == 1
    assert mn.counters["mn.hold.undecided"] == 1


def test_receive_batch_decapsulates_and_drops_foreign_inner_destinations():
    mn, _ = registered_mn()
    batch = PacketBatch(capacity=8)
    inners = []
    for i in range(3):
        f, inner = tunnelled(payload=bytes([i]) * 10)
        batch.append(f)
        inners.append(inner)
    bad, _ = tunnelled(inner_dst="2001:db8:1::77")
    batch.append(bad)
    wrong_source, _ = tunnelled(outer_src="2001:db8:5::5")
    batch.append(wrong_source)
    batch.append(ra(A_MAC, PREFIX_A))           # not tunnelled: the per-frame path
    out = mn.receive_batch(5 * S, "eth0", batch)
    assert out.deliveries == inners
    assert mn.counters["drop.datapath.not_home_address"] == 1
    assert mn.counters["drop.datapath.tunnel_wrong_source"] == 1
    assert mn.counters["nd.ra_processed"] >= 2


def test_single_tunnelled_frame_goes_through_the_kernel_too():
    mn, _ = registered_mn()
    f, inner = tunnelled()
    assert mn.receive(5 * S, "eth0", f).deliveries == [inner]
    bad, _ = tunnelled(inner_dst="2001:db8:1::77")
    assert not mn.receive(5 * S, "eth0", bad).deliveries
    assert mn.counters["drop.datapath.not_home_address"] == 1


def test_tunnelled_echo_request_is_answered_through_the_reverse_tunnel():
    """Regression (simulator integration): an Echo Request for the home address that arrives through
    the home agent's tunnel is answered (RFC 4443 §4.1), and the reply, from the home address, is
    reverse-tunnelled to the home agent (RFC 6275 §11.3.1), not sent natively from the foreign link."""
    mn, _ = registered_mn()
    request = Packet(src=CN, dst=HOA, hop_limit=63, payload=EchoRequest(identifier=7, sequence=3, data=b"x" * 8))
    out = mn.receive(5 * S, "eth0", frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=request)))
    (dst_mac, p, raw), = packets(out)
    assert dst_mac == A_MAC and p.src == COA_A and p.dst == HA and raw[6] == 41
    reply = p.payload
    assert reply.src == HOA and reply.dst == CN and isinstance(reply.payload, EchoReply)
    assert (reply.payload.identifier, reply.payload.sequence) == (7, 3)
    assert out.deliveries == [] and mn.counters["echo_replies"] == 1


def test_application_output_packet_from_the_home_address_is_reverse_tunnelled():
    """Regression: applications on the node (``Host.attach``) send with ``output_packet``; away from
    home a packet from the home address takes the reverse tunnel there too (RFC 6275 §11.3.1)."""
    mn, _ = registered_mn()
    app = udp_datagram_packet()

    class Sender:
        def attached(self, host):
            host.call_at(5 * S, lambda now: host.output_packet(now, app))

        def deliver(self, host, now, raw, packet):
            pass
    mn.attach(Sender())
    out = mn.tick(5 * S)
    (dst_mac, p, raw), = packets(out)
    assert dst_mac == A_MAC and p.src == COA_A and p.dst == HA and raw[40:] == app


# ---------------------------------------------------------------- movement detection (§11.5.1)

def test_new_prefix_plus_nud_failure_of_the_current_router_is_movement():
    mn, _ = registered_mn()
    t = 10 * S
    out_up, out_ra = move_to_b(mn, t)
    # The hint only solicits; the new prefix only starts NUD of router A (unicast NS to its MAC).
    assert [type(p.payload) for _, p, _ in packets(out_up)].count(RouterSolicitation) == 1
    assert not notes(out_up, Moved) and not notes(out_ra, Moved)
    moved, probes = [], []
    for k in range(1, 60):
        out = mn.tick(t + 200 * MS + k * 100 * MS)
        probes += [(m, p) for m, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
                   and not p.dst.is_multicast]
        moved += notes(out, Moved)
        if moved:
            break
    # The probes leave once the link-local address passed DAD again (1 s after the carrier came up).
    assert probes and all(m == A_MAC and p.payload.target == ll(A_MAC) for m, p in probes)
    # NUD: MAX_UNICAST_SOLICIT (3) probes, RetransTimer (1 s) apart, then the router is gone.
    assert moved == [Moved(t + 200 * MS + 3 * S, COA_A, COA_B)]
    assert any(isinstance(n, RouterUnreachable) and n.router == ll(A_MAC) for n in out.notifications)
    (bu, _), = bus(out)
    assert bu.src == COA_B and bu.payload.options == (AlternateCareOfAddress(COA_B),)
    # Not the first registration any more: 1 s timeout.
    assert bus(mn.tick(t + 200 * MS + 4 * S))
    assert PREFIX_A not in mn.nd["eth0"].prefixes and COA_A not in mn.iface.addresses
    # The new binding is registered with the next BA; the tunnel now starts at COA_B.
    seq = mn.registrations[HOA].outstanding
    out = mn.receive(t + 5 * S, "eth0", frame(B_MAC, MN_MAC, Packet(
        src=HA, dst=COA_B, rh2=HOA, payload=BindingAcknowledgement(status=0, sequence=seq, lifetime=600))))
    assert notes(out, Registered)[0].care_of == COA_B
    (_, p, _), = packets(mn.send(t + 6 * S, udp_datagram_packet()))
    assert p.src == COA_B and p.dst == HA


def test_another_router_with_another_prefix_on_the_same_link_is_not_movement():
    mn, _ = registered_mn()
    t = 10 * S
    out = mn.receive(t, "eth0", ra(C_MAC, PREFIX_C))
    probes = [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
              and not p.dst.is_multicast]
    assert probes and probes[0].dst == ll(A_MAC)
    # Router A answers its probe: it is still here.
    na = Packet(src=ll(A_MAC), dst=probes[0].src, hop_limit=255, payload=NeighborAdvertisement(
        target=ll(A_MAC), router=True, solicited=True, override=True,
        options=(TargetLinkLayerAddress(A_MAC),)))
    mn.receive(t + 5 * MS, "eth0", frame(A_MAC, MN_MAC, na))
    mn.receive(t + 2 * S, "eth0", ra(C_MAC, PREFIX_C))
    moved = []
    for k in range(1, 100):
        moved += notes(mn.tick(t + k * 100 * MS), Moved)
    assert moved == [] and mn.care_of == COA_A
    assert mn.counters["mn.movement.same_link_new_prefix"] == 1


def test_same_prefix_from_another_router_is_not_movement():
    mn, _ = registered_mn()
    other = bytes.fromhex("0200000000ab")
    out = mn.receive(10 * S, "eth0", ra(other, PREFIX_A))
    assert not [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)]
    assert not notes(mn.tick(20 * S), Moved)


def test_overdue_advertisement_solicits_and_probes_the_router():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A, interval_ms=1000))
    out = mn.tick(2 * S + 100 * MS)                       # the RA is overdue 1 s after 1.1 s
    kinds = [type(p.payload) for _, p, _ in packets(out)]
    assert mn.counters["mn.movement.router_overdue"] == 1
    assert RouterSolicitation in kinds and NeighborSolicitation in kinds


def test_lower_layer_hint_alone_is_not_movement():
    mn, _ = registered_mn()
    mn.link_changed(10 * S, "eth0", False)
    out = mn.link_changed(10 * S + 1, "eth0", True)
    assert [type(p.payload) for _, p, _ in packets(out)].count(RouterSolicitation) == 1
    # Router A answers: the same link, nothing changes.
    mn.receive(10 * S + 300 * MS, "eth0", ra(A_MAC, PREFIX_A))
    assert not notes(mn.tick(30 * S), Moved) and mn.care_of == COA_A


def test_lower_layer_hints_can_be_turned_off():
    mn, _ = registered_mn(lower_layer_hints=False)
    mn.link_changed(10 * S, "eth0", False)
    out = mn.link_changed(10 * S + 1, "eth0", True)
    assert RouterSolicitation not in [type(p.payload) for _, p, _ in packets(out)]


# ---------------------------------------------------------------- returning home (§11.5.5)

def test_returning_home_deregisters_then_advertises_the_home_address():
    mn, _ = registered_mn()
    t = 10 * S
    out = go_home(mn, t)
    assert notes(out, ReturnedHome) == [ReturnedHome(t + 200 * MS, HOA)]
    assert mn.location is Location.HOME
    assert mn.iface.addresses[HOA].usable and COA_A not in mn.iface.addresses
    # The HA's link-layer address is unknown: NS from :: (the home address cannot be defended yet).
    ns = [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
          and p.payload.target == HA]
    assert len(ns) == 1 and ns[0].src == IPv6Address("::") and ns[0].dst == solicited_node_multicast(HA)
    assert not ns[0].payload.options
    assert not bus(out)
    # The HA answers to all-nodes; the queued BU goes out.
    na = Packet(src=HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA_MAC),)))
    out = mn.receive(t + 210 * MS, "eth0", frame(HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na))
    (bu, raw), = bus(out)
    assert out.transmits[0].frame[:6] == HA_MAC
    assert bu.src == HOA and bu.dst == HA and bu.home_address is None and raw[6] == 135
    assert bu.payload.lifetime == 0 and bu.payload.ack and bu.payload.home and bu.payload.options == ()
    # Before the BA, NS for the home address is left to the home agent.
    ns_hoa = Packet(src=ll(HOME_MAC), dst=solicited_node_multicast(HOA), hop_limit=255,
                    payload=NeighborSolicitation(target=HOA, options=(SourceLinkLayerAddress(HOME_MAC),)))
    ns_frame = frame(HOME_MAC, ipv6_multicast_mac(solicited_node_multicast(HOA).packed), ns_hoa)
    assert not mn.receive(t + 220 * MS, "eth0", ns_frame).transmits
    # The BA (to the home address, no RH2): unsolicited NA to all-nodes, O=1, S=0, own MAC.
    out = mn.receive(t + 230 * MS, "eth0", ba(0, bu.payload.sequence, lifetime=0, dst=HOA, rh2=None))
    assert notes(out, Deregistered) == [Deregistered(t + 230 * MS, HOA)]
    (dst_mac, p, _), = packets(out)
    assert dst_mac == ipv6_multicast_mac(ALL_NODES.packed) and p.dst == ALL_NODES and p.hop_limit == 255
    na = p.payload
    assert isinstance(na, NeighborAdvertisement) and na.target == HOA
    assert na.override and not na.solicited and not na.router
    assert na.options == (TargetLinkLayerAddress(MN_MAC),)
    assert (HA, HOA) not in mn.binding_update_list
    # From now on: NS for the home address answered, packets sent natively, no more BUs.
    answer = packets(mn.receive(t + 240 * MS, "eth0", ns_frame))
    assert answer and answer[0][1].payload.target == HOA and answer[0][1].payload.solicited
    (_, p, raw), = packets(mn.send(t + 250 * MS, udp_datagram_packet()))
    assert p.src == HOA and p.dst == CN and raw[6] != 41
    assert not bus(mn.tick(t + 100 * S))


def test_a_refused_deregistration_still_gives_the_home_address_back():
    """Back home, a de-registration refused (133: that agent has no binding for us) leaves nothing to
    remove: the node advertises and defends its home address all the same."""
    mn, _ = registered_mn()
    t = 10 * S
    go_home(mn, t)
    na = Packet(src=HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA_MAC),)))
    (bu, _), = bus(mn.receive(t + 210 * MS, "eth0", frame(HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na)))
    out = mn.receive(t + 230 * MS, "eth0", ba(133, bu.payload.sequence, lifetime=0, dst=HOA, rh2=None))
    assert [n.status for n in notes(out, RegistrationFailed)] == [133]
    assert notes(out, Deregistered)
    (_, p, _), = packets(out)
    assert isinstance(p.payload, NeighborAdvertisement) and p.payload.target == HOA and p.payload.override
    assert mn.registrations[HOA].state is RegistrationState.HOME
    ns_hoa = Packet(src=ll(HOME_MAC), dst=solicited_node_multicast(HOA), hop_limit=255,
                    payload=NeighborSolicitation(target=HOA, options=(SourceLinkLayerAddress(HOME_MAC),)))
    answer = packets(mn.receive(t + 240 * MS, "eth0", frame(
        HOME_MAC, ipv6_multicast_mac(solicited_node_multicast(HOA).packed), ns_hoa)))
    assert answer and answer[0][1].payload.target == HOA
    assert not bus(mn.tick(t + 100 * S))


def test_dereg_bu_is_retransmitted_until_acknowledged():
    mn, _ = registered_mn()
    t = 10 * S
    go_home(mn, t)
    na = Packet(src=HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA_MAC),)))
    (bu, _), = bus(mn.receive(t + 210 * MS, "eth0", frame(HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na)))
    (bu2, _), = bus(mn.tick(t + 200 * MS + S))
    assert bu2.payload.lifetime == 0 and bu2.payload.sequence == (bu.payload.sequence + 1) % 65536


def test_starting_at_home_needs_no_registration():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    out = mn.receive(1 * S + 100 * MS, "eth0", ra(HOME_MAC, HOME_PREFIX))
    assert notes(out, ReturnedHome) and not bus(out)
    assert mn.location is Location.HOME and mn.iface.addresses[HOA].usable
    assert not bus(mn.tick(10 * S))
    assert mn.registrations[HOA].state is RegistrationState.HOME


def test_leaving_home_registers_for_the_first_time():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra(HOME_MAC, HOME_PREFIX))
    mn.tick(3 * S)
    t = 5 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    mn.receive(t + 200 * MS, "eth0", ra(A_MAC, PREFIX_A))
    moved, sent = [], []
    for k in range(1, 80):
        out = mn.tick(t + k * 100 * MS)
        moved += notes(out, Moved)
        sent += bus(out)
    assert moved and moved[0].old_coa is None and moved[0].new_coa == COA_A
    assert HOA not in mn.iface.addresses
    # First registration: 1.5 s to the first retransmission.
    times = [b[0].payload.sequence for b in sent]
    assert len(times) >= 2 and times[1] == (times[0] + 1) % 65536


def test_receive_batch_processes_type_2_routing_headers():
    mn, _ = registered_mn()
    good = Packet(src=CN, dst=COA_A, rh2=HOA, payload=Raw(17, udp_datagram(CN, HOA, 2000, 1000, b"ro")))
    bad_home = IPv6Address("2001:db8:1::77")
    bad = Packet(src=CN, dst=COA_A, rh2=bad_home, payload=Raw(17, udp_datagram(CN, bad_home, 2000, 1000, b"x")))
    batch = PacketBatch(capacity=4)
    batch.append(frame(A_MAC, MN_MAC, good))
    batch.append(frame(A_MAC, MN_MAC, bad))
    out = mn.receive_batch(5 * S, "eth0", batch)
    (delivered,) = out.deliveries
    assert delivered[24:40] == HOA.packed and delivered[-2:] == b"ro"
    assert sum(v for k, v in mn.counters.items() if k.startswith("drop.datapath.")) == 1


def test_a_packet_too_big_for_the_tunnel_is_answered_with_packet_too_big():
    mn, _ = registered_mn()
    app = udp_datagram_packet(payload=bytes(1500 - 48))
    out = mn.send(5 * S, app)
    assert not out.transmits
    (ptb,) = out.deliveries
    p = parse(ptb)
    assert p.dst == HOA and p.payload.mtu == 1460 and p.payload.invoking == app[:1232]
    assert mn.counters["drop.mn.reverse_tunnel_too_big"] == 1


def test_router_lifetime_expiry_then_a_new_router_is_movement():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A, lifetime=10))
    (bu, _), = bus(mn.tick(T_BU))
    mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence))
    out = mn.tick(11 * S + 100 * MS)                  # router A's 10 s lifetime ran out
    assert any(isinstance(n, RouterUnreachable) and n.reason == "lifetime_expired" for n in out.notifications)
    assert RouterSolicitation in [type(p.payload) for _, p, _ in packets(out)]
    assert not notes(out, Moved)
    mn.receive(12 * S, "eth0", ra(B_MAC, PREFIX_B))
    out = mn.tick(13 * S)                             # the new care-of address passed DAD
    assert notes(out, Moved) == [Moved(13 * S, COA_A, COA_B)]
    (bu, _), = bus(out)
    assert bu.src == COA_B


def test_unanswered_refresh_lets_the_binding_expire():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence, lifetime=8))
    # Refresh 2 s before the 8 s run out (10 % would be under the 2 s floor), then retransmissions.
    assert not bus(tick_answering(mn, T_BU + 6 * S - 1))
    assert bus(tick_answering(mn, T_BU + 6 * S))
    assert mn.send(T_BU + 7 * S, udp_datagram_packet()).transmits        # still bound
    tick_answering(mn, T_BU + 8 * S)
    assert mn.counters["mn.binding_expired"] == 1
    assert (HA, HOA) not in mn.binding_update_list
    assert not mn.send(T_BU + 8 * S, udp_datagram_packet()).transmits
    assert mn.counters["drop.mn.no_home_registration"] == 1


def test_a_late_ba_for_the_old_care_of_address_is_ignored_after_moving():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    t = 10 * S
    move_to_b(mn, t)
    for k in range(1, 40):
        mn.tick(t + k * 100 * MS)
    assert mn.care_of == COA_B
    out = mn.receive(t + 4 * S, "eth0", ba(0, bu.payload.sequence))
    assert not notes(out, Registered) and not mn.registrations[HOA].active


def test_mutated_signalling_and_tunnel_frames_never_raise():
    assert strict()      # conftest: every counter name a node uses must be declared
    rng = random.Random(99)
    mn, _ = registered_mn()
    seq = mn.registrations[HOA].next_sequence
    seeds = [ba(0, seq), ba(135, seq), ba(0, seq, options=(BindingRefreshAdvice(8),)),
             frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, rh2=HOA, payload=BindingRefreshRequest())),
             tunnelled()[0], ra(A_MAC, PREFIX_A), ra(B_MAC, PREFIX_B),
             frame(A_MAC, MN_MAC, Packet(src=CN, dst=COA_A, rh2=HOA, payload=Raw(17, b"\x00" * 12)))]
    now = 5 * S
    for round_ in range(1500):
        batch = PacketBatch(capacity=4)
        for _ in range(rng.randint(1, 4)):
            f = bytearray(rng.choice(seeds))
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.7 or len(f) <= 15:
                    f[rng.randrange(len(f))] = rng.randrange(256)
                else:
                    del f[rng.randrange(14, len(f)):]
            batch.append(bytes(f))
        now += 10 * MS
        if round_ % 2:
            mn.receive_batch(now, "eth0", batch)
        else:
            for f in batch.packets():
                mn.receive(now, "eth0", f)
        mn.tick(now)
    assert sum(v for k, v in mn.counters.items() if k.startswith("drop.")) > 0


def test_home_prefix_from_a_router_that_is_not_a_default_router_still_means_home():
    mn, _ = registered_mn()
    mn.link_changed(10 * S, "eth0", False)
    mn.link_changed(10 * S + 10 * MS, "eth0", True)
    out = mn.receive(10 * S + 200 * MS, "eth0", ra(HOME_MAC, HOME_PREFIX, lifetime=0))
    assert notes(out, ReturnedHome) and mn.location is Location.HOME


def test_foreign_ra_with_router_lifetime_zero_is_not_movement():
    mn, _ = registered_mn()
    out = mn.receive(10 * S, "eth0", ra(B_MAC, PREFIX_B, lifetime=0))
    assert not [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
                and not p.dst.is_multicast]
    assert mn.counters["mn.movement.ra_not_default_router"] == 1
    assert not notes(mn.tick(20 * S), Moved)


def test_r_flag_global_address_identifies_the_same_router():
    def ra_r(mac, prefix):
        packet = Packet(src=ll(mac), dst=ALL_NODES, hop_limit=255, payload=RouterAdvertisement(options=(
            SourceLinkLayerAddress(mac),
            PrefixInformation("2001:db8:a::1", 64, router_address=True),
            PrefixInformation(prefix.network_address, 64))))
        return frame(mac, ipv6_multicast_mac(ALL_NODES.packed), packet)
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra_r(A_MAC, PREFIX_A))
    (bu, _), = bus(mn.tick(T_BU))
    mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence))
    # The same router under another link-local address, now also advertising prefix C.
    out = mn.receive(5 * S, "eth0", ra_r(C_MAC, PREFIX_C))
    assert not [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
                and not p.dst.is_multicast]
    assert mn.counters["mn.movement.candidate"] == 0
    assert not notes(mn.tick(20 * S), Moved) and mn.care_of == COA_A


def test_movement_on_reattachment_moves_at_the_first_ra_from_another_router():
    # With the option, a carrier that came back plus an RA from another router with a new prefix is
    # movement at once (§11.5.1), no NUD of the old router.
    mn, _ = registered_mn(movement_on_reattachment=True)
    t = 10 * S
    out_up, out_ra = move_to_b(mn, t)
    assert not notes(out_up, Moved)
    assert mn.counters["mn.movement.reattached_elsewhere"] == 1
    moved = notes(out_ra, Moved)
    for k in range(1, 30):
        if moved:
            break
        moved += notes(mn.tick(t + 200 * MS + k * 100 * MS), Moved)
    assert moved and moved[0].new_coa == COA_B
    assert moved[0].now < t + 200 * MS + 2 * S         # DAD of the new address, not 3 s of NUD


def test_a_carrier_flap_on_the_same_link_is_not_movement():
    mn, _ = registered_mn(movement_on_reattachment=True)
    t = 10 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    out = mn.receive(t + 200 * MS, "eth0", ra(A_MAC, PREFIX_A))
    assert not notes(out, Moved) and mn.counters["mn.movement.reattached_elsewhere"] == 0


def test_neighbour_discovery_messages_never_carry_a_home_address_option():
    """§11.3.1: the mobile node's RS, NS and NA (DAD, NUD, router solicitation, the NA coming home)
    leave without a Home Address option, away from home and back at home."""
    mn = make_mn()
    outs = [mn.link_changed(0, "eth0", True), mn.tick(1 * S)]
    outs.append(mn.receive(1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A)))
    outs.append(mn.tick(T_BU))
    (bu, _), = bus(outs[-1])
    outs.append(mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence)))
    outs.extend(tick_answering(mn, T_BU + k * S) for k in range(1, 60, 5))
    outs.extend(move_to_b(mn, 100 * S))
    outs.append(go_home(mn, 200 * S))
    outs.extend(mn.tick(200 * S + k * 100 * MS) for k in range(1, 30))
    nd = [p for out in outs for _, p, _ in packets(out)
          if isinstance(p.payload, (RouterSolicitation, NeighborSolicitation, NeighborAdvertisement))]
    assert {type(p.payload) for p in nd} >= {RouterSolicitation, NeighborSolicitation}
    assert all(p.home_address is None for p in nd)
