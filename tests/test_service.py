"""What a service manager sees of a daemon (issue 15 item 4, mip6fast.service): sd_notify to a fake
``$NOTIFY_SOCKET`` (a path and the abstract namespace), the watchdog timer, the logging configuration
(only the mip6fast loggers at the chosen level, JSON lines), the systemd units shipped with the package;
and, as root, a real ``mip6fast ha`` under a fake service manager: READY with STATUS once started,
WATCHDOG pings, RELOADING/READY around SIGHUP, STOPPING and the stop line at SIGTERM."""
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mip6fast.cli import main
from mip6fast.config import parse_config
from mip6fast.daemon import READY_CHECK_NS, Daemon
from mip6fast.roles.correspondent import CorrespondentNode
from mip6fast.roles.interface import AddressState, Interface
from mip6fast.service import UNIT_ROLES, JsonFormatter, Notifier, Watchdog, configure_logging, unit_text

REPO = Path(__file__).resolve().parent.parent
S = 1_000_000_000
pytest_plugins = ["netns"]


def listener(address):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(address)
    s.settimeout(5)
    return s


def test_notify_reaches_a_path_socket(tmp_path):
    path = str(tmp_path / "notify")
    with listener(path) as s:
        n = Notifier({"NOTIFY_SOCKET": path})
        assert n.enabled and n.notify("READY=1", "STATUS=up")
        assert s.recv(4096) == b"READY=1\nSTATUS=up"
        n.close()


def test_notify_reaches_an_abstract_socket():
    name = f"mip6fast-test-{uuid.uuid4().hex}"
    with listener("\0" + name) as s:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.notify("STOPPING=1")
        assert s.recv(4096) == b"STOPPING=1"
        n.close()


def test_without_a_notify_socket_nothing_is_sent_and_nothing_fails(tmp_path):
    n = Notifier({})
    assert not n.enabled and not n.notify("READY=1") and n.watchdog_interval_ns is None
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody")})    # the manager went away: counted only
    assert not gone.notify("READY=1") and gone.errors == 1
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1"}).enabled


def test_the_watchdog_pings_at_half_the_interval(tmp_path):
    path = str(tmp_path / "notify")
    with listener(path) as s:
        n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
        assert n.watchdog_interval_ns == 2_000_000_000
        w = Watchdog(n, n.watchdog_interval_ns, clock=lambda: 100)
        assert w.next_deadline() == 100                     # at once, then every 2 s
        w.ping(100)
        assert w.next_deadline() == 2_000_000_100 and s.recv(64) == b"WATCHDOG=1"
    other = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval_ns is None               # meant for another process


def test_json_lines_carry_the_extra_fields():
    record = logging.LogRecord("mip6fast", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.role = "ha"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["logger"] == "mip6fast" and line["message"] == "hello world"
    assert line["role"] == "ha" and line["time"].endswith("Z") and "args" not in line


def test_logging_is_the_mip6fast_loggers_only(caplog):
    """--log-level debug shows the package's debug records, not pyroute2's: the other loggers stay at
    warning; each record is written once, and still reaches the root's other handlers (caplog)."""
    out = io.StringIO()
    ours, root = logging.getLogger("mip6fast"), logging.getLogger()
    saved = (ours.level, root.level)
    try:
        configure_logging("debug", "json", stream=out)
        logging.getLogger("mip6fast.roles").debug("ours", extra={"event": "x"})
        logging.getLogger("pyroute2.netlink").debug("netlink dump")
        logging.getLogger("pyroute2.netlink").warning("a third-party warning")
        logging.getLogger("mip6fast").warning("our warning")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(r["logger"], r["message"]) for r in lines] == [
            ("mip6fast.roles", "ours"), ("pyroute2.netlink", "a third-party warning"), ("mip6fast", "our warning")]
        assert lines[0]["event"] == "x"
        assert "ours" in caplog.messages and "our warning" in caplog.messages
        configure_logging("info", "text", stream=out)        # again: replaces, does not add, its handlers
        assert sum(getattr(h, "_mip6fast", False) for h in ours.handlers + root.handlers) == 2
    finally:
        for logger in (ours, root):
            for h in [h for h in logger.handlers if getattr(h, "_mip6fast", False)]:
                logger.removeHandler(h)
        ours.setLevel(saved[0])
        root.setLevel(saved[1])


def test_the_default_handler_follows_sys_stderr(monkeypatch):
    """The daemons log to sys.stderr as it is when a record comes (a test may have swapped it since)."""
    ours, root = logging.getLogger("mip6fast"), logging.getLogger()
    saved = (ours.level, root.level)
    try:
        configure_logging("info")
        swapped = io.StringIO()
        monkeypatch.setattr(sys, "stderr", swapped)
        logging.getLogger("mip6fast").info("to the new stderr")
        assert "mip6fast INFO to the new stderr" in swapped.getvalue()
    finally:
        for logger in (ours, root):
            for h in [h for h in logger.handlers if getattr(h, "_mip6fast", False)]:
                logger.removeHandler(h)
        ours.setLevel(saved[0])
        root.setLevel(saved[1])


def test_log_format_is_a_daemon_key(tmp_path):
    text = '[daemon]\nlog_format = "json"\n[interfaces.eth0]\n[correspondent]\n'
    assert parse_config(text, "cn").daemon.log_format == "json"
    with pytest.raises(Exception, match="log_format"):
        parse_config(text.replace('"json"', '"xml"'), "cn")


@pytest.mark.parametrize("role", UNIT_ROLES)
def test_the_units_are_shipped_and_printable(role, capsys):
    text = unit_text(role)
    assert main(["systemd-unit", role]) == 0 and capsys.readouterr().out == text
    keys = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert keys["Type"] == "notify" and keys["NotifyAccess"] == "main" and keys["Restart"] == "on-failure"
    assert keys["ExecReload"] == "/bin/kill -HUP $MAINPID" and keys["WatchdogSec"]
    assert f" {role} --config /etc/mip6fast/{role}.toml" in keys["ExecStart"]
    assert keys["CapabilityBoundingSet"] == "CAP_NET_ADMIN CAP_NET_RAW"
    assert ("DeviceAllow" in keys) == (role in ("mn", "cn"))        # the host roles' TUN


@pytest.mark.parametrize("role", UNIT_ROLES)
def test_systemd_accepts_the_units(role, tmp_path):
    """``systemd-analyze verify`` (where installed) finds no unknown directive or bad value; the
    command is pointed at an existing program, since the package may not be in /usr/local/bin."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / f"mip6fast-{role}.service"
    unit.write_text(unit_text(role).replace("/usr/local/bin/mip6fast", shutil.which("true")))
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_the_units_are_package_data():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"systemd/*.service"' in pyproject
    assert "recursive-include mip6fast/systemd *.service" in (REPO / "MANIFEST.in").read_text()


def test_ready_waits_for_dad_then_gives_up_waiting(tmp_path):
    """READY=1 once no address of the node is tentative; a link where DAD never ends gets READY=1 at
    the deadline all the same, STATUS naming the tentative address (no root: the node is sans-I/O)."""
    path = str(tmp_path / "notify")
    config = parse_config('[interfaces.eth0]\naddresses = ["2001:db8:1::5/64"]\n[correspondent]\n'
                          'unauthenticated_bindings = true\n', "cn")
    with listener(path) as s:
        daemon = Daemon(config, notifier=Notifier({"NOTIFY_SOCKET": path}))
        daemon.node = CorrespondentNode("cn", [Interface("eth0", bytes(6))])
        daemon.node.interfaces["eth0"].add_address("2001:db8:1::5", 64)
        daemon._ready_check, daemon._ready_deadline = 0, 10 * S
        daemon._check_ready(S)
        assert not daemon.ready and daemon._ready_check == S + READY_CHECK_NS
        for a in daemon.node.interfaces["eth0"].addresses.values():
            if a.address.is_link_local:
                a.state = AddressState.PREFERRED
        daemon._check_ready(10 * S)                 # the deadline: ready, the global one still tentative
        assert daemon.ready and daemon._ready_check is None
        message = s.recv(4096).decode()
        assert message.startswith("READY=1\nSTATUS=cn on eth0: 0 bindings; still tentative after 10 s: "
                                  "2001:db8:1::5%eth0")
        daemon.notifier.close()


# ---------------------------------------------------------------- a real daemon, as root

HA = """
[daemon]
control_socket = "{tmp}/ha.sock"
lock_dir = "{tmp}/locks"
log_format = "json"

[interfaces.eth0]
addresses = ["2001:db8:1::1/64"]

[home_agent]
interface = "eth0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
unauthenticated_registrations = true
"""


@pytest.mark.root
def test_a_daemon_notifies_its_service_manager(lab, tmp_path):
    """READY=1 with a STATUS once the control socket answers and the addresses are out of DAD;
    WATCHDOG=1 at half WATCHDOG_USEC; RELOADING=1 then READY=1 around SIGHUP; STOPPING=1 at SIGTERM,
    and the start, ready and stop lines (JSON)."""
    a, _ = lab.veth("a", "b", name_a="eth0", name_b="eth0")
    config = tmp_path / "ha.toml"
    config.write_text(HA.format(tmp=tmp_path))
    path = str(tmp_path / "notify")
    sock = listener(path)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}     # a ping every 0.2 s
    proc = subprocess.Popen(["ip", "netns", "exec", a.ns, sys.executable, "-m", "mip6fast", "ha", "--config",
                             str(config)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    got = []

    def until(pred, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(m) for m in got):
                return
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise AssertionError(f"not seen; got {got}")

    try:
        until(lambda m: m.startswith("READY=1"))
        ready = next(m for m in got if m.startswith("READY=1"))
        assert "STATUS=ha on eth0: 0 bindings" in ready and f"MAINPID={proc.pid}" in ready
        assert (tmp_path / "ha.sock").exists()              # ready: the control socket listens, and
        stats = json.loads(subprocess.run([sys.executable, "-m", "mip6fast", "stats", "--socket",
                                           str(tmp_path / "ha.sock"), "--json"], cwd=REPO, capture_output=True,
                                          text=True, timeout=20).stdout)
        assert stats["node"]["nd.dad_succeeded"] == 2       # fe80::…%eth0 and 2001:db8:1::1 out of DAD
        assert stats["daemon"]["ready"] and stats["daemon"]["notify"] and stats["daemon"]["log_format"] == "json"
        count = sum(m == "WATCHDOG=1" for m in got)
        until(lambda m: sum(x == "WATCHDOG=1" for x in got) >= count + 3, timeout=5)
        proc.send_signal(signal.SIGHUP)
        until(lambda m: m.startswith("RELOADING=1"))
        reloading = next(i for i, m in enumerate(got) if m.startswith("RELOADING=1"))
        until(lambda m: got.index(m) > reloading and m.startswith("READY=1"))
        assert "MONOTONIC_USEC=" in got[reloading]
        proc.send_signal(signal.SIGTERM)
        until(lambda m: m.startswith("STOPPING=1"))
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        sock.close()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines()]
    start = next(r for r in lines if r.get("event") == "start")
    assert start["role"] == "ha" and start["interfaces"] == ["eth0"] and start["control_socket"].endswith("ha.sock")
    assert start["protection"] == "home registrations: none (unauthenticated_registrations)"
    assert start["store"].endswith("bindings.db") and start["version"]
    stop = next(r for r in lines if r.get("event") == "stop")
    ready = next(r for r in lines if r.get("event") == "ready")
    assert ready["tentative"] == [] and ready["duplicate"] == [] and ready["message"].startswith("ready: ha on eth0")
    assert stop["reason"] == "SIGTERM" and stop["bindings"] == 0 and stop["uptime_s"] > 0 and stop["reloads"] == 1
