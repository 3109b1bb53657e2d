"""pytest-benchmark: ESP protect + unprotect of a home registration's BU, per algorithm
(mip6fast.security; the same measurement as ``python -m mip6fast.security.bench``).

Run: python -m pytest bench/test_esp_bench.py --benchmark-only"""
from __future__ import annotations

import os

import pytest

from mip6fast.security import Algorithm, Direction, SecurityAssociation, protect, unprotect
from mip6fast.security.bench import BU_PACKET, HOME, HOME_AGENT


@pytest.mark.parametrize("algorithm", list(Algorithm), ids=lambda a: a.value)
def test_esp_bu_protect_unprotect(benchmark, algorithm):
    spec = algorithm.spec
    ek, ak = os.urandom(spec.encryption_key), os.urandom(spec.authentication_key)
    out, inb = (SecurityAssociation(0x1001, d, algorithm, source=HOME, destination=HOME_AGENT,
                                    home_address=HOME, encryption_key=ek, authentication_key=ak, esn=True)
                for d in (Direction.OUTBOUND, Direction.INBOUND))
    lookup = {inb.spi: inb}.get
    result = benchmark(lambda: unprotect(protect(BU_PACKET, out), lookup))
    assert result.packet == BU_PACKET
