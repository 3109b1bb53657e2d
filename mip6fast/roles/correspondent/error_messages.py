"""The error messages a correspondent node sends, under one rate limit: Binding Errors (RFC 6275 §6.1.9:
status 1 for a Home Address option without a binding, §9.3.1; status 2 for an unknown Mobility Header
type, §9.2) and ICMPv6 Parameter Problems (a malformed Mobility Header, §9.2; on a node without Mobile
IPv6 the unknown routing type, option or next header, RFC 8200 §4).

One token bucket (``binding_error_rate`` per second, ``binding_error_burst`` at once) covers both:
§9.3.1 asks for Binding Errors to be rate-limited and RFC 4443 §2.4 (f) for ICMPv6 errors. Errors are
never sent to or about multicast, from or to the unspecified address, or about an ICMPv6 error (RFC
4443 §2.4 (e)).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from ...wire import BindingError, Packet, ParameterProblem
from ..events import NodeServices, Notification
from ..icmp_errors import refusal as icmp_error_refusal
from ..interface import IPV6_MIN_MTU, UNSPECIFIED, Interface
from ..rate_limit import TokenBucket
from .config import CorrespondentConfig

__all__ = ["BindingErrorSent", "ErrorMessages"]


@dataclass(frozen=True)
class BindingErrorSent(Notification):
    status: int
    home_address: IPv6Address
    destination: IPv6Address


class ErrorMessages:
    """``own_address(a)``: is ``a`` one of this node's (usable) addresses."""

    def __init__(self, config: CorrespondentConfig, node: NodeServices, own_address: Callable[[IPv6Address], bool]):
        self.config = config
        self.node = node
        self._own_address = own_address
        self.bucket = TokenBucket(config.binding_error_rate, config.binding_error_burst)

    def reset(self) -> None:
        """A reboot: the rate limit starts over, full."""
        self.bucket = TokenBucket(self.config.binding_error_rate, self.config.binding_error_burst)

    def parameter_problem(self, now: int, iface: Interface, raw: bytes, code: int, pointer: int) -> None:
        """ICMPv6 Parameter Problem (RFC 4443 §3.4) about ``raw``, built from its bytes (it may not
        parse), within the §2.4 (e) rules and the rate limit."""
        node = self.node
        node.counters[f"parameter_problem.code.{code}"] += 1
        refused = icmp_error_refusal(raw)                # RFC 4443 §2.4 (e): ../icmp_errors.py
        if refused in ("icmp_error_bad_source", "icmp_error_multicast"):
            node.drop("icmp_error_not_allowed")          # codes 0-2 here: no §2.4 (e.3) exception used
            return
        if refused is not None:
            node.drop(refused)
            return
        src, dst = IPv6Address(raw[8:24]), IPv6Address(raw[24:40])
        if not self.bucket.take(now):
            node.drop("icmp_error_rate_limited")
            return
        source = dst if self._own_address(dst) else iface.source_for(src)
        if source is None:
            node.drop("icmp_error_no_source")
            return
        msg = ParameterProblem(code=code, pointer=pointer, invoking=raw[:IPV6_MIN_MTU - 48])
        node.counters["icmp_error.ParameterProblem"] += 1
        node.output_packet(now, Packet(src=source, dst=src, hop_limit=64, payload=msg).to_bytes(), iface.name)

    def binding_error(self, now: int, iface: Interface, source: IPv6Address, destination: IPv6Address,
                      status: int, home_address: IPv6Address) -> None:
        """Binding Error (§6.1.9, §9.3.1) to ``destination``, rate-limited (token bucket)."""
        node = self.node
        if destination.is_multicast or destination == UNSPECIFIED or source.is_multicast:
            node.drop("be.not_allowed")
            return
        if not self.bucket.take(now):
            node.drop("be.rate_limited")
            return
        pkt = Packet(src=source, dst=destination, hop_limit=64,
                     payload=BindingError(status=status, home_address=home_address))
        node.counters[f"be.sent.status.{int(status)}"] += 1
        node.notify(BindingErrorSent(now, int(status), home_address, destination))
        node.output_packet(now, pkt.to_bytes(), iface.name)
