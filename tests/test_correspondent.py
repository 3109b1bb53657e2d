"""The correspondent node (RFC 6275 §9), sans-I/O, with hand-built frames. Binding Updates are
authorised by return routability (the default) through helpers.correspondent.authorise; the return
routability checks themselves are tests/test_correspondent_rr.py."""
from dataclasses import replace
from ipaddress import IPv6Address

import pytest

from helpers.correspondent import CN, COA, COA2, HOA, HOA2, PEER_MAC, S, authorise, frame, make_cn, needs_rr, sent

from mip6fast.batch import DropReason, PacketBatch
from mip6fast.roles import Neighbor, NeighborState
from mip6fast.roles.correspondent import (
    DEFAULT_MAX_BINDINGS,
    MAX_RR_BINDING_LIFETIME,
    BindingCreated,
    BindingDeleted,
    BindingErrorSent,
    BindingExpired,
    BindingRefreshRequested,
    BindingUpdated,
    CorrespondentConfig,
)
from mip6fast.roles.counters import strict
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingError,
    BindingRefreshRequest,
    BindingUpdate,
    EchoReply,
    EchoRequest,
    Packet,
    ParameterProblem,
    Raw,
    UnknownMobilityMessage,
    parse,
)
from mip6fast.wire.ethernet import ethernet_frame, parse_ethernet

def raw_sent(out):
    return [bytes(parse_ethernet(t.frame)[3]) for t in out.frames()]


def bu(seq, lifetime=400, ack=True, home=False, hoa=HOA, coa=COA, options=(), with_hao=True):
    msg = BindingUpdate(seq, lifetime, ack=ack, home=home, options=options)
    if with_hao:
        return Packet(src=coa, dst=CN, home_address=hoa, payload=msg)
    return Packet(src=hoa, dst=CN, payload=msg)


def udp(src, dst, hoa=None, data=b"hello"):
    import struct
    body = struct.pack("!HHHH", 1000, 2000, 8 + len(data), 0) + data
    return Packet(src=src, dst=dst, home_address=hoa, payload=Raw(17, body))


def authorised(cn, now, packet):
    """``packet``'s BU signed through return routability with ``cn`` when the node requires it
    (helpers.correspondent.authorise)."""
    if not needs_rr(cn):
        return packet
    home = packet.home_address if packet.home_address is not None else packet.src
    return replace(packet, payload=authorise(cn, now, packet.payload, home, packet.src))


def bind(cn, seq=1, now=0, **kw):
    return cn.receive(now, "eth0", frame(authorised(cn, now, bu(seq, **kw))))


# ---------------------------------------------------------------- Mobility Header reception (§9.2)

def test_bad_mh_checksum_is_discarded_silently():
    cn = make_cn()
    raw = bytearray(bu(1).to_bytes())
    raw[-1] ^= 0xFF                          # inside the MH (its last option/padding byte)
    out = cn.receive(0, "eth0", frame(bytes(raw)))
    assert out.transmits == [] and out.notifications == []
    assert cn.counters["drop.mh.checksum"] == 1 and len(cn.cache) == 0


def _mh_bytes(packet: Packet, patch):
    """Re-checksum an MH after patching its bytes (so only the patched field is wrong)."""
    from mip6fast import _impl
    ck = _impl.load("checksum")
    raw = bytearray(packet.to_bytes())
    upper = len(raw) - len(packet.payload_bytes())
    patch(raw, upper)
    raw[upper + 4:upper + 6] = b"\0\0"
    src = packet.home_address or packet.src
    c = ck.pseudo_checksum(src.packed, packet.dst.packed, 135, bytes(raw[upper:]))
    raw[upper + 4:upper + 6] = c.to_bytes(2, "big")
    return bytes(raw), upper


def _one_pp(out):
    pkts = sent(out)
    assert len(pkts) == 1 and isinstance(pkts[0].payload, ParameterProblem)
    return pkts[0]


@pytest.mark.parametrize("with_hao", [False, True])
def test_payload_proto_not_59_gives_parameter_problem_code0(with_hao):
    cn = make_cn()
    raw, upper = _mh_bytes(bu(1, with_hao=with_hao, hoa=HOA if with_hao else COA),
                           lambda b, u: b.__setitem__(u, 6))
    out = cn.receive(0, "eth0", frame(raw))
    pp = _one_pp(out)
    # The pointer counts from the start of the IPv6 packet, so the HAO's 24 bytes move it (§9.2).
    assert pp.payload.code == 0 and pp.payload.pointer == upper == (64 if with_hao else 40)
    assert pp.dst == COA and pp.payload.invoking == raw
    assert len(cn.cache) == 0


def test_header_len_too_short_gives_parameter_problem_at_header_len():
    cn = make_cn()
    # A Binding Error (minimum 24 bytes) squeezed into Header Len 0 (8 bytes).
    body = bytes([59, 0, 7, 0, 0, 0, 1, 0])
    pkt = Packet(src=COA, dst=CN, payload=UnknownMobilityMessage(200, b"\0" * 2))
    raw, upper = _mh_bytes(pkt, lambda b, u: b.__setitem__(slice(u, u + 8), body))
    out = cn.receive(0, "eth0", frame(raw))
    pp = _one_pp(out)
    assert pp.payload.code == 0 and pp.payload.pointer == upper + 1


def test_unknown_mh_type_gives_binding_error_2():
    cn = make_cn()
    out = cn.receive(0, "eth0", frame(Packet(src=COA, dst=CN, payload=UnknownMobilityMessage(99, b"\0" * 10))))
    (be,) = sent(out)
    assert isinstance(be.payload, BindingError) and be.payload.status == 2
    assert be.payload.home_address == IPv6Address("::") and be.dst == COA and be.src == CN
    assert BindingErrorSent(0, 2, IPv6Address("::"), COA) in out.notifications


def test_unknown_mh_type_with_hao_of_a_binding_carries_the_home_address():
    cn = make_cn()
    bind(cn)
    pkt = Packet(src=COA, dst=CN, home_address=HOA, payload=UnknownMobilityMessage(99, b"\0" * 2))
    (be,) = sent(cn.receive(S, "eth0", frame(pkt)))
    assert be.payload.status == 2 and be.payload.home_address == HOA


def test_binding_errors_are_rate_limited():
    cn = make_cn(binding_error_rate=10, binding_error_burst=10)
    pkt = frame(Packet(src=COA, dst=CN, payload=UnknownMobilityMessage(99, b"\0" * 2)))
    n = sum(len(cn.receive(0, "eth0", pkt).transmits) for _ in range(25))
    assert n == 10 and cn.counters["drop.be.rate_limited"] == 15
    # 10 per second: 100 ms later exactly one more token.
    assert len(cn.receive(S // 10, "eth0", pkt).transmits) == 1
    assert len(cn.receive(S // 10, "eth0", pkt).transmits) == 0


# ---------------------------------------------------------------- Binding Update (§9.5.1)

def test_bu_with_hao_creates_binding_and_ba_goes_to_coa_with_rh2():
    cn = make_cn()
    out = bind(cn, seq=7, lifetime=100)
    (ba,) = sent(out)
    assert isinstance(ba.payload, BindingAcknowledgement)
    assert ba.payload.status == 0 and ba.payload.sequence == 7 and ba.payload.lifetime == 100
    assert ba.dst == COA and ba.rh2 == HOA and ba.src == CN and ba.home_address is None
    assert cn.bindings() == {HOA: COA}
    assert BindingCreated(0, HOA, COA, 100) in out.notifications
    # The HAO of the BU did not cause a Binding Error (§9.3.1 exception).
    assert not any(isinstance(n, BindingErrorSent) for n in out.notifications)
    assert cn.counters["be.sent.status.1"] == 0


def test_bu_without_ack_creates_binding_silently():
    cn = make_cn()
    out = bind(cn, ack=False)
    assert out.transmits == [] and cn.bindings() == {HOA: COA}


def test_alternate_care_of_address_option():
    cn = make_cn()
    out = bind(cn, options=(AlternateCareOfAddress(COA2),))
    assert cn.bindings() == {HOA: COA2}
    (ba,) = sent(out)
    assert ba.dst == COA2 and ba.rh2 == HOA


def test_pluggable_check_discards_silently():
    seen = []

    def check(now, packet, msg):
        seen.append((now, packet.home_address, msg.sequence))
        return False

    cn = make_cn(accept_binding_update=check)
    out = bind(cn, seq=3, now=5)
    assert out.transmits == [] and out.notifications == [] and len(cn.cache) == 0
    assert seen == [(5, HOA, 3)] and cn.counters["drop.bu.not_authorised"] == 1


def test_home_registration_gets_131():
    cn = make_cn()
    (ba,) = sent(bind(cn, home=True))
    assert ba.payload.status == 131 and ba.dst == COA and ba.rh2 == HOA and len(cn.cache) == 0


def test_registration_type_change_gets_139():
    cn = make_cn()
    bind(cn, seq=1)
    (ba,) = sent(bind(cn, seq=2, home=True, now=S))
    assert ba.payload.status == 139 and cn.cache[HOA].sequence == 1


@pytest.mark.parametrize("coa", ["ff02::1", "fe80::99", "::"])
def test_bu_from_multicast_or_link_local_source_is_discarded(coa):
    cn = make_cn()
    pkt = Packet(src=coa, dst=CN, home_address=HOA, payload=BindingUpdate(1, 100, ack=True))
    out = cn.receive(0, "eth0", frame(pkt))
    assert out.transmits == [] and len(cn.cache) == 0


@pytest.mark.parametrize("hoa", ["ff0e::1", "fe80::5"])
def test_bu_for_link_local_or_multicast_home_address_is_discarded(hoa):
    cn = make_cn()
    out = bind(cn, hoa=IPv6Address(hoa))
    assert out.transmits == [] and len(cn.cache) == 0 and cn.counters["drop.bu.address_scope"] == 1


def test_stale_sequence_gets_135_with_last_accepted():
    cn = make_cn()
    bind(cn, seq=10)
    (ba,) = sent(bind(cn, seq=9, now=S))
    assert ba.payload.status == 135 and ba.payload.sequence == 10
    (ba,) = sent(bind(cn, seq=10, now=S))
    assert ba.payload.status == 135 and ba.payload.sequence == 10
    # A stale BU is answered even with A clear (§9.5.4).
    (ba,) = sent(bind(cn, seq=9, ack=False, now=S))
    assert ba.payload.status == 135


def test_any_sequence_accepted_without_entry_and_wraparound():
    cn = make_cn()
    bind(cn, seq=65535)
    out = bind(cn, seq=0, coa=COA2, now=S)
    (ba,) = sent(out)
    assert ba.payload.status == 0 and cn.bindings() == {HOA: COA2}
    assert BindingUpdated(S, HOA, COA2, 400) in out.notifications
    # 32768 ahead is "not greater" (modulo 2^16 comparison): stale.
    (ba,) = sent(bind(cn, seq=32768, now=S))
    assert ba.payload.status == 135 and ba.payload.sequence == 0
    (ba,) = sent(bind(cn, seq=32767, now=S))
    assert ba.payload.status == 0


def test_lifetime_capped_at_420_and_entry_expires_then():
    cn = make_cn()
    out = bind(cn, lifetime=4000)
    (ba,) = sent(out)
    assert ba.payload.lifetime == MAX_RR_BINDING_LIFETIME == 420
    assert cn.cache[HOA].expires_ns == 420 * S
    assert out.next_deadline == 420 * S
    out = cn.tick(420 * S - 1)
    assert len(cn.cache) == 1 and out.notifications == []
    out = cn.tick(420 * S)
    assert len(cn.cache) == 0 and BindingExpired(420 * S, HOA) in out.notifications


def test_configured_cap_is_rounded_to_4_seconds():
    cn = make_cn(max_binding_lifetime=103)
    (ba,) = sent(bind(cn, lifetime=400))
    assert ba.payload.lifetime == 100 and cn.cache[HOA].expires_ns == 100 * S


def test_refresh_replaces_expiry_timer():
    cn = make_cn()
    bind(cn, seq=1, lifetime=100)
    bind(cn, seq=2, lifetime=100, now=50 * S)
    out = cn.tick(100 * S)
    assert len(cn.cache) == 1 and out.notifications == []
    out = cn.tick(150 * S)
    assert len(cn.cache) == 0 and BindingExpired(150 * S, HOA) in out.notifications


def test_deregistration_lifetime_zero_deletes():
    cn = make_cn()
    bind(cn, seq=1)
    out = bind(cn, seq=2, lifetime=0, now=S)
    (ba,) = sent(out)
    assert ba.payload.status == 0 and ba.payload.lifetime == 0 and len(cn.cache) == 0
    assert BindingDeleted(S, HOA) in out.notifications
    # The expiry timer is gone with the entry: nothing expires later.
    assert cn.tick(1000 * S).notifications == []


def test_deregistration_from_home_without_hao():
    cn = make_cn()
    bind(cn, seq=1)
    out = cn.receive(S, "eth0", frame(authorised(cn, S, bu(2, lifetime=400, with_hao=False, hoa=COA2))))
    # The home address is the source: care-of = home → a de-registration (§9.5.1); nothing existed.
    assert len(cn.cache) == 1 and not any(isinstance(n, BindingDeleted) for n in out.notifications)
    cn2 = make_cn()
    bind(cn2, seq=1, hoa=COA2, coa=COA)
    out = cn2.receive(S, "eth0", frame(authorised(cn2, S, bu(2, lifetime=400, with_hao=False, hoa=COA2))))
    (ba,) = sent(out)
    assert len(cn2.cache) == 0 and ba.dst == COA2 and ba.rh2 is None
    assert BindingDeleted(S, COA2) in out.notifications


def test_deregistration_with_stale_sequence_is_refused():
    cn = make_cn()
    bind(cn, seq=5)
    before = cn.cache[HOA]
    (ba,) = sent(bind(cn, seq=4, lifetime=0, now=S))
    assert ba.payload.status == 135 and ba.payload.sequence == 5 and len(cn.cache) == 1
    assert cn.cache[HOA] == before                       # §9.5.1: the binding stays as it was
    (ba,) = sent(bind(cn, seq=5, lifetime=0, now=S))
    assert ba.payload.status == 135 and cn.cache[HOA] == before


def test_deregistration_without_a_binding_is_acknowledged_and_creates_nothing():
    cn = make_cn()
    out = bind(cn, seq=9, lifetime=0)
    (ba,) = sent(out)
    assert ba.payload.status == 0 and ba.payload.sequence == 9 and len(cn.cache) == 0
    assert not any(isinstance(n, BindingDeleted) for n in out.notifications)


# ---------------------------------------------------------------- a bounded binding cache (issue 12)

HOA3 = IPv6Address("2001:db8:9::7")


def test_a_new_binding_beyond_max_bindings_gets_130_and_is_counted():
    cn = make_cn(max_bindings=2)
    bind(cn, seq=1, hoa=HOA)
    bind(cn, seq=1, hoa=HOA2)
    out = bind(cn, seq=1, hoa=HOA3, now=S)
    (ba,) = sent(out)
    assert ba.payload.status == 130 and ba.payload.sequence == 1 and ba.payload.lifetime == 0
    assert ba.dst == COA and ba.rh2 == HOA3
    assert HOA3 not in cn.cache and len(cn.cache) == 2
    assert not any(isinstance(n, BindingCreated) for n in out.notifications)
    assert cn.counters["bu.refused.max_bindings"] == 1
    assert cn.counters["drop.bu.status.130"] == 1 and cn.counters["ba.sent.status.130"] == 1
    assert cn.counters["binding.created"] == 2
    # §9.5.4: a rejection for insufficient resources is answered even with A clear.
    (ba,) = sent(bind(cn, seq=2, hoa=HOA3, ack=False, now=S))
    assert ba.payload.status == 130 and cn.counters["bu.refused.max_bindings"] == 2
    # Nothing was kept of the refused home address: no binding, no timer.
    assert cn.tick(1000 * S).notifications.count(BindingExpired(1000 * S, HOA3)) == 0


def test_existing_bindings_are_refreshed_moved_and_deleted_at_the_limit():
    cn = make_cn(max_bindings=2)
    bind(cn, seq=1, hoa=HOA)
    bind(cn, seq=1, hoa=HOA2)
    out = bind(cn, seq=2, hoa=HOA, coa=COA2, now=S)              # a move of an existing binding
    (ba,) = sent(out)
    assert ba.payload.status == 0 and cn.bindings()[HOA] == COA2
    assert BindingUpdated(S, HOA, COA2, 400) in out.notifications
    (ba,) = sent(bind(cn, seq=1, hoa=HOA2, now=S))                # stale is still 135, not 130
    assert ba.payload.status == 135
    (ba,) = sent(bind(cn, seq=2, hoa=HOA2, lifetime=0, now=S))    # a de-registration frees room
    assert ba.payload.status == 0 and len(cn.cache) == 1
    (ba,) = sent(bind(cn, seq=1, hoa=HOA3, now=2 * S))
    assert ba.payload.status == 0 and HOA3 in cn.cache
    assert cn.counters["bu.refused.max_bindings"] == 0
    # A de-registration of an unknown home address at the limit is acknowledged as below it (§9.5.3).
    (ba,) = sent(bind(cn, seq=1, hoa=HOA2, lifetime=0, now=2 * S))
    assert ba.payload.status == 0 and cn.counters["bu.refused.max_bindings"] == 0


def test_an_expired_binding_makes_room():
    cn = make_cn(max_bindings=1)
    bind(cn, seq=1, hoa=HOA, lifetime=8)
    assert sent(bind(cn, seq=1, hoa=HOA2, now=S))[0].payload.status == 130
    cn.tick(9 * S)
    assert len(cn.cache) == 0
    assert sent(bind(cn, seq=1, hoa=HOA2, now=10 * S))[0].payload.status == 0


def test_a_cache_hint_above_max_bindings_is_not_allocated():
    small = make_cn(max_bindings=2).cache.memory_bytes()    # the default hint, 1024, is cut to 2
    assert small == make_cn(max_bindings=2, cache_capacity=65536).cache.memory_bytes()
    assert small < make_cn().cache.memory_bytes() // 10


def test_defaults_bound_the_cache_and_draw_a_random_hash_seed():
    config = CorrespondentConfig()
    assert config.max_bindings == DEFAULT_MAX_BINDINGS == 65536 and config.cache_seed is None
    a, b = make_cn(), make_cn()
    key = HOA.packed
    assert a.cache.table.hash(key) != b.cache.table.hash(key)     # two nodes, two SipHash keys
    fixed = [make_cn(cache_seed=7).cache.table.hash(key) for _ in range(2)]
    assert fixed[0] == fixed[1]                                   # a fixed seed stays reproducible
    with pytest.raises(ValueError):
        CorrespondentConfig(max_bindings=0)


# ---------------------------------------------------------------- data (§9.3)

def test_send_to_bound_home_address_gets_rh2():
    cn = make_cn()
    bind(cn)
    out = cn.send(S, udp(CN, HOA).to_bytes())
    (pkt,) = sent(out)
    assert pkt.dst == COA and pkt.rh2 == HOA and pkt.payload == udp(CN, HOA).payload
    assert cn.counters["rh2.inserted"] == 1
    assert cn.datapath.kernel_counters("insert_rh2")[DropReason.FORWARDED] == 1


def test_send_batch_inserts_rh2_only_for_bound():
    cn = make_cn()
    bind(cn)
    cn.nd["eth0"].neighbors[HOA2] = Neighbor(HOA2, NeighborState.REACHABLE, mac=PEER_MAC,
                                             reachable_until=10**15)
    cn.add_route("2001:db8:9::/64", "eth0")
    out = cn.send_batch(S, [udp(CN, HOA).to_bytes(), udp(CN, HOA2).to_bytes(), b"junk"])
    a, b = sent(out)
    assert (a.dst, a.rh2) == (COA, HOA) and (b.dst, b.rh2) == (HOA2, None)
    assert cn.counters["drop.send_parse.ipv6_header"] == 1


def test_hao_with_binding_is_swapped_and_delivered():
    cn = make_cn()
    bind(cn)
    out = cn.receive(S, "eth0", frame(udp(COA, CN, hoa=HOA)))
    (raw,) = out.deliveries
    delivered = parse(raw)          # the checksum verifies with the home address as the source
    assert delivered.src == HOA and delivered.home_address is None      # the option is not passed up
    assert raw[6] == 17 and delivered.payload == udp(COA, CN, hoa=HOA).payload
    assert cn.counters["hao.swapped"] == 1


def test_strip_home_address_option_leaves_other_packets_alone():
    from mip6fast.roles.correspondent.packets import strip_home_address_option
    plain = udp(CN, HOA).to_bytes()
    assert strip_home_address_option(plain) == plain
    with_hao = udp(COA, CN, hoa=HOA).to_bytes()
    stripped = strip_home_address_option(with_hao)
    assert len(stripped) == len(with_hao) - 24 and stripped[6] == 17
    other_option = bytearray(with_hao)
    other_option[42] = 0x1E          # an unknown option in place of the HAO: not ours to remove
    assert strip_home_address_option(bytes(other_option)) == bytes(other_option)
    assert strip_home_address_option(with_hao[:45]) == with_hao[:45]


def test_echo_request_with_hao_is_answered_with_rh2():
    cn = make_cn()
    bind(cn)
    req = Packet(src=COA, dst=CN, home_address=HOA, payload=EchoRequest(identifier=1, sequence=2, data=b"x"))
    (reply,) = sent(cn.receive(S, "eth0", frame(req)))
    assert isinstance(reply.payload, EchoReply) and reply.dst == COA and reply.rh2 == HOA


def test_hao_with_bad_icmp_checksum_is_dropped_after_swap():
    cn = make_cn()
    bind(cn)
    raw = bytearray(Packet(src=COA, dst=CN, home_address=HOA,
                           payload=EchoRequest(identifier=1, sequence=2, data=b"x")).to_bytes())
    raw[-1] ^= 1
    out = cn.receive(S, "eth0", frame(bytes(raw)))
    assert out.transmits == [] and out.deliveries == [] and cn.counters["drop.parse.checksum"] == 1


@pytest.mark.parametrize("hoa,coa", [(HOA2, COA), (HOA, COA2)])
def test_hao_without_matching_binding_gets_binding_error_1(hoa, coa):
    cn = make_cn()
    bind(cn)
    out = cn.receive(S, "eth0", frame(udp(coa, CN, hoa=hoa)))
    assert out.deliveries == []
    (be,) = sent(out)
    assert isinstance(be.payload, BindingError) and be.payload.status == 1
    assert be.payload.home_address == hoa and be.dst == coa and be.rh2 is None
    assert BindingErrorSent(S, 1, hoa, coa) in out.notifications


def test_binding_error_1_is_rate_limited():
    cn = make_cn(binding_error_burst=2, binding_error_rate=1)
    f = frame(udp(COA, CN, hoa=HOA2))
    assert [len(cn.receive(0, "eth0", f).transmits) for _ in range(4)] == [1, 1, 0, 0]


def test_receive_batch_mixes_verdicts():
    cn = make_cn()
    bind(cn)
    frames = [frame(udp(COA, CN, hoa=HOA)), frame(udp(COA, CN, hoa=HOA2)), frame(udp(COA, CN)),
              frame(authorised(cn, S, bu(2, coa=COA2))), ethernet_frame(bytes.fromhex("020000000077"), PEER_MAC,
                                                     udp(COA, CN, hoa=HOA).to_bytes())]
    out = cn.receive_batch(S, "eth0", PacketBatch.from_packets(frames))
    assert len(out.deliveries) == 2                       # swapped + plain
    kinds = [type(p.payload).__name__ for p in sent(out)]
    assert sorted(kinds) == ["BindingAcknowledgement", "BindingError"]
    assert cn.bindings() == {HOA: COA2} and cn.counters["drop.mac_filter"] == 1


def test_padded_short_frame_is_trimmed():
    cn = make_cn()
    bind(cn)
    raw = udp(COA, CN, hoa=HOA, data=b"").to_bytes()
    out = cn.receive(S, "eth0", frame(raw) + b"\0" * 30)
    assert len(out.deliveries) == 1


# ---------------------------------------------------------------- expiry and refresh requests

def test_brr_before_expiry_only_for_active_bindings():
    cn = make_cn(refresh_requests=True, refresh_lead_ns=10 * S)
    bind(cn, lifetime=100)
    bind(cn, seq=1, hoa=HOA2, coa=COA2, lifetime=100)
    cn.send(S, udp(CN, HOA).to_bytes())                  # HOA's binding carries traffic, HOA2's not
    out = cn.tick(90 * S)
    (brr,) = sent(out)
    assert isinstance(brr.payload, BindingRefreshRequest) and brr.dst == COA and brr.rh2 == HOA
    assert BindingRefreshRequested(90 * S, HOA, COA) in out.notifications
    assert cn.counters["brr.skipped_idle"] == 1
    out = cn.tick(100 * S)
    assert {n.home_address for n in out.notifications if isinstance(n, BindingExpired)} == {HOA, HOA2}


# ---------------------------------------------------------------- a node without Mobile IPv6

def test_no_mobility_support_mh_gives_parameter_problem_code1():
    cn = make_cn(mobility_support=False)
    out = cn.receive(0, "eth0", frame(bu(1, with_hao=False, hoa=COA)))
    pp = _one_pp(out)
    assert pp.payload.code == 1 and pp.payload.pointer == 6 and pp.dst == COA
    assert len(cn.cache) == 0


def test_no_mobility_support_mh_after_destination_options_points_at_that_header():
    cn = make_cn(mobility_support=False)
    pkt = Packet(src=COA, dst=CN, destination_options=((0x1E, b"\0\0\0\0"),),
                 payload=BindingUpdate(1, 100, ack=True))
    raw = pkt.to_bytes()
    pp = _one_pp(cn.receive(0, "eth0", frame(raw)))
    assert pp.payload.code == 1 and pp.payload.pointer == 40 and raw[40] == 135


def test_no_mobility_support_malformed_mh_still_code1():
    cn = make_cn(mobility_support=False)
    raw = bytearray(bu(1, with_hao=False, hoa=COA).to_bytes())
    raw[-1] ^= 0xFF
    pp = _one_pp(cn.receive(0, "eth0", frame(bytes(raw))))
    assert pp.payload.code == 1 and pp.payload.pointer == 6


@pytest.mark.parametrize("payload", ["bu", "udp"])
def test_no_mobility_support_hao_gives_parameter_problem_code2(payload):
    cn = make_cn(mobility_support=False)
    pkt = bu(1) if payload == "bu" else udp(COA, CN, hoa=HOA)
    raw = pkt.to_bytes()
    out = cn.receive(0, "eth0", frame(raw))
    pp = _one_pp(out)
    # PadN(2) then the option: the option type byte is at 40 + 2 (dest-opts header) + 4.
    assert pp.payload.code == 2 and pp.payload.pointer == 46 and raw[46] == 201
    assert out.deliveries == [] and len(cn.cache) == 0


def test_no_mobility_support_plain_traffic_is_delivered():
    cn = make_cn(mobility_support=False)
    out = cn.receive(0, "eth0", frame(udp(COA, CN)))
    assert len(out.deliveries) == 1 and out.transmits == []


def test_rh2_to_a_correspondent_is_dropped():
    cn = make_cn()
    out = cn.receive(0, "eth0", frame(Packet(src=COA, dst=CN, rh2=CN, payload=Raw(17, b"\0" * 8))))
    assert out.deliveries == [] and cn.counters["drop.rh2.not_a_mobile_node"] == 1


def test_frame_larger_than_a_slot_still_goes_through_the_kernel():
    cn = make_cn()
    out = cn.receive(0, "eth0", frame(udp(COA, CN, hoa=HOA2, data=b"x" * 2500)))
    assert out.deliveries == [] and cn.counters["be.sent.status.1"] == 1


# ---------------------------------------------------------------- robustness

def test_mutated_frames_never_raise():
    assert strict()      # conftest: every counter name a node uses must be declared
    import random
    rng = random.Random(99)
    seeds = [frame(bu(1)), frame(bu(2, with_hao=False, hoa=COA)), frame(udp(COA, CN, hoa=HOA)),
             frame(udp(COA, CN, hoa=HOA2)), frame(Packet(src=COA, dst=CN, home_address=HOA,
                                                         payload=UnknownMobilityMessage(99, b"\0" * 2))),
             frame(Packet(src=COA, dst=CN, home_address=HOA, payload=EchoRequest(1, 1, b"x" * 16)))]
    nodes = [make_cn(), make_cn(mobility_support=False), make_cn(refresh_requests=True)]
    for node in nodes:
        bind(node)
    now = S
    for k in range(3000):
        f = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.6 and f:
                f[rng.randrange(len(f))] = rng.randrange(256)
            elif op < 0.8 and f:
                del f[rng.randrange(len(f)):]
            else:
                f += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        now += 1000
        for node in nodes:
            if k % 50 == 0:
                node.receive_batch(now, "eth0", PacketBatch.from_packets([bytes(f), *seeds[:2]]))
            else:
                node.receive(now, "eth0", bytes(f))
            node.tick(now)


def test_no_brr_when_lifetime_is_shorter_than_the_lead():
    cn = make_cn(refresh_requests=True, refresh_lead_ns=10 * S)
    bind(cn, lifetime=8)
    cn.send(S, udp(CN, HOA).to_bytes())
    out = cn.tick(8 * S)
    assert out.transmits == [] and cn.counters["brr.sent"] == 0
    assert BindingExpired(8 * S, HOA) in out.notifications


def test_brr_not_sent_after_deregistration():
    cn = make_cn(refresh_requests=True, refresh_lead_ns=10 * S)
    bind(cn, lifetime=100)
    cn.send(S, udp(CN, HOA).to_bytes())
    bind(cn, seq=2, lifetime=0, now=2 * S)
    assert cn.tick(200 * S).transmits == [] and cn.counters["brr.sent"] == 0


def test_parameter_problem_is_not_sent_to_a_multicast_destination():
    cn = make_cn(mobility_support=False)
    pkt = Packet(src=COA, dst="ff02::1", payload=BindingUpdate(1, 100))
    out = cn.receive(0, "eth0", ethernet_frame(bytes.fromhex("333300000001"), PEER_MAC, pkt.to_bytes()))
    assert out.transmits == [] and cn.counters["drop.icmp_error_not_allowed"] == 1


def test_no_parameter_problem_about_an_icmp_error():
    from mip6fast.wire import DestinationUnreachable
    cn = make_cn(mobility_support=False)
    pkt = Packet(src=COA, dst=CN, home_address=HOA,
                 payload=DestinationUnreachable(code=1, invoking=b"\x60" + b"\0" * 47))
    out = cn.receive(0, "eth0", frame(pkt))
    assert out.transmits == [] and cn.counters["drop.icmp_error_about_error"] == 1


def test_send_batch_takes_a_packet_batch_from_the_tun():
    # The runner hands a host role what it read from the TUN as a PacketBatch, not a list.
    from mip6fast.batch import PacketBatch
    cn = make_cn()
    bind(cn)
    batch = PacketBatch.from_packets([udp(CN, HOA).to_bytes()])
    (a,) = sent(cn.send_batch(S, batch))
    assert (a.dst, a.rh2) == (COA, HOA)
