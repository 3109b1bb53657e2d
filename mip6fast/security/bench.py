"""How much ESP costs a home registration: protect + unprotect of a BU-sized packet per second.

At the home agent one BU -> BA exchange costs one ``unprotect`` (the BU) and one ``protect`` (the BA);
at the mobile node the other way round. ``benchmark()`` measures ``protect`` + ``unprotect`` of the BU
of the README (IPv6, HAO, BU with an Alternate Care-of Address option: 96 bytes; its BA is 80) for each
algorithm: one side's ESP work per exchange, to compare with the unprotected BU -> BA rate of the
roles (the goal: protection costs at most 30% of it).

    python -m mip6fast.security.bench [seconds]
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Callable, NamedTuple

from .algorithms import Algorithm
from .esp import protect, unprotect
from .sa import Direction, SecurityAssociation

HOME, HOME_AGENT = "2001:db8:1::9", "2001:db8:1::1"
# mip6fast.wire's bytes (README example): Packet(src=2001:db8:2::9, dst=2001:db8:1::1,
# home_address=2001:db8:1::9, BindingUpdate(sequence=7, lifetime=400, A, H, Alternate CoA)) and the
# BA back (Type 2 routing header to the home address). Constants, so this layer needs no wire import;
# tests/test_esp.py checks them against mip6fast.wire.
BU_PACKET = bytes.fromhex(
    "6000000000383c4020010db800020000000000000000000920010db8000100000000000000000001870201020000c910"
    "20010db80001000000000000000000093b03050071970007c00000640100031020010db8000200000000000000000009")
BA_PACKET = bytes.fromhex(
    "6000000000282b4020010db800010000000000000000000120010db8000200000000000000000009870202010000000020"
    "010db80001000000000000000000093b010600617c00000007006401020000")


class Rate(NamedTuple):
    algorithm: str
    pairs_per_second: float       # protect + unprotect of the BU (one side's ESP work per exchange)
    microseconds: float           # per pair
    protect_per_second: float     # protect alone


def _best_rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second: the best of repeated runs of ~10 ms within ``seconds``."""
    n, dt = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= 0.01:
            break
        n *= 2
    best = dt / n
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return 1.0 / best


def _measure(algorithm: Algorithm, seconds: float) -> Rate:
    spec = algorithm.spec
    ek, ak = os.urandom(spec.encryption_key), os.urandom(spec.authentication_key)
    mn_out, ha_in = (SecurityAssociation(0x1001, direction, algorithm, source=HOME, destination=HOME_AGENT,
                                         home_address=HOME, encryption_key=ek, authentication_key=ak,
                                         esn=True)   # ESN: a long run never exhausts the SA
                     for direction in (Direction.OUTBOUND, Direction.INBOUND))
    lookup = {ha_in.spi: ha_in}.get

    def pair() -> object:
        return unprotect(protect(BU_PACKET, mn_out), lookup)

    def protect_only() -> object:
        return protect(BU_PACKET, mn_out)

    rate = _best_rate(pair, seconds)
    return Rate(algorithm.value, rate, 1e6 / rate, _best_rate(protect_only, seconds))


def benchmark(seconds: float = 1.0, algorithms: Iterable[Algorithm] = tuple(Algorithm)) -> list[Rate]:
    """For each algorithm: ``protect`` then ``unprotect`` of the BU per second (the ESP work of one side
    of a BU -> BA exchange: the home agent unprotects the BU and protects a BA of about the same size),
    and ``protect`` alone. ``seconds`` per figure."""
    return [_measure(Algorithm(a), seconds) for a in algorithms]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seconds = float(args[0]) if args else 1.0
    print(f"ESP protect + unprotect of a {len(BU_PACKET)}-byte BU, Python {sys.version.split()[0]}, "
          f"{seconds:g} s per figure")
    print(f"{'algorithm':<26} {'pairs/s':>10} {'us/pair':>8} {'protect/s':>10}")
    for r in benchmark(seconds):
        print(f"{r.algorithm:<26} {r.pairs_per_second:>10,.0f} {r.microseconds:>8.1f} "
              f"{r.protect_per_second:>10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
