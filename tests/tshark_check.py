"""tshark as an independent judge of the pcaps mip6fast writes.

A test writes what crossed a link with ``mip6fast.io.pcap.PcapWriter`` and then asks:

    require_tshark()                    # skip without tshark; fail instead when CI is set
    assert problems(path) == []         # no malformed packet, no expert warning or error
    fields = dissect(path)[0]           # frame 1 as {field name: [string values]}
    assert fields["mip6.bu.seqnr"] == ["7"]

How tshark is run (tested against TShark 4.0.17)
- ``-T json -x``: the whole dissection tree, with the bytes behind every field (``<field>_raw``).
  tshark's JSON repeats a key when a field occurs twice in one subtree, so it is parsed keeping every
  pair (``_Obj``), never through a dict that would keep only the last one.
- Checksum validation is switched on with ``-o`` for every protocol whose checksum check is a
  preference (``CHECKSUM_PREFERENCES``, found with ``tshark -G defaultprefs | grep -i checksum``);
  those this tshark does not know are left out, as tshark refuses unknown preferences.
  ICMPv6 has no such preference: it always verifies its checksum (with the Home Address option's
  address as source and the type 2 routing header's address as destination of the pseudo-header,
  RFC 6275 §6.3/§6.4) and reports a bad one as the expert warning ``icmpv6.checksum_bad.expert``.
- The Mobility Header has no preference either, because tshark (4.0) never verifies it: the
  checksum is only displayed (``mip6.csum``, with no ``.status`` field). ``problems()`` therefore
  checks it itself (``_mh_checksum_problems``): the MH bytes come from tshark's dissection, the
  pseudo-header from the addresses tshark decoded, and the sum is a plain ones'-complement sum here,
  sharing nothing with mip6fast.
- ``WIRESHARK_CONFIG_DIR`` points at an empty directory, so a developer's own Wireshark
  preferences (a disabled protocol, a "Decode As") cannot change what the tests see; ``-n`` turns
  off name resolution.

Expert info severities and groups are Wireshark's ``PI_*`` constants (epan/proto.h), which the JSON
gives as plain numbers in ``_ws.expert.severity`` / ``_ws.expert.group``.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Iterator

import pytest

TSHARK = os.environ.get("TSHARK", "tshark")
TIMEOUT_SECONDS = 120

# Preference name -> value that turns the check on. sctp's is a choice of algorithm; RFC 4960 §6.8
# makes CRC32c the SCTP checksum.
CHECKSUM_PREFERENCES: dict[str, str] = {
    "ip.check_checksum": "TRUE",
    "udp.check_checksum": "TRUE",
    "udp.ignore_ipv6_zero_checksum": "FALSE",  # a zero UDP checksum over IPv6 is an error (RFC 8200 §8.1)
    "tcp.check_checksum": "TRUE",
    "udplite.check_checksum": "TRUE",
    "dccp.check_checksum": "TRUE",
    "sctp.checksum": "CRC 32c",
}

# Wireshark's expert severities (epan/proto.h PI_SEVERITY_MASK values).
PI_COMMENT = 0x00100000
PI_CHAT = 0x00200000
PI_NOTE = 0x00400000
PI_WARN = 0x00600000
PI_ERROR = 0x00800000
SEVERITY_NAMES = {PI_COMMENT: "comment", PI_CHAT: "chat", PI_NOTE: "note", PI_WARN: "warning",
                  PI_ERROR: "error"}
# Wireshark's expert groups (PI_GROUP_MASK values).
GROUP_NAMES = {
    0x01000000: "Checksum", 0x02000000: "Sequence", 0x03000000: "Response code",
    0x04000000: "Request code", 0x05000000: "Undecoded", 0x06000000: "Reassembly",
    0x07000000: "Malformed", 0x08000000: "Debug", 0x09000000: "Protocol", 0x0A000000: "Security",
    0x0B000000: "Comment", 0x0C000000: "Decryption", 0x0D000000: "Assumption",
    0x0E000000: "Deprecated",
}

# tshark's field names for Mobile IPv6, looked up with `tshark -G fields | grep -i mip6` (TShark
# 4.0.17) and checked against dissections of hand-built packets (tests/test_tshark_harness.py).
# Values are shown as tshark prints them: integers in decimal unless noted, booleans "0"/"1",
# addresses in RFC 5952 text, bytes as colon-separated hex.
MIP6_FIELDS: dict[str, str] = {
    # Mobility Header common part (RFC 6275 §6.1.1)
    "mip6.proto": "Payload Proto (59 expected)",
    "mip6.hlen": "Header Len in 8-octet units, not counting the first 8",
    "mip6.mhtype": "MH Type (0 BRR, 1 HoTI, 2 CoTI, 3 HoT, 4 CoT, 5 BU, 6 BA, 7 BE)",
    "mip6.reserved": "Reserved byte, hex",
    "mip6.csum": "Checksum, hex ('0x1234'); tshark does NOT verify it (no mip6.csum.status)",
    # Binding Refresh Request (§6.1.2): its 2 reserved bytes are one bytes field
    "mip6.binding_refresh_request": "BRR reserved bytes",
    # Home/Care-of Test Init, Home/Care-of Test (§6.1.3-6.1.6)
    "mip6.hoti.cookie": "HoTI Home Init Cookie, hex 0x...",
    "mip6.coti.cookie": "CoTI Care-of Init Cookie, hex 0x...",
    "mip6.hot.nindex": "HoT Home Nonce Index",
    "mip6.hot.cookie": "HoT Home Init Cookie, hex 0x...",
    "mip6.hot.token": "HoT Home Keygen Token, hex 0x...; ALSO the CoT Care-of Keygen Token "
                      "(tshark 4.0 labels it 'Home Keygen Token'; there is no mip6.cot.token)",
    "mip6.cot.nindex": "CoT Care-of Nonce Index",
    "mip6.cot.cookie": "CoT Care-of Init Cookie, hex 0x...",
    # Binding Update (§6.1.7)
    "mip6.bu.seqnr": "BU Sequence #",
    "mip6.bu.a_flag": "BU Acknowledge (A)",
    "mip6.bu.h_flag": "BU Home Registration (H)",
    "mip6.bu.l_flag": "BU Link-Local Address Compatibility (L)",
    "mip6.bu.k_flag": "BU Key Management Mobility Capability (K)",
    "mip6.bu.lifetime": "BU Lifetime in wire units of 4 seconds (tshark shows seconds only in text)",
    # Binding Acknowledgement (§6.1.8)
    "mip6.ba.status": "BA Status",
    "mip6.ba.k_flag": "BA Key Management Mobility Capability (K)",
    "mip6.ba.seqnr": "BA Sequence #",
    "mip6.ba.lifetime": "BA Lifetime in 4-second units",
    # Binding Error (§6.1.9)
    "mip6.be.status": "BE Status",
    "mip6.be.haddr": "BE Home Address",
    # Mobility options (§6.2): each option is also a bytes field mip6.options.<name> (type, length
    # and data) with the values below in its subtree
    "mip6.mobility_opt.len": "Option Length, one value per option with a length byte",
    "mip6.options.pad1": "a Pad1 option",
    "mip6.options.padn": "a PadN option (whole option bytes)",
    "mip6.padn": "PadN data bytes",
    "mip6.options.bra": "a Binding Refresh Advice option",
    "mip6.bra.interval": "Binding Refresh Advice Refresh Interval in 4-second units",
    "mip6.options.acoa": "an Alternate Care-of Address option",
    "mip6.acoa.acoa": "Alternate Care-of Address",
    "mip6.options.ni": "a Nonce Indices option",
    "mip6.ni.hni": "Home Nonce Index",
    "mip6.ni.cni": "Care-of Nonce Index",
    "mip6.options.bad_auth": "a Binding Authorization Data option",
    "mip6.bad.auth": "Binding Authorization Data Authenticator, colon hex",
    # IPv6 extension headers Mobile IPv6 adds (§6.3, §6.4)
    "ipv6.opt.mipv6.home_address": "Home Address destination option (type 201)",
    "ipv6.routing.type": "Routing Type (2 for the Type 2 Routing Header)",
    "ipv6.routing.segleft": "Segments Left (1 in a Type 2 Routing Header)",
    "ipv6.routing.mipv6.home_address": "Type 2 Routing Header Home Address",
    # ICMPv6 messages and options Mobile IPv6 adds (§6.5-6.8, §7.1-7.5)
    "icmpv6.type": "ICMPv6 Type (144/145 HAAD request/reply, 146/147 prefix solicitation/advert)",
    "icmpv6.checksum.status": "ICMPv6 checksum status: 1 good, 0 bad, 2 unverified",
    "icmpv6.mip6.identifier": "HAAD / Mobile Prefix Identifier",
    "icmpv6.mip6.home_agent_address": "HAAD Reply Home Agent Addresses, one value each",
    "icmpv6.mip6.flag.m": "Mobile Prefix Advertisement M flag",
    "icmpv6.mip6.flag.o": "Mobile Prefix Advertisement O flag",
    "icmpv6.nd.ra.flag.h": "Router Advertisement Home Agent (H) flag",
    "icmpv6.opt.prefix.flag.r": "Prefix Information Router Address (R) flag",
    "icmpv6.opt.advertisement_interval": "Advertisement Interval option, milliseconds",
    "icmpv6.opt.home_agent_preference": "Home Agent Information option Preference",
    "icmpv6.opt.home_agent_lifetime": "Home Agent Information option Lifetime, seconds "
                                      "(tshark 4.0 mislabels it 'Home Agent Preference')",
}


class TsharkError(RuntimeError):
    """tshark could not be run, or could not read the whole file."""


@functools.cache
def have_tshark() -> bool:
    path = shutil.which(TSHARK)
    if path is None:
        return False
    try:
        done = subprocess.run([path, "-v"], capture_output=True, timeout=TIMEOUT_SECONDS,
                              env=_environment())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def require_tshark() -> None:
    """Skip the calling test when tshark is missing, or fail it when CI is set (CI must run it)."""
    if have_tshark():
        return
    reason = f"tshark ({TSHARK!r}) is not installed or does not run (apt-get install tshark)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, and CI must run the tshark tests", pytrace=False)
    pytest.skip(reason)


# --- running tshark ------------------------------------------------------------------------------

_CONFIG_DIR: tempfile.TemporaryDirectory | None = None


def _environment() -> dict[str, str]:
    global _CONFIG_DIR
    if _CONFIG_DIR is None:
        _CONFIG_DIR = tempfile.TemporaryDirectory(prefix="mip6fast-tshark-")
    env = dict(os.environ)
    # The sanitizer pass (.ci/asan) preloads libasan into Python; tshark is not ours to sanitize, and
    # under a preloaded ASan runtime it crawls past the timeout. Run it plain.
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC"):
        env.pop(name, None)
    env["WIRESHARK_CONFIG_DIR"] = _CONFIG_DIR.name
    return env


@functools.cache
def known_preferences() -> frozenset:
    """Names of every preference this tshark has (from ``tshark -G defaultprefs``)."""
    done = subprocess.run([TSHARK, "-G", "defaultprefs"], capture_output=True, text=True,
                          timeout=TIMEOUT_SECONDS, env=_environment())
    names = set()
    for line in done.stdout.splitlines():
        # Preferences are listed commented out, as "#name: default value".
        if line.startswith("#") and ": " in line:
            name = line[1:].split(": ", 1)[0]
            if name and " " not in name:
                names.add(name)
    return frozenset(names)


def checksum_options() -> list[str]:
    """The ``-o name:value`` arguments that switch every known checksum check on."""
    known = known_preferences()
    args = []
    for name, value in CHECKSUM_PREFERENCES.items():
        if name in known:
            args += ["-o", f"{name}:{value}"]
    return args


def _stderr_text(stderr: str) -> str:
    # tshark warns on every start when run as root; that line says nothing about the file.
    lines = [line for line in stderr.splitlines()
             if line.strip() and not line.startswith("Running as user")]
    return "\n".join(lines)


class _Obj(list):
    """A JSON object kept as its list of (key, value) pairs, so repeated keys all survive."""


def _run(pcap_path) -> tuple[list[_Obj], str, int]:
    """(per-packet layer trees, tshark's error output, tshark's exit status)."""
    if not have_tshark():
        raise TsharkError(f"tshark ({TSHARK!r}) is not available")
    cmd = [TSHARK, "-r", os.fspath(pcap_path), "-n", "-T", "json", "-x"] + checksum_options()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                          env=_environment())
    stderr = _stderr_text(done.stderr)
    try:
        packets = json.loads(done.stdout, object_pairs_hook=_Obj) if done.stdout.strip() else []
    except ValueError as exc:
        raise TsharkError(f"tshark wrote output that is not JSON ({exc}); stderr: {stderr}") from exc
    layers = []
    for packet in packets:
        source = _get(packet, "_source")
        found = _get(source, "layers") if source is not None else None
        if found is None:
            raise TsharkError(f"unexpected tshark JSON shape: {str(packet)[:200]}")
        layers.append(found)
    return layers, stderr, done.returncode


def _get(obj, key):
    """The first value of ``key`` in a JSON object kept as pairs."""
    if isinstance(obj, _Obj):
        for k, v in obj:
            if k == key:
                return v
    return None


def _flatten(obj: _Obj, out: dict[str, list[str]]) -> None:
    for key, value in obj:
        if isinstance(value, _Obj):
            _flatten(value, out)
        elif isinstance(value, str):
            out.setdefault(key, []).append(value)
        elif isinstance(value, list):
            if key.endswith("_raw"):
                # [hex, offset, length, bitmask, type], or a list of those for repeated fields
                raws = value if value and isinstance(value[0], list) else [value]
                for raw in raws:
                    if raw and isinstance(raw[0], str):
                        out.setdefault(key, []).append(raw[0])
            else:
                for item in value:
                    if isinstance(item, _Obj):
                        _flatten(item, out)
                    elif isinstance(item, str):
                        out.setdefault(key, []).append(item)


def dissect(pcap_path) -> list[dict[str, list[str]]]:
    """Per packet, every field tshark decoded: {field name: [string values in tree order]}.

    ``<field>_raw`` keys hold the hex of the bytes behind a field (``frame_raw``: the whole packet,
    ``mipv6_raw``: the whole Mobility Header). Raises ``TsharkError`` when tshark cannot read the
    whole file.
    """
    layers, stderr, status = _run(pcap_path)
    if status != 0:
        raise TsharkError(f"tshark exited with status {status} reading {os.fspath(pcap_path)}: "
                          f"{stderr}")
    result = []
    for tree in layers:
        fields: dict[str, list[str]] = {}
        _flatten(tree, fields)
        result.append(fields)
    return result


# --- problems ------------------------------------------------------------------------------------

def _walk_experts(obj: _Obj, protocol: str) -> Iterator[tuple[str, _Obj]]:
    """(protocol, expert object) for every ``_ws.expert`` entry, in tree order."""
    for key, value in obj:
        if key == "_ws.expert" and isinstance(value, _Obj):
            yield protocol, value
        elif isinstance(value, _Obj):
            # A key without a dot is a protocol layer (ipv6, icmpv6, mipv6); deeper keys are fields.
            yield from _walk_experts(value, key if "." not in key and " " not in key else protocol)


def _expert_line(frame: str, protocol: str, expert: _Obj) -> tuple[int, str, str]:
    message = _get(expert, "_ws.expert.message") or "(no message)"
    severity = int(_get(expert, "_ws.expert.severity") or 0)
    group = int(_get(expert, "_ws.expert.group") or 0)
    name = next((k for k, _ in expert if not k.startswith("_ws.expert.")), "?")
    line = (f"frame {frame}: {SEVERITY_NAMES.get(severity, hex(severity))} "
            f"[{GROUP_NAMES.get(group, hex(group))}] {protocol}: {message} ({name})")
    return severity, name, line


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _first_string(obj: _Obj, key: str, skip: str = "ipv6") -> str | None:
    """The first string value of ``key`` inside obj, not looking into nested ``skip`` layers."""
    for k, v in obj:
        if k == key and isinstance(v, str):
            return v
        if isinstance(v, _Obj) and k != skip:
            found = _first_string(v, key, skip)
            if found is not None:
                return found
    return None


def _ipv6_layers(obj: _Obj) -> Iterator[_Obj]:
    for key, value in obj:
        if isinstance(value, _Obj):
            if key == "ipv6":
                yield value
            yield from _ipv6_layers(value)


def _mh_checksum_problems(frame: str, tree: _Obj) -> list[str]:
    """The Mobility Header checksum check tshark does not do (RFC 6275 §6.1.1, §6.3, §6.4).

    The pseudo-header source is the Home Address option's address when there is one, the
    destination the Type 2 routing header's address when there is one (the final destination,
    RFC 8200 §8.1); Upper-Layer Packet Length is the length of the Mobility Header.
    """
    found = []
    for ipv6 in _ipv6_layers(tree):
        raw = _get(ipv6, "mipv6_raw")
        if not (isinstance(raw, list) and raw and isinstance(raw[0], str)):
            continue
        mh = bytes.fromhex(raw[0])
        if len(mh) < 8 or len(mh) != (mh[1] + 1) * 8:
            continue  # cut short: tshark reports the truncation itself
        src = _first_string(ipv6, "ipv6.opt.mipv6.home_address") or _get(ipv6, "ipv6.src")
        dst = _first_string(ipv6, "ipv6.routing.mipv6.home_address") or _get(ipv6, "ipv6.dst")
        if src is None or dst is None:
            continue
        pseudo = (ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
                  + struct.pack("!IxxxB", len(mh), 135))
        if _ones_complement_sum(pseudo + mh) != 0xFFFF:
            zeroed = mh[:4] + b"\0\0" + mh[6:]
            should = ~_ones_complement_sum(pseudo + zeroed) & 0xFFFF
            got = struct.unpack_from("!H", mh, 4)[0]
            found.append(f"frame {frame}: error [Checksum] mipv6: Bad Mobility Header checksum "
                         f"0x{got:04x} [should be 0x{should:04x}] (mip6.csum, checked by "
                         f"tshark_check: tshark does not verify MH checksums)")
    return found


def problems(pcap_path, ignore: Iterable[str] = ()) -> list[str]:
    """Everything wrong with a capture, one readable line each; an empty list means clean.

    Lists every expert-info entry of severity warning or error (malformed packets, bad checksums,
    length mismatches, ...) with its frame number, every bad Mobility Header checksum (checked
    here, see ``_mh_checksum_problems``), and tshark's own complaint when it cannot read the whole
    file. ``ignore`` names expert entries to leave out (e.g. ``"icmpv6.resp_not_found"``).
    """
    skip = set(ignore)
    layers, stderr, status = _run(pcap_path)
    found: list[str] = []
    for tree in layers:
        frame_layer = _get(tree, "frame")
        frame = _get(frame_layer, "frame.number") or "?"
        malformed_reported = False
        protocols = (_get(frame_layer, "frame.protocols") or "?").split(":")
        for protocol, expert in _walk_experts(tree, "frame"):
            name = next((k for k, _ in expert if not k.startswith("_ws.expert.")), "?")
            if name.startswith("_ws.malformed"):
                # The exception is reported beside the layers, not in the one that raised it; the
                # last protocol tshark entered is the one it was dissecting.
                protocol = protocols[-1]
                malformed_reported = True
            severity, name, line = _expert_line(frame, protocol, expert)
            if severity >= PI_WARN and name not in skip:
                found.append(line)
        if _get(tree, "_ws.malformed") is not None and not malformed_reported:
            found.append(f"frame {frame}: error [Malformed] Malformed Packet (_ws.malformed)")
        found += _mh_checksum_problems(frame, tree)
    if status != 0:
        found.append(f"tshark exited with status {status}: {stderr or '(no message)'}")
    return found
