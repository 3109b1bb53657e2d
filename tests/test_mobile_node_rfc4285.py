"""The mobile node's side of RFC 4285 (mip6fast/roles/mn_ha_auth.py), end to end in the simulator's
Mip6World with ``rfc4285=``: every BU carries the NAI, a timestamp and the MN-HA authenticator (checked
against the RFC computed independently, tests/helpers/rfc4285.py); the node acts only on BAs that
authenticate and echo its timestamp; 144 resynchronises its clock; 145/146 are reported and the
registration fails as for any other refusal."""
import pytest
from helpers import rfc4285 as rfc

from mip6fast.io.pcap import read_pcap
from mip6fast.roles.mobile_node import Deregistered, Registered, RegistrationFailed, RegistrationState
from mip6fast.scenarios.world import HA_ADDRESS, HOME_ADDRESS, MN_NAI, Mip6World
from mip6fast.security import MnHaCredential, MnHaCredentials
from mip6fast.sim import NS_PER_S, Simulator
from mip6fast.wire import (
    BindingAcknowledgement,
    MobileNodeIdentifier,
    MobilePrefixAdvertisement,
    MobilityMessageReplayProtection,
    Packet,
    parse,
)
from mip6fast.wire.ethernet import ethernet_frame

S = NS_PER_S
KEY = bytes(range(31, 51))
NAI = MN_NAI.encode()
SPI = 0x3003


def credential(nai=MN_NAI, key=KEY):
    return MnHaCredential(HOME_ADDRESS, nai, SPI, key)


def world(seed=4, pcap_dir=None, lifetime=60, ha_credential=None, mn_wall=0):
    """A Mip6World under RFC 4285: the mobile node's credential is ``credential()``; the home agent's
    ``ha_credential`` (default the same); ``mn_wall``: the mobile node's wall clock ahead of the home
    agent's, in ns."""
    sim = Simulator(seed, pcap_dir=pcap_dir)
    w = Mip6World(sim, lifetime=lifetime, foreign_links=1, rfc4285=credential())
    if ha_credential is not None:
        w.ha.protection.auth4285.credentials = MnHaCredentials([ha_credential])
    w.mn.wall_offset_ns = mn_wall
    return sim, w


def mobility_packets(path, mh_type):
    """(capture time, packet, MH bytes) of the captured packets carrying a Mobility Header of ``mh_type``."""
    out = []
    for record in read_pcap(path)[1]:
        raw = record.data[14:]
        packet = parse(raw)
        if packet.next_header == 135 and rfc.mh_of(raw)[2] == mh_type:
            out.append((record.timestamp_ns, packet, rfc.mh_of(raw)))
    return out


def test_registration_under_rfc4285_end_to_end(tmp_path):
    sim, w = world(pcap_dir=str(tmp_path))
    with sim:
        w.start(w.foreign[0])
        sim.run(100 * S)
    assert len(w.events("mn", Registered)) == 1
    assert w.ha.cache.get(HOME_ADDRESS) is not None
    # The mobile node's link: each BU and BA once.
    bus = mobility_packets(tmp_path / "fa.pcap", 5)
    bas = mobility_packets(tmp_path / "fa.pcap", 6)
    assert len(bus) >= 2 and len(bus) == w.mn.counters["mn.bu_sent"] + w.mn.counters["mn.bu_retransmitted"]
    timestamps = []
    for sent_at, packet, mh in bus:
        care_of = packet.src
        assert packet.home_address == HOME_ADDRESS and packet.dst == HA_ADDRESS
        # RFC 4283 §3: the NAI; RFC 4285 §5.1: the authenticator last, over the care-of address | home
        # address | the BU, with the credential's SPI; §6: the timestamp is the node's clock when it
        # sent the BU (the simulator's wall clock is its own time: offset 0).
        assert rfc.nai_of(mh) == MN_NAI.encode() and rfc.verifies(KEY, care_of, HOME_ADDRESS, mh, SPI)
        assert rfc.timestamp_of(mh) == rfc.ntp(sent_at)
        timestamps.append(rfc.timestamp_of(mh))
    assert timestamps == sorted(set(timestamps))          # strictly increasing
    assert len(bas) == len(bus)
    for _, packet, mh in bas:
        assert rfc.verifies(KEY, packet.dst, HOME_ADDRESS, mh, SPI) and rfc.nai_of(mh) == MN_NAI.encode()
        assert rfc.timestamp_of(mh) in timestamps
    assert w.mn.counters["auth4285.verified"] == len(bas)
    assert w.ha.counters["auth4285.accepted"] == len(bas)
    assert w.mn.counters["esp.protected"] == 0 and w.ha.counters["drop.bu.unprotected"] == 0


def _registered(seed=6):
    sim, w = world(seed=seed, lifetime=600)
    with sim:
        w.start(w.foreign[0])
        sim.run(20 * S)
    assert len(w.events("mn", Registered)) == 1
    return sim, w


def _ba_to_mn(w, ba):
    mn = w.mn
    packet = Packet(src=HA_ADDRESS, dst=mn.care_of, rh2=HOME_ADDRESS, payload=ba)
    return ethernet_frame(mn.iface.mac, bytes(6), packet.to_bytes())


def _outstanding(sim, w):
    """Make the mobile node send a refresh now and return (its sequence, timestamp, care-of address)."""
    mn, reg = w.mn, w.mn.registrations[HOME_ADDRESS]
    mn.home_registrations.start(sim.now, reg)
    sent = mn.protection.auth4285.sent(HOME_ADDRESS)
    assert reg.outstanding == sent.sequence
    return sent.sequence, sent.timestamp, sent.care_of


@pytest.mark.parametrize("key, drop", [(bytes(range(61, 81)), "mismatch"), (None, "missing")])
def test_forged_ba_is_dropped_and_counted(key, drop):
    sim, w = _registered()
    sequence, timestamp, care_of = _outstanding(sim, w)
    ba = BindingAcknowledgement(146, sequence, 0, options=(MobileNodeIdentifier(MN_NAI.encode()),
                                                           MobilityMessageReplayProtection(timestamp)))
    if key is not None:
        ba = rfc.sign(ba, key, SPI, care_of, HOME_ADDRESS)
    out = w.mn.receive(sim.now, "eth0", _ba_to_mn(w, ba))
    assert w.mn.counters[f"drop.auth4285.ba.{drop}"] == 1
    assert out.notifications == [] and w.mn.registrations[HOME_ADDRESS].outstanding == sequence


def _answer(status, sequence, timestamp, care_of, *, nai=NAI, key=KEY, lifetime=0):
    """A BA from the home agent, signed over ``care_of`` (None: no replay protection option)."""
    options = [MobileNodeIdentifier(nai)]
    if timestamp is not None:
        options.append(MobilityMessageReplayProtection(timestamp))
    ba = BindingAcknowledgement(status, sequence, lifetime, options=tuple(options))
    return rfc.sign(ba, key, SPI, care_of, HOME_ADDRESS)


@pytest.mark.parametrize("delta, nai, drop", [
    (1, MN_NAI.encode(), "timestamp_mismatch"),
    (None, MN_NAI.encode(), "timestamp_missing"),
    (0, b"mallory@example.net", "nai_mismatch"),
])
def test_authenticated_ba_that_does_not_answer_the_bu_is_dropped(delta, nai, drop):
    sim, w = _registered()
    sequence, timestamp, care_of = _outstanding(sim, w)
    ba = _answer(0, sequence, None if delta is None else timestamp + delta, care_of, nai=nai, lifetime=600)
    out = w.mn.receive(sim.now, "eth0", _ba_to_mn(w, ba))
    assert w.mn.counters[f"drop.auth4285.ba.{drop}"] == 1 and out.notifications == []
    assert w.mn.registrations[HOME_ADDRESS].outstanding == sequence


def test_authenticated_ba_is_acted_on():
    sim, w = _registered()
    sequence, timestamp, care_of = _outstanding(sim, w)
    ba = _answer(0, sequence, timestamp, care_of, lifetime=600)
    verified = w.mn.counters["auth4285.verified"]
    w.mn.receive(sim.now, "eth0", _ba_to_mn(w, ba))
    assert w.mn.counters["auth4285.verified"] == verified + 1
    assert w.mn.registrations[HOME_ADDRESS].outstanding is None
    assert w.mn.registrations[HOME_ADDRESS].state is RegistrationState.REGISTERED


def test_145_is_reported_as_a_refusal():
    sim, w = _registered()
    sequence, _timestamp, care_of = _outstanding(sim, w)
    ba = _answer(145, sequence, None, care_of)          # the home agent saw no timestamp to echo
    out = w.mn.receive(sim.now, "eth0", _ba_to_mn(w, ba))
    assert [n.status for n in out.notifications if isinstance(n, RegistrationFailed)] == [145]
    assert w.mn.registrations[HOME_ADDRESS].state is RegistrationState.FAILED


def test_a_clock_off_by_a_minute_is_resynchronised_by_144():
    sim, w = world(mn_wall=60 * S)          # the mobile node's clock a minute ahead of the home agent's
    with sim:
        w.start(w.foreign[0])
        sim.run(30 * S)
    assert w.ha.counters["auth4285.refused.too_new"] == 1 and w.ha.counters["ba.sent.status.144"] == 1
    assert w.mn.counters["auth4285.resync"] == 1 and w.mn.counters["auth4285.resync_repeated"] == 0
    assert len(w.events("mn", Registered)) == 1 and w.events("mn", RegistrationFailed) == []
    # The offset is the home agent's clock (when it sent the 144) minus the node's (when the 144 came):
    # a minute behind, and the 144's flight time more.
    offset = w.mn.protection.auth4285.offset[HOME_ADDRESS]
    assert -61 * (1 << 32) < offset < -60 * (1 << 32)
    # The resynchronised BU went at once (no back-off): registered within a second of the 144.
    assert w.mn.counters["mn.bu_retransmitted"] == 0


def test_a_second_144_waits_for_the_back_off():
    """A home agent whose clock moves about cannot make the node loop: after one resynchronisation, a
    144 before any accepted BA resynchronises again but leaves the next BU to the back-off."""
    sim, w = _registered()
    mn, reg = w.mn, w.mn.registrations[HOME_ADDRESS]
    auth = mn.protection.auth4285
    sequence, _ts, care_of = _outstanding(sim, w)
    ha_time = rfc.ntp(sim.now) - 30 * (1 << 32)          # the home agent's clock, half a minute behind
    mn.receive(sim.now, "eth0", _ba_to_mn(w, _answer(144, sequence, ha_time, care_of)))
    assert mn.counters["auth4285.resync"] == 1 and reg.outstanding != sequence          # a new BU at once
    assert auth.offset[HOME_ADDRESS] == ha_time - rfc.ntp(sim.now)
    second, ts2, _ = _outstanding_now(w)
    assert ts2 == (rfc.ntp(sim.now) + auth.offset[HOME_ADDRESS]) % (1 << 64)        # the new clock
    mn.receive(sim.now, "eth0", _ba_to_mn(w, _answer(144, second, ha_time - (1 << 32), care_of)))
    assert mn.counters["auth4285.resync_repeated"] == 1 and reg.outstanding == second   # no BU now
    assert reg.retransmit is not None                                                 # the back-off's
    # 144 without a timestamp, or for another BU, is dropped.
    mn.receive(sim.now, "eth0", _ba_to_mn(w, _answer(144, second, None, care_of)))
    mn.receive(sim.now, "eth0", _ba_to_mn(w, _answer(144, second + 7, ha_time, care_of)))
    assert mn.counters["drop.auth4285.ba.timestamp_missing"] == 1
    assert mn.counters["drop.auth4285.ba.sequence_mismatch"] == 1


def _outstanding_now(w):
    sent = w.mn.protection.auth4285.sent(HOME_ADDRESS)
    return sent.sequence, sent.timestamp, sent.care_of


def test_146_for_a_nai_the_home_agent_does_not_know_is_reported():
    sim, w = world(ha_credential=credential(nai="someone-else@example.net"))
    with sim:
        w.start(w.foreign[0])
        sim.run(20 * S)
    assert w.ha.counters["auth4285.refused.nai_mismatch"] == 1
    (failed,) = w.events("mn", RegistrationFailed)
    assert failed.status == 146 and failed.home_agent == HA_ADDRESS
    assert w.mn.registrations[HOME_ADDRESS].state is RegistrationState.FAILED
    assert w.events("mn", Registered) == []


def test_146_signed_with_another_key_never_reaches_the_registration():
    """A home agent holding another key: its 146 does not authenticate either, so the node drops it and
    keeps trying on back-off (it cannot tell a misconfigured home agent from a forger)."""
    sim, w = world(ha_credential=credential(key=bytes(range(71, 91))))
    with sim:
        w.start(w.foreign[0])
        sim.run(20 * S)
    assert w.ha.counters["auth4285.refused.mismatch"] >= 2
    assert w.mn.counters["drop.auth4285.ba.mismatch"] == w.ha.counters["ba.sent.status.146"] >= 2
    assert w.events("mn", RegistrationFailed) == [] and w.events("mn", Registered) == []
    assert w.mn.counters["mn.bu_retransmitted"] >= 2


def test_mobile_prefix_advertisement_for_an_rfc4285_home_address_is_refused():
    sim, w = _registered()
    mpa = Packet(src=HA_ADDRESS, dst=w.mn.care_of, rh2=HOME_ADDRESS, payload=MobilePrefixAdvertisement(1))
    w.mn.receive(sim.now, "eth0", ethernet_frame(w.mn.iface.mac, bytes(6), mpa.to_bytes()))
    assert w.mn.counters["drop.mn.unprotected_signalling"] == 1


def test_leaving_sends_an_authenticated_deregistration():
    sim, w = _registered()
    with sim:
        sim._process(w.mn, w.mn.leave(sim.now))
        sent = w.mn.protection.auth4285.sent(HOME_ADDRESS)
        sim.run(sim.now + 2 * S)
    assert w.ha.cache.get(HOME_ADDRESS) is None and w.ha.counters["binding.deleted"] == 1
    assert w.ha.protection.auth4285.last_accepted[HOME_ADDRESS] == sent.timestamp


def test_returning_home_deregisters_with_an_authenticated_bu(tmp_path):
    """§11.5.5 under RFC 4285: the de-registration BU from the home address is signed with the home
    address as its care-of address, and the home agent's BA to the home address verifies."""
    sim, w = world(pcap_dir=str(tmp_path), lifetime=600)
    with sim:
        w.start(w.foreign[0])
        sim.schedule(20 * S, lambda s: s.move(w.mn, "eth0", w.home))
        sim.run(40 * S)
    assert len(w.events("mn", Deregistered)) == 1 and w.ha.cache.get(HOME_ADDRESS) is None
    ((_, bu, bu_mh),) = [b for b in mobility_packets(tmp_path / "home.pcap", 5) if b[1].src == HOME_ADDRESS]
    assert bu.payload.lifetime == 0 and rfc.verifies(KEY, HOME_ADDRESS, HOME_ADDRESS, bu_mh, SPI)
    ((_, ba, ba_mh),) = [b for b in mobility_packets(tmp_path / "home.pcap", 6) if b[1].dst == HOME_ADDRESS]
    assert ba.payload.status == 0 and rfc.verifies(KEY, HOME_ADDRESS, HOME_ADDRESS, ba_mh, SPI)
    assert rfc.timestamp_of(ba_mh) == rfc.timestamp_of(bu_mh)
