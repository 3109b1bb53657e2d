"""Traffic generators for the simulator: an ICMPv6 echo stream and a numbered UDP stream.

Both are ``roles.host.Application``s: they set timers on the host they are attached to, send through
it, and look at what it delivers. They record what they need for a scenario's summary: replies, losses
and round-trip times for ``PingApp``; delivered, lost, duplicated, reordered packets and the longest gap
between deliveries (the handover gap) for ``StreamApp``.
"""
from __future__ import annotations

import struct
from ipaddress import IPv6Address

from . import _impl
from .wire import EchoReply, EchoRequest, Packet, Raw

__all__ = ["NH_ICMPV6", "NH_UDP", "PingApp", "QueryApp", "ResponderApp", "StreamApp", "dns_name_error", "dns_query",
           "udp_datagram"]

NH_UDP = 17
NH_ICMPV6 = 58
_CHECKSUM = _impl.load("checksum")


def udp_datagram(src: IPv6Address, dst: IPv6Address, src_port: int, dst_port: int, payload: bytes) -> bytes:
    """A UDP header and payload with the checksum over the IPv6 pseudo-header (RFC 768, RFC 8200 §8.1:
    mandatory over IPv6, and a computed 0 is sent as 0xffff)."""
    length = 8 + len(payload)
    body = struct.pack("!HHHH", src_port, dst_port, length, 0) + payload
    csum = _CHECKSUM.pseudo_checksum(src.packed, dst.packed, NH_UDP, body) or 0xFFFF
    return body[:6] + struct.pack("!H", csum) + body[8:]


def _ns_to_ms(ns: float) -> float:
    return round(ns / 1e6, 3)


class PingApp:
    """Echo Requests to ``dst`` every ``interval_ns`` from ``start_ns``, ``count`` of them; from ``src``
    if given, else from the address the host chooses for the flow."""

    def __init__(self, dst, start_ns: int, interval_ns: int, count: int, identifier: int = 0x1234,
                 size: int = 56, src=None):
        self.dst = IPv6Address(dst)
        self.src = None if src is None else IPv6Address(src)
        self.start_ns = start_ns
        self.interval_ns = interval_ns
        self.count = count
        self.identifier = identifier
        self.size = max(size, 8)
        self.sent: dict[int, int] = {}
        self.rtts: dict[int, int] = {}
        self.not_sent = 0           # no source address yet (SLAAC not done), counted
        self.duplicates = 0
        self._next = 0

    def attached(self, host) -> None:
        host.call_at(self.start_ns, lambda now: self._send(host, now))

    def _send(self, host, now: int) -> None:
        seq = self._next
        self._next += 1
        src = self.src if self.src is not None else host.source_address(self.dst, NH_ICMPV6)
        if src is None:
            self.not_sent += 1
        else:
            data = struct.pack("!Q", now) + bytes(self.size - 8)
            raw = Packet(src=src, dst=self.dst, hop_limit=64,
                         payload=EchoRequest(identifier=self.identifier, sequence=seq & 0xFFFF,
                                             data=data)).to_bytes()
            self.sent[seq] = now
            host.output_packet(now, raw)
        if self._next < self.count:
            host.call_at(now + self.interval_ns, lambda t: self._send(host, t))

    def deliver(self, host, now: int, raw: bytes, packet: Packet) -> None:
        msg = packet.payload
        if not isinstance(msg, EchoReply) or msg.identifier != self.identifier or packet.src != self.dst:
            return
        seq = msg.sequence
        if seq not in self.sent:
            return
        if seq in self.rtts:
            self.duplicates += 1
            return
        self.rtts[seq] = now - self.sent[seq]

    def summary(self) -> dict:
        rtts = list(self.rtts.values())
        return {
            "sent": len(self.sent), "received": len(self.rtts), "lost": len(self.sent) - len(self.rtts),
            "not_sent": self.not_sent, "duplicates": self.duplicates,
            "rtt_ms": None if not rtts else {"min": _ns_to_ms(min(rtts)), "avg": _ns_to_ms(sum(rtts) / len(rtts)),
                                             "max": _ns_to_ms(max(rtts))},
        }


class StreamApp:
    """A numbered UDP stream. With ``dst`` it sends ``count`` datagrams to ``dst``:``port``, one every
    ``interval_ns`` from ``start_ns`` (from ``src`` if given, else from the address the host chooses for
    the flow); without, it receives on ``port`` and records arrivals."""

    HEADER = struct.Struct("!IQ")       # sequence number, send time (ns)

    def __init__(self, port: int, dst=None, start_ns: int = 0, interval_ns: int = 10_000_000,
                 count: int = 0, size: int = 100, src_port: int = 40000, src=None):
        self.port = port
        self.dst = None if dst is None else IPv6Address(dst)
        self.src = None if src is None else IPv6Address(src)
        self.start_ns = start_ns
        self.interval_ns = interval_ns
        self.count = count
        self.size = max(size, self.HEADER.size)
        self.src_port = src_port
        self.sent = 0
        self.not_sent = 0
        self.arrivals: dict[int, int] = {}
        self.duplicates = 0
        self.reordered = 0
        self.bad_checksum = 0
        self.max_gap_ns = 0
        self._last_arrival: int | None = None
        self._highest = -1

    def attached(self, host) -> None:
        if self.dst is not None and self.count > 0:
            host.call_at(self.start_ns, lambda now: self._send(host, now))

    def _send(self, host, now: int) -> None:
        seq = self.sent + self.not_sent
        src = self.src if self.src is not None else host.source_address(self.dst, NH_UDP, self.port)
        if src is None:
            self.not_sent += 1
        else:
            payload = self.HEADER.pack(seq, now) + bytes(self.size - self.HEADER.size)
            udp = udp_datagram(src, self.dst, self.src_port, self.port, payload)
            host.output_packet(now, Packet(src=src, dst=self.dst, hop_limit=64, payload=Raw(NH_UDP, udp)).to_bytes())
            self.sent += 1
        if self.sent + self.not_sent < self.count:
            host.call_at(now + self.interval_ns, lambda t: self._send(host, t))

    def deliver(self, host, now: int, raw: bytes, packet: Packet) -> None:
        if self.dst is not None:
            return
        p = packet.payload
        if not isinstance(p, Raw) or p.next_header != NH_UDP or len(p.data) < 8 + self.HEADER.size:
            return
        _, dport, length, _ = struct.unpack_from("!HHHH", p.data)
        if dport != self.port or length != len(p.data):
            return
        if _CHECKSUM.pseudo_checksum(packet.src.packed, packet.dst.packed, NH_UDP, p.data) != 0:
            self.bad_checksum += 1
            return
        seq, _sent_at = self.HEADER.unpack_from(p.data, 8)
        if seq in self.arrivals:
            self.duplicates += 1
            return
        if seq < self._highest:
            self.reordered += 1
        self._highest = max(self._highest, seq)
        self.arrivals[seq] = now
        if self._last_arrival is not None:
            self.max_gap_ns = max(self.max_gap_ns, now - self._last_arrival)
        self._last_arrival = now

    def summary(self, sent: int | None = None) -> dict:
        """What the receiver saw; ``sent`` (the sender's count) gives the losses."""
        expected = sent if sent is not None else self._highest + 1
        return {
            "delivered": len(self.arrivals), "lost": max(0, expected - len(self.arrivals)),
            "duplicates": self.duplicates, "reordered": self.reordered, "bad_checksum": self.bad_checksum,
            "max_gap_ms": _ns_to_ms(self.max_gap_ns),
        }



def dns_query(ident: int, name: str, qtype: int = 28) -> bytes:
    """A standard DNS query (RFC 1035 §4.1): header (ID, RD set, one question), then the question
    (``name`` as labels, ``qtype`` — AAAA by default — class IN)."""
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def dns_name_error(query: bytes) -> bytes | None:
    """The answer of a server that knows no name: the query with QR and RA set and RCODE 3 (name
    error), no records (RFC 1035 §4.1.1). None when ``query`` is not a query."""
    if len(query) < 12:
        return None
    ident, flags = struct.unpack_from("!HH", query)
    if flags & 0x8000:
        return None                               # already a response
    return struct.pack("!HH", ident, 0x8000 | (flags & 0x7900) | 0x0080 | 3) + query[4:]


def _udp_ports(packet: Packet, port: int, dst_side: bool) -> tuple[int, int, bytes] | None:
    """(source port, destination port, payload) of a UDP datagram with a good checksum whose destination
    (``dst_side``) or source port is ``port``; None for anything else."""
    p = packet.payload
    if not isinstance(p, Raw) or p.next_header != NH_UDP or len(p.data) < 8:
        return None
    sport, dport, length, _ = struct.unpack_from("!HHHH", p.data)
    if (dport if dst_side else sport) != port or length != len(p.data):
        return None
    if _CHECKSUM.pseudo_checksum(packet.src.packed, packet.dst.packed, NH_UDP, p.data) != 0:
        return None
    return sport, dport, p.data[8:]


class ResponderApp:
    """A DNS-like UDP server: every query to ``port`` is answered from the address it was sent to, to the
    address and port it came from, with a name error (``dns_name_error``: a well-formed DNS response).
    ``sources`` counts the client addresses seen (a mobile node's care-of or home address)."""

    def __init__(self, port: int = 53):
        self.port = port
        self.answered = 0
        self.malformed = 0
        self.sources: dict[str, int] = {}

    def attached(self, host) -> None:
        pass

    def deliver(self, host, now: int, raw: bytes, packet: Packet) -> None:
        got = _udp_ports(packet, self.port, dst_side=True)
        if got is None:
            return
        sport, dport, payload = got
        answer = dns_name_error(payload)
        if answer is None:
            self.malformed += 1
            return
        self.sources[str(packet.src)] = self.sources.get(str(packet.src), 0) + 1
        udp = udp_datagram(packet.dst, packet.src, dport, sport, answer)
        host.output_packet(now, Packet(src=packet.dst, dst=packet.src, hop_limit=64,
                                       payload=Raw(NH_UDP, udp)).to_bytes())
        self.answered += 1


class QueryApp:
    """A client of short UDP exchanges (DNS queries, ``dns_query``): ``count`` queries to ``dst``:``port`` every
    ``interval_ns`` from ``start_ns``, each answered or not; records the round-trip times and the source
    address each query left from (``src`` pins it; else the host chooses for the flow — a mobile node
    picks its care-of address for port 53, RFC 6275 §11.3.1 leaves it to the implementation). Query
    number ``n`` has DNS ID ``id_base + n`` (two clients on one host keep their IDs apart)."""

    def __init__(self, dst, start_ns: int, interval_ns: int, count: int, port: int = 53,
                 src_port: int = 33000, src=None, id_base: int = 0):
        self.dst = IPv6Address(dst)
        self.id_base = id_base
        self.start_ns = start_ns
        self.interval_ns = interval_ns
        self.count = count
        self.port = port
        self.src_port = src_port
        self.src = None if src is None else IPv6Address(src)
        self.sent: dict[int, int] = {}
        self.rtts: dict[int, int] = {}
        self.sources: dict[str, int] = {}
        self.not_sent = 0
        self._next = 0

    def attached(self, host) -> None:
        host.call_at(self.start_ns, lambda now: self._send(host, now))

    def _send(self, host, now: int) -> None:
        seq = self._next
        self._next += 1
        src = self.src if self.src is not None else host.source_address(self.dst, NH_UDP, self.port)
        if src is None:
            self.not_sent += 1
        else:
            query = dns_query(self.id_base + seq, f"q{seq}.example")
            udp = udp_datagram(src, self.dst, self.src_port, self.port, query)
            self.sent[seq] = now
            self.sources[str(src)] = self.sources.get(str(src), 0) + 1
            host.output_packet(now, Packet(src=src, dst=self.dst, hop_limit=64, payload=Raw(NH_UDP, udp)).to_bytes())
        if self._next < self.count:
            host.call_at(now + self.interval_ns, lambda t: self._send(host, t))

    def deliver(self, host, now: int, raw: bytes, packet: Packet) -> None:
        if packet.src != self.dst:
            return
        got = _udp_ports(packet, self.port, dst_side=False)
        if got is None or got[1] != self.src_port or len(got[2]) < 12:
            return
        ident, flags = struct.unpack_from("!HH", got[2])
        if not flags & 0x8000:
            return                                       # not a response
        seq = (ident - self.id_base) & 0xFFFF
        if seq in self.sent and seq not in self.rtts:
            self.rtts[seq] = now - self.sent[seq]

    def summary(self) -> dict:
        rtts = list(self.rtts.values())
        return {
            "sent": len(self.sent), "answered": len(self.rtts), "not_sent": self.not_sent,
            "sources": dict(sorted(self.sources.items())),
            "rtt_ms": None if not rtts else {"min": _ns_to_ms(min(rtts)), "avg": _ns_to_ms(sum(rtts) / len(rtts)),
                                             "max": _ns_to_ms(max(rtts))},
        }
