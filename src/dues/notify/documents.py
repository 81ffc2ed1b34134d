"""Invoice documents: the same invoice as an HTML page and as a PDF, in the payer's
language, with the seller and buyer, every line, the VAT breakdown by rate and the
payment terms.

PDFs are drawn by WeasyPrint, which shapes text with HarfBuzz and picks fonts through
fontconfig: Thai and Chinese come out right when the Noto fonts the setup installs are
present (``make install`` asks for fonts-noto-core and fonts-noto-cjk).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_percent
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from dues.billing.lines import period_label
from dues.billing.models import ContractSignature, Invoice, InvoiceLine, InvoiceStatus
from dues.billing.periods import Period
from dues.notify.render import date_text, money_text


@dataclass(frozen=True)
class VatRow:
    rate: str
    net: str
    tax: str


def invoice_status_text(status: str) -> str:
    """An invoice's status as the member reads it ("uncollectible" is the gym's word)."""
    labels: dict[str, str] = {
        InvoiceStatus.OPEN: _("Open"),
        InvoiceStatus.PAID: _("Paid"),
        InvoiceStatus.UNCOLLECTIBLE: _("Unpaid"),
        InvoiceStatus.VOID: _("Cancelled"),
    }
    return labels.get(status, status)


def _percent(bp: int, language: str) -> str:
    return format_percent(bp / 10000, "#,##0.##%", locale=translation.to_locale(language))


def _without_period(line: InvoiceLine) -> str:
    """The line's text without the ISO dates billing writes into it: the document shows
    the period below it, in the reader's own date format."""
    if line.period_start and line.period_end:
        label = period_label(
            Period(
                index=0,
                start=line.period_start,
                end=line.period_end,
                nominal_start=line.period_start,
            )
        )
        return line.description.replace(f", {label}", "")
    return line.description


def invoice_context(invoice: Invoice, language: str) -> dict[str, Any]:
    """Everything the invoice shows, formatted for ``language`` (call inside
    ``translation.override(language)`` so the labels match)."""
    cur = invoice.currency

    def money(amount: int) -> str:
        return money_text(amount, cur, language)

    lines: list[InvoiceLine] = list(invoice.lines.all().order_by("id"))
    vat: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        vat[line.tax_rate_bp][0] += line.net_amount
        vat[line.tax_rate_bp][1] += line.tax_amount
    org = invoice.organization
    location = invoice.location
    payer = invoice.payer
    if invoice.status == InvoiceStatus.PAID:
        terms = _("Paid in full. Thank you.")
    elif invoice.status == InvoiceStatus.OPEN and invoice.due_date:
        terms = _("Due on %(date)s. Payment is taken from the card or account on file.") % {
            "date": date_text(invoice.due_date, language)
        }
    else:
        terms = ""
    return {
        "invoice": invoice,
        "number": invoice.number or "",
        "status": invoice_status_text(invoice.status),
        "seller": {
            "name": org.legal_name or org.name,
            "address": location.address or org.address,
            "vat_number": org.vat_number,
        },
        "buyer": {
            "name": payer.full_name,
            "address": payer.address,
            "email": payer.email,
            "member_number": payer.member_number,
        },
        "issue_date": date_text(invoice.issue_date, language) if invoice.issue_date else "",
        "due_date": date_text(invoice.due_date, language) if invoice.due_date else "",
        "lines": [
            {
                "description": _without_period(line),
                "period": (
                    f"{date_text(line.period_start, language)} – "
                    f"{date_text(line.period_end - timedelta(days=1), language)}"
                    if line.period_start and line.period_end
                    else ""
                ),
                "quantity": line.quantity,
                "rate": _percent(line.tax_rate_bp, language),
                "net": money(line.net_amount),
                "tax": money(line.tax_amount),
                "total": money(line.total_amount),
            }
            for line in lines
        ],
        "vat": [
            VatRow(_percent(bp, language), money(net), money(tax))
            for bp, (net, tax) in sorted(vat.items())
        ],
        "subtotal": money(invoice.subtotal),
        "tax": money(invoice.tax),
        "total": money(invoice.total),
        "credit_applied": money(invoice.credit_applied) if invoice.credit_applied else "",
        "amount_paid": money(invoice.amount_paid) if invoice.amount_paid else "",
        "amount_credited": money(invoice.amount_credited) if invoice.amount_credited else "",
        "amount_due": money(invoice.amount_due),
        "terms": terms,
        "prices_include_tax": org.prices_include_tax,
    }


def invoice_html(invoice: Invoice, language: str, *, fragment: bool = False) -> str:
    """The invoice as a whole HTML document (for the PDF), or as a fragment to place in a
    page."""
    name = "invoice_body" if fragment else "invoice"
    with translation.override(language):
        return render_to_string(f"notify/documents/{name}.html", invoice_context(invoice, language))


def pdf_from_html(html: str) -> bytes:
    from weasyprint import HTML  # imported when needed: it loads Pango at import

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def invoice_pdf(invoice: Invoice, language: str) -> bytes:
    return pdf_from_html(invoice_html(invoice, language))


def invoice_filename(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.pk}'}.pdf"


def contract_html(signature: ContractSignature) -> str:
    """The signed contract as a document: the text exactly as signed, and how it was
    signed (typed name, time at the gym's location, IP address, version, fingerprint)."""
    location = signature.location
    signed_local = signature.signed_at.astimezone(ZoneInfo(location.timezone))
    version = signature.contract_version
    with translation.override(signature.language):
        return render_to_string(
            "notify/documents/contract.html",
            {
                "signature": signature,
                "signed_on": date_text(signed_local.date(), signature.language),
                "signed_time": f"{signed_local:%H:%M} ({location.timezone})",
                "version": version.version if version else None,
            },
        )


def contract_pdf(signature: ContractSignature) -> bytes:
    return pdf_from_html(contract_html(signature))


def contract_filename(signature: ContractSignature) -> str:
    return f"contract-{signature.member.member_number or signature.member_id}-{signature.pk}.pdf"
