"""A running daemon's ``--pcap`` is pcapng with its interfaces by name and each frame's direction: ``mip6fast
router`` between two kernel hosts (two veth pairs into two namespaces) forwards a ping from one to the
other, and tshark and our reader agree that the echo request came in on the first interface and went
out on the second, the reply the other way. Needs root; skipped elsewhere, failed when CI is set."""
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kernel_host import PING, in_namespace, root_or_skip, wait_for_address  # noqa: F401
from mip6fast.io.pcapng import DIRECTION_INBOUND, DIRECTION_OUTBOUND, read_pcapng
from tshark_check import TSHARK, _environment, require_tshark

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def two_hosts():
    """[(our end, namespace)] x 2: veth pairs whose other ends are 'eth0' of two fresh namespaces."""
    from pyroute2 import IPRoute, NetNS, netns
    tag = uuid.uuid4().hex[:5]
    made = []
    try:
        for side, byte in (("a", 0xA1), ("b", 0xB1)):
            ns, ours, theirs = f"mip6p{side}-{tag}", f"m6{side}{tag}", f"m6{side}p{tag}"
            netns.create(ns)
            made.append((ours, ns))
            with IPRoute() as ipr:
                ipr.link("add", ifname=ours, kind="veth", peer=theirs)
                (peer,) = ipr.link_lookup(ifname=theirs)
                ipr.link("set", index=peer, net_ns_fd=ns)
                (idx,) = ipr.link_lookup(ifname=ours)
                Path(f"/proc/sys/net/ipv6/conf/{ours}/disable_ipv6").write_text("1")
                ipr.link("set", index=idx, address=f"02:00:00:00:{byte:02x}:01", state="up")
            with NetNS(ns) as nsr:
                (i,) = nsr.link_lookup(ifname=theirs)
                nsr.link("set", index=i, ifname="eth0", address=f"02:00:00:00:{byte:02x}:02", state="up")
                (lo,) = nsr.link_lookup(ifname="lo")
                nsr.link("set", index=lo, state="up")
        yield made
    finally:
        with IPRoute() as ipr:
            for ours, _ in made:
                for i in ipr.link_lookup(ifname=ours):
                    ipr.link("del", index=i)
        for _, ns in made:
            netns.remove(ns)


def router_config(tmp_path, a, b):
    path = tmp_path / "router.toml"
    path.write_text(f"""
[daemon]
control_socket = "{tmp_path}/router.sock"

[interfaces.{a}]
addresses = ["2001:db8:a::1/64"]

[interfaces.{b}]
addresses = ["2001:db8:b::1/64"]

[advertise.{a}]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:a::", prefix_length = 64 }}]

[advertise.{b}]
max_interval = 1
min_interval = 0.5
prefixes = [{{ prefix = "2001:db8:b::", prefix_length = 64 }}]
""")
    return path


def test_router_daemon_pcapng_names_interfaces_and_directions(two_hosts, tmp_path):
    (a, ns_a), (b, ns_b) = two_hosts
    config = router_config(tmp_path, a, b)
    pcap = tmp_path / "router.pcapng"
    assert subprocess.run([sys.executable, "-m", "mip6fast", "router", "--config", str(config), "--check"],
                          cwd=REPO, capture_output=True, timeout=60).returncode == 0
    daemon = subprocess.Popen([sys.executable, "-m", "mip6fast", "router", "--config", str(config),
                               "--pcap", str(pcap)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        wait_for_address(ns_a, "2001:db8:a::ff:fe00:a102")      # SLAAC from the router's RAs on each side
        wait_for_address(ns_b, "2001:db8:b::ff:fe00:b102")
        ping = in_namespace(ns_a, sys.executable, "-c", PING, "2001:db8:b::ff:fe00:b102", "3")
        assert ping.stdout.strip() == "3", (ping.stdout, ping.stderr)
        time.sleep(0.2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=15)
    assert daemon.returncode == 0, err

    interfaces, packets = read_pcapng(pcap)
    assert [i.name for i in interfaces] == [a, b]
    assert {i.units_per_second for i in interfaces} == {10**9}

    def echo(kind):     # (interface, direction) of the ICMPv6 echo requests (128) / replies (129) forwarded
        return {(p.interface_name, p.direction) for p in packets
                if p.data[12:14] == b"\x86\xdd" and p.data[14 + 6] == 58 and p.data[14 + 40] == kind}
    assert echo(128) == {(a, DIRECTION_INBOUND), (b, DIRECTION_OUTBOUND)}
    assert echo(129) == {(b, DIRECTION_INBOUND), (a, DIRECTION_OUTBOUND)}

    require_tshark()
    out = subprocess.run([TSHARK, "-n", "-r", str(pcap), "-Y", "icmpv6.type == 128 || icmpv6.type == 129",
                          "-T", "fields", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction",
                          "-e", "icmpv6.type"], capture_output=True, text=True, check=True, timeout=120,
                         env=_environment()).stdout
    seen = {(name, int(direction, 16), kind) for name, direction, kind in
            (line.split("\t") for line in out.splitlines())}
    assert seen == {(a, 1, "128"), (b, 2, "128"), (b, 1, "129"), (a, 2, "129")}
