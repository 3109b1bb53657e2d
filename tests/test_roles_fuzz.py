"""Bad input never raises out of a node: mutated and truncated frames are counted drops or ordinary
traffic, whatever the bytes."""
import random

from mip6fast.roles import AdvertisingConfig, Host, Interface, Router
from mip6fast.roles.counters import strict
from mip6fast.wire import (
    ALL_NODES,
    EchoRequest,
    NeighborAdvertisement,
    NeighborSolicitation,
    Packet,
    PrefixInformation,
    RouterAdvertisement,
    SourceLinkLayerAddress,
    TargetLinkLayerAddress,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
MAC = bytes.fromhex("020000000001")
PEER = bytes.fromhex("020000000002")


def _seeds():
    ll = "fe80::ff:fe00:2"
    own = "fe80::ff:fe00:1"
    packets = [
        Packet(src=ll, dst=ALL_NODES, hop_limit=255, payload=RouterAdvertisement(options=(
            SourceLinkLayerAddress(PEER), PrefixInformation("2001:db8::", 64)))),
        Packet(src=ll, dst=solicited_node_multicast(own), hop_limit=255,
               payload=NeighborSolicitation(own, options=(SourceLinkLayerAddress(PEER),))),
        Packet(src=ll, dst=own, hop_limit=255,
               payload=NeighborAdvertisement(ll, solicited=True, options=(TargetLinkLayerAddress(PEER),))),
        Packet(src=ll, dst=own, payload=EchoRequest(1, 1, b"x" * 20)),
    ]
    return [ethernet_frame(ipv6_multicast_mac(p.dst.packed) if p.dst.is_multicast else MAC, PEER, p.to_bytes())
            for p in packets]


def _nodes():
    host = Host("h", [Interface("eth0", MAC)], rng=random.Random(1))
    router = Router("r", [Interface("eth0", MAC)], rng=random.Random(2))
    router.advertise("eth0", AdvertisingConfig(prefixes=[PrefixInformation("2001:db8::", 64)]))
    for node in (host, router):
        node.link_changed(0, "eth0", True)
        node.tick(S)
    return host, router


def test_mutated_frames_never_raise():
    assert strict()      # conftest: every counter name a node uses must be declared
    rng = random.Random(1234)
    seeds = _seeds()
    host, router = _nodes()
    now = 2 * S
    for _ in range(3000):
        frame = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.6 and frame:
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            elif op < 0.8:
                del frame[rng.randrange(len(frame) + 1):]
            else:
                frame += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        now += 1000
        for node in (host, router):
            node.receive(now, "eth0", bytes(frame))
            node.tick(now)
    drops = sum(v for k, v in host.counters.items() if k.startswith("drop."))
    assert drops > 1000


def test_send_garbage_is_a_counted_drop():
    host, _ = _nodes()
    for junk in (b"", b"\x45" * 40, b"\x60" + bytes(10)):
        assert host.send(2 * S, junk).transmits == []
    assert sum(v for k, v in host.counters.items() if k.startswith("drop.send_parse.")) == 3


def test_roles_never_import_io():
    """docs/ROLES.md and STYLE.md: roles are sans-I/O; only the simulator and daemons use mip6fast.io."""
    import ast
    import pathlib

    import mip6fast.roles
    for path in pathlib.Path(mip6fast.roles.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.startswith(("..io", "mip6fast.io")), f"{path.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("mip6fast.io") for a in node.names), path.name
