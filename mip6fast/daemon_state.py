"""What a daemon keeps on disk so that neither a crash nor a second daemon can cost the machine its
settings: exclusive locks (its state directory, each interface it owns) and the record of the kernel
settings it changed.

- ``FileLock``: ``flock`` on a file holding the owner's pid, so a refusal can name the holder. The
  kernel drops the lock when the process dies (SIGKILL included), so a stale file is never a stale
  lock; a clean release removes the file.
- ``interface_lock``: one lock per interface, keyed by network namespace and interface index, never by
  name alone: /run is usually shared by every namespace on the machine, and daemons in different
  namespaces may each own an ``eth0``.
- ``KernelRecord``: ``kernel.json`` in the daemon's state directory, the original value of every
  setting changed (``disable_ipv6`` per interface), written atomically *before* the change. A daemon
  that finds a record on start (its predecessor was killed) takes the recorded originals over the
  current values, which are its predecessor's; a clean exit, after restoring, removes the record.
"""
from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from .errors import Mip6Error

__all__ = ["FileLock", "KernelRecord", "LockHeld", "StateError", "interface_lock", "netns_id",
           "prepare_state_dir"]

RECORD = "kernel.json"


class StateError(Mip6Error):
    """The state directory or a lock file cannot be used; the message says which and why."""


class LockHeld(StateError):
    """Another process holds the lock: ``pid`` (None when it has not written it yet)."""

    def __init__(self, path: str, pid: int | None, owner: str):
        self.path, self.pid, self.owner = path, pid, owner
        who = f"pid {pid}" if pid is not None else "a process that has not written its pid yet"
        super().__init__(f"held by {who} ({owner}; lock file {path})")


def netns_id() -> int:
    """This process's network namespace, as the inode of /proc/self/ns/net: the same for every process
    in the namespace while it exists, different for every other namespace."""
    return os.stat("/proc/self/ns/net").st_ino


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path``, which then holds ``"<pid> <what>"``."""

    def __init__(self, path: str | os.PathLike, what: str):
        self.path = str(path)
        self.what = what
        self.fd: int | None = None

    def acquire(self) -> FileLock:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise StateError(f"lock file {self.path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid, owner = _holder(fd)
                os.close(fd)
                raise LockHeld(self.path, pid, owner) from None
            except OSError as exc:
                os.close(fd)
                raise StateError(f"lock file {self.path}: {exc.strerror or exc}") from None
            # The holder before us may have removed the file between our open and our flock (a clean
            # release unlinks it): then we hold a lock on a file nobody else will ever open. Retry.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.what}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        """Remove the file while still holding the lock, then let go."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def _holder(fd: int) -> tuple[int | None, str]:
    try:
        text = os.pread(fd, 512, 0).decode(errors="replace").strip()
    except OSError:
        return None, ""
    pid, _, what = text.partition(" ")
    return (int(pid) if pid.isdigit() else None), what


def interface_lock(lock_dir: str | os.PathLike, netns: int, ifindex: int, name: str) -> FileLock:
    """The lock of interface ``ifindex`` (``name``) in network namespace ``netns``: not yet taken."""
    try:
        Path(lock_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"lock directory {lock_dir}: {exc.strerror or exc}") from None
    return FileLock(Path(lock_dir) / f"netns{netns}-if{ifindex}.lock", f"interface {name}")


class KernelRecord:
    """``kernel.json`` in ``state_dir``: ``{"netns": N, "interfaces": {name: {"ifindex": i,
    "disable_ipv6": "0"}}}``, the originals of what this daemon (or a killed predecessor) changed."""

    def __init__(self, state_dir: str | os.PathLike):
        self.dir = Path(state_dir)
        self.path = self.dir / RECORD
        self.netns = netns_id()
        self.interfaces: dict[str, dict] = {}
        self.leftover: dict[str, dict] = {}     # found on start, not yet taken over or restored

    def load(self) -> None:
        """Read what a predecessor left (it did not exit cleanly). Records from another network
        namespace are not ours to apply (same names, other interfaces) and are dropped."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"{self.path}: {exc.strerror or exc}") from None
        try:
            doc = json.loads(text)
            interfaces = doc["interfaces"] if doc.get("netns") == self.netns else {}
            self.leftover = {str(k): {"ifindex": int(v["ifindex"]), "disable_ipv6": v["disable_ipv6"]}
                             for k, v in interfaces.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"{self.path}: not a record this daemon wrote ({exc}); "
                             f"check the interfaces' settings by hand and remove it") from None

    def original(self, name: str, ifindex: int, current: str | None) -> str | None:
        """The value to restore for ``name``: a predecessor's record when it is about this very
        interface (same index), else ``current``."""
        old = self.leftover.pop(name, None)
        if old is not None and old["ifindex"] == ifindex:
            return old["disable_ipv6"]
        return current

    def add(self, name: str, ifindex: int, disable_ipv6: str | None) -> None:
        """Record, durably, before the kernel is changed."""
        self.interfaces[name] = {"ifindex": ifindex, "disable_ipv6": disable_ipv6}
        self.save()

    def forget(self, name: str) -> None:
        self.interfaces.pop(name, None)
        self.save()

    def save(self) -> None:
        """Atomically: a complete new file renamed over the old, or no file when nothing is left."""
        entries = {**self.leftover, **self.interfaces}
        try:
            if not entries:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_name(RECORD + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, json.dumps({"netns": self.netns, "pid": os.getpid(), "interfaces": entries},
                                        indent=1).encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise StateError(f"{self.path}: {exc.strerror or exc}") from None


def prepare_state_dir(state_dir: str | os.PathLike) -> Path:
    path = Path(state_dir)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(f"state directory {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise StateError(f"state directory {path}: not a directory")
    return path
