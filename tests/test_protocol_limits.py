"""Issue 10's protocol and limit items: what a node bounds, and the RFC 6275 answers it owes."""
from ipaddress import IPv6Address

from helpers.home_agent import (
    S,
    bu_packet,
    frame_in,
    make_ha,
    of_type,
)

from mip6fast.wire import BindingAcknowledgement, NeighborSolicitation

# ---------------------------------------------------------------- max_bindings counts pending DAD


def test_max_bindings_counts_registrations_waiting_for_dad():
    ha = make_ha(max_bindings=10)
    statuses = []
    probes = 0
    for i in range(30):
        home = IPv6Address(f"2001:db8:1::1:{i + 1:x}")
        out = ha.receive(3 * S + i * 1000, "eth1", frame_in(bu_packet(home=home)))
        statuses += [p.payload.status for p in of_type(out, BindingAcknowledgement)]
        probes += len(of_type(out, NeighborSolicitation))
    assert statuses == [130] * 20 and probes == 10 and len(ha.registrar.dad) == 10
    assert ha.counters["bu_refused_max_bindings"] == 20
    out = ha.tick(5 * S)
    assert [p.payload.status for p in of_type(out, BindingAcknowledgement)] == [0] * 10
    assert len(ha.cache) == 10 and len(ha.registrar.dad) == 0
