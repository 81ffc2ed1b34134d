"""core.rows: the tuple writers the billing run uses instead of bulk_create/bulk_update."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from dues.core.models import OutboxEvent
from dues.core.rows import rows_insert, rows_update
from dues.payments.models import SandboxCharge

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=UTC)


def _charge(key: str, amount: int = 100) -> tuple[object, ...]:
    return (key, "sbx_success_x", amount, "SEK", True, "", f"ch_{key}", 0, WHEN)


CHARGE = [
    "idempotency_key",
    "token",
    "amount",
    "currency",
    "succeeded",
    "decline_code",
    "reference",
    "refunded",
    "created_at",
]


def test_ids_come_back_in_the_order_given_and_values_round_trip():
    keys = [f"k{i:04d}" for i in range(1200)][::-1]  # not in sorted order
    with transaction.atomic():
        ids = rows_insert(
            SandboxCharge, CHARGE, [_charge(k, i) for i, k in enumerate(keys)], returning=True
        )
    assert len(set(ids)) == 1200
    by_id = dict(SandboxCharge.objects.values_list("id", "idempotency_key"))
    assert [by_id[i] for i in ids] == keys
    row = SandboxCharge.objects.get(idempotency_key="k0000")
    assert (row.amount, row.succeeded, row.created_at) == (1199, True, WHEN)


def test_json_and_nulls_round_trip(org, clock):
    payload = {"invoice_id": 7, "number": "INV-000007", "lines": [1, 2], "note": "å ü 中 ไทย"}
    with transaction.atomic():
        [pk] = rows_insert(
            OutboxEvent,
            ["organization_id", "topic", "aggregate_type", "aggregate_id", "payload", "created_at"],
            [(org.pk, "invoice.finalized", "invoice", 7, payload, WHEN)],
            returning=True,
        )
    event = OutboxEvent.objects.get(pk=pk)
    assert (event.payload, event.created_at) == (payload, WHEN)
    # Without ids wanted, PostgreSQL takes the rows by COPY: tabs, newlines and
    # backslashes in text and JSON must survive it.
    odd = {"note": "tab\there\nnew line \\ back", "n": None}
    with transaction.atomic():
        rows_insert(
            OutboxEvent,
            ["organization_id", "topic", "aggregate_type", "aggregate_id", "payload", "created_at"],
            [(org.pk, "a\tb\\c", "invoice", 8, odd, WHEN)],
        )
    copied = OutboxEvent.objects.get(aggregate_id=8)
    assert (copied.topic, copied.payload, copied.created_at) == ("a\tb\\c", odd, WHEN)


def test_update_sets_only_the_named_fields():
    with transaction.atomic():
        ids = rows_insert(SandboxCharge, CHARGE, [_charge("a"), _charge("b")], returning=True)
        rows_update(SandboxCharge, ["refunded", "decline_code"], [(ids[1], 40, "partial")])
    a, b = SandboxCharge.objects.order_by("idempotency_key")
    assert (a.refunded, a.decline_code) == (0, "")
    assert (b.refunded, b.decline_code, b.amount) == (40, "partial", 100)


def test_a_duplicate_raises_djangos_integrity_error_and_writes_nothing():
    with transaction.atomic():
        rows_insert(SandboxCharge, CHARGE, [_charge("dup")])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(SandboxCharge, CHARGE, [_charge("new"), _charge("dup")])
    assert list(SandboxCharge.objects.values_list("idempotency_key", flat=True)) == ["dup"]


def test_bad_rows_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="expected 9 values per row, got 2"):
        rows_insert(SandboxCharge, CHARGE, [("x", "y")])
    with pytest.raises(ValueError, match=r"SandboxCharge\.payments is not a column"):
        rows_insert(SandboxCharge, ["payments"], [(1,)])
    assert rows_insert(SandboxCharge, CHARGE, []) == []
