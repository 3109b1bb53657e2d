"""ESP transforms (RFC 8221's current set), every primitive from the ``cryptography`` package.

- AES-GCM with a 16-octet ICV (RFC 4106): key material = AES key (16 or 32 octets) followed by a
  4-octet salt (RFC 4106 §8.1); nonce = salt | 8-octet explicit IV carried in the packet; AAD = SPI |
  sequence number, or SPI | high 32 bits | low 32 bits with extended sequence numbers (RFC 4106 §5).
- AES-CBC (RFC 3602: 16-octet unpredictable IV in the packet, plaintext padded to the block) with
  HMAC-SHA-256-128 (RFC 4868: 32-octet key, ICV = the first 16 octets of the HMAC) over SPI |
  sequence | IV | ciphertext, plus the high 32 sequence bits with ESN (RFC 4303 §2.2.1, §3.3.2).
- NULL encryption (RFC 2410) with HMAC-SHA-256-128: authentication only, the payload in clear.

A transform is built once per SA and owns that SA's keys; ``seal`` and ``open`` work on one ESP
packet. The IV policy (which IV an encryptor uses) is the SA's business (``SecurityAssociation``):
GCM IVs are derived from the sequence number so they never repeat under a key, CBC IVs from a
random block (see ``Transform``).
"""
from __future__ import annotations

import hmac as _stdlib_hmac  # compare_digest only: a constant-time comparison, not an algorithm
import struct
from enum import Enum
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ICV_LENGTH = 16  # every transform here: GCM's 16-octet tag, HMAC-SHA-256 truncated to 128 bits


class Algorithm(Enum):
    """The ESP transforms this engine implements (RFC 8221: AES-GCM-16 MUST for 128-bit keys,
    AES-CBC MUST with an integrity algorithm, HMAC-SHA-256-128 MUST, NULL encryption MUST)."""
    AES_128_GCM = "aes-128-gcm"
    AES_256_GCM = "aes-256-gcm"
    AES_128_CBC_HMAC_SHA256 = "aes-128-cbc-hmac-sha256"
    AES_256_CBC_HMAC_SHA256 = "aes-256-cbc-hmac-sha256"
    NULL_HMAC_SHA256 = "null-hmac-sha256"

    @property
    def spec(self) -> AlgorithmSpec:
        return _SPECS[self]


class AlgorithmSpec(NamedTuple):
    """Sizes in octets. ``encryption_key`` includes GCM's 4-octet salt; ``align`` is what the
    plaintext (payload | padding | pad length | next header) is padded to (RFC 4303 §2.4)."""
    encryption_key: int
    authentication_key: int
    iv: int
    align: int
    icv: int
    aead: bool
    encrypts: bool


_SPECS = {
    Algorithm.AES_128_GCM: AlgorithmSpec(16 + 4, 0, 8, 4, ICV_LENGTH, True, True),
    Algorithm.AES_256_GCM: AlgorithmSpec(32 + 4, 0, 8, 4, ICV_LENGTH, True, True),
    Algorithm.AES_128_CBC_HMAC_SHA256: AlgorithmSpec(16, 32, 16, 16, ICV_LENGTH, False, True),
    Algorithm.AES_256_CBC_HMAC_SHA256: AlgorithmSpec(32, 32, 16, 16, ICV_LENGTH, False, True),
    Algorithm.NULL_HMAC_SHA256: AlgorithmSpec(0, 32, 0, 4, ICV_LENGTH, False, False),
}


class IntegrityError(Exception):
    """Internal: the ICV did not verify. ``esp`` turns it into AuthenticationFailed with the SPI."""


class Transform:
    """One SA's keyed transform. ``seal(header, seq_hi, iv, plaintext)`` returns IV | ciphertext | ICV;
    ``open(header, seq_hi, body)`` returns the plaintext or raises IntegrityError. ``header`` is the
    8-octet SPI | sequence (low 32 bits) field; ``seq_hi`` the high 32 bits with ESN, else None.

    AES-CBC keeps one encryption and one decryption context for the SA's life: creating a context costs
    about 8 us in ``cryptography``, several times the rest of a BU's ESP work. To send, the context
    encrypts a random block R (``iv`` below, from the SA's random source) followed by the plaintext;
    the first output block, E(R xor the context's previous output block), is uniformly random and
    unpredictable, and goes on the wire as the IV (RFC 3602 §2.4 asks for an unpredictable IV), the
    rest is exactly the CBC encryption of the plaintext under that IV (TLS 1.1, RFC 4346 §6.2.3.2
    (2)(b), chooses IVs the same way). To receive, the context decrypts IV | ciphertext: the first
    output block is discarded, and every following one is decrypted against the block before it, the
    IV first, as CBC does. Only whole blocks ever go through the contexts (``esp`` checks lengths
    before), so no state is left over between packets."""
    __slots__ = ("_aead", "_cbc_dec", "_cbc_enc", "_mac", "_salt", "spec")

    def __init__(self, algorithm: Algorithm, encryption_key: bytes, authentication_key: bytes):
        spec = algorithm.spec
        self.spec = spec
        self._aead: AESGCM | None = None
        self._salt = b""
        self._cbc_enc: CipherContext | None = None
        self._cbc_dec: CipherContext | None = None
        self._mac: crypto_hmac.HMAC | None = None
        if spec.aead:
            self._aead = AESGCM(encryption_key[:-4])
            self._salt = encryption_key[-4:]
        else:
            if spec.encrypts:
                cbc = Cipher(algorithms.AES(encryption_key), modes.CBC(bytes(16)))
                self._cbc_enc, self._cbc_dec = cbc.encryptor(), cbc.decryptor()
            # Keyed once; every packet works on a copy (RFC 2104's inner/outer pads computed once).
            self._mac = crypto_hmac.HMAC(authentication_key, hashes.SHA256())

    def __repr__(self) -> str:
        return "<Transform>"

    def _icv(self, header: bytes, seq_hi: int | None, covered: bytes) -> bytes:
        assert self._mac is not None
        mac = self._mac.copy()
        mac.update(header)
        mac.update(covered)
        if seq_hi is not None:
            # RFC 4303 §2.2.1: the high-order bits are not sent but are covered, after the payload.
            mac.update(struct.pack("!I", seq_hi))
        return mac.finalize()[:ICV_LENGTH]

    def seal(self, header: bytes, seq_hi: int | None, iv: bytes, plaintext: bytes) -> bytes:
        if self._aead is not None:
            aad = header if seq_hi is None else header[:4] + struct.pack("!I", seq_hi) + header[4:]
            return iv + self._aead.encrypt(self._salt + iv, plaintext, aad)
        if self._cbc_enc is not None:
            covered = self._cbc_enc.update(iv + plaintext)      # IV on the wire | ciphertext
        else:
            covered = plaintext
        return covered + self._icv(header, seq_hi, covered)

    def open(self, header: bytes, seq_hi: int | None, body: bytes) -> bytes:
        if self._aead is not None:
            aad = header if seq_hi is None else header[:4] + struct.pack("!I", seq_hi) + header[4:]
            try:
                return self._aead.decrypt(self._salt + body[:8], body[8:], aad)
            except InvalidTag:
                raise IntegrityError() from None
        covered, icv = body[:-ICV_LENGTH], body[-ICV_LENGTH:]
        # RFC 4303 §3.4.4.1: verify the ICV before decrypting.
        if not _stdlib_hmac.compare_digest(self._icv(header, seq_hi, covered), icv):
            raise IntegrityError()
        if self._cbc_dec is None:
            return covered
        return self._cbc_dec.update(covered)[16:]
