"""``mip6fast bench wire``: the wire codecs against their pure-Python twins (the baselines).

Binding Update build and parse at the codec level (IPv6 header, Home Address option, Mobility Header
with an Alternate Care-of Address option, checksum), the same through the readable objects, and the
Internet checksum over 64/512/1500-byte buffers, one call per buffer and one call per batch of 256."""
from ipaddress import IPv6Address

import numpy as np

from .. import _impl
from ..wire import AlternateCareOfAddress, BindingUpdate, Packet, parse
from . import environment, measure, result

COA = IPv6Address("2001:db8:2::9").packed
HA = IPv6Address("2001:db8:1::1").packed
HOA = IPv6Address("2001:db8:1::9").packed
SIZES = (64, 512, 1500)
BATCH = 256


def _bu_codec(packet, mh):
    def build():
        return packet.build(0, 0, 64, COA, HA, None, None, HOA, None, 135,
                            mh.build(5, (7, 0xC000, 100), ((3, COA),)))

    wire = build()

    def parse():
        raw = packet.parse(wire)
        return mh.parse(memoryview(wire)[raw[10]:])

    return build, parse


def run(seconds: float = 0.3) -> dict:
    results = []
    packet_c, packet_py = _impl.load_both("packet")
    mh_c, mh_py = _impl.load_both("mh")
    ck_c, ck_py = _impl.load_both("checksum")
    if None in (packet_c, mh_c, ck_c):
        raise RuntimeError("the compiled codecs are not built; nothing to compare with the baseline")

    build_c, parse_c = _bu_codec(packet_c, mh_c)
    build_py, parse_py = _bu_codec(packet_py, mh_py)
    assert build_c() == build_py(), "compiled and twin Binding Updates differ"
    results.append(result("bu_build", measure(build_c, seconds), "ops/s", measure(build_py, seconds)))
    results.append(result("bu_parse", measure(parse_c, seconds), "ops/s", measure(parse_py, seconds)))

    # The readable object layer over the compiled codecs (what most users call); no twin baseline.
    pkt = Packet(src=COA, dst=HA, home_address=HOA,
                 payload=BindingUpdate(sequence=7, lifetime=400, ack=True, home=True,
                                       options=[AlternateCareOfAddress(COA)]))
    wire = pkt.to_bytes()
    assert wire == build_c()
    results.append(result("bu_build_objects", measure(pkt.to_bytes, seconds), "ops/s"))
    results.append(result("bu_parse_objects", measure(lambda: parse(wire), seconds), "ops/s"))

    rng = np.random.default_rng(1)
    for size in SIZES:
        buf = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        mb = size / 1e6
        results.append(result(f"checksum_{size}", measure(lambda buf=buf: ck_c.checksum(buf), seconds, 1) * mb, "MB/s",
                              measure(lambda buf=buf: ck_py.checksum(buf), seconds, 1) * mb))
    for size in SIZES:
        buf = rng.integers(0, 256, size * BATCH, dtype=np.uint8).tobytes()
        offsets = np.arange(BATCH, dtype=np.uint32) * size
        lengths = np.full(BATCH, size, dtype=np.uint32)
        out = np.zeros(BATCH, dtype=np.uint16)
        mb = size * BATCH / 1e6
        args = (buf, offsets, lengths, out)   # bound now: the lambdas must not see a later iteration's
        c = measure(lambda args=args: ck_c.checksum_batch(*args), seconds) * mb
        expected = out.copy()
        py = measure(lambda args=args: ck_py.checksum_batch(*args), seconds) * mb
        assert (out == expected).all()
        results.append(result(f"checksum_batch{BATCH}_{size}", c, "MB/s", py))
    return {"benchmark": "wire", "environment": environment(), "results": results}
