"""Active/standby home agents on one home link (issue 16, README "Redundancy"): the daemon's side.

A home agent daemon whose store is etcd (``[home_agent] store = "etcd"``) runs as one member of a
group. ``Redundancy`` drives it on the daemon's loop:

- **start**: campaign once (mip6fast.store.etcd_leader.Election). Won: *active* (below). Lost:
  *standby*: the runner's gate is closed (``NodeRunner.gate``: nothing is sent on any link, nothing
  received reaches the node), the interfaces are claimed and the node runs its timers (its own
  addresses pass DAD silently, so a takeover does not wait for DAD), and a campaign is tried every
  ``poll`` seconds (a tenth of the lease TTL, 50..500 ms).
- **warm standby** (``[etcd] warm_standby``, the default): a thread watches the group's prefix
  (store/etcd_watch.py: everything once, then every change in revision order) and queues what it
  sees; the loop, woken by the watch's pipe, applies it (``HomeAgent.mirror``): each binding the active
  committed goes into the cache as committed, each one it deleted goes; nothing is sent (no proxy ND,
  no timers: the gate is closed anyway) and the store refuses any commit (``read_only``). The binding
  cache, its timers and the counters are the loop thread's alone, which is why the thread only queues.
  At the takeover the loop applies the watch until the revision of its own new election key: the
  previous active's commits were all fenced on *its* key, which etcd deleted before ours could be
  created, so they are all older; from there ``HomeAgent.take_over(warm=True)`` only makes the
  mirrored bindings live (proxy ND with paced NAs, refresh and expiry timers) and reads the replay
  marks, instead of reading and decoding every binding. A watch that cannot catch up within the
  request timeout (etcd unreachable) falls back to the cold load (``redundancy.cold_fallbacks``).
- **active**: the store is fenced on the election key, the lease is renewed by a thread every TTL/3,
  the gate is ``Election.valid`` (the lease's local deadline, asked before every output), the
  outbound ESP sequence numbers are resumed from the block reserved in the store and a new block is
  reserved before any packet (``esp_reserve_key``), and ``HomeAgent.take_over`` puts the bindings back
  from the store and announces every own address with an unsolicited NA (Override). The bindings'
  unsolicited proxy NAs are paced (proxy_nd.PACED_NA_*).
- **lease lost** (the local deadline passed: etcd unreachable for a TTL, the process frozen): the gate
  is already closed; the daemon logs it and stops (exit status 1) so that its supervisor starts it
  again, as a standby.
- **switchover** (control command, ``mip6fast ha switchover``): the active resigns (gate closed,
  election key deleted, lease revoked: a standby wins at its next poll) and the daemon exits (status
  0) a moment later, once its answer is sent: its binding cache would be stale by the time it could
  win again, so its supervisor starts it afresh, as a standby (warm again once its watch has read
  the bindings).

Outbound ESP sequence numbers (the rule, docs/SECURITY.md): the active member sends a number only if a
mark above it is committed in the store (``esp.seq_reserve.0x<spi>``), and it commits a new mark one
block (``SEQUENCE_RESERVE``) ahead when half the block is used. Every commit is fenced, so the last
mark in the store is above every number any earlier active member could have sent; a member taking over
starts each SA at that mark. Numbers are skipped (at most one block per takeover), never reused.
Inbound replay windows resume above the replay marks the journal commits with the bindings.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, Callable

from .config import EtcdSettings
from .roles.home_agent import HomeAgent
from .security import Direction, SecurityPolicyDatabase
from .store import BindingRecord, StatePut, StoreError
from .store.etcd import EtcdBindingStore, _unb64, decode_binding
from .store.etcd_leader import Election, Keeper
from .store.etcd_watch import Events, PrefixWatch, Snapshot

if TYPE_CHECKING:
    from .io.runner import NodeRunner

__all__ = ["ACTIVE", "FENCED", "RESIGNED", "STANDBY", "Redundancy", "esp_reserve_key"]

log = logging.getLogger("mip6fast.redundancy")

ACTIVE = "active"
STANDBY = "standby"
FENCED = "fenced"           # lost its lease: silent, stopping
RESIGNED = "resigned"       # handed the role over (switchover): silent, exiting
EXIT_DELAY_NS = 300_000_000  # after a switchover, the answer goes out before the daemon stops
NS = 1_000_000_000


def esp_reserve_key(spi: int) -> str:
    """The store's state key of an outbound SA's reserved sequence-number mark."""
    return f"esp.seq_reserve.0x{spi:08x}"


class Redundancy:
    """One member of a group of home agents (see the module docstring)."""

    def __init__(self, settings: EtcdSettings, store: EtcdBindingStore, node: HomeAgent, runner: NodeRunner,
                 spd: SecurityPolicyDatabase | None, sequence_reserve: int, on_lost: Callable[[], None],
                 on_resigned: Callable[[], None]):
        member = settings.member or f"{socket.gethostname()}-{os.getpid()}"
        self.settings = settings
        self.store = store
        self.node = node
        self.runner = runner
        self.spd = spd
        self.sequence_reserve = sequence_reserve
        self.on_lost = on_lost
        self.on_resigned = on_resigned
        self._exit_at: int | None = None
        self.election = Election(settings.endpoints, settings.prefix, member, settings.lease_ttl,
                                 timeout_s=min(settings.timeout, max(0.1, settings.lease_ttl / 4)),
                                 source_address=settings.source_address)
        # A warm standby (module docstring): the watch of the group's prefix, and how far it has been
        # applied. ``applied_revision``: the revision up to which the cache mirrors etcd (the range's
        # at the start, then the newest event's).
        self.watch: PrefixWatch | None = None
        self.applied_revision = 0
        self.applied_at: float | None = None        # time.monotonic() of the last item applied
        self.watch_revision = 0                     # the newest watch response header's revision
        self._bkey = (settings.prefix + "binding/").encode()
        self.poll_ns = int(min(0.5, max(0.05, settings.lease_ttl / 10)) * NS)
        self.state = STANDBY
        self.keeper: Keeper | None = None
        self.takeovers = 0
        self.last_takeover_s: float | None = None     # campaign won -> take_over done
        self.last_takeover_warm: bool | None = None
        self._next_campaign: int | None = None
        self._marks: dict[str, int] = {}
        runner.gate = self.election.valid
        runner.add_timer(lambda: self._next_campaign if self.state == STANDBY else None, self._campaign)
        runner.add_timer(self._lease_deadline, self._lease_check)
        runner.add_timer(lambda: self._exit_at, lambda now: self.on_resigned())
        runner.add_timer(self._sequences_due, self._reserve_due)
        self._retry_reserve_at = 0

    @property
    def member(self) -> str:
        return self.election.member

    # ------------------------------------------------------------ becoming active

    def start(self) -> None:
        """The first campaign, at daemon start (before the runner brings the links up)."""
        now = self.runner.clock()
        try:
            won = self.election.campaign()
        except StoreError as exc:
            log.warning("%s: first campaign failed (%s); standby", self.member, exc)
            won = False
        if won:
            self._become_active()
        else:
            log.info("%s: standby (active: %s)", self.member, self._holder())
            self._next_campaign = now + self.poll_ns
            self.store.read_only = True         # a standby never writes (it would be fenced off anyway)
            if self.settings.warm_standby:
                self._start_watch()

    # ------------------------------------------------------------ a warm standby

    def _start_watch(self) -> None:
        """Keep the cache warm: follow the group's prefix (store/etcd_watch.py) in a thread that only
        reads etcd and queues what it saw; the loop applies it (``_watched``), never the thread: the
        binding cache and the node's state belong to the loop thread. The store refuses commits while
        we are standby (``read_only``): a standby never writes the bindings it mirrors."""
        self.watch = PrefixWatch(self.settings.endpoints, self.settings.prefix, timeout_s=self.settings.timeout,
                                 source_address=self.settings.source_address)
        self.runner.add_reader(self.watch.fileno(), self._watched)
        self.watch.start()

    def _stop_watch(self) -> None:
        if self.watch is not None:
            self.runner.unwatch(self.watch.fileno())
            self.watch.stop()
            self.watch = None

    def _watched(self) -> None:
        """On the loop: what the watch thread queued, applied in order."""
        if self.watch is None:
            return
        for item in self.watch.drain():
            if self.state == STANDBY:
                self._apply(item)

    def _record(self, kv: dict[str, Any]) -> BindingRecord | None:
        try:
            return decode_binding(self.store.path, _unb64(kv.get("value", "")))
        except StoreError as exc:
            log.warning("%s: watched binding not mirrored: %s", self.member, exc)
            return None

    def _apply(self, item: Snapshot | Events) -> None:
        bkey = self._bkey
        n = len(bkey)
        if isinstance(item, Snapshot):
            puts = [r for kv in item.kvs if _unb64(kv["key"]).startswith(bkey)
                    for r in [self._record(kv)] if r is not None]
            self.runner.call(lambda now: self.node.mirror(now, puts, (), snapshot=True))
            revision = item.revision
        else:
            # the last change of each home address in this response is what counts. The revision
            # applied is the newest event's, not the header's: a watch catching up (reopened from an
            # older revision) answers with etcd's current revision in the header while older events
            # are still to come, so the header says nothing about what has been delivered.
            last: dict[IPv6Address, BindingRecord | None] = {}
            revision = 0
            self.watch_revision = max(self.watch_revision, item.revision)
            for event in item.events:
                kv = event["kv"]
                revision = max(revision, int(kv.get("mod_revision", 0)))
                key = _unb64(kv["key"])
                if not key.startswith(bkey):
                    continue            # the election key, the state area: read at the takeover
                try:
                    home = IPv6Address(key[n:].decode())
                except ValueError:
                    continue
                last[home] = None if event.get("type") == "DELETE" else self._record(kv)
            if last:
                puts = [r for r in last.values() if r is not None]
                deletes = [h for h, r in last.items() if r is None]
                self.runner.call(lambda now: self.node.mirror(now, puts, deletes))
        self.applied_revision = max(self.applied_revision, revision)
        self.applied_at = time.monotonic()

    def _catch_up(self, revision: int) -> bool:
        """At the takeover, on the loop: apply what the watch has until the cache mirrors etcd at
        ``revision`` (our election key's creation: every commit of the member before us is older,
        since its commits were fenced on its own key, deleted before ours could be created). False
        when the watch did not get there within the request timeout (then everything is loaded)."""
        watch = self.watch
        if watch is None:
            return False
        for item in watch.drain():
            self._apply(item)
        deadline = time.monotonic() + self.settings.timeout
        while self.applied_revision < revision:
            item = watch.wait(deadline - time.monotonic())
            if item is None:
                return False
            self._apply(item)
        return True

    def _holder(self) -> str | None:
        try:
            return self.election.holder()
        except StoreError:
            return None

    def _campaign(self, now: int) -> None:
        self._next_campaign = now + self.poll_ns
        try:
            won = self.election.campaign()
        except StoreError as exc:
            log.debug("%s: campaign failed: %s", self.member, exc)
            return
        if won:
            self._become_active()

    def _become_active(self) -> None:
        started = self.runner.clock()
        warm = self._catch_up(self.election.create_revision)
        self._stop_watch()
        if not warm and self.node.registrar.mirrored:
            log.warning("%s: the watch did not catch up with revision %d within %.1f s (at %d): loading "
                        "every binding", self.member, self.election.create_revision, self.settings.timeout,
                        self.applied_revision)
            self.node.counters["redundancy.cold_fallbacks"] += 1
            self.node.registrar.forget_mirrored()
        self.store.read_only = False
        self.election.fence(self.store)
        try:
            self._resume_sequences()
        except StoreError as exc:
            log.error("%s: won the election but could not reserve ESP sequence numbers (%s): resigning",
                      self.member, exc)
            self._resign()
            return
        self.state = ACTIVE
        self._next_campaign = None
        self.keeper = self.election.keep_alive()
        self.runner.call(lambda now: self.node.take_over(now, warm=warm))
        self.takeovers += 1
        self.last_takeover_s = (self.runner.clock() - started) / NS
        self.last_takeover_warm = warm
        log.info("%s: ACTIVE (lease TTL %d s); bindings %s and addresses announced in %.3f s", self.member,
                 self.election.granted_ttl, "already mirrored (warm)" if warm else "loaded", self.last_takeover_s)

    # ------------------------------------------------------------ the lease

    def _lease_deadline(self) -> int | None:
        if self.state != ACTIVE:
            return None
        return int(self.election.deadline * NS)

    def _lease_check(self, now: int) -> None:
        if self.state == ACTIVE and not self.election.valid():
            self.state = FENCED
            log.error("%s: LEASE LOST (no keep-alive answered within the TTL): this home agent is silent "
                      "from now on and stops; another member takes over", self.member)
            self.on_lost()

    # ------------------------------------------------------------ ESP sequence numbers

    def _outbound(self) -> list[Any]:
        return [sa for sa in self.spd or () if sa.direction is Direction.OUTBOUND]

    def _resume_sequences(self) -> None:
        for sa in self._outbound():
            mark = self.store.get_state(esp_reserve_key(sa.spi))
            if isinstance(mark, int) and not isinstance(mark, bool) and mark > sa.sequence:
                sa.advance(mark)
        self._reserve_sequences()

    def _reserve_sequences(self) -> None:
        """Commit (fenced) a mark one block ahead of each outbound SA."""
        marks = {}
        for sa in self._outbound():
            marks[esp_reserve_key(sa.spi)] = min(sa.sequence + self.sequence_reserve,
                                                 sa.sequence + sa.sequence_remaining)
        if not marks:
            return
        for key, mark in marks.items():
            self.store.stage(StatePut(key, mark))
        self.store.commit()
        self._marks = marks

    def _reserve_due(self, now: int) -> None:
        try:
            self._reserve_sequences()
        except StoreError as exc:
            # the current block still has half its numbers; try again shortly (fenced: the lease check
            # stops us anyway)
            self._retry_reserve_at = now + self.poll_ns
            log.warning("%s: reserving ESP sequence numbers failed: %s", self.member, exc)

    def _sequences_due(self) -> int | None:
        if self.state != ACTIVE:
            return None
        if self._retry_reserve_at > self.runner.clock():
            return self._retry_reserve_at
        for sa in self._outbound():
            if sa.sequence + self.sequence_reserve // 2 > self._marks.get(esp_reserve_key(sa.spi), 0):
                return 0
        return None

    # ------------------------------------------------------------ switchover, shutdown, status

    def switchover(self) -> dict[str, Any]:
        """A planned handover: resign at once (a standby wins at its next poll), then exit."""
        if self.state != ACTIVE:
            return {"error": f"this member is {self.state}, not active: run the switchover on the active one "
                             f"({self._holder() or 'none'})"}
        self._resign()
        self.state = RESIGNED
        self._next_campaign = None
        self._exit_at = self.runner.clock() + EXIT_DELAY_NS
        log.info("%s: switchover: resigned; exiting (start it again to serve as a standby)", self.member)
        return {"resigned": self.member, "state": self.state}

    def _resign(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None
        self.store.clear_fence()
        self.store.read_only = True     # no longer active: no more commits (they would be fenced anyway)
        try:
            self.election.resign()
        except StoreError as exc:
            log.warning("%s: resign: %s (the lease expires by itself)", self.member, exc)
        self.state = STANDBY
        self._next_campaign = self.runner.clock() + self.poll_ns

    def status(self) -> dict[str, Any]:
        """What `mip6fast bindings`, `stats` and the metrics show: role, lease, the store's revision, and
        the replication lag. A standby: ``etcd_revision`` (the newest revision etcd answered with: its
        campaigns ask every poll) minus ``applied_revision`` (how far its cache mirrors etcd), and the
        seconds since it last applied something from the watch. With etcd serving this group only,
        the difference is the changes not yet mirrored; other writers on the same etcd make it an upper
        bound. The active: ``commit_rtt_s``, the round trip of its last commit (the time a BA waited)."""
        now = time.monotonic()
        etcd_revision = max(self.election.revision, self.store.revision, self.watch_revision)
        standby = self.state == STANDBY
        return {"member": self.member, "state": self.state,
                "lease_id": f"{self.election.lease_id:x}" if self.state == ACTIVE else None,
                "lease_ttl_s": self.election.granted_ttl or self.settings.lease_ttl,
                "lease_remaining_s": round(self.election.remaining(), 3),
                "keepalives": self.election.keepalives, "keepalive_failures": self.election.keepalive_failures,
                "takeovers": self.takeovers, "last_takeover_s": self.last_takeover_s,
                "last_takeover_warm": self.last_takeover_warm,
                "store_revision": self.store.revision,
                "etcd_revision": etcd_revision,
                "applied_revision": self.applied_revision if standby else None,
                "lag_revisions": max(0, etcd_revision - self.applied_revision) if standby else None,
                "since_applied_s": (round(now - self.applied_at, 3)
                                    if standby and self.applied_at is not None else None),
                "mirrored": self.node.registrar.mirrored if standby else None,
                "watch_reconnects": self.watch.reconnects if self.watch is not None else None,
                "commit_rtt_s": (round(self.store.last_commit_s, 6)
                                 if not standby and self.store.last_commit_s is not None else None),
                "since_commit_s": (round(now - self.store.last_commit_at, 3)
                                   if not standby and self.store.last_commit_at is not None else None)}

    def close(self) -> None:
        """Shutdown: an active member resigns (a standby takes over without waiting for the TTL)."""
        self._stop_watch()
        if self.state == ACTIVE:
            self._resign()
        elif self.keeper is not None:
            self.keeper.stop()
        self.election.close()
