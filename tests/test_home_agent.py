"""The home agent, sans-I/O: hand-built frames in, frames and notifications out (RFC 6275 §9.2, §10)."""
import random
from ipaddress import IPv6Address

import pytest
from helpers.home_agent import (
    CN,
    COA,
    HA,
    HA2,
    HA_MAC,
    HA_MAC2,
    HOME,
    HOME_NODE_MAC,
    PREFIX,
    ROUTER_MAC,
    S,
    ba_of,
    bu_packet,
    echo,
    frame_in,
    make_ha,
    of_type,
    pkts,
    register,
)

from mip6fast._checksum_py import checksum
from mip6fast.batch import DropReason, PacketBatch
from mip6fast.binding_cache import Outcome, UpdateResult
from mip6fast.roles.counters import strict
from mip6fast.roles.home_agent import (
    BindingCreated,
    BindingDeleted,
    BindingExpired,
    BindingUpdated,
    HomeAgentConfig,
    RegistrationRejected,
)
from mip6fast.wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingError,
    BindingRefreshAdvice,
    BindingRefreshRequest,
    BindingUpdate,
    DestinationUnreachable,
    EchoRequest,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    HomeAgentInformation,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    NeighborAdvertisement,
    NeighborSolicitation,
    NonceIndices,
    Packet,
    PacketTooBig,
    ParameterProblem,
    ParseError,
    PrefixInformation,
    Raw,
    RouterAdvertisement,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    UnknownMobilityMessage,
    home_agents_anycast,
    parse,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

# ---------------------------------------------------------------- §9.2 Mobility Header reception

def _mh_with_checksum(payload_proto=59, header_len=None, mh_type=5, length=None):
    """A BU whose Payload Proto / Header Len are wrong but whose checksum is right; ``length`` cuts the
    Mobility Header to that many bytes (the IPv6 Payload Length follows)."""
    pkt = bytearray(Packet(src=CN, dst=HA, payload=BindingUpdate(1, 400, ack=True, home=True)).to_bytes())
    mh = 40
    if length is not None:
        del pkt[mh + length:]
        pkt[4:6] = length.to_bytes(2, "big")
    pkt[mh] = payload_proto
    if header_len is not None:
        pkt[mh + 1] = header_len
    pkt[mh + 2] = mh_type
    pkt[mh + 4:mh + 6] = b"\0\0"
    body = bytes(pkt[mh:])
    pseudo = CN.packed + HA.packed + len(body).to_bytes(4, "big") + b"\0\0\0\x87"
    c = checksum(pseudo + body)
    pkt[mh + 4:mh + 6] = c.to_bytes(2, "big")
    return bytes(pkt)


def test_bad_checksum_is_silently_discarded():
    ha = make_ha()
    raw = bytearray(bu_packet().to_bytes())
    raw[-1] ^= 0xFF
    out = ha.receive(3 * S, "eth1", frame_in(bytes(raw)))
    assert out.transmits == [] and ha.counters["drop.parse.checksum"] == 1


def test_payload_proto_not_59_parameter_problem_pointing_at_it():
    ha = make_ha()
    raw = _mh_with_checksum(payload_proto=6)
    with pytest.raises(ParseError):
        parse(raw)
    out = ha.receive(3 * S, "eth1", frame_in(raw))
    (pp,) = of_type(out, ParameterProblem)
    assert pp.payload.code == 0 and pp.payload.pointer == 40 and pp.dst == CN and pp.src == HA
    assert pp.payload.invoking == raw


def test_header_len_too_short_parameter_problem_pointing_at_it():
    ha = make_ha()
    raw = _mh_with_checksum(header_len=0, length=8)
    with pytest.raises(ParseError) as err:
        parse(raw)
    assert err.value.field == "header_len"
    # Header Len 0 (8 bytes) is below a BU's 16: Parameter Problem at the Header Len byte.
    out = ha.receive(3 * S, "eth1", frame_in(raw))
    pps = of_type(out, ParameterProblem)
    assert len(pps) == 1 and pps[0].payload.pointer == 41


def test_pointer_moves_with_a_destination_options_header():
    ha = make_ha()
    pkt = bytearray(bu_packet().to_bytes())        # with a HAO: dest opts of 24 bytes before the MH
    mh = 64
    pkt[mh] = 17
    pkt[mh + 4:mh + 6] = b"\0\0"
    body = bytes(pkt[mh:])
    c = checksum(HOME.packed + HA.packed + len(body).to_bytes(4, "big") + b"\0\0\0\x87" + body)
    pkt[mh + 4:mh + 6] = c.to_bytes(2, "big")
    out = ha.receive(3 * S, "eth1", frame_in(bytes(pkt)))
    (pp,) = of_type(out, ParameterProblem)
    assert pp.payload.pointer == 64


def test_unknown_mh_type_binding_error_2_rate_limited():
    ha = make_ha()
    p = Packet(src=CN, dst=HA, payload=UnknownMobilityMessage(42, b"\0" * 10))
    out = ha.receive(3 * S, "eth1", frame_in(p))
    (be,) = of_type(out, BindingError)
    assert be.payload.status == 2 and be.payload.home_address == IPv6Address("::") and be.dst == CN
    assert of_type(ha.receive(3 * S + 1, "eth1", frame_in(p)), BindingError) == []
    assert ha.counters["drop.be.rate_limited"] == 1
    assert len(of_type(ha.receive(5 * S, "eth1", frame_in(p)), BindingError)) == 1



def test_only_a_bu_may_carry_a_hao_and_only_a_ba_an_rh2():
    """§6.1: a Mobility Header message other than a BU with a Home Address option, or other than a BA
    with a Type 2 routing header, is dropped: no answer, the binding untouched."""
    ha = make_ha()
    register(ha)
    before = ha.cache.get(HOME)
    brr = Packet(src=COA, dst=HA, home_address=HOME, payload=BindingRefreshRequest())
    assert not ha.receive(10 * S, "eth1", frame_in(brr)).transmits
    bu = bu_packet(seq=2)
    with_rh2 = Packet(src=bu.src, dst=bu.dst, home_address=bu.home_address, rh2=HOME, payload=bu.payload)
    assert not ha.receive(11 * S, "eth1", frame_in(with_rh2)).transmits
    assert ha.cache.get(HOME) == before


# ---------------------------------------------------------------- §10.3.1 home registration

def test_first_registration_dad_then_accept_with_rh2_ack_and_proxy():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(ack=False, lifetime=1000)))
    ns = of_type(out, NeighborSolicitation)
    assert len(ns) == 1 and ns[0].src == IPv6Address("::") and ns[0].payload.target == HOME
    assert ns[0].dst == solicited_node_multicast(HOME) and ns[0].payload.options == ()
    assert of_type(out, BindingAcknowledgement) == [] and HOME not in ha.cache
    out = ha.tick(4 * S)
    ba = ba_of(out)                                   # acknowledged although A was clear
    assert ba.payload.status == 0 and ba.payload.sequence == 1
    assert ba.payload.lifetime == 420                 # capped at max_lifetime
    assert ba.dst == COA and ba.rh2 == HOME and ba.src == HA
    assert [type(n) for n in out.notifications] == [BindingCreated]
    assert ha.cache[HOME].care_of_address == COA
    nas = [p for p in pkts(out, "eth0") if isinstance(p.payload, NeighborAdvertisement)]
    assert len(nas) == 1
    na = nas[0]
    assert na.dst == ALL_NODES and na.payload.target == HOME
    assert (na.payload.router, na.payload.solicited, na.payload.override) == (False, False, True)
    assert na.payload.options == (TargetLinkLayerAddress(HA_MAC),) and na.hop_limit == 255
    assert ha.counters["ba.sent.status.0"] == 1


def test_proxy_nas_repeat_three_times_one_second_apart():
    ha = make_ha()
    register(ha)
    times = []
    for t in range(5, 10):
        out = ha.tick(t * S)
        if of_type(out, NeighborAdvertisement):
            times.append(t)
    assert times == [5, 6]                           # 4 s (with the BA), 5 s, 6 s: three in all
    assert ha.counters["proxy.na_sent"] == 3


def test_an_update_right_after_creation_does_not_cut_the_proxy_nas_short():
    """§10.4.1: the unsolicited NAs of a new binding go out in full even when the mobile node updates
    the binding (a refresh, a new care-of address) before the last one."""
    ha = make_ha()
    register(ha)                                     # created at 4 s, first NA with the BA
    out = ha.receive(4 * S + S // 2, "eth1", frame_in(bu_packet(seq=2, coa="2001:db8:2::77")))
    assert ba_of(out).payload.status == 0
    times = [t for t in range(5, 10) if of_type(ha.tick(t * S), NeighborAdvertisement)]
    assert times == [5, 6]
    assert ha.counters["proxy.na_sent"] == 3


def test_dad_failure_status_134_no_binding():
    ha = make_ha()
    ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    na = Packet(src=HOME, dst=ALL_NODES, hop_limit=255,
                payload=NeighborAdvertisement(HOME, override=True, options=(TargetLinkLayerAddress(HOME_NODE_MAC),)))
    ha.receive(3 * S + 100, "eth0", ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), HOME_NODE_MAC,
                                                   na.to_bytes()))
    out = ha.tick(4 * S)
    ba = ba_of(out)
    assert ba.payload.status == 134 and ba.payload.lifetime == 0
    assert HOME not in ha.cache and HOME not in ha.nd["eth0"].proxies
    assert [n.status for n in out.notifications if isinstance(n, RegistrationRejected)] == [134]


def test_link_local_dad_only_with_l_flag():
    ha = make_ha()
    ll = IPv6Address("fe80::9")
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(link_local=True)))
    assert sorted(p.payload.target for p in of_type(out, NeighborSolicitation)) == sorted([HOME, ll])
    na = Packet(src=ll, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(ll, override=True))
    ha.receive(3 * S + 1, "eth0", ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), HOME_NODE_MAC, na.to_bytes()))
    assert ba_of(ha.tick(4 * S)).payload.status == 134
    # L clear: an NA for the link-local address is ignored.
    ha2 = make_ha()
    out = ha2.receive(3 * S, "eth1", frame_in(bu_packet()))
    assert [p.payload.target for p in of_type(out, NeighborSolicitation)] == [HOME]
    ha2.receive(3 * S + 1, "eth0", ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), HOME_NODE_MAC,
                                                  na.to_bytes()))
    assert ba_of(ha2.tick(4 * S)).payload.status == 0


def test_l_flag_proxies_the_link_local_address_too():
    ha = make_ha()
    register(ha, link_local=True)
    assert {HOME, IPv6Address("fe80::9")} <= ha.nd["eth0"].proxies


def test_no_dad_when_disabled_or_virtual():
    for kw in ({"dad": False}, {"virtual_home_link": True}):
        ha = make_ha(**kw)
        out = ha.receive(3 * S, "eth1", frame_in(bu_packet()))
        assert ba_of(out).payload.status == 0 and of_type(out, NeighborSolicitation) == []
    assert HOME not in ha.nd["eth0"].proxies and of_type(out, NeighborAdvertisement) == []


def test_alternate_care_of_address_is_the_care_of_address():
    ha = make_ha(dad=False)
    alt = IPv6Address("2001:db8:5::5")
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(options=(AlternateCareOfAddress(alt),))))
    ba = ba_of(out)
    assert ha.cache[HOME].care_of_address == alt and ba.dst == alt and ba.rh2 == HOME


def test_update_refresh_sequence_and_stale_135():
    ha = make_ha()
    register(ha, seq=10)
    newcoa = IPv6Address("2001:db8:6::6")
    out = ha.receive(10 * S, "eth1", frame_in(bu_packet(seq=11, coa=newcoa)))
    assert ba_of(out).payload.status == 0 and of_type(out, NeighborSolicitation) == []   # no DAD again
    assert [type(n) for n in out.notifications] == [BindingUpdated]
    assert ha.cache[HOME].care_of_address == newcoa
    out = ha.receive(11 * S, "eth1", frame_in(bu_packet(seq=5, coa=newcoa)))
    ba = ba_of(out)
    assert ba.payload.status == 135 and ba.payload.sequence == 11
    assert ha.cache[HOME].sequence == 11 and ha.cache[HOME].care_of_address == newcoa
    assert ha.counters["ba.sent.status.135"] == 1


def test_stale_from_the_cache_outcome(monkeypatch):
    ha = make_ha(dad=False)
    ha.receive(3 * S, "eth1", frame_in(bu_packet(seq=1)))
    monkeypatch.setattr(ha.cache, "update", lambda *a, **k: UpdateResult(Outcome.STALE, 77, 0))
    ba = ba_of(ha.receive(4 * S, "eth1", frame_in(bu_packet(seq=2))))
    assert ba.payload.status == 135 and ba.payload.sequence == 77


def test_nomem_130(monkeypatch):
    ha = make_ha(dad=False)
    monkeypatch.setattr(ha.cache, "update", lambda *a, **k: UpdateResult(Outcome.NOMEM, 0, -1))
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    assert ba_of(out).payload.status == 130
    assert [n.status for n in out.notifications] == [130]


def test_max_bindings_130():
    ha = make_ha(dad=False, max_bindings=1)
    ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(home=IPv6Address("2001:db8:1::a"))))
    assert ba_of(out).payload.status == 130


def test_not_home_subnet_132():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(home=IPv6Address("2001:db8:9::9"))))
    ba = ba_of(out)
    assert ba.payload.status == 132 and ba.rh2 == IPv6Address("2001:db8:9::9")


def test_not_a_home_agent_here_131():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(dst=HA2)))
    assert ba_of(out).payload.status == 131


def test_deregistration_without_binding_133():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(lifetime=0)))
    assert ba_of(out).payload.status == 133


def test_registration_type_change_139():
    ha = make_ha()
    register(ha)
    p = Packet(src=COA, dst=HA, home_address=HOME, payload=BindingUpdate(2, 100, ack=True, home=False))
    out = ha.receive(10 * S, "eth1", frame_in(p))
    assert ba_of(out).payload.status == 139 and ha.cache[HOME].sequence == 1


def test_silent_discards_nonce_indices_link_local_multicast_home():
    ha = make_ha()
    register(ha)
    before = ha.cache[HOME]
    for p in (bu_packet(seq=2, options=(NonceIndices(1, 2),)),
              bu_packet(seq=2, home=IPv6Address("fe80::9")),
              bu_packet(seq=2, home=IPv6Address("ff02::9"))):
        out = ha.receive(10 * S, "eth1", frame_in(p))
        assert of_type(out, BindingAcknowledgement) == [] and out.notifications == []
    assert ha.cache[HOME] == before
    assert ha.counters["drop.bu.home_with_nonce_indices"] == 1
    assert ha.counters["drop.bu.bad_home_address"] == 2


def test_lifetime_capped_by_home_prefix_valid_lifetime_in_4s_units():
    ha = make_ha(dad=False, max_lifetime=1000)
    ha.home_iface.addresses[HA].valid_until = 3 * S + 203 * S
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(lifetime=800)))
    ba = ba_of(out)
    assert ba.payload.status == 0 and ba.payload.lifetime == 200
    assert ha.cache[HOME].expires_ns == 3 * S + 200 * S


def test_deregistration_deletes_binding_and_stops_proxy():
    ha = make_ha()
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(bu_packet(seq=2, lifetime=0)))
    ba = ba_of(out)
    assert ba.payload.status == 0 and ba.payload.lifetime == 0 and ba.dst == COA and ba.rh2 == HOME
    assert of_type(out, NeighborSolicitation) == []                 # no DAD on de-registration
    assert [type(n) for n in out.notifications] == [BindingDeleted]
    assert HOME not in ha.cache and HOME not in ha.nd["eth0"].proxies
    # A later NS for the home address gets no proxy answer.
    ns = Packet(src="2001:db8:1::55", dst=solicited_node_multicast(HOME), hop_limit=255,
                payload=NeighborSolicitation(HOME, options=(SourceLinkLayerAddress(HOME_NODE_MAC),)))
    out = ha.receive(11 * S, "eth0", ethernet_frame(ipv6_multicast_mac(solicited_node_multicast(HOME).packed),
                                                    HOME_NODE_MAC, ns.to_bytes()))
    assert of_type(out, NeighborAdvertisement) == []


@pytest.mark.parametrize("seq", [1000, 999, 1000 + 32768, 65535])
def test_stale_deregistration_135_with_last_accepted_sequence_and_the_binding_stays(seq):
    """§9.5.1 for a de-registration as for an update: a sequence number not greater than the last
    accepted one modulo 2^16 (equal, older, half the circle away, older across the wrap) → status 135
    carrying that one."""
    ha = make_ha()
    register(ha)
    ha.receive(5 * S, "eth1", frame_in(bu_packet(seq=1000)))          # a refresh: last accepted 1000
    before = ha.cache[HOME]
    assert before.sequence == 1000
    out = ha.receive(10 * S, "eth1", frame_in(bu_packet(seq=seq, lifetime=0)))
    ba = ba_of(out)
    assert ba.payload.status == 135 and ba.payload.sequence == 1000 and ba.payload.lifetime == 0
    assert ba.dst == COA and ba.rh2 == HOME
    assert [(type(n), n.status) for n in out.notifications] == [(RegistrationRejected, 135)]
    assert ha.cache[HOME] == before and HOME in ha.nd["eth0"].proxies     # still bound and proxied
    assert ha.counters["ba.sent.status.135"] == 1 and "binding.deleted" not in ha.counters
    # The next sequence number is accepted: the binding goes.
    out = ha.receive(11 * S, "eth1", frame_in(bu_packet(seq=1001, lifetime=0)))
    assert ba_of(out).payload.status == 0 and HOME not in ha.cache
    assert [type(n) for n in out.notifications] == [BindingDeleted]


def test_stale_deregistration_from_home_135_and_the_binding_stays():
    ha = make_ha()
    register(ha, seq=7)
    p = Packet(src=HOME, dst=HA, payload=BindingUpdate(7, 0, ack=True, home=True))
    out = ha.receive(10 * S, "eth0", ethernet_frame(HA_MAC, HOME_NODE_MAC, p.to_bytes()))
    (t,) = out.transmits
    ba = parse(t.frame[14:])
    assert t.frame[:6] == HOME_NODE_MAC and ba.dst == HOME and ba.rh2 is None
    assert ba.payload.status == 135 and ba.payload.sequence == 7
    assert ha.cache[HOME].sequence == 7 and ha.cache[HOME].care_of_address == COA


def test_deregistration_from_home_answered_to_home_address_without_rh2():
    ha = make_ha()
    register(ha)
    p = Packet(src=HOME, dst=HA, payload=BindingUpdate(2, 0, ack=True, home=True))
    out = ha.receive(10 * S, "eth0", ethernet_frame(HA_MAC, HOME_NODE_MAC, p.to_bytes()))
    # Regression (simulator integration): the node back home answers no NS for its home address until
    # it has this BA (RFC 6275 §11.5.5), so the BA must not wait for address resolution: it goes at
    # once to the link-layer address the BU came from.
    (t,) = [t for t in out.transmits if isinstance(parse(t.frame[14:]).payload, BindingAcknowledgement)]
    ba = parse(t.frame[14:])
    assert t.interface == "eth0" and t.frame[:6] == HOME_NODE_MAC and t.frame[6:12] == HA_MAC
    assert ba.dst == HOME and ba.rh2 is None and ba.payload.status == 0 and HOME not in ha.cache
    assert not of_type(out, NeighborSolicitation)


def test_deregistration_from_home_without_binding_133_also_to_the_bu_source_mac():
    ha = make_ha()
    p = Packet(src=HOME, dst=HA, payload=BindingUpdate(2, 0, ack=True, home=True))
    out = ha.receive(10 * S, "eth0", ethernet_frame(HA_MAC, HOME_NODE_MAC, p.to_bytes()))
    (t,) = out.transmits
    assert t.frame[:6] == HOME_NODE_MAC and parse(t.frame[14:]).payload.status == 133


# ---------------------------------------------------------------- §10.4.1 proxy ND

def test_proxy_answers_ns_and_defends_against_dad():
    ha = make_ha()
    register(ha)
    sol = solicited_node_multicast(HOME)
    ns = Packet(src="2001:db8:1::55", dst=sol, hop_limit=255,
                payload=NeighborSolicitation(HOME, options=(SourceLinkLayerAddress(HOME_NODE_MAC),)))
    out = ha.receive(10 * S, "eth0", ethernet_frame(ipv6_multicast_mac(sol.packed), HOME_NODE_MAC, ns.to_bytes()))
    (na,) = of_type(out, NeighborAdvertisement)
    assert na.dst == IPv6Address("2001:db8:1::55")
    assert (na.payload.router, na.payload.solicited, na.payload.override) == (False, True, False)
    assert na.payload.options == (TargetLinkLayerAddress(HA_MAC),)
    dad = Packet(src="::", dst=sol, hop_limit=255, payload=NeighborSolicitation(HOME))
    out = ha.receive(10 * S, "eth0", ethernet_frame(ipv6_multicast_mac(sol.packed), HOME_NODE_MAC, dad.to_bytes()))
    (na,) = of_type(out, NeighborAdvertisement)
    assert na.dst == ALL_NODES and not na.payload.solicited and not na.payload.override


# ---------------------------------------------------------------- §10.4.2-10.4.5 tunnelling

def test_packets_for_a_bound_home_address_are_tunnelled_in_one_batch():
    ha = make_ha()
    register(ha)
    inner = [echo(CN, HOME, size=n) for n in (8, 100, 1000)]
    other = echo(CN, IPv6Address("2001:db8:1::77"))     # not bound: the ordinary router path
    batch = PacketBatch.from_packets([frame_in(p, HA_MAC2) for p in inner] + [frame_in(other, HA_MAC2)])
    out = ha.receive_batch(10 * S, "eth1", batch)
    tunnelled = [p for p in pkts(out, "eth1") if isinstance(p.payload, Packet)]
    assert len(tunnelled) == 3
    for outer, sent in zip(tunnelled, inner):
        assert outer.src == HA and outer.dst == COA
        assert outer.payload.src == CN and outer.payload.dst == HOME
        assert outer.payload.hop_limit == sent.hop_limit - 1        # forwarded as a router
        assert outer.payload.payload == sent.payload
    assert ha.counters["tunnelled"] == 3
    assert ha.cache[HOME].packets == 3
    # The unbound one went to address resolution on the home link.
    assert any(isinstance(p.payload, NeighborSolicitation) and p.payload.target == IPv6Address("2001:db8:1::77")
               for p in pkts(out, "eth0"))


def test_single_frame_receive_uses_the_batch_path():
    ha = make_ha()
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(echo(CN, HOME)))
    (outer,) = [p for p in pkts(out) if isinstance(p.payload, Packet)]
    assert outer.dst == COA
    assert ha.datapath.kernel_counters("encapsulate")[DropReason.FORWARDED] == 1


def test_ethernet_padding_is_trimmed_before_the_kernels():
    ha = make_ha()
    register(ha)
    raw = Packet(src=CN, dst=HOME, payload=Raw(59, b"abcd")).to_bytes()
    out = ha.receive(10 * S, "eth1", frame_in(raw) + b"\0" * 16)
    (outer,) = [p for p in pkts(out) if isinstance(p.payload, Packet)]
    assert outer.payload.payload == Raw(59, b"abcd")


def test_too_big_for_the_tunnel_packet_too_big_to_inner_source():
    ha = make_ha(tunnel_mtu=1400)
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(echo(CN, HOME, size=1400 - 48)))
    (ptb,) = of_type(out, PacketTooBig)
    assert ptb.dst == CN and ptb.payload.mtu == 1360
    assert [p for p in pkts(out) if isinstance(p.payload, Packet)] == []


def test_reverse_tunnel_decapsulated_and_forwarded():
    ha = make_ha()
    register(ha)
    inner = echo(HOME, CN, hop_limit=30)
    outer = Packet(src=COA, dst=HA, payload=inner)
    out = ha.receive(10 * S, "eth1", frame_in(outer))
    (fwd,) = [p for p in pkts(out, "eth1") if isinstance(p.payload, EchoRequest)]
    assert fwd.src == HOME and fwd.dst == CN and fwd.hop_limit == 29
    assert out.frames()[-1].frame[:6] == ROUTER_MAC and ha.counters["detunnelled"] == 1


def test_reverse_tunnel_wrong_outer_source_dropped_and_counted():
    ha = make_ha()
    register(ha)
    outer = Packet(src="2001:db8:7::7", dst=HA, payload=echo(HOME, CN))
    out = ha.receive(10 * S, "eth1", frame_in(outer))
    assert [p for p in pkts(out) if isinstance(p.payload, EchoRequest)] == []
    assert ha.counters["drop.datapath.tunnel_wrong_source"] == 1


def test_mobile_node_to_mobile_node_goes_into_the_other_tunnel():
    ha = make_ha(dad=False)
    other_home, other_coa = IPv6Address("2001:db8:1::a"), IPv6Address("2001:db8:8::8")
    ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    ha.receive(3 * S, "eth1", frame_in(bu_packet(home=other_home, coa=other_coa)))
    out = ha.receive(4 * S, "eth1", frame_in(Packet(src=COA, dst=HA, payload=echo(HOME, other_home))))
    (outer,) = [p for p in pkts(out) if isinstance(p.payload, Packet)]
    assert outer.dst == other_coa and outer.payload.src == HOME and outer.payload.dst == other_home


def test_link_local_of_a_mobile_node_is_not_tunnelled():
    ha = make_ha()
    register(ha, link_local=True)
    ll = IPv6Address("fe80::9")
    p = echo(IPv6Address("fe80::55"), ll)
    out = ha.receive(10 * S, "eth0", ethernet_frame(HA_MAC, HOME_NODE_MAC, p.to_bytes()))
    assert [x for x in pkts(out) if isinstance(x.payload, Packet)] == []
    assert ha.counters["drop.tunnel.mobile_node_link_local"] == 1
    # The error waits for the sender's link-layer address; its NA releases it.
    na = Packet(src="fe80::55", dst=ha.home_iface.link_local, hop_limit=255, payload=NeighborAdvertisement(
        IPv6Address("fe80::55"), solicited=True, override=True, options=(TargetLinkLayerAddress(HOME_NODE_MAC),)))
    out = ha.receive(10 * S + 1, "eth0", ethernet_frame(HA_MAC, HOME_NODE_MAC, na.to_bytes()))
    (du,) = of_type(out, DestinationUnreachable)
    assert du.payload.code == 3 and du.dst == IPv6Address("fe80::55") and du.payload.invoking == p.to_bytes()


# ---------------------------------------------------------------- lifetimes

def test_expiry_notifies_and_stops_proxying():
    ha = make_ha(max_lifetime=100)
    register(ha)
    assert ha.cache[HOME].expires_ns == 4 * S + 100 * S
    out = ha.tick(103 * S)
    assert not any(isinstance(n, BindingExpired) for n in out.notifications)
    out = ha.tick(104 * S)
    assert [type(n) for n in out.notifications] == [BindingExpired]
    assert HOME not in ha.cache and HOME not in ha.nd["eth0"].proxies


def test_binding_refresh_request_before_expiry():
    ha = make_ha(max_lifetime=100, refresh_lead=10)
    bas, _, _ = register(ha)
    assert bas[0].payload.options == (BindingRefreshAdvice(88),)   # 90 s in 4 s units, below 100
    out = ha.tick(94 * S)
    (brr,) = of_type(out, BindingRefreshRequest)
    assert brr.dst == COA and brr.rh2 == HOME and brr.src == HA


# ---------------------------------------------------------------- §10.5 discovery

def _ra_from(ll, mac, address, preference=None, lifetime=None, router_lifetime=1800, h=True):
    options = [PrefixInformation(address, 64, router_address=True)]
    if preference is not None:
        options.append(HomeAgentInformation(preference, lifetime if lifetime is not None else 1800))
    ra = RouterAdvertisement(home_agent=h, router_lifetime=router_lifetime, options=tuple(options))
    return ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), mac,
                          Packet(src=ll, dst=ALL_NODES, hop_limit=255, payload=ra).to_bytes())


def _dhaad(ha, now, ident=7):
    req = Packet(src=COA, dst=home_agents_anycast(PREFIX), payload=HomeAgentAddressDiscoveryRequest(ident))
    out = ha.receive(now, "eth1", frame_in(req))
    (rep,) = of_type(out, HomeAgentAddressDiscoveryReply)
    return rep


def test_dhaad_reply_from_global_address_with_own_address_and_identifier():
    ha = make_ha()
    rep = _dhaad(ha, 3 * S, ident=4242)
    assert rep.src == HA and rep.dst == COA and rep.payload.identifier == 4242
    assert rep.payload.addresses == (HA,)


def test_home_agents_list_ordering_shuffling_and_removal():
    ha = make_ha(preference=5, dhaad_reply_burst=50)      # 20 requests at once: past the default burst
    a, b, c, d = (IPv6Address(f"2001:db8:1::{x}") for x in "abcd")
    ha.receive(3 * S, "eth0", _ra_from("fe80::a", bytes.fromhex("02000000000a"), a, preference=10))
    ha.receive(3 * S, "eth0", _ra_from("fe80::b", bytes.fromhex("02000000000b"), b))            # default 0
    ha.receive(3 * S, "eth0", _ra_from("fe80::c", bytes.fromhex("02000000000c"), c, preference=5))
    ha.receive(3 * S, "eth0", _ra_from("fe80::d", bytes.fromhex("02000000000d"), d, preference=-3))
    orders = set()
    for i in range(20):
        addrs = _dhaad(ha, 4 * S + i, ident=i).payload.addresses
        assert addrs[0] == a and addrs[3] == b and addrs[4] == d
        assert set(addrs[1:3]) == {HA, c}
        orders.add(addrs[1:3])
    assert len(orders) == 2                      # equal preferences shuffled per reply
    # The same seed gives the same sequence of replies.
    ha.receive(5 * S, "eth0", _ra_from("fe80::a", bytes.fromhex("02000000000a"), a, preference=10, lifetime=0))
    ha.receive(5 * S, "eth0", _ra_from("fe80::b", bytes.fromhex("02000000000b"), b, h=False))
    assert set(_dhaad(ha, 6 * S).payload.addresses) == {HA, c, d}


def test_dhaad_shuffle_is_reproducible_with_a_seeded_rng():
    def run():
        ha = make_ha()
        for x in "abc":
            ha.receive(3 * S, "eth0", _ra_from(f"fe80::{x}", bytes.fromhex(f"02000000000{x}"),
                                               IPv6Address(f"2001:db8:1::{x}")))
        return [_dhaad(ha, 4 * S + i).payload.addresses for i in range(5)]
    assert run() == run()


def test_ha_sends_ras_with_h_flag_and_home_agent_information():
    ha = make_ha(preference=3)
    ra = ha.router_advertisement(ha.home_iface)
    assert ra.home_agent
    assert HomeAgentInformation(3, 1800) in ra.options
    assert any(isinstance(o, PrefixInformation) and o.router_address and o.prefix == HA for o in ra.options)


# ---------------------------------------------------------------- §10.6 mobile prefix discovery

def test_mobile_prefix_solicitation_answered_to_care_of_with_rh2():
    ha = make_ha()
    register(ha)
    mps = Packet(src=COA, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(99))
    out = ha.receive(10 * S, "eth1", frame_in(mps))
    (mpa,) = of_type(out, MobilePrefixAdvertisement)
    assert mpa.dst == COA and mpa.rh2 == HOME and mpa.src == HA and mpa.payload.identifier == 99
    assert [o.network for o in mpa.payload.options] == [PREFIX]


def test_mobile_prefix_solicitation_without_hao_or_binding():
    ha = make_ha()
    out = ha.receive(10 * S, "eth1", frame_in(Packet(src=COA, dst=HA, payload=MobilePrefixSolicitation(1))))
    assert of_type(out, MobilePrefixAdvertisement) == [] and ha.counters["drop.mps.without_hao"] == 1
    mps = Packet(src=COA, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(1))
    (be,) = of_type(ha.receive(10 * S, "eth1", frame_in(mps)), BindingError)
    assert be.payload.status == 1 and be.payload.home_address == HOME


def test_config_validation():
    with pytest.raises(ValueError):
        HomeAgentConfig("eth0", (PREFIX,), "2001:db8:9::1")
    with pytest.raises(ValueError):
        HomeAgentConfig("eth0", (PREFIX,), HA, preference=40000)
    assert HomeAgentConfig("eth0", "2001:db8:1::/64", HA).home_prefixes == (PREFIX,)


def test_echo_to_the_home_agent_through_the_reverse_tunnel_answered_through_the_tunnel():
    ha = make_ha()
    register(ha)
    outer = Packet(src=COA, dst=HA, payload=echo(HOME, HA))
    out = ha.receive(10 * S, "eth1", frame_in(outer))
    (reply,) = [p for p in pkts(out, "eth1") if isinstance(p.payload, Packet)]
    assert reply.src == HA and reply.dst == COA
    assert reply.payload.src == HA and reply.payload.dst == HOME
    assert type(reply.payload.payload).__name__ == "EchoReply"
    assert ha.counters["tunnelled_own"] == 1


def test_frames_larger_than_a_default_batch_slot_are_tunnelled_too():
    ha = make_ha(tunnel_mtu=9000)
    ha.interfaces["eth1"].mtu = 9000
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(echo(CN, HOME, size=4000)))
    (outer,) = [p for p in pkts(out) if isinstance(p.payload, Packet)]
    assert outer.dst == COA and len(outer.payload.payload.data) == 4000


def test_icmp_errors_about_tunnelled_packets_are_relayed_to_the_inner_source():
    ha = make_ha()
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(echo(CN, HOME, size=1200)))
    (tunnelled,) = [p for p in pkts(out) if isinstance(p.payload, Packet)]
    quote = tunnelled.to_bytes()
    on_path = IPv6Address("2001:db8:2::77")
    ptb = Packet(src=on_path, dst=HA, payload=PacketTooBig(1300, quote[:1232]))
    out = ha.receive(10 * S, "eth1", frame_in(ptb))
    (relayed,) = of_type(out, PacketTooBig)
    assert relayed.dst == CN and relayed.payload.mtu == 1280            # 1300 - 40, at least 1280
    assert relayed.payload.invoking[:40] == quote[40:80]
    du = Packet(src=on_path, dst=HA, payload=DestinationUnreachable(0, quote[:100]))
    (relayed,) = of_type(ha.receive(10 * S, "eth1", frame_in(du)), DestinationUnreachable)
    assert relayed.dst == CN and relayed.payload.code == 3 and relayed.payload.invoking == quote[40:100]
    assert ha.counters["tunnel_error.relayed.PacketTooBig"] == 1


def test_hao_without_binding_binding_error_1():
    ha = make_ha()
    p = Packet(src=COA, dst=HA, home_address=HOME, payload=EchoRequest(1, 1, b"x"))
    out = ha.receive(3 * S, "eth1", frame_in(p))
    (be,) = of_type(out, BindingError)
    assert be.payload.status == 1 and be.payload.home_address == HOME and be.dst == COA
    assert ha.counters["drop.hao.no_binding"] == 1


def test_own_address_as_home_address_prohibited():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(home=HA)))
    assert ba_of(out).payload.status == 129 and HA not in ha.cache


def test_one_graph_call_per_batch_for_a_mixed_batch():
    ha = make_ha()
    register(ha)
    graph = ha.batch_path.graph
    rx = graph.counters()[0]["RX"]
    encapsulations = sum(ha.datapath.kernel_counters("encapsulate").values())
    frames = [
        frame_in(echo(CN, HOME)),                                            # tunnelled
        frame_in(Packet(src=COA, dst=HA, payload=echo(HOME, CN))),           # detunnelled, forwarded
        frame_in(Packet(src="2001:db8:7::7", dst=HA, payload=echo(HOME, CN))),   # wrong outer source
        frame_in(echo(CN, HOME, hop_limit=1)),                               # hop limit: Time Exceeded
        frame_in(echo(CN, HA)),                                              # for us: slow path
        frame_in(echo(CN, HOME, size=20)),                                   # tunnelled
    ]
    out = ha.receive_batch(10 * S, "eth1", PacketBatch.from_packets(frames))
    assert graph.counters()[0]["RX"] - rx == 6          # one C graph run over the whole batch
    # The encapsulation kernel looked at all six packets (the graph passes it every IPv6 packet), then at the
    # one decapsulated packet (the second pass: decapsulated ones only).
    assert sum(ha.datapath.kernel_counters("encapsulate").values()) - encapsulations == 6 + 1
    sent = pkts(out)
    assert len([p for p in sent if isinstance(p.payload, Packet)]) == 2
    assert len([p for p in sent if isinstance(p.payload, EchoRequest) and p.dst == CN]) == 1
    assert len([p for p in sent if type(p.payload).__name__ == "EchoReply" and p.dst == CN]) == 1
    (te,) = [p for p in sent if type(p.payload).__name__ == "TimeExceeded"]
    assert te.dst == CN
    assert ha.counters["drop.datapath.tunnel_wrong_source"] == 1
    assert ha.counters["drop.datapath.hop_limit"] == 1


def test_bu_retransmitted_during_dad_is_absorbed_and_nas_stop_on_deregistration():
    ha = make_ha()
    ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    out = ha.receive(3 * S + S // 2, "eth1", frame_in(bu_packet()))
    assert out.transmits == [] and ha.counters["drop.bu.dad_in_progress"] == 1
    assert len(of_type(ha.tick(4 * S), BindingAcknowledgement)) == 1
    ha.receive(4 * S + S // 2, "eth1", frame_in(bu_packet(seq=2, lifetime=0)))
    assert of_type(ha.tick(10 * S), NeighborAdvertisement) == []     # the repeats were cancelled
    assert ha.counters["proxy.na_sent"] == 1


def test_receive_batch_on_a_down_interface_counts_drops():
    ha = make_ha()
    ha.link_changed(5 * S, "eth1", False)
    out = ha.receive_batch(6 * S, "eth1", PacketBatch.from_packets([frame_in(echo(CN, HOME))] * 2))
    assert out.transmits == [] and ha.counters["drop.interface_down"] == 2


def test_mutated_frames_never_raise():
    """Every byte of a set of valid frames flipped, and every truncation: counted drops or ordinary
    traffic, never an exception, through both entry points."""
    assert strict()      # conftest: every counter name a node uses must be declared
    ha = make_ha()
    register(ha)
    seeds = [frame_in(p) for p in (
        bu_packet(seq=2), Packet(src=COA, dst=HA, payload=echo(HOME, CN)), echo(CN, HOME),
        Packet(src=COA, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(1)),
        Packet(src=COA, dst=home_agents_anycast(PREFIX), payload=HomeAgentAddressDiscoveryRequest(1)),
        Packet(src=CN, dst=HA, payload=UnknownMobilityMessage(42, b"\0" * 10)))]
    rng = random.Random(6275)
    now = 10 * S
    for frame in seeds:
        for _ in range(150):
            data = bytearray(frame)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                del data[rng.randrange(14, len(data)):]
            now += 1000
            ha.receive(now, "eth1", bytes(data))
        batch = PacketBatch.from_packets([bytes(frame[:n]) for n in range(0, len(frame), 7)])
        ha.receive_batch(now, "eth1", batch)
    ha.tick(now + 1000 * S)


def test_unsolicited_mobile_prefix_advertisements_until_the_next_bu():
    ha = make_ha(max_lifetime=400)
    register(ha)
    out = ha.set_home_prefix_lifetimes(10 * S, 10 * S + 1000 * S, 10 * S + 500 * S)
    (mpa,) = of_type(out, MobilePrefixAdvertisement)
    assert mpa.dst == COA and mpa.rh2 == HOME
    (pio,) = mpa.payload.options
    assert pio.network == PREFIX and (pio.valid_lifetime, pio.preferred_lifetime) == (1000, 500)
    # (Counted rather than looked for on the wire: the silent next hop fails NUD meanwhile.)
    sent = []
    for t in range(11, 30):
        before = ha.counters["mpa.sent_unsolicited"]
        ha.tick(t * S)
        if ha.counters["mpa.sent_unsolicited"] > before:
            sent.append(t)
    assert sent == [13, 16, 19]                           # PREFIX_ADV_TIMEOUT apart, PREFIX_ADV_RETRIES times
    ha.set_home_prefix_lifetimes(30 * S, 30 * S + 300 * S, None)
    ha.receive(31 * S, "eth1", frame_in(bu_packet(seq=2)))        # the mobile node's BU stops them
    for t in range(32, 40):
        ha.tick(t * S)
    assert ha.counters["mpa.sent_unsolicited"] == 5
    # Later registrations get at most the new prefix lifetime.
    assert ha.cache[HOME].expires_ns == 31 * S + 296 * S          # 299 s left, in 4 s units


def test_simultaneous_dad_ns_for_the_home_address_is_a_duplicate():
    ha = make_ha()
    ha.receive(3 * S, "eth1", frame_in(bu_packet()))
    sol = solicited_node_multicast(HOME)
    dad = Packet(src="::", dst=sol, hop_limit=255, payload=NeighborSolicitation(HOME))
    ha.receive(3 * S + 5, "eth0", ethernet_frame(ipv6_multicast_mac(sol.packed), HOME_NODE_MAC, dad.to_bytes()))
    assert ba_of(ha.tick(4 * S)).payload.status == 134 and HOME not in ha.cache


def test_expiry_timer_rearms_for_each_binding():
    ha = make_ha(dad=False)
    other = IPv6Address("2001:db8:1::a")
    ha.receive(3 * S, "eth1", frame_in(bu_packet(lifetime=40)))
    ha.receive(3 * S, "eth1", frame_in(bu_packet(home=other, lifetime=80)))
    out = ha.tick(43 * S)
    assert [n.home_address for n in out.notifications if isinstance(n, BindingExpired)] == [HOME]
    assert out.next_deadline is not None and out.next_deadline <= 83 * S
    out = ha.tick(83 * S)
    assert [n.home_address for n in out.notifications if isinstance(n, BindingExpired)] == [other]
    assert len(ha.cache) == 0 and ha.counters["binding.expired"] == 2


@pytest.mark.parametrize("home", ["ff02::1", "::1", "fe80::9"])
def test_hao_that_is_not_unicast_routable_is_dropped_without_a_binding_error(home):
    """§6.3 / §9.3.1: a Home Address option naming a multicast, loopback or link-local address is
    dropped silently (counted), as the correspondent does; no Binding Error is aimed anywhere."""
    ha = make_ha()
    p = Packet(src=COA, dst=HA, home_address=home, payload=EchoRequest(1, 1, b"x"))
    out = ha.receive(3 * S, "eth1", frame_in(p))
    assert of_type(out, BindingError) == []
    assert ha.counters["drop.hao.not_unicast_routable"] == 1 and ha.counters["drop.hao.no_binding"] == 0
