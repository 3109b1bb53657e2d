"""Write-through of the binding cache to a durable binding store (issue 13, docs/DURABILITY.md).

Theory of operation
-------------------
A ``HomeAgent`` constructed with a ``store`` (a ``mip6fast.store.BindingStore``) has a ``Journal``. The
registrar tells it every change it makes: ``registered`` (a first registration or a refresh accepted,
the record holding the home and care-of addresses, the accepted sequence number, the BU's A, H, L, K
flags, the granted lifetime and the absolute expiry), ``deregistered``, ``expired``; the journal stages
a store record for each.

The durability rule: a Binding Acknowledgement with a status below 128 leaves only after the commit
holding its binding. The registrar ``hold``s such a BA (a closure that sends it) instead of sending
it; at the end of the entry point (``receive_batch``, ``receive``, ``tick``, ...) the agent calls
``flush``, which commits once (group commit: a burst of BUs costs one commit) and then releases the
held BAs into the same ``Output``. A commit that fails (``StoreError``) is logged (once per reason, at
ERROR), counted (``store.commit_failed``, ``store.ba_withheld``) and notified (``StoreFailed``); the
held BAs are dropped: no acknowledgement for a binding that was not stored. The mobile node retransmits
with a newer sequence number and is acknowledged after a commit that works (the store keeps the failed
batch staged and writes it with the next one).

The roles read no clock: the store keeps wall-clock expiries, so the driver sets ``wall_offset_ns``
(wall clock minus the monotonic clock the node is driven with; the runner refreshes it every loop).

Recovery (``recover``, an entry point of the agent, called by the driver before the first packet):
``store.load(wall now)`` gives the unexpired bindings (the expired ones are removed and counted:
``store.recovery_expired``); a record whose home address is on no current home prefix, or is one of
our own addresses, is dropped (``store.recovery_outside_prefixes``, an ``Expired`` record staged), as
is one whose home prefix has no valid lifetime left (``store.recovery_no_time_left``); one the binding
cache has no room for is counted (``store.recovery_nomem``) and left in the store; the remaining
lifetime is capped by the current ``max_lifetime`` and the home prefix's remaining lifetime;
each binding goes back in the cache with its sequence number (the next BU is a refresh, no 135), with
its expiry timer, its refresh timer, and proxy ND, whose unsolicited NAs are paced
(``ProxyND.start(..., paced=True)``) so that tens of thousands of bindings do not flood the home link.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from ...binding_cache import FLAG_ACK, FLAG_HOME, FLAG_LINK_LOCAL
from ...store import (
    CANNOT_OPEN,
    CLOSED,
    CORRUPT,
    DISK_FULL,
    FENCED,
    FLAG_KEY_MANAGEMENT,
    IO_ERROR,
    LOCKED,
    READ_ONLY,
    SCHEMA,
    UNAVAILABLE,
    BindingRecord,
    BindingStore,
    Deregistered,
    Expired,
    Refreshed,
    Registered,
    StatePut,
    StoreError,
)
from ...security import Direction
from ..events import NS_PER_S, NodeServices, Notification
from ..protection import SignallingProtection

__all__ = ["DROPPED_NOMEM", "DROPPED_NO_TIME_LEFT", "DROPPED_OUTSIDE_PREFIXES", "STORE_FAILURES",
           "BindingsRecovered", "Journal", "StoreFailed", "replay_mark_key", "timestamp_mark_key"]

# Why a recovered record was not put back (counted as ``store.recovery_<why>``): its home address is on
# no current home prefix (or is one of ours), its home prefix has no valid lifetime left (both: removed
# from the store), the binding cache is full (kept in the store for a later start with more room).
DROPPED_OUTSIDE_PREFIXES = "outside_prefixes"
DROPPED_NO_TIME_LEFT = "no_time_left"
DROPPED_NOMEM = "nomem"

# StoreError.reason -> the last part of its counter, ``store.commit_failed.<reason>`` (counter names are
# lowercase words joined by underscores).
STORE_FAILURES = {DISK_FULL: "disk_full", READ_ONLY: "read_only", LOCKED: "locked", CORRUPT: "corrupt",
                  IO_ERROR: "io_error", SCHEMA: "schema", CANNOT_OPEN: "cannot_open", CLOSED: "closed",
                  UNAVAILABLE: "unavailable", FENCED: "fenced"}

log = logging.getLogger("mip6fast.home_agent.store")


def replay_mark_key(spi: int) -> str:
    """The store's state key of an inbound SA's replay high-water mark. By SPI: new keys come with new
    SPIs (docs/SECURITY.md), so a mark never outlives the key it was counted under."""
    return f"esp.replay_mark.0x{spi:08x}"


def timestamp_mark_key(home: IPv6Address) -> str:
    """The store's state key of the last RFC 4285 timestamp accepted for ``home`` (§6)."""
    return f"rfc4285.last_timestamp.{home}"


@dataclass(frozen=True)
class StoreFailed(Notification):
    """A commit failed: ``withheld`` accepted BAs were not sent. ``reason``: StoreError.reason."""
    reason: str
    message: str
    withheld: int


@dataclass(frozen=True)
class BindingsRecovered(Notification):
    """Recovery at start: bindings put back, expired ones removed, others dropped (outside the home
    prefixes, no valid prefix lifetime left, no room in the binding cache: ``store.recovery_*``)."""
    recovered: int
    expired: int
    dropped: int


class Journal:
    """The binding store seen from the home agent (see the module docstring)."""

    def __init__(self, store: BindingStore, node: NodeServices, wall_offset_ns: int = 0,
                 protection: SignallingProtection | None = None):
        self.store = store
        self.node = node
        self.wall_offset_ns = wall_offset_ns
        self.protection = protection
        self._replay_marks: dict[str, int] = {}    # state key -> the replay high-water mark last staged
        self.recovered = False
        self._held: list[Callable[[], None]] = []
        self._now = 0
        self._logged: set[str] = set()          # failure reasons already logged at ERROR

    # ------------------------------------------------------------ the write path

    def registered(self, now: int, home: IPv6Address, care_of: IPv6Address, sequence: int, flags: int,
                   lifetime: int, expires_ns: int, created: bool, protection: str | None = None) -> None:
        """An accepted registration (created) or refresh; ``flags``: the BU's A, H, L, K bits;
        ``protection``: what it was made under (an SA's identifier, never a key)."""
        record = BindingRecord.from_monotonic(home, care_of, sequence, flags, max(1, lifetime), expires_ns,
                                              now, now + self.wall_offset_ns, protection)
        self.store.stage(Registered(record) if created else Refreshed(record))
        self._now = now

    def deregistered(self, now: int, home: IPv6Address) -> None:
        self.store.stage(Deregistered(home))
        self._now = now

    def expired(self, now: int, home: IPv6Address) -> None:
        self.store.stage(Expired(home))
        self._now = now

    def hold(self, now: int, send: Callable[[], None]) -> None:
        """An accepted BA: ``send()`` runs once its binding is committed (``flush``)."""
        self._held.append(send)
        self._now = now

    @property
    def held(self) -> int:
        return len(self._held)

    def flush(self) -> bool:
        """The end of an entry point: commit what was staged, then release the held BAs (or drop them if
        the commit failed). Returns whether the store is up to date."""
        held, self._held = self._held, []
        if not held and not self.store.pending:
            return True
        try:
            self.store.commit()
        except StoreError as exc:
            counters = self.node.counters
            counters["store.commit_failed"] += 1
            counters[f"store.commit_failed.{STORE_FAILURES.get(exc.reason, 'other')}"] += 1
            counters["store.ba_withheld"] += len(held)
            if exc.reason not in self._logged:
                self._logged.add(exc.reason)
                log.error("%s; %d binding acknowledgement(s) withheld (the mobile nodes retransmit)", exc,
                          len(held))
            else:
                log.debug("%s; %d binding acknowledgement(s) withheld", exc, len(held))
            self.node.notify(StoreFailed(self._now, exc.reason, str(exc), len(held)))
            return False
        self.node.counters["store.commits"] += 1
        for send in held:
            send()
        return True

    def replay_mark(self, key: str, value: int) -> None:
        """A replay high-water mark that moved with an authenticated BU (``replay_mark_key``: an inbound
        SA's sequence number; ``timestamp_mark_key``: an RFC 4285 timestamp), staged to be committed
        with the bindings, before any BA: after a restart the same captured BU is a replay (RFC 4303
        §3.4.3, RFC 4285 §6) instead of meeting an empty window."""
        if self._replay_marks.get(key) != value:
            self.store.stage(StatePut(key, value))
            self._replay_marks[key] = value

    # ------------------------------------------------------------ recovery

    def _resume_replay_windows(self) -> int:
        """Each inbound SA's window resumes above the mark stored for its SPI, each RFC 4285 home
        address's last accepted timestamp is put back; returns how many were."""
        resumed = 0
        protection = self.protection
        if protection is None:
            return resumed
        for sa in protection.spd or ():
            if sa.direction is not Direction.INBOUND:
                continue
            mark = self._stored_mark(replay_mark_key(sa.spi))
            if mark is not None:
                try:
                    sa.advance(mark)
                except ValueError:
                    log.error("binding store %s: replay mark %r of SA 0x%08x does not fit it: ignored",
                              self.store.path, mark, sa.spi)
                    continue
                self._replay_marks[replay_mark_key(sa.spi)] = sa.sequence
                resumed += 1
        auth = protection.auth4285
        if auth is not None:
            for home in auth.credentials.home_addresses():
                key = timestamp_mark_key(home)
                mark = self._stored_mark(key)
                if mark is not None and mark < 1 << 64:
                    auth.last_accepted[home] = mark
                    self._replay_marks[key] = mark
                    resumed += 1
        return resumed

    def _stored_mark(self, key: str) -> int | None:
        mark = self.store.get_state(key)
        return mark if isinstance(mark, int) and not isinstance(mark, bool) and mark > 0 else None

    def resume(self, now: int) -> None:
        """A warm standby's takeover (its bindings already mirrored): only the replay windows resume from
        the marks (as ``recover`` does); from now on changes are written through."""
        self.node.counters["store.replay_windows_resumed"] += self._resume_replay_windows()
        self.recovered = True
        self._now = now

    def recover(self, now: int, restore: Callable[[int, BindingRecord], str | None]) -> BindingsRecovered:
        """Load the store and hand each unexpired record to ``restore(now, record)`` (None: put back,
        else why not, ``DROPPED_*``); commits the removals once."""
        wall = now + self.wall_offset_ns
        bindings, expired = self.store.load(wall)
        self.node.counters["store.replay_windows_resumed"] += self._resume_replay_windows()
        restored = dropped = 0
        counters = self.node.counters
        for record in bindings:
            why = restore(now, record)
            if why is None:
                restored += 1
                continue
            dropped += 1
            counters[f"store.recovery_{why}"] += 1
            if why != DROPPED_NOMEM:
                self.store.stage(Expired(record.home_address))
        counters["store.recovered"] += restored
        counters["store.recovery_expired"] += expired
        self.recovered = True
        self._now = now
        if self.store.pending:
            self.store.commit()         # a failure here is a startup error (the driver reports it)
        result = BindingsRecovered(now, restored, expired, dropped)
        self.node.notify(result)
        log.info("binding store %s: %d binding(s) recovered, %d expired, %d dropped (see store.recovery_*)",
                 self.store.path, restored, expired, dropped)
        return result

    @staticmethod
    def bu_flags(ack: bool, link_local: bool, key_management: bool) -> int:
        """A home registration's flags as stored (the wire's bits)."""
        return (FLAG_HOME | (FLAG_ACK if ack else 0) | (FLAG_LINK_LOCAL if link_local else 0)
                | (FLAG_KEY_MANAGEMENT if key_management else 0))


def remaining_ns(record: BindingRecord, now: int, wall_offset_ns: int, cap_s: int) -> int:
    """Nanoseconds a recovered binding has left, capped at ``cap_s`` seconds."""
    return min(record.expires_monotonic_ns(now, now + wall_offset_ns) - now, cap_s * NS_PER_S)
