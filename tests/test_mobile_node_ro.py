"""Route optimisation on the mobile node (RFC 6275 §11.3, §11.7.2, §11.3.5-§11.3.6), sans-I/O with
hand-built frames: the policy (counted on the data path's batches), the correspondent BU on the wire,
the Home Address option only after the BA, retransmission and refresh, movement and returning home,
and the fallbacks (Binding Error 1 / 2, ICMPv6 Parameter Problem). The node here has return
routability switched off (``unauthenticated_bindings``, helpers.mobile_node.ro_mn), so that each BU can
be answered directly; return routability before the BU is tests/test_mobile_node_rr.py."""
from ipaddress import IPv6Address

import pytest
from helpers.mobile_node import (
    A_MAC,
    B_MAC,
    CN,
    COA_A,
    COA_B,
    HA,
    HA_MAC,
    HOA,
    MN_MAC,
    MS,
    T_BU,
    S,
    bus,
    cn_ba,
    frame,
    go_home,
    move_to_b,
    notes,
    optimised_mn,
    packets,
    ro_mn,
    tick_answering,
    udp_datagram_packet,
)

from mip6fast.apps import udp_datagram
from mip6fast.batch import PacketBatch
from mip6fast.roles.mobile_node import Moved, Registered
from mip6fast.roles.registration import PeerState
from mip6fast.roles.route_optimization import (
    ALWAYS,
    NEVER,
    RouteOptimisationStarted,
    RouteOptimisationStopped,
    RouteOptimizationConfig,
    strip_processed_rh2,
)
from mip6fast.wire import (
    ALL_NODES,
    BindingAcknowledgement,
    BindingError,
    BindingRefreshRequest,
    DestinationUnreachable,
    EchoReply,
    EchoRequest,
    NeighborAdvertisement,
    Packet,
    ParameterProblem,
    Raw,
    TargetLinkLayerAddress,
    parse,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

OTHER_CN = IPv6Address("2001:db8:98::8")


def cn_bus(out, peer=CN):
    return [(p, raw) for p, raw in bus(out) if p.dst == peer]


def from_cn(payload, dst=COA_A, src=CN, rh2=None, router_mac=A_MAC):
    return frame(router_mac, MN_MAC, Packet(src=src, dst=dst, rh2=rh2, payload=payload))


def send_udp(mn, t, n=1, dst=CN):
    """``n`` application packets from the home address to ``dst`` in one batch."""
    batch = PacketBatch(capacity=max(n, 1))
    for i in range(n):
        batch.append(udp_datagram_packet(dst=dst, payload=bytes([i]) * 16))
    return mn.send_batch(t, batch)


def is_direct(raw, care_of=COA_A):
    p = parse(raw)
    return raw[6] == 60 and p.src == care_of and p.dst == CN and p.home_address == HOA


def is_tunnelled(raw):
    return raw[6] == 41 and parse(raw).dst == HA


# ---------------------------------------------------------------- configuration and policy

def test_config_checks_and_per_peer_overrides():
    for bad in ({"default": 0}, {"default": "sometimes"}, {"default": True}, {"lifetime": 421},
                {"lifetime": 0}, {"hold_down_ns": -1}, {"peers": {CN: -3}}):
        with pytest.raises(ValueError):
            RouteOptimizationConfig(**bad)
    config = RouteOptimizationConfig(default=7, peers={str(CN): NEVER, OTHER_CN: ALWAYS})
    assert config.threshold(CN) is None and config.threshold(OTHER_CN) == 0
    assert config.threshold(IPv6Address("2001:db8:5::5")) == 7
    assert not RouteOptimizationConfig().enabled and config.enabled


def test_after_n_tunnelled_packets_the_node_sends_the_correspondent_a_bu():
    mn = ro_mn(default=3)
    assert not cn_bus(send_udp(mn, 5 * S, 2))
    out = send_udp(mn, 5 * S + MS)
    (bu, raw), = cn_bus(out)
    # §11.7.2: from the care-of address, HAO = home address, A set, H = L = K = 0, no Alternate CoA.
    assert bu.src == COA_A and bu.home_address == HOA and raw[6] == 60
    m = bu.payload
    assert m.ack and not m.home and not m.link_local and not m.key_management
    assert m.lifetime == 420 and m.options == ()
    # Until the BA the data still goes through the tunnel.
    assert all(is_tunnelled(r) for _, p, r in packets(out) if p.dst == HA)
    assert (CN, HOA) not in mn.binding_update_list
    assert mn.route_optimization.state_of(CN) is PeerState.BINDING


def test_correspondent_lifetime_is_bounded_by_the_home_registration():
    # The home agent granted 600 s from T_BU; 500 s later only 100 s are left for the correspondent.
    mn = ro_mn(default=ALWAYS)
    t = T_BU + 500 * S
    (bu, _), = cn_bus(send_udp(mn, t))
    assert bu.payload.lifetime == 100


def test_packets_are_counted_per_peer_over_a_whole_batch():
    mn = ro_mn(default=4)
    batch = PacketBatch(capacity=8)
    for _ in range(3):
        batch.append(udp_datagram_packet(dst=CN))
        batch.append(udp_datagram_packet(dst=OTHER_CN))
    out = mn.send_batch(5 * S, batch)
    assert not bus(out)
    bindings = mn.route_optimization.bindings
    assert bindings[(CN, HOA)].tunnelled == bindings[(OTHER_CN, HOA)].tunnelled == 3
    # Tunnelled packets from a correspondent count too (its source after decapsulation).
    inner = Packet(src=CN, dst=HOA, hop_limit=63, payload=Raw(17, udp_datagram(CN, HOA, 2000, 1000, b"in")))
    out = mn.receive(5 * S + MS, "eth0", frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=inner)))
    assert len(cn_bus(out)) == 1 and not cn_bus(out, OTHER_CN)
    # And over a received batch: one more packet from OTHER_CN reaches its threshold of 4.
    batch = PacketBatch(capacity=4)
    inner = Packet(src=OTHER_CN, dst=HOA, hop_limit=63,
                   payload=Raw(17, udp_datagram(OTHER_CN, HOA, 2000, 1000, b"in")))
    batch.append(frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=inner)))
    out = mn.receive_batch(5 * S + 2 * MS, "eth0", batch)
    assert len(out.deliveries) == 1 and len(cn_bus(out, OTHER_CN)) == 1


def test_never_and_the_home_agent_are_not_optimised():
    mn = ro_mn(default=ALWAYS, peers={OTHER_CN: NEVER})
    assert not cn_bus(send_udp(mn, 5 * S, 5, dst=OTHER_CN), OTHER_CN)
    assert not cn_bus(send_udp(mn, 5 * S, 5, dst=HA), HA)
    assert (OTHER_CN, HOA) not in mn.route_optimization.bindings
    assert len(cn_bus(send_udp(mn, 6 * S, 1))) == 1          # "always": the first packet


def test_peer_configured_always_starts_with_the_home_registration():
    mn = ro_mn(peers={CN: ALWAYS})
    assert mn.route_optimization.state_of(CN) is PeerState.BINDING
    assert mn.counters["mn.ro.bu_sent"] == 1


# ---------------------------------------------------------------- BA, HAO, retransmission, refresh

def test_the_home_address_option_is_used_only_after_the_ba():
    mn = ro_mn(peers={CN: ALWAYS})
    b = mn.route_optimization.bindings[(CN, HOA)]
    (_, _, raw), = packets(send_udp(mn, T_BU + 20 * MS))
    assert is_tunnelled(raw)
    # A BA with another sequence number or without RH2 does not count.
    assert not notes(mn.receive(T_BU + 25 * MS, "eth0", cn_ba(0, (b.outstanding + 1) % 65536)),
                     RouteOptimisationStarted)
    assert not notes(mn.receive(T_BU + 25 * MS, "eth0", cn_ba(0, b.outstanding, rh2=None)),
                     RouteOptimisationStarted)
    out = mn.receive(T_BU + 30 * MS, "eth0", cn_ba(0, b.outstanding, lifetime=400))
    assert notes(out, RouteOptimisationStarted) == [
        RouteOptimisationStarted(T_BU + 30 * MS, CN, HOA, COA_A, 400)]
    entry = mn.binding_update_list[(CN, HOA)]
    assert entry.care_of_address == COA_A and not entry.home_registration
    (_, _, raw), = packets(send_udp(mn, T_BU + 40 * MS))
    assert is_direct(raw) and raw[64:] == udp_datagram_packet(dst=CN, payload=bytes(16))[40:]
    # Packets to other peers, and to the home agent, still take the tunnel.
    (_, _, raw), = packets(send_udp(mn, T_BU + 50 * MS, dst=OTHER_CN))
    assert is_tunnelled(raw)
    assert mn.counters["mn.ro.hao_sent"] == 1


def test_bu_retransmission_doubles_with_new_sequence_numbers_then_gives_up():
    mn = ro_mn(peers={CN: ALWAYS}, hold_down_ns=100 * S)
    t0 = T_BU + 10 * MS
    first = mn.route_optimization.bindings[(CN, HOA)].outstanding
    seqs, times, stopped = [first], [t0], []
    t = t0
    while t < t0 + 100 * S:
        t += 100 * MS
        out = tick_answering(mn, t)          # router A answers NUD: it stays the default router
        for bu, _ in cn_bus(out):
            seqs.append(bu.payload.sequence)
            times.append(t)
        stopped += notes(out, RouteOptimisationStopped)
    gaps = [round((b - a) / S) for a, b in zip(times, times[1:])]
    assert gaps == [1, 2, 4, 8, 16]                        # §11.8: from 1 s, doubling to 32 s
    assert seqs == [(first + i) % 65536 for i in range(len(seqs))]
    (stop,) = stopped
    assert stop.reason == "no_acknowledgement" and stop.hold_down_until == stop.now + 100 * S
    assert stop.now == times[-1] + 32 * S


def test_rate_limit_holds_back_a_burst_of_135_answers():
    mn = ro_mn(peers={CN: ALWAYS})
    b = mn.route_optimization.bindings[(CN, HOA)]
    sent = 1
    for k in range(4):
        out = mn.receive(T_BU + (20 + k) * MS, "eth0", cn_ba(135, 1000 + k))
        sent += len(cn_bus(out))
    assert sent == 3 and mn.counters["mn.ro.bu_rate_limited"] >= 1
    # §11.7.3 with §11.8: each 135 moves the next sequence on; the 4th BU within a second waits.
    assert b.next_sequence == 1004 and b.deferred is not None
    assert cn_bus(mn.tick(T_BU + 10 * MS + S))


def test_refresh_before_expiry_and_expiry_without_an_answer():
    mn = optimised_mn(lifetime=20)
    # Granted 20 s from the BU at T_BU + 10 ms; refreshed 2 s early (a tenth, at least 2 initial timeouts).
    assert not cn_bus(tick_answering(mn, T_BU + 10 * MS + 18 * S - 1))
    (bu, _), = cn_bus(tick_answering(mn, T_BU + 10 * MS + 18 * S))
    assert bu.payload.lifetime == 20
    # The entry stays usable while the refresh is outstanding.
    (_, _, raw), = packets(send_udp(mn, T_BU + 19 * S))
    assert is_direct(raw)
    out = tick_answering(mn, T_BU + 10 * MS + 20 * S)
    assert [n.reason for n in notes(out, RouteOptimisationStopped)] == ["expired"]
    assert (CN, HOA) not in mn.binding_update_list
    out = send_udp(mn, T_BU + 21 * S)
    data = [raw for _, p, raw in packets(out) if p.dst == HA]
    assert len(data) == 1 and is_tunnelled(data[0])
    assert len(cn_bus(out)) == 1          # "always": the next packet starts a new binding


def test_refresh_ba_keeps_it_running_without_a_second_start():
    mn = optimised_mn(lifetime=20)
    tick_answering(mn, T_BU + 10 * MS + 18 * S)
    b = mn.route_optimization.bindings[(CN, HOA)]
    out = mn.receive(T_BU + 18 * S + 20 * MS, "eth0", cn_ba(0, b.outstanding, lifetime=20))
    assert not notes(out, RouteOptimisationStarted) and mn.counters["mn.ro.refreshed"] == 1
    assert not notes(tick_answering(mn, T_BU + 30 * S), RouteOptimisationStopped)
    assert mn.binding_update_list[(CN, HOA)].expires_ns == T_BU + 18 * S + 10 * MS + 20 * S


def test_binding_refresh_request_from_the_correspondent_is_answered_with_a_bu():
    mn = optimised_mn()
    out = mn.receive(T_BU + S, "eth0", from_cn(BindingRefreshRequest(), rh2=HOA))
    assert len(cn_bus(out)) == 1


def test_rejection_falls_back_with_a_hold_down():
    mn = ro_mn(peers={CN: ALWAYS}, hold_down_ns=10 * S)
    b = mn.route_optimization.bindings[(CN, HOA)]
    out = mn.receive(T_BU + 30 * MS, "eth0", cn_ba(129, b.outstanding, lifetime=0))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "ba_status_129" and stop.hold_down_until == T_BU + 30 * MS + 10 * S
    assert b.state is PeerState.HELD_DOWN
    assert not cn_bus(mn.tick(T_BU + 9 * S))
    assert len(cn_bus(mn.tick(T_BU + 30 * MS + 10 * S))) == 1    # "always": again after the hold-down


# ---------------------------------------------------------------- fallback (§11.3.5, §11.3.6)

def test_binding_error_1_falls_back_to_the_tunnel_then_reoptimises_after_n_packets():
    mn = ro_mn(default=2, hold_down_ns=5 * S)
    send_udp(mn, 4 * S, 2)
    b = mn.route_optimization.bindings[(CN, HOA)]
    mn.receive(4 * S + 10 * MS, "eth0", cn_ba(0, b.outstanding))
    (_, _, raw), = packets(send_udp(mn, 5 * S))
    assert is_direct(raw)
    out = mn.receive(5 * S + 5 * MS, "eth0", from_cn(BindingError(status=1, home_address=HOA)))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert (stop.peer, stop.home_address, stop.reason) == (CN, HOA, "binding_error_unknown_binding")
    assert stop.hold_down_until == 10 * S + 5 * MS
    (_, _, raw), = packets(send_udp(mn, 5 * S + 10 * MS))
    assert is_tunnelled(raw)
    # During the hold-down packets are not counted towards a new attempt.
    assert not cn_bus(send_udp(mn, 6 * S, 5))
    mn.tick(10 * S + 5 * MS)
    assert b.state is PeerState.IDLE
    assert not cn_bus(send_udp(mn, 11 * S))
    assert len(cn_bus(send_udp(mn, 11 * S + MS))) == 1


def test_binding_error_from_a_node_without_an_entry_is_ignored():
    mn = optimised_mn()
    out = mn.receive(T_BU + S, "eth0", from_cn(BindingError(status=1, home_address=HOA), src=OTHER_CN))
    assert not notes(out, RouteOptimisationStopped) and (CN, HOA) in mn.binding_update_list
    # Nor one for another home address.
    other_home = IPv6Address("2001:db8:1::99")
    out = mn.receive(T_BU + S, "eth0", from_cn(BindingError(status=1, home_address=other_home)))
    assert not notes(out, RouteOptimisationStopped) and (CN, HOA) in mn.binding_update_list


def test_binding_error_2_stops_route_optimisation_with_that_peer_for_good():
    mn = optimised_mn(hold_down_ns=1 * S)
    out = mn.receive(T_BU + S, "eth0", from_cn(BindingError(status=2)))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "binding_error_unrecognised_mh_type" and stop.hold_down_until is None
    assert mn.route_optimization.state_of(CN) is PeerState.REFUSED
    assert (CN, HOA) not in mn.binding_update_list
    for k in range(10):
        assert not cn_bus(send_udp(mn, (5 + 5 * k) * S, 3))
        assert not cn_bus(mn.tick((6 + 5 * k) * S))


def bu_as_sent(mn):
    """Sends the first BU to CN (policy "always" on the first packet) and returns its raw bytes."""
    (_, raw), = cn_bus(send_udp(mn, 5 * S))
    return raw


def test_parameter_problem_pointing_at_the_home_address_option_falls_back():
    mn = ro_mn(default=ALWAYS, hold_down_ns=30 * S)
    raw = bu_as_sent(mn)
    hao = raw.index(bytes([201, 16]) + HOA.packed)
    # A Parameter Problem pointing elsewhere is not about route optimisation.
    out = mn.receive(5 * S + 2 * MS, "eth0", from_cn(ParameterProblem(code=2, pointer=hao - 2, invoking=raw)))
    assert not notes(out, RouteOptimisationStopped)
    out = mn.receive(5 * S + 3 * MS, "eth0", from_cn(ParameterProblem(code=2, pointer=hao, invoking=raw)))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "parameter_problem_home_address_option"
    assert stop.hold_down_until == 35 * S + 3 * MS
    assert mn.route_optimization.state_of(CN) is PeerState.HELD_DOWN
    (_, _, data), = packets(send_udp(mn, 6 * S))
    assert is_tunnelled(data) and mn.counters["mn.ro.bu_sent"] == 1


def test_parameter_problem_about_the_mobility_header_and_prohibited_fall_back():
    mn = ro_mn(default=ALWAYS)
    raw = bu_as_sent(mn)
    # The destination options header (at 40) names the Mobility Header.
    out = mn.receive(5 * S + 3 * MS, "eth0", from_cn(ParameterProblem(code=1, pointer=40, invoking=raw)))
    assert [n.reason for n in notes(out, RouteOptimisationStopped)] == ["parameter_problem_mobility_header"]
    mn2 = ro_mn(default=ALWAYS)
    raw = bu_as_sent(mn2)
    out = mn2.receive(5 * S + 3 * MS, "eth0", from_cn(DestinationUnreachable(code=1, invoking=raw)))
    assert [n.reason for n in notes(out, RouteOptimisationStopped)] == ["administratively_prohibited"]


# ---------------------------------------------------------------- movement and returning home

def move_and_register(mn, t):
    """Move to link B (router A lost by NUD) and have the home agent accept care-of address B."""
    move_to_b(mn, t)
    for k in range(1, 60):
        out = mn.tick(t + 200 * MS + k * 100 * MS)
        if notes(out, Moved):
            break
    seq = mn.registrations[HOA].outstanding
    t_ba = t + 200 * MS + k * 100 * MS + 10 * MS
    out = mn.receive(t_ba, "eth0", frame(B_MAC, MN_MAC, Packet(
        src=HA, dst=COA_B, rh2=HOA, payload=BindingAcknowledgement(status=0, sequence=seq, lifetime=600))))
    assert notes(out, Registered)
    return out, t_ba


def test_a_new_care_of_address_sends_new_bus_after_the_home_registration():
    mn = optimised_mn()
    out, t_ba = move_and_register(mn, 10 * S)
    (bu, _), = cn_bus(out)
    assert bu.src == COA_B and bu.home_address == HOA and not bu.payload.home
    # The old entry (care-of A) is gone until the correspondent acknowledges B.
    assert (CN, HOA) not in mn.binding_update_list
    (_, p, raw), = packets(send_udp(mn, t_ba + MS))
    assert is_tunnelled(raw) and p.src == COA_B
    out = mn.receive(t_ba + 5 * MS, "eth0", cn_ba(0, bu.payload.sequence, dst=COA_B, router_mac=B_MAC))
    (started,) = notes(out, RouteOptimisationStarted)
    assert started.care_of == COA_B
    (_, _, raw), = packets(send_udp(mn, t_ba + 10 * MS))
    assert is_direct(raw, care_of=COA_B)


def test_returning_home_removes_the_entries_and_deregisters_at_the_correspondent():
    mn = optimised_mn()
    t = 10 * S
    out = go_home(mn, t)
    assert [n.reason for n in notes(out, RouteOptimisationStopped)] == ["returned_home"]
    assert (CN, HOA) not in mn.binding_update_list
    assert not cn_bus(out)
    # The home agent's link-layer address arrives; the home de-registration BU goes out ...
    na = Packet(src=HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA_MAC),)))
    (home_bu, _), = bus(mn.receive(t + 210 * MS, "eth0", frame(HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na)))
    # ... and after its BA, a lifetime-0 BU to the correspondent from the home address, no HAO.
    out = mn.receive(t + 230 * MS, "eth0", frame(HA_MAC, MN_MAC, Packet(src=HA, dst=HOA, payload=BindingAcknowledgement(
        status=0, sequence=home_bu.payload.sequence, lifetime=0))))
    (bu, raw), = cn_bus(out)
    assert bu.src == HOA and bu.home_address is None and raw[6] == 135
    assert bu.payload.lifetime == 0 and bu.payload.ack and not bu.payload.home
    b = mn.route_optimization.bindings[(CN, HOA)]
    assert b.state is PeerState.DEREGISTERING
    mn.receive(t + 240 * MS, "eth0", frame(HA_MAC, MN_MAC, Packet(src=CN, dst=HOA, payload=BindingAcknowledgement(
        status=0, sequence=bu.payload.sequence, lifetime=0))))
    assert b.state is PeerState.IDLE and mn.counters["mn.ro.deregistered"] == 1
    assert not cn_bus(mn.tick(t + 100 * S))


# ---------------------------------------------------------------- inbound Type 2 routing header

def test_rh2_packets_reach_applications_with_valid_checksums_and_echo_is_answered_directly():
    mn = optimised_mn()
    got = []

    class Receiver:
        def attached(self, host):
            pass

        def deliver(self, host, now, raw, packet):
            got.append(packet)
    mn.attach(Receiver())
    udp = Packet(src=CN, dst=COA_A, rh2=HOA, payload=Raw(17, udp_datagram(CN, HOA, 2000, 1000, b"direct")))
    out = mn.receive(T_BU + S, "eth0", frame(A_MAC, MN_MAC, udp))
    (delivered,) = out.deliveries
    (packet,) = got
    assert packet.src == CN and packet.dst == HOA and packet.payload.data[-6:] == b"direct"
    assert parse(delivered).dst == HOA and mn.counters["mn.ro.rh2_received"] == 1
    request = Packet(src=CN, dst=COA_A, rh2=HOA, payload=EchoRequest(identifier=1, sequence=2, data=b"abcd"))
    out = mn.receive(T_BU + 2 * S, "eth0", frame(A_MAC, MN_MAC, request))
    (_, p, raw), = packets(out)
    assert is_direct(raw) and isinstance(p.payload, EchoReply) and p.payload.sequence == 2


def test_strip_processed_rh2_leaves_other_packets_alone():
    plain = udp_datagram_packet()
    assert strip_processed_rh2(plain) == plain
    wire = Packet(src=CN, dst=COA_A, rh2=HOA, payload=Raw(17, udp_datagram(CN, HOA, 1, 2, b"x"))).to_bytes()
    assert strip_processed_rh2(wire) == wire          # segments left 1: not processed
