"""A correspondent node (2001:db8:1::c on eth0) with mobile peers reachable at their care-of addresses,
sans-I/O, with hand-built frames (tests/test_correspondent.py and tests/test_protocol_limits.py)."""
import struct
from ipaddress import IPv6Address

from mip6fast.roles import AddressState, Interface, Neighbor, NeighborState
from mip6fast.roles.correspondent import CorrespondentConfig, CorrespondentNode
from mip6fast.wire import BindingUpdate, Packet, Raw, parse
from mip6fast.wire.ethernet import ethernet_frame, parse_ethernet

S = 1_000_000_000
CN_MAC = bytes.fromhex("02000000000c")
PEER_MAC = bytes.fromhex("020000000099")
CN = IPv6Address("2001:db8:1::c")
COA = IPv6Address("2001:db8:1::99")
COA2 = IPv6Address("2001:db8:1::98")
HOA = IPv6Address("2001:db8:9::5")
HOA2 = IPv6Address("2001:db8:9::6")


def make_cn(**config):
    iface = Interface("eth0", CN_MAC, up=True)
    iface.add_address(CN, 64).state = AddressState.PREFERRED
    iface.addresses[iface.link_local].state = AddressState.PREFERRED
    cn = CorrespondentNode("cn", [iface], config=CorrespondentConfig(**config))
    nd = cn.nd["eth0"]
    for peer in (COA, COA2):
        nd.neighbors[peer] = Neighbor(peer, NeighborState.REACHABLE, mac=PEER_MAC, reachable_until=10**15)
    return cn


def frame(packet) -> bytes:
    raw = packet.to_bytes() if isinstance(packet, Packet) else packet
    return ethernet_frame(CN_MAC, PEER_MAC, raw)


def sent(out):
    return [parse(parse_ethernet(t.frame)[3]) for t in out.transmits]


def bind(cn, seq=1, now=0, lifetime=400, hoa=HOA, coa=COA, options=()):
    """A correspondent registration (H clear) from ``coa`` with a Home Address option."""
    bu = BindingUpdate(seq, lifetime, ack=True, options=options)
    return cn.receive(now, "eth0", frame(Packet(src=coa, dst=CN, home_address=hoa, payload=bu)))


def udp(src, dst, hoa=None, data=b"hello"):
    body = struct.pack("!HHHH", 1000, 2000, 8 + len(data), 0) + data
    return Packet(src=src, dst=dst, home_address=hoa, payload=Raw(17, body))
