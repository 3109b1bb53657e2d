"""The watch a warm standby keeps on its group's prefix (mip6fast.store.etcd_watch), and the management
address the control plane's connections to etcd leave from ([etcd] source_address), on a real etcd
(tests/helpers/etcd.py). Skipped without etcd (failed under CI)."""
import base64
import select
import subprocess
import time

import pytest

from helpers.etcd import unique_prefix
from mip6fast.store import FLAG_HOME, BindingRecord, Deregistered, Registered
from mip6fast.store.etcd import EtcdBindingStore
from mip6fast.store.etcd_leader import Election
from mip6fast.store.etcd_watch import Events, PrefixWatch, Snapshot

WALL = 1_800_000_000 * 10**9


def rec(n, seq=1):
    return BindingRecord(f"2001:db8:1::{n:x}", "2001:db8:2::1", seq, FLAG_HOME, 420, WALL, None)


def key(kv):
    return base64.b64decode(kv["key"]).decode()


def collect(watch, until, timeout=10.0):
    """Items from the watch, as the daemon's loop takes them (poll the pipe, then drain), until
    ``until(items)``."""
    items = []
    deadline = time.monotonic() + timeout
    while not until(items):
        assert time.monotonic() < deadline, f"the watch did not deliver: {items}"
        select.select([watch.fileno()], [], [], 0.2)
        items += watch.drain()
    return items


def events_of(items):
    return [(e.get("type", "PUT"), key(e["kv"])) for i in items if isinstance(i, Events) for e in i.events]


@pytest.fixture
def group(etcd_cluster):
    prefix = unique_prefix()
    store = EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix)
    watches = []

    def watch(**kw):
        w = PrefixWatch(etcd_cluster.endpoints, prefix, **kw)
        watches.append(w)
        w.start()
        return w
    yield store, prefix, watch
    for w in watches:
        w.stop()
    store.close()


def test_the_watch_starts_with_everything_then_follows_puts_and_deletes_in_order(group):
    store, prefix, watch = group
    store.stage(Registered(rec(1)))
    store.commit()
    w = watch()
    (snap,) = collect(w, lambda items: items)
    assert isinstance(snap, Snapshot) and snap.revision >= store.revision
    bindings = [key(kv) for kv in snap.kvs if "/binding/" in key(kv)]
    assert bindings == [prefix + "binding/" + rec(1).home_address.exploded]
    store.stage(Registered(rec(2)))
    store.commit()
    store.stage(Deregistered(rec(1).home_address))
    store.commit()
    items = collect(w, lambda items: len(events_of(items)) >= 2)
    assert events_of(items) == [("PUT", prefix + "binding/" + rec(2).home_address.exploded),
                                ("DELETE", prefix + "binding/" + rec(1).home_address.exploded)]
    assert w.revision == store.revision


def test_a_broken_stream_resumes_from_the_next_revision_without_losing_or_repeating_an_event(group):
    """The stream is opened again after each idle read timeout (here 0.3 s) and on every failure: what
    was committed meanwhile comes once, in order."""
    store, prefix, watch = group
    w = watch(read_timeout_s=0.3)
    collect(w, lambda items: items)                     # the snapshot
    for i in range(6):
        store.stage(Registered(rec(i, seq=i + 1)))
        store.commit()
        time.sleep(0.25 if i % 2 else 0.45)             # some commits while the stream is reopened
    items = collect(w, lambda items: len(events_of(items)) >= 6)
    time.sleep(0.5)
    items += w.drain()
    assert [k for _, k in events_of(items)] == [prefix + "binding/" + rec(i).home_address.exploded for i in range(6)]
    assert w.reconnects >= 2


def test_source_address_is_where_the_connections_to_etcd_leave_from(etcd_cluster):
    """[etcd] source_address: the store's, the election's and the watch's connections to etcd (on
    127.0.0.1 here) are bound to 127.0.0.2, another address of this machine's loopback, as `ss` sees
    them (the kernel would otherwise pick 127.0.0.1)."""
    endpoint = etcd_cluster.endpoints[0]
    port = int(endpoint.rsplit(":", 1)[1])
    prefix = unique_prefix()
    store = EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix, source_address="127.0.0.2")
    election = Election(etcd_cluster.endpoints, prefix, "ha-src", source_address="127.0.0.3")
    watch = PrefixWatch(etcd_cluster.endpoints, prefix, source_address="127.0.0.4")
    try:
        store.stage(Registered(rec(1)))
        store.commit()
        election.holder()
        watch.start()
        collect(watch, lambda items: items)
        ss = subprocess.run(["ss", "-Htn", "state", "established", "dst", f"127.0.0.1:{port}"],
                            capture_output=True, text=True, check=True).stdout
        sources = {line.split()[-2].rsplit(":", 1)[0] for line in ss.splitlines() if line.strip()}
        assert {"127.0.0.2", "127.0.0.3", "127.0.0.4"} <= sources, ss
    finally:
        watch.stop()
        election.close()
        store.close()


def test_an_address_not_on_this_machine_fails_as_unavailable(etcd_cluster):
    from mip6fast.store import StoreError
    from mip6fast.store.errors import CANNOT_OPEN

    with pytest.raises(StoreError) as e:
        EtcdBindingStore(etcd_cluster.endpoints, prefix=unique_prefix(), source_address="192.0.2.77", timeout_s=1)
    assert e.value.reason == CANNOT_OPEN
