"""The durable binding store: what a home agent writes through so that a restart keeps its bindings.

    store = SQLiteBindingStore("/var/lib/mip6fast/bindings.db")     # or MemoryBindingStore()
    store.stage(Registered(BindingRecord.from_monotonic(home, care_of, seq, flags, lifetime_s,
                                                        expires_ns, now_monotonic_ns, now_wall_ns, "sa:7")))
    store.commit()      # durable now: send the Binding Acknowledgements of this batch
    ...
    bindings, expired = store.load(time.time_ns())                  # after a restart

See mip6fast.store.base for the rules (group commit, failures), mip6fast.store.records for what is
stored and how expiries cross restarts, mip6fast.store.sqlite for the on-disk store, and
docs/DURABILITY.md. This package imports only the standard library and mip6fast.errors;
mip6fast.store.etcd (EtcdBindingStore, the store replicated on an etcd cluster) is imported by name
where it is used, as it brings the etcd3gw client (and requests) with it.
"""
from .base import Batch, BindingStore, Recovered
from .errors import (
    CANNOT_OPEN,
    CLOSED,
    CORRUPT,
    DISK_FULL,
    FENCED,
    IO_ERROR,
    LOCKED,
    READ_ONLY,
    SCHEMA,
    UNAVAILABLE,
    StoreError,
)
from .memory import MemoryBindingStore
from .records import (
    FLAG_ACK,
    FLAG_HOME,
    FLAG_KEY_MANAGEMENT,
    FLAG_LINK_LOCAL,
    MAX_LIFETIME_S,
    BindingRecord,
    Deregistered,
    Expired,
    Record,
    Refreshed,
    Registered,
    StateDeleted,
    StatePut,
    flag_letters,
    monotonic_from_wall,
    wall_from_monotonic,
)
from .sqlite import SCHEMA_VERSION, SQLiteBindingStore, describe_store

__all__ = [
    "CANNOT_OPEN",
    "CLOSED",
    "CORRUPT",
    "DISK_FULL",
    "FENCED",
    "FLAG_ACK",
    "FLAG_HOME",
    "FLAG_KEY_MANAGEMENT",
    "FLAG_LINK_LOCAL",
    "IO_ERROR",
    "LOCKED",
    "MAX_LIFETIME_S",
    "READ_ONLY",
    "SCHEMA",
    "SCHEMA_VERSION",
    "UNAVAILABLE",
    "Batch",
    "BindingRecord",
    "BindingStore",
    "Deregistered",
    "Expired",
    "MemoryBindingStore",
    "Record",
    "Recovered",
    "Refreshed",
    "Registered",
    "SQLiteBindingStore",
    "StateDeleted",
    "StatePut",
    "StoreError",
    "describe_store",
    "flag_letters",
    "monotonic_from_wall",
    "wall_from_monotonic",
]
