"""Daemon configuration files (TOML) for ``mip6fast ha|mn|cn --config FILE``.

A file holds one role's section, mapped field by field onto that role's configuration dataclass, plus
the interfaces the engine owns and the routes it uses::

    [daemon]                            # optional
    control_socket = "/run/mip6fast/ha.sock"
    state_dir = "/run/mip6fast/ha"      # the default: beside the control socket, named after it
    pcap = "ha.pcapng"                  # pcapng: interfaces by name, frames with direction
    log_level = "info"
    log_format = "text"                 # or "json": one JSON object per line
    metrics = "127.0.0.1:9464"          # a Prometheus endpoint (off when absent); loopback only unless
    metrics_allow_remote = false        # ... this is true

    [interfaces.eth0]                   # one table per wire interface the engine owns
    addresses = ["2001:db8:1::1/64"]
    mtu = 1500

    [[routes]]
    prefix = "::/0"
    interface = "eth1"
    via = "2001:db8:ff::2"

    [home_agent]                        # or [mobile_node] / [correspondent]
    interface = "eth0"
    home_prefixes = ["2001:db8:1::/64"]
    address = "2001:db8:1::1"
    max_lifetime = 420
    store = "sqlite"                    # the binding store (docs/DURABILITY.md): "sqlite", "etcd" or "none"
    synchronous = "full"                # "full" or "normal"; store_path: default STATE_DIR/bindings.db

    [etcd]                              # with store = "etcd" (README "Redundancy"): the cluster's client
    endpoints = ["http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"]   # URLs, on the
    prefix = "/mip6fast/ha-group-1/"    # management network; the group's keys (one per home link)
    timeout = 2.0                       # seconds per request (an endpoint slower than that is passed over)

    [advertise.eth0]                    # router advertisements this node sends on eth0 (optional)
    max_interval = 3.0
    prefixes = [{ prefix = "2001:db8:1::", prefix_length = 64 }]

The role sections are not described twice: the keys are the role configuration's own fields
(``HomeAgentConfig``, ``MobileNodeConfig``, ``CorrespondentConfig``), converted by their type hints, so
a field added to a role is configurable at once. Every duration is written in seconds (a number) or
with a unit (``"300ms"``, ``"1.5s"``, ``"2h"``); the fields the roles keep in whole seconds (lifetimes)
take a whole number of seconds in either form (``420``, ``"7m"``). An unknown key, a missing key or a
bad value (out of its range, infinite, NaN) is a ``ConfigError`` that names the key: the ranges the
roles do not check themselves are in ``FIELD_RANGES`` and ``CROSS_CHECKS`` below, each with its reason.

Every mistake of a file is found in one pass, not only the first: ``validate_config`` returns them all
(each a ``ConfigError`` with its key; an unknown key names the nearest known one), and
``parse_config``/``load_config`` raise one ``ConfigError`` whose message lists them all, one a line
(its ``key`` is the first one's, its ``errors`` the list). ``key_line`` finds the line of a key in the
text (tomllib gives no positions): what ``mip6fast check`` prints beside each mistake.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import enum
import math
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Interface, IPv6Network, ip_address
from pathlib import Path

from .errors import Mip6Error
from .roles.correspondent import CorrespondentConfig
from .roles.home_agent import HomeAgentConfig
from .roles.mobile_node import MobileNodeConfig
from .roles.router import AdvertisingConfig
from .wire.icmpv6 import HomeAgentInformation, PrefixInformation

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

__all__ = ["ROLES", "SECURITY_ROLES", "ConfigError", "DaemonConfig", "InterfaceConfig", "RouteConfig",
           "EtcdSettings", "SecuritySettings", "StoreSettings", "config_keys", "key_line", "key_lines",
           "load_config", "metrics_address", "parse_config", "read_config_text", "validate_config"]

NS_PER_S = 1_000_000_000

@dataclass(frozen=True)
class RouterConfig:
    """A plain router (``mip6fast router``): it forwards by its [[routes]] and advertises by its
    [advertise.IFACE] tables, so its own section has nothing yet and may be left out."""


# The role section of each daemon and the dataclass it becomes.
ROLES: dict[str, tuple[str, type]] = {
    "ha": ("home_agent", HomeAgentConfig),
    "mn": ("mobile_node", MobileNodeConfig),
    "cn": ("correspondent", CorrespondentConfig),
    "router": ("router", RouterConfig),
}
# Roles whose home registrations are protected ([security], issue 11).
SECURITY_ROLES = frozenset({"ha", "mn"})
# Roles whose section may be left out (every key has a default).
OPTIONAL_SECTION = frozenset({"router"})

# Fields the roles keep in nanoseconds: written in seconds or with a unit in the file. Every integer
# field whose name speaks of time must be in one of these two sets (tests/test_config.py checks), so
# a new field cannot slip through with the wrong unit.
DURATION_NS_FIELDS = frozenset({
    "first_registration_timeout", "initial_bindack_timeout", "max_bindack_timeout", "refresh_lead_ns",
    "max_interval", "min_interval", "min_delay_between_ras",
    "hold_down_ns", "initial_dhaad_timeout",
    "initial_solicit_timeout",
})
SECONDS_FIELDS = frozenset({
    "lifetime", "max_lifetime", "refresh_lead", "max_binding_lifetime", "router_lifetime",
    "valid_lifetime", "preferred_lifetime", "lease_ttl",
})
# Ranges of integer fields that the role configurations do not check themselves, or check only once the
# daemon has claimed its interfaces (in C, with a traceback): (class, field) -> (lowest, highest, why).
# Durations (DURATION_NS_FIELDS) are in nanoseconds here; every other duration is bounded by
# MAX_DURATION_NS. build() checks them before constructing the class, so the message names the key.
FIELD_RANGES: dict[tuple[type, str], tuple[int, int, str]] = {
    (HomeAgentConfig, "tunnel_mtu"): (1320, 65535, (
        "the tunnel must carry a 1280-byte packet plus its 40-byte outer header without fragmenting it "
        "(RFC 2473 §7.1; MIP6_TUN_MIN_MTU in csrc/mip6_tunnel.h)")),
    (HomeAgentConfig, "max_bindings"): (1, 805_306_368, (
        "0 would refuse every registration; the C binding cache holds at most 805306368 entries "
        "(MIP6_BCACHE_MAX_ENTRIES)")),
    (CorrespondentConfig, "cache_capacity"): (1, 1 << 24, (
        "a sizing hint allocated at start (the cache grows past it): more than 16M entries would take "
        "gigabytes before the first binding")),
    (CorrespondentConfig, "cache_seed"): (0, (1 << 128) - 1, (
        "the binding cache's 16-byte SipHash key; leave it out (random per node) except in tests")),
    (CorrespondentConfig, "max_bindings"): (1, 805_306_368, (
        "0 would refuse every binding; the C binding cache holds at most 805306368 entries "
        "(MIP6_BCACHE_MAX_ENTRIES)")),
    (CorrespondentConfig, "max_binding_lifetime"): (4, 0xFFFF * 4, (
        "seconds; the wire's lifetime is 16 bits of 4-second units (RFC 6275 §6.1.7), and less than one "
        "unit would grant every binding a lifetime of 0, which deletes it")),
    (AdvertisingConfig, "max_interval"): (70_000_000, 1800 * NS_PER_S, (
        "MaxRtrAdvInterval: at least 70 ms (RFC 6275 §7.5), at most 1800 s (RFC 4861 §6.2.1)")),
    (AdvertisingConfig, "min_interval"): (30_000_000, 1800 * NS_PER_S, (
        "MinRtrAdvInterval: at least 30 ms (RFC 6275 §7.5)")),
    (AdvertisingConfig, "min_delay_between_ras"): (30_000_000, 1800 * NS_PER_S, (
        "MinDelayBetweenRAs: at least 30 ms (RFC 6275 §7.5)")),
    (AdvertisingConfig, "router_lifetime"): (0, 9000, (
        "seconds, 0 (not a default router) .. 9000 (RFC 4861 §6.2.1 AdvDefaultLifetime)")),
    (AdvertisingConfig, "cur_hop_limit"): (0, 255, "an 8-bit field of the RA (0: unspecified)"),
    (AdvertisingConfig, "reachable_time"): (0, 3_600_000, (
        "milliseconds, at most one hour (RFC 4861 §6.2.1 AdvReachableTime)")),
    (AdvertisingConfig, "retrans_timer"): (0, 0xFFFFFFFF, "milliseconds, a 32-bit field of the RA"),
    (HomeAgentInformation, "lifetime"): (1, 0xFFFF, (
        "seconds, a 16-bit field; 0 must not be sent (RFC 6275 §7.4)")),
}


def _refresh_lead_below_max_lifetime(c: HomeAgentConfig):
    # A lead of max_lifetime or more would never send the Binding Refresh Request nor advise a refresh
    # interval (home_agent.py only schedules one when the granted lifetime exceeds the lead).
    if c.refresh_lead is not None and c.refresh_lead >= c.max_lifetime:
        return "refresh_lead", f"{c.refresh_lead} s must be less than max_lifetime ({c.max_lifetime} s)"
    return None


def _preferred_within_valid(c: PrefixInformation):
    # A host ignores a prefix whose preferred lifetime exceeds its valid lifetime (RFC 4862 §5.5.3 c).
    if c.preferred_lifetime > c.valid_lifetime:
        return "preferred_lifetime", (f"{c.preferred_lifetime} s is more than valid_lifetime "
                                      f"({c.valid_lifetime} s): hosts would ignore the prefix")
    return None


# Rules between the fields of one object, checked after it is built: class -> functions returning
# (field, message) for a mistake, or None.
CROSS_CHECKS: dict[type, tuple] = {
    HomeAgentConfig: (_refresh_lead_below_max_lifetime,),
    PrefixInformation: (_preferred_within_valid,),
}


def _check_range(cls, name: str, value, key: str) -> None:
    rule = FIELD_RANGES.get((cls, name))
    if rule is None or value is None:
        return
    low, high, why = rule
    if not low <= value <= high:
        if name in DURATION_NS_FIELDS:
            shown, bounds = f"{value / NS_PER_S:g} s", f"{low / NS_PER_S:g} s .. {high / NS_PER_S:g} s"
        else:
            shown, bounds = f"{value}", f"{low} .. {_number(high)}"
        raise ConfigError(key, f"{shown} is out of range {bounds}: {why}")


def _number(n: int) -> str:
    return f"2^{n.bit_length()}-1" if n > 1 << 40 and (n + 1) & n == 0 else str(n)


# Fields that take code or runtime state, not configuration.
# valid_until: an absolute deadline, runtime state
NOT_CONFIGURABLE = frozenset({"accept_binding_update", "valid_until"})

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NS_PER_S, "m": 60 * NS_PER_S, "h": 3600 * NS_PER_S,
          "d": 86400 * NS_PER_S}
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(ns|us|ms|s|m|h|d)\s*$")
# The longest duration anywhere: the wire's longest lifetimes are 32-bit counts of seconds (prefix
# lifetimes, RFC 4861 §4.6.2), and the monotonic clock plus 2^32 s still fits the signed 64-bit
# nanosecond counts the C binding cache and the timers use. Anything longer (1e30, inf) is a mistake.
MAX_DURATION_NS = (1 << 32) * NS_PER_S


class ConfigError(Mip6Error, ValueError):
    """A configuration file that cannot be used. ``key`` is the dotted path of the culprit
    (``home_agent.max_lifetime``, ``interfaces.eth0.addresses[1]``), or empty for the file as a whole.
    ``errors`` lists every mistake found (``[self]`` for a single one); several are raised as one
    ``ConfigError.of(errors)``, whose message has one line per mistake, the first one's key first."""

    def __init__(self, key: str, message: str, errors: list[ConfigError] | None = None):
        self.key = key
        self.message = message
        self.errors: list[ConfigError] = list(errors) if errors else [self]
        super().__init__(f"{key}: {message}" if key else message)

    @classmethod
    def of(cls, errors: list[ConfigError]) -> ConfigError:
        """One error standing for ``errors`` (each may itself stand for several)."""
        flat = [e for error in errors for e in error.errors]
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        return cls(first.key, "\n".join([first.message, *(str(e) for e in flat[1:])]), flat)


_FAILED = object()    # what _gather returns for a value that had mistakes (recorded in its list)


def _gather(errors: list[ConfigError], fn, *args):
    """``fn(*args)``, or _FAILED with its mistakes appended to ``errors``."""
    try:
        return fn(*args)
    except ConfigError as exc:
        errors.extend(exc.errors)
        return _FAILED


def _suggest(name: str, known) -> str:
    """" (did you mean 'x'?)" for the nearest known name, or ""."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class InterfaceConfig:
    """A wire interface the engine owns: its addresses (with prefix lengths) and MTU; ``mac`` is read
    from the interface when not given."""
    addresses: tuple[IPv6Interface, ...] = ()
    mtu: int = 1500
    mac: str | None = None

    def __post_init__(self):
        if not 1280 <= self.mtu <= 65535:
            raise ValueError(f"mtu must be in 1280..65535 (IPv6 minimum MTU), got {self.mtu}")
        if self.mac is not None and not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", self.mac):
            raise ValueError(f"mac must look like 02:00:00:00:00:01, got {self.mac!r}")


# Checked with the other fields (the class checks it too, but only once every field converted).
FIELD_RANGES[(InterfaceConfig, "mtu")] = (1280, 65535, "the IPv6 minimum MTU is 1280 (RFC 8200 §5)")


@dataclass(frozen=True)
class RouteConfig:
    prefix: IPv6Network
    interface: str
    via: IPv6Address | None = None


@dataclass(frozen=True)
class DaemonSettings:
    control_socket: str | None = None
    pcap: str | None = None
    log_level: str = "info"
    tun: str | None = None
    # "packet": a packet socket per interface (one system call per frame, works everywhere); "ring":
    # AF_PACKET TPACKET_V3 rings (mip6fast.io.ring: frames land in batches without a system call each).
    io: str = "packet"
    # With io = "ring": true reads TPACKET_V2 receive rings in place (mip6fast.io.ring, docs/RING.md): the
    # data path rewrites each frame where the kernel wrote it and the one copy is into the transmit ring.
    # false (the default): TPACKET_V3 rings whose frames are first copied into a batch, which measured
    # as fast or faster on veth (README "Benchmarks": the V3 block layout costs the kernel and the cache
    # less than the copy it saves); try true on a NIC with large frames.
    receive_in_place: bool = False
    # The home agent's forwarding workers (issue 17): 1, today's single process; N > 1: N worker
    # processes, each with its own AF_PACKET rings joined to a PACKET_FANOUT group (hash mode) per
    # interface, running the data-plane graph over the binding cache and adjacency table the signalling
    # process keeps in shared memory (csrc/mip6_shm.h); the frames they cannot forward (signalling, ND,
    # errors) come to the signalling process through a bounded queue. Needs io = "ring" and role ha.
    workers: int = 1
    # Where the daemon records the kernel settings it changed before changing them (kernel.json), so a
    # restart after a crash restores the true originals. None: beside the control socket, named after
    # it (/run/mip6fast/ha.sock -> /run/mip6fast/ha/): unique per daemon, as its socket must be.
    state_dir: str | None = None
    # The per-interface locks (mip6fast.daemon_state.interface_lock): every daemon on the machine must
    # use the same directory for them to exclude each other, so change it for all daemons or none.
    lock_dir: str = "/run/mip6fast/locks"
    # "text" (time logger level message) or "json" (one object per line: time, level, logger, message and
    # the record's fields), on stderr; only the mip6fast loggers at log_level, the others at warning.
    log_format: str = "text"
    # A Prometheus endpoint "HOST:PORT" ("[::1]:9464" for IPv6), or None: off. The counters and bindings
    # it shows are the control socket's, so it listens on a loopback address unless
    # metrics_allow_remote is true.
    metrics: str | None = None
    # true: let the metrics endpoint listen on a non-loopback address (it shows what the control socket
    # shows: bindings and counters; put it behind a firewall).
    metrics_allow_remote: bool = False

    def __post_init__(self):
        for name in ("control_socket", "pcap", "tun", "state_dir", "lock_dir"):
            if getattr(self, name) == "":
                raise ValueError(f"{name} must not be empty")
        if self.io not in ("packet", "ring"):
            raise ValueError(f"io must be \"packet\" or \"ring\", got {self.io!r}")
        if not 1 <= self.workers <= 32:
            raise ValueError(f"workers must be in 1..32, got {self.workers}")
        if self.workers > 1 and self.io != "ring":
            raise ValueError(f"workers = {self.workers} needs io = \"ring\" (each worker joins a PACKET_FANOUT "
                             f"group with its own rings)")

        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ValueError(f"log_level must be debug, info, warning or error, got {self.log_level!r}")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log_format must be \"text\" or \"json\", got {self.log_format!r}")
        if self.metrics is not None:
            host, _port = metrics_address(self.metrics)
            if not self.metrics_allow_remote and not _loopback(host):
                raise ValueError(f"metrics {self.metrics!r} is not a loopback address: the endpoint shows "
                                 f"the daemon's counters and bindings to whoever reaches it; use "
                                 f"127.0.0.1 or [::1], or set metrics_allow_remote = true")


def metrics_address(text: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"``, ``"localhost:9464"`` -> (host, port); ValueError otherwise."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if m is None:
        raise ValueError(f"metrics must be HOST:PORT (\"127.0.0.1:9464\", \"[::1]:9464\"), got {text!r}")
    host, port = (m.group(1), int(m.group(2))) if m.group(1) else (m.group(3), int(m.group(4)))
    if not 1 <= port <= 65535:
        raise ValueError(f"metrics port must be in 1..65535, got {port}")
    if host != "localhost":
        try:
            ip_address(host)
        except ValueError:
            raise ValueError(f"metrics host must be an IP address or localhost, got {host!r}") from None
    return host, port


def _loopback(host: str) -> bool:
    return host == "localhost" or ip_address(host).is_loopback


# The home agent's binding store: keys of the [home_agent] section that are the daemon's, not the role's.
STORE_KEYS = ("store", "synchronous", "store_path")


@dataclass(frozen=True)
class StoreSettings:
    """``[home_agent] store``: "sqlite" (a SQLite database, by default ``bindings.db`` in the daemon's
    state directory), "etcd" (replicated on the etcd cluster of the ``[etcd]`` section) or "none"
    (bindings are lost with the process); ``synchronous``: "full" (every
    acknowledged binding survives a power loss) or "normal" (survives a crash of the process)."""
    store: str = "sqlite"
    synchronous: str = "full"
    store_path: str | None = None

    def __post_init__(self):
        if self.store not in ("sqlite", "etcd", "none"):
            raise ValueError(f"store must be \"sqlite\", \"etcd\" or \"none\", got {self.store!r}")
        if self.synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be \"full\" or \"normal\", got {self.synchronous!r}")
        if self.store_path == "":
            raise ValueError("store_path must not be empty")


@dataclass(frozen=True)
class EtcdSettings:
    """``[etcd]`` of a home agent whose ``store = "etcd"`` (mip6fast.store.etcd, README "Redundancy"):
    ``endpoints``, the client URLs of the cluster's members (``http://host:port``; on the management
    network, not the home link); ``prefix``, under which the group of home agents sharing one home
    link keeps its keys; ``timeout``, seconds per request; ``lease_ttl``, whole seconds of the active
    home agent's lease (how long a dead active holds the role); ``max_txn_ops``, the servers'
    ``--max-txn-ops`` (a larger commit is split); ``member``, this home agent's name in the group
    (default: host name and pid); ``source_address``, the management address (IPv4 or IPv6, one of
    this machine's) every connection to etcd leaves from, apart from the wire interfaces (default:
    the kernel's choice by the routing table); ``warm_standby``, whether a standby follows the
    bindings through etcd's watch and keeps its cache warm (false: a cold standby that loads every
    binding at its takeover)."""
    endpoints: tuple[str, ...] = ()
    prefix: str = "/mip6fast/default/"
    timeout: float = 2.0
    lease_ttl: int = 2
    max_txn_ops: int = 128
    member: str = ""
    source_address: str | None = None
    warm_standby: bool = True

    def __post_init__(self):
        if self.member and not self.member.isprintable():
            raise ValueError(f"member must be printable, got {self.member!r}")
        for e in self.endpoints:
            scheme, _, rest = e.partition("://")
            if scheme not in ("http", "https") or not rest:
                raise ValueError(f"endpoints: {e!r} is not a URL http://host:port or https://host:port")
        if not self.prefix.startswith("/") or not self.prefix.endswith("/"):
            raise ValueError(f"prefix must start and end with '/', got {self.prefix!r}")
        if not 0 < self.timeout <= 60:
            raise ValueError(f"timeout must be in (0, 60] seconds, got {self.timeout!r}")
        if not 1 <= self.lease_ttl <= 3600:
            raise ValueError(f"lease_ttl must be 1..3600 seconds, got {self.lease_ttl!r}")
        if not 2 <= self.max_txn_ops <= 1 << 20:
            raise ValueError(f"max_txn_ops must be 2..1048576, got {self.max_txn_ops!r}")
        if self.source_address is not None:
            try:
                address = ip_address(self.source_address)
            except ValueError:
                raise ValueError(f"source_address must be an IPv4 or IPv6 address, got "
                                 f"{self.source_address!r}") from None
            if address.is_multicast or address.is_unspecified:
                raise ValueError(f"source_address must be a unicast address of this machine, got "
                                 f"{self.source_address!r}")


@dataclass(frozen=True)
class SecuritySettings:
    """``[security]`` of the home agent and the mobile node (issue 11): ``key_file``, the manual keys
    of the ESP SAs and the RFC 4285 credentials protecting home registrations (docs/SECURITY.md "Key
    files", "RFC 4285": mode 0600 or 0400, owned by the daemon's user or root). Without it the daemon
    starts only if the role section says ``unauthenticated_registrations = true``."""
    key_file: str | None = None

    def __post_init__(self):
        if self.key_file == "":
            raise ValueError("key_file must not be empty")


@dataclass(frozen=True)
class DaemonConfig:
    """A whole configuration file: ``role`` is "ha", "mn" or "cn"; ``role_config`` the role's own
    configuration object."""
    role: str
    role_config: object
    interfaces: dict[str, InterfaceConfig]
    routes: tuple[RouteConfig, ...] = ()
    advertise: dict[str, AdvertisingConfig] = field(default_factory=dict)
    daemon: DaemonSettings = DaemonSettings()
    store: StoreSettings | None = None          # the home agent's binding store (None for other roles)
    security: SecuritySettings = SecuritySettings()
    etcd: EtcdSettings | None = None            # [etcd] of a home agent (None: no such section)


# ---------------------------------------------------------------- conversion by type hints

_DURATION_HINT = "seconds, or a string like \"300ms\", \"30s\", \"5m\""


def _duration_ns(value, key: str) -> int:
    """A duration in the file (seconds as a number, or a string with a unit) in nanoseconds: finite,
    not negative, at most MAX_DURATION_NS."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration ({_DURATION_HINT}), got {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(key, f"a duration must be finite, got {value!r}")
        if value < 0:
            raise ConfigError(key, f"a duration cannot be negative, got {value!r}")
        ns = round(value * NS_PER_S)
    elif isinstance(value, str) and _DURATION.match(value):
        m = _DURATION.match(value)
        ns = round(float(m.group(1)) * _UNITS[m.group(2)]) if math.isfinite(float(m.group(1))) else None
        if ns is None:
            raise ConfigError(key, f"a duration must be finite, got {value!r}")
    else:
        raise ConfigError(key, f"expected a duration ({_DURATION_HINT}), got {value!r}")
    if ns > MAX_DURATION_NS:
        raise ConfigError(key, f"{value!r} is longer than the longest duration allowed (2^32 s)")
    return ns


def _whole_seconds(value, key: str) -> int:
    """A field the roles keep in whole seconds (lifetimes): an integer, or a duration with a unit that
    comes to whole seconds (``"7m"``, not ``"1500ms"``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value                 # the range (negative, too large) is the field's own rule
    if isinstance(value, str) and _DURATION.match(value):
        ns = _duration_ns(value, key)
        if ns % NS_PER_S:
            raise ConfigError(key, f"{value!r} is not a whole number of seconds")
        return ns // NS_PER_S
    raise ConfigError(key, f"expected an integer (seconds) or a duration like \"30s\", got {value!r}")


_UNION_TYPES = (typing.Union, *((types.UnionType,) if hasattr(types, "UnionType") else ()))


def _hints(cls) -> dict:
    """The resolved type hints of a dataclass. Python 3.9 cannot evaluate ``X | None`` (PEP 604) in a
    postponed annotation, so there each top-level ``|`` is turned into ``typing.Union`` by hand."""
    try:
        return typing.get_type_hints(cls)
    except TypeError:
        namespace = {**vars(typing), **vars(sys.modules[cls.__module__])}
        hints = {}
        for name, annotation in cls.__annotations__.items():
            if isinstance(annotation, str):
                parts, depth, start = [], 0, 0
                for i, ch in enumerate(annotation):
                    if ch == "[":
                        depth += 1
                    elif ch == "]":
                        depth -= 1
                    elif ch == "|" and depth == 0:
                        parts.append(annotation[start:i])
                        start = i + 1
                parts.append(annotation[start:])
                resolved = [eval(p.strip(), namespace) for p in parts]
                annotation = typing.Union[tuple(resolved)] if len(resolved) > 1 else resolved[0]
            hints[name] = annotation
        return hints


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp, value, key: str, unit: str | None):
    """``value`` from the file as type ``tp``; ``unit`` is "ns" or "s" for a duration field (an int in
    the role), None otherwise."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in _UNION_TYPES:
        options = [a for a in args if a is not type(None)]
        errors: list[ConfigError] = []
        for option in options:
            try:
                return _convert(option, value, key, unit)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}")
        item = args[0] if args else object
        errors = []
        items = [_gather(errors, _convert, item, v, f"{key}[{i}]", unit) for i, v in enumerate(value)]
        if errors:
            raise ConfigError.of(errors)
        return tuple(items) if origin is tuple else items
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {value!r}")
        key_type, value_type = args if args else (str, object)
        errors = []
        pairs = [(_gather(errors, _convert, key_type, k, f"{key}.{k}", None),
                  _gather(errors, _convert, value_type, v, f"{key}.{k}", unit)) for k, v in value.items()]
        if errors:
            raise ConfigError.of(errors)
        return dict(pairs)
    if origin in (frozenset, set):
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}")
        errors = []
        members = [_gather(errors, _convert, args[0] if args else object, v, f"{key}[{i}]", unit)
                   for i, v in enumerate(value)]
        if errors:
            raise ConfigError.of(errors)
        return frozenset(members)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if unit == "ns":
            return _duration_ns(value, key)
        if unit == "s":
            return _whole_seconds(value, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(key, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return value
    if tp in (IPv6Address, IPv6Network, IPv6Interface):
        if not isinstance(value, str):
            raise ConfigError(key, f"expected an IPv6 {_kind(tp)} as a string, got {value!r}")
        try:
            return tp(value)
        except ValueError as exc:
            raise ConfigError(key, f"not an IPv6 {_kind(tp)}: {exc}") from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if value in (member.name, member.name.lower(), member.value):
                return member
        raise ConfigError(key, f"expected one of {', '.join(m.name.lower() for m in tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    raise ConfigError(key, f"cannot be set from a configuration file ({_type_name(tp)})")


def _kind(tp) -> str:
    return {IPv6Address: "address", IPv6Network: "prefix", IPv6Interface: "address/prefix length"}[tp]


def build(cls, table, path: str):
    """An instance of dataclass ``cls`` from a TOML table; errors name the key under ``path``."""
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table, got {table!r}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in NOT_CONFIGURABLE}
    errors: list[ConfigError] = []
    for name in table:
        if name not in fields:
            errors.append(ConfigError(_join(path, name), f"unknown key{_suggest(name, fields)} "
                                                         f"(known: {', '.join(sorted(fields))})"))
    kwargs = {}
    for name, value in table.items():
        if name in fields:
            converted = _gather(errors, _convert, hints[name], value, _join(path, name), _unit(name))
            if converted is not _FAILED and _gather(errors, _check_range, cls, name, converted,
                                                    _join(path, name)) is not _FAILED:
                kwargs[name] = converted
    for n, f in fields.items():
        if n not in table and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(ConfigError(_join(path, n), "missing (required)"))
    if errors:
        raise ConfigError.of(errors)
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        # The role configs start their messages with the field name when one field is at fault.
        culprit = next((n for n in sorted(kwargs, key=len, reverse=True) if text.startswith(n)), None)
        raise ConfigError(_join(path, culprit) if culprit else path, text) from None
    for check in CROSS_CHECKS.get(cls, ()):
        mistake = check(obj)
        if mistake is not None:
            errors.append(ConfigError(_join(path, mistake[0]), mistake[1]))
    if errors:
        raise ConfigError.of(errors)
    return obj


def _unit(name: str) -> str | None:
    return "ns" if name in DURATION_NS_FIELDS else "s" if name in SECONDS_FIELDS else None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# ---------------------------------------------------------------- the file

def parse_config(text: str, role: str) -> DaemonConfig:
    """A configuration file's text for daemon ``role`` ("ha", "mn", "cn" or "router"); raises one
    ConfigError listing every mistake."""
    config, errors = _parse(text, role)
    if errors:
        raise ConfigError.of(errors)
    assert config is not None
    return config


def validate_config(text: str, role: str) -> tuple[DaemonConfig | None, list[ConfigError]]:
    """(the configuration, or None, and every mistake of it, in the file's order of sections)."""
    return _parse(text, role)


def _parse(text: str, role: str) -> tuple[DaemonConfig | None, list[ConfigError]]:
    if role not in ROLES:
        return None, [ConfigError("", f"unknown role {role!r} ({', '.join(ROLES)})")]
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigError("", f"not valid TOML: {exc}")]
    errors: list[ConfigError] = []
    section, cls = ROLES[role]
    known = {"daemon", "interfaces", "routes", "advertise", section}
    if role in SECURITY_ROLES:
        known.add("security")
    if role == "ha":
        known.add("etcd")
    for key in doc:
        if key not in known:
            others = [s for s, _ in ROLES.values() if s != section]
            hint = f" (a [{key}] section belongs to another daemon)" if key in others else _suggest(key, known)
            errors.append(ConfigError(key, f"unknown section{hint}; known: {', '.join(sorted(known))}"))
    if section not in doc and role not in OPTIONAL_SECTION:
        errors.append(ConfigError(section, "missing (required)"))
    interfaces = doc.get("interfaces", {})
    ifaces: dict[str, InterfaceConfig] = {}
    names: set[str] = set()            # every interface named, even one whose table has mistakes
    if not isinstance(interfaces, dict) or not interfaces:
        errors.append(ConfigError("interfaces", "at least one [interfaces.NAME] table is required"))
    else:
        names = set(interfaces)
        for name, table in interfaces.items():
            iface = _gather(errors, build, InterfaceConfig, table, f"interfaces.{name}")
            if iface is not _FAILED:
                ifaces[name] = iface

    def known_interface(key: str, value) -> None:
        if names and value not in names:
            errors.append(ConfigError(key, f"{value!r} is not one of the [interfaces]{_suggest(str(value), names)}"))

    routes = doc.get("routes", [])
    route_list = []
    if not isinstance(routes, list):
        errors.append(ConfigError("routes", "expected an array of tables ([[routes]])"))
    else:
        for i, r in enumerate(routes):
            route = _gather(errors, build, RouteConfig, r, f"routes[{i}]")
            if route is not _FAILED:
                known_interface(f"routes[{i}].interface", route.interface)
                route_list.append(route)
    advertise = doc.get("advertise", {})
    adverts = {}
    if not isinstance(advertise, dict):
        errors.append(ConfigError("advertise", "expected tables [advertise.INTERFACE]"))
    else:
        for name, table in advertise.items():
            if names and name not in names:
                errors.append(ConfigError(f"advertise.{name}", f"{name!r} is not one of the [interfaces]"
                                                               f"{_suggest(name, names)}"))
                continue
            advert = _gather(errors, build, AdvertisingConfig, table, f"advertise.{name}")
            if advert is not _FAILED:
                adverts[name] = advert
    role_config: object = _FAILED
    store = None
    if section in doc or role in OPTIONAL_SECTION:
        table = doc.get(section, {})
        if role == "ha" and isinstance(table, dict):
            store = _gather(errors, build, StoreSettings, {k: v for k, v in table.items() if k in STORE_KEYS},
                            section)
            table = {k: v for k, v in table.items() if k not in STORE_KEYS}
        role_config = _gather(errors, build, cls, table, section)
        for key in ("interface",):        # checked on the file's value: reported beside the section's other mistakes
            value = table.get(key) if isinstance(table, dict) else None
            if isinstance(value, str):
                known_interface(f"{section}.{key}", value)
    daemon = _gather(errors, build, DaemonSettings, doc.get("daemon", {}), "daemon")
    security = _gather(errors, build, SecuritySettings, doc.get("security", {}), "security")
    etcd = _gather(errors, build, EtcdSettings, doc["etcd"], "etcd") if "etcd" in doc else None
    if isinstance(daemon, DaemonSettings) and daemon.workers > 1 and role != "ha":
        errors.append(ConfigError("daemon.workers", f"forwarding workers are the home agent's; a {role} daemon "
                                                    f"runs one process (workers = 1)"))
    if isinstance(store, StoreSettings) and store.store == "etcd" and \
            (not isinstance(etcd, EtcdSettings) or not etcd.endpoints):
        errors.append(ConfigError("etcd.endpoints", "store = \"etcd\" needs the cluster's client URLs "
                                                    "([etcd] endpoints = [\"http://host:2379\", ...])"))
    if errors:
        return None, errors
    return DaemonConfig(role, role_config, ifaces, tuple(route_list), adverts, daemon, store, security, etcd), []


def read_config_text(path) -> str:
    """The text of a configuration file; ConfigError (key "") when it cannot be read."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError("", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path} is not UTF-8 text: {exc}") from None


def load_config(path, role: str) -> DaemonConfig:
    return parse_config(read_config_text(path), role)


# ---------------------------------------------------------------- where a key is written

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_BARE_OR_QUOTED = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_ASSIGNMENT = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_KEY_PART = re.compile(r"[A-Za-z0-9_-]+|\"([^\"]*)\"|'([^']*)'")


def _key_parts(dotted: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(0)
            for m in _KEY_PART.finditer(dotted)]


def key_lines(text: str) -> dict[str, int]:
    """Every table header and key assignment of a TOML text under the dotted path ``ConfigError``
    names it by (``home_agent.max_lifetime``, ``routes[1].via``), with its line (from 1). A scan of
    the lines, not a TOML parser: keys inside multi-line strings may be seen too, which only matters
    for finding a line to show."""
    lines: dict[str, int] = {}
    table: str = ""
    arrays: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            path = ".".join(_key_parts(header.group(2)))
            if header.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                table = f"{path}[{arrays[path]}]"
            else:
                table = path
            lines.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            key = _join(table, ".".join(_key_parts(assignment.group(1))))
            lines.setdefault(key, number)
    return lines


def key_line(text: str, key: str) -> int | None:
    """The line of ``key`` (a ConfigError's key) in ``text``: where it is assigned, or else where the
    nearest enclosing table or array is (an item of an inline array, a missing key: its table)."""
    if not key:
        return None
    lines = key_lines(text)
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def config_keys(config: DaemonConfig) -> dict[str, object]:
    """Every setting of a loaded configuration under the dotted key the file gives it
    (``home_agent.max_lifetime``, ``interfaces.eth0.mtu``, ``advertise.eth0.prefixes[0].valid_lifetime``):
    what a reload compares, key by key."""
    out: dict[str, object] = {}
    section = ROLES[config.role][0]
    for f in dataclasses.fields(config):
        if f.name != "role":
            _flatten(getattr(config, f.name), section if f.name in ("role_config", "store") else f.name, out)
    return out


def _flatten(value, key: str, out: dict) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in NOT_CONFIGURABLE:
                _flatten(getattr(value, f.name), _join(key, f.name), out)
    elif isinstance(value, collections.abc.Mapping):
        for k, v in value.items():
            _flatten(v, f"{key}.{k}", out)
    elif isinstance(value, (list, tuple)) and any(dataclasses.is_dataclass(v) for v in value):
        for i, v in enumerate(value):    # one added or removed: its keys are on one side only
            _flatten(v, f"{key}[{i}]", out)
    else:
        out[key] = value
