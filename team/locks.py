"""One at a time: the lock that check-then-write steps take inside their transaction.

`serialise(*keys)` holds, until the surrounding transaction ends, a lock for each key; another
transaction asking for any of the same keys waits until then. The queries made after it see what
the previous holder committed, so counting rows and then writing one cannot interleave with
another caller doing the same (quotas, the sign-in rate limit).

- SQLite has one writer at a time, so every key is served by the database's write lock. The
  settings open every transaction with BEGIN IMMEDIATE, so the atomic block already holds it.
  Should a SQLite database be configured otherwise, a write that changes nothing takes it here:
  call `serialise` before reading, so the transaction's snapshot starts once it holds the lock.
- PostgreSQL: a transaction-level advisory lock per key (`pg_advisory_xact_lock`), taken in one
  order so that two callers with overlapping keys cannot deadlock. At the default READ COMMITTED
  level each query after it sees what the previous holder committed. Keys are hashed to 64 bits;
  two keys that share a hash only wait for each other.
"""

import hashlib

from django.db import transaction


def serialise(*keys: str) -> None:
    """Wait for, and hold until the surrounding transaction ends, the lock of each key."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("Locks must be taken inside transaction.atomic().")
    if connection.vendor == "sqlite":
        options = connection.settings_dict.get("OPTIONS", {})
        if options.get("transaction_mode") != "IMMEDIATE":
            with connection.cursor() as cursor:
                cursor.execute("UPDATE django_migrations SET id = id WHERE 0")
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for number in sorted({_lock_number(key) for key in keys}):
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])
    else:
        raise NotImplementedError(
            f"Image Studio serialises its writes on SQLite and PostgreSQL, not {connection.vendor}."
        )


def _lock_number(key: str) -> int:
    digest = hashlib.blake2b(f"image-studio {key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
