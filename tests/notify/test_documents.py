"""Invoice documents: every figure of the invoice, VAT by rate, dates and money in the
reader's language, and PDFs whose Thai and Chinese text is set in fonts that have it."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from dues.billing.models import Invoice
from dues.notify.documents import invoice_context, invoice_html, invoice_pdf
from dues.ops.jobs import bill
from tests.factories import d, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(org, location, clock, gateway):
    org.legal_name, org.vat_number, org.address = "Gym AB", "SE556677889901", "Storgatan 1"
    org.save()
    member, _ = join(org, location, clock, member_kw={"first_name": "Anna", "last_name": "Lind"})
    bill(as_of=d("2026-01-15"), clock=clock, gateway=gateway)
    return Invoice.objects.get(payer=member)


def test_the_document_holds_every_figure(invoice):
    ctx = invoice_context(invoice, "en")
    assert ctx["number"] == invoice.number
    assert ctx["seller"] == {
        "name": "Gym AB",
        "address": "Storgatan 1",
        "vat_number": "SE556677889901",
    }
    assert ctx["buyer"]["name"] == "Anna Lind"
    [line] = ctx["lines"]
    assert line["period"] == "January 15, 2026 – February 14, 2026"
    assert "2026-01-15" not in line["description"]  # ISO dates give way to the reader's
    assert [(r.rate, r.net, r.tax) for r in ctx["vat"]] == [("6%", "SEK470.75", "SEK28.25")]
    assert (ctx["total"], ctx["amount_paid"], ctx["amount_due"]) == (
        "SEK499.00",
        "SEK499.00",
        "SEK0.00",
    )
    assert ctx["terms"] == "Paid in full. Thank you."


@pytest.mark.parametrize(
    ("language", "words", "font"),
    [
        ("sv", ["Faktura", "499,00"], "+Noto-Sans"),
        ("fr", ["Facture", "499,00"], "+Noto-Sans"),
        ("th", ["ใบแจ้งหนี้"], "Noto-Sans-Thai"),
        ("zh-hans", ["账单"], "Noto-Sans-CJK-SC"),
    ],
)
def test_pdf_in_each_language_uses_a_font_with_its_script(invoice, language, words, font):
    html = invoice_html(invoice, language)
    assert f'<html lang="{language}">' in html
    for word in words:
        assert word in html
    pdf = invoice_pdf(invoice, language)
    assert pdf.startswith(b"%PDF-")
    [page] = PdfReader(io.BytesIO(pdf)).pages
    fonts = {str(f["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}
    assert any(font in name for name in fonts), fonts
    text = page.extract_text()
    for word in words:  # the words are in the PDF as text, not only as shapes
        assert word in text.replace("\xa0", " "), text
