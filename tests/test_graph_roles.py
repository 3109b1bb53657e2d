"""The mobile node's and the correspondent's C data-plane graphs (csrc/mip6_graph_roles.c) against
their pure-Python twins (mip6fast._graph_py), packet by packet, on hypothesis-generated batches: the
send graphs (application packets in, frames out: HAO insertion, the reverse tunnel, RH2 insertion,
route lookup, adjacency, Ethernet header; ESP tunnels, own and link-scope destinations, too big, no
route, next hop not usable) and the receive graphs (frames in: tunnels from one or two home agents,
Type 2 routing headers, signalling after a routing header, unprotected tunnels, Home Address options,
multicast MACs, damaged frames). Every run compares the batch's columns and whole slab, the output
column, the slow list and kinds, per-interface sends, the run's totals and drops, the graph's counters
and the kernels' counter arrays. ``test_*_mix`` make sure the generated batches reach every outcome."""
import collections
import struct

import pytest
from helpers.datapath import (CN, CN2, COA, COA2, H, HA, HOA, HOA2, LL, OTHER_HOA, SITE, dst_hao, icmp6, ip6, mh,
                              rh2, tcp, udp)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast import _bcache_py, _graph_py
from mip6fast import _datapath_py as dpy
from mip6fast.batch import PacketBatch

pytestmark = pytest.mark.compiled("graph", "bcache", "datapath")

MAC = bytes.fromhex("020000000009")        # the node's interface
MAC2 = bytes.fromhex("02000000000a")       # its second interface
ROUTER_MAC = bytes.fromhex("02000000000f")
NEIGHBOR_MAC = bytes.fromhex("020000000022")
ROUTER = bytes.fromhex("fe80000000000000000000000000000f")
HA2 = bytes.fromhex("20010db8000700000000000000000001")
LINK_NET = COA[:8] + bytes(8)
ON_LINK = COA[:8] + bytes(7) + b"\x99"
NOW = 10_000_000_000
FOREVER = 1 << 62
ROUTES = [(LINK_NET, 64, 0, None), (bytes(16), 0, 0, ROUTER)]
KINDS = _graph_py.SLOW_KINDS


def eth(dst_mac, payload, ethertype=0x86DD):
    return dst_mac + ROUTER_MAC + struct.pack("!H", ethertype) + payload


def _compiled():
    from mip6fast import _bcache, _datapath, _graph
    return _graph, _bcache, _datapath


def _tables(g, t):
    g.set_interfaces([(MAC, t["mtu"], True), (MAC2, 1500, t["up2"])])
    g.set_routes(t["routes"])
    g.set_own(t["own"])
    g.set_required(t["required"])
    g.set_protected(t["protected"])
    for iface, addr, mac, deadline in t["adjacency"]:
        g.adj_set(iface, addr, mac, deadline)


def _result(g, batch, slow, kernel_counters):
    n = batch.count
    return {
        "slow": slow, "verdict": batch.verdict[:n].tolist(), "reason": batch.reason[:n].tolist(),
        "aux": batch.aux[:n].tolist(), "offset": batch.offset[:n].tolist(), "length": batch.length[:n].tolist(),
        "buf": batch.buf.tobytes(), "out": g.out[:n].tolist(), "slow_list": g.slow[:slow].tolist(),
        "kinds": g.slow_kind[:slow].tolist(), "tx": g.tx(), "tunnelled": g.tunnelled, "inserted": g.inserted,
        "unprotected": g.unprotected, "dropped": g.dropped, "drops": g.last_drops(), "counters": g.counters(),
        "kernels": [c.tolist() for c in kernel_counters],
    }


def _batch(items, headroom, frames):
    batch = PacketBatch(capacity=max(1, len(items)), slot_size=2048, headroom=headroom)
    for p in items:
        batch.append(p[:2048 - headroom])
    return batch


class MobileSide:
    def __init__(self, mods, t):
        graph_mod, bcache_mod, dp_mod = mods
        self.bul = bcache_mod.BindingTable(32, 64, seed=bytes(16))
        for (peer, home), (coa, flags) in t["bul"].items():
            self.bul.update(peer + home, coa, 1, flags, FOREVER)
        self.kc = [dp_mod.Counters() for _ in range(8)]
        self.graph = g = graph_mod.MobileNodeGraph(self.bul, 64, seed=bytes(16))
        _tables(g, t)
        g.set_tunnels([(home, COA, agent, t["tunnel_mtu"], 0, 64, 0, t["mtu"], self.kc[2 * k].array,
                        self.kc[2 * k + 1].array) for k, (home, agent) in enumerate(t["tunnels"])])
        g.set_agents([(agent, homes, 0, self.kc[4 + k].array) for k, (agent, homes) in enumerate(t["agents"])])
        g.set_rh2(t["agents"][0][1] if t["agents"] else [], self.kc[6].array)

    def send(self, packets, headroom):
        batch = _batch(packets, headroom, False)
        return _result(self.graph, batch, self.graph.send(batch, NOW), [c.array for c in self.kc])

    def receive(self, frames, headroom, rx):
        batch = _batch(frames, headroom, True)
        return _result(self.graph, batch, self.graph.receive(batch, rx, NOW), [c.array for c in self.kc])


class CorrespondentSide:
    def __init__(self, mods, t):
        graph_mod, bcache_mod, dp_mod = mods
        self.table = bcache_mod.BindingTable(16, 64, seed=bytes(16))
        for home, coa in t["cache"]:
            self.table.update(home, coa, 1, 0, FOREVER)
        self.kc = [dp_mod.Counters(), dp_mod.Counters()]
        self.graph = g = graph_mod.CorrespondentGraph(self.table, t["mtu"], self.kc[0].array, self.kc[1].array, 64,
                                                      seed=bytes(16))
        _tables(g, t)

    def send(self, packets, headroom):
        batch = _batch(packets, headroom, False)
        return _result(self.graph, batch, self.graph.send(batch, NOW), [c.array for c in self.kc])

    def receive(self, frames, headroom, rx):
        batch = _batch(frames, headroom, True)
        return _result(self.graph, batch, self.graph.receive(batch, rx, NOW), [c.array for c in self.kc])


# ---- generated inputs ---------------------------------------------------------------------------------

EDGES = sorted({mtu - 48 - extra + d for mtu in (1280, 1320, 1500) for extra in (0, 24, 40, 64) for d in (-1, 0, 1)})
PAYLOADS = st.one_of(st.binary(max_size=48), st.sampled_from(EDGES).map(bytes))
PEERS = st.sampled_from([CN, CN2, HA, ON_LINK, COA, LL, SITE, OTHER_HOA, bytes.fromhex("ff0e" + "00" * 13 + "01")])
HOMES = st.sampled_from([HOA, HOA, HOA2, COA, OTHER_HOA, LL])


@st.composite
def upper(draw, src, dst):
    k = draw(st.sampled_from(["udp", "tcp", "echo", "mh", "nd"]))
    data = draw(PAYLOADS)
    hop = draw(st.sampled_from([64, 64, 1]))
    if k == "udp":
        return ip6(src, dst, 17, udp(src, dst, data), hop_limit=hop)
    if k == "tcp":
        return ip6(src, dst, 6, tcp(src, dst, data), hop_limit=hop)
    if k == "echo":
        return ip6(src, dst, 58, icmp6(src, dst, 128, body=b"\0\1\0\1" + data), hop_limit=hop)
    if k == "mh":
        return mh(src, dst)
    return ip6(src, dst, 58, icmp6(src, dst, 135, body=bytes(20)), hop_limit=255)


@st.composite
def app_packets(draw):
    """What an application sends: mostly from a home address to a correspondent."""
    src = draw(st.one_of(st.sampled_from([HOA, HOA2]), HOMES))
    dst = draw(st.one_of(st.sampled_from([CN, CN2]), PEERS))
    return draw(upper(src, dst))


@st.composite
def cn_packets(draw):
    """What a correspondent sends: mostly to a home address (bound or not)."""
    dst = draw(st.sampled_from([HOA, HOA, HOA2, HOA2, OTHER_HOA, ON_LINK, CN, LL, COA,
                                bytes.fromhex("ff0e" + "00" * 13 + "01")]))
    return draw(upper(draw(st.sampled_from([CN, CN, CN2, LL])), dst))


def damage(draw, frame):
    b = bytearray(frame)
    for _ in range(draw(st.integers(1, 3))):
        b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
    return bytes(b)


@st.composite
def mn_frames(draw):
    shape = draw(st.sampled_from(["tunnel"] * 4 + ["rh2"] * 3 + ["tunnel2", "rh2_mh", "plain", "mac", "truncated",
                                                                 "damaged", "padded", "not_ours", "own_src",
                                                                 "rh2_ext", "rh2_discovery"]))
    home = draw(st.sampled_from([HOA, HOA2, OTHER_HOA]))
    if shape in ("tunnel", "tunnel2", "own_src"):
        inner = draw(upper(draw(PEERS), home))
        agent = draw(st.sampled_from([HA2, CN])) if shape == "tunnel2" else HA
        packet = ip6(agent, COA, 41, inner, hop_limit=draw(st.sampled_from([64, 1])))
    elif shape in ("rh2", "rh2_mh"):
        peer = draw(PEERS)
        nh = 135 if shape == "rh2_mh" else draw(st.sampled_from([17, 58, 50]))
        body = draw(PAYLOADS)
        packet = ip6(peer, COA, 43, rh2(nh, home, segments_left=draw(st.sampled_from([1, 1, 0]))) + body)
    elif shape == "rh2_ext":        # a routing header before another extension header: per frame
        body = bytes([17, 0]) + bytes(6) + draw(PAYLOADS)
        packet = ip6(draw(PEERS), COA, 43, rh2(draw(st.sampled_from([0, 43, 44, 51, 60])), home) + body)
    elif shape == "rh2_discovery":  # before a DHAAD Reply / MPA (or another ICMPv6 message)
        body = bytes([draw(st.sampled_from([145, 147, 128, 129])), 0, 0, 0]) + draw(st.binary(max_size=12))
        packet = ip6(draw(PEERS), COA, 43, rh2(58, home) + body)
    elif shape == "not_ours":       # a tunnel to an address the node does not hold: per frame
        packet = ip6(HA, draw(st.sampled_from([OTHER_HOA, HOA2])), 41, draw(upper(draw(PEERS), home)))
    else:
        packet = draw(upper(draw(PEERS), COA))
    frame = eth(MAC, packet)
    if shape == "mac":
        frame = eth(draw(st.sampled_from([MAC2, b"\xff" * 6, b"\x33\x33\0\0\0\1"])), packet)
    elif shape == "own_src":        # a frame from the interface's own MAC: per frame
        frame = MAC + MAC + frame[12:]
    elif shape == "truncated":
        frame = frame[:draw(st.integers(0, len(frame) - 1))]
    elif shape == "padded":
        frame += bytes(draw(st.integers(1, 30)))
    elif shape == "damaged":
        frame = damage(draw, frame)
    return frame


@st.composite
def cn_frames(draw):
    shape = draw(st.sampled_from(["hao"] * 4 + ["plain", "mac", "truncated", "damaged"]))
    home = draw(st.sampled_from([HOA, HOA2, OTHER_HOA]))
    if shape == "hao":
        coa = draw(st.sampled_from([COA, COA2]))
        nh = draw(st.sampled_from([17, 58, 135]))
        body = draw(PAYLOADS)
        packet = ip6(coa, CN, 60, dst_hao(nh, home) + body)
    else:
        packet = draw(upper(draw(PEERS), CN))
    frame = eth(MAC, packet)
    if shape == "mac":
        frame = eth(draw(st.sampled_from([MAC2, b"\xff" * 6, b"\x33\x33\0\0\0\1"])), packet)
    elif shape == "truncated":
        frame = frame[:draw(st.integers(0, len(frame) - 1))]
    elif shape == "damaged":
        frame = damage(draw, frame)
    return frame


@st.composite
def tables(draw):
    adjacency = []
    if draw(st.integers(0, 4)):
        adjacency.append((0, ROUTER, ROUTER_MAC, draw(st.sampled_from([FOREVER, FOREVER, NOW, NOW + 1]))))
    if draw(st.booleans()):
        adjacency.append((0, ON_LINK, NEIGHBOR_MAC, FOREVER))
    bul = {}
    for peer in draw(st.lists(st.sampled_from([CN, CN2, ON_LINK]), max_size=3)):
        bul[(peer, draw(st.sampled_from([HOA, HOA2])))] = (COA, draw(st.sampled_from([0, 0, H])))
    agents = draw(st.sampled_from([[(HA, [HOA, HOA2])], [(HA, [HOA]), (HA2, [HOA2])], [(HA, [HOA])]]))
    tunnels = draw(st.sampled_from([[(HOA, HA)], [(HOA, HA), (HOA2, HA)], [(HOA2, HA2), (HOA, HA)], []]))
    return {
        "routes": draw(st.sampled_from([ROUTES, ROUTES, ROUTES, ROUTES[:1], [], [(bytes(16), 0, 1, ROUTER)]])),
        "adjacency": adjacency, "mtu": draw(st.sampled_from([1280, 1500, 1500, 9000])), "up2": draw(st.booleans()),
        "tunnel_mtu": draw(st.sampled_from([1320, 1500])),
        "own": draw(st.sampled_from([[COA], [COA, CN]])),
        "required": draw(st.sampled_from([[], [], [HOA], [HOA2, CN]])),
        "protected": draw(st.sampled_from([[], [], [HOA], [HOA, HOA2]])),
        "bul": bul, "agents": agents, "tunnels": tunnels,
        "cache": draw(st.sampled_from([[], [(HOA, COA)], [(HOA, COA), (HOA2, ON_LINK)], [(HOA, COA), (HOA2, COA2)],
                                       [(CN, COA)]])),
    }


HEADROOM = st.sampled_from([128, 128, 128, 40, 14, 0])
SETTINGS = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _same(side_cls, method, t, items, *args):
    c = getattr(side_cls(_compiled(), t), method)(items, *args)
    p = getattr(side_cls((_graph_py, _bcache_py, dpy), t), method)(items, *args)
    for key in c:
        assert c[key] == p[key], key
    return c


@SETTINGS
@given(tables(), st.lists(app_packets(), min_size=1, max_size=16), HEADROOM)
def test_mobile_node_send_matches_twin(t, packets, headroom):
    _same(MobileSide, "send", t, packets, headroom)


@SETTINGS
@given(tables(), st.lists(mn_frames(), min_size=1, max_size=16), HEADROOM, st.sampled_from([0, 0, 0, 1]))
def test_mobile_node_receive_matches_twin(t, frames, headroom, rx):
    _same(MobileSide, "receive", t, frames, headroom, rx)


@SETTINGS
@given(tables(), st.lists(cn_packets(), min_size=1, max_size=16), HEADROOM)
def test_correspondent_send_matches_twin(t, packets, headroom):
    _same(CorrespondentSide, "send", t, packets, headroom)


@SETTINGS
@given(tables(), st.lists(cn_frames(), min_size=1, max_size=16), HEADROOM, st.sampled_from([0, 0, 0, 1]))
def test_correspondent_receive_matches_twin(t, frames, headroom, rx):
    _same(CorrespondentSide, "receive", t, frames, headroom, rx)


# ---- the mix: the generated batches reach every outcome of every graph -------------------------------

def _outcomes(r):
    seen = collections.Counter(KINDS[k] for k in r["kinds"])
    if sum(r["tx"]):
        seen["sent"] += sum(r["tx"])
    for key in ("tunnelled", "inserted", "unprotected", "dropped"):
        if r[key]:
            seen[key] += r[key]
    for v in r["verdict"]:
        seen[f"verdict{v}"] += 1
    return seen


def _mix(side_cls, method, inputs, extra):
    seen: collections.Counter = collections.Counter()

    @settings(max_examples=300, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(tables(), st.lists(inputs, min_size=1, max_size=16), HEADROOM, extra)
    def collect(t, items, headroom, rx):
        side = side_cls(_compiled(), t)
        args = (items, headroom) if method == "send" else (items, headroom, rx)
        r = getattr(side, method)(*args)
        seen.update(_outcomes(r))
        if method == "receive" and len(t["agents"]) > 1:
            seen["two_agents_" + ",".join(sorted({KINDS[k] for k in r["kinds"]}))] += 1
    collect()
    return seen


def test_mobile_node_send_mix():
    seen = _mix(MobileSide, "send", app_packets(), st.just(0))
    for outcome in ("sent", "SEND", "PASSED", "TOO_BIG", "tunnelled", "dropped"):
        assert seen[outcome] > 0, (outcome, seen)
    # route-optimised (a HAO, FORWARD, not tunnelled) and tunnelled packets both leave
    assert seen["verdict0"] > seen["tunnelled"], seen


def test_mobile_node_receive_mix():
    seen = _mix(MobileSide, "receive", mn_frames(), st.sampled_from([0, 0, 0, 1]))
    for outcome in ("DELIVER_TUNNEL", "DELIVER_RH2", "FRAME", "unprotected", "dropped"):
        assert seen[outcome] > 0, (outcome, seen)
    assert any(k.startswith("two_agents_") and "DELIVER_TUNNEL" in k for k in seen), seen


def test_correspondent_send_mix():
    seen = _mix(CorrespondentSide, "send", cn_packets(), st.just(0))
    for outcome in ("sent", "SEND", "TOO_BIG", "inserted", "dropped"):
        assert seen[outcome] > 0, (outcome, seen)


def test_correspondent_receive_mix():
    seen = _mix(CorrespondentSide, "receive", cn_frames(), st.sampled_from([0, 0, 0, 1]))
    for outcome in ("RECEIVED", "FRAME", "verdict0", "verdict5"):
        assert seen[outcome] > 0, (outcome, seen)
