"""Interoperability with an independent ESP implementation: scapy's scapy.layers.ipsec.

For every algorithm, transport mode (BU, MPS from the mobile node; BA, MPA from the home agent: IPv6
with a Home Address option or a Type 2 routing header and a Mobility Header or ICMPv6 message built by
mip6fast.wire) and tunnel mode (reverse-tunnelled HoTI and HoT):
- scapy decrypts what mip6fast protects, and gets the original packet back byte for byte;
- mip6fast unprotects what scapy encrypts;
- given the same sequence number and IV, scapy's packet and mip6fast's are identical bytes (ESP
  placement, next-header chain, Payload Length, padding, trailer, ICV);
and the same with extended sequence numbers.

Where the two differ: scapy (like Linux's xfrm) puts ESP after a routing header and before any later
Destination Options header, while RFC 6275 §6.3 keeps the Destination Options header that carries the
Home Address option before ESP. The two placements coincide for every MN-HA packet (a BU has a HAO and
no routing header, a BA a routing header and no HAO); ``test_placement_with_rh2_and_hao`` shows the
one layout where they part (both headers, as between two mobile nodes away from home) and what stays
comparable there.
"""
from __future__ import annotations

import struct

import pytest
from esp_fixtures import (
    ALGORITHMS,
    COA,
    HA,
    HOME,
    ba,
    bu,
    keys,
    mpa,
    mps,
    sa_pair,
    tunnelled_hot,
    tunnelled_hoti,
)

from mip6fast.security import (
    Algorithm,
    AuthenticationFailed,
    Direction,
    Mode,
    PolicyViolation,
    SecurityAssociation,
    open_payload,
    protect,
    unprotect,
)
from mip6fast.wire import BindingUpdate, Packet, parse

_ipsec = pytest.importorskip("scapy.layers.ipsec")
IPv6 = pytest.importorskip("scapy.layers.inet6").IPv6
ESP, IPSecIntegrityError, ScapySA = _ipsec.ESP, _ipsec.IPSecIntegrityError, _ipsec.SecurityAssociation

SCAPY_NAMES = {
    Algorithm.AES_128_GCM: ("AES-GCM", None),
    Algorithm.AES_256_GCM: ("AES-GCM", None),
    Algorithm.AES_128_CBC_HMAC_SHA256: ("AES-CBC", "SHA2-256-128"),
    Algorithm.AES_256_CBC_HMAC_SHA256: ("AES-CBC", "SHA2-256-128"),
    Algorithm.NULL_HMAC_SHA256: ("NULL", "SHA2-256-128"),
}
TRANSPORT = [("bu", bu, True), ("mps", mps, True), ("ba", ba, False), ("mpa", mpa, False)]
TUNNEL = [("hoti", tunnelled_hoti, True), ("hot", tunnelled_hot, False)]


def scapy_sa(algorithm, spi=0x1001, seed=0, tunnel=None, esn_high=None):
    """scapy's SA with the same keys as esp_fixtures.sa_pair (GCM: key | salt, as RFC 4106 §8.1)."""
    crypt, auth = SCAPY_NAMES[algorithm]
    ek, ak = keys(algorithm, seed)
    kw = {}
    if esn_high is not None:
        kw = {"esn_en": True, "esn": esn_high}
    return ScapySA(ESP, spi=spi, crypt_algo=crypt, crypt_key=ek or None, auth_algo=auth,
                   auth_key=ak or None, tunnel_header=tunnel, **kw)


def _esp_at(packet: bytes) -> int:
    nh, off = packet[6], 40
    while nh in (0, 43, 60):
        nh, off = packet[off], off + (packet[off + 1] + 1) * 8
    return off


def _iv(packet: bytes, algorithm) -> bytes:
    at = _esp_at(packet)
    return packet[at + 8:at + 8 + algorithm.spec.iv]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("name,build,from_mn", TRANSPORT, ids=[c[0] for c in TRANSPORT])
def test_transport_mip6fast_to_scapy(algorithm, name, build, from_mn):
    out, _ = sa_pair(algorithm, from_mn=from_mn)
    plain = build()
    ours = protect(plain, out)
    decrypted = scapy_sa(algorithm).decrypt(IPv6(ours))
    assert bytes(decrypted) == plain
    # Same sequence number and IV: scapy builds the very same bytes.
    theirs = scapy_sa(algorithm).encrypt(IPv6(plain), seq_num=1, iv=_iv(ours, algorithm) or None)
    assert bytes(theirs) == ours


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("name,build,from_mn", TRANSPORT, ids=[c[0] for c in TRANSPORT])
def test_transport_scapy_to_mip6fast(algorithm, name, build, from_mn):
    _, inb = sa_pair(algorithm, from_mn=from_mn)
    plain = build()
    ssa = scapy_sa(algorithm)
    for seq in (1, 2, 5, 3):
        theirs = bytes(ssa.encrypt(IPv6(plain), seq_num=seq))
        assert _esp_at(theirs) == 64 and theirs[40] == 50       # after the HAO header or the RH2
        result = unprotect(theirs, {inb.spi: inb}.get)
        assert result.packet == plain and result.sequence == seq
    assert parse(result.packet) == parse(plain)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("name,build,from_mn", TUNNEL, ids=[c[0] for c in TUNNEL])
def test_tunnel_both_ways(algorithm, name, build, from_mn):
    out, inb = sa_pair(algorithm, from_mn=from_mn, mode=Mode.TUNNEL)
    plain = build()
    outer = IPv6(src=COA, dst=HA) if from_mn else IPv6(src=HA, dst=COA)
    ours = protect(plain, out)
    inner = scapy_sa(algorithm, tunnel=outer).decrypt(IPv6(ours))
    assert bytes(inner) == plain[40:]
    theirs = bytes(scapy_sa(algorithm, tunnel=outer).encrypt(IPv6(plain[40:]), seq_num=1,
                                                             iv=_iv(ours, algorithm) or None))
    assert theirs == ours
    theirs2 = bytes(scapy_sa(algorithm, tunnel=outer).encrypt(IPv6(plain[40:]), seq_num=2))
    result = unprotect(theirs2, {inb.spi: inb}.get)
    assert result.packet == plain and result.inner == plain[40:] and result.next_header == 41


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_extended_sequence_numbers(algorithm):
    """ESN: the high 32 bits in the ICV (RFC 4303 §2.2.1) or GCM's AAD (RFC 4106 §5), as scapy does."""
    high, low = 0x00000002, 0xFFFFFFFF
    out, inb = sa_pair(algorithm, esn=True, sequence=(high << 32) + low - 1)
    ours = protect(bu(), out)
    assert struct.unpack_from("!I", ours, 68)[0] == low
    assert bytes(scapy_sa(algorithm, esn_high=high).decrypt(IPv6(ours))) == bu()
    theirs = scapy_sa(algorithm, esn_high=high).encrypt(IPv6(bu()), seq_num=low,
                                                        iv=_iv(ours, algorithm) or None)
    assert bytes(theirs) == ours
    # The receiver crosses into the next 2^32 block: scapy's sequence 3 with high half 3.
    assert unprotect(ours, {inb.spi: inb}.get).sequence == (high << 32) + low
    nxt = bytes(scapy_sa(algorithm, esn_high=high + 1).encrypt(IPv6(bu()), seq_num=3))
    assert unprotect(nxt, {inb.spi: inb}.get).sequence == ((high + 1) << 32) + 3
    # Without the right high half scapy's ICV check fails (so the high half really is covered).
    if algorithm.spec.aead or algorithm.spec.authentication_key:
        with pytest.raises(IPSecIntegrityError):
            scapy_sa(algorithm, esn_high=high + 7).decrypt(IPv6(ours))


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_scapy_tampering_detected(algorithm):
    _, inb = sa_pair(algorithm)
    theirs = bytearray(bytes(scapy_sa(algorithm).encrypt(IPv6(bu()), seq_num=9)))
    theirs[-20] ^= 1
    with pytest.raises(AuthenticationFailed):
        unprotect(bytes(theirs), {inb.spi: inb}.get)
    assert inb.counters.authentication_failures == 1


def test_placement_with_rh2_and_hao():
    """Both a Type 2 routing header and a HAO (mobile node 1 away from home to mobile node 2 away from
    home, route-optimised): RFC 6275 §6.3 keeps the HAO's header before ESP, scapy puts ESP before it.
    Comparable: each side decrypts the other's ESP payload to the same bytes; not comparable: under an
    SA selected by home address, scapy's layout hides the home address, so mip6fast refuses it."""
    mn1_home, mn2_home, mn1_coa, mn2_coa = "2001:db8:1::9", "2001:db8:7::7", COA, "2001:db8:8::8"
    plain = Packet(src=mn1_coa, dst=mn2_coa, rh2=mn2_home, home_address=mn1_home,
                   payload=BindingUpdate(sequence=3, lifetime=40)).to_bytes()
    algorithm = Algorithm.AES_128_GCM
    ek, _ = keys(algorithm)
    common = {"source": mn1_home, "destination": mn2_home, "home_address": mn1_home, "encryption_key": ek}
    out = SecurityAssociation(0x1001, Direction.OUTBOUND, algorithm, **common)
    inb = SecurityAssociation(0x1001, Direction.INBOUND, algorithm, **common)
    ours = protect(plain, out)
    theirs = bytes(scapy_sa(algorithm).encrypt(IPv6(plain), seq_num=2))
    # IPv6 -> RH2 (40) -> dest. options (64) -> ESP (88) here; IPv6 -> RH2 -> ESP (64) in scapy.
    assert (ours[6], ours[40], ours[64], _esp_at(ours)) == (43, 60, 50, 88)
    assert (theirs[6], theirs[40], _esp_at(theirs)) == (43, 50, 64)
    assert bytes(scapy_sa(algorithm).decrypt(IPv6(ours))) == plain
    opened = open_payload(inb, theirs[64:])
    assert opened.next_header == 60 and opened.data == plain[64:]
    inb2 = SecurityAssociation(0x1001, Direction.INBOUND, algorithm, **common)
    with pytest.raises(PolicyViolation):
        unprotect(theirs, {0x1001: inb2}.get)


def test_scapy_agrees_on_the_bu_layout():
    """scapy's own dissection of a protected BU: IPv6 / destination options (HAO) / ESP."""
    out, _ = sa_pair(Algorithm.NULL_HMAC_SHA256)
    pkt = IPv6(protect(bu(), out))
    assert pkt.summary().endswith("IPv6ExtHdrDestOpt / ESP")
    assert pkt[ESP].spi == 0x1001 and pkt[ESP].seq == 1
    assert str(pkt.payload.options[-1].hoa) == HOME
