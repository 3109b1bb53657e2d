"""Duplicate address detection for home addresses (RFC 6275 §10.3.1, RFC 4862 §5.4).

Before it accepts a mobile node's first registration, the home agent checks that nobody on the home
link uses the home address (and, with the L flag, the link-local address with the same interface
identifier): one Neighbor Solicitation from the unspecified address to the solicited-node group of each,
then RetransTimer (1 s by default) of listening. A Neighbor Advertisement for one of them, or another
node's DAD probe for it (RFC 4862 §5.4.3), makes the registration fail with status 134. No DAD on a
de-registration, and none on a virtual home link.

``HomeAddressDAD`` holds the registrations waiting for it; when the time is up it hands each back to
the ``finished`` callable it was given (the registrar), duplicate or not.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from ...wire import (
    BindingUpdate,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    solicited_node_multicast,
)
from ..events import NodeServices, Timer
from ..interface import UNSPECIFIED, Interface
from ..neighbor import ND_HOP_LIMIT
from .home_link import HomeLink

__all__ = ["HomeAddressDAD", "PendingDad"]


@dataclass
class PendingDad:
    """A first registration waiting for DAD of its home address (RFC 6275 §10.3.1)."""
    packet: Packet
    bu: BindingUpdate
    home: IPv6Address
    care_of: IPv6Address
    targets: tuple[IPv6Address, ...]
    timer: Timer | None = None
    duplicate: bool = False


class HomeAddressDAD:
    """``transmit_packet(now, interface, next_hop, raw)``: the node's link-layer output (the probes);
    ``finished(now, pending)``: what to do with a registration once its DAD is over."""

    def __init__(self, link: HomeLink, node: NodeServices,
                 transmit_packet: Callable[[int, str, IPv6Address, bytes], None],
                 finished: Callable[[int, PendingDad], None]):
        self.link = link
        self.node = node
        self._transmit_packet = transmit_packet
        self._finished = finished
        self._pending: dict[IPv6Address, PendingDad] = {}
        self._targets: dict[IPv6Address, IPv6Address] = {}     # DAD target -> home address

    def __contains__(self, home: IPv6Address) -> bool:
        """Is DAD running for this home address?"""
        return home in self._pending

    def __len__(self) -> int:
        """How many registrations are waiting for DAD."""
        return len(self._pending)

    def start(self, now: int, packet: Packet, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address) -> None:
        targets = [home]
        if bu.link_local:
            targets.append(self.link.link_local_for(home))
        pending = PendingDad(packet, bu, home, care_of, tuple(targets))
        self._pending[home] = pending
        iface = self.link.iface
        for t in targets:
            self._targets[t] = home
            # RFC 4862 §5.4.2: listen on the solicited-node group, to hear a simultaneous DAD.
            iface.extra_groups.add(solicited_node_multicast(t))
            # RFC 4862 §5.4.2: from the unspecified address to the solicited-node group, no SLLA.
            raw = Packet(src=UNSPECIFIED, dst=solicited_node_multicast(t), hop_limit=ND_HOP_LIMIT,
                         payload=NeighborSolicitation(target=t)).to_bytes()
            self.node.counters["dad.ns_sent"] += 1
            self._transmit_packet(now, iface.name, solicited_node_multicast(t), raw)
        pending.timer = self.node.call_at(now + self.link.nd.retrans_timer, lambda t: self._done(t, home))

    def observe(self, iface: Interface, packet: Packet) -> bool:
        """An ICMPv6 message on some interface: True when it was an answer to (or a rival of) one of our
        probes, which then fails the registration when DAD ends."""
        if iface is not self.link.iface or packet.hop_limit != ND_HOP_LIMIT:
            return False
        msg = packet.payload
        if isinstance(msg, NeighborAdvertisement) and msg.target in self._targets:
            # §10.3.1: someone on the home link owns the address → status 134 when DAD ends.
            self._pending[self._targets[msg.target]].duplicate = True
            self.node.counters["dad.na_received"] += 1
            return True
        if isinstance(msg, NeighborSolicitation) and msg.target in self._targets and packet.src == UNSPECIFIED:
            # RFC 4862 §5.4.3: another node is doing DAD for the same address at the same time.
            self._pending[self._targets[msg.target]].duplicate = True
            self.node.counters["dad.ns_received"] += 1
            return True
        return False

    def _done(self, now: int, home: IPv6Address) -> None:
        pending = self._pending.pop(home, None)
        if pending is None:
            return
        for t in pending.targets:
            self._targets.pop(t, None)
            # ND counts the proxies per solicited-node group (looking through every proxy here made
            # each registration O(bindings)).
            if not self.link.nd.proxy_in_group(t):
                self.link.iface.extra_groups.discard(solicited_node_multicast(t))
        self.node.counters["dad.failed" if pending.duplicate else "dad.succeeded"] += 1
        self._finished(now, pending)
