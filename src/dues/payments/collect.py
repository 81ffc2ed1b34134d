"""The collection half of the billing run (DESIGN invariant 2).

For each open invoice never attempted, with a usable default payment method: commit an
attempt keyed ``inv_<invoice id>_<n>`` *before* calling the gateway, call the gateway
(concurrently, up to its limit), then record every outcome in one transaction. An attempt
whose outcome is unknown stays pending; ``attempts_resolve`` asks the gateway about its key
(and, if the gateway never saw it, replays the same key, which cannot charge twice).
Failures are left for dunning, which reads ``payment.failed`` events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef

from dues.billing.models import Invoice, InvoiceStatus
from dues.core.clock import Clock
from dues.core.db import forbid_transaction
from dues.core.outbox import Event, events_emit_bulk
from dues.core.rows import rows_insert, rows_update
from dues.ledger import chart
from dues.payments.gateways.base import ChargeRequest, ChargeResult, Gateway, GatewayError
from dues.payments.models import AttemptStatus, Payment, PaymentAttempt, PaymentMethod
from dues.payments.services import IncomingPayment, payments_record


def attempt_key(invoice_id: int, number: int) -> str:
    return f"inv_{invoice_id}_{number}"


def attempt_key_parse(key: str) -> tuple[int, int]:
    """(invoice id, attempt number) from an ``attempt_key``."""
    prefix, invoice_id, number = key.split("_")
    if prefix != "inv":
        raise ValueError(f"not an attempt key: {key!r}")
    return int(invoice_id), int(number)


def collectable_invoices(organization_id: int | None = None):  # type: ignore[no-untyped-def]
    default_method = PaymentMethod.objects.usable_defaults().filter(payer_id=OuterRef("payer_id"))
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
    resolve: bool = True,
) -> dict[str, int]:
    """Charge every never-attempted open invoice; returns counts by outcome.

    With ``resolve`` (one collector alone), pending attempts are settled first and this
    run's lost replies at the end. Several collectors sharing a run pass ``resolve=False``
    and their coordinator resolves before and after: a pending attempt may be another
    collector's charge in flight."""
    batch_size = batch_size or settings.DUES_BILLING_BATCH_SIZE
    totals = {"succeeded": 0, "failed": 0, "unknown": 0}
    if resolve:
        for outcome, n in attempts_resolve(
            clock=clock, gateway=gateway, organization_id=organization_id
        ).items():
            totals[outcome] += n
    after = 0  # a keyset over invoice ids, restarted once at the end (see invoice_due)
    while True:
        attempts = attempts_open(
            clock=clock,
            organization_id=organization_id,
            invoice_ids=invoice_ids,
            batch_size=batch_size,
            after=after,
        )
        if not attempts and after:
            after = 0
            continue
        if not attempts:
            if resolve:
                # Lost replies from this run are settled now, by key, before the run ends.
                totals_settle(
                    totals,
                    attempts_resolve(clock=clock, gateway=gateway, organization_id=organization_id),
                )
            return totals
        after = max(a.invoice_id for a in attempts)
        for outcome, n in attempts_send(attempts, clock=clock, gateway=gateway).items():
            totals[outcome] += n


class Attempt(NamedTuple):
    """A committed payment attempt, as the collection steps pass it along."""

    id: int
    organization_id: int
    invoice_id: int
    payment_method_id: int
    attempt_number: int
    idempotency_key: str
    amount: int
    currency: str
    token: str
    method_kind: str
    customer: str


ATTEMPT_FIELDS = [
    "id",
    "organization_id",
    "invoice_id",
    "payment_method_id",
    "attempt_number",
    "idempotency_key",
    "amount",
    "currency",
    "payment_method__token",
    "payment_method__kind",
    "payment_method__customer_reference",
]


def totals_settle(totals: dict[str, int], resolved: dict[str, int]) -> None:
    """Count attempts settled by ``attempts_resolve`` after a run: each one settled was an
    unknown outcome of this run."""
    for outcome, n in resolved.items():
        if outcome != "unknown":  # still unknown ones were counted when sent
            totals[outcome] += n
            totals["unknown"] -= n


def attempts_open(
    *,
    clock: Clock,
    organization_id: int | None,
    invoice_ids: Sequence[int] | None,
    batch_size: int,
    retry: bool = False,
    after: int = 0,
    amounts: Mapping[int, int] | None = None,
) -> list[Attempt]:
    """Claim a batch of invoices with ids above ``after`` and commit one attempt for each
    (transaction 1), for the amount due or, where ``amounts`` names the invoice, for at
    most that much (an instalment)."""
    with transaction.atomic():
        qs = (
            collectable_invoices(organization_id)
            if not retry
            else Invoice.objects.filter(status=InvoiceStatus.OPEN, amount_due__gt=0)
        )
        if invoice_ids is not None:
            qs = qs.filter(pk__in=invoice_ids)
        qs = qs.filter(id__gt=after).exclude(attempts__status=AttemptStatus.PENDING).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        invoices = list(
            qs.values_list(
                "id", "payer_id", "amount_due", "currency", "attempt_count", "organization_id"
            )[:batch_size]
        )
        if not invoices:
            return []
        methods = {
            payer: (pk, token, kind, customer)
            for payer, pk, token, kind, customer in PaymentMethod.objects.usable_defaults()
            .filter(payer_id__in={row[1] for row in invoices})
            .values_list("payer_id", "id", "token", "kind", "customer_reference")
        }
        now = clock.now()
        part = amounts or {}
        opened = [
            (
                org_id,
                inv_id,
                methods[payer_id],
                count + 1,
                attempt_key(inv_id, count + 1),
                min(due, part.get(inv_id, due)),
                cur,
            )
            for inv_id, payer_id, due, cur, count, org_id in invoices
            if payer_id in methods
        ]
        ids = rows_insert(
            PaymentAttempt,
            [
                "organization_id",
                "invoice_id",
                "payment_method_id",
                "attempt_number",
                "idempotency_key",
                "amount",
                "currency",
                "status",
                "gateway_reference",
                "decline_code",
                "advice_code",
                "failure_message",
                "created_at",
                "completed_at",
            ],
            [
                (
                    org_id,
                    inv_id,
                    method[0],
                    number,
                    key,
                    due,
                    currency,
                    AttemptStatus.PENDING,
                    "",
                    "",
                    "",
                    "",
                    now,
                    None,
                )
                for org_id, inv_id, method, number, key, due, currency in opened
            ],
            returning=True,
        )
        Invoice.objects.filter(pk__in=[o[1] for o in opened]).update(
            attempt_count=F("attempt_count") + 1
        )
    return [
        Attempt(pk, org_id, inv_id, m[0], n, key, due, cur, m[1], m[2], m[3])
        for pk, (org_id, inv_id, m, n, key, due, cur) in zip(ids, opened, strict=True)
    ]


def invoices_retry(
    invoice_ids: Sequence[int],
    *,
    clock: Clock,
    gateway: Gateway,
    amounts: Mapping[int, int] | None = None,
) -> dict[str, int]:
    """Charge these open invoices once more (dunning's retries, payment plans' instalments
    with ``amounts``), each with its next key."""
    attempts = attempts_open(
        clock=clock,
        organization_id=None,
        invoice_ids=invoice_ids,
        batch_size=max(len(invoice_ids), 1),
        retry=True,
        amounts=amounts,
    )
    if not attempts:
        return {"succeeded": 0, "failed": 0, "unknown": 0}
    return attempts_send(attempts, clock=clock, gateway=gateway)


def attempts_send(attempts: Sequence[Attempt], *, clock: Clock, gateway: Gateway) -> dict[str, int]:
    """Call the gateway for committed attempts, then record what it said (transaction 2)."""
    forbid_transaction("calling the gateway (attempts must be committed first)")
    results = gateway.charge_many([_request(a) for a in attempts])
    return attempts_record(attempts, results, clock=clock)


def _request(a: Attempt) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=a.idempotency_key,
        token=a.token,
        amount=a.amount,
        currency=a.currency,
        organization_id=a.organization_id,
        customer=a.customer,
    )


def attempts_record(
    attempts: Sequence[Attempt],
    results: Sequence[ChargeResult | None],
    *,
    clock: Clock,
) -> dict[str, int]:
    counts = {"succeeded": 0, "failed": 0, "unknown": 0}
    # A pending result (a bank debit still clearing) is not an outcome yet.
    known = {
        a.id: (a, r)
        for a, r in zip(attempts, results, strict=True)
        if r is not None and not r.pending
    }
    counts["unknown"] = len(attempts) - len(known)
    if not known:
        return counts
    now = clock.now()
    with transaction.atomic():
        # Only attempts still pending are recorded: a concurrent resolver may have won.
        pending = (
            PaymentAttempt.objects.select_for_update()
            .filter(pk__in=known, status=AttemptStatus.PENDING)
            .order_by("id")
            .values_list("id", flat=True)
        )
        incoming: list[IncomingPayment] = []
        events: list[Event] = []
        updates = []
        for pk in pending:
            attempt, result = known[pk]
            if result.succeeded:
                updates.append((pk, AttemptStatus.SUCCEEDED, now, result.reference, "", "", ""))
                incoming.append(
                    IncomingPayment(
                        invoice_id=attempt.invoice_id,
                        amount=attempt.amount,
                        method=(
                            Payment.Method.CARD
                            if attempt.method_kind == PaymentMethod.Kind.CARD
                            else Payment.Method.BANK_DEBIT
                        ),
                        account=chart.CLEARING,
                        attempt_id=pk,
                        gateway_reference=result.reference,
                    )
                )
                counts["succeeded"] += 1
                continue
            updates.append(
                (
                    pk,
                    AttemptStatus.FAILED,
                    now,
                    result.reference,
                    result.decline_code,
                    result.advice_code,
                    result.message[:200],
                )
            )
            counts["failed"] += 1
            payload = {
                "invoice_id": attempt.invoice_id,
                "attempt_id": pk,
                "attempt_number": attempt.attempt_number,
                "decline_code": result.decline_code,
                "advice_code": result.advice_code,
                "amount": attempt.amount,
                "currency": attempt.currency,
            }
            events.append(
                Event(
                    attempt.organization_id,
                    "payment.failed",
                    "invoice",
                    attempt.invoice_id,
                    payload,
                    now,
                )
            )
        rows_update(
            PaymentAttempt,
            [
                "status",
                "completed_at",
                "gateway_reference",
                "decline_code",
                "advice_code",
                "failure_message",
            ],
            updates,
        )
        payments_record(incoming, clock=clock)
        events_emit_bulk(events)
    return counts


def attempts_settle(
    keys: Sequence[str],
    results: Sequence[ChargeResult],
    *,
    clock: Clock,
    organization_id: int | None = None,
) -> dict[str, int]:
    """Record outcomes the gateway told us of (its events), for attempts still pending."""
    by_key = dict(zip(keys, results, strict=True))
    qs = PaymentAttempt.objects.filter(idempotency_key__in=by_key, status=AttemptStatus.PENDING)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    pending = [Attempt(*row) for row in qs.values_list(*ATTEMPT_FIELDS)]
    return attempts_record(pending, [by_key[a.idempotency_key] for a in pending], clock=clock)


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
    )
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    stuck = [Attempt(*row) for row in qs.order_by("id").values_list(*ATTEMPT_FIELDS)]
    if not stuck:
        return {"succeeded": 0, "failed": 0, "unknown": 0}
    results: list[ChargeResult | None] = []
    for attempt in stuck:
        request = _request(attempt)
        try:
            result = gateway.lookup(request)
        except GatewayError:
            results.append(None)  # ask again next time; never charge on a guess
            continue
        if result is None:
            # The gateway never saw it: send the same key again; it cannot charge twice.
            replay = gateway.charge_many([request])
            if replay[0] is not None:
                result = replay[0]
            else:
                try:
                    result = gateway.lookup(request)
                except GatewayError:
                    result = None
        results.append(result)
    return attempts_record(stuck, results, clock=clock)
