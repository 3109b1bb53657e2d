"""Protection of home registrations: ESP (RFC 4303) in the engine's own packet path.

A layer between ``mip6fast.wire`` and the roles (RFC 6275 §5.1: BU/BA between a mobile node and its
home agent MUST be protected by IPsec). It imports only ``mip6fast.errors``, the standard library and
``cryptography``; the roles hold a ``SecurityPolicyDatabase`` and call it. docs/SECURITY.md describes
the whole of it.

- ``esp``: ``protect(packet, sa)``, ``unprotect(packet, lookup)`` (transport and tunnel mode),
  ``seal``/``open_payload`` for one ESP packet;
- ``sa``: ``SecurityAssociation``, ``ReplayWindow``, ``SaCounters``, ``Direction``, ``Mode``;
- ``algorithms``: ``Algorithm`` (AES-GCM-16, AES-CBC + HMAC-SHA-256-128, NULL + HMAC-SHA-256-128);
- ``spd``: ``SecurityPolicyDatabase`` (inbound by SPI, outbound by home address);
- ``keys``: ``load_key_file``, ``load_security_policy``, ``load_protection``, ``read_key_file`` (manual
  keying);
- ``mn_ha``: ``MnHaCredential``, ``MnHaCredentials`` (RFC 4285: the MN-HA authentication option instead
  of ESP, per home address);
- ``errors``: ``EspError`` and its subclasses, each with the ``reason`` a caller counts it under.
"""
from __future__ import annotations

from .algorithms import Algorithm
from .errors import (
                     AuthenticationFailed,
                     DummyPacket,
                     EspError,
                     KeyFileError,
                     MalformedPacket,
                     NoSecurityAssociation,
                     NotProtected,
                     PolicyViolation,
                     ReplayedPacket,
                     SequenceExhausted,
                     UnknownSpi,
)
from .esp import Opened, Unprotected, is_protected, open_payload, protect, seal, unprotect
from .keys import KeyMaterial, Protection, load_key_file, load_protection, load_security_policy, read_key_file
from .mn_ha import MnHaCredential, MnHaCredentials
from .sa import Direction, Mode, ReplayWindow, SaCounters, SecurityAssociation
from .spd import SecurityPolicyDatabase, SpdCounters

__all__ = [
    "Algorithm", "AuthenticationFailed", "Direction", "DummyPacket", "EspError", "KeyFileError", "KeyMaterial",
    "MalformedPacket", "MnHaCredential", "MnHaCredentials", "Mode", "NoSecurityAssociation", "NotProtected",
    "Opened", "PolicyViolation", "Protection",
    "ReplayWindow", "ReplayedPacket", "SaCounters", "SecurityAssociation", "SecurityPolicyDatabase",
    "SequenceExhausted", "SpdCounters", "UnknownSpi", "Unprotected", "is_protected", "load_key_file",
    "load_protection", "load_security_policy", "open_payload", "protect", "read_key_file", "seal", "unprotect",
]
