"""The reference of every configuration key, generated from the configuration classes into
``docs/CONFIG.md``:

    mip6fast check --reference > docs/CONFIG.md      # regenerate it

(tests/test_config_docs.py fails when the file and the classes differ, and when a key has no meaning.)

Each key's type and default come from the dataclass field and its type hint, converted as
``mip6fast.config`` converts them (durations, whole seconds, addresses, nested tables); its range
from ``FIELD_RANGES``; its meaning from ``MEANINGS`` below (for the fields whose class says nothing
or little about them), or else from the class itself: the comment on the field's line or the comment
lines just above it, or the clause of the class docstring about it (````name````: ...).
"""
from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import typing
from typing import Any
from ipaddress import IPv6Address, IPv6Interface, IPv6Network

from .config import (
    _UNION_TYPES,
    DURATION_NS_FIELDS,
    FIELD_RANGES,
    NOT_CONFIGURABLE,
    NS_PER_S,
    ROLES,
    SECONDS_FIELDS,
    STORE_KEYS,
    DaemonSettings,
    EtcdSettings,
    InterfaceConfig,
    RouteConfig,
    SecuritySettings,
    StoreSettings,
    _hints,
)
from .roles.router import AdvertisingConfig

__all__ = ["MEANINGS", "SECTIONS", "KeyDoc", "key_docs", "render_markdown"]

# Meanings of the fields whose class neither comments them nor says enough in its docstring:
# (class name, field) -> meaning (tests/test_config_docs.py checks each names a documented field).
MEANINGS: dict[tuple[str, str], str] = {
    ("RouteConfig", "prefix"): "the destination prefix of the route (\"::/0\": the default route)",
    ("RouteConfig", "interface"): "the interface (one of [interfaces]) the route leaves by",
    ("RouteConfig", "via"): "the next-hop router's address (link-local or global); none: the prefix is on-link",
    ("InterfaceConfig", "addresses"): "the addresses of the node on this interface, with prefix lengths",
    ("InterfaceConfig", "mtu"): "the link MTU in bytes",
    ("InterfaceConfig", "mac"): "the MAC address to use; none: the interface's own",
    ("DaemonSettings", "control_socket"): "the control socket's path (`mip6fast bindings|stats --control-socket`); "
                                         "none: /run/mip6fast/ROLE.sock",
    ("DaemonSettings", "pcap"): "record every frame sent and received to this pcapng file (as `--pcap`)",
    ("DaemonSettings", "log_level"): "debug, info, warning or error (as `--log-level`)",
    ("DaemonSettings", "tun"): "the name of the TUN device delivering the node's own packets; none: the "
                               "role's default",
    ("AdvertisingConfig", "prefixes"): "the Prefix Information options of the advertisements (RFC 4861 §4.6.2)",
    ("AdvertisingConfig", "max_interval"): "MaxRtrAdvInterval: the longest time between unsolicited "
                                           "advertisements (RFC 4861 §6.2.1, RFC 6275 §7.5)",
    ("AdvertisingConfig", "cur_hop_limit"): "the Cur Hop Limit the advertisements give hosts (0: unspecified)",
    ("AdvertisingConfig", "mtu_option"): "add an MTU option with the interface's MTU (RFC 4861 §4.6.4)",
    ("PrefixInformation", "prefix"): "the advertised prefix (its first prefix_length bits count)",
    ("PrefixInformation", "on_link"): "the L flag: the prefix is on the link (RFC 4861 §4.6.2)",
    ("PrefixInformation", "autonomous"): "the A flag: hosts may form addresses from it (SLAAC, RFC 4862)",
    ("HomeAgentConfig", "interface"): "the home link: the interface (one of [interfaces]) the home agent "
                                      "serves its home prefixes on",
    ("HomeAgentConfig", "home_prefixes"): "the home prefixes whose addresses may register here",
    ("HomeAgentConfig", "address"): "the home agent's own address, on a home prefix",
    ("HomeAgentConfig", "dad"): "Duplicate Address Detection of a home address on the home link before "
                                "accepting its first registration (RFC 6275 §10.3.1)",
    ("HomeAgentConfig", "tunnel_mtu"): "the MTU of the tunnel to mobile nodes (outer header included); "
                                       "larger packets get Packet Too Big",
    ("MobileNodeConfig", "first_registration_timeout"): "how long to wait for the acknowledgement of the "
                                                        "first home registration before sending again "
                                                        "(RFC 6275 §11.8 InitialBindackTimeoutFirstReg)",
    ("MobileNodeConfig", "initial_bindack_timeout"): "how long to wait for a Binding Acknowledgement before "
                                                     "the first retransmission, doubled each time up to "
                                                     "max_bindack_timeout (RFC 6275 §11.8, §13)",
    ("MobileNodeConfig", "max_bindack_timeout"): "the longest wait for a Binding Acknowledgement between "
                                                 "retransmissions (RFC 6275 §13 MAX_BINDACK_TIMEOUT)",
    ("PrefixInformation", "prefix_length"): "the prefix length in bits",
    ("HomeAgentConfig", "virtual_home_link"): "no physical home link: no proxy Neighbor Discovery and no DAD "
                                              "for home addresses (RFC 6275 §10.4.1)",
    ("CorrespondentConfig", "refresh_lead_ns"): "how long before a binding expires the Binding Refresh Request "
                                                "is sent (with refresh_requests)",
    ("HomeAddressConfig", "address"): "the home address",
    ("HomeAddressConfig", "home_agent"): "its home agent's address; none: found by Dynamic Home Agent "
                                         "Address Discovery (RFC 6275 §11.4.1)",
    ("HomeAddressConfig", "prefix_length"): "the home prefix length",
    ("StoreSettings", "store"): "the binding store (docs/DURABILITY.md): \"sqlite\" (a SQLite database) or "
                                "\"none\" (bindings are lost with the process)",
    ("SecuritySettings", "key_file"): "the key file: the manual keys of the ESP SAs and the RFC 4285 credentials "
                                      "protecting home registrations (docs/SECURITY.md \"Key files\"; mode 0600 or "
                                      "0400, owned by the daemon's user or root; `mip6fast check` loads it); none: "
                                      "the role section must say unauthenticated_registrations = true",
    ("StoreSettings", "store_path"): "the store's file; none: bindings.db in the daemon's state directory",
}

# The sections of a file: (heading, the key prefix, the class, which fields of it).
SECTIONS: tuple[tuple[str, str, type, tuple[str, ...] | None], ...] = (
    ("[daemon]", "daemon", DaemonSettings, None),
    ("[interfaces.NAME]", "interfaces.NAME", InterfaceConfig, None),
    ("[[routes]]", "routes[]", RouteConfig, None),
    ("[advertise.NAME]", "advertise.NAME", AdvertisingConfig, None),
    *((f"[{section}]", section, cls, None) for _, (section, cls) in ROLES.items()),
    ("[home_agent] (the binding store)", "home_agent", StoreSettings, STORE_KEYS),
    ("[security] (home agent, mobile node)", "security", SecuritySettings, None),
    ("[etcd] (home agent with store = \"etcd\")", "etcd", EtcdSettings, None),
)


@dataclasses.dataclass(frozen=True)
class KeyDoc:
    key: str          # home_agent.max_lifetime, advertise.NAME.prefixes[].valid_lifetime
    type: str
    default: str
    meaning: str


def _field_comments(cls) -> dict[str, str]:
    """name -> the comment on the field's line or the comment lines just above it."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        m = re.match(r"\s+([a-z_][a-z0-9_]*)\s*:[^=#]+(?:=[^#]*)?(?:#\s*(.*))?$", line)
        if m and not stripped.startswith(("def ", "return")):
            text = " ".join([*above, m.group(2) or ""]).strip()
            if text:
                out.setdefault(m.group(1), text)
        above = []
    return out


def _docstring_sentence(cls, name: str, defining: bool) -> str | None:
    """The clause of the class docstring naming ````name````: with ``defining``, only one that names
    it before its first colon (``a`` / ``b``: what they are), else any."""
    doc = inspect.getdoc(cls) or ""
    if f"``{name}``" not in doc:
        return None
    for clause in _clauses(" ".join(doc.split())):
        if f"``{name}``" not in clause:
            continue
        subjects = _SUBJECTS.match(clause)
        if not defining or (subjects and f"``{name}``" in subjects.group(1)):
            return clause.replace("``", "`")
    return None


# The fields a clause is about: the names it starts with (``a`` / ``b`` and ``c``: ...).
_SUBJECTS = re.compile(r"((?:``\w+``(?:\s*(?:/|,|and|or)\s*)?)+)[:\s]")


def _clauses(text: str) -> list[str]:
    """``text`` cut at sentence ends, semicolons and list dashes outside parentheses."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        depth += ch == "("
        depth -= ch == ")" and depth > 0
        cut = 0
        if depth == 0:
            if ch == ";" and text[i + 1:i + 2] == " ":
                cut = 1
            elif ch == "." and re.match(r"\s+[A-Z`(-]", text[i + 1:i + 3]):
                cut = 1
            elif text.startswith(" - ", i):
                cut = 3
        if cut:
            out.append(text[start:i + (ch == ".")].strip(" -"))
            start = i + cut
            i += cut
            continue
        i += 1
    out.append(text[start:].strip(" -"))
    return [c for c in out if c]


def _meaning(cls, name: str) -> str:
    if (cls.__name__, name) in MEANINGS:
        return MEANINGS[(cls.__name__, name)]
    comment = _field_comments(cls).get(name)
    if comment:
        return comment.replace("``", "`")
    return _docstring_sentence(cls, name, True) or _docstring_sentence(cls, name, False) or ""


def _type(tp, unit: str | None) -> tuple[str, Any]:
    """(how the value is written, the dataclass of a nested table or None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in _UNION_TYPES:
        options = [a for a in args if a is not type(None)]
        parts = [_type(a, unit) for a in options]
        nested = next((n for _, n in parts if n is not None), None)
        return " or ".join(p for p, _ in parts), nested
    if origin in (tuple, list, frozenset, set):
        inner, nested = _type(args[0] if args else object, unit)
        return f"list of {inner}", nested
    if origin in (dict, typing.get_origin(typing.Mapping[str, int])):
        inner, nested = _type(args[1] if args else object, unit)
        return f"table of {inner}", nested
    if tp is int:
        if unit == "ns":
            return "duration", None
        if unit == "s":
            return "whole seconds", None
        return "integer", None
    names = {bool: "boolean", float: "number", str: "string", IPv6Address: "IPv6 address",
             IPv6Network: "IPv6 prefix", IPv6Interface: "IPv6 address/length"}
    if tp in names:
        return names[tp], None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f'"{m.name.lower()}"' for m in tp), None
    if dataclasses.is_dataclass(tp):
        return "table", tp
    return getattr(tp, "__name__", str(tp)), None


def _default(f: dataclasses.Field, unit: str | None) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "required"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if unit == "ns" and isinstance(value, int):
        return f'"{value / NS_PER_S:g}s"'
    if isinstance(value, enum.Enum):
        return f'"{value.name.lower()}"'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple, frozenset, set)) and not value:
        return "[]"
    if dataclasses.is_dataclass(value):
        return "(see below)"
    if isinstance(value, (list, tuple, frozenset)):
        return "[" + ", ".join(f'"{v}"' if not isinstance(v, int) else str(v) for v in sorted(value)) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def _range(cls, name: str) -> str:
    rule = FIELD_RANGES.get((cls, name))
    if rule is None:
        return ""
    low, high, _why = rule
    if name in DURATION_NS_FIELDS:
        return f" Range {low / NS_PER_S:g} s .. {high / NS_PER_S:g} s."
    shown = f"2^{high.bit_length()}-1" if high > 1 << 40 and (high + 1) & high == 0 else str(high)
    return f" Range {low} .. {shown}."


def _unit(name: str) -> str | None:
    return "ns" if name in DURATION_NS_FIELDS else "s" if name in SECONDS_FIELDS else None


def key_docs(cls, prefix: str, only: tuple[str, ...] | None = None, _seen=None) -> list[KeyDoc]:
    """The keys of ``cls`` under ``prefix``, nested tables after their key (``prefix.key[].inner``)."""
    seen = set() if _seen is None else _seen
    hints = _hints(cls)
    out: list[KeyDoc] = []
    nested_tables: list[tuple[str, type]] = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name in NOT_CONFIGURABLE or (only is not None and f.name not in only):
            continue
        if only is None and cls is ROLES["ha"][1] and f.name in STORE_KEYS:
            continue
        unit = _unit(f.name)
        written, nested = _type(hints[f.name], unit)
        meaning = _meaning(cls, f.name).strip()
        if _range(cls, f.name):
            meaning = (meaning.rstrip(".") + "." if meaning else "") + _range(cls, f.name)
        key = f"{prefix}.{f.name}"
        out.append(KeyDoc(key, written, _default(f, unit), meaning.strip()))
        if nested is not None and nested not in seen:
            seen.add(nested)
            many = written.startswith(("list of", "table of")) or " or list of" in written
            nested_tables.append((f"{key}[]" if many else key, nested))
    for key, nested in nested_tables:
        out.extend(key_docs(nested, key, None, seen))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    lines = [
        "# Configuration keys",
        "",
        "<!-- GENERATED by `mip6fast check --reference > docs/CONFIG.md` from the configuration classes;",
        "     do not edit by hand (tests/test_config_docs.py checks it). -->",
        "",
        "Every key a daemon configuration file (`mip6fast ha|mn|cn|router --config FILE`) may hold, by",
        "section: its type, its default and what it means. `mip6fast check FILE` validates a file against",
        "them (every mistake with its key and line; README, \"Operations\"); `mip6fast example-config ROLE`",
        "prints an example. Types:",
        "",
        "- *duration*: seconds as a number (`1.5`) or a string with a unit (`\"300ms\"`, `\"30s\"`, `\"5m\"`,",
        "  `\"2h\"`; units ns, us, ms, s, m, h, d), at most 2^32 s;",
        "- *whole seconds*: an integer (`420`) or a duration that comes to whole seconds (`\"7m\"`);",
        "- *list of X*: a TOML array; *table*: a TOML table (inline `{ ... }` or a `[section]`); a key",
        "  `a[].b` is the key `b` of each table of the list `a`.",
        "",
        "*required*: the file must give it; *none*: the key may be left out (the meaning says what then).",
        "",
    ]
    for heading, prefix, cls, only in SECTIONS:
        docs = key_docs(cls, prefix, only)
        lines += [f"## {heading}", ""]
        intro = (inspect.getdoc(cls) or "").split("\n\n")[0]
        if not docs:
            lines += [" ".join(intro.split()).replace("``", "`") or "No keys.", ""]
            continue
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for d in docs:
            lines.append(f"| `{d.key}` | {_cell(d.type)} | {_cell(d.default)} | {_cell(d.meaning)} |")
        lines.append("")
    return "\n".join(lines)
