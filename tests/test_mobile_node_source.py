"""The mobile node's source address policy (short-lived flows from the care-of address, the rest from
the home address) and the site-local scope rule (source_policy.py), sans-I/O with hand-built frames."""
from ipaddress import IPv6Address, IPv6Network

import pytest
from helpers.mobile_node import (
    A_MAC,
    CN,
    COA_A,
    HA,
    HOA,
    HOME_MAC,
    HOME_PREFIX,
    MN_MAC,
    MS,
    PREFIX_A,
    T_BU,
    S,
    attach_foreign,
    ba,
    bus,
    frame,
    ll,
    make_mn,
    notes,
    packets,
    ra,
    registered_mn,
)

from mip6fast.apps import NH_UDP, QueryApp, StreamApp, udp_datagram
from mip6fast.roles import slaac_address
from mip6fast.roles.mobile_node import (
    HomeAddressConfig,
    MobileNodeConfig,
    Moved,
    Registered,
    RegistrationFailed,
)
from mip6fast.roles.source_policy import NH_TCP, SourcePolicy, care_of_prefixes, is_site_local
from mip6fast.wire import (
    ALL_NODES,
    BindingAcknowledgement,
    Packet,
    PrefixInformation,
    Raw,
    RouterAdvertisement,
    SourceLinkLayerAddress,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

NH_ICMPV6 = 58
SITE_A = IPv6Network("fec0:0:0:a::/64")
SITE_HOME = IPv6Network("fec0:0:0:1::/64")
SITE_HOA = slaac_address(SITE_HOME, MN_MAC)
SITE_HA = IPv6Address("fec0:0:0:1::2")
SITE_COA = slaac_address(SITE_A, MN_MAC)


def ra_prefixes(router_mac, *prefixes):
    options = [SourceLinkLayerAddress(router_mac)]
    options += [PrefixInformation(p.network_address, 64) for p in prefixes]
    packet = Packet(src=ll(router_mac), dst=ALL_NODES, hop_limit=255,
                    payload=RouterAdvertisement(router_lifetime=1800, options=tuple(options)))
    return frame(router_mac, ipv6_multicast_mac(ALL_NODES.packed), packet)


def attach_with(mn, *prefixes):
    """As ``attach_foreign``, with an RA from router A carrying ``prefixes``."""
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra_prefixes(A_MAC, *prefixes))
    return mn.tick(2 * S + 100 * MS)


def udp_packet(src, dst, dport, payload=b"q"):
    return Packet(src=src, dst=dst, hop_limit=64,
                  payload=Raw(NH_UDP, udp_datagram(src, dst, 33000, dport, payload))).to_bytes()


# ---------------------------------------------------------------- the policy itself

def test_source_policy_defaults_and_checks():
    policy = SourcePolicy()
    assert policy.short_lived(NH_UDP, 53) and policy.short_lived(NH_TCP, 53)
    assert not policy.short_lived(NH_UDP, 5001) and not policy.short_lived(NH_ICMPV6, None)
    assert not policy.short_lived(None, None)
    web = SourcePolicy(ports={53, 80, 443}, protocols={NH_TCP})
    assert web.short_lived(NH_TCP, 443) and not web.short_lived(NH_UDP, 53)
    with pytest.raises(ValueError):
        SourcePolicy(ports={70000})
    with pytest.raises(ValueError):
        SourcePolicy(protocols={300})


def test_site_local_helpers():
    assert is_site_local(SITE_HOA) and is_site_local(SITE_A) and is_site_local(IPv6Address("feff::1"))
    assert not is_site_local(HOA) and not is_site_local(PREFIX_A) and not is_site_local(IPv6Address("fe80::1"))
    both = {SITE_A, PREFIX_A}
    # Default off: site-local prefixes are never care-of prefixes.
    assert care_of_prefixes(both, [HOA], False) == [PREFIX_A]
    assert care_of_prefixes({SITE_A}, [SITE_HOA], False) == []
    # On: only with site-local home addresses, and only when no global prefix is offered.
    assert care_of_prefixes({SITE_A}, [SITE_HOA], True) == [SITE_A]
    assert care_of_prefixes(both, [SITE_HOA], True) == [PREFIX_A]
    assert care_of_prefixes({SITE_A}, [HOA], True) == []
    assert care_of_prefixes({SITE_A}, [HOA, SITE_HOA], True) == []


# ---------------------------------------------------------------- source_address

def test_away_and_registered_dns_uses_the_care_of_address_the_rest_the_home_address():
    mn, _ = registered_mn()
    assert mn.source_address(CN, NH_UDP, 53) == COA_A
    assert mn.source_address(CN, NH_TCP, 53) == COA_A
    assert mn.source_address(CN, NH_UDP, 5001) == HOA
    assert mn.source_address(CN, NH_ICMPV6) == HOA
    assert mn.source_address(CN) == HOA                    # nothing said about the flow: long-lived
    # Link-scope destinations keep the link-local address whatever the flow.
    assert mn.source_address(ll(A_MAC), NH_UDP, 53) == mn.iface.link_local
    assert mn.source_address("ff02::1", NH_UDP, 53) == mn.iface.link_local


def test_the_policy_is_configurable():
    mn, _ = registered_mn(source_policy=SourcePolicy(ports={80}, protocols={NH_TCP}))
    assert mn.source_address(CN, NH_TCP, 80) == COA_A
    assert mn.source_address(CN, NH_UDP, 53) == HOA
    none, _ = registered_mn(source_policy=SourcePolicy(ports=()))
    assert none.source_address(CN, NH_UDP, 53) == HOA


def test_before_the_first_care_of_address_the_plain_host_choice():
    mn = make_mn()
    assert mn.source_address(CN, NH_UDP, 53) is None       # no global address yet
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    assert mn.source_address(CN, NH_UDP, 5001) is None


def test_while_registering_the_home_address_and_after_a_refusal_the_care_of_address():
    mn = make_mn()
    (bu, _), = bus(attach_foreign(mn))
    assert mn.source_address(CN, NH_UDP, 5001) == HOA      # registering: the flow outlives the wait
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(129, bu.payload.sequence))
    assert notes(out, RegistrationFailed)
    # No traffic through a home agent that refused us: the care-of address is all there is.
    assert mn.source_address(CN, NH_UDP, 5001) == COA_A


def test_an_accepted_home_address_is_preferred_over_one_still_registering():
    hoa2 = slaac_address(IPv6Network("2001:db8:2::/64"), MN_MAC)
    ha2 = IPv6Address("2001:db8:2::2")
    mn = make_mn(homes=(HomeAddressConfig(HOA, HA), HomeAddressConfig(hoa2, ha2)))
    out = attach_foreign(mn)
    sent = {p.dst: p.payload.sequence for p, _ in bus(out)}
    assert mn.source_address(CN, NH_UDP, 5001) == HOA      # configuration order while both wait
    ba2 = Packet(src=ha2, dst=COA_A, rh2=hoa2,
                 payload=BindingAcknowledgement(status=0, sequence=sent[ha2], lifetime=600))
    out = mn.receive(T_BU + 10 * MS, "eth0", frame(A_MAC, MN_MAC, ba2))
    assert notes(out, Registered)
    assert mn.source_address(CN, NH_UDP, 5001) == hoa2


def test_at_home_the_home_address():
    mn = make_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra(HOME_MAC, HOME_PREFIX))
    assert mn.source_address(CN, NH_UDP, 53) == HOA
    assert mn.source_address(CN, NH_UDP, 5001) == HOA


def test_care_of_sourced_packets_are_routed_natively_home_sourced_ones_tunnelled():
    mn, _ = registered_mn()
    t = 5 * S
    out = mn.send(t, udp_packet(COA_A, CN, 53))
    (dst_mac, p, raw), = packets(out)
    assert dst_mac == A_MAC and p.src == COA_A and p.dst == CN and raw[6] == NH_UDP
    out = mn.send(t, udp_packet(HOA, CN, 5001))
    (dst_mac, p, raw), = packets(out)
    assert dst_mac == A_MAC and p.src == COA_A and p.dst == HA and raw[6] == 41
    assert raw[48:64] == HOA.packed                       # the inner source
    assert mn.counters["mn.reverse_tunnelled"] == 1


def test_applications_ask_the_node_and_can_pin_the_source():
    mn, _ = registered_mn()
    auto = QueryApp(CN, start_ns=5 * S, interval_ns=S, count=1)
    pinned = QueryApp(CN, start_ns=5 * S, interval_ns=S, count=1, src=HOA, src_port=33001)
    stream = StreamApp(5001, dst=CN, start_ns=5 * S, count=1)
    for app in (auto, pinned, stream):
        mn.attach(app)
    out = mn.tick(5 * S)
    sent = [(p.src, p.dst, raw[6]) for _, p, raw in packets(out)]
    assert auto.sources == {str(COA_A): 1} and pinned.sources == {str(HOA): 1}
    assert sorted(sent, key=str) == sorted([(COA_A, CN, NH_UDP), (COA_A, HA, 41), (COA_A, HA, 41)], key=str)


# ---------------------------------------------------------------- the site-local scope rule

def test_site_local_home_address_needs_the_rule_switched_on():
    with pytest.raises(ValueError):
        MobileNodeConfig("eth0", (HomeAddressConfig(SITE_HOA, SITE_HA),))
    MobileNodeConfig("eth0", (HomeAddressConfig(SITE_HOA, SITE_HA),), allow_site_local=True)


def test_default_off_no_site_local_care_of_address():
    mn = make_mn()
    out = attach_with(mn, SITE_A)
    assert not notes(out, Moved) and not bus(out) and mn.care_of is None
    assert mn.counters["mn.coa_site_local_refused"] == 1
    # With a global prefix as well, the global one is the care-of address.
    mn = make_mn()
    out = attach_with(mn, SITE_A, PREFIX_A)
    assert [n.new_coa for n in notes(out, Moved)] == [COA_A]


def test_switched_on_site_local_care_of_address_only_for_site_local_homes_and_without_global():
    site = make_mn(homes=(HomeAddressConfig(SITE_HOA, SITE_HA),), allow_site_local=True)
    out = attach_with(site, SITE_A)
    assert [n.new_coa for n in notes(out, Moved)] == [SITE_COA]
    (bu, _), = bus(out)
    assert bu.src == SITE_COA and bu.dst == SITE_HA and bu.home_address == SITE_HOA
    site = make_mn(homes=(HomeAddressConfig(SITE_HOA, SITE_HA),), allow_site_local=True)
    out = attach_with(site, SITE_A, PREFIX_A)
    assert [n.new_coa for n in notes(out, Moved)] == [COA_A]      # global preferred
    # A global home address never gets a site-local care-of address (scope at least the home's).
    glob = make_mn(allow_site_local=True)
    out = attach_with(glob, SITE_A)
    assert not notes(out, Moved) and glob.counters["mn.coa_site_local_refused"] == 1


def test_default_off_site_local_traffic_is_not_sent_across_sites():
    mn, _ = registered_mn()
    peer = IPv6Address("fec0:0:0:99::7")
    assert mn.source_address(peer, NH_UDP, 5001) is None
    assert mn.counters["mn.source.site_local_refused"] == 1
    # A packet from the home address to a site-local peer would leave through the tunnel: the data
    # path's scope rule drops it (counted).
    out = mn.send(5 * S, udp_packet(HOA, peer, 5001))
    assert not packets(out)
    assert mn.counters["drop.datapath.site_local"] == 1


def test_switched_on_site_local_traffic_goes_through_the_tunnel():
    mn, _ = registered_mn(allow_site_local=True)
    peer = IPv6Address("fec0:0:0:99::7")
    assert mn.source_address(peer, NH_UDP, 5001) == HOA
    out = mn.send(5 * S, udp_packet(HOA, peer, 5001))
    (_, p, raw), = packets(out)
    assert p.dst == HA and raw[6] == 41 and raw[64:80] == peer.packed
