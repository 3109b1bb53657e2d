"""The daemons' Prometheus endpoint (issue 15 item 3, mip6fast.metrics): the mapping of the declared
counters to metric names and labels, the collector over a snapshot (no root), the snapshot exchange
between the scrape thread and the loop, the signalling latencies the roles measure; and, as root, a
scrape of a running ``mip6fast ha`` in a namespace."""
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from helpers.home_agent import S, make_ha, register
from helpers.mobile_node import registered_mn
from mip6fast import __version__
from mip6fast.config import parse_config
from mip6fast.metrics import DaemonCollector, SnapshotExchange, metric_for, metric_names
from mip6fast.roles.counter_docs import ROLE_TABLES
from mip6fast.roles.home_agent.counters import HOME_AGENT_COUNTERS
from mip6fast.roles.latency import BUCKETS_S, Histogram

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["netns"]


def scrape_text(collector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict:
    """{(sample name, frozenset of labels): value}."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_mapping_of_names_to_metrics_and_labels():
    t = HOME_AGENT_COUNTERS
    assert metric_for(t, "ba.sent.status.130") == ("mip6fast_ba_sent_status", {"status": "130"})
    assert metric_for(t, "drop.datapath.no_binding")[1] == {"reason": "no_binding"}
    assert metric_for(t, "rx_frames") == ("mip6fast_rx_frames", {})
    assert metric_for(t, "counters.undeclared") == ("mip6fast_counters_undeclared", {})
    assert metric_for(t, "no.such.counter") is None
    # A family named like an exact counter is told apart by its label.
    assert metric_for(t, "store.commit_failed") == ("mip6fast_store_commit_failed", {})
    assert metric_for(t, "store.commit_failed.disk_full") == ("mip6fast_store_commit_failed_by_reason",
                                                              {"reason": "disk_full"})


@pytest.mark.parametrize("role", sorted(ROLE_TABLES))
def test_every_declaration_of_every_role_maps_to_one_metric(role):
    """No two declarations share a metric unless they agree on its labels (Prometheus's rule for one
    family); every name is a valid metric name."""
    table = ROLE_TABLES[role]
    seen = {}
    for decl, (metric, label) in metric_names(table).items():
        assert metric.replace("_", "a").isalnum() and not metric[0].isdigit(), metric
        assert seen.setdefault(metric, label) == label, (decl, metric)


def snapshot(**over):
    snap = {"role": "ha", "version": "0.1.0", "start_time": 1.7e9, "bindings": 3, "reloads": 2,
            "counters": {"rx_frames": 10, "ba.sent.status.0": 4, "ba.sent.status.130": 1,
                         "drop.datapath.no_binding": 5, "counters.undeclared": 1, "not.declared": 1},
            "latencies": {"ha_bu_processing": ([0, 1, 2] + [3] * (len(BUCKETS_S) - 2), 0.0009, 3)},
            "ports": {"eth0": {"rx_frames": 7, "tx_frames": 8}, "eth1": {"rx_frames": 1, "tx_frames": 2}},
            "runner": {"loops": 99}, "control": None}
    snap.update(over)
    return snap


def test_the_collector_shows_counters_gauges_and_histograms():
    text = scrape_text(DaemonCollector(HOME_AGENT_COUNTERS, lambda: (snapshot(), True)))
    got = samples(text)
    ha = ("role", "ha")

    def value(name, *labels):
        return got[(name, frozenset([ha, *labels]))]

    assert value("mip6fast_rx_frames_total") == 10
    assert value("mip6fast_tx_frames_total") == 0                  # declared, not counted yet: shown
    assert value("mip6fast_ba_sent_status_total", ("status", "130")) == 1
    assert value("mip6fast_ba_sent_status_total", ("status", "0")) == 4
    assert value("mip6fast_drop_datapath_total", ("reason", "no_binding")) == 5
    assert value("mip6fast_counters_undeclared_total") == 1
    assert not any("not_declared" in name for name, _ in got)
    assert value("mip6fast_bindings") == 3 and value("mip6fast_reloads_total") == 2
    assert value("mip6fast_info", ("version", "0.1.0")) == 1
    assert value("mip6fast_port_rx_frames_total", ("interface", "eth1")) == 1
    assert value("mip6fast_runner_loops_total") == 99
    bu = ("exchange", "ha_bu_processing")
    assert value("mip6fast_signalling_latency_seconds_count", bu) == 3
    assert value("mip6fast_signalling_latency_seconds_sum", bu) == pytest.approx(0.0009)
    assert value("mip6fast_signalling_latency_seconds_bucket", bu, ("le", "0.0001")) == 0
    assert value("mip6fast_signalling_latency_seconds_bucket", bu, ("le", "0.00025")) == 1
    assert value("mip6fast_signalling_latency_seconds_bucket", bu, ("le", "+Inf")) == 3
    assert got[("mip6fast_snapshot_stale", frozenset())] == 0
    assert "# HELP mip6fast_drop_datapath_total" in text


def test_a_redundant_members_role_lease_and_replication_lag_are_gauges():
    """README "Redundancy": the role as a 1 in mip6fast_redundancy_state{state}, the lease, and the lag
    figures a member has (a standby's lag, the active's commit round trip); the ones it has not
    (None) are left out rather than shown as 0."""
    standby = {"member": "ha2", "state": "standby", "lease_id": None, "lease_ttl_s": 2, "lease_remaining_s": 0.0,
               "etcd_revision": 12, "applied_revision": 9, "lag_revisions": 3, "since_applied_s": 0.25,
               "mirrored": 7, "commit_rtt_s": None, "last_takeover_s": None}
    got = samples(scrape_text(DaemonCollector(HOME_AGENT_COUNTERS, lambda: (snapshot(redundancy=standby), True))))
    member = [("role", "ha"), ("member", "ha2")]

    def value(name, *labels):
        return got[(name, frozenset([*member, *labels]))]

    assert value("mip6fast_redundancy_state", ("state", "standby")) == 1
    assert value("mip6fast_redundancy_state", ("state", "active")) == 0
    assert value("mip6fast_redundancy_lag_revisions") == 3 and value("mip6fast_redundancy_mirrored_bindings") == 7
    assert value("mip6fast_redundancy_since_applied_seconds") == 0.25
    assert value("mip6fast_redundancy_lease_ttl_seconds") == 2
    assert not [k for k in got if k[0] in ("mip6fast_redundancy_commit_rtt_seconds",
                                           "mip6fast_redundancy_lease_info")]
    active = dict(standby, member="ha", state="active", lease_id="694d", lease_remaining_s=1.5,
                  lag_revisions=None, since_applied_s=None, mirrored=None, commit_rtt_s=0.0021)
    got = samples(scrape_text(DaemonCollector(HOME_AGENT_COUNTERS, lambda: (snapshot(redundancy=active), True))))
    member = [("role", "ha"), ("member", "ha")]
    assert value("mip6fast_redundancy_state", ("state", "active")) == 1
    assert value("mip6fast_redundancy_lease_info", ("lease_id", "694d")) == 1
    assert value("mip6fast_redundancy_commit_rtt_seconds") == 0.0021
    assert value("mip6fast_redundancy_lease_remaining_seconds") == 1.5
    assert not [k for k in got if k[0] == "mip6fast_redundancy_lag_revisions"]
    # a daemon that is no member: none of the gauges (the redundancy.* counters are counters, _total)
    got = samples(scrape_text(DaemonCollector(HOME_AGENT_COUNTERS, lambda: (snapshot(), True))))
    assert not [k for k in got if k[0].startswith("mip6fast_redundancy") and not k[0].endswith("_total")]


def test_a_stale_or_missing_snapshot_is_said():
    got = samples(scrape_text(DaemonCollector(HOME_AGENT_COUNTERS, lambda: (None, False))))
    assert got == {("mip6fast_snapshot_stale", frozenset()): 1}


def test_the_exchange_asks_the_loop_and_waits():
    """The scrape thread never builds the snapshot: the loop does (here a thread standing for it), when
    the pipe it watches says a scrape waits. Without a loop, the scrape times out with the old one."""
    built_on = []
    ex = SnapshotExchange(lambda: built_on.append(threading.current_thread().name) or {"n": len(built_on)},
                          timeout_s=0.3)
    try:
        assert ex.get() == (None, False)                # nobody serves: timed out
        stop = threading.Event()

        def loop():
            import select
            while not stop.is_set():
                if select.select([ex.fileno()], [], [], 0.05)[0]:
                    ex.serve()

        t = threading.Thread(target=loop, name="loop")
        t.start()
        try:
            snap, fresh = ex.get()
            assert fresh and snap["n"] >= 1 and set(built_on) == {"loop"}
        finally:
            stop.set()
            t.join()
    finally:
        ex.close()
    assert ex.get()[1] is False                           # closed: the last snapshot, not fresh


def test_a_failing_snapshot_is_logged_not_raised(caplog):
    ex = SnapshotExchange(lambda: 1 / 0, timeout_s=0.1)
    try:
        ex.serve()
        assert ex.errors == 1 and "building the snapshot failed" in caplog.text
    finally:
        ex.close()


def test_histogram_buckets():
    h = Histogram()
    for ns in (50_000, 100_000, 100_001, 20_000_000_000):
        h.observe(ns)
    cum = h.cumulative()
    assert cum[0] == 2 and cum[1] == 3 and cum[-2] == 3 and cum[-1] == 4 and h.count == 4


def test_the_mobile_node_measures_bu_to_ba():
    mn, _ = registered_mn()                           # the BA came 10 ms after the BU
    (cum, total, count), = mn.latencies.snapshot().values()
    assert list(mn.latencies.snapshot()) == ["mn_home_bu_ba"]
    assert count == 1 and total == pytest.approx(0.010)
    assert cum[BUCKETS_S.index(0.01)] == 1 and cum[BUCKETS_S.index(0.005)] == 0


def test_the_home_agent_times_bu_processing_only_with_a_clock():
    ha = make_ha()
    register(ha)
    assert ha.latencies.snapshot() == {}              # the simulator's node: no clock, nothing timed
    ha = make_ha()
    ticks = iter(range(0, 10**9, 2_000_000))           # each reading 2 ms after the last
    ha.perf_clock = lambda: next(ticks)
    register(ha, now=3 * S)
    (_cum, total, count), = ha.latencies.snapshot().values()
    assert count == 1 and total == pytest.approx(0.002)


def test_metrics_keys(tmp_path):
    base = '[interfaces.eth0]\n[correspondent]\n[daemon]\n'
    assert parse_config(base, "cn").daemon.metrics is None                  # off by default
    assert parse_config(base + 'metrics = "[::1]:9464"\n', "cn").daemon.metrics == "[::1]:9464"
    with pytest.raises(Exception, match="not a loopback address"):
        parse_config(base + 'metrics = "192.0.2.1:9464"\n', "cn")
    ok = parse_config(base + 'metrics = "0.0.0.0:9464"\nmetrics_allow_remote = true\n', "cn")
    assert ok.daemon.metrics_allow_remote


# ---------------------------------------------------------------- a running daemon, as root

HA = """
[daemon]
control_socket = "{tmp}/ha.sock"
lock_dir = "{tmp}/locks"
metrics = "127.0.0.1:9464"

[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
unauthenticated_registrations = true

[advertise.eth0]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:1::1", prefix_length = 64, router_address = true }}]
home_agent = {{ preference = 5, lifetime = 600 }}
"""

SCRAPE = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


@pytest.mark.root
def test_scraping_a_running_home_agent(lab, tmp_path):
    """The endpoint of ``mip6fast ha`` (in a namespace, on its loopback) shows the declared counters
    with labels, the bindings gauge and the latency histogram, and agrees with ``mip6fast stats``."""
    a, _ = lab.veth("a", "b", name_a="eth0", name_b="eth0")
    config = tmp_path / "ha.toml"
    config.write_text(HA.format(tmp=tmp_path))
    subprocess.run(["ip", "netns", "exec", a.ns, "ip", "link", "set", "lo", "up"], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", a.ns, sys.executable, "-m", "mip6fast", "ha", "--config",
                             str(config)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def scrape():
        r = subprocess.run(["ip", "netns", "exec", a.ns, sys.executable, "-c", SCRAPE,
                            "http://127.0.0.1:9464/metrics"], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout

    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "ha.sock").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        time.sleep(1.5)                                 # a few router advertisements go out
        got = samples(scrape())

        stats = json.loads(subprocess.run([sys.executable, "-m", "mip6fast", "stats", "--socket",
                                           str(tmp_path / "ha.sock"), "--json"], cwd=REPO, capture_output=True,
                                          text=True, timeout=20).stdout)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    ha = ("role", "ha")
    assert got[("mip6fast_snapshot_stale", frozenset())] == 0
    assert got[("mip6fast_bindings", frozenset([ha]))] == 0
    ras = got[("mip6fast_ra_sent_total", frozenset([ha]))]
    assert 1 <= ras <= stats["node"]["ra_sent"]                     # the scrape came first
    solicitations = got[("mip6fast_nd_tx_total", frozenset([ha, ("message", "NeighborSolicitation")]))]
    assert solicitations == stats["node"]["nd.tx.NeighborSolicitation"] >= 1      # DAD's, done by then
    assert got[("mip6fast_drop_not_for_us_total", frozenset([ha]))] == 0         # declared: shown from 0
    assert got[("mip6fast_tx_frames_total", frozenset([ha]))] >= ras
    assert got[("mip6fast_port_tx_frames_total", frozenset([ha, ("interface", "eth0")]))] >= ras
    assert ("mip6fast_info", frozenset([ha, ("version", __version__)])) in got
    assert any(name == "process_resident_memory_bytes" for name, _ in got)
    assert "metrics on http://127.0.0.1:9464/metrics" in err



HA_TWO_LINKS = """
[daemon]
control_socket = "{tmp}/ha.sock"
lock_dir = "{tmp}/locks-ha"
metrics = "127.0.0.1:9464"

[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]

[interfaces.eth1]
addresses = ["2001:db8:2::1/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
unauthenticated_registrations = true

[advertise.eth0]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:1::1", prefix_length = 64, router_address = true }}]
home_agent = {{ preference = 5, lifetime = 600 }}

[advertise.eth1]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:2::", prefix_length = 64 }}]
"""

MN_FOREIGN = """
[daemon]
control_socket = "{tmp}/mn.sock"
lock_dir = "{tmp}/locks-mn"
metrics = "[::1]:9464"

[interfaces.eth0]

[mobile_node]
interface = "eth0"
lifetime = 600
homes = [{{ address = "2001:db8:1::9", home_agent = "2001:db8:1::1", prefix_length = 64 }}]
unauthenticated_registrations = true
"""


@pytest.mark.root
def test_the_signalling_latencies_of_a_registration(lab, tmp_path):
    """A mobile node on the home agent's foreign link registers: the home agent's endpoint shows the
    binding and the time it took to process the BU, the mobile node's the BU -> BA round trip (which
    includes the home agent's DAD for the home address, about a second)."""
    lab.veth("h", "home", name_a="eth0", name_b="eth0")
    lab.veth("h", "m", name_a="eth1", name_b="eth0")
    procs = {}
    for name, ns, text in (("ha", "h", HA_TWO_LINKS), ("mn", "m", MN_FOREIGN)):
        (tmp_path / f"{name}.toml").write_text(text.format(tmp=tmp_path))
        subprocess.run(["ip", "netns", "exec", lab.namespace(ns), "ip", "link", "set", "lo", "up"], check=True)
        procs[name] = subprocess.Popen(["ip", "netns", "exec", lab.namespace(ns), sys.executable, "-m", "mip6fast",
                                        name, "--config", str(tmp_path / f"{name}.toml")], cwd=REPO,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def scrape(ns, url):
        r = subprocess.run(["ip", "netns", "exec", lab.namespace(ns), sys.executable, "-c", SCRAPE, url],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return samples(r.stdout)

    try:
        deadline = time.monotonic() + 30
        while True:
            for p in procs.values():
                assert p.poll() is None, p.stderr.read()
            assert time.monotonic() < deadline, "the mobile node never registered"
            if (tmp_path / "mn.sock").exists():
                mn = scrape("m", "http://[::1]:9464/metrics")
                answered = frozenset([("role", "mn"), ("exchange", "mn_home_bu_ba")])
                if mn.get(("mip6fast_signalling_latency_seconds_count", answered)):
                    break               # a BA answered a BU
            time.sleep(0.3)
        ha = scrape("h", "http://127.0.0.1:9464/metrics")
    finally:
        errs = {}
        for name, p in procs.items():
            p.terminate()
            errs[name] = p.communicate(timeout=15)[1]
    assert all(p.returncode == 0 for p in procs.values()), errs
    role_ha, role_mn = ("role", "ha"), ("role", "mn")
    assert ha[("mip6fast_bindings", frozenset([role_ha]))] == 1
    assert ha[("mip6fast_ba_sent_status_total", frozenset([role_ha, ("status", "0")]))] >= 1
    processing = frozenset([role_ha, ("exchange", "ha_bu_processing")])
    assert ha[("mip6fast_signalling_latency_seconds_count", processing)] >= 1
    assert 0 < ha[("mip6fast_signalling_latency_seconds_sum", processing)] < 1
    round_trip = frozenset([role_mn, ("exchange", "mn_home_bu_ba")])
    assert mn[("mip6fast_signalling_latency_seconds_count", round_trip)] >= 1
    assert mn[("mip6fast_bindings", frozenset([role_mn]))] == 1
    assert 0 < mn[("mip6fast_signalling_latency_seconds_sum", round_trip)] < 10


@pytest.mark.root
def test_a_metrics_address_in_use_stops_the_start_cleanly(lab, tmp_path):
    """The endpoint is bound before READY: an address in use stops the daemon with one line naming
    the key, and the interface is given back."""
    a, _ = lab.veth("a", "b", name_a="eth0", name_b="eth0")
    config = tmp_path / "ha.toml"
    config.write_text(HA.format(tmp=tmp_path))
    subprocess.run(["ip", "netns", "exec", a.ns, "ip", "link", "set", "lo", "up"], check=True)
    holder = subprocess.Popen(["ip", "netns", "exec", a.ns, sys.executable, "-c",
                               "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', 9464)); "
                               "s.listen(); print('bound', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "bound"
        r = subprocess.run(["ip", "netns", "exec", a.ns, sys.executable, "-m", "mip6fast", "ha", "--config",
                            str(config)], cwd=REPO, capture_output=True, text=True, timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1
    assert "daemon.metrics 127.0.0.1:9464: Address already in use" in r.stderr
    assert not (tmp_path / "ha.sock").exists() and list((tmp_path / "locks").iterdir()) == []
