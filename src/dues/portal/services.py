"""What a member can do from a signed link: pay an invoice with the card on file, or add
a new card (which becomes the default and pays the invoice at once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dues.billing.models import Invoice, InvoiceStatus
from dues.core.clock import Clock, local_date
from dues.dunning.declines import Category, decline_classify
from dues.dunning.limits import earliest_allowed
from dues.members.models import Member
from dues.payments.collect import invoices_retry
from dues.payments.gateways.base import Gateway
from dues.payments.gateways.sandbox import sandbox_tokenize
from dues.payments.models import AttemptStatus, PaymentAttempt, PaymentMethod
from dues.payments.services import payment_method_add


@dataclass(frozen=True)
class PayResult:
    paid: bool
    decline_code: str = ""


def saved_card(payer: Member) -> PaymentMethod | None:
    return PaymentMethod.objects.usable_defaults().filter(payer=payer).first()


def saved_card_allowed(card: PaymentMethod, clock: Clock) -> bool:
    """One more charge on this card now is worth it and allowed: its last decline was not
    one that never succeeds on the same card (lost, stolen, expired...), and the card
    networks' limits hold."""
    last = (
        PaymentAttempt.objects.filter(payment_method=card)
        .order_by("-created_at", "-id")
        .values_list("status", "decline_code", "advice_code")
        .first()
    )
    if last and last[0] == AttemptStatus.FAILED:
        decline = decline_classify(last[1], last[2])
        if decline.category in (Category.HARD, Category.EXPIRED):
            return False
    now = clock.now()
    recent = PaymentAttempt.objects.filter(
        payment_method=card, created_at__gt=now - timedelta(days=31)
    ).values_list("created_at", flat=True)
    at = earliest_allowed(
        network=card.brand or "other",
        card_attempts=list(recent),
        last_invoice_attempt=None,  # the member asked for it: not a merchant retry
        last_was_processing_error=False,
        not_before=now,
    )
    return at <= now


def invoice_pay_now(*, invoice: Invoice, clock: Clock, gateway: Gateway) -> PayResult:
    """Charge the invoice to the payer's default card now."""
    invoices_retry([invoice.pk], clock=clock, gateway=gateway)
    invoice.refresh_from_db()
    if invoice.status == InvoiceStatus.PAID:
        return PayResult(True)
    last = (
        PaymentAttempt.objects.filter(invoice=invoice)
        .order_by("-attempt_number")
        .values_list("decline_code", flat=True)
        .first()
    )
    return PayResult(False, last or "")


def card_add_from_form(
    *, payer: Member, number: str, exp_month: int, exp_year: int, clock: Clock
) -> PaymentMethod:
    """The sandbox's stand-in for a gateway's hosted card fields: the number is turned
    into a token here and never stored or logged."""
    tok = sandbox_tokenize(number, exp_month, exp_year)
    return payment_method_add(
        payer=payer,
        token=str(tok["token"]),
        brand=str(tok["brand"]),
        last4=str(tok["last4"]),
        exp_month=exp_month,
        exp_year=exp_year,
        clock=clock,
    )


def overdue_retry(*, payer: Member, clock: Clock, gateway: Gateway) -> int:
    """After the member saves a new card: charge what is overdue now, as the member
    expects, rather than at the next dunning tick. Returns how many got paid."""
    now = clock.now()
    rows = Invoice.objects.filter(
        organization_id=payer.organization_id,
        payer=payer,
        status=InvoiceStatus.OPEN,
        amount_due__gt=0,
    ).values_list("pk", "due_date", "location__timezone")
    # Due by the gym's own calendar, not the server's.
    ids = [pk for pk, due, tz in rows if due is None or due <= local_date(now, tz)]
    if not ids:
        return 0
    invoices_retry(ids, clock=clock, gateway=gateway)
    return Invoice.objects.filter(pk__in=ids, status=InvoiceStatus.PAID).count()
