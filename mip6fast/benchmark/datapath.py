"""``mip6fast bench datapath``: the batched data-path kernels against the pure-Python reference
(mip6fast._datapath_py), in millions of packets per second.

Kernels: home agent encapsulation and decapsulation (binding cache lookups), HAO insert (binding update
list, 32-byte keys) and process, RH2 insert and process; packets of 64, 512 and 1500 bytes (the packet
as the end point sent it: the inner packet of a tunnel, the packet before the HAO/RH2 was added) in
batches of 1, 32 and 256. Every packet takes the forwarding path (its binding exists: 4096 bindings in
the table, packets spread over them). The tunnel MTU and link MTU are 9000 so that 1500-byte packets are
forwarded, not answered with TOO_BIG.

Timing. The compiled figure is for one kernel call per batch *plus* putting the batch back as it was
(kernels rewrite headers in place and move offsets): a ``_datapath.Snapshot`` restores the offset and
length columns, the verdicts, and the first bytes of each packet the kernel may have rewritten (8 to 64
bytes) in one C loop. That reset is included in the figure, so the ratio is conservative; its cost
alone is reported as ``reset_ns`` per batch. The baseline runs the reference over a list of ``bytes``
(struct unpack, dict lookup, struct pack, concatenation per packet), which needs no reset. Both are
measured in the same run on the same packets, and their outputs are compared before timing.
"""
from ipaddress import IPv6Address

from .. import _datapath_py as ref
from .. import _impl
from ..batch import PacketBatch, Verdict
from ..binding_cache import BindingCache
from . import binding_cache, environment, measure, result

HA = IPv6Address("2001:db8:1::1").packed
CN = IPv6Address("2001:db8:5::5").packed
SIZES = (64, 512, 1500)
BATCHES = (1, 32, 256)
N_BINDINGS = 4096
MTU = 9000
FOREVER = 1 << 62

# The compiled kernels and table, whatever MIP6FAST_PURE_PYTHON says (they are what is measured),
# loaded when a benchmark runs (importing this module, as the CLI does, loads nothing compiled); None
# when not built, and then there is nothing to compare with the baseline.
dp = None
_bcache = None


def _require() -> None:
    global dp, _bcache
    if dp is None or _bcache is None:
        dp, _ = _impl.load_both("datapath")
        _bcache, _ = _impl.load_both("bcache")
    if dp is None or _bcache is None:
        raise RuntimeError("the compiled data path (mip6fast._datapath, mip6fast._bcache) is not built; "
                           "nothing to compare with the baseline")


def _home(i: int) -> bytes:
    return IPv6Address(0x20010DB8000100000000000000000000 + 0x1000 + i).packed


def _coa(i: int) -> bytes:
    return IPv6Address(0x20010DB8000200000000000000000000 + (i << 16) + 9).packed


def _udp_packet(src: bytes, dst: bytes, size: int, prefix_nh=None, prefix=b"") -> bytes:
    """An IPv6/UDP packet of `size` bytes (checksum left 0: the kernels never read it), optionally with
    extension headers between the IPv6 and UDP headers."""
    body_len = size - 40 - len(prefix)
    udp = (5000).to_bytes(2, "big") + (53).to_bytes(2, "big") + body_len.to_bytes(2, "big") + bytes(2)
    udp += bytes((i * 7) & 0xFF for i in range(body_len - 8))
    nh = 17 if prefix_nh is None else prefix_nh
    return (bytes((0x60, 0, 0, 0)) + (len(prefix) + len(udp)).to_bytes(2, "big") + bytes((nh, 64)) + src + dst
            + prefix + udp)


class _Case:
    def __init__(self, name, packets, head_bytes, run_c, one_py, args_py):
        self.name, self.packets, self.head_bytes = name, packets, head_bytes
        self.run_c, self.one_py, self.args_py = run_c, one_py, args_py


def _cases(size: int, n: int):
    _require()
    homes = [_home(i) for i in range(N_BINDINGS)]
    coas = [_coa(i) for i in range(N_BINDINGS)]
    pick = [(i * 2654435761) % N_BINDINGS for i in range(n)]          # spread over the table
    cache = BindingCache(16, capacity=N_BINDINGS, seed=1, impl=_bcache)
    bul = BindingCache(32, capacity=N_BINDINGS, seed=2, impl=_bcache)
    py_cache, py_bul = {}, {}
    for h, c in zip(homes, coas):
        cache.update(h, c, 1, 0, FOREVER)
        bul.update((CN, h), c, 1, 0, FOREVER)
        py_cache[h] = ref.Binding(c)
        py_bul[CN + h] = ref.Binding(c)
    table, bul_table = cache.table, bul.table
    cfg = dp.TunnelConfig(HA, bytes(16), MTU, 0, 64, dp.TUN_DEC_HOP_LIMIT)
    py_cfg = ref.TunnelConfig(HA, bytes(16), MTU, 0, 64, ref.TUN_DEC_HOP_LIMIT)
    homes_set = dp.Addresses(homes[:1])
    counters = dp.Counters()

    to_mn = [_udp_packet(CN, homes[k], size) for k in pick]
    tunnelled = [_udp_packet(coas[k], HA, size + 40, 41)[:40] + _udp_packet(homes[k], CN, size) for k in pick]
    from_mn = [_udp_packet(homes[k], CN, size) for k in pick]
    with_hao = [_udp_packet(coas[k], CN, size + 24, 60, bytes((17, 2, 1, 2, 0, 0, 201, 16)) + homes[k])
                for k in pick]
    with_rh2 = [_udp_packet(CN, coas[0], size + 24, 43, bytes((17, 2, 2, 1, 0, 0, 0, 0)) + homes[0])
                for _ in pick]                                         # the mobile node's own home address
    return [
        _Case("encapsulate", to_mn, 8, lambda b: dp.encapsulate_ha(b, table, cfg, counters),
              ref.encapsulate_ha_one, (py_cache, py_cfg)),
        _Case("decapsulate", tunnelled, 48, lambda b: dp.decapsulate_ha(b, table, dp.TUN_DEC_HOP_LIMIT, counters),
              ref.decapsulate_ha_one, (py_cache, ref.TUN_DEC_HOP_LIMIT)),
        _Case("hao_insert", from_mn, 40, lambda b: dp.hao_insert(b, bul_table, MTU, counters),
              ref.hao_insert_one, (py_bul, MTU)),
        _Case("hao_process", with_hao, 64, lambda b: dp.hao_process(b, table, counters),
              ref.hao_process_one, (py_cache,)),
        _Case("rh2_insert", to_mn, 40, lambda b: dp.rh2_insert(b, table, MTU, counters),
              ref.rh2_insert_one, (py_cache, MTU)),
        _Case("rh2_process", with_rh2, 64, lambda b: dp.rh2_process(b, homes_set, counters),
              ref.rh2_process_one, (frozenset(homes[:1]),)),
    ]


def _check(case, batch, n: int) -> None:
    """The compiled kernel forwards every packet and agrees with the reference, before any timing."""
    counters = ref.new_counters()
    expected = ref.run_list(case.one_py, case.packets, counters, *case.args_py, room=batch.headroom)
    case.run_c(batch)
    assert all(v == Verdict.FORWARD for v in batch.verdicts()), (case.name, batch.reasons()[:4])
    assert batch.packets() == [out for _, _, _, out in expected], case.name


def run(seconds: float = 0.3) -> list:
    _require()
    results = []
    for size in SIZES:
        for n in BATCHES:
            for case in _cases(size, n):
                batch = PacketBatch.from_packets(case.packets, capacity=n, slot_size=2048, headroom=128)
                snap = dp.Snapshot(batch, batch.save(case.head_bytes))
                _check(case, batch, n)
                snap.restore()
                run_c = case.run_c

                def c_round(run_c=run_c, restore=snap.restore, batch=batch):
                    restore()
                    run_c(batch)

                c_pps = measure(c_round, seconds, n)
                reset_ns = 1e9 / measure(snap.restore, seconds / 3)
                counters = ref.new_counters()
                packets, one, args = case.packets, case.one_py, case.args_py
                py_pps = measure(lambda one=one, packets=packets, counters=counters, args=args:
                                 ref.run_list(one, packets, counters, *args), seconds, n)
                results.append(result(f"{case.name}_{size}B_batch{n}", c_pps / 1e6, "Mpps", py_pps / 1e6,
                                      kernel=case.name, size=size, batch=n, reset_ns=round(reset_ns, 1)))
    return results


def report(seconds: float = 0.3) -> dict:
    """What ``mip6fast bench datapath`` prints: the kernels, then the binding cache they look up in."""
    return {"benchmark": "datapath", "environment": environment(),
            "results": run(seconds) + binding_cache.run(seconds)}
