"""What staff do to a member, each through the owning app's service (the business rules
stay there) and each leaving a ``StaffAction`` row: who, what, to whom, when.

Where the operation is one transaction, the audit row is written inside it, so there is
never one without the other. A refund cannot be: its row is committed before the gateway
is asked (invariant 2), so its audit row follows the outcome, and a refused refund is
recorded too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dues.billing.invoices import credit_note_create
from dues.billing.models import CreditNote, Freeze, Invoice, Subscription
from dues.billing.services import subscription_cancel, subscription_change_plan, subscription_freeze
from dues.catalog.models import Plan
from dues.core.clock import Clock
from dues.core.models import Organization
from dues.members.models import Member, MemberNote
from dues.members.services import member_note_add
from dues.payments.gateways.base import Gateway
from dues.payments.models import Payment, Refund
from dues.payments.services import payment_take_at_desk, refund_create
from dues.staff.models import StaffAction, StaffRole
from dues.staff.roles import Action, Role


def staff_action_record(
    *, user: Any, member: Member, action: str, detail: dict[str, Any], clock: Clock
) -> StaffAction:
    return StaffAction.objects.create(
        organization_id=member.organization_id,
        user=user,
        member=member,
        action=Action(action),
        detail=detail,
        at=clock.now(),
    )


def _check_member(member: Member, *objects: Any) -> None:
    """Everything acted on belongs to the member's organization (the views look them up
    through the member already; this keeps the services honest on their own)."""
    for obj in objects:
        if obj.organization_id != member.organization_id:
            raise ValidationError("that belongs to another organization")


def staff_payment_take(
    *,
    user: Any,
    member: Member,
    invoice: Invoice,
    amount: int,
    method: str,
    clock: Clock,
    reference: str = "",
) -> Payment:
    _check_member(member, invoice)
    with transaction.atomic():
        payment = payment_take_at_desk(
            invoice=invoice, amount=amount, method=method, clock=clock, reference=reference
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.PAYMENT_DESK,
            detail={
                "payment_id": payment.pk,
                "invoice": invoice.number,
                "amount": amount,
                "currency": invoice.currency,
                "method": method,
                "reference": reference,
            },
            clock=clock,
        )
    return payment


def staff_refund(
    *,
    user: Any,
    member: Member,
    payment: Payment,
    amount: int,
    reason: str,
    clock: Clock,
    gateway: Gateway,
) -> Refund:
    _check_member(member, payment)
    detail: dict[str, Any] = {
        "payment_id": payment.pk,
        "amount": amount,
        "currency": payment.currency,
        "reason": reason.strip(),
    }
    try:
        refund = refund_create(
            payment=payment, amount=amount, reason=reason, clock=clock, gateway=gateway
        )
    except ValidationError as exc:
        failed = Refund.objects.filter(payment=payment).order_by("-id").first()
        if failed is not None and failed.status != Refund.Status.SUCCEEDED:
            # The gateway was asked and said no (or did not answer): that happened.
            staff_action_record(
                user=user,
                member=member,
                action=Action.REFUND,
                detail=detail | {"refund_id": failed.pk, "status": failed.status},
                clock=clock,
            )
        raise exc
    staff_action_record(
        user=user,
        member=member,
        action=Action.REFUND,
        detail=detail
        | {
            "refund_id": refund.pk,
            "status": refund.status,
            "credit_note": refund.credit_note.number if refund.credit_note else "",
        },
        clock=clock,
    )
    return refund


def staff_credit_note(
    *, user: Any, member: Member, invoice: Invoice, amount: int, reason: str, clock: Clock
) -> CreditNote:
    _check_member(member, invoice)
    with transaction.atomic():
        note = credit_note_create(invoice=invoice, amount=amount, reason=reason, clock=clock)
        staff_action_record(
            user=user,
            member=member,
            action=Action.CREDIT_NOTE,
            detail={
                "credit_note": note.number,
                "invoice": invoice.number,
                "amount": amount,
                "applied": note.applied_amount,
                "to_credit": note.credit_amount,
                "currency": note.currency,
                "reason": note.reason,
            },
            clock=clock,
        )
    return note


def staff_freeze(
    *,
    user: Any,
    member: Member,
    sub: Subscription,
    start_date: date,
    end_date: date,
    reason: str,
    clock: Clock,
) -> Freeze:
    _check_member(member, sub)
    with transaction.atomic():
        freeze = subscription_freeze(
            sub=sub, start_date=start_date, end_date=end_date, clock=clock, reason=reason
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.FREEZE,
            detail={
                "subscription_id": sub.pk,
                "freeze_id": freeze.pk,
                "start_date": str(start_date),
                "end_date": str(end_date),
                "fee": freeze.fee,
                "reason": reason,
            },
            clock=clock,
        )
    return freeze


def staff_cancel(
    *,
    user: Any,
    member: Member,
    sub: Subscription,
    reason: str,
    clock: Clock,
    immediately: bool = False,
    refund_unused: bool = False,
) -> Subscription:
    _check_member(member, sub)
    with transaction.atomic():
        sub = subscription_cancel(
            sub=sub,
            clock=clock,
            reason=reason,
            immediately=immediately,
            refund_unused=refund_unused,
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.CANCEL,
            detail={
                "subscription_id": sub.pk,
                "ends": str(sub.cancel_at),
                "immediately": immediately,
                "refund_unused": refund_unused,
                "reason": reason,
            },
            clock=clock,
        )
    return sub


def staff_change_plan(
    *,
    user: Any,
    member: Member,
    sub: Subscription,
    new_plan: Plan,
    clock: Clock,
    at_period_end: bool | None = None,
) -> Subscription:
    _check_member(member, sub, new_plan)
    old = sub.plan
    with transaction.atomic():
        sub = subscription_change_plan(
            sub=sub, new_plan=new_plan, clock=clock, at_period_end=at_period_end
        )
        staff_action_record(
            user=user,
            member=member,
            action=Action.PLAN_CHANGE,
            detail={
                "subscription_id": sub.pk,
                "from_plan": old.name,
                "to_plan": new_plan.name,
                "at_period_end": sub.pending_plan_id is not None,
            },
            clock=clock,
        )
    return sub


def staff_note_add(*, user: Any, member: Member, text: str, clock: Clock) -> MemberNote:
    with transaction.atomic():
        note = member_note_add(member=member, text=text, author=user.get_username(), clock=clock)
        staff_action_record(
            user=user,
            member=member,
            action=Action.NOTE_ADD,
            detail={"note_id": note.pk},
            clock=clock,
        )
    return note


def staff_role_grant(
    *, user: Any, organization: Organization, role: str, clock: Clock
) -> StaffRole:
    """Give ``user`` a role in ``organization`` (or change the one they have)."""
    row, _ = StaffRole.objects.update_or_create(
        user=user,
        organization=organization,
        defaults={"role": Role(role)},
        create_defaults={"role": Role(role), "created_at": clock.now()},
    )
    return row
