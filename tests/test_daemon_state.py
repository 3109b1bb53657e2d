"""What a daemon keeps on disk (mip6fast.daemon_state): its locks and the record of the kernel settings
it changed (issue 10 items 7 and 9). No root needed; the daemons themselves are exercised in
tests/test_daemon.py."""
import json
import os
import subprocess
import sys

import pytest

from mip6fast.daemon import default_state_dir
from mip6fast.daemon_state import FileLock, KernelRecord, LockHeld, StateError, interface_lock, netns_id


def test_a_lock_names_its_holder_and_goes_with_it(tmp_path):
    path = tmp_path / "x.lock"
    held = FileLock(path, "interface eth0").acquire()
    assert path.read_text() == f"{os.getpid()} interface eth0\n"
    # Another process (a lock is per open file: a second open in this process would conflict too).
    probe = ("import sys; from mip6fast.daemon_state import FileLock, LockHeld\n"
             "try:\n    FileLock(sys.argv[1], 'x').acquire()\nexcept LockHeld as e:\n    print(e.pid, e)\n")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=False,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout
    assert out.startswith(f"{os.getpid()} held by pid {os.getpid()} (interface eth0; lock file {path})")
    held.release()
    assert not path.exists()
    again = FileLock(path, "interface eth0").acquire()      # free again
    again.release()


def test_a_killed_holder_leaves_a_file_but_no_lock(tmp_path):
    path = tmp_path / "x.lock"
    code = f"from mip6fast.daemon_state import FileLock; FileLock({str(path)!r}, 'x').acquire(); import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert path.exists()
    FileLock(path, "y").acquire().release()


def test_interface_locks_are_per_namespace_and_index(tmp_path):
    one = interface_lock(tmp_path, 4026531840, 2, "eth0").acquire()
    other_ns = interface_lock(tmp_path, 4026532000, 2, "eth0").acquire()   # same name and index elsewhere
    with pytest.raises(LockHeld, match="interface eth0"):
        interface_lock(tmp_path, 4026531840, 2, "renamed0").acquire()
    one.release()
    other_ns.release()


def test_a_lock_file_that_is_a_symlink_is_refused(tmp_path):
    (tmp_path / "x.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StateError, match="x.lock"):
        FileLock(tmp_path / "x.lock", "x").acquire()
    assert not (tmp_path / "elsewhere").exists()


def test_the_record_is_written_before_and_removed_after(tmp_path):
    r = KernelRecord(tmp_path)
    r.load()
    assert r.original("eth0", 3, "0") == "0"
    r.add("eth0", 3, "0")
    doc = json.loads((tmp_path / "kernel.json").read_text())
    assert doc["netns"] == netns_id() and doc["interfaces"] == {"eth0": {"ifindex": 3, "disable_ipv6": "0"}}
    assert [p.name for p in tmp_path.iterdir()] == ["kernel.json"]        # no temporary left
    # A successor (its predecessor was killed) takes the recorded original over the current value.
    successor = KernelRecord(tmp_path)
    successor.load()
    assert successor.original("eth0", 3, "1") == "0"
    successor.add("eth0", 3, "0")
    successor.forget("eth0")
    assert not (tmp_path / "kernel.json").exists()


def test_a_record_about_another_interface_or_namespace_is_not_applied(tmp_path):
    (tmp_path / "kernel.json").write_text(json.dumps(
        {"netns": netns_id(), "interfaces": {"eth0": {"ifindex": 3, "disable_ipv6": "0"}}}))
    r = KernelRecord(tmp_path)
    r.load()
    assert r.original("eth0", 9, "1") == "1"                # eth0 was re-created: index 9 now
    (tmp_path / "kernel.json").write_text(json.dumps(
        {"netns": netns_id() + 1, "interfaces": {"eth0": {"ifindex": 3, "disable_ipv6": "0"}}}))
    r = KernelRecord(tmp_path)
    r.load()
    assert r.leftover == {} and r.original("eth0", 3, "1") == "1"
    (tmp_path / "kernel.json").write_text("{not json")
    with pytest.raises(StateError, match="remove it"):
        KernelRecord(tmp_path).load()


def test_leftovers_survive_until_handled(tmp_path):
    (tmp_path / "kernel.json").write_text(json.dumps(
        {"netns": netns_id(), "interfaces": {"eth1": {"ifindex": 4, "disable_ipv6": "0"}}}))
    r = KernelRecord(tmp_path)
    r.load()
    r.add("eth0", 3, "0")                                    # a record of eth0 keeps eth1's too
    assert set(json.loads((tmp_path / "kernel.json").read_text())["interfaces"]) == {"eth0", "eth1"}


@pytest.mark.parametrize("socket_path, role, expected", [
    ("/run/mip6fast/ha.sock", "ha", "/run/mip6fast/ha"),
    ("/tmp/demo/ra.sock", "router", "/tmp/demo/ra"),
    ("/tmp/control", "cn", "/tmp/control.state"),
    (None, "mn", "/run/mip6fast/mn"),
])
def test_default_state_dir_is_beside_the_control_socket(socket_path, role, expected):
    assert default_state_dir(socket_path, role) == expected
