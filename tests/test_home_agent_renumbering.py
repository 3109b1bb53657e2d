"""Home network renumbering on the home agent (RFC 6275 §10.6): ``add_home_prefix`` (a new home prefix:
accepted home subnet, Home-Agents anycast, RAs, unsolicited Mobile Prefix Advertisements) and
``set_home_prefix_lifetimes`` restricted to some prefixes. Times are integer ns; ``S`` is one second."""
from ipaddress import IPv6Address, IPv6Network

from helpers.home_agent import (
    COA,
    HOME,
    PREFIX,
    S,
    bu_packet,
    frame_in,
    make_ha,
    of_type,
    register,
)

from mip6fast.wire import BindingAcknowledgement, MobilePrefixAdvertisement, home_agents_anycast

NEW_PREFIX = IPv6Network("2001:db8:5::/64")
NEW_HOME = IPv6Address("2001:db8:5::9")


def prefixes_of(mpa):
    return {(o.network, o.valid_lifetime, o.preferred_lifetime) for o in mpa.payload.options}


def test_add_home_prefix_announces_it_to_registered_mobile_nodes_and_serves_it():
    ha = make_ha()
    (ba,), _, _ = register(ha)
    assert ba.payload.status == 0
    out = ha.add_home_prefix(10 * S, NEW_PREFIX)
    (mpa,) = of_type(out, MobilePrefixAdvertisement)
    assert mpa.dst == COA and mpa.rh2 == HOME
    assert {p for p, _, _ in prefixes_of(mpa)} == {PREFIX, NEW_PREFIX}
    assert ha.counters["home_prefix.added"] == 1
    # The anycast address of the new prefix is ours, and the RAs on the home link carry the prefix.
    anycast = home_agents_anycast(NEW_PREFIX)
    assert anycast in ha.anycast and anycast in ha.nd["eth0"].proxies
    ra = ha.router_advertisement(ha.interfaces["eth0"])
    assert NEW_PREFIX in {o.network for o in ra.options if hasattr(o, "network")}
    # A home address on the new prefix registers (first registration: DAD, then status 0).
    (ba2,), _, _ = register(ha, now=20 * S, home=NEW_HOME, seq=7)
    assert ba2.payload.status == 0 and NEW_HOME in ha.cache
    # Adding it again changes nothing.
    out = ha.add_home_prefix(30 * S, NEW_PREFIX)
    assert not of_type(out, MobilePrefixAdvertisement) and ha.counters["home_prefix.added"] == 1


def test_lifetimes_of_one_prefix_only_and_withdrawal():
    ha = make_ha()
    register(ha)
    ha.add_home_prefix(10 * S, NEW_PREFIX)
    out = ha.set_home_prefix_lifetimes(11 * S, 11 * S + 40 * S, 11 * S, prefixes=(PREFIX,))
    (mpa,) = of_type(out, MobilePrefixAdvertisement)
    assert prefixes_of(mpa) == {(PREFIX, 40, 0), (NEW_PREFIX, 0xFFFFFFFF, 0xFFFFFFFF)}
    # Withdrawn: a BU for a home address on it is refused with 132 (not home subnet, §10.3.1).
    ha.set_home_prefix_lifetimes(20 * S, 20 * S, 20 * S, prefixes=(PREFIX,))
    out = ha.receive(21 * S, "eth1", frame_in(bu_packet(seq=9)))
    (ba,) = of_type(out, BindingAcknowledgement)
    assert ba.payload.status == 132
