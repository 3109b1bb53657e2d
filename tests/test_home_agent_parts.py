"""The home agent's parts on their own: each is an object that sees its node as an events.NodeServices
(timers, counters, notifications, sending), so a test can hand it a recording fake instead of a node."""
import random
from collections import Counter
from ipaddress import IPv6Address, IPv6Network

from mip6fast.roles.events import Notification, TimerHeap
from mip6fast.roles.node import ICMP_ERROR_BURST, ICMP_ERROR_RATE
from mip6fast.roles.rate_limit import TokenBucket
from mip6fast.roles.home_agent.discovery import HomeAgentDiscovery
from mip6fast.roles.home_agent.error_messages import ErrorMessages
from mip6fast.wire import (
    BindingError,
    DestinationUnreachable,
    EchoRequest,
    HomeAgentAddressDiscoveryReply,
    HomeAgentAddressDiscoveryRequest,
    HomeAgentInformation,
    Packet,
    PacketTooBig,
    PrefixInformation,
    RouterAdvertisement,
    home_agents_anycast,
    parse,
)

S = 1_000_000_000
HA = IPv6Address("2001:db8:1::1")
PREFIX = IPv6Network("2001:db8:1::/64")
MN = IPv6Address("2001:db8:3::9")


class FakeLink:
    """What the parts read of a HomeLink: the agent's address, the home interface's name, the anycast
    addresses."""

    def __init__(self):
        self.address = HA
        self.name = "eth0"
        self.anycast = {home_agents_anycast(PREFIX)}


class Recorder:
    """An events.NodeServices that records what a part asks of its node."""

    def __init__(self):
        self.rng = random.Random(1)
        self.counters: Counter[str] = Counter()
        self.timers = TimerHeap()
        self.sent: list[tuple[int, bytes, str | None]] = []
        self.frames: list[tuple[str, bytes, bytes]] = []
        self.notes: list[Notification] = []
        self.icmp_error_bucket = TokenBucket(ICMP_ERROR_RATE, ICMP_ERROR_BURST)

    def call_at(self, deadline, callback):
        return self.timers.call_at(deadline, callback)

    def notify(self, notification):
        self.notes.append(notification)

    def drop(self, reason):
        self.counters[f"drop.{reason}"] += 1

    def output_packet(self, now, raw, zone=None):
        self.sent.append((now, raw, zone))

    def emit_frame(self, interface, dst_mac, raw):
        self.frames.append((interface, dst_mac, raw))

    def packets(self):
        return [parse(raw) for _, raw, _ in self.sent]


def test_binding_errors_one_per_second_from_the_agents_address_through_the_home_zone():
    r = Recorder()
    errors = ErrorMessages(FakeLink(), r)
    for now in (0, S // 2, S - 1, S, 2 * S + 5):
        errors.binding_error(now, MN, 2, IPv6Address("::"))
    assert [now for now, _, _ in r.sent] == [0, S, 2 * S + 5]
    assert {zone for _, _, zone in r.sent} == {"eth0"}
    (p, *_) = r.packets()
    assert p.src == HA and p.dst == MN and isinstance(p.payload, BindingError) and p.payload.status == 2
    assert r.counters == Counter({"be.sent.status.2": 3, "drop.be.rate_limited": 2})


def test_an_error_about_our_tunnel_is_relayed_to_the_inner_source():
    r = Recorder()
    errors = ErrorMessages(FakeLink(), r)
    inner = Packet(src=IPv6Address("2001:db8:4::4"), dst=MN, payload=EchoRequest(1, 1, b"x" * 40)).to_bytes()
    outer = Packet(src=HA, dst=IPv6Address("2001:db8:3::1"), payload=EchoRequest(2, 2, b"")).to_bytes()
    quote = outer[:6] + bytes([41]) + outer[7:40] + inner         # an IPv6-in-IPv6 packet we sent
    assert errors.relay_tunnel_error(0, PacketTooBig(mtu=1400, invoking=quote))
    assert errors.relay_tunnel_error(0, DestinationUnreachable(code=0, invoking=quote))
    too_big, unreachable = r.packets()
    assert too_big.dst == IPv6Address("2001:db8:4::4") and too_big.payload.mtu == 1360   # less the tunnel
    assert isinstance(unreachable.payload, DestinationUnreachable) and unreachable.payload.code == 3
    # An error about somebody else's packet is not ours to relay.
    assert not errors.relay_tunnel_error(0, PacketTooBig(mtu=1400, invoking=inner))


def _ra(address, preference, lifetime=1800):
    return RouterAdvertisement(router_lifetime=1800, home_agent=True,
                               options=(HomeAgentInformation(preference, lifetime),
                                        PrefixInformation(address, 64, router_address=True)))


def test_dhaad_lists_home_agents_by_preference_and_answers_only_at_the_anycast_address():
    r = Recorder()
    discovery = HomeAgentDiscovery(FakeLink(), 0, random.Random(1), r)
    other = IPv6Address("2001:db8:1::2")
    discovery.router_advertisement(0, Packet(src=IPv6Address("fe80::2"), dst=IPv6Address("ff02::1"),
                                             payload=_ra(other, 5)), _ra(other, 5))
    assert discovery.addresses(S) == [other, HA]
    req = HomeAgentAddressDiscoveryRequest(77)
    discovery.request(S, Packet(src=MN, dst=home_agents_anycast(PREFIX), payload=req), req)
    discovery.request(S, Packet(src=MN, dst=HA, payload=req), req)
    (reply,) = r.packets()
    assert isinstance(reply.payload, HomeAgentAddressDiscoveryReply) and reply.payload.identifier == 77
    assert list(reply.payload.addresses) == [other, HA] and reply.src == HA and reply.dst == MN
    assert r.counters["drop.dhaad.not_anycast"] == 1
    # The entry lapses with its lifetime.
    assert discovery.addresses(1801 * S) == [HA]
