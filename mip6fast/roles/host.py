"""A plain IPv6 host, sans-I/O: addresses by SLAAC, a default router from RAs, applications attached.

Everything protocol-related is in ``Node`` and ``NeighborDiscovery`` (a host accepts RAs and
autoconfigures, RFC 4861 §6.3.4, RFC 4862 §5.5); the host adds applications: small objects that set
timers on the host, send through it, and see every packet delivered to it (what a TUN would read).
Deliveries also appear in ``Output.deliveries`` as for any node.
"""
from __future__ import annotations

from ipaddress import IPv6Address
from typing import Protocol

from ..wire import Packet
from .node import Node

__all__ = ["Application", "Host"]


class Application(Protocol):
    """What a host expects of an application."""

    def attached(self, host: Host) -> None:
        """Called once by ``Host.attach``; the application sets its first timer with ``host.call_at``."""

    def deliver(self, host: Host, now: int, raw: bytes, packet: Packet) -> None:
        """A packet for the host (applications ignore what is not theirs)."""


class Host(Node):
    """A plain host. ``attach(app)`` adds an application."""

    def __init__(self, name: str, interfaces=(), rng=None):
        super().__init__(name, interfaces, rng)
        self.applications: list[Application] = []

    def attach(self, app: Application) -> None:
        self.applications.append(app)
        app.attached(self)

    def source_address(self, dst, protocol: int | None = None, dst_port: int | None = None) -> IPv6Address | None:
        """The source for a packet to ``dst``: an address of the interface the route leaves by
        (RFC 6724 §5 rules 2 and 3: matching scope, preferred over deprecated). ``protocol`` / ``dst_port``
        describe the flow; a plain host has one choice whatever the flow (a mobile node has two)."""
        route = self.lookup(IPv6Address(dst))
        if route is None:
            return None
        return self.interfaces[route.interface].source_for(IPv6Address(dst))

    def deliver(self, now: int, raw: bytes, packet: Packet) -> None:
        super().deliver(now, raw, packet)
        for app in self.applications:
            app.deliver(self, now, raw, packet)
