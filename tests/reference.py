"""Independent reference computations for tests: written from the RFC text, sharing no code with the
package (so a test comparing against them can fail when the package is wrong)."""


def ones_complement_checksum(data: bytes) -> int:
    """RFC 1071 §1: sum 16-bit big-endian words with end-around carry, then complement."""
    total = 0
    for i in range(0, len(data) - 1, 2):
        total += data[i] * 256 + data[i + 1]
    if len(data) % 2:
        total += data[-1] * 256
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return 0xFFFF - total


def ipv6_upper_checksum(src: bytes, dst: bytes, next_header: int, upper: bytes) -> int:
    """RFC 8200 §8.1 pseudo-header: source, destination, 32-bit upper-layer length, 3 zero bytes, NH."""
    pseudo = src + dst + len(upper).to_bytes(4, "big") + b"\0\0\0" + bytes([next_header])
    return ones_complement_checksum(pseudo + upper)


def with_checksum(upper: bytes, offset: int, value: int) -> bytes:
    return upper[:offset] + value.to_bytes(2, "big") + upper[offset + 2:]
