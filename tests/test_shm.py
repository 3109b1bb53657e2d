"""The home agent's tables in shared memory (csrc/mip6_shm.c, mip6fast/_shm.pyx) for its forwarding
workers: the writer's operations keep RFC 6275 §9.5.1's rules and the bound; a worker's graph over the
shared tables forwards exactly as the home agent's private graph does (frame for frame); per-binding
counters from several processes are summed, none lost; a worker stuck inside a batch makes a write
give up (HungWorker) until it is killed, reaped and declared dead; and a stress test: a writer
inserting, updating, deleting and expiring bindings (the table growing and shrinking, its index
migrating, its partial chunk moving), churning adjacencies and the published sets, while forked
workers run graph batches and check that every packet they tunnel went to a care-of address that was
really written for its home address (never a torn entry)."""
import os
import random
import select
import signal
import struct

import numpy as np
import pytest
from helpers.datapath import CN, COA, COA2, HA, HOA, HOA2, ip6, udp

from mip6fast.batch import PacketBatch, Verdict

pytestmark = pytest.mark.compiled("shm", "graph", "bcache", "datapath")

MAC = bytes.fromhex("020000000001")
MAC_OUT = bytes.fromhex("020000000002")
ROUTER_MAC = bytes.fromhex("02000000000f")
ROUTER = bytes.fromhex("fe80000000000000000000000000000f")
HOME_NET = HA[:8] + bytes(8)
OUT_ADDR = bytes.fromhex("20010db8000400000000000000000001")
ROUTES = [(HOME_NET, 64, 0, None), (OUT_ADDR[:8] + bytes(8), 64, 1, None), (bytes(16), 0, 1, ROUTER)]
NOW = 10_000_000_000
FOREVER = 1 << 62
FLAGS = 0x02    # MIP6_TUN_DEC_HOP_LIMIT


def eth(payload, dst_mac=MAC):
    return dst_mac + ROUTER_MAC + b"\x86\xdd" + payload


def _mods():
    from mip6fast import _bcache, _datapath, _graph, _shm
    return _shm, _graph, _bcache, _datapath


def shared_tables(workers=1, **kw):
    shm = _mods()[0]
    t = shm.SharedTables(workers=workers, seed=bytes(16), adj_seed=bytes(16), **kw)
    t.set_interfaces([(MAC, 1500, True), (MAC_OUT, 1500, True)])
    t.set_routes(ROUTES)
    t.set_tunnel(HA, 1500, 0, 64, FLAGS, FLAGS)
    t.set_own([HA, OUT_ADDR])
    t.adj_set(1, ROUTER, ROUTER_MAC, FOREVER)
    return t


def batch_of(frames, headroom=128):
    b = PacketBatch(capacity=max(1, len(frames)), slot_size=2048, headroom=headroom)
    for f in frames:
        b.append(f)
    return b


def test_writer_keeps_the_sequence_rule_and_the_bound():
    t = shared_tables(max_bindings=2)
    assert t.update(HOA, COA, 10, 0xC000, FOREVER)[0] == 0              # CREATED
    assert t.update(HOA, COA2, 10, 0xC000, FOREVER)[:2] == (2, 10)       # STALE: §9.5.1
    assert t.update(HOA, COA2, 11, 0xC000, FOREVER)[0] == 1              # UPDATED
    assert t.get(HOA)[1:3] == (COA2, 11)
    assert t.update(HOA2, COA, 1, 0xC000, FOREVER)[0] == 0
    other = bytes.fromhex("20010db80001000000000000000000aa")
    assert t.update(other, COA, 1, 0xC000, FOREVER)[0] == 3              # NOMEM: past max_bindings
    assert t.update(HOA2, COA2, 2, 0xC000, FOREVER)[0] == 1              # an existing one still updates
    assert t.delete_if_newer(HOA2, 2)[0] == 2 and t.delete_if_newer(HOA2, 3)[0] == 4
    assert t.update(other, COA, 1, 0xC000, 5)[0] == 0                    # room again
    assert t.expire(5) == [other] and len(t) == 1 and t.delete(HOA) and len(t) == 0
    assert t.arena()["failures"] == 0


def test_small_tables_are_published_with_a_new_generation():
    t = shared_tables()
    g0 = t.generation
    t.set_own([HA])
    t.set_protected([HOA])
    assert t.generation == g0 + 2
    t.adj_set(1, CN, ROUTER_MAC, FOREVER)          # the adjacency is a table, not a published one
    assert t.generation == g0 + 2 and t.adj_get(1, CN) == (ROUTER_MAC, FOREVER)
    with pytest.raises(ValueError):
        t.set_routes([(HOME_NET, 64, 7, None)])      # no interface 7
    with pytest.raises(ValueError):
        t.set_own([b"short"])


def test_arena_reuses_freed_blocks():
    t = shared_tables()
    touched = []
    for _ in range(3):
        for k in range(40):
            t.set_own([HA] * (1 + k))                 # a new block each time, the old one freed
        touched.append(t.arena()["touched"])
    assert touched[0] == touched[1] == touched[2]    # the same blocks, from the free lists


def _private_graph(homes):
    _, graph, bcache, dp = _mods()
    table = bcache.BindingTable(16, 64, seed=bytes(16))
    for h, c in homes:
        table.update(h, c, 1, 0xC000, FOREVER)
    enc, dec = dp.Counters(), dp.Counters()
    g = graph.HomeAgentGraph(table, HA, 1500, 0, 64, FLAGS, FLAGS, enc.array, dec.array, 64, seed=bytes(16))
    g.set_interfaces([(MAC, 1500, True), (MAC_OUT, 1500, True)])
    g.set_routes(ROUTES)
    g.set_own([HA, OUT_ADDR])
    g.adj_set(1, ROUTER, ROUTER_MAC, FOREVER)
    return g, table, enc, dec


def _frames():
    big = udp(CN, HOA, bytes(1480))
    return [
        eth(ip6(CN, HOA, 17, udp(CN, HOA, b"to the first home"))),
        eth(ip6(CN, HOA2, 17, udp(CN, HOA2, b"to the second"))),
        eth(ip6(COA, HA, 41, ip6(HOA, CN, 17, udp(HOA, CN, b"reverse tunnel")))),      # §10.4.5
        eth(ip6(COA2, HA, 41, ip6(HOA, CN, 17, udp(HOA, CN, b"wrong source")))),
        eth(ip6(CN, HOA, 17, big)),                                                    # too big for the tunnel
        eth(ip6(CN, HOA, 17, udp(CN, HOA, b"x")), dst_mac=bytes.fromhex("02aaaaaaaaaa")),  # not ours
        eth(ip6(CN, HOA, 17, udp(CN, HOA, b"x"), hop_limit=1)),
        eth(b"\x60" + bytes(10)),                                                      # truncated
    ]


def test_worker_graph_forwards_as_the_private_graph():
    """Frame for frame, verdict for verdict, counter for counter: the shared tables change where the
    tables live, not what the graph decides."""
    shm = _mods()[0]
    homes = [(HOA, COA), (HOA2, COA2)]
    g, table, enc, dec = _private_graph(homes)
    t = shared_tables()
    for h, c in homes:
        t.update(h, c, 1, 0xC000, FOREVER)
    w = shm.WorkerGraph(t, 0)
    for rx in (0, 1):
        a, b = batch_of(_frames()), batch_of(_frames())
        na, nb = g.run(a, rx, NOW), w.run(b, rx, NOW)
        n = a.count
        assert na == nb
        assert a.buf.tobytes() == b.buf.tobytes()
        for col in ("verdict", "reason", "aux", "offset", "length"):
            assert getattr(a, col)[:n].tolist() == getattr(b, col)[:n].tolist(), col
        assert g.out[:n].tolist() == w.out[:n].tolist()
        assert g.slow[:na].tolist() == w.slow[:nb].tolist()
        assert g.slow_kind[:na].tolist() == w.slow_kind[:nb].tolist()
        assert g.tx() == w.tx()[:2]
    graph_c, drops, slow = g.counters()
    summed = t.sum_counters()
    assert summed["graph"] == graph_c and summed["drops"] == drops and summed["slow"] == slow
    assert summed["encap"].tolist() == enc.array.tolist() and summed["decap"].tolist() == dec.array.tolist()
    assert summed["batches"] == 2
    # the bindings' counters: in the entries on the private side, in the worker's arrays on the shared one
    for h in (HOA, HOA2):
        assert t.get(h)[5:] == table.get(h)[5:]


def test_binding_counters_from_several_processes_are_summed():
    shm = _mods()[0]
    t = shared_tables(workers=3)
    t.update(HOA, COA, 1, 0xC000, FOREVER)
    per_worker, rounds = 17, 5
    pids = []
    for w in range(3):
        pid = os.fork()
        if pid == 0:      # pragma: no cover - the child
            code = 1
            try:
                wg = shm.WorkerGraph(t, w)
                for _ in range(rounds):
                    wg.run(batch_of([eth(ip6(CN, HOA, 17, udp(CN, HOA, b"abcd")))] * per_worker), 0, NOW)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    packets, nbytes = t.get(HOA)[5:]
    assert packets == 3 * per_worker * rounds
    assert nbytes == packets * (40 + 8 + 4)
    for w in range(3):
        assert t.worker_counters(w)["graph"]["TX"] == per_worker * rounds
    # a binding created again in the slot starts from zero (the arrays are cleared under the grace period)
    t.delete(HOA)
    t.update(HOA2, COA, 1, 0xC000, FOREVER)
    assert t.get(HOA2)[5:] == (0, 0)


def test_a_hung_worker_stops_writes_until_it_is_reaped():
    """mip6_shm.h, "A hung worker": the write gives up (nothing changed), names the worker; after it is
    killed, reaped and declared dead, the same write goes through and the restart is counted."""
    shm = _mods()[0]
    t = shared_tables(workers=2, hung_timeout=0.05)
    r, wr = os.pipe()
    pid = os.fork()
    if pid == 0:      # pragma: no cover - the child: enters a batch and never leaves it
        os.close(r)
        t._hold(1)
        os.write(wr, b"in")
        while True:
            signal.pause()
    os.close(wr)
    assert os.read(r, 2) == b"in"
    os.close(r)
    with pytest.raises(shm.HungWorker) as info:
        t.update(HOA, COA, 1, 0xC000, FOREVER)
    assert info.value.index == 1 and t.hung == 1 and t.get(HOA) is None
    assert t.active(1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    t.worker_dead(1)
    assert not t.active(1) and t.hung == -1
    assert t.update(HOA, COA, 1, 0xC000, FOREVER)[0] == 0
    assert t.worker_counters(1)["restarts"] == 1
    # the replacement takes the index and forwards
    w = shm.WorkerGraph(t, 1)
    w.run(batch_of([eth(ip6(CN, HOA, 17, udp(CN, HOA, b"x")))]), 0, NOW)
    assert w.tx()[1] == 1


# ---- the stress test -------------------------------------------------------------------------------

N_HOMES = 3000
STRESS_OPS = 6000
READER_BATCHES = 3000


def _home(i):
    return bytes.fromhex("20010db8000100000000000000000000")[:12] + struct.pack("!I", 0x10000 + i)


def _coa(i, version):
    """A care-of address that says which home and which write it belongs to: a half from one write and
    a half from another (a torn entry) does not check."""
    head = struct.pack("!HHI", 0x2001, 0x0db9, version)
    tag = (i * 0x9E3779B1 ^ version * 0x85EBCA77) & 0xFFFFFFFFFFFFFFFF
    return head + struct.pack("!Q", tag)


def _coa_ok(i, coa):
    version = struct.unpack("!I", coa[4:8])[0]
    return coa[:4] == b"\x20\x01\x0d\xb9" and coa == _coa(i, version)


def _reader(t, index, stop_fd, out_fd, seed):     # pragma: no cover - runs in the children
    """Runs graph batches as worker ``index`` until told to stop, checking every tunnelled packet
    (vectorised, so that the worker spends its time inside the graph, where a race would show)."""
    shm = _mods()[0]
    rnd = random.Random(seed)
    w = shm.WorkerGraph(t, index)
    ok = bad = runs = forwarded = 0
    homes = np.frombuffer(b"".join(_home(i) for i in range(N_HOMES)), dtype=np.uint8).reshape(N_HOMES, 16)
    templates = []
    for _ in range(8):
        picks = np.array([rnd.randrange(N_HOMES) for _ in range(256)])
        tmpl = PacketBatch(capacity=256, slot_size=256, headroom=64)
        for i in picks:
            h = _home(int(i))
            tmpl.append(eth(ip6(CN, h, 17, udp(CN, h, b"stress"))))
        templates.append((tmpl, picks))
    b = PacketBatch(capacity=256, slot_size=256, headroom=64)
    ha = np.frombuffer(HA, dtype=np.uint8)
    span = np.arange(80)
    while not select.select([stop_fd], [], [], 0)[0]:
        tmpl, picks = templates[runs % len(templates)]
        for col in ("_buf", "_offset", "_length", "_verdict", "_reason", "_aux"):
            np.copyto(getattr(b, col), getattr(tmpl, col))
        b.count = tmpl.count
        w.run(b, 0, NOW)
        runs += 1
        t.user_add(index, 0, 1)
        sent = np.nonzero((b._verdict[:256] == Verdict.FORWARD) & (w.out[:256] == 1))[0]
        if not len(sent):
            continue
        m = b._buf[(b._offset[sent] + 14)[:, None] + span]         # the outer packets' first 80 bytes
        version = m[:, 28:32].astype(np.uint64) @ (np.uint64(1) << np.arange(24, -1, -8, dtype=np.uint64))
        tag = m[:, 32:40].astype(np.uint64) @ (np.uint64(1) << np.arange(56, -1, -8, dtype=np.uint64))
        i = picks[sent].astype(np.uint64)
        good = ((m[:, 6] == 41) & (m[:, 8:24] == ha).all(axis=1) & (m[:, 64:80] == homes[picks[sent]]).all(axis=1)
                & (m[:, 24:28] == np.array([0x20, 0x01, 0x0D, 0xB9], dtype=np.uint8)).all(axis=1)
                & (tag == ((i * np.uint64(0x9E3779B1)) ^ (version * np.uint64(0x85EBCA77)))))
        ok += int(good.sum())
        bad += int((~good).sum())
        forwarded += len(sent)
    os.write(out_fd, struct.pack("!QQQQ", ok, bad, runs, forwarded))


def test_stress_no_worker_ever_sees_a_torn_binding():
    t = shared_tables(workers=2, max_bindings=N_HOMES)
    stop_r, stop_w = os.pipe()
    res_r, res_w = os.pipe()
    pids = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:      # pragma: no cover
            code = 1
            try:
                os.close(stop_w)
                os.close(res_r)
                _reader(t, w, stop_r, res_w, w)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(stop_r)
    os.close(res_w)
    rnd = random.Random(7)
    version = [0] * N_HOMES
    seq = [0] * N_HOMES
    op = 0

    status = {}

    def readers_busy():
        """Until each reader has run READER_BATCHES batches (counted in the shared counters), while both
        are alive: the writer's operations must overlap the readers' batches, however fast either is."""
        for pid in pids:
            done, st = os.waitpid(pid, os.WNOHANG) if pid not in status else (0, 0)
            if done:
                status[pid] = st
        if status:
            return False
        return min(t.worker_counters(w)["batches"] for w in range(2)) < READER_BATCHES

    try:
        while op < STRESS_OPS or readers_busy():
            op += 1
            i = rnd.randrange(N_HOMES)
            roll = rnd.random()
            if roll < 0.7:
                version[i] += 1
                seq[i] = (seq[i] + 1) & 0xFFFF
                outcome = t.update(_home(i), _coa(i, version[i]), seq[i], 0xC000,
                                   FOREVER if rnd.random() < 0.9 else op)[0]
                assert outcome in (0, 1)
            elif roll < 0.9:
                t.delete(_home(i))
            elif roll < 0.95:
                t.expire(op)
            elif roll < 0.98:
                t.adj_set(1, ROUTER, ROUTER_MAC, FOREVER)     # rewritten in place
                t.adj_set(0, _home(i), ROUTER_MAC, FOREVER)
            else:
                t.set_own([HA, OUT_ADDR] + [_home(rnd.randrange(N_HOMES)) for _ in range(rnd.randrange(4))])
            if op % 500 == 0:     # now and then, shrink it all: the index migrates, slots are reused
                for j in range(0, N_HOMES, 2):
                    t.delete(_home(j))
    finally:
        os.close(stop_w)
        data = b""
        while len(data) < 64:
            more = os.read(res_r, 64 - len(data))
            if not more:
                break
            data += more
        for pid in pids:
            if pid not in status:
                status[pid] = os.waitpid(pid, 0)[1]
    assert all(st == 0 for st in status.values()), status
    results = [struct.unpack("!QQQQ", data[k:k + 32]) for k in range(0, len(data), 32)]
    assert len(results) == 2
    for _ok, bad, runs, _forwarded in results:
        assert bad == 0
        assert runs >= READER_BATCHES
    assert sum(r[0] for r in results) > 0          # bindings were used, and every one was whole
    summed = t.sum_counters()
    assert summed["lost"] == 0


def test_the_signalling_process_writes_through_a_shared_binding_table():
    """BindingTable.shared: the home agent's own BindingCache over the shared table. Its updates keep the
    bound, its entries' counters are summed with the workers', and a hung worker is handed to the
    tables' on_hung (kill, reap, worker_dead) before the write goes on."""
    from mip6fast import _bcache
    from mip6fast.binding_cache import BindingCache
    shm = _mods()[0]
    t = shared_tables(workers=2, max_bindings=2, hung_timeout=0.05)
    cache = BindingCache.shared(t)
    table = cache.table
    assert table.is_shared and isinstance(table, _bcache.BindingTable)
    assert table.update(HOA, COA, 1, 0xC000, FOREVER)[0] == 0
    assert table.update(HOA2, COA, 1, 0xC000, FOREVER)[0] == 0
    assert table.update(bytes(15) + b"\x07", COA, 1, 0xC000, FOREVER)[0] == 3     # NOMEM: the bound
    w = shm.WorkerGraph(t, 1)
    w.run(batch_of([eth(ip6(CN, HOA, 17, udp(CN, HOA, b"abcd")))] * 3), 0, NOW)
    table.add_counters(table.lookup(HOA), 2, 100)        # the signalling process's own forwarding
    assert table.get(HOA)[5:] == (5, 100 + 3 * 52) and cache[HOA].packets == 5
    r, wr = os.pipe()
    pid = os.fork()
    if pid == 0:      # pragma: no cover - a worker that never leaves its batch
        os.close(r)
        t._hold(0)
        os.write(wr, b"in")
        while True:
            signal.pause()
    os.close(wr)
    assert os.read(r, 2) == b"in"
    os.close(r)
    with pytest.raises(shm.HungWorker):
        table.delete(HOA2)
    assert table.lookup(HOA2) >= 0                        # nothing changed

    def on_hung(index):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        t.worker_dead(index)
    t.on_hung = on_hung
    assert table.delete(HOA2) and table.lookup(HOA2) < 0  # killed, reaped, declared dead, then done
    assert t.worker_counters(0)["restarts"] == 1


def test_a_worker_gives_up_on_a_writer_that_never_lets_go():
    """A writer killed mid-mutation would hold the tables for ever: a worker's batch gives up after the
    hung timeout (TimeoutError, the batch untouched) instead of spinning; the worker then looks at its
    parent (mip6fast/io/workers.py)."""
    shm = _mods()[0]
    t = shared_tables(workers=1, hung_timeout=0.05)
    t.update(HOA, COA, 1, 0xC000, FOREVER)
    w = shm.WorkerGraph(t, 0)
    t._stall_writer()
    b = batch_of([eth(ip6(CN, HOA, 17, udp(CN, HOA, b"x")))])
    with pytest.raises(TimeoutError):
        w.run(b, 0, NOW)
    assert int(b.verdict[0]) == Verdict.PASS and not t.active(0)
