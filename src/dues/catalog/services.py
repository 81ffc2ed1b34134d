"""Writes for the catalog: plans and add-ons, and the rules they keep.

Prices are integers in the currency's minor unit. ``plan_check`` and ``addon_check`` hold
the rules; ``plan_create``/``plan_update`` and ``addon_create``/``addon_update`` apply
them before writing, and the admin's forms call the same checks, so there is one copy.
Every error is raised as a ``CatalogError`` keyed by the field it is about.

The rules:

- A code is letters, digits, hyphens and underscores, unique among the organization's
  plans (add-ons have their own codes).
- A plan's price is greater than zero. There are no free plans: a membership given away
  (staff, a partner) is a 100% coupon on a priced plan, so what it is worth still shows in
  reports and a typo of 0 is caught. Joining and freeze fees may be 0. An add-on's price is
  greater than zero too. The rule is checked when a price is set, so an older row priced 0
  can still be switched off without being priced first.
- The currency is an ISO 4217 code that the plan can be sold in: every location the plan
  lists bills in it, and a plan that lists no locations (sold at every location billing in
  its currency) or an add-on needs at least one location of the organization that does.
- Once memberships have been sold on a plan (or with an add-on) its currency stays:
  a membership keeps the currency it was sold in, and plan changes and reports assume a
  plan has one. Sell in another currency with a new plan.
- Terms are whole numbers within bounds that catch typing errors: a minimum term of at
  most 120 periods, notice and trial of at most 366 days (the API's limits).
- A pack add-on holds at least one session; a recurring add-on counts none.

What a change reaches: a membership's price, interval, trial and minimum term are fixed
when it is sold (``billing.services.subscription_build``), so new prices apply to new
sign-ups and plan changes from then on. The plan's name (on invoice lines), notice period,
freeze fee and tax category are read from the plan whenever they are used, so they apply
to existing members too. Deactivating a plan stops new sign-ups and keeps its members.
Plans and add-ons are never deleted here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from dues.catalog.models import AddOn, Contract, Interval, Plan, TaxCategory
from dues.core.clock import Clock
from dues.core.models import Location, Organization
from dues.core.money import MAX_MINOR_AMOUNT, MoneyError, validate_currency

PLAN_FIELDS = (
    "name",
    "code",
    "description",
    "interval",
    "currency",
    "price",
    "joining_fee",
    "freeze_fee",
    "minimum_term_periods",
    "notice_days",
    "trial_days",
    "tax_category",
    "sold_online",
    "active",
    "contract",
)
ADDON_FIELDS = ("name", "code", "kind", "currency", "price", "sessions", "tax_category", "active")

MAX_MINIMUM_TERM_PERIODS = 120
MAX_NOTICE_DAYS = 366
MAX_TRIAL_DAYS = 366

_CODE = re.compile(r"[-a-zA-Z0-9_]+")
_MONEY_LABELS = {"price": "price", "joining_fee": "joining fee", "freeze_fee": "freeze fee"}


class CatalogError(ValidationError):
    """A plan or add-on that breaks a rule; ``message_dict`` names the fields."""


Errors = dict[str, list[str]]


def _text(errors: Errors, values: Mapping[str, Any], field: str, what: str, limit: int) -> str:
    text = str(values.get(field) or "").strip()
    if not text:
        errors[field].append(f"Give the {what} a {field}.")
    elif len(text) > limit:
        errors[field].append(f"Use at most {limit} characters.")
    return text


def _code(errors: Errors, values: Mapping[str, Any], what: str) -> str:
    code = str(values.get("code") or "").strip()
    if not code:
        errors["code"].append(f"Give the {what} a code, e.g. monthly.")
    elif not _CODE.fullmatch(code):
        errors["code"].append("A code may use only letters, digits, hyphens and underscores.")
    elif len(code) > 60:
        errors["code"].append("Use at most 60 characters.")
    return code


def _whole(errors: Errors, values: Mapping[str, Any], field: str, top: int, unit: str) -> int:
    value = values.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field].append(f"Enter a whole number of {unit}.")
        return 0
    if value < 0:
        errors[field].append("Must not be negative.")
    elif value > top:
        errors[field].append(f"At most {top} {unit}.")
    return value


def _amount(
    errors: Errors,
    values: Mapping[str, Any],
    field: str,
    *,
    must_be_positive: bool,
    hint: str = "",
) -> int:
    value = values.get(field)
    label = _MONEY_LABELS[field]
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field].append(f"Enter the {label} as an amount of money.")
        return 0
    if value < 0:
        errors[field].append(f"The {label} must not be negative.")
    elif value > MAX_MINOR_AMOUNT:
        errors[field].append(f"The {label} is larger than any gym charge; check the amount.")
    elif value == 0 and must_be_positive:
        errors[field].append(f"The {label} must be greater than zero.{hint}")
    return value


def _currency(errors: Errors, values: Mapping[str, Any]) -> str:
    try:
        return validate_currency(str(values.get("currency") or ""))
    except MoneyError as exc:
        errors["currency"].append(str(exc))
        return ""


def _billing_currencies(organization_id: int) -> set[str]:
    return set(
        Location.objects.filter(organization_id=organization_id).values_list("currency", flat=True)
    )


def _sold_somewhere(errors: Errors, organization_id: int, currency: str) -> None:
    """At least one of the organization's locations bills in ``currency``."""
    billed = _billing_currencies(organization_id)
    if billed and currency not in billed:
        errors["currency"].append(
            f"No location of this gym bills in {currency} (they bill in "
            f"{', '.join(sorted(billed))})."
        )


def _raise(errors: Errors) -> None:
    found = {field: messages for field, messages in errors.items() if messages}
    if found:
        raise CatalogError(found)


# --- plans --------------------------------------------------------------------------------


def plan_check(
    *,
    organization_id: int,
    values: Mapping[str, Any],
    locations: Sequence[Location],
    plan: Plan | None = None,
) -> dict[str, Any]:
    """Check a plan's values as they would be stored (every field of ``PLAN_FIELDS``;
    ``plan`` is the stored row when this is an edit) and the locations it is sold at.
    Returns the values cleaned (text trimmed, currency in capitals); raises
    ``CatalogError`` naming every field that breaks a rule."""
    errors: Errors = defaultdict(list)
    cleaned = dict(values)
    cleaned["name"] = _text(errors, values, "name", "plan", 120)
    cleaned["code"] = code = _code(errors, values, "plan")
    if code and not errors["code"]:
        taken = Plan.objects.filter(organization_id=organization_id, code=code)
        if plan is not None and plan.pk is not None:
            taken = taken.exclude(pk=plan.pk)
        if taken.exists():
            errors["code"].append(f"Another plan already has the code “{code}”.")
    cleaned["description"] = str(values.get("description") or "").strip()
    if values.get("interval") not in Interval.values:
        errors["interval"].append("Choose weekly, monthly, quarterly or yearly.")
    if values.get("tax_category") not in TaxCategory.values:
        errors["tax_category"].append("Choose a tax category.")

    # A price of 0 is refused when it is being set, not on an older row left as it was.
    price_set = plan is None or plan.pk is None or values.get("price") != plan.price
    cleaned["price"] = _amount(
        errors,
        values,
        "price",
        must_be_positive=price_set,
        hint=" To give a membership for free, use a 100% coupon on a priced plan.",
    )
    cleaned["joining_fee"] = _amount(errors, values, "joining_fee", must_be_positive=False)
    cleaned["freeze_fee"] = _amount(errors, values, "freeze_fee", must_be_positive=False)
    for field, top, unit in (
        ("minimum_term_periods", MAX_MINIMUM_TERM_PERIODS, "billing periods"),
        ("notice_days", MAX_NOTICE_DAYS, "days"),
        ("trial_days", MAX_TRIAL_DAYS, "days"),
    ):
        cleaned[field] = _whole(errors, values, field, top, unit)
    cleaned["sold_online"] = bool(values.get("sold_online"))
    cleaned["active"] = bool(values.get("active"))

    contract = values.get("contract")
    if contract is not None and (
        not isinstance(contract, Contract) or contract.organization_id != organization_id
    ):
        errors["contract"].append("That contract belongs to another organization.")

    foreign = [loc.name for loc in locations if loc.organization_id != organization_id]
    if foreign:
        errors["locations"].append(
            f"These locations belong to another organization: {', '.join(foreign)}"
        )
    cleaned["currency"] = currency = _currency(errors, values)
    if currency:
        elsewhere = [
            f"{loc.name} bills in {loc.currency}"
            for loc in locations
            if loc.organization_id == organization_id and loc.currency != currency
        ]
        if elsewhere:
            errors["currency"].append(
                f"The plan is priced in {currency} but {'; '.join(elsewhere)}. "
                "Price it in the locations' currency or sell it at other locations."
            )
        elif not locations:
            _sold_somewhere(errors, organization_id, currency)
        if (
            plan is not None
            and plan.pk is not None
            and currency != plan.currency
            and plan.subscriptions.exists()
        ):
            errors["currency"].append(
                f"Memberships have been sold on this plan in {plan.currency}, so its currency "
                f"stays {plan.currency}. Make a new plan to sell in {currency}."
            )
    _raise(errors)
    return cleaned


def plan_values(plan: Plan) -> dict[str, Any]:
    """The plan's editable values as JSON (money in minor units, the contract and the
    locations as ids): what an audit row keeps before and after a change."""
    values: dict[str, Any] = {field: getattr(plan, field) for field in PLAN_FIELDS}
    values["contract"] = plan.contract_id
    values["locations"] = sorted(plan.locations.values_list("pk", flat=True)) if plan.pk else []
    return values


def _plan_save(plan: Plan, locations: Iterable[Location] | None) -> None:
    try:
        with transaction.atomic():
            plan.save()
            if locations is not None:
                plan.locations.set(list(locations))
    except IntegrityError as exc:
        # Someone took the code between the check and the write.
        if (
            Plan.objects.filter(organization_id=plan.organization_id, code=plan.code)
            .exclude(pk=plan.pk)
            .exists()
        ):
            raise CatalogError(
                {"code": [f"Another plan already has the code “{plan.code}”."]}
            ) from exc
        raise


def plan_create(
    *,
    organization: Organization,
    name: str,
    code: str,
    currency: str,
    price: int,
    clock: Clock,
    interval: str = Interval.MONTH,
    description: str = "",
    joining_fee: int = 0,
    freeze_fee: int = 0,
    minimum_term_periods: int = 0,
    notice_days: int = 0,
    trial_days: int = 0,
    tax_category: str = TaxCategory.TRAINING,
    sold_online: bool = True,
    active: bool = True,
    contract: Contract | None = None,
    locations: Sequence[Location] = (),
) -> Plan:
    """A new plan, sold at ``locations`` (none: at every location billing in its
    currency). Plans carry no timestamps; ``clock`` is taken for the services'
    convention."""
    values = {
        "name": name,
        "code": code,
        "description": description,
        "interval": interval,
        "currency": currency,
        "price": price,
        "joining_fee": joining_fee,
        "freeze_fee": freeze_fee,
        "minimum_term_periods": minimum_term_periods,
        "notice_days": notice_days,
        "trial_days": trial_days,
        "tax_category": tax_category,
        "sold_online": sold_online,
        "active": active,
        "contract": contract,
    }
    locations = list(locations)
    cleaned = plan_check(organization_id=organization.pk, values=values, locations=locations)
    plan = Plan(organization=organization, **cleaned)
    _plan_save(plan, locations)
    return plan


def plan_update(*, plan: Plan, clock: Clock, **changes: Any) -> Plan:
    """Change some of a plan's values (names from ``PLAN_FIELDS``, and ``locations``);
    the others stay. Checked as a whole before anything is written; memberships already
    sold keep their price (see the module's notes)."""
    unknown = set(changes) - {*PLAN_FIELDS, "locations"}
    if unknown:
        raise TypeError(f"plan_update() got unknown fields: {', '.join(sorted(unknown))}")
    new_locations = changes.pop("locations", None)
    locations = list(plan.locations.all() if new_locations is None else new_locations)
    values = {field: getattr(plan, field) for field in PLAN_FIELDS} | changes
    cleaned = plan_check(
        organization_id=plan.organization_id, values=values, locations=locations, plan=plan
    )
    for field, value in cleaned.items():
        setattr(plan, field, value)
    _plan_save(plan, locations if new_locations is not None else None)
    return plan


# --- add-ons ------------------------------------------------------------------------------


def addon_check(
    *, organization_id: int, values: Mapping[str, Any], addon: AddOn | None = None
) -> dict[str, Any]:
    """Check an add-on's values as they would be stored (every field of ``ADDON_FIELDS``;
    ``addon`` is the stored row when this is an edit). Returns them cleaned; raises
    ``CatalogError`` naming every field that breaks a rule."""
    errors: Errors = defaultdict(list)
    cleaned = dict(values)
    cleaned["name"] = _text(errors, values, "name", "add-on", 120)
    cleaned["code"] = code = _code(errors, values, "add-on")
    if code and not errors["code"]:
        taken = AddOn.objects.filter(organization_id=organization_id, code=code)
        if addon is not None and addon.pk is not None:
            taken = taken.exclude(pk=addon.pk)
        if taken.exists():
            errors["code"].append(f"Another add-on already has the code “{code}”.")
    kind = values.get("kind")
    if kind not in AddOn.Kind.values:
        errors["kind"].append("Choose recurring or pack.")
    if values.get("tax_category") not in TaxCategory.values:
        errors["tax_category"].append("Choose a tax category.")
    price_set = addon is None or addon.pk is None or values.get("price") != addon.price
    cleaned["price"] = _amount(errors, values, "price", must_be_positive=price_set)
    sessions = cleaned["sessions"] = _whole(errors, values, "sessions", 1000, "sessions")
    if not errors["sessions"]:
        if kind == AddOn.Kind.PACK and sessions < 1:
            errors["sessions"].append("A pack holds at least one session.")
        elif kind == AddOn.Kind.RECURRING and sessions:
            errors["sessions"].append("Only packs count sessions; leave it at 0.")
    cleaned["active"] = bool(values.get("active"))
    cleaned["currency"] = currency = _currency(errors, values)
    if currency:
        _sold_somewhere(errors, organization_id, currency)
        if (
            addon is not None
            and addon.pk is not None
            and currency != addon.currency
            and addon.subscriptionaddon_set.exists()
        ):
            errors["currency"].append(
                f"Memberships carry this add-on in {addon.currency}, so its currency stays "
                f"{addon.currency}. Make a new add-on to sell in {currency}."
            )
    _raise(errors)
    return cleaned


def addon_values(addon: AddOn) -> dict[str, Any]:
    """The add-on's editable values as JSON (money in minor units)."""
    return {field: getattr(addon, field) for field in ADDON_FIELDS}


def _addon_save(addon: AddOn) -> None:
    try:
        with transaction.atomic():
            addon.save()
    except IntegrityError as exc:
        if (
            AddOn.objects.filter(organization_id=addon.organization_id, code=addon.code)
            .exclude(pk=addon.pk)
            .exists()
        ):
            raise CatalogError(
                {"code": [f"Another add-on already has the code “{addon.code}”."]}
            ) from exc
        raise


def addon_create(
    *,
    organization: Organization,
    name: str,
    code: str,
    currency: str,
    price: int,
    clock: Clock,
    kind: str = AddOn.Kind.RECURRING,
    sessions: int = 0,
    tax_category: str = TaxCategory.SERVICE,
    active: bool = True,
) -> AddOn:
    """A new add-on. ``clock`` is taken for the services' convention (no timestamps)."""
    values = {
        "name": name,
        "code": code,
        "kind": kind,
        "currency": currency,
        "price": price,
        "sessions": sessions,
        "tax_category": tax_category,
        "active": active,
    }
    cleaned = addon_check(organization_id=organization.pk, values=values)
    addon = AddOn(organization=organization, **cleaned)
    _addon_save(addon)
    return addon


def addon_update(*, addon: AddOn, clock: Clock, **changes: Any) -> AddOn:
    """Change some of an add-on's values (names from ``ADDON_FIELDS``); memberships that
    carry it keep the unit price they were sold."""
    unknown = set(changes) - set(ADDON_FIELDS)
    if unknown:
        raise TypeError(f"addon_update() got unknown fields: {', '.join(sorted(unknown))}")
    values = addon_values(addon) | changes
    cleaned = addon_check(organization_id=addon.organization_id, values=values, addon=addon)
    for field, value in cleaned.items():
        setattr(addon, field, value)
    _addon_save(addon)
    return addon
