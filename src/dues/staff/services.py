"""What staff do to a member, each through the owning app's service (the business rules
stay there) and each leaving a ``StaffAction`` row: who, what, to whom, when.

Where the operation is one transaction, the audit row is written inside it, so there is
never one without the other. A refund cannot be: its row is committed before the gateway
is asked (invariant 2), so its audit row follows the outcome, and a refused refund is
recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from dues.billing.invoices import credit_note_create
from dues.billing.models import CreditNote, Freeze, Invoice, Subscription
from dues.billing.services import subscription_cancel, subscription_change_plan, subscription_freeze
from dues.catalog.models import AddOn, Contract, Interval, Plan, TaxCategory
from dues.catalog.services import (
    addon_create,
    addon_update,
    addon_values,
    plan_create,
    plan_update,
    plan_values,
)
from dues.core.clock import Clock
from dues.core.models import Location, Organization
from dues.core.money import MoneyError
from dues.dunning.models import DunningPolicy
from dues.dunning.services import policy_create, policy_update, policy_values
from dues.members.models import Member, MemberNote
from dues.members.services import member_note_add
from dues.notify.models import TemplateOverride
from dues.notify.render import money_text
from dues.notify.services import template_override_reset, template_override_save
from dues.payments.gateways.base import Gateway
from dues.payments.models import Payment, Refund
from dues.payments.services import payment_take_at_desk, refund_create
from dues.staff.models import StaffAction, StaffChange, StaffRole
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


def staff_change_record(
    *,
    user: Any,
    organization_id: int,
    action: str,
    target: str,
    summary: str,
    before: dict[str, Any],
    after: dict[str, Any],
    clock: Clock,
) -> StaffChange:
    """Record a change to the set-up; call it inside the change's transaction. Values must
    be JSON (the caller turns dates, decimals and models into text or ids)."""
    return StaffChange.objects.create(
        organization_id=organization_id,
        user=user,
        action=Action(action),
        target=target,
        summary=summary[:200],
        before=before,
        after=after,
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


# --- plans and prices (set-up changes, recorded as ``StaffChange``) ----------------------------

CATALOG_LABELS = {
    "name": gettext_lazy("name"),
    "code": gettext_lazy("code"),
    "description": gettext_lazy("description"),
    "interval": gettext_lazy("interval"),
    "currency": gettext_lazy("currency"),
    "price": gettext_lazy("price"),
    "joining_fee": gettext_lazy("joining fee"),
    "freeze_fee": gettext_lazy("freeze fee"),
    "minimum_term_periods": gettext_lazy("minimum term (periods)"),
    "notice_days": gettext_lazy("notice (days)"),
    "trial_days": gettext_lazy("trial (days)"),
    "tax_category": gettext_lazy("tax category"),
    "sold_online": gettext_lazy("sold online"),
    "active": gettext_lazy("active"),
    "contract": gettext_lazy("contract"),
    "locations": gettext_lazy("locations"),
    "kind": gettext_lazy("kind"),
    "sessions": gettext_lazy("sessions"),
}
_CATALOG_MONEY = ("price", "joining_fee", "freeze_fee")
_CATALOG_CHOICES = {
    "interval": dict(Interval.choices),
    "tax_category": dict(TaxCategory.choices),
    "kind": dict(AddOn.Kind.choices),
}


@dataclass(frozen=True)
class CatalogChange:
    """What one save changed: the fields that changed, before and after (JSON: money in
    minor units, the contract and locations as ids); ``before`` is empty for something
    new, whose ``after`` holds every value. ``currency`` is the one it is priced in now."""

    target: str
    name: str
    currency: str
    before: dict[str, Any]
    after: dict[str, Any]


def _catalog_value(
    field: str, value: Any, *, currency: str, organization_id: int, language: str
) -> str:
    if field in _CATALOG_MONEY and isinstance(value, int):
        try:
            return money_text(value, currency, language)
        except MoneyError:
            return str(value)
    if field in _CATALOG_CHOICES:
        return str(_CATALOG_CHOICES[field].get(value, value))
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if field == "locations":
        rows = Location.objects.filter(organization_id=organization_id, pk__in=value)
        return ", ".join(rows.values_list("name", flat=True)) or gettext("all locations")
    if field == "contract":
        contract = Contract.objects.filter(organization_id=organization_id, pk=value).first()
        return contract.name if contract else gettext("standard terms only")
    return str(value)


def catalog_change_text(change: CatalogChange, *, organization_id: int, language: str) -> str:
    """What changed, in words: ``Monthly: price SEK 499.00 → SEK 549.00`` (each side's
    money in that side's currency)."""
    with translation.override(language):
        if not change.before:
            return gettext("%(name)s: added") % {"name": change.name}
        parts = []
        for field in change.after:
            label = str(CATALOG_LABELS.get(field, field))
            if field == "description":
                parts.append(gettext("%(field)s changed") % {"field": label})
                continue
            old, new = (
                _catalog_value(
                    field,
                    side[field],
                    currency=str(side.get("currency") or change.currency),
                    organization_id=organization_id,
                    language=language,
                )
                for side in (change.before, change.after)
            )
            parts.append(f"{label} {old} → {new}")
        return f"{change.name}: {'; '.join(parts)}"


def _catalog_change(
    item: Plan | AddOn, *, before: dict[str, Any], after: dict[str, Any]
) -> CatalogChange:
    """The audit content of a plan or add-on saved from ``before`` (empty when new: every
    value recorded) to ``after`` (otherwise only the fields that changed)."""
    changed = [field for field in after if not before or after[field] != before.get(field)]
    return CatalogChange(
        target=f"{item._meta.label_lower}:{item.pk}",
        name=item.name,
        currency=item.currency,
        before={field: before[field] for field in changed} if before else {},
        after={field: after[field] for field in changed},
    )


def _catalog_record(
    *, user: Any, organization_id: int, change: CatalogChange, clock: Clock
) -> None:
    if not change.after:
        return  # saved as it was: nothing to record
    staff_change_record(
        user=user,
        organization_id=organization_id,
        action=Action.CATALOG_EDIT,
        target=change.target,
        summary=catalog_change_text(change, organization_id=organization_id, language="en"),
        before=change.before,
        after=change.after,
        clock=clock,
    )


def staff_plan_create(
    *, user: Any, organization: Organization, values: dict[str, Any], clock: Clock
) -> tuple[Plan, CatalogChange]:
    """A new plan (``catalog.services.plan_create``) and its audit row, in one transaction."""
    with transaction.atomic():
        plan = plan_create(organization=organization, clock=clock, **values)
        change = _catalog_change(plan, before={}, after=plan_values(plan))
        _catalog_record(user=user, organization_id=organization.pk, change=change, clock=clock)
    return plan, change


def staff_plan_update(
    *, user: Any, plan: Plan, values: dict[str, Any], clock: Clock
) -> tuple[Plan, CatalogChange]:
    """Change a plan (``catalog.services.plan_update``) and record the fields that changed,
    before and after, in one transaction. The row is locked while it is read and written,
    so ``before`` is what the change replaced."""
    with transaction.atomic():
        current = Plan.objects.select_for_update().get(
            pk=plan.pk, organization_id=plan.organization_id
        )
        before = plan_values(current)
        plan_update(plan=current, clock=clock, **values)
        change = _catalog_change(current, before=before, after=plan_values(current))
        _catalog_record(
            user=user, organization_id=current.organization_id, change=change, clock=clock
        )
    return current, change


def staff_addon_create(
    *, user: Any, organization: Organization, values: dict[str, Any], clock: Clock
) -> tuple[AddOn, CatalogChange]:
    """A new add-on (``catalog.services.addon_create``) and its audit row, together."""
    with transaction.atomic():
        addon = addon_create(organization=organization, clock=clock, **values)
        change = _catalog_change(addon, before={}, after=addon_values(addon))
        _catalog_record(user=user, organization_id=organization.pk, change=change, clock=clock)
    return addon, change


def staff_addon_update(
    *, user: Any, addon: AddOn, values: dict[str, Any], clock: Clock
) -> tuple[AddOn, CatalogChange]:
    """Change an add-on (``catalog.services.addon_update``) and record what changed, with
    the row locked as for a plan."""
    with transaction.atomic():
        current = AddOn.objects.select_for_update().get(
            pk=addon.pk, organization_id=addon.organization_id
        )
        before = addon_values(current)
        addon_update(addon=current, clock=clock, **values)
        change = _catalog_change(current, before=before, after=addon_values(current))
        _catalog_record(
            user=user, organization_id=current.organization_id, change=change, clock=clock
        )
    return current, change


def staff_policy_save(
    *,
    user: Any,
    organization_id: int,
    policy: DunningPolicy | None,
    fields: dict[str, Any],
    steps: list[dict[str, Any]],
    clock: Clock,
    plan: Plan | None = None,
) -> DunningPolicy:
    """Create (``policy`` None: for ``plan``, or the gym's default) or change a dunning
    policy, its reminder steps replaced as a set, and record the change with the fields and
    steps before and after, in one transaction: both or neither."""
    with transaction.atomic():
        if policy is None:
            before: dict[str, Any] = {}
            saved = policy_create(
                organization_id=organization_id, plan=plan, fields=fields, steps=steps, clock=clock
            )
            verb = "created"
        else:
            current = DunningPolicy.objects.select_for_update().get(
                pk=policy.pk, organization_id=organization_id
            )
            before = policy_values(current)
            saved = policy_update(policy=current, fields=fields, steps=steps, clock=clock)
            verb = "changed"
        staff_change_record(
            user=user,
            organization_id=organization_id,
            action=Action.DUNNING_EDIT,
            target=f"dunning.policy:{saved.pk}",
            summary=f"Dunning policy {saved.name} {verb}",
            before=before,
            after=policy_values(saved),
            clock=clock,
        )
    return saved


def _template_target(template: str, part: str, language: str) -> str:
    return f"notify.template:{template}/{part}/{language}"[:80]


def staff_template_save(
    *,
    user: Any,
    organization: Organization,
    template: str,
    part: str,
    language: str,
    body: str,
    clock: Clock,
) -> TemplateOverride:
    """The organization's own wording of one part of a message in one language (checked by
    ``notify.services.template_override_check``), with the text before and after."""
    with transaction.atomic():
        before = (
            TemplateOverride.objects.select_for_update()
            .filter(organization=organization, template=template, part=part, language=language)
            .first()
        )
        saved = template_override_save(
            organization_id=organization.pk,
            template=template,
            part=part,
            language=language,
            body=body,
            user=user,
            clock=clock,
        )
        if before is None or before.body != saved.body:
            staff_change_record(
                user=user,
                organization_id=organization.pk,
                action=Action.TEMPLATES_EDIT,
                target=_template_target(template, part, language),
                summary=f"{template}: own wording of the {part} ({language})",
                before={"body": before.body} if before else {},
                after={"body": saved.body},
                clock=clock,
            )
    return saved


def staff_template_reset(
    *, user: Any, organization: Organization, template: str, part: str, language: str, clock: Clock
) -> bool:
    """Back to the default wording (the file's); False if it was already."""
    with transaction.atomic():
        removed = template_override_reset(
            organization_id=organization.pk, template=template, part=part, language=language
        )
        if removed is not None:
            staff_change_record(
                user=user,
                organization_id=organization.pk,
                action=Action.TEMPLATES_EDIT,
                target=_template_target(template, part, language),
                summary=f"{template}: default wording of the {part} ({language})",
                before={"body": removed.body},
                after={},
                clock=clock,
            )
    return removed is not None
