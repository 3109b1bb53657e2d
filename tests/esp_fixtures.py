"""Shared pieces of the ESP tests: addresses, deterministic keys and random sources, SA pairs, and
the packets of a home registration built by mip6fast.wire (BU, BA, MPS, MPA, reverse-tunnelled HoTI)."""
from __future__ import annotations

import random
from typing import Callable

from mip6fast.security import Algorithm, Direction, Mode, SecurityAssociation
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingUpdate,
    HomeTest,
    HomeTestInit,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
)

HOME = "2001:db8:1::9"         # mobile node A's home address
OTHER_HOME = "2001:db8:1::a"   # mobile node B's
HA = "2001:db8:1::1"
COA = "2001:db8:2::9"
CN = "2001:db8:5::5"

ALGORITHMS = list(Algorithm)


def rng(seed: int = 1) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    r = random.Random(seed)
    return r.randbytes


def keys(algorithm: Algorithm, seed: int = 0) -> tuple[bytes, bytes]:
    """(encryption_key, authentication_key) of the right sizes, distinct per seed, never all zero."""
    spec = algorithm.spec
    r = random.Random(1000 + seed)
    return r.randbytes(spec.encryption_key), r.randbytes(spec.authentication_key)


def sa_pair(algorithm: Algorithm, *, from_mn: bool = True, home: str = HOME, spi: int = 0x1001,
            mode: Mode = Mode.TRANSPORT, seed: int = 0, esn: bool = False, window: int = 64,
            sequence: int = 0, rng_seed: int = 1) -> tuple[SecurityAssociation, SecurityAssociation]:
    """(outbound SA at the sender, inbound SA at the receiver) for one direction of one home address."""
    ek, ak = keys(algorithm, seed)
    src, dst = (home, HA) if from_mn else (HA, home)
    common = {"source": src, "destination": dst, "home_address": home, "mode": mode, "encryption_key": ek,
                  "authentication_key": ak, "esn": esn, "replay_window": window, "sequence": sequence}
    out = SecurityAssociation(spi, Direction.OUTBOUND, algorithm, rng=rng(rng_seed), **common)
    inb = SecurityAssociation(spi, Direction.INBOUND, algorithm, **common)
    return out, inb


def bu(home: str = HOME, sequence: int = 7) -> bytes:
    """A home registration BU as the mobile node sends it: CoA source, HAO, Alternate CoA option."""
    return Packet(src=COA, dst=HA, home_address=home,
                  payload=BindingUpdate(sequence=sequence, lifetime=400, ack=True, home=True,
                                        options=[AlternateCareOfAddress(COA)])).to_bytes()


def ba(home: str = HOME, sequence: int = 7) -> bytes:
    """The home agent's BA: to the care-of address, Type 2 routing header with the home address."""
    return Packet(src=HA, dst=COA, rh2=home,
                  payload=BindingAcknowledgement(status=0, sequence=sequence, lifetime=400)).to_bytes()


def mps(home: str = HOME) -> bytes:
    return Packet(src=COA, dst=HA, home_address=home,
                  payload=MobilePrefixSolicitation(identifier=5)).to_bytes()


def mpa(home: str = HOME) -> bytes:
    return Packet(src=HA, dst=COA, rh2=home, payload=MobilePrefixAdvertisement(identifier=5)).to_bytes()


def tunnelled_hoti(home: str = HOME) -> bytes:
    """Reverse tunnel, MN -> HA: outer CoA -> HA, inner HoTI from the home address to a correspondent."""
    inner = Packet(src=home, dst=CN, payload=HomeTestInit(cookie=b"12345678"))
    return Packet(src=COA, dst=HA, payload=inner).to_bytes()


def tunnelled_hot(home: str = HOME) -> bytes:
    """Tunnel, HA -> MN: outer HA -> CoA, inner HoT from a correspondent to the home address."""
    inner = Packet(src=CN, dst=home, payload=HomeTest(nonce_index=1, cookie=b"12345678",
                                                      keygen_token=b"abcdefgh"))
    return Packet(src=HA, dst=COA, payload=inner).to_bytes()
