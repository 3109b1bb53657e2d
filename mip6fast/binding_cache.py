"""The binding cache (RFC 6275 §9.1, §10.1) and binding update list (§11.1) as a Python mapping.

``BindingCache`` is a thin layer over ``BindingTable`` (the C table of csrc/mip6_bcache.c through
mip6fast._bcache, or its pure-Python twin mip6fast._bcache_py; see mip6fast._impl) that speaks
addresses: keys are home addresses (``str``, ``IPv6Address`` or 16 bytes) or, for a 32-byte table (the
mobile node's binding update list), ``(peer, home)`` pairs or 32 bytes; snapshots give addresses as
``IPv6Address``. Batch calls take and return numpy arrays and run in C without the GIL.

    cache = BindingCache()
    r = cache.update("2001:db8:1::9", "2001:db8:2::9", sequence=7, flags=0xC000, expires_ns=now + 420e9)
    r.outcome is Outcome.CREATED; cache["2001:db8:1::9"].care_of_address == IPv6Address("2001:db8:2::9")

Time is integer nanoseconds of a monotonic clock; ``expire(now_ns)`` deletes what is due and returns its
keys. The sequence rule of RFC 6275 §9.5.1 lives in C (``mip6_bcache_seq_newer``) and is applied by
``update`` and by ``delete_if_newer`` (a de-registration): a number not "greater than" the last accepted
one modulo 2^16 is ``Outcome.STALE`` (the caller answers with BA status 135 and ``last_sequence``), and
nothing changes. ``sequence_newer(seq, last)`` asks the same rule for two bare numbers.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv6Address
from typing import NamedTuple, Union

import numpy as np

from . import _impl

__all__ = [
    "FLAG_ACK",
    "FLAG_HOME",
    "FLAG_KEY_MANAGEMENT",
    "FLAG_LINK_LOCAL",
    "Binding",
    "BindingCache",
    "Outcome",
    "UpdateResult",
    "sequence_newer",
]

# Binding Update flags as on the wire (RFC 6275 §6.1.7); the low byte is free for a role's own bits.
FLAG_ACK = 0x8000
FLAG_HOME = 0x4000
FLAG_LINK_LOCAL = 0x2000
FLAG_KEY_MANAGEMENT = 0x1000

Address = Union[str, bytes, IPv6Address]
Key = Union[Address, tuple[Address, Address]]


class Outcome(IntEnum):
    CREATED = 0   # no binding existed: one was made
    UPDATED = 1   # the sequence number was newer: the binding was overwritten
    STALE = 2     # the sequence number was not newer (RFC 6275 §9.5.1): nothing changed
    NOMEM = 3     # the table could not grow: nothing changed (BA status 130, insufficient resources)
    DELETED = 4   # delete_if_newer: the sequence number was newer: the binding was deleted
    ABSENT = 5    # delete_if_newer: there was no binding: nothing changed


class UpdateResult(NamedTuple):
    outcome: Outcome
    last_sequence: int  # the sequence now accepted; for STALE the last accepted one (BA status 135)
    slot: int           # the binding's slot (freed for DELETED), -1 for NOMEM and ABSENT


def sequence_newer(seq: int, last: int) -> bool:
    """RFC 6275 §9.5.1: ``seq`` is "greater than" ``last`` modulo 2^16: the rule ``update`` and
    ``delete_if_newer`` apply, asked for two bare 16-bit numbers."""
    return _impl.load("bcache").seq_newer(seq, last)


@dataclass(frozen=True)
class Binding:
    """A snapshot of one binding (later updates do not change it)."""
    key: IPv6Address | tuple[IPv6Address, IPv6Address]
    care_of_address: IPv6Address
    sequence: int
    flags: int
    expires_ns: int
    packets: int
    bytes_: int

    @property
    def home_registration(self) -> bool:
        return bool(self.flags & FLAG_HOME)

    @property
    def link_local_compatibility(self) -> bool:
        return bool(self.flags & FLAG_LINK_LOCAL)


def _address(value, what: str) -> bytes:
    if isinstance(value, IPv6Address):
        return value.packed
    if isinstance(value, str):
        try:
            return IPv6Address(value).packed
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        b = bytes(value)
        if len(b) != 16:
            raise ValueError(f"{what}: an address is 16 bytes, got {len(b)}")
        return b
    raise TypeError(f"{what}: expected an IPv6 address (str, IPv6Address or 16 bytes), "
                    f"got {type(value).__name__}")


class BindingCache:
    """Bindings keyed by home address (key_size=16) or by (peer, home) address pair (key_size=32).

    capacity: the number of bindings to size for (the table grows past it). seed: the key of the
    table's hash (SipHash-1-3 of the whole key), 16 bytes or an int below 2^128 (its little-endian
    bytes) for a reproducible layout (tests, simulations); None, the default, draws one from
    getrandom() per table, so a remote sender cannot choose keys that collide. impl: a module with a
    ``BindingTable`` (mip6fast._bcache or mip6fast._bcache_py); default per mip6fast._impl."""

    def __init__(self, key_size: int = 16, capacity: int = 1024, seed=None, *, impl=None):
        if key_size not in (16, 32) or isinstance(key_size, bool):
            raise ValueError(f"key_size: must be 16 or 32, got {key_size!r}")
        if isinstance(seed, int) and not isinstance(seed, bool):
            if not 0 <= seed < 1 << 128:
                raise ValueError("seed: an int seed must be in 0..2^128-1")
            seed = seed.to_bytes(16, "little")
        mod = impl if impl is not None else _impl.load("bcache")
        self._table = mod.BindingTable(key_size, capacity, seed)
        self.key_size = key_size

    @classmethod
    def shared(cls, tables) -> BindingCache:
        """The binding cache in the forwarding workers' shared tables (a mip6fast._shm.SharedTables):
        16-byte keys, written here only, read by the workers (BindingTable.shared)."""
        self = cls.__new__(cls)
        self._table = _impl.load("bcache").BindingTable.shared(tables)
        self.key_size = 16
        return self

    @property
    def table(self):
        """The underlying BindingTable (Cython modules cimport mip6fast._bcache for its C pointer)."""
        return self._table

    # ---- keys ----

    def _key(self, key) -> bytes:
        if self.key_size == 16:
            if isinstance(key, tuple):
                raise TypeError("key: this cache is keyed by one home address, not a pair")
            return _address(key, "key")
        if isinstance(key, tuple):
            if len(key) != 2:
                raise ValueError(f"key: expected a (peer, home) pair, got {len(key)} items")
            return _address(key[0], "key peer") + _address(key[1], "key home")
        if isinstance(key, (bytes, bytearray, memoryview)):
            b = bytes(key)
            if len(b) != 32:
                raise ValueError(f"key: a (peer, home) key is 32 bytes, got {len(b)}")
            return b
        raise TypeError(f"key: expected a (peer, home) pair of IPv6 addresses or 32 bytes, "
                        f"got {type(key).__name__}")

    def _unkey(self, raw: bytes):
        if self.key_size == 16:
            return IPv6Address(raw)
        return IPv6Address(raw[:16]), IPv6Address(raw[16:])

    def _rows(self, keys) -> np.ndarray:
        """keys as an (n, key_size) uint8 array: arrays pass through, sequences of keys are converted."""
        if isinstance(keys, np.ndarray):
            return keys
        raw = b"".join(self._key(k) for k in keys)
        return np.frombuffer(raw, dtype=np.uint8).reshape(-1, self.key_size)

    def _binding(self, t) -> Binding:
        key, coa, seq, flags, expiry, packets, nbytes = t
        return Binding(self._unkey(key), IPv6Address(coa), seq, flags, expiry, packets, nbytes)

    # ---- single bindings ----

    def update(self, key: Key, care_of: Address, sequence: int, flags: int, expires_ns: int) -> UpdateResult:
        """Create or update key's binding under the RFC 6275 §9.5.1 sequence rule."""
        outcome, last, slot = self._table.update(self._key(key), _address(care_of, "care_of"), sequence, flags,
                                                 expires_ns)
        return UpdateResult(Outcome(outcome), last, slot)

    def delete_if_newer(self, key: Key, sequence: int) -> UpdateResult:
        """Delete key's binding under the RFC 6275 §9.5.1 sequence rule (a de-registration): DELETED when
        ``sequence`` is newer than the last accepted one; STALE (the binding stays, ``last_sequence`` is
        the last accepted one, for BA status 135); ABSENT when there is no binding."""
        outcome, last, slot = self._table.delete_if_newer(self._key(key), sequence)
        return UpdateResult(Outcome(outcome), last, slot)

    def __getitem__(self, key: Key) -> Binding:
        t = self._table.get(self._key(key))
        if t is None:
            raise KeyError(key)
        return self._binding(t)

    def get(self, key: Key, default=None) -> Binding | None:
        t = self._table.get(self._key(key))
        return default if t is None else self._binding(t)

    def __delitem__(self, key: Key) -> None:
        if not self._table.delete(self._key(key)):
            raise KeyError(key)

    def pop(self, key: Key, *default):
        k = self._key(key)
        t = self._table.get(k)
        if t is None:
            if default:
                return default[0]
            raise KeyError(key)
        self._table.delete(k)
        return self._binding(t)

    def __contains__(self, key: Key) -> bool:
        return self._table.lookup(self._key(key)) >= 0

    def __len__(self) -> int:
        return len(self._table)

    def __bool__(self) -> bool:
        return len(self._table) > 0

    def hash_of(self, key: Key) -> int:
        """The table's 64-bit hash of key: SipHash-1-3 of its key_size bytes under the table's seed (its
        low bits pick the home bucket). For tests and diagnostics; without the seed it tells nothing."""
        return self._table.hash(self._key(key))

    def slot(self, key: Key) -> int:
        """key's slot (stable until the binding is deleted), or -1."""
        return self._table.lookup(self._key(key))

    def binding_at(self, slot: int) -> Binding | None:
        """The binding in a slot, or None if the slot is not live."""
        t = self._table.entry(slot)
        return None if t is None else self._binding(t)

    def _slots(self) -> Iterator[int]:
        nxt = self._table.next
        s = nxt(-1)
        while s >= 0:
            yield s
            s = nxt(s)

    def __iter__(self):
        """Keys in slot order. Safe under mutation: each step asks for the next live slot."""
        for s in self._slots():
            t = self._table.entry(s)
            if t is not None:
                yield self._unkey(t[0])

    def keys(self) -> list:
        return list(self)

    def values(self) -> list[Binding]:
        return [b for _, b in self.items()]

    def items(self) -> list[tuple[object, Binding]]:
        out: list[tuple[object, Binding]] = []
        for s in self._slots():
            t = self._table.entry(s)
            if t is not None:
                b = self._binding(t)
                out.append((b.key, b))
        return out

    def expire(self, now_ns: int) -> list:
        """Delete every binding with expires_ns <= now_ns; their keys, in slot order."""
        return [self._unkey(k) for k in self._table.expire(now_ns)]

    # ---- batches ----

    def lookup_batch(self, keys) -> np.ndarray:
        """int32 slots (-1 for a miss) of keys: an (n, key_size) uint8 array (rows may be strided) or a
        sequence of keys."""
        return self._table.lookup_batch(self._rows(keys))

    def care_of_batch(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """((n, 16) uint8 care-of addresses, bool hit mask); rows of misses are zero."""
        return self._table.care_of_batch(self._rows(keys))

    def update_batch(self, keys, care_of, sequences, flags, expires_ns):
        """update() over n rows in one C call: keys (n, key_size) and care_of (n, 16) uint8 arrays (or
        sequences of addresses); sequences, flags, expires_ns arrays or scalars. Returns (outcome uint8,
        last_sequence uint16, slot int32) arrays (outcome values are Outcome members)."""
        if not isinstance(care_of, np.ndarray):
            raw = b"".join(_address(c, "care_of") for c in care_of)
            care_of = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 16)
        return self._table.update_batch(self._rows(keys), care_of, sequences, flags, expires_ns)

    # ---- size ----

    def memory_bytes(self) -> int:
        """Bytes held by the table (C: entry array, index, live bitmap)."""
        return self._table.memory()

    def entry_size(self) -> int:
        """Bytes per binding in the entry array: 60 for 16-byte keys, 76 for 32-byte keys."""
        return self._table.entry_size()

    def __repr__(self) -> str:
        return f"<BindingCache key_size={self.key_size} len={len(self)}>"
