"""Pure-Python twin of mip6fast._checksum, and the checksum benchmark baseline."""
import struct


def _sum(data: bytes) -> int:
    if len(data) % 2:
        data = data + b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def checksum(data) -> int:
    return ~_sum(bytes(data)) & 0xFFFF


def pseudo_checksum(src, dst, next_header: int, data) -> int:
    src, dst, data = bytes(src), bytes(dst), bytes(data)
    if len(src) != 16 or len(dst) != 16:
        raise ValueError("src and dst must be 16-byte addresses")
    if not 0 <= next_header <= 255:
        raise ValueError("next_header must be 0..255")
    pseudo = src + dst + struct.pack("!I3xB", len(data), next_header)
    return ~_sum(pseudo + data) & 0xFFFF


def replace(old_checksum: int, old, new) -> int:
    old, new = bytes(old), bytes(new)
    if len(old) != len(new) or len(old) % 2:
        raise ValueError("old and new must have the same even length")
    if not 0 <= old_checksum <= 0xFFFF:
        raise ValueError("old_checksum must be 0..65535")
    if not old:
        return old_checksum
    s = ~old_checksum & 0xFFFF
    for (o,), (n,) in zip(struct.iter_unpack("!H", old), struct.iter_unpack("!H", new)):
        s += (~o & 0xFFFF) + n
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def checksum_batch(buf, offsets, lengths, out) -> None:
    buf = memoryview(buf).cast("B") if not isinstance(buf, bytes) else buf
    n = len(offsets)
    if len(lengths) != n or len(out) < n:
        raise ValueError("offsets, lengths and out must describe the same number of packets")
    for i in range(n):
        if int(offsets[i]) + int(lengths[i]) > len(buf):
            raise ValueError(f"packet {i} runs past the buffer")
    for i in range(n):
        o = int(offsets[i])
        out[i] = checksum(buf[o:o + int(lengths[i])])
