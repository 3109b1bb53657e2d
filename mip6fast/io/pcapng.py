"""pcapng capture files: one interface description per interface, and the direction of every packet.

A daemon's ``--pcap`` records the frames of all its wire interfaces into one file; the classic pcap
format (``mip6fast.io.pcap``, still what the simulator writes, one file per link) cannot say on which
interface a frame was seen nor whether it came in or went out. pcapng can (the format is
draft-ietf-opsawg-pcapng; every block is little-endian here, as the Section Header's byte-order magic
says)::

    block               type u32 | total length u32 | body | options | total length u32 (again)
    Section Header      type 0x0A0D0D0A, body: byte-order magic 0x1A2B3C4D u32 | major 1 u16 | minor 0 u16
                        | section length i64 (-1: not given); options: shb_userappl (4)
    Interface Descr.    type 1, body: linktype u16 | reserved u16 | snaplen u32;
                        options: if_name (2), if_tsresol (9: one byte, 9 = nanoseconds, 6 = microseconds)
    Enhanced Packet     type 6, body: interface id u32 | timestamp high u32 | low u32 | captured length u32
                        | original length u32 | data padded to 4 bytes; options: epb_flags (2, u32)
    option              code u16 | length u16 | value padded to 4 bytes; opt_endofopt (0, length 0) ends them

An interface's id is the order of its Interface Description Block in the section (0, 1, ...).
``epb_flags`` bits 0-1 are the direction: 0 not known, 1 inbound, 2 outbound (tshark shows them as
``frame.packet_flags_direction``; the interface as ``frame.interface_name``).

``PcapngWriter`` writes the Section Header at once and an Interface Description when an interface is
added (``add_interface``), so an interface can be added at any point before its first packet.
``PcapngReader`` reads what the writer writes and what tshark/dumpcap write (either byte order,
several sections, Simple Packet Blocks, unknown blocks skipped); a truncated or inconsistent file
raises ``PcapError`` with the offset, as the classic reader does.
"""
from __future__ import annotations

import operator
import struct
from collections.abc import Iterator
from typing import IO, NamedTuple

from .pcap import DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, CaptureWriter, PathOrFile, PcapError, _open

__all__ = [
    "DIRECTION_INBOUND",
    "DIRECTION_OUTBOUND",
    "DIRECTION_UNKNOWN",
    "PcapngInterface",
    "PcapngPacket",
    "PcapngReader",
    "PcapngWriter",
    "read_pcapng",
]

BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 0x00000001
BLOCK_SPB = 0x00000003
BLOCK_EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_SHB_USERAPPL = 4
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_EPB_FLAGS = 2

DIRECTION_UNKNOWN = 0
DIRECTION_INBOUND = 1
DIRECTION_OUTBOUND = 2
_DIRECTIONS = {"in": DIRECTION_INBOUND, "out": DIRECTION_OUTBOUND, None: DIRECTION_UNKNOWN,
               DIRECTION_UNKNOWN: DIRECTION_UNKNOWN, DIRECTION_INBOUND: DIRECTION_INBOUND,
               DIRECTION_OUTBOUND: DIRECTION_OUTBOUND}

_U32_MAX = 0xFFFFFFFF
_MAX_BLOCK = 16 << 20      # a block claiming more than this is corrupt (no packet is 16 MiB)


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * _pad(len(value))


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


class PcapngInterface(NamedTuple):
    """An interface of a pcapng section: its name (if_name), link type, snaplen and clock unit."""

    name: str | None
    linktype: int
    snaplen: int
    units_per_second: int


class PcapngPacket(NamedTuple):
    """One packet: its interface (id and name), when, the captured bytes, the real length, the
    direction (0 unknown, 1 inbound, 2 outbound) and the raw epb_flags (None when absent)."""

    interface_id: int
    interface_name: str | None
    timestamp_ns: int
    data: bytes
    original_length: int
    direction: int
    flags: int | None


class PcapngWriter(CaptureWriter):
    """Writes a pcapng file: ``add_interface(name)`` once per interface, then ``write(data,
    timestamp_ns, interface, direction)`` per packet (``interface`` is the id add_interface returned
    or the name; ``direction`` is "in", "out" or None, or the epb_flags values 1, 2, 0).

    ``target`` is a path (opened, and closed by ``close()``) or a binary file object (flushed but
    left open). ``nanosecond=False`` writes if_tsresol 6 and timestamps in microseconds.
    """
    RECORD = "pcapng block"

    def __init__(self, target: PathOrFile, *, nanosecond: bool = True, application: str = "mip6fast"):
        self.nanosecond = bool(nanosecond)
        self.interfaces: list[str] = []
        self._ids: dict[str, int] = {}
        self._snaplens: list[int] = []
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
        body += _option(OPT_SHB_USERAPPL, application.encode()) + _option(OPT_ENDOFOPT, b"")
        self._start(target, _block(BLOCK_SHB, body))

    def add_interface(self, name: str, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN) -> int:
        """Describe an interface (an Interface Description Block); its id for ``write``."""
        self._check_open("add_interface on")
        if name in self._ids:
            raise ValueError(f"interface {name!r} was already added")
        linktype, snaplen = operator.index(linktype), operator.index(snaplen)
        if not 0 <= linktype <= 0xFFFF:
            raise ValueError(f"linktype {linktype} does not fit the 16-bit field")
        if not 0 <= snaplen <= _U32_MAX:
            raise ValueError(f"snaplen {snaplen} does not fit the 32-bit field")
        body = struct.pack("<HHI", linktype, 0, snaplen)
        body += _option(OPT_IF_NAME, name.encode())
        body += _option(OPT_IF_TSRESOL, bytes([9 if self.nanosecond else 6]))
        body += _option(OPT_ENDOFOPT, b"")
        self._file.write(_block(BLOCK_IDB, body))
        self._ids[name] = len(self.interfaces)
        self.interfaces.append(name)
        self._snaplens.append(snaplen or _U32_MAX)
        return self._ids[name]

    def write(self, data, timestamp_ns: int, interface: int | str = 0, direction: int | str | None = None) -> None:
        """Record one packet (any bytes-like object) seen at ``timestamp_ns`` (integer ns, wall clock)."""
        self._check_open("write to")
        if isinstance(interface, str):
            if interface not in self._ids:
                raise ValueError(f"interface {interface!r} was never added")
            iface = self._ids[interface]
        else:
            iface = operator.index(interface)
            if not 0 <= iface < len(self.interfaces):
                raise ValueError(f"interface id {iface} was never added ({len(self.interfaces)} interfaces)")
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be 'in', 'out' or None, not {direction!r}")
        timestamp_ns = self._timestamp(timestamp_ns)
        stamp = timestamp_ns if self.nanosecond else timestamp_ns // 1000
        view = self._bytes(data)
        original = view.nbytes
        included = min(original, self._snaplens[iface])
        flags = _DIRECTIONS[direction]
        options = (_option(OPT_EPB_FLAGS, struct.pack("<I", flags)) + _option(OPT_ENDOFOPT, b"")) if flags else b""
        length = 12 + 20 + included + _pad(included) + len(options)
        self._file.write(struct.pack("<IIIIIII", BLOCK_EPB, length, iface, stamp >> 32, stamp & _U32_MAX,
                                     included, original))
        self._file.write(view[:included])
        self._file.write(b"\0" * _pad(included) + options + struct.pack("<I", length))
        self.packets_written += 1

    def __enter__(self) -> PcapngWriter:
        return self


def _options(raw: bytes, order: str, offset: int) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(raw):
        code, length = struct.unpack_from(order + "HH", raw, pos)
        if code == OPT_ENDOFOPT:
            return
        if pos + 4 + length > len(raw):
            raise PcapError(f"option {code} of {length} bytes runs past its block", offset + pos)
        yield code, raw[pos + 4:pos + 4 + length]
        pos += 4 + length + _pad(length)


class PcapngReader:
    """Reads a pcapng file: iterate over it for ``PcapngPacket``s; ``interfaces`` lists the current
    section's interfaces as they are described (a new section starts a new list)."""

    def __init__(self, source: PathOrFile):
        self._file: IO[bytes]
        self._file, self._owned = _open(source, "rb")
        self._offset = 0
        self._order = "<"
        self.interfaces: list[PcapngInterface] = []
        self.application: str | None = None
        head = self._file.read(4)
        if len(head) < 4 or struct.unpack("<I", head)[0] != BLOCK_SHB:
            self.close()
            raise PcapError("not a pcapng file (no Section Header Block)", 0)
        self._pending = head

    def _read(self, n: int) -> bytes:
        data = self._pending + self._file.read(n - len(self._pending))
        self._pending = b""
        return data

    def __iter__(self) -> Iterator[PcapngPacket]:
        while True:
            start = self._offset
            head = self._read(8)
            if not head:
                return
            if len(head) < 8:
                raise PcapError("truncated block header", start)
            block_type = struct.unpack("<I", head[:4])[0]
            if block_type == BLOCK_SHB:
                body_magic = self._file.read(4)
                if len(body_magic) < 4:
                    raise PcapError("truncated Section Header Block", start)
                if body_magic == struct.pack("<I", BYTE_ORDER_MAGIC):
                    self._order = "<"
                elif body_magic == struct.pack(">I", BYTE_ORDER_MAGIC):
                    self._order = ">"
                else:
                    raise PcapError(f"bad byte-order magic {body_magic.hex()}", start + 8)
                self.interfaces = []
                length = struct.unpack(self._order + "I", head[4:])[0]
                rest = self._body(length, start, already=4)
                body = body_magic + rest
                self._shb(body, start)
                continue
            block_type, length = struct.unpack(self._order + "II", head)
            body = self._body(length, start)
            if block_type == BLOCK_IDB:
                self._idb(body, start)
            elif block_type == BLOCK_EPB:
                yield self._epb(body, start)
            elif block_type == BLOCK_SPB:
                yield self._spb(body, start)

    def _body(self, length: int, start: int, already: int = 0) -> bytes:
        if length < 12 or length % 4 or length > _MAX_BLOCK:
            raise PcapError(f"bad block length {length}", start + 4)
        rest = self._file.read(length - 8 - already)
        if len(rest) < length - 8 - already:
            raise PcapError(f"truncated block: {length} bytes claimed", start)
        if struct.unpack(self._order + "I", rest[-4:])[0] != length:
            raise PcapError("the trailing block length differs from the leading one", start + length - 4)
        self._offset = start + length
        return rest[:-4]

    def _shb(self, body: bytes, start: int) -> None:
        if len(body) < 16:
            raise PcapError("Section Header Block too short", start)
        major = struct.unpack_from(self._order + "H", body, 4)[0]
        if major != 1:
            raise PcapError(f"pcapng version {major} is not supported", start + 12)
        for code, value in _options(body[16:], self._order, start + 24):
            if code == OPT_SHB_USERAPPL:
                self.application = value.decode("utf-8", "replace")

    def _idb(self, body: bytes, start: int) -> None:
        if len(body) < 8:
            raise PcapError("Interface Description Block too short", start)
        linktype, _reserved, snaplen = struct.unpack_from(self._order + "HHI", body)
        name, units = None, 1_000_000
        for code, value in _options(body[8:], self._order, start + 16):
            if code == OPT_IF_NAME:
                name = value.rstrip(b"\0").decode("utf-8", "replace")
            elif code == OPT_IF_TSRESOL and value:
                exp = value[0] & 0x7F
                units = 2 ** exp if value[0] & 0x80 else 10 ** exp
        self.interfaces.append(PcapngInterface(name, linktype, snaplen, units))

    def _interface(self, iface: int, start: int) -> PcapngInterface:
        if iface >= len(self.interfaces):
            raise PcapError(f"packet on interface {iface}, of which there is no description", start + 8)
        return self.interfaces[iface]

    def _epb(self, body: bytes, start: int) -> PcapngPacket:
        if len(body) < 20:
            raise PcapError("Enhanced Packet Block too short", start)
        iface, high, low, included, original = struct.unpack_from(self._order + "IIIII", body)
        desc = self._interface(iface, start)
        if 20 + included > len(body):
            raise PcapError(f"captured length {included} runs past the block", start + 20)
        data = body[20:20 + included]
        flags = None
        for code, value in _options(body[20 + included + _pad(included):], self._order, start):
            if code == OPT_EPB_FLAGS and len(value) == 4:
                flags = struct.unpack(self._order + "I", value)[0]
        stamp = (high << 32) | low
        ns = stamp * 1_000_000_000 // desc.units_per_second
        return PcapngPacket(iface, desc.name, ns, data, original, (flags or 0) & 3, flags)

    def _spb(self, body: bytes, start: int) -> PcapngPacket:
        desc = self._interface(0, start)
        original = struct.unpack_from(self._order + "I", body)[0] if len(body) >= 4 else 0
        data = body[4:4 + min(original, len(body) - 4)]
        return PcapngPacket(0, desc.name, 0, data, original, DIRECTION_UNKNOWN, None)

    def close(self) -> None:
        if self._owned:
            self._file.close()

    def __enter__(self) -> PcapngReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def read_pcapng(source: PathOrFile) -> tuple[list[PcapngInterface], list[PcapngPacket]]:
    """Every packet of a pcapng file, and the interfaces of its (last) section."""
    with PcapngReader(source) as reader:
        packets = list(reader)
        return reader.interfaces, packets
