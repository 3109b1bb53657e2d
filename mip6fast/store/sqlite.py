"""SQLiteBindingStore: the binding store in one SQLite database (stdlib sqlite3), and describe_store.

Files, for a store at PATH: PATH (the database), PATH-wal and PATH-shm (SQLite's write-ahead log and its
index, present while the store is open or after a crash; never delete them by hand), PATH.lock (the
writer's lock: an flock held for as long as the store is open, with the holder's pid inside).

- **WAL mode**, one transaction per commit(). ``synchronous="FULL"`` (the default) syncs the log at
  every commit: a commit that returned survives a process crash and a power loss. ``"NORMAL"`` syncs
  only at checkpoints: a commit that returned survives a process crash (it is in the operating
  system's cache) but the last transactions before a power loss or kernel crash can be lost (the
  database stays consistent: it comes back as of an earlier commit). See docs/DURABILITY.md.
- **One writer**: opening takes an exclusive flock on PATH.lock without waiting; another process (or
  another store object in this one) holding it is a StoreError naming the lock file and its pid. The
  lock is a separate file rather than SQLite's ``locking_mode=EXCLUSIVE`` so that readers
  (describe_store, ``mip6fast bindings --store``) can read a consistent snapshot while the home agent
  runs. ``busy_timeout`` covers SQLite-level locks taken by something that ignores the flock (the
  sqlite3 shell): past it, commit() raises StoreError "locked".
- **Versioned schema**: PRAGMA application_id marks the file as a binding store, PRAGMA user_version
  holds the schema version. ``Schema.migrations[v]`` takes a database from version v to v + 1; a new
  database is built by running them all from 0, an older one is brought up to date, both in one
  transaction with the version bump (a failing migration leaves the file as it was). A database of a
  newer version, or not a binding store, is refused, naming both versions.
- **Recovery check**: mip6fast.store.walcheck: a log truncated or damaged after its transactions were
  acknowledged is refused as corrupt (and left untouched) unless ``accept_wal_loss=True``.
"""
from __future__ import annotations

import datetime
import fcntl
import os
import sqlite3
import time
import urllib.parse
from typing import Any, Callable, NamedTuple

from . import walcheck
from .base import Batch, BindingStore
from .errors import (
    CANNOT_OPEN,
    CORRUPT,
    LOCKED,
    SCHEMA,
    StoreError,
    from_os,
    from_sqlite,
    sqlite_reason,
)
from .records import NS_PER_S, BindingRecord, flag_letters

__all__ = [
    "APPLICATION_ID",
    "CURRENT_SCHEMA",
    "SCHEMA_VERSION",
    "SYNCHRONOUS",
    "SQLiteBindingStore",
    "Schema",
    "describe_store",
    "sql_migration",
]

# PRAGMA application_id of a binding store: "M6BS".
APPLICATION_ID = 0x4D364253

Migration = Callable[[sqlite3.Connection], None]


def sql_migration(*statements: str) -> Migration:
    """A migration that runs SQL statements in order (inside the migration's transaction)."""
    def run(conn: sqlite3.Connection) -> None:
        for s in statements:
            conn.execute(s)
    run.__doc__ = "\n".join(statements)
    return run


class Schema(NamedTuple):
    """``migrations[v]`` takes the database from schema version v to v + 1; ``version`` is the number
    of migrations. Version 0 is an empty database."""
    migrations: tuple[Migration, ...]

    @property
    def version(self) -> int:
        return len(self.migrations)


# Schema version 1. Addresses are their 16 bytes (formatting an IPv6Address as text costs several
# microseconds, more than SQLite's insert: describe_store and `mip6fast bindings --store` show them as
# text; in the sqlite3 shell, hex()); times are integers (ns since the epoch); protection is an
# identifier, NULL when none was recorded. No index on the expiry: only recovery reads by it, and
# every commit would pay for it.
_V1 = sql_migration(
    """CREATE TABLE binding (
    home_address BLOB PRIMARY KEY NOT NULL
        CHECK (typeof(home_address) = 'blob' AND length(home_address) = 16),
    care_of_address BLOB NOT NULL
        CHECK (typeof(care_of_address) = 'blob' AND length(care_of_address) = 16),
    sequence INTEGER NOT NULL CHECK (sequence BETWEEN 0 AND 65535),
    flags INTEGER NOT NULL CHECK (flags BETWEEN 0 AND 65535),
    lifetime_s INTEGER NOT NULL CHECK (lifetime_s BETWEEN 1 AND 262140),
    expires_wall_ns INTEGER NOT NULL,
    protection TEXT
) WITHOUT ROWID""",
    """CREATE TABLE state (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID""",
)

CURRENT_SCHEMA = Schema((_V1,))
SCHEMA_VERSION = CURRENT_SCHEMA.version

# WITHOUT ROWID needs 3.8.2, reading a WAL database on a read-only filesystem 3.22.0 (2018).
MIN_SQLITE = (3, 22, 0)

SYNCHRONOUS = ("FULL", "NORMAL")
_SYNC_CODES = {"FULL": 2, "NORMAL": 1}
JOURNAL_SIZE_LIMIT = 8 << 20      # the log file is cut back to this after a checkpoint

_COLUMNS = "home_address, care_of_address, sequence, flags, lifetime_s, expires_wall_ns, protection"
_UPSERT = f"INSERT OR REPLACE INTO binding ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _require_sqlite(path: str, operation: str) -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(path, CANNOT_OPEN, operation,
                         f"SQLite {sqlite3.sqlite_version} is too old: the binding store needs "
                         f"{'.'.join(map(str, MIN_SQLITE))} or later")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass         # SQLite rolled back already (an I/O error can do that)


def _record(path: str, row: tuple) -> BindingRecord:
    try:
        return BindingRecord(*row)
    except (TypeError, ValueError) as exc:
        raise StoreError(path, CORRUPT, "read", f"binding row {row!r:.200} is not valid: {exc}") from None


class SQLiteBindingStore(BindingStore):
    """The binding store in the SQLite database at ``path`` (created if missing, readable by its owner
    only; its directory must exist). See the module docstring.

    synchronous: "FULL" (default) or "NORMAL". busy_timeout: seconds to wait for a SQLite lock held
    by another connection. check: run PRAGMA quick_check on open (a damaged file is refused at start
    rather than found by a commit later). accept_wal_loss: open even if the write-ahead log lost
    acknowledged transactions (the operator's decision, after the error said so); with
    synchronous="NORMAL" such a loss is accepted anyway, since NORMAL's bargain is that a power loss
    may take the last commits (the index can reach the disk before the log it indexes). Either way
    ``wal_loss`` then says what was lost, for the log. schema: the schema to open with (tests give a
    synthetic newer one to exercise migrations)."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "FULL", busy_timeout: float = 5.0,
                 check: bool = True, accept_wal_loss: bool = False, schema: Schema = CURRENT_SCHEMA):
        super().__init__()
        sync = str(synchronous).upper()
        if sync not in SYNCHRONOUS:
            raise ValueError(f"synchronous: one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}")
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout: seconds >= 0, got {busy_timeout!r}")
        self.path = os.path.abspath(os.fspath(path))
        _require_sqlite(self.path, "open")
        self.synchronous = sync
        self.schema = schema
        self.lock_path = self.path + ".lock"
        self.migrated_from: int | None = None    # the version found, when a migration ran
        self.wal_loss: str | None = None         # acknowledged transactions found lost, and accepted
        self._conn: sqlite3.Connection | None = None
        self._lock_fd = -1
        self._lock_fd = self._lock()
        try:
            self._conn = self._open(busy_timeout, check, accept_wal_loss)
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------ opening

    def _lock(self) -> int:
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise StoreError(self.path, CANNOT_OPEN, "open", f"the directory {directory} does not exist")
        if os.path.isdir(self.path):
            raise StoreError(self.path, CANNOT_OPEN, "open", "it is a directory")
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise from_os(self.path, f"open (lock file {self.lock_path})", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = text = ""
            try:
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                holder = f" (pid {text})" if text.isdigit() else ""
            except OSError:
                pass
            os.close(fd)
            if isinstance(exc, BlockingIOError):
                who = (f"this process (pid {text}) has it open already" if text == str(os.getpid())
                       else f"another process{holder} holds the lock {self.lock_path}")
                raise StoreError(self.path, LOCKED, "open", f"{who}: one home agent per store") from None
            raise from_os(self.path, f"open (lock file {self.lock_path})", exc) from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass        # the pid is for messages only; the lock holds without it (disk full)
        return fd

    def _release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)      # releases the flock
            self._lock_fd = -1

    def _open(self, busy_timeout: float, check: bool, accept_wal_loss: bool) -> sqlite3.Connection:
        path = self.path
        if not os.path.exists(path):
            try:     # SQLite gives -wal and -shm the database's mode: owner only
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
            except OSError as exc:
                raise from_os(path, "open (create)", exc) from exc
        elif not os.path.isfile(path):
            raise StoreError(path, CANNOT_OPEN, "open", "not a regular file")
        lost = walcheck.check(path)      # before SQLite's recovery rebuilds the evidence
        if lost is not None:
            if not accept_wal_loss and self.synchronous == "FULL":
                raise StoreError(path, CORRUPT, "open",
                                 f"{lost} ({path}-wal, index {path}-shm). Nothing was changed: to go on "
                                 f"with what survives, open it with accept_wal_loss=True; to start empty, "
                                 f"move the store's files aside")
            self.wal_loss = lost
        step = "open"
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=True)
        except sqlite3.Error as exc:
            raise from_sqlite(path, step, exc) from exc
        try:
            step = "open (reading the schema)"
            self._identify(conn)             # before anything is changed: refuse what is not ours
            step = "open (journal_mode=WAL)"
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(path, CANNOT_OPEN, "open",
                                 f"SQLite would not use WAL mode here (got {mode!r}): the filesystem may "
                                 f"lack shared memory support (a network filesystem?)")
            step = "open (settings)"
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            conn.execute("PRAGMA cell_size_check=ON")
            if conn.execute("PRAGMA synchronous").fetchone()[0] != _SYNC_CODES[self.synchronous]:
                raise StoreError(path, CANNOT_OPEN, "open",
                                 f"SQLite did not take synchronous={self.synchronous}")
            step = "open (schema)"
            self._migrate(conn)
            if check:
                step = "open (quick_check)"
                problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
                if problems != ["ok"]:
                    raise StoreError(path, CORRUPT, "open", "PRAGMA quick_check: " + "; ".join(problems))
            return conn
        except sqlite3.Error as exc:
            conn.close()
            raise from_sqlite(path, step, exc) from exc
        except BaseException:
            conn.close()
            raise

    def _identify(self, conn: sqlite3.Connection) -> int:
        """The schema version of the database, 0 for an empty one; StoreError if it is not a binding
        store or is of a newer version."""
        path, target = self.path, self.schema.version
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        if app == 0 and version == 0 and not tables:
            return 0
        if app != APPLICATION_ID or version == 0:
            raise StoreError(path, SCHEMA, "open",
                             f"not a mip6fast binding store (application_id {app:#x}, user_version "
                             f"{version}, tables: {', '.join(tables) or 'none'})")
        if version > target:
            raise StoreError(path, SCHEMA, "open",
                             f"written by binding store schema version {version}; this mip6fast reads "
                             f"versions 1 to {target}: run a newer mip6fast (or open a copy made for this "
                             f"one)")
        return int(version)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        path, target = self.path, self.schema.version
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._identify(conn)           # again, under the write lock
            if version == 0:
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")        # a new store
            for v in range(version, target):
                try:
                    self.schema.migrations[v](conn)
                except sqlite3.Error as exc:
                    raise StoreError(path, SCHEMA, "open",
                                     f"migration from schema version {v} to {v + 1} failed: {exc}; the "
                                     f"store is unchanged at version {version}") from exc
            if version != target:
                conn.execute(f"PRAGMA user_version={target}")
            conn.execute("COMMIT")
            if 0 < version < target:
                self.migrated_from = version
        except BaseException:
            _rollback(conn)
            raise

    # ------------------------------------------------------------------ the backend

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _transaction(self, operation: str, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run work in one write transaction; any failure rolls it back and raises StoreError."""
        conn = self._db()
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = work(conn)
            conn.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            _rollback(conn)
            err = from_sqlite(self.path, operation, exc)
            if err.reason == CORRUPT:
                self._broken = err
            raise err from exc
        except BaseException:        # KeyboardInterrupt in the middle: no transaction left open
            _rollback(conn)
            raise

    def _write(self, batch: Batch, records: int) -> None:
        upserts = []
        deletes = []
        for home, b in batch.bindings.items():
            if b is None:
                deletes.append((home.packed,))
            else:
                upserts.append((home.packed, b.care_of_address.packed, b.sequence, b.flags, b.lifetime_s,
                                b.expires_wall_ns, b.protection))
        puts = [(k, v) for k, v in batch.state.items() if v is not None]
        removes = [(k,) for k, v in batch.state.items() if v is None]

        def work(conn: sqlite3.Connection) -> None:
            if deletes:
                conn.executemany("DELETE FROM binding WHERE home_address = ?", deletes)
            if upserts:
                conn.executemany(_UPSERT, upserts)
            if removes:
                conn.executemany("DELETE FROM state WHERE key = ?", removes)
            if puts:
                conn.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", puts)

        self._transaction(f"commit of {records} records", work)

    def _delete_expired(self, now_wall_ns: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM binding WHERE expires_wall_ns <= ?", (now_wall_ns,)).rowcount

        return int(self._transaction("load (removing expired bindings)", work))

    def _read(self, operation: str, sql: str, args: tuple = ()) -> list:
        try:
            return self._db().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise from_sqlite(self.path, operation, exc) from exc

    def _bindings(self) -> list[BindingRecord]:
        return [_record(self.path, row) for row in self._read("read", f"SELECT {_COLUMNS} FROM binding")]

    def _state(self) -> dict[str, str]:
        return dict(self._read("read", "SELECT key, value FROM state"))

    def _state_value(self, key: str) -> str | None:
        rows = self._read("read", "SELECT value FROM state WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def _close(self) -> None:
        self._release()

    def __repr__(self) -> str:
        closed = " closed" if self.closed else ""
        return f"<SQLiteBindingStore {self.path} synchronous={self.synchronous}{closed}>"


# ---------------------------------------------------------------------- reading without the writer


def _connect(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``); on a read-only filesystem where SQLite cannot make the
    -shm file and there is no log, ``immutable=1`` (nothing can be writing there)."""
    base = "file:" + urllib.parse.quote(path) + "?mode=ro"
    try:
        return _connect(base)
    except sqlite3.Error as exc:
        if sqlite_reason(exc) != CANNOT_OPEN or os.path.exists(path + "-wal"):
            raise
    return _connect(base + "&immutable=1")


def describe_store(path: str | os.PathLike[str], now_wall_ns: int | None = None) -> list[dict[str, Any]]:
    """The bindings in the store at ``path``, read-only and without the writer's lock (the home agent
    may be running: the read is a consistent snapshot as of its last commit). One dict per binding,
    sorted by home address: home_address, care_of_address (str), sequence, flags (int), flag_letters
    ("AHL"), lifetime_s, expires_wall_ns, expires (ISO 8601, UTC), remaining_s (at ``now_wall_ns``,
    default now; capped at the lifetime, negative once expired), expired (bool: load() would remove
    it), protection.

    Raises StoreError: no such file, not a binding store, another schema version, corrupt (including a
    write-ahead log that lost acknowledged transactions). Opening read-only may leave empty -wal and
    -shm files next to a store that had none (SQLite's; harmless)."""
    path = os.path.abspath(os.fspath(path))
    now = time.time_ns() if now_wall_ns is None else now_wall_ns
    _require_sqlite(path, "describe")
    if not os.path.isfile(path):
        raise StoreError(path, CANNOT_OPEN, "describe", "no such store file")
    lost = walcheck.check(path)
    for _ in range(3):
        if lost is None:
            break
        time.sleep(0.02)         # a live home agent may have been writing the log as we read it
        lost = walcheck.check(path)
    if lost is not None:
        raise StoreError(path, CORRUPT, "describe", lost)
    try:
        conn = _connect_read_only(path)
    except sqlite3.Error as exc:
        raise from_sqlite(path, "describe (open read-only)", exc) from exc
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID:
            raise StoreError(path, SCHEMA, "describe",
                             f"not a mip6fast binding store (application_id {app:#x})")
        if version != SCHEMA_VERSION:
            hint = " (opening it as a store migrates it)" if version < SCHEMA_VERSION else ""
            raise StoreError(path, SCHEMA, "describe",
                             f"written by binding store schema version {version}; this mip6fast reads "
                             f"version {SCHEMA_VERSION} here{hint}")
        rows = conn.execute(f"SELECT {_COLUMNS} FROM binding").fetchall()
    except sqlite3.Error as exc:
        raise from_sqlite(path, "describe", exc) from exc
    finally:
        conn.close()
    out = []
    for b in sorted((_record(path, r) for r in rows), key=lambda b: b.home_address):
        expires = datetime.datetime.fromtimestamp(b.expires_wall_ns // NS_PER_S, datetime.timezone.utc)
        out.append({
            "home_address": str(b.home_address),
            "care_of_address": str(b.care_of_address),
            "sequence": b.sequence,
            "flags": b.flags,
            "flag_letters": flag_letters(b.flags),
            "lifetime_s": b.lifetime_s,
            "expires_wall_ns": b.expires_wall_ns,
            "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "remaining_s": b.remaining_ns(now) / NS_PER_S,
            "expired": b.expired(now),
            "protection": b.protection,
        })
    return out
