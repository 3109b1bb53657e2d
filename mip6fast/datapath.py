"""The batched data path of the three Mobile IPv6 roles (docs/DATAPATH.md, "Kernels").

Each method runs one C kernel over a whole ``PacketBatch`` (one call, GIL released), sets every
looked-at packet's verdict/reason/aux column and returns how many packets it rewrote (verdict FORWARD).
Kernels only look at packets whose verdict is PASS, so they chain over one batch::

    ha = HomeAgentDataPath(cache, "2001:db8:1::1")
    n = ha.encapsulate(batch)        # FORWARD: IPv6-in-IPv6 to the care-of address, ready to send
    batch.verdict, batch.reason      # PASS: no binding; DROP/TOO_BIG/...: see DropReason
    ha.counters                      # {DropReason: count} over every call so far

The kernels are mip6fast._datapath's (C), or with ``MIP6FAST_PURE_PYTHON=1`` their pure-Python twins in
mip6fast._datapath_py (same results, one packet at a time; see mip6fast._impl).

``cache`` is a ``mip6fast.binding_cache.BindingCache`` (or its ``BindingTable``): 16-byte keys (home
addresses) for the home agent and the correspondent, 32-byte keys (peer, home address) for the mobile
node's binding update list. Bindings are read when a kernel runs, so updates to the cache take effect
on the next batch; kernels add to each used binding's packet and byte counters.

Threads: the kernels run without the GIL and bracket their use of a table with the table's read guard
(a concurrent insert or delete raises instead of racing). The counters they add to (the data path's and
the bindings') are plain integers: use one data path object, and one batch, per thread at a time.
"""
from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv6Address

from . import _impl
from .batch import DropReason, PacketBatch

# The compiled kernels (mip6fast._datapath over csrc/) and the table they read, or with
# MIP6FAST_PURE_PYTHON=1 their pure-Python twins (mip6fast._datapath_py, mip6fast._bcache_py).
_dp = _impl.load("datapath")
_BindingTable = _impl.load("bcache").BindingTable
_graph = _impl.load("graph")

__all__ = ["CorrespondentDataPath", "DropReason", "HomeAgentDataPath", "MobileNodeDataPath"]


def _addr(value, what: str) -> bytes:
    if isinstance(value, IPv6Address):
        return value.packed
    if isinstance(value, str):
        return IPv6Address(value).packed
    try:
        data = bytes(value)
    except TypeError:
        raise TypeError(f"{what}: expected an IPv6 address (str, IPv6Address or 16 bytes), "
                        f"got {type(value).__name__}") from None
    if len(data) != 16:
        raise ValueError(f"{what}: expected 16 bytes, got {len(data)}")
    return data


def _table(cache, key_size: int, what: str):
    table = getattr(cache, "table", cache)
    if not isinstance(table, _BindingTable):
        raise TypeError(f"{what}: expected a BindingCache over the table the kernels read "
                        f"({_BindingTable.__module__}), got {type(cache).__name__}")
    if table.key_size != key_size:
        raise ValueError(f"{what}: needs {key_size}-byte keys, this table has {table.key_size}")
    return table


class _DataPath:
    """Counters per kernel, summed by ``counters``."""
    _kernels: tuple = ()

    def __init__(self):
        self._counters = {name: _dp.Counters() for name in self._kernels}

    @property
    def counters(self) -> dict[DropReason, int]:
        """Packets per reason over every kernel call so far (all reasons, zeros included)."""
        total = [0] * len(DropReason)
        for c in self._counters.values():
            for r, n in enumerate(c.tolist()):
                total[r] += n
        return {DropReason(r): n for r, n in enumerate(total)}

    def kernel_counters(self, kernel: str) -> dict[DropReason, int]:
        """Packets per reason for one kernel (a method name, e.g. "encapsulate")."""
        return {DropReason(r): n for r, n in enumerate(self._counters[kernel].tolist())}

    def reset_counters(self) -> None:
        for c in self._counters.values():
            c.reset()


class HomeAgentDataPath(_DataPath):
    """Home agent: tunnel packets for bound home addresses to their care-of addresses; take packets out
    of the mobile nodes' reverse tunnels; check Home Address options.

    ``tunnel_mtu`` (1320..65535) is the largest outer packet: a packet that would exceed it is TOO_BIG
    with aux = tunnel_mtu - 40. ``hop_limit``/``flow_label``: the outer header's. The home agent forwards
    the inner packets as a router, so their hop limit is decremented both ways."""
    _kernels = ("encapsulate", "decapsulate", "process_hao")

    def __init__(self, cache, home_agent_address, tunnel_mtu: int = 1500, hop_limit: int = 64,
                 flow_label: int = 0, allow_site_local: bool = False):
        super().__init__()
        self._table = _table(cache, 16, "cache")
        self.home_agent_address = IPv6Address(_addr(home_agent_address, "home_agent_address"))
        self._flags = _dp.TUN_DEC_HOP_LIMIT | (_dp.TUN_ALLOW_SITE_LOCAL if allow_site_local else 0)
        self._cfg = _dp.TunnelConfig(self.home_agent_address.packed, bytes(16), tunnel_mtu, flow_label, hop_limit,
                                     self._flags)
        self._tunnel_mtu, self._flow_label, self._hop_limit = tunnel_mtu, flow_label, hop_limit

    def encapsulate(self, batch: PacketBatch) -> int:
        return _dp.encapsulate_ha(batch, self._table, self._cfg, self._counters["encapsulate"])

    def graph(self, adjacencies: int = 65536):
        """The home agent's data-plane graph (mip6fast._graph.HomeAgentGraph: frames in, frames out, one
        C call per batch) over this data path's table, tunnel parameters and kernel counters; its
        interfaces, routes and adjacency are the caller's to set (roles/graph_tables.py)."""
        return _graph.HomeAgentGraph(self._table, self.home_agent_address.packed, self._tunnel_mtu, self._flow_label,
                                     self._hop_limit, self._flags, self._flags,
                                     self._counters["encapsulate"].array, self._counters["decapsulate"].array,
                                     adjacencies)

    def share(self, shared) -> None:
        """The same tunnel parameters published in the forwarding workers' shared tables (a
        mip6fast._shm.SharedTables; their graphs tunnel as this data path's graph does)."""
        shared.set_tunnel(self.home_agent_address.packed, self._tunnel_mtu, self._flow_label, self._hop_limit,
                          self._flags, self._flags)

    def decapsulate(self, batch: PacketBatch) -> int:
        return _dp.decapsulate_ha(batch, self._table, self._flags, self._counters["decapsulate"])

    def process_hao(self, batch: PacketBatch) -> int:
        return _dp.hao_process(batch, self._table, self._counters["process_hao"])


def mobile_node_graph(binding_update_list, adjacencies: int = 65536):
    """The mobile node's data-plane graphs (mip6fast._graph.MobileNodeGraph) over its binding update list
    (32-byte keys); the kernels' parameters come from its MobileNodeDataPath objects (``graph_tunnel``,
    ``graph_agent``, ``graph_rh2``), its tables from roles/graph_tables.py."""
    return _graph.MobileNodeGraph(_table(binding_update_list, 32, "binding_update_list"), adjacencies)


class MobileNodeDataPath(_DataPath):
    """Mobile node: route-optimised sending with a Home Address option, everything else from a home
    address through the reverse tunnel; receiving from the tunnel and with a Type 2 routing header.

    ``binding_update_list``: 32-byte keys (peer, home address), holding the entries whose Binding
    Acknowledgement has arrived (a home-registration entry, flag H, is never used for a HAO).
    ``care_of`` may be reassigned on movement. ``mtu`` is the link MTU for HAO insertion (TOO_BIG with
    aux = mtu - 24 when the option would not fit)."""
    _kernels = ("reverse_tunnel", "decapsulate", "insert_hao", "process_rh2")

    def __init__(self, home_addresses: Iterable, care_of, home_agent, binding_update_list,
                 tunnel_mtu: int = 1500, hop_limit: int = 64, flow_label: int = 0, mtu: int = 1500,
                 allow_site_local: bool = False):
        super().__init__()
        homes = [_addr(a, "home_addresses") for a in home_addresses]
        if not homes:
            raise ValueError("home_addresses: at least one home address")
        self.home_addresses = tuple(IPv6Address(a) for a in homes)
        self._homes = _dp.Addresses(homes)
        self._bul = _table(binding_update_list, 32, "binding_update_list")
        self.home_agent = IPv6Address(_addr(home_agent, "home_agent"))
        self._flags = _dp.TUN_ALLOW_SITE_LOCAL if allow_site_local else 0
        self._tunnel = (tunnel_mtu, flow_label, hop_limit)
        if not _dp.RO_MIN_MTU <= mtu <= _dp.MAX_MTU:
            raise ValueError(f"mtu must be in {_dp.RO_MIN_MTU}..{_dp.MAX_MTU}, got {mtu}")
        self.mtu = mtu
        self.care_of = care_of

    @property
    def care_of(self) -> IPv6Address:
        return self._care_of

    @care_of.setter
    def care_of(self, value) -> None:
        coa = _addr(value, "care_of")
        mtu, flow_label, hop_limit = self._tunnel
        self._cfg = _dp.TunnelConfig(coa, self.home_agent.packed, mtu, flow_label, hop_limit, self._flags)
        self._care_of = IPv6Address(coa)

    def reverse_tunnel(self, batch: PacketBatch) -> int:
        """Packets from a home address (and MLD) into the tunnel to the home agent (RFC 6275 §11.3.1)."""
        return _dp.encapsulate_fixed(batch, self._cfg, self._homes, self._counters["reverse_tunnel"])

    def decapsulate(self, batch: PacketBatch) -> int:
        return _dp.decapsulate_mn(batch, self.home_agent.packed, self._homes, self._flags,
                                  self._counters["decapsulate"])

    def insert_hao(self, batch: PacketBatch) -> int:
        return _dp.hao_insert(batch, self._bul, self.mtu, self._counters["insert_hao"])

    def process_rh2(self, batch: PacketBatch) -> int:
        return _dp.rh2_process(batch, self._homes, self._counters["process_rh2"])

    def graph_tunnel(self) -> tuple:
        """This path's outbound kernels as a row of MobileNodeGraph.set_tunnels (its first home
        address: the mobile node's outbound paths have one each)."""
        mtu, flow_label, hop_limit = self._tunnel
        return (self.home_addresses[0].packed, self._care_of.packed, self.home_agent.packed, mtu, flow_label,
                hop_limit, self._flags, self.mtu, self._counters["insert_hao"].array,
                self._counters["reverse_tunnel"].array)

    def graph_agent(self) -> tuple:
        """This path's decapsulation as a row of MobileNodeGraph.set_agents."""
        return (self.home_agent.packed, [a.packed for a in self.home_addresses], self._flags,
                self._counters["decapsulate"].array)

    def graph_rh2(self) -> tuple:
        """This path's process_rh2 as MobileNodeGraph.set_rh2's arguments."""
        return [a.packed for a in self.home_addresses], self._counters["process_rh2"].array

    def outbound(self, batch: PacketBatch) -> int:
        """insert_hao, then reverse_tunnel for what is left: every packet from a home address leaves
        either route-optimised or through the home agent."""
        return self.insert_hao(batch) + self.reverse_tunnel(batch)

    def inbound(self, batch: PacketBatch) -> int:
        """decapsulate, then process_rh2 for what was not tunnelled."""
        return self.decapsulate(batch) + self.process_rh2(batch)


class CorrespondentDataPath(_DataPath):
    """Correspondent node: send to bound mobile nodes with a Type 2 routing header; check and swap Home
    Address options on what they send (BINDING_ERROR when no binding matches, RFC 6275 §9.3.1)."""
    _kernels = ("insert_rh2", "process_hao")

    def __init__(self, cache, mtu: int = 1500):
        super().__init__()
        self._table = _table(cache, 16, "cache")
        if not _dp.RO_MIN_MTU <= mtu <= _dp.MAX_MTU:
            raise ValueError(f"mtu must be in {_dp.RO_MIN_MTU}..{_dp.MAX_MTU}, got {mtu}")
        self.mtu = mtu

    def graph(self, adjacencies: int = 65536):
        """The correspondent's data-plane graphs (mip6fast._graph.CorrespondentGraph: one C call per
        batch) over this data path's table, MTU and kernel counters; its interfaces, routes and
        adjacency are the caller's to set (roles/graph_tables.py)."""
        return _graph.CorrespondentGraph(self._table, self.mtu, self._counters["insert_rh2"].array,
                                         self._counters["process_hao"].array, adjacencies)

    def insert_rh2(self, batch: PacketBatch) -> int:
        return _dp.rh2_insert(batch, self._table, self.mtu, self._counters["insert_rh2"])

    def process_hao(self, batch: PacketBatch) -> int:
        return _dp.hao_process(batch, self._table, self._counters["process_hao"])
