"""``mip6fast check CONFIG [--role ROLE]`` and ``mip6fast ha|mn|cn|router --config FILE --check``:
validate a daemon configuration without touching an interface and without root.

Everything the daemon would refuse before claiming its interfaces is reported, every mistake at once:
the configuration itself (``mip6fast.config.validate_config``: each mistake with its key, the line it
is on, and the nearest known key for a misspelt one), and, for the home agent and the mobile node, the
protection of home registrations: the key file named by ``[security] key_file`` is opened and parsed
as the daemon would (its permissions, owner, every association and credential; relative paths are
taken from the current directory, as the daemon takes them) and only counted, never printed; without
a key file the role section must say ``unauthenticated_registrations = true``.

The role is the one whose section the file has (``--role`` when it cannot be told). Exit status: 0
when the file can be used, 1 when it cannot, 2 for a usage mistake (no role, unreadable arguments).
"""
from __future__ import annotations

import errno
import re
import socket
import sys
from dataclasses import dataclass, field
from ipaddress import ip_address
from urllib.parse import urlsplit

from .config import ROLES, SECURITY_ROLES, ConfigError, DaemonConfig, key_line, read_config_text, validate_config
from .security import KeyFileError, load_protection

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

__all__ = ["CheckReport", "Problem", "RoleUnknown", "check_config_file", "guess_role"]

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


class RoleUnknown(ValueError):
    """The file's role cannot be told from its sections: give it (``--role``)."""


@dataclass(frozen=True)
class Problem:
    """One mistake: its dotted key ("" for the file as a whole), its line (None when not known)."""
    key: str
    line: int | None
    message: str

    def format(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {"key": self.key, "line": self.line, "message": self.message}


@dataclass
class CheckReport:
    path: str
    role: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # what was found, for an "ok" answer
    config: DaemonConfig | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"path": self.path, "role": self.role, "ok": self.ok,
                "errors": [p.as_dict() for p in self.problems], "notes": self.notes}


def guess_role(text: str) -> str:
    """The daemon a configuration is for, from the role section it has: "router" when it has none (the
    only role whose section may be left out); RoleUnknown when it has several."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise RoleUnknown("not valid TOML, so no role can be told from it") from None
    found = [role for role, (section, _) in ROLES.items() if section in doc]
    if len(found) == 1:
        return found[0]
    if not found:
        return "router"            # the only daemon whose section may be left out
    raise RoleUnknown(f"several role sections ({', '.join(f'[{ROLES[r][0]}]' for r in found)}): give --role")


def _problem(text: str, error: ConfigError) -> Problem:
    line = key_line(text, error.key)
    if line is None:
        m = _TOML_POSITION.search(error.message)
        line = int(m.group(1)) if m else None
    return Problem(error.key, line, error.message)


def _protection(text: str, config: DaemonConfig, report: CheckReport) -> None:
    """The daemon's check of ``[security]`` (daemon.Daemon._protection), without starting anything."""
    if config.role not in SECURITY_ROLES:
        return
    section = ROLES[config.role][0]
    key_file = config.security.key_file
    if key_file is None:
        if getattr(config.role_config, "unauthenticated_registrations", False):
            report.notes.append(f"UNAUTHENTICATED home registrations ([{section}] "
                                "unauthenticated_registrations = true): for a lab only")
            return
        report.problems.append(Problem(
            "security.key_file", key_line(text, "security"),
            f"missing: no protection for home registrations (a key file with ESP associations or RFC 4285 "
            f"[[mn_ha]] credentials, docs/SECURITY.md; or, in a lab only, [{section}] "
            f"unauthenticated_registrations = true); the daemon would not start"))
        return
    try:
        spd, mn_ha = load_protection(key_file, config.role)
    except KeyFileError as exc:
        report.problems.append(Problem("security.key_file", key_line(text, "security.key_file"), str(exc)))
        return
    report.notes.append(f"key file {key_file}: {len(spd)} ESP security association{'s' * (len(spd) != 1)}, "
                        f"{len(mn_ha)} RFC 4285 credential{'s' * (len(mn_ha) != 1)}")


def _management(text: str, config: DaemonConfig, report: CheckReport) -> None:
    """``[etcd] source_address``: the control plane's connections to etcd leave from a management
    address apart from the wire interfaces (issue 16). It must be an address of this machine (a socket
    can be bound to it: the daemon's would be refused otherwise), not one configured on a wire interface
    (the engine owns those: the kernel's IPv6 is off there), and of the endpoints' family."""
    etcd = config.etcd
    if etcd is None or etcd.source_address is None:
        return
    key = "etcd.source_address"
    line = key_line(text, key)
    source = ip_address(etcd.source_address)
    wire = {str(a.ip): name for name, i in config.interfaces.items() for a in i.addresses}
    if str(source) in wire:
        report.problems.append(Problem(key, line, f"{source} is configured on the wire interface "
                                                  f"{wire[str(source)]}: the management address must be apart"))
        return
    for endpoint in etcd.endpoints:
        host = urlsplit(endpoint).hostname or ""
        try:
            family = ip_address(host).version
        except ValueError:
            continue                    # a name: resolved by the daemon
        if family != source.version:
            report.problems.append(Problem(key, line, f"IPv{source.version} address, but endpoint {endpoint} "
                                                      f"is IPv{family}: no connection can leave from it"))
            return
    family = socket.AF_INET6 if source.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(source), 0))
        except OSError as exc:
            why = ("not an address of this machine" if exc.errno == errno.EADDRNOTAVAIL
                   else exc.strerror or str(exc))
            report.problems.append(Problem(key, line, f"{source}: {why}; the daemon could not reach etcd from "
                                                      f"it"))
            return
    report.notes.append(f"connections to etcd leave from {source} (management address)")


def check_config_file(path: str, role: str | None = None) -> CheckReport:
    """Every mistake of the configuration file ``path`` for ``role`` (guessed from its sections when
    None: RoleUnknown when it cannot be). Touches no interface; opens only the file and its key file."""
    try:
        text = read_config_text(path)
    except ConfigError as exc:
        return CheckReport(path, role or "?", [Problem("", None, exc.message)])
    if role is None:
        role = guess_role(text)
    report = CheckReport(path, role)
    config, errors = validate_config(text, role)
    # In the file's order (mistakes without a line last), as a compiler lists them.
    problems = [_problem(text, e) for e in errors]
    report.problems.extend(sorted(problems, key=lambda p: (p.line is None, p.line or 0)))
    if config is not None:
        report.config = config
        report.notes.insert(0, f"{role}: interfaces {', '.join(config.interfaces)}; {len(config.routes)} "
                               f"route{'s' * (len(config.routes) != 1)}; advertising on "
                               f"{', '.join(config.advertise) or 'no interface'}")
        _protection(text, config, report)
        _management(text, config, report)
    return report
