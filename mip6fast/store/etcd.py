"""EtcdBindingStore: the binding store replicated on an etcd cluster (issue 16, docs/DURABILITY.md).

etcd (https://etcd.io, the Debian package ``etcd-server``) keeps a key-value map on a Raft group of
members: a write is committed once a majority of the members has it in its log on disk, so a cluster
of three keeps every committed write through the loss of any one member. This backend talks to etcd's
v3 API through its HTTP gateway with ``etcd3gw`` (a maintained client with no gRPC stack to build).

Keys, under ``prefix`` (one prefix per group of home agents sharing bindings, ``/mip6fast/<group>/``):

- ``<prefix>schema``: the layout's version (``"1"``), written when the store is first opened;
- ``<prefix>binding/<home address, exploded>``: one binding, its value the JSON of the BindingRecord's
  fields (``home_address``, ``care_of_address``, ``sequence``, ``flags``, ``lifetime_s``,
  ``expires_wall_ns``, ``protection``: an SA identifier, never key material). Exploded addresses sort
  as the addresses do, so a range read comes back in home-address order;
- ``<prefix>state/<key>``: the key-value area (ESP replay marks ``esp.replay_mark.<spi>``, RFC 4285
  timestamps), its value the JSON text.

**A commit is one etcd transaction** (``/v3/kv/txn``): every put and delete of the batch in its success
branch, so ``commit()`` returns only after the cluster has committed the batch through Raft (a majority
has it on disk), and a Binding Acknowledgement released after it survives the loss of any minority of
members. etcd refuses a transaction of more than ``--max-txn-ops`` operations (128 unless the server is
started with another value): a batch larger than ``max_txn_ops`` is written as several transactions in
order. Each is atomic; if one fails, the earlier ones stay committed and the whole batch stays staged
(the next commit writes it again: every record replaces or deletes one key, so writing it twice is
harmless). What such a partial commit leaves is a binding stored whose BA was never sent, exactly what a
home agent killed between its commit and its BAs leaves with any backend: the mobile node retransmits.

**Fencing**: ``set_fence(key, create_revision)`` adds to every write transaction the comparison "``key``
exists with this create revision" (the election key of the active home agent, attached to its lease:
mip6fast.store.etcd_leader). Once the lease has lapsed etcd has deleted the key, the comparison fails
in the same transaction as the writes, nothing is written, and ``commit()`` raises StoreError
``fenced``: a home agent that lost its role can never acknowledge a binding again.

Failures: an endpoint that does not answer (connection refused, ``timeout_s`` passed, 503: no leader)
is left for the next one in ``endpoints``; when none answers, StoreError ``unavailable``. A request
retried on another endpoint may have been applied by the first: harmless, as above.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Sequence
from ipaddress import IPv6Address
from typing import Any
from urllib.parse import urlsplit

import etcd3gw
import requests
from etcd3gw import exceptions as etcd_exceptions
from requests.adapters import HTTPAdapter

from .base import Batch, BindingStore
from .errors import CANNOT_OPEN, CORRUPT, FENCED, IO_ERROR, READ_ONLY, SCHEMA, UNAVAILABLE, StoreError
from .records import BindingRecord

__all__ = ["DEFAULT_PREFIX", "ETCD_SCHEMA_VERSION", "EtcdBindingStore", "EtcdEndpoints", "SourceAddressAdapter",
           "decode_binding", "encode_binding"]

DEFAULT_PREFIX = "/mip6fast/default/"
ETCD_SCHEMA_VERSION = 1
DEFAULT_MAX_TXN_OPS = 128                 # etcd's default --max-txn-ops
MAX_TXN_BYTES = 1 << 20                   # below etcd's default --max-request-bytes (1.5 MiB)

_RETRYABLE = (etcd_exceptions.ConnectionFailedError, etcd_exceptions.ConnectionTimeoutError)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def encode_binding(b: BindingRecord) -> bytes:
    """A binding's value in etcd: the JSON of its fields (addresses as text)."""
    return json.dumps({"home_address": str(b.home_address), "care_of_address": str(b.care_of_address),
                       "sequence": b.sequence, "flags": b.flags, "lifetime_s": b.lifetime_s,
                       "expires_wall_ns": b.expires_wall_ns, "protection": b.protection},
                      sort_keys=True, separators=(",", ":")).encode()


def decode_binding(path: str, value: bytes) -> BindingRecord:
    """The BindingRecord of a stored value; StoreError ``corrupt`` if it is not one."""
    try:
        d = json.loads(value)
        return BindingRecord(d["home_address"], d["care_of_address"], d["sequence"], d["flags"],
                             d["lifetime_s"], d["expires_wall_ns"], d.get("protection"))
    except (ValueError, TypeError, KeyError) as exc:
        raise StoreError(path, CORRUPT, "read", f"not a binding record: {value[:80]!r}: {exc}") from None


class SourceAddressAdapter(HTTPAdapter):
    """Connections that leave from ``source_address`` (port chosen by the kernel): the control plane's
    traffic to etcd goes from the management address, whatever the routing table would pick (issue 16:
    "the control plane's connection to etcd is configured apart from the wire interfaces")."""

    def __init__(self, source_address: str, **kwargs: Any):
        self.source_address = source_address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source_address: str | None) -> requests.Session:
    """A requests session for etcd3gw; with ``source_address``, every connection is bound to it."""
    session = requests.Session()
    if source_address:
        adapter = SourceAddressAdapter(source_address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


class EtcdEndpoints:
    """Clients of the cluster's members, tried in turn: the one that answered last goes first.

    ``endpoints``: URLs (``http://127.0.0.1:2379``) or ``host:port``. ``timeout_s``: per request.
    ``source_address``: the local (management) address every connection leaves from (None: the
    kernel's choice)."""

    def __init__(self, endpoints: Sequence[str], timeout_s: float = 2.0, source_address: str | None = None):
        if isinstance(endpoints, str) or not endpoints:
            raise ValueError("endpoints: a non-empty list of URLs (http://host:port)")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.urls = [e if "://" in e else f"http://{e}" for e in endpoints]
        self.timeout_s = timeout_s
        self.source_address = source_address
        self.clients = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
                raise ValueError(f"endpoint {url!r}: expected http://host:port or https://host:port")
            # api_path given: no version discovery round trip (the v3 gateway path of etcd >= 3.4)
            self.clients.append(etcd3gw.Etcd3Client(host=parts.hostname, port=parts.port,
                                                    protocol=parts.scheme, timeout=timeout_s,
                                                    api_path="/v3/", session=session_from(source_address)))
        self.current = 0
        self.failovers = 0          # requests that had to go to another endpoint

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` to ``/v3/<path>`` on the first endpoint that answers. Raises the last
        endpoint's ConnectionFailedError/ConnectionTimeoutError when none does, and any other
        etcd3gw exception (an answer: another endpoint would give the same) at once."""
        last: Exception | None = None
        n = len(self.clients)
        for i in range(n):
            k = (self.current + i) % n
            client = self.clients[k]
            try:
                result = client.post(client.get_url(path), json=payload)
            except _RETRYABLE as exc:
                last = exc
                continue
            if k != self.current:
                self.current = k
                self.failovers += 1
            return result
        assert last is not None
        raise last

    def close(self) -> None:
        for c in self.clients:
            c.session.close()

    def __str__(self) -> str:
        return ",".join(self.urls)


def _etcd_error(path: str, operation: str, exc: Exception) -> StoreError:
    if isinstance(exc, _RETRYABLE):
        return StoreError(path, UNAVAILABLE, operation, f"no etcd endpoint answered: {exc}")
    text = str(getattr(exc, "detail_text", None) or exc)
    lowered = text.lower()
    if "timed out" in lowered or "no leader" in lowered or "unavailable" in lowered:
        return StoreError(path, UNAVAILABLE, operation, text)
    return StoreError(path, IO_ERROR, operation, f"etcd: {text}")


class EtcdBindingStore(BindingStore):
    """The binding store on an etcd cluster (see the module docstring).

    ``endpoints``: the cluster's client URLs (the management network, not the home link); ``prefix``:
    the group's key prefix (ends with "/"); ``timeout_s``: per request (an endpoint that takes longer is
    left for the next); ``max_txn_ops``: the server's ``--max-txn-ops``. Opening reads the schema key
    (a linearizable read: it needs a quorum) and writes it if the prefix is new: StoreError
    ``unavailable`` if no endpoint answers, ``schema`` if another layout version is there."""

    def __init__(self, endpoints: Sequence[str], prefix: str = DEFAULT_PREFIX, timeout_s: float = 2.0,
                 max_txn_ops: int = DEFAULT_MAX_TXN_OPS, source_address: str | None = None):
        super().__init__()
        if not isinstance(prefix, str) or not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError(f"prefix must start and end with '/', got {prefix!r}")
        if isinstance(max_txn_ops, bool) or not isinstance(max_txn_ops, int) or max_txn_ops < 2:
            raise ValueError(f"max_txn_ops must be an int >= 2, got {max_txn_ops!r}")
        self.endpoints = EtcdEndpoints(endpoints, timeout_s, source_address)
        self.prefix = prefix
        self.max_txn_ops = max_txn_ops
        self.path = f"etcd:{self.endpoints}{prefix}"
        self.synchronous = "raft"         # what `mip6fast bindings` shows next to SQLite's setting
        self._bkey = (prefix + "binding/").encode()
        self._skey = (prefix + "state/").encode()
        self._fence: dict[str, Any] | None = None
        self.revision = 0                 # etcd's revision after our last write or read
        self.last_commit_s: float | None = None   # the last commit's round trip (every transaction of it)
        self.last_commit_at: float | None = None  # when it returned (time.monotonic())
        self.read_only = False            # a standby member: commits refused (only the active writes)
        try:
            self._open()
        except BaseException:
            self.endpoints.close()
            raise

    # ------------------------------------------------------------------ opening

    def _open(self) -> None:
        key = (self.prefix + "schema").encode()
        want = str(ETCD_SCHEMA_VERSION).encode()
        txn = {"compare": [{"key": _b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": 0}],
               "success": [{"request_put": {"key": _b64(key), "value": _b64(want)}}],
               "failure": [{"request_range": {"key": _b64(key)}}]}
        result = self._post("open", "kv/txn", txn, CANNOT_OPEN)
        if result.get("succeeded"):
            return
        kvs = result["responses"][0]["response_range"].get("kvs", [])
        found = _unb64(kvs[0].get("value", "")) if kvs else b""
        if found != want:
            raise StoreError(self.path, SCHEMA, "open",
                             f"{self.prefix}schema is {found.decode(errors='replace')!r}; this mip6fast "
                             f"writes layout version {ETCD_SCHEMA_VERSION}")

    def _post(self, operation: str, path: str, payload: dict[str, Any], unavailable: str | None = None) -> Any:
        try:
            result = self.endpoints.post(path, payload)
        except etcd_exceptions.Etcd3Exception as exc:
            err = _etcd_error(self.path, operation, exc)
            if unavailable is not None and err.reason == UNAVAILABLE:
                err = StoreError(self.path, unavailable, operation, f"{err.reason}: {err.detail}")
            raise err from exc
        revision = result.get("header", {}).get("revision")
        if revision is not None:
            self.revision = max(self.revision, int(revision))
        return result

    # ------------------------------------------------------------------ fencing

    def set_fence(self, key: str | bytes, create_revision: int) -> None:
        """Every write from now on commits only while ``key`` exists with ``create_revision`` (the
        election key this member created, on its lease); else StoreError ``fenced``, nothing written."""
        k = key.encode() if isinstance(key, str) else key
        self._fence = {"key": _b64(k), "result": "EQUAL", "target": "CREATE",
                       "create_revision": str(int(create_revision))}

    def clear_fence(self) -> None:
        self._fence = None

    @property
    def fenced(self) -> bool:
        """Whether writes are guarded (``set_fence``)."""
        return self._fence is not None

    # ------------------------------------------------------------------ the backend

    def binding_key(self, home: IPv6Address) -> bytes:
        return self._bkey + home.exploded.encode()

    def state_key(self, key: str) -> bytes:
        return self._skey + key.encode()

    def _txn(self, operation: str, ops: list[dict[str, Any]], compares: list[dict[str, Any]]) -> bool:
        """One transaction: ``compares`` (plus the fence) then ``ops``. True if it was applied; False if a
        comparison of ``compares`` failed; StoreError ``fenced`` if the fence did."""
        fence = self._fence
        all_compares = compares + ([fence] if fence is not None else [])
        result = self._post(operation, "kv/txn", {"compare": all_compares, "success": ops})
        if result.get("succeeded"):
            return True
        if fence is None or (compares and not self._fence_lost()):
            return False
        raise StoreError(self.path, FENCED, operation,
                         "the election key guarding this member's writes is gone or was replaced: its "
                         "lease lapsed and another home agent may be active; nothing was written")

    def _fence_lost(self) -> bool:
        fence = self._fence
        assert fence is not None
        result = self._post("fence check", "kv/range", {"key": fence["key"]})
        kvs = result.get("kvs", [])
        return not kvs or str(kvs[0].get("create_revision")) != fence["create_revision"]

    def _chunks(self, ops: Iterable[tuple[int, dict[str, Any]]]) -> Iterable[list[dict[str, Any]]]:
        """Operations grouped into transactions of at most max_txn_ops - 1 (room for the fence) and
        MAX_TXN_BYTES."""
        limit = self.max_txn_ops - 1
        chunk: list[dict[str, Any]] = []
        size = 0
        for nbytes, op in ops:
            if chunk and (len(chunk) >= limit or size + nbytes > MAX_TXN_BYTES):
                yield chunk
                chunk, size = [], 0
            chunk.append(op)
            size += nbytes
        if chunk:
            yield chunk

    def _write(self, batch: Batch, records: int) -> None:
        if self.read_only:
            # a warm standby mirrors the active's bindings (mip6fast.redundancy): it must never write them
            raise StoreError(self.path, READ_ONLY, f"commit of {records} records",
                             "this member is a standby: only the active home agent writes")
        started = time.monotonic()

        def ops() -> Iterable[tuple[int, dict[str, Any]]]:
            for home, b in batch.bindings.items():
                k = _b64(self.binding_key(home))
                if b is None:
                    yield len(k), {"request_delete_range": {"key": k}}
                else:
                    v = _b64(encode_binding(b))
                    yield len(k) + len(v), {"request_put": {"key": k, "value": v}}
            for key, text in batch.state.items():
                k = _b64(self.state_key(key))
                if text is None:
                    yield len(k), {"request_delete_range": {"key": k}}
                else:
                    v = _b64(text.encode())
                    yield len(k) + len(v), {"request_put": {"key": k, "value": v}}

        for chunk in self._chunks(ops()):
            self._txn(f"commit of {records} records", chunk, [])
        self.last_commit_at = time.monotonic()
        self.last_commit_s = self.last_commit_at - started

    def _range(self, operation: str, prefix: bytes) -> list[dict[str, Any]]:
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        result = self._post(operation, "kv/range", {"key": _b64(prefix), "range_end": _b64(end),
                                                    "sort_order": 1, "sort_target": 0})   # ascending by key
        kvs: list[dict[str, Any]] = result.get("kvs", [])
        return kvs

    def _delete_expired(self, now_wall_ns: int) -> int:
        due: list[tuple[str, str]] = []             # (key, mod_revision) of the expired bindings read
        for kv in self._range("load", self._bkey):
            b = decode_binding(self.path, _unb64(kv.get("value", "")))
            if b.expired(now_wall_ns):
                due.append((kv["key"], str(kv["mod_revision"])))
        deleted = 0
        op = "load (removing expired bindings)"
        limit = self.max_txn_ops - 1
        for start in range(0, len(due), limit):
            chunk = due[start:start + limit]
            # a binding refreshed since we read it (by the active home agent) is not deleted
            if self._txn(op, [{"request_delete_range": {"key": k}} for k, _ in chunk],
                         [{"key": k, "result": "EQUAL", "target": "MOD", "mod_revision": r} for k, r in chunk]):
                deleted += len(chunk)
                continue
            for k, r in chunk:
                if self._txn(op, [{"request_delete_range": {"key": k}}],
                             [{"key": k, "result": "EQUAL", "target": "MOD", "mod_revision": r}]):
                    deleted += 1
        return deleted

    def _bindings(self) -> list[BindingRecord]:
        return [decode_binding(self.path, _unb64(kv.get("value", ""))) for kv in self._range("read", self._bkey)]

    def _state(self) -> dict[str, str]:
        n = len(self._skey)
        return {_unb64(kv["key"])[n:].decode(): _unb64(kv.get("value", "")).decode()
                for kv in self._range("read", self._skey)}

    def _state_value(self, key: str) -> str | None:
        result = self._post("read", "kv/range", {"key": _b64(self.state_key(key))})
        kvs = result.get("kvs", [])
        return _unb64(kvs[0].get("value", "")).decode() if kvs else None

    def _close(self) -> None:
        self.endpoints.close()

    def call(self, operation: str, path: str, payload: dict[str, Any]) -> Any:
        """A raw v3 request through this store's endpoints (failures as StoreError): for the election
        (mip6fast.store.etcd_leader), which shares the store's connections."""
        self._check_usable(operation)
        return self._post(operation, path, payload)

    def __repr__(self) -> str:
        closed = " closed" if self.closed else ""
        return f"<EtcdBindingStore {self.path}{closed}>"

