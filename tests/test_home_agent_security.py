"""The home agent's side of protected home registrations (RFC 6275 §5.1, RFC 3776, issue 11): BUs for a
protected home address are accepted only under that address's SA; anything else is dropped without an
answer and counted; BAs, BRRs and MPAs to a protected home address leave under its outbound SA."""
import random
from ipaddress import IPv6Address

from helpers.home_agent import HA, HOME, S, bu_packet, frame_in, make_ha, of_type, register

from mip6fast.roles.home_agent import BindingAclEntry
from mip6fast.roles.protection import manual_pair
from mip6fast.security import SecurityPolicyDatabase, is_protected
from mip6fast.roles.home_agent.journal import replay_mark_key
from mip6fast.store import MemoryBindingStore, SQLiteBindingStore, StateDeleted
from mip6fast.wire import (
    BindingAcknowledgement,
    MobilePrefixAdvertisement,
    MobilePrefixSolicitation,
    Packet,
    parse,
)

OTHER = IPv6Address("2001:db8:1::77")


def keyed(*homes, unauthenticated=False, seed=3, **kw):
    """A home agent with SAs for ``homes``; returns it and the mobile nodes' SPDs by home address."""
    rng = random.Random(seed)
    ha_spd, mns = SecurityPolicyDatabase(), {}
    for i, home in enumerate(homes):
        mn_sas, ha_sas = manual_pair(home, HA, rng, spi=0x1000 + 2 * i)
        for sa in ha_sas:
            ha_spd.add(sa)
        mns[home] = SecurityPolicyDatabase(mn_sas)
    return make_ha(spd=ha_spd, unauthenticated_registrations=unauthenticated, **kw), mns


def protected_bu(mn_spd, home=HOME, **kw):
    return mn_spd.protect(bu_packet(home=home, **kw).to_bytes(), home)


def open_ba(mn_spd, out):
    """The BAs of ``out``, each opened by the mobile node's SPD (all must be protected)."""
    bas = []
    for t in out.frames():
        raw = t.frame[14:]
        if is_protected(raw):
            p = parse(mn_spd.unprotect(raw).packet)
            if isinstance(p.payload, BindingAcknowledgement):
                bas.append(p)
        else:
            assert not isinstance(parse(raw).payload, BindingAcknowledgement), "an unprotected BA left"
    return bas


def test_protected_bu_registers_and_the_ba_is_protected():
    ha, mns = keyed(HOME)
    out1 = ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME])))
    out2 = ha.tick(4 * S)
    assert of_type(out1, BindingAcknowledgement) == [] and of_type(out2, BindingAcknowledgement) == []
    (ba,) = open_ba(mns[HOME], out2)
    assert ba.payload.status == 0 and ba.rh2 == HOME
    assert ha.cache.get(HOME) is not None
    assert ha.counters["esp.unprotected"] == 1 and ha.counters["esp.protected"] == 1


def test_unprotected_bu_for_protected_home_is_dropped_without_answer():
    ha, _ = keyed(HOME)
    bas, out1, out2 = register(ha)
    assert bas == [] and out1.frames() == [] and of_type(out2, BindingAcknowledgement) == []
    assert ha.cache.get(HOME) is None
    assert ha.counters["drop.bu.unprotected"] == 1


def test_without_unauthenticated_registrations_every_bu_needs_protection():
    ha, _ = keyed(HOME)
    bas, *_ = register(ha, home=OTHER)          # no policy for OTHER: still refused silently
    assert bas == [] and ha.cache.get(OTHER) is None and ha.counters["drop.bu.unprotected"] == 1


def test_unauthenticated_registrations_for_homes_without_policy():
    ha, _ = keyed(HOME, unauthenticated=True)
    bas, *_ = register(ha, home=OTHER)
    assert len(bas) == 1 and bas[0].payload.status == 0
    bas, *_ = register(ha, now=5 * S)             # HOME has a policy: still refused
    assert bas == [] and ha.counters["drop.bu.unprotected"] == 1


def test_bu_under_another_home_address_sa_is_a_policy_violation():
    ha, mns = keyed(HOME, OTHER)
    # The mobile node of OTHER protects a BU claiming HOME with its own SA (the HAO is outside ESP).
    sa = mns[OTHER].outbound_sa(OTHER)
    from_other = bu_packet(home=OTHER).to_bytes()
    forged = bytearray(mns[OTHER].protect(from_other, OTHER))
    forged[48:64] = HOME.packed                  # the HAO's address
    out = ha.receive(3 * S, "eth1", frame_in(bytes(forged)))
    out2 = ha.tick(4 * S)
    assert out.frames() == [] and of_type(out2, BindingAcknowledgement) == []
    assert ha.cache.get(HOME) is None and ha.counters["drop.esp.policy_violation"] == 1
    assert ha.protection.spd.inbound_sa(sa.spi).counters.policy_violations == 1


def test_replayed_and_tampered_bus_are_dropped_and_counted():
    ha, mns = keyed(HOME)
    bu = protected_bu(mns[HOME])
    ha.receive(3 * S, "eth1", frame_in(bu))
    ha.tick(4 * S)
    out = ha.receive(5 * S, "eth1", frame_in(bu))                  # replayed
    assert out.frames() == [] and ha.counters["drop.esp.replay"] == 1
    bad = bytearray(protected_bu(mns[HOME], seq=2))
    bad[-20] ^= 1
    out = ha.receive(5 * S, "eth1", frame_in(bytes(bad)))          # ICV fails
    assert out.frames() == [] and ha.counters["drop.esp.authentication_failed"] == 1
    (sa,) = [s for s in ha.protection.spd if s.direction.value == "inbound"]
    assert sa.counters.replay_duplicates == 1 and sa.counters.authentication_failures == 1


def test_stale_sequence_answer_only_under_protection():
    """The two-packet takeover: an unprotected BU with a low sequence would get 135 with the last
    accepted sequence; here it gets nothing, while the owner's own stale BU still gets its 135."""
    ha, mns = keyed(HOME)
    ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME], seq=100)))
    ha.tick(4 * S)
    out = ha.receive(5 * S, "eth1", frame_in(bu_packet(seq=1)))
    assert out.frames() == [] and ha.counters["ba.status.135"] == 0
    out = ha.receive(6 * S, "eth1", frame_in(protected_bu(mns[HOME], seq=1)))
    (ba,) = open_ba(mns[HOME], out)
    assert ba.payload.status == 135 and ba.payload.sequence == 100


def test_mobile_prefix_solicitation_protected_both_ways():
    ha, mns = keyed(HOME)
    ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME])))
    ha.tick(4 * S)
    mps = Packet(src=bu_packet().src, dst=HA, home_address=HOME, payload=MobilePrefixSolicitation(9))
    out = ha.receive(5 * S, "eth1", frame_in(mps))
    assert out.frames() == [] and ha.counters["drop.mps.unprotected"] == 1
    out = ha.receive(5 * S, "eth1", frame_in(mns[HOME].protect(mps.to_bytes(), HOME)))
    raws = [t.frame[14:] for t in out.frames()]
    assert raws and all(is_protected(r) for r in raws)
    (mpa,) = [parse(mns[HOME].unprotect(r).packet) for r in raws]
    assert isinstance(mpa.payload, MobilePrefixAdvertisement) and mpa.payload.identifier == 9


def test_no_spd_accepts_unprotected_bus_as_before():
    ha = make_ha()
    bas, *_ = register(ha)
    assert len(bas) == 1 and bas[0].payload.status == 0


def test_spd_policy_follows_added_and_removed_sas():
    _, ha_sas = manual_pair(HOME, HA, random.Random(9))
    spd = SecurityPolicyDatabase(ha_sas)
    assert spd.has_policy(HOME) and spd.has_policy(str(HOME)) and spd.home_addresses() == {HOME}
    spd.remove(ha_sas[0])
    assert spd.has_policy(HOME)                     # one SA still bound to it
    spd.remove(ha_sas[1])
    assert not spd.has_policy(HOME) and spd.home_addresses() == frozenset()
    assert spd.outbound_sa(str(HOME)) is None


# ---------------------------------------------------------------- the binding ACL (issue 11, item 5)

def test_binding_acl_refuses_a_protected_but_unauthorised_registration_with_129():

    acl = (BindingAclEntry("2001:db8:1::77/128"), BindingAclEntry("2001:db8:1::/64", ("2001:db8:3::/64",)))
    ha, mns = keyed(HOME, OTHER, binding_acl=acl)
    # HOME from a care-of address in 2001:db8:3::/64: allowed by the second rule.
    ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME])))
    (ba,) = open_ba(mns[HOME], ha.tick(4 * S))
    assert ba.payload.status == 0
    # OTHER matches the first rule (any care-of address); from 2001:db8:5::9 too.
    out = ha.receive(5 * S, "eth1", frame_in(protected_bu(mns[OTHER], home=OTHER, coa=IPv6Address("2001:db8:5::9"))))
    out2 = ha.tick(6 * S)
    assert [b.payload.status for b in open_ba(mns[OTHER], out) + open_ba(mns[OTHER], out2)] == [0]
    # HOME from a care-of address outside its prefixes: 129, protected, and the binding stays.
    out = ha.receive(7 * S, "eth1", frame_in(protected_bu(mns[HOME], seq=2, coa=IPv6Address("2001:db8:5::9"))))
    (ba,) = open_ba(mns[HOME], out)
    assert ba.payload.status == 129 and ha.cache.get(HOME).care_of_address == IPv6Address("2001:db8:3::9")
    # A de-registration is always allowed.
    out = ha.receive(8 * S, "eth1", frame_in(protected_bu(mns[HOME], seq=3, lifetime=0)))
    (ba,) = open_ba(mns[HOME], out)
    assert ba.payload.status == 0 and ha.cache.get(HOME) is None


def test_binding_acl_without_a_rule_for_the_home_address_refuses_it():

    ha, mns = keyed(HOME, binding_acl=(BindingAclEntry("2001:db8:1::77/128"),))
    out = ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME])))
    (ba,) = open_ba(mns[HOME], out)
    assert ba.payload.status == 129 and ha.cache.get(HOME) is None
    # An unprotected BU is still dropped silently: protection is checked first.
    bas, out1, _ = register(ha, now=5 * S)
    assert bas == [] and out1.frames() == [] and ha.counters["drop.bu.unprotected"] == 1


def test_the_binding_store_records_the_sa_a_binding_was_made_under_never_a_key():
    """Issue 13: what is stored is what recovery needs, the protection included (an SA's identifier,
    never key material)."""
    store = MemoryBindingStore()
    ha, mns = keyed(HOME, store=store)
    ha.receive(3 * S, "eth1", frame_in(protected_bu(mns[HOME])))
    ha.tick(4 * S)
    (record,) = store.load(4 * S).bindings
    inbound = next(sa for sa in ha.protection.spd if sa.home_address == HOME and sa.direction.name == "INBOUND")
    assert record.protection == f"esp spi 0x{inbound.spi:08x} ({inbound.algorithm.value})"
    unkeyed, _ = keyed(HOME, unauthenticated=True, store=(plain := MemoryBindingStore()))
    unkeyed.receive(3 * S, "eth1", frame_in(bu_packet(home=OTHER)))
    unkeyed.tick(4 * S)
    assert [r.protection for r in plain.load(4 * S).bindings] == [None]


def test_a_bu_captured_before_a_restart_is_a_replay_after_it(tmp_path):
    """The inbound replay window survives a restart with the bindings (journal.py): the mark is
    committed with the binding, before the BA; a home agent started again from the same store and the
    same keys (fresh SA objects, empty windows) refuses the captured BU as a replay (RFC 4303
    §3.4.3) and accepts the mobile node's next one. Without the mark the replay registers again."""
    from_file = tmp_path / "bindings.db"
    ha, mns = keyed(HOME, store=SQLiteBindingStore(from_file), dad=False)
    first = protected_bu(mns[HOME], seq=7)
    captured = protected_bu(mns[HOME], seq=8)
    ha.receive(3 * S, "eth1", frame_in(first))
    ha.receive(4 * S, "eth1", frame_in(captured))
    assert ha.cache.get(HOME).sequence == 8
    ha.journal.store.close()
    inbound = next(sa for sa in ha.protection.spd if sa.direction.name == "INBOUND")
    check = SQLiteBindingStore(from_file)
    assert check.get_state(replay_mark_key(inbound.spi)) == 2      # the ESP sequence of the second BU
    check.close()

    def restart(mark: bool):
        store = SQLiteBindingStore(from_file)
        if not mark:
            store.stage(StateDeleted(replay_mark_key(inbound.spi)))
            store.commit()
        again, _ = keyed(HOME, store=store, dad=False)     # the same keys (seed 3) as the first
        again.recover(10 * S)
        return again, store

    again, store = restart(mark=True)
    assert again.counters["store.replay_windows_resumed"] == 1
    # Without the binding (so no §9.5.1 sequence check can refuse it), the window alone must.
    again.cache.delete_if_newer(HOME, 9)
    out = again.receive(11 * S, "eth1", frame_in(captured))
    assert again.counters["drop.esp.replay"] == 1 and open_ba(mns[HOME], out) == []
    assert again.cache.get(HOME) is None
    out = again.receive(12 * S, "eth1", frame_in(protected_bu(mns[HOME], seq=9)))
    again.tick(13 * S)
    assert again.cache.get(HOME).sequence == 9
    store.close()

    without, store = restart(mark=False)
    without.cache.delete_if_newer(HOME, 9)
    without.receive(11 * S, "eth1", frame_in(captured))
    assert without.counters["drop.esp.replay"] == 0 and without.cache.get(HOME) is not None
    store.close()
