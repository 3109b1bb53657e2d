"""Pure-Python twin of mip6fast._bcache.BindingTable: the fallback, the benchmark baseline, and the model
the tests hold the C table to.

Same methods, same results, same slot numbers: a freed slot goes on a LIFO free list and is reused
before a new slot is taken, exactly as csrc/mip6_bcache.c does, so slot numbers, iteration order and the
order of expired keys agree call for call. The keyed hash is the C one, bit for bit (tests compare them).
Lookups go through a dict; ``memory()`` and ``stats()`` give the C table's figures for the same calls
(its index and entry chunks are modelled, see ``_Layout``), not the twin's own Python objects.

Argument checks live here and the compiled skin calls the same helpers, so both raise the same errors:
TypeError for a value of the wrong kind, ValueError for a wrong length, shape or range.
"""
from __future__ import annotations

import operator
import os

import numpy as np

CREATED, UPDATED, STALE, NOMEM, DELETED, ABSENT = 0, 1, 2, 3, 4, 5
U16 = 0xFFFF
U64 = (1 << 64) - 1
FIXED_ENTRY_SIZE = 44  # the C entry before its key: coa 16, seq 2, flags 2, expiry 8, packets 8, bytes 8

# ---- the keyed hash of csrc/mip6_bcache.c ----------------------------------------------------------
# SipHash-1-3 of the whole key under the table's 16-byte seed (csrc/mip6_bcache.c says why 1-3). The twin
# hashes every key it inserts: the C index it models (stats, memory) is placed by the hash.

SIP_CROUNDS, SIP_DROUNDS = 1, 3


def _sip_init(key: bytes) -> tuple[int, int, int, int]:
    """SipHash's initial state for a 16-byte key (k0, k1 little-endian, xored with the paper's constants)."""
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:16], "little")
    return (k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573)


def _sip(state: tuple[int, int, int, int], data: bytes, crounds: int, drounds: int) -> int:
    v0, v1, v2, v3 = state
    n = len(data)
    whole = n & ~7
    blocks = [int.from_bytes(data[i:i + 8], "little") for i in range(0, whole, 8)]
    blocks.append(((n & 0xFF) << 56) | int.from_bytes(data[whole:], "little"))  # the tail and n mod 256
    steps = [(m, crounds) for m in blocks]
    steps.append((None, drounds))  # finalisation: v2 ^= 0xff, then drounds rounds
    for m, rounds in steps:
        if m is None:
            v2 ^= 0xFF
        else:
            v3 ^= m
        for _ in range(rounds):
            # One SipRound (csrc/mip6_bcache.c, BC_SIPROUND), modulo 2^64.
            v0 = (v0 + v1) & U64
            v2 = (v2 + v3) & U64
            v1 = (((v1 << 13) | (v1 >> 51)) & U64) ^ v0
            v3 = (((v3 << 16) | (v3 >> 48)) & U64) ^ v2
            v0 = ((v0 << 32) | (v0 >> 32)) & U64
            v2 = (v2 + v1) & U64
            v0 = (v0 + v3) & U64
            v1 = (((v1 << 17) | (v1 >> 47)) & U64) ^ v2
            v3 = (((v3 << 21) | (v3 >> 43)) & U64) ^ v0
            v2 = ((v2 << 32) | (v2 >> 32)) & U64
        if m is not None:
            v0 ^= m
    return v0 ^ v1 ^ v2 ^ v3


def siphash(key, data, crounds=1, drounds=3) -> int:
    """SipHash-crounds-drounds of data (any length) under a 16-byte key: the twin of the C mip6_siphash
    (a table's hash(k) is siphash(seed, k, 1, 3))."""
    return _sip(_sip_init(check_bytes(key, 16, "key")), check_bytes(data, None, "data"),
                check_int(crounds, 64, "crounds"), check_int(drounds, 64, "drounds"))


def keyed_hash(state: tuple[int, int, int, int], key: bytes) -> int:
    """bc_hash: SipHash-1-3 of the key from the table's initial state (_sip_init of its seed)."""
    return _sip(state, key, SIP_CROUNDS, SIP_DROUNDS)


# ---- argument checks shared with the compiled skin -------------------------------------------------


def check_int(value, limit: int, what: str) -> int:
    """value as an int in 0..limit: TypeError if it is not an integer, ValueError if out of range."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(value).__name__}") from None
    if not 0 <= v <= limit:
        raise ValueError(f"{what}: {v} is out of range 0..{limit}")
    return v


def check_bytes(value, size: int | None, what: str) -> bytes:
    """value (bytes or any 1-D byte buffer) as `size` bytes (None: any length)."""
    if isinstance(value, bytes):
        b = value
    else:
        if isinstance(value, str):
            raise TypeError(f"{what}: expected {size or 'some'} bytes, got str")
        try:
            m = memoryview(value)
        except TypeError:
            raise TypeError(f"{what}: expected {size or 'some'} bytes, got {type(value).__name__}") from None
        if m.ndim != 1 or m.itemsize != 1:
            raise ValueError(f"{what}: expected a flat buffer of {size or 'some'} bytes")
        b = m.tobytes()
    if size is not None and len(b) != size:
        raise ValueError(f"{what}: expected {size} bytes, got {len(b)}")
    return b


def check_rows(value, width: int, what: str) -> np.ndarray:
    """A 2-D uint8 array of `width`-byte rows (rows may be strided, bytes within a row contiguous)."""
    if isinstance(value, np.ndarray):
        a = value
    else:
        try:
            a = np.asarray(memoryview(value))
        except TypeError:
            raise TypeError(f"{what}: expected an (n, {width}) uint8 array, got {type(value).__name__}") from None
    if a.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8, got {a.dtype}")
    if a.ndim != 2 or a.shape[1] != width:
        raise ValueError(f"{what}: expected shape (n, {width}), got {a.shape}")
    if a.shape[0] and (a.strides[1] != 1 or a.strides[0] < 0):
        raise ValueError(f"{what}: the bytes of a row must be contiguous and rows in increasing order")
    if a.shape[0] > 0x7FFFFFFF:
        raise ValueError(f"{what}: too many rows")
    return a


def check_column(value, n: int, dtype, limit: int, what: str) -> np.ndarray:
    """n values as a contiguous array of dtype; a scalar is repeated n times."""
    a = np.asarray(value)
    if a.ndim == 0:
        a = np.broadcast_to(a, (n,))
    if a.shape != (n,):
        raise ValueError(f"{what}: expected {n} values, got shape {a.shape}")
    if a.dtype != dtype:
        if a.dtype.kind not in "iub":
            raise TypeError(f"{what}: expected integers, got dtype {a.dtype}")
        if n and (int(a.min()) < 0 or int(a.max()) > limit):
            raise ValueError(f"{what}: values out of range 0..{limit}")
        a = a.astype(dtype)
    return np.ascontiguousarray(a)


def check_seed(seed) -> bytes | None:
    if seed is None:
        return None
    return check_bytes(seed, 16, "seed")


def _newer(seq: int, last: int) -> bool:
    """RFC 6275 §9.5.1: seq is "greater than" last modulo 2^16 ((seq - last) mod 2^16 in 1..32767); the
    twin of mip6_bcache_seq_newer."""
    return 1 <= ((seq - last) & U16) <= 0x7FFF


def seq_newer(seq, last) -> bool:
    """The §9.5.1 rule for callers outside the table (arguments checked as the compiled skin does)."""
    return _newer(check_int(seq, U16, "seq"), check_int(last, U16, "last"))


def _fail_allocations_after(n: int) -> None:
    """The C tables' allocation-failure hook; the twin never runs out of memory, so this does nothing."""


# ---- the C table's layout, for memory() and stats() ------------------------------------------------
# The twin's own storage is a dict, but memory() and stats() report the C table's figures for the same
# calls (a scenario's summary holds them, and both implementations must give the same summary). So
# _Layout follows what csrc/mip6_bcache.c allocates: its open-addressing index of 32-bit buckets (tag |
# slot + 1, tombstones, incremental growth into a second index), the lone entry chunk that grows by
# half, and the arenas of 2^15-entry chunks after it. It decides nothing the caller sees but these two
# figures: lookups go through the dict.

BC_EMPTY, BC_TOMB = 0, 0xFFFFFFFF
BC_MIN_SHIFT, BC_MAX_SHIFT = 4, 30
BC_MIGRATE_STEP = 16
BC_CHUNK_SHIFT = 15
BC_CHUNK = 1 << BC_CHUNK_SHIFT
BC_CHUNK_WORDS = BC_CHUNK // 64
BC_ARENA_MAX = 16
SIZEOF_TABLE = 216  # sizeof(mip6_bcache_t) on LP64 (x86_64, aarch64), its allocator pointer included
MAX_ENTRIES = 805306368  # MIP6_BCACHE_MAX_ENTRIES


class _Index:
    __slots__ = ("b", "mask", "shift", "tombs", "used")

    def __init__(self, shift: int):
        self.b = [BC_EMPTY] * (1 << shift)
        self.mask = (1 << shift) - 1
        self.shift = shift
        self.used = 0
        self.tombs = 0

    def threshold(self) -> int:
        nb = self.mask + 1
        return nb - nb // 4

    def tag(self, h: int) -> int:
        return (((h >> (32 + self.shift)) & 0xFFFFFFFF) << self.shift) & 0xFFFFFFFF

    def put(self, h: int, slot: int) -> None:
        b, mask = self.b, self.mask
        i = h & mask
        while b[i] != BC_EMPTY and b[i] != BC_TOMB:
            i = (i + 1) & mask
        if b[i] == BC_TOMB:
            self.tombs -= 1
        else:
            self.used += 1
        b[i] = self.tag(h) | (slot + 1)

    def erase(self, pos: int) -> None:
        b, mask = self.b, self.mask
        if b[(pos + 1) & mask] != BC_EMPTY:
            b[pos] = BC_TOMB
            self.tombs += 1
            return
        b[pos] = BC_EMPTY
        self.used -= 1
        i = (pos - 1) & mask
        while b[i] == BC_TOMB:
            b[i] = BC_EMPTY
            self.used -= 1
            self.tombs -= 1
            i = (i - 1) & mask

    def find_slot_pos(self, h: int, slot: int) -> int:
        b, mask = self.b, self.mask
        want = self.tag(h) | (slot + 1)
        i = h & mask
        while True:
            v = b[i]
            if v == BC_EMPTY:
                return -1
            if v == want:
                return i
            i = (i + 1) & mask


class _Layout:
    """mip6_bcache_t's bookkeeping: index(es) and entry memory (see the comment above)."""

    def __init__(self, esize: int, capacity_hint: int):
        self.esize = esize
        self.nchunks = self.chunk_room = self.narenas = self.arena_room = 0
        self.lone, self.lone_cap = -1, 0
        self.entry_bytes = 0
        self.cap = 0
        self.old: _Index | None = None
        self.mig_pos = 0
        self.hashes: dict = {}   # slot -> hash of its key (the C table hashes the key again when it needs it)
        hint = min(capacity_hint, MAX_ENTRIES)
        shift = BC_MIN_SHIFT
        while shift < BC_MAX_SHIFT and (1 << shift) * 3 // 4 < hint:
            shift += 1
        self.cur = _Index(shift)
        full, rest = hint // BC_CHUNK, hint % BC_CHUNK
        if full:
            self._add_chunks(full)
        if rest or not full:
            self._add_lone(rest if full or rest >= 8 else 8)

    # entry memory
    def _room(self, more: int) -> None:
        if self.nchunks + more > self.chunk_room:
            self.chunk_room = max(self.chunk_room * 2, self.nchunks + more)
        if self.narenas + 1 > self.arena_room:
            self.arena_room = self.arena_room * 2 if self.arena_room else 4

    def _add_chunks(self, k: int) -> None:
        self._room(k)
        self.narenas += 1
        self.nchunks += k
        self.entry_bytes += BC_CHUNK * self.esize * k
        self.cap = self.nchunks << BC_CHUNK_SHIFT

    def _add_lone(self, cap: int) -> None:
        self._room(1)
        self.lone = self.nchunks
        self.nchunks += 1
        self.lone_cap = cap
        self.entry_bytes += cap * self.esize
        self.cap += cap

    def _reserve_slot(self, hw: int, have_free: bool) -> None:
        if have_free or hw < self.cap:
            return
        if self.lone >= 0 and self.lone_cap < BC_CHUNK:
            ncap = min(self.lone_cap + self.lone_cap // 2 + 16, BC_CHUNK)
            self.entry_bytes += (ncap - self.lone_cap) * self.esize
            self.cap += ncap - self.lone_cap
            self.lone_cap = ncap
            return
        self._add_chunks(min(self.nchunks, BC_ARENA_MAX))

    # index
    def _migrate(self, budget: int) -> None:
        o = self.old
        if o is None:
            return
        nb = o.mask + 1
        while budget and self.mig_pos < nb:
            v = o.b[self.mig_pos]
            if v != BC_EMPTY and v != BC_TOMB:
                s = (v & o.mask) - 1
                self.cur.put(self.hashes[s], s)
                o.b[self.mig_pos] = BC_TOMB
            self.mig_pos += 1
            budget -= 1
        if self.mig_pos >= nb:
            self.old = None
            self.mig_pos = 0

    def _start_growth(self, must_double: bool, length: int) -> None:
        if self.old is not None:
            self._migrate(1 << 32)
        shift = self.cur.shift
        if must_double or length + 1 > self.cur.threshold() // 2:
            shift += 1
        if shift > BC_MAX_SHIFT:  # pragma: no cover - 2^30 buckets of Python list
            raise MemoryError("binding table index at its largest")
        self.old, self.cur, self.mig_pos = self.cur, _Index(shift), 0

    def insert(self, h: int, length: int, hw: int, free: list) -> None:
        """Before the twin takes a slot for a new key (hash h): what mip6_bcache_update does."""
        self._reserve_slot(hw, bool(free))
        self._migrate(BC_MIGRATE_STEP)
        nxt = free[-1] if free else hw
        must_double = nxt + 1 >= self.cur.mask
        if self.cur.used + 1 > self.cur.threshold() or must_double:
            self._start_growth(must_double, length)

    def inserted(self, h: int, slot: int) -> None:
        self.hashes[slot] = h
        self.cur.put(h, slot)

    def removed(self, slot: int) -> None:
        """After the twin frees a slot: what bc_remove does to the indexes."""
        h = self.hashes.pop(slot)
        p = self.cur.find_slot_pos(h, slot)
        if p >= 0:
            self.cur.erase(p)
        elif self.old is not None:
            p = self.old.find_slot_pos(h, slot)
            if p >= 0:
                self.old.b[p] = BC_TOMB
        self._migrate(BC_MIGRATE_STEP)

    def memory(self) -> int:
        m = (SIZEOF_TABLE + self.entry_bytes + self.nchunks * BC_CHUNK_WORDS * 8 + self.chunk_room * 16
             + self.arena_room * 8 + (self.cur.mask + 1) * 4)
        if self.old is not None:
            m += (self.old.mask + 1) * 4
        return m

    def stats(self, live_slots) -> dict:
        cur, max_probe = self.cur, 0
        for s in live_slots:
            h = self.hashes[s]
            p = cur.find_slot_pos(h, s)
            if p >= 0:
                max_probe = max(max_probe, ((p - h) & cur.mask) + 1)
        old = self.old
        return {"entry_capacity": self.cap, "nbuckets": cur.mask + 1, "used": cur.used, "tombstones": cur.tombs,
                "old_nbuckets": old.mask + 1 if old is not None else 0,
                "old_remaining": old.mask + 1 - self.mig_pos if old is not None else 0, "max_probe": max_probe}


class BindingTable:
    """A binding cache table keyed by key_size-byte keys (16: home address; 32: peer then home)."""

    def __init__(self, key_size: int = 16, capacity: int = 1024, seed=None):
        if key_size not in (16, 32):
            raise ValueError(f"key_size: must be 16 or 32, got {key_size!r}")
        check_int(capacity, 0xFFFFFFFF, "capacity")
        seed = check_seed(seed)
        self.key_size = key_size
        self._sip = _sip_init(seed if seed is not None else os.urandom(16))
        self._slots: dict = {}          # key -> slot
        self._entries: list = []        # slot -> [key, coa, seq, flags, expiry, packets, bytes] or None
        self._free: list[int] = []      # LIFO, as the C free list
        self._layout = _Layout(FIXED_ENTRY_SIZE + key_size, capacity)

    @staticmethod
    def shared(tables) -> BindingTable:
        """The compiled table's view of the forwarding workers' shared binding cache (mip6fast._shm):
        memory shared between processes, which the twin has no model of."""
        raise RuntimeError("a shared binding cache is the compiled mip6fast._bcache's (mip6fast._shm); "
                           "the pure-Python twin has none")

    @property
    def is_shared(self) -> bool:
        return False

    def __len__(self) -> int:
        return len(self._slots)

    def __repr__(self) -> str:
        return f"<BindingTable (Python) key_size={self.key_size} len={len(self)}>"

    def _key(self, key) -> bytes:
        return check_bytes(key, self.key_size, "key")

    # ---- single keys ----

    def update(self, key, care_of, sequence, flags, expires_ns) -> tuple[int, int, int]:
        key = self._key(key)
        coa = check_bytes(care_of, 16, "care_of")
        seq = check_int(sequence, U16, "sequence")
        flags = check_int(flags, U16, "flags")
        exp = check_int(expires_ns, U64, "expires_ns")
        slot = self._slots.get(key)
        if slot is not None:
            e = self._entries[slot]
            if not _newer(seq, e[2]):
                return STALE, e[2], slot
            e[1], e[2], e[3], e[4] = coa, seq, flags, exp
            return UPDATED, seq, slot
        h = keyed_hash(self._sip, key)
        self._layout.insert(h, len(self._slots), len(self._entries), self._free)
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._entries)
            self._entries.append(None)
        self._entries[slot] = [key, coa, seq, flags, exp, 0, 0]
        self._slots[key] = slot
        self._layout.inserted(h, slot)
        return CREATED, seq, slot

    def lookup(self, key) -> int:
        return self._slots.get(self._key(key), -1)

    def entry(self, slot) -> tuple | None:
        """(key, care_of, sequence, flags, expires_ns, packets, bytes) of a live slot, else None."""
        slot = operator.index(slot)
        if 0 <= slot < len(self._entries) and self._entries[slot] is not None:
            return tuple(self._entries[slot])
        return None

    def get(self, key) -> tuple | None:
        slot = self._slots.get(self._key(key))
        return None if slot is None else tuple(self._entries[slot])

    def _remove(self, key: bytes, slot: int) -> None:
        del self._slots[key]
        self._entries[slot] = None
        self._free.append(slot)
        self._layout.removed(slot)

    def delete(self, key) -> bool:
        key = self._key(key)
        slot = self._slots.get(key)
        if slot is None:
            return False
        self._remove(key, slot)
        return True

    def delete_if_newer(self, key, sequence) -> tuple[int, int, int]:
        """Delete under the RFC 6275 §9.5.1 sequence rule: (outcome, last_sequence, slot); outcome DELETED,
        STALE (nothing changed, last_sequence the last accepted one) or ABSENT."""
        key = self._key(key)
        seq = check_int(sequence, U16, "sequence")
        slot = self._slots.get(key)
        if slot is None:
            return ABSENT, seq, -1
        last = self._entries[slot][2]
        if not _newer(seq, last):
            return STALE, last, slot
        self._remove(key, slot)
        return DELETED, seq, slot

    def add_counters(self, slot, packets, nbytes) -> None:
        """Add to a live entry's packet and byte counters (modulo 2^64, as the C data path does)."""
        packets = check_int(packets, U64, "packets")
        nbytes = check_int(nbytes, U64, "nbytes")
        slot = operator.index(slot)
        if not (0 <= slot < len(self._entries) and self._entries[slot] is not None):
            raise ValueError(f"slot {slot} is not live")
        e = self._entries[slot]
        e[5] = (e[5] + packets) & U64
        e[6] = (e[6] + nbytes) & U64

    def next(self, after) -> int:
        """The next live slot after `after` (-1 to start), or -1."""
        after = operator.index(after)
        for s in range(max(after + 1, 0), len(self._entries)):
            if self._entries[s] is not None:
                return s
        return -1

    def expire(self, now_ns, max_batch: int = 256) -> list[bytes]:
        """Delete every entry with expires_ns <= now_ns; their keys in slot order."""
        now = check_int(now_ns, U64, "now_ns")
        check_int(max_batch, 0xFFFFFFFF, "max_batch")
        if max_batch == 0:
            raise ValueError("max_batch: must be at least 1")
        out = []
        for s, e in enumerate(self._entries):
            if e is not None and e[4] <= now:
                out.append(e[0])
                self._remove(e[0], s)
        return out

    def expire_some(self, now_ns, max_keys) -> list[bytes]:
        """One round of the sweep: delete up to max_keys entries with expires_ns <= now_ns, the first in
        slot order, and return their keys. Fewer than max_keys means the sweep is complete."""
        now = check_int(now_ns, U64, "now_ns")
        m = check_int(max_keys, 65536, "max_keys")
        if m == 0:
            raise ValueError("max_keys: must be at least 1")
        out = []
        for s, e in enumerate(self._entries):
            if len(out) == m:
                break
            if e is not None and e[4] <= now:
                out.append(e[0])
                self._remove(e[0], s)
        return out

    def hash(self, key) -> int:
        return keyed_hash(self._sip, self._key(key))

    # ---- batches ----

    def hash_batch(self, keys) -> np.ndarray:
        """uint64 hashes of an (n, key_size) uint8 array of keys (the C table hashes them as lookup_batch
        does: four at once where the CPU allows; the same bits)."""
        keys = check_rows(keys, self.key_size, "keys")
        return np.array([keyed_hash(self._sip, k) for k in map(bytes, keys)], dtype=np.uint64)

    def lookup_batch(self, keys, out=None) -> np.ndarray:
        keys = check_rows(keys, self.key_size, "keys")
        n = keys.shape[0]
        if out is None:
            out = np.empty(n, dtype=np.int32)
        elif not (isinstance(out, np.ndarray) and out.dtype == np.int32 and out.ndim == 1 and out.shape[0] >= n):
            raise ValueError(f"out: expected an int32 array of at least {n} items")
        get = self._slots.get
        out[:n] = [get(k, -1) for k in map(bytes, keys)]
        return out[:n] if out.shape[0] != n else out

    def care_of_batch(self, keys) -> tuple[np.ndarray, np.ndarray]:
        slots = self.lookup_batch(keys)
        coa = np.zeros((slots.shape[0], 16), dtype=np.uint8)
        mask = slots >= 0
        for i in np.flatnonzero(mask):
            coa[i] = np.frombuffer(self._entries[slots[i]][1], dtype=np.uint8)
        return coa, mask

    def update_batch(self, keys, care_of, sequences, flags, expires_ns):
        """update() over n rows; scalars for sequences, flags, expires_ns apply to every row.
        Returns (outcome uint8, last_sequence uint16, slot int32) arrays."""
        keys = check_rows(keys, self.key_size, "keys")
        n = keys.shape[0]
        coas = check_rows(care_of, 16, "care_of")
        if coas.shape[0] != n:
            raise ValueError(f"care_of: expected {n} rows, got {coas.shape[0]}")
        seqs = check_column(sequences, n, np.uint16, U16, "sequences")
        fl = check_column(flags, n, np.uint16, U16, "flags")
        exp = check_column(expires_ns, n, np.uint64, U64, "expires_ns")
        outcome = np.empty(n, dtype=np.uint8)
        last = np.empty(n, dtype=np.uint16)
        slots = np.empty(n, dtype=np.int32)
        for i in range(n):
            outcome[i], last[i], slots[i] = self.update(keys[i].tobytes(), coas[i].tobytes(), int(seqs[i]),
                                                        int(fl[i]), int(exp[i]))
        return outcome, last, slots

    # ---- size ----

    def entry_size(self) -> int:
        """Bytes per entry of the C layout (the twin has no layout of its own to report)."""
        return FIXED_ENTRY_SIZE + self.key_size

    def memory(self) -> int:
        """Bytes the C table holds after the same calls: entry array, index (both while growing), live
        bitmap (modelled; the twin's own Python objects are not counted)."""
        return self._layout.memory()

    def stats(self) -> dict:
        """The C table's index shape after the same calls (modelled); max_probe costs a pass over the table."""
        live = [s for s, e in enumerate(self._entries) if e is not None]
        return {"len": len(self._slots), "high_water": len(self._entries), "free_slots": len(self._free),
                **self._layout.stats(live)}
