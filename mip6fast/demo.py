"""``mip6fast demo``: the three roles as daemons on a real network of namespaces, with real kernel
traffic across the mobile node's movements.

The network (every box a network namespace, every line a veth pair; the three links the mobile node
visits are Linux bridges in namespaces of their own, so its veth peer can be re-plugged from one to
another like a radio re-associating with another access point)::

      cn ── core ── ha ── [home]
             │  └── ra ── [link A]      mn ── its veth peer, plugged into [home], [link A] or [link B]
             └───── rb ── [link B]

``core`` is the kernel as a plain IPv6 router (forwarding on, static routes); ``ha``, ``ra``, ``rb``,
``cn`` and ``mn`` run ``mip6fast ha|router|cn|mn`` on the interfaces they own (the kernel's IPv6 off
there); the mobile node's home address lives on its TUN device and the correspondent's address on its
own, so the ping stream and the TCP transfer are ordinary kernel sockets (``mip6fast.demo_apps``).

A handover moves the mobile node's veth peer into the other link's namespace and bridge: the carrier
drops and comes back (the daemon hears it from netlink and solicits, RFC 6275 §11.5.1), the router of
the new link answers, the node forms a care-of address and registers it. Everything the demo made
(namespaces, processes, files) is removed at the end, also on failure or SIGINT.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import NetNS

from . import progress
from .daemon import DaemonError, query
from .io.netns import NetnsLab, _write_sysctl

__all__ = ["DemoNetwork", "run_demo", "run_redundant_demo"]

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
HOME_ADDRESS = "2001:db8:1::9"
HOME_AGENT = "2001:db8:1::1"
HOME_AGENT2 = "2001:db8:1::2"     # "ha2" as a home agent of its own (DemoNetwork.second_home_agent)
CN_ADDRESS = "2001:db8:c::5"
TCP_PORT = 5001
LINKS = {"home": "2001:db8:1", "a": "2001:db8:a", "b": "2001:db8:b"}
MGMT_NET = "10.99.0"          # the redundant home agents' management link (etcd), /24
METRICS_PORT = 9464           # a redundant home agent's Prometheus endpoint there (DemoNetwork.metrics)
CORE_NETS = {"ha": "2001:db8:ff:1", "ra": "2001:db8:ff:a", "rb": "2001:db8:ff:b", "cn": "2001:db8:c"}
# Notifications worth a line in the live timeline (the daemons log every notification).
TIMELINE_EVENTS = ("ACTIVE", "standby", "LEASE LOST", "resigned",
                   "Registered", "Moved", "ReturnedHome", "Deregistered", "RegistrationFailed",
                   "RouteOptimisationStarted", "RouteOptimisationStopped", "BindingCreated", "BindingDeleted",
                   "BindingExpired", "de-registering", "de-registration", "started", "carrier")


class DemoError(Exception):
    pass


# ---------------------------------------------------------------- configuration files

def _router_config(link: str) -> str:
    net, core = LINKS[link], CORE_NETS[f"r{link}"]
    return f"""
[interfaces.up0]
addresses = ["{core}::2/64"]
[interfaces.down0]
addresses = ["{net}::1/64"]
[[routes]]
prefix = "::/0"
interface = "up0"
via = "{core}::1"
# RFC 6275 §7.5: routers serving mobile nodes may advertise far more often than RFC 4861 allows: as
# often as its floor (MinRtrAdvInterval 30 ms, MaxRtrAdvInterval 70 ms), so that an arriving node hears
# an RA within 70 ms instead of waiting out a solicited RA's random delay (RFC 4861 §6.2.6: up to 500 ms).
[advertise.down0]
max_interval = 0.07
min_interval = 0.03
min_delay_between_ras = 0.03
advertisement_interval_option = true
prefixes = [{{ prefix = "{net}::", prefix_length = 64 }}]
"""


def _ha_config() -> str:
    core = CORE_NETS["ha"]
    return f"""
[interfaces.ha0]
addresses = ["{HOME_AGENT}/64"]
[interfaces.ha1]
addresses = ["{core}::2/64"]
[[routes]]
prefix = "::/0"
interface = "ha1"
via = "{core}::1"
[home_agent]
interface = "ha0"
home_prefixes = ["{LINKS['home']}::/64"]
address = "{HOME_AGENT}"
max_lifetime = 120
[advertise.ha0]
max_interval = 0.07
min_interval = 0.03
min_delay_between_ras = 0.03
advertisement_interval_option = true
prefixes = [{{ prefix = "{HOME_AGENT}", prefix_length = 64, router_address = true }}]
home_agent = {{ preference = 0, lifetime = 1800 }}
"""


def _cn_config() -> str:
    return f"""
tun = "mip6cn0"
[interfaces.eth0]
addresses = ["{CN_ADDRESS}/64"]
[[routes]]
prefix = "::/0"
interface = "eth0"
via = "{CORE_NETS['cn']}::1"
[correspondent]
mobility_support = true
"""


def _mn_config(route_optimisation: bool) -> str:
    return f"""
tun = "mip6tun0"
[interfaces.mn0]
mtu = 1500
[mobile_node]
interface = "mn0"
lifetime = 60
# The carrier coming back on another link with another router is movement at once (RFC 6275
# §11.5.1 lower-layer hints), not after seconds of NUD of the old router (the default; said here
# because the demo depends on it), and the care-of address is used while its DAD runs (RFC 4429).
movement_on_reattachment = true
optimistic_dad = true
homes = [{{ address = "{HOME_ADDRESS}", home_agent = "{HOME_AGENT}", prefix_length = 64 }}]
[mobile_node.route_optimization]
default = "{'always' if route_optimisation else 'never'}"
"""


# ---------------------------------------------------------------- the network

@dataclass
class Daemon:
    role: str
    ns: str
    proc: subprocess.Popen
    socket: str
    log: list[str] = field(default_factory=list)


class DemoNetwork:
    """The demo's namespaces, links and daemons. ``build()`` makes the network, ``start(role)`` a
    daemon, ``move(link)`` re-plugs the mobile node, ``close()`` removes everything (idempotent).
    ``on_event(seconds, role, line)`` sees the daemons' timeline lines as they come."""

    def __init__(self, workdir: str | None = None, pcap_dir: str | None = None, on_event=None, io: str = "ring",
                 redundant: bool = False):
        self.lab: NetnsLab | None = None
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="mip6demo-"))
        self.pcap_dir = Path(pcap_dir) if pcap_dir else None
        self.on_event = on_event
        self.io = io                    # the daemons' port kind: "ring" (TPACKET_V3) or "packet"
        # The home agent also accepts unprotected registrations for home addresses without keys (tests
        # that register thousands of bindings by raw signalling); the mobile node's stays under ESP.
        self.unkeyed_registrations = False
        # [daemon] workers of the home agent (issue 17): N > 1 forwarding worker processes.
        self.ha_workers = 1
        # Roles (daemon names) whose rings are received in place ([daemon] receive_in_place = true).
        self.in_place: tuple[str, ...] = ()
        # Two home agents "ha" and "ha2" on the home link and on a bridged link to the core, sharing the
        # home agent's addresses, with a management link (MGMT_NET) where an etcd cluster can listen
        # (README "Redundancy"); ``etcd_endpoints`` set: both run with store = "etcd".
        self.redundant = redundant
        self.etcd_endpoints: list[str] = []
        self.lease_ttl = 2
        self.warm_standby = True        # [etcd] warm_standby of the home agents started from now on
        # "ha2" on the redundant network's links but as a home agent of its own, not a member of a group:
        # its own home agent address (HOME_AGENT2) and core address (::3); the Home Agent Switch test
        self.second_home_agent = False
        # No ESP for anyone: the home agents and the mobile node accept unprotected registrations (a
        # lab's setting; the Home Agent Switch test, whose manual SAs bind a home address to one agent)
        self.unprotected = False
        # [daemon] metrics of the redundant home agents, on their management address (METRICS_PORT)
        self.metrics = False
        self.t0 = time.monotonic()
        self.daemons: dict[str, Daemon] = {}
        self.apps: list[subprocess.Popen] = []
        self.mn_link: str | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ building

    def ns(self, short: str) -> str:
        return self.lab.namespace(short)

    def build(self) -> None:
        self.lab = NetnsLab("demo")
        core = self.ns("core")
        _write_sysctl(core, "ipv6/conf/all/forwarding", "1")
        _write_sysctl(core, "ipv6/conf/default/accept_ra", "0")
        # The core's kernel side of each point-to-point link: IPv6 on, a ::1 address; the engine's side
        # stays IPv6-off (the daemon owns it).
        for peer, ifname in (("ha", "ha1"), ("ra", "up0"), ("rb", "up0"), ("cn", "eth0")):
            if peer == "ha" and self.redundant:
                # the home agents' side of the core link is a bridge holding both
                core_end, _ = self.lab.veth("core", "lhacore", name_a="c-ha", name_b="p-core")
                self._bridge(self.ns("lhacore"))
                self._plug(self.ns("lhacore"), "p-core")
                for ha in ("ha", "ha2"):
                    self.lab.veth("lhacore", ha, name_a=f"p-{ha}", name_b="ha1")
                    self._plug(self.ns("lhacore"), f"p-{ha}")
            else:
                core_end, _ = self.lab.veth("core", peer, name_a=f"c-{peer}", name_b=ifname)
            _write_sysctl(core, f"ipv6/conf/c-{peer}/disable_ipv6", "0")
            _write_sysctl(core, f"ipv6/conf/c-{peer}/accept_ra", "0")
            with NetNS(core) as ipr:
                ipr.addr("add", index=core_end.ifindex, address=f"{CORE_NETS[peer]}::1", prefixlen=64,
                         IFA_FLAGS=0x02)   # IFA_F_NODAD: usable at once
        with NetNS(core) as ipr:
            for prefix, peer in ((LINKS["home"], "ha"), (LINKS["a"], "ra"), (LINKS["b"], "rb")):
                (oif,) = ipr.link_lookup(ifname=f"c-{peer}")
                ipr.route("add", dst=f"{prefix}::/64", gateway=f"{CORE_NETS[peer]}::2", oif=oif)
        # The three links the mobile node can be on: a bridge each, with their router's interface.
        for link, (router_ns, router_if) in (("home", ("ha", "ha0")), ("a", ("ra", "down0")), ("b", ("rb", "down0"))):
            lns = self.ns(f"l{link}")
            self._bridge(lns)
            end, _ = self.lab.veth(f"l{link}", router_ns, name_a=f"p-{router_ns}", name_b=router_if)
            self._plug(lns, end.ifname)
        if self.redundant:
            end, _ = self.lab.veth("lhome", "ha2", name_a="p-ha2", name_b="ha0")
            self._plug(self.ns("lhome"), end.ifname)
            self._management()
        # The mobile node's interface; its peer starts on link A.
        self.lab.veth("la", "mn", name_a="mnport", name_b="mn0")
        self._plug(self.ns("la"), "mnport")
        self.mn_link = "a"

    def _management(self) -> None:
        """The management link of the redundant home agents (kernel IPv4, not a daemon's interface):
        a bridge in namespace "lmgmt" with MGMT_NET.1 (where etcd listens), MGMT_NET.2 in "ha" and
        MGMT_NET.3 in "ha2" (interface mgmt0)."""
        lns = self.ns("lmgmt")
        self._bridge(lns)
        with NetNS(lns) as ipr:
            (br,) = ipr.link_lookup(ifname="br0")
            ipr.addr("add", index=br, address=f"{MGMT_NET}.1", prefixlen=24)
            (lo,) = ipr.link_lookup(ifname="lo")
            ipr.link("set", index=lo, state="up")
        for i, ha in ((2, "ha"), (3, "ha2")):
            self.lab.veth("lmgmt", ha, name_a=f"m-{ha}", name_b="mgmt0")
            self._plug(lns, f"m-{ha}")
            with NetNS(self.ns(ha)) as ipr:
                (idx,) = ipr.link_lookup(ifname="mgmt0")
                ipr.addr("add", index=idx, address=f"{MGMT_NET}.{i}", prefixlen=24)

    @staticmethod
    def _bridge(ns: str) -> None:
        _write_sysctl(ns, "ipv6/conf/default/disable_ipv6", "1")
        with NetNS(ns) as ipr:
            ipr.link("add", ifname="br0", kind="bridge", br_mcast_snooping=0, br_forward_delay=0)
            (idx,) = ipr.link_lookup(ifname="br0")
            ipr.link("set", index=idx, state="up")

    @staticmethod
    def _plug(ns: str, ifname: str) -> None:
        with NetNS(ns) as ipr:
            (br,) = ipr.link_lookup(ifname="br0")
            (idx,) = ipr.link_lookup(ifname=ifname)
            ipr.link("set", index=idx, master=br)
            ipr.link("set", index=idx, state="up")

    def move(self, link: str) -> float:
        """Re-plug the mobile node's veth peer into ``link`` ("home", "a", "b"); returns when (monotonic)."""
        if link == self.mn_link:
            return time.monotonic()
        old, new = self.ns(f"l{self.mn_link}"), self.ns(f"l{link}")
        at = time.monotonic()
        with NetNS(old) as ipr:
            (idx,) = ipr.link_lookup(ifname="mnport")
            ipr.link("set", index=idx, state="down")
            ipr.link("set", index=idx, net_ns_fd=new)
        _write_sysctl(new, "ipv6/conf/mnport/disable_ipv6", "1")
        self._plug(new, "mnport")
        self.mn_link = link
        return at

    # ------------------------------------------------------------ daemons and applications

    def _env(self) -> dict:
        # The children import the very package this process runs (PYTHONPATH, and their working
        # directory, which ``python -m`` puts first on sys.path: started from a source tree, a child
        # would otherwise import that tree instead of the installed, compiled package).
        env = dict(os.environ)
        env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def key_file(self) -> Path:
        """The manual keys of the mobile node's home registration (docs/SECURITY.md "Key files"): fresh
        random AES-128-GCM keys and salts, written once with mode 0600 (the daemons refuse any other)."""
        path = self.workdir / "keys.toml"
        if not path.exists():
            text = (f'[[association]]\nhome_address = "{HOME_ADDRESS}"\nhome_agent = "{HOME_AGENT}"\n'
                    f'algorithm = "aes-128-gcm"\n'
                    f'mn_to_ha = {{ spi = 0x1001, encryption_key = "{os.urandom(20).hex()}" }}\n'
                    f'ha_to_mn = {{ spi = 0x1002, encryption_key = "{os.urandom(20).hex()}" }}\n')
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        return path

    def start(self, role: str, *, route_optimisation: bool = False, name: str | None = None) -> Daemon:
        """Start ``mip6fast ROLE`` in its namespace (``name``: "ra"/"rb" for the routers)."""
        name = name or role
        config_text = {"ha": _ha_config, "ha2": _ha_config, "cn": _cn_config, "ra": lambda: _router_config("a"),
                       "rb": lambda: _router_config("b"),
                       "mn": lambda: _mn_config(route_optimisation)}[name]()
        if name == "ha2" and self.second_home_agent and not self.etcd_endpoints:
            core = CORE_NETS["ha"]
            config_text = config_text.replace(HOME_AGENT, HOME_AGENT2).replace(f"{core}::2/64", f"{core}::3/64")
        if self.unprotected and role in ("ha", "mn"):
            section = "[home_agent]\n" if role == "ha" else "[mobile_node]\n"
            config_text = config_text.replace(section, section + "unauthenticated_registrations = true\n")
        elif role == "ha" and self.unkeyed_registrations:
            config_text = config_text.replace("[home_agent]\n", "[home_agent]\nunauthenticated_registrations = true\n")
        if role == "ha" and self.etcd_endpoints:
            endpoints = ", ".join(f'"{e}"' for e in self.etcd_endpoints)
            config_text = config_text.replace("[home_agent]\n", '[home_agent]\nstore = "etcd"\n')
            config_text += (f'[etcd]\nendpoints = [{endpoints}]\nprefix = "/mip6fast/demo/"\n'
                            f'member = "{name}"\nlease_ttl = {self.lease_ttl}\ntimeout = 0.5\n'
                            # the management address of its namespace (build_management): the connections
                            # to etcd leave from it, never from a wire interface
                            f'source_address = "{MGMT_NET}.{2 if name == "ha" else 3}"\n'
                            f'warm_standby = {"true" if self.warm_standby else "false"}\n')
        if role in ("ha", "mn") and not self.unprotected:
            # Home registrations under ESP (AES-128-GCM, RFC 6275 §5.1), the same key file for both.
            config_text += f'[security]\nkey_file = "{self.key_file()}"\n'
        config = self.workdir / f"{name}.toml"
        daemon = f'[daemon]\nio = "{self.io}"\n'
        if role == "ha" and self.ha_workers > 1:
            daemon += f"workers = {self.ha_workers}\n"
        if name in self.in_place:
            daemon += "receive_in_place = true\n"
        if role == "ha" and self.etcd_endpoints and self.metrics:
            # on the management link only (a lab's): remote on purpose
            daemon += (f'metrics = "{MGMT_NET}.{2 if name == "ha" else 3}:{METRICS_PORT}"\n'
                       f'metrics_allow_remote = true\n')
        config.write_text(daemon + config_text.lstrip("\n"))
        sock = str(self.workdir / f"{name}.sock")
        if os.path.exists(sock):
            os.unlink(sock)             # left by a daemon that was killed: we wait for the new one
        argv = [sys.executable, "-m", "mip6fast", role, "--config", str(config), "--control-socket", sock]
        if self.pcap_dir is not None:
            self.pcap_dir.mkdir(parents=True, exist_ok=True)
            n = sum(1 for p in self.pcap_dir.glob(f"{name}*.pcapng"))
            argv += ["--pcap", str(self.pcap_dir / (f"{name}.pcapng" if n == 0 else f"{name}-{n}.pcapng"))]
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(name), *argv], env=self._env(),
                                cwd=PACKAGE_PARENT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        daemon = Daemon(role, name, proc, sock)
        self.daemons[name] = daemon
        threading.Thread(target=self._follow, args=(daemon,), daemon=True).start()
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)
                raise DemoError(f"mip6fast {role} did not start: {' | '.join(daemon.log[-5:])}")
            time.sleep(0.05)
        return daemon

    def _follow(self, daemon: Daemon) -> None:
        for line in daemon.proc.stderr:
            line = line.rstrip()
            daemon.log.append(line)
            if self.on_event is not None and any(word in line for word in TIMELINE_EVENTS):
                message = line.split(" INFO ", 1)[-1] if " INFO " in line else line
                self.on_event(time.monotonic() - self.t0, daemon.ns, message)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        daemon = self.daemons.pop(name, None)
        if daemon is None:
            return None
        if daemon.proc.poll() is None:
            os.killpg(daemon.proc.pid, sig)
            try:
                daemon.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.proc.pid, signal.SIGKILL)
                daemon.proc.wait()
        return daemon.proc.returncode

    def query(self, name: str, command: str) -> dict:
        return query(self.daemons[name].socket, command)

    def registered_care_of(self) -> str | None:
        """The care-of address the mobile node holds a registered binding for, if any."""
        try:
            rows = self.query("mn", "bindings")["bindings"]
        except (DaemonError, KeyError, ValueError):
            return None             # not up yet, or between two answers
        for r in rows:
            # The home registration's entry (peer = the home agent), accepted (BUL_REGISTERED) and not
            # waiting for the BA to a newer care-of address (BUL_PENDING).
            flags = int(r["flags"], 16)
            if r["home_address"] == HOME_ADDRESS and r.get("peer") == HOME_AGENT and flags & 0x02 \
                    and not flags & 0x01:
                return r["care_of_address"]
        return None

    def wait_registered(self, prefix: str, timeout: float = 15.0) -> float:
        """Until the mobile node holds a binding with a care-of address in ``prefix``; seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            coa = self.registered_care_of()
            if coa is not None and coa.startswith(prefix + ":"):
                return time.monotonic() - start
            time.sleep(0.1)
        raise DemoError(f"the mobile node did not register a care-of address in {prefix}::/64 within {timeout} s")

    def app(self, ns: str, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(ns), sys.executable, "-m", "mip6fast.demo_apps",
                                 *args], env=self._env(), cwd=PACKAGE_PARENT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.apps.append(proc)
        return proc

    @staticmethod
    def result(proc: subprocess.Popen, timeout: float = 60) -> dict:
        out, err = proc.communicate(timeout=timeout)
        lines = [x for x in out.splitlines() if x.startswith("{")]
        if not lines:
            raise DemoError(f"application failed: {err.strip()[-400:]}")
        return json.loads(lines[-1])

    def close(self) -> None:
        # The mobile node first, so its home agent is still there to take its de-registration.
        for name in sorted(self.daemons, key=lambda n: n != "mn"):
            try:
                self.stop(name, timeout=5)
            except (OSError, subprocess.SubprocessError) as exc:      # keep removing the rest
                print(f"mip6fast demo: stopping {name}: {exc}", file=sys.stderr)
        for proc in self.apps:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.apps.clear()
        if self.lab is not None:
            self.lab.close()
            self.lab = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DemoNetwork:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- the demo run

def _handover_figures(ping: dict, moves: list[tuple[str, float]], end: float) -> list[dict]:
    """Per move: the gap (the longest silence between two consecutive echo replies from the last one
    before the move to the next move: replies already in flight when the link changed do not hide the
    outage) and the echo requests sent from the move to the next one that were never answered."""
    sent = {int(k): v for k, v in ping["sent"].items()}
    answered = {int(k): v for k, v in ping["answered"].items()}
    replies = sorted(answered.values())
    figures = []
    for i, (link, at) in enumerate(moves):
        until = moves[i + 1][1] if i + 1 < len(moves) else end
        before = [t for t in replies if t <= at]
        after = [t for t in replies if at < t <= until]
        times = before[-1:] + after
        gap = max(b - a for a, b in zip(times, times[1:])) * 1000 if before and after else None
        window = [s for s, t in sent.items() if at <= t < until]
        lost = sum(1 for s in window if s not in answered)
        figures.append({"to": link, "gap_ms": round(gap, 1) if gap is not None else None,
                        "packets_lost": lost, "packets_sent": len(window)})
    return figures


def run_phase(net: DemoNetwork, route_optimisation: bool, say, dwell: float = 4.0,
              path: tuple[str, ...] = ("b", "a", "b", "home")) -> dict:
    """One run: the mobile node starts on link A, the correspondent pings its home address and streams
    TCP to it, the node moves along ``path`` (``dwell`` seconds on each link)."""
    if net.mn_link != "a":
        net.move("a")
    net.start("mn", route_optimisation=route_optimisation)
    took = net.wait_registered(LINKS["a"])
    say(f"mobile node registered from link A after {took:.2f} s (route optimisation "
        f"{'on' if route_optimisation else 'off'})")
    sink = net.app("mn", "tcp-sink", HOME_ADDRESS, str(TCP_PORT))
    sink.stdout.readline()                                   # "listening"
    seconds = dwell * (len(path) + 1)
    rate = 100_000
    ping = net.app("cn", "ping", HOME_ADDRESS, str(seconds), "0.02")
    sender = net.app("cn", "tcp-send", HOME_ADDRESS, str(TCP_PORT), str(seconds), str(rate))
    time.sleep(dwell)
    moves = []
    names = {"a": "foreign link A", "b": "foreign link B", "home": "the home link"}
    for link in path:
        at = net.move(link)
        moves.append((link, at))
        say(f"handover {len(moves)}: mobile node to {names[link]}")
        time.sleep(dwell)
    ping_result = net.result(ping, timeout=seconds + 30)
    sent = net.result(sender, timeout=seconds + 60)
    received = net.result(sink, timeout=30)
    figures = _handover_figures(ping_result, moves, time.monotonic())
    for figure, (_, at) in zip(figures, moves):
        figure["at_s"] = round(at - net.t0, 2)          # when, in seconds since the demo started
    mn_stats = net.query("mn", "stats")["node"]
    net.stop("mn")
    answered = len(ping_result["answered"])
    return {"route_optimisation": route_optimisation, "handovers": figures,
            "tcp_survived": bool(sent["survived"]), "tcp_bytes_sent": sent["sent"],
            "tcp_bytes_received": received["received"], "tcp_error": sent["error"] or received["error"],
            "pings_sent": len(ping_result["sent"]), "pings_answered": answered,
            "correspondent_binding_updates": mn_stats.get("mn.ro.bu_sent", 0),
            # Return routability (the default in both roles, RFC 6275 §5.2): the tests the mobile node
            # ran and the tokens it got before its BUs to the correspondent.
            "return_routability": {k: mn_stats.get(f"mn.rr.{k}", 0) for k in (
                "hoti_sent", "coti_sent", "hot_accepted", "cot_accepted", "home_token_reused")}}


def run_demo(as_json: bool = False, pcap_dir: str | None = None, route_optimisation_runs=(True, False),
             out=sys.stdout) -> dict:
    t0 = time.monotonic()

    printing = threading.Lock()          # the daemons' lines come from one thread each

    # The bar (only on a terminal, not with --json) moves at each step the demo announces: the
    # network, the daemons, then per run the registration and each handover (run_phase's path).
    steps = 2 + len(route_optimisation_runs) * 5

    def say(text: str) -> None:
        event(time.monotonic() - t0, "demo", text)
        bar.update(1)

    def event(seconds: float, who: str, line: str) -> None:
        if not as_json:
            with printing:
                progress.write(f"{seconds:7.2f}s  {who:<4}  {line}", out)

    stack = contextlib.ExitStack()
    bar = progress.Task(None)
    net = DemoNetwork(pcap_dir=pcap_dir, on_event=event)
    net.t0 = t0
    interrupted = []
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(*_):
        interrupted.append(True)
        raise KeyboardInterrupt
    try:
        bar = stack.enter_context(progress.task("demo", total=steps, unit=" step"))
        signal.signal(signal.SIGINT, on_sigint)
        say("building the network: namespaces core, ha, ra, rb, cn, mn and the links home, A, B")
        net.build()
        for name, role in (("ha", "ha"), ("ra", "router"), ("rb", "router"), ("cn", "cn")):
            net.start(role, name=name)
        say("home agent, two routers and the correspondent are running")
        runs = []
        for ro in route_optimisation_runs:
            runs.append(run_phase(net, ro, say))
        summary = {"runs": runs,
                   "handovers": [dict(h, route_optimisation=r["route_optimisation"]) for r in runs
                                 for h in r["handovers"]],
                   "tcp_survived": all(r["tcp_survived"] for r in runs),
                   "bytes_transferred": sum(r["tcp_bytes_received"] for r in runs),
                   "seconds": round(time.monotonic() - t0, 1)}
    finally:
        signal.signal(signal.SIGINT, previous)
        stack.close()
        net.close()
    report = {"summary": summary, "pcap_dir": pcap_dir}
    if as_json:
        print(json.dumps(report), file=out)
    else:
        print_summary(summary, out)
    return report


def print_summary(summary: dict, out=sys.stdout) -> None:
    print("\nsummary", file=out)
    print(f"  {'run':<10} {'#':>2} {'to':<6} {'gap ms':>8} {'lost':>5} {'sent':>5}", file=out)
    for r in summary["runs"]:
        label = "RO on" if r["route_optimisation"] else "RO off"
        for i, h in enumerate(r["handovers"], 1):
            gap = f"{h['gap_ms']:.0f}" if h["gap_ms"] is not None else "-"
            print(f"  {label:<10} {i:>2} {h['to']:<6} {gap:>8} {h['packets_lost']:>5} {h['packets_sent']:>5}", file=out)
        print(f"  {label:<10} TCP {'survived' if r['tcp_survived'] else 'BROKE'}: {r['tcp_bytes_received']} bytes "
              f"received of {r['tcp_bytes_sent']} sent; pings answered {r['pings_answered']}/{r['pings_sent']}"
              + (f" ({r['tcp_error']})" if r["tcp_error"] else ""), file=out)
        rr = r.get("return_routability")
        if r["route_optimisation"] and rr:
            print(f"  {label:<10} return routability: {rr['hoti_sent']} home / {rr['coti_sent']} care-of tests, "
                  f"{rr['hot_accepted']} / {rr['cot_accepted']} tokens; {r['correspondent_binding_updates']} "
                  f"BUs to the correspondent", file=out)
    print(f"  TCP survived every handover: {'yes' if summary['tcp_survived'] else 'NO'}; "
          f"{summary['bytes_transferred']} bytes transferred; {summary['seconds']} s", file=out)


# ---------------------------------------------------------------- mip6fast demo --redundant (issue 16)

ETCD_CLIENT_PORTS = (23791, 23792, 23793)     # in the management namespace: ports of their own
ETCD_PEER_PORTS = (23801, 23802, 23803)


class DemoEtcd:
    """A three-member etcd cluster in the management namespace of a redundant DemoNetwork (each member
    its own process and data directory, under the demo's work directory); ``close()`` stops them."""

    def __init__(self, net: DemoNetwork):
        binary = shutil.which("etcd")
        if binary is None:
            raise DemoError("etcd is not installed (apt-get install -y etcd-server, README \"Redundancy\")")
        self.net = net
        self.binary = binary
        self.host = f"{MGMT_NET}.1"
        self.dir = net.workdir / "etcd"
        self.procs: list[subprocess.Popen] = []

    @property
    def endpoints(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in ETCD_CLIENT_PORTS]

    def start(self, timeout: float = 30.0) -> None:
        ns = self.net.ns("lmgmt")
        initial = ",".join(f"m{i}=http://{self.host}:{p}" for i, p in enumerate(ETCD_PEER_PORTS))
        for i, (client, peer) in enumerate(zip(ETCD_CLIENT_PORTS, ETCD_PEER_PORTS)):
            c, p = f"http://{self.host}:{client}", f"http://{self.host}:{peer}"
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, self.binary, "--name", f"m{i}", "--data-dir", str(self.dir / f"m{i}"),
                 "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
                 "--initial-advertise-peer-urls", p, "--initial-cluster", initial, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "mip6fast-demo", "--heartbeat-interval", "50",
                 "--election-timeout", "400", "--logger", "zap",
                 "--log-outputs", str(self.net.workdir / f"etcd-m{i}.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        script = ("import sys, urllib.request as u\n"
                  "sys.exit(0 if all(b'true' in u.urlopen(e + '/health', timeout=1).read() for e in sys.argv[1:]) "
                  "else 1)")
        deadline = time.monotonic() + timeout
        while subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", script, *self.endpoints],
                             capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                raise DemoError("the etcd cluster did not become healthy (see etcd-m*.log)")
            time.sleep(0.2)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs.clear()


def _redundancy_state(net: DemoNetwork, name: str) -> str | None:
    try:
        return (net.query(name, "bindings").get("redundancy") or {}).get("state")
    except (DaemonError, KeyError):
        return None


def _wait_state(net: DemoNetwork, name: str, state: str, timeout: float = 20.0) -> float:
    deadline = time.monotonic() + timeout
    while _redundancy_state(net, name) != state:
        if time.monotonic() > deadline:
            raise DemoError(f"home agent {name} did not become {state}")
        time.sleep(0.05)
    return time.monotonic()


def _largest_gap(ping: dict) -> float:
    replies = sorted(float(t) for t in ping["answered"].values())
    return max((b - a for a, b in zip(replies, replies[1:])), default=0.0)


def run_redundant_demo(as_json: bool = False, out=sys.stdout, dwell: float = 4.0) -> dict:
    """Two home agents on one home link over a three-member etcd cluster: the mobile node registered
    from link A, a ping stream and a TCP transfer from the correspondent; the active home agent is
    SIGKILLed (the standby takes over), started again as a standby, then a planned switchover hands
    the role back. The summary: the gaps, bindings lost, re-registrations, whether TCP survived."""
    t0 = time.monotonic()
    printing = threading.Lock()

    def say(text: str) -> None:
        event(time.monotonic() - t0, "demo", text)

    def event(seconds: float, who: str, line: str) -> None:
        if not as_json:
            with printing:
                print(f"{seconds:7.2f}s  {who:<4}  {line}", file=out, flush=True)

    net = DemoNetwork(on_event=event, redundant=True)
    net.t0 = t0
    etcd: DemoEtcd | None = None
    try:
        say("building the network: two home agents (ha, ha2) on the home link and the core link, a "
            "management link with a three-member etcd cluster")
        net.build()
        etcd = DemoEtcd(net)
        etcd.start()
        net.etcd_endpoints = etcd.endpoints
        net.start("ha", name="ha")
        _wait_state(net, "ha", "active")
        net.start("ha", name="ha2")
        _wait_state(net, "ha2", "standby")
        for name, role in (("ra", "router"), ("rb", "router"), ("cn", "cn")):
            net.start(role, name=name)
        say("ha is ACTIVE, ha2 STANDBY (lease TTL 2 s); routers and correspondent running")
        net.move("a")
        net.start("mn")
        took = net.wait_registered(LINKS["a"])
        say(f"mobile node registered from link A after {took:.2f} s")
        bus_before = _bu_sent(net)
        old = _binding(net, "ha")
        sink = net.app("mn", "tcp-sink", HOME_ADDRESS, str(TCP_PORT))
        sink.stdout.readline()
        seconds = 3 * dwell
        sender = net.app("cn", "tcp-send", HOME_ADDRESS, str(TCP_PORT), str(seconds), "50000")
        ping = net.app("cn", "ping", HOME_ADDRESS, str(dwell * 2), "0.02")
        time.sleep(dwell)
        killed = time.monotonic()
        say("SIGKILL of the active home agent (ha)")
        net.stop("ha", sig=signal.SIGKILL)
        active_at = _wait_state(net, "ha2", "active")
        say(f"ha2 is ACTIVE {active_at - killed:.2f} s after the SIGKILL")
        takeover_gap = _largest_gap(net.result(ping, timeout=60))
        new = _binding(net, "ha2")
        net.start("ha", name="ha")
        _wait_state(net, "ha", "standby")
        say("ha started again: STANDBY")
        time.sleep(1.5)                       # its own addresses through (silent) DAD
        ping = net.app("cn", "ping", HOME_ADDRESS, str(dwell), "0.02")
        time.sleep(dwell / 2)
        say("planned switchover: ha2 resigns")
        net.query("ha2", "switchover")
        _wait_state(net, "ha", "active")
        say("ha is ACTIVE again")
        switchover_gap = _largest_gap(net.result(ping, timeout=60))
        sent = net.result(sender, timeout=seconds + 60)
        received = net.result(sink, timeout=30)
        bus_after = _bu_sent(net)
        summary = {
            "takeover_s": round(active_at - killed, 3),
            "takeover_gap_ms": round(takeover_gap * 1000),
            "switchover_gap_ms": round(switchover_gap * 1000),
            "bindings_lost": 0 if new is not None and (new["care_of_address"], new["sequence"]) ==
            (old["care_of_address"], old["sequence"]) else 1,
            "re_registrations": max(0, bus_after - bus_before - 1),     # one ordinary refresh allowed
            "tcp_survived": bool(sent["survived"]), "tcp_bytes": received["received"],
            "seconds": round(time.monotonic() - t0, 1)}
    finally:
        net.close()
        if etcd is not None:
            etcd.close()
    if as_json:
        print(json.dumps({"summary": summary}), file=out)
    else:
        print(f"\nsummary\n  takeover after SIGKILL: standby active in {summary['takeover_s']} s, ping gap "
              f"{summary['takeover_gap_ms']} ms (lease TTL 2 s)\n  planned switchover: ping gap "
              f"{summary['switchover_gap_ms']} ms\n  bindings lost: {summary['bindings_lost']}; "
              f"re-registrations: {summary['re_registrations']}; TCP "
              f"{'survived' if summary['tcp_survived'] else 'BROKE'} ({summary['tcp_bytes']} bytes); "
              f"{summary['seconds']} s", file=out)
    return {"summary": summary}


def _binding(net: DemoNetwork, name: str) -> dict | None:
    rows = net.query(name, "bindings")["bindings"]
    return next((r for r in rows if r["home_address"] == HOME_ADDRESS), None)


def _bu_sent(net: DemoNetwork) -> int:
    return sum(v for k, v in net.query("mn", "stats")["node"].items() if k.endswith("bu_sent"))
