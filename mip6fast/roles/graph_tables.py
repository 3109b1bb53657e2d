"""A data-plane graph's tables kept in step with its node (issue 17; csrc/mip6_graph.h).

Theory of operation
-------------------
The C graph decides per packet from tables of its own: the interfaces (index -> MAC, MTU, up), the route
table, the node's own addresses, the ESP tunnel sets, and the adjacency (next hop -> MAC). The node
stays the one source of truth; ``GraphTables`` copies into the graph:

- **adjacency, by event.** Every interface's neighbour cache (``roles/neighbor.NeighborCache``) calls
  ``_neighbor_changed`` whenever an entry is added, removed or changes state, MAC or ReachableTime, and
  when an address starts or stops being proxied. An entry is in the graph only while a packet may be
  sent to it with no state change (RFC 4861 §7.3.3): REACHABLE until ``reachable_until`` (the graph
  compares the deadline with the batch's time), DELAY and PROBE without a deadline; never for a proxied
  address (the owner is away: the home agent tunnels its packets). So the graph's choice is
  ``batch_tx._usable_mac``'s, and nothing ND does is missed.
- **routes, interfaces, own addresses, by epoch.** They change only when Python code other than the
  data path runs: an entry point (a tick, a frame on the per-frame path, a link change) or the node's
  API (``add_route``, ``add_interface``). ``Node.epoch`` counts both. ``refresh`` re-reads them when the
  epoch moved since the last batch that ran nothing but the graph (``clean``): a batch that had no
  slow-path work leaves the epoch one step on, and the next batch trusts the tables as they are.
  Changing an ``Interface``'s fields directly, outside an entry point, is not seen until the next one.
- **ESP tunnel sets, by identity, every batch.** ``SignallingProtection`` rebuilds its frozensets when
  the SPD changes; comparing identities costs nothing, so a newly required tunnel is enforced from the
  very next batch.

Every role's graph uses one (the home agent's, the mobile node's, the correspondent's). The
correspondent's receive graph reads only the interfaces' MACs: ``refresh_links`` re-reads the tables
only when the interfaces change. ``emit`` and ``emit_one`` put the frames a send graph made into the
node's output where its per-packet path would have put them (one frame as a ``Transmit``; more as
``BatchTransmit`` per interface, placed with ``BatchTransmit.at``), counted ``tx_frames``.

Limits: a node with more interfaces than the graph holds (``MAX_IFACES``) gets no graph
(``usable`` is False: its batches take the per-frame path, counted); more routes than ``MAX_ROUTES``
leave the graph without routes (every packet to send goes to the slow path, counted
``graph.routes_overflow``), never a wrong route.
"""
from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

import numpy as np

from .. import _impl
from ..batch import PacketBatch
from .events import BatchTransmit, Transmit
from .neighbor import Neighbor, NeighborDiscovery, NeighborState
from .node import Node

__all__ = ["GraphTables", "TeeGraph"]


class TeeGraph:
    """Two graphs' tables written as one: the node's own graph and the forwarding workers' shared
    tables (mip6fast._shm.SharedTables, which take the same calls). A refused adjacency in either is
    a refused one."""

    def __init__(self, first: Any, second: Any):
        self.first = first
        self.second = second

    def set_interfaces(self, rows) -> None:
        rows = list(rows)
        self.first.set_interfaces(rows)
        self.second.set_interfaces(rows)

    def set_routes(self, rows) -> None:
        rows = list(rows)
        self.first.set_routes(rows)
        self.second.set_routes(rows)

    def set_own(self, addresses) -> None:
        addresses = list(addresses)
        self.first.set_own(addresses)
        self.second.set_own(addresses)

    def set_required(self, addresses) -> None:
        addresses = list(addresses)
        self.first.set_required(addresses)
        self.second.set_required(addresses)

    def set_protected(self, addresses) -> None:
        addresses = list(addresses)
        self.first.set_protected(addresses)
        self.second.set_protected(addresses)

    def adj_set(self, iface: int, addr: bytes, mac: bytes, deadline: int) -> bool:
        one = self.first.adj_set(iface, addr, mac, deadline)
        return bool(self.second.adj_set(iface, addr, mac, deadline)) and bool(one)

    def adj_del(self, iface: int, addr: bytes) -> bool:
        one = self.first.adj_del(iface, addr)
        return bool(self.second.adj_del(iface, addr)) or bool(one)

    def adj_clear(self) -> None:
        self.first.adj_clear()
        self.second.adj_clear()

_NO_IF = _impl.load("graph").NO_IF


class GraphTables:
    """The tables of ``graph`` (a mip6fast._graph graph, or its twin) for ``node``."""

    def __init__(self, node: Node, graph: Any, max_ifaces: int, max_routes: int, no_deadline: int):
        self.node = node
        self.graph = graph
        self.max_ifaces = max_ifaces
        self.max_routes = max_routes
        self.no_deadline = no_deadline
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.usable = False
        self._epoch = -2           # the epoch after which the tables are known good
        self._watched: dict[str, tuple[NeighborDiscovery, Any]] = {}   # name -> (its ND, our listener)
        self._required: frozenset | None = None
        self._protected: frozenset | None = None
        self._macs: list[bytes] = []

    def retarget(self, graph: Any) -> None:
        """Write ``graph`` from now on (a TeeGraph adding the workers' shared tables): everything is
        written again at the next ``refresh``, the adjacency rebuilt from the neighbour caches."""
        self.graph = graph
        self.names = []
        self._epoch = -2
        self._required = self._protected = None

    def refresh(self) -> None:
        """Before a batch: re-read what may have changed since the last clean batch."""
        node = self.node
        if node.epoch != self._epoch + 1:
            self._sync()
        protection = node.protection
        required = protection.tunnel_required()
        if required is not self._required:
            self.graph.set_required(sorted(required))
            self._required = required
        protected = protection.tunnel_protected()
        if protected is not self._protected:
            self.graph.set_protected(sorted(protected))
            self._protected = protected

    def refresh_links(self) -> None:
        """Before a receive graph that reads only the interfaces' MACs (the correspondent's): re-read
        the tables only when an interface was added (or the MACs changed), not at every epoch."""
        interfaces = self.node.interfaces
        if list(interfaces) != self.names or self._macs != [i.mac for i in interfaces.values()]:
            self._sync()

    def emit(self, batch: PacketBatch, out: np.ndarray, tx: list[int]) -> None:
        """The frames a graph's run sent (its output column ``out`` and per-interface counts ``tx``, as
        copied after the run) into the node's output, where the
        per-packet path would have put them at this point: one frame as a ``Transmit`` (copied, so a
        reused batch is harmless), more as one ``BatchTransmit`` per interface placed at the output's
        current end (``BatchTransmit.at``). Counted as ``tx_frames`` like every frame."""
        node = self.node
        sent = sum(tx)
        node.counters["tx_frames"] += sent
        output = node._out
        if sent == 1:
            i = int(np.flatnonzero(out != _NO_IF)[0])
            output.transmits.append(Transmit(self.names[int(out[i])], batch.packet(i)))
            return
        at = len(output.transmits)
        for k, count in enumerate(tx):
            if count:
                output.batches.append(BatchTransmit(self.names[k], batch, out == k, at))

    def emit_one(self, batch: PacketBatch, i: int, k: int) -> None:
        """Frame ``i``, which the graph sent on interface ``k``, as a ``Transmit`` (the per-packet
        order, when the graph's sends and the per-packet path's interleave)."""
        self.node.counters["tx_frames"] += 1
        self.node._out.transmits.append(Transmit(self.names[k], batch.packet(i)))

    def clean(self) -> None:
        """After a batch that ran nothing but the graph: the tables still hold."""
        self._epoch = self.node.epoch

    def _sync(self) -> None:
        node, graph = self.node, self.graph
        names = list(node.interfaces)
        if names != self.names:
            self._reindex(names)
        if not self.usable:
            return
        graph.set_interfaces([(node.interfaces[n].mac, node.interfaces[n].mtu, node.interfaces[n].up)
                              for n in names])
        self._macs = [node.interfaces[n].mac for n in names]
        routes = [r for r in node.candidate_routes() if node.interfaces[r.interface].up]
        if len(routes) > self.max_routes:
            node.counters["graph.routes_overflow"] += 1
            routes = []
        graph.set_routes([(r.network.network_address.packed, r.network.prefixlen, self.index[r.interface],
                           None if r.next_hop is None else r.next_hop.packed) for r in routes])
        graph.set_own([a.packed for iface in node.interfaces.values() for a, entry in iface.addresses.items()
                       if entry.usable])
        self._epoch = node.epoch - 1

    def _reindex(self, names: list[str]) -> None:
        """New interfaces: indices, listeners, and the adjacency rebuilt from every neighbour cache."""
        node, graph = self.node, self.graph
        for nd, listener in self._watched.values():
            nd.neighbors.listeners.remove(listener)
        self._watched = {}
        self.names = names
        self.index = {}
        graph.adj_clear()
        self.usable = len(names) <= self.max_ifaces
        if not self.usable:
            node.counters["graph.too_many_interfaces"] += 1
            return
        self.index = {name: k for k, name in enumerate(names)}
        for name in names:
            nd = node.nd[name]

            def listener(address: IPv6Address, entry: Neighbor | None, name: str = name) -> None:
                self._neighbor_changed(name, address, entry)
            nd.neighbors.listeners.append(listener)
            self._watched[name] = (nd, listener)
            for address, entry in list(nd.neighbors.items()):
                listener(address, entry)

    def _neighbor_changed(self, name: str, address: IPv6Address, entry: Neighbor | None) -> None:
        k = self.index.get(name)
        if k is None:
            return
        nd = self._watched[name][0]
        deadline = None
        mac = None if entry is None else entry.mac
        if entry is not None and mac is not None and address not in nd.proxies:
            if entry.state is NeighborState.REACHABLE:
                deadline = entry.reachable_until
            elif entry.state in (NeighborState.DELAY, NeighborState.PROBE):
                deadline = self.no_deadline
        if deadline is None:
            self.graph.adj_del(k, address.packed)
        elif not self.graph.adj_set(k, address.packed, mac, deadline):
            self.node.counters["graph.adjacency_full"] += 1

