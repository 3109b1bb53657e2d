"""The mobile node's side of protected home registrations (RFC 6275 §5.1, RFC 3776, issue 11), in the
simulator's Mip6World: BUs (retransmissions included) leave under the home address's SA, the home
agent's BAs are unprotected before handling, an unprotected BA for the protected registration is
dropped and counted."""
from mip6fast.roles.mobile_node import Registered
from mip6fast.scenarios.world import HA_ADDRESS, HOME_ADDRESS, Mip6World
from mip6fast.security import Direction, is_protected
from mip6fast.sim import NS_PER_S, Simulator
from mip6fast.wire import BindingAcknowledgement, Packet
from mip6fast.wire.ethernet import ethernet_frame

S = NS_PER_S


def _outbound(spd):
    (sa,) = [sa for sa in spd if sa.direction is Direction.OUTBOUND]
    return sa


def test_registration_is_protected_end_to_end():
    sim = Simulator(4)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    with sim:
        world.start(world.foreign[0])
        sim.run(100 * S)
    assert len(world.events("mn", Registered)) == 1
    sent = world.mn.counters["mn.bu_sent"]          # retransmissions included
    assert sent >= 2                                  # the first BU and a refresh at least
    # Every BU went under the SA (one ESP sequence number each); every BA came back under the HA's.
    assert _outbound(world.mn_spd).sequence == sent == world.mn.counters["esp.protected"]
    protected = world.ha.counters["esp.protected"]
    assert _outbound(world.ha_spd).sequence == protected == world.mn.counters["esp.unprotected"]
    assert world.ha.counters["drop.bu.unprotected"] == 0 and world.ha.cache.get(HOME_ADDRESS) is not None


def test_retransmitted_bus_each_get_a_new_esp_sequence_number():
    sim = Simulator(5)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    world.core.loss = 1.0            # nothing crosses the core for the first seconds
    with sim:
        world.start(world.foreign[0])
        sim.schedule(8 * S, lambda s: setattr(world.core, "loss", 0.0))
        sim.run(40 * S)
    assert world.mn.counters["mn.bu_retransmitted"] >= 1
    assert len(world.events("mn", Registered)) == 1
    sent = world.mn.counters["mn.bu_sent"]          # retransmissions included
    assert _outbound(world.mn_spd).sequence == sent
    # Seen by the home agent: no replay refusals (each retransmission had a fresh sequence number).
    assert world.ha.counters["drop.esp.replay"] == 0


def test_unprotected_ba_for_protected_registration_is_dropped_and_counted():
    sim = Simulator(6)
    world = Mip6World(sim, lifetime=600, foreign_links=1)
    with sim:
        world.start(world.foreign[0])
        sim.run(20 * S)
    mn = world.mn
    assert len(world.events("mn", Registered)) == 1
    care_of = mn.care_of
    forged = Packet(src=HA_ADDRESS, dst=care_of, rh2=HOME_ADDRESS,
                    payload=BindingAcknowledgement(0, world.ha.cache.get(HOME_ADDRESS).sequence, 600))
    raw = forged.to_bytes()
    assert not is_protected(raw)
    out = mn.receive(sim.now, "eth0", ethernet_frame(mn.iface.mac, bytes(6), raw))
    assert mn.counters["drop.mn.unprotected_signalling"] == 1
    assert out.notifications == [] and mn.registrations[HOME_ADDRESS].active


def test_unprotected_world_registers_without_esp():
    sim = Simulator(4)
    world = Mip6World(sim, lifetime=60, foreign_links=1, protected=False)
    with sim:
        world.start(world.foreign[0])
        sim.run(20 * S)
    assert len(world.events("mn", Registered)) == 1
    assert world.mn.counters["esp.protected"] == 0 and world.ha.counters["esp.unprotected"] == 0
