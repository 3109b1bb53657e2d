"""Classic libpcap capture files, so any part of the engine can record what crosses a link.

Theory of operation
-------------------
A classic pcap file is a 24-byte global header followed by records, each a 16-byte record header and
the captured bytes (the format is described in draft-ietf-opsawg-pcap, and in pcap-savefile(5)):

    global header  magic u32 | version_major u16 | version_minor u16 | thiszone i32 | sigfigs u32
                   | snaplen u32 | linktype u32
    record header  ts_sec u32 | ts_frac u32 | incl_len u32 | orig_len u32

The magic tells both the byte order (it reads back swapped in the other order) and the timestamp unit:
0xa1b2c3d4 for microseconds, 0xa1b23c4d for nanoseconds. ``PcapWriter`` writes little-endian files
with the nanosecond magic by default, so a simulator's virtual clock (integer nanoseconds) is
recorded exactly and the same run always gives the same bytes. ``PcapReader`` reads both byte orders
and both magics.

Reading treats a bad file as normal input: anything truncated or inconsistent raises ``PcapError``
naming what is wrong and the file offset where it is, never an ``IndexError`` or ``struct.error``.
Record data is read in bounded chunks, and a record claiming more than ``max(snaplen, 262144)`` bytes
is refused before anything is read, so a corrupt length cannot make the reader allocate gigabytes.

Link types (https://www.tcpdump.org/linktypes.html): ``LINKTYPE_RAW`` (101) records bare IP packets,
and Wireshark picks IPv6 from the version nibble; ``LINKTYPE_ETHERNET`` (1) records Ethernet II
frames, built with ``ethernet_frame`` (no FCS is written).
"""
from __future__ import annotations

import operator
import os
import struct
from typing import IO, NamedTuple, Union
from collections.abc import Iterator

from ..errors import Mip6Error
from ..wire.ethernet import ETHERTYPE_IPV6, ethernet_frame, ipv6_multicast_mac, parse_ethernet  # noqa: F401 (re-exported)

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_RAW",
    "MAGIC_MICROSECONDS",
    "MAGIC_NANOSECONDS",
    "CaptureWriter",
    "PcapError",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "ethernet_frame",
    "ipv6_multicast_mac",
    "parse_ethernet",
    "read_pcap",
]

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101

MAGIC_MICROSECONDS = 0xA1B2C3D4
MAGIC_NANOSECONDS = 0xA1B23C4D
_PCAPNG_MAGIC = 0x0A0D0D0A  # the first block type of a pcapng file, the same in both byte orders
_MODIFIED_MAGIC = 0xA1B2CD34  # Alexey Kuznetsov's patched libpcap format

VERSION_MAJOR = 2
VERSION_MINOR = 4
DEFAULT_SNAPLEN = 262144  # libpcap's and Wireshark's usual maximum for most link types
GLOBAL_HEADER_LEN = 24
RECORD_HEADER_LEN = 16

_U32_MAX = 0xFFFFFFFF
_READ_CHUNK = 1 << 20  # record data is read at most this much at a time

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


class PcapError(Mip6Error, ValueError):
    """A capture file that is truncated or corrupt.

    ``reason`` says what is wrong and ``offset`` is the byte offset in the file where it is.
    """

    def __init__(self, reason: str, offset: int):
        self.reason = reason
        self.offset = offset
        super().__init__(f"pcap file offset {offset}: {reason}")

    def __reduce__(self):
        return (PcapError, (self.reason, self.offset))


class PcapRecord(NamedTuple):
    """One captured packet: when, the captured bytes, and how long the packet really was."""

    timestamp_ns: int
    data: bytes
    original_length: int


def _open(target: PathOrFile, mode: str) -> tuple[IO[bytes], bool]:
    """(file object, whether we opened it and so must close it)."""
    if isinstance(target, (str, bytes, os.PathLike)):
        return open(target, mode), True
    return target, False


class CaptureWriter:
    """What the pcap and pcapng writers share: the file (a path, opened here and closed by ``close()``,
    or a binary file object, flushed but left open), the header written at once, the checks of a
    packet's timestamp and bytes, flush/close and the context manager."""
    RECORD = "pcap record"          # what a packet becomes, for the error about one too long

    def _start(self, target: PathOrFile, header: bytes) -> None:
        self.packets_written = 0
        self._file, self._owned = _open(target, "wb")
        self._closed = False
        try:
            self._file.write(header)
        except BaseException:
            self._release()
            raise

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise ValueError(f"{what} a closed {type(self).__name__}")

    @staticmethod
    def _timestamp(timestamp_ns: int) -> int:
        if isinstance(timestamp_ns, bool):
            raise TypeError("timestamp_ns must be an integer number of nanoseconds, not a bool")
        # operator.index takes Python and numpy integers but refuses floats: a float cannot carry a
        # 64-bit nanosecond clock exactly, and rounding it silently would break exact replays.
        timestamp_ns = operator.index(timestamp_ns)
        if timestamp_ns < 0:
            raise ValueError(f"timestamp_ns must not be negative: {timestamp_ns}")
        return timestamp_ns

    def _bytes(self, data) -> memoryview:
        """``data`` (any bytes-like object) as a flat byte view, refused when a record cannot say its length."""
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        if view.nbytes > _U32_MAX:
            raise ValueError(f"packet of {view.nbytes} bytes is too long for a {self.RECORD}")
        return view

    def flush(self) -> None:
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it. Closing twice is harmless."""
        if self._closed:
            return
        try:
            self._file.flush()
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        if self._owned:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class PcapWriter(CaptureWriter):
    """Writes a classic pcap file, one ``write(data, timestamp_ns)`` per packet.

    ``target`` is a path (opened, and closed by ``close()``) or a binary file object (flushed but
    left open by ``close()``). The global header is written at once. Packets longer than ``snaplen``
    are written truncated to ``snaplen`` with their real length kept as orig_len, as a capture
    tool would. With ``nanosecond=False`` the microsecond magic is written and timestamps are
    truncated to whole microseconds.
    """

    def __init__(self, target: PathOrFile, linktype: int = LINKTYPE_RAW,
                 snaplen: int = DEFAULT_SNAPLEN, nanosecond: bool = True):
        linktype = operator.index(linktype)
        snaplen = operator.index(snaplen)
        if not 0 <= linktype <= _U32_MAX:
            raise ValueError(f"linktype {linktype} does not fit the 32-bit header field")
        if not 0 < snaplen <= _U32_MAX:
            raise ValueError(f"snaplen must be between 1 and {_U32_MAX}, not {snaplen}")
        self.linktype = linktype
        self.snaplen = snaplen
        self.nanosecond = bool(nanosecond)
        magic = MAGIC_NANOSECONDS if self.nanosecond else MAGIC_MICROSECONDS
        self._start(target, struct.pack("<IHHiIII", magic, VERSION_MAJOR, VERSION_MINOR, 0, 0, snaplen, linktype))

    def __enter__(self) -> PcapWriter:
        return self

    def write(self, data, timestamp_ns: int) -> None:
        """Record one packet (any bytes-like object) captured at ``timestamp_ns`` (integer ns)."""
        self._check_open("write to")
        timestamp_ns = self._timestamp(timestamp_ns)
        seconds, nanoseconds = divmod(timestamp_ns, 1_000_000_000)
        if seconds > _U32_MAX:
            raise ValueError(f"timestamp_ns {timestamp_ns} is past what a pcap header holds (2106)")
        fraction = nanoseconds if self.nanosecond else nanoseconds // 1000
        view = self._bytes(data)
        original_length = view.nbytes
        included = min(original_length, self.snaplen)
        self._file.write(struct.pack("<IIII", seconds, fraction, included, original_length))
        self._file.write(view[:included])
        self.packets_written += 1


class PcapReader:
    """Reads a classic pcap file: iterate over it for ``PcapRecord``s.

    ``source`` is a path (closed by ``close()`` or at the end of a ``with`` block) or a binary file
    object read from its current position (left open). The global header is read and checked at
    construction, so ``linktype``, ``snaplen``, ``nanosecond`` and ``byte_order`` ('<' or '>') are
    known before the first record. The reader is a single pass over the stream: iterating again
    continues where the last iteration stopped.
    """

    def __init__(self, source: PathOrFile):
        self._file, self._owned = _open(source, "rb")
        self._offset = 0  # counted here, not with tell(), so pipes and sockets work too
        self._records = 0
        try:
            self._read_global_header()
        except BaseException:
            self.close()
            raise

    def _read_global_header(self) -> None:
        header = self._read_up_to(GLOBAL_HEADER_LEN)
        if len(header) < 4:
            raise PcapError(f"truncated global header: {len(header)} of {GLOBAL_HEADER_LEN} bytes"
                            " (not even a magic number)", 0)
        magic_le, = struct.unpack("<I", header[:4])
        magic_be, = struct.unpack(">I", header[:4])
        if magic_le in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            order, magic = "<", magic_le
        elif magic_be in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            order, magic = ">", magic_be
        elif magic_le == _PCAPNG_MAGIC:
            raise PcapError("this is a pcapng file, not a classic pcap file", 0)
        elif _MODIFIED_MAGIC in (magic_le, magic_be):
            raise PcapError("modified (Kuznetsov) pcap format is not supported", 0)
        else:
            raise PcapError(f"bad magic number 0x{magic_be:08x}: not a pcap file (expected "
                            f"0x{MAGIC_MICROSECONDS:08x} or 0x{MAGIC_NANOSECONDS:08x} in either byte"
                            " order)", 0)
        if len(header) < GLOBAL_HEADER_LEN:
            raise PcapError(f"truncated global header: {len(header)} of {GLOBAL_HEADER_LEN} bytes",
                            len(header))
        major, minor, _thiszone, _sigfigs, snaplen, linktype_field = struct.unpack(
            order + "HHiIII", header[4:])
        if major != VERSION_MAJOR:
            raise PcapError(f"unsupported pcap version {major}.{minor} (only {VERSION_MAJOR}.x)", 4)
        self.byte_order = order
        self.nanosecond = magic == MAGIC_NANOSECONDS
        self.version = (major, minor)
        self.snaplen = snaplen
        # The upper bits of the field carry FCS information (draft-ietf-opsawg-pcap §4); the link
        # type proper is the low 16 bits.
        self.linktype = linktype_field & 0xFFFF
        # libpcap accepts records up to the larger of the header's snaplen and its own maximum;
        # anything beyond that is a corrupt length, refused before reading.
        self.max_record_length = max(snaplen, DEFAULT_SNAPLEN)
        self._record_header = struct.Struct(order + "IIII")
        self._fraction_limit = 1_000_000_000 if self.nanosecond else 1_000_000
        self._fraction_scale = 1 if self.nanosecond else 1000

    def _read_up_to(self, n: int) -> bytes:
        """Up to n bytes (fewer only at the end of the file), read in bounded chunks."""
        chunks = []
        remaining = n
        while remaining > 0:
            chunk = self._file.read(min(remaining, _READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._offset += len(data)
        return bytes(data)

    def __iter__(self) -> Iterator[PcapRecord]:
        while True:
            record = self._read_record()
            if record is None:
                return
            yield record

    def _read_record(self) -> PcapRecord | None:
        start = self._offset
        index = self._records + 1  # counted from 1, like Wireshark's frame numbers
        header = self._read_up_to(RECORD_HEADER_LEN)
        if not header:
            return None
        if len(header) < RECORD_HEADER_LEN:
            raise PcapError(f"record {index}: truncated record header: {len(header)} of "
                            f"{RECORD_HEADER_LEN} bytes", start)
        seconds, fraction, included, original = self._record_header.unpack(header)
        if fraction >= self._fraction_limit:
            unit = "nanoseconds" if self.nanosecond else "microseconds"
            raise PcapError(f"record {index}: timestamp fraction {fraction} {unit} is not below one"
                            " second", start + 4)
        if included > self.max_record_length:
            raise PcapError(f"record {index}: incl_len {included} exceeds the largest allowed "
                            f"record length {self.max_record_length} (max of snaplen and "
                            f"{DEFAULT_SNAPLEN})", start + 8)
        if included > original:
            raise PcapError(f"record {index}: incl_len {included} is larger than orig_len {original}",
                            start + 8)
        data_start = self._offset
        data = self._read_up_to(included)
        if len(data) < included:
            raise PcapError(f"record {index}: truncated record data: {len(data)} of incl_len "
                            f"{included} bytes", data_start)
        self._records += 1
        return PcapRecord(seconds * 1_000_000_000 + fraction * self._fraction_scale, data, original)

    @property
    def records_read(self) -> int:
        return self._records

    def close(self) -> None:
        if self._owned:
            self._file.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_pcap(source: PathOrFile) -> tuple[int, list[PcapRecord]]:
    """(linktype, every record) of a whole capture file."""
    with PcapReader(source) as reader:
        return reader.linktype, list(reader)
