"""The mobile node with two home addresses on two home links (RFC 6275 §11.5.5 per home address): on
home link 1 it is at home for home address 1 (de-registered, defends it, uses it natively) and away for
home address 2, which it registers with home agent 2 using home address 1 as care-of address once the
de-registration with home agent 1 is acknowledged. Hand-built frames; times are integer ns."""
from ipaddress import IPv6Address, IPv6Network

from helpers.mobile_node import (
    A_MAC,
    B_MAC,
    CN,
    COA_A,
    COA_B,
    MN_MAC,
    MS,
    PREFIX_A,
    PREFIX_B,
    S,
    ba,
    bus,
    frame,
    make_mn,
    notes,
    packets,
    ra,
    tick_answering,
)
from helpers.mobile_node import HA as HA1
from helpers.mobile_node import HA_MAC as HA1_MAC
from helpers.mobile_node import HOA as HOA1
from helpers.mobile_node import HOME_MAC as ROUTER1_MAC
from helpers.mobile_node import HOME_PREFIX as HOME1

from mip6fast.apps import udp_datagram
from mip6fast.roles import link_local_address, slaac_address
from mip6fast.roles.mobile_node import (
    Deregistered,
    HomeAddressConfig,
    Location,
    Moved,
    Registered,
    RegistrationState,
    ReturnedHome,
)
from mip6fast.wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    BindingRefreshRequest,
    BindingUpdate,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    Raw,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

# Home link 1 is the home link of tests/helpers/mobile_node.py (its prefix, home address, home agent,
# home agent's MAC and default router); home link 2 is this module's own.
HOME2 = IPv6Network("2001:db8:2::/64")
HOA2 = slaac_address(HOME2, MN_MAC)
HA2 = IPv6Address("2001:db8:2::2")
HOMES = (HomeAddressConfig(HOA1, HA1), HomeAddressConfig(HOA2, HA2))


def registered_abroad():
    """Both home addresses registered from foreign link A (BU at 2.1 s, BAs 10 ms later)."""
    mn = make_mn(homes=HOMES)
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(1 * S + 100 * MS, "eth0", ra(A_MAC, PREFIX_A))
    out = mn.tick(2 * S + 100 * MS)
    sent = {p.payload.home and p.home_address: p for p, _ in bus(out)}
    assert set(sent) == {HOA1, HOA2}
    for home, ha in ((HOA1, HA1), (HOA2, HA2)):
        assert sent[home].dst == ha and sent[home].src == COA_A
        out = mn.receive(2 * S + 110 * MS, "eth0", ba(0, sent[home].payload.sequence, dst=COA_A, rh2=home,
                                                      src=ha, src_mac=A_MAC))
        assert notes(out, Registered) == [Registered(2 * S + 110 * MS, home, COA_A, 600)]
    return mn


def arrive_home1(mn, t):
    """Move to home link 1 at ``t``: the RA of its router carries home prefix 1."""
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    return mn.receive(t + 200 * MS, "eth0", ra(ROUTER1_MAC, HOME1))


def ha1_answers(mn, t):
    """Home agent 1 answers the NS from :: for its address (to all-nodes): the queued BU leaves."""
    na = Packet(src=HA1, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA1, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA1_MAC),)))
    return mn.receive(t, "eth0", frame(HA1_MAC, ipv6_multicast_mac(ALL_NODES.packed), na))


def at_home1_registered():
    """Registered abroad, then home link 1 at 10 s: de-registered with HA1 at 10.23 s; returns the
    node and the output of that BA (the BU to HA2 from home address 1)."""
    mn = registered_abroad()
    arrive_home1(mn, 10 * S)
    (dereg, _), = bus(ha1_answers(mn, 10 * S + 210 * MS))
    out = mn.receive(10 * S + 230 * MS, "eth0",
                     ba(0, dereg.payload.sequence, lifetime=0, dst=HOA1, rh2=None, src=HA1,
                        src_mac=HA1_MAC))
    return mn, out


def ns_for(target):
    ns = Packet(src=link_local_address(ROUTER1_MAC), dst=solicited_node_multicast(target), hop_limit=255,
                payload=NeighborSolicitation(target=target, options=(SourceLinkLayerAddress(ROUTER1_MAC),)))
    return frame(ROUTER1_MAC, ipv6_multicast_mac(solicited_node_multicast(target).packed), ns)


def udp_from(src, payload=b"app"):
    return Packet(src=src, dst=CN, hop_limit=64, payload=Raw(17, udp_datagram(src, CN, 4000, 5000, payload))).to_bytes()


# ---------------------------------------------------------------- location per home address

def test_location_is_unknown_before_any_link_then_away_for_both():
    mn = make_mn(homes=HOMES)
    assert mn.location_of(HOA1) is Location.UNKNOWN and mn.location_of(HOA2) is Location.UNKNOWN
    registered_abroad_mn = registered_abroad()
    assert registered_abroad_mn.location is Location.AWAY
    assert {registered_abroad_mn.location_of(h) for h in (HOA1, HOA2)} == {Location.AWAY}


def test_home_link_1_is_home_for_address_1_only():
    mn = registered_abroad()
    t = 10 * S
    out = arrive_home1(mn, t)
    assert notes(out, ReturnedHome) == [ReturnedHome(t + 200 * MS, HOA1)]
    assert mn.location is Location.HOME
    assert mn.location_of(HOA1) is Location.HOME and mn.location_of(str(HOA2)) is Location.AWAY
    assert mn.iface.addresses[HOA1].usable and HOA2 not in mn.iface.addresses
    assert mn.registrations[HOA1].state is RegistrationState.DEREGISTERING
    # The binding of home address 2 points at a care-of address that is gone: no longer used.
    assert not mn.registrations[HOA2].active
    # Nothing is sent to home agent 2 while home agent 1 still intercepts packets for home address 1.
    assert not bus(out)
    assert not any(p.dst == HA2 for p, _ in bus(ha1_answers(mn, t + 210 * MS)))


def test_after_the_deregistration_home_address_2_registers_from_home_address_1():
    mn, out = at_home1_registered()
    t = 10 * S + 230 * MS
    assert notes(out, Deregistered) == [Deregistered(t, HOA1)]
    assert notes(out, Moved) == [Moved(t, None, HOA1)]
    (bu, _), = bus(out)
    # §11.7.1 with home address 1 as care-of address: source, Alternate CoA; HAO = home address 2.
    assert bu.src == HOA1 and bu.dst == HA2 and bu.home_address == HOA2
    assert bu.payload.home and bu.payload.ack and bu.payload.lifetime == 600
    assert bu.payload.options == (AlternateCareOfAddress(HOA1),)
    # The unsolicited NA for home address 1 went first (§11.5.5), then the BU.
    kinds = [type(p.payload) for _, p, _ in packets(out)]
    assert kinds.index(NeighborAdvertisement) < kinds.index(BindingUpdate)
    # HA2 answers to home address 1 with an RH2 holding home address 2.
    out = mn.receive(t + 5 * MS, "eth0", ba(0, bu.payload.sequence, dst=HOA1, rh2=HOA2, src=HA2,
                                            src_mac=ROUTER1_MAC))
    assert notes(out, Registered) == [Registered(t + 5 * MS, HOA2, HOA1, 600)]
    assert mn.registrations[HOA2].active and mn.binding_update_list[(HA2, HOA2)].care_of_address == HOA1
    assert mn.registrations[HOA1].state is RegistrationState.HOME
    assert (HA1, HOA1) not in mn.binding_update_list


def test_not_a_first_registration_so_the_retransmission_waits_one_second():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    t = 10 * S + 230 * MS
    assert not bus(mn.tick(t + 1 * S - 1))
    (again, _), = bus(mn.tick(t + 1 * S))
    assert again.src == HOA1 and again.payload.sequence == (bu.payload.sequence + 1) % 65536


def test_ba_for_home_address_2_without_rh2_is_dropped_while_away_for_it():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    # Home address 2 is not an address of the node on this link: the packet is not for it.
    out = mn.receive(11 * S, "eth0", ba(0, bu.payload.sequence, dst=HOA2, rh2=None, src=HA2,
                                        src_mac=ROUTER1_MAC))
    assert not notes(out, Registered) and mn.counters["drop.not_for_us"] == 1
    assert not mn.registrations[HOA2].active


def test_data_on_home_link_1():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    t = 11 * S
    # Before HA2's BA: a packet from home address 2 has no registration (counted drop); one from home
    # address 1 goes natively.
    assert not mn.send(t, udp_from(HOA2)).transmits
    assert mn.counters["drop.mn.no_home_registration"] == 1
    mn.receive(t, "eth0", ba(0, bu.payload.sequence, dst=HOA1, rh2=HOA2, src=HA2, src_mac=ROUTER1_MAC))
    (_, p, raw), = packets(mn.send(t + 1 * MS, udp_from(HOA1)))
    assert p.src == HOA1 and p.dst == CN and raw[6] == 17
    # From home address 2: reverse-tunnelled from home address 1 to HA2 (§11.3.1).
    (_, p, raw), = packets(mn.send(t + 2 * MS, udp_from(HOA2, b"two")))
    assert raw[6] == 41 and p.src == HOA1 and p.dst == HA2
    assert p.payload.src == HOA2 and p.payload.dst == CN and raw.endswith(b"two")
    assert mn.counters["drop.mn.no_home_registration"] == 1
    # From HA2's tunnel to home address 1, for home address 2: delivered.
    inner = Packet(src=CN, dst=HOA2, hop_limit=63, payload=Raw(17, udp_datagram(CN, HOA2, 5000, 4000, b"in")))
    out = mn.receive(t + 3 * MS, "eth0", frame(ROUTER1_MAC, MN_MAC, Packet(src=HA2, dst=HOA1, payload=inner)))
    (delivered,) = out.deliveries
    assert delivered[24:40] == HOA2.packed and delivered.endswith(b"in")
    # The node defends home address 1 on its home link, not home address 2 (HA2 does, on link 2).
    (answer,) = [p for _, p, _ in packets(mn.receive(t + 4 * MS, "eth0", ns_for(HOA1)))]
    assert isinstance(answer.payload, NeighborAdvertisement) and answer.payload.target == HOA1
    assert not mn.receive(t + 5 * MS, "eth0", ns_for(HOA2)).transmits


def test_refresh_and_refresh_request_for_home_address_2_on_home_link_1():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    t = 10 * S + 240 * MS
    mn.receive(t, "eth0", ba(0, bu.payload.sequence, lifetime=20, dst=HOA1, rh2=HOA2, src=HA2,
                             src_mac=ROUTER1_MAC))
    # Refreshed before the 20 s run out (lead max(2 s, 10 %)), from home address 1.
    refreshes = []
    for k in range(1, 200):
        ticked = tick_answering(mn, t + k * 100 * MS, router_mac=ROUTER1_MAC)
        refreshes += [(t + k * 100 * MS, p) for p, _ in bus(ticked)]
        if refreshes:
            break
    (at, refresh), = refreshes
    assert refresh.src == HOA1 and refresh.home_address == HOA2 and refresh.dst == HA2
    sent_at = 10 * S + 230 * MS                 # the lifetime counts from when the BU was sent
    assert sent_at + 17 * S < at <= sent_at + 18 * S + 100 * MS
    # A Binding Refresh Request from HA2 (to home address 1, RH2 = home address 2): a BU at once.
    brr = Packet(src=HA2, dst=HOA1, rh2=HOA2, payload=BindingRefreshRequest())
    (now_bu, _), = bus(mn.receive(t + 19 * S, "eth0", frame(ROUTER1_MAC, MN_MAC, brr)))
    assert now_bu.src == HOA1 and now_bu.home_address == HOA2
    # HA1 has no binding: a BRR for home address 1 while at home for it is refused (counted).
    brr1 = Packet(src=HA1, dst=HOA1, payload=BindingRefreshRequest())
    assert not bus(mn.receive(t + 19 * S + 1, "eth0", frame(HA1_MAC, MN_MAC, brr1)))
    assert mn.counters["drop.mn.brr_not_registered"] == 1


def test_starting_on_home_link_1_registers_home_address_2_at_once():
    mn = make_mn(homes=HOMES)
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    out = mn.receive(1 * S + 100 * MS, "eth0", ra(ROUTER1_MAC, HOME1))
    assert notes(out, ReturnedHome) == [ReturnedHome(1 * S + 100 * MS, HOA1)]
    # Nothing to de-register with HA1: home address 1 is usable and defended at once.
    assert mn.registrations[HOA1].state is RegistrationState.HOME
    assert notes(out, Moved) == [Moved(1 * S + 100 * MS, None, HOA1)]
    (bu, _), = bus(out)
    assert bu.src == HOA1 and bu.dst == HA2 and bu.home_address == HOA2
    # A first registration with HA2: InitialBindackTimeoutFirstReg (1.5 s) before the retransmission.
    assert not bus(mn.tick(1 * S + 100 * MS + 3 * S // 2 - 1))
    assert bus(mn.tick(1 * S + 100 * MS + 3 * S // 2))
    assert mn.counters["mn.home_link_care_of"] == 1


def test_leaving_home_link_1_registers_both_from_the_new_care_of_address():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    mn.receive(10 * S + 240 * MS, "eth0", ba(0, bu.payload.sequence, dst=HOA1, rh2=HOA2, src=HA2,
                                             src_mac=ROUTER1_MAC))
    t = 20 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B))
    moved, sent = [], []
    for k in range(1, 80):                     # the home router does not answer NUD: it is gone
        out = mn.tick(t + k * 100 * MS)
        moved += notes(out, Moved)
        sent += [p for p, _ in bus(out)]
    assert moved and moved[0].old_coa == HOA1 and moved[0].new_coa == COA_B
    assert {(p.dst, p.home_address) for p in sent} >= {(HA1, HOA1), (HA2, HOA2)}
    assert all(p.src == COA_B for p in sent)
    assert mn.location_of(HOA1) is Location.AWAY and mn.location_of(HOA2) is Location.AWAY
    assert HOA1 not in mn.iface.addresses
    # Home address 1 is registered again from scratch (first registration), home address 2 updated.
    assert mn.registrations[HOA1].state is RegistrationState.REGISTERING
    # NS for home address 1 is no longer answered (HA1 will defend it).
    assert not mn.receive(t + 8 * S, "eth0", ns_for(HOA1)).transmits


def test_a_single_home_address_behaves_as_before():
    mn = make_mn(homes=(HomeAddressConfig(HOA1, HA1),))
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    out = mn.receive(1 * S + 100 * MS, "eth0", ra(ROUTER1_MAC, HOME1))
    assert mn.location_of(HOA1) is Location.HOME and not bus(out) and not notes(out, Moved)
    assert mn.care_of is None and mn.counters["mn.home_link_care_of"] == 0


ROUTER2_MAC = bytes.fromhex("0200000000a2")       # the default router of home link 2
HA2_MAC = bytes.fromhex("020000000022")


def test_straight_from_home_link_1_to_home_link_2():
    mn, out = at_home1_registered()
    (bu, _), = bus(out)
    mn.receive(10 * S + 240 * MS, "eth0", ba(0, bu.payload.sequence, dst=HOA1, rh2=HOA2, src=HA2,
                                             src_mac=ROUTER1_MAC))
    t = 20 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    out = mn.receive(t + 200 * MS, "eth0", ra(ROUTER2_MAC, HOME2))
    assert notes(out, ReturnedHome) == [ReturnedHome(t + 200 * MS, HOA2)]
    assert mn.location_of(HOA2) is Location.HOME and mn.location_of(HOA1) is Location.AWAY
    assert HOA1 not in mn.iface.addresses and mn.iface.addresses[HOA2].usable
    assert mn.registrations[HOA2].state is RegistrationState.DEREGISTERING
    assert not mn.receive(t + 205 * MS, "eth0", ns_for(HOA1)).transmits     # HA1 defends it now
    # De-registration with HA2 from home address 2 (HA2's link-layer address through an NS from ::).
    na = Packet(src=HA2, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA2, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA2_MAC),)))
    (dereg, _), = bus(mn.receive(t + 210 * MS, "eth0",
                                 frame(HA2_MAC, ipv6_multicast_mac(ALL_NODES.packed), na)))
    assert dereg.src == HOA2 and dereg.dst == HA2 and dereg.payload.lifetime == 0
    out = mn.receive(t + 230 * MS, "eth0", ba(0, dereg.payload.sequence, lifetime=0, dst=HOA2, rh2=None,
                                               src=HA2, src_mac=HA2_MAC))
    assert notes(out, Deregistered) == [Deregistered(t + 230 * MS, HOA2)]
    # Then home address 1 registers with HA1 from home address 2 (a first registration again).
    assert notes(out, Moved) == [Moved(t + 230 * MS, None, HOA2)]
    (bu1, _), = bus(out)
    assert bu1.src == HOA2 and bu1.dst == HA1 and bu1.home_address == HOA1
    assert bu1.payload.options == (AlternateCareOfAddress(HOA2),)
    assert mn.registrations[HOA1].first
