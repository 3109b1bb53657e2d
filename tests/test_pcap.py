"""mip6fast.io.pcap: classic pcap writing and reading, corrupt files, Ethernet helpers.

Expected bytes are built here with struct from the format description (draft-ietf-opsawg-pcap §4-5),
not with the module under test, so a writer and reader that agree on a mistake still fail.
"""
import io
import os
import pickle
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast.errors import Mip6Error, ParseError
from mip6fast.io.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    PcapError,
    PcapReader,
    PcapRecord,
    PcapWriter,
    ethernet_frame,
    ipv6_multicast_mac,
    parse_ethernet,
    read_pcap,
)

NS = 1_000_000_000
USEC_MAGIC = 0xA1B2C3D4
NSEC_MAGIC = 0xA1B23C4D


def global_header(order="<", magic=NSEC_MAGIC, snaplen=262144, linktype=LINKTYPE_RAW, major=2, minor=4):
    return struct.pack(order + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def record(data, sec=0, frac=0, order="<", incl=None, orig=None):
    incl = len(data) if incl is None else incl
    orig = len(data) if orig is None else orig
    return struct.pack(order + "IIII", sec, frac, incl, orig) + data


def write_to_bytes(packets, **kwargs):
    buf = io.BytesIO()
    with PcapWriter(buf, **kwargs) as writer:
        for data, ts in packets:
            writer.write(data, ts)
    return buf.getvalue()


def read_bytes(data):
    return list(PcapReader(io.BytesIO(data)))


# --- writing -------------------------------------------------------------------------------------

def test_writer_bytes_match_the_format_exactly():
    out = write_to_bytes([(b"\x60abc", 5 * NS + 7), (b"", 6 * NS)])
    expected = (global_header() + record(b"\x60abc", sec=5, frac=7)
                + record(b"", sec=6, frac=0))
    assert out == expected


def test_writer_microsecond_magic_truncates_timestamps():
    out = write_to_bytes([(b"x", 3 * NS + 123_456_789)], nanosecond=False, linktype=LINKTYPE_ETHERNET,
                         snaplen=1500)
    assert out == global_header(magic=USEC_MAGIC, snaplen=1500, linktype=LINKTYPE_ETHERNET) + record(
        b"x", sec=3, frac=123_456)
    reader = PcapReader(io.BytesIO(out))
    assert (reader.nanosecond, reader.linktype, reader.snaplen) == (False, LINKTYPE_ETHERNET, 1500)
    assert list(reader) == [PcapRecord(3 * NS + 123_456_000, b"x", 1)]


def test_snaplen_truncates_and_keeps_the_original_length():
    packet = bytes(range(50))
    out = write_to_bytes([(packet, 0), (packet[:20], 1)], snaplen=20)
    assert out[24:24 + 16] == struct.pack("<IIII", 0, 0, 20, 50)
    assert read_bytes(out) == [PcapRecord(0, packet[:20], 50), PcapRecord(1, packet[:20], 20)]


@pytest.mark.parametrize("linktype", [LINKTYPE_RAW, LINKTYPE_ETHERNET])
@pytest.mark.parametrize("nanosecond", [True, False])
def test_round_trip_through_a_path(tmp_path, linktype, nanosecond):
    path = tmp_path / "x.pcap"
    packets = [(bytes([0x60]) + os.urandom(n), t) for n, t in
               [(0, 0), (39, 1_000), (1499, 17 * NS + 999_999_000), (9000, (2**32 - 1) * NS)]]
    with PcapWriter(path, linktype=linktype, nanosecond=nanosecond) as writer:
        for data, ts in packets:
            writer.write(data, ts)
        assert writer.packets_written == 4
    assert writer.closed
    kind, records = read_pcap(path)
    assert kind == linktype
    assert records == [PcapRecord(ts, data, len(data)) for data, ts in packets]
    with PcapReader(str(path)) as reader:
        assert reader.nanosecond is nanosecond
        assert reader.byte_order == "<"
        assert len(list(reader)) == 4
        assert reader.records_read == 4


def test_nanosecond_timestamps_are_exact_at_the_top_of_the_range():
    ts = (2**32 - 1) * NS + 999_999_999
    assert read_bytes(write_to_bytes([(b"a", ts)])) == [PcapRecord(ts, b"a", 1)]


def test_writer_takes_any_bytes_like_object():
    import array

    import numpy

    words = array.array("H", [0x6000, 0x0102])
    out = write_to_bytes([(bytearray(b"ab"), 1), (memoryview(b"xyz")[1:], 2), (words, 3),
                          (numpy.arange(4, dtype=numpy.uint8), numpy.int64(4))])
    assert [r.data for r in read_bytes(out)] == [b"ab", b"yz", words.tobytes(), b"\0\1\2\3"]
    assert [r.timestamp_ns for r in read_bytes(out)] == [1, 2, 3, 4]


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32 * NS, ValueError), (1.5, TypeError),
                                      (True, TypeError), ("1", TypeError)])
def test_writer_refuses_timestamps_a_pcap_cannot_hold(bad, exc):
    writer = PcapWriter(io.BytesIO())
    with pytest.raises(exc):
        writer.write(b"x", bad)
    assert writer.packets_written == 0


@pytest.mark.parametrize("kwargs, exc", [({"snaplen": 0}, ValueError), ({"snaplen": 2**32}, ValueError),
                                         ({"linktype": -1}, ValueError), ({"linktype": 2**32}, ValueError),
                                         ({"snaplen": 1500.0}, TypeError), ({"linktype": 1.0}, TypeError)])
def test_writer_refuses_header_values_that_do_not_fit(kwargs, exc):
    buf = io.BytesIO()
    with pytest.raises(exc):
        PcapWriter(buf, **kwargs)
    assert buf.getvalue() == b""


def test_close_leaves_a_borrowed_file_open_and_refuses_later_writes():
    buf = io.BytesIO()
    writer = PcapWriter(buf)
    writer.write(b"a", 0)
    writer.flush()
    writer.close()
    writer.close()
    assert not buf.closed
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"b", 1)
    assert len(read_bytes(buf.getvalue())) == 1


def test_path_writer_closes_its_file(tmp_path):
    writer = PcapWriter(tmp_path / "a.pcap")
    writer.write(b"a", 0)
    writer.close()
    assert writer._file.closed
    assert (tmp_path / "a.pcap").stat().st_size == 24 + 16 + 1


# --- reading files written elsewhere -------------------------------------------------------------

@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("magic, scale", [(USEC_MAGIC, 1000), (NSEC_MAGIC, 1)])
def test_reads_both_byte_orders_and_both_magics(order, magic, scale):
    data = (global_header(order, magic, snaplen=65535, linktype=LINKTYPE_ETHERNET)
            + record(b"\x01\x02\x03", sec=10, frac=999, order=order)
            + record(b"\x04" * 5, sec=11, frac=1, order=order, orig=60))
    reader = PcapReader(io.BytesIO(data))
    assert reader.byte_order == order
    assert reader.nanosecond is (magic == NSEC_MAGIC)
    assert (reader.linktype, reader.snaplen, reader.version) == (LINKTYPE_ETHERNET, 65535, (2, 4))
    assert list(reader) == [PcapRecord(10 * NS + 999 * scale, b"\x01\x02\x03", 3),
                            PcapRecord(11 * NS + scale, b"\x04" * 5, 60)]


def test_big_endian_header_is_not_read_as_little_endian():
    # A big-endian snaplen of 0x0000ffff would read as 0xffff0000 the wrong way round.
    reader = PcapReader(io.BytesIO(global_header(">", snaplen=0xFFFF, linktype=228)))
    assert (reader.snaplen, reader.linktype) == (0xFFFF, 228)


def test_linktype_keeps_the_low_16_bits_of_the_field():
    # Bits 28-31 and 26 of the field carry FCS information (draft-ietf-opsawg-pcap §4).
    reader = PcapReader(io.BytesIO(global_header(linktype=0x6400_0001)))
    assert reader.linktype == LINKTYPE_ETHERNET


def test_reader_copes_with_short_reads():
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def read(self, n=-1):
            n = 3 if n < 0 else min(n, 3)
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    data = write_to_bytes([(b"hello world" * 10, 42), (b"x", 43)])
    assert list(PcapReader(Trickle(data))) == [PcapRecord(42, b"hello world" * 10, 110),
                                               PcapRecord(43, b"x", 1)]


# --- corrupt files -------------------------------------------------------------------------------

GOOD = global_header() + record(b"\x60" * 20, sec=1) + record(b"\x60" * 8, sec=2)


def read_error(data) -> PcapError:
    with pytest.raises(PcapError) as info:
        read_bytes(data)
    return info.value


@pytest.mark.parametrize("data, offset, words", [
    (b"", 0, "truncated global header: 0 of 24"),
    (GOOD[:2], 0, "truncated global header: 2 of 24"),
    (GOOD[:10], 10, "truncated global header: 10 of 24"),
    (GOOD[:23], 23, "truncated global header: 23 of 24"),
    (b"\0" * 24, 0, "bad magic number 0x00000000"),
    (b"GIF89a" + b"\0" * 30, 0, "bad magic"),
    (struct.pack("<I", 0x0A0D0D0A) + b"\0" * 40, 0, "pcapng"),
    (struct.pack("<I", 0xA1B2CD34) + b"\0" * 40, 0, "modified"),
    (global_header(major=3), 4, "unsupported pcap version 3.4"),
    (GOOD[:24 + 7], 24, "record 1: truncated record header: 7 of 16"),
    (GOOD[:24 + 16 + 5], 40, "record 1: truncated record data: 5 of incl_len 20"),
    (GOOD[:24 + 36 + 16], 76, "record 2: truncated record data: 0 of incl_len 8"),
    (GOOD[:24 + 36 + 1], 60, "record 2: truncated record header: 1 of 16"),
    (global_header() + record(b"", incl=0xFFFFFFFF, orig=0xFFFFFFFF), 32,
     "record 1: incl_len 4294967295 exceeds the largest allowed record length 262144"),
    (global_header(snaplen=100) + record(b"", incl=262145, orig=262145), 32, "incl_len 262145 exceeds"),
    (global_header() + record(b"ab", orig=1), 32, "incl_len 2 is larger than orig_len 1"),
    (global_header() + record(b"ab", frac=NS), 28, "timestamp fraction 1000000000 nanoseconds"),
    (global_header(magic=USEC_MAGIC) + record(b"ab", frac=1_000_000), 28,
     "timestamp fraction 1000000 microseconds"),
])
def test_corrupt_files_raise_pcap_error_with_reason_and_offset(data, offset, words):
    error = read_error(data)
    assert error.offset == offset
    assert words in error.reason
    assert f"offset {offset}" in str(error)


def test_records_before_the_damage_are_delivered():
    reader = PcapReader(io.BytesIO(GOOD[:-3]))
    it = iter(reader)
    assert next(it) == PcapRecord(NS, b"\x60" * 20, 20)
    with pytest.raises(PcapError, match="record 2: truncated record data: 5 of incl_len 8"):
        next(it)


def test_a_snaplen_up_to_the_header_value_is_accepted():
    data = global_header(snaplen=300_000) + record(b"\x60" * 262_145)
    assert read_bytes(data)[0].original_length == 262_145


class BoundedReads(io.RawIOBase):
    """A file that fails the test if anyone asks it for more than ``limit`` bytes at once."""

    def __init__(self, data, limit):
        self.data, self.limit, self.largest = data, limit, 0

    def readable(self):
        return True

    def read(self, n=-1):
        assert 0 <= n <= self.limit, f"read({n}) asked for more than {self.limit} bytes"
        self.largest = max(self.largest, n)
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


def test_absurd_incl_len_is_refused_before_any_data_is_read():
    data = global_header() + record(b"", incl=0xFFFFFFFF, orig=0xFFFFFFFF) + b"\0" * 100
    source = BoundedReads(data, limit=24)
    reader = PcapReader(source)
    with pytest.raises(PcapError, match="incl_len 4294967295"):
        list(reader)
    assert len(source.data) == 100  # nothing after the record header was consumed


def test_a_huge_snaplen_does_not_make_the_reader_allocate_incl_len():
    # With snaplen 0xffffffff in the header, an incl_len of ~4 GiB is within the rule, yet only the
    # 10 bytes really there may be read, in bounded chunks.
    data = global_header(snaplen=0xFFFFFFFF) + record(b"", incl=0xFFFFFFF0, orig=0xFFFFFFF0) + b"z" * 10
    source = BoundedReads(data, limit=1 << 20)
    with pytest.raises(PcapError, match="truncated record data: 10 of incl_len 4294967280"):
        list(PcapReader(source))
    assert source.largest <= 1 << 20


def test_pcap_error_is_the_package_error_and_a_value_error_and_pickles():
    error = read_error(b"\0" * 24)
    assert isinstance(error, Mip6Error) and isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.offset, str(copy)) == (error.reason, error.offset, str(error))


def test_bad_header_from_a_path_closes_the_file(tmp_path):
    path = tmp_path / "bad.pcap"
    path.write_bytes(b"\0" * 24)
    with pytest.raises(PcapError):
        read_pcap(path)


# --- fuzzing: mutated and truncated files either read or raise PcapError ---------------------------

packet_lists = st.lists(st.tuples(st.binary(max_size=64), st.integers(0, 2**32 * NS - 1)), max_size=5)


@st.composite
def valid_files(draw):
    packets = draw(packet_lists)
    order = draw(st.sampled_from("<>"))
    nanosecond = draw(st.booleans())
    magic = NSEC_MAGIC if nanosecond else USEC_MAGIC
    snaplen = draw(st.sampled_from([16, 64, 262144]))
    data = global_header(order, magic, snaplen=snaplen, linktype=draw(st.sampled_from([1, 101])))
    records = []
    for payload, ts in packets:
        sec, ns = divmod(ts, NS)
        frac = ns if nanosecond else ns // 1000
        kept = payload[:snaplen]
        data += record(kept, sec=sec, frac=frac, order=order, orig=len(payload))
        records.append(PcapRecord(sec * NS + (frac if nanosecond else frac * 1000), kept, len(payload)))
    return data, records


def read_or_pcap_error(data):
    try:
        return read_bytes(data)
    except PcapError as error:
        assert 0 <= error.offset <= len(data)
        return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(valid_files(), st.data())
def test_truncated_files_give_a_prefix_of_the_records_or_pcap_error(file, data):
    raw, records = file
    assert read_bytes(raw) == records
    cut = data.draw(st.integers(0, len(raw)))
    got = read_or_pcap_error(raw[:cut])
    if got is not None:
        assert got == records[:len(got)]


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(valid_files(), st.data())
def test_mutated_files_only_ever_raise_pcap_error(file, data):
    raw = bytearray(file[0])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        how = data.draw(st.sampled_from(["byte", "u32", "insert", "delete"]))
        if how == "byte":
            raw[at] = data.draw(st.integers(0, 255))
        elif how == "u32":
            edges = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 262144, 262145]
            value = data.draw(st.sampled_from(edges) | st.integers(0, 2**32 - 1))
            raw[at:at + 4] = struct.pack(data.draw(st.sampled_from(["<I", ">I"])), value)
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[at:at + data.draw(st.integers(1, 8))]
    read_or_pcap_error(bytes(raw))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_raise_pcap_error(raw):
    read_or_pcap_error(raw)


# --- Ethernet helpers ----------------------------------------------------------------------------

DST = bytes.fromhex("333300000001")
SRC = bytes.fromhex("020000000001")


def test_ethernet_frame_layout():
    assert ethernet_frame(DST, SRC, b"\x60\x00") == DST + SRC + b"\x86\xdd\x60\x00"
    assert ethernet_frame(DST, SRC, b"", ethertype=0x0800) == DST + SRC + b"\x08\x00"


def test_parse_ethernet_inverts_ethernet_frame():
    frame = ethernet_frame(bytearray(DST), memoryview(SRC), bytearray(b"payload"), ethertype=0x1234)
    assert parse_ethernet(frame) == (DST, SRC, 0x1234, b"payload")
    assert parse_ethernet(memoryview(frame)[:14]) == (DST, SRC, 0x1234, b"")


@pytest.mark.parametrize("length, field, offset", [(0, "destination", 0), (5, "destination", 0),
                                                   (6, "source", 6), (11, "source", 6),
                                                   (12, "ethertype", 12), (13, "ethertype", 12)])
def test_parse_ethernet_short_frame_raises_parse_error(length, field, offset):
    with pytest.raises(ParseError) as info:
        parse_ethernet(bytes(length))
    assert (info.value.field, info.value.offset) == (field, offset)
    assert f"frame of {length} bytes" in info.value.reason


@pytest.mark.parametrize("kwargs", [{"dst_mac": b"\0" * 5}, {"src_mac": b"\0" * 7}, {"ethertype": 0x10000},
                                    {"ethertype": -1}])
def test_ethernet_frame_refuses_bad_fields(kwargs):
    args = {"dst_mac": DST, "src_mac": SRC, "payload": b""}
    args.update(kwargs)
    with pytest.raises(ValueError):
        ethernet_frame(**args)


@pytest.mark.parametrize("address, mac", [
    ("ff020000000000000000000000000001", "333300000001"),  # all-nodes
    ("ff0200000000000000000001ff001234", "3333ff001234"),  # solicited-node (RFC 4291 §2.7.1)
    ("ff0e0000000000000000000012345678", "333312345678"),
])
def test_ipv6_multicast_mac_rfc2464_section7(address, mac):
    assert ipv6_multicast_mac(bytes.fromhex(address)) == bytes.fromhex(mac)


@pytest.mark.parametrize("address", [bytes(16), bytes.fromhex("20010db8" + "00" * 11 + "01"), b"\xff" * 15])
def test_ipv6_multicast_mac_refuses_what_is_not_a_multicast_address(address):
    with pytest.raises(ValueError):
        ipv6_multicast_mac(address)
