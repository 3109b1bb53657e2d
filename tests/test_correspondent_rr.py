"""Return routability at the correspondent node (RFC 6275 §5.2, §9.4, §9.5.1), sans-I/O with hand-built
frames: Home / Care-of Test answers (tokens checked against hmac/hashlib computed here from the node's
Kcn and nonce, which the test supplies), the nonce and Kcn schedule, the authorisation of Binding
Updates (silent discards, 136 / 137 / 138, deletions with the home token alone), the BA's own
Binding Authorization Data, the rate limit, a reboot, and the lab switch ``unauthenticated_bindings``."""
import hashlib
import hmac
import random
from dataclasses import replace

import pytest
from helpers.correspondent import (
    CN,
    COA,
    COA2,
    HOA,
    HOA2,
    S,
    authorise,
    bind,
    frame,
    make_cn,
    rr_answer,
    sent,
    tokens,
)

from mip6fast import _impl
from mip6fast.batch import PacketBatch
from mip6fast.roles.correspondent.return_routability import KCN_LIFETIME, NONCE_INTERVAL
from mip6fast.roles.counters import strict
from mip6fast.wire import (
    BindingAuthorizationData,
    BindingUpdate,
    CareOfTest,
    CareOfTestInit,
    HomeTest,
    HomeTestInit,
    NonceIndices,
    Packet,
)
from mip6fast.wire.return_routability import add_binding_authorization, binding_management_key

KCN1, NONCE1 = bytes([0xA1] * 20), bytes.fromhex("1111111111111111")
KCN2, NONCE2 = bytes([0xB2] * 20), bytes.fromhex("2222222222222222")


class Secrets:
    """A scripted ``random_bytes``: hands out the given chunks in order (then fresh random ones)."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.rng = random.Random(5)

    def __call__(self, n):
        if self.chunks:
            chunk = self.chunks.pop(0)
            assert len(chunk) == n
            return chunk
        return self.rng.randbytes(n)


def token(kcn, address, nonce, which):
    """First(64, HMAC_SHA1(Kcn, address | nonce | which)), RFC 6275 §5.2.5, computed here."""
    return hmac.new(kcn, address.packed + nonce + bytes([which]), hashlib.sha1).digest()[:8]


def hoti(src=HOA, cookie=b"homecook", **kw):
    return frame(Packet(src=src, dst=CN, payload=HomeTestInit(cookie), **kw))


def coti(src=COA, cookie=b"careofck", **kw):
    return frame(Packet(src=src, dst=CN, payload=CareOfTestInit(cookie), **kw))


def signed_bu(seq, hot, cot, lifetime=400, hoa=HOA, coa=COA, ack=True, kbm=None, bound=None, indices=None):
    """A BU from ``coa`` with a HAO for ``hoa``, signed with the tokens of ``hot`` / ``cot`` (``cot``
    None: a deletion, the home token alone)."""
    if kbm is None:
        kbm = binding_management_key(hot.keygen_token, cot.keygen_token if cot is not None else None)
    if indices is None:
        indices = NonceIndices(hot.nonce_index, cot.nonce_index if cot is not None else 0)
    msg = add_binding_authorization(BindingUpdate(seq, lifetime, ack=ack, options=(indices,)), kbm,
                                    bound or (coa if cot is not None else hoa), CN)
    return Packet(src=coa, dst=CN, home_address=hoa, payload=msg)


def receive(cn, now, packet):
    return cn.receive(now, "eth0", frame(packet))


# ---------------------------------------------------------------- Home / Care-of Test (§9.4)

def test_home_test_answers_with_the_home_keygen_token_to_the_home_address():
    cn = make_cn(random_bytes=Secrets(KCN1, NONCE1))
    out = cn.receive(0, "eth0", hoti(cookie=b"\x01\x02\x03\x04\x05\x06\x07\x08"))
    (hot,) = sent(out)
    assert isinstance(hot.payload, HomeTest)
    assert hot.src == CN and hot.dst == HOA and hot.rh2 is None and hot.home_address is None
    assert hot.payload.cookie == b"\x01\x02\x03\x04\x05\x06\x07\x08"
    assert hot.payload.keygen_token == token(KCN1, HOA, NONCE1, 0)
    assert cn.counters["rr.hot_sent"] == cn.counters["rr.hoti_received"] == 1
    assert len(cn.cache) == 0 and cn.return_routability.live_nonces == 1     # nothing kept per node


def test_care_of_test_answers_with_the_care_of_keygen_token_to_the_care_of_address():
    cn = make_cn(random_bytes=Secrets(KCN1, NONCE1))
    (hot,) = sent(cn.receive(0, "eth0", hoti()))
    (cot,) = sent(cn.receive(S, "eth0", coti(cookie=b"CAREOF!!")))
    assert isinstance(cot.payload, CareOfTest) and cot.src == CN and cot.dst == COA and cot.rh2 is None
    assert cot.payload.cookie == b"CAREOF!!"
    assert cot.payload.keygen_token == token(KCN1, COA, NONCE1, 1)
    assert cot.payload.nonce_index == hot.payload.nonce_index          # the same nonce within 30 s


def test_home_test_goes_to_the_home_address_even_when_it_is_bound():
    # The home test proves the home address: it must not take the binding's Type 2 routing header.
    cn = make_cn()
    bind(cn)
    assert cn.bindings() == {HOA: COA}
    (hot,) = sent(cn.receive(S, "eth0", hoti(cookie=b"again!!!")))
    assert hot.dst == HOA and hot.rh2 is None and isinstance(hot.payload, HomeTest)


@pytest.mark.parametrize("bound", [False, True])
@pytest.mark.parametrize("init", [hoti, coti])
def test_a_test_init_with_a_home_address_option_is_ignored_silently(init, bound):
    cn = make_cn()
    if bound:
        bind(cn)
    before = cn.counters["rr.hot_sent"] + cn.counters["rr.cot_sent"]
    out = cn.receive(S, "eth0", init(src=COA, home_address=HOA))
    assert out.transmits == [] and cn.counters["drop.hao.test_init"] == 1
    assert cn.counters["rr.hot_sent"] + cn.counters["rr.cot_sent"] == before


@pytest.mark.parametrize("src", ["fe80::5", "ff0e::1", "::"])
def test_a_test_init_from_an_address_that_cannot_be_answered_is_ignored(src):
    cn = make_cn()
    assert cn.receive(0, "eth0", hoti(src=src)).transmits == []
    assert cn.receive(0, "eth0", coti(src=src)).transmits == []
    assert cn.counters["rr.hot_sent"] == cn.counters["rr.cot_sent"] == 0
    assert cn.counters["drop.rr.hoti_source"] + cn.counters["drop.rr.coti_source"] \
        + cn.counters["drop.mh.multicast_destination"] + cn.counters["drop.parse.source"] >= 1


def test_answers_are_rate_limited():
    cn = make_cn(rr_reply_rate=2, rr_reply_burst=3)
    answered = [len(cn.receive(0, "eth0", hoti(cookie=bytes([i]) * 8)).transmits) for i in range(5)]
    assert answered == [1, 1, 1, 0, 0] and cn.counters["drop.rr.rate_limited"] == 2
    assert len(cn.receive(S // 2, "eth0", coti()).transmits) == 1      # 2 per second: one more after 0.5 s
    assert len(cn.receive(S // 2, "eth0", coti()).transmits) == 0


# ---------------------------------------------------------------- nonces and Kcn (§5.2.7)

def test_nonce_schedule_and_kcn_rotation():
    assert NONCE_INTERVAL == 30 * S and KCN_LIFETIME == 240 * S
    secrets = Secrets(KCN1, NONCE1, NONCE2, *[bytes([n]) * 8 for n in range(3, 7)], KCN2, NONCE2)
    cn = make_cn(random_bytes=secrets)
    first = rr_answer(cn, 0, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"a" * 8)))
    same = rr_answer(cn, 30 * S - 1, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"b" * 8)))
    assert same.nonce_index == first.nonce_index and same.keygen_token == first.keygen_token
    # 30 s on: a new nonce under the next index, the same Kcn.
    second = rr_answer(cn, 30 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"c" * 8)))
    assert second.nonce_index == (first.nonce_index + 1) % 65536
    assert second.keygen_token == token(KCN1, HOA, NONCE2, 0)
    # On demand only: no request for 90 s, no nonce made meanwhile.
    third = rr_answer(cn, 120 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"d" * 8)))
    assert third.nonce_index == (second.nonce_index + 1) % 65536
    assert cn.counters["rr.nonce_generated"] == 3 and cn.counters["rr.kcn_generated"] == 1
    # Nonces made every 30 s until 240 s: the one at 240 s comes with a new Kcn.
    for t in range(150, 240, 30):
        rr_answer(cn, t * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"e" * 8)))
    # The first nonce was made at 0: accepted until 240 s, not at 240 s.
    rr = cn.return_routability
    assert rr.nonce(240 * S - 1, first.nonce_index) is not None and rr.nonce(240 * S, first.nonce_index) is None
    late = rr_answer(cn, 240 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"f" * 8)))
    assert cn.counters["rr.kcn_generated"] == 2
    assert late.keygen_token == token(KCN2, HOA, NONCE2, 0)
    # The second (made at 30 s) until 270 s, under the old key; alive: those of 30, 120 ... 240 s.
    assert rr.nonce(270 * S - 1, second.nonce_index).kcn == KCN1
    assert rr.live_nonces == 6


def test_tokens_under_the_old_kcn_authorise_until_their_nonce_expires():
    secrets = Secrets(KCN1, NONCE1, *[bytes([n]) * 8 for n in range(2, 9)], KCN2, NONCE2)
    cn = make_cn(random_bytes=secrets)
    for t in range(0, 240, 30):
        rr_answer(cn, t * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"x" * 8)))
    hot = rr_answer(cn, 230 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"y" * 8)))
    cot = rr_answer(cn, 230 * S, Packet(src=COA, dst=CN, payload=CareOfTestInit(b"z" * 8)))
    rr_answer(cn, 250 * S, Packet(src=HOA2, dst=CN, payload=HomeTestInit(b"w" * 8)))   # Kcn2 now
    assert cn.counters["rr.kcn_generated"] == 2
    (ba,) = sent(receive(cn, 400 * S, signed_bu(1, hot, cot)))        # nonce made at 210 s: until 450 s
    assert ba.payload.status == 0 and cn.bindings() == {HOA: COA}


# ---------------------------------------------------------------- Binding Updates (§9.5.1)

def test_an_authorised_bu_binds_and_the_ba_carries_its_own_authenticator():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    out = receive(cn, S, signed_bu(7, hot, cot, lifetime=100))
    (ba,) = sent(out)
    assert ba.payload.status == 0 and ba.payload.lifetime == 100 and ba.dst == COA and ba.rh2 == HOA
    assert cn.bindings() == {HOA: COA} and cn.counters["bu.rr_authorised"] == 1
    # The BA's authenticator, computed here: Kbm over care-of | correspondent | the BA up to the
    # authenticator with its checksum zeroed (§6.2.7).
    (auth,) = [o for o in ba.payload.options if isinstance(o, BindingAuthorizationData)]
    raw = ba.to_bytes()
    mh = raw[64:]                                        # after the Type 2 routing header
    assert mh[-12:] == auth.authenticator
    kbm = hashlib.sha1(hot.keygen_token + cot.keygen_token).digest()
    data = COA.packed + CN.packed + mh[:4] + b"\0\0" + mh[6:-12]
    assert auth.authenticator == hmac.new(kbm, data, hashlib.sha1).digest()[:12]


def test_the_lifetime_is_capped_at_max_rr_binding_lifetime():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    (ba,) = sent(receive(cn, 0, signed_bu(1, hot, cot, lifetime=4000)))
    assert ba.payload.lifetime == 420 and cn.cache[HOA].expires_ns == 420 * S
    cn.tick(420 * S)
    assert len(cn.cache) == 0


def test_a_bu_without_return_routability_is_discarded_silently():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    plain = Packet(src=COA, dst=CN, home_address=HOA, payload=BindingUpdate(1, 400, ack=True))
    only_indices = replace(plain, payload=BindingUpdate(1, 400, ack=True, options=(NonceIndices(
        hot.nonce_index, cot.nonce_index),)))
    signed = signed_bu(1, hot, cot)
    only_auth = replace(signed, payload=replace(signed.payload, options=signed.payload.options[1:]))
    for packet in (plain, only_indices, only_auth):
        out = receive(cn, S, packet)
        assert out.transmits == [] and out.notifications == []
    assert len(cn.cache) == 0 and cn.counters["drop.bu.rr.missing"] == 3


def test_a_wrong_authenticator_is_discarded_silently():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    _, cot2 = tokens(cn, 0, HOA, COA2)
    wrong = [
        signed_bu(1, hot, cot, kbm=bytes(20)),                          # another key
        signed_bu(1, hot, cot, bound=COA2),                             # another care-of address signed
        signed_bu(1, hot, cot2),                                        # COA2's token, sent from COA
        signed_bu(1, hot, cot, hoa=HOA2),                               # the token of another home address
        replace(signed_bu(1, hot, cot), dst=CN),
    ]
    flipped = bytearray(signed_bu(1, hot, cot).payload.options[-1].authenticator)
    flipped[0] ^= 1
    good = signed_bu(1, hot, cot)
    wrong[-1] = replace(good, payload=replace(good.payload, options=(
        good.payload.options[0], BindingAuthorizationData(bytes(flipped)))))
    for packet in wrong:
        out = receive(cn, S, packet)
        assert out.transmits == [] and out.notifications == []
    assert len(cn.cache) == 0 and cn.counters["drop.bu.rr.authenticator"] == len(wrong)
    (ba,) = sent(receive(cn, S, good))
    assert ba.payload.status == 0


def test_padding_after_the_authorization_data_is_discarded():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    raw = bytearray(signed_bu(1, hot, cot).to_bytes())
    # Header Len + 1 and eight bytes of PadN after the option; fix the lengths and the checksum.
    raw += bytes([1, 6, 0, 0, 0, 0, 0, 0])
    raw[4:6] = (int.from_bytes(raw[4:6], "big") + 8).to_bytes(2, "big")
    raw[65] += 1
    ck = _impl.load("checksum")
    raw[68:70] = b"\0\0"
    raw[68:70] = ck.pseudo_checksum(HOA.packed, CN.packed, 135, bytes(raw[64:])).to_bytes(2, "big")
    out = cn.receive(S, "eth0", frame(bytes(raw)))
    assert out.transmits == [] and cn.counters["drop.bu.rr.not_last"] == 1 and len(cn.cache) == 0


def test_expired_nonce_indices_get_136_137_138():
    cn = make_cn()
    hot_old, cot_old = tokens(cn, 0, HOA, COA)              # nonce made at 0: accepted until 240 s
    hot_new = rr_answer(cn, 100 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"newhome!")))
    cot_new = rr_answer(cn, 100 * S, Packet(src=COA, dst=CN, payload=CareOfTestInit(b"newcare!")))
    assert hot_new.nonce_index != hot_old.nonce_index
    t = 250 * S
    cases = [((hot_old, cot_new), 136), ((hot_new, cot_old), 137), ((hot_old, cot_old), 138)]
    for seq, ((hot, cot), status) in enumerate(cases, 1):
        out = receive(cn, t, signed_bu(seq, hot, cot, ack=False))
        (ba,) = sent(out)                                   # answered even with A clear (§9.5.4)
        assert ba.payload.status == status and ba.payload.sequence == seq and ba.payload.lifetime == 0
        assert ba.dst == COA and ba.rh2 == HOA and ba.payload.options == ()     # no Kbm: no BAD
        assert cn.counters[f"drop.bu.status.{status}"] == 1
    # An index never given out is unknown too.
    (ba,) = sent(receive(cn, t, signed_bu(9, hot_new, cot_new, indices=NonceIndices(12345, 23456))))
    assert ba.payload.status == 138
    assert len(cn.cache) == 0
    (ba,) = sent(receive(cn, t, signed_bu(10, hot_new, cot_new)))
    assert ba.payload.status == 0 and cn.bindings() == {HOA: COA}


def test_expired_answers_are_rate_limited_like_the_tests():
    cn = make_cn(rr_reply_rate=1, rr_reply_burst=3)
    hot, cot = tokens(cn, 0, HOA, COA)                     # two answers taken
    stale = signed_bu(1, hot, cot, indices=NonceIndices(1, 2))
    assert [len(receive(cn, S, stale).transmits) for _ in range(3)] == [1, 1, 0]
    assert cn.counters["drop.rr.rate_limited"] == 1


def test_a_deletion_needs_only_the_home_token():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    receive(cn, 0, signed_bu(1, hot, cot))
    assert cn.bindings() == {HOA: COA}
    # Signed with both tokens: not how a deletion is authorised (§5.2.6): discarded.
    out = receive(cn, S, signed_bu(2, hot, cot, lifetime=0, bound=HOA))
    assert out.transmits == [] and cn.counters["drop.bu.rr.authenticator"] == 1
    # The home token alone, the home address in the authenticator, a meaningless care-of index.
    out = receive(cn, S, signed_bu(3, hot, None, lifetime=0, indices=NonceIndices(hot.nonce_index, 4242)))
    (ba,) = sent(out)
    assert ba.payload.status == 0 and len(cn.cache) == 0
    kbm = hashlib.sha1(hot.keygen_token).digest()
    mh = ba.to_bytes()[64:]
    data = HOA.packed + CN.packed + mh[:4] + b"\0\0" + mh[6:-12]
    assert mh[-12:] == hmac.new(kbm, data, hashlib.sha1).digest()[:12]


def test_a_deletion_from_home_with_an_expired_home_nonce_gets_136():
    cn = make_cn()
    hot, _ = tokens(cn, 0, HOA, COA)
    packet = signed_bu(1, hot, None, lifetime=0)
    out = cn.receive(300 * S, "eth0", frame(replace(packet, src=HOA, home_address=None)))
    (ba,) = sent(out)
    assert ba.payload.status == 136 and ba.dst == HOA and ba.rh2 is None


def test_sequence_out_of_window_is_answered_with_authorization_data():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    receive(cn, 0, signed_bu(10, hot, cot))
    (ba,) = sent(receive(cn, S, signed_bu(9, hot, cot)))
    assert ba.payload.status == 135 and ba.payload.sequence == 10
    assert isinstance(ba.payload.options[-1], BindingAuthorizationData)


def test_a_home_registration_is_not_subject_to_return_routability():
    cn = make_cn()
    (ba,) = sent(receive(cn, 0, Packet(src=COA, dst=CN, home_address=HOA,
                                       payload=BindingUpdate(1, 400, ack=True, home=True))))
    assert ba.payload.status == 131 and ba.payload.options == ()


def test_a_reboot_forgets_the_nonces():
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    cn.reboot(S)
    (ba,) = sent(receive(cn, 2 * S, signed_bu(1, hot, cot)))
    assert ba.payload.status == 138 and len(cn.cache) == 0
    hot, cot = rr_answer(cn, 3 * S, Packet(src=HOA, dst=CN, payload=HomeTestInit(b"after!!!"))), \
        rr_answer(cn, 3 * S, Packet(src=COA, dst=CN, payload=CareOfTestInit(b"after!!!")))
    (ba,) = sent(receive(cn, 3 * S, signed_bu(2, hot, cot)))
    assert ba.payload.status == 0


# ---------------------------------------------------------------- the lab switch

def test_unauthenticated_bindings_let_a_bu_without_options_in():
    cn = make_cn(unauthenticated_bindings=True)
    (ba,) = sent(receive(cn, 0, Packet(src=COA, dst=CN, home_address=HOA, payload=BindingUpdate(1, 400, ack=True))))
    assert ba.payload.status == 0 and ba.payload.options == () and cn.bindings() == {HOA: COA}
    assert cn.counters["bu.unauthenticated"] == 1
    # A BU that carries return routability's options is still held to them.
    hot, cot = tokens(cn, 0, HOA, COA2)
    out = receive(cn, S, signed_bu(2, hot, cot, coa=COA2, kbm=bytes(20)))
    assert out.transmits == [] and cn.counters["drop.bu.rr.authenticator"] == 1
    (ba,) = sent(receive(cn, S, signed_bu(3, hot, cot, coa=COA2)))
    assert ba.payload.status == 0 and isinstance(ba.payload.options[-1], BindingAuthorizationData)
    assert cn.bindings() == {HOA: COA2}


def test_mutated_return_routability_frames_never_raise():
    assert strict()
    rng = random.Random(7)
    cn = make_cn()
    hot, cot = tokens(cn, 0, HOA, COA)
    seeds = [hoti(), coti(), frame(signed_bu(1, hot, cot)), frame(signed_bu(2, hot, None, lifetime=0)),
             frame(Packet(src=COA, dst=CN, home_address=HOA,
                          payload=authorise(cn, 0, BindingUpdate(3, 400, ack=True), HOA, COA)))]
    now = S
    for k in range(2000):
        f = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if f and rng.random() < 0.7:
                f[rng.randrange(len(f))] = rng.randrange(256)
            elif f:
                del f[rng.randrange(len(f)):]
        now += 10_000_000
        if k % 100 == 0:
            cn.receive_batch(now, "eth0", PacketBatch.from_packets([bytes(f), *seeds[:2]]))
        else:
            cn.receive(now, "eth0", bytes(f))
        cn.tick(now)
