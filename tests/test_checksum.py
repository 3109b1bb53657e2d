import os

import pytest
from hypothesis import given, strategies as st

from conftest import both, pair
from reference import ipv6_upper_checksum, ones_complement_checksum


@pytest.fixture(params=both("checksum"))
def ck(request):
    return request.param


def test_rfc1071_worked_example(ck):
    # RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with carries folded); checksum ~ddf2.
    assert ck.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_empty_and_odd(ck):
    assert ck.checksum(b"") == 0xFFFF
    # An odd trailing byte is the high byte of a zero-padded word (RFC 1071 §4.1).
    assert ck.checksum(b"\x01") == 0xFFFF - 0x0100
    assert ck.checksum(b"\x00\x01\x02") == 0xFFFF - 0x0001 - 0x0200


def test_data_carrying_its_checksum_verifies_to_zero(ck):
    data = bytearray(os.urandom(64))
    data[10:12] = b"\0\0"
    c = ck.checksum(bytes(data))
    data[10:12] = c.to_bytes(2, "big")
    assert ck.checksum(bytes(data)) == 0


@given(st.binary(max_size=3000), st.integers(0, 7))
def test_matches_reference_at_any_length_and_alignment(data, shift):
    for mod in both("checksum"):
        m = mod.values[0]
        buf = bytes(shift) + data
        view = memoryview(buf)[shift:]  # misaligned start
        assert m.checksum(view) == ones_complement_checksum(data)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16),
       st.integers(0, 255), st.binary(max_size=1600))
def test_pseudo_header_matches_reference(src, dst, nh, data):
    for p in both("checksum"):
        assert p.values[0].pseudo_checksum(src, dst, nh, data) == ipv6_upper_checksum(src, dst, nh, data)


@pytest.mark.compiled("checksum")
@given(st.binary(min_size=40, max_size=200).filter(lambda b: len(b) % 2 == 0), st.data())
def test_incremental_update_rfc1624(data, draw):
    # Rewrite an aligned 16-byte span (an address rewrite on the data path) and update incrementally.
    c, _ = pair("checksum")
    start = draw.draw(st.integers(0, (len(data) - 16) // 2)) * 2
    new = draw.draw(st.binary(min_size=16, max_size=16))
    old_sum = ones_complement_checksum(data)
    changed = data[:start] + new + data[start + 16:]
    for m in both("checksum"):
        got = m.values[0].replace(old_sum, data[start:start + 16], new)
        # RFC 1624 §3: the incremental result equals a recomputation, up to the +0/-0 ambiguity.
        assert got % 0xFFFF == ones_complement_checksum(changed) % 0xFFFF
    assert c.replace(old_sum, data[start:start + 16], new) == _.replace(old_sum, data[start:start + 16], new)


def test_bad_arguments(ck):
    with pytest.raises(ValueError):
        ck.pseudo_checksum(b"\0" * 15, b"\0" * 16, 58, b"")
    with pytest.raises(ValueError):
        ck.pseudo_checksum(b"\0" * 16, b"\0" * 16, 256, b"")
    with pytest.raises(ValueError):
        ck.replace(0, b"\0" * 3, b"\0" * 3)
    with pytest.raises(ValueError):
        ck.replace(0x10000, b"\0\0", b"\0\0")


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=40))
def test_batch_matches_single(packets):
    import numpy as np
    buf = b"".join(packets)
    lengths = np.array([len(p) for p in packets], dtype=np.uint32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.uint32)
    for m in both("checksum"):
        out = np.zeros(len(packets), dtype=np.uint16)
        m.values[0].checksum_batch(buf, offsets, lengths, out)
        assert out.tolist() == [ones_complement_checksum(p) for p in packets]


def test_batch_rejects_ranges_past_the_buffer(ck):
    import numpy as np
    with pytest.raises(ValueError, match="packet 1 runs past"):
        ck.checksum_batch(b"\0" * 10, np.array([0, 8], np.uint32), np.array([4, 4], np.uint32),
                          np.zeros(2, np.uint16))
