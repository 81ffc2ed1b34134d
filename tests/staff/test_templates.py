"""The Messages pages: a manager opens a template's part in a language (the default
wording, translated, to start from), previews unsaved text on sample values (nothing is
saved), saves it, and goes back to the default; each change leaves a StaffChange row.
Front desk and trainers may do none of it."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from dues.notify.models import TemplateOverride
from dues.staff.models import StaffChange
from dues.staff.roles import Role
from tests.staff.conftest import client_for, make_staff

pytestmark = pytest.mark.django_db

REMINDER = "dunning/reminder"


@pytest.fixture
def manager(org, staff_clock):
    return make_staff(org, Role.MANAGER, staff_clock, username="maria", device=True)


@pytest.fixture
def client(org, manager):
    return client_for(manager, org)


def edit_url(name: str = REMINDER) -> str:
    return reverse("staff-template-edit", args=[name])


def post(client, *, part: str, language: str, body: str = "", button: str = "preview", **kw):
    name = kw.pop("name", REMINDER)
    data = {"part": part, "language": language, "body": body, button: "1"} | kw
    return client.post(edit_url(name), data)


def textarea(page: str) -> str:
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert match, page
    return html.unescape(match.group(1)).removeprefix("\n")


def sms_line(page: str) -> str:
    match = re.search(r'<p class="tpl-sms"><strong>(.*?)</strong>', page)
    assert match, page
    return match.group(1)


def test_list_names_every_template_and_the_own_wording(org, client, manager, staff_clock):
    assert reverse("staff-templates") == "/staff/templates/"
    assert edit_url() == "/staff/templates/dunning/reminder/"
    page = client.get(reverse("staff-templates")).content.decode()
    for name in ("dunning/reminder", "dunning/reminder_direct", "dunning/pre_notice"):
        assert f'<a href="/staff/templates/{name}/">{name}</a>' in page
    assert "The link a member asks for to sign in to the member portal." in page
    assert "Subject, Email (plain text), Email (HTML), SMS, In-app message, Call task" in page
    assert "None: the default wording everywhere" in page
    assert '<a href="/staff/templates/">Messages</a>' in page  # the nav link
    post(client, part="sms", language="th", body="{{ amount }}", button="save")
    page = client.get(reverse("staff-templates")).content.decode()
    assert "SMS (ไทย)" in page


def test_edit_page_starts_from_the_default_wording_in_that_language(client):
    page = client.get(edit_url(), {"part": "subject", "language": "sv"}).content.decode()
    assert textarea(page) == (
        '{% if tone == "final" %}Sista påminnelse: faktura {{ invoice_number }} är obetald'
        '{% elif tone == "firm" %}Påminnelse: faktura {{ invoice_number }} är förfallen'
        "{% else %}Din betalning till {{ gym }} gick inte igenom{% endif %}\n"
    )
    assert "The default wording. Members get it until you save your own." in page
    assert "Back to default" not in page  # nothing to go back from
    # The variables, with their meaning and a sample in the language.
    assert "<code>{{ due_date }}</code></td><td>The invoice&#x27;s due date" in page
    assert "<td>1 mars 2026</td>" in page
    assert "<td>499,00\xa0kr</td>" in page
    assert '<label for="id_body">Text</label>' in page
    assert '<label for="pick_part">Part</label>' in page
    assert page.count('id="id_part"') == 1  # the edit form's (hidden); the picker's differs
    assert 'aria-describedby="variables-help"' in page


def test_preview_renders_the_unsaved_text_and_saves_nothing(org, client):
    body = (
        "{% if tone == 'final' %}Sista chansen{% else %}Hej {{ first_name }}{% endif %}: "
        "{{ amount }} för {{ invoice_number }}"
    )
    page = post(client, part="in_app", language="sv", body=body, variant="firm").content.decode()
    assert "Preview (not saved)" in page
    assert '<pre class="tpl-text">Hej Anna: 499,00\xa0kr för INV-000123\n</pre>' in page
    assert (
        "<dd>Påminnelse: faktura INV-000123 är förfallen</dd>" in page
    )  # the subject (the file's)
    assert textarea(page) == body  # still being edited
    final = post(client, part="in_app", language="sv", body=body, variant="final")
    assert "Sista chansen: 499,00\xa0kr" in final.content.decode()
    assert not TemplateOverride.objects.exists()
    assert not StaffChange.objects.exists()


def test_html_preview_is_sandboxed_and_escaped(org, client):
    org.name = 'Lift "&" <b>Run</b>'
    org.save()
    body = "<p>Betala {{ amount }}, {{ first_name }}.</p>\n"
    page = post(client, part="email_html", language="sv", body=body).content.decode()
    match = re.search(r'<iframe class="tpl-frame" sandbox srcdoc="([^"]*)"', page)
    assert match, page
    document = html.unescape(match.group(1))
    assert document.startswith('<!DOCTYPE html>\n<html lang="sv">')
    assert "<p>Betala 499,00\xa0kr, Anna.</p>" in document
    assert '<p style="margin:0 0 16px">Hej Anna!</p>' in document  # the layout's greeting
    assert "Lift &quot;&amp;&quot; &lt;b&gt;Run&lt;/b&gt;</td>" in document
    # Nothing of the email is markup of the staff page: it is all inside the attribute.
    main = page.split("<main", 1)[1]
    assert "<b>Run" not in main
    assert "<table" not in main.split('<section class="card tpl-edit"')[0]
    source = re.search(r'<pre class="tpl-text">(.*?)</pre>', page, re.S)
    assert source
    assert html.unescape(source.group(1)) == document  # the HTML source, escaped
    refused = post(client, part="email_html", language="sv", body="<script>alert(1)</script>")
    assert "Line 1: &#x27;&lt;script&#x27; is not allowed" in refused.content.decode()


def test_bad_text_is_shown_on_the_textarea_with_its_line_and_nothing_is_saved(client):
    for button in ("preview", "save"):
        response = post(
            client, part="sms", language="en", body="Hi\n{{ frist_name }}", button=button
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert (
            '<div id="body-errors" role="alert"><ul class="errorlist"><li>Line 2: '
            "{{ frist_name }} is not a variable of this message; it has amount, days_overdue"
        ) in page
        assert 'aria-invalid="true"' in page
        assert 'aria-describedby="body-errors variables-help"' in page
        assert "Preview (not saved)" not in page
    page = post(client, part="sms", language="en", body='x\n\n{% include "a.txt" %}').content
    assert "Line 3: {% include %} is not allowed: a message cannot read other files." in (
        html.unescape(page.decode())
    )
    page = post(client, part="sms", language="en", body="{% debug %}", button="save").content
    assert "Line 1: {% debug %} is not allowed" in html.unescape(page.decode())
    assert not TemplateOverride.objects.exists()
    assert not StaffChange.objects.exists()


def test_manager_saves_then_goes_back_to_the_default(org, client, manager, staff_clock):
    query = "?part=subject&language=sv"
    saved = post(
        client,
        part="subject",
        language="sv",
        body="Obetalt: {{ invoice_number }}\r\n",
        button="save",
    )
    assert saved.status_code == 302
    assert saved["Location"] == edit_url() + query
    row = TemplateOverride.objects.get()
    assert (row.organization, row.template, row.part, row.language) == (
        org,
        REMINDER,
        "subject",
        "sv",
    )
    assert (row.body, row.updated_by, row.updated_at) == (
        "Obetalt: {{ invoice_number }}\n",
        manager,
        staff_clock.now(),
    )
    page = client.get(edit_url() + query).content.decode()
    assert "Saved. Members now get this wording." in page
    assert textarea(page) == "Obetalt: {{ invoice_number }}\n"
    assert "Your own wording, saved on January 15, 2026 by maria." in page

    again = {"part": "subject", "language": "sv", "body": "Obetald faktura {{ invoice_number }}"}
    post(client, button="save", **again)
    staff_clock.advance(timedelta(hours=1))
    post(client, button="save", **again)  # the same text: nothing changes
    assert TemplateOverride.objects.get().updated_at == staff_clock.now() - timedelta(hours=1)
    reset = post(client, part="subject", language="sv", button="reset")
    assert reset.status_code == 302
    assert not TemplateOverride.objects.exists()
    page = client.get(edit_url() + query).content.decode()
    assert "Back to the default wording." in page
    assert textarea(page).startswith('{% if tone == "final" %}Sista påminnelse')

    changes = list(StaffChange.objects.order_by("id"))
    target = "notify.template:dunning/reminder/subject/sv"
    assert [(c.action, c.target, c.before, c.after) for c in changes] == [
        ("templates_edit", target, {}, {"body": "Obetalt: {{ invoice_number }}\n"}),
        (
            "templates_edit",
            target,
            {"body": "Obetalt: {{ invoice_number }}\n"},
            {"body": "Obetald faktura {{ invoice_number }}"},
        ),  # saving the same text again changes nothing and records nothing
        ("templates_edit", target, {"body": "Obetald faktura {{ invoice_number }}"}, {}),
    ]
    at = staff_clock.now()
    assert [(c.user, c.organization, c.at) for c in changes] == [
        (manager, org, at - timedelta(hours=1)),
        (manager, org, at - timedelta(hours=1)),
        (manager, org, at),
    ]
    again = post(client, part="subject", language="sv", button="reset")
    assert again.status_code == 302
    assert StaffChange.objects.count() == 3


def test_another_organizations_override_is_not_shown_or_changed(org, client, staff_clock):
    from tests.factories import make_org

    other = make_org(staff_clock)
    TemplateOverride.objects.create(
        organization=other,
        template=REMINDER,
        part="sms",
        language="en",
        body="Theirs {{ amount }}",
        updated_at=staff_clock.now(),
    )
    page = client.get(edit_url(), {"part": "sms", "language": "en"}).content.decode()
    assert "Theirs" not in page
    assert (
        "None: the default wording everywhere"
        in client.get(reverse("staff-templates")).content.decode()
    )
    post(client, part="sms", language="en", button="reset")
    assert TemplateOverride.objects.get().body == "Theirs {{ amount }}"


def test_unknown_template_is_404(client):
    assert client.get(edit_url("dunning/nope")).status_code == 404
    assert client.get(edit_url("documents")).status_code == 404  # PDFs, not a message


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.TRAINER])
def test_front_desk_and_trainers_may_not(org, staff_clock, role):
    user = make_staff(org, role, staff_clock)
    client = client_for(user, org)
    assert client.get(reverse("staff-templates")).status_code == 403
    assert client.get(edit_url()).status_code == 403
    for button in ("preview", "save"):
        response = post(client, part="sms", language="en", body="{{ amount }}", button=button)
        assert response.status_code == 403
    TemplateOverride.objects.create(
        organization=org,
        template=REMINDER,
        part="sms",
        language="en",
        body="Ours {{ amount }}",
        updated_at=staff_clock.now(),
    )
    assert post(client, part="sms", language="en", button="reset").status_code == 403
    assert TemplateOverride.objects.get().body == "Ours {{ amount }}"
    assert not StaffChange.objects.exists()
    members = client.get(reverse("staff-members")).content.decode()
    assert "/staff/templates/" not in members  # no nav link


@pytest.mark.parametrize(
    ("language", "body", "expected"),
    [
        # "x" * 159 and the closing line break: one full SMS; one more character: two.
        ("en", "x" * 159, "160 characters (GSM-7): 1 SMS"),
        ("en", "x" * 160, "161 characters (GSM-7): 2 SMS"),
        (
            "en",
            "Hi {{ first_name }}, {{ amount }} is unpaid for invoice {{ invoice_number }}. "
            "Pay or update your card: {{ pay_url }}",
            "198 characters (GSM-7): 2 SMS",
        ),
        ("th", "ก" * 69, "70 characters (UCS-2): 1 SMS"),
        ("th", "ก" * 70, "71 characters (UCS-2): 2 SMS"),
        (
            "th",
            "สวัสดีคุณ {{ first_name }} ยอด {{ amount }} ยังค้างชำระ ชำระได้ที่ {{ pay_url }}",
            "172 characters (UCS-2): 3 SMS",
        ),
    ],
)
def test_sms_preview_counts_characters_and_segments(client, language, body, expected):
    page = post(client, part="sms", language=language, body=body).content.decode()
    assert sms_line(page) == expected
