"""BindingStore: the one interface the home agent writes through, and the semantics every backend shares.

The API is batch-oriented (group commit): the home agent ``stage()``s a record for every change it
makes while it handles a batch of signalling, then calls ``commit()`` once; ``commit()`` returns only
when every staged record is durable (for SQLiteBindingStore: in the database file or its write-ahead
log, synced to the disk as the ``synchronous`` setting says). The durability rule built on it:

    A Binding Acknowledgement with a status below 128 (accepted) leaves only after the commit()
    that holds its binding's record has returned.

A commit that fails raises StoreError and stores nothing of the batch: the staged records stay staged
(``pending``), so the next ``commit()`` tries them again, in order, with whatever is staged after
them; ``discard()`` drops them. Records of one batch are applied in the order staged, and only the last
one per home address (per key, in the state area) matters: Registered/Refreshed replace the whole
binding, Deregistered/Expired delete it.
"""
from __future__ import annotations

import abc
import json
from collections.abc import Iterable
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import CLOSED, StoreError
from .records import (
    RECORD_TYPES,
    BindingRecord,
    Deregistered,
    Expired,
    Record,
    Refreshed,
    Registered,
    StateDeleted,
    StatePut,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Batch", "BindingStore", "Recovered"]


class Recovered(NamedTuple):
    """What ``load()`` found: the unexpired bindings (by home address) and how many had expired (they
    were removed from the store)."""
    bindings: list[BindingRecord]
    expired: int


class Batch(NamedTuple):
    """A batch of staged records reduced to its effect: the last change per home address and per key.
    ``bindings`` maps a home address to its new record, or None to delete it; ``state`` maps a key to
    its new JSON text, or None to delete it."""
    bindings: dict[IPv6Address, BindingRecord | None]
    state: dict[str, str | None]

    @classmethod
    def of(cls, records: Iterable[Record]) -> Batch:
        bindings: dict[IPv6Address, BindingRecord | None] = {}
        state: dict[str, str | None] = {}
        for r in records:
            if isinstance(r, (Registered, Refreshed)):
                bindings[r.binding.home_address] = r.binding
            elif isinstance(r, (Deregistered, Expired)):
                bindings[r.home_address] = None
            elif isinstance(r, StatePut):
                state[r.key] = r.encoded
            elif isinstance(r, StateDeleted):
                state[r.key] = None
        return cls(bindings, state)


def _staged_key(record: Record) -> tuple[str, object]:
    """What a staged record changes: a home address's binding, or a state key."""
    if isinstance(record, (Registered, Refreshed)):
        return "binding", record.binding.home_address
    if isinstance(record, (Deregistered, Expired)):
        return "binding", record.home_address
    return "state", record.key


class BindingStore(abc.ABC):
    """The durable binding store (see the module docstring for the rules).

    Backends: SQLiteBindingStore(path) on disk, MemoryBindingStore() for the simulator and tests. A
    store is used from one thread; it is a context manager (``close()`` on exit)."""

    path: str

    def __init__(self) -> None:
        # The staged records, the last one per home address and per state key (``_staged_key``): what a
        # commit writes is only the last change of each (``Batch.of``), so while the store keeps failing
        # the staged batch stays as large as the set of changed home addresses and keys, however many
        # BUs come meanwhile (bounded by the binding cache), instead of growing with every record.
        self._staged: dict[tuple[str, object], Record] = {}
        self._closed = False
        self._broken: StoreError | None = None
        self.commits = 0                # successful commits that wrote something
        self.records_committed = 0      # records in those commits

    # ------------------------------------------------------------------ the write path

    def stage(self, record: Record) -> None:
        """Add one record to the batch the next ``commit()`` makes durable. Nothing is written yet.
        A record that is not one of the record types raises TypeError (records validate their own
        fields when built)."""
        if not isinstance(record, RECORD_TYPES):
            names = ", ".join(t.__name__ for t in RECORD_TYPES)
            raise TypeError(f"stage: expected a store record ({names}), got {type(record).__name__}")
        self._check_usable("stage")
        key = _staged_key(record)
        self._staged.pop(key, None)          # the newest change of a key goes last
        self._staged[key] = record

    def stage_all(self, records: Iterable[Record]) -> None:
        """``stage()`` each record, in order."""
        for r in records:
            self.stage(r)

    @property
    def pending(self) -> int:
        """Records staged and not yet committed: one per home address and per state key (a newer
        change of the same one replaces the staged record)."""
        return len(self._staged)

    def commit(self) -> int:
        """Make every staged record durable in one transaction; returns how many were committed (0, and
        no I/O, when nothing is staged). Raises StoreError if the batch could not be stored: then
        nothing of it was stored and it stays staged."""
        self._check_usable("commit")
        if not self._staged:
            return 0
        n = len(self._staged)
        self._write(Batch.of(self._staged.values()), n)     # raises StoreError: the batch stays staged
        self._staged = {}
        self.commits += 1
        self.records_committed += n
        return n

    def discard(self) -> int:
        """Drop the staged records without storing them; returns how many there were."""
        n = len(self._staged)
        self._staged = {}
        return n

    # ------------------------------------------------------------------ the read path

    def load(self, now_wall_ns: int) -> Recovered:
        """Recovery: the bindings not expired at ``now_wall_ns`` (sorted by home address), and the number
        that had expired, which are deleted from the store (in one committed transaction) before this
        returns. Convert each record's expiry with ``record.expires_monotonic_ns(now_monotonic_ns,
        now_wall_ns)``. Refused while records are staged (commit or discard them first)."""
        self._check_usable("load")
        if self._staged:
            raise ValueError(f"load: {len(self._staged)} records are staged; commit() or discard() them "
                             f"first")
        if isinstance(now_wall_ns, bool) or not isinstance(now_wall_ns, int):
            raise TypeError(f"now_wall_ns: expected an int, got {type(now_wall_ns).__name__}")
        expired = self._delete_expired(now_wall_ns)
        live = sorted(self._bindings(), key=lambda b: b.home_address)
        return Recovered(live, expired)

    def bindings(self) -> list[BindingRecord]:
        """Every committed binding, expired or not, sorted by home address (nothing staged)."""
        self._check_usable("read")
        return sorted(self._bindings(), key=lambda b: b.home_address)

    def state(self) -> dict[str, Any]:
        """The committed key-value area, decoded from JSON."""
        self._check_usable("read")
        return {k: json.loads(v) for k, v in sorted(self._state().items())}

    def get_state(self, key: str, default: Any = None) -> Any:
        """One committed key of the key-value area, decoded, or ``default``."""
        self._check_usable("read")
        text = self._state_value(key)
        return default if text is None else json.loads(text)

    # ------------------------------------------------------------------ life cycle

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the store. Staged records are dropped, not committed (commit first to keep them)."""
        if not self._closed:
            self._closed = True
            self._staged = {}
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_usable(self, operation: str) -> None:
        if self._closed:
            raise StoreError(self.path, CLOSED, operation, "the store was closed")
        if self._broken is not None:
            raise StoreError(self.path, self._broken.reason, operation,
                             f"refused after an earlier failure: {self._broken.detail}; reopen the store")

    # ------------------------------------------------------------------ backends

    @abc.abstractmethod
    def _write(self, batch: Batch, records: int) -> None:
        """Apply a batch atomically and durably, or raise StoreError having applied none of it."""

    @abc.abstractmethod
    def _delete_expired(self, now_wall_ns: int) -> int:
        """Delete (durably) the bindings with expires_wall_ns <= now_wall_ns; how many."""

    @abc.abstractmethod
    def _bindings(self) -> list[BindingRecord]:
        """Every committed binding."""

    @abc.abstractmethod
    def _state(self) -> dict[str, str]:
        """The committed key-value area as JSON texts."""

    @abc.abstractmethod
    def _state_value(self, key: str) -> str | None:
        """One key's JSON text, or None."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the backend's resources."""
