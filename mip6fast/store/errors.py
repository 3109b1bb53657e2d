"""StoreError: the one exception a binding store raises for a failure of its storage."""
from __future__ import annotations

import errno
import sqlite3

from ..errors import Mip6Error

__all__ = [
    "CANNOT_OPEN",
    "CLOSED",
    "CORRUPT",
    "DISK_FULL",
    "IO_ERROR",
    "LOCKED",
    "READ_ONLY",
    "SCHEMA",
    "FENCED",
    "StoreError",
    "UNAVAILABLE",
]

# StoreError.reason values: what failed, in the words an operator reads first.
DISK_FULL = "disk full"
READ_ONLY = "read-only"          # read-only filesystem or no write permission
LOCKED = "locked"                # another process holds the store
CORRUPT = "corrupt"              # the database or its write-ahead log is damaged
IO_ERROR = "I/O error"           # the disk refused a read, write or sync
SCHEMA = "schema"                # written by an unknown or newer schema version, or not a binding store
CANNOT_OPEN = "cannot open"      # no such file or directory, not a regular file, ...
CLOSED = "closed"                # the store was closed (or a crash was simulated)
UNAVAILABLE = "unavailable"      # a replicated store (etcd) could not reach a quorum in time
FENCED = "fenced"                # a replicated store's guard failed: this member no longer holds the role


class StoreError(Mip6Error):
    """A binding store could not do what was asked; nothing the call was about was stored.

    ``path`` is the database (``"<memory>"`` for MemoryBindingStore), ``reason`` one of the module's
    constants (DISK_FULL, READ_ONLY, LOCKED, CORRUPT, IO_ERROR, SCHEMA, CANNOT_OPEN, CLOSED,
    UNAVAILABLE, FENCED),
    ``operation`` what was being done (``"open"``, ``"commit of 12 records"``, ``"load"``) and
    ``detail`` the underlying cause (SQLite's or the OS's message)."""

    def __init__(self, path: str, reason: str, operation: str, detail: str):
        self.path = path
        self.reason = reason
        self.operation = operation
        self.detail = detail
        super().__init__(f"binding store {path}: {reason}: {operation}: {detail}")

    def __reduce__(self):
        return (StoreError, (self.path, self.reason, self.operation, self.detail))


# SQLite primary result codes (https://www.sqlite.org/rescode.html) and what each means here.
_SQLITE_REASONS = {
    3: READ_ONLY,      # SQLITE_PERM
    5: LOCKED,         # SQLITE_BUSY
    6: LOCKED,         # SQLITE_LOCKED
    8: READ_ONLY,      # SQLITE_READONLY
    10: IO_ERROR,      # SQLITE_IOERR
    11: CORRUPT,       # SQLITE_CORRUPT
    13: DISK_FULL,     # SQLITE_FULL
    14: CANNOT_OPEN,   # SQLITE_CANTOPEN
    23: READ_ONLY,     # SQLITE_AUTH
    26: CORRUPT,       # SQLITE_NOTADB
}

# Python < 3.11 gives no result code: the messages of sqlite3_errstr() for the same codes.
_SQLITE_MESSAGES = (
    ("database or disk is full", DISK_FULL),
    ("readonly database", READ_ONLY),
    ("database is locked", LOCKED),
    ("database table is locked", LOCKED),
    ("file is not a database", CORRUPT),
    ("malformed", CORRUPT),
    ("disk i/o error", IO_ERROR),
    ("unable to open database file", CANNOT_OPEN),
)

_ERRNO_REASONS = {
    errno.ENOSPC: DISK_FULL,
    errno.EDQUOT: DISK_FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: READ_ONLY,
    errno.EPERM: READ_ONLY,
    errno.EWOULDBLOCK: LOCKED,
    errno.ENOENT: CANNOT_OPEN,
    errno.ENOTDIR: CANNOT_OPEN,
    errno.EISDIR: CANNOT_OPEN,
    errno.EIO: IO_ERROR,
}


def sqlite_reason(exc: sqlite3.Error) -> str:
    code: int | None = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return _SQLITE_REASONS.get(code & 0xFF, IO_ERROR)
    text = str(exc).lower()
    for fragment, reason in _SQLITE_MESSAGES:
        if fragment in text:
            return reason
    return IO_ERROR


def sqlite_detail(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name else str(exc)


def os_reason(exc: OSError) -> str:
    return _ERRNO_REASONS.get(exc.errno or 0, IO_ERROR)


def from_sqlite(path: str, operation: str, exc: sqlite3.Error) -> StoreError:
    return StoreError(path, sqlite_reason(exc), operation, sqlite_detail(exc))


def from_os(path: str, operation: str, exc: OSError) -> StoreError:
    where = f" ({exc.filename})" if exc.filename and exc.filename != path else ""
    return StoreError(path, os_reason(exc), operation, f"{exc.strerror or exc}{where}")
