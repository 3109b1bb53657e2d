"""Election of the active home agent of a group on etcd: a lease, an election key, and the local deadline
that fences the member which loses it (issue 16, README "Redundancy").

    election = Election(endpoints, prefix, member="ha-1", ttl_s=2)
    if election.campaign():              # compare-and-swap create of <prefix>leader on our lease
        election.fence(store)            # every commit of the store now needs our key (StoreError fenced)
        keeper = election.keep_alive()   # a thread renews the lease every ttl/3
    ...
    if not election.valid():             # checked before sending anything: past the local deadline
        stop answering                   # the key may be gone and another member active

**The rule that makes split brain impossible.** ``valid()`` is true only before the *local deadline*:
the monotonic time at which the last successful grant or keep-alive request was *sent*, plus the TTL
etcd answered, minus ``margin_s``. etcd starts the lease's TTL when it *receives* that request (later),
extends every lease on a change of etcd leader, never shortens one, and deletes the election key only
once the lease has expired; another member can create the key (a transaction comparing its create
revision with 0) only after that. So the old active's deadline passes before the key can be someone
else's: an active home agent that checks ``valid()`` before it sends is silent before the next one can
speak, whatever the network does; the margin covers the two clocks' rate difference over one TTL
(quartz: parts per million, i.e. microseconds). Commits are fenced on top (``EtcdBindingStore.set_fence``):
even a home agent frozen between its check and its send cannot get a binding acknowledged after losing
the key, because its commit fails in etcd.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Callable

from etcd3gw import exceptions as etcd_exceptions

from .errors import UNAVAILABLE, StoreError
from .etcd import EtcdBindingStore, EtcdEndpoints, _b64, _etcd_error, _unb64

__all__ = ["DEFAULT_MARGIN_S", "Election", "Keeper"]

DEFAULT_MARGIN_S = 0.1
RETRY_S = 0.05              # after a failed keep-alive, the next one this soon
log = logging.getLogger("mip6fast.home_agent.election")


class Election:
    """One member's view of the group's election (see the module docstring). ``member``: this home
    agent's name (stored in the key: what ``holder()`` and `mip6fast bindings` show); ``ttl_s``: the
    lease's TTL in whole seconds (etcd may raise it to its minimum); ``clock``: monotonic seconds.
    Thread-safe: the keep-alive thread and the packet loop share it."""

    def __init__(self, endpoints: Sequence[str], prefix: str, member: str, ttl_s: int = 2,
                 timeout_s: float = 1.0, margin_s: float = DEFAULT_MARGIN_S,
                 clock: Callable[[], float] = time.monotonic, source_address: str | None = None):
        if not member or not member.isprintable():
            raise ValueError(f"member: a printable name, got {member!r}")
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
            raise ValueError(f"ttl_s: whole seconds >= 1, got {ttl_s!r}")
        self.endpoints = EtcdEndpoints(endpoints, timeout_s, source_address)
        self.prefix = prefix
        self.key = prefix + "leader"
        self.member = member
        self.ttl_s = ttl_s
        self.margin_s = margin_s
        self.clock = clock
        self.path = f"etcd:{self.endpoints}{self.key}"
        self._lock = threading.Lock()
        self.lease_id = 0
        self.granted_ttl = 0
        self.create_revision = 0
        self.deadline = 0.0           # monotonic seconds: valid() is false from here on
        self.leader = False
        self.keepalives = 0
        self.keepalive_failures = 0
        self.revision = 0             # etcd's revision in the last answer (a standby's campaigns keep it
                                      # fresh: what its replication lag is measured against)

    # ------------------------------------------------------------ requests

    def _post(self, operation: str, path: str, payload: dict[str, Any]) -> Any:
        try:
            result = self.endpoints.post(path, payload)
        except etcd_exceptions.Etcd3Exception as exc:
            raise _etcd_error(self.path, operation, exc) from exc
        revision = result.get("header", {}).get("revision") if isinstance(result, dict) else None
        if revision is not None:
            self.revision = max(self.revision, int(revision))
        return result

    # ------------------------------------------------------------ campaigning

    def campaign(self) -> bool:
        """Try once to become the active member: grant a lease, create the election key on it if it
        does not exist. True: we are active until ``valid()`` says otherwise. False: another member
        holds the key (``holder()``); the lease is revoked. StoreError if etcd cannot be reached."""
        sent = self.clock()
        grant = self._post("campaign (lease grant)", "lease/grant", {"TTL": self.ttl_s, "ID": 0})
        lease_id, ttl = int(grant["ID"]), int(grant["TTL"])
        k = _b64(self.key.encode())
        value = json.dumps({"member": self.member, "since_wall_ns": time.time_ns()}).encode()
        txn = {"compare": [{"key": k, "result": "EQUAL", "target": "CREATE", "create_revision": 0}],
               "success": [{"request_put": {"key": k, "value": _b64(value), "lease": lease_id}}],
               "failure": []}
        try:
            result = self._post("campaign", "kv/txn", txn)
        except StoreError:
            self._revoke(lease_id)
            raise
        if not result.get("succeeded"):
            self._revoke(lease_id)
            return False
        with self._lock:
            self.lease_id = lease_id
            self.granted_ttl = ttl
            self.create_revision = int(result["header"]["revision"])
            self.deadline = sent + ttl - self.margin_s
            self.leader = True
        log.info("%s: active (lease %x, TTL %d s, election key revision %d)", self.member, lease_id, ttl,
                 self.create_revision)
        return True

    def fence(self, store: EtcdBindingStore) -> None:
        """Guard every commit of ``store`` with our election key (StoreError ``fenced`` once it is gone)."""
        store.set_fence(self.key, self.create_revision)

    def keepalive(self) -> bool:
        """Renew the lease once; moves the local deadline on. False once the lease is gone (expired or
        revoked: we are no longer active). A request that fails (no endpoint answering) leaves the
        deadline where it was and returns ``valid()``."""
        with self._lock:
            if not self.leader:
                return False
            lease_id = self.lease_id
        sent = self.clock()
        try:
            result = self._post("keep-alive", "lease/keepalive", {"ID": lease_id})
        except StoreError as exc:
            self.keepalive_failures += 1
            if exc.reason != UNAVAILABLE:
                log.warning("%s: lease keep-alive failed: %s", self.member, exc)
            return self.valid()
        ttl = int(result.get("result", {}).get("TTL", 0))
        with self._lock:
            if ttl <= 0:
                self.leader = False
                self.deadline = 0.0
                log.error("%s: lease %x is gone: no longer active", self.member, lease_id)
                return False
            self.deadline = max(self.deadline, sent + ttl - self.margin_s)
            self.keepalives += 1
        return True

    def valid(self, now: float | None = None) -> bool:
        """Whether this member may act as the active home agent now (before its local deadline)."""
        if not self.leader:
            return False
        return (self.clock() if now is None else now) < self.deadline

    def remaining(self, now: float | None = None) -> float:
        """Seconds left before the local deadline (0 when not active)."""
        if not self.leader:
            return 0.0
        return max(0.0, self.deadline - (self.clock() if now is None else now))

    def resign(self) -> None:
        """Give the role up at once (a planned switchover, a clean shutdown): stop being valid, delete
        our election key (only if it is still ours) and revoke the lease, so a standby takes over
        without waiting for the TTL."""
        with self._lock:
            was, lease_id, revision = self.leader, self.lease_id, self.create_revision
            self.leader = False
            self.deadline = 0.0
        if not was:
            return
        k = _b64(self.key.encode())
        try:
            self._post("resign", "kv/txn", {
                "compare": [{"key": k, "result": "EQUAL", "target": "CREATE", "create_revision": revision}],
                "success": [{"request_delete_range": {"key": k}}], "failure": []})
        finally:
            self._revoke(lease_id)
        log.info("%s: resigned", self.member)

    def _revoke(self, lease_id: int) -> None:
        try:
            self._post("lease revoke", "lease/revoke", {"ID": lease_id})
        except StoreError:
            pass            # it expires by itself

    def holder(self) -> str | None:
        """The member named in the election key now, or None (nobody active)."""
        result = self._post("read election key", "kv/range", {"key": _b64(self.key.encode())})
        kvs = result.get("kvs", [])
        if not kvs:
            return None
        try:
            member = json.loads(_unb64(kvs[0].get("value", "")))["member"]
            return str(member)
        except (ValueError, KeyError, TypeError):
            return "?"

    def keep_alive(self, interval_s: float | None = None) -> Keeper:
        """Start a thread renewing the lease every ``interval_s`` (default TTL / 3) while active."""
        keeper = Keeper(self, interval_s if interval_s is not None else max(0.1, self.granted_ttl / 3))
        keeper.start()
        return keeper

    def close(self) -> None:
        self.endpoints.close()


class Keeper(threading.Thread):
    """The keep-alive thread of an active member: a keep-alive every ``interval_s`` until the lease is
    gone or ``stop()``. The packet loop never waits for etcd: it reads ``Election.valid()``."""

    def __init__(self, election: Election, interval_s: float):
        super().__init__(name=f"etcd-lease-{election.member}", daemon=True)
        self.election = election
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        wait = self.interval_s
        while not self._stop_event.wait(wait):
            failures = self.election.keepalive_failures
            if not self.election.keepalive() and not self.election.leader:
                return
            # a keep-alive that failed (etcd electing a leader, an endpoint down) is retried at once
            # rather than an interval later: the deadline is near
            wait = RETRY_S if self.election.keepalive_failures > failures else self.interval_s

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(5)
