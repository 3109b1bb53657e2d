"""Stateful property test: the binding table (C, and its twin) against a plain dict model.

Random sequences of updates and de-registrations (``delete_if_newer``; sequence numbers chosen around
the last accepted one so the 2^16 wrap and the 32768 window edges come up often), deletes, single and
batch lookups, care-of batches, counter bumps and expiry (whole sweeps and single rounds that stop
part-way), over a small key space in a table created with capacity 1, so index growth, tombstones,
slot reuse and collisions all interleave.

The model is a dict key -> [coa, seq, flags, expiry, packets, bytes] plus a dict key -> slot and a
LIFO list of freed slots (the documented slot policy: the last freed slot is reused first)."""
import numpy as np
from conftest import both
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

U64 = (1 << 64) - 1
IMPLS = {p.id: p.values[0] for p in both("bcache")}


def make_keys(size, n):
    """n keys sharing a prefix, differing in one or two bytes: what home addresses in one /64 look like."""
    base = bytes.fromhex("20010db8000100000000000000000000")
    out = []
    for i in range(n):
        k = bytearray(base * (size // 16))
        k[15] = i & 0xFF
        k[14] = i >> 8
        if size == 32:
            k[31] = (i * 7) & 0xFF  # peer half first, home half last
        out.append(bytes(k))
    return out


SEQ_DELTAS = st.sampled_from([1, 2, 100, 32766, 32767, 32768, 32769, 65534, 65535, 0])


class BindingTableModel(RuleBasedStateMachine):
    impl = None
    key_size = 16
    n_keys = 40

    def __init__(self):
        super().__init__()
        self.keys = make_keys(self.key_size, self.n_keys)
        self.t = self.impl.BindingTable(self.key_size, 1, bytes(16))
        self.model = {}      # key -> [coa, seq, flags, expiry, packets, bytes]
        self.slots = {}      # key -> slot
        self.free = []       # freed slots, LIFO
        self.high_water = 0

    # ---- model helpers ----

    def _model_create(self, k, coa, seq, flags, expiry):
        slot = self.free.pop() if self.free else self.high_water
        if slot == self.high_water:
            self.high_water += 1
        self.model[k] = [coa, seq, flags, expiry, 0, 0]
        self.slots[k] = slot
        return slot

    def _model_delete(self, k):
        del self.model[k]
        self.free.append(self.slots.pop(k))

    def _due_in_slot_order(self, now):
        return sorted((s, k) for k, s in self.slots.items() if self.model[k][3] <= now)

    def _rows(self, idx):
        raw = b"".join(self.keys[i] for i in idx)
        return np.frombuffer(raw, np.uint8).reshape(len(idx), self.key_size)

    # ---- rules ----

    @rule(i=st.integers(0, n_keys - 1), delta=st.one_of(SEQ_DELTAS, st.integers(0, 65535)),
          coa=st.binary(min_size=16, max_size=16), flags=st.integers(0, 0xFFFF), expiry=st.integers(0, 60))
    def update(self, i, delta, coa, flags, expiry):
        k = self.keys[i]
        if k in self.model:
            last = self.model[k][1]
            seq = (last + delta) & 0xFFFF
            if 1 <= delta <= 32767:
                self.model[k][:4] = [coa, seq, flags, expiry]
                want = (1, seq, self.slots[k])
            else:
                want = (2, last, self.slots[k])
        else:
            seq = delta
            want = (0, seq, self._model_create(k, coa, seq, flags, expiry))
        assert self.t.update(k, coa, seq, flags, expiry) == want

    @rule(idx=st.lists(st.integers(0, n_keys - 1), min_size=1, max_size=25), base=st.integers(0, 65535),
          expiry=st.integers(0, 60))
    def update_batch(self, idx, base, expiry):
        seqs = [(base + 3 * j) & 0xFFFF for j in range(len(idx))]
        coas = np.full((len(idx), 16), base & 0xFF, np.uint8)
        want = []
        for i, seq in zip(idx, seqs):
            k = self.keys[i]
            if k in self.model:
                last = self.model[k][1]
                if 1 <= ((seq - last) & 0xFFFF) <= 32767:
                    self.model[k][:4] = [coas[0].tobytes(), seq, 0x4000, expiry]
                    want.append((1, seq, self.slots[k]))
                else:
                    want.append((2, last, self.slots[k]))
            else:
                want.append((0, seq, self._model_create(k, coas[0].tobytes(), seq, 0x4000, expiry)))
        out, last, slots = self.t.update_batch(self._rows(idx), coas, np.array(seqs, np.uint16), 0x4000, expiry)
        assert list(zip(out.tolist(), last.tolist(), slots.tolist())) == want

    @rule(i=st.integers(0, n_keys - 1))
    def delete(self, i):
        k = self.keys[i]
        present = k in self.model
        if present:
            self._model_delete(k)
        assert self.t.delete(k) == present

    @rule(i=st.integers(0, n_keys - 1), delta=st.one_of(SEQ_DELTAS, st.integers(0, 65535)))
    def delete_if_newer(self, i, delta):
        k = self.keys[i]
        if k in self.model:
            last = self.model[k][1]
            seq = (last + delta) & 0xFFFF
            slot = self.slots[k]
            if 1 <= delta <= 32767:
                self._model_delete(k)
                want = (4, seq, slot)
            else:
                want = (2, last, slot)
        else:
            seq = delta
            want = (5, seq, -1)
        assert self.t.delete_if_newer(k, seq) == want

    @rule(i=st.integers(0, n_keys - 1))
    def lookup(self, i):
        k = self.keys[i]
        assert self.t.lookup(k) == self.slots.get(k, -1)
        got = self.t.get(k)
        assert got == (None if k not in self.model else (k, *self.model[k]))

    @rule(idx=st.lists(st.integers(0, n_keys - 1), max_size=60))
    def lookup_batch(self, idx):
        rows = self._rows(idx)
        assert self.t.lookup_batch(rows).tolist() == [self.slots.get(self.keys[i], -1) for i in idx]
        coa, mask = self.t.care_of_batch(rows)
        assert mask.tolist() == [self.keys[i] in self.model for i in idx]
        for j, i in enumerate(idx):
            k = self.keys[i]
            assert coa[j].tobytes() == (self.model[k][0] if k in self.model else bytes(16))

    @rule(i=st.integers(0, n_keys - 1), packets=st.integers(0, U64), nbytes=st.integers(0, 10**6))
    def add_counters(self, i, packets, nbytes):
        k = self.keys[i]
        if k in self.model:
            self.t.add_counters(self.slots[k], packets, nbytes)
            e = self.model[k]
            e[4] = (e[4] + packets) & U64
            e[5] = (e[5] + nbytes) & U64

    @rule(now=st.integers(0, 70))
    def expire(self, now):
        want = [k for _, k in self._due_in_slot_order(now)]
        for k in want:
            self._model_delete(k)
        assert self.t.expire(now) == want

    @rule(now=st.integers(0, 70), m=st.integers(1, 4))
    def expire_some(self, now, m):
        want = [k for _, k in self._due_in_slot_order(now)][:m]
        for k in want:
            self._model_delete(k)
        assert self.t.expire_some(now, m) == want

    @precondition(lambda self: len(self.model) > 0)
    @rule()
    def clear_by_deleting(self):
        for k in list(self.model):
            self._model_delete(k)
            assert self.t.delete(k)

    # ---- invariants ----

    @invariant()
    def same_contents(self):
        assert len(self.t) == len(self.model)
        slots, s = [], self.t.next(-1)
        while s >= 0:
            slots.append(s)
            s = self.t.next(s)
        assert slots == sorted(self.slots.values())
        st_ = self.t.stats()
        assert st_["len"] == len(self.model) and st_["high_water"] == self.high_water
        assert st_["free_slots"] == len(self.free)
        if "nbuckets" in st_:  # the C index: never more than 3/4 full, tombstones counted
            assert st_["used"] <= st_["nbuckets"] * 3 // 4
            assert st_["tombstones"] <= st_["used"]


def _make(impl_id, key_size):
    cls = type(f"Model_{impl_id}_{key_size}", (BindingTableModel,),
               {"impl": IMPLS[impl_id], "key_size": key_size})
    cls.TestCase.settings = settings(max_examples=60, stateful_step_count=80, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
    return cls.TestCase


for _id in IMPLS:
    for _size in (16, 32):
        globals()[f"TestBindingTable_{_id.replace('-', '_')}_{_size}"] = _make(_id, _size)
