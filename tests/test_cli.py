"""The mip6fast command: bench output shape (issue: every `bench ... --json` prints one object whose
`results` items carry name, value, unit and, with a baseline, baseline and ratio) and decode."""
import json

import pytest

from mip6fast.cli import build_parser, main
from mip6fast.wire import BindingAcknowledgement, Packet


def _bench_json(capsys, what):
    assert main(["bench", what, "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["benchmark"] == what and report["results"]
    for item in report["results"]:
        assert isinstance(item["name"], str) and isinstance(item["unit"], str)
        assert isinstance(item["value"], (int, float)) and item["value"] > 0
        if "baseline" in item:
            assert item["baseline"] > 0
            better_lower = item.get("better") == "lower"
            expected = item["baseline"] / item["value"] if better_lower else item["value"] / item["baseline"]
            assert item["ratio"] == pytest.approx(expected, rel=0.05, abs=0.01)
    return {r["name"]: r for r in report["results"]}


@pytest.mark.compiled  # benchmarks of the C code against the twins
def test_bench_wire_json(capsys):
    rows = _bench_json(capsys, "wire")
    for name in ("bu_build", "bu_parse", "checksum_64", "checksum_512", "checksum_1500"):
        assert "baseline" in rows[name] and "ratio" in rows[name]


@pytest.mark.compiled
def test_bench_wire_table(capsys):
    assert main(["bench", "wire", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "bu_build" in out and "ratio" in out


@pytest.mark.slow
@pytest.mark.compiled
def test_bench_datapath_json(capsys):
    rows = _bench_json(capsys, "datapath")
    for kernel in ("encapsulate", "decapsulate", "hao_insert", "hao_process", "rh2_insert", "rh2_process"):
        for size in (64, 512, 1500):
            for batch in (1, 32, 256):
                assert "ratio" in rows[f"{kernel}_{size}B_batch{batch}"]
    for n in ("1e3", "1e5", "1e6"):
        assert "ratio" in rows[f"bcache_lookup_batch_{n}"] and "ratio" in rows[f"bcache_lookup_single_{n}"]
    assert rows["bcache_memory_per_binding_1e6"]["unit"] == "bytes"


def test_decode_prints_packets_and_reports_errors(capsys):
    ba = Packet(src="2001:db8:1::1", dst="2001:db8:2::9", rh2="2001:db8:1::9",
                payload=BindingAcknowledgement(status=135, sequence=9, lifetime=0))
    assert main(["decode", ba.to_bytes().hex()]) == 0
    assert "status=135" in capsys.readouterr().out
    assert main(["decode", "60"]) == 1
    assert "ParseError" in capsys.readouterr().err
    assert main(["decode", "zz"]) == 2
    bad = bytearray(ba.to_bytes())
    bad[40 + 24 + 9] ^= 1   # the BA's sequence number: only the checksum notices
    assert main(["decode", bad.hex()]) == 1
    assert main(["decode", "--no-checksum", bad.hex()]) == 0


@pytest.mark.parametrize("name", ["ha", "mn", "cn", "router", "keys"])
def test_example_config_prints_the_installed_example(capsys, tmp_path, name):
    """`mip6fast example-config NAME` prints the file installed with the package (issue 15); the
    daemons' examples load as their role's configuration."""
    from importlib import resources

    from mip6fast.config import load_config
    assert main(["example-config", name]) == 0
    text = capsys.readouterr().out
    assert text == (resources.files("mip6fast") / "examples" / f"{name}.toml").read_text() and text.strip()
    if name != "keys":
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        assert load_config(path, name).role == name


@pytest.mark.parametrize("status, words", [
    ({"member": "ha2", "state": "standby", "lease_id": None, "lease_ttl_s": 2, "lease_remaining_s": 0.0,
      "store_revision": 5, "etcd_revision": 12, "applied_revision": 9, "lag_revisions": 3, "since_applied_s": 0.25,
      "commit_rtt_s": None, "takeovers": 0},
     "redundancy: ha2 is STANDBY; lease TTL 2 s; etcd revision 12; replication lag 3 revision(s) (etcd at 12, "
     "mirrored to 9), last change applied 0.2 s ago; takeovers 0"),
    ({"member": "ha", "state": "active", "lease_id": "694d", "lease_ttl_s": 2, "lease_remaining_s": 1.75,
      "store_revision": 12, "etcd_revision": 12, "applied_revision": None, "lag_revisions": None,
      "since_applied_s": None, "commit_rtt_s": 0.0021, "takeovers": 1},
     "redundancy: ha is ACTIVE; lease 694d, 1.8 s of 2 s left; etcd revision 12; last commit round trip 2.1 ms; "
     "takeovers 1"),
])
def test_bindings_shows_a_members_role_lease_and_replication_lag(tmp_path, capsys, status, words):
    """`mip6fast bindings` of a member of a redundant group (README "Redundancy"), from a control socket
    answering as a daemon does."""
    import socket
    import threading

    path = str(tmp_path / "ha.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        with conn:
            conn.makefile("rb").readline()
            conn.sendall(json.dumps({"role": "ha", "bindings": [], "redundancy": status}).encode() + b"\n")
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        assert main(["bindings", "--socket", path]) == 0
    finally:
        t.join(5)
        server.close()
    assert words in capsys.readouterr().out


@pytest.mark.compiled("shm", "graph")
def test_bench_workers_json(capsys):
    """The shape only (never the speed-up: the machine decides it): one and two workers, every packet
    the workers ran forwarded."""
    rows = _bench_json(capsys, "workers")
    assert set(rows) == {"workers_1", "workers_2"}
    assert "ratio" in rows["workers_2"] and len(rows["workers_2"]["per_worker"]) == 2
    assert all(r["forwarded"] > 0 for r in rows.values())


def test_bindings_and_stats_take_the_daemons_spelling_of_the_control_socket(tmp_path):
    """`--control-socket` (as `mip6fast ha|mn|cn|router` and `mip6fast ha switchover` spell it) and the
    older `--socket` name the same thing."""
    missing = str(tmp_path / "none.sock")
    for flag in ("--socket", "--control-socket"):
        for command in ("bindings", "stats"):
            args = build_parser().parse_args([command, flag, missing])
            assert args.socket == missing
