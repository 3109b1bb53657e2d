"""``MobileNode.leave``: a mobile node shutting down away from home sends a BU with lifetime 0 to its
home agent (RFC 6275 §6.1.7), and the real home agent deletes the binding and acknowledges."""
from mip6fast.roles.mobile_node import Deregistered, RegistrationState
from mip6fast.scenarios.world import Mip6World
from mip6fast.sim import NS_PER_S, Simulator

S = NS_PER_S


def test_leave_deletes_the_home_agents_binding():
    sim = Simulator(3)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    with sim:
        world.start(world.foreign[0])
        sim.run(10 * S)
        assert len(world.ha.cache) == 1
        assert not world.mn.leaving
        sim._process(world.mn, world.mn.leave(sim.now))
        assert world.mn.leaving
        assert world.mn.counters["mn.bu_leave_sent"] == 1
        sim.run(11 * S)
    assert len(world.ha.cache) == 0                       # deleted at once, not left to expire
    assert not world.mn.leaving
    assert world.mn.counters["mn.left"] == 1
    assert all(r.state is RegistrationState.IDLE for r in world.mn.registrations.values())
    assert [n for _, name, n in sim.timeline if name == "mn" and isinstance(n, Deregistered)]
    assert len(world.mn.binding_update_list) == 0


def test_leave_at_home_or_unregistered_sends_nothing():
    sim = Simulator(4)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    with sim:
        world.start(world.home)
        sim.run(5 * S)
        sim._process(world.mn, world.mn.leave(sim.now))
    assert world.mn.counters["mn.bu_leave_sent"] == 0 and not world.mn.leaving


def test_binding_acks_through_receive_batch_are_signalling():
    """On real interfaces every frame arrives through ``receive_batch``: a BA carries an RH2 like
    route-optimised data, but must reach the registration, not the TUN (found by ``mip6fast demo``)."""
    from mip6fast.batch import PacketBatch
    from mip6fast.roles.mobile_node import Registered
    sim = Simulator(5)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    mn = world.mn
    mn.receive = lambda now, iface, frame: mn.receive_batch(now, iface, PacketBatch.from_packets([frame]))
    with sim:
        world.start(world.foreign[0])
        sim.run(10 * S)
    assert [n for _, name, n in sim.timeline if name == "mn" and isinstance(n, Registered)]
    assert mn.counters["mn.tunnel_delivered"] == 0 and len(world.ha.cache) == 1
