"""Posting balanced journal entries (DESIGN invariant 3).

Every posting function must run inside the transaction that changes the state it records;
``entries_post`` refuses otherwise. Entries are keyed by (kind, source) so a movement can
never post twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, models, transaction

from dues.core.db import require_transaction
from dues.ledger.chart import CHART
from dues.ledger.models import Account, JournalEntry, JournalLine


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Posting:
    account: str  # chart code
    amount: int  # debit positive, credit negative
    currency: str
    member_id: int | None = None


@dataclass
class EntrySpec:
    organization_id: int
    kind: str
    source_type: str
    source_id: int
    posted_at: datetime
    postings: list[Posting] = field(default_factory=list)
    memo: str = ""

    def add(self, account: str, amount: int, currency: str, member_id: int | None = None) -> None:
        if amount:
            self.postings.append(Posting(account, amount, currency, member_id))

    def check_balanced(self) -> None:
        sums: dict[str, int] = defaultdict(int)
        for p in self.postings:
            sums[p.currency] += p.amount
        unbalanced = {cur: s for cur, s in sums.items() if s != 0}
        if unbalanced:
            raise UnbalancedEntry(
                f"{self.kind} {self.source_type}:{self.source_id} does not balance: {unbalanced}"
            )


def chart_create(*, organization_id: int) -> None:
    existing = set(
        Account.objects.filter(organization_id=organization_id).values_list("code", flat=True)
    )
    Account.objects.bulk_create(
        [
            Account(organization_id=organization_id, code=code, name=name, type=kind)
            for code, name, kind in CHART
            if code not in existing
        ]
    )


def account_ids(organization_id: int) -> dict[str, int]:
    """Chart code → account id, creating the chart on an organization's first posting.

    Read per posting call (one small query) rather than cached: ids must never outlive
    the transaction that read them.
    """
    ids = dict(Account.objects.filter(organization_id=organization_id).values_list("code", "id"))
    if len(ids) < len(CHART):
        chart_create(organization_id=organization_id)
        ids = dict(
            Account.objects.filter(organization_id=organization_id).values_list("code", "id")
        )
    return ids


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write ``fields`` of each object to its row: what ``bulk_update`` does, as one
    parameterised ``UPDATE ... WHERE pk = %s`` run by ``executemany`` (performance only:
    ``bulk_update``'s CASE/WHEN expressions cost milliseconds per row to build)."""
    if not objs:
        return
    meta = model._meta
    cols = [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(meta.db_table)} SET "
        + ", ".join(f"{qn(str(c.column))} = %s" for c in cols)  # type: ignore[union-attr]
        + f" WHERE {qn(str(meta.pk.column))} = %s"
    )
    params = [
        [c.get_db_prep_save(getattr(o, c.attname), connection) for c in cols]  # type: ignore[union-attr]
        + [o.pk]
        for o in objs
    ]
    if connection.vendor == "postgresql":
        # One UPDATE ... FROM (VALUES ...) per chunk instead of a round trip per row.
        casts = [meta.pk.db_type(connection)] + [c.db_type(connection) for c in cols]
        row = "(" + ", ".join(f"%s::{t}" for t in casts) + ")"
        names = ["pk"] + [f"c{i}" for i in range(len(cols))]
        sets = ", ".join(f"{qn(str(c.column))} = v.c{i}" for i, c in enumerate(cols))  # type: ignore[union-attr]
        with connection.cursor() as cursor:
            for lo in range(0, len(params), 1000):
                chunk = params[lo : lo + 1000]
                cursor.execute(
                    f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM (VALUES "
                    + ", ".join([row] * len(chunk))
                    + f") AS v({', '.join(names)}) WHERE t.{qn(str(meta.pk.column))} = v.pk",
                    [x for p in chunk for x in [p[-1], *p[:-1]]],
                )
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def rows_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert rows whose primary keys the caller does not need: what ``bulk_create`` does,
    as one parameterised INSERT run by ``executemany`` (performance only; the objects'
    ``pk`` stays unset)."""
    if not objs:
        return
    meta = model._meta
    cols = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(str(f.column)) for f in cols)}) "
        f"VALUES ({', '.join(['%s'] * len(cols))})"
    )
    params = [[f.get_db_prep_save(f.pre_save(o, True), connection) for f in cols] for o in objs]
    if connection.vendor == "postgresql":
        # Multi-row VALUES: one statement per chunk instead of a round trip per row.
        row = f"({', '.join(['%s'] * len(cols))})"
        head = sql[: sql.index(" VALUES ")]
        with connection.cursor() as cursor:
            for lo in range(0, len(params), 1000):
                chunk = params[lo : lo + 1000]
                cursor.execute(
                    f"{head} VALUES " + ", ".join([row] * len(chunk)),
                    [x for p in chunk for x in p],
                )
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def entries_post(specs: Sequence[EntrySpec]) -> list[JournalEntry]:
    """Write entries and their lines with set-based inserts; all or nothing."""
    require_transaction("posting journal entries")
    specs = [s for s in specs if s.postings]
    for spec in specs:
        spec.check_balanced()
    if not specs:
        return []
    with transaction.atomic():
        entries = JournalEntry.objects.bulk_create(
            [
                JournalEntry(
                    organization_id=s.organization_id,
                    kind=s.kind,
                    source_type=s.source_type,
                    source_id=s.source_id,
                    memo=s.memo,
                    posted_at=s.posted_at,
                )
                for s in specs
            ],
            batch_size=1000,
        )
        charts = {org_id: account_ids(org_id) for org_id in {s.organization_id for s in specs}}
        lines: list[JournalLine] = []
        for spec, entry in zip(specs, entries, strict=True):
            accounts = charts[spec.organization_id]
            lines.extend(
                JournalLine(
                    organization_id=spec.organization_id,
                    entry_id=entry.pk,
                    account_id=accounts[p.account],
                    member_id=p.member_id,
                    currency=p.currency,
                    amount=p.amount,
                )
                for p in spec.postings
            )
        rows_insert(JournalLine, lines)
    return entries


def entry_post(spec: EntrySpec) -> JournalEntry | None:
    posted = entries_post([spec])
    return posted[0] if posted else None


def postings_total(postings: Iterable[Posting], account: str) -> int:
    return sum(p.amount for p in postings if p.account == account)
