"""PrefixWatch: a thread following every change under a group's etcd prefix, for a warm standby home
agent (issue 16, README "Redundancy", mip6fast.redundancy).

Why etcd's watch (a streaming ``POST /v3/watch`` through the HTTP gateway the store already uses) and not
a periodic range with ``min_mod_revision``: a range only returns keys that still exist, so a binding
deleted by the active (de-registered, expired) would never be seen to go; the watch delivers deletions
too, in revision order, with no polling delay and no cost while nothing changes. The gateway answers a
watch with one JSON object per line, for as long as the connection lasts.

How it runs: ``start()`` first reads the whole prefix (one range: its kvs and the revision R it was read
at) and hands it over as a ``Snapshot``; then it watches from R + 1. Each watch response with events is
handed over as ``Events`` (in revision order). The thread never touches the home agent: it puts each
item on a queue and writes a byte to a pipe whose read end the daemon's loop polls (``fileno()``), and
the loop takes the items (``drain()`` / ``wait()``) and applies them. When the stream breaks (an endpoint
gone, the read timeout on an idle stream, etcd restarting) the watch is opened again from the last
revision handed over plus one, on the next endpoint: no event is lost or repeated. When etcd has
compacted that revision away (the answer says ``compact_revision``), a new ``Snapshot`` replaces
everything.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from .etcd import EtcdEndpoints, _b64

__all__ = ["Events", "PrefixWatch", "Snapshot"]

log = logging.getLogger("mip6fast.home_agent.watch")

READ_TIMEOUT_S = 5.0        # an idle stream is opened again after this long (detects a dead endpoint)
RETRY_S = 0.2               # after a failure, the next attempt this soon


class Snapshot(NamedTuple):
    """Everything under the prefix at ``revision`` (the kvs as etcd's JSON gives them: base64)."""
    revision: int
    kvs: list[dict[str, Any]]


class Events(NamedTuple):
    """One watch response: ``events`` (etcd's JSON: ``type`` absent for PUT, "DELETE"; ``kv``) in
    revision order; ``revision``: the header's revision (etcd's revision when it was sent)."""
    revision: int
    events: list[dict[str, Any]]


class PrefixWatch(threading.Thread):
    """Follow ``prefix`` on the cluster of ``endpoints`` (see the module docstring). ``source_address``:
    the management address the connections leave from ([etcd] source_address)."""

    def __init__(self, endpoints: Sequence[str], prefix: str, timeout_s: float = 2.0,
                 source_address: str | None = None, read_timeout_s: float = READ_TIMEOUT_S):
        super().__init__(name=f"etcd-watch-{prefix}", daemon=True)
        self.endpoints = EtcdEndpoints(endpoints, timeout_s, source_address=source_address)
        self.prefix = prefix.encode()
        self.read_timeout_s = read_timeout_s
        self._queue: queue.SimpleQueue[Snapshot | Events] = queue.SimpleQueue()
        self._rfd, self._wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.revision = 0            # the last revision handed over (thread's side)
        self.reconnects = 0
        self.snapshots = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------ the loop's side

    def fileno(self) -> int:
        """Readable when items wait (the daemon's loop polls it)."""
        return self._rfd

    def drain(self) -> list[Snapshot | Events]:
        """Every item waiting now, in order (never blocks)."""
        try:
            while os.read(self._rfd, 4096):
                pass
        except OSError:
            pass                        # empty (EAGAIN), or closed: the queue is what counts
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def wait(self, timeout_s: float) -> Snapshot | Events | None:
        """The next item, waiting up to ``timeout_s`` (a takeover catching up); None if none came."""
        try:
            return self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Stop following, without waiting: the takeover that calls this holds a lease not renewed yet.
        The thread is not joined and its stream not closed from here (closing a response another thread
        is reading blocks on the reader's buffer lock until that read returns: seconds on an idle
        stream); it sees the flag at its next wake-up (an event, or the read timeout) and exits,
        handing nothing more over, and closes the pipe itself, so that its descriptors are never reused
        under it. The caller must not poll ``fileno()`` any more."""
        self._stop_event.set()
        if self.ident is None:          # never started: nobody else will close them
            self._close()

    def _close(self) -> None:
        with self._lock:
            if self._rfd < 0:
                return
            for fd in (self._rfd, self._wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._rfd = self._wfd = -1
        self.endpoints.close()

    # ------------------------------------------------------------ the thread

    def _hand_over(self, item: Snapshot | Events) -> None:
        if self._stop_event.is_set():
            return
        self._queue.put(item)
        try:
            os.write(self._wfd, b"w")
        except OSError:
            pass                        # the pipe is full: the loop wakes anyway

    def _range_end(self) -> bytes:
        return self.prefix[:-1] + bytes([self.prefix[-1] + 1])

    def _snapshot(self) -> None:
        result = self.endpoints.post("kv/range", {"key": _b64(self.prefix), "range_end": _b64(self._range_end())})
        revision = int(result["header"]["revision"])
        self.revision = revision
        self.snapshots += 1
        self._hand_over(Snapshot(revision, result.get("kvs", [])))

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._close()

    def _run(self) -> None:
        need_snapshot = True
        while not self._stop_event.is_set():
            try:
                if need_snapshot:
                    self._snapshot()
                    need_snapshot = False
                need_snapshot = self._watch()
            except Exception as exc:    # any failure: retry from the last revision
                if self._stop_event.is_set():
                    return
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.debug("etcd watch of %s: %s; again from revision %d", self.prefix.decode(), exc,
                          self.revision + 1)
                self.reconnects += 1
                self._stop_event.wait(RETRY_S)

    def _watch(self) -> bool:
        """One watch stream from ``revision + 1`` until it ends; True if a snapshot is needed (the
        revision was compacted away)."""
        n = len(self.endpoints.clients)
        k = self.endpoints.current
        self.endpoints.current = (k + 1) % n if self.reconnects else k   # a broken stream: try the next one
        client = self.endpoints.clients[self.endpoints.current]
        body = {"create_request": {"key": _b64(self.prefix), "range_end": _b64(self._range_end()),
                                   "start_revision": str(self.revision + 1)}}
        response = client.session.post(client.get_url("watch"), json=body, stream=True,
                                       timeout=(self.endpoints.timeout_s, self.read_timeout_s))
        try:
            response.raise_for_status()
            for line in response.iter_lines():
                if self._stop_event.is_set():
                    return False
                if not line:
                    continue
                message = json.loads(line)
                if "error" in message:
                    raise RuntimeError(f"watch: {message['error']}")
                result = message.get("result", {})
                if int(result.get("compact_revision", 0) or 0) > self.revision:
                    log.info("etcd watch of %s: revision %d compacted away (now %s): reading everything again",
                             self.prefix.decode(), self.revision + 1, result.get("compact_revision"))
                    return True
                if result.get("canceled"):
                    raise RuntimeError(f"watch canceled: {result.get('cancel_reason', '')}")
                events = result.get("events") or []
                if events:
                    self.revision = max(self.revision, max(int(e["kv"]["mod_revision"]) for e in events))
                    self._hand_over(Events(int(result["header"]["revision"]), events))
        finally:
            response.close()
        return False
