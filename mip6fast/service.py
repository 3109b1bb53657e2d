"""What a service manager sees of a daemon: the systemd notification protocol and the logs.

``Notifier`` speaks sd_notify(3) itself: one datagram of ``KEY=VALUE`` lines to the unix socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). No libsystemd or Python binding is
needed for a protocol that small; without ``$NOTIFY_SOCKET`` (not under systemd, or ``Type=simple``)
every call does nothing. The daemon sends ``READY=1`` when its control socket listens and the node's
addresses are out of duplicate address detection (``Daemon._check_ready``),
``RELOADING=1``/``READY=1`` around a SIGHUP reload, ``STOPPING=1`` at shutdown, and ``WATCHDOG=1``
from its event loop at half the interval of ``$WATCHDOG_USEC`` (``Notifier.watchdog_interval_ns``): a
loop that is stuck stops pinging and systemd restarts the daemon.

``configure_logging`` puts a handler on the ``mip6fast`` logger (the package's own records, at the
configured level) and leaves every other logger (pyroute2's netlink dumps among them) at WARNING;
``log_format`` "json" writes one JSON object per line (``time``, ``level``, ``logger``, ``message`` and
the record's extra fields), for journald or a log shipper.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from importlib import resources

__all__ = ["JsonFormatter", "Notifier", "UNIT_ROLES", "configure_logging", "unit_text"]

# The attributes every LogRecord has: anything else on a record came from ``extra=`` and goes into the
# JSON line as a field of its own.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
UNIT_ROLES = ("ha", "mn", "cn", "router")


class Notifier:
    """sd_notify(3) without libsystemd: ``notify("READY=1", "STATUS=...")`` sends one datagram."""

    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        if address is not None and address.startswith("@"):
            address = "\0" + address[1:]             # the abstract namespace (unix(7))
        elif address is not None and not address.startswith("/"):
            address = None                           # vsock and other forms are not ours to speak
        self.address = address
        self.sent: list[str] = []                    # what was sent (stats, tests)
        self.errors = 0
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_usec = int(usec) if usec and usec.isdigit() and int(usec) > 0 and \
            (not pid or pid == str(os.getpid())) else None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    @property
    def watchdog_interval_ns(self) -> int | None:
        """How often to send WATCHDOG=1: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None or not self.enabled else self.watchdog_usec * 500

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; never raises (a service manager gone is not our failure)."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(lines)
        try:
            self._sock.sendto(message.encode(), self.address)
        except OSError:
            self.errors += 1
            return False
        self.sent.append(message)
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class Watchdog:
    """A timer of the runner's loop that sends ``WATCHDOG=1`` every ``interval_ns``: since it runs on
    the loop, a loop that no longer turns no longer pings."""

    def __init__(self, notifier: Notifier, interval_ns: int, clock=time.monotonic_ns):
        self.notifier = notifier
        self.interval_ns = interval_ns
        self.due = clock()                           # the first ping at once

    def next_deadline(self) -> int:
        return self.due

    def ping(self, now: int) -> None:
        self.notifier.notify("WATCHDOG=1")
        self.due = now + self.interval_ns


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601 with milliseconds), level, logger, message, then
    the record's extra fields (``log.info(..., extra={"role": "ha"})``) and ``exception`` if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Stderr(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is when a record comes (as logging's last
    resort does), not the stream of the moment it was made."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _not_ours(record: logging.LogRecord) -> bool:
    return not (record.name == "mip6fast" or record.name.startswith("mip6fast."))


def configure_logging(level: str, log_format: str = "text", stream=None) -> logging.Handler:
    """A handler on the ``mip6fast`` logger, which is set to ``level``; every other logger (pyroute2's
    netlink dumps among them) at WARNING, through a handler on the root logger that leaves the
    package's records to the first (each record is written once). Records still propagate to the root,
    so handlers added there (pytest's caplog, an embedding application's) see them. Calling it again
    (a reload, tests) replaces the handlers it installed. ``stream``: default, sys.stderr."""
    formatter: logging.Formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    ours = logging.getLogger("mip6fast")
    root = logging.getLogger()
    for logger in (ours, root):
        for h in [h for h in logger.handlers if getattr(h, "_mip6fast", False)]:
            logger.removeHandler(h)
    handlers = []
    for logger in (ours, root):
        handler = _Stderr() if stream is None else logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler._mip6fast = True                     # type: ignore[attr-defined]
        if logger is root:
            handler.addFilter(_not_ours)
        logger.addHandler(handler)
        handlers.append(handler)
    ours.setLevel(level.upper())
    root.setLevel(logging.WARNING)
    return handlers[0]


def unit_text(role: str) -> str:
    """The systemd unit shipped for ``role`` (mip6fast/systemd/mip6fast-ROLE.service)."""
    if role not in UNIT_ROLES:
        raise KeyError(role)
    return (resources.files("mip6fast") / "systemd" / f"mip6fast-{role}.service").read_text()
