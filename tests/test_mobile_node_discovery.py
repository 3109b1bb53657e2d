"""The mobile node's home agent discovery and mobile prefix discovery (RFC 6275 §11.4), sans-I/O, with
hand-built frames: the DHAAD Request and its retransmissions, the Reply, failover to the next home agent
and back to DHAAD with the data path retargeted, Mobile Prefix Solicitation after status 1 and before the
home address runs out, and Mobile Prefix Advertisements (identifier, RH2, new prefix, withdrawal).
Times are integer ns; ``S`` is one second."""
from ipaddress import IPv6Address, IPv6Network

from helpers.mobile_node import (
    A_MAC,
    CN,
    COA_A,
    HA,
    HOA,
    HOME_PREFIX,
    MN_MAC,
    MS,
    T_BU,
    S,
    attach_foreign,
    bus,
    frame,
    make_mn,
    notes,
    optimised_mn,
    packets,
    tick_answering,
)

from mip6fast.apps import udp_datagram
from mip6fast.roles import slaac_address
from mip6fast.roles.mobile_node import (
    HomeAddressConfig,
    HomeAddressWithdrawn,
    HomeAgentChanged,
    HomeAgentDiscovered,
    HomeAgentDiscoveryFailed,
    HomePrefixChanged,
    PrefixDiscoveryNeeded,
    Registered,
    RegistrationFailed,
    RegistrationState,
)
from mip6fast.roles.registration import PeerState
from mip6fast.wire import (
    BindingAcknowledgement,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
    PrefixInformation,
    Raw,
    home_agents_anycast,
)

HA1 = IPv6Address("2001:db8:1::11")
HA2 = IPv6Address("2001:db8:1::12")
ANYCAST = IPv6Address("2001:db8:1:0:fdff:ffff:ffff:fffe")
NEW_PREFIX = IPv6Network("2001:db8:2::/64")
NEW_HOA = slaac_address(NEW_PREFIX, MN_MAC)


def sent(out, cls):
    return [p for _, p, _ in packets(out) if isinstance(p.payload, cls)]


def from_router_a(packet):
    return frame(A_MAC, MN_MAC, packet)


def reply(identifier, agents, src=HA1, dst=COA_A):
    return from_router_a(Packet(src=src, dst=dst, payload=HomeAgentAddressDiscoveryReply(identifier, tuple(agents))))


def ack(ha, sequence, status=0, lifetime=600, home=HOA):
    return from_router_a(Packet(src=ha, dst=COA_A, rh2=home, payload=BindingAcknowledgement(
        status=status, sequence=sequence, lifetime=lifetime)))


def mpa(identifier, prefixes, src=HA, rh2=HOA, dst=COA_A):
    options = tuple(PrefixInformation(p.network_address, p.prefixlen, valid_lifetime=v,
                                      preferred_lifetime=min(v, pl)) for p, v, pl in prefixes)
    return from_router_a(Packet(src=src, dst=dst, rh2=rh2, payload=MobilePrefixAdvertisement(identifier,
                                                                                             options=options)))


def discovering_mn(**kwargs):
    """A mobile node without a home agent, attached to foreign link A: returns it and its first DHAAD
    Request."""
    mn = make_mn(homes=(HomeAddressConfig(HOA),), **kwargs)
    out = attach_foreign(mn)
    assert not bus(out)
    (req,) = sent(out, HomeAgentAddressDiscoveryRequest)
    return mn, req


def discovered_mn(agents=(HA1, HA2), **kwargs):
    """A node that got ``agents`` from DHAAD at T_BU + 50 ms; returns it and its first BU."""
    mn, req = discovering_mn(**kwargs)
    out = mn.receive(T_BU + 50 * MS, "eth0", reply(req.payload.identifier, agents))
    (bu, _), = bus(out)
    return mn, bu


def registered_via_dhaad(**kwargs):
    mn, bu = discovered_mn(**kwargs)
    out = mn.receive(T_BU + 60 * MS, "eth0", ack(HA1, bu.payload.sequence))
    assert notes(out, Registered)
    return mn


def ipv6_udp(src, dst, payload=b"x" * 20):
    return Packet(src=src, dst=dst, payload=Raw(17, udp_datagram(src, dst, 7, 7, payload))).to_bytes()


def home_packet():
    return ipv6_udp(HOA, CN)


def tunnelled_to(out):
    """Outer destinations of the reverse-tunnelled packets in ``out``."""
    return [p.dst for _, p, raw in packets(out) if raw[6] == 41]


# ---------------------------------------------------------------- DHAAD (§11.4.1)

def test_home_agents_anycast_address_of_the_home_prefix():
    assert home_agents_anycast(HOME_PREFIX) == ANYCAST


def test_no_home_agent_sends_a_dhaad_request_from_the_care_of_address_to_the_anycast_address():
    mn, req = discovering_mn()
    assert req.src == COA_A and req.dst == ANYCAST and req.home_address is None and req.rh2 is None
    assert mn.registrations[HOA].state is RegistrationState.IDLE
    assert mn.counters["mn.dhaad.request_sent"] == 1


def test_dhaad_retransmits_from_3_s_doubling_four_times_then_reports_failure():
    mn, req = discovering_mn()
    ident = req.payload.identifier
    t = T_BU
    for gap in (3, 6, 12, 24):
        assert not sent(tick_answering(mn, t + gap * S - 1), HomeAgentAddressDiscoveryRequest)
        out = tick_answering(mn, t + gap * S)
        (again,) = sent(out, HomeAgentAddressDiscoveryRequest)
        assert again.payload.identifier == ident and again.dst == ANYCAST
        t += gap * S
    assert not notes(tick_answering(mn, t + 48 * S - 1), HomeAgentDiscoveryFailed)
    out = tick_answering(mn, t + 48 * S)
    assert notes(out, HomeAgentDiscoveryFailed) == [HomeAgentDiscoveryFailed(t + 48 * S, HOA)]
    assert not sent(out, HomeAgentAddressDiscoveryRequest)
    assert mn.counters["mn.dhaad.retransmitted"] == 4 and mn.counters["mn.dhaad.failed"] == 1
    # It asks again after MAX_BINDACK_TIMEOUT, with a new identifier.
    (later,) = sent(tick_answering(mn, t + 80 * S), HomeAgentAddressDiscoveryRequest)
    assert later.payload.identifier != ident


def test_reply_with_another_identifier_or_empty_list_is_ignored():
    mn, req = discovering_mn()
    ident = req.payload.identifier
    out = mn.receive(T_BU + 10 * MS, "eth0", reply((ident + 1) % 65536, (HA1,)))
    assert not bus(out) and mn.counters["drop.mn.dhaad_reply_unexpected"] == 1
    out = mn.receive(T_BU + 20 * MS, "eth0", reply(ident, ()))
    assert not bus(out) and mn.counters["drop.mn.dhaad_reply_empty"] == 1
    out = mn.receive(T_BU + 30 * MS, "eth0", reply(ident, ("fe80::1", "ff02::1")))
    assert not bus(out)
    # Still waiting: the retransmission goes out on time.
    assert sent(tick_answering(mn, T_BU + 3 * S), HomeAgentAddressDiscoveryRequest)


def test_reply_gives_the_ordered_list_and_a_first_registration_with_the_first_agent():
    mn, req = discovering_mn()
    out = mn.receive(T_BU + 50 * MS, "eth0", reply(req.payload.identifier, (HA1, HA2), src=HA2))
    assert notes(out, HomeAgentDiscovered) == [HomeAgentDiscovered(T_BU + 50 * MS, HOA, (HA1, HA2))]
    assert not notes(out, HomeAgentChanged)
    (bu, _), = bus(out)
    assert bu.dst == HA1 and bu.src == COA_A and bu.home_address == HOA and bu.payload.home
    assert mn.registrations[HOA].home.home_agent == HA1
    # First registration with this agent: 1.5 s to the retransmission (§11.8).
    assert not bus(tick_answering(mn, T_BU + 50 * MS + 1500 * MS - 1))
    assert bus(tick_answering(mn, T_BU + 50 * MS + 1500 * MS))
    # A late second reply (identifier no longer outstanding) changes nothing.
    mn.receive(T_BU + 2 * S, "eth0", reply(req.payload.identifier, (HA2,)))
    assert mn.registrations[HOA].home.home_agent == HA1


def test_an_unanswering_agent_is_replaced_by_the_next_then_dhaad_runs_again():
    mn, _ = discovered_mn(max_bindack_timeout=4 * S)
    t0 = T_BU + 50 * MS
    # 1.5 s, 3 s, then 4 s (the cap) twice: the schedule is used up, HA1 is not answering.
    for t in (t0 + 1500 * MS, t0 + 4500 * MS, t0 + 8500 * MS):
        (b, _), = bus(tick_answering(mn, t))
        assert b.dst == HA1
    out = tick_answering(mn, t0 + 12500 * MS)
    assert notes(out, HomeAgentChanged) == [HomeAgentChanged(t0 + 12500 * MS, HOA, HA1, HA2, "not_answering")]
    (b, _), = bus(out)
    assert b.dst == HA2
    assert (HA1, HOA) not in mn.binding_update_list and (HA2, HOA) in mn.binding_update_list
    # HA2 does not answer either: the list is used up, DHAAD again with a fresh identifier.
    t1 = t0 + 12500 * MS
    for t in (t1 + 1500 * MS, t1 + 4500 * MS, t1 + 8500 * MS):
        tick_answering(mn, t)
    out = tick_answering(mn, t1 + 12500 * MS)
    assert not bus(out)
    (req,) = sent(out, HomeAgentAddressDiscoveryRequest)
    assert req.dst == ANYCAST
    assert mn.registrations[HOA].home.home_agent is None
    assert (HA2, HOA) not in mn.binding_update_list
    assert mn.counters["mn.home_agent_not_answering"] == 2


def test_a_rejecting_agent_is_replaced_by_the_next_on_the_list():
    mn, bu = discovered_mn()
    out = mn.receive(T_BU + 60 * MS, "eth0", ack(HA1, bu.payload.sequence, status=129, lifetime=0))
    assert notes(out, RegistrationFailed)
    assert [n.reason for n in notes(out, HomeAgentChanged)] == ["rejected"]
    (b, _), = bus(out)
    assert b.dst == HA2


def test_registered_agent_failing_on_refresh_retargets_the_data_path():
    mn = registered_via_dhaad(lifetime=40, max_bindack_timeout=4 * S)
    t = 20 * S
    assert tunnelled_to(mn.send(t, home_packet())) == [HA1]
    # The refresh (at 36 s) goes unanswered: 1 s, 2 s, then 4 s at the cap twice.
    refresh = T_BU + 60 * MS + 36 * S
    outs = [tick_answering(mn, x) for x in range(int(refresh), int(refresh + 12 * S), 100 * MS)]
    changed = [n for o in outs for n in notes(o, HomeAgentChanged)]
    assert [(n.old, n.new, n.reason) for n in changed] == [(HA1, HA2, "not_answering")]
    # The refresh, +1 s, +2 s, +4 s to HA1; 4 s later HA2.
    assert [b.dst for o in outs for b, _ in bus(o)] == [HA1, HA1, HA1, HA1, HA2]
    # Between the change and HA2's BA nothing goes through HA1 (or anywhere): counted drops.
    now = refresh + 12 * S
    assert (HA1, HOA) not in mn.binding_update_list
    out = mn.send(now, home_packet())
    assert tunnelled_to(out) == [] and mn.counters["drop.mn.no_home_registration"] >= 1
    seq = mn.registrations[HOA].outstanding
    out = mn.receive(now + 10 * MS, "eth0", ack(HA2, seq))
    assert notes(out, Registered)
    assert tunnelled_to(mn.send(now + 20 * MS, home_packet())) == [HA2]
    # Inbound: a tunnelled packet from HA2 is delivered, one from HA1 is not.
    inner = Packet(src=IPv6Address("2001:db8:99::7"), dst=HOA, hop_limit=63,
                   payload=Raw(17, udp_datagram(IPv6Address("2001:db8:99::7"), HOA, 7, 7, b"y" * 20)))
    for ha, delivered in ((HA2, 1), (HA1, 0)):
        tunnel = Packet(src=ha, dst=COA_A, payload=inner)
        out = mn.receive(now + 30 * MS, "eth0", from_router_a(tunnel))
        assert len(out.deliveries) == delivered


def test_configured_agent_that_stops_answering_falls_back_to_dhaad():
    mn = make_mn(max_bindack_timeout=4 * S)
    out = attach_foreign(mn)
    (bu, _), = bus(out)
    assert bu.dst == HA
    for t in (T_BU + 1500 * MS, T_BU + 4500 * MS, T_BU + 8500 * MS):
        assert bus(tick_answering(mn, t))
    out = tick_answering(mn, T_BU + 12500 * MS)
    (req,) = sent(out, HomeAgentAddressDiscoveryRequest)
    assert req.dst == ANYCAST and not bus(out)
    out = mn.receive(T_BU + 13 * S, "eth0", reply(req.payload.identifier, (HA2,)))
    assert notes(out, HomeAgentChanged) == [HomeAgentChanged(T_BU + 13 * S, HOA, HA, HA2, "rediscovered")]
    (b, _), = bus(out)
    assert b.dst == HA2


def test_configured_agent_is_tried_again_when_dhaad_finds_nothing():
    mn = make_mn(max_bindack_timeout=4 * S, dhaad_retries=0)
    attach_foreign(mn)
    for t in (T_BU + 1500 * MS, T_BU + 4500 * MS, T_BU + 8500 * MS, T_BU + 12500 * MS):
        tick_answering(mn, t)
    out = tick_answering(mn, T_BU + 15500 * MS)      # the one DHAAD Request timed out after 3 s
    assert notes(out, HomeAgentDiscoveryFailed)
    (b, _), = bus(out)
    assert b.dst == HA


def test_without_fallback_a_configured_agent_keeps_being_retried():
    mn = make_mn(max_bindack_timeout=4 * S, fallback_to_discovery=False)
    attach_foreign(mn)
    dsts = [b.dst for t in range(1, 40) for b, _ in bus(tick_answering(mn, T_BU + t * 500 * MS))]
    assert dsts and set(dsts) == {HA}
    assert mn.counters["mn.dhaad.request_sent"] == 0


# ---------------------------------------------------------------- Mobile Prefix Solicitation (§11.4.2)

def registered(status=0, homes=None, **kwargs):
    mn = make_mn(homes=homes, **kwargs)
    out = attach_foreign(mn)
    (bu, _), = bus(out)
    out = mn.receive(T_BU + 10 * MS, "eth0", ack(HA, bu.payload.sequence, status=status))
    assert notes(out, Registered)
    return mn, out


def test_status_1_sends_a_mobile_prefix_solicitation_with_hao_retransmitted_with_backoff():
    mn, out = registered(status=1)
    assert notes(out, PrefixDiscoveryNeeded)
    (mps,) = sent(out, MobilePrefixSolicitation)
    assert mps.src == COA_A and mps.dst == HA and mps.home_address == HOA and mps.rh2 is None
    t = T_BU + 10 * MS
    for gap in (3, 6):
        assert not sent(tick_answering(mn, t + gap * S - 1), MobilePrefixSolicitation)
        (again,) = sent(tick_answering(mn, t + gap * S), MobilePrefixSolicitation)
        assert again.payload.identifier == mps.payload.identifier
        t += gap * S
    assert mn.counters["mn.mps.retransmitted"] == 2


def test_solicited_advertisement_must_echo_the_identifier_and_carry_an_rh2():
    mn, out = registered(status=1)
    (mps,) = sent(out, MobilePrefixSolicitation)
    ident = mps.payload.identifier
    t = T_BU + 100 * MS
    mn.receive(t, "eth0", mpa((ident + 1) % 65536, [(HOME_PREFIX, 500, 400)]))
    assert mn.counters["drop.mn.mpa_identifier_mismatch"] == 1
    no_rh2 = Packet(src=HA, dst=COA_A, payload=MobilePrefixAdvertisement(ident, options=(
        PrefixInformation(HOME_PREFIX.network_address, 64, valid_lifetime=500, preferred_lifetime=400),)))
    mn.receive(t, "eth0", from_router_a(no_rh2))
    assert mn.counters["drop.mn.mpa_without_rh2"] == 1
    mn.receive(t, "eth0", mpa(ident, [(HOME_PREFIX, 500, 400)], src=HA2))
    assert mn.counters["drop.mn.mpa_not_from_home_agent"] == 1
    assert mn.registrations[HOA].home.valid_until is None
    out = mn.receive(t, "eth0", mpa(ident, [(HOME_PREFIX, 500, 400)]))
    assert notes(out, HomePrefixChanged) == [HomePrefixChanged(t, HOA, HOME_PREFIX, 500, 400, False)]
    assert mn.registrations[HOA].home.valid_until == t + 500 * S
    assert mn.counters["mn.mpa.solicited"] == 1
    # Solicited: no acknowledging BU; no more solicitations, but the shorter lifetime (500 s < the
    # 600 s asked for) is "about to expire" and starts a new one, and the next BU asks for <= 500 s.
    assert not bus(out)
    (mps2,) = sent(out, MobilePrefixSolicitation)
    assert mps2.payload.identifier != ident
    # The answer confirms the short lifetime (one second less, as the agent rounds down): no third one.
    out = mn.receive(t + S, "eth0", mpa(mps2.payload.identifier, [(HOME_PREFIX, 499, 400)]))
    assert not notes(out, HomePrefixChanged) and not sent(out, MobilePrefixSolicitation)
    assert not any(sent(tick_answering(mn, t + k * S), MobilePrefixSolicitation) for k in range(2, 40))
    assert mn.counters["mn.mps.sent"] == 2


def test_home_address_lifetime_near_expiry_triggers_a_solicitation():
    mn, out = registered(homes=(HomeAddressConfig(HOA, HA, valid_until=T_BU + 900 * S),))
    assert not sent(out, MobilePrefixSolicitation)
    # Solicited when less than the 600 s binding lifetime is left: at T_BU + 300 s.
    assert not sent(tick_answering(mn, T_BU + 300 * S - 1), MobilePrefixSolicitation)
    (mps,) = sent(tick_answering(mn, T_BU + 300 * S), MobilePrefixSolicitation)
    assert mps.home_address == HOA


# ---------------------------------------------------------------- Mobile Prefix Advertisement (§11.4.3)

def test_unsolicited_advertisement_with_a_new_prefix_forms_and_registers_a_new_home_address():
    mn, _ = registered()
    t = 10 * S
    out = mn.receive(t, "eth0", mpa(777, [(HOME_PREFIX, 30, 0), (NEW_PREFIX, 0xFFFFFFFF, 0xFFFFFFFF)]))
    changes = notes(out, HomePrefixChanged)
    assert HomePrefixChanged(t, HOA, HOME_PREFIX, 30, 0, False) in changes
    assert HomePrefixChanged(t, NEW_HOA, NEW_PREFIX, 0xFFFFFFFF, 0xFFFFFFFF, True) in changes
    assert NEW_HOA in mn.registrations and mn.registrations[NEW_HOA].home.home_agent == HA
    assert mn.home_addresses == (HOA, NEW_HOA)
    # One BU acknowledges the advertisement (for HOA, lifetime cut to the prefix's 30 s -> 28 s),
    # one registers the new home address.
    by_home = {b.home_address: b for b, _ in bus(out)}
    assert set(by_home) == {HOA, NEW_HOA}
    assert by_home[HOA].payload.lifetime == 28 and by_home[NEW_HOA].payload.lifetime == 600
    assert mn.counters["mn.mpa.acknowledged_by_bu"] == 1
    out = mn.receive(t + 10 * MS, "eth0", ack(HA, by_home[NEW_HOA].payload.sequence, home=NEW_HOA))
    assert [n.home_address for n in notes(out, Registered)] == [NEW_HOA]
    new_packet = ipv6_udp(NEW_HOA, IPv6Address("2001:db8:99::7"))
    assert tunnelled_to(mn.send(t + 20 * MS, new_packet)) == [HA]


def test_a_withdrawn_prefix_stops_the_home_address():
    mn, _ = registered()
    t = 10 * S
    out = mn.receive(t, "eth0", mpa(5, [(HOME_PREFIX, 3000, 0), (NEW_PREFIX, 3000, 3000)]))
    seq = next(b.payload.sequence for b, _ in bus(out) if b.home_address == NEW_HOA)
    mn.receive(t + 10 * MS, "eth0", ack(HA, seq, home=NEW_HOA))
    out = mn.receive(t + 5 * S, "eth0", mpa(6, [(HOME_PREFIX, 0, 0), (NEW_PREFIX, 3000, 3000)], rh2=NEW_HOA))
    assert notes(out, HomeAddressWithdrawn) == [HomeAddressWithdrawn(t + 5 * S, HOA)]
    assert HOA not in mn.registrations and mn.home_addresses == (NEW_HOA,)
    assert (HA, HOA) not in mn.binding_update_list and (HA, NEW_HOA) in mn.binding_update_list
    assert tunnelled_to(mn.send(t + 6 * S, home_packet())) == []
    # The advertisement for NEW_HOA was unsolicited: acknowledged with a BU for NEW_HOA only.
    assert [b.home_address for b, _ in bus(out)] == [NEW_HOA]


def test_the_last_home_address_is_not_withdrawn():
    mn, _ = registered()
    mn.receive(10 * S, "eth0", mpa(5, [(HOME_PREFIX, 0, 0)]))
    assert mn.home_addresses == (HOA,) and mn.counters["mn.mpa.last_home_address_kept"] == 1


def test_advertisement_for_an_unknown_home_address_or_to_another_address_is_dropped():
    mn, _ = registered()
    mn.receive(10 * S, "eth0", mpa(5, [(NEW_PREFIX, 3000, 3000)], rh2=NEW_HOA))
    assert mn.counters["drop.mn.mpa_unknown_home_address"] == 1
    assert mn.home_addresses == (HOA,)


def test_withdrawing_a_home_address_ends_its_route_optimisation():
    mn = optimised_mn()
    assert mn.route_optimization.bindings[(CN, HOA)].state is PeerState.OPTIMISED
    assert (CN, HOA) in mn.binding_update_list
    t = 10 * S
    out = mn.receive(t, "eth0", mpa(5, [(HOME_PREFIX, 3000, 0), (NEW_PREFIX, 3000, 3000)]))
    seq = next(b.payload.sequence for b, _ in bus(out) if b.home_address == NEW_HOA)
    mn.receive(t + 10 * MS, "eth0", ack(HA, seq, home=NEW_HOA))
    mn.receive(t + 5 * S, "eth0", mpa(6, [(HOME_PREFIX, 0, 0), (NEW_PREFIX, 3000, 3000)], rh2=NEW_HOA))
    assert HOA not in mn.registrations
    assert (CN, HOA) not in mn.route_optimization.bindings and (CN, HOA) not in mn.binding_update_list
    # Nothing is sent from the withdrawn address with a Home Address option any more.
    out = mn.send(t + 6 * S, home_packet())
    assert not [p for _, p, _ in packets(out) if p.home_address == HOA]
