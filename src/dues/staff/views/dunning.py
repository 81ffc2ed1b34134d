"""The dunning policies (owners and managers): the list, and one policy's form with a
preview of what happens to a failed payment, day by day.

"Preview" re-renders the form with the timeline of the values as typed and saves nothing;
"Save" checks them (the form asks ``dunning.checks``, the service asks again), saves the
policy and its reminder steps and records the change (``staff.services.staff_policy_save``),
then goes back to the list."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from dues.billing.models import Subscription, SubscriptionStatus
from dues.catalog.models import Plan
from dues.core.clock import SystemClock
from dues.core.memo import memoized
from dues.core.models import Location
from dues.core.selectors import organization_today
from dues.dunning.checks import steps_problems
from dues.dunning.experiments import running_experiment
from dues.dunning.models import DunningPolicy, FinalAction, LateFeeKind, ReminderStep, RetryMode
from dues.dunning.run import late_fee_day, restriction_days
from dues.dunning.services import DEFAULT_STEPS
from dues.dunning.timeline import FINAL_ACTION_NAMES, TimelineEvent, policy_timeline
from dues.notify.render import date_text
from dues.staff.dunning_forms import PlanChoiceForm, PolicyForm, StepFormSet
from dues.staff.roles import Action
from dues.staff.services import staff_policy_save
from dues.staff.session import Staff, staff_view
from dues.staff.views.members import lang, money, staff_of

CLOCK = SystemClock()

# An example charge when the gym has no plan to take a price from.
EXAMPLE_AMOUNT = 10000


def _policies(organization_id: int) -> list[DunningPolicy]:
    """The gym's default first, then the plans' own policies by plan name."""
    return list(
        DunningPolicy.objects.filter(organization_id=organization_id)
        .select_related("plan")
        .prefetch_related("steps")
        .order_by("plan__name", "id")
    )


def _policy_or_404(staff: Staff, policy_id: int) -> DunningPolicy:
    policy = (
        DunningPolicy.objects.filter(organization_id=staff.organization.pk, pk=policy_id)
        .select_related("plan")
        .first()
    )
    if policy is None:
        raise Http404
    return policy


def _currencies(organization_id: int) -> list[str]:
    return sorted(
        set(
            Location.objects.filter(organization_id=organization_id).values_list(
                "currency", flat=True
            )
        )
        | set(
            Plan.objects.filter(organization_id=organization_id).values_list("currency", flat=True)
        )
    )


def typical_charge(organization_id: int, plan: Plan | None) -> tuple[int, str]:
    """The example charge the preview fails: the plan's price; for the gym's default, the
    price most members pay (else the most common price among its plans)."""
    if plan is not None:
        return plan.price, plan.currency
    live = [SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.FROZEN]
    for rows in (
        Subscription.objects.filter(organization_id=organization_id, status__in=live),
        Plan.objects.filter(organization_id=organization_id, active=True),
    ):
        top = (
            rows.values("price", "currency")
            .annotate(n=Count("id"))
            .order_by("-n", "price", "currency")
            .first()
        )
        if top and top["price"]:
            return int(top["price"]), str(top["currency"])
    currencies = _currencies(organization_id)
    return EXAMPLE_AMOUNT, currencies[0] if currencies else "EUR"


def _summary(policy: DunningPolicy) -> dict[str, str]:
    """A policy's key numbers in words, for the list."""
    if policy.retry_mode == RetryMode.FIXED:
        days = ", ".join(str(d) for d in policy.retry_days) or "—"
        retries = _("On days %(days)s; %(n)s charges at most") % {
            "days": days,
            "n": policy.max_attempts,
        }
    else:
        retries = _("Smart; %(n)s charges at most") % {"n": policy.max_attempts}
    labels = (_("bookings from day %s"), _("access from day %s"), _("cancelled from day %s"))
    # The days the run uses: never within grace; a level left unset stops the later ones.
    blocks = [label % day for label, day in zip(labels, restriction_days(policy), strict=False)]
    if policy.late_fee_kind == LateFeeKind.FIXED and policy.late_fee_currency:
        fee = _("%(fee)s on day %(day)s") % {
            "fee": money(policy.late_fee_amount, policy.late_fee_currency),
            "day": late_fee_day(policy),
        }
    elif policy.late_fee_kind == LateFeeKind.PERCENT:
        fee = _("%(percent)s%% on day %(day)s") % {
            "percent": f"{policy.late_fee_bp / 100:g}",
            "day": late_fee_day(policy),
        }
    else:
        fee = _("None")
    return {
        "retries": retries,
        "reminders": _("%(n)s, on days %(days)s")
        % {
            "n": len(policy.steps.all()),
            "days": ", ".join(str(s.day_offset) for s in policy.steps.all()) or "—",
        }
        if policy.steps.all()
        else _("None"),
        "restrictions": ", ".join(blocks).capitalize() if blocks else _("None"),
        "late_fee": str(fee),
        "final": _("Day %(day)s: %(action)s")
        % {
            "day": policy.max_days,
            "action": str(FINAL_ACTION_NAMES[FinalAction(policy.final_action)]).lower(),
        },
    }


@require_GET
@staff_view(Action.DUNNING_EDIT)
def policies(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    rows = [
        {"policy": p, "applies_to": p.plan.name if p.plan else _("All plans"), **_summary(p)}
        for p in _policies(staff.organization.pk)
    ]
    return render(
        request,
        "staff/policies.html",
        {
            "staff": staff,
            "rows": rows,
            "can_add": bool(_free_plans(staff)) or not _has_default(staff),
        },
    )


def _has_default(staff: Staff) -> bool:
    return DunningPolicy.objects.filter(organization_id=staff.organization.pk, plan=None).exists()


def _free_plans(staff: Staff) -> Any:
    """The gym's plans without a policy of their own."""
    taken = DunningPolicy.objects.filter(
        organization_id=staff.organization.pk, plan__isnull=False
    ).values("plan_id")
    return (
        Plan.objects.filter(organization_id=staff.organization.pk)
        .exclude(pk__in=taken)
        .order_by("name")
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.DUNNING_EDIT)
def policy_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    staff = staff_of(request)
    return _policy_page(request, staff, _policy_or_404(staff, policy_id))


@require_http_methods(["GET", "POST"])
@staff_view(Action.DUNNING_EDIT)
def policy_new(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    return _policy_page(request, staff, None)


def _step_rows(formset: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """The kept steps, in the form's order, and the form each came from (to put the
    service's ``steps[i]`` errors back on it)."""
    steps, forms_used = [], []
    for i, form in enumerate(formset.forms):
        blank = i >= formset.initial_form_count() and not form.has_changed()
        if blank or form.cleaned_data.get("DELETE"):
            continue
        steps.append(form.step())
        forms_used.append(form)
    return steps, forms_used


def _errors_back(
    exc: ValidationError, form: PolicyForm, step_forms: list[Any], plan_form: PlanChoiceForm
) -> None:
    """A refusal from the service (or the steps' check), shown on the field it names."""
    for key, problems in exc.message_dict.items():
        errors = [str(capfirst(e)) for e in problems]
        if key.startswith("steps[") and "]." in key:
            index, name = key[len("steps[") :].split("].", 1)
            if index.isdigit() and int(index) < len(step_forms):
                step_forms[int(index)].add_error(name, errors)
                continue
        if key == "plan":
            plan_form.add_error("plan", errors)
        elif key in form.fields:
            form.add_error(key, errors)
        else:
            form.add_error(None, errors)


def _policy_page(request: HttpRequest, staff: Staff, policy: DunningPolicy | None) -> HttpResponse:
    org_id = staff.organization.pk
    has_default = _has_default(staff)
    if policy is None and has_default and not _free_plans(staff).exists():
        messages.info(request, _("Every plan already has its own dunning policy."))
        return HttpResponseRedirect(reverse("staff-policies"))
    data = request.POST if request.method == "POST" else None
    instance = policy or DunningPolicy(organization_id=org_id)
    form = PolicyForm(data, instance=instance, currencies=_currencies(org_id))
    if policy is not None:
        saved_steps = list(policy.steps.order_by("day_offset"))
        initial = [
            {"day_offset": s.day_offset, "channels": list(s.channels), "tone": s.tone}
            for s in saved_steps
        ]
    else:
        initial = [
            {"day_offset": day, "channels": [str(c) for c in channels], "tone": str(tone)}
            for day, channels, tone in DEFAULT_STEPS
        ]
    # Posted rows are taken as typed (a saved row is kept unless "Remove" is ticked).
    formset = StepFormSet(data, initial=None if data is not None else initial, prefix="steps")
    plan_form = PlanChoiceForm(data, plans=_free_plans(staff), default_free=not has_default)
    plan = policy.plan if policy else None
    today = organization_today(clock=CLOCK, organization_id=org_id)
    timeline: list[TimelineEvent] = []
    preview: tuple[DunningPolicy, list[ReminderStep]] | None = None
    if data is not None:
        valid = form.is_valid() & formset.is_valid()
        if policy is None:
            valid = plan_form.is_valid() & valid
            plan = plan_form.cleaned_data.get("plan") if plan_form.is_valid() else None
        steps, step_forms = _step_rows(formset) if formset.is_valid() else ([], [])
        if valid:
            fields = form.policy_fields()
            problems = steps_problems(steps, max_days=fields["max_days"])
            if problems:
                _errors_back(ValidationError(problems), form, step_forms, plan_form)
            elif "save" in request.POST:
                try:
                    saved = staff_policy_save(
                        user=staff.user,
                        organization_id=org_id,
                        policy=policy,
                        plan=plan,
                        fields=fields,
                        steps=steps,
                        clock=CLOCK,
                    )
                except ValidationError as exc:
                    _errors_back(exc, form, step_forms, plan_form)
                else:
                    messages.success(request, _("Dunning policy “%s” saved.") % saved.name)
                    return HttpResponseRedirect(reverse("staff-policies"))
            else:
                unsaved = DunningPolicy(organization_id=org_id, plan=plan, **fields)
                preview = (unsaved, [ReminderStep(**s) for s in steps])
    amount, currency = memoized(
        f"typical-charge:{org_id}:{plan.pk if plan else ''}", lambda: typical_charge(org_id, plan)
    )
    if preview is not None:
        timeline = policy_timeline(
            preview[0], preview[1], failed_on=today, amount=amount, currency=currency
        )
    elif data is None and policy is not None:
        timeline = policy_timeline(
            policy, saved_steps, failed_on=today, amount=amount, currency=currency
        )
    if policy is None:
        for_label = ""
    else:
        for_label = policy.plan.name if policy.plan else _("All plans")
    return render(
        request,
        "staff/policy_form.html",
        {
            "staff": staff,
            "policy": policy,
            "experiment": running_experiment(policy) if policy else None,
            "for_label": for_label,
            "form": form,
            "formset": formset,
            "plan_form": plan_form if policy is None else None,
            "before_steps": _groups(form, GROUPS_BEFORE_STEPS),
            "after_steps": _groups(form, GROUPS_AFTER_STEPS),
            "invalid": data is not None and preview is None,
            "problems": _problems(plan_form if policy is None else None, form, formset),
            "previewing": preview is not None,
            "timeline": [
                {
                    "event": e,
                    "date": date_text(e.on, lang()),
                    "owed": money(e.owed, currency),
                    "fee": money(e.amount, currency) if e.amount else "",
                }
                for e in timeline
            ],
            "example": _("A charge of %(amount)s that fails today, %(date)s, and is never paid.")
            % {"amount": money(amount, currency), "date": date_text(today, lang())},
        },
    )


def _problems(plan_form: PlanChoiceForm | None, form: PolicyForm, formset: Any) -> list[Any]:
    """Every field with an error, for the summary at the top: (its id, label, message)."""
    out = []
    if plan_form is not None and plan_form.is_bound:
        out += [
            (plan_form[n].auto_id, plan_form[n].label, e[0]) for n, e in plan_form.errors.items()
        ]
    if form.is_bound:
        out += [
            (form[n].auto_id, form[n].label, e[0])
            for n, e in form.errors.items()
            if n in form.fields
        ]
        for i, step in enumerate(formset.forms if formset.is_bound else []):
            for n, e in step.errors.items():
                if n in step.fields:
                    label = _("Reminder %(n)s, %(field)s") % {"n": i + 1, "field": step[n].label}
                    out.append((step[n].auto_id, label, e[0]))
    return out


Group = tuple[str, Any, tuple[str, ...]]

GROUPS_BEFORE_STEPS: tuple[Group, ...] = (
    ("retries", gettext_lazy("Retrying the card"), ("retry_mode", "retry_days", "max_attempts")),
)
GROUPS_AFTER_STEPS: tuple[Group, ...] = (
    (
        "restrictions",
        gettext_lazy("Restrictions"),
        ("grace_days", "block_bookings_after_days", "block_access_after_days", "cancel_after_days"),
    ),
    (
        "late-fee",
        gettext_lazy("Late fee"),
        (
            "late_fee_kind",
            "late_fee_amount",
            "late_fee_currency",
            "late_fee_bp",
            "late_fee_after_days",
        ),
    ),
    ("final", gettext_lazy("Final action"), ("max_days", "final_action")),
    (
        "notices",
        gettext_lazy("Before anything fails"),
        ("card_expiry_notice_days", "renewal_notice_days", "risk_notice_bp", "risk_notice_days"),
    ),
)


def _groups(form: PolicyForm, groups: tuple[Group, ...]) -> list[dict[str, Any]]:
    return [
        {"slug": slug, "title": title, "fields": [form[name] for name in names]}
        for slug, title, names in groups
    ]
