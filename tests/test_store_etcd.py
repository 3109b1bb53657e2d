"""EtcdBindingStore's own behaviour on real etcd processes (tests/helpers/etcd.py): the layout of keys and
values, the schema key, endpoints that do not answer, transactions larger than etcd's --max-txn-ops,
the fence, and a three-member cluster that loses a member. The store's contract (the semantics every
backend shares) is tests/test_store.py, run on etcd too. Skipped without etcd (failed under CI)."""
import base64
import json
import time

import pytest
import requests

from helpers.etcd import EtcdCluster, _free_ports, unique_prefix
from mip6fast.store import (
    CANNOT_OPEN,
    FLAG_ACK,
    FLAG_HOME,
    BindingRecord,
    Deregistered,
    Refreshed,
    Registered,
    StatePut,
    StoreError,
)
from mip6fast.store.errors import FENCED, SCHEMA, UNAVAILABLE
from mip6fast.store.etcd import EtcdBindingStore, decode_binding, encode_binding

S = 1_000_000_000
WALL = 1_800_000_000 * S


def rec(n, seq=1, protection="esp-spi:0x00001001"):
    return BindingRecord(f"2001:db8:1::{n:x}", f"2001:db8:2::{n:x}", seq, FLAG_HOME | FLAG_ACK, 420,
                         WALL + 420 * S, protection)


def raw(endpoint, key: str, *, prefix=False):
    """Keys and values under ``key`` read straight from etcd's HTTP gateway (no mip6fast code)."""
    body = {"key": base64.b64encode(key.encode()).decode()}
    if prefix:
        end = key[:-1] + chr(ord(key[-1]) + 1)
        body["range_end"] = base64.b64encode(end.encode()).decode()
    r = requests.post(f"{endpoint}/v3/kv/range", json=body, timeout=5)
    r.raise_for_status()
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
            for kv in r.json().get("kvs", [])}


def grant(endpoint, ttl):
    r = requests.post(f"{endpoint}/v3/lease/grant", json={"TTL": ttl}, timeout=5)
    r.raise_for_status()
    return r.json()["ID"]


def put(endpoint, key, value, lease=None):
    body = {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value.encode()).decode()}
    if lease is not None:
        body["lease"] = lease
    r = requests.post(f"{endpoint}/v3/kv/put", json=body, timeout=5)
    r.raise_for_status()
    return int(r.json()["header"]["revision"])


@pytest.fixture
def prefix():
    return unique_prefix()


@pytest.fixture
def store(etcd_cluster, prefix):
    s = EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix)
    yield s
    s.close()


def test_keys_are_the_exploded_home_addresses_and_values_the_records_json_with_no_key_material(
        etcd_cluster, prefix, store):
    store.stage(Registered(rec(1)))
    store.stage(StatePut("esp.replay_mark.0x00001001", 77))
    store.commit()
    found = raw(etcd_cluster.endpoints[0], prefix, prefix=True)
    home = "2001:0db8:0001:0000:0000:0000:0000:0001"
    assert sorted(found) == sorted([f"{prefix}schema", f"{prefix}binding/{home}",
                                    f"{prefix}state/esp.replay_mark.0x00001001"])
    assert found[f"{prefix}schema"] == "1"
    assert json.loads(found[f"{prefix}binding/{home}"]) == {
        "home_address": "2001:db8:1::1", "care_of_address": "2001:db8:2::1", "sequence": 1,
        "flags": FLAG_HOME | FLAG_ACK, "lifetime_s": 420, "expires_wall_ns": WALL + 420 * S,
        "protection": "esp-spi:0x00001001"}
    assert json.loads(found[f"{prefix}state/esp.replay_mark.0x00001001"]) == 77
    assert decode_binding("x", encode_binding(rec(1))) == rec(1)


def test_a_deregistration_deletes_the_key(etcd_cluster, prefix, store):
    store.stage_all([Registered(rec(1)), Registered(rec(2))])
    store.commit()
    store.stage(Deregistered(rec(1).home_address))
    store.commit()
    assert [k.rsplit("/", 1)[1] for k in raw(etcd_cluster.endpoints[0], prefix + "binding/", prefix=True)] == [
        "2001:0db8:0001:0000:0000:0000:0000:0002"]


def test_a_damaged_value_is_a_corrupt_store_error(etcd_cluster, prefix, store):
    put(etcd_cluster.endpoints[0], prefix + "binding/2001:0db8:0001:0000:0000:0000:0000:0009", "{not json")
    with pytest.raises(StoreError, match="not a binding record") as info:
        store.bindings()
    assert info.value.reason == "corrupt"


def test_another_layout_version_under_the_prefix_is_refused(etcd_cluster, prefix):
    put(etcd_cluster.endpoints[0], prefix + "schema", "2")
    with pytest.raises(StoreError, match="layout version 1") as info:
        EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix)
    assert info.value.reason == SCHEMA


def test_no_endpoint_answering_at_open_is_cannot_open_naming_the_endpoints(prefix):
    dead = [f"http://127.0.0.1:{p}" for p in _free_ports(2)]
    with pytest.raises(StoreError, match="no etcd endpoint answered") as info:
        EtcdBindingStore(dead, prefix=prefix, timeout_s=0.5)
    assert info.value.reason == CANNOT_OPEN
    assert dead[0] in info.value.path and dead[1] in info.value.path


def test_a_dead_endpoint_first_in_the_list_is_passed_over(etcd_cluster, prefix):
    dead = f"http://127.0.0.1:{_free_ports(1)[0]}"
    with EtcdBindingStore([dead, *etcd_cluster.endpoints], prefix=prefix, timeout_s=0.5) as s:
        s.stage(Registered(rec(1)))
        s.commit()
        assert s.bindings() == [rec(1)]
        assert s.endpoints.failovers == 1


@pytest.mark.parametrize("bad", [dict(endpoints=[]), dict(endpoints="http://127.0.0.1:2379"),
                                 dict(endpoints=["ftp://x:1"]), dict(endpoints=["http://x"]),
                                 dict(prefix="no-slash/"), dict(prefix="/no-trailing"), dict(max_txn_ops=1),
                                 dict(timeout_s=0)])
def test_settings_are_checked(bad):
    args = dict(endpoints=["http://127.0.0.1:1"], prefix="/p/", timeout_s=0.2, max_txn_ops=128)
    args.update(bad)
    with pytest.raises(ValueError):
        EtcdBindingStore(args.pop("endpoints"), **args)


def test_a_batch_larger_than_the_servers_max_txn_ops_is_written_in_several_transactions(
        etcd_cluster, prefix):
    with EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix, max_txn_ops=16) as s:
        rev = s.revision
        s.stage_all(Registered(rec(i)) for i in range(1, 101))
        assert s.commit() == 100
        assert len(s.bindings()) == 100
        assert s.revision - rev == 7        # ceil(100 / 15): one revision per transaction
    # one transaction above the server's limit (128 operations by default) is what it refuses
    with EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix, max_txn_ops=1000) as s:
        s.stage_all(Refreshed(rec(i, seq=2)) for i in range(1, 201))
        with pytest.raises(StoreError, match="too many operations") as info:
            s.commit()
        assert info.value.reason == "I/O error"
        assert s.pending == 200
        assert {b.sequence for b in s.bindings()} == {1}


def test_a_fenced_store_writes_only_while_its_election_key_lives(etcd_cluster, prefix, store):
    ep = etcd_cluster.endpoints[0]
    lease = grant(ep, 60)
    key = prefix + "leader"
    created = put(ep, key, "ha-1", lease)
    store.set_fence(key, created)
    store.stage(Registered(rec(1)))
    store.commit()
    r = requests.post(f"{ep}/v3/kv/lease/revoke", json={"ID": lease}, timeout=5)    # the lease lapses
    r.raise_for_status()
    store.stage(Refreshed(rec(1, seq=2)))
    with pytest.raises(StoreError, match="election key") as info:
        store.commit()
    assert info.value.reason == FENCED
    assert store.pending == 1 and store.bindings() == [rec(1)]
    put(ep, key, "ha-1")            # the same key made again (another member's election): not ours
    with pytest.raises(StoreError) as info:
        store.commit()
    assert info.value.reason == FENCED
    store.clear_fence()
    assert store.commit() == 1


def test_an_expired_binding_refreshed_since_it_was_read_is_not_removed(etcd_cluster, prefix, store):
    """load() deletes what it read as expired only if nobody wrote it since (the active home agent may
    refresh it while a standby loads): a compare on each key's mod revision."""
    store.stage_all([Registered(rec(1)), Registered(rec(2))])
    store.commit()
    original = store._range

    def range_then_refresh(operation, prefix_bytes):
        kvs = original(operation, prefix_bytes)
        with EtcdBindingStore(etcd_cluster.endpoints, prefix=prefix) as other:
            other.stage(Refreshed(BindingRecord(rec(1).home_address, "2001:db8:3::1", 2, FLAG_HOME, 420,
                                                WALL + 2000 * S)))
            other.commit()
        return kvs

    store._range = range_then_refresh
    _, expired = store.load(WALL + 1000 * S)
    store._range = original
    assert expired == 1
    assert [b.home_address for b in store.bindings()] == [rec(1).home_address]


# ---------------------------------------------------------------------- a three-member cluster


@pytest.fixture
def cluster3():
    with EtcdCluster(3) as c:
        yield c


def test_a_three_member_cluster_keeps_every_acknowledged_commit_through_the_loss_of_any_one_member(cluster3):
    prefix = unique_prefix()
    with EtcdBindingStore(cluster3.endpoints, prefix=prefix, timeout_s=1.0) as s:
        s.stage_all(Registered(rec(i)) for i in range(1, 51))
        s.commit()
        cluster3.kill(0)                 # SIGKILL the member the store was talking to (maybe the leader:
        cluster3.wait_healthy([1, 2])    # a commit during the election is unavailable, tested below)
        s.stage_all(Refreshed(rec(i, seq=2)) for i in range(1, 51))
        s.stage(StatePut("esp.replay_mark.0x00001001", 500))
        assert s.commit() == 51
        assert s.endpoints.failovers >= 1
        assert [b.sequence for b in s.bindings()] == [2] * 50
        cluster3.start(0)                # back on its data directory: it catches up
        cluster3.kill(1)
        cluster3.wait_healthy([0, 2])
        s.stage(Refreshed(rec(1, seq=3)))
        s.commit()
    # a fresh client through the member that was down reads everything acknowledged
    with EtcdBindingStore([cluster3.endpoints[0]], prefix=prefix) as s:
        assert [b.sequence for b in s.bindings()] == [3] + [2] * 49
        assert s.get_state("esp.replay_mark.0x00001001") == 500


def test_without_a_quorum_a_commit_is_unavailable_and_the_batch_stays_staged(cluster3):
    prefix = unique_prefix()
    with EtcdBindingStore(cluster3.endpoints, prefix=prefix, timeout_s=0.5) as s:
        s.stage(Registered(rec(1)))
        s.commit()
        cluster3.kill(1)
        cluster3.kill(2)
        s.stage(Refreshed(rec(1, seq=2)))
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            s.commit()
        assert info.value.reason == UNAVAILABLE
        assert time.monotonic() - started < 5
        assert s.pending == 1
        cluster3.start(1)
        cluster3.wait_healthy([0, 1])
        assert s.commit() == 1
        assert s.bindings() == [rec(1, seq=2)]


def test_the_benchmark_measures_an_etcd_cluster_and_removes_its_keys(etcd_cluster, tmp_path):
    from mip6fast.store import benchmark
    rows = benchmark.run({}, batch_sizes=(1, 10), seconds=0.01, population=20, memory=False,
                         etcd=etcd_cluster.endpoints)
    assert [(r["medium"], r["filesystem"], r["batch"]) for r in rows] == [("etcd", "etcd x1", 1),
                                                                        ("etcd", "etcd x1", 10)]
    assert all(r["commits"] >= 5 and r["records_per_s"] > 0 for r in rows)
    assert raw(etcd_cluster.endpoints[0], "/mip6fast-bench/", prefix=True) == {}
