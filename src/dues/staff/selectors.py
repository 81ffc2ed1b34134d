"""Reads for the staff app, every one scoped to the caller's organization (invariant 8)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from dues.access.models import Credential, CredentialKind
from dues.billing.models import CreditNote, Freeze, Invoice, InvoiceStatus, Subscription
from dues.crm.selectors import Entry, member_timeline
from dues.members.models import Member, MemberNote, MemberStatusChange
from dues.members.search import phone_key, search_fold
from dues.payments.models import Payment, PaymentMethod, Refund
from dues.staff.models import StaffAction

SEARCH_LIMIT = 25
PHONE_DIGITS = 9
_NUMBER = re.compile(r"^[mM]?0*(\d{1,12})$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")


def _prefix(field: str, text: str) -> Q:
    """Rows whose ``field`` starts with ``text``, asked the way the field's index serves:
    PostgreSQL answers ``LIKE 'text%'`` from the varchar_pattern_ops index whatever the
    database's collation; SQLite's LIKE ignores case and so skips a plain index, but its
    byte-order comparison makes a prefix exactly the range [text, text+1)."""
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": text})
    upper = text[:-1] + chr(ord(text[-1]) + 1)
    return Q(**{f"{field}__gte": text, f"{field}__lt": upper})


def member_search(*, organization_id: int, query: str, limit: int = SEARCH_LIMIT) -> list[Member]:
    """Members of one organization matching what staff typed, at most ``limit``, by name.

    Finds by the start of the first name, the last name, the full name in either order, or
    both names ("anna", "lind", "anna lind", "lindqvist anna", "lind ann"; case and
    accents ignored), by the start of the email
    address, by the end of the phone number however it was written (its last four to nine
    digits: "4567", "070 123 45 67", "+46701234567"), and by member number ("M000123",
    "123"), and by a key tag or RFID card number, typed or scanned whole (in use or
    revoked, so a refused card still finds its holder).
    Each is one range scan of an index on (organization, key), never a scan of the table:
    a few small queries with ``limit`` each, merged here.
    """
    text = query.strip()
    if not text:
        return []
    members = Member.objects.filter(organization_id=organization_id).order_by()
    wheres: list[Q] = []
    number = _NUMBER.match(text)
    if number:
        wheres.append(Q(member_number__in={text.upper(), f"M{int(number.group(1)):06d}"}))
    if _PHONE.match(text):
        # The last digits, at most a national number's worth (nine), so "+46 70…" finds
        # a number written "070…" and the other way round.
        tail = phone_key(text)[:PHONE_DIGITS]
        if len(tail) >= 4:
            wheres.append(_prefix("search_phone", tail))
    elif "@" in text:
        wheres.append(_prefix("search_email", text.casefold()))
    elif not number:
        folded = search_fold(text)
        if folded:
            wheres.append(_prefix("search_name", folded))
            wheres.append(_prefix("search_name_reversed", folded))
            if " " not in folded:
                wheres.append(_prefix("search_email", folded))
            else:
                # The starts of both names, either first: "ann lind", "lind ann".
                word, rest = folded.split(" ", 1)
                wheres.append(_prefix("search_name", word) & _prefix("search_name_reversed", rest))
                wheres.append(_prefix("search_name_reversed", word) & _prefix("search_name", rest))
    holders = list(
        Credential.objects.filter(
            organization_id=organization_id,
            kind__in=[CredentialKind.BARCODE, CredentialKind.RFID],
            value=text,
        ).values_list("member_id", flat=True)[:limit]
    )
    if holders:
        wheres.append(Q(pk__in=holders))
    found: dict[int, Member] = {}
    for where in wheres:
        for member in members.filter(where)[:limit]:
            found.setdefault(member.pk, member)
    ordered = sorted(found.values(), key=lambda m: (m.search_name_reversed, m.pk))
    return ordered[:limit]


def member_get(*, organization_id: int, member_id: int) -> Member | None:
    return (
        Member.objects.filter(organization_id=organization_id, pk=member_id)
        .select_related("home_location", "payer")
        .first()
    )


def member_subscriptions(member: Member) -> QuerySet[Subscription]:
    return (
        Subscription.objects.filter(organization_id=member.organization_id, member=member)
        .select_related("plan", "location", "pending_plan", "organization")
        .order_by("-created_at", "-id")
    )


def member_invoices(member: Member, *, limit: int = 50) -> list[Invoice]:
    """Finalised invoices the member pays for, open ones first, then newest."""
    rows = Invoice.objects.filter(organization_id=member.organization_id, payer=member).exclude(
        status=InvoiceStatus.DRAFT
    )
    open_first = sorted(
        rows.order_by("-issue_date", "-id")[:limit],
        key=lambda i: i.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE),
    )
    return open_first


def member_payments(member: Member, *, limit: int = 50) -> list[Payment]:
    return list(
        Payment.objects.filter(organization_id=member.organization_id, payer=member)
        .select_related("invoice")
        .order_by("-received_at", "-id")[:limit]
    )


def member_payment_methods(member: Member) -> list[PaymentMethod]:
    return list(
        PaymentMethod.objects.filter(
            organization_id=member.organization_id,
            payer=member,
            status=PaymentMethod.Status.ACTIVE,
        ).order_by("-is_default", "-created_at")
    )


def member_invoice(member: Member, invoice_id: Any) -> Invoice | None:
    return Invoice.objects.filter(
        organization_id=member.organization_id, payer=member, pk=_int(invoice_id)
    ).first()


def member_payment(member: Member, payment_id: Any) -> Payment | None:
    return (
        Payment.objects.filter(
            organization_id=member.organization_id, payer=member, pk=_int(payment_id)
        )
        .select_related("invoice")
        .first()
    )


def member_subscription(member: Member, subscription_id: int) -> Subscription | None:
    return member_subscriptions(member).filter(pk=subscription_id).first()


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --- the timeline -------------------------------------------------------------------------

# Entries about money, hidden from roles that may not see money (trainers).
MONEY_KINDS = frozenset(
    {"payment_attempt", "payment", "refund", "credit_note", "dispute", "dunning_case"}
)


def member_timeline_full(member: Member, *, money: bool, limit: int = 200) -> list[Entry]:
    """The CRM timeline (``crm.selectors.member_timeline``: messages, charge attempts,
    restrictions, dunning, disputes) with what staff also need beside it: payments taken
    other than by a charge attempt (desk, bank), refunds, credit notes, notes, status
    changes and freezes; newest first. Without ``money``, nothing about money is shown."""
    entries = list(member_timeline(member, limit=limit))
    org = member.organization_id
    for p in Payment.objects.filter(organization_id=org, payer=member, attempt__isnull=True)[
        :limit
    ]:
        entries.append(
            Entry(
                p.received_at,
                "payment",
                f"Payment received: {p.get_method_display()}",
                {"id": p.pk, "amount": p.amount, "currency": p.currency, "invoice": p.invoice_id},
            )
        )
    refunds = Refund.objects.filter(organization_id=org, payment__payer=member).order_by(
        "-created_at"
    )
    for r in refunds[:limit]:
        entries.append(
            Entry(
                r.completed_at or r.created_at,
                "refund",
                f"Refund {r.get_status_display().lower()}: {r.reason}",
                {"id": r.pk, "amount": r.amount, "currency": r.currency, "status": r.status},
            )
        )
    notes = CreditNote.objects.filter(organization_id=org, payer=member, refund__isnull=True)
    for c in notes.select_related("invoice").order_by("-created_at")[:limit]:
        entries.append(
            Entry(
                c.created_at,
                "credit_note",
                f"Credit note {c.number} on invoice {c.invoice.number}: {c.reason}",
                {"id": c.pk, "amount": c.total, "currency": c.currency},
            )
        )
    for n in MemberNote.objects.filter(organization_id=org, member=member)[:limit]:
        entries.append(
            Entry(n.created_at, "note", n.text, {"id": n.pk, "author": n.author}),
        )
    changes = MemberStatusChange.objects.filter(organization_id=org, member=member)
    for s in changes.order_by("-changed_at")[:limit]:
        reason = f" ({s.reason})" if s.reason else ""
        entries.append(
            Entry(
                s.changed_at,
                "status",
                f"Status: {s.get_from_status_display()} → {s.get_to_status_display()}{reason}",
                {"id": s.pk},
            )
        )
    freezes = Freeze.objects.filter(organization_id=org, subscription__member=member)
    for f in freezes.order_by("-created_at")[:limit]:
        last = f.end_date - timedelta(days=1)
        entries.append(
            Entry(
                f.created_at,
                "freeze",
                f"Freeze {f.get_status_display().lower()}: {f.start_date} – {last}",
                {"id": f.pk},
            )
        )
    if not money:
        entries = [
            e
            for e in entries
            if e.kind not in MONEY_KINDS
            and not (e.kind == "message" and e.detail.get("invoice_id"))
        ]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def member_staff_actions(member: Member, *, limit: int = 50) -> QuerySet[StaffAction]:
    return StaffAction.objects.filter(
        organization_id=member.organization_id, member=member
    ).select_related("user")[:limit]
