"""Pure-Python reference of the data-path kernels (csrc/mip6_tunnel.c, csrc/mip6_route_opt.c).

The straightforward way to do it in Python, one packet at a time: ``struct`` unpack of the header, a
dict lookup of the binding, ``struct`` pack of the new header, concatenation. It is the oracle the tests
hold the C kernels to (same verdicts, reasons, aux values, counters and output bytes) and the baseline
the benchmark measures them against. The rules, and the order they are checked in, are the ones
documented in csrc/mip6_tunnel.h and csrc/mip6_route_opt.h.

Bindings are a ``dict`` from key bytes (the 16-byte home address; for the binding update list the 32
bytes peer + home address) to ``Binding`` objects, whose packet/byte counters the kernels update.

It is also the twin of mip6fast._datapath (``mip6fast._impl.load("datapath")`` picks it with
``MIP6FAST_PURE_PYTHON=1``): the batch forms take a ``BindingTable`` (mip6fast._bcache_py's, or the
compiled one) where the reference takes a dict, and the module has the compiled one's other names
(``Counters``, ``Addresses``, a checked ``TunnelConfig``, ``view_of``, ``Snapshot``, ``restore``, the
reason tables), with the same checks and the same errors.

Each kernel has a per-packet function ``<kernel>_one(packet, room, ...) -> (reason, aux, out)`` (``out``
is the rewritten packet, or None when it is untouched; ``room`` is the headroom in front of it), a list
form ``<kernel>_list(packets, ..., counters, room=128) -> [(verdict, reason, aux, bytes)]`` and a batch
form ``<kernel>(batch, ..., counters) -> forwarded`` that behaves as the C kernel does on a PacketBatch.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Callable, NamedTuple, Optional

import numpy as np

from .batch import VERDICT_OF, BatchState, PacketBatch, Verdict
from .batch import DropReason as R

FLAG_H = 0x4000
TUN_ALLOW_SITE_LOCAL = 0x01
TUN_DEC_HOP_LIMIT = 0x02
TUN_MIN_MTU, RO_MIN_MTU, MAX_MTU = 1320, 1280, 65535
RO_MAX_MTU = MAX_MTU
REASON_COUNT = len(R)

NH_HOPOPT, NH_IPV6, NH_ROUTING, NH_ICMPV6, NH_DSTOPTS, NH_MH = 0, 41, 43, 58, 60, 135
OPT_HAO = 201
MLD_TYPES = frozenset((130, 131, 132, 143))
ND_TYPES = frozenset(range(133, 138))

_IP6 = struct.Struct("!IHBB16s16s")   # version/traffic class/flow label, payload length, NH, hop limit, src, dst
_U16 = struct.Struct("!H")


class Binding:
    """The parts of a binding cache / binding update list entry the kernels use."""
    __slots__ = ("bytes", "coa", "flags", "packets")

    def __init__(self, coa: bytes, flags: int = 0, packets: int = 0, bytes_: int = 0):
        self.coa = bytes(coa)
        self.flags = flags
        self.packets = packets
        self.bytes = bytes_

    def __repr__(self):
        return f"Binding(coa={self.coa.hex()}, flags={self.flags:#x}, packets={self.packets}, bytes={self.bytes})"

    def count(self, nbytes: int) -> None:
        """One more packet of nbytes through this binding."""
        self.packets += 1
        self.bytes += nbytes


class _TunnelFields(NamedTuple):
    src: bytes             # outer source: home agent (HA mode) / care-of address (fixed mode)
    dst: bytes = bytes(16)  # outer destination in fixed mode
    mtu: int = 1500
    flow_label: int = 0
    hop_limit: int = 64
    flags: int = 0


def _check_u(value: int, lo: int, hi: int, name: str) -> None:
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")


class TunnelConfig(_TunnelFields):
    """mip6_tunnel_cfg_t, checked as the compiled TunnelConfig checks it."""
    __slots__ = ()

    def __new__(cls, src, dst=bytes(16), mtu: int = 1500, flow_label: int = 0, hop_limit: int = 64,
                flags: int = 0):
        s, d = bytes(src), bytes(dst)
        if len(s) != 16 or len(d) != 16:
            raise ValueError("src and dst must be 16-byte addresses")
        _check_u(mtu, TUN_MIN_MTU, MAX_MTU, "tunnel MTU")
        _check_u(flow_label, 0, 0xFFFFF, "flow label")
        _check_u(hop_limit, 1, 255, "hop limit")
        _check_u(flags, 0, 3, "flags")
        return super().__new__(cls, s, d, int(mtu), int(flow_label), int(hop_limit), int(flags))


Result = tuple[R, int, Optional[bytes]]


# ---- checks shared by the kernels -------------------------------------------------------------------

def _check(p: bytes) -> R:
    if len(p) < 40:
        return R.TRUNCATED
    if p[0] >> 4 != 6:
        return R.BAD_VERSION
    if 40 + _U16.unpack_from(p, 4)[0] != len(p):
        return R.BAD_LENGTH
    return R.NONE


class Walk(NamedTuple):
    hbh_end: int
    rh: int
    rh_end: int
    dst: int
    dst_end: int
    upper: int
    upper_nh: int


def walk(p: bytes) -> tuple[R, Walk | None]:
    n = len(p)
    off, nh = 40, p[6]
    hbh_end, rh, rh_end, dst, dst_end = 40, -1, 0, -1, 0
    while nh in (NH_HOPOPT, NH_ROUTING, NH_DSTOPTS):
        if off + 8 > n:
            return R.BAD_HEADER, None
        hl = (p[off + 1] + 1) * 8
        if off + hl > n:
            return R.BAD_HEADER, None
        if nh == NH_HOPOPT:
            if off != 40:
                return R.BAD_HEADER, None
            hbh_end = off + hl
        elif nh == NH_ROUTING:
            if rh >= 0 or dst >= 0:
                return R.BAD_HEADER, None
            rh, rh_end = off, off + hl
        else:
            if dst >= 0:
                return R.BAD_HEADER, None
            dst, dst_end = off, off + hl
        nh = p[off]
        off += hl
    return R.NONE, Walk(hbh_end, rh, rh_end, dst, dst_end, off, nh)


def find_hao(p: bytes, dst: int, dst_end: int) -> tuple[R, int]:
    i, hao = dst + 2, -1
    while i < dst_end:
        t = p[i]
        if t == 0:
            i += 1
            continue
        if i + 2 > dst_end:
            return R.BAD_HEADER, -1
        ln = p[i + 1]
        if i + 2 + ln > dst_end:
            return R.BAD_HEADER, -1
        if t == OPT_HAO:
            if hao >= 0:
                return R.DUPLICATE_HAO, -1
            if ln != 16 or (i - dst) % 8 != 6:
                return R.BAD_HAO, -1
            hao = i + 2
        i += 2 + ln
    return R.NONE, hao


def _link_local(a: bytes) -> bool:
    return a[0] == 0xFE and a[1] & 0xC0 == 0x80


def _site_local(a: bytes) -> bool:
    return a[0] == 0xFE and a[1] & 0xC0 == 0xC0


def is_mld(p: bytes) -> bool:
    if p[24] != 0xFF:
        return False
    r, w = walk(p)
    return r == R.NONE and w.upper_nh == NH_ICMPV6 and w.upper < len(p) and p[w.upper] in MLD_TYPES


def _is_nd(p: bytes, w: Walk) -> bool:
    return w.upper_nh == NH_ICMPV6 and w.upper < len(p) and p[w.upper] in ND_TYPES


def scope(p: bytes, allow_site_local: bool) -> R:
    src, dst = p[8:24], p[24:40]
    if _link_local(dst):
        return R.LINK_LOCAL
    if _link_local(src) or (dst[0] == 0xFF and dst[1] & 0x0F <= 2):
        return R.NONE if is_mld(p) else R.LINK_LOCAL
    if not allow_site_local and (_site_local(src) or _site_local(dst)):
        return R.SITE_LOCAL
    return R.NONE


# ---- tunnelling ---------------------------------------------------------------------------------------

def _encap(p: bytes, room: int, outer_dst: bytes, cfg: TunnelConfig, binding: Binding | None) -> Result:
    dec = cfg.flags & TUN_DEC_HOP_LIMIT
    if dec and p[7] <= 1:
        return R.HOP_LIMIT, 0, None
    n = len(p)
    if n + 40 > cfg.mtu:
        return R.TOO_BIG, cfg.mtu - 40, None
    if room < 40:
        return R.NO_HEADROOM, 0, None
    first = _IP6.unpack_from(p)[0]
    traffic_class = (first >> 20) & 0xFF
    outer = _IP6.pack((6 << 28) | (traffic_class << 20) | cfg.flow_label, n, NH_IPV6, cfg.hop_limit,
                      cfg.src, outer_dst)
    if dec:
        p = p[:7] + bytes((p[7] - 1,)) + p[8:]
    if binding is not None:
        binding.count(n)
    return R.FORWARDED, 0, outer + p


def encapsulate_ha_one(p: bytes, room: int, bindings: dict[bytes, Binding], cfg: TunnelConfig) -> Result:
    r = _check(p) or scope(p, bool(cfg.flags & TUN_ALLOW_SITE_LOCAL))
    if r:
        return r, 0, None
    b = bindings.get(p[24:40])
    if b is None:
        return R.NO_BINDING, 0, None
    return _encap(p, room, b.coa, cfg, b)


def encapsulate_fixed_one(p: bytes, room: int, cfg: TunnelConfig, homes: Sequence[bytes]) -> Result:
    r = _check(p)
    if r:
        return r, 0, None
    if homes and p[8:24] not in homes and not is_mld(p):
        return R.NOT_FROM_HOME, 0, None
    r = scope(p, bool(cfg.flags & TUN_ALLOW_SITE_LOCAL))
    if r:
        return r, 0, None
    return _encap(p, room, cfg.dst, cfg, None)


def _decap_inner(p: bytes) -> R:
    if p[6] != NH_IPV6:
        return R.NOT_TUNNELLED
    return _check(p[40:])


def _decap_membership_scope(inner: bytes, flags: int) -> R:
    if is_mld(inner):
        return R.MULTICAST_MEMBERSHIP
    return scope(inner, bool(flags & TUN_ALLOW_SITE_LOCAL))


def _decap_finish(p: bytes, flags: int) -> Result:
    inner = bytearray(p[40:])
    dec = flags & TUN_DEC_HOP_LIMIT
    if dec and inner[7] <= 1:
        return R.HOP_LIMIT, 0, None
    outer_ecn, inner_ecn = (p[1] >> 4) & 3, (inner[1] >> 4) & 3   # 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE
    if inner_ecn == 0:
        if outer_ecn == 3:
            return R.ECN, 0, None
        ecn = 0
    elif outer_ecn == 3:
        ecn = 3
    elif outer_ecn == 1 and inner_ecn == 2:
        ecn = 1
    else:
        ecn = inner_ecn
    inner[1] = (inner[1] & 0xCF) | (ecn << 4)
    if dec:
        inner[7] -= 1
    return R.FORWARDED, 0, bytes(inner)


def decapsulate_ha_one(p: bytes, room: int, bindings: dict[bytes, Binding], flags: int) -> Result:
    r = _check(p) or _decap_inner(p) or _decap_membership_scope(p[40:], flags)
    if r:
        return r, 0, None
    b = bindings.get(p[48:64])
    if b is None:
        return R.TUNNEL_NO_BINDING, 0, None
    if b.coa != p[8:24]:
        return R.TUNNEL_WRONG_SOURCE, 0, None
    result = _decap_finish(p, flags)
    if result[0] == R.FORWARDED:
        b.count(len(p) - 40)
    return result


def decapsulate_mn_one(p: bytes, room: int, home_agent: bytes, homes: Sequence[bytes], flags: int) -> Result:
    r = _check(p) or _decap_inner(p)
    if r:
        return r, 0, None
    if p[8:24] != home_agent:
        return R.TUNNEL_WRONG_SOURCE, 0, None
    r = _decap_membership_scope(p[40:], flags)
    if r:
        return r, 0, None
    if p[64:80] not in homes:
        return R.NOT_HOME_ADDRESS, 0, None
    return _decap_finish(p, flags)


# ---- route optimisation ---------------------------------------------------------------------------------

def _room_for_insert(n: int, room: int, mtu: int) -> Result:
    if n + 24 > mtu:
        return R.TOO_BIG, mtu - 24, None
    if room < 24:
        return R.NO_HEADROOM, 0, None
    return R.NONE, 0, None


def _set_payload_length(head: bytes, extra: int) -> bytes:
    return head[:4] + _U16.pack(_U16.unpack_from(head, 4)[0] + extra) + head[6:]


def _nh_pos(w: Walk, q: int) -> int:
    if q == 40:
        return 6
    return w.rh if w.rh >= 0 else 40


def hao_insert_one(p: bytes, room: int, bul: dict[bytes, Binding], mtu: int) -> Result:
    r = _check(p)
    if r:
        return r, 0, None
    b = bul.get(p[24:40] + p[8:24])
    if b is None:
        return R.NO_BINDING, 0, None
    if b.flags & FLAG_H:
        return R.NOT_ELIGIBLE, 0, None
    r, w = walk(p)
    if r:
        return r, 0, None
    if w.upper_nh == NH_MH or _is_nd(p, w):
        return R.NOT_ELIGIBLE, 0, None
    if w.dst >= 0:
        r, hao = find_hao(p, w.dst, w.dst_end)
        if r:
            return r, 0, None
        if hao >= 0:
            return R.DUPLICATE_HAO, 0, None
        if p[w.dst + 1] > 252:
            return R.BAD_HEADER, 0, None
    result = _room_for_insert(len(p), room, mtu)
    if result[0]:
        return result
    home = p[8:24]
    if w.dst >= 0:
        q = w.dst_end
        head = bytearray(p[:q])
        head[w.dst + 1] += 3
        added = b"\x01\x04\0\0\0\0" + struct.pack("!BB16s", OPT_HAO, 16, home)
    else:
        q = w.rh_end if w.rh >= 0 else w.hbh_end
        head = bytearray(p[:q])
        pos = _nh_pos(w, q)
        added = struct.pack("!BBBBBBBB16s", head[pos], 2, 1, 2, 0, 0, OPT_HAO, 16, home)
        head[pos] = NH_DSTOPTS
    head[8:24] = b.coa
    b.count(len(p))
    return R.FORWARDED, 0, _set_payload_length(bytes(head), 24) + added + p[q:]


def hao_process_one(p: bytes, room: int, bindings: dict[bytes, Binding]) -> Result:
    r = _check(p)
    if r:
        return r, 0, None
    r, w = walk(p)
    if r:
        return r, 0, None
    if w.dst < 0:
        return R.NO_HAO, 0, None
    r, hao = find_hao(p, w.dst, w.dst_end)
    if r:
        return r, 0, None
    if hao < 0:
        return R.NO_HAO, 0, None
    if w.upper_nh == NH_MH:
        return R.MH_SIGNALLING, 0, None
    home, src = p[hao:hao + 16], p[8:24]
    b = bindings.get(home)
    if b is None:
        return R.HAO_NO_BINDING, hao, None
    if b.coa != src:
        return R.HAO_WRONG_COA, hao, None
    b.count(len(p))
    return R.FORWARDED, 0, p[:8] + home + p[24:hao] + src + p[hao + 16:]


def rh2_insert_one(p: bytes, room: int, bindings: dict[bytes, Binding], mtu: int) -> Result:
    r = _check(p)
    if r:
        return r, 0, None
    home = p[24:40]
    b = bindings.get(home)
    if b is None:
        return R.NO_BINDING, 0, None
    r, w = walk(p)
    if r:
        return r, 0, None
    if w.rh >= 0 or w.upper_nh == NH_MH or _is_nd(p, w):
        return R.NOT_ELIGIBLE, 0, None
    result = _room_for_insert(len(p), room, mtu)
    if result[0]:
        return result
    q = w.hbh_end
    head = bytearray(p[:q])
    pos = _nh_pos(w, q)
    added = struct.pack("!BBBB4x16s", head[pos], 2, 2, 1, home)
    head[pos] = NH_ROUTING
    head[24:40] = b.coa
    b.count(len(p))
    return R.FORWARDED, 0, _set_payload_length(bytes(head), 24) + added + p[q:]


def rh2_process_one(p: bytes, room: int, homes: Sequence[bytes]) -> Result:
    r = _check(p)
    if r:
        return r, 0, None
    r, w = walk(p)
    if r:
        return r, 0, None
    if w.rh < 0 or p[w.rh + 2] != 2:
        return R.NO_RH2, 0, None
    rh = w.rh
    if p[rh + 1] != 2 or p[rh + 3] != 1:
        return R.BAD_RH2, 0, None
    addr, dst = p[rh + 8:rh + 24], p[24:40]
    if addr not in homes:
        return R.NOT_HOME_ADDRESS, 0, None
    return R.FORWARDED, 0, p[:24] + addr + p[40:rh + 3] + b"\0" + p[rh + 4:rh + 8] + dst + p[rh + 24:]


# ---- list and batch forms -------------------------------------------------------------------------------

def _bump(counters, reason: R) -> None:
    counters[reason] += 1


def run_list(one: Callable[..., Result], packets: Sequence[bytes], counters, *args,
             room: int = 128) -> list[tuple[Verdict, R, int, bytes]]:
    """The baseline: each packet through ``one``; what a Python implementation would hand on."""
    out = []
    for p in packets:
        reason, aux, new = one(p, room, *args)
        counters[reason] += 1
        out.append((VERDICT_OF[reason], reason, aux, p if new is None else new))
    return out


def run_batch(one: Callable[..., Result], batch: PacketBatch, counters, *args) -> int:
    """``one`` over a PacketBatch exactly as the C kernels go over it: only PASS packets; slot checks;
    the rewritten packet ends where the original ended (kernels prepend or strip at the front)."""
    count = batch.count
    if not 0 <= count <= batch.capacity:
        raise ValueError(f"batch count {count} is outside 0..{batch.capacity}")
    buf, slot = batch.buf, batch.slot_size
    forwarded = 0
    for i in range(count):
        if batch.verdict[i] != Verdict.PASS:
            continue
        off, n = int(batch.offset[i]), int(batch.length[i])
        start = i * slot
        if off < start or off > start + slot or n > start + slot - off:
            reason, aux, new = R.BAD_SLOT, 0, None
        else:
            reason, aux, new = one(buf[off:off + n].tobytes(), off - start, *args)
        if new is not None:
            end = off + n
            buf[end - len(new):end] = memoryview(new)
            batch.offset[i] = end - len(new)
            batch.length[i] = len(new)
            forwarded += 1
        batch.verdict[i] = VERDICT_OF[reason]
        batch.reason[i] = reason
        batch.aux[i] = aux
        counters[reason] += 1
    return forwarded


# ---- what the compiled module takes: binding tables, counters, address lists, batch views ---------------

class _TableBinding:
    """A binding read out of a BindingTable for one packet; its counters are added to the table's slot."""
    __slots__ = ("_slot", "_table", "coa", "flags")

    def __init__(self, table, slot: int, coa: bytes, flags: int):
        self._table, self._slot, self.coa, self.flags = table, slot, coa, flags

    def count(self, nbytes: int) -> None:
        self._table.add_counters(self._slot, 1, nbytes)


class TableBindings:
    """A ``BindingTable`` (mip6fast._bcache_py's, or the compiled one) seen as the reference's dict of
    bindings: ``get(key)`` looks the key up and reads the entry, whose counters the kernels add to."""
    __slots__ = ("table",)

    def __init__(self, table):
        self.table = table

    def get(self, key: bytes):
        table = self.table
        slot = table.lookup(key)
        if slot < 0:
            return None
        entry = table.entry(slot)  # (key, care_of, sequence, flags, expires_ns, packets, bytes)
        return _TableBinding(table, slot, entry[1], entry[3])


def _bindings(bindings, key_size: int):
    """The reference's dict as it is; a BindingTable checked as the compiled kernels check theirs."""
    if isinstance(bindings, dict):
        return bindings
    size = getattr(bindings, "key_size", None)
    if size is None:
        raise TypeError(f"expected a BindingTable, got {type(bindings).__name__}")
    if size != key_size:
        raise ValueError(f"this kernel needs a table with {key_size}-byte keys, got {size}")
    return TableBindings(bindings)


class Counters:
    """One uint64 counter per DropReason (``array``), added to by every kernel call it is passed to."""
    __slots__ = ("array",)

    def __init__(self):
        self.array = np.zeros(REASON_COUNT, dtype=np.uint64)

    def __getitem__(self, reason) -> int:
        return int(self.array[reason])

    def __setitem__(self, reason, value) -> None:
        self.array[reason] = value

    def reset(self) -> None:
        self.array[:] = 0

    def tolist(self) -> list[int]:
        return [int(x) for x in self.array]


class Addresses:
    """A list of 16-byte addresses (home addresses), checked once."""
    __slots__ = ("addresses", "n", "set")

    def __init__(self, addresses):
        parts = [bytes(a) for a in addresses]
        for a in parts:
            if len(a) != 16:
                raise ValueError(f"expected 16-byte addresses, got {len(a)} bytes")
        self.addresses = tuple(parts)
        self.set = frozenset(parts)
        self.n = len(parts)

    def __iter__(self):
        return iter(self.addresses)

    def __len__(self) -> int:
        return self.n


def _homes(homes) -> frozenset:
    return homes.set if isinstance(homes, Addresses) else frozenset(homes)


class BatchView:
    """The compiled module's C view of a batch, reduced to its checks of the batch's geometry."""
    __slots__ = ("batch", "capacity")

    def __init__(self, batch):
        capacity, slot_size, headroom = batch.capacity, batch.slot_size, batch.headroom
        if capacity < 1 or slot_size < 1 or not 0 <= headroom < slot_size:
            raise ValueError("bad batch geometry")
        if capacity * slot_size > (1 << 32) or batch.buf.shape[0] != capacity * slot_size:
            raise ValueError("batch slab is not capacity * slot_size bytes")
        if any(getattr(batch, c).shape[0] != capacity for c in ("offset", "length", "verdict", "reason", "aux")):
            raise ValueError("batch columns must have capacity entries")
        self.batch = batch
        self.capacity = capacity


def view_of(batch) -> BatchView:
    """A checked view of the batch. A new one each time: ``batch._view`` holds the compiled kernels' C
    view, and only theirs."""
    return BatchView(batch)


def restore(v: BatchView, count: int, offset, length, head) -> None:
    """Put count packets back (PacketBatch.restore): offset/length columns, the first head.shape[1]
    bytes of each packet, verdict PASS, reason NONE, aux 0; the batch's count is left alone."""
    batch, keep = v.batch, v.batch.count
    head = np.asarray(head)
    if head.ndim != 2:
        raise ValueError("head must be a 2-D array")
    batch.restore(BatchState(count, offset, length, head, head.shape[1]))
    batch.count = keep


class Snapshot:
    """A batch's state (PacketBatch.save), checked once, to put back with ``restore()``."""
    __slots__ = ("_state", "_view")

    def __init__(self, batch, state: BatchState):
        self._view = view_of(batch)
        batch.check_state(state)
        self._state = state

    def restore(self) -> None:
        s = self._state
        restore(self._view, s.count, s.offset, s.length, s.head)


# ---- the batch forms: the reference's dicts, or the compiled module's objects ------------------------

def encapsulate_ha(batch, bindings, cfg: TunnelConfig, counters) -> int:
    return run_batch(encapsulate_ha_one, batch, counters, _bindings(bindings, 16), cfg)


def encapsulate_fixed(batch, cfg: TunnelConfig, homes, counters) -> int:
    return run_batch(encapsulate_fixed_one, batch, counters, cfg, _homes(homes))


def decapsulate_ha(batch, bindings, flags: int, counters) -> int:
    return run_batch(decapsulate_ha_one, batch, counters, _bindings(bindings, 16), flags)


def decapsulate_mn(batch, home_agent: bytes, homes, flags: int, counters) -> int:
    home_agent = bytes(home_agent)
    if len(home_agent) != 16:
        raise ValueError("home_agent must be a 16-byte address")
    return run_batch(decapsulate_mn_one, batch, counters, home_agent, _homes(homes), flags)


def hao_insert(batch, bul, mtu: int, counters) -> int:
    bul = _bindings(bul, 32)
    _check_u(mtu, RO_MIN_MTU, RO_MAX_MTU, "MTU")
    return run_batch(hao_insert_one, batch, counters, bul, mtu)


def hao_process(batch, bindings, counters) -> int:
    return run_batch(hao_process_one, batch, counters, _bindings(bindings, 16))


def rh2_insert(batch, bindings, mtu: int, counters) -> int:
    bindings = _bindings(bindings, 16)
    _check_u(mtu, RO_MIN_MTU, RO_MAX_MTU, "MTU")
    return run_batch(rh2_insert_one, batch, counters, bindings, mtu)


def rh2_process(batch, homes, counters) -> int:
    return run_batch(rh2_process_one, batch, counters, _homes(homes))


def new_counters() -> list[int]:
    return [0] * len(R)


# ---- the reason tables of csrc/mip6_batch.h ------------------------------------------------------------

_REASON_TEXTS = (
    "no kernel has looked at the packet",
    "rewritten",
    "no binding (or binding update list entry) for the packet",
    "decapsulation: not IPv6-in-IPv6 (outer next header is not 41)",
    "no Home Address option",
    "no type 2 routing header",
    ("route optimisation does not apply: Mobility Header, neighbour discovery, "
     "a routing header already there, or a home-registration entry"),
    "reverse tunnel: source is not one of the home addresses",
    "Home Address option on a Mobility Header (a Binding Update, §9.3.1)",
    "MLD inside a tunnel: group membership for the role (§10.4.3)",
    "the rewritten packet would exceed the MTU",
    "Home Address option for a home address with no binding",
    "Home Address option: the binding's care-of address is not the source",
    "offset/length outside the packet's slot",
    "shorter than an IPv6 header",
    "IP version is not 6",
    "payload length disagrees with the packet length",
    "malformed or misplaced extension header",
    "hop limit would reach 0 (send Time Exceeded)",
    "no room before the packet for the header to prepend",
    "link-local source or destination: never tunnelled (§10.4.2)",
    "site-local source or destination, not allowed by the configuration",
    "reverse tunnel: no binding for the inner source",
    "tunnel: outer source is not the care-of address / home agent",
    "destination (inner, or the type 2 routing header's) is not a home address",
    "type 2 routing header without header length 2 and segments left 1 (§6.4)",
    "more than one Home Address option",
    "Home Address option with length other than 16 or not at 8n+6 (§6.3)",
    "outer header Congestion Experienced on a not-ECN-capable inner packet (RFC 6040)",
)


def reason_names() -> list[str]:
    """DropReason names in enum order, as the compiled module reads them from csrc/mip6_batch.h."""
    return [r.name for r in R]


def reason_texts() -> list[str]:
    return list(_REASON_TEXTS)


def reason_verdicts() -> list[int]:
    return [int(VERDICT_OF[r]) for r in R]


def verdict_names() -> list[str]:
    return [v.name for v in Verdict]
