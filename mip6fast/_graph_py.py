"""Pure-Python twin of mip6fast._graph (csrc/mip6_graph.c, csrc/mip6_adj.c): the reference the compiled
graph is held to, packet by packet (verdicts, bytes, columns, slow list, counters), and what runs with
``MIP6FAST_PURE_PYTHON=1``. The same decisions in the same order; see csrc/mip6_graph.h."""
from __future__ import annotations

import numpy as np

from . import _datapath_py as dp
from .batch import DropReason as R
from .batch import Verdict as V

MAX_IFACES = 16
MAX_ROUTES = 256
NO_IF = 0xFF
NO_DEADLINE = (1 << 64) - 1
MAX_ADJACENCIES = 1 << 24
SLOW_KINDS = ("FRAME", "TUNNEL_TX", "INNER", "TOO_BIG", "HOP_LIMIT", "UNPROTECTED", "DECAPSULATED_LEFT")
COUNTER_NAMES = ("RX", "TUNNELLED", "DETUNNELLED_SENT", "TX", "SLOW")
_K = {name: k for k, name in enumerate(SLOW_KINDS)}
_C = {name: k for k, name in enumerate(COUNTER_NAMES)}
_ETH = 14
_ND = range(133, 138)


def _address(value, what: str) -> bytes:
    a = bytes(value)
    if len(a) != 16:
        raise ValueError(f"{what}: expected a 16-byte address, got {len(a)} bytes")
    return a


def _link_local(a: bytes) -> bool:
    return a[0] == 0xFE and a[1] & 0xC0 == 0x80


class HomeAgentGraph:
    """See mip6fast._graph.HomeAgentGraph."""

    def __init__(self, table, address, tunnel_mtu: int, flow_label: int, hop_limit: int, tunnel_flags: int,
                 decap_flags: int, encap_counters, decap_counters, adj_max: int = 65536, seed=None):
        a = _address(address, "address")
        if table.key_size != 16:
            raise ValueError(f"the home agent's graph needs a table with 16-byte keys, got {table.key_size}")
        if len(encap_counters) != len(R) or len(decap_counters) != len(R):
            raise ValueError(f"counter arrays must have {len(R)} entries")
        if not (1320 <= tunnel_mtu <= 65535 and flow_label <= 0xFFFFF and 1 <= hop_limit <= 255
                and tunnel_flags <= 3):
            raise ValueError("bad tunnel parameters")
        if not 1 <= adj_max <= MAX_ADJACENCIES:
            raise ValueError(f"adj_max must be in 1..{MAX_ADJACENCIES}, got {adj_max}")
        if seed is not None and len(bytes(seed)) != 16:
            raise ValueError("seed must be 16 bytes")
        self._table = table
        self._address = a
        self._cfg = dp.TunnelConfig(a, bytes(16), tunnel_mtu, flow_label, hop_limit, tunnel_flags)
        self._decap_flags = decap_flags
        self._encap = _ArrayCounters(encap_counters)
        self._decap = _ArrayCounters(decap_counters)
        self._adj: dict[tuple[int, bytes], tuple[bytes, int]] = {}
        self._adj_max = adj_max
        self._ifaces: list[tuple[bytes, int, bool]] = []
        self._routes: list[tuple[int, int, int, int, int, int, bytes | None]] = []
        self._own: frozenset[bytes] = frozenset()
        self._required: frozenset[bytes] = frozenset()
        self._protected: frozenset[bytes] = frozenset()
        self._counters = [0] * len(COUNTER_NAMES)
        self._drops = [0] * len(R)
        self._kinds = [0] * len(SLOW_KINDS)
        self._grow(64)
        self._tx = [0] * MAX_IFACES
        self._last_drops: dict[int, int] = {}
        self.tunnelled = self.detunnelled_sent = self.dropped = self.n_slow = 0

    def _grow(self, cap: int) -> None:
        self.out = np.full(cap, NO_IF, dtype=np.uint8)
        self.slow = np.zeros(cap, dtype=np.uint32)
        self.slow_kind = np.zeros(cap, dtype=np.uint8)

    # ---- tables ---------------------------------------------------------------------------------------

    def set_interfaces(self, interfaces) -> None:
        rows = [(bytes(mac), int(mtu), bool(up)) for mac, mtu, up in interfaces]
        if len(rows) > MAX_IFACES:
            raise ValueError(f"at most {MAX_IFACES} interfaces")
        for mac, mtu, _ in rows:
            if len(mac) != 6:
                raise ValueError("a MAC is 6 bytes")
            if not 0 <= mtu <= 0xFFFFFFFF:
                raise ValueError("bad MTU")
        self._ifaces = rows

    def set_routes(self, routes) -> None:
        rows = list(routes)
        if len(rows) > MAX_ROUTES:
            raise ValueError(f"at most {MAX_ROUTES} routes")
        table = []
        for prefix, plen, iface, hop in rows:
            p = _address(prefix, "prefix")
            if hop is not None:
                hop = _address(hop, "next hop")
            if not 0 <= plen <= 128 or not 0 <= iface < len(self._ifaces):
                raise ValueError("a route's prefix length or interface is out of range")
            mask = ((1 << plen) - 1) << (128 - plen) if plen else 0
            table.append((plen, mask, int.from_bytes(p, "big") & mask, iface, hop))
        # Stable sort, longest first: among equal lengths the node's order stands.
        self._routes = sorted(table, key=lambda r: -r[0])

    def route(self, dst) -> int:
        d = int.from_bytes(_address(dst, "dst"), "big")
        for k, (_, mask, net, _, _) in enumerate(self._routes):
            if d & mask == net:
                return k
        return -1

    def set_own(self, addresses) -> None:
        self._own = frozenset(_address(a, "own address") for a in addresses)

    def set_required(self, addresses) -> None:
        self._required = frozenset(_address(a, "required") for a in addresses)

    def set_protected(self, addresses) -> None:
        self._protected = frozenset(_address(a, "protected") for a in addresses)

    # ---- adjacency ------------------------------------------------------------------------------------

    def adj_set(self, iface: int, addr, mac, deadline_ns: int) -> bool:
        a, m = _address(addr, "neighbour"), bytes(mac)
        if len(m) != 6:
            raise ValueError("a MAC is 6 bytes")
        if not 0 <= iface < MAX_IFACES:
            raise ValueError("interface index out of range")
        key = (iface, a)
        if key not in self._adj and len(self._adj) >= self._adj_max:
            return False
        self._adj[key] = (m, int(deadline_ns))
        return True

    def adj_del(self, iface: int, addr) -> bool:
        return self._adj.pop((iface, _address(addr, "neighbour")), None) is not None

    def adj_clear(self) -> None:
        self._adj.clear()

    def adj_get(self, iface: int, addr):
        return self._adj.get((iface, _address(addr, "neighbour")))

    def adjacency(self) -> list:
        return [(i, a, m, d) for (i, a), (m, d) in self._adj.items()]

    @property
    def adj_len(self) -> int:
        return len(self._adj)

    @property
    def adj_max(self) -> int:
        return self._adj_max

    # ---- the data path ----------------------------------------------------------------------------------

    def run(self, batch, rx: int, now_ns: int) -> int:
        dp.view_of(batch)
        n = batch.count
        if not 0 <= n <= batch.capacity:
            raise ValueError(f"batch count {n} is outside 0..{batch.capacity}")
        if rx >= len(self._ifaces):
            raise ValueError(f"interface index {rx} out of range ({len(self._ifaces)} interfaces)")
        if n > len(self.out):
            self._grow(max(n, 2 * len(self.out)))
        buf, slot = batch.buf, batch.slot_size
        off_, len_, verdict, reason = batch.offset, batch.length, batch.verdict, batch.reason
        self._tx = [0] * MAX_IFACES
        self._last_drops = {}
        self.tunnelled = self.detunnelled_sent = self.dropped = self.n_slow = 0
        self._counters[_C["RX"]] += n
        frame = [(int(off_[i]), int(length)) for i, length in enumerate(len_[:n])]
        flags = [0] * n
        rif_mac = self._ifaces[rx][0]
        # ethernet-input + classify
        for i in range(n):
            off, ln = frame[i]
            self.out[i] = NO_IF
            verdict[i], reason[i], batch.aux[i] = V.SLOW_PATH, R.NONE, 0
            start = i * slot
            if off < start or off > start + slot or ln > start + slot - off or ln < _ETH + 41:
                continue
            p = buf[off:off + _ETH + 41].tobytes()
            ip = p[_ETH:]
            if p[:6] != rif_mac or p[12:14] != b"\x86\xdd" or ip[0] >> 4 != 6:
                continue
            pl = int.from_bytes(ip[4:6], "big")
            if pl == 0 or _ETH + 40 + pl > ln:
                continue
            if ip[6] == 58 and ip[40] in _ND:
                continue
            if _link_local(ip[8:24]) or _link_local(ip[24:40]):
                continue
            off_[i], len_[i], verdict[i] = off + _ETH, 40 + pl, V.PASS
            flags[i] = _FAST | (_TO_US if ip[24:40] == self._address else 0)
        dp.encapsulate_ha(batch, self._table, self._cfg, self._encap)
        for i in range(n):
            f = flags[i]
            if verdict[i] == V.FORWARD:
                flags[i] = f = f | _ENC
            if verdict[i] == V.PASS and not f & _TO_US:
                verdict[i] = V.SLOW_PATH
                flags[i] = f = f | _HELD
            if (self._required and f & _TO_US and buf[frame[i][0] + _ETH + 6] == 41 and len_[i] >= 80
                    and buf[int(off_[i]) + 48:int(off_[i]) + 64].tobytes() in self._required):
                verdict[i] = V.SLOW_PATH
                flags[i] = f | _UNPROT
        self._decapsulate(batch, n, flags)
        for i in range(n):
            if flags[i] & _HELD:
                verdict[i] = V.PASS
        memo: list = [None]
        for i in range(n):
            v, f = int(verdict[i]), flags[i]
            if v == V.DROP:
                r = int(reason[i])
                self._drops[r] += 1
                self._last_drops[r] = self._last_drops.get(r, 0) + 1
                self.dropped += 1
                if r == R.HOP_LIMIT:
                    self._slow(i, "HOP_LIMIT")
            elif v == V.TOO_BIG:
                self._slow(i, "TOO_BIG")
            elif v == V.FORWARD and f & (_ENC | _RET):
                self.tunnelled += 1
                self._counters[_C["TUNNELLED"]] += 1
                o = int(off_[i])
                if ((self._protected and buf[o + 64:o + 80].tobytes() in self._protected)
                        or not self._try_send(batch, i, now_ns, memo)):
                    self._slow(i, "TUNNEL_TX")
            elif v == V.FORWARD:
                o = int(off_[i])
                if buf[o + 24:o + 40].tobytes() in self._own or not self._try_send(batch, i, now_ns, memo):
                    self._slow(i, "INNER")
                else:
                    self.detunnelled_sent += 1
                    self._counters[_C["DETUNNELLED_SENT"]] += 1
        for i in range(n):
            v, f = int(verdict[i]), flags[i]
            if v not in (V.PASS, V.SLOW_PATH):
                continue
            if f & _DEC:
                self._slow(i, "DECAPSULATED_LEFT")
            elif f & _UNPROT:
                self._slow(i, "UNPROTECTED")
            else:
                off_[i], len_[i] = frame[i]
                self._slow(i, "FRAME")
        return self.n_slow

    def _decapsulate(self, batch, n: int, flags: list[int]) -> None:
        verdict = batch.verdict
        keep = [int(v) for v in verdict[:n]]
        dp.decapsulate_ha(batch, self._table, self._decap_flags, self._decap)
        dec = False
        for i in range(n):
            if keep[i] == V.PASS and verdict[i] == V.FORWARD:
                flags[i] |= _DEC
                dec = True
        if not dec:
            return
        keep = [int(v) for v in verdict[:n]]
        for i in range(n):
            if flags[i] & _DEC:
                verdict[i], batch.reason[i] = V.PASS, R.NONE
            else:
                verdict[i] = V.SLOW_PATH
        dp.encapsulate_ha(batch, self._table, self._cfg, self._encap)
        for i in range(n):
            if flags[i] & _DEC:
                second = int(verdict[i])
                if second == V.FORWARD:
                    flags[i] |= _RET
                verdict[i] = V.FORWARD if second == V.PASS else second
            else:
                verdict[i] = keep[i]

    def _slow(self, i: int, kind: str) -> None:
        k = _K[kind]
        self.slow[self.n_slow] = i
        self.slow_kind[self.n_slow] = k
        self.n_slow += 1
        self._kinds[k] += 1
        self._counters[_C["SLOW"]] += 1

    def _try_send(self, batch, i: int, now_ns: int, memo: list) -> bool:
        buf = batch.buf
        off, ln = int(batch.offset[i]), int(batch.length[i])
        dst = buf[off + 24:off + 40].tobytes()
        if _link_local(dst) or dst[0] == 0xFF:
            return False
        k = self.route(dst)
        if k < 0:
            return False
        _, _, _, iface, hop = self._routes[k]
        mac_self, mtu, up = self._ifaces[iface]
        if not up or ln > mtu or off - i * batch.slot_size < _ETH:
            return False
        hop = hop if hop is not None else dst
        if memo[0] is not None and memo[0][0] == (iface, hop):
            mac = memo[0][1]
        else:
            entry = self._adj.get((iface, hop))
            mac = entry[0] if entry is not None and now_ns < entry[1] else None
            memo[0] = ((iface, hop), mac)
        if mac is None:
            return False
        buf[off - _ETH:off] = np.frombuffer(mac + mac_self + b"\x86\xdd", dtype=np.uint8)
        batch.offset[i], batch.length[i] = off - _ETH, ln + _ETH
        self.out[i] = iface
        self._tx[iface] += 1
        self._counters[_C["TX"]] += 1
        return True

    def tx(self) -> list[int]:
        return self._tx[:len(self._ifaces)]

    def last_drops(self) -> dict[int, int]:
        return dict(sorted(self._last_drops.items()))

    def counters(self) -> tuple[dict, dict, dict]:
        return ({name: self._counters[k] for k, name in enumerate(COUNTER_NAMES)},
                {r: c for r, c in enumerate(self._drops) if c},
                {name: self._kinds[k] for k, name in enumerate(SLOW_KINDS)})


_FAST, _TO_US, _ENC, _HELD, _UNPROT, _DEC, _RET = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40


class _ArrayCounters:
    """A counter array (the compiled data path's Counters.array, or the twin's) as the twin kernels
    add to it: ``counters[reason] += 1``."""
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, reason) -> int:
        return int(self.array[reason])

    def __setitem__(self, reason, value) -> None:
        self.array[reason] = value
