"""Payment methods, recording payments, desk payments and refunds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from dues.billing.invoices import credit_note_create
from dues.billing.models import Invoice, InvoiceStatus, MemberCreditEntry
from dues.core.clock import Clock
from dues.core.money import validate_amount
from dues.core.outbox import Event, event_build, events_emit_bulk
from dues.core.rows import rows_insert, rows_update
from dues.ledger import chart
from dues.ledger.services import EntrySpec, entries_post
from dues.members.models import Member
from dues.payments.gateways.base import Gateway, GatewayError
from dues.payments.models import Payment, PaymentMethod, Refund


class PaymentError(ValidationError):
    pass


def payment_method_add(
    *,
    payer: Member,
    token: str,
    last4: str,
    clock: Clock,
    kind: str = PaymentMethod.Kind.CARD,
    brand: str = "",
    exp_month: int | None = None,
    exp_year: int | None = None,
    mandate_reference: str = "",
    customer_reference: str = "",
    gateway: str = "sandbox",
    make_default: bool = True,
) -> PaymentMethod:
    if payer.payer_id is not None:
        raise PaymentError({"payer": "this member's payments are made by their household payer"})
    if not token or len(token) > 120:
        raise PaymentError({"token": "a gateway token is required"})
    if token.replace(" ", "").isdigit() and len(token.replace(" ", "")) >= 12:
        raise PaymentError({"token": "send the gateway's token, never a card number"})
    if not (len(last4) == 4 and last4.isdigit()):
        raise PaymentError({"last4": "last4 must be exactly four digits"})
    if kind == PaymentMethod.Kind.CARD:
        if exp_month is None or not 1 <= exp_month <= 12:
            raise PaymentError({"exp_month": "expiry month must be 1–12"})
        if exp_year is None or not 2000 <= exp_year <= 2100:
            raise PaymentError({"exp_year": "expiry year must be a four-digit year"})
    now = clock.now()
    with transaction.atomic():
        has_default = PaymentMethod.objects.usable_defaults().filter(payer=payer)
        if make_default:
            has_default.update(is_default=False)
        method = PaymentMethod.objects.create(
            organization_id=payer.organization_id,
            payer=payer,
            kind=kind,
            gateway=gateway,
            token=token,
            brand=brand,
            last4=last4,
            exp_month=exp_month,
            exp_year=exp_year,
            mandate_reference=mandate_reference,
            customer_reference=customer_reference,
            is_default=make_default or not has_default.exists(),
            created_at=now,
            updated_at=now,
        )
        _method_event(method, "payment_method.added", clock)
    return method


def _method_event(method: PaymentMethod, topic: str, clock: Clock) -> None:
    events_emit_bulk(
        [
            event_build(
                organization_id=method.organization_id,
                topic=topic,
                aggregate_type="payment_method",
                aggregate_id=method.pk,
                payload={"payer_id": method.payer_id, "payment_method_id": method.pk},
                clock=clock,
            )
        ]
    )


def payment_method_detach(*, method: PaymentMethod, clock: Clock) -> None:
    with transaction.atomic():
        method.status = PaymentMethod.Status.DETACHED
        method.is_default = False
        method.updated_at = clock.now()
        method.save(update_fields=["status", "is_default", "updated_at"])
        _method_event(method, "payment_method.removed", clock)


def payment_method_set_default(*, method: PaymentMethod, clock: Clock) -> PaymentMethod:
    if method.status != PaymentMethod.Status.ACTIVE:
        raise PaymentError({"payment_method": "a removed payment method cannot be the default"})
    with transaction.atomic():
        PaymentMethod.objects.filter(payer_id=method.payer_id, is_default=True).update(
            is_default=False
        )
        method.is_default = True
        method.updated_at = clock.now()
        method.save(update_fields=["is_default", "updated_at"])
    return method


@dataclass(frozen=True)
class IncomingPayment:
    """Money received against an invoice (card, bank debit or desk)."""

    invoice_id: int
    amount: int
    method: str
    account: str  # ledger account the money is in: clearing or cash
    attempt_id: int | None = None
    gateway_reference: str = ""
    reference: str = ""


@dataclass
class _Owed:
    """An invoice row locked for a payment, and what the payment changes."""

    organization_id: int
    payer_id: int
    number: str | None
    currency: str
    status: str
    amount_paid: int
    amount_due: int
    paid_at: datetime | None
    written_off: bool = False


PAYMENT_COLUMNS = [
    "organization_id",
    "payer_id",
    "invoice_id",
    "attempt_id",
    "method",
    "amount",
    "amount_refunded",
    "currency",
    "gateway_reference",
    "reference",
    "received_at",
]


def payments_record(
    incoming: Sequence[IncomingPayment], *, clock: Clock, received_at: datetime | None = None
) -> list[int]:
    """Apply payments to their invoices with ledger entries and events, set-based;
    returns the payments' ids in the order of ``incoming``.

    Must run inside a transaction. Invoices are locked; money beyond what an invoice still
    owes (a desk payment and a card payment crossing) becomes the payer's credit.
    """
    if not incoming:
        return []
    now = received_at or clock.now()
    invoices = {
        row[0]: _Owed(*row[1:])
        for row in Invoice.objects.select_for_update()
        .filter(pk__in={p.invoice_id for p in incoming})
        .values_list(
            "pk",
            "organization_id",
            "payer_id",
            "number",
            "currency",
            "status",
            "amount_paid",
            "amount_due",
            "paid_at",
        )
    }
    for inv in invoices.values():
        inv.written_off = inv.status == InvoiceStatus.UNCOLLECTIBLE
    rows = []
    overpaid: list[int] = []
    for p in incoming:
        inv = invoices[p.invoice_id]
        applied = min(p.amount, inv.amount_due)
        overpaid.append(p.amount - applied)
        if applied:
            inv.amount_paid += applied
            inv.amount_due -= applied
            if inv.amount_due == 0:
                inv.status = InvoiceStatus.PAID
                inv.paid_at = now
        rows.append(
            (
                inv.organization_id,
                inv.payer_id,
                p.invoice_id,
                p.attempt_id,
                p.method,
                p.amount,
                0,
                inv.currency,
                p.gateway_reference,
                p.reference,
                now,
            )
        )
    ids = rows_insert(Payment, PAYMENT_COLUMNS, rows, returning=True)
    rows_update(
        Invoice,
        ["amount_paid", "amount_due", "status", "paid_at"],
        [(pk, i.amount_paid, i.amount_due, i.status, i.paid_at) for pk, i in invoices.items()],
    )
    journal: list[EntrySpec] = []
    credits: list[MemberCreditEntry] = []
    events: list[Event] = []
    for p, payment_id, extra in zip(incoming, ids, overpaid, strict=True):
        inv = invoices[p.invoice_id]
        cur = inv.currency
        entry = EntrySpec(
            organization_id=inv.organization_id,
            kind="payment",
            source_type="payment",
            source_id=payment_id,
            posted_at=now,
            memo=inv.number or "",
        )
        entry.add(p.account, p.amount, cur)
        applied = p.amount - extra
        if inv.written_off:
            # Money for a written-off invoice reverses the bad debt it was moved to.
            entry.add(chart.BAD_DEBT, -applied, cur)
        else:
            entry.add(chart.RECEIVABLE, -applied, cur, inv.payer_id)
        if extra:
            entry.add(chart.MEMBER_CREDIT, -extra, cur, inv.payer_id)
            credits.append(
                MemberCreditEntry(
                    organization_id=inv.organization_id,
                    payer_id=inv.payer_id,
                    currency=cur,
                    amount=extra,
                    kind=MemberCreditEntry.Kind.OVERPAYMENT,
                    invoice_id=p.invoice_id,
                    created_at=now,
                )
            )
        journal.append(entry)
        payload = {
            "payment_id": payment_id,
            "invoice_id": p.invoice_id,
            "payer_id": inv.payer_id,
            "amount": p.amount,
            "currency": cur,
            "method": p.method,
        }
        org = inv.organization_id
        events.append(Event(org, "payment.succeeded", "payment", payment_id, payload, now))
        if inv.status == InvoiceStatus.PAID and inv.paid_at == now:
            events.append(Event(org, "invoice.paid", "invoice", p.invoice_id, payload, now))
    entries_post(journal)
    MemberCreditEntry.objects.bulk_create(credits)
    events_emit_bulk(events)
    return ids


def payment_take_at_desk(
    *,
    invoice: Invoice,
    amount: int,
    method: str,
    clock: Clock,
    reference: str = "",
) -> Payment:
    """Cash or card-terminal payment taken by staff against an invoice."""
    validate_amount(amount, allow_zero=False)
    if method not in (Payment.Method.CASH, Payment.Method.TERMINAL):
        raise PaymentError({"method": "desk payments are cash or terminal"})
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise PaymentError({"invoice": f"a {invoice.status} invoice takes no payment"})
    if amount > invoice.amount_due:
        raise PaymentError({"amount": f"at most {invoice.amount_due} is owed on this invoice"})
    with transaction.atomic():
        [payment_id] = payments_record(
            [
                IncomingPayment(
                    invoice_id=invoice.pk,
                    amount=amount,
                    method=method,
                    account=chart.CASH,
                    reference=reference,
                )
            ],
            clock=clock,
        )
    return Payment.objects.get(pk=payment_id)


def refund_create(
    *, payment: Payment, amount: int, reason: str, clock: Clock, gateway: Gateway
) -> Refund:
    """Pay money back: the refund is committed first (keyed), the gateway is asked, and the
    credit note that backs it is issued in the same transaction as the refund's success."""
    validate_amount(amount, allow_zero=False)
    if not reason.strip():
        raise PaymentError({"reason": "say why the money is paid back"})
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        refundable = payment_refundable(locked)
        if amount > refundable:
            raise PaymentError({"amount": f"at most {refundable} can be refunded"})
        count = Refund.objects.filter(payment=locked).count()
        refund = Refund.objects.create(
            organization_id=locked.organization_id,
            payment=locked,
            amount=amount,
            currency=locked.currency,
            reason=reason.strip(),
            idempotency_key=f"ref_{locked.pk}_{count + 1}",
            created_at=clock.now(),
        )
    by_gateway = bool(payment.gateway_reference)
    if by_gateway:
        try:
            result = gateway.refund(
                idempotency_key=refund.idempotency_key,
                charge_reference=payment.gateway_reference,
                amount=amount,
                currency=payment.currency,
            )
        except GatewayError as exc:
            raise PaymentError(
                {"refund": "the gateway did not answer; the refund stays pending"}
            ) from exc
        if not result.succeeded:
            Refund.objects.filter(pk=refund.pk).update(
                status=Refund.Status.FAILED, completed_at=clock.now()
            )
            raise PaymentError({"refund": result.message or "the gateway refused the refund"})
        reference = result.reference
    else:
        reference = ""
    return refund_complete(refund=refund, reference=reference, clock=clock)


def payment_refundable(payment: Payment) -> int:
    """What can still be paid back: the amount less refunds done and in flight."""
    pending = sum(
        Refund.objects.filter(payment=payment, status=Refund.Status.PENDING).values_list(
            "amount", flat=True
        )
    )
    return max(payment.amount - payment.amount_refunded - pending, 0)


def refund_complete(*, refund: Refund, reference: str, clock: Clock) -> Refund:
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund.pk)
        if refund.status != Refund.Status.PENDING:
            return refund
        payment = refund.payment
        invoice = payment.invoice
        assert invoice is not None
        account = chart.CLEARING if payment.gateway_reference else chart.CASH
        note = credit_note_create(
            invoice=invoice,
            amount=refund.amount,
            reason=refund.reason,
            clock=clock,
            refund_amount=refund.amount,
            refund_account=account,
        )
        refund.status = Refund.Status.SUCCEEDED
        refund.credit_note = note
        refund.gateway_reference = reference
        refund.completed_at = clock.now()
        refund.save(update_fields=["status", "credit_note", "gateway_reference", "completed_at"])
        Payment.objects.filter(pk=payment.pk).update(
            amount_refunded=payment.amount_refunded + refund.amount
        )
        events_emit_bulk(
            [
                event_build(
                    organization_id=refund.organization_id,
                    topic="refund.succeeded",
                    aggregate_type="refund",
                    aggregate_id=refund.pk,
                    payload={
                        "refund_id": refund.pk,
                        "payment_id": payment.pk,
                        "amount": refund.amount,
                        "currency": refund.currency,
                    },
                    clock=clock,
                )
            ]
        )
    return refund
