"""The signed-in member's pages: membership, invoices and receipts, card, messages,
settings (language, marketing consent, notification preferences) and a copy of their
data. Every object is looked up through ``portal.selectors``, which only ever holds the
member's own."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from dues.billing.models import Invoice, InvoiceStatus, Subscription, SubscriptionStatus
from dues.billing.services import (
    SubscriptionError,
    cancellation_date,
    subscription_cancel,
    subscription_freeze,
    subscription_preview_next,
    today_at,
)
from dues.core.clock import SystemClock
from dues.members.models import ConsentSource, Member
from dues.members.selectors import consent_current
from dues.members.services import consent_set, member_update, notification_preferences_set
from dues.notify.documents import (
    invoice_filename,
    invoice_html,
    invoice_pdf,
    invoice_status_text,
)
from dues.notify.render import date_text, money_text
from dues.notify.services import message_read
from dues.payments.gateways.base import gateway_get
from dues.portal.export import member_export, member_export_zip
from dues.portal.forms import (
    CONSENT_WORDING_VERSION,
    ConsentForm,
    FreezeForm,
    LanguageForm,
    NotificationsForm,
)
from dues.portal.selectors import (
    member_household,
    member_inbox,
    member_invoice,
    member_invoices,
    member_membership,
    member_memberships,
    member_open_invoices,
    member_payments,
)
from dues.portal.services import (
    invoice_pay_now,
    overdue_retry,
    saved_card,
    saved_card_allowed,
)
from dues.portal.session import member_required
from dues.portal.views.links import card_form_submit, hosted_setup

CLOCK = SystemClock()


def _lang() -> str:
    return translation.get_language() or "en"


def _membership_row(sub: Subscription, viewer: Member) -> dict[str, Any]:
    lang = _lang()
    next_charge = ""
    if (
        sub.next_billing_date
        and sub.status != SubscriptionStatus.CANCELLED
        and not (sub.cancel_at and sub.cancel_at <= sub.next_billing_date)
    ):
        preview = subscription_preview_next(sub)
        next_charge = _("%(amount)s on %(date)s") % {
            "amount": money_text(preview["total"], sub.currency, lang),
            "date": date_text(sub.next_billing_date, lang),
        }
    return {
        "sub": sub,
        "plan": sub.plan.name,
        "who": sub.member.first_name if sub.member_id != viewer.pk else "",
        "status": _membership_status(sub),
        "location": sub.location.name,
        "price": money_text(sub.price, sub.currency, lang),
        "next_charge": next_charge,
        "ends": date_text(sub.cancel_at, lang) if sub.cancel_at else "",
        "can_change": sub.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING)
        and sub.cancel_at is None,
    }


def _membership_status(sub: Subscription) -> str:
    return {
        SubscriptionStatus.PENDING: _("Starts later"),
        SubscriptionStatus.TRIALING: _("Trial"),
        SubscriptionStatus.ACTIVE: _("Active"),
        SubscriptionStatus.FROZEN: _("Frozen"),
        SubscriptionStatus.CANCELLED: _("Cancelled"),
    }[SubscriptionStatus(sub.status)]


def _invoice_row(invoice: Invoice) -> dict[str, Any]:
    lang = _lang()
    return {
        "invoice": invoice,
        "number": invoice.number,
        "date": date_text(invoice.issue_date, lang) if invoice.issue_date else "",
        "total": money_text(invoice.total, invoice.currency, lang),
        "due": money_text(invoice.amount_due, invoice.currency, lang),
        "status": invoice_status_text(invoice.status),
        "open": invoice.status == InvoiceStatus.OPEN and invoice.amount_due > 0,
    }


def _card_text(member: Member) -> str:
    card = saved_card(member)
    return card.label if card else ""


@require_GET
@member_required
def home(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    return render(
        request,
        "portal/home.html",
        {
            "member": member,
            "gym": member.organization.name,
            "memberships": [_membership_row(s, member) for s in member_memberships(member)],
            "open_invoices": [_invoice_row(i) for i in member_open_invoices(member)],
            "card": _card_text(member),
            "household": list(member_household(member)),
            "unread": member_inbox(member).filter(read_at__isnull=True).count(),
        },
    )


@require_GET
@member_required
def invoices(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    lang = _lang()
    payments = [
        {
            "date": date_text(p.received_at.date(), lang),
            "amount": money_text(p.amount, p.currency, lang),
            "refunded": money_text(p.amount_refunded, p.currency, lang)
            if p.amount_refunded
            else "",
            "invoice": p.invoice,
        }
        for p in member_payments(member)[:50]
    ]
    return render(
        request,
        "portal/invoices.html",
        {
            "gym": member.organization.name,
            "invoices": [_invoice_row(i) for i in member_invoices(member)[:100]],
            "payments": payments,
        },
    )


def _own_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    invoice = member_invoice(request.member, invoice_id)  # type: ignore[attr-defined]
    if invoice is None:
        raise Http404
    return invoice


@require_http_methods(["GET", "POST"])
@member_required
def invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    inv = _own_invoice(request, invoice_id)
    if request.method == "POST":
        card = saved_card(member)
        if inv.status != InvoiceStatus.OPEN or inv.amount_due <= 0:
            messages.info(request, _("This invoice is paid."))
        elif card is None or not saved_card_allowed(card, CLOCK):
            messages.error(request, _("Add a card to pay:"))
            return HttpResponseRedirect(reverse("portal-card"))
        elif invoice_pay_now(invoice=inv, clock=CLOCK, gateway=gateway_get()).paid:
            messages.success(request, _("Thank you! Your payment went through."))
        else:
            messages.error(request, _("The payment was declined. Please try another card."))
        return HttpResponseRedirect(request.path)
    return render(
        request,
        "portal/invoice_detail.html",
        {
            "gym": member.organization.name,
            "row": _invoice_row(inv),
            "document_body": invoice_html(inv, _lang(), fragment=True),
            "card": _card_text(member),
        },
    )


@require_GET
@member_required
def invoice_download(request: HttpRequest, invoice_id: int) -> HttpResponse:
    inv = _own_invoice(request, invoice_id)
    response = HttpResponse(invoice_pdf(inv, _lang()), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_filename(inv)}"'
    return response


@require_http_methods(["GET", "POST"])
@member_required
def card(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    gateway = gateway_get()
    hosted, fresh, error = hosted_setup(request, member, gateway, _lang())
    form, added = card_form_submit(request, member, hosted)
    if fresh is not None or added:
        overdue_retry(payer=member, clock=CLOCK, gateway=gateway)
        messages.success(request, _("Your card is saved."))
        return HttpResponseRedirect(reverse("portal-home"))
    return render(
        request,
        "portal/account_card.html",
        {
            "gym": member.organization.name,
            "card": _card_text(member),
            "form": form,
            "hosted": hosted,
            "error": error,
            "overdue": member_open_invoices(member).exists(),
        },
    )


def _own_membership(request: HttpRequest, subscription_id: int) -> Subscription:
    sub = member_membership(request.member, subscription_id)  # type: ignore[attr-defined]
    if sub is None:
        raise Http404
    return sub


@require_http_methods(["GET", "POST"])
@member_required
def membership_cancel(request: HttpRequest, subscription_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    sub = _own_membership(request, subscription_id)
    if sub.status == SubscriptionStatus.CANCELLED or sub.cancel_at:
        messages.info(request, _("This membership is already cancelled."))
        return HttpResponseRedirect(reverse("portal-home"))
    ends = cancellation_date(sub, today_at(sub.location, CLOCK))
    if request.method == "POST":
        subscription_cancel(sub=sub, clock=CLOCK, reason="cancelled by the member online")
        messages.success(
            request,
            _("Your membership is cancelled. It ends on %(date)s.")
            % {"date": date_text(ends, _lang())},
        )
        return HttpResponseRedirect(reverse("portal-home"))
    return render(
        request,
        "portal/membership_cancel.html",
        {
            "gym": member.organization.name,
            "row": _membership_row(sub, member),
            "ends": date_text(ends, _lang()),
            "notice_days": sub.plan.notice_days,
            "term_end": date_text(sub.minimum_term_end, _lang())
            if sub.minimum_term_end and sub.minimum_term_end > today_at(sub.location, CLOCK)
            else "",
        },
    )


@require_http_methods(["GET", "POST"])
@member_required
def membership_freeze(request: HttpRequest, subscription_id: int) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    sub = _own_membership(request, subscription_id)
    form = FreezeForm(request.POST or None)
    fee = sub.plan.freeze_fee
    if request.method == "POST" and form.is_valid():
        try:
            subscription_freeze(
                sub=sub,
                start_date=form.cleaned_data["start_date"],
                end_date=form.cleaned_data["end_date"],
                clock=CLOCK,
                reason="frozen by the member online",
            )
        except SubscriptionError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, _("Your membership freeze is booked."))
            return HttpResponseRedirect(reverse("portal-home"))
    return render(
        request,
        "portal/membership_freeze.html",
        {
            "gym": member.organization.name,
            "row": _membership_row(sub, member),
            "form": form,
            "fee": money_text(fee, sub.currency, _lang()) if fee else "",
        },
    )


@require_GET
@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    items = list(member_inbox(member)[:100])
    for message in items:
        if message.read_at is None:
            message_read(message=message, clock=CLOCK)
    lang = _lang()
    return render(
        request,
        "portal/inbox.html",
        {
            "gym": member.organization.name,
            "items": [
                {"subject": m.subject, "body": m.body, "date": date_text(m.created_at.date(), lang)}
                for m in items
            ],
        },
    )


# The settings page holds one form per topic, each saved on its own: the hidden field
# ``form`` names it (a post without one is the language form's).
SETTINGS_FORMS = ("language", "consent", "notifications")


@require_http_methods(["GET", "POST"])
@member_required
def settings_page(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    posted = request.POST.get("form", "language") if request.method == "POST" else ""
    if posted and posted not in SETTINGS_FORMS:
        return HttpResponseBadRequest()
    data = {name: request.POST if posted == name else None for name in SETTINGS_FORMS}
    form = LanguageForm(data["language"], initial={"language": member.language})
    consent = ConsentForm(
        data["consent"],
        initial={f"marketing_{c}": on for c, on in consent_current(member).items()},
    )
    notifications = NotificationsForm(
        data["notifications"],
        initial={name: getattr(member, name) for name in NotificationsForm.base_fields},
    )
    if posted == "language" and form.is_valid():
        member_update(member=member, clock=CLOCK, language=form.cleaned_data["language"])
        with translation.override(member.language):
            messages.success(request, _("Your settings are saved."))
        return HttpResponseRedirect(reverse("portal-settings"))
    if posted == "consent" and consent.is_valid():
        consent_set(
            member=member,
            granted=consent.granted(),
            source=ConsentSource.PORTAL,
            wording_version=CONSENT_WORDING_VERSION,
            language=_lang(),
            ip_address=request.META.get("REMOTE_ADDR") or None,
            clock=CLOCK,
        )
        messages.success(request, _("Your choices about news and offers are saved."))
        return HttpResponseRedirect(reverse("portal-settings"))
    if posted == "notifications" and notifications.is_valid():
        notification_preferences_set(member=member, clock=CLOCK, **notifications.cleaned_data)
        messages.success(request, _("Your message settings are saved."))
        return HttpResponseRedirect(reverse("portal-settings"))
    return render(
        request,
        "portal/settings.html",
        {
            "gym": member.organization.name,
            "form": form,
            "consent": consent,
            "notifications": notifications,
            "member": member,
        },
    )


@require_GET
@member_required
def export(request: HttpRequest) -> HttpResponse:
    member: Member = request.member  # type: ignore[attr-defined]
    response = HttpResponse(
        json.dumps(member_export(member), indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@require_GET
@member_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The same copy as ``export``, as spreadsheets: one CSV file per section in a ZIP."""
    member: Member = request.member  # type: ignore[attr-defined]
    response = HttpResponse(member_export_zip(member, clock=CLOCK), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="my-data.zip"'
    return response
