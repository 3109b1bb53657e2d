"""What a role's helper objects may ask of the node that holds them: a narrow interface instead of the
whole node.

A role is split into helper objects it holds (the home agent's registrar, proxy, discovery, ...; the
correspondent's bindings and error messages), each of which owns its state and its rules. Their
dealings with the node are few and the same for all of them: keep a timer, count, report a
notification, send a packet. ``NodeServices`` is exactly that, as bound methods of the node taken once
(``NodeServices.of(node)``), so a helper can do nothing else to its node, and a test can hand it fakes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from .events import Notification, Timer
from .node import Node

__all__ = ["NodeServices"]


@dataclass(frozen=True)
class NodeServices:
    """- ``counters``: the node's counters (``count``; ``drop`` counts ``drop.<reason>``);
    - ``call_at(deadline, callback)``: a timer on the node's heap (callback(now) when it fires);
    - ``notify(notification)``: a notification in the Output being built;
    - ``output_packet(now, raw, zone)``: route a packet this node originates (through the role's own
      output path, e.g. the home agent's tunnel for a bound home address);
    - ``transmit_packet(now, interface, next_hop, raw)``: a packet to a next hop on an interface
      (neighbour discovery resolves it);
    - ``emit_frame(interface, dst_mac, raw)``: a frame to a link-layer address, without resolution."""
    counters: Counter[str]
    drop: Callable[[str], None]
    call_at: Callable[[int, Callable[[int], None]], Timer]
    notify: Callable[[Notification], None]
    output_packet: Callable[[int, bytes, str | None], None]
    transmit_packet: Callable[[int, str, IPv6Address, bytes], None]
    emit_frame: Callable[[str, bytes, bytes], None]

    @classmethod
    def of(cls, node: Node) -> NodeServices:
        return cls(node.counters, node.drop, node.call_at, node.notify, node.output_packet, node.transmit_packet,
                   node.emit_frame)

    def count(self, what: str, n: int = 1) -> None:
        self.counters[what] += n
