"""``mip6fast ha --config FILE`` as a real process on a real interface: the kernel in a namespace is a
host on the home link; it autoconfigures from the home agent's advertisements and pings it;
``mip6fast bindings`` / ``stats`` query the control socket; SIGTERM shuts down cleanly and gives the
interface back to the kernel. Needs root; skipped elsewhere, failed when CI is set."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel_host import PING, in_namespace, root_or_skip, veth_to_namespace, wait_for_address  # noqa: F401

pytestmark = pytest.mark.root
pytest_plugins = ["netns"]
REPO = Path(__file__).resolve().parent.parent


def mip6fast(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "mip6fast", *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=30, **kw)


def ha_config(tmp_path, iface, extra="", daemon="", name="ha"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[daemon]
control_socket = "{tmp_path}/{name}.sock"
{daemon}

[interfaces.{iface}]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "{iface}"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
max_lifetime = 300
unauthenticated_registrations = true

[advertise.{iface}]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:1::1", prefix_length = 64, router_address = true }}]
home_agent = {{ preference = 5, lifetime = 600 }}
{extra}""")
    return path


def wait_for(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_home_agent_daemon_on_a_real_home_link(veth_to_namespace, tmp_path):
    ours, ns = veth_to_namespace
    proc_ipv6 = Path(f"/proc/sys/net/ipv6/conf/{ours}/disable_ipv6")
    proc_ipv6.write_text("0")                       # the kernel's IPv6 is on before the daemon starts
    config = ha_config(tmp_path, ours)
    pcap = tmp_path / "ha.pcapng"
    daemon = subprocess.Popen([sys.executable, "-m", "mip6fast", "ha", "--config", str(config), "--pcap", str(pcap)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(tmp_path / "ha.sock")
        assert proc_ipv6.read_text().strip() == "1"      # the engine owns the interface now
        wait_for_address(ns, "2001:db8:1::ff:fe00:9902")  # SLAAC from the home agent's RAs
        ping = in_namespace(ns, sys.executable, "-c", PING, "2001:db8:1::1", "3")
        assert ping.stdout.strip() == "3", ping.stderr
        bindings = mip6fast("bindings", "--socket", str(tmp_path / "ha.sock"), "--json")
        assert bindings.returncode == 0, bindings.stderr
        assert json.loads(bindings.stdout) == {"role": "ha", "bindings": []}
        table = mip6fast("bindings", "--socket", str(tmp_path / "ha.sock"))
        assert "(0 bindings, ha)" in table.stdout
        stats = json.loads(mip6fast("stats", "--socket", str(tmp_path / "ha.sock"), "--json").stdout)
        assert stats["ports"][ours]["rx_frames"] > 0 and stats["ports"][ours]["tx_frames"] > 0
        assert stats["node"]["rx_frames"] > 0
        text = mip6fast("stats", "--socket", str(tmp_path / "ha.sock")).stdout
        assert "[node]" in text and f"{ours}.tx_frames" in text
        # The kernel host knows the home agent as its router, from the H-flag RAs.
        route = in_namespace(ns, "ip", "-6", "route", "show", "default").stdout
        assert "fe80::ff:fe00:9901" in route
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=10)
    assert daemon.returncode == 0, err
    assert "started" in err
    assert not (tmp_path / "ha.sock").exists()
    assert proc_ipv6.read_text().strip() == "0"          # given back
    from tshark_check import problems, require_tshark
    require_tshark()
    assert pcap.stat().st_size > 24 and problems(str(pcap)) == []
    # pcapng: the interface by name and each frame's direction, as tshark reads them. The kernel host's
    # echo requests came in, the home agent's replies went out.
    fields = subprocess.run(["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "frame.interface_name",
                             "-e", "frame.packet_flags_direction", "-e", "icmpv6.type"],
                            capture_output=True, text=True, check=True, timeout=120).stdout
    rows = {tuple(line.split("\t")) for line in fields.splitlines()}
    assert {name for name, _, _ in rows} == {ours}
    directions = {icmp: {int(d, 16) for _, d, t in rows if t == icmp} for icmp in ("128", "129")}
    assert directions == {"128": {1}, "129": {2}}, rows


def test_daemon_errors_are_clear(tmp_path, veth_to_namespace):
    ours, _ = veth_to_namespace
    missing = ha_config(tmp_path, "mip6-nowhere0")
    r = mip6fast("ha", "--config", str(missing))
    assert r.returncode == 1 and "interfaces.mip6-nowhere0: no such interface" in r.stderr
    bad = ha_config(tmp_path, ours, extra="[home_agent_typo]\n")
    r = mip6fast("ha", "--config", str(bad))
    assert r.returncode == 2 and "home_agent_typo: unknown section" in r.stderr
    r = mip6fast("bindings", "--socket", str(tmp_path / "nobody.sock"))
    assert r.returncode == 1 and "no daemon answers" in r.stderr


# ---------------------------------------------------------------- issue 10 items 7, 8, 9: state, SIGHUP, locks
# Daemons in network namespaces of a NetnsLab, on a veth end named eth0 in each (the same name in
# every namespace, as on real hosts).

def start_in(ns, config, *extra):
    """``mip6fast ha --config CONFIG`` in namespace ``ns`` (``ip netns exec`` execs: the pid is the
    daemon's)."""
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "mip6fast", "ha", "--config",
                             str(config), *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_answering(sock, proc, timeout=20.0):
    """Until the daemon ``proc`` answers on ``sock`` (a socket left by a killed one does not count)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            stats = json.loads(mip6fast("stats", "--socket", str(sock), "--json").stdout or "{}")
        except ValueError:
            stats = {}
        if stats.get("daemon", {}).get("pid") == proc.pid:
            return stats
        time.sleep(0.1)
    raise AssertionError(f"no answer from pid {proc.pid} on {sock}")


def ipv6_disabled(ns, ifname="eth0"):
    return in_namespace(ns, "cat", f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6").stdout.strip()


def stop(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


def test_restart_after_sigkill_restores_the_true_original(lab, tmp_path):
    """Item 7: the original disable_ipv6 is on disk before the kernel changes; a daemon restarted after
    SIGKILL takes it from there, not from the interface (which still holds its predecessor's 1)."""
    a, _ = lab.veth("a", "b", name_a="eth0", name_b="eth0", disable_ipv6=False)
    assert ipv6_disabled(a.ns) == "0"
    config = ha_config(tmp_path, "eth0", daemon=f'lock_dir = "{tmp_path}/locks"')
    record = tmp_path / "ha" / "kernel.json"                # the default: beside the control socket
    first = start_in(a.ns, config)
    try:
        stats = wait_answering(tmp_path / "ha.sock", first)
        assert stats["daemon"]["state_dir"] == str(tmp_path / "ha")
        assert ipv6_disabled(a.ns) == "1"
        assert json.loads(record.read_text())["interfaces"]["eth0"]["disable_ipv6"] == "0"
    finally:
        stop(first, signal.SIGKILL)
    assert ipv6_disabled(a.ns) == "1" and record.exists()       # nobody restored it
    second = start_in(a.ns, config)
    try:
        wait_answering(tmp_path / "ha.sock", second)
        assert ipv6_disabled(a.ns) == "1"
        assert json.loads(record.read_text())["interfaces"]["eth0"]["disable_ipv6"] == "0"
    finally:
        status, err = stop(second)
    assert status == 0, err
    assert "did not exit cleanly" in err
    assert ipv6_disabled(a.ns) == "0"                            # the true original, from the record
    assert not record.exists() and not (tmp_path / "ha.sock").exists()
    assert list((tmp_path / "locks").iterdir()) == [] and not (tmp_path / "ha" / "daemon.lock").exists()


def test_sighup_reloads_the_log_level_and_names_what_needs_a_restart(lab, tmp_path):
    """Item 8: SIGHUP no longer kills the daemon: log_level is applied at once, the other changed keys
    are named as needing a restart, a broken file is reported and the running configuration kept."""
    a, _ = lab.veth("a", "b", name_a="eth0", name_b="eth0", disable_ipv6=False)
    daemon_keys = f'lock_dir = "{tmp_path}/locks"\nlog_level = "info"'
    config = ha_config(tmp_path, "eth0", daemon=daemon_keys)
    proc = start_in(a.ns, config)
    try:
        assert wait_answering(tmp_path / "ha.sock", proc)["daemon"]["log_level"] == "info"
        text = config.read_text().replace('log_level = "info"', 'log_level = "debug"')
        text = text.replace("max_lifetime = 300", "max_lifetime = 200").replace(
            'addresses = ["2001:db8:1::1/64"]', 'addresses = ["2001:db8:1::1/64"]\nmtu = 1400')
        config.write_text(text)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = wait_answering(tmp_path / "ha.sock", proc)
            if stats["daemon"]["reloads"] == 1:
                break
            time.sleep(0.1)
        assert stats["daemon"] == {**stats["daemon"], "reloads": 1, "log_level": "debug"}
        config.write_text(text + "\n[home_agent_typo]\n")
        proc.send_signal(signal.SIGHUP)
        while time.monotonic() < deadline and wait_answering(tmp_path / "ha.sock", proc)["daemon"]["reloads"] < 2:
            time.sleep(0.1)
        stats = wait_answering(tmp_path / "ha.sock", proc)         # still running, as configured before
        assert stats["daemon"]["reloads"] == 2 and stats["daemon"]["log_level"] == "debug"
        assert ipv6_disabled(a.ns) == "1"
    finally:
        status, err = stop(proc)
    assert status == 0, err
    assert "daemon.log_level (info -> debug)" in err
    assert "only taken on a restart: home_agent.max_lifetime, interfaces.eth0.mtu" in err
    assert "home_agent_typo: unknown section" in err and "still running the configuration loaded before" in err
    assert ipv6_disabled(a.ns) == "0"


def test_an_interface_has_one_owner(lab, tmp_path):
    """Item 9: a second daemon on an owned interface is refused, naming the interface and the owner's
    pid, and changes nothing; a daemon on the same name in another namespace is not in the way."""
    a, b = lab.veth("a", "b", name_a="eth0", name_b="eth0", disable_ipv6=False)
    locks = f'lock_dir = "{tmp_path}/locks"'
    owner = start_in(a.ns, ha_config(tmp_path, "eth0", daemon=locks, name="one"))
    elsewhere = start_in(b.ns, ha_config(tmp_path, "eth0", daemon=locks, name="two"))
    try:
        wait_answering(tmp_path / "one.sock", owner)
        wait_answering(tmp_path / "two.sock", elsewhere)       # eth0 of another namespace: its own lock
        second = subprocess.run(["ip", "netns", "exec", a.ns, sys.executable, "-m", "mip6fast", "ha", "--config",
                                 str(ha_config(tmp_path, "eth0", daemon=locks, name="three"))],
                                cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
        assert second.returncode == 1, second.stderr
        assert f"interfaces.eth0: owned by another mip6fast daemon: held by pid {owner.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert ipv6_disabled(a.ns) == "1"                      # the owner's setting, untouched
        assert not (tmp_path / "three" / "kernel.json").exists() and not (tmp_path / "three.sock").exists()
        wait_answering(tmp_path / "one.sock", owner)           # the owner is still serving
    finally:
        assert stop(owner)[0] == 0
        assert stop(elsewhere)[0] == 0
    assert ipv6_disabled(a.ns) == "0" and ipv6_disabled(b.ns) == "0"
