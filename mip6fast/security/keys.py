"""Manual keying from a key file (RFC 3776: manual keying must work; RFC 4877 adds IKEv2 later).

One TOML file describes the SA pairs of one or more mobile nodes; the same file (or the mobile node's
own part of it) is installed on the home agent and on the mobile node, and ``load_key_file(path,
role)`` turns it into SAs from that node's point of view: on the home agent ``mn_to_ha`` is inbound and
``ha_to_mn`` outbound, on the mobile node the other way round.

    [[association]]
    home_address = "2001:db8:1::9"
    home_agent = "2001:db8:1::1"
    algorithm = "aes-128-gcm"          # aes-256-gcm, aes-128-cbc-hmac-sha256, aes-256-cbc-hmac-sha256,
                                       # null-hmac-sha256
    mode = "transport"                 # optional; "tunnel" for the reverse tunnel
    replay_window = 64                 # optional, 64..4096
    extended_sequence_numbers = false  # optional; both ends must agree
    mn_to_ha = { spi = 0x1001, encryption_key = "<40 hex digits: key + salt>" }
    ha_to_mn = { spi = 0x1002, encryption_key = "<40 hex digits>" }
    # AES-CBC: encryption_key (32 or 64 hex digits) and authentication_key (64 hex digits);
    # NULL: authentication_key only.

A home address may instead be protected by RFC 4285 (the MN-HA Mobility Message Authentication option;
``mn_ha.py``): one ``[[mn_ha]]`` table per home address, the same on both ends (one key, both directions):

    [[mn_ha]]
    home_address = "2001:db8:1::9"
    nai = "mn1@example.net"            # the mobile node's NAI (RFC 4283, RFC 4282: user@realm)
    spi = 0x2001                       # Mobility SPI, 256..2**32-1 (0-255 are reserved, RFC 4285 §5.1)
    key = "<at least 40 hex digits>"   # HMAC-SHA1 key, at least 20 bytes
    replay_window = 7                  # optional: seconds, more than 3 (RFC 4285 §6)

A home address is protected by ESP or by RFC 4285, never both: a file naming one home address in an
``[[association]]`` and an ``[[mn_ha]]`` is refused. ``load_protection`` returns both kinds.

The file is refused unless it is a regular file that only its owner (the user running the daemon, or
root) can read or write: mode 0600 or 0400. Keys never appear in an exception, a repr or ``stats()``;
errors name the path, the association and the field.
"""
from __future__ import annotations

import os
import stat
import sys
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any, Callable, NamedTuple, Union

from .algorithms import Algorithm
from .errors import KeyFileError
from .mn_ha import MnHaCredential, MnHaCredentials
from .sa import DEFAULT_REPLAY_WINDOW, Direction, Mode, SecurityAssociation
from .spd import SecurityPolicyDatabase

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

MAX_KEY_FILE = 1 << 20
ROLES = ("ha", "mn")
_ASSOCIATION_FIELDS = {"home_address", "home_agent", "algorithm", "mode", "replay_window",
                       "extended_sequence_numbers", "mn_to_ha", "ha_to_mn"}
_DIRECTION_FIELDS = {"spi", "encryption_key", "authentication_key"}
_MN_HA_FIELDS = {"home_address", "nai", "spi", "key", "replay_window"}

PathLike = Union[str, "os.PathLike[str]"]


def read_key_file(path: PathLike) -> bytes:
    """The bytes of ``path`` after checking, on the open file itself (no race with a rename), that it
    is a regular file, owned by this user or root, with no permission bits for group or others."""
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not hang the daemon; it is refused below as not a regular file.
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(name, flags)
    except OSError as exc:
        raise KeyFileError(f"key file {name}: cannot open it ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"key file {name} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077:
            raise KeyFileError(f"key file {name} has mode {mode:04o}: group and others must have no access "
                               f"to keys (chmod 600 {name})")
        if st.st_uid not in (os.geteuid(), 0):
            raise KeyFileError(f"key file {name} is owned by uid {st.st_uid}, neither this user "
                               f"({os.geteuid()}) nor root")
        if st.st_size > MAX_KEY_FILE:
            raise KeyFileError(f"key file {name} is larger than {MAX_KEY_FILE} bytes")
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise KeyFileError(f"key file {name}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{where}: expected a string of hexadecimal digits")
    digits = "".join(value.split()).replace(":", "")
    if digits[:2].lower() == "0x":
        digits = digits[2:]
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        raise KeyFileError(f"{where}: not hexadecimal digits") from None
    if key and not any(key):
        raise KeyFileError(f"{where}: an all-zero key (a placeholder?) is refused")
    return key


class KeyMaterial(NamedTuple):
    """What one key file holds, seen from one role: the ESP SAs and the RFC 4285 credentials."""
    security_associations: list[SecurityAssociation]
    mn_ha: MnHaCredentials


def _parse(text: str, name: str, role: str, rng: Callable[[int], bytes] | None) -> KeyMaterial:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages are fixed phrases with a line and column, never the offending text.
        raise KeyFileError(f"key file {name}: not valid TOML: {exc}") from None
    unknown = set(doc) - {"association", "mn_ha"}
    if unknown:
        raise KeyFileError(f"key file {name}: unknown top-level entries {sorted(unknown)}")
    entries = doc.get("association", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KeyFileError(f"key file {name}: 'association' must be an array of tables ([[association]])")
    sas: list[SecurityAssociation] = []
    for n, entry in enumerate(entries, 1):
        sas.extend(_association(entry, f"key file {name}, association {n}", role, rng))
    spis: dict[int, str] = {}
    for sa in sas:
        if sa.spi in spis:
            raise KeyFileError(f"key file {name}: SPI 0x{sa.spi:08x} is used twice")
        spis[sa.spi] = str(sa.home_address)
    entries = doc.get("mn_ha", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KeyFileError(f"key file {name}: 'mn_ha' must be an array of tables ([[mn_ha]])")
    credentials = MnHaCredentials()
    esp_homes = {sa.home_address for sa in sas}
    for n, entry in enumerate(entries, 1):
        where = f"key file {name}, mn_ha {n}"
        credential = _mn_ha(entry, where)
        if credential.home_address in esp_homes:
            # The policy binds one mechanism to each home address (docs/SECURITY.md "RFC 4285").
            raise KeyFileError(f"{where} ({credential.home_address}): this home address also has an ESP "
                               f"association; protect it by ESP or by RFC 4285, not both")
        try:
            credentials.add(credential)
        except ValueError as exc:
            raise KeyFileError(f"{where}: {exc}") from None
    return KeyMaterial(sas, credentials)


def _mn_ha(entry: dict[str, Any], where: str) -> MnHaCredential:
    unknown = set(entry) - _MN_HA_FIELDS
    if unknown:
        raise KeyFileError(f"{where}: unknown fields {sorted(unknown)}")
    for field in ("home_address", "nai", "spi", "key"):
        if field not in entry:
            raise KeyFileError(f"{where}: '{field}' is missing")
    if not isinstance(entry["home_address"], str):
        raise KeyFileError(f"{where}: home_address must be an IPv6 address")
    try:
        home = IPv6Address(entry["home_address"])
    except ValueError:
        raise KeyFileError(f"{where}: home_address must be an IPv6 address") from None
    where = f"{where} ({home})"
    spi = entry["spi"]
    if not isinstance(spi, int) or isinstance(spi, bool):
        raise KeyFileError(f"{where}: spi must be an integer")
    key = _hex(entry["key"], f"{where}, key")
    window = {"replay_window": entry["replay_window"]} if "replay_window" in entry else {}
    try:
        return MnHaCredential(home, entry["nai"], spi, key, **window)
    except ValueError as exc:
        # MnHaCredential's messages give lengths and ranges, never key bytes.
        raise KeyFileError(f"{where}: {exc}") from None


def _association(entry: dict[str, Any], where: str, role: str,
                 rng: Callable[[int], bytes] | None) -> list[SecurityAssociation]:
    unknown = set(entry) - _ASSOCIATION_FIELDS
    if unknown:
        raise KeyFileError(f"{where}: unknown fields {sorted(unknown)}")
    for field in ("home_address", "home_agent", "algorithm", "mn_to_ha", "ha_to_mn"):
        if field not in entry:
            raise KeyFileError(f"{where}: '{field}' is missing")
    try:
        home = IPv6Address(entry["home_address"])
        agent = IPv6Address(entry["home_agent"])
    except (ValueError, TypeError):
        raise KeyFileError(f"{where}: home_address and home_agent must be IPv6 addresses") from None
    where = f"{where} ({home})"
    try:
        algorithm = Algorithm(entry["algorithm"])
    except ValueError:
        raise KeyFileError(f"{where}: algorithm must be one of {[a.value for a in Algorithm]}") from None
    try:
        mode = Mode(entry.get("mode", "transport"))
    except ValueError:
        raise KeyFileError(f"{where}: mode must be 'transport' or 'tunnel'") from None
    window = entry.get("replay_window", DEFAULT_REPLAY_WINDOW)
    esn = entry.get("extended_sequence_numbers", False)
    if not isinstance(window, int) or isinstance(window, bool) or not isinstance(esn, bool):
        raise KeyFileError(f"{where}: replay_window must be an integer, extended_sequence_numbers a boolean")
    out = []
    for flow in ("mn_to_ha", "ha_to_mn"):
        spec = entry[flow]
        at = f"{where}, {flow}"
        if not isinstance(spec, dict):
            raise KeyFileError(f"{at}: expected a table with spi and keys")
        unknown = set(spec) - _DIRECTION_FIELDS
        if unknown:
            raise KeyFileError(f"{at}: unknown fields {sorted(unknown)}")
        spi = spec.get("spi")
        if not isinstance(spi, int) or isinstance(spi, bool):
            raise KeyFileError(f"{at}: spi must be an integer")
        encryption_key = _hex(spec.get("encryption_key", ""), f"{at}, encryption_key")
        authentication_key = _hex(spec.get("authentication_key", ""), f"{at}, authentication_key")
        from_mn = flow == "mn_to_ha"
        inbound = from_mn == (role == "ha")
        try:
            out.append(SecurityAssociation(
                spi, Direction.INBOUND if inbound else Direction.OUTBOUND, algorithm,
                source=home if from_mn else agent, destination=agent if from_mn else home,
                home_address=home, mode=mode, encryption_key=encryption_key,
                authentication_key=authentication_key, replay_window=window, esn=esn, rng=rng))
        except ValueError as exc:
            # SecurityAssociation's messages give lengths and ranges, never key bytes.
            raise KeyFileError(f"{at}: {exc}") from None
    return out


def _load(path: PathLike, role: str, rng: Callable[[int], bytes] | None) -> KeyMaterial:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    name = os.fspath(path)
    data = read_key_file(name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"key file {name} is not UTF-8 text") from None
    return _parse(text, name, role, rng)


def load_key_file(path: PathLike, role: str, *,
                  rng: Callable[[int], bytes] | None = None) -> list[SecurityAssociation]:
    """The SAs ``path`` describes, seen from ``role`` ("ha" or "mn"). Raises KeyFileError (its RFC 4285
    entries are checked too; ``load_protection`` returns them)."""
    return _load(path, role, rng).security_associations


def _policy(path: PathLike, sas: list[SecurityAssociation]) -> SecurityPolicyDatabase:
    spd = SecurityPolicyDatabase()
    for sa in sas:
        try:
            spd.add(sa)
        except ValueError as exc:
            raise KeyFileError(f"key file {Path(os.fspath(path))}: {exc}") from None
    return spd


def load_security_policy(path: PathLike, role: str, *,
                         rng: Callable[[int], bytes] | None = None) -> SecurityPolicyDatabase:
    """A ``SecurityPolicyDatabase`` holding the SAs of ``load_key_file(path, role)``."""
    return _policy(path, load_key_file(path, role, rng=rng))


class Protection(NamedTuple):
    """A key file's protection of home registrations: ``spd`` (the ESP SAs) and ``mn_ha`` (the RFC 4285
    credentials), each home address in exactly one of them."""
    spd: SecurityPolicyDatabase
    mn_ha: MnHaCredentials


def load_protection(path: PathLike, role: str, *,
                    rng: Callable[[int], bytes] | None = None) -> Protection:
    """Both kinds of protection ``path`` describes, seen from ``role`` ("ha" or "mn"): what a daemon
    loads. Raises KeyFileError."""
    material = _load(path, role, rng)
    return Protection(_policy(path, material.security_associations), material.mn_ha)
