from __future__ import annotations

from django.db import connection


def in_transaction() -> bool:
    """True inside a transaction opened by our code.

    Ignores the wrapping transaction a Django ``TestCase`` opens (flagged
    ``_from_testcase``), so the guards below behave in tests as in production.
    """
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def require_transaction(what: str) -> None:
    if not in_transaction():
        raise RuntimeError(f"{what} must run inside the state change's transaction")


def forbid_transaction(what: str) -> None:
    if in_transaction():
        raise RuntimeError(f"{what} must not run inside a database transaction")
