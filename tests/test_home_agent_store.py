"""The home agent with a binding store (issue 13, docs/DURABILITY.md), sans-I/O: write-through of every
accepted registration, refresh, de-registration and expiry; accepted BAs only after the commit (one
per entry point); no acknowledgement when the store fails; recovery at start."""
import dataclasses
import logging
from ipaddress import IPv6Address

import pytest
from helpers.home_agent import (
    HA2,
    HA_MAC2,
    CN,
    COA,
    HA,
    HA_MAC,
    HOME,
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

from mip6fast.batch import PacketBatch
from mip6fast.binding_cache import Outcome, UpdateResult
from mip6fast.roles.events import TimerHeap
from mip6fast.roles.home_agent import (
    BindingExpired,
    BindingsRecovered,
    HomeAgent,
    HomeAgentConfig,
    StoreFailed,
)
from mip6fast.roles.home_agent.proxy_nd import PACED_NA_BURST, PACED_NA_INTERVAL
from mip6fast.roles.interface import Interface
from mip6fast.roles.mobile_node import BindingRefreshed
from mip6fast.roles.mobile_node import Registered as MnRegistered
from mip6fast.scenarios.world import FOREIGN_A, HA_ADDRESS, HOME_PREFIX, Mip6World, mac
from mip6fast.scenarios.world import HOME_ADDRESS as MW_HOME_ADDRESS
from mip6fast.sim import PingApp, Simulator
from mip6fast.store import (
    DISK_FULL,
    FLAG_ACK,
    FLAG_HOME,
    FLAG_LINK_LOCAL,
    BindingRecord,
    MemoryBindingStore,
    Registered,
    StoreError,
)
from mip6fast.wire import (
    BindingAcknowledgement,
    BindingRefreshRequest,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    SourceLinkLayerAddress,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

WALL = 1_765_000_000 * S        # the wall clock at the node's monotonic 0, in these tests


class FailingStore(MemoryBindingStore):
    """A memory store whose commits fail (disk full) while ``failing``; ``check`` runs at each write."""

    def __init__(self):
        super().__init__()
        self.failing = False
        self.check = None
        self.writes = 0

    def _write(self, batch, records):
        if self.check is not None:
            self.check()
        if self.failing:
            raise StoreError(self.path, DISK_FULL, f"commit of {records} records", "no space left (test)")
        self.writes += 1
        super()._write(batch, records)


def home(i):
    return IPv6Address(int(PREFIX.network_address) + 0x100 + i)


def bas(out):
    return of_type(out, BindingAcknowledgement)


# ---------------------------------------------------------------- write-through

def test_registration_refresh_deregistration_written_through():
    store = MemoryBindingStore()
    ha = make_ha(store=store, wall_offset_ns=WALL)
    (ba,), _, out = register(ha, link_local=True)
    assert ba.payload.status == 0
    (rec,) = store.bindings()
    assert (rec.home_address, rec.care_of_address, rec.sequence) == (HOME, COA, 1)
    assert rec.flags == FLAG_ACK | FLAG_HOME | FLAG_LINK_LOCAL
    assert rec.lifetime_s == ba.payload.lifetime
    # DAD ended at 4 s: the absolute expiry is the wall clock then plus the granted lifetime.
    assert rec.expires_wall_ns == WALL + 4 * S + rec.lifetime_s * S
    assert rec.expires_wall_ns - WALL == ha.cache.get(HOME).expires_ns
    out = ha.receive(10 * S, "eth1", frame_in(bu_packet(seq=2, lifetime=200)))
    assert ba_of(out).payload.status == 0
    (rec,) = store.bindings()
    assert rec.sequence == 2 and rec.lifetime_s == 200 and rec.expires_wall_ns == WALL + 210 * S
    out = ha.receive(11 * S, "eth1", frame_in(bu_packet(seq=3, lifetime=0)))
    assert ba_of(out).payload.status == 0
    assert store.bindings() == [] and store.pending == 0


def test_expiry_written_through():
    store = MemoryBindingStore()
    ha = make_ha(store=store, max_lifetime=100)
    register(ha)
    assert len(store.bindings()) == 1
    out = ha.tick(200 * S)
    assert [n for n in out.notifications if isinstance(n, BindingExpired)]
    assert store.bindings() == [] and store.pending == 0


def test_without_a_store_nothing_changes():
    ha = make_ha()
    assert ha.journal is None and ha.wall_offset_ns == 0
    (ba,), _, _ = register(ha)
    assert ba.payload.status == 0 and ha.counters["store.commits"] == 0


# ---------------------------------------------------------------- the BA after the commit

def test_accepted_ba_leaves_only_after_the_commit():
    store = FailingStore()
    ha = make_ha(store=store)
    seen = []

    def check():    # at commit time, no accepted BA is in the output being built
        seen.append(list(ha._out.transmits))
        assert not [p for p in pkts(ha._out) if isinstance(p.payload, BindingAcknowledgement)]

    store.check = check
    (ba,), _, _ = register(ha)
    assert ba.payload.status == 0 and store.writes == 1 and seen


def test_a_burst_is_one_commit():
    store = FailingStore()
    ha = make_ha(store=store, dad=False, cache_size=256)
    frames = [frame_in(bu_packet(seq=1, home=home(i))) for i in range(100)]
    out = ha.receive_batch(3 * S, "eth1", PacketBatch.from_packets(frames))
    assert [b.payload.status for b in bas(out)] == [0] * 100
    assert store.writes == 1 and store.records_committed == 100 and len(store.bindings()) == 100
    assert ha.counters["store.commits"] == 1


def test_failing_store_no_acknowledgement_then_retransmission_acknowledged(caplog):
    store = FailingStore()
    ha = make_ha(store=store, dad=False)
    store.failing = True
    with caplog.at_level(logging.ERROR, logger="mip6fast.home_agent.store"):
        out = ha.receive(3 * S, "eth1", frame_in(bu_packet(seq=1)))
        assert bas(out) == []
        out2 = ha.receive(4 * S, "eth1", frame_in(bu_packet(seq=2)))
        assert bas(out2) == []
    (failed,) = [n for n in out.notifications if isinstance(n, StoreFailed)]
    assert failed.reason == DISK_FULL and failed.withheld == 1
    assert ha.counters["store.commit_failed"] == 2 and ha.counters["store.ba_withheld"] == 2
    assert ha.counters["store.commit_failed.disk_full"] == 2
    assert ha.counters["ba.sent.status.0"] == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "disk full" in errors[0].getMessage()      # once per reason
    assert store.bindings() == []
    # The disk has room again: the mobile node's next BU is acknowledged after a commit that works.
    store.failing = False
    out = ha.receive(5 * S, "eth1", frame_in(bu_packet(seq=3)))
    assert [b.payload.status for b in bas(out)] == [0]
    (rec,) = store.bindings()
    assert rec.sequence == 3


def test_a_failing_store_keeps_one_staged_record_per_home_address():
    """While commits fail, every retransmission stages a newer record for the same home address: the
    staged batch keeps the newest one per home address (store/base.py), so it stays as large as the set
    of changed bindings however long the store fails, and the commit that works writes the newest."""
    store = FailingStore()
    ha = make_ha(store=store, dad=False)
    store.failing = True
    for seq in range(1, 301):
        ha.receive((3 + seq) * S, "eth1", frame_in(bu_packet(seq=seq, home=home(seq % 3))))
    assert ha.counters["store.commit_failed"] == 300
    assert store.pending == 3
    store.failing = False
    out = ha.receive(400 * S, "eth1", frame_in(bu_packet(seq=301, home=home(0))))
    assert [b.payload.status for b in bas(out)] == [0]
    assert sorted((r.home_address, r.sequence) for r in store.bindings()) == [
        (home(0), 301), (home(1), 298), (home(2), 299)]


def test_rejections_do_not_wait_for_the_store():
    store = FailingStore()
    ha = make_ha(store=store, dad=False)
    store.failing = True
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(seq=1, home=IPv6Address("2001:db8:9::9"))))
    assert [b.payload.status for b in bas(out)] == [132]
    assert ha.counters["store.commit_failed"] == 0         # nothing staged: no commit attempted


def test_failed_deregistration_not_acknowledged():
    store = FailingStore()
    ha = make_ha(store=store, dad=False)
    assert ba_of(ha.receive(3 * S, "eth1", frame_in(bu_packet(seq=1)))).payload.status == 0
    store.failing = True
    assert bas(ha.receive(4 * S, "eth1", frame_in(bu_packet(seq=2, lifetime=0)))) == []
    assert len(store.bindings()) == 1           # still stored: the node retransmits its de-registration


# ---------------------------------------------------------------- recovery

def registered_fleet(n, **kw):
    store = MemoryBindingStore()
    ha = make_ha(store=store, wall_offset_ns=WALL, dad=False, cache_size=max(64, 2 * n), **kw)
    frames = [frame_in(bu_packet(seq=7, home=home(i))) for i in range(n)]
    out = ha.receive_batch(3 * S, "eth1", PacketBatch.from_packets(frames))
    assert len(bas(out)) == n
    return store.crash()


T0 = 3 * S      # when the restarted home agent recovers: on its own monotonic clock ...
RESTART_OFFSET = WALL + 97 * S      # ... whose 0 is this wall time: T0 is the wall clock WALL + 100 s


def restarted(store, now=T0, **kw):
    """A home agent started again, with a new monotonic origin (RESTART_OFFSET)."""
    kw.setdefault("dad", False)
    ha = make_ha(store=store, wall_offset_ns=RESTART_OFFSET, cache_size=kw.pop("cache_size", 256), **kw)
    out = ha.recover(now)
    return ha, out


def test_recovery_rebuilds_the_cache_sequence_numbers_continue():
    store = registered_fleet(3)
    # The first home agent registered at wall WALL + 3 s for 400 s; the second recovers at wall
    # WALL + 100 s: 303 s left.
    ha, out = restarted(store)
    (rec,) = [n for n in out.notifications if isinstance(n, BindingsRecovered)]
    assert (rec.recovered, rec.expired, rec.dropped) == (3, 0, 0)
    assert len(ha.cache) == 3 and ha.counters["binding.recovered"] == 3
    b = ha.cache.get(home(0))
    assert b.care_of_address == COA and b.sequence == 7
    assert b.expires_ns == T0 + 303 * S
    # No 135: the next BU is a refresh of the recovered binding; an old one is still refused.
    now = T0 + 10 * S
    out = ha.receive(now, "eth1", frame_in(bu_packet(seq=8, home=home(0))))
    assert ba_of(out).payload.status == 0 and ha.counters["binding.updated"] == 1
    assert ha.counters["binding.created"] == 0
    out = ha.receive(now, "eth1", frame_in(bu_packet(seq=7, home=home(1))))
    assert ba_of(out).payload.status == 135


def test_recovered_bindings_tunnelled_and_proxied():
    store = registered_fleet(1)
    ha, _ = restarted(store)
    out = ha.receive(T0 + S, "eth1", frame_in(echo(CN, home(0))))
    (outer,) = [p for p in pkts(out, "eth1") if isinstance(p.payload, Packet)]
    assert outer.src == HA and outer.dst == COA and outer.payload.dst == home(0)
    # Neighbour solicitations for the home address are answered at once.
    src = IPv6Address("2001:db8:1::55")
    ns = Packet(src=src, dst=solicited_node_multicast(home(0)), hop_limit=255,
                payload=NeighborSolicitation(home(0), options=(SourceLinkLayerAddress(ROUTER_MAC),)))
    out = ha.receive(T0 + S, "eth0", ethernet_frame(ipv6_multicast_mac(solicited_node_multicast(home(0)).packed),
                                                      ROUTER_MAC, ns.to_bytes()))
    (na,) = of_type(out, NeighborAdvertisement)
    assert na.payload.target == home(0) and na.payload.solicited and not na.payload.router


def test_recovery_unsolicited_nas_are_paced():
    n = PACED_NA_BURST * 2 + 10
    store = registered_fleet(n)
    ha, out = restarted(store, cache_size=1024)
    assert of_type(out, NeighborAdvertisement) == []
    now = T0
    first = {p.payload.target for p in of_type(ha.tick(now), NeighborAdvertisement)}
    assert len(first) == PACED_NA_BURST
    second = {p.payload.target for p in of_type(ha.tick(now + PACED_NA_INTERVAL), NeighborAdvertisement)}
    assert len(second) == PACED_NA_BURST and not first & second
    third = {p.payload.target for p in of_type(ha.tick(now + 2 * PACED_NA_INTERVAL), NeighborAdvertisement)}
    assert len(third) == 10
    assert first | second | third == {home(i) for i in range(n)}
    # ... and each is repeated as for a new binding (MAX_NEIGHBOR_ADVERTISEMENT in all).
    assert ha.counters["proxy.na_sent"] == n
    ha.tick(now + 3 * S)
    ha.tick(now + 6 * S)
    ha.tick(now + 9 * S)
    assert ha.counters["proxy.na_sent"] == 3 * n


def test_expired_and_foreign_records_dropped_and_counted_lifetimes_capped():
    store = MemoryBindingStore()
    now_wall = WALL + 1000 * S
    store.stage(Registered(BindingRecord(home(1), COA, 5, FLAG_ACK | FLAG_HOME, 400, now_wall - S)))
    store.stage(Registered(BindingRecord(IPv6Address("2001:db8:9::1"), COA, 5, FLAG_HOME, 400,
                                         now_wall + 100 * S)))
    store.stage(Registered(BindingRecord(home(2), COA, 9, FLAG_HOME, 262140, now_wall + 200_000 * S)))
    store.commit()
    ha = make_ha(store=store, wall_offset_ns=WALL, dad=False, max_lifetime=420)
    out = ha.recover(1000 * S)
    (rec,) = [n for n in out.notifications if isinstance(n, BindingsRecovered)]
    assert (rec.recovered, rec.expired, rec.dropped) == (1, 1, 1)
    assert ha.counters["store.recovery_expired"] == 1 and ha.counters["store.recovery_outside_prefixes"] == 1
    assert [b.home_address for b in store.bindings()] == [home(2)]     # the foreign one removed
    assert ha.cache.get(home(2)).expires_ns == 1000 * S + 420 * S       # capped to the current config
    # The expiry timer is armed: the binding expires then, and the store follows.
    out = ha.tick(1421 * S)
    assert [n for n in out.notifications if isinstance(n, BindingExpired)] and store.bindings() == []


def test_recovery_rearms_refresh_requests():
    store = registered_fleet(1)
    ha, _ = restarted(store, refresh_lead=20)   # 303 s left: a BRR at 283 s
    assert of_type(ha.tick(T0 + 282 * S), BindingRefreshRequest) == []
    (brr,) = of_type(ha.tick(T0 + 283 * S), BindingRefreshRequest)
    assert brr.dst == COA and brr.rh2 == home(0)


def test_recover_twice_is_once_and_unreadable_store_raises():
    store = registered_fleet(2)
    ha, _ = restarted(store)
    ha.recover(T0 + S)
    assert ha.counters["store.recovered"] == 2
    broken = MemoryBindingStore()
    broken.close()
    ha = make_ha(store=broken)
    with pytest.raises(StoreError):
        ha.recover(0)
    assert ha._depth == 0


def test_recovered_home_address_mac_is_ours():
    store = registered_fleet(1)
    ha, _ = restarted(store)
    (na, *_) = of_type(ha.tick(T0), NeighborAdvertisement)
    assert na.payload.options[0].address == HA_MAC


def test_recovery_with_a_full_cache_keeps_the_record_for_later():
    store = registered_fleet(3)
    ha = make_ha(store=store, wall_offset_ns=RESTART_OFFSET, dad=False)
    update = ha.cache.update
    calls = []

    def full_after_two(*args):
        calls.append(args)
        return update(*args) if len(calls) <= 2 else UpdateResult(Outcome.NOMEM, 0, -1)

    ha.cache.update = full_after_two
    out = ha.recover(T0)
    (rec,) = [n for n in out.notifications if isinstance(n, BindingsRecovered)]
    assert (rec.recovered, rec.dropped) == (2, 1) and ha.counters["store.recovery_nomem"] == 1
    assert len(store.bindings()) == 3           # nothing removed from the store for lack of room


def test_recovery_when_the_home_prefix_has_no_lifetime_left():
    store = registered_fleet(1)
    ha = make_ha(store=store, wall_offset_ns=RESTART_OFFSET, dad=False)
    for a in ha.home_iface.addresses.values():
        if a.address in PREFIX:
            a.valid_until = T0                  # the prefix's valid lifetime ends now
    ha.recover(T0)
    assert ha.counters["store.recovery_no_time_left"] == 1 and len(ha.cache) == 0
    assert store.bindings() == []


# ---------------------------------------------------------------- in the simulator, with a mobile node

def _sim_home_agent(sim, store, spd):
    """The home agent of Mip6World (same interfaces, addresses, routes, ESP SAs), with a binding store.
    A restarted one keeps the SAs as they were (a daemon resumes its sequence numbers, issue 11)."""
    ha = HomeAgent("ha", [Interface("eth0", mac(0x30)), Interface("eth1", mac(0x31))],
                   HomeAgentConfig("eth0", (HOME_PREFIX,), HA_ADDRESS), rng=sim.rng_for("ha"), store=store,
                   wall_offset_ns=WALL, spd=spd)
    ha.interfaces["eth1"].add_address("2001:db8:ff::1", 64)
    ha.add_route("::/0", "eth1", "2001:db8:ff::2")
    ha.add_route(FOREIGN_A, "eth1", "2001:db8:ff::a")
    return ha


def test_simulated_home_agent_restart_mobile_node_carries_on():
    """A mobile node registered from a foreign link, the correspondent pinging its home address; the
    home agent crashes at 20 s (its committed store survives) and a new one starts from the store. The
    mobile node never registers again: its refresh is accepted as a refresh (no 135, no first
    registration at the new home agent), and the pings get through again once the new one runs."""
    sim = Simulator(1)
    world = Mip6World(sim, lifetime=60, foreign_links=1)
    world.ha = _sim_home_agent(sim, MemoryBindingStore(), world.ha_spd)
    ping = PingApp(MW_HOME_ADDRESS, start_ns=10 * S, interval_ns=S // 10, count=500)
    world.cn.attach(ping)
    restarted_at = 20 * S
    new = {}

    def crash_and_restart(s):
        old = world.ha
        s.detach(old, "eth0")
        s.detach(old, "eth1")
        old.timers = TimerHeap()                        # a killed process runs nothing more
        del s.nodes["ha"]
        ha = _sim_home_agent(s, old.journal.store.crash(), world.ha_spd)
        new["ha"] = world.ha = ha
        s._process(ha, ha.recover(s.now))
        s.attach(ha, "eth0", world.home)
        s.attach(ha, "eth1", world.core)

    with sim:
        world.start(world.foreign[0])
        sim.schedule(restarted_at, crash_and_restart)
        sim.run(60 * S)
    ha = new["ha"]
    assert ha.counters["store.recovered"] == 1 and ha.counters["binding.created"] == 0
    assert ha.counters["binding.updated"] >= 1 and ha.counters["ba.sent.status.135"] == 0
    assert len(world.events("mn", MnRegistered)) == 1                  # registered once, before the crash
    assert world.events("mn", BindingRefreshed)                      # refreshed at the new home agent
    # The pings resume through the new home agent (a deterministic run: the last 100 all answered).
    last = sorted(ping.sent, key=lambda q: ping.sent[q])[-100:]
    assert all(q in ping.rtts for q in last)
    lost = [q for q, t in ping.sent.items() if q not in ping.rtts]
    gap_s = (max(ping.sent[q] for q in lost) - restarted_at) / S if lost else 0.0
    print(f"simulated restart: {len(lost)} pings lost, the last sent {gap_s:.2f} s after the restart")


# ---------------------------------------------------------------- a standby taking over (issue 16)


def test_take_over_recovers_the_bindings_and_announces_every_own_address_with_override():
    """A standby home agent that won the election: the bindings of the (replicated) store come back
    as at a restart, and every address of its own on every interface is announced by an unsolicited
    NA with Override from that address, so the links stop sending to the dead member's MAC."""
    store = registered_fleet(2)
    ha = make_ha(store=store, wall_offset_ns=RESTART_OFFSET, dad=False, cache_size=256)
    out = ha.take_over(T0)
    (rec,) = [n for n in out.notifications if isinstance(n, BindingsRecovered)]
    assert rec.recovered == 2 and len(ha.cache) == 2
    nas = of_type(out, NeighborAdvertisement)
    own = {p.payload.target for p in nas}
    assert {HA, IPv6Address(HA2)} <= own
    for p in nas:
        assert p.payload.override and not p.payload.solicited and p.src == p.payload.target
        assert p.dst == IPv6Address("ff02::1") and p.payload.options[0].address in (HA_MAC, HA_MAC2)
    assert ha.counters["redundancy.takeovers"] == 1
    assert ha.counters["redundancy.addresses_announced"] == len(nas)
    # the bindings' proxy NAs follow, paced, as after a restart
    assert {p.payload.target for p in of_type(ha.tick(T0), NeighborAdvertisement)} == {home(0), home(1)}
    # the next BU is a refresh: sequence numbers continue
    out = ha.receive(T0 + S, "eth1", frame_in(bu_packet(seq=8, home=home(0))))
    assert ba_of(out).payload.status == 0 and ha.counters["binding.created"] == 0


# ---------------------------------------------------------------- a warm standby (issue 16)


def test_a_warm_standby_mirrors_puts_and_deletes_silently_and_activates_them_at_its_takeover():
    """A standby fed the active's commits (as etcd's watch sees them: mip6fast.redundancy) holds them in
    its cache, replacing its copy with the newer one and dropping a deleted one, without sending
    anything (no proxy NA: the active defends the addresses) and without writing to the store. At its
    takeover (warm) they become live bindings: paced proxy NAs, refresh by the next BU, nothing loaded."""
    source = registered_fleet(3)
    records = {r.home_address: r for r in source.bindings()}
    mirror_store = MemoryBindingStore()      # the standby's (a read-only view in the daemon)
    ha = make_ha(store=mirror_store, wall_offset_ns=RESTART_OFFSET, dad=False, cache_size=256)
    out = ha.mirror(T0, list(records.values()))
    assert len(ha.cache) == 3 and ha.registrar.mirrored == 3
    assert out.frames() == []
    assert ha.counters["redundancy.mirrored"] == 3 and mirror_store.commits == 0
    moved = dataclasses.replace(records[home(1)], care_of_address=IPv6Address("2001:db8:99::1"), sequence=9)
    ha.mirror(T0 + S, [moved], [home(2)])
    assert ha.cache.get(home(1)).care_of_address == IPv6Address("2001:db8:99::1")
    assert ha.cache.get(home(1)).sequence == 9 and ha.cache.get(home(2)) is None
    assert ha.counters["redundancy.mirror_deleted"] == 1
    # proxied already (answering nothing while the gate is closed), so the takeover only starts the NAs
    assert ha.proxy_nd.serves(home(1)) and not ha.proxy_nd.serves(home(2))
    # a snapshot is the whole truth: what it lacks goes
    ha.mirror(T0 + 2 * S, [moved], snapshot=True)
    assert [IPv6Address(k) for k in ha.cache.keys()] == [home(1)]
    ha.mirror(T0 + 2 * S, [records[home(0)]])
    assert ha.tick(T0 + 3 * S).frames() == []      # still silent
    out = ha.take_over(T0 + 3 * S, warm=True)
    assert not [n for n in out.notifications if isinstance(n, BindingsRecovered)]    # nothing loaded
    assert ha.counters["redundancy.warm_bindings"] == 2 and ha.counters.get("store.recovered", 0) == 0
    assert ha.registrar.mirrored == 0 and sorted(ha.registrar.homes()) == [home(0), home(1)]
    assert {p.payload.target for p in of_type(ha.tick(T0 + 3 * S), NeighborAdvertisement)} == {home(0), home(1)}
    out = ha.receive(T0 + 4 * S, "eth1", frame_in(bu_packet(seq=10, home=home(1))))
    assert ba_of(out).payload.status == 0 and ha.counters["binding.created"] == 0
    assert mirror_store.commits == 1                 # the active writes through from now on


def test_a_mirrored_binding_outside_the_home_prefixes_or_out_of_time_is_not_kept():
    ha = make_ha(store=MemoryBindingStore(), wall_offset_ns=RESTART_OFFSET, dad=False, cache_size=64)
    outside = BindingRecord("2001:db8:77::1", "2001:db8:2::1", 1, FLAG_HOME, 420, WALL + 420 * S, None)
    past = BindingRecord(home(5), "2001:db8:2::1", 1, FLAG_HOME, 420, RESTART_OFFSET + T0 - S, None)
    ha.mirror(T0, [outside, past])
    assert len(ha.cache) == 0 and ha.counters["redundancy.mirror_dropped"] == 2
