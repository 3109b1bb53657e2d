"""pytest-benchmark: the wire codecs (compiled, id "c") beside their pure-Python twins (id "py").

Run: python -m pytest bench/ --benchmark-only --benchmark-group-by=func"""
from ipaddress import IPv6Address

import numpy as np
import pytest

from conftest import impls
from mip6fast import _impl

COA = IPv6Address("2001:db8:2::9").packed
HA = IPv6Address("2001:db8:1::1").packed
HOA = IPv6Address("2001:db8:1::9").packed


@pytest.fixture(params=["c", "py"])
def codecs(request):
    pc, pp = _impl.load_both("packet")
    mc, mp = _impl.load_both("mh")
    if pc is None or mc is None:
        raise RuntimeError("compiled codecs are not built")
    return (pc, mc) if request.param == "c" else (pp, mp)


def test_bu_build(benchmark, codecs):
    packet, mh = codecs
    wire = benchmark(lambda: packet.build(0, 0, 64, COA, HA, None, None, HOA, None, 135,
                                          mh.build(5, (7, 0xC000, 100), ((3, COA),))))
    assert len(wire) == 40 + 24 + 32


def test_bu_parse(benchmark, codecs):
    packet, mh = codecs
    wire = packet.build(0, 0, 64, COA, HA, None, None, HOA, None, 135, mh.build(5, (7, 0xC000, 100), ((3, COA),)))

    def parse():
        raw = packet.parse(wire)
        return mh.parse(memoryview(wire)[raw[10]:])

    assert benchmark(parse)[0] == 5


@pytest.mark.parametrize("size", [64, 512, 1500])
@pytest.mark.parametrize("ck", impls("checksum"))
def test_checksum(benchmark, ck, size):
    buf = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    benchmark(ck.checksum, buf)


@pytest.mark.parametrize("size", [64, 512, 1500])
@pytest.mark.parametrize("ck", impls("checksum"))
def test_checksum_batch256(benchmark, ck, size):
    n = 256
    buf = np.random.default_rng(size).integers(0, 256, size * n, dtype=np.uint8).tobytes()
    offsets = np.arange(n, dtype=np.uint32) * size
    lengths = np.full(n, size, dtype=np.uint32)
    out = np.zeros(n, dtype=np.uint16)
    benchmark(ck.checksum_batch, buf, offsets, lengths, out)
