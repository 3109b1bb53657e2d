"""mip6fast.io.pcapng: the daemons' capture format. Two interfaces, both directions, read back by our own
reader and by tshark (frame.interface_name, frame.packet_flags_direction); the expected block bytes are
built here with struct from the format description (draft-ietf-opsawg-pcapng), not with the writer."""
import io
import struct
import subprocess

import pytest

from mip6fast.io.pcap import LINKTYPE_ETHERNET, PcapError, ethernet_frame
from mip6fast.io.pcapng import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DIRECTION_UNKNOWN,
    PcapngReader,
    PcapngWriter,
    read_pcapng,
)
from tshark_check import TSHARK, _environment, problems, require_tshark

NS = 1_000_000_000
T0 = 1_765_000_000 * NS + 123_456_789


SRC = bytes.fromhex("20010db8000000000000000000000001")
DST = bytes.fromhex("20010db8000000000000000000000002")


def echo_request(sequence: int) -> bytes:
    """An ICMPv6 echo request in an IPv6 packet, its checksum summed here (RFC 8200 §8.1)."""
    icmp = struct.pack("!BBHHH", 128, 0, 0, 0x1234, sequence) + b"mip6fast"
    data = SRC + DST + struct.pack("!I3xB", len(icmp), 58) + icmp
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    icmp = icmp[:2] + struct.pack("!H", ~total & 0xFFFF) + icmp[4:]
    return struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64) + SRC + DST + icmp


def echo(n):
    """ICMPv6 echo request number ``n`` in an Ethernet frame."""
    return ethernet_frame(bytes.fromhex("020000000002"), bytes.fromhex("020000000001"), echo_request(sequence=n))


def two_interfaces(target, nanosecond=True):
    with PcapngWriter(target, nanosecond=nanosecond) as w:
        assert w.add_interface("eth0") == 0
        assert w.add_interface("wlan1") == 1
        w.write(echo(0), T0, "eth0", "in")
        w.write(echo(1), T0 + 1000, 1, DIRECTION_OUTBOUND)
        w.write(echo(2), T0 + 2000, "wlan1", "in")
        w.write(echo(3), T0 + 3000, "eth0", "out")
        w.write(echo(4), T0 + 4000, "eth0")              # direction not known: no epb_flags
    return target


def test_blocks_are_laid_out_as_the_format_says():
    buf = io.BytesIO()
    with PcapngWriter(buf) as w:
        w.add_interface("eth0")
        w.write(b"\x01\x02\x03", 5 * NS + 7, 0, "out")
        raw = buf.getvalue()
    # Section Header Block: type, length, byte-order magic, version 1.0, section length -1.
    block_type, length, magic, major, minor, section = struct.unpack_from("<IIIHHq", raw)
    assert (block_type, magic, major, minor, section) == (0x0A0D0D0A, 0x1A2B3C4D, 1, 0, -1)
    assert struct.unpack_from("<I", raw, length - 4)[0] == length and length % 4 == 0
    # Interface Description Block: linktype Ethernet, if_name "eth0", if_tsresol 9.
    idb = raw[length:]
    (t, idb_len, linktype, _r, _snap) = struct.unpack_from("<IIHHI", idb)
    assert (t, linktype) == (1, LINKTYPE_ETHERNET)
    assert idb[16:28] == struct.pack("<HH", 2, 4) + b"eth0" + struct.pack("<HH", 9, 1)
    assert idb[28:32] == b"\x09\0\0\0" and idb[32:36] == b"\0\0\0\0"
    # Enhanced Packet Block: interface 0, the 64-bit nanosecond stamp, 3 bytes padded, epb_flags = 2.
    epb = idb[idb_len:]
    t, epb_len, iface, high, low, cap, orig = struct.unpack_from("<IIIIIII", epb)
    assert (t, iface, (high << 32) | low, cap, orig) == (6, 0, 5 * NS + 7, 3, 3)
    assert epb[28:32] == b"\x01\x02\x03\0"
    assert epb[32:40] == struct.pack("<HHI", 2, 4, 2) and epb[40:44] == b"\0\0\0\0"
    assert struct.unpack_from("<I", epb, epb_len - 4)[0] == epb_len == len(epb)


@pytest.mark.parametrize("nanosecond", [True, False])
def test_our_reader_gets_interfaces_directions_and_times_back(tmp_path, nanosecond):
    interfaces, packets = read_pcapng(two_interfaces(tmp_path / "two.pcapng", nanosecond))
    assert [i.name for i in interfaces] == ["eth0", "wlan1"]
    assert {i.units_per_second for i in interfaces} == {NS if nanosecond else 1_000_000}
    assert [(p.interface_name, p.direction) for p in packets] == [
        ("eth0", DIRECTION_INBOUND), ("wlan1", DIRECTION_OUTBOUND), ("wlan1", DIRECTION_INBOUND),
        ("eth0", DIRECTION_OUTBOUND), ("eth0", DIRECTION_UNKNOWN)]
    step = 1 if nanosecond else 1000
    assert [p.timestamp_ns for p in packets] == [(T0 + i * 1000) // step * step for i in range(5)]
    assert packets[0].data == echo(0) and packets[-1].flags is None


def test_tshark_reads_interface_names_and_directions(tmp_path):
    require_tshark()
    path = two_interfaces(tmp_path / "two.pcapng")
    out = subprocess.run([TSHARK, "-n", "-r", str(path), "-T", "fields", "-e", "frame.interface_id",
                          "-e", "frame.interface_name", "-e", "frame.packet_flags_direction",
                          "-e", "frame.time_epoch"],
                         capture_output=True, text=True, check=True, env=_environment(), timeout=120).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    # tshark 4.0 shows the direction bits as 0x00000001 (inbound) / 0x00000002 (outbound); no flags: empty.
    assert [(r[0], r[1], int(r[2], 16) if r[2] else None) for r in rows] == [
        ("0", "eth0", 1), ("1", "wlan1", 2), ("1", "wlan1", 1), ("0", "eth0", 2), ("0", "eth0", None)]
    assert rows[0][3].startswith("1765000000.123456789")
    assert problems(str(path)) == []


def test_writer_refuses_what_it_cannot_write(tmp_path):
    with PcapngWriter(tmp_path / "x.pcapng") as w:
        w.add_interface("eth0")
        with pytest.raises(ValueError, match="already added"):
            w.add_interface("eth0")
        with pytest.raises(ValueError, match="never added"):
            w.write(b"x", 0, "eth9")
        with pytest.raises(ValueError, match="never added"):
            w.write(b"x", 0, 3)
        with pytest.raises(ValueError, match="direction"):
            w.write(b"x", 0, 0, "sideways")
        with pytest.raises(ValueError, match="negative"):
            w.write(b"x", -1, 0)
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x", 0, 0)


def test_reader_reports_truncation_and_garbage(tmp_path):
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    w.add_interface("eth0")
    head = buf.getvalue()
    w.write(echo(0), T0, 0, "in")
    raw = buf.getvalue()
    with pytest.raises(PcapError, match="truncated"):
        list(PcapngReader(io.BytesIO(raw[:-6])))
    with pytest.raises(PcapError, match="not a pcapng"):
        PcapngReader(io.BytesIO(b"\xd4\xc3\xb2\xa1" + bytes(20)))
    with pytest.raises(PcapError, match="block length"):
        list(PcapngReader(io.BytesIO(head + struct.pack("<III", 6, 7, 7))))
    with pytest.raises(PcapError, match="no description"):
        shb_length = struct.unpack_from("<I", head, 4)[0]        # the section header, then no IDB
        list(PcapngReader(io.BytesIO(head[:shb_length] + raw[len(head):])))
