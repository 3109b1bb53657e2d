"""Every data-path kernel against the pure-Python reference on hypothesis-generated batches: mixed
binding hits and misses, 40..9000-byte packets, every extension-header shape the kernels care about,
malformed packets (truncated, wrong payload length, wrong version, bad RH2, duplicate or misaligned HAO,
headers running past the packet, random byte damage), packets with little or no headroom, packets
already decided, and offsets outside their slots. World.run (tests/helpers/datapath.py) asserts identical
verdicts, reasons, aux values, offsets, lengths, whole slabs, reason counters and binding counters."""
import struct

import pytest
from helpers.datapath import (
    ALL_NODES,
    CN,
    CN2,
    COA,
    COA2,
    GLOBAL_GROUP,
    HA,
    HOA,
    HOA2,
    LL,
    LL_HA,
    MLDV2_ROUTERS,
    OTHER_HOA,
    SITE,
    H,
    World,
    dst_hao,
    dst_opts,
    hbh,
    icmp6,
    ip6,
    mh,
    payload_bytes,
    rh2,
    tcp,
    udp,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast.batch import PacketBatch, Verdict

# C against the reference: with MIP6FAST_PURE_PYTHON=1 it would hold the twin to itself.
pytestmark = pytest.mark.compiled("datapath", "bcache")

ADDRESSES = [HA, HOA, HOA2, OTHER_HOA, COA, COA2, CN, CN2, LL, LL_HA, SITE, ALL_NODES, MLDV2_ROUTERS,
             GLOBAL_GROUP]
# Weighted towards the addresses that make kernels fire.
address = st.one_of(st.sampled_from([HOA, HOA2, CN, COA, HA]), st.sampled_from(ADDRESSES),
                    st.binary(min_size=16, max_size=16))
# Source/destination pairs each kernel acts on (home agent, mobile node, correspondent traffic).
ROLE_PAIRS = [(HOA, CN), (HOA2, CN2), (HOA, HA), (CN, HOA), (CN2, HOA2), (COA, CN), (COA2, CN), (CN, COA),
              (HA, COA), (COA, HA), (LL, ALL_NODES), (HOA, GLOBAL_GROUP), (SITE, HOA)]
pairs = st.one_of(st.sampled_from(ROLE_PAIRS), st.sampled_from(ROLE_PAIRS), st.tuples(address, address))
home_address = st.one_of(st.sampled_from([HOA, HOA2, OTHER_HOA]), address)
sizes = st.one_of(st.integers(0, 64), st.integers(0, 1600), st.integers(0, 8900))
KERNELS = ["encapsulate", "decapsulate_ha", "process_hao_ha", "reverse_tunnel", "decapsulate_mn",
           "insert_hao", "process_rh2", "insert_rh2", "process_hao"]


@st.composite
def upper_layers(draw, src, dst):
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "mld", "nd", "mh", "frag", "none"]))
    n = draw(sizes)
    if kind == "tcp":
        return 6, tcp(src, dst, payload_bytes(n))
    if kind == "udp":
        return 17, udp(src, dst, payload_bytes(n, 1))
    if kind == "icmp":
        return 58, icmp6(src, dst, 128, 0, payload_bytes(4 + n, 2))
    if kind == "mld":
        return 58, icmp6(src, dst, draw(st.sampled_from([130, 131, 132, 143])), 0, bytes(20))
    if kind == "nd":
        return 58, icmp6(src, dst, draw(st.integers(133, 137)), 0, bytes(20))
    if kind == "mh":
        return 135, mh(src, dst, draw(st.integers(0, 7)))
    if kind == "frag":
        return 44, bytes((17, 0, 0, 1, 0, 0, 0, 9)) + payload_bytes(n, 3)
    return 59, b""


@st.composite
def plain_packets(draw):
    src, dst = draw(pairs)
    nh, upper = draw(upper_layers(src, dst))
    chain = []   # (next-header value of this header, builder taking the header that follows)
    if draw(st.booleans()):
        size = draw(st.sampled_from([8, 16]))
        chain.append((0, lambda nxt, size=size: hbh(nxt, size)))
    rh = draw(st.sampled_from([None, "rh2", "rh2", "bad_rh2", "srh"]))
    if rh == "rh2":
        a = draw(home_address)
        chain.append((43, lambda nxt, a=a: rh2(nxt, a)))
    elif rh == "bad_rh2":
        a, ln, sl = draw(address), draw(st.sampled_from([0, 2, 4])), draw(st.integers(0, 3))
        chain.append((43, lambda nxt, a=a, ln=ln, sl=sl: rh2(nxt, a, hdr_len=ln, segments_left=sl)[:(ln + 1) * 8]))
    elif rh == "srh":
        a, sl = draw(address), draw(st.integers(0, 1))
        chain.append((43, lambda nxt, a=a, sl=sl: rh2(nxt, a, rtype=4, segments_left=sl)))
    opts = draw(st.sampled_from([None, "hao", "hao", "opts", "two_hao", "bad_hao", "opts_hao"]))
    if opts == "hao":
        a = draw(home_address)
        chain.append((60, lambda nxt, a=a: dst_hao(nxt, a)))
    elif opts == "opts":
        body = draw(st.binary(max_size=10).filter(lambda b: b"\xc9" not in b))
        chain.append((60, lambda nxt, body=body: dst_opts(nxt, b"\x1e" + bytes((len(body),)) + body)))
    elif opts == "opts_hao":
        a = draw(home_address)
        chain.append((60, lambda nxt, a=a: dst_opts(nxt, b"\x1e\x02ab" + bytes((201, 16)) + a)))
    elif opts == "two_hao":
        a, b = draw(address), draw(address)
        chain.append((60, lambda nxt, a=a, b=b: bytes((nxt, 5, 1, 2, 0, 0, 201, 16)) + a
                      + bytes((1, 4, 0, 0, 0, 0, 201, 16)) + b))
    elif opts == "bad_hao":
        a = draw(address)
        chain.append((60, lambda nxt, a=a: bytes((nxt, 3, 1, 3, 0, 0, 0, 201, 16)) + a + bytes((1, 5)) + bytes(5)))
    if draw(st.booleans()) and len(chain) > 1:   # shuffle: headers out of RFC 8200 order
        chain = draw(st.permutations(chain))
    body = upper
    nxt = nh
    for value, build in reversed(chain):
        body = build(nxt) + body
        nxt = value
    tc, flow = draw(st.integers(0, 255)), draw(st.integers(0, 0xFFFFF))
    hop = draw(st.sampled_from([0, 1, 2, 64, 64, 64, 255]))
    return ip6(src, dst, nxt, body, hop_limit=hop, tc=tc, flow=flow)


@st.composite
def tunnelled_packets(draw):
    inner = draw(plain_packets())
    src, dst = draw(st.one_of(st.sampled_from([(COA, HA), (COA2, HA), (HA, COA), (HA, COA2)]),
                              st.tuples(address, address)))
    return ip6(src, dst, 41, inner, hop_limit=draw(st.integers(0, 255)), tc=draw(st.integers(0, 255)))


@st.composite
def damaged(draw, packets):
    p = draw(packets)
    how = draw(st.sampled_from(["none"] * 18 + ["truncate", "short", "length", "version", "byte", "inner"]))
    if how == "truncate":
        return p[:draw(st.integers(0, len(p)))]
    if how == "short":
        return p[:draw(st.integers(0, 39))]
    if how == "length":
        return p[:4] + struct.pack("!H", draw(st.integers(0, 65535))) + p[6:]
    if how == "version":
        return bytes((draw(st.integers(0, 15)) << 4 | p[0] & 15,)) + p[1:]
    if how == "byte" or (how == "inner" and len(p) <= 80):
        i = draw(st.integers(0, min(len(p), 120) - 1))
        return p[:i] + bytes((draw(st.integers(0, 255)),)) + p[i + 1:]
    if how == "inner":   # the inner packet's payload length
        return p[:44] + struct.pack("!H", draw(st.integers(0, 65535))) + p[46:]
    return p


@st.composite
def scenario_packets(draw):
    """Packets a kernel should rewrite in most worlds: what a mobile node and a correspondent send, a
    mobile node's route-optimised packet with its HAO, a correspondent's with an RH2, both directions
    of the tunnel."""
    kind = draw(st.sampled_from(["hao", "rh2", "to_mn", "from_mn", "mn_out", "cn_out"]))
    home, coa = draw(st.sampled_from([(HOA, COA), (HOA2, COA2), (HOA, COA2)]))
    peer = draw(st.sampled_from([CN, CN2]))
    proto = draw(st.sampled_from([(6, tcp), (17, udp)]))
    data = payload_bytes(draw(sizes))
    prefix = draw(st.sampled_from([b"", b"hbh"]))
    if kind == "hao":
        body = dst_hao(proto[0], home) + proto[1](home, peer, data)
        return ip6(coa, peer, 0, hbh(60) + body) if prefix else ip6(coa, peer, 60, body)
    if kind == "rh2":
        body = rh2(proto[0], home) + proto[1](peer, home, data)
        return ip6(peer, coa, 0, hbh(43) + body) if prefix else ip6(peer, coa, 43, body)
    if kind == "mn_out":
        body = proto[1](home, peer, data)
        return ip6(home, peer, 0, hbh(proto[0]) + body) if prefix else ip6(home, peer, proto[0], body)
    if kind == "cn_out":
        body = proto[1](peer, home, data)
        return ip6(peer, home, 0, hbh(proto[0]) + body) if prefix else ip6(peer, home, proto[0], body)
    if kind == "to_mn":
        return ip6(HA, coa, 41, ip6(peer, home, proto[0], proto[1](peer, home, data)))
    return ip6(coa, HA, 41, ip6(home, peer, proto[0], proto[1](home, peer, data)))


packets = st.one_of(damaged(plain_packets()), damaged(tunnelled_packets()), damaged(scenario_packets()))


@st.composite
def worlds(draw):
    choice = st.sampled_from([None, (COA, H), (COA, 0), (COA2, H), (COA2, 0), (HA, 0)])
    bindings = {h: c for h in (HOA, HOA2, OTHER_HOA, LL, SITE) for c in [draw(choice)] if c is not None}
    bul_keys = [(p, h) for p in (CN, CN2, HA, LL, ALL_NODES) for h in (HOA, HOA2, OTHER_HOA)]
    bul = {k: (draw(st.sampled_from([COA, COA2])), draw(st.sampled_from([0, 0, H])))
           for k in bul_keys if draw(st.booleans())}
    return World(bindings=bindings, bul=bul,
                 homes=draw(st.sampled_from([(HOA,), (HOA, HOA2), (HOA, LL)])),
                 tunnel_mtu=draw(st.sampled_from([1320, 1500, 9000, 65535])),
                 mtu=draw(st.sampled_from([1280, 1500, 9000, 65535])),
                 hop_limit=draw(st.sampled_from([1, 64, 255])),
                 flow_label=draw(st.sampled_from([0, 0xFFFFF, 0x12345])),
                 allow_site_local=draw(st.booleans()),
                 coa=draw(st.sampled_from([COA, COA2])))


@st.composite
def batches(draw):
    pkts = draw(st.lists(packets, min_size=1, max_size=24))
    headroom = draw(st.sampled_from([0, 24, 40, 64, 128, 128, 128]))
    slot = max(len(p) for p in pkts) + 160 + draw(st.integers(0, 8))
    b = PacketBatch(capacity=len(pkts) + draw(st.integers(0, 2)), slot_size=slot, headroom=headroom)
    for i, p in enumerate(pkts):
        b.append(p)
        room = draw(st.sampled_from([None] * 8 + [0, 16, 23, 24, 39, 40, 41, 128]))
        if room is not None:
            b.set_packet(i, p, headroom=room)
        fate = draw(st.sampled_from(["pass"] * 24 + ["decided", "before", "past", "long"]))
        start = i * slot
        if fate == "decided":
            b.verdict[i] = draw(st.sampled_from([Verdict.FORWARD, Verdict.DROP, Verdict.SLOW_PATH]))
        elif fate == "before" and i > 0:
            b.offset[i] = start - draw(st.integers(1, 40))
        elif fate == "past":
            b.offset[i] = start + slot - draw(st.integers(0, 39))
            b.length[i] = max(int(b.length[i]), 40)
        elif fate == "long":
            b.length[i] = slot + 1 - (int(b.offset[i]) - start)
    return b


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                              HealthCheck.data_too_large])


@pytest.mark.parametrize("kernel", KERNELS)
@SETTINGS
@given(world=worlds(), batch=batches())
def test_kernel_matches_the_reference(kernel, world, batch):
    world.run(kernel, batch)


@SETTINGS
@given(world=worlds(), batch=batches(), order=st.permutations(KERNELS))
def test_kernels_chained_over_one_batch_match_the_reference(world, batch, order):
    """Any sequence of kernels over one batch (each acting on what the others passed)."""
    for kernel in order:
        world.run(kernel, batch)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), pkts=st.lists(plain_packets(), min_size=1, max_size=16))
def test_round_trips_restore_the_original_packet(world, pkts):
    """insert then process, encapsulate then decapsulate: what comes out is what went in (less the hop
    the home agent takes), whenever both kernels forward it."""
    for fwd, back, _who in (("insert_hao", "process_hao", "src"), ("insert_rh2", "process_rh2", "dst"),
                           ("encapsulate", "decapsulate_mn", None), ("reverse_tunnel", "decapsulate_ha", None)):
        b = PacketBatch.from_packets(pkts, slot_size=max(len(p) for p in pkts) + 256)
        world.run(fwd, b)
        went = [i for i in range(b.count) if b.verdict[i] == Verdict.FORWARD]
        b.reset_verdicts()
        world.run(back, b)
        for i in went:
            if b.verdict[i] != Verdict.FORWARD:
                continue
            out, orig = b.packet(i), pkts[i]
            if fwd in ("encapsulate", "reverse_tunnel"):
                assert out[8:] == orig[8:] and out[:7] == orig[:7]
            elif fwd == "insert_hao":
                # the HAO stays, now holding the care-of address; the header addresses are the original
                assert out[8:40] == orig[8:40] and len(out) == len(orig) + 24
            else:
                assert out[8:40] == orig[8:40] and len(out) == len(orig) + 24
