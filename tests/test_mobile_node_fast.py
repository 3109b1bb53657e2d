"""Fast handovers (issue 14), sans-I/O with hand-built frames: optimistic DAD of care-of addresses
(RFC 4429) -- the Binding Update leaves from the care-of address before its DAD completes, the RFC
4429 §3.2 restrictions on the wire (an NS from an optimistic address carries no SLLA, an NA for one
has O = 0), a collision found afterwards recovered with a new address and a new BU; home addresses
keep their rules. Mechanisms only, never wall-clock time."""
from ipaddress import IPv6Address, IPv6Network

from helpers.mobile_node import (
    A_MAC,
    B_MAC,
    CN,
    COA_A,
    COA_B,
    HA,
    HOA,
    HOME_MAC,
    HOME_PREFIX,
    MN_MAC,
    MS,
    PREFIX_A,
    PREFIX_B,
    S,
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
)

from mip6fast.roles import AddressState
from mip6fast.roles.mobile_node import HOLD_LIMIT, HOLD_TIMEOUT, Moved, Registered
from mip6fast.wire import (
    ALL_NODES,
    AlternateCareOfAddress,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    Raw,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

OTHER_MAC = bytes.fromhex("0200000000ee")      # another node that wants the care-of address
T_RA = 1 * S + 100 * MS          # router A's RA: the care-of address is formed (and optimistic) here


def fast_mn(**kwargs):
    kwargs.setdefault("optimistic_dad", True)
    kwargs.setdefault("movement_on_reattachment", True)
    return make_mn(**kwargs)


def attach_optimistic(mn):
    """Carrier up at 0, link-local DAD done at 1 s, router A's RA at 1.1 s: returns that RA's output."""
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    return mn.receive(T_RA, "eth0", ra(A_MAC, PREFIX_A))


def nd_of(out, cls):
    return [p for _, p, _ in packets(out) if isinstance(p.payload, cls)]


def registered_optimistic():
    mn = fast_mn()
    (bu, _), = bus(attach_optimistic(mn))
    assert notes(mn.receive(T_RA + 5 * MS, "eth0", ba(0, bu.payload.sequence)), Registered)
    return mn, bu


# ---------------------------------------------------------------- the BU before DAD completes

def test_optimistic_care_of_address_carries_the_bu_while_its_dad_runs():
    mn = fast_mn()
    out = attach_optimistic(mn)
    # The RA formed the address, started its DAD (NS from ::) and the BU left from it, all at once.
    assert mn.iface.addresses[COA_A].state is AddressState.OPTIMISTIC
    dad = [p for p in nd_of(out, NeighborSolicitation) if p.src == IPv6Address("::")]
    assert [p.payload.target for p in dad] == [COA_A]
    assert notes(out, Moved) == [Moved(T_RA, None, COA_A)]
    (bu, _), = bus(out)
    assert bu.src == COA_A and bu.dst == HA and bu.home_address == HOA
    assert bu.payload.options == (AlternateCareOfAddress(COA_A),)
    assert mn.counters["nd.dad_optimistic"] == 1
    # The BA arrives for the optimistic address (it is assigned, RFC 4429 §3.1), before DAD is over.
    out = mn.receive(T_RA + 5 * MS, "eth0", ba(0, bu.payload.sequence))
    assert notes(out, Registered) and mn.iface.addresses[COA_A].state is AddressState.OPTIMISTIC
    # DAD ends a RetransTimer later: preferred, no second BU, no second Moved.
    out = mn.tick(T_RA + 1 * S)
    assert mn.iface.addresses[COA_A].state is AddressState.PREFERRED
    assert not bus(out) and not notes(out, Moved) and mn.care_of == COA_A


def test_without_optimistic_dad_the_bu_waits_for_dad():
    mn = fast_mn(optimistic_dad=False)
    out = attach_optimistic(mn)
    assert mn.iface.addresses[COA_A].state is AddressState.TENTATIVE and not bus(out)
    (bu, _), = bus(mn.tick(T_RA + 1 * S))
    assert bu.src == COA_A


def test_home_address_rules_are_unchanged():
    # Back home (§11.5.5) the home address is put back as a configured address without DAD, never
    # optimistic (and it runs no DAD of its own, optimistic or not).
    mn, _ = registered_optimistic()
    out = go_home(mn, 20 * S)
    assert mn.iface.addresses[HOA].state is AddressState.PREFERRED
    assert not mn.iface.addresses[HOA].autoconfigured
    assert HOA not in [p.payload.target for p in nd_of(out, NeighborSolicitation) if p.src == IPv6Address("::")]


# ---------------------------------------------------------------- RFC 4429 §3.2 on the wire

def _after_move_to_b(mn, t=10 * S):
    """Registered on A, then moved to B at t: the link-local address is tentative again (carrier
    change, RFC 4862 §5.4) while the care-of address on B is optimistic."""
    _, out_ra = move_to_b(mn, t)
    assert mn.iface.addresses[COA_B].state is AddressState.OPTIMISTIC
    assert mn.iface.addresses[mn.iface.link_local].state is AddressState.TENTATIVE
    return out_ra


def test_no_address_resolution_for_a_packet_from_an_optimistic_address():
    # RFC 4429 §3.2: a packet from the optimistic care-of address to an on-link neighbour whose link-layer
    # address is unknown gets no NS (which would carry the optimistic address and its SLLA); it waits
    # until DAD has made the address preferred, then is resolved as usual, from it and with its SLLA.
    mn, _ = registered_optimistic()
    t = 10 * S
    _after_move_to_b(mn, t)
    peer = PREFIX_B.network_address + 0x99
    raw = Packet(src=COA_B, dst=peer, payload=Raw(17, b"\x00" * 16)).to_bytes()
    outs = [mn.send(t + 300 * MS, raw)]
    outs += [mn.tick(t + 300 * MS + k * 100 * MS) for k in range(1, 9)]     # until 1.1 s: still optimistic
    assert not [p for out in outs for p in nd_of(out, NeighborSolicitation) if p.payload.target == peer]
    assert mn.counters["nd.resolution_deferred_optimistic"] >= 1
    assert mn.iface.addresses[COA_B].state is AddressState.OPTIMISTIC
    out = mn.tick(t + 200 * MS + 1 * S)           # DAD of the care-of address done: preferred
    assert mn.iface.addresses[COA_B].state is AddressState.PREFERRED
    out = mn.tick(t + 300 * MS + 1 * S)           # the deferred resolution's next turn
    (ns,) = [p for p in nd_of(out, NeighborSolicitation) if p.payload.target == peer]
    assert ns.src == COA_B and ns.payload.options == (SourceLinkLayerAddress(MN_MAC),)


def test_no_neighbour_solicitation_leaves_from_an_optimistic_address():
    # Over a move, traffic and DAD: every NS the node sends comes from :: (DAD) or from an address that
    # is not optimistic at that moment; none carries the SLLA of an optimistic address.
    mn, _ = registered_optimistic()
    t = 10 * S
    mn.link_changed(t, "eth0", False)
    outs = [mn.link_changed(t + 10 * MS, "eth0", True), mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B))]
    peer = PREFIX_B.network_address + 0x99
    for k in range(20):
        now = t + 210 * MS + k * 100 * MS
        outs.append(mn.send(now, Packet(src=COA_B, dst=peer, payload=Raw(17, bytes([k]) * 16)).to_bytes()))
        outs.append(mn.tick(now + 50 * MS))
        for out in outs[-2:]:
            for ns in nd_of(out, NeighborSolicitation):
                entry = mn.iface.addresses.get(ns.src)
                assert ns.src == IPv6Address("::") or (entry is not None and not entry.optimistic), (now, ns)
    assert any(p.src == COA_B for out in outs for p in nd_of(out, NeighborSolicitation))    # once preferred


def _ns_for(target, src_mac=B_MAC):
    ns = Packet(src=ll(src_mac), dst=solicited_node_multicast(target), hop_limit=255,
                payload=NeighborSolicitation(target=target, options=(SourceLinkLayerAddress(src_mac),)))
    return frame(src_mac, ipv6_multicast_mac(solicited_node_multicast(target).packed), ns)


def test_na_for_an_optimistic_address_does_not_override():
    mn, _ = registered_optimistic()
    t = 10 * S
    _after_move_to_b(mn, t)
    # Router B resolves the care-of address to deliver the BA: the answer is solicited, O = 0.
    out = mn.receive(t + 250 * MS, "eth0", _ns_for(COA_B))
    (na,) = nd_of(out, NeighborAdvertisement)
    assert na.src == COA_B and na.dst == ll(B_MAC)
    assert na.payload == NeighborAdvertisement(COA_B, router=False, solicited=True, override=False,
                                               options=(TargetLinkLayerAddress(MN_MAC),))
    assert mn.counters["nd.na_optimistic_no_override"] == 1
    # After DAD the address is preferred and its NAs override again (RFC 4861 §7.2.4).
    mn.tick(t + 200 * MS + 1 * S)
    (na,) = nd_of(mn.receive(t + 1300 * MS, "eth0", _ns_for(COA_B)), NeighborAdvertisement)
    assert na.payload.override


# ---------------------------------------------------------------- a collision found afterwards

def _dad_probe(target, src_mac=OTHER_MAC):
    group = solicited_node_multicast(target)
    return frame(src_mac, ipv6_multicast_mac(group.packed),
                 Packet(src=IPv6Address("::"), dst=group, hop_limit=255, payload=NeighborSolicitation(target=target)))


def _defence(target, src_mac=OTHER_MAC):
    return frame(src_mac, ipv6_multicast_mac(ALL_NODES.packed),
                 Packet(src=target, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
                     target, solicited=False, override=True, options=(TargetLinkLayerAddress(src_mac),))))


def _recovers(collision):
    mn, first = registered_optimistic()
    out = mn.receive(T_RA + 300 * MS, "eth0", collision(COA_A))
    assert mn.iface.addresses[COA_A].state is AddressState.DUPLICATE
    (moved,) = notes(out, Moved)
    new = moved.new_coa
    assert moved.old_coa == COA_A and new != COA_A and new in PREFIX_A and mn.care_of == new
    assert mn.iface.addresses[new].state is AddressState.OPTIMISTIC and mn.iface.addresses[new].autoconfigured
    # A new BU at once, from the new address, with a newer sequence number.
    (bu, _), = bus(out)
    assert bu.src == new and bu.payload.options == (AlternateCareOfAddress(new),)
    assert bu.payload.sequence == (first.payload.sequence + 1) % 65536
    assert [p.payload.target for p in nd_of(out, NeighborSolicitation) if p.src == IPv6Address("::")] == [new]
    assert mn.counters["mn.coa_duplicate_after_use"] == 1 and mn.counters["nd.dad_duplicate_optimistic"] == 1
    assert notes(mn.receive(T_RA + 310 * MS, "eth0", ba(0, bu.payload.sequence, dst=new)), Registered)
    # The prefix's next RA neither forms the duplicate again nor disturbs the replacement.
    out = mn.receive(T_RA + 900 * MS, "eth0", ra(A_MAC, PREFIX_A))
    assert not bus(out) and not nd_of(out, NeighborSolicitation) and mn.care_of == new
    assert mn.iface.addresses[COA_A].state is AddressState.DUPLICATE
    mn.tick(T_RA + 300 * MS + 1 * S)
    assert mn.iface.addresses[new].state is AddressState.PREFERRED


def test_dad_probe_from_another_node_after_the_bu_gives_a_new_address_and_a_new_bu():
    _recovers(_dad_probe)


def test_na_defending_the_address_after_the_bu_gives_a_new_address_and_a_new_bu():
    _recovers(_defence)


def test_replacement_identifiers_are_random_per_seed():
    news = []
    for seed in (1, 2):
        mn = fast_mn(seed=seed)
        attach_optimistic(mn)
        (moved,) = notes(mn.receive(T_RA + 300 * MS, "eth0", _dad_probe(COA_A)), Moved)
        news.append(moved.new_coa)
    assert news[0] != news[1] and all(a in IPv6Network(PREFIX_A) for a in news)


def test_home_prefix_slaac_stays_out_of_the_way():
    # The home address is installed before SLAAC sees the home prefix: not autoconfigured, so never
    # optimistic even with optimistic DAD on.
    mn = fast_mn()
    mn.link_changed(0, "eth0", True)
    mn.tick(1 * S)
    mn.receive(T_RA, "eth0", ra(HOME_MAC, HOME_PREFIX))
    assert mn.iface.addresses[HOA].state is AddressState.PREFERRED
    assert mn.counters["nd.dad_optimistic"] == 0


# ---------------------------------------------------------------- the first packets after the move

def _app_packet(n=0):
    return Packet(src=HOA, dst=CN, payload=Raw(17, bytes([n]) * 16)).to_bytes()


def _tunnelled(out):
    return [p for _, p, _ in packets(out) if p.src in (COA_A, COA_B) and p.dst == HA and p.next_header == 41]


def test_packets_after_the_move_are_held_until_the_new_binding_is_acknowledged():
    mn, _ = registered_optimistic()
    assert mn.counters["mn.hold.until_bound"] == 1          # the first registration ended a hold too
    t = 10 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    # Before the RA (movement undecided) and after it (moved, BU sent, no BA yet): held, nothing leaves.
    assert not packets(mn.send(t + 50 * MS, _app_packet(1)))
    out = mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B))
    (bu, _), = bus(out)
    assert bu.src == COA_B and not _tunnelled(out)        # the BU is not held, the application's packet is
    assert not packets(mn.send(t + 202 * MS, _app_packet(2)))
    assert mn.counters["mn.hold.held"] == 2 and mn.counters["mn.hold.released"] == 0
    # The home agent accepts the new care-of address: both leave through the reverse tunnel from it, in order.
    out = mn.receive(t + 206 * MS, "eth0", ba(0, bu.payload.sequence, dst=COA_B, src_mac=B_MAC))
    assert notes(out, Registered)
    inner = [p.payload for p in _tunnelled(out)]
    assert [p.src for p in _tunnelled(out)] == [COA_B, COA_B]
    assert [(p.src, p.payload.data[:1]) for p in inner] == [(HOA, b"\x01"), (HOA, b"\x02")]
    assert mn.counters["mn.hold.released"] == 2 and mn.counters["mn.hold.until_bound"] == 2
    # Held no more: the next one goes at once.
    assert len(_tunnelled(mn.send(t + 210 * MS, _app_packet(3)))) == 1


def test_the_hold_queue_is_bounded_and_counts_what_it_drops():
    mn, _ = registered_optimistic()
    t = 10 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    (bu, _), = bus(mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B)))
    for n in range(HOLD_LIMIT + 5):
        mn.send(t + 201 * MS, _app_packet(n % 256))
    assert mn.counters["mn.hold.held"] == HOLD_LIMIT and mn.counters["drop.mn.hold.overflow"] == 5
    out = mn.receive(t + 206 * MS, "eth0", ba(0, bu.payload.sequence, dst=COA_B, src_mac=B_MAC))
    assert len(_tunnelled(out)) == HOLD_LIMIT and mn.counters["mn.hold.released"] == HOLD_LIMIT


def test_held_packets_past_their_time_are_dropped_when_no_ba_comes():
    mn, _ = registered_optimistic()
    t = 10 * S
    mn.link_changed(t, "eth0", False)
    mn.link_changed(t + 10 * MS, "eth0", True)
    mn.receive(t + 200 * MS, "eth0", ra(B_MAC, PREFIX_B))
    mn.send(t + 201 * MS, _app_packet(1))
    out = mn.tick(t + 201 * MS + HOLD_TIMEOUT)
    assert not _tunnelled(out) and mn.counters["drop.mn.hold.timeout"] == 1


def test_without_optimistic_dad_a_duplicate_pending_care_of_address_is_replaced_too():
    # Plain DAD finds the pending care-of address in use before any BU: the replacement is tentative, and
    # the node moves and registers once its own DAD has passed.
    mn = fast_mn(optimistic_dad=False)
    attach_optimistic(mn)
    out = mn.receive(T_RA + 300 * MS, "eth0", _dad_probe(COA_A))
    assert mn.iface.addresses[COA_A].state is AddressState.DUPLICATE and not bus(out) and not notes(out, Moved)
    (new,) = [a for a, e in mn.iface.addresses.items() if a in PREFIX_A and e.state is AddressState.TENTATIVE]
    assert mn.counters["mn.coa_duplicate"] == 1 and mn.counters["mn.coa_duplicate_after_use"] == 0
    out = mn.tick(T_RA + 300 * MS + 1 * S)
    assert notes(out, Moved) == [Moved(T_RA + 300 * MS + 1 * S, None, new)]
    (bu, _), = bus(out)
    assert bu.src == new and bu.payload.options == (AlternateCareOfAddress(new),)
