"""Real etcd clusters for tests: each member its own ``etcd`` process (the Debian package etcd-server) and
data directory, on loopback ports, stopped and removed afterwards, also when the test fails.

    with EtcdCluster(3) as cluster:          # or the fixtures of tests/conftest.py
        store = EtcdBindingStore(cluster.endpoints, prefix="/t/")
        cluster.kill(0)                      # SIGKILL one member

``require_etcd()`` skips a test when the ``etcd`` binary or the ``etcd3gw`` client is missing, and
fails it instead when the environment variable CI is set (CI installs etcd-server as the README says).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))
MISSING = ("etcd is not installed (apt-get install etcd-server, as the README's set-up says) or the etcd3gw "
           "client is missing (pip install etcd3gw)")


def etcd_binary() -> str | None:
    return shutil.which("etcd")


def require_etcd() -> str:
    """The etcd binary's path; skip (fail under CI) when etcd or etcd3gw is missing."""
    binary = etcd_binary()
    try:
        import etcd3gw  # noqa: F401
    except ImportError:
        binary = None
    if binary is None:
        if IN_CI:
            pytest.fail(MISSING + " (CI is set: these tests must run)")
        pytest.skip(MISSING)
    return binary


def _free_ports(n: int) -> list[int]:
    """n loopback ports free now (bound then released: a race with other processes is possible but
    unlikely; a member that cannot bind fails the start with its log)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EtcdCluster:
    """``members`` etcd processes forming one cluster on 127.0.0.1, in a temporary directory."""

    def __init__(self, members: int = 1, *, extra_args: tuple[str, ...] = (), netns: str | None = None,
                 host: str = "127.0.0.1", ports: list[int] | None = None):
        """``netns``: run the members in that network namespace (``ip netns exec``), listening on
        ``host`` there (``ports``: 2 * members ports to use; default free loopback ports here)."""
        self.binary = require_etcd()
        self.n = members
        self.extra_args = extra_args
        self.netns = netns
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix="mip6fast-etcd-"))
        ports = ports or _free_ports(2 * members)
        self.client_ports = ports[:members]
        self.peer_ports = ports[members:]
        self.names = [f"m{i}" for i in range(members)]
        self.token = f"mip6fast-test-{uuid.uuid4().hex[:12]}"
        self.procs: list[subprocess.Popen | None] = [None] * members

    @property
    def endpoints(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.client_ports]

    def _args(self, i: int) -> list[str]:
        h = self.host
        initial = ",".join(f"{name}=http://{h}:{port}" for name, port in zip(self.names, self.peer_ports))
        client = f"http://{h}:{self.client_ports[i]}"
        peer = f"http://{h}:{self.peer_ports[i]}"
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, self.binary, "--name", self.names[i], "--data-dir", str(self.dir / self.names[i]),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial, "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new",
                # a test machine is shared and slow: the defaults (100 ms, 1 s) flap under load
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--logger", "zap", "--log-outputs", str(self.dir / f"{self.names[i]}.log"),
                *self.extra_args]

    def start(self, i: int | None = None, timeout: float = 30.0) -> EtcdCluster:
        """Start every member (or member i again, on its data directory) and wait until healthy."""
        which = range(self.n) if i is None else [i]
        for k in which:
            self.procs[k] = subprocess.Popen(self._args(k), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)
        self.wait_healthy(which, timeout)
        return self

    def wait_healthy(self, members, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for k in members:
            while True:
                proc = self.procs[k]
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"etcd member {self.names[k]} exited ({proc.returncode}):\n{self.log(k)}")
                if self._healthy(k):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"etcd member {self.names[k]} not healthy after {timeout} s:\n{self.log(k)}")
                time.sleep(0.05)

    def _healthy(self, k: int) -> bool:
        url = f"{self.endpoints[k]}/health"
        if self.netns is None:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    return b'"true"' in r.read()
            except OSError:
                return False
        script = f"import urllib.request as u; print(u.urlopen({url!r}, timeout=1).read().decode())"
        r = subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-c", script], capture_output=True,
                           text=True, timeout=10, check=False)
        return '"true"' in r.stdout

    def log(self, i: int) -> str:
        try:
            return (self.dir / f"{self.names[i]}.log").read_text()[-4000:]
        except OSError:
            return "(no log)"

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(10)
        self.procs[i] = None

    def stop(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            self.procs[i] = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> EtcdCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


def unique_prefix() -> str:
    return f"/mip6fast-test/{uuid.uuid4().hex[:12]}/"
