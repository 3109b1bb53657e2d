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
SLOW_KINDS = ("FRAME", "TUNNEL_TX", "INNER", "TOO_BIG", "HOP_LIMIT", "UNPROTECTED", "DECAPSULATED_LEFT", "SEND",
              "PASSED", "DELIVER_TUNNEL", "DELIVER_RH2", "RECEIVED")
MAX_TUNNELS = 16
MAX_AGENTS = 16
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


class _Graph:
    """What every role's graph shares (see mip6fast._graph._Graph)."""

    def __init__(self, adj_max: int, seed) -> None:
        if not 1 <= adj_max <= MAX_ADJACENCIES:
            raise ValueError(f"adj_max must be in 1..{MAX_ADJACENCIES}, got {adj_max}")
        if seed is not None and len(bytes(seed)) != 16:
            raise ValueError("seed must be 16 bytes")
        self._adj: dict[tuple[int, bytes], tuple[bytes, int]] = {}
        self._adj_max = adj_max
        self._ifaces: list[tuple[bytes, int, bool]] = []
        self._routes: list[tuple[int, int, int, int, bytes | None]] = []
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
        self.inserted = self.unprotected = 0

    def _grow(self, cap: int) -> None:
        self.out = np.full(cap, NO_IF, dtype=np.uint8)
        self.slow = np.zeros(cap, dtype=np.uint32)
        self.slow_kind = np.zeros(cap, dtype=np.uint8)

    def _begin(self, batch) -> int:
        """Checks and resets shared by every run; the batch's count."""
        dp.view_of(batch)
        n = batch.count
        if not 0 <= n <= batch.capacity:
            raise ValueError(f"batch count {n} is outside 0..{batch.capacity}")
        if n > len(self.out):
            self._grow(max(n, 2 * len(self.out)))
        self._tx = [0] * MAX_IFACES
        self._last_drops = {}
        self.tunnelled = self.detunnelled_sent = self.dropped = self.n_slow = 0
        self.inserted = self.unprotected = 0
        return n

    def _rx(self, rx: int) -> None:
        if rx >= len(self._ifaces):
            raise ValueError(f"interface index {rx} out of range ({len(self._ifaces)} interfaces)")

    def _drop(self, r: int) -> None:
        self._drops[r] += 1
        self._last_drops[r] = self._last_drops.get(r, 0) + 1
        self.dropped += 1

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


class HomeAgentGraph(_Graph):
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
        super().__init__(adj_max, seed)
        self._table = table
        self._address = a
        self._cfg = dp.TunnelConfig(a, bytes(16), tunnel_mtu, flow_label, hop_limit, tunnel_flags)
        self._decap_flags = decap_flags
        self._encap = _ArrayCounters(encap_counters)
        self._decap = _ArrayCounters(decap_counters)

    # ---- the data path ----------------------------------------------------------------------------------

    def run(self, batch, rx: int, now_ns: int) -> int:
        self._rx(rx)
        n = self._begin(batch)
        buf, slot = batch.buf, batch.slot_size
        off_, len_, verdict, reason = batch.offset, batch.length, batch.verdict, batch.reason
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
                self._drop(r)
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



def _eth_ipv6(batch, i: int, mac: bytes, multicast: bool) -> int | None:
    """ethernet-input (mip6_graph_roles.c): the Payload Length of a whole IPv6 packet in frame i for
    ``mac`` (with ``multicast``: broadcast and 33:33 groups too), else None."""
    off, ln = int(batch.offset[i]), int(batch.length[i])
    start = i * batch.slot_size
    if off < start or off > start + batch.slot_size or ln > start + batch.slot_size - off or ln < _ETH + 41:
        return None
    p = batch.buf[off:off + _ETH + 41].tobytes()
    to_us = p[:6] == mac or (multicast and (p[:6] == b"\xff" * 6 or p[:2] == b"\x33\x33"))
    if not to_us or p[12:14] != b"\x86\xdd" or p[_ETH] >> 4 != 6:
        return None
    pl = int.from_bytes(p[_ETH + 4:_ETH + 6], "big")
    return pl if pl and _ETH + 40 + pl <= ln else None


def _send_ok(batch, i: int) -> bool:
    return int(batch.length[i]) >= 40 and int(batch.buf[int(batch.offset[i])]) >> 4 == 6


def _counter_array(array):
    if len(array) != len(R):
        raise ValueError(f"counter arrays must have {len(R)} entries")
    return _ArrayCounters(array)


class MobileNodeGraph(_Graph):
    """See mip6fast._graph.MobileNodeGraph."""

    def __init__(self, bul, adj_max: int = 65536, seed=None):
        if bul.key_size != 32:
            raise ValueError(f"the binding update list has 32-byte keys, got {bul.key_size}")
        super().__init__(adj_max, seed)
        self._bul = bul
        self._tunnels: list = []
        self._agents: list = []
        self.set_rh2((), np.zeros(len(R), dtype=np.uint64))

    def set_tunnels(self, tunnels) -> None:
        rows = list(tunnels)
        if len(rows) > MAX_TUNNELS:
            raise ValueError(f"at most {MAX_TUNNELS} tunnels")
        table = []
        for home, coa, agent, mtu, flow, hop, flags, hao_mtu, hc, ec in rows:
            h, c, a = _address(home, "home"), _address(coa, "care_of"), _address(agent, "home_agent")
            if not (1320 <= mtu <= 65535 and flow <= 0xFFFFF and 1 <= hop <= 255 and flags <= 3):
                raise ValueError("bad tunnel parameters")
            if not 1280 <= hao_mtu <= 65535:
                raise ValueError("bad MTU")
            table.append((dp.TunnelConfig(c, a, mtu, flow, hop, flags), h, hao_mtu, _counter_array(hc),
                          _counter_array(ec)))
        self._tunnels = table

    def set_agents(self, agents) -> None:
        rows = list(agents)
        if len(rows) > MAX_AGENTS:
            raise ValueError(f"at most {MAX_AGENTS} home agents")
        self._agents = [(_address(a, "home_agent"), tuple(_address(h, "home") for h in homes), flags,
                         _counter_array(counters)) for a, homes, flags, counters in rows]

    def set_rh2(self, homes, counters) -> None:
        self._rh2 = (tuple(_address(h, "home") for h in homes), _counter_array(counters))

    def send(self, batch, now_ns: int) -> int:
        n = self._begin(batch)
        self._counters[_C["RX"]] += n
        for i in range(n):
            self.out[i] = NO_IF
        for cfg, home, hao_mtu, hc, ec in self._tunnels:
            dp.hao_insert(batch, self._bul, hao_mtu, hc)
            dp.encapsulate_fixed(batch, cfg, [home], ec)
        buf, verdict = batch.buf, batch.verdict
        memo: list = [None]
        for i in range(n):
            v = int(verdict[i])
            if v == V.DROP:
                self._drop(int(batch.reason[i]))
            elif v == V.FORWARD:
                o, ln = int(batch.offset[i]), int(batch.length[i])
                tunnel = ln >= 40 and buf[o + 6] == 41
                if tunnel:
                    self.tunnelled += 1
                    self._counters[_C["TUNNELLED"]] += 1
                if (not _send_ok(batch, i)
                        or (tunnel and self._protected and ln >= 80
                            and buf[o + 48:o + 64].tobytes() in self._protected)
                        or not self._try_send(batch, i, now_ns, memo)):
                    self._slow(i, "SEND")
        for i in range(n):
            if verdict[i] == V.PASS:
                self._slow(i, "PASSED")
        for i in range(n):
            if verdict[i] == V.TOO_BIG:
                self._slow(i, "TOO_BIG")
        return self.n_slow

    def _per_frame_only(self, buf, frame_off: int, o: int, mac: bytes, pl: int) -> bool:
        """mn_per_frame_only (mip6_graph_roles.c): from our own MAC, not to a usable address of the
        node, or a routing header before another extension header or a DHAAD Reply / MPA."""
        if buf[frame_off + 6:frame_off + 12].tobytes() == mac or buf[o + 24:o + 40].tobytes() not in self._own:
            return True
        if int(buf[o + 6]) != 43:
            return False
        after = int(buf[o + 40])
        if after in (0, 43, 44, 51, 60):
            return True
        if after == 58:
            at = 40 + (int(buf[o + 41]) + 1) * 8
            return at < 40 + pl and int(buf[o + at]) in (145, 147)
        return False

    def receive(self, batch, rx: int, now_ns: int) -> int:
        self._rx(rx)
        n = self._begin(batch)
        self._counters[_C["RX"]] += n
        buf, verdict = batch.buf, batch.verdict
        off_, len_ = batch.offset, batch.length
        frame = [(int(off_[i]), int(len_[i])) for i in range(n)]
        flags = [0] * n
        mac = self._ifaces[rx][0]
        for i in range(n):
            self.out[i] = NO_IF
            pl = _eth_ipv6(batch, i, mac, False) if verdict[i] == V.PASS else None
            if pl is None:
                verdict[i] = V.SLOW_PATH
                continue
            o = frame[i][0] + _ETH
            nh, after = int(buf[o + 6]), int(buf[o + 40])
            if not (nh == 41 or (nh == 43 and after not in (135, 50))):
                verdict[i] = V.SLOW_PATH
                continue
            if self._per_frame_only(buf, frame[i][0], o, mac, pl):
                verdict[i] = V.SLOW_PATH
                continue
            if nh == 41 and self._required and pl >= 40 and buf[o + 64:o + 80].tobytes() in self._required:
                verdict[i] = V.SLOW_PATH
                flags[i] = _M_UNPROT
                self.unprotected += 1
                continue
            off_[i], len_[i] = o, 40 + pl
            flags[i] = _M_ELIG | (_M_TUN if nh == 41 else 0)
        if len(self._agents) == 1:
            a, homes, dflags, counters = self._agents[0]
            dp.decapsulate_mn(batch, a, homes, dflags, counters)
        else:
            for a, homes, dflags, counters in self._agents:
                parked = [i for i in range(n)
                          if verdict[i] == V.PASS and buf[int(off_[i]) + 8:int(off_[i]) + 24].tobytes() != a]
                for i in parked:
                    verdict[i] = V.SLOW_PATH
                dp.decapsulate_mn(batch, a, homes, dflags, counters)
                for i in parked:
                    verdict[i] = V.PASS
        dp.rh2_process(batch, self._rh2[0], self._rh2[1])
        for i in range(n):
            if not flags[i] & _M_ELIG:
                continue
            if verdict[i] == V.FORWARD:
                self._slow(i, "DELIVER_TUNNEL" if flags[i] & _M_TUN else "DELIVER_RH2")
            elif verdict[i] == V.DROP:
                self._drop(int(batch.reason[i]))
        for i in range(n):
            if flags[i] & _M_UNPROT:
                continue
            if flags[i] & _M_ELIG:
                if verdict[i] in (V.FORWARD, V.DROP):
                    continue
                off_[i], len_[i] = frame[i]
            self._slow(i, "FRAME")
        return self.n_slow


class CorrespondentGraph(_Graph):
    """See mip6fast._graph.CorrespondentGraph."""

    def __init__(self, table, mtu: int, rh2_counters, hao_counters, adj_max: int = 65536, seed=None):
        if table.key_size != 16:
            raise ValueError(f"the correspondent's graph needs a table with 16-byte keys, got {table.key_size}")
        if not 1280 <= mtu <= 65535:
            raise ValueError("bad MTU")
        self._rh2c = _counter_array(rh2_counters)
        self._haoc = _counter_array(hao_counters)
        super().__init__(adj_max, seed)
        self._table = table
        self._mtu = mtu

    def send(self, batch, now_ns: int) -> int:
        n = self._begin(batch)
        self._counters[_C["RX"]] += n
        for i in range(n):
            self.out[i] = NO_IF
        dp.rh2_insert(batch, self._table, self._mtu, self._rh2c)
        buf, verdict = batch.buf, batch.verdict
        memo: list = [None]
        for i in range(n):
            v = int(verdict[i])
            if v == V.DROP:
                self._drop(int(batch.reason[i]))
            elif v in (V.FORWARD, V.PASS):
                if v == V.FORWARD:
                    self.inserted += 1
                o = int(batch.offset[i])
                if (not _send_ok(batch, i) or buf[o + 24:o + 40].tobytes() in self._own
                        or not self._try_send(batch, i, now_ns, memo)):
                    self._slow(i, "SEND")
        for i in range(n):
            if verdict[i] == V.TOO_BIG:
                self._slow(i, "TOO_BIG")
        return self.n_slow

    def receive(self, batch, rx: int, now_ns: int) -> int:
        self._rx(rx)
        n = self._begin(batch)
        self._counters[_C["RX"]] += n
        verdict = batch.verdict
        mac = self._ifaces[rx][0]
        elig = [False] * n
        for i in range(n):
            self.out[i] = NO_IF
            batch.reason[i] = R.NONE
            pl = _eth_ipv6(batch, i, mac, True)
            if pl is None:
                verdict[i] = V.SLOW_PATH
                continue
            batch.offset[i] += _ETH
            batch.length[i] = 40 + pl
            verdict[i] = V.PASS
            elig[i] = True
        dp.hao_process(batch, self._table, self._haoc)
        for i in range(n):
            self._slow(i, "RECEIVED" if elig[i] else "FRAME")
        return self.n_slow


_M_ELIG, _M_TUN, _M_UNPROT = 0x01, 0x02, 0x08

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
