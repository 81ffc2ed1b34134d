"""The settings page: language, how we contact you (notification preferences) and news
and offers (marketing consent), each saved on its own with a confirmation; every input
labelled. The data export as spreadsheets: a ZIP of UTF-8 CSV files (with the byte-order
mark Excel needs), one per section, holding the member's data and nobody else's."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client

from dues.billing.models import Invoice
from dues.core.channels import Channel
from dues.members.models import ConsentChange
from dues.members.selectors import consent_current
from dues.members.services import consent_set, emergency_contact_add, member_note_add
from dues.notify.services import message_create
from dues.ops.jobs import bill
from dues.portal.export import CSV_FILES, csv_rows, member_export
from dues.portal.forms import CONSENT_WORDING_VERSION, ConsentForm
from tests.factories import d, join, make_member

pytestmark = pytest.mark.django_db


class Controls(HTMLParser):
    """The page's form controls and the ids its labels point at."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({"tag": tag, **a})
        elif tag == "label" and a.get("for"):
            self.labelled.add(a["for"])


def controls(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


def test_settings_page_shows_every_choice_labelled_and_unticked_offers(
    org, portal_clock, signed_in
):
    member = make_member(org, portal_clock)
    html = signed_in(member, portal_clock).get("/me/settings/").content.decode()
    page = controls(html)
    assert [(c.get("name"), c.get("type", c["tag"])) for c in page.controls] == [
        ("language", "select"),
        ("service_email", "checkbox"),
        ("service_sms", "checkbox"),
        ("service_in_app", "checkbox"),
        ("payment_sms", "checkbox"),
        ("marketing_email", "checkbox"),
        ("marketing_sms", "checkbox"),
    ]
    for control in page.controls:
        assert control["id"] in page.labelled, control
    checked = {c["name"] for c in page.controls if "checked" in c}
    # Messages on every channel by default; no marketing until the member says yes.
    assert checked == {"service_email", "service_sms", "service_in_app", "payment_sms"}
    assert "always come by email and in the app" in html
    assert 'href="/me/export/csv/"' in html
    assert 'href="/me/export/"' in html


def test_consent_is_saved_with_who_when_where_and_which_wording(org, portal_clock, signed_in):
    member = make_member(org, portal_clock, language="sv")
    client = signed_in(member, portal_clock)
    saved = client.post(
        "/me/settings/",
        {"form": "consent", "marketing_email": "on"},
        REMOTE_ADDR="203.0.113.9",
        follow=True,
    )
    assert saved.redirect_chain == [("/me/settings/", 302)]
    assert "Dina val om nyheter och erbjudanden är sparade." in saved.content.decode()
    [row] = ConsentChange.objects.filter(member=member)
    assert (
        row.channel,
        row.granted,
        row.source,
        row.changed_by,
        row.ip_address,
        row.wording_version,
        row.language,
        row.changed_at,
    ) == (
        "email",
        True,
        "portal",
        "",
        "203.0.113.9",
        CONSENT_WORDING_VERSION,
        "sv",
        portal_clock.now(),
    )
    assert consent_current(member) == {"email": True, "sms": False}
    page = controls(client.get("/me/settings/").content.decode())
    checked = {c["name"] for c in page.controls if "checked" in c}
    assert {"marketing_email"} == checked & {"marketing_email", "marketing_sms"}

    # Unticking withdraws it; the history keeps both answers.
    portal_clock.advance(timedelta(days=1))
    client.post("/me/settings/", {"form": "consent"}, REMOTE_ADDR="203.0.113.10")
    assert consent_current(member) == {"email": False, "sms": False}
    assert [
        (c.granted, c.ip_address, c.changed_at)
        for c in ConsentChange.objects.filter(member=member).order_by("id")
    ] == [
        (True, "203.0.113.9", portal_clock.now() - timedelta(days=1)),
        (False, "203.0.113.10", portal_clock.now()),
    ]
    # Nothing else on the page moved.
    member.refresh_from_db()
    assert (member.language, member.service_sms, member.payment_sms) == ("sv", True, True)


def test_notification_preferences_are_saved_and_shown(org, portal_clock, signed_in):
    member = make_member(org, portal_clock)
    client = signed_in(member, portal_clock)
    saved = client.post(
        "/me/settings/",
        {"form": "notifications", "service_email": "on", "service_in_app": "on"},
        follow=True,
    )
    assert "Your message settings are saved." in saved.content.decode()
    member.refresh_from_db()
    assert (
        member.service_email,
        member.service_sms,
        member.service_in_app,
        member.payment_sms,
    ) == (True, False, True, False)
    checked = {c["name"] for c in controls(saved.content.decode()).controls if "checked" in c}
    assert checked == {"service_email", "service_in_app"}
    assert not ConsentChange.objects.exists()  # consent is a separate question
    assert member.language == "en"


@pytest.mark.parametrize(
    ("language", "heading", "payment_note", "offer_label"),
    [
        (
            "sv",
            "Så kontaktar vi dig",
            "skickas alltid via e-post och i appen",
            "Ja, skicka nyheter och erbjudanden till mig via e-post",
        ),
        (
            "fr",
            "Comment nous vous contactons",
            "toujours envoyés par e-mail et dans l’application",
            "Oui, je souhaite recevoir les actualités et les offres par e-mail",
        ),
        (
            "zh-hans",
            "我们如何联系您",
            "始终通过电子邮件和应用内消息发送给您",
            "是的，请通过电子邮件向我发送资讯和优惠",
        ),
        (
            "th",
            "ช่องทางที่เราติดต่อคุณ",
            "ทางอีเมลและในแอปเสมอ",
            "ใช่ ฉันต้องการรับข่าวสารและโปรโมชันทางอีเมล",
        ),
    ],
)
def test_settings_page_speaks_the_members_language(
    org, portal_clock, language, heading, payment_note, offer_label, signed_in
):
    member = make_member(org, portal_clock, language=language)
    html = signed_in(member, portal_clock).get("/me/settings/").content.decode()
    assert heading in html
    assert payment_note in html
    assert offer_label in html


def test_a_post_for_an_unknown_form_changes_nothing(org, portal_clock, signed_in):
    member = make_member(org, portal_clock)
    client = signed_in(member, portal_clock)
    response = client.post("/me/settings/", {"form": "password", "language": "th"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.language == "en"


def test_consent_wording_is_the_recorded_version():
    """The version names this wording: change a label and give the wording a new version
    (``portal.forms.CONSENT_WORDING_VERSION``), then update this test."""
    assert CONSENT_WORDING_VERSION == "portal-settings-2026-11"
    form = ConsentForm()
    assert [str(f.label) for f in form] == [
        "Yes, email me news and offers",
        "Yes, text me news and offers (SMS)",
    ]


# --- the spreadsheet export -------------------------------------------------------------------


def read_zip(content: bytes) -> dict[str, list[dict[str, str]]]:
    archive = zipfile.ZipFile(io.BytesIO(content))
    files = {}
    for name in archive.namelist():
        raw = archive.read(name)
        assert raw.startswith(b"\xef\xbb\xbf"), name  # the BOM Excel looks for
        files[name] = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    return files


@pytest.fixture
def two_members(org, location, portal_clock, gateway):
    anna, _ = join(
        org,
        location,
        portal_clock,
        member_kw={
            "first_name": "Åsa",
            "last_name": "Öberg",
            "email": "asa@example.se",
            "phone": "+46 70-123 45 67",
        },
    )
    bo, _ = join(
        org,
        location,
        portal_clock,
        member_kw={"first_name": "สมชาย", "last_name": "王", "email": "bo@example.com"},
    )
    bill(as_of=d("2026-01-15"), clock=portal_clock, gateway=gateway)
    for member, note, ip in (
        (anna, "Knä: inga djupa knäböj", "192.0.2.1"),
        (bo, "Bo's secret note", "192.0.2.2"),
    ):
        member_note_add(member=member, text=note, author="coach", clock=portal_clock)
        consent_set(
            member=member,
            granted={"email": True},
            source="portal",
            wording_version=CONSENT_WORDING_VERSION,
            ip_address=ip,
            clock=portal_clock,
        )
        with transaction.atomic():
            message_create(
                member=member,
                location=location,
                channel=Channel.IN_APP,
                template="dunning/reminder",
                context={
                    "tone": "friendly",
                    "first_name": member.first_name,
                    "gym": org.name,
                    "invoice_number": f"INV-{member.first_name}",
                    "amount": "SEK499.00",
                    "due_date": "January 15, 2026",
                    "pay_url": "https://example.com/i/x/",
                },
                language="en",
                created_at=portal_clock.now(),
            )
    return anna, bo


def test_spreadsheet_export_has_one_csv_per_section(two_members, portal_clock, signed_in):
    anna, _ = two_members
    response = signed_in(anna, portal_clock).get("/me/export/csv/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="my-data.zip"'
    files = read_zip(response.content)
    assert list(files) == [
        "profile.csv",
        "status_history.csv",
        "emergency_contacts.csv",
        "memberships.csv",
        "invoices.csv",
        "invoice_lines.csv",
        "payments.csv",
        "payment_methods.csv",
        "messages.csv",
        "notes.csv",
        "notification_preferences.csv",
        "consent_history.csv",
    ]
    [profile] = files["profile.csv"]
    # Swedish letters survive the trip, and a phone number is not taken for a formula.
    assert (profile["first_name"], profile["last_name"], profile["phone"]) == (
        "Åsa",
        "Öberg",
        "+46 70-123 45 67",
    )
    assert profile["member_number"] == anna.member_number
    invoice = Invoice.objects.get(payer=anna)
    [row] = files["invoices.csv"]
    assert (row["number"], row["total"], row["currency"], row["status"]) == (
        invoice.number,
        "49900",
        "SEK",
        "paid",
    )
    lines = files["invoice_lines.csv"]
    assert [(r["invoice"], r["net_amount"], r["tax_amount"]) for r in lines] == [
        (invoice.number, "47075", "2825")
    ]
    [payment] = files["payments.csv"]
    assert (payment["invoice"], payment["amount"]) == (invoice.number, "49900")
    [card] = files["payment_methods.csv"]
    assert (card["brand"], card["last4"], card["default"]) == ("visa", "4242", "true")
    assert "token" not in card
    assert "tok_" not in json.dumps(card)
    assert [n["text"] for n in files["notes.csv"]] == ["Knä: inga djupa knäböj"]
    assert [m["channel"] for m in files["messages.csv"]] == ["in_app"]
    assert files["notification_preferences.csv"] == [
        {
            "service_email": "true",
            "service_sms": "true",
            "service_in_app": "true",
            "payment_email": "true",
            "payment_sms": "true",
            "payment_in_app": "true",
        }
    ]
    assert [
        (c["channel"], c["granted"], c["source"], c["ip_address"], c["wording_version"])
        for c in files["consent_history.csv"]
    ] == [("email", "true", "portal", "192.0.2.1", CONSENT_WORDING_VERSION)]
    # An empty section still has its header row.
    assert files["emergency_contacts.csv"] == []
    raw = zipfile.ZipFile(io.BytesIO(response.content)).read("emergency_contacts.csv")
    assert raw == "\ufeffname,relationship,phone\r\n".encode()


def test_spreadsheet_export_holds_nobody_elses_data(two_members, portal_clock, signed_in):
    anna, bo = two_members
    content = signed_in(anna, portal_clock).get("/me/export/csv/").content
    archive = zipfile.ZipFile(io.BytesIO(content))
    text = "\n".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    bo_invoice = Invoice.objects.get(payer=bo)
    for theirs in (
        bo_invoice.number,
        bo.first_name,
        bo.last_name,
        bo.email,
        bo.member_number,
        "Bo's secret note",
        "192.0.2.2",
        "INV-สมชาย",
    ):
        assert theirs not in text, theirs
    # And Bo's own copy has his Thai and Chinese name intact, and not Anna's data.
    bo_files = read_zip(signed_in(bo, portal_clock).get("/me/export/csv/").content)
    [profile] = bo_files["profile.csv"]
    assert (profile["first_name"], profile["last_name"]) == ("สมชาย", "王")
    assert [r["number"] for r in bo_files["invoices.csv"]] == [bo_invoice.number]
    assert Client().get("/me/export/csv/").status_code == 302  # signed out: sign in first


def test_spreadsheets_and_json_hold_the_same_fields(two_members):
    """Every key of every JSON section has its CSV column, and nothing else."""
    anna, _ = two_members
    emergency_contact_add(member=anna, name="Erik", phone="+46709999", relationship="partner")
    data = member_export(anna)
    rows = csv_rows(data)
    assert set(rows) == set(CSV_FILES)
    for name, columns in CSV_FILES.items():
        assert rows[name], name
        for row in rows[name]:
            assert list(row) == list(columns), name
    assert data["consent_history"][0]["wording_version"] == CONSENT_WORDING_VERSION


def test_a_formula_in_a_note_is_not_run_by_the_spreadsheet(org, portal_clock, signed_in):
    member = make_member(org, portal_clock)
    for text in (
        '=HYPERLINK("http://evil.example","click")',
        "@SUM(1+1)",
        "-2+3+cmd|' /C calc'!A0",
    ):
        member_note_add(member=member, text=text, author="x", clock=portal_clock)
    files = read_zip(signed_in(member, portal_clock).get("/me/export/csv/").content)
    assert sorted(n["text"] for n in files["notes.csv"]) == sorted(
        [
            '\'=HYPERLINK("http://evil.example","click")',
            "'@SUM(1+1)",
            "'-2+3+cmd|' /C calc'!A0",
        ]
    )
