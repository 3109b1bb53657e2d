"""Issue 10's protocol and limit items: what a node bounds, and the RFC 6275 answers it owes."""
from ipaddress import IPv6Address, IPv6Network

import helpers.correspondent as cnt
import helpers.mobile_node as mnh
import pytest
from helpers.home_agent import (
    COA,
    HA,
    HOME,
    PREFIX,
    S,
    bu_packet,
    frame_in,
    make_ha,
    of_type,
    register,
)
from helpers.mobile_node import MS

from mip6fast.config import ConfigError, parse_config
from mip6fast.roles import mobile_node
from mip6fast.roles.home_agent import HomeAgentConfig
from mip6fast.roles.home_agent.config import MAX_HOME_AGENTS_LIMIT
from mip6fast.roles.mobile_node import HomeAddressConfig
from mip6fast.scenarios import run_scenario
from mip6fast.wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingError,
    BindingRefreshRequest,
    BindingUpdate,
    CareOfTestInit,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    HomeTestInit,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    NeighborAdvertisement,
    NeighborSolicitation,
    NonceIndices,
    Packet,
    PrefixInformation,
    RouterAdvertisement,
    TargetLinkLayerAddress,
    UnknownMobilityMessage,
    home_agents_anycast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac
from mip6fast.wire.return_routability import add_binding_authorization, binding_management_key

# ---------------------------------------------------------------- max_bindings counts pending DAD


def test_max_bindings_counts_registrations_waiting_for_dad():
    ha = make_ha(max_bindings=10)
    statuses = []
    probes = 0
    for i in range(30):
        home = IPv6Address(f"2001:db8:1::1:{i + 1:x}")
        out = ha.receive(3 * S + i * 1000, "eth1", frame_in(bu_packet(home=home)))
        statuses += [p.payload.status for p in of_type(out, BindingAcknowledgement)]
        probes += len(of_type(out, NeighborSolicitation))
    assert statuses == [130] * 20 and probes == 10 and len(ha.registrar.dad) == 10
    assert ha.counters["bu.refused.max_bindings"] == 20
    out = ha.tick(5 * S)
    assert [p.payload.status for p in of_type(out, BindingAcknowledgement)] == [0] * 10
    assert len(ha.cache) == 10 and len(ha.registrar.dad) == 0


# ---------------------------------------------------------------- the home agents list is bounded


def _ha_ra(i):
    ll = IPv6Address(f"fe80::1:{i:x}")
    ra = RouterAdvertisement(home_agent=True, router_lifetime=1800,
                             options=(PrefixInformation(IPv6Address(f"2001:db8:1::2:{i:x}"), 64,
                                                        router_address=True),))
    return ethernet_frame(ipv6_multicast_mac(ALL_NODES.packed), bytes.fromhex(f"0a00{i:08x}"),
                          Packet(src=ll, dst=ALL_NODES, hop_limit=255, payload=ra).to_bytes())


def test_home_agents_list_is_capped_and_refusals_counted():
    ha = make_ha(max_home_agents=5)
    for i in range(1, 2501):
        ha.receive(3 * S + i, "eth0", _ha_ra(i))
    assert len(ha.home_agents) == 5 and ha.counters["home_agents.refused"] == 2495
    ha.receive(4 * S, "eth0", _ha_ra(3))                 # a listed one still refreshes
    assert ha.counters["home_agents.refused"] == 2495 and ha.counters["home_agents.updated"] == 6
    assert make_ha().config.max_home_agents == 64        # the default


def test_home_agents_list_room_again_once_entries_lapse():
    ha = make_ha(max_home_agents=1)
    ha.receive(3 * S, "eth0", _ha_ra(1))
    ha.receive(3 * S, "eth0", _ha_ra(2))
    assert ha.counters["home_agents.refused"] == 1
    ha.receive(3 * S + 1801 * S, "eth0", _ha_ra(2))      # entry 1 lapsed: room for 2
    assert [e.address for e in ha.home_agents.values()] == [IPv6Address("2001:db8:1::2:2")]


@pytest.mark.parametrize("value", [-1, MAX_HOME_AGENTS_LIMIT + 1])
def test_max_home_agents_validated(value):
    with pytest.raises(ValueError, match="^max_home_agents"):
        HomeAgentConfig("eth0", (PREFIX,), HA, max_home_agents=value)


def test_max_home_agents_from_a_config_file():
    base = ('[interfaces.eth0]\naddresses = ["2001:db8:1::1/64"]\n[home_agent]\ninterface = "eth0"\n'
            'home_prefixes = ["2001:db8:1::/64"]\naddress = "2001:db8:1::1"\n')
    assert parse_config(base + "max_home_agents = 8\n", "ha").role_config.max_home_agents == 8
    with pytest.raises(ConfigError) as exc:
        parse_config(base + "max_home_agents = -2\n", "ha")
    assert exc.value.key == "home_agent.max_home_agents"


# ---------------------------------------------------------------- DHAAD and MPS answers are rate-limited


def test_dhaad_replies_rate_limited_and_counted():
    ha = make_ha()
    req = Packet(src=COA, dst=home_agents_anycast(PREFIX), payload=HomeAgentAddressDiscoveryRequest(1))
    replies = sum(len(of_type(ha.receive(3 * S + i * (S // 1000), "eth1", frame_in(req)),
                              HomeAgentAddressDiscoveryReply)) for i in range(100))    # 100 in 0.1 s
    assert replies == 10                        # the burst; 99 ms at 10/s is not a whole token more
    assert ha.counters["drop.dhaad.rate_limited"] == 90
    assert len(of_type(ha.receive(5 * S, "eth1", frame_in(req)), HomeAgentAddressDiscoveryReply)) == 1
    ha = make_ha(dhaad_reply_rate=1, dhaad_reply_burst=2)
    assert sum(len(of_type(ha.receive(3 * S, "eth1", frame_in(req)), HomeAgentAddressDiscoveryReply))
               for _ in range(5)) == 2


def test_mobile_prefix_solicitations_rate_limited_and_counted():
    ha = make_ha(mpa_reply_rate=2, mpa_reply_burst=3)
    register(ha)
    mps = Packet(src=COA, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(9))
    sent = sum(len(of_type(ha.receive(10 * S + i, "eth1", frame_in(mps)), MobilePrefixAdvertisement))
               for i in range(100))
    assert sent == 3 and ha.counters["drop.mps.rate_limited"] == 97
    assert len(of_type(ha.receive(11 * S, "eth1", frame_in(mps)), MobilePrefixAdvertisement)) == 1


@pytest.mark.parametrize("name", ["dhaad_reply_rate", "dhaad_reply_burst", "mpa_reply_rate", "mpa_reply_burst"])
@pytest.mark.parametrize("value", [0, -1, 10**7])
def test_reply_rates_validated(name, value):
    with pytest.raises(ValueError, match=f"^{name}"):
        HomeAgentConfig("eth0", (PREFIX,), HA, **{name: value})


# ---------------------------------------------------------------- §9.2: unknown MH type → Binding Error 2


def test_mobile_node_answers_an_unknown_mh_type_from_anyone_with_binding_error_2():
    mn, _ = mnh.registered_mn()
    stranger = IPv6Address("2001:db8:77::1")
    p = Packet(src=stranger, dst=mnh.COA_A, payload=UnknownMobilityMessage(42, b"\0" * 10))
    out = mn.receive(5 * S, "eth0", mnh.frame(mnh.A_MAC, mnh.MN_MAC, p))
    (be,) = [q for _, q, _ in mnh.packets(out) if isinstance(q.payload, BindingError)]
    assert be.payload.status == 2 and be.payload.home_address == IPv6Address("::")
    assert be.src == mnh.COA_A and be.dst == stranger
    out = mn.receive(5 * S + 1, "eth0", mnh.frame(mnh.A_MAC, mnh.MN_MAC, p))      # rate-limited
    assert not [q for _, q, _ in mnh.packets(out) if isinstance(q.payload, BindingError)]
    assert mn.counters["drop.mn.be.rate_limited"] == 1
    # From the home agent too, once the bucket has a token again.
    p = Packet(src=mnh.HA, dst=mnh.COA_A, payload=UnknownMobilityMessage(42, b"\0" * 10))
    out = mn.receive(7 * S, "eth0", mnh.frame(mnh.A_MAC, mnh.MN_MAC, p))
    (be,) = [q for _, q, _ in mnh.packets(out) if isinstance(q.payload, BindingError)]
    assert be.dst == mnh.HA and mn.counters["mn.be.sent.status.2"] == 2


# ---------------------------------------------------------------- status 174, invalid care-of address

BAD_CARE_OF = ["ff0e::1", "fe80::5", "::", "::1"]


@pytest.mark.parametrize("bad", BAD_CARE_OF)
def test_home_agent_answers_an_unusable_care_of_address_with_174(bad):
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(options=(AlternateCareOfAddress(IPv6Address(bad)),))))
    (ba,) = of_type(out, BindingAcknowledgement)
    assert ba.payload.status == 174 and ba.payload.lifetime == 0
    assert ba.dst == COA and ba.rh2 == HOME and HOME not in ha.cache
    assert of_type(out, NeighborSolicitation) == [] and ha.counters["ba.sent.status.174"] == 1


def test_home_agent_still_discards_silently_when_nothing_can_be_answered():
    ha = make_ha()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(src=IPv6Address("fe80::7"), coa=IPv6Address("fe80::7"))))
    assert of_type(out, BindingAcknowledgement) == [] and ha.counters["drop.bu.bad_care_of_address"] == 1


@pytest.mark.parametrize("bad", BAD_CARE_OF)
def test_correspondent_answers_an_unusable_care_of_address_with_174(bad):
    # Without return routability (a lab's unauthenticated_bindings) the BU gets as far as the care-of
    # address check.
    cn = cnt.make_cn(unauthenticated_bindings=True)
    out = cnt.bind(cn, options=(AlternateCareOfAddress(IPv6Address(bad)),))
    (ba,) = cnt.sent(out)
    assert isinstance(ba.payload, BindingAcknowledgement) and ba.payload.status == 174
    assert ba.dst == cnt.COA and ba.rh2 == cnt.HOA and len(cn.cache) == 0


@pytest.mark.parametrize("bad", BAD_CARE_OF)
def test_return_routability_never_authorises_an_unusable_care_of_address(bad):
    # A Care-of Test Init from such an address is not answered, and a care-of token for another address
    # does not fit it: the BU is discarded silently, with or without a token to try.
    cn = cnt.make_cn()
    out = cnt.bind(cn, options=(AlternateCareOfAddress(IPv6Address(bad)),))
    assert out.transmits == [] and len(cn.cache) == 0 and cn.counters["drop.bu.rr.missing"] == 1
    hot, cot = cnt.tokens(cn, 0, cnt.HOA, cnt.COA)
    kbm = binding_management_key(hot.keygen_token, cot.keygen_token)
    msg = add_binding_authorization(BindingUpdate(2, 400, ack=True, options=(
        AlternateCareOfAddress(IPv6Address(bad)), NonceIndices(hot.nonce_index, cot.nonce_index))),
        kbm, IPv6Address(bad), cnt.CN)
    out = cn.receive(0, "eth0", cnt.frame(Packet(src=cnt.COA, dst=cnt.CN, home_address=cnt.HOA, payload=msg)))
    assert out.transmits == [] and len(cn.cache) == 0 and cn.counters["drop.bu.rr.authenticator"] == 1


# ---------------------------------------------------------------- §6.3, §9.4.1: silent HAO drops at the CN


@pytest.mark.parametrize("hoa", ["ff0e::1", "ff02::1", "fe80::5"])
def test_correspondent_drops_a_multicast_or_non_routable_home_address_option_silently(hoa):
    cn = cnt.make_cn()
    out = cn.receive(0, "eth0", cnt.frame(cnt.udp(cnt.COA, cnt.CN, hoa=IPv6Address(hoa))))
    assert out.transmits == [] and cn.counters["drop.hao.not_unicast_routable"] == 1
    pkt = Packet(src=cnt.COA, dst=cnt.CN, home_address=IPv6Address(hoa), payload=BindingRefreshRequest())
    out = cn.receive(2 * S, "eth0", cnt.frame(pkt))
    assert out.transmits == [] and cn.counters["drop.hao.not_unicast_routable"] == 2


@pytest.mark.parametrize("msg", [HomeTestInit(b"\1" * 8), CareOfTestInit(b"\2" * 8)])
def test_correspondent_ignores_test_init_with_a_home_address_option_silently(msg):
    cn = cnt.make_cn()
    out = cn.receive(0, "eth0", cnt.frame(Packet(src=cnt.COA, dst=cnt.CN, home_address=cnt.HOA, payload=msg)))
    assert out.transmits == [] and cn.counters["drop.hao.test_init"] == 1
    # A unicast home address without a binding on a data packet still gets its Binding Error 1.
    (be,) = cnt.sent(cn.receive(2 * S, "eth0", cnt.frame(cnt.udp(cnt.COA, cnt.CN, hoa=cnt.HOA))))
    assert be.payload.status == 1


# ---------------------------------------------------------------- §9.5.4: de-registration BA from away


def test_deregistration_with_alternate_care_of_equal_to_home_is_answered_to_its_source():
    ha = make_ha()
    register(ha)
    out = ha.receive(10 * S, "eth1", frame_in(bu_packet(seq=2, lifetime=0,
                                                        options=(AlternateCareOfAddress(HOME),))))
    (ba,) = of_type(out, BindingAcknowledgement)
    assert ba.payload.status == 0 and HOME not in ha.cache
    assert ba.dst == COA and ba.rh2 == HOME
    assert out.transmits and all(t.interface == "eth1" for t in out.transmits)   # nothing waits on eth0


# ---------------------------------------------------------------- one prefix rule for RAs and MPAs


def test_mpa_prefix_with_preferred_above_valid_forms_no_home_address_like_the_ra_path():
    mn, _ = mnh.registered_mn()
    new_prefix = IPv6Network("2001:db8:2::/64")
    bad = PrefixInformation(new_prefix.network_address, 64, valid_lifetime=100, preferred_lifetime=200)
    good = PrefixInformation(IPv6Network("2001:db8:3::/64").network_address, 64, valid_lifetime=300,
                             preferred_lifetime=200)
    mpa = Packet(src=mnh.HA, dst=mnh.COA_A, rh2=mnh.HOA, payload=MobilePrefixAdvertisement(5, options=(bad, good)))
    mn.receive(10 * S, "eth0", mnh.frame(mnh.A_MAC, mnh.MN_MAC, mpa))
    assert mnh.slaac_address(new_prefix, mnh.MN_MAC) not in mn.registrations
    assert mnh.slaac_address(IPv6Network("2001:db8:3::/64"), mnh.MN_MAC) in mn.registrations
    assert mn.counters["mn.mpa.prefix_preferred_above_valid"] == 1
    # The RA path refuses the same prefix by the same rule (and counts it under its own name).
    ra = Packet(src=mnh.ll(mnh.A_MAC), dst=ALL_NODES, hop_limit=255,
                payload=RouterAdvertisement(router_lifetime=1800, options=(bad,)))
    mn.receive(11 * S, "eth0", mnh.frame(mnh.A_MAC, ipv6_multicast_mac(ALL_NODES.packed), ra))
    assert mnh.slaac_address(new_prefix, mnh.MN_MAC) not in mn.iface.addresses
    assert any(k.endswith("pio_preferred_above_valid") and v == 1 for k, v in mn.counters.items())


# ---------------------------------------------------------------- the NA back home is repeated


def _home_nas(out):
    return [p for _, p, _ in mnh.packets(out) if isinstance(p.payload, NeighborAdvertisement)
            and p.payload.target == mnh.HOA and p.dst == ALL_NODES and not p.payload.solicited]


def _back_home_deregistered(t):
    mn, _ = mnh.registered_mn()
    mnh.go_home(mn, t)
    na = Packet(src=mnh.HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=mnh.HA, router=True, solicited=False, override=True,
        options=(TargetLinkLayerAddress(mnh.HA_MAC),)))
    out = mn.receive(t + 210 * MS, "eth0", mnh.frame(mnh.HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na))
    (bu, _), = mnh.bus(out)
    out = mn.receive(t + 230 * MS, "eth0", mnh.ba(0, bu.payload.sequence, lifetime=0, dst=mnh.HOA, rh2=None))
    return mn, out


def test_returning_home_the_home_address_na_is_sent_three_times_retrans_timer_apart():
    t = 10 * S
    mn, out = _back_home_deregistered(t)
    times = [t + 230 * MS] * len(_home_nas(out))
    for k in range(1, 60):
        now = t + 230 * MS + k * 100 * MS
        times += [now] * len(_home_nas(mnh.tick_answering(mn, now, router_mac=mnh.HOME_MAC)))
    assert times == [t + 230 * MS, t + 1230 * MS, t + 2230 * MS]
    assert mn.counters["mn.home_na_sent"] == 3


def test_the_repeated_home_na_stops_once_the_node_no_longer_defends_the_address():
    t = 10 * S
    mn, out = _back_home_deregistered(t)
    assert len(_home_nas(out)) == 1
    mn.home_registrations.pause_all()           # what movement to a foreign link does
    assert not any(_home_nas(mn.tick(t + k * 100 * MS)) for k in range(3, 40))


# ---------------------------------------------------------------- a node that boots at home registers when it leaves


def test_a_node_booted_at_home_drops_the_home_links_addresses_and_registers_from_the_foreign_link():
    hoa = IPv6Address("2001:db8:1::100")                 # configured: not the SLAAC address
    slaac_home = mnh.slaac_address(mnh.HOME_PREFIX, mnh.MN_MAC)
    mn = mnh.make_mn(homes=(HomeAddressConfig(hoa, mnh.HA),))
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", mnh.ra(mnh.HOME_MAC, mnh.HOME_PREFIX))
    mn.tick(3 * S)
    assert slaac_home in mn.iface.addresses and hoa in mn.iface.addresses
    t = 5 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    mn.receive(t + 200 * MS, "eth0", mnh.ra(mnh.A_MAC, mnh.PREFIX_A))
    sent = []
    for k in range(1, 80):
        sent += mnh.packets(mnh.tick_answering(mn, t + k * 100 * MS))
    bus = [p for _, p, _ in sent if isinstance(p.payload, BindingUpdate)]
    assert bus and bus[0].home_address == hoa and bus[0].src == mnh.COA_A
    assert slaac_home not in mn.iface.addresses and hoa not in mn.iface.addresses
    assert not any(mnh.HOME_PREFIX.overlaps(r.network) for r in mn.candidate_routes() if r.next_hop is None)
    # No address resolution of the home agent on the foreign link.
    assert not [p for _, p, _ in sent if isinstance(p.payload, NeighborSolicitation) and p.payload.target == mnh.HA]
    assert mn.counters["mn.movement.old_address_removed"] == 1


def test_boot_at_home_scenario_registers_from_both_foreign_links_and_deregisters_twice():
    s = run_scenario("boot-at-home", 1)
    assert s["registrations"] == 2 and s["ha_bindings_created"] == 2 and s["ha_bindings_deleted"] == 2
    assert len(s["deregistered_at_ms"]) == 2 and s["binding_cache"] == []
    assert all(m["gap_ms"] is not None for m in s["moves"])


# ---------------------------------------------------------------- holding packets across a carrier change


def _carrier_change(mn, t):
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)


def test_packets_after_a_carrier_change_wait_for_movement_detection_then_go_on_the_same_link():
    mn, _ = mnh.registered_mn()
    t = 10 * S
    _carrier_change(mn, t)
    out = mn.send(t + 20 * MS, mnh.udp_datagram_packet())
    assert not [p for _, p, _ in mnh.packets(out) if p.dst == mnh.HA or p.src == mnh.COA_A]
    assert mn.counters["mn.hold.held"] == 1
    out = mn.receive(t + 100 * MS, "eth0", mnh.ra(mnh.A_MAC, mnh.PREFIX_A))     # the same router: same link
    tunnelled = [p for mac, p, _ in mnh.packets(out) if p.src == mnh.COA_A and p.dst == mnh.HA]
    assert len(tunnelled) == 1 and mn.counters["mn.hold.released"] == 1
    out = mn.send(t + 200 * MS, mnh.udp_datagram_packet())              # no longer held
    assert [p for _, p, _ in mnh.packets(out) if p.src == mnh.COA_A and p.dst == mnh.HA]


def test_held_packets_never_leave_with_the_old_care_of_address_on_a_new_link():
    mn, _ = mnh.registered_mn()
    t = 10 * S
    _carrier_change(mn, t)
    sent = []
    sent += mnh.packets(mn.send(t + 20 * MS, mnh.udp_datagram_packet()))
    sent += mnh.packets(mn.receive(t + 200 * MS, "eth0", mnh.ra(mnh.B_MAC, mnh.PREFIX_B)))
    for k in range(3, 40):
        now = t + k * 100 * MS
        sent += mnh.packets(mn.send(now, mnh.udp_datagram_packet()) if k % 5 == 0 else mn.tick(now))
    # Only movement detection's own probes of the old router (NUD) go to its MAC.
    assert not [p for mac, p, _ in sent if p.src == mnh.COA_A
                or (mac == mnh.A_MAC and not isinstance(p.payload, NeighborSolicitation))]
    assert mn.counters["drop.mn.hold.timeout"] + mn.counters["drop.mn.hold.stale_source"] \
        + mn.counters["drop.mn.no_home_registration"] >= 1


def test_the_hold_is_bounded():
    mn, _ = mnh.registered_mn()
    t = 10 * S
    _carrier_change(mn, t)
    for i in range(mobile_node.HOLD_LIMIT + 10):
        mn.send(t + 20 * MS + i, mnh.udp_datagram_packet())
    assert len(mn._held) == mobile_node.HOLD_LIMIT and mn.counters["drop.mn.hold.overflow"] == 10
    mn.tick(t + 20 * MS + mobile_node.HOLD_TIMEOUT + 100)
    assert len(mn._held) == 0 and mn.counters["drop.mn.hold.timeout"] == mobile_node.HOLD_LIMIT
