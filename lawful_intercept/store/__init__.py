"""Storage: the encrypted durable queue (LI temporary storage)."""

from lawful_intercept.store.sqlite_queue import SQLiteQueue

__all__ = ["SQLiteQueue"]
