"""MemoryBindingStore: the binding store's semantics without a disk, for the simulator and tests."""
from __future__ import annotations

from ipaddress import IPv6Address

from .base import Batch, BindingStore
from .records import BindingRecord

__all__ = ["MemoryBindingStore"]


class MemoryBindingStore(BindingStore):
    """Committed data lives in dicts; a commit applies a batch all at once and cannot fail.

    ``crash()`` models the process being killed and started again: it returns a new store holding what
    was committed, and this one is closed with its staged records lost, as they would be."""

    path = "<memory>"

    def __init__(self) -> None:
        super().__init__()
        self._committed: dict[IPv6Address, BindingRecord] = {}
        self._kv: dict[str, str] = {}

    def crash(self) -> MemoryBindingStore:
        """A restarted store over the committed data (this one is closed; staged records are lost)."""
        self._check_usable("crash")
        other = MemoryBindingStore()
        other._committed = self._committed
        other._kv = self._kv
        self._closed = True
        self._staged = {}
        return other

    def _write(self, batch: Batch, records: int) -> None:
        for home, binding in batch.bindings.items():
            if binding is None:
                self._committed.pop(home, None)
            else:
                self._committed[home] = binding
        for key, text in batch.state.items():
            if text is None:
                self._kv.pop(key, None)
            else:
                self._kv[key] = text

    def _delete_expired(self, now_wall_ns: int) -> int:
        due = [home for home, b in self._committed.items() if b.expires_wall_ns <= now_wall_ns]
        for home in due:
            del self._committed[home]
        return len(due)

    def _bindings(self) -> list[BindingRecord]:
        return list(self._committed.values())

    def _state(self) -> dict[str, str]:
        return dict(self._kv)

    def _state_value(self, key: str) -> str | None:
        return self._kv.get(key)

    def _close(self) -> None:
        pass
