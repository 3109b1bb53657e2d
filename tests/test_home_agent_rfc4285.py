"""The home agent's side of RFC 4285 (the MN-HA authentication option instead of ESP, for a home address
with an RFC 4285 credential; mip6fast/roles/mn_ha_auth.py): every outcome of a BU, and the BAs checked
byte by byte against the RFC computed independently (tests/helpers/rfc4285.py: hmac and hashlib, not
mip6fast.wire.auth4285). The BUs sent to the home agent are signed by that helper too."""
import random
from ipaddress import IPv6Address

import pytest
from helpers import rfc4285 as rfc
from helpers.home_agent import COA, HA, HOME, S, bu_packet, frame_in, make_ha, of_type

from mip6fast.roles.home_agent import BindingAclEntry
from mip6fast.roles.mn_ha_auth import REFUSAL_BURST
from mip6fast.roles.protection import SignallingProtection, manual_pair
from mip6fast.security import MnHaCredential, MnHaCredentials, SecurityPolicyDatabase
from mip6fast.store import MemoryBindingStore
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingAcknowledgement,
    BindingUpdate,
    MobileNodeIdentifier,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    MobilityMessageReplayProtection,
    Packet,
)

KEY = bytes(range(1, 21))                       # 20 bytes, the least a credential takes
OTHER_KEY = bytes(range(101, 121))
SPI = 0x2001
NAI = "mn1@example.net"
WALL = 1_700_000_000 * S                        # the home agent's wall clock minus its driving clock
OTHER = IPv6Address("2001:db8:1::77")
ELSEWHERE = IPv6Address("2001:db8:5::5")


def credential(home=HOME, key=KEY, spi=SPI, nai=NAI, **kw):
    return MnHaCredential(home, nai, spi, key, **kw)


def ha_4285(**kw):
    return make_ha(mn_ha=MnHaCredentials([credential()]), wall_offset_ns=WALL, **kw)


def ntp_at(now: int, skew: int = 0) -> int:
    return rfc.ntp(now + WALL + skew)


def bu4285(now, seq=1, lifetime=400, *, key=KEY, spi=SPI, nai=NAI, skew=0, timestamp=None, mn_id=True,
           replay=True, sign=True, coa=COA, src=None, home=HOME):
    """A BU as RFC 4285 has the mobile node send it: Alternate CoA, MN-ID (NAI), replay protection (its
    clock, ``skew`` ns off the home agent's), MN-HA authentication last, signed independently."""
    opts = [AlternateCareOfAddress(coa)]
    if mn_id:
        opts.append(MobileNodeIdentifier(nai.encode()))
    if replay:
        opts.append(MobilityMessageReplayProtection(ntp_at(now, skew) if timestamp is None else timestamp))
    bu = BindingUpdate(seq, lifetime, ack=True, home=True, options=tuple(opts))
    if sign:
        bu = rfc.sign(bu, key, spi, coa, home)
    return Packet(src=src or coa, dst=HA, home_address=home if home != (src or coa) else None, payload=bu)


def bas(out):
    """The BAs of ``out``: (packet, its MH bytes as sent)."""
    return [(p, rfc.mh_of(p.to_bytes())) for p in of_type(out, BindingAcknowledgement)]


def only_ba(*outs):
    found = [b for out in outs for b in bas(out)]
    assert len(found) == 1, found
    return found[0]


def register(ha, now=3 * S, **kw):
    packet = bu4285(now, **kw)
    out1 = ha.receive(now, "eth1", frame_in(packet))
    out2 = ha.tick(now + S)                     # DAD for a first registration
    return packet, out1, out2


# ---------------------------------------------------------------- accepted

def test_good_bu_registers_and_the_ba_is_authenticated():
    ha = ha_4285()
    packet, out1, out2 = register(ha)
    ba, mh = only_ba(out1, out2)
    assert ba.payload.status == 0 and ba.dst == COA and ba.rh2 == HOME and ba.src == HA
    # RFC 4283: the NAI; RFC 4285 §6: the BU's timestamp echoed; §5.1: the home agent's authenticator
    # over care-of address | home address | the BA, the MN-HA option last with the credential's SPI.
    assert rfc.nai_of(mh) == NAI.encode()
    assert rfc.timestamp_of(mh) == rfc.timestamp_of(rfc.mh_of(packet.to_bytes())) == ntp_at(3 * S)
    assert rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert not rfc.verifies(OTHER_KEY, COA, HOME, mh, SPI) and not rfc.verifies(KEY, ELSEWHERE, HOME, mh, SPI)
    assert ha.cache.get(HOME).care_of_address == COA
    assert ha.counters["auth4285.accepted"] == 1 and ha.counters["auth4285.signed"] == 1
    assert ha.protection.identifier(HOME) == f"rfc4285 spi 0x{SPI:08x} (nai {NAI})"


def test_refresh_and_deregistration_are_authenticated_too():
    ha = ha_4285()
    register(ha)
    out = ha.receive(6 * S, "eth1", frame_in(bu4285(6 * S, seq=2)))
    ba, mh = only_ba(out)
    assert ba.payload.status == 0 and rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert rfc.timestamp_of(mh) == ntp_at(6 * S)
    out = ha.receive(8 * S, "eth1", frame_in(bu4285(8 * S, seq=3, lifetime=0)))
    ba, mh = only_ba(out)
    assert ba.payload.status == 0 and ha.cache.get(HOME) is None and rfc.verifies(KEY, COA, HOME, mh, SPI)


def test_deregistration_from_home_is_signed_over_the_home_address_as_care_of_address():
    ha = ha_4285()
    register(ha)
    bu = rfc.sign(BindingUpdate(2, 0, ack=True, home=True, options=(
        MobileNodeIdentifier(NAI.encode()), MobilityMessageReplayProtection(ntp_at(6 * S)))), KEY, SPI, HOME, HOME)
    out = ha.receive(6 * S, "eth0", frame_in(Packet(src=HOME, dst=HA, payload=bu), mac=bytes.fromhex("020000000001"),
                                            src_mac=bytes.fromhex("020000000055")))
    ba, mh = only_ba(out)
    assert ba.payload.status == 0 and ba.dst == HOME and ba.rh2 is None
    assert rfc.verifies(KEY, HOME, HOME, mh, SPI) and ha.cache.get(HOME) is None


def test_the_binding_store_records_the_credential_never_the_key():
    store = MemoryBindingStore()
    ha = ha_4285(store=store)
    register(ha)
    (record,) = store.load(5 * S).bindings
    assert record.protection == f"rfc4285 spi 0x{SPI:08x} (nai {NAI})"
    assert KEY.hex() not in repr(ha.protection.auth4285.credentials) and KEY.hex() not in repr(record)


# ---------------------------------------------------------------- 146: not authenticated

@pytest.mark.parametrize("kw, reason", [
    ({"key": OTHER_KEY}, "mismatch"),
    ({"spi": SPI + 1}, "wrong_spi"),
    ({"sign": False}, "missing"),
    ({"nai": "mallory@example.net"}, "nai_mismatch"),
    ({"mn_id": False}, "nai_missing"),
])
def test_unauthenticated_bu_is_refused_with_146(kw, reason):
    ha = ha_4285()
    _packet, out1, out2 = register(ha, **kw)
    ba, mh = only_ba(out1, out2)
    assert ba.payload.status == 146 and ba.payload.sequence == 1 and ba.payload.lifetime == 0
    # The home agent's own authenticator (the mobile node acts only on BAs that verify).
    assert rfc.verifies(KEY, COA, HOME, mh, SPI)
    # The BU's NAI echoed (RFC 4283 §3), none when it had none.
    assert rfc.nai_of(mh) == (None if reason == "nai_missing" else kw.get("nai", NAI).encode())
    assert ha.cache.get(HOME) is None and HOME not in ha.registrar.dad
    assert ha.counters[f"auth4285.refused.{reason}"] == 1 and ha.counters["auth4285.accepted"] == 0


def test_146_goes_to_the_bu_source_not_to_an_unauthenticated_alternate_care_of_address():
    ha = ha_4285()
    source = IPv6Address("2001:db8:3::66")
    out = ha.receive(3 * S, "eth1", frame_in(bu4285(3 * S, key=OTHER_KEY, coa=ELSEWHERE, src=source)))
    ba, mh = only_ba(out)
    assert ba.payload.status == 146 and ba.dst == source and ba.rh2 == HOME
    assert rfc.verifies(KEY, source, HOME, mh, SPI)


def test_a_forged_bu_learns_no_sequence_number():
    """The two-packet takeover of an unprotected home agent (a low sequence number gets 135 with the last
    accepted one) gets nothing here: the forged BU is refused with 146 echoing its own sequence number;
    the key holder's stale BU still gets its 135."""
    ha = ha_4285()
    register(ha, seq=100)
    out = ha.receive(6 * S, "eth1", frame_in(bu4285(6 * S, seq=1, key=OTHER_KEY)))
    ba, _ = only_ba(out)
    assert (ba.payload.status, ba.payload.sequence) == (146, 1)
    assert ha.counters["ba.sent.status.135"] == 0
    out = ha.receive(7 * S, "eth1", frame_in(bu4285(7 * S, seq=1)))
    ba, mh = only_ba(out)
    assert (ba.payload.status, ba.payload.sequence) == (135, 100) and rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert rfc.timestamp_of(mh) == ntp_at(7 * S)


def test_refusals_are_rate_limited():
    ha = ha_4285()
    outs = [ha.receive(3 * S, "eth1", frame_in(bu4285(3 * S, seq=n, key=OTHER_KEY)))
            for n in range(REFUSAL_BURST + 3)]
    assert sum(len(bas(o)) for o in outs) == REFUSAL_BURST
    assert ha.counters["drop.auth4285.rate_limited"] == 3
    assert ha.counters["auth4285.refused.mismatch"] == REFUSAL_BURST + 3
    out = ha.receive(4 * S, "eth1", frame_in(bu4285(4 * S, seq=99, key=OTHER_KEY)))
    assert len(bas(out)) == 1                     # the bucket refills


# ---------------------------------------------------------------- 145 and 144: the timestamp

def test_authenticated_bu_without_replay_protection_gets_145():
    ha = ha_4285()
    _, out1, out2 = register(ha, replay=False)
    ba, mh = only_ba(out1, out2)
    assert ba.payload.status == 145 and rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert rfc.timestamp_of(mh) is None                # the BU had none to echo
    assert ha.counters["auth4285.refused.timestamp_missing"] == 1 and ha.cache.get(HOME) is None


@pytest.mark.parametrize("skew, reason", [(-60 * S, "too_old"), (60 * S, "too_new"), (-8 * S, "too_old")])
def test_timestamp_outside_the_window_gets_144_with_the_home_agents_time(skew, reason):
    ha = ha_4285()
    _, out1, out2 = register(ha, skew=skew)
    ba, mh = only_ba(out1, out2)
    assert ba.payload.status == 144 and rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert rfc.timestamp_of(mh) == ntp_at(3 * S)      # RFC 4285 §6: so the mobile node can resynchronise
    assert ha.counters[f"auth4285.refused.{reason}"] == 1 and ha.cache.get(HOME) is None


def test_timestamp_within_the_window_is_accepted():
    ha = ha_4285()
    _, out1, out2 = register(ha, skew=-7 * S)          # exactly the default window (7 s)
    (ba, _), = bas(out1) + bas(out2)
    assert ba.payload.status == 0


def test_a_wider_window_from_the_credential():
    ha = make_ha(mn_ha=MnHaCredentials([credential(replay_window=30)]), wall_offset_ns=WALL)
    _, out1, out2 = register(ha, skew=-20 * S)
    assert only_ba(out1, out2)[0].payload.status == 0


def test_replay_of_an_accepted_bu_is_refused():
    ha = ha_4285()
    packet, *_ = register(ha)
    # The same bytes again, well within the window: the timestamp is not newer than the last accepted.
    out = ha.receive(5 * S, "eth1", frame_in(packet))
    ba, mh = only_ba(out)
    assert ba.payload.status == 144 and rfc.timestamp_of(mh) == ntp_at(5 * S)
    assert ha.counters["auth4285.refused.replayed"] == 1
    # An older timestamp (signed with the key, but older than the accepted one) likewise.
    out = ha.receive(5 * S, "eth1", frame_in(bu4285(5 * S, seq=2, timestamp=ntp_at(3 * S) - 1)))
    assert only_ba(out)[0].payload.status == 144 and ha.counters["auth4285.refused.replayed"] == 2
    assert ha.cache.get(HOME).sequence == 1
    out = ha.receive(6 * S, "eth1", frame_in(bu4285(6 * S, seq=2)))
    assert only_ba(out)[0].payload.status == 0


# ---------------------------------------------------------------- the mechanism is the home address's

def test_bu_for_an_esp_home_address_with_only_rfc4285_options_is_dropped_silently():
    _mn_sas, ha_sas = manual_pair(OTHER, HA, random.Random(2))
    ha = make_ha(spd=SecurityPolicyDatabase(ha_sas), mn_ha=MnHaCredentials([credential()]), wall_offset_ns=WALL)
    out = ha.receive(3 * S, "eth1", frame_in(bu4285(3 * S, home=OTHER)))
    out2 = ha.tick(4 * S)
    assert out.frames() == [] and bas(out2) == [] and ha.cache.get(OTHER) is None
    assert ha.counters["drop.bu.unprotected"] == 1 and ha.counters["auth4285.accepted"] == 0


def test_bu_for_an_rfc4285_home_address_under_esp_is_dropped():
    ha = ha_4285()
    _mn_sas, ha_sas = manual_pair(HOME, HA, random.Random(2))
    # The SPD would refuse such a packet before (an SA is bound to one home address, and no home address
    # has both); the registrar refuses it all the same.
    ha.registrar.binding_update(3 * S, bu4285(3 * S), bu4285(3 * S).payload, ("eth1", b""), ha_sas[0])
    assert ha.counters["drop.auth4285.under_esp"] == 1 and ha.counters["auth4285.accepted"] == 0
    with pytest.raises(ValueError, match="both by ESP and by RFC 4285"):
        SignallingProtection(SecurityPolicyDatabase(ha_sas), ha.counters, mn_ha=MnHaCredentials([credential()]))


def test_home_address_without_protection_is_refused_when_keys_exist():
    ha = ha_4285()
    out = ha.receive(3 * S, "eth1", frame_in(bu_packet(home=OTHER)))
    assert out.frames() == [] and bas(ha.tick(4 * S)) == [] and ha.counters["drop.bu.unprotected"] == 1
    open_ha = ha_4285(unauthenticated_registrations=True)
    out1 = open_ha.receive(3 * S, "eth1", frame_in(bu_packet(home=OTHER)))
    assert [b.payload.status for b, _ in bas(out1) + bas(open_ha.tick(4 * S))] == [0]
    # An RFC 4285 home address is never open, unauthenticated_registrations or not.
    out = open_ha.receive(5 * S, "eth1", frame_in(bu_packet(home=HOME)))
    assert only_ba(out)[0].payload.status == 146


def test_binding_acl_applies_after_authentication():
    ha = ha_4285(binding_acl=(BindingAclEntry("2001:db8:1::/64", ("2001:db8:9::/64",)),))
    _, out1, out2 = register(ha)
    ba, mh = only_ba(out1, out2)
    assert ba.payload.status == 129 and rfc.verifies(KEY, COA, HOME, mh, SPI)
    assert rfc.timestamp_of(mh) == ntp_at(3 * S) and ha.counters["auth4285.accepted"] == 1


def test_mobile_prefix_solicitation_for_an_rfc4285_home_address_is_not_answered():
    """RFC 4285 authenticates BUs and BAs only: an MPS for such a home address cannot be, and is refused
    like an unprotected one."""
    ha = ha_4285()
    register(ha)
    mps = Packet(src=COA, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(9))
    out = ha.receive(5 * S, "eth1", frame_in(mps))
    assert out.frames() == [] and ha.counters["drop.mps.unprotected"] == 1


def test_no_unsolicited_mobile_prefix_advertisement_to_an_rfc4285_home_address():
    ha = ha_4285()
    register(ha)
    out = ha.set_home_prefix_lifetimes(5 * S, 100 * S, 50 * S)
    assert of_type(out, MobilePrefixAdvertisement) == [] and of_type(ha.tick(9 * S), MobilePrefixAdvertisement) == []
    assert ha.counters["mpa.not_sent_rfc4285"] == 1 and ha.counters["mpa.sent_unsolicited"] == 0


def test_the_last_accepted_timestamp_survives_a_restart():
    """With a binding store the last accepted timestamp is committed with the binding (journal.py),
    so a home agent started again refuses the captured BU as a replay (144) while it is still within
    the window, and accepts the next one; a new home agent without the store's mark would take it."""
    store = MemoryBindingStore()
    ha = ha_4285(store=store)
    captured, *_ = register(ha)
    assert store.get_state(f"rfc4285.last_timestamp.{HOME}") == ntp_at(3 * S)
    again = ha_4285(store=store)
    again.recover(4 * S)
    assert again.counters["store.replay_windows_resumed"] == 1
    again.cache.delete_if_newer(HOME, 9)         # no binding: only the timestamp can refuse it
    out = again.receive(4 * S, "eth1", frame_in(captured))
    assert only_ba(out)[0].payload.status == 144 and again.counters["auth4285.refused.replayed"] == 1
    out = again.receive(5 * S, "eth1", frame_in(bu4285(5 * S, seq=2)))
    again.tick(6 * S)
    assert again.cache.get(HOME) is not None and again.cache.get(HOME).sequence == 2
    fresh = ha_4285()
    fresh.receive(4 * S, "eth1", frame_in(captured))
    fresh.tick(5 * S)
    assert fresh.counters["auth4285.refused.replayed"] == 0 and fresh.cache.get(HOME) is not None
