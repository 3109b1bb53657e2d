"""The binding store's semantics (mip6fast.store), the same suite against MemoryBindingStore,
SQLiteBindingStore and EtcdBindingStore (on a real one-member etcd, tests/helpers/etcd.py): group
commit, what a restart keeps, recovery with expiries, the key-value area, the records' validation and
the clock conversion. The SQLite store's own behaviour (files, locks, schema, corruption) is in
tests/test_store_sqlite.py; faults that need root in tests/test_store_faults.py; etcd's own in
tests/test_store_etcd.py."""
import tempfile
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast import binding_cache
from mip6fast.binding_cache import BindingCache, Outcome
from helpers.etcd import unique_prefix
from mip6fast.store import (
    CLOSED,
    FLAG_ACK,
    FLAG_HOME,
    FLAG_KEY_MANAGEMENT,
    FLAG_LINK_LOCAL,
    BindingRecord,
    BindingStore,
    Deregistered,
    Expired,
    MemoryBindingStore,
    Refreshed,
    Registered,
    SQLiteBindingStore,
    StateDeleted,
    StatePut,
    StoreError,
    flag_letters,
    monotonic_from_wall,
    wall_from_monotonic,
)
from mip6fast.store.etcd import EtcdBindingStore

S = 1_000_000_000
WALL = 1_800_000_000 * S          # a wall-clock "now" for the tests (2027)


def rec(n, *, coa=None, seq=1, flags=FLAG_HOME | FLAG_ACK, lifetime=420, expires=None, protection="sa:1"):
    return BindingRecord(f"2001:db8:1::{n:x}", coa or f"2001:db8:2::{n:x}", seq, flags, lifetime,
                         WALL + lifetime * S if expires is None else expires, protection)


class Backend:
    """Opens a store of one kind, and 'restarts' it: what a process that stopped and started again
    finds (staged records are lost, committed ones kept). etcd: a prefix of its own on the cluster."""

    def __init__(self, kind, directory: Path, cluster=None):
        self.kind = kind
        self.path = directory / "bindings.db"
        self.cluster = cluster
        self.prefix = unique_prefix()

    def open(self) -> BindingStore:
        if self.kind == "memory":
            return MemoryBindingStore()
        if self.kind == "etcd":
            return EtcdBindingStore(self.cluster.endpoints, prefix=self.prefix)
        return SQLiteBindingStore(self.path)

    def restart(self, store) -> BindingStore:
        if self.kind == "memory":
            return store.crash()
        store.close()
        return self.open()


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def backend(request, tmp_path):
    cluster = request.getfixturevalue("etcd_cluster") if request.param == "etcd" else None
    return Backend(request.param, tmp_path, cluster)


@pytest.fixture
def store(backend):
    s = backend.open()
    yield s
    s.close()


# ---------------------------------------------------------------------- group commit


def test_committed_bindings_and_state_survive_a_restart(backend):
    s = backend.open()
    s.stage(Registered(rec(1)))
    s.stage(Registered(rec(2, flags=FLAG_HOME | FLAG_LINK_LOCAL | FLAG_KEY_MANAGEMENT, protection=None)))
    s.stage(StatePut("interfaces", {"eth0": {"disable_ipv6": "0"}}))
    assert s.commit() == 3
    s = backend.restart(s)
    assert s.bindings() == [rec(1), rec(2, flags=FLAG_HOME | FLAG_LINK_LOCAL | FLAG_KEY_MANAGEMENT,
                                           protection=None)]
    assert s.state() == {"interfaces": {"eth0": {"disable_ipv6": "0"}}}
    s.close()


def test_staged_records_are_invisible_until_commit_and_lost_by_a_restart(backend):
    s = backend.open()
    s.stage(Registered(rec(1)))
    s.commit()
    s.stage(Refreshed(rec(1, seq=2, coa="2001:db8:9::1")))
    s.stage(Registered(rec(2)))
    s.stage(StatePut("k", 1))
    assert s.pending == 3
    assert s.bindings() == [rec(1)] and s.state() == {}
    s = backend.restart(s)
    assert s.pending == 0
    assert s.bindings() == [rec(1)] and s.state() == {}
    s.close()


def test_commit_counts_and_an_empty_commit_does_nothing(store):
    assert store.commit() == 0
    store.stage_all([Registered(rec(i)) for i in range(5)])
    assert store.commit() == 5
    assert store.pending == 0
    assert store.commit() == 0
    assert (store.commits, store.records_committed) == (1, 5)


def test_within_a_batch_the_last_record_per_home_address_wins(store):
    store.stage_all([
        Registered(rec(1)), Refreshed(rec(1, seq=2)), Refreshed(rec(1, seq=3, coa="2001:db8:7::1")),
        Registered(rec(2)), Deregistered(rec(2).home_address),
        Registered(rec(3)), Expired(rec(3).home_address), Registered(rec(3, seq=9)),
        StatePut("a", 1), StatePut("a", 2), StatePut("b", 1), StateDeleted("b"),
    ])
    store.commit()
    assert store.bindings() == [rec(1, seq=3, coa="2001:db8:7::1"), rec(3, seq=9)]
    assert store.state() == {"a": 2}


def test_deregistration_and_expiry_delete_and_unknown_addresses_are_no_ops(store):
    store.stage_all([Registered(rec(1)), Registered(rec(2)), Registered(rec(3))])
    store.commit()
    store.stage_all([Deregistered("2001:db8:1::1"), Expired(IPv6Address("2001:db8:1::2")),
                     Deregistered("2001:db8:1::99"), StateDeleted("never-set")])
    assert store.commit() == 4
    assert store.bindings() == [rec(3)]


def test_discard_drops_the_staged_batch(store):
    store.stage_all([Registered(rec(1)), StatePut("k", "v")])
    assert store.discard() == 2
    assert store.pending == 0 and store.commit() == 0
    assert store.bindings() == [] and store.state() == {}


def test_a_refresh_replaces_the_whole_binding(store):
    store.stage(Registered(rec(1, seq=10, flags=FLAG_HOME | FLAG_LINK_LOCAL, protection="sa:old")))
    store.commit()
    new = rec(1, seq=11, coa="2001:db8:5::5", flags=FLAG_HOME, lifetime=8, protection="sa:new")
    store.stage(Refreshed(new))
    store.commit()
    assert store.bindings() == [new]


def test_many_records_in_one_commit(store):
    store.stage_all(Registered(rec(i)) for i in range(1, 5001))
    assert store.commit() == 5000
    assert len(store.bindings()) == 5000
    store.stage_all(Expired(rec(i).home_address) for i in range(1, 5001, 2))
    store.commit()
    assert [b.home_address for b in store.bindings()] == [rec(i).home_address for i in range(2, 5001, 2)]


# ---------------------------------------------------------------------- recovery


def test_load_returns_the_unexpired_bindings_and_removes_and_counts_the_expired(backend):
    s = backend.open()
    s.stage_all([Registered(rec(3, expires=WALL + 5)), Registered(rec(1, expires=WALL)),
                 Registered(rec(2, expires=WALL - S)), Registered(rec(4, expires=WALL + 100 * S))])
    s.commit()
    s = backend.restart(s)
    bindings, expired = s.load(WALL)
    assert expired == 2                                         # expires <= now is due, as in the cache
    assert bindings == [rec(3, expires=WALL + 5), rec(4, expires=WALL + 100 * S)]    # by home address
    assert s.bindings() == bindings                             # the expired ones are gone for good
    s = backend.restart(s)
    assert s.load(WALL) == (bindings, 0)
    s.close()


def test_load_is_refused_while_records_are_staged(store):
    store.stage(Registered(rec(1)))
    with pytest.raises(ValueError, match="1 records are staged"):
        store.load(WALL)
    store.commit()
    assert store.load(WALL).bindings == [rec(1)]


def test_recovery_rebuilds_a_binding_cache_that_goes_on_applying_the_sequence_rule(backend):
    """What the home agent will do: each recovered record goes back into its BindingCache with its
    expiry on this process's monotonic clock; a replayed BU is then still stale."""
    s = backend.open()
    mono_before, wall_before = 5 * S, WALL
    s.stage(Registered(BindingRecord.from_monotonic("2001:db8:1::9", "2001:db8:2::9", 700,
                                                    FLAG_HOME | FLAG_ACK, 420, mono_before + 420 * S,
                                                    mono_before, wall_before, "esp-spi:0x1001")))
    s.commit()
    s = backend.restart(s)
    mono_now, wall_now = 77 * S, WALL + 100 * S                 # another process, 100 s later
    recovered, expired = s.load(wall_now)
    cache = BindingCache()
    for r in recovered:
        cache.update(r.home_address, r.care_of_address, r.sequence, r.flags,
                     r.expires_monotonic_ns(mono_now, wall_now))
    b = cache["2001:db8:1::9"]
    assert (expired, b.care_of_address, b.sequence) == (0, IPv6Address("2001:db8:2::9"), 700)
    assert b.expires_ns == mono_now + 320 * S
    replay = cache.update("2001:db8:1::9", "2001:db8:3::1", 700, FLAG_HOME, mono_now + S)
    assert replay.outcome is Outcome.STALE and replay.last_sequence == 700
    newer = cache.update("2001:db8:1::9", "2001:db8:3::1", 701, FLAG_HOME, mono_now + S)
    assert newer.outcome is Outcome.UPDATED
    s.close()


# ---------------------------------------------------------------------- the key-value area


def test_state_area_put_overwrite_delete_and_json_round_trip(backend):
    s = backend.open()
    s.stage_all([StatePut("interfaces", {"eth0": {"disable_ipv6": "0"}, "eth1": {"disable_ipv6": None}}),
                 StatePut("tuple", (1, 2.5, "x", True)), StatePut("n", 3)])
    s.commit()
    s.stage_all([StatePut("n", 4), StateDeleted("tuple")])
    s.commit()
    s = backend.restart(s)
    assert s.state() == {"interfaces": {"eth0": {"disable_ipv6": "0"}, "eth1": {"disable_ipv6": None}},
                         "n": 4}
    assert s.get_state("n") == 4 and s.get_state("tuple", "gone") == "gone"
    s.stage(StatePut("tuple", (1, 2)))
    s.commit()
    assert s.get_state("tuple") == [1, 2]                      # stored as JSON: a tuple reads back as a list
    s.close()


def test_bindings_and_state_of_one_commit_land_together(backend):
    s = backend.open()
    s.stage_all([Registered(rec(1)), StatePut("k", "v")])
    s = backend.restart(s)                                      # never committed: neither is there
    assert (s.bindings(), s.state()) == ([], {})
    s.stage_all([Registered(rec(1)), StatePut("k", "v")])
    s.commit()
    s = backend.restart(s)
    assert (s.bindings(), s.state()) == ([rec(1)], {"k": "v"})
    s.close()


# ---------------------------------------------------------------------- misuse


def test_a_closed_store_refuses_everything_with_store_error(backend):
    s = backend.open()
    s.stage(Registered(rec(1)))
    s.close()
    s.close()                                                   # twice is fine
    for call in (lambda: s.stage(Registered(rec(2))), s.commit, lambda: s.load(WALL), s.bindings, s.state):
        with pytest.raises(StoreError) as e:
            call()
        assert e.value.reason == CLOSED


def test_the_context_manager_closes(backend):
    with backend.open() as s:
        s.stage(Registered(rec(1)))
        s.commit()
    assert s.closed
    s = backend.open() if backend.kind == "sqlite" else None    # the lock was released
    if s is not None:
        assert s.bindings() == [rec(1)]
        s.close()


def test_stage_takes_records_only(store):
    with pytest.raises(TypeError, match="expected a store record"):
        store.stage(rec(1))                                     # a BindingRecord is not a change
    with pytest.raises(TypeError):
        store.stage(("2001:db8::1",))
    with pytest.raises(TypeError, match="binding: expected a BindingRecord"):
        store.stage(Registered("2001:db8::1"))
    assert store.pending == 0


def test_load_takes_integer_wall_time(store):
    with pytest.raises(TypeError):
        store.load(1.5e18)


# ---------------------------------------------------------------------- records


@pytest.mark.parametrize("change, message", [
    ({"sequence": 65536}, "sequence: must be in 0..65535"),
    ({"sequence": -1}, "sequence"),
    ({"flags": 0x10000}, "flags"),
    ({"lifetime_s": 0}, "lifetime_s: must be in 1..262140"),
    ({"lifetime_s": 262141}, "lifetime_s"),
    ({"expires_wall_ns": -1}, "expires_wall_ns"),
    ({"expires_wall_ns": 1 << 63}, "expires_wall_ns"),
    ({"home_address": "2001:db8::zz"}, "home_address"),
    ({"care_of_address": b"\x00" * 15}, "care_of_address: an address is 16 bytes"),
    ({"protection": ""}, "protection"),
    ({"protection": "sa\nkey"}, "protection"),
    ({"protection": "x" * 256}, "protection"),
])
def test_binding_records_are_validated_when_built(change, message):
    fields = {"home_address": "2001:db8::1", "care_of_address": "2001:db8::2", "sequence": 1,
              "flags": FLAG_HOME, "lifetime_s": 4, "expires_wall_ns": WALL, "protection": None}
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        BindingRecord(**fields)


def test_binding_record_type_errors():
    with pytest.raises(TypeError):
        BindingRecord(1, "2001:db8::2", 1, 0, 4, WALL)
    with pytest.raises(TypeError):
        BindingRecord("2001:db8::1", "2001:db8::2", True, 0, 4, WALL)
    with pytest.raises(TypeError):
        BindingRecord("2001:db8::1", "2001:db8::2", 1, 0, 4, float(WALL))
    with pytest.raises(TypeError):
        BindingRecord("2001:db8::1", "2001:db8::2", 1, 0, 4, WALL, protection=b"key")


def test_addresses_in_any_form_make_equal_records():
    a = BindingRecord("2001:db8::1", "2001:0db8:0::2", 1, 0, 4, WALL)
    b = BindingRecord(IPv6Address("2001:db8::1").packed, IPv6Address("2001:db8::2"), 1, 0, 4, WALL)
    assert a == b and isinstance(a.home_address, IPv6Address)
    assert Deregistered("2001:db8::1") == Deregistered(IPv6Address("2001:db8::1"))


def test_state_records_are_validated_when_built():
    with pytest.raises(ValueError, match="not storable as JSON"):
        StatePut("k", {1, 2})
    with pytest.raises(ValueError, match="not storable as JSON"):
        StatePut("k", float("nan"))
    with pytest.raises(ValueError, match="key"):
        StatePut("", 1)
    with pytest.raises(TypeError):
        StateDeleted(3)
    with pytest.raises(ValueError, match="bytes as JSON"):
        StatePut("k", "x" * (1 << 20))


def test_flags_are_the_binding_caches_and_read_as_letters():
    assert (FLAG_ACK, FLAG_HOME, FLAG_LINK_LOCAL, FLAG_KEY_MANAGEMENT) == (
        binding_cache.FLAG_ACK, binding_cache.FLAG_HOME, binding_cache.FLAG_LINK_LOCAL,
        binding_cache.FLAG_KEY_MANAGEMENT)
    assert flag_letters(0xF000) == "AHLK" and flag_letters(FLAG_HOME | FLAG_LINK_LOCAL) == "HL"
    assert flag_letters(0) == ""


# ---------------------------------------------------------------------- time across restarts


def test_clock_conversions_are_inverse():
    assert wall_from_monotonic(15 * S, 10 * S, WALL) == WALL + 5 * S
    assert monotonic_from_wall(WALL + 5 * S, 10 * S, WALL) == 15 * S
    r = BindingRecord.from_monotonic("2001:db8::1", "2001:db8::2", 1, FLAG_HOME, 420, 10 * S + 420 * S,
                                     10 * S, WALL)
    assert r.expires_wall_ns == WALL + 420 * S
    assert r.expires_monotonic_ns(3 * S, WALL + 20 * S) == 3 * S + 400 * S    # a new process, 20 s later


def test_a_wall_clock_stepped_back_never_grants_more_than_the_lifetime():
    r = rec(1, lifetime=420, expires=WALL + 420 * S)
    # the clock went back an hour while the home agent was down: 3,980 s would be left, capped at 420
    assert r.remaining_ns(WALL - 3600 * S) == 420 * S
    assert r.expires_monotonic_ns(0, WALL - 3600 * S) == 420 * S
    # stepped forward: less is left (the mobile node registers again early: the safe side)
    assert r.remaining_ns(WALL + 400 * S) == 20 * S
    assert r.expired(WALL + 420 * S) and not r.expired(WALL + 420 * S - 1)


# ---------------------------------------------------------------------- against a model


_HOMES = [f"2001:db8:1::{i}" for i in range(1, 6)]

_ops = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(_HOMES), st.integers(0, 65535), st.integers(-3, 3)),
    st.tuples(st.just("refresh"), st.sampled_from(_HOMES), st.integers(0, 65535), st.integers(-3, 3)),
    st.tuples(st.just("deregister"), st.sampled_from(_HOMES)),
    st.tuples(st.just("expire"), st.sampled_from(_HOMES)),
    st.tuples(st.just("put"), st.sampled_from("abc"), st.integers(-5, 5)),
    st.tuples(st.just("delete"), st.sampled_from("abc")),
    st.tuples(st.just("commit"),),
    st.tuples(st.just("discard"),),
    st.tuples(st.just("restart"),),
    st.tuples(st.just("load"), st.integers(-3, 3)),
)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_ops, max_size=40))
def test_the_store_behaves_like_a_dict_committed_batch_by_batch(kind, ops):
    _behaves_like_a_dict(kind, ops)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_ops, max_size=40))
def test_the_etcd_store_behaves_like_a_dict_committed_batch_by_batch(etcd_cluster, ops):
    _behaves_like_a_dict("etcd", ops, etcd_cluster)


def _behaves_like_a_dict(kind, ops, cluster=None):
    with tempfile.TemporaryDirectory() as d:
        backend = Backend(kind, Path(d), cluster)
        s = backend.open()
        committed: dict = {}
        kv: dict = {}
        staged: list = []
        for op in ops:
            what = op[0]
            if what in ("register", "refresh"):
                r = BindingRecord(op[1], "2001:db8:2::1", op[2], FLAG_HOME, 4, WALL + op[3] * S)
                s.stage((Registered if what == "register" else Refreshed)(r))
                staged.append(("b", r.home_address, r))
            elif what in ("deregister", "expire"):
                s.stage((Deregistered if what == "deregister" else Expired)(op[1]))
                staged.append(("b", IPv6Address(op[1]), None))
            elif what == "put":
                s.stage(StatePut(op[1], op[2]))
                staged.append(("s", op[1], op[2]))
            elif what == "delete":
                s.stage(StateDeleted(op[1]))
                staged.append(("s", op[1], None))
            elif what == "commit":
                assert s.commit() == len({(area, key) for area, key, _ in staged})
                for area, key, value in staged:
                    target = committed if area == "b" else kv
                    if value is None:
                        target.pop(key, None)
                    else:
                        target[key] = value
                staged = []
            elif what == "discard":
                assert s.discard() == len({(area, key) for area, key, _ in staged})
                staged = []
            elif what == "restart":
                s = backend.restart(s)
                staged = []
            elif what == "load":
                if staged:
                    with pytest.raises(ValueError):
                        s.load(WALL + op[1] * S)
                    continue
                now = WALL + op[1] * S
                due = sorted(k for k, r in committed.items() if r.expires_wall_ns <= now)
                live, expired = s.load(now)
                assert expired == len(due)
                for k in due:
                    del committed[k]
                assert live == [committed[k] for k in sorted(committed)]
            assert s.pending == len({(area, key) for area, key, _ in staged})
            assert s.bindings() == [committed[k] for k in sorted(committed)]
            assert s.state() == dict(sorted(kv.items()))
        s.close()
