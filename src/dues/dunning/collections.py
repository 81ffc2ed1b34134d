"""Collections: accounts past the final step go to a collection agency as a CSV placement
file, and may be written off to bad debt when placed. A payment that arrives later (from
the member or remitted by the agency) reverses the write-off and recovers the case."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.db.models import Max

from dues.billing.invoices import invoice_write_off
from dues.billing.models import InvoiceStatus
from dues.core.clock import Clock, local_date
from dues.core.models import OutboxEvent
from dues.core.money import to_decimal
from dues.dunning.models import CaseStatus, DunningCase

# The placement file's columns: what agencies ask for to identify the debtor, prove the
# debt and contact them. Amounts in major units with a dot ("499.00"), dates ISO 8601.
FIELDS = (
    "creditor",
    "creditor_reference",
    "account_number",
    "debtor_first_name",
    "debtor_last_name",
    "date_of_birth",
    "address",
    "email",
    "phone",
    "language",
    "invoice_number",
    "invoice_date",
    "due_date",
    "principal",
    "late_fee",
    "currency",
    "first_failed_on",
    "last_decline_code",
    "reminders_sent",
    "last_reminder_on",
    "written_off",
)


def collections_export(
    *, organization_id: int, clock: Clock, write_off: bool = False, again: bool = False
) -> str:
    """The placement CSV of accounts with collections not yet sent (``again``: all of
    them), marking them sent; with ``write_off`` their invoices move to bad debt."""
    with transaction.atomic():
        qs = DunningCase.objects.select_for_update(of=("self",)).filter(
            organization_id=organization_id,
            status=CaseStatus.COLLECTIONS,
            invoice__status__in=[InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE],
        )
        if not again:
            qs = qs.filter(collections_exported_at__isnull=True)
        cases = list(
            qs.select_related(
                "invoice__organization", "invoice__location", "payer", "late_fee_invoice"
            ).order_by("id")
        )
        if write_off:
            for case in cases:
                if case.invoice.status == InvoiceStatus.OPEN:
                    case.invoice = invoice_write_off(
                        invoice=case.invoice,
                        clock=clock,
                        reason=f"placed with collections (case {case.pk})",
                    )
        now = clock.now()
        DunningCase.objects.filter(
            pk__in=[c.pk for c in cases], collections_exported_at__isnull=True
        ).update(collections_exported_at=now)
        return _csv(cases)


def _csv(cases: Sequence[DunningCase]) -> str:
    last_reminder = dict(
        OutboxEvent.objects.filter(
            topic="dunning.reminder",
            aggregate_type="dunning_case",
            aggregate_id__in=[c.pk for c in cases],
        )
        .values("aggregate_id")
        .annotate(last=Max("created_at"))
        .values_list("aggregate_id", "last")
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for case in cases:
        inv, payer = case.invoice, case.payer
        fee = case.late_fee_invoice
        fee_due = fee.amount_due if fee and fee.status == InvoiceStatus.OPEN else 0
        reminded = last_reminder.get(case.pk)
        writer.writerow(
            (
                inv.organization.legal_name or inv.organization.name,
                f"DUES-{case.pk}",
                payer.member_number,
                payer.first_name,
                payer.last_name,
                _day(payer.date_of_birth),
                " ".join(payer.address.split()),
                payer.email,
                payer.phone,
                payer.language,
                inv.number,
                _day(inv.issue_date),
                _day(inv.due_date),
                str(to_decimal(inv.amount_due, inv.currency)),
                str(to_decimal(fee_due, inv.currency)),
                inv.currency,
                _day(case.first_failed_on),
                case.last_decline_code,
                case.reminders_sent,
                _day(local_date(reminded, inv.location.timezone)) if reminded else "",
                "yes" if inv.status == InvoiceStatus.UNCOLLECTIBLE else "no",
            )
        )
    return out.getvalue()


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""
