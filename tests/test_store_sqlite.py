"""SQLiteBindingStore's own behaviour: the files and settings, the writer's lock against a real second
process, crashes of a real writer process (SIGKILL), damaged files (garbage over the header, a
truncated or damaged write-ahead log), the versioned schema and its migrations (a version 1 database
written by hand from tests/fixtures/store_v1.sql), and describe_store. Faults that need root (a
read-only filesystem, a full disk, immutable files) are in tests/test_store_faults.py."""
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from ipaddress import IPv6Address
from pathlib import Path

import pytest

import mip6fast
from mip6fast.store import (
    CANNOT_OPEN,
    CORRUPT,
    FLAG_ACK,
    FLAG_HOME,
    LOCKED,
    SCHEMA,
    SCHEMA_VERSION,
    BindingRecord,
    Registered,
    SQLiteBindingStore,
    StatePut,
    StoreError,
    describe_store,
    walcheck,
)
from mip6fast.store.sqlite import APPLICATION_ID, CURRENT_SCHEMA, Schema, sql_migration

S = 1_000_000_000
FUTURE = 4_102_444_800 * S              # 2100-01-01
FIXTURE_V1 = Path(__file__).parent / "fixtures" / "store_v1.sql"
ENV = {**os.environ, "PYTHONPATH": str(Path(mip6fast.__file__).parent.parent)}


def rec(n, seq=1, batch=0):
    return BindingRecord(f"2001:db8:{batch:x}::{n:x}", "2001:db8:ffff::1", seq, FLAG_HOME | FLAG_ACK, 420,
                         FUTURE, "sa:1")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "bindings.db"


def raw(path):
    """A plain sqlite3 connection (not the store's code) to look at or doctor a file."""
    return sqlite3.connect(path, isolation_level=None)


# ---------------------------------------------------------------------- files and settings


def test_a_new_store_is_a_wal_database_of_the_current_schema_readable_by_its_owner_only(db):
    with SQLiteBindingStore(db) as s:
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 2            # FULL
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        s.stage(Registered(rec(1)))
        s.commit()
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.lock")):
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    c = raw(db)
    assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    c.close()
    assert not Path(f"{db}-wal").exists()          # a clean close checkpoints and removes the log


def test_synchronous_normal_is_a_choice_and_nothing_else_is(db):
    with SQLiteBindingStore(db, synchronous="normal", busy_timeout=0.25) as s:
        assert s.synchronous == "NORMAL"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 1
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 250
    with pytest.raises(ValueError, match="synchronous: one of FULL, NORMAL"):
        SQLiteBindingStore(db, synchronous="OFF")
    with pytest.raises(ValueError):
        SQLiteBindingStore(db, busy_timeout=-1)


def test_a_missing_directory_or_a_directory_as_the_path_is_cannot_open(tmp_path):
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(tmp_path / "nowhere" / "b.db")
    assert e.value.reason == CANNOT_OPEN and "nowhere does not exist" in str(e.value)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(tmp_path)
    assert e.value.reason == CANNOT_OPEN and str(tmp_path) in str(e.value)


def test_an_empty_file_becomes_a_store(db):
    db.touch()
    with SQLiteBindingStore(db) as s:
        assert s.bindings() == []


# ---------------------------------------------------------------------- the writer's lock

HOLD_STORE = textwrap.dedent("""
    import sys
    from mip6fast.store import SQLiteBindingStore
    s = SQLiteBindingStore(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.read()
""")

HOLD_SQLITE_LOCK = textwrap.dedent("""
    import sqlite3, sys
    c = sqlite3.connect(sys.argv[1], isolation_level=None)
    c.execute("BEGIN EXCLUSIVE")
    print("ready", flush=True)
    sys.stdin.read()
    c.execute("ROLLBACK")
""")


class Holder:
    """A second process running a script until told to stop (stdin closed)."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=ENV, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        assert line == "ready\n", line

    def stop(self):
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def holders():
    started = []

    def start(script, *args):
        h = Holder(script, *args)
        started.append(h)
        return h
    yield start
    for h in started:
        if h.proc.poll() is None:
            h.kill()


def test_another_process_holding_the_store_is_a_clear_error_naming_the_lock_and_its_pid(db, holders):
    h = holders(HOLD_STORE, db)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == LOCKED
    assert f"another process (pid {h.proc.pid}) holds the lock {db}.lock" in str(e.value)
    assert str(e.value).startswith(f"binding store {db}: locked: open: ")
    h.stop()
    with SQLiteBindingStore(db) as s:           # released when it exits
        assert s.bindings() == []


def test_the_lock_goes_with_a_killed_holder(db, holders):
    h = holders(HOLD_STORE, db)
    h.kill()
    SQLiteBindingStore(db).close()


def test_a_second_open_in_the_same_process_is_refused(db):
    with SQLiteBindingStore(db):
        with pytest.raises(StoreError, match="this process .* has it open already") as e:
            SQLiteBindingStore(db)
        assert e.value.reason == LOCKED


def test_a_sqlite_lock_held_past_the_busy_timeout_fails_the_commit_and_keeps_the_batch(db, holders):
    s = SQLiteBindingStore(db, busy_timeout=0.2)
    s.stage(Registered(rec(1)))
    s.commit()
    h = holders(HOLD_SQLITE_LOCK, db)           # e.g. the sqlite3 shell, which ignores our lock file
    s.stage(Registered(rec(2)))
    with pytest.raises(StoreError) as e:
        s.commit()
    assert e.value.reason == LOCKED and "commit of 1 records" in str(e.value) and str(db) in str(e.value)
    assert s.pending == 1 and s.bindings() == [rec(1)]
    h.stop()
    assert s.commit() == 1
    assert s.bindings() == [rec(1), rec(2)]
    s.close()


# ---------------------------------------------------------------------- a real writer killed

WRITER = textwrap.dedent("""
    import os, sys
    from mip6fast.store import BindingRecord, Registered, SQLiteBindingStore, StatePut
    path, batches, size, sync = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = SQLiteBindingStore(path, synchronous=sync)
    for b in range(batches):
        s.stage_all(Registered(BindingRecord(f"2001:db8:{b:x}::{i:x}", "2001:db8:ffff::1", 1, 0xC000, 420,
                                             4102444800 * 10**9, "sa:1")) for i in range(1, size + 1))
        s.stage(StatePut("batches", b + 1))
        s.commit()
        print(b + 1, flush=True)        # acknowledged: a BA would leave now
    os.kill(os.getpid(), 9)
""")


def killed_writer(db, batches=5, size=20, sync="FULL"):
    """Run a writer that commits `batches` batches and is then SIGKILLed; how many it acknowledged."""
    r = subprocess.run([sys.executable, "-c", WRITER, str(db), str(batches), str(size), sync], check=False,
                       env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == -9, r.stderr
    assert Path(f"{db}-wal").stat().st_size > 0 and Path(f"{db}-shm").exists()    # recovery has work
    return int(r.stdout.split()[-1])


@pytest.mark.parametrize("sync", ["FULL", "NORMAL"])
def test_every_acknowledged_commit_survives_the_writer_being_killed(db, sync):
    acknowledged = killed_writer(db, sync=sync)
    with SQLiteBindingStore(db) as s:
        assert len(s.bindings()) == acknowledged * 20
        assert s.get_state("batches") == acknowledged


def frame_size(db):
    return 24 + walcheck.read_wal_header(str(db)).page_size


def snapshot(db):
    return {p: Path(p).read_bytes() for p in (f"{db}", f"{db}-wal", f"{db}-shm")}


def test_a_write_ahead_log_truncated_after_its_commits_is_refused_untouched(db):
    killed_writer(db)
    index = walcheck.read_index(str(db))
    with open(f"{db}-wal", "r+b") as f:           # lose the end of the last committed transaction
        f.truncate(32 + (index.max_frame - 1) * frame_size(db) + 100)
    before = snapshot(db)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT
    assert f"its index records {index.max_frame}" in str(e.value) and "truncated or damaged" in str(e.value)
    assert "accept_wal_loss=True" in str(e.value)
    assert snapshot(db) == before                 # the evidence is intact: the refusal can be repeated
    with pytest.raises(StoreError, match="truncated or damaged"):
        describe_store(db)
    assert snapshot(db) == before
    with pytest.raises(StoreError):
        SQLiteBindingStore(db)
    # the operator's decision: go on with what survived (the last batch is gone, the rest is there)
    with SQLiteBindingStore(db, accept_wal_loss=True) as s:
        assert s.get_state("batches") == 4 and len(s.bindings()) == 80
    SQLiteBindingStore(db).close()                # accepted once: a clean store again


def test_under_synchronous_normal_a_lost_log_tail_is_the_bargain_and_is_reported(db):
    """NORMAL does not sync the log at commit, so after a power loss the index can claim frames the log
    never got to the disk: the loss NORMAL accepts. The store opens and says what was lost."""
    killed_writer(db, sync="NORMAL")
    index = walcheck.read_index(str(db))
    with open(f"{db}-wal", "r+b") as f:
        f.truncate(32 + (index.max_frame - 1) * frame_size(db) + 100)
    with SQLiteBindingStore(db, synchronous="NORMAL") as s:
        assert "truncated or damaged" in s.wal_loss
        assert s.get_state("batches") == 4
    with SQLiteBindingStore(db) as s:
        assert s.wal_loss is None


def test_a_torn_uncommitted_tail_of_the_log_is_a_crash_not_a_loss(db):
    """A crash in the middle of a commit leaves part of a transaction after the last commit frame: the
    commit never returned, so nothing acknowledged is missing and the store opens."""
    killed_writer(db)
    wal = Path(f"{db}-wal").read_bytes()
    size = frame_size(db)
    with open(f"{db}-wal", "ab") as f:
        f.write(wal[32:32 + size] + wal[32 + size:32 + size + size // 2])   # frames of the right log, torn
    with SQLiteBindingStore(db) as s:
        assert s.get_state("batches") == 5 and len(s.bindings()) == 100


def test_garbage_over_the_log_header_is_refused(db):
    killed_writer(db)
    with open(f"{db}-wal", "r+b") as f:
        f.write(b"\xde\xad\xbe\xef" * 4)
    with pytest.raises(StoreError, match="missing or its header is damaged") as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT


def test_a_deleted_log_is_refused(db):
    killed_writer(db)
    os.unlink(f"{db}-wal")
    with pytest.raises(StoreError, match="missing or its header is damaged"):
        SQLiteBindingStore(db)


def test_a_damaged_frame_in_the_middle_of_the_log_is_refused(db):
    killed_writer(db)
    with open(f"{db}-wal", "r+b") as f:
        f.seek(32 + 2 * frame_size(db) + 24 + 100)
        f.write(b"\xff" * 16)
    with pytest.raises(StoreError, match="truncated or damaged") as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT


def test_salt_order_wraps():
    assert walcheck._newer(b"\x00\x00\x00\x01xxxx", b"\xff\xff\xff\xffyyyy")
    assert not walcheck._newer(b"\xff\xff\xff\xffyyyy", b"\x00\x00\x00\x01xxxx")
    assert not walcheck._newer(b"\x00\x00\x00\x01xxxx", b"\x00\x00\x00\x01yyyy")


# ---------------------------------------------------------------------- damaged database files


def closed_store(db, n=50):
    with SQLiteBindingStore(db) as s:
        s.stage_all(Registered(rec(i)) for i in range(1, n + 1))
        s.commit()


def test_garbage_over_the_database_header_is_corrupt(db):
    closed_store(db)
    with open(db, "r+b") as f:
        f.write(os.urandom(100))
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT and "file is not a database" in str(e.value) and str(db) in str(e.value)
    with pytest.raises(StoreError) as e:
        describe_store(db)
    assert e.value.reason == CORRUPT


def test_a_damaged_page_is_found_by_the_check_at_open(db):
    closed_store(db, 2000)                        # pages 4.. hold the bindings' b-tree
    pages = db.stat().st_size // 4096
    assert pages > 8
    with open(db, "r+b") as f:
        f.seek(4096 * (pages // 2))
        f.write(b"\xff" * 4096)                   # one page of it overwritten
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT
    assert "quick_check" in str(e.value) or "malformed" in str(e.value)


def test_a_truncated_database_file_is_corrupt(db):
    closed_store(db, 2000)
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == CORRUPT


# ---------------------------------------------------------------------- schema versions


def v1_fixture(db):
    c = raw(db)
    c.executescript(FIXTURE_V1.read_text())
    c.close()


def schema_of(path):
    c = raw(path)
    rows = c.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    c.close()
    return [(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows]


FIXTURE_BINDINGS = [
    BindingRecord("2001:db8:1::9", "2001:db8:a::9", 7, 0xC000, 420, FUTURE, "esp-spi:0x1001"),
    BindingRecord("2001:db8:1::a", "2001:db8:b::1", 65535, 0xE000, 262140, FUTURE, None),
    BindingRecord("2001:db8:1::b", "2001:db8:c::1", 0, 0x4000, 4, 10**18, "ike-sa:home-b"),
]


def test_a_version_1_store_written_by_hand_opens_with_every_row(db):
    v1_fixture(db)
    with SQLiteBindingStore(db) as s:
        assert s.migrated_from is None if SCHEMA_VERSION == 1 else s.migrated_from == 1
        assert s.bindings() == FIXTURE_BINDINGS
        assert s.state() == {"interfaces": {"eth0": {"disable_ipv6": "0"}}}
        assert s.load(FUTURE - S) == (FIXTURE_BINDINGS[:2], 1)


def test_a_new_store_has_the_schema_a_migrated_version_1_store_has(tmp_path):
    """Creating a store runs the migrations from version 0; the fixture came up from version 1: both
    roads must lead to the same schema (for version 1: the fixture is what the code creates)."""
    SQLiteBindingStore(tmp_path / "new.db").close()
    v1_fixture(tmp_path / "old.db")
    SQLiteBindingStore(tmp_path / "old.db").close()
    assert schema_of(tmp_path / "new.db") == schema_of(tmp_path / "old.db")


V2 = Schema(CURRENT_SCHEMA.migrations + (sql_migration(
    "ALTER TABLE binding ADD COLUMN registered_wall_ns INTEGER",
    "UPDATE binding SET registered_wall_ns = expires_wall_ns - lifetime_s * 1000000000",
),))


def test_an_older_store_is_migrated_in_one_transaction_with_its_data_intact(db):
    """The migration mechanism with a synthetic version 2 (there is only version 1 today): a version 1
    file written by hand is brought up to version 2, every row kept and the new column filled."""
    v1_fixture(db)
    with SQLiteBindingStore(db, schema=V2) as s:
        assert s.migrated_from == 1
        assert s.bindings() == FIXTURE_BINDINGS
        assert s.state() == {"interfaces": {"eth0": {"disable_ipv6": "0"}}}
    c = raw(db)
    assert c.execute("PRAGMA user_version").fetchone()[0] == 2
    home = IPv6Address("2001:db8:1::9").packed
    assert c.execute("SELECT registered_wall_ns FROM binding WHERE home_address = ?", (home,)
                     ).fetchone()[0] == FUTURE - 420 * S
    c.close()
    with SQLiteBindingStore(db, schema=V2) as s:        # already there: nothing to do
        assert s.migrated_from is None


def test_a_failing_migration_leaves_the_store_as_it_was(db):
    v1_fixture(db)
    broken = Schema(CURRENT_SCHEMA.migrations + (sql_migration(
        "CREATE TABLE half_done (x)",
        "ALTER TABLE binding ADD COLUMN sequence INTEGER",          # a duplicate column: fails
    ),))
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db, schema=broken)
    assert e.value.reason == SCHEMA
    assert "migration from schema version 1 to 2 failed" in str(e.value)
    assert "unchanged at version 1" in str(e.value)
    c = raw(db)
    assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "half_done" not in [r[1] for r in schema_of(db)]
    c.close()
    with SQLiteBindingStore(db) as s:
        assert s.bindings() == FIXTURE_BINDINGS


def test_a_store_of_a_newer_schema_is_refused_naming_both_versions(db):
    v1_fixture(db)
    SQLiteBindingStore(db, schema=V2).close()             # a newer mip6fast wrote it
    before = db.read_bytes()
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == SCHEMA
    assert "written by binding store schema version 2; this mip6fast reads versions 1 to 1" in str(e.value)
    assert db.read_bytes() == before
    with pytest.raises(StoreError, match="schema version 2") as e:
        describe_store(db)
    assert e.value.reason == SCHEMA


def test_another_applications_database_is_refused_untouched(db):
    c = raw(db)
    c.execute("CREATE TABLE customers (name TEXT)")
    c.execute("INSERT INTO customers VALUES ('x')")
    c.close()
    before = db.read_bytes()
    with pytest.raises(StoreError) as e:
        SQLiteBindingStore(db)
    assert e.value.reason == SCHEMA and "not a mip6fast binding store" in str(e.value)
    assert "tables: customers" in str(e.value)
    assert db.read_bytes() == before
    with pytest.raises(StoreError, match="not a mip6fast binding store"):
        describe_store(db)


# ---------------------------------------------------------------------- describe_store


def test_describe_reads_a_running_stores_last_commit_without_its_lock(db):
    s = SQLiteBindingStore(db)
    s.stage_all([Registered(BindingRecord("2001:db8:1::2", "2001:db8:2::2", 9, 0xE000, 420, FUTURE - 400 * S,
                                          "esp-spi:0x1001")),
                 Registered(BindingRecord("2001:db8:1::1", "2001:db8:2::1", 3, 0x4000, 8, FUTURE - 10 * S)),
                 StatePut("k", 1)])
    s.commit()
    s.stage(Registered(rec(99)))                  # staged, not committed: not shown
    rows = describe_store(db, now_wall_ns=FUTURE - 100 * S)
    assert rows == [
        {"home_address": "2001:db8:1::1", "care_of_address": "2001:db8:2::1", "sequence": 3, "flags": 0x4000,
         "flag_letters": "H", "lifetime_s": 8, "expires_wall_ns": FUTURE - 10 * S,
         "expires": "2099-12-31T23:59:50Z", "remaining_s": 8.0, "expired": False, "protection": None},
        {"home_address": "2001:db8:1::2", "care_of_address": "2001:db8:2::2", "sequence": 9, "flags": 0xE000,
         "flag_letters": "AHL", "lifetime_s": 420, "expires_wall_ns": FUTURE - 400 * S,
         "expires": "2099-12-31T23:53:20Z", "remaining_s": -300.0, "expired": True,
         "protection": "esp-spi:0x1001"},
    ]
    assert s.commit() == 1                        # the reader took no lock: the writer goes on
    assert len(describe_store(db)) == 3
    s.close()
    assert len(describe_store(db)) == 3           # and after a clean close


def test_describe_reads_a_crashed_store_and_leaves_it_recoverable(db):
    acknowledged = killed_writer(db)
    assert len(describe_store(db)) == acknowledged * 20
    with SQLiteBindingStore(db) as s:
        assert len(s.bindings()) == acknowledged * 20


def test_describe_of_a_missing_file_creates_nothing(tmp_path):
    with pytest.raises(StoreError) as e:
        describe_store(tmp_path / "none.db")
    assert e.value.reason == CANNOT_OPEN
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- the benchmark runs


def test_the_benchmark_measures_every_combination(tmp_path, capsys):
    from mip6fast.store import benchmark
    rows = benchmark.run({"disk": str(tmp_path)}, batch_sizes=(1, 10), seconds=0.01, population=50)
    assert [(r["medium"], r["synchronous"], r["batch"]) for r in rows] == [
        ("disk", "FULL", 1), ("disk", "FULL", 10), ("disk", "NORMAL", 1), ("disk", "NORMAL", 10),
        ("memory", "-", 1), ("memory", "-", 10)]
    for r in rows:
        assert r["commits"] >= 5 and r["records_per_s"] > 0
        assert r["commit_ms_median"] <= r["commit_ms_p99"] <= r["commit_ms_max"]
    assert list(tmp_path.iterdir()) == []          # its stores were removed
    assert benchmark.main(["--seconds", "0.01", "--batches", "1", "--population", "10", "--disk", str(tmp_path),
                           "--tmpfs", str(tmp_path)]) == 0
    assert "records/s" in capsys.readouterr().out


def test_an_exception_in_the_middle_of_a_commit_leaves_no_transaction_open(db, monkeypatch):
    s = SQLiteBindingStore(db)
    s.stage(Registered(rec(1)))
    real = s._write

    def interrupted(batch, records):
        def work(conn):
            conn.execute("DELETE FROM state")
            raise KeyboardInterrupt
        s._transaction("commit", work)
    monkeypatch.setattr(s, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        s.commit()
    assert not s._conn.in_transaction and s.pending == 1
    monkeypatch.setattr(s, "_write", real)
    assert s.commit() == 1 and s.bindings() == [rec(1)]
    s.close()
