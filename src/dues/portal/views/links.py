"""Pages members reach from a signed link, with no login: one invoice to pay, or their
card to update. Views only read the link, validate the form and call services."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dues.billing.links import invoice_link_read
from dues.billing.models import Invoice, InvoiceStatus
from dues.core.clock import SystemClock
from dues.core.tokens import LinkExpired
from dues.members.models import Member
from dues.notify.render import date_text, message_language, money_text
from dues.payments.gateways.base import Gateway, GatewayError, gateway_get
from dues.payments.gateways.sandbox import SandboxCardError
from dues.payments.links import card_link_read
from dues.payments.models import PaymentMethod
from dues.payments.services import PaymentError
from dues.payments.setup import payment_setup_finish, payment_setup_start
from dues.portal.forms import CardForm
from dues.portal.services import (
    card_add_from_form,
    invoice_pay_now,
    saved_card,
    saved_card_allowed,
)

CLOCK = SystemClock()


def _declined_recently() -> str:
    return _("This card was declined recently. Please add another card.")


def hosted_setup(
    request: HttpRequest, payer: Member, gateway: Gateway, language: str
) -> tuple[dict[str, str] | None, PaymentMethod | None, str]:
    """For a gateway with its own card fields: save what the member finished there (the
    gateway sends them back with ``?setup_intent=``), and start the next setup for the
    page. Returns (the fields' settings, the method saved, an error to show)."""
    if not gateway.hosted_fields:
        return None, None, ""
    saved, error = None, ""
    reference = request.GET.get("setup_intent", "")
    if reference:
        try:
            saved = payment_setup_finish(
                organization_id=payer.organization_id,
                reference=reference,
                gateway=gateway,
                clock=CLOCK,
                payer=payer,
            )
        except (PaymentError, GatewayError):
            error = _("The card could not be saved. Please try again.")
    location = payer.home_location
    currency = location.currency if location else payer.organization.default_currency
    # Bank debits where the gym's currency has one Stripe collects: SEPA, ACH.
    kinds = {"EUR": ("card", "sepa_debit"), "USD": ("card", "bank_debit")}.get(currency, ("card",))
    start = payment_setup_start(payer=payer, gateway=gateway, clock=CLOCK, kinds=kinds)
    fields = {
        "publishable_key": start.publishable_key,
        "client_secret": start.client_secret,
        "return_url": request.build_absolute_uri(request.path),
        "locale": language,
    }
    return fields, saved, error


def card_form_submit(
    request: HttpRequest, payer: Member, hosted: dict[str, str] | None
) -> tuple[CardForm, bool]:
    """The sandbox's card form, where the gateway has no fields of its own: (the form to
    show, whether a card was saved). A posted card is tokenized and saved."""
    if request.method != "POST" or hosted is not None:
        return CardForm(), False
    form = CardForm(request.POST)
    if not form.is_valid():
        return form, False
    try:
        card_add_from_form(payer=payer, clock=CLOCK, **form.cleaned_data)
    except (SandboxCardError, PaymentError):
        form.add_error("number", _("This card number is not valid."))
        return form, False
    return CardForm(), True


def _invalid(request: HttpRequest, expired: bool) -> HttpResponse:
    return render(
        request, "portal/link_invalid.html", {"expired": expired}, status=410 if expired else 404
    )


LinkView = Callable[[HttpRequest, int, int], HttpResponse]


def _reached_by(
    read: Callable[..., tuple[int, int]],
) -> Callable[[LinkView], Callable[[HttpRequest, str], HttpResponse]]:
    """A page reached by a signed link: the view gets the organization and the object the
    link names. A forged or altered link shows nothing (404), an expired one says so (410)."""

    def wrap(view: LinkView) -> Callable[[HttpRequest, str], HttpResponse]:
        @functools.wraps(view)
        def page(request: HttpRequest, token: str) -> HttpResponse:
            try:
                org_id, object_id = read(token, clock=CLOCK)
            except LinkExpired:
                return _invalid(request, expired=True)
            except signing.BadSignature:
                return _invalid(request, expired=False)
            return view(request, org_id, object_id)

        return page

    return wrap


@require_http_methods(["GET", "POST"])
@_reached_by(invoice_link_read)
def invoice_page(request: HttpRequest, org_id: int, invoice_id: int) -> HttpResponse:
    invoice = (
        Invoice.objects.select_related("payer", "location", "organization")
        .filter(pk=invoice_id, organization_id=org_id)
        .first()
    )
    if invoice is None or invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        raise Http404
    payer = invoice.payer
    language = message_language(payer, invoice.location)
    with translation.override(language):
        return _invoice_page(request, invoice, payer, language)


def _invoice_page(
    request: HttpRequest, invoice: Invoice, payer: Member, language: str
) -> HttpResponse:
    form = CardForm()
    result: dict[str, Any] = {}
    gateway = gateway_get()
    hosted, fresh, error = (
        hosted_setup(request, payer, gateway, language)
        if invoice.status == InvoiceStatus.OPEN
        else (None, None, "")
    )
    if error:
        result = {"error": error}
    if fresh is not None and invoice.status == InvoiceStatus.OPEN:
        result = _paid(invoice_pay_now(invoice=invoice, clock=CLOCK, gateway=gateway))
        invoice.refresh_from_db()
    card = saved_card(payer)
    if request.method == "POST" and invoice.status == InvoiceStatus.OPEN:
        if request.POST.get("action") == "pay" and card is not None:
            if saved_card_allowed(card, CLOCK):
                result = _paid(invoice_pay_now(invoice=invoice, clock=CLOCK, gateway=gateway))
            else:
                result = {"error": _declined_recently()}
        elif request.POST.get("action") == "card":
            form = CardForm(request.POST)
            if form.is_valid():
                try:
                    card = card_add_from_form(payer=payer, clock=CLOCK, **form.cleaned_data)
                except (SandboxCardError, PaymentError):
                    form.add_error("number", _("This card number is not valid."))
                else:
                    form = CardForm()
                    result = _paid(invoice_pay_now(invoice=invoice, clock=CLOCK, gateway=gateway))
        invoice.refresh_from_db()
        card = saved_card(payer)
    usable = card is not None and saved_card_allowed(card, CLOCK)
    if card is not None and not usable and not result:
        result = {"error": _declined_recently()}
    lines = [
        (line.description, money_text(line.total_amount, invoice.currency, language))
        for line in invoice.lines.all().order_by("id")
    ]
    context = {
        "invoice": invoice,
        "gym": invoice.organization.name,
        "lines": lines,
        "total": money_text(invoice.total, invoice.currency, language),
        "amount_due": money_text(invoice.amount_due, invoice.currency, language),
        "due_date": date_text(invoice.due_date, language) if invoice.due_date else "",
        "paid": invoice.status == InvoiceStatus.PAID,
        "card": card.label if usable and card else "",
        "form": form,
        "hosted": hosted,
        **result,
    }
    return render(request, "portal/invoice.html", context)


def _paid(outcome: Any) -> dict[str, Any]:
    if outcome.paid:
        return {"just_paid": True}
    return {"error": _("The payment was declined. Please try another card.")}


@require_http_methods(["GET", "POST"])
@_reached_by(card_link_read)
def card_page(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    member = (
        Member.objects.filter(pk=member_id, organization_id=org_id)
        .select_related("home_location", "organization")
        .first()
    )
    if member is None:
        raise Http404
    language = message_language(member, member.home_location)
    with translation.override(language):
        hosted, fresh, error = hosted_setup(request, member, gateway_get(), language)
        form, added = card_form_submit(request, member, hosted)
        saved = fresh is not None or added
        card = saved_card(member)
        return render(
            request,
            "portal/card.html",
            {
                "gym": member.organization.name,
                "card": card.label if card else "",
                "form": form,
                "saved": saved,
                "hosted": hosted,
                "error": error,
            },
        )
