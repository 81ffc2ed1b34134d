from __future__ import annotations

from django.db import models

from dues.core.models import OrgOwned, OrgScoped
from dues.members.models import Member


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    INCOME = "income", "Income"
    EXPENSE = "expense", "Expense"


class Account(OrgOwned):
    code = models.CharField(max_length=10)
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=10, choices=AccountType.choices)

    class Meta:
        ordering = ["organization", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="account_unique_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class JournalEntry(OrgScoped):
    """One balanced money movement. ``(kind, source_type, source_id)`` is unique so a
    movement can never post twice."""

    kind = models.CharField(max_length=24)
    source_type = models.CharField(max_length=24)
    source_id = models.BigIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["posted_at", "id"]
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_type", "source_id"], name="journal_entry_once_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_type}:{self.source_id}"


class JournalLine(OrgScoped):
    """``amount`` is signed: debits positive, credits negative; each entry sums to zero
    per currency."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    # Account and member come from the organization's own chart and members, resolved by
    # the one posting function in the posting transaction; ``dues ledger check`` proves
    # every line points at an account and member of its own organization (a constraint
    # could not check the organization, and checking per row costs the billing run).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", db_constraint=False, db_index=False
    )
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="journal_line_not_zero")
        ]
        indexes = [
            models.Index(fields=["account", "member"]),
            # Revenue by month (reports.dashboard): the income lines of an organization
            # summed from the index alone, each joined to its entry for the month.
            models.Index(
                fields=["organization", "account", "entry", "currency", "amount"],
                name="journal_line_account_sums",
            ),
        ]

    def __str__(self) -> str:
        side = "Dr" if self.amount > 0 else "Cr"
        return f"{side} {self.account.code} {abs(self.amount)} {self.currency}"
