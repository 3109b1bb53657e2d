"""SQLiteBindingStore against real storage faults: a read-only filesystem, files and directories made
immutable, a full disk. Each is a clear StoreError naming the store, and nothing the API reported as
stored is missing, nor anything it did not report present. The filesystems are small tmpfs mounts made
by the tests (unmounted afterwards, also when a test fails).

Needs root (root ignores file permissions, so "not writable" has to be a read-only mount or an
immutable attribute, and mounting needs CAP_SYS_ADMIN); skipped elsewhere, failed when CI is set."""
import os
import subprocess
from pathlib import Path

import pytest

from mip6fast.store import (
    DISK_FULL,
    IO_ERROR,
    READ_ONLY,
    BindingRecord,
    Expired,
    Registered,
    SQLiteBindingStore,
    StatePut,
    StoreError,
    describe_store,
)

pytestmark = pytest.mark.root

S = 1_000_000_000
FUTURE = 4_102_444_800 * S
NEEDS_ROOT = ("needs root to mount small filesystems (tmpfs, ext4 on a loop device: read-only, full) and "
              "to set immutable attributes")


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set: these tests must run)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def root_or_skip():
    if os.geteuid() != 0:
        unavailable(NEEDS_ROOT)


def run(*argv):
    return subprocess.run(argv, check=False, capture_output=True, text=True)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size="1m", ro=False) -> a fresh tmpfs directory; every one is unmounted at the end."""
    mounted = []

    def mount(size="1m", ro=False):
        d = tmp_path / f"mnt{len(mounted)}"
        d.mkdir()
        options = f"size={size},mode=0700" + (",ro" if ro else "")
        r = run("mount", "-t", "tmpfs", "-o", options, "mip6fast-test", str(d))
        if r.returncode != 0:
            unavailable(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    unmount(mounted)


@pytest.fixture
def ext4(tmp_path):
    """mount(size_mib=8) -> a fresh ext4 filesystem on a loop device (a disk filesystem: block
    allocation, journal, fsync), unmounted at the end."""
    mounted = []

    def mount(size_mib=8):
        image = tmp_path / f"ext4-{len(mounted)}.img"
        with open(image, "wb") as f:
            f.truncate(size_mib << 20)
        r = run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
        if r.returncode != 0:
            unavailable(f"cannot make an ext4 image here: {r.stderr.strip() or 'mkfs.ext4 missing'}")
        d = tmp_path / f"ext4-{len(mounted)}"
        d.mkdir()
        r = run("mount", "-o", "loop", str(image), str(d))
        if r.returncode != 0:
            unavailable(f"cannot loop-mount an ext4 image here: {r.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    unmount(mounted)


def unmount(directories):
    for d in reversed(directories):
        run("chattr", "-R", "-i", str(d))
        if run("umount", str(d)).returncode != 0:
            r = run("umount", "-l", str(d))        # something still had it open: detach it anyway
            assert r.returncode == 0, r.stderr


@pytest.fixture(params=["tmpfs", "ext4"])
def small_filesystem(request):
    """A 1 MiB tmpfs or an 8 MiB ext4 on a loop device: the disks to fill."""
    if request.param == "tmpfs":
        return request.getfixturevalue("tmpfs")("1m")
    return request.getfixturevalue("ext4")(8)


def chattr(flag, *paths):
    r = run("chattr", flag, *map(str, paths))
    if r.returncode != 0:
        unavailable(f"chattr {flag} is not supported here: {r.stderr.strip()}")


@pytest.fixture
def immutable():
    """chattr +i on paths, always undone (an immutable file cannot even be deleted by root)."""
    marked = []

    def mark(*paths):
        chattr("+i", *paths)
        marked.extend(paths)

    def clear(*paths):
        chattr("-i", *paths)
        for p in paths:
            marked.remove(p)

    mark.clear = clear
    yield mark
    if marked:
        run("chattr", "-i", *map(str, marked))


def rec(n, batch=0, expires=FUTURE):
    return BindingRecord(f"2001:db8:{batch:x}::{n:x}", "2001:db8:ffff::1", 1, 0xC000, 420, expires, "sa:1")


def homes(records):
    return sorted(str(r.home_address) for r in records)


def described(path):
    """What an independent reader (another connection, no lock) finds committed."""
    return sorted(d["home_address"] for d in describe_store(path))


def fill(directory: Path) -> Path:
    """Fill the filesystem of directory to the last byte; the filler file's path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError:
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 2]
    return filler


# ---------------------------------------------------------------------- read-only


def test_a_new_store_on_a_read_only_filesystem_is_a_read_only_error(tmpfs):
    d = tmpfs(ro=True)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(d / "bindings.db")
    assert e.value.reason == READ_ONLY
    assert str(e.value).startswith(f"binding store {d / 'bindings.db'}: read-only: open")
    assert "Read-only file system" in str(e.value)


def test_an_existing_store_on_a_filesystem_remounted_read_only(tmpfs):
    d = tmpfs()
    path = d / "bindings.db"
    with SQLiteBindingStore(path) as s:
        s.stage_all(Registered(rec(i)) for i in range(1, 11))
        s.commit()
    r = run("mount", "-o", "remount,ro", str(d))
    assert r.returncode == 0, r.stderr
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(path)
    assert e.value.reason == READ_ONLY and str(path) in str(e.value)
    # the offline reader still works there (no -shm can be made: it reads the file as immutable)
    assert described(path) == homes(rec(i) for i in range(1, 11))


def test_a_store_directory_made_immutable_is_a_read_only_error(tmp_path, immutable):
    d = tmp_path / "state"
    d.mkdir()
    immutable(d)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(d / "bindings.db")
    assert e.value.reason == READ_ONLY and "Operation not permitted" in str(e.value)
    assert not (d / "bindings.db").exists()


def test_a_log_made_unwritable_under_a_running_store_fails_commits_until_it_is_writable(ext4, immutable):
    """On ext4 an immutable file refuses writes through descriptors opened before (tmpfs does not)."""
    d = ext4()
    path = d / "bindings.db"
    s = SQLiteBindingStore(path)
    try:
        s.stage_all(Registered(rec(i)) for i in range(1, 11))
        s.commit()
        wal = Path(f"{path}-wal")
        immutable(wal)              # (never the -shm: SQLite maps it, and a write fault there is SIGBUS)
        s.stage_all(Registered(rec(i, batch=1)) for i in range(1, 101))
        s.stage(StatePut("k", "v"))
        with pytest.raises(StoreError) as e:
            s.commit()
        assert e.value.reason == IO_ERROR
        assert str(e.value).startswith(f"binding store {path}: I/O error: commit of 101 records: "
                                       f"disk I/O error")
        assert s.pending == 101
        assert homes(s.bindings()) == homes(rec(i) for i in range(1, 11)) and s.state() == {}
        assert described(path) == homes(rec(i) for i in range(1, 11))
        immutable.clear(wal)
        assert s.commit() == 101
    finally:
        s.close()
    with SQLiteBindingStore(path) as s:
        assert len(s.bindings()) == 110 and s.state() == {"k": "v"}


# ---------------------------------------------------------------------- disk full


def test_a_commit_on_a_full_disk_is_a_disk_full_error_and_stores_nothing(small_filesystem):
    d = small_filesystem
    path = d / "bindings.db"
    s = SQLiteBindingStore(path)
    try:
        first = [rec(i) for i in range(1, 11)]
        s.stage_all(Registered(r) for r in first)
        s.commit()
        filler = fill(d)
        s.stage_all(Registered(rec(i, batch=1)) for i in range(1, 3001))
        with pytest.raises(StoreError) as e:
            s.commit()
        assert e.value.reason == DISK_FULL
        assert str(e.value).startswith(f"binding store {path}: disk full: commit of 3000 records: "
                                       f"database or disk is full")
        assert s.pending == 3000
        assert homes(s.bindings()) == homes(first) and described(path) == homes(first)
        with pytest.raises(StoreError) as e:       # still full: still refused, still nothing stored
            s.commit()
        assert e.value.reason == DISK_FULL and homes(s.bindings()) == homes(first)
        filler.unlink()
        assert s.commit() == 3000
        assert len(s.bindings()) == 3010
    finally:
        s.close()
    with SQLiteBindingStore(path) as s:            # and the file is sound (quick_check on open)
        assert len(s.bindings()) == 3010


def test_recovery_on_a_full_disk_removes_nothing_until_it_can(small_filesystem):
    d = small_filesystem
    path = d / "bindings.db"
    with SQLiteBindingStore(path) as s:
        s.stage_all(Registered(rec(i, expires=FUTURE - i * S)) for i in range(1, 2001))
        s.commit()
    s = SQLiteBindingStore(path)
    try:
        filler = fill(d)
        with pytest.raises(StoreError) as e:
            s.load(FUTURE - 1000 * S)              # would delete 1,000 expired bindings
        assert e.value.reason == DISK_FULL and "load" in str(e.value)
        assert len(s.bindings()) == 2000
        filler.unlink()
        bindings, expired = s.load(FUTURE - 1000 * S)
        assert (len(bindings), expired) == (999, 1001)
        s.stage(Expired(bindings[0].home_address))
        assert s.commit() == 1
    finally:
        s.close()


def test_a_new_store_on_a_full_disk_is_a_disk_full_error(small_filesystem):
    d = small_filesystem
    fill(d)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(d / "bindings.db")
    assert e.value.reason == DISK_FULL and str(d / "bindings.db") in str(e.value)
