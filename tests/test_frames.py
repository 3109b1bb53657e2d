"""The one Ethernet/IPv6 classifier of the batch paths (mip6fast/roles/frames.py): every rule it
applies, each with a frame that breaks only that rule; frames built by hand here, byte by byte."""
import numpy as np
import pytest

from mip6fast.batch import PacketBatch
from mip6fast.roles.frames import classify
from mip6fast.roles.interface import Interface
from mip6fast.wire import EchoRequest, Packet

MAC = bytes.fromhex("020000000001")
PEER = bytes.fromhex("020000000002")
IFACE = Interface("eth0", MAC, up=True)
IP = Packet(src="2001:db8:3::5", dst="2001:db8:1::9", payload=EchoRequest(1, 1, b"x" * 8)).to_bytes()


def frame(dst=MAC, ethertype=b"\x86\xdd", packet=IP, pad=b""):
    return dst + PEER + ethertype + packet + pad


def with_payload_length(packet: bytes, value: int) -> bytes:
    return packet[:4] + value.to_bytes(2, "big") + packet[6:]


CASES = {
    "good": (frame(), True),
    "padded": (frame(pad=b"\0" * 10), True),
    "other MAC": (frame(dst=PEER), False),
    "broadcast": (frame(dst=b"\xff" * 6), False),
    "group MAC": (frame(dst=b"\x33\x33\x00\x00\x00\x01"), False),
    "IPv4 EtherType": (frame(ethertype=b"\x08\x00"), False),
    "version 4": (frame(packet=bytes([0x45]) + IP[1:]), False),
    "jumbogram length": (frame(packet=with_payload_length(IP, 0)), False),
    "truncated": (frame(packet=with_payload_length(IP, len(IP) - 40 + 1)), False),
    "header only": (frame()[:14 + 40], False),
    "runt": (frame()[:20], False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_rule(name):
    data, want = CASES[name]
    batch = PacketBatch.from_packets([frame(), data])
    assert classify(batch, IFACE).ipv6.tolist() == [True, want]


def test_multicast_frames_when_asked():
    batch = PacketBatch.from_packets([frame(dst=b"\xff" * 6), frame(dst=b"\x33\x33\x00\x00\x00\x01"),
                                      frame(dst=PEER)])
    assert classify(batch, IFACE, multicast=True).ipv6.tolist() == [True, True, False]


def test_strip_cuts_padding_and_restore_gives_the_frame_back():
    padded = frame(pad=b"\xaa" * 10)
    batch = PacketBatch.from_packets([padded, frame(dst=PEER)])
    frames = classify(batch, IFACE)
    frames.strip(batch, frames.ipv6)
    assert batch.packet(0) == IP                    # Payload Length decides where the packet ends
    assert batch.packet(1) == frame(dst=PEER)       # not selected: untouched
    frames.restore(batch, frames.ipv6)
    assert batch.packet(0) == padded
    assert frames.frame(batch, 0) == padded


def test_columns():
    ll = Packet(src="fe80::1", dst="fe80::2", payload=EchoRequest(1, 1)).to_bytes()
    batch = PacketBatch.from_packets([frame(), frame(packet=ll)])
    frames = classify(batch, IFACE)
    assert frames.next_header.tolist() == [58, 58]
    assert frames.after_header.tolist() == [128, 128]
    assert frames.link_local_src().tolist() == [False, True]
    assert frames.link_local_dst().tolist() == [False, True]
    assert frames.dst_is(IP[24:40]).tolist() == [True, False]
    assert bytes(frames.src[0]) == IP[8:24]


def test_scattered_slots_read_the_same_as_uniform_ones():
    """A ring places frames at one offset in every slot (a view, no copy); a batch whose offsets
    differ per slot is gathered index by index: both classify alike."""
    data = [frame(), frame(dst=PEER), frame(pad=b"\0" * 3)]
    uniform = PacketBatch.from_packets(data)
    scattered = PacketBatch.from_packets(data)
    for i in range(len(data)):          # move slot i's frame i bytes further into its slot
        o, k = int(scattered.offset[i]), int(scattered.length[i])
        scattered.buf[o + i:o + i + k] = np.frombuffer(data[i], dtype=np.uint8)
        scattered.offset[i] = o + i
    a, b = classify(uniform, IFACE), classify(scattered, IFACE)
    assert a.ipv6.tolist() == b.ipv6.tolist() == [True, False, True]
    assert (a.head == b.head).all()
