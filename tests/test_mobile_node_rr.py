"""Return routability on the mobile node (RFC 6275 §5.2, §11.6, §11.7.2-§11.7.3), sans-I/O with
hand-built frames: the Home Test Init through the reverse tunnel and the Care-of Test Init directly,
their retransmission, the Home / Care-of Test checks, the BU's Nonce Indices and Binding Authorization
Data (its authenticator recomputed here with hmac/hashlib), the BA's authenticator, statuses 136-138,
tokens reused within MAX_TOKEN_LIFETIME (a refresh, a move, the de-registration back home) and the
fallback from a correspondent without Mobile IPv6. The correspondent is played by the test: its
tokens come from a fixed Kcn and nonce by the RFC's formula."""
import hashlib
import hmac
import struct
from ipaddress import IPv6Address

from helpers.mobile_node import (
    A_MAC,
    B_MAC,
    CN,
    COA_A,
    COA_B,
    HA,
    HA_MAC,
    HOA,
    MN_MAC,
    MS,
    T_BU,
    S,
    attach_foreign,
    ba,
    bus,
    frame,
    go_home,
    make_mn,
    move_to_b,
    notes,
    packets,
    tick_answering,
)

from mip6fast.roles.mobile_node import Moved, Registered
from mip6fast.roles.registration import KeygenState, PeerState
from mip6fast.roles.route_optimization import (
    ALWAYS,
    MAX_RR_RERUNS,
    RouteOptimisationStarted,
    RouteOptimisationStopped,
    RouteOptimizationConfig,
)
from mip6fast.wire import (
    ALL_NODES,
    BindingAcknowledgement,
    BindingAuthorizationData,
    BindingError,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    NeighborAdvertisement,
    NonceIndices,
    Packet,
    ParameterProblem,
    TargetLinkLayerAddress,
    parse,
)
from mip6fast.wire.ethernet import ipv6_multicast_mac

KCN = bytes(range(100, 120))
NONCES = {7: bytes.fromhex("0707070707070707"), 8: bytes.fromhex("0808080808080808"),
          9: bytes.fromhex("0909090909090909")}


def keygen(address, index, which):
    """First(64, HMAC_SHA1(Kcn, address | nonce | 0 or 1)), RFC 6275 §5.2.5, computed here."""
    return hmac.new(KCN, IPv6Address(address).packed + NONCES[index] + bytes([which]), hashlib.sha1).digest()[:8]


def first96(kbm, care_of, mh_data):
    return hmac.new(kbm, IPv6Address(care_of).packed + CN.packed + mh_data, hashlib.sha1).digest()[:12]


def mh_of(raw):
    """The Mobility Header of an IPv6 packet (after any extension headers)."""
    nh, off = raw[6], 40
    while nh in (0, 43, 60):
        nh, off = raw[off], off + (raw[off + 1] + 1) * 8
    assert nh == 135
    return raw[off:]


def sent_tests(out):
    """(HoTIs as (outer, inner, raw outer), CoTIs as (packet, raw)) in a node's output."""
    hotis, cotis = [], []
    for _, p, raw in packets(out):
        if raw[6] == 41 and isinstance(p.payload, Packet) and isinstance(p.payload.payload, HomeTestInit):
            hotis.append((p, p.payload, raw))
        elif isinstance(p.payload, HomeTestInit):
            hotis.append((None, p, raw))
        elif isinstance(p.payload, CareOfTestInit):
            cotis.append((p, raw))
    return hotis, cotis


def cn_bus(out):
    return [(p, raw) for p, raw in bus(out) if p.dst == CN]


def hot_frame(cookie, index=7, home=HOA, tunnelled=True, router_mac=A_MAC, care_of=COA_A):
    inner = Packet(src=CN, dst=home, hop_limit=63, payload=HomeTest(index, cookie, keygen(home, index, 0)))
    if not tunnelled:
        return frame(router_mac, MN_MAC, inner)
    return frame(router_mac, MN_MAC, Packet(src=HA, dst=care_of, payload=inner))


def cot_frame(cookie, index=7, care_of=COA_A, router_mac=A_MAC, dst=None):
    return frame(router_mac, MN_MAC, Packet(src=CN, dst=dst or care_of, payload=CareOfTest(
        index, cookie, keygen(care_of, index, 1))))


def signed_ba(status, sequence, kbm, care_of=COA_A, lifetime=420, router_mac=A_MAC, rh2=HOA, dst=None):
    """A correspondent's BA with Binding Authorization Data, its authenticator computed here over the
    BA laid out by hand (12 bytes, PadN(4), BAD type and length)."""
    mh_data = (bytes([59, 3, 6, 0, 0, 0, status, 0]) + struct.pack("!HH", sequence, lifetime // 4)
               + bytes([1, 4, 0, 0, 0, 0, 5, 12]))
    msg = BindingAcknowledgement(status, sequence, lifetime,
                                 options=(BindingAuthorizationData(first96(kbm, care_of, mh_data)),))
    return frame(router_mac, MN_MAC, Packet(src=CN, dst=dst or care_of, rh2=rh2, payload=msg))


def plain_ba(status, sequence, care_of=COA_A, lifetime=0):
    return frame(A_MAC, MN_MAC, Packet(src=CN, dst=care_of, rh2=HOA, payload=BindingAcknowledgement(
        status, sequence, lifetime)))


def rr_mn(**ro):
    """Registered from link A at T_BU + 10 ms with CN "always": returns the node and the output of
    the home BA (where the tests leave)."""
    ro.setdefault("peers", {CN: ALWAYS})
    mn = make_mn(route_optimization=RouteOptimizationConfig(**ro))
    out = attach_foreign(mn)
    (bu, _), = bus(out)
    out = mn.receive(T_BU + 10 * MS, "eth0", ba(0, bu.payload.sequence))
    assert notes(out, Registered)
    return mn, out


def complete(mn, out, t, home_index=7, care_of_index=7):
    """Answer the HoTI and CoTI in ``out`` at ``t``; returns the output with the BU."""
    (_, hoti, _), = sent_tests(out)[0]
    (coti, _), = sent_tests(out)[1]
    assert not cn_bus(mn.receive(t, "eth0", hot_frame(hoti.payload.cookie, home_index)))
    return mn.receive(t + MS, "eth0", cot_frame(coti.payload.cookie, care_of_index))


def kbm(home_index=7, care_of_index=7, care_of=COA_A):
    return hashlib.sha1(keygen(HOA, home_index, 0) + keygen(care_of, care_of_index, 1)).digest()


def optimised(**ro):
    """RR done and the BU acknowledged (20 ms after registration): (node, the BU packet)."""
    mn, out = rr_mn(**ro)
    (bu, _), = cn_bus(complete(mn, out, T_BU + 15 * MS))
    out = mn.receive(T_BU + 20 * MS, "eth0", signed_ba(0, bu.payload.sequence, kbm(), lifetime=bu.payload.lifetime))
    assert notes(out, RouteOptimisationStarted)
    return mn, bu


# ---------------------------------------------------------------- the tests and the BU (§11.6, §11.7.2)

def test_home_test_init_through_the_tunnel_and_care_of_test_init_direct():
    mn, out = rr_mn()
    hotis, cotis = sent_tests(out)
    (outer, inner, raw), = hotis
    # §11.6.1: HoTI from the home address, reverse-tunnelled (outer care-of -> home agent), no HAO.
    assert raw[6] == 41 and outer.src == COA_A and outer.dst == HA
    assert inner.src == HOA and inner.dst == CN and inner.home_address is None
    (coti, raw), = cotis
    assert coti.src == COA_A and coti.dst == CN and coti.home_address is None and raw[6] == 135
    assert inner.payload.cookie != coti.payload.cookie
    assert not cn_bus(out)                                   # the BU waits for both tokens
    assert mn.counters["mn.rr.hoti_sent"] == mn.counters["mn.rr.coti_sent"] == 1
    b = mn.route_optimization.bindings[(CN, HOA)]
    assert b.state is PeerState.BINDING and b.home_test.state is KeygenState.TESTING


def test_the_bu_carries_nonce_indices_and_an_authenticator_made_from_both_tokens():
    mn, out = rr_mn()
    (_, hoti, _), = sent_tests(out)[0]
    (coti, _), = sent_tests(out)[1]
    # The care-of test answers first: still waiting for the home token.
    assert not cn_bus(mn.receive(T_BU + 12 * MS, "eth0", cot_frame(coti.payload.cookie, index=8)))
    out = mn.receive(T_BU + 15 * MS, "eth0", hot_frame(hoti.payload.cookie, index=7))
    (bu, raw), = cn_bus(out)
    assert bu.src == COA_A and bu.home_address == HOA
    m = bu.payload
    assert not m.home and not m.key_management and m.ack and m.lifetime == 420
    assert m.options[0] == NonceIndices(7, 8) and isinstance(m.options[-1], BindingAuthorizationData)
    mh = mh_of(raw)
    key = hashlib.sha1(keygen(HOA, 7, 0) + keygen(COA_A, 8, 1)).digest()
    assert mh[-12:] == first96(key, COA_A, mh[:4] + b"\0\0" + mh[6:-12])
    assert mn.counters["mn.rr.hot_accepted"] == mn.counters["mn.rr.cot_accepted"] == 1


def test_the_ba_must_carry_a_correct_authenticator():
    mn, out = rr_mn()
    (bu, _), = cn_bus(complete(mn, out, T_BU + 15 * MS))
    seq = bu.payload.sequence
    for bad in (plain_ba(0, seq, lifetime=420), signed_ba(0, seq, bytes(20)),
                signed_ba(0, seq, kbm(), care_of=COA_B, dst=COA_A)):
        out = mn.receive(T_BU + 20 * MS, "eth0", bad)
        assert not notes(out, RouteOptimisationStarted)
    assert mn.counters["drop.mn.ro.ba_authenticator"] == 3 and (CN, HOA) not in mn.binding_update_list
    out = mn.receive(T_BU + 21 * MS, "eth0", signed_ba(0, seq, kbm()))
    assert notes(out, RouteOptimisationStarted)


def test_a_home_test_must_come_out_of_the_tunnel_with_the_latest_cookie():
    mn, out = rr_mn()
    (_, hoti, _), = sent_tests(out)[0]
    cookie = hoti.payload.cookie
    # Straight to the home address while away: not even for this node's interface (the home agent
    # owns the address on the home link); had it reached the signalling path, hot_not_tunnelled.
    mn.receive(T_BU + 12 * MS, "eth0", hot_frame(cookie, tunnelled=False))
    mn.receive(T_BU + 12 * MS, "eth0", hot_frame(bytes(8)))
    assert mn.counters["drop.mn.rr.hot_not_tunnelled"] + mn.counters["drop.not_for_us"] == 1
    assert mn.counters["drop.mn.rr.hot_cookie"] == 1
    # From someone else (tunnelled by the home agent all the same): nothing under way with it.
    other = Packet(src=IPv6Address("2001:db8:77::7"), dst=HOA, payload=HomeTest(7, cookie, bytes(8)))
    mn.receive(T_BU + 12 * MS, "eth0", frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=other)))
    assert mn.counters["drop.mn.rr.hot_unexpected"] == 1
    assert mn.route_optimization.bindings[(CN, HOA)].home_test.token is None
    mn.receive(T_BU + 13 * MS, "eth0", hot_frame(cookie))
    assert mn.counters["mn.rr.hot_accepted"] == 1
    # Answered: a second copy is unexpected.
    mn.receive(T_BU + 14 * MS, "eth0", hot_frame(cookie))
    assert mn.counters["drop.mn.rr.hot_unexpected"] == 2


def test_a_care_of_test_must_echo_the_cookie_to_the_care_of_address():
    mn, out = rr_mn()
    (coti, _), = sent_tests(out)[1]
    mn.receive(T_BU + 12 * MS, "eth0", cot_frame(bytes(8)))
    mn.receive(T_BU + 12 * MS, "eth0", cot_frame(coti.payload.cookie, dst=IPv6Address("2001:db8:a::77")))
    assert mn.counters["drop.mn.rr.cot_cookie"] == 1
    assert mn.counters["drop.mn.rr.cot_wrong_address"] + mn.counters["drop.not_for_us"] >= 1
    mn.receive(T_BU + 13 * MS, "eth0", cot_frame(coti.payload.cookie))
    assert mn.counters["mn.rr.cot_accepted"] == 1


def test_test_inits_are_retransmitted_with_new_cookies_then_given_up():
    mn, out = rr_mn(hold_down_ns=100 * S)
    (_, hoti, _), = sent_tests(out)[0]
    cookies, times, stopped = [hoti.payload.cookie], [T_BU + 10 * MS], []
    (coti, _), = sent_tests(out)[1]
    mn.receive(T_BU + 12 * MS, "eth0", cot_frame(coti.payload.cookie))     # only the home test lacks
    t = T_BU + 10 * MS
    while t < T_BU + 100 * S:
        t += 100 * MS
        out = tick_answering(mn, t)
        for _, inner, _ in sent_tests(out)[0]:
            cookies.append(inner.payload.cookie)
            times.append(t)
        assert not sent_tests(out)[1]
        stopped += notes(out, RouteOptimisationStopped)
    gaps = [round((b - a) / S) for a, b in zip(times, times[1:])]
    assert gaps == [1, 2, 4, 8, 16]                          # §11.8, as for a BU
    assert len(set(cookies)) == len(cookies)                # a new cookie each time
    (stop,) = stopped
    assert stop.reason == "no_home_test" and stop.now == times[-1] + 32 * S
    assert mn.counters["mn.rr.hoti_retransmitted"] == 5 and mn.counters["mn.rr.hoti_unanswered"] == 1
    assert mn.route_optimization.state_of(CN) is PeerState.HELD_DOWN


# ---------------------------------------------------------------- 136-138 (§11.7.3)

def test_expired_nonces_run_the_named_tests_again():
    for status, home_again, care_of_again in ((136, 1, 0), (137, 0, 1), (138, 1, 1)):
        mn, out = rr_mn()
        (bu, _), = cn_bus(complete(mn, out, T_BU + 15 * MS))
        out = mn.receive(T_BU + 20 * MS, "eth0", plain_ba(status, bu.payload.sequence))  # no BAD possible
        hotis, cotis = sent_tests(out)
        assert (len(hotis), len(cotis)) == (home_again, care_of_again), status
        assert not cn_bus(out) and mn.counters[f"mn.rr.rerun.{status}"] == 1
        # New tokens (index 9 for what was tested again): the BU goes with them.
        t = T_BU + 25 * MS
        for _, inner, _ in hotis:
            out = mn.receive(t, "eth0", hot_frame(inner.payload.cookie, index=9))
        for coti, _ in cotis:
            out = mn.receive(t, "eth0", cot_frame(coti.payload.cookie, index=9))
        (bu2, _), = cn_bus(out)
        assert bu2.payload.options[0] == NonceIndices(9 if home_again else 7, 9 if care_of_again else 7)
        assert bu2.payload.sequence == (bu.payload.sequence + 1) % 65536


def test_a_correspondent_that_keeps_forgetting_its_nonces_is_held_down():
    mn, out = rr_mn(hold_down_ns=10 * S)
    out = complete(mn, out, T_BU + 15 * MS)
    t = T_BU + 20 * MS
    for k in range(MAX_RR_RERUNS + 1):
        (bu, _), = cn_bus(out)
        out = mn.receive(t, "eth0", plain_ba(136, bu.payload.sequence))
        t += S                               # past the per-destination limits (3 a second)
        if k < MAX_RR_RERUNS:
            (_, hoti, _), = sent_tests(out)[0]
            out = mn.receive(t, "eth0", hot_frame(hoti.payload.cookie))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "ba_status_136" and mn.route_optimization.state_of(CN) is PeerState.HELD_DOWN


# ---------------------------------------------------------------- tokens kept (§5.2.7, §11.6.1)

def test_a_refresh_within_the_token_lifetime_needs_no_test():
    mn, _ = optimised(lifetime=100)
    b = mn.route_optimization.bindings[(CN, HOA)]
    # Granted 100 s from the BU at T_BU + 16 ms: refreshed 10 s early, tokens 90 s old.
    out = tick_answering(mn, T_BU + 16 * MS + 90 * S)
    hotis, cotis = sent_tests(out)
    assert not hotis and not cotis
    (bu, _), = cn_bus(out)
    assert bu.payload.options[0] == NonceIndices(7, 7)
    assert mn.counters["mn.rr.home_token_reused"] == mn.counters["mn.rr.care_of_token_reused"] == 1
    out = mn.receive(T_BU + 91 * S, "eth0", signed_ba(0, bu.payload.sequence, kbm(), lifetime=100))
    assert b.state is PeerState.OPTIMISED and mn.counters["mn.ro.refreshed"] == 1


def test_a_refresh_after_the_token_lifetime_runs_both_tests_and_the_binding_stays_usable():
    mn, _ = optimised()
    # 420 s granted from the BU at T_BU + 16 ms: refreshed 42 s early, tokens long past 210 s.
    t = T_BU + 16 * MS + 378 * S
    out = tick_answering(mn, t)
    hotis, cotis = sent_tests(out)
    assert len(hotis) == len(cotis) == 1 and not cn_bus(out)
    assert mn.route_optimization.state_of(CN) is PeerState.OPTIMISED
    assert (CN, HOA) in mn.binding_update_list
    (_, hoti, _), = hotis
    (coti, _), = cotis
    mn.receive(t + 10 * MS, "eth0", hot_frame(hoti.payload.cookie, index=8))
    (bu, _), = cn_bus(mn.receive(t + 11 * MS, "eth0", cot_frame(coti.payload.cookie, index=8)))
    assert bu.payload.options[0] == NonceIndices(8, 8)


def move_until_moved(mn, t):
    """To link B at ``t``, ticking until the node takes care-of address B: (that output, its time)."""
    move_to_b(mn, t)
    for k in range(1, 60):
        t_moved = t + 200 * MS + k * 100 * MS
        out = mn.tick(t_moved)
        if notes(out, Moved):
            return out, t_moved
    raise AssertionError("no Moved")


def home_ba_b(mn, t):
    seq = mn.registrations[HOA].outstanding
    return mn.receive(t, "eth0", frame(B_MAC, MN_MAC, Packet(
        src=HA, dst=COA_B, rh2=HOA, payload=BindingAcknowledgement(status=0, sequence=seq, lifetime=600))))


def test_after_a_move_only_the_care_of_test_is_repeated_in_parallel_with_the_home_registration():
    mn, _ = optimised()
    out, t_moved = move_until_moved(mn, 10 * S)
    # The new care-of address: the home BU and the Care-of Test Init leave together (issue 14: the care-of
    # test does not wait for the home registration); no home test (the home token is reused).
    hotis, cotis = sent_tests(out)
    assert not hotis and not cn_bus(out)
    assert [p.dst for p, _ in bus(out)] == [HA]
    (coti, _), = cotis
    assert coti.src == COA_B and mn.counters["mn.ro.care_of_test_early"] == 1
    # The Care-of Test comes back first: no BU to the correspondent before the home agent accepted the
    # care-of address (§11.7.2).
    out = mn.receive(t_moved + 5 * MS, "eth0", cot_frame(coti.payload.cookie, index=8, care_of=COA_B,
                                                          router_mac=B_MAC))
    assert not cn_bus(out)
    # The home BA: the correspondent's BU leaves in the same instant, with both tokens.
    t = t_moved + 10 * MS
    out = home_ba_b(mn, t)
    assert notes(out, Registered)
    (bu, raw), = cn_bus(out)
    assert bu.src == COA_B and bu.payload.options[0] == NonceIndices(7, 8)
    assert mn.counters["mn.rr.home_token_reused"] == 1 and mn.counters["mn.rr.care_of_token_reused"] == 1
    key = hashlib.sha1(keygen(HOA, 7, 0) + keygen(COA_B, 8, 1)).digest()
    mh = mh_of(raw)
    assert mh[-12:] == first96(key, COA_B, mh[:4] + b"\0\0" + mh[6:-12])
    out = mn.receive(t + 5 * MS, "eth0", signed_ba(0, bu.payload.sequence, key, care_of=COA_B, router_mac=B_MAC))
    (started,) = notes(out, RouteOptimisationStarted)
    assert started.care_of == COA_B


def test_a_care_of_test_answered_after_the_home_registration_sends_the_bu_then():
    mn, _ = optimised()
    out, t_moved = move_until_moved(mn, 10 * S)
    (coti, _), = sent_tests(out)[1]
    out = home_ba_b(mn, t_moved + 10 * MS)
    assert notes(out, Registered) and not cn_bus(out) and not sent_tests(out)[1]    # the test under way goes on
    out = mn.receive(t_moved + 15 * MS, "eth0", cot_frame(coti.payload.cookie, index=8, care_of=COA_B,
                                                           router_mac=B_MAC))
    (bu, _), = cn_bus(out)
    assert bu.src == COA_B and bu.payload.options[0] == NonceIndices(7, 8)


def home_and_deregister(mn, t):
    """Back home; the home agent's de-registration is acknowledged: returns that output."""
    go_home(mn, t)
    na = Packet(src=HA, dst=ALL_NODES, hop_limit=255, payload=NeighborAdvertisement(
        target=HA, router=True, solicited=False, override=True, options=(TargetLinkLayerAddress(HA_MAC),)))
    (home_bu, _), = bus(mn.receive(t + 210 * MS, "eth0", frame(HA_MAC, ipv6_multicast_mac(ALL_NODES.packed), na)))
    return mn.receive(t + 230 * MS, "eth0", frame(HA_MAC, MN_MAC, Packet(
        src=HA, dst=HOA, payload=BindingAcknowledgement(status=0, sequence=home_bu.payload.sequence, lifetime=0))))


def test_back_home_the_deregistration_is_signed_with_the_home_token_alone():
    mn, _ = optimised()
    out = home_and_deregister(mn, 10 * S)
    assert sent_tests(out) == ([], [])                       # the home token is 10 s old: reused
    (bu, raw), = cn_bus(out)
    assert bu.src == HOA and bu.home_address is None and bu.payload.lifetime == 0
    assert bu.payload.options[0] == NonceIndices(7, 0)
    key = hashlib.sha1(keygen(HOA, 7, 0)).digest()
    mh = mh_of(raw)
    assert mh[-12:] == first96(key, HOA, mh[:4] + b"\0\0" + mh[6:-12])
    b = mn.route_optimization.bindings[(CN, HOA)]
    mn.receive(10 * S + 240 * MS, "eth0", signed_ba(0, bu.payload.sequence, key, care_of=HOA, lifetime=0,
                                                      router_mac=HA_MAC, rh2=None, dst=HOA))
    assert b.state is PeerState.IDLE and mn.counters["mn.ro.deregistered"] == 1


def test_back_home_with_an_old_home_token_a_home_test_goes_from_home():
    mn, _ = optimised()
    t = 300 * S
    for k in range(1, 30):                          # keep router A as default router until then
        tick_answering(mn, k * 10 * S)
    out = home_and_deregister(mn, t)
    (outer, hoti, raw), = sent_tests(out)[0]
    assert outer is None and raw[6] == 135 and hoti.src == HOA and hoti.dst == CN     # not tunnelled
    assert not sent_tests(out)[1] and not cn_bus(out)
    out = mn.receive(t + 250 * MS, "eth0", hot_frame(hoti.payload.cookie, index=9, tunnelled=False, router_mac=HA_MAC))
    (bu, _), = cn_bus(out)
    assert bu.payload.options[0] == NonceIndices(9, 0) and bu.payload.lifetime == 0


# ---------------------------------------------------------------- fallback and tunnel signalling

def test_parameter_problem_about_the_care_of_test_init_falls_back():
    mn, out = rr_mn(hold_down_ns=30 * S)
    (_, raw), = sent_tests(out)[1]
    pp = Packet(src=CN, dst=COA_A, payload=ParameterProblem(code=1, pointer=6, invoking=raw))
    out = mn.receive(T_BU + 12 * MS, "eth0", frame(A_MAC, MN_MAC, pp))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "parameter_problem_mobility_header"
    b = mn.route_optimization.bindings[(CN, HOA)]
    assert b.state is PeerState.HELD_DOWN and b.home_test.state is KeygenState.IDLE
    assert not sent_tests(mn.tick(T_BU + 5 * S))[0]          # no retransmission after the fallback


def test_other_mobility_headers_out_of_the_tunnel_are_dropped_not_delivered():
    mn, _ = rr_mn()
    inner = Packet(src=CN, dst=HOA, hop_limit=63, payload=BindingUpdate(1, 4))
    out = mn.receive(T_BU + 12 * MS, "eth0", frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=inner)))
    assert out.deliveries == [] and mn.counters["drop.mn.tunnelled_mh.BindingUpdate"] == 1
    # A Binding Error status 2 about the Home Test Init (a correspondent that does not know it).
    inner = Packet(src=CN, dst=HOA, hop_limit=63, payload=BindingError(status=2))
    out = mn.receive(T_BU + 13 * MS, "eth0", frame(A_MAC, MN_MAC, Packet(src=HA, dst=COA_A, payload=inner)))
    (stop,) = notes(out, RouteOptimisationStopped)
    assert stop.reason == "binding_error_unrecognised_mh_type"


def test_a_whole_exchange_is_not_held_back_by_the_rate_limit():
    mn, out = rr_mn()
    # HoTI and CoTI left at T_BU + 10 ms; the BU within the same second is not held back (§11.8:
    # a window per message type).
    out = complete(mn, out, T_BU + 15 * MS)
    assert len(cn_bus(out)) == 1 and mn.counters["mn.ro.bu_rate_limited"] == 0
    assert parse(cn_bus(out)[0][1]).payload.lifetime == 420
