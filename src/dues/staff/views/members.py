"""Finding a member and their profile; and ``staff-home``, which opens the dashboard for
those who may see it and the member search for everyone else."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dues.billing.invoices import invoice_creditable
from dues.billing.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from dues.billing.services import SubscriptionError, subscription_preview_next
from dues.core.clock import SystemClock
from dues.members.models import Member
from dues.notify.render import date_text, money_text
from dues.payments.models import Payment
from dues.payments.services import payment_refundable
from dues.staff.forms import NoteForm, SearchForm
from dues.staff.roles import Action
from dues.staff.selectors import (
    member_get,
    member_invoices,
    member_payment_methods,
    member_payments,
    member_search,
    member_subscriptions,
    member_timeline_full,
)
from dues.staff.services import staff_note_add
from dues.staff.session import Staff, staff_view

CLOCK = SystemClock()


def lang() -> str:
    return translation.get_language() or "en"


def money(amount: int, currency: str) -> str:
    return money_text(amount, currency, lang())


def staff_of(request: HttpRequest) -> Staff:
    return request.staff  # type: ignore[attr-defined, no-any-return]


def member_or_404(request: HttpRequest, member_id: int) -> Member:
    """The member, if they belong to the organization the staff member works in."""
    member = member_get(organization_id=staff_of(request).organization.pk, member_id=member_id)
    if member is None:
        raise Http404
    return member


@require_GET
@staff_view(Action.MEMBER_SEARCH)
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard for those who may see it, the member search for everyone else."""
    if staff_of(request).may(Action.DASHBOARD_VIEW):
        return HttpResponseRedirect(reverse("staff-dashboard"))
    return HttpResponseRedirect(reverse("staff-members"))


@require_GET
@staff_view(Action.MEMBER_SEARCH)
def search(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request)
    form = SearchForm(request.GET or None)
    results: list[Member] | None = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        results = member_search(organization_id=staff.organization.pk, query=form.cleaned_data["q"])
    return render(request, "staff/search.html", {"staff": staff, "form": form, "results": results})


SUB_STATUS = {
    SubscriptionStatus.PENDING: "Starts later",
    SubscriptionStatus.TRIALING: "Trial",
    SubscriptionStatus.ACTIVE: "Active",
    SubscriptionStatus.FROZEN: "Frozen",
    SubscriptionStatus.CANCELLED: "Cancelled",
}


def _next_charge(sub: Subscription) -> str:
    if (
        not sub.next_billing_date
        or sub.status == SubscriptionStatus.CANCELLED
        or (sub.cancel_at and sub.cancel_at <= sub.next_billing_date)
    ):
        return ""
    try:
        total = subscription_preview_next(sub)["total"]
    except SubscriptionError:
        return date_text(sub.next_billing_date, lang())
    return _("%(amount)s on %(date)s") % {
        "amount": money(total, sub.currency),
        "date": date_text(sub.next_billing_date, lang()),
    }


def _membership(sub: Subscription, staff: Staff) -> dict[str, Any]:
    live = sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)
    return {
        "sub": sub,
        "plan": sub.plan.name,
        "status": _(SUB_STATUS.get(SubscriptionStatus(sub.status), sub.status)),
        "location": sub.location.name,
        "price": money(sub.price, sub.currency),
        "next_charge": _next_charge(sub) if staff.may(Action.MONEY_VIEW) else "",
        "next_date": date_text(sub.next_billing_date, lang()) if sub.next_billing_date else "",
        "ends": date_text(sub.cancel_at, lang()) if sub.cancel_at else "",
        "pending_plan": sub.pending_plan.name if sub.pending_plan else "",
        "can_freeze": live and staff.may(Action.FREEZE),
        "can_cancel": sub.status != SubscriptionStatus.CANCELLED
        and sub.cancel_at is None
        and staff.may(Action.CANCEL),
        "can_change": live and staff.may(Action.PLAN_CHANGE),
    }


def _invoice(invoice: Invoice, staff: Staff) -> dict[str, Any]:
    open_ = invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
    return {
        "invoice": invoice,
        "date": date_text(invoice.issue_date, lang()) if invoice.issue_date else "",
        "total": money(invoice.total, invoice.currency),
        "due": money(invoice.amount_due, invoice.currency),
        "status": invoice.get_status_display(),
        "open": open_ and invoice.amount_due > 0,
        "can_pay": open_ and invoice.amount_due > 0 and staff.may(Action.PAYMENT_DESK),
        "can_credit": invoice.status != InvoiceStatus.VOID
        and staff.may(Action.CREDIT_NOTE)
        and invoice_creditable(invoice) > 0,
    }


def _payment(payment: Payment, staff: Staff) -> dict[str, Any]:
    refundable = payment_refundable(payment)
    return {
        "payment": payment,
        "date": date_text(payment.received_at.date(), lang()),
        "method": payment.get_method_display(),
        "amount": money(payment.amount, payment.currency),
        "refunded": money(payment.amount_refunded, payment.currency)
        if payment.amount_refunded
        else "",
        "invoice": payment.invoice.number if payment.invoice else "",
        "can_refund": refundable > 0 and staff.may(Action.REFUND),
    }


def _timeline_row(entry: Any) -> dict[str, Any]:
    amount = entry.detail.get("amount")
    currency = entry.detail.get("currency")
    return {
        "at": entry.at,
        "kind": entry.kind,
        "summary": entry.summary,
        "amount": money(amount, currency) if amount is not None and currency else "",
        "author": entry.detail.get("author", ""),
    }


@require_GET
@staff_view(Action.MEMBER_VIEW)
def profile(request: HttpRequest, member_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    money_ok = staff.may(Action.MONEY_VIEW)
    context: dict[str, Any] = {
        "staff": staff,
        "member": member,
        "status": member.get_status_display(),
        "memberships": [_membership(s, staff) for s in member_subscriptions(member)],
        "money": money_ok,
        "timeline": [
            _timeline_row(e) for e in member_timeline_full(member, money=money_ok, limit=100)
        ],
        "note_form": NoteForm(),
    }
    if money_ok:
        context["invoices"] = [_invoice(i, staff) for i in member_invoices(member)]
        context["payments"] = [_payment(p, staff) for p in member_payments(member)]
        context["methods"] = [m.label for m in member_payment_methods(member)]
    return render(request, "staff/profile.html", context)


@require_POST
@staff_view(Action.NOTE_ADD)
def note_add(request: HttpRequest, member_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            staff_note_add(
                user=staff.user, member=member, text=form.cleaned_data["text"], clock=CLOCK
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        else:
            messages.success(request, _("Note added."))
    else:
        messages.error(request, _("Write the note first."))
    return HttpResponseRedirect(reverse("staff-member", args=[member.pk]) + "#timeline")
