"""Data-path kernels (csrc/mip6_tunnel.c, csrc/mip6_route_opt.c through mip6fast.datapath): vectors
written by hand from RFC 2473 / RFC 6275 / RFC 6040, the compiled kernels held to the pure-Python
reference (mip6fast._datapath_py) byte for byte, and transport checksums that survive each kernel and
its inverse. Property tests over random batches: test_datapath_property.py (both use the builders and
the harness in tests/helpers/datapath.py). With MIP6FAST_PURE_PYTHON=1 mip6fast.datapath runs the twin,
so the vectors check the pure-Python data path (over the twin binding table) instead of the C one."""
import struct
from ipaddress import IPv6Address

import pytest
from helpers.datapath import (
    ALL_NODES,
    CN,
    CN2,
    COA,
    COA2,
    FOREVER,
    HA,
    HOA,
    HOA2,
    LL,
    LL_HA,
    OTHER_HOA,
    SITE,
    TRANSPORTS,
    H,
    World,
    checksum_ok,
    data_packet,
    dst_hao,
    dst_opts,
    hbh,
    icmp6,
    ip6,
    mh,
    mld_report,
    one,
    rh2,
    tcp,
    udp,
)
from reference import ones_complement_checksum

from mip6fast import _datapath_py as ref
from mip6fast import _impl
from mip6fast.batch import VERDICT_OF, PacketBatch, Verdict
from mip6fast.batch import DropReason as R
from mip6fast.binding_cache import BindingCache
from mip6fast.datapath import CorrespondentDataPath, HomeAgentDataPath, MobileNodeDataPath

# The packet codec parses what the kernels write (compiled, or the twin with MIP6FAST_PURE_PYTHON=1;
# tests/test_impl.py fails a run that fell back without asking).
_packet = _impl.load("packet")


# ---- encapsulation at the home agent -----------------------------------------------------------------------

def test_encapsulate_builds_the_rfc2473_outer_header():
    w = World()
    inner = data_packet(CN, HOA, "udp", 100, hop_limit=50, tc=0xB9, flow=0x12345)
    v, r, aux, out = one(w, "encapsulate", inner)
    assert (v, r, aux) == (Verdict.FORWARD, R.FORWARDED, 0)
    expected_inner = inner[:7] + bytes((49,)) + inner[8:]          # the HA forwards it: hop limit - 1
    outer = struct.pack("!IHBB16s16s", (6 << 28) | (0xB9 << 20) | 0, len(inner), 41, 64, HA, COA)
    assert out == outer + expected_inner
    b = w.cache[HOA]
    assert (b.packets, b.bytes_) == (1, len(inner))


def test_encapsulate_output_parses_as_ipv6_in_ipv6():
    w = World(flow_label=0xABCDE, hop_limit=33)
    for size in (0, 1, 500, 1400):
        inner = data_packet(CN, HOA, "icmpv6", size)
        v, _, _, out = one(w, "encapsulate", inner)
        assert v == Verdict.FORWARD
        _tc, flow, hop, src, dst, _hb, _r2, _hao, _dopts, upper_nh, upper = _packet.parse(out)
        assert (flow, hop, src, dst, upper_nh, upper) == (0xABCDE, 33, HA, COA, 41, 40)
        assert struct.unpack_from("!H", out, 4)[0] == len(out) - 40 == len(inner)
        parsed_inner = _packet.parse(out[40:])          # verifies the ICMPv6 checksum too
        assert parsed_inner[3:5] == (CN, HOA) and parsed_inner[2] == 63


def test_encapsulate_miss_is_pass_and_untouched():
    w = World()
    p = data_packet(CN, OTHER_HOA)
    assert one(w, "encapsulate", p) == (Verdict.PASS, R.NO_BINDING, 0, p)


@pytest.mark.parametrize("hop", [0, 1])
def test_encapsulate_hop_limit_expired(hop):
    w = World()
    p = data_packet(CN, HOA, hop_limit=hop)
    assert one(w, "encapsulate", p) == (Verdict.DROP, R.HOP_LIMIT, 0, p)


def test_encapsulate_hop_limit_2_is_forwarded_with_1():
    v, _, _, out = one(World(), "encapsulate", data_packet(CN, HOA, hop_limit=2))
    assert v == Verdict.FORWARD and out[40 + 7] == 1


def test_encapsulate_too_big_reports_mtu_minus_40():
    w = World(tunnel_mtu=1400)
    fits = data_packet(CN, HOA, "udp", 1360 - 48)        # 1360 + 40 = 1400: fits exactly
    assert len(fits) == 1360
    assert one(w, "encapsulate", fits)[0] == Verdict.FORWARD
    big = data_packet(CN, HOA, "udp", 1361 - 48)
    assert one(w, "encapsulate", big) == (Verdict.TOO_BIG, R.TOO_BIG, 1360, big)


def test_encapsulate_without_headroom_is_a_counted_drop():
    w = World()
    p = data_packet(CN, HOA)
    assert one(w, "encapsulate", p, headroom=39) == (Verdict.DROP, R.NO_HEADROOM, 0, p)
    assert one(w, "encapsulate", p, headroom=40)[0] == Verdict.FORWARD
    assert w.ha.counters[R.NO_HEADROOM] == 1 and w.ha.counters[R.FORWARDED] == 1


@pytest.mark.parametrize("src,dst", [(LL, HOA), (CN, LL), (LL_HA, LL)])
def test_encapsulate_never_to_or_from_link_local(src, dst):
    w = World(bindings={HOA: (COA, H), LL: (COA, H)})
    p = data_packet(src, dst)
    assert one(w, "encapsulate", p)[:2] == (Verdict.DROP, R.LINK_LOCAL)


def test_link_local_scope_multicast_is_not_tunnelled_but_mld_is():
    w = World()
    echo = data_packet(CN, ALL_NODES, "icmpv6")
    assert one(w, "reverse_tunnel", echo)[:2] == (Verdict.PASS, R.NOT_FROM_HOME)
    # MLD from the link-local address passes the home-address filter and the scope rule
    mld = mld_report()
    v, r, _, out = one(w, "reverse_tunnel", mld)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)          # RFC 6275 §10.4.2 / §11.3.4 exception
    assert out[40:] == mld and out[8:24] == COA and out[24:40] == HA
    w2 = World(homes=(HOA, LL))
    assert one(w2, "reverse_tunnel", data_packet(LL, ALL_NODES, "icmpv6"))[:2] == (Verdict.DROP, R.LINK_LOCAL)


@pytest.mark.parametrize("src,dst", [(SITE, HOA), (CN, SITE)])
def test_site_local_needs_configuration(src, dst):
    bindings = {HOA: (COA, H), SITE: (COA, H)}
    p = data_packet(src, dst)
    assert one(World(bindings), "encapsulate", p)[:2] == (Verdict.DROP, R.SITE_LOCAL)
    assert one(World(bindings, allow_site_local=True), "encapsulate", p)[:2] == (Verdict.FORWARD, R.FORWARDED)


def test_encapsulate_checks_every_packet_before_reading_it():
    w = World()
    good = data_packet(CN, HOA)
    cases = {
        R.TRUNCATED: good[:39],
        R.BAD_VERSION: bytes((0x40,)) + good[1:],
        R.BAD_LENGTH: good[:-1],                       # payload length says one byte more
    }
    for reason, p in cases.items():
        assert one(w, "encapsulate", p) == (Verdict.DROP, reason, 0, p)
    long_len = good[:4] + struct.pack("!H", 65535) + good[6:]
    assert one(w, "encapsulate", long_len)[1] == R.BAD_LENGTH


def test_bad_slot_is_dropped_without_reading():
    w = World()
    b = PacketBatch.from_packets([data_packet(CN, HOA)] * 3, slot_size=512, headroom=64)
    b.offset[0] = 500                       # runs past the end of slot 0
    b.offset[1] = 100                       # before slot 1
    b.length[2] = 1000                      # longer than the slot
    w.run("encapsulate", b)
    assert b.reasons() == [R.BAD_SLOT] * 3


def test_kernels_leave_decided_packets_alone():
    w = World()
    p = data_packet(CN, HOA)
    b = PacketBatch.from_packets([p, p, p])
    b.verdict[0] = Verdict.DROP
    b.reason[0] = R.ECN
    b.verdict[2] = Verdict.FORWARD
    assert w.run("encapsulate", b) == 1
    assert b.verdicts() == [Verdict.DROP, Verdict.FORWARD, Verdict.FORWARD]
    assert b.packet(0) == p and b.packet(2) == p and b.reasons()[0] == R.ECN
    # running it again does nothing: the forwarded packet is not encapsulated twice
    assert w.run("encapsulate", b) == 0 and len(b.packet(1)) == len(p) + 40


def test_bindings_are_read_at_each_call():
    w = World()
    p = data_packet(CN, HOA2)
    b = PacketBatch.from_packets([p])
    assert w.run("encapsulate", b) == 0
    w.cache.update(HOA2, COA2, 1, H, FOREVER)
    w.ref_cache[HOA2] = ref.Binding(COA2, H)
    b.reset_verdicts()
    assert w.run("encapsulate", b) == 1 and b.packet(0)[24:40] == COA2


def test_batches_larger_than_a_lookup_chunk():
    w = World(bindings={HOA: (COA, H), HOA2: (COA2, H)})
    pkts = [data_packet(CN, (HOA, HOA2, OTHER_HOA)[i % 3], "udp", i) for i in range(300)]
    b = PacketBatch.from_packets(pkts)
    assert w.run("encapsulate", b) == 200
    assert [b.packet(i)[24:40] for i in range(6)] == [COA, COA2, pkts[2][24:40], COA, COA2, pkts[5][24:40]]


# ---- decapsulation ------------------------------------------------------------------------------------

def tunnelled(outer_src, outer_dst, inner, tc=0, hop_limit=64):
    return ip6(outer_src, outer_dst, 41, inner, hop_limit=hop_limit, tc=tc)


def test_decapsulate_ha_strips_when_the_outer_source_is_the_care_of_address():
    w = World()
    inner = data_packet(HOA, CN, "tcp", 64, hop_limit=10)
    v, r, _, out = one(w, "decapsulate_ha", tunnelled(COA, HA, inner))
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    assert out == inner[:7] + bytes((9,)) + inner[8:]
    assert w.cache[HOA].packets == 1 and w.cache[HOA].bytes_ == len(inner)


def test_decapsulate_ha_rejects_other_sources():
    w = World()
    inner = data_packet(HOA, CN)
    assert one(w, "decapsulate_ha", tunnelled(COA2, HA, inner))[:2] == (Verdict.DROP, R.TUNNEL_WRONG_SOURCE)
    stray = data_packet(OTHER_HOA, CN)
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, stray))[:2] == (Verdict.DROP, R.TUNNEL_NO_BINDING)
    assert one(w, "decapsulate_ha", inner)[:2] == (Verdict.PASS, R.NOT_TUNNELLED)
    assert w.ha.kernel_counters("decapsulate")[R.TUNNEL_WRONG_SOURCE] == 1


def test_decapsulate_inner_packet_is_checked():
    w = World()
    inner = data_packet(HOA, CN)
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, inner[:30]))[1] == R.TRUNCATED
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, inner[:-2]))[1] == R.BAD_LENGTH
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, b"\x45" + inner[1:]))[1] == R.BAD_VERSION
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, inner, hop_limit=1))[0] == Verdict.FORWARD  # outer's
    assert one(w, "decapsulate_ha", tunnelled(COA, HA, data_packet(HOA, CN, hop_limit=1)))[1] == R.HOP_LIMIT


def test_decapsulated_mld_goes_to_the_slow_path_untouched():
    w = World()
    p = tunnelled(COA, HA, mld_report())
    assert one(w, "decapsulate_ha", p) == (Verdict.SLOW_PATH, R.MULTICAST_MEMBERSHIP, 0, p)
    link = tunnelled(COA, HA, data_packet(LL, CN))
    assert one(w, "decapsulate_ha", link)[:2] == (Verdict.DROP, R.LINK_LOCAL)


# RFC 6040 §4.2, Figure 4: (inner, outer) -> inner after decapsulation, None = drop.
# ECN codepoints: 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
ECN_TABLE = {
    (0, 0): 0, (0, 1): 0, (0, 2): 0, (0, 3): None,
    (2, 0): 2, (2, 1): 1, (2, 2): 2, (2, 3): 3,
    (1, 0): 1, (1, 1): 1, (1, 2): 1, (1, 3): 3,
    (3, 0): 3, (3, 1): 3, (3, 2): 3, (3, 3): 3,
}


@pytest.mark.parametrize("inner_ecn,outer_ecn", sorted(ECN_TABLE))
def test_decapsulation_ecn_follows_rfc6040(inner_ecn, outer_ecn):
    w = World()
    inner = data_packet(HOA, CN, tc=0xA0 | inner_ecn)
    v, r, _, out = one(w, "decapsulate_ha", tunnelled(COA, HA, inner, tc=0x40 | outer_ecn))
    want = ECN_TABLE[(inner_ecn, outer_ecn)]
    if want is None:
        assert (v, r) == (Verdict.DROP, R.ECN)
    else:
        assert v == Verdict.FORWARD
        tc = (struct.unpack_from("!I", out)[0] >> 20) & 0xFF
        assert tc == 0xA0 | want                      # DSCP of the inner packet kept


def test_decapsulate_mn():
    w = World()
    inner = data_packet(CN, HOA2, "udp", 10, hop_limit=7)
    v, r, _, out = one(w, "decapsulate_mn", tunnelled(HA, COA, inner))
    assert (v, r, out) == (Verdict.FORWARD, R.FORWARDED, inner)     # a host: hop limit kept
    assert one(w, "decapsulate_mn", tunnelled(CN, COA, inner))[:2] == (Verdict.DROP, R.TUNNEL_WRONG_SOURCE)
    wrong = data_packet(CN, OTHER_HOA)
    assert one(w, "decapsulate_mn", tunnelled(HA, COA, wrong))[:2] == (Verdict.DROP, R.NOT_HOME_ADDRESS)
    assert one(w, "decapsulate_mn", inner)[:2] == (Verdict.PASS, R.NOT_TUNNELLED)


def test_reverse_tunnel():
    w = World(hop_limit=20)
    p = data_packet(HOA, CN, "tcp", 30, hop_limit=64, tc=3)
    v, r, _, out = one(w, "reverse_tunnel", p)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    assert out == struct.pack("!IHBB16s16s", (6 << 28) | (3 << 20), len(p), 41, 20, COA, HA) + p
    from_coa = data_packet(COA, CN)
    assert one(w, "reverse_tunnel", from_coa) == (Verdict.PASS, R.NOT_FROM_HOME, 0, from_coa)


def test_care_of_address_change_takes_effect():
    w = World()
    w.mn.care_of = COA2
    out = one(w, "reverse_tunnel", data_packet(HOA, CN))[3]
    assert out[8:24] == COA2 and w.mn.care_of == IPv6Address(COA2)


# ---- Home Address option ---------------------------------------------------------------------------------

def test_insert_hao_lays_out_the_option_as_rfc6275_says():
    w = World()
    p = data_packet(HOA, CN, "udp", 20)
    v, r, _, out = one(w, "insert_hao", p)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    expected = ip6(COA, CN, 60, dst_hao(17, HOA) + p[40:])
    assert out == expected
    b = w.bul[(CN, HOA)]
    assert (b.packets, b.bytes_) == (1, len(p))


def test_insert_hao_goes_after_routing_and_hop_by_hop_headers():
    w = World()
    upper = udp(HOA, CN, b"x" * 9)
    p = ip6(HOA, CN, 0, hbh(43, 16) + rh2(17, CN2, rtype=4, segments_left=0) + upper)
    out = one(w, "insert_hao", p)[3]
    assert out == ip6(COA, CN, 0, hbh(43, 16) + rh2(60, CN2, rtype=4, segments_left=0) + dst_hao(17, HOA) + upper)
    p2 = ip6(HOA, CN, 0, hbh(17) + upper)
    assert one(w, "insert_hao", p2)[3] == ip6(COA, CN, 0, hbh(60) + dst_hao(17, HOA) + upper)


def test_insert_hao_joins_an_existing_destination_options_header():
    w = World()
    upper = udp(HOA, CN, b"y")
    opts = dst_opts(17, b"\x1e\x02\xab\xcd")                  # an unknown skippable option, 8 bytes
    out = one(w, "insert_hao", ip6(HOA, CN, 60, opts + upper))[3]
    grown = bytes((17, 3)) + opts[2:] + b"\x01\x04\0\0\0\0" + bytes((201, 16)) + HOA
    assert out == ip6(COA, CN, 60, grown + upper)
    parsed = _packet.parse(out)                  # the codec checks the HAO sits at 8n+6
    assert parsed[7] == HOA and parsed[8] == ((0x1E, b"\xab\xcd"),)
    assert checksum_ok(out)


@pytest.mark.parametrize("hdr_len,ok", [(252, True), (253, False), (255, False)])
def test_insert_hao_into_a_full_destination_options_header(hdr_len, ok):
    """Header Ext Len is one byte: a header that cannot grow by 3 more units is refused, not wrapped."""
    w = World(mtu=9000)
    size = (hdr_len + 1) * 8
    fill, left = b"", size - 2                                         # PadN options filling the header
    while left:
        k = min(left, 257) if left - min(left, 257) != 1 else 256
        fill += b"\x00" if k == 1 else bytes((1, k - 2)) + bytes(k - 2)
        left -= k
    opts = bytes((17, hdr_len)) + fill
    p = ip6(HOA, CN, 60, opts + udp(HOA, CN, b"z"))
    v, r, _, out = one(w, "insert_hao", p, slot_size=4096)
    if ok:
        assert (v, out[41], out[40 + size + 6], out[40 + size + 8:40 + size + 24]) == (Verdict.FORWARD, 255, 201, HOA)
    else:
        assert (v, r, out) == (Verdict.DROP, R.BAD_HEADER, p)


def test_insert_hao_refuses_what_it_must_not_touch():
    w = World(bul={(CN, HOA): (COA, 0), (HA, HOA): (COA, H)})
    cases = [
        (data_packet(HOA, CN2), Verdict.PASS, R.NO_BINDING),
        (data_packet(HOA, HA), Verdict.PASS, R.NOT_ELIGIBLE),                  # home registration entry
        (ip6(HOA, CN, 135, mh(HOA, CN, 1)), Verdict.PASS, R.NOT_ELIGIBLE),     # HoTI: via the tunnel
        (ip6(HOA, CN, 58, icmp6(HOA, CN, 135, 0, bytes(20))), Verdict.PASS, R.NOT_ELIGIBLE),  # NS
        (ip6(HOA, CN, 60, dst_hao(17, HOA2) + udp(HOA, CN, b"")), Verdict.DROP, R.DUPLICATE_HAO),
        (ip6(HOA, CN, 60, b"\x11\x00\x01\x09" + bytes(4) + udp(HOA, CN, b"")), Verdict.DROP, R.BAD_HEADER),
    ]
    for p, verdict, reason in cases:
        assert one(w, "insert_hao", p) == (verdict, reason, 0, p), reason


def test_insert_hao_mtu_and_headroom():
    w = World(mtu=1280)
    p = data_packet(HOA, CN, "udp", 1280 - 24 - 48)
    assert one(w, "insert_hao", p)[0] == Verdict.FORWARD
    big = data_packet(HOA, CN, "udp", 1280 - 24 - 47)
    assert one(w, "insert_hao", big) == (Verdict.TOO_BIG, R.TOO_BIG, 1256, big)
    assert one(w, "insert_hao", p, headroom=23) == (Verdict.DROP, R.NO_HEADROOM, 0, p)
    assert one(w, "insert_hao", p, headroom=24)[0] == Verdict.FORWARD


def test_process_hao_swaps_when_the_binding_matches():
    w = World()
    upper = tcp(HOA, CN, b"hello")
    p = ip6(COA, CN, 60, dst_hao(6, HOA) + upper)
    v, r, _, out = one(w, "process_hao", p)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    assert out == ip6(HOA, CN, 60, dst_hao(6, COA) + upper)
    assert w.cache[HOA].packets == 1


def test_process_hao_binding_errors_point_at_the_home_address():
    w = World()
    p = ip6(COA2, CN, 60, dst_hao(17, HOA) + udp(HOA, CN, b""))
    assert one(w, "process_hao", p) == (Verdict.BINDING_ERROR, R.HAO_WRONG_COA, 48, p)
    q = ip6(COA, CN, 0, hbh(60) + dst_hao(17, OTHER_HOA) + udp(OTHER_HOA, CN, b""))
    assert one(w, "process_hao", q) == (Verdict.BINDING_ERROR, R.HAO_NO_BINDING, 56, q)
    assert q[56:72] == OTHER_HOA


def test_process_hao_leaves_binding_updates_to_the_role():
    w = World()
    bu = ip6(COA2, CN, 60, dst_hao(135, OTHER_HOA) + mh(OTHER_HOA, CN, 5))
    assert one(w, "process_hao", bu) == (Verdict.SLOW_PATH, R.MH_SIGNALLING, 0, bu)


def test_process_hao_malformed_options():
    w = World()
    upper = udp(HOA, CN, b"")
    two = bytes((17, 5, 1, 2, 0, 0, 201, 16)) + HOA + bytes((1, 4, 0, 0, 0, 0, 201, 16)) + HOA
    misaligned = bytes((17, 3, 1, 3, 0, 0, 0, 201, 16)) + HOA + bytes((1, 5, 0, 0, 0, 0, 0))
    short = bytes((17, 2, 1, 4, 0, 0, 0, 0, 201, 14)) + HOA[:14]
    runs_past = bytes((17, 0, 1, 9, 0, 0, 0, 0))
    for body, reason in ((two, R.DUPLICATE_HAO), (misaligned, R.BAD_HAO), (short, R.BAD_HAO),
                         (runs_past, R.BAD_HEADER)):
        p = ip6(COA, CN, 60, body + upper)
        assert one(w, "process_hao", p) == (Verdict.DROP, reason, 0, p), reason
    none = ip6(COA, CN, 60, dst_opts(17, b"\x1e\x00") + upper)
    assert one(w, "process_hao", none)[:2] == (Verdict.PASS, R.NO_HAO)
    assert one(w, "process_hao", ip6(COA, CN, 17, upper))[:2] == (Verdict.PASS, R.NO_HAO)


# ---- Type 2 routing header ---------------------------------------------------------------------------------

def test_insert_rh2():
    w = World()
    upper = icmp6(CN, HOA, 129, 0, b"\0\1\0\2abc")
    p = ip6(CN, HOA, 58, upper)
    v, r, _, out = one(w, "insert_rh2", p)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    assert out == ip6(CN, COA, 43, rh2(58, HOA) + upper)
    assert _packet.parse(out)[6] == HOA            # the codec accepts it, ICMPv6 checksum included
    withhbh = ip6(CN, HOA, 0, hbh(58) + upper)
    assert one(w, "insert_rh2", withhbh)[3] == ip6(CN, COA, 0, hbh(43) + rh2(58, HOA) + upper)


def test_insert_rh2_refusals():
    w = World()
    up = udp(CN, HOA, b"")
    for p, verdict, reason in [
        (ip6(CN, OTHER_HOA, 17, udp(CN, OTHER_HOA, b"")), Verdict.PASS, R.NO_BINDING),
        (ip6(CN, HOA, 43, rh2(17, HOA) + up), Verdict.PASS, R.NOT_ELIGIBLE),
        (ip6(CN, HOA, 135, mh(CN, HOA, 3)), Verdict.PASS, R.NOT_ELIGIBLE),
        (ip6(CN, HOA, 60, dst_opts(43, b"") + rh2(17, HOA) + up), Verdict.DROP, R.BAD_HEADER),
        (ip6(CN, HOA, 0, hbh(0) + hbh(17) + up), Verdict.DROP, R.BAD_HEADER),
    ]:
        assert one(w, "insert_rh2", p) == (verdict, reason, 0, p), reason
    big = data_packet(CN, HOA, "udp", 1500 - 48 - 23)
    assert one(w, "insert_rh2", big)[:3] == (Verdict.TOO_BIG, R.TOO_BIG, 1476)


def test_process_rh2():
    w = World()
    upper = udp(CN, HOA2, b"data")
    p = ip6(CN, COA, 43, rh2(17, HOA2) + upper)
    v, r, _, out = one(w, "process_rh2", p)
    assert (v, r) == (Verdict.FORWARD, R.FORWARDED)
    assert out == ip6(CN, HOA2, 43, rh2(17, COA, segments_left=0) + upper)
    for body, reason in [
        (rh2(17, HOA2, segments_left=0), R.BAD_RH2),
        (rh2(17, HOA2, segments_left=2), R.BAD_RH2),
        (rh2(17, HOA2, hdr_len=4, segments_left=2), R.BAD_RH2),
        (rh2(17, OTHER_HOA), R.NOT_HOME_ADDRESS),
    ]:
        q = ip6(CN, COA, 43, body + upper)
        assert one(w, "process_rh2", q) == (Verdict.DROP, reason, 0, q), reason
    srh = ip6(CN, COA, 43, rh2(17, HOA2, rtype=4) + upper)
    assert one(w, "process_rh2", srh)[:2] == (Verdict.PASS, R.NO_RH2)
    assert one(w, "process_rh2", ip6(CN, COA, 43, rh2(17, HOA2)[:8]))[:2] == (Verdict.DROP, R.BAD_HEADER)


# ---- checksums survive every kernel and its inverse (RFC 6275 §6.3, §6.4) ---------------------------------

@pytest.mark.parametrize("proto", sorted(TRANSPORTS))
@pytest.mark.parametrize("size", [0, 1, 7, 100, 1201])
def test_checksums_survive_encapsulation_and_decapsulation(proto, size):
    w = World()
    p = data_packet(CN, HOA, proto, size)
    assert checksum_ok(p)
    b = PacketBatch.from_packets([p])
    assert w.run("encapsulate", b) == 1
    b.reset_verdicts()
    assert w.run("decapsulate_mn", b) == 1
    got = b.packet(0)
    assert got[:7] == p[:7] and got[8:] == p[8:] and checksum_ok(got)
    # and the other way: reverse tunnel, then the home agent's exit
    q = data_packet(HOA, CN, proto, size)
    b = PacketBatch.from_packets([q])
    assert w.run("reverse_tunnel", b) == 1
    b.reset_verdicts()
    assert w.run("decapsulate_ha", b) == 1
    assert checksum_ok(b.packet(0))


@pytest.mark.parametrize("proto", sorted(TRANSPORTS))
@pytest.mark.parametrize("size", [0, 3, 100, 1201])
def test_checksums_survive_hao_insert_and_process(proto, size):
    w = World()
    p = data_packet(HOA, CN, proto, size)
    b = PacketBatch.from_packets([p])
    assert w.run("insert_hao", b) == 1
    wire = b.packet(0)
    assert wire[8:24] == COA and checksum_ok(wire)          # HAO rule: the home address is the source
    assert not checksum_ok(wire, as_received=True)       # ... and it matters: the care-of address fails
    b.reset_verdicts()
    assert w.run("process_hao", b) == 1
    got = b.packet(0)
    assert got[8:24] == HOA and checksum_ok(got, as_received=True)
    if proto == "icmpv6":
        _packet.parse(wire)                                  # the codec's own HAO-rule verification


@pytest.mark.parametrize("proto", sorted(TRANSPORTS))
@pytest.mark.parametrize("size", [0, 3, 100, 1201])
def test_checksums_survive_rh2_insert_and_process(proto, size):
    w = World()
    p = data_packet(CN, HOA, proto, size)
    b = PacketBatch.from_packets([p])
    assert w.run("insert_rh2", b) == 1
    wire = b.packet(0)
    assert wire[24:40] == COA and checksum_ok(wire)
    b.reset_verdicts()
    assert w.run("process_rh2", b) == 1
    got = b.packet(0)
    assert got[24:40] == HOA and checksum_ok(got, as_received=True)
    if proto == "icmpv6":
        _packet.parse(wire)


def test_checksum_check_can_fail():
    """The checksum helper is not vacuous: the care-of address in the pseudo-header breaks it."""
    p = data_packet(HOA, CN, "tcp", 10)
    moved = p[:8] + COA + p[24:]
    assert checksum_ok(p) and not checksum_ok(moved)
    assert ones_complement_checksum(b"\xff\xff") == 0


# ---- the Python API ----------------------------------------------------------------------------------------

def test_counters_are_per_kernel_and_summed():
    w = World()
    b = PacketBatch.from_packets([data_packet(CN, HOA), data_packet(CN, OTHER_HOA), b"\x60"])
    w.ha.encapsulate(b)
    c = w.ha.counters
    assert (c[R.FORWARDED], c[R.NO_BINDING], c[R.TRUNCATED]) == (1, 1, 1)
    assert sum(c.values()) == 3
    assert w.ha.kernel_counters("decapsulate")[R.FORWARDED] == 0
    w.ha.reset_counters()
    assert sum(w.ha.counters.values()) == 0


def test_configuration_is_checked():
    cache = BindingCache(16, seed=1)
    bul = BindingCache(32, seed=1)
    with pytest.raises(ValueError):
        HomeAgentDataPath(cache, HA, tunnel_mtu=1319)      # 1319 - 40 < 1280 (RFC 2473 §7.1)
    with pytest.raises(ValueError):
        HomeAgentDataPath(cache, HA, tunnel_mtu=65536)
    with pytest.raises(ValueError):
        HomeAgentDataPath(cache, HA, flow_label=1 << 20)
    with pytest.raises(ValueError):
        HomeAgentDataPath(bul, HA)                          # 32-byte keys: a binding update list
    with pytest.raises(ValueError):
        MobileNodeDataPath([HOA], COA, HA, cache)           # 16-byte keys: not a binding update list
    with pytest.raises(ValueError):
        MobileNodeDataPath([], COA, HA, bul)
    with pytest.raises(ValueError):
        CorrespondentDataPath(cache, mtu=1279)
    with pytest.raises(TypeError):
        HomeAgentDataPath(object(), HA)
    ha = HomeAgentDataPath(cache.table, "2001:db8:1::1")     # the table itself is accepted too
    assert ha.home_agent_address == IPv6Address(HA)


def test_every_reason_has_its_verdict_in_the_kernels():
    """A kernel never pairs a reason with another verdict than VERDICT_OF says (checked on a mixed batch)."""
    w = World()
    pkts = [data_packet(CN, HOA), data_packet(CN, OTHER_HOA), data_packet(LL, HOA), b"\x60" * 41,
            data_packet(CN, HOA, hop_limit=1), data_packet(CN, HOA, "udp", 1500)]
    b = PacketBatch.from_packets(pkts)
    w.run("encapsulate", b)
    for v, r in zip(b.verdicts(), b.reasons()):
        assert VERDICT_OF[r] == v
