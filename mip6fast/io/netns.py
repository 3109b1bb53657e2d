"""Network namespaces joined by veth pairs: the test bed for real-interface I/O (rings now; issue 5's
integration tests and ``mip6fast demo`` build their topologies with it too).

``NetnsLab`` creates namespaces and veth pairs through pyroute2 (netlink, no ``ip`` commands) and
removes everything it created when closed, also after an exception: it is a context manager, and
closing is idempotent. Removing a namespace removes the veth ends inside it, so a lab cannot leak
interfaces into the host namespace, only (if the process is killed outright) namespaces, which carry
the lab's prefix and ``remove_stale`` clears.

The engine owns its wire interfaces, so by default a veth end comes up with the kernel's IPv6 off
(``net.ipv6.conf.<if>.disable_ipv6=1``, set before the link goes up): no DAD, router solicitations or
MLD reports from the kernel, and a ring sees only the frames a test sends.

``enter(ns)`` switches the calling thread into a namespace for the duration of a ``with`` block;
sockets opened inside it (a ``PacketRing``) stay in that namespace after the block. Needs root
(CAP_SYS_ADMIN and CAP_NET_ADMIN).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import os
import threading
from collections.abc import Iterator

from ..errors import Mip6Error

__all__ = ["NetnsError", "NetnsLab", "VethEnd", "can_use_netns", "effective_capabilities", "enter", "remove_stale"]

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
LAB_PREFIX = "mip6lab-"

_libc = None
_counter = itertools.count()
_counter_lock = threading.Lock()


class NetnsError(Mip6Error, OSError):
    """A namespace or veth operation failed; the message names it."""


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"setns: {os.strerror(err)}")


# What building a lab takes (linux/capability.h bit numbers): creating and entering namespaces,
# configuring links, and opening packet sockets in them.
_NEEDED_CAPS = (("CAP_NET_ADMIN", 12), ("CAP_NET_RAW", 13), ("CAP_SYS_ADMIN", 21))


def effective_capabilities() -> int:
    """The effective capability set of this process (bit n: capability n)."""
    # Capabilities, not the uid: root inside a container may lack them, and a capability-holding
    # non-root process may have them.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def can_use_netns() -> tuple[bool, str]:
    """(True, "") when this process can create namespaces and veth pairs, else (False, why)."""
    if not hasattr(os, "geteuid") or not os.path.exists("/proc/self/ns/net"):
        return False, "network namespaces need Linux"
    missing = [name for name, bit in _NEEDED_CAPS if not effective_capabilities() >> bit & 1]
    if missing:
        return False, f"network namespaces and veth pairs need root ({', '.join(missing)} missing)"
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        return False, "pyroute2 is not installed (pip install pyroute2)"
    return True, ""


@contextlib.contextmanager
def enter(ns: str) -> Iterator[None]:
    """Run the body with the calling thread in namespace ``ns`` (a name under /run/netns), then return
    to the namespace it was in, also on an exception."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(os.path.join(NETNS_RUN_DIR, ns), os.O_RDONLY)
    except OSError as exc:
        os.close(home)
        raise NetnsError(exc.errno, f"no network namespace {ns!r}: {exc.strerror}") from exc
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def _write_sysctl(ns: str, path: str, value: str) -> None:
    # /proc/sys/net shows the namespace of the thread that opens the file.
    with enter(ns), open(os.path.join("/proc/sys/net", path), "w") as f:
        f.write(value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(prefix: str = LAB_PREFIX) -> list[str]:
    """Remove the namespaces of labs whose process is gone (killed before it could clean up): names
    ``<prefix><pid>-...`` whose pid no longer runs. Labs of running processes are left alone, so
    parallel test runs can call it. Returns the names removed."""
    from pyroute2 import netns

    gone = []
    for name in netns.listnetns():
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            netns.remove(name)
            gone.append(name)
    return gone


class VethEnd:
    """One end of a veth pair: its namespace, interface name, index and MAC address."""

    __slots__ = ("ifindex", "ifname", "mac", "ns")

    def __init__(self, ns: str, ifname: str, ifindex: int, mac: bytes):
        self.ns = ns
        self.ifname = ifname
        self.ifindex = ifindex
        self.mac = mac

    def __repr__(self) -> str:
        return f"VethEnd({self.ns}:{self.ifname}, mac={self.mac.hex(':')})"


class NetnsLab:
    """Namespaces and veth pairs, all removed by ``close()`` (or leaving the ``with`` block).

    ``NetnsLab(tag)`` names everything after a unique lab id (prefix, pid, a counter), so labs of
    parallel test processes never collide: ``lab.namespace("ha")`` is ``mip6lab-<pid>-<n>-ha``.
    """

    def __init__(self, tag: str = ""):
        ok, why = can_use_netns()
        if not ok:
            raise NetnsError(1, why)
        with _counter_lock:
            n = next(_counter)
        self.id = f"{os.getpid()}-{n}{('-' + tag) if tag else ''}"
        self._namespaces: dict[str, str] = {}
        self._ifcount = itertools.count()
        self.closed = False

    def __enter__(self) -> NetnsLab:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def namespace(self, short: str) -> str:
        """The namespace for ``short``, created on first use; returns its full name."""
        from pyroute2 import netns

        if self.closed:
            raise NetnsError(0, "the lab is closed")
        if short not in self._namespaces:
            name = f"{LAB_PREFIX}{self.id}-{short}"
            try:
                netns.create(name)
            except OSError as exc:
                raise NetnsError(exc.errno or 0, f"cannot create network namespace {name}: {exc}") from exc
            self._namespaces[short] = name
            # Loopback up, so applications in the namespace behave as on a host.
            self._set_up(name, "lo")
        return self._namespaces[short]

    def _ifname(self, hint: str) -> str:
        # IFNAMSIZ is 16 with the NUL: keep names within 15 characters and unique in the lab.
        return f"{hint[:10]}{next(self._ifcount)}"[:15]

    def veth(self, ns_a: str, ns_b: str, *, name_a: str | None = None, name_b: str | None = None,
             mtu: int | None = None, disable_ipv6: bool = True) -> tuple[VethEnd, VethEnd]:
        """A veth pair with one end in namespace ``ns_a`` and the other in ``ns_b`` (short names, made
        on first use), both up; the kernel's IPv6 off on both unless ``disable_ipv6=False``."""
        from pyroute2 import NetNS

        full_a, full_b = self.namespace(ns_a), self.namespace(ns_b)
        if_a = name_a or self._ifname(f"v{ns_a}")
        if_b = name_b or self._ifname(f"v{ns_b}")
        # Created in namespace a directly (its peer in b), so nothing ever appears in the host's.
        try:
            with NetNS(full_a) as ipr:
                ipr.link("add", ifname=if_a, kind="veth", peer={"ifname": if_b, "net_ns_fd": full_b})
        except Exception as exc:  # pyroute2 raises NetlinkError (an OSError) or its own errors
            raise NetnsError(getattr(exc, "code", 0) or 0,
                             f"cannot create veth {if_a}@{full_a} <-> {if_b}@{full_b}: {exc}") from exc
        ends = []
        for ns, ifname in ((full_a, if_a), (full_b, if_b)):
            if disable_ipv6:
                _write_sysctl(ns, f"ipv6/conf/{ifname}/disable_ipv6", "1")
            with NetNS(ns) as ipr:
                idx = ipr.link_lookup(ifname=ifname)[0]
                if mtu is not None:
                    ipr.link("set", index=idx, mtu=mtu)
                ipr.link("set", index=idx, state="up")
                mac = ipr.get_links(idx)[0].get_attr("IFLA_ADDRESS")
            ends.append(VethEnd(ns, ifname, idx, bytes.fromhex(mac.replace(":", ""))))
        return ends[0], ends[1]

    def _set_up(self, ns: str, ifname: str) -> None:
        from pyroute2 import NetNS

        with NetNS(ns) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")

    def enter(self, short: str):
        """``enter()`` the lab's namespace ``short``."""
        return enter(self.namespace(short))

    @property
    def namespaces(self) -> list[str]:
        return list(self._namespaces.values())

    def close(self) -> None:
        """Remove every namespace the lab made (and with them their interfaces). Idempotent; keeps
        going past a failure and raises the first one at the end."""
        from pyroute2 import netns

        if self.closed:
            return
        self.closed = True
        first: BaseException | None = None
        for name in reversed(list(self._namespaces.values())):
            try:
                netns.remove(name)
            except OSError as exc:
                if first is None:
                    first = exc
        self._namespaces.clear()
        if first is not None:
            raise NetnsError(getattr(first, "errno", 0) or 0, f"cannot remove a namespace: {first}")
