"""ICMPv6 errors are rate-limited (RFC 4443 §2.4 (f)); issue: 1,000 packets with Hop Limit 1 through a
router in one second drew 1,000 Time Exceeded. The limiter itself (roles/rate_limit.py) is tested
here too: integer nanoseconds, deterministic."""
import random

import pytest
from helpers.home_agent import make_ha

from mip6fast.roles import Interface, Router
from mip6fast.roles.icmp_errors import refusal
from mip6fast.roles.node import ICMP_ERROR_BURST, ICMP_ERROR_RATE
from mip6fast.roles.rate_limit import TokenBucket
from mip6fast.wire import (
    DestinationUnreachable,
    EchoRequest,
    NeighborSolicitation,
    Packet,
    Raw,
    SourceLinkLayerAddress,
    TimeExceeded,
    parse,
    solicited_node_multicast,
)
from mip6fast.wire.ethernet import ethernet_frame, ipv6_multicast_mac

S = 1_000_000_000
R_MAC = bytes.fromhex("0200000000aa")
R2_MAC = bytes.fromhex("0200000000ab")
SENDER_MAC = bytes.fromhex("020000000099")
R_ADDR = "2001:db8:1::1"
SENDER = "2001:db8:1::99"


def router():
    r = Router("r", [Interface("eth0", R_MAC), Interface("eth1", R2_MAC)], rng=random.Random(4))
    r.interfaces["eth0"].add_address(R_ADDR, 64)
    r.interfaces["eth1"].add_address("2001:db8:2::1", 64)
    for name in ("eth0", "eth1"):
        r.link_changed(0, name, True)
    r.tick(2 * S)
    # the sender's link-layer address is known (its NS), so errors go out at once
    group = solicited_node_multicast(R_ADDR)
    solicitation = NeighborSolicitation(R_ADDR, options=(SourceLinkLayerAddress(SENDER_MAC),))
    ns = Packet(src=SENDER, dst=group, hop_limit=255, payload=solicitation).to_bytes()
    r.receive(2 * S, "eth0", ethernet_frame(ipv6_multicast_mac(group.packed), SENDER_MAC, ns))
    return r


def expiring(i: int) -> bytes:
    raw = Packet(src=SENDER, dst="2001:db8:2::5", hop_limit=1, payload=EchoRequest(1, i)).to_bytes()
    return ethernet_frame(R_MAC, SENDER_MAC, raw)


def time_exceeded_sent(out) -> int:
    return sum(isinstance(parse(t.frame[14:]).payload, TimeExceeded) for t in out.frames())


def test_a_thousand_expiring_packets_in_one_second_draw_a_bounded_number_of_errors():
    r = router()
    sent = 0
    for i in range(1_000):
        sent += time_exceeded_sent(r.receive(3 * S + i * (S // 1_000), "eth0", expiring(i)))
    assert sent <= ICMP_ERROR_BURST + ICMP_ERROR_RATE
    assert sent >= ICMP_ERROR_RATE // 2                      # limited, not silenced
    assert r.counters["drop.icmp_error_rate_limited"] == 1_000 - sent


def test_the_limit_is_configurable():
    r = router()
    r.set_icmp_error_limit(rate=1, burst=2)
    sent = sum(time_exceeded_sent(r.receive(3 * S + i, "eth0", expiring(i))) for i in range(50))
    assert sent == 2
    assert time_exceeded_sent(r.receive(5 * S, "eth0", expiring(99))) == 1     # refilled


def test_token_bucket():
    b = TokenBucket(rate=2, burst=3)
    assert [b.take(0) for _ in range(4)] == [True, True, True, False]
    assert b.take(S // 2) and not b.take(S // 2)          # half a second at 2/s: one token
    assert not b.take(0)                                  # time going backwards adds nothing
    assert [b.take(10 * S) for _ in range(4)] == [True, True, True, False]   # never above the burst
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)


# ---------------------------------------------------------------- RFC 4443 §2.4 (e), one rule for all roles

def test_refusal_reads_the_invoking_bytes():
    """roles/icmp_errors.py: the §2.4 (e) checks every role's ICMPv6 errors pass, on raw (possibly
    truncated or malformed) invoking packets; an ICMPv6 error behind extension headers is found too."""
    good = Packet(src=SENDER, dst=R_ADDR, payload=EchoRequest(1, 1, b"x")).to_bytes()
    assert refusal(good) is None and refusal(good[:40]) is None
    assert refusal(good[:39]) == "icmp_error_unparsable"
    assert refusal(Packet(src="::", dst=R_ADDR, payload=EchoRequest(1, 1)).to_bytes()) == "icmp_error_bad_source"
    to_group = Packet(src=SENDER, dst="ff02::1", payload=EchoRequest(1, 1)).to_bytes()
    assert refusal(to_group) == "icmp_error_multicast" and refusal(to_group, packet_too_big=True) is None
    error = Packet(src=SENDER, dst=R_ADDR, payload=DestinationUnreachable(code=3, invoking=good)).to_bytes()
    assert refusal(error) == "icmp_error_about_error"
    # The same error behind a Destination Options header (PadN): still an error message.
    behind = Packet(src=SENDER, dst=R_ADDR, payload=Raw(60, bytes((58, 0, 1, 4, 0, 0, 0, 0)) + error[40:]))
    assert refusal(behind.to_bytes()) == "icmp_error_about_error"


def test_the_home_agents_errors_take_from_the_nodes_one_bucket():
    """The home agent's ICMPv6 errors built from raw bytes (error_messages.py) used to skip the node's
    rate limit; now a flood of them stops at the bucket like any other node's errors."""
    ha = make_ha()
    invoking = Packet(src="2001:db8:5::5", dst="2001:db8:1::77", payload=EchoRequest(1, 1)).to_bytes()
    for i in range(100):
        ha.errors.icmp_error(3 * S + i, DestinationUnreachable(code=3, invoking=b""), invoking)
    assert ha.counters["icmp_error.DestinationUnreachable"] == ICMP_ERROR_BURST
    assert ha.counters["drop.icmp_error_rate_limited"] == 100 - ICMP_ERROR_BURST
