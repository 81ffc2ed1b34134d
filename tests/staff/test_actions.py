"""Each action on the profile: the confirmation shows the amounts and dates, only the
confirmed post changes anything, the owning service does the work (exact amounts), and an
audit row says who did it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse

from dues.billing.models import CreditNote, Freeze, Invoice, Subscription
from dues.billing.services import invoice_issue_one_off
from dues.catalog.models import RevenueCategory
from dues.members.models import MemberNote
from dues.payments.models import Payment, Refund
from dues.staff.models import StaffAction
from dues.staff.roles import Role
from tests.factories import d, make_plan
from tests.staff.conftest import client_for, make_staff

STOCKHOLM = ZoneInfo("Europe/Stockholm")

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(org, staff_clock):
    return make_staff(org, Role.MANAGER, staff_clock, username="maria", device=True)


@pytest.fixture
def client(org, manager):
    return client_for(manager, org)


@pytest.fixture
def open_invoice(account, staff_clock):
    with transaction.atomic():
        invoice_issue_one_off(
            sub=account.sub,
            kind="fee",
            description="Towel hire",
            amount=12000,
            category=RevenueCategory.MEMBERSHIP,
            clock=staff_clock,
        )
    return Invoice.objects.filter(payer=account.member, status="open").get()


def review_then_confirm(client, url, data):
    review = client.post(url, data)
    assert review.status_code == 200, review.content.decode()[:2000]
    html = review.content.decode()
    assert "Please check" in html, html
    done = client.post(url, data | {"confirm": "1"})
    assert done.status_code == 302, done.content.decode()[:3000]
    return html


def test_take_a_payment_at_the_desk(org, account, client, manager, open_invoice, staff_clock):
    url = reverse("staff-desk-payment", args=[account.member.pk, open_invoice.pk])
    form = client.get(url).content.decode()
    assert 'value="120.00"' in form  # what is owed, to start with
    data = {"amount": "50.00", "method": "cash", "reference": "R-17"}
    html = review_then_confirm(client, url, data)
    assert "SEK\xa050.00" in html or "SEK50.00" in html
    assert "SEK70.00" in html.replace("\xa0", "")  # still owed after
    payment = Payment.objects.get(invoice=open_invoice)
    assert (payment.amount, payment.method, payment.reference) == (5000, "cash", "R-17")
    open_invoice.refresh_from_db()
    assert open_invoice.amount_due == 7000
    [audit] = StaffAction.objects.filter(action="payment_desk")
    assert (audit.user, audit.member, audit.organization) == (manager, account.member, org)
    assert audit.at == staff_clock.now()
    assert audit.detail == {
        "payment_id": payment.pk,
        "invoice": open_invoice.number,
        "amount": 5000,
        "currency": "SEK",
        "method": "cash",
        "reference": "R-17",
    }


def test_more_than_is_owed_is_refused_on_the_field(account, client, open_invoice):
    url = reverse("staff-desk-payment", args=[account.member.pk, open_invoice.pk])
    page = client.post(url, {"amount": "500.00", "method": "cash", "confirm": "1"})
    html = page.content.decode().replace("\xa0", "")
    assert "At most SEK120.00 is owed on this invoice." in html
    assert not Payment.objects.filter(invoice=open_invoice).exists()
    assert not StaffAction.objects.exists()


def test_refund_part_of_a_card_payment(account, client, manager):
    url = reverse("staff-refund", args=[account.member.pk, account.payment.pk])
    html = review_then_confirm(client, url, {"amount": "100.00", "reason": "Closed for a week"})
    assert "SEK100.00" in html.replace("\xa0", "")
    assert "SEK399.00" in html.replace("\xa0", "")  # refundable after
    [refund] = Refund.objects.all()
    assert (refund.amount, refund.status, refund.reason) == (
        10000,
        "succeeded",
        "Closed for a week",
    )
    account.payment.refresh_from_db()
    assert account.payment.amount_refunded == 10000
    assert refund.credit_note is not None
    assert (refund.credit_note.total, refund.credit_note.refund_amount) == (10000, 10000)
    [audit] = StaffAction.objects.filter(action="refund")
    assert audit.user == manager
    assert audit.detail == {
        "payment_id": account.payment.pk,
        "amount": 10000,
        "currency": "SEK",
        "reason": "Closed for a week",
        "refund_id": refund.pk,
        "status": "succeeded",
        "credit_note": refund.credit_note.number,
    }
    profile = client.get(reverse("staff-member", args=[account.member.pk])).content.decode()
    assert "Refund succeeded: Closed for a week" in profile
    too_much = client.post(url, {"amount": "400.00", "reason": "again"})
    assert "At most SEK399.00 can be paid back." in too_much.content.decode().replace("\xa0", "")


def test_credit_note_on_an_open_invoice(account, client, open_invoice):
    url = reverse("staff-credit-note", args=[account.member.pk, open_invoice.pk])
    html = review_then_confirm(client, url, {"amount": "20.00", "reason": "Goodwill"})
    assert "SEK20.00" in html.replace("\xa0", "")
    note = CreditNote.objects.get(invoice=open_invoice)
    assert (note.total, note.applied_amount, note.credit_amount) == (2000, 2000, 0)
    open_invoice.refresh_from_db()
    assert open_invoice.amount_due == 10000
    [audit] = StaffAction.objects.filter(action="credit_note")
    assert audit.detail["credit_note"] == note.number
    assert (audit.detail["amount"], audit.detail["applied"]) == (2000, 2000)


def test_freeze_shows_the_dates_and_books_it(account, client):
    url = reverse("staff-freeze", args=[account.member.pk, account.sub.pk])
    data = {"start_date": "2026-02-01", "end_date": "2026-03-01", "reason": "Injury"}
    html = review_then_confirm(client, url, data)
    assert "February 1, 2026" in html
    assert "February 28, 2026" in html  # the last day frozen
    assert "March 1, 2026" in html
    freeze = Freeze.objects.get(subscription=account.sub)
    assert (freeze.start_date, freeze.end_date, freeze.reason) == (
        d("2026-02-01"),
        d("2026-03-01"),
        "Injury",
    )
    audit = StaffAction.objects.get(action="freeze")
    assert audit.detail["start_date"] == "2026-02-01"


def test_a_service_refusal_is_shown_on_the_field(account, client):
    url = reverse("staff-freeze", args=[account.member.pk, account.sub.pk])
    page = client.post(url, {"start_date": "2026-01-01", "end_date": "2026-02-01", "confirm": "1"})
    assert page.status_code == 200
    assert "a freeze cannot start in the past" in page.content.decode()
    assert not Freeze.objects.exists()
    assert not StaffAction.objects.exists()


def test_cancel_shows_the_end_the_notice_allows(account, client):
    url = reverse("staff-cancel", args=[account.member.pk, account.sub.pk])
    page = client.get(url).content.decode()
    # 30 days' notice from 15 January: the first period boundary on or after 14 February.
    assert "February 15, 2026" in page
    html = review_then_confirm(client, url, {"when": "end", "reason": "Moving away"})
    assert "February 15, 2026" in html
    sub = Subscription.objects.get(pk=account.sub.pk)
    assert sub.cancel_at == d("2026-02-15")
    assert sub.cancel_reason == "Moving away"
    audit = StaffAction.objects.get(action="cancel")
    assert audit.detail == {
        "subscription_id": sub.pk,
        "ends": "2026-02-15",
        "immediately": False,
        "refund_unused": False,
        "reason": "Moving away",
    }


def test_change_to_a_dearer_plan_now(org, account, client):
    dearer = make_plan(org, name="Gold", price=69900)
    url = reverse("staff-change-plan", args=[account.member.pk, account.sub.pk])
    html = review_then_confirm(client, url, {"plan": dearer.pk, "when": "now"})
    assert "Gold" in html
    sub = Subscription.objects.get(pk=account.sub.pk)
    assert (sub.plan, sub.price) == (dearer, 69900)
    proration = Invoice.objects.filter(payer=account.member).exclude(pk=account.paid.pk).get()
    assert proration.lines.filter(kind="proration").count() == 2
    audit = StaffAction.objects.get(action="plan_change")
    assert audit.detail["to_plan"] == "Gold"
    assert audit.detail["at_period_end"] is False


def test_add_a_note(account, client, manager):
    url = reverse("staff-note-add", args=[account.member.pk])
    assert client.post(url, {"text": "Asked about personal training"}).status_code == 302
    note = MemberNote.objects.get(member=account.member)
    assert (note.text, note.author) == ("Asked about personal training", "maria")
    assert StaffAction.objects.get(action="note_add").detail == {"note_id": note.pk}
    profile = client.get(reverse("staff-member", args=[account.member.pk])).content.decode()
    assert "Asked about personal training" in profile
    # At 12:00 UTC the note was written at 13:00 in the gym's Stockholm.
    assert f'<time datetime="{note.created_at.astimezone(STOCKHOLM).isoformat()}">' in profile
    assert note.created_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") in profile


def test_the_audit_log_is_append_only(account, manager, staff_clock):
    from dues.staff.services import staff_action_record

    row = staff_action_record(
        user=manager, member=account.member, action="note_add", detail={}, clock=staff_clock
    )
    row.detail = {"changed": True}
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()
