"""The collection half of the billing run (DESIGN invariant 2).

For each open invoice never attempted, with a usable default payment method: commit an
attempt keyed ``inv_<invoice id>_<n>`` *before* calling the gateway, call the gateway
(concurrently, up to its limit), then record every outcome in one transaction. An attempt
whose outcome is unknown stays pending; ``attempts_resolve`` asks the gateway about its key
(and, if the gateway never saw it, replays the same key, which cannot charge twice).
Failures are left for dunning, which reads ``payment.failed`` events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef

from dues.billing.models import Invoice, InvoiceStatus
from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.core.outbox import event_build, events_emit_bulk
from dues.ledger import chart
from dues.ledger.services import rows_update
from dues.payments.gateways.base import ChargeRequest, ChargeResult, Gateway
from dues.payments.models import AttemptStatus, Payment, PaymentAttempt, PaymentMethod
from dues.payments.services import IncomingPayment, payments_record


def attempt_key(invoice_id: int, number: int) -> str:
    return f"inv_{invoice_id}_{number}"


def collectable_invoices(organization_id: int | None = None):  # type: ignore[no-untyped-def]
    default_method = PaymentMethod.objects.filter(
        payer_id=OuterRef("payer_id"), is_default=True, status=PaymentMethod.Status.ACTIVE
    )
    qs = Invoice.objects.filter(
        status=InvoiceStatus.OPEN, amount_due__gt=0, attempt_count=0
    ).filter(Exists(default_method))
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    return qs


def collect(
    *,
    clock: Clock,
    gateway: Gateway,
    organization_id: int | None = None,
    invoice_ids: Sequence[int] | None = None,
    batch_size: int | None = None,
) -> dict[str, int]:
    """Charge every never-attempted open invoice; returns counts by outcome."""
    batch_size = batch_size or settings.DUES_BILLING_BATCH_SIZE
    totals = {"succeeded": 0, "failed": 0, "unknown": 0}
    attempts_resolve(clock=clock, gateway=gateway, organization_id=organization_id)
    while True:
        attempts = attempts_open(
            clock=clock,
            organization_id=organization_id,
            invoice_ids=invoice_ids,
            batch_size=batch_size,
        )
        if not attempts:
            # Lost replies from this run are settled now, by key, before the run ends.
            for outcome, n in attempts_resolve(
                clock=clock, gateway=gateway, organization_id=organization_id
            ).items():
                totals[outcome] += n
                if outcome != "unknown":
                    totals["unknown"] -= n
            return totals
        for outcome, n in attempts_send(attempts, clock=clock, gateway=gateway).items():
            totals[outcome] += n


def attempts_open(
    *,
    clock: Clock,
    organization_id: int | None,
    invoice_ids: Sequence[int] | None,
    batch_size: int,
    retry: bool = False,
) -> list[PaymentAttempt]:
    """Claim a batch of invoices and commit one attempt for each (transaction 1)."""
    with transaction.atomic():
        qs = (
            collectable_invoices(organization_id)
            if not retry
            else Invoice.objects.filter(status=InvoiceStatus.OPEN, amount_due__gt=0)
        )
        if invoice_ids is not None:
            qs = qs.filter(pk__in=invoice_ids)
        qs = qs.exclude(attempts__status=AttemptStatus.PENDING).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        invoices = list(
            qs.values_list(
                "id", "payer_id", "amount_due", "currency", "attempt_count", "organization_id"
            )[:batch_size]
        )
        if not invoices:
            return []
        methods = dict(
            PaymentMethod.objects.filter(
                payer_id__in={row[1] for row in invoices},
                is_default=True,
                status=PaymentMethod.Status.ACTIVE,
            ).values_list("payer_id", "id")
        )
        now = clock.now()
        attempts = [
            PaymentAttempt(
                organization_id=org_id,
                invoice_id=inv_id,
                payment_method_id=methods[payer_id],
                attempt_number=count + 1,
                idempotency_key=attempt_key(inv_id, count + 1),
                amount=due,
                currency=currency,
                created_at=now,
            )
            for inv_id, payer_id, due, currency, count, org_id in invoices
            if payer_id in methods
        ]
        PaymentAttempt.objects.bulk_create(attempts, batch_size=1000)
        Invoice.objects.filter(pk__in=[a.invoice_id for a in attempts]).update(
            attempt_count=F("attempt_count") + 1
        )
    return attempts


def attempts_send(
    attempts: Sequence[PaymentAttempt], *, clock: Clock, gateway: Gateway
) -> dict[str, int]:
    """Call the gateway for committed attempts, then record what it said (transaction 2)."""
    forbid_transaction("calling the gateway (attempts must be committed first)")
    tokens = dict(
        PaymentMethod.objects.filter(pk__in={a.payment_method_id for a in attempts}).values_list(
            "id", "token"
        )
    )
    requests = [
        ChargeRequest(
            idempotency_key=a.idempotency_key,
            token=tokens[a.payment_method_id],
            amount=a.amount,
            currency=a.currency,
        )
        for a in attempts
    ]
    results = gateway.charge_many(requests)
    return attempts_record(attempts, results, clock=clock)


def attempts_record(
    attempts: Sequence[PaymentAttempt],
    results: Sequence[ChargeResult | None],
    *,
    clock: Clock,
) -> dict[str, int]:
    counts = {"succeeded": 0, "failed": 0, "unknown": 0}
    known = {a.pk: r for a, r in zip(attempts, results, strict=True) if r is not None}
    counts["unknown"] = len(attempts) - len(known)
    if not known:
        return counts
    now = clock.now()
    with transaction.atomic():
        # Only attempts still pending are recorded: a concurrent resolver may have won.
        pending = list(
            PaymentAttempt.objects.select_for_update()
            .filter(pk__in=known, status=AttemptStatus.PENDING)
            .select_related("payment_method")
        )
        incoming: list[IncomingPayment] = []
        events = []
        for attempt in pending:
            result = known[attempt.pk]
            attempt.completed_at = now
            attempt.gateway_reference = result.reference
            if result.succeeded:
                attempt.status = AttemptStatus.SUCCEEDED
                method = (
                    Payment.Method.CARD
                    if attempt.payment_method.kind == PaymentMethod.Kind.CARD
                    else Payment.Method.BANK_DEBIT
                )
                incoming.append(
                    IncomingPayment(
                        invoice_id=attempt.invoice_id,
                        amount=attempt.amount,
                        method=method,
                        account=chart.CLEARING,
                        attempt_id=attempt.pk,
                        gateway_reference=result.reference,
                    )
                )
                counts["succeeded"] += 1
            else:
                attempt.status = AttemptStatus.FAILED
                attempt.decline_code = result.decline_code
                attempt.failure_message = result.message[:200]
                counts["failed"] += 1
                events.append(
                    event_build(
                        organization_id=attempt.organization_id,
                        topic="payment.failed",
                        aggregate_type="invoice",
                        aggregate_id=attempt.invoice_id,
                        payload={
                            "invoice_id": attempt.invoice_id,
                            "attempt_id": attempt.pk,
                            "attempt_number": attempt.attempt_number,
                            "decline_code": result.decline_code,
                            "amount": attempt.amount,
                            "currency": attempt.currency,
                        },
                        clock=clock,
                    )
                )
        rows_update(
            PaymentAttempt,
            pending,
            ["status", "completed_at", "gateway_reference", "decline_code", "failure_message"],
        )
        payments_record(incoming, clock=clock)
        events_emit_bulk(events)
    return counts


def attempts_resolve(
    *,
    clock: Clock,
    gateway: Gateway,
    organization_id: int | None = None,
    older_than: timedelta = timedelta(0),
) -> dict[str, int]:
    """Settle attempts left pending by a crash or a lost reply, by their keys."""
    qs = PaymentAttempt.objects.filter(
        status=AttemptStatus.PENDING, created_at__lte=clock.now() - older_than
    ).select_related("payment_method")
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    stuck = list(qs)
    if not stuck:
        return {"succeeded": 0, "failed": 0, "unknown": 0}
    results: list[ChargeResult | None] = []
    for attempt in stuck:
        result = gateway.lookup(attempt.idempotency_key)
        if result is None:
            # The gateway never saw it: send the same key again; it cannot charge twice.
            replay = gateway.charge_many(
                [
                    ChargeRequest(
                        idempotency_key=attempt.idempotency_key,
                        token=attempt.payment_method.token,
                        amount=attempt.amount,
                        currency=attempt.currency,
                    )
                ]
            )
            result = replay[0] if replay[0] is not None else gateway.lookup(attempt.idempotency_key)
        results.append(result)
    return attempts_record(stuck, results, clock=clock)
