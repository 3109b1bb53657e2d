"""The home agent's C data-plane graph (csrc/mip6_graph.c) against its pure-Python twin
(mip6fast._graph_py), packet by packet, on hypothesis-generated batches of Ethernet frames: tunnelled,
reverse-tunnelled (right and wrong care-of address, inner packets for another binding), neighbour
discovery, link-local, not for our MAC, not IPv6, truncated, padded, hop limit 1, too big for the tunnel,
multicast, for the agent's own addresses, random damage; with adjacencies usable, expired or missing,
routes on-link or through a router, and ESP tunnel sets. Every run compares verdicts, reasons, aux,
offsets, lengths, the whole slab, the output column, the slow list and kinds, per-interface sends, drops,
the graph's and the kernels' counters and the bindings' counters. Then the adjacency table alone
against a dict, under random inserts and deletes (backward-shift deletion), and its bound."""
import struct

import numpy as np
import pytest
from helpers.datapath import CN, CN2, COA, COA2, HA, HOA, HOA2, LL, OTHER_HOA, SITE, icmp6, ip6, tcp, udp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast import _bcache_py, _graph_py
from mip6fast import _datapath_py as dpy
from mip6fast.batch import DropReason, PacketBatch, Verdict

pytestmark = pytest.mark.compiled("graph", "bcache", "datapath")

MAC = bytes.fromhex("020000000001")        # the home agent's home-link interface
MAC_OUT = bytes.fromhex("020000000002")    # its outside interface
ROUTER_MAC = bytes.fromhex("02000000000f")
NEIGHBOR_MAC = bytes.fromhex("020000000022")
ROUTER = bytes.fromhex("fe80000000000000000000000000000f")
HOME_NET = HA[:8] + bytes(8)
OUT_ADDR = bytes.fromhex("20010db8000400000000000000000001")
ON_LINK = bytes.fromhex("20010db8000400000000000000000099")   # a host on the outside link
NOW = 10_000_000_000
FOREVER = 1 << 62
FLAGS = 0x02    # MIP6_TUN_DEC_HOP_LIMIT


def eth(dst_mac, payload, ethertype=0x86DD, src_mac=ROUTER_MAC):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def _compiled():
    from mip6fast import _bcache, _datapath, _graph
    return _graph, _bcache, _datapath


class Side:
    """One implementation: its binding table, kernel counters and graph, set up identically."""

    def __init__(self, graph_mod, bcache_mod, dp_mod, homes, tables):
        self.table = bcache_mod.BindingTable(16, 64, seed=bytes(16))
        for home, coa in homes:
            self.table.update(home, coa, 1, 0xC000, FOREVER)
        self.encap = dp_mod.Counters()
        self.decap = dp_mod.Counters()
        self.graph = graph_mod.HomeAgentGraph(self.table, HA, tables["tunnel_mtu"], 0, 64, FLAGS, FLAGS,
                                              self.encap.array, self.decap.array, 64, seed=bytes(16))
        g = self.graph
        g.set_interfaces([(MAC, 1500, True), (MAC_OUT, tables["out_mtu"], tables["out_up"])])
        g.set_routes(tables["routes"])
        g.set_own([HA, OUT_ADDR])
        g.set_required(tables["required"])
        g.set_protected(tables["protected"])
        for iface, addr, mac, deadline in tables["adjacency"]:
            g.adj_set(iface, addr, mac, deadline)

    def run(self, frames, headroom, rx):
        batch = PacketBatch(capacity=max(1, len(frames)), slot_size=2048, headroom=headroom)
        for f in frames:
            batch.append(f[:2048 - headroom])
        slow = self.graph.run(batch, rx, NOW)
        n = batch.count
        return {
            "slow": slow,
            "verdict": batch.verdict[:n].tolist(), "reason": batch.reason[:n].tolist(),
            "aux": batch.aux[:n].tolist(), "offset": batch.offset[:n].tolist(), "length": batch.length[:n].tolist(),
            "buf": batch.buf.tobytes(), "out": self.graph.out[:n].tolist(),
            "slow_list": self.graph.slow[:slow].tolist(), "kinds": self.graph.slow_kind[:slow].tolist(),
            "tx": self.graph.tx(), "tunnelled": self.graph.tunnelled,
            "detunnelled_sent": self.graph.detunnelled_sent, "dropped": self.graph.dropped,
            "drops": self.graph.last_drops(), "counters": self.graph.counters(),
            "encap": self.encap.tolist(), "decap": self.decap.tolist(),
            "bindings": [self.table.entry(self.table.lookup(h)) for h in (HOA, HOA2)],
        }


HOMES = [(HOA, COA), (HOA2, COA2)]
ROUTES_ROUTER = [(HOME_NET, 64, 0, None), (OUT_ADDR[:8] + bytes(8), 64, 1, None), (bytes(16), 0, 1, ROUTER)]


def inner_packets(src=None, dst=None):
    # Around every MTU boundary: inner UDP packets whose tunnelled (or plain) length is the link or
    # tunnel MTU, one less or one more.
    edges = sorted({mtu - 48 - extra + d for mtu in (1280, 1320, 1500) for extra in (0, 40) for d in (-1, 0, 1)})
    payloads = st.one_of(st.binary(max_size=64), st.sampled_from(edges).map(bytes))
    any_src = st.sampled_from([CN, CN2, HOA, HOA2, OTHER_HOA, LL, SITE, ON_LINK])
    any_dst = st.sampled_from([HOA, HOA2, OTHER_HOA, CN, HA, OUT_ADDR, LL, SITE, ON_LINK,
                               bytes.fromhex("ff0e" + "00" * 13 + "01")])
    srcs = st.one_of(src, any_src) if src is not None else any_src
    dsts = st.one_of(dst, any_dst) if dst is not None else any_dst
    hop = st.sampled_from([64, 64, 64, 2, 1, 0])
    kind = st.one_of(st.sampled_from(["udp", "tcp", "echo"]), st.sampled_from(["udp", "tcp", "echo"]),
                     st.integers(131, 139))

    @st.composite
    def build(draw):
        s, d, k = draw(srcs), draw(dsts), draw(kind)
        data = draw(payloads)
        if k == "udp":
            return ip6(s, d, 17, udp(s, d, data), hop_limit=draw(hop))
        if k == "tcp":
            return ip6(s, d, 6, tcp(s, d, data), hop_limit=draw(hop))
        if k == "echo":
            return ip6(s, d, 58, icmp6(s, d, 128, body=b"\0\1\0\1" + data), hop_limit=draw(hop))
        return ip6(s, d, 58, icmp6(s, d, k, body=bytes(20)), hop_limit=255)     # around ND's 133..137
    return build()


BOUND = st.sampled_from([HOA, HOA2])


@st.composite
def frames(draw):
    shape = draw(st.sampled_from(["to_home"] * 4 + ["reverse"] * 4 + ["plain", "tunnel_wrong", "mac", "ethertype",
                                                                     "truncated", "padded", "damaged", "not_to_ha"]))
    if shape == "to_home":          # §10.4.2: for a bound home address
        packet = draw(inner_packets(dst=BOUND))
    elif shape == "reverse":        # §10.4.5: from a bound home address through its tunnel
        home = draw(BOUND)
        coa = COA if home == HOA else COA2
        inner = draw(inner_packets(src=st.just(home), dst=st.sampled_from([CN, ON_LINK, HOA, HOA2, HA, OUT_ADDR])))
        packet = ip6(coa, HA, 41, inner, hop_limit=draw(st.sampled_from([64, 1])))
    elif shape in ("tunnel_wrong", "not_to_ha"):
        inner = draw(inner_packets())
        packet = ip6(COA2 if shape == "tunnel_wrong" else COA, HA if shape == "tunnel_wrong" else CN, 41, inner)
    else:
        packet = draw(inner_packets())
    frame = eth(MAC, packet)
    if shape == "mac":
        frame = eth(draw(st.sampled_from([MAC_OUT, b"\xff" * 6, b"\x33\x33\0\0\0\1"])), packet)
    elif shape == "ethertype":
        frame = eth(MAC, packet, ethertype=0x0800)
    elif shape == "truncated":
        frame = frame[:draw(st.integers(0, len(frame) - 1))]
    elif shape == "padded":
        frame = frame + bytes(draw(st.integers(1, 40)))
    elif shape == "damaged":
        b = bytearray(frame)
        for _ in range(draw(st.integers(1, 4))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        frame = bytes(b)
    return frame


@st.composite
def tables(draw):
    routes = draw(st.sampled_from([ROUTES_ROUTER, ROUTES_ROUTER, ROUTES_ROUTER, ROUTES_ROUTER[:2], [],
                                   [(bytes(16), 0, 1, None)],
                                   [(bytes(16), 0, 1, ROUTER), (bytes(16), 0, 0, ROUTER)]]))
    adjacency = []
    if draw(st.integers(0, 4)):
        adjacency.append((1, ROUTER, ROUTER_MAC, draw(st.sampled_from([FOREVER, FOREVER, NOW, NOW + 1, 0]))))
    if draw(st.booleans()):
        adjacency.append((1, ON_LINK, NEIGHBOR_MAC, FOREVER))
    if draw(st.booleans()):
        adjacency.append((0, CN, NEIGHBOR_MAC, FOREVER))
    return {
        "routes": routes, "adjacency": adjacency,
        "tunnel_mtu": draw(st.sampled_from([1320, 1500, 1540, 9000])),
        "out_mtu": draw(st.sampled_from([1280, 1320, 1500, 9000])),
        "out_up": draw(st.booleans()) or True,
        "required": draw(st.sampled_from([[], [HOA], [HOA2, CN]])),
        "protected": draw(st.sampled_from([[], [HOA], [HOA, HOA2]])),
    }


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tables(), st.lists(frames(), min_size=1, max_size=24), st.sampled_from([128, 128, 128, 54, 40, 14, 0]),
       st.sampled_from([0, 0, 0, 0, 0, 1]))
def test_graph_matches_twin(tables, batch_frames, headroom, rx):
    graph_c, bcache_c, dp_c = _compiled()
    c = Side(graph_c, bcache_c, dp_c, HOMES, tables).run(batch_frames, headroom, rx)
    p = Side(_graph_py, _bcache_py, dpy, HOMES, tables).run(batch_frames, headroom, rx)
    for key in c:
        assert c[key] == p[key], key


def _side(tables_=None):
    graph_c, bcache_c, dp_c = _compiled()
    t = tables_ or {"routes": ROUTES_ROUTER, "adjacency": [(1, ROUTER, ROUTER_MAC, FOREVER)], "tunnel_mtu": 1500,
                    "out_mtu": 1500, "out_up": True, "required": [], "protected": []}
    return Side(graph_c, bcache_c, dp_c, HOMES, t)


def test_tunnelled_frames_leave_whole_with_the_router_header():
    """Packets for a bound home address come out as whole frames for the router: the outer header
    from the home agent to the care-of address (RFC 6275 §10.4.2), the Ethernet header of the route."""
    side = _side()
    inner = ip6(CN, HOA, 17, udp(CN, HOA, b"data"))
    r = side.run([eth(MAC, inner)] * 3, 128, 0)
    assert r["slow"] == 0 and r["tx"] == [0, 3] and r["tunnelled"] == 3 and r["out"] == [1, 1, 1]
    frame = r["buf"][r["offset"][0]:r["offset"][0] + r["length"][0]]
    assert frame[:14] == ROUTER_MAC + MAC_OUT + b"\x86\xdd"
    outer = frame[14:]
    assert outer[6] == 41 and outer[8:24] == HA and outer[24:40] == COA
    assert outer[40:] == inner[:7] + bytes([63]) + inner[8:]     # the inner hop limit decremented


def test_without_a_usable_adjacency_the_packet_takes_the_slow_path():
    t = {"routes": ROUTES_ROUTER, "adjacency": [(1, ROUTER, ROUTER_MAC, NOW)], "tunnel_mtu": 1500,
         "out_mtu": 1500, "out_up": True, "required": [], "protected": []}
    side = _side(t)      # REACHABLE until NOW: not usable at NOW (RFC 4861 §7.3.3)
    r = side.run([eth(MAC, ip6(CN, HOA, 17, udp(CN, HOA, b"x")))], 128, 0)
    assert r["tx"] == [0, 0] and r["slow_list"] == [0]
    assert _graph_py.SLOW_KINDS[r["kinds"][0]] == "TUNNEL_TX"


def test_slow_frames_come_back_as_received():
    side = _side()
    ns = ip6(CN, HA, 58, icmp6(CN, HA, 135, body=bytes(20)), hop_limit=255)
    frame = eth(MAC, ns) + bytes(6)          # padded, as Ethernet pads
    r = side.run([frame], 128, 0)
    assert r["slow_list"] == [0] and _graph_py.SLOW_KINDS[r["kinds"][0]] == "FRAME"
    assert r["buf"][r["offset"][0]:r["offset"][0] + r["length"][0]] == frame


def test_drops_are_counted_by_reason():
    side = _side()
    r = side.run([eth(MAC, ip6(COA2, HA, 41, ip6(HOA, CN, 17, udp(HOA, CN, b"x"))))], 128, 0)
    assert r["dropped"] == 1 and r["drops"] == {int(DropReason.TUNNEL_WRONG_SOURCE): 1}
    assert r["verdict"] == [Verdict.DROP]


def test_configuration_is_checked():
    graph_c, bcache_c, dp_c = _compiled()
    for mod, bmod, dmod in ((graph_c, bcache_c, dp_c), (_graph_py, _bcache_py, dpy)):
        table = bmod.BindingTable(16, 8)
        c = dmod.Counters()
        with pytest.raises(ValueError):
            mod.HomeAgentGraph(bmod.BindingTable(32, 8), HA, 1500, 0, 64, 2, 2, c.array, c.array)
        with pytest.raises(ValueError):
            mod.HomeAgentGraph(table, HA, 1000, 0, 64, 2, 2, c.array, c.array)
        with pytest.raises(ValueError):
            mod.HomeAgentGraph(table, HA, 1500, 0, 64, 2, 2, c.array, c.array, 0)
        g = mod.HomeAgentGraph(table, HA, 1500, 0, 64, 2, 2, c.array, c.array, 4)
        with pytest.raises(ValueError):
            g.set_interfaces([(MAC, 1500, True)] * (mod.MAX_IFACES + 1))
        g.set_interfaces([(MAC, 1500, True)])
        with pytest.raises(ValueError):
            g.set_routes([(bytes(16), 0, 3, None)])     # no interface 3
        with pytest.raises(ValueError):
            g.set_routes([(bytes(16), 129, 0, None)])
        with pytest.raises(ValueError):
            g.run(PacketBatch(4), 2, NOW)                # no interface 2
        assert all(g.adj_set(0, bytes([i]) * 16, MAC, FOREVER) for i in range(4))
        assert not g.adj_set(0, b"\x09" * 16, MAC, FOREVER)          # bounded: full
        assert g.adj_set(0, b"\x01" * 16, ROUTER_MAC, 5)              # replacing is always possible
        assert g.adj_get(0, b"\x01" * 16) == (ROUTER_MAC, 5) and g.adj_len == 4


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["set", "del"]), st.integers(0, 2), st.integers(0, 40)), max_size=300))
def test_adjacency_table_is_a_dict(ops):
    """Random inserts and deletes against a dict: backward-shift deletion keeps every entry findable
    (a small table, so runs collide and wrap)."""
    graph_c, bcache_c, dp_c = _compiled()
    c = dp_c.Counters()
    g = graph_c.HomeAgentGraph(bcache_c.BindingTable(16, 8), HA, 1500, 0, 64, 2, 2, c.array, c.array, 48)
    model = {}
    for op, iface, k in ops:
        addr = bytes([k]) * 16
        if op == "set":
            mac = bytes([k, iface]) * 3
            assert g.adj_set(iface, addr, mac, k)
            model[(iface, addr)] = (mac, k)
        else:
            assert g.adj_del(iface, addr) == ((iface, addr) in model)
            model.pop((iface, addr), None)
        assert g.adj_len == len(model)
    for iface in range(3):
        for k in range(41):
            assert g.adj_get(iface, bytes([k]) * 16) == model.get((iface, bytes([k]) * 16))
    assert sorted((i, a) for i, a, _, _ in g.adjacency()) == sorted(model)


def test_routes_first_longest_wins():
    graph_c, bcache_c, dp_c = _compiled()
    c = dp_c.Counters()
    for mod, table in ((graph_c, bcache_c.BindingTable(16, 8)), (_graph_py, _bcache_py.BindingTable(16, 8))):
        g = mod.HomeAgentGraph(table, HA, 1500, 0, 64, 2, 2, c.array, np.zeros(len(DropReason), np.uint64))
        g.set_interfaces([(MAC, 1500, True), (MAC_OUT, 1500, True)])
        g.set_routes([(bytes(16), 0, 1, ROUTER), (HOME_NET, 64, 0, None), (HOME_NET, 64, 1, None),
                      (HOA, 128, 1, None)])
        assert g.route(HOA) == 0          # the /128 first
        assert g.route(HOA2) == 1         # the first of the two /64s
        assert g.route(CN) == 3           # the default route last


@pytest.mark.parametrize("out_mtu,tunnel_mtu", [(1280, 1320), (1500, 1500), (1500, 1540), (1320, 9000)])
@pytest.mark.parametrize("deadline", [NOW - 1, NOW, NOW + 1])
def test_boundaries_match_twin(out_mtu, tunnel_mtu, deadline):
    """Every edge hypothesis would rarely hit, exactly: packets whose tunnelled or forwarded length is
    an MTU, one less or one more; the adjacency's deadline just before, at and after the batch's time;
    the 80-byte tunnel packet (an empty inner packet) from a home whose tunnel must be ESP."""
    adjacency = [(1, ROUTER, ROUTER_MAC, deadline), (1, ON_LINK, NEIGHBOR_MAC, deadline)]
    t = {"routes": ROUTES_ROUTER, "adjacency": adjacency,
         "tunnel_mtu": tunnel_mtu, "out_mtu": out_mtu, "out_up": True, "required": [HOA2], "protected": []}
    batch = []
    for mtu in (out_mtu, tunnel_mtu):
        for extra in (0, 40):
            for d in (-1, 0, 1):
                size = mtu - 48 - extra + d
                if size < 0:
                    continue
                batch.append(eth(MAC, ip6(CN, HOA, 17, udp(CN, HOA, bytes(size)))))
                inner = ip6(HOA, ON_LINK, 17, udp(HOA, ON_LINK, bytes(size)))
                batch.append(eth(MAC, ip6(COA, HA, 41, inner)))
    batch.append(eth(MAC, ip6(COA2, HA, 41, ip6(HOA2, CN, 59, b""))))          # 80 bytes, must be ESP
    graph_c, bcache_c, dp_c = _compiled()
    for k in range(0, len(batch), 16):
        chunk = batch[k:k + 16]
        c = Side(graph_c, bcache_c, dp_c, HOMES, t).run(chunk, 128, 0)
        p = Side(_graph_py, _bcache_py, dpy, HOMES, t).run(chunk, 128, 0)
        for key in c:
            assert c[key] == p[key], key
