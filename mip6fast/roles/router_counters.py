"""The counters of a router (``router.Router``), declared once (``roles.counters``)."""
from __future__ import annotations

from .counters import CounterTable, declare
from .node_counters import NODE_COUNTERS

__all__ = ["ROUTER_COUNTERS"]

ROUTER_COUNTERS = CounterTable("router", declare(
    ("ra_sent", "Router Advertisements sent, periodic and solicited (RFC 4861 §6.2.4)"),
    ("ra_not_sent_no_link_local", "an RA not sent: the interface has no usable link-local address yet"),
    ("rs_not_advertising", "a Router Solicitation on an interface that does not advertise"),
    ("forwarded", "packets forwarded"),
    ("drop.forward_link_local", "a packet not forwarded: link-local source or destination (RFC 4291 §2.5.6)"),
    ("drop.forward_multicast", "a multicast packet not forwarded (no multicast routing)"),
    ("drop.hop_limit_exceeded", "a packet not forwarded: its hop limit ran out"),
    ("drop.packet_too_big", "a packet not forwarded: larger than the next link's MTU"),
), bases=(NODE_COUNTERS,))
