"""The front-desk check-in screen, a member's door credentials and photo, and attendance.

Check-in: one field takes a scan (the desk's reader types the tag number or QR payload and
Enter) or a name to search. A scan is a check-in, decided by ``access.decide`` and logged;
a member found by search is shown with what a check-in would say (nothing logged) and a
button to check them in. Either way the screen shows the photo, the status, the reason for
a refusal, what is owed with a button to take it at the desk, and (for roles that may) an
override with a reason.
"""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from dues.access.decide import AccessError, Decision, access_decide
from dues.access.models import AccessDecision, Credential, CredentialKind
from dues.access.qr import qr_parse
from dues.access.selectors import (
    at_risk_members,
    visits_by_hour_and_weekday,
    visits_by_location_and_plan,
)
from dues.access.services import AccessServiceError
from dues.billing.models import Invoice, InvoiceStatus
from dues.core.clock import SystemClock
from dues.core.models import Location
from dues.members.models import Member
from dues.staff.checkin import staff_check_in, staff_credential_issue, staff_credential_revoke
from dues.staff.roles import Action
from dues.staff.selectors import member_search
from dues.staff.session import Staff, staff_view
from dues.staff.views.members import member_or_404, money, staff_of

CLOCK = SystemClock()
LOCATION_KEY = "staff_checkin_location"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CheckInForm(forms.Form):
    q = forms.CharField(label="Scan a card or type a name", max_length=200)


class OverrideForm(forms.Form):
    reason = forms.CharField(label="Why let them in", max_length=200)


class CredentialForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=CredentialKind.choices)
    value = forms.CharField(
        label="Number on the tag or card",
        max_length=64,
        required=False,
        help_text="Leave empty for a QR code (the member's app shows it).",
    )


class PhotoForm(forms.Form):
    photo = forms.ImageField(label="Photo")


def _locations(staff: Staff) -> list[Location]:
    return list(Location.objects.filter(organization=staff.organization).order_by("name"))


def _desk_location(request: HttpRequest, staff: Staff) -> Location:
    """The location the desk stands at: chosen on the screen, remembered in the session."""
    locations = _locations(staff)
    if not locations:
        raise Http404("this organization has no location")
    wanted = request.GET.get("location") or request.POST.get("location")
    if wanted:
        request.session[LOCATION_KEY] = wanted
    chosen = str(request.session.get(LOCATION_KEY, ""))
    return next((loc for loc in locations if str(loc.pk) == chosen), locations[0])


def _owed(member: Member, staff: Staff) -> dict[str, Any]:
    """What the member's payer owes: open invoices with a desk-payment button each."""
    payer_id = member.payer_id_effective
    open_invoices = list(
        Invoice.objects.filter(
            organization_id=member.organization_id,
            payer_id=payer_id,
            status__in=[InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE],
            amount_due__gt=0,
        ).order_by("due_date", "id")
    )
    totals = (
        Invoice.objects.filter(pk__in=[i.pk for i in open_invoices])
        .values("currency")
        .annotate(due=Sum("amount_due"))
        .order_by("currency")
    )
    can_pay = staff.may(Action.PAYMENT_DESK)
    return {
        "total": ", ".join(money(t["due"], t["currency"]) for t in totals),
        "invoices": [
            {
                "invoice": invoice,
                "due": money(invoice.amount_due, invoice.currency),
                "pay_url": reverse("staff-desk-payment", args=[payer_id, invoice.pk])
                if can_pay
                else "",
            }
            for invoice in open_invoices
        ],
    }


def _result(
    request: HttpRequest, staff: Staff, location: Location, decision: Decision, *, recorded: bool
) -> dict[str, Any]:
    member = decision.member
    result: dict[str, Any] = {
        "decision": decision,
        "recorded": recorded,
        "reason": str(decision.code),
        "member": member,
    }
    if member is not None:
        result["owed"] = _owed(member, staff) if staff.may(Action.MONEY_VIEW) else None
        result["status"] = member.get_status_display()
        result["sub"] = decision.subscription
        result["can_override"] = not decision.allowed and staff.may(Action.ACCESS_OVERRIDE)
        result["override_form"] = OverrideForm()
    return result


@require_http_methods(["GET", "POST"])
@staff_view(Action.CHECK_IN)
def checkin(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    location = _desk_location(request, staff)
    form = CheckInForm(request.POST or None)
    context: dict[str, Any] = {
        "staff": staff,
        "form": form,
        "location": location,
        "locations": _locations(staff),
        "results": None,
        "result": None,
    }
    if request.method == "POST" and form.is_valid():
        q = form.cleaned_data["q"].strip()
        org_id = staff.organization.pk
        parsed = qr_parse(q)
        is_credential = (
            Credential.objects.filter(
                organization_id=org_id, kind=CredentialKind.QR, value=parsed[0]
            ).exists()
            if parsed
            else Credential.objects.filter(organization_id=org_id, value=q)
            .exclude(kind=CredentialKind.QR)
            .exists()
        )
        if is_credential:
            decision = staff_check_in(user=staff.user, location=location, clock=CLOCK, value=q)
            context["result"] = _result(request, staff, location, decision, recorded=True)
        else:
            context["results"] = member_search(organization_id=org_id, query=q)
    return render(request, "staff/checkin.html", context)


@require_http_methods(["GET", "POST"])
@staff_view(Action.CHECK_IN)
def checkin_member(request: HttpRequest, member_id: int) -> HttpResponse:
    """A member found by search: what a check-in would say; POST checks them in."""
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    location = _desk_location(request, staff)
    recorded = request.method == "POST"
    override_reason = ""
    if recorded and "override" in request.POST:
        if not staff.may(Action.ACCESS_OVERRIDE):
            raise Http404
        override = OverrideForm(request.POST)
        if not override.is_valid():
            messages.error(request, "Give the reason for letting them in.")
            return HttpResponseRedirect(reverse("staff-checkin-member", args=[member.pk]))
        override_reason = override.cleaned_data["reason"]
    try:
        if recorded:
            decision = staff_check_in(
                user=staff.user,
                location=location,
                clock=CLOCK,
                member=member,
                override_reason=override_reason,
            )
        else:
            decision = access_decide(location=location, clock=CLOCK, member=member, record=False)
    except AccessError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("staff-checkin"))
    context = {
        "staff": staff,
        "form": CheckInForm(),
        "location": location,
        "locations": _locations(staff),
        "results": None,
        "result": _result(request, staff, location, decision, recorded=recorded),
    }
    return render(request, "staff/checkin.html", context)


@require_GET
@staff_view(Action.MEMBER_VIEW)
def member_photo(request: HttpRequest, member_id: int) -> HttpResponse:
    member = member_or_404(request, member_id)
    if not member.photo:
        raise Http404
    kind = mimetypes.guess_type(member.photo.name or "")[0] or "application/octet-stream"
    with member.photo.open("rb") as photo:
        response = HttpResponse(photo.read(), content_type=kind)
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_http_methods(["GET", "POST"])
@staff_view(Action.CREDENTIALS_EDIT)
def member_access(request: HttpRequest, member_id: int) -> HttpResponse:
    """The member's door credentials and photo: issue, revoke, upload."""
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    form = CredentialForm()
    photo_form = PhotoForm()
    if request.method == "POST":
        here = reverse("staff-member-access", args=[member.pk])
        if "revoke" in request.POST:
            credential = Credential.objects.filter(
                member=member, pk=request.POST.get("revoke", ""), revoked_at__isnull=True
            ).first()
            if credential is None:
                raise Http404
            staff_credential_revoke(
                user=staff.user,
                member=member,
                credential=credential,
                reason=request.POST.get("reason", "")[:200],
                clock=CLOCK,
            )
            messages.success(request, f"{credential.get_kind_display()} revoked.")
            return HttpResponseRedirect(here)
        if "photo" in request.FILES:
            photo_form = PhotoForm(request.POST, request.FILES)
            if photo_form.is_valid():
                member.photo = photo_form.cleaned_data["photo"]
                member.save(update_fields=["photo"])
                messages.success(request, "Photo saved.")
                return HttpResponseRedirect(here)
        else:
            form = CredentialForm(request.POST)
            if form.is_valid():
                try:
                    credential = staff_credential_issue(
                        user=staff.user,
                        member=member,
                        kind=form.cleaned_data["kind"],
                        value=form.cleaned_data["value"],
                        clock=CLOCK,
                    )
                except AccessServiceError as exc:
                    for field, problem in exc.errors.items():
                        form.add_error(field if field in form.fields else None, problem)
                else:
                    messages.success(request, f"{credential.get_kind_display()} issued.")
                    return HttpResponseRedirect(here)
    credentials = Credential.objects.filter(member=member).order_by("-issued_at", "-id")
    recent = AccessDecision.objects.filter(
        organization_id=member.organization_id, member=member
    ).select_related("location")[:20]
    return render(
        request,
        "staff/member_access.html",
        {
            "staff": staff,
            "member": member,
            "credentials": credentials,
            "form": form,
            "photo_form": photo_form,
            "recent": recent,
        },
    )


@require_GET
@staff_view(Action.ATTENDANCE_VIEW)
def attendance(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    org_id = staff.organization.pk
    locations = _locations(staff)
    location_id = request.GET.get("location") or ""
    location = next((loc for loc in locations if str(loc.pk) == location_id), None)
    try:
        days = max(1, min(365, int(request.GET.get("days", "14"))))
    except ValueError:
        days = 14
    now = CLOCK.now()
    grid = visits_by_hour_and_weekday(
        organization_id=org_id,
        since=now - timedelta(days=28),
        until=now,
        location_id=location.pk if location else None,
    )
    at_risk = at_risk_members(organization_id=org_id, days=days, clock=CLOCK, limit=100)
    by_plan = visits_by_location_and_plan(
        organization_id=org_id, since=now - timedelta(days=28), until=now
    )
    if location is not None:
        by_plan = [r for r in by_plan if r.location == location.name]
    return render(
        request,
        "staff/attendance.html",
        {
            "staff": staff,
            "locations": locations,
            "location": location,
            "hours": range(24),
            "grid_rows": [
                {"day": day, "counts": counts} for day, counts in zip(WEEKDAYS, grid, strict=True)
            ],
            "by_plan": by_plan,
            "days": days,
            "at_risk": at_risk,
        },
    )
