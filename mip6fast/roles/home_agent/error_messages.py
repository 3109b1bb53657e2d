"""The error messages a home agent sends: Binding Errors (RFC 6275 §9.3.3, rate-limited), ICMPv6 errors
built from raw bytes within RFC 4443 §2.4 (e)'s limits, and ICMPv6 errors about packets it tunnelled,
relayed to the inner packet's source (§10.4.2 with RFC 2473 §8).

Who asks: the Mobility Header checks (an unknown MH type → Binding Error 2, §9.2; a Home Address option
without a binding → Binding Error 1, §9.3.1), ``parse_failed`` (a malformed Mobility Header → Parameter
Problem, §9.2), and the ICMPv6 input (errors about our tunnel).
"""
from __future__ import annotations

from ipaddress import IPv6Address

from ...wire import (
    BindingError,
    DestinationUnreachable,
    Packet,
    PacketTooBig,
    ParameterProblem,
)
from ..events import NodeServices
from ..icmp_errors import refusal as icmp_error_refusal
from ..interface import IPV6_MIN_MTU, LINK_LOCAL
from ..rate_limit import TokenBucket
from .home_link import HomeLink

__all__ = ["BINDING_ERROR_RATE", "ErrorMessages"]

# RFC 6275 §9.3.3 asks for Binding Errors to be rate-limited: at most one per second (TokenBucket(1, 1)).
BINDING_ERROR_RATE = 1


class ErrorMessages:
    """Sends from the home agent's address; Binding Errors leave through the home interface's zone."""

    def __init__(self, link: HomeLink, node: NodeServices):
        self.link = link
        self.node = node
        self._binding_errors = TokenBucket(BINDING_ERROR_RATE, 1)

    def binding_error(self, now: int, destination: IPv6Address, status: int, home: IPv6Address) -> None:
        """§9.3.3: Binding Error to ``destination`` (the offending packet's source), rate-limited."""
        if not self._binding_errors.take(now):
            self.node.drop("be.rate_limited")
            return
        self.node.counters[f"be.sent.status.{int(status)}"] += 1
        packet = Packet(src=self.link.address, dst=destination, payload=BindingError(status, home))
        self.node.output_packet(now, packet.to_bytes(), self.link.name)

    def icmp_error(self, now: int, message, invoking: bytes) -> None:
        """An ICMPv6 error about ``invoking`` (possibly a truncated quote) to its source, from our global
        address, within RFC 4443 §2.4 (e) and the node's ICMPv6 error rate limit (§2.4 f)."""
        refused = icmp_error_refusal(invoking, isinstance(message, PacketTooBig))
        if refused is not None:
            self.node.drop(refused)                      # RFC 4443 §2.4 (e): ../icmp_errors.py
            return
        src = IPv6Address(invoking[8:24])
        if src in LINK_LOCAL:
            self.node.drop("icmp_error_bad_source")      # answered from our global address: no zone
            return
        if not self.node.icmp_error_bucket.take(now):
            self.node.drop("icmp_error_rate_limited")    # §2.4 (f): the node's one bucket
            return
        cut = invoking[:IPV6_MIN_MTU - 48]
        if isinstance(message, PacketTooBig):
            message = PacketTooBig(mtu=message.mtu, invoking=cut)
        elif isinstance(message, DestinationUnreachable):
            message = DestinationUnreachable(code=message.code, invoking=cut)
        else:
            message = ParameterProblem(code=message.code, pointer=message.pointer, invoking=cut)
        self.node.counters[f"icmp_error.{type(message).__name__}"] += 1
        self.node.output_packet(now, Packet(src=self.link.address, dst=src, payload=message).to_bytes(), None)

    def relay_tunnel_error(self, now: int, msg) -> bool:
        """§10.4.2 with RFC 2473 §8: an ICMP error about a packet we tunnelled is relayed to the inner
        packet's source when the quote holds the inner IPv6 header: Packet Too Big with the tunnel
        header taken off the MTU, anything else as Destination Unreachable code 3 (address
        unreachable, RFC 2473 §8.1). True when the error was about our tunnel."""
        quote = msg.invoking
        if len(quote) < 80 or quote[6] != 41 or quote[8:24] != self.link.address.packed:
            return False
        inner = quote[40:]
        if inner[0] >> 4 != 6:
            self.node.drop("tunnel_error.bad_inner")
            return True
        relayed: PacketTooBig | DestinationUnreachable
        if isinstance(msg, PacketTooBig):
            relayed = PacketTooBig(mtu=max(IPV6_MIN_MTU, msg.mtu - 40), invoking=b"")
        else:
            relayed = DestinationUnreachable(code=3, invoking=b"")
        self.node.counters[f"tunnel_error.relayed.{type(msg).__name__}"] += 1
        self.icmp_error(now, relayed, inner)
        return True
