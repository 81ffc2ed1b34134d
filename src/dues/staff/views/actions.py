"""Actions on a member's profile. Each is two steps: the form, then a confirmation that
shows the amounts and dates; only the confirmed post calls the service (``staff.services``,
which calls the owning app's service and writes the audit row). A service's refusal is
shown on the form field it names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dues.billing.invoices import invoice_creditable
from dues.billing.models import Invoice, InvoiceStatus, Subscription
from dues.billing.services import cancellation_date, today_at
from dues.catalog.models import Plan
from dues.core.clock import SystemClock
from dues.members.models import Member
from dues.notify.render import date_text
from dues.payments.gateways.base import gateway_get
from dues.payments.services import payment_refundable
from dues.staff.forms import (
    CancelForm,
    CreditNoteForm,
    DeskPaymentForm,
    FreezeForm,
    PlanChangeForm,
    RefundForm,
    errors_to_form,
)
from dues.staff.roles import Action
from dues.staff.selectors import (
    member_invoice,
    member_payment,
    member_subscription,
)
from dues.staff.services import (
    staff_cancel,
    staff_change_plan,
    staff_credit_note,
    staff_freeze,
    staff_payment_take,
    staff_refund,
)
from dues.staff.session import staff_view
from dues.staff.views.members import lang, member_or_404, money, staff_of

CLOCK = SystemClock()

Summary = list[tuple[str, str]]


def two_step(
    request: HttpRequest,
    *,
    member: Member,
    form: forms.Form,
    title: str,
    facts: Summary,
    preview: Callable[[dict[str, Any]], Summary],
    perform: Callable[[dict[str, Any]], str],
    confirm_label: str,
) -> HttpResponse:
    stage = "form"
    summary: Summary = []
    if request.method == "POST" and "edit" not in request.POST and form.is_valid():
        try:
            summary = preview(form.cleaned_data)
            if "confirm" in request.POST:
                messages.success(request, perform(form.cleaned_data))
                return HttpResponseRedirect(reverse("staff-member", args=[member.pk]))
            stage = "confirm"
        except ValidationError as exc:
            errors_to_form(form, exc)
    return render(
        request,
        "staff/action.html",
        {
            "staff": staff_of(request),
            "member": member,
            "title": title,
            "facts": facts,
            "form": form,
            "stage": stage,
            "summary": summary,
            "confirm_label": confirm_label,
        },
    )


def _invoice_or_404(member: Member, invoice_id: int) -> Invoice:
    invoice = member_invoice(member, invoice_id)
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        raise Http404
    return invoice


def _sub_or_404(member: Member, subscription_id: int) -> Subscription:
    sub = member_subscription(member, subscription_id)
    if sub is None:
        raise Http404
    return sub


@require_http_methods(["GET", "POST"])
@staff_view(Action.PAYMENT_DESK)
def desk_payment(request: HttpRequest, member_id: int, invoice_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    invoice = _invoice_or_404(member, invoice_id)
    cur = invoice.currency
    initial = {"amount": invoice.amount_due, "method": "cash"}
    form = DeskPaymentForm(request.POST or None, currency=cur, initial=initial)

    def preview(data: dict[str, Any]) -> Summary:
        if data["amount"] > invoice.amount_due:
            raise ValidationError(
                {
                    "amount": _("At most %s is owed on this invoice.")
                    % money(invoice.amount_due, cur)
                }
            )
        method = dict(form.fields["method"].choices)[data["method"]]  # type: ignore[attr-defined]
        return [
            (_("Invoice"), str(invoice.number)),
            (_("Amount taken"), money(data["amount"], cur)),
            (_("Paid by"), str(method)),
            (_("Still owed after"), money(invoice.amount_due - data["amount"], cur)),
        ]

    def perform(data: dict[str, Any]) -> str:
        staff_payment_take(
            user=staff.user,
            member=member,
            invoice=invoice,
            amount=data["amount"],
            method=data["method"],
            reference=data["reference"],
            clock=CLOCK,
        )
        return _("Payment of %s recorded.") % money(data["amount"], cur)

    return two_step(
        request,
        member=member,
        form=form,
        title=_("Take a payment for invoice %s") % invoice.number,
        facts=[(_("Owed"), money(invoice.amount_due, cur))],
        preview=preview,
        perform=perform,
        confirm_label=_("Record the payment"),
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.REFUND)
def refund(request: HttpRequest, member_id: int, payment_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    payment = member_payment(member, payment_id)
    if payment is None:
        raise Http404
    cur = payment.currency
    refundable = payment_refundable(payment)
    form = RefundForm(request.POST or None, currency=cur, initial={"amount": refundable})
    how = (
        _("Back to the card or account it came from")
        if payment.gateway_reference
        else _("In cash at the desk")
    )

    def preview(data: dict[str, Any]) -> Summary:
        if data["amount"] > refundable:
            raise ValidationError(
                {"amount": _("At most %s can be paid back.") % money(refundable, cur)}
            )
        return [
            (_("Payment"), f"{payment.get_method_display()} · {money(payment.amount, cur)}"),
            (_("Paid back"), money(data["amount"], cur)),
            (_("How"), str(how)),
            (_("Reason"), data["reason"]),
            (_("Refundable after"), money(refundable - data["amount"], cur)),
        ]

    def perform(data: dict[str, Any]) -> str:
        staff_refund(
            user=staff.user,
            member=member,
            payment=payment,
            amount=data["amount"],
            reason=data["reason"],
            clock=CLOCK,
            gateway=gateway_get(),
        )
        return _("Refund of %s done.") % money(data["amount"], cur)

    invoice = payment.invoice.number if payment.invoice else ""
    return two_step(
        request,
        member=member,
        form=form,
        title=_("Refund a payment"),
        facts=[
            (_("Invoice"), str(invoice)),
            (_("Paid"), money(payment.amount, cur)),
            (_("Can be paid back"), money(refundable, cur)),
        ],
        preview=preview,
        perform=perform,
        confirm_label=_("Pay it back"),
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.CREDIT_NOTE)
def credit_note(request: HttpRequest, member_id: int, invoice_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    invoice = _invoice_or_404(member, invoice_id)
    cur = invoice.currency
    limit = invoice_creditable(invoice)
    form = CreditNoteForm(request.POST or None, currency=cur)

    def preview(data: dict[str, Any]) -> Summary:
        amount = data["amount"]
        if amount > limit:
            raise ValidationError(
                {"amount": _("At most %s of this invoice can be credited.") % money(limit, cur)}
            )
        applied = min(amount, invoice.amount_due)
        return [
            (_("Invoice"), str(invoice.number)),
            (_("Credit"), money(amount, cur)),
            (_("Taken off what is owed"), money(applied, cur)),
            (_("Added to the member's credit"), money(amount - applied, cur)),
            (_("Reason"), data["reason"]),
        ]

    def perform(data: dict[str, Any]) -> str:
        note = staff_credit_note(
            user=staff.user,
            member=member,
            invoice=invoice,
            amount=data["amount"],
            reason=data["reason"],
            clock=CLOCK,
        )
        return _("Credit note %(number)s for %(amount)s issued.") % {
            "number": note.number,
            "amount": money(note.total, cur),
        }

    return two_step(
        request,
        member=member,
        form=form,
        title=_("Credit note on invoice %s") % invoice.number,
        facts=[
            (_("Invoice total"), money(invoice.total, cur)),
            (_("Owed"), money(invoice.amount_due, cur)),
            (_("Can still be credited"), money(limit, cur)),
        ],
        preview=preview,
        perform=perform,
        confirm_label=_("Issue the credit note"),
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.FREEZE)
def freeze(request: HttpRequest, member_id: int, subscription_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    sub = _sub_or_404(member, subscription_id)
    today = today_at(sub.location, CLOCK)
    form = FreezeForm(
        request.POST or None,
        initial={"start_date": today, "end_date": today + timedelta(days=30)},
    )
    fee = sub.plan.freeze_fee

    def preview(data: dict[str, Any]) -> Summary:
        start, end = data["start_date"], data["end_date"]
        if end <= start:
            raise ValidationError({"end_date": _("The first day back must be after the start.")})
        return [
            (_("Membership"), sub.plan.name),
            (_("Frozen from"), date_text(start, lang())),
            (_("Last day frozen"), date_text(end - timedelta(days=1), lang())),
            (_("Back on"), date_text(end, lang())),
            (_("Freeze fee"), money(fee, sub.currency) if fee else _("None")),
        ]

    def perform(data: dict[str, Any]) -> str:
        staff_freeze(
            user=staff.user,
            member=member,
            sub=sub,
            start_date=data["start_date"],
            end_date=data["end_date"],
            reason=data["reason"],
            clock=CLOCK,
        )
        return _("Freeze booked.")

    return two_step(
        request,
        member=member,
        form=form,
        title=_("Freeze %s") % sub.plan.name,
        facts=[(_("Freeze fee"), money(fee, sub.currency) if fee else _("None"))],
        preview=preview,
        perform=perform,
        confirm_label=_("Book the freeze"),
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.CANCEL)
def cancel(request: HttpRequest, member_id: int, subscription_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    sub = _sub_or_404(member, subscription_id)
    today = today_at(sub.location, CLOCK)
    earliest = cancellation_date(sub, today) if sub.status != "cancelled" else today
    form = CancelForm(request.POST or None)
    terms = _("Notice: %(days)s days; minimum term until %(term)s") % {
        "days": sub.plan.notice_days,
        "term": date_text(sub.minimum_term_end, lang()) if sub.minimum_term_end else _("none"),
    }

    def preview(data: dict[str, Any]) -> Summary:
        now = data["when"] == CancelForm.WHEN_NOW
        rows = [
            (_("Membership"), sub.plan.name),
            (_("Ends on"), date_text(today if now else earliest, lang())),
            (_("Terms"), terms),
            (_("Reason"), data["reason"]),
        ]
        if now:
            rows.append(
                (
                    _("Unused part of the period"),
                    _("credited") if data["refund_unused"] else _("not credited"),
                )
            )
        return rows

    def perform(data: dict[str, Any]) -> str:
        now = data["when"] == CancelForm.WHEN_NOW
        done = staff_cancel(
            user=staff.user,
            member=member,
            sub=sub,
            reason=data["reason"],
            immediately=now,
            refund_unused=now and data["refund_unused"],
            clock=CLOCK,
        )
        assert done.cancel_at is not None
        return _("Membership ends on %s.") % date_text(done.cancel_at, lang())

    return two_step(
        request,
        member=member,
        form=form,
        title=_("Cancel %s") % sub.plan.name,
        facts=[(_("Earliest end"), date_text(earliest, lang())), (_("Terms"), terms)],
        preview=preview,
        perform=perform,
        confirm_label=_("Cancel the membership"),
    )


@require_http_methods(["GET", "POST"])
@staff_view(Action.PLAN_CHANGE)
def change_plan(request: HttpRequest, member_id: int, subscription_id: int) -> HttpResponse:
    staff = staff_of(request)
    member = member_or_404(request, member_id)
    sub = _sub_or_404(member, subscription_id)
    plans = Plan.objects.filter(
        organization_id=member.organization_id, active=True, currency=sub.currency
    ).exclude(pk=sub.plan_id)
    form = PlanChangeForm(request.POST or None, plans=plans)

    def preview(data: dict[str, Any]) -> Summary:
        plan: Plan = data["plan"]
        at_end = form.at_period_end()
        if at_end is None:
            at_end = plan.price < sub.price or plan.interval != sub.interval
        when = (
            date_text(sub.next_billing_date, lang())
            if at_end and sub.next_billing_date
            else _("Today, with a prorated invoice for the rest of the period")
        )
        return [
            (_("From"), f"{sub.plan.name} · {money(sub.price, sub.currency)}"),
            (_("To"), f"{plan.name} · {money(plan.price, plan.currency)}"),
            (_("Takes effect"), str(when)),
        ]

    def perform(data: dict[str, Any]) -> str:
        staff_change_plan(
            user=staff.user,
            member=member,
            sub=sub,
            new_plan=data["plan"],
            at_period_end=form.at_period_end(),
            clock=CLOCK,
        )
        return _("Plan changed to %s.") % str(data["plan"].name)

    return two_step(
        request,
        member=member,
        form=form,
        title=_("Change the plan of %s") % sub.plan.name,
        facts=[(_("Now"), f"{sub.plan.name} · {money(sub.price, sub.currency)}")],
        preview=preview,
        perform=perform,
        confirm_label=_("Change the plan"),
    )
