"""Joining online, one page per step: membership, details, contract, payment. The
choices wait in the visitor's session until they sign (``portal.join``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dues.billing.models import ContractSignature
from dues.billing.preview import first_charge
from dues.billing.services import SubscriptionError, today_at
from dues.catalog.models import Plan
from dues.catalog.selectors import plans_sold_online
from dues.core.clock import SystemClock
from dues.core.models import Location, Organization
from dues.notify.render import date_text, money_text
from dues.payments.gateways.base import gateway_get
from dues.portal.join import (
    INTERVAL_TEXT,
    Details,
    contract_render,
    join_complete,
    join_sign,
    member_exists,
)
from dues.portal.join_forms import DetailsForm, PlanForm, SignForm
from dues.portal.session import member_login
from dues.portal.views.links import card_form_submit, hosted_setup

CLOCK = SystemClock()
SESSION_KEY = "dues_join"


def _state(request: HttpRequest, org: Organization) -> dict[str, Any]:
    """This visitor's sign-up at this gym (a visitor may have started at another)."""
    state = request.session.get(SESSION_KEY)
    if not state or state.get("org") != org.pk:
        return {"org": org.pk}
    return dict(state)


def _save(request: HttpRequest, state: dict[str, Any]) -> None:
    request.session[SESSION_KEY] = state


def _org(slug: str) -> Organization:
    return get_object_or_404(Organization, slug=slug)


def _chosen(org: Organization, state: dict[str, Any]) -> tuple[Location, Plan] | None:
    location_id, plan_id = state.get("location"), state.get("plan")
    if location_id is None or plan_id is None:
        return None
    location = Location.objects.filter(organization=org, pk=location_id).first()
    if location is None:
        return None
    plan = plans_sold_online(location).filter(pk=plan_id).first()
    if plan is None:
        return None
    return location, plan


def _details(state: dict[str, Any]) -> Details | None:
    raw = state.get("details")
    if not raw:
        return None
    born = raw.get("date_of_birth")
    return Details(**{**raw, "date_of_birth": date.fromisoformat(born) if born else None})


def _step(org: Organization, name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(f"portal-join-{name}", args=[org.slug]))


def _language(request: HttpRequest, state: dict[str, Any]) -> str:
    details = state.get("details") or {}
    return str(details.get("language") or translation.get_language() or "en")


def _page(
    request: HttpRequest, org: Organization, template: str, step: int, **context: Any
) -> HttpResponse:
    steps = [_("Membership"), _("Your details"), _("Contract"), _("Payment")]
    return render(
        request,
        f"portal/join/{template}.html",
        {"gym": org.name, "org": org, "steps": steps, "step": step, **context},
    )


@require_http_methods(["GET", "POST"])
def join_plan(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org(slug)
    state = _state(request, org)
    locations = list(Location.objects.filter(organization=org).order_by("name"))
    if not locations:
        raise Http404
    chosen = request.GET.get("location") or state.get("location")
    location = next((loc for loc in locations if str(loc.pk) == str(chosen)), None)
    if location is None and len(locations) == 1:
        location = locations[0]
    if location is None:
        return _page(request, org, "locations", 1, locations=locations)
    language = translation.get_language() or "en"
    plans = plans_sold_online(location)
    form = PlanForm(request.POST or None, plans=plans, initial={"plan": state.get("plan")})
    if request.method == "POST" and form.is_valid():
        state.update(location=location.pk, plan=form.cleaned_data["plan"].pk)
        state.pop("signature", None)
        _save(request, state)
        return _step(org, "details")
    offers = []
    for plan in plans:
        charge = first_charge(organization=org, plan=plan, location=location, clock=CLOCK)
        offers.append(
            {
                "plan": plan,
                "price": money_text(plan.price, plan.currency, language),
                "per": INTERVAL_TEXT[plan.interval](),
                "joining_fee": money_text(plan.joining_fee, plan.currency, language)
                if plan.joining_fee
                else "",
                "first_total": money_text(charge.total, plan.currency, language),
                "first_date": date_text(charge.on, language),
                "today": charge.on <= today_at(location, CLOCK),
            }
        )
    return _page(
        request,
        org,
        "plan",
        1,
        form=form,
        location=location,
        offers=offers,
        other_locations=len(locations) > 1,
    )


@require_http_methods(["GET", "POST"])
def join_details(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org(slug)
    state = _state(request, org)
    chosen = _chosen(org, state)
    if chosen is None:
        return _step(org, "plan")
    location, _plan = chosen
    today = today_at(location, CLOCK)
    saved = state.get("details") or {"language": translation.get_language()}
    form = DetailsForm(request.POST or None, initial=saved, today=today)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if member_exists(org, data["email"]):
            form.add_error(
                "email",
                _(
                    "%(gym)s already has a member with this email address. "
                    "Sign in to add a membership."
                )
                % {"gym": org.name},
            )
        else:
            born = data["date_of_birth"]
            state["details"] = {**data, "date_of_birth": born.isoformat() if born else None}
            state.pop("signature", None)
            _save(request, state)
            return _step(org, "contract")
    return _page(request, org, "details", 2, form=form)


@require_http_methods(["GET", "POST"])
def join_contract(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org(slug)
    state = _state(request, org)
    chosen, details = _chosen(org, state), _details(state)
    if chosen is None:
        return _step(org, "plan")
    if details is None:
        return _step(org, "details")
    if state.get("signature"):
        return _step(org, "payment")
    location, plan = chosen
    language = details.language
    with translation.override(language):
        contract = contract_render(
            organization=org,
            plan=plan,
            location=location,
            details=details,
            language=language,
            clock=CLOCK,
        )
        form = SignForm(request.POST or None, initial={"text_sha256": contract.sha256})
        if request.method == "POST" and form.is_valid():
            if form.cleaned_data["text_sha256"] != contract.sha256:
                # The terms changed while the page was open (a new version, a new day):
                # the visitor signs only what they were shown.
                messages.warning(
                    request,
                    _("The contract has changed since you opened it. Please read it again."),
                )
                return _step(org, "contract")
            try:
                signature = join_sign(
                    organization=org,
                    plan=plan,
                    location=location,
                    details=details,
                    contract=contract,
                    typed_name=form.cleaned_data["typed_name"],
                    ip_address=request.META.get("REMOTE_ADDR") or "0.0.0.0",
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    clock=CLOCK,
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "typed_name" in exc.error_dict:
                    form.add_error(
                        "typed_name",
                        _("Type your full name as you gave it: %(name)s")
                        % {"name": details.full_name},
                    )
                else:
                    raise
            else:
                state["signature"] = signature.pk
                _save(request, state)
                return _step(org, "payment")
        return _page(request, org, "contract", 3, form=form, contract=contract)


@require_http_methods(["GET", "POST"])
def join_payment(request: HttpRequest, slug: str) -> HttpResponse:
    org = _org(slug)
    state = _state(request, org)
    signature_id = state.get("signature")
    signature = (
        ContractSignature.objects.filter(organization=org, pk=signature_id)
        .select_related("member__home_location", "member__organization", "plan", "location")
        .first()
        if signature_id is not None
        else None
    )
    if signature is None:
        return _step(org, "contract")
    member = signature.member
    language = signature.language
    with translation.override(language):
        gateway = gateway_get()
        hosted, fresh, error = hosted_setup(request, member, gateway, language)
        form, added = card_form_submit(request, member, hosted)
        if fresh is not None or added:
            try:
                joined = join_complete(signature=signature, clock=CLOCK, gateway=gateway)
            except SubscriptionError as exc:
                error = "; ".join(exc.messages)
            else:
                if joined.paid or joined.processing:
                    request.session.pop(SESSION_KEY, None)
                    member_login(request, member)
                    messages.success(
                        request,
                        _("Welcome to %(gym)s! Your membership has started.") % {"gym": org.name}
                        if joined.paid
                        else _(
                            "Welcome to %(gym)s! Your bank payment is on its way; we will "
                            "email you when it has cleared."
                        )
                        % {"gym": org.name},
                    )
                    return HttpResponseRedirect(reverse("portal-home"))
                error = _("The payment was declined. Please try another card.")
        charge = first_charge(
            organization=org, plan=signature.plan, location=signature.location, clock=CLOCK
        )
        return _page(
            request,
            org,
            "payment",
            4,
            plan=signature.plan,
            first_total=money_text(charge.total, signature.plan.currency, language),
            first_date=date_text(charge.on, language),
            today=charge.on <= today_at(signature.location, CLOCK),
            hosted=hosted,
            form=form,
            error=error,
        )
