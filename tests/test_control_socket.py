"""The daemons' control socket (mip6fast.daemon.ControlServer) on a real NodeRunner loop, with real Unix
sockets: clients that dribble their request or never read their answer must not hold up the loop's
packet processing or its timers (issue 10 item 6: one byte every 0.5 s stalled a home agent for 6 s);
the limits are counted; and the socket path never costs a file that is not a stale socket (item 10).
No root needed: the loop's port is a Unix datagram socket pair."""
import json
import os
import socket
import stat
import threading
import time

import pytest

from mip6fast.daemon import ControlServer, DaemonError, query
from mip6fast.io.runner import NodeRunner
from mip6fast.roles import AdvertisingConfig, Interface, Router

NS = 1_000_000_000


class PairPort:
    """A runner port over a Unix datagram socket pair: the test writes frames into ``feed``; the loop
    receives them (``received`` counts what the loop took); frames sent go nowhere."""
    name = "p0"

    def __init__(self):
        self._ours, self.feed = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._ours.setblocking(False)
        self.received = 0

    def fileno(self):
        return self._ours.fileno()

    def receive(self, batch):
        added = 0
        while batch.count < batch.capacity:
            try:
                data = self._ours.recv(2048)
            except BlockingIOError:
                break
            batch.append(data)
            added += 1
        self.received += added
        return added

    def send_frames(self, frames):
        return len(frames)

    def close(self):
        self._ours.close()
        self.feed.close()


@pytest.fixture
def loop(tmp_path):
    """(runner, port, make_server): a Router node advertising every 70–100 ms (timers) on a real
    NodeRunner in a thread; ``make_server(**limits)`` attaches a ControlServer before the loop starts."""
    router = Router("r", [Interface("p0", bytes.fromhex("020000000001"))])
    router.interfaces["p0"].add_address("2001:db8::1", 64)
    router.advertise("p0", AdvertisingConfig(max_interval=100_000_000, min_interval=70_000_000,
                                             min_delay_between_ras=30_000_000))
    port = PairPort()
    runner = NodeRunner(router, {"p0": port})
    servers = []
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set}, daemon=True)

    def handler(request):
        if request["command"] == "big":
            return {"blob": "x" * 4_000_000}
        return {"ticks": runner.counters["ticks"], "received": port.received}

    def make_server(**limits):
        server = ControlServer(str(tmp_path / "ctl.sock"), handler, **limits)
        server.attach(runner)
        servers.append(server)
        runner.start()
        thread.start()
        return server

    try:
        yield runner, port, make_server
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        for s in servers:
            s.close()
        runner.close()
        port.close()
    assert not thread.is_alive()


def wait_until(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def frames_processed_while(port, busy, limit=300):
    """Push frames one at a time while ``busy()``; each is waited for before the next. Returns (frames
    pushed, frames the loop took within 1.5 s of being pushed): a loop held up by a client for longer
    than that (the old control socket: for as long as the client dribbled, or 1 s per client that did
    not read) loses frames from the second count."""
    pushed = taken = 0
    while busy() and pushed < limit:
        port.feed.send(b"\x00" * 60)
        pushed += 1
        if wait_until(lambda n=pushed: port.received >= n, timeout=1.5):
            taken += 1
        time.sleep(0.02)
    return pushed, taken


def test_a_dribbling_client_does_not_stall_the_loop(loop, tmp_path):
    runner, port, make_server = loop
    server = make_server(deadline_s=30.0)
    request = b'{"command": "stats"}\n'
    sending = threading.Event()
    sending.set()
    answer = []

    def dribble():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(tmp_path / "ctl.sock"))
            for byte in request:                # one byte every 0.25 s: about 5 s for the request
                s.send(bytes([byte]))
                time.sleep(0.25)
            sending.clear()
            s.settimeout(10)
            answer.append(s.makefile("rb").readline())

    ticks_before = runner.counters["ticks"]
    t = threading.Thread(target=dribble)
    t.start()
    pushed, taken = frames_processed_while(port, sending.is_set)
    t.join(15)
    # Every frame pushed while the client was dribbling was processed (the old control socket read
    # the request in a blocking readline on the loop: none were until the request was complete).
    assert pushed >= 10 and taken == pushed, (pushed, taken)
    assert runner.counters["ticks"] - ticks_before >= 10        # the RA timers kept firing
    assert json.loads(answer[0])["received"] > 0                # the request, gathered, was answered
    assert server.counters["answered"] == 1 and server.counters["timed_out"] == 0


def test_clients_that_never_read_do_not_stall_the_loop(loop, tmp_path):
    _, port, make_server = loop
    server = make_server(deadline_s=3.0)
    silent = []
    for _ in range(5):                              # each asks for a 4 MB answer and never reads it
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(str(tmp_path / "ctl.sock"))
        s.sendall(b'{"command": "big"}\n')
        silent.append(s)
    try:
        pushed, taken = frames_processed_while(port, lambda: server.counters["timed_out"] < 5)
        # The loop went on while the answers waited for room; at the deadline the connections were
        # dropped (counted), the unsent rest with them.
        assert pushed >= 10 and taken == pushed, (pushed, taken)
        assert server.counters["timed_out"] == 5 and server.counters["answered"] == 0
        assert server.counters["accepted"] == 5
        # Afterwards a well-behaved client is answered, and saw every frame processed.
        assert query(str(tmp_path / "ctl.sock"), "stats")["received"] >= pushed
    finally:
        for s in silent:
            s.close()


def test_limits_are_bounded_and_counted(loop, tmp_path):
    _, _, make_server = loop
    path = str(tmp_path / "ctl.sock")
    server = make_server(max_connections=3, max_request=64, deadline_s=30.0)
    idle = []
    for _ in range(3):                              # three idle clients fill the table
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        idle.append(s)
    try:
        assert wait_until(lambda: server.counters["accepted"] == 3)
        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.connect(path)
        extra.settimeout(5)
        # The fourth connection: told so and closed at once.
        assert extra.makefile("rb").readline() == b'{"error": "busy: too many control connections"}\n'
        extra.close()
        assert wait_until(lambda: server.counters["refused"] == 1)
        assert server.counters["accepted"] == 3
        assert "busy" in query(path, "stats")["error"]     # so is a query, while the table is full
        idle.pop().close()                          # one goes: room again
        assert wait_until(lambda: server.counters["client_gone"] == 1)
        long = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        long.connect(path)
        long.settimeout(5)
        long.sendall(b"x" * 100)                    # past max_request, no newline
        assert b"longer than 64 bytes" in long.makefile("rb").readline()
        long.close()
        assert server.counters["too_long"] == 1
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.connect(path)
        bad.settimeout(5)
        bad.sendall(b"[1, 2]\n")
        assert b"bad request" in bad.makefile("rb").readline()
        bad.close()
        assert "ticks" in query(path, "stats")                 # and a well-formed one is answered
    finally:
        for s in idle:
            s.close()


# ---------------------------------------------------------------- the path (issue 10 item 10)

def test_control_socket_path_that_is_a_regular_file_survives(tmp_path):
    path = tmp_path / "ctl.sock"
    path.write_text("precious\n")
    with pytest.raises(DaemonError, match="exists and is a regular file"):
        ControlServer(str(path), lambda r: {})
    assert path.read_text() == "precious\n"


def test_control_socket_path_that_is_a_symlink_survives(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("precious\n")
    target.chmod(0o644)
    path = tmp_path / "ctl.sock"
    path.symlink_to(target)
    with pytest.raises(DaemonError, match="exists and is a symbolic link"):
        ControlServer(str(path), lambda r: {})
    assert path.is_symlink() and os.readlink(path) == str(target)
    assert target.read_text() == "precious\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
    dangling = tmp_path / "dangling.sock"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(DaemonError, match="symbolic link"):
        ControlServer(str(dangling), lambda r: {})
    assert dangling.is_symlink()


def test_control_socket_mode_stale_socket_and_live_daemon(tmp_path):
    path = str(tmp_path / "ctl.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()                                   # a socket file nobody listens on: removed
    first = ControlServer(path, lambda r: {})
    try:
        st = os.lstat(path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        with pytest.raises(DaemonError, match="another daemon is running"):
            ControlServer(path, lambda r: {})
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        first.close()
    assert not os.path.lexists(path)


def test_close_leaves_what_replaced_the_socket(tmp_path):
    path = tmp_path / "ctl.sock"
    server = ControlServer(str(path), lambda r: {})
    path.unlink()
    path.write_text("someone else's\n")
    server.close()
    assert path.read_text() == "someone else's\n"


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_daemon_command_refuses_a_control_socket_path_that_is_not_a_socket(tmp_path, capsys, kind):
    """Through ``mip6fast ha --config FILE``: the error names the path and what is there, before any
    interface is looked at (the one configured does not exist), and the file survives."""
    from mip6fast.cli import main
    target = tmp_path / "precious.txt"
    target.write_text("precious\n")
    path = tmp_path / "ha.sock"
    if kind == "file":
        path.write_text("precious\n")
    else:
        path.symlink_to(target)
    config = tmp_path / "ha.toml"
    config.write_text(f"""
[daemon]
control_socket = "{path}"
lock_dir = "{tmp_path}/locks"
[interfaces.mip6-none0]
addresses = ["2001:db8:1::1/64"]
[home_agent]
interface = "mip6-none0"
home_prefixes = ["2001:db8:1::/64"]
address = "2001:db8:1::1"
unauthenticated_registrations = true
""")
    assert main(["ha", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    what = "a regular file" if kind == "file" else "a symbolic link"
    assert f"control socket {path}: the path exists and is {what}" in err and "Traceback" not in err
    assert path.read_text() == "precious\n" and path.is_symlink() == (kind == "symlink")
    assert target.read_text() == "precious\n"
