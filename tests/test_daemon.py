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
REPO = Path(__file__).resolve().parent.parent


def mip6fast(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "mip6fast", *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=30, **kw)


def ha_config(tmp_path, iface, extra=""):
    path = tmp_path / "ha.toml"
    path.write_text(f"""
[daemon]
control_socket = "{tmp_path}/ha.sock"

[interfaces.{iface}]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "{iface}"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
max_lifetime = 300

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
    pcap = tmp_path / "ha.pcap"
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
        out, err = daemon.communicate(timeout=10)
    assert daemon.returncode == 0, err
    assert "started" in err
    assert not (tmp_path / "ha.sock").exists()
    assert proc_ipv6.read_text().strip() == "0"          # given back
    from tshark_check import problems, require_tshark
    require_tshark()
    assert pcap.stat().st_size > 24 and problems(str(pcap)) == []


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
