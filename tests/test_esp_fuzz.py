"""Fuzzing the inbound path (the h11 rule in docs STYLE.md: any input either parses or raises the
protocol's own error): arbitrary bytes, IPv6 packets announcing ESP with arbitrary contents, mutated
valid protected packets, and arbitrary plaintexts under a valid ICV (so the trailer, next-header and
policy checks after authentication are reached) go into ``SecurityPolicyDatabase.unprotect`` and come
out as an ``Unprotected`` or an ``EspError``, never another exception."""
from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from esp_fixtures import ALGORITHMS, COA, HA, ba, bu, keys, mpa, sa_pair, tunnelled_hot, tunnelled_hoti
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mip6fast.security import Algorithm, EspError, Mode, SecurityPolicyDatabase, protect
from mip6fast.wire import Packet, Raw

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (packet, algorithm, from_mn, mode): one protected packet per algorithm and kind, built once.
SAMPLES = []
for _alg in ALGORITHMS:
    for _build, _from_mn, _mode in ((bu, True, Mode.TRANSPORT), (ba, False, Mode.TRANSPORT),
                                    (mpa, False, Mode.TRANSPORT), (tunnelled_hoti, True, Mode.TUNNEL),
                                    (tunnelled_hot, False, Mode.TUNNEL)):
        _out, _ = sa_pair(_alg, from_mn=_from_mn, mode=_mode)
        SAMPLES.append((protect(_build(), _out), _alg, _from_mn, _mode))


def receiver(algorithm, from_mn, mode) -> SecurityPolicyDatabase:
    """A fresh inbound SA (window untouched), so a mutation reaches the ICV rather than the replay check."""
    return SecurityPolicyDatabase([sa_pair(algorithm, from_mn=from_mn, mode=mode)[1]])


def feed(spd, data: bytes) -> None:
    try:
        result = spd.unprotect(data)
    except EspError as exc:
        assert exc.reason and isinstance(str(exc), str)
        return
    assert isinstance(result.packet, bytes) and result.sa.spi == 0x1001


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data):
    spd = receiver(Algorithm.AES_128_GCM, True, Mode.TRANSPORT)
    feed(spd, data)
    feed(spd, b"\x60" + data[1:])


@FUZZ
@given(st.integers(0, len(ALGORITHMS) - 1), st.binary(min_size=1, max_size=200),
       st.sampled_from([50, 0, 43, 60, 44]))
def test_ipv6_announcing_extension_headers(index, body, first):
    """A well-formed IPv6 header and Payload Length, then arbitrary extension headers or ESP."""
    packet = Packet(src=COA, dst=HA, payload=Raw(first, body)).to_bytes()
    feed(receiver(ALGORITHMS[index], True, Mode.TRANSPORT), packet)


@FUZZ
@given(st.integers(0, len(ALGORITHMS) - 1), st.binary(min_size=20, max_size=200))
def test_ipv6_announcing_esp_of_the_installed_sa(index, body):
    """ESP with the installed SA's SPI and arbitrary bytes: the algorithm's length checks, the replay
    pre-check and the ICV are reached."""
    packet = Packet(src=COA, dst=HA, payload=Raw(50, struct.pack("!I", 0x1001) + body)).to_bytes()
    feed(receiver(ALGORITHMS[index], True, Mode.TRANSPORT), packet)


MUTATION_KINDS = ["flip", "flip", "flip", "set", "cut", "insert", "cut_fix_length"]
MUTATIONS = st.lists(st.tuples(st.sampled_from(MUTATION_KINDS),
                               st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4)


def mutate(data: bytes, mutations) -> bytes:
    b = bytearray(data)
    for kind, at, value in mutations:
        if not b:
            break
        at %= len(b)
        if kind == "flip":
            b[at] ^= 1 << (value % 8)
        elif kind == "set":
            b[at] = value
        elif kind == "cut":
            del b[at:]
        elif kind == "insert":
            b[at:at] = bytes([value]) * (value % 9 + 1)
        elif kind == "cut_fix_length" and len(b) >= 40:
            del b[max(40, at):]
            struct.pack_into("!H", b, 4, len(b) - 40)
    return bytes(b)


@FUZZ
@given(st.integers(0, len(SAMPLES) - 1), MUTATIONS)
def test_mutated_valid_packets(index, mutations):
    packet, algorithm, from_mn, mode = SAMPLES[index]
    feed(receiver(algorithm, from_mn, mode), mutate(packet, mutations))


PLAINTEXT_KINDS = [(bu, True, Mode.TRANSPORT), (ba, False, Mode.TRANSPORT),
                   (tunnelled_hoti, True, Mode.TUNNEL)]


@st.composite
def plaintexts(draw, template: bytes, at: int):
    """Either any bytes, or a well-formed trailer (padding 1, 2, ..., pad length, next header) after the
    real message, a mutation of it or any bytes: next header and contents are what varies."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    data = draw(st.one_of(st.just(template[at:]), st.binary(max_size=100),
                          st.builds(mutate, st.just(template[at:]), MUTATIONS)))
    pad = draw(st.integers(0, 40))
    nh = draw(st.sampled_from([135, 58, 41, 59, 60, 17, 50, 0, 255]))
    return data + bytes(range(1, pad + 1)) + bytes([pad, nh])


@FUZZ
@given(st.sampled_from([Algorithm.NULL_HMAC_SHA256, Algorithm.AES_128_GCM]),
       st.integers(0, len(PLAINTEXT_KINDS) - 1), st.integers(1, 2**32 - 1), st.data())
def test_arbitrary_plaintext_under_a_valid_icv(algorithm, kind, seq, data):
    """What an authenticated but broken or hostile peer can send: any plaintext (bad padding, pad
    length, next header, inner packet, another home address) sealed with the right key."""
    build, from_mn, mode = PLAINTEXT_KINDS[kind]
    template = build()
    at = 40 if mode is Mode.TUNNEL else 64
    plaintext = data.draw(plaintexts(template, at))
    header = struct.pack("!II", 0x1001, seq)
    ek, ak = keys(algorithm)
    if algorithm is Algorithm.NULL_HMAC_SHA256:
        mac = hmac.HMAC(ak, hashes.SHA256())
        mac.update(header + plaintext)
        esp = header + plaintext + mac.finalize()[:16]
    else:
        iv = struct.pack("!Q", seq)
        esp = header + iv + AESGCM(ek[:-4]).encrypt(ek[-4:] + iv, plaintext, header)
    packet = bytearray(template[:at] + esp)
    packet[6 if at == 40 else 40] = 50
    struct.pack_into("!H", packet, 4, len(packet) - 40)
    feed(receiver(algorithm, from_mn, mode), bytes(packet))
