"""Ethernet II framing for IPv6 (IEEE 802.3, RFC 2464): what the engine's wire interfaces carry, in
the simulator and on AF_PACKET rings alike."""
import struct

from ..errors import ParseError

__all__ = ["ETHERNET_HEADER_LEN", "ETHERTYPE_IPV6", "ethernet_frame", "ipv6_multicast_mac", "parse_ethernet"]

ETHERTYPE_IPV6 = 0x86DD

ETHERNET_HEADER_LEN = 14


def _mac(value, name: str) -> bytes:
    mac = bytes(value)
    if len(mac) != 6:
        raise ValueError(f"{name} must be 6 bytes, not {len(mac)}")
    return mac


def ethernet_frame(dst_mac, src_mac, payload, ethertype: int = ETHERTYPE_IPV6) -> bytes:
    """An Ethernet II frame: destination, source, EtherType, payload. No padding and no FCS."""
    if not 0 <= ethertype <= 0xFFFF:
        raise ValueError(f"ethertype {ethertype} does not fit 16 bits")
    return (_mac(dst_mac, "dst_mac") + _mac(src_mac, "src_mac") + struct.pack("!H", ethertype)
            + bytes(payload))


def parse_ethernet(frame) -> tuple[bytes, bytes, int, bytes]:
    """(dst, src, ethertype, payload) of an Ethernet II frame.

    A frame too short for the 14-byte header raises ``ParseError`` naming the first field that is
    cut off. An 802.1Q tag is not interpreted: it comes back as ethertype 0x8100.
    """
    data = bytes(frame)
    if len(data) < ETHERNET_HEADER_LEN:
        if len(data) < 6:
            field, offset = "destination", 0
        elif len(data) < 12:
            field, offset = "source", 6
        else:
            field, offset = "ethertype", 12
        raise ParseError(f"frame of {len(data)} bytes is shorter than the {ETHERNET_HEADER_LEN}-byte"
                         " Ethernet header", field, offset)
    ethertype, = struct.unpack_from("!H", data, 12)
    return data[0:6], data[6:12], ethertype, data[ETHERNET_HEADER_LEN:]


def ipv6_multicast_mac(address) -> bytes:
    """The Ethernet address an IPv6 multicast address maps to: 33:33 and its last four bytes
    (RFC 2464 §7)."""
    addr = bytes(address)
    if len(addr) != 16:
        raise ValueError(f"an IPv6 address is 16 bytes, not {len(addr)}")
    if addr[0] != 0xFF:
        raise ValueError(f"{addr.hex()} is not a multicast address (ff00::/8)")
    return b"\x33\x33" + addr[12:16]
