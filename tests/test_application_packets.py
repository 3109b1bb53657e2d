"""What a node's applications hand it (a TUN device's packets) and what may leave on its links.

Issue: the kernel's own router solicitations for the TUN device (link-local source, all-routers
destination) leaked onto the wire interface of the mobile node and correspondent daemons. Link-scope
packets belong to the link they were sent on (RFC 4291 §2.5.6, §2.7); the TUN is not a wire link."""
import random
from ipaddress import IPv6Address

import pytest

from mip6fast.batch import PacketBatch
from mip6fast.roles import AddressState, CorrespondentConfig, CorrespondentNode, Host, Interface
from mip6fast.roles.neighbor import Neighbor, NeighborState
from mip6fast.wire import EchoRequest, Packet, RouterSolicitation

MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000099")
OWN = "2001:db8:1::1"
PEER = "2001:db8:1::99"

LINK_SCOPE = {
    "kernel RS": Packet(src="fe80::5ce:1", dst="ff02::2", hop_limit=255, payload=RouterSolicitation()),
    "MLD-like to ff02::16": Packet(src="fe80::5ce:1", dst="ff02::16", payload=EchoRequest(1, 1)),
    "link-local unicast": Packet(src="fe80::5ce:1", dst="fe80::99", payload=EchoRequest(1, 1)),
    "global to link-local": Packet(src=OWN, dst="fe80::99", payload=EchoRequest(1, 1)),
}
GLOBAL = Packet(src=OWN, dst=PEER, payload=EchoRequest(1, 2)).to_bytes()


def ready(node):
    iface = node.interfaces["eth0"]
    iface.add_address(OWN, 64).state = AddressState.PREFERRED
    iface.addresses[iface.link_local].state = AddressState.PREFERRED
    peer = IPv6Address(PEER)
    node.nd["eth0"].neighbors[peer] = Neighbor(peer, NeighborState.REACHABLE, mac=PEER_MAC,
                                               reachable_until=10**15)
    return node


def host():
    return ready(Host("h", [Interface("eth0", MAC, up=True)], rng=random.Random(1)))


def correspondent():
    return ready(CorrespondentNode("cn", [Interface("eth0", MAC, up=True)], config=CorrespondentConfig()))


@pytest.mark.parametrize("name", list(LINK_SCOPE))
@pytest.mark.parametrize("make", [host, correspondent], ids=["host", "correspondent"])
def test_link_scope_packets_from_applications_stay_off_the_wire(make, name):
    node = make()
    out = node.send(0, LINK_SCOPE[name].to_bytes())
    assert out.frames() == [] and node.counters["drop.send_link_scope"] == 1
    assert len(node.send(0, GLOBAL).frames()) == 1          # a global packet still leaves


def test_batch_send_path_applies_the_same_rule():
    node = correspondent()
    out = node.send_batch(0, PacketBatch.from_packets([LINK_SCOPE["kernel RS"].to_bytes(), GLOBAL]))
    assert len(out.frames()) == 1 and node.counters["drop.send_link_scope"] == 1
