"""The Linux kernel as the mobile node's signalling peer of the home agent daemon (issue 11).

Three namespaces joined by veth pairs: ``mn`` (the kernel's IPv6 with the care-of address, the "mobile
node") -- ``ha`` (``mip6fast ha`` owning its two interfaces) -- ``cn`` (the kernel on the home link)::

    mn eth0 2001:db8:a::9 ---- eth1 2001:db8:a::1  ha  eth0 2001:db8:1::1 ---- eth0 2001:db8:1::5 cn

The mobile node is not mip6fast: a plain ``socket(AF_INET6, SOCK_RAW, IPPROTO_MH)`` bound to the
care-of address sends a Binding Update hand-built here from RFC 6275 §6.1.7 (bytes, no mip6fast
encoder), with the Home Address option as ``IPV6_DSTOPTS`` ancillary data: a home registration sent
from the care-of address carries the HAO (§6.1.7, §11.7.1), and the kernel builds the IPv6 header and
the Destination Options header around it. An AF_PACKET socket on the mobile node's veth sees what
goes out and what comes in.

What the kernel does (6.18, built without CONFIG_IPV6_MIP6; facts these tests check):

- A raw MH socket has ``IPV6_CHECKSUM`` at offset 4 already (RFC 6275 §6.1.1), and the kernel
  computes the checksum over the IPv6 source it sends from, the care-of address. With a Home Address
  option the pseudo-header must hold the home address (§6.3: the upper layer sees the home address as
  the source; a Linux kernel with CONFIG_IPV6_MIP6 verifies it that way too, after swapping the HAO
  into the header). The kernel knows nothing of a HAO given as ancillary data, so its checksum is the
  wrong one and the home agent discards the BU silently (§9.2), counted as ``drop.parse.checksum``:
  ``test_kernel_checksum_over_the_care_of_address_is_discarded``. The other tests therefore turn the
  kernel's checksum off (``IPV6_CHECKSUM`` -1) and put the RFC 6275 one in the BU themselves; the
  kernel still builds everything else.
- The BA comes back to the care-of address with a Type 2 routing header holding the home address.
  Without CONFIG_IPV6_MIP6 the kernel does not know routing type 2: with segments left 1 it answers
  ICMPv6 Parameter Problem code 0 pointing at the routing type (offset 42) and drops the packet, so
  the raw socket (with ``IPV6_RECVRTHDR`` asked for) never gets the BA. The BA is checked byte by byte
  from the packet socket instead.
- Tunnelled packets (IPv6-in-IPv6 to the care-of address) arrive; without CONFIG_IPV6_TUNNEL the
  kernel cannot decapsulate them (Parameter Problem code 1), which does not matter here: the capture
  shows the tunnel.

The XFRM part (``test_xfrm_esp_binding_update``) puts the same exchange under ESP: see its docstring.
It needs ESP for IPv6 in the kernel (CONFIG_INET6_ESP) and the algorithm's crypto templates; it probes
by adding the SA and skips, naming the missing kernel options, when the kernel refuses. That is a
kernel capability, not a permission, so it skips under CI too (this machine and CI run 6.18 built
without CONFIG_INET6_ESP).

Needs root (namespaces, veth, raw and packet sockets): skipped elsewhere, failed when CI is set.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from ipaddress import IPv6Address
from pathlib import Path

import pytest
from netns import require_netns
from reference import ipv6_upper_checksum, with_checksum

from mip6fast.daemon import DaemonError, query
from mip6fast.io.netns import NetnsLab, enter

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parent.parent

HOME = "2001:db8:1::9"          # the mobile node's home address
HA = "2001:db8:1::1"            # the home agent, on the home link
HA_FOREIGN = "2001:db8:a::1"    # the home agent on the mobile node's (foreign) link
COA = "2001:db8:a::9"           # the care-of address
CN = "2001:db8:1::5"            # a kernel host on the home link


def b(address: str) -> bytes:
    return IPv6Address(address).packed


NH_ROUTING, NH_ESP, NH_ICMPV6, NH_DSTOPTS, NH_MH, NH_IPV6, NH_NONE = 43, 50, 58, 60, 135, 41, 59
ETH_P_ALL, ETH_P_IPV6 = 0x0003, 0x86DD
LIFETIME_S = 60


# ---------------------------------------------------------------- packets, by hand (RFC 6275 §6)

def binding_update(sequence: int, lifetime_s: int = LIFETIME_S) -> bytes:
    """A home registration BU (§6.1.7) with A and H set, checksum 0: Payload Proto 59, Header Len 1
    (16 bytes), MH Type 5, Reserved, Checksum | Sequence | A H L K flags | Lifetime in 4-second units
    | PadN(2) to a multiple of 8 (§6.2)."""
    return bytes([NH_NONE, 1, 5, 0, 0, 0]) + sequence.to_bytes(2, "big") + bytes([0xC0, 0]) \
        + (lifetime_s // 4).to_bytes(2, "big") + bytes([1, 2, 0, 0])


def hao_header(home: str) -> bytes:
    """A Destination Options header with the Home Address option (§6.3: type 201, length 16, 8n+6
    alignment, so a PadN of 4 first); the kernel fills in the next header."""
    return bytes([0, 2, 1, 2, 0, 0, 201, 16]) + b(home)


def parse_ba(packet: bytes, protected: bool = False) -> dict:
    """The BA as it must be on the wire (§6.1.8, §6.4, §9.5.4), checked field by field: IPv6 from the
    home agent to the care-of address, a Type 2 routing header (length 2, segments left 1) holding the
    home address, then (unprotected) the Mobility Header with a valid checksum over the home agent and
    the home address (the routing header's final destination, RFC 8200 §8.1). Returns status, K flag,
    sequence and lifetime (seconds)."""
    assert packet[0] >> 4 == 6 and int.from_bytes(packet[4:6], "big") == len(packet) - 40
    assert (packet[6], packet[8:24], packet[24:40]) == (NH_ROUTING, b(HA), b(COA)), packet[:40].hex()
    rh2 = packet[40:64]
    assert rh2[1:4] == bytes([2, 2, 1]) and rh2[4:8] == bytes(4) and rh2[8:24] == b(HOME), rh2.hex()
    if protected:
        assert rh2[0] == NH_ESP
        return {}
    assert rh2[0] == NH_MH
    mh = packet[64:]
    assert mh[0] == NH_NONE and len(mh) == (mh[1] + 1) * 8 and mh[2] == 6, mh.hex()
    assert ipv6_upper_checksum(b(HA), b(HOME), NH_MH, mh) == 0, "BA checksum"
    return {"status": mh[6], "k": bool(mh[7] & 0x80), "sequence": int.from_bytes(mh[8:10], "big"),
            "lifetime_s": int.from_bytes(mh[10:12], "big") * 4}


# ---------------------------------------------------------------- the kernel's configuration

_CONFIG: dict | None = None


def kernel_option(name: str) -> bool | None:
    """Whether the running kernel was built with ``name`` (=y or =m) according to /proc/config.gz;
    None when that file cannot be read."""
    global _CONFIG
    if _CONFIG is None:
        _CONFIG = {}
        with contextlib.suppress(OSError):
            with gzip.open("/proc/config.gz", "rt") as f:
                for line in f:
                    if line.startswith("CONFIG_") and "=" in line:
                        key, value = line.strip().split("=", 1)
                        _CONFIG[key] = value
    if not _CONFIG:
        return None
    return _CONFIG.get(name) in ("y", "m")


def ip(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["ip", "-n", ns, *argv], capture_output=True, text=True, timeout=20)
    if check and proc.returncode != 0:
        raise AssertionError(f"ip -n {ns} {' '.join(argv)}: {proc.stderr.strip()}")
    return proc


# ---------------------------------------------------------------- the world

class World:
    """The three namespaces, the home agent daemon in ``ha`` and the mobile node's sockets in ``mn``."""

    def __init__(self, lab: NetnsLab, workdir: Path):
        self.lab = lab
        self.workdir = workdir
        self.daemon: subprocess.Popen | None = None
        self.sequence = 100
        self.ha_ns, self.mn_ns, self.cn_ns = lab.namespace("ha"), lab.namespace("mn"), lab.namespace("cn")
        # The home agent's ends keep the kernel's IPv6 until the daemon takes them (it turns it off).
        lab.veth("ha", "cn", name_a="eth0", name_b="eth0", disable_ipv6=False)
        lab.veth("ha", "mn", name_a="eth1", name_b="eth0", disable_ipv6=False)
        ip(self.mn_ns, "addr", "add", f"{COA}/64", "dev", "eth0", "nodad")
        ip(self.mn_ns, "-6", "route", "add", "default", "via", HA_FOREIGN, "dev", "eth0")
        ip(self.cn_ns, "addr", "add", f"{CN}/64", "dev", "eth0", "nodad")
        with enter(self.mn_ns):
            self.mh = socket.socket(socket.AF_INET6, socket.SOCK_RAW, NH_MH)
            self.tap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.tap.bind(("eth0", ETH_P_ALL))
            self.echo = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        with enter(self.cn_ns):
            self.cn = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        self.mh.bind((COA, 0))
        self.mh.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVRTHDR, 1)
        self.cn.bind((CN, 0))
        for s in (self.mh, self.tap, self.echo, self.cn):
            s.setblocking(False)
        self.raw_received: list[tuple[bytes, list]] = []
        self.log = None

    @property
    def socket_path(self) -> str:
        return str(self.workdir / "ha.sock")

    def start_ha(self, home_agent_extra: str = "", tail: str = "") -> None:
        config = self.workdir / "ha.toml"
        config.write_text(f"""
[daemon]
control_socket = "{self.socket_path}"
lock_dir = "{self.workdir}/locks"

[interfaces.eth0]
addresses = ["{HA}/64"]

[interfaces.eth1]
addresses = ["{HA_FOREIGN}/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "{HA}"
max_lifetime = 300
store = "none"
{home_agent_extra}
{tail}""")
        self.log = open(self.workdir / "ha.log", "w")
        self.daemon = subprocess.Popen(["ip", "netns", "exec", self.ha_ns, sys.executable, "-m", "mip6fast", "ha",
                                        "--config", str(config)], cwd=REPO, stdout=subprocess.DEVNULL,
                                       stderr=self.log, text=True)
        deadline = time.monotonic() + 20
        while True:
            if self.daemon.poll() is not None:
                raise AssertionError(f"the home agent exited with {self.daemon.returncode}: {self.ha_log()}")
            with contextlib.suppress(DaemonError, OSError, ValueError):
                if query(self.socket_path, "stats")["daemon"]["pid"] == self.daemon.pid:
                    break
            assert time.monotonic() < deadline, f"the home agent never answered: {self.ha_log()}"
            time.sleep(0.1)
        # Ready when it answers an echo request on the mobile node's link (its addresses are usable).
        while not self.ping_home_agent():
            assert time.monotonic() < deadline, f"the home agent never answered a ping: {self.ha_log()}"

    def ha_log(self) -> str:
        return (self.workdir / "ha.log").read_text()[-3000:]

    def ping_home_agent(self) -> bool:
        self.echo.sendto(bytes([128, 0, 0, 0, 0x6b, 0x70, 0, 1]), (HA_FOREIGN, 0))
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            with contextlib.suppress(BlockingIOError):
                data, _ = self.echo.recvfrom(2048)
                if data[0] == 129 and data[4:6] == bytes([0x6B, 0x70]):
                    return True
            time.sleep(0.02)
        return False

    def stop_ha(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None

    def close(self) -> None:
        try:
            self.stop_ha()
        finally:
            for s in (self.mh, self.tap, self.echo, self.cn):
                s.close()
            if self.log is not None:
                self.log.close()

    # ------------------------------------------------------------ the mobile node

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def send_bu(self, sequence: int, kernel_checksum: bool = False) -> bytes:
        """A BU from the raw socket with the HAO as ancillary data. ``kernel_checksum``: leave the MH
        checksum to the kernel (the socket's default, offset 4); else the RFC 6275 one, computed here
        over the home address, with the kernel's turned off. Returns the MH bytes given to the kernel."""
        mh = binding_update(sequence)
        if kernel_checksum:
            self.mh.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 4)
        else:
            self.mh.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, -1)
            mh = with_checksum(mh, 4, ipv6_upper_checksum(b(HOME), b(HA), NH_MH, mh))
        self.frames()                                       # forget what came before
        self.mh.sendmsg([mh], [(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, hao_header(HOME))], 0, (HA, 0))
        return mh

    def frames(self, seconds: float = 0.0, until=None) -> list[tuple[int, bytes]]:
        """IPv6 packets seen on the mobile node's veth, as (packet type, bytes from the IPv6 header): for
        ``seconds``, or until ``until(frames)`` is true. Whatever reaches the raw MH socket meanwhile
        goes to ``raw_received``."""
        seen: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + seconds
        while True:
            while True:
                try:
                    frame, address = self.tap.recvfrom(65535)
                except BlockingIOError:
                    break
                if frame[12:14] == ETH_P_IPV6.to_bytes(2, "big"):
                    seen.append((address[2], frame[14:]))
            while True:
                try:
                    data, ancillary, _, _ = self.mh.recvmsg(65535, 1024)
                except BlockingIOError:
                    break
                self.raw_received.append((data, ancillary))
            if time.monotonic() >= deadline or (until is not None and until(seen)):
                return seen
            time.sleep(0.02)

    def bindings(self) -> dict:
        return {r["home_address"]: r for r in query(self.socket_path, "bindings")["bindings"]}

    def counters(self) -> dict:
        return query(self.socket_path, "stats")["node"]


def outgoing_bu(frames):
    """What the mobile node sent to the home agent that is not ICMPv6 (a Parameter Problem)."""
    return [p for t, p in frames if t == socket.PACKET_OUTGOING and p[24:40] == b(HA) and p[6] != NH_ICMPV6]


def incoming_ba(frames):
    return [p for t, p in frames if t != socket.PACKET_OUTGOING and p[8:24] == b(HA) and p[24:40] == b(COA)
            and p[6] == NH_ROUTING]


def parameter_problems(frames):
    return [p for t, p in frames if t == socket.PACKET_OUTGOING and p[6] == NH_ICMPV6 and p[24:40] == b(HA)
            and p[40] == 4]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The world with the home agent taking unprotected registrations (lab mode, said explicitly)."""
    require_netns()
    lab = NetnsLab("kpeer")
    built = None
    try:
        built = World(lab, tmp_path_factory.mktemp("kernel-peer"))
        built.start_ha("unauthenticated_registrations = true")
        yield built
    finally:
        names = lab.namespaces
        try:
            if built is not None:
                built.close()
        finally:
            lab.close()
    assert not [ns for ns in names if os.path.exists(f"/run/netns/{ns}")], "namespaces left behind"


@pytest.fixture
def lab():
    require_netns()
    built = NetnsLab("kxfrm")
    try:
        yield built
    finally:
        names = built.namespaces
        built.close()
    assert not [ns for ns in names if os.path.exists(f"/run/netns/{ns}")], "namespaces left behind"


def register(world: World) -> tuple[int, bytes, list]:
    """A correctly checksummed BU from the raw socket; returns (sequence, MH sent, frames seen) once
    the BA is on the mobile node's link."""
    sequence = world.next_sequence()
    mh = world.send_bu(sequence)
    frames = world.frames(5.0, until=incoming_ba)
    assert incoming_ba(frames), f"no BA within 5 s; home agent counters {world.counters()}"
    return sequence, mh, frames


# ---------------------------------------------------------------- part a: the kernel as signalling peer

def test_kernel_checksum_over_the_care_of_address_is_discarded(world):
    """The socket's own checksum (IPV6_CHECKSUM is 4 on a raw MH socket from the start) covers the
    care-of address the kernel sends from: wrong with a Home Address option (§6.1.1, §6.3), so the
    home agent discards the BU silently (§9.2), counting it, and sends nothing back."""
    assert world.mh.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM) == 4
    before = world.counters().get("drop.parse.checksum", 0)
    world.send_bu(world.next_sequence(), kernel_checksum=True)
    frames = world.frames(1.5)
    (bu,) = outgoing_bu(frames)
    mh = bu[64:]
    assert bu[40] == NH_MH and len(mh) == 16
    assert ipv6_upper_checksum(b(COA), b(HA), NH_MH, mh) == 0          # the kernel's: over the care-of
    assert ipv6_upper_checksum(b(HOME), b(HA), NH_MH, mh) != 0         # not RFC 6275's
    assert incoming_ba(frames) == []
    assert world.counters().get("drop.parse.checksum", 0) == before + 1


def test_binding_update_from_a_kernel_raw_socket_is_acknowledged(world):
    """BU → BA with the kernel building the BU's IPv6 and Destination Options headers: the BU on the
    wire is the IPv6 header from the care-of address, the HAO header the kernel made of the ancillary
    data, and the MH exactly as given; the BA is accepted (status 0), echoes the sequence number,
    grants the lifetime asked for, and carries the home address in a Type 2 routing header. The
    kernel (without CONFIG_IPV6_MIP6) drops the BA at that routing header with a Parameter Problem,
    so the raw socket gets nothing; the packet socket has the BA."""
    sequence, mh, frames = register(world)
    (bu,) = outgoing_bu(frames)
    assert (bu[6], bu[8:24], bu[24:40]) == (NH_DSTOPTS, b(COA), b(HA))
    assert bu[40:64] == bytes([NH_MH]) + hao_header(HOME)[1:]
    assert bu[64:] == mh and int.from_bytes(bu[4:6], "big") == 24 + len(mh)
    (ba,) = incoming_ba(frames)
    assert parse_ba(ba) == {"status": 0, "k": False, "sequence": sequence, "lifetime_s": LIFETIME_S}
    binding = world.bindings()[HOME]
    assert (binding["care_of_address"], binding["sequence"]) == (COA, sequence)
    assert 0 < binding["expires_in_s"] <= LIFETIME_S
    frames += world.frames(0.5)
    if kernel_option("CONFIG_IPV6_MIP6") is False:
        assert world.raw_received == []
        # ICMPv6 Parameter Problem, code 0 (erroneous header field), pointer 42: the routing type.
        problems = [p for p in parameter_problems(frames) if p[48:88] == ba[:40]]
        assert problems and problems[0][41] == 0 and problems[0][44:48] == (42).to_bytes(4, "big")


def test_home_agent_tunnels_to_the_kernel_care_of_address(world):
    """§10.4.1, §10.4.2: with the kernel's registration in place, the home agent defends the home
    address on the home link and tunnels what a kernel host there sends to it: IPv6-in-IPv6 from the
    home agent to the care-of address, the echo request inside unchanged."""
    if world.bindings().get(HOME, {}).get("care_of_address") != COA:
        register(world)
    world.frames()
    for seq in range(3):
        world.cn.sendto(bytes([128, 0, 0, 0, 0x6D, 0x36, 0, seq]) + b"kernel-peer", (HOME, 0))
        time.sleep(0.05)

    def tunnelled(frames):
        return [p for t, p in frames if t != socket.PACKET_OUTGOING and p[6] == NH_IPV6
                and (p[8:24], p[24:40]) == (b(HA), b(COA))]
    frames = world.frames(5.0, until=lambda f: len(tunnelled(f)) >= 3)
    inner = [p[40:] for p in tunnelled(frames)]
    assert len(inner) == 3, f"tunnelled: {len(inner)}; counters {world.counters()}"
    for seq, packet in enumerate(inner):
        assert (packet[6], packet[8:24], packet[24:40]) == (NH_ICMPV6, b(CN), b(HOME))
        assert packet[40] == 128 and packet[44:48] == bytes([0x6D, 0x36, 0, seq]) and packet[48:] == b"kernel-peer"
    assert world.bindings()[HOME]["packets"] >= 3


# ---------------------------------------------------------------- part b: the same under XFRM ESP

# How ``ip xfrm state`` names each algorithm, the key lengths (bytes), scapy's names, and the kernel
# options ESP with it needs (Linux builds "cbc(aes)" + "hmac(sha256)" as authenc(...)).
XFRM_ALGORITHMS = {
    "aes-128-gcm": (("aead", "rfc4106(gcm(aes))", "{enc}", "128"), 20, 0, ("AES-GCM", None),
                    ("CONFIG_XFRM_USER", "CONFIG_INET6_ESP", "CONFIG_CRYPTO_GCM")),
    "aes-128-cbc-hmac-sha256": (("enc", "cbc(aes)", "{enc}", "auth-trunc", "hmac(sha256)", "{auth}", "128"),
                                16, 32, ("AES-CBC", "SHA2-256-128"),
                                ("CONFIG_XFRM_USER", "CONFIG_INET6_ESP", "CONFIG_CRYPTO_CBC",
                                 "CONFIG_CRYPTO_HMAC", "CONFIG_CRYPTO_SHA256", "CONFIG_CRYPTO_AUTHENC")),
}
SPI_MN_TO_HA, SPI_HA_TO_MN = 0x1001, 0x1002


def xfrm_algorithm(algorithm: str, enc: bytes, auth: bytes) -> list[str]:
    words = XFRM_ALGORITHMS[algorithm][0]
    return [w.format(enc="0x" + enc.hex(), auth="0x" + auth.hex()) for w in words]


def add_esp_sa_or_skip(ns: str, algorithm: str, enc: bytes, auth: bytes) -> None:
    """The mobile node's outbound SA, which is also the probe: a kernel that cannot hold it skips the
    test, naming the kernel options it lacks (a capability of the kernel, not of the user: a skip under
    CI too)."""
    argv = ["xfrm", "state", "add", "src", COA, "dst", HA, "proto", "esp", "spi", hex(SPI_MN_TO_HA),
            "reqid", "1", "mode", "transport", *xfrm_algorithm(algorithm, enc, auth)]
    proc = ip(ns, *argv, check=False)
    if proc.returncode == 0:
        return
    options = XFRM_ALGORITHMS[algorithm][4]
    unset = [o for o in options if kernel_option(o) is False]
    why = f"not set in /proc/config.gz: {', '.join(unset)}" if unset else f"needs {', '.join(options)}"
    pytest.skip(f"kernel {platform.release()} cannot do IPv6 ESP with {algorithm} in XFRM ({why}): "
                f"`ip xfrm state add ... proto esp ... {XFRM_ALGORITHMS[algorithm][0][1]}` said "
                f"{proc.stderr.strip()!r}; a kernel capability, not a permission, so skipped under CI too")


@pytest.mark.parametrize("algorithm", list(XFRM_ALGORITHMS))
def test_xfrm_esp_binding_update(lab, tmp_path, algorithm):
    """The BU encrypted by the kernel's XFRM in ESP transport mode, decrypted and answered by the home
    agent daemon (which takes protected registrations only), and the BA under ESP back.

    Which SA the kernel needs, and why it interoperates with the home agent's:

    - RFC 3776 keys the MN-HA transport SAs on the home address (selectors home address <-> home
      agent), and the home agent here holds them so (docs/SECURITY.md "Key files"). On a kernel with
      CONFIG_IPV6_MIP6 the mobile node's daemon sends from the home address, ESP is applied for that
      flow, and a "hao" XFRM state then rewrites the source to the care-of address and inserts the HAO.
      This kernel has no such state: the raw socket sends from the care-of address with the HAO as
      ancillary data, so the flow XFRM sees is care-of address -> home agent, protocol 135, and the
      outbound policy and SA must be keyed on the care-of address (``src COA dst HA``).
    - That is enough for the home agent: ESP's ICV does not cover the IPv6 header, and the home agent
      selects the SA by SPI alone (RFC 4303 §2.1), then checks its selectors against what the packet
      claims (esp.py ``_check_selectors``): the HAO's home address (the HAO header stays before ESP,
      RFC 6275 §6.3) and its own address. The addresses the kernel's SA is keyed on never go on the
      wire; SPI, algorithm and keys are all that have to agree.
    - Where the kernel puts ESP: after Hop-by-Hop, routing headers and a Destination Options header
      that precedes any routing header (ip6_find_1stfragopt), so with no routing header the HAO header
      the socket gave stays in front of ESP: mip6fast's placement (tests/test_esp_scapy.py, where scapy,
      which follows Linux, builds the same bytes from both sides; this is why no separate unit check
      of a kernel-style ESP packet is needed).
    - The BA (home agent -> care-of address, Type 2 routing header, then ESP under the ha_to_mn SPI)
      never reaches the kernel's ESP here: a kernel without CONFIG_IPV6_MIP6 drops it at the routing
      header (see the module docstring). A kernel with it would process the routing header only with a
      "route2" XFRM state and the home address on an interface flagged ``home``, after which the
      destination is the home address: its inbound SA would be keyed ``src HA dst HOME``. This test
      installs no inbound SA and checks the BA from the packet socket, decrypted by scapy with the
      ha_to_mn key, independently of mip6fast.
    """
    spec = XFRM_ALGORITHMS[algorithm]
    mn_enc, mn_auth, ha_enc, ha_auth = (os.urandom(n) for n in (spec[1], spec[2], spec[1], spec[2]))
    mn_ns = lab.namespace("mn")
    add_esp_sa_or_skip(mn_ns, algorithm, mn_enc, mn_auth)
    ip(mn_ns, "xfrm", "policy", "add", "dir", "out", "src", f"{COA}/128", "dst", f"{HA}/128", "proto", "135",
       "tmpl", "src", COA, "dst", HA, "proto", "esp", "reqid", "1", "mode", "transport")
    ipsec = pytest.importorskip("scapy.layers.ipsec")
    IPv6 = pytest.importorskip("scapy.layers.inet6").IPv6

    def direction(spi, enc, auth):
        keys = f'encryption_key = "{enc.hex()}"' + (f', authentication_key = "{auth.hex()}"' if auth else "")
        return f"{{ spi = {spi:#x}, {keys} }}"
    key_file = tmp_path / "keys.toml"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'[[association]]\nhome_address = "{HOME}"\nhome_agent = "{HA}"\nalgorithm = "{algorithm}"\n'
                f"mn_to_ha = {direction(SPI_MN_TO_HA, mn_enc, mn_auth)}\n"
                f"ha_to_mn = {direction(SPI_HA_TO_MN, ha_enc, ha_auth)}\n")
    world = World(lab, tmp_path)
    try:
        world.start_ha(tail=f'[security]\nkey_file = "{key_file}"\n')
        sequence = world.next_sequence()
        world.send_bu(sequence)
        frames = world.frames(5.0, until=incoming_ba)
        (bu,) = outgoing_bu(frames)
        # IPv6 | HAO header (in clear) | ESP under the mn_to_ha SPI, sequence number 1.
        assert (bu[6], bu[8:24], bu[40], bu[46:64]) == (NH_DSTOPTS, b(COA), NH_ESP, bytes([201, 16]) + b(HOME))
        assert int.from_bytes(bu[64:68], "big") == SPI_MN_TO_HA and int.from_bytes(bu[68:72], "big") == 1
        assert incoming_ba(frames), f"no BA: {world.counters()} {world.ha_log()}"
        counters = world.counters()
        assert counters.get("esp.unprotected", 0) >= 1 and counters.get("esp.protected", 0) >= 1
        binding = world.bindings()[HOME]
        assert (binding["care_of_address"], binding["sequence"]) == (COA, sequence)
        assert binding["protected_by"] == f"esp spi 0x{SPI_MN_TO_HA:08x} ({algorithm})"
        (ba,) = incoming_ba(frames)
        parse_ba(ba, protected=True)
        assert int.from_bytes(ba[64:68], "big") == SPI_HA_TO_MN
        crypt, auth_name = spec[3]
        scapy_sa = ipsec.SecurityAssociation(ipsec.ESP, spi=SPI_HA_TO_MN, crypt_algo=crypt, crypt_key=ha_enc,
                                             auth_algo=auth_name, auth_key=ha_auth or None)
        plain = bytes(scapy_sa.decrypt(IPv6(ba)))
        assert parse_ba(plain) == {"status": 0, "k": False, "sequence": sequence, "lifetime_s": LIFETIME_S}
        if kernel_option("CONFIG_IPV6_MIP6") is False:
            assert world.raw_received == []
    finally:
        world.close()
