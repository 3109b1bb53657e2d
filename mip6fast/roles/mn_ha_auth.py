"""RFC 4285 in the roles: Binding Updates and Acknowledgements between a mobile node and its home agent
authenticated by the MN-HA Mobility Message Authentication option instead of ESP, for the home addresses
that have an RFC 4285 credential (``security.MnHaCredential``), with the mobile node's NAI (RFC 4283)
and replay protection by timestamps. One object, ``MnHaAuthentication``, used by both ends (the rules
exist once): the home agent's registrar calls ``check_bu`` and ``sign_ba``, the mobile node's
registrations ``sign_bu`` and ``check_ba``.

Theory of operation
-------------------
A BU for an RFC 4285 home address carries, in this order (RFC 4285 §4-§6, RFC 4283 §3): the Mobile
Node Identifier option with the mobile node's NAI, the Mobility Message Replay Protection option with
its clock as a 64-bit NTP timestamp, and the MN-HA authentication option last, whose authenticator is
First(96, HMAC_SHA1(key, care-of address | home address | the MH up to the SPI)) (§5.1). The home
agent (``check_bu``), before anything else of §9.5.1 / §10.3.1:

1. the NAI option must be there and name the credential's NAI (it identifies the mobile node, RFC 4283
   §3), and the authenticator must verify with the credential's SPI and key (§5.1); otherwise status 146
   (MIPV6-AUTH-FAIL, §5);
2. only then the replay check (§6: after authentication): no replay protection option → 145
   (MIPV6-MESG-ID-REQD); a timestamp further than the credential's window from the home agent's clock,
   or not newer than the last one it accepted for that home address (a replayed BU) → 144
   (MIPV6-ID-MISMATCH), with the home agent's own time in the BA's replay protection option so that
   the mobile node can resynchronise;
3. otherwise the timestamp becomes the last accepted one and processing goes on as for any BU: the
   binding ACL, the sequence number window (135) and the rest. The sequence number the home agent holds
   is thus only ever sent (status 135) to a sender that proved it has the key.

The BAs to an RFC 4285 home address (``sign_ba``) carry the BU's NAI option, the replay protection option
(the BU's timestamp echoed, so the mobile node matches BA to BU, §6; the home agent's time for 144; none for
145, whose BU had none) and the MN-HA authenticator, computed over the same care-of address and home
address as the BU's. A refusal of steps 1-2 is answered, not dropped: RFC 4285 §5 and §6 give the home
agent a BA status for each case, and the BA echoes only the BU's own sequence number, so it leaks
nothing an unauthenticated sender did not send itself. Two precautions where the RFC leaves room: a
146 goes to the BU's source address, never to an Alternate Care-of Address option nobody has
authenticated (no reflection to a third party), and the refusals share a token bucket
(``REFUSAL_RATE`` a second after a burst of ``REFUSAL_BURST``; beyond it they are silent and counted).

The mobile node (``check_ba``) acts on a BA for an RFC 4285 home address only when its authenticator
verifies with the care-of address its BU was signed with, its NAI option (if any) names its own NAI,
and its timestamp echoes that of the BU it answers (status 145 excepted, whose BU the home agent saw
without one). Everything else is dropped and counted. Status 144 with a valid authenticator is the
resynchronisation of §6: the node takes the home agent's timestamp as its clock for that home agent
(``offset``) and sends a new BU at once; a second 144 before any accepted BA leaves the next try to the
registration engine's back-off, so a home agent whose clock jumps about cannot make it loop.

Clocks: the roles read no clock. The driver gives each node its wall clock as an offset from the
monotonic time it is driven with (``wall_offset_ns``, as for the binding store; the simulator's is 0, so
its runs stay deterministic); the NTP time is ``unix_to_ntp((now + wall_offset) / 10**9)``. The fraction
bits below the nanosecond are zero (RFC 4285 §6 suggests random ones; a timestamp's freshness and
ordering are what the checks use). The home agent keeps the last accepted timestamp per home address in
memory: after a restart, a BU captured before it can be replayed within the window (7 s by default).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from fractions import Fraction
from ipaddress import IPv6Address
from typing import NamedTuple

from ..errors import ParseError
from ..security import MnHaCredential, MnHaCredentials
from ..wire import (
    BindingAcknowledgement,
    BindingAckStatus,
    BindingUpdate,
    MobileNodeIdentifier,
    MobileNodeIdentifierSubtype,
    MobilityMessageReplayProtection,
    MobilityOption,
)
from ..wire.auth4285 import AuthVerdict, ReplayCheck, check_timestamp, unix_to_ntp
from ..wire.packet import CODEC as PACKET_CODEC
from .counters import declare
from .events import NS_PER_S
from .rate_limit import TokenBucket

__all__ = ["AUTH4285_COUNTERS", "REFUSAL_BURST", "REFUSAL_RATE", "BaCheck", "MnHaAuthentication", "Refusal",
           "SentBu", "received_mh"]

# The refusals of step 1-2 share one token bucket (BAs a second, after a burst): see the module doc.
REFUSAL_RATE = 10
REFUSAL_BURST = 10

_MOD64 = 1 << 64
_HALF64 = 1 << 63
_VERDICTS = tuple(v.name.lower() for v in AuthVerdict if not v.ok)
REFUSAL_REASONS = ("nai_missing", "nai_mismatch", *_VERDICTS, "timestamp_missing", "too_old", "too_new",
                   "replayed")
DROP_REASONS = ("under_esp", "rate_limited", "malformed")
BA_DROP_REASONS = ("unexpected", "malformed", *_VERDICTS, "nai_mismatch", "timestamp_missing",
                   "timestamp_mismatch", "sequence_mismatch")

AUTH4285_COUNTERS = declare(
    ("auth4285.accepted", "BUs whose NAI, MN-HA authenticator and timestamp checked out (RFC 4285)"),
    ("auth4285.refused.<reason>", "BUs refused by the RFC 4285 checks, answered with BA 146, 145 or 144",
     REFUSAL_REASONS),
    ("drop.auth4285.<reason>", ("RFC 4285 home address: a BU under ESP, a refusal over the rate limit, "
                                "an unreadable MH; no answer"), DROP_REASONS),
    ("auth4285.signed", "BUs or BAs sent with the MN-HA authentication option (RFC 4285 §5.1)"),
    ("auth4285.verified", "BAs whose MN-HA authenticator, NAI and timestamp checked out (mobile node)"),
    ("drop.auth4285.ba.<reason>", "BAs for an RFC 4285 home address dropped unacted on (mobile node)",
     BA_DROP_REASONS),
    ("auth4285.resync", "status 144: the clock resynchronised to the home agent's and a new BU sent (§6)"),
    ("auth4285.resync_repeated", "another 144 before an accepted BA: resynchronised, the next BU on back-off"),
)


def received_mh(raw: bytes) -> bytes | None:
    """The Mobility Header of a received IPv6 packet, as its bytes came (the authenticator covers them,
    padding included); None when the packet does not parse to one."""
    try:
        fields = PACKET_CODEC.parse(memoryview(raw), False)
    except ParseError:
        return None
    return raw[fields[10]:] if fields[9] == 135 else None


def _timestamp(msg: BindingUpdate | BindingAcknowledgement) -> int | None:
    for opt in msg.options:
        if isinstance(opt, MobilityMessageReplayProtection):
            return opt.timestamp
    return None


def _signed_diff(a: int, b: int) -> int:
    """a - b for NTP timestamps, modulo 2**64 as a signed number (NTP eras)."""
    return (a - b + _HALF64) % _MOD64 - _HALF64


class Refusal(NamedTuple):
    """Why the home agent refuses a BU (``check_bu``): the BA status and the counter's reason."""
    status: int
    reason: str


class BaCheck(Enum):
    """What the mobile node does with a BA for an RFC 4285 home address (``check_ba``)."""
    ACCEPT = "act on it as on any BA"
    RESYNC = "status 144: resynchronised to the home agent's clock; send a new BU"
    DROP = "dropped and counted"


@dataclass(frozen=True)
class SentBu:
    """The mobile node's last signed BU for a home address: what the next BA must answer."""
    sequence: int
    timestamp: int
    care_of: IPv6Address


class MnHaAuthentication:
    """RFC 4285 for one node (see the module docstring). ``credentials``: the node's RFC 4285
    credentials by home address; ``counters``: its counters; ``wall_offset()``: its wall clock minus the
    time it is driven with, in ns."""

    def __init__(self, credentials: MnHaCredentials, counters: Counter, wall_offset: Callable[[], int]):
        self.credentials = credentials
        self.counters = counters
        self._wall_offset = wall_offset
        # Home agent: the last accepted timestamp per home address (§6).
        self.last_accepted: dict[IPv6Address, int] = {}
        self._refusals = TokenBucket(REFUSAL_RATE, REFUSAL_BURST)
        # Mobile node: the last BU sent per home address, the clock offset per home address (NTP units,
        # set by a 144), and the home addresses resynchronised since their last accepted BA.
        self._sent: dict[IPv6Address, SentBu] = {}
        self.offset: dict[IPv6Address, int] = {}
        self._resynced: set[IPv6Address] = set()

    def credential(self, home: IPv6Address) -> MnHaCredential | None:
        return self.credentials.get(home)

    def sent(self, home: IPv6Address) -> SentBu | None:
        """Mobile node: the last BU signed for ``home`` (None: none yet)."""
        return self._sent.get(home)

    def protects(self, home: IPv6Address) -> bool:
        return home in self.credentials

    def clock(self, now: int) -> int:
        """This node's wall clock at ``now`` as an NTP timestamp (RFC 4285 §6, RFC 1305)."""
        return unix_to_ntp(Fraction(now + self._wall_offset(), NS_PER_S))

    # ------------------------------------------------------------ the home agent

    def check_bu(self, now: int, mh: bytes | None, bu: BindingUpdate, home: IPv6Address,
                 care_of: IPv6Address) -> Refusal | None:
        """Steps 1-3 of the module docstring for a BU to an RFC 4285 home address; ``mh``: its Mobility
        Header as received (None: ``bu`` re-encoded). None: accepted (its timestamp is now the last
        accepted one); else the refusal, counted."""
        cred = self.credentials.get(home)
        assert cred is not None, "check_bu for a home address without an RFC 4285 credential"
        ids = [o for o in bu.options if isinstance(o, MobileNodeIdentifier)]
        if not ids:
            return self._refuse(BindingAckStatus.MIPV6_AUTH_FAIL, "nai_missing")
        nai = cred.nai.encode("utf-8")
        if any(o.subtype != MobileNodeIdentifierSubtype.NAI or o.identifier != nai for o in ids):
            return self._refuse(BindingAckStatus.MIPV6_AUTH_FAIL, "nai_mismatch")
        verdict = cred.verify(bu if mh is None else mh, care_of)
        if not verdict.ok:
            return self._refuse(BindingAckStatus.MIPV6_AUTH_FAIL, verdict.name.lower())
        # §6: the replay check comes after the authentication.
        timestamp = _timestamp(bu)
        if timestamp is None:
            return self._refuse(BindingAckStatus.MIPV6_MESG_ID_REQD, "timestamp_missing")
        fresh = check_timestamp(timestamp, self.clock(now), cred.replay_window)
        if fresh is not ReplayCheck.OK:
            return self._refuse(BindingAckStatus.MIPV6_ID_MISMATCH, fresh.name.lower())
        last = self.last_accepted.get(home)
        if last is not None and _signed_diff(timestamp, last) <= 0:
            return self._refuse(BindingAckStatus.MIPV6_ID_MISMATCH, "replayed")
        self.last_accepted[home] = timestamp
        self.counters["auth4285.accepted"] += 1
        return None

    def _refuse(self, status: int, reason: str) -> Refusal:
        self.counters[f"auth4285.refused.{reason}"] += 1
        return Refusal(int(status), reason)

    def may_answer_refusal(self, now: int) -> bool:
        """The refusals' token bucket: False (counted ``drop.auth4285.rate_limited``) when over it."""
        if self._refusals.take(now):
            return True
        self.counters["drop.auth4285.rate_limited"] += 1
        return False

    def sign_ba(self, now: int, ba: BindingAcknowledgement, bu: BindingUpdate, home: IPv6Address,
                care_of: IPv6Address) -> BindingAcknowledgement:
        """``ba`` (answering ``bu``) with the BU's NAI option echoed, the replay protection option (the
        BU's timestamp echoed; the home agent's time for 144; none for 145) and the MN-HA authenticator
        last, over ``care_of`` and ``home`` (RFC 4285 §5.1, §6; RFC 4283 §3)."""
        cred = self.credentials.get(home)
        assert cred is not None
        # RFC 4283 §3: the NAI the BU gave (the mobile node checks it is its own); none if it gave none.
        ids = [o for o in bu.options if isinstance(o, MobileNodeIdentifier)]
        options: list[MobilityOption] = [*ids[:1]]
        if ba.status == BindingAckStatus.MIPV6_ID_MISMATCH:
            options.append(MobilityMessageReplayProtection(self.clock(now)))
        else:
            timestamp = _timestamp(bu)
            if timestamp is not None:
                options.append(MobilityMessageReplayProtection(timestamp))
        self.counters["auth4285.signed"] += 1
        signed = cred.sign(replace(ba, options=ba.options + tuple(options)), care_of)
        assert isinstance(signed, BindingAcknowledgement)
        return signed

    # ------------------------------------------------------------ the mobile node

    def sign_bu(self, now: int, bu: BindingUpdate, home: IPv6Address, care_of: IPv6Address) -> BindingUpdate:
        """``bu`` with the NAI option, the replay protection option (this node's clock for the home agent,
        §6) and the MN-HA authenticator last, over ``care_of`` and ``home``; remembered as the BU the next
        BA must answer."""
        cred = self.credentials.get(home)
        assert cred is not None
        timestamp = (self.clock(now) + self.offset.get(home, 0)) % _MOD64
        options = (MobileNodeIdentifier(cred.nai.encode("utf-8")), MobilityMessageReplayProtection(timestamp))
        signed = cred.sign(replace(bu, options=bu.options + options), care_of)
        assert isinstance(signed, BindingUpdate)
        self._sent[home] = SentBu(bu.sequence, timestamp, care_of)
        self.counters["auth4285.signed"] += 1
        return signed

    def check_ba(self, now: int, mh: bytes | None, ba: BindingAcknowledgement, home: IPv6Address) -> BaCheck:
        """A BA for an RFC 4285 home address from its home agent (``mh``: its Mobility Header as
        received; None: ``ba`` re-encoded): see the module docstring. RESYNC has already moved the clock
        (``resync`` says whether to send at once)."""
        cred = self.credentials.get(home)
        assert cred is not None
        sent = self._sent.get(home)
        if sent is None:
            return self._drop_ba("unexpected")
        try:
            verdict = cred.verify(ba if mh is None else mh, sent.care_of)
        except (ParseError, ValueError):
            return self._drop_ba("malformed")
        if not verdict.ok:
            return self._drop_ba(verdict.name.lower())
        nai = cred.nai.encode("utf-8")
        if any(isinstance(o, MobileNodeIdentifier) and (o.subtype != MobileNodeIdentifierSubtype.NAI
                                                        or o.identifier != nai) for o in ba.options):
            return self._drop_ba("nai_mismatch")
        timestamp = _timestamp(ba)
        if ba.status == BindingAckStatus.MIPV6_ID_MISMATCH:
            if timestamp is None:
                return self._drop_ba("timestamp_missing")
            if ba.sequence != sent.sequence:
                return self._drop_ba("sequence_mismatch")
            # §6: the home agent's time, from a BA that authenticated, is the clock from now on.
            self.offset[home] = _signed_diff(timestamp, self.clock(now))
            self.counters["auth4285.verified"] += 1
            return BaCheck.RESYNC
        if ba.status != BindingAckStatus.MIPV6_MESG_ID_REQD:
            if timestamp is None:
                return self._drop_ba("timestamp_missing")
            if timestamp != sent.timestamp:
                return self._drop_ba("timestamp_mismatch")
        self._resynced.discard(home)
        self.counters["auth4285.verified"] += 1
        return BaCheck.ACCEPT

    def resync(self, home: IPv6Address) -> bool:
        """After a RESYNC: True (counted ``auth4285.resync``) to send a new BU at once, False (counted
        ``auth4285.resync_repeated``) when this home address was already resynchronised since its last
        accepted BA (the next BU waits for the back-off)."""
        if home in self._resynced:
            self.counters["auth4285.resync_repeated"] += 1
            return False
        self._resynced.add(home)
        self.counters["auth4285.resync"] += 1
        return True

    def _drop_ba(self, reason: str) -> BaCheck:
        self.counters[f"drop.auth4285.ba.{reason}"] += 1
        return BaCheck.DROP
