"""PacketBatch: construction, slots and headroom, bounds, round trips, save/restore, and the enums that
mirror csrc/mip6_batch.h."""
import numpy as np
import pytest
from conftest import both, pair
from hypothesis import given, settings
from hypothesis import strategies as st

from mip6fast.batch import VERDICT_OF, DropReason, PacketBatch, Verdict


def test_defaults_and_geometry():
    b = PacketBatch()
    assert (b.capacity, b.slot_size, b.headroom, b.count, len(b)) == (256, 2048, 128, 0, 0)
    assert b.buf.dtype == np.uint8 and b.buf.shape == (256 * 2048,)
    for col, dtype in ((b.offset, np.uint32), (b.length, np.uint32), (b.verdict, np.uint8),
                       (b.reason, np.uint8), (b.aux, np.uint32)):
        assert col.dtype == dtype and col.shape == (256,) and col.flags.c_contiguous
    assert list(b.offset[:3]) == [128, 2048 + 128, 4096 + 128]


def test_append_places_packets_headroom_bytes_into_their_slots():
    b = PacketBatch(capacity=4, slot_size=256, headroom=32)
    assert b.append(b"\x60" + bytes(39)) == 0
    assert b.append(b"abc" * 10) == 1
    assert b.count == 2
    assert int(b.offset[1]) == 256 + 32 and int(b.length[1]) == 30
    assert b.buf[256 + 32:256 + 62].tobytes() == b"abc" * 10
    assert b.room(0) == 32 and b.room(1) == 32
    assert b.verdicts() == [Verdict.PASS, Verdict.PASS]
    assert b.reasons() == [DropReason.NONE, DropReason.NONE]


def test_packet_that_does_not_fit_its_slot_is_refused():
    b = PacketBatch(capacity=2, slot_size=100, headroom=40)
    b.append(bytes(60))                      # exactly fills the slot after the headroom
    with pytest.raises(ValueError, match="does not fit"):
        b.append(bytes(61))
    assert b.count == 1


def test_full_batch_is_refused():
    b = PacketBatch(capacity=1, slot_size=64, headroom=0)
    b.append(b"x")
    with pytest.raises(ValueError, match="full"):
        b.append(b"y")


@pytest.mark.parametrize("kwargs", [{"capacity": 0}, {"slot_size": 0}, {"headroom": -1},
                                    {"slot_size": 64, "headroom": 64}, {"capacity": 1 << 20, "slot_size": 1 << 13}])
def test_bad_geometry(kwargs):
    with pytest.raises(ValueError):
        PacketBatch(**kwargs)


def test_non_int_geometry():
    with pytest.raises(TypeError):
        PacketBatch(capacity=2.0)
    with pytest.raises(TypeError):
        PacketBatch(headroom=True)


def test_columns_cannot_be_rebound():
    b = PacketBatch(capacity=2)
    with pytest.raises(AttributeError):
        b.offset = np.zeros(2, dtype=np.uint32)
    with pytest.raises(AttributeError):
        b.buf = np.zeros(10, dtype=np.uint8)


def test_packet_outside_its_slot_is_an_error_not_a_wrong_read():
    b = PacketBatch.from_packets([b"a" * 10, b"b" * 10], slot_size=64, headroom=8)
    b.offset[0] = 60                       # runs into slot 1
    with pytest.raises(ValueError, match="outside its slot"):
        b.packet(0)
    b.offset[1] = 10                       # before slot 1
    with pytest.raises(ValueError, match="outside its slot"):
        b.packet(1)
    with pytest.raises(IndexError):
        b.packet(2)


def test_clear_and_reuse():
    b = PacketBatch.from_packets([b"one", b"two"], capacity=4, slot_size=64, headroom=8)
    b.clear()
    assert b.count == 0 and b.packets() == []
    b.append(b"three")
    assert b.packets() == [b"three"]


def test_set_packet_with_other_headroom():
    b = PacketBatch.from_packets([b"abcd"], slot_size=64, headroom=8)
    b.set_packet(0, b"xyz", headroom=0)
    assert b.packet(0) == b"xyz" and b.room(0) == 0
    with pytest.raises(ValueError):
        b.set_packet(0, bytes(60), headroom=8)


def test_reset_verdicts():
    b = PacketBatch.from_packets([b"a", b"b"], slot_size=64, headroom=8)
    b.verdict[:2] = Verdict.DROP
    b.reason[:2] = DropReason.BAD_SLOT
    b.aux[:2] = 7
    b.reset_verdicts()
    assert b.verdicts() == [Verdict.PASS] * 2 and list(b.aux[:2]) == [0, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=9000), max_size=12), st.integers(0, 256))
def test_round_trip(packets, headroom):
    slot = max([len(p) for p in packets] + [1]) + headroom + 1
    b = PacketBatch.from_packets(packets, slot_size=slot, headroom=headroom)
    assert b.count == len(packets)
    assert b.packets() == packets
    for i in range(b.count):
        assert b.room(i) == headroom


def test_save_restore_puts_headers_and_columns_back():
    pkts = [bytes(range(i, i + 80)) for i in range(3)]
    b = PacketBatch.from_packets(pkts, slot_size=256, headroom=64)
    state = b.save(head_bytes=48)
    # What kernels do: write in front, move offsets, rewrite header bytes in place, set verdicts.
    b.buf[64 - 40:64] = 0xEE
    b.buf[64:64 + 48] = 0xDD
    b.offset[0] -= 40
    b.length[0] += 40
    b.verdict[:3] = Verdict.FORWARD
    b.count = 1
    b.restore(state)
    assert b.count == 3
    assert b.packets() == pkts
    assert b.verdicts() == [Verdict.PASS] * 3


def test_enums_cover_every_reason_with_one_verdict():
    assert set(VERDICT_OF) == set(DropReason)
    assert VERDICT_OF[DropReason.FORWARDED] == Verdict.FORWARD
    assert VERDICT_OF[DropReason.NONE] == Verdict.PASS
    assert all(VERDICT_OF[r] == Verdict.DROP for r in DropReason if r >= DropReason.BAD_SLOT)


@pytest.mark.parametrize("dp", both("datapath"))
def test_enums_match_the_c_name_table(dp):
    assert dp.reason_names() == [r.name for r in DropReason]
    assert dp.verdict_names() == [v.name for v in Verdict]
    assert dp.reason_verdicts() == [int(VERDICT_OF[r]) for r in DropReason]
    assert len(dp.reason_texts()) == len(DropReason) == dp.REASON_COUNT


@pytest.mark.compiled("datapath")
def test_twin_has_the_c_reason_texts():
    c, py = pair("datapath")
    assert py.reason_texts() == c.reason_texts()


@pytest.mark.compiled("datapath")
def test_c_view_is_checked_and_cached():
    c, _ = pair("datapath")
    b = PacketBatch(capacity=3, slot_size=128, headroom=16)
    v = c.view_of(b)
    assert v is c.view_of(b) and v.capacity == 3


@pytest.mark.parametrize("dp", both("datapath"))
def test_a_count_beyond_the_capacity_is_refused_not_read(dp):
    b = PacketBatch(capacity=3, slot_size=128, headroom=16)
    assert dp.view_of(b).capacity == 3
    b.count = 4                                   # more than the view holds: refused, not read
    with pytest.raises(ValueError, match="outside"):
        dp.rh2_process(b, dp.Addresses([bytes(16)]), dp.Counters())


@pytest.mark.parametrize("dp", both("datapath"))
def test_snapshot_restores_between_rounds(dp):
    pkts = [bytes(range(i, i + 80)) for i in range(3)]
    b = PacketBatch.from_packets(pkts, slot_size=256, headroom=64)
    snap = dp.Snapshot(b, b.save(head_bytes=48))
    b.buf[64:64 + 48] = 0xDD
    b.offset[1] -= 40
    b.verdict[:3] = Verdict.DROP
    snap.restore()
    assert b.packets() == pkts and b.verdicts() == [Verdict.PASS] * 3 and b.count == 3


def test_restore_refuses_state_outside_the_slots():
    b = PacketBatch.from_packets([bytes(50)], slot_size=128, headroom=16)
    state = b.save()
    state.offset[0] = 100                         # 100 + 50 > 128
    with pytest.raises(ValueError, match="outside its slot"):
        b.restore(state)
