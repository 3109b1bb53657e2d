"""Movement detection on one foreign link with two routers (RFC 6275 §11.5.1-§11.5.2), sans-I/O: the
router serving the care-of address's prefix goes away while another router of the link stays."""
from helpers.mobile_node import (
    A_MAC,
    C_MAC,
    COA_A,
    HOA,
    MN_MAC,
    MS,
    PREFIX_A,
    PREFIX_C,
    S,
    bus,
    frame,
    ll,
    notes,
    packets,
    ra,
    registered_mn,
)

from mip6fast.roles import RouterUnreachable, slaac_address
from mip6fast.roles.mobile_node import Moved
from mip6fast.wire import NeighborAdvertisement, NeighborSolicitation, Packet, TargetLinkLayerAddress

COA_C = slaac_address(PREFIX_C, MN_MAC)
OTHER_A_MAC = bytes.fromhex("0200000000ab")


def with_second_router(t=10 * S):
    """A registered node on link A; router C (prefix C) appears at ``t``, router A answers the NUD
    probe that causes, C advertises again: one link, two routers. Returns (node, time after that)."""
    mn, _ = registered_mn()
    out = mn.receive(t, "eth0", ra(C_MAC, PREFIX_C))
    probe, = [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
              and not p.dst.is_multicast]
    na = Packet(src=ll(A_MAC), dst=probe.src, hop_limit=255, payload=NeighborAdvertisement(
        target=ll(A_MAC), router=True, solicited=True, override=True, options=(TargetLinkLayerAddress(A_MAC),)))
    mn.receive(t + 5 * MS, "eth0", frame(A_MAC, MN_MAC, na))
    mn.receive(t + 1 * S, "eth0", ra(C_MAC, PREFIX_C))
    out = mn.tick(t + 1 * S + 100 * MS)                 # C's prefix address passed DAD meanwhile
    assert mn.counters["mn.movement.same_link_new_prefix"] == 1 and not notes(out, Moved)
    assert mn.iface.addresses[COA_C].usable and mn.care_of == COA_A
    return mn, t + 2 * S


def router_a_leaves(mn, t):
    """Router A withdraws itself (router lifetime 0): it is no longer a default router."""
    out = mn.receive(t, "eth0", ra(A_MAC, PREFIX_A, lifetime=0))
    assert any(isinstance(n, RouterUnreachable) and n.router == ll(A_MAC) for n in out.notifications)
    return out


def test_router_of_the_care_of_prefix_gone_other_router_of_the_link_takes_over_with_a_new_care_of():
    mn, t = with_second_router()
    router_a_leaves(mn, t)
    assert mn.care_of == COA_A
    # Router C advertises (it was solicited): the same link, so no movement detection, but nothing
    # routes prefix A here any more: the node takes its address on prefix C and registers it.
    out = mn.receive(t + 200 * MS, "eth0", ra(C_MAC, PREFIX_C))
    assert notes(out, Moved) == [Moved(t + 200 * MS, COA_A, COA_C)]
    (bu, _), = bus(out)
    assert bu.src == COA_C and bu.home_address == HOA
    assert mn.counters["mn.movement.care_of_prefix_lost"] == 1
    assert mn.counters["mn.movement.moved"] == 1           # only the first attachment was a move


def test_care_of_prefix_still_advertised_by_another_router_keeps_the_care_of_address():
    mn, t = with_second_router()
    # A third router advertises prefix A too (same prefix: not even a candidate).
    mn.receive(t - 500 * MS, "eth0", ra(OTHER_A_MAC, PREFIX_A))
    router_a_leaves(mn, t)
    out = mn.receive(t + 200 * MS, "eth0", ra(C_MAC, PREFIX_C))
    assert not notes(out, Moved) and not bus(out) and mn.care_of == COA_A
    assert mn.counters["mn.movement.care_of_prefix_lost"] == 0


def test_the_same_router_coming_back_changes_nothing():
    mn, t = with_second_router()
    router_a_leaves(mn, t)
    out = mn.receive(t + 200 * MS, "eth0", ra(A_MAC, PREFIX_A))
    assert not notes(out, Moved) and not bus(out) and mn.care_of == COA_A


def _moves_after_silent_old_router(movement_probes: int, t=10 * S):
    """Router C appears with prefix C while router A says nothing (the node moved to C's link without a
    carrier change): how long until the node has moved, the NUD probes of A it sent meanwhile."""
    mn, _ = registered_mn(movement_probes=movement_probes)
    out = mn.receive(t, "eth0", ra(C_MAC, PREFIX_C))
    probes = [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
              and not p.dst.is_multicast]
    step = 100 * MS
    now = t
    while not mn.counters["mn.movement.moved"] > 1 and now < t + 10 * S:
        now += step
        out = mn.tick(now)
        probes += [p for _, p, _ in packets(out) if isinstance(p.payload, NeighborSolicitation)
                   and p.payload.target == ll(A_MAC) and not p.dst.is_multicast]
    return now - t, len(probes)


def test_a_new_router_cuts_nud_of_the_old_one_to_movement_probes():
    """RFC 6059's idea on top of RFC 4861 §7.3.3: when another router advertises a new prefix, the
    current router is probed at once and ``movement_probes`` unanswered probes (default 1: one
    RetransTimer) mean it is gone, instead of NUD's MAX_UNICAST_SOLICIT (3 s)."""
    fast, fast_probes = _moves_after_silent_old_router(1)
    slow, slow_probes = _moves_after_silent_old_router(3)
    assert (fast_probes, slow_probes) == (1, 3)
    assert fast <= 1 * S + 100 * MS and slow >= 3 * S
