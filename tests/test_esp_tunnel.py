"""The reverse tunnel in ESP tunnel mode (RFC 3776 §3, §5; RFC 4877 §4; issue 11), configured per home
address by a tunnel-mode pair of SAs next to the transport-mode pair that protects the signalling.

The home agent, sans-I/O (tests/helpers/home_agent.py): a reverse-tunnelled packet under ESP is opened
and then meets the same §10.4.5 checks as an unprotected one (binding for the inner source, outer
source its care-of address) before the inner packet is forwarded; an unprotected one for such a home
address is dropped by the batch path before the kernel; a tunnel SA of home A cannot carry inner
source B; replays are dropped; what the home agent tunnels to such a home address leaves under ESP
(one at a time, the other tunnelled packets of a batch still as a batch), or, too big once protected,
is answered with Packet Too Big. The mobile node's side and the whole path, with an independent
decryption by scapy: tests/test_esp_tunnel_sim.py."""
import logging
import os
import random
import struct
from collections import Counter
from ipaddress import IPv6Address

import numpy as np
import pytest
from helpers.home_agent import CN, COA, HA, HOME, S, bu_packet, echo, frame_in, make_ha

from mip6fast.batch import PacketBatch
from mip6fast.config import parse_config
from mip6fast.daemon import Daemon, DaemonError, describe_bindings, tun_mtu
from mip6fast.roles.protection import SignallingProtection, manual_pair, tunnel_room
from mip6fast.security import Algorithm, Mode, SecurityPolicyDatabase, is_protected, load_security_policy, seal
from mip6fast.wire import EchoRequest, Packet, PacketTooBig, parse

OTHER = IPv6Address("2001:db8:1::77")        # a home address without a tunnel-mode pair
THIRD = IPv6Address("2001:db8:1::78")        # another protected tunnel, from its own care-of address
COA_OTHER = IPv6Address("2001:db8:5::9")
COA_THIRD = IPv6Address("2001:db8:6::9")
COAS = {HOME: COA, OTHER: COA_OTHER, THIRD: COA_THIRD}


def tunnel_keyed(tunnelled=(HOME,), plain=(OTHER,), seed=3):
    """A home agent with a transport-mode pair for every home address and a tunnel-mode pair for those
    of ``tunnelled``, each registered (protected BU, no DAD) from its care-of address of ``COAS``;
    returns it and the mobile nodes' SPDs by home address."""
    rng = random.Random(seed)
    ha_spd, mns = SecurityPolicyDatabase(), {}
    for i, home in enumerate((*tunnelled, *plain)):
        pairs = [manual_pair(home, HA, rng, spi=0x1000 + 4 * i)]
        if home in tunnelled:
            pairs.append(manual_pair(home, HA, rng, spi=0x1002 + 4 * i, mode=Mode.TUNNEL))
        mns[home] = SecurityPolicyDatabase()
        for mn_sas, ha_sas in pairs:
            for sa in ha_sas:
                ha_spd.add(sa)
            for sa in mn_sas:
                mns[home].add(sa)
    ha = make_ha(spd=ha_spd, dad=False)
    for home, spd in mns.items():
        bu = spd.protect(bu_packet(home=home, coa=COAS[home]).to_bytes(), home)
        out = ha.receive(3 * S, "eth1", frame_in(bu))
        assert [parse(spd.unprotect(t.frame[14:]).packet).payload.status for t in out.frames()
                if is_protected(t.frame[14:])] == [0], home
        assert ha.cache.get(home).care_of_address == COAS[home]
    assert ha.counters["esp.protected"] == len(mns)
    return ha, mns


def reverse_tunnelled(inner, coa=COA, home=HOME):
    """The IPv6-in-IPv6 packet the mobile node of ``home`` sends: care-of address -> home agent."""
    return Packet(src=coa, dst=HA, payload=inner).to_bytes()


def from_home(home=HOME, dst=CN, size=8, hop_limit=64):
    return echo(home, dst, hop_limit=hop_limit, size=size)


def raws(out, iface=None):
    return [t.frame[14:] for t in out.frames() if iface is None or t.interface == iface]


def forwarded_inner(out, inner):
    """The frames of ``out`` that are ``inner`` forwarded by a router (hop limit one less)."""
    want = parse(inner.to_bytes())
    return [r for r in raws(out, "eth1") if not is_protected(r)
            and parse(r) == Packet(src=want.src, dst=want.dst, hop_limit=want.hop_limit - 1, payload=want.payload)]


# ---------------------------------------------------------------- from the mobile node (§10.4.5)

def test_protected_reverse_tunnel_is_decapsulated_and_forwarded():
    ha, mns = tunnel_keyed()
    inner = from_home()
    protected = mns[HOME].protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL)
    assert protected[6] == 50 and protected[40:44] == (0x1002).to_bytes(4, "big")   # the tunnel SA's SPI
    out = ha.receive(5 * S, "eth1", frame_in(protected))
    assert len(forwarded_inner(out, inner)) == 1 and len(raws(out)) == 1
    assert ha.counters["esp.tunnel.accepted"] == 1 and ha.counters["detunnelled"] == 1
    (sa,) = [s for s in ha.protection.spd if s.spi == 0x1002]
    assert sa.mode is Mode.TUNNEL and sa.counters.packets == 1
    assert ha.cache.get(HOME).packets == 1               # the kernel's per-binding counters, as unprotected


def test_protected_reverse_tunnel_meets_the_same_decapsulation_checks():
    """Opening ESP is not enough: the outer source must be the binding's care-of address, and the inner
    source must have a binding (§10.4.5), exactly as for unprotected packets."""
    ha, mns = tunnel_keyed()
    wrong_coa = mns[HOME].protect(reverse_tunnelled(from_home(), coa=COA_OTHER), HOME, Mode.TUNNEL)
    out = ha.receive(5 * S, "eth1", frame_in(wrong_coa))
    assert raws(out) == [] and ha.counters["drop.datapath.tunnel_wrong_source"] == 1
    ha.cache.delete_if_newer(HOME, 9)                    # the binding is gone
    no_binding = mns[HOME].protect(reverse_tunnelled(from_home()), HOME, Mode.TUNNEL)
    out = ha.receive(6 * S, "eth1", frame_in(no_binding))
    assert raws(out) == [] and ha.counters["drop.datapath.tunnel_no_binding"] == 1
    assert ha.counters["esp.tunnel.accepted"] == 2 and ha.counters["detunnelled"] == 0


def test_unprotected_reverse_tunnel_of_a_protected_home_is_dropped():
    ha, _ = tunnel_keyed()
    plain = reverse_tunnelled(from_home())
    out = ha.receive(5 * S, "eth1", frame_in(plain))                     # one frame: a batch of one
    assert raws(out) == [] and ha.counters["drop.esp.tunnel.unprotected"] == 1
    # In a batch: refused before the kernel, while OTHER's unprotected tunnel (no tunnel SA) goes on.
    inner_other = from_home(OTHER)
    batch = PacketBatch.from_packets([frame_in(plain), frame_in(reverse_tunnelled(inner_other, COA_OTHER, OTHER)),
                                      frame_in(plain)])
    out = ha.receive_batch(6 * S, "eth1", batch)
    assert len(forwarded_inner(out, inner_other)) == 1 and len(raws(out)) == 1
    assert ha.counters["drop.esp.tunnel.unprotected"] == 3 and ha.counters["detunnelled"] == 1
    assert ha.counters["drop.tunnel.slow_path"] == 0 and ha.cache.get(HOME).packets == 0


def test_a_tunnel_sa_of_home_a_cannot_carry_inner_source_b():
    """The selectors of RFC 3776: the tunnel SA found by SPI is bound to one home address, the inner
    source; the mobile node of HOME sealing THIRD's packet with its own keys is a policy violation."""
    ha, mns = tunnel_keyed(tunnelled=(HOME, THIRD))
    sa = mns[HOME].outbound_sa(HOME, Mode.TUNNEL)
    inner = from_home(THIRD).to_bytes()
    esp = seal(sa, 41, inner)                           # protect() itself refuses to build it
    forged = Packet(src=COA, dst=HA, payload=from_home()).to_bytes()[:40]
    forged = forged[:4] + struct.pack("!H", len(esp)) + bytes([50]) + forged[7:] + esp
    out = ha.receive(5 * S, "eth1", frame_in(forged))
    assert raws(out) == [] and ha.counters["drop.esp.policy_violation"] == 1
    assert ha.protection.spd.inbound_sa(sa.spi).counters.policy_violations == 1
    assert ha.counters["esp.tunnel.accepted"] == 0 and ha.counters["detunnelled"] == 0


def test_replayed_and_tampered_tunnel_packets_are_dropped():
    ha, mns = tunnel_keyed()
    inner = from_home()
    protected = mns[HOME].protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL)
    assert len(forwarded_inner(ha.receive(5 * S, "eth1", frame_in(protected)), inner)) == 1
    out = ha.receive(5 * S, "eth1", frame_in(protected))
    assert raws(out) == [] and ha.counters["drop.esp.replay"] == 1
    bad = bytearray(mns[HOME].protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL))
    bad[-20] ^= 1
    out = ha.receive(6 * S, "eth1", frame_in(bytes(bad)))
    assert raws(out) == [] and ha.counters["drop.esp.authentication_failed"] == 1
    assert ha.counters["detunnelled"] == 1


def test_the_signalling_sa_does_not_open_the_tunnel():
    """A transport-mode SA carries MH and ICMPv6, not IPv6: a tunnel sealed with it is refused."""
    ha, mns = tunnel_keyed()
    transport = mns[HOME].outbound_sa(HOME)
    esp = seal(transport, 41, from_home().to_bytes())
    head = Packet(src=COA, dst=HA, payload=from_home()).to_bytes()[:40]
    forged = head[:4] + struct.pack("!H", len(esp)) + bytes([50]) + head[7:] + esp
    out = ha.receive(5 * S, "eth1", frame_in(forged))
    assert raws(out) == [] and ha.counters["drop.esp.policy_violation"] == 1


# ---------------------------------------------------------------- to the mobile node (§10.4.2)

def test_tunnel_to_a_protected_home_leaves_under_esp():
    ha, mns = tunnel_keyed()
    request = echo(CN, HOME)
    out = ha.receive(5 * S, "eth1", frame_in(request))
    (raw,) = raws(out, "eth1")
    assert raw[6] == 50 and IPv6Address(raw[8:24]) == HA and IPv6Address(raw[24:40]) == COA
    opened = mns[HOME].unprotect(raw)
    assert opened.sa.mode is Mode.TUNNEL and opened.next_header == 41
    tunnel = parse(opened.packet)
    assert tunnel.src == HA and tunnel.dst == COA
    assert tunnel.payload == Packet(src=CN, dst=HOME, hop_limit=63, payload=request.payload)
    assert ha.counters["esp.tunnel.protected"] == 1 and ha.counters["tunnelled"] == 1


def test_in_a_batch_only_the_protected_tunnels_leave_one_at_a_time():
    ha, mns = tunnel_keyed()
    batch = PacketBatch.from_packets([frame_in(echo(CN, HOME)), frame_in(echo(CN, OTHER)), frame_in(echo(CN, HOME))])
    out = ha.receive_batch(5 * S, "eth1", batch)
    assert ha.counters["tunnelled"] == 3 and ha.counters["esp.tunnel.protected"] == 2
    (batched,) = out.batches                             # OTHER's tunnel: still a batch transmit
    assert [IPv6Address(f[14 + 64:14 + 80]) for f in batched.frames()] == [OTHER]
    protected = [t.frame[14:] for t in out.transmits]
    assert len(protected) == 2 and all(is_protected(r) for r in protected)
    assert [mns[HOME].unprotect(r).sequence for r in protected] == [1, 2]


def test_the_agents_own_packets_and_retunnelled_ones_are_protected_too():
    ha, mns = tunnel_keyed(tunnelled=(HOME, THIRD))
    # The agent's Echo Reply to the home address goes through the tunnel (tunnel_own), under ESP.
    inner = echo(HOME, HA)
    out = ha.receive(5 * S, "eth1", frame_in(mns[HOME].protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL)))
    (raw,) = raws(out)
    reply = parse(mns[HOME].unprotect(raw).packet).payload
    assert reply.src == HA and reply.dst == HOME and ha.counters["tunnelled_own"] == 1
    # From one protected mobile node to another: out of HOME's tunnel into THIRD's, under THIRD's SA.
    inner = from_home(HOME, THIRD)
    out = ha.receive(6 * S, "eth1", frame_in(mns[HOME].protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL)))
    (raw,) = raws(out)
    assert IPv6Address(raw[24:40]) == COA_THIRD
    opened = mns[THIRD].unprotect(raw)
    assert opened.sa.home_address == THIRD and parse(opened.packet).payload.dst == THIRD
    assert ha.counters["esp.tunnel.protected"] == 2


def test_too_big_once_protected_is_answered_with_packet_too_big():
    ha, mns = tunnel_keyed()
    sa = mns[HOME].outbound_sa(HOME, Mode.TUNNEL)
    room = tunnel_room(sa, 1500)
    assert room == 1426                                  # 1500 - 40 - 8 (ESP) - 8 (IV) - 16 (ICV) - 2, to 4
    fits = echo(CN, HOME, size=room - 48)                # 40 + 8 + data: exactly the room
    out = ha.receive(5 * S, "eth1", frame_in(fits))
    (raw,) = raws(out)
    assert len(raw) == 1500 and is_protected(raw)
    too_big = echo(CN, HOME, size=room - 47)
    out = ha.receive(6 * S, "eth1", frame_in(too_big))
    (ptb,) = [parse(r) for r in raws(out)]
    assert isinstance(ptb.payload, PacketTooBig) and ptb.payload.mtu == room and ptb.dst == CN
    assert ha.counters["drop.esp.tunnel.out.too_big"] == 1 and ha.counters["esp.tunnel.protected"] == 1


def test_a_used_up_tunnel_sa_stops_the_tunnel_counted():
    ha, _ = tunnel_keyed()
    (sa,) = [s for s in ha.protection.spd if s.mode is Mode.TUNNEL and s.direction.value == "outbound"]
    sa.advance(sa.sequence + sa.sequence_remaining)
    out = ha.receive(5 * S, "eth1", frame_in(echo(CN, HOME)))
    assert raws(out) == [] and ha.counters["drop.esp.tunnel.out.sequence_exhausted"] == 1


# ---------------------------------------------------------------- the protection's index and helpers

def test_the_tunnel_index_follows_the_spd():
    spd = SecurityPolicyDatabase()
    protection = SignallingProtection(spd, Counter())
    assert protection.tunnel_outbound() == {} and protection.tunnel_required() == frozenset()
    _, ha_sas = manual_pair(HOME, HA, random.Random(1), mode=Mode.TUNNEL)
    for sa in ha_sas:
        spd.add(sa)
    assert set(protection.tunnel_outbound()) == protection.tunnel_protected() == {HOME.packed}
    assert protection.tunnel_required() == {HOME.packed}
    assert protection.identifier(HOME) is None                        # no signalling SA
    assert protection.identifier(HOME, mode=Mode.TUNNEL).startswith("esp spi 0x")
    spd.remove(ha_sas[1])                                             # the outbound one
    assert protection.tunnel_outbound() == {} and protection.tunnel_required() == {HOME.packed}
    assert SignallingProtection(None, Counter()).tunnel_required() == frozenset()


def test_tunnel_room_per_algorithm():
    for algorithm, room in ((Algorithm.AES_128_GCM, 1426), (Algorithm.AES_128_CBC_HMAC_SHA256, 1406),
                            (Algorithm.NULL_HMAC_SHA256, 1434)):
        mn_sas, _ = manual_pair(HOME, HA, random.Random(1), algorithm=algorithm, mode=Mode.TUNNEL)
        sa = mn_sas[0]                                   # the mobile node's outbound SA
        assert tunnel_room(sa, 1500) == room
        # The largest inner packet that fits makes an outer packet of at most 1500 bytes; one more does not.
        for size, fits in ((room, True), (room + 1, False)):
            inner = Packet(src=HOME, dst=CN, payload=EchoRequest(1, 1, bytes(size - 48)))
            protected = SecurityPolicyDatabase([sa]).protect(Packet(src=COA, dst=HA, payload=inner).to_bytes(),
                                                             HOME, Mode.TUNNEL)
            assert (len(protected) <= 1500) == fits, (algorithm, size)


def test_no_tunnel_sa_keeps_the_batch_path_as_it_was():
    """No tunnel-mode SA: the home agent's batches go as before (one batch transmit, no ESP)."""
    ha, _ = tunnel_keyed(tunnelled=(), plain=(HOME, OTHER))
    frames = [frame_in(echo(CN, HOME)), frame_in(echo(CN, OTHER)),
              frame_in(reverse_tunnelled(from_home()))]
    out = ha.receive_batch(5 * S, "eth1", PacketBatch.from_packets(frames))
    assert ha.counters["tunnelled"] == 2 and ha.counters["detunnelled"] == 1
    assert out.transmits == [] or all(not is_protected(t.frame[14:]) for t in out.transmits)
    assert len(out.batches) == 1 and ha.counters["esp.tunnel.protected"] == 0
    # The two tunnelled packets and the decapsulated one, all from the C graph in one batch transmit.
    assert np.count_nonzero(out.batches[0].which) == 3


# ---------------------------------------------------------------- the key file and the daemons

KEY_FILE = '''
[[association]]
home_address = "2001:db8:1::9"
home_agent = "2001:db8:1::1"
algorithm = "aes-128-gcm"
mn_to_ha = { spi = 0x1001, encryption_key = "00112233445566778899aabbccddeeff01234567" }
ha_to_mn = { spi = 0x1002, encryption_key = "ffeeddccbbaa99887766554433221100fedcba98" }

[[association]]
home_address = "2001:db8:1::9"
home_agent = "2001:db8:1::1"
algorithm = "aes-128-gcm"
mode = "tunnel"
extended_sequence_numbers = true
mn_to_ha = { spi = 0x1003, encryption_key = "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567" }
ha_to_mn = { spi = 0x1004, encryption_key = "f0e1d2c3b4a5968778695a4b3c2d1e0f76543210" }
'''


def test_a_key_file_with_mode_tunnel_protects_the_reverse_tunnel(tmp_path, caplog):
    """What the daemons load (``[security] key_file``) is what the roles use: a tunnel-mode association
    next to the transport-mode one; BU/BA under the first, the tunnel under the second."""
    path = tmp_path / "keys.toml"
    path.write_text(KEY_FILE)
    os.chmod(path, 0o600)
    ha_spd, mn_spd = load_security_policy(path, "ha"), load_security_policy(path, "mn")
    assert len(ha_spd) == len(mn_spd) == 4
    ha = make_ha(spd=ha_spd, dad=False)
    out = ha.receive(3 * S, "eth1", frame_in(mn_spd.protect(bu_packet().to_bytes(), HOME)))
    (ba,) = [mn_spd.unprotect(r) for r in raws(out) if is_protected(r)]
    assert ba.sa.spi == 0x1002 and parse(ba.packet).payload.status == 0
    inner = from_home()
    wire = mn_spd.protect(reverse_tunnelled(inner), HOME, Mode.TUNNEL)
    assert int.from_bytes(wire[40:44], "big") == 0x1003
    assert len(forwarded_inner(ha.receive(4 * S, "eth1", frame_in(wire)), inner)) == 1
    (raw,) = raws(ha.receive(5 * S, "eth1", frame_in(echo(CN, HOME))))
    assert int.from_bytes(raw[40:44], "big") == 0x1004 and mn_spd.unprotect(raw).sa.esn
    (row,) = describe_bindings(ha, 5 * S)
    assert row["protected_by"] == "esp spi 0x00001001 (aes-128-gcm)"
    assert row["tunnel_protected_by"] == "esp spi 0x00001003 (aes-128-gcm)"
    # The mobile node's TUN leaves room for ESP: 1500 - 40 - 8 - 8 - 16, less the trailer, aligned.
    assert tun_mtu(1500, mn_spd) == 1426 and tun_mtu(1500, None) == 1460 and tun_mtu(1300, mn_spd) == 1280
    # The daemon loads it and says so (then stops: the interface does not exist here).
    text = f"""
[daemon]
control_socket = "{tmp_path}/mn.sock"
lock_dir = "{tmp_path}/locks"
[interfaces.mip6-none0]
[mobile_node]
interface = "mip6-none0"
homes = [{{ address = "2001:db8:1::9", home_agent = "2001:db8:1::1", prefix_length = 64 }}]
[security]
key_file = "{path}"
"""
    daemon = Daemon(parse_config(text, "mn"))
    with caplog.at_level(logging.INFO, logger="mip6fast"), pytest.raises(DaemonError):
        daemon.start()
    assert daemon.spd is not None and sum(sa.mode is Mode.TUNNEL for sa in daemon.spd) == 2
    assert any("ESP tunnel mode" in r.getMessage() and "2001:db8:1::9" in r.getMessage() for r in caplog.records)
