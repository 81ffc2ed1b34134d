"""Plans and prices: the list of plans and add-ons, and a page to add or edit each.

The plan page has two buttons. Preview prices a sign-up today from the values typed, not
saved (``billing.preview.first_charge`` on an unsaved copy of the plan: the billing run's
own code), and saves nothing. Save checks the same rules (``catalog.services``), saves,
records the change (``staff.services``) and says what changed.

A membership's price is fixed when it is sold, so a new price reaches new sign-ups and
plan changes from then on; the page says how many running memberships are on the plan and
at which prices, so the owner sees who keeps what.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from dues.billing.preview import (
    FirstCharge,
    PriceCount,
    addon_memberships_by_price,
    first_charge,
    plan_changes_scheduled,
    plan_memberships_by_price,
)
from dues.billing.pricing import LineSpec
from dues.catalog.models import AddOn, Plan
from dues.catalog.services import plan_check
from dues.core.clock import SystemClock
from dues.core.memo import memoized
from dues.core.models import Location, Organization
from dues.notify.render import date_text
from dues.staff.catalog_forms import AddOnForm, PlanForm
from dues.staff.forms import errors_to_form
from dues.staff.roles import Action
from dues.staff.services import (
    CatalogChange,
    catalog_change_text,
    staff_addon_create,
    staff_addon_update,
    staff_plan_create,
    staff_plan_update,
)
from dues.staff.session import staff_view
from dues.staff.views.members import lang, money, staff_of

CLOCK = SystemClock()


def _members_text(counts: list[PriceCount]) -> list[str]:
    """``3 at SEK 499.00`` for each price running memberships pay."""
    return [
        ngettext("%(n)s at %(price)s", "%(n)s at %(price)s", c.count)
        % {"n": c.count, "price": money(c.price, c.currency)}
        for c in counts
    ]


def _saved(request: HttpRequest, change: CatalogChange, organization: Organization) -> None:
    if change.after:
        text = catalog_change_text(change, organization_id=organization.pk, language=lang())
        messages.success(request, _("Saved. %s") % text)
    else:
        messages.info(request, _("Nothing changed: %s is as it was.") % change.name)


# --- the list -----------------------------------------------------------------------------


def _plan_prices(org_id: int) -> dict[int, list[PriceCount]]:
    """Per plan, its running memberships by price: a sum over every membership, kept a
    minute (``core.memo``), shared by the list and each plan's page."""
    return memoized(
        f"plan-prices:{org_id}", lambda: plan_memberships_by_price(organization_id=org_id)
    )


def _addon_prices(org_id: int) -> dict[int, list[PriceCount]]:
    return memoized(
        f"addon-prices:{org_id}", lambda: addon_memberships_by_price(organization_id=org_id)
    )


@require_GET
@staff_view(Action.CATALOG_EDIT)
def plans(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    org = staff.organization
    plan_rows = Plan.objects.filter(organization=org).prefetch_related(
        Prefetch("locations", queryset=Location.objects.order_by("name"))
    )
    on_plan = _plan_prices(org.pk)
    addon_rows = AddOn.objects.filter(organization=org).order_by("name")
    on_addon = _addon_prices(org.pk)
    return render(
        request,
        "staff/plans.html",
        {
            "staff": staff,
            "plans": [
                {
                    "plan": plan,
                    "price": money(plan.price, plan.currency),
                    "joining_fee": money(plan.joining_fee, plan.currency)
                    if plan.joining_fee
                    else "",
                    "locations": ", ".join(loc.name for loc in plan.locations.all())
                    or _("All locations in %s") % plan.currency,
                    "members": sum(c.count for c in on_plan.get(plan.pk, [])),
                }
                for plan in plan_rows
            ],
            "addons": [
                {
                    "addon": addon,
                    "price": money(addon.price, addon.currency),
                    "members": sum(c.count for c in on_addon.get(addon.pk, [])),
                }
                for addon in addon_rows
            ],
        },
    )


# --- a plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    location: Location
    charge: FirstCharge
    lines: list[dict[str, str]]
    facts: list[tuple[str, str]]
    not_sold: bool


def _line(line: LineSpec, currency: str) -> dict[str, str]:
    rate = f"{line.tax_rate_bp / 100:g} %"
    return {
        "description": line.description,
        "tax": _("%(tax)s (%(rate)s)") % {"tax": money(line.tax_amount, currency), "rate": rate},
        "amount": money(line.total, currency),
    }


def _preview_location(form: PlanForm, plan: Plan, locations: list[Location]) -> Location | None:
    """The location chosen for the preview: one of the plan's (the first by default), or
    with none ticked, one of the gym's billing in the plan's currency."""
    chosen: Location | None = form.cleaned_data.get("preview_location")
    org_locations = Location.objects.filter(organization_id=plan.organization_id).order_by("name")
    allowed = sorted(locations, key=lambda loc: loc.name) or [
        loc for loc in org_locations if loc.currency == plan.currency
    ]
    if chosen is not None and chosen in allowed:
        return chosen
    if chosen is not None:
        form.add_error(
            "preview_location",
            _("The plan is not sold at %(location)s; pick one of its locations.")
            % {"location": chosen.name},
        )
        return None
    return allowed[0] if allowed else None


def _preview(form: PlanForm, plan: Plan, locations: list[Location]) -> Preview | None:
    """What a member joining today would pay, from the unsaved values in ``plan``."""
    org = form.organization
    location = _preview_location(form, plan, locations)
    if location is None:
        if not form.errors:
            form.add_error(None, _("No location sells this plan, so there is nothing to price."))
        return None
    candidate = copy.copy(plan)  # never saved; a switched-off plan is priced as if it sold
    not_sold = not candidate.active
    candidate.active = True
    charge = first_charge(organization=org, plan=candidate, location=location, clock=CLOCK)
    cur = candidate.currency
    language = lang()
    facts: list[tuple[str, str]] = [
        (
            _("First invoice"),
            _("%(total)s on %(date)s")
            % {"total": money(charge.total, cur), "date": date_text(charge.on, language)},
        ),
    ]
    if charge.trial_end:
        facts.append((_("Free trial"), _("until %s") % date_text(charge.trial_end, language)))
    facts += [
        (
            _("Next charge"),
            _("%(total)s on %(date)s")
            % {"total": money(charge.next_total, cur), "date": date_text(charge.next_on, language)},
        ),
        (
            _("Minimum term"),
            _("until %s") % date_text(charge.minimum_term_end, language)
            if charge.minimum_term_end
            else _("None"),
        ),
        (
            _("Notice"),
            ngettext(
                "%(days)s day, ending at the end of a billing period. Notice given on the "
                "first day ends the membership on %(end)s.",
                "%(days)s days, ending at the end of a billing period. Notice given on the "
                "first day ends the membership on %(end)s.",
                candidate.notice_days,
            )
            % {"days": candidate.notice_days, "end": date_text(charge.earliest_end, language)},
        ),
        (
            _("Freeze fee"),
            money(candidate.freeze_fee, cur) if candidate.freeze_fee else _("None"),
        ),
        (
            _("Tax"),
            _("Included in the prices") if org.prices_include_tax else _("Added to the prices"),
        ),
    ]
    return Preview(
        location=location,
        charge=charge,
        lines=[_line(line, cur) for line in charge.lines],
        facts=facts,
        not_sold=not_sold,
    )


def _plan_page(request: HttpRequest, plan: Plan | None) -> HttpResponse:
    staff = staff_of(request)
    org = staff.organization
    # The form writes what was typed onto its instance; ``plan`` keeps the stored values
    # (the rules compare against them: a currency change, a price being set).
    instance = copy.copy(plan) if plan is not None else Plan(organization=org)
    form = PlanForm(request.POST or None, instance=instance, organization=org)
    preview: Preview | None = None
    if request.method == "POST" and form.is_valid():
        values = form.values()
        locations = list(values.pop("locations", []))
        try:
            if "preview" in request.POST:
                # The same checks as saving, on the values typed; nothing is written.
                checked = plan_check(
                    organization_id=org.pk, values=values, locations=locations, plan=plan
                )
                for field, value in checked.items():
                    setattr(form.instance, field, value)
                preview = _preview(form, form.instance, locations)
            else:
                values["locations"] = locations
                if plan is None:
                    _saved_row, change = staff_plan_create(
                        user=staff.user, organization=org, values=values, clock=CLOCK
                    )
                else:
                    _saved_row, change = staff_plan_update(
                        user=staff.user, plan=plan, values=values, clock=CLOCK
                    )
                _saved(request, change, org)
                return HttpResponseRedirect(reverse("staff-plans"))
        except ValidationError as exc:
            errors_to_form(form, exc)
            preview = None
    members: list[str] = []
    scheduled = 0
    if plan is not None:
        members = _members_text(_plan_prices(org.pk).get(plan.pk, []))
        scheduled = plan_changes_scheduled(organization_id=org.pk, plan_id=plan.pk)
    return render(
        request,
        "staff/plan_form.html",
        {
            "staff": staff,
            "plan": plan,
            "title": _("Edit %s") % plan.name if plan else _("New plan"),
            "form": form,
            "preview": preview,
            "members": members,
            "scheduled": scheduled,
            "prices_include_tax": org.prices_include_tax,
        },
    )


def _plan_or_404(request: HttpRequest, plan_id: int) -> Plan:
    plan = Plan.objects.filter(organization=staff_of(request).organization, pk=plan_id).first()
    if plan is None:
        raise Http404
    return plan


@require_http_methods(["GET", "POST"])
@staff_view(Action.CATALOG_EDIT)
def plan_new(request: HttpRequest) -> HttpResponse:
    return _plan_page(request, None)


@require_http_methods(["GET", "POST"])
@staff_view(Action.CATALOG_EDIT)
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    return _plan_page(request, _plan_or_404(request, plan_id))


# --- an add-on ----------------------------------------------------------------------------


def _addon_page(request: HttpRequest, addon: AddOn | None) -> HttpResponse:
    staff = staff_of(request)
    org = staff.organization
    instance = copy.copy(addon) if addon is not None else AddOn(organization=org)
    form = AddOnForm(request.POST or None, instance=instance, organization=org)
    if request.method == "POST" and form.is_valid():
        try:
            if addon is None:
                _saved_row, change = staff_addon_create(
                    user=staff.user, organization=org, values=form.values(), clock=CLOCK
                )
            else:
                _saved_row, change = staff_addon_update(
                    user=staff.user, addon=addon, values=form.values(), clock=CLOCK
                )
            _saved(request, change, org)
            return HttpResponseRedirect(reverse("staff-plans"))
        except ValidationError as exc:
            errors_to_form(form, exc)
    members: list[str] = []
    if addon is not None:
        members = _members_text(_addon_prices(org.pk).get(addon.pk, []))
    return render(
        request,
        "staff/addon_form.html",
        {
            "staff": staff,
            "addon": addon,
            "title": _("Edit %s") % addon.name if addon else _("New add-on"),
            "form": form,
            "members": members,
        },
    )


def _addon_or_404(request: HttpRequest, addon_id: int) -> AddOn:
    addon = AddOn.objects.filter(organization=staff_of(request).organization, pk=addon_id).first()
    if addon is None:
        raise Http404
    return addon


@require_http_methods(["GET", "POST"])
@staff_view(Action.CATALOG_EDIT)
def addon_new(request: HttpRequest) -> HttpResponse:
    return _addon_page(request, None)


@require_http_methods(["GET", "POST"])
@staff_view(Action.CATALOG_EDIT)
def addon_edit(request: HttpRequest, addon_id: int) -> HttpResponse:
    return _addon_page(request, _addon_or_404(request, addon_id))
