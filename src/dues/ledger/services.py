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

from django.db import transaction

from dues.core.db import require_transaction
from dues.core.rows import rows_insert
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
        ],
        ignore_conflicts=True,  # billing workers may open the chart at the same moment
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


def entries_post(specs: Sequence[EntrySpec]) -> list[int]:
    """Write entries and their lines with set-based inserts, all or nothing; returns the
    entries' ids (none for a spec without postings)."""
    require_transaction("posting journal entries")
    specs = [s for s in specs if s.postings]
    for spec in specs:
        spec.check_balanced()
    if not specs:
        return []
    with transaction.atomic():
        ids = rows_insert(
            JournalEntry,
            ["organization_id", "kind", "source_type", "source_id", "memo", "posted_at"],
            [
                (s.organization_id, s.kind, s.source_type, s.source_id, s.memo, s.posted_at)
                for s in specs
            ],
            returning=True,
        )
        charts = {org_id: account_ids(org_id) for org_id in {s.organization_id for s in specs}}
        rows_insert(
            JournalLine,
            ["organization_id", "entry_id", "account_id", "member_id", "currency", "amount"],
            [
                (
                    spec.organization_id,
                    entry_id,
                    charts[spec.organization_id][p.account],
                    p.member_id,
                    p.currency,
                    p.amount,
                )
                for spec, entry_id in zip(specs, ids, strict=True)
                for p in spec.postings
            ],
        )
    return ids


def entry_post(spec: EntrySpec) -> int | None:
    posted = entries_post([spec])
    return posted[0] if posted else None


def postings_total(postings: Iterable[Posting], account: str) -> int:
    return sum(p.amount for p in postings if p.account == account)
