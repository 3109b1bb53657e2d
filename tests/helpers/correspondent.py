"""A correspondent node (2001:db8:1::c on eth0) with mobile peers reachable at their care-of addresses
(and, through the default route, at their home addresses), sans-I/O, with hand-built frames
(tests/test_correspondent.py, tests/test_correspondent_rr.py and tests/test_protocol_limits.py).

``authorise`` runs return routability against the node the way a mobile node would -- a Home Test Init
from the home address, a Care-of Test Init from the care-of address, the answers' tokens into Kbm, the
Binding Update signed with it (the library's own functions, checked against independent vectors in
tests/test_return_routability.py) -- so that tests of what a correspondent does with an authorised BU
need not repeat it."""
import struct
from dataclasses import replace
from ipaddress import IPv6Address

from mip6fast.roles import AddressState, Interface, Neighbor, NeighborState
from mip6fast.roles.correspondent import CorrespondentConfig, CorrespondentNode
from mip6fast.wire import (
    AlternateCareOfAddress,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    NonceIndices,
    Packet,
    Raw,
    parse,
)
from mip6fast.wire.return_routability import add_binding_authorization, binding_management_key
from mip6fast.wire.ethernet import ethernet_frame, parse_ethernet

S = 1_000_000_000
CN_MAC = bytes.fromhex("02000000000c")
PEER_MAC = bytes.fromhex("020000000099")
CN = IPv6Address("2001:db8:1::c")
COA = IPv6Address("2001:db8:1::99")
COA2 = IPv6Address("2001:db8:1::98")
HOA = IPv6Address("2001:db8:9::5")
HOA2 = IPv6Address("2001:db8:9::6")


def make_cn(random_bytes=None, **config):
    """``random_bytes``: the source of Kcn and the nonces (the node's seeded RNG by default)."""
    iface = Interface("eth0", CN_MAC, up=True)
    iface.add_address(CN, 64).state = AddressState.PREFERRED
    iface.addresses[iface.link_local].state = AddressState.PREFERRED
    cn = CorrespondentNode("cn", [iface], config=CorrespondentConfig(**config), random_bytes=random_bytes)
    nd = cn.nd["eth0"]
    for peer in (COA, COA2):
        nd.neighbors[peer] = Neighbor(peer, NeighborState.REACHABLE, mac=PEER_MAC, reachable_until=10**15)
    cn.add_route("::/0", "eth0", COA)          # home addresses: through the (home agent's) network
    return cn


def frame(packet) -> bytes:
    raw = packet.to_bytes() if isinstance(packet, Packet) else packet
    return ethernet_frame(CN_MAC, PEER_MAC, raw)


def sent(out):
    return [parse(parse_ethernet(t.frame)[3]) for t in out.frames()]


def needs_rr(cn) -> bool:
    return cn.config.mobility_support and cn.config.unauthenticated_check is None


def rr_answer(cn, now, init: Packet):
    """The HoT or CoT the node answers ``init`` with, or None."""
    out = cn.receive(now, "eth0", frame(init))
    answers = [p.payload for p in sent(out) if isinstance(p.payload, (HomeTest, CareOfTest))]
    return answers[0] if answers else None


def tokens(cn, now, hoa, coa):
    """(HomeTest, CareOfTest) from the node for ``hoa`` and ``coa`` (either None if not answered); kept
    on the node object and reused for 200 s, as a mobile node keeps its tokens."""
    cache = cn.__dict__.setdefault("_test_tokens", {})
    got = cache.get((hoa, coa))
    if got is None or now - got[0] > 200 * S or None in got[1:]:
        hot = rr_answer(cn, now, Packet(src=hoa, dst=CN, payload=HomeTestInit(b"homecook")))
        cot = rr_answer(cn, now, Packet(src=coa, dst=CN, payload=CareOfTestInit(b"careofck")))
        got = cache[(hoa, coa)] = (now, hot, cot)
    return got[1], got[2]


def authorise(cn, now, bu: BindingUpdate, hoa, src):
    """``bu`` with Nonce Indices and Binding Authorization Data, from tokens the node gave for ``hoa``
    and the care-of address (the Alternate Care-of Address option's, else ``src``); a deletion
    (lifetime 0 or care-of = home address) uses the home token alone. Unchanged when the node did not
    answer (the BU is refused for another reason first)."""
    care_of = next((o.address for o in bu.options if isinstance(o, AlternateCareOfAddress)), IPv6Address(src))
    deletion = bu.lifetime == 0 or care_of == IPv6Address(hoa)
    hot, cot = tokens(cn, now, IPv6Address(hoa), care_of)
    if hot is None or (cot is None and not deletion):
        return bu
    if deletion:
        kbm, indices = binding_management_key(hot.keygen_token), NonceIndices(hot.nonce_index, 0)
    else:
        kbm = binding_management_key(hot.keygen_token, cot.keygen_token)
        indices = NonceIndices(hot.nonce_index, cot.nonce_index)
    bu = replace(bu, options=bu.options + (indices,))
    return add_binding_authorization(bu, kbm, IPv6Address(hoa) if deletion else care_of, CN)


def bind(cn, seq=1, now=0, lifetime=400, hoa=HOA, coa=COA, options=()):
    """A correspondent registration (H clear) from ``coa`` with a Home Address option, authorised by
    return routability when the node requires it."""
    bu = BindingUpdate(seq, lifetime, ack=True, options=options)
    if needs_rr(cn):
        bu = authorise(cn, now, bu, hoa, coa)
    return cn.receive(now, "eth0", frame(Packet(src=coa, dst=CN, home_address=hoa, payload=bu)))


def udp(src, dst, hoa=None, data=b"hello"):
    body = struct.pack("!HHHH", 1000, 2000, 8 + len(data), 0) + data
    return Packet(src=src, dst=dst, home_address=hoa, payload=Raw(17, body))
