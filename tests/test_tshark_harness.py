"""The tshark harness (tests/tshark_check.py) can pass and, above all, can fail.

Every packet here is built by hand with struct from the RFCs (IPv6: RFC 8200 §3; ICMPv6 Echo: RFC 4443
§4.1; Mobility Header and Binding Update: RFC 6275 §6.1.1, §6.1.7; Home Address option §6.3; Type 2
routing header §6.4) and its checksum is a plain ones'-complement sum over the pseudo-header of
RFC 8200 §8.1 computed below, so nothing from mip6fast's codecs is involved except the pcap writer.
"""
import functools
import struct
import subprocess

import pytest

import tshark_check
from mip6fast.io.pcap import LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter, ethernet_frame, ipv6_multicast_mac
from tshark_check import MIP6_FIELDS, dissect, problems, require_tshark

CN = bytes.fromhex("20010db8000300000000000000000001")
HOA = bytes.fromhex("20010db8000200000000000000000001")
COA = bytes.fromhex("20010db8000100000000000000000001")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
MH, ICMPV6, UDP, DSTOPTS, ROUTING, NO_NEXT = 135, 58, 17, 60, 43, 59


def ones_complement_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_checksum(upper: bytes, next_header: int, src: bytes, dst: bytes, at: int) -> bytes:
    """``upper`` with its checksum field (at byte ``at``) set over the RFC 8200 §8.1 pseudo-header."""
    pseudo = src + dst + struct.pack("!IxxxB", len(upper), next_header)
    value = ones_complement_checksum(pseudo + upper[:at] + b"\0\0" + upper[at + 2:])
    return upper[:at] + struct.pack("!H", value) + upper[at + 2:]


def ipv6(next_header: int, payload: bytes, src: bytes, dst: bytes, hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB", 6 << 28, len(payload), next_header, hop_limit) + src + dst + payload


def echo_request(src=COA, dst=CN, identifier=0x1234, sequence=1, data=b"mip6fast") -> bytes:
    icmp = struct.pack("!BBHHH", 128, 0, 0, identifier, sequence) + data
    return ipv6(ICMPV6, with_checksum(icmp, ICMPV6, src, dst, 2), src, dst)


def binding_update(sequence=7, flags=0xC000, lifetime=100, pseudo_src=HOA, pseudo_dst=CN) -> bytes:
    """A 16-byte Mobility Header: common part, BU body, and a 4-byte PadN (RFC 6275 §6.2.1)."""
    mh = struct.pack("!BBBBHHHH", NO_NEXT, 1, 5, 0, 0, sequence, flags, lifetime) + bytes([1, 2, 0, 0])
    return with_checksum(mh, MH, pseudo_src, pseudo_dst, 4)


def home_address_option(next_header: int, home_address: bytes = HOA) -> bytes:
    # PadN(2 bytes of data) puts the option type at offset 6: the 8n+6 alignment of RFC 6275 §6.3.
    return struct.pack("!BB", next_header, 2) + bytes([1, 2, 0, 0]) + bytes([201, 16]) + home_address


def type2_routing_header(next_header: int, home_address: bytes = HOA) -> bytes:
    return struct.pack("!BBBB", next_header, 2, 2, 1) + bytes(4) + home_address


def flip(packet: bytes, at: int) -> bytes:
    return packet[:at] + bytes([packet[at] ^ 0xFF]) + packet[at + 1:]


def write(path, packets, linktype=LINKTYPE_RAW):
    with PcapWriter(path, linktype=linktype) as writer:
        for i, packet in enumerate(packets):
            writer.write(packet, 1_000_000_000 + i * 1_000_000)
    return path


def uses_tshark(test):
    """Marks a test as needing tshark: skipped without it, failed (not errored) without it under CI."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        require_tshark()
        return test(*args, **kwargs)
    return pytest.mark.tshark(run)


# --- the three cases the harness exists for --------------------------------------------------------

@uses_tshark
def test_valid_echo_request_is_clean(tmp_path):
    path = write(tmp_path / "echo.pcap", [echo_request()])
    assert problems(path) == []
    (fields,) = dissect(path)
    assert fields["frame.protocols"] == ["raw:ipv6:icmpv6:data"]
    assert fields["icmpv6.type"] == ["128"]
    assert fields["icmpv6.checksum.status"] == ["1"]  # 1 = good: tshark did verify it
    assert fields["icmpv6.echo.identifier"] == ["0x1234"]
    assert fields["ipv6.src"] == ["2001:db8:1::1"]


@uses_tshark
def test_flipped_checksum_byte_is_named_with_its_frame(tmp_path):
    good = echo_request()
    path = write(tmp_path / "bad.pcap", [good, flip(good, 40 + 3), good])
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith("frame 2: warning [Checksum] icmpv6: Bad checksum [should be 0x")
    assert "icmpv6.checksum_bad.expert" in found[0]
    assert [f["icmpv6.checksum.status"] for f in dissect(path)] == [["1"], ["0"], ["1"]]


@pytest.mark.parametrize("keep, words", [
    (40 + 6, "Malformed Packet"),  # cut inside the ICMPv6 header: the dissector throws
    (40 + 10, "IPv6 payload length exceeds framing length"),  # header whole, data short
    (30, "Malformed Packet"),  # cut inside the IPv6 header
])
@uses_tshark
def test_truncated_packet_is_named_with_its_frame(tmp_path, keep, words):
    path = write(tmp_path / "cut.pcap", [echo_request(), echo_request()[:keep]])
    found = problems(path)
    assert found, "a truncated packet passed as clean"
    assert all(line.startswith("frame 2: ") for line in found), found
    assert any(words in line for line in found), found


@uses_tshark
def test_malformed_packet_line_names_the_protocol_that_threw(tmp_path):
    path = write(tmp_path / "cut.pcap", [echo_request()[:40 + 3]])
    found = problems(path)
    assert ("frame 1: error [Malformed] icmpv6: Malformed Packet (Exception occurred)"
            " (_ws.malformed.expert)") in found


@uses_tshark
def test_a_file_tshark_cannot_finish_reading_is_a_problem(tmp_path):
    path = write(tmp_path / "short.pcap", [echo_request(), echo_request()])
    path.write_bytes(path.read_bytes()[:-5])  # the last record's data is cut short
    found = problems(path)
    assert any(line.startswith("tshark exited with status") and "cut short" in line for line in found), found
    with pytest.raises(tshark_check.TsharkError, match="cut short"):
        dissect(path)


# --- checksum preferences really are on ------------------------------------------------------------

def udp_packet(corrupt=False, zero=False) -> bytes:
    udp = struct.pack("!HHHH", 49152, 49153, 8 + 4, 0) + b"ping"  # ports with no dissector
    udp = with_checksum(udp, UDP, COA, CN, 6)
    if zero:
        udp = udp[:6] + b"\0\0" + udp[8:]
    packet = ipv6(UDP, udp, COA, CN)
    return flip(packet, 40 + 7) if corrupt else packet


@uses_tshark
def test_checksum_preferences_exist_in_this_tshark():
    options = tshark_check.checksum_options()
    for name in ("udp.check_checksum", "tcp.check_checksum"):
        assert f"{name}:TRUE" in options
    assert "icmpv6.check_checksum" not in tshark_check.known_preferences()  # ICMPv6 always checks


@uses_tshark
def test_udp_checksum_is_checked_although_tshark_does_not_by_default(tmp_path):
    path = write(tmp_path / "udp.pcap", [udp_packet(), udp_packet(corrupt=True), udp_packet(zero=True)])
    found = problems(path)
    assert [line.split(":")[0] for line in found] == ["frame 2", "frame 3"], found
    assert "Bad checksum" in found[0]
    # The same file with tshark's defaults: no complaint, which is why the harness sets -o.
    plain = subprocess.run([tshark_check.TSHARK, "-r", str(path), "-q", "-z", "expert,warn"],
                           capture_output=True, text=True, env=tshark_check._environment())
    assert "Bad checksum" not in plain.stdout


# --- Mobility Header -------------------------------------------------------------------------------

@uses_tshark
def test_binding_update_dissects_to_the_fields_we_wrote(tmp_path):
    mh = binding_update(sequence=4242, flags=0xC000, lifetime=100, pseudo_src=COA, pseudo_dst=CN)
    path = write(tmp_path / "bu.pcap", [ipv6(MH, mh, COA, CN)])
    assert problems(path) == []
    (f,) = dissect(path)
    assert f["frame.protocols"] == ["raw:ipv6:mipv6"]
    assert f["ipv6.nxt"] == ["135"]
    assert f["mip6.proto"] == ["59"]
    assert f["mip6.hlen"] == ["1"]
    assert f["mip6.mhtype"] == ["5"]
    assert f["mip6.csum"] == [f"0x{mh[4]:02x}{mh[5]:02x}"]
    assert f["mip6.bu.seqnr"] == ["4242"]
    assert (f["mip6.bu.a_flag"], f["mip6.bu.h_flag"], f["mip6.bu.l_flag"], f["mip6.bu.k_flag"]) == (
        ["1"], ["1"], ["0"], ["0"])
    assert f["mip6.bu.lifetime"] == ["100"]  # wire units of 4 s, not seconds
    assert f["mip6.options.padn"] == ["01:02:00:00"]
    assert f["mipv6_raw"] == [mh.hex()]


@uses_tshark
@pytest.mark.parametrize("flags, expected", [(0x8000, "1000"), (0x4000, "0100"), (0x2000, "0010"),
                                             (0x1000, "0001")])
def test_each_binding_update_flag_lands_on_its_own_field(tmp_path, flags, expected):
    path = write(tmp_path / "bu.pcap", [ipv6(MH, binding_update(flags=flags, pseudo_src=COA), COA, CN)])
    (f,) = dissect(path)
    got = "".join(f[name][0] for name in ("mip6.bu.a_flag", "mip6.bu.h_flag", "mip6.bu.l_flag",
                                          "mip6.bu.k_flag"))
    assert got == expected


@uses_tshark
def test_tshark_itself_does_not_verify_the_mobility_header_checksum(tmp_path):
    # Documents why tshark_check checks it: if this starts failing, tshark learned to, and the
    # harness's own check can go.
    bad = flip(ipv6(MH, binding_update(pseudo_src=COA), COA, CN), 40 + 4)
    path = write(tmp_path / "bad-mh.pcap", [bad])
    (f,) = dissect(path)
    assert "mip6.csum.status" not in f
    assert "_ws.expert.message" not in f


@uses_tshark
def test_bad_mobility_header_checksum_is_named_by_the_harness(tmp_path):
    good = ipv6(MH, binding_update(pseudo_src=COA), COA, CN)
    path = write(tmp_path / "bad-mh.pcap", [good, flip(good, 40 + 5)])
    found = problems(path)
    assert len(found) == 1, found
    assert found[0].startswith("frame 2: error [Checksum] mipv6: Bad Mobility Header checksum 0x")
    should = f"0x{good[44]:02x}{good[45]:02x}"
    assert f"[should be {should}]" in found[0]


@uses_tshark
def test_mh_checksum_uses_the_home_address_option_as_source(tmp_path):
    # MN -> CN: source is the care-of address, the pseudo-header uses the home address (§6.3).
    right = ipv6(DSTOPTS, home_address_option(MH) + binding_update(pseudo_src=HOA, pseudo_dst=CN), COA, CN)
    wrong = ipv6(DSTOPTS, home_address_option(MH) + binding_update(pseudo_src=COA, pseudo_dst=CN), COA, CN)
    path = write(tmp_path / "hao.pcap", [right, wrong])
    found = problems(path)
    assert [line.split(":")[0] for line in found] == ["frame 2"], found
    (f, _) = dissect(path)
    assert f["ipv6.opt.mipv6.home_address"] == ["2001:db8:2::1"]


@uses_tshark
def test_mh_checksum_uses_the_type2_routing_header_as_destination(tmp_path):
    # HA/CN -> MN: destination is the care-of address, the pseudo-header the home address (§6.4).
    ba = struct.pack("!BBBBHBBHH", NO_NEXT, 1, 6, 0, 0, 0, 0, 7, 100) + bytes([1, 2, 0, 0])
    right = ipv6(ROUTING, type2_routing_header(MH) + with_checksum(ba, MH, CN, HOA, 4), CN, COA)
    wrong = ipv6(ROUTING, type2_routing_header(MH) + with_checksum(ba, MH, CN, COA, 4), CN, COA)
    path = write(tmp_path / "rh2.pcap", [right, wrong])
    found = problems(path)
    assert [line.split(":")[0] for line in found] == ["frame 2"], found
    (f, _) = dissect(path)
    assert (f["ipv6.routing.type"], f["ipv6.routing.mipv6.home_address"]) == (["2"], ["2001:db8:2::1"])
    assert (f["mip6.mhtype"], f["mip6.ba.seqnr"], f["mip6.ba.lifetime"]) == (["6"], ["7"], ["100"])


@uses_tshark
def test_icmpv6_checksum_with_home_address_option_is_checked_the_rfc_way(tmp_path):
    icmp = struct.pack("!BBHHH", 128, 0, 0, 1, 1)
    right = ipv6(DSTOPTS, home_address_option(ICMPV6) + with_checksum(icmp, ICMPV6, HOA, CN, 2), COA, CN)
    wrong = ipv6(DSTOPTS, home_address_option(ICMPV6) + with_checksum(icmp, ICMPV6, COA, CN, 2), COA, CN)
    path = write(tmp_path / "hao-icmp.pcap", [right, wrong])
    assert [line.split(":")[0] for line in problems(path)] == ["frame 2"]


@uses_tshark
def test_care_of_test_keygen_token_is_reported_as_mip6_hot_token(tmp_path):
    cot = struct.pack("!BBBBHH", NO_NEXT, 2, 4, 0, 0, 9) + b"\x11" * 8 + b"\x22" * 8
    path = write(tmp_path / "cot.pcap", [ipv6(MH, with_checksum(cot, MH, CN, COA, 4), CN, COA)])
    assert problems(path) == []
    (f,) = dissect(path)
    assert (f["mip6.cot.nindex"], f["mip6.cot.cookie"]) == (["9"], ["0x1111111111111111"])
    assert f["mip6.hot.token"] == ["0x2222222222222222"]
    assert "mip6.cot.token" not in f


@uses_tshark
def test_mip6_fields_are_all_real_tshark_fields():
    done = subprocess.run([tshark_check.TSHARK, "-G", "fields"], capture_output=True, text=True,
                          env=tshark_check._environment(), timeout=120)
    known = {line.split("\t")[2] for line in done.stdout.splitlines()
             if line.startswith(("F\t", "P\t")) and line.count("\t") >= 2}
    assert sorted(set(MIP6_FIELDS) - known) == []


# --- Ethernet link type ----------------------------------------------------------------------------

@uses_tshark
def test_ethernet_capture_is_clean_and_dissected(tmp_path):
    src_mac = bytes.fromhex("020000000001")
    echo = echo_request(dst=ALL_NODES)
    path = write(tmp_path / "eth.pcap", [ethernet_frame(ipv6_multicast_mac(ALL_NODES), src_mac, echo)],
                 linktype=LINKTYPE_ETHERNET)
    assert problems(path) == []
    (f,) = dissect(path)
    assert f["frame.protocols"] == ["eth:ethertype:ipv6:icmpv6:data"]
    assert f["eth.dst"] == ["33:33:00:00:00:01"]
    assert f["eth.type"] == ["0x86dd"]
    assert f["icmpv6.checksum.status"] == ["1"]


# --- require_tshark itself -------------------------------------------------------------------------

def test_require_tshark_skips_without_tshark_outside_ci(monkeypatch):
    monkeypatch.setattr(tshark_check, "have_tshark", lambda: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        tshark_check.require_tshark()


def test_require_tshark_fails_without_tshark_in_ci(monkeypatch):
    monkeypatch.setattr(tshark_check, "have_tshark", lambda: False)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        tshark_check.require_tshark()
