"""Active/standby home agents on one home link (issue 16, README "Redundancy"): the daemon's side.

A home agent daemon whose store is etcd (``[home_agent] store = "etcd"``) runs as one member of a
group. ``Redundancy`` drives it on the daemon's loop:

- **start**: campaign once (mip6fast.store.etcd_leader.Election). Won: *active* (below). Lost:
  *standby*: the runner's gate is closed (``NodeRunner.gate``: nothing is sent on any link, nothing
  received reaches the node), the interfaces are claimed and the node runs its timers (its own
  addresses pass DAD silently, so a takeover does not wait for DAD), and a campaign is tried every
  ``poll`` seconds (a tenth of the lease TTL, 50..500 ms).
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
  win again, so its supervisor starts it afresh, as a standby that loads everything at its takeover.

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
from typing import TYPE_CHECKING, Any, Callable

from .config import EtcdSettings
from .roles.home_agent import HomeAgent
from .security import Direction, SecurityPolicyDatabase
from .store import StatePut, StoreError
from .store.etcd import EtcdBindingStore
from .store.etcd_leader import Election, Keeper

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
                                 timeout_s=min(settings.timeout, max(0.1, settings.lease_ttl / 4)))
        self.poll_ns = int(min(0.5, max(0.05, settings.lease_ttl / 10)) * NS)
        self.state = STANDBY
        self.keeper: Keeper | None = None
        self.takeovers = 0
        self.last_takeover_s: float | None = None     # campaign won -> take_over done
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
        self.runner.call(self.node.take_over)
        self.takeovers += 1
        self.last_takeover_s = (self.runner.clock() - started) / NS
        log.info("%s: ACTIVE (lease TTL %d s); bindings recovered and addresses announced in %.3f s",
                 self.member, self.election.granted_ttl, self.last_takeover_s)

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
        try:
            self.election.resign()
        except StoreError as exc:
            log.warning("%s: resign: %s (the lease expires by itself)", self.member, exc)
        self.state = STANDBY
        self._next_campaign = self.runner.clock() + self.poll_ns

    def status(self) -> dict[str, Any]:
        """What `mip6fast bindings` and `stats` show: role, lease, the store's revision."""
        return {"member": self.member, "state": self.state,
                "lease_id": f"{self.election.lease_id:x}" if self.state == ACTIVE else None,
                "lease_ttl_s": self.election.granted_ttl or self.settings.lease_ttl,
                "lease_remaining_s": round(self.election.remaining(), 3),
                "keepalives": self.election.keepalives, "keepalive_failures": self.election.keepalive_failures,
                "takeovers": self.takeovers, "last_takeover_s": self.last_takeover_s,
                "store_revision": self.store.revision}

    def close(self) -> None:
        """Shutdown: an active member resigns (a standby takes over without waiting for the TTL)."""
        if self.state == ACTIVE:
            self._resign()
        elif self.keeper is not None:
            self.keeper.stop()
        self.election.close()
