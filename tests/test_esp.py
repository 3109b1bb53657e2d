"""The ESP engine (mip6fast.security, docs/SECURITY.md): layout of protected packets, round trips,
the anti-replay window, sequence numbers, the home-address binding of SAs, counters, and keys kept
out of every printable form. Interoperability with scapy: test_esp_scapy.py; published AES-GCM
vectors: test_esp_vectors.py; key files: test_esp_keys.py; fuzzing: test_esp_fuzz.py."""
from __future__ import annotations

import ast
import copy
import pathlib
import pickle
import struct

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from esp_fixtures import (
    ALGORITHMS,
    COA,
    HA,
    HOME,
    OTHER_HOME,
    ba,
    bu,
    keys,
    mpa,
    mps,
    sa_pair,
    tunnelled_hot,
    tunnelled_hoti,
)

import mip6fast.security
from mip6fast.security import (
    Algorithm,
    AuthenticationFailed,
    Direction,
    DummyPacket,
    EspError,
    MalformedPacket,
    Mode,
    NoSecurityAssociation,
    NotProtected,
    PolicyViolation,
    ReplayedPacket,
    ReplayWindow,
    SecurityAssociation,
    SecurityPolicyDatabase,
    SequenceExhausted,
    UnknownSpi,
    bench,
    is_protected,
    protect,
    seal,
    unprotect,
)
from mip6fast.security.esp import esp_length
from mip6fast.wire import Packet, Raw, parse

TRANSPORT_CASES = [("bu", bu, True), ("mps", mps, True), ("ba", ba, False), ("mpa", mpa, False)]
TUNNEL_CASES = [("hoti", tunnelled_hoti, True), ("hot", tunnelled_hot, False)]


def lookup(*sas):
    return {sa.spi: sa for sa in sas}.get


def _esp_offset(packet: bytes) -> int:
    """Where ESP starts, found independently of the module: walk next headers 0/43/60."""
    nh, off = packet[6], 40
    while nh in (0, 43, 60):
        nh, off = packet[off], off + (packet[off + 1] + 1) * 8
    assert nh == 50
    return off


# --- round trips and layout -----------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("name,build,from_mn", TRANSPORT_CASES, ids=[c[0] for c in TRANSPORT_CASES])
def test_transport_round_trip(algorithm, name, build, from_mn):
    out, inb = sa_pair(algorithm, from_mn=from_mn)
    plain = build()
    protected = protect(plain, out)
    assert is_protected(protected) and not is_protected(plain)
    result = unprotect(protected, lookup(inb))
    assert result.packet == plain
    assert parse(result.packet) == parse(plain)
    assert result.sa is inb and result.sequence == 1
    assert result.next_header == plain[40] and result.offset == 64
    assert (out.counters.packets, out.counters.bytes) == (1, len(plain))
    assert (inb.counters.packets, inb.counters.bytes) == (1, len(plain))


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("name,build,from_mn", TUNNEL_CASES, ids=[c[0] for c in TUNNEL_CASES])
def test_tunnel_round_trip(algorithm, name, build, from_mn):
    out, inb = sa_pair(algorithm, from_mn=from_mn, mode=Mode.TUNNEL)
    plain = build()
    protected = protect(plain, out)
    assert protected[6] == 50 and protected[:6] == plain[:4] + protected[4:6]   # ESP right after outer
    assert protected[8:40] == plain[8:40]
    result = unprotect(protected, lookup(inb))
    assert result.packet == plain and result.next_header == 41 and result.offset == 40
    assert result.inner == plain[40:]
    assert parse(result.packet) == parse(plain)


def test_bu_layout_null_encryption():
    """NULL encryption leaves the payload readable, so every byte of RFC 4303 §2's layout is checked:
    HAO destination options header kept before ESP with next header 50, Payload Length, SPI, sequence,
    the Mobility Header, padding 1, 2, ..., pad length, next header 135, a 16-octet ICV that is
    HMAC-SHA-256 over SPI..next header (computed here with cryptography directly)."""
    out, _ = sa_pair(Algorithm.NULL_HMAC_SHA256, spi=0x12345678)
    plain = bu()
    p = protect(plain, out)
    assert _esp_offset(p) == 64                          # IPv6 (40) + dest. options with the HAO (24)
    assert p[40] == 50 and plain[40] == 135              # dest. options' next header now ESP
    assert p[:40][:4] == plain[:4] and p[8:40] == plain[8:40] and p[41:64] == plain[41:64]
    assert struct.unpack("!H", p[4:6])[0] == len(p) - 40
    mh = plain[64:]
    assert struct.unpack("!II", p[64:72]) == (0x12345678, 1)
    pad = (-(len(mh) + 2)) % 4
    body = p[72:-16]
    assert body == mh + bytes(range(1, pad + 1)) + bytes([pad, 135])
    assert len(body) % 4 == 0
    _, auth_key = keys(Algorithm.NULL_HMAC_SHA256)
    mac = hmac.HMAC(auth_key, hashes.SHA256())
    mac.update(p[64:-16])
    assert p[-16:] == mac.finalize()[:16]
    assert len(p) == 64 + esp_length(out, len(mh))


def test_ba_layout_esp_after_type2_routing_header():
    out, _ = sa_pair(Algorithm.AES_128_GCM, from_mn=False)
    plain = ba()
    p = protect(plain, out)
    assert plain[6] == 43 and p[6] == 43 and p[40] == 50          # RH2 then ESP
    assert p[41:64] == plain[41:64]                                # RH2 itself unchanged
    assert _esp_offset(p) == 64


def test_tunnel_trailer_next_header_is_41():
    out, _ = sa_pair(Algorithm.NULL_HMAC_SHA256, mode=Mode.TUNNEL)
    plain = tunnelled_hoti()
    p = protect(plain, out)
    body = p[48:-16]
    assert body[-1] == 41 and body[:len(plain) - 40] == plain[40:]


def test_destination_options_without_hao_go_inside_esp():
    """RFC 4303 §3.1.1: end-to-end destination options after ESP; with a HAO in the same header (the
    only way mip6fast.wire lays them out) the header stays before ESP (RFC 6275 §6.3)."""
    out, inb = sa_pair(Algorithm.NULL_HMAC_SHA256, from_mn=False, mode=Mode.TRANSPORT)
    plain = Packet(src=HA, dst=COA, rh2=HOME, destination_options=[(0x1e, b"xy")],
                   payload=parse(ba()).payload).to_bytes()
    p = protect(plain, out)
    assert p[40] == 50                                   # ESP right after RH2, before the options
    assert p[72:74] == plain[64:66]                      # the destination options header, in clear here
    assert unprotect(p, lookup(inb)).packet == plain
    out2, _ = sa_pair(Algorithm.NULL_HMAC_SHA256, seed=1)
    with_hao = Packet(src=COA, dst=HA, home_address=HOME, destination_options=[(0x1e, b"xy")],
                      payload=parse(bu()).payload).to_bytes()
    p2 = protect(with_hao, out2)
    assert p2[6] == 60 and p2[40] == 50


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_sequence_numbers_increase_and_iv_policy(algorithm):
    out, inb = sa_pair(algorithm)
    ivs = set()
    for n in range(1, 201):
        p = protect(bu(sequence=n), out)
        at = _esp_offset(p)
        assert struct.unpack_from("!I", p, at + 4)[0] == n
        spec = algorithm.spec
        iv = p[at + 8:at + 8 + spec.iv]
        if spec.aead:
            # RFC 4106 §3.1: unique IVs; here the sequence number under a per-SA mask.
            assert int.from_bytes(iv, "big") ^ n == out._iv_mask
        ivs.add(iv)
        assert unprotect(p, lookup(inb)).sequence == n
    assert len(ivs) == (200 if algorithm.spec.iv else 1)
    assert out.sequence == 200 and inb.sequence == 200


def test_gcm_iv_masks_differ_between_sa_instances():
    """A restarted sender (a new SA object, same key, sequence from 1 again) uses other IVs."""
    a, _ = sa_pair(Algorithm.AES_128_GCM, rng_seed=1)
    b, _ = sa_pair(Algorithm.AES_128_GCM, rng_seed=2)
    pa, pb = protect(bu(), a), protect(bu(), b)
    assert pa[72:80] != pb[72:80]


# --- sequence number exhaustion (RFC 4303 §3.3.3) -------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_sequence_wrap_refused(algorithm):
    out, _inb = sa_pair(algorithm, sequence=2**32 - 2)
    inb_fresh = sa_pair(algorithm)[1]
    p = protect(bu(), out)
    assert struct.unpack_from("!I", p, 68)[0] == 2**32 - 1
    assert out.sequence_remaining == 0 and out.exhausted
    with pytest.raises(SequenceExhausted, match=r"RFC 4303 §3\.3\.3") as info:
        protect(bu(), out)
    assert info.value.reason == "sequence_exhausted" and info.value.spi == 0x1001
    with pytest.raises(SequenceExhausted):
        protect(bu(), out)
    assert out.counters.sequence_exhausted == 2 and out.counters.packets == 1
    assert out.sequence == 2**32 - 1
    assert unprotect(p, lookup(inb_fresh)).sequence == 2**32 - 1


def test_esn_crosses_2_to_the_32():
    """With extended sequence numbers the counter goes on past 2^32 (RFC 4303 §2.2.1); the receiver
    infers the high half (Appendix A2.2), out of order too."""
    out, inb = sa_pair(Algorithm.AES_128_GCM, esn=True, sequence=2**32 - 4)
    packets = [protect(bu(sequence=n), out) for n in range(8)]
    lows = [struct.unpack_from("!I", p, 68)[0] for p in packets]
    assert lows == [2**32 - 3, 2**32 - 2, 2**32 - 1, 0, 1, 2, 3, 4]
    order = [4, 0, 7, 1, 2, 6, 3, 5]
    got = [unprotect(packets[i], lookup(inb)).sequence for i in order]
    assert got == [2**32 - 4 + 1 + i for i in order]
    with pytest.raises(ReplayedPacket):
        unprotect(packets[3], lookup(inb))


def test_esn_sender_stops_at_2_to_the_64():
    out, _ = sa_pair(Algorithm.NULL_HMAC_SHA256, esn=True, sequence=2**64 - 1)
    with pytest.raises(SequenceExhausted):
        protect(bu(), out)


def test_esn_mismatch_fails_authentication():
    out, _ = sa_pair(Algorithm.AES_128_CBC_HMAC_SHA256, esn=True, sequence=2**32 + 5)
    _, inb = sa_pair(Algorithm.AES_128_CBC_HMAC_SHA256, esn=False)
    with pytest.raises(AuthenticationFailed):
        unprotect(protect(bu(), out), lookup(inb))


# --- anti-replay (RFC 4303 §3.4.3) ----------------------------------------------------------------------

def _stream(algorithm=Algorithm.AES_128_GCM, n=300, window=64, **kw):
    out, inb = sa_pair(algorithm, window=window, **kw)
    return [protect(bu(sequence=i % 65536), out) for i in range(n)], inb


def test_replay_in_window_out_of_order_accepted_once():
    packets, inb = _stream()
    get = lookup(inb)
    assert unprotect(packets[99], get).sequence == 100          # sequence numbers start at 1
    for i in range(98, 35, -1):                                 # 37..99: inside the 64-packet window
        assert unprotect(packets[i], get).sequence == i + 1
    for i in (36, 50, 99, 60):
        with pytest.raises(ReplayedPacket) as info:
            unprotect(packets[i], get)
        assert info.value.reason == "replay"
        assert info.value.duplicate == (i != 35) and info.value.sequence == i + 1
    assert inb.counters.replay_duplicates == 4 and inb.counters.packets == 64


def test_inbound_sa_resumes_above_a_stored_mark():
    """``advance`` on an inbound SA (a restarted receiver, journal.py): everything at or below the mark
    is a replay, the next number is accepted, and the mark never moves the window back."""
    packets, inb = _stream(n=10)
    inb.advance(5)
    get = lookup(inb)
    for i in (0, 4):                                            # sequences 1 and 5
        with pytest.raises(ReplayedPacket):
            unprotect(packets[i], get)
    assert unprotect(packets[5], get).sequence == 6
    inb.advance(2)
    assert inb.sequence == 6
    with pytest.raises(ValueError, match="32 bits"):
        inb.advance(1 << 32)


def test_replay_left_of_window_rejected_and_window_slides():
    packets, inb = _stream()
    get = lookup(inb)
    unprotect(packets[99], get)                                 # top = 100, window 37..100
    with pytest.raises(ReplayedPacket) as info:
        unprotect(packets[35], get)                             # sequence 36: one left of the window
    assert not info.value.duplicate
    unprotect(packets[36], get)                                 # 37: the window's left edge
    unprotect(packets[199], get)                                # top = 200: window 137..200
    with pytest.raises(ReplayedPacket):
        unprotect(packets[135], get)                            # 136 was inside before, not now
    assert unprotect(packets[136], get).sequence == 137
    unprotect(packets[299], get)                                # a jump wider than the window
    assert inb.counters.replay_too_old == 2
    assert unprotect(packets[240], get).sequence == 241         # 237..300
    with pytest.raises(ReplayedPacket):
        unprotect(packets[235], get)


def test_configurable_window():
    packets, inb = _stream(window=1024, n=1100)
    get = lookup(inb)
    unprotect(packets[1099], get)
    assert unprotect(packets[1099 - 1023], get).sequence == 77
    with pytest.raises(ReplayedPacket):
        unprotect(packets[1099 - 1024], get)
    for bad in (32, 63, 4097):
        with pytest.raises(ValueError, match="replay window"):
            sa_pair(Algorithm.AES_128_GCM, window=bad)


def test_forged_packets_do_not_move_the_window():
    packets, inb = _stream(algorithm=Algorithm.AES_256_CBC_HMAC_SHA256)
    get = lookup(inb)
    unprotect(packets[9], get)
    forged = bytearray(packets[199])
    forged[-1] ^= 1                                             # sequence 200, bad ICV
    with pytest.raises(AuthenticationFailed) as info:
        unprotect(bytes(forged), get)
    assert info.value.reason == "authentication_failed"
    assert inb.sequence == 10 and inb.counters.authentication_failures == 1
    assert unprotect(packets[5], get).sequence == 6             # still inside the unmoved window
    assert unprotect(packets[199], get).sequence == 200         # the genuine one is not a "replay"


def test_sequence_zero_is_never_accepted():
    w = ReplayWindow(64)
    assert w.check(0) is False and w.check(1) is None
    w_esn = ReplayWindow(64, esn=True)
    assert w_esn.infer(0) == 0 and w_esn.check(0) is False


def test_replay_window_against_a_model():
    """The bitmap against a set-based model of RFC 4303 §3.4.3, over a shuffled stream with repeats."""
    import random
    r = random.Random(7)
    for size in (64, 100, 1024):
        w = ReplayWindow(size)
        seen, top = set(), 0
        seqs = [max(1, s + r.randint(-size - 20, 5)) for s in range(1, 3000)]
        seqs += r.sample(seqs, 500)
        for s in seqs:
            if s > top:
                expect = None
            elif top - s >= size or s <= 0:
                expect = False
            else:
                expect = True if s in seen else None
            assert w.check(s) == expect, (size, s, top)
            if expect is None:
                w.accept(s)
                seen.add(s)
                top = max(top, s)
        assert w.top == top


def test_resumed_sequence():
    """``sequence`` resumes an SA after a restart: the sender goes on above it and the receiver treats
    everything up to it as already received."""
    out, inb = sa_pair(Algorithm.AES_128_GCM, sequence=5000)
    p = protect(bu(), out)
    assert struct.unpack_from("!I", p, 68)[0] == 5001
    assert unprotect(p, lookup(inb)).sequence == 5001
    old_out, _ = sa_pair(Algorithm.AES_128_GCM)
    with pytest.raises(ReplayedPacket):
        unprotect(protect(bu(), old_out), lookup(inb))          # a sender restarted at 1: dropped


# --- ICV, policy, malformed input -----------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_every_tampered_byte_after_the_sequence_number_fails_authentication(algorithm):
    out, inb = sa_pair(algorithm, window=4096)
    p = protect(bu(), out)
    get = lookup(inb)
    at = _esp_offset(p)
    failures = 0
    for i in range(at + 8, len(p)):
        bad = bytearray(p)
        bad[i] ^= 0x40
        try:
            unprotect(bytes(bad), get)
        except AuthenticationFailed:
            failures += 1
        except MalformedPacket:
            raise AssertionError("CBC length is unchanged: never malformed here") from None
    assert failures == len(p) - at - 8 == inb.counters.authentication_failures
    assert inb.counters.packets == 0 and inb.sequence == 0
    assert unprotect(p, get).packet == bu()


def test_tampered_sequence_number_is_an_authentication_failure():
    out, inb = sa_pair(Algorithm.AES_128_GCM)
    p = bytearray(protect(bu(), out))
    p[71] = 9
    with pytest.raises(AuthenticationFailed):
        unprotect(bytes(p), lookup(inb))


def test_home_address_rewritten_in_the_hao_is_a_policy_violation():
    """The HAO is before ESP and not covered by the ICV: moving A's valid BU to B's home address must
    be caught by the SA's home-address binding (RFC 3776), and counted."""
    out, inb = sa_pair(Algorithm.AES_128_GCM)
    p = protect(bu(), out)
    hijack = p.replace(parse(bu()).home_address.packed, parse(bu(OTHER_HOME)).home_address.packed)
    assert hijack != p
    match = "bound to home address 2001:db8:1::9.*claims 2001:db8:1::a"
    with pytest.raises(PolicyViolation, match=match) as info:
        unprotect(hijack, lookup(inb))
    assert info.value.reason == "policy_violation"
    assert inb.counters.policy_violations == 1 and inb.counters.packets == 0


def test_mobile_node_a_cannot_register_b_with_its_keys():
    """At a home agent with A's and B's SAs, A builds a BU for B's home address under A's keys and SPI
    (as a malicious implementation would, without this module's outbound check): refused."""
    a_out, a_in = sa_pair(Algorithm.AES_128_GCM, home=HOME, spi=0x1001, seed=1)
    b_out, b_in = sa_pair(Algorithm.AES_128_GCM, home=OTHER_HOME, spi=0x2001, seed=2)
    spd = SecurityPolicyDatabase([a_in, b_in])
    assert spd.unprotect(protect(bu(HOME), a_out)).sa is a_in
    ek, ak = keys(Algorithm.AES_128_GCM, 1)
    forger = SecurityAssociation(0x1001, Direction.OUTBOUND, Algorithm.AES_128_GCM, source=OTHER_HOME,
                                 destination=HA, home_address=OTHER_HOME, encryption_key=ek,
                                 authentication_key=ak, sequence=1)
    with pytest.raises(PolicyViolation):
        spd.unprotect(protect(bu(OTHER_HOME), forger))
    assert a_in.counters.policy_violations == 1 and b_in.counters.packets == 0
    assert spd.unprotect(protect(bu(OTHER_HOME), b_out)).sa is b_in
    with pytest.raises(PolicyViolation):                       # and our own protect refuses to build it
        protect(bu(OTHER_HOME), a_out)


def test_other_policy_violations():
    out, inb = sa_pair(Algorithm.NULL_HMAC_SHA256)
    to_other_ha = Packet(src=COA, dst="2001:db8:1::2", home_address=HOME, payload=parse(bu()).payload)
    with pytest.raises(PolicyViolation, match="home agent"):
        protect(to_other_ha.to_bytes(), out)
    udp = Packet(src=COA, dst=HA, home_address=HOME, payload=Raw(17, b"12345678")).to_bytes()
    with pytest.raises(PolicyViolation, match="next header 17"):
        protect(udp, out)
    assert out.sequence == 0                                   # refused packets use no sequence number
    # A sender whose SA allows UDP; the receiver's does not.
    _ek, ak = keys(Algorithm.NULL_HMAC_SHA256)
    loose = SecurityAssociation(0x1001, Direction.OUTBOUND, Algorithm.NULL_HMAC_SHA256, source=HOME,
                                destination=HA, home_address=HOME, authentication_key=ak, protocols=[17])
    with pytest.raises(PolicyViolation):
        unprotect(protect(udp, loose), lookup(inb))
    assert inb.counters.policy_violations == 1
    # Tunnel mode: the inner source must be the home address.
    t_out, _t_in = sa_pair(Algorithm.AES_128_GCM, mode=Mode.TUNNEL, seed=3)
    with pytest.raises(PolicyViolation):
        protect(tunnelled_hoti(OTHER_HOME), t_out)
    with pytest.raises(PolicyViolation, match="tunnel-mode"):
        protect(bu(), t_out)
    with pytest.raises(PolicyViolation, match="next header 41"):
        protect(tunnelled_hoti(), out)
    # The direction matters: an SA from the MN cannot protect the HA's BA.
    with pytest.raises(PolicyViolation):
        protect(ba(), out)


def test_dummy_packets_are_discarded_and_counted():
    out, inb = sa_pair(Algorithm.AES_128_GCM)
    header = bu()[:64]
    esp = seal(out, 59, b"")
    p = bytearray(header + esp)
    p[40] = 50
    struct.pack_into("!H", p, 4, len(p) - 40)
    with pytest.raises(DummyPacket):
        unprotect(bytes(p), lookup(inb))
    assert inb.counters.dummy == 1


def test_bad_padding_after_a_valid_icv_is_malformed():
    out, inb = sa_pair(Algorithm.NULL_HMAC_SHA256)
    p = bytearray(protect(bu(), out))
    body_end = len(p) - 16
    pad = p[body_end - 2]
    assert pad > 0
    p[body_end - 3] ^= 0xFF                                     # last padding byte
    _, ak = keys(Algorithm.NULL_HMAC_SHA256)
    mac = hmac.HMAC(ak, hashes.SHA256())
    mac.update(bytes(p[64:body_end]))
    p[body_end:] = mac.finalize()[:16]
    with pytest.raises(MalformedPacket, match="padding"):
        unprotect(bytes(p), lookup(inb))
    assert inb.counters.malformed == 1


def test_refusals_before_an_sa_is_found_are_counted_on_the_spd():
    out, inb = sa_pair(Algorithm.AES_128_GCM)
    spd = SecurityPolicyDatabase([inb])
    with pytest.raises(NotProtected):
        spd.unprotect(bu())
    other_out, _ = sa_pair(Algorithm.AES_128_GCM, spi=0x9999, seed=5)
    with pytest.raises(UnknownSpi) as info:
        spd.unprotect(protect(bu(), other_out))
    assert info.value.spi == 0x9999
    p = protect(bu(), out)
    with pytest.raises(MalformedPacket):
        spd.unprotect(p + b"\0")                                # length disagrees with Payload Length
    with pytest.raises(MalformedPacket):
        spd.unprotect(p[:68])                                   # shorter than its Payload Length
    frag = Packet(src=COA, dst=HA, payload=Raw(44, bytes([50, 0, 0, 1, 0, 0, 0, 1]) + p[64:])).to_bytes()
    with pytest.raises(MalformedPacket, match="reassemble"):
        spd.unprotect(frag)
    with pytest.raises(MalformedPacket, match="truncated"):
        spd.unprotect(_cut(p, 68))                              # half an ESP header
    assert (spd.counters.not_protected, spd.counters.unknown_spi, spd.counters.malformed) == (1, 1, 4)
    assert spd.unprotect(p).sa is inb


def _cut(p: bytes, n: int) -> bytes:
    """The first n bytes with the Payload Length fixed, so only the truncation is wrong."""
    q = bytearray(p[:n])
    struct.pack_into("!H", q, 4, n - 40)
    return bytes(q)


def test_too_short_for_the_algorithm_is_malformed_and_counted():
    out, inb = sa_pair(Algorithm.AES_128_CBC_HMAC_SHA256)
    p = protect(bu(), out)
    with pytest.raises(MalformedPacket):
        unprotect(_cut(p, len(p) - 8), lookup(inb))             # ciphertext no longer whole blocks
    with pytest.raises(MalformedPacket):
        unprotect(_cut(p, 64 + 8 + 16 + 16), lookup(inb))
    assert inb.counters.malformed == 2


def test_wrong_sa_direction():
    out, inb = sa_pair(Algorithm.AES_128_GCM)
    with pytest.raises(ValueError):
        protect(bu(), inb)
    with pytest.raises(UnknownSpi):
        unprotect(protect(bu(), out), lookup(out))


# --- the SA itself ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_keys_never_printed(algorithm):
    out, inb = sa_pair(algorithm)
    ek, ak = keys(algorithm)
    spd = SecurityPolicyDatabase([out])
    texts = [repr(out), str(out), repr(inb), str(spd), repr(spd), repr(out.stats()), repr(spd.stats()),
             repr(out._transform), repr(out.counters), repr(out._window)]
    for bad in (PolicyViolation, ReplayedPacket, AuthenticationFailed):
        try:
            if bad is PolicyViolation:
                protect(bu(OTHER_HOME), out)
            else:
                p = protect(bu(), out)
                unprotect(p, lookup(inb))
                unprotect(p if bad is ReplayedPacket else p[:-1] + bytes([p[-1] ^ 1]), lookup(inb))
        except EspError as exc:
            texts.append(str(exc))
            texts.append(repr(exc))
    for text in texts:
        for key in (ek, ak):
            if key:
                assert key.hex() not in text.lower() and key.hex(":") not in text.lower()
                assert repr(key)[2:-1] not in text
    assert not hasattr(out, "__dict__")


def test_sa_is_neither_pickled_nor_copied():
    out, _ = sa_pair(Algorithm.AES_128_GCM)
    for attempt in (lambda: pickle.dumps(out), lambda: copy.copy(out), lambda: copy.deepcopy(out)):
        with pytest.raises(TypeError):
            attempt()


def test_sa_validation():
    ek, ak = keys(Algorithm.AES_128_CBC_HMAC_SHA256)
    ok = {"source": HOME, "destination": HA, "home_address": HOME, "encryption_key": ek,
          "authentication_key": ak}
    SecurityAssociation(256, Direction.OUTBOUND, Algorithm.AES_128_CBC_HMAC_SHA256, **ok)
    for spi in (0, 1, 255, 2**32, -1, True):
        with pytest.raises(ValueError, match="spi"):
            SecurityAssociation(spi, Direction.OUTBOUND, Algorithm.AES_128_CBC_HMAC_SHA256, **ok)
    with pytest.raises(ValueError, match="encryption key must be 16 octets, got 15"):
        SecurityAssociation(256, "outbound", "aes-128-cbc-hmac-sha256", **{**ok, "encryption_key": ek[:15]})
    with pytest.raises(ValueError, match="authentication key must be 32"):
        SecurityAssociation(256, "outbound", "aes-128-cbc-hmac-sha256", **{**ok, "authentication_key": b""})
    with pytest.raises(ValueError, match="neither"):
        SecurityAssociation(256, "outbound", "aes-128-cbc-hmac-sha256", **{**ok, "home_address": OTHER_HOME})
    with pytest.raises(ValueError, match="sequence"):
        SecurityAssociation(256, "outbound", "aes-128-cbc-hmac-sha256", **ok, sequence=2**32)
    with pytest.raises(ValueError, match="tunnel"):
        SecurityAssociation(256, "outbound", "aes-128-cbc-hmac-sha256", **ok, mode="tunnel", protocols=[135])
    gcm = SecurityAssociation(256, "inbound", "aes-256-gcm", source=HA, destination=HOME, home_address=HOME,
                              encryption_key=bytes(range(1, 37)))
    assert not gcm.home_is_source and str(gcm.home_agent) == HA and gcm.replay_window == 64


# --- the policy database --------------------------------------------------------------------------------

def test_spd_lookups_and_refusals():
    """A home agent's SPD: inbound SAs for BUs from two mobile nodes and a reverse tunnel, outbound
    SAs for their BAs."""
    a_in = sa_pair(Algorithm.AES_128_GCM, spi=0x1001, seed=1)[1]
    b_in = sa_pair(Algorithm.AES_128_GCM, home=OTHER_HOME, spi=0x2001, seed=2)[1]
    t_in = sa_pair(Algorithm.AES_128_GCM, mode=Mode.TUNNEL, spi=0x3001, seed=3)[1]
    a_out = sa_pair(Algorithm.AES_128_GCM, from_mn=False, spi=0x1002, seed=11)[0]
    b_out = sa_pair(Algorithm.AES_128_GCM, from_mn=False, home=OTHER_HOME, spi=0x2002, seed=12)[0]
    t_out = sa_pair(Algorithm.AES_128_GCM, from_mn=False, mode=Mode.TUNNEL, spi=0x3002, seed=13)[0]
    spd = SecurityPolicyDatabase([a_in, b_in, t_in, a_out, b_out, t_out])
    assert len(spd) == 6 and spd.inbound_sa(0x2001) is b_in and spd.inbound_sa(0x4444) is None
    assert spd.outbound_sa(HOME) is a_out and spd.outbound_sa(HOME, Mode.TUNNEL) is t_out
    assert spd.outbound_sa(OTHER_HOME, "tunnel") is None
    assert spd.has_policy(HOME) and spd.has_policy(OTHER_HOME) and not spd.has_policy(HA)
    assert "0x" not in repr(spd) and "2001:db8:1::9" in repr(spd)
    with pytest.raises(ValueError, match="already installed"):
        spd.add(a_in)
    dup_spi = sa_pair(Algorithm.AES_128_GCM, spi=0x1001, seed=9)[1]
    with pytest.raises(ValueError, match="SPI 0x00001001"):
        spd.add(dup_spi)
    with pytest.raises(ValueError, match="already installed"):
        spd.add(sa_pair(Algorithm.AES_128_GCM, from_mn=False, seed=8)[0])
    same_key = sa_pair(Algorithm.AES_128_GCM, home="2001:db8:1::b", spi=0x5001, seed=1)[1]
    with pytest.raises(ValueError, match="same key"):
        spd.add(same_key)
    with pytest.raises(NoSecurityAssociation):
        spd.protect(ba("2001:db8:1::b"), "2001:db8:1::b")
    assert spd.counters.no_outbound_sa == 1
    p = spd.protect(ba(), HOME)
    assert a_in.counters.packets == 0
    spd.remove(a_out)
    assert spd.outbound_sa(HOME) is None
    with pytest.raises(KeyError):
        spd.remove(a_out)
    stats = spd.stats()
    assert len(stats["security_associations"]) == 5 and stats["no_outbound_sa"] == 1
    assert p


def test_spd_round_trip_between_a_mobile_node_and_its_home_agent():
    mn_bu_out, ha_bu_in = sa_pair(Algorithm.AES_256_GCM, spi=0x100, seed=1)
    ha_ba_out, mn_ba_in = sa_pair(Algorithm.AES_256_GCM, from_mn=False, spi=0x101, seed=2)
    mn, ha = SecurityPolicyDatabase([mn_bu_out, mn_ba_in]), SecurityPolicyDatabase([ha_bu_in, ha_ba_out])
    got = ha.unprotect(mn.protect(bu(), HOME))
    assert parse(got.packet).home_address == parse(bu()).home_address and got.sa.home_address == got.sa.source
    back = mn.unprotect(ha.protect(ba(), got.sa.home_address))
    assert back.packet == ba()


# --- layering ---------------------------------------------------------------------------------------------

def test_security_layer_imports_only_wire_errors_stdlib_and_cryptography():
    """The layer sits between wire and roles (docs/SECURITY.md): nothing from roles, io or the daemons
    (its header walk is core code: mip6fast._esp through ``_impl``)."""
    root = pathlib.Path(mip6fast.security.__file__).parent
    # The standard-library modules it may use, named (sys.stdlib_module_names is 3.10+; this runs on 3.9).
    stdlib = {"__future__", "collections", "dataclasses", "enum", "fractions", "hmac", "ipaddress", "os",
              "pathlib", "stat", "struct", "sys", "time", "tomllib", "typing"}
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    continue
                module = node.module or ""
                if node.level == 2:
                    assert module in ("errors", "wire", "_impl") or module.startswith("wire."), (path.name, module)
                    continue
                names = [module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or top in ("cryptography", "tomli") or name in (
                    "mip6fast.errors", "mip6fast.wire"), (path.name, name)


# --- the benchmark ------------------------------------------------------------------------------------

def test_benchmark_packets_are_what_wire_builds():
    assert bench.BU_PACKET == bu() and bench.BA_PACKET == ba()


def test_benchmark_runs():
    rates = bench.benchmark(seconds=0.01, algorithms=[Algorithm.AES_128_GCM, Algorithm.NULL_HMAC_SHA256])
    assert [r.algorithm for r in rates] == ["aes-128-gcm", "null-hmac-sha256"]
    assert all(r.pairs_per_second > 0 and r.protect_per_second > 0 for r in rates)   # figures, not a race


def test_sa_identity_is_read_only():
    """What the packet path checks against (home address, ends, SPI, mode, protocols) cannot change
    under a live SA: a new binding gets a new SA."""
    out, _ = sa_pair(Algorithm.AES_128_GCM)
    for name, value in (("home_address", OTHER_HOME), ("source", OTHER_HOME), ("destination", COA),
                        ("spi", 0x4444), ("mode", Mode.TUNNEL), ("direction", Direction.INBOUND),
                        ("algorithm", Algorithm.NULL_HMAC_SHA256), ("esn", True), ("protocols", {17})):
        with pytest.raises(AttributeError):
            setattr(out, name, value)
    with pytest.raises(PolicyViolation):
        protect(bu(OTHER_HOME), out)


def test_security_md_names_exist():
    """docs/SECURITY.md names functions, methods, attributes and counter reasons: each exists."""
    import re

    import mip6fast.wire
    from mip6fast.roles import protection
    from mip6fast.security import esp, keys, sa, spd
    text = (pathlib.Path(mip6fast.security.__file__).parents[2] / "docs" / "SECURITY.md").read_text()
    known = set(dir(mip6fast.wire))
    # The roles' side (the section on the reverse tunnel names it): roles/protection.py.
    for owner in (mip6fast.security, esp, keys, sa, spd, bench, SecurityAssociation, SecurityPolicyDatabase,
                  ReplayWindow, mip6fast.security.SaCounters, mip6fast.security.SpdCounters,
                  mip6fast.security.Unprotected, EspError, protection, protection.SignallingProtection):
        known |= set(dir(owner))
    called = set(re.findall(r"`(?:[a-z_]+\.)*([A-Za-z_]\w*)\(", text))
    attributes = set(re.findall(r"`(?:sa|spd|result|exc)\.(\w+)", text))
    assert len(called) > 10 and len(attributes) > 3
    assert not (called - known), called - known
    assert not (attributes - known), attributes - known
    # The receive-path table lists every reason an inbound refusal is counted under.
    reasons = set(re.findall(r"\| `(\w+)` \| (?:SPD|SA)", text))
    inbound = {getattr(mip6fast.security, n).reason for n in mip6fast.security.__all__
               if isinstance(getattr(mip6fast.security, n), type)
               and issubclass(getattr(mip6fast.security, n), EspError)} - {
        "esp_error", "sequence_exhausted", "no_security_association"}
    assert reasons == inbound
    for name in mip6fast.security.SaCounters.__dataclass_fields__:
        assert f"`{name}`" in text, name
