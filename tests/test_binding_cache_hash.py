"""The binding cache's keyed hash (issue 12): SipHash-1-3 over the whole key under the table's seed, in C
(csrc/mip6_bcache.c) and in the twin (mip6fast/_bcache_py.py), checked against a SipHash written here
from the paper's description (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), which
itself is checked against the paper's SipHash-2-4 reference vectors. Then the property the hash is
for: keys a sender can choose (shared halves, one byte apart, the old multiply-fold's attack) spread
over the index like random keys. Structure only: no test here looks at a clock."""
import math
import os
from ipaddress import IPv6Address

import numpy as np
import pytest
from conftest import both, pair

from mip6fast.benchmark.hashflood import OLD_ATTACK_WORD, key_sets
from mip6fast.binding_cache import BindingCache

M64 = (1 << 64) - 1
REF_KEY = bytes(range(16))
# SipHash-2-4 of the messages b"", 00, 00 01, ..., 00 01 .. 3e under the key 00 01 .. 0f: the reference
# vectors published with the paper (as 64-bit numbers; the byte strings there are these, little-endian).
REF_VECTORS_24 = [
    0x726FDB47DD0E0E31, 0x74F839C593DC67FD, 0x0D6C8009D9A94F5A, 0x85676696D7FB7E2D,
    0xCF2794E0277187B7, 0x18765564CD99A68D, 0xCBC9466E58FEE3CE, 0xAB0200F58B01D137,
    0x93F5F5799A932462, 0x9E0082DF0BA9E4B0, 0x7A5DBBC594DDB9F3, 0xF4B32F46226BADA7,
    0x751E8FBC860EE5FB, 0x14EA5627C0843D90, 0xF723CA908E7AF2EE, 0xA129CA6149BE45E5,
    0x3F2ACC7F57C29BDB, 0x699AE9F52CBE4794, 0x4BC1B3F0968DD39C, 0xBB6DC91DA77961BD,
    0xBED65CF21AA2EE98, 0xD0F2CBB02E3B67C7, 0x93536795E3A33E88, 0xA80C038CCD5CCEC8,
    0xB8AD50C6F649AF94, 0xBCE192DE8A85B8EA, 0x17D835B85BBB15F3, 0x2F2E6163076BCFAD,
    0xDE4DAAACA71DC9A5, 0xA6A2506687956571, 0xAD87A3535C49EF28, 0x32D892FAD841C342,
    0x7127512F72F27CCE, 0xA7F32346F95978E3, 0x12E0B01ABB051238, 0x15E034D40FA197AE,
    0x314DFFBE0815A3B4, 0x027990F029623981, 0xCADCD4E59EF40C4D, 0x9ABFD8766A33735C,
    0x0E3EA96B5304A7D0, 0xAD0C42D6FC585992, 0x187306C89BC215A9, 0xD4A60ABCF3792B95,
    0xF935451DE4F21DF2, 0xA9538F0419755787, 0xDB9ACDDFF56CA510, 0xD06C98CD5C0975EB,
    0xE612A3CB9ECBA951, 0xC766E62CFCADAF96, 0xEE64435A9752FE72, 0xA192D576B245165A,
    0x0A8787BF8ECB74B2, 0x81B3E73D20B49B6F, 0x7FA8220BA3B2ECEA, 0x245731C13CA42499,
    0xB78DBFAF3A8D83BD, 0xEA1AD565322A1A0B, 0x60E61C23A3795013, 0x6606D7E446282B93,
    0x6CA4ECB15C5F91E1, 0x9F626DA15C9625F3, 0xE51B38608EF25F57, 0x958A324CEB064572,
]


# ---- SipHash from the paper, independently of the package ------------------------------------------


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def _sipround(v):
    """The paper's SipRound on the state [v0, v1, v2, v3], in place."""
    v[0] = (v[0] + v[1]) & M64
    v[1] = _rotl(v[1], 13) ^ v[0]
    v[0] = _rotl(v[0], 32)
    v[2] = (v[2] + v[3]) & M64
    v[3] = _rotl(v[3], 16) ^ v[2]
    v[0] = (v[0] + v[3]) & M64
    v[3] = _rotl(v[3], 21) ^ v[0]
    v[2] = (v[2] + v[1]) & M64
    v[1] = _rotl(v[1], 17) ^ v[2]
    v[2] = _rotl(v[2], 32)


def reference_siphash(key: bytes, msg: bytes, c: int, d: int) -> int:
    """SipHash-c-d as the paper states it: the key as two little-endian words, the message padded with
    zeros to a multiple of 8 bytes less one and closed by a byte holding its length mod 256, each word
    compressed with c SipRounds, then 0xff into v2 and d SipRounds."""
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [k0 ^ int.from_bytes(b"somepseu", "big"), k1 ^ int.from_bytes(b"dorandom", "big"),
         k0 ^ int.from_bytes(b"lygenera", "big"), k1 ^ int.from_bytes(b"tedbytes", "big")]
    padded = msg + bytes((-len(msg) - 1) % 8) + bytes([len(msg) % 256])
    for i in range(0, len(padded), 8):
        m = int.from_bytes(padded[i:i + 8], "little")
        v[3] ^= m
        for _ in range(c):
            _sipround(v)
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(d):
        _sipround(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def test_the_reference_implementation_gives_the_papers_siphash_2_4_vectors():
    assert len(REF_VECTORS_24) == 64
    for n, want in enumerate(REF_VECTORS_24):
        assert reference_siphash(REF_KEY, bytes(range(n)), 2, 4) == want, n


# ---- the package's SipHash: C and twin -------------------------------------------------------------


@pytest.fixture(params=both("bcache"))
def mod(request):
    return request.param


def test_siphash_2_4_gives_the_papers_vectors(mod):
    for n, want in enumerate(REF_VECTORS_24):
        assert mod.siphash(REF_KEY, bytes(range(n)), 2, 4) == want, n


def test_siphash_1_3_and_other_round_counts_agree_with_the_reference(mod):
    rng = np.random.default_rng(12)
    for n in list(range(0, 41)) + [63, 64, 65, 255, 256, 300]:
        key = rng.bytes(16)
        msg = rng.bytes(n)
        for c, d in ((1, 3), (2, 4), (0, 0), (3, 5)):
            assert mod.siphash(key, msg, c, d) == reference_siphash(key, msg, c, d), (n, c, d)
    assert mod.siphash(REF_KEY, b"abc") == reference_siphash(REF_KEY, b"abc", 1, 3)  # 1-3 by default


@pytest.mark.parametrize("size", [16, 32])
def test_the_table_hash_is_siphash_1_3_of_the_whole_key_under_the_seed(mod, size):
    rng = np.random.default_rng(size)
    for seed in (bytes(16), REF_KEY, b"\xff" * 16, rng.bytes(16)):
        t = mod.BindingTable(size, 8, seed)
        for _ in range(40):
            k = rng.bytes(size)
            assert t.hash(k) == reference_siphash(seed, k, 1, 3)
        # every byte of the key counts (the whole key is hashed, the last bytes included)
        k = bytearray(rng.bytes(size))
        h = t.hash(bytes(k))
        for i in range(size):
            k[i] ^= 1
            assert t.hash(bytes(k)) != h, i
            k[i] ^= 1


@pytest.mark.parametrize("size", [16, 32])
def test_the_batch_hash_is_the_one_key_hash(mod, size):
    """hash_batch hashes as lookup_batch does (in C four keys at once with AVX2, then one at a time for
    the rest): every count around the groups of four, rows strided inside a wider array."""
    rng = np.random.default_rng(100 + size)
    seed = rng.bytes(16)
    t = mod.BindingTable(size, 8, seed)
    wide = rng.integers(0, 256, (40, size + 8), dtype=np.uint8)
    for n in list(range(0, 14)) + [40]:
        keys = wide[:n, 3:3 + size]
        got = t.hash_batch(keys)
        assert got.dtype == np.uint64 and got.shape == (n,)
        assert got.tolist() == [reference_siphash(seed, k.tobytes(), 1, 3) for k in keys], n
        # and the batch lookup, which hashes the same way, finds what single lookups find
        for k in keys[: n // 2]:
            t.update(k.tobytes(), bytes(16), 1, 0, 1)
        assert t.lookup_batch(keys).tolist() == [t.lookup(k.tobytes()) for k in keys]


def test_binding_cache_hash_of_takes_addresses(mod):
    home, peer = IPv6Address("2001:db8:1::9"), IPv6Address("2001:db8:2::1")
    c = BindingCache(seed=REF_KEY, impl=mod)
    assert c.hash_of(home) == c.hash_of(str(home)) == reference_siphash(REF_KEY, home.packed, 1, 3)
    c32 = BindingCache(32, seed=5, impl=mod)
    assert c32.hash_of((peer, home)) == reference_siphash((5).to_bytes(16, "little"), peer.packed + home.packed,
                                                          1, 3)


@pytest.mark.compiled("bcache")
def test_c_and_twin_hash_alike_for_random_seeds_and_keys():
    c, py = pair("bcache")
    for size in (16, 32):
        for _ in range(5):
            seed = os.urandom(16)
            tc, tp = c.BindingTable(size, 8, seed), py.BindingTable(size, 8, seed)
            for _ in range(50):
                k = os.urandom(size)
                assert tc.hash(k) == tp.hash(k)
    for n in range(0, 70):
        key, msg = os.urandom(16), os.urandom(n)
        assert c.siphash(key, msg) == py.siphash(key, msg)


def test_siphash_argument_errors(mod):
    with pytest.raises(ValueError):
        mod.siphash(bytes(15), b"")
    with pytest.raises(TypeError):
        mod.siphash(bytes(16), "text")
    with pytest.raises(ValueError):
        mod.siphash(bytes(16), b"", 65, 3)
    assert mod.siphash(bytearray(16), memoryview(b"ab")) == mod.siphash(bytes(16), b"ab")


# ---- chosen keys spread like random ones -----------------------------------------------------------

# Keys per set: the table grows to 4,096 buckets, about half full (the hashflood benchmark's load at
# 64,000 keys). Random keys give a longest probe of 10 to 20 buckets there; 40 is far out for them.
N_FLOOD = 2000
MAX_PROBE = 40


def _expected_distinct(n, buckets):
    """Distinct home buckets expected when n keys land uniformly at random in `buckets`."""
    return buckets * (1 - math.exp(-n / buckets))


@pytest.mark.parametrize("seed", [bytes(16), REF_KEY])
def test_crafted_keys_spread_over_the_index_like_random_keys(mod, seed):
    """For each key set of the hashflood benchmark (shared first or last 64 bits, one byte apart, the old
    hash's attack), inserted into a fresh table: every key has its own 64-bit hash; the keys' home
    buckets are as many as random keys would give; the longest probe sequence stays short, as for
    random keys. (Under the old multiply-fold, old_attack had one hash value and a probe of n.)"""
    sets = key_sets(N_FLOOD)
    probes = {}
    for name, keys in sets.items():
        t = mod.BindingTable(16, 1024, seed)
        outcome, _, _ = t.update_batch(keys, keys, 1, 0, 1 << 62)
        assert (outcome == 0).all()
        stats = t.stats()
        nb = stats["nbuckets"]
        hashes = [t.hash(k.tobytes()) for k in keys]
        n = len(hashes)
        assert len(set(hashes)) == n, name
        homes = len({h & (nb - 1) for h in hashes})
        want = _expected_distinct(n, nb)
        # the count's standard deviation is below sqrt(want); 6 of them is far outside chance
        assert abs(homes - want) < 6 * math.sqrt(want) + 1, (name, homes, want)
        probes[name] = stats["max_probe"]
    assert all(p <= MAX_PROBE for p in probes.values()), probes


def test_the_old_attack_keys_no_longer_share_a_hash(mod):
    """The measured problem of issue 12: keys whose last 8 bytes are the old second secret word of seed 0
    (the correspondent's fixed seed) all hashed alike under the multiply-fold. Under SipHash they do not,
    and their low bits (the bucket) are spread too."""
    keys = key_sets(2000)["old_attack"]
    assert (keys[:, 8:] == np.frombuffer(OLD_ATTACK_WORD.to_bytes(8, "little"), np.uint8)).all()
    t = mod.BindingTable(16, 8, bytes(16))
    hashes = {t.hash(k.tobytes()) for k in keys}
    assert len(hashes) == 2000
    want = _expected_distinct(2000, 1024)
    assert abs(len({h & 1023 for h in hashes}) - want) < 6 * math.sqrt(want) + 1


@pytest.mark.parametrize("part", ["peer", "home"])
def test_32_byte_keys_sharing_one_address_spread_too(mod, part):
    """The binding update list's (peer, home) keys: one address fixed, the other counting."""
    n = 2000
    fixed = np.frombuffer(bytes.fromhex("20010db8000100000000000000000001"), np.uint8)
    counting = key_sets(n)["same_prefix64"]
    fixed_rows = np.broadcast_to(fixed, (n, 16))
    keys = np.ascontiguousarray(np.concatenate((fixed_rows, counting) if part == "peer" else
                                               (counting, fixed_rows), axis=1))
    t = mod.BindingTable(32, 1024, bytes(16))
    t.update_batch(keys, keys[:, :16].copy(), 1, 0, 1 << 62)
    stats = t.stats()
    hashes = {t.hash(k.tobytes()) for k in keys}
    assert len(hashes) == n
    nb = stats["nbuckets"]
    want = _expected_distinct(n, nb)
    assert abs(len({h & (nb - 1) for h in hashes}) - want) < 6 * math.sqrt(want) + 1
    assert stats["max_probe"] <= MAX_PROBE
