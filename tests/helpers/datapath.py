"""Builders and the harness for the data-path kernels (tests/test_datapath.py, its property tests in
tests/test_datapath_property.py): packets built with struct from the RFC layouts, independent of the
package; an independent receiver's view of a packet (walk the extension headers, check the transport
checksum); World, which runs a compiled kernel on a batch and the pure-Python reference
(mip6fast._datapath_py) on a copy and asserts they agree on everything."""
import struct
from ipaddress import IPv6Address

import numpy as np
from reference import ipv6_upper_checksum

from mip6fast import _datapath_py as ref
from mip6fast.batch import DropReason as R
from mip6fast.batch import PacketBatch, Verdict

# mip6fast.datapath runs the compiled kernels, or with MIP6FAST_PURE_PYTHON=1 their twins
# (tests/test_impl.py fails a run that fell back without asking).
from mip6fast.binding_cache import BindingCache
from mip6fast.datapath import CorrespondentDataPath, HomeAgentDataPath, MobileNodeDataPath


def A(text):
    return IPv6Address(text).packed


HA = A("2001:db8:1::1")
HOA = A("2001:db8:1::9")       # the mobile node's home addresses
HOA2 = A("2001:db8:1::a")
OTHER_HOA = A("2001:db8:1::b")  # another mobile node's
COA = A("2001:db8:2::9")
COA2 = A("2001:db8:3::a")
CN = A("2001:db8:5::5")
CN2 = A("2001:db8:6::6")
LL = A("fe80::9")
LL_HA = A("fe80::1")
SITE = A("fec0::9")
ALL_NODES = A("ff02::1")
MLDV2_ROUTERS = A("ff02::16")
GLOBAL_GROUP = A("ff0e::101")
FOREVER = 1 << 62
H = 0x4000   # Binding Update flag H (home registration)


# ---- packet builders (independent of the package: struct and the RFC layouts) ---------------------------

def ip6(src, dst, nh, payload, hop_limit=64, tc=0, flow=0):
    return struct.pack("!IHBB16s16s", (6 << 28) | (tc << 20) | flow, len(payload), nh, hop_limit, src, dst) + payload


def hbh(nh, size=8):
    """Hop-by-Hop with a Router Alert option (RFC 2711, as MLD uses) padded to size bytes."""
    body = b"\x05\x02\x00\x00"
    pad = size - 2 - len(body)
    padding = b"\x01" + bytes((pad - 2,)) + bytes(pad - 2) if pad >= 2 else bytes(pad)
    return bytes((nh, size // 8 - 1)) + body + padding


def rh2(nh, addr, hdr_len=2, segments_left=1, rtype=2):
    return bytes((nh, hdr_len, rtype, segments_left)) + bytes(4) + addr + bytes(max(0, (hdr_len - 2) * 8))


def dst_hao(nh, addr):
    """Destination options header with PadN(2) + Home Address option (RFC 6275 §6.3: 8n+6)."""
    return bytes((nh, 2, 1, 2, 0, 0, 201, 16)) + addr


def dst_opts(nh, body):
    body = bytes(body)
    total = -(-(2 + len(body)) // 8) * 8
    pad = total - 2 - len(body)
    tail = b"\x00" if pad == 1 else (b"\x01" + bytes((pad - 2,)) + bytes(pad - 2) if pad else b"")
    return bytes((nh, total // 8 - 1)) + body + tail


def payload_bytes(n, seed=0):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def udp(src, dst, data, sport=5000, dport=53):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = ipv6_upper_checksum(src, dst, 17, seg) or 0xFFFF    # RFC 8200 §8.1: 0 is sent as 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp(src, dst, data, sport=40000, dport=80):
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 2, 5 << 4, 0x18, 65535, 0, 0) + data
    c = ipv6_upper_checksum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def icmp6(src, dst, type_, code=0, body=b"\0\0\0\0"):
    msg = bytes((type_, code, 0, 0)) + body
    c = ipv6_upper_checksum(src, dst, 58, msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def mh(src, dst, mh_type=5):
    msg = bytes((59, 1, mh_type, 0, 0, 0)) + bytes(10)
    c = ipv6_upper_checksum(src, dst, 135, msg)
    return msg[:4] + struct.pack("!H", c) + msg[6:]


TRANSPORTS = {
    "tcp": (6, lambda s, d, n: tcp(s, d, payload_bytes(n))),
    "udp": (17, lambda s, d, n: udp(s, d, payload_bytes(n, 3))),
    "icmpv6": (58, lambda s, d, n: icmp6(s, d, 128, 0, b"\x12\x34\x00\x01" + payload_bytes(n, 5))),
}


def data_packet(src, dst, proto="udp", size=100, **kw):
    nh, make = TRANSPORTS[proto]
    return ip6(src, dst, nh, make(src, dst, size), **kw)


def mld_report(src=LL, group=MLDV2_ROUTERS):
    """MLDv2 report (RFC 3810): link-local source, Hop-by-Hop Router Alert, ICMPv6 type 143."""
    msg = icmp6(src, group, 143, 0, b"\0\0\0\0")
    return ip6(src, group, 0, hbh(58) + msg, hop_limit=1)


# ---- an independent receiver's view: walk, and check the transport checksum (RFC 8200 §8.1) -------------

def upper_layer(p):
    """(next header, offset, home address from a HAO or None, final destination from an RH2 or None)."""
    nh, off, hao, final = p[6], 40, None, None
    while nh in (0, 43, 60):
        ln = (p[off + 1] + 1) * 8
        if nh == 43 and p[off + 2] == 2 and p[off + 3] == 1:
            final = p[off + 8:off + 24]
        if nh == 60:
            i = off + 2
            while i < off + ln:
                if p[i] == 0:
                    i += 1
                    continue
                if p[i] == 201:
                    hao = p[i + 2:i + 18]
                i += 2 + p[i + 1]
        nh, off = p[off], off + ln
    return nh, off, hao, final


def checksum_ok(p, as_received=False):
    """Does the upper-layer checksum verify? On the wire (RFC 6275 §6.3/§6.4): source = the HAO's address
    if present, destination = the RH2's address while segments left is 1. As_received: after the
    receiver's swap, the home address is back in the IPv6 header, so the header's addresses."""
    nh, off, hao, final = upper_layer(p)
    src, dst = p[8:24], p[24:40]
    if not as_received:
        src = hao or src
        dst = final or dst
    return ipv6_upper_checksum(src, dst, nh, p[off:]) == 0


# ---- the harness: compiled kernels next to the reference, on copies of one batch -----------------------

def clone(b):
    c = PacketBatch(b.capacity, b.slot_size, b.headroom)
    c.buf[:] = b.buf
    for name in ("offset", "length", "verdict", "reason", "aux"):
        getattr(c, name)[:] = getattr(b, name)
    c.count = b.count
    return c


class World:
    """One home agent / correspondent binding cache, one mobile node binding update list, their data
    paths, and the same bindings as plain dicts for the reference."""

    def __init__(self, bindings=None, bul=None, homes=(HOA, HOA2), tunnel_mtu=1500, mtu=1500, hop_limit=64,
                 flow_label=0, allow_site_local=False, coa=COA):
        bindings = {HOA: (COA, H)} if bindings is None else bindings
        bul = {(CN, HOA): (COA, 0)} if bul is None else bul
        self.cache = BindingCache(16, seed=1)
        self.ref_cache = {}
        for home, (c, flags) in bindings.items():
            self.cache.update(home, c, 1, flags, FOREVER)
            self.ref_cache[home] = ref.Binding(c, flags)
        self.bul = BindingCache(32, seed=2)
        self.ref_bul = {}
        for (peer, home), (c, flags) in bul.items():
            self.bul.update((peer, home), c, 1, flags, FOREVER)
            self.ref_bul[peer + home] = ref.Binding(c, flags)
        self.homes = list(homes)
        self.coa = coa
        self.tunnel_mtu, self.mtu = tunnel_mtu, mtu
        self.sl = ref.TUN_ALLOW_SITE_LOCAL if allow_site_local else 0
        self.ha = HomeAgentDataPath(self.cache, HA, tunnel_mtu=tunnel_mtu, hop_limit=hop_limit, flow_label=flow_label,
                                    allow_site_local=allow_site_local)
        self.mn = MobileNodeDataPath(homes, coa, HA, self.bul, tunnel_mtu=tunnel_mtu, hop_limit=hop_limit,
                                     flow_label=flow_label, mtu=mtu, allow_site_local=allow_site_local)
        self.cn = CorrespondentDataPath(self.cache, mtu=mtu)
        ha_cfg = ref.TunnelConfig(HA, bytes(16), tunnel_mtu, flow_label, hop_limit, ref.TUN_DEC_HOP_LIMIT | self.sl)
        def mn_cfg():  # the mobile node's care-of address may change (movement)
            return ref.TunnelConfig(self.mn.care_of.packed, HA, tunnel_mtu, flow_label, hop_limit, self.sl)

        rc, rb = self.ref_cache, self.ref_bul
        dec = ref.TUN_DEC_HOP_LIMIT
        # kernel name -> (data path, method, reference batch function)
        self.kernels = {
            "encapsulate": (self.ha, "encapsulate", lambda b, c: ref.encapsulate_ha(b, rc, ha_cfg, c)),
            "decapsulate_ha": (self.ha, "decapsulate", lambda b, c: ref.decapsulate_ha(b, rc, dec | self.sl, c)),
            "process_hao_ha": (self.ha, "process_hao", lambda b, c: ref.hao_process(b, rc, c)),
            "reverse_tunnel": (self.mn, "reverse_tunnel", lambda b, c: ref.encapsulate_fixed(b, mn_cfg(), homes, c)),
            "decapsulate_mn": (self.mn, "decapsulate", lambda b, c: ref.decapsulate_mn(b, HA, homes, self.sl, c)),
            "insert_hao": (self.mn, "insert_hao", lambda b, c: ref.hao_insert(b, rb, mtu, c)),
            "process_rh2": (self.mn, "process_rh2", lambda b, c: ref.rh2_process(b, homes, c)),
            "insert_rh2": (self.cn, "insert_rh2", lambda b, c: ref.rh2_insert(b, rc, mtu, c)),
            "process_hao": (self.cn, "process_hao", lambda b, c: ref.hao_process(b, rc, c)),
        }

    def run(self, kernel, batch):
        """Run the compiled kernel on batch (in place) and the reference on a copy; assert they agree on
        everything; return the compiled result."""
        dp, method, reference = self.kernels[kernel]
        pending = int(np.count_nonzero(batch.verdict[:batch.count] == Verdict.PASS))
        twin = clone(batch)
        before = dp.kernel_counters(method)
        n_c = getattr(dp, method)(batch)
        counters = ref.new_counters()
        n_py = reference(twin, counters)
        after = dp.kernel_counters(method)
        n = batch.count
        assert n_c == n_py
        assert list(batch.verdict[:n]) == list(twin.verdict[:n]), kernel
        assert list(batch.reason[:n]) == list(twin.reason[:n]), kernel
        assert list(batch.aux[:n]) == list(twin.aux[:n]), kernel
        assert list(batch.offset[:n]) == list(twin.offset[:n]), kernel
        assert list(batch.length[:n]) == list(twin.length[:n]), kernel
        assert np.array_equal(batch.buf, twin.buf), f"{kernel}: slabs differ"
        assert [after[r] - before[r] for r in R] == counters, kernel
        assert sum(counters) == pending, "every packet looked at is counted once"
        self.check_binding_counters()
        return n_c

    def check_binding_counters(self):
        for home, b in self.ref_cache.items():
            got = self.cache[home]
            assert (got.packets, got.bytes_) == (b.packets, b.bytes), IPv6Address(home)
        for key, b in self.ref_bul.items():
            got = self.bul[key]
            assert (got.packets, got.bytes_) == (b.packets, b.bytes), key.hex()


def one(world, kernel, packet, headroom=128, slot_size=None):
    """One packet through one kernel (checked against the reference): (verdict, reason, aux, bytes)."""
    slot = slot_size or max(2048, len(packet) + headroom + 64)
    b = PacketBatch(1, slot, headroom)
    b.append(packet)
    world.run(kernel, b)
    return Verdict(b.verdict[0]), R(b.reason[0]), int(b.aux[0]), b.packet(0)
