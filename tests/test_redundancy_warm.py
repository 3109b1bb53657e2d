"""The warm standby of mip6fast.redundancy on a real etcd (tests/helpers/etcd.py), without namespaces: two
members, each a HomeAgent driven by a NodeRunner with no ports (what it sends is dropped), sharing one
group prefix. The active registers bindings through its store; the standby mirrors them from etcd's watch
on its loop (here: the test polls the watch's descriptor and calls the loop's callback, as the runner
would), refuses to write, shows its replication lag; when the active stops renewing its lease the
standby takes over warm (nothing loaded, the last commits caught up), or, when its watch cannot catch
up, cold. Skipped without etcd (failed under CI). tests/test_redundancy.py does the same with real
daemons in namespaces."""
import dataclasses
import select
import time
from ipaddress import IPv6Address

import pytest

from helpers.etcd import unique_prefix
from helpers.home_agent import PREFIX, bu_packet, frame_in, make_ha
from mip6fast.config import EtcdSettings
from mip6fast.io.runner import NodeRunner
from mip6fast.redundancy import ACTIVE, STANDBY, Redundancy
from mip6fast.store import StatePut, StoreError
from mip6fast.store.errors import READ_ONLY
from mip6fast.store.etcd import EtcdBindingStore


def home(i):
    return IPv6Address(int(PREFIX.network_address) + 0x100 + i)


class Member:
    def __init__(self, settings: EtcdSettings, name: str, warm: bool = True):
        s = dataclasses.replace(settings, member=name, warm_standby=warm)
        self.store = EtcdBindingStore(s.endpoints, prefix=s.prefix, timeout_s=s.timeout)
        self.ha = make_ha(store=self.store, wall_offset_ns=time.time_ns() - time.monotonic_ns(), dad=False,
                          cache_size=256)
        self.runner = NodeRunner(self.ha, {})
        self.lost = []
        self.r = Redundancy(s, self.store, self.ha, self.runner, None, 1 << 16, on_lost=lambda: self.lost.append(1),
                            on_resigned=lambda: None)

    def register(self, i, seq=7):
        self.runner.call(lambda now: self.ha.receive(now, "eth1", frame_in(bu_packet(seq=seq, home=home(i)))))

    def pump(self, until, timeout=10.0):
        """The loop's side of the watch until ``until()``."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"not reached; status {self.r.status()}"
            if self.r.watch is not None:
                select.select([self.r.watch.fileno()], [], [], 0.1)
                self.r._watched()
            else:
                time.sleep(0.05)

    def campaign_until_active(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while self.r.state != ACTIVE:
            assert time.monotonic() < deadline, "never became active"
            self.r._campaign(self.runner.clock())
            time.sleep(0.05)

    def crash(self):
        """As a SIGKILL leaves it for the others: no more keep-alives, nothing resigned."""
        if self.r.keeper is not None:
            self.r.keeper.stop()
            self.r.keeper = None

    def close(self):
        self.crash()
        self.r._stop_watch()
        self.r.election.close()
        self.store.close()
        self.runner.close()


@pytest.fixture
def group(etcd_cluster):
    settings = EtcdSettings(endpoints=tuple(etcd_cluster.endpoints), prefix=unique_prefix(), lease_ttl=1, timeout=2.0)
    members = []

    def member(name, warm=True):
        m = Member(settings, name, warm)
        members.append(m)
        m.r.start()
        return m
    yield member
    for m in members:
        m.close()


def test_the_standby_mirrors_the_actives_bindings_and_takes_over_warm(group):
    a = group("a")
    b = group("b")
    assert (a.r.state, b.r.state) == (ACTIVE, STANDBY)
    a.register(1)
    a.register(2)
    b.pump(lambda: len(b.ha.cache) == 2)
    status = b.r.status()
    assert status["mirrored"] == 2 and status["applied_revision"] >= a.store.revision
    assert status["lag_revisions"] == 0 and status["since_applied_s"] is not None and status["lease_id"] is None
    assert a.r.status()["commit_rtt_s"] > 0 and a.r.status()["lag_revisions"] is None
    assert b.ha.counters.get("binding.created", 0) == 0                # mirrored, not registered
    # a standby never writes
    b.store.stage(StatePut("x", 1))
    with pytest.raises(StoreError) as e:
        b.store.commit()
    assert e.value.reason == READ_ONLY
    b.store.discard()
    # a refresh (new care-of address) and one more binding committed just before the active dies: the
    # takeover catches up with them even if the standby's loop had not applied them yet
    a.runner.call(lambda now: a.ha.receive(now, "eth1", frame_in(
        bu_packet(seq=8, home=home(1), coa=IPv6Address("2001:db8:2::77")))))
    a.register(3)
    a.crash()
    b.campaign_until_active()
    status = b.r.status()
    assert status["last_takeover_warm"] is True
    assert {IPv6Address(k) for k in b.ha.cache.keys()} == {home(1), home(2), home(3)}
    assert b.ha.cache.get(home(1)).care_of_address == IPv6Address("2001:db8:2::77")
    assert b.ha.cache.get(home(1)).sequence == 8
    assert b.ha.counters["redundancy.warm_bindings"] == 3 and b.ha.counters.get("store.recovered", 0) == 0
    # the old active's commits are fenced off
    a.register(4)
    assert a.ha.counters["store.commit_failed.fenced"] == 1


def test_a_deletion_on_the_active_removes_the_mirrored_binding(group):
    a = group("a")
    b = group("b")
    a.register(1)
    b.pump(lambda: len(b.ha.cache) == 1)
    a.runner.call(lambda now: a.ha.receive(now, "eth1", frame_in(bu_packet(seq=8, lifetime=0, home=home(1)))))
    b.pump(lambda: len(b.ha.cache) == 0)
    assert b.ha.counters["redundancy.mirror_deleted"] == 1


def test_a_standby_started_after_the_bindings_reads_them_all_first(group):
    a = group("a")
    for i in range(5):
        a.register(i)
    b = group("b")
    b.pump(lambda: len(b.ha.cache) == 5)
    assert b.r.watch is not None and b.r.watch.snapshots == 1


def test_a_watch_that_cannot_catch_up_falls_back_to_loading_everything(group):
    a = group("a")
    b = group("b")
    a.register(1)
    b.pump(lambda: len(b.ha.cache) == 1)
    b.r._stop_watch()                   # the watch gone (etcd's stream broken and not back): nothing to wait for
    a.register(2)
    a.crash()
    b.campaign_until_active()
    assert b.r.status()["last_takeover_warm"] is False
    assert b.ha.counters["redundancy.cold_fallbacks"] == 1 and b.ha.counters["store.recovered"] == 2
    assert {IPv6Address(k) for k in b.ha.cache.keys()} == {home(1), home(2)}


def test_a_cold_standby_has_no_watch_and_loads_at_its_takeover(group):
    a = group("a")
    b = group("b", warm=False)
    a.register(1)
    time.sleep(0.5)
    assert b.r.watch is None and len(b.ha.cache) == 0
    a.crash()
    b.campaign_until_active()
    assert b.r.status()["last_takeover_warm"] is False and b.ha.counters["store.recovered"] == 1
    assert b.ha.counters.get("redundancy.cold_fallbacks", 0) == 0

